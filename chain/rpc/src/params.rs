//! What every method shares: Weft's error codes ([`codes`]), the method list with parameter
//! names ([`METHODS`], also the OpenRPC document), error constructors, and [`parse`], which takes
//! parameters by position or by name.

use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use weft_api::NodeApi;

/// What every method runs against: the node behind its interface.
pub type Ctx = Arc<dyn NodeApi>;

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
        name: "weft_getStates",
        params: &["reads", "height?"],
        summary: "Up to 256 contract storage values ({contract, key}) with their JMT proofs at one height (by default the latest anchored one), and that height's anchor.",
    },
    MethodDoc {
        name: "did_resolve",
        params: &["did", "options?"],
        summary: "W3C DID Resolution of a did:weft DID (options.versionId or options.versionTime), with the state proofs and the anchor it rests on; did:key is expanded locally.",
    },
    MethodDoc {
        name: "status_getList",
        params: &["issuer", "list"],
        summary: "A status list of an issuer DID: purpose, entries, statusSize, messages, allocated indexes and version; null if none.",
    },
    MethodDoc {
        name: "status_getEntry",
        params: &["issuer", "list", "index"],
        summary: "One entry's value (and message) of a status list.",
    },
    MethodDoc {
        name: "trust_getAccreditations",
        params: &["subject"],
        summary: "Every accreditation of a DID, by every authority: types, mayAccredit, validity and revocation.",
    },
    MethodDoc {
        name: "trust_getChain",
        params: &["issuer", "type", "roots", "at?"],
        summary: "The chain of accreditations from an issuer DID to one of the given roots for a credential type (at a time, by default now), or why there is none.",
    },
    MethodDoc {
        name: "policy_decide",
        params: &[
            "device",
            "action",
            "subject",
            "credentials?",
            "trustedRoots?",
        ],
        summary: "Whether a subject DID may perform an action on a device DID: the device's policy decided on the credentials that verify (grant, deny, undefined or conflict; only grant permits), with obligations and the policy's proof at the latest anchored height.",
    },
    MethodDoc {
        name: "token_getInfo",
        params: &["token"],
        summary: "A token: name, symbol, decimals, supply and maximum supply (decimal strings of base units), owner, pause and freeze terms, metadata; read at the latest anchored height with its proof.",
    },
    MethodDoc {
        name: "token_getBalance",
        params: &["token", "holder"],
        summary: "A holder's balance of a token (a decimal string of base units, and formatted with the token's decimals) and whether it is frozen, at the latest anchored height with the proof of the token, the balance and the freeze entries.",
    },
    MethodDoc {
        name: "nft_getItem",
        params: &["collection", "item"],
        summary: "An NFT item: owner, approval, soulbound, IRC27-style metadata, at the latest anchored height with its proof (or exists: false with the proof of absence).",
    },
    MethodDoc {
        name: "nft_listItems",
        params: &["owner?", "collection?", "after?", "limit?"],
        summary: "A page of items of an owner (cursor COLLECTION:ITEM) or of a collection (cursor ITEM), at most 100, with the next page's cursor.",
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

/// An error object with `code` and `message`.
pub fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(code, message.into(), None)
}

/// An error object with `code`, `message` and `data`.
pub fn error_with(code: i32, message: impl Into<String>, data: Value) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), Some(data))
}

/// An internal error (-32603) saying what failed.
pub fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    error(codes::INTERNAL, format!("internal error: {e}"))
}

/// Parses positional or named parameters of `method` into `T`.
pub fn parse<T: DeserializeOwned>(
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

/// A method without parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

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
