//! Energy credits in a local market (see `README.md` next to this file).

use crate::smart_meters::{
    certificate, check_reading, jwt_claims, reading, reading_issuer, status_index,
};
use crate::{Party, Target, wait_anchored};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use weft_client::credentials::CredentialVerifier;
use weft_client::json::Status;
use weft_client::token::{self, tx};
use weft_client::{Client, Signer};
use weft_credentials::{Format, Options, Reason};
use weft_types::SignedTransaction;
use weft_types::did::Did;
use weft_types::holder::Holder;
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::token::{Metadata, Permit, TokenSpec, format_amount, parse_amount};

/// Sends `tx` and waits for it; fails with the contract's message unless it succeeds.
async fn send(client: &Client, tx: &SignedTransaction) -> Result<Vec<u8>> {
    let receipt = client.send_and_wait(tx).await?;
    if receipt.status != Status::Success {
        bail!("{}", receipt.error.unwrap_or_default());
    }
    Ok(receipt.return_data)
}

/// Like [`send`], failing unless the contract refuses with `expected` in its message.
async fn refused(client: &Client, tx: &SignedTransaction, expected: &str) -> Result<String> {
    let receipt = client.send_and_wait(tx).await?;
    let error = receipt.error.unwrap_or_default();
    if receipt.status == Status::Success || !error.contains(expected) {
        bail!(
            "expected a refusal saying {expected:?}, got {:?}: {error}",
            receipt.status
        );
    }
    Ok(error)
}

fn holder(party: &Party) -> Result<Holder> {
    Ok(Holder::Did(party.did.parse::<Did>()?.id))
}

/// A token of `owner`'s DID, with `owner` as its only minter.
async fn create_token(client: &Client, owner: &Party, spec: TokenSpec) -> Result<(Signer, u64)> {
    let mut signer = owner.tx_signer(client).await?;
    let symbol = spec.symbol.clone();
    let id: u64 =
        borsh::from_slice(&send(client, &tx::create(&mut signer, &holder(owner)?, &spec)).await?)?;
    send(
        client,
        &tx::set_minter(&mut signer, id, &holder(owner)?, None),
    )
    .await?;
    println!("  {} created token {id} ({symbol})", owner.name);
    Ok((signer, id))
}

/// A leg of a deal: `payer` pays `amount` of `token` to `to`, under its next permit number.
async fn leg(
    client: &Client,
    payer: &Party,
    token_id: u64,
    to: &Party,
    amount: u128,
) -> Result<Permit> {
    let from = holder(payer)?;
    Ok(Permit {
        token: token_id,
        from,
        to: holder(to)?,
        amount,
        nonce: token::nonce(client, &from).await?,
        deadline_ms: crate::now() * 1_000 + 120_000,
    })
}

/// Both payers sign the whole deal, each with its own key (offline, as a device would): one
/// signature per leg, so neither leg ever applies without the other.
fn sign_deal(chain: &str, legs: &[Permit], payers: &[&Party]) -> Vec<([u8; 32], [u8; 64])> {
    payers
        .iter()
        .map(|p| token::sign_settlement(&p.key, chain, legs))
        .collect()
}

struct Books<'a> {
    client: &'a Client,
    verifier: &'a CredentialVerifier,
    credits: u64,
    euro: u64,
}

impl Books<'_> {
    /// A holder's balances of both tokens, read with proofs against the committee.
    async fn balances(&self, party: &Party) -> Result<(u128, u128)> {
        let h = holder(party)?;
        let (_, kwh) = token::balance_proven(self.verifier, self.client, self.credits, &h).await?;
        let (_, eur) = token::balance_proven(self.verifier, self.client, self.euro, &h).await?;
        println!(
            "    {}: {} kWh credits, {} EURC",
            party.name,
            format_amount(kwh, 3),
            format_amount(eur, 2)
        );
        Ok((kwh, eur))
    }

    async fn expect(&self, party: &Party, kwh: &str, eur: &str) -> Result<()> {
        let got = self.balances(party).await?;
        let want = (parse_amount(kwh, 3)?, parse_amount(eur, 2)?);
        if got != want {
            bail!(
                "{} should hold {kwh} kWh credits and {eur} EURC, holds {} and {}",
                party.name,
                format_amount(got.0, 3),
                format_amount(got.1, 2)
            );
        }
        Ok(())
    }
}

/// Runs the story; fails unless every balance and decision is the one it should be.
pub async fn run(target: &Target) -> Result<()> {
    let (client, verifier) = target.connect().await?;
    let chain = client.chain_info().await?.chain_id;
    println!("Parties, each with its own key and did:weft DID:");
    let certifier = Party::new(&client, "the metrology certifier").await?;
    let market = Party::new(&client, "the energy market").await?;
    let bank = Party::new(&client, "the community bank").await?;
    let meter_a = Party::new(&client, "meter A (on Ana's roof)").await?;
    let meter_b = Party::new(&client, "meter B (on Ben's roof)").await?;
    let neighbour = Party::new(&client, "Nora, a neighbour").await?;

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

    println!("\nThe market issues kWh credits; the bank issues a regulated euro token:");
    let (mut market_signer, credits) = create_token(
        &client,
        &market,
        TokenSpec {
            name: "Local solar kWh".into(),
            symbol: "KWH".into(),
            decimals: 3,
            max_supply: None,
            pausable: false,
            freezable: false,
            metadata: Metadata {
                description: "One credit per Wh produced by a certified meter".into(),
                url: Some("https://market.example/kwh".into()),
                logo_url: None,
            },
        },
    )
    .await?;
    let (mut bank_signer, euro) = create_token(
        &client,
        &bank,
        TokenSpec {
            name: "Community euro".into(),
            symbol: "EURC".into(),
            decimals: 2,
            max_supply: Some(parse_amount("1000000", 2)?),
            pausable: true,
            freezable: true,
            metadata: Metadata {
                description: "Euro deposits of the community bank, 1:1".into(),
                url: None,
                logo_url: None,
            },
        },
    )
    .await?;
    send(
        &client,
        &tx::mint(
            &mut bank_signer,
            euro,
            &holder(&bank)?,
            &holder(&neighbour)?,
            parse_amount("20", 2)?,
        ),
    )
    .await?;
    println!("  the bank paid out 20.00 EURC to Nora");

    println!("\nBoth meters report a day's production, signed with their own keys;");
    println!("the certifier revokes meter B's certificate (it failed a recalibration):");
    let at = "2026-06-01T18:00:00Z";
    let sign = |meter: &Party, kwh: f64| -> Result<Value> {
        let key = weft_credentials::Signer::new(
            weft_credentials::SigningKey::from_bytes(&meter.key.seed()),
            format!("{}#key-1", meter.did),
        )?;
        Ok(weft_credentials::issue(
            &reading(&meter.did, kwh, at),
            &key,
            &Format::Jose,
            at,
        )?)
    };
    let readings = [sign(&meter_a, 12.5)?, sign(&meter_b, 9.75)?];
    certifier_issuer
        .change(
            list,
            &[Change {
                index: status_index(&cert_b)?,
                value: 1,
            }],
        )
        .await?;
    wait_anchored(&client).await?;

    println!(
        "\nThe market credits production only of certified, unrevoked meters (on proven state):"
    );
    let options = Options {
        now: crate::now(),
        trusted_roots: vec![certifier.did.clone()],
        ..Options::default()
    };
    let certificates = [(&meter_a, &cert_a), (&meter_b, &cert_b)];
    let mut decisions = Vec::new();
    for signed in &readings {
        let meter_did = reading_issuer(signed)?;
        let (meter, cert) = certificates
            .iter()
            .find(|(m, _)| m.did == meter_did)
            .context("a certificate for every meter")?;
        let reasons = check_reading(&verifier, &client, signed, cert, &options).await?;
        if reasons.is_empty() {
            let kwh = signed_kwh(signed)?;
            let amount = parse_amount(&kwh, 3)?;
            send(
                &client,
                &tx::mint(
                    &mut market_signer,
                    credits,
                    &holder(&market)?,
                    &holder(meter)?,
                    amount,
                ),
            )
            .await?;
            println!("  ✔ {}: {kwh} kWh credited", meter.name);
        } else {
            println!("  ✘ {}: not credited {reasons:?}", meter.name);
        }
        decisions.push(reasons);
    }
    if !decisions[0].is_empty() || !decisions[1].contains(&Reason::Revoked) {
        bail!("expected meter A credited and meter B refused as revoked; got {decisions:?}");
    }

    println!(
        "\nNora buys 5 kWh from meter A at 0.28 EURC/kWh: a deal of two legs, credits to Nora"
    );
    println!("and euros to the meter. Both sign the whole deal offline (the meter sends no");
    println!(
        "transaction: its DID's key signs); the market relays it, and both legs apply or neither:"
    );
    let legs = vec![
        leg(
            &client,
            &meter_a,
            credits,
            &neighbour,
            parse_amount("5", 3)?,
        )
        .await?,
        leg(
            &client,
            &neighbour,
            euro,
            &meter_a,
            parse_amount("1.40", 2)?,
        )
        .await?,
    ];
    let signatures = sign_deal(&chain, &legs, &[&meter_a, &neighbour]);
    send(&client, &tx::settle(&mut market_signer, &legs, &signatures)).await?;
    wait_anchored(&client).await?;
    let books = Books {
        client: &client,
        verifier: &verifier,
        credits,
        euro,
    };
    books.expect(&meter_a, "7.5", "1.4").await?;
    books.expect(&neighbour, "5", "18.6").await?;
    books.expect(&meter_b, "0", "0").await?;

    println!("\nThe same deal relayed again is refused: every leg applies once:");
    let error = refused(
        &client,
        &tx::settle(&mut market_signer, &legs, &signatures),
        "it was used already",
    )
    .await?;
    println!("  ✘ {error}");

    println!(
        "\nNora offers 30 EURC she does not have for 7.5 more kWh: nothing moves, not even the credits:"
    );
    let legs = vec![
        leg(
            &client,
            &meter_a,
            credits,
            &neighbour,
            parse_amount("7.5", 3)?,
        )
        .await?,
        leg(&client, &neighbour, euro, &meter_a, parse_amount("30", 2)?).await?,
    ];
    let signatures = sign_deal(&chain, &legs, &[&meter_a, &neighbour]);
    let error = refused(
        &client,
        &tx::settle(&mut market_signer, &legs, &signatures),
        "leg 1",
    )
    .await?;
    println!("  ✘ {error}");
    println!("\nThe meter's signature of that deal is no permit: its leg never applies alone:");
    let error = refused(
        &client,
        &tx::transfer_signed(
            &mut market_signer,
            &legs[0],
            &signatures[0].0,
            &signatures[0].1,
        ),
        "does not verify",
    )
    .await?;
    println!("  ✘ {error}");

    println!("\nNora uses her 5 kWh and retires the credits (burns them):");
    let mut nora = neighbour.tx_signer(&client).await?;
    send(
        &client,
        &tx::burn(
            &mut nora,
            credits,
            &holder(&neighbour)?,
            parse_amount("5", 3)?,
        ),
    )
    .await?;
    wait_anchored(&client).await?;
    books.expect(&neighbour, "0", "18.6").await?;
    books.expect(&meter_a, "7.5", "1.4").await?;
    let (_, info) = token::info_proven(&verifier, &client, credits).await?;
    let supply = info.context("the credits token exists")?.supply;
    if supply != parse_amount("7.5", 3)? {
        bail!(
            "the credits' supply should be 7.5 kWh (12.5 minted, 5 retired), is {}",
            format_amount(supply, 3)
        );
    }
    println!(
        "  credits in circulation: {} kWh (12.5 produced, 5 used)",
        format_amount(supply, 3)
    );
    println!("\nThe local energy market behaved as it should.");
    Ok(())
}

/// The energy of a reading, as decimal text (`12.5`).
fn signed_kwh(signed: &Value) -> Result<String> {
    jwt_claims(signed)?["credentialSubject"]["energyKWh"]
        .as_f64()
        .map(|v| format!("{v}"))
        .context("a reading states its energyKWh")
}
