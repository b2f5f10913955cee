//! `weft-did`: DID Documents and DID Resolution results as W3C JSON.
//!
//! - [`render`] turns a `did:weft` document as the identity contract stores it
//!   ([`weft_types::did`]) into a DID Core document; [`resolution`] builds the whole DID Resolution
//!   result (document, document metadata, resolution metadata) from the contract's records, so the
//!   node that serves it and the client that checks it against a state proof compute the same
//!   JSON from the same bytes.
//! - [`resolve_did_key`] expands a `did:key` (Ed25519 or X25519) locally; credentials from outside
//!   Weft use it.
//! - [`format_time`] / [`parse_time`] convert block times to and from the XML datetimes of DID
//!   metadata; [`Problem`] is a DID Resolution error (RFC 9457 problem details, type
//!   `https://www.w3.org/ns/did#…`).
//!
//! Keys are expressed as `Multikey` (`publicKeyMultibase`: base58-btc of the multicodec header
//! `0xed01` for Ed25519, `0xec01` for X25519, then the 32 key bytes) or `JsonWebKey` (`publicKeyJwk`
//! with `kty: "OKP"`, RFC 8037).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use weft_types::did::{
    Did, DidRecord, DidVersion, Document, KeyFormat, KeyType, RELATIONSHIPS, ServiceEndpoint,
    VerificationMethod,
};

/// The DID Core context.
pub const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
/// The Multikey context.
pub const MULTIKEY_CONTEXT: &str = "https://w3id.org/security/multikey/v1";
/// The Controlled Identifiers context, which defines the `JsonWebKey` type.
pub const JWK_CONTEXT: &str = "https://www.w3.org/ns/cid/v1";
/// Media type of a DID Resolution result.
pub const RESOLUTION_MEDIA_TYPE: &str = "application/did-resolution";
/// Media type of a DID Document in JSON-LD.
pub const DOCUMENT_MEDIA_TYPE: &str = "application/did+ld+json";

const ED25519_CODEC: [u8; 2] = [0xed, 0x01];
const X25519_CODEC: [u8; 2] = [0xec, 0x01];

/// One string, or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    fn of(mut items: Vec<String>) -> Option<Self> {
        match items.len() {
            0 => None,
            1 => items.pop().map(Self::One),
            _ => Some(Self::Many(items)),
        }
    }
}

/// An OKP JSON Web Key (RFC 8037), public part only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// `Ed25519` or `X25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
}

/// A verification method in a DID Document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethodJson {
    /// `did#fragment`.
    pub id: String,
    /// `Multikey` or `JsonWebKey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The DID controlling the key.
    pub controller: String,
    /// The key as multibase (Multikey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
    /// The key as a JWK (JsonWebKey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_jwk: Option<Jwk>,
}

/// A service in a DID Document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceJson {
    /// `did#fragment`.
    pub id: String,
    /// Its type or types.
    #[serde(rename = "type")]
    pub kind: OneOrMany,
    /// A URI, a set of URIs, or a map.
    pub service_endpoint: serde_json::Value,
}

/// A DID Document (DID Core), in the JSON-LD representation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// `@context`.
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// The DID.
    pub id: String,
    /// The controllers' DIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<OneOrMany>,
    /// Other URIs of the subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// The verification methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification_method: Vec<VerificationMethodJson>,
    /// References to methods that authenticate the subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication: Vec<String>,
    /// References to methods that issue credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertion_method: Vec<String>,
    /// References to methods for key agreement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_agreement: Vec<String>,
    /// References to methods that invoke capabilities (update the DID).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_invocation: Vec<String>,
    /// References to methods that delegate capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capability_delegation: Vec<String>,
    /// Services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<ServiceJson>,
}

impl DidDocument {
    /// The verification method with this id (`did#fragment`).
    pub fn method(&self, id: &str) -> Option<&VerificationMethodJson> {
        self.verification_method.iter().find(|m| m.id == id)
    }

    /// Whether `relationship` (`authentication`, `assertionMethod`, …) references method `id`.
    pub fn references(&self, relationship: &str, id: &str) -> bool {
        let list = match relationship {
            "authentication" => &self.authentication,
            "assertionMethod" => &self.assertion_method,
            "keyAgreement" => &self.key_agreement,
            "capabilityInvocation" => &self.capability_invocation,
            "capabilityDelegation" => &self.capability_delegation,
            _ => return false,
        };
        list.iter().any(|r| r == id)
    }
}

/// The multibase (base58-btc) Multikey of a key.
pub fn multikey(key_type: KeyType, public_key: &[u8; 32]) -> String {
    let codec = match key_type {
        KeyType::Ed25519 => ED25519_CODEC,
        KeyType::X25519 => X25519_CODEC,
    };
    let mut bytes = codec.to_vec();
    bytes.extend_from_slice(public_key);
    multibase::encode(multibase::Base::Base58Btc, bytes)
}

/// Why a Multikey cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` is not an Ed25519 or X25519 Multikey: {reason}")]
pub struct MultikeyError {
    key: String,
    reason: String,
}

/// The key type and bytes of a Multikey (`z6Mk…` for Ed25519, `z6LS…` for X25519).
pub fn parse_multikey(text: &str) -> Result<(KeyType, [u8; 32]), MultikeyError> {
    let error = |reason: String| MultikeyError {
        key: text.to_string(),
        reason,
    };
    let (base, bytes) = multibase::decode(text).map_err(|e| error(e.to_string()))?;
    if base != multibase::Base::Base58Btc {
        return Err(error(format!(
            "expected base58-btc (prefix z), got {base:?}"
        )));
    }
    let key_type = match bytes.get(..2) {
        Some(c) if c == ED25519_CODEC => KeyType::Ed25519,
        Some(c) if c == X25519_CODEC => KeyType::X25519,
        _ => {
            return Err(error(
                "the multicodec header is not 0xed01 (Ed25519) or 0xec01 (X25519)".into(),
            ));
        }
    };
    let key: [u8; 32] = bytes[2..]
        .try_into()
        .map_err(|_| error(format!("expected 32 key bytes, got {}", bytes.len() - 2)))?;
    Ok((key_type, key))
}

fn jwk(key_type: KeyType, public_key: &[u8; 32]) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: match key_type {
            KeyType::Ed25519 => "Ed25519",
            KeyType::X25519 => "X25519",
        }
        .into(),
        x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public_key),
    }
}

fn method_json(did: &str, m: &VerificationMethod) -> VerificationMethodJson {
    let (kind, multibase, jwk) = match m.format {
        KeyFormat::Multikey => ("Multikey", Some(multikey(m.key_type, &m.public_key)), None),
        KeyFormat::JsonWebKey => ("JsonWebKey", None, Some(jwk(m.key_type, &m.public_key))),
    };
    VerificationMethodJson {
        id: format!("{did}#{}", m.fragment),
        kind: kind.into(),
        controller: did.to_string(),
        public_key_multibase: multibase,
        public_key_jwk: jwk,
    }
}

/// A `did:weft` document as DID Core JSON.
pub fn render(did: &Did, document: &Document) -> DidDocument {
    let id = did.to_string();
    let mut context = vec![DID_CONTEXT.to_string()];
    if document
        .methods
        .iter()
        .any(|m| m.format == KeyFormat::Multikey)
    {
        context.push(MULTIKEY_CONTEXT.into());
    }
    if document
        .methods
        .iter()
        .any(|m| m.format == KeyFormat::JsonWebKey)
    {
        context.push(JWK_CONTEXT.into());
    }
    let refs = |bit: u8| -> Vec<String> {
        document
            .methods
            .iter()
            .filter(|m| m.has(bit))
            .map(|m| format!("{id}#{}", m.fragment))
            .collect()
    };
    let [auth, assertion, agreement, invocation, delegation] =
        RELATIONSHIPS.map(|(bit, _)| refs(bit));
    DidDocument {
        context,
        controller: OneOrMany::of(
            document
                .controllers
                .iter()
                .map(|c| Did::new(did.chain.clone(), c.did).to_string())
                .collect(),
        ),
        also_known_as: document.also_known_as.clone(),
        verification_method: document
            .methods
            .iter()
            .map(|m| method_json(&id, m))
            .collect(),
        authentication: auth,
        assertion_method: assertion,
        key_agreement: agreement,
        capability_invocation: invocation,
        capability_delegation: delegation,
        service: document
            .services
            .iter()
            .map(|s| ServiceJson {
                id: format!("{id}#{}", s.fragment),
                kind: OneOrMany::of(s.types.clone()).unwrap_or(OneOrMany::Many(Vec::new())),
                service_endpoint: match &s.endpoint {
                    ServiceEndpoint::Uri(uri) => serde_json::Value::String(uri.clone()),
                    ServiceEndpoint::Set(uris) => serde_json::json!(uris),
                    ServiceEndpoint::Map(entries) => serde_json::Value::Object(
                        entries
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect(),
                    ),
                },
            })
            .collect(),
        id,
    }
}

/// A DID Resolution error as an RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://www.w3.org/ns/did#INVALID_DID`, `…#NOT_FOUND`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// A short title.
    pub title: String,
    /// What exactly was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The DID Resolution errors Weft returns, with their HTTP status in the Universal Resolver driver
/// interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The DID is malformed (400).
    InvalidDid,
    /// No such DID, or no such version (404).
    NotFound,
    /// A DID of a method this node does not resolve (501).
    MethodNotSupported,
    /// The requested representation is not produced (406).
    RepresentationNotSupported,
    /// Resolution options are malformed (400).
    InvalidOptions,
    /// Anything else (500).
    InternalError,
}

impl ErrorKind {
    /// The problem type's name after `https://www.w3.org/ns/did#`.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidDid => "INVALID_DID",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotSupported => "METHOD_NOT_SUPPORTED",
            Self::RepresentationNotSupported => "REPRESENTATION_NOT_SUPPORTED",
            Self::InvalidOptions => "INVALID_OPTIONS",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status of the Universal Resolver driver interface.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidDid | Self::InvalidOptions => 400,
            Self::NotFound => 404,
            Self::RepresentationNotSupported => 406,
            Self::MethodNotSupported => 501,
            Self::InternalError => 500,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidDid => "Invalid DID",
            Self::NotFound => "DID not found",
            Self::MethodNotSupported => "DID method not supported",
            Self::RepresentationNotSupported => "Representation not supported",
            Self::InvalidOptions => "Invalid resolution options",
            Self::InternalError => "Internal error",
        }
    }

    /// The problem object for this error.
    pub fn problem(self, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://www.w3.org/ns/did#{}", self.code()),
            title: self.title().into(),
            detail: Some(detail.into()),
        }
    }
}

/// `didResolutionMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionMetadata {
    /// The media type of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Why resolution failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// `didDocumentMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentMetadata {
    /// When the DID was created (block time of version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the returned version was made (absent for version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Present and true when the DID is deactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<bool>,
    /// The returned version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// When the next version was made, if the returned one is not the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update: Option<String>,
    /// The next version, if the returned one is not the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_version_id: Option<String>,
}

/// A DID Resolution result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionResult {
    /// The document (absent when resolution failed).
    pub did_document: Option<DidDocument>,
    /// Resolution metadata.
    pub did_resolution_metadata: ResolutionMetadata,
    /// Document metadata.
    pub did_document_metadata: DocumentMetadata,
}

impl ResolutionResult {
    /// A failed resolution.
    pub fn error(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            did_document: None,
            did_resolution_metadata: ResolutionMetadata {
                content_type: None,
                error: Some(kind.problem(detail)),
            },
            did_document_metadata: DocumentMetadata::default(),
        }
    }

    /// The error's kind, if resolution failed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        let code = self
            .did_resolution_metadata
            .error
            .as_ref()?
            .kind
            .rsplit('#')
            .next()?
            .to_string();
        [
            ErrorKind::InvalidDid,
            ErrorKind::NotFound,
            ErrorKind::MethodNotSupported,
            ErrorKind::RepresentationNotSupported,
            ErrorKind::InvalidOptions,
        ]
        .into_iter()
        .find(|k| k.code() == code)
        .or(Some(ErrorKind::InternalError))
    }

    /// Whether the DID is deactivated.
    pub fn is_deactivated(&self) -> bool {
        self.did_document_metadata.deactivated == Some(true)
    }
}

/// What the identity contract holds about one resolution: the DID's record (with its creation
/// time), the version returned (with its number) and the next version, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedState {
    /// The DID's record.
    pub record: DidRecord,
    /// The number of the version returned.
    pub number: u32,
    /// That version.
    pub version: DidVersion,
    /// The version after the returned one, when it is not the latest.
    pub next: Option<DidVersion>,
}

/// The DID Resolution result of `did` from the contract's records.
pub fn resolution(did: &Did, state: &ResolvedState) -> ResolutionResult {
    let deactivated = state.record.deactivated;
    // The version that deactivated the DID shows no keys or services: nothing in it may be used
    // any more. Earlier versions resolve as they were (with `deactivated: true` in metadata), so
    // old signatures can still be checked against the keys of their time.
    let document = if state.version.deactivated {
        DidDocument {
            context: vec![DID_CONTEXT.into()],
            id: did.to_string(),
            controller: None,
            also_known_as: Vec::new(),
            verification_method: Vec::new(),
            authentication: Vec::new(),
            assertion_method: Vec::new(),
            key_agreement: Vec::new(),
            capability_invocation: Vec::new(),
            capability_delegation: Vec::new(),
            service: Vec::new(),
        }
    } else {
        render(did, &state.version.document)
    };
    ResolutionResult {
        did_document: Some(document),
        did_resolution_metadata: ResolutionMetadata {
            content_type: Some(DOCUMENT_MEDIA_TYPE.into()),
            error: None,
        },
        did_document_metadata: DocumentMetadata {
            created: Some(format_time(state.record.created_ms)),
            updated: (state.number > 1).then(|| format_time(state.version.time_ms)),
            deactivated: deactivated.then_some(true),
            version_id: Some(state.number.to_string()),
            next_update: state.next.as_ref().map(|n| format_time(n.time_ms)),
            next_version_id: state.next.as_ref().map(|_| (state.number + 1).to_string()),
        },
    }
}

/// What a resolution asks for: the latest version, a version number (`versionId`), or the
/// version in effect at a time (`versionTime`, as the last millisecond of its second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Query {
    /// The latest version.
    #[default]
    Latest,
    /// Version `n`.
    Version(u32),
    /// The version in effect at this block time (ms).
    At(u64),
}

impl Query {
    /// The query of the `versionId` and `versionTime` options; `Err` says what is wrong with them
    /// (an `INVALID_OPTIONS` problem).
    pub fn parse(version_id: Option<&str>, version_time: Option<&str>) -> Result<Self, String> {
        match (version_id, version_time) {
            (Some(_), Some(_)) => Err("give versionId or versionTime, not both".into()),
            (Some(id), None) => id.parse().map(Self::Version).map_err(|_| {
                format!("versionId `{id}` is not a version number (a decimal string from 1)")
            }),
            (None, Some(time)) => parse_time(time)
                .map(Self::At)
                .map_err(|e| format!("versionTime: {e}")),
            (None, None) => Ok(Self::Latest),
        }
    }
}

/// Resolves `did` from the identity contract's records: its `record` (`None`: absent) and
/// `version(n)`, which reads version `n`. The node that answers and the client that checks the
/// answer both call this, so they read the same versions in the same order (the node proves
/// each) and compute the same result.
pub fn resolve_records<E>(
    did: &Did,
    record: Option<DidRecord>,
    query: Query,
    mut version: impl FnMut(u32) -> Result<DidVersion, E>,
) -> Result<ResolutionResult, E> {
    let not_found = |detail: String| Ok(ResolutionResult::error(ErrorKind::NotFound, detail));
    let Some(record) = record else {
        return not_found(format!("{did} does not exist"));
    };
    let number = match query {
        Query::Latest => record.version,
        Query::Version(n) if n == 0 || n > record.version => {
            return not_found(format!(
                "{did} has versions 1 to {}; there is no version {n}",
                record.version
            ));
        }
        Query::Version(n) => n,
        Query::At(bound) => {
            match version_at(record.version, bound, |n| version(n).map(|v| v.time_ms))? {
                Some(n) => n,
                None => return not_found(format!("{did} did not exist yet at that time")),
            }
        }
    };
    let returned = version(number)?;
    let next = if number < record.version {
        Some(version(number + 1)?)
    } else {
        None
    };
    Ok(resolution(
        did,
        &ResolvedState {
            record,
            number,
            version: returned,
            next,
        },
    ))
}

/// The version of a DID in effect at `bound` (ms, block time): the last one made at or before it,
/// or `None` if version 1 is later. Versions' times never decrease, so this bisects; `time_of`
/// reads a version's time. A node and a client that checks its proof probe the same versions in
/// the same order (version 1 first), so the node can prove every probe.
pub fn version_at<E>(
    latest: u32,
    bound: u64,
    mut time_of: impl FnMut(u32) -> Result<u64, E>,
) -> Result<Option<u32>, E> {
    if latest == 0 || time_of(1)? > bound {
        return Ok(None);
    }
    let (mut low, mut high) = (1u32, latest);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if time_of(mid)? <= bound {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(Some(low))
}

/// A block time (ms since the Unix epoch) as an XML datetime in UTC, to the second.
pub fn format_time(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".into())
}

/// An RFC 3339 / XML datetime (`2026-12-01T10:00:00Z`, offsets and fractions allowed) as the
/// last millisecond of its second since the Unix epoch: the `versionTime` bound, compared with
/// block times at the second precision metadata shows.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 datetime such as 2026-12-01T10:00:00Z: {e}")
        })?;
    let seconds =
        u64::try_from(t.unix_timestamp()).map_err(|_| format!("`{text}` is before 1970"))?;
    Ok(seconds * 1000 + 999)
}

/// Resolves a `did:key` (Ed25519 or X25519) into its document, per the did:key method: one
/// Multikey verification method whose fragment is the key's multibase; an Ed25519 key serves
/// authentication, assertionMethod, capabilityInvocation and capabilityDelegation, an X25519 key
/// keyAgreement. No X25519 key is derived from an Ed25519 key.
pub fn resolve_did_key(did: &str) -> ResolutionResult {
    let Some(key) = did.strip_prefix("did:key:") else {
        return ResolutionResult::error(
            ErrorKind::InvalidDid,
            format!("`{did}` is not a did:key DID"),
        );
    };
    let (key_type, bytes) = match parse_multikey(key) {
        Ok(parsed) => parsed,
        Err(e) => return ResolutionResult::error(ErrorKind::InvalidDid, e.to_string()),
    };
    let id = format!("{did}#{key}");
    let method = VerificationMethodJson {
        id: id.clone(),
        kind: "Multikey".into(),
        controller: did.to_string(),
        public_key_multibase: Some(multikey(key_type, &bytes)),
        public_key_jwk: None,
    };
    let signing = key_type == KeyType::Ed25519;
    let refs = |yes: bool| if yes { vec![id.clone()] } else { Vec::new() };
    ResolutionResult {
        did_document: Some(DidDocument {
            context: vec![DID_CONTEXT.into(), MULTIKEY_CONTEXT.into()],
            id: did.to_string(),
            controller: None,
            also_known_as: Vec::new(),
            verification_method: vec![method],
            authentication: refs(signing),
            assertion_method: refs(signing),
            key_agreement: refs(!signing),
            capability_invocation: refs(signing),
            capability_delegation: refs(signing),
            service: Vec::new(),
        }),
        did_resolution_metadata: ResolutionMetadata {
            content_type: Some(DOCUMENT_MEDIA_TYPE.into()),
            error: None,
        },
        did_document_metadata: DocumentMetadata::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use weft_types::Address;
    use weft_types::did::{
        ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Controller, DidId, KEY_AGREEMENT,
        Service,
    };

    /// The did:key specification's Ed25519 example and its JWK (RFC 8037 `x`).
    const KEY_DID: &str = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    const KEY_X: &str = "Lm_M42cB3HkUiODQsXRcweM6TByfzEHGO9ND274JcOY";

    #[test]
    fn did_key_known_answer() {
        let result = resolve_did_key(KEY_DID);
        let doc = result.did_document.unwrap();
        let vm = &doc.verification_method[0];
        assert_eq!(
            vm.id,
            format!("{KEY_DID}#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        );
        let (kind, key) = parse_multikey(vm.public_key_multibase.as_deref().unwrap()).unwrap();
        assert_eq!(kind, KeyType::Ed25519);
        assert_eq!(jwk(kind, &key).x, KEY_X);
        assert!(doc.references("assertionMethod", &vm.id));
        assert!(doc.key_agreement.is_empty());
        let bad = resolve_did_key("did:key:zQ3s");
        assert_eq!(bad.error_kind(), Some(ErrorKind::InvalidDid));
    }

    #[test]
    fn renders_did_core_json() {
        let did = Did::new("weft-devnet", DidId([0x11; 32]));
        let key: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(KEY_X)
            .unwrap()
            .try_into()
            .unwrap();
        let document = Document {
            methods: vec![
                VerificationMethod {
                    fragment: "key-1".into(),
                    key_type: KeyType::Ed25519,
                    format: KeyFormat::Multikey,
                    public_key: key,
                    relationships: AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
                },
                VerificationMethod {
                    fragment: "enc".into(),
                    key_type: KeyType::X25519,
                    format: KeyFormat::JsonWebKey,
                    public_key: [2; 32],
                    relationships: KEY_AGREEMENT,
                },
            ],
            services: vec![Service {
                fragment: "shop".into(),
                types: vec!["LinkedDomains".into()],
                endpoint: ServiceEndpoint::Uri("https://shop.example".into()),
            }],
            also_known_as: vec![],
            controllers: vec![Controller {
                did: DidId([0x22; 32]),
                weight: 1,
            }],
            threshold: 1,
        };
        let json = serde_json::to_value(render(&did, &document)).unwrap();
        let id = did.to_string();
        assert_eq!(
            json,
            serde_json::json!({
                "@context": [DID_CONTEXT, MULTIKEY_CONTEXT, JWK_CONTEXT],
                "id": id,
                "controller": format!("did:weft:weft-devnet:{}", "22".repeat(32)),
                "verificationMethod": [
                    {
                        "id": format!("{id}#key-1"),
                        "type": "Multikey",
                        "controller": id,
                        "publicKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
                    },
                    {
                        "id": format!("{id}#enc"),
                        "type": "JsonWebKey",
                        "controller": id,
                        "publicKeyJwk": {"kty": "OKP", "crv": "X25519", "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([2u8; 32])}
                    }
                ],
                "authentication": [format!("{id}#key-1")],
                "assertionMethod": [format!("{id}#key-1")],
                "keyAgreement": [format!("{id}#enc")],
                "capabilityInvocation": [format!("{id}#key-1")],
                "service": [{"id": format!("{id}#shop"), "type": "LinkedDomains", "serviceEndpoint": "https://shop.example"}]
            })
        );
    }

    #[test]
    fn metadata_follows_versions() {
        let did = Did::new("weft-devnet", DidId::derive(&Address([1; 32]), 0));
        let version = |time_ms, deactivated| DidVersion {
            document: Document::default(),
            height: 1,
            time_ms,
            deactivated,
        };
        let record = DidRecord {
            creator: Address([1; 32]),
            version: 3,
            deactivated: true,
            next_proposal: 0,
            created_height: 1,
            created_ms: 1_767_225_600_000,
        };
        let old = resolution(
            &did,
            &ResolvedState {
                record: record.clone(),
                number: 2,
                version: version(1_767_225_660_000, false),
                next: Some(version(1_767_225_720_500, true)),
            },
        );
        let meta = serde_json::to_value(&old.did_document_metadata).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({
                "created": "2026-01-01T00:00:00Z",
                "updated": "2026-01-01T00:01:00Z",
                "deactivated": true,
                "versionId": "2",
                "nextUpdate": "2026-01-01T00:02:00Z",
                "nextVersionId": "3"
            })
        );
        assert_eq!(
            parse_time("2026-01-01T00:02:00Z").unwrap(),
            1_767_225_720_999
        );
        assert_eq!(
            parse_time("2026-01-01T01:02:00+01:00").unwrap(),
            1_767_225_720_999
        );
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
