//! `weft-vm`: the deterministic WebAssembly sandbox that runs Weft contracts, on wasmtime.
//!
//! A [`Vm`] validates code at deploy ([`validate`](crate::validate::validate): imports only from
//! the `weft` host module, one memory, structural caps from [`VmLimits`]), compiles it with a
//! deterministic configuration (NaN canonicalization, no threads/SIMD/memory64, fuel metering with
//! the instruction costs of the [`GasSchedule`]), caches compiled modules by code hash in memory and
//! on disk, and runs deploys, calls and queries. Contracts reach state only through the read-only
//! [`StateView`] trait and host ABI v1 ([`host`]); a successful call returns its [`WriteSet`] and
//! events, a failed one returns an [`ExecError`] and nothing else, and both report gas.
//!
//! The VM knows nothing of blocks, consensus, RocksDB or the network. Start with [`Vm::deploy`] and
//! [`Vm::call`]; [`testing::MemState`] is an in-memory state for tests.

mod abi;
mod cache;
pub mod error;
pub mod gas;
pub mod host;
pub mod limits;
pub mod runtime;
pub mod state;
pub mod testing;
pub mod validate;

pub use error::{ExecError, Result, StateError, ValidationError, VmError};
pub use gas::GasSchedule;
pub use limits::VmLimits;
pub use runtime::{BlockEnv, CacheStats, Call, Deploy, Outcome, Success, Vm, VmConfig};
pub use state::{StateView, WriteSet};
