//! A committee of real `weft` processes on loopback, set up as operators do it (`weft init`,
//! `weft genesis`, `weft join`, `weft node run`): commits under load, `kill -9` of a member and
//! its catch-up, a stall without quorum and the resumption after, agreement on every height,
//! and no acknowledged transaction missing on any member.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::committee::{
    CHAIN, Committee, committee_of, concurrent_load, increments, metric, metrics, weft,
};
use common::{counter_wasm, item_key};
use std::time::{Duration, Instant};
use weft_client::json::WaitUntil;
use weft_client::{Signer, keyfile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_members_commit_survive_kill_9_and_catch_up() {
    let mut committee = Committee::running(4).await;
    let client = committee.client(0).await;
    let info = client.chain_info().await.unwrap();
    assert_eq!(info.committee.as_ref().unwrap().len(), 4);
    let last = info
        .last_commit
        .as_ref()
        .expect("a certificate for the head");
    assert!(last.signer_keys.len() >= 3, "{last:?}");

    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let mut acknowledged = vec![client.send_and_wait(&deploy).await.unwrap()];
    // Without faults a proposed block goes to each member about once: the proposer's own status
    // says it holds its block, and a block on its way is not sent again. (Height 1 may be sent
    // again while the members start; a member whose loop stalls 300 ms on a loaded machine may be
    // sent one again, hence the margin.)
    let (from, again_before) = (
        committee.height(0).await,
        blocks_sent_again(&committee).await,
    );
    acknowledged.extend(increments(&mut committee, &[0, 1, 2, 3], &mut alice, counter, 20).await);
    let heights = committee.height(0).await - from;
    let again = blocks_sent_again(&committee).await - again_before;
    assert!(
        again <= heights as f64 / 4.0 + 2.0,
        "{again} proposed blocks sent again over {heights} heights"
    );

    // Garbage on a member's peer port: the handshake fails, the member carries on.
    {
        use tokio::io::AsyncWriteExt;
        let port = committee.members[1].p2p_port;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let _ = stream.write_all(&[0xAB; 4096]).await;
    }

    // kill -9 one member right after acknowledged commits, with more in flight; the others go on.
    let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    committee
        .client(3)
        .await
        .send(&tx, WaitUntil::Accepted)
        .await
        .unwrap();
    // Load from 12 more senders on the other three members while the fourth is killed.
    let urls: Vec<String> = (0..3).map(|i| committee.members[i].url.clone()).collect();
    let load = tokio::spawn(concurrent_load(urls, counter, 12, 15));
    tokio::time::sleep(Duration::from_millis(300)).await;
    committee.kill9(3);
    // It may have died before gossiping that transaction: send it again elsewhere (a duplicate
    // is refused harmlessly), or the sender's later nonces would wait for it forever.
    let _ = committee
        .client(0)
        .await
        .send(&tx, WaitUntil::Accepted)
        .await;
    let stopped_at = committee.height(0).await;
    acknowledged.extend(increments(&mut committee, &[0, 1, 2], &mut alice, counter, 20).await);
    let loaded = load.await.unwrap();
    assert_eq!(loaded.len(), 12 * 15);
    acknowledged.extend(loaded);
    assert!(committee.height(0).await > stopped_at);

    // Restarted, it catches up to the others' height and state.
    committee.start(3);
    let target = committee.height(0).await;
    committee
        .wait_height(3, target, Duration::from_secs(90))
        .await;
    acknowledged.extend(increments(&mut committee, &[3, 0], &mut alice, counter, 4).await);
    let log = committee.log(3);
    assert!(log.contains("caught up with committed blocks"), "{log}");

    let everyone = [0, 1, 2, 3];
    let top = acknowledged.last().unwrap().height;
    for i in everyone {
        committee.wait_height(i, top, Duration::from_secs(30)).await;
    }
    committee.assert_agreement(&everyone).await;
    committee.assert_receipts(&everyone, &acknowledged).await;
    // 44 acknowledged increments by alice, 180 by the load, plus the one sent just before the
    // kill if it was committed.
    let (_, count) = committee.count(0, &counter).await;
    assert!((224..=225).contains(&count), "count {count}");
    let log = committee.log(1);
    assert!(!log.contains("panicked"), "{log}");
    let metrics = metrics(committee.members[0].metrics_port).await;
    for expected in [
        "weft_p2p_peers 3",
        "weft_consensus_round ",
        "weft_consensus_decide_seconds_count ",
        "weft_consensus_proposal_seconds_count ",
        "weft_mempool_size ",
    ] {
        assert!(metrics.contains(expected), "no `{expected}` in:\n{metrics}");
    }
    let votes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("weft_consensus_votes_received_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(votes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_commits_stop_and_resume_safely() {
    let mut committee = Committee::running(4).await;
    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let client = committee.client(0).await;
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let mut acknowledged = vec![client.send_and_wait(&deploy).await.unwrap()];
    acknowledged.extend(increments(&mut committee, &[0, 1], &mut alice, counter, 5).await);

    // Two of four down: no quorum.
    committee.sigterm(2);
    committee.kill9(3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = committee.height(0).await;
    let tx = alice.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
    let hash = client.send(&tx, WaitUntil::Accepted).await.unwrap().tx_hash;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        committee.height(0).await,
        stalled,
        "committed without a quorum"
    );
    assert_eq!(
        committee.height(1).await,
        stalled,
        "committed without a quorum"
    );
    assert!(client.receipt(&hash).await.unwrap().is_none());

    // One back: three of four, commits resume and the pending transaction lands.
    committee.start(2);
    let deadline = Instant::now() + Duration::from_secs(90);
    let receipt = loop {
        if let Some(r) = client.receipt(&hash).await.unwrap() {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "commits did not resume:\n{}",
            committee.log(2)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    acknowledged.push(receipt);
    acknowledged.extend(increments(&mut committee, &[0, 1, 2], &mut alice, counter, 5).await);
    let top = acknowledged.last().unwrap().height;
    for i in [0, 1, 2] {
        committee.wait_height(i, top, Duration::from_secs(30)).await;
    }
    committee.assert_agreement(&[0, 1, 2]).await;
    committee.assert_receipts(&[0, 1, 2], &acknowledged).await;
    let (_, count) = committee.count(2, &counter).await;
    assert_eq!(count, 11);
}

/// Each member's blocks committed and Tangle blocks stored.
async fn activity(committee: &Committee) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for m in &committee.members {
        let text = metrics(m.metrics_port).await;
        out.push((
            metric(&text, "weft_blocks_committed_total"),
            metric(&text, "weft_tangle_blocks_total"),
        ));
    }
    out
}

/// Proposed blocks sent again to a member that seemed to lack them, summed over the members.
async fn blocks_sent_again(committee: &Committee) -> f64 {
    let mut again = 0.0;
    for m in &committee.members {
        again += metrics(m.metrics_port)
            .await
            .lines()
            .filter(|l| l.starts_with("weft_p2p_repaired_total{") && l.contains("class=\"blocks\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    again
}

/// The members' activity once it has not changed for 3 s (within 30 s): a member that is behind
/// may still add a validation or fallback anchor block after the others went quiet.
async fn quiet(committee: &Committee) -> Vec<(f64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = activity(committee).await;
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = activity(committee).await;
        if now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the committee never went quiet: {now:?}\n{}",
            committee.tails()
        );
        last = now;
    }
}

/// Without transactions (and without a heartbeat) a committee makes no blocks and its Tangle
/// issues nothing once block 1's anchor is confirmed; a transaction wakes it, commits, and its
/// anchor is confirmed for a handful of Tangle blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_committee_stays_quiet_and_wakes_for_a_transaction() {
    let mut committee = Committee::with_heartbeat(4, 0);
    for i in 0..4 {
        committee.start(i);
    }
    for i in 0..4 {
        committee.wait_height(i, 1, Duration::from_secs(60)).await;
    }
    let client = committee.client(0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .latest_anchor(CHAIN)
        .await
        .unwrap()
        .is_some_and(|a| a.confirmed)
    {
        assert!(
            Instant::now() < deadline,
            "block 1 not anchored:\n{}",
            committee.tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = quiet(&committee).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        activity(&committee).await,
        settled,
        "an idle committee kept committing or issuing Tangle blocks"
    );
    for (i, m) in committee.members.iter().enumerate() {
        assert_eq!(
            metric(&metrics(m.metrics_port).await, "weft_consensus_idle"),
            1.0,
            "node-{i} is not idle"
        );
    }
    assert_eq!(committee.height(0).await, 1);

    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let sent = committee
        .client(2)
        .await
        .send(&deploy, WaitUntil::Confirmed)
        .await
        .unwrap();
    let receipt = sent.receipt.unwrap();
    assert_eq!(receipt.height, 2);
    assert!(sent.anchor.is_some_and(|a| a.confirmed && a.height == 2));
    for i in 0..4 {
        committee.wait_height(i, 2, Duration::from_secs(30)).await;
    }
    let after = quiet(&committee).await;
    for (i, (before, now)) in settled.iter().zip(&after).enumerate() {
        assert_eq!(now.0 - before.0, 1.0, "node-{i} committed other blocks");
        // The anchor and about one validation block per member for it.
        assert!(
            now.1 - before.1 <= 12.0,
            "node-{i} stored {} Tangle blocks for one anchor",
            now.1 - before.1
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(activity(&committee).await, after, "not quiet again");
}

/// A peer that completes the handshake and then gossips garbage is refused message by message,
/// then disconnected; the member keeps committing. (Consensus traffic does not use gossip; a
/// stranger cannot open a direct consensus stream at all.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_gossiping_garbage_is_disconnected() {
    use futures::StreamExt;
    use libp2p::gossipsub;
    use libp2p::swarm::SwarmEvent;

    let mut committee = Committee::new(1);
    committee.start(0);
    committee.wait_height(0, 1, Duration::from_secs(60)).await;

    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| {
            gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossipsub::Config::default(),
            )
            .unwrap()
        })
        .unwrap()
        .build();
    let topic = gossipsub::IdentTopic::new(format!("/weft/{CHAIN}/txs/1"));
    swarm.behaviour_mut().subscribe(&topic).unwrap();
    let addr: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", committee.members[0].p2p_port)
        .parse()
        .unwrap();
    swarm.dial(addr).unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut subscribed = false;
    let mut sent = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let disconnected = loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break false,
            _ = tick.tick() => {
                if subscribed {
                    let garbage = format!("not a batch of transactions #{sent}").into_bytes();
                    if swarm.behaviour_mut().publish(topic.clone(), garbage).is_ok() {
                        sent += 1;
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) => subscribed = true,
                SwarmEvent::ConnectionClosed { .. } if subscribed => break true,
                _ => {}
            },
        }
    };
    assert!(
        disconnected,
        "still connected after sending {sent} garbage messages"
    );
    assert!(sent >= 20, "disconnected after only {sent} messages");
    // Messages already being checked when the twentieth cut the peer off are counted too.
    let metrics = metrics(committee.members[0].metrics_port).await;
    let rejected = metric(
        &metrics,
        "weft_p2p_rejected_messages_total{reason=\"malformed_tx_batch\"}",
    );
    assert!(
        (20.0..=f64::from(sent)).contains(&rejected),
        "{rejected} rejected of {sent}:\n{metrics}"
    );
    let log = committee.log(0);
    assert!(log.contains("disconnecting it"), "{log}");
    // Still committing.
    let height = committee.height(0).await;
    committee
        .wait_height(0, height + 2, Duration::from_secs(30))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_is_anchored_confirmed_and_verifiable_by_a_light_client() {
    use weft_client::{LightClientError, VerifyError, verify_anchored_state};
    use weft_types::QuorumError;
    let mut committee = Committee::running(4).await;
    let client = committee.client(0).await;
    let info = client.chain_info().await.unwrap();
    let trusted = committee_of(&info);

    let mut alice = Signer::new(keyfile::generate(), CHAIN, 0);
    let counter = alice.contract_id(0);
    let deploy = alice.deploy(counter_wasm(), borsh::to_vec(&(0u64,)).unwrap());
    let deployed = client.send_and_wait(&deploy).await.unwrap();
    // Node-1 takes a call only to a contract it knows.
    committee
        .wait_height(1, deployed.height, Duration::from_secs(30))
        .await;
    // waitUntil confirmed: the answer carries the confirmed anchor covering the receipt's block.
    let tx = alice.call(counter, "increment", borsh::to_vec(&(5u64,)).unwrap());
    let sent = committee
        .client(1)
        .await
        .send(&tx, WaitUntil::Confirmed)
        .await
        .unwrap();
    let receipt = sent.receipt.unwrap();
    let anchor = sent.anchor.expect("an anchor with waitUntil confirmed");
    assert!(
        anchor.confirmed && anchor.height >= receipt.height,
        "{anchor:?}"
    );
    weft_client::verify_anchor(&anchor, CHAIN, &trusted).unwrap();

    // Data anyone posts is confirmed on every member.
    let posted = committee
        .client(2)
        .await
        .submit_data(b"audit: order 17 shipped", "audit")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let block = committee
            .client(3)
            .await
            .tangle_block(&posted)
            .await
            .unwrap();
        if block.as_ref().is_some_and(|b| b.confirmed_at.is_some()) {
            assert_eq!(block.unwrap().payload["tag"], "audit");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "posted data not confirmed on node-3: {block:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // kill -9 and restart a member: its Tangle keeps the anchors, and it goes on anchoring.
    let before = committee
        .client(3)
        .await
        .latest_anchor(CHAIN)
        .await
        .unwrap()
        .unwrap();
    committee.kill9(3);
    committee.start(3);
    let after_restart = committee.client(3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let kept = loop {
        // The RPC server answers before the member's Tangle is open.
        match after_restart.anchors(CHAIN, before.state_index, 1).await {
            Ok(kept) => break kept,
            Err(e) if Instant::now() < deadline && e.to_string().contains("still opening") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        kept[0].id, before.id,
        "anchor {} lost across kill -9",
        before.state_index
    );
    let block = after_restart
        .tangle_block(&before.tangle_block)
        .await
        .unwrap()
        .unwrap();
    assert!(block.solid == Some(true), "{block:?}");

    // Every committed block that changed the state is anchored and confirmed, in one chain
    // without gaps; a block that changed nothing is covered by the anchor before it.
    let head = committee.height(0).await;
    for i in 0..4 {
        committee
            .wait_height(i, head, Duration::from_secs(60))
            .await;
    }
    let mut changed = Vec::new();
    let mut last_root = None;
    for h in 1..=head {
        let block = client.block(Some(h), false).await.unwrap().unwrap();
        if last_root != Some(block.header.state_root) {
            changed.push(h);
        }
        last_root = Some(block.header.state_root);
    }
    let n = changed.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    let anchors = loop {
        let anchors = client.anchors(CHAIN, 1, 1000).await.unwrap();
        if anchors.len() >= n && anchors[..n].iter().all(|a| a.confirmed) {
            break anchors;
        }
        assert!(
            Instant::now() < deadline,
            "{} anchors for {n} blocks that changed the state:\n{}",
            anchors.len(),
            committee.tails()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut prev = weft_types::StatementId::default();
    for (i, a) in anchors[..n].iter().enumerate() {
        assert_eq!((a.state_index, a.height), (i as u64 + 1, changed[i]));
        assert_eq!(
            a.prev_anchor, prev,
            "anchor {} does not follow the previous one",
            a.state_index
        );
        let block = client.block(Some(a.height), false).await.unwrap().unwrap();
        assert_eq!(
            (a.block_hash, a.state_root),
            (block.header.hash, block.header.state_root)
        );
        prev = a.id;
    }
    // Node-3 (killed and restarted above) may still be taking in the Tangle's blocks.
    let client_3 = committee.client(3).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let on_3 = loop {
        let on_3 = client_3.anchors(CHAIN, 1, n).await.unwrap();
        if on_3.len() >= n {
            break on_3;
        }
        assert!(
            Instant::now() < deadline,
            "node-3 holds {} of the {n} anchors:\n{}",
            on_3.len(),
            committee.log(3)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        on_3.iter().map(|a| a.id).collect::<Vec<_>>(),
        anchors[..n].iter().map(|a| a.id).collect::<Vec<_>>()
    );

    // The CLI shows the same chain of anchors and checks it.
    let url = committee.members[2].url.clone();
    let shown = weft(&[
        "--rpc",
        &url,
        "tangle",
        "anchors",
        "--limit",
        &n.to_string(),
    ]);
    assert!(
        shown.contains(&format!(
            "anchors 1..={n} of chain {CHAIN}: one chain, no gaps"
        )),
        "{shown}"
    );
    let tips = weft(&["--rpc", &url, "tangle", "tips"]);
    assert!(tips.contains(" tips"), "{tips}");

    // The light client: anchor signatures → anchored root → JMT proof. Every tampering fails at
    // its step.
    let key = item_key("count");
    let answer = client
        .state(&counter, &key, Some(anchor.height))
        .await
        .unwrap();
    let value = verify_anchored_state(&answer, CHAIN, &trusted, &counter, &key)
        .unwrap()
        .expect("the counter exists");
    assert_eq!(borsh::from_slice::<u64>(&value).unwrap(), 5);
    let absent = client
        .state(&counter, b"nothing", Some(anchor.height))
        .await
        .unwrap();
    assert_eq!(
        verify_anchored_state(&absent, CHAIN, &trusted, &counter, b"nothing").unwrap(),
        None,
        "exclusion is proven too"
    );

    let mut wrong_value = answer.clone();
    wrong_value.value = Some(borsh::to_vec(&6u64).unwrap());
    assert!(matches!(
        verify_anchored_state(&wrong_value, CHAIN, &trusted, &counter, &key),
        Err(LightClientError::Proof(VerifyError::ValueMismatch))
    ));
    let mut wrong_root = answer.clone();
    wrong_root.state_root.0[0] ^= 1;
    let err = verify_anchored_state(&wrong_root, CHAIN, &trusted, &counter, &key).unwrap_err();
    assert!(matches!(err, LightClientError::WrongRoot { .. }), "{err}");
    let mut forged = answer.clone();
    let n = forged.proof.len();
    forged.proof[n - 1] ^= 1;
    let err = verify_anchored_state(&forged, CHAIN, &trusted, &counter, &key).unwrap_err();
    assert!(matches!(err, LightClientError::Proof(_)), "{err}");
    let mut forged_root = answer.clone();
    forged_root.anchor.as_mut().unwrap().state_root.0[0] ^= 1;
    let err = verify_anchored_state(&forged_root, CHAIN, &trusted, &counter, &key).unwrap_err();
    assert!(
        matches!(
            err,
            LightClientError::Signatures(QuorumError::BadSignature { .. })
        ),
        "an anchor with another root is not what the committee signed: {err}"
    );
    let mut too_few = answer.clone();
    {
        let a = too_few.anchor.as_mut().unwrap();
        let keep: Vec<usize> = (0..4)
            .filter(|i| a.signers[0] & (1 << i) != 0)
            .take(2)
            .collect();
        a.signers = vec![keep.iter().fold(0u8, |b, i| b | (1 << i))];
        a.signatures.truncate(2);
    }
    let err = verify_anchored_state(&too_few, CHAIN, &trusted, &counter, &key).unwrap_err();
    assert!(
        matches!(
            err,
            LightClientError::Signatures(QuorumError::TooFewSignatures { .. })
        ),
        "{err}"
    );
    let strangers = weft_types::Committee::new(
        0,
        (0..4)
            .map(|_| weft_types::CommitteeMember {
                public_key: keyfile::generate().public_key(),
                power: 1,
            })
            .collect(),
    )
    .unwrap();
    let err = verify_anchored_state(&answer, CHAIN, &strangers, &counter, &key).unwrap_err();
    assert!(
        matches!(
            err,
            LightClientError::Signatures(QuorumError::BadSignature { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("different committee"), "{err}");
    let err =
        verify_anchored_state(&answer, "another-chain", &trusted, &counter, &key).unwrap_err();
    assert!(matches!(err, LightClientError::WrongChain { .. }), "{err}");

    // Bad input to the Tangle methods gets a precise error.
    let err = client
        .request::<serde_json::Value>("tangle_getBlock", serde_json::json!(["0x12"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("64 hex digits"), "{err}");
    let metrics = metrics(committee.members[0].metrics_port).await;
    assert!(
        metrics.contains("weft_anchor_confirm_seconds_count "),
        "{metrics}"
    );
}
