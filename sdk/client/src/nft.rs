//! Non-fungible items from Rust: the NFT contract's transactions ([`tx`]), its views and
//! listings, and items and collections read with proofs ([`item_proven`],
//! [`collection_proven`]).
//!
//! The model is `weft_types::nft`. A collection's issuer alone mints; owners, approved holders
//! and operators move items. Every request names the holder it acts for: the sender's account, or
//! a DID whose `capabilityInvocation` keys include the sender's.

#[cfg(feature = "transport")]
use crate::credentials::{CredentialVerifier, VerifierError};
use weft_types::ContractId;
#[cfg(feature = "transport")]
use weft_types::holder::Holder;
#[cfg(feature = "transport")]
use weft_types::nft::{Collection, CollectionId, Item, ItemId, storage};

/// The NFT system contract.
pub fn contract() -> ContractId {
    ContractId::system("nft")
}

/// An item as JSON, as the CLI prints it and `nft_getItem` answers: holders as text, the media
/// digest as plain hex (as `sha256sum` prints it).
pub fn item_to_json(item: &weft_types::nft::Item, chain: &str) -> serde_json::Value {
    let meta = &item.meta;
    serde_json::json!({
        "collection": item.collection,
        "item": item.id,
        "owner": item.owner.to_text(chain),
        "approved": item.approved.map(|h| h.to_text(chain)),
        "soulbound": item.soulbound,
        "name": meta.name,
        "description": meta.description,
        "uri": meta.uri,
        "mediaType": meta.media_type,
        "mediaSha256": meta.media_sha256.map(hex::encode),
        "attributes": meta
            .attributes
            .iter()
            .map(|a| serde_json::json!({"traitType": a.trait_type, "value": a.value}))
            .collect::<Vec<_>>(),
        "mintedHeight": item.minted_height,
    })
}

/// Transactions of the NFT contract, built and signed by a [`crate::Signer`] whose key speaks for
/// the holder named (its account, or a `capabilityInvocation` key of its DID).
pub mod tx {
    use crate::Signer;
    use weft_types::SignedTransaction;
    use weft_types::holder::Holder;
    use weft_types::nft::{CollectionId, CollectionSpec, ItemId, ItemMeta};

    fn call<A: borsh::BorshSerialize>(
        signer: &mut Signer,
        method: &str,
        args: &A,
    ) -> SignedTransaction {
        signer.call(
            super::contract(),
            method,
            borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail"),
        )
    }

    /// `create_collection(issuer, spec)`: returns the collection's number. The issuer never
    /// changes.
    pub fn create_collection(
        signer: &mut Signer,
        issuer: &Holder,
        spec: &CollectionSpec,
    ) -> SignedTransaction {
        call(signer, "create_collection", &(issuer, spec))
    }

    /// `mint(collection, to, meta, soulbound)`, by the collection's issuer: returns the item's
    /// number. A soulbound item never moves from `to`.
    pub fn mint(
        signer: &mut Signer,
        collection: CollectionId,
        to: &Holder,
        meta: &ItemMeta,
        soulbound: bool,
    ) -> SignedTransaction {
        call(signer, "mint", &(collection, to, meta, soulbound))
    }

    /// `transfer(collection, item, actor, to)`, by the owner, the approved holder or an operator.
    pub fn transfer(
        signer: &mut Signer,
        collection: CollectionId,
        item: ItemId,
        actor: &Holder,
        to: &Holder,
    ) -> SignedTransaction {
        call(signer, "transfer", &(collection, item, actor, to))
    }

    /// `approve(collection, item, actor, approved)`, by the owner or an operator: `approved` may
    /// move the item once (`None`: nobody).
    pub fn approve(
        signer: &mut Signer,
        collection: CollectionId,
        item: ItemId,
        actor: &Holder,
        approved: Option<Holder>,
    ) -> SignedTransaction {
        call(signer, "approve", &(collection, item, actor, approved))
    }

    /// `set_operator(collection, owner, operator, allowed)`: `operator` may move and burn all of
    /// `owner`'s items of the collection, or (`allowed` false) no longer.
    pub fn set_operator(
        signer: &mut Signer,
        collection: CollectionId,
        owner: &Holder,
        operator: &Holder,
        allowed: bool,
    ) -> SignedTransaction {
        call(
            signer,
            "set_operator",
            &(collection, owner, operator, allowed),
        )
    }

    /// `burn(collection, item, actor)`, by the owner, the approved holder, an operator, or the
    /// issuer of an `issuer_burns` collection.
    pub fn burn(
        signer: &mut Signer,
        collection: CollectionId,
        item: ItemId,
        actor: &Holder,
    ) -> SignedTransaction {
        call(signer, "burn", &(collection, item, actor))
    }
}

/// Collection `collection` (`None`: there is none).
#[cfg(feature = "transport")]
pub async fn collection(
    client: &crate::Client,
    collection: CollectionId,
) -> crate::Result<Option<Collection>> {
    crate::token::view(client, &contract(), "collection", &(collection,)).await
}

/// Collections numbered after `after`, at most `limit` (up to 100).
#[cfg(feature = "transport")]
pub async fn collections(
    client: &crate::Client,
    after: CollectionId,
    limit: u32,
) -> crate::Result<Vec<Collection>> {
    crate::token::view(client, &contract(), "collections", &(after, limit)).await
}

/// Item `item` of `collection` (`None`: there is none, or it was burned).
#[cfg(feature = "transport")]
pub async fn item(
    client: &crate::Client,
    collection: CollectionId,
    item: ItemId,
) -> crate::Result<Option<Item>> {
    crate::token::view(client, &contract(), "item", &(collection, item)).await
}

/// `owner`'s items after `after` (collection, item; `(0, 0)`: from the first), in that order, at
/// most `limit` (up to 100). The last item's (collection, id) is the next page's `after`.
#[cfg(feature = "transport")]
pub async fn items_of(
    client: &crate::Client,
    owner: &Holder,
    after: (CollectionId, ItemId),
    limit: u32,
) -> crate::Result<Vec<Item>> {
    crate::token::view(client, &contract(), "items_of", &(owner, after, limit)).await
}

/// The collection's items numbered after `after` (0: from the first), at most `limit` (up to
/// 100).
#[cfg(feature = "transport")]
pub async fn items_in(
    client: &crate::Client,
    collection: CollectionId,
    after: ItemId,
    limit: u32,
) -> crate::Result<Vec<Item>> {
    crate::token::view(client, &contract(), "items_in", &(collection, after, limit)).await
}

/// Whether `operator` may move `owner`'s items of the collection.
#[cfg(feature = "transport")]
pub async fn operator(
    client: &crate::Client,
    collection: CollectionId,
    owner: &Holder,
    operator: &Holder,
) -> crate::Result<bool> {
    crate::token::view(
        client,
        &contract(),
        "operator",
        &(collection, owner, operator),
    )
    .await
}

/// Item `item` of `collection`, read with its proof at the latest anchored height and checked
/// against the verifier's committee; returns the height and the item (`None`: proven absent).
#[cfg(feature = "transport")]
pub async fn item_proven(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    collection: CollectionId,
    item: ItemId,
) -> Result<(u64, Option<Item>), VerifierError> {
    crate::token::proven_value(
        verifier,
        client,
        contract(),
        storage::item_key(collection, item),
        "the item",
    )
    .await
}

/// Collection `collection`, read with its proof at the latest anchored height and checked against
/// the verifier's committee; returns the height and the collection (`None`: proven absent).
#[cfg(feature = "transport")]
pub async fn collection_proven(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    collection: CollectionId,
) -> Result<(u64, Option<Collection>), VerifierError> {
    crate::token::proven_value(
        verifier,
        client,
        contract(),
        storage::collection_key(collection),
        "the collection",
    )
    .await
}
