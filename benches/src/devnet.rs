//! Running a `weft dev` committee for a benchmark, and the physical floor measured next to it.

use anyhow::{Context, Result, bail};
use ed25519_dalek::{Signer as _, SigningKey};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_client::Client;

/// Which nodes a benchmark runs against: a committee it starts, or running nodes.
#[derive(clap::Args)]
pub struct Target {
    /// The nodes' URLs, comma-separated (ignored with --spawn).
    #[arg(long, default_value = "ws://127.0.0.1:8545")]
    pub rpc: String,
    /// Start a fresh `weft dev` committee for the run (the `weft` binary next to this one).
    #[arg(long)]
    pub spawn: bool,
    /// Committee size with --spawn.
    #[arg(long, default_value_t = 4)]
    pub nodes: u16,
}

impl Target {
    /// The committee started for the run (with --spawn; it stops when dropped) and the nodes'
    /// URLs.
    pub fn start(&self) -> Result<(Option<Node>, Vec<String>)> {
        if self.spawn {
            let (node, urls) = spawn_nodes(self.nodes)?;
            return Ok((Some(node), urls));
        }
        Ok((
            None,
            self.rpc.split(',').map(|u| u.trim().to_string()).collect(),
        ))
    }
}

/// The ed25519 floor of this machine, measured at the start of a run.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Verifications per second on one core.
    pub one: f64,
    /// Verifications per second on every core.
    pub all: f64,
    /// The cores.
    pub cores: usize,
}

impl Floor {
    /// Measures three seconds on one core, then three on every core, and keeps the best second
    /// of each: one second sampled while another process woke up reads low and would flatter
    /// every ratio to the floor. Call it before starting any node, or a devnet starting up
    /// shares the cores with it.
    pub fn measure() -> Self {
        eprintln!("measuring ed25519 verification on this machine…");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let best = |threads: usize| {
            (0..3)
                .map(|_| ed25519_floor(threads, Duration::from_secs(1)))
                .fold(0.0, f64::max)
        };
        Self {
            one: best(1),
            all: best(cores),
            cores,
        }
    }

    /// Prints the floor lines for a committee of `nodes`.
    pub fn print(&self, nodes: usize) {
        print_floor(self.one, self.all, self.cores, nodes);
    }
}

/// ed25519 verifications per second on `threads` threads for about `window`.
pub fn ed25519_floor(threads: usize, window: Duration) -> f64 {
    let key = SigningKey::from_bytes(&[3; 32]);
    let messages: Vec<[u8; 32]> = (0..256u32).map(|i| *blake3_like(i).as_bytes()).collect();
    let signed: Arc<Vec<_>> = Arc::new(messages.iter().map(|m| (*m, key.sign(m))).collect());
    let verifying = key.verifying_key();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let signed = signed.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                let until = Instant::now() + window;
                while Instant::now() < until {
                    for (m, s) in signed.iter() {
                        // Verify exactly as the node does (strict, key already decompressed).
                        assert!(verifying.verify_strict(m, s).is_ok());
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// The floor lines: verifications per second on one and on every core, and the floor for `nodes`.
pub fn print_floor(one: f64, all: f64, cores: usize, nodes: usize) {
    println!(
        "ed25519 verifications/s on this machine: {one:.0} (1 core), {all:.0} ({cores} cores)"
    );
    println!(
        "physical floor for {nodes} node(s) on this machine (each verifies every transaction): {:.0} tx/s",
        all / nodes as f64
    );
}

/// A distinct 32-byte message per `i`.
pub fn blake3_like(i: u32) -> weft_types::Hash32 {
    weft_types::domain_hash("weft/load/message", &[&i.to_le_bytes()])
}

/// A running `weft dev` committee in a temporary directory; dropping it stops the committee.
pub struct Node {
    /// The `weft dev` process.
    pub child: Child,
    /// Its home.
    pub dir: tempfile::TempDir,
    /// Each member's metrics port.
    pub metrics: Vec<u16>,
}

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM: `weft dev` stops its nodes, then exits.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A base port such that `base..base + n` is free for each of `ranges` ranges spaced 1000 apart.
pub fn free_ports(n: u16, ranges: u16) -> Result<u16> {
    'next: for base in (20_000u16..60_000).step_by(37) {
        for r in 0..ranges {
            for i in 0..n {
                if std::net::TcpListener::bind(("127.0.0.1", base + r * 1000 + i)).is_err() {
                    continue 'next;
                }
            }
        }
        return Ok(base);
    }
    bail!("no free ports for {n} nodes")
}

/// Starts `weft dev --fresh --nodes n` (the `weft` binary next to this one) on free ports in a
/// temporary directory; returns it and the members' WebSocket URLs.
pub fn spawn_nodes(n: u16) -> Result<(Node, Vec<String>)> {
    let weft = std::env::current_exe()?
        .parent()
        .context("no directory for this binary")?
        .join("weft");
    if !weft.exists() {
        bail!(
            "{} not found; build it first: cargo build --release -p weft-cli --bin weft",
            weft.display()
        );
    }
    let base = free_ports(n, 3)?;
    let dir = tempfile::tempdir()?;
    let child = Command::new(&weft)
        .args(["dev", "--fresh", "--nodes", &n.to_string()])
        .args(["--port", &base.to_string()])
        .args(["--metrics-port", &(base + 1000).to_string()])
        .args(["--p2p-port", &(base + 2000).to_string()])
        .arg("--home")
        .arg(dir.path().join("dev"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", weft.display()))?;
    let urls = (0..n)
        .map(|i| format!("ws://127.0.0.1:{}", base + i))
        .collect();
    let metrics = (0..n).map(|i| base + 1000 + i).collect();
    Ok((
        Node {
            child,
            dir,
            metrics,
        },
        urls,
    ))
}

/// Connects to `url`, waiting up to a minute for the node to answer.
pub async fn connect(url: &str) -> Result<Client> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match Client::connect(url).await {
            Ok(c) if c.chain_info().await.is_ok() => return Ok(c),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(_) => bail!("{url} does not answer weft_chainInfo"),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `p` quantile (0..=1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The committee a chain reports in `weft_chainInfo` (a benchmark's stand-in for the genesis
/// file a real light client reads).
pub fn committee_of(info: &weft_client::json::ChainInfo) -> Result<weft_types::Committee> {
    let members = info
        .committee
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let key: weft_types::Hash32 = m.public_key.parse()?;
            Ok(weft_types::CommitteeMember {
                public_key: weft_types::PublicKey(key.0),
                power: m.power,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    weft_types::Committee::new(0, members)
        .map_err(|e| anyhow::anyhow!("the chain has no committee to verify against: {e}"))
}

/// Sends `txs` over the binary ingest path in requests of 500, spread over the nodes at `urls`,
/// and waits until blocks seen by `client` hold as many transactions; returns the time from the
/// first request to that block. `what` names the transactions in errors ("a transfer").
pub async fn send_all(
    client: &Client,
    urls: &[String],
    txs: &[weft_types::SignedTransaction],
    what: &str,
) -> Result<Duration> {
    use weft_client::binary::{BinarySender, TxOutcome};
    let senders: Vec<BinarySender> = urls
        .iter()
        .map(|u| BinarySender::new(u))
        .collect::<Result<_, _>>()?;
    let mut blocks = client.subscribe_blocks().await?;
    let started = Instant::now();
    for (i, batch) in txs.chunks(500).enumerate() {
        let outcomes = senders[i % senders.len()].send(batch).await?;
        if let Some(TxOutcome::Rejected { message, .. }) = outcomes
            .iter()
            .find(|o| matches!(o, TxOutcome::Rejected { .. }))
        {
            bail!("{what} was refused: {message}");
        }
    }
    let mut seen = 0u64;
    while seen < txs.len() as u64 {
        let header = tokio::time::timeout(Duration::from_secs(300), blocks.next())
            .await
            .with_context(|| format!("{} did not commit within 5 minutes", txs.len()))?
            .context("the block subscription ended")??;
        seen += header.tx_count;
    }
    Ok(started.elapsed())
}
