//! The SDK's entry point must not allocate: a method that allocates nothing runs in the
//! contract's initial memory, so calling it costs no memory growth (and no syscall in the VM).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::sync::Arc;
use weft_testkit::{Address, ContractId, ExecError, Vm, VmConfig, build_contract};
use weft_vm::testing::MemState;
use weft_vm::{BlockEnv, Call, Deploy};

#[test]
fn a_method_that_allocates_nothing_does_not_grow_memory() {
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

    // A VM whose memory limit is the contract's initial memory (2 pages).
    let mut config = VmConfig::default();
    config.limits.max_memory_pages = 2;
    let tight = Vm::new(config).unwrap();
    let call = |method: &str| {
        let call = Call {
            caller: sender,
            contract,
            method: method.into(),
            args: vec![],
            gas_limit: 100_000_000,
        };
        tight
            .call(Arc::new(state.clone()), BlockEnv::default(), call)
            .unwrap()
            .result
    };
    assert!(call("noop").is_ok());
    // `get` allocates (key and value buffers), so the allocator takes a page: this proves the limit
    // above is tight enough for the first assertion to mean something.
    assert!(matches!(
        call("get"),
        Err(ExecError::MemoryLimit { limit: 131_072, .. })
    ));
}
