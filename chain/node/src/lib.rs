//! `weft-node`: the Weft node.
//!
//! Today it holds the [`executor`]: a block of signed transactions in, receipts and a new
//! authenticated state root out, committed atomically with the block. The mempool, JSON-RPC,
//! networking and the `weft` binary are built on it next.
//!
//! [`keys`] defines where everything lives in the authenticated state; [`view`] lets the VM read
//! that state, including the writes of earlier transactions of the block being executed.

pub mod executor;
pub mod keys;
pub mod mempool;
pub mod view;

pub use executor::{ExecutedBlock, Executor, ExecutorError};
pub use mempool::{AdmitError, Mempool, MempoolConfig};
