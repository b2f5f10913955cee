//! A committee of real `weft` processes on loopback, set up as operators do it (`weft init`,
//! `weft genesis`, `weft join`, `weft node run`), with helpers to load it and check it.

use super::{free_port, item_key};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_client::json::{ReceiptJson, Status};
use weft_client::{Client, Signer, keyfile, verify_state};
use weft_types::ContractId;

pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");
pub const CHAIN: &str = "weft-committee-test";

pub fn weft(args: &[&str]) -> String {
    let out = Command::new(WEFT).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "weft {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `weft` expecting it to fail; returns its standard error.
pub fn weft_fails(args: &[&str]) -> String {
    let out = Command::new(WEFT).args(args).output().unwrap();
    assert!(
        !out.status.success(),
        "weft {args:?} succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

pub struct Member {
    pub config: PathBuf,
    pub log: PathBuf,
    pub url: String,
    pub p2p_port: u16,
    pub metrics_port: u16,
    pub child: Option<Child>,
    /// Its public key.
    pub key: [u8; 32],
}

pub struct Committee {
    _dir: tempfile::TempDir,
    pub members: Vec<Member>,
}

impl Committee {
    /// Sets up `n` members the way the operator recipe in the README does, with a 500 ms
    /// heartbeat: these tests watch consensus under faults, on a chain that moves without load.
    pub fn new(n: usize) -> Self {
        Self::with_heartbeat(n, 500)
    }

    /// Sets up `n` members whose genesis has this heartbeat (0: no empty blocks at all).
    pub fn with_heartbeat(n: usize, heartbeat_ms: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut members = Vec::new();
        let mut entries = Vec::new();
        for i in 0..n {
            let home = dir.path().join(format!("node-{i}"));
            let rpc = free_port();
            let p2p_port = free_port();
            let metrics_port = free_port();
            let out = weft(&[
                "init",
                "--metrics-listen",
                &format!("127.0.0.1:{metrics_port}"),
                "--home",
                home.to_str().unwrap(),
                "--chain-id",
                CHAIN,
                "--rpc-listen",
                &format!("127.0.0.1:{rpc}"),
                "--p2p-listen",
                &format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
            ]);
            let entry = out
                .lines()
                .find_map(|l| l.trim().strip_prefix("--member NAME="))
                .unwrap_or_else(|| panic!("`weft init` printed no member entry:\n{out}"));
            entries.push(format!("node-{i}={entry}"));
            let key: [u8; 32] =
                hex::decode(entry.trim_start_matches("0x").split('@').next().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
            members.push(Member {
                config: home.join("config.toml"),
                log: dir.path().join(format!("node-{i}.log")),
                url: format!("http://127.0.0.1:{rpc}"),
                p2p_port,
                metrics_port,
                child: None,
                key,
            });
        }
        let genesis = dir.path().join("genesis.toml");
        let heartbeat = heartbeat_ms.to_string();
        let mut args = vec![
            "genesis",
            "--chain-id",
            CHAIN,
            "--out",
            genesis.to_str().unwrap(),
            "--heartbeat-ms",
            &heartbeat,
        ];
        for e in &entries {
            args.push("--member");
            args.push(e);
        }
        weft(&args);
        for m in &members {
            let home = m.config.parent().unwrap();
            let out = weft(&[
                "join",
                "--home",
                home.to_str().unwrap(),
                "--genesis",
                genesis.to_str().unwrap(),
            ]);
            assert!(out.contains("joins chain"), "{out}");
            // Fast rounds for a test.
            let mut text = std::fs::read_to_string(&m.config).unwrap();
            text = text.replace("propose_timeout_ms = 3000", "propose_timeout_ms = 1500");
            text = text.replace(
                "empty_block_interval_ms = 1000",
                "empty_block_interval_ms = 500",
            );
            std::fs::write(&m.config, text).unwrap();
        }
        Self { _dir: dir, members }
    }

    pub fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        assert!(m.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .unwrap();
        let child = Command::new(WEFT)
            .args(["node", "run", "--config"])
            .arg(&m.config)
            .env(
                "RUST_LOG",
                "info,arc_malachitebft_core_consensus=warn,weft_node=debug",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        m.child = Some(child);
    }

    /// Sets up `n` members whose links all go through `FaultyNet` proxies (each member dials
    /// the others at their proxies, `p2p.dial`), starts them and waits for height 2.
    pub async fn running_behind_proxies(n: usize) -> (Self, super::faults::FaultyNet) {
        let mut committee = Self::new(n);
        let ports: Vec<u16> = committee.members.iter().map(|m| m.p2p_port).collect();
        let net = super::faults::FaultyNet::new(&ports).await;
        for (i, m) in committee.members.iter().enumerate() {
            let dial: Vec<String> = (0..n)
                .filter(|j| *j != i)
                .map(|j| format!("node-{j} = \"/ip4/127.0.0.1/tcp/{}\"", net.port(i, j)))
                .collect();
            let text = std::fs::read_to_string(&m.config).unwrap();
            assert!(
                text.contains("[p2p.dial]\n"),
                "no `[p2p.dial]` table in the config:\n{text}"
            );
            let text = text.replace(
                "[p2p.dial]\n",
                &format!("[p2p.dial]\n{}\n", dial.join("\n")),
            );
            std::fs::write(&m.config, text).unwrap();
        }
        for i in 0..n {
            committee.start(i);
        }
        for i in 0..n {
            committee.wait_height(i, 2, Duration::from_secs(60)).await;
        }
        (committee, net)
    }

    /// The member who proposes round 0 of `height` (members take turns in the order of their
    /// public keys).
    pub fn proposer(&self, height: u64) -> usize {
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_by_key(|i| self.members[*i].key);
        order[(height % order.len() as u64) as usize]
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to member `i`.
    pub fn signal(&mut self, i: usize, signal: &str) {
        let pid = self.members[i].child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} node-{i}");
    }

    /// The highest height among `members`.
    pub async fn top(&mut self, members: &[usize]) -> u64 {
        let mut top = 0;
        for &i in members {
            top = top.max(self.height(i).await);
        }
        top
    }

    /// Waits until every one of `members` is past `height`; returns how long it took.
    pub async fn wait_all_past(
        &mut self,
        members: &[usize],
        height: u64,
        within: Duration,
    ) -> Duration {
        let start = Instant::now();
        for &i in members {
            let left = within.saturating_sub(start.elapsed());
            self.wait_height(i, height + 1, left.max(Duration::from_millis(1)))
                .await;
        }
        start.elapsed()
    }

    pub fn kill9(&mut self, i: usize) {
        let mut child = self.members[i].child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn sigterm(&mut self, i: usize) {
        let mut child = self.members[i].child.take().unwrap();
        let status = super::sigterm(&mut child);
        assert!(status.success(), "node-{i} exited with {status} on SIGTERM");
    }

    /// The end of every member's log, for failure messages.
    pub fn tails(&self) -> String {
        let mut out = String::new();
        for i in 0..self.members.len() {
            let log = self.log(i);
            let lines: Vec<&str> = log.lines().collect();
            out.push_str(&format!("--- node-{i} ---\n"));
            for l in &lines[lines.len().saturating_sub(40)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.members[i].log).unwrap_or_default()
    }

    /// Sets up and starts `n` members, and waits until each has committed height 2.
    pub async fn running(n: usize) -> Self {
        let mut committee = Self::new(n);
        for i in 0..n {
            committee.start(i);
        }
        for i in 0..n {
            committee.wait_height(i, 2, Duration::from_secs(60)).await;
        }
        committee
    }

    pub async fn client(&mut self, i: usize) -> Client {
        let m = &mut self.members[i];
        let child = m.child.as_mut().expect("the member is running");
        super::ready(&m.url, child, &m.log).await
    }

    pub async fn height(&mut self, i: usize) -> u64 {
        self.client(i).await.chain_info().await.unwrap().height
    }

    /// Waits until member `i` reaches `height`.
    pub async fn wait_height(&mut self, i: usize, height: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let h = self.height(i).await;
            if h >= height {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node-{i} is at height {h}, not {height}, after {within:?}:\n{}",
                self.log(i)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until member `i`'s log contains `text`; returns the log.
    pub async fn wait_log(&self, i: usize, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log(i);
            if log.contains(text) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "node-{i} never logged `{text}` within {within:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every pair of running members has the same block at every height both have.
    pub async fn assert_agreement(&mut self, running: &[usize]) {
        let mut clients = Vec::new();
        for &i in running {
            clients.push(self.client(i).await);
        }
        let mut lowest = u64::MAX;
        for c in &clients {
            lowest = lowest.min(c.chain_info().await.unwrap().height);
        }
        for h in 1..=lowest {
            let first = clients[0].block(Some(h), false).await.unwrap().unwrap();
            for (k, c) in clients.iter().enumerate().skip(1) {
                let other = c.block(Some(h), false).await.unwrap().unwrap();
                assert_eq!(
                    other.header.hash, first.header.hash,
                    "node-{} and node-{} disagree at height {h}",
                    running[0], running[k]
                );
            }
            let commit = first
                .commit
                .expect("every committed block has its certificate");
            let size = self.members.len();
            assert!(
                commit.signer_keys.len() * 3 > size * 2,
                "height {h}: {} signers of {size} are not a quorum",
                commit.signer_keys.len()
            );
        }
    }

    pub async fn assert_receipts(&mut self, on: &[usize], acknowledged: &[ReceiptJson]) {
        for &i in on {
            let client = self.client(i).await;
            for r in acknowledged {
                assert_eq!(
                    client.receipt(&r.tx_hash).await.unwrap().as_ref(),
                    Some(r),
                    "node-{i} lacks an acknowledged transaction"
                );
            }
        }
    }

    pub async fn count(&mut self, i: usize, counter: &ContractId) -> (u64, u64) {
        let client = self.client(i).await;
        let info = client.chain_info().await.unwrap();
        let key = item_key("count");
        let state = client
            .state(counter, &key, Some(info.height))
            .await
            .unwrap();
        let value = verify_state(&state, counter, &key, &info.state_root)
            .unwrap()
            .unwrap();
        (info.height, borsh::from_slice(&value).unwrap())
    }
}

impl Drop for Committee {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

pub async fn metrics(port: u16) -> String {
    super::http_get(port, "/metrics").await
}

/// The value of an unlabelled metric in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric `{name}` in:\n{text}"))
}

/// `senders` senders, each sending `each` increments one after the other (waiting for each to
/// commit), all senders at once, spread over `urls`. Returns every receipt.
pub async fn concurrent_load(
    urls: Vec<String>,
    counter: ContractId,
    senders: usize,
    each: usize,
) -> Vec<ReceiptJson> {
    let tasks = (0..senders).map(|s| {
        let url = urls[s % urls.len()].clone();
        async move {
            let client = Client::connect(&url).await.unwrap();
            let mut signer = Signer::new(keyfile::generate(), CHAIN, 0);
            let mut out = Vec::new();
            for _ in 0..each {
                let tx = signer.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
                let receipt = client.send_and_wait(&tx).await.unwrap();
                assert_eq!(receipt.status, Status::Success, "{receipt:?}");
                out.push(receipt);
            }
            out
        }
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

pub async fn increments(
    committee: &mut Committee,
    on: &[usize],
    alice: &mut Signer,
    counter: ContractId,
    n: usize,
) -> Vec<ReceiptJson> {
    let mut clients = Vec::new();
    for &i in on {
        clients.push(committee.client(i).await);
    }
    let mut out = Vec::new();
    for k in 0..n {
        let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
        let to = on[k % on.len()];
        let receipt = match clients[k % clients.len()].send_and_wait(&tx).await {
            Ok(r) => r,
            Err(e) => panic!(
                "transaction {k} to node-{to} failed: {e}\n{}",
                committee.tails()
            ),
        };
        assert_eq!(receipt.status, Status::Success, "{receipt:?}");
        out.push(receipt);
    }
    out
}

/// The committee as the light client is given it (from the genesis members' keys).
pub fn committee_of(info: &weft_client::json::ChainInfo) -> weft_types::Committee {
    let members = info
        .committee
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| weft_types::CommitteeMember {
            public_key: weft_types::PublicKey(
                hex::decode(m.public_key.trim_start_matches("0x"))
                    .unwrap()
                    .try_into()
                    .unwrap(),
            ),
            power: m.power,
        })
        .collect();
    weft_types::Committee::new(0, members).unwrap()
}
