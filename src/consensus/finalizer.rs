//! Commits the blocks consensus finalized, in height order.
//!
//! Marshal reports each finalized block once it is durably stored, and waits for an
//! acknowledgement before it considers the block delivered. The finalizer commits the block (from
//! the pending tree when this node executed it, otherwise by executing it), stores its
//! finalization certificate and moves `head` and `safe` in the same write transaction, and only
//! then acknowledges. After a crash marshal redelivers from the last acknowledged height; blocks
//! already committed are acknowledged again without work.
//!
//! A finalized block that does not execute, or that conflicts with the committed chain, means the
//! validator set finalized something this node considers invalid: the finalizer stops with an
//! error (the node shuts down) rather than diverge silently.

use super::{ConsensusBlock, Scheme, encode_certificate};
use crate::engine::{Engine, EngineError};
use commonware_actor::Feedback;
use commonware_consensus::{
    Heightable, Reporter,
    marshal::{Update, core::Mailbox, standard::Standard},
};
use commonware_cryptography::{Digested, Digestible};
use commonware_runtime::{Spawner, Supervisor};
use commonware_utils::{Acknowledgement, acknowledgement::Exact};
use futures::{
    StreamExt,
    channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded},
};

/// A finalized block with marshal's acknowledgement.
pub type Finalized = (Digested<ConsensusBlock>, Exact);

/// Marshal's reporter: forwards finalized blocks to [`run`] without blocking.
#[derive(Debug, Clone)]
pub struct FinalizedReporter {
    sender: UnboundedSender<Finalized>,
}

/// A reporter and the receiving end for [`run`]. Marshal holds at most `max_pending_acks`
/// unacknowledged blocks, so the channel stays small.
pub fn channel() -> (FinalizedReporter, UnboundedReceiver<Finalized>) {
    let (sender, receiver) = unbounded();
    (FinalizedReporter { sender }, receiver)
}

impl Reporter for FinalizedReporter {
    type Activity = Update<ConsensusBlock>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Update::Block(block, ack) => match self.sender.unbounded_send((block, ack)) {
                Ok(()) => Feedback::Ok,
                Err(_) => Feedback::Closed,
            },
            Update::Tip(..) => Feedback::Ok,
        }
    }
}

/// Commits finalized blocks until the channel closes.
pub async fn run<E>(
    context: E,
    engine: Engine,
    marshal: Mailbox<Scheme, Standard<ConsensusBlock>>,
    mut finalized: UnboundedReceiver<Finalized>,
) -> Result<(), EngineError>
where
    E: Spawner + Supervisor,
{
    while let Some((block, ack)) = finalized.next().await {
        let height = block.height();
        let certificate = marshal
            .get_finalization(height)
            .await
            .filter(|f| f.proposal.payload == block.digest())
            .map(|f| encode_certificate(&f));
        let committer = engine.clone();
        let inner = block.inner().clone();
        super::blocking(&context, move || {
            commit(&committer, &inner, certificate.as_deref())
        })
        .await??;
        ack.acknowledge();
    }
    Ok(())
}

/// Commits one finalized block (or recognises it as committed).
fn commit(
    engine: &Engine,
    block: &ConsensusBlock,
    certificate: Option<&[u8]>,
) -> Result<(), EngineError> {
    let number = block.header().number;
    let hash = block.hash();
    let canonical = engine.db().provider()?.canonical_hash(number)?;
    match canonical {
        Some(committed) if committed == hash => return Ok(()),
        Some(committed) => {
            return Err(EngineError::Forkchoice(format!(
                "finalized block {number} ({hash}) conflicts with the committed block {committed}"
            )));
        }
        None => {}
    }
    let started = std::time::Instant::now();
    let summary = engine.import_finalized(block.block().clone(), certificate)?;
    crate::node::record_block(block.block());
    tracing::info!(
        number,
        %hash,
        txs = summary.transactions,
        gas_used = summary.gas_used,
        certified = certificate.is_some(),
        elapsed = ?started.elapsed(),
        "finalized block"
    );
    Ok(())
}
