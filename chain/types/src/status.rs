//! Credential status lists, as the status system contract keeps them (W3C Bitstring Status List).
//!
//! An issuer (a `did:weft` DID) creates lists; each list has a purpose ([`Purpose`]), a number of
//! entries (at least [`MIN_ENTRIES`], the specification's herd-privacy minimum) and a number of
//! bits per entry ([`StatusList::status_size`], 1 unless the list carries messages). The issuer
//! allocates indexes to the credentials it issues and changes their entries later, several per
//! transaction ([`Change`]). Only a key under the issuer DID's `assertionMethod` may do either.
//!
//! The bits live in pages of [`PAGE_BYTES`] bytes, so a change rewrites one small page and a
//! verifier proves one entry with one page. Bit `i` of the list is bit `7 - i % 8` of byte
//! `i / 8` (index 0 is the most significant bit of the first byte, as the specification says);
//! entry `n` is bits `n * status_size ..` read most significant first.
//!
//! The specification also wants the list served as a `BitstringStatusListCredential` secured by
//! its issuer. A node holds no issuer's key, so the issuer signs that credential itself and sends
//! it with every change ([`Published`]); the contract keeps the latest one and the node serves it
//! over HTTP. Every change names the list version it was made against, so two concurrent changes
//! cannot publish a credential that misses one of them.

use crate::did::DidId;
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;

/// The fewest entries a list may have (16 KiB of single-bit entries).
pub const MIN_ENTRIES: u32 = 131_072;
/// The most bits a list may hold (entries times bits per entry): 256 KiB.
pub const MAX_BITS: u64 = 1 << 21;
/// Bytes per stored page of bits.
pub const PAGE_BYTES: usize = 256;
/// Bits per page.
pub const PAGE_BITS: u64 = PAGE_BYTES as u64 * 8;
/// The most bits per entry.
pub const MAX_STATUS_SIZE: u8 = 8;
/// The most entry changes in one transaction.
pub const MAX_CHANGES: usize = 1_024;
/// The most indexes allocated in one transaction.
pub const MAX_ALLOCATE: u32 = 65_536;
/// The largest published status list credential.
pub const MAX_CREDENTIAL_BYTES: usize = 96 * 1024;
/// The longest status message.
pub const MAX_MESSAGE: usize = 256;
/// The longest media type of a published credential.
pub const MAX_MEDIA_TYPE: usize = 64;

/// What a list's entries mean (`statusPurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub enum Purpose {
    /// Set means revoked. Final: a revoked entry is never cleared.
    Revocation,
    /// Set means suspended; it can be cleared again.
    Suspension,
    /// The entry's value selects one of the list's status messages.
    Message,
}

impl Purpose {
    /// Its `statusPurpose` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revocation => "revocation",
            Self::Suspension => "suspension",
            Self::Message => "message",
        }
    }

    /// The purpose called `name`.
    pub fn parse(name: &str) -> Result<Self, StatusError> {
        match name {
            "revocation" => Ok(Self::Revocation),
            "suspension" => Ok(Self::Suspension),
            "message" => Ok(Self::Message),
            other => Err(StatusError(format!(
                "unknown status purpose {other:?}: expected revocation, suspension or message"
            ))),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a list or a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StatusError(pub String);

/// How a new list is laid out.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ListSpec {
    /// Its purpose.
    pub purpose: Purpose,
    /// How many entries it has.
    pub entries: u32,
    /// Bits per entry (1 to [`MAX_STATUS_SIZE`]).
    pub status_size: u8,
    /// One message per possible value (`statusMessage`), in value order: required when
    /// `status_size` > 1, then exactly `2^status_size` of them; optional (0 or 2) otherwise.
    pub messages: Vec<String>,
}

impl ListSpec {
    /// Checks the layout.
    pub fn check(&self) -> Result<(), StatusError> {
        let fail = |m: String| Err(StatusError(m));
        if self.entries < MIN_ENTRIES {
            return fail(format!(
                "a status list needs at least {MIN_ENTRIES} entries (the Bitstring Status List minimum, for herd privacy), not {}",
                self.entries
            ));
        }
        if self.status_size == 0 || self.status_size > MAX_STATUS_SIZE {
            return fail(format!(
                "statusSize must be 1 to {MAX_STATUS_SIZE} bits, not {}",
                self.status_size
            ));
        }
        let bits = u64::from(self.entries) * u64::from(self.status_size);
        if bits > MAX_BITS {
            return fail(format!(
                "{} entries of {} bits are {bits} bits; a list holds at most {MAX_BITS}",
                self.entries, self.status_size
            ));
        }
        let values = 1usize << self.status_size;
        if self.status_size > 1 && self.messages.len() != values {
            return fail(format!(
                "a list with statusSize {} needs exactly {values} status messages, one per value; got {}",
                self.status_size,
                self.messages.len()
            ));
        }
        if self.status_size == 1 && !matches!(self.messages.len(), 0 | 2) {
            return fail(format!(
                "a list with statusSize 1 has no status messages or exactly 2; got {}",
                self.messages.len()
            ));
        }
        if self.purpose != Purpose::Message && self.status_size != 1 {
            return fail(format!(
                "a {} list has one bit per entry; statusSize > 1 is for message lists",
                self.purpose
            ));
        }
        if self.purpose == Purpose::Message && self.messages.is_empty() {
            return fail("a message list needs its status messages".into());
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.is_empty() || m.len() > MAX_MESSAGE {
                return fail(format!(
                    "status message {i} must have 1 to {MAX_MESSAGE} bytes, not {}",
                    m.len()
                ));
            }
        }
        Ok(())
    }

    /// Bits in the list.
    pub fn bits(&self) -> u64 {
        u64::from(self.entries) * u64::from(self.status_size)
    }
}

/// What the contract keeps per list besides its bits.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StatusList {
    /// The issuer DID.
    pub issuer: DidId,
    /// Layout and messages.
    pub spec: ListSpec,
    /// Indexes handed out so far: entries `0..allocated` may be changed.
    pub allocated: u32,
    /// Changes applied so far (0 at creation); every change names it.
    pub version: u32,
    /// Height of the block that created it.
    pub created_height: u64,
    /// Height of the block of the last change.
    pub updated_height: u64,
    /// Time of that block (ms since the Unix epoch).
    pub updated_ms: u64,
}

impl StatusList {
    /// Checks `change` against the list and the entry's current `value`.
    pub fn check_change(&self, change: &Change, current: u8) -> Result<(), StatusError> {
        if change.index >= self.allocated {
            return Err(StatusError(format!(
                "index {} was never allocated: this list has allocated {} of {} entries",
                change.index, self.allocated, self.spec.entries
            )));
        }
        let max = (1u16 << self.spec.status_size) - 1;
        if u16::from(change.value) > max {
            return Err(StatusError(format!(
                "value {} does not fit in {} bit(s) (at most {max})",
                change.value, self.spec.status_size
            )));
        }
        if self.spec.purpose == Purpose::Revocation && current == 1 && change.value == 0 {
            return Err(StatusError(format!(
                "entry {} is revoked; revocation is final",
                change.index
            )));
        }
        Ok(())
    }
}

/// A new value for one entry: for revocation and suspension lists 1 sets it and 0 clears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Change {
    /// The entry.
    pub index: u32,
    /// Its new value.
    pub value: u8,
}

/// The issuer-secured `BitstringStatusListCredential` of a list's current bits.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Published {
    /// The list version it shows.
    pub version: u32,
    /// Its media type: `application/vc` (a Data Integrity proof inside) or `application/vc+jwt`.
    pub media_type: String,
    /// The credential bytes, exactly as the issuer signed them.
    pub credential: Vec<u8>,
}

impl Published {
    /// Checks sizes and the media type.
    pub fn check(&self) -> Result<(), StatusError> {
        if !matches!(
            self.media_type.as_str(),
            "application/vc" | "application/vc+jwt"
        ) {
            return Err(StatusError(format!(
                "a status list credential is application/vc or application/vc+jwt, not {:?}",
                self.media_type
            )));
        }
        if self.credential.is_empty() || self.credential.len() > MAX_CREDENTIAL_BYTES {
            return Err(StatusError(format!(
                "a status list credential has 1 to {MAX_CREDENTIAL_BYTES} bytes, not {}",
                self.credential.len()
            )));
        }
        Ok(())
    }
}

/// Reads `size` bits at bit offset `at` of `bits`, most significant first.
pub fn read_bits(bits: &[u8], at: u64, size: u8) -> u8 {
    let mut value = 0u8;
    for k in 0..u64::from(size) {
        let bit = at + k;
        let byte = bits.get((bit / 8) as usize).copied().unwrap_or(0);
        value = (value << 1) | ((byte >> (7 - bit % 8)) & 1);
    }
    value
}

/// Writes the low `size` bits of `value` at bit offset `at` of `bits`, most significant first.
/// `bits` must be long enough.
pub fn write_bits(bits: &mut [u8], at: u64, size: u8, value: u8) {
    for k in 0..u64::from(size) {
        let bit = at + k;
        let set = (value >> (u64::from(size) - 1 - k)) & 1 == 1;
        let mask = 1u8 << (7 - bit % 8);
        let byte = &mut bits[(bit / 8) as usize];
        if set {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Storage names the status contract uses, and the keys a client asks proofs for.
pub mod storage {
    use super::{DidId, PAGE_BITS};

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// [`super::StatusList`] by issuer and list number.
    pub const LISTS: &str = "lists";
    /// Pages of bits by issuer, list number and page number.
    pub const PAGES: &str = "pages";
    /// [`super::Published`] by issuer and list number.
    pub const PUBLISHED: &str = "published";
    /// Lists created so far, by issuer.
    pub const COUNTS: &str = "counts";

    /// A list's key: issuer and list number (big-endian).
    pub fn list_id(issuer: &DidId, list: u32) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(&issuer.0);
        out[32..].copy_from_slice(&list.to_be_bytes());
        out
    }

    /// A page's key.
    pub fn page_id(issuer: &DidId, list: u32, page: u32) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..36].copy_from_slice(&list_id(issuer, list));
        out[36..].copy_from_slice(&page.to_be_bytes());
        out
    }

    /// The page that holds bit `bit`.
    pub fn page_of(bit: u64) -> u32 {
        (bit / PAGE_BITS) as u32
    }

    /// The contract's storage key of a list's record.
    pub fn list_key(issuer: &DidId, list: u32) -> Vec<u8> {
        crate::did::storage::map_key(LISTS, &list_id(issuer, list))
    }

    /// The contract's storage key of a page.
    pub fn page_key(issuer: &DidId, list: u32, page: u32) -> Vec<u8> {
        crate::did::storage::map_key(PAGES, &page_id(issuer, list, page))
    }

    /// The contract's storage key of a list's published credential.
    pub fn published_key(issuer: &DidId, list: u32) -> Vec<u8> {
        crate::did::storage::map_key(PUBLISHED, &list_id(issuer, list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(purpose: Purpose, status_size: u8, messages: usize) -> ListSpec {
        ListSpec {
            purpose,
            entries: MIN_ENTRIES,
            status_size,
            messages: (0..messages).map(|i| format!("m{i}")).collect(),
        }
    }

    #[test]
    fn layouts_are_checked() {
        assert!(spec(Purpose::Revocation, 1, 0).check().is_ok());
        assert!(spec(Purpose::Message, 2, 4).check().is_ok());
        let small = ListSpec {
            entries: MIN_ENTRIES - 1,
            ..spec(Purpose::Revocation, 1, 0)
        };
        assert!(small.check().unwrap_err().0.contains("at least 131072"));
        assert!(
            spec(Purpose::Message, 2, 3)
                .check()
                .unwrap_err()
                .0
                .contains("exactly 4")
        );
        assert!(
            spec(Purpose::Suspension, 2, 4)
                .check()
                .unwrap_err()
                .0
                .contains("message lists")
        );
        assert!(spec(Purpose::Message, 9, 0).check().is_err());
        let huge = ListSpec {
            entries: u32::MAX,
            ..spec(Purpose::Message, 8, 256)
        };
        assert!(huge.check().unwrap_err().0.contains("at most"));
    }

    #[test]
    fn bits_are_most_significant_first() {
        let mut bits = [0u8; 4];
        write_bits(&mut bits, 0, 1, 1);
        assert_eq!(bits[0], 0x80);
        write_bits(&mut bits, 6, 3, 0b101);
        assert_eq!(bits[..2], [0x80 | 0b10, 0b1000_0000]);
        assert_eq!(read_bits(&bits, 6, 3), 0b101);
        assert_eq!(read_bits(&bits, 0, 1), 1);
        write_bits(&mut bits, 6, 3, 0);
        assert_eq!(bits[..2], [0x80, 0]);
    }

    #[test]
    fn revocation_is_final_and_indexes_are_allocated() {
        let list = StatusList {
            issuer: DidId([1; 32]),
            spec: spec(Purpose::Revocation, 1, 0),
            allocated: 10,
            version: 0,
            created_height: 1,
            updated_height: 1,
            updated_ms: 0,
        };
        let unrevoke = Change { index: 3, value: 0 };
        assert!(
            list.check_change(&unrevoke, 1)
                .unwrap_err()
                .0
                .contains("final")
        );
        assert!(list.check_change(&unrevoke, 0).is_ok());
        let far = Change {
            index: 10,
            value: 1,
        };
        assert!(
            list.check_change(&far, 0)
                .unwrap_err()
                .0
                .contains("never allocated")
        );
        let big = Change { index: 1, value: 2 };
        assert!(
            list.check_change(&big, 0)
                .unwrap_err()
                .0
                .contains("does not fit")
        );
    }
}
