//! Validator key files: the ed25519 private key as `0x`-prefixed hex on one line, mode 0600.

use super::PrivateKey;
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::{Signer as _, ed25519};
use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read or written.
    #[error("validator key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("validator key file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A fresh key from the operating system's randomness.
pub fn generate_key() -> Result<PrivateKey, getrandom::Error> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())?;
    // Every 32-byte string is a valid ed25519 secret key.
    Ok(ed25519::PrivateKey::decode(seed.to_vec()).expect("32 bytes are an ed25519 key"))
}

/// Writes `key` to a new file at `path` (mode 0600); refuses to overwrite an existing file.
pub fn write_key(path: &Path, key: &PrivateKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    let encoded = format!("0x{}\n", alloy_primitives::hex::encode(key.encode()));
    file.write_all(encoded.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads a key written by [`write_key`].
pub fn read_key(path: &Path) -> Result<PrivateKey, KeyError> {
    let invalid = |message: String| KeyError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = alloy_primitives::hex::decode(text.trim())
        .map_err(|err| invalid(format!("not hex: {err}")))?;
    if bytes.len() != 32 {
        return Err(invalid(format!(
            "{} bytes, expected a 32-byte ed25519 private key",
            bytes.len()
        )));
    }
    ed25519::PrivateKey::decode(bytes)
        .map_err(|err| invalid(format!("not an ed25519 private key: {err}")))
}

/// The public key of `key` as `0x`-prefixed hex (the chainspec's `publicKey`).
pub fn public_key_hex(key: &PrivateKey) -> String {
    public_key_to_hex(&key.public_key())
}

/// A public key as `0x`-prefixed hex.
pub fn public_key_to_hex(key: &super::PublicKey) -> String {
    format!("0x{}", alloy_primitives::hex::encode(key.encode()))
}
