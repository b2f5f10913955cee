//! `weft did …`: create, resolve and change `did:weft` DIDs (`docs/did-method-weft.md`).
//!
//! Changes are signed with the caller's key file: the key must be a capabilityInvocation key of
//! the DID, or (with `--as <controller DID>`) of a controller, which then proposes the change.
//! `resolve` verifies the answer against the committee of a genesis file when one is given.

use crate::output::{Global, connect, out, print_json, signer};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use weft_client::Client;
use weft_client::did::{DidResolution, ResolveOptions};
use weft_types::ContractId;
use weft_types::did::{
    self as model, CAPABILITY_INVOCATION, Controller, Did, DidId, Document, KeyFormat, KeyType, Op,
    RELATIONSHIPS, Service, ServiceEndpoint, VerificationMethod,
};

#[derive(Subcommand)]
pub enum DidCommand {
    /// Create a DID whose first key (`#key-1`: authentication, assertionMethod,
    /// capabilityInvocation) is the caller's key; prints the DID.
    Create {
        /// Also add an X25519 keyAgreement key (a Multikey, z6LS…) as `#key-agreement-1`.
        #[arg(long)]
        key_agreement: Option<String>,
    },
    /// Print a DID's document (unverified; see `resolve --genesis`).
    Show {
        /// The DID.
        did: String,
    },
    /// Print the DID Resolution result, verified against a committee when --genesis is given.
    Resolve(ResolveArgs),
    /// Add a verification method.
    AddKey {
        /// The DID.
        did: String,
        /// Its fragment (`key-2` gives `did:weft:…#key-2`).
        fragment: String,
        /// The public key as a Multikey (z6Mk… Ed25519, z6LS… X25519). (Its id is not `key`,
        /// which the global `--key` option takes.)
        #[arg(id = "public_key", value_name = "KEY")]
        key: String,
        /// Relationships, comma-separated [default: authentication for Ed25519, keyAgreement for
        /// X25519].
        #[arg(long, value_delimiter = ',')]
        relationships: Vec<String>,
        /// Express it as a JsonWebKey instead of a Multikey.
        #[arg(long)]
        jwk: bool,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Remove a verification method.
    RemoveKey {
        /// The DID.
        did: String,
        /// Its fragment.
        fragment: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Add a service.
    AddService {
        /// The DID.
        did: String,
        /// Its fragment.
        fragment: String,
        /// Its type (e.g. LinkedDomains).
        kind: String,
        /// Its endpoint URIs (one, or several for a set).
        #[arg(required = true)]
        endpoints: Vec<String>,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Remove a service.
    RemoveService {
        /// The DID.
        did: String,
        /// Its fragment.
        fragment: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Set the controllers (replacing any) and the threshold their approvals must reach.
    AddController {
        /// The DID.
        did: String,
        /// Controllers as DID=WEIGHT (weight 1 when omitted).
        #[arg(long = "controller", required = true)]
        controllers: Vec<String>,
        /// Total weight of approvals a change needs.
        #[arg(long)]
        threshold: u32,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Approve a controller's proposal, as controller `--as`.
    Approve {
        /// The DID.
        did: String,
        /// The proposal number.
        proposal: u32,
        /// The controller DID the caller's key speaks for.
        #[arg(long = "as")]
        controller: String,
    },
    /// Deactivate a DID. Final.
    Deactivate {
        /// The DID.
        did: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// List a DID's versions.
    History {
        /// The DID.
        did: String,
    },
}

#[derive(Args)]
pub struct ResolveArgs {
    /// The DID (did:weft or did:key).
    pub did: String,
    /// Resolve this version.
    #[arg(long)]
    pub version_id: Option<String>,
    /// Resolve the version in effect at this time (RFC 3339).
    #[arg(long)]
    pub version_time: Option<String>,
    /// Verify against the committee of this genesis file (anchor, root, proofs, document).
    #[arg(long)]
    pub genesis: Option<PathBuf>,
}

#[derive(Args)]
pub struct ChangeArgs {
    /// Propose the change as this controller DID instead of updating with a key of the DID.
    #[arg(long = "as")]
    pub controller: Option<String>,
}

fn parse_did(text: &str) -> Result<Did> {
    text.parse()
        .map_err(|e: model::DidParseError| anyhow!("{e}"))
}

fn identity() -> ContractId {
    ContractId::system("identity")
}

/// Connects, and checks that the chain has the identity system contract.
async fn connect_identity(cli: &Global) -> Result<Client> {
    let client = connect(cli).await?;
    let info = client.chain_info().await?;
    if !info.system_contracts.iter().any(|c| c.id == identity()) {
        bail!(
            "chain `{}` has no identity system contract: it was created by a Weft version without one. Start a new chain (`weft dev --fresh` for a devnet)",
            info.chain_id
        );
    }
    Ok(client)
}

async fn resolve(client: &Client, did: &str, options: &ResolveOptions) -> Result<DidResolution> {
    let answer = client.resolve_did(did, options).await?;
    if let Some(problem) = &answer.result.did_resolution_metadata.error {
        bail!(
            "{}: {}",
            problem.title,
            problem.detail.as_deref().unwrap_or(&problem.kind)
        );
    }
    Ok(answer)
}

/// The DID's current version number, read at the node's head (resolution reads the anchored
/// height, which may trail it by a block or two).
async fn current_version(client: &Client, did: &str) -> Result<u32> {
    let parsed = parse_did(did)?;
    let result = client
        .call_borsh(
            &identity(),
            "resolve",
            &borsh::to_vec(&(parsed.id, None::<u32>))?,
        )
        .await?;
    let found: Option<(model::DidRecord, model::DidVersion)> =
        borsh::from_slice(&result.return_data)?;
    let (record, _) = found.ok_or_else(|| anyhow!("{did} does not exist"))?;
    if record.deactivated {
        bail!("{did} is deactivated; deactivation is final");
    }
    Ok(record.version)
}

/// Sends `method(args)` to the identity contract and waits; fails on a failed receipt.
async fn send(
    cli: &Global,
    client: &Client,
    method: &str,
    args: Vec<u8>,
) -> Result<weft_client::json::ReceiptJson> {
    let mut signer = signer(cli, client).await?;
    let tx = signer.call(identity(), method, args);
    eprintln!("sent {}; waiting for it to be committed…", tx.tx.hash());
    crate::output::send(client, &tx, "identity").await
}

async fn change(cli: &Global, did: &str, ops: Vec<Op>, args: &ChangeArgs) -> Result<()> {
    let client = connect_identity(cli).await?;
    let parsed = parse_did(did)?;
    let version = current_version(&client, did).await?;
    match &args.controller {
        None => {
            let receipt = send(
                cli,
                &client,
                "update",
                borsh::to_vec(&(parsed.id, version, ops))?,
            )
            .await?;
            let new: u32 = borsh::from_slice(&receipt.return_data)?;
            report(
                cli,
                did,
                &format!("{did} is now at version {new}"),
                receipt.height,
            );
        }
        Some(controller) => {
            let controller = parse_did(controller)?;
            let receipt = send(
                cli,
                &client,
                "propose",
                borsh::to_vec(&(parsed.id, controller.id, version, ops))?,
            )
            .await?;
            let (number, applied): (u32, bool) = borsh::from_slice(&receipt.return_data)?;
            let text = if applied {
                format!(
                    "proposal {number} applied at once: the controller's weight meets the threshold"
                )
            } else {
                format!(
                    "proposal {number} made; other controllers approve it with `weft did approve {did} {number} --as <their DID>`"
                )
            };
            report(cli, did, &text, receipt.height);
        }
    }
    Ok(())
}

fn report(cli: &Global, did: &str, text: &str, height: u64) {
    if cli.json {
        print_json(&serde_json::json!({"did": did, "height": height, "message": text}));
    } else {
        out!("{text} (block {height})");
    }
}

fn relationships(names: &[String], key_type: KeyType) -> Result<u8> {
    if names.is_empty() {
        return Ok(match key_type {
            KeyType::Ed25519 => model::AUTHENTICATION,
            KeyType::X25519 => model::KEY_AGREEMENT,
        });
    }
    names.iter().try_fold(0u8, |bits, name| {
        RELATIONSHIPS
            .iter()
            .find(|(_, n)| n == name)
            .map(|(bit, _)| bits | bit)
            .ok_or_else(|| {
                anyhow!(
                    "unknown relationship `{name}`; expected {}",
                    RELATIONSHIPS.map(|(_, n)| n).join(", ")
                )
            })
    })
}

pub async fn run(cli: &Global, command: &DidCommand) -> Result<()> {
    match command {
        DidCommand::Create { key_agreement } => {
            let client = connect_identity(cli).await?;
            let signer = signer(cli, &client).await?;
            let key = signer.key().public_key();
            let mut document = Document {
                methods: vec![VerificationMethod::ed25519(
                    "key-1",
                    key.0,
                    model::AUTHENTICATION | model::ASSERTION_METHOD | CAPABILITY_INVOCATION,
                )],
                ..Document::default()
            };
            if let Some(multikey) = key_agreement {
                let (kind, bytes) = weft_did::parse_multikey(multikey)?;
                if kind != KeyType::X25519 {
                    bail!("--key-agreement takes an X25519 Multikey (z6LS…)");
                }
                document.methods.push(VerificationMethod {
                    fragment: "key-agreement-1".into(),
                    key_type: KeyType::X25519,
                    format: KeyFormat::Multikey,
                    public_key: bytes,
                    relationships: model::KEY_AGREEMENT,
                });
            }
            document.check().map_err(|e| anyhow!("{e}"))?;
            let receipt = send(cli, &client, "create", borsh::to_vec(&(document,))?).await?;
            let id: DidId = borsh::from_slice(&receipt.return_data)?;
            let info = client.chain_info().await?;
            let did = Did::new(info.chain_id, id).to_string();
            report(cli, &did, &did, receipt.height);
            Ok(())
        }
        DidCommand::Show { did } => {
            let client = connect_identity(cli).await?;
            let answer = resolve(&client, did, &ResolveOptions::default()).await?;
            print_json(&answer.result.did_document);
            Ok(())
        }
        DidCommand::Resolve(args) => {
            let client = connect_identity(cli).await?;
            let options = ResolveOptions {
                version_id: args.version_id.clone(),
                version_time: args.version_time.clone(),
                accept: None,
            };
            match &args.genesis {
                None => {
                    let answer = client.resolve_did(&args.did, &options).await?;
                    print_json(&answer);
                    eprintln!(
                        "not verified: pass --genesis <genesis.toml> to check the answer against the committee"
                    );
                }
                Some(path) => {
                    let genesis = weft_node::genesis::Genesis::load(path)?;
                    let committee = genesis.committee().map_err(|e| anyhow!("{e}"))?;
                    let result = client
                        .resolve_did_verified(&args.did, &options, &genesis.chain_id, &committee)
                        .await
                        .context("verification failed")?;
                    print_json(&result);
                    eprintln!(
                        "verified against the committee of {} (anchor signatures, state root, proofs, document)",
                        path.display()
                    );
                }
            }
            Ok(())
        }
        DidCommand::AddKey {
            did,
            fragment,
            key,
            relationships: names,
            jwk,
            change: args,
        } => {
            let (key_type, public_key) = weft_did::parse_multikey(key)?;
            let method = VerificationMethod {
                fragment: fragment.clone(),
                key_type,
                format: if *jwk {
                    KeyFormat::JsonWebKey
                } else {
                    KeyFormat::Multikey
                },
                public_key,
                relationships: relationships(names, key_type)?,
            };
            change(cli, did, vec![Op::AddMethod(method)], args).await
        }
        DidCommand::RemoveKey {
            did,
            fragment,
            change: args,
        } => change(cli, did, vec![Op::RemoveMethod(fragment.clone())], args).await,
        DidCommand::AddService {
            did,
            fragment,
            kind,
            endpoints,
            change: args,
        } => {
            let endpoint = match endpoints.as_slice() {
                [one] => ServiceEndpoint::Uri(one.clone()),
                many => ServiceEndpoint::Set(many.to_vec()),
            };
            let service = Service {
                fragment: fragment.clone(),
                types: vec![kind.clone()],
                endpoint,
            };
            change(cli, did, vec![Op::AddService(service)], args).await
        }
        DidCommand::RemoveService {
            did,
            fragment,
            change: args,
        } => change(cli, did, vec![Op::RemoveService(fragment.clone())], args).await,
        DidCommand::AddController {
            did,
            controllers,
            threshold,
            change: args,
        } => {
            let controllers = controllers
                .iter()
                .map(|c| {
                    let (text, weight) = match c.rsplit_once('=') {
                        Some((d, w)) => (
                            d,
                            w.parse().map_err(|_| {
                                anyhow!("controller `{c}`: weight `{w}` is not a number")
                            })?,
                        ),
                        None => (c.as_str(), 1),
                    };
                    Ok(Controller {
                        did: parse_did(text)?.id,
                        weight,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let op = Op::SetControllers {
                controllers,
                threshold: *threshold,
            };
            change(cli, did, vec![op], args).await
        }
        DidCommand::Approve {
            did,
            proposal,
            controller,
        } => {
            let client = connect_identity(cli).await?;
            let (parsed, controller) = (parse_did(did)?, parse_did(controller)?);
            // Show what is approved; the approval names this content's hash, so it cannot
            // apply to anything else.
            let result = client
                .call_borsh(
                    &identity(),
                    "proposal",
                    &borsh::to_vec(&(parsed.id, *proposal))?,
                )
                .await?;
            let open: Option<model::Proposal> = borsh::from_slice(&result.return_data)?;
            let open = open.ok_or_else(|| anyhow!("{did} has no open proposal {proposal}"))?;
            eprintln!(
                "proposal {proposal} (for version {}), approved so far by {} controller(s):",
                open.version,
                open.approvals.len()
            );
            for op in &open.ops {
                eprintln!("  {op:?}");
            }
            let content = model::proposal_hash(open.version, &open.ops);
            let receipt = send(
                cli,
                &client,
                "approve",
                borsh::to_vec(&(parsed.id, controller.id, *proposal, content))?,
            )
            .await?;
            let applied: bool = borsh::from_slice(&receipt.return_data)?;
            let text = if applied {
                format!("proposal {proposal} reached the threshold and applied")
            } else {
                format!("approved proposal {proposal}; it needs more approvals")
            };
            report(cli, did, &text, receipt.height);
            Ok(())
        }
        DidCommand::Deactivate { did, change: args } => {
            change(cli, did, vec![Op::Deactivate], args).await
        }
        DidCommand::History { did } => {
            let client = connect_identity(cli).await?;
            let latest = resolve(&client, did, &ResolveOptions::default()).await?;
            let count: u32 = latest
                .result
                .did_document_metadata
                .version_id
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut versions = Vec::new();
            for n in 1..=count {
                let options = ResolveOptions {
                    version_id: Some(n.to_string()),
                    ..Default::default()
                };
                let answer = resolve(&client, did, &options).await?;
                let meta = &answer.result.did_document_metadata;
                let when = meta
                    .updated
                    .clone()
                    .or(meta.created.clone())
                    .unwrap_or_default();
                let doc = answer.result.did_document.as_ref();
                let keys = doc.map_or(0, |d| d.verification_method.len());
                let services = doc.map_or(0, |d| d.service.len());
                if !cli.json {
                    out!("version {n}  {when}  {keys} key(s), {services} service(s)");
                }
                versions.push(
                    serde_json::json!({"versionId": n.to_string(), "time": when, "document": doc}),
                );
            }
            if cli.json {
                print_json(&versions);
            } else if latest.result.is_deactivated() {
                out!("deactivated (version {count} is the last)");
            }
            Ok(())
        }
    }
}
