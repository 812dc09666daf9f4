// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title L2ToL1MessagePasser
/// @notice Hauptbuch's withdrawal contract, predeployed at 0x4200000000000000000000000000000000000016.
///         It keeps the OP Stack interface and storage layout so that OP tooling (portals, viem's OP
///         actions) can prove withdrawals against Hauptbuch output roots:
///         - slot 0: `sentMessages` (withdrawal hash => true),
///         - slot 1: `msgNonce` (uint240, the nonce without its version bits).
///         A withdrawal hash is keccak256(abi.encode(nonce, sender, target, value, gasLimit, data)).
contract L2ToL1MessagePasser {
    /// @notice Gas limit of a withdrawal initiated by a plain ETH transfer to this contract.
    uint256 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;

    /// @notice Version encoded in the top two bytes of every message nonce.
    uint16 public constant MESSAGE_VERSION = 1;

    /// @notice Withdrawal hashes that were initiated here (slot 0).
    mapping(bytes32 => bool) public sentMessages;

    /// @notice Number of withdrawals initiated so far, without version bits (slot 1).
    uint240 internal msgNonce;

    /// @notice Emitted for every withdrawal initiated.
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Emitted when the ETH held by this contract is burnt.
    event WithdrawerBalanceBurnt(uint256 indexed amount);

    /// @notice A plain transfer withdraws the value to the sender on L1.
    receive() external payable {
        initiateWithdrawal(msg.sender, RECEIVE_DEFAULT_GAS_LIMIT, bytes(""));
    }

    /// @notice Removes the ETH of initiated withdrawals from the L2 supply.
    function burn() external {
        uint256 balance = address(this).balance;
        new Burner{ value: balance }();
        emit WithdrawerBalanceBurnt(balance);
    }

    /// @notice Starts a withdrawal of `msg.value` to `_target` on L1, calling it with `_data`.
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) public payable {
        uint256 nonce = messageNonce();
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, _target, msg.value, _gasLimit, _data));
        sentMessages[withdrawalHash] = true;
        emit MessagePassed(nonce, msg.sender, _target, msg.value, _gasLimit, _data, withdrawalHash);
        unchecked {
            ++msgNonce;
        }
    }

    /// @notice The next nonce, with MESSAGE_VERSION in its top two bytes.
    function messageNonce() public view returns (uint256) {
        return (uint256(MESSAGE_VERSION) << 240) | uint256(msgNonce);
    }
}

/// @notice Destroys the ETH it is created with: it self-destructs to itself in its constructor,
///         which (EIP-6780) still deletes an account created in the same transaction.
contract Burner {
    constructor() payable {
        selfdestruct(payable(address(this)));
    }
}
