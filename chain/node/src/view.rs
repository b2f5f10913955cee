//! The VM's view of state during block execution: the store's latest committed state, plus the
//! writes of the block's earlier transactions.

use crate::keys;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use weft_state::StateStore;
use weft_types::{CodeHash, ContractId};
use weft_vm::{StateError, StateView};

/// Pending writes by state key; `None` deletes.
pub type Pending = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Committed state plus the pending writes of the block in progress.
pub struct BlockView {
    store: Arc<StateStore>,
    pending: Mutex<Pending>,
}

fn state_error(e: weft_state::StateError) -> StateError {
    StateError(e.to_string())
}

impl BlockView {
    /// A view of the store's latest state with nothing pending.
    pub fn new(store: Arc<StateStore>) -> Self {
        Self {
            store,
            pending: Mutex::new(Pending::new()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Only the executor's thread writes, between VM calls; a poisoned lock means it panicked.
        self.pending.lock().expect("block view lock poisoned")
    }

    /// Records writes of a finished transaction.
    pub fn apply(&self, writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) {
        self.pending().extend(writes);
    }

    /// The value of a state key, pending writes first.
    pub fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(pending) = self.pending().get(key) {
            return Ok(pending.clone());
        }
        self.store.get(key).map_err(state_error)
    }

    /// Everything written in this block.
    pub fn into_pending(self) -> Pending {
        self.pending.into_inner().expect("block view lock poisoned")
    }
}

impl StateView for BlockView {
    fn get(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_key(&keys::storage(contract, key))
    }

    fn next(
        &self,
        contract: &ContractId,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<weft_vm::state::Entry>, StateError> {
        let full_prefix = keys::storage(contract, prefix);
        let mut cursor = after
            .filter(|a| *a >= prefix)
            .map(|a| keys::storage(contract, a));
        let pending = self.pending();
        // Merge the store's entries with pending writes, which shadow them (and may delete).
        loop {
            let base = self
                .store
                .next(&full_prefix, cursor.as_deref())
                .map_err(state_error)?;
            let lower = match &cursor {
                Some(c) => Bound::Excluded(c.clone()),
                None => Bound::Included(full_prefix.clone()),
            };
            let shadow = pending
                .range((lower, Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(&full_prefix));
            let found = match (base, shadow) {
                (None, None) => return Ok(None),
                (Some(entry), None) => entry,
                (base, Some((key, value))) => match base {
                    Some(entry) if entry.0 < *key => entry,
                    _ => match value {
                        Some(v) => (key.clone(), v.clone()),
                        None => {
                            cursor = Some(key.clone());
                            continue;
                        }
                    },
                },
            };
            return Ok(Some((found.0[keys::STORAGE_HEADER..].to_vec(), found.1)));
        }
    }

    fn contract(&self, id: &ContractId) -> Result<Option<CodeHash>, StateError> {
        match self.get_key(&keys::contract(id))? {
            None => Ok(None),
            Some(bytes) => {
                let hash: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| StateError(format!("contract record of {id} is damaged")))?;
                Ok(Some(CodeHash(hash)))
            }
        }
    }

    fn code(&self, hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.get_key(&keys::code(hash))?.map(Arc::from))
    }
}
