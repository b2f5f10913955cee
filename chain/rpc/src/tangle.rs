//! The `tangle_*` JSON-RPC methods and subscriptions, over a committee member's embedded Tangle.

use crate::params::{Ctx, NoParams, codes, error, internal, parse};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use weft_api::{IngestError, NoTangle, NodeApi, Notice, TangleApi};
use weft_client::json::{AnchorJson, TangleBlockJson, TipJson, hex_bytes};
use weft_tangle::{AnchorRecord, Block, BlockMeta, Evidence, Payload};
use weft_types::{ChainId, TangleBlockId};

/// Most anchors in one `tangle_getAnchors` answer.
const MAX_ANCHORS: usize = 1000;

/// The JSON of an applied anchor.
pub fn anchor_json(record: &AnchorRecord) -> AnchorJson {
    let a = &record.anchor.statement;
    AnchorJson {
        id: a.id(),
        chain_id: a.chain_id.0.clone(),
        state_index: a.state_index,
        height: a.height,
        block_hash: a.block_hash,
        state_root: a.state_root,
        prev_anchor: a.prev_anchor,
        epoch: a.epoch,
        signers: record.anchor.certificate.signers.clone(),
        signatures: record
            .anchor
            .certificate
            .signatures
            .iter()
            .map(|s| hex_bytes::encode(&s.0))
            .collect(),
        tangle_block: record.block,
        confirmed: record.confirmed_ms.is_some(),
        applied_at: record.applied_ms,
        confirmed_at: record.confirmed_ms,
    }
}

fn committee_json(c: &weft_types::Committee) -> Value {
    json!({
        "epoch": c.epoch,
        "members": c.members.iter().map(|m| json!({
            "publicKey": hex_bytes::encode(&m.public_key.0),
            "power": m.power,
        })).collect::<Vec<_>>(),
    })
}

fn payload_json(payload: &Payload) -> Value {
    let kind = payload.kind();
    match payload {
        Payload::Validation => json!({ "kind": kind }),
        Payload::Data { tag, data } => {
            json!({ "kind": kind, "tag": tag, "data": hex_bytes::encode(data) })
        }
        Payload::Anchor(s) => {
            let record = AnchorRecord {
                anchor: s.clone(),
                block: TangleBlockId::GENESIS,
                applied_ms: 0,
                confirmed_ms: None,
            };
            let a = anchor_json(&record);
            json!({
                "kind": kind, "id": a.id.to_hex(), "chainId": a.chain_id, "stateIndex": a.state_index,
                "height": a.height, "blockHash": a.block_hash.to_hex(), "stateRoot": a.state_root.to_hex(),
                "prevAnchor": a.prev_anchor.to_hex(), "epoch": a.epoch,
                "signers": hex_bytes::encode(&a.signers), "signatures": a.signatures,
            })
        }
        Payload::Registration(s) => json!({
            "kind": kind,
            "chainId": s.statement.chain_id.0,
            "committee": committee_json(&s.statement.committee),
        }),
        Payload::Rotation(s) => json!({
            "kind": kind,
            "chainId": s.statement.chain_id.0,
            "committee": committee_json(&s.statement.committee),
        }),
    }
}

/// The JSON of a block, with its metadata when known.
pub fn block_json(
    id: TangleBlockId,
    block: &Block,
    meta: Option<&BlockMeta>,
    children: Option<Vec<TangleBlockId>>,
) -> TangleBlockJson {
    let e = &block.essence;
    TangleBlockJson {
        id,
        network_id: e.network_id.clone(),
        parents: e.parents.iter().map(|p| p.to_hex()).collect(),
        issuer: e.issuer.0.to_vec(),
        issued_at: e.issued_at_ms,
        payload: payload_json(&e.payload),
        nonce: block.nonce,
        solid: meta.map(|m| m.solid),
        confirmed_at: meta.and_then(|m| m.confirmed_ms),
        approvers: meta.map(|m| m.approvers.count_ones()),
        children: children.map(|c| c.iter().map(|id| id.to_hex()).collect()),
    }
}

fn evidence_json(e: &Evidence) -> Value {
    json!({
        "chainId": e.chain_id.0,
        "kind": e.kind,
        "index": e.index,
        "first": { "statement": e.first.0.to_hex(), "tangleBlock": e.first.1.to_hex() },
        "second": { "statement": e.second.0.to_hex(), "tangleBlock": e.second.1.to_hex() },
        "detectedAt": e.detected_ms,
    })
}

fn tangle(node: &dyn NodeApi) -> Result<&dyn TangleApi, ErrorObjectOwned> {
    node.tangle().map_err(|why| {
        let message = match why {
            NoTangle::Opening => "this member's Tangle is still opening; try again in a moment",
            NoTangle::Alone => {
                "this node runs alone, without a committee, and embeds no Tangle; ask a committee member"
            }
        };
        error(codes::NO_TANGLE, message)
    })
}

fn id_param(text: &str, what: &str) -> Result<TangleBlockId, ErrorObjectOwned> {
    text.parse().map_err(|e| {
        error(
            codes::INVALID_PARAMS,
            format!("{what}: {e}; expected a Tangle block id (0x + 64 hex digits)"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdParams {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataParams {
    data: String,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockParams {
    block: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnchorParams {
    chain_id: String,
    index: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChainParams {
    chain_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnchorsParams {
    chain_id: String,
    #[serde(default)]
    from: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnchorFilter {
    #[serde(default)]
    chain_id: Option<String>,
}

fn get_block(
    node: &dyn NodeApi,
    params: &Params<'_>,
) -> Result<Option<TangleBlockJson>, ErrorObjectOwned> {
    let p: IdParams = parse(params, "tangle_getBlock")?;
    let id = id_param(&p.id, "id")?;
    let t = tangle(node)?;
    let Some((block, meta)) = t.block(&id).map_err(internal)? else {
        return Ok(None);
    };
    let children = t.children(&id).map_err(internal)?;
    Ok(Some(block_json(id, &block, Some(&meta), Some(children))))
}

fn submit_data(node: &dyn NodeApi, params: &Params<'_>) -> Result<Value, ErrorObjectOwned> {
    let p: DataParams = parse(params, "tangle_submitData")?;
    let data = hex_bytes::decode(&p.data).map_err(|e| {
        error(
            codes::INVALID_PARAMS,
            format!("data: {e}; expected 0x-prefixed hex"),
        )
    })?;
    let limit = weft_tangle::MAX_BLOCK_BYTES - 2048;
    if data.len() > limit {
        return Err(error(
            codes::INVALID_PARAMS,
            format!(
                "data has {} bytes; at most {limit} fit in a Tangle block",
                data.len()
            ),
        ));
    }
    let tag = p.tag.unwrap_or_else(|| "data".into());
    if tag.len() > 64 {
        return Err(error(
            codes::INVALID_PARAMS,
            format!("tag has {} bytes; at most 64 are allowed", tag.len()),
        ));
    }
    let id = tangle(node)?
        .submit_data(tag, data)
        .map_err(|e| error(codes::INVALID_PARAMS, e.to_string()))?;
    Ok(json!({ "id": id.to_hex() }))
}

fn submit_block(node: &dyn NodeApi, params: &Params<'_>) -> Result<Value, ErrorObjectOwned> {
    let p: BlockParams = parse(params, "tangle_submitBlock")?;
    let bytes = hex_bytes::decode(&p.block).map_err(|e| {
        error(
            codes::INVALID_PARAMS,
            format!("block: {e}; expected the borsh encoding of a Tangle block as 0x hex"),
        )
    })?;
    match tangle(node)?.submit_block(bytes) {
        Ok(id) => Ok(json!({ "id": id.to_hex() })),
        Err(IngestError::RateLimited(_, rate)) => Err(error(
            codes::RATE_LIMITED,
            format!(
                "the issuer is over its rate limit of {rate} blocks per second; try again later"
            ),
        )),
        Err(e) => Err(error(codes::INVALID_PARAMS, e.to_string())),
    }
}

fn get_anchors(
    node: &dyn NodeApi,
    params: &Params<'_>,
) -> Result<Vec<AnchorJson>, ErrorObjectOwned> {
    let p: AnchorsParams = parse(params, "tangle_getAnchors")?;
    let limit = p.limit.unwrap_or(MAX_ANCHORS).min(MAX_ANCHORS);
    let records = tangle(node)?
        .anchors(&ChainId(p.chain_id), p.from.unwrap_or(1), limit)
        .map_err(internal)?;
    Ok(records.iter().map(anchor_json).collect())
}

async fn pipe_notices<F>(
    pending: PendingSubscriptionSink,
    node: Arc<Ctx>,
    mut map: F,
) -> Result<(), jsonrpsee::core::SubscriptionError>
where
    F: FnMut(&Notice) -> Option<Value> + Send,
{
    let Ok(t) = node.tangle() else {
        pending
            .reject(error(
                codes::NO_TANGLE,
                "this node embeds no Tangle; ask a committee member",
            ))
            .await;
        return Ok(());
    };
    let mut notices = t.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            () = sink.closed() => return Ok(()),
            next = notices.recv() => match next {
                Ok(notice) => {
                    if let Some(item) = map(&notice) {
                        let message: SubscriptionMessage = serde_json::value::to_raw_value(&item)?.into();
                        if sink.send(message).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    return Err(format!("this subscriber fell {n} notices behind and was dropped; subscribe again").into());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// Adds the `tangle_*` methods to `m`.
pub fn register(m: &mut RpcModule<Ctx>) {
    const REGISTERED: &str = "each method is registered once";
    m.register_blocking_method("tangle_getBlock", |params, node, _| {
        get_block(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_method("tangle_tips", |params, node, _| {
        parse::<NoParams>(&params, "tangle_tips")?;
        let tips: Vec<TipJson> = tangle(&**node)?
            .tips()
            .into_iter()
            .map(|(id, tip, lazy)| TipJson {
                id,
                issued_at: tip.issued_at_ms,
                approvers: tip.approvers,
                lazy,
            })
            .collect();
        Ok::<_, ErrorObjectOwned>(tips)
    })
    .expect(REGISTERED);
    m.register_blocking_method("tangle_submitData", |params, node, _| {
        submit_data(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_blocking_method("tangle_submitBlock", |params, node, _| {
        submit_block(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_method("tangle_getAnchor", |params, node, _| {
        let p: AnchorParams = parse(&params, "tangle_getAnchor")?;
        let record = tangle(&**node)?
            .anchor(&ChainId(p.chain_id), p.index)
            .map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(record.as_ref().map(anchor_json))
    })
    .expect(REGISTERED);
    m.register_method("tangle_latestAnchor", |params, node, _| {
        let p: ChainParams = parse(&params, "tangle_latestAnchor")?;
        let record = tangle(&**node)?
            .latest_anchor(&ChainId(p.chain_id))
            .map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(record.as_ref().map(anchor_json))
    })
    .expect(REGISTERED);
    m.register_blocking_method("tangle_getAnchors", |params, node, _| {
        get_anchors(&**node, &params)
    })
    .expect(REGISTERED);
    m.register_method("tangle_getEvidence", |params, node, _| {
        let p: ChainParams = parse(&params, "tangle_getEvidence")?;
        let evidence = tangle(&**node)?
            .evidence(&ChainId(p.chain_id))
            .map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(evidence.iter().map(evidence_json).collect::<Vec<_>>())
    })
    .expect(REGISTERED);
    m.register_subscription(
        "tangle_subscribeBlocks",
        "tangle_block",
        "tangle_unsubscribeBlocks",
        |params, pending, node, _| async move {
            if let Err(e) = parse::<NoParams>(&params, "tangle_subscribeBlocks") {
                pending.reject(e).await;
                return Ok(());
            }
            pipe_notices(pending, node, |n| match n {
                Notice::Block(id, block) => {
                    serde_json::to_value(block_json(*id, block, None, None)).ok()
                }
                _ => None,
            })
            .await
        },
    )
    .expect(REGISTERED);
    m.register_subscription(
        "tangle_subscribeAnchors",
        "tangle_anchor",
        "tangle_unsubscribeAnchors",
        |params, pending, node, _| async move {
            let filter = match parse::<AnchorFilter>(&params, "tangle_subscribeAnchors") {
                Ok(p) => p.chain_id,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            pipe_notices(pending, node, move |n| match n {
                Notice::Anchor { record, .. }
                    if filter
                        .as_ref()
                        .is_none_or(|c| *c == record.anchor.statement.chain_id.0) =>
                {
                    serde_json::to_value(anchor_json(record)).ok()
                }
                _ => None,
            })
            .await
        },
    )
    .expect(REGISTERED);
}
