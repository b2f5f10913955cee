//! The node's embedded Tangle and the committee's anchoring.
//!
//! [`TangleService`] wraps a [`weft_tangle::Tangle`] over RocksDB (`<data_dir>/tangle`). It ingests
//! gossiped blocks (checked off the network task, signature first, then a per-issuer rate limit for
//! issuers that are not validators), fetches missing parents from peers, issues this node's blocks,
//! answers queries, and publishes [`Notice`]s for subscriptions and waiting clients.
//!
//! [`run`] is the task around it:
//! - **Validator blocks.** Every `tangle.validator_interval_ms`, while a block with a payload awaits
//!   confirmation without this validator's approval, it issues a validation block on the
//!   selected tips. One block per validator per payload is the usual cost; nothing is issued
//!   while nothing waits.
//! - **Anchoring.** After each committed block that the genesis' `[anchoring]` rule selects, the
//!   member signs the anchor `{chain_id, state_index, height, block_hash, state_root, prev_anchor,
//!   epoch}` and gossips its signature. Whoever holds signatures of more than two thirds of the
//!   power builds the certificate. The designated member (`state_index mod n`) issues the anchor
//!   block at once; the others wait `tangle.anchor_fallback_ms` and issue it only if it has not
//!   appeared. The chain's registration is signed and issued the same way when the Tangle does
//!   not know the chain yet.
//! - **Repair.** Missing parents are requested again every second; own signatures of statements
//!   not applied yet are gossiped again; blocks unconfirmed for ten minutes are given up.
//!
//! Blocks are written without fsync: RocksDB's log survives a killed process, and a block lost
//! to a power cut is fetched again from peers.

use crate::config::TangleConfig;
use crate::genesis::{AnchoringConfig, Genesis};
use crate::metrics::Metrics;
use crate::service::{Node, now_ms};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};
use weft_api::{BoxFuture, IngestError, Notice, TangleApi};
use weft_p2p::PeerId;
use weft_p2p::{NetHandle, TANGLE_BATCH, TangleEvent, TangleResponse, Topic, Verdict};
use weft_tangle::{
    AnchorRecord, Block, BlockMeta, Essence, Event, Evidence, Inserted, PROTOCOL_VERSION, Params,
    Payload, RocksStore, Store, Tangle, Tip,
};
use weft_types::{
    Anchor, ChainId, Committee, CommitteeMember, Keypair, PublicKey, QuorumCertificate,
    Registration, Signature, Signed, Statement, StatementId, TangleBlockId,
};

/// A member's signature of a statement, as gossiped on the statements topic.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct StatementSignature {
    /// What is signed.
    pub statement: Statement,
    /// Who signed.
    pub signer: PublicKey,
    /// The signature of the statement's id.
    pub signature: Signature,
}

/// How the network should treat a gossiped block that was not taken.
fn verdict_of(error: &IngestError) -> Verdict {
    match error {
        IngestError::RateLimited(..) => Verdict::Ignore,
        IngestError::Invalid(
            weft_tangle::Error::Malformed(_) | weft_tangle::Error::TooLarge { .. },
        ) => Verdict::Reject("malformed_tangle_block"),
        IngestError::Invalid(weft_tangle::Error::Statement { .. }) => {
            Verdict::Reject("invalid_statement")
        }
        IngestError::Invalid(weft_tangle::Error::Storage(_)) => Verdict::Ignore,
        IngestError::Invalid(_) => Verdict::Reject("invalid_tangle_block"),
    }
}

/// The embedded Tangle of a committee member. Cheap to clone.
#[derive(Clone)]
pub struct TangleService(Arc<Inner>);

struct Inner {
    tangle: Mutex<Tangle<RocksStore>>,
    params: Params,
    key: Keypair,
    chain: ChainId,
    committee: Committee,
    anchoring: AnchoringConfig,
    config: TangleConfig,
    net: NetHandle,
    metrics: Metrics,
    notices: broadcast::Sender<Arc<Notice>>,
    rates: Mutex<HashMap<PublicKey, (f64, Instant)>>,
    last_issued: Mutex<Option<TangleBlockId>>,
    /// When this node committed recent heights, for the anchor latency metric.
    committed_at: Mutex<BTreeMap<u64, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a panic mid-update; the Tangle cannot go on safely.
    m.lock().expect("Tangle lock poisoned by a panic")
}

impl TangleService {
    /// Opens the Tangle in `<data_dir>/tangle` with the network and validators of `genesis`.
    pub fn open(
        node: &Node,
        key: &Keypair,
        genesis: &Genesis,
        net: NetHandle,
    ) -> Result<Self, String> {
        let committee = genesis.committee()?;
        let config = node.config().tangle.clone();
        let validators: Vec<CommitteeMember> = committee.members.clone();
        let mut params = Params::new(genesis.tangle_network(), validators);
        params.pow_difficulty = genesis.tangle.pow_difficulty;
        params.max_tip_age_ms = config.max_tip_age_ms;
        params.below_max_depth_ms = config.below_max_depth_ms;
        let path = node.config().data_dir.join("tangle");
        let store = RocksStore::open(&path, false).map_err(|e| e.to_string())?;
        let tangle = Tangle::open(params.clone(), store).map_err(|e| e.to_string())?;
        let (notices, _) = broadcast::channel(4096);
        Ok(Self(Arc::new(Inner {
            tangle: Mutex::new(tangle),
            params,
            key: Keypair::from_seed(key.seed()),
            chain: node.chain_id().clone(),
            committee,
            anchoring: genesis.anchoring.clone(),
            config,
            net,
            metrics: node.metrics().clone(),
            notices,
            rates: Mutex::new(HashMap::new()),
            last_issued: Mutex::new(None),
            committed_at: Mutex::new(BTreeMap::new()),
        })))
    }

    /// The Tangle network id.
    pub fn network(&self) -> &str {
        &self.0.params.network_id
    }

    /// This chain's committee (epoch 0).
    pub fn committee(&self) -> &Committee {
        &self.0.committee
    }

    /// Notices of new blocks, anchors and evidence.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.0.notices.subscribe()
    }

    /// A block and its metadata.
    pub fn block(&self, id: &TangleBlockId) -> Result<Option<(Block, BlockMeta)>, String> {
        let t = lock(&self.0.tangle);
        let Some(meta) = t.meta(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let block = t.store().block(id).map_err(|e| e.to_string())?;
        Ok(block.map(|b| (b, meta)))
    }

    /// The blocks approving `id` directly.
    pub fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>, String> {
        lock(&self.0.tangle)
            .store()
            .children(id)
            .map_err(|e| e.to_string())
    }

    /// The tip pool: each tip with whether it is lazy now.
    pub fn tips(&self) -> Vec<(TangleBlockId, Tip, bool)> {
        let now = now_ms();
        let t = lock(&self.0.tangle);
        t.tips()
            .into_iter()
            .map(|(id, tip)| (id, tip, t.is_lazy(&tip, now)))
            .collect()
    }

    /// The anchor of `chain` at `index`.
    pub fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>, String> {
        lock(&self.0.tangle)
            .store()
            .anchor(chain, index)
            .map_err(|e| e.to_string())
    }

    /// The latest applied anchor of `chain`.
    pub fn latest_anchor(&self, chain: &ChainId) -> Result<Option<AnchorRecord>, String> {
        let t = lock(&self.0.tangle);
        let Some(state) = t.chain(chain) else {
            return Ok(None);
        };
        if state.last_index == 0 {
            return Ok(None);
        }
        t.store()
            .anchor(chain, state.last_index)
            .map_err(|e| e.to_string())
    }

    /// Anchors of `chain` from `from`, at most `max`, in index order.
    pub fn anchors(
        &self,
        chain: &ChainId,
        from: u64,
        max: usize,
    ) -> Result<Vec<AnchorRecord>, String> {
        lock(&self.0.tangle)
            .store()
            .anchors(chain, from, max)
            .map_err(|e| e.to_string())
    }

    /// The anchor of this chain's block `height`, if that block is anchored.
    pub fn anchor_at_height(&self, height: u64) -> Result<Option<AnchorRecord>, String> {
        self.anchor_found(|store, chain| store.anchor_at_height(chain, height))
    }

    /// The first anchor of this chain at `height` or later (an anchored state includes every
    /// earlier block).
    pub fn anchor_covering(&self, height: u64) -> Result<Option<AnchorRecord>, String> {
        self.anchor_found(|store, chain| store.anchor_from_height(chain, height))
    }

    /// The anchor record whose index `find` looks up in the store.
    fn anchor_found(
        &self,
        find: impl FnOnce(&RocksStore, &ChainId) -> weft_tangle::Result<Option<u64>>,
    ) -> Result<Option<AnchorRecord>, String> {
        let t = lock(&self.0.tangle);
        let Some(index) = find(t.store(), &self.0.chain).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        t.store()
            .anchor(&self.0.chain, index)
            .map_err(|e| e.to_string())
    }

    /// The chain's registered committees and anchor head.
    pub fn chain_state(&self, chain: &ChainId) -> Option<weft_tangle::ChainState> {
        lock(&self.0.tangle).chain(chain).cloned()
    }

    /// Evidence of equivocation kept about `chain`.
    pub fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>, String> {
        lock(&self.0.tangle)
            .store()
            .evidence(chain)
            .map_err(|e| e.to_string())
    }

    /// Posts `data` under `tag` as a block issued by this node.
    pub fn submit_data(&self, tag: String, data: Vec<u8>) -> Result<TangleBlockId, IngestError> {
        self.issue(Payload::Data { tag, data })
    }

    /// Waits until the anchor covering `height` is applied (or confirmed), up to `timeout`.
    pub async fn wait_anchor(
        &self,
        height: u64,
        confirmed: bool,
        timeout: Duration,
    ) -> Result<Option<AnchorRecord>, String> {
        let mut notices = self.subscribe();
        let done = |r: &AnchorRecord| !confirmed || r.confirmed_ms.is_some();
        if let Some(record) = self.anchor_covering(height)?
            && done(&record)
        {
            return Ok(Some(record));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, notices.recv()).await {
                Err(_) => return Ok(None),
                Ok(Err(broadcast::error::RecvError::Closed)) => return Ok(None),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    if let Some(record) = self.anchor_covering(height)?
                        && done(&record)
                    {
                        return Ok(Some(record));
                    }
                }
                Ok(Ok(notice)) => {
                    if let Notice::Anchor { record, .. } = notice.as_ref() {
                        let a = &record.anchor.statement;
                        if a.chain_id == self.0.chain && a.height >= height && done(record) {
                            return Ok(Some(
                                self.anchor_covering(height)?.unwrap_or(*record.clone()),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Checks and stores a block from the network (or a client); returns whether it was new.
    pub fn ingest(&self, bytes: &[u8], from: Option<PeerId>) -> Result<bool, IngestError> {
        let block = Block::decode(bytes)?;
        let now = now_ms();
        let issuer = block.essence.issuer;
        let validator = self.is_validator(&issuer);
        // Signature and proof of work outside the lock, so ingest runs on several threads.
        let verified = block.verify(
            &self.0.params.network_id,
            now,
            self.0.params.max_drift_ms,
            (!validator).then_some(self.0.params.pow_difficulty),
        )?;
        if !validator && !self.take_token(&issuer) {
            return Err(IngestError::RateLimited(
                issuer,
                self.0.config.issuer_rate_per_s,
            ));
        }
        let (id, block) = (verified.id(), verified.block().clone());
        let inserted = lock(&self.0.tangle).insert(verified, now)?;
        let new = inserted.new;
        if new {
            self.after_insert(inserted, from, Some(block), id);
        }
        Ok(new)
    }

    fn is_validator(&self, key: &PublicKey) -> bool {
        self.0
            .params
            .validators
            .binary_search_by_key(key, |v| v.public_key)
            .is_ok()
    }

    /// A token bucket per issuer, refilled at `issuer_rate_per_s` with a burst of twice that.
    fn take_token(&self, issuer: &PublicKey) -> bool {
        let rate = f64::from(self.0.config.issuer_rate_per_s.max(1));
        let now = Instant::now();
        let mut rates = lock(&self.0.rates);
        if rates.len() > 100_000 {
            rates.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(10));
        }
        let (tokens, at) = rates.entry(*issuer).or_insert((rate * 2.0, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate * 2.0);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gossips a block that a client submitted (after [`TangleService::ingest`] took it).
    pub fn publish(&self, bytes: Vec<u8>) {
        self.0.net.publish(Topic::Tangle, bytes);
    }

    /// Issues a block with `payload` on the selected tips, stores it and gossips it.
    pub fn issue(&self, payload: Payload) -> Result<TangleBlockId, IngestError> {
        let now = now_ms();
        let me = self.0.key.public_key();
        let (block, inserted, id) = {
            let mut t = lock(&self.0.tangle);
            let parents = t.select_parents(&mut rand::thread_rng(), 8, now);
            let essence = Essence {
                version: PROTOCOL_VERSION,
                network_id: self.0.params.network_id.clone(),
                parents,
                issuer: me,
                issued_at_ms: now,
                payload,
            };
            let difficulty = t.difficulty_for(&me).unwrap_or(0);
            let block = Block::issue(essence, &self.0.key, difficulty);
            let verified = t.verify(block.clone(), now)?;
            let id = verified.id();
            let inserted = t.insert(verified, now)?;
            (block, inserted, id)
        };
        *lock(&self.0.last_issued) = Some(id);
        self.0.net.publish(Topic::Tangle, block.encode());
        self.after_insert(inserted, None, Some(block), id);
        Ok(id)
    }

    fn after_insert(
        &self,
        inserted: Inserted,
        from: Option<PeerId>,
        block: Option<Block>,
        id: TangleBlockId,
    ) {
        let m = &self.0.metrics;
        m.tangle_blocks.inc();
        for chunk in inserted.missing.chunks(TANGLE_BATCH) {
            self.0.net.request_tangle(from, chunk.to_vec());
        }
        if let Some(block) = block {
            let _ = self
                .0
                .notices
                .send(Arc::new(Notice::Block(id, Box::new(block))));
        }
        for event in inserted.events {
            match event {
                Event::Confirmed(_) => {
                    m.tangle_confirmed.inc();
                }
                Event::AnchorApplied(record) => {
                    if record.anchor.statement.chain_id == self.0.chain {
                        m.anchor_index
                            .set(record.anchor.statement.state_index as i64);
                    }
                    let confirmed = record.confirmed_ms.is_some();
                    if !confirmed {
                        let _ = self.0.notices.send(Arc::new(Notice::Anchor {
                            record,
                            confirmed: false,
                        }));
                    }
                }
                Event::AnchorConfirmed(record) => {
                    let a = &record.anchor.statement;
                    if a.chain_id == self.0.chain
                        && let Some(at) = lock(&self.0.committed_at).remove(&a.height)
                    {
                        m.anchor_confirm_seconds.observe(at.elapsed().as_secs_f64());
                    }
                    let _ = self.0.notices.send(Arc::new(Notice::Anchor {
                        record,
                        confirmed: true,
                    }));
                }
                Event::Equivocation(evidence) => {
                    m.equivocations.inc();
                    tracing::warn!(
                        chain = %evidence.chain_id,
                        kind = evidence.kind,
                        index = evidence.index,
                        first = %evidence.first.0,
                        second = %evidence.second.0,
                        "equivocation: two conflicting committee statements on the Tangle; kept as evidence"
                    );
                    let _ = self
                        .0
                        .notices
                        .send(Arc::new(Notice::Equivocation(evidence)));
                }
                Event::InvalidStatement(id, why) => {
                    tracing::warn!(block = %id, why, "a committee statement on the Tangle is void");
                }
                Event::Registered(chain) => {
                    tracing::info!(%chain, "chain registered on the Tangle")
                }
                Event::Rotated(chain, epoch) => tracing::info!(%chain, epoch, "committee rotated"),
                Event::Solid(_) => {}
            }
        }
    }
}

/// The last anchor computed, which the next one follows.
#[derive(Clone, Default)]
struct LastAnchor {
    index: u64,
    id: StatementId,
    height: u64,
    time_ms: u64,
    state_root: weft_types::Hash32,
}

/// Where the member's anchoring stands.
struct Anchoring {
    next_height: u64,
    /// The last anchor this member computed.
    last: Option<LastAnchor>,
    collected: HashMap<StatementId, Collected>,
    /// This member's signatures of statements not applied yet, by anchor index (0: registration).
    own: BTreeMap<u64, StatementSignature>,
}

struct Collected {
    statement: Statement,
    signatures: BTreeMap<usize, Signature>,
    deadline: Option<Instant>,
    issued: bool,
}

impl TangleApi for TangleService {
    fn checkpoint(&self, dir: &std::path::Path) -> Result<(), String> {
        lock(&self.0.tangle)
            .store()
            .checkpoint(dir)
            .map_err(|e| e.to_string())
    }

    fn block(&self, id: &TangleBlockId) -> Result<Option<(Block, BlockMeta)>, String> {
        TangleService::block(self, id)
    }

    fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>, String> {
        TangleService::children(self, id)
    }

    fn tips(&self) -> Vec<(TangleBlockId, Tip, bool)> {
        TangleService::tips(self)
    }

    fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>, String> {
        TangleService::anchor(self, chain, index)
    }

    fn latest_anchor(&self, chain: &ChainId) -> Result<Option<AnchorRecord>, String> {
        TangleService::latest_anchor(self, chain)
    }

    fn anchors(&self, chain: &ChainId, from: u64, max: usize) -> Result<Vec<AnchorRecord>, String> {
        TangleService::anchors(self, chain, from, max)
    }

    fn anchor_at_height(&self, height: u64) -> Result<Option<AnchorRecord>, String> {
        TangleService::anchor_at_height(self, height)
    }

    fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>, String> {
        TangleService::evidence(self, chain)
    }

    fn submit_data(&self, tag: String, data: Vec<u8>) -> Result<TangleBlockId, IngestError> {
        TangleService::submit_data(self, tag, data)
    }

    fn submit_block(&self, bytes: Vec<u8>) -> Result<TangleBlockId, IngestError> {
        let id = Block::decode(&bytes)?.id();
        self.ingest(&bytes, None)?;
        self.publish(bytes);
        Ok(id)
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        TangleService::subscribe(self)
    }

    fn wait_anchor(
        &self,
        height: u64,
        confirmed: bool,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Option<AnchorRecord>, String>> {
        Box::pin(TangleService::wait_anchor(self, height, confirmed, timeout))
    }
}

/// Runs the Tangle side of a committee member until the network's event channel closes.
pub async fn run(
    service: TangleService,
    node: Node,
    mut events: mpsc::UnboundedReceiver<TangleEvent>,
) {
    let s = &service;
    let mut anchoring = Anchoring::resume(s, &node);
    let mut commits = node.subscribe();
    let registration = Statement::Registration(Registration {
        chain_id: s.0.chain.clone(),
        committee: s.0.committee.clone(),
    });
    if s.chain_state(&s.0.chain).is_none() {
        anchoring.sign(s, registration.clone(), 0);
    }
    let mut fast = tokio::time::interval(Duration::from_millis(
        s.0.config.validator_interval_ms.max(10),
    ));
    fast.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slow = tokio::time::interval(Duration::from_secs(1));
    slow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None => return,
                Some(event) => anchoring.network(s, event),
            },
            commit = commits.recv() => {
                if let Ok(block) = &commit {
                    lock(&s.0.committed_at).insert(block.block.header.height, Instant::now());
                }
                anchoring.catch_up(s, &node);
            }
            _ = fast.tick() => {
                anchoring.deadlines(s);
                validate(s);
            }
            _ = slow.tick() => {
                ticks += 1;
                anchoring.catch_up(s, &node);
                anchoring.repair(s);
                if ticks.is_multiple_of(node.config().storage.prune_every_s) {
                    forget_confirmed(s);
                }
                if ticks.is_multiple_of(60) {
                    let pruned = lock(&s.0.tangle).prune(now_ms());
                    if let Ok(n) = pruned && n > 0 {
                        tracing::info!(blocks = n, "gave up on Tangle blocks unconfirmed for too long");
                    }
                }
            }
        }
    }
}

/// Forgets confirmed validation blocks older than `tangle.prune_after_s` (and data blocks unless
/// `tangle.keep_data`), off the async runtime: anchors and other statements stay.
fn forget_confirmed(s: &TangleService) {
    let config = &s.0.config;
    if config.prune_after_s == 0 {
        return;
    }
    let before = now_ms().saturating_sub(config.prune_after_s * 1000);
    let (service, keep_data) = (s.clone(), config.keep_data);
    tokio::task::spawn_blocking(move || {
        match lock(&service.0.tangle).prune_confirmed(before, keep_data) {
            Ok(n) => {
                service.0.metrics.pruned_tangle_blocks.inc_by(n as u64);
            }
            Err(e) => tracing::warn!(error = %e, "cannot prune the Tangle; trying again later"),
        }
    });
}

/// Issues a validation block when something awaits confirmation and there is something new to
/// approve.
fn validate(s: &TangleService) {
    if !s.is_validator(&s.0.key.public_key()) {
        return;
    }
    let parents = {
        let t = lock(&s.0.tangle);
        if !t.awaits_approval_of(&s.0.key.public_key()) {
            return;
        }
        t.select_parents(&mut rand::thread_rng(), 8, now_ms())
    };
    let last = *lock(&s.0.last_issued);
    if parents.len() == 1 && Some(parents[0]) == last {
        return;
    }
    if let Err(e) = s.issue(Payload::Validation) {
        tracing::warn!(error = %e, "cannot issue a validation block");
    }
}

impl Anchoring {
    fn resume(s: &TangleService, node: &Node) -> Self {
        let mut anchoring = Anchoring {
            next_height: 1,
            last: None,
            collected: HashMap::new(),
            own: BTreeMap::new(),
        };
        if let Ok(Some(record)) = s.latest_anchor(&s.0.chain) {
            let a = &record.anchor.statement;
            let time = node
                .block(a.height)
                .ok()
                .flatten()
                .map_or(0, |b| b.header.time_ms);
            anchoring.last = Some(LastAnchor {
                index: a.state_index,
                id: a.id(),
                height: a.height,
                time_ms: time,
                state_root: a.state_root,
            });
            anchoring.next_height = a.height + 1;
        }
        anchoring
    }

    /// Signs the anchors of every committed block not handled yet.
    fn catch_up(&mut self, s: &TangleService, node: &Node) {
        let head = node.head().height;
        // A member restored from a snapshot lacks the blocks before it, so it cannot compute the
        // anchors of those heights. It takes the chain's last link from its Tangle once that
        // holds an anchor of a block it has; until then it signs none (the others anchor).
        let oldest = node.executor().oldest_block().unwrap_or(1);
        if self.next_height < oldest {
            let Ok(Some(record)) = s.latest_anchor(&s.0.chain) else {
                return;
            };
            let a = &record.anchor.statement;
            let Ok(Some(block)) = node.block(a.height) else {
                return;
            };
            self.last = Some(LastAnchor {
                index: a.state_index,
                id: a.id(),
                height: a.height,
                time_ms: block.header.time_ms,
                state_root: a.state_root,
            });
            self.next_height = a.height + 1;
        }
        while self.next_height <= head {
            let h = self.next_height;
            let block = match node.block(h) {
                Ok(Some(b)) => b,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(height = h, error = %e, "cannot read a block to anchor it");
                    return;
                }
            };
            let header = &block.header;
            let last = self.last.clone().unwrap_or_default();
            let rule = &s.0.anchoring;
            let due = h - last.height >= rule.every_blocks
                || (rule.interval_ms > 0
                    && header.time_ms.saturating_sub(last.time_ms) >= rule.interval_ms);
            // A block that changed nothing (a heartbeat) is not worth an anchor.
            let changed = self.last.is_none() || header.state_root != last.state_root;
            if due && changed {
                let index = last.index;
                let anchor = Anchor {
                    chain_id: s.0.chain.clone(),
                    state_index: index + 1,
                    height: h,
                    block_hash: header.hash(),
                    state_root: header.state_root,
                    prev_anchor: last.id,
                    epoch: s.0.committee.epoch,
                };
                let id = anchor.id();
                self.sign(s, Statement::Anchor(anchor), index + 1);
                self.last = Some(LastAnchor {
                    index: index + 1,
                    id,
                    height: h,
                    time_ms: header.time_ms,
                    state_root: header.state_root,
                });
            }
            self.next_height += 1;
        }
    }

    fn sign(&mut self, s: &TangleService, statement: Statement, index: u64) {
        let id = statement.id();
        let Some((_, signature)) = s.0.committee.sign(&s.0.key, &id) else {
            return;
        };
        let message = StatementSignature {
            statement,
            signer: s.0.key.public_key(),
            signature,
        };
        s.0.net.publish(
            Topic::Statements,
            borsh::to_vec(&message).expect("borsh encoding into a Vec cannot fail"),
        );
        self.collect(s, message.clone());
        self.own.insert(index, message);
        // Keep the repair set bounded.
        while self.own.len() > 256 {
            self.own.pop_first();
        }
    }

    fn network(&mut self, s: &TangleService, event: TangleEvent) {
        match event {
            TangleEvent::Block { data, id, source } => {
                let service = s.clone();
                tokio::task::spawn_blocking(move || {
                    let verdict = match service.ingest(&data, Some(source)) {
                        Ok(true) => Verdict::Accept,
                        Ok(false) => Verdict::Ignore,
                        Err(e) => {
                            tracing::debug!(error = %e, "refused a Tangle block");
                            verdict_of(&e)
                        }
                    };
                    service.0.net.verdict(id, source, verdict);
                });
            }
            TangleEvent::Response { peer, response } => {
                let service = s.clone();
                tokio::task::spawn_blocking(move || {
                    for bytes in response.blocks.iter().take(TANGLE_BATCH) {
                        if let Err(e) = service.ingest(bytes, Some(peer)) {
                            tracing::debug!(%peer, error = %e, "refused a fetched Tangle block");
                        }
                    }
                });
            }
            TangleEvent::Request { request, channel } => {
                let blocks = {
                    let t = lock(&s.0.tangle);
                    request
                        .ids
                        .iter()
                        .take(TANGLE_BATCH)
                        .filter_map(|id| t.store().block_bytes(id).ok().flatten())
                        .collect()
                };
                s.0.net.respond_tangle(channel, TangleResponse { blocks });
            }
            TangleEvent::Statement { data, id, source } => {
                let verdict = match self.check_signature(s, &data) {
                    Ok(message) => {
                        self.collect(s, message);
                        Verdict::Accept
                    }
                    Err(kind) => kind,
                };
                s.0.net.verdict(id, source, verdict);
            }
        }
    }

    fn check_signature(
        &self,
        s: &TangleService,
        data: &[u8],
    ) -> Result<StatementSignature, Verdict> {
        let message: StatementSignature = borsh::from_slice(data)
            .map_err(|_| Verdict::Reject("malformed_statement_signature"))?;
        if message.statement.chain_id() != &s.0.chain {
            return Err(Verdict::Reject("statement_for_another_chain"));
        }
        if s.0.committee.index_of(&message.signer).is_none() {
            return Err(Verdict::Reject("statement_signer_not_a_member"));
        }
        let digest = weft_types::Hash32(message.statement.id().0);
        weft_types::verify_hash(&message.signer, &digest, &message.signature)
            .map_err(|_| Verdict::Reject("bad_statement_signature"))?;
        if applied(s.chain_state(&s.0.chain).as_ref(), &message.statement) {
            return Err(Verdict::Ignore);
        }
        Ok(message)
    }
}

/// Whether `statement` is already applied to the chain in `state`.
fn applied(state: Option<&weft_tangle::ChainState>, statement: &Statement) -> bool {
    match statement {
        Statement::Registration(_) => state.is_some(),
        Statement::Anchor(a) => state.is_some_and(|c| c.last_index >= a.state_index),
        Statement::Rotation(r) => state.is_some_and(|c| c.committee().epoch >= r.committee.epoch),
    }
}

impl Anchoring {
    fn collect(&mut self, s: &TangleService, message: StatementSignature) {
        let committee = &s.0.committee;
        let Some(index) = committee.index_of(&message.signer) else {
            return;
        };
        if self.collected.len() > 10_000 {
            // A flood of statements nobody completes: start over rather than grow.
            self.collected.clear();
        }
        let id = message.statement.id();
        let entry = self.collected.entry(id).or_insert_with(|| Collected {
            statement: message.statement.clone(),
            signatures: BTreeMap::new(),
            deadline: None,
            issued: false,
        });
        entry.signatures.insert(index, message.signature);
        let power: u64 = entry
            .signatures
            .keys()
            .map(|i| committee.members[*i].power)
            .sum();
        if power < committee.quorum() || entry.issued || entry.deadline.is_some() {
            return;
        }
        let designated = match &entry.statement {
            Statement::Anchor(a) => (a.state_index % committee.members.len() as u64) as usize,
            _ => 0,
        };
        if committee.members[designated].public_key == s.0.key.public_key() {
            entry.deadline = Some(Instant::now());
        } else {
            entry.deadline =
                Some(Instant::now() + Duration::from_millis(s.0.config.anchor_fallback_ms));
        }
        self.deadlines(s);
    }

    /// Issues statements whose time has come and that nobody issued yet.
    fn deadlines(&mut self, s: &TangleService) {
        let now = Instant::now();
        let due: Vec<StatementId> = self
            .collected
            .iter()
            .filter(|(_, c)| !c.issued && c.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(entry) = self.collected.get_mut(&id) else {
                continue;
            };
            entry.issued = true;
            let statement = entry.statement.clone();
            let certificate = QuorumCertificate::from_signatures(
                s.0.committee.members.len(),
                entry.signatures.iter().map(|(i, sig)| (*i, *sig)).collect(),
            );
            if applied(s.chain_state(&s.0.chain).as_ref(), &statement) {
                continue;
            }
            let payload = match statement {
                Statement::Anchor(anchor) => Payload::Anchor(Signed {
                    statement: anchor,
                    certificate,
                }),
                Statement::Registration(r) => Payload::Registration(Signed {
                    statement: r,
                    certificate,
                }),
                Statement::Rotation(r) => Payload::Rotation(Signed {
                    statement: r,
                    certificate,
                }),
            };
            let kind = payload.kind();
            match s.issue(payload) {
                Ok(block) => {
                    tracing::debug!(%block, kind, "issued a committee statement on the Tangle")
                }
                Err(e) => tracing::warn!(error = %e, kind, "cannot issue a committee statement"),
            }
        }
    }

    /// Gossip repair: own signatures of statements not applied yet go out again, missing parents
    /// are requested again, and finished statements are forgotten.
    fn repair(&mut self, s: &TangleService) {
        let state = s.chain_state(&s.0.chain);
        let done: Vec<u64> = self
            .own
            .iter()
            .filter(|(_, m)| applied(state.as_ref(), &m.statement))
            .map(|(i, _)| *i)
            .collect();
        for i in done {
            self.own.remove(&i);
        }
        for message in self.own.values().take(32) {
            s.0.net.publish(
                Topic::Statements,
                borsh::to_vec(message).expect("borsh encoding into a Vec cannot fail"),
            );
        }
        let stale: Vec<StatementId> = self
            .collected
            .iter()
            .filter(|(_, c)| applied(state.as_ref(), &c.statement))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.collected.remove(&id);
        }
        let missing = lock(&s.0.tangle).missing();
        for chunk in missing.chunks(TANGLE_BATCH) {
            s.0.net.request_tangle(None, chunk.to_vec());
        }
        s.0.metrics
            .tangle_tips
            .set(lock(&s.0.tangle).tips().len() as i64);
        let mut committed = lock(&s.0.committed_at);
        while committed.len() > 10_000 {
            committed.pop_first();
        }
    }
}
