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
use weft_types::tx::upgrade_statement;
use weft_types::{
    Action, Address, Block, BlockHash, BlockHeader, ChainId, CodeHash, Committee, CommitteeMember,
    ContractId, Event, Hash32, PublicKey, QuorumCertificate, Receipt, ReceiptStatus,
    SignedTransaction, list_hash, verify_batch, verify_hash,
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
/// The domain of a block header's `tx_root` (over the transactions' hashes, in order).
pub const TX_ROOT_DOMAIN: &str = "weft/txs/v1";
/// Column family of the executor's own bookkeeping (the oldest block kept).
pub const EXECUTOR_META: &str = "executor_meta";
/// The column families the executor adds to the state store.
pub const COLUMN_FAMILIES: &[&str] = &[BLOCKS, RECEIPTS, TX_INDEX, CERTIFICATES, EXECUTOR_META];
const OLDEST_BLOCK: &[u8] = b"oldest_block";
/// Blocks one pruning batch deletes.
const PRUNE_BLOCKS_BATCH: u64 = 256;

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
    /// The genesis contracts could not be installed (a node built with broken system contracts).
    #[error("genesis: {0}")]
    Genesis(String),
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

/// A contract installed at genesis: a system contract at its well-known id.
#[derive(Debug, Clone)]
pub struct GenesisContract {
    /// Its id.
    pub id: ContractId,
    /// Its code.
    pub code: Arc<[u8]>,
    /// Borsh arguments of its init method.
    pub init_args: Vec<u8>,
}

/// Who governs a chain, stored in state at genesis: the committee whose quorum may upgrade
/// system contracts, the system contracts, and how many upgrades were made (each approval names
/// the upgrade number, so none can be replayed).
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Governance {
    /// The committee (a single-node chain: its key, with power 1).
    pub committee: Committee,
    /// The system contracts.
    pub system: Vec<ContractId>,
    /// Upgrades made so far.
    pub upgrades: u64,
}

/// Gas for installing one system contract at genesis: enough for any code the VM accepts.
const GENESIS_GAS: u64 = 1 << 40;

/// Executes blocks against a [`StateStore`].
pub struct Executor {
    vm: Vm,
    store: Arc<StateStore>,
    chain_id: ChainId,
    max_tx_gas: u64,
    genesis: Vec<GenesisContract>,
    governors: Option<Committee>,
}

fn big_endian_key(height: u64, index: Option<u32>) -> Vec<u8> {
    let mut out = height.to_be_bytes().to_vec();
    if let Some(i) = index {
        out.extend_from_slice(&i.to_be_bytes());
    }
    out
}

/// Which of a block's transactions (with their hashes) already had their signatures checked, one
/// answer each: a node says true for a transaction its mempool admitted with that same signature
/// (the hash does not cover the signature, so a block may carry an admitted transaction with
/// another one).
pub type Verified<'a> = &'a dyn Fn(&[SignedTransaction], &[Hash32]) -> Vec<bool>;

impl Executor {
    /// An executor for `chain_id`; transactions get at most `max_tx_gas` gas whatever they ask.
    /// The store must have been opened with [`COLUMN_FAMILIES`].
    pub fn new(vm: Vm, store: Arc<StateStore>, chain_id: ChainId, max_tx_gas: u64) -> Self {
        Self {
            vm,
            store,
            chain_id,
            max_tx_gas,
            genesis: Vec::new(),
            governors: None,
        }
    }

    /// Installs `contracts` at the start of block 1, and records the governance: `governors`, or
    /// on a single-node chain (`None`) the proposer of block 1 with power 1. Every node of a chain
    /// must be built with the same genesis, or block 1's state root differs.
    pub fn with_genesis(
        mut self,
        contracts: Vec<GenesisContract>,
        governors: Option<Committee>,
    ) -> Self {
        self.genesis = contracts;
        self.governors = governors;
        self
    }

    /// The governance record in committed state (`None` on a chain created without genesis
    /// contracts).
    pub fn governance(&self) -> Result<Option<Governance>, ExecutorError> {
        decode_governance(self.store.get(&keys::governance())?)
    }

    /// The code hash of a contract in committed state.
    pub fn code_hash(&self, contract: &ContractId) -> Result<Option<CodeHash>, ExecutorError> {
        Ok(self
            .store
            .get(&keys::contract(contract))?
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(CodeHash))
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

    /// Adds to `batch` what makes `block` (with its commit certificate) the head of a store
    /// whose state is being restored at its height from a snapshot: blocks below it are not
    /// here, and the next block executes on top of it. The batch is the restore's last.
    pub fn adopt_into(&self, batch: &mut rocksdb::WriteBatch, block: &Block, certificate: &[u8]) {
        let height = block.header.height;
        let db = self.store.db();
        let cf = |name: &str| {
            db.cf_handle(name)
                .expect("executor column families are opened with the store")
        };
        batch.put_cf(
            cf(BLOCKS),
            big_endian_key(height, None),
            borsh::to_vec(block).expect("borsh encoding into a Vec cannot fail"),
        );
        batch.put_cf(cf(CERTIFICATES), big_endian_key(height, None), certificate);
        batch.put_cf(cf(EXECUTOR_META), OLDEST_BLOCK, height.to_be_bytes());
    }

    /// The oldest height whose block, receipts and certificate are kept (1 until pruned).
    pub fn oldest_block(&self) -> Result<u64, ExecutorError> {
        let db = self.store.db();
        let cf = db
            .cf_handle(EXECUTOR_META)
            .expect("executor column families are opened with the store");
        Ok(db
            .get_cf(cf, OLDEST_BLOCK)
            .map_err(weft_state::StateError::from)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(1, u64::from_be_bytes))
    }

    /// Deletes blocks below `keep_from` with their receipts, transaction index entries and
    /// certificates (state is pruned separately, [`StateStore::prune`]). Returns how many blocks
    /// went. Batches of a few hundred blocks; safe to interrupt.
    pub fn prune_blocks(&self, keep_from: u64) -> Result<u64, ExecutorError> {
        let keep_from = keep_from.min(self.store.version()?.unwrap_or(0));
        let db = self.store.db();
        let cf = |name: &str| {
            db.cf_handle(name)
                .expect("executor column families are opened with the store")
        };
        let mut height = self.oldest_block()?;
        let mut pruned = 0;
        while height < keep_from {
            let end = keep_from.min(height + PRUNE_BLOCKS_BATCH);
            let mut batch = rocksdb::WriteBatch::default();
            for h in height..end {
                if let Some(block) = self.block(h)? {
                    for tx in &block.txs {
                        batch.delete_cf(cf(TX_INDEX), tx.tx.hash().0);
                    }
                    pruned += 1;
                }
                batch.delete_range_cf(
                    cf(RECEIPTS),
                    big_endian_key(h, None),
                    big_endian_key(h + 1, None),
                );
                batch.delete_cf(cf(BLOCKS), big_endian_key(h, None));
                batch.delete_cf(cf(CERTIFICATES), big_endian_key(h, None));
            }
            batch.put_cf(cf(EXECUTOR_META), OLDEST_BLOCK, end.to_be_bytes());
            db.write(batch).map_err(weft_state::StateError::from)?;
            height = end;
        }
        Ok(pruned)
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
        self.execute_with(height, time_ms, proposer, txs, &|txs, _| {
            vec![false; txs.len()]
        })
    }

    /// [`Executor::execute`], skipping the signature check of transactions for which
    /// [`Verified`] says true: those the node's mempool admitted, whose signatures it checked.
    pub fn execute_with(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
        verified: Verified<'_>,
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
            batch.put_cf(
                cf(RECEIPTS),
                big_endian_key(height, Some(i as u32)),
                borsh::to_vec(receipt).expect(INFALLIBLE),
            );
        }
        // In key order: RocksDB inserts a run of ascending keys into its memtable faster than
        // keys in random order (it starts each search from the previous insert).
        let mut by_hash: Vec<usize> = (0..executed.receipts.len()).collect();
        by_hash.sort_unstable_by_key(|&i| tx_hashes[i].0);
        for i in by_hash {
            batch.put_cf(
                cf(TX_INDEX),
                tx_hashes[i].0,
                big_endian_key(height, Some(i as u32)),
            );
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
        verified: Verified<'_>,
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
        let checked = verified(&txs, &hashes);
        let unchecked: Vec<usize> = (0..txs.len())
            .filter(|&i| !checked.get(i).copied().unwrap_or(false))
            .collect();
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
        if height == 1 {
            self.install_genesis(&view, env, proposer)?;
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
                Action::Upgrade {
                    contract,
                    code,
                    approvals,
                } => {
                    let result = self.upgrade(&view, contract, code, approvals)?;
                    receipts.push(upgrade_receipt(
                        result,
                        *contract,
                        tx_hash,
                        height,
                        index as u32,
                        sender,
                    ));
                    tx_hashes.push(tx_hash);
                    continue;
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

    /// Installs the genesis contracts and the governance record into block 1's view.
    fn install_genesis(
        &self,
        view: &Arc<BlockView>,
        env: BlockEnv,
        proposer: PublicKey,
    ) -> Result<(), ExecutorError> {
        if self.genesis.is_empty() && self.governors.is_none() {
            return Ok(());
        }
        for contract in &self.genesis {
            let deploy = Deploy {
                sender: Address::default(),
                contract: contract.id,
                code: contract.code.clone(),
                init_args: contract.init_args.clone(),
                gas_limit: GENESIS_GAS,
            };
            match self.vm.deploy(view.clone(), env, deploy)?.result {
                Ok(success) => view.apply(state_writes(success.writes)),
                Err(e) => {
                    return Err(ExecutorError::Genesis(format!(
                        "system contract {} cannot be installed: {e}",
                        contract.id
                    )));
                }
            }
        }
        let committee = match &self.governors {
            Some(committee) => committee.clone(),
            None => Committee::new(
                0,
                vec![CommitteeMember {
                    public_key: proposer,
                    power: 1,
                }],
            )
            .map_err(|e| ExecutorError::Genesis(e.to_string()))?,
        };
        let governance = Governance {
            committee,
            system: self.genesis.iter().map(|c| c.id).collect(),
            upgrades: 0,
        };
        view.apply([(
            keys::governance(),
            Some(borsh::to_vec(&governance).expect("borsh encoding into a Vec cannot fail")),
        )]);
        Ok(())
    }

    /// Replaces a system contract's code if the committee approved it; `Err(message)` for a
    /// refused upgrade (the transaction fails, the block stands).
    fn upgrade(
        &self,
        view: &Arc<BlockView>,
        contract: &ContractId,
        code: &[u8],
        approvals: &QuorumCertificate,
    ) -> Result<Result<(CodeHash, CodeHash), String>, ExecutorError> {
        let Some(mut governance) = decode_governance(view.get_key(&keys::governance())?)? else {
            return Ok(Err(
                "this chain was created without system contracts; there is nothing to upgrade"
                    .into(),
            ));
        };
        if !governance.system.contains(contract) {
            return Ok(Err(format!(
                "contract {contract} is not a system contract; only system contracts can be upgraded"
            )));
        }
        let Some(from) = view
            .get_key(&keys::contract(contract))?
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(CodeHash)
        else {
            return Ok(Err(format!(
                "system contract {contract} has no code record"
            )));
        };
        let to = CodeHash::of(code);
        if to == from {
            return Ok(Err(format!(
                "the new code is the code system contract {contract} already runs ({to})"
            )));
        }
        // The quorum first: it needs only the code's hash, so unauthorized upgrades cost no
        // parsing of their code.
        let statement =
            upgrade_statement(&self.chain_id, contract, &from, &to, governance.upgrades);
        if let Err(e) = governance.committee.verify(&statement, approvals) {
            return Ok(Err(format!(
                "the approvals do not authorize this upgrade: {e}. They must sign upgrade_statement(chain `{}`, contract {contract}, current code {from}, new code {to}, upgrade number {}) as members of the governing committee",
                self.chain_id, governance.upgrades
            )));
        }
        if let Err(e) = self.vm.validate(code) {
            return Ok(Err(format!("the new code is not a valid contract: {e}")));
        }
        governance.upgrades += 1;
        view.apply([
            (keys::contract(contract), Some(to.0.to_vec())),
            (keys::code(&to), Some(code.to_vec())),
            (
                keys::governance(),
                Some(borsh::to_vec(&governance).expect("borsh encoding into a Vec cannot fail")),
            ),
        ]);
        Ok(Ok((from, to)))
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
        let tx_root = list_hash(TX_ROOT_DOMAIN, tx_hashes.iter().copied());
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

fn decode_governance(bytes: Option<Vec<u8>>) -> Result<Option<Governance>, ExecutorError> {
    bytes
        .map(|b| {
            borsh::from_slice(&b).map_err(|e| {
                ExecutorError::State(weft_state::StateError::Corrupt(format!(
                    "governance record: {e}"
                )))
            })
        })
        .transpose()
}

/// The receipt of an upgrade: an `upgraded` event with the old and new code hashes, or the reason
/// it was refused.
fn upgrade_receipt(
    result: Result<(CodeHash, CodeHash), String>,
    contract: ContractId,
    tx_hash: Hash32,
    height: u64,
    index: u32,
    sender: Address,
) -> Receipt {
    let (status, events) = match result {
        Ok(hashes) => (
            ReceiptStatus::Success {
                return_data: Vec::new(),
            },
            vec![Event {
                contract,
                topic: "upgraded".into(),
                data: borsh::to_vec(&hashes).expect("borsh encoding into a Vec cannot fail"),
            }],
        ),
        Err(error) => (ReceiptStatus::Failure { error }, Vec::new()),
    };
    Receipt {
        tx_hash,
        height,
        index,
        sender,
        status,
        gas_used: 0,
        events,
        contract: None,
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
