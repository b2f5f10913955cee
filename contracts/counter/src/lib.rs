//! A counter: the smallest useful Weft contract, and the one the VM tests and benchmarks use.
//!
//! It also shows cross-contract calls (`increment_other`, `try_increment_other`), errors and
//! panics becoming contract errors, and a method that recurses through the host to exercise the
//! call-depth limit.

use weft_sdk::prelude::*;

const COUNT: Item<u64> = Item::new("count");

/// Starts the counter at `start`.
#[init]
pub fn init(start: u64) {
    COUNT.set(&start);
}

/// Adds `by` (at least 1) and returns the new value; emits `incremented` with the caller and value.
#[call]
pub fn increment(by: u64) -> Result<u64> {
    require!(by > 0, "increment by at least 1, not {by}");
    let count = COUNT
        .get()
        .unwrap_or(0)
        .checked_add(by)
        .ok_or("counter overflow")?;
    COUNT.set(&count);
    emit("incremented", &(caller(), count));
    Ok(count)
}

/// The current value.
#[view]
pub fn get() -> u64 {
    COUNT.get().unwrap_or(0)
}

/// Does nothing; the benchmark of a bare call.
#[view]
pub fn noop() {}

/// Writes a value and then panics, to show that a panic becomes an error with its message and that
/// the write is undone.
#[call]
pub fn set_then_panic(value: u64) {
    COUNT.set(&value);
    panic!("deliberate panic after writing {value}");
}

/// Tries to write from a view (which must fail).
#[view]
pub fn sneaky_write() {
    COUNT.set(&666);
}

/// Increments another counter through a cross-contract call and returns its new value.
#[call]
pub fn increment_other(other: ContractId, by: u64) -> Result<u64> {
    weft_sdk::call_contract(&other, "increment", &(by,))
}

/// Increments this counter by 1, then tries to increment `other` by `by`; if that fails, records
/// nothing of the callee's work and returns the callee's error message instead of failing.
#[call]
pub fn try_increment_other(other: ContractId, by: u64) -> Result<String> {
    increment(1)?;
    Ok(
        match weft_sdk::call_contract::<_, u64>(&other, "increment", &(by,)) {
            Ok(value) => format!("ok {value}"),
            Err(e) => format!("callee failed: {e}"),
        },
    )
}

/// Calls itself `depth` more times through the host, incrementing once per level.
#[call]
pub fn recurse(depth: u32) -> Result<u32> {
    increment(1)?;
    if depth == 0 {
        return Ok(0);
    }
    let below: u32 = weft_sdk::call_contract(&self_id(), "recurse", &(depth - 1,))?;
    Ok(below + 1)
}

/// The block height and time the contract sees.
#[view]
pub fn clock() -> (u64, u64) {
    (block_height(), block_time_ms())
}

/// Computes with floats so that NaN results show whether they are canonical: returns the bits of
/// `0/0` computed at run time and of `sqrt(-x)`.
#[view]
#[allow(clippy::eq_op, reason = "computes NaN at run time on purpose")]
pub fn nan_bits(x: f64) -> (u64, u32) {
    let zero = x - x;
    let a = zero / zero;
    let b = (-(x as f32).abs() - 1.0).sqrt();
    (a.to_bits(), b.to_bits())
}
