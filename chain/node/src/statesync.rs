//! State sync: a member that starts with an empty data directory while the committee is past
//! its first block restores the state at a recent certified height from its peers, instead of
//! replaying the chain from genesis, then follows blocks from there.
//!
//! 1. **Offers.** It asks every member for its latest block with the commit certificate
//!    (`/weft/snapshot/1`, [`SnapshotRequest::Offer`]). An offer counts only if the certificate
//!    carries signatures of more than two thirds of the genesis committee's power for exactly
//!    that block ([`check_offer`]); the highest one wins, and its header's state root is the
//!    root every chunk is checked against.
//! 2. **Chunks.** [`ChunkFetch`] asks the offering peers in turn (one chunk each, round robin)
//!    for runs of the state at that
//!    height in the tree's key-hash order. Each chunk's range proof is checked against the
//!    trusted root before anything of it is kept (`weft_state::StateRestore`); a refused chunk
//!    (or an error) moves on to the next peer and asks for the same range again.
//! 3. **Adoption.** With the last chunk the tree's root must equal the trusted one; the block
//!    and its certificate become the head, and the signing guard is raised above the highest
//!    offered height: a wiped member may have signed the height in progress before it lost its
//!    disk, so it signs only from the height after.
//!
//! Blocks below the snapshot are not on this member; it serves none of them to others, and its
//! Tangle starts empty (it follows the Tangle from now on).

use crate::service::Node;
use crate::storage::SigningGuard;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use weft_consensus::{ValidatorSet, verify_commit};
use weft_p2p::{
    NetEvent, NetHandle, PeerId, SNAPSHOT_CHUNK_ENTRIES, SnapshotRequest, SnapshotResponse,
    SyncedBlock,
};
use weft_state::{RestoreError, SnapshotChunk, StateRestore, StateStore};
use weft_types::ChainId;

/// How long a member starting without state waits for offers when not every member answers.
pub const OFFER_WAIT: Duration = Duration::from_secs(5);
/// Consecutive failed chunk requests (over all peers) after which state sync gives up.
const MAX_FAILURES: u32 = 12;

/// Checks a certified block (offered for state sync, or fetched while catching up): a commit
/// certificate of the committee's quorum for exactly it, and the header's transactions.
pub fn check_offer(
    validators: &ValidatorSet,
    chain: &ChainId,
    offer: &SyncedBlock,
) -> Result<(), String> {
    let header = &offer.block.header;
    let hash = header.hash();
    let certificate = &offer.certificate;
    if certificate.height != header.height || certificate.block.0 != hash {
        return Err(format!(
            "the certificate is for block {} at height {}, not {hash} at {}",
            certificate.block, certificate.height, header.height
        ));
    }
    let full = certificate.expand(validators).map_err(|e| e.to_string())?;
    verify_commit(&full, validators, Default::default(), chain).map_err(|e| {
        format!(
            "invalid commit certificate for block {}: {e}",
            header.height
        )
    })?;
    // The certificate names the header; the transactions must be the header's.
    let tx_root = weft_types::list_hash(
        weft_executor::TX_ROOT_DOMAIN,
        offer.block.txs.iter().map(|t| t.tx.hash()),
    );
    if tx_root != header.tx_root {
        return Err(format!(
            "block {}'s transactions do not match its header's tx_root",
            header.height
        ));
    }
    Ok(())
}

/// What became of one chunk answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Kept; ask for the next one.
    More,
    /// Kept, and the state is complete: call [`ChunkFetch::finish`].
    Done,
    /// Refused (or the peer could not answer); the next request goes to another peer.
    Refused(String),
}

/// Fetching the state at one version from peers in turn.
pub struct ChunkFetch {
    restore: StateRestore,
    peers: Vec<PeerId>,
    turn: usize,
    failures: u32,
    /// Chunks kept.
    pub chunks: u64,
    /// Chunks refused (bad proofs) from each peer.
    pub refused: HashMap<PeerId, u32>,
}

impl ChunkFetch {
    /// Starts restoring `version` (trusted `root`) into the empty `store` from `peers`.
    pub fn new(
        store: Arc<StateStore>,
        version: u64,
        root: weft_types::Hash32,
        peers: Vec<PeerId>,
    ) -> Result<Self, String> {
        if peers.is_empty() {
            return Err("no peer to fetch the state from".into());
        }
        Ok(Self {
            restore: StateRestore::new(store, version, root).map_err(|e| e.to_string())?,
            peers,
            turn: 0,
            failures: 0,
            chunks: 0,
            refused: HashMap::new(),
        })
    }

    /// Whom to ask next, and what.
    pub fn request(&self) -> (PeerId, SnapshotRequest) {
        (
            self.peers[self.turn % self.peers.len()],
            SnapshotRequest::Chunk {
                version: self.restore.version(),
                after: self.restore.next_after(),
                max: SNAPSHOT_CHUNK_ENTRIES,
            },
        )
    }

    /// Entries kept so far.
    pub fn entries(&self) -> u64 {
        self.restore.entries()
    }

    /// Takes `peer`'s answer to [`ChunkFetch::request`]. Errors only when the store fails or
    /// every peer keeps failing.
    pub fn answer(
        &mut self,
        peer: PeerId,
        answer: Result<Vec<u8>, String>,
    ) -> Result<Progress, String> {
        let outcome = answer.and_then(|bytes| {
            let chunk: SnapshotChunk = borsh::from_slice(&bytes)
                .map_err(|e| format!("undecodable snapshot chunk: {e}"))?;
            let last = chunk.last;
            match self.restore.add_chunk(chunk) {
                Ok(()) => Ok(last),
                Err(RestoreError::BadChunk(reason)) => {
                    *self.refused.entry(peer).or_default() += 1;
                    Err(reason)
                }
                Err(RestoreError::State(e)) => Err(format!("fatal: {e}")),
            }
        });
        match outcome {
            Ok(last) => {
                // Peers take turns, so the load spreads and a liar is met early.
                self.turn += 1;
                self.failures = 0;
                self.chunks += 1;
                Ok(if last { Progress::Done } else { Progress::More })
            }
            Err(reason) if reason.starts_with("fatal:") => Err(reason),
            Err(reason) => {
                self.failures += 1;
                self.turn += 1;
                if self.failures >= MAX_FAILURES {
                    return Err(format!(
                        "{} chunk requests in a row failed; the last: {reason}",
                        self.failures
                    ));
                }
                Ok(Progress::Refused(reason))
            }
        }
    }

    /// Finishes after [`Progress::Done`]: the restored root must be the trusted one; `extra`
    /// joins the last atomic batch.
    pub fn finish(self, extra: impl FnOnce(&mut weft_state::WriteBatch)) -> Result<(), String> {
        self.restore.finish(extra).map_err(|e| e.to_string())
    }
}

/// Runs state sync if this member has no state and a peer offers a certified block above
/// height 1; returns the height restored (`None`: start from genesis). `events` is the committee
/// loop's network channel; what else arrives meanwhile is dropped (consensus has not started).
pub async fn run(
    node: &Node,
    net: &NetHandle,
    events: &mut UnboundedReceiver<NetEvent>,
    members: &[PeerId],
    validators: &ValidatorSet,
) -> Result<Option<u64>, String> {
    if node.head().height > 0 || members.is_empty() || !node.config().storage.state_sync {
        return Ok(None);
    }
    let chain = node.chain_id().clone();
    let mut answered = HashSet::new();
    let mut offers: Vec<(PeerId, SyncedBlock)> = Vec::new();
    let deadline = Instant::now() + OFFER_WAIT;
    let mut ask = tokio::time::interval(Duration::from_millis(500));
    while answered.len() < members.len() {
        tokio::select! {
            _ = ask.tick() => {
                for peer in members.iter().filter(|p| !answered.contains(*p)) {
                    net.request_snapshot(*peer, SnapshotRequest::Offer);
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
            event = events.recv() => match event {
                None => return Err("the network stopped".into()),
                Some(NetEvent::Snapshot { peer, response: Ok(SnapshotResponse::Offer(offer)) }) => {
                    answered.insert(peer);
                    let Some(offer) = offer else { continue };
                    match check_offer(validators, &chain, &offer) {
                        Ok(()) if offer.block.header.height > 1 => offers.push((peer, *offer)),
                        Ok(()) => {}
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "refused a snapshot offer");
                            net.report(peer, "bad_snapshot_offer");
                        }
                    }
                }
                Some(_) => {}
            },
        }
    }
    let Some(best) = offers
        .iter()
        .max_by_key(|(_, o)| o.block.header.height)
        .map(|(_, o)| o.clone())
    else {
        return Ok(None);
    };
    let version = best.block.header.height;
    let root = best.block.header.state_root;
    tracing::info!(
        height = version,
        %root,
        peers = offers.len(),
        "no state here and the committee is at height {version}: restoring the state at that height from peers"
    );
    let mut peers: Vec<PeerId> = offers.iter().map(|(p, _)| *p).collect();
    let started = std::time::Instant::now();
    // A wiped member may have signed the height in progress before it lost its disk: the guard
    // goes up before anything else, so a crash from here on cannot forget it.
    let mut guard = SigningGuard::open(&node.config().data_dir)
        .map_err(|e| format!("cannot open the signing guard: {e}"))?;
    guard
        .raise(version + 1)
        .map_err(|e| format!("cannot write the signing guard: {e}"))?;
    let certificate =
        borsh::to_vec(&best.certificate).expect("borsh encoding into a Vec cannot fail");
    let entries = loop {
        // The restore lives on a blocking thread (its tree writer is not `Send`); answers reach
        // it through a channel.
        let (answers, answered_rx) =
            std::sync::mpsc::channel::<(PeerId, Result<Vec<u8>, String>)>();
        let (restorer, handle, block, certificate, asked) = (
            node.clone(),
            net.clone(),
            best.block.clone(),
            certificate.clone(),
            peers.clone(),
        );
        let mut restoring = tokio::task::spawn_blocking(move || {
            fetch_chunks(
                &restorer,
                &block,
                &certificate,
                asked,
                &handle,
                &answered_rx,
            )
        });
        let done = loop {
            tokio::select! {
                done = &mut restoring => break done.map_err(|e| format!("state sync task: {e}"))?,
                event = events.recv() => match event {
                    None => return Err("the network stopped".into()),
                    Some(NetEvent::Snapshot { peer, response }) => {
                        let answer = match response {
                            Ok(SnapshotResponse::Chunk(chunk)) => chunk,
                            Ok(SnapshotResponse::Offer(_)) => continue,
                            Err(e) => Err(e),
                        };
                        let _ = answers.send((peer, answer));
                    }
                    Some(_) => {}
                },
            }
        };
        match done {
            Ok(entries) => break entries,
            // A peer ended the state too early: start over without it.
            Err((e, Some(liar))) if peers.len() > 1 => {
                tracing::warn!(peer = %liar, error = %e, "a peer ended the state early; restoring again from the others");
                net.report(liar, "bad_snapshot_chunk");
                peers.retain(|p| *p != liar);
            }
            Err((e, _)) => return Err(e),
        }
    };
    node.adopted_snapshot(&best.block);
    tracing::info!(
        height = version,
        entries,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "state restored from peers; following blocks from here"
    );
    Ok(Some(version))
}

/// Fetches and restores every chunk of the state at `block`'s height, asking peers in turn,
/// and writes the block and its certificate with the last batch; returns the entries restored,
/// or why not and the peer to blame.
fn fetch_chunks(
    node: &Node,
    block: &weft_types::Block,
    certificate: &[u8],
    peers: Vec<PeerId>,
    net: &NetHandle,
    answers: &std::sync::mpsc::Receiver<(PeerId, Result<Vec<u8>, String>)>,
) -> Result<u64, (String, Option<PeerId>)> {
    let header = &block.header;
    let mut fetch = ChunkFetch::new(
        node.store().clone(),
        header.height,
        header.state_root,
        peers,
    )
    .map_err(|e| (e, None))?;
    let mut last_from: Option<PeerId>;
    loop {
        let (peer, request) = fetch.request();
        net.request_snapshot(peer, request);
        let answer = loop {
            let (from, answer) = answers
                .recv()
                .map_err(|_| ("state sync stopped".to_string(), None))?;
            if from == peer {
                break answer;
            }
        };
        last_from = Some(peer);
        match fetch.answer(peer, answer).map_err(|e| (e, None))? {
            Progress::More => {
                if fetch.chunks.is_multiple_of(16) {
                    tracing::info!(
                        entries = fetch.entries(),
                        chunks = fetch.chunks,
                        "state sync: restoring"
                    );
                }
            }
            Progress::Done => break,
            Progress::Refused(reason) => {
                tracing::warn!(%peer, %reason, "refused a state chunk; asking another peer");
                if fetch.refused.contains_key(&peer) {
                    net.report(peer, "bad_snapshot_chunk");
                }
            }
        }
    }
    let entries = fetch.entries();
    fetch
        .finish(|batch| node.executor().adopt_into(batch, block, certificate))
        .map_err(|e| (e, last_from))?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::collections::BTreeMap;

    fn source() -> (tempfile::TempDir, Arc<StateStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(StateStore::open(dir.path(), weft_executor::COLUMN_FAMILIES).unwrap());
        for v in 1..=5u64 {
            let writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = (0..300u64)
                .map(|i| {
                    (
                        format!("account-{i:04}").into_bytes(),
                        Some(format!("balance {} at {v}", i * v).into_bytes()),
                    )
                })
                .collect();
            store.commit(v, &writes, |_| {}).unwrap();
        }
        (dir, store)
    }

    /// What a peer answers: the honest chunk, or one with a changed value.
    fn serve(store: &Arc<StateStore>, request: &SnapshotRequest, tamper: bool) -> Vec<u8> {
        let SnapshotRequest::Chunk { version, after, .. } = request else {
            panic!("a chunk request");
        };
        let mut chunk = store.snapshot_chunk(*version, *after, 64).unwrap();
        if tamper {
            chunk.entries[10].1 = b"balance 1000000".to_vec();
        }
        borsh::to_vec(&chunk).unwrap()
    }

    #[test]
    fn a_tampered_chunk_is_refused_and_fetched_from_another_peer() {
        let (_dir, store) = source();
        let root = store.root(4).unwrap();
        let (liar, honest) = (PeerId::random(), PeerId::random());
        let target_dir = tempfile::tempdir().unwrap();
        let target =
            Arc::new(StateStore::open(target_dir.path(), weft_executor::COLUMN_FAMILIES).unwrap());
        let mut fetch = ChunkFetch::new(target.clone(), 4, root, vec![liar, honest]).unwrap();
        let mut lies = 0;
        loop {
            let (peer, request) = fetch.request();
            let progress = fetch
                .answer(peer, Ok(serve(&store, &request, peer == liar)))
                .unwrap();
            match progress {
                Progress::Refused(reason) => {
                    assert_eq!(peer, liar, "{reason}");
                    lies += 1;
                    // The same range goes to the other peer next.
                    assert_eq!(fetch.request().0, honest);
                }
                Progress::More => {}
                Progress::Done => break,
            }
        }
        assert!(lies >= 2, "the liar was asked {lies} times");
        assert_eq!(fetch.refused[&liar], lies);
        assert!(!fetch.refused.contains_key(&honest));
        fetch.finish(|_| {}).unwrap();
        assert_eq!(target.root(4).unwrap(), root);
        for i in [0u64, 150, 299] {
            let key = format!("account-{i:04}").into_bytes();
            assert_eq!(target.get(&key).unwrap(), store.get_at(&key, 4).unwrap());
        }
    }

    #[test]
    fn peers_that_only_fail_make_it_give_up() {
        let (_dir, store) = source();
        let root = store.root(5).unwrap();
        let target_dir = tempfile::tempdir().unwrap();
        let target =
            Arc::new(StateStore::open(target_dir.path(), weft_executor::COLUMN_FAMILIES).unwrap());
        let peers = vec![PeerId::random(), PeerId::random()];
        let mut fetch = ChunkFetch::new(target, 5, root, peers).unwrap();
        let mut last = Ok(Progress::More);
        for _ in 0..MAX_FAILURES {
            let (peer, _) = fetch.request();
            last = fetch.answer(peer, Err("the state at version 5 was pruned".into()));
        }
        let err = last.unwrap_err();
        assert!(
            err.contains("in a row failed") && err.contains("pruned"),
            "{err}"
        );
    }
}
