//! The [`Vm`]: compiles and caches modules, and runs deploys, calls and queries in a fresh store
//! each, with gas, limits and the host ABI.

use crate::cache::{DiskCache, engine_key};
use crate::error::{ExecError, Result, ValidationError, VmError};
use crate::host::{self, Fault, Frame, Machine};
use crate::state::{Overlay, StateView, WriteSet};
use crate::validate::{features, read_abi, validate};
use crate::{GasSchedule, VmLimits};
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::{
    AsContextMut, Caller, Config, Engine, InstancePre, Linker, Module, ModuleExport, OptLevel,
    PoolingAllocationConfig, RegallocAlgorithm, Store, Strategy, Trap,
};
use weft_types::abi::EXPORT_PREFIX;
use weft_types::{Address, CodeHash, ContractAbi, ContractId, Event, MethodKind};

pub use crate::abi::BlockEnv;

/// How to build a [`Vm`].
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Deploy-time caps and runtime bounds.
    pub limits: VmLimits,
    /// Gas prices.
    pub schedule: GasSchedule,
    /// Where compiled modules are kept across restarts; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// How many compiled modules to keep in memory.
    pub memory_cache_entries: usize,
    /// Use wasmtime's pooling instance allocator (pre-reserved memory slots, faster instantiation).
    pub pooling: bool,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            limits: VmLimits::default(),
            schedule: GasSchedule::default(),
            cache_dir: None,
            memory_cache_entries: 1_024,
            pooling: true,
        }
    }
}

/// A deploy: validate, compile, store the code, create the contract and run its init method.
#[derive(Debug, Clone)]
pub struct Deploy {
    /// Who deploys; the init method sees it as the caller.
    pub sender: Address,
    /// The id the new contract gets (derived by the caller, e.g. [`ContractId::derive`]).
    pub contract: ContractId,
    /// The wasm code.
    pub code: Arc<[u8]>,
    /// Borsh-encoded arguments of the init method.
    pub init_args: Vec<u8>,
    /// Gas available for the deploy and the init method.
    pub gas_limit: u64,
}

/// A call of a contract method.
#[derive(Debug, Clone)]
pub struct Call {
    /// Who calls.
    pub caller: Address,
    /// The contract.
    pub contract: ContractId,
    /// The method name.
    pub method: String,
    /// Borsh-encoded arguments.
    pub args: Vec<u8>,
    /// Gas available.
    pub gas_limit: u64,
}

/// What a successful call produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Success {
    /// The method's borsh-encoded result.
    pub return_data: Vec<u8>,
    /// State changes to apply.
    pub writes: WriteSet,
    /// Events emitted, in order.
    pub events: Vec<Event>,
}

/// The result of a deploy, call or query: gas is reported whether it succeeded or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Gas consumed, including on failure.
    pub gas_used: u64,
    /// Effects on success; the reason on failure (and then no effects).
    pub result: Result<Success, ExecError>,
}

/// Counters of the module cache, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules compiled from wasm.
    pub compiled: u64,
    /// Modules loaded from the disk cache.
    pub disk_hits: u64,
    /// Calls served from the in-memory cache.
    pub memory_hits: u64,
}

/// The per-call context of this VM's stores.
type Ctx = host::Ctx<Inner>;

/// A compiled contract, ready to instantiate.
pub(crate) struct Compiled {
    pre: InstancePre<Ctx>,
    code_len: usize,
    abi: Arc<ContractAbi>,
    memory: ModuleExport,
    methods: HashMap<String, (MethodKind, ModuleExport)>,
}

pub(crate) struct Inner {
    engine: Engine,
    linker: Linker<Ctx>,
    limits: VmLimits,
    schedule: GasSchedule,
    modules: Mutex<LruCache<CodeHash, Arc<Compiled>>>,
    disk: Option<DiskCache>,
    compiled: AtomicU64,
    disk_hits: AtomicU64,
    memory_hits: AtomicU64,
}

/// The WebAssembly virtual machine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Vm {
    inner: Arc<Inner>,
}

/// Bytes of each pooled memory and table slot kept resident between instances.
const KEEP_RESIDENT: usize = 256 * 1024;

/// The engine configuration. Everything here is part of consensus: two nodes must compile the
/// same code to the same behaviour, gas included.
fn engine_config(limits: &VmLimits, schedule: &GasSchedule, pooling: bool) -> Config {
    let mut config = Config::new();
    // Cranelift rather than Winch: Winch ignores per-byte fuel costs of `memory.copy`/`fill`, which
    // would make a 16 MiB fill cost one gas (see docs/adr/0001). The single-pass register
    // allocator runs in linear time and no optimization passes run, so with the per-function size
    // cap compile time grows linearly with code size.
    config.strategy(Strategy::Cranelift);
    config.cranelift_opt_level(OptLevel::None);
    config.cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass);
    config.cranelift_nan_canonicalization(true);
    config.consume_fuel(true);
    // Backtraces are not needed for receipts, and the default reads an environment variable.
    config.wasm_backtrace_max_frames(None);
    config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
    config.operator_cost(schedule.operator_costs());
    config.max_wasm_stack(limits.max_wasm_stack);
    // Exactly the proposals deploy validation accepts: WebAssembly 2.0 without SIMD.
    config.wasm_features(wasmtime::WasmFeatures::all(), false);
    config.wasm_features(features(), true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        // Up to `max_call_depth` instances per running call; enough slots for many concurrent
        // queries next to block execution.
        pool.total_core_instances(1_000)
            .total_memories(1_000)
            .total_tables(1_000)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(limits.max_memory_bytes() as usize)
            .table_elements(limits.max_table_elements as usize)
            // Reset the first pages of a returned slot with memset rather than madvise, so that
            // reusing a slot costs no syscalls and no page faults: most calls touch only these.
            // Measured: a no-op call of the counter takes 21 µs with 64 KiB kept resident and
            // 4.3 µs with 256 KiB (benches/RESULTS.md).
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        config.allocation_strategy(pool);
    }
    config
}

impl Vm {
    /// Builds a VM.
    pub fn new(config: VmConfig) -> Result<Self> {
        let engine = Engine::new(&engine_config(
            &config.limits,
            &config.schedule,
            config.pooling,
        ))
        .map_err(|e| VmError::Config(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(|e| VmError::Config(e.to_string()))?;
        let disk = match &config.cache_dir {
            Some(dir) => Some(
                DiskCache::open(dir, engine_key(&engine, config.schedule.version)).map_err(
                    |e| {
                        VmError::Config(format!(
                            "cannot use module cache directory {}: {e}",
                            dir.display()
                        ))
                    },
                )?,
            ),
            None => None,
        };
        let entries =
            NonZeroUsize::new(config.memory_cache_entries.max(1)).expect("max(1) is non-zero");
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits: config.limits,
                schedule: config.schedule,
                modules: Mutex::new(LruCache::new(entries)),
                disk,
                compiled: AtomicU64::new(0),
                disk_hits: AtomicU64::new(0),
                memory_hits: AtomicU64::new(0),
            }),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &VmLimits {
        &self.inner.limits
    }

    /// The gas schedule in force.
    pub fn schedule(&self) -> &GasSchedule {
        &self.inner.schedule
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            disk_hits: self.inner.disk_hits.load(Ordering::Relaxed),
            memory_hits: self.inner.memory_hits.load(Ordering::Relaxed),
        }
    }

    /// Drops every module from the in-memory cache (the disk cache stays).
    pub fn clear_memory_cache(&self) {
        self.inner
            .modules
            .lock()
            .expect("module cache lock poisoned")
            .clear();
    }

    /// Validates code without deploying it; returns its ABI.
    pub fn validate(&self, code: &[u8]) -> std::result::Result<ContractAbi, ValidationError> {
        validate(code, &self.inner.limits).map(|v| v.abi)
    }

    fn store(&self, view: Arc<dyn StateView>, env: BlockEnv, gas_limit: u64) -> Store<Ctx> {
        let ctx = Ctx {
            inner: self.inner.clone(),
            view,
            env,
            gas_limit,
            frames: Vec::with_capacity(2),
            overlay: Overlay::default(),
            events: Vec::new(),
            buffer: Vec::new(),
            fault: None,
            pending_gas: 0,
        };
        let mut store = Store::new(&self.inner.engine, ctx);
        store.limiter(|ctx| ctx);
        store
    }

    /// Deploys a contract and runs its init method. Deploy gas (per byte of code, then per
    /// weighted byte of function bodies for compilation) is charged first, cached or not.
    pub fn deploy(
        &self,
        view: Arc<dyn StateView>,
        env: BlockEnv,
        deploy: Deploy,
    ) -> Result<Outcome> {
        let mut store = self.store(view, env, deploy.gas_limit);
        let cost = self.inner.schedule.deploy_cost(deploy.code.len());
        if cost > deploy.gas_limit {
            return Ok(out_of_gas(deploy.gas_limit));
        }
        set_fuel(&mut store, deploy.gas_limit - cost)?;
        let fail = |error: ExecError| {
            Ok(Outcome {
                gas_used: cost,
                result: Err(error),
            })
        };
        let valid = match validate(&deploy.code, &self.inner.limits) {
            Ok(valid) => valid,
            Err(e) => return fail(ExecError::Rejected(e)),
        };
        // Compilation is priced by the module's weighted size, known only after validation.
        let cost = cost.saturating_add(self.inner.schedule.compile_cost(valid.compile_weight));
        if cost > deploy.gas_limit {
            return Ok(out_of_gas(deploy.gas_limit));
        }
        set_fuel(&mut store, deploy.gas_limit - cost)?;
        let abi = valid.abi;
        let fail = |error: ExecError| {
            Ok(Outcome {
                gas_used: cost,
                result: Err(error),
            })
        };
        let ctx = store.data();
        if ctx
            .overlay
            .contract(&*ctx.view, &deploy.contract)?
            .is_some()
        {
            return fail(ExecError::Trap {
                message: format!("a contract already exists at {}", deploy.contract),
            });
        }
        let code_hash = CodeHash::of(&deploy.code);
        let compiled = self.inner.load(&code_hash, || Ok(deploy.code.clone()))?;
        store
            .data_mut()
            .overlay
            .create_contract(deploy.contract, code_hash, deploy.code.clone());
        let result = match abi.init() {
            Some(init) => {
                let init = init.name.clone();
                run_frame(
                    &mut store,
                    &compiled,
                    deploy.contract,
                    deploy.sender,
                    init,
                    false,
                    deploy.init_args,
                )
            }
            None if !deploy.init_args.is_empty() => {
                return fail(ExecError::NoInit(deploy.init_args.len()));
            }
            None => Ok(Vec::new()),
        };
        finish(store, result)
    }

    /// Runs a method as part of a transaction. View methods run read-only; init methods are
    /// refused.
    pub fn call(&self, view: Arc<dyn StateView>, env: BlockEnv, call: Call) -> Result<Outcome> {
        self.invoke(view, env, call, false)
    }

    /// Runs a view method read-only, outside any transaction.
    pub fn query(&self, view: Arc<dyn StateView>, env: BlockEnv, call: Call) -> Result<Outcome> {
        self.invoke(view, env, call, true)
    }

    fn invoke(
        &self,
        view: Arc<dyn StateView>,
        env: BlockEnv,
        call: Call,
        query: bool,
    ) -> Result<Outcome> {
        let mut store = self.store(view, env, call.gas_limit);
        // Looking the contract up and instantiating it is real work: every call pays for it (as
        // nested calls do), with the code loading priced by code size whether or not it is cached.
        let schedule = &self.inner.schedule;
        let lookup = schedule.call.min(call.gas_limit);
        let resolved = resolve(&mut store.as_context_mut(), &call.contract, &call.method)?;
        let (compiled, kind) = match resolved {
            Ok(found) => found,
            Err(error) => {
                return Ok(Outcome {
                    gas_used: lookup,
                    result: Err(error),
                });
            }
        };
        let cost = schedule.call.saturating_add(
            schedule
                .load_per_code_byte
                .saturating_mul(compiled.code_len as u64),
        );
        if cost > call.gas_limit {
            return Ok(out_of_gas(call.gas_limit));
        }
        set_fuel(&mut store, call.gas_limit - cost)?;
        let refuse = |kind, reason| Outcome {
            gas_used: lookup,
            result: Err(ExecError::WrongKind {
                method: call.method.clone(),
                kind,
                reason,
            }),
        };
        match (kind, query) {
            (MethodKind::Init, _) => return Ok(refuse("an init", "it runs only at deploy")),
            (MethodKind::Call, true) => {
                return Ok(refuse(
                    "a call",
                    "queries run only view methods; send a transaction to run it",
                ));
            }
            _ => {}
        }
        let read_only = kind == MethodKind::View;
        let result = run_frame(
            &mut store,
            &compiled,
            call.contract,
            call.caller,
            call.method,
            read_only,
            call.args,
        );
        finish(store, result)
    }
}

/// The outcome of a deploy or call whose gas limit does not cover its fixed costs: the whole limit
/// is used and nothing runs.
fn out_of_gas(limit: u64) -> Outcome {
    Outcome {
        gas_used: limit,
        result: Err(ExecError::OutOfGas { limit }),
    }
}

fn set_fuel(store: &mut Store<Ctx>, fuel: u64) -> Result<()> {
    store
        .set_fuel(fuel)
        .map_err(|e| VmError::Engine(e.to_string()))
}

type Resolved = std::result::Result<(Arc<Compiled>, MethodKind), ExecError>;

/// Finds the compiled module and the kind of `method` of `contract`, as seen by the running call.
fn resolve(
    store: &mut impl AsContextMut<Data = Ctx>,
    contract: &ContractId,
    method: &str,
) -> Result<Resolved> {
    let ctx = store.as_context_mut();
    let ctx = ctx.data();
    let Some(code_hash) = ctx.overlay.contract(&*ctx.view, contract)? else {
        return Ok(Err(ExecError::UnknownContract(*contract)));
    };
    let (inner, view) = (ctx.inner.clone(), ctx.view.clone());
    let code = || match ctx.overlay.code(&*view, &code_hash)? {
        Some(code) => Ok(code),
        None => Err(VmError::Engine(format!(
            "contract {contract} refers to code {code_hash}, which is not stored"
        ))),
    };
    let compiled = inner.load(&code_hash, code)?;
    let Some((kind, _)) = compiled.methods.get(method) else {
        return Ok(Err(ExecError::UnknownMethod {
            contract: *contract,
            method: method.to_string(),
            available: compiled.abi.method_list(),
        }));
    };
    let kind = *kind;
    Ok(Ok((compiled, kind)))
}

/// Instantiates `compiled` and runs `method` with `input`, returning its return data.
fn run_frame(
    store: &mut impl AsContextMut<Data = Ctx>,
    compiled: &Compiled,
    contract: ContractId,
    caller: Address,
    method: String,
    read_only: bool,
    input: Vec<u8>,
) -> wasmtime::Result<Vec<u8>> {
    let mut store = store.as_context_mut();
    let instance = match compiled.pre.instantiate(&mut store) {
        Ok(instance) => instance,
        // A trap during instantiation (a data segment out of bounds) is the contract's fault;
        // anything else (an exhausted instance pool) is the host's, and must not become a receipt.
        Err(e) if e.downcast_ref::<Trap>().is_some() || store.data().fault.is_some() => {
            return Err(e);
        }
        Err(e) => {
            let fault = Fault::Engine(format!("instantiation failed: {e}"));
            store.data_mut().fault = Some(fault);
            return Err(e);
        }
    };
    let memory = instance
        .get_module_export(&mut store, &compiled.memory)
        .and_then(|e| e.into_memory());
    let (_, export) = compiled.methods[&method];
    let func = instance
        .get_module_export(&mut store, &export)
        .and_then(|e| e.into_func())
        .expect("validated modules export every ABI method")
        .typed::<(), ()>(&store)?;
    store.data_mut().frames.push(Frame {
        contract,
        caller,
        method,
        read_only,
        input,
        ret: Vec::new(),
        memory,
    });
    let result = func.call(&mut store, ());
    let frame = store
        .data_mut()
        .frames
        .pop()
        .expect("the frame pushed above");
    result.map(|()| frame.ret)
}

/// Turns a finished store into an [`Outcome`], or a host failure into a [`VmError`].
fn finish(mut store: Store<Ctx>, result: wasmtime::Result<Vec<u8>>) -> Result<Outcome> {
    let gas_limit = store.data().gas_limit;
    let left = store
        .get_fuel()
        .map_err(|e| VmError::Engine(e.to_string()))?;
    // Memory pages granted since the last host call are still owed.
    let owed = std::mem::take(&mut store.data_mut().pending_gas);
    let mut gas_used = gas_limit - left.saturating_sub(owed);
    let result = match result {
        Ok(_) if owed > left => Err(ExecError::OutOfGas { limit: gas_limit }),
        Ok(return_data) => {
            let ctx = store.into_data();
            Ok(Success {
                return_data,
                writes: ctx.overlay.into_writes(),
                events: ctx.events,
            })
        }
        Err(e) => {
            let fault = store.data_mut().fault.take();
            Err(classify(fault, &e, gas_limit, &store.data().inner.limits)?)
        }
    };
    // Where exactly the native stack runs out depends on the host's own frames (its build), so a
    // stack overflow uses the whole limit: gas never depends on where it happened.
    if matches!(result, Err(ExecError::StackOverflow { .. })) {
        gas_used = gas_limit;
    }
    Ok(Outcome { gas_used, result })
}

/// The precise reason for a failed call.
fn classify(
    fault: Option<Fault>,
    error: &wasmtime::Error,
    gas_limit: u64,
    limits: &VmLimits,
) -> Result<ExecError> {
    Ok(match fault {
        Some(Fault::Exec(e)) => e,
        Some(Fault::State(e)) => return Err(VmError::State(e)),
        Some(Fault::Engine(e)) => return Err(VmError::Engine(e)),
        None => match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => ExecError::OutOfGas { limit: gas_limit },
            Some(Trap::StackOverflow) => ExecError::StackOverflow {
                limit_bytes: limits.max_wasm_stack as u64,
            },
            Some(trap) => ExecError::Trap {
                message: trap.to_string(),
            },
            None => ExecError::Trap {
                message: error.to_string(),
            },
        },
    })
}

/// Failures that end the whole transaction rather than just the callee.
fn fatal(error: &ExecError) -> bool {
    matches!(
        error,
        ExecError::OutOfGas { .. } | ExecError::StackOverflow { .. } | ExecError::CallDepth { .. }
    )
}

/// The `call` host function: runs `method` of `contract` on behalf of the current frame. Returns
/// the length of the return data, placed in the buffer, or `-(len + 1)` with the callee's error
/// message of `len` bytes in the buffer (its writes and events undone). Gas exhaustion, stack overflow and the depth limit end the whole
/// transaction.
fn nested_call(
    c: &mut Caller<'_, Ctx>,
    contract: ContractId,
    method: String,
    args: Vec<u8>,
) -> wasmtime::Result<i64> {
    let limit = c.data().inner.limits.max_call_depth;
    if c.data().frames.len() as u32 >= limit {
        let error = Fault::Exec(ExecError::CallDepth { limit });
        let message = error.to_string();
        c.data_mut().fault = Some(error);
        return Err(wasmtime::Error::msg(message));
    }
    let callee_error = |c: &mut Caller<'_, Ctx>, error: ExecError| {
        let message = error.to_string().into_bytes();
        let status = -(message.len() as i64) - 1;
        c.data_mut().buffer = message;
        Ok(status)
    };
    let resolved = match resolve(c, &contract, &method) {
        Ok(resolved) => resolved,
        Err(VmError::State(e)) => return Err(host_fault(c, Fault::State(e))),
        Err(e) => return Err(host_fault(c, Fault::Engine(e.to_string()))),
    };
    let (compiled, kind) = match resolved {
        Ok(found) => found,
        Err(error) => return callee_error(c, error),
    };
    let load = c.data().inner.schedule.load_per_code_byte;
    host::charge(c, load.saturating_mul(compiled.code_len as u64))?;
    if !host::callable_from_contract(kind) {
        return callee_error(
            c,
            ExecError::WrongKind {
                method,
                kind: "an init",
                reason: "it runs only at deploy",
            },
        );
    }
    let frame = c
        .data()
        .frames
        .last()
        .expect("a host function runs inside a frame");
    let (caller, read_only) = (
        Address::from(frame.contract),
        frame.read_only || kind == MethodKind::View,
    );
    let checkpoint = c.data().overlay.checkpoint();
    let events = c.data().events.len();
    match run_frame(c, &compiled, contract, caller, method, read_only, args) {
        Ok(ret) => {
            let len = ret.len() as i64;
            c.data_mut().buffer = ret;
            Ok(len)
        }
        Err(e) => {
            let gas_limit = c.data().gas_limit;
            let fault = c.data_mut().fault.take();
            let fault_is_host = matches!(fault, Some(Fault::State(_) | Fault::Engine(_)));
            let limits = c.data().inner.limits.clone();
            let error = match classify(fault.clone(), &e, gas_limit, &limits) {
                Ok(error) if !fatal(&error) && !fault_is_host => error,
                Ok(error) => return Err(host_fault(c, Fault::Exec(error))),
                Err(_) => return Err(host_fault(c, fault.expect("host faults are recorded"))),
            };
            let ctx = c.data_mut();
            ctx.overlay.revert(checkpoint);
            ctx.events.truncate(events);
            callee_error(c, error)
        }
    }
}

fn host_fault(c: &mut Caller<'_, Ctx>, fault: Fault) -> wasmtime::Error {
    let message = fault.to_string();
    c.data_mut().fault = Some(fault);
    wasmtime::Error::msg(message)
}

impl Machine for Inner {
    fn limits(&self) -> &VmLimits {
        &self.limits
    }

    fn schedule(&self) -> &GasSchedule {
        &self.schedule
    }

    fn nested_call(
        c: &mut Caller<'_, Ctx>,
        contract: ContractId,
        method: String,
        args: Vec<u8>,
    ) -> wasmtime::Result<i64> {
        nested_call(c, contract, method, args)
    }
}

impl Inner {
    /// The compiled module for `code_hash`: from memory, from disk, or compiled from `code`.
    fn load(
        &self,
        code_hash: &CodeHash,
        code: impl FnOnce() -> Result<Arc<[u8]>>,
    ) -> Result<Arc<Compiled>> {
        if let Some(hit) = self
            .modules
            .lock()
            .expect("module cache lock poisoned")
            .get(code_hash)
        {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.clone());
        }
        let code = code()?;
        let module = match self
            .disk
            .as_ref()
            .and_then(|d| d.load(&self.engine, code_hash))
        {
            Some(module) => {
                self.disk_hits.fetch_add(1, Ordering::Relaxed);
                module
            }
            None => {
                // Compile on a fresh thread: a cache miss can happen deep inside nested calls,
                // where the compiler should not share the remaining stack with wasm frames.
                let compile = || Module::from_binary(&self.engine, &code);
                let module = std::thread::scope(|s| s.spawn(compile).join())
                    .map_err(|_| VmError::Engine(format!("compiling code {code_hash} panicked")))?
                    .map_err(|e| VmError::Engine(format!("compiling code {code_hash}: {e}")))?;
                self.compiled.fetch_add(1, Ordering::Relaxed);
                if let Some(disk) = &self.disk {
                    disk.store(code_hash, &module);
                }
                module
            }
        };
        let abi = read_abi(&code).map_err(|e| VmError::Engine(format!("code {code_hash}: {e}")))?;
        let compiled = Arc::new(self.prepare(&module, abi, code.len())?);
        self.modules
            .lock()
            .expect("module cache lock poisoned")
            .put(*code_hash, compiled.clone());
        Ok(compiled)
    }

    fn prepare(&self, module: &Module, abi: ContractAbi, code_len: usize) -> Result<Compiled> {
        let pre = self
            .linker
            .instantiate_pre(module)
            .map_err(|e| VmError::Engine(e.to_string()))?;
        let export = |name: &str| {
            module
                .get_export_index(name)
                .ok_or_else(|| VmError::Engine(format!("validated module lacks export `{name}`")))
        };
        let memory = export("memory")?;
        let mut methods = HashMap::with_capacity(abi.methods.len());
        for method in &abi.methods {
            methods.insert(
                method.name.clone(),
                (
                    method.kind,
                    export(&format!("{EXPORT_PREFIX}{}", method.name))?,
                ),
            );
        }
        Ok(Compiled {
            pre,
            code_len,
            abi: Arc::new(abi),
            memory,
            methods,
        })
    }
}
