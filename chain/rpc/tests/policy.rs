//! `policy_decide` over the real node: a device grants `open` to technicians certified by an
//! issuer; the node verifies the presented credential, and a revoked one counts for nothing.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{CHAIN, TestNode, signer};
use serde_json::{Value, json};
use weft_client::credentials::Issuer;
use weft_client::json::Status;
use weft_credentials::Format;
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Controller, Did, DidId, Document, Op,
    VerificationMethod,
};
use weft_types::policy::{Effect, Policy, Rule, Subject};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::{ContractId, Keypair};

async fn create_did(http: &weft_client::Client, seed: u8) -> (String, DidId) {
    let key = Keypair::from_seed([seed; 32]);
    let mut s = signer(http, seed).await;
    let document = Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    };
    let receipt = http
        .send_and_wait(&weft_client::did::tx::create(&mut s, &document))
        .await
        .unwrap();
    assert_eq!(receipt.status, Status::Success, "{receipt:?}");
    let id = DidId::derive(&key.public_key().address(), 0);
    (Did::new(CHAIN, id).to_string(), id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_decides_on_verified_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let (_owner, owner_id) = create_did(&http, 1).await;
    let (device, device_id) = create_did(&http, 2).await;
    let (acme, _) = create_did(&http, 3).await;
    let (tech, _) = create_did(&http, 4).await;
    // The owner controls the device's DID and sets its policy.
    let mut device_signer = signer(&http, 2).await;
    let ops = vec![Op::SetControllers {
        controllers: vec![Controller {
            did: owner_id,
            weight: 1,
        }],
        threshold: 1,
    }];
    let r = http
        .send_and_wait(&weft_client::did::tx::update(
            &mut device_signer,
            &device_id,
            1,
            &ops,
        ))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{r:?}");
    let policy = Policy {
        rules: vec![Rule {
            effect: Effect::Grant,
            actions: vec!["open".into()],
            subject: Subject::Credential {
                credential_type: "EmployeeCredential".into(),
                issuer: Some(acme.clone()),
                claims: vec![("role".into(), "Technician".into())],
            },
            conditions: Vec::new(),
            obligations: vec!["log-access".into()],
        }],
    };
    let mut owner_signer = signer(&http, 1).await;
    let set = weft_client::policy::set(&mut owner_signer, &owner_id, &device_id, &policy);
    let r = http.send_and_wait(&set).await.unwrap();
    assert_eq!(r.status, Status::Success, "{r:?}");

    // Acme certifies the technician, with a revocation entry.
    let mut acme_issuer = Issuer::new(
        &http,
        Keypair::from_seed([3; 32]),
        &acme,
        "key-1",
        &node.http(),
    )
    .await
    .unwrap();
    let list = acme_issuer
        .create_list(ListSpec {
            purpose: Purpose::Revocation,
            entries: MIN_ENTRIES,
            status_size: 1,
            messages: Vec::new(),
        })
        .await
        .unwrap();
    let credential = acme_issuer
        .issue(
            json!({
                "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/undefined-terms/v2"],
                "type": ["VerifiableCredential", "EmployeeCredential"],
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": tech, "role": "Technician"}
            }),
            &Format::Jose,
            &[(Purpose::Revocation, list)],
        )
        .await
        .unwrap();
    let ask = |credentials: Vec<Value>| json!({"device": device, "action": "open", "subject": tech, "credentials": credentials});
    let answer: Value = http
        .request("policy_decide", ask(vec![credential.clone()]))
        .await
        .unwrap();
    assert_eq!(answer["outcome"], "grant", "{answer:#}");
    assert_eq!(answer["permitted"], true);
    assert_eq!(answer["obligations"], json!(["log-access"]));
    // The policy comes with its proof.
    let proof: weft_client::json::StatesResult =
        serde_json::from_value(answer["proof"].clone()).unwrap();
    let key = weft_types::policy::storage::policy_key(&device_id);
    let value = weft_client::verify_state(
        &proof.entries[0],
        &ContractId::system("policy"),
        &key,
        &proof.state_root,
    )
    .unwrap()
    .unwrap();
    assert!(borsh::from_slice::<Policy>(&value).is_ok());

    // Without the credential, or with it revoked, nothing lets the technician in.
    let answer: Value = http.request("policy_decide", ask(vec![])).await.unwrap();
    assert_eq!(
        (answer["outcome"].as_str(), answer["permitted"].as_bool()),
        (Some("undefined"), Some(false))
    );
    acme_issuer
        .change(list, &[Change { index: 0, value: 1 }])
        .await
        .unwrap();
    let answer: Value = http
        .request("policy_decide", ask(vec![credential]))
        .await
        .unwrap();
    assert_eq!(answer["permitted"], false, "{answer:#}");
    assert_eq!(
        answer["refusedCredentials"][0]["reasons"],
        json!(["REVOKED"])
    );
    node.stop().await;
}
