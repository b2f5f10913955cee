//! `weft-api`: what a Weft node offers the servers in front of it.
//!
//! The JSON-RPC server (`weft-rpc`, and the REST interfaces that come next) talks to the node only
//! through the traits here, so it can be built, changed and tested without the executor, the
//! mempool, consensus or the network:
//! - [`NodeApi`]: the chain — submission ([`NodeApi::decode`], [`NodeApi::submit`], waiting for a
//!   receipt with [`NodeApi::watch`]), queries of accounts, blocks, receipts, contracts and state
//!   proofs, read-only calls ([`NodeApi::query`]), and new blocks as they commit
//!   ([`NodeApi::subscribe`]);
//! - [`TangleApi`]: a committee member's embedded Tangle — blocks, tips, anchors, evidence,
//!   posting data and blocks, and [`Notice`]s of what happens on it.
//!
//! The vocabulary both sides share lives here too: [`Head`], [`CommittedBlock`], [`SubmitError`],
//! [`QueryError`], [`QueryOutcome`], [`ContractRecord`], [`CommitteeInfo`], [`IngestError`].
//! `weft-node`'s `Node` implements the traits. This crate does no I/O and knows nothing of
//! wasmtime, RocksDB, libp2p or jsonrpsee.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use weft_consensus::StoredCertificate;
use weft_tangle::{AnchorRecord, Block as TangleBlock, BlockMeta, Evidence, Tip};
use weft_types::{
    Address, Block, BlockHash, ChainId, CodeHash, ContractAbi, ContractId, Hash32, MethodAbi,
    PublicKey, Receipt, SignedTransaction, TangleBlockId, TxHash,
};

pub use weft_mempool::AdmitError;
pub use weft_state::StateProof;

/// The latest committed block, in brief.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Head {
    /// Its height (0 before the first block).
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
    /// The state root after it.
    pub state_root: Hash32,
    /// Its time.
    pub time_ms: u64,
}

/// A block as committed, with its receipts, as sent to subscribers.
#[derive(Debug)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub hash: BlockHash,
    /// Its receipts, in order.
    pub receipts: Vec<Receipt>,
}

/// Why a transaction was not accepted. Each kind maps to one JSON-RPC error code.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The bytes are not a borsh `SignedTransaction`.
    #[error(
        "the transaction does not decode: {0}; expected the borsh encoding of a SignedTransaction"
    )]
    Malformed(String),
    /// A mempool rule.
    #[error(transparent)]
    Rejected(#[from] AdmitError),
    /// The deployed code is not a valid contract (the validator's message).
    #[error("invalid contract code: {0}")]
    InvalidCode(String),
    /// A call of a contract that does not exist.
    #[error("contract {0} is not deployed (nor is its deploy pending in this node's mempool)")]
    UnknownContract(ContractId),
    /// A call of a method the contract does not have or that a transaction cannot call.
    #[error("{0}")]
    UnknownMethod(String),
    /// The node failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SubmitError {
    /// A short snake_case reason, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SubmitError::Malformed(_) => "malformed",
            SubmitError::Rejected(a) => match a {
                AdmitError::TooLarge { .. } => "too_large",
                AdmitError::GasTooHigh { .. } => "gas_too_high",
                AdmitError::WrongChain { .. } => "wrong_chain",
                AdmitError::BadSignature(_) => "bad_signature",
                AdmitError::NonceUsed { .. }
                | AdmitError::NoncePending { .. }
                | AdmitError::NonceGap { .. } => "nonce",
                AdmitError::Duplicate(_) => "duplicate",
                AdmitError::SenderFull { .. } | AdmitError::RateLimited { .. } => "rate_limited",
                AdmitError::Full { .. } => "mempool_full",
            },
            SubmitError::InvalidCode(_) => "invalid_code",
            SubmitError::UnknownContract(_) => "unknown_contract",
            SubmitError::UnknownMethod(_) => "unknown_method",
            SubmitError::Internal(_) => "internal",
        }
    }
}

/// Why a read-only call or a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No such contract.
    #[error("contract {0} is not deployed at height {1}")]
    UnknownContract(ContractId, u64),
    /// No such method.
    #[error("{0}")]
    UnknownMethod(String),
    /// The height is in the future (or before the first block).
    #[error("height {asked} is not available; the latest height is {latest}")]
    UnknownHeight {
        /// Asked for.
        asked: u64,
        /// Latest committed.
        latest: u64,
    },
    /// Arguments did not convert.
    #[error("{0}")]
    BadArgs(String),
    /// The contract failed (trap, error, out of gas).
    #[error("{error}")]
    Contract {
        /// What the VM reported.
        error: String,
        /// Gas used up to the failure.
        gas_used: u64,
    },
    /// The node failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A read-only call's result.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    /// The borsh result.
    pub return_data: Vec<u8>,
    /// Gas used.
    pub gas_used: u64,
    /// The height it ran at.
    pub height: u64,
    /// The method's ABI, for decoding the result.
    pub method: MethodAbi,
}

/// A deployed contract.
#[derive(Debug, Clone)]
pub struct ContractRecord {
    /// Its code hash.
    pub code_hash: CodeHash,
    /// Code size in bytes.
    pub code_size: u64,
    /// Its ABI.
    pub abi: Arc<ContractAbi>,
}

/// A storage value with its proof against the state root of a height.
#[derive(Debug)]
pub struct ProvenState {
    /// The height read.
    pub height: u64,
    /// The state root at that height.
    pub state_root: Hash32,
    /// The full state key (namespace, contract, storage key).
    pub key: Vec<u8>,
    /// The value, with its inclusion or exclusion proof.
    pub proof: StateProof,
}

/// A committee member, as the genesis file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeMemberInfo {
    /// Its name (for logs and `weft_chainInfo`).
    pub name: String,
    /// Its ed25519 public key.
    pub public_key: PublicKey,
    /// Where it listens for peers (a multiaddr).
    pub address: String,
    /// Its voting power.
    pub power: u64,
}

/// The committee that runs the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeInfo {
    /// The members, in genesis order.
    pub members: Vec<CommitteeMemberInfo>,
    /// The members' keys in the order of a commit certificate's signer bitmap.
    pub signing_order: Vec<PublicKey>,
}

/// A system contract, as `weft_chainInfo` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemContractInfo {
    /// Its name (`identity`, …).
    pub name: String,
    /// Its well-known id.
    pub id: ContractId,
    /// The code it runs now (its genesis code before block 1).
    pub code_hash: CodeHash,
}

/// Limits a server tells its clients about and applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most gas one transaction may ask for.
    pub max_tx_gas: u64,
    /// Largest transaction accepted, in bytes.
    pub max_tx_bytes: usize,
    /// Longest a client may wait for a commit or an anchor, in milliseconds.
    pub max_wait_ms: u64,
}

/// Why this node has no Tangle to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTangle {
    /// The node runs alone, without a committee.
    Alone,
    /// A committee member whose Tangle is still opening.
    Opening,
}

/// Something Tangle subscribers and waiting clients hear about.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A new block was stored.
    Block(TangleBlockId, Box<TangleBlock>),
    /// An anchor was applied (`confirmed` false) or its block was confirmed (`confirmed` true).
    Anchor {
        /// The anchor and its state.
        record: Box<AnchorRecord>,
        /// Whether this notice is the confirmation.
        confirmed: bool,
    },
    /// A committee equivocated.
    Equivocation(Box<Evidence>),
}

/// Why a gossiped or submitted Tangle block was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// It is invalid (the message says why).
    #[error(transparent)]
    Invalid(#[from] weft_tangle::Error),
    /// Its issuer is over the rate limit (blocks per second).
    #[error("issuer {0:?} is over its rate limit of {1} blocks per second; try again later")]
    RateLimited(PublicKey, u32),
}

/// A boxed future, for the traits' async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A read-only call's arguments: given the method's ABI, its borsh arguments (or why the
/// arguments do not fit it).
pub type ArgsFn<'a> = Box<dyn FnOnce(&MethodAbi) -> Result<Vec<u8>, String> + Send + 'a>;

/// The chain as a server sees it. Every method is safe to call from many threads at once; the
/// blocking ones (marked) should run off the async runtime.
pub trait NodeApi: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> &ChainId;
    /// The latest committed block.
    fn head(&self) -> Head;
    /// Pending transactions.
    fn mempool_len(&self) -> usize;
    /// The limits served to clients.
    fn limits(&self) -> Limits;
    /// The committee, when this node runs in one.
    fn committee(&self) -> Option<&CommitteeInfo>;
    /// The chain's system contracts.
    fn system_contracts(&self) -> Vec<SystemContractInfo>;

    /// Decodes a transaction's borsh bytes (checking the size first).
    fn decode(&self, bytes: &[u8]) -> Result<SignedTransaction, SubmitError>;
    /// Checks and admits a decoded transaction whose encoding is `size` bytes; in a committee it
    /// is then gossiped to the other members. Verifies the signature (blocking).
    fn submit(&self, tx: SignedTransaction, size: usize) -> Result<TxHash, SubmitError>;
    /// Decodes, checks and admits many transactions (each its borsh bytes), checking their
    /// signatures together; one result per transaction, in order. Blocking.
    fn submit_many(&self, txs: &[Vec<u8>]) -> Vec<Result<TxHash, SubmitError>> {
        txs.iter()
            .map(|bytes| {
                self.decode(bytes)
                    .and_then(|tx| self.submit(tx, bytes.len()))
            })
            .collect()
    }
    /// Resolves with the receipt once `hash` commits. Register before submitting.
    fn watch(&self, hash: TxHash) -> oneshot::Receiver<Arc<Receipt>>;
    /// Drops the waiters of `hash` that are gone (after a rejection or a timeout).
    fn unwatch(&self, hash: &TxHash);

    /// The committed and next free nonce of an account, and the height read.
    fn account(&self, address: &Address) -> Result<(u64, u64, u64), String>;
    /// A committed receipt.
    fn receipt(&self, hash: &TxHash) -> Result<Option<Receipt>, String>;
    /// A pending transaction.
    fn pending_tx(&self, hash: &TxHash) -> Option<SignedTransaction>;
    /// A committed block.
    fn block(&self, height: u64) -> Result<Option<Block>, String>;
    /// The commit certificate of a committed block, when a committee runs the chain.
    fn certificate(&self, height: u64) -> Result<Option<StoredCertificate>, String>;
    /// A deployed contract at `height` (latest when `None`). Blocking.
    fn contract(
        &self,
        id: &ContractId,
        height: Option<u64>,
    ) -> Result<(ContractRecord, u64), QueryError>;
    /// Runs a view method read-only at `height` (latest when `None`); `args` turns the method's
    /// ABI into borsh arguments. Blocking.
    fn query(
        &self,
        contract: ContractId,
        method: &str,
        args: ArgsFn<'_>,
        height: Option<u64>,
        caller: Address,
        gas_limit: Option<u64>,
    ) -> Result<QueryOutcome, QueryError>;
    /// A contract storage value and its proof at `height` (latest when `None`). Blocking.
    fn storage(
        &self,
        contract: &ContractId,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<ProvenState, QueryError>;

    /// New blocks, as they commit.
    fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>>;
    /// The embedded Tangle, or why there is none.
    fn tangle(&self) -> Result<&dyn TangleApi, NoTangle>;
}

/// A committee member's embedded Tangle as a server sees it.
pub trait TangleApi: Send + Sync {
    /// A consistent copy of the Tangle's database in `dir` (which must not exist yet), for
    /// backups.
    fn checkpoint(&self, dir: &std::path::Path) -> Result<(), String>;
    /// A block and its metadata.
    fn block(&self, id: &TangleBlockId) -> Result<Option<(TangleBlock, BlockMeta)>, String>;
    /// The blocks approving `id` directly.
    fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>, String>;
    /// The tip pool: each tip with whether it is lazy now.
    fn tips(&self) -> Vec<(TangleBlockId, Tip, bool)>;
    /// The anchor of `chain` at `index`.
    fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>, String>;
    /// The latest applied anchor of `chain`.
    fn latest_anchor(&self, chain: &ChainId) -> Result<Option<AnchorRecord>, String>;
    /// Anchors of `chain` from `from`, at most `max`, in index order.
    fn anchors(&self, chain: &ChainId, from: u64, max: usize) -> Result<Vec<AnchorRecord>, String>;
    /// The anchor of this chain's block `height`, if that block is anchored.
    fn anchor_at_height(&self, height: u64) -> Result<Option<AnchorRecord>, String>;
    /// Evidence of equivocation kept about `chain`.
    fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>, String>;
    /// Posts `data` under `tag` in a block issued by this node.
    fn submit_data(&self, tag: String, data: Vec<u8>) -> Result<TangleBlockId, IngestError>;
    /// Checks and stores a block signed by its issuer, then gossips it.
    fn submit_block(&self, bytes: Vec<u8>) -> Result<TangleBlockId, IngestError>;
    /// Notices of new blocks, anchors and evidence.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>>;
    /// Waits until the anchor covering `height` is applied (or confirmed), up to `timeout`.
    fn wait_anchor(
        &self,
        height: u64,
        confirmed: bool,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Option<AnchorRecord>, String>>;
}
