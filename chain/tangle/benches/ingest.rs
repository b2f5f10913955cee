//! Tangle block ingest next to its physical floor, in the same run:
//! - `ingest/verify_and_insert`: decode, verify (signature) on 2 threads as a node does, then
//!   insert into a Tangle over RocksDB (solidification, tips, approval weight, one batch per
//!   block). Blocks come from 4 validators, each approving the latest blocks, so confirmation
//!   bookkeeping runs as on a live network.
//! - `ingest/ed25519_floor`: only the ed25519 verifications of the same blocks on 2 threads.
//!
//! `cargo bench -p weft-tangle --bench ingest`

#![allow(clippy::unwrap_used, missing_docs, reason = "benchmark code")]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weft_tangle::{Block, Essence, PROTOCOL_VERSION, Params, Payload, RocksStore, Tangle};
use weft_types::{CommitteeMember, Keypair, TangleBlockId};

const BLOCKS: usize = 4_000;
const THREADS: usize = 2;
const NOW: u64 = 1_000_000;

fn blocks(keys: &[Keypair]) -> Vec<Vec<u8>> {
    let mut recent = vec![TangleBlockId::GENESIS];
    let mut out = Vec::with_capacity(BLOCKS);
    for i in 0..BLOCKS {
        let key = &keys[i % keys.len()];
        let mut parents: Vec<TangleBlockId> = recent.iter().rev().take(4).copied().collect();
        parents.sort();
        parents.dedup();
        let block = Block::issue(
            Essence {
                version: PROTOCOL_VERSION,
                network_id: "bench".into(),
                parents,
                issuer: key.public_key(),
                issued_at_ms: NOW,
                payload: if i % 10 == 0 {
                    Payload::Data {
                        tag: "audit".into(),
                        data: vec![i as u8; 64],
                    }
                } else {
                    Payload::Validation
                },
            },
            key,
            0,
        );
        recent.push(block.id());
        out.push(block.encode());
    }
    out
}

fn bench(c: &mut Criterion) {
    let keys: Vec<Keypair> = (1..=4u8).map(|s| Keypair::from_seed([s; 32])).collect();
    let params = Params::new(
        "bench",
        keys.iter()
            .map(|k| CommitteeMember {
                public_key: k.public_key(),
                power: 1,
            })
            .collect(),
    );
    let encoded = blocks(&keys);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BLOCKS as u64));
    group.sample_size(10);
    group.bench_function("verify_and_insert", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = RocksStore::open(dir.path(), false).unwrap();
                (dir, Tangle::open(params.clone(), store).unwrap())
            },
            |(_dir, mut tangle)| {
                let chunk = BLOCKS.div_ceil(THREADS);
                let verified: Vec<_> = std::thread::scope(|s| {
                    let handles: Vec<_> = encoded
                        .chunks(chunk)
                        .map(|part| {
                            let tangle = &tangle;
                            s.spawn(move || {
                                part.iter()
                                    .map(|bytes| {
                                        tangle.verify(Block::decode(bytes).unwrap(), NOW).unwrap()
                                    })
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|h| h.join().unwrap())
                        .collect()
                });
                for block in verified {
                    tangle.insert(block, NOW).unwrap();
                }
                assert!(tangle.tips().len() <= 8);
            },
            BatchSize::PerIteration,
        );
    });
    let decoded: Vec<Block> = encoded.iter().map(|b| Block::decode(b).unwrap()).collect();
    group.bench_function("ed25519_floor", |b| {
        b.iter(|| {
            let chunk = BLOCKS.div_ceil(THREADS);
            std::thread::scope(|s| {
                for part in decoded.chunks(chunk) {
                    s.spawn(move || {
                        for block in part {
                            let digest = block.essence.signing_digest();
                            weft_types::verify_hash(
                                &block.essence.issuer,
                                &digest,
                                &block.signature,
                            )
                            .unwrap();
                        }
                    });
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
