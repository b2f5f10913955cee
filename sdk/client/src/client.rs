//! [`Client`]: Weft's JSON-RPC API over HTTP or WebSocket (jsonrpsee).

use crate::json::{
    AccountInfo, BlockHeaderJson, BlockJson, CallRequest, CallResult, ChainInfo, ContractInfo,
    EventFilter, EventNotification, ReceiptJson, SendOptions, SendResult, StateResult, TxLookup,
    WaitUntil, hex_bytes,
};
use crate::json::{AnchorJson, TangleBlockJson, TipJson};
use crate::{Error, Result};
use jsonrpsee_core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee_core::traits::ToRpcParams;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee_ws_client::{WsClient, WsClientBuilder};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;
use weft_types::{Address, ContractId, SignedTransaction, TangleBlockId, TxHash};

/// Largest request or response the client handles (a deploy of a 1 MiB contract in hex fits).
const MAX_MESSAGE: u32 = 16 * 1024 * 1024;

/// JSON parameters for jsonrpsee.
struct Params(Value);

impl ToRpcParams for Params {
    fn to_rpc_params(
        self,
    ) -> std::result::Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.0).map(Some)
    }
}

enum Transport {
    Http(HttpClient),
    Ws(WsClient),
}

/// A connection to a Weft node. `http://` URLs make one HTTP request per call; `ws://` URLs keep
/// a WebSocket open and also allow subscriptions.
pub struct Client {
    transport: Transport,
    url: String,
}

impl Client {
    /// Connects to `url` (`http://host:port` or `ws://host:port`), waiting at most `timeout` for
    /// each request.
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self> {
        let transport = if url.starts_with("ws://") || url.starts_with("wss://") {
            Transport::Ws(
                WsClientBuilder::default()
                    .max_request_size(MAX_MESSAGE)
                    .max_response_size(MAX_MESSAGE)
                    .request_timeout(timeout)
                    .build(url)
                    .await
                    .map_err(|e| Error::Connect {
                        url: url.into(),
                        reason: e.to_string(),
                    })?,
            )
        } else if url.starts_with("http://") || url.starts_with("https://") {
            Transport::Http(
                HttpClientBuilder::default()
                    .max_request_size(MAX_MESSAGE)
                    .max_response_size(MAX_MESSAGE)
                    .request_timeout(timeout)
                    .build(url)
                    .map_err(|e| Error::Connect {
                        url: url.into(),
                        reason: e.to_string(),
                    })?,
            )
        } else {
            return Err(Error::Connect {
                url: url.into(),
                reason: "the URL must start with http://, https://, ws:// or wss://".into(),
            });
        };
        Ok(Self {
            transport,
            url: url.to_string(),
        })
    }

    /// Connects to `url` with a 60 s request timeout.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_timeout(url, Duration::from_secs(60)).await
    }

    /// The URL this client talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Any method, with JSON parameters (an array or an object).
    pub async fn request<R: DeserializeOwned>(&self, method: &str, params: Value) -> Result<R> {
        let result = match &self.transport {
            Transport::Http(c) => c.request(method, Params(params)).await,
            Transport::Ws(c) => c.request(method, Params(params)).await,
        };
        result.map_err(|e| Error::from_rpc(method, e))
    }

    /// `weft_chainInfo`.
    pub async fn chain_info(&self) -> Result<ChainInfo> {
        self.request("weft_chainInfo", json!([])).await
    }

    /// `weft_getAccount`: committed and next free nonce of `address`.
    pub async fn account(&self, address: &Address) -> Result<AccountInfo> {
        self.request("weft_getAccount", json!([address.to_hex()]))
            .await
    }

    /// `weft_sendTransaction`.
    pub async fn send(&self, tx: &SignedTransaction, wait_until: WaitUntil) -> Result<SendResult> {
        let bytes = borsh::to_vec(tx).map_err(|e| Error::Encode(e.to_string()))?;
        let options = SendOptions {
            wait_until,
            timeout_ms: None,
        };
        self.request(
            "weft_sendTransaction",
            json!([hex_bytes::encode(&bytes), options]),
        )
        .await
    }

    /// Sends several transactions in one JSON-RPC batch (one request, one response): cheaper per
    /// transaction for bulk senders. Each gets its own result, in order. The node answers batch
    /// entries one after another, so use [`WaitUntil::Accepted`] here: with `Committed`, each
    /// entry would wait for its own block before the next is even admitted.
    pub async fn send_batch(
        &self,
        txs: &[SignedTransaction],
        wait_until: WaitUntil,
    ) -> Result<Vec<Result<SendResult>>> {
        const METHOD: &str = "weft_sendTransaction";
        let options = SendOptions {
            wait_until,
            timeout_ms: None,
        };
        let mut batch = jsonrpsee_core::params::BatchRequestBuilder::new();
        for tx in txs {
            let bytes = borsh::to_vec(tx).map_err(|e| Error::Encode(e.to_string()))?;
            batch
                .insert(METHOD, Params(json!([hex_bytes::encode(&bytes), options])))
                .map_err(|e| Error::Encode(e.to_string()))?;
        }
        let response = match &self.transport {
            Transport::Http(c) => c.batch_request::<SendResult>(batch).await,
            Transport::Ws(c) => c.batch_request::<SendResult>(batch).await,
        }
        .map_err(|e| Error::from_rpc(METHOD, e))?;
        Ok(response
            .into_iter()
            .map(|entry| {
                entry.map_err(|e| Error::Rpc {
                    method: METHOD.into(),
                    code: e.code(),
                    message: e.message().to_string(),
                    data: e.data().and_then(|d| serde_json::from_str(d.get()).ok()),
                })
            })
            .collect())
    }

    /// Sends and waits until committed; returns the receipt.
    pub async fn send_and_wait(&self, tx: &SignedTransaction) -> Result<ReceiptJson> {
        let result = self.send(tx, WaitUntil::Committed).await?;
        result.receipt.ok_or_else(|| Error::Protocol {
            method: "weft_sendTransaction".into(),
            reason: "the node answered `committed` without a receipt".into(),
        })
    }

    /// `weft_getTransaction`; `None` when the node knows nothing of it.
    pub async fn transaction(&self, hash: &TxHash) -> Result<Option<TxLookup>> {
        self.request("weft_getTransaction", json!([hash.to_hex()]))
            .await
    }

    /// `weft_getReceipt`; `None` until the transaction is committed.
    pub async fn receipt(&self, hash: &TxHash) -> Result<Option<ReceiptJson>> {
        self.request("weft_getReceipt", json!([hash.to_hex()]))
            .await
    }

    /// `weft_getBlock` at `height` (latest when `None`), with full transactions if `full`.
    pub async fn block(&self, height: Option<u64>, full: bool) -> Result<Option<BlockJson>> {
        let at = height.map_or(json!("latest"), |h| json!(h));
        self.request("weft_getBlock", json!([at, full])).await
    }

    /// `weft_getContract`.
    pub async fn contract(&self, id: &ContractId) -> Result<ContractInfo> {
        self.request("weft_getContract", json!([id.to_hex()])).await
    }

    /// `weft_call` with JSON arguments typed by the contract's ABI (an array in order or an
    /// object by name).
    pub async fn call_json(
        &self,
        contract: &ContractId,
        method: &str,
        args: Value,
    ) -> Result<CallResult> {
        self.call(CallRequest {
            contract: contract.to_hex(),
            method: method.into(),
            args: Some(args),
            ..CallRequest::default()
        })
        .await
    }

    /// `weft_call` with borsh arguments.
    pub async fn call_borsh(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
    ) -> Result<CallResult> {
        self.call(CallRequest {
            contract: contract.to_hex(),
            method: method.into(),
            args_hex: Some(hex_bytes::encode(args)),
            ..CallRequest::default()
        })
        .await
    }

    /// `weft_call` with every option.
    pub async fn call(&self, request: CallRequest) -> Result<CallResult> {
        let params = serde_json::to_value(&request).map_err(|e| Error::Encode(e.to_string()))?;
        self.request("weft_call", params).await
    }

    /// `weft_getState`: a contract's storage value with its proof, at `height` (latest when
    /// `None`). Check it with [`crate::verify_state`].
    pub async fn state(
        &self,
        contract: &ContractId,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<StateResult> {
        let mut params = json!({"contract": contract.to_hex(), "key": hex_bytes::encode(key)});
        if let Some(h) = height {
            params["height"] = json!(h);
        }
        self.request("weft_getState", params).await
    }

    /// `weft_getStates`: many storage values with their proofs at one height (the latest
    /// anchored one when `None`) and that height's anchor.
    pub async fn states(
        &self,
        reads: &[crate::json::StateRead],
        height: Option<u64>,
    ) -> Result<crate::json::StatesResult> {
        let mut params = json!({ "reads": reads });
        if let Some(h) = height {
            params["height"] = json!(h);
        }
        self.request("weft_getStates", params).await
    }

    /// `did_resolve`: the DID Resolution result of `did` with the proof it rests on. Trust it
    /// only after [`crate::did::verify_resolution`], or use [`Client::resolve_did_verified`].
    pub async fn resolve_did(
        &self,
        did: &str,
        options: &crate::did::ResolveOptions,
    ) -> Result<crate::did::DidResolution> {
        self.request("did_resolve", json!({"did": did, "options": options}))
            .await
    }

    /// Resolves `did` and verifies the answer against `committee` (from the chain's genesis
    /// file, not from the node): returns the result computed from the proven state.
    ///
    /// ```no_run
    /// # async fn example(committee: weft_types::Committee) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = weft_client::Client::connect("http://127.0.0.1:8545").await?;
    /// let did = "did:weft:weft-devnet:8f1c0b9d3a4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff";
    /// let result = client
    ///     .resolve_did_verified(did, &Default::default(), "weft-devnet", &committee)
    ///     .await?;
    /// println!("{}", serde_json::to_string_pretty(&result.did_document)?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resolve_did_verified(
        &self,
        did: &str,
        options: &crate::did::ResolveOptions,
        chain: &str,
        committee: &weft_types::Committee,
    ) -> std::result::Result<weft_did::ResolutionResult, crate::did::ResolveError> {
        // A did:key is its own document: nothing to ask a node or to trust it for.
        if did.starts_with("did:key:") {
            return Ok(weft_did::resolve_did_key(did));
        }
        let answer = self.resolve_did(did, options).await?;
        Ok(crate::did::verify_resolution(
            &answer, did, options, chain, committee,
        )?)
    }

    /// Resolves `did` and verifies the answer with `verifier`, which remembers the anchors it
    /// has checked (the fast way to resolve many DIDs).
    pub async fn resolve_did_with(
        &self,
        did: &str,
        options: &crate::did::ResolveOptions,
        verifier: &crate::did::DidVerifier,
    ) -> std::result::Result<weft_did::ResolutionResult, crate::did::ResolveError> {
        if did.starts_with("did:key:") {
            return Ok(weft_did::resolve_did_key(did));
        }
        let answer = self.resolve_did(did, options).await?;
        Ok(verifier.verify(&answer, did, options)?)
    }

    /// `tangle_latestAnchor`: the chain's latest anchor on the Tangle.
    pub async fn latest_anchor(&self, chain: &str) -> Result<Option<AnchorJson>> {
        self.request("tangle_latestAnchor", json!([chain])).await
    }

    /// `tangle_getAnchors`: the chain's anchors from `from`, at most `limit`.
    pub async fn anchors(&self, chain: &str, from: u64, limit: usize) -> Result<Vec<AnchorJson>> {
        self.request("tangle_getAnchors", json!([chain, from, limit]))
            .await
    }

    /// `tangle_getBlock`: a Tangle block with its metadata.
    pub async fn tangle_block(&self, id: &TangleBlockId) -> Result<Option<TangleBlockJson>> {
        self.request("tangle_getBlock", json!([id.to_hex()])).await
    }

    /// `tangle_tips`: the tip pool.
    pub async fn tips(&self) -> Result<Vec<TipJson>> {
        self.request("tangle_tips", json!([])).await
    }

    /// `tangle_submitData`: posts `data` to the Tangle; returns the block id.
    pub async fn submit_data(&self, data: &[u8], tag: &str) -> Result<TangleBlockId> {
        #[derive(serde::Deserialize)]
        struct Submitted {
            #[serde(with = "crate::json::hex_id")]
            id: TangleBlockId,
        }
        let out: Submitted = self
            .request("tangle_submitData", json!([hex_bytes::encode(data), tag]))
            .await?;
        Ok(out.id)
    }

    /// `tangle_subscribeAnchors`: anchors of `chain` as they are applied and confirmed.
    pub async fn subscribe_anchors(&self, chain: &str) -> Result<Subscription<AnchorJson>> {
        self.ws("subscribing to anchors")?
            .subscribe(
                "tangle_subscribeAnchors",
                Params(json!([chain])),
                "tangle_unsubscribeAnchors",
            )
            .await
            .map_err(|e| Error::from_rpc("tangle_subscribeAnchors", e))
    }

    fn ws(&self, what: &str) -> Result<&WsClient> {
        match &self.transport {
            Transport::Ws(c) => Ok(c),
            Transport::Http(_) => Err(Error::Connect {
                url: self.url.clone(),
                reason: format!("{what} needs a WebSocket connection (a ws:// URL)"),
            }),
        }
    }

    /// `weft_subscribeBlocks`: every new block header.
    pub async fn subscribe_blocks(&self) -> Result<Subscription<BlockHeaderJson>> {
        self.ws("subscribing to blocks")?
            .subscribe(
                "weft_subscribeBlocks",
                Params(json!([])),
                "weft_unsubscribeBlocks",
            )
            .await
            .map_err(|e| Error::from_rpc("weft_subscribeBlocks", e))
    }

    /// `weft_subscribeEvents`: events that match `filter`, as blocks commit.
    pub async fn subscribe_events(
        &self,
        filter: &EventFilter,
    ) -> Result<Subscription<EventNotification>> {
        self.ws("subscribing to events")?
            .subscribe(
                "weft_subscribeEvents",
                Params(json!([filter])),
                "weft_unsubscribeEvents",
            )
            .await
            .map_err(|e| Error::from_rpc("weft_subscribeEvents", e))
    }
}
