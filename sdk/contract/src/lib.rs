//! `weft-sdk`: write Weft smart contracts in Rust.
//!
//! A contract is a `cdylib` crate compiled to `wasm32-unknown-unknown`. Its methods are plain
//! functions marked [`init`], [`call`] or [`view`]; arguments and results travel as borsh. State
//! lives in storage, reached through typed handles: [`Item`] for one value, [`Map`] for many.
//!
//! # A counter, step by step
//!
//! Declare storage as constants. Each handle has its own namespace in the contract's storage:
//!
//! ```
//! use weft_sdk::prelude::*;
//!
//! const COUNT: Item<u64> = Item::new("count");
//! const LAST_BUMPER: Item<Address> = Item::new("last");
//! ```
//!
//! The init method runs once, at deploy, with the deployer as [`caller`]:
//!
//! ```
//! # use weft_sdk::prelude::*;
//! # const COUNT: Item<u64> = Item::new("count");
//! #[init]
//! fn init(start: u64) {
//!     COUNT.set(&start);
//! }
//! ```
//!
//! Call methods change state and emit events. Returning `Err` (or panicking) fails the call: its
//! writes and events are discarded, the error message goes into the receipt, and gas is still
//! charged. [`require!`] is the short way to check an argument:
//!
//! ```
//! # use weft_sdk::prelude::*;
//! # const COUNT: Item<u64> = Item::new("count");
//! #[call]
//! fn increment(by: u64) -> Result<u64> {
//!     require!(by > 0, "increment by at least 1, not {by}");
//!     let count = COUNT.get().unwrap_or(0).checked_add(by).ok_or("counter overflow")?;
//!     COUNT.set(&count);
//!     emit("incremented", &(caller(), count));
//!     Ok(count)
//! }
//! ```
//!
//! View methods are read-only (a write fails) and can be queried without a transaction:
//!
//! ```
//! # use weft_sdk::prelude::*;
//! # const COUNT: Item<u64> = Item::new("count");
//! #[view]
//! fn get() -> u64 {
//!     COUNT.get().unwrap_or(0)
//! }
//! ```
//!
//! A [`Map`] stores many values under ordered keys and iterates them in key order (integers are
//! stored big-endian, so they iterate numerically):
//!
//! ```
//! # use weft_sdk::prelude::*;
//! const OWNERS: Map<String, Address> = Map::new("owners");
//!
//! #[view]
//! fn names(limit: u32) -> Vec<String> {
//!     OWNERS.iter().take(limit as usize).map(|(name, _)| name).collect()
//! }
//! ```
//!
//! Contracts call each other with [`call_contract`]; a failing callee returns `Err` with its message
//! and its writes are undone, while running out of gas ends the whole transaction.
//!
//! # Building and testing
//!
//! Build with `cargo build --target wasm32-unknown-unknown --profile contract`; the macros embed
//! each method's ABI (names, argument and result types) in the `weft_abi` custom section, so nodes
//! and clients can accept JSON arguments. Test through `weft-testkit`, which builds the crate to
//! wasm and runs it in the real VM. The host functions panic outside the VM.
//!
//! On `wasm32` the SDK is the contract's global allocator: a bump heap that starts in the
//! module's initial memory (see `heap.rs`), so a call that allocates a little does not grow its
//! memory.

#![allow(
    unsafe_code,
    reason = "the host ABI is a set of extern functions; every call is wrapped safely here"
)]

mod env;
mod error;
mod heap;
pub mod identity;
mod storage;
mod sys;

pub use borsh::{self, BorshDeserialize, BorshSerialize};
pub use env::{
    abort, blake3, block_height, block_time_ms, call_contract, call_raw, caller, ed25519_verify,
    emit, gas_left, self_id,
};
pub use error::{ContractError, Result};
pub use storage::{Item, Map, MapIter, MapKey};
pub use weft_sdk_macros::{call, init, view};
pub use weft_types::{Address, ContractId};

/// Everything a contract usually needs, in one import.
pub mod prelude {
    pub use crate::{
        Address, BorshDeserialize, BorshSerialize, ContractError, ContractId, Item, Map, Result,
        blake3, block_height, block_time_ms, call, call_contract, caller, ed25519_verify, emit,
        init, require, self_id, view,
    };
}

/// Returns `Err(ContractError)` with a formatted message unless the condition holds.
#[macro_export]
macro_rules! require {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return ::core::result::Result::Err($crate::ContractError(::std::format!($($msg)+)).into());
        }
    };
}

#[doc(hidden)]
pub mod __private {
    //! Support for the entry-point macros. Not a stable API.
    use super::*;

    std::thread_local! {
        static METHOD: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
    }

    /// Runs a method: installs the panic hook, reads the input, runs `body`, sets the result.
    pub fn run(method: &'static str, body: impl FnOnce(&[u8]) -> Vec<u8>) {
        // The hook captures nothing, so boxing it does not allocate: a method that allocates
        // nothing never grows its memory.
        METHOD.set(method);
        std::panic::set_hook(Box::new(|info| {
            abort(&format!("method `{}` {info}", METHOD.get()))
        }));
        // SAFETY: no arguments; the host reports the input's length.
        let len = unsafe { sys::input() } as usize;
        let input = sys::take_buffer(len);
        let out = body(&input);
        if !out.is_empty() {
            // SAFETY: pointer and length describe `out`.
            unsafe { sys::set_return(out.as_ptr(), out.len() as u32) }
        }
    }

    /// Decodes the borsh tuple of a method's arguments, or aborts saying what was expected.
    pub fn decode_args<T: BorshDeserialize>(method: &str, input: &[u8]) -> T {
        borsh::from_slice(input).unwrap_or_else(|e| {
            abort(&format!(
                "method `{method}`: arguments must be the borsh encoding of a tuple of {}: {e}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Result of a method returning `()`.
    pub fn finish_unit(_: ()) -> Vec<u8> {
        Vec::new()
    }

    /// Result of a method returning a value.
    pub fn finish_value<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
        borsh::to_vec(value).unwrap_or_else(|e| abort(&format!("cannot encode the result: {e}")))
    }

    /// Result of a method returning `Result`: `Err` aborts with the error's message.
    pub fn finish_result<T: BorshSerialize, E: std::fmt::Display>(
        result: std::result::Result<T, E>,
    ) -> Vec<u8> {
        match result {
            Ok(value) => finish_value(&value),
            Err(e) => abort(&e.to_string()),
        }
    }
}
