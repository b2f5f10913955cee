//! Credentials over the real node: an issuer keeps status lists and is accredited through the
//! trust contract; the node's W3C VC API verifies credentials and presentations from its state,
//! serves the issuer-signed status list credentials a spec-only verifier needs, and answers
//! `status_*`, `trust_*` and `weft_getStates`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{CHAIN, TestNode, signer};
use serde_json::{Value, json};
use weft_client::credentials::Issuer;
use weft_client::json::{StateRead, Status};
use weft_credentials::{Format, PresentFormat, Signer as VcSigner};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document,
    VerificationMethod,
};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::trust::Grant;
use weft_types::{ContractId, Keypair};

/// `method path` with a JSON body: status, content type and JSON body.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
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
    let body = serde_json::from_slice(&response[split + 4..]).unwrap_or(Value::Null);
    (status, content_type, body)
}

async fn create_did(http: &weft_client::Client, seed: u8) -> String {
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
    Did::new(CHAIN, DidId::derive(&key.public_key().address(), 0)).to_string()
}

fn list_spec(purpose: Purpose) -> ListSpec {
    ListSpec {
        purpose,
        entries: MIN_ENTRIES,
        status_size: 1,
        messages: Vec::new(),
    }
}

fn age_credential(holder: &str) -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/undefined-terms/v2"
        ],
        "type": ["VerifiableCredential", "AgeCredential"],
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": holder, "ageOver18": true, "birthDate": "2001-02-03"}
    })
}

fn reasons(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for check in body["checks"].as_array().into_iter().flatten() {
        if let Some(r) = check["reason"].as_str() {
            out.push(r.to_string());
        }
    }
    for c in body["credentials"].as_array().into_iter().flatten() {
        out.extend(reasons(c));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_revokes_and_the_node_verifies_by_the_vc_api() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let (root, authority, issuer_did, holder) = (
        create_did(&http, 1).await,
        create_did(&http, 2).await,
        create_did(&http, 3).await,
        create_did(&http, 4).await,
    );
    let base = node.http();

    // The trust chain: root → authority (may accredit) → issuer, for AgeCredential.
    let mut root_issuer = Issuer::new(&http, Keypair::from_seed([1; 32]), &root, "key-1", &base)
        .await
        .unwrap();
    let grant = |may_accredit| Grant {
        types: vec!["AgeCredential".into()],
        may_accredit,
        valid_until_ms: None,
    };
    root_issuer
        .accredit(&authority, &grant(true))
        .await
        .unwrap();
    let mut authority_issuer = Issuer::new(
        &http,
        Keypair::from_seed([2; 32]),
        &authority,
        "key-1",
        &base,
    )
    .await
    .unwrap();
    authority_issuer
        .accredit(&issuer_did, &grant(false))
        .await
        .unwrap();

    // The issuer keeps a revocation and a suspension list.
    let mut issuer = Issuer::new(
        &http,
        Keypair::from_seed([3; 32]),
        &issuer_did,
        "key-1",
        &base,
    )
    .await
    .unwrap();
    assert_eq!(
        issuer
            .create_list(list_spec(Purpose::Revocation))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        issuer
            .create_list(list_spec(Purpose::Suspension))
            .await
            .unwrap(),
        1
    );
    let lists = [(Purpose::Revocation, 0), (Purpose::Suspension, 1)];
    let credential = issuer
        .issue(age_credential(&holder), &Format::Jose, &lists)
        .await
        .unwrap();

    let verify = |credential: &Value| {
        json!({"verifiableCredential": credential, "options": {"trustedRoots": [root]}}).to_string()
    };
    let (status, content_type, body) = request(
        node.addr,
        "POST",
        "/credentials/verify",
        &verify(&credential),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(content_type, "application/json");
    assert_eq!(body["verified"], true);

    // A spec-only verifier fetches the issuer-signed list credential at the URL in the entry.
    let url = credential_status_url(&credential, 0);
    let path = url.strip_prefix(&base).unwrap().to_string();
    let (status, content_type, list) = request(node.addr, "GET", &path, "").await;
    assert_eq!(status, 200, "{list:#}");
    assert_eq!(content_type, "application/vc");
    assert_eq!(list["type"][1], "BitstringStatusListCredential");
    let plain = json!({"verifiableCredential": list}).to_string();
    let (status, _, body) = request(node.addr, "POST", "/credentials/verify", &plain).await;
    assert_eq!(
        status, 200,
        "the list credential verifies under the issuer's key: {body:#}"
    );
    // With roots named, it also needs an accreditation for its type, which nobody gave.
    let (status, _, body) = request(node.addr, "POST", "/credentials/verify", &verify(&list)).await;
    assert_eq!(status, 422);
    assert_eq!(reasons(&body), ["NOT_ACCREDITED"]);

    // Revoked: the node refuses it, and the published list shows the bit.
    issuer
        .change(0, &[Change { index: 0, value: 1 }])
        .await
        .unwrap();
    let (status, content_type, body) = request(
        node.addr,
        "POST",
        "/credentials/verify",
        &verify(&credential),
    )
    .await;
    assert_eq!(status, 422, "{body:#}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(reasons(&body), ["REVOKED"]);
    let (_, _, list) = request(node.addr, "GET", &path, "").await;
    let bits = weft_credentials::bitstring::decode_list(
        list["credentialSubject"]["encodedList"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(bits[0], 0x80);
    let entry: Value = http
        .request(
            "status_getEntry",
            json!({"issuer": issuer_did, "list": 0, "index": 0}),
        )
        .await
        .unwrap();
    assert_eq!(entry["value"], 1);

    // The trust chain over JSON-RPC, then broken by a revoked accreditation.
    let chain: Value = http
        .request(
            "trust_getChain",
            json!({"issuer": issuer_did, "type": "AgeCredential", "roots": [root]}),
        )
        .await
        .unwrap();
    assert_eq!(chain["accredited"], true, "{chain:#}");
    assert_eq!(chain["chain"].as_array().unwrap().len(), 2);
    // Each link comes with its proof: the storage entries the walk read, at one height.
    let proof: weft_client::json::StatesResult =
        serde_json::from_value(chain["proof"].clone()).unwrap();
    let trust = ContractId::system("trust");
    let root_id: Did = root.parse().unwrap();
    let authority_id: Did = authority.parse().unwrap();
    let link = weft_types::trust::storage::accreditation_key(&authority_id.id, &root_id.id);
    let entry = proof
        .entries
        .iter()
        .find(|e| e.key == weft_client::storage_key(&trust, &link))
        .expect("the authority's accreditation by the root is proven");
    let value = weft_client::verify_state(entry, &trust, &link, &proof.state_root)
        .unwrap()
        .unwrap();
    let accreditation: weft_types::trust::Accreditation = borsh::from_slice(&value).unwrap();
    assert!(accreditation.may_accredit);
    let fresh = issuer
        .issue(age_credential(&holder), &Format::Jose, &lists)
        .await
        .unwrap();
    // An index the issuer never allocated could never be revoked: refused.
    let mut unallocated = age_credential(&holder);
    unallocated["issuer"] = issuer_did.clone().into();
    unallocated["credentialStatus"] = issuer.status_entry(Purpose::Revocation, 0, 5_000);
    let unallocated = weft_credentials::issue(
        &unallocated,
        issuer.key(),
        &Format::Jose,
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    let (status, _, body) = request(
        node.addr,
        "POST",
        "/credentials/verify",
        &verify(&unallocated),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(reasons(&body), ["STATUS_ERROR"]);
    assert!(
        body["detail"].as_str().unwrap().contains("never allocated"),
        "{body:#}"
    );
    root_issuer.revoke_accreditation(&authority).await.unwrap();
    let (status, _, body) =
        request(node.addr, "POST", "/credentials/verify", &verify(&fresh)).await;
    assert_eq!(status, 422);
    assert_eq!(reasons(&body), ["NOT_ACCREDITED"]);
    let chain: Value = http
        .request(
            "trust_getChain",
            json!({"issuer": issuer_did, "type": "AgeCredential", "roots": [root]}),
        )
        .await
        .unwrap();
    assert_eq!(chain["accredited"], false);
    assert!(
        chain["reason"].as_str().unwrap().contains("revoked"),
        "{chain:#}"
    );
    node.stop().await;
}

fn credential_status_url(secured: &Value, n: usize) -> String {
    // A vc+jwt envelope: the status entries are in the JWS payload.
    let id = secured["id"].as_str().unwrap();
    let jws = id.split_once(',').unwrap().1;
    let parsed = weft_credentials::jose::Jws::parse(jws, Some("vc+jwt")).unwrap();
    parsed.payload["credentialStatus"][n]["statusListCredential"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presentations_need_a_fresh_challenge_and_bad_input_gets_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let (issuer_did, holder) = (create_did(&http, 3).await, create_did(&http, 4).await);
    let mut issuer = Issuer::new(
        &http,
        Keypair::from_seed([3; 32]),
        &issuer_did,
        "key-1",
        &node.http(),
    )
    .await
    .unwrap();
    let credential = issuer
        .issue(
            age_credential(&holder),
            &Format::DataIntegrity(weft_credentials::Cryptosuite::EddsaRdfc2022),
            &[],
        )
        .await
        .unwrap();

    let (status, _, body) = request(node.addr, "POST", "/challenges", "").await;
    assert_eq!(status, 201);
    let challenge = body["challenge"].as_str().unwrap().to_string();
    let holder_key = VcSigner::new(
        ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
        format!("{holder}#key-1"),
    )
    .unwrap();
    let vp = weft_credentials::present(
        &[credential],
        &holder_key,
        &challenge,
        "shop.example",
        PresentFormat::Jose,
        "2026-06-01T00:00:00Z",
    )
    .unwrap();
    let body = json!({
        "verifiablePresentation": vp,
        "options": {"challenge": challenge, "domain": "shop.example"}
    })
    .to_string();
    let (status, _, answer) = request(node.addr, "POST", "/presentations/verify", &body).await;
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["verified"], true);
    // The same presentation again: the challenge is used up.
    let (status, _, answer) = request(node.addr, "POST", "/presentations/verify", &body).await;
    assert_eq!(status, 422);
    assert_eq!(reasons(&answer), ["CHALLENGE_REUSED"]);

    // Bad input: 400 with a problem description, 405 for the wrong method, 404 for no list.
    let (status, content_type, problem) =
        request(node.addr, "POST", "/credentials/verify", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(content_type, "application/problem+json");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("#PARSING_ERROR")
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("verifiableCredential")
    );
    let (status, _, problem) = request(
        node.addr,
        "POST",
        "/presentations/verify",
        &json!({"verifiablePresentation": {}}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("options.challenge")
    );
    let (status, _, _) = request(node.addr, "GET", "/credentials/verify", "").await;
    assert_eq!(status, 405);
    let (status, _, problem) =
        request(node.addr, "GET", &format!("/status/{issuer_did}/7"), "").await;
    assert_eq!(status, 404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no status list 7")
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_values_come_with_proofs_at_one_height() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let did = create_did(&http, 3).await;
    let parsed: Did = did.parse().unwrap();
    let identity = ContractId::system("identity");
    let reads = vec![
        StateRead {
            contract: identity,
            key: weft_types::did::storage::record_key(&parsed.id),
        },
        StateRead {
            contract: identity,
            key: weft_types::did::storage::record_key(&DidId([0xee; 32])),
        },
    ];
    let answer = http.states(&reads, None).await.unwrap();
    assert_eq!(answer.entries.len(), 2);
    let present = weft_client::verify_state(
        &answer.entries[0],
        &identity,
        &reads[0].key,
        &answer.state_root,
    )
    .unwrap();
    assert!(present.is_some());
    let absent = weft_client::verify_state(
        &answer.entries[1],
        &identity,
        &reads[1].key,
        &answer.state_root,
    )
    .unwrap();
    assert!(absent.is_none(), "proven absent");
    // Tampering with a value breaks its proof.
    let mut forged = answer.entries[0].clone();
    forged.value = Some(vec![1, 2, 3]);
    assert!(
        weft_client::verify_state(&forged, &identity, &reads[0].key, &answer.state_root).is_err()
    );
    let error = http.states(&[], None).await.unwrap_err();
    assert!(error.to_string().contains("1 to 256 reads"), "{error}");
    node.stop().await;
}
