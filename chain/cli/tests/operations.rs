//! Running a node for months, with the real `weft` binary: online backups, restores that never
//! make a member sign twice, pruning that keeps the anchor chain checkable.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::committee::{CHAIN, Committee, committee_of, increments, metric, metrics, weft};
use common::counter_wasm;
use std::path::Path;
use std::time::Duration;
use weft_client::json::WaitUntil;
use weft_client::{Signer, keyfile};

fn data_dir(committee: &Committee, i: usize) -> std::path::PathBuf {
    committee.members[i].config.parent().unwrap().join("data")
}

fn guard(data: &Path) -> u64 {
    std::fs::read_to_string(data.join("signing.guard"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A member backed up online, run on for a while, killed and restored from that older backup
/// follows the others' certificates up to the height its write-ahead log holds, resumes that
/// height with what it signed there, and signs on; it never signs a height twice and every
/// member keeps the same chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_restored_from_an_older_backup_does_not_sign_twice() {
    let mut committee = Committee::running(4).await;
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("node-1");
    let config = committee.members[1].config.to_str().unwrap().to_string();

    // Online: the running node takes it.
    let out = weft(&[
        "node",
        "backup",
        "--config",
        &config,
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(out.contains("backed up height"), "{out}");
    let manifest = std::fs::read_to_string(backup.join("backup.toml")).unwrap();
    let backed_up: u64 = manifest
        .lines()
        .find_map(|l| l.strip_prefix("height = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(backed_up >= 2, "{manifest}");
    // A second backup into the same directory is refused.
    let refused = common::committee::weft_fails(&[
        "node",
        "backup",
        "--config",
        &config,
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(refused.contains("not empty"), "{refused}");

    // The member goes on voting for a while after the backup.
    let top = committee.height(0).await;
    committee
        .wait_height(1, top + 8, Duration::from_secs(60))
        .await;
    committee.kill9(1);
    let data = data_dir(&committee, 1);
    let signed = guard(&data);
    assert!(
        signed > backed_up,
        "signed up to {signed}, backup at {backed_up}"
    );

    // Restoring while it runs is refused; stopped, it works and keeps the newer guard.
    let restored = weft(&[
        "node",
        "restore",
        "--config",
        &config,
        "--from",
        backup.to_str().unwrap(),
    ]);
    assert!(
        restored.contains(&format!("restored height {backed_up}")),
        "{restored}"
    );
    assert!(
        restored.contains(&format!("signs only above height {signed}")),
        "{restored}"
    );
    assert_eq!(guard(&data), signed);
    assert!(
        std::fs::read_dir(&data).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("before-restore-")),
        "the replaced data was not kept aside"
    );

    committee.start(1);
    let top = committee.height(0).await;
    committee
        .wait_height(1, top.max(signed) + 3, Duration::from_secs(60))
        .await;
    let log = committee.log(1);
    let restarted = log.rfind("opened node data").unwrap();
    let after = &log[restarted..];
    assert!(
        after.contains("not signing at this height"),
        "the restored member did not hold back:\n{after}"
    );
    // The restore kept the write-ahead log: back at the height it holds the member resumes it
    // with what it signed there, or, when that height was decided meanwhile, it gets past it by
    // certificates and signs from the next one.
    assert!(
        after.contains("resuming the height in progress from the write-ahead log")
            || after.contains("signing again from height"),
        "the restored member neither resumed its logged height nor passed its guard:\n{after}"
    );
    // It signs again: its guard moves on only when its own messages leave.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while guard(&data) <= signed + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "node-1 signed nothing past its guard:\n{}",
            committee.log(1)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    committee.assert_agreement(&[0, 1, 2, 3]).await;
}

/// A member without its signing guard (a lost disk) is restored only when told from which
/// height on it may sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_without_a_guard_needs_a_height() {
    let mut committee = Committee::running(4).await;
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("node-2");
    let config = committee.members[2].config.to_str().unwrap().to_string();
    committee.sigterm(2);
    // Offline: read directly.
    let out = weft(&[
        "node",
        "backup",
        "--config",
        &config,
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(out.contains("not running"), "{out}");
    let data = data_dir(&committee, 2);
    std::fs::remove_dir_all(&data).unwrap();
    let refused = common::committee::weft_fails(&[
        "node",
        "restore",
        "--config",
        &config,
        "--from",
        backup.to_str().unwrap(),
    ]);
    assert!(refused.contains("--signed-up-to"), "{refused}");
    let top = committee.height(0).await;
    let restored = weft(&[
        "node",
        "restore",
        "--config",
        &config,
        "--from",
        backup.to_str().unwrap(),
        "--signed-up-to",
        &(top + 2).to_string(),
    ]);
    assert!(
        restored.contains(&format!("signs only above height {}", top + 2)),
        "{restored}"
    );
    committee.start(2);
    committee
        .wait_height(2, top + 5, Duration::from_secs(60))
        .await;
    // It signs again above the guard: at the first height past it that it starts, which is
    // later than top + 3 when it caught up by fetching several blocks at once.
    const AGAIN: &str = "signing again from height ";
    let log = committee.wait_log(2, AGAIN, Duration::from_secs(30)).await;
    let again: u64 = log
        .split(AGAIN)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no height after `{AGAIN}`:\n{log}"));
    assert!(
        again > top + 2,
        "signed again at {again}, guard {}",
        top + 2
    );
    committee.assert_agreement(&[0, 1, 2, 3]).await;
}

/// A member whose data directory is wiped rejoins from a state snapshot its peers serve: it
/// never replays history (block 1 is not on it), reaches the same state root and the same
/// counter as the others, and signs again once past the height in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_member_rejoins_by_state_sync_without_replaying_history() {
    let mut committee = Committee::running(4).await;
    let client = committee.client(0).await;
    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    client.send_and_wait(&deploy).await.unwrap();
    increments(&mut committee, &[0, 1, 2, 3], &mut alice, counter, 8).await;

    committee.sigterm(3);
    std::fs::remove_dir_all(data_dir(&committee, 3)).unwrap();
    let receipts = increments(&mut committee, &[0, 1, 2], &mut alice, counter, 8).await;
    let top = committee
        .height(0)
        .await
        .max(receipts.last().map_or(0, |r| r.height));

    committee.start(3);
    committee
        .wait_height(3, top + 2, Duration::from_secs(60))
        .await;
    let log = committee.log(3);
    let restarted = &log[log.rfind("opened node data").unwrap()..];
    assert!(
        restarted.contains("restoring the state at that height from peers")
            && restarted.contains("state restored from peers"),
        "node-3 did not restore from a snapshot:\n{restarted}"
    );
    let synced = committee.client(3).await;
    assert!(
        synced.block(Some(1), false).await.unwrap().is_none(),
        "node-3 holds block 1: it replayed history"
    );
    // The same state as the others, read with proofs against each one's own head.
    let (h3, c3) = committee.count(3, &counter).await;
    let (h0, c0) = committee.count(0, &counter).await;
    assert_eq!(c3, 16, "node-3 at height {h3}");
    assert_eq!(c0, 16, "node-0 at height {h0}");
    let common = h3.min(h0);
    let on_3 = synced.block(Some(common), false).await.unwrap().unwrap();
    let on_0 = client.block(Some(common), false).await.unwrap().unwrap();
    assert_eq!(on_3.header.state_root, on_0.header.state_root);
    // And it commits what comes next, signing again past the guard.
    // The last one went to node-0: node-3 counts it once it has that block.
    let receipts = increments(&mut committee, &[3, 0], &mut alice, counter, 4).await;
    let last = receipts.last().map(|r| r.height).unwrap_or(top);
    committee
        .wait_height(3, last, Duration::from_secs(30))
        .await;
    assert_eq!(committee.count(3, &counter).await.1, 20);
    committee
        .wait_log(3, "signing again from height", Duration::from_secs(30))
        .await;
}

/// With short pruning windows, confirmed validation blocks and old state versions go while
/// the anchor chain stays whole: `weft tangle anchors` checks it, the light client verifies
/// state at the latest anchor, and a read at a pruned height says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_the_anchor_chain_and_anchored_proofs() {
    use weft_client::verify_anchored_state;
    let mut committee = Committee::new(4);
    for m in &committee.members {
        let mut text = std::fs::read_to_string(&m.config).unwrap();
        for (from, to) in [
            ("state_history = 10000", "state_history = 3"),
            ("prune_every_s = 60", "prune_every_s = 1"),
            ("prune_after_s = 3600", "prune_after_s = 20"),
            ("max_tip_age_ms = 10000", "max_tip_age_ms = 5000"),
            ("below_max_depth_ms = 30000", "below_max_depth_ms = 10000"),
        ] {
            assert!(text.contains(from), "no `{from}` in the config:\n{text}");
            text = text.replace(from, to);
        }
        std::fs::write(&m.config, text).unwrap();
    }
    for i in 0..4 {
        committee.start(i);
    }
    for i in 0..4 {
        committee.wait_height(i, 2, Duration::from_secs(60)).await;
    }
    let client = committee.client(0).await;
    let info = client.chain_info().await.unwrap();
    let trusted = committee_of(&info);
    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let first = client.send(&deploy, WaitUntil::Confirmed).await.unwrap();
    let first_anchor = first.anchor.unwrap();
    increments(&mut committee, &[0, 1, 2, 3], &mut alice, counter, 5).await;
    // The parents of a confirmed anchor's block are confirmed with it (its past cone): the
    // validation blocks among them go once the window passes.
    let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    let last = client.send(&tx, WaitUntil::Confirmed).await.unwrap();
    let parents: Vec<weft_types::TangleBlockId> = client
        .tangle_block(&last.anchor.unwrap().tangle_block)
        .await
        .unwrap()
        .unwrap()
        .parents
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();

    // Past the Tangle window (20 s) and a few pruning passes.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = metrics(committee.members[0].metrics_port).await;
        if metric(&text, "weft_pruned_tangle_blocks_total") > 0.0
            && metric(&text, "weft_state_oldest_version") > 1.0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing pruned after 60 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut gone = 0;
        for parent in &parents {
            gone += usize::from(client.tangle_block(parent).await.unwrap().is_none());
        }
        if gone > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "every parent of a confirmed anchor was kept: {parents:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Anchor blocks stay, and the chain of anchors is whole.
    assert!(
        client
            .tangle_block(&first_anchor.tangle_block)
            .await
            .unwrap()
            .is_some()
    );
    let anchors = client.anchors(CHAIN, 1, 1000).await.unwrap();
    let url = committee.members[0].url.clone();
    let shown = weft(&[
        "--rpc",
        &url,
        "tangle",
        "anchors",
        "--limit",
        &anchors.len().to_string(),
    ]);
    assert!(shown.contains("one chain, no gaps"), "{shown}");
    // Proofs at the latest anchor still verify; a pruned height is refused with the reason.
    let latest = client.latest_anchor(CHAIN).await.unwrap().unwrap();
    let key = common::item_key("count");
    let answer = client
        .state(&counter, &key, Some(latest.height))
        .await
        .unwrap();
    let value = verify_anchored_state(&answer, CHAIN, &trusted, &counter, &key)
        .unwrap()
        .unwrap();
    assert_eq!(borsh::from_slice::<u64>(&value).unwrap(), 6);
    let err = client
        .state(&counter, &key, Some(first.receipt.unwrap().height))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("was pruned"), "{err}");
}
