//! The single-node block producer: it drives [`Node::propose`] and [`Node::commit`] alone. The
//! committee's consensus replaces it and drives the same two calls.
//!
//! It waits for a pending transaction, lets the block fill for up to `block.interval_ms`, then
//! commits blocks back to back while transactions are ready. Empty blocks are not made. The block
//! time is the wall clock, never below the previous block's.

use crate::service::{Node, now_ms};
use std::future::Future;
use std::time::Duration;
use weft_types::PublicKey;

/// Produces blocks until `shutdown` resolves; a block in progress is finished first. Returns an
/// error only when committing fails (a disk failure): the node must stop then.
pub async fn run(
    node: Node,
    proposer: PublicKey,
    shutdown: impl Future<Output = ()>,
) -> Result<(), weft_executor::ExecutorError> {
    tokio::pin!(shutdown);
    let interval = Duration::from_millis(node.config().block.interval_ms);
    let max_txs = node.config().block.max_txs;
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = node.wait_for_transactions() => {}
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
        loop {
            let txs = node.propose(max_txs);
            if txs.is_empty() {
                break;
            }
            let full = txs.len() >= max_txs;
            let head = node.head();
            let height = head.height + 1;
            let time_ms = now_ms().max(head.time_ms);
            let committing = node.clone();
            let block = tokio::task::spawn_blocking(move || {
                committing.commit(height, time_ms, proposer, txs)
            })
            .await
            .expect("block commit task panicked")?;
            tracing::debug!(
                height,
                txs = block.receipts.len(),
                hash = %block.hash,
                "committed block"
            );
            if !full {
                break;
            }
        }
    }
}
