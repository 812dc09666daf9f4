//! Hello: validators tell each other which chain they run before consensus starts, so that a
//! node started with another chainspec fails with an error naming the difference instead of
//! never finalizing.
//!
//! The p2p handshake does not commit to the chain (its namespace is the same on every network):
//! a node with another chainspec but a key of the set connects, and the first message on the
//! [`channels::HELLO`](super::channels::HELLO) channel says what it runs — chain id, genesis hash
//! and the digest of the ordered validator set ([`ValidatorSet::digest`]). Consensus signatures
//! stay bound to the chain ([`super::namespace`]), so votes of another chain are worthless anyway.
//!
//! [`run`] broadcasts this node's hello every [`RETRY`] (asking for an answer) until it has a
//! [`Verdict`], and answers every request for the rest of its life, so that a node joining later
//! learns the same. The verdict is
//! - [`Verdict::Agreed`] once a quorum (this node included) runs this node's chain;
//! - [`Verdict::Mismatch`] once more than `f` validators, and at least half of the set, run
//!   another one: then this node is the odd one out (or, with two validators, neither can tell
//!   and both stop); a node on the majority's chain only warns about the odd peer;
//! - [`Verdict::Unanswered`] when neither happened within the wait (peers down or unreachable):
//!   consensus starts anyway, and the stall warning says what to check.

use super::{PublicKey, ValidatorSet};
use crate::chainspec::ChainSpec;
use alloy_primitives::B256;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

/// Interval between broadcasts until there is a verdict.
pub const RETRY: Duration = Duration::from_secs(1);
/// Version byte of the message.
const VERSION: u8 = 1;
/// Encoded length: version, flags, chain id, genesis hash, validator set digest.
const LEN: usize = 1 + 1 + 8 + 32 + 32;
/// Flag: the sender wants this node's hello back.
const WANT_REPLY: u8 = 1;

/// What a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Genesis block hash.
    pub genesis_hash: B256,
    /// [`ValidatorSet::digest`].
    pub validators: B256,
}

impl Hello {
    /// This node's hello.
    pub fn new(spec: &ChainSpec, validators: &ValidatorSet) -> Self {
        Self {
            chain_id: spec.chain_id,
            genesis_hash: spec.genesis_hash,
            validators: validators.digest(),
        }
    }

    fn encode(&self, want_reply: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.push(VERSION);
        out.push(if want_reply { WANT_REPLY } else { 0 });
        out.extend_from_slice(&self.chain_id.to_be_bytes());
        out.extend_from_slice(self.genesis_hash.as_slice());
        out.extend_from_slice(self.validators.as_slice());
        out
    }

    /// The hello and whether it asks for an answer; `None` for anything else.
    fn decode(bytes: &[u8]) -> Option<(Self, bool)> {
        if bytes.len() != LEN || bytes[0] != VERSION || bytes[1] & !WANT_REPLY != 0 {
            return None;
        }
        let chain_id = u64::from_be_bytes(bytes[2..10].try_into().ok()?);
        Some((
            Self {
                chain_id,
                genesis_hash: B256::from_slice(&bytes[10..42]),
                validators: B256::from_slice(&bytes[42..74]),
            },
            bytes[1] & WANT_REPLY != 0,
        ))
    }

    /// How `theirs` differs from `self`, e.g. `chain id 7 (this node: 1)`.
    pub fn differences(&self, theirs: &Self) -> String {
        let mut parts = Vec::new();
        if theirs.chain_id != self.chain_id {
            parts.push(format!(
                "chain id {} (this node: {})",
                theirs.chain_id, self.chain_id
            ));
        }
        if theirs.genesis_hash != self.genesis_hash {
            parts.push(format!(
                "genesis {} (this node: {})",
                theirs.genesis_hash, self.genesis_hash
            ));
        }
        if theirs.validators != self.validators {
            parts.push(format!(
                "validator set {} (this node: {}; keys, order or fee recipients differ)",
                theirs.validators, self.validators
            ));
        }
        parts.join(", ")
    }
}

/// The outcome of the hello exchange at startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A quorum runs this node's chain.
    Agreed,
    /// `f + 1` validators run another chain; the error to fail with.
    Mismatch(String),
    /// Neither within the wait: how many peers answered (all agreeing).
    Unanswered {
        /// Peers that answered with this node's chain.
        agreed: usize,
    },
}

/// Which validators said what.
#[derive(Debug)]
pub struct Tally {
    ours: Hello,
    validators: usize,
    /// Whether this node is one of the validators (else a full node following them).
    member: bool,
    agreed: BTreeSet<PublicKey>,
    differing: BTreeMap<PublicKey, Hello>,
}

impl Tally {
    /// An empty tally for a set of `validators`, of which this node is one if `member`.
    pub const fn new(ours: Hello, validators: usize, member: bool) -> Self {
        Self {
            ours,
            validators,
            member,
            agreed: BTreeSet::new(),
            differing: BTreeMap::new(),
        }
    }

    /// Records `peer`'s hello (its latest counts); returns whether it differs from this node's.
    pub fn record(&mut self, peer: PublicKey, hello: Hello) -> bool {
        if hello == self.ours {
            self.differing.remove(&peer);
            self.agreed.insert(peer);
            false
        } else {
            self.agreed.remove(&peer);
            self.differing.insert(peer, hello);
            true
        }
    }

    /// The verdict, once there is one. A validator fails when more than `f` validators (not
    /// all faulty) and no fewer than the rest of the set, itself included, run another chain
    /// (the others cannot outvote them any more); it agrees with a quorum. A full node fails
    /// when more than `f` validators run another chain and at most `f` run its own (then an
    /// honest validator disagrees with it, and none agrees); it agrees with more than `f`.
    pub fn verdict(&self) -> Option<Verdict> {
        let faults = self.validators.saturating_sub(1) / 3;
        let quorum = self.validators - faults;
        let (differing, agreed) = (self.differing.len(), self.agreed.len());
        let mismatch = if self.member {
            differing > faults && 2 * differing >= self.validators
        } else {
            differing > faults && agreed <= faults
        };
        if mismatch {
            let peers = self
                .differing
                .iter()
                .map(|(peer, hello)| {
                    format!(
                        "{} runs {}",
                        super::public_key_to_hex(peer),
                        self.ours.differences(hello)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Some(Verdict::Mismatch(format!(
                "chainspec mismatch: {} of {} validators run another chain than this node's \
                 (chain id {}, genesis {}): {peers}. Every node of a network must use the same \
                 chainspec file",
                self.differing.len(),
                self.validators,
                self.ours.chain_id,
                self.ours.genesis_hash,
            )));
        }
        let agreed = if self.member {
            agreed + 1 >= quorum
        } else {
            agreed > faults
        };
        agreed.then_some(Verdict::Agreed)
    }

    fn unanswered(&self) -> Verdict {
        Verdict::Unanswered {
            agreed: self.agreed.len(),
        }
    }
}

/// Exchanges hellos with the validator set (answering anyone, counting only validators; this
/// node is one if `member`, else a full node following them): sends the startup verdict on
/// `verdict` (within `wait`), then keeps answering until the network closes.
pub async fn run<E, S, R>(
    context: E,
    ours: Hello,
    validators: &ValidatorSet,
    member: bool,
    (mut sender, mut receiver): (S, R),
    wait: Duration,
    verdict: tokio::sync::oneshot::Sender<Verdict>,
) where
    E: Clock,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let mut tally = Tally::new(ours, validators.len(), member);
    let mut verdict = Some(verdict);
    let deadline = context.current() + wait;
    let mut next_broadcast = context.current();
    let mut warned = BTreeSet::new();
    loop {
        if verdict.is_some() && context.current() >= next_broadcast {
            sender.send(Recipients::All, ours.encode(true), true);
            next_broadcast = context.current() + RETRY;
        }
        let wake = if verdict.is_some() {
            next_broadcast.min(deadline)
        } else {
            // Only answering from now on.
            context.current() + Duration::from_secs(3_600)
        };
        tokio::select! {
            message = receiver.recv() => {
                let Ok((peer, message)) = message else { return };
                let Some((theirs, want_reply)) = Hello::decode(message.as_ref()) else {
                    tracing::warn!(
                        peer = %super::public_key_to_hex(&peer),
                        bytes = message.len(),
                        "dropping a malformed hello"
                    );
                    continue;
                };
                if want_reply {
                    sender.send(Recipients::One(peer.clone()), ours.encode(false), true);
                }
                if !validators.contains(&peer) {
                    continue;
                }
                if tally.record(peer.clone(), theirs) && warned.insert(peer.clone()) {
                    tracing::warn!(
                        peer = %super::public_key_to_hex(&peer),
                        differences = %ours.differences(&theirs),
                        "a validator runs another chainspec than this node; it cannot take part"
                    );
                }
            }
            () = context.sleep_until(wake) => {}
        }
        if verdict.is_none() {
            continue;
        }
        let outcome = match tally.verdict() {
            Some(outcome) => outcome,
            None if context.current() >= deadline => tally.unanswered(),
            None => continue,
        };
        if let Some(verdict) = verdict.take() {
            if matches!(outcome, Verdict::Mismatch(_)) {
                // This node is about to stop: the others should learn why from it as well.
                sender.send(Recipients::All, ours.encode(false), true);
            }
            let _ = verdict.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer as _, ed25519};

    fn peer(seed: u64) -> PublicKey {
        ed25519::PrivateKey::from_seed(seed).public_key()
    }

    fn hello(chain_id: u64) -> Hello {
        Hello {
            chain_id,
            genesis_hash: B256::repeat_byte(1),
            validators: B256::repeat_byte(2),
        }
    }

    #[test]
    fn encoding_round_trips_and_rejects_anything_else() {
        let ours = hello(7);
        let bytes = ours.encode(true);
        assert_eq!(bytes.len(), LEN);
        assert_eq!(Hello::decode(&bytes), Some((ours, true)));
        assert_eq!(Hello::decode(&ours.encode(false)), Some((ours, false)));
        assert_eq!(Hello::decode(&bytes[..LEN - 1]), None);
        let mut other_version = bytes.clone();
        other_version[0] = 2;
        assert_eq!(Hello::decode(&other_version), None);
        let mut unknown_flag = bytes;
        unknown_flag[1] |= 2;
        assert_eq!(Hello::decode(&unknown_flag), None);
    }

    #[test]
    fn differences_name_each_differing_field() {
        let ours = hello(1);
        let mut theirs = hello(2);
        theirs.validators = B256::repeat_byte(3);
        let text = ours.differences(&theirs);
        assert!(text.contains("chain id 2 (this node: 1)"), "{text}");
        assert!(text.contains("validator set 0x0303"), "{text}");
        assert!(!text.contains("genesis"), "{text}");
    }

    #[test]
    fn four_validators_agree_with_a_quorum_and_the_odd_one_out_fails() {
        // A node on the network's chain: one peer on another chain is only a warning.
        let mut tally = Tally::new(hello(1), 4, true);
        assert!(tally.record(peer(1), hello(9)));
        assert_eq!(tally.verdict(), None);
        assert!(!tally.record(peer(2), hello(1)));
        assert_eq!(tally.verdict(), None);
        assert!(!tally.record(peer(3), hello(1)));
        assert_eq!(tally.verdict(), Some(Verdict::Agreed));

        // The misconfigured node hears two of the other three disagree: a clear error.
        let mut tally = Tally::new(hello(9), 4, true);
        tally.record(peer(0), hello(1));
        assert_eq!(tally.verdict(), None);
        tally.record(peer(2), hello(1));
        let Some(Verdict::Mismatch(error)) = tally.verdict() else {
            panic!("expected a mismatch: {:?}", tally.verdict());
        };
        assert!(error.contains("2 of 4 validators"), "{error}");
        assert!(error.contains("chain id 1 (this node: 9)"), "{error}");

        // A peer's latest hello counts (it restarted with the right chainspec).
        let mut tally = Tally::new(hello(1), 4, true);
        tally.record(peer(1), hello(9));
        tally.record(peer(1), hello(1));
        tally.record(peer(2), hello(1));
        assert_eq!(tally.verdict(), Some(Verdict::Agreed));
    }

    #[test]
    fn with_three_validators_only_the_odd_one_out_fails() {
        // f = 0, but one differing peer is not a majority: the two on the same chain only warn
        // (and, short of the quorum of all three, start after the wait).
        let mut tally = Tally::new(hello(1), 3, true);
        tally.record(peer(2), hello(9));
        assert_eq!(tally.verdict(), None);
        tally.record(peer(1), hello(1));
        assert_eq!(tally.verdict(), None);
        let mut odd = Tally::new(hello(9), 3, true);
        odd.record(peer(0), hello(1));
        assert_eq!(odd.verdict(), None);
        odd.record(peer(1), hello(1));
        assert!(matches!(odd.verdict(), Some(Verdict::Mismatch(_))));
    }

    #[test]
    fn a_full_node_follows_more_than_f_validators() {
        // Four validators (f = 1): two agreeing validators are enough to start.
        let mut tally = Tally::new(hello(1), 4, false);
        tally.record(peer(0), hello(1));
        assert_eq!(tally.verdict(), None);
        tally.record(peer(1), hello(1));
        assert_eq!(tally.verdict(), Some(Verdict::Agreed));
        // A misconfigured full node: two validators disagree, none agrees.
        let mut tally = Tally::new(hello(9), 4, false);
        tally.record(peer(0), hello(1));
        assert_eq!(tally.verdict(), None);
        tally.record(peer(1), hello(1));
        assert!(matches!(tally.verdict(), Some(Verdict::Mismatch(_))));
    }

    #[test]
    fn two_validators_on_different_chains_both_fail() {
        let mut tally = Tally::new(hello(1), 2, true);
        tally.record(peer(1), hello(2));
        assert!(matches!(tally.verdict(), Some(Verdict::Mismatch(_))));
    }
}
