//! The registry contract through the testkit: ownership, paging, events and signed registration.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use ed25519_dalek::{Signer, SigningKey};
use weft_contract_registry::Entry;
use weft_testkit::{Address, Chain, ContractId, build_contract};

fn setup() -> (Chain, ContractId) {
    let wasm = build_contract(env!("CARGO_MANIFEST_DIR"));
    eprintln!("registry.wasm is {} bytes", wasm.len());
    let mut chain = Chain::new();
    let deployer = chain.account("deployer");
    let registry = chain.deploy(deployer, &wasm, &()).contract();
    (chain, registry)
}

#[test]
fn register_update_transfer_release() {
    let (mut chain, registry) = setup();
    let (alice, bob) = (chain.account("alice"), chain.account("bob"));
    let receipt = chain.call(
        alice,
        registry,
        "register",
        &("shop.example".to_string(), b"v1".to_vec()),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(
        receipt.events_of::<(String, Address)>("registered"),
        vec![("shop.example".to_string(), alice)]
    );

    let receipt = chain.call(
        bob,
        registry,
        "register",
        &("shop.example".to_string(), b"mine".to_vec()),
    );
    assert_eq!(
        receipt.error_message(),
        "contract aborted: name \"shop.example\" is already registered"
    );
    let receipt = chain.call(
        bob,
        registry,
        "update",
        &("shop.example".to_string(), b"x".to_vec()),
    );
    assert_eq!(
        receipt.error_message(),
        "contract aborted: only the owner of \"shop.example\" may update it"
    );

    chain.advance_blocks(3);
    assert!(
        chain
            .call(
                alice,
                registry,
                "update",
                &("shop.example".to_string(), b"v2".to_vec())
            )
            .is_success()
    );
    let entry: Option<Entry> = chain
        .view(registry, "get", &("shop.example".to_string(),))
        .unwrap();
    assert_eq!(
        entry,
        Some(Entry {
            owner: alice,
            value: b"v2".to_vec(),
            updated_at: chain.height()
        })
    );

    assert!(
        chain
            .call(
                alice,
                registry,
                "transfer",
                &("shop.example".to_string(), bob)
            )
            .is_success()
    );
    assert!(
        !chain
            .call(alice, registry, "release", &("shop.example".to_string(),))
            .is_success()
    );
    assert!(
        chain
            .call(bob, registry, "release", &("shop.example".to_string(),))
            .is_success()
    );
    assert_eq!(chain.view::<u64>(registry, "count", &()).unwrap(), 0);
    assert_eq!(
        chain
            .view::<Option<Entry>>(registry, "get", &("shop.example".to_string(),))
            .unwrap(),
        None
    );
}

#[test]
fn list_pages_in_name_order() {
    let (mut chain, registry) = setup();
    let alice = chain.account("alice");
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        assert!(
            chain
                .call(alice, registry, "register", &(name.to_string(), vec![1u8]))
                .is_success()
        );
    }
    let names = |page: Vec<(String, Entry)>| page.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let first: Vec<(String, Entry)> = chain
        .view(registry, "list", &(None::<String>, 2u32))
        .unwrap();
    assert_eq!(names(first), ["alpha", "bravo"]);
    let next: Vec<(String, Entry)> = chain
        .view(registry, "list", &(Some("bravo".to_string()), 10u32))
        .unwrap();
    assert_eq!(names(next), ["charlie", "delta", "echo"]);
    assert_eq!(chain.view::<u64>(registry, "count", &()).unwrap(), 5);
}

#[test]
fn signed_registration_checks_the_signature_in_the_host() {
    let (mut chain, registry) = setup();
    let relayer = chain.account("relayer");
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let (name, value) = ("meter-0042".to_string(), b"reading endpoint".to_vec());
    let mut message = name.as_bytes().to_vec();
    message.extend_from_slice(&value);
    let digest = blake3::hash(&message);
    let signature = key.sign(digest.as_bytes()).to_bytes().to_vec();
    let public_key = key.verifying_key().to_bytes();

    let mut forged = signature.clone();
    forged[0] ^= 1;
    let receipt = chain.call(
        relayer,
        registry,
        "register_signed",
        &(name.clone(), value.clone(), public_key, forged),
    );
    assert_eq!(
        receipt.error_message(),
        "contract aborted: the signature does not match name, value and key"
    );

    let receipt = chain.call(
        relayer,
        registry,
        "register_signed",
        &(name.clone(), value.clone(), public_key, signature),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    assert!(
        receipt.gas_used > 50_000,
        "signature verification is priced: {}",
        receipt.gas_used
    );
    let entry: Option<Entry> = chain.view(registry, "get", &(name,)).unwrap();
    assert_eq!(entry.unwrap().owner, Address(public_key));
}
