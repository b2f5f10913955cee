//! `weft dev`: a local devnet, a committee of nodes each in its own process, and a dev key.

use crate::node::shutdown_signal;
use crate::output::{DEV_HOME, out};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use weft_client::keyfile;
use weft_node::config::NodeConfig;
use weft_node::genesis::{Genesis, GenesisValidator};

#[derive(Args)]
pub struct DevArgs {
    /// The devnet's directory (config, data, dev key).
    #[arg(long, default_value = DEV_HOME)]
    pub home: PathBuf,
    /// The JSON-RPC port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8545)]
    pub port: u16,
    /// The Prometheus metrics port on 127.0.0.1.
    #[arg(long, default_value_t = 9615)]
    pub metrics_port: u16,
    /// The peer-to-peer port of the first node on 127.0.0.1; node i uses this + i (as RPC and
    /// metrics ports do).
    #[arg(long, default_value_t = 30300)]
    p2p_port: u16,
    /// How many committee members to run, each a separate process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// Delete the devnet's data first.
    #[arg(long)]
    pub fresh: bool,
}

/// Runs `weft dev`.
pub async fn run(args: &DevArgs) -> Result<()> {
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
