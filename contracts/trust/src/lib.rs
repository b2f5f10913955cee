//! The trust system contract: a registry of accreditations between `did:weft` DIDs.
//!
//! `weft_types::trust` has the data model and the rules a verifier applies when it walks from an
//! issuer to the roots it trusts. An authority accredits a subject to issue named credential
//! types, possibly to accredit others for them, until an optional expiry ([`accredit`]), and may
//! revoke that accreditation ([`revoke`]). The sender must hold a key under the authority's
//! `assertionMethod` in its current DID Document, read from the identity contract; a deactivated
//! authority accredits nobody, and only existing, active DIDs are accredited. A subject can turn
//! down an accreditation it did not want ([`dismiss`]); a DID has at most
//! `weft_types::trust::MAX_ACCREDITORS` accreditors.

use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::did::{self, ASSERTION_METHOD, Did, DidId};
use weft_types::trust::{Accreditation, Grant, MAX_ACCREDITORS, storage as names};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const ACCREDITATIONS: Map<[u8; 64], Accreditation> = Map::new(names::ACCREDITATIONS);
const ACCREDITORS: Map<[u8; 32], Vec<DidId>> = Map::new(names::ACCREDITORS);

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the trust contract was not initialized with its chain id"))
}

fn did_text(id: &DidId) -> String {
    Did::new(chain(), *id).to_string()
}

/// Checks that the sender holds a key under the active `authority`'s `assertionMethod`.
fn require_authority_key(authority: &DidId) -> Result<()> {
    require_key(authority, "the authority")
}

/// Checks that the sender holds a key under the active `did`'s `assertionMethod`.
fn require_key(did: &DidId, role: &str) -> Result<()> {
    identity::require_sender_key(&chain(), did, ASSERTION_METHOD, role).map(|_| ())
}

/// Sets the chain id, part of every DID this contract names.
#[init]
pub fn init(chain_id: String) -> Result<()> {
    did::check_chain_name(&chain_id)?;
    CHAIN.set(&chain_id);
    Ok(())
}

/// `authority` accredits `subject` as `grant` says, replacing any earlier accreditation of the
/// same subject by the same authority. Returns the accreditation's number.
#[call]
pub fn accredit(authority: DidId, subject: DidId, grant: Grant) -> Result<u32> {
    require_authority_key(&authority)?;
    require!(
        authority != subject,
        "{} cannot accredit itself; a root of trust is whoever a verifier names",
        did_text(&authority)
    );
    identity::active_did(&chain(), &subject, "the subject")?;
    grant.check(block_time_ms())?;
    let key = names::pair(&subject, &authority);
    let number = ACCREDITATIONS.get(&key).map_or(1, |a| a.number + 1);
    if number == 1 {
        let mut accreditors = ACCREDITORS.get(&subject.0).unwrap_or_default();
        require!(
            accreditors.len() < MAX_ACCREDITORS,
            "{} already has {MAX_ACCREDITORS} accreditors, the most a DID can have",
            did_text(&subject)
        );
        accreditors.push(authority);
        ACCREDITORS.set(&subject.0, &accreditors);
    }
    ACCREDITATIONS.set(
        &key,
        &Accreditation {
            authority,
            subject,
            types: grant.types,
            may_accredit: grant.may_accredit,
            valid_from_ms: block_time_ms(),
            valid_until_ms: grant.valid_until_ms,
            revoked_ms: None,
            height: block_height(),
            number,
        },
    );
    emit("accredited", &(authority, subject, number));
    Ok(number)
}

/// `authority` revokes its accreditation of `subject`. Final for that accreditation.
#[call]
pub fn revoke(authority: DidId, subject: DidId) -> Result<()> {
    require_authority_key(&authority)?;
    let key = names::pair(&subject, &authority);
    let mut accreditation = ACCREDITATIONS.get(&key).ok_or_else(|| {
        format!(
            "{} never accredited {}",
            did_text(&authority),
            did_text(&subject)
        )
    })?;
    require!(
        accreditation.revoked_ms.is_none(),
        "the accreditation of {} by {} is already revoked",
        did_text(&subject),
        did_text(&authority)
    );
    accreditation.revoked_ms = Some(block_time_ms());
    ACCREDITATIONS.set(&key, &accreditation);
    emit("accreditation_revoked", &(authority, subject));
    Ok(())
}

/// `subject` turns down `authority`'s accreditation of it: the accreditation is deleted and the
/// authority leaves its accreditors, so nobody can fill a DID's accreditors with ones it never
/// asked for. The sender must hold a key under the subject's `assertionMethod`.
#[call]
pub fn dismiss(subject: DidId, authority: DidId) -> Result<()> {
    require_key(&subject, "the subject")?;
    let key = names::pair(&subject, &authority);
    require!(
        ACCREDITATIONS.contains(&key),
        "{} never accredited {}",
        did_text(&authority),
        did_text(&subject)
    );
    ACCREDITATIONS.remove(&key);
    let mut accreditors = ACCREDITORS.get(&subject.0).unwrap_or_default();
    accreditors.retain(|a| *a != authority);
    ACCREDITORS.set(&subject.0, &accreditors);
    emit("accreditation_dismissed", &(authority, subject));
    Ok(())
}

/// The accreditation of `subject` by `authority`.
#[view]
pub fn accreditation(subject: DidId, authority: DidId) -> Option<Accreditation> {
    ACCREDITATIONS.get(&names::pair(&subject, &authority))
}

/// Every authority that ever accredited `subject`.
#[view]
pub fn accreditors(subject: DidId) -> Vec<DidId> {
    ACCREDITORS.get(&subject.0).unwrap_or_default()
}
