//! Asking the identity system contract about a DID from another contract: whether it exists and
//! is active, and whether the sender holds one of its keys. System contracts that act for DIDs
//! (status lists, the trust registry) authorize with these.

use crate::env::{call_contract, caller};
use crate::error::{ContractError, Result};
use weft_types::ContractId;
use weft_types::did::{Did, DidId, DidRecord, DidVersion, RELATIONSHIPS};

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
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(ContractError(format!(
            "the key 0x{hex} is not {article} {name} key of {role} {}",
            Did::new(chain, *id)
        )));
    }
    Ok(version)
}
