//! The binary ingest path on the JSON-RPC port: `POST /binary/v1/transactions` with the borsh
//! encoding of a `Vec<Vec<u8>>` of signed transactions, answered with the borsh encoding of one
//! [`TxOutcome`] per transaction (`weft_client::binary` has the format and a sender).
//!
//! It is an HTTP layer in front of jsonrpsee: every other request goes on to JSON-RPC. Decoding,
//! the batch signature check and admission run on a blocking thread, off the async runtime, and
//! at most one batch per core at a time: without that bound an overloaded node ran a thread per
//! waiting request, the thread that executes and commits blocks got a sliver of the CPU, and the
//! node committed less the more it was offered. Waiting requests hold their connection, which is
//! the client's backpressure.

use crate::chain::submit_error;
use crate::params::Ctx;
use crate::route::{BoxFuture, Route, RouteLayer};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::sync::Arc;
use tokio::sync::Semaphore;
use weft_client::binary::{MAX_BATCH, PATH, TxOutcome};

/// The route of [`PATH`].
#[derive(Clone)]
pub struct BinaryRoute {
    max_bytes: usize,
    admitting: Arc<Semaphore>,
}

/// The layer that serves [`PATH`] for `node`, taking request bodies up to `max_bytes`, and passes
/// everything else on.
pub fn layer(node: Ctx, max_bytes: usize) -> RouteLayer<BinaryRoute> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    RouteLayer::new(
        node,
        BinaryRoute {
            max_bytes,
            admitting: Arc::new(Semaphore::new(cores)),
        },
    )
}

impl Route for BinaryRoute {
    fn matches(&self, path: &str) -> bool {
        path == PATH
    }

    fn handle(&self, node: Ctx, request: HttpRequest) -> BoxFuture<HttpResponse> {
        Box::pin(ingest(
            node,
            request,
            self.max_bytes,
            self.admitting.clone(),
        ))
    }
}

fn plain(status: u16, text: String) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(HttpBody::from(text + "\n"))
        .expect("a valid response")
}

async fn ingest(
    node: Ctx,
    request: HttpRequest,
    max: usize,
    admitting: Arc<Semaphore>,
) -> HttpResponse {
    use http_body_util::BodyExt;
    if request.method() != http::Method::POST {
        let mut response = plain(
            405,
            format!(
                "{PATH} takes POST with the borsh encoding of a Vec<Vec<u8>> of signed transactions"
            ),
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let body = match http_body_util::Limited::new(request.into_body(), max)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return plain(
                413,
                format!("the request body is over the limit of {max} bytes"),
            );
        }
        Err(e) => return plain(400, format!("cannot read the request body: {e}")),
    };
    let txs: Vec<Vec<u8>> = match borsh::from_slice(&body) {
        Ok(txs) => txs,
        Err(e) => {
            return plain(
                400,
                format!(
                    "the body is not the borsh encoding of a Vec<Vec<u8>> (one SignedTransaction's borsh bytes each): {e}"
                ),
            );
        }
    };
    if txs.len() > MAX_BATCH {
        return plain(
            413,
            format!(
                "{} transactions in one request; at most {MAX_BATCH}",
                txs.len()
            ),
        );
    }
    let permit = admitting
        .acquire_owned()
        .await
        .expect("the admission semaphore is never closed");
    let outcomes = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        node.submit_many(&txs)
            .into_iter()
            .map(|result| match result {
                Ok(hash) => TxOutcome::Accepted(hash),
                Err(e) => {
                    let e = submit_error(e);
                    TxOutcome::Rejected {
                        code: e.code(),
                        message: e.message().to_string(),
                    }
                }
            })
            .collect::<Vec<_>>()
    })
    .await;
    match outcomes {
        Ok(outcomes) => http::Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(HttpBody::from(
                borsh::to_vec(&outcomes).expect("borsh encoding into a Vec cannot fail"),
            ))
            .expect("a valid response"),
        Err(e) => plain(500, format!("admitting the batch failed: {e}")),
    }
}
