//! Host ABI v1: the functions a contract imports from the `weft` module, and the per-call context
//! they work on.
//!
//! Their names and signatures ([`HOST_FUNCTIONS`]) are defined in the `abi` module, which deploy
//! validation shares, and re-exported here. The VM running a call is reached only through the
//! `Machine` trait, which the runtime implements, so this module does not depend on the runtime.
//!
//! Variable-length results (call input, storage values, return data of a callee) are placed in a
//! host-side buffer; the function returns its length (or -1 for "none"), and the contract copies it
//! into its memory with `read_buffer`. Every function charges gas before doing its work.

use crate::abi::BlockEnv;
use crate::error::{ExecError, StateError};
use crate::gas::GasSchedule;
use crate::limits::VmLimits;
use crate::state::{Overlay, StateView};
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory, ResourceLimiter};
use weft_types::{Address, ContractId, Event, MethodKind};

pub use crate::abi::{HOST_FUNCTIONS, HOST_MODULE, HostFunction};

/// The VM that runs a call, as the host functions see it: its limits and prices, and how it runs
/// a nested call. The runtime implements it; the host never names the runtime.
pub(crate) trait Machine: Send + Sync + Sized + 'static {
    /// The limits in force.
    fn limits(&self) -> &VmLimits;

    /// The gas schedule in force.
    fn schedule(&self) -> &GasSchedule;

    /// Runs `method` of `contract` with `args` on behalf of the current frame, for the `call`
    /// host function; returns what that function returns to the contract.
    fn nested_call(
        c: &mut Caller<'_, Ctx<Self>>,
        contract: ContractId,
        method: String,
        args: Vec<u8>,
    ) -> wasmtime::Result<i64>;
}

/// Why a store stopped, in more detail than a trap.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Exec(ExecError),
    State(StateError),
    Engine(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Exec(e) => e.fmt(f),
            Fault::State(e) => write!(f, "state backend failed: {e}"),
            Fault::Engine(e) => write!(f, "engine failure: {e}"),
        }
    }
}

/// One contract invocation on the call stack.
pub(crate) struct Frame {
    pub contract: ContractId,
    pub caller: Address,
    pub method: String,
    pub read_only: bool,
    pub input: Vec<u8>,
    pub ret: Vec<u8>,
    pub memory: Option<Memory>,
}

/// Everything a running call can reach. Lives in the wasmtime `Store`.
pub(crate) struct Ctx<M> {
    pub inner: Arc<M>,
    pub view: Arc<dyn StateView>,
    pub env: BlockEnv,
    pub gas_limit: u64,
    pub frames: Vec<Frame>,
    pub overlay: Overlay,
    pub events: Vec<Event>,
    pub buffer: Vec<u8>,
    /// The precise reason for the trap in flight, set before a host function or the limiter
    /// fails, so the error the user sees is not a bare "wasm trap".
    pub fault: Option<Fault>,
    /// Gas owed for memory pages the limiter granted (it cannot reach the store's fuel); charged
    /// at the next host call and when the call ends.
    pub pending_gas: u64,
}

impl<M: Machine> Ctx<M> {
    fn limits(&self) -> &VmLimits {
        self.inner.limits()
    }

    fn schedule(&self) -> &GasSchedule {
        self.inner.schedule()
    }

    fn frame(&self) -> &Frame {
        // Host functions only run while a frame is on the stack.
        self.frames
            .last()
            .expect("host function called with no frame on the stack")
    }

    fn frame_mut(&mut self) -> &mut Frame {
        self.frames
            .last_mut()
            .expect("host function called with no frame on the stack")
    }

    fn fail(&mut self, fault: Fault) -> wasmtime::Error {
        let message = fault.to_string();
        self.fault = Some(fault);
        wasmtime::Error::msg(message)
    }

    fn host_arg(&mut self, function: &'static str, reason: String) -> wasmtime::Error {
        self.fail(Fault::Exec(ExecError::HostArgument { function, reason }))
    }

    fn state(&mut self, e: StateError) -> wasmtime::Error {
        self.fail(Fault::State(e))
    }
}

impl<M: Machine> ResourceLimiter for Ctx<M> {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.limits().max_memory_bytes();
        if desired as u64 > limit {
            return Err(self.fail(Fault::Exec(ExecError::MemoryLimit {
                requested: desired as u64,
                limit,
            })));
        }
        // Every page a contract gets, initial pages at instantiation included, is priced.
        let pages = (desired.saturating_sub(current) as u64).div_ceil(65_536);
        let price = self.schedule().memory_page;
        self.pending_gas = self.pending_gas.saturating_add(pages.saturating_mul(price));
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The limiter allowed the growth and the host could not provide it: a resource failure of
        // this node. Letting the contract see -1 would let it take a branch other nodes do not.
        Err(self.fail(Fault::Engine(format!(
            "memory growth failed in the host: {error}"
        ))))
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(self.fail(Fault::Engine(format!(
            "table growth failed in the host: {error}"
        ))))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = u64::from(self.limits().max_table_elements);
        if desired as u64 > limit {
            return Err(self.fail(Fault::Exec(ExecError::TableLimit {
                requested: desired as u64,
                limit,
            })));
        }
        Ok(true)
    }
}

type Cx<'a, M> = Caller<'a, Ctx<M>>;

/// Deducts `amount` gas, failing with out-of-gas when there is not enough.
pub(crate) fn charge<M: Machine>(caller: &mut Cx<'_, M>, amount: u64) -> wasmtime::Result<()> {
    let amount = amount.saturating_add(std::mem::take(&mut caller.data_mut().pending_gas));
    let left = caller.get_fuel()?;
    if left < amount {
        caller.set_fuel(0)?;
        let limit = caller.data().gas_limit;
        return Err(caller
            .data_mut()
            .fail(Fault::Exec(ExecError::OutOfGas { limit })));
    }
    caller.set_fuel(left - amount)
}

fn memory<M: Machine>(caller: &Cx<'_, M>) -> Memory {
    // Frames get their memory right after instantiation, before any export runs.
    caller
        .data()
        .frame()
        .memory
        .expect("frame memory is set before the contract runs")
}

/// Copies `len` bytes at `ptr` out of the contract's memory, charging per byte.
fn read<M: Machine>(
    caller: &mut Cx<'_, M>,
    function: &'static str,
    ptr: u32,
    len: u32,
    max: usize,
) -> wasmtime::Result<Vec<u8>> {
    if len as usize > max {
        return Err(caller.data_mut().host_arg(
            function,
            format!("argument of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    let per_byte = caller.data().schedule().copy_per_byte;
    charge(caller, per_byte * u64::from(len))?;
    let mem = memory(caller);
    let (data, ctx) = mem.data_and_store_mut(&mut *caller);
    let range = (ptr as usize)..(ptr as usize).saturating_add(len as usize);
    match data.get(range) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(ctx.host_arg(
            function,
            format!(
                "range {ptr}..{} is outside the contract's memory of {} bytes",
                ptr as u64 + u64::from(len),
                data.len()
            ),
        )),
    }
}

/// Copies `bytes` into the contract's memory at `ptr`, charging per byte.
fn write<M: Machine>(
    caller: &mut Cx<'_, M>,
    function: &'static str,
    ptr: u32,
    bytes: &[u8],
) -> wasmtime::Result<()> {
    let per_byte = caller.data().schedule().copy_per_byte;
    charge(caller, per_byte * bytes.len() as u64)?;
    let mem = memory(caller);
    let (data, ctx) = mem.data_and_store_mut(&mut *caller);
    let range = (ptr as usize)..(ptr as usize).saturating_add(bytes.len());
    match data.get_mut(range) {
        Some(target) => {
            target.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(ctx.host_arg(
            function,
            format!(
                "range {ptr}..{} is outside the contract's memory of {} bytes",
                ptr as u64 + bytes.len() as u64,
                data.len()
            ),
        )),
    }
}

fn set_buffer<M: Machine>(caller: &mut Cx<'_, M>, bytes: Vec<u8>) -> i64 {
    let len = bytes.len() as i64;
    caller.data_mut().buffer = bytes;
    len
}

fn require_writable<M: Machine>(
    caller: &mut Cx<'_, M>,
    action: &'static str,
) -> wasmtime::Result<()> {
    let frame = caller.data().frame();
    if frame.read_only {
        let method = frame.method.clone();
        return Err(caller
            .data_mut()
            .fail(Fault::Exec(ExecError::ReadOnly { method, action })));
    }
    Ok(())
}

fn base<M: Machine>(caller: &mut Cx<'_, M>, extra: u64) -> wasmtime::Result<()> {
    let cost = caller.data().schedule().host_call.saturating_add(extra);
    charge(caller, cost)
}

/// Registers host ABI v1 in `linker`.
pub(crate) fn link<M: Machine>(linker: &mut Linker<Ctx<M>>) -> wasmtime::Result<()> {
    linker.func_wrap(
        HOST_MODULE,
        "read_buffer",
        |mut c: Cx<'_, M>, ptr: u32| -> wasmtime::Result<()> {
            base(&mut c, 0)?;
            let buffer = std::mem::take(&mut c.data_mut().buffer);
            let result = write(&mut c, "read_buffer", ptr, &buffer);
            c.data_mut().buffer = buffer;
            result
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "input",
        |mut c: Cx<'_, M>| -> wasmtime::Result<u32> {
            let per_byte = c.data().schedule().copy_per_byte;
            let len = c.data().frame().input.len() as u64;
            base(&mut c, per_byte.saturating_mul(len))?;
            let input = c.data().frame().input.clone();
            Ok(set_buffer(&mut c, input) as u32)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "set_return",
        |mut c: Cx<'_, M>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            base(&mut c, 0)?;
            let max = c.data().limits().max_data_size;
            let data = read(&mut c, "set_return", ptr, len, max)?;
            c.data_mut().frame_mut().ret = data;
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "abort",
        |mut c: Cx<'_, M>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            base(&mut c, 0)?;
            let bytes = read(&mut c, "abort", ptr, len.min(4096), 4096)?;
            let message = String::from_utf8_lossy(&bytes).into_owned();
            Err(c
                .data_mut()
                .fail(Fault::Exec(ExecError::Aborted { message })))
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "storage_get",
        |mut c: Cx<'_, M>, kp: u32, kl: u32| -> wasmtime::Result<i64> {
            let s = c.data().schedule().clone_read_costs();
            base(&mut c, s.0)?;
            let max = c.data().limits().max_key_size;
            let key = read(&mut c, "storage_get", kp, kl, max)?;
            let ctx = c.data();
            let contract = ctx.frame().contract;
            let value = ctx.overlay.get(&*ctx.view, &contract, &key);
            match value {
                Err(e) => Err(c.data_mut().state(e)),
                Ok(None) => Ok(-1),
                Ok(Some(v)) => {
                    charge(&mut c, s.1 * (key.len() + v.len()) as u64)?;
                    Ok(set_buffer(&mut c, v))
                }
            }
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "storage_set",
        |mut c: Cx<'_, M>, kp: u32, kl: u32, vp: u32, vl: u32| -> wasmtime::Result<()> {
            require_writable(&mut c, "write storage")?;
            let (cost, per_byte) = (
                c.data().schedule().storage_write,
                c.data().schedule().storage_write_per_byte,
            );
            base(&mut c, cost + per_byte * u64::from(kl.saturating_add(vl)))?;
            let (max_key, max_value) = (
                c.data().limits().max_key_size,
                c.data().limits().max_value_size,
            );
            let key = read(&mut c, "storage_set", kp, kl, max_key)?;
            let value = read(&mut c, "storage_set", vp, vl, max_value)?;
            let ctx = c.data_mut();
            let contract = ctx.frame().contract;
            ctx.overlay.put(contract, key, Some(value));
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "storage_remove",
        |mut c: Cx<'_, M>, kp: u32, kl: u32| -> wasmtime::Result<()> {
            require_writable(&mut c, "remove storage")?;
            let cost = c.data().schedule().storage_remove;
            base(&mut c, cost)?;
            let max = c.data().limits().max_key_size;
            let key = read(&mut c, "storage_remove", kp, kl, max)?;
            let ctx = c.data_mut();
            let contract = ctx.frame().contract;
            ctx.overlay.put(contract, key, None);
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "storage_next",
        |mut c: Cx<'_, M>,
         pp: u32,
         pl: u32,
         ap: u32,
         al: u32,
         has_after: u32|
         -> wasmtime::Result<i64> {
            let (cost, per_byte) = (
                c.data().schedule().storage_next,
                c.data().schedule().storage_read_per_byte,
            );
            base(&mut c, cost)?;
            let max = c.data().limits().max_key_size;
            let prefix = read(&mut c, "storage_next", pp, pl, max)?;
            let after = if has_after != 0 {
                Some(read(&mut c, "storage_next", ap, al, max)?)
            } else {
                None
            };
            let ctx = c.data();
            let contract = ctx.frame().contract;
            // Each pending deletion skipped costs another step; stop once the gas left could not
            // pay for more, so the work done before charging stays bounded by the gas.
            let max_skips = c.get_fuel()? / cost.max(1);
            let ctx = c.data();
            let step =
                ctx.overlay
                    .next(&*ctx.view, &contract, &prefix, after.as_deref(), max_skips);
            let (entry, skipped) = match step {
                Err(e) => return Err(c.data_mut().state(e)),
                Ok(step) => step,
            };
            charge(&mut c, cost.saturating_mul(skipped))?;
            match entry {
                None => Ok(-1),
                Some((key, value)) => {
                    charge(&mut c, per_byte * (key.len() + value.len()) as u64)?;
                    let mut out = Vec::with_capacity(4 + key.len() + value.len());
                    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                    out.extend_from_slice(&key);
                    out.extend_from_slice(&value);
                    Ok(set_buffer(&mut c, out))
                }
            }
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "caller",
        |mut c: Cx<'_, M>, ptr: u32| -> wasmtime::Result<()> {
            base(&mut c, 0)?;
            let who = c.data().frame().caller;
            write(&mut c, "caller", ptr, &who.0)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "self_id",
        |mut c: Cx<'_, M>, ptr: u32| -> wasmtime::Result<()> {
            base(&mut c, 0)?;
            let id = c.data().frame().contract;
            write(&mut c, "self_id", ptr, &id.0)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "block_height",
        |mut c: Cx<'_, M>| -> wasmtime::Result<u64> {
            base(&mut c, 0)?;
            Ok(c.data().env.height)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "block_time",
        |mut c: Cx<'_, M>| -> wasmtime::Result<u64> {
            base(&mut c, 0)?;
            Ok(c.data().env.time_ms)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "gas_left",
        |mut c: Cx<'_, M>| -> wasmtime::Result<u64> {
            base(&mut c, 0)?;
            c.get_fuel()
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "emit",
        |mut c: Cx<'_, M>, tp: u32, tl: u32, dp: u32, dl: u32| -> wasmtime::Result<()> {
            require_writable(&mut c, "emit an event")?;
            let (cost, per_byte) = (
                c.data().schedule().event,
                c.data().schedule().event_per_byte,
            );
            base(&mut c, cost + per_byte * u64::from(tl.saturating_add(dl)))?;
            let limits = c.data().limits().clone();
            let topic = read(&mut c, "emit", tp, tl, limits.max_event_topic)?;
            let data = read(&mut c, "emit", dp, dl, limits.max_event_data)?;
            let Ok(topic) = String::from_utf8(topic) else {
                return Err(c
                    .data_mut()
                    .host_arg("emit", "the event topic is not valid UTF-8".into()));
            };
            let ctx = c.data_mut();
            if ctx.events.len() >= limits.max_events {
                return Err(ctx.host_arg(
                    "emit",
                    format!("more than {} events in one call", limits.max_events),
                ));
            }
            let contract = ctx.frame().contract;
            ctx.events.push(Event {
                contract,
                topic,
                data,
            });
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "call",
        |mut c: Cx<'_, M>, idp: u32, mp: u32, ml: u32, ap: u32, al: u32| -> wasmtime::Result<i64> {
            let cost = c.data().schedule().call;
            base(&mut c, cost)?;
            let max = c.data().limits().max_data_size;
            let id = read(&mut c, "call", idp, 32, 32)?;
            let method = read(&mut c, "call", mp, ml, weft_types::abi::MAX_METHOD_NAME)?;
            let args = read(&mut c, "call", ap, al, max)?;
            let contract = ContractId(id.try_into().expect("read returned exactly 32 bytes"));
            let Ok(method) = String::from_utf8(method) else {
                return Err(c
                    .data_mut()
                    .host_arg("call", "the method name is not valid UTF-8".into()));
            };
            M::nested_call(&mut c, contract, method, args)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "blake3",
        |mut c: Cx<'_, M>, p: u32, l: u32, out: u32| -> wasmtime::Result<()> {
            let (cost, per_byte) = (c.data().schedule().hash, c.data().schedule().hash_per_byte);
            base(&mut c, cost + per_byte * u64::from(l))?;
            let max = c.data().limits().max_value_size;
            let data = read(&mut c, "blake3", p, l, max)?;
            write(&mut c, "blake3", out, blake3::hash(&data).as_bytes())
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "ed25519_verify",
        |mut c: Cx<'_, M>, pkp: u32, sp: u32, mp: u32, ml: u32| -> wasmtime::Result<u32> {
            let (cost, per_byte) = (
                c.data().schedule().ed25519_verify,
                c.data().schedule().ed25519_per_byte,
            );
            base(&mut c, cost + per_byte * u64::from(ml))?;
            let max = c.data().limits().max_value_size;
            let pk = read(&mut c, "ed25519_verify", pkp, 32, 32)?;
            let sig = read(&mut c, "ed25519_verify", sp, 64, 64)?;
            let msg = read(&mut c, "ed25519_verify", mp, ml, max)?;
            let pk: [u8; 32] = pk.try_into().expect("read returned exactly 32 bytes");
            let sig: [u8; 64] = sig.try_into().expect("read returned exactly 64 bytes");
            // The same rule as every other signature check (ZIP-215), so a contract judges a
            // signature exactly as the chain does.
            let Ok(key) = weft_types::VerifyingKey::new(&weft_types::PublicKey(pk)) else {
                return Ok(0);
            };
            Ok(u32::from(
                key.verify(&msg, &weft_types::Signature(sig)).is_ok(),
            ))
        },
    )?;
    Ok(())
}

impl GasSchedule {
    fn clone_read_costs(&self) -> (u64, u64) {
        (self.storage_read, self.storage_read_per_byte)
    }
}

/// Whether a method of `kind` may be entered from a contract call.
pub(crate) fn callable_from_contract(kind: MethodKind) -> bool {
    kind != MethodKind::Init
}
