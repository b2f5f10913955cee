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
//! Messages go point to point over the network's direct links ([`weft_p2p::direct`]): signed
//! proposals and votes, proposed blocks, and each member's [`Status`] (height, round, the votes
//! it holds), sent when its height or round changes and every [`STATUS_EVERY`]. Repair follows
//! state, not timers: a member one height behind is sent the commit certificate it lacks (and the
//! block, if it lacks that too); a member in this round is sent the votes and proposal it lacks;
//! a member in an earlier round is sent this round's votes. A block goes again only once this
//! member has held it for [`BLOCK_REPAIR_AFTER`]: a status sent while the block was on its way
//! says the peer lacks it. Re-sending this member's own messages
//! while a height stalls remains as a backstop. A round whose proposer's connection closed, or
//! who has not been heard from for [`SILENT_AFTER`], times out after [`SILENT_PROPOSER_TIMEOUT`]
//! instead of the configured propose timeout, so a dead proposer costs one short round.
//!
//! A height that takes [`STALL_AFTER`] longer than its block interval is a stall: it is counted
//! (`weft_consensus_stalls_total`) and logged with the members whose votes were missing.
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
use crate::storage::SigningGuard;
use arc_malachitebft_core_consensus::SignedConsensusMsg;
use arc_malachitebft_core_types::{CommitCertificate, LinearTimeouts, Round, Timeout};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use weft_consensus::{
    Action, BlockId, Consensus, Frame, Height, Message, Recovered, Status, StoredCertificate,
    ValidatorAddress, ValidatorSet, Wal, WalEntry, WalRecord, WeftContext, WireMessage,
    verify_commit,
};
use weft_executor::StagedBlock;
use weft_p2p::{self as net, Class, NetEvent, NetHandle, Outgoing, PeerId, SyncResponse, Verdict};
use weft_types::{Block, Keypair, PublicKey};

/// A proposed block's time may be at most this far ahead of a member's clock.
const MAX_CLOCK_DRIFT_MS: u64 = 10_000;
/// Most messages for later heights kept until this member gets there.
const MAX_FUTURE_MESSAGES: usize = 10_000;
/// Most blocks kept per height (a faulty proposer could gossip many).
const MAX_BLOCKS_PER_HEIGHT: usize = 32;
/// How long a block request may go unanswered before another peer is asked.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a member sends its status to the others (also whenever its height or round changes).
pub const STATUS_EVERY: Duration = Duration::from_millis(200);
/// How often an idle member sends its status.
pub const IDLE_STATUS_EVERY: Duration = Duration::from_secs(2);
/// A member not heard from for this long is taken to be down.
pub const SILENT_AFTER: Duration = Duration::from_secs(1);
/// The propose timeout of a round whose proposer is down.
pub const SILENT_PROPOSER_TIMEOUT: Duration = Duration::from_millis(100);
/// Messages for rounds further than this beyond this member's are ignored (a faulty member could
/// sign votes for every round).
const MAX_ROUNDS_AHEAD: i64 = 8;
/// The least time between two sends of one repair to one peer (a status can cross a repair).
const REPAIR_EVERY: Duration = Duration::from_millis(300);
/// A proposed block is repaired to a peer only once this member has held it this long: sooner,
/// the peer's copy is most likely still on its way.
const BLOCK_REPAIR_AFTER: Duration = Duration::from_millis(300);
/// A height that takes this much longer than its block interval is a stall.
pub const STALL_AFTER: Duration = Duration::from_secs(1);

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

/// Another committee member as seen from here.
struct Peer {
    name: String,
    /// `None` for this member itself.
    peer: Option<PeerId>,
    last_heard: Option<Instant>,
    /// False from the moment its last connection closed until it is heard from again.
    connected: bool,
}

/// A message of the current height held to forward in repair: its frame's bytes.
type Held = Arc<Vec<u8>>;

/// A valid message for a later height, kept until this member gets there.
struct Early {
    height: u64,
    wire: WireMessage,
    message: Message,
    bytes: Held,
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
    /// When this member first held each block (received or built), by height and hash.
    held_since: HashMap<(u64, BlockId), Instant>,
    staged: HashMap<BlockId, StagedBlock>,
    invalid: HashSet<BlockId>,
    checking: HashSet<BlockId>,
    reported: HashSet<(i64, BlockId)>,
    /// Valid messages for later heights, replayed on arrival there.
    future: Vec<Early>,
    /// What this member sent at this height (and its block), sent again while the height stalls.
    sent: Vec<(u64, i64, Held)>,
    /// What this member sent at the height before: a member still there needs its precommits.
    previous_sent: Vec<(u64, i64, Held)>,
    own_block: Option<(u64, i64, Held, BlockId)>,
    /// This member's position in the committee.
    index: usize,
    /// Every member by committee position.
    members: Vec<Peer>,
    by_peer: HashMap<PeerId, usize>,
    /// Signed proposals (by round) and votes (by round, kind and member) held at this height.
    held_proposals: HashMap<i64, Held>,
    held_votes: HashMap<(i64, u8), BTreeMap<usize, Held>>,
    /// Repairs sent at this height: (peer, item kind, round, member) → when.
    repairs: HashMap<(usize, u8, i64, usize), Instant>,
    /// The height and round of the last status sent.
    last_status: (u64, i64),
    up_since: Instant,
    /// Votes received at this height.
    votes_this_height: u64,
    /// A verified commit certificate for this height whose block is not checked yet.
    pending_commit: Option<StoredCertificate>,
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
    /// The genesis' heartbeat: an empty block once the last one is this old (`None`: never).
    heartbeat: Option<Duration>,
    /// The height is entered but consensus has not started it: nothing waits to be committed.
    idle: bool,
    /// When the last status left.
    last_status_at: Instant,
    /// The highest height this member signed at, on disk (`signing.guard`).
    guard: SigningGuard,
    /// The write-ahead log of a later height than the state's (after a restore), resumed when
    /// this member gets there.
    pending_wal: Option<Recovered>,
    /// Not signing at this height: the guard says it may have signed it before, and the
    /// write-ahead log does not hold it. The member follows the others' certificates.
    passive: bool,
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
    let mut members: Vec<Option<Peer>> = (0..validators.validators().len()).map(|_| None).collect();
    for v in &genesis.validators {
        let public = crate::genesis::parse_key(&v.public_key).map_err(setup)?;
        let index = validators
            .validators()
            .iter()
            .position(|m| m.public_key == public)
            .ok_or_else(|| setup(format!("validator `{}` is not in the committee", v.name)))?;
        if public == me {
            members[index] = Some(Peer {
                name: v.name.clone(),
                peer: None,
                last_heard: None,
                connected: true,
            });
            continue;
        }
        let id = net::peer_id(&public).map_err(setup)?;
        members[index] = Some(Peer {
            name: v.name.clone(),
            peer: Some(id),
            last_heard: None,
            connected: true,
        });
        let address = config.p2p.dial.get(&v.name).unwrap_or(&v.address);
        let addr: net::Multiaddr = address
            .parse()
            .map_err(|e| setup(format!("validator `{}` address: {e}", v.name)))?;
        peers.push(net::with_peer_id(addr, id));
    }
    if let Some(name) = config
        .p2p
        .dial
        .keys()
        .find(|name| !genesis.validators.iter().any(|v| &v.name == *name))
    {
        return Err(setup(format!(
            "p2p.dial names `{name}`, which is not a committee member in the genesis file"
        )));
    }
    let members: Vec<Peer> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.ok_or_else(|| setup(format!("committee member {i} has no genesis entry"))))
        .collect::<Result<_, _>>()?;
    let index = validators
        .validators()
        .iter()
        .position(|m| m.public_key == me)
        .ok_or_else(|| setup("this node is not in the committee".into()))?;
    let by_peer: HashMap<PeerId, usize> = members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.peer.map(|p| (p, i)))
        .collect();
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
            members: members
                .iter()
                .filter_map(|m| m.peer.map(|p| (m.name.clone(), p)))
                .collect(),
            max_message_bytes: config.p2p.max_message_bytes,
        },
        std::sync::Arc::new(node.clone()),
        node.metrics().net(),
    )
    .map_err(setup)?;
    node.set_gossip(started.gossip);
    let (net, mut events, tangle_events) = (started.handle, started.events, started.tangle_events);
    // A member with no state joins a running committee from a snapshot, not from genesis.
    let member_peers: Vec<PeerId> = by_peer.keys().copied().collect();
    crate::statesync::run(&node, &net, &mut events, &member_peers, &validators)
        .await
        .map_err(|e| {
            setup(format!(
                "state sync failed: {e}; start again to retry, or restore a backup (docs/operations.md)"
            ))
        })?;
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
    let guard = SigningGuard::open(&config.data_dir)
        .map_err(|e| setup(format!("cannot open the signing guard: {e}")))?;
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
        held_since: HashMap::new(),
        staged: HashMap::new(),
        invalid: HashSet::new(),
        checking: HashSet::new(),
        reported: HashSet::new(),
        future: Vec::new(),
        sent: Vec::new(),
        previous_sent: Vec::new(),
        own_block: None,
        index,
        members,
        by_peer,
        held_proposals: HashMap::new(),
        held_votes: HashMap::new(),
        repairs: HashMap::new(),
        last_status: (0, -1),
        up_since: Instant::now(),
        votes_this_height: 0,
        pending_commit: None,
        last_tick_height: 0,
        missing: false,
        sync_inflight: None,
        ahead: None,
        proposed_at: None,
        replaying: false,
        refusals_counted: 0,
        heartbeat: (genesis.blocks.heartbeat_ms > 0)
            .then(|| Duration::from_millis(genesis.blocks.heartbeat_ms)),
        idle: false,
        last_status_at: Instant::now(),
        guard,
        passive: false,
        pending_wal: None,
    };
    if recovered.height == Some(height) {
        member.resume(recovered).await?;
    } else {
        if recovered.height.is_some_and(|w| w > height) {
            // Restored from a backup older than the log: keep the log's height until this
            // member gets there again, and resume it then.
            member.pending_wal = Some(recovered);
        }
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
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next_timer = member.timers.iter().map(|(_, at)| *at).min();
        let sleep = async {
            match next_timer {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // While idle: a transaction admitted here (or gossiped from elsewhere), or the heartbeat.
        let wake = {
            // A passive member waits for certificates, not for transactions or the heartbeat.
            let idle = member.idle && !member.passive;
            let (node, heartbeat) = (member.node.clone(), member.heartbeat_at());
            async move {
                if !idle {
                    return std::future::pending().await;
                }
                tokio::select! {
                    () = node.transaction_admitted() => {}
                    () = async {
                        match heartbeat {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => {}
                }
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
            () = wake => member.wake_if_due().await?,
            _ = tick.tick() => member.tick(),
            _ = status_tick.tick() => {
                member.status_tick();
                member.wake_if_due().await?;
            }
        }
        member.status_if_moved();
    }
}

impl Member {
    fn fatal(what: &str, e: impl std::fmt::Display) -> CommitteeError {
        CommitteeError::Fatal(format!("{what}: {e}"))
    }

    /// Resumes the height the write-ahead log holds: what this member signed there (so it
    /// never signs anything else) and the inputs it had, replayed.
    async fn resume(&mut self, recovered: Recovered) -> Result<(), CommitteeError> {
        let height = self.height;
        tracing::info!(
            height,
            entries = recovered.entries.len(),
            signed = recovered.signed.len(),
            "resuming the height in progress from the write-ahead log"
        );
        self.idle = false;
        self.passive = false;
        self.node.metrics().idle.set(0);
        self.started = std::time::Instant::now();
        self.consensus.restore_signed(recovered.signed.clone());
        let actions = self
            .consensus
            .start_height(Height(height), self.validators.clone(), true)
            .map_err(|e| CommitteeError::Fatal(e.to_string()))?;
        self.apply(actions).await?;
        // Keep what was logged: the log is appended to, not restarted.
        self.replaying = true;
        let mut inputs = Vec::new();
        for entry in &recovered.entries {
            match entry.to_input() {
                Ok(input) => {
                    // Proposals seen before the crash, so their blocks can be checked again.
                    if let arc_malachitebft_core_consensus::Input::Proposal(p) = &input {
                        self.proposals
                            .insert(p.message.round.as_i64(), p.message.clone());
                    }
                    inputs.push(input);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable log entry"),
            }
        }
        let actions = self.consensus.replay(inputs).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "replaying the write-ahead log");
            Vec::new()
        });
        self.apply(actions).await?;
        self.replaying = false;
        Ok(())
    }

    /// Starts `height` from scratch: an empty log, fresh per-height state.
    async fn enter(&mut self, height: u64, fresh: bool) -> Result<(), CommitteeError> {
        let logged = self.pending_wal.as_ref().and_then(|r| r.height);
        // The log of a later height (kept across a restore) stays until this member is there.
        if logged.is_none_or(|w| w < height) {
            self.pending_wal = None;
            self.wal
                .start_height(height)
                .map_err(|e| Self::fatal("write-ahead log", e))?;
        }
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
        self.held_since.retain(|(h, _), _| *h >= height);
        self.staged.clear();
        self.invalid.clear();
        self.checking.clear();
        self.reported.clear();
        self.previous_sent = std::mem::take(&mut self.sent);
        self.own_block = None;
        self.held_proposals.clear();
        self.held_votes.clear();
        self.repairs.clear();
        self.votes_this_height = 0;
        self.pending_commit = None;
        self.missing = false;
        self.ahead = None;
        self.proposed_at = None;
        self.node.metrics().round.set(0);
        if logged == Some(height)
            && let Some(recovered) = self.pending_wal.take()
        {
            // Back at the height the log holds: resume it, with what was signed there.
            return Box::pin(self.resume(recovered)).await;
        }
        let was_passive = std::mem::take(&mut self.passive);
        if was_passive && height > self.guard.up_to() {
            tracing::info!(
                height,
                "past the signing guard: signing again from height {height}"
            );
        }
        if height <= self.guard.up_to() {
            // Restored from a backup older than this member's last votes: it may have signed
            // at this height already, and its log does not say what.
            if !was_passive {
                tracing::info!(
                    height,
                    signed_up_to = self.guard.up_to(),
                    "not signing at this height: the signing guard says this member may have signed up to height {} before; following the others' certificates until then",
                    self.guard.up_to()
                );
            }
            self.idle = true;
            self.passive = true;
            self.node.metrics().idle.set(1);
            self.send_status();
            return Ok(());
        }
        // Nothing to commit and nobody else started: wait without running consensus, so an idle
        // chain makes no blocks (block 1 installs the system contracts and is always made).
        if height > 1 && !self.future.iter().any(|e| e.height == height) && !self.wake_due() {
            self.idle = true;
            self.node.metrics().idle.set(1);
            self.send_status();
            return Ok(());
        }
        self.start().await
    }

    /// Whether an idle height should start: a transaction is ready, or the heartbeat is due.
    fn wake_due(&self) -> bool {
        !self.node.propose(1).is_empty()
            || self.heartbeat_at().is_some_and(|at| at <= Instant::now())
    }

    /// When the heartbeat block is due: the last block's time plus the heartbeat.
    fn heartbeat_at(&self) -> Option<Instant> {
        let heartbeat = self.heartbeat?;
        let due_ms = self
            .node
            .head()
            .time_ms
            .saturating_add(heartbeat.as_millis() as u64);
        let wait = Duration::from_millis(due_ms.saturating_sub(now_ms()));
        Some(Instant::now() + wait)
    }

    /// Starts an idle height if it is due.
    async fn wake_if_due(&mut self) -> Result<(), CommitteeError> {
        if self.idle && !self.passive && self.wake_due() {
            self.start().await?;
        }
        Ok(())
    }

    /// Runs consensus for the entered height.
    async fn start(&mut self) -> Result<(), CommitteeError> {
        let height = self.height;
        self.idle = false;
        self.node.metrics().idle.set(0);
        self.started = std::time::Instant::now();
        let actions = self
            .consensus
            .start_height(Height(height), self.validators.clone(), false)
            .map_err(|e| Self::fatal("starting a height", e))?;
        Box::pin(self.apply(actions)).await?;
        // Messages that arrived early.
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|e| e.height == height);
        self.future = later.into_iter().filter(|e| e.height > height).collect();
        for early in now {
            self.hold(&early.wire, early.bytes);
            self.deliver(early.message).await?;
        }
        self.send_status();
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
                    let wire = WireMessage::from_message(&message);
                    self.guard
                        .raise(wire.height())
                        .map_err(|e| Self::fatal("signing guard", e))?;
                    let bytes: Held = Arc::new(Frame::Message(wire.clone()).encode());
                    let (height, round) = (wire.height(), wire.round());
                    self.hold(&wire, bytes.clone());
                    self.sent.push((height, round, bytes.clone()));
                    self.net
                        .send(None, Outgoing::new(Class::Consensus, height, round, bytes));
                }
                Action::ScheduleTimeout(t, d) => {
                    let d = if t.kind == arc_malachitebft_core_types::TimeoutKind::Propose
                        && self.proposer_silent(t.round)
                        && !self.proposals.contains_key(&t.round.as_i64())
                    {
                        d.min(SILENT_PROPOSER_TIMEOUT)
                    } else {
                        d
                    };
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
        // A heartbeat block is due: nothing to wait for.
        let empty_after = if self.heartbeat_at().is_some_and(|at| at <= Instant::now()) {
            Duration::ZERO
        } else {
            Duration::from_millis(node.config().consensus.empty_block_interval_ms)
        };
        let fill = Duration::from_millis(node.config().block.interval_ms);
        // In round 0 this proposer builds no sooner than `min_height_ms` after its parent's block
        // time (by its own clock; a policy, not a rule the others check): a light load makes
        // fewer, larger blocks, and a height that took longer than that under a heavy load waits
        // no more. A later round is late already. A clock behind the parent's costs no more than
        // `min_height_ms`.
        let min_height = if round == Round::new(0) {
            Duration::from_millis(node.config().consensus.min_height_ms)
        } else {
            Duration::ZERO
        };
        let since_parent = Duration::from_millis(now_ms().saturating_sub(node.head().time_ms));
        let earliest = Instant::now() + min_height.saturating_sub(since_parent);
        tokio::spawn(async move {
            // Propose as soon as transactions are ready (after `fill` for more to arrive, and
            // not before `earliest`), or an empty block after `empty_after`. Pending
            // transactions that wait for an earlier nonce are not ready.
            let deadline = Instant::now() + empty_after;
            while Instant::now() < deadline {
                if !node.propose(1).is_empty() {
                    tokio::time::sleep_until((Instant::now() + fill).max(earliest)).await;
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
        self.finished_height(
            certificate.round.as_i64(),
            committed.block.txs.len(),
            "decided",
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
                let bytes: Held = Arc::new(
                    borsh::to_vec(&staged.executed.block)
                        .expect("borsh encoding into a Vec cannot fail"),
                );
                self.net.send(
                    None,
                    Outgoing::new(Class::Blocks, height, round.as_i64(), bytes.clone()),
                );
                self.held_since.insert((height, id), Instant::now());
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
                // Its own block only if it proposes it: after a restart the log may already hold
                // a proposal of another block for this round, and consensus keeps that one.
                let proposes = actions.iter().any(|a| {
                    matches!(a, Action::Send(SignedConsensusMsg::Proposal(p)) if p.message.value == id)
                });
                self.own_block = proposes.then(|| (height, round.as_i64(), bytes, id));
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
                        if let Some(certificate) = self
                            .pending_commit
                            .take_if(|c| c.block == id && c.height == height)
                        {
                            let peer = self.net.peer_id;
                            return self.commit_certified(peer, certificate, staged).await;
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

    /// The backstop: while a height stalls, send this member's messages (and block) again. These
    /// go to everyone, lacking or not, and are not counted as repairs.
    fn tick(&mut self) {
        if self.last_tick_height == self.height && !self.idle {
            for (height, round, bytes) in self.previous_sent.iter().chain(&self.sent) {
                self.net.send(
                    None,
                    Outgoing::new(Class::Consensus, *height, *round, bytes.clone()),
                );
            }
            if let Some((height, round, bytes, _)) = &self.own_block {
                self.net.send(
                    None,
                    Outgoing::new(Class::Blocks, *height, *round, bytes.clone()),
                );
            }
            if self.missing || self.ahead.is_some() {
                self.request_sync(self.ahead);
            }
        }
        self.last_tick_height = self.height;
    }

    async fn network(&mut self, event: NetEvent) -> Result<(), CommitteeError> {
        match event {
            NetEvent::Direct { class, peer, data } => {
                // The links accept streams from members only.
                let Some(&from) = self.by_peer.get(&peer) else {
                    return Ok(());
                };
                self.members[from].last_heard = Some(Instant::now());
                self.members[from].connected = true;
                match class {
                    Class::Status => {
                        match Status::decode(&data, self.members.len()) {
                            Ok(status) => self.on_status(from, peer, status),
                            Err(e) => {
                                tracing::debug!(%peer, error = %e, "malformed status");
                                self.net.report(peer, "malformed_status");
                            }
                        }
                        Ok(())
                    }
                    Class::Blocks => {
                        if let Verdict::Reject(reason) = self.receive_block(&data) {
                            self.net.report(peer, reason);
                        }
                        self.check_certified_block();
                        self.check_blocks().await
                    }
                    Class::Consensus => match Frame::decode(&data) {
                        Ok(Frame::Message(wire)) => self.on_message(peer, wire, data).await,
                        Ok(Frame::Commit(certificate)) => self.on_commit(peer, certificate).await,
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "malformed consensus frame");
                            self.net.report(peer, "malformed_consensus");
                            Ok(())
                        }
                    },
                }
            }
            // Answers to state sync requests that came after it finished.
            NetEvent::Snapshot { .. } => Ok(()),
            NetEvent::Disconnected { peer } => {
                if let Some(&i) = self.by_peer.get(&peer) {
                    tracing::debug!(member = %self.members[i].name, "lost the connection to a member");
                    self.members[i].connected = false;
                    self.cut_silent_propose();
                }
                Ok(())
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

    /// A signed proposal or vote from `peer` (its sender's own, or forwarded in repair).
    async fn on_message(
        &mut self,
        peer: PeerId,
        wire: WireMessage,
        data: Vec<u8>,
    ) -> Result<(), CommitteeError> {
        if tracing::enabled!(tracing::Level::TRACE) {
            let kind = match &wire {
                WireMessage::Proposal { .. } => "proposal",
                WireMessage::Vote { kind: 1, .. } => "prevote",
                WireMessage::Vote { .. } => "precommit",
            };
            tracing::trace!(at = self.height, height = wire.height(), round = wire.round(), kind, sender = %wire.sender(), %peer, "consensus frame");
        }
        // A repair that crossed the original: already counted, nothing to check.
        if wire.height() == self.height && self.holds(&wire, &data) {
            return Ok(());
        }
        if wire.height() == self.height
            && wire.round() > self.consensus.round().as_i64() + MAX_ROUNDS_AHEAD
        {
            return Ok(());
        }
        let (verdict, message) = self.validate(&wire);
        if let Verdict::Reject(reason) = verdict {
            self.net.report(peer, reason);
        }
        let Some(message) = message else {
            return Ok(());
        };
        let height = wire.height();
        if height > self.height {
            if self.future.len() < MAX_FUTURE_MESSAGES
                && !self
                    .future
                    .iter()
                    .any(|e| e.bytes.as_slice() == data.as_slice())
            {
                self.future.push(Early {
                    height,
                    wire,
                    message,
                    bytes: Arc::new(data),
                });
            }
            self.ahead = Some(peer);
            // One height ahead is normal while this member finishes its commit (and the peer
            // sends the certificate if it is not); further ahead, fetch blocks now.
            if height > self.height + 1 {
                self.request_sync(Some(peer));
            }
        } else if height == self.height {
            if self.passive {
                return Ok(());
            }
            if self.idle {
                // Another member started this height: join it.
                self.start().await?;
            }
            self.hold(&wire, Arc::new(data));
            self.deliver(message).await?;
            self.check_blocks().await?;
        }
        Ok(())
    }

    /// Decodes and checks a consensus message: well formed, from a member, properly signed.
    fn validate(&self, wire: &WireMessage) -> (Verdict, Option<Message>) {
        let Ok(message) = wire.to_message() else {
            return (Verdict::Reject("malformed_consensus"), None);
        };
        use arc_malachitebft_core_types::ValidatorSet as _;
        let Some(validator) = self.validators.get_by_address(&wire.sender()) else {
            return (Verdict::Reject("non_member"), None);
        };
        if wire.height() < self.height {
            return (Verdict::Ignore, None);
        }
        if let WireMessage::Proposal {
            height, proposer, ..
        } = wire
        {
            use arc_malachitebft_core_types::Context as _;
            let round = match &message {
                SignedConsensusMsg::Proposal(p) => p.message.round,
                SignedConsensusMsg::Vote(v) => v.message.round,
            };
            let expected = self
                .ctx
                .select_proposer(&self.validators, Height(*height), round);
            if expected.address != *proposer {
                return (Verdict::Reject("not_the_proposer"), None);
            }
        }
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
        (Verdict::Accept, Some(message))
    }

    async fn deliver(&mut self, message: Message) -> Result<(), CommitteeError> {
        match &message {
            SignedConsensusMsg::Proposal(p) => {
                self.node.metrics().proposals.inc();
                self.proposals
                    .entry(p.message.round.as_i64())
                    .or_insert_with(|| p.message.clone());
            }
            SignedConsensusMsg::Vote(v) => {
                let metrics = self.node.metrics();
                metrics.votes_received.inc();
                metrics
                    .votes_by_round
                    .get_or_create(&crate::metrics::VoteLabels::new(
                        v.message.round.as_i64(),
                        v.message.vote_type,
                    ))
                    .inc();
                self.votes_this_height += 1;
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

    /// The committee position of `address`.
    fn index_of(&self, address: &ValidatorAddress) -> Option<usize> {
        self.validators
            .validators()
            .binary_search_by_key(address, |v| v.address)
            .ok()
    }

    /// Keeps a message of this height to forward to members that lack it.
    fn hold(&mut self, wire: &WireMessage, bytes: Held) {
        match wire {
            WireMessage::Proposal { round, .. } => {
                self.held_proposals.entry(*round).or_insert(bytes);
            }
            WireMessage::Vote {
                kind,
                round,
                validator,
                ..
            } => {
                if let Some(i) = self.index_of(validator) {
                    self.held_votes
                        .entry((*round, *kind))
                        .or_default()
                        .entry(i)
                        .or_insert(bytes);
                }
            }
        }
    }

    /// Whether this member already holds exactly this message (same bytes).
    fn holds(&self, wire: &WireMessage, bytes: &[u8]) -> bool {
        let held = match wire {
            WireMessage::Proposal { round, .. } => self.held_proposals.get(round),
            WireMessage::Vote {
                kind,
                round,
                validator,
                ..
            } => self.index_of(validator).and_then(|i| {
                self.held_votes
                    .get(&(*round, *kind))
                    .and_then(|votes| votes.get(&i))
            }),
        };
        held.is_some_and(|h| h.as_slice() == bytes)
    }

    /// Whether member `i` seems down: its connection closed, or it has not been heard from for
    /// [`SILENT_AFTER`] (never, for a while after this member started).
    fn silent(&self, i: usize) -> bool {
        if i == self.index {
            return false;
        }
        if !self.members[i].connected {
            return true;
        }
        match self.members[i].last_heard {
            Some(at) => at.elapsed() > SILENT_AFTER,
            None => self.up_since.elapsed() > 2 * SILENT_AFTER,
        }
    }

    /// Whether the proposer of `round` at this height is another member that seems down.
    fn proposer_silent(&self, round: Round) -> bool {
        use arc_malachitebft_core_types::Context as _;
        let proposer = self
            .ctx
            .select_proposer(&self.validators, Height(self.height), round);
        self.index_of(&proposer.address)
            .is_some_and(|i| self.silent(i))
    }

    /// This member's status: height, round, and what it holds of the round.
    fn status(&self) -> Status {
        let round = self.consensus.round().as_i64();
        let n = self.members.len();
        let bitmap = |kind: u8| {
            let mut bits = vec![0u8; n.div_ceil(8)];
            if let Some(votes) = self.held_votes.get(&(round, kind)) {
                for i in votes.keys() {
                    Status::set(&mut bits, *i);
                }
            }
            bits
        };
        // The proposer holds its own proposal and block (they are not in `proposals`).
        let has_proposal = self.own_proposal(round).is_some()
            || self.proposals.get(&round).is_some_and(|p| {
                self.staged.contains_key(&p.value)
                    || self
                        .blocks
                        .get(&self.height)
                        .is_some_and(|b| b.contains_key(&p.value))
            });
        Status {
            height: self.height,
            round,
            has_proposal,
            prevotes: bitmap(1),
            precommits: bitmap(2),
        }
    }

    /// The block this member proposed in `round` of its height, encoded, if it did.
    fn own_proposal(&self, round: i64) -> Option<(BlockId, &Held)> {
        self.own_block
            .as_ref()
            .filter(|(h, r, _, _)| (*h, *r) == (self.height, round))
            .map(|(_, _, bytes, id)| (*id, bytes))
    }

    fn send_status(&mut self) {
        let status = self.status();
        self.last_status = (status.height, status.round);
        self.last_status_at = Instant::now();
        self.net.send(
            None,
            Outgoing::new(
                Class::Status,
                status.height,
                status.round,
                Arc::new(status.encode()),
            ),
        );
    }

    /// Sends the status when the height or round changed since the last one.
    fn status_if_moved(&mut self) {
        if self.last_status != (self.height, self.consensus.round().as_i64()) {
            self.send_status();
        }
    }

    /// Every [`STATUS_EVERY`]: the status, and a propose timeout cut short if the round's
    /// proposer fell silent after the round started.
    fn status_tick(&mut self) {
        if self.idle && !self.passive {
            // Idle members only need to hear that nobody is behind: every few seconds is enough.
            if self.last_status_at.elapsed() >= IDLE_STATUS_EVERY {
                self.send_status();
            }
            return;
        }
        self.send_status();
        self.cut_silent_propose();
    }

    /// Cuts the propose timeout of this round short if its proposer seems down.
    fn cut_silent_propose(&mut self) {
        let round = self.consensus.round();
        // A proposal already here is being checked: its proposer's later silence changes nothing.
        if self.proposer_silent(round) && !self.proposals.contains_key(&round.as_i64()) {
            let soon = Instant::now() + SILENT_PROPOSER_TIMEOUT;
            for (t, at) in &mut self.timers {
                if t.kind == arc_malachitebft_core_types::TimeoutKind::Propose
                    && t.round == round
                    && *at > soon
                {
                    *at = soon;
                }
            }
        }
    }

    /// Sends `bytes` to member `to` as a repair, unless the same repair went out just now.
    fn repair(&mut self, to: usize, item: (u8, i64, usize), message: Outgoing) {
        let Some(peer) = self.members[to].peer else {
            return;
        };
        let now = Instant::now();
        let key = (to, item.0, item.1, item.2);
        if self
            .repairs
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < REPAIR_EVERY)
        {
            return;
        }
        self.repairs.insert(key, now);
        self.net.send(Some(peer), message);
    }

    /// A member's status: send it what it lacks.
    fn on_status(&mut self, from: usize, peer: PeerId, status: Status) {
        const COMMIT: u8 = 0;
        const PROPOSAL: u8 = 3;
        const BLOCK: u8 = 4;
        if status.height > self.height {
            self.ahead = Some(peer);
            if status.height > self.height + 1 {
                self.request_sync(Some(peer));
            }
            return;
        }
        if status.height + 1 == self.height {
            // It is one height behind: it lacks the certificate (and perhaps the block). Nothing
            // is read from disk unless a repair is due.
            let due = |key| {
                self.repairs
                    .get(&key)
                    .is_none_or(|at| at.elapsed() >= REPAIR_EVERY)
            };
            let block_due = !status.has_proposal
                && self.started.elapsed() >= BLOCK_REPAIR_AFTER
                && due((from, BLOCK, -1, 0));
            if !due((from, COMMIT, -1, 0)) && !block_due {
                return;
            }
            let height = status.height;
            // The certificate alone unless the block goes too: a block can be megabytes.
            let Ok(Some(certificate)) = self.node.certificate(height) else {
                return;
            };
            self.repair(
                from,
                (COMMIT, -1, 0),
                Outgoing::new(
                    Class::Consensus,
                    height,
                    -1,
                    Arc::new(Frame::Commit(certificate).encode()),
                )
                .repair(),
            );
            // The block only once it has had time to arrive (see `BLOCK_REPAIR_AFTER`), counted
            // from the start of this member's height, which is no sooner than its commit.
            if block_due && let Ok(Some(block)) = self.node.block(height) {
                self.repair(
                    from,
                    (BLOCK, -1, 0),
                    Outgoing::new(
                        Class::Blocks,
                        height,
                        -1,
                        Arc::new(
                            borsh::to_vec(&block).expect("borsh encoding into a Vec cannot fail"),
                        ),
                    )
                    .repair(),
                );
            }
            return;
        }
        if status.height != self.height {
            // Further behind: it fetches blocks when it sees this member's status.
            return;
        }
        let round = self.consensus.round().as_i64();
        let behind = status.round < round;
        if status.round > round {
            return;
        }
        for kind in [1u8, 2] {
            let have = if kind == 1 {
                &status.prevotes
            } else {
                &status.precommits
            };
            let lacking: Vec<(usize, Held)> = self
                .held_votes
                .get(&(round, kind))
                .map(|votes| {
                    votes
                        .iter()
                        .filter(|(i, _)| behind || !Status::has(have, **i))
                        .map(|(i, b)| (*i, b.clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (i, bytes) in lacking {
                self.repair(
                    from,
                    (kind, round, i),
                    Outgoing::new(Class::Consensus, self.height, round, bytes).repair(),
                );
            }
        }
        if (behind || !status.has_proposal)
            && let Some(bytes) = self.held_proposals.get(&round).cloned()
        {
            self.repair(
                from,
                (PROPOSAL, round, 0),
                Outgoing::new(Class::Consensus, self.height, round, bytes).repair(),
            );
            // The block only once it has had time to arrive: a peer's status sent while the
            // block was on its way says it lacks it, and a block can be megabytes.
            let proposed = self
                .own_proposal(round)
                .map(|(id, bytes)| (id, Some(bytes.clone())))
                .or_else(|| self.proposals.get(&round).map(|p| (p.value, None)));
            let block = proposed
                .filter(|(id, _)| {
                    self.held_since
                        .get(&(self.height, *id))
                        .is_some_and(|at| at.elapsed() >= BLOCK_REPAIR_AFTER)
                })
                .and_then(|(id, bytes)| {
                    bytes.or_else(|| {
                        let block = self.blocks.get(&self.height)?.get(&id)?;
                        Some(Arc::new(
                            borsh::to_vec(block).expect("borsh encoding into a Vec cannot fail"),
                        ))
                    })
                });
            if let Some(block) = block {
                self.repair(
                    from,
                    (BLOCK, round, 0),
                    Outgoing::new(Class::Blocks, self.height, round, block).repair(),
                );
            }
        }
    }

    /// A commit certificate for this height from `peer`: commit the block if it is held, else
    /// fetch it.
    async fn on_commit(
        &mut self,
        peer: PeerId,
        certificate: StoredCertificate,
    ) -> Result<(), CommitteeError> {
        if certificate.height != self.height {
            if certificate.height > self.height {
                self.ahead = Some(peer);
                self.request_sync(Some(peer));
            }
            return Ok(());
        }
        let full = match certificate.expand(&self.validators) {
            Ok(full) => full,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "malformed commit certificate");
                self.net.report(peer, "malformed_certificate");
                return Ok(());
            }
        };
        if let Err(e) = verify_commit(
            &full,
            &self.validators,
            Default::default(),
            &self.ctx.chain_id,
        ) {
            tracing::debug!(%peer, error = ?e, "invalid commit certificate");
            self.net.report(peer, "bad_certificate");
            return Ok(());
        }
        let Some(staged) = self.staged.remove(&certificate.block) else {
            // Keep the certificate for the block: it is being checked, it is here unchecked (a
            // repair sends it without a proposal), or it is still to come.
            let id = certificate.block;
            self.pending_commit = Some(certificate);
            let held = self
                .blocks
                .get(&self.height)
                .and_then(|b| b.get(&id))
                .cloned();
            match held {
                _ if self.checking.contains(&id) => {}
                Some(block) => {
                    self.checking.insert(id);
                    let proposer = block.header.proposer;
                    self.spawn_check(block, proposer.into(), id);
                }
                None => {
                    tracing::info!(%peer, height = self.height, block = %id, "certified a block this member does not hold; fetching it");
                    self.request_sync(Some(peer));
                }
            }
            return Ok(());
        };
        self.commit_certified(peer, certificate, staged).await
    }

    /// Starts checking the block of a pending certificate once it is here.
    fn check_certified_block(&mut self) {
        let Some(id) = self.pending_commit.as_ref().map(|c| c.block) else {
            return;
        };
        if self.checking.contains(&id) || self.staged.contains_key(&id) {
            return;
        }
        if let Some(block) = self
            .blocks
            .get(&self.height)
            .and_then(|b| b.get(&id))
            .cloned()
        {
            self.checking.insert(id);
            let proposer = block.header.proposer;
            self.spawn_check(block, proposer.into(), id);
        }
    }

    /// Commits `staged` on `certificate` (checked) and starts the next height.
    async fn commit_certified(
        &mut self,
        peer: PeerId,
        certificate: StoredCertificate,
        staged: StagedBlock,
    ) -> Result<(), CommitteeError> {
        self.pending_commit = None;
        let node = self.node.clone();
        let stored = certificate.clone();
        let committed =
            tokio::task::spawn_blocking(move || node.commit_staged(staged, Some(&stored)))
                .await
                .map_err(|e| Self::fatal("block commit task", e))?
                .map_err(|e| Self::fatal("committing a certified block", e))?;
        tracing::debug!(height = self.height, %peer, "committed a block on a peer's certificate");
        self.finished_height(
            i64::from(certificate.round),
            committed.block.txs.len(),
            "certificate from a peer",
        );
        self.count_refusals();
        Box::pin(self.enter(self.height + 1, true)).await
    }

    /// Accounts for a finished height: votes and rounds it took, and a stall if it was slow.
    fn finished_height(&mut self, round: i64, txs: usize, how: &'static str) {
        let took = self.started.elapsed();
        let metrics = self.node.metrics();
        metrics
            .votes_per_height
            .observe(self.votes_this_height as f64);
        metrics.rounds_per_height.observe((round.max(0) + 1) as f64);
        let config = &self.node.config();
        let interval = Duration::from_millis(if txs > 0 {
            config.block.interval_ms.max(config.consensus.min_height_ms)
        } else {
            config.consensus.empty_block_interval_ms
        });
        // A height this member never started (idle, or passive under its signing guard) and
        // finished on a certificate took no time of its own: its waiting is not a stall. Nor is
        // block 1, which waits for the members to connect and installs the system contracts.
        if self.idle || self.height <= 1 || took <= interval + STALL_AFTER {
            return;
        }
        metrics.stalls.inc();
        let precommits = self.held_votes.get(&(round, 2));
        let missing: Vec<&str> = (0..self.members.len())
            .filter(|i| *i != self.index && !precommits.is_some_and(|v| v.contains_key(i)))
            .map(|i| self.members[i].name.as_str())
            .collect();
        let silent: Vec<&str> = (0..self.members.len())
            .filter(|i| self.silent(*i))
            .map(|i| self.members[i].name.as_str())
            .collect();
        tracing::warn!(
            height = self.height,
            round,
            seconds = format!("{:.2}", took.as_secs_f64()),
            how,
            missing_precommits = ?missing,
            silent = ?silent,
            "height stalled: it took {:.1} s, {:.1} s more than its block interval",
            took.as_secs_f64(),
            took.saturating_sub(interval).as_secs_f64()
        );
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
        let (height, id) = (header.height, BlockId(header.hash()));
        let at = self.blocks.entry(height).or_default();
        if at.contains_key(&id) {
            // The same block again (a repair that crossed the original).
            return Verdict::Ignore;
        }
        if at.len() >= MAX_BLOCKS_PER_HEIGHT {
            return Verdict::Ignore;
        }
        at.insert(id, block);
        self.held_since
            .entry((height, id))
            .or_insert_with(Instant::now);
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
            self.finished_height(-1, 0, "blocks fetched from a peer");
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
    crate::statesync::check_offer(validators, chain, &synced)?;
    let certificate = &synced.certificate;
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
