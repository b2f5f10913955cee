//! The contract's environment: safe wrappers of the host functions, from [`abort`] and
//! [`caller`] to events, hashing, signature checks and calls to other contracts.

use crate::error::{ContractError, Result};
use crate::sys;
use borsh::{BorshDeserialize, BorshSerialize};
use weft_types::{Address, ContractId};

/// Ends the call with an error message; its writes and events are discarded.
pub fn abort(message: &str) -> ! {
    // SAFETY: the pointer and length describe `message`.
    unsafe { sys::abort(message.as_ptr(), message.len() as u32) }
}

/// Who called this method: the transaction's sender, or the calling contract.
pub fn caller() -> Address {
    let mut out = [0u8; 32];
    // SAFETY: the host writes exactly 32 bytes.
    unsafe { sys::caller(out.as_mut_ptr()) };
    Address(out)
}

/// This contract's id.
pub fn self_id() -> ContractId {
    let mut out = [0u8; 32];
    // SAFETY: the host writes exactly 32 bytes.
    unsafe { sys::self_id(out.as_mut_ptr()) };
    ContractId(out)
}

/// The height of the block being executed.
pub fn block_height() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::block_height() }
}

/// The block's time in milliseconds since the Unix epoch, as agreed by the committee.
pub fn block_time_ms() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::block_time() }
}

/// Gas left for this transaction.
pub fn gas_left() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::gas_left() }
}

/// Emits an event with a topic (for filtering) and borsh-encoded data.
pub fn emit<T: BorshSerialize + ?Sized>(topic: &str, data: &T) {
    let data =
        borsh::to_vec(data).unwrap_or_else(|e| abort(&format!("cannot encode event data: {e}")));
    // SAFETY: pointers and lengths describe `topic` and `data`.
    unsafe {
        sys::emit(
            topic.as_ptr(),
            topic.len() as u32,
            data.as_ptr(),
            data.len() as u32,
        )
    }
}

/// The blake3 hash of `data`.
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is readable for its length; `out` has 32 bytes.
    unsafe { sys::blake3(data.as_ptr(), data.len() as u32, out.as_mut_ptr()) };
    out
}

/// Whether `signature` is a valid ed25519 signature of `message` by `public_key`, under the
/// rule every Weft signature check follows (`weft_types::verify_hash`): ZIP-215 (the cofactored
/// equation; any encoding of the key and of `R` that decompresses; `s` canonical), and never
/// for a key of small order (`weft_types::tx::SMALL_ORDER_KEYS`), under which any signature
/// would verify.
pub fn ed25519_verify(public_key: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
    // SAFETY: each pointer is readable for the length passed or implied (32, 64).
    unsafe {
        sys::ed25519_verify(
            public_key.as_ptr(),
            signature.as_ptr(),
            message.as_ptr(),
            message.len() as u32,
        ) == 1
    }
}

/// Calls `method` of another contract with borsh-encoded `args`, returning its decoded result, or
/// the callee's error message (its writes and events are then undone).
pub fn call_contract<A, R>(contract: &ContractId, method: &str, args: &A) -> Result<R>
where
    A: BorshSerialize + ?Sized,
    R: BorshDeserialize,
{
    let args =
        borsh::to_vec(args).map_err(|e| ContractError(format!("cannot encode arguments: {e}")))?;
    let bytes = call_raw(contract, method, &args)?;
    borsh::from_slice(&bytes).map_err(|e| {
        ContractError(format!(
            "cannot decode the result of `{method}` of {contract}: {e}"
        ))
    })
}

/// Like [`call_contract`] with raw bytes in and out.
pub fn call_raw(contract: &ContractId, method: &str, args: &[u8]) -> Result<Vec<u8>> {
    // SAFETY: every pointer is readable for the length passed (32 for the id).
    let status = unsafe {
        sys::call(
            contract.0.as_ptr(),
            method.as_ptr(),
            method.len() as u32,
            args.as_ptr(),
            args.len() as u32,
        )
    };
    // The host leaves the return data (status >= 0, its length) or the callee's error message
    // (status < 0, its length is -status - 1) in its buffer.
    if status >= 0 {
        Ok(sys::take_buffer(status as usize))
    } else {
        let message = sys::take_buffer((-status - 1) as usize);
        Err(ContractError(
            String::from_utf8_lossy(&message).into_owned(),
        ))
    }
}
