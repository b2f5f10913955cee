//! Data Integrity proofs with the `eddsa-jcs-2022` and `eddsa-rdfc-2022` cryptosuites (W3C
//! Data Integrity EdDSA Cryptosuites v1.0).
//!
//! Both hash the canonical proof configuration and the canonical unsecured document with
//! SHA-256, sign the concatenation (proof configuration hash first) with Ed25519, and carry the
//! signature as `proofValue` in multibase base58-btc. They differ in the canonical form: RFC 8785
//! JSON for `jcs`, RDFC-1.0 N-Quads of the JSON-LD for `rdfc`.

use crate::canon;
use crate::error::Error;
use crate::signer::Signer;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A cryptosuite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cryptosuite {
    /// JSON canonicalization (RFC 8785).
    EddsaJcs2022,
    /// RDF dataset canonicalization (RDFC-1.0).
    EddsaRdfc2022,
}

impl Cryptosuite {
    /// Its `cryptosuite` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EddsaJcs2022 => "eddsa-jcs-2022",
            Self::EddsaRdfc2022 => "eddsa-rdfc-2022",
        }
    }

    /// The suite called `name`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "eddsa-jcs-2022" => Ok(Self::EddsaJcs2022),
            "eddsa-rdfc-2022" => Ok(Self::EddsaRdfc2022),
            other => Err(Error::Unsupported(format!(
                "cryptosuite {other:?} is not supported: expected eddsa-rdfc-2022 or eddsa-jcs-2022"
            ))),
        }
    }

    fn canonicalize(self, value: &Value) -> Result<String, Error> {
        match self {
            Self::EddsaJcs2022 => canon::jcs(value),
            Self::EddsaRdfc2022 => canon::rdfc(value),
        }
    }
}

/// What a proof states besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofOptions {
    /// The cryptosuite.
    pub cryptosuite: Cryptosuite,
    /// `assertionMethod` for credentials, `authentication` for presentations.
    pub purpose: String,
    /// `created`, an XML datetime.
    pub created: String,
    /// A verifier's challenge (presentations).
    pub challenge: Option<String>,
    /// The domain the presentation is meant for.
    pub domain: Option<String>,
}

/// The hash data of a proof: SHA-256 of the canonical proof configuration, then of the
/// canonical document.
pub fn hash_data(
    suite: Cryptosuite,
    unsecured: &Value,
    proof_config: &Value,
) -> Result<[u8; 64], Error> {
    let config = Sha256::digest(suite.canonicalize(proof_config)?.as_bytes());
    let document = Sha256::digest(suite.canonicalize(unsecured)?.as_bytes());
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&config);
    out[32..].copy_from_slice(&document);
    Ok(out)
}

fn object(value: &Value, what: &str) -> Result<Map<String, Value>, Error> {
    value
        .as_object()
        .cloned()
        .ok_or_else(|| Error::Malformed(format!("{what} must be a JSON object")))
}

/// Adds a proof by `signer` to `document` (a credential or presentation without a proof).
pub fn sign(document: &Value, signer: &Signer, options: &ProofOptions) -> Result<Value, Error> {
    let mut unsecured = object(document, "the document")?;
    if unsecured.contains_key("proof") {
        return Err(Error::Invalid(
            "the document already has a proof; Weft adds only the first one".into(),
        ));
    }
    let mut proof = Map::new();
    proof.insert("type".into(), "DataIntegrityProof".into());
    proof.insert("cryptosuite".into(), options.cryptosuite.as_str().into());
    proof.insert("created".into(), options.created.clone().into());
    proof.insert("verificationMethod".into(), signer.method().into());
    proof.insert("proofPurpose".into(), options.purpose.clone().into());
    if let Some(challenge) = &options.challenge {
        proof.insert("challenge".into(), challenge.clone().into());
    }
    if let Some(domain) = &options.domain {
        proof.insert("domain".into(), domain.clone().into());
    }
    let mut config = proof.clone();
    if let Some(context) = unsecured.get("@context") {
        config.insert("@context".into(), context.clone());
    }
    let data = hash_data(
        options.cryptosuite,
        &Value::Object(unsecured.clone()),
        &Value::Object(config.clone()),
    )?;
    let signature = signer.sign(&data);
    // eddsa-jcs-2022 keeps the proof's `@context` (as its test vectors show); rdfc does not.
    let mut proof = if options.cryptosuite == Cryptosuite::EddsaJcs2022 {
        config
    } else {
        proof
    };
    proof.insert(
        "proofValue".into(),
        multibase::encode(multibase::Base::Base58Btc, signature).into(),
    );
    unsecured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(unsecured))
}

/// An embedded proof taken apart.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The cryptosuite.
    pub cryptosuite: Cryptosuite,
    /// The verification method (a DID URL).
    pub verification_method: String,
    /// `proofPurpose`.
    pub purpose: String,
    /// `challenge`, if any.
    pub challenge: Option<String>,
    /// `domain`, if any (one string; a list is refused).
    pub domain: Option<String>,
    /// `created`, if any.
    pub created: Option<String>,
    /// `expires`, if any.
    pub expires: Option<String>,
    /// The signature.
    pub signature: [u8; 64],
    /// What was signed.
    pub hash_data: [u8; 64],
}

fn string(proof: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match proof.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::Malformed(format!("proof.{name} must be a string"))),
    }
}

/// Takes apart `document`'s proof and computes what it signs, following the cryptosuites'
/// verification algorithm; the caller checks the signature against the method's key.
pub fn open(document: &Value) -> Result<Proof, Error> {
    let mut unsecured = object(document, "the document")?;
    let proof = match unsecured.remove("proof") {
        Some(Value::Object(p)) => p,
        Some(Value::Array(_)) => {
            return Err(Error::Unsupported(
                "the document has several proofs (a proof set); Weft verifies exactly one".into(),
            ));
        }
        Some(_) => return Err(Error::Malformed("proof must be a JSON object".into())),
        None => return Err(Error::Malformed("the document has no proof".into())),
    };
    let required = |name: &str| {
        string(&proof, name)?.ok_or_else(|| Error::Malformed(format!("the proof has no {name}")))
    };
    if required("type")? != "DataIntegrityProof" {
        return Err(Error::Unsupported(format!(
            "proof type {:?} is not supported: expected DataIntegrityProof",
            proof.get("type")
        )));
    }
    let cryptosuite = Cryptosuite::parse(&required("cryptosuite")?)?;
    let proof_value = required("proofValue")?;
    let (base, bytes) = multibase::decode(&proof_value)
        .map_err(|e| Error::Malformed(format!("proofValue is not multibase: {e}")))?;
    if base != multibase::Base::Base58Btc {
        return Err(Error::Malformed(
            "proofValue must be multibase base58-btc (starting with z)".into(),
        ));
    }
    let signature: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
        Error::Malformed(format!(
            "proofValue holds {} bytes; an Ed25519 signature has 64",
            b.len()
        ))
    })?;
    if matches!(proof.get("domain"), Some(Value::Array(_))) {
        return Err(Error::Unsupported(
            "proof.domain must be one string here; a list of domains is not supported".into(),
        ));
    }
    let mut config = proof.clone();
    config.remove("proofValue");
    match (config.get("@context"), unsecured.get("@context")) {
        (Some(p), Some(d)) if p != d => {
            return Err(Error::Invalid(
                "the proof's @context differs from the document's".into(),
            ));
        }
        (_, Some(d)) => {
            config.insert("@context".into(), d.clone());
        }
        _ => {}
    }
    let hash_data = hash_data(
        cryptosuite,
        &Value::Object(unsecured),
        &Value::Object(config),
    )?;
    Ok(Proof {
        cryptosuite,
        verification_method: required("verificationMethod")?,
        purpose: required("proofPurpose")?,
        challenge: string(&proof, "challenge")?,
        domain: string(&proof, "domain")?,
        created: string(&proof, "created")?,
        expires: string(&proof, "expires")?,
        signature,
        hash_data,
    })
}
