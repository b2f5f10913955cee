//! Logistics documents shared with the right parties (see `README.md` next to this file).

use crate::{Party, Target, wait_anchored};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use weft_client::channels::{self, Manager};
use weft_credentials::{Format, Options};
use weft_types::Keypair;
use weft_types::channel::{ChannelSpec, Rights};

fn license(holder: &str, kind: &str) -> Value {
    crate::credential(kind, "2026-01-01T00:00:00Z", json!({"id": holder}))
}

/// Runs the story; fails unless every outcome is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    println!("Parties, each with its own key and did:weft DID:");
    let registry = Party::new(&client, "the trade registry").await?;
    let shipper = Party::new(&client, "the shipper").await?;
    let carrier = Party::reader(&client, "the carrier").await?;
    let port = Party::reader(&client, "the port authority").await?;
    let outsider = Party::reader(&client, "a competitor").await?;
    let now = crate::now();

    println!("\nThe registry licenses the carrier and the port authority:");
    let mut registry_issuer = registry.issuer(&client, &target.rpc).await?;
    let carrier_license = registry_issuer
        .issue(license(&carrier.did, "CarrierLicense"), &Format::Jose, &[])
        .await?;
    let port_license = registry_issuer
        .issue(
            license(&port.did, "PortAuthorityLicense"),
            &Format::Jose,
            &[],
        )
        .await?;
    let outsider_license = outsider
        .issuer(&client, &target.rpc)
        .await?
        .issue(license(&outsider.did, "CarrierLicense"), &Format::Jose, &[])
        .await?;
    // The shipper trusts the registry as the root for licenses.
    wait_anchored(&client).await?;

    println!(
        "\nThe shipper opens a private channel for shipment 4711 and checks each party's license:"
    );
    let spec = ChannelSpec {
        name: "shipment 4711".into(),
        description: "transport documents".into(),
        topics: vec!["logistics".into()],
        private: true,
    };
    let mut manager = Manager::create(
        &client,
        Keypair::from_seed(shipper.key.seed()),
        &shipper.did,
        &spec,
    )
    .await?;
    let channel = manager.id();
    let options = Options {
        now,
        trusted_roots: vec![registry.did.clone()],
        ..Options::default()
    };
    for (party, credential) in [
        (&carrier, &carrier_license),
        (&port, &port_license),
        (&outsider, &outsider_license),
    ] {
        let report = verifier
            .verify_credential(&client, credential, &options)
            .await?;
        if report.verified {
            manager.authorize(&party.did, Rights::Read, None).await?;
            println!("  ✔ {}: licensed; may read", party.name);
        } else {
            println!(
                "  ✘ {}: not licensed by the registry {:?}; no access",
                party.name,
                report.reasons()
            );
        }
    }

    println!("\nThe shipper shares the bill of lading, signed by its own key:");
    let bill = json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/undefined-terms/v2"
        ],
        "type": ["VerifiableCredential", "BillOfLading"],
        "issuer": shipper.did,
        "validFrom": "2026-06-01T08:00:00Z",
        "credentialSubject": {
            "id": "urn:shipment:4711",
            "consignee": "Harbour Foods Ltd",
            "containers": ["MSKU 123456-7", "MSKU 765432-1"],
            "portOfDischarge": "NLRTM"
        }
    });
    let key = weft_credentials::Signer::new(
        weft_credentials::SigningKey::from_bytes(&shipper.key.seed()),
        format!("{}#key-1", shipper.did),
    )?;
    let signed = weft_credentials::issue(&bill, &key, &Format::Jose, "2026-06-01T08:00:00Z")?;
    let document = serde_json::to_vec(&signed)?;
    let hash = weft_types::Hash32(*blake3::hash(&document).as_bytes());
    let mut writer = shipper.tx_signer(&client).await?;
    let shipper_id = shipper.did.parse::<weft_types::did::Did>()?.id;
    channels::write_entry(
        &client,
        &mut writer,
        &channel,
        &shipper_id,
        "bill-of-lading",
        "{\"shipment\":\"4711\"}",
        hash.to_string().as_bytes(),
        &document,
    )
    .await?;
    println!("  on chain: the document's hash {hash}; its content only encrypted");
    wait_anchored(&client).await?;

    println!("\nThe port authority reads it, checks the hash and verifies who issued it:");
    let proven = channels::read_channel(&client, &verifier, &channel).await?;
    weft_channels::validate(&proven.entries, &proven.channel.head)?;
    let port_id = port.did.parse::<weft_types::did::Did>()?.id;
    let keys = channels::read_keys(&client, &verifier, &channel, &port_id, proven.height).await?;
    let agreement = port
        .agreement
        .as_ref()
        .context("the port has a key-agreement key")?;
    let (_, content) = channels::decrypt(&proven, &port_id, agreement, &keys)
        .into_iter()
        .next()
        .context("the document")?;
    let content = content?;
    let on_chain = String::from_utf8(proven.entries[0].input.public_payload.clone())?;
    if weft_types::Hash32(*blake3::hash(&content).as_bytes()).to_string() != on_chain {
        bail!("the document does not match its hash on chain");
    }
    let received: Value = serde_json::from_slice(&content)?;
    let report = verifier
        .verify_credential(
            &client,
            &received,
            &Options {
                now,
                ..Options::default()
            },
        )
        .await?;
    if !report.verified {
        bail!("the bill of lading should verify: {:?}", report.reasons());
    }
    println!(
        "  ✔ the hash matches, and the bill of lading is signed by the shipper {}",
        shipper.did
    );

    println!("\nThe competitor, never authorized, cannot read it:");
    let outsider_id = outsider.did.parse::<weft_types::did::Did>()?.id;
    let keys =
        channels::read_keys(&client, &verifier, &channel, &outsider_id, proven.height).await?;
    let agreement = outsider.agreement.as_ref().context("a key-agreement key")?;
    match channels::decrypt(&proven, &outsider_id, agreement, &keys)
        .into_iter()
        .next()
    {
        Some((_, Err(e))) => println!("  ✘ {e}"),
        _ => bail!("the competitor must not be able to read the document"),
    }
    println!("\nThe logistics documents behaved as they should.");
    Ok(())
}
