//! DID resolution over the real node: `did_resolve` over JSON-RPC and the Universal Resolver
//! driver interface over HTTP, checked against DID Core / DID Resolution, and client-side
//! verification failing at the right step when a value, a proof, the anchor, the committee or the
//! served document is tampered with.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{CHAIN, TestNode, signer};
use serde_json::json;
use weft_client::did::{
    DidResolution, DidVerifier, DidVerifyError, ResolveOptions, verify_resolution,
};
use weft_client::json::{AnchorJson, Status};
use weft_client::{LightClientError, VerifyError};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document, KeyType, Op,
    Service, ServiceEndpoint, VerificationMethod,
};
use weft_types::{
    Anchor, ChainId, Committee, CommitteeMember, ContractId, Keypair, QuorumCertificate,
};

fn document(key: &Keypair) -> Document {
    Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    }
}

fn shop() -> Service {
    Service {
        fragment: "shop".into(),
        types: vec!["LinkedDomains".into()],
        endpoint: ServiceEndpoint::Uri("https://shop.example".into()),
    }
}

/// `GET path` with an optional Accept header: status code, content type, JSON body.
async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let body = serde_json::from_slice(&response[split + 4..]).unwrap_or(serde_json::Value::Null);
    (status, content_type, body)
}

/// An anchor of the proof's height and root, signed by a one-member committee of `key`: the
/// solo test node has no Tangle, so the test plays the committee.
fn anchor(answer: &DidResolution, key: &Keypair) -> AnchorJson {
    let proof = answer.proof.as_ref().unwrap();
    let committee = committee_of(key);
    let statement = Anchor {
        chain_id: ChainId(CHAIN.into()),
        state_index: proof.height,
        height: proof.height,
        block_hash: Default::default(),
        state_root: proof.state_root,
        prev_anchor: Default::default(),
        epoch: 0,
    };
    let (index, signature) = committee.sign(key, &statement.id()).unwrap();
    let certificate = QuorumCertificate::from_signatures(1, vec![(index, signature)]);
    AnchorJson {
        id: statement.id(),
        chain_id: CHAIN.into(),
        state_index: proof.height,
        height: proof.height,
        block_hash: Default::default(),
        state_root: proof.state_root,
        prev_anchor: Default::default(),
        epoch: 0,
        signers: certificate.signers,
        signatures: certificate
            .signatures
            .iter()
            .map(|s| format!("0x{}", hex::encode(s.0)))
            .collect(),
        tangle_block: Default::default(),
        confirmed: true,
        applied_at: 0,
        confirmed_at: None,
    }
}

fn committee_of(key: &Keypair) -> Committee {
    Committee::new(
        0,
        vec![CommitteeMember {
            public_key: key.public_key(),
            power: 1,
        }],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dids_resolve_with_proofs_over_json_rpc_and_the_http_driver() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let identity = ContractId::system("identity");

    // The identity contract is there from genesis, listed in weft_chainInfo.
    let info = http.chain_info().await.unwrap();
    let listed = info
        .system_contracts
        .iter()
        .find(|c| c.name == "identity")
        .unwrap();
    assert_eq!(listed.id, identity);
    assert_eq!(listed.code_hash, weft_system::IDENTITY.code_hash());

    // Alice creates a DID, then adds a service; Bob creates one and deactivates it.
    let mut alice = signer(&http, 1).await;
    let alice_key = Keypair::from_seed([1; 32]);
    let create = weft_client::did::tx::create(&mut alice, &document(&alice_key));
    let receipt = http.send_and_wait(&create).await.unwrap();
    assert_eq!(receipt.status, Status::Success, "{receipt:?}");
    let id = DidId::derive(&alice_key.public_key().address(), 0);
    let did = Did::new(CHAIN, id).to_string();
    let update = alice.call(
        identity,
        "update",
        borsh::to_vec(&(id, 1u32, vec![Op::AddService(shop())])).unwrap(),
    );
    assert_eq!(
        http.send_and_wait(&update).await.unwrap().status,
        Status::Success
    );
    let mut bob = signer(&http, 2).await;
    let bob_key = Keypair::from_seed([2; 32]);
    let bob_id = DidId::derive(&bob_key.public_key().address(), 0);
    let bob_did = Did::new(CHAIN, bob_id).to_string();
    for tx in [
        bob.call(
            identity,
            "create",
            borsh::to_vec(&(document(&bob_key),)).unwrap(),
        ),
        bob.call(
            identity,
            "update",
            borsh::to_vec(&(bob_id, 1u32, vec![Op::Deactivate])).unwrap(),
        ),
    ] {
        assert_eq!(
            http.send_and_wait(&tx).await.unwrap().status,
            Status::Success
        );
    }

    // JSON-RPC: the latest version, as DID Core and DID Resolution say.
    let answer = http
        .resolve_did(&did, &ResolveOptions::default())
        .await
        .unwrap();
    let json = serde_json::to_value(&answer).unwrap();
    let key_id = format!("{did}#key-1");
    assert_eq!(
        json["didDocument"],
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did,
            "verificationMethod": [{
                "id": key_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": weft_did::multikey(KeyType::Ed25519, &alice_key.public_key().0),
            }],
            "authentication": [key_id],
            "assertionMethod": [key_id],
            "capabilityInvocation": [key_id],
            "service": [{"id": format!("{did}#shop"), "type": "LinkedDomains", "serviceEndpoint": "https://shop.example"}],
        })
    );
    assert_eq!(
        json["didResolutionMetadata"],
        json!({"contentType": "application/did+ld+json"})
    );
    let meta = &json["didDocumentMetadata"];
    assert_eq!(meta["versionId"], "2");
    assert!(meta["created"].as_str().unwrap().ends_with('Z'));
    assert!(meta["updated"].is_string());
    assert!(meta.get("deactivated").is_none() && meta.get("nextVersionId").is_none());

    // An old version, by versionId and by versionTime.
    let v1 = http
        .resolve_did(
            &did,
            &ResolveOptions {
                version_id: Some("1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let v1_json = serde_json::to_value(&v1.result).unwrap();
    assert!(v1_json["didDocument"].get("service").is_none());
    assert_eq!(v1_json["didDocumentMetadata"]["versionId"], "1");
    assert_eq!(v1_json["didDocumentMetadata"]["nextVersionId"], "2");
    assert!(v1_json["didDocumentMetadata"].get("updated").is_none());
    let before = http
        .resolve_did(
            &did,
            &ResolveOptions {
                version_time: Some("2000-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        before.result.error_kind(),
        Some(weft_did::ErrorKind::NotFound)
    );
    let later = ResolveOptions {
        version_time: Some("2999-01-01T00:00:00Z".into()),
        ..Default::default()
    };
    let at_time = http.resolve_did(&did, &later).await.unwrap();
    assert_eq!(at_time.result, answer.result);

    // Client-side verification: committee → anchor → root → proofs → document.
    let member = Keypair::from_seed([42; 32]);
    let committee = committee_of(&member);
    let verify = |mut answer: DidResolution, options: &ResolveOptions| {
        let anchor = anchor(&answer, &member);
        answer.proof.as_mut().unwrap().anchor = Some(anchor);
        (
            answer.clone(),
            verify_resolution(&answer, &did, options, CHAIN, &committee),
        )
    };
    let (anchored, verified) = verify(answer.clone(), &ResolveOptions::default());
    assert_eq!(verified.unwrap(), answer.result);
    let (_, old) = verify(
        v1.clone(),
        &ResolveOptions {
            version_id: Some("1".into()),
            ..Default::default()
        },
    );
    assert_eq!(old.unwrap(), v1.result);
    let (_, timed) = verify(at_time.clone(), &later);
    assert_eq!(timed.unwrap(), answer.result);

    // A verifier that remembers checked anchors gives the same answers, and a changed anchor is
    // a new anchor to it: its signatures are checked again.
    let verifier = DidVerifier::new(CHAIN, committee.clone());
    for _ in 0..2 {
        assert_eq!(
            verifier
                .verify(&anchored, &did, &ResolveOptions::default())
                .unwrap(),
            answer.result
        );
    }

    // Old state: once a later height is known (from another node, say), an answer anchored far
    // below it is refused.
    let fresh = DidVerifier::new(CHAIN, committee.clone());
    fresh.require_height(anchored.proof.as_ref().unwrap().height + 100);
    let err = fresh
        .verify(&anchored, &did, &ResolveOptions::default())
        .unwrap_err();
    assert!(matches!(err, DidVerifyError::Stale { .. }), "{err}");

    // Tampered: a value, a proof, the anchor, the committee, the served document.
    let check = |answer: &DidResolution, committee: &Committee| {
        verify_resolution(answer, &did, &ResolveOptions::default(), CHAIN, committee).unwrap_err()
    };
    let mut value = anchored.clone();
    let entry = value.proof.as_mut().unwrap().entries.last_mut().unwrap();
    entry.value.as_mut().unwrap()[10] ^= 1;
    let err = check(&value, &committee);
    assert!(
        matches!(
            err,
            DidVerifyError::Entry {
                error: VerifyError::ValueMismatch,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("step 4 (proof)"), "{err}");
    let mut proof = anchored.clone();
    let entry = &mut proof.proof.as_mut().unwrap().entries[0];
    let last = entry.proof.len() - 1;
    entry.proof[last] ^= 1;
    let err = check(&proof, &committee);
    assert!(err.to_string().starts_with("step 4 (proof)"), "{err}");
    let mut root = anchored.clone();
    root.proof
        .as_mut()
        .unwrap()
        .anchor
        .as_mut()
        .unwrap()
        .state_root = weft_types::Hash32([7; 32]);
    let err = check(&root, &committee);
    assert!(
        matches!(err, DidVerifyError::Anchor(LightClientError::Signatures(_))),
        "{err}"
    );
    let err = verifier
        .verify(&root, &did, &ResolveOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, DidVerifyError::Anchor(LightClientError::Signatures(_))),
        "{err}"
    );
    let err = check(&anchored, &committee_of(&Keypair::from_seed([43; 32])));
    assert!(err.to_string().starts_with("step 2 (signatures)"), "{err}");
    let mut served = anchored.clone();
    served.result.did_document.as_mut().unwrap().service.clear();
    let err = check(&served, &committee);
    assert!(matches!(err, DidVerifyError::Mismatch { .. }), "{err}");
    let mut unanchored = anchored.clone();
    unanchored.proof.as_mut().unwrap().anchor = None;
    assert!(matches!(
        check(&unanchored, &committee),
        DidVerifyError::Anchor(LightClientError::NoAnchor(_))
    ));

    // The Universal Resolver driver interface.
    let addr = node.addr;
    let path = |d: &str| format!("/1.0/identifiers/{d}");
    let (status, content_type, body) = get(addr, &path(&did), None).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/did-resolution")
    );
    assert_eq!(body["didDocument"], json["didDocument"]);
    assert_eq!(
        body["proof"]["height"],
        json!(answer.proof.as_ref().unwrap().height)
    );
    let (status, content_type, body) = get(
        addr,
        &path(&did.replace(':', "%3A")),
        Some("application/did+ld+json"),
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/did+ld+json")
    );
    assert_eq!(body, json["didDocument"]);
    let (status, _, body) = get(addr, &format!("{}?versionId=1", path(&did)), None).await;
    assert_eq!(
        (status, body["didDocumentMetadata"]["versionId"].clone()),
        (200, json!("1"))
    );
    let (status, _, body) = get(addr, &path(&bob_did), None).await;
    assert_eq!(status, 410);
    // The deactivated DID: no keys, no services; its metadata says so.
    assert_eq!(
        body["didDocument"],
        json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": bob_did})
    );
    let meta = &body["didDocumentMetadata"];
    assert_eq!(
        (meta["deactivated"].clone(), meta["versionId"].clone()),
        (json!(true), json!("2"))
    );
    assert!(meta["created"].is_string() && meta["updated"].is_string());
    assert_eq!(
        body["didResolutionMetadata"],
        json!({"contentType": "application/did+ld+json"})
    );
    // Its first version is still served, for checking signatures of its time.
    let (status, _, body) = get(addr, &format!("{}?versionId=1", path(&bob_did)), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["didDocumentMetadata"]["deactivated"], json!(true));
    assert_eq!(
        body["didDocument"]["verificationMethod"][0]["publicKeyMultibase"],
        json!(weft_did::multikey(
            KeyType::Ed25519,
            &bob_key.public_key().0
        ))
    );
    let (status, _, body) = get(addr, &path("did:weft:weft-test:1234"), None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#INVALID_DID"
    );
    let unknown = Did::new(CHAIN, DidId([9; 32])).to_string();
    let (status, _, body) = get(addr, &path(&unknown), None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#NOT_FOUND"
    );
    assert!(
        body["proof"]["entries"][0]["value"].is_null(),
        "absence is proven: {body}"
    );
    let (status, _, body) = get(addr, &path("did:example:123"), None).await;
    assert_eq!(status, 501);
    assert_eq!(
        body["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED"
    );
    let (status, _, _) = get(addr, &path(&did), Some("text/html")).await;
    assert_eq!(status, 406);
    let (status, _, _) = get(addr, &format!("{}?colour=blue", path(&did)), None).await;
    assert_eq!(status, 400);
    let key_did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let (status, _, body) = get(addr, &path(key_did), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["didDocument"]["id"], key_did);

    // JSON-RPC keeps serving after all of it.
    assert!(http.chain_info().await.unwrap().height > 0);
    node.stop().await;
}
