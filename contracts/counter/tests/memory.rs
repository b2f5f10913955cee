//! The SDK's entry point must not allocate, and its heap starts inside the initial memory: calls
//! run in the contract's initial memory, so they cost no memory growth (and no syscall in the VM).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::sync::Arc;
use weft_testkit::{Address, ContractId, Vm, VmConfig, build_contract};
use weft_vm::testing::MemState;
use weft_vm::{BlockEnv, Call, Deploy};

#[test]
fn calls_run_in_the_initial_memory() {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    let sender = Address([1; 32]);
    let contract = ContractId::derive(&sender, 0);
    let mut state = MemState::default();
    let deploy = Deploy {
        sender,
        contract,
        code: wasm.into(),
        init_args: borsh::to_vec(&(1u64,)).unwrap(),
        gas_limit: 100_000_000,
    };
    let outcome = Vm::new(VmConfig::default())
        .unwrap()
        .deploy(Arc::new(state.clone()), BlockEnv::default(), deploy)
        .unwrap();
    state.apply(&outcome.result.unwrap().writes);

    // A VM whose memory limit is `pages`.
    let call = |pages: u32, method: &str, args: Vec<u8>| {
        let mut config = VmConfig::default();
        config.limits.max_memory_pages = pages;
        let call = Call {
            caller: sender,
            contract,
            method: method.into(),
            args,
            gas_limit: 100_000_000,
        };
        Vm::new(config)
            .unwrap()
            .call(Arc::new(state.clone()), BlockEnv::default(), call)
            .map_err(|e| e.to_string())
            .and_then(|outcome| outcome.result.map_err(|e| e.to_string()))
    };
    // With the limit at the initial memory (2 pages): a call that allocates nothing, a view that
    // reads a value, and a call that reads, writes and emits all run without growing memory (the
    // SDK's heap starts inside the initial memory).
    assert!(call(2, "noop", vec![]).is_ok());
    assert!(call(2, "get", vec![]).is_ok());
    let increment = call(2, "increment", borsh::to_vec(&(1u64,)).unwrap());
    assert!(increment.is_ok(), "{increment:?}");
    // One page less and not even the no-op runs: the limit above is tight.
    let one_page = call(1, "noop", vec![]);
    assert!(one_page.is_err(), "{one_page:?}");
}
