//! The committee under faults, with the real `weft` binary: a member cut off from the network
//! and reconnected, a 2–2 partition healed, a member paused (`SIGSTOP`) for 10 s, `kill -9` of
//! the proposer under load, and 5 % loss with delays on every link.
//!
//! Network faults come from `common::faults`: every link between two members runs through a TCP
//! proxy the test controls. Each test checks that no two members committed different blocks,
//! that every acknowledged transaction is on every member at the end, and that commits resume
//! within 2 s after the fault heals: every member passes the highest height seen when it healed.
//!
//! The tests take turns (a lock), so that four members have the machine's cores to themselves.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::committee::{CHAIN, Committee, metrics};
use common::counter_wasm;
use common::faults::Impairment;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use weft_client::json::{ReceiptJson, Status, WaitUntil};
use weft_client::{Client, Signer, keyfile};
use weft_types::ContractId;

/// How soon after a fault heals every member must commit again.
const RESUME_WITHIN: Duration = Duration::from_secs(2);

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Senders that each send increments one after another through one member until stopped (or
/// until their member fails them: a sender whose member was killed stops there).
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<ReceiptJson>>>,
}

impl Load {
    fn start(urls: Vec<String>, counter: ContractId) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = urls
            .into_iter()
            .map(|url| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let client = Client::connect(&url).await.unwrap();
                    let mut signer = Signer::new(keyfile::generate(), CHAIN, 0);
                    let mut out = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let tx =
                            signer.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
                        let receipt = match client.send_and_wait(&tx).await {
                            Ok(r) => r,
                            Err(e) => {
                                eprintln!("the sender through {url} stops: {e}");
                                break;
                            }
                        };
                        assert_eq!(receipt.status, Status::Success, "{receipt:?}");
                        out.push(receipt);
                    }
                    out
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the senders; every receipt they got.
    async fn stop(self) -> Vec<ReceiptJson> {
        self.stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for t in self.tasks {
            out.extend(t.await.unwrap());
        }
        out
    }
}

/// Deploys the counter through member 0 and waits until every member has it, so that no sender
/// of the load is refused a call to a contract its member does not know yet.
async fn deploy(committee: &mut Committee) -> (ContractId, ReceiptJson) {
    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let client = committee.client(0).await;
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let receipt = client.send_and_wait(&deploy).await.unwrap();
    for i in 0..committee.members.len() {
        committee
            .wait_height(i, receipt.height, Duration::from_secs(30))
            .await;
    }
    (counter, receipt)
}

/// Everything the tests check at the end: all members at the last acknowledged height, the same
/// blocks everywhere, every acknowledged transaction everywhere, and the counter's value.
async fn assert_consistent(
    committee: &mut Committee,
    counter: &ContractId,
    acknowledged: &[ReceiptJson],
    increments: u64,
) {
    let all: Vec<usize> = (0..committee.members.len()).collect();
    let top = acknowledged.iter().map(|r| r.height).max().unwrap();
    for &i in &all {
        committee.wait_height(i, top, Duration::from_secs(30)).await;
    }
    committee.assert_agreement(&all).await;
    committee.assert_receipts(&all, acknowledged).await;
    for &i in &all {
        let (_, count) = committee.count(i, counter).await;
        assert!(
            count >= increments,
            "node-{i} counts {count}, fewer than the {increments} acknowledged increments"
        );
    }
}

/// Stops the load and checks the committee against everything it acknowledged.
async fn finish(
    committee: &mut Committee,
    counter: &ContractId,
    load: Load,
    deployed: ReceiptJson,
) {
    let mut acknowledged = load.stop().await;
    let increments = acknowledged.len() as u64;
    acknowledged.push(deployed);
    assert_consistent(committee, counter, &acknowledged, increments).await;
}

/// Waits until every member passes the highest height any had when the fault healed.
async fn assert_resumes(committee: &mut Committee, what: &str) {
    let all: Vec<usize> = (0..committee.members.len()).collect();
    let top = committee.top(&all).await;
    let took = committee.wait_all_past(&all, top, RESUME_WITHIN).await;
    eprintln!("{what}: every member passed height {top} {took:?} after the fault healed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cut_off_and_reconnected_catches_up() {
    let _turn = TURN.lock().await;
    let (mut committee, net) = Committee::running_behind_proxies(4).await;
    let (counter, deployed) = deploy(&mut committee).await;
    let load = Load::start(
        vec![
            committee.members[0].url.clone(),
            committee.members[1].url.clone(),
        ],
        counter,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    net.isolate(3, 4);
    let before = committee.top(&[0, 1, 2]).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = committee.top(&[0, 1, 2]).await;
    assert!(
        during > before + 2,
        "three members stopped committing while the fourth was cut off ({before} → {during})"
    );
    net.heal();
    assert_resumes(&mut committee, "cut-off member reconnected").await;

    finish(&mut committee, &counter, load, deployed).await;
    let repaired = metrics(committee.members[3].metrics_port).await;
    assert!(
        repaired.contains("weft_p2p_direct_sent_total"),
        "{repaired}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_two_partition_stops_commits_and_heals() {
    let _turn = TURN.lock().await;
    let (mut committee, net) = Committee::running_behind_proxies(4).await;
    let (counter, deployed) = deploy(&mut committee).await;

    net.partition(&[0, 1], &[2, 3]);
    // A height in flight may still finish on one side; after that, no side has a quorum.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stalled = committee.top(&[0, 1, 2, 3]).await;
    let client = committee.client(0).await;
    let mut bob = Signer::new(keyfile::generate(), CHAIN, 0);
    let mut pending = Vec::new();
    for _ in 0..5 {
        let tx = bob.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
        pending.push(client.send(&tx, WaitUntil::Accepted).await.unwrap().tx_hash);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        committee.top(&[0, 1, 2, 3]).await,
        stalled,
        "a side of a 2–2 partition committed without a quorum"
    );

    net.heal();
    assert_resumes(&mut committee, "2–2 partition healed").await;
    let mut acknowledged = vec![deployed];
    for hash in &pending {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let receipt = loop {
            if let Some(r) = client.receipt(hash).await.unwrap() {
                break r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a transaction accepted during the partition never committed:\n{}",
                committee.tails()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        acknowledged.push(receipt);
    }
    assert_consistent(&mut committee, &counter, &acknowledged, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_paused_for_10_s_resumes_and_catches_up() {
    let _turn = TURN.lock().await;
    let mut committee = Committee::running(4).await;
    let (counter, deployed) = deploy(&mut committee).await;
    let load = Load::start(
        vec![
            committee.members[0].url.clone(),
            committee.members[1].url.clone(),
        ],
        counter,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    committee.signal(2, "STOP");
    let before = committee.top(&[0, 1, 3]).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = committee.top(&[0, 1, 3]).await;
    committee.signal(2, "CONT");
    assert!(
        during > before + 2,
        "three members stopped committing while the fourth was paused ({before} → {during})"
    );
    assert_resumes(&mut committee, "paused member resumed").await;

    finish(&mut committee, &counter, load, deployed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_proposer_under_load() {
    let _turn = TURN.lock().await;
    let mut committee = Committee::running(4).await;
    let (counter, deployed) = deploy(&mut committee).await;
    let load = Load::start(
        committee.members.iter().map(|m| m.url.clone()).collect(),
        counter,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The member proposing the height in progress.
    let head = committee.height(0).await;
    let victim = committee.proposer(head + 1);
    committee.kill9(victim);
    let others: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    let top = committee.top(&others).await;
    let took = committee.wait_all_past(&others, top, RESUME_WITHIN).await;
    eprintln!("proposer node-{victim} killed: the others passed height {top} {took:?} later");
    // A few more heights with a dead member, whose turns to propose cost one short round.
    let top = committee.top(&others).await;
    committee
        .wait_all_past(&others, top + 8, Duration::from_secs(30))
        .await;

    let mut acknowledged = load.stop().await;
    let increments = acknowledged.len() as u64;
    acknowledged.push(deployed);
    committee.start(victim);
    assert_consistent(&mut committee, &counter, &acknowledged, increments).await;
    let text = metrics(committee.members[others[0]].metrics_port).await;
    assert!(
        text.contains("weft_consensus_rounds_per_height_count"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_with_delays_on_every_link() {
    let _turn = TURN.lock().await;
    let (mut committee, net) = Committee::running_behind_proxies(4).await;
    let (counter, deployed) = deploy(&mut committee).await;
    net.impair_all(Impairment {
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(10),
        loss: 0.05,
        rto: Duration::from_millis(200),
    });
    let load = Load::start(
        committee.members.iter().map(|m| m.url.clone()).collect(),
        counter,
    );
    let before = committee.top(&[0, 1, 2, 3]).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = committee.top(&[0, 1, 2, 3]).await;
    assert!(
        during > before + 5,
        "commits nearly stopped on lossy links ({before} → {during})"
    );
    net.impair_all(Impairment::default());
    assert_resumes(&mut committee, "links clean again").await;

    finish(&mut committee, &counter, load, deployed).await;
}
