//! `weft dev`: a local devnet, a committee of nodes each in its own process, and a dev key.
//!
//! `weft dev` supervises its nodes. When one dies the others keep running (a committee of four
//! goes on with one member down) and `weft dev` says so; `weft dev restart node-1` (or `stop`,
//! `start`, `status`) from another terminal controls the running devnet through a Unix socket in
//! its directory (`control.sock`), so one can kill a member and watch the committee go on and the
//! member catch up.

use crate::node::shutdown_signal;
use crate::output::{DEV_HOME, out};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
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
    /// Control the devnet already running in `--home` instead of starting one.
    #[command(subcommand)]
    pub control: Option<Control>,
}

/// Commands to a running devnet.
#[derive(Subcommand, Clone, Debug)]
pub enum Control {
    /// Stop a node (SIGTERM; it finishes its block and syncs its log), then start it again.
    Restart {
        /// The node: `node-1` or `1`.
        node: String,
    },
    /// Stop a node; the others keep running.
    Stop {
        /// The node: `node-1` or `1`.
        node: String,
    },
    /// Start a stopped (or dead) node again; it catches up with the committee.
    Start {
        /// The node: `node-1` or `1`.
        node: String,
    },
    /// Show which nodes run.
    Status,
}

impl Control {
    fn line(&self) -> String {
        match self {
            Control::Restart { node } => format!("restart {node}"),
            Control::Stop { node } => format!("stop {node}"),
            Control::Start { node } => format!("start {node}"),
            Control::Status => "status".into(),
        }
    }
}

/// The control socket of the devnet in `home`.
fn socket_path(home: &Path) -> PathBuf {
    home.join("control.sock")
}

/// Runs `weft dev`.
pub async fn run(args: &DevArgs) -> Result<()> {
    if let Some(control) = &args.control {
        return send_control(&args.home, control).await;
    }
    // Before anything is wiped or rewritten: is a devnet running here already?
    let socket = socket_path(&args.home);
    if tokio::net::UnixStream::connect(&socket).await.is_ok() {
        bail!(
            "a devnet is already running in {} (`weft dev status` shows it; stop it first)",
            args.home.display()
        );
    }
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
        blocks: Default::default(),
        anchoring: Default::default(),
        tangle: Default::default(),
        system_contracts: weft_node::genesis::system_contract_hashes(),
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
    if socket.exists() {
        std::fs::remove_file(&socket)
            .with_context(|| format!("cannot remove the stale {}", socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    let (exits, mut exit_rx) = mpsc::unbounded_channel();
    let mut devnet = Devnet {
        exe,
        nodes: homes
            .iter()
            .map(|(home, _)| Slot {
                home: home.clone(),
                running: None,
                generation: 0,
                stopping: false,
            })
            .collect(),
        exits,
    };
    for i in 0..devnet.nodes.len() {
        devnet.start(i)?;
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
    out!(
        "Stop with Ctrl-C; the data stays (run again to resume, --fresh to wipe). Kill a node and the\nothers go on; `weft dev restart node-1` (or stop, start, status) from another terminal."
    );
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(exit) = exit_rx.recv() => {
                if devnet.exited(exit) && devnet.nodes.iter().all(|s| s.running.is_none()) {
                    let _ = std::fs::remove_file(&socket);
                    bail!(
                        "every node has exited; their logs are in {}/node-*/node.log",
                        args.home.display()
                    );
                }
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    devnet.control(stream, &mut exit_rx).await;
                }
            }
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    let running = devnet.nodes.iter().filter(|s| s.running.is_some()).count();
    eprintln!("stopping {running} nodes");
    for i in 0..devnet.nodes.len() {
        devnet.signal_stop(i);
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while devnet.nodes.iter().any(|s| s.running.is_some()) {
        match tokio::time::timeout_at(deadline, exit_rx.recv()).await {
            Ok(Some(exit)) => {
                devnet.exited(exit);
            }
            _ => break,
        }
    }
    // Dropping the stdins ends any node still running (each stops when its stdin closes).
    Ok(())
}

/// Sends one control command to the devnet running in `home` and prints its answer.
async fn send_control(home: &Path, control: &Control) -> Result<()> {
    let socket = socket_path(home);
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .with_context(|| {
            format!(
                "no devnet is running in {} (start one with `weft dev`)",
                home.display()
            )
        })?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{}\n", control.line()).as_bytes())
        .await?;
    write.shutdown().await?;
    let mut lines = BufReader::new(read).lines();
    let mut failed = None;
    while let Some(line) = lines.next_line().await? {
        match line.strip_prefix("error: ") {
            Some(e) => failed = Some(e.to_string()),
            None => out!("{line}"),
        }
    }
    match failed {
        Some(e) => bail!(e),
        None => Ok(()),
    }
}

/// A node process that ended: its index, the generation it was started as, its status.
type Exit = (usize, u64, std::io::Result<std::process::ExitStatus>);

struct Running {
    pid: Option<u32>,
    /// Held open: the node stops when it closes (also when `weft dev` itself dies).
    _stdin: Option<tokio::process::ChildStdin>,
}

struct Slot {
    home: PathBuf,
    running: Option<Running>,
    generation: u64,
    /// A stop was asked for (its exit is no surprise).
    stopping: bool,
}

struct Devnet {
    exe: PathBuf,
    nodes: Vec<Slot>,
    exits: mpsc::UnboundedSender<Exit>,
}

impl Devnet {
    fn start(&mut self, i: usize) -> Result<()> {
        let slot = &mut self.nodes[i];
        if slot.running.is_some() {
            bail!("node-{i} is already running");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(slot.home.join("node.log"))
            .with_context(|| format!("cannot open {}", slot.home.join("node.log").display()))?;
        let mut child = tokio::process::Command::new(&self.exe)
            .arg("node")
            .arg("run")
            .arg("--config")
            .arg(slot.home.join("config.toml"))
            .arg("--stop-on-stdin-close")
            .stdin(std::process::Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        slot.generation += 1;
        slot.stopping = false;
        let pid = child.id();
        if let Some(pid) = pid {
            // For whoever wants to signal the node by hand (`kill -9 $(cat node-1/node.pid)`).
            let _ = std::fs::write(slot.home.join("node.pid"), format!("{pid}\n"));
        }
        slot.running = Some(Running {
            pid,
            _stdin: child.stdin.take(),
        });
        let (exits, generation) = (self.exits.clone(), slot.generation);
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exits.send((i, generation, status));
        });
        Ok(())
    }

    /// Asks node `i` to stop (SIGTERM: it finishes its block and syncs its log).
    fn signal_stop(&mut self, i: usize) -> bool {
        let slot = &mut self.nodes[i];
        let Some(running) = &slot.running else {
            return false;
        };
        slot.stopping = true;
        if let Some(pid) = running.pid {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        true
    }

    /// Notes that a node ended; true when nobody asked it to.
    fn exited(&mut self, (i, generation, status): Exit) -> bool {
        let n = self.nodes.len();
        let slot = &mut self.nodes[i];
        if generation != slot.generation || slot.running.is_none() {
            return false;
        }
        slot.running = None;
        let _ = std::fs::remove_file(slot.home.join("node.pid"));
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        if slot.stopping {
            eprintln!("node-{i} stopped ({status})");
            return false;
        }
        let up = self.nodes.iter().filter(|s| s.running.is_some()).count();
        let quorum = 2 * n / 3 + 1;
        let verdict = if up >= quorum {
            format!("the other {up} keep committing")
        } else {
            format!(
                "{up} of {n} run, fewer than the {quorum} needed: commits wait until enough are back"
            )
        };
        eprintln!(
            "node-{i} exited unexpectedly ({status}); {verdict}. `weft dev restart node-{i}` starts it again; its log: {}",
            self.nodes[i].home.join("node.log").display()
        );
        true
    }

    /// Waits (at most 30 s) for node `i` to exit after a stop.
    async fn wait_stopped(
        &mut self,
        i: usize,
        exit_rx: &mut mpsc::UnboundedReceiver<Exit>,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.nodes[i].running.is_some() {
            match tokio::time::timeout_at(deadline, exit_rx.recv()).await {
                Ok(Some(exit)) => {
                    self.exited(exit);
                }
                _ => bail!("node-{i} did not stop within 30 s"),
            }
        }
        Ok(())
    }

    fn node(&self, name: &str) -> Result<usize> {
        let n = self.nodes.len();
        name.strip_prefix("node-")
            .unwrap_or(name)
            .parse::<usize>()
            .ok()
            .filter(|i| *i < n)
            .ok_or_else(|| anyhow!("no node `{name}`; this devnet has node-0 to node-{}", n - 1))
    }

    fn status(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, s)| match &s.running {
                Some(r) => format!(
                    "node-{i} running (pid {})",
                    r.pid.map(|p| p.to_string()).unwrap_or_default()
                ),
                None => format!("node-{i} stopped"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn execute(
        &mut self,
        line: &str,
        exit_rx: &mut mpsc::UnboundedReceiver<Exit>,
    ) -> Result<String> {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default();
        let node = words.next();
        let need =
            || node.ok_or_else(|| anyhow!("`{command}` needs a node, e.g. `{command} node-1`"));
        match command {
            "status" => Ok(self.status()),
            "stop" => {
                let i = self.node(need()?)?;
                if !self.signal_stop(i) {
                    bail!("node-{i} is not running");
                }
                self.wait_stopped(i, exit_rx).await?;
                Ok(format!("node-{i} stopped"))
            }
            "start" => {
                let i = self.node(need()?)?;
                self.start(i)?;
                eprintln!("node-{i} started again");
                Ok(format!(
                    "node-{i} started; it catches up with the committee"
                ))
            }
            "restart" => {
                let i = self.node(need()?)?;
                if self.signal_stop(i) {
                    self.wait_stopped(i, exit_rx).await?;
                }
                self.start(i)?;
                eprintln!("node-{i} restarted");
                Ok(format!(
                    "node-{i} restarted; it catches up with the committee"
                ))
            }
            other => bail!("unknown command `{other}`; expected restart, stop, start or status"),
        }
    }

    /// Serves one control connection: one command line in, the answer out.
    async fn control(
        &mut self,
        stream: tokio::net::UnixStream,
        exit_rx: &mut mpsc::UnboundedReceiver<Exit>,
    ) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            BufReader::new(read).read_line(&mut line),
        )
        .await;
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        let answer = match self.execute(line.trim(), exit_rx).await {
            Ok(text) => text,
            Err(e) => format!("error: {e:#}"),
        };
        let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
    }
}
