//! `weft init`, `weft genesis`, `weft join` and `weft node run`: set up a node or a committee
//! member, and run it (the node service from `weft-node`, JSON-RPC from `weft-rpc`).

use crate::output::out;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft_client::keyfile;
use weft_node::config::NodeConfig;
use weft_node::genesis::{Genesis, GenesisValidator};
use weft_node::metrics::Metrics;
use weft_node::{Node, committee, producer};
use weft_types::Keypair;

#[derive(Subcommand)]
pub enum NodeCommand {
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
    /// Back up a node's data (state, blocks, Tangle, signing guard) into a new directory. A
    /// running node takes the backup itself, consistently, without stopping; a stopped one is
    /// read directly.
    Backup {
        /// The node's TOML config.
        #[arg(long)]
        config: PathBuf,
        /// Where to write the backup (a new or empty directory).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a stopped node's data from a backup. What it replaces is moved aside, never
    /// deleted; a member never signs again at a height it may have signed before.
    Restore {
        /// The node's TOML config.
        #[arg(long)]
        config: PathBuf,
        /// The backup directory (written by `weft node backup`).
        #[arg(long)]
        from: PathBuf,
        /// For a member whose data directory was lost with its signing guard: a height at or
        /// above the chain's current one; the member signs only above it.
        #[arg(long)]
        signed_up_to: Option<u64>,
    },
}

#[derive(Args)]
pub struct InitArgs {
    /// The directory to write config.toml and node-key.json into.
    #[arg(long)]
    pub home: PathBuf,
    /// The chain id.
    #[arg(long, default_value = "weft-devnet")]
    pub chain_id: String,
    /// Where JSON-RPC listens.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub rpc_listen: SocketAddr,
    /// Where Prometheus metrics are served.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where the node listens for committee peers (a multiaddr).
    #[arg(long, default_value = "/ip4/0.0.0.0/tcp/30300")]
    p2p_listen: String,
    /// The committee's genesis file (copied into the home directory); without it the node
    /// produces blocks alone.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
}

#[derive(Args)]
pub struct JoinArgs {
    /// The node's directory (written by `weft init`).
    #[arg(long)]
    pub home: PathBuf,
    /// The committee's genesis file.
    #[arg(long)]
    pub genesis: PathBuf,
}

#[derive(Args)]
pub struct GenesisArgs {
    /// The chain id.
    #[arg(long, default_value = "weft-devnet")]
    pub chain_id: String,
    /// A committee member as NAME=PUBLIC_KEY@MULTIADDR (the line `weft init` prints); repeat
    /// for each member.
    #[arg(long = "member", required = true)]
    pub members: Vec<String>,
    /// Where to write the file (never overwritten).
    #[arg(long, default_value = "genesis.toml")]
    pub out: PathBuf,
    /// An empty "heartbeat" block once the last block is this old, in milliseconds (0: never).
    /// Without transactions the committee makes no other blocks.
    #[arg(long, default_value_t = weft_node::genesis::BlocksGenesis::default().heartbeat_ms)]
    pub heartbeat_ms: u64,
}

/// Runs `weft node …`.
pub async fn run(command: &NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Run {
            config,
            stop_on_stdin_close,
        } => {
            init_tracing();
            let config = NodeConfig::load(config)?;
            let key_file = config
                .key_file
                .clone()
                .ok_or_else(|| anyhow!("the config has no key_file; `weft init` writes one"))?;
            let key = keyfile::read(&key_file)?;
            run_node(config, key, *stop_on_stdin_close).await
        }
        NodeCommand::Backup { config, out } => backup(config, out).await,
        NodeCommand::Restore {
            config,
            from,
            signed_up_to,
        } => {
            let config = NodeConfig::load(config)?;
            let restored = weft_node::storage::restore(
                &config.data_dir,
                &config.chain_id,
                config.genesis.is_some(),
                from,
                *signed_up_to,
            )
            .map_err(|e| anyhow!(e))?;
            let m = &restored.manifest;
            out!(
                "restored height {} of chain {} (state root {}) into {}",
                m.height,
                m.chain_id,
                m.state_root,
                config.data_dir.display()
            );
            if let Some(aside) = &restored.moved_aside {
                out!("the data it replaced is in {}", aside.display());
            }
            if config.genesis.is_some() {
                out!(
                    "this member signs only above height {}; it follows the others' certificates until then",
                    restored.signed_up_to
                );
            }
            Ok(())
        }
    }
}

/// `weft node backup`: through the running node's admin socket, or directly when it is stopped.
async fn backup(config: &Path, out: &Path) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = NodeConfig::load(config)?;
    let out =
        std::path::absolute(out).with_context(|| format!("cannot resolve {}", out.display()))?;
    let socket = config.data_dir.join(weft_node::storage::ADMIN_SOCKET);
    let started = std::time::Instant::now();
    let manifest = match tokio::net::UnixStream::connect(&socket).await {
        Ok(mut stream) => {
            stream
                .write_all(format!("backup {}\n", out.display()).as_bytes())
                .await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            if let Some(e) = answer.strip_prefix("error: ") {
                bail!("the node refused the backup: {}", e.trim());
            }
            weft_node::storage::Manifest::parse(&answer)
                .map_err(|e| anyhow!("the node's answer is not a manifest ({e}): {answer}"))?
        }
        Err(_) => {
            out!("the node is not running; reading its data directly");
            weft_node::storage::backup_offline(&config.data_dir, &config.chain_id, &out)
                .map_err(|e| anyhow!(e))?
        }
    };
    out!(
        "backed up height {} of chain {} (state root {}) into {} in {:.1} s",
        manifest.height,
        manifest.chain_id,
        manifest.state_root,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn init(args: &InitArgs) -> Result<()> {
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

pub fn join(args: &JoinArgs) -> Result<()> {
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

pub fn genesis(args: &GenesisArgs) -> Result<()> {
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
        blocks: weft_node::genesis::BlocksGenesis {
            heartbeat_ms: args.heartbeat_ms,
        },
        anchoring: Default::default(),
        tangle: Default::default(),
        system_contracts: weft_node::genesis::system_contract_hashes(),
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
    let limits = weft_rpc::ServerConfig {
        max_request_bytes: node.config().rpc.max_request_bytes,
        max_connections: node.config().rpc.max_connections,
    };
    let (addr, handle) = weft_rpc::serve(Arc::new(node.clone()), listen, limits)
        .await
        .with_context(|| format!("cannot listen for JSON-RPC on {listen}"))?;
    tracing::info!(%addr, "JSON-RPC listening (HTTP and WebSocket)");
    if let Some(m) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("cannot listen for metrics on {m}"))?;
        tracing::info!(addr = %m, "metrics at /metrics");
        tokio::spawn(weft_node::metrics::serve(listener, metrics));
    }
    tokio::spawn(weft_node::storage::run_pruning(node.clone()));
    tokio::spawn(weft_node::storage::serve_admin(node.clone()));
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

pub async fn shutdown_signal() {
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Malachite's core narrates every vote at info; its warnings are what an operator needs.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,arc_malachitebft_core_consensus=warn")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A node's log is often a file (`weft dev` writes node.log): colour only on a terminal.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
