//! `weft-did-bench`: DID updates per second through a committee, and DID resolutions per second
//! with client-side verification, next to the ed25519 floor of the same run.
//!
//! 1. Creates `--dids` DIDs (one per key), then sends `--updates` updates of each (every update
//!    names the version it was made for, so they apply in order) over the binary ingest path, all
//!    at once, and reports committed updates per second from the first request to the block
//!    holding the last one. It checks afterwards that every sampled DID reached the last version.
//! 2. Resolves random DIDs for `--seconds` with `--workers` concurrent HTTP clients, each answer
//!    verified as a light client does (`Client::resolve_did_verified`: the anchor's signatures
//!    against the committee, the anchored root, every proof, the document recomputed), and
//!    reports verified resolutions per second. One `DidVerifier` serves all workers and remembers
//!    the anchors it checked. The committee is read from `weft_chainInfo` here (a real light
//!    client takes it from the genesis file).
//! 3. Verifies one answer repeatedly on every core: the client's own cost per verification.
//!
//! ```sh
//! cargo build --release -p weft-cli --bin weft -p weft-benches --bin weft-did-bench
//! target/release/weft-did-bench --spawn --nodes 4
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weft_benches::devnet::{Floor, Target, connect};
use weft_client::binary::{BinarySender, TxOutcome};
use weft_client::did::{DidResolution, DidVerifier, ResolveOptions, verify_resolution};
use weft_client::{Client, Signer};
use weft_types::did::{
    AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document, Op, VerificationMethod,
};
use weft_types::{ContractId, Keypair, SignedTransaction};

#[derive(Parser)]
#[command(about = "DID updates and verified DID resolutions per second on a Weft committee")]
struct Args {
    #[command(flatten)]
    target: Target,
    /// DIDs to create (one key each).
    #[arg(long, default_value_t = 1_000)]
    dids: usize,
    /// Updates per DID.
    #[arg(long, default_value_t = 4)]
    updates: u32,
    /// Seconds of resolution.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent resolving clients.
    #[arg(long, default_value_t = 16)]
    workers: usize,
}

fn seed(i: usize) -> [u8; 32] {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed
}

fn document(key: &Keypair) -> Document {
    Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    }
}

/// Sends `txs` over the binary path to the nodes in turn, in batches; fails on any refusal.
async fn submit(senders: &[BinarySender], txs: &[SignedTransaction]) -> Result<()> {
    for (i, batch) in txs.chunks(500).enumerate() {
        let outcomes = senders[i % senders.len()].send(batch).await?;
        if let Some(TxOutcome::Rejected { message, .. }) = outcomes
            .iter()
            .find(|o| matches!(o, TxOutcome::Rejected { .. }))
        {
            bail!("a transaction was refused: {message}");
        }
    }
    Ok(())
}

/// Waits until node 0 has announced blocks holding `count` more transactions; returns when.
async fn committed(client: &Client, count: u64, since: Instant) -> Result<Duration> {
    let mut blocks = client.subscribe_blocks().await?;
    let mut seen = 0;
    let deadline = since + Duration::from_secs(600);
    while seen < count {
        let header = tokio::time::timeout_at(deadline.into(), blocks.next())
            .await
            .context("transactions did not commit within 10 minutes")?
            .context("the block subscription ended")??;
        seen += header.tx_count;
    }
    Ok(since.elapsed())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let floor = Floor::measure();
    let (_node, urls) = args.target.start()?;
    let cores = floor.cores;
    let client = connect(&urls[0]).await?;
    let info = client.chain_info().await?;
    let chain = info.chain_id.clone();
    let committee = weft_benches::devnet::committee_of(&info)?;
    let identity = ContractId::system("identity");
    let senders: Vec<BinarySender> = urls
        .iter()
        .map(|u| BinarySender::new(u))
        .collect::<Result<_, _>>()?;

    // 1. Create the DIDs, then update each `updates` times.
    eprintln!("creating {} DIDs…", args.dids);
    let keys: Vec<Keypair> = (0..args.dids)
        .map(|i| Keypair::from_seed(seed(i)))
        .collect();
    let mut signers = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let next = client
            .account(&key.public_key().address())
            .await?
            .next_nonce;
        signers.push(Signer::new(Keypair::from_seed(seed(i)), &chain, next));
    }
    let mut ids = Vec::with_capacity(keys.len());
    let mut creates = Vec::with_capacity(keys.len());
    for (key, signer) in keys.iter().zip(&mut signers) {
        let created: u64 = client
            .call_borsh(
                &identity,
                "created_by",
                &borsh::to_vec(&(key.public_key().address(),))?,
            )
            .await
            .ok()
            .and_then(|r| borsh::from_slice(&r.return_data).ok())
            .unwrap_or(0);
        ids.push(DidId::derive(&key.public_key().address(), created));
        creates.push(signer.call(identity, "create", borsh::to_vec(&(document(key),))?));
    }
    let started = Instant::now();
    let waiting = committed(&client, creates.len() as u64, started);
    let (_, took) = tokio::try_join!(submit(&senders, &creates), waiting)?;
    eprintln!("created {} DIDs in {:.1} s", ids.len(), took.as_secs_f64());

    eprintln!("sending {} updates of each…", args.updates);
    let mut updates = Vec::new();
    for v in 1..=args.updates {
        for (i, (id, signer)) in ids.iter().zip(&mut signers).enumerate() {
            let ops = vec![Op::SetAlsoKnownAs(vec![format!(
                "https://meter-{i}.example/{v}"
            )])];
            updates.push(signer.call(identity, "update", borsh::to_vec(&(*id, v, ops))?));
        }
    }
    let started = Instant::now();
    let waiting = committed(&client, updates.len() as u64, started);
    let (_, took) = tokio::try_join!(submit(&senders, &updates), waiting)?;
    let update_rate = updates.len() as f64 / took.as_secs_f64();
    // Every sampled DID must be at its last version: the updates applied, none failed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in ids.iter().step_by((ids.len() / 20).max(1)) {
        let did = Did::new(chain.clone(), *id).to_string();
        let answer = client.resolve_did(&did, &ResolveOptions::default()).await?;
        let version = answer.result.did_document_metadata.version_id.clone();
        if version != Some((args.updates + 1).to_string()) {
            bail!("{did} is at version {version:?}, not {}", args.updates + 1);
        }
    }

    // 2. Verified resolutions over HTTP, wait for the anchor of the last update first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dids: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .map(|id| Did::new(chain.clone(), *id).to_string())
            .collect(),
    );
    let count = Arc::new(AtomicU64::new(0));
    let http_urls: Vec<String> = urls
        .iter()
        .map(|u| u.replacen("ws://", "http://", 1))
        .collect();
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    // One verifier for all workers, remembering the anchors it checked, as a resolving service
    // would keep it.
    let verifier = Arc::new(DidVerifier::new(chain.clone(), committee.clone()));
    for w in 0..args.workers {
        let client = connect(&http_urls[w % http_urls.len()]).await?;
        let (dids, count, verifier) = (dids.clone(), count.clone(), verifier.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w * 7919;
            while Instant::now() < until {
                let did = &dids[i % dids.len()];
                i += 1;
                client
                    .resolve_did_with(did, &ResolveOptions::default(), &verifier)
                    .await
                    .with_context(|| format!("resolving {did}"))?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    for w in workers {
        w.await??;
    }
    let resolved = count.load(Ordering::Relaxed);
    let resolve_rate = resolved as f64 / started.elapsed().as_secs_f64();

    // 3. The client's own cost: one answer verified over and over on every core.
    let answer: DidResolution = client
        .resolve_did(&dids[0], &ResolveOptions::default())
        .await?;
    let answer = Arc::new(answer);
    let window = Duration::from_secs(2);
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (answer, dids, chain, committee) = (
                answer.clone(),
                dids.clone(),
                chain.clone(),
                committee.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0u64;
                let options = ResolveOptions::default();
                while started.elapsed() < window {
                    if verify_resolution(&answer, &dids[0], &options, &chain, &committee).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let verified: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let verify_rate = verified as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (answer, dids, verifier) = (answer.clone(), dids.clone(), verifier.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let options = ResolveOptions::default();
                while started.elapsed() < window {
                    if verifier.verify(&answer, &dids[0], &options).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let verified: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let cached_rate = verified as f64 / started.elapsed().as_secs_f64();

    floor.print(urls.len());
    println!(
        "DID updates: {} through {} member(s) in {:.2} s: {update_rate:.0} updates/s",
        updates.len(),
        urls.len(),
        took.as_secs_f64()
    );
    println!(
        "verified DID resolutions over HTTP ({} workers, {} s): {resolved}, {resolve_rate:.0}/s",
        args.workers, args.seconds
    );
    println!(
        "client-side verification alone ({cores} threads, committee of {}): {verify_rate:.0}/s checking the anchor's signatures every time, {cached_rate:.0}/s with the anchor remembered",
        committee.members.len()
    );
    Ok(())
}
