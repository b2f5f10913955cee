//! The channel system contract: audit-trail channels with rights enforced here and reads enforced
//! by cryptography (`weft_types::channel` has the model and explains the key epochs).
//!
//! Every request names the DID it acts as, and the sender must hold a key under that DID's
//! `assertionMethod` (read from the identity contract at that block):
//! - the author creates a channel ([`create`]) and names admins ([`set_admins`]);
//! - a DID asks for rights ([`request`]); the author or an admin grants, changes or revokes them,
//!   optionally with an expiry ([`authorize`], [`revoke`]), never its own;
//! - the author or an admin starts key epochs ([`rotate`]) and wraps epoch secrets for readers
//!   ([`share_keys`]): only for DIDs whose rights cover that epoch;
//! - the author and subscribers with write rights at that block append entries ([`write`]), each
//!   linked to the one before by hash; on a private channel only for the current key epoch.

use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::Hash32;
use weft_types::channel::{
    self, Channel, ChannelSpec, Entry, EntryInput, MAX_ADMINS, MAX_WRAPPED_KEYS, Rights,
    Subscription, SubscriptionState, WRAPPED_KEY_BYTES, WrappedKey, storage as names,
};
use weft_types::did::{self, ASSERTION_METHOD, Did, DidId};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const CHANNELS: Map<[u8; 32], Channel> = Map::new(names::CHANNELS);
const ENTRIES: Map<[u8; 40], Entry> = Map::new(names::ENTRIES);
const SUBSCRIPTIONS: Map<[u8; 64], Subscription> = Map::new(names::SUBSCRIPTIONS);
const KEYS: Map<[u8; 64], Vec<WrappedKey>> = Map::new(names::KEYS);
const COUNTS: Map<[u8; 32], u64> = Map::new(names::COUNTS);
const MEMBERS: Map<[u8; 32], Vec<DidId>> = Map::new(names::MEMBERS);

/// The most DIDs that may ever subscribe to one channel.
const MAX_MEMBERS: usize = 1_024;

/// Adds `did` to the channel's members (everyone who ever requested or was granted rights).
fn remember_member(channel: &Hash32, did: &DidId) -> Result<()> {
    let mut members = MEMBERS.get(&channel.0).unwrap_or_default();
    if !members.contains(did) {
        require!(
            members.len() < MAX_MEMBERS,
            "channel {channel} already has {MAX_MEMBERS} members"
        );
        members.push(*did);
        MEMBERS.set(&channel.0, &members);
    }
    Ok(())
}

/// The most wrapped keys one reader keeps per channel (one per epoch).
const MAX_KEYS_PER_READER: usize = 4_096;

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the channel contract was not initialized with its chain id"))
}

fn did_text(id: &DidId) -> String {
    Did::new(chain(), *id).to_string()
}

fn acting_as(did: &DidId, role: &str) -> Result<()> {
    identity::require_sender_key(&chain(), did, ASSERTION_METHOD, role).map(|_| ())
}

fn load(id: &Hash32) -> Result<Channel> {
    CHANNELS
        .get(&id.0)
        .ok_or_else(|| format!("there is no channel {id}").into())
}

/// Checks that `manager` is the author or an admin of `channel`.
fn require_manager(channel: &Channel, id: &Hash32, manager: &DidId) -> Result<()> {
    require!(
        channel.author == *manager || channel.admins.contains(manager),
        "{} is neither the author nor an admin of channel {id}",
        did_text(manager)
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

/// `author` creates a channel; a private one needs the X25519 public key of its first key epoch
/// (whose secret the author keeps and wraps for readers). Returns the channel's id.
#[call]
pub fn create(author: DidId, spec: ChannelSpec, epoch_key: Option<[u8; 32]>) -> Result<Hash32> {
    acting_as(&author, "the author")?;
    spec.check()?;
    require!(
        spec.private == epoch_key.is_some(),
        "a private channel needs the public key of its first key epoch, and a public one has none"
    );
    let counter = COUNTS.get(&author.0).unwrap_or(0);
    COUNTS.set(&author.0, &(counter + 1));
    let id = channel::channel_id(&author, counter);
    CHANNELS.set(
        &id.0,
        &Channel {
            author,
            spec,
            admins: Vec::new(),
            entries: 0,
            head: Hash32::default(),
            epoch: 0,
            epoch_key,
            created_height: block_height(),
        },
    );
    emit("channel_created", &(id, author));
    Ok(id)
}

/// The author names the admins who manage subscriptions with it (replacing any).
#[call]
pub fn set_admins(channel: Hash32, admins: Vec<DidId>) -> Result<()> {
    let mut record = load(&channel)?;
    acting_as(&record.author, "the author")?;
    require!(
        admins.len() <= MAX_ADMINS,
        "a channel has at most {MAX_ADMINS} admins, not {}",
        admins.len()
    );
    record.admins = admins;
    CHANNELS.set(&channel.0, &record);
    Ok(())
}

/// `subscriber` asks for `rights` on a channel, optionally with `evidence` that it may (a
/// credential, which managers verify before they authorize).
#[call]
pub fn request(
    channel: Hash32,
    subscriber: DidId,
    rights: Rights,
    evidence: Option<Vec<u8>>,
) -> Result<()> {
    load(&channel)?;
    acting_as(&subscriber, "the subscriber")?;
    if let Some(e) = &evidence {
        require!(
            e.len() <= channel::MAX_EVIDENCE,
            "evidence has at most {} bytes, not {}",
            channel::MAX_EVIDENCE,
            e.len()
        );
    }
    let key = names::member_id(&channel, &subscriber);
    let mut subscription = SUBSCRIPTIONS.get(&key).unwrap_or(Subscription {
        requested: rights,
        granted: None,
        state: SubscriptionState::Requested,
        expires_ms: None,
        from_entry: 0,
        from_epoch: 0,
        height: block_height(),
        evidence: None,
    });
    subscription.requested = rights;
    subscription.evidence = evidence;
    subscription.height = block_height();
    SUBSCRIPTIONS.set(&key, &subscription);
    remember_member(&channel, &subscriber)?;
    emit("subscription_requested", &(channel, subscriber, rights));
    Ok(())
}

/// `manager` (the author or an admin) grants `subscriber` `rights` until `expires_ms`; a `Read`
/// grant covers entries written from now on, `Audit` the whole history.
#[call]
pub fn authorize(
    channel: Hash32,
    manager: DidId,
    subscriber: DidId,
    rights: Rights,
    expires_ms: Option<u64>,
) -> Result<()> {
    let record = load(&channel)?;
    acting_as(&manager, "the manager")?;
    require_manager(&record, &channel, &manager)?;
    require!(
        manager != subscriber,
        "{} cannot change its own rights",
        did_text(&manager)
    );
    if let Some(end) = expires_ms {
        require!(
            end > block_time_ms(),
            "the expiry ({end} ms) is not after the block time ({} ms)",
            block_time_ms()
        );
    }
    let key = names::member_id(&channel, &subscriber);
    let previous = SUBSCRIPTIONS.get(&key);
    let requested = previous.as_ref().map_or(rights, |s| s.requested);
    let evidence = previous.and_then(|s| s.evidence);
    SUBSCRIPTIONS.set(
        &key,
        &Subscription {
            requested,
            granted: Some(rights),
            state: SubscriptionState::Active,
            expires_ms,
            from_entry: record.entries,
            from_epoch: record.epoch,
            height: block_height(),
            evidence,
        },
    );
    remember_member(&channel, &subscriber)?;
    emit("subscription_authorized", &(channel, subscriber, rights));
    Ok(())
}

/// `manager` revokes `subscriber`'s rights. On a private channel the manager then starts a new
/// key epoch ([`rotate`]) so the revoked reader cannot read what comes next.
#[call]
pub fn revoke(channel: Hash32, manager: DidId, subscriber: DidId) -> Result<()> {
    let record = load(&channel)?;
    acting_as(&manager, "the manager")?;
    require_manager(&record, &channel, &manager)?;
    require!(
        manager != subscriber,
        "{} cannot change its own rights",
        did_text(&manager)
    );
    let key = names::member_id(&channel, &subscriber);
    let mut subscription = SUBSCRIPTIONS.get(&key).ok_or_else(|| {
        format!(
            "{} has no subscription to channel {channel}",
            did_text(&subscriber)
        )
    })?;
    require!(
        subscription.state == SubscriptionState::Active,
        "{}'s subscription is not active",
        did_text(&subscriber)
    );
    subscription.state = SubscriptionState::Revoked;
    subscription.height = block_height();
    SUBSCRIPTIONS.set(&key, &subscription);
    emit("subscription_revoked", &(channel, subscriber));
    Ok(())
}

/// `manager` starts key epoch `epoch` (the next one) with X25519 public key `epoch_key`, and
/// posts its secret wrapped for readers (more can follow with [`share_keys`]).
#[call]
pub fn rotate(
    channel: Hash32,
    manager: DidId,
    epoch: u32,
    epoch_key: [u8; 32],
    keys: Vec<WrappedKey>,
) -> Result<()> {
    let mut record = load(&channel)?;
    acting_as(&manager, "the manager")?;
    require_manager(&record, &channel, &manager)?;
    require!(
        record.spec.private,
        "channel {channel} is public: it has no keys"
    );
    require!(
        epoch == record.epoch + 1,
        "the next key epoch of channel {channel} is {}, not {epoch}",
        record.epoch + 1
    );
    record.epoch = epoch;
    record.epoch_key = Some(epoch_key);
    CHANNELS.set(&channel.0, &record);
    store_keys(&channel, &record, keys)?;
    emit("channel_rotated", &(channel, epoch));
    Ok(())
}

/// `manager` posts epoch secrets wrapped for readers, each for an epoch its rights cover.
#[call]
pub fn share_keys(channel: Hash32, manager: DidId, keys: Vec<WrappedKey>) -> Result<()> {
    let record = load(&channel)?;
    acting_as(&manager, "the manager")?;
    require_manager(&record, &channel, &manager)?;
    require!(
        record.spec.private,
        "channel {channel} is public: it has no keys"
    );
    store_keys(&channel, &record, keys)
}

fn store_keys(channel: &Hash32, record: &Channel, keys: Vec<WrappedKey>) -> Result<()> {
    require!(
        keys.len() <= MAX_WRAPPED_KEYS,
        "post at most {MAX_WRAPPED_KEYS} wrapped keys at a time, not {}",
        keys.len()
    );
    let now = block_time_ms();
    for key in keys {
        require!(
            key.wrapped.len() == WRAPPED_KEY_BYTES,
            "a wrapped key has {WRAPPED_KEY_BYTES} bytes, not {}",
            key.wrapped.len()
        );
        require!(
            key.epoch <= record.epoch,
            "key epoch {} has not started (the current one is {})",
            key.epoch,
            record.epoch
        );
        let member = names::member_id(channel, &key.reader);
        let reader = did_text(&key.reader);
        let rights = if key.reader == record.author || record.admins.contains(&key.reader) {
            Some((Rights::Audit, 0))
        } else {
            SUBSCRIPTIONS
                .get(&member)
                .and_then(|s| s.rights_at(now).map(|r| (r, s.from_epoch)))
        };
        match rights {
            Some((r, _)) if !r.reads() => {
                return Err(format!("{reader} may only write to channel {channel}").into());
            }
            Some((Rights::Read | Rights::ReadAndWrite, from)) if key.epoch < from => {
                return Err(format!(
                    "{reader} reads from key epoch {from} on, not epoch {}",
                    key.epoch
                )
                .into());
            }
            Some(_) => {}
            None => {
                return Err(format!("{reader} has no read rights on channel {channel} now").into());
            }
        }
        let mut held = KEYS.get(&member).unwrap_or_default();
        held.retain(|k| k.epoch != key.epoch);
        require!(
            held.len() < MAX_KEYS_PER_READER,
            "{reader} already holds {MAX_KEYS_PER_READER} keys of channel {channel}"
        );
        held.push(key);
        KEYS.set(&member, &held);
    }
    Ok(())
}

/// `writer` appends an entry; it must be the author or hold write rights at this block, and on a
/// private channel the entry must be sealed for the current key epoch. Returns its index.
#[call]
pub fn write(channel: Hash32, writer: DidId, input: EntryInput) -> Result<u64> {
    let mut record = load(&channel)?;
    acting_as(&writer, "the writer")?;
    input.check()?;
    if writer != record.author {
        let rights = SUBSCRIPTIONS
            .get(&names::member_id(&channel, &writer))
            .and_then(|s| s.rights_at(block_time_ms()));
        require!(
            rights.is_some_and(Rights::writes),
            "{} has no write rights on channel {channel} at this block",
            did_text(&writer)
        );
    }
    require!(
        input.epoch == record.epoch,
        "the entry is sealed for key epoch {}, but channel {channel} is at epoch {}: seal it to the current epoch key",
        input.epoch,
        record.epoch
    );
    let entry = Entry {
        index: record.entries,
        prev: record.head,
        writer,
        created_ms: block_time_ms(),
        height: block_height(),
        input,
    };
    let index = entry.index;
    record.head = entry.hash();
    record.entries += 1;
    ENTRIES.set(&names::entry_id(&channel, index), &entry);
    CHANNELS.set(&channel.0, &record);
    emit("entry_written", &(channel, index, record.head));
    Ok(index)
}

/// A channel's record.
#[view]
pub fn channel(channel: Hash32) -> Option<Channel> {
    CHANNELS.get(&channel.0)
}

/// One entry.
#[view]
pub fn entry(channel: Hash32, index: u64) -> Option<Entry> {
    ENTRIES.get(&names::entry_id(&channel, index))
}

/// A DID's subscription.
#[view]
pub fn subscription(channel: Hash32, subscriber: DidId) -> Option<Subscription> {
    SUBSCRIPTIONS.get(&names::member_id(&channel, &subscriber))
}

/// The epoch secrets wrapped for a reader.
#[view]
pub fn keys(channel: Hash32, reader: DidId) -> Vec<WrappedKey> {
    KEYS.get(&names::member_id(&channel, &reader))
        .unwrap_or_default()
}

/// Every DID that ever requested or was granted rights on a channel, in order.
#[view]
pub fn members(channel: Hash32) -> Vec<DidId> {
    MEMBERS.get(&channel.0).unwrap_or_default()
}

/// How many channels `author` has created (the next one's counter).
#[view]
pub fn channels_of(author: DidId) -> u64 {
    COUNTS.get(&author.0).unwrap_or(0)
}
