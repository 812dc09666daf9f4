//! The file that carries pooled transactions across a restart.
//!
//! Format: the 8-byte magic `HBTXPOOL`, a version byte (1), then per transaction its EIP-2718
//! encoding prefixed by its length as a big-endian `u32`, in arrival order. The file is written
//! to a temporary sibling, synced and renamed over the target, so a crash leaves either the old
//! file or the new one, never a torn one.

use super::error::{PoolError, Result};
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

const MAGIC: &[u8; 8] = b"HBTXPOOL";
const VERSION: u8 = 1;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PoolError + '_ {
    move |source| PoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `txs` (raw EIP-2718 encodings) to `path` atomically.
pub(super) fn write(path: &Path, txs: &[Vec<u8>]) -> Result<()> {
    let mut body =
        Vec::with_capacity(MAGIC.len() + 1 + txs.iter().map(|tx| 4 + tx.len()).sum::<usize>());
    body.extend_from_slice(MAGIC);
    body.push(VERSION);
    for tx in txs {
        let len = u32::try_from(tx.len()).map_err(|_| PoolError::CorruptFile {
            path: path.to_path_buf(),
            detail: format!("transaction of {} bytes does not fit the format", tx.len()),
        })?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(tx);
    }
    let tmp = tmp_path(path);
    let mut file = fs::File::create(&tmp).map_err(io_error(&tmp))?;
    file.write_all(&body).map_err(io_error(&tmp))?;
    file.sync_all().map_err(io_error(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error(path))?;
    // Make the rename itself durable; not every platform can open a directory, so best effort.
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && let Ok(dir) = fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads the transactions saved at `path`; `None` if there is no file.
pub(super) fn read(path: &Path) -> Result<Option<Vec<Vec<u8>>>> {
    let body = match fs::read(path) {
        Ok(body) => body,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path)(error)),
    };
    let corrupt = |detail: String| PoolError::CorruptFile {
        path: path.to_path_buf(),
        detail,
    };
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("not a txpool file (bad magic)".to_string()))?;
    let (&version, mut rest) = rest
        .split_first()
        .ok_or_else(|| corrupt("missing version".to_string()))?;
    if version != VERSION {
        return Err(corrupt(format!("unsupported version {version}")));
    }
    let mut txs = Vec::new();
    while !rest.is_empty() {
        let offset = body.len() - rest.len();
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt(format!("truncated length at offset {offset}")))?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err(corrupt(format!("truncated transaction at offset {offset}")));
        }
        let (tx, tail) = tail.split_at(len);
        txs.push(tx.to_vec());
        rest = tail;
    }
    Ok(Some(txs))
}

/// Deletes the file after a successful load.
pub(super) fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(io_error(path))
}
