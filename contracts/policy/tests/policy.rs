//! The policy contract through the testkit, next to the real identity contract: only a device's
//! owner sets its policy, and the on-chain decision is the shared one.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Controller, DidId, Document, Op,
    VerificationMethod,
};
use weft_types::policy::{Decision, Effect, Outcome, Policy, Request, Rule, Subject};

fn key(seed: u8) -> Address {
    Address([seed; 32])
}

fn did(chain: &mut Chain, seed: u8) -> DidId {
    let document = Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            [seed; 32],
            AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    };
    let receipt = chain.call(
        key(seed),
        ContractId::system("identity"),
        "create",
        &(document,),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    receipt.value()
}

#[test]
fn only_the_owner_sets_a_policy_and_decisions_follow_it() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut chain = Chain::new();
    let args = ("weft-test".to_string(),);
    assert!(
        chain
            .install_system("identity", &build_contract(here.join("../identity")), &args)
            .is_success()
    );
    assert!(
        chain
            .install_system("policy", &build_contract(here), &args)
            .is_success()
    );
    let contract = ContractId::system("policy");
    let (owner, device, tech, stranger) = (
        did(&mut chain, 1),
        did(&mut chain, 2),
        did(&mut chain, 3),
        did(&mut chain, 4),
    );
    // The device's DID names its owner as controller.
    let ops = vec![Op::SetControllers {
        controllers: vec![Controller {
            did: owner,
            weight: 1,
        }],
        threshold: 1,
    }];
    let receipt = chain.call(
        key(2),
        ContractId::system("identity"),
        "update",
        &(device, 1u32, ops),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    let policy = Policy {
        rules: vec![Rule {
            effect: Effect::Grant,
            actions: vec!["open".into()],
            subject: Subject::Did(tech),
            conditions: Vec::new(),
            obligations: vec!["log-access".into()],
        }],
    };
    // Not the owner; the owner's DID with another key.
    let receipt = chain.call(key(4), contract, "set", &(stranger, device, policy.clone()));
    assert!(
        receipt.error_message().contains("does not own"),
        "{receipt:?}"
    );
    let receipt = chain.call(key(4), contract, "set", &(owner, device, policy.clone()));
    assert!(
        receipt
            .error_message()
            .contains("not an assertionMethod key"),
        "{receipt:?}"
    );
    let receipt = chain.call(key(1), contract, "set", &(owner, device, policy.clone()));
    assert!(receipt.is_success(), "{receipt:?}");

    let ask = |subject| Request {
        action: "open".into(),
        subject,
        credentials: Vec::new(),
        now_ms: 0,
    };
    let granted: Decision = chain
        .view(contract, "decide", &(device, ask(tech)))
        .unwrap();
    assert_eq!(granted.outcome, Outcome::Grant);
    assert_eq!(granted.obligations, ["log-access"]);
    let refused: Decision = chain
        .view(contract, "decide", &(device, ask(stranger)))
        .unwrap();
    assert_eq!(refused.outcome, Outcome::Undefined);
    assert!(!refused.outcome.permits());
    let none: Decision = chain.view(contract, "decide", &(tech, ask(tech))).unwrap();
    assert_eq!(
        none.outcome,
        Outcome::Undefined,
        "a device without a policy lets nothing through"
    );
    // The device records the access it granted.
    let receipt = chain.call(
        key(2),
        contract,
        "record",
        &(
            device,
            device,
            tech,
            "open".to_string(),
            Outcome::Grant,
            vec!["log-access".to_string()],
        ),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(receipt.value::<u64>(), 1);
}
