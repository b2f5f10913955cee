//! The real `weft` binary as an operator runs it: `weft init`, `weft node run`, a clean stop by
//! SIGTERM, and `kill -9` right after transactions were acknowledged as committed. Nothing
//! acknowledged may be lost.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{counter_wasm, free_port, http_get, item_key, ready, sigterm};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_client::json::{ReceiptJson, WaitUntil};
use weft_client::{Client, Signer, keyfile, verify_state};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn start(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(WEFT)
        .args(["node", "run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not stop within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn check_all(client: &Client, acknowledged: &[ReceiptJson]) {
    for r in acknowledged {
        assert_eq!(
            client.receipt(&r.tx_hash).await.unwrap().as_ref(),
            Some(r),
            "an acknowledged receipt was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_kill_9_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let port = free_port();
    let metrics_port = free_port();
    let out = Command::new(WEFT)
        .args(["init", "--chain-id", "weft-test", "--rpc-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--home")
        .arg(&home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = home.join("config.toml");
    let log = dir.path().join("node.log");
    let url = format!("http://127.0.0.1:{port}");

    let mut child = start(&config, &log);
    let client = ready(&url, &mut child, &log).await;
    let key = keyfile::generate();
    let mut alice = Signer::new(key, "weft-test", 0);
    let counter = alice.contract_id(0);
    let mut acknowledged = vec![
        client
            .send_and_wait(&alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap()))
            .await
            .unwrap(),
    ];
    for _ in 0..10 {
        let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
        acknowledged.push(client.send_and_wait(&tx).await.unwrap());
    }
    let before = client.chain_info().await.unwrap();
    let metrics = http_get(metrics_port, "/metrics").await;
    assert!(metrics.contains("weft_txs_committed_total 11"), "{metrics}");
    assert!(
        metrics.contains(&format!("weft_height {}", before.height)),
        "{metrics}"
    );

    // A clean stop.
    assert!(sigterm(&mut child).success(), "a clean stop exits with 0");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("shutting down") && logged.contains("stopped"),
        "{logged}"
    );

    let mut child = start(&config, &log);
    let client = ready(&url, &mut child, &log).await;
    let after = client.chain_info().await.unwrap();
    assert_eq!(
        (after.height, after.state_root, after.block_hash),
        (before.height, before.state_root, before.block_hash)
    );
    check_all(&client, &acknowledged).await;

    // kill -9 right after the last acknowledgement, with more transactions in flight.
    for _ in 0..10 {
        let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
        acknowledged.push(client.send_and_wait(&tx).await.unwrap());
    }
    for _ in 0..20 {
        let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
        client.send(&tx, WaitUntil::Accepted).await.unwrap();
    }
    child.kill().unwrap();
    wait_exit(&mut child);

    let mut child = start(&config, &log);
    let client = ready(&url, &mut child, &log).await;
    check_all(&client, &acknowledged).await;
    let info = client.chain_info().await.unwrap();
    assert!(info.height >= acknowledged.last().unwrap().height);
    // The state agrees with the receipts: 20 acknowledged increments, plus those in flight that
    // made it into a block before the kill.
    let key_bytes = item_key("count");
    let state = client.state(&counter, &key_bytes, None).await.unwrap();
    let value = verify_state(&state, &counter, &key_bytes, &info.state_root)
        .unwrap()
        .unwrap();
    let count: u64 = borsh::from_slice(&value).unwrap();
    assert!((20..=40).contains(&count), "count {count}");
    let account = client
        .account(&alice.key().public_key().address())
        .await
        .unwrap();
    assert_eq!(
        account.committed_nonce,
        1 + count,
        "nonces and state move together"
    );
    child.kill().unwrap();
    wait_exit(&mut child);
}

fn weft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(WEFT).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))
        + prefix.len();
    text[start..].split_whitespace().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_as_a_user_types_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let home_s = home.to_str().unwrap();
    let (ok, _, err) = weft(&["init", "--home", home_s, "--rpc-listen", &listen]);
    assert!(ok, "{err}");
    let log = dir.path().join("node.log");
    let mut child = start(&home.join("config.toml"), &log);
    let url = format!("http://{listen}");
    ready(&url, &mut child, &log).await;

    let key = dir.path().join("alice.json");
    let key_s = key.to_str().unwrap();
    let (ok, out, err) = weft(&["keys", "new", "--out", key_s]);
    assert!(ok && out.contains("address 0x"), "{out}{err}");
    let (ok, _, err) = weft(&["keys", "new", "--out", key_s]);
    assert!(!ok && err.contains("already exists"), "{err}");

    let wasm = dir.path().join("counter.wasm");
    std::fs::write(&wasm, counter_wasm()).unwrap();
    let common = ["--rpc", url.as_str(), "--key", key_s];
    let run = |args: &[&str]| weft(&[&common[..], args].concat());

    let (ok, out, err) = run(&["deploy", wasm.to_str().unwrap(), "5"]);
    assert!(ok, "{out}{err}");
    assert!(
        err.contains("deploying") && err.contains("waiting for it to be committed"),
        "{err}"
    );
    let contract = after(&out, "contract ").to_string();

    let (ok, out, err) = run(&["send", &contract, "increment", "3"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("returned 8"), "{out}");
    let tx_hash = after(&err, "sent ").trim_end_matches(';').to_string();

    let (ok, out, err) = run(&["call", &contract, "get"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "8");
    let (ok, out, _) = run(&["--json", "call", &contract, "get"]);
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["value"], 8);

    let (ok, out, err) = run(&["tx", &tx_hash]);
    assert!(ok, "{err}");
    assert!(
        out.contains("\"committed\"") && out.contains("success"),
        "{out}"
    );
    let (ok, out, _) = run(&["contract", &contract]);
    assert!(ok && out.contains("increment(by: u64) -> u64"), "{out}");

    // Mistakes get a clear message and a failing exit code.
    let (ok, _, err) = run(&["call", &contract, "nope"]);
    assert!(!ok && err.contains("has no method `nope`"), "{err}");
    let (ok, _, err) = run(&["send", &contract, "increment", "\"three\""]);
    assert!(
        !ok && err.contains("expected an unsigned 64-bit integer"),
        "{err}"
    );
    let (ok, _, err) = run(&["deploy", "/no/such/file.wasm"]);
    assert!(
        !ok && err.contains("cannot read /no/such/file.wasm"),
        "{err}"
    );
    let (ok, _, err) = weft(&["--rpc", "http://127.0.0.1:1", "call", &contract, "get"]);
    assert!(
        !ok && err.contains("is a node running at http://127.0.0.1:1"),
        "{err}"
    );
    child.kill().unwrap();
    wait_exit(&mut child);
}

/// `count` consecutive free loopback ports, the first returned (`weft dev` uses base + i).
fn free_ports(count: u16) -> u16 {
    for _ in 0..1000 {
        let base = free_port();
        if base.checked_add(count).is_some_and(|end| end < 32_768)
            && (1..count).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no {count} consecutive free ports");
}

async fn height_of(client: &Client) -> u64 {
    client.chain_info().await.unwrap().height
}

/// Waits (at most 60 s) until the node behind `client` reaches `at_least`.
async fn wait_for(client: &Client, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = client.chain_info().await.map(|i| i.height).unwrap_or(0);
        if h >= at_least {
            return h;
        }
        assert!(Instant::now() < deadline, "stuck below height {at_least}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Commits `n` transactions (counter deploys) through `client`: an idle devnet makes no blocks.
async fn commit(client: &Client, signer: &mut Signer, n: usize) {
    let wasm = counter_wasm();
    for _ in 0..n {
        let deploy = signer.deploy(wasm.clone(), borsh::to_vec(&(0u64,)).unwrap());
        client.send_and_wait(&deploy).await.unwrap();
    }
}

/// `weft dev` keeps the committee running when a node dies, says so, and restarts it on
/// `weft dev restart`; the node catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_dev_survives_a_dead_node_and_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("devnet");
    let home_arg = home.to_str().unwrap().to_string();
    let (rpc, metrics, p2p) = (free_ports(4), free_ports(4), free_ports(4));
    let log = dir.path().join("dev.log");
    // Killed if the test fails half way (its nodes stop when their standard input closes).
    let mut guard = KillOnDrop(
        Command::new(WEFT)
            .args(["dev", "--home", &home_arg, "--nodes", "4"])
            .args(["--port", &rpc.to_string()])
            .args(["--metrics-port", &metrics.to_string()])
            .args(["--p2p-port", &p2p.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let dev = &mut guard.0;
    let url = |i: u16| format!("http://127.0.0.1:{}", rpc + i);
    let node0 = ready(&url(0), dev, &log).await;
    let mut alice = Signer::new(keyfile::generate(), "weft-devnet", 0);
    // Block 1 installs the system contracts (with whatever else is pending); each later commit
    // makes a block.
    commit(&node0, &mut alice, 2).await;
    wait_for(&node0, 2).await;

    // kill -9 of node-1: the others go on, and `weft dev` says so and keeps running.
    let pid = std::fs::read_to_string(home.join("node-1/node.pid")).unwrap();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    let at_kill = height_of(&node0).await;
    commit(&node0, &mut alice, 3).await;
    wait_for(&node0, at_kill + 3).await;
    assert!(dev.try_wait().unwrap().is_none(), "weft dev stopped");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("node-1 exited unexpectedly"), "{text}");
    assert!(text.contains("the other 3 keep committing"), "{text}");
    let (ok, out, err) = weft(&["dev", "--home", &home_arg, "status"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("node-1 stopped") && out.contains("node-0 running"),
        "{out}"
    );

    // Restart it: it catches up with the others.
    let (ok, out, err) = weft(&["dev", "--home", &home_arg, "restart", "node-1"]);
    assert!(ok, "{err}");
    assert!(out.contains("node-1 restarted"), "{out}");
    let target = height_of(&node0).await;
    let node1 = loop {
        if let Ok(c) = Client::connect(&url(1)).await
            && c.chain_info().await.is_ok()
        {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_for(&node1, target).await;

    // Control errors are precise; Ctrl-C (SIGTERM here) stops every node and `weft dev`.
    let (ok, _, err) = weft(&["dev", "--home", &home_arg, "stop", "node-9"]);
    assert!(
        !ok && err.contains("no node `node-9`; this devnet has node-0 to node-3"),
        "{err}"
    );
    assert!(sigterm(dev).success());
    let (ok, _, err) = weft(&["dev", "--home", &home_arg, "status"]);
    assert!(!ok && err.contains("no devnet is running"), "{err}");
}
