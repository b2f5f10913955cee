//! The e-shop's audit trail of security events (see `README.md` next to this file).

use crate::{Party, Target, wait_anchored};
use anyhow::{Context, Result, bail};
use weft_client::channels::{self, Manager};
use weft_types::Keypair;
use weft_types::channel::{ChannelSpec, Rights};

/// The events the shop's security tools report.
const BEFORE: [(&str, &str); 3] = [
    ("login-failed", "5 failed admin logins from 203.0.113.9"),
    ("waf-block", "SQL injection attempt on /search blocked"),
    ("config-change", "payment provider webhook secret rotated"),
];
const AFTER: [(&str, &str); 2] = [
    ("login-failed", "failed logins on the support account"),
    ("new-admin", "admin account 'ops-2' created"),
];

/// The metadata of the firewall's entries.
const WAF: &str = "{\"tool\":\"waf\"}";

/// Runs the story; fails unless every outcome is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    println!("Parties, each with its own key and did:weft DID:");
    let shop = Party::new(&client, "the e-shop").await?;
    let waf = Party::new(&client, "the shop's web application firewall").await?;
    let alice = Party::reader(&client, "Alice, an auditor on a contract").await?;
    let bob = Party::reader(&client, "Bob, the yearly external auditor").await?;
    let id_of = |p: &Party| -> Result<weft_types::did::DidId> {
        Ok(p.did.parse::<weft_types::did::Did>()?.id)
    };

    println!("\nThe shop opens a private channel for security events:");
    let spec = ChannelSpec {
        name: "security events".into(),
        description: "what the shop's security tools see".into(),
        topics: vec!["security".into(), "e-commerce".into()],
        private: true,
    };
    let mut manager = Manager::create(
        &client,
        Keypair::from_seed(shop.key.seed()),
        &shop.did,
        &spec,
    )
    .await?;
    let channel = manager.id();
    println!("  channel {channel} (its key stays with the shop; readers get it wrapped)");
    manager.authorize(&waf.did, Rights::Write, None).await?;
    manager.authorize(&alice.did, Rights::Read, None).await?;
    println!("  the firewall may write; Alice may read");

    let mut writer = waf.tx_signer(&client).await?;
    let waf_id = id_of(&waf)?;
    for (kind, event) in BEFORE {
        channels::write_entry(
            &client,
            &mut writer,
            &channel,
            &waf_id,
            kind,
            WAF,
            b"",
            event.as_bytes(),
        )
        .await?;
    }
    println!("  the firewall wrote {} events", BEFORE.len());

    wait_anchored(&client).await?;
    println!("\nAlice reads and validates the trail on proven state:");
    let proven = channels::read_channel(&client, &verifier, &channel).await?;
    weft_channels::validate(&proven.entries, &proven.channel.head)
        .context("the trail must validate")?;
    let keys =
        channels::read_keys(&client, &verifier, &channel, &id_of(&alice)?, proven.height).await?;
    let agreement = alice
        .agreement
        .as_ref()
        .context("Alice has a key-agreement key")?;
    for (index, text) in channels::decrypt(&proven, &id_of(&alice)?, agreement, &keys) {
        println!("  entry {index}: {}", String::from_utf8_lossy(&text?));
    }

    println!("\nAlice's contract ends: the shop revokes her, and a new channel key starts:");
    manager.revoke(&alice.did).await?;
    for (kind, event) in AFTER {
        channels::write_entry(
            &client,
            &mut writer,
            &channel,
            &waf_id,
            kind,
            WAF,
            b"",
            event.as_bytes(),
        )
        .await?;
    }
    manager.authorize(&bob.did, Rights::Audit, None).await?;
    wait_anchored(&client).await?;
    let proven = channels::read_channel(&client, &verifier, &channel).await?;
    weft_channels::validate(&proven.entries, &proven.channel.head)?;
    let keys =
        channels::read_keys(&client, &verifier, &channel, &id_of(&alice)?, proven.height).await?;
    let read = channels::decrypt(&proven, &id_of(&alice)?, agreement, &keys);
    let (kept, lost): (Vec<_>, Vec<_>) = read.iter().partition(|(_, r)| r.is_ok());
    println!(
        "  Alice still reads the {} events she was given; the {} written after cannot be decrypted",
        kept.len(),
        lost.len()
    );
    if kept.len() != BEFORE.len() || lost.len() != AFTER.len() {
        bail!("Alice should read exactly the events from before her revocation");
    }

    println!("\nBob, with Audit rights, reads the whole history:");
    let bob_keys =
        channels::read_keys(&client, &verifier, &channel, &id_of(&bob)?, proven.height).await?;
    let bob_agreement = bob
        .agreement
        .as_ref()
        .context("Bob has a key-agreement key")?;
    for (index, text) in channels::decrypt(&proven, &id_of(&bob)?, bob_agreement, &bob_keys) {
        println!("  entry {index}: {}", String::from_utf8_lossy(&text?));
    }

    println!("\nSomeone edits an exported copy of the trail to hide the failed logins:");
    let mut copy = proven.entries.clone();
    copy[0].input.kind = "routine-check".into();
    match weft_channels::validate(&copy, &proven.channel.head) {
        Ok(()) => bail!("a tampered copy must not validate"),
        Err(mismatch) => println!("  ✘ its hash chain breaks: {mismatch}"),
    }
    match weft_channels::compare(&copy, &proven.entries) {
        Ok(()) => bail!("a tampered copy must differ from the proven entries"),
        Err(mismatch) if mismatch.index == 0 => {
            println!("  ✘ against the proven entries: {mismatch}")
        }
        Err(mismatch) => bail!("the edit was to entry 0, not {}", mismatch.index),
    }
    println!("\nThe audit trail behaved as it should.");
    Ok(())
}
