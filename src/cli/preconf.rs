//! `hauptbuch-reth preconf verify`: checks a preconfirmation offline.

use crate::preconf::{
    SignedPreconfirmation,
    inclusion::InclusionProof,
    types::IssuerKeysJson,
    verify::{Verdict, parse, verify},
};
use clap::{Args, Subcommand};
use eyre::WrapErr;
use std::path::PathBuf;

/// Preconfirmation tools.
#[derive(Debug, Args)]
pub struct PreconfCommand {
    #[command(subcommand)]
    command: PreconfSubcommand,
}

#[derive(Debug, Subcommand)]
enum PreconfSubcommand {
    /// Verify a preconfirmation (the JSON `hb_sendPreconfTransaction`/`hb_getPreconfirmation`
    /// returned): both signatures and the batch proof; with `--proof` (the JSON of
    /// `hb_getInclusionProof`) or `--block` (the promised block), whether the promise was
    /// honoured or violated; with `--chain`, that the proof's block is final.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The preconfirmation JSON file.
    preconf: PathBuf,
    /// Inclusion proof JSON of the promised position.
    #[arg(long)]
    proof: Option<PathBuf>,
    /// The promised block instead of a proof: the JSON of `eth_getBlockByNumber(n, true)`
    /// (its hash and transactions root are checked; trust it as you trust its source).
    #[arg(long, conflicts_with = "proof")]
    block: Option<PathBuf>,
    /// `devnet` or a genesis file: the preconfirmation's keys must be a validator's
    /// (`hauptbuch.validators[].preconf`, when the chainspec lists them), and the proof's
    /// finalization certificate must verify against the validator set, proving the block final.
    #[arg(long, value_name = "CHAIN_OR_PATH")]
    chain: Option<String>,
    /// `hb_capabilities` JSON (or its `keys` object) holding the trusted sequencer keys.
    #[arg(long)]
    keys: Option<PathBuf>,
}

fn read(path: &PathBuf, what: &str) -> eyre::Result<String> {
    std::fs::read_to_string(path).wrap_err_with(|| format!("cannot read {what} {}", path.display()))
}

impl PreconfCommand {
    /// Runs the subcommand; exits non-zero on invalid evidence and on a violated promise.
    pub fn run(self) -> eyre::Result<()> {
        let PreconfSubcommand::Verify(args) = self.command;
        let preconf: SignedPreconfirmation =
            parse("preconfirmation", &read(&args.preconf, "preconfirmation")?)?;
        let proof: Option<InclusionProof> = match (&args.proof, &args.block) {
            (Some(path), _) => Some(parse("inclusion proof", &read(path, "proof")?)?),
            (None, Some(path)) => Some(InclusionProof::from_block_json(
                &read(path, "block")?,
                preconf.tx_index.to::<u64>(),
            )?),
            (None, None) => None,
        };
        let chain = args.chain.as_deref().map(Chain::load).transpose()?;
        let finality = match (&chain, &proof) {
            (Some(chain), Some(proof)) => Some(chain.finality(proof)?),
            _ => None,
        };
        let issuer = chain.as_ref().map(|c| c.issuer(&preconf)).transpose()?;
        let mut trusted: Option<IssuerKeysJson> = None;
        let mut network_issuer: Option<String> = None;
        if let Some(path) = &args.keys {
            let text = read(path, "keys")?;
            match parse::<IssuerKeysJson>("keys", &text) {
                Ok(keys) => trusted = Some(keys),
                Err(_) => {
                    let caps: serde_json::Value = parse("keys", &text)?;
                    let issuers: Vec<crate::chainspec::PreconfKeys> = caps
                        .get("issuers")
                        .map(|v| parse("keys", &v.to_string()))
                        .transpose()?
                        .unwrap_or_default();
                    if issuers.is_empty() {
                        let keys = caps.get("keys").cloned().ok_or_else(|| {
                            eyre::eyre!("{}: neither keys nor hb_capabilities", path.display())
                        })?;
                        trusted = Some(parse("keys", &keys.to_string())?);
                    } else if issuers.contains(&preconf.issuer.chainspec_keys()) {
                        // A validator network: any validator's keys, in its turn.
                        network_issuer = Some(format!(
                            "keys of one of the {} issuing validators",
                            issuers.len()
                        ));
                    } else {
                        eyre::bail!(
                            "the preconfirmation's keys are none of the {} issuers in {}",
                            issuers.len(),
                            path.display()
                        );
                    }
                }
            }
        }
        let issuer = issuer.or(network_issuer);
        let verdict = verify(&preconf, proof.as_ref(), trusted.as_ref())?;
        println!(
            "signatures: valid (ed25519 {}, ML-DSA-65 batch {}{})",
            preconf.issuer.ed25519,
            preconf.batch.id,
            match (&trusted, &issuer) {
                (_, Some(issuer)) => format!(", {issuer}"),
                (Some(_), None) => ", keys trusted".into(),
                (None, None) => ", keys not checked: pass --chain or --keys".into(),
            }
        );
        if let Some(finality) = finality {
            println!("{finality}");
        }
        match verdict {
            Verdict::Signed => {
                println!(
                    "promise: tx {} at block {} index {} (no proof given)",
                    preconf.tx_hash, preconf.block_number, preconf.tx_index
                );
                Ok(())
            }
            Verdict::Honoured { block_hash } => {
                println!(
                    "honoured: tx {} is at block {} ({block_hash}) index {}",
                    preconf.tx_hash, preconf.block_number, preconf.tx_index
                );
                Ok(())
            }
            Verdict::Violated { block_hash, found } => {
                let found = found.map_or_else(|| "no transaction".to_string(), |h| h.to_string());
                println!(
                    "violated: block {} ({block_hash}) index {} holds {found}, promised {}",
                    preconf.block_number, preconf.tx_index, preconf.tx_hash
                );
                eyre::bail!("the preconfirmation was violated")
            }
        }
    }
}

/// The chainspec of `--chain`, with its validator set.
struct Chain {
    name: String,
    spec: std::sync::Arc<crate::chainspec::ChainSpec>,
    validators: crate::consensus::ValidatorSet,
}

impl Chain {
    fn load(chain: &str) -> eyre::Result<Self> {
        let spec = crate::chainspec::ChainSpec::from_arg(chain)
            .map_err(|e| eyre::eyre!("invalid --chain `{chain}`: {e}"))?;
        let validators = crate::consensus::ValidatorSet::from_chainspec(&spec.hauptbuch.validators)
            .map_err(|e| eyre::eyre!("--chain `{chain}` has no usable validator set: {e}"))?;
        Ok(Self {
            name: chain.to_string(),
            spec,
            validators,
        })
    }

    /// Which validator's keys signed `preconf` (the chain id must match too).
    fn issuer(&self, preconf: &SignedPreconfirmation) -> eyre::Result<String> {
        let chain = &self.name;
        if preconf.chain_id.to::<u64>() != self.spec.chain_id {
            eyre::bail!(
                "the preconfirmation is for chain id {}, --chain `{chain}` is chain id {}",
                preconf.chain_id,
                self.spec.chain_id
            );
        }
        if !self.validators.issues_preconfirmations() {
            return Ok(format!(
                "keys not checked: --chain `{chain}` lists no preconfirmation keys"
            ));
        }
        let keys = preconf.issuer.chainspec_keys();
        match self.validators.preconf_issuer(&keys) {
            Some(validator) => Ok(format!(
                "keys of validator {}",
                crate::consensus::public_key_to_hex(validator)
            )),
            None => eyre::bail!(
                "the preconfirmation's keys (ed25519 {}, ML-DSA-65 hash {}) are no validator's \
                 preconfirmation keys in --chain `{chain}`",
                keys.ed25519,
                keys.ml_dsa65_hash
            ),
        }
    }

    /// Checks the proof's finalization certificate against the validator set.
    fn finality(&self, proof: &InclusionProof) -> eyre::Result<String> {
        let (chain, spec, validators) = (&self.name, &self.spec, &self.validators);
        let Some(certificate) = &proof.finalization_certificate else {
            return Ok(format!(
                "final: not shown (block {} carries no certificate of its own; a descendant's covers it)",
                proof.block_number
            ));
        };
        let view = crate::consensus::CertificateVerifier::new(spec, validators)
        .verify(certificate, proof.block_hash)
        .map_err(|e| {
            eyre::eyre!(
                "the finalization certificate of block {} does not verify against the validator \
                 set of --chain `{chain}`: {e}",
                proof.block_number
            )
        })?;
        Ok(format!(
            "final: block {} ({}) finalized in view {view} by a quorum of the {} validators",
            proof.block_number,
            proof.block_hash,
            validators.len()
        ))
    }
}
