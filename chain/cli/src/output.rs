//! What every command shares: printing (the [`out!`] macro, JSON), the global options, and
//! connecting to a node.

use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use weft_client::{Client, Signer, keyfile};

/// Prints a line to stdout; a closed pipe (`weft … | head`) is not an error worth a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use out;

/// Where `weft dev` keeps its data and dev key by default.
pub const DEV_HOME: &str = ".weft-dev";

/// Options every command takes.
#[derive(Args)]
pub struct Global {
    /// The node's JSON-RPC URL (http:// or ws://).
    #[arg(
        long,
        global = true,
        env = "WEFT_RPC",
        default_value = "http://127.0.0.1:8545"
    )]
    pub rpc: String,
    /// Key file that signs transactions [default: .weft-dev/dev-key.json if present, else
    /// ~/.weft/key.json].
    #[arg(long, global = true, env = "WEFT_KEY")]
    pub key: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

pub fn key_path(cli: &Global) -> PathBuf {
    if let Some(k) = &cli.key {
        return k.clone();
    }
    let dev = Path::new(DEV_HOME).join("dev-key.json");
    if dev.exists() {
        return dev;
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".weft/key.json")
}

pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => out!("{s}"),
        Err(e) => eprintln!("error: cannot print the result: {e}"),
    }
}

pub async fn connect(cli: &Global) -> Result<Client> {
    let hint = || format!("is a node running at {}? (`weft dev` starts one)", cli.rpc);
    let client = Client::connect(&cli.rpc).await.with_context(hint)?;
    // HTTP connects lazily; ask once so an unreachable node is reported as such.
    client.chain_info().await.with_context(hint)?;
    Ok(client)
}

pub async fn signer(cli: &Global, client: &Client) -> Result<Signer> {
    let path = key_path(cli);
    let key = keyfile::read(&path).with_context(
        || "a key signs transactions: pass --key, set WEFT_KEY, or create one with `weft keys new`",
    )?;
    let info = client.chain_info().await?;
    let account = client.account(&key.public_key().address()).await?;
    Ok(Signer::new(key, &info.chain_id, account.next_nonce))
}

/// Reads your key file (`--key`, `WEFT_KEY` or the default) for what you sign off chain: permits,
/// deals, channel keys.
pub fn own_key(cli: &Global) -> Result<weft_types::Keypair> {
    let path = key_path(cli);
    keyfile::read(&path).with_context(|| {
        format!(
            "your key signs this: pass --key or set WEFT_KEY (read {})",
            path.display()
        )
    })
}

/// Sends `tx` and waits; fails with the `contract` contract's reason when the receipt is a
/// failure.
pub async fn send(
    client: &Client,
    tx: &weft_types::SignedTransaction,
    contract: &str,
) -> Result<weft_client::json::ReceiptJson> {
    let receipt = client.send_and_wait(tx).await?;
    if receipt.status != weft_client::json::Status::Success {
        anyhow::bail!(
            "the {contract} contract refused it: {}",
            receipt.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(receipt)
}

/// The verifier of the chain of genesis file `genesis`, whose committee proves what the node
/// serves; the node must serve that chain (`chain`).
pub fn verifier(
    genesis: &Path,
    chain: &str,
) -> Result<weft_client::credentials::CredentialVerifier> {
    let text = std::fs::read_to_string(genesis).with_context(|| {
        format!(
            "reading the genesis file {} (its committee proves state)",
            genesis.display()
        )
    })?;
    let (genesis_chain, committee) =
        weft_client::genesis::committee_of_genesis(&text).map_err(anyhow::Error::msg)?;
    if genesis_chain != chain {
        anyhow::bail!(
            "{} is the genesis file of chain `{genesis_chain}`, but the node serves chain `{chain}`",
            genesis.display()
        );
    }
    Ok(weft_client::credentials::CredentialVerifier::new(
        genesis_chain,
        committee,
    ))
}
