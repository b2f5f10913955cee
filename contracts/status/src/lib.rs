//! The status system contract: W3C Bitstring Status Lists kept on chain.
//!
//! `weft_types::status` has the data model and rules, shared with clients. An issuer DID creates
//! lists ([`create`]), allocates indexes to the credentials it issues ([`allocate`]) and changes
//! entries ([`update`]): revokes (final), suspends and unsuspends, or sets status messages,
//! several per transaction. The sender must hold a key under the issuer's `assertionMethod` in its
//! current DID Document, read from the identity contract; a deactivated issuer changes nothing.
//!
//! Every creation and change carries the issuer-signed `BitstringStatusListCredential` of the
//! resulting bits, which nodes serve over HTTP to verifiers that know only the W3C specification;
//! Weft's own verifier reads the bits here, with a state proof.

use std::collections::BTreeMap;
use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::did::{self, ASSERTION_METHOD, Did, DidId};
use weft_types::status::{
    self, Change, ListSpec, MAX_ALLOCATE, MAX_CHANGES, PAGE_BYTES, Published, StatusList,
    storage as names,
};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const LISTS: Map<[u8; 36], StatusList> = Map::new(names::LISTS);
const PAGES: Map<[u8; 40], Vec<u8>> = Map::new(names::PAGES);
const PUBLISHED: Map<[u8; 36], Published> = Map::new(names::PUBLISHED);
const COUNTS: Map<[u8; 32], u32> = Map::new(names::COUNTS);

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the status contract was not initialized with its chain id"))
}

fn did_text(id: &DidId) -> String {
    Did::new(chain(), *id).to_string()
}

/// Checks that the sender holds a key under the active `issuer`'s `assertionMethod`.
fn require_issuer_key(issuer: &DidId) -> Result<()> {
    identity::require_sender_key(&chain(), issuer, ASSERTION_METHOD, "the issuer").map(|_| ())
}

fn load(issuer: &DidId, list: u32) -> Result<StatusList> {
    LISTS
        .get(&names::list_id(issuer, list))
        .ok_or_else(|| format!("{} has no status list {list}", did_text(issuer)).into())
}

fn publish(issuer: &DidId, list: u32, published: &Published) -> Result<()> {
    published.check()?;
    PUBLISHED.set(&names::list_id(issuer, list), published);
    Ok(())
}

/// Sets the chain id, part of every DID this contract names.
#[init]
pub fn init(chain_id: String) -> Result<()> {
    did::check_chain_name(&chain_id)?;
    CHAIN.set(&chain_id);
    Ok(())
}

/// Creates status list `number` of `issuer` (its next one, [`lists_of`]: the list's URL is in
/// the credential, so the number is fixed before signing) laid out as `spec`, with `credential`,
/// the issuer-signed `BitstringStatusListCredential` of its empty bits (version 0).
#[call]
pub fn create(issuer: DidId, number: u32, spec: ListSpec, credential: Published) -> Result<u32> {
    require_issuer_key(&issuer)?;
    spec.check()?;
    require!(
        credential.version == 0,
        "the credential of a new list shows version 0, not {}",
        credential.version
    );
    let next = COUNTS.get(&issuer.0).unwrap_or(0);
    require!(
        number == next,
        "{}'s next status list is number {next}, not {number}: another list was created meanwhile; sign its credential for {next} and resend",
        did_text(&issuer)
    );
    COUNTS.set(&issuer.0, &(number + 1));
    LISTS.set(
        &names::list_id(&issuer, number),
        &StatusList {
            issuer,
            spec,
            allocated: 0,
            version: 0,
            created_height: block_height(),
            updated_height: block_height(),
            updated_ms: block_time_ms(),
        },
    );
    publish(&issuer, number, &credential)?;
    emit("status_list_created", &(issuer, number));
    Ok(number)
}

/// Allocates `count` more indexes of a list to credentials about to be issued; returns the first.
#[call]
pub fn allocate(issuer: DidId, list: u32, count: u32) -> Result<u32> {
    require_issuer_key(&issuer)?;
    let mut record = load(&issuer, list)?;
    require!(
        (1..=MAX_ALLOCATE).contains(&count),
        "allocate 1 to {MAX_ALLOCATE} indexes at a time, not {count}"
    );
    let first = record.allocated;
    let end = u64::from(first) + u64::from(count);
    require!(
        end <= u64::from(record.spec.entries),
        "status list {list} of {} has {} free indexes, fewer than {count}; create another list",
        did_text(&issuer),
        record.spec.entries - first
    );
    record.allocated = end as u32;
    LISTS.set(&names::list_id(&issuer, list), &record);
    Ok(first)
}

/// The pages a change touches, read once and written back once.
struct Pages {
    issuer: DidId,
    list: u32,
    pages: BTreeMap<u32, Vec<u8>>,
}

impl Pages {
    fn page(&mut self, page: u32) -> &mut Vec<u8> {
        let (issuer, list) = (self.issuer, self.list);
        self.pages.entry(page).or_insert_with(|| {
            PAGES
                .get(&names::page_id(&issuer, list, page))
                .unwrap_or_else(|| vec![0; PAGE_BYTES])
        })
    }

    /// Reads or writes entry bits one bit at a time, so entries may straddle pages.
    fn read(&mut self, at: u64, size: u8) -> u8 {
        let mut value = 0;
        for k in 0..u64::from(size) {
            let bit = at + k;
            let page = self.page(names::page_of(bit));
            value = (value << 1) | status::read_bits(page, bit % status::PAGE_BITS, 1);
        }
        value
    }

    fn write(&mut self, at: u64, size: u8, value: u8) {
        for k in 0..u64::from(size) {
            let bit = at + k;
            let one = (value >> (u64::from(size) - 1 - k)) & 1;
            let page = self.page(names::page_of(bit));
            status::write_bits(page, bit % status::PAGE_BITS, 1, one);
        }
    }

    fn save(self) {
        for (page, bytes) in self.pages {
            PAGES.set(&names::page_id(&self.issuer, self.list, page), &bytes);
        }
    }
}

/// Applies `changes` to a list at `version` (its current version: a change made against an older
/// one is refused, so the published credential never misses a change), in order, all or none;
/// `credential` is the issuer-signed credential of the resulting bits. Returns the new version.
#[call]
pub fn update(
    issuer: DidId,
    list: u32,
    version: u32,
    changes: Vec<Change>,
    credential: Published,
) -> Result<u32> {
    require_issuer_key(&issuer)?;
    let mut record = load(&issuer, list)?;
    require!(
        record.version == version,
        "status list {list} of {} is at version {}, not {version}: read it again, sign its credential again and resend",
        did_text(&issuer),
        record.version
    );
    require!(
        (1..=MAX_CHANGES).contains(&changes.len()),
        "send 1 to {MAX_CHANGES} changes at a time, not {}",
        changes.len()
    );
    let size = record.spec.status_size;
    let mut pages = Pages {
        issuer,
        list,
        pages: BTreeMap::new(),
    };
    for change in &changes {
        let at = u64::from(change.index) * u64::from(size);
        let current = if change.index < record.allocated {
            pages.read(at, size)
        } else {
            0
        };
        record.check_change(change, current)?;
        pages.write(at, size, change.value);
    }
    pages.save();
    record.version += 1;
    require!(
        credential.version == record.version,
        "the credential must show the list's new version {}, not {}",
        record.version,
        credential.version
    );
    record.updated_height = block_height();
    record.updated_ms = block_time_ms();
    LISTS.set(&names::list_id(&issuer, list), &record);
    publish(&issuer, list, &credential)?;
    emit("status_changed", &(issuer, list, record.version, changes));
    Ok(record.version)
}

/// A list's record.
#[view]
pub fn list(issuer: DidId, list: u32) -> Option<StatusList> {
    LISTS.get(&names::list_id(&issuer, list))
}

/// The value of one entry (`None`: no such list or index).
#[view]
pub fn entry(issuer: DidId, list: u32, index: u32) -> Option<u8> {
    let record = LISTS.get(&names::list_id(&issuer, list))?;
    if index >= record.spec.entries {
        return None;
    }
    let size = record.spec.status_size;
    let mut pages = Pages {
        issuer,
        list,
        pages: BTreeMap::new(),
    };
    Some(pages.read(u64::from(index) * u64::from(size), size))
}

/// The whole bitstring of a list (its pages joined, zeros where none was written).
#[view]
pub fn bits(issuer: DidId, list: u32) -> Option<Vec<u8>> {
    let record = LISTS.get(&names::list_id(&issuer, list))?;
    let bytes = record.spec.bits().div_ceil(8) as usize;
    let mut out = vec![0u8; bytes];
    for (i, chunk) in out.chunks_mut(PAGE_BYTES).enumerate() {
        if let Some(page) = PAGES.get(&names::page_id(&issuer, list, i as u32)) {
            chunk.copy_from_slice(&page[..chunk.len()]);
        }
    }
    Some(out)
}

/// The latest issuer-signed credential of a list.
#[view]
pub fn credential(issuer: DidId, list: u32) -> Option<Published> {
    PUBLISHED.get(&names::list_id(&issuer, list))
}

/// How many lists `issuer` has created (the next one's number).
#[view]
pub fn lists_of(issuer: DidId) -> u32 {
    COUNTS.get(&issuer.0).unwrap_or(0)
}
