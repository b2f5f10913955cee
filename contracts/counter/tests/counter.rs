//! The counter contract, tested as its author would: built to wasm and run through the testkit.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use weft_testkit::{Address, Chain, ContractId, ExecError, build_contract};

fn setup() -> (Chain, Address, ContractId) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    let mut chain = Chain::new();
    let alice = chain.account("alice");
    let counter = chain.deploy(alice, &wasm, &(5u64,)).contract();
    (chain, alice, counter)
}

#[test]
fn increments_emits_and_charges_gas() {
    let (mut chain, alice, counter) = setup();
    let receipt = chain.call(alice, counter, "increment", &(2u64,));
    assert_eq!(receipt.value::<u64>(), 7);
    assert_eq!(
        receipt.events_of::<(Address, u64)>("incremented"),
        vec![(alice, 7)]
    );
    assert!(
        receipt.gas_used > 5_000,
        "a storage write costs at least 5000 gas: {}",
        receipt.gas_used
    );
    assert_eq!(chain.view::<u64>(counter, "get", &()).unwrap(), 7);
}

#[test]
fn an_error_return_reverts_its_writes_and_still_charges_gas() {
    let (mut chain, alice, counter) = setup();
    let receipt = chain.call(alice, counter, "increment", &(0u64,));
    assert_eq!(
        receipt.error_message(),
        "contract aborted: increment by at least 1, not 0"
    );
    assert!(receipt.gas_used > 0);
    assert!(receipt.events.is_empty());
    assert_eq!(chain.view::<u64>(counter, "get", &()).unwrap(), 5);
}

#[test]
fn a_panic_becomes_an_error_with_its_message_and_reverts() {
    let (mut chain, alice, counter) = setup();
    let receipt = chain.call(alice, counter, "set_then_panic", &(99u64,));
    let message = receipt.error_message();
    assert!(
        message.starts_with("contract aborted: method `set_then_panic` panicked at"),
        "{message}"
    );
    assert!(
        message.contains("deliberate panic after writing 99"),
        "{message}"
    );
    assert_eq!(
        chain.view::<u64>(counter, "get", &()).unwrap(),
        5,
        "the write before the panic is undone"
    );
}

#[test]
fn views_cannot_write() {
    let (mut chain, alice, counter) = setup();
    let receipt = chain.call(alice, counter, "sneaky_write", &());
    assert!(
        matches!(receipt.error(), Some(ExecError::ReadOnly { .. })),
        "{receipt:?}"
    );
    assert_eq!(
        receipt.error_message(),
        "method `sneaky_write` runs read-only (it is a view, or was reached from one) and tried to write storage"
    );
}

#[test]
fn wrong_method_kind_and_unknown_method_are_explained() {
    let (mut chain, alice, counter) = setup();
    let err = chain
        .view::<u64>(counter, "increment", &(1u64,))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "method `increment` is a call method; queries run only view methods; send a transaction to run it"
    );
    let receipt = chain.call(alice, counter, "init", &(1u64,));
    assert_eq!(
        receipt.error_message(),
        "method `init` is an init method; it runs only at deploy"
    );
    let receipt = chain.call(alice, counter, "decrement", &(1u64,));
    assert!(
        receipt
            .error_message()
            .contains("has no method `decrement`; its methods are: clock, get, increment")
    );
}

#[test]
fn bad_arguments_say_what_was_expected() {
    let (mut chain, alice, counter) = setup();
    let receipt = chain.call(alice, counter, "increment", &"not a number");
    let message = receipt.error_message();
    assert!(
        message.contains(
            "method `increment`: arguments must be the borsh encoding of a tuple of (u64,)"
        ),
        "{message}"
    );
}

#[test]
fn out_of_gas_is_reported_and_charges_the_whole_limit() {
    let (mut chain, alice, counter) = setup();
    chain.set_gas_limit(3_000);
    let receipt = chain.call(alice, counter, "increment", &(1u64,));
    assert_eq!(receipt.error(), Some(&ExecError::OutOfGas { limit: 3_000 }));
    assert_eq!(receipt.gas_used, 3_000);
    chain.set_gas_limit(weft_testkit::DEFAULT_GAS_LIMIT);
    assert_eq!(chain.view::<u64>(counter, "get", &()).unwrap(), 5);
}

#[test]
fn cross_contract_calls_succeed_and_failed_callees_revert_only_themselves() {
    let (mut chain, alice, first) = setup();
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    let second = chain.deploy(alice, &wasm, &(100u64,)).contract();

    let receipt = chain.call(alice, first, "increment_other", &(second, 3u64));
    assert_eq!(receipt.value::<u64>(), 103);
    // The callee sees the calling contract as its caller.
    assert_eq!(
        receipt.events_of::<(Address, u64)>("incremented"),
        vec![(Address::from(first), 103)]
    );

    // The callee fails (increment by 0); the caller handles it and its own write stays.
    let receipt = chain.call(alice, first, "try_increment_other", &(second, 0u64));
    assert_eq!(
        receipt.value::<String>(),
        "callee failed: contract aborted: increment by at least 1, not 0"
    );
    assert_eq!(chain.view::<u64>(first, "get", &()).unwrap(), 6);
    assert_eq!(chain.view::<u64>(second, "get", &()).unwrap(), 103);

    // A caller that propagates the callee's error fails as a whole.
    let receipt = chain.call(alice, first, "increment_other", &(second, 0u64));
    assert_eq!(
        receipt.error_message(),
        "contract aborted: contract aborted: increment by at least 1, not 0"
    );
}

#[test]
fn nested_calls_past_the_depth_limit_fail_the_transaction() {
    let (mut chain, alice, counter) = setup();
    let limit = chain.vm().limits().max_call_depth;
    // Depth `limit - 1` below the top-level call fits exactly.
    let receipt = chain.call(alice, counter, "recurse", &(limit - 1,));
    assert_eq!(receipt.value::<u32>(), limit - 1);
    assert_eq!(
        chain.view::<u64>(counter, "get", &()).unwrap(),
        5 + u64::from(limit)
    );
    let receipt = chain.call(alice, counter, "recurse", &(limit,));
    assert_eq!(receipt.error(), Some(&ExecError::CallDepth { limit }));
    assert_eq!(
        chain.view::<u64>(counter, "get", &()).unwrap(),
        5 + u64::from(limit),
        "nothing of it stays"
    );
}

#[test]
fn block_height_and_time_come_from_the_chain() {
    let (mut chain, _, counter) = setup();
    let (height, time) = chain.view::<(u64, u64)>(counter, "clock", &()).unwrap();
    assert_eq!((height, time), (chain.height(), chain.time_ms()));
    chain.advance_blocks(10);
    chain.advance_time(std::time::Duration::from_secs(60));
    assert_eq!(
        chain.view::<(u64, u64)>(counter, "clock", &()).unwrap(),
        (height + 10, time + 70_000)
    );
}

#[test]
fn nan_results_are_canonical() {
    let (chain, _, counter) = setup();
    let (f64_bits, f32_bits) = chain
        .view::<(u64, u32)>(counter, "nan_bits", &(1.5f64,))
        .unwrap();
    // x86-64 produces the negative "default NaN" 0xfff8…; canonicalization makes it positive.
    assert_eq!(f64_bits, 0x7ff8_0000_0000_0000);
    assert_eq!(f32_bits, 0x7fc0_0000);
}

#[test]
fn the_abi_is_embedded_in_the_wasm() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    let chain = Chain::new();
    let abi = chain.vm().validate(&wasm).unwrap();
    let increment = abi.method("increment").unwrap();
    assert_eq!(increment.kind, weft_testkit::MethodKind::Call);
    assert_eq!(increment.args[0].name, "by");
    assert_eq!(increment.args[0].ty, "u64");
    assert_eq!(increment.returns.as_deref(), Some("u64"));
    assert_eq!(
        abi.method("increment_other").unwrap().args[0].ty,
        "ContractId"
    );
    assert_eq!(abi.method("noop").unwrap().returns, None);
    assert_eq!(abi.init().unwrap().name, "init");
}
