//! The JSON shapes of Weft's JSON-RPC API, shared by the node (which serves them) and the client
//! (which reads them), so the two cannot drift apart.
//!
//! Conventions: camelCase field names; hashes, ids and byte strings as `0x`-prefixed hex; `u64` as
//! JSON numbers. `docs/json-rpc.md` documents every method with these shapes.

use serde::{Deserialize, Serialize};
use weft_types::{
    Action, Address, Block, BlockHash, CodeHash, ContractAbi, ContractId, Event, Hash32,
    MethodKind, PublicKey, Receipt, ReceiptStatus, SignedTransaction, TxHash,
};
use weft_types::{
    Anchor, ChainId, QuorumCertificate, Signature, Signed, StatementId, TangleBlockId,
};

/// `0x`-prefixed hex for byte strings.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Encodes bytes as `0x…`.
    pub fn encode(bytes: &[u8]) -> String {
        // Table-based into one buffer: proofs are kilobytes, and `hex::encode`'s char iterator
        // showed in profiles of `did_resolve`.
        let mut out = vec![0u8; 2 + 2 * bytes.len()];
        out[..2].copy_from_slice(b"0x");
        hex::encode_to_slice(bytes, &mut out[2..]).expect("the buffer has twice the bytes' length");
        String::from_utf8(out).expect("hex digits are ASCII")
    }

    /// Decodes `0x…` hex; the error says what was expected.
    pub fn decode(s: &str) -> Result<Vec<u8>, String> {
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| format!("expected a 0x-prefixed hex string, got {:?}", clip(s)))?;
        hex::decode(digits).map_err(|e| format!("invalid hex after 0x: {e}"))
    }

    fn clip(s: &str) -> String {
        s.chars().take(40).collect()
    }

    /// Serde `serialize_with`.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    /// Serde `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(D::Error::custom)
    }

    /// The same for `Option<Vec<u8>>`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        /// Serde `serialize_with`.
        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => s.serialize_str(&super::encode(b)),
                None => s.serialize_none(),
            }
        }

        /// Serde `deserialize_with`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(s) => super::decode(&s).map(Some).map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// Ids and hashes through their `Display`/`FromStr` (`0x` + 64 hex digits).
pub mod hex_id {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::fmt::Display;
    use std::str::FromStr;

    /// Serde `serialize_with`.
    pub fn serialize<T: Display, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    /// Serde `deserialize_with`.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }

    /// The same for options.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};
        use std::fmt::Display;
        use std::str::FromStr;

        /// Serde `serialize_with`.
        pub fn serialize<T: Display, S: Serializer>(
            id: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => s.collect_str(id),
                None => s.serialize_none(),
            }
        }

        /// Serde `deserialize_with`.
        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            match Option::<String>::deserialize(d)? {
                Some(s) => s.parse().map(Some).map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// A public key as `0x` hex.
pub fn public_key_hex(key: &PublicKey) -> String {
    hex_bytes::encode(&key.0)
}

/// How long `weft_sendTransaction` waits before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WaitUntil {
    /// Answer once the mempool admitted the transaction.
    #[default]
    Accepted,
    /// Answer once a block with the transaction is committed, with its receipt.
    Committed,
    /// Answer once the committee's anchor of that block (or a later one) is on the Tangle.
    Anchored,
    /// Answer once that anchor is confirmed by the Tangle's validators.
    Confirmed,
}

/// Options of `weft_sendTransaction`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendOptions {
    /// When to answer.
    #[serde(default)]
    pub wait_until: WaitUntil,
    /// How long to wait for `committed`, in milliseconds (the node caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The answer of `weft_sendTransaction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// The transaction's hash.
    #[serde(with = "hex_id")]
    pub tx_hash: TxHash,
    /// `accepted` or `committed`.
    pub status: WaitUntil,
    /// The receipt, when committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptJson>,
    /// The anchor covering the receipt's block, when anchored or confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorJson>,
}

/// An anchor: the committee's signed commitment to the chain's state after one block, with where
/// it stands on the Tangle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorJson {
    /// The anchor's id (what the committee signed).
    #[serde(with = "hex_id")]
    pub id: StatementId,
    /// The chain.
    pub chain_id: String,
    /// Position in the chain's anchor sequence (1, 2, …).
    pub state_index: u64,
    /// The anchored block's height.
    pub height: u64,
    /// The anchored block's hash.
    #[serde(with = "hex_id")]
    pub block_hash: Hash32,
    /// The state root after that block.
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// The previous anchor's id (zero for the first).
    #[serde(with = "hex_id")]
    pub prev_anchor: StatementId,
    /// The signing committee's epoch.
    pub epoch: u64,
    /// The certificate's signer bitmap over the committee's members (sorted by key).
    #[serde(with = "hex_bytes")]
    pub signers: Vec<u8>,
    /// The signatures, in member order.
    pub signatures: Vec<String>,
    /// The Tangle block that carries it.
    #[serde(with = "hex_id")]
    pub tangle_block: TangleBlockId,
    /// Whether that block is confirmed.
    pub confirmed: bool,
    /// When the node applied it (ms since the Unix epoch, node clock).
    pub applied_at: u64,
    /// When its block was confirmed (node clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<u64>,
}

impl AnchorJson {
    /// The anchor and its certificate, as the committee signed them.
    pub fn signed(&self) -> Result<Signed<Anchor>, String> {
        let signatures = self
            .signatures
            .iter()
            .map(|s| {
                let bytes = hex_bytes::decode(s)?;
                <[u8; 64]>::try_from(bytes.as_slice())
                    .map(Signature)
                    .map_err(|_| format!("signature {s} is not 64 bytes"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Signed {
            statement: Anchor {
                chain_id: ChainId(self.chain_id.clone()),
                state_index: self.state_index,
                height: self.height,
                block_hash: self.block_hash,
                state_root: self.state_root,
                prev_anchor: self.prev_anchor,
                epoch: self.epoch,
            },
            certificate: QuorumCertificate {
                signers: self.signers.clone(),
                signatures,
            },
        })
    }
}

/// A Tangle block with what the node knows about it (`tangle_getBlock`, `tangle_subscribeBlocks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TangleBlockJson {
    /// The block id.
    #[serde(with = "hex_id")]
    pub id: TangleBlockId,
    /// The Tangle network.
    pub network_id: String,
    /// Its parents.
    pub parents: Vec<String>,
    /// Its issuer's key.
    #[serde(with = "hex_bytes")]
    pub issuer: Vec<u8>,
    /// Its issuing time (ms since the Unix epoch, issuer clock).
    pub issued_at: u64,
    /// `validation`, `data`, `anchor`, `registration` or `rotation`, with its fields.
    pub payload: serde_json::Value,
    /// The proof-of-work nonce.
    pub nonce: u64,
    /// Whether all its ancestors are known here (absent in notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solid: Option<bool>,
    /// When it was confirmed, if it was (node clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<u64>,
    /// How many Tangle validators approve it so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<u32>,
    /// The blocks that approve it directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<String>>,
}

/// A tip of the Tangle (`tangle_tips`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TipJson {
    /// The block id.
    #[serde(with = "hex_id")]
    pub id: TangleBlockId,
    /// Its issuing time.
    pub issued_at: u64,
    /// Solid blocks approving it directly.
    pub approvers: u32,
    /// Whether it is lazy (too old to be selected).
    pub lazy: bool,
}

/// `weft_chainInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    /// The chain id transactions must carry.
    pub chain_id: String,
    /// The latest committed height (0 before the first block).
    pub height: u64,
    /// The latest block's hash (zero before the first block).
    #[serde(with = "hex_id")]
    pub block_hash: BlockHash,
    /// The state root at `height`.
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// The latest block's time, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Transactions waiting in this node's mempool.
    pub mempool_size: u64,
    /// Most gas one transaction may use.
    pub max_tx_gas: u64,
    /// Largest encoded transaction accepted, in bytes.
    pub max_tx_bytes: u64,
    /// The node software's version.
    pub node_version: String,
    /// The committee that decides blocks (absent on a node that produces blocks alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committee: Option<Vec<CommitteeMemberJson>>,
    /// The commit certificate of the latest block (committee chains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<CommitJson>,
    /// The system contracts every Weft chain starts with.
    #[serde(default)]
    pub system_contracts: Vec<SystemContractJson>,
}

/// A system contract in `weft_chainInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemContractJson {
    /// Its name (`identity`, …).
    pub name: String,
    /// Its well-known id.
    #[serde(with = "hex_id")]
    pub id: ContractId,
    /// The code it runs now.
    #[serde(with = "hex_id")]
    pub code_hash: CodeHash,
}

/// A committee member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeMemberJson {
    /// Its name in the genesis file.
    pub name: String,
    /// Its ed25519 public key (0x…).
    pub public_key: String,
    /// Where it listens for peers.
    pub address: String,
    /// Its voting power.
    pub power: u64,
}

/// A commit certificate: more than 2/3 of the committee's precommit signatures for a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitJson {
    /// The height.
    pub height: u64,
    /// The consensus round that decided it.
    pub round: u32,
    /// The block's hash.
    pub block_hash: String,
    /// Bitmap of signers over the committee in public-key order (bit i of byte i/8), hex.
    pub signers: String,
    /// The signers' public keys, in bitmap order.
    pub signer_keys: Vec<String>,
    /// Their ed25519 signatures over the precommit, hex, in the same order.
    pub signatures: Vec<String>,
}

/// An event as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventJson {
    /// The contract that emitted it.
    #[serde(with = "hex_id")]
    pub contract: ContractId,
    /// Its topic.
    pub topic: String,
    /// Its borsh-encoded data.
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl From<&Event> for EventJson {
    fn from(e: &Event) -> Self {
        Self {
            contract: e.contract,
            topic: e.topic.clone(),
            data: e.data.clone(),
        }
    }
}

/// Success or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// It succeeded.
    Success,
    /// It failed; only its gas and nonce were kept.
    Failure,
}

/// A receipt as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptJson {
    /// The transaction.
    #[serde(with = "hex_id")]
    pub tx_hash: TxHash,
    /// The block it was executed in.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The sender.
    #[serde(with = "hex_id")]
    pub sender: Address,
    /// Success or failure.
    pub status: Status,
    /// The method's borsh-encoded result (empty on failure).
    #[serde(with = "hex_bytes")]
    pub return_data: Vec<u8>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Gas used.
    pub gas_used: u64,
    /// Events emitted, in order.
    pub events: Vec<EventJson>,
    /// The contract a successful deploy created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_id::option"
    )]
    pub contract: Option<ContractId>,
}

impl From<&Receipt> for ReceiptJson {
    fn from(r: &Receipt) -> Self {
        let (status, return_data, error) = match &r.status {
            ReceiptStatus::Success { return_data } => (Status::Success, return_data.clone(), None),
            ReceiptStatus::Failure { error } => (Status::Failure, Vec::new(), Some(error.clone())),
        };
        Self {
            tx_hash: r.tx_hash,
            height: r.height,
            index: r.index,
            sender: r.sender,
            status,
            return_data,
            error,
            gas_used: r.gas_used,
            events: r.events.iter().map(EventJson::from).collect(),
            contract: r.contract,
        }
    }
}

/// A transaction's action as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ActionJson {
    /// A deploy.
    #[serde(rename_all = "camelCase")]
    Deploy {
        /// The code's hash (the code itself is in `weft_getContract`).
        #[serde(with = "hex_id")]
        code_hash: CodeHash,
        /// Code size in bytes.
        code_size: u64,
        /// Borsh init arguments.
        #[serde(with = "hex_bytes")]
        init_args: Vec<u8>,
    },
    /// A call.
    #[serde(rename_all = "camelCase")]
    Call {
        /// The contract.
        #[serde(with = "hex_id")]
        contract: ContractId,
        /// The method.
        method: String,
        /// Borsh arguments.
        #[serde(with = "hex_bytes")]
        args: Vec<u8>,
    },
    /// A system contract's code replaced by a committee quorum.
    #[serde(rename_all = "camelCase")]
    Upgrade {
        /// The system contract.
        #[serde(with = "hex_id")]
        contract: ContractId,
        /// The new code's hash.
        #[serde(with = "hex_id")]
        code_hash: CodeHash,
        /// New code size in bytes.
        code_size: u64,
        /// How many committee members approved.
        approvals: u64,
    },
}

/// A signed transaction as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionJson {
    /// Its hash.
    #[serde(with = "hex_id")]
    pub hash: TxHash,
    /// The chain.
    pub chain_id: String,
    /// The sender's public key (= address).
    #[serde(with = "hex_id")]
    pub sender: Address,
    /// The sender's nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// What it does.
    pub action: ActionJson,
}

impl TransactionJson {
    /// The JSON view of `signed`, whose hash is `hash`.
    pub fn new(signed: &SignedTransaction, hash: TxHash) -> Self {
        let tx = &signed.tx;
        let action = match &tx.action {
            Action::Deploy { code, init_args } => ActionJson::Deploy {
                code_hash: CodeHash::of(code),
                code_size: code.len() as u64,
                init_args: init_args.clone(),
            },
            Action::Call {
                contract,
                method,
                args,
            } => ActionJson::Call {
                contract: *contract,
                method: method.clone(),
                args: args.clone(),
            },
            Action::Upgrade {
                contract,
                code,
                approvals,
            } => ActionJson::Upgrade {
                contract: *contract,
                code_hash: CodeHash::of(code),
                code_size: code.len() as u64,
                approvals: approvals.signatures.len() as u64,
            },
        };
        Self {
            hash,
            chain_id: tx.chain_id.0.clone(),
            sender: tx.sender.address(),
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            action,
        }
    }
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxState {
    /// In this node's mempool.
    Pending,
    /// In a committed block.
    Committed,
}

/// `weft_getTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxLookup {
    /// Pending or committed.
    pub state: TxState,
    /// The transaction.
    pub transaction: TransactionJson,
    /// Its block, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Its position in the block, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// A block header as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeaderJson {
    /// The block's hash.
    #[serde(with = "hex_id")]
    pub hash: BlockHash,
    /// The chain.
    pub chain_id: String,
    /// Height.
    pub height: u64,
    /// Block time (ms since the Unix epoch).
    pub time_ms: u64,
    /// The previous block.
    #[serde(with = "hex_id")]
    pub parent: BlockHash,
    /// Root of the transaction hashes.
    #[serde(with = "hex_id")]
    pub tx_root: Hash32,
    /// State root after the block.
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// Root of the receipts.
    #[serde(with = "hex_id")]
    pub receipts_root: Hash32,
    /// The proposer's public key.
    #[serde(with = "hex_id")]
    pub proposer: Address,
    /// How many transactions.
    pub tx_count: u64,
}

impl BlockHeaderJson {
    /// The header of `block`, whose hash is `hash`.
    pub fn new(block: &Block, hash: BlockHash) -> Self {
        let h = &block.header;
        Self {
            hash,
            chain_id: h.chain_id.0.clone(),
            height: h.height,
            time_ms: h.time_ms,
            parent: h.parent,
            tx_root: h.tx_root,
            state_root: h.state_root,
            receipts_root: h.receipts_root,
            proposer: h.proposer.address(),
            tx_count: block.txs.len() as u64,
        }
    }
}

/// `weft_getBlock`: the header and the transactions (hashes, or full when asked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockJson {
    /// The header.
    #[serde(flatten)]
    pub header: BlockHeaderJson,
    /// Transaction hashes, in order.
    pub tx_hashes: Vec<String>,
    /// Full transactions, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<TransactionJson>>,
    /// The block's commit certificate (committee chains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitJson>,
}

/// An argument of a method in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgJson {
    /// Its name.
    pub name: String,
    /// Its type as written in the contract.
    #[serde(rename = "type")]
    pub ty: String,
}

/// A method in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodJson {
    /// Its name.
    pub name: String,
    /// `init`, `call` or `view`.
    pub kind: String,
    /// Arguments in order.
    pub args: Vec<ArgJson>,
    /// Its result type, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<String>,
}

/// Converts an ABI to JSON.
pub fn abi_json(abi: &ContractAbi) -> Vec<MethodJson> {
    abi.methods
        .iter()
        .map(|m| MethodJson {
            name: m.name.clone(),
            kind: m.kind.as_str().to_string(),
            args: m
                .args
                .iter()
                .map(|a| ArgJson {
                    name: a.name.clone(),
                    ty: a.ty.clone(),
                })
                .collect(),
            returns: m.returns.clone(),
        })
        .collect()
}

/// Converts JSON back to an ABI.
pub fn abi_from_json(methods: &[MethodJson]) -> Result<ContractAbi, String> {
    let methods = methods
        .iter()
        .map(|m| {
            let kind = match m.kind.as_str() {
                "init" => MethodKind::Init,
                "call" => MethodKind::Call,
                "view" => MethodKind::View,
                other => return Err(format!("unknown method kind {other:?}")),
            };
            Ok(weft_types::MethodAbi {
                name: m.name.clone(),
                kind,
                args: m
                    .args
                    .iter()
                    .map(|a| weft_types::ArgAbi {
                        name: a.name.clone(),
                        ty: a.ty.clone(),
                    })
                    .collect(),
                returns: m.returns.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    ContractAbi::new(methods).map_err(|e| e.to_string())
}

/// `weft_getContract`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractInfo {
    /// The contract.
    #[serde(with = "hex_id")]
    pub contract: ContractId,
    /// Its code's hash.
    #[serde(with = "hex_id")]
    pub code_hash: CodeHash,
    /// Code size in bytes.
    pub code_size: u64,
    /// Its methods.
    pub methods: Vec<MethodJson>,
    /// The height this answer is from.
    pub height: u64,
}

/// Parameters of `weft_call` (by name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallRequest {
    /// The contract.
    pub contract: String,
    /// A view (or call, run read-only) method.
    pub method: String,
    /// JSON arguments, typed by the ABI: an array in order or an object by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Value>,
    /// Borsh arguments as hex, instead of `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_hex: Option<String>,
    /// The height to read at (default: latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Who the contract sees as the caller (default: the zero address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Gas limit (default and cap: the node's query limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_limit: Option<u64>,
}

/// The answer of `weft_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallResult {
    /// The borsh-encoded result.
    #[serde(with = "hex_bytes")]
    pub return_data: Vec<u8>,
    /// The result decoded through the ABI, when its type is one the ABI codec knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// Gas used.
    pub gas_used: u64,
    /// The height it ran at.
    pub height: u64,
}

/// The answer of `weft_getState`: a value and its proof against the state root at `height`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateResult {
    /// The height.
    pub height: u64,
    /// The state root at that height (also in the block header).
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// The full state key.
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// The value, or null when absent.
    #[serde(with = "hex_bytes::option")]
    pub value: Option<Vec<u8>>,
    /// The borsh-encoded [`weft_state::StateProof`].
    #[serde(with = "hex_bytes")]
    pub proof: Vec<u8>,
    /// The committee's anchor of this height, when there is one: with it, a light client checks
    /// the root without trusting the node ([`crate::verify_anchored_state`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorJson>,
}

/// One read of `weft_getStates`: a contract and a key of its storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateRead {
    /// The contract.
    #[serde(with = "hex_id")]
    pub contract: ContractId,
    /// The key in its storage.
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
}

/// The answer of `weft_getStates`: many values with their proofs at one height, and that
/// height's anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatesResult {
    /// The height read (by default the latest anchored one).
    pub height: u64,
    /// Its state root.
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// The committee's anchor of that height, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorJson>,
    /// One answer per read, in order.
    pub entries: Vec<StateResult>,
}

/// The most reads one `weft_getStates` call may ask for.
pub const MAX_STATE_READS: usize = 256;

/// The filter of `weft_subscribeEvents`; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventFilter {
    /// Only events of this contract.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_id::option"
    )]
    pub contract: Option<ContractId>,
    /// Only events with this topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl EventFilter {
    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        self.contract.is_none_or(|c| c == event.contract)
            && self.topic.as_deref().is_none_or(|t| t == event.topic)
    }
}

/// A notification of `weft_subscribeEvents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNotification {
    /// The block.
    pub height: u64,
    /// The transaction that emitted it.
    #[serde(with = "hex_id")]
    pub tx_hash: TxHash,
    /// Position of the event in the transaction's events.
    pub log_index: u32,
    /// The event.
    #[serde(flatten)]
    pub event: EventJson,
}

/// `weft_getAccount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The account.
    #[serde(with = "hex_id")]
    pub address: Address,
    /// The next nonce in committed state.
    pub committed_nonce: u64,
    /// The next nonce no pending transaction of this node's mempool uses: the one to sign next.
    pub next_nonce: u64,
    /// The height `committedNonce` is from.
    pub height: u64,
}
