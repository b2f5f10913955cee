//! `weft-vc-bench`: end-to-end credential verifications per second against a Weft node, next to
//! the ed25519 floor of the same run.
//!
//! Setup: a root accredits an authority, which accredits an issuer for `AgeCredential`; the issuer
//! creates a revocation list, allocates `--credentials` indexes in one transaction, issues that
//! many distinct credentials (each with its own status entry) and revokes every 50th. Then, for
//! each securing format (`vc+jwt`, `eddsa-jcs-2022`, `eddsa-rdfc-2022`), `--workers` concurrent
//! tasks verify the credentials round-robin for `--seconds` with one shared
//! `CredentialVerifier`: the issuer's DID resolved from proven state, the status entry proven,
//! the signature checked, the trust chain (two accreditations and the authorities' DIDs) proven
//! and walked, every value proven against the committee's anchor (whose signatures are checked
//! once per anchor). Every result is checked: revoked credentials must be refused as `REVOKED`,
//! the others verified.
//!
//! Two settings: `refresh 1 s` (proven values reused for a second, as a verifying service
//! would; a revocation shows within a second plus the anchoring delay), and `refresh 0` (every
//! verification reads the latest anchored state again over the network).
//!
//! ```sh
//! cargo build --release -p weft-cli --bin weft -p weft-benches --bin weft-vc-bench
//! target/release/weft-vc-bench --spawn --nodes 1
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weft_benches::devnet::{Floor, Target, connect};
use weft_client::Client;
use weft_client::credentials::{CredentialVerifier, Issuer};
use weft_credentials::{Cryptosuite, Format, Options, Reason};
use weft_types::Keypair;
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document,
    VerificationMethod,
};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::trust::Grant;

#[derive(Parser)]
#[command(about = "End-to-end verified credential verifications per second on a Weft node")]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Distinct credentials to issue and verify.
    #[arg(long, default_value_t = 2_000)]
    credentials: u32,
    /// Seconds of verification per format and setting.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent verifying tasks.
    #[arg(long, default_value_t = 8)]
    workers: usize,
}

async fn create_did(client: &Client, chain: &str, seed: u8) -> Result<String> {
    let key = Keypair::from_seed([seed; 32]);
    let next = client
        .account(&key.public_key().address())
        .await?
        .next_nonce;
    let mut signer = weft_client::Signer::new(Keypair::from_seed([seed; 32]), chain, next);
    let document = Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    };
    let receipt = client
        .send_and_wait(&weft_client::did::tx::create(&mut signer, &document))
        .await?;
    if receipt.status != weft_client::json::Status::Success {
        bail!("creating a DID failed: {:?}", receipt.error);
    }
    // One DID per key (a fresh chain): its creation counter was 0.
    Ok(Did::new(chain, DidId::derive(&key.public_key().address(), 0)).to_string())
}

async fn wait_anchored(client: &Client, chain: &str) -> Result<()> {
    let head = client.chain_info().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if client
            .latest_anchor(chain)
            .await?
            .is_some_and(|a| a.height >= head.height || a.state_root == head.state_root)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("height {} was not anchored within 120 s", head.height);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let http = urls[0].replacen("ws://", "http://", 1);

    // Root → authority → issuer, and the issuer's revocation list.
    eprintln!("setting up the trust chain and the status list…");
    let (root, authority, issuer_did) = (
        create_did(&client, &chain, 201).await?,
        create_did(&client, &chain, 202).await?,
        create_did(&client, &chain, 203).await?,
    );
    let grant = |may_accredit| Grant {
        types: vec!["AgeCredential".into()],
        may_accredit,
        valid_until_ms: None,
    };
    Issuer::new(
        &client,
        Keypair::from_seed([201; 32]),
        &root,
        "key-1",
        &http,
    )
    .await?
    .accredit(&authority, &grant(true))
    .await?;
    Issuer::new(
        &client,
        Keypair::from_seed([202; 32]),
        &authority,
        "key-1",
        &http,
    )
    .await?
    .accredit(&issuer_did, &grant(false))
    .await?;
    let mut issuer = Issuer::new(
        &client,
        Keypair::from_seed([203; 32]),
        &issuer_did,
        "key-1",
        &http,
    )
    .await?;
    let list = issuer
        .create_list(ListSpec {
            purpose: Purpose::Revocation,
            entries: MIN_ENTRIES,
            status_size: 1,
            messages: Vec::new(),
        })
        .await?;
    let first = issuer.allocate(list, args.credentials).await?;
    let revoked: Vec<Change> = (0..args.credentials)
        .step_by(50)
        .map(|i| Change {
            index: first + i,
            value: 1,
        })
        .collect();
    issuer.change(list, &revoked).await?;
    wait_anchored(&client, &chain).await?;

    let formats = [
        ("vc+jwt", Format::Jose),
        (
            "eddsa-jcs-2022",
            Format::DataIntegrity(Cryptosuite::EddsaJcs2022),
        ),
        (
            "eddsa-rdfc-2022",
            Format::DataIntegrity(Cryptosuite::EddsaRdfc2022),
        ),
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let options = Arc::new(Options {
        now,
        trusted_roots: vec![root.clone()],
        ..Options::default()
    });
    floor.print(urls.len());
    for (name, format) in formats {
        eprintln!("issuing {} {name} credentials…", args.credentials);
        let credentials: Arc<Vec<(Value, bool)>> = Arc::new(
            (0..args.credentials)
                .map(|i| {
                    let credential = json!({
                        "@context": [
                            "https://www.w3.org/ns/credentials/v2",
                            "https://www.w3.org/ns/credentials/undefined-terms/v2"
                        ],
                        "type": ["VerifiableCredential", "AgeCredential"],
                        "issuer": issuer_did,
                        "validFrom": "2026-01-01T00:00:00Z",
                        "credentialSubject": {"id": format!("urn:uuid:{i:08}-bench"), "ageOver18": true},
                        "credentialStatus": issuer.status_entry(Purpose::Revocation, list, first + i),
                    });
                    let secured = weft_credentials::issue(
                        &credential,
                        issuer.key(),
                        &format,
                        "2026-01-01T00:00:00Z",
                    )?;
                    Ok((secured, i % 50 == 0))
                })
                .collect::<Result<Vec<_>>>()?,
        );
        for refresh in [Duration::from_secs(1), Duration::ZERO] {
            let verifier = Arc::new(
                CredentialVerifier::new(chain.clone(), committee.clone()).with_refresh(refresh),
            );
            let count = Arc::new(AtomicU64::new(0));
            // Connect first, so the window holds verifications only.
            let mut clients = Vec::new();
            for _ in 0..args.workers {
                clients.push(connect(&http).await?);
            }
            let started = Instant::now();
            let until = started + Duration::from_secs(args.seconds);
            let mut workers = Vec::new();
            for (w, client) in clients.into_iter().enumerate() {
                let (credentials, count, verifier, options) = (
                    credentials.clone(),
                    count.clone(),
                    verifier.clone(),
                    options.clone(),
                );
                workers.push(tokio::spawn(async move {
                    let mut i = w * 7919;
                    while Instant::now() < until {
                        let (credential, revoked) = &credentials[i % credentials.len()];
                        i += 1;
                        let report = verifier
                            .verify_credential(&client, credential, &options)
                            .await
                            .context("verifying")?;
                        let expected = if *revoked {
                            !report.verified && report.reasons() == [Reason::Revoked]
                        } else {
                            report.verified
                        };
                        if !expected {
                            bail!("credential {} got an unexpected report: {report:#?}", i - 1);
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    anyhow::Ok(())
                }));
            }
            for w in workers {
                w.await??;
            }
            let n = count.load(Ordering::Relaxed);
            println!(
                "{name}: {n} verified credential verifications in {:.1} s with {} workers, refresh {} s: {:.0}/s",
                started.elapsed().as_secs_f64(),
                args.workers,
                refresh.as_secs(),
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
