//! The trust registry, as the trust system contract keeps it: who accredited whom to issue what.
//!
//! An authority (a `did:weft` DID) accredits another DID to issue named credential types
//! ([`Accreditation::types`]), optionally to accredit others for those types in turn
//! ([`Accreditation::may_accredit`]), until an optional expiry. The authority can revoke the
//! accreditation later; revocation is final for that accreditation (the authority may accredit
//! the subject again, which makes a new one). Only a key under the authority DID's
//! `assertionMethod` may accredit or revoke, like any other statement the authority issues.
//!
//! The registry records statements; it does not decide whom to trust. A verifier names the roots
//! it trusts and walks from an issuer up through valid accreditations ([`Accreditation::check`])
//! until it reaches one of them: the issuer's link must cover the credential type, and every
//! link above it must also allow accrediting ([`MAX_CHAIN`] links at most). Prior art: EBSI's
//! Trusted Issuers Registry (root authority → accredited authorities → issuers).

use crate::did::DidId;
use borsh::{BorshDeserialize, BorshSerialize};

/// The most credential types one accreditation names.
pub const MAX_TYPES: usize = 16;
/// The longest credential type name.
pub const MAX_TYPE: usize = 256;
/// The most accreditors one DID can have.
pub const MAX_ACCREDITORS: usize = 32;
/// The longest chain from an issuer to a root.
pub const MAX_CHAIN: usize = 8;

/// One accreditation of `subject` by `authority`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Accreditation {
    /// Who accredits.
    pub authority: DidId,
    /// Who is accredited.
    pub subject: DidId,
    /// Credential types (`type` values of a credential) the subject may issue.
    pub types: Vec<String>,
    /// Whether the subject may accredit others for these types.
    pub may_accredit: bool,
    /// When it took effect (ms since the Unix epoch, the block time).
    pub valid_from_ms: u64,
    /// When it ends, if it does.
    pub valid_until_ms: Option<u64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
    /// Height of the block that made it.
    pub height: u64,
    /// How many accreditations this authority made of this subject before (1 for the first).
    pub number: u32,
}

/// What an authority asks the registry for.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Grant {
    /// Credential types.
    pub types: Vec<String>,
    /// Whether the subject may accredit others for them.
    pub may_accredit: bool,
    /// Expiry (ms since the Unix epoch).
    pub valid_until_ms: Option<u64>,
}

/// Why an accreditation is refused or does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrustError(pub String);

impl Grant {
    /// Checks the types and the expiry against the block time `now_ms`.
    pub fn check(&self, now_ms: u64) -> Result<(), TrustError> {
        if self.types.is_empty() || self.types.len() > MAX_TYPES {
            return Err(TrustError(format!(
                "an accreditation names 1 to {MAX_TYPES} credential types, not {}",
                self.types.len()
            )));
        }
        for (i, t) in self.types.iter().enumerate() {
            if t.is_empty() || t.len() > MAX_TYPE || t.chars().any(char::is_whitespace) {
                return Err(TrustError(format!(
                    "credential type {i} ({t:?}) must be 1 to {MAX_TYPE} bytes without spaces"
                )));
            }
            if t == "VerifiableCredential" {
                return Err(TrustError(
                    "VerifiableCredential is every credential's type; name the specific type"
                        .into(),
                ));
            }
            if self.types[..i].contains(t) {
                return Err(TrustError(format!("credential type {t:?} is named twice")));
            }
        }
        if let Some(until) = self.valid_until_ms
            && until <= now_ms
        {
            return Err(TrustError(format!(
                "the expiry ({until} ms) is not after the block time ({now_ms} ms)"
            )));
        }
        Ok(())
    }
}

impl Accreditation {
    /// Whether it lets its subject issue `credential_type` at `now_ms` (and, with `accredit`,
    /// accredit others for it): the reason it does not, otherwise.
    pub fn check(&self, credential_type: &str, now_ms: u64, accredit: bool) -> Result<(), String> {
        if let Some(at) = self.revoked_ms {
            return Err(format!("the accreditation was revoked at {at} ms"));
        }
        if now_ms < self.valid_from_ms {
            return Err(format!(
                "the accreditation takes effect at {} ms, after {now_ms} ms",
                self.valid_from_ms
            ));
        }
        if let Some(until) = self.valid_until_ms
            && now_ms >= until
        {
            return Err(format!("the accreditation expired at {until} ms"));
        }
        if !self.types.iter().any(|t| t == credential_type) {
            return Err(format!(
                "the accreditation covers {:?}, not {credential_type:?}",
                self.types
            ));
        }
        if accredit && !self.may_accredit {
            return Err("the accreditation does not allow accrediting others".into());
        }
        Ok(())
    }
}

/// Storage names the trust contract uses, and the keys a client asks proofs for.
pub mod storage {
    use super::DidId;
    use crate::did::storage::map_key;

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// [`super::Accreditation`] by subject and authority.
    pub const ACCREDITATIONS: &str = "accreditations";
    /// The authorities that ever accredited a subject (`Vec<DidId>`), by subject.
    pub const ACCREDITORS: &str = "accreditors";

    /// An accreditation's key: subject, then authority.
    pub fn pair(subject: &DidId, authority: &DidId) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&subject.0);
        out[32..].copy_from_slice(&authority.0);
        out
    }

    /// The contract's storage key of an accreditation.
    pub fn accreditation_key(subject: &DidId, authority: &DidId) -> Vec<u8> {
        map_key(ACCREDITATIONS, &pair(subject, authority))
    }

    /// The contract's storage key of a subject's accreditors.
    pub fn accreditors_key(subject: &DidId) -> Vec<u8> {
        map_key(ACCREDITORS, &subject.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accreditation() -> Accreditation {
        Accreditation {
            authority: DidId([1; 32]),
            subject: DidId([2; 32]),
            types: vec!["AgeCredential".into()],
            may_accredit: false,
            valid_from_ms: 100,
            valid_until_ms: Some(200),
            revoked_ms: None,
            height: 1,
            number: 1,
        }
    }

    #[test]
    fn an_accreditation_counts_only_within_its_terms() {
        let a = accreditation();
        assert!(a.check("AgeCredential", 150, false).is_ok());
        assert!(
            a.check("AgeCredential", 99, false)
                .unwrap_err()
                .contains("takes effect")
        );
        assert!(
            a.check("AgeCredential", 200, false)
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            a.check("Ticket", 150, false)
                .unwrap_err()
                .contains("not \"Ticket\"")
        );
        assert!(
            a.check("AgeCredential", 150, true)
                .unwrap_err()
                .contains("accrediting")
        );
        let revoked = Accreditation {
            revoked_ms: Some(120),
            ..a
        };
        assert!(
            revoked
                .check("AgeCredential", 110, false)
                .unwrap_err()
                .contains("revoked")
        );
    }

    #[test]
    fn grants_are_checked() {
        let grant = |types: &[&str], until| Grant {
            types: types.iter().map(|t| t.to_string()).collect(),
            may_accredit: true,
            valid_until_ms: until,
        };
        assert!(grant(&["AgeCredential"], None).check(5).is_ok());
        assert!(grant(&[], None).check(5).is_err());
        assert!(
            grant(&["A", "A"], None)
                .check(5)
                .unwrap_err()
                .0
                .contains("twice")
        );
        assert!(grant(&["VerifiableCredential"], None).check(5).is_err());
        assert!(
            grant(&["A"], Some(5))
                .check(5)
                .unwrap_err()
                .0
                .contains("not after")
        );
    }
}
