//! The NFT contract through the testkit, next to the real identity contract: collections,
//! minting, moves by owners, approved holders and operators, soulbound items, burning and paged
//! listings; then a property test that soulbound items never move and listings stay true.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, VerificationMethod};
use weft_types::holder::Holder;
use weft_types::nft::{Attribute, Collection, CollectionSpec, Item, ItemMeta};

const CHAIN: &str = "weft-test";

fn code() -> &'static (Vec<u8>, Vec<u8>) {
    static CODE: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CODE.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        (
            build_contract(here.join("../identity")),
            build_contract(here),
        )
    })
}

fn account(seed: u8) -> Address {
    Address([seed; 32])
}

fn holder(seed: u8) -> Holder {
    Holder::Account(account(seed))
}

fn spec(max_items: Option<u64>, issuer_burns: bool) -> CollectionSpec {
    CollectionSpec {
        name: "Harbour Festival 2027".into(),
        symbol: "HF27".into(),
        description: "Tickets and badges".into(),
        uri: Some("https://example.org/hf27".into()),
        max_items,
        issuer_burns,
    }
}

fn meta(name: &str) -> ItemMeta {
    ItemMeta {
        name: name.into(),
        description: "Saturday entry".into(),
        uri: Some("ipfs://bafy/ticket.png".into()),
        media_type: Some("image/png".into()),
        media_sha256: Some([3; 32]),
        attributes: vec![Attribute {
            trait_type: "day".into(),
            value: "Saturday".into(),
        }],
    }
}

struct Setup {
    chain: Chain,
    nft: ContractId,
}

impl Setup {
    fn new() -> Self {
        let (identity_code, nft_code) = code();
        let mut chain = Chain::new();
        let args = (CHAIN.to_string(),);
        assert!(
            chain
                .install_system("identity", identity_code, &args)
                .is_success()
        );
        let receipt = chain.install_system("nft", nft_code, &args);
        assert!(receipt.is_success(), "{receipt:?}");
        Self {
            chain,
            nft: ContractId::system("nft"),
        }
    }

    fn call<A: borsh::BorshSerialize>(
        &mut self,
        sender: u8,
        method: &str,
        args: &A,
    ) -> Result<Vec<u8>, String> {
        let receipt = self.chain.call(account(sender), self.nft, method, args);
        match receipt.status {
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(e.to_string()),
        }
    }

    fn did(&mut self, seed: u8) -> DidId {
        let document = Document {
            methods: vec![VerificationMethod::ed25519(
                "key-1",
                [seed; 32],
                AUTHENTICATION | CAPABILITY_INVOCATION,
            )],
            ..Document::default()
        };
        let receipt = self.chain.call(
            account(seed),
            ContractId::system("identity"),
            "create",
            &(document,),
        );
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn collection(&mut self, issuer: u8, max_items: Option<u64>, issuer_burns: bool) -> u64 {
        borsh::from_slice(
            &self
                .call(
                    issuer,
                    "create_collection",
                    &(holder(issuer), spec(max_items, issuer_burns)),
                )
                .unwrap(),
        )
        .unwrap()
    }

    fn mint(&mut self, issuer: u8, c: u64, to: Holder, soulbound: bool) -> Result<u64, String> {
        self.call(issuer, "mint", &(c, to, meta("Ticket"), soulbound))
            .map(|b| borsh::from_slice(&b).unwrap())
    }

    fn item(&self, c: u64, i: u64) -> Option<Item> {
        self.chain.view(self.nft, "item", &(c, i)).unwrap()
    }

    fn owned(&self, owner: Holder) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut after = (0u64, 0u64);
        loop {
            let page: Vec<Item> = self
                .chain
                .view(self.nft, "items_of", &(owner, after, 2u32))
                .unwrap();
            if page.is_empty() {
                return out;
            }
            for item in &page {
                assert_eq!(item.owner, owner);
                out.push((item.collection, item.id));
            }
            let last = page.last().unwrap();
            after = (last.collection, last.id);
        }
    }

    fn refused(&mut self, expected: &str, call: impl FnOnce(&mut Self) -> Result<Vec<u8>, String>) {
        let before = self.chain.storage(self.nft);
        let error = call(self).expect_err("the request must be refused");
        assert!(
            error.contains(expected),
            "expected {expected:?} in the refusal, got: {error}"
        );
        assert_eq!(self.chain.storage(self.nft), before, "{error}");
    }
}

#[test]
fn the_issuer_mints_and_owners_move_items_through_approvals_and_operators() {
    let mut s = Setup::new();
    let c = s.collection(1, Some(3), false);
    let collection: Collection = s
        .chain
        .view::<Option<Collection>>(s.nft, "collection", &(c,))
        .unwrap()
        .unwrap();
    assert_eq!(collection.issuer, holder(1));
    s.refused("the collection's issuer", |s| {
        s.call(2, "mint", &(c, holder(2), meta("Fake"), false))
    });
    s.refused("media type", |s| {
        let mut bad = meta("Bad");
        bad.media_type = Some("png".into());
        s.call(1, "mint", &(c, holder(2), bad, false))
    });
    let a = s.mint(1, c, holder(2), false).unwrap();
    let b = s.mint(1, c, holder(2), false).unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(s.item(c, a).unwrap().meta, meta("Ticket"));

    // The owner moves; nobody else does.
    s.refused("is neither the owner", |s| {
        s.call(3, "transfer", &(c, a, holder(3), holder(3)))
    });
    s.refused("but the request is signed by key", |s| {
        s.call(3, "transfer", &(c, a, holder(2), holder(3)))
    });
    s.call(2, "transfer", &(c, a, holder(2), holder(3)))
        .unwrap();
    assert_eq!(s.item(c, a).unwrap().owner, holder(3));

    // An approved holder moves the item once; the approval goes with the move.
    s.call(3, "approve", &(c, a, holder(3), Some(holder(4))))
        .unwrap();
    let receipt = s
        .chain
        .call(account(4), s.nft, "transfer", &(c, a, holder(4), holder(5)));
    assert_eq!(
        receipt.events_of::<(u64, u64, Holder, Holder, Holder)>("nft_transferred"),
        vec![(c, a, holder(3), holder(5), holder(4))]
    );
    s.refused("the recipient did:weft:weft-test:", |s| {
        s.call(
            5,
            "transfer",
            &(c, a, holder(5), Holder::Did(DidId([9; 32]))),
        )
    });
    let moved = s.item(c, a).unwrap();
    assert_eq!((moved.owner, moved.approved), (holder(5), None));
    s.refused("is neither the owner", |s| {
        s.call(4, "transfer", &(c, a, holder(4), holder(4)))
    });

    // An operator moves all of the owner's items of the collection, until removed.
    s.call(2, "set_operator", &(c, holder(2), holder(6), true))
        .unwrap();
    s.call(6, "transfer", &(c, b, holder(6), holder(3)))
        .unwrap();
    s.call(3, "set_operator", &(c, holder(3), holder(6), true))
        .unwrap();
    s.call(3, "set_operator", &(c, holder(3), holder(6), false))
        .unwrap();
    s.refused("is neither the owner", |s| {
        s.call(6, "transfer", &(c, b, holder(6), holder(2)))
    });

    // The limit of items, and burning by the owner.
    s.mint(1, c, holder(2), false).unwrap();
    s.refused("has minted all 3 items", |s| {
        s.call(1, "mint", &(c, holder(2), meta("4th"), false))
    });
    s.call(3, "burn", &(c, b, holder(3))).unwrap();
    assert!(s.item(c, b).is_none());
    s.refused("has no item 2", |s| s.call(3, "burn", &(c, b, holder(3))));

    // Listings page and agree with the items.
    assert_eq!(s.owned(holder(5)), vec![(c, a)]);
    assert_eq!(s.owned(holder(2)), vec![(c, 3)]);
    let all: Vec<Item> = s.chain.view(s.nft, "items_in", &(c, 0u64, 100u32)).unwrap();
    assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), vec![1, 3]);
    let page: Vec<Item> = s.chain.view(s.nft, "items_in", &(c, 1u64, 100u32)).unwrap();
    assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), vec![3]);
    // A second collection: listings by owner page across both (two at a time), by collection
    // never leak into the other.
    let d = s.collection(1, None, false);
    for _ in 0..3 {
        s.mint(1, d, holder(2), false).unwrap();
    }
    assert_eq!(s.owned(holder(2)), vec![(c, 3), (d, 1), (d, 2), (d, 3)]);
    let first: Vec<Item> = s.chain.view(s.nft, "items_in", &(d, 0u64, 2u32)).unwrap();
    let rest: Vec<Item> = s.chain.view(s.nft, "items_in", &(d, 2u64, 2u32)).unwrap();
    assert_eq!(
        first
            .iter()
            .chain(&rest)
            .map(|i| (i.collection, i.id))
            .collect::<Vec<_>>(),
        vec![(d, 1), (d, 2), (d, 3)]
    );
    let none: Vec<Item> = s.chain.view(s.nft, "items_in", &(c, 3u64, 100u32)).unwrap();
    assert!(none.is_empty());
}

#[test]
fn a_soulbound_ticket_stays_with_its_did_and_the_issuer_may_revoke_it() {
    let mut s = Setup::new();
    let c = s.collection(1, None, true);
    let visitor = s.did(7);
    let bound = Holder::Did(visitor);
    let t = s.mint(1, c, bound, true).unwrap();
    s.refused("soulbound", |s| {
        s.call(7, "transfer", &(c, t, bound, holder(2)))
    });
    s.refused("soulbound", |s| {
        s.call(7, "approve", &(c, t, bound, Some(holder(2))))
    });
    s.call(7, "set_operator", &(c, bound, holder(2), true))
        .unwrap();
    s.refused("soulbound", |s| {
        s.call(2, "transfer", &(c, t, holder(2), holder(2)))
    });
    // The DID's key speaks for it; another key does not.
    s.refused("capabilityInvocation key", |s| {
        s.call(8, "burn", &(c, t, bound))
    });
    // The issuer of an issuer_burns collection revokes the ticket.
    s.call(1, "burn", &(c, t, holder(1))).unwrap();
    assert!(s.item(c, t).is_none());
    assert!(s.owned(bound).is_empty());
    // Without issuer_burns, the issuer cannot.
    let d = s.collection(1, None, false);
    let u = s.mint(1, d, bound, true).unwrap();
    s.refused("only its holder", |s| s.call(1, "burn", &(d, u, holder(1))));
    let plain = s.mint(1, d, holder(2), false).unwrap();
    s.refused("not declared issuer_burns", |s| {
        s.call(1, "burn", &(d, plain, holder(1)))
    });
    // An operator moves the holder's items, but never burns a soulbound one.
    s.call(7, "set_operator", &(d, bound, holder(3), true))
        .unwrap();
    s.refused("only its holder", |s| s.call(3, "burn", &(d, u, holder(3))));
    s.call(7, "burn", &(d, u, bound)).unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Transfer {
        item: u64,
        actor: u8,
        to: u8,
    },
    Approve {
        item: u64,
        actor: u8,
        to: Option<u8>,
    },
    Operator {
        owner: u8,
        operator: u8,
        allowed: bool,
    },
    Burn {
        item: u64,
        actor: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = || 1u8..=4;
    let item = || 1u64..=6;
    prop_oneof![
        (item(), key(), key()).prop_map(|(item, actor, to)| Op::Transfer { item, actor, to }),
        (item(), key(), prop::option::of(key())).prop_map(|(item, actor, to)| Op::Approve {
            item,
            actor,
            to
        }),
        (key(), key(), any::<bool>()).prop_map(|(owner, operator, allowed)| Op::Operator {
            owner,
            operator,
            allowed
        }),
        (item(), key()).prop_map(|(item, actor)| Op::Burn { item, actor }),
    ]
}

/// Who holds what and who may move it, as plainly as possible.
struct Model {
    owner: [Option<u8>; 7],
    approved: [Option<u8>; 7],
    operators: std::collections::BTreeSet<(u8, u8)>,
}

impl Model {
    fn may_move(&self, item: u64, actor: u8) -> bool {
        let i = item as usize;
        match self.owner[i] {
            Some(owner) => {
                actor == owner
                    || self.approved[i] == Some(actor)
                    || self.operators.contains(&(owner, actor))
            }
            None => false,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every request succeeds exactly when the model says it may and a refused one changes
    /// nothing; whatever anyone tries, a soulbound item never changes owner; the listing by
    /// owner always shows exactly the items each holder owns.
    #[test]
    fn soulbound_items_never_move_and_listings_stay_true(ops in prop::collection::vec(op(), 1..40)) {
        let mut s = Setup::new();
        let c = s.collection(9, None, false);
        // Items 1-3 soulbound, 4-6 not, to keys 1, 2, 3, 1, 2, 3.
        let mut m = Model { owner: [None; 7], approved: [None; 7], operators: Default::default() };
        for i in 0..6u8 {
            s.mint(9, c, holder(1 + i % 3), i < 3).unwrap();
            m.owner[usize::from(i) + 1] = Some(1 + i % 3);
        }
        let bound: Vec<Holder> = (1..=3).map(|i| s.item(c, i).unwrap().owner).collect();
        for op in ops {
            let before = s.chain.storage(s.nft);
            let (expected, result) = match &op {
                Op::Transfer { item, actor, to } => {
                    let i = *item as usize;
                    let ok = *item > 3 && m.may_move(*item, *actor) && m.owner[i] != Some(*to);
                    if ok {
                        m.owner[i] = Some(*to);
                        m.approved[i] = None;
                    }
                    (ok, s.call(*actor, "transfer", &(c, *item, holder(*actor), holder(*to))))
                }
                Op::Approve { item, actor, to } => {
                    let i = *item as usize;
                    let ok = m.owner[i].is_some_and(|o| o == *actor || m.operators.contains(&(o, *actor)))
                        && (*item > 3 || to.is_none());
                    if ok {
                        m.approved[i] = *to;
                    }
                    (ok, s.call(*actor, "approve", &(c, *item, holder(*actor), to.map(holder))))
                }
                Op::Operator { owner, operator, allowed } => {
                    let ok = owner != operator;
                    if ok {
                        if *allowed {
                            m.operators.insert((*owner, *operator));
                        } else {
                            m.operators.remove(&(*owner, *operator));
                        }
                    }
                    (ok, s.call(*owner, "set_operator", &(c, holder(*owner), holder(*operator), *allowed)))
                }
                Op::Burn { item, actor } => {
                    let i = *item as usize;
                    let ok = if *item > 3 {
                        m.may_move(*item, *actor)
                    } else {
                        m.owner[i] == Some(*actor)
                    };
                    if ok {
                        m.owner[i] = None;
                        m.approved[i] = None;
                    }
                    (ok, s.call(*actor, "burn", &(c, *item, holder(*actor))))
                }
            };
            prop_assert_eq!(result.is_ok(), expected, "{:?}: {:?}", op, result);
            if result.is_err() {
                prop_assert_eq!(&s.chain.storage(s.nft), &before, "refused {:?} changed storage", op);
            }
            for i in 1..=3u64 {
                if let Some(item) = s.item(c, i) {
                    prop_assert_eq!(item.owner, bound[i as usize - 1]);
                    prop_assert_eq!(item.approved, None);
                }
            }
            for i in 1..=6u64 {
                let item = s.item(c, i);
                prop_assert_eq!(item.as_ref().map(|x| x.owner), m.owner[i as usize].map(holder));
            }
            let mut listed: Vec<(u64, u64)> = (1..=4).flat_map(|k| s.owned(holder(k))).collect();
            listed.sort();
            let mut held: Vec<(u64, u64)> = (1..=6u64)
                .filter(|i| s.item(c, *i).is_some())
                .map(|i| (c, i))
                .collect();
            held.sort();
            prop_assert_eq!(listed, held);
        }
    }
}
