//! The `weft_*` JSON-RPC methods and subscriptions: chain info, accounts, transactions (submit
//! and wait), blocks, contracts, read-only calls and state proofs.

use crate::params::{Ctx, NoParams, codes, error, error_with, internal, openrpc, parse};
use jsonrpsee::server::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use weft_api::{AdmitError, CommittedBlock, NodeApi, QueryError, SubmitError};
use weft_client::codec;
use weft_client::json::{
    AccountInfo, BlockHeaderJson, BlockJson, CallRequest, CallResult, ChainInfo, ContractInfo,
    EventFilter, EventJson, EventNotification, MAX_STATE_READS, ReceiptJson, SendOptions,
    SendResult, StateResult, StatesResult, TransactionJson, TxLookup, TxState, WaitUntil, abi_json,
    hex_bytes, hex_id,
};
use weft_types::{Address, ContractId, TxHash};

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
struct StatesParams {
    reads: Vec<weft_client::json::StateRead>,
    height: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterParams {
    #[serde(default)]
    filter: EventFilter,
}

pub(crate) fn submit_error(e: SubmitError) -> ErrorObjectOwned {
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

pub(crate) fn query_error(e: QueryError) -> ErrorObjectOwned {
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

fn chain_info(node: &dyn NodeApi) -> ChainInfo {
    let head = node.head();
    let limits = node.limits();
    ChainInfo {
        chain_id: node.chain_id().0.clone(),
        height: head.height,
        block_hash: head.hash,
        state_root: head.state_root,
        time_ms: head.time_ms,
        mempool_size: node.mempool_len() as u64,
        max_tx_gas: limits.max_tx_gas,
        max_tx_bytes: limits.max_tx_bytes as u64,
        node_version: env!("CARGO_PKG_VERSION").to_string(),
        committee: node.committee().map(|c| {
            c.members
                .iter()
                .map(|m| weft_client::json::CommitteeMemberJson {
                    name: m.name.clone(),
                    public_key: format!("0x{}", hex::encode(m.public_key.0)),
                    address: m.address.clone(),
                    power: m.power,
                })
                .collect()
        }),
        last_commit: commit_json(node, head.height),
        system_contracts: node
            .system_contracts()
            .into_iter()
            .map(|c| weft_client::json::SystemContractJson {
                name: c.name,
                id: c.id,
                code_hash: c.code_hash,
            })
            .collect(),
    }
}

/// A block's commit certificate as JSON, when the chain has a committee.
fn commit_json(node: &dyn NodeApi, height: u64) -> Option<weft_client::json::CommitJson> {
    let certificate = node.certificate(height).ok().flatten()?;
    let order = &node.committee()?.signing_order;
    let keys = certificate
        .signer_indices()
        .into_iter()
        .filter_map(|i| order.get(i))
        .map(|key| format!("0x{}", hex::encode(key.0)))
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
    node: Arc<Ctx>,
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
    if anchoring && node.tangle().is_err() {
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
    let max = node.limits().max_wait_ms;
    let wait = p.options.timeout_ms.unwrap_or(max).min(max);
    match tokio::time::timeout(Duration::from_millis(wait), waiter).await {
        Ok(Ok(receipt)) if !anchoring => Ok(SendResult {
            tx_hash: hash,
            status: WaitUntil::Committed,
            receipt: Some(ReceiptJson::from(receipt.as_ref())),
            anchor: None,
        }),
        Ok(Ok(receipt)) => {
            let Ok(tangle) = node.tangle() else {
                return Err(internal("the Tangle closed while waiting for an anchor"));
            };
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
                    anchor: Some(crate::tangle::anchor_json(&record)),
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

fn get_transaction(
    node: &dyn NodeApi,
    params: &Params<'_>,
) -> Result<Option<TxLookup>, ErrorObjectOwned> {
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

fn get_block(
    node: &dyn NodeApi,
    params: &Params<'_>,
) -> Result<Option<BlockJson>, ErrorObjectOwned> {
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

fn call(node: &dyn NodeApi, params: &Params<'_>) -> Result<CallResult, ErrorObjectOwned> {
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
            Box::new(|method| match raw {
                Some(bytes) => Ok(bytes),
                None => codec::encode_args(method, json_args.as_ref()).map_err(|e| e.to_string()),
            }),
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

fn get_contract(node: &dyn NodeApi, params: &Params<'_>) -> Result<ContractInfo, ErrorObjectOwned> {
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

fn get_state(node: &dyn NodeApi, params: &Params<'_>) -> Result<StateResult, ErrorObjectOwned> {
    let p: StateParams = parse(params, "weft_getState")?;
    let state = node
        .storage(&p.contract, &p.key, p.height)
        .map_err(query_error)?;
    let anchor = match node.tangle() {
        Ok(t) => t.anchor_at_height(state.height).map_err(internal)?,
        Err(_) => None,
    };
    Ok(StateResult {
        anchor: anchor.as_ref().map(crate::tangle::anchor_json),
        height: state.height,
        state_root: state.state_root,
        key: state.key,
        value: state.proof.value.clone(),
        proof: borsh::to_vec(&state.proof).map_err(internal)?,
    })
}

fn get_states(node: &dyn NodeApi, params: &Params<'_>) -> Result<StatesResult, ErrorObjectOwned> {
    let p: StatesParams = parse(params, "weft_getStates")?;
    prove(node, &p.reads, p.height)
}

/// `reads` with their proofs at `height` (by default the latest anchored one), and its anchor.
pub(crate) fn prove(
    node: &dyn NodeApi,
    reads: &[weft_client::json::StateRead],
    height: Option<u64>,
) -> Result<StatesResult, ErrorObjectOwned> {
    if reads.is_empty() || reads.len() > MAX_STATE_READS {
        return Err(error(
            codes::INVALID_PARAMS,
            format!(
                "weft_getStates takes 1 to {MAX_STATE_READS} reads, not {}",
                reads.len()
            ),
        ));
    }
    let (height, anchor) = match height {
        Some(h) => {
            let anchor = match node.tangle() {
                Ok(t) => t.anchor_at_height(h).map_err(internal)?,
                Err(_) => None,
            };
            (h, anchor)
        }
        None => crate::did::anchored(node),
    };
    let mut entries = Vec::with_capacity(reads.len());
    let mut state_root = Default::default();
    for read in reads {
        let state = node
            .storage(&read.contract, &read.key, Some(height))
            .map_err(query_error)?;
        state_root = state.state_root;
        entries.push(StateResult {
            anchor: None,
            height: state.height,
            state_root: state.state_root,
            key: state.key,
            value: state.proof.value.clone(),
            proof: borsh::to_vec(&state.proof).map_err(internal)?,
        });
    }
    Ok(StatesResult {
        height,
        state_root,
        anchor: anchor.as_ref().map(crate::tangle::anchor_json),
        entries,
    })
}

async fn pipe<T, F>(
    pending: PendingSubscriptionSink,
    node: Arc<Ctx>,
    mut map: F,
) -> Result<(), jsonrpsee::core::SubscriptionError>
where
    F: FnMut(&CommittedBlock) -> Vec<T> + Send,
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

/// Adds the `weft_*` methods, subscriptions and `rpc.discover` to `m`.
pub fn register(m: &mut RpcModule<Ctx>) {
    const REGISTERED: &str = "each method is registered once";
    m.register_method("weft_chainInfo", |params, node, _| {
        parse::<NoParams>(&params, "weft_chainInfo").map(|_| chain_info(&**node))
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
        get_transaction(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_method("weft_getReceipt", |params, node, _| {
        let p: HashParams = parse(&params, "weft_getReceipt")?;
        let receipt = node.receipt(&p.tx_hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(receipt.as_ref().map(ReceiptJson::from))
    })
    .expect(REGISTERED);
    m.register_method("weft_getBlock", |params, node, _| {
        get_block(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_blocking_method("weft_getContract", |params, node, _| {
        get_contract(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_blocking_method("weft_call", |params, node, _| call(&**node, &params))
        .expect(REGISTERED);
    m.register_blocking_method("weft_getStates", |params, node, _| {
        get_states(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_blocking_method("weft_getState", |params, node, _| {
        get_state(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_method("rpc.discover", |_, _, _| openrpc())
        .expect(REGISTERED);
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
}
