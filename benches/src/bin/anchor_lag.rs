//! `weft-anchor-lag`: how long after a block commits its anchor is confirmed on the Tangle, as a
//! client of one node sees it. It subscribes to new blocks and to the chain's anchors over one
//! WebSocket, notes when each block's notification arrives and when the anchor of that height
//! arrives confirmed, and prints p50, p90, p99 and max over `--blocks` blocks.
//!
//! `weft-anchor-lag --url ws://127.0.0.1:8545 --blocks 100`

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use weft_client::Client;

#[derive(Parser)]
struct Args {
    /// A committee member's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8545")]
    url: String,
    /// How many blocks to measure.
    #[arg(long, default_value_t = 100)]
    blocks: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = Client::connect(&args.url)
        .await
        .with_context(|| format!("cannot connect to {}", args.url))?;
    let chain = client.chain_info().await?.chain_id;
    let mut blocks = client.subscribe_blocks().await?;
    let mut anchors = client.subscribe_anchors(&chain).await?;
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    let mut confirmed: HashMap<u64, Instant> = HashMap::new();
    let mut delays = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_s);
    let mut first: Option<u64> = None;
    eprintln!(
        "measuring {} blocks on chain {chain} via {}",
        args.blocks, args.url
    );
    while delays.len() < args.blocks {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => bail!("timed out after {} measured blocks", delays.len()),
            Some(b) = blocks.next() => {
                let b = b?;
                first.get_or_insert(b.height);
                committed.insert(b.height, Instant::now());
            }
            Some(a) = anchors.next() => {
                let a = a?;
                if a.confirmed {
                    confirmed.insert(a.height, Instant::now());
                }
            }
        }
        let done: Vec<u64> = confirmed
            .keys()
            .filter(|h| committed.contains_key(h))
            .copied()
            .collect();
        for h in done {
            let (c, a) = (committed.remove(&h), confirmed.remove(&h));
            if let (Some(c), Some(a)) = (c, a) {
                delays.push(a.saturating_duration_since(c));
                if delays.len() % 20 == 0 {
                    eprintln!("{} blocks measured", delays.len());
                }
            }
        }
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];
    println!(
        "{} blocks from height {}: commit → confirmed anchor p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        first.unwrap_or(0),
        at(0.5),
        at(0.9),
        at(0.99),
        delays[delays.len() - 1]
    );
    Ok(())
}
