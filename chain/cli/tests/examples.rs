//! The runnable scenarios of `examples/` against a real `weft dev` devnet (four `weft`
//! processes with their embedded Tangle), as a user runs them after `scripts/devnet.sh`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A base port whose next four ports are free too (weft dev gives node i the base + i).
fn free_ports(n: u16) -> u16 {
    loop {
        let base = common::free_port();
        if base.checked_add(n).is_some()
            && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

struct Devnet {
    child: Child,
    home: tempfile::TempDir,
    rpc: String,
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

async fn devnet() -> Devnet {
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
    let client = common::ready(&url, &mut child, &home.path().join("dev.log")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_age_check_and_the_tickets_run_against_weft_dev() {
    let net = devnet().await;
    let target = weft_examples::Target {
        rpc: net.rpc.clone(),
        genesis: net.home.path().join("devnet/genesis.toml"),
    };
    weft_examples::age_check::run(&target).await.unwrap();
    weft_examples::tickets::run(&target).await.unwrap();
}
