//! Criterion benchmarks of the node's block execution, without RPC: a block of 1,000
//! `counter.increment` calls from 500 senders executed and committed (JMT update, synced RocksDB
//! write) by the executor. See benches/RESULTS.md.
//!
//! - `block/execute_commit_1000`: signatures checked by the executor, as for a block from a peer;
//! - `block/execute_commit_1000_preverified`: signatures already checked at admission, as for the
//!   node's own block.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on an unexpected error"
)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;
use weft_executor::COLUMN_FAMILIES;
use weft_executor::Executor;
use weft_state::StateStore;
use weft_types::{Action, ChainId, ContractId, Keypair, SignedTransaction, Transaction};
use weft_vm::{Vm, VmConfig};

const CHAIN: &str = "weft-bench";
const SENDERS: usize = 500;
const BLOCK: usize = 1_000;

fn tx(key: &Keypair, nonce: u64, action: Action) -> SignedTransaction {
    key.sign(Transaction {
        chain_id: ChainId(CHAIN.into()),
        sender: key.public_key(),
        nonce,
        gas_limit: 10_000_000,
        action,
    })
}

fn blocks(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(StateStore::open(dir.path(), COLUMN_FAMILIES).unwrap());
    let executor = Executor::new(
        Vm::new(VmConfig {
            cache_dir: Some(dir.path().join("modules")),
            ..VmConfig::default()
        })
        .unwrap(),
        store,
        ChainId(CHAIN.into()),
        100_000_000,
    );
    let deployer = Keypair::from_seed([1; 32]);
    let wasm =
        weft_testkit::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/counter"));
    let deploy = tx(
        &deployer,
        0,
        Action::Deploy {
            code: wasm,
            init_args: borsh::to_vec(&(0u64,)).unwrap(),
        },
    );
    let proposer = deployer.public_key();
    executor.execute(1, 1, proposer, vec![deploy]).unwrap();
    let counter = ContractId::derive(&deployer.public_key().address(), 0);
    let senders: Vec<Keypair> = (0..SENDERS)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    let nonces = Cell::new(0u64);
    let height = Cell::new(1u64);
    let make_block = || {
        let base = nonces.get();
        nonces.set(base + (BLOCK / SENDERS) as u64);
        let mut txs = Vec::with_capacity(BLOCK);
        for n in 0..(BLOCK / SENDERS) as u64 {
            for key in &senders {
                let action = Action::Call {
                    contract: counter,
                    method: "increment".into(),
                    args: borsh::to_vec(&(1u64,)).unwrap(),
                };
                txs.push(tx(key, base + n, action));
            }
        }
        height.set(height.get() + 1);
        (height.get(), txs)
    };

    let mut group = c.benchmark_group("block");
    group.throughput(Throughput::Elements(BLOCK as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("execute_commit_1000", |b| {
        b.iter_batched(
            make_block,
            |(h, txs)| executor.execute(h, h, proposer, txs).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("execute_commit_1000_preverified", |b| {
        b.iter_batched(
            make_block,
            |(h, txs)| {
                executor
                    .execute_with(h, h, proposer, txs, &|txs, _| vec![true; txs.len()])
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, blocks);
criterion_main!(benches);
