//! An in-memory [`StateView`] for tests and the testkit.

use crate::{StateError, StateView, WriteSet};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use weft_types::{CodeHash, ContractId};

/// State held in ordered in-memory maps.
#[derive(Debug, Clone, Default)]
pub struct MemState {
    storage: BTreeMap<(ContractId, Vec<u8>), Vec<u8>>,
    contracts: BTreeMap<ContractId, CodeHash>,
    code: BTreeMap<CodeHash, Arc<[u8]>>,
}

impl MemState {
    /// Sets one storage entry directly.
    pub fn set(&mut self, contract: ContractId, key: Vec<u8>, value: Vec<u8>) {
        self.storage.insert((contract, key), value);
    }

    /// Applies the effects of a successful call.
    pub fn apply(&mut self, writes: &WriteSet) {
        for ((contract, key), value) in &writes.storage {
            match value {
                Some(v) => self.storage.insert((*contract, key.clone()), v.clone()),
                None => self.storage.remove(&(*contract, key.clone())),
            };
        }
        self.contracts
            .extend(writes.contracts.iter().map(|(k, v)| (*k, *v)));
        self.code
            .extend(writes.code.iter().map(|(k, v)| (*k, v.clone())));
    }

    /// All storage entries of `contract`, in key order.
    pub fn entries(&self, contract: &ContractId) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.storage
            .range((*contract, Vec::new())..)
            .take_while(|((c, _), _)| c == contract)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl StateView for MemState {
    fn get(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.storage.get(&(*contract, key.to_vec())).cloned())
    }

    fn next(
        &self,
        contract: &ContractId,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<crate::state::Entry>, StateError> {
        let lower = match after.filter(|a| *a >= prefix) {
            Some(a) => Bound::Excluded((*contract, a.to_vec())),
            None => Bound::Included((*contract, prefix.to_vec())),
        };
        Ok(self
            .storage
            .range((lower, Bound::Unbounded))
            .next()
            .filter(|((c, k), _)| c == contract && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone())))
    }

    fn contract(&self, id: &ContractId) -> Result<Option<CodeHash>, StateError> {
        Ok(self.contracts.get(id).copied())
    }

    fn code(&self, hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.code.get(hash).cloned())
    }
}
