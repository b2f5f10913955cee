//! Event tickets as credentials (see `README.md` next to this file).

use crate::{Desk, Party, Target, now, wait_anchored};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use weft_client::json::Status;
use weft_credentials::{Cryptosuite, Format, PresentFormat, Reason};
use weft_types::did::{ASSERTION_METHOD, Did, Op, VerificationMethod};
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};

const GATE: &str = "gate-3.arena.example";

fn ticket(attendee: &str, seat: &str) -> Value {
    let mut ticket = crate::credential(
        "TicketCredential",
        "2026-01-01T00:00:00Z",
        json!({"id": attendee, "event": "Weft Live, Arena Hall", "seat": seat}),
    );
    ticket["validUntil"] = "2099-01-01T00:00:00Z".into();
    ticket
}

/// The index of the entry with `purpose` in a Data Integrity credential.
fn entry(credential: &Value, purpose: &str) -> Result<u32> {
    let entries = weft_credentials::bitstring::StatusEntry::all_of(credential)?;
    let entry = entries
        .iter()
        .find(|e| e.purpose == purpose)
        .ok_or_else(|| anyhow::anyhow!("no {purpose} entry"))?;
    Ok(u32::try_from(entry.index)?)
}

fn list(spec: Purpose) -> ListSpec {
    ListSpec {
        purpose: spec,
        entries: MIN_ENTRIES,
        status_size: 1,
        messages: Vec::new(),
    }
}

/// Runs the story; fails unless every decision is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    println!("Parties, each with its own key and did:weft DID:");
    let organizer = Party::new(&client, "the organizer").await?;
    let attendee = Party::new(&client, "an attendee").await?;
    let friend = Party::new(&client, "another attendee").await?;
    let gate = weft_client::keyfile::generate();

    // The gate scans tickets and marks them used. It holds its own key, which the organizer
    // lists under assertionMethod in its DID document: the gate may set the organizer's "used"
    // entries, and nothing else of anyone's.
    println!("\nThe organizer adds the gate's key to its DID (the gate keeps the key):");
    let info = client.chain_info().await?;
    let mut signer = weft_client::Signer::new(
        weft_types::Keypair::from_seed(organizer.key.seed()),
        &info.chain_id,
        client
            .account(&organizer.key.public_key().address())
            .await?
            .next_nonce,
    );
    let did: Did = organizer.did.parse()?;
    let add = weft_client::did::tx::update(
        &mut signer,
        &did.id,
        1,
        &[Op::AddMethod(VerificationMethod::ed25519(
            "gate-3",
            gate.public_key().0,
            ASSERTION_METHOD,
        ))],
    );
    let receipt = client.send_and_wait(&add).await?;
    if receipt.status != Status::Success {
        bail!("the gate's key was not added: {:?}", receipt.error);
    }
    println!("  {}#gate-3", organizer.did);

    println!(
        "\nThe organizer keeps a 'used' list (revocation: final) and a 'cancelled' list (suspension):"
    );
    let mut box_office = organizer.issuer(&client, &target.rpc).await?;
    let used = box_office.create_list(list(Purpose::Revocation)).await?;
    let cancelled = box_office.create_list(list(Purpose::Suspension)).await?;
    let lists = [
        (Purpose::Revocation, used),
        (Purpose::Suspension, cancelled),
    ];
    let format = Format::DataIntegrity(Cryptosuite::EddsaRdfc2022);
    let seat_a = box_office
        .issue(ticket(&attendee.did, "A-12"), &format, &lists)
        .await?;
    let seat_b = box_office
        .issue(ticket(&attendee.did, "A-13"), &format, &lists)
        .await?;
    let seat_c = box_office
        .issue(ticket(&friend.did, "B-01"), &format, &lists)
        .await?;
    println!("  tickets A-12 and A-13 to the attendee, B-01 to the other attendee");

    // The gate trusts the organizer itself as the root for its tickets.
    let gate_desk = Desk::new(&client, verifier, GATE, vec![organizer.did.clone()]);
    let mut gate_issuer =
        weft_client::credentials::Issuer::new(&client, gate, &organizer.did, "gate-3", &target.rpc)
            .await?;
    // A ticket shown by `holder` for `challenge`, as a Data Integrity or a JOSE presentation.
    let show = |ticket: &Value, holder: &Party, challenge: &str, format: PresentFormat| {
        weft_credentials::present(
            std::slice::from_ref(ticket),
            &holder.signer(),
            challenge,
            GATE,
            format,
            &weft_did::format_time(now() * 1000),
        )
    };
    wait_anchored(&client).await?;

    println!("\nAt {GATE}, each ticket is shown with a fresh challenge:");
    let challenge = gate_desk.challenge();
    let shown = show(
        &seat_a,
        &attendee,
        &challenge,
        PresentFormat::DataIntegrity(Cryptosuite::EddsaJcs2022),
    )?;
    gate_desk.admit("ticket A-12", &shown, &challenge).await?;
    // Admitted: the gate marks the ticket used, on chain, for every gate.
    gate_issuer
        .change(
            used,
            &[Change {
                index: entry(&seat_a, "revocation")?,
                value: 1,
            }],
        )
        .await?;
    println!("  the gate marked A-12 used");

    println!("\nWhat the gate refuses:");
    gate_desk
        .refuse(
            "the same presentation again (a replay)",
            &shown,
            &challenge,
            Reason::ChallengeReused,
        )
        .await?;
    // The organizer cancels seat A-13 (suspended: it could be reinstated) and refunds B-01
    // (revoked: final).
    box_office
        .change(
            cancelled,
            &[Change {
                index: entry(&seat_b, "suspension")?,
                value: 1,
            }],
        )
        .await?;
    box_office
        .change(
            used,
            &[Change {
                index: entry(&seat_c, "revocation")?,
                value: 1,
            }],
        )
        .await?;
    wait_anchored(&client).await?;
    for (what, ticket, holder, reason) in [
        (
            "ticket A-12 a second time (already used)",
            &seat_a,
            &attendee,
            Reason::Revoked,
        ),
        (
            "ticket A-13, cancelled (suspended)",
            &seat_b,
            &attendee,
            Reason::Suspended,
        ),
        (
            "ticket B-01, refunded (revoked)",
            &seat_c,
            &friend,
            Reason::Revoked,
        ),
        (
            "ticket A-13 shown by the other attendee",
            &seat_b,
            &friend,
            Reason::HolderMismatch,
        ),
    ] {
        let challenge = gate_desk.challenge();
        let presentation = show(ticket, holder, &challenge, PresentFormat::Jose)?;
        gate_desk
            .refuse(what, &presentation, &challenge, reason)
            .await?;
    }
    println!("\nThe gate behaved as it should.");
    Ok(())
}
