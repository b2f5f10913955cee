//! `weft-p2p`: the committee's network, libp2p over TCP with noise encryption and yamux
//! multiplexing.
//!
//! - **Direct links** ([`direct`]) carry consensus traffic point to point between committee
//!   members: one stream per peer and [`Class`] (status, proposals and votes, blocks), each with a
//!   bounded queue that drops superseded messages first. The owner validates what arrives
//!   ([`NetEvent::Direct`]) and reports offenders with [`NetHandle::report`].
//! - **gossipsub** carries three topics: batches of transactions, Tangle blocks and committee
//!   statement signatures. Messages are validated before they are relayed: transaction batches
//!   here, through the owner's [`Host::admit_tx`]; the others by the owner, who answers with
//!   [`NetHandle::verdict`]. A rejected message is not relayed.
//! - **request-response** `/weft/sync/1` serves committed blocks with their commit certificates
//!   (from [`Host::committed`]) to members that fell behind; `/weft/tangle/1` fetches Tangle
//!   blocks by id; `/weft/snapshot/1` offers a certified recent block and serves the state at
//!   its height in chunks ([`Host::snapshot_chunk`]) to a member starting without history.
//! - A peer whose messages are rejected [`BAN_AFTER`] times is disconnected and refused for
//!   [`BAN_FOR`]. Nothing a peer sends can crash the node: every decode is checked.
//! - Committee members' addresses and extra peers are dialled, and re-dialled while disconnected.
//!
//! Start reading at [`start`]: it takes a [`NetConfig`], the owner as a [`Host`] and the
//! [`NetMetrics`] to update, and returns [`Started`]: the [`NetHandle`] to send with, the
//! [`NetEvent`]s for the committee loop, the [`TangleEvent`]s for the Tangle task, and the sender
//! of locally submitted transactions to gossip. This crate knows message types and peers, never
//! the node: it knows nothing of execution, the mempool, consensus rules or RPC.

pub mod direct;

use direct::read_frame;
pub use direct::{Class, DropLabels, LinkLabels, Outgoing, Reason};

use borsh::{BorshDeserialize, BorshSerialize};
use futures::{AsyncWriteExt, StreamExt};
pub use libp2p::gossipsub::MessageId;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
pub use libp2p::request_response::ResponseChannel;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
pub use libp2p::{Multiaddr, PeerId};
use libp2p::{StreamProtocol, Swarm};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use weft_consensus::StoredCertificate;
use weft_types::{Block, PublicKey, SignedTransaction, TangleBlockId};

/// Rejected messages after which a peer is disconnected.
pub const BAN_AFTER: u32 = 20;
/// How long a disconnected peer is refused.
pub const BAN_FOR: Duration = Duration::from_secs(60);
/// Most blocks in one sync response.
pub const SYNC_BATCH: u32 = 64;
/// Most transactions gossiped in one message.
const TX_BATCH: usize = 512;
/// How often peers that are not connected are dialled.
const REDIAL_EVERY: Duration = Duration::from_millis(250);
/// How long locally submitted transactions wait to be batched, at most (a full batch of
/// [`TX_BATCH`] goes at once, and so does the first transaction after a quiet spell). Every
/// member checks a batch's signatures together, and a larger batch costs less per signature and
/// less per message: at 20 ms a committee of four on two cores spent 49 µs per transaction per
/// member at 9,000 tx/s, at 100 ms 41 µs (`benches/RESULTS.md`); 200 ms saved nothing more.
const TX_FLUSH: Duration = Duration::from_millis(100);

/// What the network needs from its owner (the node): admission of gossiped transactions and the
/// committed blocks it serves to peers. Called off the network task, on blocking threads.
pub trait Host: Send + Sync + 'static {
    /// Decodes and admits one transaction gossiped by a peer.
    fn admit_tx(&self, bytes: &[u8]) -> Admission;
    /// Decodes and admits a gossiped batch of transactions, one admission each in order (an
    /// owner can check the batch's signatures together).
    fn admit_txs(&self, batch: &[Vec<u8>]) -> Vec<Admission> {
        batch.iter().map(|b| self.admit_tx(b)).collect()
    }
    /// The latest committed height.
    fn head(&self) -> u64;
    /// The committed block at `height` with its commit certificate, if there is one.
    fn committed(&self, height: u64) -> Option<SyncedBlock>;
    /// Up to `max` entries of the state at `version` after key hash `after`, as the owner
    /// encodes a chunk with its proof, or why not (say, the version was pruned).
    fn snapshot_chunk(
        &self,
        version: u64,
        after: Option<[u8; 32]>,
        max: u32,
    ) -> Result<Vec<u8>, String>;
}

/// What a member starting without history asks over `/weft/snapshot/1`.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub enum SnapshotRequest {
    /// The latest committed block with its certificate: the state at its height is on offer.
    Offer,
    /// A chunk of the state at `version`.
    Chunk {
        /// The version (a height offered before).
        version: u64,
        /// The key hash the chunk starts after (`None`: the first chunk).
        after: Option<[u8; 32]>,
        /// Most entries.
        max: u32,
    },
}

/// The answer to a [`SnapshotRequest`].
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub enum SnapshotResponse {
    /// The offered block (none before the first certified block).
    Offer(Option<Box<SyncedBlock>>),
    /// The chunk's bytes, or why there is none.
    Chunk(Result<Vec<u8>, String>),
}

/// Most entries asked for in one snapshot chunk.
pub const SNAPSHOT_CHUNK_ENTRIES: u32 = 4096;

/// What became of one gossiped transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted into the mempool.
    Admitted,
    /// Not admitted, through no fault of the sender (already known, already committed, full).
    Refused,
    /// Invalid: the sender relayed something no honest node would (the reason, as a label).
    Invalid(&'static str),
}

/// The metrics the network updates (registered by its owner). Cheap to clone.
#[derive(Clone, Default)]
pub struct NetMetrics {
    /// Connected peers.
    pub peers: Gauge,
    /// Messages rejected (undecodable, badly signed, from non-members), by kind.
    pub rejected_messages: Family<Reason, Counter>,
    /// Direct messages written to a peer's stream, by peer and class.
    pub direct_sent: Family<LinkLabels, Counter>,
    /// Direct messages waiting in a peer's queue, by peer and class.
    pub direct_queued: Family<LinkLabels, Gauge>,
    /// Direct messages dropped, by peer, class and reason.
    pub direct_dropped: Family<DropLabels, Counter>,
    /// Direct messages sent because a peer's status showed it lacked them, by peer and class.
    pub repaired: Family<LinkLabels, Counter>,
}

/// Where and as whom the network runs.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The chain id (it names the chain's gossip topics).
    pub chain: String,
    /// The Tangle network id (it names the Tangle's topic).
    pub tangle: String,
    /// The ed25519 seed of this node's identity.
    pub seed: [u8; 32],
    /// The address to listen on.
    pub listen: Multiaddr,
    /// Peers to dial and keep dialling.
    pub peers: Vec<Multiaddr>,
    /// The other committee members, by name: the peers of the direct links.
    pub members: Vec<(String, PeerId)>,
    /// The largest gossip message accepted or sent.
    pub max_message_bytes: usize,
}

/// The gossip topics. Consensus traffic does not use gossip: it goes over [`direct`] links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Batches of transactions.
    Txs,
    /// Tangle blocks of the embedded Tangle network.
    Tangle,
    /// Committee members' signatures of statements (anchors, registration) for the Tangle.
    Statements,
}

impl Topic {
    const ALL: [Topic; 3] = [Topic::Txs, Topic::Tangle, Topic::Statements];

    fn name(self, chain: &str, tangle: &str) -> IdentTopic {
        IdentTopic::new(match self {
            Topic::Txs => format!("/weft/{chain}/txs/1"),
            Topic::Tangle => format!("/weft/tangle/{tangle}/blocks/1"),
            Topic::Statements => format!("/weft/{chain}/statements/1"),
        })
    }
}

/// A request for Tangle blocks by id (missing parents).
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct TangleRequest {
    /// The blocks wanted, at most [`TANGLE_BATCH`].
    pub ids: Vec<TangleBlockId>,
}

/// The Tangle blocks the server has, encoded.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct TangleResponse {
    /// Encoded blocks, in no particular order.
    pub blocks: Vec<Vec<u8>>,
}

/// Most blocks asked for in one Tangle request.
pub const TANGLE_BATCH: usize = 64;

/// What the network decided about a gossiped message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: relay it.
    Accept,
    /// Harmless but useless (old, duplicate): do not relay, do not blame.
    Ignore,
    /// Invalid: do not relay, count against the peer.
    Reject(&'static str),
}

/// A request for committed blocks.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct SyncRequest {
    /// The first height wanted.
    pub from: u64,
    /// Most blocks wanted.
    pub max: u32,
}

/// A committed block with its certificate.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct SyncedBlock {
    /// The block.
    pub block: Block,
    /// Its commit certificate.
    pub certificate: StoredCertificate,
}

/// The answer: the server's head and the blocks it has from `from` on.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct SyncResponse {
    /// The server's latest committed height.
    pub head: u64,
    /// Consecutive blocks from the requested height.
    pub blocks: Vec<SyncedBlock>,
}

/// Commands to the network task.
#[derive(Debug)]
enum Command {
    Publish(Topic, Vec<u8>),
    Verdict(MessageId, PeerId, Verdict),
    Request(Option<PeerId>, SyncRequest),
    Respond(ResponseChannel<SyncResponse>, SyncResponse),
    RequestTangle(Option<PeerId>, TangleRequest),
    RespondTangle(ResponseChannel<TangleResponse>, TangleResponse),
    RequestSnapshot(PeerId, SnapshotRequest),
    RespondSnapshot(ResponseChannel<SnapshotResponse>, SnapshotResponse),
    Blame(PeerId, &'static str),
    Shutdown,
}

/// What the network hands the Tangle task.
#[derive(Debug)]
pub enum TangleEvent {
    /// A gossiped Tangle block to validate.
    Block {
        /// Its bytes.
        data: Vec<u8>,
        /// Its id.
        id: MessageId,
        /// The peer it came from.
        source: PeerId,
    },
    /// A gossiped statement signature to validate.
    Statement {
        /// Its bytes.
        data: Vec<u8>,
        /// Its id.
        id: MessageId,
        /// The peer it came from.
        source: PeerId,
    },
    /// A peer asks for Tangle blocks; answer with [`NetHandle::respond_tangle`].
    Request {
        /// What it wants.
        request: TangleRequest,
        /// Where the answer goes.
        channel: ResponseChannel<TangleResponse>,
    },
    /// Blocks a peer sent in answer to [`NetHandle::request_tangle`].
    Response {
        /// Who answered.
        peer: PeerId,
        /// The blocks.
        response: TangleResponse,
    },
}

/// What the network hands the committee loop.
#[derive(Debug)]
pub enum NetEvent {
    /// A message a committee member sent over a direct link (validate it; report an invalid one
    /// with [`NetHandle::report`]).
    Direct {
        /// Its class.
        class: Class,
        /// The member it came from.
        peer: PeerId,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// The last connection to a peer closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// The answer to [`NetHandle::request_snapshot`].
    Snapshot {
        /// Who answered.
        peer: PeerId,
        /// The answer, or why there is none.
        response: Result<SnapshotResponse, String>,
    },
    /// The answer to [`NetHandle::request_blocks`].
    Synced {
        /// Who answered.
        peer: PeerId,
        /// The blocks, or why there are none.
        response: Result<SyncResponse, String>,
    },
}

/// Talks to the network task. Cheap to clone.
#[derive(Clone)]
pub struct NetHandle {
    commands: mpsc::UnboundedSender<Command>,
    links: Arc<direct::Links>,
    /// This node's peer id.
    pub peer_id: PeerId,
}

impl NetHandle {
    /// Queues a message for one committee member, or for all of them when `to` is `None`.
    pub fn send(&self, to: Option<PeerId>, message: Outgoing) {
        self.links.send(to, message);
    }

    /// The committee name of `peer`, if it is a member.
    pub fn member_name(&self, peer: &PeerId) -> Option<&str> {
        self.links.name(peer)
    }

    /// Counts an invalid direct message against `peer` (a metric; past [`BAN_AFTER`] the peer is
    /// disconnected for [`BAN_FOR`]).
    pub fn report(&self, peer: PeerId, reason: &'static str) {
        let _ = self.commands.send(Command::Blame(peer, reason));
    }

    /// Gossips `data` on `topic`.
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        let _ = self.commands.send(Command::Publish(topic, data));
    }

    /// Reports whether a gossiped message is valid.
    pub fn verdict(&self, id: MessageId, source: PeerId, verdict: Verdict) {
        let _ = self.commands.send(Command::Verdict(id, source, verdict));
    }

    /// Stops the network task (connections close).
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    /// Asks `peer` (any connected peer when `None`) for Tangle blocks.
    pub fn request_tangle(&self, peer: Option<PeerId>, ids: Vec<TangleBlockId>) {
        let _ = self
            .commands
            .send(Command::RequestTangle(peer, TangleRequest { ids }));
    }

    /// Answers a peer's [`TangleEvent::Request`].
    pub fn respond_tangle(
        &self,
        channel: ResponseChannel<TangleResponse>,
        response: TangleResponse,
    ) {
        let _ = self
            .commands
            .send(Command::RespondTangle(channel, response));
    }

    /// Asks `peer` for a snapshot offer or chunk; the answer arrives as [`NetEvent::Snapshot`].
    pub fn request_snapshot(&self, peer: PeerId, request: SnapshotRequest) {
        let _ = self.commands.send(Command::RequestSnapshot(peer, request));
    }

    /// Asks `peer` (any connected peer when `None`) for committed blocks from `from`.
    pub fn request_blocks(&self, peer: Option<PeerId>, from: u64) {
        let _ = self.commands.send(Command::Request(
            peer,
            SyncRequest {
                from,
                max: SYNC_BATCH,
            },
        ));
    }
}

/// `addr` with `/p2p/<peer>` appended, so a dial checks who answers.
pub fn with_peer_id(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    addr.with(libp2p::multiaddr::Protocol::P2p(peer))
}

/// The libp2p identity of a Weft ed25519 key (the same key signs votes and secures the link).
pub fn identity(seed: [u8; 32]) -> libp2p::identity::Keypair {
    let mut seed = seed;
    libp2p::identity::Keypair::ed25519_from_bytes(&mut seed)
        .expect("any 32 bytes are an ed25519 secret key")
}

/// The peer id of a committee member's key.
pub fn peer_id(key: &PublicKey) -> Result<PeerId, String> {
    let public = libp2p::identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .map_err(|e| format!("not an ed25519 public key: {e}"))?;
    Ok(PeerId::from_public_key(&libp2p::identity::PublicKey::from(
        public,
    )))
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    stream: libp2p_stream::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    tangle: request_response::Behaviour<TangleCodec>,
    snapshot: request_response::Behaviour<SnapshotCodec>,
}

/// Length-prefixed borsh for a request-response protocol.
struct BorshCodec<Req, Resp>(std::marker::PhantomData<fn() -> (Req, Resp)>);

impl<Req, Resp> Clone for BorshCodec<Req, Resp> {
    fn clone(&self) -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<Req, Resp> Default for BorshCodec<Req, Resp> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

type SyncCodec = BorshCodec<SyncRequest, SyncResponse>;
type TangleCodec = BorshCodec<TangleRequest, TangleResponse>;
type SnapshotCodec = BorshCodec<SnapshotRequest, SnapshotResponse>;

const MAX_REQUEST: usize = 4096;
const MAX_RESPONSE: usize = 256 * 1024 * 1024;

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
) -> std::io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

fn decode<T: BorshDeserialize>(bytes: &[u8]) -> std::io::Result<T> {
    borsh::from_slice(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

impl<Req, Resp> request_response::Codec for BorshCodec<Req, Resp>
where
    Req: BorshSerialize + BorshDeserialize + Send + 'static,
    Resp: BorshSerialize + BorshDeserialize + Send + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Req>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io, MAX_REQUEST).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Resp>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io, MAX_RESPONSE).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Req,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, borsh::to_vec(&request)?).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Resp,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, borsh::to_vec(&response)?).await
    }
}

/// What [`start`] returns.
pub struct Started {
    /// Sends through the network.
    pub handle: NetHandle,
    /// Events for the committee loop.
    pub events: mpsc::UnboundedReceiver<NetEvent>,
    /// Events for the Tangle task.
    pub tangle_events: mpsc::UnboundedReceiver<TangleEvent>,
    /// Transactions submitted to this node, to be gossiped to the committee in batches.
    pub gossip: mpsc::UnboundedSender<SignedTransaction>,
}

/// Starts the network: listens, dials `config.peers`, and runs until [`NetHandle::shutdown`] or
/// until every handle is gone. Gossiped transactions are admitted through `host`.
pub fn start(
    config: NetConfig,
    host: Arc<dyn Host>,
    metrics: NetMetrics,
) -> Result<Started, String> {
    let NetConfig {
        chain,
        tangle,
        seed,
        listen,
        peers,
        members,
        max_message_bytes: max_message,
    } = config;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity(seed))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| format!("cannot set up TCP with noise and yamux: {e}"))?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Permissive)
                .validate_messages()
                .max_transmit_size(max_message)
                .heartbeat_interval(Duration::from_millis(500))
                .build()
                .map_err(|e| e.to_string())?;
            let gossipsub = gossipsub::Behaviour::new(
                // Everything gossiped signs itself (transactions, Tangle blocks, statements), and
                // noise authenticates the peer that relays it; a gossipsub signature per message
                // would only cost a second ed25519 check per batch.
                gossipsub::MessageAuthenticity::Author(PeerId::from(key.public())),
                config,
            )?;
            let sync = request_response::Behaviour::new(
                [(StreamProtocol::new("/weft/sync/1"), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            );
            let tangle = request_response::Behaviour::new(
                [(StreamProtocol::new("/weft/tangle/1"), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            );
            let snapshot = request_response::Behaviour::new(
                [(
                    StreamProtocol::new("/weft/snapshot/1"),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            );
            Ok(Behaviour {
                stream: libp2p_stream::Behaviour::new(),
                gossipsub,
                sync,
                tangle,
                snapshot,
            })
        })
        .map_err(|e| format!("cannot set up the network behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for topic in Topic::ALL {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic.name(&chain, &tangle))
            .map_err(|e| format!("cannot subscribe to gossip: {e}"))?;
    }
    swarm
        .listen_on(listen.clone())
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (events, event_rx) = mpsc::unbounded_channel();
    let (tangle_events, tangle_rx) = mpsc::unbounded_channel();
    let (gossip, gossip_rx) = mpsc::unbounded_channel();
    let sink = events.clone();
    let links = direct::Links::start(
        &members,
        swarm.behaviour().stream.new_control(),
        Arc::new(move |class, peer, data| {
            sink.send(NetEvent::Direct { class, peer, data }).is_ok()
        }),
        direct::LinkMetrics {
            sent: metrics.direct_sent.clone(),
            queued: metrics.direct_queued.clone(),
            dropped: metrics.direct_dropped.clone(),
            repaired: metrics.repaired.clone(),
            rejected: metrics.rejected_messages.clone(),
        },
        max_message,
    )?;
    let handle = NetHandle {
        commands,
        links,
        peer_id: *swarm.local_peer_id(),
    };
    let task = Task {
        swarm,
        host,
        metrics,
        chain,
        tangle,
        peers,
        handle: handle.clone(),
        events,
        tangle_events,
        rejections: HashMap::new(),
        banned: HashMap::new(),
        pending_txs: Vec::new(),
        flushed: None,
    };
    tokio::spawn(task.run(command_rx, gossip_rx));
    Ok(Started {
        handle,
        events: event_rx,
        tangle_events: tangle_rx,
        gossip,
    })
}

struct Task {
    swarm: Swarm<Behaviour>,
    host: Arc<dyn Host>,
    metrics: NetMetrics,
    chain: String,
    tangle: String,
    peers: Vec<Multiaddr>,
    handle: NetHandle,
    events: mpsc::UnboundedSender<NetEvent>,
    tangle_events: mpsc::UnboundedSender<TangleEvent>,
    rejections: HashMap<PeerId, u32>,
    banned: HashMap<PeerId, Instant>,
    pending_txs: Vec<Vec<u8>>,
    /// When a batch of transactions was last published.
    flushed: Option<Instant>,
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut gossip: mpsc::UnboundedReceiver<SignedTransaction>,
    ) {
        // A member cut off is dialled again within a quarter second of the way being clear.
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(TX_FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown) | None => return,
                    Some(c) => self.command(c),
                },
                Some(tx) = gossip.recv() => {
                    self.pending_txs.push(borsh::to_vec(&tx).expect("borsh encoding into a Vec cannot fail"));
                    // The first transaction after a quiet spell goes at once (a lone transaction
                    // must not wait for the batch, nor the proposer for it); under a steady load
                    // the next ones gather until the tick or a full batch.
                    let quiet = self.flushed.is_none_or(|at| at.elapsed() >= TX_FLUSH);
                    if quiet || self.pending_txs.len() >= TX_BATCH {
                        self.flush_txs();
                    }
                }
                _ = flush.tick() => self.flush_txs(),
                _ = redial.tick() => self.redial(),
                event = self.swarm.select_next_some() => self.swarm_event(event),
            }
        }
    }

    fn flush_txs(&mut self) {
        if self.pending_txs.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending_txs);
        let bytes = borsh::to_vec(&batch).expect("borsh encoding into a Vec cannot fail");
        self.publish(Topic::Txs, bytes);
        self.flushed = Some(Instant::now());
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let topic = topic.name(&self.chain, &self.tangle);
        match self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
            Ok(_) | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
            Err(e) => tracing::debug!(error = %e, "gossip publish failed"),
        }
    }

    fn redial(&mut self) {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
        self.metrics
            .peers
            .set(self.swarm.connected_peers().count() as i64);
        for addr in self.peers.clone() {
            let peer = addr.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            });
            if peer.is_some_and(|p| self.swarm.is_connected(&p) || p == self.handle.peer_id) {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "dial failed");
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(topic, data) => self.publish(topic, data),
            Command::Verdict(id, source, verdict) => self.verdict(id, source, verdict),
            Command::Request(peer, request) => {
                let peer = peer.or_else(|| {
                    let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                    (!peers.is_empty()).then(|| peers[request.from as usize % peers.len()])
                });
                match peer {
                    Some(peer) => {
                        self.swarm.behaviour_mut().sync.send_request(&peer, request);
                    }
                    None => tracing::debug!("no peer to fetch blocks from"),
                }
            }
            Command::RequestSnapshot(peer, request) => {
                self.swarm
                    .behaviour_mut()
                    .snapshot
                    .send_request(&peer, request);
            }
            Command::RespondSnapshot(channel, response) => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .snapshot
                    .send_response(channel, response);
            }
            Command::Respond(channel, response) => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            Command::RequestTangle(peer, request) => {
                let peer = peer.or_else(|| {
                    let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                    let pick = request.ids.first().map_or(0, |id| id.0[0] as usize);
                    (!peers.is_empty()).then(|| peers[pick % peers.len()])
                });
                if let Some(peer) = peer {
                    self.swarm
                        .behaviour_mut()
                        .tangle
                        .send_request(&peer, request);
                }
            }
            Command::RespondTangle(channel, response) => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .tangle
                    .send_response(channel, response);
            }
            Command::Blame(peer, reason) => {
                self.metrics
                    .rejected_messages
                    .get_or_create(&Reason { reason })
                    .inc();
                self.blame(peer, reason);
            }
            Command::Shutdown => {}
        }
    }

    fn verdict(&mut self, id: MessageId, source: PeerId, verdict: Verdict) {
        let acceptance = match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Ignore => MessageAcceptance::Ignore,
            Verdict::Reject(kind) => {
                self.metrics
                    .rejected_messages
                    .get_or_create(&Reason { reason: kind })
                    .inc();
                self.blame(source, kind);
                MessageAcceptance::Reject
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&id, &source, acceptance);
    }

    /// Counts a rejected message against `peer`; past [`BAN_AFTER`] it is disconnected.
    fn blame(&mut self, peer: PeerId, kind: &'static str) {
        let count = self.rejections.entry(peer).or_default();
        *count += 1;
        tracing::debug!(%peer, kind, count = *count, "rejected a message from a peer");
        if *count >= BAN_AFTER {
            tracing::warn!(%peer, kind, "peer sent {BAN_AFTER} invalid messages: disconnecting it for {}s", BAN_FOR.as_secs());
            self.rejections.remove(&peer);
            self.banned.insert(peer, Instant::now() + BAN_FOR);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, peer_id = %self.handle.peer_id, "p2p listening");
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if self.banned.contains_key(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                tracing::debug!(%peer_id, "peer connected");
                self.handle.links.connected(&peer_id);
                self.metrics
                    .peers
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::ConnectionClosed { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer disconnected");
                if !self.swarm.is_connected(&peer_id) {
                    let _ = self.events.send(NetEvent::Disconnected { peer: peer_id });
                }
                self.metrics
                    .peers
                    .set(self.swarm.connected_peers().count() as i64);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Tangle(event)) => self.tangle(event),
            SwarmEvent::Behaviour(BehaviourEvent::Snapshot(event)) => self.snapshot(event),
            _ => {}
        }
    }

    fn gossip(&mut self, source: PeerId, id: MessageId, message: gossipsub::Message) {
        let topic = message.topic;
        let is = |t: Topic| topic == t.name(&self.chain, &self.tangle).hash();
        if is(Topic::Tangle) {
            let _ = self.tangle_events.send(TangleEvent::Block {
                data: message.data,
                id,
                source,
            });
        } else if is(Topic::Statements) {
            let _ = self.tangle_events.send(TangleEvent::Statement {
                data: message.data,
                id,
                source,
            });
        } else if is(Topic::Txs) {
            // Checking signatures takes a while: off the network task.
            let host = self.host.clone();
            let handle = self.handle.clone();
            tokio::task::spawn_blocking(move || {
                let verdict = admit_batch(host.as_ref(), &message.data);
                handle.verdict(id, source, verdict);
            });
        } else {
            self.verdict(id, source, Verdict::Reject("unknown_topic"));
        }
    }

    fn snapshot(&mut self, event: request_response::Event<SnapshotRequest, SnapshotResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let host = self.host.clone();
                    let commands = self.handle.commands.clone();
                    tokio::task::spawn_blocking(move || {
                        let response = match request {
                            SnapshotRequest::Offer => {
                                SnapshotResponse::Offer(host.committed(host.head()).map(Box::new))
                            }
                            SnapshotRequest::Chunk {
                                version,
                                after,
                                max,
                            } => SnapshotResponse::Chunk(host.snapshot_chunk(
                                version,
                                after,
                                max.min(SNAPSHOT_CHUNK_ENTRIES),
                            )),
                        };
                        let _ = commands.send(Command::RespondSnapshot(channel, response));
                    });
                }
                request_response::Message::Response { response, .. } => {
                    let _ = self.events.send(NetEvent::Snapshot {
                        peer,
                        response: Ok(response),
                    });
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                let _ = self.events.send(NetEvent::Snapshot {
                    peer,
                    response: Err(error.to_string()),
                });
            }
            _ => {}
        }
    }

    fn sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let host = self.host.clone();
                    let commands = self.handle.commands.clone();
                    tokio::task::spawn_blocking(move || {
                        let response = serve_blocks(host.as_ref(), &request);
                        let _ = commands.send(Command::Respond(channel, response));
                    });
                }
                request_response::Message::Response { response, .. } => {
                    let _ = self.events.send(NetEvent::Synced {
                        peer,
                        response: Ok(response),
                    });
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                let _ = self.events.send(NetEvent::Synced {
                    peer,
                    response: Err(error.to_string()),
                });
            }
            _ => {}
        }
    }
}

impl Task {
    fn tangle(&mut self, event: request_response::Event<TangleRequest, TangleResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let _ = self
                        .tangle_events
                        .send(TangleEvent::Request { request, channel });
                }
                request_response::Message::Response { response, .. } => {
                    let _ = self
                        .tangle_events
                        .send(TangleEvent::Response { peer, response });
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "Tangle block request failed");
            }
            _ => {}
        }
    }
}

/// Admits a gossiped batch of transactions. Undecodable bytes and bad signatures are the
/// sender's fault; transactions already known or already committed are not.
fn admit_batch(host: &dyn Host, data: &[u8]) -> Verdict {
    let Ok(batch) = borsh::from_slice::<Vec<Vec<u8>>>(data) else {
        return Verdict::Reject("malformed_tx_batch");
    };
    let mut admitted = 0usize;
    for admission in host.admit_txs(&batch) {
        match admission {
            Admission::Admitted => admitted += 1,
            Admission::Refused => {}
            Admission::Invalid(kind) => return Verdict::Reject(kind),
        }
    }
    if admitted > 0 {
        Verdict::Accept
    } else {
        Verdict::Ignore
    }
}

/// Committed blocks with their certificates from `request.from`.
fn serve_blocks(host: &dyn Host, request: &SyncRequest) -> SyncResponse {
    let head = host.head();
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let last = request
        .from
        .saturating_add(u64::from(request.max.min(SYNC_BATCH)))
        .min(head.saturating_add(1));
    for height in request.from.max(1)..last {
        let Some(synced) = host.committed(height) else {
            break;
        };
        bytes += synced.block.txs.len() * 256;
        blocks.push(synced);
        if bytes > MAX_RESPONSE / 4 {
            break;
        }
    }
    SyncResponse { head, blocks }
}
