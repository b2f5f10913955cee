//! `weft token …`: fungible tokens from the command line.
//!
//! Amounts are written in the token's units (`1.5`) and converted with its decimals; `--json`
//! prints every amount as a decimal string of base units (`"1500000"`), which JSON numbers cannot
//! carry exactly. Holders are accounts (`0x…`) or `did:weft` DIDs of the chain. A command acts for
//! the signing key's own account, or (`--as <DID>`) for a DID whose capabilityInvocation keys
//! include it. `permit` signs a transfer offline that any account sends with `relay`;
//! `balance --genesis` reads the balance with a proof checked against a genesis file's committee.

use crate::output::{Global, connect, out, own_key, print_json, send, signer, verifier};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use weft_client::token::{self as sdk, tx};
use weft_client::{Client, Keypair};
use weft_types::ContractId;
use weft_types::holder::Holder;
use weft_types::token::{
    MAX_BATCH, Metadata, Permit, Token, TokenSpec, format_amount, parse_amount,
};

/// Whom the signing key acts for.
#[derive(Args, Clone)]
pub struct Acting {
    /// Act for this DID (your key is one of its capabilityInvocation keys) [default: your key's
    /// own account].
    #[arg(long = "as", value_name = "DID")]
    pub acting: Option<String>,
}

impl Acting {
    /// The holder named by `--as`, or `key`'s own account.
    pub fn holder(&self, key: &Keypair, chain: &str) -> Result<Holder> {
        match &self.acting {
            Some(text) => holder(text, chain, "--as"),
            None => Ok(Holder::Account(key.public_key().address())),
        }
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token owned by you (or by `--as` a DID); prints its number.
    Create {
        /// Its symbol: 1 to 16 ASCII letters and digits.
        #[arg(long)]
        symbol: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Decimals: one token is 10^decimals base units.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=30))]
        decimals: u8,
        /// The most that may ever exist at once, in the token's units [default: no limit].
        #[arg(long)]
        max_supply: Option<String>,
        /// Let the owner pause every movement (declared now or never).
        #[arg(long)]
        pausable: bool,
        /// Let the owner freeze a holder's balance (declared now or never).
        #[arg(long)]
        freezable: bool,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// The project's web page.
        #[arg(long)]
        url: Option<String>,
        /// A logo.
        #[arg(long)]
        logo_url: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Name a minter, with a cap on what it may mint in all, or remove one (as the token's owner).
    Minter {
        /// The token's number.
        token: u64,
        /// The minter (0x… account or did:weft DID).
        minter: String,
        /// The most it may mint in all, in the token's units [default: up to the maximum supply].
        #[arg(long, conflicts_with = "remove")]
        cap: Option<String>,
        /// Take its minting right away.
        #[arg(long)]
        remove: bool,
    },
    /// Mint to a holder, as a minter (`--as` a minter DID).
    Mint {
        /// The token's number.
        token: u64,
        /// The recipient.
        to: String,
        /// The amount, in the token's units.
        amount: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Destroy part of your balance.
    Burn {
        /// The token's number.
        token: u64,
        /// The amount, in the token's units.
        amount: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Send to one holder (TO AMOUNT), or to several in one transaction (`--to` repeated).
    Transfer {
        /// The token's number.
        token: u64,
        /// The recipient.
        #[arg(requires = "amount", conflicts_with = "batch")]
        to: Option<String>,
        /// The amount, in the token's units.
        amount: Option<String>,
        /// A recipient and its amount (repeatable: all are sent, or none).
        #[arg(long = "to", value_name = "HOLDER=AMOUNT")]
        batch: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Let a spender move up to an amount of your balance (0 removes the allowance).
    Approve {
        /// The token's number.
        token: u64,
        /// The spender.
        spender: String,
        /// The amount, in the token's units.
        amount: String,
        /// When the allowance ends (RFC 3339) [default: never].
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Sign a transfer that any account relays (`weft token relay`); writes it as JSON. The key
    /// never leaves this machine; the node is asked only for the token's decimals and, without
    /// --nonce, the payer's next permit number.
    Permit {
        /// The token's number.
        token: u64,
        /// The recipient.
        to: String,
        /// The amount, in the token's units.
        amount: String,
        /// When the permit lapses (RFC 3339) [default: in an hour].
        #[arg(long)]
        deadline: Option<String>,
        #[command(flatten)]
        acting: Acting,
        /// Write the permit to this file [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
        /// The permit number to sign for [default: the payer's next one]. Permits of one payer
        /// apply in order, so number several signed before any is relayed 0, 1, 2, … past it.
        #[arg(long)]
        nonce: Option<u64>,
    },
    /// Send a permit signed with `weft token permit`, or a deal every payer signed with `weft
    /// token deal sign` (any key may).
    Relay {
        /// The permit or deal file.
        file: PathBuf,
    },
    /// Build a deal: legs paid by different holders (goods against payment) that apply together
    /// or not at all. Each payer adds its legs, then each signs the whole deal; any account relays
    /// it.
    Deal {
        #[command(subcommand)]
        command: DealCommand,
    },
    /// Pause every movement of a pausable token, or restart them (as its owner).
    Pause {
        /// The token's number.
        token: u64,
        /// Restart movements.
        #[arg(long)]
        off: bool,
    },
    /// Freeze a holder of a freezable token, or unfreeze it (as its owner).
    Freeze {
        /// The token's number.
        token: u64,
        /// The holder.
        holder: String,
        /// Unfreeze.
        #[arg(long)]
        off: bool,
    },
    /// Show a holder's balance, verified against a genesis file's committee with --genesis.
    Balance {
        /// The token's number.
        token: u64,
        /// The holder.
        holder: String,
        /// Read with proofs checked against the committee of this genesis file.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Show a token: terms, supply, owner, metadata.
    Info {
        /// The token's number.
        token: u64,
    },
}

/// `weft token deal …`.
#[derive(Subcommand)]
pub enum DealCommand {
    /// Add a leg you pay to a deal file (created if missing); signatures in it are dropped, since
    /// every payer signs all the legs.
    Add {
        /// The deal file.
        file: PathBuf,
        /// The token's number.
        token: u64,
        /// The recipient.
        to: String,
        /// The amount, in the token's units.
        amount: String,
        /// When the leg lapses (RFC 3339) [default: in an hour].
        #[arg(long)]
        deadline: Option<String>,
        /// The permit number [default: the payer's next one, after its legs already in the deal].
        #[arg(long)]
        nonce: Option<u64>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Sign every leg of a deal file that you pay, over all its legs.
    Sign {
        /// The deal file.
        file: PathBuf,
        #[command(flatten)]
        acting: Acting,
    },
}

/// A deal file: legs and, per leg, its payer's signature over all of them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DealJson {
    chain: String,
    legs: Vec<PermitJson>,
    signatures: Vec<Option<SignatureJson>>,
}

/// A key and its signature.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureJson {
    signer: String,
    signature: String,
}

impl PermitJson {
    fn of(permit: &Permit, chain: &str) -> Self {
        Self {
            token: permit.token,
            from: permit.from.to_text(chain),
            to: permit.to.to_text(chain),
            amount: permit.amount.to_string(),
            nonce: permit.nonce,
            deadline_ms: permit.deadline_ms,
        }
    }

    fn permit(&self, chain: &str) -> Result<Permit> {
        Ok(Permit {
            token: self.token,
            from: holder(&self.from, chain, "the payer")?,
            to: holder(&self.to, chain, "the recipient")?,
            amount: self.amount.parse().map_err(|_| {
                anyhow!(
                    "the amount {:?} is not a whole number of base units",
                    self.amount
                )
            })?,
            nonce: self.nonce,
            deadline_ms: self.deadline_ms,
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(file: &Path, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not {what}", file.display()))
}

fn write_json(file: &Path, value: &impl Serialize) -> Result<()> {
    std::fs::write(file, format!("{}\n", serde_json::to_string_pretty(value)?))
        .with_context(|| format!("writing {}", file.display()))
}

fn check_chain(file: &Path, of: &str, chain: &str, rpc: &str) -> Result<()> {
    if of != chain {
        bail!(
            "{} is for chain `{of}`, but the node at {rpc} serves chain `{chain}`",
            file.display()
        );
    }
    Ok(())
}

/// A permit as `weft token permit` writes it: amounts in base units, holders as text.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PermitJson {
    token: u64,
    from: String,
    to: String,
    amount: String,
    nonce: u64,
    deadline_ms: u64,
}

/// A signed permit file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedPermitJson {
    chain: String,
    permit: PermitJson,
    signer: String,
    signature: String,
}

/// A holder written as `0x…` or a DID of `chain`; `what` names it in errors.
pub fn holder(text: &str, chain: &str, what: &str) -> Result<Holder> {
    Holder::parse(text, chain).map_err(|e| anyhow!("{what}: {e}"))
}

/// Connects to a node whose chain has system contract `name`; returns it and the chain id.
pub async fn connect_to(cli: &Global, name: &str) -> Result<(Client, String)> {
    let client = connect(cli).await?;
    let info = client.chain_info().await?;
    if !info
        .system_contracts
        .iter()
        .any(|c| c.id == ContractId::system(name))
    {
        bail!(
            "chain `{}` has no {name} system contract: it was created by a Weft version without one. Start a new chain (`weft dev --fresh` for a devnet)",
            info.chain_id
        );
    }
    Ok((client, info.chain_id))
}

/// Prints `text` with the block height, or `value` with a `height` field under `--json`.
pub fn report(cli: &Global, height: u64, text: &str, mut value: Value) {
    if cli.json {
        value["height"] = height.into();
        print_json(&value);
    } else {
        out!("{text} (block {height})");
    }
}

/// Tokens read once per command, for commands that show several amounts.
#[derive(Default)]
struct Tokens(std::collections::BTreeMap<u64, Token>);

impl Tokens {
    async fn get(&mut self, client: &Client, token: u64) -> Result<&Token> {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.0.entry(token) {
            slot.insert(load(client, token).await?);
        }
        Ok(&self.0[&token])
    }
}

async fn load(client: &Client, token: u64) -> Result<Token> {
    sdk::info(client, token)
        .await?
        .ok_or_else(|| anyhow!("there is no token {token}"))
}

fn amount(text: &str, token: &Token) -> Result<u128> {
    Ok(parse_amount(text, token.spec.decimals)?)
}

/// `1.5 SOLAR`.
fn units(token: &Token, amount: u128) -> String {
    format!(
        "{} {}",
        format_amount(amount, token.spec.decimals),
        token.spec.symbol
    )
}

fn bytes<const N: usize>(text: &str, what: &str) -> Result<[u8; N]> {
    text.strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| anyhow!("the {what} {text:?} is not 0x and {} hex digits", 2 * N))
}

fn time(text: &str, option: &str) -> Result<u64> {
    // The start of the second written, not its last millisecond.
    weft_did::parse_time(text)
        .map(|ms| ms - 999)
        .map_err(|e| anyhow!("{option}: {e}"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn info_json(token: &Token, chain: &str) -> Value {
    sdk::to_json(token, chain)
}

fn show_info(token: &Token, chain: &str) {
    let yes = |b: bool| if b { "yes" } else { "no" };
    out!(
        "token {}: {} ({})",
        token.id,
        token.spec.name,
        token.spec.symbol
    );
    out!("decimals     {}", token.spec.decimals);
    out!(
        "supply       {} ({} base units)",
        units(token, token.supply),
        token.supply
    );
    out!(
        "max supply   {}",
        token.spec.max_supply.map_or("no limit".into(), |m| format!(
            "{} ({m} base units)",
            units(token, m)
        ))
    );
    out!(
        "owner        {}",
        token
            .owner
            .map_or("none (renounced)".into(), |o| o.to_text(chain))
    );
    out!(
        "pausable     {}{}",
        yes(token.spec.pausable),
        if token.paused { " (paused now)" } else { "" }
    );
    out!("freezable    {}", yes(token.spec.freezable));
    let meta = &token.spec.metadata;
    if !meta.description.is_empty() {
        out!("description  {}", meta.description);
    }
    if let Some(url) = &meta.url {
        out!("url          {url}");
    }
    if let Some(url) = &meta.logo_url {
        out!("logo url     {url}");
    }
    out!("created at height {}", token.created_height);
}

/// Runs `weft token …`.
pub async fn run(cli: &Global, command: &TokenCommand) -> Result<()> {
    let (client, chain) = connect_to(cli, "token").await?;
    match command {
        TokenCommand::Create {
            symbol,
            name,
            decimals,
            max_supply,
            pausable,
            freezable,
            description,
            url,
            logo_url,
            acting,
        } => {
            let spec = TokenSpec {
                name: name.clone(),
                symbol: symbol.clone(),
                decimals: *decimals,
                max_supply: max_supply
                    .as_deref()
                    .map(|m| parse_amount(m, *decimals))
                    .transpose()
                    .context("--max-supply")?,
                pausable: *pausable,
                freezable: *freezable,
                metadata: Metadata {
                    description: description.clone(),
                    url: url.clone(),
                    logo_url: logo_url.clone(),
                },
            };
            spec.check()?;
            let mut signer = signer(cli, &client).await?;
            let owner = acting.holder(signer.key(), &chain)?;
            let tx = tx::create(&mut signer, &owner, &spec);
            let receipt = send(&client, &tx, "token").await?;
            let id: u64 = borsh::from_slice(&receipt.return_data)?;
            report(
                cli,
                receipt.height,
                &format!("token {id} ({symbol}) created"),
                json!({"token": id, "symbol": symbol, "owner": owner.to_text(&chain)}),
            );
        }
        TokenCommand::Minter {
            token,
            minter,
            cap,
            remove,
        } => {
            let record = load(&client, *token).await?;
            let who = holder(minter, &chain, "the minter")?;
            let cap = cap
                .as_deref()
                .map(|c| amount(c, &record))
                .transpose()
                .context("--cap")?;
            let mut signer = signer(cli, &client).await?;
            let (tx, text) = if *remove {
                (
                    tx::remove_minter(&mut signer, *token, &who),
                    format!("{minter} may no longer mint {}", record.spec.symbol),
                )
            } else {
                let limit = cap.map_or("up to the maximum supply".into(), |c| {
                    format!("up to {} in all", units(&record, c))
                });
                (
                    tx::set_minter(&mut signer, *token, &who, cap),
                    format!("{minter} may mint {} {limit}", record.spec.symbol),
                )
            };
            let receipt = send(&client, &tx, "token").await?;
            report(
                cli,
                receipt.height,
                &text,
                json!({
                    "token": token,
                    "minter": who.to_text(&chain),
                    "cap": cap.map(|c| c.to_string()),
                    "removed": remove,
                }),
            );
        }
        TokenCommand::Mint {
            token,
            to,
            amount: text,
            acting,
        } => {
            let record = load(&client, *token).await?;
            let to = holder(to, &chain, "the recipient")?;
            let amount = amount(text, &record)?;
            let mut signer = signer(cli, &client).await?;
            let minter = acting.holder(signer.key(), &chain)?;
            let tx = tx::mint(&mut signer, *token, &minter, &to, amount);
            let receipt = send(&client, &tx, "token").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "minted {} to {}",
                    units(&record, amount),
                    to.to_text(&chain)
                ),
                json!({
                    "token": token,
                    "minter": minter.to_text(&chain),
                    "to": to.to_text(&chain),
                    "amount": amount.to_string(),
                }),
            );
        }
        TokenCommand::Burn {
            token,
            amount: text,
            acting,
        } => {
            let record = load(&client, *token).await?;
            let amount = amount(text, &record)?;
            let mut signer = signer(cli, &client).await?;
            let from = acting.holder(signer.key(), &chain)?;
            let tx = tx::burn(&mut signer, *token, &from, amount);
            let receipt = send(&client, &tx, "token").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "burned {} of {}'s balance",
                    units(&record, amount),
                    from.to_text(&chain)
                ),
                json!({"token": token, "from": from.to_text(&chain), "amount": amount.to_string()}),
            );
        }
        TokenCommand::Transfer {
            token,
            to,
            amount: text,
            batch,
            acting,
        } => {
            let record = load(&client, *token).await?;
            let transfers: Vec<(Holder, u128)> = match (to, text) {
                (Some(to), Some(text)) => {
                    vec![(holder(to, &chain, "the recipient")?, amount(text, &record)?)]
                }
                _ if !batch.is_empty() => batch
                    .iter()
                    .map(|pair| {
                        let (to, text) = pair
                            .rsplit_once('=')
                            .ok_or_else(|| anyhow!("--to {pair:?}: expected HOLDER=AMOUNT"))?;
                        let to = holder(to, &chain, "--to")?;
                        Ok((
                            to,
                            amount(text, &record).with_context(|| format!("--to {pair}"))?,
                        ))
                    })
                    .collect::<Result<_>>()?,
                _ => bail!(
                    "name the recipient: `weft token transfer TOKEN TO AMOUNT`, or `--to HOLDER=AMOUNT` once or more"
                ),
            };
            if transfers.len() > MAX_BATCH {
                bail!(
                    "{} recipients are too many for one transaction; at most {MAX_BATCH}",
                    transfers.len()
                );
            }
            let mut signer = signer(cli, &client).await?;
            let from = acting.holder(signer.key(), &chain)?;
            let tx = match transfers.as_slice() {
                [(to, amount)] => tx::transfer(&mut signer, *token, &from, to, *amount),
                _ => tx::transfer_batch(&mut signer, *token, &from, &transfers),
            };
            let receipt = send(&client, &tx, "token").await?;
            if cli.json {
                let rows: Vec<Value> = transfers
                    .iter()
                    .map(|(to, a)| json!({"to": to.to_text(&chain), "amount": a.to_string()}))
                    .collect();
                print_json(&json!({
                    "token": token,
                    "from": from.to_text(&chain),
                    "transfers": rows,
                    "height": receipt.height,
                }));
            } else {
                for (to, a) in &transfers {
                    out!("sent {} to {}", units(&record, *a), to.to_text(&chain));
                }
                out!("from {} (block {})", from.to_text(&chain), receipt.height);
            }
        }
        TokenCommand::Approve {
            token,
            spender,
            amount: text,
            expires,
            acting,
        } => {
            let record = load(&client, *token).await?;
            let who = holder(spender, &chain, "the spender")?;
            let amount = amount(text, &record)?;
            let expires_ms = expires
                .as_deref()
                .map(|t| time(t, "--expires"))
                .transpose()?;
            let mut signer = signer(cli, &client).await?;
            let owner = acting.holder(signer.key(), &chain)?;
            let tx = tx::approve(&mut signer, *token, &owner, &who, amount, expires_ms);
            let receipt = send(&client, &tx, "token").await?;
            let text = if amount == 0 {
                format!(
                    "{spender} may no longer move {}'s {}",
                    owner.to_text(&chain),
                    record.spec.symbol
                )
            } else {
                format!(
                    "{spender} may move up to {} of {}'s balance{}",
                    units(&record, amount),
                    owner.to_text(&chain),
                    expires_ms.map_or(String::new(), |ms| format!(
                        " until {}",
                        weft_did::format_time(ms)
                    ))
                )
            };
            report(
                cli,
                receipt.height,
                &text,
                json!({
                    "token": token,
                    "owner": owner.to_text(&chain),
                    "spender": who.to_text(&chain),
                    "amount": amount.to_string(),
                    "expires": expires_ms.map(weft_did::format_time),
                }),
            );
        }
        TokenCommand::Permit {
            token,
            to,
            amount: text,
            deadline,
            acting,
            out: file,
            nonce: number,
        } => {
            let key = own_key(cli)?;
            let record = load(&client, *token).await?;
            let from = acting.holder(&key, &chain)?;
            let to = holder(to, &chain, "the recipient")?;
            let amount = amount(text, &record)?;
            let deadline_ms = match deadline {
                Some(t) => time(t, "--deadline")?,
                None => now_ms() + 3_600_000,
            };
            if deadline_ms <= now_ms() {
                bail!(
                    "--deadline {} has passed already; a permit is refused at or after its deadline",
                    weft_did::format_time(deadline_ms)
                );
            }
            let nonce = match number {
                Some(n) => *n,
                None => sdk::nonce(&client, &from).await?,
            };
            let permit = Permit {
                token: *token,
                from,
                to,
                amount,
                nonce,
                deadline_ms,
            };
            let (signer_key, signature) = sdk::sign_permit(&key, &chain, &permit);
            let signed = SignedPermitJson {
                chain: chain.clone(),
                permit: PermitJson {
                    token: *token,
                    from: from.to_text(&chain),
                    to: to.to_text(&chain),
                    amount: amount.to_string(),
                    nonce,
                    deadline_ms,
                },
                signer: format!("0x{}", hex::encode(signer_key)),
                signature: format!("0x{}", hex::encode(signature)),
            };
            let text = serde_json::to_string_pretty(&signed)?;
            match file {
                None => out!("{text}"),
                Some(path) => {
                    std::fs::write(path, format!("{text}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    if cli.json {
                        print_json(&json!({"file": path.display().to_string(), "nonce": nonce}));
                    } else {
                        out!(
                            "permit {nonce} of {}: {} to {}, valid until {}, written to {}",
                            signed.permit.from,
                            units(&record, amount),
                            signed.permit.to,
                            weft_did::format_time(deadline_ms),
                            path.display()
                        );
                        out!("any account sends it: weft token relay {}", path.display());
                    }
                }
            }
        }
        TokenCommand::Relay { file } => {
            let value: Value = read_json(file, "a permit or deal file")?;
            let mut signer = signer(cli, &client).await?;
            if value.get("legs").is_some() {
                let deal: DealJson = serde_json::from_value(value).with_context(|| {
                    format!(
                        "{} is not a deal file written by `weft token deal`",
                        file.display()
                    )
                })?;
                check_chain(file, &deal.chain, &chain, &cli.rpc)?;
                let legs = deal
                    .legs
                    .iter()
                    .map(|l| l.permit(&chain))
                    .collect::<Result<Vec<_>>>()?;
                if deal.signatures.len() != legs.len() {
                    bail!(
                        "{} has {} legs but {} signature slots: it was not written by `weft token deal`",
                        file.display(),
                        legs.len(),
                        deal.signatures.len()
                    );
                }
                let mut signatures = Vec::new();
                for (i, s) in deal.signatures.iter().enumerate() {
                    let Some(s) = s else {
                        bail!(
                            "leg {i} (paid by {}) is not signed yet: its payer runs `weft token deal sign {}`",
                            deal.legs[i].from,
                            file.display()
                        );
                    };
                    signatures.push((
                        bytes(&s.signer, "signer key")?,
                        bytes(&s.signature, "signature")?,
                    ));
                }
                let receipt = send(
                    &client,
                    &tx::settle(&mut signer, &legs, &signatures),
                    "token",
                )
                .await?;
                let mut lines = Vec::new();
                let mut tokens = Tokens::default();
                for (leg, shown) in legs.iter().zip(&deal.legs) {
                    let record = tokens.get(&client, leg.token).await?;
                    lines.push(format!(
                        "{} paid {} to {}",
                        shown.from,
                        units(record, leg.amount),
                        shown.to
                    ));
                }
                report(
                    cli,
                    receipt.height,
                    &format!("settled together:\n  {}", lines.join("\n  ")),
                    json!({ "legs": deal.legs }),
                );
            } else {
                let signed: SignedPermitJson =
                    serde_json::from_value(value).with_context(|| {
                        format!(
                            "{} is not a permit written by `weft token permit`",
                            file.display()
                        )
                    })?;
                check_chain(file, &signed.chain, &chain, &cli.rpc)?;
                let permit = signed.permit.permit(&chain)?;
                let record = load(&client, permit.token).await?;
                let tx = tx::transfer_signed(
                    &mut signer,
                    &permit,
                    &bytes(&signed.signer, "signer key")?,
                    &bytes(&signed.signature, "signature")?,
                );
                let receipt = send(&client, &tx, "token").await?;
                report(
                    cli,
                    receipt.height,
                    &format!(
                        "relayed permit {} of {}: {} to {}",
                        permit.nonce,
                        signed.permit.from,
                        units(&record, permit.amount),
                        signed.permit.to
                    ),
                    json!({ "permit": signed.permit }),
                );
            }
        }
        TokenCommand::Deal { command } => match command {
            DealCommand::Add {
                file,
                token,
                to,
                amount: text,
                deadline,
                nonce,
                acting,
            } => {
                let key = own_key(cli)?;
                let record = load(&client, *token).await?;
                let from = acting.holder(&key, &chain)?;
                let mut deal = if file.exists() {
                    let deal: DealJson =
                        read_json(file, "a deal file written by `weft token deal`")?;
                    check_chain(file, &deal.chain, &chain, &cli.rpc)?;
                    deal
                } else {
                    DealJson {
                        chain: chain.clone(),
                        legs: Vec::new(),
                        signatures: Vec::new(),
                    }
                };
                if deal.legs.len() >= weft_types::token::MAX_LEGS {
                    bail!(
                        "{} has {} legs already, the most a deal carries",
                        file.display(),
                        deal.legs.len()
                    );
                }
                let deadline_ms = match deadline {
                    Some(t) => time(t, "--deadline")?,
                    None => now_ms() + 3_600_000,
                };
                if deadline_ms <= now_ms() {
                    bail!(
                        "--deadline {} has passed already; a leg is refused at or after its deadline",
                        weft_did::format_time(deadline_ms)
                    );
                }
                let nonce = match nonce {
                    Some(n) => *n,
                    None => {
                        let mine = deal
                            .legs
                            .iter()
                            .filter(|l| l.from == from.to_text(&chain))
                            .count();
                        sdk::nonce(&client, &from).await? + mine as u64
                    }
                };
                let permit = Permit {
                    token: *token,
                    from,
                    to: holder(to, &chain, "the recipient")?,
                    amount: amount(text, &record)?,
                    nonce,
                    deadline_ms,
                };
                let dropped = deal.signatures.iter().filter(|s| s.is_some()).count();
                deal.legs.push(PermitJson::of(&permit, &chain));
                deal.signatures = deal.legs.iter().map(|_| None).collect();
                write_json(file, &deal)?;
                if !cli.json {
                    out!(
                        "leg {} added to {}: {} pays {} to {}{}",
                        deal.legs.len() - 1,
                        file.display(),
                        permit.from.to_text(&chain),
                        units(&record, permit.amount),
                        permit.to.to_text(&chain),
                        if dropped > 0 {
                            format!(" ({dropped} signature(s) dropped: sign again)")
                        } else {
                            String::new()
                        }
                    );
                } else {
                    print_json(
                        &json!({"file": file.display().to_string(), "legs": deal.legs.len()}),
                    );
                }
            }
            DealCommand::Sign { file, acting } => {
                let key = own_key(cli)?;
                let mut deal: DealJson =
                    read_json(file, "a deal file written by `weft token deal`")?;
                check_chain(file, &deal.chain, &chain, &cli.rpc)?;
                let payer = acting.holder(&key, &chain)?;
                let legs = deal
                    .legs
                    .iter()
                    .map(|l| l.permit(&chain))
                    .collect::<Result<Vec<_>>>()?;
                if !cli.json {
                    out!("signing all {} leg(s) of {}:", legs.len(), file.display());
                    let mut tokens = Tokens::default();
                    for (i, leg) in legs.iter().enumerate() {
                        let record = tokens.get(&client, leg.token).await?;
                        out!(
                            "  leg {i}: {} pays {} to {} (permit {}, until {})",
                            leg.from.to_text(&chain),
                            units(record, leg.amount),
                            leg.to.to_text(&chain),
                            leg.nonce,
                            weft_did::format_time(leg.deadline_ms)
                        );
                    }
                }
                let (signer_key, signature) = sdk::sign_settlement(&key, &chain, &legs);
                let mut signed = 0;
                deal.signatures.resize_with(legs.len(), || None);
                for (leg, slot) in legs.iter().zip(deal.signatures.iter_mut()) {
                    if leg.from == payer {
                        *slot = Some(SignatureJson {
                            signer: format!("0x{}", hex::encode(signer_key)),
                            signature: format!("0x{}", hex::encode(signature)),
                        });
                        signed += 1;
                    }
                }
                if signed == 0 {
                    bail!(
                        "{} pays no leg of {}; sign as a payer (--as DID for a DID's legs)",
                        payer.to_text(&chain),
                        file.display()
                    );
                }
                write_json(file, &deal)?;
                let missing = deal.signatures.iter().filter(|s| s.is_none()).count();
                if cli.json {
                    print_json(&json!({"signed": signed, "missing": missing}));
                } else if missing == 0 {
                    out!(
                        "signed {signed} leg(s); every leg is signed: any account sends it with `weft token relay {}`",
                        file.display()
                    );
                } else {
                    out!(
                        "signed {signed} leg(s); {missing} leg(s) still wait for their payers' signatures"
                    );
                }
            }
        },
        TokenCommand::Pause { token, off } => {
            let record = load(&client, *token).await?;
            let mut signer = signer(cli, &client).await?;
            let tx = tx::pause(&mut signer, *token, !off);
            let receipt = send(&client, &tx, "token").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "token {token} ({}) {}",
                    record.spec.symbol,
                    if *off { "moves again" } else { "paused" }
                ),
                json!({"token": token, "paused": !off}),
            );
        }
        TokenCommand::Freeze {
            token,
            holder: text,
            off,
        } => {
            let record = load(&client, *token).await?;
            let who = holder(text, &chain, "the holder")?;
            let mut signer = signer(cli, &client).await?;
            let tx = tx::freeze(&mut signer, *token, &who, !off);
            let receipt = send(&client, &tx, "token").await?;
            report(
                cli,
                receipt.height,
                &format!(
                    "{} is {} for token {token} ({})",
                    who.to_text(&chain),
                    if *off { "unfrozen" } else { "frozen" },
                    record.spec.symbol
                ),
                json!({"token": token, "holder": who.to_text(&chain), "frozen": !off}),
            );
        }
        TokenCommand::Balance {
            token,
            holder: text,
            genesis,
        } => {
            let who = holder(text, &chain, "the holder")?;
            let (record, balance, verified) = match genesis {
                None => (
                    load(&client, *token).await?,
                    sdk::balance(&client, *token, &who).await?,
                    None,
                ),
                Some(path) => {
                    let verifier = verifier(path, &chain)?;
                    let (height, record, balance) =
                        sdk::holding_proven(&verifier, &client, *token, &who).await?;
                    let record = record.ok_or_else(|| {
                        anyhow!("there is no token {token} (proven absent at height {height})")
                    })?;
                    (record, balance, Some(height))
                }
            };
            if cli.json {
                print_json(&json!({
                    "token": token,
                    "symbol": record.spec.symbol,
                    "decimals": record.spec.decimals,
                    "holder": who.to_text(&chain),
                    "balance": balance.to_string(),
                    "verifiedHeight": verified,
                }));
            } else {
                out!(
                    "{} holds {} ({balance} base units)",
                    who.to_text(&chain),
                    units(&record, balance)
                );
                match verified {
                    Some(height) => out!(
                        "verified at height {height} against the committee of {}",
                        genesis
                            .as_deref()
                            .map_or(String::new(), |p| p.display().to_string())
                    ),
                    None => eprintln!(
                        "(as the node at {} says; pass --genesis to verify it with a proof)",
                        cli.rpc
                    ),
                }
            }
        }
        TokenCommand::Info { token } => {
            let record = load(&client, *token).await?;
            if cli.json {
                print_json(&info_json(&record, &chain));
            } else {
                show_info(&record, &chain);
            }
        }
    }
    Ok(())
}
