//! `weft policy …`: device access policies from the command line.
//!
//! A policy file is JSON:
//!
//! ```json
//! {"rules": [{
//!   "effect": "grant",
//!   "actions": ["open"],
//!   "subject": {"credential": {"type": "EmployeeCredential", "issuer": "did:weft:…",
//!                              "claims": {"role": "Technician"}}},
//!   "conditions": [{"daily": {"from": "08:00", "until": "18:00"}},
//!                  {"from": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}],
//!   "obligations": ["log-access"]
//! }]}
//! ```
//!
//! A subject is `"anyone"`, `{"did": "did:weft:…"}` or `{"credential": {…}}`.

use crate::output::{Global, connect, out, print_json};
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use weft_types::ContractId;
use weft_types::did::Did;
use weft_types::policy::{Condition, Effect, Policy, Rule, Subject};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Set a device's policy from a JSON file, as its owner `--did`.
    Set {
        /// The policy file.
        policy: PathBuf,
        /// The device DID.
        #[arg(long)]
        device: String,
        /// You, the owner (the device or a controller of its DID).
        #[arg(long)]
        did: String,
    },
    /// Show a device's policy as JSON.
    Show {
        /// The device DID.
        device: String,
    },
    /// Ask whether a subject may perform an action on a device (exits non-zero unless granted).
    Decide {
        /// The device DID.
        device: String,
        /// The action.
        #[arg(long)]
        action: String,
        /// The subject DID.
        #[arg(long)]
        subject: String,
        /// A credential the subject presents (a file; repeatable).
        #[arg(long = "credential")]
        credentials: Vec<PathBuf>,
        /// A root whose accreditations you trust for the credentials' issuers (repeatable).
        #[arg(long = "trusted-root")]
        roots: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    rules: Vec<RuleJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    effect: String,
    actions: Vec<String>,
    subject: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    obligations: Vec<String>,
}

fn minute(text: &str) -> Result<u16> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("{text:?} is not a time of day like 08:30"))?;
    let (h, m): (u16, u16) = (h.parse()?, m.parse()?);
    if h > 23 || m > 59 {
        bail!("{text:?} is not a time of day like 08:30");
    }
    Ok(h * 60 + m)
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn to_policy(json: PolicyJson, chain: &str) -> Result<Policy> {
    let mut rules = Vec::new();
    for (i, r) in json.rules.into_iter().enumerate() {
        let context = || format!("rule {i}");
        let effect = match r.effect.as_str() {
            "grant" => Effect::Grant,
            "deny" => Effect::Deny,
            other => bail!("rule {i}: effect {other:?} is not grant or deny"),
        };
        let subject = match &r.subject {
            Value::String(s) if s == "anyone" => Subject::Anyone,
            Value::Object(o) if o.contains_key("did") => {
                let did: Did = o["did"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .with_context(context)?;
                if did.chain != chain {
                    bail!("rule {i}: {did} is not a DID of chain {chain}");
                }
                Subject::Did(did.id)
            }
            Value::Object(o) if o.contains_key("credential") => {
                let c = &o["credential"];
                Subject::Credential {
                    credential_type: c["type"]
                        .as_str()
                        .context("rule's credential.type")?
                        .to_string(),
                    issuer: c["issuer"].as_str().map(str::to_string),
                    claims: c["claims"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().map_or(v.to_string(), str::to_string))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            }
            other => bail!(
                "rule {i}: subject {other} is not \"anyone\", {{\"did\": …}} or {{\"credential\": …}}"
            ),
        };
        let mut conditions = Vec::new();
        for c in &r.conditions {
            if let Some(d) = c.get("daily") {
                conditions.push(Condition::Daily {
                    from_minute: minute(d["from"].as_str().unwrap_or_default())
                        .with_context(context)?,
                    until_minute: minute(d["until"].as_str().unwrap_or_default())
                        .with_context(context)?,
                });
            } else {
                let time = |k: &str| {
                    c.get(k)
                        .and_then(Value::as_str)
                        .map(|t| weft_did::parse_time(t).map(|ms| ms - 999))
                        .transpose()
                        .map_err(|e| anyhow!("rule {i}: {e}"))
                };
                conditions.push(Condition::Window {
                    from_ms: time("from")?,
                    until_ms: time("until")?,
                });
            }
        }
        rules.push(Rule {
            effect,
            actions: r.actions,
            subject,
            conditions,
            obligations: r.obligations,
        });
    }
    let policy = Policy { rules };
    policy.check()?;
    Ok(policy)
}

fn from_policy(policy: &Policy, chain: &str) -> Value {
    let rules: Vec<Value> = policy
        .rules
        .iter()
        .map(|r| {
            let subject = match &r.subject {
                Subject::Anyone => json!("anyone"),
                Subject::Did(id) => json!({"did": Did::new(chain, *id).to_string()}),
                Subject::Credential {
                    credential_type,
                    issuer,
                    claims,
                } => json!({"credential": {
                    "type": credential_type,
                    "issuer": issuer,
                    "claims": claims.iter().cloned().collect::<BTreeMap<String, String>>(),
                }}),
            };
            let conditions: Vec<Value> = r
                .conditions
                .iter()
                .map(|c| match c {
                    Condition::Daily {
                        from_minute,
                        until_minute,
                    } => {
                        json!({"daily": {"from": hhmm(*from_minute), "until": hhmm(*until_minute)}})
                    }
                    Condition::Window { from_ms, until_ms } => json!({
                        "from": from_ms.map(weft_did::format_time),
                        "until": until_ms.map(weft_did::format_time),
                    }),
                })
                .collect();
            json!({
                "effect": match r.effect { Effect::Grant => "grant", Effect::Deny => "deny" },
                "actions": r.actions,
                "subject": subject,
                "conditions": conditions,
                "obligations": r.obligations,
            })
        })
        .collect();
    json!({ "rules": rules })
}

/// Runs `weft policy …`.
pub async fn run(cli: &Global, command: &PolicyCommand) -> Result<()> {
    let client = connect(cli).await?;
    let chain = client.chain_info().await?.chain_id;
    let parse = |text: &str| -> Result<Did> { text.parse().map_err(|e| anyhow!("{text}: {e}")) };
    match command {
        PolicyCommand::Set {
            policy,
            device,
            did,
        } => {
            let text = std::fs::read_to_string(policy)
                .with_context(|| format!("reading {}", policy.display()))?;
            let json: PolicyJson = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a policy file", policy.display()))?;
            let policy = to_policy(json, &chain)?;
            let (owner, device) = (parse(did)?, parse(device)?);
            let mut signer = crate::output::signer(cli, &client).await?;
            let tx = signer.call(
                ContractId::system("policy"),
                "set",
                borsh::to_vec(&(owner.id, device.id, &policy))?,
            );
            let receipt = client.send_and_wait(&tx).await?;
            if receipt.status != weft_client::json::Status::Success {
                bail!("{}", receipt.error.unwrap_or_default());
            }
            out!(
                "policy of {} set: {} rule(s) (block {})",
                device,
                policy.rules.len(),
                receipt.height
            );
            Ok(())
        }
        PolicyCommand::Show { device } => {
            let device = parse(device)?;
            let result = client
                .call_borsh(
                    &ContractId::system("policy"),
                    "policy",
                    &borsh::to_vec(&(device.id,))?,
                )
                .await?;
            let policy: Option<Policy> = borsh::from_slice(&result.return_data)?;
            match policy {
                Some(p) => print_json(&from_policy(&p, &chain)),
                None => bail!("{device} has no policy: every request is undefined, and denied"),
            }
            Ok(())
        }
        PolicyCommand::Decide {
            device,
            action,
            subject,
            credentials,
            roots,
        } => {
            let credentials = credentials
                .iter()
                .map(|p| {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Ok(serde_json::from_str::<Value>(text.trim())
                        .unwrap_or(Value::String(text.trim().to_string())))
                })
                .collect::<Result<Vec<Value>>>()?;
            let answer: Value = client
                .request(
                    "policy_decide",
                    json!({"device": device, "action": action, "subject": subject, "credentials": credentials, "trustedRoots": roots}),
                )
                .await?;
            if cli.json {
                print_json(&answer);
            } else {
                out!(
                    "{} (obligations: {})",
                    answer["outcome"].as_str().unwrap_or("?"),
                    answer["obligations"]
                );
                for refused in answer["refusedCredentials"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    out!(
                        "  credential {} did not count: {}",
                        refused["credential"],
                        refused
                            .get("reasons")
                            .or(refused.get("reason"))
                            .unwrap_or(&Value::Null)
                    );
                }
            }
            if answer["permitted"] != true {
                bail!("not permitted: only a grant lets the action through");
            }
            Ok(())
        }
    }
}
