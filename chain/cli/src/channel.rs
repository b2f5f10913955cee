//! `weft channel …`: audit-trail channels from the command line.
//!
//! Every command acts as the DID given with `--did`, signing with the key file (`--key`), which
//! must be under that DID's `assertionMethod`. A private channel's epoch secrets stay with its
//! managers, in a secrets file (`--secrets`, written with mode 0600); readers hold an X25519 key
//! file (`weft channel key`) whose public key their DID lists under `keyAgreement`. Reading
//! and validating use state proven against the committee of a genesis file.

use crate::output::{Global, connect, out, print_json};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use weft_client::Client;
use weft_client::channels::{self, Manager};
use weft_client::credentials::CredentialVerifier;
use weft_types::Hash32;
use weft_types::channel::{ChannelSpec, Entry, Rights};
use weft_types::did::Did;

#[derive(Args, Clone)]
pub struct Acting {
    /// The DID you act as (the key file's key is under its assertionMethod).
    #[arg(long)]
    pub did: String,
}

#[derive(Args, Clone)]
pub struct Secrets {
    /// The channel's epoch secrets (kept by its managers) [default: channel-<id>.secrets.json].
    #[arg(long)]
    pub secrets: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct Proven {
    /// The genesis file whose committee proves what the node serves.
    #[arg(long, default_value = ".weft-dev/genesis.toml")]
    pub genesis: PathBuf,
}

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Make an X25519 key for reading channels; prints its public Multikey for your DID.
    Key {
        /// Where to write the secret (never overwritten; mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a channel as its author; prints its id.
    Create {
        #[command(flatten)]
        acting: Acting,
        /// Its name.
        #[arg(long)]
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// A topic (repeatable).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Encrypt payloads (readers need keys).
        #[arg(long)]
        private: bool,
        #[command(flatten)]
        secrets: Secrets,
    },
    /// Ask for rights on a channel.
    Subscribe {
        /// The channel id.
        channel: Hash32,
        #[command(flatten)]
        acting: Acting,
        /// Audit, Read, Write or ReadAndWrite.
        #[arg(long)]
        rights: String,
        /// A credential file showing you may (the managers verify it before authorizing).
        #[arg(long)]
        evidence: Option<PathBuf>,
    },
    /// Grant a DID rights (as the author or an admin), sharing the keys they cover.
    Authorize {
        /// The channel id.
        channel: Hash32,
        /// The DID granted.
        subscriber: String,
        #[command(flatten)]
        acting: Acting,
        /// Audit, Read, Write or ReadAndWrite.
        #[arg(long)]
        rights: String,
        /// When the grant ends (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        secrets: Secrets,
    },
    /// Revoke a DID's rights and start a new key epoch without it.
    Revoke {
        /// The channel id.
        channel: Hash32,
        /// The DID revoked.
        subscriber: String,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        secrets: Secrets,
    },
    /// Start a new key epoch shared with the members that read now (after a grant expired).
    Rotate {
        /// The channel id.
        channel: Hash32,
        #[command(flatten)]
        acting: Acting,
        #[command(flatten)]
        secrets: Secrets,
    },
    /// Append an entry (sealed to the current epoch key on a private channel).
    Write {
        /// The channel id.
        channel: Hash32,
        #[command(flatten)]
        acting: Acting,
        /// The entry's type.
        #[arg(long = "type")]
        kind: String,
        /// Metadata in clear.
        #[arg(long, default_value = "")]
        metadata: String,
        /// A payload in clear.
        #[arg(long, default_value = "")]
        public: String,
        /// The payload (encrypted on a private channel).
        #[arg(long)]
        payload: String,
    },
    /// Read and decrypt what you may read, on proven state (`--json`: every entry).
    Read {
        /// The channel id.
        channel: Hash32,
        #[command(flatten)]
        acting: Acting,
        /// Your X25519 key file (`weft channel key`).
        #[arg(long)]
        agreement: Option<PathBuf>,
        #[command(flatten)]
        proven: Proven,
    },
    /// Print the entries as read with proofs (borsh hex each), to keep as a copy.
    Export {
        /// The channel id.
        channel: Hash32,
        #[command(flatten)]
        proven: Proven,
    },
    /// Validate the hash chain on proven state, and a copy (`export`) against it.
    Validate {
        /// The channel id.
        channel: Hash32,
        /// A copy to check.
        #[arg(long)]
        copy: Option<PathBuf>,
        #[command(flatten)]
        proven: Proven,
    },
}

fn parse_did(text: &str) -> Result<Did> {
    text.parse().map_err(|e| anyhow!("{text}: {e}"))
}

fn secrets_path(secrets: &Secrets, channel: &Hash32) -> PathBuf {
    secrets.secrets.clone().unwrap_or_else(|| {
        let hex = channel.to_string();
        PathBuf::from(format!("channel-{}.secrets.json", &hex[2..14]))
    })
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn save_secrets(path: &Path, channel: &Hash32, secrets: &[(u32, [u8; 32])]) -> Result<()> {
    let epochs: Vec<Value> = secrets
        .iter()
        .map(|(e, s)| json!({"epoch": e, "secret": hex::encode(s)}))
        .collect();
    write_private(
        path,
        &serde_json::to_string_pretty(&json!({"channel": channel.to_string(), "epochs": epochs}))?,
    )
}

fn load_secrets(path: &Path, channel: &Hash32) -> Result<Vec<(u32, [u8; 32])>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path)?)
        .with_context(|| format!("{} is not a channel secrets file", path.display()))?;
    if json["channel"].as_str() != Some(channel.to_string().as_str()) {
        bail!("{} holds the secrets of another channel", path.display());
    }
    json["epochs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let epoch = e["epoch"].as_u64().context("an epoch number")? as u32;
            let bytes: [u8; 32] = hex::decode(e["secret"].as_str().unwrap_or_default())?
                .try_into()
                .map_err(|_| anyhow!("a secret of 32 bytes"))?;
            Ok((epoch, bytes))
        })
        .collect()
}

/// The verifier of `proven`'s genesis file, checked against the chain the node serves.
async fn verifier(client: &Client, proven: &Proven) -> Result<CredentialVerifier> {
    let chain = client.chain_info().await?.chain_id;
    crate::output::verifier(&proven.genesis, &chain)
}

async fn manager<'a>(
    cli: &Global,
    client: &'a Client,
    channel: &Hash32,
    acting: &Acting,
    secrets: &Secrets,
) -> Result<(Manager<'a>, PathBuf)> {
    let path = secrets_path(secrets, channel);
    let kept = load_secrets(&path, channel)?;
    let manager = Manager::open(
        client,
        crate::output::own_key(cli)?,
        &acting.did,
        *channel,
        kept,
    )
    .await?;
    Ok((manager, path))
}

fn agreement_secret(path: &Path) -> Result<weft_channels::AgreementSecret> {
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let bytes: [u8; 32] = hex::decode(json["x25519"].as_str().unwrap_or_default())?
        .try_into()
        .map_err(|_| anyhow!("{} does not hold an X25519 secret", path.display()))?;
    Ok(weft_channels::AgreementSecret::from_bytes(bytes))
}

/// Runs `weft channel …`.
pub async fn run(cli: &Global, command: &ChannelCommand) -> Result<()> {
    match command {
        ChannelCommand::Key { out: path } => {
            if path.exists() {
                bail!(
                    "{} already exists; keys are never overwritten",
                    path.display()
                );
            }
            let secret = weft_channels::AgreementSecret::generate();
            let bytes = secret.to_bytes();
            write_private(
                path,
                &serde_json::to_string_pretty(&json!({"x25519": hex::encode(bytes)}))?,
            )?;
            let multikey = weft_did::multikey(weft_types::did::KeyType::X25519, &secret.public());
            out!("wrote {}", path.display());
            out!("public key {multikey}");
            out!(
                "add it to your DID: weft did add-key <DID> key-agreement-1 {multikey} --relationships keyAgreement"
            );
            Ok(())
        }
        ChannelCommand::Create {
            acting,
            name,
            description,
            topics,
            private,
            secrets,
        } => {
            let client = connect(cli).await?;
            let spec = ChannelSpec {
                name: name.clone(),
                description: description.clone(),
                topics: topics.clone(),
                private: *private,
            };
            spec.check()?;
            let manager =
                Manager::create(&client, crate::output::own_key(cli)?, &acting.did, &spec).await?;
            let id = manager.id();
            if *private {
                let path = secrets_path(secrets, &id);
                save_secrets(&path, &id, manager.secrets())?;
                eprintln!(
                    "the epoch secret is in {} (keep it: readers get keys only from a manager)",
                    path.display()
                );
            }
            out!("{id}");
            Ok(())
        }
        ChannelCommand::Subscribe {
            channel,
            acting,
            rights,
            evidence,
        } => {
            let evidence = evidence
                .as_ref()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .transpose()?;
            let client = connect(cli).await?;
            let rights = Rights::parse(rights)?;
            let did = parse_did(&acting.did)?;
            let mut signer = crate::output::signer(cli, &client).await?;
            let receipt = client
                .send_and_wait(&channels::tx::request(
                    &mut signer,
                    channel,
                    &did.id,
                    rights,
                    evidence.as_deref(),
                ))
                .await?;
            check(receipt)?;
            out!("{} asked for {} on {channel}", acting.did, rights.as_str());
            Ok(())
        }
        ChannelCommand::Authorize {
            channel,
            subscriber,
            acting,
            rights,
            until,
            secrets,
        } => {
            let client = connect(cli).await?;
            let rights = Rights::parse(rights)?;
            let until = until
                .as_deref()
                .map(weft_did::parse_time)
                .transpose()
                .map_err(|e| anyhow!("--until: {e}"))?;
            let (mut manager, _) = manager(cli, &client, channel, acting, secrets).await?;
            manager.authorize(subscriber, rights, until).await?;
            out!("{subscriber} may {} on {channel}", rights.as_str());
            Ok(())
        }
        ChannelCommand::Revoke {
            channel,
            subscriber,
            acting,
            secrets,
        } => {
            let client = connect(cli).await?;
            let (mut manager, path) = manager(cli, &client, channel, acting, secrets).await?;
            manager.revoke(subscriber).await?;
            if !manager.secrets().is_empty() {
                save_secrets(&path, channel, manager.secrets())?;
                eprintln!(
                    "a new key epoch started; its secret is in {}",
                    path.display()
                );
            }
            out!("{subscriber} revoked on {channel}");
            Ok(())
        }
        ChannelCommand::Rotate {
            channel,
            acting,
            secrets,
        } => {
            let client = connect(cli).await?;
            let (mut manager, path) = manager(cli, &client, channel, acting, secrets).await?;
            if manager.secrets().is_empty() {
                bail!(
                    "no epoch secrets in {}: only a manager holding them can rotate",
                    path.display()
                );
            }
            manager.rotate().await?;
            save_secrets(&path, channel, manager.secrets())?;
            out!("{channel} is at key epoch {}", manager.secrets().len() - 1);
            Ok(())
        }
        ChannelCommand::Write {
            channel,
            acting,
            kind,
            metadata,
            public,
            payload,
        } => {
            let client = connect(cli).await?;
            let did = parse_did(&acting.did)?;
            let mut signer = crate::output::signer(cli, &client).await?;
            let index = channels::write_entry(
                &client,
                &mut signer,
                channel,
                &did.id,
                kind,
                metadata,
                public.as_bytes(),
                payload.as_bytes(),
            )
            .await?;
            out!("entry {index}");
            Ok(())
        }
        ChannelCommand::Read {
            channel,
            acting,
            agreement,
            proven,
        } => {
            let client = connect(cli).await?;
            let verifier = verifier(&client, proven).await?;
            let read = channels::read_channel(&client, &verifier, channel).await?;
            weft_channels::validate(&read.entries, &read.channel.head)
                .map_err(|e| anyhow!("the channel does not validate: {e}"))?;
            let did = parse_did(&acting.did)?;
            let decrypted = match (read.channel.spec.private, agreement) {
                (true, Some(path)) => {
                    let keys =
                        channels::read_keys(&client, &verifier, channel, &did.id, read.height)
                            .await?;
                    channels::decrypt(&read, &did.id, &agreement_secret(path)?, &keys)
                }
                (true, None) => {
                    bail!("the channel is private: pass --agreement <your X25519 key file>")
                }
                (false, _) => channels::decrypt(
                    &read,
                    &did.id,
                    &weft_channels::AgreementSecret::generate(),
                    &[],
                ),
            };
            let chain = client.chain_info().await?.chain_id;
            let rows: Vec<Value> = read
                .entries
                .iter()
                .zip(&decrypted)
                .map(|(e, (_, d))| entry_json(&chain, e, d))
                .collect();
            if cli.json {
                print_json(
                    &json!({"channel": channel.to_string(), "height": read.height, "entries": rows}),
                );
            } else {
                for row in rows {
                    out!(
                        "{} {} {} {}",
                        row["index"],
                        row["created"].as_str().unwrap_or(""),
                        row["type"].as_str().unwrap_or(""),
                        row["payload"]
                            .as_str()
                            .or(row["error"].as_str())
                            .unwrap_or("")
                    );
                }
                eprintln!(
                    "{} entries, validated against the head proven at height {}",
                    read.entries.len(),
                    read.height
                );
            }
            Ok(())
        }
        ChannelCommand::Export { channel, proven } => {
            let client = connect(cli).await?;
            let read =
                channels::read_channel(&client, &verifier(&client, proven).await?, channel).await?;
            let entries: Vec<String> = read
                .entries
                .iter()
                .map(|e| hex::encode(borsh::to_vec(e).unwrap_or_default()))
                .collect();
            print_json(
                &json!({"channel": channel.to_string(), "height": read.height, "entries": entries}),
            );
            Ok(())
        }
        ChannelCommand::Validate {
            channel,
            copy,
            proven,
        } => {
            let client = connect(cli).await?;
            let read =
                channels::read_channel(&client, &verifier(&client, proven).await?, channel).await?;
            weft_channels::validate(&read.entries, &read.channel.head)
                .map_err(|e| anyhow!("the channel does not validate: {e}"))?;
            out!(
                "{} entries form an unbroken chain up to the head proven at height {}",
                read.entries.len(),
                read.height
            );
            if let Some(path) = copy {
                let json: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
                let entries = json["entries"]
                    .as_array()
                    .context("a copy made by `weft channel export`")?
                    .iter()
                    .map(|e| {
                        let bytes = hex::decode(e.as_str().unwrap_or_default())?;
                        Ok(borsh::from_slice::<Entry>(&bytes)?)
                    })
                    .collect::<Result<Vec<Entry>>>()?;
                weft_channels::compare(&entries, &read.entries)
                    .map_err(|e| anyhow!("the copy differs: {e}"))?;
                out!("the copy matches the channel");
            }
            Ok(())
        }
    }
}

fn check(receipt: weft_client::json::ReceiptJson) -> Result<()> {
    match receipt.status {
        weft_client::json::Status::Success => Ok(()),
        weft_client::json::Status::Failure => bail!("{}", receipt.error.unwrap_or_default()),
    }
}

fn entry_json(
    chain: &str,
    entry: &Entry,
    payload: &Result<Vec<u8>, weft_channels::ChannelCryptoError>,
) -> Value {
    let mut row = json!({
        "index": entry.index,
        "type": entry.input.kind,
        "created": weft_did::format_time(entry.created_ms),
        "height": entry.height,
        "writer": Did::new(chain, entry.writer).to_string(),
        "metadata": entry.input.metadata,
        "hash": entry.hash().to_string(),
    });
    if !entry.input.public_payload.is_empty() {
        row["publicPayload"] = String::from_utf8_lossy(&entry.input.public_payload).into();
    }
    match payload {
        Ok(bytes) => row["payload"] = String::from_utf8_lossy(bytes).into(),
        Err(e) => row["error"] = e.to_string().into(),
    }
    row
}
