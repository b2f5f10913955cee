//! The VM's view of a block in progress: committed storage merged with pending writes.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use weft_executor::keys;
use weft_executor::view::BlockView;
use weft_state::StateStore;
use weft_types::ContractId;
use weft_vm::StateView;

#[test]
fn iteration_merges_committed_and_pending_and_skips_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(StateStore::open(dir.path(), &[]).unwrap());
    let (contract, other) = (ContractId([1; 32]), ContractId([2; 32]));
    let committed: BTreeMap<_, _> = [
        (contract, "a1"),
        (contract, "a3"),
        (contract, "a5"),
        (other, "a2"),
    ]
    .into_iter()
    .map(|(c, k)| (keys::storage(&c, k.as_bytes()), Some(k.as_bytes().to_vec())))
    .collect();
    store.commit(1, &committed, |_| {}).unwrap();
    let view = BlockView::new(store);
    view.apply([
        (keys::storage(&contract, b"a2"), Some(b"new".to_vec())),
        (keys::storage(&contract, b"a3"), None),
        (keys::storage(&contract, b"a5"), Some(b"changed".to_vec())),
    ]);
    let mut seen = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while let Some((k, v)) = view.next(&contract, b"a", after.as_deref()).unwrap() {
        seen.push((
            String::from_utf8(k.clone()).unwrap(),
            String::from_utf8(v).unwrap(),
        ));
        after = Some(k);
    }
    let expected: Vec<(String, String)> = [("a1", "a1"), ("a2", "new"), ("a5", "changed")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        seen, expected,
        "other contracts' keys and deleted keys never appear"
    );
    assert_eq!(
        view.next(&contract, b"a", Some(b"0")).unwrap().unwrap().0,
        b"a1",
        "a cursor below the prefix starts at it"
    );
    assert_eq!(view.get(&contract, b"a3").unwrap(), None);
}
