//! The counter contract, tested as its author would: built to wasm and run through the testkit.

use weft_testkit::{Chain, build_contract};

#[test]
fn smoke() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    eprintln!("counter.wasm is {} bytes", wasm.len());
    let mut chain = Chain::new();
    let alice = chain.account("alice");
    let counter = chain.deploy(alice, &wasm, &(5u64,)).contract();
    let receipt = chain.call(alice, counter, "increment", &(2u64,));
    assert_eq!(receipt.value::<u64>(), 7, "{receipt:?}");
    assert_eq!(chain.view::<u64>(counter, "get", &()).unwrap(), 7);
}
