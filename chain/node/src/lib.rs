//! `weft-node`: the Weft node.
//!
//! - [`executor`] runs a block of signed transactions and commits receipts and the new
//!   authenticated state root atomically with the block; [`keys`] is the state layout; [`view`]
//!   lets the VM read state.
//! - [`mempool`] admits transactions with precise errors and hands ready ones to block building.
//! - [`service::Node`] ties them together behind one handle: submission, queries, notifications,
//!   and the block-production seam ([`service::Node::propose`] / [`service::Node::commit`]) that
//!   [`producer`] (one node) drives today and the committee's consensus drives next.
//! - [`rpc`] serves JSON-RPC 2.0 over HTTP and WebSocket; [`metrics`] serves Prometheus text;
//!   [`config`] reads the TOML config. The `weft` binary (`src/main.rs`) is the CLI.

pub mod committee;
pub mod config;
pub mod executor;
pub mod genesis;
pub mod keys;
pub mod mempool;
pub mod metrics;
pub mod net;
pub mod producer;
pub mod rpc;
pub mod rpc_tangle;
pub mod service;
pub mod tangle;
pub mod view;

pub use config::NodeConfig;
pub use executor::{ExecutedBlock, Executor, ExecutorError};
pub use mempool::{AdmitError, Mempool, MempoolConfig};
pub use service::Node;
