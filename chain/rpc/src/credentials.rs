//! Verifiable credentials on the JSON-RPC port: the W3C VC API's verifier endpoints, the status
//! lists that credentials name, and JSON-RPC methods for status lists and the trust registry.
//!
//! HTTP routes:
//! - `POST /credentials/verify`, `POST /presentations/verify`: `weft_credentials::vcapi`, reading
//!   DIDs, status and accreditations from this node's state at its head;
//! - `POST /challenges`: a single-use challenge for a presentation, valid for 5 minutes;
//! - `GET /status/{issuer DID}/{list}`: the issuer-signed `BitstringStatusListCredential` of an
//!   on-chain list, exactly as the issuer published it with its last change.
//!
//! JSON-RPC: `status_getList`, `status_getEntry`, `trust_getAccreditations`, `trust_getChain`.
//! A client that must not trust this node reads the same storage entries with proofs
//! (`weft_getStates`) and runs the same code (`weft_credentials::chain::ChainLookup`).

use crate::params::{Ctx, codes, error, parse};
use crate::route::{BoxFuture, Route, RouteLayer};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use weft_api::NodeApi;
use weft_credentials::ChallengeStore;
use weft_credentials::chain::{ChainLookup, ReadError, StateRead};
use weft_credentials::vcapi::{self, Answer};
use weft_types::ContractId;
use weft_types::did::{Did, DidId};
use weft_types::status::{self, Published, StatusList};
use weft_types::trust::{self, Accreditation};

/// How long a challenge from `POST /challenges` stays valid, in seconds.
pub const CHALLENGE_TTL: u64 = 300;

/// Reads this node's state at one height (its own state: no proofs needed), remembering what it
/// read when asked to.
pub struct NodeRead<'a> {
    node: &'a dyn NodeApi,
    height: u64,
    log: Option<std::sync::Mutex<Vec<weft_client::json::StateRead>>>,
}

impl<'a> NodeRead<'a> {
    /// Reads at the head.
    pub fn at_head(node: &'a dyn NodeApi) -> Self {
        Self {
            height: node.head().height,
            node,
            log: None,
        }
    }

    /// Reads at `height`, remembering every key read.
    pub fn recording(node: &'a dyn NodeApi, height: u64) -> Self {
        Self {
            height,
            node,
            log: Some(Default::default()),
        }
    }

    /// The keys read, in order, without repeats.
    pub fn read_keys(&self) -> Vec<weft_client::json::StateRead> {
        let mut out: Vec<weft_client::json::StateRead> = Vec::new();
        for r in self
            .log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
        {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

impl StateRead for NodeRead<'_> {
    fn read(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        if let Some(log) = &self.log {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(weft_client::json::StateRead {
                    contract: *contract,
                    key: key.to_vec(),
                });
        }
        self.node
            .storage(contract, key, Some(self.height))
            .map(|state| state.proof.value)
            .map_err(|e| ReadError::Failed(e.to_string()))
    }

    fn source(&self) -> String {
        format!("this node's state at height {}", self.height)
    }
}

/// A lookup over `node`'s head state.
pub fn lookup(node: &dyn NodeApi) -> ChainLookup<NodeRead<'_>> {
    ChainLookup::new(node.chain_id().0.clone(), NodeRead::at_head(node))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The HTTP routes of this module.
#[derive(Clone)]
pub struct CredentialRoutes {
    challenges: Arc<ChallengeStore>,
    max_bytes: usize,
}

/// Path prefix of status lists.
pub const STATUS_PATH: &str = "/status/";

/// The layer serving the VC API and status lists for `node`, with bodies up to `max_bytes`.
pub fn layer(node: Ctx, max_bytes: usize) -> RouteLayer<CredentialRoutes> {
    RouteLayer::new(
        node,
        CredentialRoutes {
            challenges: Arc::new(ChallengeStore::default()),
            max_bytes,
        },
    )
}

fn respond(answer: &Answer) -> HttpResponse {
    http::Response::builder()
        .status(answer.status)
        .header("content-type", answer.media_type())
        .body(HttpBody::from(
            serde_json::to_vec_pretty(&answer.body).unwrap_or_default(),
        ))
        .expect("a valid response")
}

fn method_not_allowed(allow: &'static str, usage: &str) -> HttpResponse {
    let mut response = respond(&vcapi::problem(
        405,
        "PARSING_ERROR",
        "Method not allowed",
        usage,
    ));
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    response
}

impl Route for CredentialRoutes {
    fn matches(&self, path: &str) -> bool {
        matches!(
            path,
            "/credentials/verify" | "/presentations/verify" | "/challenges"
        ) || path.starts_with(STATUS_PATH)
    }

    fn handle(&self, node: Ctx, request: HttpRequest) -> BoxFuture<HttpResponse> {
        let routes = self.clone();
        Box::pin(async move {
            let path = request.uri().path().to_string();
            if path.starts_with(STATUS_PATH) {
                if request.method() != http::Method::GET {
                    return method_not_allowed("GET", "GET /status/{issuer DID}/{list number}");
                }
                return tokio::task::spawn_blocking(move || status_list(&*node, &path))
                    .await
                    .unwrap_or_else(|e| internal_error(e.to_string()));
            }
            if request.method() != http::Method::POST {
                return method_not_allowed("POST", &format!("{path} takes POST with a JSON body"));
            }
            if path == "/challenges" {
                return respond(&vcapi::challenge(&routes.challenges, now(), CHALLENGE_TTL));
            }
            let body = match read_body(request, routes.max_bytes).await {
                Ok(body) => body,
                Err(response) => return response,
            };
            let challenges = routes.challenges.clone();
            tokio::task::spawn_blocking(move || {
                let lookup = lookup(&*node);
                let answer = if path == "/credentials/verify" {
                    vcapi::verify_credential(&body, &lookup, now())
                } else {
                    vcapi::verify_presentation(&body, &lookup, &*challenges, now())
                };
                respond(&answer)
            })
            .await
            .unwrap_or_else(|e| internal_error(e.to_string()))
        })
    }
}

fn internal_error(detail: String) -> HttpResponse {
    respond(&vcapi::problem(
        500,
        "INTERNAL_ERROR",
        "Internal error",
        detail,
    ))
}

async fn read_body(request: HttpRequest, max: usize) -> Result<Vec<u8>, HttpResponse> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(request.into_body(), max)
        .collect()
        .await
    {
        Ok(body) => Ok(body.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(respond(&vcapi::problem(
            413,
            "PARSING_ERROR",
            "Payload too large",
            format!("the request body is over the limit of {max} bytes"),
        ))),
        Err(e) => Err(respond(&vcapi::problem(
            400,
            "PARSING_ERROR",
            "Unreadable body",
            format!("cannot read the request body: {e}"),
        ))),
    }
}

/// `GET /status/{did}/{list}`.
fn status_list(node: &dyn NodeApi, path: &str) -> HttpResponse {
    let not_found = |detail: String| {
        respond(&vcapi::problem(
            404,
            "NOT_FOUND",
            "No such status list",
            detail,
        ))
    };
    let rest = &path[STATUS_PATH.len()..];
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .map(|d| d.into_owned())
        .unwrap_or_default();
    let Some((did, list)) = decoded.rsplit_once('/') else {
        return not_found(format!(
            "{path}: expected /status/{{issuer DID}}/{{list number}}"
        ));
    };
    let (Ok(parsed), Ok(list)) = (did.parse::<Did>(), list.parse::<u32>()) else {
        return not_found(format!(
            "{path}: expected /status/{{issuer did:weft DID}}/{{list number}}"
        ));
    };
    if parsed.chain != node.chain_id().0 {
        return not_found(format!("{did} is not a DID of chain {}", node.chain_id().0));
    }
    let read = node.storage(
        &ContractId::system("status"),
        &status::storage::published_key(&parsed.id, list),
        None,
    );
    let published = match read.map(|s| s.proof.value) {
        Ok(Some(bytes)) => match borsh::from_slice::<Published>(&bytes) {
            Ok(p) => p,
            Err(e) => {
                return internal_error(format!("the published credential does not decode: {e}"));
            }
        },
        Ok(None) => return not_found(format!("{did} has no status list {list}")),
        Err(e) => return internal_error(e.to_string()),
    };
    http::Response::builder()
        .status(200)
        .header("content-type", published.media_type)
        .header("cache-control", "no-cache")
        .body(HttpBody::from(published.credential))
        .expect("a valid response")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    issuer: String,
    list: u32,
    index: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccreditationParams {
    subject: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChainParams {
    issuer: String,
    #[serde(rename = "type")]
    credential_type: String,
    roots: Vec<String>,
    at: Option<String>,
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

fn our_did(node: &dyn NodeApi, did: &str) -> Result<DidId, ErrorObjectOwned> {
    let parsed: Did = did.parse().map_err(|e| invalid(format!("{did}: {e}")))?;
    if parsed.chain != node.chain_id().0 {
        return Err(invalid(format!(
            "{did} belongs to chain {}; this node serves {}",
            parsed.chain,
            node.chain_id().0
        )));
    }
    Ok(parsed.id)
}

fn read<T: borsh::BorshDeserialize>(
    node: &dyn NodeApi,
    contract: &str,
    key: &[u8],
) -> Result<Option<T>, ErrorObjectOwned> {
    let value = node
        .storage(&ContractId::system(contract), key, None)
        .map_err(|e| error(codes::INTERNAL, e.to_string()))?
        .proof
        .value;
    value
        .map(|bytes| borsh::from_slice(&bytes).map_err(|e| error(codes::INTERNAL, e.to_string())))
        .transpose()
}

fn list_json(record: &StatusList) -> Value {
    json!({
        "purpose": record.spec.purpose.as_str(),
        "entries": record.spec.entries,
        "statusSize": record.spec.status_size,
        "messages": record.spec.messages,
        "allocated": record.allocated,
        "version": record.version,
        "createdHeight": record.created_height,
        "updatedHeight": record.updated_height,
        "updated": weft_did::format_time(record.updated_ms),
    })
}

/// `status_getList` (and, with `index`, `status_getEntry`).
fn get_list(node: &dyn NodeApi, p: ListParams) -> Result<Value, ErrorObjectOwned> {
    let issuer = our_did(node, &p.issuer)?;
    let Some(record) =
        read::<StatusList>(node, "status", &status::storage::list_key(&issuer, p.list))?
    else {
        return Ok(Value::Null);
    };
    let Some(index) = p.index else {
        return Ok(list_json(&record));
    };
    if index >= record.spec.entries {
        return Err(invalid(format!(
            "index {index} is outside the list's {} entries",
            record.spec.entries
        )));
    }
    let lookup = lookup(node);
    let entry = weft_credentials::bitstring::StatusEntry {
        purpose: record.spec.purpose.as_str().into(),
        index: u64::from(index),
        list_url: weft_credentials::bitstring::list_url("", &p.issuer, p.list),
        size: record.spec.status_size,
        messages: Vec::new(),
    };
    use weft_credentials::Lookup;
    match lookup.status(&entry, &p.issuer) {
        Ok(weft_credentials::verify::StatusEvidence::Value { value, .. }) => Ok(json!({
            "purpose": record.spec.purpose.as_str(),
            "index": index,
            "value": value,
            "allocated": index < record.allocated,
            "message": record.spec.messages.get(usize::from(value)),
            "version": record.version,
        })),
        Ok(_) => Err(error(codes::INTERNAL, "unexpected status evidence")),
        Err((code, detail)) => Err(error(
            codes::INTERNAL,
            format!("{}: {detail}", code.as_str()),
        )),
    }
}

fn accreditation_json(chain: &str, a: &Accreditation) -> Value {
    json!({
        "authority": Did::new(chain, a.authority).to_string(),
        "subject": Did::new(chain, a.subject).to_string(),
        "types": a.types,
        "mayAccredit": a.may_accredit,
        "validFrom": weft_did::format_time(a.valid_from_ms),
        "validUntil": a.valid_until_ms.map(weft_did::format_time),
        "revoked": a.revoked_ms.map(weft_did::format_time),
        "height": a.height,
        "number": a.number,
    })
}

/// `trust_getAccreditations`: every accreditation of a subject.
fn get_accreditations(
    node: &dyn NodeApi,
    p: AccreditationParams,
) -> Result<Value, ErrorObjectOwned> {
    let subject = our_did(node, &p.subject)?;
    let chain = node.chain_id().0.clone();
    let authorities: Vec<DidId> =
        read(node, "trust", &trust::storage::accreditors_key(&subject))?.unwrap_or_default();
    let mut out = Vec::new();
    for authority in authorities {
        if let Some(a) = read::<Accreditation>(
            node,
            "trust",
            &trust::storage::accreditation_key(&subject, &authority),
        )? {
            out.push(accreditation_json(&chain, &a));
        }
    }
    Ok(Value::Array(out))
}

/// `trust_getChain`: the accreditations from an issuer to one of `roots` for a type, at a time.
fn get_chain(node: &dyn NodeApi, p: ChainParams) -> Result<Value, ErrorObjectOwned> {
    let now_ms = match &p.at {
        Some(at) => weft_did::parse_time(at).map_err(invalid)?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    if p.roots.is_empty() {
        return Err(invalid("name at least one root DID you trust"));
    }
    let chain = node.chain_id().0.clone();
    // At the latest anchored height, so the links come with proofs a client can check.
    let (height, _) = crate::did::anchored(node);
    let lookup = ChainLookup::new(chain.clone(), NodeRead::recording(node, height));
    match weft_credentials::verify::walk(&lookup, &p.issuer, &p.credential_type, &p.roots, now_ms) {
        Ok(links) => {
            let reads = lookup.reader().read_keys();
            let proof = if reads.is_empty() {
                Value::Null
            } else {
                serde_json::to_value(crate::chain::prove(node, &reads, Some(height))?)
                    .map_err(|e| error(codes::INTERNAL, e.to_string()))?
            };
            Ok(json!({
                "accredited": true,
                "height": height,
                "chain": links.iter().map(|(a, _)| accreditation_json(&chain, a)).collect::<Vec<_>>(),
                "proof": proof,
            }))
        }
        Err(reason) => Ok(json!({"accredited": false, "height": height, "reason": reason})),
    }
}

/// Registers the `status_*` and `trust_*` methods.
pub fn register(m: &mut jsonrpsee::RpcModule<Ctx>) {
    const REGISTERED: &str = "each method is registered once";
    m.register_blocking_method("status_getList", |params, node, _| {
        let p: ListParams = parse(&params, "status_getList")?;
        if p.index.is_some() {
            return Err(invalid(
                "status_getList takes issuer and list; use status_getEntry for an index",
            ));
        }
        get_list(&**node, p)
    })
    .expect(REGISTERED);
    m.register_blocking_method("status_getEntry", |params, node, _| {
        let p: ListParams = parse(&params, "status_getEntry")?;
        if p.index.is_none() {
            return Err(invalid("status_getEntry needs an index"));
        }
        get_list(&**node, p)
    })
    .expect(REGISTERED);
    m.register_blocking_method("trust_getAccreditations", |params, node, _| {
        get_accreditations(&**node, parse(&params, "trust_getAccreditations")?)
    })
    .expect(REGISTERED);
    m.register_blocking_method("trust_getChain", |params, node, _| {
        get_chain(&**node, parse(&params, "trust_getChain")?)
    })
    .expect(REGISTERED);
}
