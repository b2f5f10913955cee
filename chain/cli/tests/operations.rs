//! Running a node for months, with the real `weft` binary: online backups, restores that never
//! make a member sign twice, pruning that keeps the anchor chain checkable.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::committee::{Committee, weft};
use std::path::Path;
use std::time::Duration;

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
/// follows the others' certificates up to the last height it signed at, then signs again; it
/// never signs a height twice and every member keeps the same chain.
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
    assert!(
        after.contains(&format!("signing again from height {}", signed + 1)),
        "the restored member did not resume right above its guard:\n{after}"
    );
    // It signs again: its key is in later certificates, and its guard moved on.
    let key = format!("0x{}", hex::encode(committee.members[1].key));
    let client = committee.client(0).await;
    let head = committee.height(0).await;
    let mut signs = false;
    for h in signed + 2..=head {
        let block = client.block(Some(h), false).await.unwrap().unwrap();
        signs |= block.commit.unwrap().signer_keys.contains(&key);
    }
    assert!(signs, "node-1 signed no certificate after {}", signed + 1);
    assert!(guard(&data) > signed);
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
    assert!(
        committee
            .log(2)
            .contains(&format!("signing again from height {}", top + 3))
    );
    committee.assert_agreement(&[0, 1, 2, 3]).await;
}
