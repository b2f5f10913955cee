//! Issuing: a credential secured in the format the issuer chooses, with its own key.

use crate::di::{self, Cryptosuite, ProofOptions};
use crate::error::Error;
use crate::model::{Credential, MEDIA_VC_JWT, MEDIA_VC_SD_JWT};
use crate::signer::Signer;
use crate::{jose, sdjwt};
use serde_json::{Value, json};

/// How a credential is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// An embedded Data Integrity proof.
    DataIntegrity(Cryptosuite),
    /// VC-JOSE: the credential as the payload of a `vc+jwt`.
    Jose,
    /// SD-JWT: the named `credentialSubject` properties selectively disclosable, bound to the
    /// holder's key `holder_method` (a DID URL under the holder's `authentication`).
    SdJwt {
        /// Properties of `credentialSubject` the holder may withhold.
        disclosable: Vec<String>,
        /// The holder's key.
        holder_method: String,
    },
}

/// Wraps a compact JWT form as a VC Data Model 2.0 `EnvelopedVerifiableCredential`.
pub fn envelope(media_type: &str, compact: &str) -> Value {
    json!({
        "@context": [crate::canon::CREDENTIALS_V2],
        "id": format!("data:{media_type},{compact}"),
        "type": "EnvelopedVerifiableCredential",
    })
}

/// Issues `credential` (unsecured) with `signer`, which must be a key of the credential's
/// issuer; `created` is the proof's creation time (an XML datetime). JWT forms come back
/// enveloped ([`envelope`]).
pub fn issue(
    credential: &Value,
    signer: &Signer,
    format: &Format,
    created: &str,
) -> Result<Value, Error> {
    let checked = Credential::check(credential)?;
    if credential.get("proof").is_some() {
        return Err(Error::Invalid(
            "the credential to issue already has a proof".into(),
        ));
    }
    if checked.issuer() != signer.did() {
        return Err(Error::Invalid(format!(
            "the credential's issuer is {}, but the signing key belongs to {}: issuers sign only with their own keys",
            checked.issuer(),
            signer.did()
        )));
    }
    crate::bitstring::StatusEntry::all_of(credential)?;
    match format {
        Format::DataIntegrity(suite) => di::sign(
            credential,
            signer,
            &ProofOptions {
                cryptosuite: *suite,
                purpose: "assertionMethod".into(),
                created: created.into(),
                challenge: None,
                domain: None,
            },
        ),
        Format::Jose => Ok(envelope(
            MEDIA_VC_JWT,
            &jose::sign(credential, jose::VC_JWT, Some("vc"), signer),
        )),
        Format::SdJwt {
            disclosable,
            holder_method,
        } => {
            let names: Vec<&str> = disclosable.iter().map(String::as_str).collect();
            Ok(envelope(
                MEDIA_VC_SD_JWT,
                &sdjwt::issue(credential, signer, holder_method, &names)?,
            ))
        }
    }
}
