//! redb table definitions.
//!
//! Keys are fixed-width big-endian byte strings so that byte order equals numeric order and
//! range scans (all slots of one account, a run of block numbers) are contiguous.

use redb::TableDefinition;

/// Block hash → RLP of the header.
pub const HEADERS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("headers");
/// Block hash → block number.
pub const HEADER_NUMBERS: TableDefinition<'_, [u8; 32], u64> =
    TableDefinition::new("header_numbers");
/// Block number → hash of the canonical block at that height.
pub const CANONICAL: TableDefinition<'_, u64, [u8; 32]> = TableDefinition::new("canonical");
/// Block hash → RLP of the body (transactions, ommers, withdrawals).
pub const BODIES: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("bodies");
/// Block hash → RLP list of the block's receipts (EIP-2718 envelopes).
pub const RECEIPTS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("receipts");
/// Transaction hash → block number (8 bytes BE) ‖ index in block (4 bytes BE).
pub const TX_LOOKUP: TableDefinition<'_, [u8; 32], [u8; 12]> = TableDefinition::new("tx_lookup");
/// Address → account (see [`super::codec::StoredAccount`]).
pub const ACCOUNTS: TableDefinition<'_, [u8; 20], [u8; 72]> = TableDefinition::new("accounts");
/// Address ‖ slot → value (32 bytes BE). Zero values are deleted, never stored.
pub const STORAGE: TableDefinition<'_, [u8; 52], [u8; 32]> = TableDefinition::new("storage");
/// Address ‖ block number → the account as it was *before* that block changed it (72 bytes, or
/// empty when the account did not exist). The first entry above block `n` gives the value at `n`.
pub const ACCOUNT_HISTORY: TableDefinition<'_, [u8; 28], &[u8]> =
    TableDefinition::new("account_history");
/// Address ‖ slot ‖ block number → the slot's value before that block changed it.
pub const STORAGE_HISTORY: TableDefinition<'_, [u8; 60], [u8; 32]> =
    TableDefinition::new("storage_history");
/// Code hash → bytecode.
pub const BYTECODES: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("bytecodes");
/// Block number → the consensus finalization certificate of the canonical block at that height
/// (commonware simplex `Finalization`, codec-encoded). Absent for genesis, imported chains and
/// blocks finalized only through a descendant's certificate.
pub const CERTIFICATES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("certificates");
/// Named pointers: forkchoice (`head`, `safe`, `finalized`), `genesis`, `schema_version`.
pub const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

/// Every table, for `db stats`.
pub const ALL_TABLE_NAMES: &[&str] = &[
    "headers",
    "header_numbers",
    "canonical",
    "bodies",
    "receipts",
    "tx_lookup",
    "accounts",
    "storage",
    "account_history",
    "storage_history",
    "bytecodes",
    "certificates",
    "meta",
    "account_trie",
    "storage_trie",
    "storage_trie_history",
    "withdrawals",
    "message_passer_roots",
];
