//! `weft-node`: the node service that ties Weft's parts together.
//!
//! - [`service::Node`] is the node: the executor (`weft-executor`), the mempool (`weft-mempool`),
//!   read-only queries, receipt waiters and block notifications behind one cloneable handle. Its
//!   block-production seam ([`Node::propose`], [`Node::stage`], [`Node::commit_staged`]) is all a
//!   producer needs. Start reading at [`Node::submit`].
//! - [`committee`] is a committee member: it drives `weft-consensus` with the network
//!   (`weft-p2p`), timers, the write-ahead log and the executor, and catches up from peers.
//!   [`producer`] produces blocks alone when there is no genesis file.
//! - [`tangle`] is a member's embedded Tangle and the anchoring of every committed state root.
//! - [`api`] is how the servers and the network see the node: `Node` implements
//!   `weft_api::NodeApi` (served by `weft-rpc`) and `weft_p2p::Host`.
//! - [`statesync`] restores the state at a certified height from peers for a member that starts
//!   with no data, instead of replaying the chain.
//! - [`storage`] is what the node keeps: pruning of old state versions and blocks, the data
//!   directory's size.
//! - [`genesis`] is the committee file, [`config`] the node's TOML config, [`metrics`] the
//!   Prometheus metrics and their HTTP endpoint.
//!
//! This crate knows nothing of JSON-RPC or the command line: `weft-rpc` serves it through
//! `weft-api`, and the `weft` binary (`weft-cli`) starts both.

pub mod api;
pub mod committee;
pub mod config;
pub mod genesis;
pub mod metrics;
pub mod producer;
pub mod service;
pub mod statesync;
pub mod storage;
pub mod tangle;

pub use config::NodeConfig;
pub use service::{Node, NodeError, now_ms};
pub use weft_executor::{ExecutedBlock, Executor, ExecutorError};
pub use weft_mempool::{AdmitError, Mempool, MempoolConfig};
