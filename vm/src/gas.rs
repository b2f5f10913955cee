//! The gas schedule, in one place.
//!
//! One unit of gas is one unit of wasmtime fuel: most wasm instructions cost 1 (control flow that
//! generates no code costs 0), bulk memory operations cost per byte, and host calls cost what is
//! listed here. Deploy gas covers validation (per byte of code) and compilation (per weighted byte
//! of function bodies, which tracks measured compile time even for code crafted to be slow to
//! compile), and is charged whether or not the compiled module was already cached, so gas never
//! depends on a node's cache. Changing any number here requires bumping [`GasSchedule::version`]: the version is
//! part of the compiled-module cache key, because instruction costs are compiled into the code.

use wasmtime::OperatorCost;

/// Prices of everything a contract can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasSchedule {
    /// Bumped whenever a price changes; part of the compiled-module cache key.
    pub version: u32,
    /// Every host call.
    pub host_call: u64,
    /// Per byte moved between the host and the contract's memory.
    pub copy_per_byte: u64,
    /// A storage read.
    pub storage_read: u64,
    /// Per byte of key and value read.
    pub storage_read_per_byte: u64,
    /// A storage write.
    pub storage_write: u64,
    /// Per byte of key and value written.
    pub storage_write_per_byte: u64,
    /// A storage removal.
    pub storage_remove: u64,
    /// One step of prefix iteration.
    pub storage_next: u64,
    /// An event.
    pub event: u64,
    /// Per byte of event topic and data.
    pub event_per_byte: u64,
    /// A blake3 hash.
    pub hash: u64,
    /// Per byte hashed.
    pub hash_per_byte: u64,
    /// An ed25519 signature verification.
    pub ed25519_verify: u64,
    /// Per byte of the verified message.
    pub ed25519_per_byte: u64,
    /// A cross-contract call (instantiation of the callee).
    pub call: u64,
    /// A deploy.
    pub deploy: u64,
    /// Per byte of deployed code: validation and storage.
    pub deploy_per_byte: u64,
    /// Per weighted byte of function bodies (see `ValidatedModule::compile_weight`): compilation.
    pub compile_per_weighted_byte: u64,
    /// Per 64 KiB page of linear memory a contract gets, initial pages included (zeroing and
    /// page faults).
    pub memory_page: u64,
    /// Per byte of a contract's code, on every call of it (loading the compiled module; a cache
    /// hit is cheaper, but gas must not depend on the cache).
    pub load_per_code_byte: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        // Calibrated so that 1 gas is roughly 1 ns of work on a current x86-64 core; see
        // benches/RESULTS.md for the measurements behind the host-call prices.
        Self {
            version: 1,
            host_call: 100,
            copy_per_byte: 1,
            storage_read: 2_000,
            storage_read_per_byte: 2,
            storage_write: 5_000,
            storage_write_per_byte: 20,
            storage_remove: 3_000,
            storage_next: 2_500,
            event: 1_000,
            event_per_byte: 5,
            hash: 200,
            hash_per_byte: 2,
            ed25519_verify: 50_000,
            ed25519_per_byte: 2,
            call: 10_000,
            deploy: 100_000,
            deploy_per_byte: 50,
            compile_per_weighted_byte: 500,
            memory_page: 4_000,
            load_per_code_byte: 1,
        }
    }
}

impl GasSchedule {
    /// The per-instruction fuel table compiled into every module.
    pub fn operator_costs(&self) -> OperatorCost {
        let mut costs = OperatorCost::new();
        // Memory pages are priced by the VM's limiter (`memory_page`), initial pages included;
        // the per-operator table only holds a u8 per page, far below what a page costs.
        costs.variable.memory_grow_per_page = 0;
        costs
    }

    /// Gas charged for a deploy of `code_len` bytes, before validation.
    pub fn deploy_cost(&self, code_len: usize) -> u64 {
        self.deploy
            .saturating_add(self.deploy_per_byte.saturating_mul(code_len as u64))
    }

    /// Gas charged for compiling a validated module of `compile_weight` weighted bytes.
    pub fn compile_cost(&self, compile_weight: u64) -> u64 {
        self.compile_per_weighted_byte
            .saturating_mul(compile_weight)
    }
}
