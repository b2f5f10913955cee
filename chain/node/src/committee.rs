//! The committee member: drives [`weft_consensus::Consensus`] with the real network, clock, disk
//! and executor, in place of the single-node [`crate::producer`].
//!
//! Per height:
//! - the proposer takes transactions from its mempool ([`Node::propose`]), executes them without
//!   writing ([`Node::stage`]), gossips the block and proposes its hash;
//! - the others, once they hold both the signed proposal and the block, check the header against
//!   their own head and execute the block the same way; the block is valid only if their result
//!   hashes to the proposed id (same state root, same receipts);
//! - on a decision the staged block is written with its commit certificate
//!   ([`Node::commit_staged`]) and the next height starts.
//!
//! Crash safety: inputs consensus asks to persist and every signature given go to the
//! write-ahead log ([`weft_consensus::wal`]), which is synced before any message leaves the node. After a
//! restart the member replays the log of the height in progress.
//!
//! Catch-up: a member that sees valid messages for a later height, or that decided a block it
//! does not hold, fetches committed blocks with their certificates from a peer, checks each
//! certificate against the committee, executes the block (the result must match the certified
//! header) and commits it; then it joins consensus at the new height.

use crate::genesis::Genesis;
use crate::service::{Node, now_ms};
use arc_malachitebft_core_consensus::SignedConsensusMsg;
use arc_malachitebft_core_types::{CommitCertificate, LinearTimeouts, Round, Timeout};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use weft_consensus::{
    Action, BlockId, Consensus, Height, Message, StoredCertificate, ValidatorSet, Wal, WalEntry,
    WalRecord, WeftContext, WireMessage, verify_commit,
};
use weft_executor::StagedBlock;
use weft_p2p::{self as net, NetEvent, NetHandle, PeerId, SyncResponse, Topic, Verdict};
use weft_types::{Block, Keypair, PublicKey};

/// A proposed block's time may be at most this far ahead of a member's clock.
const MAX_CLOCK_DRIFT_MS: u64 = 10_000;
/// Most messages for later heights kept until this member gets there.
const MAX_FUTURE_MESSAGES: usize = 10_000;
/// Most blocks kept per height (a faulty proposer could gossip many).
const MAX_BLOCKS_PER_HEIGHT: usize = 32;
/// How long a block request may go unanswered before another peer is asked.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the committee member stopped.
#[derive(Debug, thiserror::Error)]
pub enum CommitteeError {
    /// Configuration or genesis problem found at start.
    #[error("{0}")]
    Setup(String),
    /// Disk failure (write-ahead log or state store): the member must stop.
    #[error("{0}")]
    Fatal(String),
}

enum Internal {
    Built {
        height: u64,
        round: Round,
        result: Result<StagedBlock, String>,
    },
    Checked {
        height: u64,
        id: BlockId,
        result: Result<StagedBlock, String>,
    },
}

struct Member {
    node: Node,
    net: NetHandle,
    key: Keypair,
    validators: ValidatorSet,
    ctx: WeftContext,
    timeouts: LinearTimeouts,
    consensus: Consensus,
    wal: Wal,
    internal: mpsc::UnboundedSender<Internal>,
    /// The height consensus runs.
    height: u64,
    started: std::time::Instant,
    timers: Vec<(Timeout, Instant)>,
    /// Signed proposals seen at this height, by round.
    proposals: HashMap<i64, weft_consensus::Proposal>,
    /// Blocks received, by height and hash (this height and the next).
    blocks: HashMap<u64, HashMap<BlockId, Block>>,
    staged: HashMap<BlockId, StagedBlock>,
    invalid: HashSet<BlockId>,
    checking: HashSet<BlockId>,
    reported: HashSet<(i64, BlockId)>,
    /// Valid messages for later heights, replayed on arrival there.
    future: Vec<(u64, Message)>,
    /// What this member sent at this height (and its block), sent again while the height stalls.
    sent: Vec<Vec<u8>>,
    /// What this member sent at the height before: a member still there needs its precommits.
    previous_sent: Vec<Vec<u8>>,
    own_block: Option<Vec<u8>>,
    last_tick_height: u64,
    /// A decision whose block this member lacks.
    missing: bool,
    sync_inflight: Option<(Option<PeerId>, Instant)>,
    /// Peers known to be at a later height.
    ahead: Option<PeerId>,
    proposed_at: Option<std::time::Instant>,
    replaying: bool,
    /// Double-signing refusals already counted in the metrics.
    refusals_counted: u64,
}

/// Runs this node as a member of the committee in `genesis` until `shutdown` resolves.
pub async fn run(
    node: Node,
    key: Keypair,
    genesis: Genesis,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CommitteeError> {
    let setup = CommitteeError::Setup;
    if genesis.chain_id != node.chain_id().0 {
        return Err(setup(format!(
            "the genesis file is for chain `{}` but the node's config says `{}`",
            genesis.chain_id,
            node.chain_id()
        )));
    }
    let validators = genesis.validator_set().map_err(setup)?;
    let me = key.public_key();
    if genesis.member(&me).is_none() {
        return Err(setup(format!(
            "this node's key {} is not a member of the committee in the genesis file",
            hex::encode(me.0)
        )));
    }
    let config = node.config().clone();
    let listen = config
        .p2p
        .listen
        .parse()
        .map_err(|e| setup(format!("p2p.listen: {e}")))?;
    let mut peers = Vec::new();
    for v in &genesis.validators {
        let public = crate::genesis::parse_key(&v.public_key).map_err(setup)?;
        if public == me {
            continue;
        }
        let id = net::peer_id(&public).map_err(setup)?;
        let addr: net::Multiaddr = v
            .address
            .parse()
            .map_err(|e| setup(format!("validator `{}` address: {e}", v.name)))?;
        peers.push(net::with_peer_id(addr, id));
    }
    for p in &config.p2p.peers {
        peers.push(
            p.parse()
                .map_err(|e| setup(format!("p2p.peers `{p}`: {e}")))?,
        );
    }
    node.set_committee(genesis.info().map_err(setup)?);
    let started = net::start(
        net::NetConfig {
            chain: node.chain_id().0.clone(),
            tangle: genesis.tangle_network(),
            seed: key.seed(),
            listen,
            peers,
            max_message_bytes: config.p2p.max_message_bytes,
        },
        std::sync::Arc::new(node.clone()),
        node.metrics().net(),
    )
    .map_err(setup)?;
    node.set_gossip(started.gossip);
    let (net, mut events, tangle_events) = (started.handle, started.events, started.tangle_events);
    let tangle = crate::tangle::TangleService::open(&node, &key, &genesis, net.clone())
        .map_err(|e| setup(format!("cannot open the Tangle: {e}")))?;
    node.set_tangle(std::sync::Arc::new(tangle.clone()));
    tokio::spawn(crate::tangle::run(tangle, node.clone(), tangle_events));
    let (wal, recovered) = Wal::open(&config.data_dir.join("consensus.wal"))
        .map_err(|e| setup(format!("cannot open the consensus write-ahead log: {e}")))?;
    if recovered.discarded_bytes > 0 {
        tracing::warn!(
            bytes = recovered.discarded_bytes,
            "cut a torn record off the end of the consensus write-ahead log"
        );
    }
    let c = &config.consensus;
    let timeouts = LinearTimeouts {
        propose: Duration::from_millis(c.propose_timeout_ms),
        propose_delta: Duration::from_millis(c.delta_ms),
        prevote: Duration::from_millis(c.prevote_timeout_ms),
        prevote_delta: Duration::from_millis(c.delta_ms),
        precommit: Duration::from_millis(c.precommit_timeout_ms),
        precommit_delta: Duration::from_millis(c.delta_ms),
        rebroadcast: Duration::from_millis(c.regossip_ms),
        max_timeout: Duration::from_secs(60),
    };
    let ctx = WeftContext {
        chain_id: node.chain_id().clone(),
    };
    let height = node.head().height + 1;
    let (internal, mut internal_rx) = mpsc::unbounded_channel();
    let mut member = Member {
        consensus: Consensus::new(
            ctx.clone(),
            Keypair::from_seed(key.seed()),
            validators.clone(),
            Height(height),
        )
        .with_timeouts(timeouts),
        node: node.clone(),
        net: net.clone(),
        key,
        validators,
        ctx,
        timeouts,
        wal,
        internal,
        height,
        started: std::time::Instant::now(),
        timers: Vec::new(),
        proposals: HashMap::new(),
        blocks: HashMap::new(),
        staged: HashMap::new(),
        invalid: HashSet::new(),
        checking: HashSet::new(),
        reported: HashSet::new(),
        future: Vec::new(),
        sent: Vec::new(),
        previous_sent: Vec::new(),
        own_block: None,
        last_tick_height: 0,
        missing: false,
        sync_inflight: None,
        ahead: None,
        proposed_at: None,
        replaying: false,
        refusals_counted: 0,
    };
    if recovered.height == Some(height) {
        tracing::info!(
            height,
            entries = recovered.entries.len(),
            signed = recovered.signed.len(),
            "resuming the height in progress from the write-ahead log"
        );
        member.consensus.restore_signed(recovered.signed.clone());
        let actions = member
            .consensus
            .start_height(Height(height), member.validators.clone(), true)
            .map_err(|e| CommitteeError::Fatal(e.to_string()))?;
        member.apply(actions).await?;
        // Keep what was logged: the log is appended to, not restarted.
        member.replaying = true;
        let mut inputs = Vec::new();
        for entry in &recovered.entries {
            match entry.to_input() {
                Ok(input) => {
                    // Proposals seen before the crash, so their blocks can be checked again.
                    if let arc_malachitebft_core_consensus::Input::Proposal(p) = &input {
                        member
                            .proposals
                            .insert(p.message.round.as_i64(), p.message.clone());
                    }
                    inputs.push(input);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable log entry"),
            }
        }
        let actions = member.consensus.replay(inputs).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "replaying the write-ahead log");
            Vec::new()
        });
        member.apply(actions).await?;
        member.replaying = false;
    } else {
        member.enter(height, false).await?;
    }
    tracing::info!(
        height,
        members = member.validators.validators().len(),
        peer_id = %net.peer_id,
        "committee member started"
    );

    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_millis(c.regossip_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next_timer = member.timers.iter().map(|(_, at)| *at).min();
        let sleep = async {
            match next_timer {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => {
                member.wal.sync().map_err(|e| CommitteeError::Fatal(format!("write-ahead log: {e}")))?;
                net.shutdown();
                return Ok(());
            }
            Some(event) = events.recv() => member.network(event).await?,
            Some(done) = internal_rx.recv() => member.internal(done).await?,
            () = sleep => member.fire_timers().await?,
            _ = tick.tick() => member.tick(),
        }
    }
}

impl Member {
    fn fatal(what: &str, e: impl std::fmt::Display) -> CommitteeError {
        CommitteeError::Fatal(format!("{what}: {e}"))
    }

    /// Starts `height` from scratch: an empty log, fresh per-height state.
    async fn enter(&mut self, height: u64, fresh: bool) -> Result<(), CommitteeError> {
        self.wal
            .start_height(height)
            .map_err(|e| Self::fatal("write-ahead log", e))?;
        if fresh {
            self.consensus = Consensus::new(
                self.ctx.clone(),
                Keypair::from_seed(self.key.seed()),
                self.validators.clone(),
                Height(height),
            )
            .with_timeouts(self.timeouts);
            self.refusals_counted = 0;
        }
        self.height = height;
        self.started = std::time::Instant::now();
        self.timers.clear();
        self.proposals.clear();
        self.blocks.retain(|h, _| *h >= height);
        self.staged.clear();
        self.invalid.clear();
        self.checking.clear();
        self.reported.clear();
        self.previous_sent = std::mem::take(&mut self.sent);
        self.own_block = None;
        self.missing = false;
        self.ahead = None;
        self.proposed_at = None;
        self.node.metrics().round.set(0);
        let actions = self
            .consensus
            .start_height(Height(height), self.validators.clone(), false)
            .map_err(|e| Self::fatal("starting a height", e))?;
        Box::pin(self.apply(actions)).await?;
        // Messages that arrived early.
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|(h, _)| *h == height);
        self.future = later.into_iter().filter(|(h, _)| *h > height).collect();
        for (_, message) in now {
            self.deliver(message).await?;
        }
        self.check_blocks().await
    }

    /// Carries out consensus actions in order.
    async fn apply(&mut self, actions: Vec<Action>) -> Result<(), CommitteeError> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Persist(input) => {
                    if !self.replaying
                        && let Some(entry) = WalEntry::from_input(&input)
                    {
                        self.wal.append(&WalRecord::Entry(entry));
                    }
                }
                Action::PersistSigned(record) => self.wal.append(&WalRecord::Signed(record)),
                Action::Send(message) => {
                    // Nothing leaves the node before what it signed is on disk.
                    self.wal
                        .sync()
                        .map_err(|e| Self::fatal("write-ahead log", e))?;
                    let bytes = borsh::to_vec(&WireMessage::from_message(&message))
                        .expect("borsh encoding into a Vec cannot fail");
                    self.sent.push(bytes.clone());
                    self.net.publish(Topic::Consensus, bytes);
                }
                Action::ScheduleTimeout(t, d) => {
                    self.timers.retain(|(s, _)| *s != t);
                    self.timers.push((t, Instant::now() + d));
                }
                Action::CancelTimeout(t) => self.timers.retain(|(s, _)| *s != t),
                Action::CancelAllTimeouts => self.timers.clear(),
                Action::Propose { height, round } => self.build(height.0, round),
                Action::Decided(certificate) => self.decided(certificate).await?,
                Action::Finalized(height) => {
                    if self.node.head().height >= height.0 {
                        self.count_refusals();
                        // The next height's actions come from `enter`.
                        return Box::pin(self.enter(height.0 + 1, false)).await;
                    }
                    // Decided without the block: catch-up will fetch it and restart consensus.
                    self.missing = true;
                    self.request_sync(None);
                }
            }
            if let Some(round) = self.consensus.round().as_u32() {
                self.node.metrics().round.set(i64::from(round));
            }
        }
        self.count_refusals();
        Ok(())
    }

    /// Adds the double-signing guard's new refusals to the metrics.
    fn count_refusals(&mut self) {
        let refusals = self.consensus.refusals();
        if refusals > self.refusals_counted {
            self.node
                .metrics()
                .double_sign_refusals
                .inc_by(refusals - self.refusals_counted);
            self.refusals_counted = refusals;
        }
    }

    fn build(&mut self, height: u64, round: Round) {
        let node = self.node.clone();
        let internal = self.internal.clone();
        let proposer = self.key.public_key();
        let empty_after = Duration::from_millis(node.config().consensus.empty_block_interval_ms);
        let fill = Duration::from_millis(node.config().block.interval_ms);
        tokio::spawn(async move {
            // Propose as soon as transactions are ready (after `fill` for more to arrive), or an
            // empty block after `empty_after`. Pending transactions that wait for an earlier
            // nonce are not ready.
            let deadline = Instant::now() + empty_after;
            while Instant::now() < deadline {
                if !node.propose(1).is_empty() {
                    tokio::time::sleep(fill).await;
                    break;
                }
                let poll = fill.max(Duration::from_millis(5));
                tokio::select! {
                    () = node.wait_for_transactions() => tokio::time::sleep(poll).await,
                    () = tokio::time::sleep(poll) => {}
                }
            }
            let result = tokio::task::spawn_blocking(move || {
                let txs = node.propose(node.config().block.max_txs);
                let time_ms = now_ms().max(node.head().time_ms);
                node.stage(height, time_ms, proposer, txs)
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("block building panicked: {e}")));
            let _ = internal.send(Internal::Built {
                height,
                round,
                result,
            });
        });
    }

    async fn decided(
        &mut self,
        certificate: CommitCertificate<WeftContext>,
    ) -> Result<(), CommitteeError> {
        let stored = StoredCertificate::compact(&certificate, &self.validators);
        let Some(staged) = self.staged.remove(&certificate.value_id) else {
            tracing::warn!(
                height = self.height,
                block = %certificate.value_id,
                "decided a block this member does not hold; fetching it"
            );
            return Ok(());
        };
        self.node
            .metrics()
            .decide_seconds
            .observe(self.started.elapsed().as_secs_f64());
        let node = self.node.clone();
        let committed =
            tokio::task::spawn_blocking(move || node.commit_staged(staged, Some(&stored)))
                .await
                .map_err(|e| Self::fatal("block commit task", e))?
                .map_err(|e| Self::fatal("committing a decided block", e))?;
        tracing::debug!(
            height = self.height,
            round = certificate.round.as_i64(),
            txs = committed.block.txs.len(),
            hash = %committed.hash,
            "committed block"
        );
        Ok(())
    }

    async fn internal(&mut self, done: Internal) -> Result<(), CommitteeError> {
        match done {
            Internal::Built {
                height,
                round,
                result,
            } => {
                if height != self.height || round != self.consensus.round() {
                    return Ok(());
                }
                let staged = match result {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(height, error = %e, "cannot build a block to propose");
                        return Ok(());
                    }
                };
                let id = BlockId(staged.executed.hash);
                let bytes = borsh::to_vec(&staged.executed.block)
                    .expect("borsh encoding into a Vec cannot fail");
                self.net.publish(Topic::Blocks, bytes.clone());
                self.own_block = Some(bytes);
                self.staged.insert(id, staged);
                self.node.metrics().proposals.inc();
                self.node
                    .metrics()
                    .proposal_seconds
                    .observe(self.started.elapsed().as_secs_f64());
                let actions = self
                    .consensus
                    .propose(Height(height), round, id)
                    .map_err(|e| Self::fatal("proposing", e))?;
                self.apply(actions).await
            }
            Internal::Checked { height, id, result } => {
                if height != self.height {
                    return Ok(());
                }
                self.checking.remove(&id);
                match result {
                    Ok(staged) => {
                        if self.proposed_at.is_none() {
                            self.proposed_at = Some(std::time::Instant::now());
                            self.node
                                .metrics()
                                .proposal_seconds
                                .observe(self.started.elapsed().as_secs_f64());
                        }
                        self.staged.insert(id, staged);
                    }
                    Err(e) => {
                        tracing::warn!(height, block = %id, error = %e, "proposed block is invalid");
                        self.invalid.insert(id);
                    }
                }
                self.check_blocks().await
            }
        }
    }

    /// Reports to consensus every proposal whose block is checked, and starts checking blocks
    /// that have a proposal.
    async fn check_blocks(&mut self) -> Result<(), CommitteeError> {
        let mut proposals: Vec<_> = self.proposals.values().cloned().collect();
        proposals.sort_by_key(|p| p.round.as_i64());
        for p in proposals {
            let id = p.value;
            let key = (p.round.as_i64(), id);
            if self.reported.contains(&key) {
                continue;
            }
            let valid = if self.staged.contains_key(&id) {
                true
            } else if self.invalid.contains(&id) {
                false
            } else {
                if !self.checking.contains(&id)
                    && let Some(block) = self.blocks.get(&self.height).and_then(|b| b.get(&id))
                {
                    self.checking.insert(id);
                    self.spawn_check(block.clone(), p.proposer, id);
                }
                continue;
            };
            self.reported.insert(key);
            let actions = self
                .consensus
                .block_checked(p.height, p.round, p.pol_round, p.proposer, id, valid)
                .map_err(|e| Self::fatal("reporting a block", e))?;
            Box::pin(self.apply(actions)).await?;
            if self.height != p.height.0 {
                break;
            }
        }
        Ok(())
    }

    fn spawn_check(&self, block: Block, proposer: weft_consensus::ValidatorAddress, id: BlockId) {
        let node = self.node.clone();
        let internal = self.internal.clone();
        let height = self.height;
        tokio::task::spawn_blocking(move || {
            let result = check_block(&node, block, PublicKey(proposer.0), height, id);
            let _ = internal.send(Internal::Checked { height, id, result });
        });
    }

    async fn fire_timers(&mut self) -> Result<(), CommitteeError> {
        let now = Instant::now();
        let due: Vec<Timeout> = self
            .timers
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(t, _)| *t)
            .collect();
        self.timers.retain(|(_, at)| *at > now);
        for t in due {
            let actions = self
                .consensus
                .timeout(t)
                .map_err(|e| Self::fatal("timeout", e))?;
            self.apply(actions).await?;
        }
        Ok(())
    }

    /// Gossip repair: while a height stalls, send this member's messages (and block) again.
    fn tick(&mut self) {
        if self.last_tick_height == self.height {
            for bytes in self.previous_sent.iter().chain(&self.sent) {
                self.net.publish(Topic::Consensus, bytes.clone());
            }
            if let Some(block) = &self.own_block {
                self.net.publish(Topic::Blocks, block.clone());
            }
            if self.missing || self.ahead.is_some() {
                self.request_sync(self.ahead);
            }
        }
        self.last_tick_height = self.height;
    }

    async fn network(&mut self, event: NetEvent) -> Result<(), CommitteeError> {
        match event {
            NetEvent::Consensus { data, id, source } => {
                let (verdict, message) = self.validate(&data);
                self.net.verdict(id, source, verdict);
                let Some((height, message)) = message else {
                    return Ok(());
                };
                if height > self.height {
                    if self.future.len() < MAX_FUTURE_MESSAGES {
                        self.future.push((height, message));
                    }
                    self.ahead = Some(source);
                    // One height ahead is normal while this member finishes its commit; the tick
                    // fetches blocks if the height stalls. Further ahead, fetch now.
                    if height > self.height + 1 {
                        self.request_sync(Some(source));
                    }
                } else if height == self.height {
                    self.deliver(message).await?;
                    self.check_blocks().await?;
                }
                Ok(())
            }
            NetEvent::Block { data, id, source } => {
                let verdict = self.receive_block(&data);
                self.net.verdict(id, source, verdict);
                self.check_blocks().await
            }
            NetEvent::Synced { peer, response } => {
                self.sync_inflight = None;
                match response {
                    Ok(response) => self.apply_sync(peer, response).await,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "block request failed");
                        Ok(())
                    }
                }
            }
        }
    }

    /// Decodes and checks a consensus message: well formed, from a member, properly signed.
    fn validate(&self, data: &[u8]) -> (Verdict, Option<(u64, Message)>) {
        let Ok(wire) = WireMessage::decode(data) else {
            return (Verdict::Reject("malformed_consensus"), None);
        };
        let Ok(message) = wire.to_message() else {
            return (Verdict::Reject("malformed_consensus"), None);
        };
        use arc_malachitebft_core_types::ValidatorSet as _;
        let Some(validator) = self.validators.get_by_address(&wire.sender()) else {
            return (Verdict::Reject("non_member"), None);
        };
        let hash = match &message {
            SignedConsensusMsg::Proposal(p) => p.message.sign_bytes(&self.ctx.chain_id),
            SignedConsensusMsg::Vote(v) => v.message.sign_bytes(&self.ctx.chain_id),
        };
        let signature = match &message {
            SignedConsensusMsg::Proposal(p) => p.signature,
            SignedConsensusMsg::Vote(v) => v.signature,
        };
        if weft_types::verify_hash(
            &validator.public_key,
            &hash,
            &weft_types::Signature(signature.0),
        )
        .is_err()
        {
            return (Verdict::Reject("bad_signature"), None);
        }
        if wire.height() < self.height {
            return (Verdict::Ignore, None);
        }
        (Verdict::Accept, Some((wire.height(), message)))
    }

    async fn deliver(&mut self, message: Message) -> Result<(), CommitteeError> {
        match &message {
            SignedConsensusMsg::Proposal(p) => {
                self.node.metrics().proposals.inc();
                self.proposals
                    .entry(p.message.round.as_i64())
                    .or_insert_with(|| p.message.clone());
            }
            SignedConsensusMsg::Vote(_) => {
                self.node.metrics().votes_received.inc();
            }
        }
        match self.consensus.receive(message) {
            Ok(actions) => self.apply(actions).await,
            Err(e) => {
                tracing::debug!(error = %e, "consensus refused a message");
                Ok(())
            }
        }
    }

    fn receive_block(&mut self, data: &[u8]) -> Verdict {
        let Ok(block) = borsh::from_slice::<Block>(data) else {
            return Verdict::Reject("malformed_block");
        };
        let header = &block.header;
        if header.chain_id != self.ctx.chain_id {
            return Verdict::Reject("wrong_chain");
        }
        use arc_malachitebft_core_types::ValidatorSet as _;
        if self
            .validators
            .get_by_address(&header.proposer.into())
            .is_none()
        {
            return Verdict::Reject("non_member");
        }
        if header.height < self.height || header.height > self.height + 1 {
            return Verdict::Ignore;
        }
        let at = self.blocks.entry(header.height).or_default();
        if at.len() >= MAX_BLOCKS_PER_HEIGHT {
            return Verdict::Ignore;
        }
        at.insert(BlockId(header.hash()), block);
        Verdict::Accept
    }

    fn request_sync(&mut self, peer: Option<PeerId>) {
        if let Some((_, at)) = self.sync_inflight
            && at.elapsed() < SYNC_TIMEOUT
        {
            return;
        }
        // Without a peer known to be ahead, the network asks any connected one.
        let peer = peer.or(self.ahead);
        let from = self.node.head().height + 1;
        tracing::info!(?peer, from, "fetching committed blocks from a peer");
        self.net.request_blocks(peer, from);
        self.sync_inflight = Some((peer, Instant::now()));
    }

    /// Checks and commits blocks fetched from `peer`, then joins consensus at the new height.
    async fn apply_sync(
        &mut self,
        peer: PeerId,
        response: SyncResponse,
    ) -> Result<(), CommitteeError> {
        if response.blocks.is_empty() {
            if response.head < self.height {
                self.ahead = None;
            }
            return Ok(());
        }
        let node = self.node.clone();
        let validators = self.validators.clone();
        let chain = self.ctx.chain_id.clone();
        let head = response.head;
        let (applied, error) = tokio::task::spawn_blocking(move || {
            let mut applied = 0u64;
            for synced in response.blocks {
                // Committed here meanwhile by consensus.
                if synced.block.header.height <= node.head().height {
                    continue;
                }
                if let Err(e) = commit_synced(&node, &validators, &chain, synced) {
                    return (applied, Some(e));
                }
                applied += 1;
            }
            (applied, None)
        })
        .await
        .map_err(|e| Self::fatal("sync task", e))?;
        if let Some(e) = error {
            tracing::warn!(%peer, error = %e, "a block fetched from a peer was refused");
            if e.starts_with("fatal:") {
                return Err(CommitteeError::Fatal(e));
            }
        }
        self.node.metrics().synced_blocks.inc_by(applied);
        let height = self.node.head().height;
        if applied > 0 {
            tracing::info!(%peer, applied, height, "caught up with committed blocks");
        }
        if head > height {
            self.request_sync(Some(peer));
        } else {
            self.ahead = None;
        }
        if height >= self.height {
            self.enter(height + 1, true).await?;
        }
        Ok(())
    }
}

/// Checks a proposed block against this member's head and executes it; valid only if the result
/// hashes to the proposed id.
fn check_block(
    node: &Node,
    block: Block,
    proposer: PublicKey,
    height: u64,
    id: BlockId,
) -> Result<StagedBlock, String> {
    let head = node.head();
    let h = &block.header;
    if h.height != height {
        return Err(format!("block is for height {}, not {height}", h.height));
    }
    if h.parent != head.hash {
        return Err(format!(
            "block's parent is {}, but block {} is {}",
            h.parent, head.height, head.hash
        ));
    }
    if h.proposer != proposer {
        return Err("block was built by another member than its proposer".into());
    }
    if h.time_ms < head.time_ms {
        return Err(format!(
            "block time {} is before its parent's {}",
            h.time_ms, head.time_ms
        ));
    }
    if h.time_ms > now_ms() + MAX_CLOCK_DRIFT_MS {
        return Err(format!(
            "block time {} is more than {MAX_CLOCK_DRIFT_MS} ms ahead of this member's clock",
            h.time_ms
        ));
    }
    if block.txs.len() > node.config().block.max_txs {
        return Err(format!(
            "block has {} transactions; the limit is {}",
            block.txs.len(),
            node.config().block.max_txs
        ));
    }
    let expected = block.header.clone();
    let staged = node
        .stage(height, expected.time_ms, proposer, block.txs)
        .map_err(|e| e.to_string())?;
    if BlockId(staged.executed.hash) != id {
        let got = &staged.executed.block.header;
        return Err(format!(
            "executing the block gives state root {} and receipts root {}; the block says {} and {}",
            got.state_root, got.receipts_root, expected.state_root, expected.receipts_root
        ));
    }
    Ok(staged)
}

/// Verifies a fetched block's certificate, executes it and commits it.
fn commit_synced(
    node: &Node,
    validators: &ValidatorSet,
    chain: &weft_types::ChainId,
    synced: net::SyncedBlock,
) -> Result<(), String> {
    let head = node.head();
    let header = &synced.block.header;
    let height = head.height + 1;
    if header.height != height {
        return Err(format!(
            "expected block {height}, got block {}",
            header.height
        ));
    }
    let hash = header.hash();
    let certificate = &synced.certificate;
    if certificate.height != height || certificate.block.0 != hash {
        return Err(format!(
            "the certificate is for block {} at height {}, not {hash} at {height}",
            certificate.block, certificate.height
        ));
    }
    let full = certificate.expand(validators).map_err(|e| e.to_string())?;
    verify_commit(&full, validators, Default::default(), chain)
        .map_err(|e| format!("invalid commit certificate for block {height}: {e}"))?;
    if header.parent != head.hash {
        return Err(format!(
            "block {height} does not extend this member's chain"
        ));
    }
    let staged = node
        .stage(
            height,
            header.time_ms,
            header.proposer,
            synced.block.txs.clone(),
        )
        .map_err(|e| e.to_string())?;
    if staged.executed.hash != hash {
        return Err(format!(
            "executing certified block {height} gives another result (state root {}, expected {}): this node's state differs from the committee's",
            staged.executed.block.header.state_root, synced.block.header.state_root
        ));
    }
    node.commit_staged(staged, Some(certificate))
        .map_err(|e| format!("fatal: cannot commit synced block {height}: {e}"))?;
    Ok(())
}
