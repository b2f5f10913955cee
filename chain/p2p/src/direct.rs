//! Direct links between committee members: consensus traffic point to point.
//!
//! Each member keeps, to every other member, one libp2p stream per [`Class`] on the one
//! connection between them (yamux multiplexes the streams, so a vote is never queued behind a
//! block being written). Every stream has its own bounded queue:
//!
//! - [`Class::Status`] holds one message: a newer status replaces an unsent one.
//! - [`Class::Consensus`] (proposals, votes, commit certificates) drops what is superseded first:
//!   messages two heights old, then the oldest height and round when the queue is full. Messages
//!   of the newest height and round are kept up to four times the capacity (only then is the
//!   oldest dropped, counted as `overflow`).
//! - [`Class::Blocks`] (proposed blocks) keeps the newest few.
//!
//! A link that fails, or makes no progress for 5 s, loses what it was writing and is reopened; the
//! member's state-driven repair (status messages) sends again what the peer still lacks. Inbound streams are accepted only from
//! committee members. Every drop, queue length and send is a metric, labelled by peer and class.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Why a message was rejected, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// A short snake_case reason.
    pub reason: &'static str,
}

/// Where received frames go: class, sender, bytes; false once nobody listens.
pub type Sink = Arc<dyn Fn(Class, PeerId, Vec<u8>) -> bool + Send + Sync>;

/// The series the links update (shared with the network's metrics). Cheap to clone.
#[derive(Clone, Default)]
pub struct LinkMetrics {
    /// Messages written, by peer and class.
    pub sent: Family<LinkLabels, Counter>,
    /// Messages waiting, by peer and class.
    pub queued: Family<LinkLabels, Gauge>,
    /// Messages dropped, by peer, class and reason.
    pub dropped: Family<DropLabels, Counter>,
    /// Messages re-sent in repair, by peer and class.
    pub repaired: Family<LinkLabels, Counter>,
    /// Refused streams and frames, by reason.
    pub rejected: Family<Reason, Counter>,
}

/// Reads one length-prefixed frame of at most `max` bytes (4-byte little-endian length).
pub(crate) async fn read_frame<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

/// The kinds of direct traffic, each on its own stream with its own queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A member's height, round and the votes it holds (small, frequent; only the newest counts).
    Status,
    /// Signed proposals and votes, and commit certificates.
    Consensus,
    /// Proposed blocks.
    Blocks,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 3] = [Class::Status, Class::Consensus, Class::Blocks];

    fn protocol(self) -> StreamProtocol {
        StreamProtocol::new(match self {
            Class::Status => "/weft/direct/status/1",
            Class::Consensus => "/weft/direct/consensus/1",
            Class::Blocks => "/weft/direct/blocks/1",
        })
    }

    /// The class as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Class::Status => "status",
            Class::Consensus => "consensus",
            Class::Blocks => "blocks",
        }
    }

    fn capacity(self) -> usize {
        match self {
            Class::Status => 1,
            Class::Consensus => 1024,
            Class::Blocks => 4,
        }
    }

    fn index(self) -> usize {
        match self {
            Class::Status => 0,
            Class::Consensus => 1,
            Class::Blocks => 2,
        }
    }

    /// The largest frame accepted on this class's streams.
    fn max_frame(self, max_block: usize) -> usize {
        match self {
            Class::Status => 4 * 1024,
            Class::Consensus => 1024 * 1024,
            Class::Blocks => max_block,
        }
    }
}

/// Labels of a direct-link metric: the peer (its committee name) and the class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkLabels {
    /// The peer's name in the committee.
    pub peer: String,
    /// The message class.
    pub class: &'static str,
}

/// Labels of a dropped-message metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// The peer's name in the committee.
    pub peer: String,
    /// The message class.
    pub class: &'static str,
    /// `superseded` (an older height or round, or an older status), `overflow` (the queue was
    /// full of current messages) or `link_down` (lost with a failed stream).
    pub reason: &'static str,
}

/// One message for a peer.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its class.
    pub class: Class,
    /// The height it belongs to (what makes it superseded).
    pub height: u64,
    /// The round it belongs to (-1 when none).
    pub round: i64,
    /// The encoded message.
    pub bytes: Arc<Vec<u8>>,
    /// Sent because the peer's status showed it lacked it (counted as a repair).
    pub repair: bool,
}

impl Outgoing {
    /// A message of `class` for `height` and `round` (-1: none).
    pub fn new(class: Class, height: u64, round: i64, bytes: Arc<Vec<u8>>) -> Self {
        Self {
            class,
            height,
            round,
            bytes,
            repair: false,
        }
    }

    /// The same message, sent again to a peer that lacks it (counted as a repair).
    pub fn repair(mut self) -> Self {
        self.repair = true;
        self
    }

    fn at(&self) -> (u64, i64) {
        (self.height, self.round)
    }
}

struct Queue {
    items: Mutex<VecDeque<Outgoing>>,
    notify: Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Outgoing>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `out`, dropping what it supersedes; returns how many were dropped as superseded and
    /// as overflow.
    fn push(&self, out: Outgoing) -> (u64, u64) {
        let class = out.class;
        let cap = class.capacity();
        let (mut superseded, mut overflow) = (0u64, 0u64);
        let mut q = self.lock();
        match class {
            Class::Status => {
                superseded += q.len() as u64;
                q.clear();
            }
            Class::Consensus => {
                let before = q.len();
                q.retain(|o| o.height + 1 >= out.height);
                superseded += (before - q.len()) as u64;
                if q.len() >= cap {
                    let oldest = q
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, o)| o.at())
                        .map(|(i, o)| (i, o.at()));
                    match oldest {
                        Some((i, at)) if at < out.at() => {
                            q.remove(i);
                            superseded += 1;
                        }
                        _ if q.len() >= 4 * cap => {
                            q.pop_front();
                            overflow += 1;
                        }
                        _ => {}
                    }
                }
            }
            Class::Blocks => {
                if q.len() >= cap
                    && let Some(old) = q.pop_front()
                {
                    if old.at() < out.at() {
                        superseded += 1;
                    } else {
                        overflow += 1;
                    }
                }
            }
        }
        q.push_back(out);
        drop(q);
        self.notify.notify_one();
        (superseded, overflow)
    }

    /// Waits for messages and takes them all.
    async fn take(&self) -> Vec<Outgoing> {
        loop {
            let notified = self.notify.notified();
            {
                let mut q = self.lock();
                if !q.is_empty() {
                    return q.drain(..).collect();
                }
            }
            notified.await;
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

struct Peer {
    name: String,
    queues: [Arc<Queue>; 3],
    /// Woken when a connection to the peer is established, so that writers waiting to open a
    /// stream try again at once.
    connected: Arc<Notify>,
}

/// The direct links to every other committee member.
pub(crate) struct Links {
    peers: HashMap<PeerId, Peer>,
    metrics: LinkMetrics,
}

impl Links {
    /// Starts a writer per member and class, and the acceptors of inbound streams.
    pub(crate) fn start(
        members: &[(String, PeerId)],
        control: libp2p_stream::Control,
        sink: Sink,
        metrics: LinkMetrics,
        max_block: usize,
    ) -> Result<Arc<Self>, String> {
        let mut peers = HashMap::new();
        for (name, peer) in members {
            let queues = [(); 3].map(|()| {
                Arc::new(Queue {
                    items: Mutex::new(VecDeque::new()),
                    notify: Notify::new(),
                })
            });
            let connected = Arc::new(Notify::new());
            for class in Class::ALL {
                tokio::spawn(write_loop(
                    control.clone(),
                    *peer,
                    class,
                    queues[class.index()].clone(),
                    connected.clone(),
                    LinkLabels {
                        peer: name.clone(),
                        class: class.label(),
                    },
                    metrics.clone(),
                ));
            }
            peers.insert(
                *peer,
                Peer {
                    name: name.clone(),
                    queues,
                    connected,
                },
            );
        }
        let names: Arc<HashMap<PeerId, String>> = Arc::new(
            members
                .iter()
                .map(|(name, peer)| (*peer, name.clone()))
                .collect(),
        );
        for class in Class::ALL {
            let mut control = control.clone();
            let incoming = control
                .accept(class.protocol())
                .map_err(|e| format!("cannot accept {} streams: {e}", class.label()))?;
            tokio::spawn(accept_loop(
                incoming,
                class,
                names.clone(),
                sink.clone(),
                metrics.clone(),
                class.max_frame(max_block),
            ));
        }
        Ok(Arc::new(Self { peers, metrics }))
    }

    /// A connection to `peer` was established: its writers open their streams now.
    pub(crate) fn connected(&self, peer: &PeerId) {
        if let Some(p) = self.peers.get(peer) {
            p.connected.notify_waiters();
        }
    }

    /// The committee name of `peer`, if it is a member.
    pub(crate) fn name(&self, peer: &PeerId) -> Option<&str> {
        self.peers.get(peer).map(|p| p.name.as_str())
    }

    /// Queues `out` for `peer` (every member when `None`).
    pub(crate) fn send(&self, to: Option<PeerId>, out: Outgoing) {
        match to {
            Some(peer) => {
                if let Some(p) = self.peers.get(&peer) {
                    self.push(p, out);
                }
            }
            None => {
                for p in self.peers.values() {
                    self.push(p, out.clone());
                }
            }
        }
    }

    fn push(&self, peer: &Peer, out: Outgoing) {
        let labels = LinkLabels {
            peer: peer.name.clone(),
            class: out.class.label(),
        };
        if out.repair {
            self.metrics.repaired.get_or_create(&labels).inc();
        }
        let queue = &peer.queues[out.class.index()];
        let (superseded, overflow) = queue.push(out);
        for (reason, n) in [("superseded", superseded), ("overflow", overflow)] {
            if n > 0 {
                self.metrics
                    .dropped
                    .get_or_create(&DropLabels {
                        peer: labels.peer.clone(),
                        class: labels.class,
                        reason,
                    })
                    .inc_by(n);
            }
        }
        self.metrics
            .queued
            .get_or_create(&labels)
            .set(queue.len() as i64);
    }
}

/// The longest a batch may take to write before its stream is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

async fn write_loop(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    class: Class,
    queue: Arc<Queue>,
    connected: Arc<Notify>,
    labels: LinkLabels,
    metrics: LinkMetrics,
) {
    const FIRST_RETRY: Duration = Duration::from_millis(50);
    let mut retry = FIRST_RETRY;
    loop {
        // Registered before trying, so a connection made meanwhile is not missed.
        let connection = connected.notified();
        let mut stream = match control.open_stream(peer, class.protocol()).await {
            Ok(s) => {
                retry = FIRST_RETRY;
                s
            }
            Err(e) => {
                tracing::trace!(peer = %labels.peer, class = class.label(), error = %e, "cannot open a direct stream yet");
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = connection => {}
                }
                retry = (retry * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        tracing::debug!(peer = %labels.peer, class = class.label(), "direct stream open");
        loop {
            let batch = queue.take().await;
            metrics.queued.get_or_create(&labels).set(0);
            let mut written = 0usize;
            let mut failed = None;
            // A peer that stops reading (paused, or behind a link that swallows traffic) must not
            // hold this writer forever: past the timeout the stream is dropped and reopened.
            let write = async {
                for out in &batch {
                    let len = (out.bytes.len() as u32).to_le_bytes();
                    stream.write_all(&len).await?;
                    stream.write_all(&out.bytes).await?;
                    written += 1;
                }
                stream.flush().await
            };
            match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = Some(e),
                Err(_) => {
                    failed = Some(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no progress for {} s", WRITE_TIMEOUT.as_secs()),
                    ))
                }
            }
            if tracing::enabled!(tracing::Level::TRACE) {
                for out in &batch[..written] {
                    tracing::trace!(peer = %labels.peer, class = class.label(), height = out.height, round = out.round, len = out.bytes.len(), "written");
                }
            }
            metrics.sent.get_or_create(&labels).inc_by(written as u64);
            if let Some(e) = failed {
                let lost = (batch.len() - written) as u64;
                metrics
                    .dropped
                    .get_or_create(&DropLabels {
                        peer: labels.peer.clone(),
                        class: labels.class,
                        reason: "link_down",
                    })
                    .inc_by(lost.max(1));
                tracing::debug!(peer = %labels.peer, class = class.label(), error = %e, lost, "direct stream failed; reopening");
                break;
            }
        }
    }
}

async fn accept_loop(
    mut incoming: libp2p_stream::IncomingStreams,
    class: Class,
    names: Arc<HashMap<PeerId, String>>,
    sink: Sink,
    metrics: LinkMetrics,
    max: usize,
) {
    while let Some((peer, stream)) = incoming.next().await {
        if !names.contains_key(&peer) {
            metrics
                .rejected
                .get_or_create(&Reason {
                    reason: "direct_from_non_member",
                })
                .inc();
            tracing::debug!(%peer, class = class.label(), "refused a direct stream from a non-member");
            continue;
        }
        let sink = sink.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            loop {
                match read_frame(&mut stream, max).await {
                    Ok(data) => {
                        if !sink(class, peer, data) {
                            return;
                        }
                    }
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            metrics
                                .rejected
                                .get_or_create(&Reason {
                                    reason: "oversized_frame",
                                })
                                .inc();
                            tracing::warn!(%peer, class = class.label(), error = %e, "closing a direct stream");
                        }
                        let _ = stream.close().await;
                        return;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(class: Class, height: u64, round: i64) -> Outgoing {
        Outgoing {
            class,
            height,
            round,
            bytes: Arc::new(vec![height as u8]),
            repair: false,
        }
    }

    fn queue() -> Queue {
        Queue {
            items: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
        }
    }

    #[test]
    fn a_newer_status_replaces_an_unsent_one() {
        let q = queue();
        assert_eq!(q.push(out(Class::Status, 1, 0)), (0, 0));
        assert_eq!(q.push(out(Class::Status, 2, 0)), (1, 0));
        assert_eq!(q.len(), 1);
        assert_eq!(q.lock()[0].height, 2);
    }

    #[test]
    fn consensus_drops_old_heights_then_older_rounds_never_current_votes() {
        let q = queue();
        q.push(out(Class::Consensus, 5, 0));
        q.push(out(Class::Consensus, 6, 0));
        // Height 7 makes height 5 useless; height 6 is kept (a peer may still be there).
        assert_eq!(q.push(out(Class::Consensus, 7, 0)), (1, 0));
        assert_eq!(q.len(), 2);
        let q = queue();
        for _ in 0..Class::Consensus.capacity() {
            q.push(out(Class::Consensus, 9, 0));
        }
        // Full of round 0: a round-1 vote pushes one round-0 message out.
        assert_eq!(q.push(out(Class::Consensus, 9, 1)), (1, 0));
        assert_eq!(q.len(), Class::Consensus.capacity());
        // Full, and nothing older than round 1 at height 9 but round 0: one more goes.
        assert_eq!(q.push(out(Class::Consensus, 9, 1)), (1, 0));
        // Current messages are kept past the capacity, up to four times it.
        let q = queue();
        for _ in 0..4 * Class::Consensus.capacity() {
            q.push(out(Class::Consensus, 3, 0));
        }
        assert_eq!(q.len(), 4 * Class::Consensus.capacity());
        assert_eq!(q.push(out(Class::Consensus, 3, 0)), (0, 1));
        assert_eq!(q.len(), 4 * Class::Consensus.capacity());
    }

    #[test]
    fn blocks_keep_the_newest() {
        let q = queue();
        for h in 0..4 {
            q.push(out(Class::Blocks, h, 0));
        }
        assert_eq!(q.push(out(Class::Blocks, 10, 0)), (1, 0));
        assert_eq!(q.lock().front().map(|o| o.height), Some(1));
        assert_eq!(q.len(), 4);
    }

    #[tokio::test]
    async fn take_waits_for_a_message_and_drains_the_queue() {
        let q = Arc::new(queue());
        let taker = tokio::spawn({
            let q = q.clone();
            async move { q.take().await.len() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.push(out(Class::Consensus, 1, 0));
        q.push(out(Class::Consensus, 1, 0));
        let n = tokio::time::timeout(Duration::from_secs(5), taker)
            .await
            .unwrap()
            .unwrap();
        assert!(n >= 1);
    }
}
