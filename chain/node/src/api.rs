//! The node as its servers and its network see it: [`Node`] implements `weft-api`'s
//! [`NodeApi`] (for JSON-RPC) and `weft-p2p`'s [`Host`] (for gossiped transactions and block
//! sync). Both are thin: the work is in [`crate::service`].

use crate::service::Node;
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};
use weft_api::{
    ArgsFn, CommittedBlock, CommitteeInfo, ContractRecord, Head, Limits, NoTangle, NodeApi,
    ProvenState, QueryError, QueryOutcome, SubmitError, TangleApi,
};
use weft_consensus::StoredCertificate;
use weft_mempool::AdmitError;
use weft_p2p::{Admission, Host, SyncedBlock};
use weft_types::{Address, Block, ChainId, ContractId, Receipt, SignedTransaction, TxHash};

impl NodeApi for Node {
    fn chain_id(&self) -> &ChainId {
        Node::chain_id(self)
    }

    fn head(&self) -> Head {
        Node::head(self)
    }

    fn mempool_len(&self) -> usize {
        Node::mempool_len(self)
    }

    fn limits(&self) -> Limits {
        let config = self.config();
        Limits {
            max_tx_gas: config.mempool.max_tx_gas,
            max_tx_bytes: config.mempool.max_tx_bytes,
            max_wait_ms: config.rpc.max_wait_ms,
        }
    }

    fn committee(&self) -> Option<&CommitteeInfo> {
        Node::committee(self)
    }

    fn system_contracts(&self) -> Vec<weft_api::SystemContractInfo> {
        Node::system_contracts(self)
    }

    fn decode(&self, bytes: &[u8]) -> Result<SignedTransaction, SubmitError> {
        Node::decode(self, bytes)
    }

    fn submit(&self, tx: SignedTransaction, size: usize) -> Result<TxHash, SubmitError> {
        Node::submit(self, tx, size)
    }

    fn submit_many(&self, txs: &[Vec<u8>]) -> Vec<Result<TxHash, SubmitError>> {
        Node::submit_many(self, txs)
    }

    fn watch(&self, hash: TxHash) -> oneshot::Receiver<Arc<Receipt>> {
        Node::watch(self, hash)
    }

    fn unwatch(&self, hash: &TxHash) {
        Node::unwatch(self, hash)
    }

    fn account(&self, address: &Address) -> Result<(u64, u64, u64), String> {
        Node::account(self, address)
    }

    fn receipt(&self, hash: &TxHash) -> Result<Option<Receipt>, String> {
        Node::receipt(self, hash)
    }

    fn pending_tx(&self, hash: &TxHash) -> Option<SignedTransaction> {
        Node::pending_tx(self, hash)
    }

    fn block(&self, height: u64) -> Result<Option<Block>, String> {
        Node::block(self, height)
    }

    fn certificate(&self, height: u64) -> Result<Option<StoredCertificate>, String> {
        Node::certificate(self, height)
    }

    fn contract(
        &self,
        id: &ContractId,
        height: Option<u64>,
    ) -> Result<(ContractRecord, u64), QueryError> {
        Node::contract(self, id, height)
    }

    fn query(
        &self,
        contract: ContractId,
        method: &str,
        args: ArgsFn<'_>,
        height: Option<u64>,
        caller: Address,
        gas_limit: Option<u64>,
    ) -> Result<QueryOutcome, QueryError> {
        Node::query(self, contract, method, args, height, caller, gas_limit)
    }

    fn storage(
        &self,
        contract: &ContractId,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<ProvenState, QueryError> {
        let key = weft_executor::keys::storage(contract, key);
        let (height, state_root, proof) = self.state(&key, height)?;
        Ok(ProvenState {
            height,
            state_root,
            key,
            proof,
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        Node::subscribe(self)
    }

    fn tangle(&self) -> Result<&dyn TangleApi, NoTangle> {
        match self.tangle_service() {
            Some(t) => Ok(t),
            None if self.config().genesis.is_some() => Err(NoTangle::Opening),
            None => Err(NoTangle::Alone),
        }
    }
}

/// What became of a transaction a peer sent.
fn admission(result: Result<TxHash, SubmitError>) -> Admission {
    match result {
        Ok(_) => Admission::Admitted,
        Err(SubmitError::Rejected(
            AdmitError::BadSignature(_)
            | AdmitError::WrongChain { .. }
            | AdmitError::TooLarge { .. },
        )) => Admission::Invalid("invalid_tx"),
        Err(_) => Admission::Refused,
    }
}

impl Host for Node {
    fn admit_tx(&self, bytes: &[u8]) -> Admission {
        let tx = match self.decode(bytes) {
            Ok(tx) => tx,
            Err(_) => return Admission::Invalid("malformed_tx"),
        };
        admission(self.submit_from_peer(tx, bytes.len()))
    }

    /// Decodes a batch, checks every signature in one batch verification, then admits each. A
    /// peer relays only what it checked, so one bad signature refuses the whole batch (without
    /// looking for which).
    fn admit_txs(&self, batch: &[Vec<u8>]) -> Vec<Admission> {
        let decoded: Vec<Option<SignedTransaction>> =
            batch.iter().map(|b| self.decode(b).ok()).collect();
        let items: Vec<_> = decoded
            .iter()
            .flatten()
            .map(|t| (t.tx.sender, t.tx.hash(), t.signature))
            .collect();
        if !self.verify_all(&items) {
            return vec![Admission::Invalid("invalid_tx"); batch.len()];
        }
        let mut hashes = items.into_iter().map(|(_, hash, _)| hash);
        let mut abis = crate::service::Abis::new();
        decoded
            .into_iter()
            .zip(batch)
            .map(|(tx, bytes)| {
                let Some(tx) = tx else {
                    return Admission::Invalid("malformed_tx");
                };
                match hashes.next() {
                    Some(hash) => {
                        admission(self.submit_verified_from_peer(tx, bytes.len(), hash, &mut abis))
                    }
                    None => Admission::Invalid("invalid_tx"),
                }
            })
            .collect()
    }

    fn head(&self) -> u64 {
        Node::head(self).height
    }

    fn committed(&self, height: u64) -> Option<SyncedBlock> {
        let (Ok(Some(block)), Ok(Some(certificate))) =
            (self.block(height), self.certificate(height))
        else {
            return None;
        };
        Some(SyncedBlock { block, certificate })
    }

    fn snapshot_chunk(
        &self,
        version: u64,
        after: Option<[u8; 32]>,
        max: u32,
    ) -> Result<Vec<u8>, String> {
        let chunk = self
            .store()
            .snapshot_chunk(version, after, max as usize)
            .map_err(|e| e.to_string())?;
        Ok(borsh::to_vec(&chunk).expect("borsh encoding into a Vec cannot fail"))
    }
}
