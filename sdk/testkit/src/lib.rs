//! `weft-testkit`: an in-process Weft chain for contract tests.
//!
//! [`build_contract`] compiles a contract crate to `wasm32-unknown-unknown` (small: `opt-level=z`,
//! LTO, `panic=abort`) the way a node will receive it; [`Chain`] deploys and calls it in the real
//! VM (wasmtime, gas, limits, host ABI), over in-memory state. A failing call reverts its own
//! writes only; receipts carry status, gas, events and return data; block height and time advance
//! only when you say so.
//!
//! The build functions are re-exported from `weft-build`, which also has the
//! `weft-build-contract` binary; build contracts with that crate when you don't need the VM.
//!
//! ```no_run
//! use weft_testkit::{build_contract, Chain};
//!
//! let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
//! let mut chain = Chain::new();
//! let alice = chain.account("alice");
//! let counter = chain.deploy(alice, &wasm, &(5u64,)).contract();
//! let receipt = chain.call(alice, counter, "increment", &(2u64,));
//! assert_eq!(receipt.value::<u64>(), 7);
//! assert_eq!(chain.view::<u64>(counter, "get", &()).unwrap(), 7);
//! ```

pub use weft_build::{BuildError, build_contract, build_contract_file, try_build_contract};
pub use weft_types::{Address, ContractAbi, ContractId, Event, MethodKind};
pub use weft_vm::{BlockEnv, ExecError, Outcome, Vm, VmConfig};

use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use weft_vm::testing::MemState;
use weft_vm::{Call, Deploy};

/// Gas limit of calls unless [`Chain::set_gas_limit`] changes it.
pub const DEFAULT_GAS_LIMIT: u64 = 300_000_000;

/// What a deploy or call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Return data on success; the reason on failure.
    pub status: Result<Vec<u8>, ExecError>,
    /// Gas consumed (charged on failure too).
    pub gas_used: u64,
    /// Events emitted (none on failure).
    pub events: Vec<Event>,
    /// The new contract, for a successful deploy.
    pub contract: Option<ContractId>,
    /// Number of storage writes applied.
    pub writes: usize,
}

impl Receipt {
    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        self.status.is_ok()
    }

    /// The error, if the call failed.
    pub fn error(&self) -> Option<&ExecError> {
        self.status.as_ref().err()
    }

    /// The deployed contract; panics with the error if the deploy failed.
    pub fn contract(&self) -> ContractId {
        match (&self.status, self.contract) {
            (Ok(_), Some(id)) => id,
            (Err(e), _) => panic!("deploy failed: {e}"),
            (Ok(_), None) => panic!("this receipt is not a deploy's"),
        }
    }

    /// The decoded return value; panics with the error if the call failed or the bytes do not
    /// decode as `T`.
    pub fn value<T: BorshDeserialize>(&self) -> T {
        match &self.status {
            Ok(bytes) => borsh::from_slice(bytes).unwrap_or_else(|e| {
                panic!(
                    "return data {} does not decode as {}: {e}",
                    hex(bytes),
                    std::any::type_name::<T>()
                )
            }),
            Err(e) => panic!("call failed: {e}"),
        }
    }

    /// The error message; panics if the call succeeded.
    pub fn error_message(&self) -> String {
        match &self.status {
            Ok(_) => panic!("expected the call to fail, but it succeeded"),
            Err(e) => e.to_string(),
        }
    }

    /// Events with `topic`, with their data decoded as `T`.
    pub fn events_of<T: BorshDeserialize>(&self, topic: &str) -> Vec<T> {
        self.events
            .iter()
            .filter(|e| e.topic == topic)
            .map(|e| {
                borsh::from_slice(&e.data).unwrap_or_else(|err| {
                    panic!(
                        "event {topic:?} does not decode as {}: {err}",
                        std::any::type_name::<T>()
                    )
                })
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-process chain: a VM over in-memory state, with a block clock you control.
pub struct Chain {
    vm: Vm,
    state: Arc<MemState>,
    env: BlockEnv,
    gas_limit: u64,
    deploys: BTreeMap<Address, u64>,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// A chain at height 1, time 2026-01-01T00:00:00Z, with the default VM configuration.
    pub fn new() -> Self {
        Self::with_vm(Vm::new(VmConfig::default()).expect("the default VM configuration is valid"))
    }

    /// A chain that runs contracts in `vm` (to share a module cache or use other limits).
    pub fn with_vm(vm: Vm) -> Self {
        Self {
            vm,
            state: Arc::new(MemState::default()),
            env: BlockEnv {
                height: 1,
                time_ms: 1_767_225_600_000,
            },
            gas_limit: DEFAULT_GAS_LIMIT,
            deploys: BTreeMap::new(),
        }
    }

    /// The VM, for its cache statistics or limits.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// A deterministic address for a named test account.
    pub fn account(&self, name: &str) -> Address {
        Address(weft_types::domain_hash("weft/testkit/account", &[name.as_bytes()]).0)
    }

    /// Sets the gas limit of later deploys and calls.
    pub fn set_gas_limit(&mut self, gas_limit: u64) {
        self.gas_limit = gas_limit;
    }

    /// The current block height.
    pub fn height(&self) -> u64 {
        self.env.height
    }

    /// The current block time in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.env.time_ms
    }

    /// Moves `blocks` blocks ahead, one second each.
    pub fn advance_blocks(&mut self, blocks: u64) {
        self.env.height += blocks;
        self.env.time_ms += blocks * 1_000;
    }

    /// Moves the block time ahead without changing the height.
    pub fn advance_time(&mut self, by: Duration) {
        self.env.time_ms += by.as_millis() as u64;
    }

    /// Storage entries of `contract`, in key order.
    pub fn storage(&self, contract: ContractId) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.state.entries(&contract)
    }

    fn apply(&mut self, outcome: Outcome, contract: Option<ContractId>) -> Receipt {
        let (status, events, writes, contract) = match outcome.result {
            Ok(success) => {
                let writes = success.writes.storage.len();
                Arc::make_mut(&mut self.state).apply(&success.writes);
                (Ok(success.return_data), success.events, writes, contract)
            }
            Err(e) => (Err(e), Vec::new(), 0, None),
        };
        Receipt {
            status,
            gas_used: outcome.gas_used,
            events,
            contract,
            writes,
        }
    }

    /// Deploys `code` from `sender`, running its init method with `init_args` (a tuple of the init
    /// method's arguments; `&()` when it has none).
    pub fn deploy(
        &mut self,
        sender: Address,
        code: &[u8],
        init_args: &impl BorshSerialize,
    ) -> Receipt {
        let nonce = self.deploys.entry(sender).or_default();
        let contract = ContractId::derive(&sender, *nonce);
        *nonce += 1;
        self.deploy_at(sender, contract, code, init_args)
    }

    /// Deploys `code` at the well-known id of system contract `name` ([`ContractId::system`]),
    /// as a chain's genesis does, so contracts that call it there find it.
    pub fn install_system(
        &mut self,
        name: &str,
        code: &[u8],
        init_args: &impl BorshSerialize,
    ) -> Receipt {
        let sender = self.account("genesis");
        self.deploy_at(sender, ContractId::system(name), code, init_args)
    }

    fn deploy_at(
        &mut self,
        sender: Address,
        contract: ContractId,
        code: &[u8],
        init_args: &impl BorshSerialize,
    ) -> Receipt {
        let init_args = borsh::to_vec(init_args).expect("borsh encoding into a Vec cannot fail");
        let init_args = if init_args.is_empty() {
            Vec::new()
        } else {
            init_args
        };
        let deploy = Deploy {
            sender,
            contract,
            code: code.into(),
            init_args,
            gas_limit: self.gas_limit,
        };
        let outcome = self
            .vm
            .deploy(self.state.clone(), self.env, deploy)
            .expect("in-memory state cannot fail");
        self.apply(outcome, Some(contract))
    }

    /// Calls `method` of `contract` as `sender` with `args` (a tuple of the method's arguments).
    pub fn call(
        &mut self,
        sender: Address,
        contract: ContractId,
        method: &str,
        args: &impl BorshSerialize,
    ) -> Receipt {
        let outcome = self.run(sender, contract, method, args, false);
        self.apply(outcome, None)
    }

    /// Queries a view method and decodes its result.
    pub fn view<R: BorshDeserialize>(
        &self,
        contract: ContractId,
        method: &str,
        args: &impl BorshSerialize,
    ) -> Result<R, ExecError> {
        let outcome = self.run(Address::default(), contract, method, args, true);
        outcome.result.map(|success| {
            borsh::from_slice(&success.return_data).unwrap_or_else(|e| {
                panic!(
                    "result of `{method}` does not decode as {}: {e}",
                    std::any::type_name::<R>()
                )
            })
        })
    }

    /// Runs a call or query and returns the VM's raw outcome without applying it.
    pub fn dry_run(
        &self,
        sender: Address,
        contract: ContractId,
        method: &str,
        args: &impl BorshSerialize,
    ) -> Outcome {
        self.run(sender, contract, method, args, false)
    }

    fn run(
        &self,
        caller: Address,
        contract: ContractId,
        method: &str,
        args: &impl BorshSerialize,
        query: bool,
    ) -> Outcome {
        let args = borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail");
        let call = Call {
            caller,
            contract,
            method: method.to_string(),
            args,
            gas_limit: self.gas_limit,
        };
        let state = self.state.clone();
        let result = if query {
            self.vm.query(state, self.env, call)
        } else {
            self.vm.call(state, self.env, call)
        };
        result.expect("in-memory state cannot fail")
    }
}
