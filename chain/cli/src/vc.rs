//! `weft vc …`, `weft vp …` and `weft trust …`: verifiable credentials with the caller's own key.
//!
//! The key file (`--key`) is the issuer's, holder's or authority's own key; it must be a key of
//! the DID given with `--did` (`#key-1` unless `--fragment` says otherwise), under
//! `assertionMethod` to issue, change status lists or accredit, under `authentication` to
//! present. Nothing here sends a private key anywhere: `weft vc serve` is an issuer process that
//! holds only its own key.
//!
//! Verification asks the node's VC API by default; with `--genesis` it runs here, on state the
//! node proves against the committee's anchors (`weft_client::credentials::CredentialVerifier`).

use crate::output::{Global, connect, out, print_json};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};
use weft_client::Client;
use weft_client::credentials::{CredentialVerifier, Issuer, VcApi};
use weft_credentials::bitstring::{StatusEntry, parse_list_url};
use weft_credentials::vcapi;
use weft_types::status::{Change, ListSpec, MIN_ENTRIES, Purpose};
use weft_types::trust::Grant;

#[derive(Args, Clone)]
pub struct IdentityArgs {
    /// Your DID (the key file's key must be one of its keys).
    #[arg(long)]
    pub did: String,
    /// The fragment of your key in the DID document.
    #[arg(long, default_value = "key-1")]
    pub fragment: String,
}

#[derive(Subcommand)]
pub enum VcCommand {
    /// Issue a credential (a JSON file, `-` for stdin) with your key; prints it secured.
    Issue {
        /// The unsecured credential.
        credential: PathBuf,
        #[command(flatten)]
        issuer: IdentityArgs,
        /// vc (Data Integrity), vc+jwt or vc+sd-jwt.
        #[arg(long, default_value = "vc")]
        format: String,
        /// For vc: eddsa-rdfc-2022 or eddsa-jcs-2022.
        #[arg(long)]
        cryptosuite: Option<String>,
        /// For vc+sd-jwt: credentialSubject properties the holder may withhold.
        #[arg(long, value_delimiter = ',')]
        disclosable: Vec<String>,
        /// For vc+sd-jwt: the holder's key [default: <credentialSubject.id>#key-1].
        #[arg(long)]
        holder_key: Option<String>,
        /// Add an entry of this revocation list (allocates an index).
        #[arg(long)]
        revocation_list: Option<u32>,
        /// Add an entry of this suspension list (allocates an index).
        #[arg(long)]
        suspension_list: Option<u32>,
    },
    /// Verify a credential; prints every check. Exits non-zero unless verified.
    Verify(VerifyArgs),
    /// Revoke a credential you issued (its revocation entry). Final.
    Revoke {
        /// The credential.
        credential: PathBuf,
        #[command(flatten)]
        issuer: IdentityArgs,
    },
    /// Suspend a credential you issued (its suspension entry).
    Suspend {
        /// The credential.
        credential: PathBuf,
        #[command(flatten)]
        issuer: IdentityArgs,
    },
    /// Lift the suspension of a credential you issued.
    Unsuspend {
        /// The credential.
        credential: PathBuf,
        #[command(flatten)]
        issuer: IdentityArgs,
    },
    /// Show the value of each status entry of a credential.
    Status {
        /// The credential.
        credential: PathBuf,
    },
    /// Create or show status lists.
    #[command(subcommand)]
    List(ListCommand),
    /// Serve `POST /credentials/issue` with your key (an issuer process holding only its own key).
    Serve {
        #[command(flatten)]
        issuer: IdentityArgs,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8600")]
        listen: std::net::SocketAddr,
        /// Add entries of this revocation list when a request asks for `revocation`.
        #[arg(long)]
        revocation_list: Option<u32>,
        /// Add entries of this suspension list when a request asks for `suspension`.
        #[arg(long)]
        suspension_list: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum ListCommand {
    /// Create a status list of your DID; prints its number and URL.
    Create {
        #[command(flatten)]
        issuer: IdentityArgs,
        /// revocation or suspension.
        #[arg(long)]
        purpose: String,
        /// How many entries (at least 131072).
        #[arg(long, default_value_t = MIN_ENTRIES)]
        entries: u32,
    },
    /// Show a status list.
    Show {
        /// The issuer DID.
        issuer: String,
        /// The list number.
        list: u32,
    },
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The credential (JSON, or a compact JWT / SD-JWT), `-` for stdin.
    pub credential: PathBuf,
    /// A DID whose accreditations you trust (repeat for several); without one, accreditation is
    /// not checked.
    #[arg(long = "trusted-root")]
    pub roots: Vec<String>,
    /// Verify here against the committee of this genesis file, on proven state, instead of
    /// asking the node.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum VpCommand {
    /// Ask a verifier (a node) for a single-use challenge.
    Challenge,
    /// Present credentials with your key for a verifier's challenge and domain; prints the
    /// presentation.
    Create {
        /// The credentials (as issued to you).
        #[arg(required = true)]
        credentials: Vec<PathBuf>,
        #[command(flatten)]
        holder: IdentityArgs,
        /// The verifier's challenge.
        #[arg(long, allow_hyphen_values = true)]
        challenge: String,
        /// The verifier's domain.
        #[arg(long)]
        domain: String,
        /// vp (Data Integrity) or vp+jwt.
        #[arg(long, default_value = "vp")]
        format: String,
        /// For an SD-JWT credential: the claims to reveal (others stay hidden).
        #[arg(long, value_delimiter = ',')]
        reveal: Vec<String>,
    },
    /// Verify a presentation at the node (which issued the challenge); prints every check.
    Verify {
        /// The presentation.
        presentation: PathBuf,
        /// The challenge you sent.
        #[arg(long, allow_hyphen_values = true)]
        challenge: String,
        /// Your domain.
        #[arg(long)]
        domain: Option<String>,
        /// A DID whose accreditations you trust (repeatable).
        #[arg(long = "trusted-root")]
        roots: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Accredit a DID to issue credential types, as authority `--did`.
    Accredit {
        /// The DID accredited.
        subject: String,
        #[command(flatten)]
        authority: IdentityArgs,
        /// A credential type (repeatable).
        #[arg(long = "type", required = true)]
        types: Vec<String>,
        /// Allow the subject to accredit others for these types.
        #[arg(long)]
        may_accredit: bool,
        /// When the accreditation ends (RFC 3339).
        #[arg(long)]
        until: Option<String>,
    },
    /// Revoke your accreditation of a DID.
    Revoke {
        /// The DID.
        subject: String,
        #[command(flatten)]
        authority: IdentityArgs,
    },
    /// Show the chain of accreditations from an issuer to a root you trust.
    Chain {
        /// The issuer DID.
        issuer: String,
        /// The credential type.
        #[arg(long = "type")]
        credential_type: String,
        /// A root you trust (repeatable).
        #[arg(long = "root", required = true)]
        roots: Vec<String>,
    },
    /// Show every accreditation of a DID.
    Show {
        /// The DID.
        subject: String,
    },
}

fn read_document(path: &Path) -> Result<Value> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).with_context(|| format!("{} is not JSON", path.display()))
    } else {
        // A compact vc+jwt or SD-JWT.
        Ok(Value::String(trimmed.to_string()))
    }
}

async fn issuer<'a>(cli: &Global, client: &'a Client, who: &IdentityArgs) -> Result<Issuer<'a>> {
    let path = crate::output::key_path(cli);
    let key = weft_client::keyfile::read(&path)
        .with_context(|| format!("your key signs: pass --key (read {})", path.display()))?;
    Ok(Issuer::new(client, key, &who.did, &who.fragment, client.url()).await?)
}

fn vc_signer(cli: &Global, who: &IdentityArgs) -> Result<weft_credentials::Signer> {
    let path = crate::output::key_path(cli);
    let key = weft_client::keyfile::read(&path)
        .with_context(|| format!("your key signs: pass --key (read {})", path.display()))?;
    weft_credentials::Signer::new(
        ed25519_dalek::SigningKey::from_bytes(&key.seed()),
        format!("{}#{}", who.did, who.fragment),
    )
    .map_err(|e| anyhow!("{e}"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Prints a report's checks; an error unless verified.
fn show_report(global: &Global, status: u16, body: &Value) -> Result<()> {
    if global.json {
        print_json(body);
    } else {
        let print = |checks: &Value, indent: &str| {
            for c in checks.as_array().into_iter().flatten() {
                let outcome = c["outcome"].as_str().unwrap_or("?");
                let reason = c["reason"]
                    .as_str()
                    .map(|r| format!(" [{r}]"))
                    .unwrap_or_default();
                out!(
                    "{indent}{:<9} {:<7}{reason} {}",
                    c["check"].as_str().unwrap_or("?"),
                    outcome,
                    c["detail"].as_str().unwrap_or("")
                );
            }
        };
        print(&body["checks"], "");
        for (i, c) in body["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            out!("credential {}:", i + 1);
            print(&c["checks"], "  ");
        }
    }
    match (status, body["verified"].as_bool()) {
        (200, Some(true)) => {
            eprintln!("verified");
            Ok(())
        }
        (_, Some(false)) => {
            let mut reasons = Vec::new();
            collect_reasons(body, &mut reasons);
            bail!("not verified: {}", reasons.join(", "))
        }
        _ => bail!(
            "the verifier answered HTTP {status}: {}",
            body["detail"].as_str().unwrap_or(&body.to_string())
        ),
    }
}

fn collect_reasons(report: &Value, out: &mut Vec<String>) {
    for c in report["checks"].as_array().into_iter().flatten() {
        if let Some(r) = c["reason"].as_str() {
            out.push(r.to_string());
        }
    }
    for c in report["credentials"].as_array().into_iter().flatten() {
        collect_reasons(c, out);
    }
}

/// The entry of `purpose` in a credential's status (any securing format).
fn entry_of(credential: &Value, purpose: &str) -> Result<StatusEntry> {
    let json = unsecured(credential)?;
    StatusEntry::all_of(&json)?
        .into_iter()
        .find(|e| e.purpose == purpose)
        .ok_or_else(|| anyhow!("the credential has no {purpose} status entry"))
}

/// The credential inside any securing format, without checking it.
fn unsecured(credential: &Value) -> Result<Value> {
    let compact = match credential {
        Value::String(s) => Some(s.clone()),
        other if other["type"] == "EnvelopedVerifiableCredential" => other["id"]
            .as_str()
            .and_then(|id| id.split_once(','))
            .map(|(_, c)| c.to_string()),
        _ => None,
    };
    let Some(compact) = compact else {
        return Ok(credential.clone());
    };
    if compact.contains('~') {
        let opened = weft_credentials::sdjwt::open(&compact)?;
        Ok(Value::Object(opened.claims))
    } else {
        let jws = weft_credentials::jose::Jws::parse(&compact, None)?;
        Ok(Value::Object(jws.payload))
    }
}

async fn change_status(
    cli: &Global,
    path: &Path,
    who: &IdentityArgs,
    purpose: &str,
    value: u8,
) -> Result<()> {
    let credential = read_document(path)?;
    let entry = entry_of(&credential, purpose)?;
    let (owner, list) = parse_list_url(&entry.list_url)
        .ok_or_else(|| anyhow!("{} is not a Weft status list URL", entry.list_url))?;
    if owner != who.did {
        bail!(
            "the credential's {purpose} list belongs to {owner}, not to --did {}",
            who.did
        );
    }
    let client = connect(cli).await?;
    let mut issuer = issuer(cli, &client, who).await?;
    let index = u32::try_from(entry.index).context("statusListIndex is too large")?;
    let version = issuer.change(list, &[Change { index, value }]).await?;
    out!("{purpose} list {list} entry {index} set to {value} (list version {version})");
    Ok(())
}

/// Runs `weft vc …`.
pub async fn run_vc(cli: &Global, command: &VcCommand) -> Result<()> {
    match command {
        VcCommand::Issue {
            credential,
            issuer: who,
            format,
            cryptosuite,
            disclosable,
            holder_key,
            revocation_list,
            suspension_list,
        } => {
            let unsecured = read_document(credential)?;
            let format = vcapi::parse_format(
                Some(format),
                cryptosuite.as_deref(),
                disclosable,
                holder_key.as_deref(),
                &unsecured,
            )?;
            let mut lists = Vec::new();
            if let Some(l) = revocation_list {
                lists.push((Purpose::Revocation, *l));
            }
            if let Some(l) = suspension_list {
                lists.push((Purpose::Suspension, *l));
            }
            let client = connect(cli).await?;
            let mut issuer = issuer(cli, &client, who).await?;
            let secured = issuer.issue(unsecured, &format, &lists).await?;
            print_json(&secured);
            Ok(())
        }
        VcCommand::Verify(args) => {
            let credential = read_document(&args.credential)?;
            match &args.genesis {
                None => {
                    let (status, body) = VcApi::new(&cli.rpc)
                        .verify_credential(&credential, &args.roots)
                        .await?;
                    let result = show_report(cli, status, &body);
                    eprintln!(
                        "(checked by the node at {}; pass --genesis to check here on proven state)",
                        cli.rpc
                    );
                    result
                }
                Some(path) => {
                    let genesis = weft_node::genesis::Genesis::load(path)?;
                    let committee = genesis.committee().map_err(|e| anyhow!("{e}"))?;
                    let client = connect(cli).await?;
                    let verifier = CredentialVerifier::new(&genesis.chain_id, committee);
                    let options = weft_credentials::Options {
                        now: now(),
                        trusted_roots: args.roots.clone(),
                        ..Default::default()
                    };
                    let report = verifier
                        .verify_credential(&client, &credential, &options)
                        .await?;
                    let body = serde_json::to_value(&report)?;
                    let status = if report.verified { 200 } else { 422 };
                    show_report(cli, status, &body)
                }
            }
        }
        VcCommand::Revoke { credential, issuer } => {
            change_status(cli, credential, issuer, "revocation", 1).await
        }
        VcCommand::Suspend { credential, issuer } => {
            change_status(cli, credential, issuer, "suspension", 1).await
        }
        VcCommand::Unsuspend { credential, issuer } => {
            change_status(cli, credential, issuer, "suspension", 0).await
        }
        VcCommand::Status { credential } => {
            let credential = read_document(credential)?;
            let json = unsecured(&credential)?;
            let client = connect(cli).await?;
            let entries = StatusEntry::all_of(&json)?;
            if entries.is_empty() {
                out!("the credential has no status entry");
            }
            for entry in entries {
                let (owner, list) = parse_list_url(&entry.list_url)
                    .ok_or_else(|| anyhow!("{} is not a Weft status list URL", entry.list_url))?;
                let answer: Value = client
                    .request(
                        "status_getEntry",
                        serde_json::json!({"issuer": owner, "list": list, "index": entry.index}),
                    )
                    .await?;
                let state = match (entry.purpose.as_str(), answer["value"].as_u64()) {
                    ("revocation", Some(1)) => "REVOKED".to_string(),
                    ("suspension", Some(1)) => "SUSPENDED".to_string(),
                    (_, Some(0)) => "clear".to_string(),
                    (_, v) => format!("{v:?}"),
                };
                out!(
                    "{} list {list} of {owner}, entry {}: {state}",
                    entry.purpose,
                    entry.index
                );
            }
            Ok(())
        }
        VcCommand::List(ListCommand::Create {
            issuer: who,
            purpose,
            entries,
        }) => {
            let purpose = Purpose::parse(purpose)?;
            let client = connect(cli).await?;
            let mut issuer = issuer(cli, &client, who).await?;
            let list = issuer
                .create_list(ListSpec {
                    purpose,
                    entries: *entries,
                    status_size: 1,
                    messages: Vec::new(),
                })
                .await?;
            out!("{purpose} list {list}: {}", issuer.list_url(list));
            Ok(())
        }
        VcCommand::List(ListCommand::Show { issuer, list }) => {
            let client = connect(cli).await?;
            let answer: Value = client
                .request(
                    "status_getList",
                    serde_json::json!({"issuer": issuer, "list": list}),
                )
                .await?;
            if answer.is_null() {
                bail!("{issuer} has no status list {list}");
            }
            print_json(&answer);
            Ok(())
        }
        VcCommand::Serve {
            issuer: who,
            listen,
            revocation_list,
            suspension_list,
        } => {
            crate::issuer_server::serve(
                cli,
                &who.did,
                &who.fragment,
                *listen,
                *revocation_list,
                *suspension_list,
            )
            .await
        }
    }
}

/// Runs `weft vp …`.
pub async fn run_vp(cli: &Global, command: &VpCommand) -> Result<()> {
    match command {
        VpCommand::Challenge => {
            let challenge = VcApi::new(&cli.rpc).challenge().await?;
            out!("{challenge}");
            Ok(())
        }
        VpCommand::Create {
            credentials,
            holder,
            challenge,
            domain,
            format,
            reveal,
        } => {
            let signer = vc_signer(cli, holder)?;
            let documents = credentials
                .iter()
                .map(|p| read_document(p))
                .collect::<Result<Vec<_>>>()?;
            let is_sd = |d: &Value| {
                d["id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("data:application/vc+sd-jwt,"))
                    || d.as_str().is_some_and(|s| s.contains('~'))
            };
            let presentation = if documents.len() == 1 && is_sd(&documents[0]) {
                let names: Vec<&str> = reveal.iter().map(String::as_str).collect();
                weft_credentials::present::present_sd_jwt(
                    &documents[0],
                    &names,
                    &signer,
                    challenge,
                    domain,
                    now(),
                )?
            } else {
                if !reveal.is_empty() {
                    bail!("--reveal is for presenting one SD-JWT credential");
                }
                let format = vcapi::parse_present_format(Some(format), None)?;
                weft_credentials::present(
                    &documents,
                    &signer,
                    challenge,
                    domain,
                    format,
                    &weft_did::format_time(now() * 1000),
                )?
            };
            print_json(&presentation);
            Ok(())
        }
        VpCommand::Verify {
            presentation,
            challenge,
            domain,
            roots,
        } => {
            let presentation = read_document(presentation)?;
            let (status, body) = VcApi::new(&cli.rpc)
                .verify_presentation(&presentation, challenge, domain.as_deref(), roots)
                .await?;
            show_report(cli, status, &body)
        }
    }
}

/// Runs `weft trust …`.
pub async fn run_trust(cli: &Global, command: &TrustCommand) -> Result<()> {
    match command {
        TrustCommand::Accredit {
            subject,
            authority,
            types,
            may_accredit,
            until,
        } => {
            let valid_until_ms = until
                .as_deref()
                .map(weft_did::parse_time)
                .transpose()
                .map_err(|e| anyhow!("--until: {e}"))?;
            let client = connect(cli).await?;
            let mut issuer = issuer(cli, &client, authority).await?;
            let number = issuer
                .accredit(
                    subject,
                    &Grant {
                        types: types.clone(),
                        may_accredit: *may_accredit,
                        valid_until_ms,
                    },
                )
                .await?;
            out!(
                "{} accredited {subject} for {} (accreditation {number})",
                authority.did,
                types.join(", ")
            );
            Ok(())
        }
        TrustCommand::Revoke { subject, authority } => {
            let client = connect(cli).await?;
            let mut issuer = issuer(cli, &client, authority).await?;
            issuer.revoke_accreditation(subject).await?;
            out!("{} revoked its accreditation of {subject}", authority.did);
            Ok(())
        }
        TrustCommand::Chain {
            issuer,
            credential_type,
            roots,
        } => {
            let client = connect(cli).await?;
            let answer: Value = client
                .request(
                    "trust_getChain",
                    serde_json::json!({"issuer": issuer, "type": credential_type, "roots": roots}),
                )
                .await?;
            if cli.json {
                print_json(&answer);
            } else if answer["accredited"] == true {
                out!("{issuer} is accredited for {credential_type}:");
                for link in answer["chain"].as_array().into_iter().flatten() {
                    out!(
                        "  {} accredited by {} (types {}, until {})",
                        link["subject"].as_str().unwrap_or("?"),
                        link["authority"].as_str().unwrap_or("?"),
                        link["types"],
                        link["validUntil"].as_str().unwrap_or("no end")
                    );
                }
            }
            if answer["accredited"] != true {
                bail!("{}", answer["reason"].as_str().unwrap_or("not accredited"));
            }
            Ok(())
        }
        TrustCommand::Show { subject } => {
            let client = connect(cli).await?;
            let answer: Value = client
                .request(
                    "trust_getAccreditations",
                    serde_json::json!({"subject": subject}),
                )
                .await?;
            print_json(&answer);
            Ok(())
        }
    }
}
