//! [`Node`]: the executor, the mempool, read-only queries and notifications behind one cloneable
//! handle, shared by the JSON-RPC server and whatever produces blocks.
//!
//! **The block-production seam.** A producer calls [`Node::propose`] for the transactions of the
//! next block and [`Node::commit`] once the block is decided. The single-node [`crate::producer`]
//! decides alone; the committee's consensus replaces it and calls the same two methods, so neither
//! the executor nor the RPC layer changes.

use crate::config::NodeConfig;
use crate::metrics::Metrics;
use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, oneshot};
use weft_api::{ArgsFn, CommitteeInfo, TangleApi};
use weft_executor::view::{BlockView, HistoricalView};
use weft_executor::{COLUMN_FAMILIES, Executor, ExecutorError, StagedBlock};
use weft_mempool::{AdmitError, Mempool};
use weft_state::{StateProof, StateStore};
use weft_types::{
    Action, Address, Block, ChainId, CodeHash, ContractAbi, ContractId, Hash32, MethodKind,
    PublicKey, Receipt, Signature, SignatureError, SignedTransaction, TxHash, VerifyingKey,
};
use weft_vm::{BlockEnv, Call, StateView, Vm, VmConfig};

pub use weft_api::{CommittedBlock, ContractRecord, Head, QueryError, QueryOutcome, SubmitError};

/// Why the node cannot start or serve.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory could not be used.
    #[error("cannot open the data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The executor or its store failed.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// The genesis file named in the configuration is not usable.
    #[error("{0}")]
    Genesis(String),
    /// The VM could not be built.
    #[error("cannot start the VM: {0}")]
    Vm(#[from] weft_vm::VmError),
    /// The state store failed.
    #[error("state store failure: {0}")]
    State(#[from] weft_state::StateError),
}

type Waiters = HashMap<TxHash, Vec<oneshot::Sender<Arc<Receipt>>>>;

struct Inner {
    config: NodeConfig,
    chain_id: ChainId,
    store: Arc<StateStore>,
    executor: Executor,
    /// One block is executed and committed at a time.
    commit_lock: Mutex<()>,
    query_vm: Vm,
    mempool: Mutex<Mempool>,
    /// Contracts whose deploys are pending, with their ABIs, so calls to them can be admitted.
    pending_contracts: Mutex<HashMap<ContractId, Arc<ContractAbi>>>,
    abis: Mutex<LruCache<CodeHash, ContractRecord>>,
    /// Decompressed sender keys: decompressing a point costs more than a quarter of a batched
    /// verification.
    verifying_keys: Mutex<LruCache<PublicKey, VerifyingKey>>,
    head: RwLock<Head>,
    blocks: broadcast::Sender<Arc<CommittedBlock>>,
    waiters: Mutex<Waiters>,
    wake: tokio::sync::Notify,
    metrics: Metrics,
    /// Where locally submitted transactions go to be gossiped to the committee (committee mode).
    gossip: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<SignedTransaction>>,
    /// The committee, once a committee runs this node.
    committee: std::sync::OnceLock<CommitteeInfo>,
    /// The embedded Tangle, once a committee member opened it.
    tangle: std::sync::OnceLock<Arc<dyn TangleApi>>,
}

/// A running node's state and services. Cheap to clone.
#[derive(Clone)]
pub struct Node(Arc<Inner>);

/// The ABIs of contracts looked up while admitting one request's transactions. A contract
/// upgraded meanwhile is checked against the ABI it had when the batch first looked it up; its
/// block checks the call again.
pub(crate) type Abis = HashMap<ContractId, Arc<ContractAbi>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means another thread panicked mid-update; the node cannot go on safely.
    m.lock().expect("node lock poisoned by a panic")
}

/// The system contracts every chain starts with (`weft-system`), as the executor installs them.
pub fn genesis_contracts(chain_id: &str) -> Vec<weft_executor::GenesisContract> {
    weft_system::ALL
        .iter()
        .map(|c| weft_executor::GenesisContract {
            id: c.id(),
            code: c.code.into(),
            init_args: c.init_args(chain_id),
        })
        .collect()
}

/// Milliseconds since the Unix epoch by the wall clock (for admission rate limits and proposals,
/// never for execution).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    /// Opens (or creates) the node's data in `config.data_dir`.
    pub fn open(config: NodeConfig, metrics: Metrics) -> Result<Self, NodeError> {
        let dir_error = |reason: String| NodeError::DataDir {
            path: config.data_dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|e| dir_error(e.to_string()))?;
        let store = Arc::new(
            StateStore::open(&config.data_dir.join("state"), COLUMN_FAMILIES)
                .map_err(|e| dir_error(e.to_string()))?,
        );
        let vm_config = || VmConfig {
            cache_dir: Some(config.data_dir.join("modules")),
            ..VmConfig::default()
        };
        // Queries get their own VM (and instance pool), so query load cannot starve blocks.
        let chain_id = ChainId(config.chain_id.clone());
        // The system contracts are installed at block 1, governed by the genesis committee (or,
        // on a single-node chain, by the producer of block 1).
        let governors = match &config.genesis {
            Some(path) => {
                let genesis = crate::genesis::Genesis::load(path)
                    .map_err(|e| NodeError::Genesis(e.to_string()))?;
                Some(genesis.committee().map_err(|e| {
                    NodeError::Genesis(format!("genesis file {}: {e}", path.display()))
                })?)
            }
            None => None,
        };
        let executor = Executor::new(
            Vm::new(vm_config())?,
            store.clone(),
            chain_id.clone(),
            config.max_tx_gas,
        )
        .with_genesis(genesis_contracts(&config.chain_id), governors);
        let query_vm = Vm::new(vm_config())?;
        let head = match store.version()? {
            None => Head::default(),
            Some(height) => {
                let block = executor.block(height)?.ok_or_else(|| {
                    dir_error(format!(
                        "state is at height {height} but that block is missing"
                    ))
                })?;
                Head {
                    height,
                    hash: block.header.hash(),
                    state_root: block.header.state_root,
                    time_ms: block.header.time_ms,
                }
            }
        };
        metrics.height.set(head.height as i64);
        let mempool = Mempool::new(chain_id.clone(), config.mempool.clone());
        let (blocks, _) = broadcast::channel(256);
        Ok(Self(Arc::new(Inner {
            chain_id,
            store,
            executor,
            commit_lock: Mutex::new(()),
            query_vm,
            mempool: Mutex::new(mempool),
            pending_contracts: Mutex::new(HashMap::new()),
            abis: Mutex::new(LruCache::new(NonZeroUsize::new(1024).expect("nonzero"))),
            verifying_keys: Mutex::new(LruCache::new(NonZeroUsize::new(65_536).expect("nonzero"))),
            head: RwLock::new(head),
            blocks,
            waiters: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
            metrics,
            gossip: std::sync::OnceLock::new(),
            committee: std::sync::OnceLock::new(),
            tangle: std::sync::OnceLock::new(),
            config,
        })))
    }

    /// How many handles to this node exist (the node's data is closed when the last one goes).
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.0.config
    }

    /// The system contracts and the code each runs now: before block 1, the genesis code; after
    /// it, what state holds (a chain created before a system contract existed lacks it).
    pub fn system_contracts(&self) -> Vec<weft_api::SystemContractInfo> {
        let started = self.head().height > 0;
        weft_system::ALL
            .iter()
            .filter_map(|c| {
                let installed = self.0.executor.code_hash(&c.id()).ok().flatten();
                let code_hash = match installed {
                    Some(hash) => hash,
                    None if started => return None,
                    None => c.code_hash(),
                };
                Some(weft_api::SystemContractInfo {
                    name: c.name.to_string(),
                    id: c.id(),
                    code_hash,
                })
            })
            .collect()
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.0.chain_id
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The latest committed block.
    pub fn head(&self) -> Head {
        *self.0.head.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Pending transactions.
    pub fn mempool_len(&self) -> usize {
        lock(&self.0.mempool).len()
    }

    /// New blocks, as they commit.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.0.blocks.subscribe()
    }

    /// Resolves when a transaction is admitted after the last call (at once if one was admitted
    /// while nobody waited).
    pub async fn transaction_admitted(&self) {
        self.0.wake.notified().await;
    }

    /// Resolves once a pending transaction arrives (for producers).
    pub async fn wait_for_transactions(&self) {
        loop {
            let notified = self.0.wake.notified();
            if !lock(&self.0.mempool).is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Decodes a transaction's borsh bytes.
    pub fn decode(&self, bytes: &[u8]) -> Result<SignedTransaction, SubmitError> {
        let limit = self.0.config.mempool.max_tx_bytes;
        if bytes.len() > limit {
            return Err(AdmitError::TooLarge {
                size: bytes.len(),
                limit,
            }
            .into());
        }
        borsh::from_slice(bytes).map_err(|e| SubmitError::Malformed(e.to_string()))
    }

    /// Sends transactions submitted to this node (not those from peers) to `gossip`, for the
    /// committee. Set once, by the committee's network.
    pub fn set_gossip(&self, gossip: tokio::sync::mpsc::UnboundedSender<SignedTransaction>) {
        let _ = self.0.gossip.set(gossip);
    }

    /// Records the committee this node belongs to (for `weft_chainInfo`).
    pub fn set_committee(&self, committee: CommitteeInfo) {
        let _ = self.0.committee.set(committee);
    }

    /// Records the embedded Tangle (committee members only).
    pub fn set_tangle(&self, tangle: Arc<dyn TangleApi>) {
        let _ = self.0.tangle.set(tangle);
    }

    /// The committee, when this node runs in one.
    pub fn committee(&self) -> Option<&CommitteeInfo> {
        self.0.committee.get()
    }

    /// The state store.
    pub fn store(&self) -> &Arc<StateStore> {
        &self.0.store
    }

    /// The executor (blocks, receipts, certificates).
    pub fn executor(&self) -> &Executor {
        &self.0.executor
    }

    /// The embedded Tangle, when this member has opened it.
    pub fn tangle_service(&self) -> Option<&dyn TangleApi> {
        self.0.tangle.get().map(|t| t.as_ref())
    }

    /// Checks and admits a decoded transaction whose encoding is `size` bytes. Cheap checks come
    /// first, then the signature (outside any lock, so RPC threads verify in parallel), then
    /// state checks. In a committee, an admitted transaction is gossiped to the other members.
    pub fn submit(&self, tx: SignedTransaction, size: usize) -> Result<TxHash, SubmitError> {
        self.submit_local(tx, size, None, &mut Abis::new())
    }

    /// A transaction submitted to this node (gossiped to the committee once admitted); `verified`
    /// is its hash when its signature was checked already.
    fn submit_local(
        &self,
        tx: SignedTransaction,
        size: usize,
        verified: Option<TxHash>,
        abis: &mut Abis,
    ) -> Result<TxHash, SubmitError> {
        let forward = self.0.gossip.get().map(|_| tx.clone());
        let result = self.submit_counted(tx, size, verified, abis);
        if let (Ok(_), Some(tx), Some(gossip)) = (&result, forward, self.0.gossip.get()) {
            let _ = gossip.send(tx);
        }
        result
    }

    /// Decodes and admits many transactions (each its borsh bytes), checking the signatures of
    /// all together (ZIP-215 batch verification); one result each, in order.
    pub fn submit_many(&self, txs: &[Vec<u8>]) -> Vec<Result<TxHash, SubmitError>> {
        let decoded: Vec<Result<SignedTransaction, SubmitError>> =
            txs.iter().map(|b| self.decode(b)).collect();
        let items: Vec<_> = decoded
            .iter()
            .flatten()
            .map(|t| (t.tx.sender, t.tx.hash(), t.signature))
            .collect();
        let mut verdicts = self.verify_batch(&items).into_iter();
        let mut hashes = items.into_iter().map(|(_, hash, _)| hash);
        // A batch mostly calls a few contracts: their ABIs are looked up once per batch.
        let mut abis = Abis::new();
        decoded
            .into_iter()
            .zip(txs)
            .map(|(tx, bytes)| {
                let tx = tx?;
                let (valid, hash) = (verdicts.next(), hashes.next());
                match (valid, hash) {
                    (Some(true), Some(hash)) => {
                        self.submit_local(tx, bytes.len(), Some(hash), &mut abis)
                    }
                    // Checked again alone: the error (and its metric) says what was wrong.
                    _ => self.submit_counted(tx, bytes.len(), None, &mut abis),
                }
            })
            .collect()
    }

    /// [`Node::submit_from_peer`]: it is not gossiped again (the
    /// network relays what it validated).
    pub fn submit_from_peer(
        &self,
        tx: SignedTransaction,
        size: usize,
    ) -> Result<TxHash, SubmitError> {
        self.submit_counted(tx, size, None, &mut Abis::new())
    }

    /// [`Node::submit_from_peer`] for a transaction whose signature the caller checked (in a
    /// batch); `hash` is its hash, `abis` the ABIs already looked up for the same batch.
    pub(crate) fn submit_verified_from_peer(
        &self,
        tx: SignedTransaction,
        size: usize,
        hash: TxHash,
        abis: &mut Abis,
    ) -> Result<TxHash, SubmitError> {
        self.submit_counted(tx, size, Some(hash), abis)
    }

    fn submit_counted(
        &self,
        tx: SignedTransaction,
        size: usize,
        verified: Option<TxHash>,
        abis: &mut Abis,
    ) -> Result<TxHash, SubmitError> {
        let result = self.submit_inner(tx, size, verified, abis);
        match &result {
            Ok(_) => {
                self.0.metrics.txs_admitted.inc();
            }
            Err(e) => {
                self.0
                    .metrics
                    .txs_rejected
                    .get_or_create(&crate::metrics::Reason { reason: e.reason() })
                    .inc();
            }
        }
        result
    }

    fn submit_inner(
        &self,
        tx: SignedTransaction,
        size: usize,
        verified: Option<TxHash>,
        abis: &mut Abis,
    ) -> Result<TxHash, SubmitError> {
        self.0
            .config
            .mempool
            .precheck(&self.0.chain_id, &tx, size)?;
        let hash = match verified {
            Some(hash) => hash,
            None => self.verify(&tx).map_err(AdmitError::from)?,
        };
        let deployed_abi = self.check_action(&tx, abis)?;
        let sender = tx.tx.sender.address();
        let committed = self.committed_nonce(&sender)?;
        let nonce = tx.tx.nonce;
        lock(&self.0.mempool).admit_verified(tx, hash, size, committed, now_ms())?;
        if let Some(abi) = deployed_abi {
            let id = ContractId::derive(&sender, nonce);
            lock(&self.0.pending_contracts).insert(id, abi);
        }
        self.0.metrics.mempool_size.set(self.mempool_len() as i64);
        self.0.wake.notify_one();
        Ok(hash)
    }

    /// Checks a transaction's signature (ZIP-215, as `SignedTransaction::verify`) with the
    /// sender's decompressed key from a cache.
    fn verify(&self, tx: &SignedTransaction) -> Result<TxHash, SignatureError> {
        let hash = tx.tx.hash();
        let key = self.verifying_keys(&[tx.tx.sender]).remove(0)?;
        key.verify(&hash.0, &tx.signature)?;
        Ok(hash)
    }

    /// The decompressed keys, from the cache; the ones it lacks are decompressed (outside the
    /// lock) and kept.
    fn verifying_keys(&self, keys: &[PublicKey]) -> Vec<Result<VerifyingKey, SignatureError>> {
        let cached: Vec<Option<VerifyingKey>> = {
            let mut cache = lock(&self.0.verifying_keys);
            keys.iter().map(|k| cache.get(k).copied()).collect()
        };
        // A key the cache lacks is decompressed once however often it appears.
        let mut fresh: HashMap<PublicKey, Result<VerifyingKey, SignatureError>> = HashMap::new();
        let keys: Vec<_> = keys
            .iter()
            .zip(cached)
            .map(|(key, cached)| match cached {
                Some(k) => Ok(k),
                None => fresh
                    .entry(*key)
                    .or_insert_with(|| VerifyingKey::new(key))
                    .clone(),
            })
            .collect();
        if !fresh.is_empty() {
            let mut cache = lock(&self.0.verifying_keys);
            for k in fresh.into_values().flatten() {
                cache.put(k.public_key(), k);
            }
        }
        keys
    }

    /// Checks many signatures in one batch over the cached keys (ZIP-215); whether each is
    /// valid, as [`weft_types::verify_batch`] says.
    pub(crate) fn verify_batch(&self, items: &[(PublicKey, TxHash, Signature)]) -> Vec<bool> {
        let keyed = self.keyed(items);
        let valid: Vec<_> = keyed.iter().flatten().copied().collect();
        let mut verdicts = weft_types::verify_batch_keyed(&valid).into_iter();
        keyed
            .iter()
            .map(|item| item.is_ok() && verdicts.next().unwrap_or(false))
            .collect()
    }

    /// Whether every signature is valid, in one batch check over the cached keys (as
    /// [`weft_types::verify_all`]).
    pub(crate) fn verify_all(&self, items: &[(PublicKey, TxHash, Signature)]) -> bool {
        let keyed: Result<Vec<_>, _> = self.keyed(items).into_iter().collect();
        keyed.is_ok_and(|keyed| weft_types::verify_all_keyed(&keyed))
    }

    /// Each item with its sender's decompressed key, or why the key is refused.
    fn keyed(
        &self,
        items: &[(PublicKey, TxHash, Signature)],
    ) -> Vec<Result<(VerifyingKey, TxHash, Signature), SignatureError>> {
        let keys: Vec<PublicKey> = items.iter().map(|(key, _, _)| *key).collect();
        items
            .iter()
            .zip(self.verifying_keys(&keys))
            .map(|((_, hash, signature), key)| Ok((key?, *hash, *signature)))
            .collect()
    }

    /// Deploys must carry valid code; calls must name a deployed (or pending) contract and one of
    /// its call methods. Returns the ABI of deployed code. `abis` holds the ABIs of contracts
    /// already looked up for the same request.
    fn check_action(
        &self,
        tx: &SignedTransaction,
        abis: &mut Abis,
    ) -> Result<Option<Arc<ContractAbi>>, SubmitError> {
        match &tx.tx.action {
            Action::Deploy { code, .. } => {
                let abi = self
                    .0
                    .query_vm
                    .validate(code)
                    .map_err(|e| SubmitError::InvalidCode(e.to_string()))?;
                Ok(Some(Arc::new(abi)))
            }
            // The committee's approvals are checked when the block executes (against the code
            // and upgrade count of that moment); here only that the code is a valid contract.
            Action::Upgrade { code, .. } => {
                self.0
                    .query_vm
                    .validate(code)
                    .map_err(|e| SubmitError::InvalidCode(e.to_string()))?;
                Ok(None)
            }
            Action::Call {
                contract, method, ..
            } => {
                let abi = match abis.get(contract) {
                    Some(abi) => abi.clone(),
                    None => {
                        let abi = self.called_abi(contract)?;
                        abis.insert(*contract, abi.clone());
                        abi
                    }
                };
                match abi.method(method) {
                    Some(m) if m.kind == MethodKind::Call => Ok(None),
                    Some(m) => Err(SubmitError::UnknownMethod(format!(
                        "method `{method}` of contract {contract} is {} {}; transactions call `call` methods",
                        if m.kind == MethodKind::View {
                            "a"
                        } else {
                            "an"
                        },
                        m.kind.as_str(),
                    ))),
                    None => Err(SubmitError::UnknownMethod(format!(
                        "contract {contract} has no method `{method}`; its methods are: {}",
                        abi.method_list()
                    ))),
                }
            }
        }
    }

    /// The ABI of a contract a transaction calls: deployed, pending in the mempool, or (before
    /// block 1 installs them) a system contract.
    fn called_abi(&self, contract: &ContractId) -> Result<Arc<ContractAbi>, SubmitError> {
        match self.contract_abi_latest(contract) {
            Ok(Some(abi)) => Ok(abi),
            Ok(None) => match lock(&self.0.pending_contracts).get(contract).cloned() {
                Some(abi) => Ok(abi),
                // Before block 1, the system contracts are not installed yet.
                None if self.head().height == 0 => weft_system::by_id(contract)
                    .and_then(|c| self.0.query_vm.validate(c.code).ok())
                    .map(Arc::new)
                    .ok_or(SubmitError::UnknownContract(*contract)),
                None => Err(SubmitError::UnknownContract(*contract)),
            },
            Err(e) => Err(SubmitError::Internal(e)),
        }
    }

    fn committed_nonce(&self, address: &Address) -> Result<u64, SubmitError> {
        self.0
            .executor
            .nonce(address)
            .map_err(|e| SubmitError::Internal(e.to_string()))
    }

    /// The committed and next free nonce of an account, and the height read.
    pub fn account(&self, address: &Address) -> Result<(u64, u64, u64), String> {
        let _reading = self.0.store.read_section();
        let height = self.head().height;
        let committed = self.0.executor.nonce(address).map_err(|e| e.to_string())?;
        let next = lock(&self.0.mempool).next_nonce(address, committed);
        Ok((committed, next, height))
    }

    /// Waits until `hash` is committed and returns its receipt. Register before submitting, so a
    /// fast commit is not missed.
    pub fn watch(&self, hash: TxHash) -> oneshot::Receiver<Arc<Receipt>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.0.waiters).entry(hash).or_default().push(tx);
        rx
    }

    /// Drops the waiters of `hash` (after a rejected submission or a timeout).
    pub fn unwatch(&self, hash: &TxHash) {
        let mut waiters = lock(&self.0.waiters);
        if let Some(list) = waiters.get_mut(hash) {
            list.retain(|w| !w.is_closed());
            if list.is_empty() {
                waiters.remove(hash);
            }
        }
    }

    /// A committed receipt.
    pub fn receipt(&self, hash: &TxHash) -> Result<Option<Receipt>, String> {
        self.0.executor.receipt(hash).map_err(|e| e.to_string())
    }

    /// A pending transaction.
    pub fn pending_tx(&self, hash: &TxHash) -> Option<SignedTransaction> {
        lock(&self.0.mempool).get(hash).cloned()
    }

    /// A committed block.
    pub fn block(&self, height: u64) -> Result<Option<Block>, String> {
        self.0.executor.block(height).map_err(|e| e.to_string())
    }

    /// The commit certificate of a committed block, if the chain runs a committee.
    pub fn certificate(
        &self,
        height: u64,
    ) -> Result<Option<weft_consensus::StoredCertificate>, String> {
        match self
            .0
            .executor
            .certificate(height)
            .map_err(|e| e.to_string())?
        {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("stored certificate of block {height} is corrupt: {e}")),
        }
    }

    /// Resolves a requested height against the store's latest version (not the head, which is
    /// updated just after a commit lands).
    fn check_height(&self, height: Option<u64>) -> Result<(u64, bool), QueryError> {
        let latest = self
            .0
            .store
            .version()
            .map_err(|e| QueryError::Internal(e.to_string()))?
            .unwrap_or(0);
        match height {
            None => Ok((latest, true)),
            Some(h) if h == latest => Ok((h, true)),
            Some(h) if h == 0 || h > latest => Err(QueryError::UnknownHeight { asked: h, latest }),
            Some(h) => Ok((h, false)),
        }
    }

    fn contract_abi_latest(&self, id: &ContractId) -> Result<Option<Arc<ContractAbi>>, String> {
        let view = BlockView::new(self.0.store.clone());
        Ok(self.contract_in(&view, id)?.map(|c| c.abi))
    }

    fn contract_in(
        &self,
        view: &dyn StateView,
        id: &ContractId,
    ) -> Result<Option<ContractRecord>, String> {
        let Some(code_hash) = view.contract(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        // Code is stored by hash and never changes, so its ABI and size are cached by hash: a
        // submission or query reads the contract record, not the code.
        if let Some(record) = lock(&self.0.abis).get(&code_hash) {
            return Ok(Some(record.clone()));
        }
        let code = view
            .code(&code_hash)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the code of contract {id} is missing from state"))?;
        let abi = weft_vm::validate::read_abi(&code).map_err(|e| e.to_string())?;
        let record = ContractRecord {
            code_hash,
            code_size: code.len() as u64,
            abi: Arc::new(abi),
        };
        lock(&self.0.abis).put(code_hash, record.clone());
        Ok(Some(record))
    }

    /// A deployed contract at `height` (latest when `None`).
    pub fn contract(
        &self,
        id: &ContractId,
        height: Option<u64>,
    ) -> Result<(ContractRecord, u64), QueryError> {
        let _reading = self.0.store.read_section();
        let (height, latest) = self.check_height(height)?;
        let record = if latest {
            self.contract_in(&BlockView::new(self.0.store.clone()), id)
        } else {
            self.contract_in(&HistoricalView::new(self.0.store.clone(), height), id)
        }
        .map_err(QueryError::Internal)?;
        record
            .map(|r| (r, height))
            .ok_or(QueryError::UnknownContract(*id, height))
    }

    /// Runs a method read-only at `height` (latest when `None`). `args` turns the method's ABI
    /// into borsh arguments (JSON through the ABI, or raw).
    pub fn query(
        &self,
        contract: ContractId,
        method: &str,
        args: ArgsFn<'_>,
        height: Option<u64>,
        caller: Address,
        gas_limit: Option<u64>,
    ) -> Result<QueryOutcome, QueryError> {
        // Hold off commits, so every read of this call sees one version.
        let _reading = self.0.store.read_section();
        let (height, latest) = self.check_height(height)?;
        let view: Arc<dyn StateView> = if latest {
            Arc::new(BlockView::new(self.0.store.clone()))
        } else {
            Arc::new(HistoricalView::new(self.0.store.clone(), height))
        };
        let record = self
            .contract_in(view.as_ref(), &contract)
            .map_err(QueryError::Internal)?
            .ok_or(QueryError::UnknownContract(contract, height))?;
        let abi_method = record.abi.method(method).cloned().ok_or_else(|| {
            QueryError::UnknownMethod(format!(
                "contract {contract} has no method `{method}`; its methods are: {}",
                record.abi.method_list()
            ))
        })?;
        match abi_method.kind {
            MethodKind::View => {}
            MethodKind::Init => {
                return Err(QueryError::UnknownMethod(format!(
                    "method `{method}` of contract {contract} is its init method; it runs only at deploy"
                )));
            }
            MethodKind::Call => {
                return Err(QueryError::UnknownMethod(format!(
                    "method `{method}` of contract {contract} is a call method; weft_call runs view methods; send a transaction to run it"
                )));
            }
        }
        let args = args(&abi_method).map_err(QueryError::BadArgs)?;
        // A view of the latest state runs as if in the next block: an idle chain makes no
        // blocks, so the head's time may be long past, and expiries must be judged at the
        // present. A view of a past height runs at that block's time, so it answers the same
        // whenever it is asked.
        let time_ms = if latest {
            self.head().time_ms.max(now_ms())
        } else {
            match self.0.executor.block(height) {
                Ok(Some(block)) => block.header.time_ms,
                _ => self.head().time_ms,
            }
        };
        let limit = self.0.config.query_gas;
        let call = Call {
            caller,
            contract,
            method: method.to_string(),
            args,
            gas_limit: gas_limit.unwrap_or(limit).min(limit),
        };
        let outcome = self
            .0
            .query_vm
            .query(view, BlockEnv { height, time_ms }, call)
            .map_err(|e| QueryError::Internal(e.to_string()))?;
        match outcome.result {
            Ok(success) => Ok(QueryOutcome {
                return_data: success.return_data,
                gas_used: outcome.gas_used,
                height,
                method: abi_method,
            }),
            Err(error) => Err(QueryError::Contract {
                error: error.to_string(),
                gas_used: outcome.gas_used,
            }),
        }
    }

    /// A state key's value and proof at `height` (latest when `None`), with that height's root.
    pub fn state(
        &self,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<(u64, Hash32, StateProof), QueryError> {
        let (height, _) = self.check_height(height)?;
        let internal = |e: weft_state::StateError| QueryError::Internal(e.to_string());
        let root = self.0.store.root(height).map_err(internal)?;
        let proof = self.0.store.prove(key, height).map_err(internal)?;
        Ok((height, root, proof))
    }

    /// The block-production seam, part one: up to `max` transactions ready for the next block,
    /// in an order the executor accepts (per sender by nonce).
    pub fn propose(&self, max: usize) -> Vec<SignedTransaction> {
        let executor = &self.0.executor;
        lock(&self.0.mempool).ready(max, |a| executor.nonce(a).unwrap_or(u64::MAX))
    }

    /// The block-production seam, part two: executes and commits the decided block, then prunes
    /// the mempool, wakes waiters and notifies subscribers.
    pub fn commit(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
    ) -> Result<Arc<CommittedBlock>, ExecutorError> {
        let staged = self.stage(height, time_ms, proposer, txs)?;
        self.commit_staged(staged, None)
    }

    /// Executes the block at `height` against committed state without writing it (a committee
    /// member does this for its own proposal and for each proposal it checks).
    pub fn stage(
        &self,
        height: u64,
        time_ms: u64,
        proposer: PublicKey,
        txs: Vec<SignedTransaction>,
    ) -> Result<StagedBlock, ExecutorError> {
        // Transactions this node's mempool admitted had their signatures checked there: the same
        // transaction (by hash, which the executor computes once) with the same signature.
        self.0
            .executor
            .stage(height, time_ms, proposer, txs, &|txs, hashes| {
                let mempool = lock(&self.0.mempool);
                txs.iter()
                    .zip(hashes)
                    .map(|(tx, hash)| {
                        mempool
                            .get(hash)
                            .is_some_and(|p| p.signature == tx.signature)
                    })
                    .collect()
            })
    }

    /// Takes `block` as the head after the state store was restored at its height from a
    /// snapshot, with the block written in the restore's last batch (`crate::statesync`).
    pub fn adopted_snapshot(&self, block: &weft_types::Block) {
        let header = &block.header;
        *self.0.head.write().unwrap_or_else(|e| e.into_inner()) = Head {
            height: header.height,
            hash: header.hash(),
            state_root: header.state_root,
            time_ms: header.time_ms,
        };
        self.0.metrics.height.set(header.height as i64);
    }

    /// Commits a staged block, with its commit certificate in a committee, then prunes the
    /// mempool, wakes waiters and notifies subscribers.
    pub fn commit_staged(
        &self,
        staged: StagedBlock,
        certificate: Option<&weft_consensus::StoredCertificate>,
    ) -> Result<Arc<CommittedBlock>, ExecutorError> {
        let _committing = lock(&self.0.commit_lock);
        let started = std::time::Instant::now();
        let height = staged.executed.block.header.height;
        let time_ms = staged.executed.block.header.time_ms;
        let tx_count = staged.executed.block.txs.len();
        let certificate =
            certificate.map(|c| borsh::to_vec(c).expect("borsh encoding into a Vec cannot fail"));
        let executed = self.0.executor.write(staged, certificate.as_deref())?;
        let committed = Arc::new(CommittedBlock {
            block: executed.block,
            hash: executed.hash,
            receipts: executed.receipts,
        });
        *self.0.head.write().unwrap_or_else(|e| e.into_inner()) = Head {
            height,
            hash: committed.hash,
            state_root: committed.block.header.state_root,
            time_ms,
        };
        // The metrics first: a client told its transaction committed may read them at once.
        let m = &self.0.metrics;
        m.height.set(height as i64);
        m.blocks_committed.inc();
        m.txs_committed.inc_by(tx_count as u64);
        m.block_seconds.observe(started.elapsed().as_secs_f64());
        self.after_commit(&committed);
        m.mempool_size.set(self.mempool_len() as i64);
        Ok(committed)
    }

    fn after_commit(&self, committed: &Arc<CommittedBlock>) {
        let senders: HashSet<Address> = committed
            .block
            .txs
            .iter()
            .map(|t| t.tx.sender.address())
            .collect();
        // Read before taking the mempool's lock, which admission waits for.
        let nonces: Vec<(Address, u64)> = senders
            .into_iter()
            .filter_map(|sender| Some((sender, self.0.executor.nonce(&sender).ok()?)))
            .collect();
        {
            let mut mempool = lock(&self.0.mempool);
            for (sender, nonce) in &nonces {
                mempool.prune(sender, *nonce);
            }
        }
        {
            let mut pending = lock(&self.0.pending_contracts);
            if !pending.is_empty() {
                for t in &committed.block.txs {
                    if matches!(t.tx.action, Action::Deploy { .. }) {
                        pending.remove(&ContractId::derive(&t.tx.sender.address(), t.tx.nonce));
                    }
                }
            }
        }
        {
            let mut waiters = lock(&self.0.waiters);
            if !waiters.is_empty() {
                for receipt in &committed.receipts {
                    if let Some(list) = waiters.remove(&receipt.tx_hash) {
                        let receipt = Arc::new(receipt.clone());
                        for w in list {
                            let _ = w.send(receipt.clone());
                        }
                    }
                }
            }
        }
        // No subscriber is fine.
        let _ = self.0.blocks.send(committed.clone());
    }
}
