//! Verification of credentials and presentations: every check with its outcome and reason.
//!
//! A credential passes only if all of these pass:
//! - `format`: the VC Data Model 2.0 shape and a supported securing mechanism;
//! - `issuer`: the issuer DID resolves ([`Lookup::resolve`]) and is not deactivated;
//! - `proof`: the signature verifies with a key of the issuer's current DID document that its
//!   `assertionMethod` lists (a key rotated away is no longer there);
//! - `validity`: `validFrom` ≤ now < `validUntil`;
//! - `status`: no `revocation` or `suspension` entry is set ([`Lookup::status`]);
//! - `trust`: when the verifier names roots, an unbroken chain of accreditations leads from the
//!   issuer to one of them for each of the credential's types ([`walk`]).
//!
//! A presentation adds `holder` (its proof by a key under the holder's `authentication`),
//! `challenge` (equal to the verifier's, and unused: [`Challenges`]), `domain`, and `binding`
//! (each credential is about the holder, or bound to its key). Anything that cannot be
//! established fails: no lookup, no check passes by default.

use crate::bitstring::{self, StatusEntry, StatusErrorCode};
use crate::error::Error;
use crate::jose::{self, Jws};
use crate::model::{self, Credential, MEDIA_VC_JWT, MEDIA_VC_SD_JWT, MEDIA_VP_JWT};
use crate::{di, sdjwt};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use weft_did::DidDocument;
use weft_types::did::DidId;
use weft_types::trust::{Accreditation, MAX_CHAIN};

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Not well formed.
    Malformed,
    /// A format, algorithm or context that is not supported.
    Unsupported,
    /// The issuer DID could not be resolved.
    IssuerUnresolved,
    /// The issuer DID is deactivated.
    IssuerDeactivated,
    /// The signature does not verify.
    BadSignature,
    /// The key is not in the signer's current DID document (never was, or rotated away).
    UnknownKey,
    /// The key is in the document but not under the required verification relationship.
    WrongRelationship,
    /// Before `validFrom`.
    NotYetValid,
    /// At or after `validUntil`.
    Expired,
    /// A revocation entry is set.
    Revoked,
    /// A suspension entry is set.
    Suspended,
    /// The status could not be established (the specification's status errors).
    StatusError,
    /// No valid accreditation chain leads to a trusted root.
    NotAccredited,
    /// The holder DID could not be resolved or is deactivated.
    HolderUnresolved,
    /// A credential is not about the holder, or not bound to the presenting key.
    HolderMismatch,
    /// The verifier named no challenge, or the presentation carries another.
    WrongChallenge,
    /// The challenge was already used, expired, or never issued.
    ChallengeReused,
    /// The presentation is for another domain.
    WrongDomain,
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// The verifier did not ask for it (trust without roots).
    Skipped,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `format`, `issuer`, `proof`, `validity`, `status`, `trust`, `holder`, `challenge`,
    /// `domain`, `binding`, or `credential` (a presented credential as a whole).
    pub check: &'static str,
    /// Its outcome.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// What was found, in words.
    pub detail: String,
}

/// Every check of one verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether every check passed (skipped ones aside) and none is missing.
    pub verified: bool,
    /// The checks in the order they ran.
    pub checks: Vec<Check>,
    /// The reports of a presentation's credentials.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Report>,
}

impl Report {
    fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            outcome: Outcome::Passed,
            reason: None,
            detail: detail.into(),
        });
    }

    fn fail(&mut self, check: &'static str, reason: Reason, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            outcome: Outcome::Failed,
            reason: Some(reason),
            detail: detail.into(),
        });
    }

    fn skip(&mut self, check: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            outcome: Outcome::Skipped,
            reason: None,
            detail: detail.into(),
        });
    }

    fn finish(mut self, required: &[&str]) -> Self {
        let all_present = required
            .iter()
            .all(|r| self.checks.iter().any(|c| c.check == *r));
        self.verified = all_present
            && !self.checks.iter().any(|c| c.outcome == Outcome::Failed)
            && self.credentials.iter().all(|c| c.verified);
        self
    }

    /// The reasons of the failed checks, this report's and its credentials'.
    pub fn reasons(&self) -> Vec<Reason> {
        self.checks
            .iter()
            .filter_map(|c| c.reason)
            .chain(self.credentials.iter().flat_map(Report::reasons))
            .collect()
    }

    /// The failed check named `check`, if any.
    pub fn failed(&self, check: &str) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.check == check && c.outcome == Outcome::Failed)
    }
}

/// A resolved DID.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Its current document.
    pub document: DidDocument,
    /// Whether it is deactivated.
    pub deactivated: bool,
    /// How it was established (e.g. "state proof at height 12").
    pub source: String,
}

/// The status of an entry, as a lookup found it.
#[derive(Debug, Clone)]
pub enum StatusEvidence {
    /// The entry's value, read from state the lookup trusts or proved.
    Value {
        /// The value.
        value: u8,
        /// How it was established.
        source: String,
    },
    /// The issuer-secured `BitstringStatusListCredential` fetched from the entry's URL; the
    /// verifier checks its proof and reads the bits.
    ListCredential(Value),
}

/// What a verifier looks up. A node implements it over its own state; a client over values it
/// proved against the committee's anchors.
pub trait Lookup {
    /// The DID's current document.
    fn resolve(&self, did: &str) -> Result<Resolved, String>;
    /// The status of `entry` of a credential issued by `issuer`.
    fn status(
        &self,
        entry: &StatusEntry,
        issuer: &str,
    ) -> Result<StatusEvidence, (StatusErrorCode, String)>;
    /// The authorities that ever accredited `subject` (a DID).
    fn accreditors(&self, subject: &str) -> Result<Vec<String>, String>;
    /// The accreditation of `subject` by `authority`, with how it was established.
    fn accreditation(
        &self,
        subject: &str,
        authority: &str,
    ) -> Result<Option<(Accreditation, String)>, String>;
}

/// Challenges a verifier handed out: each may be used once, before it expires.
pub trait Challenges {
    /// Uses `challenge` up: an error if it is unknown, expired or used.
    fn consume(&self, challenge: &str, now: u64) -> Result<(), String>;
    /// Whether `challenge` could be used now, without using it.
    fn peek(&self, challenge: &str, now: u64) -> Result<(), String>;
}

/// Challenges that are checked but not used up: for a verification run whose outcome is
/// thrown away (a client's runs before it has fetched everything).
pub struct Peek<'a>(pub &'a dyn Challenges);

impl Challenges for Peek<'_> {
    fn consume(&self, challenge: &str, now: u64) -> Result<(), String> {
        self.0.peek(challenge, now)
    }

    fn peek(&self, challenge: &str, now: u64) -> Result<(), String> {
        self.0.peek(challenge, now)
    }
}

/// A verifier's challenges in memory: random, single use, expiring.
#[derive(Debug, Default)]
pub struct ChallengeStore {
    open: Mutex<OpenChallenges>,
}

#[derive(Debug, Default)]
struct OpenChallenges {
    /// Challenge → expiry.
    expires: HashMap<String, u64>,
    /// Challenges in the order they were issued, oldest first.
    order: std::collections::VecDeque<(u64, String)>,
}

/// The most challenges a store keeps open; the oldest are dropped beyond it.
pub const MAX_OPEN_CHALLENGES: usize = 100_000;

impl ChallengeStore {
    /// A new random challenge valid for `ttl` seconds from `now`.
    pub fn issue(&self, now: u64, ttl: u64) -> String {
        use rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        // Hex, so the challenge never starts with `-` (a command line would take it for a flag).
        let challenge: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        // Drop the expired and, beyond the limit, the oldest: O(1) per challenge issued.
        while let Some((expires, oldest)) = open.order.front().cloned() {
            if expires > now && open.order.len() < MAX_OPEN_CHALLENGES {
                break;
            }
            open.order.pop_front();
            open.expires.remove(&oldest);
        }
        let expires = now.saturating_add(ttl);
        open.expires.insert(challenge.clone(), expires);
        open.order.push_back((expires, challenge.clone()));
        challenge
    }
}

impl Challenges for ChallengeStore {
    fn consume(&self, challenge: &str, now: u64) -> Result<(), String> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.expires.remove(challenge) {
            Some(expires) if expires > now => Ok(()),
            Some(_) => Err("the challenge expired".into()),
            None => Err("the challenge was already used or never issued by this verifier".into()),
        }
    }

    fn peek(&self, challenge: &str, now: u64) -> Result<(), String> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.expires.get(challenge) {
            Some(expires) if *expires > now => Ok(()),
            Some(_) => Err("the challenge expired".into()),
            None => Err("the challenge was already used or never issued by this verifier".into()),
        }
    }
}

/// What the verifier wants.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Now, in seconds since the Unix epoch.
    pub now: u64,
    /// The DIDs whose accreditations the verifier trusts; empty: no trust check.
    pub trusted_roots: Vec<String>,
    /// The challenge the verifier sent (presentations).
    pub challenge: Option<String>,
    /// The domain the verifier expects (presentations).
    pub domain: Option<String>,
    /// How old a key binding JWT may be (seconds; presentations as SD-JWT). 300 if `None`.
    pub max_age: Option<u64>,
}

/// An Ed25519 public key from a verification method (Multikey or JsonWebKey).
fn method_key(method: &weft_did::VerificationMethodJson) -> Result<[u8; 32], String> {
    if let Some(multibase) = &method.public_key_multibase {
        let (kind, key) = weft_did::parse_multikey(multibase).map_err(|e| e.to_string())?;
        if kind != weft_types::did::KeyType::Ed25519 {
            return Err(format!("{} is not an Ed25519 key", method.id));
        }
        return Ok(key);
    }
    if let Some(jwk) = &method.public_key_jwk {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(format!("{} is not an Ed25519 JWK", method.id));
        }
        let bytes = jose::unb64(&jwk.x, "the JWK's x").map_err(|e| e.to_string())?;
        return bytes
            .try_into()
            .map_err(|_| format!("{}'s JWK does not hold 32 bytes", method.id));
    }
    Err(format!("{} has no public key", method.id))
}

/// The decompressed form of `key`, kept for the keys seen last: decompressing a point costs
/// about a fifth of a signature check, and a verifier sees the same issuers' keys again and again.
fn verifying_key(key: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
    static KEYS: std::sync::OnceLock<Mutex<HashMap<[u8; 32], ed25519_dalek::VerifyingKey>>> =
        std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some(k) = keys.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Some(*k);
    }
    let decompressed = ed25519_dalek::VerifyingKey::from_bytes(key).ok()?;
    let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
    if keys.len() >= 4096 {
        keys.clear();
    }
    keys.insert(*key, decompressed);
    Some(decompressed)
}

/// Checks a signature by verification method `method_id`, which must belong to `did`, be in its
/// resolved document and be listed under `relationship`. Records the outcome as `check`.
fn check_signature(
    report: &mut Report,
    check: &'static str,
    resolved: &Resolved,
    did: &str,
    method_id: &str,
    relationship: &str,
    (message, signature): (&[u8], &[u8; 64]),
) -> bool {
    let method_id = if method_id.starts_with('#') {
        format!("{did}{method_id}")
    } else {
        method_id.to_string()
    };
    if method_id.split('#').next() != Some(did) {
        report.fail(
            check,
            Reason::UnknownKey,
            format!("the key {method_id} is not a key of {did}"),
        );
        return false;
    }
    let Some(method) = resolved.document.method(&method_id) else {
        report.fail(
            check,
            Reason::UnknownKey,
            format!(
                "{did}'s current document has no key {method_id} (it was removed, rotated away, or never there)"
            ),
        );
        return false;
    };
    if !resolved.document.references(relationship, &method_id) {
        report.fail(
            check,
            Reason::WrongRelationship,
            format!("{method_id} is in {did}'s document but not under {relationship}"),
        );
        return false;
    }
    let key = match method_key(method) {
        Ok(k) => k,
        Err(e) => {
            report.fail(check, Reason::Unsupported, e);
            return false;
        }
    };
    let verified = verifying_key(&key).is_some_and(|k| {
        k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    });
    match verified {
        true => {
            report.pass(check, format!("signed by {method_id} under {relationship}"));
            true
        }
        false => {
            report.fail(
                check,
                Reason::BadSignature,
                format!("the signature does not verify with {method_id}"),
            );
            false
        }
    }
}

/// A secured credential taken apart.
enum Secured {
    DataIntegrity(Box<di::Proof>),
    Jose(Box<Jws>),
    SdJwt(Box<sdjwt::Opened>),
}

/// The compact form inside an enveloped credential or presentation (`data:<type>,<compact>`).
fn unenvelope(value: &Value) -> Option<(String, String)> {
    let id = match value {
        Value::String(s) => return Some((guess_media_type(s).into(), s.clone())),
        other => other.get("id")?.as_str()?,
    };
    let rest = id.strip_prefix("data:")?;
    let (media_type, compact) = rest.split_once(',')?;
    Some((media_type.to_string(), compact.to_string()))
}

fn guess_media_type(compact: &str) -> &'static str {
    if compact.contains('~') {
        MEDIA_VC_SD_JWT
    } else {
        MEDIA_VC_JWT
    }
}

/// Parses any supported secured credential into its credential and proof.
fn open_credential(value: &Value) -> Result<(Value, Secured), Error> {
    let enveloped = value.is_string()
        || value.get("type").and_then(Value::as_str) == Some("EnvelopedVerifiableCredential");
    if !enveloped {
        let proof = di::open(value)?;
        let mut credential = value.clone();
        if let Some(o) = credential.as_object_mut() {
            o.remove("proof");
        }
        return Ok((credential, Secured::DataIntegrity(Box::new(proof))));
    }
    let (media_type, compact) = unenvelope(value).ok_or_else(|| {
        Error::Malformed(
            "an EnvelopedVerifiableCredential's id must be a data: URL (data:application/vc+jwt,…)"
                .into(),
        )
    })?;
    match media_type.as_str() {
        MEDIA_VC_JWT => {
            let jws = Jws::parse(&compact, Some(jose::VC_JWT))?;
            let credential = Value::Object(jws.payload.clone());
            Ok((credential, Secured::Jose(Box::new(jws))))
        }
        MEDIA_VC_SD_JWT => {
            let opened = sdjwt::open(&compact)?;
            let mut claims = opened.claims.clone();
            // `cnf` binds the credential to the holder's key; it is not a credential property.
            claims.remove("cnf");
            Ok((Value::Object(claims), Secured::SdJwt(Box::new(opened))))
        }
        other => Err(Error::Unsupported(format!(
            "enveloped media type {other} is not supported: expected {MEDIA_VC_JWT} or {MEDIA_VC_SD_JWT}"
        ))),
    }
}

fn error_reason(e: &Error) -> Reason {
    match e {
        Error::Unsupported(_) => Reason::Unsupported,
        Error::Malformed(_) | Error::Invalid(_) => Reason::Malformed,
    }
}

/// The issuer-side checks of one credential; `status` and `trust` only when asked.
struct CredentialOutcome {
    report: Report,
    credential: Option<Credential>,
    /// For SD-JWT: the holder key the credential is bound to (`cnf.kid`) and the key binding.
    sd: Option<Box<sdjwt::Opened>>,
}

fn check_credential(
    value: &Value,
    lookup: &dyn Lookup,
    options: &Options,
    full: bool,
) -> CredentialOutcome {
    let mut report = Report::default();
    let fail_format = |mut report: Report, e: &Error| {
        report.fail("format", error_reason(e), e.to_string());
        CredentialOutcome {
            report: report.finish(&["format"]),
            credential: None,
            sd: None,
        }
    };
    let (json, secured) = match open_credential(value) {
        Ok(x) => x,
        Err(e) => return fail_format(report, &e),
    };
    let credential = match Credential::check(&json) {
        Ok(c) => c,
        Err(e) => return fail_format(report, &e),
    };
    let statuses = match StatusEntry::all_of(&json) {
        Ok(s) => s,
        Err(e) => return fail_format(report, &e),
    };
    let kind = match &secured {
        Secured::DataIntegrity(p) => p.cryptosuite.as_str(),
        Secured::Jose(_) => "vc+jwt",
        Secured::SdJwt(_) => "vc+sd-jwt",
    };
    report.pass(
        "format",
        format!("a VC Data Model 2.0 credential secured with {kind}"),
    );

    // The issuer.
    let issuer = credential.issuer().to_string();
    let resolved = match lookup.resolve(&issuer) {
        Ok(r) => r,
        Err(e) => {
            report.fail("issuer", Reason::IssuerUnresolved, format!("{issuer}: {e}"));
            return CredentialOutcome {
                report: report.finish(&[]),
                credential: Some(credential),
                sd: None,
            };
        }
    };
    if resolved.deactivated {
        report.fail(
            "issuer",
            Reason::IssuerDeactivated,
            format!("{issuer} is deactivated"),
        );
    } else {
        report.pass("issuer", format!("{issuer} resolved ({})", resolved.source));
    }

    // The proof.
    let mut sd = None;
    let mut jwt_claims = None;
    let mut proof_expires = None;
    match secured {
        Secured::DataIntegrity(proof) => {
            if proof.purpose != "assertionMethod" {
                report.fail(
                    "proof",
                    Reason::WrongRelationship,
                    format!(
                        "the proof's purpose is {}, not assertionMethod",
                        proof.purpose
                    ),
                );
            } else {
                check_signature(
                    &mut report,
                    "proof",
                    &resolved,
                    &issuer,
                    &proof.verification_method,
                    "assertionMethod",
                    (&proof.hash_data, &proof.signature),
                );
            }
            proof_expires = proof.expires.clone();
        }
        Secured::Jose(jws) => {
            check_jwt_issuer(&mut report, &jws, &issuer, &resolved);
            jwt_claims = Some(jws.payload.clone());
        }
        Secured::SdJwt(opened) => {
            check_jwt_issuer(&mut report, &opened.issuer_jwt, &issuer, &resolved);
            jwt_claims = Some(opened.issuer_jwt.payload.clone());
            sd = Some(opened);
        }
    }

    // The validity period, with a JWT's own `nbf` / `exp` and a proof's `expires` when present.
    let now = options.now;
    let mut limits: Vec<(&str, Option<u64>, Option<u64>)> = Vec::new();
    if let Some(jws) = &jwt_claims {
        let from = jws.get("nbf").and_then(Value::as_u64);
        let until = jws.get("exp").and_then(Value::as_u64);
        limits.push(("the JWT", from, until));
    }
    if let Some(expires) = &proof_expires {
        match model::parse_datetime(expires, "proof.expires") {
            Ok(t) => limits.push(("the proof", None, Some(t))),
            Err(e) => report.fail("validity", Reason::Malformed, e.to_string()),
        }
    }
    for (what, from, until) in limits {
        if let Some(from) = from
            && now < from
        {
            report.fail(
                "validity",
                Reason::NotYetValid,
                format!(
                    "{what} is not valid before {}",
                    weft_did::format_time(from * 1000)
                ),
            );
        }
        if let Some(until) = until
            && now >= until
        {
            report.fail(
                "validity",
                Reason::Expired,
                format!("{what} expired at {}", weft_did::format_time(until * 1000)),
            );
        }
    }
    match (credential.valid_from(), credential.valid_until()) {
        (Ok(Some(from)), _) if now < from => report.fail(
            "validity",
            Reason::NotYetValid,
            format!(
                "valid from {}, after now ({})",
                weft_did::format_time(from * 1000),
                weft_did::format_time(now * 1000)
            ),
        ),
        (_, Ok(Some(until))) if now >= until => report.fail(
            "validity",
            Reason::Expired,
            format!(
                "expired at {} (now {})",
                weft_did::format_time(until * 1000),
                weft_did::format_time(now * 1000)
            ),
        ),
        (Err(e), _) | (_, Err(e)) => report.fail("validity", Reason::Malformed, e.to_string()),
        _ if report.failed("validity").is_some() => {}
        _ => report.pass("validity", "within its validity period"),
    }

    if full {
        check_status(&mut report, &statuses, &issuer, lookup, options);
        check_trust(&mut report, &credential, lookup, options);
    }
    let required: &[&str] = if full {
        &["format", "issuer", "proof", "validity", "status", "trust"]
    } else {
        &["format", "issuer", "proof", "validity"]
    };
    CredentialOutcome {
        report: report.finish(required),
        credential: Some(credential),
        sd,
    }
}

fn check_jwt_issuer(report: &mut Report, jws: &Jws, issuer: &str, resolved: &Resolved) {
    if let Some(iss) = jws.payload.get("iss").and_then(Value::as_str)
        && iss != issuer
    {
        report.fail(
            "proof",
            Reason::Malformed,
            format!("the JWT's iss ({iss}) is not the credential's issuer ({issuer})"),
        );
        return;
    }
    match jws.kid() {
        Ok(kid) => {
            check_signature(
                report,
                "proof",
                resolved,
                issuer,
                kid,
                "assertionMethod",
                (jws.signing_input.as_bytes(), &jws.signature),
            );
        }
        Err(e) => report.fail("proof", Reason::Malformed, e.to_string()),
    }
}

fn check_status(
    report: &mut Report,
    entries: &[StatusEntry],
    issuer: &str,
    lookup: &dyn Lookup,
    options: &Options,
) {
    if entries.is_empty() {
        report.pass("status", "the credential has no status entry");
        return;
    }
    for entry in entries {
        let value = match lookup.status(entry, issuer) {
            Ok(StatusEvidence::Value { value, source }) => Ok((value, source)),
            Ok(StatusEvidence::ListCredential(list)) => {
                read_list_credential(&list, entry, issuer, lookup, options)
            }
            Err(e) => Err(e),
        };
        let (value, source) = match value {
            Ok(v) => v,
            Err((code, detail)) => {
                report.fail(
                    "status",
                    Reason::StatusError,
                    format!("{}: {detail}", code.as_str()),
                );
                continue;
            }
        };
        let at = format!(
            "{} entry {} of {}",
            entry.purpose, entry.index, entry.list_url
        );
        match (entry.purpose.as_str(), value) {
            ("revocation", 0) | ("suspension", 0) => {
                report.pass("status", format!("{at} is not set ({source})"));
            }
            ("revocation", _) => report.fail(
                "status",
                Reason::Revoked,
                format!("{at}: revoked ({source})"),
            ),
            ("suspension", _) => {
                report.fail(
                    "status",
                    Reason::Suspended,
                    format!("{at}: suspended ({source})"),
                );
            }
            (_, value) => {
                let message = entry.message(value).unwrap_or("no message given");
                report.pass(
                    "status",
                    format!("{at} has value {value:#x}: {message} ({source})"),
                );
            }
        }
    }
}

/// Checks an issuer-secured list credential and reads `entry` from it.
fn read_list_credential(
    list: &Value,
    entry: &StatusEntry,
    issuer: &str,
    lookup: &dyn Lookup,
    options: &Options,
) -> Result<(u8, String), (StatusErrorCode, String)> {
    let outcome = check_credential(list, lookup, options, false);
    if !outcome.report.verified {
        let why: Vec<String> = outcome
            .report
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .map(|c| format!("{}: {}", c.check, c.detail))
            .collect();
        return Err((
            StatusErrorCode::Verification,
            format!(
                "the status list credential does not verify ({})",
                why.join("; ")
            ),
        ));
    }
    let Some(credential) = outcome.credential else {
        return Err((StatusErrorCode::Verification, "no list credential".into()));
    };
    if credential.json.get("id").and_then(Value::as_str) != Some(entry.list_url.as_str()) {
        return Err((
            StatusErrorCode::Verification,
            format!(
                "the status list credential's id is {:?}, not the URL the entry names ({})",
                credential.json.get("id"),
                entry.list_url
            ),
        ));
    }
    if credential.issuer() != issuer {
        return Err((
            StatusErrorCode::Verification,
            format!(
                "the status list was issued by {}, not by the credential's issuer {issuer}",
                credential.issuer()
            ),
        ));
    }
    let (purpose, bits) = bitstring::list_of(&credential.to_value())
        .map_err(|e| (StatusErrorCode::MalformedValue, e.to_string()))?;
    if purpose != entry.purpose {
        return Err((
            StatusErrorCode::Verification,
            format!(
                "the list's purpose is {purpose}, the entry's {}",
                entry.purpose
            ),
        ));
    }
    let value = entry.read(&bits)?;
    Ok((value, "the issuer-signed status list credential".into()))
}

fn check_trust(
    report: &mut Report,
    credential: &Credential,
    lookup: &dyn Lookup,
    options: &Options,
) {
    if options.trusted_roots.is_empty() {
        report.skip(
            "trust",
            "the verifier named no trusted roots, so the issuer's accreditation was not checked",
        );
        return;
    }
    let types = credential.specific_types();
    if types.is_empty() {
        report.fail(
            "trust",
            Reason::NotAccredited,
            "the credential has no type besides VerifiableCredential to be accredited for",
        );
        return;
    }
    for credential_type in types {
        match walk(
            lookup,
            credential.issuer(),
            credential_type,
            &options.trusted_roots,
            // The verifier's clock has second precision; block times have milliseconds.
            options.now * 1000 + 999,
        ) {
            Ok(chain) => {
                let path: Vec<String> = chain
                    .iter()
                    .map(|(a, source)| {
                        format!(
                            "{} by {} ({source})",
                            short(&a.subject),
                            short(&a.authority)
                        )
                    })
                    .collect();
                report.pass(
                    "trust",
                    if path.is_empty() {
                        format!("{} is a trusted root", credential.issuer())
                    } else {
                        format!("accredited for {credential_type}: {}", path.join(", "))
                    },
                );
            }
            Err(e) => report.fail("trust", Reason::NotAccredited, e),
        }
    }
}

fn short(id: &DidId) -> String {
    let hex = id.to_string();
    format!("{}…", &hex[..hex.len().min(10)])
}

/// The most accreditations one walk reads: a dense graph of accreditations that never reaches
/// a root must not make a verifier do exponential work.
pub const MAX_WALK_LOOKUPS: usize = 128;
/// The most failed paths a walk reports.
const MAX_TRIED: usize = 12;

/// State of one walk.
struct Walk<'a> {
    lookup: &'a dyn Lookup,
    credential_type: &'a str,
    roots: &'a [String],
    now_ms: u64,
    path: Vec<(Accreditation, String)>,
    visiting: Vec<String>,
    /// Subjects (with whether they must be allowed to accredit) from which no root was reached.
    dead_ends: std::collections::HashSet<(String, bool)>,
    lookups: usize,
    tried: Vec<String>,
}

impl Walk<'_> {
    fn note(&mut self, why: String) {
        self.tried.push(why);
    }

    fn search(&mut self, subject: &str, accredit: bool) -> bool {
        if self.path.len() >= MAX_CHAIN {
            self.note(format!("stopped at {MAX_CHAIN} links"));
            return false;
        }
        if self.dead_ends.contains(&(subject.to_string(), accredit)) {
            return false;
        }
        let authorities = match self.lookup.accreditors(subject) {
            Ok(a) => a,
            Err(e) => {
                self.note(format!(
                    "the accreditors of {subject} could not be read: {e}"
                ));
                return false;
            }
        };
        for authority in authorities {
            if self.visiting.contains(&authority) {
                continue;
            }
            self.lookups += 1;
            if self.lookups > MAX_WALK_LOOKUPS {
                self.note(format!("stopped after {MAX_WALK_LOOKUPS} accreditations"));
                return false;
            }
            let (accreditation, source) = match self.lookup.accreditation(subject, &authority) {
                Ok(Some(a)) => a,
                Ok(None) => continue,
                Err(e) => {
                    self.note(format!("{authority} → {subject}: {e}"));
                    continue;
                }
            };
            if let Err(e) = accreditation.check(self.credential_type, self.now_ms, accredit) {
                self.note(format!("{authority} → {subject}: {e}"));
                continue;
            }
            match self.lookup.resolve(&authority) {
                Ok(r) if !r.deactivated => {}
                Ok(_) => {
                    self.note(format!("{authority} is deactivated"));
                    continue;
                }
                Err(e) => {
                    self.note(format!("{authority}: {e}"));
                    continue;
                }
            }
            self.path.push((accreditation, source));
            if self.roots.contains(&authority) {
                return true;
            }
            self.visiting.push(authority.clone());
            if self.search(&authority, true) {
                return true;
            }
            self.visiting.pop();
            self.path.pop();
        }
        self.dead_ends.insert((subject.to_string(), accredit));
        false
    }
}

/// The chain of accreditations from `issuer` for `credential_type` to one of `roots`, issuer's
/// link first (empty if the issuer is a root), each with how it was established; or why there is
/// none, naming the paths tried. At most [`MAX_WALK_LOOKUPS`] accreditations are read.
pub fn walk(
    lookup: &dyn Lookup,
    issuer: &str,
    credential_type: &str,
    roots: &[String],
    now_ms: u64,
) -> Result<Vec<(Accreditation, String)>, String> {
    if roots.iter().any(|r| r == issuer) {
        return Ok(Vec::new());
    }
    let mut walk = Walk {
        lookup,
        credential_type,
        roots,
        now_ms,
        path: Vec::new(),
        visiting: vec![issuer.to_string()],
        dead_ends: Default::default(),
        lookups: 0,
        tried: Vec::new(),
    };
    if walk.search(issuer, false) {
        return Ok(walk.path);
    }
    let mut tried = walk.tried;
    if tried.is_empty() {
        return Err(format!(
            "{issuer} is not accredited by anyone for {credential_type}"
        ));
    }
    let more = tried.len().saturating_sub(MAX_TRIED);
    tried.truncate(MAX_TRIED);
    if more > 0 {
        tried.push(format!("and {more} more"));
    }
    Err(format!(
        "no valid accreditation of {issuer} for {credential_type} leads to a trusted root: {}",
        tried.join("; ")
    ))
}

/// Verifies one credential: format, issuer, proof, validity, status and trust.
pub fn verify_credential(value: &Value, lookup: &dyn Lookup, options: &Options) -> Report {
    check_credential(value, lookup, options, true).report
}

/// A presentation taken apart.
struct OpenedPresentation {
    holder: Option<String>,
    credentials: Vec<Value>,
    /// The holder's key, what it signed and the signature.
    proof: HolderProof,
}

enum HolderProof {
    Signed {
        method: String,
        message: Vec<u8>,
        signature: [u8; 64],
        challenge: Option<String>,
        domain: Option<String>,
    },
    /// An SD-JWT with key binding: the credential and its holder proof in one.
    SdJwt,
}

fn open_presentation(value: &Value) -> Result<OpenedPresentation, Error> {
    let enveloped = value.is_string()
        || value.get("type").and_then(Value::as_str) == Some("EnvelopedVerifiablePresentation");
    if !enveloped {
        let proof = di::open(value)?;
        if proof.purpose != "authentication" {
            return Err(Error::Invalid(format!(
                "the presentation's proof purpose is {}, not authentication",
                proof.purpose
            )));
        }
        let (holder, credentials) = model::check_presentation(value)?;
        return Ok(OpenedPresentation {
            holder,
            credentials,
            proof: HolderProof::Signed {
                method: proof.verification_method,
                message: proof.hash_data.to_vec(),
                signature: proof.signature,
                challenge: proof.challenge,
                domain: proof.domain,
            },
        });
    }
    let (media_type, compact) = unenvelope(value).ok_or_else(|| {
        Error::Malformed(
            "an EnvelopedVerifiablePresentation's id must be a data: URL (data:application/vp+jwt,…)"
                .into(),
        )
    })?;
    match media_type.as_str() {
        MEDIA_VP_JWT => {
            let jws = Jws::parse(&compact, Some(jose::VP_JWT))?;
            let payload = Value::Object(jws.payload.clone());
            let (holder, credentials) = model::check_presentation(&payload)?;
            let string = |name: &str| {
                payload
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            Ok(OpenedPresentation {
                holder,
                credentials,
                proof: HolderProof::Signed {
                    method: jws.kid()?.to_string(),
                    message: jws.signing_input.as_bytes().to_vec(),
                    signature: jws.signature,
                    challenge: string("nonce"),
                    domain: string("aud"),
                },
            })
        }
        MEDIA_VC_SD_JWT | MEDIA_VC_JWT => Ok(OpenedPresentation {
            holder: None,
            credentials: vec![crate::issue::envelope(&media_type, &compact)],
            proof: HolderProof::SdJwt,
        }),
        other => Err(Error::Unsupported(format!(
            "enveloped media type {other} is not supported: expected {MEDIA_VP_JWT} or {MEDIA_VC_SD_JWT}"
        ))),
    }
}

fn resolve_holder(report: &mut Report, lookup: &dyn Lookup, did: &str) -> Option<Resolved> {
    match lookup.resolve(did) {
        Ok(r) if r.deactivated => {
            report.fail(
                "holder",
                Reason::HolderUnresolved,
                format!("{did} is deactivated"),
            );
            None
        }
        Ok(r) => Some(r),
        Err(e) => {
            report.fail("holder", Reason::HolderUnresolved, format!("{did}: {e}"));
            None
        }
    }
}

fn check_challenge_and_domain(
    report: &mut Report,
    challenge: Option<&str>,
    domain: Option<&str>,
    holder_proven: bool,
    options: &Options,
    challenges: &dyn Challenges,
) {
    match (&options.challenge, challenge) {
        (None, _) => report.fail(
            "challenge",
            Reason::WrongChallenge,
            "the verifier named no challenge; a presentation without one could be a replay",
        ),
        (Some(_), None) => report.fail(
            "challenge",
            Reason::WrongChallenge,
            "the presentation carries no challenge",
        ),
        (Some(expected), Some(got)) if expected != got => report.fail(
            "challenge",
            Reason::WrongChallenge,
            format!("the presentation answers challenge {got:?}, not {expected:?}"),
        ),
        (Some(expected), Some(_)) if !holder_proven => report.fail(
            "challenge",
            Reason::WrongChallenge,
            format!("challenge {expected:?} is not proven: the holder's proof failed"),
        ),
        (Some(expected), Some(_)) => match challenges.consume(expected, options.now) {
            Ok(()) => report.pass("challenge", "the verifier's challenge, used once"),
            Err(e) => report.fail("challenge", Reason::ChallengeReused, e),
        },
    }
    match (&options.domain, domain) {
        (None, _) => report.pass("domain", "the verifier expects no particular domain"),
        (Some(expected), Some(got)) if expected == got => {
            report.pass("domain", format!("meant for {got}"));
        }
        (Some(expected), got) => report.fail(
            "domain",
            Reason::WrongDomain,
            format!("the presentation is meant for {got:?}, not {expected:?}"),
        ),
    }
}

/// Verifies a presentation: the holder's proof, challenge, domain, and each credential in full
/// with its binding to the holder.
pub fn verify_presentation(
    value: &Value,
    lookup: &dyn Lookup,
    options: &Options,
    challenges: &dyn Challenges,
) -> Report {
    let mut report = Report::default();
    let opened = match open_presentation(value) {
        Ok(p) => p,
        Err(e) => {
            report.fail("format", error_reason(&e), e.to_string());
            return report.finish(&["format"]);
        }
    };
    if opened.credentials.is_empty() {
        report.fail(
            "format",
            Reason::Malformed,
            "the presentation holds no credential",
        );
        return report.finish(&["format"]);
    }
    report.pass("format", "a VC Data Model 2.0 presentation");

    match opened.proof {
        HolderProof::Signed {
            method,
            message,
            signature,
            challenge,
            domain,
        } => {
            let holder = opened
                .holder
                .clone()
                .unwrap_or_else(|| method.split('#').next().unwrap_or_default().to_string());
            let proven = match resolve_holder(&mut report, lookup, &holder) {
                Some(resolved) => check_signature(
                    &mut report,
                    "holder",
                    &resolved,
                    &holder,
                    &method,
                    "authentication",
                    (&message, &signature),
                ),
                None => false,
            };
            check_challenge_and_domain(
                &mut report,
                challenge.as_deref(),
                domain.as_deref(),
                proven,
                options,
                challenges,
            );
            for credential in &opened.credentials {
                let outcome = check_credential(credential, lookup, options, true);
                let bound = match (&outcome.credential, &outcome.sd) {
                    (_, Some(_)) => Err(
                        "an SD-JWT credential is presented with its own key binding JWT, not inside a presentation"
                            .to_string(),
                    ),
                    (Some(c), None) if c.subject_ids().contains(&holder.as_str()) => Ok(()),
                    (Some(c), None) => Err(format!(
                        "the credential is about {:?}, not the holder {holder}",
                        c.subject_ids()
                    )),
                    (None, None) => Err("the credential could not be read".into()),
                };
                match bound {
                    Ok(()) => report.pass("binding", format!("a credential about {holder}")),
                    Err(e) => report.fail("binding", Reason::HolderMismatch, e),
                }
                report.credentials.push(outcome.report);
            }
        }
        HolderProof::SdJwt => {
            let credential = &opened.credentials[0];
            let outcome = check_credential(credential, lookup, options, true);
            check_key_binding(&mut report, &outcome, lookup, options, challenges);
            report.credentials.push(outcome.report);
        }
    }
    report.finish(&["format", "holder", "challenge", "domain", "binding"])
}

/// The holder side of an SD-JWT presentation: the key binding JWT by the key in `cnf`.
fn check_key_binding(
    report: &mut Report,
    outcome: &CredentialOutcome,
    lookup: &dyn Lookup,
    options: &Options,
    challenges: &dyn Challenges,
) {
    let Some(opened) = &outcome.sd else {
        report.fail(
            "holder",
            Reason::Malformed,
            "a presentation needs a holder proof; this credential has none",
        );
        return;
    };
    let cnf = opened
        .issuer_jwt
        .payload
        .get("cnf")
        .and_then(|c| c.get("kid"))
        .and_then(Value::as_str);
    let Some(cnf) = cnf else {
        report.fail(
            "binding",
            Reason::HolderMismatch,
            "the SD-JWT names no holder key (cnf.kid); anyone holding it could present it",
        );
        return;
    };
    let Some(kb) = &opened.key_binding else {
        report.fail(
            "holder",
            Reason::HolderMismatch,
            "the SD-JWT has no key binding JWT: nothing shows the presenter holds the key",
        );
        return;
    };
    let holder = cnf.split('#').next().unwrap_or_default().to_string();
    let kid_ok = kb.kid().map_or(true, |kid| kid == cnf);
    let proven = match resolve_holder(report, lookup, &holder) {
        Some(resolved) if kid_ok && opened.sd_hash_matches => check_signature(
            report,
            "holder",
            &resolved,
            &holder,
            cnf,
            "authentication",
            (kb.signing_input.as_bytes(), &kb.signature),
        ),
        Some(_) if !kid_ok => {
            report.fail(
                "holder",
                Reason::HolderMismatch,
                format!(
                    "the key binding JWT is signed by {}, not the bound key {cnf}",
                    kb.kid().unwrap_or("an unnamed key")
                ),
            );
            false
        }
        Some(_) => {
            report.fail(
                "holder",
                Reason::Malformed,
                "the key binding JWT's sd_hash does not match the presented SD-JWT",
            );
            false
        }
        None => false,
    };
    let iat = kb.payload.get("iat").and_then(Value::as_u64).unwrap_or(0);
    let max_age = options.max_age.unwrap_or(300);
    if proven && (iat.saturating_add(max_age) < options.now || iat > options.now.saturating_add(60))
    {
        report.fail(
            "holder",
            Reason::Expired,
            format!(
                "the key binding JWT was made at {iat}, not within {max_age} s of now ({})",
                options.now
            ),
        );
    }
    let string = |name: &str| kb.payload.get(name).and_then(Value::as_str);
    check_challenge_and_domain(
        report,
        string("nonce"),
        string("aud"),
        proven,
        options,
        challenges,
    );
    if proven {
        report.pass(
            "binding",
            format!("bound to {cnf}, which signed the key binding JWT"),
        );
    } else {
        report.fail(
            "binding",
            Reason::HolderMismatch,
            format!("not proven to be presented by {cnf}"),
        );
    }
}
