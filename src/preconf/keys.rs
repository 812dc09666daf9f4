//! The issuer's signing keys: one ed25519 key (per-preconfirmation signatures) and one ML-DSA-65
//! key (batch roots). Generated on first start into `<datadir>/preconf.key` (mode 0600), or read
//! from the file given with `--preconf.key`.
//!
//! File format (JSON): `{"ed25519Seed": "0x…32 bytes", "mlDsa65SecretKey": "0x…",
//! "mlDsa65PublicKey": "0x…"}`. ML-DSA-65 has no seeded key generation in `pqcrypto-mldsa`, so
//! both halves of that key are stored.

use super::{
    error::{PreconfError, Result},
    types::IssuerKeysJson,
};
use crate::chainspec::PreconfKeys;
use alloy_primitives::{B256, Bytes, keccak256};
use ed25519_dalek::SigningKey;
use pqcrypto_mldsa::mldsa65;
use pqcrypto_traits::sign::{PublicKey as _, SecretKey as _};
use serde::{Deserialize, Serialize};
use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

/// Default key file name inside the datadir.
pub const KEY_FILE: &str = "preconf.key";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    ed25519_seed: B256,
    ml_dsa65_secret_key: Bytes,
    ml_dsa65_public_key: Bytes,
}

/// The issuer's keys.
pub struct IssuerKeys {
    pub(crate) ed25519: SigningKey,
    pub(crate) ml_dsa_secret: mldsa65::SecretKey,
    pub(crate) ml_dsa_public: mldsa65::PublicKey,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field(
                "ed25519",
                &B256::from(self.ed25519.verifying_key().to_bytes()),
            )
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    /// Fresh random keys.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| PreconfError::Key {
            path: "(new)".into(),
            reason: format!("no randomness: {e}"),
        })?;
        let (ml_dsa_public, ml_dsa_secret) = mldsa65::keypair();
        Ok(Self {
            ed25519: SigningKey::from_bytes(&seed),
            ml_dsa_secret,
            ml_dsa_public,
        })
    }

    /// Reads `path`; if it does not exist and `create` is set, generates keys and writes them
    /// there (mode 0600, written to a temporary file, fsync'd and renamed).
    pub fn load_or_create(path: &Path, create: bool) -> Result<Self> {
        let error = |reason: String| PreconfError::Key {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let file: KeyFile =
                    serde_json::from_slice(&bytes).map_err(|e| error(e.to_string()))?;
                let ml_dsa_secret = mldsa65::SecretKey::from_bytes(&file.ml_dsa65_secret_key)
                    .map_err(|e| error(format!("mlDsa65SecretKey: {e}")))?;
                let ml_dsa_public = mldsa65::PublicKey::from_bytes(&file.ml_dsa65_public_key)
                    .map_err(|e| error(format!("mlDsa65PublicKey: {e}")))?;
                Ok(Self {
                    ed25519: SigningKey::from_bytes(&file.ed25519_seed.0),
                    ml_dsa_secret,
                    ml_dsa_public,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let keys = Self::generate()?;
                keys.write(path).map_err(|e| error(e.to_string()))?;
                tracing::info!(path = %path.display(), "generated preconfirmation keys");
                Ok(keys)
            }
            Err(e) => Err(error(e.to_string())),
        }
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let file = KeyFile {
            ed25519_seed: B256::from(self.ed25519.to_bytes()),
            ml_dsa65_secret_key: Bytes::copy_from_slice(self.ml_dsa_secret.as_bytes()),
            ml_dsa65_public_key: Bytes::copy_from_slice(self.ml_dsa_public.as_bytes()),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("key.tmp");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        out.write_all(&json)?;
        out.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    /// The public keys, as `hb_capabilities` and preconfirmations show them.
    pub fn public(&self) -> IssuerKeysJson {
        IssuerKeysJson {
            ed25519: B256::from(self.ed25519.verifying_key().to_bytes()),
            ml_dsa65: Bytes::copy_from_slice(self.ml_dsa_public.as_bytes()),
        }
    }

    /// keccak256 of the ML-DSA-65 public key (part of every signed preconfirmation).
    pub fn ml_dsa_key_hash(&self) -> B256 {
        keccak256(self.ml_dsa_public.as_bytes())
    }

    /// The keys as the chainspec lists them (`hauptbuch.validators[].preconf`).
    pub fn chainspec_keys(&self) -> PreconfKeys {
        self.public().chainspec_keys()
    }
}
