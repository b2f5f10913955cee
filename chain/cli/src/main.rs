//! `weft-cli`: the `weft` binary — run a node or a local devnet, manage keys, deploy and call
//! contracts, inspect the Tangle.
//!
//! One module per command group, each with its clap arguments and its code: [`keys`] (`weft
//! keys`), [`node`] (`init`, `genesis`, `join`, `node run`), [`dev`] (`weft dev`), [`build`]
//! (`weft build`), [`contract`]
//! (`deploy`, `call`, `send`, `tx`, `contract`, `info`), [`tangle`] (`weft tangle`), [`did`]
//! (`weft did`), [`vc`] (`weft vc`, `weft vp`, `weft trust`; `weft vc serve` is
//! [`issuer_server`]), [`channel`] (`weft channel`), [`policy`] (`weft policy`), [`token`]
//! (`weft token`), [`nft`] (`weft nft`);
//! [`output`] holds the global options and what every command shares. This file only parses the
//! command line ([`Cli`]) and dispatches. A new command group is a new module plus one variant of
//! [`Command`]. The CLI talks to nodes through `weft-client` (JSON-RPC) and starts one through
//! `weft-node` and `weft-rpc`.

mod build;
mod channel;
mod contract;
mod dev;
mod did;
mod issuer_server;
mod keys;
mod nft;
mod node;
mod output;
mod policy;
mod tangle;
mod token;
mod vc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use weft_types::{ContractId, TxHash};

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft: run a node, deploy and call contracts"
)]
struct Cli {
    #[command(flatten)]
    global: output::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or show keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write a node's config and key into a directory.
    Init(node::InitArgs),
    /// Write a genesis file naming the committee.
    Genesis(node::GenesisArgs),
    /// Make an initialized node a committee member: copy the genesis file into its home and
    /// point its config at it.
    Join(node::JoinArgs),
    /// Run a node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Start a local devnet: a committee of nodes (separate processes) and a dev key.
    Dev(dev::DevArgs),
    /// Build contract crates to wasm and check them as a node would at deploy.
    Build(build::BuildArgs),
    /// Deploy a contract (a .wasm file); prints the new contract's id.
    Deploy(contract::DeployArgs),
    /// Call a method read-only (no transaction).
    Call(contract::CallArgs),
    /// Send a transaction that calls a method.
    Send(contract::SendArgs),
    /// Show a transaction and its receipt.
    Tx {
        /// The transaction hash (0x…).
        hash: TxHash,
    },
    /// Show a contract's code hash and methods.
    Contract {
        /// The contract id (0x…).
        contract: ContractId,
    },
    /// Show the chain's id and latest block.
    Info,
    /// Inspect the Tangle: blocks, tips, anchors; post data.
    #[command(subcommand)]
    Tangle(tangle::TangleCommand),
    /// Create, resolve and change did:weft DIDs.
    #[command(subcommand)]
    Did(did::DidCommand),
    /// Issue, verify, revoke and suspend verifiable credentials; keep status lists.
    #[command(subcommand)]
    Vc(vc::VcCommand),
    /// Create and verify verifiable presentations.
    #[command(subcommand)]
    Vp(vc::VpCommand),
    /// Accredit DIDs to issue credential types; show trust chains.
    #[command(subcommand)]
    Trust(vc::TrustCommand),
    /// Audit-trail channels: create, subscribe, authorize, revoke, write, read, validate.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Device access policies: set, show, decide.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Fungible tokens: create, mint, move, approve, read balances.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Non-fungible items: collections, minting, transfers, listings.
    #[command(subcommand)]
    Nft(nft::NftCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match &cli.command {
        Command::Keys(command) => keys::run(global, command),
        Command::Init(args) => node::init(args),
        Command::Genesis(args) => node::genesis(args),
        Command::Join(args) => node::join(args),
        Command::Node(command) => node::run(command).await,
        Command::Dev(args) => dev::run(args).await,
        Command::Build(args) => build::run(args),
        Command::Deploy(args) => contract::deploy(global, args).await,
        Command::Call(args) => contract::call(global, args).await,
        Command::Send(args) => contract::send(global, args).await,
        Command::Tx { hash } => contract::tx(global, hash).await,
        Command::Contract { contract } => contract::show(global, contract).await,
        Command::Info => contract::info(global).await,
        Command::Did(command) => did::run(global, command).await,
        Command::Vc(command) => vc::run_vc(global, command).await,
        Command::Vp(command) => vc::run_vp(global, command).await,
        Command::Trust(command) => vc::run_trust(global, command).await,
        Command::Channel(command) => channel::run(global, command).await,
        Command::Policy(command) => policy::run(global, command).await,
        Command::Token(command) => token::run(global, command).await,
        Command::Nft(command) => nft::run(global, command).await,
        Command::Tangle(command) => {
            let client = output::connect(global).await?;
            tangle::run(&client, command, global.json).await
        }
    }
}
