//! Prometheus metrics (prometheus-client), served as text at `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
/// Why a transaction or a message was rejected, as a label (shared with the network's metrics).
pub use weft_p2p::Reason;

/// Labels of the votes-received counter: the round (`0`, `1`, `2+`) and the kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VoteLabels {
    /// `0`, `1` or `2+`.
    pub round: &'static str,
    /// `prevote` or `precommit`.
    pub kind: &'static str,
}

impl VoteLabels {
    /// The labels of a vote of `round` and `kind`.
    pub fn new(round: i64, kind: arc_malachitebft_core_types::VoteType) -> Self {
        Self {
            round: match round {
                ..=0 => "0",
                1 => "1",
                _ => "2+",
            },
            kind: match kind {
                arc_malachitebft_core_types::VoteType::Prevote => "prevote",
                arc_malachitebft_core_types::VoteType::Precommit => "precommit",
            },
        }
    }
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
    /// The consensus round in progress (committee members).
    pub round: Gauge,
    /// 1 while the committee member waits idle (no transaction, no heartbeat due), else 0.
    pub idle: Gauge,
    /// Valid consensus votes received.
    pub votes_received: Counter,
    /// Valid consensus votes received, by round and kind.
    pub votes_by_round: Family<VoteLabels, Counter>,
    /// Votes received per height.
    pub votes_per_height: Histogram,
    /// Rounds a height took (1 when decided in round 0).
    pub rounds_per_height: Histogram,
    /// Heights that took more than a second longer than their block interval.
    pub stalls: Counter,
    /// Proposals received or made.
    pub proposals: Counter,
    /// Time from the start of a height to its proposed block being ready (built or checked).
    pub proposal_seconds: Histogram,
    /// Time from the start of a height to its decision.
    pub decide_seconds: Histogram,
    /// Connected peers.
    pub peers: Gauge,
    /// Network messages rejected (undecodable, badly signed, from non-members), by kind.
    pub rejected_messages: Family<Reason, Counter>,
    /// Direct-link traffic (sent, queued, dropped, repaired), by peer and class.
    direct: weft_p2p::NetMetrics,
    /// Blocks fetched from peers and committed by catch-up.
    pub synced_blocks: Counter,
    /// Times the double-signing guard refused to sign.
    pub double_sign_refusals: Counter,
    /// Tangle blocks stored (gossiped, fetched or issued here).
    pub tangle_blocks: Counter,
    /// The oldest state version still readable.
    pub state_oldest: Gauge,
    /// State tree nodes and superseded values deleted by pruning.
    pub pruned_state_entries: Counter,
    /// Blocks (with receipts and certificates) deleted by pruning.
    pub pruned_blocks: Counter,
    /// Confirmed Tangle blocks forgotten by pruning.
    pub pruned_tangle_blocks: Counter,
    /// Bytes under the data directory, measured at each pruning pass.
    pub data_dir_bytes: Gauge,
    /// Tangle blocks confirmed.
    pub tangle_confirmed: Counter,
    /// Tangle tips.
    pub tangle_tips: Gauge,
    /// This chain's latest applied anchor index.
    pub anchor_index: Gauge,
    /// Time from committing a block here to its anchor's confirmation on the Tangle.
    pub anchor_confirm_seconds: Histogram,
    /// Equivocations detected on the Tangle.
    pub equivocations: Counter,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The counters the network updates (the same series as `peers` and `rejected_messages`).
    pub fn net(&self) -> weft_p2p::NetMetrics {
        weft_p2p::NetMetrics {
            peers: self.peers.clone(),
            rejected_messages: self.rejected_messages.clone(),
            ..self.direct.clone()
        }
    }

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
            round: Gauge::default(),
            idle: Gauge::default(),
            votes_received: Counter::default(),
            votes_by_round: Family::default(),
            votes_per_height: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            rounds_per_height: Histogram::new([1.0, 2.0, 3.0, 4.0, 6.0, 10.0]),
            stalls: Counter::default(),
            proposals: Counter::default(),
            proposal_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            decide_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            peers: Gauge::default(),
            rejected_messages: Family::default(),
            direct: weft_p2p::NetMetrics::default(),
            synced_blocks: Counter::default(),
            double_sign_refusals: Counter::default(),
            tangle_blocks: Counter::default(),
            state_oldest: Gauge::default(),
            pruned_state_entries: Counter::default(),
            pruned_blocks: Counter::default(),
            pruned_tangle_blocks: Counter::default(),
            data_dir_bytes: Gauge::default(),
            tangle_confirmed: Counter::default(),
            tangle_tips: Gauge::default(),
            anchor_index: Gauge::default(),
            anchor_confirm_seconds: Histogram::new(exponential_buckets(0.01, 1.5, 16)),
            equivocations: Counter::default(),
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
        registry.register(
            "consensus_round",
            "Consensus round in progress",
            m.round.clone(),
        );
        registry.register(
            "consensus_idle",
            "1 while the member waits idle: no transaction to commit and no heartbeat due",
            m.idle.clone(),
        );
        registry.register(
            "consensus_votes_received",
            "Valid consensus votes received",
            m.votes_received.clone(),
        );
        registry.register(
            "consensus_votes_by_round",
            "Valid consensus votes received, by round (0, 1, 2+) and kind",
            m.votes_by_round.clone(),
        );
        registry.register(
            "consensus_votes_per_height",
            "Valid consensus votes received in one height",
            m.votes_per_height.clone(),
        );
        registry.register(
            "consensus_rounds_per_height",
            "Rounds one height took (1: decided in its first round)",
            m.rounds_per_height.clone(),
        );
        registry.register(
            "consensus_stalls",
            "Heights that took more than 1 s longer than their block interval",
            m.stalls.clone(),
        );
        registry.register(
            "consensus_proposals",
            "Proposals received or made",
            m.proposals.clone(),
        );
        registry.register(
            "consensus_proposal_seconds",
            "Time from the start of a height to its proposed block being ready",
            m.proposal_seconds.clone(),
        );
        registry.register(
            "consensus_decide_seconds",
            "Time from the start of a height to its decision",
            m.decide_seconds.clone(),
        );
        registry.register("p2p_peers", "Connected peers", m.peers.clone());
        registry.register(
            "p2p_rejected_messages",
            "Network messages rejected, by kind",
            m.rejected_messages.clone(),
        );
        registry.register(
            "p2p_direct_sent",
            "Direct-link messages written to a peer, by peer and class",
            m.direct.direct_sent.clone(),
        );
        registry.register(
            "p2p_direct_queued",
            "Direct-link messages waiting for a peer, by peer and class",
            m.direct.direct_queued.clone(),
        );
        registry.register(
            "p2p_direct_dropped",
            "Direct-link messages dropped, by peer, class and reason",
            m.direct.direct_dropped.clone(),
        );
        registry.register(
            "p2p_repaired",
            "Messages re-sent to a peer whose status showed it lacked them, by peer and class",
            m.direct.repaired.clone(),
        );
        registry.register(
            "sync_blocks",
            "Blocks fetched from peers and committed by catch-up",
            m.synced_blocks.clone(),
        );
        registry.register(
            "double_sign_refusals",
            "Times the double-signing guard refused to sign",
            m.double_sign_refusals.clone(),
        );
        registry.register(
            "state_oldest_version",
            "The oldest state version still readable (storage.state_history)",
            m.state_oldest.clone(),
        );
        registry.register(
            "pruned_state_entries",
            "State tree nodes and superseded values deleted by pruning",
            m.pruned_state_entries.clone(),
        );
        registry.register(
            "pruned_blocks",
            "Blocks deleted by pruning (storage.keep_blocks)",
            m.pruned_blocks.clone(),
        );
        registry.register(
            "pruned_tangle_blocks",
            "Confirmed Tangle blocks forgotten by pruning (tangle.prune_after_s)",
            m.pruned_tangle_blocks.clone(),
        );
        registry.register(
            "data_dir_bytes",
            "Bytes under the data directory, measured at each pruning pass",
            m.data_dir_bytes.clone(),
        );
        registry.register(
            "tangle_blocks",
            "Tangle blocks stored",
            m.tangle_blocks.clone(),
        );
        registry.register(
            "tangle_confirmed",
            "Tangle blocks confirmed",
            m.tangle_confirmed.clone(),
        );
        registry.register("tangle_tips", "Tangle tips", m.tangle_tips.clone());
        registry.register(
            "anchor_index",
            "Latest applied anchor index of this chain",
            m.anchor_index.clone(),
        );
        registry.register(
            "anchor_confirm_seconds",
            "Time from committing a block to its anchor's confirmation on the Tangle",
            m.anchor_confirm_seconds.clone(),
        );
        registry.register(
            "tangle_equivocations",
            "Equivocations detected on the Tangle",
            m.equivocations.clone(),
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

/// Serves `metrics` as Prometheus text at `/metrics` on `listener`, until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Metrics) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        if req.uri().path() == "/metrics" {
                            Response::builder()
                                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                                .body(Full::new(Bytes::from(metrics.render())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from(
                                    "not found; metrics are at /metrics\n",
                                )))
                        }
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}
