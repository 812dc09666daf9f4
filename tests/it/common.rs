//! Shared helpers for integration tests.

use hauptbuch_reth::{chainspec::ChainSpec, engine::Engine, storage::Database};
use std::{path::PathBuf, sync::Arc};

/// Path of a file under `tests/fixtures`.
pub(crate) fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// An engine over a fresh database in a temporary directory (kept alive by the returned guard).
pub(crate) fn temp_engine(spec: Arc<ChainSpec>) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open database");
    let engine = Engine::new(spec, Arc::new(db));
    (dir, engine)
}

/// Path of the built `hauptbuch-reth` binary.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hauptbuch-reth"))
}
