//! Determinism: the same calls give the same results, writes, events and gas whether the module
//! was just compiled, found in memory, loaded from the disk cache by a restarted process, or run
//! without the pooling allocator; and NaNs are canonical.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{Harness, module};
use std::path::Path;
use std::process::Command;
use weft_types::MethodKind::Call;
use weft_vm::{CacheStats, VmConfig};

/// `run` increments a stored counter, computes 0/0 as f64 from it, emits both and returns both.
const SCENARIO: &str = r#"(module
  (import "weft" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "weft" "read_buffer" (func $rb (param i32)))
  (import "weft" "storage_set" (func $set (param i32 i32 i32 i32)))
  (import "weft" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "weft" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (func (export "weft:run") (local $n i64) (local $zero f64)
    (if (i64.ge_s (call $get (i32.const 0) (i32.const 1)) (i64.const 0))
      (then (call $rb (i32.const 16)) (local.set $n (i64.load (i32.const 16)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (i64.store (i32.const 16) (local.get $n))
    (call $set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 8))
    (local.set $zero (f64.convert_i64_s (i64.sub (local.get $n) (local.get $n))))
    (f64.store (i32.const 24) (f64.div (local.get $zero) (local.get $zero)))
    (call $emit (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 16))
    (call $ret (i32.const 16) (i32.const 16)))
  (func (export "weft:spin") (loop (br 0))))"#;

/// Deploys the scenario contract and calls it; returns every outcome, printed, and cache stats.
fn scenario(config: VmConfig) -> (String, CacheStats) {
    let mut h = Harness::with_config(config);
    let code = module(SCENARIO, &[("run", Call), ("spin", Call)]);
    let (id, deployed) = h.deploy(&code);
    let mut log = format!("{deployed:?}\n");
    for _ in 0..3 {
        log += &format!("{:?}\n", h.call(id, "run", 1_000_000));
    }
    log += &format!("{:?}\n", h.call(id, "run", 15_000));
    log += &format!("{:?}\n", h.call(id, "spin", 100_000));
    (log, h.vm.cache_stats())
}

fn cached(dir: &Path) -> VmConfig {
    VmConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..VmConfig::default()
    }
}

#[test]
fn same_outcome_on_cache_miss_hit_and_without_pooling() {
    let (fresh, stats) = scenario(VmConfig::default());
    assert_eq!(stats.compiled, 1);
    assert!(
        stats.memory_hits >= 5,
        "later calls hit the in-memory cache: {stats:?}"
    );
    let (unpooled, _) = scenario(VmConfig {
        pooling: false,
        ..VmConfig::default()
    });
    assert_eq!(fresh, unpooled);
    // The return data holds the counter and canonical NaN bits (little-endian 0x7ff8…).
    assert!(
        fresh.contains("return_data: [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 248, 127]"),
        "{fresh}"
    );
    assert!(fresh.contains("OutOfGas { limit: 15000 }"), "{fresh}");
}

#[test]
fn same_outcome_after_memory_cache_eviction() {
    let mut h = Harness::new();
    let code = module(SCENARIO, &[("run", Call), ("spin", Call)]);
    let (id, _) = h.deploy(&code);
    let first = h.call(id, "run", 1_000_000);
    h.vm.clear_memory_cache();
    let (id2, _) = h.deploy(&code);
    let second = h.call(id2, "run", 1_000_000);
    assert_eq!(h.vm.cache_stats().compiled, 2);
    assert_eq!(first.gas_used, second.gas_used);
    assert_eq!(
        first.result.unwrap().return_data,
        second.result.unwrap().return_data
    );
}

const CHILD_DIR: &str = "WEFT_VM_TEST_CACHE_DIR";

#[test]
fn restart_loads_from_disk_cache_and_behaves_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (parent, stats) = scenario(cached(dir.path()));
    assert_eq!((stats.compiled, stats.disk_hits), (1, 0));

    // A new process with the same cache directory: nothing is compiled, everything is equal.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_scenario",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let child = stdout
        .split("<<SCENARIO>>")
        .nth(1)
        .expect("child printed its scenario");
    assert_eq!(child, parent);
    assert!(
        stdout.contains("<<STATS compiled=0 disk_hits=1>>"),
        "{stdout}"
    );
}

/// Run by the test above in a child process; run directly, it checks a cold disk cache.
#[test]
fn child_process_scenario() {
    match std::env::var_os(CHILD_DIR) {
        Some(dir) => {
            let (log, stats) = scenario(cached(Path::new(&dir)));
            println!(
                "<<STATS compiled={} disk_hits={}>>",
                stats.compiled, stats.disk_hits
            );
            print!("<<SCENARIO>>{log}<<SCENARIO>>");
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let (_, stats) = scenario(cached(dir.path()));
            assert_eq!((stats.compiled, stats.disk_hits), (1, 0));
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                1,
                "one module file was written"
            );
        }
    }
}

#[test]
fn damaged_cache_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = scenario(cached(dir.path()));
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let (second, stats) = scenario(cached(dir.path()));
    assert_eq!(
        (stats.compiled, stats.disk_hits),
        (1, 0),
        "the damaged file is recompiled"
    );
    assert_eq!(first, second);
}
