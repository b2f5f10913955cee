//! Presenting: the holder wraps credentials in a presentation proven with its own key over the
//! verifier's challenge and domain.

use crate::canon::CREDENTIALS_V2;
use crate::di::{self, Cryptosuite, ProofOptions};
use crate::error::Error;
use crate::model::{MEDIA_VC_SD_JWT, MEDIA_VP_JWT};
use crate::signer::Signer;
use crate::{jose, sdjwt};
use serde_json::{Value, json};

/// How a presentation is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentFormat {
    /// An embedded Data Integrity proof (`proofPurpose: authentication`, `challenge`, `domain`).
    DataIntegrity(Cryptosuite),
    /// A `vp+jwt` whose payload is the presentation with `nonce` and `aud`.
    Jose,
}

/// Wraps a compact JWT form as an `EnvelopedVerifiablePresentation`.
pub fn envelope(media_type: &str, compact: &str) -> Value {
    json!({
        "@context": [CREDENTIALS_V2],
        "id": format!("data:{media_type},{compact}"),
        "type": "EnvelopedVerifiablePresentation",
    })
}

/// A presentation of `credentials` (secured, as issued) by `holder` for a verifier that sent
/// `challenge` and expects `domain`.
pub fn present(
    credentials: &[Value],
    holder: &Signer,
    challenge: &str,
    domain: &str,
    format: PresentFormat,
    created: &str,
) -> Result<Value, Error> {
    if challenge.is_empty() {
        return Err(Error::Invalid(
            "a presentation needs the verifier's challenge; without one it could be replayed"
                .into(),
        ));
    }
    let presentation = json!({
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder.did(),
        "verifiableCredential": credentials,
    });
    match format {
        PresentFormat::DataIntegrity(suite) => di::sign(
            &presentation,
            holder,
            &ProofOptions {
                cryptosuite: suite,
                purpose: "authentication".into(),
                created: created.into(),
                challenge: Some(challenge.into()),
                domain: Some(domain.into()),
            },
        ),
        PresentFormat::Jose => {
            let mut payload = presentation;
            payload["nonce"] = challenge.into();
            payload["aud"] = domain.into();
            Ok(envelope(
                MEDIA_VP_JWT,
                &jose::sign(&payload, jose::VP_JWT, Some("vp"), holder),
            ))
        }
    }
}

/// Presents an SD-JWT credential (as issued, enveloped or bare) revealing only `reveal`, with a
/// key binding JWT by `holder` over `challenge` and `domain`; `iat` in seconds since the epoch.
/// The result is itself a presentation (an enveloped `vc+sd-jwt` with key binding).
pub fn present_sd_jwt(
    credential: &Value,
    reveal: &[&str],
    holder: &Signer,
    challenge: &str,
    domain: &str,
    iat: u64,
) -> Result<Value, Error> {
    let compact = match credential {
        Value::String(s) => s.clone(),
        other => other
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.strip_prefix(&format!("data:{MEDIA_VC_SD_JWT},")))
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Invalid(
                    "the credential is not an SD-JWT (data:application/vc+sd-jwt,…)".into(),
                )
            })?,
    };
    let presented = sdjwt::present(&compact, reveal, holder, challenge, domain, iat)?;
    Ok(envelope(MEDIA_VC_SD_JWT, &presented))
}
