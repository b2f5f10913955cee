//! W3C Bitstring Status List v1.0: entries in credentials, the encoded list, and the
//! `BitstringStatusListCredential` that carries it.
//!
//! Weft serves each on-chain list at `<node>/status/<issuer DID>/<list number>`
//! ([`list_url`], [`parse_list_url`]), so a credential's `statusListCredential` names both a URL
//! any verifier can fetch and the on-chain list Weft's own verifier reads with a proof.

use crate::canon::CREDENTIALS_V2;
use crate::error::Error;
use crate::jose::{b64, unb64};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::{Read, Write};
use weft_types::status::{MIN_ENTRIES, read_bits};

/// The errors the specification names for status validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusErrorCode {
    /// The list could not be fetched.
    Retrieval,
    /// The list credential did not verify.
    Verification,
    /// The list is shorter than the minimum.
    ListLength,
    /// The index is outside the list.
    Range,
    /// A value is malformed.
    MalformedValue,
}

impl StatusErrorCode {
    /// The specification's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retrieval => "STATUS_RETRIEVAL_ERROR",
            Self::Verification => "STATUS_VERIFICATION_ERROR",
            Self::ListLength => "STATUS_LIST_LENGTH_ERROR",
            Self::Range => "RANGE_ERROR",
            Self::MalformedValue => "MALFORMED_VALUE_ERROR",
        }
    }
}

/// A `BitstringStatusListEntry` of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// `statusPurpose`.
    pub purpose: String,
    /// `statusListIndex`.
    pub index: u64,
    /// `statusListCredential`.
    pub list_url: String,
    /// `statusSize` (1 by default).
    pub size: u8,
    /// `statusMessage`s by value, when given.
    pub messages: Vec<(u64, String)>,
}

fn malformed(detail: String) -> Error {
    Error::Malformed(format!(
        "{}: {detail}",
        StatusErrorCode::MalformedValue.as_str()
    ))
}

impl StatusEntry {
    /// Reads one entry object.
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let get = |name: &str| value.get(name).and_then(Value::as_str);
        if get("type") != Some("BitstringStatusListEntry") {
            return Err(Error::Unsupported(format!(
                "credentialStatus type {:?} is not supported: expected BitstringStatusListEntry",
                value.get("type")
            )));
        }
        let purpose = get("statusPurpose")
            .ok_or_else(|| malformed("the status entry has no statusPurpose".into()))?
            .to_string();
        let index_text = get("statusListIndex").ok_or_else(|| {
            malformed("statusListIndex must be a decimal integer in a string".into())
        })?;
        let index = index_text
            .parse::<u64>()
            .ok()
            .filter(|_| index_text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                malformed(format!(
                    "statusListIndex {index_text:?} is not a decimal integer"
                ))
            })?;
        let list_url = get("statusListCredential")
            .ok_or_else(|| malformed("the status entry has no statusListCredential URL".into()))?
            .to_string();
        let size = match value.get("statusSize") {
            None => 1,
            Some(v) => v.as_u64().filter(|s| (1..=8).contains(s)).ok_or_else(|| {
                malformed(format!("statusSize {v} must be an integer from 1 to 8"))
            })? as u8,
        };
        let mut messages = Vec::new();
        if let Some(list) = value.get("statusMessage") {
            for m in list.as_array().into_iter().flatten() {
                let status = m.get("status").and_then(Value::as_str).unwrap_or_default();
                let n = u64::from_str_radix(status.trim_start_matches("0x"), 16).map_err(|_| {
                    malformed(format!(
                        "statusMessage status {status:?} is not hex like 0x1"
                    ))
                })?;
                let text = m.get("message").and_then(Value::as_str).unwrap_or_default();
                messages.push((n, text.to_string()));
            }
        }
        if size > 1 && messages.len() != 1 << size {
            return Err(malformed(format!(
                "a statusSize of {size} needs {} statusMessage entries, got {}",
                1 << size,
                messages.len()
            )));
        }
        Ok(Self {
            purpose,
            index,
            list_url,
            size,
            messages,
        })
    }

    /// Every entry of a credential's `credentialStatus` (one object or a list).
    pub fn all_of(credential: &Value) -> Result<Vec<Self>, Error> {
        match credential.get("credentialStatus") {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(Self::parse).collect(),
            Some(one) => Ok(vec![Self::parse(one)?]),
        }
    }

    /// The message for `value`, if the entry lists one.
    pub fn message(&self, value: u8) -> Option<&str> {
        self.messages
            .iter()
            .find(|(n, _)| *n == u64::from(value))
            .map(|(_, m)| m.as_str())
    }

    /// Reads this entry's value from a decoded list, checking length and range.
    pub fn read(&self, bits: &[u8]) -> Result<u8, (StatusErrorCode, String)> {
        let entries = bits.len() as u64 * 8 / u64::from(self.size);
        if entries < u64::from(MIN_ENTRIES) {
            return Err((
                StatusErrorCode::ListLength,
                format!("the list has {entries} entries, fewer than the minimum {MIN_ENTRIES}"),
            ));
        }
        if self.index >= entries {
            return Err((
                StatusErrorCode::Range,
                format!(
                    "index {} is outside the list's {entries} entries",
                    self.index
                ),
            ));
        }
        Ok(read_bits(
            bits,
            self.index * u64::from(self.size),
            self.size,
        ))
    }
}

/// `encodedList`: multibase base64url (no padding) of the GZIP of `bits`.
pub fn encode_list(bits: &[u8]) -> String {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(bits).expect("writing to a Vec cannot fail");
    format!(
        "u{}",
        b64(&gz.finish().expect("writing to a Vec cannot fail"))
    )
}

/// The most bytes a decoded list may have (2 Mi entries of 8 bits).
pub const MAX_DECODED_BYTES: u64 = 2 * 1024 * 1024;

/// Decodes `encodedList`.
pub fn decode_list(encoded: &str) -> Result<Vec<u8>, Error> {
    let text = encoded
        .strip_prefix('u')
        .ok_or_else(|| malformed("encodedList must start with u (multibase base64url)".into()))?;
    let gz = unb64(text, "encodedList").map_err(|e| malformed(e.to_string()))?;
    let mut bits = Vec::new();
    GzDecoder::new(&gz[..])
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut bits)
        .map_err(|e| malformed(format!("encodedList is not GZIP: {e}")))?;
    if bits.len() as u64 > MAX_DECODED_BYTES {
        return Err(malformed(format!(
            "encodedList decodes to more than {MAX_DECODED_BYTES} bytes"
        )));
    }
    Ok(bits)
}

/// Where a node serves list `list` of `issuer`: `<base>/status/<issuer>/<list>`.
pub fn list_url(base: &str, issuer: &str, list: u32) -> String {
    format!("{}/status/{issuer}/{list}", base.trim_end_matches('/'))
}

/// The issuer DID and list number of a Weft status list URL, whatever its host.
pub fn parse_list_url(url: &str) -> Option<(String, u32)> {
    let path = url.split_once("/status/")?.1;
    let (did, list) = path.rsplit_once('/')?;
    if !did.starts_with("did:") || list.is_empty() {
        return None;
    }
    Some((did.to_string(), list.parse().ok()?))
}

/// The unsecured `BitstringStatusListCredential` of `bits`, for `issuer` to sign.
pub fn list_credential(
    url: &str,
    issuer: &str,
    purpose: &str,
    bits: &[u8],
    valid_from: &str,
) -> Value {
    json!({
        "@context": [CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_list(bits),
        }
    })
}

/// The `encodedList` and `statusPurpose` of a list credential, after checking its shape.
pub fn list_of(credential: &Value) -> Result<(String, Vec<u8>), Error> {
    let types = credential.get("type").and_then(Value::as_array);
    if !types.is_some_and(|t| t.iter().any(|t| t == "BitstringStatusListCredential")) {
        return Err(malformed(
            "the status list credential's type does not include BitstringStatusListCredential"
                .into(),
        ));
    }
    let subject = credential
        .get("credentialSubject")
        .ok_or_else(|| malformed("the status list credential has no credentialSubject".into()))?;
    if subject.get("type").and_then(Value::as_str) != Some("BitstringStatusList") {
        return Err(malformed(
            "the list's credentialSubject type is not BitstringStatusList".into(),
        ));
    }
    let purpose = subject
        .get("statusPurpose")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the list has no statusPurpose".into()))?;
    let encoded = subject
        .get("encodedList")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the list has no encodedList".into()))?;
    Ok((purpose.to_string(), decode_list(encoded)?))
}
