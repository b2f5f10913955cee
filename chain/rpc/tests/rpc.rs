//! The node through JSON-RPC over real HTTP and WebSocket connections.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{
    CHAIN, TestNode, counter_wasm, deploy_counter, item_key, node_with_counter, node_with_signer,
    post_raw, registry_wasm, signer, wait_for_receipt,
};
use serde_json::json;
use weft_client::json::{EventFilter, Status, WaitUntil, abi_from_json};
use weft_client::{Client, VerifyError, codec, verify_state};
use weft_rpc::codes;
use weft_types::{Action, ChainId, ContractId, Keypair, Transaction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_call_send_subscribe_and_prove_over_http_and_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice) = node_with_signer(dir.path(), 1).await;
    let ws = Client::connect(&node.ws()).await.unwrap();
    let counter = alice.contract_id(alice.next_nonce());

    let mut blocks = ws.subscribe_blocks().await.unwrap();
    let mut events = ws
        .subscribe_events(&EventFilter {
            contract: Some(counter),
            topic: Some("incremented".into()),
        })
        .await
        .unwrap();

    // Deploy over HTTP and wait for the block.
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(5u64,)).unwrap());
    let receipt = http.send_and_wait(&deploy).await.unwrap();
    assert_eq!(receipt.status, Status::Success, "{receipt:?}");
    assert_eq!(receipt.contract, Some(counter));
    let first = blocks.next().await.unwrap().unwrap();
    let _ = alice.next_nonce();
    assert_eq!((first.height, first.tx_count), (receipt.height, 1));

    // The ABI travels with the code; JSON arguments go through it.
    let info = http.contract(&counter).await.unwrap();
    let increment = info.methods.iter().find(|m| m.name == "increment").unwrap();
    assert_eq!(
        (increment.kind.as_str(), increment.args[0].ty.as_str()),
        ("call", "u64")
    );
    let now = http.call_json(&counter, "get", json!([])).await.unwrap();
    assert_eq!(now.value, Some(json!(5)));

    // A contract whose methods take strings and bytes: a transaction with JSON arguments encoded
    // through the ABI from weft_getContract, then views with JSON arguments.
    let registry = alice.contract_id(alice.next_nonce());
    let deployed = http
        .send_and_wait(&alice.deploy(registry_wasm(), Vec::new()))
        .await
        .unwrap();
    assert_eq!(deployed.status, Status::Success, "{deployed:?}");
    let abi = abi_from_json(&http.contract(&registry).await.unwrap().methods).unwrap();
    let args = codec::encode_args(
        abi.method("register").unwrap(),
        Some(&json!({"name": "alice", "value": "0xc0ffee"})),
    )
    .unwrap();
    let registered = http
        .send_and_wait(&alice.call(registry, "register", args))
        .await
        .unwrap();
    assert_eq!(registered.status, Status::Success, "{registered:?}");
    let count = http
        .call_json(&registry, "count", json!(null))
        .await
        .unwrap();
    assert_eq!(count.value, Some(json!(1)));
    let entry = http
        .call_json(&registry, "get", json!({"name": "alice"}))
        .await
        .unwrap();
    assert_eq!(
        entry.value, None,
        "Entry is a contract type; the raw bytes are returned"
    );
    let entry: Option<([u8; 32], Vec<u8>, u64)> = borsh::from_slice(&entry.return_data).unwrap();
    assert_eq!(entry.unwrap().1, vec![0xc0, 0xff, 0xee]);

    // Send over WebSocket and wait until committed; the event arrives on the subscription.
    let tx = alice.call(counter, "increment", borsh::to_vec(&(3u64,)).unwrap());
    let sent = ws.send(&tx, WaitUntil::Committed).await.unwrap();
    let receipt = sent.receipt.unwrap();
    assert_eq!(receipt.status, Status::Success);
    assert_eq!(receipt.return_data, 8u64.to_le_bytes());
    let event = events.next().await.unwrap().unwrap();
    assert_eq!(event.tx_hash, tx.tx.hash());
    assert_eq!(event.event.topic, "incremented");
    let (who, value): ([u8; 32], u64) = borsh::from_slice(&event.event.data).unwrap();
    assert_eq!((who, value), (alice.key().public_key().0, 8));

    // Lookups.
    let lookup = http.transaction(&tx.tx.hash()).await.unwrap().unwrap();
    assert_eq!(lookup.height, Some(receipt.height));
    assert_eq!(
        http.receipt(&tx.tx.hash()).await.unwrap(),
        Some(receipt.clone())
    );
    let block = http
        .block(Some(receipt.height), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.tx_hashes, vec![tx.tx.hash().to_hex()]);
    assert_eq!(block.transactions.unwrap()[0].nonce, 3);
    assert_eq!(http.block(Some(999), false).await.unwrap(), None);

    // State with a proof, verified against the state root of the head block.
    let head = http.chain_info().await.unwrap();
    let key = item_key("count");
    let answer = http.state(&counter, &key, None).await.unwrap();
    assert_eq!(answer.height, head.height);
    let proven = verify_state(&answer, &counter, &key, &head.state_root).unwrap();
    assert_eq!(proven, Some(borsh::to_vec(&8u64).unwrap()));
    let absent = http.state(&counter, b"no such key", None).await.unwrap();
    assert_eq!(
        verify_state(&absent, &counter, b"no such key", &head.state_root).unwrap(),
        None
    );
    // An older height proves the older value against that block's root.
    let old = http
        .state(&counter, &key, Some(first.height))
        .await
        .unwrap();
    assert_eq!(
        verify_state(&old, &counter, &key, &first.state_root).unwrap(),
        Some(borsh::to_vec(&5u64).unwrap())
    );

    // Every tampering fails.
    let mut forged = answer.clone();
    forged.value = Some(borsh::to_vec(&1_000u64).unwrap());
    assert_eq!(
        verify_state(&forged, &counter, &key, &head.state_root),
        Err(VerifyError::ValueMismatch)
    );
    let mut forged = answer.clone();
    let last = forged.proof.len() - 1;
    forged.proof[last] ^= 1;
    assert!(verify_state(&forged, &counter, &key, &head.state_root).is_err());
    let mut forged = answer.clone();
    forged.value = Some(borsh::to_vec(&1_000u64).unwrap());
    forged.proof = absent.proof.clone();
    assert!(verify_state(&forged, &counter, &key, &head.state_root).is_err());
    assert!(matches!(
        verify_state(&answer, &counter, &key, &first.state_root),
        Err(VerifyError::WrongRoot { .. })
    ));
    assert!(matches!(
        verify_state(&answer, &counter, b"other", &head.state_root),
        Err(VerifyError::WrongKey { .. })
    ));

    // rpc.discover lists every method.
    let discover: serde_json::Value = http.request("rpc.discover", json!([])).await.unwrap();
    let names: Vec<&str> = discover["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for m in weft_rpc::METHODS {
        assert!(
            names.contains(&m.name),
            "{} missing from rpc.discover",
            m.name
        );
    }
    node.stop().await;
}

/// An unsigned `increment(1)` of `counter` on this chain from `sender` with `nonce`.
fn unsigned_increment(
    sender: weft_types::PublicKey,
    nonce: u64,
    counter: ContractId,
) -> Transaction {
    Transaction {
        chain_id: ChainId(CHAIN.into()),
        sender,
        nonce,
        gas_limit: 1_000_000,
        action: Action::Call {
            contract: counter,
            method: "increment".into(),
            args: borsh::to_vec(&(1u64,)).unwrap(),
        },
    }
}

fn code_of(e: weft_client::Error) -> (i32, String) {
    match e {
        weft_client::Error::Rpc { code, message, .. } => (code, message),
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_error_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice) = node_with_signer(dir.path(), 2).await;
    let (counter, deployed) = deploy_counter(&http, &mut alice, 0).await;

    // Malformed JSON, unknown method, wrong params: standard codes.
    let r = post_raw(node.addr, r#"{"jsonrpc":"2.0","id":1,"method""#).await;
    assert_eq!(r["error"]["code"], -32700);
    let r = post_raw(
        node.addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"weft_nope"}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32601);
    let r = post_raw(
        node.addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"weft_getReceipt","params":[42]}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("weft_getReceipt takes [txHash]"),
        "{r}"
    );
    let r = post_raw(
        node.addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"weft_getBlock","params":[1, true, 3]}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    let r = post_raw(
        node.addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"weft_sendTransaction","params":["0x0102"]}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not decode"),
        "{r}"
    );
    // A batch answers each entry on its own.
    let r = post_raw(
        node.addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"weft_chainInfo"},{"jsonrpc":"2.0","id":2,"method":"weft_nope"}]"#,
    )
    .await;
    assert_eq!(r[0]["result"]["chainId"], CHAIN);
    assert_eq!(r[1]["error"]["code"], -32601);

    // Bad signature.
    let mut forged = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    alice.set_next_nonce(alice.next_nonce() - 1);
    forged.signature.0[0] ^= 1;
    let (code, message) = code_of(http.send(&forged, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::BAD_SIGNATURE, "{message}");
    assert!(message.contains("signature does not match"), "{message}");

    // Wrong chain id.
    let key = Keypair::from_seed([2; 32]);
    let other_chain = key.sign(Transaction {
        chain_id: ChainId("another-chain".into()),
        ..unsigned_increment(key.public_key(), alice.next_nonce(), counter)
    });
    let (code, message) = code_of(
        http.send(&other_chain, WaitUntil::Accepted)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::WRONG_CHAIN);
    assert!(
        message.contains("\"another-chain\"") && message.contains(CHAIN),
        "{message}"
    );

    // Replayed nonce: the deploy again.
    let deploy = http.transaction(&deployed.tx_hash).await.unwrap().unwrap();
    assert_eq!(deploy.transaction.nonce, 0);
    let replay = alice
        .key()
        .sign(unsigned_increment(alice.key().public_key(), 0, counter));
    let err = http.send(&replay, WaitUntil::Accepted).await.unwrap_err();
    let weft_client::Error::Rpc {
        code,
        message,
        data,
        ..
    } = err
    else {
        panic!("expected a JSON-RPC error")
    };
    assert_eq!(code, codes::BAD_NONCE);
    assert_eq!(
        message,
        "transaction nonce 0 already used; the next nonce for this sender is 1"
    );
    assert_eq!(data, Some(json!({"nextNonce": 1})));

    // Gapped nonce.
    alice.set_next_nonce(5_000);
    let gapped = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&gapped, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::BAD_NONCE);
    assert!(message.contains("too far ahead"), "{message}");

    // Oversized transaction.
    let huge = alice.deploy(vec![0u8; 1_300_000], Vec::new());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&huge, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::TX_TOO_LARGE);
    assert!(message.contains("the limit is 1228800 bytes"), "{message}");

    // Invalid wasm.
    let junk = alice.deploy(b"\0asm but not really".to_vec(), Vec::new());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&junk, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::INVALID_CODE);
    assert!(message.starts_with("invalid contract code"), "{message}");

    // Unknown contract, unknown method, a view sent as a transaction.
    let nobody = ContractId([7; 32]);
    let stray = alice.call(nobody, "increment", Vec::new());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&stray, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::UNKNOWN_CONTRACT);
    assert!(message.contains(&nobody.to_hex()), "{message}");
    let wrong = alice.call(counter, "decrement", Vec::new());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&wrong, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::UNKNOWN_METHOD);
    assert!(
        message.contains("has no method `decrement`") && message.contains("increment"),
        "{message}"
    );
    let view = alice.call(counter, "get", Vec::new());
    alice.set_next_nonce(1);
    let (code, message) = code_of(http.send(&view, WaitUntil::Accepted).await.unwrap_err());
    assert_eq!(code, codes::UNKNOWN_METHOD);
    assert!(message.contains("is a view"), "{message}");

    // Read-only calls: unknown contract and method, bad JSON args, a failing contract, a future
    // height.
    let (code, _) = code_of(http.call_json(&nobody, "get", json!([])).await.unwrap_err());
    assert_eq!(code, codes::UNKNOWN_CONTRACT);
    let (code, _) = code_of(
        http.call_json(&counter, "nope", json!([]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::UNKNOWN_METHOD);
    let (code, message) = code_of(
        http.call_json(&counter, "get", json!(["x"]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, -32602);
    assert_eq!(message, "get() takes 0 argument(s), got 1");
    let (code, message) = code_of(
        http.call_json(&counter, "increment", json!([1]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::UNKNOWN_METHOD);
    assert!(
        message.contains("send a transaction to run it"),
        "{message}"
    );
    let (code, message) = code_of(
        http.call_json(&counter, "sneaky_write", json!([]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::CONTRACT_FAILED, "{message}");
    let (code, _) = code_of(
        http.call(weft_client::json::CallRequest {
            contract: counter.to_hex(),
            method: "get".into(),
            height: Some(1_000),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(code, codes::UNKNOWN_HEIGHT);

    // Still serving, and a good transaction still commits.
    let ok = alice.call(counter, "increment", borsh::to_vec(&(2u64,)).unwrap());
    let receipt = http.send_and_wait(&ok).await.unwrap();
    assert_eq!(receipt.return_data, 2u64.to_le_bytes());
    assert_eq!(http.chain_info().await.unwrap().height, receipt.height);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_and_reopen_keeps_height_root_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice) = node_with_signer(dir.path(), 3).await;
    let (counter, deployed) = deploy_counter(&http, &mut alice, 0).await;
    let mut receipts = vec![deployed];
    for i in 1..=5u64 {
        let tx = alice.call(counter, "increment", borsh::to_vec(&(i,)).unwrap());
        receipts.push(http.send_and_wait(&tx).await.unwrap());
    }
    let before = http.chain_info().await.unwrap();
    // The client's keep-alive connection holds the server's state open; close it first.
    drop(http);
    node.stop().await;

    let node = TestNode::start(dir.path()).await;
    let http = node.client().await;
    let after = http.chain_info().await.unwrap();
    assert_eq!(
        (after.height, after.state_root, after.block_hash),
        (before.height, before.state_root, before.block_hash)
    );
    for r in &receipts {
        assert_eq!(http.receipt(&r.tx_hash).await.unwrap().as_ref(), Some(r));
    }
    let now = http.call_json(&counter, "get", json!([])).await.unwrap();
    assert_eq!(now.value, Some(json!(15)));
    // The account's nonce continues where it was.
    assert_eq!(
        http.account(&alice.key().public_key().address())
            .await
            .unwrap()
            .next_nonce,
        6
    );
    node.stop().await;
}

/// Sends `body` to `path` with `method` over HTTP/1.1; the status line and the body.
async fn http_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&response[..split])
        .lines()
        .next()
        .unwrap()
        .to_string();
    (status, response[split + 4..].to_vec())
}

/// The binary ingest path: a batch in one request, one outcome per transaction in order (a bad
/// signature or undecodable bytes refuse only that one), the accepted ones commit, and requests
/// that are not a batch get a precise HTTP error while JSON-RPC keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_path_admits_a_batch_with_one_outcome_each() {
    use weft_client::binary::{BinarySender, PATH, TxOutcome};
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice, counter) = node_with_counter(dir.path(), 9).await;

    let mut txs: Vec<_> = (1..=20u64)
        .map(|_| alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap()))
        .collect();
    // A forged signature in the middle.
    let mut forged = txs[7].clone();
    forged.signature.0[3] ^= 0x40;
    let bad_index = txs.len();
    txs.push(forged);
    let sender = BinarySender::new(&node.ws()).unwrap();
    let outcomes = sender.send(&txs).await.unwrap();
    assert_eq!(outcomes.len(), txs.len());
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            TxOutcome::Accepted(hash) if i < bad_index => assert_eq!(*hash, txs[i].tx.hash()),
            TxOutcome::Rejected { code, message } if i == bad_index => {
                assert!(
                    *code == codes::BAD_SIGNATURE || *code == codes::DUPLICATE_TX,
                    "{code}: {message}"
                );
            }
            other => panic!("transaction {i}: {other:?}"),
        }
    }
    let last = txs[bad_index - 1].tx.hash();
    wait_for_receipt(&http, &last).await;
    let count = http.call_json(&counter, "get", json!([])).await.unwrap();
    assert_eq!(count.value, Some(json!(20)));

    // Undecodable bytes inside a well-formed batch: refused alone.
    let good = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    let body = borsh::to_vec(&vec![b"junk".to_vec(), borsh::to_vec(&good).unwrap()]).unwrap();
    let (status, reply) = http_raw(node.addr, "POST", PATH, &body).await;
    assert!(status.contains("200"), "{status}");
    let outcomes: Vec<TxOutcome> = borsh::from_slice(&reply).unwrap();
    assert!(
        matches!(&outcomes[0], TxOutcome::Rejected { code, .. } if *code == codes::INVALID_PARAMS),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], TxOutcome::Accepted(good.tx.hash()));

    // Not a batch, not a POST: plain-text HTTP errors that say what is expected.
    let (status, reply) = http_raw(node.addr, "POST", PATH, b"\x05\x00").await;
    assert!(status.contains("400"), "{status}");
    assert!(String::from_utf8_lossy(&reply).contains("Vec<Vec<u8>>"));
    let (status, _) = http_raw(node.addr, "GET", PATH, b"").await;
    assert!(status.contains("405"), "{status}");
    assert!(http.chain_info().await.is_ok());
}

/// One batch that deploys a contract and calls it, calls a view method of it, comes from a key
/// of small order and from a known sender: the contract looked up once for the batch is the
/// pending deploy, each transaction gets its own verdict (the batch signature check falls back
/// to single checks only for what it must), and what was accepted commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_deploys_calls_and_refuses_each_on_its_own() {
    use weft_client::binary::{BinarySender, TxOutcome};
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice) = node_with_signer(dir.path(), 9).await;
    let mut bob = signer(&http, 10).await;
    // Alice deploys and calls (her nonces order them); Bob's call of a view method is refused.
    let counter = alice.contract_id(alice.next_nonce());
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(5u64,)).unwrap());
    let increment = alice.call(counter, "increment", borsh::to_vec(&(2u64,)).unwrap());
    let view = bob.call(counter, "get", vec![]);
    // The identity point as key: every signature equation holds under it, so it is refused.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = weft_types::SignedTransaction {
        tx: unsigned_increment(weft_types::PublicKey(identity), 0, counter),
        signature: weft_types::Signature({
            let mut s = [0u8; 64];
            s[..32].copy_from_slice(&identity);
            s
        }),
    };
    let increment_again = alice.call(counter, "increment", borsh::to_vec(&(3u64,)).unwrap());
    let batch = [deploy, increment, view, weak, increment_again];
    let sender = BinarySender::new(&node.ws()).unwrap();
    let outcomes = sender.send(&batch).await.unwrap();
    assert_eq!(outcomes.len(), batch.len());
    for i in [0, 1, 4] {
        assert_eq!(outcomes[i], TxOutcome::Accepted(batch[i].tx.hash()), "{i}");
    }
    assert!(
        matches!(&outcomes[2], TxOutcome::Rejected { code, message }
            if *code == codes::UNKNOWN_METHOD && message.contains("view")),
        "{:?}",
        outcomes[2]
    );
    assert!(
        matches!(&outcomes[3], TxOutcome::Rejected { code, message }
            if *code == codes::BAD_SIGNATURE && message.contains("small order")),
        "{:?}",
        outcomes[3]
    );
    let last = batch[4].tx.hash();
    wait_for_receipt(&http, &last).await;
    let count = http.call_json(&counter, "get", json!([])).await.unwrap();
    assert_eq!(count.value, Some(json!(10)));
}

/// A block may carry a transaction this node's mempool admitted, with another signature (the
/// hash does not cover it): staging checks that signature rather than trusting the admission,
/// so the node judges the block as one that never saw the transaction would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_transaction_signed_otherwise_than_admitted_is_checked() {
    use weft_client::json::WaitUntil;
    let dir = tempfile::tempdir().unwrap();
    let (node, http, mut alice, counter) = node_with_counter(dir.path(), 9).await;
    // One nonce ahead of the next: admitted, never ready, so it stays in the mempool.
    let _gap = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    let pending = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    http.send(&pending, WaitUntil::Accepted).await.unwrap();
    let mut forged = pending.clone();
    forged.signature.0[40] ^= 1;
    let stage = |tx: &weft_types::SignedTransaction| loop {
        // The producer may commit an empty block meanwhile: stage on the head of the moment.
        let head = node.node.head();
        match node.node.stage(
            head.height + 1,
            head.time_ms + 1,
            alice_key(),
            vec![tx.clone()],
        ) {
            Err(weft_node::ExecutorError::WrongHeight { .. }) => continue,
            Err(e) => break e,
            Ok(_) => panic!("a block with a nonce ahead was staged"),
        }
    };
    let refused = stage(&forged);
    assert!(
        matches!(
            refused,
            weft_node::ExecutorError::BadSignature { index: 0, .. }
        ),
        "{refused}"
    );
    // The admitted signature is not checked again: the block fails only on the nonce.
    let refused = stage(&pending);
    assert!(
        matches!(refused, weft_node::ExecutorError::BadNonce { index: 0, .. }),
        "{refused}"
    );
}

fn alice_key() -> weft_types::PublicKey {
    Keypair::from_seed([9; 32]).public_key()
}

/// More batches at once than the node admits at a time (one per core): the rest wait their turn
/// with their connections held, and none is refused or lost; every transaction commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_binary_batches_wait_their_turn_and_all_commit() {
    use weft_client::binary::{BinarySender, TxOutcome};
    let dir = tempfile::tempdir().unwrap();
    let (node, http, _, counter) = node_with_counter(dir.path(), 9).await;
    let sender = BinarySender::new(&node.ws()).unwrap();
    let (batches, per_batch) = (12u8, 25u64);
    // Every batch is signed first, so that all of them are in flight together.
    let mut signed = Vec::new();
    for seed in 0..batches {
        let mut s = signer(&http, 40 + seed).await;
        signed.push(
            (0..per_batch)
                .map(|_| s.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap()))
                .collect::<Vec<_>>(),
        );
    }
    let mut sending = Vec::new();
    for batch in signed {
        let sender = sender.clone();
        sending.push(tokio::spawn(async move {
            let answer = std::time::Duration::from_secs(30);
            let outcomes = tokio::time::timeout(answer, sender.send(&batch)).await;
            (batch, outcomes)
        }));
    }
    for task in sending {
        let (batch, outcomes) = task.await.unwrap();
        let outcomes = outcomes
            .expect("a waiting batch was never answered within 30 s")
            .unwrap();
        assert_eq!(outcomes.len(), batch.len());
        for (tx, outcome) in batch.iter().zip(&outcomes) {
            assert_eq!(*outcome, TxOutcome::Accepted(tx.tx.hash()), "{outcome:?}");
        }
    }
    let expected = json!(u64::from(batches) * per_batch);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let count = http.call_json(&counter, "get", json!([])).await.unwrap();
        if count.value.as_ref() == Some(&expected) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batches never all committed: the counter is at {:?}",
            count.value
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
