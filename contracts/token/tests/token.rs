//! The token contract through the testkit, next to the real identity contract: the rules one
//! scenario at a time, then property tests that run random sequences of operations against a
//! reference model and check the invariants after every step.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use ed25519_dalek::{Signer as _, SigningKey};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, VerificationMethod};
use weft_types::holder::Holder;
use weft_types::token::{
    Allowance, Metadata, Permit, Token, TokenSpec, permit_message, settlement_message,
};

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

fn signing(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The account of key `seed`.
fn account(seed: u8) -> Address {
    Address(signing(seed).verifying_key().to_bytes())
}

fn holder(seed: u8) -> Holder {
    Holder::Account(account(seed))
}

fn spec(max_supply: Option<u128>) -> TokenSpec {
    TokenSpec {
        name: "Solar Credit".into(),
        symbol: "SOLAR".into(),
        decimals: 3,
        max_supply,
        pausable: true,
        freezable: true,
        metadata: Metadata {
            description: "Energy produced by certified meters, in kWh".into(),
            url: Some("https://example.org/solar".into()),
            logo_url: None,
        },
    }
}

struct Setup {
    chain: Chain,
    token: ContractId,
    identity: ContractId,
}

impl Setup {
    fn new() -> Self {
        let (identity_code, token_code) = code();
        let mut chain = Chain::new();
        let args = (CHAIN.to_string(),);
        assert!(
            chain
                .install_system("identity", identity_code, &args)
                .is_success()
        );
        let receipt = chain.install_system("token", token_code, &args);
        assert!(receipt.is_success(), "{receipt:?}");
        Self {
            chain,
            token: ContractId::system("token"),
            identity: ContractId::system("identity"),
        }
    }

    fn call<A: borsh::BorshSerialize>(
        &mut self,
        sender: u8,
        method: &str,
        args: &A,
    ) -> Result<Vec<u8>, String> {
        let receipt = self.chain.call(account(sender), self.token, method, args);
        match receipt.status {
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A DID whose only capabilityInvocation key is key `seed`'s.
    fn did(&mut self, seed: u8) -> DidId {
        let document = Document {
            methods: vec![VerificationMethod::ed25519(
                "key-1",
                account(seed).0,
                AUTHENTICATION | CAPABILITY_INVOCATION,
            )],
            ..Document::default()
        };
        let receipt = self
            .chain
            .call(account(seed), self.identity, "create", &(document,));
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    /// Creates a token owned by key 1 with key 1 as an uncapped minter.
    fn token(&mut self, max_supply: Option<u128>) -> u64 {
        let id: u64 = borsh::from_slice(
            &self
                .call(1, "create", &(holder(1), spec(max_supply)))
                .unwrap(),
        )
        .unwrap();
        self.call(1, "set_minter", &(id, holder(1), None::<u128>))
            .unwrap();
        id
    }

    fn info(&self, token: u64) -> Token {
        self.chain
            .view::<Option<Token>>(self.token, "token", &(token,))
            .unwrap()
            .unwrap()
    }

    fn balance(&self, token: u64, h: Holder) -> u128 {
        self.chain.view(self.token, "balance", &(token, h)).unwrap()
    }

    fn balances(&self, token: u64) -> Vec<(Holder, u128)> {
        self.chain
            .view(self.token, "holders", &(token, None::<Holder>, 100u32))
            .unwrap()
    }

    fn permit(&self, key: u8, permit: &Permit) -> (Permit, [u8; 32], [u8; 64]) {
        let signature = signing(key).sign(&permit_message(CHAIN, &self.token, permit).0);
        (permit.clone(), account(key).0, signature.to_bytes())
    }

    /// Expects `call` to be refused with `expected` in the message, changing no storage.
    fn refused(&mut self, expected: &str, call: impl FnOnce(&mut Self) -> Result<Vec<u8>, String>) {
        let before = self.chain.storage(self.token);
        let error = call(self).expect_err("the request must be refused");
        assert!(
            error.contains(expected),
            "expected {expected:?} in the refusal, got: {error}"
        );
        assert_eq!(self.chain.storage(self.token), before, "{error}");
    }
}

#[test]
fn a_token_is_created_minted_moved_and_burned_exactly() {
    let mut s = Setup::new();
    let t = s.token(Some(1_000_000));
    let receipt = s.chain.call(
        account(1),
        s.token,
        "mint",
        &(t, holder(1), holder(2), 600_000u128),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(
        receipt.events_of::<(u64, Holder, Holder, u128)>("token_minted"),
        vec![(t, holder(1), holder(2), 600_000)]
    );
    let receipt = s.chain.call(
        account(2),
        s.token,
        "transfer",
        &(t, holder(2), holder(3), 250_001u128),
    );
    assert_eq!(
        receipt.events_of::<(u64, Holder, Holder, u128)>("token_transferred"),
        vec![(t, holder(2), holder(3), 250_001)]
    );
    assert_eq!(s.balance(t, holder(2)), 349_999);
    assert_eq!(s.balance(t, holder(3)), 250_001);
    s.call(
        2,
        "transfer_batch",
        &(t, holder(2), vec![(holder(4), 1u128), (holder(5), 2u128)]),
    )
    .unwrap();
    s.call(3, "burn", &(t, holder(3), 1u128)).unwrap();
    let info = s.info(t);
    assert_eq!(info.supply, 599_999);
    let sum: u128 = s.balances(t).iter().map(|(_, b)| b).sum();
    assert_eq!(sum, info.supply);

    // Everything that would break a rule is refused and changes nothing.
    s.refused("above the maximum", |s| {
        s.call(1, "mint", &(t, holder(1), holder(2), 400_002u128))
    });
    s.refused("less than the 0.002 SOLAR (2 base units) to send", |s| {
        s.call(4, "transfer", &(t, holder(4), holder(2), 2u128))
    });
    s.refused("the amount is 0", |s| {
        s.call(2, "transfer", &(t, holder(2), holder(3), 0u128))
    });
    s.refused("send to itself", |s| {
        s.call(2, "transfer", &(t, holder(2), holder(2), 1u128))
    });
    s.refused("but the request is signed by key", |s| {
        s.call(3, "transfer", &(t, holder(2), holder(3), 1u128))
    });
    s.refused("transfer 1:", |s| {
        s.call(
            2,
            "transfer_batch",
            &(
                t,
                holder(2),
                vec![(holder(4), 1u128), (holder(5), u128::MAX)],
            ),
        )
    });
    s.refused("is not a minter", |s| {
        s.call(2, "mint", &(t, holder(2), holder(2), 1u128))
    });
    s.refused("the recipient did:weft:weft-test:", |s| {
        s.call(
            2,
            "transfer",
            &(t, holder(2), Holder::Did(DidId([9; 32])), 1u128),
        )
    });
    s.refused("there is no token 9", |s| {
        s.call(2, "transfer", &(9u64, holder(2), holder(3), 1u128))
    });
    s.refused("the symbol", |s| {
        let mut bad = spec(None);
        bad.symbol = "SO LAR".into();
        s.call(1, "create", &(holder(1), bad))
    });
}

#[test]
fn minters_stay_within_their_caps_and_only_the_owner_names_them() {
    let mut s = Setup::new();
    let t = s.token(None);
    s.refused("the token's owner is account", |s| {
        s.call(2, "set_minter", &(t, holder(2), Some(10u128)))
    });
    s.call(1, "set_minter", &(t, holder(2), Some(10u128)))
        .unwrap();
    s.call(2, "mint", &(t, holder(2), holder(3), 7u128))
        .unwrap();
    s.refused("may mint 0.003 SOLAR (3 base units) more", |s| {
        s.call(2, "mint", &(t, holder(2), holder(3), 4u128))
    });
    // Raising the cap counts what was minted already.
    s.call(1, "set_minter", &(t, holder(2), Some(12u128)))
        .unwrap();
    s.call(2, "mint", &(t, holder(2), holder(3), 5u128))
        .unwrap();
    s.refused("may mint 0 SOLAR", |s| {
        s.call(2, "mint", &(t, holder(2), holder(3), 1u128))
    });
    s.call(1, "remove_minter", &(t, holder(2))).unwrap();
    s.refused("is not a minter", |s| {
        s.call(2, "mint", &(t, holder(2), holder(3), 1u128))
    });
    // Renounced ownership: nobody names minters again.
    s.call(1, "set_owner", &(t, None::<Holder>)).unwrap();
    s.refused("renounced", |s| {
        s.call(1, "set_minter", &(t, holder(1), None::<u128>))
    });
    assert_eq!(s.info(t).owner, None);
}

#[test]
fn pause_and_freeze_exist_only_when_declared_and_stop_movements() {
    let mut s = Setup::new();
    let t = s.token(None);
    s.call(1, "mint", &(t, holder(1), holder(2), 100u128))
        .unwrap();
    s.refused("the token's owner", |s| s.call(2, "pause", &(t, true)));
    s.call(1, "pause", &(t, true)).unwrap();
    assert!(s.info(t).paused);
    s.refused("is paused", |s| {
        s.call(2, "transfer", &(t, holder(2), holder(3), 1u128))
    });
    s.refused("is paused", |s| {
        s.call(1, "mint", &(t, holder(1), holder(2), 1u128))
    });
    s.refused("is paused", |s| s.call(2, "burn", &(t, holder(2), 1u128)));
    s.call(1, "pause", &(t, false)).unwrap();
    s.call(1, "freeze", &(t, holder(3), true)).unwrap();
    s.refused("the recipient", |s| {
        s.call(2, "transfer", &(t, holder(2), holder(3), 1u128))
    });
    s.call(1, "freeze", &(t, holder(2), true)).unwrap();
    s.refused("the sender", |s| {
        s.call(2, "transfer", &(t, holder(2), holder(4), 1u128))
    });
    s.refused("frozen for token 1 already", |s| {
        s.call(1, "freeze", &(t, holder(2), true))
    });
    // A frozen holder spends no allowance and mints nothing either.
    s.call(1, "freeze", &(t, holder(2), false)).unwrap();
    s.call(1, "mint", &(t, holder(1), holder(4), 5u128))
        .unwrap();
    s.call(4, "approve", &(t, holder(4), holder(2), 5u128, None::<u64>))
        .unwrap();
    s.call(1, "set_minter", &(t, holder(2), None::<u128>))
        .unwrap();
    s.call(1, "freeze", &(t, holder(2), true)).unwrap();
    s.refused("the spender", |s| {
        s.call(
            2,
            "transfer_from",
            &(t, holder(2), holder(4), holder(5), 1u128),
        )
    });
    s.refused("the minter", |s| {
        s.call(2, "mint", &(t, holder(2), holder(5), 1u128))
    });
    s.call(1, "freeze", &(t, holder(2), false)).unwrap();
    s.call(2, "transfer", &(t, holder(2), holder(4), 1u128))
        .unwrap();

    // A token declared without them cannot be paused or frozen, ever.
    let mut plain = spec(None);
    plain.pausable = false;
    plain.freezable = false;
    let p: u64 = borsh::from_slice(&s.call(1, "create", &(holder(1), plain)).unwrap()).unwrap();
    s.refused("not declared pausable", |s| s.call(1, "pause", &(p, true)));
    s.refused("not declared freezable", |s| {
        s.call(1, "freeze", &(p, holder(2), true))
    });
}

#[test]
fn a_did_holds_and_moves_tokens_through_its_capability_invocation_keys() {
    let mut s = Setup::new();
    let t = s.token(None);
    let meter = s.did(7);
    let did = Holder::Did(meter);
    s.call(1, "mint", &(t, holder(1), did, 50u128)).unwrap();
    s.refused("is not a capabilityInvocation key", |s| {
        s.call(8, "transfer", &(t, did, holder(2), 1u128))
    });
    s.call(7, "transfer", &(t, did, holder(2), 20u128)).unwrap();
    assert_eq!(s.balance(t, did), 30);
    // A DID can own a token and name minters.
    let id: u64 = borsh::from_slice(&s.call(7, "create", &(did, spec(None))).unwrap()).unwrap();
    s.call(7, "set_minter", &(id, did, Some(5u128))).unwrap();
    s.call(7, "mint", &(id, did, holder(3), 5u128)).unwrap();
    s.refused("the token's owner", |s| {
        s.call(1, "set_minter", &(id, holder(1), None::<u128>))
    });
}

#[test]
fn allowances_are_spent_down_and_expire() {
    let mut s = Setup::new();
    let t = s.token(None);
    s.call(1, "mint", &(t, holder(1), holder(2), 100u128))
        .unwrap();
    let until = s.chain.time_ms() + 60_000;
    s.call(
        2,
        "approve",
        &(t, holder(2), holder(3), 30u128, Some(until)),
    )
    .unwrap();
    let receipt = s.chain.call(
        account(3),
        s.token,
        "transfer_from",
        &(t, holder(3), holder(2), holder(4), 20u128),
    );
    assert_eq!(
        receipt.events_of::<(u64, Holder, Holder, u128, u128)>("token_allowance_used"),
        vec![(t, holder(2), holder(3), 20, 10)]
    );
    let left: Option<Allowance> = s
        .chain
        .view(s.token, "allowance", &(t, holder(2), holder(3)))
        .unwrap();
    assert_eq!(left.unwrap().amount, 10);
    s.refused("has not approved", |s| {
        s.call(
            4,
            "transfer_from",
            &(t, holder(4), holder(2), holder(5), 1u128),
        )
    });
    s.refused("may move 0.01 SOLAR", |s| {
        s.call(
            3,
            "transfer_from",
            &(t, holder(3), holder(2), holder(4), 11u128),
        )
    });
    s.refused("but the request is signed by key", |s| {
        s.call(
            4,
            "transfer_from",
            &(t, holder(3), holder(2), holder(4), 1u128),
        )
    });
    s.chain.advance_time(Duration::from_secs(60));
    s.refused("expired at", |s| {
        s.call(
            3,
            "transfer_from",
            &(t, holder(3), holder(2), holder(4), 1u128),
        )
    });
    s.refused("is not after the block time", |s| {
        s.call(2, "approve", &(t, holder(2), holder(3), 5u128, Some(1u64)))
    });
}

#[test]
fn a_relayed_permit_pays_once_before_its_deadline() {
    let mut s = Setup::new();
    let t = s.token(None);
    let device = s.did(9);
    s.call(1, "mint", &(t, holder(1), holder(2), 100u128))
        .unwrap();
    s.call(1, "mint", &(t, holder(1), Holder::Did(device), 100u128))
        .unwrap();
    let deadline = s.chain.time_ms() + 60_000;
    let permit = Permit {
        token: t,
        from: holder(2),
        to: holder(3),
        amount: 40,
        nonce: 0,
        deadline_ms: deadline,
    };
    // Key 4 relays; key 2 never sends a transaction.
    let signed = s.permit(2, &permit);
    let receipt = s
        .chain
        .call(account(4), s.token, "transfer_signed", &signed);
    assert_eq!(
        receipt.events_of::<(Holder, u64)>("token_permit_used"),
        vec![(holder(2), 0)]
    );
    assert_eq!(s.balance(t, holder(3)), 40);
    s.refused("it was used already", |s| {
        s.call(5, "transfer_signed", &signed)
    });
    s.refused("does not verify", |s| {
        let mut tampered = signed.clone();
        tampered.0.amount = 41;
        tampered.0.nonce = 1;
        s.call(4, "transfer_signed", &tampered)
    });
    s.refused("is account", |s| {
        s.call(
            4,
            "transfer_signed",
            &s.permit(
                3,
                &Permit {
                    nonce: 1,
                    ..permit.clone()
                },
            ),
        )
    });
    s.refused("next permit number is 1", |s| {
        s.call(
            4,
            "transfer_signed",
            &s.permit(
                2,
                &Permit {
                    nonce: 5,
                    ..permit.clone()
                },
            ),
        )
    });
    s.refused("does not verify", |s| {
        // Signed for another chain.
        let p = Permit {
            nonce: 1,
            ..permit.clone()
        };
        let signature = signing(2).sign(&permit_message("weft-other", &s.token, &p).0);
        s.call(
            4,
            "transfer_signed",
            &(p, account(2).0, signature.to_bytes()),
        )
    });
    s.refused("does not verify", |s| {
        // Signed for another contract running the same code.
        let p = Permit {
            nonce: 1,
            ..permit.clone()
        };
        let other = ContractId::system("not-the-token");
        let signature = signing(2).sign(&permit_message(CHAIN, &other, &p).0);
        s.call(
            4,
            "transfer_signed",
            &(p, account(2).0, signature.to_bytes()),
        )
    });
    // Nobody signs for an account at a point of small order, where any signature would verify
    // under ZIP-215's equation (R = the key, s = 0).
    let weak = Holder::Account(Address([0; 32]));
    s.call(1, "mint", &(t, holder(1), weak, 10u128)).unwrap();
    s.refused("does not verify", |s| {
        let p = Permit {
            from: weak,
            nonce: 0,
            ..permit.clone()
        };
        s.call(4, "transfer_signed", &(p, [0u8; 32], [0u8; 64]))
    });
    s.chain.advance_time(Duration::from_secs(60));
    s.refused("deadline", |s| {
        s.call(
            4,
            "transfer_signed",
            &s.permit(
                2,
                &Permit {
                    nonce: 1,
                    ..permit.clone()
                },
            ),
        )
    });
    // A device DID pays with a permit its key signed.
    let from_device = Permit {
        from: Holder::Did(device),
        nonce: 0,
        deadline_ms: s.chain.time_ms() + 1_000,
        ..permit.clone()
    };
    s.call(4, "transfer_signed", &s.permit(9, &from_device))
        .unwrap();
    assert_eq!(s.balance(t, Holder::Did(device)), 60);
    let next: u64 = s
        .chain
        .view(s.token, "nonce", &(Holder::Did(device),))
        .unwrap();
    assert_eq!(next, 1);
}

#[test]
fn a_settlement_moves_goods_against_payment_all_or_none() {
    let mut s = Setup::new();
    let credits = s.token(None);
    let euro = s.token(None);
    s.call(1, "mint", &(credits, holder(1), holder(2), 5_000u128))
        .unwrap();
    s.call(1, "mint", &(euro, holder(1), holder(3), 200u128))
        .unwrap();
    let deadline = s.chain.time_ms() + 60_000;
    let goods = Permit {
        token: credits,
        from: holder(2),
        to: holder(3),
        amount: 5_000,
        nonce: 0,
        deadline_ms: deadline,
    };
    let price = Permit {
        token: euro,
        from: holder(3),
        to: holder(2),
        amount: 140,
        nonce: 0,
        deadline_ms: deadline,
    };
    let sign = |s: &Setup, legs: &[Permit], keys: &[u8]| -> Vec<([u8; 32], [u8; 64])> {
        let message = settlement_message(CHAIN, &s.token, legs);
        keys.iter()
            .map(|k| (account(*k).0, signing(*k).sign(&message.0).to_bytes()))
            .collect()
    };
    // One leg short: nothing moves, not even the leg that could.
    let short = Permit {
        amount: 201,
        ..price.clone()
    };
    s.refused("leg 1: ", |s| {
        let legs = vec![goods.clone(), short.clone()];
        let signatures = sign(s, &legs, &[2, 3]);
        s.call(4, "settle", &(legs, signatures))
    });
    // A seller's signature of a settlement is no permit: the goods leg never applies alone.
    s.refused("does not verify", |s| {
        let legs = vec![goods.clone(), short.clone()];
        let signatures = sign(s, &legs, &[2, 3]);
        s.call(
            5,
            "transfer_signed",
            &(goods.clone(), signatures[0].0, signatures[0].1),
        )
    });
    // Nor in another settlement: every payer signed exactly these legs.
    s.refused("leg 0: the signature does not verify", |s| {
        let signatures = sign(s, &[goods.clone(), price.clone()], &[2, 3]);
        let cheaper = Permit {
            amount: 1,
            ..price.clone()
        };
        s.call(5, "settle", &(vec![goods.clone(), cheaper], signatures))
    });
    s.refused("one signature per leg", |s| {
        let legs = vec![goods.clone(), price.clone()];
        let signatures = sign(s, &legs, &[2]);
        s.call(4, "settle", &(legs, signatures))
    });
    let legs = vec![goods.clone(), price.clone()];
    let signatures = sign(&s, &legs, &[2, 3]);
    s.call(4, "settle", &(legs.clone(), signatures.clone()))
        .unwrap();
    assert_eq!(s.balance(credits, holder(3)), 5_000);
    assert_eq!(s.balance(euro, holder(2)), 140);
    assert_eq!(s.balance(euro, holder(3)), 60);
    s.refused("leg 0: the permit carries number 0", |s| {
        s.call(5, "settle", &(legs, signatures))
    });
    s.refused("1 to 8 legs", |s| {
        s.call(
            4,
            "settle",
            &(Vec::<Permit>::new(), Vec::<([u8; 32], [u8; 64])>::new()),
        )
    });
}

#[test]
fn listings_page_within_one_token_and_ownership_goes_only_to_live_holders() {
    let mut s = Setup::new();
    let a = s.token(None);
    let b = s.token(None);
    for k in 2..=6u8 {
        s.call(1, "mint", &(a, holder(1), holder(k), u128::from(k)))
            .unwrap();
        s.call(1, "mint", &(b, holder(1), holder(k), 100u128))
            .unwrap();
    }
    // Page token a two at a time: every holder once, none of token b's.
    let mut seen = Vec::new();
    let mut after: Option<Holder> = None;
    loop {
        let page: Vec<(Holder, u128)> =
            s.chain.view(s.token, "holders", &(a, after, 2u32)).unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().0);
        seen.extend(page);
    }
    let mut expected: Vec<(Holder, u128)> = (2..=6u8).map(|k| (holder(k), u128::from(k))).collect();
    expected.sort();
    assert_eq!(seen, expected);
    s.refused("the recipient did:weft:weft-test:", |s| {
        s.call(1, "set_owner", &(a, Some(Holder::Did(DidId([9; 32])))))
    });
}

// ---- Properties over random sequences of operations ----

/// Holders the random operations use: keys 1 to 4.
const HOLDERS: u8 = 4;
const MAX_SUPPLY: u128 = 1_000;

#[derive(Debug, Clone)]
enum Op {
    Mint {
        minter: u8,
        to: u8,
        amount: u128,
    },
    Burn {
        from: u8,
        amount: u128,
    },
    Transfer {
        from: u8,
        to: u8,
        amount: u128,
    },
    Batch {
        from: u8,
        to: Vec<(u8, u128)>,
    },
    Approve {
        owner: u8,
        spender: u8,
        amount: u128,
        secs: Option<u64>,
    },
    TransferFrom {
        spender: u8,
        from: u8,
        to: u8,
        amount: u128,
    },
    Permit {
        from: u8,
        to: u8,
        amount: u128,
        skew: i8,
        secs: u64,
    },
    ReplayPermit,
    Wait {
        secs: u64,
    },
}

fn key() -> impl Strategy<Value = u8> {
    1..=HOLDERS
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![0u128..=5, 0u128..=400, Just(u128::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (key(), key(), amount()).prop_map(|(minter, to, amount)| Op::Mint { minter, to, amount }),
        (key(), amount()).prop_map(|(from, amount)| Op::Burn { from, amount }),
        (key(), key(), amount()).prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        (key(), prop::collection::vec((key(), amount()), 1..4))
            .prop_map(|(from, to)| Op::Batch { from, to }),
        (key(), key(), amount(), prop::option::of(1u64..30)).prop_map(
            |(owner, spender, amount, secs)| Op::Approve {
                owner,
                spender,
                amount,
                secs
            }
        ),
        (key(), key(), key(), amount()).prop_map(|(spender, from, to, amount)| {
            Op::TransferFrom {
                spender,
                from,
                to,
                amount,
            }
        }),
        (key(), key(), amount(), -1i8..=1, 0u64..20).prop_map(|(from, to, amount, skew, secs)| {
            Op::Permit {
                from,
                to,
                amount,
                skew,
                secs,
            }
        }),
        Just(Op::ReplayPermit),
        (1u64..20).prop_map(|secs| Op::Wait { secs }),
    ]
}

/// What the contract must do, written as plainly as possible.
#[derive(Default)]
struct Model {
    balances: [u128; HOLDERS as usize + 1],
    supply: u128,
    minted_by_2: u128,
    allowances: std::collections::BTreeMap<(u8, u8), (u128, Option<u64>)>,
    nonces: [u64; HOLDERS as usize + 1],
}

impl Model {
    fn can_move(&self, from: u8, to: u8, amount: u128) -> bool {
        amount > 0 && from != to && self.balances[from as usize] >= amount
    }

    fn apply_move(&mut self, from: u8, to: u8, amount: u128) {
        self.balances[from as usize] -= amount;
        self.balances[to as usize] += amount;
    }

    fn allowance(&self, owner: u8, spender: u8, now: u64) -> u128 {
        match self.allowances.get(&(owner, spender)) {
            Some((_, Some(until))) if now >= *until => 0,
            Some((amount, _)) => *amount,
            None => 0,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Supply is always the sum of balances and never above the maximum; every operation
    /// succeeds exactly when the model says it may, and a refused one changes nothing; an
    /// allowance is never exceeded and lapses at its expiry; a permit never applies twice.
    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..40)) {
        let mut s = Setup::new();
        let t = s.token(Some(MAX_SUPPLY));
        // Key 1 mints without a cap (up to the maximum supply); key 2 up to 300.
        s.call(1, "set_minter", &(t, holder(2), Some(300u128))).unwrap();
        let mut m = Model::default();
        let mut last_permit: Option<(Permit, [u8; 32], [u8; 64])> = None;
        for op in ops {
            let now = s.chain.time_ms();
            let before = s.chain.storage(s.token);
            let (expected, result) = match &op {
                Op::Mint { minter, to, amount } => {
                    let minter = if *minter % 2 == 0 { 2 } else { 1 };
                    let room = if minter == 2 { 300 - m.minted_by_2 } else { u128::MAX };
                    let ok = *amount > 0
                        && *amount <= room
                        && m.supply.checked_add(*amount).is_some_and(|s| s <= MAX_SUPPLY);
                    if ok {
                        m.supply += amount;
                        m.balances[*to as usize] += amount;
                        if minter == 2 {
                            m.minted_by_2 += amount;
                        }
                    }
                    (ok, s.call(minter, "mint", &(t, holder(minter), holder(*to), *amount)))
                }
                Op::Burn { from, amount } => {
                    let ok = *amount > 0 && m.balances[*from as usize] >= *amount;
                    if ok {
                        m.balances[*from as usize] -= amount;
                        m.supply -= amount;
                    }
                    (ok, s.call(*from, "burn", &(t, holder(*from), *amount)))
                }
                Op::Transfer { from, to, amount } => {
                    let ok = m.can_move(*from, *to, *amount);
                    if ok {
                        m.apply_move(*from, *to, *amount);
                    }
                    (ok, s.call(*from, "transfer", &(t, holder(*from), holder(*to), *amount)))
                }
                Op::Batch { from, to } => {
                    let mut trial = Model { allowances: Default::default(), ..m };
                    let ok = to.iter().all(|(r, a)| {
                        let ok = trial.can_move(*from, *r, *a);
                        if ok {
                            trial.apply_move(*from, *r, *a);
                        }
                        ok
                    });
                    if ok {
                        m.balances = trial.balances;
                    }
                    let list: Vec<(Holder, u128)> = to.iter().map(|(r, a)| (holder(*r), *a)).collect();
                    (ok, s.call(*from, "transfer_batch", &(t, holder(*from), list)))
                }
                Op::Approve { owner, spender, amount, secs } => {
                    let until = secs.map(|s| now + s * 1_000);
                    let ok = owner != spender;
                    if ok {
                        if *amount == 0 {
                            m.allowances.remove(&(*owner, *spender));
                        } else {
                            m.allowances.insert((*owner, *spender), (*amount, until));
                        }
                    }
                    (ok, s.call(*owner, "approve", &(t, holder(*owner), holder(*spender), *amount, until)))
                }
                Op::TransferFrom { spender, from, to, amount } => {
                    let available = m.allowance(*from, *spender, now);
                    let ok = *amount <= available && m.can_move(*from, *to, *amount);
                    let result = s.call(*spender, "transfer_from", &(t, holder(*spender), holder(*from), holder(*to), *amount));
                    if ok {
                        m.apply_move(*from, *to, *amount);
                        let left = available - amount;
                        if left == 0 {
                            m.allowances.remove(&(*from, *spender));
                        } else if let Some(a) = m.allowances.get_mut(&(*from, *spender)) {
                            a.0 = left;
                        }
                    }
                    // Never more than the allowance, whatever the model says.
                    if result.is_ok() {
                        prop_assert!(*amount <= available);
                    }
                    (ok, result)
                }
                Op::Permit { from, to, amount, skew, secs } => {
                    let next = m.nonces[*from as usize];
                    let nonce = (next as i64 + i64::from(*skew)).max(0) as u64;
                    let permit = Permit {
                        token: t,
                        from: holder(*from),
                        to: holder(*to),
                        amount: *amount,
                        nonce,
                        deadline_ms: now + secs * 1_000,
                    };
                    let ok = nonce == next && *secs > 0 && m.can_move(*from, *to, *amount);
                    if ok {
                        m.apply_move(*from, *to, *amount);
                        m.nonces[*from as usize] += 1;
                    }
                    let signed = s.permit(*from, &permit);
                    let result = s.call(3, "transfer_signed", &signed);
                    if result.is_ok() {
                        last_permit = Some(signed);
                    }
                    (ok, result)
                }
                Op::ReplayPermit => match &last_permit {
                    Some(signed) => (false, s.call(4, "transfer_signed", signed)),
                    None => continue,
                },
                Op::Wait { secs } => {
                    s.chain.advance_time(Duration::from_secs(*secs));
                    continue;
                }
            };
            prop_assert_eq!(result.is_ok(), expected, "{:?}: {:?}", op, result);
            if result.is_err() {
                prop_assert_eq!(&s.chain.storage(s.token), &before, "refused {:?} changed storage", op);
            }
            let info = s.info(t);
            let balances = s.balances(t);
            let sum: u128 = balances.iter().map(|(_, b)| b).sum();
            prop_assert_eq!(info.supply, sum);
            prop_assert!(info.supply <= MAX_SUPPLY);
            prop_assert_eq!(info.supply, m.supply);
            for k in 1..=HOLDERS {
                prop_assert_eq!(s.balance(t, holder(k)), m.balances[k as usize]);
            }
            prop_assert!(balances.iter().all(|(_, b)| *b > 0), "zero balances are deleted");
        }
    }
}
