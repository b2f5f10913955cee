//! JSON-RPC of the token and NFT system contracts: `token_getInfo`, `token_getBalance`,
//! `nft_getItem` and `nft_listItems`.
//!
//! Amounts are decimal strings of base units (JSON numbers lose precision above 2^53), holders
//! are `0x…` accounts or `did:weft` DIDs. The single-value answers are read at the latest
//! anchored height and carry a `proof` (the `weft_getStates` answer for the entries read), so a
//! client that must not trust this node checks them against the committee's anchor
//! (`weft_client::token::holding_proven` does the same from Rust). Listings run the contract's
//! paging views at the head.

use crate::chain::{prove, query_error};
use crate::params::{Ctx, codes, error, parse};
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_api::NodeApi;
use weft_client::json::{StateRead, StatesResult};
use weft_types::holder::Holder;
use weft_types::nft::{self, Item, MAX_PAGE};
use weft_types::token::{self, Token, format_amount};
use weft_types::{Address, ContractId};

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

fn holder(node: &dyn NodeApi, text: &str, what: &str) -> Result<Holder, ErrorObjectOwned> {
    Holder::parse(text, &node.chain_id().0).map_err(|e| invalid(format!("{what}: {e}")))
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::INTERNAL, e.to_string())
}

/// Values read, in order (`None`: absent).
type Values = Vec<Option<Vec<u8>>>;

/// Reads `keys` of `contract` with proofs at the latest anchored height; returns the proof and
/// the values.
fn read_proven(
    node: &dyn NodeApi,
    contract: &str,
    keys: Vec<Vec<u8>>,
) -> Result<(StatesResult, Values), ErrorObjectOwned> {
    let contract = ContractId::system(contract);
    let reads: Vec<StateRead> = keys
        .into_iter()
        .map(|key| StateRead { contract, key })
        .collect();
    let proven = prove(node, &reads, None)?;
    let values = proven.entries.iter().map(|e| e.value.clone()).collect();
    Ok((proven, values))
}

fn decode<T: borsh::BorshDeserialize>(
    bytes: Option<Vec<u8>>,
    what: &str,
) -> Result<Option<T>, ErrorObjectOwned> {
    bytes
        .map(|b| {
            borsh::from_slice(&b)
                .map_err(|e| internal(format!("stored {what} does not decode: {e}")))
        })
        .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenParams {
    token: u64,
    #[serde(default)]
    holder: Option<String>,
}

/// `token_getInfo` (no holder) and `token_getBalance` (with one).
fn get_token(node: &dyn NodeApi, p: TokenParams) -> Result<Value, ErrorObjectOwned> {
    let chain = node.chain_id().0.clone();
    let who = p
        .holder
        .as_deref()
        .map(|h| holder(node, h, "holder"))
        .transpose()?;
    let mut keys = vec![token::storage::token_key(p.token)];
    if let Some(h) = &who {
        keys.push(token::storage::balance_key(p.token, h));
        keys.push(token::storage::frozen_key(p.token, h));
    }
    let (proof, mut values) = read_proven(node, "token", keys)?;
    let Some(record) = decode::<Token>(values.remove(0), "token")? else {
        return Err(invalid(format!(
            "there is no token {} (at anchored height {})",
            p.token, proof.height
        )));
    };
    let mut answer = match who {
        None => weft_client::token::to_json(&record, &chain),
        Some(h) => {
            let balance = decode::<u128>(values.remove(0), "balance")?.unwrap_or(0);
            json!({
            "token": record.id,
            "symbol": record.spec.symbol,
            "decimals": record.spec.decimals,
            "holder": h.to_text(&chain),
            "balance": balance.to_string(),
            "formatted": format_amount(balance, record.spec.decimals),
            "frozen": values.remove(0).is_some(),
            })
        }
    };
    answer["height"] = proof.height.into();
    answer["proof"] = serde_json::to_value(&proof).map_err(internal)?;
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemParams {
    collection: u64,
    item: u64,
}

fn get_item(node: &dyn NodeApi, p: ItemParams) -> Result<Value, ErrorObjectOwned> {
    let keys = vec![nft::storage::item_key(p.collection, p.item)];
    let (proof, mut values) = read_proven(node, "nft", keys)?;
    let mut answer = match decode::<Item>(values.remove(0), "item")? {
        Some(item) => {
            let mut answer = weft_client::nft::item_to_json(&item, &node.chain_id().0);
            answer["exists"] = true.into();
            answer
        }
        // Absent is an answer too, with its proof of absence.
        None => json!({"collection": p.collection, "item": p.item, "exists": false}),
    };
    answer["height"] = proof.height.into();
    answer["proof"] = serde_json::to_value(&proof).map_err(internal)?;
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    collection: Option<u64>,
    /// The cursor of the previous page: `"COLLECTION:ITEM"` with an owner, `"ITEM"` with a
    /// collection.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

fn list_items(node: &dyn NodeApi, p: ListParams) -> Result<Value, ErrorObjectOwned> {
    let limit = p.limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid(format!(
            "limit is 1 to {MAX_PAGE} items, not {limit}"
        )));
    }
    let number = |text: &str| {
        text.parse::<u64>()
            .map_err(|_| invalid(format!("cursor {:?} is not a number", text)))
    };
    let (method, args) = match (&p.owner, p.collection) {
        (Some(owner), None) => {
            let owner = holder(node, owner, "owner")?;
            let after = match p.after.as_deref() {
                None => (0, 0),
                Some(c) => {
                    let (col, item) = c
                        .split_once(':')
                        .ok_or_else(|| invalid(format!("cursor {c:?} is not COLLECTION:ITEM")))?;
                    (number(col)?, number(item)?)
                }
            };
            ("items_of", borsh::to_vec(&(owner, after, limit)))
        }
        (None, Some(collection)) => {
            let after = p.after.as_deref().map(number).transpose()?.unwrap_or(0);
            ("items_in", borsh::to_vec(&(collection, after, limit)))
        }
        _ => {
            return Err(invalid(
                "name either an owner (0x… or did:weft:…) or a collection number",
            ));
        }
    };
    let args = args.map_err(internal)?;
    let outcome = node
        .query(
            ContractId::system("nft"),
            method,
            Box::new(move |_| Ok(args)),
            None,
            Address::default(),
            None,
        )
        .map_err(query_error)?;
    let items: Vec<Item> = borsh::from_slice(&outcome.return_data).map_err(internal)?;
    let chain = node.chain_id().0.clone();
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|last| match p.owner {
            Some(_) => format!("{}:{}", last.collection, last.id),
            None => last.id.to_string(),
        });
    Ok(json!({
        "items": items.iter().map(|i| weft_client::nft::item_to_json(i, &chain)).collect::<Vec<_>>(),
        "next": next,
        "height": outcome.height,
    }))
}

/// Registers the `token_*` and `nft_*` methods.
pub fn register(m: &mut jsonrpsee::RpcModule<Ctx>) {
    const REGISTERED: &str = "each method is registered once";
    m.register_blocking_method("token_getInfo", |params, node, _| {
        let p: TokenParams = parse(&params, "token_getInfo")?;
        if p.holder.is_some() {
            return Err(invalid(
                "token_getInfo takes a token; use token_getBalance for a holder's balance",
            ));
        }
        get_token(&**node, p)
    })
    .expect(REGISTERED);
    m.register_blocking_method("token_getBalance", |params, node, _| {
        let p: TokenParams = parse(&params, "token_getBalance")?;
        if p.holder.is_none() {
            return Err(invalid(
                "token_getBalance needs a holder (0x… or did:weft:…)",
            ));
        }
        get_token(&**node, p)
    })
    .expect(REGISTERED);
    m.register_blocking_method("nft_getItem", |params, node, _| {
        get_item(&**node, parse(&params, "nft_getItem")?)
    })
    .expect(REGISTERED);
    m.register_blocking_method("nft_listItems", |params, node, _| {
        list_items(&**node, parse(&params, "nft_listItems")?)
    })
    .expect(REGISTERED);
}
