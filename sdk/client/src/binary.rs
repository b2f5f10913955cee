//! The binary ingest path: many signed transactions in one HTTP request, borsh both ways.
//!
//! `POST /binary/v1/transactions` on a node's JSON-RPC port, with the body the borsh encoding of a
//! `Vec<Vec<u8>>` (each element one `SignedTransaction`'s borsh encoding) and content type
//! `application/octet-stream`. The node checks the signatures of the whole batch together and
//! answers with the borsh encoding of a `Vec<TxOutcome>`, one per transaction in order. Admission
//! is what the answer reports (as `weft_sendTransaction` with `waitUntil: accepted`); follow
//! commits with `weft_subscribeBlocks` or receipts. A request that is not a batch at all gets
//! HTTP 400 with a plain-text reason; one over the node's request limit, 413.

use borsh::{BorshDeserialize, BorshSerialize};
use weft_types::TxHash;

/// The path of the binary ingest endpoint.
pub const PATH: &str = "/binary/v1/transactions";

/// Most transactions in one request.
pub const MAX_BATCH: usize = 10_000;

/// What became of one transaction of a batch.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxOutcome {
    /// Admitted into the mempool (and on its way to the committee).
    Accepted(TxHash),
    /// Refused: the JSON-RPC error code `weft_sendTransaction` would give, and why.
    Rejected {
        /// The error code (see `docs/json-rpc.md`).
        code: i32,
        /// The reason.
        message: String,
    },
}

/// The request body for `txs`.
pub fn encode_request(txs: &[weft_types::SignedTransaction]) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = txs
        .iter()
        .map(|t| borsh::to_vec(t).expect("borsh encoding into a Vec cannot fail"))
        .collect();
    borsh::to_vec(&encoded).expect("borsh encoding into a Vec cannot fail")
}

#[cfg(feature = "transport")]
pub use sender::BinarySender;

#[cfg(feature = "transport")]
mod sender {
    use super::*;
    use crate::{Error, Result};
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    /// Sends batches to one node's binary ingest endpoint over a kept-alive HTTP/1.1 connection
    /// pool. Cheap to clone.
    #[derive(Clone)]
    pub struct BinarySender {
        url: hyper::Uri,
        client: hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            Full<Bytes>,
        >,
    }

    impl BinarySender {
        /// A sender to the node whose JSON-RPC URL is `url` (`http://` or `ws://`, host and
        /// port).
        pub fn new(url: &str) -> Result<Self> {
            let base = url
                .trim_end_matches('/')
                .replacen("ws://", "http://", 1)
                .replacen("wss://", "https://", 1);
            let url: hyper::Uri = format!("{base}{PATH}")
                .parse()
                .map_err(|e| Error::Connect {
                    url: url.into(),
                    reason: format!("not an http:// or ws:// URL: {e}"),
                })?;
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http();
            Ok(Self { url, client })
        }

        /// Sends `txs` in one request; one outcome per transaction, in order.
        pub async fn send(&self, txs: &[weft_types::SignedTransaction]) -> Result<Vec<TxOutcome>> {
            let transport = |reason: String| Error::Transport {
                method: PATH.into(),
                reason,
            };
            let request = hyper::Request::post(self.url.clone())
                .header("content-type", "application/octet-stream")
                .body(Full::new(Bytes::from(encode_request(txs))))
                .map_err(|e| Error::Encode(e.to_string()))?;
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(Error::Protocol {
                    method: PATH.into(),
                    reason: format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim()),
                });
            }
            let outcomes: Vec<TxOutcome> =
                borsh::from_slice(&body).map_err(|e| Error::Protocol {
                    method: PATH.into(),
                    reason: format!("not a borsh Vec<TxOutcome>: {e}"),
                })?;
            if outcomes.len() != txs.len() {
                return Err(Error::Protocol {
                    method: PATH.into(),
                    reason: format!("{} outcomes for {} transactions", outcomes.len(), txs.len()),
                });
            }
            Ok(outcomes)
        }
    }
}
