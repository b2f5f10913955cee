//! The identity contract through the testkit: creation, updates by keys and by controllers,
//! relayed updates, replay, deactivation, versions and limits. Every refused change is checked to
//! leave storage exactly as it was.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use ed25519_dalek::{Signer, SigningKey};
use std::time::Duration;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{
    self, AUTHENTICATION, CAPABILITY_INVOCATION, Controller, DidId, DidRecord, DidVersion,
    Document, KEY_AGREEMENT, KeyType, Op, Proposal, Service, ServiceEndpoint, VerificationMethod,
};

const CHAIN: &str = "weft-test";

struct Setup {
    chain: Chain,
    identity: ContractId,
}

fn setup() -> Setup {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    eprintln!("identity.wasm is {} bytes", wasm.len());
    let mut chain = Chain::new();
    let deployer = chain.account("deployer");
    let receipt = chain.deploy(deployer, &wasm, &(CHAIN.to_string(),));
    assert!(receipt.is_success(), "{receipt:?}");
    Setup {
        identity: receipt.contract(),
        chain,
    }
}

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn account(key: &SigningKey) -> Address {
    Address(key.verifying_key().to_bytes())
}

fn method(fragment: &str, key: &SigningKey, relationships: u8) -> VerificationMethod {
    VerificationMethod::ed25519(fragment, key.verifying_key().to_bytes(), relationships)
}

fn document(key: &SigningKey) -> Document {
    Document {
        methods: vec![method("key-1", key, AUTHENTICATION | CAPABILITY_INVOCATION)],
        ..Document::default()
    }
}

fn sign(key: &SigningKey, message: weft_types::Hash32) -> [u8; 64] {
    key.sign(&message.0).to_bytes()
}

impl Setup {
    fn create(&mut self, sender: Address, document: &Document) -> DidId {
        let receipt = self
            .chain
            .call(sender, self.identity, "create", &(document.clone(),));
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn resolve(&self, did: DidId, version: Option<u32>) -> Option<(DidRecord, DidVersion)> {
        self.chain
            .view(self.identity, "resolve", &(did, version))
            .unwrap()
    }

    fn current(&self, did: DidId) -> (DidRecord, DidVersion) {
        self.resolve(did, None).unwrap()
    }

    /// Calls `method` expecting a refusal with `expected` in its message, and checks that
    /// storage did not change.
    fn refused(
        &mut self,
        sender: Address,
        method: &str,
        args: &impl weft_sdk::borsh::BorshSerialize,
        expected: &str,
    ) {
        let before = self.chain.storage(self.identity);
        let receipt = self.chain.call(sender, self.identity, method, args);
        let message = receipt.error_message();
        assert!(
            message.contains(expected),
            "{method}: expected an error containing {expected:?}, got {message:?}"
        );
        assert_eq!(
            self.chain.storage(self.identity),
            before,
            "{method} was refused but changed storage"
        );
    }
}

#[test]
fn create_derives_ids_from_the_creator_and_keeps_every_version() {
    let mut s = setup();
    let alice = signing_key(1);
    let did = s.create(account(&alice), &document(&alice));
    assert_eq!(did, DidId::derive(&account(&alice), 0));
    let second = s.create(account(&alice), &document(&alice));
    assert_eq!(second, DidId::derive(&account(&alice), 1));
    let created: u64 = s
        .chain
        .view(s.identity, "created_by", &(account(&alice),))
        .unwrap();
    assert_eq!(created, 2);

    let (record, v1) = s.current(did);
    assert_eq!(record.version, 1);
    assert_eq!(record.creator, account(&alice));
    assert_eq!(v1.document, document(&alice));
    assert_eq!(v1.time_ms, s.chain.time_ms());

    // The storage keys a client asks proofs for are the contract's own.
    let keys: Vec<Vec<u8>> = s
        .chain
        .storage(s.identity)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.contains(&did::storage::record_key(&did)));
    assert!(keys.contains(&did::storage::version_key(&did, 1)));

    s.chain.advance_time(Duration::from_secs(60));
    let service = Service {
        fragment: "shop".into(),
        types: vec!["LinkedDomains".into()],
        endpoint: ServiceEndpoint::Uri("https://shop.example".into()),
    };
    let receipt = s.chain.call(
        account(&alice),
        s.identity,
        "update",
        &(did, 1u32, vec![Op::AddService(service.clone())]),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(receipt.value::<u32>(), 2);
    assert_eq!(
        receipt.events_of::<(DidId, u32)>("did_updated"),
        vec![(did, 2)]
    );

    let (_, old) = s.resolve(did, Some(1)).unwrap();
    assert!(old.document.services.is_empty());
    let (record, new) = s.current(did);
    assert_eq!(
        (record.version, new.document.services.clone()),
        (2, vec![service])
    );
    // Resolution by time: before creation, between the versions, after the update.
    let at = |t: u64| -> Option<u32> { s.chain.view(s.identity, "version_at", &(did, t)).unwrap() };
    assert_eq!(at(v1.time_ms - 1), None);
    assert_eq!(at(v1.time_ms), Some(1));
    assert_eq!(at(new.time_ms - 1), Some(1));
    assert_eq!(at(new.time_ms), Some(2));
    assert_eq!(at(u64::MAX), Some(2));
    assert_eq!(s.resolve(did, Some(3)), None);
}

#[test]
fn unauthorized_updates_are_refused_and_change_nothing() {
    let mut s = setup();
    let (alice, mallory) = (signing_key(1), signing_key(2));
    let did = s.create(account(&alice), &document(&alice));
    let add_mallory = vec![Op::AddMethod(method(
        "evil",
        &mallory,
        CAPABILITY_INVOCATION,
    ))];

    // The wrong key.
    s.refused(
        account(&mallory),
        "update",
        &(did, 1u32, add_mallory.clone()),
        "is not a capabilityInvocation key of did:weft:weft-test:",
    );
    // An authentication-only key is not enough.
    let auth_only = signing_key(3);
    let receipt = s.chain.call(
        account(&alice),
        s.identity,
        "update",
        &(
            did,
            1u32,
            vec![Op::AddMethod(method("login", &auth_only, AUTHENTICATION))],
        ),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    s.refused(
        account(&auth_only),
        "update",
        &(did, 2u32, add_mallory.clone()),
        "is not a capabilityInvocation key",
    );
    // A stale version.
    s.refused(
        account(&alice),
        "update",
        &(did, 1u32, add_mallory.clone()),
        "is at version 2, not 1",
    );
    // A removed key: rotate key-1 to key-2 in one update, then key-1 is powerless.
    let bob = signing_key(4);
    let rotate = vec![
        Op::AddMethod(method("key-2", &bob, CAPABILITY_INVOCATION)),
        Op::RemoveMethod("key-1".into()),
    ];
    assert!(
        s.chain
            .call(account(&alice), s.identity, "update", &(did, 2u32, rotate))
            .is_success()
    );
    s.refused(
        account(&alice),
        "update",
        &(did, 3u32, add_mallory.clone()),
        "is not a capabilityInvocation key",
    );
    // Removing the last capabilityInvocation key would lock the DID.
    s.refused(
        account(&bob),
        "update",
        &(did, 3u32, vec![Op::RemoveMethod("key-2".into())]),
        "nobody could update it",
    );
    // An X25519 key outside keyAgreement, a fragment in use, a method that does not exist.
    let x25519 = VerificationMethod {
        key_type: KeyType::X25519,
        ..method("enc", &bob, AUTHENTICATION)
    };
    s.refused(
        account(&bob),
        "update",
        &(did, 3u32, vec![Op::AddMethod(x25519.clone())]),
        "operation 0: method #enc: an X25519 key serves only keyAgreement",
    );
    s.refused(
        account(&bob),
        "update",
        &(
            did,
            3u32,
            vec![Op::AddMethod(method("key-2", &bob, AUTHENTICATION))],
        ),
        "operation 0: fragment #key-2 is already in use",
    );
    s.refused(
        account(&bob),
        "update",
        &(did, 3u32, vec![Op::RemoveMethod("key-9".into())]),
        "operation 0: there is no method #key-9",
    );
    let agreement = VerificationMethod {
        relationships: KEY_AGREEMENT,
        ..x25519
    };
    assert!(
        s.chain
            .call(
                account(&bob),
                s.identity,
                "update",
                &(did, 3u32, vec![Op::AddMethod(agreement)])
            )
            .is_success()
    );
    // A DID that does not exist.
    s.refused(
        account(&bob),
        "update",
        &(DidId([9; 32]), 1u32, add_mallory),
        "does not exist",
    );
}

#[test]
fn relayed_updates_are_signed_by_the_key_and_cannot_be_replayed() {
    let mut s = setup();
    let device = signing_key(1);
    let relayer = s.chain.account("relayer");

    // A device without an account creates its DID through a relayer.
    let doc = document(&device);
    let message = did::create_message(CHAIN, &device.verifying_key().to_bytes(), 0, &doc);
    let signature = sign(&device, message);
    let args = (doc.clone(), device.verifying_key().to_bytes(), signature);
    let receipt = s.chain.call(relayer, s.identity, "create_signed", &args);
    assert!(receipt.is_success(), "{receipt:?}");
    let did: DidId = receipt.value();
    assert_eq!(did, DidId::derive(&account(&device), 0));
    // The same creation again: the counter moved on, the signature no longer matches.
    s.refused(
        relayer,
        "create_signed",
        &args,
        "the signature does not verify",
    );

    let ops = vec![Op::SetAlsoKnownAs(vec!["https://meter-17.example".into()])];
    let signature = sign(&device, did::update_message(CHAIN, &did, 1, &ops));
    let args = (
        did,
        1u32,
        ops.clone(),
        device.verifying_key().to_bytes(),
        signature,
    );
    assert!(
        s.chain
            .call(relayer, s.identity, "update_signed", &args)
            .is_success()
    );
    assert_eq!(s.current(did).0.version, 2);
    // Replayed: refused by version.
    s.refused(relayer, "update_signed", &args, "is at version 2, not 1");
    // Signed for another chain: refused by signature.
    let signature = sign(&device, did::update_message("other-chain", &did, 2, &ops));
    s.refused(
        relayer,
        "update_signed",
        &(
            did,
            2u32,
            ops.clone(),
            device.verifying_key().to_bytes(),
            signature,
        ),
        "the signature does not verify",
    );
    // Signed by a key that is not the DID's.
    let stranger = signing_key(7);
    let signature = sign(&stranger, did::update_message(CHAIN, &did, 2, &ops));
    s.refused(
        relayer,
        "update_signed",
        &(
            did,
            2u32,
            ops,
            stranger.verifying_key().to_bytes(),
            signature,
        ),
        "is not a capabilityInvocation key",
    );
}

#[test]
fn controllers_reach_an_update_exactly_at_the_threshold() {
    let mut s = setup();
    let keys: Vec<SigningKey> = (1..=4).map(signing_key).collect();
    let controllers: Vec<DidId> = keys[..3]
        .iter()
        .map(|k| s.create(account(k), &document(k)))
        .collect();
    // An organisation whose DID only its controllers can change: weights 1, 1, 2; threshold 2.
    let org_doc = Document {
        methods: vec![method("sign", &keys[3], AUTHENTICATION)],
        controllers: vec![
            Controller {
                did: controllers[0],
                weight: 1,
            },
            Controller {
                did: controllers[1],
                weight: 1,
            },
            Controller {
                did: controllers[2],
                weight: 2,
            },
        ],
        threshold: 2,
        ..Document::default()
    };
    let org = s.create(account(&keys[3]), &org_doc);
    let ops = vec![Op::SetAlsoKnownAs(vec!["https://org.example".into()])];

    // Controller A (weight 1) proposes: below the threshold, nothing changes yet.
    let receipt = s.chain.call(
        account(&keys[0]),
        s.identity,
        "propose",
        &(org, controllers[0], 1u32, ops.clone()),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(receipt.value::<(u32, bool)>(), (0, false));
    assert_eq!(s.current(org).0.version, 1);
    let content = did::proposal_hash(1, &ops);
    // An approval of other content (what a lying proposer described): refused.
    s.refused(
        account(&keys[1]),
        "approve",
        &(
            org,
            controllers[1],
            0u32,
            did::proposal_hash(1, &[Op::Deactivate]),
        ),
        "is not the content this approval was made for",
    );
    // A again: refused.
    s.refused(
        account(&keys[0]),
        "approve",
        &(org, controllers[0], 0u32, content),
        "has already approved proposal 0",
    );
    // Someone holding no controller key, and a key of B acting as A: refused.
    s.refused(
        account(&keys[3]),
        "approve",
        &(org, controllers[0], 0u32, content),
        "is not a capabilityInvocation key",
    );
    s.refused(
        account(&keys[1]),
        "approve",
        &(org, controllers[0], 0u32, content),
        "is not a capabilityInvocation key",
    );
    // B (weight 1) approves, relayed: 1 + 1 = 2 meets the threshold; the change applies.
    let relayer = s.chain.account("relayer");
    let signature = sign(
        &keys[1],
        did::approve_message(CHAIN, &org, &controllers[1], 0, &content),
    );
    let receipt = s.chain.call(
        relayer,
        s.identity,
        "approve_signed",
        &(
            org,
            controllers[1],
            0u32,
            content,
            keys[1].verifying_key().to_bytes(),
            signature,
        ),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert!(receipt.value::<bool>());
    let (record, current) = s.current(org);
    assert_eq!(record.version, 2);
    assert_eq!(
        current.document.also_known_as,
        vec!["https://org.example".to_string()]
    );
    let open: Option<Proposal> = s.chain.view(s.identity, "proposal", &(org, 0u32)).unwrap();
    assert_eq!(open, None);
    // The same relayed approval again: the proposal is gone.
    s.refused(
        relayer,
        "approve_signed",
        &(
            org,
            controllers[1],
            0u32,
            content,
            keys[1].verifying_key().to_bytes(),
            signature,
        ),
        "has no open proposal 0",
    );

    // C (weight 2) alone meets the threshold when proposing.
    let ops = vec![Op::SetAlsoKnownAs(vec![])];
    let receipt = s.chain.call(
        account(&keys[2]),
        s.identity,
        "propose",
        &(org, controllers[2], 2u32, ops),
    );
    assert_eq!(receipt.value::<(u32, bool)>(), (1, true));
    assert_eq!(s.current(org).0.version, 3);

    // A proposal lapses when the DID changes before it applies.
    let receipt = s.chain.call(
        account(&keys[0]),
        s.identity,
        "propose",
        &(org, controllers[0], 3u32, vec![Op::Deactivate]),
    );
    assert_eq!(receipt.value::<(u32, bool)>(), (2, false));
    let receipt = s.chain.call(
        account(&keys[2]),
        s.identity,
        "propose",
        &(
            org,
            controllers[2],
            3u32,
            vec![Op::SetAlsoKnownAs(vec!["https://new.example".into()])],
        ),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    s.refused(
        account(&keys[1]),
        "approve",
        &(
            org,
            controllers[1],
            2u32,
            did::proposal_hash(3, &[Op::Deactivate]),
        ),
        "proposal 2 was made for version 3 and lapsed",
    );
    // The DID's own authentication-only key is no update key; a non-controller cannot propose.
    s.refused(
        account(&keys[3]),
        "update",
        &(org, 4u32, vec![Op::SetAlsoKnownAs(vec![])]),
        "is not a capabilityInvocation key",
    );
    let outsider = signing_key(9);
    let outsider_did = s.create(account(&outsider), &document(&outsider));
    s.refused(
        account(&outsider),
        "propose",
        &(org, outsider_did, 4u32, vec![Op::SetAlsoKnownAs(vec![])]),
        "is not a controller of",
    );
    // Controllers must exist and not be the DID itself.
    s.refused(
        account(&keys[2]),
        "propose",
        &(
            org,
            controllers[2],
            4u32,
            vec![Op::SetControllers {
                controllers: vec![Controller {
                    did: DidId([5; 32]),
                    weight: 1,
                }],
                threshold: 1,
            }],
        ),
        "does not exist on this chain",
    );
    s.refused(
        account(&keys[2]),
        "propose",
        &(
            org,
            controllers[2],
            4u32,
            vec![Op::SetControllers {
                controllers: vec![Controller {
                    did: org,
                    weight: 1,
                }],
                threshold: 1,
            }],
        ),
        "cannot be its own controller",
    );
}

#[test]
fn a_deactivated_controllers_approval_no_longer_counts() {
    let mut s = setup();
    let keys: Vec<SigningKey> = (1..=3).map(signing_key).collect();
    let controllers: Vec<DidId> = keys[..2]
        .iter()
        .map(|k| s.create(account(k), &document(k)))
        .collect();
    let org_doc = Document {
        methods: vec![method("sign", &keys[2], AUTHENTICATION)],
        controllers: controllers
            .iter()
            .map(|c| Controller { did: *c, weight: 1 })
            .collect(),
        threshold: 2,
        ..Document::default()
    };
    let org = s.create(account(&keys[2]), &org_doc);
    let ops = vec![Op::SetAlsoKnownAs(vec!["https://evil.example".into()])];
    // A (compromised) proposes; A's owner then deactivates A.
    let receipt = s.chain.call(
        account(&keys[0]),
        s.identity,
        "propose",
        &(org, controllers[0], 1u32, ops.clone()),
    );
    assert_eq!(receipt.value::<(u32, bool)>(), (0, false));
    let receipt = s.chain.call(
        account(&keys[0]),
        s.identity,
        "update",
        &(controllers[0], 1u32, vec![Op::Deactivate]),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    // B's approval alone (weight 1 of 2) does not apply the change.
    let receipt = s.chain.call(
        account(&keys[1]),
        s.identity,
        "approve",
        &(org, controllers[1], 0u32, did::proposal_hash(1, &ops)),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert!(!receipt.value::<bool>());
    assert_eq!(s.current(org).0.version, 1);
}

#[test]
fn deactivation_is_final_and_stays_resolvable() {
    let mut s = setup();
    let alice = signing_key(1);
    let did = s.create(account(&alice), &document(&alice));
    s.refused(
        account(&alice),
        "update",
        &(did, 1u32, vec![Op::Deactivate, Op::SetAlsoKnownAs(vec![])]),
        "must be the only operation",
    );
    let receipt = s.chain.call(
        account(&alice),
        s.identity,
        "update",
        &(did, 1u32, vec![Op::Deactivate]),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(
        receipt.events_of::<(DidId, u32)>("did_deactivated"),
        vec![(did, 2)]
    );
    let (record, last) = s.current(did);
    assert!(record.deactivated && last.deactivated);
    assert_eq!(last.document, document(&alice));
    s.refused(
        account(&alice),
        "update",
        &(did, 2u32, vec![Op::SetAlsoKnownAs(vec![])]),
        "is deactivated; deactivation is final",
    );
    // A deactivated DID cannot become anyone's controller.
    let bob = signing_key(2);
    let mut doc = document(&bob);
    doc.controllers = vec![Controller { did, weight: 1 }];
    doc.threshold = 1;
    s.refused(account(&bob), "create", &(doc,), "is deactivated");
}

#[test]
fn limits_are_enforced_with_precise_errors() {
    let mut s = setup();
    let alice = signing_key(1);
    let mut doc = document(&alice);
    for i in 0..did::MAX_METHODS {
        doc.methods
            .push(method(&format!("k{i}"), &alice, AUTHENTICATION));
    }
    s.refused(
        account(&alice),
        "create",
        &(doc,),
        "a document has at most 32 verification methods, this one 33",
    );
    let mut doc = document(&alice);
    doc.services.push(Service {
        fragment: "s".into(),
        types: vec!["LinkedDomains".into()],
        endpoint: ServiceEndpoint::Uri(format!("https://{}", "a".repeat(600))),
    });
    s.refused(
        account(&alice),
        "create",
        &(doc,),
        "service #s: endpoint has 608 bytes; at most 512 are allowed",
    );
    let mut doc = document(&alice);
    doc.methods[0].fragment = "key 1".into();
    s.refused(
        account(&alice),
        "create",
        &(doc,),
        "fragment `key 1` has ' '",
    );
    let mut doc = document(&alice);
    doc.services = (0..20)
        .map(|i| Service {
            fragment: format!("s{i}"),
            types: vec!["LinkedDomains".into()],
            endpoint: ServiceEndpoint::Set(
                (0..8)
                    .map(|j| format!("https://{j}.{}", "b".repeat(100)))
                    .collect(),
            ),
        })
        .collect();
    s.refused(
        account(&alice),
        "create",
        &(doc,),
        "bytes; at most 16384 are allowed",
    );
}
