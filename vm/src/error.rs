//! Errors. [`ExecError`] is a contract's failure (the user's business: it goes into the receipt,
//! and gas is still charged); [`VmError`] is a failure of the host itself (storage backend, an
//! engine fault) that must stop block execution rather than produce a receipt.

use weft_types::{AbiError, ContractId};

/// Why a contract did not complete. Every message says what went wrong and, where it helps, what
/// the limit or the alternative is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The gas limit was used up.
    #[error("out of gas: the gas limit of {limit} was used up")]
    OutOfGas {
        /// The gas limit of the transaction or query.
        limit: u64,
    },
    /// `memory.grow` past the per-contract memory limit.
    #[error(
        "memory limit exceeded: the contract tried to grow its memory to {requested} bytes; the limit is {limit} bytes"
    )]
    MemoryLimit {
        /// Bytes the contract asked for.
        requested: u64,
        /// The per-contract limit.
        limit: u64,
    },
    /// `table.grow` past the table limit.
    #[error(
        "table limit exceeded: the contract tried to grow its table to {requested} elements; the limit is {limit}"
    )]
    TableLimit {
        /// Elements asked for.
        requested: u64,
        /// The limit.
        limit: u64,
    },
    /// The wasm stack overflowed (for example unbounded recursion).
    #[error("stack overflow: the contract's call stack exceeded the limit of {limit_bytes} bytes")]
    StackOverflow {
        /// The wasm stack limit.
        limit_bytes: u64,
    },
    /// Cross-contract calls nested deeper than allowed.
    #[error("cross-contract call depth limit of {limit} exceeded")]
    CallDepth {
        /// The depth limit.
        limit: u32,
    },
    /// The contract aborted with a message (a panic, or an explicit abort or error return).
    #[error("contract aborted: {message}")]
    Aborted {
        /// The contract's message.
        message: String,
    },
    /// The contract trapped (unreachable, division by zero, out-of-bounds access, …).
    #[error("contract trapped: {message}")]
    Trap {
        /// The trap as wasmtime describes it.
        message: String,
    },
    /// The code was rejected at deploy.
    #[error("contract rejected: {0}")]
    Rejected(#[from] ValidationError),
    /// No contract at that id.
    #[error("no contract is deployed at {0}")]
    UnknownContract(ContractId),
    /// The contract has no such method.
    #[error("contract {contract} has no method `{method}`; its methods are: {available}")]
    UnknownMethod {
        /// The contract called.
        contract: ContractId,
        /// The method asked for.
        method: String,
        /// The methods it has.
        available: String,
    },
    /// The method exists but cannot be invoked this way.
    #[error("method `{method}` is {kind} method; {reason}")]
    WrongKind {
        /// The method.
        method: String,
        /// "an init", "a call" or "a view".
        kind: &'static str,
        /// Why it cannot be invoked here.
        reason: &'static str,
    },
    /// A view (or a call made from a view) tried to write.
    #[error(
        "method `{method}` runs read-only (it is a view, or was reached from one) and tried to {action}"
    )]
    ReadOnly {
        /// The method that tried to write.
        method: String,
        /// What it tried to do.
        action: &'static str,
    },
    /// Bad arguments to a host function (a pointer out of bounds, a key too long, …).
    #[error("invalid call to host function `weft::{function}`: {reason}")]
    HostArgument {
        /// The host function.
        function: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Init arguments were given for a contract without an init method.
    #[error(
        "{0} bytes of init arguments were given, but the contract has no init method; deploy it without arguments"
    )]
    NoInit(usize),
}

/// Why a module was rejected at deploy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The code is larger than allowed.
    #[error("code is {size} bytes; the limit is {limit} bytes")]
    CodeTooLarge {
        /// Code size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid WebAssembly, or uses a disabled proposal.
    #[error("invalid WebAssembly: {0}")]
    Invalid(String),
    /// An import from anywhere but the `weft` host module, or of a non-function.
    #[error("import `{module}::{name}` is not allowed: {reason}")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A limit on the module's structure was exceeded.
    #[error("{what} is {actual}; the limit is {limit}")]
    Limit {
        /// What was counted, e.g. "the number of functions".
        what: String,
        /// How many there were.
        actual: u64,
        /// The limit.
        limit: u64,
    },
    /// The module does not have exactly one memory.
    #[error("a contract must define exactly one memory and export it as `memory`; this one {0}")]
    Memory(String),
    /// A start function is present.
    #[error("start functions are not allowed; do one-time set-up in an init method")]
    StartFunction,
    /// The ABI section is missing or inconsistent with the exports.
    #[error("ABI: {0}")]
    Abi(String),
}

impl From<AbiError> for ValidationError {
    fn from(e: AbiError) -> Self {
        ValidationError::Abi(e.to_string())
    }
}

/// A failure of the host, not of the contract: block execution must stop rather than record a
/// receipt, because another node might not see the same failure.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The state backend failed.
    #[error("state backend failed: {0}")]
    State(#[from] StateError),
    /// A contract whose code was accepted at deploy no longer compiles, or the engine failed.
    #[error("engine failure: {0}")]
    Engine(String),
    /// The VM configuration is inconsistent.
    #[error("invalid VM configuration: {0}")]
    Config(String),
}

/// An error reported by a [`crate::StateView`] implementation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

/// Result alias for host-level failures.
pub type Result<T, E = VmError> = std::result::Result<T, E>;
