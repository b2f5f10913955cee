//! DID resolution: `did_resolve` over JSON-RPC and the Universal Resolver driver interface
//! (`GET /1.0/identifiers/{did}`) over HTTP, on the JSON-RPC port.
//!
//! `did:weft` DIDs of this chain are read from the identity system contract's storage at the
//! latest anchored height (the head on a chain without anchoring), every entry with its proof, so
//! a client can repeat the resolution without trusting this node
//! (`weft_client::did::verify_resolution`). `did:key` DIDs are expanded locally. Anything else is
//! `METHOD_NOT_SUPPORTED`.

use crate::params::Ctx;
use crate::route::{BoxFuture, Route, RouteLayer};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use weft_api::NodeApi;
use weft_client::did::{DidProof, DidResolution, ResolveOptions};
use weft_client::json::StateResult;
use weft_did::{ErrorKind, Query, ResolutionResult};
use weft_types::ContractId;
use weft_types::did::{self as model, Did, DidParseError, DidRecord, DidVersion};

/// `did_resolve`'s parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveParams {
    did: String,
    #[serde(default)]
    options: ResolveOptions,
}

/// Registers `did_resolve`. It runs on the connection's task, not a blocking thread: a
/// resolution is a few reads of RocksDB's caches (about 100 µs), less than the hand-off to a
/// blocking thread and back costs under load.
pub fn register(m: &mut jsonrpsee::RpcModule<Ctx>) {
    m.register_method("did_resolve", |params, node, _| {
        crate::params::parse::<ResolveParams>(&params, "did_resolve")
            .map(|p| resolve(&**node, &p.did, &p.options))
    })
    .expect("method names are unique");
}

/// How many heights below the head to look for an anchor when the latest one is ahead of it.
const ANCHOR_SEARCH: u64 = 256;

/// The HTTP path prefix of the Universal Resolver driver interface.
pub const RESOLVER_PATH: &str = "/1.0/identifiers/";

fn failed(kind: ErrorKind, detail: impl Into<String>) -> DidResolution {
    DidResolution {
        result: ResolutionResult::error(kind, detail),
        proof: None,
    }
}

/// Reads proven storage entries of the identity contract at one height.
struct Reader<'a> {
    node: &'a dyn NodeApi,
    contract: ContractId,
    height: u64,
    entries: Vec<StateResult>,
    state_root: weft_types::Hash32,
}

impl Reader<'_> {
    fn read(&mut self, key: Vec<u8>) -> Result<Option<Vec<u8>>, String> {
        let full = weft_client::storage_key(&self.contract, &key);
        if let Some(e) = self.entries.iter().find(|e| e.key == full) {
            return Ok(e.value.clone());
        }
        let state = self
            .node
            .storage(&self.contract, &key, Some(self.height))
            .map_err(|e| e.to_string())?;
        self.state_root = state.state_root;
        let value = state.proof.value.clone();
        self.entries.push(StateResult {
            height: state.height,
            state_root: state.state_root,
            key: state.key,
            value: value.clone(),
            proof: borsh::to_vec(&state.proof).map_err(|e| e.to_string())?,
            anchor: None,
        });
        Ok(value)
    }

    fn version(&mut self, id: &model::DidId, n: u32) -> Result<DidVersion, String> {
        let bytes = self
            .read(model::storage::version_key(id, n))?
            .ok_or_else(|| format!("version {n} is missing from the identity contract"))?;
        borsh::from_slice(&bytes).map_err(|e| format!("version {n} does not decode: {e}"))
    }
}

/// Resolves `did` with `options`.
pub fn resolve(node: &dyn NodeApi, did: &str, options: &ResolveOptions) -> DidResolution {
    let parsed: Did = match did.parse() {
        Ok(parsed) => parsed,
        Err(DidParseError::NotWeft { method, .. }) if method == "key" => {
            return DidResolution {
                result: weft_did::resolve_did_key(did),
                proof: None,
            };
        }
        Err(e @ DidParseError::NotWeft { .. }) => {
            return failed(ErrorKind::MethodNotSupported, e.to_string());
        }
        Err(e) => return failed(ErrorKind::InvalidDid, e.to_string()),
    };
    let chain = &node.chain_id().0;
    if &parsed.chain != chain {
        return failed(
            ErrorKind::NotFound,
            format!(
                "{did} belongs to chain `{}`; this node serves chain `{chain}`",
                parsed.chain
            ),
        );
    }
    let query = match Query::parse(
        options.version_id.as_deref(),
        options.version_time.as_deref(),
    ) {
        Ok(query) => query,
        Err(e) => return failed(ErrorKind::InvalidOptions, e),
    };
    let (height, anchor) = anchored(node);
    let mut reader = Reader {
        node,
        contract: ContractId::system("identity"),
        height,
        entries: Vec::new(),
        state_root: Default::default(),
    };
    let outcome = read(&mut reader, &parsed, query);
    let result = match outcome {
        Ok(result) => result,
        Err(e) => return failed(ErrorKind::InternalError, e),
    };
    DidResolution {
        result,
        proof: Some(DidProof {
            height,
            state_root: reader.state_root,
            contract: reader.contract,
            anchor: anchor.as_ref().map(crate::tangle::anchor_json),
            entries: reader.entries,
        }),
    }
}

/// The latest anchored height, with its anchor, so an answer carries the committee's signatures
/// over its root (the head and no anchor on a chain without anchoring). An anchor can reach this
/// node's Tangle before the block it anchors is committed here; then the newest anchor at or
/// below the head is used.
pub fn anchored(node: &dyn NodeApi) -> (u64, Option<weft_tangle::AnchorRecord>) {
    let head = node.head().height;
    let anchor = node.tangle().ok().and_then(|t| {
        t.latest_anchor(node.chain_id())
            .ok()
            .flatten()
            .filter(|a| a.anchor.statement.height <= head)
            .or_else(|| {
                // The newest anchor at or below the head (anchoring may skip heights).
                (head.saturating_sub(ANCHOR_SEARCH)..=head)
                    .rev()
                    .find_map(|h| t.anchor_at_height(h).ok().flatten())
            })
    });
    let height = anchor.as_ref().map_or(head, |a| a.anchor.statement.height);
    (height, anchor)
}

fn read(reader: &mut Reader<'_>, did: &Did, query: Query) -> Result<ResolutionResult, String> {
    let record = reader
        .read(model::storage::record_key(&did.id))?
        .map(|bytes| {
            borsh::from_slice::<DidRecord>(&bytes)
                .map_err(|e| format!("the DID's record does not decode: {e}"))
        })
        .transpose()?;
    weft_did::resolve_records(did, record, query, |n| reader.version(&did.id, n))
}

/// The route of [`RESOLVER_PATH`].
#[derive(Clone)]
pub struct ResolverRoute;

/// The layer that serves [`RESOLVER_PATH`] for `node` and passes everything else on.
pub fn layer(node: Ctx) -> RouteLayer<ResolverRoute> {
    RouteLayer::new(node, ResolverRoute)
}

impl Route for ResolverRoute {
    fn matches(&self, path: &str) -> bool {
        path.starts_with(RESOLVER_PATH)
    }

    fn handle(&self, node: Ctx, request: HttpRequest) -> BoxFuture<HttpResponse> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || http_resolve(&*node, &request))
                .await
                .unwrap_or_else(|e| {
                    json_response(
                        500,
                        weft_did::RESOLUTION_MEDIA_TYPE,
                        &failed(ErrorKind::InternalError, e.to_string()),
                    )
                })
        })
    }
}

fn json_response(status: u16, media_type: &str, body: &impl serde::Serialize) -> HttpResponse {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    http::Response::builder()
        .status(status)
        .header("content-type", media_type)
        .body(HttpBody::from(bytes))
        .expect("a valid response")
}

/// Decodes `%XX` escapes (a DID in a path may have its colons escaped).
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

fn http_resolve(node: &dyn NodeApi, request: &HttpRequest) -> HttpResponse {
    let media = weft_did::RESOLUTION_MEDIA_TYPE;
    if request.method() != http::Method::GET {
        let mut response = json_response(
            405,
            media,
            &failed(
                ErrorKind::InvalidOptions,
                "the resolver takes GET /1.0/identifiers/{did}",
            ),
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        return response;
    }
    let raw = &request.uri().path()[RESOLVER_PATH.len()..];
    let Some(did) = percent_decode(raw) else {
        return json_response(
            400,
            media,
            &failed(
                ErrorKind::InvalidDid,
                format!("`{raw}` is not percent-encoded UTF-8"),
            ),
        );
    };
    let mut options = ResolveOptions::default();
    for pair in request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).unwrap_or_default();
        match name {
            "versionId" => options.version_id = Some(value),
            "versionTime" => options.version_time = Some(value),
            other => {
                return json_response(
                    400,
                    media,
                    &failed(
                        ErrorKind::InvalidOptions,
                        format!(
                            "unknown resolution option `{other}`; expected versionId or versionTime"
                        ),
                    ),
                );
            }
        }
    }
    // Accept: the full result (default), or the document alone.
    let accept = request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_document = accept.contains(weft_did::DOCUMENT_MEDIA_TYPE)
        || (accept.contains("application/did+json") && !accept.contains(media));
    let acceptable = accept.is_empty()
        || wants_document
        || [
            media,
            "application/json",
            "application/ld+json",
            "*/*",
            "application/*",
        ]
        .iter()
        .any(|m| accept.contains(m));
    if !acceptable {
        return json_response(
            406,
            media,
            &failed(
                ErrorKind::RepresentationNotSupported,
                format!(
                    "cannot produce `{accept}`; ask for {media} or {}",
                    weft_did::DOCUMENT_MEDIA_TYPE
                ),
            ),
        );
    }
    let answer = resolve(node, &did, &options);
    let status = match answer.result.error_kind() {
        Some(kind) => kind.http_status(),
        // Gone: the DID's current state is deactivated. An older version asked for by
        // versionId or versionTime is still served (200, with `deactivated: true`).
        None if answer.result.is_deactivated()
            && answer
                .result
                .did_document_metadata
                .next_version_id
                .is_none() =>
        {
            410
        }
        None => 200,
    };
    match (&answer.result.did_document, wants_document, status) {
        (Some(document), true, 200) => json_response(200, weft_did::DOCUMENT_MEDIA_TYPE, document),
        _ => json_response(status, media, &answer),
    }
}
