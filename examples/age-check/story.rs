//! The e-shop age check (see `README.md` next to this file).

use crate::{Desk, Party, Target, now, wait_anchored};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use weft_credentials::present::present_sd_jwt;
use weft_credentials::{Format, Reason};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::trust::Grant;

const SHOP: &str = "shop.example";

/// An identity credential about `holder`, born on `birth_date`.
fn identity(holder: &str, birth_date: &str, valid_until: Option<&str>) -> Value {
    let mut credential = crate::credential(
        "IdentityCredential",
        "2025-01-01T00:00:00Z",
        json!({
            "id": holder,
            "givenName": "Alex",
            "familyName": "Muster",
            "birthDate": birth_date,
            "ageOver18": true
        }),
    );
    if let Some(until) = valid_until {
        credential["validUntil"] = until.into();
    }
    credential
}

fn sd_jwt(holder: &str) -> Format {
    Format::SdJwt {
        disclosable: ["givenName", "familyName", "birthDate", "ageOver18"]
            .map(String::from)
            .to_vec(),
        holder_method: format!("{holder}#key-1"),
    }
}

/// Runs the story; fails unless every decision is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    println!("Parties, each with its own key and did:weft DID:");
    let root = Party::new(&client, "the national root of trust").await?;
    let registry = Party::new(&client, "the civil registry (an identity authority)").await?;
    let forger = Party::new(&client, "an unaccredited 'authority'").await?;
    let buyer = Party::new(&client, "the buyer").await?;
    let other = Party::new(&client, "another buyer").await?;

    println!("\nThe root accredits the civil registry to issue IdentityCredentials:");
    let mut root_issuer = root.issuer(&client, &target.rpc).await?;
    root_issuer
        .accredit(
            &registry.did,
            &Grant {
                types: vec!["IdentityCredential".into()],
                may_accredit: false,
                valid_until_ms: None,
            },
        )
        .await?;
    println!("  done (on chain, in the trust registry)");

    println!("\nThe registry keeps a revocation list and issues SD-JWT identity credentials:");
    let mut issuer = registry.issuer(&client, &target.rpc).await?;
    let list = issuer
        .create_list(ListSpec {
            purpose: Purpose::Revocation,
            entries: MIN_ENTRIES,
            status_size: 1,
            messages: Vec::new(),
        })
        .await?;
    println!("  revocation list {list}: {}", issuer.list_url(list));
    let lists = [(Purpose::Revocation, list)];
    let credential = issuer
        .issue(
            identity(&buyer.did, "2001-02-03", None),
            &sd_jwt(&buyer.did),
            &lists,
        )
        .await?;
    let revoked = issuer
        .issue(
            identity(&other.did, "1999-09-09", None),
            &sd_jwt(&other.did),
            &lists,
        )
        .await?;
    let expired = issuer
        .issue(
            identity(&buyer.did, "2001-02-03", Some("2026-01-01T00:00:00Z")),
            &sd_jwt(&buyer.did),
            &lists,
        )
        .await?;
    let mut forger_issuer = forger.issuer(&client, &target.rpc).await?;
    let forged = forger_issuer
        .issue(
            identity(&buyer.did, "2001-02-03", None),
            &sd_jwt(&buyer.did),
            &[],
        )
        .await?;
    println!("  issued to the buyer (and one to another buyer, one already expired)");

    // The shop trusts the national root, and hands out its own single-use challenges.
    let shop = Desk::new(&client, verifier, SHOP, vec![root.did.clone()]);
    // What a holder shows the shop: `credential`, revealing only `ageOver18`.
    let show = |credential: &Value, holder: &Party, challenge: &str| {
        present_sd_jwt(
            credential,
            &["ageOver18"],
            &holder.signer(),
            challenge,
            SHOP,
            now(),
        )
    };
    wait_anchored(&client).await?;

    println!("\nThe buyer proves to {SHOP} that they are over 18, revealing nothing else:");
    let challenge = shop.challenge();
    let presentation = show(&credential, &buyer, &challenge)?;
    shop.admit("over-18 proof", &presentation, &challenge)
        .await?;
    let shown = presentation["id"].as_str().unwrap_or_default();
    let compact = shown.split_once(',').map_or("", |(_, c)| c);
    let disclosed = weft_credentials::sdjwt::open(compact)?.claims;
    let subject = &disclosed["credentialSubject"];
    let hidden = |name: &str| {
        subject
            .get(name)
            .map_or("(not revealed)".into(), |v| v.to_string())
    };
    println!(
        "  the shop saw: ageOver18 = {}, birthDate = {}, name = {}",
        subject["ageOver18"],
        hidden("birthDate"),
        hidden("givenName"),
    );
    if subject.get("birthDate").is_some() || subject["ageOver18"] != true {
        bail!("the shop must see ageOver18 and nothing else");
    }

    println!("\nWhat the shop refuses:");
    shop.refuse(
        "the same presentation again (a replay)",
        &presentation,
        &challenge,
        Reason::ChallengeReused,
    )
    .await?;
    issuer.change(list, &[revoked_index(&revoked)?]).await?;
    wait_anchored(&client).await?;
    for (what, credential, holder, reason) in [
        (
            "a credential the registry revoked",
            &revoked,
            &other,
            Reason::Revoked,
        ),
        ("an expired credential", &expired, &buyer, Reason::Expired),
        (
            "a credential from an unaccredited issuer",
            &forged,
            &buyer,
            Reason::NotAccredited,
        ),
        (
            "the buyer's credential presented by someone else",
            &credential,
            &other,
            Reason::HolderMismatch,
        ),
    ] {
        let challenge = shop.challenge();
        let presentation = show(credential, holder, &challenge)?;
        shop.refuse(what, &presentation, &challenge, reason).await?;
    }
    println!("\nThe age check behaved as it should.");
    Ok(())
}

/// The revocation entry of an issued SD-JWT credential, as a change that sets it.
fn revoked_index(credential: &Value) -> Result<Change> {
    let compact = credential["id"]
        .as_str()
        .and_then(|id| id.split_once(','))
        .map(|(_, c)| c)
        .unwrap_or_default();
    let claims = weft_credentials::sdjwt::open(compact)?.claims;
    let entries = weft_credentials::bitstring::StatusEntry::all_of(&Value::Object(claims))?;
    let entry = entries
        .iter()
        .find(|e| e.purpose == "revocation")
        .ok_or_else(|| anyhow::anyhow!("no revocation entry"))?;
    Ok(Change {
        index: u32::try_from(entry.index)?,
        value: 1,
    })
}
