//! `weft deploy`, `call`, `send`, `tx`, `contract` and `info`: contracts and transactions over
//! JSON-RPC (`weft-client`). Transactions are signed here, with the caller's key file.

use crate::output::{Global, connect, out, print_json, signer};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use weft_client::json::{ReceiptJson, Status, WaitUntil, hex_bytes};
use weft_client::{Client, codec};
use weft_types::{ContractId, TxHash};

#[derive(Args)]
pub struct ArgsInput {
    /// Arguments as JSON, typed by the contract's ABI: an array in order, an object by name, or
    /// a single value.
    pub args: Option<String>,
    /// Arguments as borsh hex (0x…) instead.
    #[arg(long, conflicts_with = "args")]
    pub args_hex: Option<String>,
}

#[derive(Args)]
pub struct DeployArgs {
    /// The contract's .wasm file.
    pub wasm: PathBuf,
    #[command(flatten)]
    pub input: ArgsInput,
    /// Return once the node accepts the transaction, without waiting for the block.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args)]
pub struct CallArgs {
    /// The contract id (0x…).
    pub contract: ContractId,
    /// The method.
    pub method: String,
    #[command(flatten)]
    pub input: ArgsInput,
    /// Read at this height instead of the latest.
    #[arg(long)]
    pub height: Option<u64>,
}

#[derive(Args)]
pub struct SendArgs {
    /// The contract id (0x…).
    pub contract: ContractId,
    /// The method.
    pub method: String,
    #[command(flatten)]
    pub input: ArgsInput,
    /// Return once the node accepts the transaction, without waiting for the block.
    #[arg(long)]
    pub no_wait: bool,
}

fn encode_input(input: &ArgsInput, method: Option<&weft_types::MethodAbi>) -> Result<Vec<u8>> {
    if let Some(h) = &input.args_hex {
        return hex_bytes::decode(h).map_err(|e| anyhow!("--args-hex: {e}"));
    }
    let json: Option<Value> = match &input.args {
        None => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .or_else(|_| serde_json::from_str(&format!("\"{text}\"")))
                .map_err(|e| anyhow!("arguments are not JSON: {e}"))?,
        ),
    };
    match method {
        Some(m) => Ok(codec::encode_args(m, json.as_ref())?),
        None if json.is_none() => Ok(Vec::new()),
        None => bail!("the contract has no init method, so it takes no arguments"),
    }
}

async fn wait_or_accept(
    cli: &Global,
    client: &Client,
    tx: &weft_types::SignedTransaction,
    no_wait: bool,
) -> Result<Option<ReceiptJson>> {
    let hash = tx.tx.hash();
    if no_wait {
        client.send(tx, WaitUntil::Accepted).await?;
        eprintln!("accepted {hash}; `weft tx {hash}` shows its receipt once committed");
        return Ok(None);
    }
    eprintln!("sent {hash}; waiting for it to be committed…");
    let receipt = client.send_and_wait(tx).await?;
    if cli.json {
        print_json(&receipt);
    } else {
        print_receipt(&receipt);
    }
    Ok(Some(receipt))
}

fn print_receipt(r: &ReceiptJson) {
    match r.status {
        Status::Success => out!(
            "committed in block {} (success, {} gas)",
            r.height,
            r.gas_used
        ),
        Status::Failure => out!(
            "committed in block {} but FAILED ({} gas): {}",
            r.height,
            r.gas_used,
            r.error.as_deref().unwrap_or("no reason given")
        ),
    }
    if let Some(c) = r.contract {
        out!("contract {c}");
    }
    if !r.return_data.is_empty() {
        out!("return data {}", hex_bytes::encode(&r.return_data));
    }
    for e in &r.events {
        out!(
            "event {} from {}: {}",
            e.topic,
            e.contract,
            hex_bytes::encode(&e.data)
        );
    }
}

pub async fn deploy(cli: &Global, args: &DeployArgs) -> Result<()> {
    let code = std::fs::read(&args.wasm)
        .with_context(|| format!("cannot read {}", args.wasm.display()))?;
    let abi = weft_vm::validate::read_abi(&code)
        .with_context(|| format!("{} is not a Weft contract", args.wasm.display()))?;
    let init_args = encode_input(&args.input, abi.init())?;
    let client = connect(cli).await?;
    let mut signer = signer(cli, &client).await?;
    let nonce = signer.next_nonce();
    let contract = signer.contract_id(nonce);
    eprintln!(
        "deploying {} ({} bytes) as contract {contract}…",
        args.wasm.display(),
        code.len()
    );
    let tx = signer.deploy(code, init_args);
    let receipt = wait_or_accept(cli, &client, &tx, args.no_wait).await?;
    if receipt.is_some_and(|r| r.status == Status::Failure) {
        bail!("the deploy failed");
    }
    Ok(())
}

async fn method_abi(
    client: &Client,
    contract: &ContractId,
    method: &str,
) -> Result<weft_types::MethodAbi> {
    let info = client.contract(contract).await?;
    let abi = weft_client::json::abi_from_json(&info.methods).map_err(|e| anyhow!(e))?;
    abi.method(method).cloned().ok_or_else(|| {
        anyhow!(
            "contract {contract} has no method `{method}`; its methods are: {}",
            abi.method_list()
        )
    })
}

pub async fn call(cli: &Global, args: &CallArgs) -> Result<()> {
    let client = connect(cli).await?;
    let m = method_abi(&client, &args.contract, &args.method).await?;
    let encoded = encode_input(&args.input, Some(&m))?;
    let result = client
        .call(weft_client::json::CallRequest {
            contract: args.contract.to_hex(),
            method: args.method.clone(),
            args_hex: Some(hex_bytes::encode(&encoded)),
            height: args.height,
            ..Default::default()
        })
        .await?;
    if cli.json {
        print_json(&result);
    } else {
        match &result.value {
            Some(v) => out!("{v}"),
            None => out!("{}", hex_bytes::encode(&result.return_data)),
        }
    }
    Ok(())
}

pub async fn send(cli: &Global, args: &SendArgs) -> Result<()> {
    let client = connect(cli).await?;
    let m = method_abi(&client, &args.contract, &args.method).await?;
    let encoded = encode_input(&args.input, Some(&m))?;
    let mut signer = signer(cli, &client).await?;
    let tx = signer.call(args.contract, &args.method, encoded);
    let receipt = wait_or_accept(cli, &client, &tx, args.no_wait).await?;
    if let Some(r) = receipt {
        if r.status == Status::Failure {
            bail!("the transaction failed");
        }
        if !cli.json
            && let Ok(Some(v)) = codec::decode_result(&m, &r.return_data)
        {
            out!("returned {v}");
        }
    }
    Ok(())
}

/// `weft tx`: a transaction and its receipt.
pub async fn tx(cli: &Global, hash: &TxHash) -> Result<()> {
    let client = connect(cli).await?;
    let lookup = client
        .transaction(hash)
        .await?
        .ok_or_else(|| anyhow!("the node knows no transaction {hash}"))?;
    let receipt = client.receipt(hash).await?;
    if cli.json {
        print_json(&serde_json::json!({ "transaction": lookup, "receipt": receipt }));
    } else {
        out!("{}", serde_json::to_string_pretty(&lookup)?);
        match receipt {
            Some(r) => print_receipt(&r),
            None => out!("pending: not yet in a block"),
        }
    }
    Ok(())
}

/// `weft contract`: a contract's code hash and methods.
pub async fn show(cli: &Global, contract: &ContractId) -> Result<()> {
    let client = connect(cli).await?;
    let info = client.contract(contract).await?;
    if cli.json {
        print_json(&info);
    } else {
        out!("contract  {}", info.contract);
        out!("code hash {} ({} bytes)", info.code_hash, info.code_size);
        for m in &info.methods {
            let args: Vec<String> = m
                .args
                .iter()
                .map(|a| format!("{}: {}", a.name, a.ty))
                .collect();
            let returns = m
                .returns
                .as_deref()
                .map(|r| format!(" -> {r}"))
                .unwrap_or_default();
            out!("  {:4} {}({}){}", m.kind, m.name, args.join(", "), returns);
        }
    }
    Ok(())
}

/// `weft info`: the chain and its committee.
pub async fn info(cli: &Global) -> Result<()> {
    let client = connect(cli).await?;
    print_json(&client.chain_info().await?);
    Ok(())
}
