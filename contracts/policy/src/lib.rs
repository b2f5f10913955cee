//! The policy system contract: access policies of devices (DIDs), as `weft_types::policy`
//! defines them, with the decision computed the same way on chain and off.
//!
//! - The device's owner sets its policy ([`set`]): the sender acts as `owner`, a DID that is the
//!   device itself or one of the device DID's controllers, with a key under the owner's
//!   `assertionMethod`.
//! - Anyone asks for a decision ([`decide`], a view: a gateway calls it over JSON-RPC with the
//!   credential facts it verified, and can check the policy it rests on with a state proof).
//! - The device (or its owner) records an access with the obligations it fulfilled
//!   ([`record`]), as an event and a count.

use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::did::{self, ASSERTION_METHOD, Did, DidId};
use weft_types::policy::{self, Decision, Outcome, Policy, Request, storage as names};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const POLICIES: Map<[u8; 32], Policy> = Map::new(names::POLICIES);
const RECORDS: Map<[u8; 32], u64> = Map::new("records");

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the policy contract was not initialized with its chain id"))
}

/// Checks that the sender acts for `owner`, which is `device` or one of its controllers.
fn require_owner(owner: &DidId, device: &DidId) -> Result<()> {
    identity::require_sender_key(&chain(), owner, ASSERTION_METHOD, "the owner")?;
    let document = identity::active_did(&chain(), device, "the device")?.document;
    require!(
        owner == device || document.controller_weight(owner).is_some(),
        "{} does not own {}: it is neither the device nor one of its controllers",
        Did::new(chain(), *owner),
        Did::new(chain(), *device)
    );
    Ok(())
}

/// Sets the chain id, part of every DID this contract names.
#[init]
pub fn init(chain_id: String) -> Result<()> {
    did::check_chain_name(&chain_id)?;
    CHAIN.set(&chain_id);
    Ok(())
}

/// `owner` sets `device`'s policy (replacing any).
#[call]
pub fn set(owner: DidId, device: DidId, policy: Policy) -> Result<()> {
    require_owner(&owner, &device)?;
    policy.check()?;
    POLICIES.set(&device.0, &policy);
    emit("policy_set", &(device, owner));
    Ok(())
}

/// `device`'s policy.
#[view]
pub fn policy(device: DidId) -> Option<Policy> {
    POLICIES.get(&device.0)
}

/// The decision of `device`'s policy on `request` (`Undefined` when the device has none).
#[view]
pub fn decide(device: DidId, request: Request) -> Decision {
    match POLICIES.get(&device.0) {
        Some(p) => policy::decide(&p, &request),
        None => Decision {
            outcome: Outcome::Undefined,
            obligations: Vec::new(),
            rules: Vec::new(),
        },
    }
}

/// The device (or its owner, acting as `by`) records an access by `subject` to `action` with
/// the obligations fulfilled. Returns how many accesses the device has recorded.
#[call]
pub fn record(
    by: DidId,
    device: DidId,
    subject: DidId,
    action: String,
    outcome: Outcome,
    obligations: Vec<String>,
) -> Result<u64> {
    require_owner(&by, &device)?;
    let count = RECORDS.get(&device.0).unwrap_or(0) + 1;
    RECORDS.set(&device.0, &count);
    emit(
        "access_recorded",
        &(device, subject, action, outcome, obligations),
    );
    Ok(count)
}
