//! Prometheus metrics (prometheus-client), served as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Why a transaction was rejected, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// A short snake_case reason.
    pub reason: &'static str,
}

/// The node's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    /// Latest committed height.
    pub height: Gauge,
    /// Pending transactions.
    pub mempool_size: Gauge,
    /// Transactions admitted into the mempool.
    pub txs_admitted: Counter,
    /// Transactions rejected, by reason.
    pub txs_rejected: Family<Reason, Counter>,
    /// Blocks committed.
    pub blocks_committed: Counter,
    /// Transactions committed.
    pub txs_committed: Counter,
    /// Time to execute and commit a block.
    pub block_seconds: Histogram,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in a new registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("weft");
        let m = Self {
            height: Gauge::default(),
            mempool_size: Gauge::default(),
            txs_admitted: Counter::default(),
            txs_rejected: Family::default(),
            blocks_committed: Counter::default(),
            txs_committed: Counter::default(),
            block_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            registry: Arc::new(Registry::default()),
        };
        registry.register("height", "Latest committed block height", m.height.clone());
        registry.register(
            "mempool_size",
            "Transactions waiting in the mempool",
            m.mempool_size.clone(),
        );
        registry.register(
            "txs_admitted",
            "Transactions admitted into the mempool",
            m.txs_admitted.clone(),
        );
        registry.register(
            "txs_rejected",
            "Transactions rejected at admission, by reason",
            m.txs_rejected.clone(),
        );
        registry.register(
            "blocks_committed",
            "Blocks committed",
            m.blocks_committed.clone(),
        );
        registry.register(
            "txs_committed",
            "Transactions committed",
            m.txs_committed.clone(),
        );
        registry.register(
            "block_commit_seconds",
            "Time to execute and commit one block",
            m.block_seconds.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ..m
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
