//! The identity system contract: the `did:weft` registry.
//!
//! It keeps, per DID, a [`DidRecord`] and every version of its [`Document`]
//! (`weft_types::did` has the data model, the checks and the signed message formats, shared with
//! clients). Who may change a DID:
//! - one of its own capabilityInvocation keys, as the transaction's sender ([`update`]) or by a
//!   signature that any account relays ([`update_signed`]), so a device without an account can
//!   update its DID;
//! - its controllers, other DIDs of this chain with weights: a controller proposes ([`propose`]),
//!   the others approve ([`approve`]), and the change applies in the transaction that brings the
//!   approvals' weight to the threshold. Controllers authenticate with their own DIDs'
//!   capabilityInvocation keys, directly or relayed.
//!
//! Every signed or direct update names the version it was made for, so none can be replayed, and
//! a proposal lapses when the DID changes before it applies. Deactivation is final.

use weft_sdk::abort;
use weft_sdk::prelude::*;
use weft_types::Hash32;
use weft_types::did::{
    self, Did, DidId, DidRecord, DidVersion, Document, Op, Proposal, storage as names,
};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const RECORDS: Map<[u8; 32], DidRecord> = Map::new(names::RECORDS);
const VERSIONS: Map<[u8; 36], DidVersion> = Map::new(names::VERSIONS);
const PROPOSALS: Map<[u8; 36], Proposal> = Map::new(names::PROPOSALS);
const COUNTERS: Map<[u8; 32], u64> = Map::new(names::COUNTERS);

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the identity contract was not initialized with its chain id"))
}

fn did_text(id: &DidId) -> String {
    Did::new(chain(), *id).to_string()
}

fn verify(signer: &[u8; 32], signature: &[u8; 64], message: &weft_types::Hash32) -> Result<()> {
    require!(
        ed25519_verify(signer, signature, &message.0),
        "the signature does not verify: it must be the ed25519 signature by key 0x{} of this request's message (weft_types::did::*_message)",
        hex(signer)
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sets the chain id, which is part of every DID and every signed request.
#[init]
pub fn init(chain_id: String) -> Result<()> {
    did::check_chain_name(&chain_id)?;
    CHAIN.set(&chain_id);
    Ok(())
}

/// Creates a DID for the sender with `document`; returns its id.
#[call]
pub fn create(document: Document) -> Result<DidId> {
    create_for(caller(), document)
}

/// Creates a DID for the holder of `signer`, who signed [`did::create_message`] with its next
/// creation counter ([`created_by`]); any account may relay it.
#[call]
pub fn create_signed(document: Document, signer: [u8; 32], signature: [u8; 64]) -> Result<DidId> {
    let counter = COUNTERS.get(&signer).unwrap_or(0);
    verify(
        &signer,
        &signature,
        &did::create_message(&chain(), &signer, counter, &document),
    )?;
    create_for(Address(signer), document)
}

fn create_for(creator: Address, document: Document) -> Result<DidId> {
    document.check()?;
    check_new_controllers(&document, &Document::default(), None)?;
    let counter = COUNTERS.get(&creator.0).unwrap_or(0);
    let id = DidId::derive(&creator, counter);
    require!(!RECORDS.contains(&id.0), "{} already exists", did_text(&id));
    COUNTERS.set(&creator.0, &(counter + 1));
    RECORDS.set(
        &id.0,
        &DidRecord {
            creator,
            version: 1,
            deactivated: false,
            next_proposal: 0,
            created_height: block_height(),
            created_ms: block_time_ms(),
        },
    );
    VERSIONS.set(
        &names::numbered(&id, 1),
        &DidVersion {
            document,
            height: block_height(),
            time_ms: block_time_ms(),
            deactivated: false,
        },
    );
    emit("did_created", &(id, creator));
    Ok(id)
}

/// Controllers added by a change must be existing, active DIDs of this chain, not the DID itself.
fn check_new_controllers(new: &Document, old: &Document, this: Option<&DidId>) -> Result<()> {
    for c in &new.controllers {
        if old.controllers.iter().any(|o| o.did == c.did) {
            continue;
        }
        require!(Some(&c.did) != this, "a DID cannot be its own controller");
        match RECORDS.get(&c.did.0) {
            None => {
                return Err(format!(
                    "controller {} does not exist on this chain",
                    did_text(&c.did)
                )
                .into());
            }
            Some(r) if r.deactivated => {
                return Err(format!("controller {} is deactivated", did_text(&c.did)).into());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The record and current version of an active DID.
fn load_active(id: &DidId) -> Result<(DidRecord, DidVersion)> {
    let record = RECORDS
        .get(&id.0)
        .ok_or_else(|| format!("{} does not exist", did_text(id)))?;
    require!(
        !record.deactivated,
        "{} is deactivated; deactivation is final",
        did_text(id)
    );
    let current = VERSIONS
        .get(&names::numbered(id, record.version))
        .ok_or_else(|| format!("{} has no version {}", did_text(id), record.version))?;
    Ok((record, current))
}

fn check_version(id: &DidId, record: &DidRecord, version: u32) -> Result<()> {
    require!(
        record.version == version,
        "{} is at version {}, not {version}: the request was made for another version (replayed, or the DID changed meanwhile); read the DID and sign again",
        did_text(id),
        record.version
    );
    Ok(())
}

fn require_invoker(id: &DidId, document: &Document, key: &[u8; 32]) -> Result<()> {
    require!(
        document.can_invoke(key),
        "key 0x{} is not a capabilityInvocation key of {}",
        hex(key),
        did_text(id)
    );
    Ok(())
}

/// Applies `ops` to the current version as the next version; returns it.
fn apply(id: &DidId, mut record: DidRecord, current: &DidVersion, ops: &[Op]) -> Result<u32> {
    let (document, deactivated) = current.document.apply(ops)?;
    if !deactivated {
        check_new_controllers(&document, &current.document, Some(id))?;
    }
    record.version += 1;
    record.deactivated = deactivated;
    let version = record.version;
    VERSIONS.set(
        &names::numbered(id, version),
        &DidVersion {
            document,
            height: block_height(),
            time_ms: block_time_ms(),
            deactivated,
        },
    );
    RECORDS.set(&id.0, &record);
    let topic = if deactivated {
        "did_deactivated"
    } else {
        "did_updated"
    };
    emit(topic, &(*id, version));
    Ok(version)
}

/// Changes a DID: the sender must be one of its capabilityInvocation keys and `version` its
/// current version. Returns the new version.
#[call]
pub fn update(did: DidId, version: u32, ops: Vec<Op>) -> Result<u32> {
    let (record, current) = load_active(&did)?;
    check_version(&did, &record, version)?;
    require_invoker(&did, &current.document, &caller().0)?;
    apply(&did, record, &current, &ops)
}

/// Changes a DID on behalf of `signer`, one of its capabilityInvocation keys, which signed
/// [`did::update_message`]; any account may relay it. Returns the new version.
#[call]
pub fn update_signed(
    did: DidId,
    version: u32,
    ops: Vec<Op>,
    signer: [u8; 32],
    signature: [u8; 64],
) -> Result<u32> {
    let (record, current) = load_active(&did)?;
    check_version(&did, &record, version)?;
    verify(
        &signer,
        &signature,
        &did::update_message(&chain(), &did, version, &ops),
    )?;
    require_invoker(&did, &current.document, &signer)?;
    apply(&did, record, &current, &ops)
}

/// Checks that `key` speaks for `controller`: a capabilityInvocation key of that active DID.
fn authenticate_controller(controller: &DidId, key: &[u8; 32]) -> Result<()> {
    let (_, current) = load_active(controller).map_err(|e| format!("controller: {e}"))?;
    require_invoker(controller, &current.document, key)
}

/// A controller of `did` proposes `ops` against `version`, approving them; the sender must hold
/// a capabilityInvocation key of `controller`. Returns the proposal number and whether the
/// change applied (the controller's weight alone meets the threshold).
#[call]
pub fn propose(did: DidId, controller: DidId, version: u32, ops: Vec<Op>) -> Result<(u32, bool)> {
    authenticate_controller(&controller, &caller().0)?;
    propose_as(&did, controller, version, ops)
}

/// [`propose`] relayed: `signer`, a capabilityInvocation key of `controller`, signed
/// [`did::propose_message`].
#[call]
pub fn propose_signed(
    did: DidId,
    controller: DidId,
    version: u32,
    ops: Vec<Op>,
    signer: [u8; 32],
    signature: [u8; 64],
) -> Result<(u32, bool)> {
    verify(
        &signer,
        &signature,
        &did::propose_message(&chain(), &did, &controller, version, &ops),
    )?;
    authenticate_controller(&controller, &signer)?;
    propose_as(&did, controller, version, ops)
}

fn controller_weight(id: &DidId, document: &Document, controller: &DidId) -> Result<u32> {
    document.controller_weight(controller).ok_or_else(|| {
        format!(
            "{} is not a controller of {}",
            did_text(controller),
            did_text(id)
        )
        .into()
    })
}

fn propose_as(id: &DidId, controller: DidId, version: u32, ops: Vec<Op>) -> Result<(u32, bool)> {
    let (mut record, current) = load_active(id)?;
    check_version(id, &record, version)?;
    let weight = controller_weight(id, &current.document, &controller)?;
    // Refuse a change that could never apply now, not when the last approval comes.
    current.document.apply(&ops)?;
    let number = record.next_proposal;
    record.next_proposal += 1;
    RECORDS.set(&id.0, &record);
    emit("did_proposed", &(*id, number, controller));
    if weight >= current.document.threshold {
        apply(id, record, &current, &ops)?;
        return Ok((number, true));
    }
    PROPOSALS.set(
        &names::numbered(id, number),
        &Proposal {
            version,
            ops,
            approvals: vec![controller],
        },
    );
    Ok((number, false))
}

/// A controller of `did` approves proposal `proposal`, whose content hashes to `content`
/// ([`did::proposal_hash`] of its version and operations: what the approver saw); the sender must
/// hold a capabilityInvocation key of `controller`. Returns whether the change applied.
#[call]
pub fn approve(did: DidId, controller: DidId, proposal: u32, content: Hash32) -> Result<bool> {
    authenticate_controller(&controller, &caller().0)?;
    approve_as(&did, controller, proposal, content)
}

/// [`approve`] relayed: `signer`, a capabilityInvocation key of `controller`, signed
/// [`did::approve_message`].
#[call]
pub fn approve_signed(
    did: DidId,
    controller: DidId,
    proposal: u32,
    content: Hash32,
    signer: [u8; 32],
    signature: [u8; 64],
) -> Result<bool> {
    verify(
        &signer,
        &signature,
        &did::approve_message(&chain(), &did, &controller, proposal, &content),
    )?;
    authenticate_controller(&controller, &signer)?;
    approve_as(&did, controller, proposal, content)
}

fn approve_as(id: &DidId, controller: DidId, number: u32, content: Hash32) -> Result<bool> {
    let (record, current) = load_active(id)?;
    let key = names::numbered(id, number);
    let mut proposal = PROPOSALS.get(&key).ok_or_else(|| {
        format!(
            "{} has no open proposal {number} (it applied, lapsed or was never made)",
            did_text(id)
        )
    })?;
    require!(
        proposal.version == record.version,
        "proposal {number} was made for version {} and lapsed: {} is now at version {}; propose again",
        proposal.version,
        did_text(id),
        record.version
    );
    require!(
        did::proposal_hash(proposal.version, &proposal.ops) == content,
        "proposal {number} of {} is not the content this approval was made for (its hash differs); read the proposal and approve what it says",
        did_text(id)
    );
    controller_weight(id, &current.document, &controller)?;
    require!(
        !proposal.approvals.contains(&controller),
        "{} has already approved proposal {number}",
        did_text(&controller)
    );
    proposal.approvals.push(controller);
    // Only controllers still active count: a deactivated controller's earlier approval lapses.
    let weight: u64 = proposal
        .approvals
        .iter()
        .filter(|c| RECORDS.get(&c.0).is_some_and(|r| !r.deactivated))
        .filter_map(|c| current.document.controller_weight(c))
        .map(u64::from)
        .sum();
    emit("did_approved", &(*id, number, controller));
    if weight >= u64::from(current.document.threshold) {
        PROPOSALS.remove(&key);
        apply(id, record, &current, &proposal.ops)?;
        return Ok(true);
    }
    PROPOSALS.set(&key, &proposal);
    Ok(false)
}

/// A DID's record and one of its versions (the latest when `version` is `None`).
#[view]
pub fn resolve(did: DidId, version: Option<u32>) -> Option<(DidRecord, DidVersion)> {
    let record = RECORDS.get(&did.0)?;
    let version = VERSIONS.get(&names::numbered(&did, version.unwrap_or(record.version)))?;
    Some((record, version))
}

/// The version of a DID in effect at `time_ms` (block time): the last one made at or before it.
#[view]
pub fn version_at(did: DidId, time_ms: u64) -> Option<u32> {
    let record = RECORDS.get(&did.0)?;
    let time_of = |v: u32| {
        VERSIONS
            .get(&names::numbered(&did, v))
            .map_or(u64::MAX, |version| version.time_ms)
    };
    // Versions are made in block order, so their times never decrease: the last version whose
    // time is at most `time_ms`, found by bisection.
    let (mut low, mut high) = (1u32, record.version);
    if time_of(low) > time_ms {
        return None;
    }
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if time_of(mid) <= time_ms {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Some(low)
}

/// A proposal that has not applied; it lapsed if its version is not the DID's current one.
#[view]
pub fn proposal(did: DidId, proposal: u32) -> Option<Proposal> {
    PROPOSALS.get(&names::numbered(&did, proposal))
}

/// How many DIDs `creator` has created: the counter its next DID's id and a relayed creation use.
#[view]
pub fn created_by(creator: Address) -> u64 {
    COUNTERS.get(&creator.0).unwrap_or(0)
}

/// The chain id in this registry's DIDs.
#[view]
pub fn chain_id() -> String {
    chain()
}
