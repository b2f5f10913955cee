//! The W3C VC API's request and response bodies, independent of any HTTP server: a node serves
//! `POST /credentials/verify`, `POST /presentations/verify` and `POST /challenges`; an issuer
//! process holding only its own key serves `POST /credentials/issue`.
//!
//! Invalid input gets 400 with an RFC 9457 problem description; a well-formed document that
//! does not verify gets 422 with the failed checks; a verified one 200 with every check.

use crate::di::Cryptosuite;
use crate::issue::Format;
use crate::present::PresentFormat;
use crate::verify::{Challenges, Lookup, Options, Reason, Report};
use serde::Deserialize;
use serde_json::{Value, json};

/// Media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An HTTP answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// The body's media type.
    pub fn media_type(&self) -> &'static str {
        if self.status >= 400 {
            PROBLEM_JSON
        } else {
            "application/json"
        }
    }
}

/// The VC Data Model 2.0 problem types.
fn problem_type(code: &str) -> String {
    format!("https://www.w3.org/TR/vc-data-model#{code}")
}

/// A problem description with `status`.
pub fn problem(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Answer {
    Answer {
        status,
        body: json!({
            "type": problem_type(code),
            "title": title,
            "detail": detail.into(),
        }),
    }
}

fn parse_error(detail: impl Into<String>) -> Answer {
    problem(400, "PARSING_ERROR", "The request is malformed", detail)
}

fn code_of(reason: Reason) -> &'static str {
    match reason {
        Reason::Malformed | Reason::Unsupported => "MALFORMED_VALUE_ERROR",
        Reason::NotYetValid | Reason::Expired => "RANGE_ERROR",
        _ => "CRYPTOGRAPHIC_SECURITY_ERROR",
    }
}

/// A report as an answer: 200 when verified, 400 when the document could not be read, 422 with
/// the failed checks otherwise.
pub fn report_answer(report: &Report) -> Answer {
    let mut body = serde_json::to_value(report).unwrap_or(Value::Null);
    if report.verified {
        return Answer { status: 200, body };
    }
    let first = report
        .reasons()
        .first()
        .copied()
        .unwrap_or(Reason::Malformed);
    // A document that cannot be read at all is invalid input (400); one that was read and
    // failed a check is unprocessable (422).
    let status = if report.failed("format").is_some() {
        400
    } else {
        422
    };
    let failed: Vec<String> = report
        .checks
        .iter()
        .chain(report.credentials.iter().flat_map(|c| c.checks.iter()))
        .filter(|c| c.outcome == crate::verify::Outcome::Failed)
        .map(|c| format!("{}: {}", c.check, c.detail))
        .collect();
    if let Value::Object(map) = &mut body {
        map.insert("type".into(), problem_type(code_of(first)).into());
        map.insert("title".into(), "Verification failed".into());
        map.insert("detail".into(), failed.join("; ").into());
    }
    Answer { status, body }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyOptions {
    #[serde(default)]
    trusted_roots: Vec<String>,
    challenge: Option<String>,
    domain: Option<String>,
    #[serde(default)]
    checks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyCredentialBody {
    verifiable_credential: Value,
    #[serde(default)]
    options: VerifyOptions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyPresentationBody {
    verifiable_presentation: Value,
    #[serde(default)]
    options: VerifyOptions,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], shape: &str) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|e| parse_error(format!("expected {shape}: {e}")))
}

/// `POST /credentials/verify` with body `{verifiableCredential, options?: {trustedRoots?}}`.
pub fn verify_credential(body: &[u8], lookup: &dyn Lookup, now: u64) -> Answer {
    let request: VerifyCredentialBody = match parse(
        body,
        "{\"verifiableCredential\": …, \"options\": {\"trustedRoots\": [did, …]}}",
    ) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let options = Options {
        now,
        trusted_roots: request.options.trusted_roots,
        ..Options::default()
    };
    report_answer(&crate::verify::verify_credential(
        &request.verifiable_credential,
        lookup,
        &options,
    ))
}

/// `POST /presentations/verify` with body `{verifiablePresentation, options: {challenge, domain?,
/// trustedRoots?}}`.
pub fn verify_presentation(
    body: &[u8],
    lookup: &dyn Lookup,
    challenges: &dyn Challenges,
    now: u64,
) -> Answer {
    let request: VerifyPresentationBody = match parse(
        body,
        "{\"verifiablePresentation\": …, \"options\": {\"challenge\": …, \"domain\": …}}",
    ) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if request.options.challenge.is_none() {
        return parse_error(
            "options.challenge is required: get one from POST /challenges; a presentation without one could be replayed",
        );
    }
    let options = Options {
        now,
        trusted_roots: request.options.trusted_roots,
        challenge: request.options.challenge,
        domain: request.options.domain,
        max_age: None,
    };
    let _ = request.options.checks;
    report_answer(&crate::verify::verify_presentation(
        &request.verifiable_presentation,
        lookup,
        &options,
        challenges,
    ))
}

/// `POST /challenges`: a fresh single-use challenge (201 `{challenge, expires}`).
pub fn challenge(store: &crate::verify::ChallengeStore, now: u64, ttl: u64) -> Answer {
    Answer {
        status: 201,
        body: json!({
            "challenge": store.issue(now, ttl),
            "expires": weft_did::format_time((now + ttl) * 1000),
        }),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssueOptions {
    /// `vc` (Data Integrity), `vc+jwt` or `vc+sd-jwt`.
    format: Option<String>,
    /// For `vc`: `eddsa-rdfc-2022` (default) or `eddsa-jcs-2022`.
    cryptosuite: Option<String>,
    /// For `vc+sd-jwt`: the `credentialSubject` properties the holder may withhold.
    #[serde(default)]
    disclosable: Vec<String>,
    /// For `vc+sd-jwt`: the holder's key (a DID URL); by default `<subject id>#key-1`.
    holder_key: Option<String>,
    /// Status purposes to add entries for (`revocation`, `suspension`), when the issuer keeps
    /// lists.
    #[serde(default)]
    credential_status: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssueBody {
    credential: Value,
    #[serde(default)]
    options: IssueOptions,
}

/// A parsed `POST /credentials/issue` request.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The unsecured credential.
    pub credential: Value,
    /// How to secure it.
    pub format: Format,
    /// Status purposes the issuer is asked to add entries for.
    pub status: Vec<String>,
}

/// Parses `{credential, options?: {format, cryptosuite, disclosable, holderKey,
/// credentialStatus}}`.
pub fn parse_issue(body: &[u8]) -> Result<IssueRequest, Answer> {
    let request: IssueBody = parse(
        body,
        "{\"credential\": …, \"options\": {\"format\": \"vc\" | \"vc+jwt\" | \"vc+sd-jwt\"}}",
    )?;
    let format = parse_format(
        request.options.format.as_deref(),
        request.options.cryptosuite.as_deref(),
        &request.options.disclosable,
        request.options.holder_key.as_deref(),
        &request.credential,
    )
    .map_err(|e| parse_error(e.to_string()))?;
    for purpose in &request.options.credential_status {
        if !matches!(purpose.as_str(), "revocation" | "suspension") {
            return Err(parse_error(format!(
                "options.credentialStatus names {purpose:?}; expected revocation or suspension"
            )));
        }
    }
    Ok(IssueRequest {
        credential: request.credential,
        format,
        status: request.options.credential_status,
    })
}

/// The securing [`Format`] named by `format` (`vc`, `vc+jwt`, `vc+sd-jwt`) and its options.
pub fn parse_format(
    format: Option<&str>,
    cryptosuite: Option<&str>,
    disclosable: &[String],
    holder_key: Option<&str>,
    credential: &Value,
) -> Result<Format, crate::error::Error> {
    match format.unwrap_or("vc") {
        "vc" | "di" | "application/vc" => Ok(Format::DataIntegrity(Cryptosuite::parse(
            cryptosuite.unwrap_or("eddsa-rdfc-2022"),
        )?)),
        "vc+jwt" | "jwt" | "application/vc+jwt" => Ok(Format::Jose),
        "vc+sd-jwt" | "sd-jwt" | "application/vc+sd-jwt" => {
            let holder_method = match holder_key {
                Some(k) => k.to_string(),
                None => credential
                    .get("credentialSubject")
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str)
                    .map(|id| format!("{id}#key-1"))
                    .ok_or_else(|| {
                        crate::error::Error::Invalid(
                            "an SD-JWT credential is bound to its holder's key: give holderKey or credentialSubject.id".into(),
                        )
                    })?,
            };
            Ok(Format::SdJwt {
                disclosable: disclosable.to_vec(),
                holder_method,
            })
        }
        other => Err(crate::error::Error::Unsupported(format!(
            "format {other:?} is not supported: expected vc, vc+jwt or vc+sd-jwt"
        ))),
    }
}

/// The presentation format named `format` (`vp` with an optional cryptosuite, or `vp+jwt`).
pub fn parse_present_format(
    format: Option<&str>,
    cryptosuite: Option<&str>,
) -> Result<PresentFormat, crate::error::Error> {
    match format.unwrap_or("vp") {
        "vp" | "di" => Ok(PresentFormat::DataIntegrity(Cryptosuite::parse(
            cryptosuite.unwrap_or("eddsa-rdfc-2022"),
        )?)),
        "vp+jwt" | "jwt" => Ok(PresentFormat::Jose),
        other => Err(crate::error::Error::Unsupported(format!(
            "presentation format {other:?} is not supported: expected vp or vp+jwt"
        ))),
    }
}

/// The answer to an issue request: 201 `{verifiableCredential}` or a problem.
pub fn issued(result: Result<Value, crate::error::Error>) -> Answer {
    match result {
        Ok(credential) => Answer {
            status: 201,
            body: json!({ "verifiableCredential": credential }),
        },
        Err(crate::error::Error::Malformed(e)) => parse_error(e),
        Err(e) => problem(
            422,
            "MALFORMED_VALUE_ERROR",
            "Cannot issue the credential",
            e.to_string(),
        ),
    }
}
