//! The VM's view of state during block execution: the store's latest committed state, plus the
//! writes of the block's earlier transactions.

use crate::keys;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use weft_state::StateStore;
use weft_types::{CodeHash, ContractId};
use weft_vm::state::merged_next;
use weft_vm::{StateError, StateView};

/// Pending writes by state key; `None` deletes.
pub type Pending = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Committed state plus the pending writes of the block in progress.
pub struct BlockView {
    store: Arc<StateStore>,
    pending: Mutex<Pending>,
    /// Committed values already read in this block: every transaction of a block reads the same
    /// contract record, and a sender's nonce once per transaction. Committed state does not
    /// change while a block executes, so these never go stale.
    read: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
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
            read: Mutex::new(HashMap::new()),
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
        let mut read = self.read.lock().expect("block view lock poisoned");
        if let Some(value) = read.get(key) {
            return Ok(value.clone());
        }
        let value = self.store.get(key).map_err(state_error)?;
        // Large values (code) are read once per block at most and are not worth keeping.
        if value.as_ref().is_none_or(|v| v.len() <= 1024) {
            read.insert(key.to_vec(), value.clone());
        }
        Ok(value)
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
        let cursor = after
            .filter(|a| *a >= prefix)
            .map(|a| keys::storage(contract, a));
        let pending = self.pending();
        let shadow = |cursor: Option<&[u8]>| {
            let lower = match cursor {
                Some(c) => Bound::Excluded(c.to_vec()),
                None => Bound::Included(full_prefix.clone()),
            };
            pending
                .range((lower, Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(&full_prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
        };
        let base =
            |cursor: Option<&[u8]>| self.store.next(&full_prefix, cursor).map_err(state_error);
        // Pending writes were paid for by the transactions that made them; no skip limit here.
        let (found, _) = merged_next(cursor.as_deref(), base, shadow, u64::MAX)?;
        Ok(found.map(|(key, value)| (key[keys::STORAGE_HEADER..].to_vec(), value)))
    }

    fn contract(&self, id: &ContractId) -> Result<Option<CodeHash>, StateError> {
        decode_contract(id, self.get_key(&keys::contract(id))?)
    }

    fn code(&self, hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.get_key(&keys::code(hash))?.map(Arc::from))
    }
}

/// Committed state at a past height, for read-only calls. Point reads go through the tree's
/// versioned values; ordered iteration is not kept per version, so `storage_next` fails with a
/// message that says so.
pub struct HistoricalView {
    store: Arc<StateStore>,
    version: u64,
}

impl HistoricalView {
    /// A view of the state after block `version`.
    pub fn new(store: Arc<StateStore>, version: u64) -> Self {
        Self { store, version }
    }

    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get_at(key, self.version).map_err(state_error)
    }
}

impl StateView for HistoricalView {
    fn get(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_key(&keys::storage(contract, key))
    }

    fn next(
        &self,
        _contract: &ContractId,
        _prefix: &[u8],
        _after: Option<&[u8]>,
    ) -> Result<Option<weft_vm::state::Entry>, StateError> {
        Err(StateError(format!(
            "iterating contract storage at a past height ({}) is not supported; call at the latest height",
            self.version
        )))
    }

    fn contract(&self, id: &ContractId) -> Result<Option<CodeHash>, StateError> {
        decode_contract(id, self.get_key(&keys::contract(id))?)
    }

    fn code(&self, hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.get_key(&keys::code(hash))?.map(Arc::from))
    }
}

fn decode_contract(
    id: &ContractId,
    record: Option<Vec<u8>>,
) -> Result<Option<CodeHash>, StateError> {
    match record {
        None => Ok(None),
        Some(bytes) => {
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| StateError(format!("contract record of {id} is damaged")))?;
            Ok(Some(CodeHash(hash)))
        }
    }
}
