//! Device access policies, as the policy system contract keeps them, and the decision every
//! party computes the same way.
//!
//! An owner attaches a [`Policy`] to a device (a DID): [`Rule`]s that grant or deny actions to
//! subjects matched by DID or by credentials they hold (type, issuer, attribute values), under
//! conditions (time windows). A decision has four outcomes, as in Belnap's logic: `Grant` (only
//! granting rules apply), `Deny` (only denying ones), `Undefined` (none) and `Conflict` (both).
//! **Only `Grant` lets the action through**: anything unresolved is denied. Granting rules carry
//! obligations ("log this access") returned with the decision.
//!
//! Credentials enter a decision as [`CredentialFacts`] that the caller verified first (signature,
//! status, trust: `weft-credentials`); a revoked or unverifiable credential contributes no facts,
//! so a rule that needs it does not apply.

use crate::did::DidId;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// The most rules in a policy.
pub const MAX_RULES: usize = 64;
/// The longest action, type, issuer, attribute or obligation.
pub const MAX_LABEL: usize = 256;

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Effect {
    /// Allow.
    Grant,
    /// Forbid.
    Deny,
}

/// Whom a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Subject {
    /// Anyone.
    Anyone,
    /// This DID.
    Did(DidId),
    /// Whoever holds a verified credential of this type, from this issuer (any when `None`),
    /// whose subject claims include these attribute values.
    Credential {
        /// A `type` of the credential.
        credential_type: String,
        /// Its issuer (a DID), if it matters.
        issuer: Option<String>,
        /// Claims that must be present with exactly these values.
        claims: Vec<(String, String)>,
    },
}

/// When a rule applies.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Condition {
    /// Between two times (ms since the Unix epoch; open ends allowed), end excluded.
    Window {
        /// From.
        from_ms: Option<u64>,
        /// Until.
        until_ms: Option<u64>,
    },
    /// Every day between two times of day (minutes after midnight UTC), end excluded; a window
    /// that ends before it starts spans midnight.
    Daily {
        /// From minute.
        from_minute: u16,
        /// Until minute.
        until_minute: u16,
    },
}

impl Condition {
    /// Whether it holds at `now_ms`.
    pub fn holds(&self, now_ms: u64) -> bool {
        match self {
            Self::Window { from_ms, until_ms } => {
                from_ms.is_none_or(|f| now_ms >= f) && until_ms.is_none_or(|u| now_ms < u)
            }
            Self::Daily {
                from_minute,
                until_minute,
            } => {
                let minute = ((now_ms / 60_000) % 1_440) as u16;
                if from_minute <= until_minute {
                    (*from_minute..*until_minute).contains(&minute)
                } else {
                    minute >= *from_minute || minute < *until_minute
                }
            }
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Rule {
    /// Grant or deny.
    pub effect: Effect,
    /// The actions it covers (`*` for all).
    pub actions: Vec<String>,
    /// Whom it covers.
    pub subject: Subject,
    /// When (all must hold).
    pub conditions: Vec<Condition>,
    /// Obligations returned with a grant it takes part in.
    pub obligations: Vec<String>,
}

/// A device's policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Policy {
    /// Its rules, in no particular order: every applicable rule counts.
    pub rules: Vec<Rule>,
}

/// Why a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn label(what: &str, text: &str) -> Result<(), PolicyError> {
    if text.is_empty() || text.len() > MAX_LABEL {
        return Err(PolicyError(format!(
            "{what} must have 1 to {MAX_LABEL} bytes, not {}",
            text.len()
        )));
    }
    Ok(())
}

impl Policy {
    /// Checks sizes.
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.rules.len() > MAX_RULES {
            return Err(PolicyError(format!(
                "a policy has at most {MAX_RULES} rules, not {}",
                self.rules.len()
            )));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.actions.is_empty() {
                return Err(PolicyError(format!("rule {i} names no action")));
            }
            for a in &rule.actions {
                label("an action", a)?;
            }
            for o in &rule.obligations {
                label("an obligation", o)?;
            }
            if let Subject::Credential {
                credential_type,
                issuer,
                claims,
            } = &rule.subject
            {
                label("a credential type", credential_type)?;
                if let Some(i) = issuer {
                    label("an issuer", i)?;
                }
                for (k, v) in claims {
                    label("a claim name", k)?;
                    label("a claim value", v)?;
                }
            }
        }
        Ok(())
    }
}

/// What a verified credential tells a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CredentialFacts {
    /// Its types.
    pub types: Vec<String>,
    /// Its issuer.
    pub issuer: String,
    /// Its subject's claims, as strings (`true`, `42`, `Technician`).
    pub claims: BTreeMap<String, String>,
}

/// An access request.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Request {
    /// The action (`open`, `read-meter`, …).
    pub action: String,
    /// Who asks.
    pub subject: DidId,
    /// The credentials the subject presented, verified by the caller.
    pub credentials: Vec<CredentialFacts>,
    /// When (ms since the Unix epoch).
    pub now_ms: u64,
}

/// The four outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Outcome {
    /// Only granting rules apply: the action may go through.
    Grant,
    /// Only denying rules apply.
    Deny,
    /// No rule applies: denied.
    Undefined,
    /// Granting and denying rules apply: denied.
    Conflict,
}

impl Outcome {
    /// Whether the action may go through (only on `Grant`).
    pub fn permits(self) -> bool {
        self == Self::Grant
    }
}

/// A decision: its outcome, the obligations that come with a grant, and the rules that applied.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// Obligations of the granting rules (empty unless `Grant`).
    pub obligations: Vec<String>,
    /// Indexes of the rules that applied.
    pub rules: Vec<u32>,
}

impl Subject {
    fn matches(&self, request: &Request) -> bool {
        match self {
            Self::Anyone => true,
            Self::Did(did) => *did == request.subject,
            Self::Credential {
                credential_type,
                issuer,
                claims,
            } => request.credentials.iter().any(|c| {
                c.types.contains(credential_type)
                    && issuer.as_ref().is_none_or(|i| *i == c.issuer)
                    && claims
                        .iter()
                        .all(|(k, v)| c.claims.get(k).is_some_and(|have| have == v))
            }),
        }
    }
}

/// The decision of `policy` on `request`.
pub fn decide(policy: &Policy, request: &Request) -> Decision {
    let mut granting = Vec::new();
    let mut denying = false;
    let mut rules = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        let applies = rule
            .actions
            .iter()
            .any(|a| a == "*" || *a == request.action)
            && rule.subject.matches(request)
            && rule.conditions.iter().all(|c| c.holds(request.now_ms));
        if !applies {
            continue;
        }
        rules.push(i as u32);
        match rule.effect {
            Effect::Grant => granting.push(rule),
            Effect::Deny => denying = true,
        }
    }
    let outcome = match (granting.is_empty(), denying) {
        (true, false) => Outcome::Undefined,
        (true, true) => Outcome::Deny,
        (false, false) => Outcome::Grant,
        (false, true) => Outcome::Conflict,
    };
    let obligations = if outcome == Outcome::Grant {
        let mut all: Vec<String> = Vec::new();
        for o in granting.iter().flat_map(|r| r.obligations.iter()) {
            if !all.contains(o) {
                all.push(o.clone());
            }
        }
        all
    } else {
        Vec::new()
    };
    Decision {
        outcome,
        obligations,
        rules,
    }
}

/// Storage names the policy contract uses.
pub mod storage {
    use super::DidId;
    use crate::did::storage::map_key;

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// [`super::Policy`] by device.
    pub const POLICIES: &str = "policies";

    /// The contract's storage key of a device's policy.
    pub fn policy_key(device: &DidId) -> Vec<u8> {
        map_key(POLICIES, &device.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000_000; // 2026-05-28T20:26:40Z
    const TECH: DidId = DidId([1; 32]);
    const GUEST: DidId = DidId([2; 32]);

    fn grant(subject: Subject) -> Rule {
        Rule {
            effect: Effect::Grant,
            actions: vec!["open".into()],
            subject,
            conditions: Vec::new(),
            obligations: vec!["log-access".into()],
        }
    }

    fn deny(subject: Subject) -> Rule {
        Rule {
            effect: Effect::Deny,
            obligations: Vec::new(),
            ..grant(subject)
        }
    }

    fn technician(issuer: &str) -> CredentialFacts {
        CredentialFacts {
            types: vec!["VerifiableCredential".into(), "EmployeeCredential".into()],
            issuer: issuer.into(),
            claims: [("role".to_string(), "Technician".to_string())].into(),
        }
    }

    fn request(subject: DidId, credentials: Vec<CredentialFacts>, now_ms: u64) -> Request {
        Request {
            action: "open".into(),
            subject,
            credentials,
            now_ms,
        }
    }

    #[test]
    fn the_decision_table() {
        let by_credential = Subject::Credential {
            credential_type: "EmployeeCredential".into(),
            issuer: Some("did:weft:x:acme".into()),
            claims: vec![("role".into(), "Technician".into())],
        };
        let in_window = Condition::Window {
            from_ms: Some(NOW - 1_000),
            until_ms: Some(NOW + 1_000),
        };
        let cases: Vec<(&str, Policy, Request, Outcome)> = vec![
            (
                "grant",
                Policy {
                    rules: vec![grant(Subject::Did(TECH))],
                },
                request(TECH, vec![], NOW),
                Outcome::Grant,
            ),
            (
                "deny",
                Policy {
                    rules: vec![deny(Subject::Did(TECH))],
                },
                request(TECH, vec![], NOW),
                Outcome::Deny,
            ),
            (
                "no rule → denied",
                Policy {
                    rules: vec![grant(Subject::Did(TECH))],
                },
                request(GUEST, vec![], NOW),
                Outcome::Undefined,
            ),
            (
                "grant and deny together → denied",
                Policy {
                    rules: vec![grant(Subject::Anyone), deny(Subject::Did(GUEST))],
                },
                request(GUEST, vec![], NOW),
                Outcome::Conflict,
            ),
            (
                "credential of the right issuer and role",
                Policy {
                    rules: vec![grant(by_credential.clone())],
                },
                request(GUEST, vec![technician("did:weft:x:acme")], NOW),
                Outcome::Grant,
            ),
            (
                "credential from another issuer",
                Policy {
                    rules: vec![grant(by_credential.clone())],
                },
                request(GUEST, vec![technician("did:weft:x:other")], NOW),
                Outcome::Undefined,
            ),
            (
                "credential revoked: the verifier gives no facts",
                Policy {
                    rules: vec![grant(by_credential.clone())],
                },
                request(GUEST, vec![], NOW),
                Outcome::Undefined,
            ),
            (
                "inside the window",
                Policy {
                    rules: vec![Rule {
                        conditions: vec![in_window.clone()],
                        ..grant(Subject::Did(TECH))
                    }],
                },
                request(TECH, vec![], NOW),
                Outcome::Grant,
            ),
            (
                "expired window → denied",
                Policy {
                    rules: vec![Rule {
                        conditions: vec![in_window],
                        ..grant(Subject::Did(TECH))
                    }],
                },
                request(TECH, vec![], NOW + 5_000),
                Outcome::Undefined,
            ),
        ];
        for (name, policy, request, expected) in cases {
            let decision = decide(&policy, &request);
            assert_eq!(decision.outcome, expected, "{name}");
            assert_eq!(
                decision.outcome.permits(),
                expected == Outcome::Grant,
                "{name}"
            );
            if expected == Outcome::Grant {
                assert_eq!(decision.obligations, ["log-access"], "{name}");
            } else {
                assert!(decision.obligations.is_empty(), "{name}");
            }
        }
    }

    #[test]
    fn daily_windows_may_span_midnight() {
        let night = Condition::Daily {
            from_minute: 22 * 60,
            until_minute: 6 * 60,
        };
        let day_ms = 1_780_012_800_000; // 2026-05-29T00:00:00Z
        assert!(night.holds(day_ms + 23 * 3_600_000));
        assert!(night.holds(day_ms + 3 * 3_600_000));
        assert!(!night.holds(day_ms + 12 * 3_600_000));
        let work = Condition::Daily {
            from_minute: 8 * 60,
            until_minute: 18 * 60,
        };
        assert!(work.holds(day_ms + 9 * 3_600_000));
        assert!(!work.holds(day_ms + 18 * 3_600_000));
    }

    #[test]
    fn policies_are_checked() {
        let mut p = Policy {
            rules: vec![grant(Subject::Anyone)],
        };
        assert!(p.check().is_ok());
        p.rules[0].actions.clear();
        assert!(p.check().unwrap_err().0.contains("no action"));
    }
}
