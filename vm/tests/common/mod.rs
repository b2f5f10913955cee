//! Helpers for VM tests: WAT modules with an ABI section, and a tiny chain over `MemState`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::sync::Arc;
use weft_types::{Address, ArgAbi, ContractId, MethodAbi, MethodKind};
use weft_vm::testing::MemState;
use weft_vm::{BlockEnv, Call, Deploy, Outcome, Vm, VmConfig};

/// Compiles `wat` and appends a `weft_abi` custom section listing `methods`.
pub fn module(wat: &str, methods: &[(&str, MethodKind)]) -> Vec<u8> {
    let mut wasm = wat::parse_str(wat).expect("test WAT parses");
    let mut data = Vec::new();
    for (name, kind) in methods {
        let method = MethodAbi {
            name: name.to_string(),
            kind: *kind,
            args: Vec::<ArgAbi>::new(),
            returns: None,
        };
        data.extend(method.to_record());
    }
    append_custom_section(&mut wasm, "weft_abi", &data);
    wasm
}

pub fn append_custom_section(wasm: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut body = Vec::new();
    leb(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    wasm.push(0);
    leb(wasm, body.len() as u64);
    wasm.extend(body);
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub const GAS: u64 = 50_000_000;

/// A VM with in-memory state.
pub struct Harness {
    pub vm: Vm,
    pub state: Arc<MemState>,
    next: u64,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(VmConfig::default())
    }

    pub fn with_config(config: VmConfig) -> Self {
        Self {
            vm: Vm::new(config).expect("valid VM config"),
            state: Arc::new(MemState::default()),
            next: 0,
        }
    }

    pub fn deploy(&mut self, code: &[u8]) -> (ContractId, Outcome) {
        self.deploy_with_gas(code, GAS)
    }

    pub fn deploy_with_gas(&mut self, code: &[u8], gas_limit: u64) -> (ContractId, Outcome) {
        let sender = Address([1; 32]);
        let contract = ContractId::derive(&sender, self.next);
        self.next += 1;
        let deploy = Deploy {
            sender,
            contract,
            code: code.into(),
            init_args: Vec::new(),
            gas_limit,
        };
        let outcome = self
            .vm
            .deploy(self.state.clone(), BlockEnv::default(), deploy)
            .expect("no host failure");
        if let Ok(success) = &outcome.result {
            Arc::make_mut(&mut self.state).apply(&success.writes);
        }
        (contract, outcome)
    }

    pub fn call(&mut self, contract: ContractId, method: &str, gas_limit: u64) -> Outcome {
        let call = Call {
            caller: Address([2; 32]),
            contract,
            method: method.into(),
            args: Vec::new(),
            gas_limit,
        };
        let outcome = self
            .vm
            .call(
                self.state.clone(),
                BlockEnv {
                    height: 7,
                    time_ms: 1_000,
                },
                call,
            )
            .expect("no host failure");
        if let Ok(success) = &outcome.result {
            Arc::make_mut(&mut self.state).apply(&success.writes);
        }
        outcome
    }
}

/// A well-behaved contract: `run` writes key "k" = "v", emits an event and returns "ok".
pub const GOOD: &str = r#"(module
  (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
  (import "weft" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "weft" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kvok")
  (func (export "weft:run")
    (call $set (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1))
    (call $emit (i32.const 2) (i32.const 2) (i32.const 0) (i32.const 2))
    (call $ret (i32.const 2) (i32.const 2))))"#;

/// Deploys and runs [`GOOD`], asserting it works: the VM is still healthy.
pub fn assert_still_healthy(h: &mut Harness) {
    let code = module(GOOD, &[("run", MethodKind::Call)]);
    let (id, deployed) = h.deploy(&code);
    assert!(deployed.result.is_ok(), "{deployed:?}");
    let outcome = h.call(id, "run", GAS);
    assert_eq!(
        outcome.result.expect("good contract runs").return_data,
        b"ok"
    );
}
