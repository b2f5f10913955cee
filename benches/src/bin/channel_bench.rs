//! `weft-channel-bench`: audit-trail channel entries written per second through a committee, and
//! entries read with proofs, decrypted and validated per second on one client, next to the floors
//! of the same run (ed25519 verifications for the writes, X25519 agreements for the reads).
//!
//! Setup: an author creates a private channel, authorizes `--writers` writers (each its own key
//! and DID) and one reader with an X25519 key-agreement key, and shares the epoch key with the
//! reader. Then every writer's `--entries` entries (each a 200-byte payload sealed to the epoch
//! key) are signed up front and sent over the binary ingest path at once; the rate is committed
//! entries per second from the first request to the block holding the last one. Last, the reader
//! reads the whole channel with proofs (`weft_client::channels::read_channel`), validates the
//! hash chain and decrypts every entry, timed separately.
//!
//! ```sh
//! cargo build --release -p weft-cli --bin weft -p weft-benches --bin weft-channel-bench
//! target/release/weft-channel-bench --spawn --nodes 4
//! ```

use anyhow::{Result, bail};
use clap::Parser;
use std::time::{Duration, Instant};
use weft_benches::devnet::{Floor, Target, connect, send_all};
use weft_channels::{AgreementSecret, EpochSecret};
use weft_client::channels::{self, tx};
use weft_client::credentials::CredentialVerifier;
use weft_client::json::Status;
use weft_client::{Client, Signer};
use weft_types::channel::{ChannelSpec, EntryInput, Payload, Rights, WrappedKey};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, KEY_AGREEMENT,
    KeyFormat, KeyType, VerificationMethod,
};
use weft_types::{Hash32, Keypair, SignedTransaction};

#[derive(Parser)]
#[command(about = "Channel entries written, and read, decrypted and validated, per second")]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Writers (one key and DID each).
    #[arg(long, default_value_t = 50)]
    writers: usize,
    /// Entries per writer.
    #[arg(long, default_value_t = 40)]
    entries: usize,
}

fn seed(i: usize) -> [u8; 32] {
    let mut seed = [11u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed
}

async fn did_of(
    client: &Client,
    chain: &str,
    key: &Keypair,
    agreement: Option<&AgreementSecret>,
) -> Result<DidId> {
    let next = client
        .account(&key.public_key().address())
        .await?
        .next_nonce;
    let mut signer = Signer::new(Keypair::from_seed(key.seed()), chain, next);
    let mut methods = vec![VerificationMethod::ed25519(
        "key-1",
        key.public_key().0,
        AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
    )];
    if let Some(a) = agreement {
        methods.push(VerificationMethod {
            fragment: "key-agreement-1".into(),
            key_type: KeyType::X25519,
            format: KeyFormat::Multikey,
            public_key: a.public(),
            relationships: KEY_AGREEMENT,
        });
    }
    let document = Document {
        methods,
        ..Document::default()
    };
    let receipt = client
        .send_and_wait(&weft_client::did::tx::create(&mut signer, &document))
        .await?;
    if receipt.status != Status::Success {
        bail!("creating a DID failed: {:?}", receipt.error);
    }
    Ok(DidId::derive(&key.public_key().address(), 0))
}

async fn send(client: &Client, tx: &SignedTransaction) -> Result<Vec<u8>> {
    let receipt = client.send_and_wait(tx).await?;
    if receipt.status != Status::Success {
        bail!("a setup transaction failed: {:?}", receipt.error);
    }
    Ok(receipt.return_data)
}

/// X25519 key agreements per second on one core for about a second.
fn x25519_floor() -> f64 {
    let a = AgreementSecret::generate();
    let epoch = EpochSecret::generate();
    let sealed = weft_channels::seal(&Hash32::default(), 0, &epoch.public(), b"x");
    let _ = a;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        // Opening a sealed payload is one agreement plus HKDF and a tiny AEAD.
        if weft_channels::open(&Hash32::default(), 0, &epoch, &sealed).is_ok() {
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let floor = Floor::measure();
    let (_node, urls) = args.target.start()?;
    let client = connect(&urls[0]).await?;
    let info = client.chain_info().await?;
    let chain = info.chain_id.clone();
    let committee = weft_benches::devnet::committee_of(&info)?;

    eprintln!(
        "setting up the channel, {} writers and a reader…",
        args.writers
    );
    let author_key = Keypair::from_seed(seed(0));
    let author = did_of(&client, &chain, &author_key, None).await?;
    let reader_agreement = AgreementSecret::generate();
    let reader_key = Keypair::from_seed(seed(1));
    let reader = did_of(&client, &chain, &reader_key, Some(&reader_agreement)).await?;
    let mut author_signer = Signer::new(
        Keypair::from_seed(seed(0)),
        &chain,
        client
            .account(&author_key.public_key().address())
            .await?
            .next_nonce,
    );
    let epoch = EpochSecret::generate();
    let spec = ChannelSpec {
        name: "bench".into(),
        description: String::new(),
        topics: Vec::new(),
        private: true,
    };
    let id: Hash32 = borsh::from_slice(
        &send(
            &client,
            &tx::create(&mut author_signer, &author, &spec, Some(epoch.public())),
        )
        .await?,
    )?;
    send(
        &client,
        &tx::authorize(
            &mut author_signer,
            &id,
            &author,
            &reader,
            Rights::Read,
            None,
        ),
    )
    .await?;
    let wrapped = WrappedKey {
        reader,
        epoch: 0,
        recipient: reader_agreement.public(),
        wrapped: weft_channels::wrap(&id, 0, &epoch, &reader, &reader_agreement.public()),
    };
    send(
        &client,
        &tx::share_keys(&mut author_signer, &id, &author, &[wrapped]),
    )
    .await?;
    let mut writers = Vec::new();
    for w in 0..args.writers {
        let key = Keypair::from_seed(seed(100 + w));
        let did = did_of(&client, &chain, &key, None).await?;
        send(
            &client,
            &tx::authorize(&mut author_signer, &id, &author, &did, Rights::Write, None),
        )
        .await?;
        let next = client
            .account(&key.public_key().address())
            .await?
            .next_nonce;
        writers.push((Signer::new(key, &chain, next), did));
    }

    // Every entry signed up front, sealed to the epoch key.
    let payload = [7u8; 200];
    let mut txs = Vec::new();
    for round in 0..args.entries {
        for (signer, did) in &mut writers {
            let input = EntryInput {
                kind: "event".into(),
                metadata: format!("{{\"n\":{round}}}"),
                public_payload: Vec::new(),
                payload: Payload::Inline(weft_channels::seal(&id, 0, &epoch.public(), &payload)),
                epoch: 0,
            };
            txs.push(tx::write(signer, &id, did, &input));
        }
    }
    eprintln!("writing {} entries…", txs.len());
    let took = send_all(&client, &urls, &txs, "an entry").await?;
    let write_rate = txs.len() as f64 / took.as_secs_f64();

    // Read with proofs, then validate and decrypt.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let verifier = CredentialVerifier::new(chain.clone(), committee);
    let started = Instant::now();
    let proven = channels::read_channel(&client, &verifier, &id).await?;
    let read_took = started.elapsed();
    if proven.entries.len() != txs.len() {
        bail!("read {} entries, wrote {}", proven.entries.len(), txs.len());
    }
    let keys = channels::read_keys(&client, &verifier, &id, &reader, proven.height).await?;
    let started = Instant::now();
    weft_channels::validate(&proven.entries, &proven.channel.head)
        .map_err(|e| anyhow::anyhow!("the channel does not validate: {e}"))?;
    let decrypted = channels::decrypt(&proven, &reader, &reader_agreement, &keys);
    let local = started.elapsed();
    if decrypted
        .iter()
        .any(|(_, r)| r.as_deref() != Ok(&payload[..]))
    {
        bail!("an entry did not decrypt to what was written");
    }

    // Measured now, with the committee idle: opening a sealed payload on one core.
    let open_floor = x25519_floor();
    floor.print(urls.len());
    println!(
        "sealed-payload opens/s on this machine (1 core; one X25519 agreement each): {open_floor:.0}"
    );
    println!(
        "channel entries written: {} by {} writers through {} member(s) in {:.2} s: {write_rate:.0} entries/s ({:.2} of the floor)",
        txs.len(),
        args.writers,
        urls.len(),
        took.as_secs_f64(),
        write_rate / (floor.all / urls.len() as f64)
    );
    println!(
        "read with proofs: {} entries in {:.2} s ({:.0}/s); validated and decrypted on one core in {:.3} s: {:.0} entries/s",
        proven.entries.len(),
        read_took.as_secs_f64(),
        proven.entries.len() as f64 / read_took.as_secs_f64(),
        local.as_secs_f64(),
        proven.entries.len() as f64 / local.as_secs_f64()
    );
    Ok(())
}
