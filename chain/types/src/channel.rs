//! Audit-trail channels, as the channel system contract keeps them.
//!
//! An author (a `did:weft` DID) creates a channel; other DIDs request subscriptions with
//! [`Rights`]; the author, or admins it names, authorize, change or revoke them, optionally with an
//! expiry, and nobody changes their own rights. Authorized writers append [`Entry`]s, each linked
//! to the one before by its hash ([`Entry::hash`]), so anyone holding the entries can check the
//! chain (`weft-channels` validates it against anchored state proofs).
//!
//! **Reads are cryptographic.** The contract cannot hide what it stores, so a private channel's
//! payloads are ciphertext. Each key epoch has an X25519 key pair: its public key is on chain
//! ([`Channel::epoch_key`]), writers seal payloads to it, and its secret key is wrapped for each
//! authorized reader's `keyAgreement` key ([`WrappedKey`]) by the author or an admin. Revoking or
//! expiring a reader starts a new epoch whose secret the reader never gets: it cannot read what is
//! written afterwards, and keeps what it was given. `Audit` subscribers get every epoch's key;
//! `Read` subscribers the keys from their authorization on. A `Write`-only subscriber seals to the
//! public key and can read nothing.

use crate::did::DidId;
use crate::ids::domain_hash;
use crate::{Hash32, TangleBlockId};
use borsh::{BorshDeserialize, BorshSerialize};

/// The longest channel name.
pub const MAX_NAME: usize = 128;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 1_024;
/// The most topics.
pub const MAX_TOPICS: usize = 16;
/// The longest topic, entry type or metadata field.
pub const MAX_LABEL: usize = 128;
/// The longest metadata string.
pub const MAX_METADATA: usize = 2_048;
/// The most admins.
pub const MAX_ADMINS: usize = 16;
/// The largest payload kept in an entry (public and private parts together). Anything larger is
/// posted to the Tangle as a data block, and the entry holds its hash ([`Payload::Tangle`]).
pub const MAX_INLINE_PAYLOAD: usize = 16 * 1024;
/// The most wrapped keys one transaction posts.
pub const MAX_WRAPPED_KEYS: usize = 64;
/// The size of a wrapped epoch secret: ephemeral X25519 key (32), nonce (24), ciphertext of 32
/// bytes with its tag (48).
pub const WRAPPED_KEY_BYTES: usize = 32 + 24 + 48;

/// What a subscription allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub enum Rights {
    /// Read the whole history, from the first entry.
    Audit,
    /// Read entries written from the authorization on.
    Read,
    /// Append entries.
    Write,
    /// Read (from the authorization on) and append.
    ReadAndWrite,
}

impl Rights {
    /// Whether these rights read entries.
    pub fn reads(self) -> bool {
        matches!(self, Self::Audit | Self::Read | Self::ReadAndWrite)
    }

    /// Whether these rights append entries.
    pub fn writes(self) -> bool {
        matches!(self, Self::Write | Self::ReadAndWrite)
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "Audit",
            Self::Read => "Read",
            Self::Write => "Write",
            Self::ReadAndWrite => "ReadAndWrite",
        }
    }

    /// The rights called `name` (case-insensitive).
    pub fn parse(name: &str) -> Result<Self, ChannelError> {
        match name.to_ascii_lowercase().as_str() {
            "audit" => Ok(Self::Audit),
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "readandwrite" | "read-and-write" | "read_and_write" => Ok(Self::ReadAndWrite),
            _ => Err(ChannelError(format!(
                "unknown rights {name:?}: expected Audit, Read, Write or ReadAndWrite"
            ))),
        }
    }
}

/// Why a channel request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChannelError(pub String);

/// A channel's description, as its author gives it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChannelSpec {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Topics, for finding it.
    pub topics: Vec<String>,
    /// Whether payloads are encrypted (then an epoch key is required).
    pub private: bool,
}

fn check_text(what: &str, text: &str, max: usize, empty_ok: bool) -> Result<(), ChannelError> {
    if (!empty_ok && text.is_empty()) || text.len() > max {
        return Err(ChannelError(format!(
            "{what} must have {} to {max} bytes, not {}",
            usize::from(!empty_ok),
            text.len()
        )));
    }
    Ok(())
}

impl ChannelSpec {
    /// Checks sizes.
    pub fn check(&self) -> Result<(), ChannelError> {
        check_text("the channel name", &self.name, MAX_NAME, false)?;
        check_text("the description", &self.description, MAX_DESCRIPTION, true)?;
        if self.topics.len() > MAX_TOPICS {
            return Err(ChannelError(format!(
                "a channel has at most {MAX_TOPICS} topics, not {}",
                self.topics.len()
            )));
        }
        for t in &self.topics {
            check_text("a topic", t, MAX_LABEL, false)?;
        }
        Ok(())
    }
}

/// What the contract keeps per channel.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Channel {
    /// The author DID.
    pub author: DidId,
    /// Name, description, topics, private or public.
    pub spec: ChannelSpec,
    /// Admins the author named: they authorize and revoke subscriptions (not their own).
    pub admins: Vec<DidId>,
    /// Entries so far.
    pub entries: u64,
    /// The hash of the last entry (zero before the first).
    pub head: Hash32,
    /// The current key epoch (private channels; 0 for public ones).
    pub epoch: u32,
    /// The current epoch's X25519 public key (private channels).
    pub epoch_key: Option<[u8; 32]>,
    /// Height of the block that created it.
    pub created_height: u64,
}

/// The state of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SubscriptionState {
    /// Requested, not yet authorized.
    Requested,
    /// Authorized.
    Active,
    /// Revoked (it may be authorized again).
    Revoked,
}

/// A DID's subscription to a channel.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Subscription {
    /// What the subscriber asked for.
    pub requested: Rights,
    /// What it was granted (when authorized).
    pub granted: Option<Rights>,
    /// Its state.
    pub state: SubscriptionState,
    /// When the grant ends (ms since the Unix epoch), if it does.
    pub expires_ms: Option<u64>,
    /// The first entry index a `Read` grant covers (entries written from its authorization on).
    pub from_entry: u64,
    /// The key epoch current at the authorization.
    pub from_epoch: u32,
    /// Height of the last change.
    pub height: u64,
    /// What the subscriber offered to show it may have the rights: typically a verifiable
    /// credential (at most [`MAX_EVIDENCE`] bytes), which managers verify off chain before they
    /// authorize (`weft_client::credentials::CredentialVerifier`).
    pub evidence: Option<Vec<u8>>,
}

/// The largest evidence a subscription request carries.
pub const MAX_EVIDENCE: usize = 8 * 1024;

impl Subscription {
    /// The rights in force at block time `now_ms`, if any.
    pub fn rights_at(&self, now_ms: u64) -> Option<Rights> {
        match (self.state, self.granted, self.expires_ms) {
            (SubscriptionState::Active, Some(_), Some(end)) if now_ms >= end => None,
            (SubscriptionState::Active, Some(rights), _) => Some(rights),
            _ => None,
        }
    }
}

/// Where an entry's payload is.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// In the entry (at most [`MAX_INLINE_PAYLOAD`] bytes with the public payload).
    Inline(Vec<u8>),
    /// In a Tangle data block; the entry holds its hash and size.
    Tangle {
        /// The block.
        block: TangleBlockId,
        /// blake3 of the payload bytes.
        hash: Hash32,
        /// Its size.
        size: u64,
    },
}

impl Payload {
    /// Bytes it takes in the entry.
    pub fn inline_len(&self) -> usize {
        match self {
            Self::Inline(bytes) => bytes.len(),
            Self::Tangle { .. } => 0,
        }
    }
}

/// What a writer sends.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EntryInput {
    /// Its type (e.g. `login-failed`).
    pub kind: String,
    /// Metadata in clear (e.g. a JSON object), at most [`MAX_METADATA`] bytes.
    pub metadata: String,
    /// A payload in clear.
    pub public_payload: Vec<u8>,
    /// The payload: sealed to the epoch key on private channels.
    pub payload: Payload,
    /// The key epoch it was sealed for (the channel's current one; 0 on public channels).
    pub epoch: u32,
}

impl EntryInput {
    /// Checks sizes.
    pub fn check(&self) -> Result<(), ChannelError> {
        check_text("the entry type", &self.kind, MAX_LABEL, false)?;
        check_text("the metadata", &self.metadata, MAX_METADATA, true)?;
        let inline = self.public_payload.len() + self.payload.inline_len();
        if inline > MAX_INLINE_PAYLOAD {
            return Err(ChannelError(format!(
                "the payloads take {inline} bytes; an entry holds at most {MAX_INLINE_PAYLOAD}: post the payload to the Tangle (tangle_submitData) and write Payload::Tangle with its block, hash and size"
            )));
        }
        Ok(())
    }
}

/// An entry of a channel.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Entry {
    /// Its position (0 for the first).
    pub index: u64,
    /// The hash of the entry before (zero for the first).
    pub prev: Hash32,
    /// Who wrote it.
    pub writer: DidId,
    /// Block time it was written at (ms since the Unix epoch): its `created`.
    pub created_ms: u64,
    /// Height of that block.
    pub height: u64,
    /// What the writer sent.
    pub input: EntryInput,
}

impl Entry {
    /// The hash the next entry links to.
    pub fn hash(&self) -> Hash32 {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        domain_hash("weft/channel/entry/v1", &[&bytes])
    }
}

/// An epoch secret wrapped for one reader.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WrappedKey {
    /// The reader.
    pub reader: DidId,
    /// The epoch.
    pub epoch: u32,
    /// The reader's X25519 key it was wrapped to.
    pub recipient: [u8; 32],
    /// [`WRAPPED_KEY_BYTES`] bytes: ephemeral public key, nonce, ciphertext with tag.
    pub wrapped: Vec<u8>,
}

/// A channel's id: its author and the author's channel counter.
pub fn channel_id(author: &DidId, counter: u64) -> Hash32 {
    domain_hash("weft/channel/id/v1", &[&author.0, &counter.to_le_bytes()])
}

/// Storage names the channel contract uses, and the keys a client asks proofs for.
pub mod storage {
    use super::{DidId, Hash32};
    use crate::did::storage::map_key;

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// [`super::Channel`] by channel id.
    pub const CHANNELS: &str = "channels";
    /// [`super::Entry`] by channel id and index (big-endian).
    pub const ENTRIES: &str = "entries";
    /// [`super::Subscription`] by channel id and subscriber.
    pub const SUBSCRIPTIONS: &str = "subscriptions";
    /// `Vec<WrappedKey>` by channel id and reader.
    pub const KEYS: &str = "keys";
    /// Channels created so far, by author.
    pub const COUNTS: &str = "counts";
    /// `Vec<DidId>`: every DID that ever requested or was granted rights, by channel id.
    pub const MEMBERS: &str = "members";

    /// A channel id and an index.
    pub fn entry_id(channel: &Hash32, index: u64) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..32].copy_from_slice(&channel.0);
        out[32..].copy_from_slice(&index.to_be_bytes());
        out
    }

    /// A channel id and a DID.
    pub fn member_id(channel: &Hash32, did: &DidId) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&channel.0);
        out[32..].copy_from_slice(&did.0);
        out
    }

    /// The contract's storage key of a channel.
    pub fn channel_key(channel: &Hash32) -> Vec<u8> {
        map_key(CHANNELS, &channel.0)
    }

    /// The contract's storage key of an entry.
    pub fn entry_key(channel: &Hash32, index: u64) -> Vec<u8> {
        map_key(ENTRIES, &entry_id(channel, index))
    }

    /// The contract's storage key of a subscription.
    pub fn subscription_key(channel: &Hash32, did: &DidId) -> Vec<u8> {
        map_key(SUBSCRIPTIONS, &member_id(channel, did))
    }

    /// The contract's storage key of a reader's wrapped keys.
    pub fn keys_key(channel: &Hash32, did: &DidId) -> Vec<u8> {
        map_key(KEYS, &member_id(channel, did))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_end_with_revocation_or_expiry() {
        let mut s = Subscription {
            requested: Rights::Read,
            granted: Some(Rights::Read),
            state: SubscriptionState::Active,
            expires_ms: Some(100),
            from_entry: 0,
            from_epoch: 0,
            height: 1,
            evidence: None,
        };
        assert_eq!(s.rights_at(99), Some(Rights::Read));
        assert_eq!(s.rights_at(100), None);
        s.expires_ms = None;
        s.state = SubscriptionState::Revoked;
        assert_eq!(s.rights_at(0), None);
        assert!(Rights::Audit.reads() && !Rights::Audit.writes());
        assert!(Rights::ReadAndWrite.reads() && Rights::ReadAndWrite.writes());
        assert!(!Rights::Write.reads());
        assert_eq!(Rights::parse("readandwrite"), Ok(Rights::ReadAndWrite));
    }

    #[test]
    fn large_payloads_are_refused_with_the_way_out() {
        let input = EntryInput {
            kind: "event".into(),
            metadata: String::new(),
            public_payload: vec![0; 10_000],
            payload: Payload::Inline(vec![0; 10_000]),
            epoch: 0,
        };
        let e = input.check().unwrap_err().0;
        assert!(e.contains("at most 16384") && e.contains("Tangle"), "{e}");
    }
}
