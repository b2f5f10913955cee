//! The `did:weft` data model, as the identity system contract stores it and every client checks it.
//!
//! A DID is `did:weft:<chain>:<id>`: the chain id (so DIDs of two chains never collide) and 64
//! lowercase hex digits of a [`DidId`], derived from the creator and a per-creator counter
//! ([`DidId::derive`]), so nobody can take another's identifier. The contract stores, per DID, a
//! [`DidRecord`] (creator, latest version, deactivated) and every [`DidVersion`] (a [`Document`]
//! with the block height and time it took effect). Changes are lists of [`Op`]s, applied in order
//! and then checked as a whole ([`Document::apply`], [`Document::check`]), with the limits below.
//!
//! Everything here is pure: the contract (compiled to wasm32), the node and the client SDK share
//! these rules, so a client can refuse a bad update before sending it. Rendering the W3C JSON
//! (`@context`, `publicKeyMultibase`, …) is off chain, in `weft-did`.

use crate::ids::domain_hash;
use crate::{Address, Hash32};
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;
use std::str::FromStr;

/// The DID method name.
pub const METHOD: &str = "weft";
/// Most bytes of a document's borsh encoding.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
/// Most verification methods in a document.
pub const MAX_METHODS: usize = 32;
/// Most services in a document.
pub const MAX_SERVICES: usize = 32;
/// Most `alsoKnownAs` entries.
pub const MAX_ALSO_KNOWN_AS: usize = 8;
/// Most controllers.
pub const MAX_CONTROLLERS: usize = 16;
/// Most characters of a fragment (the part after `#` of a method's or service's id).
pub const MAX_FRAGMENT: usize = 64;
/// Most bytes of one URI (a service endpoint, an `alsoKnownAs` entry).
pub const MAX_URI: usize = 512;
/// Most types of one service.
pub const MAX_SERVICE_TYPES: usize = 8;
/// Most bytes of one service type.
pub const MAX_SERVICE_TYPE: usize = 64;
/// Most endpoints in a set, or entries in a map, of one service.
pub const MAX_ENDPOINTS: usize = 8;
/// Most operations in one update.
pub const MAX_OPS: usize = 32;

/// `authentication`: proving control of the DID (logins, presentation proofs).
pub const AUTHENTICATION: u8 = 1;
/// `assertionMethod`: issuing credentials.
pub const ASSERTION_METHOD: u8 = 2;
/// `keyAgreement`: encryption to the DID subject (X25519 keys only).
pub const KEY_AGREEMENT: u8 = 4;
/// `capabilityInvocation`: updating the DID Document (and invoking capabilities).
pub const CAPABILITY_INVOCATION: u8 = 8;
/// `capabilityDelegation`: delegating capabilities.
pub const CAPABILITY_DELEGATION: u8 = 16;
/// Every relationship, with its name in DID Core, in the order DID Core lists them.
pub const RELATIONSHIPS: [(u8, &str); 5] = [
    (AUTHENTICATION, "authentication"),
    (ASSERTION_METHOD, "assertionMethod"),
    (KEY_AGREEMENT, "keyAgreement"),
    (CAPABILITY_INVOCATION, "capabilityInvocation"),
    (CAPABILITY_DELEGATION, "capabilityDelegation"),
];

/// The 32-byte identifier of a DID on its chain.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct DidId(pub [u8; 32]);

impl DidId {
    /// The id of the `counter`-th DID (from 0) created by `creator`.
    pub fn derive(creator: &Address, counter: u64) -> Self {
        Self(domain_hash("weft/did-id/v1", &[&creator.0, &counter.to_le_bytes()]).0)
    }
}

impl fmt::Debug for DidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DidId({})", hex::encode(self.0))
    }
}

impl fmt::Display for DidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A `did:weft` DID: its chain and its id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Did {
    /// The chain id.
    pub chain: String,
    /// The id on that chain.
    pub id: DidId,
}

impl Did {
    /// The DID of `id` on `chain`.
    pub fn new(chain: impl Into<String>, id: DidId) -> Self {
        Self {
            chain: chain.into(),
            id,
        }
    }

    /// The DID URL of a fragment: `did:weft:…#fragment`.
    pub fn url(&self, fragment: &str) -> String {
        format!("{self}#{fragment}")
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "did:{METHOD}:{}:{}", self.chain, self.id)
    }
}

/// Why a string is not a `did:weft` DID. [`DidParseError::NotWeft`] is a valid DID of another
/// method (DID Resolution's `methodNotSupported`); the others are `invalidDid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidParseError {
    /// Not a DID at all.
    #[error(
        "`{0}` is not a DID: expected did:<method>:<method-specific-id> with a lowercase method name"
    )]
    NotADid(String),
    /// A DID of another method.
    #[error("`{did}` is a did:{method} DID; this resolver handles did:weft")]
    NotWeft {
        /// The DID.
        did: String,
        /// Its method.
        method: String,
    },
    /// A `did:weft` DID with a malformed method-specific id.
    #[error("`{did}` is not a valid did:weft DID: {reason}")]
    Invalid {
        /// The DID.
        did: String,
        /// What is wrong.
        reason: String,
    },
}

/// Checks that `chain` can be part of a DID: 1 to 64 characters of `A-Z a-z 0-9 . - _`.
pub fn check_chain_name(chain: &str) -> Result<(), String> {
    if chain.is_empty() || chain.len() > crate::tx::MAX_CHAIN_ID {
        return Err(format!(
            "a chain id has 1 to {} characters, not {}",
            crate::tx::MAX_CHAIN_ID,
            chain.len()
        ));
    }
    match chain
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        Some(c) => Err(format!(
            "a chain id may hold only letters, digits, '.', '-' and '_' (it is part of every did:weft DID); `{chain}` has {c:?}"
        )),
        None => Ok(()),
    }
}

impl FromStr for Did {
    type Err = DidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not_a_did = || DidParseError::NotADid(s.to_string());
        let rest = s.strip_prefix("did:").ok_or_else(not_a_did)?;
        let (method, specific) = rest.split_once(':').ok_or_else(not_a_did)?;
        if method.is_empty()
            || !method
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            || specific.is_empty()
        {
            return Err(not_a_did());
        }
        if method != METHOD {
            return Err(DidParseError::NotWeft {
                did: s.to_string(),
                method: method.to_string(),
            });
        }
        let invalid = |reason: String| DidParseError::Invalid {
            did: s.to_string(),
            reason,
        };
        let (chain, id) = specific
            .split_once(':')
            .ok_or_else(|| invalid("expected did:weft:<chain>:<64 lowercase hex digits>".into()))?;
        check_chain_name(chain).map_err(invalid)?;
        if id.len() != 64
            || !id
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(invalid(format!(
                "the id after the chain must be 64 lowercase hex digits, not `{id}`"
            )));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(id, &mut bytes).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            chain: chain.to_string(),
            id: DidId(bytes),
        })
    }
}

/// The curve of a verification method's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum KeyType {
    /// An Ed25519 signing key (multicodec `0xed`).
    Ed25519,
    /// An X25519 key-agreement key (multicodec `0xec`).
    X25519,
}

/// How a verification method is expressed in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum KeyFormat {
    /// `type: "Multikey"` with `publicKeyMultibase`.
    Multikey,
    /// `type: "JsonWebKey"` with `publicKeyJwk` (`kty: "OKP"`).
    JsonWebKey,
}

/// A verification method, controlled by the DID itself.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VerificationMethod {
    /// Its id within the document: `did:weft:…#<fragment>`.
    pub fragment: String,
    /// The key's curve.
    pub key_type: KeyType,
    /// How it is expressed.
    pub format: KeyFormat,
    /// The 32-byte public key.
    pub public_key: [u8; 32],
    /// The relationships it is referenced from: a set of [`AUTHENTICATION`], … bits.
    pub relationships: u8,
}

impl VerificationMethod {
    /// An Ed25519 key as a `Multikey`, referenced from `relationships` (a set of
    /// [`AUTHENTICATION`], … bits).
    pub fn ed25519(fragment: &str, public_key: [u8; 32], relationships: u8) -> Self {
        Self {
            fragment: fragment.into(),
            key_type: KeyType::Ed25519,
            format: KeyFormat::Multikey,
            public_key,
            relationships,
        }
    }

    /// Whether it is referenced from `relationship`.
    pub fn has(&self, relationship: u8) -> bool {
        self.relationships & relationship != 0
    }
}

/// A service endpoint: a URI, a set of URIs, or a map of names to URIs.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ServiceEndpoint {
    /// One URI.
    Uri(String),
    /// A set of URIs.
    Set(Vec<String>),
    /// A map of names to URIs.
    Map(Vec<(String, String)>),
}

/// A service of the DID subject.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Service {
    /// Its id within the document: `did:weft:…#<fragment>`.
    pub fragment: String,
    /// Its types (one or more).
    pub types: Vec<String>,
    /// Where it is.
    pub endpoint: ServiceEndpoint,
}

/// A controller: another `did:weft` DID on the same chain, with a voting weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Controller {
    /// The controlling DID.
    pub did: DidId,
    /// Its weight towards the threshold.
    pub weight: u32,
}

/// A DID Document's content.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Document {
    /// Verification methods, in the order they were added.
    pub methods: Vec<VerificationMethod>,
    /// Services, in the order they were added.
    pub services: Vec<Service>,
    /// Other URIs of the subject.
    pub also_known_as: Vec<String>,
    /// Controllers; their capabilityInvocation keys can approve changes until `threshold`.
    pub controllers: Vec<Controller>,
    /// Total weight of approving controllers a change needs (0 without controllers).
    pub threshold: u32,
}

/// One change to a document.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Op {
    /// Adds a verification method.
    AddMethod(VerificationMethod),
    /// Removes the verification method with this fragment.
    RemoveMethod(String),
    /// Adds a service.
    AddService(Service),
    /// Removes the service with this fragment.
    RemoveService(String),
    /// Replaces `alsoKnownAs`.
    SetAlsoKnownAs(Vec<String>),
    /// Replaces the controllers and the threshold.
    SetControllers {
        /// The new controllers.
        controllers: Vec<Controller>,
        /// The new threshold.
        threshold: u32,
    },
    /// Deactivates the DID. Final: a deactivated DID never changes again.
    Deactivate,
}

/// What the contract keeps per DID besides its versions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct DidRecord {
    /// Who created it (an account, or the key that signed a relayed creation).
    pub creator: Address,
    /// The latest version (1 at creation).
    pub version: u32,
    /// Whether it is deactivated.
    pub deactivated: bool,
    /// The next proposal number.
    pub next_proposal: u32,
    /// Height of the block that created it.
    pub created_height: u64,
    /// Time of that block (ms since the Unix epoch): the `created` of every version.
    pub created_ms: u64,
}

/// One version of a DID Document.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct DidVersion {
    /// The document.
    pub document: Document,
    /// Height of the block that made this version.
    pub height: u64,
    /// Time of that block (ms since the Unix epoch, agreed by the committee).
    pub time_ms: u64,
    /// Whether this version deactivated the DID.
    pub deactivated: bool,
}

/// A change proposed by a controller, collecting approvals until the threshold.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// The version it was proposed against; it lapses when the DID changes.
    pub version: u32,
    /// The changes.
    pub ops: Vec<Op>,
    /// Controllers that approved, in order.
    pub approvals: Vec<DidId>,
}

/// Why a document or a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

fn refuse<T>(message: String) -> Result<T, DocumentError> {
    Err(DocumentError(message))
}

/// Checks a fragment: 1 to 64 characters of `A-Z a-z 0-9 . - _`.
pub fn check_fragment(fragment: &str) -> Result<(), DocumentError> {
    if fragment.is_empty() || fragment.len() > MAX_FRAGMENT {
        return refuse(format!(
            "fragment `{fragment}` has {} characters; fragments have 1 to {MAX_FRAGMENT}",
            fragment.len()
        ));
    }
    if let Some(c) = fragment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return refuse(format!(
            "fragment `{fragment}` has {c:?}; fragments use letters, digits, '.', '-' and '_'"
        ));
    }
    Ok(())
}

/// Checks a URI: at most 512 bytes, a scheme (`letter *(letter / digit / + / - / .)` then `:`),
/// no whitespace or control characters.
pub fn check_uri(what: &str, uri: &str) -> Result<(), DocumentError> {
    if uri.len() > MAX_URI {
        return refuse(format!(
            "{what} has {} bytes; at most {MAX_URI} are allowed",
            uri.len()
        ));
    }
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !scheme_ok {
        return refuse(format!(
            "{what} `{uri}` is not a URI: expected a scheme such as https: or did:"
        ));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse(format!(
            "{what} `{uri}` holds whitespace or control characters"
        ));
    }
    Ok(())
}

impl VerificationMethod {
    fn check(&self) -> Result<(), DocumentError> {
        check_fragment(&self.fragment)?;
        let f = &self.fragment;
        if self.relationships == 0 || self.relationships > 31 {
            return refuse(format!(
                "method #{f}: name one to five relationships (authentication, assertionMethod, keyAgreement, capabilityInvocation, capabilityDelegation)"
            ));
        }
        match self.key_type {
            KeyType::X25519 if self.relationships != KEY_AGREEMENT => refuse(format!(
                "method #{f}: an X25519 key serves only keyAgreement"
            )),
            KeyType::Ed25519 if self.has(KEY_AGREEMENT) => refuse(format!(
                "method #{f}: an Ed25519 key cannot serve keyAgreement; add an X25519 key for it"
            )),
            _ => Ok(()),
        }
    }
}

impl Service {
    fn check(&self) -> Result<(), DocumentError> {
        check_fragment(&self.fragment)?;
        let f = &self.fragment;
        if self.types.is_empty() || self.types.len() > MAX_SERVICE_TYPES {
            return refuse(format!(
                "service #{f} has {} types; a service has 1 to {MAX_SERVICE_TYPES}",
                self.types.len()
            ));
        }
        for t in &self.types {
            if t.is_empty()
                || t.len() > MAX_SERVICE_TYPE
                || t.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return refuse(format!(
                    "service #{f}: type `{t}` must have 1 to {MAX_SERVICE_TYPE} bytes without whitespace"
                ));
            }
        }
        let what = format!("service #{f}: endpoint");
        match &self.endpoint {
            ServiceEndpoint::Uri(uri) => check_uri(&what, uri),
            ServiceEndpoint::Set(uris) => {
                if uris.is_empty() || uris.len() > MAX_ENDPOINTS {
                    return refuse(format!(
                        "service #{f}: a set holds 1 to {MAX_ENDPOINTS} endpoints, not {}",
                        uris.len()
                    ));
                }
                uris.iter().try_for_each(|u| check_uri(&what, u))
            }
            ServiceEndpoint::Map(entries) => {
                if entries.is_empty() || entries.len() > MAX_ENDPOINTS {
                    return refuse(format!(
                        "service #{f}: a map holds 1 to {MAX_ENDPOINTS} endpoints, not {}",
                        entries.len()
                    ));
                }
                for (i, (name, uri)) in entries.iter().enumerate() {
                    if name.is_empty() || name.len() > MAX_FRAGMENT {
                        return refuse(format!(
                            "service #{f}: map keys have 1 to {MAX_FRAGMENT} bytes, not {}",
                            name.len()
                        ));
                    }
                    if entries[..i].iter().any(|(n, _)| n == name) {
                        return refuse(format!("service #{f}: map key `{name}` appears twice"));
                    }
                    check_uri(&what, uri)?;
                }
                Ok(())
            }
        }
    }
}

impl Document {
    /// Checks the whole document: sizes, fragments, keys and relationships, controllers, and
    /// that somebody can still update it (a capabilityInvocation key or a controller).
    pub fn check(&self) -> Result<(), DocumentError> {
        if self.methods.len() > MAX_METHODS {
            return refuse(format!(
                "a document has at most {MAX_METHODS} verification methods, this one {}",
                self.methods.len()
            ));
        }
        if self.services.len() > MAX_SERVICES {
            return refuse(format!(
                "a document has at most {MAX_SERVICES} services, this one {}",
                self.services.len()
            ));
        }
        if self.also_known_as.len() > MAX_ALSO_KNOWN_AS {
            return refuse(format!(
                "alsoKnownAs holds at most {MAX_ALSO_KNOWN_AS} URIs, not {}",
                self.also_known_as.len()
            ));
        }
        for (i, uri) in self.also_known_as.iter().enumerate() {
            check_uri("alsoKnownAs entry", uri)?;
            if self.also_known_as[..i].contains(uri) {
                return refuse(format!("alsoKnownAs lists `{uri}` twice"));
            }
        }
        let mut fragments: Vec<&str> = Vec::new();
        for m in &self.methods {
            m.check()?;
            if fragments.contains(&m.fragment.as_str()) {
                return refuse(format!("fragment #{} is used twice", m.fragment));
            }
            fragments.push(&m.fragment);
        }
        for s in &self.services {
            s.check()?;
            if fragments.contains(&s.fragment.as_str()) {
                return refuse(format!("fragment #{} is used twice", s.fragment));
            }
            fragments.push(&s.fragment);
        }
        if self.controllers.len() > MAX_CONTROLLERS {
            return refuse(format!(
                "a document has at most {MAX_CONTROLLERS} controllers, this one {}",
                self.controllers.len()
            ));
        }
        let mut total = 0u64;
        for (i, c) in self.controllers.iter().enumerate() {
            if c.weight == 0 {
                return refuse(format!(
                    "controller {} has weight 0; weights start at 1",
                    c.did
                ));
            }
            if self.controllers[..i].iter().any(|o| o.did == c.did) {
                return refuse(format!("controller {} is listed twice", c.did));
            }
            total += u64::from(c.weight);
        }
        match (self.controllers.is_empty(), self.threshold) {
            (true, 0) => {}
            (true, t) => {
                return refuse(format!(
                    "threshold {t} without controllers; the threshold is 0 when there are none"
                ));
            }
            (false, 0) => {
                return refuse("a threshold of at least 1 is needed with controllers".into());
            }
            (false, t) if u64::from(t) > total => {
                return refuse(format!(
                    "threshold {t} is more than the controllers' total weight {total}: no change could ever be approved"
                ));
            }
            _ => {}
        }
        if self.controllers.is_empty() && !self.methods.iter().any(|m| m.has(CAPABILITY_INVOCATION))
        {
            return refuse(
                "the document would have no capabilityInvocation key and no controller, so nobody could update it; deactivate the DID instead".into(),
            );
        }
        let size = borsh::to_vec(self).map_or(usize::MAX, |b| b.len());
        if size > MAX_DOCUMENT_BYTES {
            return refuse(format!(
                "the document encodes to {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed"
            ));
        }
        Ok(())
    }

    /// The verification method with `fragment`.
    pub fn method(&self, fragment: &str) -> Option<&VerificationMethod> {
        self.methods.iter().find(|m| m.fragment == fragment)
    }

    /// Whether `key` is an Ed25519 key of this document under `relationship`.
    pub fn has_key(&self, key: &[u8; 32], relationship: u8) -> bool {
        self.methods
            .iter()
            .any(|m| m.key_type == KeyType::Ed25519 && m.has(relationship) && &m.public_key == key)
    }

    /// Whether `key` is one of its capabilityInvocation keys (Ed25519).
    pub fn can_invoke(&self, key: &[u8; 32]) -> bool {
        self.methods.iter().any(|m| {
            m.key_type == KeyType::Ed25519 && m.has(CAPABILITY_INVOCATION) && &m.public_key == key
        })
    }

    /// The weight of controller `did`, if it is one.
    pub fn controller_weight(&self, did: &DidId) -> Option<u32> {
        self.controllers
            .iter()
            .find(|c| &c.did == did)
            .map(|c| c.weight)
    }

    /// Applies `ops` in order to a copy and checks the result. Returns the new document and
    /// whether the ops deactivate the DID ([`Op::Deactivate`] must then be the only op).
    pub fn apply(&self, ops: &[Op]) -> Result<(Document, bool), DocumentError> {
        if ops.is_empty() || ops.len() > MAX_OPS {
            return refuse(format!(
                "an update has 1 to {MAX_OPS} operations, not {}",
                ops.len()
            ));
        }
        if ops.contains(&Op::Deactivate) {
            if ops.len() != 1 {
                return refuse(
                    "deactivation is final and must be the only operation of its update".into(),
                );
            }
            return Ok((self.clone(), true));
        }
        let mut doc = self.clone();
        for (i, op) in ops.iter().enumerate() {
            let at = |e: DocumentError| DocumentError(format!("operation {i}: {}", e.0));
            match op {
                Op::AddMethod(m) => {
                    if doc.methods.iter().any(|o| o.fragment == m.fragment)
                        || doc.services.iter().any(|o| o.fragment == m.fragment)
                    {
                        return refuse(format!(
                            "operation {i}: fragment #{} is already in use",
                            m.fragment
                        ));
                    }
                    doc.methods.push(m.clone());
                }
                Op::RemoveMethod(f) => {
                    let before = doc.methods.len();
                    doc.methods.retain(|m| &m.fragment != f);
                    if doc.methods.len() == before {
                        return refuse(format!("operation {i}: there is no method #{f}"));
                    }
                }
                Op::AddService(s) => {
                    if doc.methods.iter().any(|o| o.fragment == s.fragment)
                        || doc.services.iter().any(|o| o.fragment == s.fragment)
                    {
                        return refuse(format!(
                            "operation {i}: fragment #{} is already in use",
                            s.fragment
                        ));
                    }
                    doc.services.push(s.clone());
                }
                Op::RemoveService(f) => {
                    let before = doc.services.len();
                    doc.services.retain(|s| &s.fragment != f);
                    if doc.services.len() == before {
                        return refuse(format!("operation {i}: there is no service #{f}"));
                    }
                }
                Op::SetAlsoKnownAs(uris) => doc.also_known_as = uris.clone(),
                Op::SetControllers {
                    controllers,
                    threshold,
                } => {
                    doc.controllers = controllers.clone();
                    doc.threshold = *threshold;
                }
                Op::Deactivate => unreachable!("handled above"),
            }
            // Per-op checks of what the op brought in, so errors name the op.
            match op {
                Op::AddMethod(m) => m.check().map_err(at)?,
                Op::AddService(s) => s.check().map_err(at)?,
                _ => {}
            }
        }
        doc.check()?;
        Ok((doc, false))
    }
}

/// What the creator of a DID signs when a relayer submits the creation: the chain, the
/// creator's key and creation counter, and the document.
pub fn create_message(
    chain: &str,
    creator: &[u8; 32],
    counter: u64,
    document: &Document,
) -> Hash32 {
    let doc = borsh::to_vec(document).expect("borsh encoding into a Vec cannot fail");
    domain_hash(
        "weft/did/create/v1",
        &[chain.as_bytes(), creator, &counter.to_le_bytes(), &doc],
    )
}

/// What a capabilityInvocation key of the DID signs for a relayed update of `version`.
pub fn update_message(chain: &str, did: &DidId, version: u32, ops: &[Op]) -> Hash32 {
    let ops = borsh::to_vec(ops).expect("borsh encoding into a Vec cannot fail");
    domain_hash(
        "weft/did/update/v1",
        &[chain.as_bytes(), &did.0, &version.to_le_bytes(), &ops],
    )
}

/// What a capabilityInvocation key of `controller` signs to propose changes to `did`.
pub fn propose_message(
    chain: &str,
    did: &DidId,
    controller: &DidId,
    version: u32,
    ops: &[Op],
) -> Hash32 {
    let ops = borsh::to_vec(ops).expect("borsh encoding into a Vec cannot fail");
    domain_hash(
        "weft/did/propose/v1",
        &[
            chain.as_bytes(),
            &did.0,
            &controller.0,
            &version.to_le_bytes(),
            &ops,
        ],
    )
}

/// The hash of a proposal's content: the version it was made for and its operations. An
/// approval names it, so a controller approves exactly what it read.
pub fn proposal_hash(version: u32, ops: &[Op]) -> Hash32 {
    let ops = borsh::to_vec(ops).expect("borsh encoding into a Vec cannot fail");
    domain_hash("weft/did/proposal/v1", &[&version.to_le_bytes(), &ops])
}

/// What a capabilityInvocation key of `controller` signs to approve proposal `proposal` of `did`,
/// whose content hashes to `content` ([`proposal_hash`]).
pub fn approve_message(
    chain: &str,
    did: &DidId,
    controller: &DidId,
    proposal: u32,
    content: &Hash32,
) -> Hash32 {
    domain_hash(
        "weft/did/approve/v1",
        &[
            chain.as_bytes(),
            &did.0,
            &controller.0,
            &proposal.to_le_bytes(),
            &content.0,
        ],
    )
}

/// Storage names the identity contract uses, and the keys a client asks proofs for. A map key is
/// the name's length (one byte), the name, then the entry's key.
pub mod storage {
    use super::DidId;

    /// The chain id the contract was initialized with.
    pub const CHAIN: &str = "chain";
    /// [`super::DidRecord`] by DID id.
    pub const RECORDS: &str = "dids";
    /// [`super::DidVersion`] by DID id and version (big-endian).
    pub const VERSIONS: &str = "versions";
    /// [`super::Proposal`] by DID id and proposal number (big-endian).
    pub const PROPOSALS: &str = "proposals";
    /// DIDs created so far, by creator.
    pub const COUNTERS: &str = "counters";

    /// A map entry's key in a contract's storage: the name's length (one byte), the name, the key.
    pub fn map_key(name: &str, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + name.len() + key.len());
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(key);
        out
    }

    /// A DID and a number, as one map key.
    pub fn numbered(did: &DidId, n: u32) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(&did.0);
        out[32..].copy_from_slice(&n.to_be_bytes());
        out
    }

    /// The contract's storage key of a DID's record.
    pub fn record_key(did: &DidId) -> Vec<u8> {
        map_key(RECORDS, &did.0)
    }

    /// The contract's storage key of one version of a DID.
    pub fn version_key(did: &DidId, version: u32) -> Vec<u8> {
        map_key(VERSIONS, &numbered(did, version))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn key(fragment: &str, relationships: u8) -> VerificationMethod {
        VerificationMethod {
            fragment: fragment.into(),
            key_type: KeyType::Ed25519,
            format: KeyFormat::Multikey,
            public_key: [7; 32],
            relationships,
        }
    }

    fn doc() -> Document {
        Document {
            methods: vec![key("key-1", AUTHENTICATION | CAPABILITY_INVOCATION)],
            ..Document::default()
        }
    }

    #[test]
    fn dids_print_and_parse() {
        let did = Did::new("weft-devnet", DidId([0xab; 32]));
        let text = did.to_string();
        assert_eq!(text, format!("did:weft:weft-devnet:{}", "ab".repeat(32)));
        assert_eq!(text.parse::<Did>().unwrap(), did);
        assert!(matches!(
            "did:key:z6Mk".parse::<Did>(),
            Err(DidParseError::NotWeft { .. })
        ));
        assert!(matches!(
            "did:weft".parse::<Did>(),
            Err(DidParseError::NotADid(_))
        ));
        assert!(matches!(
            "DID:weft:x:y".parse::<Did>(),
            Err(DidParseError::NotADid(_))
        ));
        let err = format!("did:weft:weft-devnet:{}", "AB".repeat(32))
            .parse::<Did>()
            .unwrap_err();
        assert!(err.to_string().contains("64 lowercase hex digits"), "{err}");
        let err = format!("did:weft:a/b:{}", "ab".repeat(32))
            .parse::<Did>()
            .unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
    }

    #[test]
    fn ids_differ_by_creator_and_counter() {
        let (a, b) = (Address([1; 32]), Address([2; 32]));
        assert_ne!(DidId::derive(&a, 0), DidId::derive(&a, 1));
        assert_ne!(DidId::derive(&a, 0), DidId::derive(&b, 0));
    }

    #[test]
    fn documents_are_checked_with_precise_errors() {
        doc().check().unwrap();
        let no_updater = Document {
            methods: vec![key("key-1", AUTHENTICATION)],
            ..Document::default()
        };
        assert!(
            no_updater
                .check()
                .unwrap_err()
                .0
                .contains("nobody could update")
        );
        let mut x = doc();
        x.methods.push(VerificationMethod {
            key_type: KeyType::X25519,
            ..key("enc", AUTHENTICATION)
        });
        assert!(
            x.check()
                .unwrap_err()
                .0
                .contains("X25519 key serves only keyAgreement")
        );
        let mut twice = doc();
        twice.services.push(Service {
            fragment: "key-1".into(),
            types: vec!["LinkedDomains".into()],
            endpoint: ServiceEndpoint::Uri("https://shop.example".into()),
        });
        assert_eq!(
            twice.check().unwrap_err().0,
            "fragment #key-1 is used twice"
        );
        let mut bad_uri = doc();
        bad_uri.also_known_as.push("shop.example".into());
        assert!(bad_uri.check().unwrap_err().0.contains("is not a URI"));
        let mut threshold = doc();
        threshold.controllers.push(Controller {
            did: DidId([1; 32]),
            weight: 1,
        });
        threshold.threshold = 2;
        assert!(
            threshold
                .check()
                .unwrap_err()
                .0
                .contains("more than the controllers' total weight")
        );
        let mut big = doc();
        big.also_known_as = (0..3)
            .map(|i| format!("https://{i}.{}", "a".repeat(600)))
            .collect();
        assert!(big.check().unwrap_err().0.contains("at most 512"));
    }

    #[test]
    fn ops_apply_in_order_and_deactivation_stands_alone() {
        let rotated = doc()
            .apply(&[
                Op::AddMethod(VerificationMethod {
                    public_key: [9; 32],
                    ..key("key-2", CAPABILITY_INVOCATION)
                }),
                Op::RemoveMethod("key-1".into()),
            ])
            .unwrap();
        assert!(!rotated.1);
        assert_eq!(rotated.0.methods.len(), 1);
        assert!(rotated.0.can_invoke(&[9; 32]) && !rotated.0.can_invoke(&[7; 32]));
        let err = doc()
            .apply(&[Op::RemoveMethod("key-1".into())])
            .unwrap_err();
        assert!(err.0.contains("nobody could update"), "{err}");
        let err = doc().apply(&[Op::RemoveMethod("nope".into())]).unwrap_err();
        assert_eq!(err.0, "operation 0: there is no method #nope");
        assert!(doc().apply(&[Op::Deactivate]).unwrap().1);
        let err = doc()
            .apply(&[Op::Deactivate, Op::RemoveMethod("key-1".into())])
            .unwrap_err();
        assert!(err.0.contains("only operation"));
        assert!(
            doc()
                .apply(&[])
                .unwrap_err()
                .0
                .contains("1 to 32 operations")
        );
    }

    #[test]
    fn storage_keys_follow_the_sdk_layout() {
        let did = DidId([3; 32]);
        let key = storage::version_key(&did, 2);
        assert_eq!(key[0] as usize, "versions".len());
        assert_eq!(&key[1..9], b"versions");
        assert_eq!(&key[9..41], &[3; 32]);
        assert_eq!(&key[41..], &2u32.to_be_bytes());
    }
}
