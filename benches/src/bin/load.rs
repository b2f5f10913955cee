//! `weft-load`: end-to-end load on a node or a committee over JSON-RPC.
//!
//! It deploys the counter contract, pre-signs `increment(1)` calls from many senders, submits them
//! over WebSocket connections with `waitUntil: committed`, and reports committed transactions per
//! second and the submit-to-commit latency (p50/p99), next to the ed25519 verifications per second
//! of this machine measured in the same run. The physical floor: every member verifies each
//! transaction once, so a committee of N on one machine is bounded by the verifications per second
//! divided by N.
//!
//! Each sender's transactions go to one node (as a wallet talks to one RPC endpoint); senders are
//! spread over the nodes.
//!
//! With `--rate R --duration S` it offers R transactions per second for S seconds over the binary
//! ingest path instead (batches of borsh-encoded transactions, one HTTP request per node every
//! 10 ms), and times each transaction from its request to the moment node 0 announces the block
//! holding it. `--kill-node I --kill-after T` kills member I with `kill -9` T seconds in (with
//! `--spawn`), to measure the committee with one member down. At the end it reads each spawned
//! member's stall counter (`weft_consensus_stalls_total`).
//!
//! ```sh
//! cargo build --release -p weft-cli --bin weft -p weft-benches --bin weft-load
//! target/release/weft-load --spawn --nodes 4   # starts `weft dev --nodes 4` in a temp dir
//! target/release/weft-load --rpc ws://127.0.0.1:8545,ws://127.0.0.1:8546   # running nodes
//! target/release/weft-load --spawn --nodes 4 --rate 2000 --duration 600   # steady offered load
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_benches::devnet::{Floor, Node, Target, connect, percentile};
use weft_client::json::{Status, WaitUntil};
use weft_client::{Client, Signer};
use weft_types::{Keypair, SignedTransaction};

#[derive(Parser)]
#[command(about = "End-to-end load on a Weft node over JSON-RPC")]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Transactions to send.
    #[arg(long, default_value_t = 100_000)]
    txs: usize,
    /// Distinct senders.
    #[arg(long, default_value_t = 500)]
    senders: usize,
    /// WebSocket connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Offered load in transactions per second over the binary ingest path (0: the WebSocket
    /// mode above, as fast as the window allows).
    #[arg(long, default_value_t = 0)]
    rate: usize,
    /// Seconds of offered load with --rate.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// With --spawn and --rate: the member to `kill -9` during the run.
    #[arg(long)]
    kill_node: Option<u16>,
    /// Seconds into the run at which --kill-node dies.
    #[arg(long, default_value_t = 5)]
    kill_after: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.rate > 0 {
        args.txs = args.rate * args.duration as usize;
    }
    let floor = Floor::measure();
    let (node, urls) = args.target.start()?;
    let url = urls[0].clone();

    let client = connect(&url).await?;
    let info = client.chain_info().await?;
    eprintln!(
        "node at {url}, chain {}, height {}",
        info.chain_id, info.height
    );
    let wasm =
        weft_testkit::build_contract(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/counter"));
    let deployer_key = Keypair::from_seed([250; 32]);
    let next = client
        .account(&deployer_key.public_key().address())
        .await?
        .next_nonce;
    let mut deployer = Signer::new(deployer_key, &info.chain_id, next);
    let counter = deployer.contract_id(next);
    let receipt = client
        .send_and_wait(&deployer.deploy(wasm, borsh::to_vec(&(0u64,))?))
        .await?;
    if receipt.status != Status::Success {
        bail!("deploying the counter failed: {:?}", receipt.error);
    }

    eprintln!(
        "signing {} transactions from {} senders…",
        args.txs, args.senders
    );
    let per_sender = args.txs.div_ceil(args.senders);
    let mut signers = Vec::with_capacity(args.senders);
    for i in 0..args.senders {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        seed[31] = 0x77;
        let key = Keypair::from_seed(seed);
        let nonce = client
            .account(&key.public_key().address())
            .await?
            .next_nonce;
        signers.push(Signer::new(key, &info.chain_id, nonce).with_gas_limit(10_000_000));
    }
    let call_args = borsh::to_vec(&(1u64,))?;
    // Round-robin across senders, so each sender's transactions are spread over the run.
    let mut txs: Vec<SignedTransaction> = Vec::with_capacity(args.txs);
    'outer: for _ in 0..per_sender {
        for s in signers.iter_mut() {
            if txs.len() == args.txs {
                break 'outer;
            }
            txs.push(s.call(counter, "increment", call_args.clone()));
        }
    }

    if args.rate > 0 {
        return run_offered(&args, &urls, txs, &client, node, floor).await;
    }
    // Connections per node; sender s talks to node s % nodes.
    let nodes = urls.len();
    let per_node = args.connections.div_ceil(nodes);
    let mut pools: Vec<Vec<Arc<Client>>> = Vec::with_capacity(nodes);
    for u in &urls {
        let mut pool = Vec::with_capacity(per_node);
        for _ in 0..per_node {
            pool.push(Arc::new(connect(u).await?));
        }
        pools.push(pool);
    }
    let connections = per_node * nodes;
    let start_height = client.chain_info().await?.height;
    eprintln!(
        "sending {} transactions over {} connections…",
        txs.len(),
        connections
    );
    let started = Instant::now();
    let window = connections * args.in_flight;
    let senders = args.senders;
    let results: Vec<Result<(Duration, Duration), String>> =
        futures::stream::iter(txs.into_iter().enumerate())
            .map(|(i, tx)| {
                let pool = &pools[(i % senders) % nodes];
                let client = pool[(i / senders) % pool.len()].clone();
                async move {
                    let sent = Instant::now();
                    let result = client.send(&tx, WaitUntil::Committed).await;
                    match result {
                        Ok(r)
                            if r.receipt
                                .as_ref()
                                .is_some_and(|r| r.status == Status::Success) =>
                        {
                            Ok((sent.duration_since(started), sent.elapsed()))
                        }
                        Ok(r) => Err(format!("failed: {:?}", r.receipt.and_then(|r| r.error))),
                        Err(e) => Err(e.to_string()),
                    }
                }
            })
            .buffer_unordered(window)
            .collect()
            .await;
    let elapsed = started.elapsed();
    let end = client.chain_info().await?;

    let timed: Vec<(Duration, Duration)> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let mut latencies: Vec<Duration> = timed.iter().map(|(_, l)| *l).collect();
    // Where the slowest percent was sent: the tail's cause differs at the start and in steady state.
    let mut by_latency = timed.clone();
    by_latency.sort_by_key(|(_, l)| std::cmp::Reverse(*l));
    let slow = &by_latency[..by_latency.len().div_ceil(100)];
    let mut sent_at: Vec<Duration> = slow.iter().map(|(s, _)| *s).collect();
    sent_at.sort();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    latencies.sort();
    let committed = latencies.len();
    let blocks = end.height - start_height;
    floor.print(nodes);
    println!(
        "committed {committed} of {} counter.increment calls from {} senders over {} WebSocket connections to {nodes} node(s) ({} in flight) in {:.2} s",
        results.len(),
        args.senders,
        connections,
        window,
        elapsed.as_secs_f64()
    );
    println!(
        "throughput: {:.0} committed tx/s ({blocks} blocks, {:.0} tx/block)",
        committed as f64 / elapsed.as_secs_f64(),
        committed as f64 / blocks.max(1) as f64
    );
    println!(
        "latency submit → committed: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "the slowest 1% were sent between {:.2} s and {:.2} s into the run (median {:.2} s)",
        sent_at.first().copied().unwrap_or_default().as_secs_f64(),
        sent_at.last().copied().unwrap_or_default().as_secs_f64(),
        percentile(&sent_at, 0.5).as_secs_f64()
    );
    let mut steady: Vec<Duration> = timed
        .iter()
        .filter(|(s, _)| *s >= Duration::from_secs(1))
        .map(|(_, l)| *l)
        .collect();
    steady.sort();
    println!(
        "latency of the {} sent after the first second: p50 {:.1} ms, p99 {:.1} ms",
        steady.len(),
        percentile(&steady, 0.50).as_secs_f64() * 1e3,
        percentile(&steady, 0.99).as_secs_f64() * 1e3
    );
    if !errors.is_empty() {
        println!("{} errors; first: {}", errors.len(), errors[0]);
    }
    drop(node);
    Ok(())
}

/// `--rate`: offers `args.rate` transactions per second over the binary ingest path and times each
/// from its request to node 0 announcing its block.
async fn run_offered(
    args: &Args,
    urls: &[String],
    txs: Vec<SignedTransaction>,
    client: &Client,
    node: Option<Node>,
    floor: Floor,
) -> Result<()> {
    use std::collections::HashMap;
    let nodes = urls.len();
    let senders: Vec<weft_client::binary::BinarySender> = urls
        .iter()
        .map(|u| weft_client::binary::BinarySender::new(u))
        .collect::<Result<_, _>>()?;
    // Commit times, by transaction, as node 0 announces blocks.
    let committed: Arc<std::sync::Mutex<HashMap<weft_types::TxHash, Instant>>> = Arc::default();
    let watcher = {
        let client = connect(&urls[0]).await?;
        let committed = committed.clone();
        let mut blocks = client.subscribe_blocks().await?;
        tokio::spawn(async move {
            while let Some(Ok(header)) = blocks.next().await {
                let seen = Instant::now();
                if header.tx_count == 0 {
                    continue;
                }
                if let Ok(Some(block)) = client.block(Some(header.height), false).await {
                    let mut map = committed.lock().unwrap_or_else(|e| e.into_inner());
                    for h in &block.tx_hashes {
                        if let Ok(hash) = h.parse::<weft_types::TxHash>() {
                            map.insert(hash, seen);
                        }
                    }
                }
            }
        })
    };
    let start_height = client.chain_info().await?.height;
    let cpu_before = cpu_times(node.as_ref());
    let total = txs.len();
    let tick = Duration::from_millis(10);
    let per_tick = (args.rate / 100).max(1);
    eprintln!(
        "offering {} tx/s for {} s over the binary path to {nodes} node(s) ({per_tick} per 10 ms)…",
        args.rate, args.duration
    );
    let started = Instant::now();
    let mut sent_at: HashMap<weft_types::TxHash, Instant> = HashMap::with_capacity(total);
    let mut rejected = 0usize;
    let mut first_rejection = None;
    let mut requests = Vec::new();
    let mut killed = false;
    let mut queue = txs.into_iter().enumerate().peekable();
    let mut next = started;
    while queue.peek().is_some() {
        tokio::time::sleep_until(next.into()).await;
        next += tick;
        if let (Some(k), Some(node), false) = (args.kill_node, &node, killed)
            && started.elapsed() >= Duration::from_secs(args.kill_after)
        {
            let pid =
                std::fs::read_to_string(node.dir.path().join(format!("dev/node-{k}/node.pid")))
                    .with_context(|| format!("no pid file for node-{k}"))?;
            Command::new("kill").args(["-9", pid.trim()]).status()?;
            eprintln!(
                "killed node-{k} at {:.1} s",
                started.elapsed().as_secs_f64()
            );
            killed = true;
        }
        // This tick's share, each sender's transactions to its node.
        let mut by_node: Vec<Vec<SignedTransaction>> = vec![Vec::new(); nodes];
        for _ in 0..per_tick {
            let Some((i, tx)) = queue.next() else { break };
            let mut n = (i % args.senders) % nodes;
            if Some(n as u16) == args.kill_node && killed {
                n = (n + 1) % nodes;
            }
            by_node[n].push(tx);
        }
        let now = Instant::now();
        for (n, batch) in by_node.into_iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            for tx in &batch {
                sent_at.insert(tx.tx.hash(), now);
            }
            let sender = senders[n].clone();
            requests.push(tokio::spawn(async move { sender.send(&batch).await }));
        }
    }
    let offered_for = started.elapsed();
    for r in requests {
        match r.await? {
            Ok(outcomes) => {
                for o in outcomes {
                    if let weft_client::binary::TxOutcome::Rejected { message, .. } = o {
                        rejected += 1;
                        first_rejection.get_or_insert(message);
                    }
                }
            }
            Err(e) => {
                rejected += 1;
                first_rejection.get_or_insert(e.to_string());
            }
        }
    }
    // Wait (up to 30 s) for the last transactions to commit.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let done = committed.lock().unwrap_or_else(|e| e.into_inner()).len();
        if done + rejected >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watcher.abort();
    let cpu_after = cpu_times(node.as_ref());
    let end = client.chain_info().await?;
    let map = committed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut latencies = Vec::with_capacity(map.len());
    let mut steady = Vec::new();
    for (hash, at) in &map {
        if let Some(sent) = sent_at.get(hash) {
            let latency = at.saturating_duration_since(*sent);
            latencies.push(latency);
            if sent.duration_since(started) >= Duration::from_secs(1) {
                steady.push(latency);
            }
        }
    }
    latencies.sort();
    steady.sort();
    let blocks = end.height - start_height;
    floor.print(nodes);
    println!(
        "offered {} tx/s for {:.1} s ({total} transactions from {} senders) over the binary path to {nodes} node(s)",
        args.rate,
        offered_for.as_secs_f64(),
        args.senders
    );
    println!(
        "committed {} ({:.0} tx/s over the offer), rejected {rejected}, {blocks} blocks",
        latencies.len(),
        latencies.len() as f64 / offered_for.as_secs_f64()
    );
    println!(
        "latency request → block announced: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "latency of the {} sent after the first second: p50 {:.1} ms, p99 {:.1} ms",
        steady.len(),
        percentile(&steady, 0.50).as_secs_f64() * 1e3,
        percentile(&steady, 0.99).as_secs_f64() * 1e3
    );
    if let Some(e) = first_rejection {
        println!("first rejection: {e}");
    }
    // CPU time per committed transaction, by process (from /proc: user + system).
    let committed_n = latencies.len().max(1) as f64;
    let mut accounting = Vec::new();
    for (name, before) in &cpu_before {
        if let Some((_, after)) = cpu_after.iter().find(|(n, _)| n == name) {
            accounting.push(format!(
                "{name} {:.0} µs",
                (after - before) * 1e6 / committed_n
            ));
        }
    }
    if !accounting.is_empty() {
        println!(
            "CPU per committed transaction: {} (the ed25519 floor is {:.0} µs per verification on one core)",
            accounting.join(", "),
            1e6 / floor.one
        );
    }
    if let Some(node) = &node {
        for (i, port) in node.metrics.iter().enumerate() {
            if Some(i as u16) == args.kill_node {
                continue;
            }
            let text = metrics_text(*port).await.unwrap_or_default();
            let stalls = text
                .lines()
                .find_map(|l| l.strip_prefix("weft_consensus_stalls_total "))
                .unwrap_or("?");
            let repaired: f64 = text
                .lines()
                .filter(|l| l.starts_with("weft_p2p_repaired_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            println!("node-{i}: stalls {stalls}, repaired messages {repaired:.0}");
        }
    }
    drop(node);
    Ok(())
}

/// The Prometheus text of the metrics endpoint on `port`.
async fn metrics_text(port: u16) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    stream.read_to_string(&mut out).await?;
    Ok(out)
}

/// User + system CPU seconds of this process and of each spawned member (by its pid file).
fn cpu_times(node: Option<&Node>) -> Vec<(String, f64)> {
    let ticks = 100.0; // USER_HZ on Linux
    let read = |pid: &str| -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / ticks)
    };
    let mut out = Vec::new();
    if let Some(t) = read("self") {
        out.push(("load generator".to_string(), t));
    }
    if let Some(node) = node {
        for i in 0..node.metrics.len() {
            let pid =
                std::fs::read_to_string(node.dir.path().join(format!("dev/node-{i}/node.pid")))
                    .unwrap_or_default();
            if let Some(t) = read(pid.trim()) {
                out.push((format!("node-{i}"), t));
            }
        }
    }
    out
}
