//! Criterion benchmarks of ZIP-215 signature checks (`weft_types::ed25519`): 512 signatures by
//! 500 senders, as in the load benchmark. See benches/RESULTS.md.
//!
//! - `ed25519/single`: one check at a time, each key decompressed;
//! - `ed25519/single_cached_key`: one at a time over keys decompressed beforehand;
//! - `ed25519/batch`: one batch check, each key decompressed ([`weft_types::verify_all`]);
//! - `ed25519/batch_cached_keys`: one batch check over keys decompressed beforehand, as a node
//!   does with its key cache ([`weft_types::verify_all_keyed`]);
//! - `ed25519_batch_size/batch_cached_keys_{8,32,128}`: the same for smaller batches.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on an unexpected error"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weft_types::{Hash32, Keypair, VerifyingKey, verify_all, verify_all_keyed, verify_hash};

const SIGNATURES: usize = 512;
const SENDERS: usize = 500;

fn signatures(c: &mut Criterion) {
    let keys: Vec<Keypair> = (0..SENDERS)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    let items: Vec<_> = (0..SIGNATURES)
        .map(|i| {
            let key = &keys[i % SENDERS];
            let mut hash = Hash32([0xA5; 32]);
            hash.0[..8].copy_from_slice(&(i as u64).to_le_bytes());
            (key.public_key(), hash, key.sign_hash(&hash))
        })
        .collect();
    let keyed: Vec<_> = items
        .iter()
        .map(|(key, hash, signature)| (VerifyingKey::new(key).unwrap(), *hash, *signature))
        .collect();
    let mut group = c.benchmark_group("ed25519");
    group.throughput(Throughput::Elements(SIGNATURES as u64));
    group.bench_function("single", |b| {
        b.iter(|| {
            for (key, hash, signature) in &items {
                verify_hash(key, hash, signature).unwrap();
            }
        })
    });
    group.bench_function("single_cached_key", |b| {
        b.iter(|| {
            for (key, hash, signature) in &keyed {
                key.verify(&hash.0, signature).unwrap();
            }
        })
    });
    group.bench_function("batch", |b| b.iter(|| assert!(verify_all(&items))));
    group.bench_function("batch_cached_keys", |b| {
        b.iter(|| assert!(verify_all_keyed(&keyed)))
    });
    group.finish();
    // Smaller batches, as gossip carries them (a 20 ms flush at a few thousand tx/s).
    let mut group = c.benchmark_group("ed25519_batch_size");
    for size in [8usize, 32, 128] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("batch_cached_keys_{size}"), |b| {
            b.iter(|| assert!(verify_all_keyed(&keyed[..size])))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = signatures
}
criterion_main!(benches);
