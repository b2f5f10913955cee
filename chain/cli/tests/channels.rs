//! An audit-trail channel on a real `weft dev` devnet: a writer appends sealed entries, a reader
//! revoked at some height keeps what it was given and cannot decrypt anything after, an auditor
//! reads the whole history, and the hash chain read with proofs validates, while a tampered copy
//! fails at the altered entry.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::devnet::devnet;
use weft_channels::AgreementSecret;
use weft_client::channels::{self, Manager, tx};
use weft_client::credentials::CredentialVerifier;
use weft_client::json::{ReceiptJson, Status};
use weft_client::{Client, Signer};
use weft_types::Keypair;
use weft_types::channel::{ChannelSpec, Rights};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, KEY_AGREEMENT,
    KeyFormat, KeyType, VerificationMethod,
};

struct Party {
    signer: Signer,
    did: DidId,
    agreement: AgreementSecret,
}

async fn send(client: &Client, tx: weft_types::SignedTransaction) -> ReceiptJson {
    let receipt = client.send_and_wait(&tx).await.unwrap();
    assert_eq!(receipt.status, Status::Success, "{receipt:?}");
    receipt
}

async fn party(client: &Client, chain: &str, seed: u8) -> Party {
    let key = Keypair::from_seed([seed; 32]);
    let agreement = AgreementSecret::generate();
    let mut signer = Signer::new(Keypair::from_seed([seed; 32]), chain, 0);
    let document = Document {
        methods: vec![
            VerificationMethod::ed25519(
                "key-1",
                key.public_key().0,
                AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
            ),
            VerificationMethod {
                fragment: "key-agreement-1".into(),
                key_type: KeyType::X25519,
                format: KeyFormat::Multikey,
                public_key: agreement.public(),
                relationships: KEY_AGREEMENT,
            },
        ],
        ..Document::default()
    };
    send(client, weft_client::did::tx::create(&mut signer, &document)).await;
    Party {
        signer,
        did: DidId::derive(&key.public_key().address(), 0),
        agreement,
    }
}

async fn wait_anchored(client: &Client, chain: &str) {
    let head = client.chain_info().await.unwrap();
    for _ in 0..600 {
        if client
            .latest_anchor(chain)
            .await
            .unwrap()
            .is_some_and(|a| a.height >= head.height || a.state_root == head.state_root)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("height {} was not anchored in 60 s", head.height);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_reader_cannot_decrypt_later_entries_and_a_tampered_copy_fails() {
    let net = devnet().await;
    let client = Client::connect(&net.rpc).await.unwrap();
    let chain = client.chain_info().await.unwrap().chain_id;
    let genesis = std::fs::read_to_string(net.home.path().join("devnet/genesis.toml")).unwrap();
    let (chain_id, committee) = weft_client::genesis::committee_of_genesis(&genesis).unwrap();
    let verifier = CredentialVerifier::new(chain_id, committee);

    let author = party(&client, &chain, 31).await;
    let reader = party(&client, &chain, 32).await;
    let mut writer = party(&client, &chain, 33).await;
    let auditor = party(&client, &chain, 34).await;
    let did = |p: &Party| weft_types::did::Did::new(chain.clone(), p.did).to_string();

    // A private channel; the author's manager keeps each epoch's secret.
    let spec = ChannelSpec {
        name: "shop security events".into(),
        description: "WAF and login events of the e-shop".into(),
        topics: vec!["security".into()],
        private: true,
    };
    let mut manager = Manager::create(&client, Keypair::from_seed([31; 32]), &did(&author), &spec)
        .await
        .unwrap();
    let id = manager.id();
    // Grants share the keys they cover, wrapped to each reader's keyAgreement key.
    manager
        .authorize(&did(&reader), Rights::Read, None)
        .await
        .unwrap();
    manager
        .authorize(&did(&writer), Rights::Write, None)
        .await
        .unwrap();
    for text in ["login failed for admin", "rate limit hit on /checkout"] {
        channels::write_entry(
            &client,
            &mut writer.signer,
            &id,
            &writer.did,
            "security-event",
            &format!("{{\"summary\":\"{}\"}}", &text[..5]),
            b"",
            text.as_bytes(),
        )
        .await
        .unwrap();
    }
    // The reader is revoked: the manager starts epoch 1 without it.
    manager.revoke(&did(&reader)).await.unwrap();
    let revoked_at = client.chain_info().await.unwrap().height;
    assert_eq!(manager.secrets().len(), 2);
    for text in ["new admin account created", "payment webhook replayed"] {
        channels::write_entry(
            &client,
            &mut writer.signer,
            &id,
            &writer.did,
            "security-event",
            &format!("{{\"summary\":\"{}\"}}", &text[..5]),
            b"",
            text.as_bytes(),
        )
        .await
        .unwrap();
    }
    // The auditor reads the whole history: every epoch's key.
    manager
        .authorize(&did(&auditor), Rights::Audit, None)
        .await
        .unwrap();
    // Nobody changes their own rights: the contract refuses, with its reason.
    let mut own = Signer::new(Keypair::from_seed([32; 32]), &chain, 1);
    let receipt = client
        .send_and_wait(&tx::authorize(
            &mut own,
            &id,
            &reader.did,
            &reader.did,
            Rights::Audit,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(receipt.status, Status::Failure);
    assert!(
        receipt
            .error
            .unwrap()
            .contains("neither the author nor an admin")
    );
    wait_anchored(&client, &chain).await;

    // Read with proofs; the chain validates against the proven head.
    let proven = channels::read_channel(&client, &verifier, &id)
        .await
        .unwrap();
    assert_eq!(proven.entries.len(), 4);
    weft_channels::validate(&proven.entries, &proven.channel.head).unwrap();
    assert!(proven.entries[2].height >= revoked_at);

    let keys = channels::read_keys(&client, &verifier, &id, &reader.did, proven.height)
        .await
        .unwrap();
    let read = channels::decrypt(&proven, &reader.did, &reader.agreement, &keys);
    assert_eq!(read[0].1.as_deref().unwrap(), b"login failed for admin");
    assert_eq!(
        read[1].1.as_deref().unwrap(),
        b"rate limit hit on /checkout"
    );
    for (index, result) in &read[2..] {
        let error = result.as_ref().unwrap_err().to_string();
        assert!(
            error.contains("no key of epoch 1"),
            "entry {index}: {error}"
        );
    }
    let keys = channels::read_keys(&client, &verifier, &id, &auditor.did, proven.height)
        .await
        .unwrap();
    let audited = channels::decrypt(&proven, &auditor.did, &auditor.agreement, &keys);
    assert!(audited.iter().all(|(_, r)| r.is_ok()), "{audited:?}");
    assert_eq!(
        audited[3].1.as_deref().unwrap(),
        b"payment webhook replayed"
    );

    // A tampered copy (an exported log with entry 1 edited) fails at the entry after it.
    let mut copy = proven.entries.clone();
    copy[1].input.metadata = "{\"tool\":\"waf\",\"summary\":\"nothing\"}".into();
    let mismatch = weft_channels::validate(&copy, &proven.channel.head).unwrap_err();
    assert_eq!(mismatch.index, 2, "{mismatch}");
    let mismatch = weft_channels::compare(&copy, &proven.entries).unwrap_err();
    assert_eq!(mismatch.index, 1, "the altered entry itself: {mismatch}");
}
