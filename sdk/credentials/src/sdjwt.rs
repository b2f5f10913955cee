//! Selective disclosure with SD-JWT (RFC 9901), for credentials secured as `vc+sd-jwt`
//! (VC-JOSE-COSE): the issuer signs a credential whose selectively disclosable claims are
//! replaced by salted SHA-256 digests (`_sd`), and hands the holder one disclosure
//! (`[salt, name, value]`) per claim. The holder presents the issuer JWT with the disclosures it
//! chooses and a key binding JWT (`kb+jwt`) signed with the key the credential names in `cnf`,
//! over the verifier's `nonce` and `aud` and the hash of what it presents (`sd_hash`).
//!
//! Serialization: `<issuer JWT>~<disclosure>~…~<KB-JWT>` (the last part empty without key
//! binding).

use crate::error::Error;
use crate::jose::{self, Jws, b64, unb64};
use crate::signer::Signer;
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// The digest of a disclosure: base64url of SHA-256 of its ASCII text.
pub fn digest(disclosure: &str) -> String {
    b64(&Sha256::digest(disclosure.as_bytes()))
}

/// A new disclosure of `name: value` with a fresh 128-bit salt.
pub fn disclosure(name: &str, value: &Value) -> String {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    b64(json!([b64(&salt), name, value]).to_string().as_bytes())
}

/// An SD-JWT split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdJwt {
    /// The issuer-signed JWT.
    pub jwt: String,
    /// The disclosures presented.
    pub disclosures: Vec<String>,
    /// The key binding JWT, if any.
    pub key_binding: Option<String>,
}

impl SdJwt {
    /// Splits `text` at `~`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let mut parts: Vec<&str> = text.split('~').collect();
        if parts.len() < 2 {
            return Err(Error::Malformed(
                "an SD-JWT is the issuer JWT, then ~, disclosures each followed by ~, then an optional key binding JWT".into(),
            ));
        }
        let last = parts.pop().unwrap_or_default();
        let jwt = parts.remove(0).to_string();
        if parts.iter().any(|d| d.is_empty()) {
            return Err(Error::Malformed(
                "an SD-JWT has an empty disclosure (~~)".into(),
            ));
        }
        Ok(Self {
            jwt,
            disclosures: parts.iter().map(|d| d.to_string()).collect(),
            key_binding: (!last.is_empty()).then(|| last.to_string()),
        })
    }

    /// The text before the key binding JWT, ending with `~`: what `sd_hash` covers.
    pub fn without_key_binding(&self) -> String {
        let mut out = self.jwt.clone();
        out.push('~');
        for d in &self.disclosures {
            out.push_str(d);
            out.push('~');
        }
        out
    }

    /// The serialization.
    pub fn serialize(&self) -> String {
        let mut out = self.without_key_binding();
        if let Some(kb) = &self.key_binding {
            out.push_str(kb);
        }
        out
    }
}

/// Issues `credential` as a `vc+sd-jwt` with each property of `credentialSubject` named in
/// `disclosable` selectively disclosable and the holder's key `holder_method` (a DID URL) in
/// `cnf`. Returns the SD-JWT with every disclosure, for the holder.
pub fn issue(
    credential: &Value,
    signer: &Signer,
    holder_method: &str,
    disclosable: &[&str],
) -> Result<String, Error> {
    let mut payload = credential
        .as_object()
        .cloned()
        .ok_or_else(|| Error::Malformed("the credential must be a JSON object".into()))?;
    let subject = payload
        .get_mut("credentialSubject")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            Error::Malformed(
                "an SD-JWT credential needs one credentialSubject object to hide claims in".into(),
            )
        })?;
    let mut disclosures = Vec::new();
    let mut digests = Vec::new();
    for name in disclosable {
        let Some(value) = subject.remove(*name) else {
            return Err(Error::Invalid(format!(
                "credentialSubject has no {name:?} to make selectively disclosable"
            )));
        };
        if *name == "id" {
            return Err(Error::Invalid(
                "credentialSubject.id binds the credential to its holder and stays visible".into(),
            ));
        }
        let d = disclosure(name, &value);
        digests.push(digest(&d));
        disclosures.push(d);
    }
    // Sorted digests reveal nothing about the order of the claims.
    digests.sort();
    subject.insert("_sd".into(), json!(digests));
    payload.insert("_sd_alg".into(), "sha-256".into());
    payload.insert("cnf".into(), json!({"kid": holder_method}));
    let jwt = jose::sign(&Value::Object(payload), jose::VC_SD_JWT, Some("vc"), signer);
    Ok(SdJwt {
        jwt,
        disclosures,
        key_binding: None,
    }
    .serialize())
}

/// The holder presents `sd_jwt` revealing only the claims named in `reveal`, bound to the
/// verifier's `nonce` and `aud` at `iat` (seconds since the Unix epoch) with `holder`'s key.
pub fn present(
    sd_jwt: &str,
    reveal: &[&str],
    holder: &Signer,
    nonce: &str,
    aud: &str,
    iat: u64,
) -> Result<String, Error> {
    let mut parsed = SdJwt::parse(sd_jwt)?;
    let mut kept = Vec::new();
    for d in parsed.disclosures {
        let (name, _) = decode_disclosure(&d)?;
        if name.as_deref().is_some_and(|n| reveal.contains(&n)) {
            kept.push(d);
        }
    }
    parsed.disclosures = kept;
    parsed.key_binding = None;
    let sd_hash = b64(&Sha256::digest(parsed.without_key_binding().as_bytes()));
    let kb = jose::sign(
        &json!({"nonce": nonce, "aud": aud, "iat": iat, "sd_hash": sd_hash}),
        jose::KB_JWT,
        None,
        holder,
    );
    parsed.key_binding = Some(kb);
    Ok(parsed.serialize())
}

/// A disclosure's claim name (`None` for an array element) and value.
fn decode_disclosure(d: &str) -> Result<(Option<String>, Value), Error> {
    let bytes = unb64(d, "a disclosure")?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Malformed(format!("a disclosure is not JSON: {e}")))?;
    match value {
        Value::Array(mut items) if items.len() == 3 => {
            let value = items.pop().unwrap_or(Value::Null);
            let name = items.pop().unwrap_or(Value::Null);
            let Value::String(name) = name else {
                return Err(Error::Malformed(
                    "a disclosure's claim name must be a string".into(),
                ));
            };
            if name == "_sd" || name == "..." {
                return Err(Error::Malformed(format!(
                    "a disclosure may not name the claim {name:?}"
                )));
            }
            Ok((Some(name), value))
        }
        Value::Array(mut items) if items.len() == 2 => {
            Ok((None, items.pop().unwrap_or(Value::Null)))
        }
        _ => Err(Error::Malformed(
            "a disclosure is a JSON array [salt, name, value] or [salt, value]".into(),
        )),
    }
}

/// An SD-JWT with its disclosures applied; no signature is checked yet.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The issuer JWT.
    pub issuer_jwt: Jws,
    /// The payload with the disclosed claims in place and the digests removed.
    pub claims: Map<String, Value>,
    /// The key binding JWT, if presented.
    pub key_binding: Option<Jws>,
    /// Whether the key binding JWT's `sd_hash` matches what was presented.
    pub sd_hash_matches: bool,
}

/// Parses an SD-JWT, checks that every disclosure is referenced exactly once, and rebuilds the
/// disclosed payload (RFC 9901 §7.1).
pub fn open(text: &str) -> Result<Opened, Error> {
    let parsed = SdJwt::parse(text)?;
    let issuer_jwt = Jws::parse_typed(&parsed.jwt, jose::VC_SD_JWT)?;
    // Only claims about the subject may be withheld: a holder must not be able to leave out
    // the issuer, the types, the validity period or the status.
    for (name, value) in &issuer_jwt.payload {
        if name != "credentialSubject" && has_digests(value) || name == "_sd" {
            return Err(Error::Invalid(format!(
                "the SD-JWT makes {name:?} selectively disclosable; only claims inside credentialSubject may be"
            )));
        }
    }
    let claims = disclose(issuer_jwt.payload.clone(), &parsed.disclosures)?;
    let key_binding = parsed
        .key_binding
        .as_deref()
        .map(|kb| Jws::parse_typed(kb, jose::KB_JWT))
        .transpose()?;
    let sd_hash_matches = key_binding.as_ref().is_some_and(|kb| {
        let expected = b64(&Sha256::digest(parsed.without_key_binding().as_bytes()));
        kb.payload.get("sd_hash").and_then(Value::as_str) == Some(expected.as_str())
    });
    Ok(Opened {
        issuer_jwt,
        claims,
        key_binding,
        sd_hash_matches,
    })
}

/// The issuer JWT's `payload` with `disclosures` in place of their digests and every other
/// digest and `_sd_alg` removed; refuses a disclosure that no digest references or one
/// referenced twice.
pub fn disclose(
    mut payload: Map<String, Value>,
    disclosures: &[String],
) -> Result<Map<String, Value>, Error> {
    match payload.remove("_sd_alg") {
        None => {}
        Some(Value::String(alg)) if alg == "sha-256" => {}
        Some(other) => {
            return Err(Error::Unsupported(format!(
                "_sd_alg {other} is not supported: expected sha-256"
            )));
        }
    }
    let mut by_digest = HashMap::new();
    for d in disclosures {
        if by_digest.insert(digest(d), decode_disclosure(d)?).is_some() {
            return Err(Error::Invalid(
                "the same disclosure is presented twice".into(),
            ));
        }
    }
    let mut seen = HashSet::new();
    let mut claims = Value::Object(payload);
    apply(&mut claims, &by_digest, &mut seen)?;
    if seen.len() != by_digest.len() {
        return Err(Error::Invalid(
            "a disclosure is not referenced by any digest in the issuer JWT".into(),
        ));
    }
    match claims {
        Value::Object(claims) => Ok(claims),
        _ => Err(Error::Malformed(
            "the SD-JWT payload is not an object".into(),
        )),
    }
}

/// Whether `value` holds selective-disclosure digests anywhere (`_sd` or `{"...": …}`).
fn has_digests(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key("_sd") || map.contains_key("...") || map.values().any(has_digests)
        }
        Value::Array(items) => items.iter().any(has_digests),
        _ => false,
    }
}

type Disclosed = HashMap<String, (Option<String>, Value)>;

fn apply(
    value: &mut Value,
    by_digest: &Disclosed,
    seen: &mut HashSet<String>,
) -> Result<(), Error> {
    fn take(
        digest: &str,
        by_digest: &Disclosed,
        seen: &mut HashSet<String>,
    ) -> Result<Option<(Option<String>, Value)>, Error> {
        match by_digest.get(digest) {
            None => Ok(None),
            Some(found) => {
                if !seen.insert(digest.to_string()) {
                    return Err(Error::Invalid(format!(
                        "digest {digest} appears more than once in the issuer JWT"
                    )));
                }
                Ok(Some(found.clone()))
            }
        }
    }
    match value {
        Value::Object(map) => {
            if let Some(sd) = map.remove("_sd") {
                let Value::Array(digests) = sd else {
                    return Err(Error::Malformed("_sd must be an array of digests".into()));
                };
                for d in digests {
                    let Value::String(d) = d else {
                        return Err(Error::Malformed("_sd must hold strings".into()));
                    };
                    if let Some((name, mut claim)) = take(&d, by_digest, seen)? {
                        let Some(name) = name else {
                            return Err(Error::Invalid(
                                "an array-element disclosure is referenced from an object's _sd"
                                    .into(),
                            ));
                        };
                        if map.contains_key(&name) {
                            return Err(Error::Invalid(format!(
                                "the disclosed claim {name:?} is also in the clear"
                            )));
                        }
                        apply(&mut claim, by_digest, seen)?;
                        map.insert(name, claim);
                    }
                }
            }
            for (_, v) in map.iter_mut() {
                apply(v, by_digest, seen)?;
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                let reference = item
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("..."))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match reference {
                    Some(d) => {
                        if let Some((name, mut element)) = take(&d, by_digest, seen)? {
                            if name.is_some() {
                                return Err(Error::Invalid(
                                    "an object-property disclosure is referenced as an array element".into(),
                                ));
                            }
                            apply(&mut element, by_digest, seen)?;
                            out.push(element);
                        }
                    }
                    None => {
                        apply(&mut item, by_digest, seen)?;
                        out.push(item);
                    }
                }
            }
            *items = out;
        }
        _ => {}
    }
    Ok(())
}
