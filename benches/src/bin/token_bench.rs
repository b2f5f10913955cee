//! `weft-token-bench`: token transfers committed per second through a committee (or one node),
//! next to the ed25519 floor measured in the same run.
//!
//! Setup: an owner creates a token, mints to itself, and pays `--senders` accounts in batch
//! transfers. Then every sender's `--transfers` transfers (1 base unit each, to its own
//! receiver, an account that never sends) are signed up front and sent over the binary ingest
//! path at once; the rate is committed transfers per second from the first request to the block
//! holding the last one. Last, the run checks every balance (each sender at 0, each receiver at
//! `--transfers`: a failed transfer shows) and that the supply is still the sum of the balances.
//!
//! ```sh
//! cargo build --release -p weft-cli --bin weft -p weft-benches --bin weft-token-bench
//! target/release/weft-token-bench --spawn --nodes 4
//! target/release/weft-token-bench --spawn --nodes 1
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::time::{Duration, Instant};
use weft_benches::devnet::{Floor, Target, connect, send_all};
use weft_client::json::Status;
use weft_client::token::{self, tx};
use weft_client::{Client, Signer};
use weft_types::holder::Holder;
use weft_types::token::{MAX_BATCH, Metadata, TokenSpec};
use weft_types::{Keypair, SignedTransaction};

#[derive(Parser)]
#[command(about = "Token transfers committed per second")]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Accounts that send.
    #[arg(long, default_value_t = 200)]
    senders: usize,
    /// Transfers per sender.
    #[arg(long, default_value_t = 50)]
    transfers: usize,
}

fn seed(run: u64, i: usize) -> [u8; 32] {
    let mut seed = [23u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[8..16].copy_from_slice(&run.to_le_bytes());
    seed
}

async fn send(client: &Client, tx: &SignedTransaction) -> Result<Vec<u8>> {
    let receipt = client.send_and_wait(tx).await?;
    if receipt.status != Status::Success {
        bail!("a setup transaction failed: {:?}", receipt.error);
    }
    Ok(receipt.return_data)
}

async fn signer(client: &Client, chain: &str, key: Keypair) -> Result<Signer> {
    let next = client
        .account(&key.public_key().address())
        .await?
        .next_nonce;
    Ok(Signer::new(key, chain, next))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.senders == 0 || args.transfers == 0 {
        bail!("--senders and --transfers must be at least 1");
    }
    let floor = Floor::measure();
    let (_node, urls) = args.target.start()?;
    let client = connect(&urls[0]).await?;
    let chain = client.chain_info().await?.chain_id;
    // Fresh keys per run, so a run against a long-lived devnet starts from empty balances.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);

    eprintln!("setting up a token and {} funded senders…", args.senders);
    let owner_key = Keypair::from_seed(seed(run, usize::MAX));
    let owner_holder = Holder::Account(owner_key.public_key().address());
    let mut owner = signer(&client, &chain, owner_key).await?;
    let spec = TokenSpec {
        name: "Bench credit".into(),
        symbol: "BENCH".into(),
        decimals: 0,
        max_supply: None,
        pausable: false,
        freezable: false,
        metadata: Metadata::default(),
    };
    let id: u64 =
        borsh::from_slice(&send(&client, &tx::create(&mut owner, &owner_holder, &spec)).await?)?;
    send(
        &client,
        &tx::set_minter(&mut owner, id, &owner_holder, None),
    )
    .await?;
    let each = args.transfers as u128;
    let total = each * args.senders as u128;
    send(
        &client,
        &tx::mint(&mut owner, id, &owner_holder, &owner_holder, total),
    )
    .await?;
    let keys: Vec<Keypair> = (0..args.senders)
        .map(|i| Keypair::from_seed(seed(run, i)))
        .collect();
    let holders: Vec<Holder> = keys
        .iter()
        .map(|k| Holder::Account(k.public_key().address()))
        .collect();
    for chunk in holders.chunks(MAX_BATCH) {
        let transfers: Vec<(Holder, u128)> = chunk.iter().map(|h| (*h, each)).collect();
        send(
            &client,
            &tx::transfer_batch(&mut owner, id, &owner_holder, &transfers),
        )
        .await?;
    }

    // Every transfer signed up front: sender i pays 1 unit to receiver i, `transfers` times.
    let receivers: Vec<Holder> = (0..args.senders)
        .map(|i| {
            Holder::Account(
                Keypair::from_seed(seed(run, args.senders + i))
                    .public_key()
                    .address(),
            )
        })
        .collect();
    let mut txs = Vec::with_capacity(args.senders * args.transfers);
    let mut signers = Vec::with_capacity(args.senders);
    for key in keys {
        signers.push(signer(&client, &chain, key).await?);
    }
    for _ in 0..args.transfers {
        for (i, s) in signers.iter_mut().enumerate() {
            txs.push(tx::transfer(s, id, &holders[i], &receivers[i], 1));
        }
    }
    eprintln!("sending {} transfers…", txs.len());
    let took = send_all(&client, &urls, &txs, "a transfer").await?;
    let rate = txs.len() as f64 / took.as_secs_f64();

    // Every transfer moved exactly one unit: each sender is empty, each receiver holds
    // `transfers`.
    let last = txs.last().context("at least one transfer")?.tx.hash();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.receipt(&last).await?.is_none() {
        if Instant::now() > deadline {
            bail!("the last transfer has no receipt 30 s after its block");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sum = 0u128;
    for (sender, receiver) in holders.iter().zip(&receivers) {
        let (sent, received) = (
            token::balance(&client, id, sender).await?,
            token::balance(&client, id, receiver).await?,
        );
        if sent != 0 || received != each {
            bail!(
                "sender {} holds {sent} and its receiver {} holds {received}, expected 0 and {each}: a transfer failed or moved the wrong amount",
                sender.to_text(&chain),
                receiver.to_text(&chain)
            );
        }
        sum += sent + received;
    }
    let info = token::info(&client, id)
        .await?
        .context("the token exists")?;
    if info.supply != sum + token::balance(&client, id, &owner_holder).await? {
        bail!("the supply {} is not the sum of the balances", info.supply);
    }

    floor.print(urls.len());
    println!(
        "token transfers: {} by {} senders through {} member(s) in {:.2} s: {rate:.0} transfers/s ({:.2} of the floor); every balance checked",
        txs.len(),
        args.senders,
        urls.len(),
        took.as_secs_f64(),
        rate / (floor.all / urls.len() as f64)
    );
    Ok(())
}
