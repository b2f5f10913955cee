//! Non-fungible items, as the NFT system contract keeps them: collections of unique items.
//!
//! A collection ([`Collection`]) has an issuer fixed at creation, who alone mints its items. An
//! item ([`Item`]) carries metadata in the spirit of IRC27 ([`ItemMeta`]: name, description, a
//! media URI with its MIME type and SHA-256 digest, attributes), an owner ([`Holder`]), at most one
//! approved holder who may move it once, and may be soulbound: it then never moves from the
//! holder it was minted to (a badge, a ticket bound to a DID). Owners name operators who may move
//! all their items of a collection. Burning removes an item for good; the issuer may burn items
//! of a collection declared `issuer_burns` (a revoked badge, a cancelled ticket).

use crate::holder::Holder;
use crate::token::{AssetError, MAX_DESCRIPTION, MAX_NAME, MAX_SYMBOL, check_text, check_url};
use borsh::{BorshDeserialize, BorshSerialize};

/// A collection's number in the contract, counted from 1.
pub type CollectionId = u64;
/// An item's number in its collection, counted from 1.
pub type ItemId = u64;

/// The most attributes of one item.
pub const MAX_ATTRIBUTES: usize = 32;
/// The longest attribute name or value.
pub const MAX_ATTRIBUTE: usize = 256;
/// The longest MIME type.
pub const MAX_MEDIA_TYPE: usize = 127;
/// The most items one listing returns.
pub const MAX_PAGE: u32 = 100;

/// What an issuer asks for.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CollectionSpec {
    /// Its name (`Harbour Festival 2027`).
    pub name: String,
    /// A short symbol (`HF27`): 1 to 16 ASCII letters and digits.
    pub symbol: String,
    /// What it is.
    pub description: String,
    /// The collection's own page or metadata.
    pub uri: Option<String>,
    /// The most items it may ever have (`None`: no limit).
    pub max_items: Option<u64>,
    /// Whether the issuer may burn items it did not take back (revocable badges and tickets).
    pub issuer_burns: bool,
}

impl CollectionSpec {
    /// Checks lengths, the symbol and the URI.
    pub fn check(&self) -> Result<(), AssetError> {
        if self.name.trim().is_empty() {
            return Err(AssetError("the name is empty".into()));
        }
        check_text("name", &self.name, MAX_NAME)?;
        if self.symbol.is_empty()
            || self.symbol.len() > MAX_SYMBOL
            || !self.symbol.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(AssetError(format!(
                "the symbol {:?} must be 1 to {MAX_SYMBOL} ASCII letters and digits",
                self.symbol
            )));
        }
        check_text("description", &self.description, MAX_DESCRIPTION)?;
        if let Some(uri) = &self.uri {
            check_url("collection URI", uri)?;
        }
        if self.max_items == Some(0) {
            return Err(AssetError(
                "a collection of at most 0 items can hold nothing; leave the limit out for none"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A collection as the contract keeps it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Collection {
    /// Its number.
    pub id: CollectionId,
    /// Who created it and alone mints: never changes.
    pub issuer: Holder,
    /// Its terms.
    pub spec: CollectionSpec,
    /// Items minted so far (the last item's number).
    pub minted: u64,
    /// Items burned so far.
    pub burned: u64,
    /// The height of the block that created it.
    pub created_height: u64,
}

/// One attribute (a trait and its value), as in IRC27.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Attribute {
    /// The trait (`seat`).
    pub trait_type: String,
    /// Its value (`B-14`).
    pub value: String,
}

/// An item's metadata, in the spirit of IRC27.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ItemMeta {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its media (an image, a document): a URI.
    pub uri: Option<String>,
    /// The media's MIME type (`image/png`).
    pub media_type: Option<String>,
    /// The SHA-256 digest of the media's bytes, so a holder can check what the URI serves.
    pub media_sha256: Option<[u8; 32]>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
}

impl ItemMeta {
    /// Checks lengths, the URI and the attributes.
    pub fn check(&self) -> Result<(), AssetError> {
        if self.name.trim().is_empty() {
            return Err(AssetError("the item's name is empty".into()));
        }
        check_text("item's name", &self.name, MAX_NAME)?;
        check_text("item's description", &self.description, MAX_DESCRIPTION)?;
        if let Some(uri) = &self.uri {
            check_url("media URI", uri)?;
        }
        if let Some(t) = &self.media_type
            && (t.is_empty()
                || t.len() > MAX_MEDIA_TYPE
                || t.split('/').count() != 2
                || t.contains(char::is_whitespace))
        {
            return Err(AssetError(format!(
                "the media type {t:?} is not a MIME type (type/subtype)"
            )));
        }
        if self.media_sha256.is_some() && self.uri.is_none() {
            return Err(AssetError(
                "a media digest needs the media URI it is the digest of".into(),
            ));
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(AssetError(format!(
                "{} attributes are too many; at most {MAX_ATTRIBUTES}",
                self.attributes.len()
            )));
        }
        for (i, a) in self.attributes.iter().enumerate() {
            if a.trait_type.is_empty() {
                return Err(AssetError(format!("attribute {i} has no name")));
            }
            check_text("attribute name", &a.trait_type, MAX_ATTRIBUTE)?;
            check_text("attribute value", &a.value, MAX_ATTRIBUTE)?;
            if self.attributes[..i]
                .iter()
                .any(|b| b.trait_type == a.trait_type)
            {
                return Err(AssetError(format!(
                    "attribute {:?} is named twice",
                    a.trait_type
                )));
            }
        }
        Ok(())
    }
}

/// An item as the contract keeps it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Item {
    /// Its collection.
    pub collection: CollectionId,
    /// Its number in the collection.
    pub id: ItemId,
    /// Who holds it.
    pub owner: Holder,
    /// Who may move it once, besides the owner and its operators (cleared by every move).
    pub approved: Option<Holder>,
    /// Whether it never moves from its owner.
    pub soulbound: bool,
    /// Its metadata, fixed at mint.
    pub meta: ItemMeta,
    /// The height of the block that minted it.
    pub minted_height: u64,
}

/// Storage names the NFT contract uses, and the keys a client asks proofs for.
pub mod storage {
    use super::{CollectionId, ItemId};
    use crate::did::storage::map_key;
    use crate::holder::{HOLDER_KEY, Holder};

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// How many collections exist (`u64`).
    pub const COUNT: &str = "count";
    /// [`super::Collection`] by number.
    pub const COLLECTIONS: &str = "collections";
    /// [`super::Item`] by collection and item number.
    pub const ITEMS: &str = "items";
    /// Who holds what (`()`), by owner, collection and item: the listing by owner.
    pub const OWNED: &str = "owned";
    /// Operators (`()`), by owner, collection and operator.
    pub const OPERATORS: &str = "operators";

    /// A collection and an item, as one map key.
    pub fn item_pair(collection: CollectionId, item: ItemId) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&collection.to_be_bytes());
        out[8..].copy_from_slice(&item.to_be_bytes());
        out
    }

    /// An owner, a collection and an item, as one map key.
    pub fn owned(owner: &Holder, collection: CollectionId, item: ItemId) -> [u8; HOLDER_KEY + 16] {
        let mut out = [0u8; HOLDER_KEY + 16];
        out[..HOLDER_KEY].copy_from_slice(&owner.key());
        out[HOLDER_KEY..].copy_from_slice(&item_pair(collection, item));
        out
    }

    /// An owner, a collection and an operator, as one map key.
    pub fn operator(
        owner: &Holder,
        collection: CollectionId,
        operator: &Holder,
    ) -> [u8; 2 * HOLDER_KEY + 8] {
        let mut out = [0u8; 2 * HOLDER_KEY + 8];
        out[..HOLDER_KEY].copy_from_slice(&owner.key());
        out[HOLDER_KEY..HOLDER_KEY + 8].copy_from_slice(&collection.to_be_bytes());
        out[HOLDER_KEY + 8..].copy_from_slice(&operator.key());
        out
    }

    /// The contract's storage key of a collection.
    pub fn collection_key(collection: CollectionId) -> Vec<u8> {
        map_key(COLLECTIONS, &collection.to_be_bytes())
    }

    /// The contract's storage key of an item.
    pub fn item_key(collection: CollectionId, item: ItemId) -> Vec<u8> {
        map_key(ITEMS, &item_pair(collection, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ItemMeta {
        ItemMeta {
            name: "Ticket B-14".into(),
            description: "Harbour Festival, Saturday".into(),
            uri: Some("https://example.org/t/b14.png".into()),
            media_type: Some("image/png".into()),
            media_sha256: Some([1; 32]),
            attributes: vec![Attribute {
                trait_type: "seat".into(),
                value: "B-14".into(),
            }],
        }
    }

    #[test]
    fn item_metadata_is_checked() {
        assert!(meta().check().is_ok());
        let bad = |f: fn(&mut ItemMeta)| {
            let mut m = meta();
            f(&mut m);
            m.check().unwrap_err().0
        };
        assert!(bad(|m| m.media_type = Some("png".into())).contains("MIME"));
        assert!(bad(|m| m.uri = None).contains("digest needs"));
        assert!(bad(|m| m.attributes.push(m.attributes[0].clone())).contains("twice"));
        assert!(bad(|m| m.name = String::new()).contains("name is empty"));
        assert!(bad(|m| m.description = "x".repeat(MAX_DESCRIPTION + 1)).contains("at most"));
    }

    #[test]
    fn collection_specs_are_checked() {
        let spec = CollectionSpec {
            name: "Harbour Festival".into(),
            symbol: "HF27".into(),
            description: String::new(),
            uri: None,
            max_items: Some(0),
            issuer_burns: false,
        };
        assert!(spec.check().unwrap_err().0.contains("at most 0"));
        assert!(
            CollectionSpec {
                max_items: None,
                ..spec
            }
            .check()
            .is_ok()
        );
    }
}
