//! The state store over a real RocksDB: history, iteration, proofs, reopening, crashes.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use weft_state::{ProofError, StateError, StateStore};

type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn writes(pairs: &[(&str, Option<&str>)]) -> Writes {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn open(dir: &std::path::Path) -> StateStore {
    StateStore::open(dir, &["blocks"]).unwrap()
}

#[test]
fn commits_keep_history_and_latest_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.version().unwrap(), None);
    let r1 = store
        .commit(
            1,
            &writes(&[("a/1", Some("x")), ("a/2", Some("y")), ("b/1", Some("z"))]),
            |_| {},
        )
        .unwrap();
    // Read before the next commit: what a read keeps does not outlive the commit.
    assert_eq!(store.get(b"a/1").unwrap(), Some(b"x".to_vec()));
    assert_eq!(store.get(b"a/2").unwrap(), Some(b"y".to_vec()));
    let r2 = store
        .commit(2, &writes(&[("a/1", Some("x2")), ("a/2", None)]), |_| {})
        .unwrap();
    assert_ne!(r1, r2);
    assert_eq!(store.version().unwrap(), Some(2));
    assert_eq!((store.root(1).unwrap(), store.root(2).unwrap()), (r1, r2));

    assert_eq!(store.get(b"a/1").unwrap(), Some(b"x2".to_vec()));
    assert_eq!(store.get(b"a/2").unwrap(), None);
    assert_eq!(store.get_at(b"a/1", 1).unwrap(), Some(b"x".to_vec()));
    assert_eq!(store.get_at(b"a/2", 1).unwrap(), Some(b"y".to_vec()));
    assert_eq!(store.get_at(b"a/2", 2).unwrap(), None);
    assert_eq!(
        store.get_at(b"b/1", 2).unwrap(),
        Some(b"z".to_vec()),
        "unchanged keys carry over"
    );

    let r3 = store.commit(3, &Writes::new(), |_| {}).unwrap();
    assert_eq!(r3, r2, "a block without writes keeps the root");

    assert!(matches!(
        store.commit(3, &writes(&[("c", Some("1"))]), |_| {}),
        Err(StateError::OutOfOrder {
            attempted: 3,
            latest: Some(3)
        })
    ));
    let err = store.get_at(b"a/1", 9).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no state at version 9; committed versions go up to Some(3)"
    );
}

#[test]
fn prefix_iteration_follows_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .commit(
            1,
            &writes(&[
                ("a/3", Some("3")),
                ("a/1", Some("1")),
                ("a/2", Some("2")),
                ("b/1", Some("b")),
                ("0", Some("0")),
            ]),
            |_| {},
        )
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while let Some((k, _)) = store.next(b"a/", after.as_deref()).unwrap() {
        seen.push(String::from_utf8(k.clone()).unwrap());
        after = Some(k);
    }
    assert_eq!(seen, ["a/1", "a/2", "a/3"]);
    assert_eq!(
        store.next(b"a/", Some(b"0")).unwrap().unwrap().0,
        b"a/1",
        "a cursor below the prefix starts at it"
    );
    assert_eq!(store.next(b"c/", None).unwrap(), None);
}

#[test]
fn proofs_verify_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let r1 = store
        .commit(
            1,
            &writes(&[
                ("did:weft:alice", Some("doc-v1")),
                ("did:weft:bob", Some("doc-b")),
            ]),
            |_| {},
        )
        .unwrap();
    let r2 = store
        .commit(2, &writes(&[("did:weft:alice", Some("doc-v2"))]), |_| {})
        .unwrap();

    let proof = store.prove(b"did:weft:alice", 2).unwrap();
    assert_eq!(
        proof.verify_key(&r2, b"did:weft:alice").unwrap(),
        Some(b"doc-v2".as_slice())
    );
    let old = store.prove(b"did:weft:alice", 1).unwrap();
    assert_eq!(
        old.verify_key(&r1, b"did:weft:alice").unwrap(),
        Some(b"doc-v1".as_slice())
    );
    let absent = store.prove(b"did:weft:carol", 2).unwrap();
    assert_eq!(
        absent.verify_key(&r2, b"did:weft:carol").unwrap(),
        None,
        "exclusion proof"
    );

    // Wrong value, wrong root, wrong key, claimed absence of a present key: all fail.
    let mut wrong_value = store.prove(b"did:weft:alice", 2).unwrap();
    wrong_value.value = Some(b"doc-forged".to_vec());
    assert!(matches!(
        wrong_value.verify(&r2),
        Err(ProofError::Mismatch { .. })
    ));
    assert!(
        matches!(proof.verify(&r1), Err(ProofError::Mismatch { .. })),
        "a proof at version 2 does not match root 1"
    );
    assert!(matches!(
        proof.verify_key(&r2, b"did:weft:bob"),
        Err(ProofError::WrongKey { .. })
    ));
    let mut hidden = store.prove(b"did:weft:bob", 2).unwrap();
    hidden.value = None;
    assert!(hidden.verify(&r2).is_err());
    // The proof survives a borsh round trip (it travels to clients).
    let bytes = borsh::to_vec(&proof).unwrap();
    let decoded: weft_state::StateProof = borsh::from_slice(&bytes).unwrap();
    assert!(decoded.verify(&r2).is_ok());
}

#[test]
fn reopening_keeps_everything_and_extra_data_commits_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let store = open(dir.path());
        store
            .commit(1, &writes(&[("k", Some("v"))]), |_| {})
            .unwrap();
        let store_ref = &store;
        store
            .commit(2, &writes(&[("k", Some("w"))]), |batch| {
                batch.put_cf(
                    store_ref.db().cf_handle("blocks").unwrap(),
                    b"block-2",
                    b"header",
                );
            })
            .unwrap()
    };
    let store = open(dir.path());
    assert_eq!(store.version().unwrap(), Some(2));
    assert_eq!(store.root(2).unwrap(), root);
    assert_eq!(store.get(b"k").unwrap(), Some(b"w".to_vec()));
    assert_eq!(store.get_at(b"k", 1).unwrap(), Some(b"v".to_vec()));
    let blocks = store.db().cf_handle("blocks").unwrap();
    assert_eq!(
        store.db().get_cf(blocks, b"block-2").unwrap(),
        Some(b"header".to_vec())
    );
}

const CHILD_DIR: &str = "WEFT_STATE_TEST_DIR";

#[test]
fn commits_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_commits_until_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acknowledged = 0u64;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(v) = line.unwrap().strip_prefix("committed ") {
            acknowledged = v.parse().unwrap();
            if acknowledged >= 20 {
                break;
            }
        }
    }
    // SIGKILL: no destructors, no flush.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acknowledged >= 20,
        "the child acknowledged only {acknowledged} commits"
    );
    let store = open(dir.path());
    let version = store.version().unwrap().unwrap();
    assert!(
        version >= acknowledged,
        "acknowledged {acknowledged}, found {version}"
    );
    for v in 1..=acknowledged {
        assert_eq!(
            store.get_at(b"counter", v).unwrap(),
            Some(v.to_le_bytes().to_vec())
        );
        store
            .prove(b"counter", v)
            .unwrap()
            .verify(&store.root(v).unwrap())
            .unwrap();
    }
}

/// Run by the test above in a child process, which it kills; run directly, it commits a few
/// versions and checks them.
#[test]
fn child_commits_until_killed() {
    let (dir, forever) = match std::env::var_os(CHILD_DIR) {
        Some(dir) => (std::path::PathBuf::from(dir), true),
        None => (tempfile::tempdir().unwrap().keep(), false),
    };
    let store = open(&dir);
    for v in 1u64.. {
        store
            .commit(
                v,
                &[(b"counter".to_vec(), Some(v.to_le_bytes().to_vec()))]
                    .into_iter()
                    .collect(),
                |_| {},
            )
            .unwrap();
        println!("committed {v}");
        if !forever && v == 3 {
            assert_eq!(
                store.get(b"counter").unwrap(),
                Some(3u64.to_le_bytes().to_vec())
            );
            return;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random write sets over several versions: every historical read and every proof agrees with
    /// a plain model of the state.
    #[test]
    fn history_and_proofs_match_a_model(
        blocks in proptest::collection::vec(
            proptest::collection::btree_map(proptest::collection::vec(0u8..6, 1..3), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)), 0..6),
            1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut history = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            for (k, v) in block {
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
            let root = store.commit(i as u64 + 1, block, |_| {}).unwrap();
            history.push((root, model.clone()));
        }
        for (i, (root, snapshot)) in history.iter().enumerate() {
            let version = i as u64 + 1;
            for a in 0u8..6 {
                for b in 0u8..6 {
                    for key in [vec![a], vec![a, b]] {
                        let expected = snapshot.get(&key).cloned();
                        prop_assert_eq!(store.get_at(&key, version).unwrap(), expected.clone());
                        let proof = store.prove(&key, version).unwrap();
                        prop_assert_eq!(proof.verify_key(root, &key).unwrap().map(<[u8]>::to_vec), expected);
                    }
                }
            }
        }
    }
}

/// Entries in one of the store's column families.
fn count(store: &StateStore, family: &str) -> usize {
    let cf = store.db().cf_handle(family).unwrap();
    store
        .db()
        .iterator_cf(cf, rocksdb::IteratorMode::Start)
        .count()
}

#[test]
fn pruning_keeps_the_window_and_bounds_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // One hot key rewritten at every version, a few cold ones, and versions without writes.
    let mut roots = Vec::new();
    for v in 1..=300u64 {
        let mut w = Writes::new();
        if v % 7 != 0 {
            w.insert(b"hot".to_vec(), Some(v.to_le_bytes().to_vec()));
        }
        if v % 50 == 1 {
            w.insert(format!("cold-{v}").into_bytes(), Some(b"x".to_vec()));
        }
        if v == 120 {
            w.insert(b"cold-51".to_vec(), None);
        }
        roots.push(store.commit(v, &w, |_| {}).unwrap());
    }
    let nodes_before = count(&store, "state_nodes");
    let values_before = count(&store, "state_values");
    let pruned = store.prune(280).unwrap();
    assert_eq!(pruned.oldest, 280);
    assert!(pruned.nodes > 0 && pruned.values > 0, "{pruned:?}");
    let nodes_after = count(&store, "state_nodes");
    assert!(
        nodes_after * 5 < nodes_before,
        "{nodes_before} tree nodes before pruning, {nodes_after} after"
    );
    assert!(count(&store, "state_values") < values_before / 5);
    // Every kept version still reads and proves against its root.
    for v in 280..=300u64 {
        let root = roots[v as usize - 1];
        let hot_at = (1..=v).rev().find(|x| x % 7 != 0).unwrap();
        let hot = store.get_at(b"hot", v).unwrap();
        assert_eq!(hot, Some(hot_at.to_le_bytes().to_vec()), "version {v}");
        for key in [&b"hot"[..], b"cold-1", b"cold-51", b"cold-251", b"never"] {
            let proof = store.prove(key, v).unwrap();
            assert_eq!(
                proof.verify_key(&root, key).unwrap().map(<[u8]>::to_vec),
                store.get_at(key, v).unwrap()
            );
        }
        assert_eq!(store.get_at(b"cold-51", v).unwrap(), None);
        assert_eq!(store.get_at(b"cold-1", v).unwrap(), Some(b"x".to_vec()));
    }
    let err = store.get_at(b"hot", 279).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::Pruned {
                asked: 279,
                oldest: 280
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("keeps versions from 280 on"),
        "{err}"
    );
    // Pruning again changes nothing; commits and later pruning go on.
    assert_eq!(store.prune(280).unwrap().nodes, 0);
    let w = writes(&[("hot", Some("after"))]);
    let root = store.commit(301, &w, |_| {}).unwrap();
    store.prune(301).unwrap();
    assert_eq!(store.get_at(b"hot", 301).unwrap(), Some(b"after".to_vec()));
    assert!(
        store
            .prove(b"cold-1", 301)
            .unwrap()
            .verify_key(&root, b"cold-1")
            .is_ok()
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.oldest().unwrap(), 301);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random histories pruned at a random version: every kept version reads and proves as the
    /// model says, every older one is refused as pruned.
    #[test]
    fn pruned_history_matches_a_model(
        blocks in proptest::collection::vec(
            proptest::collection::btree_map(proptest::collection::vec(0u8..4, 1..3), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..3)), 0..5),
            2..12),
        cut in 0usize..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut history = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            for (k, v) in block {
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
            let root = store.commit(i as u64 + 1, block, |_| {}).unwrap();
            history.push((root, model.clone()));
        }
        let keep_from = (cut % blocks.len()) as u64 + 1;
        store.prune(keep_from).unwrap();
        for (i, (root, snapshot)) in history.iter().enumerate() {
            let version = i as u64 + 1;
            for a in 0u8..4 {
                for b in 0u8..4 {
                    for key in [vec![a], vec![a, b]] {
                        if version < keep_from {
                            let pruned = matches!(store.get_at(&key, version), Err(StateError::Pruned { .. }));
                            prop_assert!(pruned);
                            continue;
                        }
                        let expected = snapshot.get(&key).cloned();
                        prop_assert_eq!(store.get_at(&key, version).unwrap(), expected.clone());
                        let proof = store.prove(&key, version).unwrap();
                        prop_assert_eq!(proof.verify_key(root, &key).unwrap().map(<[u8]>::to_vec), expected);
                    }
                }
            }
        }
    }
}

#[test]
fn a_store_restored_from_chunks_matches_the_original_and_refuses_tampering() {
    use std::sync::Arc;
    use weft_state::{RestoreError, StateRestore};
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(open(dir.path()));
    for v in 1..=20u64 {
        let mut w = Writes::new();
        for i in 0..15u64 {
            w.insert(
                format!("key-{:03}", (v * 7 + i * 13) % 120).into_bytes(),
                Some(format!("value {v}/{i}").into_bytes()),
            );
        }
        if v % 3 == 0 {
            w.insert(format!("key-{:03}", v).into_bytes(), None);
        }
        source.commit(v, &w, |_| {}).unwrap();
    }
    // Served at an older version than the head: the target is that version's state.
    let version = 18;
    let root = source.root(version).unwrap();

    let target_dir = tempfile::tempdir().unwrap();
    let target = Arc::new(open(target_dir.path()));
    // Read before the restore: the restore's writes replace what this read saw.
    assert_eq!(target.get(b"key-000").unwrap(), None);
    let mut restore = StateRestore::new(target.clone(), version, root).unwrap();
    let mut chunks = 0;
    let mut tampered_once = false;
    loop {
        let chunk = source
            .snapshot_chunk(version, restore.next_after(), 7)
            .unwrap();
        let last = chunk.last;
        if !tampered_once && chunks == 2 {
            // A peer that changes one value: refused, nothing kept; the honest chunk goes in.
            let mut bad = source
                .snapshot_chunk(version, restore.next_after(), 7)
                .unwrap();
            bad.entries[3].1 = b"forged".to_vec();
            let err = restore.add_chunk(bad).unwrap_err();
            assert!(matches!(err, RestoreError::BadChunk(_)), "{err}");
            tampered_once = true;
            // After the refusal the restore may start from an earlier key: ask again.
            let chunk = source
                .snapshot_chunk(version, restore.next_after(), 7)
                .unwrap();
            let last = chunk.last;
            restore.add_chunk(chunk).unwrap();
            chunks += 1;
            if last {
                break;
            }
            continue;
        }
        // A chunk of another version is refused.
        if chunks == 1 {
            let other = source
                .snapshot_chunk(version - 1, restore.next_after(), 7)
                .unwrap();
            assert!(restore.add_chunk(other).is_err());
            let chunk = source
                .snapshot_chunk(version, restore.next_after(), 7)
                .unwrap();
            let last = chunk.last;
            restore.add_chunk(chunk).unwrap();
            chunks += 1;
            if last {
                break;
            }
            continue;
        }
        restore.add_chunk(chunk).unwrap();
        chunks += 1;
        if last {
            break;
        }
    }
    assert!(tampered_once && chunks > 5, "{chunks} chunks");
    restore.finish(|_| {}).unwrap();
    assert_eq!(target.version().unwrap(), Some(version));
    assert_eq!(target.root(version).unwrap(), root);
    assert_eq!(target.oldest().unwrap(), version);
    // Latest values, prefix iteration and proofs are those of the source at that version.
    for i in 0..130u64 {
        let key = format!("key-{i:03}").into_bytes();
        assert_eq!(
            target.get(&key).unwrap(),
            source.get_at(&key, version).unwrap()
        );
        let proof = target.prove(&key, version).unwrap();
        assert_eq!(
            proof.verify_key(&root, &key).unwrap().map(<[u8]>::to_vec),
            source.get_at(&key, version).unwrap()
        );
    }
    let first = target.next(b"key-", None).unwrap().unwrap();
    assert_eq!(first, source_first_at(&source, version));
    assert_eq!(
        target.get(b"key-000").unwrap(),
        source.get_at(b"key-000", version).unwrap()
    );
    // The restored store goes on committing.
    let w = writes(&[("key-000", Some("after"))]);
    target.commit(version + 1, &w, |_| {}).unwrap();
    assert_eq!(target.get(b"key-000").unwrap(), Some(b"after".to_vec()));
    // A restore into a store that holds state is refused.
    assert!(StateRestore::new(target.clone(), 5, root).is_err());
}

/// The first `key-` entry of `store` at `version`.
fn source_first_at(store: &StateStore, version: u64) -> (Vec<u8>, Vec<u8>) {
    (0..130u64)
        .map(|i| format!("key-{i:03}").into_bytes())
        .find_map(|k| store.get_at(&k, version).unwrap().map(|v| (k, v)))
        .unwrap()
}

#[test]
fn a_forged_range_proof_is_refused() {
    use std::sync::Arc;
    use weft_state::StateRestore;
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(open(dir.path()));
    let mut w = Writes::new();
    for i in 0..40u64 {
        w.insert(format!("k{i}").into_bytes(), Some(vec![i as u8]));
    }
    let root = source.commit(1, &w, |_| {}).unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let target = Arc::new(open(target_dir.path()));
    let mut restore = StateRestore::new(target.clone(), 1, root).unwrap();
    // Entries dropped from a chunk (a gap), with the proof of the full one: refused.
    let mut gap = source.snapshot_chunk(1, None, 10).unwrap();
    gap.entries.remove(4);
    assert!(restore.add_chunk(gap).is_err());
    // A chunk claiming to be the whole state when it is not: the root check refuses it.
    let mut short = source.snapshot_chunk(1, None, 10).unwrap();
    short.last = true;
    restore.add_chunk(short).unwrap();
    assert!(restore.finish(|_| {}).is_err());
}
