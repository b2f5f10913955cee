//! Runnable scenarios against a running Weft chain (`weft dev`): each is a function here, run by
//! its program (`cargo run -p weft-examples --bin age-check`) and by CI
//! (`chain/cli/tests/examples.rs` starts `weft dev` and runs them all).
//!
//! Every party makes its own key on the spot and keeps it; no key is ever sent anywhere. The
//! verifiers (the shop, the gate) verify on state the node proves against the committee of the
//! chain's genesis file, so they need not trust the node they ask.

#[path = "../age-check/story.rs"]
pub mod age_check;
#[path = "../audit-trail/story.rs"]
pub mod audit_trail;
#[path = "../energy-market/story.rs"]
pub mod energy_market;
#[path = "../logistics/story.rs"]
pub mod logistics;
#[path = "../smart-meters/story.rs"]
pub mod smart_meters;
#[path = "../tickets/story.rs"]
pub mod tickets;

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::Duration;
use weft_client::credentials::{CredentialVerifier, Issuer};
use weft_client::json::Status;
use weft_client::{Client, Signer, keyfile};
use weft_credentials::Report;
use weft_types::Keypair;
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document,
    VerificationMethod,
};

/// The `main` of an example program: runs `story` against the target from the command line,
/// printing an error and exiting non-zero if the story fails.
#[macro_export]
macro_rules! example_main {
    ($story:path) => {
        #[tokio::main]
        async fn main() -> std::process::ExitCode {
            let result = async {
                let target = $crate::Target::from_args()?;
                $story(&target).await
            }
            .await;
            match result {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    };
}

/// Where a scenario runs: a node's RPC URL and the chain's genesis file.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node's JSON-RPC URL.
    pub rpc: String,
    /// The genesis file: its committee is what verifiers trust.
    pub genesis: PathBuf,
}

impl Target {
    /// `--rpc URL` and `--genesis FILE` from the command line, with `weft dev`'s defaults
    /// (`http://127.0.0.1:8545`, `.weft-dev/genesis.toml`).
    pub fn from_args() -> Result<Self> {
        let mut rpc = "http://127.0.0.1:8545".to_string();
        let mut genesis = PathBuf::from(".weft-dev/genesis.toml");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--rpc" => rpc = args.next().context("--rpc needs a URL")?,
                "--genesis" => genesis = args.next().context("--genesis needs a path")?.into(),
                "-h" | "--help" => {
                    println!(
                        "usage: [--rpc URL] [--genesis FILE]   (defaults: {rpc}, {})",
                        genesis.display()
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}; expected --rpc URL or --genesis FILE"),
            }
        }
        Ok(Self { rpc, genesis })
    }

    /// Connects, and reads the committee from the genesis file.
    pub async fn connect(&self) -> Result<(Client, CredentialVerifier)> {
        let client = Client::connect(&self.rpc)
            .await
            .with_context(|| format!("is `weft dev` running at {}?", self.rpc))?;
        client
            .chain_info()
            .await
            .with_context(|| format!("is `weft dev` running at {}?", self.rpc))?;
        let text = std::fs::read_to_string(&self.genesis)
            .with_context(|| format!("reading the genesis file {}", self.genesis.display()))?;
        let (chain, committee) =
            weft_client::genesis::committee_of_genesis(&text).map_err(anyhow::Error::msg)?;
        // Every verification reads the latest anchored state: the examples show revocations
        // taking effect at once.
        let verifier = CredentialVerifier::new(chain, committee).with_refresh(Duration::ZERO);
        Ok((client, verifier))
    }
}

/// A party with its own key and DID.
pub struct Party {
    /// Who it is, for the story.
    pub name: &'static str,
    /// Its key, made here and kept here.
    pub key: Keypair,
    /// Its DID.
    pub did: String,
    /// Its X25519 key-agreement secret, when its DID lists one (for reading channels).
    pub agreement: Option<weft_channels::AgreementSecret>,
}

impl Party {
    /// Makes a key and creates a DID whose `#key-1` is that key (authentication,
    /// assertionMethod, capabilityInvocation).
    pub async fn new(client: &Client, name: &'static str) -> Result<Self> {
        Self::create(client, name, None).await
    }

    /// Like [`Party::new`], with an X25519 `#key-agreement-1` too (channel keys are wrapped to
    /// it).
    pub async fn reader(client: &Client, name: &'static str) -> Result<Self> {
        Self::create(
            client,
            name,
            Some(weft_channels::AgreementSecret::generate()),
        )
        .await
    }

    async fn create(
        client: &Client,
        name: &'static str,
        agreement: Option<weft_channels::AgreementSecret>,
    ) -> Result<Self> {
        let key = keyfile::generate();
        let info = client.chain_info().await?;
        let mut signer = Signer::new(Keypair::from_seed(key.seed()), &info.chain_id, 0);
        let mut methods = vec![VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
        )];
        if let Some(a) = &agreement {
            methods.push(VerificationMethod {
                fragment: "key-agreement-1".into(),
                key_type: weft_types::did::KeyType::X25519,
                format: weft_types::did::KeyFormat::Multikey,
                public_key: a.public(),
                relationships: weft_types::did::KEY_AGREEMENT,
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
            bail!("{name}'s DID was not created: {:?}", receipt.error);
        }
        let did =
            Did::new(info.chain_id, DidId::derive(&key.public_key().address(), 0)).to_string();
        println!("  {name}: {did}");
        Ok(Self {
            name,
            key,
            did,
            agreement,
        })
    }

    /// This party as an issuer or authority, talking to `client`.
    pub async fn issuer<'a>(&self, client: &'a Client, rpc: &str) -> Result<Issuer<'a>> {
        Ok(Issuer::new(
            client,
            Keypair::from_seed(self.key.seed()),
            &self.did,
            "key-1",
            rpc,
        )
        .await?)
    }

    /// A transaction signer of its key (its next nonce read from the node).
    pub async fn tx_signer(&self, client: &Client) -> Result<Signer> {
        let info = client.chain_info().await?;
        let next = client
            .account(&self.key.public_key().address())
            .await?
            .next_nonce;
        Ok(Signer::new(
            Keypair::from_seed(self.key.seed()),
            &info.chain_id,
            next,
        ))
    }

    /// Its signing key for presentations.
    pub fn signer(&self) -> weft_credentials::Signer {
        weft_credentials::Signer::new(
            weft_credentials::SigningKey::from_bytes(&self.key.seed()),
            format!("{}#key-1", self.did),
        )
        .expect("a DID URL with a fragment")
    }
}

/// An unsecured credential of type `kind` about `subject` (its claims, with `id`), valid from
/// `valid_from`, in the VC 2.0 and undefined-terms contexts (the examples' claims are terms of
/// their own).
pub fn credential(kind: &str, valid_from: &str, subject: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/undefined-terms/v2"
        ],
        "type": ["VerifiableCredential", kind],
        "validFrom": valid_from,
        "credentialSubject": subject,
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Waits until the committee has anchored the chain's current head, so verifiers reading
/// anchored state see everything committed so far.
pub async fn wait_anchored(client: &Client) -> Result<()> {
    let info = client.chain_info().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(anchor) = client.latest_anchor(&info.chain_id).await?
            && (anchor.height >= info.height || anchor.state_root == info.state_root)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("height {} was not anchored within 60 s", info.height);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints a verifier's decision with the reasons of any refusal; returns the reasons.
pub fn decide(what: &str, report: &Report) -> Vec<weft_credentials::Reason> {
    let reasons = report.reasons();
    if report.verified {
        println!("  ✔ {what}: accepted");
    } else {
        println!("  ✘ {what}: refused");
        for check in report
            .checks
            .iter()
            .chain(report.credentials.iter().flat_map(|c| c.checks.iter()))
            .filter(|c| c.outcome == weft_credentials::Outcome::Failed)
        {
            println!(
                "      {} [{:?}] {}",
                check.check,
                check.reason.unwrap_or(weft_credentials::Reason::Malformed),
                check.detail
            );
        }
    }
    reasons
}

/// Fails unless `reasons` holds `expected`.
pub fn expect_refusal(
    what: &str,
    reasons: &[weft_credentials::Reason],
    expected: weft_credentials::Reason,
) -> Result<()> {
    if reasons.contains(&expected) {
        Ok(())
    } else {
        bail!("{what}: expected a refusal for {expected:?}, got {reasons:?}")
    }
}

/// A verifier's desk (the shop's checkout, the gate): its own single-use challenges, the roots
/// it trusts, its domain, and a [`CredentialVerifier`] on proven state.
pub struct Desk<'a> {
    client: &'a Client,
    verifier: CredentialVerifier,
    challenges: weft_credentials::ChallengeStore,
    roots: Vec<String>,
    /// The domain presentations must be made for.
    pub domain: &'static str,
}

impl<'a> Desk<'a> {
    /// A desk at `domain` trusting `roots`.
    pub fn new(
        client: &'a Client,
        verifier: CredentialVerifier,
        domain: &'static str,
        roots: Vec<String>,
    ) -> Self {
        Self {
            client,
            verifier,
            challenges: Default::default(),
            roots,
            domain,
        }
    }

    /// A fresh challenge, valid for two minutes.
    pub fn challenge(&self) -> String {
        self.challenges.issue(now(), 120)
    }

    /// Verifies `presentation`, made for `challenge`, and prints the decision.
    pub async fn check(
        &self,
        what: &str,
        presentation: &serde_json::Value,
        challenge: &str,
    ) -> Result<Report> {
        let options = weft_credentials::Options {
            now: now(),
            trusted_roots: self.roots.clone(),
            challenge: Some(challenge.to_string()),
            domain: Some(self.domain.into()),
            max_age: None,
        };
        let report = self
            .verifier
            .verify_presentation(self.client, presentation, &options, &self.challenges)
            .await?;
        decide(what, &report);
        Ok(report)
    }

    /// Like [`Desk::check`], failing unless the presentation is accepted.
    pub async fn admit(
        &self,
        what: &str,
        presentation: &serde_json::Value,
        challenge: &str,
    ) -> Result<()> {
        if !self.check(what, presentation, challenge).await?.verified {
            bail!("{what} should have been accepted");
        }
        Ok(())
    }

    /// Like [`Desk::check`], failing unless the presentation is refused for `expected`.
    pub async fn refuse(
        &self,
        what: &str,
        presentation: &serde_json::Value,
        challenge: &str,
        expected: weft_credentials::Reason,
    ) -> Result<()> {
        let report = self.check(what, presentation, challenge).await?;
        expect_refusal(what, &report.reasons(), expected)
    }
}
