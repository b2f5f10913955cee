//! The status contract through the testkit, next to the real identity contract: lists, allocation,
//! revocation (final), suspension, messages, who may change a list, and concurrent changes.
//! Every refused change is checked to leave storage exactly as it was.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, Op,
    VerificationMethod,
};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Published, Purpose, StatusList};

const CHAIN: &str = "weft-test";

struct Setup {
    chain: Chain,
    status: ContractId,
    identity: ContractId,
}

fn key(seed: u8) -> Address {
    // The status contract compares the sender with document keys; accounts are public keys.
    Address([seed; 32])
}

fn setup() -> Setup {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut chain = Chain::new();
    let identity = build_contract(here.join("../identity"));
    let status = build_contract(here);
    let args = (CHAIN.to_string(),);
    assert!(
        chain
            .install_system("identity", &identity, &args)
            .is_success()
    );
    let receipt = chain.install_system("status", &status, &args);
    assert!(receipt.is_success(), "{receipt:?}");
    Setup {
        chain,
        status: ContractId::system("status"),
        identity: ContractId::system("identity"),
    }
}

fn published(version: u32) -> Published {
    Published {
        version,
        media_type: "application/vc".into(),
        credential: format!("{{\"version\":{version}}}").into_bytes(),
    }
}

fn spec(purpose: Purpose) -> ListSpec {
    ListSpec {
        purpose,
        entries: MIN_ENTRIES,
        status_size: 1,
        messages: Vec::new(),
    }
}

impl Setup {
    /// A DID whose key `seed` is an assertionMethod key (and its invocation key).
    fn issuer(&mut self, seed: u8) -> DidId {
        let document = Document {
            methods: vec![VerificationMethod::ed25519(
                "key-1",
                [seed; 32],
                AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
            )],
            ..Document::default()
        };
        let receipt = self
            .chain
            .call(key(seed), self.identity, "create", &(document,));
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn create(&mut self, sender: Address, issuer: DidId, spec: ListSpec) -> u32 {
        let number: u32 = self
            .chain
            .view(self.status, "lists_of", &(issuer,))
            .unwrap();
        let receipt = self.chain.call(
            sender,
            self.status,
            "create",
            &(issuer, number, spec, published(0)),
        );
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn allocate(&mut self, sender: Address, issuer: DidId, list: u32, count: u32) -> u32 {
        let receipt = self
            .chain
            .call(sender, self.status, "allocate", &(issuer, list, count));
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn update(
        &mut self,
        sender: Address,
        issuer: DidId,
        list: u32,
        version: u32,
        changes: &[(u32, u8)],
    ) -> Result<u32, String> {
        let changes: Vec<Change> = changes
            .iter()
            .map(|&(index, value)| Change { index, value })
            .collect();
        let receipt = self.chain.call(
            sender,
            self.status,
            "update",
            &(issuer, list, version, changes, published(version + 1)),
        );
        if receipt.is_success() {
            Ok(receipt.value())
        } else {
            Err(receipt.error_message())
        }
    }

    fn entry(&self, issuer: DidId, list: u32, index: u32) -> u8 {
        self.chain
            .view::<Option<u8>>(self.status, "entry", &(issuer, list, index))
            .unwrap()
            .unwrap()
    }

    fn record(&self, issuer: DidId, list: u32) -> StatusList {
        self.chain
            .view::<Option<StatusList>>(self.status, "list", &(issuer, list))
            .unwrap()
            .unwrap()
    }

    /// Runs `call` expecting a refusal containing `expected`, with storage unchanged.
    fn refused(&mut self, expected: &str, call: impl FnOnce(&mut Self) -> Result<u32, String>) {
        let before = self.chain.storage(self.status);
        let error = call(self).expect_err("the change must be refused");
        assert!(
            error.contains(expected),
            "expected {expected:?} in the refusal, got: {error}"
        );
        assert_eq!(self.chain.storage(self.status), before, "{error}");
    }
}

#[test]
fn an_issuer_revokes_several_entries_in_one_transaction_and_revocation_is_final() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let list = s.create(key(1), issuer, spec(Purpose::Revocation));
    assert_eq!(list, 0);
    assert_eq!(s.allocate(key(1), issuer, list, 100), 0);
    assert_eq!(s.allocate(key(1), issuer, list, 2900), 100);
    assert_eq!(
        s.update(
            key(1),
            issuer,
            list,
            0,
            &[(3, 1), (2047, 1), (2048, 1), (149, 1)]
        ),
        Ok(1)
    );
    for (index, value) in [(3, 1), (4, 0), (2047, 1), (2048, 1), (149, 1), (0, 0)] {
        assert_eq!(s.entry(issuer, list, index), value, "entry {index}");
    }
    s.refused("revocation is final", |s| {
        s.update(key(1), issuer, list, 1, &[(5, 1), (3, 0)])
    });
    s.refused("never allocated", |s| {
        s.update(key(1), issuer, list, 1, &[(3000, 1)])
    });
    // The whole bitstring, as the node serves it: index 0 is the first byte's top bit.
    let bits: Vec<u8> = s
        .chain
        .view::<Option<Vec<u8>>>(s.status, "bits", &(issuer, list))
        .unwrap()
        .unwrap();
    assert_eq!(bits.len(), MIN_ENTRIES as usize / 8);
    assert_eq!(bits[0], 0b0001_0000);
    assert_eq!(bits[255], 1);
    assert_eq!(bits[256], 0x80);
    let published: Option<Published> = s
        .chain
        .view(s.status, "credential", &(issuer, list))
        .unwrap();
    assert_eq!(published.unwrap().version, 1);
}

#[test]
fn suspension_comes_and_goes_and_messages_take_values() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let list = s.create(key(1), issuer, spec(Purpose::Suspension));
    s.allocate(key(1), issuer, list, 10);
    assert_eq!(s.update(key(1), issuer, list, 0, &[(7, 1)]), Ok(1));
    assert_eq!(s.entry(issuer, list, 7), 1);
    assert_eq!(s.update(key(1), issuer, list, 1, &[(7, 0)]), Ok(2));
    assert_eq!(s.entry(issuer, list, 7), 0);

    let messages = ListSpec {
        purpose: Purpose::Message,
        entries: MIN_ENTRIES,
        status_size: 3,
        messages: (0..8).map(|i| format!("stage {i}")).collect(),
    };
    let list = s.create(key(1), issuer, messages);
    assert_eq!(list, 1);
    s.allocate(key(1), issuer, list, 1000);
    // Entry 682 of 3 bits straddles two pages (bits 2046..2049).
    assert_eq!(
        s.update(key(1), issuer, list, 0, &[(682, 5), (0, 7)]),
        Ok(1)
    );
    assert_eq!(s.entry(issuer, list, 682), 5);
    assert_eq!(s.entry(issuer, list, 681), 0);
    assert_eq!(s.entry(issuer, list, 683), 0);
    assert_eq!(s.entry(issuer, list, 0), 7);
    s.refused("does not fit", |s| {
        s.update(key(1), issuer, list, 1, &[(1, 8)])
    });
}

#[test]
fn only_the_issuers_assertion_keys_change_its_lists() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let other = s.issuer(2);
    let list = s.create(key(1), issuer, spec(Purpose::Revocation));
    s.allocate(key(1), issuer, list, 10);
    s.refused("is not an assertionMethod key", |s| {
        s.update(key(2), issuer, list, 0, &[(1, 1)])
    });
    // A key of the issuer's document that is not under assertionMethod cannot either.
    let version = 1;
    let ops = vec![Op::AddMethod(VerificationMethod::ed25519(
        "auth-only",
        [9; 32],
        AUTHENTICATION,
    ))];
    let receipt = s
        .chain
        .call(key(1), s.identity, "update", &(issuer, version, ops));
    assert!(receipt.is_success(), "{receipt:?}");
    s.refused("is not an assertionMethod key", |s| {
        s.update(key(9), issuer, list, 0, &[(1, 1)])
    });
    // Nor can another issuer create lists in its name.
    let receipt = s.chain.call(
        key(2),
        s.status,
        "create",
        &(issuer, 0u32, spec(Purpose::Revocation), published(0)),
    );
    assert!(
        receipt
            .error_message()
            .contains("not an assertionMethod key")
    );
    assert_eq!(s.create(key(2), other, spec(Purpose::Revocation)), 0);
}

#[test]
fn a_change_against_an_old_version_is_refused() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let list = s.create(key(1), issuer, spec(Purpose::Revocation));
    s.allocate(key(1), issuer, list, 10);
    assert_eq!(s.update(key(1), issuer, list, 0, &[(1, 1)]), Ok(1));
    s.refused("is at version 1, not 0", |s| {
        s.update(key(1), issuer, list, 0, &[(2, 1)])
    });
    assert_eq!(s.record(issuer, list).version, 1);
}

#[test]
fn a_deactivated_issuer_changes_nothing() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let list = s.create(key(1), issuer, spec(Purpose::Revocation));
    s.allocate(key(1), issuer, list, 10);
    let receipt = s.chain.call(
        key(1),
        s.identity,
        "update",
        &(issuer, 1u32, vec![Op::Deactivate]),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    s.refused("is deactivated", |s| {
        s.update(key(1), issuer, list, 0, &[(1, 1)])
    });
}

#[test]
fn bad_layouts_and_credentials_are_refused() {
    let mut s = setup();
    let issuer = s.issuer(1);
    let small = ListSpec {
        entries: 1000,
        ..spec(Purpose::Revocation)
    };
    let receipt = s.chain.call(
        key(1),
        s.status,
        "create",
        &(issuer, 0u32, small, published(0)),
    );
    assert!(
        receipt.error_message().contains("at least 131072"),
        "{receipt:?}"
    );
    let bad = Published {
        media_type: "text/plain".into(),
        ..published(0)
    };
    let receipt = s.chain.call(
        key(1),
        s.status,
        "create",
        &(issuer, 0u32, spec(Purpose::Revocation), bad),
    );
    assert!(
        receipt.error_message().contains("application/vc"),
        "{receipt:?}"
    );
    let receipt = s.chain.call(
        key(1),
        s.status,
        "create",
        &(issuer, 3u32, spec(Purpose::Revocation), published(0)),
    );
    assert!(
        receipt
            .error_message()
            .contains("next status list is number 0"),
        "{receipt:?}"
    );
    assert!(
        s.chain
            .storage(s.status)
            .iter()
            .all(|(k, _)| !k.starts_with(b"\x05lists"))
    );
}
