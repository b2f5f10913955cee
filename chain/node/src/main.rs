//! `weft`: run a node or a local devnet, manage keys, deploy and call contracts.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use weft_client::json::{ReceiptJson, Status, WaitUntil, hex_bytes};
use weft_client::{Client, Signer, codec, keyfile};
use weft_node::config::NodeConfig;
use weft_node::genesis::{Genesis, GenesisValidator};
use weft_node::metrics::Metrics;
use weft_node::{Node, committee, producer, rpc};
use weft_types::{ContractId, Keypair, TxHash};

/// Prints a line to stdout; a closed pipe (`weft … | head`) is not an error worth a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Where `weft dev` keeps its data and dev key by default.
const DEV_HOME: &str = ".weft-dev";

mod tangle_cli;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft: run a node, deploy and call contracts"
)]
struct Cli {
    /// The node's JSON-RPC URL (http:// or ws://).
    #[arg(
        long,
        global = true,
        env = "WEFT_RPC",
        default_value = "http://127.0.0.1:8545"
    )]
    rpc: String,
    /// Key file that signs transactions [default: .weft-dev/dev-key.json if present, else
    /// ~/.weft/key.json].
    #[arg(long, global = true, env = "WEFT_KEY")]
    key: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or show keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a node's config and key into a directory.
    Init(InitArgs),
    /// Write a genesis file naming the committee.
    Genesis(GenesisArgs),
    /// Make an initialized node a committee member: copy the genesis file into its home and
    /// point its config at it.
    Join(JoinArgs),
    /// Run a node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Start a local devnet: a committee of nodes (separate processes) and a dev key.
    Dev(DevArgs),
    /// Deploy a contract (a .wasm file); prints the new contract's id.
    Deploy(DeployArgs),
    /// Call a method read-only (no transaction).
    Call(CallArgs),
    /// Send a transaction that calls a method.
    Send(SendArgs),
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
    Tangle(tangle_cli::TangleCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key and write it to a file (never overwrites).
    New {
        /// Where to write it [default: the --key path].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the public key (= address) of a key file.
    Show,
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Run a node from a config file until Ctrl-C.
    Run {
        /// The TOML config (see `weft init`).
        #[arg(long)]
        config: PathBuf,
        /// Stop cleanly when standard input closes (`weft dev` uses this, so its nodes stop
        /// with it even when it is killed).
        #[arg(long, hide = true)]
        stop_on_stdin_close: bool,
    },
}

#[derive(Args)]
struct InitArgs {
    /// The directory to write config.toml and node-key.json into.
    #[arg(long)]
    home: PathBuf,
    /// The chain id.
    #[arg(long, default_value = "weft-devnet")]
    chain_id: String,
    /// Where JSON-RPC listens.
    #[arg(long, default_value = "127.0.0.1:8545")]
    rpc_listen: SocketAddr,
    /// Where Prometheus metrics are served.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Where the node listens for committee peers (a multiaddr).
    #[arg(long, default_value = "/ip4/0.0.0.0/tcp/30300")]
    p2p_listen: String,
    /// The committee's genesis file (copied into the home directory); without it the node
    /// produces blocks alone.
    #[arg(long)]
    genesis: Option<PathBuf>,
}

#[derive(Args)]
struct JoinArgs {
    /// The node's directory (written by `weft init`).
    #[arg(long)]
    home: PathBuf,
    /// The committee's genesis file.
    #[arg(long)]
    genesis: PathBuf,
}

#[derive(Args)]
struct GenesisArgs {
    /// The chain id.
    #[arg(long, default_value = "weft-devnet")]
    chain_id: String,
    /// A committee member as NAME=PUBLIC_KEY@MULTIADDR (the line `weft init` prints); repeat
    /// for each member.
    #[arg(long = "member", required = true)]
    members: Vec<String>,
    /// Where to write the file (never overwritten).
    #[arg(long, default_value = "genesis.toml")]
    out: PathBuf,
}

#[derive(Args)]
struct DevArgs {
    /// The devnet's directory (config, data, dev key).
    #[arg(long, default_value = DEV_HOME)]
    home: PathBuf,
    /// The JSON-RPC port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// The Prometheus metrics port on 127.0.0.1.
    #[arg(long, default_value_t = 9615)]
    metrics_port: u16,
    /// The peer-to-peer port of the first node on 127.0.0.1; node i uses this + i (as RPC and
    /// metrics ports do).
    #[arg(long, default_value_t = 30300)]
    p2p_port: u16,
    /// How many committee members to run, each a separate process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    nodes: u16,
    /// Delete the devnet's data first.
    #[arg(long)]
    fresh: bool,
}

#[derive(Args)]
struct ArgsInput {
    /// Arguments as JSON, typed by the contract's ABI: an array in order, an object by name, or
    /// a single value.
    args: Option<String>,
    /// Arguments as borsh hex (0x…) instead.
    #[arg(long, conflicts_with = "args")]
    args_hex: Option<String>,
}

#[derive(Args)]
struct DeployArgs {
    /// The contract's .wasm file.
    wasm: PathBuf,
    #[command(flatten)]
    input: ArgsInput,
    /// Return once the node accepts the transaction, without waiting for the block.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Args)]
struct CallArgs {
    /// The contract id (0x…).
    contract: ContractId,
    /// The method.
    method: String,
    #[command(flatten)]
    input: ArgsInput,
    /// Read at this height instead of the latest.
    #[arg(long)]
    height: Option<u64>,
}

#[derive(Args)]
struct SendArgs {
    /// The contract id (0x…).
    contract: ContractId,
    /// The method.
    method: String,
    #[command(flatten)]
    input: ArgsInput,
    /// Return once the node accepts the transaction, without waiting for the block.
    #[arg(long)]
    no_wait: bool,
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
    match &cli.command {
        Command::Keys(KeysCommand::New { out }) => {
            let path = out.clone().unwrap_or_else(|| key_path(&cli));
            let key = keyfile::generate();
            keyfile::write(&path, &key)?;
            out!("wrote {}", path.display());
            out!("address {}", key.public_key().address());
            Ok(())
        }
        Command::Keys(KeysCommand::Show) => {
            let path = key_path(&cli);
            let key = keyfile::read(&path)?;
            out!("key file {}", path.display());
            out!("address {}", key.public_key().address());
            Ok(())
        }
        Command::Init(args) => init(args),
        Command::Genesis(args) => genesis(args),
        Command::Join(args) => join(args),
        Command::Node(NodeCommand::Run {
            config,
            stop_on_stdin_close,
        }) => {
            init_tracing();
            let config = NodeConfig::load(config)?;
            let key_file = config
                .key_file
                .clone()
                .ok_or_else(|| anyhow!("the config has no key_file; `weft init` writes one"))?;
            let key = keyfile::read(&key_file)?;
            run_node(config, key, *stop_on_stdin_close).await
        }
        Command::Dev(args) => dev(args).await,
        Command::Deploy(args) => deploy(&cli, args).await,
        Command::Call(args) => call(&cli, args).await,
        Command::Tangle(command) => {
            let client = connect(&cli).await?;
            tangle_cli::run(&client, command, cli.json).await
        }
        Command::Send(args) => send(&cli, args).await,
        Command::Tx { hash } => {
            let client = connect(&cli).await?;
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
        Command::Contract { contract } => {
            let client = connect(&cli).await?;
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
        Command::Info => {
            let client = connect(&cli).await?;
            print_json(&client.chain_info().await?);
            Ok(())
        }
    }
}

fn key_path(cli: &Cli) -> PathBuf {
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Malachite's core narrates every vote at info; its warnings are what an operator needs.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,arc_malachitebft_core_consensus=warn")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => out!("{s}"),
        Err(e) => eprintln!("error: cannot print the result: {e}"),
    }
}

fn init(args: &InitArgs) -> Result<()> {
    let config_path = args.home.join("config.toml");
    if config_path.exists() {
        bail!(
            "{} already exists; not overwriting it",
            config_path.display()
        );
    }
    std::fs::create_dir_all(&args.home)
        .with_context(|| format!("cannot create {}", args.home.display()))?;
    let key = keyfile::generate();
    keyfile::write(&args.home.join("node-key.json"), &key)?;
    let mut config = NodeConfig::new(&args.chain_id, PathBuf::from("data"));
    config.key_file = Some(PathBuf::from("node-key.json"));
    config.rpc.listen = args.rpc_listen;
    config.metrics.listen = args.metrics_listen;
    config.p2p.listen = args.p2p_listen.clone();
    if let Some(path) = &args.genesis {
        let genesis = Genesis::load(path)?;
        if genesis.chain_id != args.chain_id {
            bail!(
                "the genesis file is for chain `{}`; pass --chain-id {}",
                genesis.chain_id,
                genesis.chain_id
            );
        }
        std::fs::write(args.home.join("genesis.toml"), genesis.to_toml())
            .context("cannot write genesis.toml")?;
        config.genesis = Some(PathBuf::from("genesis.toml"));
    }
    config.check().map_err(|e| anyhow!(e))?;
    std::fs::write(&config_path, config.to_toml())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    out!("wrote {} and node-key.json", config_path.display());
    out!("node address {}", key.public_key().address());
    out!(
        "committee member entry (give it to whoever writes the genesis file; use this machine's reachable address):"
    );
    out!(
        "  --member NAME=0x{}@{}",
        hex::encode(key.public_key().0),
        args.p2p_listen
    );
    out!(
        "run it with: weft node run --config {}",
        config_path.display()
    );
    Ok(())
}

fn join(args: &JoinArgs) -> Result<()> {
    let config_path = args.home.join("config.toml");
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "cannot read {}; run `weft init --home {}` first",
            config_path.display(),
            args.home.display()
        )
    })?;
    let mut config = NodeConfig::parse(&text, &config_path)?;
    let genesis = Genesis::load(&args.genesis)?;
    if genesis.chain_id != config.chain_id {
        bail!(
            "the genesis file is for chain `{}` but {} is for `{}`",
            genesis.chain_id,
            config_path.display(),
            config.chain_id
        );
    }
    let key_file = config
        .key_file
        .as_ref()
        .map(|k| args.home.join(k))
        .ok_or_else(|| anyhow!("{} has no key_file", config_path.display()))?;
    let key = keyfile::read(&key_file)?;
    let member = genesis.member(&key.public_key()).ok_or_else(|| {
        anyhow!(
            "this node's key 0x{} is not in the genesis file's committee",
            hex::encode(key.public_key().0)
        )
    })?;
    std::fs::write(args.home.join("genesis.toml"), genesis.to_toml())
        .context("cannot write genesis.toml")?;
    config.genesis = Some(PathBuf::from("genesis.toml"));
    std::fs::write(&config_path, config.to_toml())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    out!(
        "{} joins chain {} as `{}` (committee of {}, genesis hash {})",
        args.home.display(),
        genesis.chain_id,
        member.name,
        genesis.validators.len(),
        genesis.hash()
    );
    out!(
        "run it with: weft node run --config {}",
        config_path.display()
    );
    Ok(())
}

/// Parses `NAME=PUBLIC_KEY@MULTIADDR`.
fn parse_member(text: &str) -> Result<GenesisValidator> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("member `{text}`: expected NAME=PUBLIC_KEY@MULTIADDR"))?;
    let (key, address) = rest
        .split_once('@')
        .ok_or_else(|| anyhow!("member `{text}`: expected NAME=PUBLIC_KEY@MULTIADDR"))?;
    Ok(GenesisValidator {
        name: name.to_string(),
        public_key: key.trim_start_matches("0x").to_string(),
        address: address.to_string(),
        power: 1,
    })
}

fn genesis(args: &GenesisArgs) -> Result<()> {
    if args.out.exists() {
        bail!("{} already exists; not overwriting it", args.out.display());
    }
    let genesis = Genesis {
        chain_id: args.chain_id.clone(),
        validators: args
            .members
            .iter()
            .map(|m| parse_member(m))
            .collect::<Result<_>>()?,
        anchoring: Default::default(),
        tangle: Default::default(),
    };
    genesis
        .check()
        .map_err(|e| anyhow!("the genesis would be invalid: {e}"))?;
    std::fs::write(&args.out, genesis.to_toml())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    out!(
        "wrote {} (chain {}, {} members, genesis hash {})",
        args.out.display(),
        genesis.chain_id,
        genesis.validators.len(),
        genesis.hash()
    );
    Ok(())
}

async fn dev(args: &DevArgs) -> Result<()> {
    if args.fresh && args.home.exists() {
        std::fs::remove_dir_all(&args.home)
            .with_context(|| format!("cannot delete {}", args.home.display()))?;
    }
    std::fs::create_dir_all(&args.home)
        .with_context(|| format!("cannot create {}", args.home.display()))?;
    let dev_key_file = args.home.join("dev-key.json");
    let dev_key = if dev_key_file.exists() {
        keyfile::read(&dev_key_file)?
    } else {
        let key = keyfile::generate();
        keyfile::write(&dev_key_file, &key)?;
        key
    };
    let n = args.nodes;
    let port = |base: u16, i: u16| -> Result<u16> {
        base.checked_add(i)
            .ok_or_else(|| anyhow!("port {base} + {i} is above 65535"))
    };
    // One directory, key and config per member; one genesis file for all.
    let genesis_path = args.home.join("genesis.toml");
    let mut homes = Vec::new();
    let mut members = Vec::new();
    for i in 0..n {
        let home = args.home.join(format!("node-{i}"));
        std::fs::create_dir_all(&home)
            .with_context(|| format!("cannot create {}", home.display()))?;
        let key_file = home.join("node-key.json");
        let key = if key_file.exists() {
            keyfile::read(&key_file)?
        } else {
            let key = keyfile::generate();
            keyfile::write(&key_file, &key)?;
            key
        };
        let p2p = format!("/ip4/127.0.0.1/tcp/{}", port(args.p2p_port, i)?);
        members.push(GenesisValidator {
            name: format!("node-{i}"),
            public_key: hex::encode(key.public_key().0),
            address: p2p.clone(),
            power: 1,
        });
        let mut config = NodeConfig::new("weft-devnet", PathBuf::from("data"));
        config.key_file = Some(PathBuf::from("node-key.json"));
        config.rpc.listen = SocketAddr::from(([127, 0, 0, 1], port(args.port, i)?));
        config.metrics.listen = Some(SocketAddr::from((
            [127, 0, 0, 1],
            port(args.metrics_port, i)?,
        )));
        config.genesis = Some(PathBuf::from("../genesis.toml"));
        config.p2p.listen = p2p;
        config.check().map_err(|e| anyhow!(e))?;
        std::fs::write(home.join("config.toml"), config.to_toml())
            .with_context(|| format!("cannot write {}", home.join("config.toml").display()))?;
        homes.push((home, config));
    }
    let genesis = Genesis {
        chain_id: "weft-devnet".into(),
        validators: members,
        anchoring: Default::default(),
        tangle: Default::default(),
    };
    if genesis_path.exists() {
        let existing = Genesis::load(&genesis_path)?;
        if existing.hash() != genesis.hash() {
            bail!(
                "{} holds a committee of {} members, not these {n}; run with --fresh to start a new devnet",
                genesis_path.display(),
                existing.validators.len()
            );
        }
    }
    std::fs::write(&genesis_path, genesis.to_toml())
        .with_context(|| format!("cannot write {}", genesis_path.display()))?;

    let exe = std::env::current_exe().context("cannot find the weft executable")?;
    let mut children = Vec::new();
    for (home, _) in &homes {
        let log = std::fs::File::create(home.join("node.log"))
            .with_context(|| format!("cannot create {}", home.join("node.log").display()))?;
        let child = tokio::process::Command::new(&exe)
            .arg("node")
            .arg("run")
            .arg("--config")
            .arg(home.join("config.toml"))
            .arg("--stop-on-stdin-close")
            .stdin(std::process::Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        children.push(child);
    }
    out!("Weft devnet \"weft-devnet\": a committee of {n} nodes (separate processes)");
    for (i, (home, config)) in homes.iter().enumerate() {
        let rpc = config.rpc.listen;
        out!(
            "  node-{i}  RPC http://{rpc}  ws://{rpc}  metrics http://{}/metrics  p2p {}  log {}",
            config
                .metrics
                .listen
                .map(|m| m.to_string())
                .unwrap_or_default(),
            config.p2p.listen,
            home.join("node.log").display()
        );
    }
    out!(
        "  dev key: {} (address {})",
        dev_key_file.display(),
        dev_key.public_key().address()
    );
    out!("  genesis: {}", genesis_path.display());
    out!("Stop with Ctrl-C; the data stays (run again to resume, --fresh to wipe).");
    // Each node stops when its stdin closes: held here, closed when this process ends however it
    // ends. (`Child::wait` would close them, so they are taken out first.)
    let stdins: Vec<_> = children.iter_mut().map(|c| c.stdin.take()).collect();
    let mut waits: futures::stream::FuturesUnordered<_> = children
        .iter_mut()
        .enumerate()
        .map(|(i, c)| async move { (i, c.wait().await) })
        .collect();
    use futures::StreamExt as _;
    let exited = tokio::select! {
        () = shutdown_signal() => None,
        Some((i, status)) = waits.next() => Some((i, status)),
    };
    drop(waits);
    if let Some((i, status)) = &exited {
        eprintln!(
            "node-{i} exited ({}); stopping the devnet. See {}",
            status
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|e| e.to_string()),
            homes[*i].0.join("node.log").display()
        );
    }
    eprintln!("stopping {n} nodes");
    for child in &mut children {
        if let Some(pid) = child.id() {
            // SIGTERM: each node finishes its block and syncs its log.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }
    for child in &mut children {
        let _ = child.wait().await;
    }
    drop(stdins);
    match exited {
        Some((i, _)) => bail!("node-{i} stopped unexpectedly"),
        None => Ok(()),
    }
}

/// Runs a node until Ctrl-C or SIGTERM, then stops cleanly: the block in progress is finished,
/// the RPC server drains.
async fn run_node(config: NodeConfig, key: Keypair, stop_on_stdin_close: bool) -> Result<()> {
    let genesis = match &config.genesis {
        Some(path) => Some(Genesis::load(path)?),
        None => None,
    };
    let metrics = Metrics::new();
    let listen = config.rpc.listen;
    let metrics_listen = config.metrics.listen;
    let node = Node::open(config, metrics.clone())?;
    let head = node.head();
    tracing::info!(chain = %node.chain_id(), height = head.height, state_root = %head.state_root, "opened node data");
    let (addr, handle) = rpc::serve(node.clone(), listen)
        .await
        .with_context(|| format!("cannot listen for JSON-RPC on {listen}"))?;
    tracing::info!(%addr, "JSON-RPC listening (HTTP and WebSocket)");
    if let Some(m) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("cannot listen for metrics on {m}"))?;
        tracing::info!(addr = %m, "metrics at /metrics");
        tokio::spawn(serve_metrics(listener, metrics));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if stop_on_stdin_close {
            tokio::select! {
                () = shutdown_signal() => {}
                () = stdin_closed() => tracing::info!("standard input closed"),
            }
        } else {
            shutdown_signal().await;
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let produced = match genesis {
        Some(genesis) => committee::run(node, key, genesis, stopped)
            .await
            .map_err(anyhow::Error::from),
        None => producer::run(node, key.public_key(), stopped)
            .await
            .map_err(anyhow::Error::from),
    };
    let _ = handle.stop();
    handle.stopped().await;
    produced.context("block production failed; the node stopped")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves when standard input reaches its end (the parent holding the other end is gone).
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: blocking reads of stdin cannot be cancelled, and it lives as long as the node.
    std::thread::spawn(move || {
        use std::io::Read as _;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Metrics) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        if req.uri().path() == "/metrics" {
                            Response::builder()
                                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                                .body(Full::new(Bytes::from(metrics.render())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from(
                                    "not found; metrics are at /metrics\n",
                                )))
                        }
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn connect(cli: &Cli) -> Result<Client> {
    let hint = || format!("is a node running at {}? (`weft dev` starts one)", cli.rpc);
    let client = Client::connect(&cli.rpc).await.with_context(hint)?;
    // HTTP connects lazily; ask once so an unreachable node is reported as such.
    client.chain_info().await.with_context(hint)?;
    Ok(client)
}

async fn signer(cli: &Cli, client: &Client) -> Result<Signer> {
    let path = key_path(cli);
    let key = keyfile::read(&path).with_context(
        || "a key signs transactions: pass --key, set WEFT_KEY, or create one with `weft keys new`",
    )?;
    let info = client.chain_info().await?;
    let account = client.account(&key.public_key().address()).await?;
    Ok(Signer::new(key, &info.chain_id, account.next_nonce))
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
    cli: &Cli,
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

async fn deploy(cli: &Cli, args: &DeployArgs) -> Result<()> {
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

async fn call(cli: &Cli, args: &CallArgs) -> Result<()> {
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

async fn send(cli: &Cli, args: &SendArgs) -> Result<()> {
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
