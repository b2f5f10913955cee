//! Hostile and malformed contracts: each ends in a precise error, and the VM keeps serving.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{GAS, Harness, assert_still_healthy, module};
use weft_types::MethodKind::{Call, View};
use weft_vm::{ExecError, ValidationError};

fn deploy_err(wat: &str) -> ValidationError {
    let mut h = Harness::new();
    let (_, outcome) = h.deploy(&module(wat, &[("run", Call)]));
    match outcome.result {
        Err(ExecError::Rejected(e)) => {
            assert!(outcome.gas_used > 0, "deploy gas is charged on rejection");
            assert_still_healthy(&mut h);
            e
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn run_err(wat: &str, gas: u64) -> (ExecError, u64) {
    let mut h = Harness::new();
    let (id, deployed) = h.deploy(&module(wat, &[("run", Call)]));
    assert!(deployed.result.is_ok(), "{deployed:?}");
    let outcome = h.call(id, "run", gas);
    let error = outcome.result.expect_err("the contract must fail");
    assert_still_healthy(&mut h);
    (error, outcome.gas_used)
}

#[test]
fn infinite_loop_runs_out_of_gas() {
    let (error, gas_used) = run_err(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") (loop (br 0))))"#,
        1_000_000,
    );
    assert_eq!(error, ExecError::OutOfGas { limit: 1_000_000 });
    assert_eq!(
        error.to_string(),
        "out of gas: the gas limit of 1000000 was used up"
    );
    assert_eq!(gas_used, 1_000_000);
}

#[test]
fn memory_grow_bomb_hits_the_memory_limit() {
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 1)
             (func (export "weft:run") (loop (drop (memory.grow (i32.const 16))) (br 0))))"#,
        GAS,
    );
    // 1 page, then 17, 33, … 241, 257: the grow to 257 pages crosses the 256-page limit.
    assert_eq!(
        error,
        ExecError::MemoryLimit {
            requested: 257 * 65_536,
            limit: 256 * 65_536
        }
    );
    assert_eq!(
        error.to_string(),
        "memory limit exceeded: the contract tried to grow its memory to 16842752 bytes; the limit is 16777216 bytes"
    );
}

#[test]
fn unbounded_recursion_hits_the_stack_limit() {
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 1) (func $f (export "weft:run") (call $f)))"#,
        GAS,
    );
    assert_eq!(
        error,
        ExecError::StackOverflow {
            limit_bytes: 512 * 1024
        }
    );
}

#[test]
fn bulk_memory_fill_is_charged_per_byte() {
    // Filling 16 MiB must cost at least 16 Mi gas, or a loop of fills would be nearly free.
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 256 256)
             (func (export "weft:run") (loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 16777216)) (br 0))))"#,
        40_000_000,
    );
    assert_eq!(error, ExecError::OutOfGas { limit: 40_000_000 });
}

#[test]
fn trap_is_reported_with_its_reason() {
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") unreachable))"#,
        GAS,
    );
    assert!(
        matches!(&error, ExecError::Trap { message } if message.contains("unreachable")),
        "{error}"
    );
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") (drop (i32.div_s (i32.const 1) (i32.const 0)))))"#,
        GAS,
    );
    assert!(
        matches!(&error, ExecError::Trap { message } if message.contains("divide by zero")),
        "{error}"
    );
}

#[test]
fn out_of_bounds_host_arguments_are_rejected() {
    let (error, _) = run_err(
        r#"(module (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
             (memory (export "memory") 1)
             (func (export "weft:run") (call $set (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 1))))"#,
        GAS,
    );
    assert_eq!(
        error.to_string(),
        "invalid call to host function `weft::storage_set`: range 65530..65630 is outside the contract's memory of 65536 bytes"
    );
}

#[test]
fn oversized_storage_keys_are_rejected() {
    let (error, _) = run_err(
        r#"(module (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
             (memory (export "memory") 1)
             (func (export "weft:run") (call $set (i32.const 0) (i32.const 2000) (i32.const 0) (i32.const 1))))"#,
        GAS,
    );
    assert_eq!(
        error.to_string(),
        "invalid call to host function `weft::storage_set`: argument of 2000 bytes exceeds the limit of 1024 bytes"
    );
}

#[test]
fn forbidden_imports_are_rejected_at_deploy() {
    let e = deploy_err(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1) (func (export "weft:run")))"#,
    );
    assert_eq!(
        e.to_string(),
        "import `wasi_snapshot_preview1::fd_write` is not allowed: contracts may import only from the `weft` host module"
    );
    let e = deploy_err(
        r#"(module (import "weft" "exec" (func)) (memory (export "memory") 1) (func (export "weft:run")))"#,
    );
    assert!(e.to_string().starts_with("import `weft::exec` is not allowed: no such host function; host ABI v1 provides: read_buffer, input"), "{e}");
    let e = deploy_err(
        r#"(module (import "weft" "caller" (func (param i64))) (memory (export "memory") 1) (func (export "weft:run")))"#,
    );
    assert_eq!(
        e.to_string(),
        "import `weft::caller` is not allowed: the host function has type (i32) -> () but the contract imports it as (i64) -> ()"
    );
    let e =
        deploy_err(r#"(module (import "weft" "memory" (memory 1)) (func (export "weft:run")))"#);
    assert!(
        e.to_string()
            .contains("contracts may import only functions"),
        "{e}"
    );
}

#[test]
fn memory_rules_are_enforced_at_deploy() {
    let e = deploy_err(
        r#"(module (memory (export "memory") 1) (memory 1) (func (export "weft:run")))"#,
    );
    assert_eq!(
        e.to_string(),
        "a contract must define exactly one memory and export it as `memory`; this one defines 2"
    );
    let e = deploy_err(r#"(module (func (export "weft:run")))"#);
    assert_eq!(e, ValidationError::Memory("defines none".into()));
    let e = deploy_err(r#"(module (memory 1) (func (export "weft:run")))"#);
    assert_eq!(
        e,
        ValidationError::Memory("does not export it as `memory`".into())
    );
    let e = deploy_err(r#"(module (memory (export "memory") 300) (func (export "weft:run")))"#);
    assert_eq!(
        e.to_string(),
        "the initial memory size in 64 KiB pages is 300; the limit is 256"
    );
}

#[test]
fn oversized_function_is_rejected_at_deploy() {
    let body = "(drop (i32.const 1))\n".repeat(50_000);
    let e = deploy_err(&format!(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") {body}))"#
    ));
    assert!(
        matches!(&e, ValidationError::Limit { what, actual, limit: 131_072 } if what == "the body of function 0 in bytes" && *actual > 131_072),
        "{e}"
    );
}

#[test]
fn too_many_functions_are_rejected_at_deploy() {
    let funcs = "(func)\n".repeat(10_001);
    let e = deploy_err(&format!(
        r#"(module (memory (export "memory") 1) (func (export "weft:run")) {funcs})"#
    ));
    assert_eq!(
        e.to_string(),
        "the number of functions is 10002; the limit is 10000"
    );
}

#[test]
fn too_many_locals_and_params_are_rejected_at_deploy() {
    let locals = "(local i32)".repeat(1_100);
    let e = deploy_err(&format!(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") {locals}))"#
    ));
    assert_eq!(
        e.to_string(),
        "the number of locals of function 0 is 1100; the limit is 1024"
    );
    let params = "(param i32)".repeat(40);
    let e = deploy_err(&format!(
        r#"(module (memory (export "memory") 1) (func (export "weft:run")) (func {params}))"#
    ));
    assert_eq!(
        e.to_string(),
        "the number of parameters of function 1 is 40; the limit is 32"
    );
}

#[test]
fn start_functions_and_disabled_proposals_are_rejected() {
    let e = deploy_err(
        r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "weft:run")))"#,
    );
    assert_eq!(e, ValidationError::StartFunction);
    let e = deploy_err(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") (drop (i32x4.splat (i32.const 1)))))"#,
    );
    assert!(
        e.to_string()
            .starts_with("invalid WebAssembly: SIMD support is not enabled"),
        "{e}"
    );
    let e =
        deploy_err(r#"(module (memory (export "memory") 1 1 shared) (func (export "weft:run")))"#);
    assert!(
        e.to_string()
            .starts_with("invalid WebAssembly: threads must be enabled"),
        "{e}"
    );
}

#[test]
fn abi_must_match_exports() {
    let mut h = Harness::new();
    let wasm =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "weft:run")))"#)
            .unwrap();
    let (_, outcome) = h.deploy(&wasm);
    assert!(
        matches!(&outcome.result, Err(ExecError::Rejected(ValidationError::Abi(m))) if m.contains("has no `weft_abi` custom section")),
        "{outcome:?}"
    );
    let (_, outcome) = h.deploy(&module(
        r#"(module (memory (export "memory") 1) (func (export "weft:run")))"#,
        &[("run", Call), ("other", View)],
    ));
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "contract rejected: ABI: method `other` is in the ABI but the module does not export `weft:other`"
    );
    let (_, outcome) = h.deploy(&module(r#"(module (memory (export "memory") 1) (func (export "weft:run")) (func (export "weft:hidden")))"#, &[("run", Call)]));
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "contract rejected: ABI: export `weft:hidden` has no entry in the ABI"
    );
    let (_, outcome) = h.deploy(&module(
        r#"(module (memory (export "memory") 1) (func (export "weft:run") (param i32)))"#,
        &[("run", Call)],
    ));
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "contract rejected: ABI: export `weft:run` must be a function of type () -> ()"
    );
}

#[test]
fn garbage_and_oversized_code_are_rejected() {
    let mut h = Harness::new();
    let (_, outcome) = h.deploy(b"\0asm\x01\0\0\0garbage");
    assert!(
        outcome
            .result
            .unwrap_err()
            .to_string()
            .starts_with("contract rejected: invalid WebAssembly:")
    );
    let (_, outcome) = h.deploy(b"not wasm at all");
    assert!(
        outcome
            .result
            .unwrap_err()
            .to_string()
            .starts_with("contract rejected: invalid WebAssembly:")
    );
    let big = vec![0u8; 1024 * 1024 + 1];
    let (_, outcome) = h.deploy_with_gas(&big, u64::MAX / 2);
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "contract rejected: code is 1048577 bytes; the limit is 1048576 bytes"
    );
    assert_still_healthy(&mut h);
}

#[test]
fn deploy_gas_is_charged_before_anything_else() {
    let mut h = Harness::new();
    let code = module(common::GOOD, &[("run", Call)]);
    let schedule = h.vm.schedule().clone();
    let weight = weft_vm::validate::validate(&code, h.vm.limits())
        .unwrap()
        .compile_weight;
    let cost = schedule.deploy_cost(code.len()) + schedule.compile_cost(weight);
    for limit in [schedule.deploy_cost(code.len()) - 1, cost - 1] {
        let (_, outcome) = h.deploy_with_gas(&code, limit);
        assert_eq!(outcome.result, Err(ExecError::OutOfGas { limit }));
        assert_eq!(outcome.gas_used, limit);
    }
    let (_, outcome) = h.deploy_with_gas(&code, cost);
    assert!(outcome.result.is_ok(), "{outcome:?}");
    assert_eq!(outcome.gas_used, cost);
}

#[test]
fn compilation_is_priced_by_locals_as_well_as_size() {
    let limits = weft_vm::VmLimits::default();
    let weight = |locals: usize| {
        let wat = format!(
            r#"(module (memory (export "memory") 1) (func (export "weft:run") {} {}))"#,
            "(local i64)".repeat(locals),
            "(nop)".repeat(1000)
        );
        weft_vm::validate::validate(&module(&wat, &[("run", Call)]), &limits)
            .unwrap()
            .compile_weight
    };
    // Same body size; 1000 locals weigh 1 + 1000/32 = 32 times as much as none.
    assert!(
        weight(0) >= 1000,
        "the body of 1000 nops weighs at least 1000 bytes"
    );
    // (The locals declaration itself adds a few bytes to the body.)
    let ratio = weight(1000) as f64 / weight(0) as f64;
    assert!((32.0..32.2).contains(&ratio), "ratio {ratio}");
}

#[test]
fn data_segment_out_of_bounds_traps_at_instantiation() {
    let (error, _) = run_err(
        r#"(module (memory (export "memory") 1) (data (i32.const 65535) "ab") (func (export "weft:run")))"#,
        GAS,
    );
    assert!(
        matches!(&error, ExecError::Trap { message } if message.contains("out of bounds")),
        "{error}"
    );
}

#[test]
fn memory_pages_are_priced_initial_pages_included() {
    let gas = |pages: u32| {
        let mut h = Harness::new();
        let wat =
            format!(r#"(module (memory (export "memory") {pages}) (func (export "weft:run")))"#);
        let (id, _) = h.deploy(&module(&wat, &[("run", Call)]));
        h.call(id, "run", GAS).gas_used
    };
    let page = weft_vm::GasSchedule::default().memory_page;
    // The code grows by a byte or so with the page count, which the per-byte load price adds.
    let difference = gas(201) - gas(1);
    assert!(
        (200 * page..200 * page + 10).contains(&difference),
        "{difference}"
    );
}

#[test]
fn skipping_pending_deletions_is_charged_per_step() {
    // Writes 200 keys, deletes them, then iterates the prefix: every deletion skipped costs a step.
    let wat = r#"(module
      (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
      (import "weft" "storage_remove" (func $rm (param i32 i32)))
      (import "weft" "storage_next" (func $next (param i32 i32 i32 i32 i32) (result i64)))
      (memory (export "memory") 1)
      (func $fill (param $delete i32) (local $i i32)
        (loop
          (i32.store8 (i32.const 1) (local.get $i))
          (if (local.get $delete)
            (then (call $rm (i32.const 0) (i32.const 2)))
            (else (call $set (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 2))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if 0 (i32.lt_u (local.get $i) (i32.const 200)))))
      (func (export "weft:write") (call $fill (i32.const 0)))
      (func (export "weft:scan") (call $fill (i32.const 0)) (call $fill (i32.const 1))
        (drop (call $next (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))))
      (func (export "weft:plain") (call $fill (i32.const 0)) (call $fill (i32.const 1))))"#;
    let mut h = Harness::new();
    let (id, _) = h.deploy(&module(
        wat,
        &[("write", Call), ("scan", Call), ("plain", Call)],
    ));
    let scan = h.call(id, "scan", GAS).gas_used;
    let plain = h.call(id, "plain", GAS).gas_used;
    let step = weft_vm::GasSchedule::default().storage_next;
    assert!(
        scan - plain >= 200 * step,
        "200 skipped deletions cost at least 200 steps: {}",
        scan - plain
    );
}

#[test]
fn a_stack_overflow_uses_the_whole_gas_limit() {
    let mut h = Harness::new();
    let (id, _) = h.deploy(&module(
        r#"(module (memory (export "memory") 1) (func $f (export "weft:run") (call $f)))"#,
        &[("run", Call)],
    ));
    let outcome = h.call(id, "run", 7_777_777);
    assert!(matches!(
        outcome.result,
        Err(ExecError::StackOverflow { .. })
    ));
    assert_eq!(outcome.gas_used, 7_777_777);
}

#[test]
fn unknown_methods_cost_the_lookup() {
    let mut h = Harness::new();
    let (id, _) = h.deploy(&module(common::GOOD, &[("run", Call)]));
    let outcome = h.call(id, "missing", GAS);
    assert_eq!(outcome.gas_used, weft_vm::GasSchedule::default().call);
    assert!(matches!(
        outcome.result,
        Err(ExecError::UnknownMethod { .. })
    ));
}
