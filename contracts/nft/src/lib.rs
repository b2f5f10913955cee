//! The NFT system contract: collections of unique items with an immutable issuer.
//!
//! `weft_types::nft` has the data model, shared with clients. An issuer creates a collection
//! ([`create_collection`]) and alone mints its items ([`mint`]), each with IRC27-style metadata
//! and, for badges and tickets bound to a DID, as soulbound: a soulbound item never moves.
//! Owners move items ([`transfer`]), approve one holder to move one item once ([`approve`]) and
//! name operators who may move all their items of a collection ([`set_operator`]). Whoever may
//! move an item may burn it, and the issuer of a collection declared `issuer_burns` may burn any
//! of its items; a soulbound item burns only by its holder or such an issuer ([`burn`]). Listings by owner
//! ([`items_of`]) and by collection ([`items_in`]) page through an index kept in key order.
//!
//! A holder is an account (the sender's key) or a `did:weft` DID acting through a key under its
//! `capabilityInvocation` relationship, read from the identity contract. No fees, no deposits.

use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::did;
use weft_types::holder::Holder;
use weft_types::nft::{
    Collection, CollectionSpec, Item as NftItem, ItemMeta, MAX_PAGE, storage as names,
};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const COUNT: Item<u64> = Item::new(names::COUNT);
const COLLECTIONS: Map<u64, Collection> = Map::new(names::COLLECTIONS);
const ITEMS: Map<[u8; 16], NftItem> = Map::new(names::ITEMS);
const OWNED: Map<[u8; 49], ()> = Map::new(names::OWNED);
const OPERATORS: Map<[u8; 74], ()> = Map::new(names::OPERATORS);

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the NFT contract was not initialized with its chain id"))
}

fn text(holder: &Holder) -> String {
    holder.to_text(&chain())
}

fn require_sender(holder: &Holder, role: &str) -> Result<()> {
    identity::require_sender_holds(&chain(), holder, role)
}

fn require_recipient(to: &Holder) -> Result<()> {
    identity::require_recipient(&chain(), to)
}

fn load_collection(collection: u64) -> Result<Collection> {
    COLLECTIONS
        .get(&collection)
        .ok_or_else(|| format!("there is no collection {collection}").into())
}

fn load_item(collection: u64, item: u64) -> Result<NftItem> {
    ITEMS
        .get(&names::item_pair(collection, item))
        .ok_or_else(|| format!("collection {collection} has no item {item}").into())
}

fn is_operator(owner: &Holder, collection: u64, operator: &Holder) -> bool {
    OPERATORS.contains(&names::operator(owner, collection, operator))
}

/// Checks that `actor` may move or burn `item`: its owner, its approved holder, or an operator
/// of its owner.
fn require_may_move(item: &NftItem, actor: &Holder) -> Result<()> {
    require!(
        *actor == item.owner
            || item.approved == Some(*actor)
            || is_operator(&item.owner, item.collection, actor),
        "{} is neither the owner of item {} of collection {}, nor approved for it, nor an operator of its owner {}",
        text(actor),
        item.id,
        item.collection,
        text(&item.owner)
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

/// Creates a collection whose issuer is `issuer` (the sender, or a DID it holds a
/// capabilityInvocation key of), for ever. Returns its number.
#[call]
pub fn create_collection(issuer: Holder, spec: CollectionSpec) -> Result<u64> {
    require_sender(&issuer, "the issuer")?;
    spec.check()?;
    let id = COUNT.get().unwrap_or(0) + 1;
    COUNT.set(&id);
    COLLECTIONS.set(
        &id,
        &Collection {
            id,
            issuer,
            spec,
            minted: 0,
            burned: 0,
            created_height: block_height(),
        },
    );
    emit("nft_collection_created", &(id, issuer));
    Ok(id)
}

/// The issuer mints the collection's next item to `to`; a `soulbound` item never moves from
/// `to`. Returns the item's number.
#[call]
pub fn mint(collection: u64, to: Holder, meta: ItemMeta, soulbound: bool) -> Result<u64> {
    let mut record = load_collection(collection)?;
    require_sender(&record.issuer, "the collection's issuer")?;
    meta.check()?;
    require_recipient(&to)?;
    if let Some(max) = record.spec.max_items {
        require!(
            record.minted < max,
            "collection {collection} ({}) has minted all {max} items it may ever have",
            record.spec.symbol
        );
    }
    record.minted += 1;
    let id = record.minted;
    ITEMS.set(
        &names::item_pair(collection, id),
        &NftItem {
            collection,
            id,
            owner: to,
            approved: None,
            soulbound,
            meta,
            minted_height: block_height(),
        },
    );
    OWNED.set(&names::owned(&to, collection, id), &());
    COLLECTIONS.set(&collection, &record);
    emit("nft_minted", &(collection, id, to, soulbound));
    Ok(id)
}

/// `actor` (whom the sender speaks for: the owner, the approved holder or an operator) moves the
/// item to `to`; its approval is cleared.
#[call]
pub fn transfer(collection: u64, item: u64, actor: Holder, to: Holder) -> Result<()> {
    let mut record = load_item(collection, item)?;
    require_sender(&actor, "the actor")?;
    require!(
        !record.soulbound,
        "item {item} of collection {collection} is soulbound to {}: it never moves",
        text(&record.owner)
    );
    require_may_move(&record, &actor)?;
    require!(
        to != record.owner,
        "{} holds item {item} already",
        text(&to)
    );
    require_recipient(&to)?;
    let from = record.owner;
    OWNED.remove(&names::owned(&from, collection, item));
    OWNED.set(&names::owned(&to, collection, item), &());
    record.owner = to;
    record.approved = None;
    ITEMS.set(&names::item_pair(collection, item), &record);
    emit("nft_transferred", &(collection, item, from, to, actor));
    Ok(())
}

/// `actor` (the owner or an operator) lets `approved` move the item once (`None`: nobody).
#[call]
pub fn approve(collection: u64, item: u64, actor: Holder, approved: Option<Holder>) -> Result<()> {
    let mut record = load_item(collection, item)?;
    require_sender(&actor, "the actor")?;
    require!(
        actor == record.owner || is_operator(&record.owner, collection, &actor),
        "{} is neither the owner of item {item} of collection {collection} nor an operator of its owner",
        text(&actor)
    );
    require!(
        !record.soulbound || approved.is_none(),
        "item {item} of collection {collection} is soulbound: nobody can be approved to move it"
    );
    record.approved = approved;
    ITEMS.set(&names::item_pair(collection, item), &record);
    emit("nft_approved", &(collection, item, actor, approved));
    Ok(())
}

/// `owner` (whom the sender speaks for) lets `operator` move and burn all its items of the
/// collection (`allowed`), or no longer.
#[call]
pub fn set_operator(collection: u64, owner: Holder, operator: Holder, allowed: bool) -> Result<()> {
    load_collection(collection)?;
    require_sender(&owner, "the owner")?;
    require!(
        owner != operator,
        "{} is its own operator already",
        text(&owner)
    );
    let key = names::operator(&owner, collection, &operator);
    if allowed {
        OPERATORS.set(&key, &());
    } else {
        OPERATORS.remove(&key);
    }
    emit("nft_operator_set", &(collection, owner, operator, allowed));
    Ok(())
}

/// `actor` destroys the item: its owner, approved holder or an operator, or the collection's
/// issuer if the collection is declared `issuer_burns`. A soulbound item burns only by its
/// holder or such an issuer.
#[call]
pub fn burn(collection: u64, item: u64, actor: Holder) -> Result<()> {
    let mut coll = load_collection(collection)?;
    let record = load_item(collection, item)?;
    require_sender(&actor, "the actor")?;
    let by_issuer = coll.spec.issuer_burns && actor == coll.issuer;
    if !by_issuer {
        if record.soulbound {
            require!(
                actor == record.owner,
                "item {item} of collection {collection} is soulbound: only its holder {} (or the issuer of an issuer_burns collection) burns it",
                text(&record.owner)
            );
        } else {
            require_may_move(&record, &actor).map_err(|e| {
                if actor == coll.issuer {
                    ContractError(format!(
                        "collection {collection} was not declared issuer_burns, so its issuer burns only items it may move: {e}"
                    ))
                } else {
                    e
                }
            })?;
        }
    }
    OWNED.remove(&names::owned(&record.owner, collection, item));
    ITEMS.remove(&names::item_pair(collection, item));
    coll.burned += 1;
    COLLECTIONS.set(&collection, &coll);
    emit("nft_burned", &(collection, item, record.owner, actor));
    Ok(())
}

/// A collection.
#[view]
pub fn collection(collection: u64) -> Option<Collection> {
    COLLECTIONS.get(&collection)
}

/// Collections numbered after `after`, at most `limit` (up to 100).
#[view]
pub fn collections(after: u64, limit: u32) -> Vec<Collection> {
    COLLECTIONS
        .iter_after(&after)
        .take(limit.min(MAX_PAGE) as usize)
        .map(|(_, c)| c)
        .collect()
}

/// An item.
#[view]
pub fn item(collection: u64, item: u64) -> Option<NftItem> {
    ITEMS.get(&names::item_pair(collection, item))
}

/// `owner`'s items after (`collection`, `item`) in that order (`(0, 0)`: from the start), at
/// most `limit` (up to 100).
#[view]
pub fn items_of(owner: Holder, after: (u64, u64), limit: u32) -> Vec<NftItem> {
    let prefix = owner.key();
    OWNED
        .iter_after(&names::owned(&owner, after.0, after.1))
        .take_while(|(k, _)| k[..prefix.len()] == prefix)
        .filter_map(|(k, _)| {
            let c = u64::from_be_bytes(k[33..41].try_into().ok()?);
            let i = u64::from_be_bytes(k[41..49].try_into().ok()?);
            ITEMS.get(&names::item_pair(c, i))
        })
        .take(limit.min(MAX_PAGE) as usize)
        .collect()
}

/// The collection's items numbered after `after`, at most `limit` (up to 100).
#[view]
pub fn items_in(collection: u64, after: u64, limit: u32) -> Vec<NftItem> {
    ITEMS
        .iter_after(&names::item_pair(collection, after))
        .take_while(|(k, _)| k[..8] == collection.to_be_bytes())
        .map(|(_, item)| item)
        .take(limit.min(MAX_PAGE) as usize)
        .collect()
}

/// Whether `operator` may move `owner`'s items of the collection.
#[view]
pub fn operator(collection: u64, owner: Holder, operator: Holder) -> bool {
    is_operator(&owner, collection, &operator)
}
