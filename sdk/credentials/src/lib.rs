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
mod error;
pub mod issue;
pub mod jose;
pub mod model;
pub mod present;
pub mod sdjwt;
mod signer;
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

pub use ed25519_dalek::SigningKey;
pub use error::Error;
pub use signer::Signer;
