//! Trusted smart meters (see `README.md` next to this file).

use crate::{Party, Target, wait_anchored};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use weft_client::Client;
use weft_client::channels::{self, Manager};
use weft_client::credentials::CredentialVerifier;
use weft_credentials::{Format, Options, Reason};
use weft_types::Keypair;
use weft_types::channel::{ChannelSpec, Payload, Rights};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};

/// A `MeterCertificate` credential about `meter` (unsigned).
pub fn certificate(meter: &str, serial: &str) -> Value {
    crate::credential(
        "MeterCertificate",
        "2026-01-01T00:00:00Z",
        json!({"id": meter, "serial": serial, "accuracyClass": "B"}),
    )
}

/// A reading, as a credential the meter issues about itself and signs with its own key.
pub fn reading(meter: &str, kwh: f64, at: &str) -> Value {
    let mut reading = crate::credential(
        "MeterReading",
        at,
        json!({"id": meter, "energyKWh": kwh, "measuredAt": at}),
    );
    reading["issuer"] = meter.into();
    reading
}

/// Runs the story; fails unless every decision is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    println!("Parties, each with its own key and did:weft DID:");
    let certifier = Party::new(&client, "the metrology certifier").await?;
    let market = Party::new(&client, "the energy market").await?;
    let meter_a = Party::new(&client, "meter A").await?;
    let meter_b = Party::new(&client, "meter B").await?;

    println!("\nThe certifier certifies both meters (with a revocation entry each):");
    let mut certifier_issuer = certifier.issuer(&client, &target.rpc).await?;
    let list = certifier_issuer
        .create_list(ListSpec {
            purpose: Purpose::Revocation,
            entries: MIN_ENTRIES,
            status_size: 1,
            messages: Vec::new(),
        })
        .await?;
    let lists = [(Purpose::Revocation, list)];
    let cert_a = certifier_issuer
        .issue(certificate(&meter_a.did, "A-0001"), &Format::Jose, &lists)
        .await?;
    let cert_b = certifier_issuer
        .issue(certificate(&meter_b.did, "B-0002"), &Format::Jose, &lists)
        .await?;

    println!("\nThe market opens a public readings channel; both meters may write:");
    let spec = ChannelSpec {
        name: "meter readings".into(),
        description: "signed readings of certified meters".into(),
        topics: vec!["energy".into()],
        private: false,
    };
    let mut manager = Manager::create(
        &client,
        Keypair::from_seed(market.key.seed()),
        &market.did,
        &spec,
    )
    .await?;
    let channel = manager.id();
    manager.authorize(&meter_a.did, Rights::Write, None).await?;
    manager.authorize(&meter_b.did, Rights::Write, None).await?;

    // Each meter signs its readings with its own key and posts them.
    let post = |meter: &Party, signer_key: &Keypair, kwh: f64, at: &str| -> Result<Vec<u8>> {
        let key = weft_credentials::Signer::new(
            weft_credentials::SigningKey::from_bytes(&signer_key.seed()),
            format!("{}#key-1", meter.did),
        )?;
        let signed =
            weft_credentials::issue(&reading(&meter.did, kwh, at), &key, &Format::Jose, at)?;
        Ok(serde_json::to_vec(&signed)?)
    };
    let mut a = meter_a.tx_signer(&client).await?;
    let a_id = meter_a.did.parse::<weft_types::did::Did>()?.id;
    let body = post(&meter_a, &meter_a.key, 12.5, "2026-06-01T12:00:00Z")?;
    channels::write_entry(&client, &mut a, &channel, &a_id, "reading", "", b"", &body).await?;
    let mut b = meter_b.tx_signer(&client).await?;
    let b_id = meter_b.did.parse::<weft_types::did::Did>()?.id;
    let body = post(&meter_b, &meter_b.key, 7.25, "2026-06-01T12:00:00Z")?;
    channels::write_entry(&client, &mut b, &channel, &b_id, "reading", "", b"", &body).await?;
    // A clone of meter A: a device that copied A's identity but not its key, posting through
    // meter B's channel rights.
    let clone_key = weft_client::keyfile::generate();
    let body = post(&meter_a, &clone_key, 99.0, "2026-06-01T12:00:00Z")?;
    channels::write_entry(&client, &mut b, &channel, &b_id, "reading", "", b"", &body).await?;
    println!("  meters A and B posted readings; a clone of A posted one too");

    println!("\nThe certifier revokes meter B's certificate (it failed a recalibration):");
    let b_index = status_index(&cert_b)?;
    certifier_issuer
        .change(
            list,
            &[Change {
                index: b_index,
                value: 1,
            }],
        )
        .await?;
    wait_anchored(&client).await?;

    println!("\nThe market reads the channel on proven state and accepts only certified readings:");
    let proven = channels::read_channel(&client, &verifier, &channel).await?;
    weft_channels::validate(&proven.entries, &proven.channel.head)?;
    let certificates = [(meter_a.did.clone(), cert_a), (meter_b.did.clone(), cert_b)];
    let options = Options {
        now: crate::now(),
        trusted_roots: vec![certifier.did.clone()],
        ..Options::default()
    };
    let mut decisions = Vec::new();
    for entry in &proven.entries {
        let Payload::Inline(bytes) = &entry.input.payload else {
            bail!("readings are inline");
        };
        let signed: Value = serde_json::from_slice(bytes)?;
        let meter = reading_issuer(&signed)?;
        let certificate = certificates
            .iter()
            .find(|(did, _)| *did == meter)
            .map(|(_, c)| c.clone())
            .context("a certificate for every meter")?;
        let reasons = check_reading(&verifier, &client, &signed, &certificate, &options).await?;
        let what = format!("entry {}: a reading of {meter}", entry.index);
        if reasons.is_empty() {
            println!("  ✔ {what}: accepted");
        } else {
            println!("  ✘ {what}: refused {reasons:?}");
        }
        decisions.push(reasons);
    }
    if !decisions[0].is_empty()
        || !decisions[1].contains(&Reason::Revoked)
        || !decisions[2]
            .iter()
            .any(|r| matches!(r, Reason::BadSignature | Reason::UnknownKey))
    {
        bail!(
            "expected: A accepted, B refused as revoked, the clone refused for its signature; got {decisions:?}"
        );
    }
    println!("\nThe smart meters behaved as they should.");
    Ok(())
}

/// Whether `signed` is a reading signed by a key of the meter it names (1), and that meter's
/// `certificate` verifies under `options`: certifier, signature, status, trust (2). Returns the
/// reasons of any refusal: none when the reading counts.
pub async fn check_reading(
    verifier: &CredentialVerifier,
    client: &Client,
    signed: &Value,
    certificate: &Value,
    options: &Options,
) -> Result<Vec<Reason>> {
    let reading = verifier
        .verify_credential(
            client,
            signed,
            &Options {
                trusted_roots: Vec::new(),
                ..options.clone()
            },
        )
        .await?;
    let certified = verifier
        .verify_credential(client, certificate, options)
        .await?;
    let mut reasons = reading.reasons();
    reasons.extend(certified.reasons());
    Ok(reasons)
}

/// The claims of a `vc+jwt` credential enveloped by its issuer (`id` is `data:…,<JWS>`).
pub fn jwt_claims(enveloped: &Value) -> Result<serde_json::Map<String, Value>> {
    let compact = enveloped["id"]
        .as_str()
        .and_then(|id| id.split_once(','))
        .map(|(_, c)| c)
        .context("an enveloped credential has a data: URL id")?;
    Ok(weft_credentials::jose::Jws::parse(compact, None)?.payload)
}

/// The status-list index of a `vc+jwt` credential enveloped by the issuer.
pub fn status_index(credential: &Value) -> Result<u32> {
    let payload = jwt_claims(credential)?;
    let entries = weft_credentials::bitstring::StatusEntry::all_of(&Value::Object(payload))?;
    Ok(u32::try_from(
        entries.first().context("a status entry")?.index,
    )?)
}

/// The issuer of an enveloped `vc+jwt` reading.
pub fn reading_issuer(signed: &Value) -> Result<String> {
    Ok(jwt_claims(signed)?["issuer"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}
