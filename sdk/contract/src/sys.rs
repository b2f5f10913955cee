//! Raw host ABI v1 imports. Inside the Weft VM these are the `weft` module's functions; on other
//! targets they panic, so a contract crate still compiles natively (for `cargo check`, docs and
//! its own unit tests of pure logic) but must be run through `weft-testkit`.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "weft")]
unsafe extern "C" {
    pub fn read_buffer(ptr: *mut u8);
    pub fn input() -> u32;
    pub fn set_return(ptr: *const u8, len: u32);
    pub fn abort(ptr: *const u8, len: u32) -> !;
    pub fn storage_get(key: *const u8, key_len: u32) -> i64;
    pub fn storage_set(key: *const u8, key_len: u32, value: *const u8, value_len: u32);
    pub fn storage_remove(key: *const u8, key_len: u32);
    pub fn storage_next(
        prefix: *const u8,
        prefix_len: u32,
        after: *const u8,
        after_len: u32,
        has_after: u32,
    ) -> i64;
    pub fn caller(out: *mut u8);
    pub fn self_id(out: *mut u8);
    pub fn block_height() -> u64;
    pub fn block_time() -> u64;
    pub fn gas_left() -> u64;
    pub fn emit(topic: *const u8, topic_len: u32, data: *const u8, data_len: u32);
    pub fn call(
        contract: *const u8,
        method: *const u8,
        method_len: u32,
        args: *const u8,
        args_len: u32,
    ) -> i64;
    pub fn blake3(data: *const u8, len: u32, out: *mut u8);
    pub fn ed25519_verify(
        public_key: *const u8,
        signature: *const u8,
        msg: *const u8,
        msg_len: u32,
    ) -> u32;
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    #![allow(clippy::missing_safety_doc, missing_docs)]
    fn outside() -> ! {
        panic!(
            "weft-sdk host functions exist only inside the Weft VM; run contracts through weft-testkit"
        )
    }
    pub unsafe fn read_buffer(_: *mut u8) {
        outside()
    }
    pub unsafe fn input() -> u32 {
        outside()
    }
    pub unsafe fn set_return(_: *const u8, _: u32) {
        outside()
    }
    pub unsafe fn abort(_: *const u8, _: u32) -> ! {
        outside()
    }
    pub unsafe fn storage_get(_: *const u8, _: u32) -> i64 {
        outside()
    }
    pub unsafe fn storage_set(_: *const u8, _: u32, _: *const u8, _: u32) {
        outside()
    }
    pub unsafe fn storage_remove(_: *const u8, _: u32) {
        outside()
    }
    pub unsafe fn storage_next(_: *const u8, _: u32, _: *const u8, _: u32, _: u32) -> i64 {
        outside()
    }
    pub unsafe fn caller(_: *mut u8) {
        outside()
    }
    pub unsafe fn self_id(_: *mut u8) {
        outside()
    }
    pub unsafe fn block_height() -> u64 {
        outside()
    }
    pub unsafe fn block_time() -> u64 {
        outside()
    }
    pub unsafe fn gas_left() -> u64 {
        outside()
    }
    pub unsafe fn emit(_: *const u8, _: u32, _: *const u8, _: u32) {
        outside()
    }
    pub unsafe fn call(_: *const u8, _: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        outside()
    }
    pub unsafe fn blake3(_: *const u8, _: u32, _: *mut u8) {
        outside()
    }
    pub unsafe fn ed25519_verify(_: *const u8, _: *const u8, _: *const u8, _: u32) -> u32 {
        outside()
    }
}
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

/// Copies the host buffer (of `len` bytes, as just reported by the host) into a new vector.
pub(crate) fn take_buffer(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    // SAFETY: `out` has room for the `len` bytes the host reported for its buffer.
    unsafe { read_buffer(out.as_mut_ptr()) };
    out
}
