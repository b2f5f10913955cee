//! Helpers for tests that drive the real `weft` binary: free ports, readiness, signals, HTTP.

#![allow(dead_code, reason = "each test file uses part of this")]

pub mod committee;
pub mod devnet;
pub mod faults;

use std::path::Path;
use weft_client::Client;

pub fn counter_wasm() -> Vec<u8> {
    weft_testkit::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/counter"
    ))
}

/// The storage key of an SDK `Item` named `name`.
pub fn item_key(name: &str) -> Vec<u8> {
    let mut out = vec![name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out
}

/// A free loopback TCP port (free when asked; tests use it right away). It is taken below Linux's
/// ephemeral range (32768 and up), from which the kernel picks the local ports of outgoing
/// connections: a port from there could be taken by any connection between asking and listening.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..10_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(7_919)) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// Waits until the node process `child` answers `weft_chainInfo` at `url`; panics with its log
/// if it exits or takes over 60 s.
pub async fn ready(url: &str, child: &mut std::process::Child, log: &Path) -> Client {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the node exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(client) = Client::connect(url).await
            && client.chain_info().await.is_ok()
        {
            return client;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not come up in 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sends SIGTERM to `child` and waits (at most 30 s) for it to exit.
pub fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not stop within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A plain HTTP/1.1 GET on loopback; the whole response, headers included.
pub async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}
