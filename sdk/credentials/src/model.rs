//! The VC Data Model 2.0 shape of credentials and presentations, checked before anything is
//! signed or verified.

use crate::canon::{CREDENTIALS_V2, bundled_context};
use crate::error::Error;
use serde_json::{Map, Value};

/// Media type of a Data Integrity secured credential (JSON-LD with an embedded proof).
pub const MEDIA_VC: &str = "application/vc";
/// Media type of a credential secured with JOSE.
pub const MEDIA_VC_JWT: &str = "application/vc+jwt";
/// Media type of a credential secured with SD-JWT.
pub const MEDIA_VC_SD_JWT: &str = "application/vc+sd-jwt";
/// Media type of a presentation secured with JOSE.
pub const MEDIA_VP_JWT: &str = "application/vp+jwt";

/// The seconds since the Unix epoch of an XML datetime (`2026-12-01T10:00:00Z`).
pub fn parse_datetime(text: &str, what: &str) -> Result<u64, Error> {
    weft_did::parse_time(text)
        .map(|ms| ms / 1000)
        .map_err(|e| Error::Malformed(format!("{what}: {e}")))
}

fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn type_names(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn check_context(value: &Map<String, Value>, what: &str) -> Result<(), Error> {
    let context = value
        .get("@context")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Invalid(format!("the {what} has no @context list")))?;
    if context.first().and_then(Value::as_str) != Some(CREDENTIALS_V2) {
        return Err(Error::Invalid(format!(
            "the {what}'s @context must start with {CREDENTIALS_V2} (VC Data Model 2.0)"
        )));
    }
    for c in context {
        match c {
            Value::String(url) if bundled_context(url).is_none() => {
                return Err(Error::Unsupported(format!(
                    "context {url} is not one Weft knows; contexts are bundled, never fetched"
                )));
            }
            Value::String(_) | Value::Object(_) => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "the {what}'s @context holds something other than URLs and objects"
                )));
            }
        }
    }
    Ok(())
}

/// A credential whose VC Data Model 2.0 shape was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// The JSON, without any embedded proof.
    pub json: Map<String, Value>,
}

impl Credential {
    /// Checks `value`'s shape: the v2 context first, the `VerifiableCredential` type, an issuer
    /// URL, at least one subject, `validFrom` / `validUntil` datetimes in order.
    pub fn check(value: &Value) -> Result<Self, Error> {
        let mut json = value
            .as_object()
            .cloned()
            .ok_or_else(|| Error::Malformed("a credential must be a JSON object".into()))?;
        json.remove("proof");
        check_context(&json, "credential")?;
        let credential = Self { json };
        if !credential.types().contains(&"VerifiableCredential") {
            return Err(Error::Invalid(
                "the credential's type must include VerifiableCredential".into(),
            ));
        }
        let issuer = credential
            .json
            .get("issuer")
            .and_then(id_of)
            .ok_or_else(|| Error::Invalid("the credential has no issuer (a URL or {id})".into()))?;
        if !issuer.contains(':') {
            return Err(Error::Invalid(format!(
                "the issuer {issuer:?} is not a URL"
            )));
        }
        match credential.json.get("credentialSubject") {
            Some(Value::Object(_)) => {}
            Some(Value::Array(items))
                if !items.is_empty() && items.iter().all(Value::is_object) => {}
            _ => {
                return Err(Error::Invalid(
                    "credentialSubject must be an object or a non-empty list of objects".into(),
                ));
            }
        }
        if credential.json.contains_key("issuanceDate")
            || credential.json.contains_key("expirationDate")
        {
            return Err(Error::Invalid(
                "issuanceDate and expirationDate are VC 1.1; VC 2.0 uses validFrom and validUntil"
                    .into(),
            ));
        }
        let from = credential.valid_from()?;
        let until = credential.valid_until()?;
        if let (Some(from), Some(until)) = (from, until)
            && until < from
        {
            return Err(Error::Invalid("validUntil is before validFrom".into()));
        }
        Ok(credential)
    }

    /// Its types.
    pub fn types(&self) -> Vec<&str> {
        type_names(self.json.get("type"))
    }

    /// Its types other than `VerifiableCredential`: what a trust registry accredits.
    pub fn specific_types(&self) -> Vec<&str> {
        self.types()
            .into_iter()
            .filter(|t| *t != "VerifiableCredential")
            .collect()
    }

    /// The issuer's URL (a DID for Weft).
    pub fn issuer(&self) -> &str {
        self.json.get("issuer").and_then(id_of).unwrap_or_default()
    }

    /// `validFrom` in seconds since the Unix epoch.
    pub fn valid_from(&self) -> Result<Option<u64>, Error> {
        self.json
            .get("validFrom")
            .map(|v| parse_datetime(v.as_str().unwrap_or_default(), "validFrom"))
            .transpose()
    }

    /// `validUntil` in seconds since the Unix epoch.
    pub fn valid_until(&self) -> Result<Option<u64>, Error> {
        self.json
            .get("validUntil")
            .map(|v| parse_datetime(v.as_str().unwrap_or_default(), "validUntil"))
            .transpose()
    }

    /// The ids of its subjects (some subjects have none).
    pub fn subject_ids(&self) -> Vec<&str> {
        match self.json.get("credentialSubject") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|s| s.get("id").and_then(Value::as_str))
                .collect(),
            Some(one) => one.get("id").and_then(Value::as_str).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// As JSON.
    pub fn to_value(&self) -> Value {
        Value::Object(self.json.clone())
    }
}

/// Checks a presentation's shape: the v2 context, the `VerifiablePresentation` type; returns its
/// `holder` (if any) and its credentials as given.
pub fn check_presentation(value: &Value) -> Result<(Option<String>, Vec<Value>), Error> {
    let json = value
        .as_object()
        .ok_or_else(|| Error::Malformed("a presentation must be a JSON object".into()))?;
    check_context(json, "presentation")?;
    if !type_names(value.get("type")).contains(&"VerifiablePresentation") {
        return Err(Error::Invalid(
            "the presentation's type must include VerifiablePresentation".into(),
        ));
    }
    let holder = json.get("holder").and_then(id_of).map(str::to_string);
    let credentials = match json.get("verifiableCredential") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    Ok((holder, credentials))
}
