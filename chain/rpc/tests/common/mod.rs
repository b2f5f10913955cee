//! A node on real sockets for the tests: RocksDB in a temp dir, the solo producer, JSON-RPC on a
//! free loopback port.

#![allow(dead_code, reason = "each test file uses part of this")]

use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::oneshot;
use weft_client::{Client, Signer};
use weft_node::config::NodeConfig;
use weft_node::metrics::Metrics;
use weft_node::{Node, producer};
use weft_types::Keypair;

pub const CHAIN: &str = "weft-test";

pub fn counter_wasm() -> Vec<u8> {
    weft_testkit::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/counter"
    ))
}

pub fn registry_wasm() -> Vec<u8> {
    weft_testkit::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/registry"
    ))
}

/// The storage key of an SDK `Item` named `name`.
pub fn item_key(name: &str) -> Vec<u8> {
    let mut out = vec![name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out
}

pub struct TestNode {
    pub node: Node,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    producer: Option<tokio::task::JoinHandle<Result<(), weft_node::ExecutorError>>>,
    server: jsonrpsee::server::ServerHandle,
}

impl TestNode {
    pub async fn start(dir: &Path) -> Self {
        let mut config = NodeConfig::new(CHAIN, dir.join("data"));
        config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.block.interval_ms = 5;
        config.rpc.max_wait_ms = 20_000;
        let node = Node::open(config, Metrics::new()).unwrap();
        let limits = weft_rpc::ServerConfig {
            max_request_bytes: node.config().rpc.max_request_bytes,
            max_connections: node.config().rpc.max_connections,
        };
        let (addr, server) = weft_rpc::serve(
            std::sync::Arc::new(node.clone()),
            node.config().rpc.listen,
            limits,
        )
        .await
        .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let proposer = Keypair::from_seed([9; 32]).public_key();
        let producer = tokio::spawn(producer::run(node.clone(), proposer, async move {
            let _ = stopped.await;
        }));
        Self {
            node,
            addr,
            stop: Some(stop),
            producer: Some(producer),
            server,
        }
    }

    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.http()).await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(p) = self.producer.take() {
            p.await.unwrap().unwrap();
        }
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        // Connection tasks let go of the node shortly after the server stops; the data directory
        // is closed with the last handle.
        for _ in 0..500 {
            if self.node.handles() == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the node is still referenced 5 s after stopping");
    }
}

pub async fn signer(client: &Client, seed: u8) -> Signer {
    let key = Keypair::from_seed([seed; 32]);
    let account = client.account(&key.public_key().address()).await.unwrap();
    Signer::new(key, CHAIN, account.next_nonce)
}

/// Posts a raw body over HTTP/1.1 and returns the response body as JSON.
pub async fn post_raw(addr: SocketAddr, body: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Deploys the counter starting at `start` from `signer`; returns its id and the receipt.
pub async fn deploy_counter(
    client: &Client,
    signer: &mut Signer,
    start: u64,
) -> (weft_types::ContractId, weft_client::json::ReceiptJson) {
    let counter = signer.contract_id(signer.next_nonce());
    let deploy = signer.deploy(counter_wasm(), borsh::to_vec(&(start,)).unwrap());
    let receipt = client.send_and_wait(&deploy).await.unwrap();
    assert_eq!(receipt.contract, Some(counter), "{receipt:?}");
    (counter, receipt)
}

/// Waits up to 30 s for the receipt of `hash` (its transaction committed).
pub async fn wait_for_receipt(client: &Client, hash: &weft_types::TxHash) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.receipt(hash).await.unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "transaction {hash} never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A node in `dir`, a client of it and the signer of `seed`.
pub async fn node_with_signer(dir: &Path, seed: u8) -> (TestNode, Client, Signer) {
    let node = TestNode::start(dir).await;
    let http = node.client().await;
    let signer = signer(&http, seed).await;
    (node, http, signer)
}

/// A node with the counter deployed (starting at 0) by the signer of `seed`: the node, a client,
/// the signer and the counter.
pub async fn node_with_counter(
    dir: &Path,
    seed: u8,
) -> (TestNode, Client, Signer, weft_types::ContractId) {
    let (node, http, mut deployer) = node_with_signer(dir, seed).await;
    let (counter, _) = deploy_counter(&http, &mut deployer, 0).await;
    (node, http, deployer, counter)
}
