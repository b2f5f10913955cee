//! `weft-executor`: executing blocks on state through the VM.
//!
//! - [`Executor`] runs a block of signed transactions in order (signature, chain id and nonce
//!   first; a wrong one makes the whole block invalid), applies each transaction's writes, and
//!   [`Executor::stage`]s the result without writing; [`Executor::write`] commits the staged tree
//!   update, the block, its receipts, the transaction index and (in a committee) the commit
//!   certificate in one synced RocksDB batch.
//! - [`keys`] is the layout of the authenticated state (one namespace byte, then fixed-size ids).
//! - [`view`] is the VM's view of state: the latest committed values ([`view::BlockView`]), a past
//!   height ([`view::HistoricalView`]), and the writes of a block's earlier transactions.
//!
//! Start reading at [`Executor::stage`]. This crate knows nothing of the mempool, the network,
//! consensus, RPC or the clock: heights, times and proposers come from its caller.

pub mod executor;
pub mod keys;
pub mod view;

pub use executor::{
    COLUMN_FAMILIES, ExecutedBlock, Executor, ExecutorError, GenesisContract, Governance,
    StagedBlock, TX_ROOT_DOMAIN, Verified,
};
