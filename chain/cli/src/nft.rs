//! `weft nft …`: non-fungible items from the command line.
//!
//! A collection's issuer (you, or `--as` a DID your key is a capabilityInvocation key of) alone
//! mints its items; the issuer never changes, so minting needs no `--as`: the key must speak for
//! the issuer. Owners move, approve and burn items and name operators, acting for their own
//! account or `--as` a DID. Holders are accounts (`0x…`) or `did:weft` DIDs of the chain.
//! Listings page: each prints the cursor (`--after`) of the next page.

use crate::output::send;
use crate::output::{Global, out, print_json, signer};
use crate::token::{Acting, connect_to, holder, report};
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use weft_client::Client;
use weft_client::nft::{self as sdk, tx};
use weft_types::nft::{Attribute, Collection, CollectionSpec, Item, ItemMeta};

#[derive(Subcommand)]
pub enum NftCommand {
    /// Create a collection whose issuer is you (or `--as` a DID), for ever; prints its number.
    CreateCollection {
        /// Its name.
        #[arg(long)]
        name: String,
        /// A short symbol: 1 to 16 ASCII letters and digits.
        #[arg(long)]
        symbol: String,
        /// What it is.
        #[arg(long, default_value = "")]
        description: String,
        /// The collection's own page or metadata.
        #[arg(long)]
        uri: Option<String>,
        /// The most items it may ever have [default: no limit].
        #[arg(long)]
        max_items: Option<u64>,
        /// Let the issuer burn any item (revocable badges, cancellable tickets).
        #[arg(long)]
        issuer_burns: bool,
        #[command(flatten)]
        acting: Acting,
    },
    /// Mint the collection's next item to a holder (as its issuer); prints the item's number.
    Mint {
        /// The collection's number.
        collection: u64,
        /// The recipient (0x… account or did:weft DID).
        to: String,
        /// The item's name.
        #[arg(long)]
        name: String,
        /// What it is.
        #[arg(long, default_value = "")]
        description: String,
        /// Its media (an image, a document): a URI.
        #[arg(long)]
        uri: Option<String>,
        /// The media's MIME type (image/png).
        #[arg(long)]
        media_type: Option<String>,
        /// The media's bytes, whose SHA-256 digest the item keeps (needs --uri).
        #[arg(long)]
        media_file: Option<PathBuf>,
        /// An attribute (repeatable).
        #[arg(long = "attribute", value_name = "TRAIT=VALUE")]
        attributes: Vec<String>,
        /// The item never moves from the recipient.
        #[arg(long)]
        soulbound: bool,
    },
    /// Move an item (as its owner, its approved holder or an operator).
    Transfer {
        /// The collection's number.
        collection: u64,
        /// The item's number.
        item: u64,
        /// The recipient.
        to: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Let a holder move an item once, or (--clear) nobody (as its owner or an operator).
    Approve {
        /// The collection's number.
        collection: u64,
        /// The item's number.
        item: u64,
        /// Who may move it.
        #[arg(required_unless_present = "clear")]
        spender: Option<String>,
        /// Clear the approval.
        #[arg(long, conflicts_with = "spender")]
        clear: bool,
        #[command(flatten)]
        acting: Acting,
    },
    /// Let an operator move and burn all your items of a collection (never a soulbound one), or
    /// (--remove) no longer.
    Operator {
        /// The collection's number.
        collection: u64,
        /// The operator.
        operator: String,
        /// Take the right away.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        acting: Acting,
    },
    /// Destroy an item (as its owner, approved holder or operator, or the issuer of a
    /// collection created with --issuer-burns); a soulbound item only as its holder or such an
    /// issuer.
    Burn {
        /// The collection's number.
        collection: u64,
        /// The item's number.
        item: u64,
        #[command(flatten)]
        acting: Acting,
    },
    /// Show a collection, or one of its items.
    Show {
        /// The collection's number.
        collection: u64,
        /// The item's number.
        item: Option<u64>,
    },
    /// List a holder's items (--owner) or a collection's (--collection), a page at a time.
    List {
        /// The holder whose items to list.
        #[arg(
            long,
            required_unless_present = "collection",
            conflicts_with = "collection"
        )]
        owner: Option<String>,
        /// The collection whose items to list.
        #[arg(long)]
        collection: Option<u64>,
        /// Start after this cursor, printed by the previous page (COLLECTION:ITEM with --owner,
        /// ITEM with --collection).
        #[arg(long)]
        after: Option<String>,
        /// Items per page.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
}

async fn load_collection(client: &Client, collection: u64) -> Result<Collection> {
    sdk::collection(client, collection)
        .await?
        .ok_or_else(|| anyhow!("there is no collection {collection}"))
}

async fn load_item(client: &Client, collection: u64, item: u64) -> Result<Item> {
    if let Some(found) = sdk::item(client, collection, item).await? {
        return Ok(found);
    }
    let record = load_collection(client, collection).await?;
    if (1..=record.minted).contains(&item) {
        bail!("item {item} of collection {collection} was burned");
    }
    bail!(
        "collection {collection} has no item {item}: its items are numbered 1 to {}",
        record.minted
    )
}

fn collection_json(c: &Collection, chain: &str) -> Value {
    json!({
        "collection": c.id,
        "name": c.spec.name,
        "symbol": c.spec.symbol,
        "description": c.spec.description,
        "uri": c.spec.uri,
        "maxItems": c.spec.max_items,
        "issuerBurns": c.spec.issuer_burns,
        "issuer": c.issuer.to_text(chain),
        "minted": c.minted,
        "burned": c.burned,
        "createdHeight": c.created_height,
    })
}

fn item_json(item: &Item, chain: &str) -> Value {
    sdk::item_to_json(item, chain)
}

fn show_collection(c: &Collection, chain: &str) {
    out!("collection {}: {} ({})", c.id, c.spec.name, c.spec.symbol);
    out!("issuer       {}", c.issuer.to_text(chain));
    if !c.spec.description.is_empty() {
        out!("description  {}", c.spec.description);
    }
    if let Some(uri) = &c.spec.uri {
        out!("uri          {uri}");
    }
    out!(
        "items        {} minted, {} burned, at most {}",
        c.minted,
        c.burned,
        c.spec
            .max_items
            .map_or("unlimited".into(), |m| m.to_string())
    );
    out!(
        "issuer burns {}",
        if c.spec.issuer_burns { "yes" } else { "no" }
    );
    out!("created at height {}", c.created_height);
}

fn show_item(item: &Item, chain: &str) {
    let meta = &item.meta;
    out!(
        "item {} of collection {}: {}",
        item.id,
        item.collection,
        meta.name
    );
    out!(
        "owner        {}{}",
        item.owner.to_text(chain),
        if item.soulbound { " (soulbound)" } else { "" }
    );
    if let Some(approved) = item.approved {
        out!("approved     {}", approved.to_text(chain));
    }
    if !meta.description.is_empty() {
        out!("description  {}", meta.description);
    }
    if let Some(uri) = &meta.uri {
        out!("uri          {uri}");
    }
    if let Some(t) = &meta.media_type {
        out!("media type   {t}");
    }
    if let Some(digest) = &meta.media_sha256 {
        out!("media sha256 {}", hex::encode(digest));
    }
    for a in &meta.attributes {
        out!("attribute    {} = {}", a.trait_type, a.value);
    }
    out!("minted at height {}", item.minted_height);
}

fn number(text: &str, what: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| anyhow!("--after {text:?}: expected {what}"))
}

/// Runs `weft nft …`.
pub async fn run(cli: &Global, command: &NftCommand) -> Result<()> {
    let (client, chain) = connect_to(cli, "nft").await?;
    match command {
        NftCommand::CreateCollection {
            name,
            symbol,
            description,
            uri,
            max_items,
            issuer_burns,
            acting,
        } => {
            let spec = CollectionSpec {
                name: name.clone(),
                symbol: symbol.clone(),
                description: description.clone(),
                uri: uri.clone(),
                max_items: *max_items,
                issuer_burns: *issuer_burns,
            };
            spec.check()?;
            let mut signer = signer(cli, &client).await?;
            let issuer = acting.holder(signer.key(), &chain)?;
            let tx = tx::create_collection(&mut signer, &issuer, &spec);
            let receipt = send(&client, &tx, "NFT").await?;
            let id: u64 = borsh::from_slice(&receipt.return_data)?;
            report(
                cli,
                receipt.height,
                &format!("collection {id} ({symbol}) created"),
                json!({"collection": id, "symbol": symbol, "issuer": issuer.to_text(&chain)}),
            );
        }
        NftCommand::Mint {
            collection,
            to,
            name,
            description,
            uri,
            media_type,
            media_file,
            attributes,
            soulbound,
        } => {
            let to = holder(to, &chain, "the recipient")?;
            let media_sha256 = media_file
                .as_ref()
                .map(|path| -> Result<[u8; 32]> {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("reading the media file {}", path.display()))?;
                    Ok(Sha256::digest(&bytes).into())
                })
                .transpose()?;
            let attributes = attributes
                .iter()
                .map(|a| {
                    let (trait_type, value) = a
                        .split_once('=')
                        .ok_or_else(|| anyhow!("--attribute {a:?}: expected TRAIT=VALUE"))?;
                    Ok(Attribute {
                        trait_type: trait_type.into(),
                        value: value.into(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let meta = ItemMeta {
                name: name.clone(),
                description: description.clone(),
                uri: uri.clone(),
                media_type: media_type.clone(),
                media_sha256,
                attributes,
            };
            meta.check()?;
            let mut signer = signer(cli, &client).await?;
            let tx = tx::mint(&mut signer, *collection, &to, &meta, *soulbound);
            let receipt = send(&client, &tx, "NFT").await?;
            let id: u64 = borsh::from_slice(&receipt.return_data)?;
            report(
                cli,
                receipt.height,
                &format!(
                    "item {id} of collection {collection} minted to {}{}",
                    to.to_text(&chain),
                    if *soulbound { " (soulbound)" } else { "" }
                ),
                json!({
                    "collection": collection,
                    "item": id,
                    "to": to.to_text(&chain),
                    "soulbound": soulbound,
                }),
            );
        }
        NftCommand::Transfer {
            collection,
            item,
            to,
            acting,
        } => {
            let to = holder(to, &chain, "the recipient")?;
            let mut signer = signer(cli, &client).await?;
            let actor = acting.holder(signer.key(), &chain)?;
            let tx = tx::transfer(&mut signer, *collection, *item, &actor, &to);
            let receipt = send(&client, &tx, "NFT").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "item {item} of collection {collection} moved to {}",
                    to.to_text(&chain)
                ),
                json!({"collection": collection, "item": item, "to": to.to_text(&chain)}),
            );
        }
        NftCommand::Approve {
            collection,
            item,
            spender,
            clear,
            acting,
        } => {
            let approved = match (spender, clear) {
                (Some(text), false) => Some(holder(text, &chain, "the spender")?),
                _ => None,
            };
            let mut signer = signer(cli, &client).await?;
            let actor = acting.holder(signer.key(), &chain)?;
            let tx = tx::approve(&mut signer, *collection, *item, &actor, approved);
            let receipt = send(&client, &tx, "NFT").await?;
            let text = match approved {
                Some(h) => format!(
                    "{} may move item {item} of collection {collection} once",
                    h.to_text(&chain)
                ),
                None => format!("nobody is approved for item {item} of collection {collection}"),
            };
            report(
                cli,
                receipt.height,
                &text,
                json!({
                    "collection": collection,
                    "item": item,
                    "approved": approved.map(|h| h.to_text(&chain)),
                }),
            );
        }
        NftCommand::Operator {
            collection,
            operator,
            remove,
            acting,
        } => {
            let who = holder(operator, &chain, "the operator")?;
            let mut signer = signer(cli, &client).await?;
            let owner = acting.holder(signer.key(), &chain)?;
            let tx = tx::set_operator(&mut signer, *collection, &owner, &who, !remove);
            let receipt = send(&client, &tx, "NFT").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "{} {} move {}'s items of collection {collection}",
                    who.to_text(&chain),
                    if *remove { "may no longer" } else { "may" },
                    owner.to_text(&chain)
                ),
                json!({
                    "collection": collection,
                    "owner": owner.to_text(&chain),
                    "operator": who.to_text(&chain),
                    "allowed": !remove,
                }),
            );
        }
        NftCommand::Burn {
            collection,
            item,
            acting,
        } => {
            let mut signer = signer(cli, &client).await?;
            let actor = acting.holder(signer.key(), &chain)?;
            let tx = tx::burn(&mut signer, *collection, *item, &actor);
            let receipt = send(&client, &tx, "NFT").await?;
            report(
                cli,
                receipt.height,
                &format!("item {item} of collection {collection} burned"),
                json!({"collection": collection, "item": item, "burned": true}),
            );
        }
        NftCommand::Show { collection, item } => match item {
            None => {
                let record = load_collection(&client, *collection).await?;
                if cli.json {
                    print_json(&collection_json(&record, &chain));
                } else {
                    show_collection(&record, &chain);
                }
            }
            Some(item) => {
                let record = load_item(&client, *collection, *item).await?;
                if cli.json {
                    print_json(&item_json(&record, &chain));
                } else {
                    show_item(&record, &chain);
                }
            }
        },
        NftCommand::List {
            owner,
            collection,
            after,
            limit,
        } => {
            let (items, next) = match (owner, collection) {
                (Some(owner), _) => {
                    let owner = holder(owner, &chain, "--owner")?;
                    let after = match after {
                        None => (0, 0),
                        Some(text) => {
                            let (c, i) = text.split_once(':').ok_or_else(|| {
                                anyhow!("--after {text:?}: expected COLLECTION:ITEM")
                            })?;
                            (number(c, "COLLECTION:ITEM")?, number(i, "COLLECTION:ITEM")?)
                        }
                    };
                    let items = sdk::items_of(&client, &owner, after, *limit).await?;
                    let next = items.last().map(|i| format!("{}:{}", i.collection, i.id));
                    (items, next)
                }
                (None, Some(collection)) => {
                    let after = after
                        .as_deref()
                        .map(|t| number(t, "an item number"))
                        .transpose()?
                        .unwrap_or(0);
                    let items = sdk::items_in(&client, *collection, after, *limit).await?;
                    let next = items.last().map(|i| i.id.to_string());
                    (items, next)
                }
                (None, None) => bail!("name what to list: --owner HOLDER or --collection NUMBER"),
            };
            // A short page is the last one.
            let next = next.filter(|_| items.len() == *limit as usize);
            if cli.json {
                let rows: Vec<Value> = items.iter().map(|i| item_json(i, &chain)).collect();
                print_json(&json!({"items": rows, "next": next}));
            } else {
                for i in &items {
                    out!(
                        "{}:{}  {}  {}{}",
                        i.collection,
                        i.id,
                        i.meta.name,
                        i.owner.to_text(&chain),
                        if i.soulbound { "  (soulbound)" } else { "" }
                    );
                }
                match next {
                    Some(cursor) => out!("next page: --after {cursor}"),
                    None => out!("{} item(s); no more", items.len()),
                }
            }
        }
    }
    Ok(())
}
