//! What the node keeps on disk, and for how long: pruning of old state versions and blocks
//! (`[storage]` in the config), and the size of the data directory as a metric.
//!
//! [`run_pruning`] wakes every `storage.prune_every_s`. The state keeps `storage.state_history`
//! versions below the head and always the latest anchored one (light clients read proofs there);
//! blocks are kept unless `storage.keep_blocks` says otherwise. Confirmed Tangle blocks are
//! pruned by the Tangle task (`crate::tangle`). Each pass works in small batches off the async
//! runtime, so commits never wait long behind it.

use crate::service::Node;
use std::path::Path;
use std::time::Duration;

/// What one pruning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The oldest state version readable now.
    pub state_oldest: u64,
    /// State tree nodes and values deleted.
    pub state_entries: u64,
    /// Blocks deleted.
    pub blocks: u64,
}

/// The state version pruning keeps from: `history` below the head, never above the latest
/// anchored height (0 `history`: keep everything).
pub fn state_keep_from(head: u64, history: u64, anchored: Option<u64>) -> u64 {
    if history == 0 {
        return 0;
    }
    let keep_from = head.saturating_sub(history);
    match anchored {
        Some(anchored) => keep_from.min(anchored),
        None => keep_from,
    }
}

/// One pruning pass over state and blocks.
pub fn prune_once(node: &Node) -> Result<PruneReport, String> {
    let storage = &node.config().storage;
    let head = node.head().height;
    let anchored = match node.tangle_service() {
        Some(tangle) => tangle
            .latest_anchor(node.chain_id())?
            .map(|r| r.anchor.statement.height),
        None => None,
    };
    let keep_from = state_keep_from(head, storage.state_history, anchored);
    let mut report = PruneReport::default();
    if keep_from > 0 {
        let pruned = node.store().prune(keep_from).map_err(|e| e.to_string())?;
        report.state_oldest = pruned.oldest;
        report.state_entries = pruned.nodes + pruned.values;
    }
    if storage.keep_blocks > 0 {
        report.blocks = node
            .executor()
            .prune_blocks(head.saturating_sub(storage.keep_blocks))
            .map_err(|e| e.to_string())?;
    }
    Ok(report)
}

/// Bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Prunes every `storage.prune_every_s` for as long as the node runs.
pub async fn run_pruning(node: Node) {
    let every = Duration::from_secs(node.config().storage.prune_every_s);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pass = node.clone();
        let done = tokio::task::spawn_blocking(move || {
            let report = prune_once(&pass);
            (report, dir_bytes(&pass.config().data_dir))
        })
        .await;
        let Ok((report, bytes)) = done else {
            tracing::error!("a pruning pass panicked");
            continue;
        };
        let metrics = node.metrics();
        metrics.data_dir_bytes.set(bytes as i64);
        match report {
            Ok(report) => {
                metrics.state_oldest.set(report.state_oldest as i64);
                metrics.pruned_state_entries.inc_by(report.state_entries);
                metrics.pruned_blocks.inc_by(report.blocks);
                if report.state_entries > 0 || report.blocks > 0 {
                    tracing::debug!(
                        state_oldest = report.state_oldest,
                        state_entries = report.state_entries,
                        blocks = report.blocks,
                        "pruned"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "pruning failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchored_version_is_always_kept() {
        assert_eq!(state_keep_from(100, 0, Some(10)), 0);
        assert_eq!(state_keep_from(100, 30, None), 70);
        assert_eq!(state_keep_from(100, 30, Some(90)), 70);
        assert_eq!(state_keep_from(100, 30, Some(40)), 40);
        assert_eq!(state_keep_from(20, 30, None), 0);
    }
}
