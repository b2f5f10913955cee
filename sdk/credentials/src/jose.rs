//! Compact JWS with EdDSA (RFC 7515, RFC 8037), as VC-JOSE-COSE secures credentials
//! (`typ: vc+jwt`) and presentations (`typ: vp+jwt`), and SD-JWT its issuer JWTs and key binding
//! JWTs. The payload of a `vc+jwt` is the credential itself; `kid` is the DID URL of the key.

use crate::error::Error;
use crate::signer::Signer;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value, json};

/// `typ` of a credential secured with JOSE.
pub const VC_JWT: &str = "vc+jwt";
/// `typ` of a presentation secured with JOSE.
pub const VP_JWT: &str = "vp+jwt";
/// `typ` of a credential secured with SD-JWT.
pub const VC_SD_JWT: &str = "vc+sd-jwt";
/// `typ` of an SD-JWT key binding JWT.
pub const KB_JWT: &str = "kb+jwt";

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes base64url without padding, naming `what` on failure.
pub fn unb64(text: &str, what: &str) -> Result<Vec<u8>, Error> {
    B64.decode(text)
        .map_err(|e| Error::Malformed(format!("{what} is not base64url without padding: {e}")))
}

/// Signs `payload` as a compact JWS with header `{alg: EdDSA, typ, kid, cty?}`.
pub fn sign(payload: &Value, typ: &str, cty: Option<&str>, signer: &Signer) -> String {
    let mut header = json!({"alg": "EdDSA", "typ": typ, "kid": signer.method()});
    if let Some(cty) = cty {
        header["cty"] = cty.into();
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// A compact JWS taken apart; its signature is not checked yet.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload, a JSON object.
    pub payload: Map<String, Value>,
    /// What was signed: `header.payload` as sent.
    pub signing_input: String,
    /// The signature.
    pub signature: [u8; 64],
}

impl Jws {
    /// Parses a compact JWS with `alg: EdDSA` whose header's `typ`, when present, is `typ`
    /// (VC-JOSE-COSE says SHOULD; the key binding JWT of SD-JWT requires it: [`Jws::parse_typed`]).
    pub fn parse(text: &str, typ: Option<&str>) -> Result<Self, Error> {
        Self::parse_with(text, typ, false)
    }

    /// Like [`Jws::parse`], with `typ` required.
    pub fn parse_typed(text: &str, typ: &str) -> Result<Self, Error> {
        Self::parse_with(text, Some(typ), true)
    }

    fn parse_with(text: &str, typ: Option<&str>, required: bool) -> Result<Self, Error> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(Error::Malformed(format!(
                "a compact JWS has three parts separated by dots, not {}",
                parts.len()
            )));
        };
        let header_json: Value = serde_json::from_slice(&unb64(header, "the JWS header")?)
            .map_err(|e| Error::Malformed(format!("the JWS header is not JSON: {e}")))?;
        let Value::Object(header_map) = header_json else {
            return Err(Error::Malformed(
                "the JWS header is not a JSON object".into(),
            ));
        };
        let alg = header_map.get("alg").and_then(Value::as_str);
        if !matches!(alg, Some("EdDSA" | "Ed25519")) {
            return Err(Error::Unsupported(format!(
                "JWS algorithm {alg:?} is not supported: expected EdDSA (Ed25519)"
            )));
        }
        if header_map.contains_key("crit") {
            return Err(Error::Unsupported(
                "the JWS header has critical extensions (crit), which this verifier does not understand".into(),
            ));
        }
        if let Some(expected) = typ {
            let got = header_map.get("typ").and_then(Value::as_str);
            if got != Some(expected) && (required || got.is_some()) {
                return Err(Error::Invalid(format!(
                    "the JWS header's typ is {got:?}, expected {expected:?}"
                )));
            }
        }
        let payload_json: Value = serde_json::from_slice(&unb64(payload, "the JWS payload")?)
            .map_err(|e| Error::Malformed(format!("the JWS payload is not JSON: {e}")))?;
        let Value::Object(payload_map) = payload_json else {
            return Err(Error::Malformed(
                "the JWS payload is not a JSON object".into(),
            ));
        };
        let signature: [u8; 64] =
            unb64(signature, "the JWS signature")?
                .try_into()
                .map_err(|b: Vec<u8>| {
                    Error::Malformed(format!(
                        "the JWS signature has {} bytes; Ed25519 has 64",
                        b.len()
                    ))
                })?;
        Ok(Self {
            header: header_map,
            payload: payload_map,
            signing_input: format!("{header}.{payload}"),
            signature,
        })
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Result<&str, Error> {
        self.header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Malformed("the JWS header has no kid (the key's DID URL)".into()))
    }
}
