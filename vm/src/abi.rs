//! Host ABI v1 as a contract sees it: the import module, the name and signature of every host
//! function, and the block context a contract can read. Deploy validation checks imports against
//! this table; the host module implements it. This module depends on no other module of the crate.

use wasmparser::ValType;

/// The import module of host ABI v1.
pub const HOST_MODULE: &str = "weft";

/// A host function's name and wasm signature.
pub struct HostFunction {
    /// Import name.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types.
    pub results: &'static [ValType],
}

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

macro_rules! host_fns {
    ($($name:literal: ($($p:ident),*) -> ($($r:ident),*);)*) => {
        /// Every function of host ABI v1, with its signature. Deploy validation checks imports
        /// against this table.
        pub const HOST_FUNCTIONS: &[HostFunction] = &[
            $(HostFunction { name: $name, params: &[$($p),*], results: &[$($r),*] },)*
        ];
    };
}

host_fns! {
    "read_buffer": (I32) -> ();
    "input": () -> (I32);
    "set_return": (I32, I32) -> ();
    "abort": (I32, I32) -> ();
    "storage_get": (I32, I32) -> (I64);
    "storage_set": (I32, I32, I32, I32) -> ();
    "storage_remove": (I32, I32) -> ();
    "storage_next": (I32, I32, I32, I32, I32) -> (I64);
    "caller": (I32) -> ();
    "self_id": (I32) -> ();
    "block_height": () -> (I64);
    "block_time": () -> (I64);
    "gas_left": () -> (I64);
    "emit": (I32, I32, I32, I32) -> ();
    "call": (I32, I32, I32, I32, I32) -> (I64);
    "blake3": (I32, I32, I32) -> ();
    "ed25519_verify": (I32, I32, I32, I32) -> (I32);
}

/// Block context a contract can read. It comes from consensus, never from the wall clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block height.
    pub height: u64,
    /// Block time in milliseconds since the Unix epoch, as agreed by the committee.
    pub time_ms: u64,
}
