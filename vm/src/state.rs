//! How the VM sees state: a read-only [`StateView`] underneath, and an [`Overlay`] of the writes of
//! the call in progress on top. The VM never writes to the view; a successful call returns its
//! [`WriteSet`] for the caller to apply, and a failed one returns nothing, so a failing transaction
//! reverts exactly its own writes. Nested calls take checkpoints in the overlay's journal and roll
//! back to them when the callee fails.

use crate::StateError;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use weft_types::{CodeHash, ContractId};

/// A storage entry: key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Read access to committed state. Implemented over the authenticated store by the node, and in
/// memory by [`crate::testing::MemState`].
pub trait StateView: Send + Sync {
    /// The value stored under `key` by `contract`.
    fn get(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// The first entry of `contract` whose key starts with `prefix` and is greater than `after`
    /// (or, without `after`, the first with that prefix), in byte order.
    fn next(
        &self,
        contract: &ContractId,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<Entry>, StateError>;

    /// The code hash of a deployed contract.
    fn contract(&self, id: &ContractId) -> Result<Option<CodeHash>, StateError>;

    /// Stored code by hash.
    fn code(&self, hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError>;
}

/// The effects of a successful call or deploy, in a deterministic (sorted) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// Storage writes: `Some(value)` sets, `None` removes.
    pub storage: BTreeMap<(ContractId, Vec<u8>), Option<Vec<u8>>>,
    /// Contracts created, with their code hash.
    pub contracts: BTreeMap<ContractId, CodeHash>,
    /// Code stored by deploys.
    pub code: BTreeMap<CodeHash, Arc<[u8]>>,
}

impl WriteSet {
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty() && self.contracts.is_empty() && self.code.is_empty()
    }
}

enum Undo {
    Storage((ContractId, Vec<u8>), Option<Option<Vec<u8>>>),
    Contract(ContractId),
    Code(CodeHash),
}

/// Pending writes over a [`StateView`], with a journal for checkpoints.
#[derive(Default)]
pub(crate) struct Overlay {
    writes: WriteSet,
    journal: Vec<Undo>,
}

/// A position in the overlay's journal to roll back to.
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint(usize);

impl Overlay {
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    pub(crate) fn revert(&mut self, to: Checkpoint) {
        while self.journal.len() > to.0 {
            match self.journal.pop() {
                Some(Undo::Storage(key, Some(previous))) => {
                    self.writes.storage.insert(key, previous);
                }
                Some(Undo::Storage(key, None)) => {
                    self.writes.storage.remove(&key);
                }
                Some(Undo::Contract(id)) => {
                    self.writes.contracts.remove(&id);
                }
                Some(Undo::Code(hash)) => {
                    self.writes.code.remove(&hash);
                }
                None => break,
            }
        }
    }

    pub(crate) fn into_writes(self) -> WriteSet {
        self.writes
    }

    pub(crate) fn put(&mut self, contract: ContractId, key: Vec<u8>, value: Option<Vec<u8>>) {
        let slot = (contract, key);
        let previous = self.writes.storage.insert(slot.clone(), value);
        self.journal.push(Undo::Storage(slot, previous));
    }

    pub(crate) fn create_contract(&mut self, id: ContractId, code_hash: CodeHash, code: Arc<[u8]>) {
        if self.writes.contracts.insert(id, code_hash).is_none() {
            self.journal.push(Undo::Contract(id));
        }
        if self.writes.code.insert(code_hash, code).is_none() {
            self.journal.push(Undo::Code(code_hash));
        }
    }

    pub(crate) fn get(
        &self,
        view: &dyn StateView,
        contract: &ContractId,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.storage.get(&(*contract, key.to_vec())) {
            Some(pending) => Ok(pending.clone()),
            None => view.get(contract, key),
        }
    }

    pub(crate) fn contract(
        &self,
        view: &dyn StateView,
        id: &ContractId,
    ) -> Result<Option<CodeHash>, StateError> {
        match self.writes.contracts.get(id) {
            Some(hash) => Ok(Some(*hash)),
            None => view.contract(id),
        }
    }

    pub(crate) fn code(
        &self,
        view: &dyn StateView,
        hash: &CodeHash,
    ) -> Result<Option<Arc<[u8]>>, StateError> {
        match self.writes.code.get(hash) {
            Some(code) => Ok(Some(code.clone())),
            None => view.code(hash),
        }
    }

    /// The first live entry after `after` with `prefix`, merging pending writes (which win, and
    /// may delete) with the view, and how many pending deletions it skipped. Gives up (returning
    /// `None`) after skipping more than `max_skips`; the caller charges per skip, so it then runs
    /// out of gas.
    pub(crate) fn next(
        &self,
        view: &dyn StateView,
        contract: &ContractId,
        prefix: &[u8],
        after: Option<&[u8]>,
        max_skips: u64,
    ) -> Result<(Option<Entry>, u64), StateError> {
        let cursor = after.filter(|a| *a >= prefix);
        let pending = |cursor: Option<&[u8]>| {
            let lower = match cursor {
                Some(c) => Bound::Excluded((*contract, c.to_vec())),
                None => Bound::Included((*contract, prefix.to_vec())),
            };
            self.writes
                .storage
                .range((lower, Bound::Unbounded))
                .next()
                .filter(|((c, k), _)| c == contract && k.starts_with(prefix))
                .map(|((_, k), v)| (k.clone(), v.clone()))
        };
        merged_next(
            cursor,
            |c| view.next(contract, prefix, c),
            pending,
            max_skips,
        )
    }
}

/// The first live entry after `cursor` in the merge of a base iteration and pending writes that
/// shadow it (a pending `None` deletes), and how many pending deletions were skipped; gives up
/// with `None` after more than `max_skips`. `base(cursor)` and `pending(cursor)` return their first
/// entry after `cursor` (or the first, for `None`) within the prefix being iterated. Used by the
/// VM's overlay and by any caller that layers a block's pending writes over committed state.
pub fn merged_next<E>(
    cursor: Option<&[u8]>,
    mut base: impl FnMut(Option<&[u8]>) -> Result<Option<Entry>, E>,
    pending: impl Fn(Option<&[u8]>) -> Option<(Vec<u8>, Option<Vec<u8>>)>,
    max_skips: u64,
) -> Result<(Option<Entry>, u64), E> {
    let mut skipped = 0u64;
    let mut cursor: Option<Vec<u8>> = cursor.map(<[u8]>::to_vec);
    loop {
        let from_base = base(cursor.as_deref())?;
        let Some((key, value)) = pending(cursor.as_deref()) else {
            return Ok((from_base, skipped));
        };
        if let Some(entry) = from_base
            && entry.0 < key
        {
            return Ok((Some(entry), skipped));
        }
        // The pending write shadows the base at this key.
        match value {
            Some(v) => return Ok((Some((key, v)), skipped)),
            None => {
                skipped += 1;
                if skipped > max_skips {
                    return Ok((None, skipped));
                }
                cursor = Some(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemState;

    #[test]
    fn iteration_merges_pending_writes_and_deletions() {
        let contract = ContractId([7; 32]);
        let mut base = MemState::default();
        for key in [b"a1".as_slice(), b"a3", b"a5", b"b1"] {
            base.set(contract, key.to_vec(), key.to_vec());
        }
        let mut overlay = Overlay::default();
        overlay.put(contract, b"a2".to_vec(), Some(b"new".to_vec()));
        overlay.put(contract, b"a3".to_vec(), None);
        overlay.put(contract, b"a5".to_vec(), Some(b"changed".to_vec()));
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        while let Some((k, v)) = overlay
            .next(&base, &contract, b"a", after.as_deref(), u64::MAX)
            .unwrap()
            .0
        {
            seen.push((
                String::from_utf8(k.clone()).unwrap(),
                String::from_utf8(v).unwrap(),
            ));
            after = Some(k);
        }
        assert_eq!(
            seen,
            vec![
                ("a1".into(), "a1".into()),
                ("a2".into(), "new".into()),
                ("a5".into(), "changed".into())
            ]
        );
    }

    #[test]
    fn revert_restores_previous_values() {
        let contract = ContractId([1; 32]);
        let base = MemState::default();
        let mut overlay = Overlay::default();
        overlay.put(contract, b"k".to_vec(), Some(b"1".to_vec()));
        let cp = overlay.checkpoint();
        overlay.put(contract, b"k".to_vec(), Some(b"2".to_vec()));
        overlay.put(contract, b"j".to_vec(), Some(b"3".to_vec()));
        overlay.revert(cp);
        assert_eq!(
            overlay.get(&base, &contract, b"k").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(overlay.get(&base, &contract, b"j").unwrap(), None);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::testing::MemState;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = Vec<u8>> {
        vec(0u8..4, 0..4)
    }

    proptest! {
        /// Iterating base + overlay by prefix gives exactly the entries of the merged map, in order,
        /// from any starting cursor.
        #[test]
        fn merged_iteration_matches_a_model(
            base in btree_map(key(), key(), 0..12),
            writes in vec((key(), proptest::option::of(key())), 0..12),
            prefix in vec(0u8..4, 0..2),
            after in proptest::option::of(key()),
        ) {
            let contract = ContractId([3; 32]);
            let mut state = MemState::default();
            let mut model = base.clone();
            for (k, v) in &base {
                state.set(contract, k.clone(), v.clone());
            }
            let mut overlay = Overlay::default();
            for (k, v) in writes {
                match &v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(&k),
                };
                overlay.put(contract, k, v);
            }
            let expected: Vec<_> = model
                .into_iter()
                .filter(|(k, _)| k.starts_with(&prefix) && after.as_ref().is_none_or(|a| k > a))
                .collect();
            let mut seen = Vec::new();
            let mut cursor = after.clone();
            while let Some((k, v)) = overlay.next(&state, &contract, &prefix, cursor.as_deref(), u64::MAX).unwrap().0 {
                prop_assert!(seen.len() <= expected.len(), "iteration does not end");
                cursor = Some(k.clone());
                seen.push((k, v));
            }
            prop_assert_eq!(seen, expected);
        }
    }
}
