//! `weft-credentials`: W3C Verifiable Credentials 2.0 issued and verified with the holders' and
//! issuers' own keys.
//!
//! - **Securing** ([`issue`]): Data Integrity proofs with `eddsa-rdfc-2022` or `eddsa-jcs-2022`
//!   ([`di`]), VC-JOSE (`vc+jwt`, [`jose`]) and SD-JWT for selective disclosure (`vc+sd-jwt`,
//!   [`sdjwt`]). JWT forms travel in JSON as `EnvelopedVerifiableCredential`s.
//! - **Presenting** ([`present`]): a presentation with the holder's proof over the verifier's
//!   `challenge` and `domain` (Data Integrity or `vp+jwt`), or an SD-JWT with a key binding JWT.
//! - **Verifying** ([`verify`]): resolves the issuer and holder, checks the proof against the
//!   right verification relationship, the validity period, every status entry
//!   ([`bitstring`]), the trust chain to the roots the verifier names, and for presentations
//!   holder binding, challenge (single use) and domain. It returns every check with its outcome
//!   and reason ([`verify::Report`]) and fails closed: anything it cannot establish fails.
//!
//! This crate does no I/O. What a verifier must look up — DID documents, status entries and
//! accreditations — comes through [`verify::Lookup`]: a node implements it over its own state,
//! `weft-client` over values it proved against the committee's anchors; [`chain::ChainLookup`]
//! turns either's storage reads into documents, status values and accreditations. No private key ever
//! leaves its [`Signer`].

pub mod bitstring;
pub mod canon;
pub mod chain;
pub mod di;
pub mod issue;
pub mod jose;
pub mod model;
pub mod present;
pub mod sdjwt;
pub mod vcapi;
pub mod verify;

pub use di::Cryptosuite;
pub use issue::{Format, issue};
pub use model::Credential;
pub use present::{PresentFormat, present};
pub use verify::{
    ChallengeStore, Check, Lookup, Options, Outcome, Reason, Report, verify_credential,
    verify_presentation,
};

use ed25519_dalek::Signer as _;
pub use ed25519_dalek::SigningKey;

/// Why a document cannot be issued, presented or verified at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not well formed (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// The input is well formed but not a valid credential or presentation (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// A format, algorithm or context this implementation does not support (HTTP 422).
    #[error("{0}")]
    Unsupported(String),
}

/// An Ed25519 key and the DID URL of its verification method: the only way this crate signs.
#[derive(Clone)]
pub struct Signer {
    key: ed25519_dalek::SigningKey,
    method: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// `key`, known to verifiers as verification method `method` (`did:…#fragment`).
    pub fn new(key: ed25519_dalek::SigningKey, method: impl Into<String>) -> Result<Self, Error> {
        let method = method.into();
        match method.split_once('#') {
            Some((did, fragment)) if did.starts_with("did:") && !fragment.is_empty() => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "verification method {method:?} is not a DID URL with a fragment (did:…#key-1)"
                )));
            }
        }
        Ok(Self { key, method })
    }

    /// `key` as a `did:key` (its method is `did:key:z6Mk…#z6Mk…`).
    pub fn did_key(key: ed25519_dalek::SigningKey) -> Self {
        let multikey = weft_did::multikey(
            weft_types::did::KeyType::Ed25519,
            &key.verifying_key().to_bytes(),
        );
        Self {
            method: format!("did:key:{multikey}#{multikey}"),
            key,
        }
    }

    /// The verification method's DID URL.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The DID the key belongs to.
    pub fn did(&self) -> &str {
        self.method.split('#').next().unwrap_or_default()
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}
