//! A `weft dev` devnet for a test: four `weft` processes with their Tangle, on free ports,
//! stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A base port whose next four ports are free too (weft dev gives node i the base + i).
fn free_ports(n: u16) -> u16 {
    loop {
        let base = super::free_port();
        if base.checked_add(n).is_some()
            && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

/// A running devnet.
pub struct Devnet {
    child: Child,
    /// Its home directory (`devnet/genesis.toml` is the genesis file).
    pub home: tempfile::TempDir,
    /// Node 0's RPC URL.
    pub rpc: String,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Starts a devnet and waits until the committee has anchored.
pub async fn devnet() -> Devnet {
    let home = tempfile::tempdir().unwrap();
    let (rpc, metrics, p2p) = (free_ports(4), free_ports(4), free_ports(4));
    let log = std::fs::File::create(home.path().join("dev.log")).unwrap();
    let mut child = Command::new(WEFT)
        .args(["dev", "--home"])
        .arg(home.path().join("devnet"))
        .args(["--port", &rpc.to_string()])
        .args(["--metrics-port", &metrics.to_string()])
        .args(["--p2p-port", &p2p.to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{rpc}");
    let client = super::ready(&url, &mut child, &home.path().join("dev.log")).await;
    // Wait for the committee to anchor: the examples' verifiers read anchored state.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if client
            .latest_anchor("weft-devnet")
            .await
            .ok()
            .flatten()
            .is_some()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no anchor in 120 s:\n{}",
            std::fs::read_to_string(home.path().join("dev.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Devnet {
        child,
        rpc: url,
        home,
    }
}
