//! `policy_decide`: a device or gateway asks whether a subject may perform an action on a device.
//!
//! The node verifies the credentials the subject presented (a presentation for the node's
//! challenge, or none), turns each verified credential into facts (types, issuer, subject
//! claims), reads the device's policy at the latest anchored height and decides
//! (`weft_types::policy::decide`). The answer carries the policy's storage entry with its proof
//! and the anchor, so a gateway can check the policy and repeat the decision itself.

use crate::credentials::{NodeRead, lookup};
use crate::params::{Ctx, codes, error, parse};
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_api::NodeApi;
use weft_credentials::Lookup;
use weft_types::ContractId;
use weft_types::did::Did;
use weft_types::policy::{CredentialFacts, Outcome, Policy, Request, storage};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DecideParams {
    device: String,
    action: String,
    subject: String,
    /// Credentials, each as issued (a JSON credential or an envelope), verified here.
    #[serde(default)]
    credentials: Vec<Value>,
    /// The roots the device trusts for the credentials' issuers.
    #[serde(default)]
    trusted_roots: Vec<String>,
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

fn facts(credential: &Value, subject: &str) -> Option<CredentialFacts> {
    let json = match credential {
        Value::Object(o) if o.contains_key("proof") => {
            let mut c = credential.clone();
            c.as_object_mut()?.remove("proof");
            c
        }
        _ => {
            let id = credential
                .get("id")
                .and_then(Value::as_str)
                .or(credential.as_str())?;
            let compact = id.split_once(',').map_or(id, |(_, c)| c);
            let compact = compact.split('~').next()?;
            Value::Object(
                weft_credentials::jose::Jws::parse(compact, None)
                    .ok()?
                    .payload,
            )
        }
    };
    let subject_json = json.get("credentialSubject")?;
    if subject_json.get("id").and_then(Value::as_str) != Some(subject) {
        return None;
    }
    let claims = subject_json
        .as_object()?
        .iter()
        .filter(|(k, _)| *k != "id")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    let types = match json.get("type") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(t)) => vec![t.clone()],
        _ => Vec::new(),
    };
    let issuer = json
        .get("issuer")
        .and_then(|i| i.as_str().or(i.get("id").and_then(Value::as_str)))?;
    Some(CredentialFacts {
        types,
        issuer: issuer.to_string(),
        claims,
    })
}

fn decide(node: &dyn NodeApi, p: DecideParams) -> Result<Value, ErrorObjectOwned> {
    let chain = node.chain_id().0.clone();
    let parse_did = |text: &str| -> Result<Did, ErrorObjectOwned> {
        let did: Did = text.parse().map_err(|e| invalid(format!("{text}: {e}")))?;
        if did.chain != chain {
            return Err(invalid(format!("{text} is not a DID of chain {chain}")));
        }
        Ok(did)
    };
    let device = parse_did(&p.device)?;
    let subject = parse_did(&p.subject)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // Only credentials that verify (issuer, proof, validity, status, trust) about the subject
    // count; the others are reported and contribute nothing.
    let checker = lookup(node);
    let options = weft_credentials::Options {
        now: now / 1000,
        trusted_roots: p.trusted_roots.clone(),
        ..Default::default()
    };
    let mut verified = Vec::new();
    let mut refused = Vec::new();
    for (i, credential) in p.credentials.iter().enumerate() {
        let report =
            weft_credentials::verify_credential(credential, &checker as &dyn Lookup, &options);
        match (report.verified, facts(credential, &p.subject)) {
            (true, Some(f)) => verified.push(f),
            (true, None) => {
                refused.push(json!({"credential": i, "reason": "it is not about the subject"}))
            }
            (false, _) => refused.push(json!({"credential": i, "reasons": report.reasons()})),
        }
    }
    let (height, _) = crate::did::anchored(node);
    let reader = NodeRead::recording(node, height);
    let contract = ContractId::system("policy");
    use weft_credentials::chain::StateRead;
    let policy: Option<Policy> = reader
        .read(&contract, &storage::policy_key(&device.id))
        .map_err(|e| error(codes::INTERNAL, format!("{e:?}")))?
        .map(|bytes| borsh::from_slice(&bytes).map_err(|e| error(codes::INTERNAL, e.to_string())))
        .transpose()?;
    let request = Request {
        action: p.action.clone(),
        subject: subject.id,
        credentials: verified,
        now_ms: now,
    };
    let decision = match &policy {
        Some(policy) => weft_types::policy::decide(policy, &request),
        None => weft_types::policy::Decision {
            outcome: Outcome::Undefined,
            obligations: Vec::new(),
            rules: Vec::new(),
        },
    };
    let proof = crate::chain::prove(node, &reader.read_keys(), Some(height))?;
    Ok(json!({
        "outcome": format!("{:?}", decision.outcome).to_lowercase(),
        "permitted": decision.outcome.permits(),
        "obligations": decision.obligations,
        "rules": decision.rules,
        "refusedCredentials": refused,
        "height": height,
        "time": weft_did::format_time(now),
        "proof": proof,
    }))
}

/// Registers `policy_decide`.
pub fn register(m: &mut jsonrpsee::RpcModule<Ctx>) {
    m.register_blocking_method("policy_decide", |params, node, _| {
        decide(&**node, parse(&params, "policy_decide")?)
    })
    .expect("each method is registered once");
}
