//! Fixed-width encodings of stored values.

use alloy_primitives::{Address, B256, U256};

/// An account as stored in the plain `accounts` table: nonce ‖ balance ‖ code hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredAccount {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code (`KECCAK_EMPTY` for none).
    pub code_hash: B256,
}

impl StoredAccount {
    /// Encodes to 72 bytes.
    pub fn encode(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    /// Decodes from 72 bytes.
    pub fn decode(bytes: &[u8; 72]) -> Self {
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[..8]);
        Self {
            nonce: u64::from_be_bytes(nonce),
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..]),
        }
    }
}

/// Key of the `storage` table: address ‖ slot.
pub fn storage_key(address: Address, slot: U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// The first and last possible `storage` keys of one account, for range scans and wipes.
pub fn storage_range(address: Address) -> ([u8; 52], [u8; 52]) {
    (
        storage_key(address, U256::ZERO),
        storage_key(address, U256::MAX),
    )
}

/// Key of the `account_history` table.
pub fn account_history_key(address: Address, block: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&block.to_be_bytes());
    key
}

/// Key of the `storage_history` table.
pub fn storage_history_key(address: Address, slot: U256, block: u64) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..52].copy_from_slice(&storage_key(address, slot));
    key[52..].copy_from_slice(&block.to_be_bytes());
    key
}

/// Value of the `tx_lookup` table.
pub fn tx_location(block: u64, index: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&block.to_be_bytes());
    out[8..].copy_from_slice(&index.to_be_bytes());
    out
}

/// Inverse of [`tx_location`].
pub fn decode_tx_location(bytes: &[u8; 12]) -> (u64, u32) {
    let mut block = [0u8; 8];
    block.copy_from_slice(&bytes[..8]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(block), u32::from_be_bytes(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_roundtrip() {
        let account = StoredAccount {
            nonce: 7,
            balance: U256::from(123_456_789u64) << 100,
            code_hash: B256::repeat_byte(0xab),
        };
        assert_eq!(StoredAccount::decode(&account.encode()), account);
    }

    #[test]
    fn storage_keys_sort_by_address_then_slot() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        assert!(storage_key(a, U256::MAX) < storage_key(b, U256::ZERO));
        assert!(storage_key(a, U256::from(1)) < storage_key(a, U256::from(256)));
    }
}
