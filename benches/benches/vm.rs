//! Criterion micro-benchmarks of the VM. See benches/RESULTS.md for figures and commands.
//!
//! - `call/noop`: a no-op view of the cached counter contract (Store, instance, input, return);
//! - `call/storage_write_read`: a WAT contract doing one storage write and one read;
//! - `call/counter_get`: the Rust counter's view `get` (one storage read, a borsh result);
//! - `call/counter_increment`: the Rust counter's `increment` (read, write, event);
//! - `floor/bare_wasmtime_instantiate_call`: the same counter module in a default wasmtime engine
//!   with no-op host functions: instantiate + call of `weft:noop`, the floor for `call/noop`;
//! - `compile/*`: deploy (validate + compile) of synthetic contracts of growing size, and of a
//!   crafted one aimed at the compiler, to show compile time grows linearly.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on an unexpected error"
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use weft_benches::{crafted_contract_wat, synthetic_contract_wat, with_abi};
use weft_types::{Address, ContractId};
use weft_vm::testing::MemState;
use weft_vm::{BlockEnv, Call, Deploy, Vm, VmConfig};

const GAS: u64 = 100_000_000;

fn counter_wasm() -> Vec<u8> {
    weft_testkit::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/counter"))
}

struct Fixture {
    vm: Vm,
    state: Arc<MemState>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            vm: Vm::new(VmConfig::default()).unwrap(),
            state: Arc::new(MemState::default()),
        }
    }

    fn deploy(&mut self, code: &[u8], init_args: Vec<u8>, unique: u64) -> ContractId {
        let sender = Address([1; 32]);
        let contract = ContractId::derive(&sender, unique);
        let deploy = Deploy {
            sender,
            contract,
            code: code.into(),
            init_args,
            gas_limit: GAS,
        };
        let outcome = self
            .vm
            .deploy(self.state.clone(), BlockEnv::default(), deploy)
            .unwrap();
        let success = outcome.result.expect("deploy succeeds");
        Arc::make_mut(&mut self.state).apply(&success.writes);
        contract
    }

    fn call(&self, contract: ContractId, method: &str, args: &[u8]) -> u64 {
        let call = Call {
            caller: Address([2; 32]),
            contract,
            method: method.into(),
            args: args.to_vec(),
            gas_limit: GAS,
        };
        let outcome = self
            .vm
            .call(self.state.clone(), BlockEnv::default(), call)
            .unwrap();
        assert!(outcome.result.is_ok(), "{outcome:?}");
        outcome.gas_used
    }
}

const WRITE_READ: &str = r#"(module
  (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
  (import "weft" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "weft" "read_buffer" (func $rb (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "key-0001value-0000000000000000001")
  (func (export "weft:run")
    (call $set (i32.const 0) (i32.const 8) (i32.const 8) (i32.const 25))
    (drop (call $get (i32.const 0) (i32.const 8)))
    (call $rb (i32.const 100))))"#;

fn calls(c: &mut Criterion) {
    let wasm = counter_wasm();
    let mut fx = Fixture::new();
    let counter = fx.deploy(&wasm, borsh::to_vec(&(0u64,)).unwrap(), 0);
    let write_read = fx.deploy(
        &with_abi(wat::parse_str(WRITE_READ).unwrap(), &["run"]),
        Vec::new(),
        1,
    );
    let by_one = borsh::to_vec(&(1u64,)).unwrap();
    let mut group = c.benchmark_group("call");
    group.bench_function("noop", |b| b.iter(|| fx.call(counter, "noop", &[])));
    group.bench_function("storage_write_read", |b| {
        b.iter(|| fx.call(write_read, "run", &[]))
    });
    group.bench_function("counter_get", |b| b.iter(|| fx.call(counter, "get", &[])));
    group.bench_function("counter_increment", |b| {
        b.iter(|| fx.call(counter, "increment", &by_one))
    });
    group.finish();
    println!(
        "gas: noop {} / storage_write_read {} / counter_get {} / counter_increment {}",
        fx.call(counter, "noop", &[]),
        fx.call(write_read, "run", &[]),
        fx.call(counter, "get", &[]),
        fx.call(counter, "increment", &by_one)
    );
}

/// The floor: what wasmtime itself needs to instantiate the same module and call the same export,
/// with host functions that do nothing and no fuel or limits. Two engines: wasmtime's defaults
/// (on-demand allocation), and the pooling allocator tuned as Weft's is.
fn floor(c: &mut Criterion) {
    use wasmtime::{Config, Engine, Linker, Module, PoolingAllocationConfig, Store};
    let wasm = counter_wasm();
    let mut pooled = Config::new();
    let mut pool = PoolingAllocationConfig::default();
    pool.linear_memory_keep_resident(256 * 1024)
        .table_keep_resident(256 * 1024);
    pooled.allocation_strategy(pool);
    for (name, config) in [("default", Config::new()), ("pooling", pooled)] {
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, &wasm).unwrap();
        let mut linker: Linker<()> = Linker::new(&engine);
        for import in module.imports() {
            let ty = import
                .ty()
                .func()
                .expect("contracts import only functions")
                .clone();
            let zeros: Vec<wasmtime::Val> = ty
                .results()
                .map(|t| wasmtime::Val::default_for_ty(&t).expect("numeric type"))
                .collect();
            linker
                .func_new("weft", import.name(), ty, move |_, _, results| {
                    results.clone_from_slice(&zeros);
                    Ok(())
                })
                .unwrap();
        }
        let pre = linker.instantiate_pre(&module).unwrap();
        c.bench_function(
            &format!("floor/bare_wasmtime_instantiate_call/{name}"),
            |b| {
                b.iter(|| {
                    let mut store = Store::new(&engine, ());
                    let instance = pre.instantiate(&mut store).unwrap();
                    let f = instance
                        .get_typed_func::<(), ()>(&mut store, "weft:noop")
                        .unwrap();
                    f.call(&mut store, ()).unwrap();
                })
            },
        );
    }
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let vm = Vm::new(VmConfig::default()).unwrap();
    let state: Arc<MemState> = Arc::new(MemState::default());
    let deploy = |code: &Arc<[u8]>, unique: u64| {
        vm.clear_memory_cache();
        let sender = Address([1; 32]);
        let d = Deploy {
            sender,
            contract: ContractId::derive(&sender, unique),
            code: code.clone(),
            init_args: vec![],
            gas_limit: u64::MAX / 4,
        };
        let outcome = vm.deploy(state.clone(), BlockEnv::default(), d).unwrap();
        assert!(outcome.result.is_ok(), "{:?}", outcome.result.err());
    };
    let mut unique = 0;
    for kib in [50usize, 100, 200, 400] {
        let code: Arc<[u8]> = with_abi(
            wat::parse_str(synthetic_contract_wat(kib * 1024)).unwrap(),
            &["run"],
        )
        .into();
        group.throughput(Throughput::Bytes(code.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("synthetic_deploy", format!("{kib}KiB({}B)", code.len())),
            &code,
            |b, code| {
                b.iter(|| {
                    unique += 1;
                    deploy(code, unique)
                })
            },
        );
    }
    let locals = std::env::var("WEFT_BENCH_LOCALS")
        .map_or(vm.limits().max_locals as usize, |v| v.parse().unwrap());
    for kib in [120usize, 240] {
        let code: Arc<[u8]> = with_abi(
            wat::parse_str(crafted_contract_wat(kib * 1024, locals)).unwrap(),
            &["run"],
        )
        .into();
        group.throughput(Throughput::Bytes(code.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("crafted_deploy", format!("{kib}KiB({}B)", code.len())),
            &code,
            |b, code| {
                b.iter(|| {
                    unique += 1;
                    deploy(code, unique)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, calls, floor, compile);
criterion_main!(benches);
