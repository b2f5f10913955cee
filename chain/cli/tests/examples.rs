//! The runnable scenarios of `examples/` against a real `weft dev` devnet (four `weft`
//! processes with their embedded Tangle), as a user runs them after `scripts/devnet.sh`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::devnet::devnet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_run_against_weft_dev() {
    let net = devnet().await;
    let target = weft_examples::Target {
        rpc: net.rpc.clone(),
        genesis: net.home.path().join("devnet/genesis.toml"),
    };
    weft_examples::age_check::run(&target).await.unwrap();
    weft_examples::tickets::run(&target).await.unwrap();
    weft_examples::audit_trail::run(&target).await.unwrap();
    weft_examples::smart_meters::run(&target).await.unwrap();
    weft_examples::logistics::run(&target).await.unwrap();
    weft_examples::energy_market::run(&target).await.unwrap();
}
