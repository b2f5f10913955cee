//! The executor: runs a block's transactions in the VM and commits the result.
//!
//! For each transaction, in order: the signature, chain id and nonce must be right (otherwise the
//! whole block is invalid: consensus must never decide it), the sender's nonce advances, and the
//! VM runs the deploy or call. A failing transaction keeps its nonce and gas but none of its writes
//! or events. After the last one, the state writes, the block and its receipts are committed in
//! one atomic, synced batch at version = height.

use crate::keys;
use crate::view::BlockView;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_state::StateStore;
use weft_types::{
    Action, Address, Block, BlockHash, BlockHeader, ChainId, ContractId, Hash32, PublicKey,
    Receipt, ReceiptStatus, SignedTransaction, list_hash, verify_batch, verify_hash,
};
use weft_vm::{BlockEnv, Call, Deploy, Outcome, Vm, WriteSet};

/// Column family of blocks by height (big-endian), borsh [`Block`].
pub const BLOCKS: &str = "blocks";
/// Column family of receipts by height and index (big-endian), borsh [`Receipt`].
pub const RECEIPTS: &str = "receipts";
/// Column family of transaction locations: tx hash → height and index (big-endian).
pub const TX_INDEX: &str = "tx_index";
/// Column family of commit certificates by height (big-endian), borsh `StoredCertificate`.
pub const CERTIFICATES: &str = "certificates";
/// The column families the executor adds to the state store.
pub const COLUMN_FAMILIES: &[&str] = &[BLOCKS, RECEIPTS, TX_INDEX, CERTIFICATES];

/// Why a block could not be executed. A bad transaction makes the whole block invalid.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A transaction's signature does not verify.
    #[error("transaction {index} of block {height} has a bad signature: {reason}")]
    BadSignature {
        /// Block height.
        height: u64,
        /// Position in the block.
        index: usize,
        /// What failed.
        reason: String,
    },
    /// A transaction for another chain.
    #[error("transaction {index} of block {height} is for chain {found}, not {expected}")]
    WrongChain {
        /// Block height.
        height: u64,
        /// Position in the block.
        index: usize,
        /// Its chain id.
        found: ChainId,
        /// This chain's id.
        expected: ChainId,
    },
    /// A transaction whose nonce is not the sender's next one.
    #[error(
        "transaction {index} of block {height} has nonce {found}; the sender's next nonce is {expected}"
    )]
    BadNonce {
        /// Block height.
        height: u64,
        /// Position in the block.
        index: usize,
        /// Its nonce.
        found: u64,
        /// The expected one.
        expected: u64,
    },
    /// Heights must follow the committed one.
    #[error("cannot execute block {height}: the next height is {expected}")]
    WrongHeight {
        /// The height given.
        height: u64,
        /// The next height.
        expected: u64,
    },
    /// The VM failed as a host (not a contract failure).
    #[error("VM failure: {0}")]
    Vm(#[from] weft_vm::VmError),
    /// The state store failed.
    #[error("state store failure: {0}")]
    State(#[from] weft_state::StateError),
    /// Reading the executor's own state failed.
    #[error("state read failure: {0}")]
    Read(#[from] weft_vm::StateError),
}

/// A committed block and its receipts.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block, with its header filled in.
    pub block: Block,
    /// Its hash.
    pub hash: BlockHash,
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
}

/// A block executed against the committed state but not written yet: what a committee member
/// holds while consensus decides. [`Executor::write`] commits it.
pub struct StagedBlock {
    /// The block, its hash and receipts.
    pub executed: ExecutedBlock,
    batch: rocksdb::WriteBatch,
    tx_hashes: Vec<Hash32>,
}

impl std::fmt::Debug for StagedBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedBlock")
            .field("height", &self.executed.block.header.height)
            .field("hash", &self.executed.hash)
            .finish_non_exhaustive()
    }
}

/// Executes blocks against a [`StateStore`].
pub struct Executor {
    vm: Vm,
    store: Arc<StateStore>,
    chain_id: ChainId,
    max_tx_gas: u64,
}

fn big_endian_key(height: u64, index: Option<u32>) -> Vec<u8> {
    let mut out = height.to_be_bytes().to_vec();
    if let Some(i) = index {
        out.extend_from_slice(&i.to_be_bytes());
    }
    out
}

impl Executor {
    /// An executor for `chain_id`; transactions get at most `max_tx_gas` gas whatever they ask.
    /// The store must have been opened with [`COLUMN_FAMILIES`].
    pub fn new(vm: Vm, store: Arc<StateStore>, chain_id: ChainId, max_tx_gas: u64) -> Self {
        Self {
            vm,
            store,
            chain_id,
            max_tx_gas,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<StateStore> {
        &self.store
    }

    /// The next nonce of `address` in committed state.
    pub fn nonce(&self, address: &Address) -> Result<u64, ExecutorError> {
        Ok(read_nonce(self.store.get(&keys::nonce(address))?))
    }

    /// The committed block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, ExecutorError> {
        self.read(BLOCKS, &big_endian_key(height, None))
    }

    /// The commit certificate stored with the block at `height` (committee chains only).
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, ExecutorError> {
        let cf = self
            .store
            .db()
            .cf_handle(CERTIFICATES)
            .expect("executor column families are opened with the store");
        Ok(self
            .store
            .db()
            .get_cf(cf, big_endian_key(height, None))
            .map_err(weft_state::StateError::from)?)
    }

    /// The receipt of a committed transaction.
    pub fn receipt(&self, tx_hash: &Hash32) -> Result<Option<Receipt>, ExecutorError> {
        let cf = self
            .store
            .db()
            .cf_handle(TX_INDEX)
            .expect("executor column families are opened with the store");
        match self
            .store
            .db()
            .get_cf(cf, tx_hash.0)
            .map_err(weft_state::StateError::from)?
        {
            None => Ok(None),
            Some(location) => self.read(RECEIPTS, &location),
        }
    }

    fn read<T: borsh::BorshDeserialize>(
        &self,
        cf: &str,
        key: &[u8],
    ) -> Result<Option<T>, ExecutorError> {
        let handle = self
            .store
            .db()
            .cf_handle(cf)
            .expect("executor column families are opened with the store");
        match self
            .store
            .db()
            .get_cf(handle, key)
            .map_err(weft_state::StateError::from)?
        {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(&bytes).map(Some).map_err(|e| {
                ExecutorError::State(weft_state::StateError::Corrupt(format!("{cf} entry: {e}")))
            }),
        }
    }

    /// Executes and commits the block at `height` with `txs`, proposed by `proposer` at `time_ms`.
    pub fn execute(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
    ) -> Result<ExecutedBlock, ExecutorError> {
        self.execute_with(height, time_ms, proposer, txs, &|_| false)
    }

    /// [`Executor::execute`], skipping the signature check of transactions for which
    /// `verified(hash)` is true: those the node's mempool admitted, whose signatures it checked.
    pub fn execute_with(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
        verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<ExecutedBlock, ExecutorError> {
        let staged = self.stage(height, time_ms, proposer, txs, verified)?;
        self.write(staged, None)
    }

    /// Writes a staged block (with its commit certificate, if any) in one atomic, synced batch.
    /// The store must still be at the height below the block's.
    pub fn write(
        &self,
        staged: StagedBlock,
        certificate: Option<&[u8]>,
    ) -> Result<ExecutedBlock, ExecutorError> {
        let StagedBlock {
            executed,
            mut batch,
            tx_hashes,
        } = staged;
        let height = executed.block.header.height;
        let latest = self.store.version()?;
        let expected = latest.map_or(1, |v| v + 1);
        if height != expected {
            return Err(ExecutorError::WrongHeight { height, expected });
        }
        let db = self.store.db();
        let cf = |name: &str| {
            db.cf_handle(name)
                .expect("executor column families are opened with the store")
        };
        const INFALLIBLE: &str = "borsh encoding into a Vec cannot fail";
        batch.put_cf(
            cf(BLOCKS),
            big_endian_key(height, None),
            borsh::to_vec(&executed.block).expect(INFALLIBLE),
        );
        for (i, receipt) in executed.receipts.iter().enumerate() {
            let location = big_endian_key(height, Some(i as u32));
            batch.put_cf(
                cf(RECEIPTS),
                &location,
                borsh::to_vec(receipt).expect(INFALLIBLE),
            );
            batch.put_cf(cf(TX_INDEX), tx_hashes[i].0, &location);
        }
        if let Some(certificate) = certificate {
            batch.put_cf(cf(CERTIFICATES), big_endian_key(height, None), certificate);
        }
        let writing = std::time::Instant::now();
        self.store.write(batch)?;
        tracing::debug!(
            height,
            write_us = writing.elapsed().as_micros() as u64,
            "wrote block"
        );
        Ok(executed)
    }

    /// Executes the block at `height` against the committed state without writing anything:
    /// the result is committed with [`Executor::write`] once decided, or dropped.
    pub fn stage(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
        verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<StagedBlock, ExecutorError> {
        let latest = self.store.version()?;
        let expected = latest.map_or(1, |v| v + 1);
        if height != expected {
            return Err(ExecutorError::WrongHeight { height, expected });
        }
        let parent = match latest {
            Some(h) => self.block(h)?.map(|b| b.header.hash()).unwrap_or_default(),
            None => Hash32::default(),
        };
        let env = BlockEnv { height, time_ms };
        let started = std::time::Instant::now();
        let view = Arc::new(BlockView::new(self.store.clone()));
        let mut receipts = Vec::with_capacity(txs.len());
        let mut tx_hashes = Vec::with_capacity(txs.len());
        // Signatures not checked before (at admission to this node's mempool) are checked here,
        // all in one batch.
        let hashes: Vec<Hash32> = txs.iter().map(|t| t.tx.hash()).collect();
        let unchecked: Vec<usize> = (0..txs.len()).filter(|i| !verified(&hashes[*i])).collect();
        let items: Vec<_> = unchecked
            .iter()
            .map(|&i| (txs[i].tx.sender, hashes[i], txs[i].signature))
            .collect();
        if let Some(k) = verify_batch(&items).iter().position(|ok| !ok) {
            let (index, (key, hash, signature)) = (unchecked[k], &items[k]);
            let reason = verify_hash(key, hash, signature)
                .err()
                .map_or_else(|| "invalid signature".to_string(), |e| e.to_string());
            return Err(ExecutorError::BadSignature {
                height,
                index,
                reason,
            });
        }
        for (index, signed) in txs.iter().enumerate() {
            let tx_hash = hashes[index];
            let tx = &signed.tx;
            if tx.chain_id != self.chain_id {
                return Err(ExecutorError::WrongChain {
                    height,
                    index,
                    found: tx.chain_id.clone(),
                    expected: self.chain_id.clone(),
                });
            }
            let sender = tx.sender.address();
            let nonce_key = keys::nonce(&sender);
            let next = read_nonce(view.get_key(&nonce_key)?);
            if tx.nonce != next {
                return Err(ExecutorError::BadNonce {
                    height,
                    index,
                    found: tx.nonce,
                    expected: next,
                });
            }
            view.apply([(nonce_key, Some((next + 1).to_le_bytes().to_vec()))]);
            let gas_limit = tx.gas_limit.min(self.max_tx_gas);
            let (outcome, created) = match &tx.action {
                Action::Deploy { code, init_args } => {
                    let contract = ContractId::derive(&sender, tx.nonce);
                    let deploy = Deploy {
                        sender,
                        contract,
                        code: code.as_slice().into(),
                        init_args: init_args.clone(),
                        gas_limit,
                    };
                    (self.vm.deploy(view.clone(), env, deploy)?, Some(contract))
                }
                Action::Call {
                    contract,
                    method,
                    args,
                } => {
                    let call = Call {
                        caller: sender,
                        contract: *contract,
                        method: method.clone(),
                        args: args.clone(),
                        gas_limit,
                    };
                    (self.vm.call(view.clone(), env, call)?, None)
                }
            };
            receipts.push(self.settle(
                &view,
                outcome,
                created,
                tx_hash,
                height,
                index as u32,
                sender,
            ));
            tx_hashes.push(tx_hash);
        }
        let writes = Arc::try_unwrap(view)
            .map_err(|_| weft_vm::VmError::Engine("the VM kept the block view".into()))?
            .into_pending();
        let executed_at = started.elapsed();
        let result = self.assemble(
            height, time_ms, proposer, parent, txs, tx_hashes, receipts, &writes,
        );
        tracing::debug!(
            height,
            execute_us = executed_at.as_micros() as u64,
            stage_us = (started.elapsed() - executed_at).as_micros() as u64,
            keys = writes.len(),
            "executed block"
        );
        result
    }

    /// Applies a transaction's outcome to the block view and makes its receipt.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; the fields of a receipt"
    )]
    fn settle(
        &self,
        view: &BlockView,
        outcome: Outcome,
        created: Option<ContractId>,
        tx_hash: Hash32,
        height: u64,
        index: u32,
        sender: Address,
    ) -> Receipt {
        let (status, events, contract) = match outcome.result {
            Ok(success) => {
                view.apply(state_writes(success.writes));
                (
                    ReceiptStatus::Success {
                        return_data: success.return_data,
                    },
                    success.events,
                    created,
                )
            }
            Err(e) => (
                ReceiptStatus::Failure {
                    error: e.to_string(),
                },
                Vec::new(),
                None,
            ),
        };
        Receipt {
            tx_hash,
            height,
            index,
            sender,
            status,
            gas_used: outcome.gas_used,
            events,
            contract,
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of a block, assembled once"
    )]
    fn assemble(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        parent: BlockHash,
        txs: Vec<SignedTransaction>,
        tx_hashes: Vec<Hash32>,
        receipts: Vec<Receipt>,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) -> Result<StagedBlock, ExecutorError> {
        let tx_root = list_hash("weft/txs/v1", tx_hashes.iter().copied());
        let receipts_root = list_hash("weft/receipts/v1", receipts.iter().map(Receipt::hash));
        // The header commits to the state root, so stage the state first; the block, receipts
        // and index join the same batch when it is written.
        let (state_root, batch) = self.store.stage(height, writes)?;
        let block = Block {
            header: BlockHeader {
                chain_id: self.chain_id.clone(),
                height,
                time_ms,
                parent,
                tx_root,
                state_root,
                receipts_root,
                proposer,
            },
            txs,
        };
        let hash = block.header.hash();
        Ok(StagedBlock {
            executed: ExecutedBlock {
                block,
                hash,
                receipts,
            },
            batch,
            tx_hashes,
        })
    }
}

fn read_nonce(bytes: Option<Vec<u8>>) -> u64 {
    bytes
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// The VM's write set as state-key writes.
fn state_writes(writes: WriteSet) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut out = Vec::with_capacity(writes.storage.len() + 2 * writes.contracts.len());
    for ((contract, key), value) in writes.storage {
        out.push((keys::storage(&contract, &key), value));
    }
    for (id, code_hash) in writes.contracts {
        out.push((keys::contract(&id), Some(code_hash.0.to_vec())));
    }
    for (hash, code) in writes.code {
        out.push((keys::code(&hash), Some(code.to_vec())));
    }
    out
}
