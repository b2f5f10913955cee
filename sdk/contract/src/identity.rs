//! Asking the identity system contract about a DID from another contract: whether it exists and
//! is active, and whether the sender holds one of its keys. System contracts that act for DIDs
//! (status lists, the trust registry) authorize with these, and those that keep assets for
//! holders (tokens, NFTs) with [`require_holder`].

use crate::env::{call_contract, caller};
use crate::error::{ContractError, Result};
use weft_types::did::{CAPABILITY_INVOCATION, Did, DidId, DidRecord, DidVersion, RELATIONSHIPS};
use weft_types::holder::Holder;
use weft_types::{Address, ContractId};

/// The current version of DID `id` of chain `chain`, which must exist and be active; `role`
/// ("the issuer", …) names it in errors.
pub fn active_did(chain: &str, id: &DidId, role: &str) -> Result<DidVersion> {
    let identity = ContractId::system("identity");
    let found: Option<(DidRecord, DidVersion)> =
        call_contract(&identity, "resolve", &(*id, None::<u32>))?;
    let did = Did::new(chain, *id);
    let (record, version) =
        found.ok_or_else(|| ContractError(format!("{role} {did} does not exist")))?;
    if record.deactivated {
        return Err(ContractError(format!("{role} {did} is deactivated")));
    }
    Ok(version)
}

/// Requires the sender to hold an Ed25519 key of the active DID `id` under `relationship`
/// (`weft_types::did::ASSERTION_METHOD`, …); returns the DID's current version.
pub fn require_sender_key(
    chain: &str,
    id: &DidId,
    relationship: u8,
    role: &str,
) -> Result<DidVersion> {
    require_key(chain, id, &caller().0, relationship, role)
}

/// Requires `key` (the sender, or the signer of a relayed request) to be an Ed25519 key of the
/// active DID `id` under `relationship`; returns the DID's current version.
pub fn require_key(
    chain: &str,
    id: &DidId,
    key: &[u8; 32],
    relationship: u8,
    role: &str,
) -> Result<DidVersion> {
    let version = active_did(chain, id, role)?;
    if !version.document.has_key(key, relationship) {
        let name = RELATIONSHIPS
            .iter()
            .find(|(bit, _)| *bit == relationship)
            .map_or("required", |(_, name)| name);
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(ContractError(format!(
            "the key {} is not {article} {name} key of {role} {}",
            Address(*key),
            Did::new(chain, *id)
        )));
    }
    Ok(version)
}

/// Requires `key` (the sender, or the signer of a relayed request) to speak for `holder`: to be
/// the account, or a capabilityInvocation key of the active DID. `role` ("the owner", …) names
/// the holder in errors. The token and NFT contracts authorize every request with this.
pub fn require_holder(chain: &str, holder: &Holder, key: &[u8; 32], role: &str) -> Result<()> {
    match holder {
        Holder::Account(account) => {
            if &account.0 != key {
                return Err(ContractError(format!(
                    "{role} is account {account}, but the request is signed by key {}: sign with that account's key, or name a DID whose capabilityInvocation keys include yours",
                    Address(*key)
                )));
            }
            Ok(())
        }
        Holder::Did(id) => require_key(chain, id, key, CAPABILITY_INVOCATION, role).map(|_| ()),
    }
}

/// Requires the sender to speak for `holder` ([`require_holder`]).
pub fn require_sender_holds(chain: &str, holder: &Holder, role: &str) -> Result<()> {
    require_holder(chain, holder, &caller().0, role)
}

/// Requires a DID recipient to exist and be active, so nothing sent to a mistyped DID is stuck
/// for ever (an account cannot be checked: any key may be one).
pub fn require_recipient(chain: &str, to: &Holder) -> Result<()> {
    if let Holder::Did(id) = to {
        active_did(chain, id, "the recipient")?;
    }
    Ok(())
}
