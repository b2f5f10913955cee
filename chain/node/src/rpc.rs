//! JSON-RPC 2.0 over HTTP and WebSocket (jsonrpsee, one port): the `weft_*` methods, the
//! subscriptions and `rpc.discover`. `docs/json-rpc.md` is the reference.
//!
//! Parameters may be given by position (an array) or by name (an object); each method lists its
//! parameter names in [`METHODS`]. Errors use the standard codes (-32700 parse error, -32600
//! invalid request, -32601 method not found, -32602 invalid params, -32603 internal) and the
//! Weft codes in [`codes`].

use crate::mempool::AdmitError;
use crate::service::{Node, QueryError, SubmitError};
use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerConfig, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use weft_client::codec;
use weft_client::json::{
    AccountInfo, BlockHeaderJson, BlockJson, CallRequest, CallResult, ChainInfo, ContractInfo,
    EventFilter, EventJson, EventNotification, ReceiptJson, SendOptions, SendResult, StateResult,
    TransactionJson, TxLookup, TxState, WaitUntil, abi_json, hex_bytes, hex_id,
};
use weft_types::{Address, ContractId, TxHash};

/// Weft's JSON-RPC error codes (in the implementation-defined server range).
pub mod codes {
    /// Invalid params (standard).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal error (standard).
    pub const INTERNAL: i32 = -32603;
    /// The signature does not verify, or the sender key is not a valid ed25519 key.
    pub const BAD_SIGNATURE: i32 = -32030;
    /// The transaction is for another chain.
    pub const WRONG_CHAIN: i32 = -32031;
    /// The nonce is used, pending, or too far ahead; `data.nextNonce` is the one to use.
    pub const BAD_NONCE: i32 = -32032;
    /// The transaction is larger than the node accepts.
    pub const TX_TOO_LARGE: i32 = -32033;
    /// The transaction asks for more gas than a transaction may use.
    pub const GAS_TOO_HIGH: i32 = -32034;
    /// The sender sends too fast or has too many pending; `data.retryAfterMs` when known.
    pub const RATE_LIMITED: i32 = -32035;
    /// The mempool is full.
    pub const MEMPOOL_FULL: i32 = -32036;
    /// The transaction is already pending.
    pub const DUPLICATE_TX: i32 = -32037;
    /// The deployed code is not a valid Weft contract.
    pub const INVALID_CODE: i32 = -32040;
    /// No such contract.
    pub const UNKNOWN_CONTRACT: i32 = -32041;
    /// No such method, or a method of the wrong kind.
    pub const UNKNOWN_METHOD: i32 = -32042;
    /// A read-only call failed in the contract (error, trap, out of gas); `data.gasUsed`.
    pub const CONTRACT_FAILED: i32 = -32043;
    /// This node has no Tangle (it runs alone, without a committee).
    pub const NO_TANGLE: i32 = -32046;
    /// The height is not available.
    pub const UNKNOWN_HEIGHT: i32 = -32044;
    /// `waitUntil: committed` timed out; the transaction was accepted and may still commit.
    pub const WAIT_TIMEOUT: i32 = -32045;
}

/// A method: its name, parameter names (in positional order), and a one-line summary.
pub struct MethodDoc {
    /// The method.
    pub name: &'static str,
    /// Parameter names, in order; a trailing `?` marks an optional one.
    pub params: &'static [&'static str],
    /// What it does.
    pub summary: &'static str,
}

/// Every method served, for `rpc.discover` and parameter names.
pub const METHODS: &[MethodDoc] = &[
    MethodDoc {
        name: "weft_chainInfo",
        params: &[],
        summary: "Chain id, latest height, block hash, state root, mempool size and limits.",
    },
    MethodDoc {
        name: "weft_getAccount",
        params: &["address"],
        summary: "An account's committed nonce and the next nonce to sign with.",
    },
    MethodDoc {
        name: "weft_sendTransaction",
        params: &["tx", "options?"],
        summary: "Submits a borsh SignedTransaction (0x hex); options.waitUntil is accepted, committed, anchored or confirmed.",
    },
    MethodDoc {
        name: "weft_getTransaction",
        params: &["txHash"],
        summary: "A pending or committed transaction, or null.",
    },
    MethodDoc {
        name: "weft_getReceipt",
        params: &["txHash"],
        summary: "A committed transaction's receipt, or null.",
    },
    MethodDoc {
        name: "weft_getBlock",
        params: &["height?", "full?"],
        summary: "A block by height (or \"latest\"), with transaction hashes or full transactions, or null.",
    },
    MethodDoc {
        name: "weft_getContract",
        params: &["contract", "height?"],
        summary: "A contract's code hash, code size and ABI.",
    },
    MethodDoc {
        name: "weft_call",
        params: &[
            "contract",
            "method",
            "args?",
            "argsHex?",
            "height?",
            "caller?",
            "gasLimit?",
        ],
        summary: "Runs a method read-only, with JSON arguments typed by the ABI or borsh hex.",
    },
    MethodDoc {
        name: "weft_getState",
        params: &["contract", "key", "height?"],
        summary: "A contract storage value with its JMT proof against the state root at a height, and that height's anchor.",
    },
    MethodDoc {
        name: "tangle_getBlock",
        params: &["id"],
        summary: "A Tangle block with its metadata (solid, confirmation, approvers, children), or null.",
    },
    MethodDoc {
        name: "tangle_tips",
        params: &[],
        summary: "The Tangle's tip pool, newest first, each marked lazy or not.",
    },
    MethodDoc {
        name: "tangle_submitData",
        params: &["data", "tag?"],
        summary: "Posts data (0x hex, at most 30 KiB) to the Tangle in a block issued by this node; returns the block id.",
    },
    MethodDoc {
        name: "tangle_submitBlock",
        params: &["block"],
        summary: "Submits a Tangle block signed by its issuer (borsh, 0x hex), with proof of work if the issuer is not a validator.",
    },
    MethodDoc {
        name: "tangle_getAnchor",
        params: &["chainId", "index"],
        summary: "A chain's anchor by index, with its certificate and confirmation, or null.",
    },
    MethodDoc {
        name: "tangle_latestAnchor",
        params: &["chainId"],
        summary: "A chain's latest applied anchor, or null.",
    },
    MethodDoc {
        name: "tangle_getAnchors",
        params: &["chainId", "from?", "limit?"],
        summary: "A chain's anchors from an index (default 1), at most limit (default and cap 1000), in order.",
    },
    MethodDoc {
        name: "tangle_getEvidence",
        params: &["chainId"],
        summary: "Equivocations detected for a chain: two conflicting statements each.",
    },
    MethodDoc {
        name: "tangle_subscribeBlocks",
        params: &[],
        summary: "Subscription: a tangle_block notification with each new Tangle block.",
    },
    MethodDoc {
        name: "tangle_subscribeAnchors",
        params: &["chainId?"],
        summary: "Subscription: a tangle_anchor notification when an anchor is applied and again when it is confirmed.",
    },
    MethodDoc {
        name: "weft_subscribeBlocks",
        params: &[],
        summary: "Subscription: a weft_block notification with each new block header.",
    },
    MethodDoc {
        name: "weft_subscribeEvents",
        params: &["filter?"],
        summary: "Subscription: a weft_event notification for each event matching {contract?, topic?}.",
    },
    MethodDoc {
        name: "rpc.discover",
        params: &[],
        summary: "This API as an OpenRPC document.",
    },
];

pub(crate) fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(code, message.into(), None)
}

pub(crate) fn error_with(code: i32, message: impl Into<String>, data: Value) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), Some(data))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::INTERNAL, format!("internal error: {e}"))
}

/// Parses positional or named parameters of `method` into `T`.
pub(crate) fn parse<T: DeserializeOwned>(
    params: &Params<'_>,
    method: &str,
) -> Result<T, ErrorObjectOwned> {
    let names = METHODS
        .iter()
        .find(|m| m.name == method)
        .map_or(&[][..], |m| m.params);
    let expected = || {
        let list: Vec<&str> = names.to_vec();
        format!("{method} takes [{}]", list.join(", "))
    };
    let value: Value = match params.as_str() {
        None => Value::Object(Default::default()),
        Some(raw) => serde_json::from_str(raw)
            .map_err(|e| error(codes::INVALID_PARAMS, format!("invalid params: {e}")))?,
    };
    let object = match value {
        Value::Array(items) => {
            if items.len() > names.len() {
                return Err(error(
                    codes::INVALID_PARAMS,
                    format!("too many params: got {}; {}", items.len(), expected()),
                ));
            }
            let mut map = serde_json::Map::new();
            for (name, item) in names.iter().zip(items) {
                // Positional nulls count as absent.
                if !item.is_null() {
                    map.insert(name.trim_end_matches('?').to_string(), item);
                }
            }
            Value::Object(map)
        }
        Value::Object(map) => Value::Object(map),
        other => {
            return Err(error(
                codes::INVALID_PARAMS,
                format!(
                    "params must be an array or an object, got {other}; {}",
                    expected()
                ),
            ));
        }
    };
    serde_json::from_value(object).map_err(|e| {
        error(
            codes::INVALID_PARAMS,
            format!("invalid params: {e}; {}", expected()),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressParams {
    #[serde(with = "hex_id")]
    address: Address,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendParams {
    tx: String,
    #[serde(default)]
    options: SendOptions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HashParams {
    #[serde(with = "hex_id")]
    tx_hash: TxHash,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeightOrTag {
    Height(u64),
    Tag(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockParams {
    height: Option<HeightOrTag>,
    #[serde(default)]
    full: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractParams {
    #[serde(with = "hex_id")]
    contract: ContractId,
    height: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateParams {
    #[serde(with = "hex_id")]
    contract: ContractId,
    #[serde(with = "hex_bytes")]
    key: Vec<u8>,
    height: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterParams {
    #[serde(default)]
    filter: EventFilter,
}

fn submit_error(e: SubmitError) -> ErrorObjectOwned {
    let message = e.to_string();
    match e {
        SubmitError::Malformed(_) => error(codes::INVALID_PARAMS, message),
        SubmitError::Rejected(a) => match a {
            AdmitError::BadSignature(_) => error(codes::BAD_SIGNATURE, message),
            AdmitError::WrongChain { .. } => error(codes::WRONG_CHAIN, message),
            AdmitError::NonceUsed { next, .. }
            | AdmitError::NoncePending { next, .. }
            | AdmitError::NonceGap { next, .. } => {
                error_with(codes::BAD_NONCE, message, json!({ "nextNonce": next }))
            }
            AdmitError::TooLarge { limit, .. } => {
                error_with(codes::TX_TOO_LARGE, message, json!({ "limit": limit }))
            }
            AdmitError::GasTooHigh { limit, .. } => {
                error_with(codes::GAS_TOO_HIGH, message, json!({ "limit": limit }))
            }
            AdmitError::RateLimited { retry_after_ms, .. } => error_with(
                codes::RATE_LIMITED,
                message,
                json!({ "retryAfterMs": retry_after_ms }),
            ),
            AdmitError::SenderFull { .. } => error(codes::RATE_LIMITED, message),
            AdmitError::Full { .. } => error(codes::MEMPOOL_FULL, message),
            AdmitError::Duplicate(_) => error(codes::DUPLICATE_TX, message),
        },
        SubmitError::InvalidCode(_) => error(codes::INVALID_CODE, message),
        SubmitError::UnknownContract(_) => error(codes::UNKNOWN_CONTRACT, message),
        SubmitError::UnknownMethod(_) => error(codes::UNKNOWN_METHOD, message),
        SubmitError::Internal(_) => error(codes::INTERNAL, message),
    }
}

fn query_error(e: QueryError) -> ErrorObjectOwned {
    let message = e.to_string();
    match e {
        QueryError::UnknownContract(..) => error(codes::UNKNOWN_CONTRACT, message),
        QueryError::UnknownMethod(_) => error(codes::UNKNOWN_METHOD, message),
        QueryError::UnknownHeight { latest, .. } => {
            error_with(codes::UNKNOWN_HEIGHT, message, json!({ "latest": latest }))
        }
        QueryError::BadArgs(_) => error(codes::INVALID_PARAMS, message),
        QueryError::Contract { gas_used, .. } => error_with(
            codes::CONTRACT_FAILED,
            message,
            json!({ "gasUsed": gas_used }),
        ),
        QueryError::Internal(_) => error(codes::INTERNAL, message),
    }
}

fn chain_info(node: &Node) -> ChainInfo {
    let head = node.head();
    let config = node.config();
    ChainInfo {
        chain_id: node.chain_id().0.clone(),
        height: head.height,
        block_hash: head.hash,
        state_root: head.state_root,
        time_ms: head.time_ms,
        mempool_size: node.mempool_len() as u64,
        max_tx_gas: config.mempool.max_tx_gas,
        max_tx_bytes: config.mempool.max_tx_bytes as u64,
        node_version: env!("CARGO_PKG_VERSION").to_string(),
        committee: node.committee().map(|g| {
            g.validators
                .iter()
                .map(|v| weft_client::json::CommitteeMemberJson {
                    name: v.name.clone(),
                    public_key: format!("0x{}", v.public_key.trim_start_matches("0x")),
                    address: v.address.clone(),
                    power: v.power,
                })
                .collect()
        }),
        last_commit: commit_json(node, head.height),
    }
}

/// A block's commit certificate as JSON, when the chain has a committee.
fn commit_json(node: &Node, height: u64) -> Option<weft_client::json::CommitJson> {
    let certificate = node.certificate(height).ok().flatten()?;
    let members = node.committee()?.validator_set().ok()?;
    let keys = certificate
        .signer_indices()
        .into_iter()
        .filter_map(|i| members.validators().get(i))
        .map(|v| format!("0x{}", hex::encode(v.public_key.0)))
        .collect();
    Some(weft_client::json::CommitJson {
        height: certificate.height,
        round: certificate.round,
        block_hash: format!("0x{}", hex::encode(certificate.block.0.0)),
        signers: format!("0x{}", hex::encode(&certificate.signers)),
        signer_keys: keys,
        signatures: certificate
            .signatures
            .iter()
            .map(|s| format!("0x{}", hex::encode(s.0)))
            .collect(),
    })
}

async fn send_transaction(
    node: Arc<Node>,
    params: Params<'static>,
) -> Result<SendResult, ErrorObjectOwned> {
    let p: SendParams = parse(&params, "weft_sendTransaction")?;
    let bytes = hex_bytes::decode(&p.tx).map_err(|e| {
        error(
            codes::INVALID_PARAMS,
            format!("tx: {e}; expected the borsh encoding of a SignedTransaction as 0x hex"),
        )
    })?;
    let tx = node.decode(&bytes).map_err(submit_error)?;
    let hash = tx.tx.hash();
    let until = p.options.wait_until;
    let anchoring = matches!(until, WaitUntil::Anchored | WaitUntil::Confirmed);
    if anchoring && node.tangle().is_none() {
        return Err(error(
            codes::INVALID_PARAMS,
            "options.waitUntil: this node runs alone, without a committee, so nothing is anchored; use accepted or committed, or ask a committee member",
        ));
    }
    let started = tokio::time::Instant::now();
    let waiter = (until != WaitUntil::Accepted).then(|| node.watch(hash));
    if let Err(e) = node.submit(tx, bytes.len()) {
        if waiter.is_some() {
            drop(waiter);
            node.unwatch(&hash);
        }
        return Err(submit_error(e));
    }
    let Some(waiter) = waiter else {
        return Ok(SendResult {
            tx_hash: hash,
            status: WaitUntil::Accepted,
            receipt: None,
            anchor: None,
        });
    };
    let max = node.config().rpc.max_wait_ms;
    let wait = p.options.timeout_ms.unwrap_or(max).min(max);
    match tokio::time::timeout(Duration::from_millis(wait), waiter).await {
        Ok(Ok(receipt)) if !anchoring => Ok(SendResult {
            tx_hash: hash,
            status: WaitUntil::Committed,
            receipt: Some(ReceiptJson::from(receipt.as_ref())),
            anchor: None,
        }),
        Ok(Ok(receipt)) => {
            let tangle = node
                .tangle()
                .expect("checked above: anchoring needs the Tangle");
            let left = Duration::from_millis(wait).saturating_sub(started.elapsed());
            let confirmed = until == WaitUntil::Confirmed;
            match tangle
                .wait_anchor(receipt.height, confirmed, left)
                .await
                .map_err(internal)?
            {
                Some(record) => Ok(SendResult {
                    tx_hash: hash,
                    status: until,
                    receipt: Some(ReceiptJson::from(receipt.as_ref())),
                    anchor: Some(crate::rpc_tangle::anchor_json(&record)),
                }),
                None => Err(error_with(
                    codes::WAIT_TIMEOUT,
                    format!(
                        "transaction {hash} committed at height {} but its anchor was not {} within {wait} ms; poll tangle_latestAnchor",
                        receipt.height,
                        if confirmed {
                            "confirmed"
                        } else {
                            "on the Tangle"
                        }
                    ),
                    json!({ "txHash": hash.to_hex(), "height": receipt.height }),
                )),
            }
        }
        Ok(Err(_)) => Err(internal(
            "the node stopped before the transaction committed",
        )),
        Err(_) => {
            node.unwatch(&hash);
            Err(error_with(
                codes::WAIT_TIMEOUT,
                format!(
                    "transaction {hash} was accepted but not committed within {wait} ms; poll weft_getReceipt"
                ),
                json!({ "txHash": hash.to_hex() }),
            ))
        }
    }
}

fn get_transaction(node: &Node, params: &Params<'_>) -> Result<Option<TxLookup>, ErrorObjectOwned> {
    let p: HashParams = parse(params, "weft_getTransaction")?;
    if let Some(tx) = node.pending_tx(&p.tx_hash) {
        return Ok(Some(TxLookup {
            state: TxState::Pending,
            transaction: TransactionJson::new(&tx, p.tx_hash),
            height: None,
            index: None,
        }));
    }
    let Some(receipt) = node.receipt(&p.tx_hash).map_err(internal)? else {
        return Ok(None);
    };
    let block = node
        .block(receipt.height)
        .map_err(internal)?
        .ok_or_else(|| internal(format!("block {} of a receipt is missing", receipt.height)))?;
    let tx = block
        .txs
        .get(receipt.index as usize)
        .ok_or_else(|| internal("receipt index outside its block"))?;
    Ok(Some(TxLookup {
        state: TxState::Committed,
        transaction: TransactionJson::new(tx, p.tx_hash),
        height: Some(receipt.height),
        index: Some(receipt.index),
    }))
}

fn get_block(node: &Node, params: &Params<'_>) -> Result<Option<BlockJson>, ErrorObjectOwned> {
    let p: BlockParams = parse(params, "weft_getBlock")?;
    let height = match p.height {
        None => node.head().height,
        Some(HeightOrTag::Height(h)) => h,
        Some(HeightOrTag::Tag(t)) if t == "latest" => node.head().height,
        Some(HeightOrTag::Tag(t)) => {
            return Err(error(
                codes::INVALID_PARAMS,
                format!("height must be a number or \"latest\", got {t:?}"),
            ));
        }
    };
    let Some(block) = node.block(height).map_err(internal)? else {
        return Ok(None);
    };
    let hash = block.header.hash();
    let hashes: Vec<TxHash> = block.txs.iter().map(|t| t.tx.hash()).collect();
    Ok(Some(BlockJson {
        header: BlockHeaderJson::new(&block, hash),
        tx_hashes: hashes.iter().map(TxHash::to_hex).collect(),
        transactions: p.full.then(|| {
            block
                .txs
                .iter()
                .zip(&hashes)
                .map(|(t, h)| TransactionJson::new(t, *h))
                .collect()
        }),
        commit: commit_json(node, block.header.height),
    }))
}

fn call(node: &Node, params: &Params<'_>) -> Result<CallResult, ErrorObjectOwned> {
    let p: CallRequest = parse(params, "weft_call")?;
    let bad = |what: &str, e: String| error(codes::INVALID_PARAMS, format!("{what}: {e}"));
    let contract: ContractId = p
        .contract
        .parse()
        .map_err(|e: weft_types::ParseHexError| bad("contract", e.to_string()))?;
    let caller: Address = match &p.caller {
        Some(c) => c
            .parse()
            .map_err(|e: weft_types::ParseHexError| bad("caller", e.to_string()))?,
        None => Address::default(),
    };
    let raw = match (&p.args, &p.args_hex) {
        (Some(_), Some(_)) => {
            return Err(error(
                codes::INVALID_PARAMS,
                "give either args (JSON) or argsHex (borsh), not both",
            ));
        }
        (_, Some(h)) => Some(hex_bytes::decode(h).map_err(|e| bad("argsHex", e))?),
        _ => None,
    };
    let json_args = p.args.clone();
    let outcome = node
        .query(
            contract,
            &p.method,
            |method| match raw {
                Some(bytes) => Ok(bytes),
                None => codec::encode_args(method, json_args.as_ref()).map_err(|e| e.to_string()),
            },
            p.height,
            caller,
            p.gas_limit,
        )
        .map_err(query_error)?;
    let value = codec::decode_result(&outcome.method, &outcome.return_data)
        .ok()
        .flatten();
    Ok(CallResult {
        return_data: outcome.return_data,
        value,
        gas_used: outcome.gas_used,
        height: outcome.height,
    })
}

fn get_contract(node: &Node, params: &Params<'_>) -> Result<ContractInfo, ErrorObjectOwned> {
    let p: ContractParams = parse(params, "weft_getContract")?;
    let (record, height) = node.contract(&p.contract, p.height).map_err(query_error)?;
    Ok(ContractInfo {
        contract: p.contract,
        code_hash: record.code_hash,
        code_size: record.code_size,
        methods: abi_json(&record.abi),
        height,
    })
}

fn get_state(node: &Node, params: &Params<'_>) -> Result<StateResult, ErrorObjectOwned> {
    let p: StateParams = parse(params, "weft_getState")?;
    let key = crate::keys::storage(&p.contract, &p.key);
    let (height, root, proof) = node.state(&key, p.height).map_err(query_error)?;
    let anchor = match node.tangle() {
        Some(t) => t.anchor_at_height(height).map_err(internal)?,
        None => None,
    };
    Ok(StateResult {
        anchor: anchor.as_ref().map(crate::rpc_tangle::anchor_json),
        height,
        state_root: root,
        key,
        value: proof.value.clone(),
        proof: borsh::to_vec(&proof).map_err(internal)?,
    })
}

/// The OpenRPC document of this API.
pub fn openrpc() -> Value {
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "summary": m.summary,
                "paramStructure": "either",
                "params": m.params.iter().map(|p| json!({
                    "name": p.trim_end_matches('?'),
                    "required": !p.ends_with('?'),
                    "schema": {},
                })).collect::<Vec<_>>(),
                "result": { "name": "result", "schema": {} },
            })
        })
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Weft JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "See docs/json-rpc.md for every method's parameters, results and errors.",
        },
        "methods": methods,
    })
}

async fn pipe<T, F>(
    pending: PendingSubscriptionSink,
    node: Arc<Node>,
    mut map: F,
) -> Result<(), jsonrpsee::core::SubscriptionError>
where
    F: FnMut(&crate::service::CommittedBlock) -> Vec<T> + Send,
    T: serde::Serialize,
{
    let mut blocks = node.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            () = sink.closed() => return Ok(()),
            next = blocks.recv() => match next {
                Ok(block) => {
                    for item in map(&block) {
                        let message: SubscriptionMessage = serde_json::value::to_raw_value(&item)?.into();
                        if sink.send(message).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    return Err(format!("this subscriber fell {n} blocks behind and was dropped; subscribe again").into());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// The RPC module over `node`.
pub fn module(node: Node) -> RpcModule<Node> {
    let mut m = RpcModule::new(node);
    const REGISTERED: &str = "each method is registered once";
    m.register_method("weft_chainInfo", |params, node, _| {
        parse::<NoParams>(&params, "weft_chainInfo").map(|_| chain_info(node))
    })
    .expect(REGISTERED);
    m.register_method("weft_getAccount", |params, node, _| {
        let p: AddressParams = parse(&params, "weft_getAccount")?;
        let (committed, next, height) = node.account(&p.address).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(AccountInfo {
            address: p.address,
            committed_nonce: committed,
            next_nonce: next,
            height,
        })
    })
    .expect(REGISTERED);
    m.register_async_method("weft_sendTransaction", |params, node, _| async move {
        send_transaction(node, params).await
    })
    .expect(REGISTERED);
    m.register_method("weft_getTransaction", |params, node, _| {
        get_transaction(node, &params)
    })
    .expect(REGISTERED);
    m.register_method("weft_getReceipt", |params, node, _| {
        let p: HashParams = parse(&params, "weft_getReceipt")?;
        let receipt = node.receipt(&p.tx_hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(receipt.as_ref().map(ReceiptJson::from))
    })
    .expect(REGISTERED);
    m.register_method("weft_getBlock", |params, node, _| get_block(node, &params))
        .expect(REGISTERED);
    m.register_blocking_method("weft_getContract", |params, node, _| {
        get_contract(&node, &params)
    })
    .expect(REGISTERED);
    m.register_blocking_method("weft_call", |params, node, _| call(&node, &params))
        .expect(REGISTERED);
    m.register_blocking_method("weft_getState", |params, node, _| get_state(&node, &params))
        .expect(REGISTERED);
    m.register_method("rpc.discover", |_, _, _| openrpc())
        .expect(REGISTERED);
    crate::rpc_tangle::register(&mut m);
    m.register_subscription(
        "weft_subscribeBlocks",
        "weft_block",
        "weft_unsubscribeBlocks",
        |params, pending, node, _| async move {
            if let Err(e) = parse::<NoParams>(&params, "weft_subscribeBlocks") {
                pending.reject(e).await;
                return Ok(());
            }
            pipe(pending, node, |b| {
                vec![BlockHeaderJson::new(&b.block, b.hash)]
            })
            .await
        },
    )
    .expect(REGISTERED);
    m.register_subscription(
        "weft_subscribeEvents",
        "weft_event",
        "weft_unsubscribeEvents",
        |params, pending, node, _| async move {
            let filter = match parse::<FilterParams>(&params, "weft_subscribeEvents") {
                Ok(p) => p.filter,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            pipe(pending, node, move |b| {
                let mut out = Vec::new();
                for r in &b.receipts {
                    for (i, e) in r.events.iter().enumerate() {
                        if filter.matches(e) {
                            out.push(EventNotification {
                                height: r.height,
                                tx_hash: r.tx_hash,
                                log_index: i as u32,
                                event: EventJson::from(e),
                            });
                        }
                    }
                }
                out
            })
            .await
        },
    )
    .expect(REGISTERED);
    m
}

/// Starts the JSON-RPC server on `listen`; returns its address (useful with port 0) and handle.
pub async fn serve(node: Node, listen: SocketAddr) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let rpc = &node.config().rpc;
    let config = ServerConfig::builder()
        .max_request_body_size(rpc.max_request_bytes)
        .max_response_body_size(rpc.max_request_bytes.max(16 * 1024 * 1024))
        .max_connections(rpc.max_connections)
        .build();
    let server = Server::builder().set_config(config).build(listen).await?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module(node))))
}
