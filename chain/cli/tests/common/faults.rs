//! A fault-injecting network between `weft` processes on loopback.
//!
//! Every directed link between two members (member `i` dialling member `j`) goes through its own
//! TCP proxy: member `i`'s config says to dial `j` at the proxy (`p2p.dial`), and the proxy
//! forwards to `j`'s real port. A test can then, per link:
//!
//! - **cut** it: open connections are closed (both ends see the connection drop, as behind a
//!   firewall that rejects) and new ones are refused until it is healed;
//! - **impair** it: every chunk of bytes is delayed by a latency with jitter, and a share of the
//!   chunks is held back for a retransmission timeout first, in order. This is what a lossy
//!   link looks like to the processes above TCP: TCP retransmits a lost segment after its RTO
//!   (at least 200 ms on Linux) and delivers nothing behind it meanwhile. (The kernel's `netem`
//!   qdisc, which would drop real packets, is not available on every CI machine.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a link misbehaves when it is not cut.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impairment {
    /// Latency added to every chunk.
    pub delay: Duration,
    /// Extra latency, uniform in `[0, jitter)`.
    pub jitter: Duration,
    /// Share of chunks held back for `rto` first (0.05 for 5 %).
    pub loss: f64,
    /// The retransmission timeout a lost chunk costs.
    pub rto: Duration,
}

#[derive(Default)]
struct LinkState {
    cut: bool,
    impairment: Impairment,
    connections: Vec<JoinHandle<()>>,
}

/// One proxied directed link.
struct Link {
    port: u16,
    state: Arc<Mutex<LinkState>>,
    _accept: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self._accept.abort();
        for c in self.state.lock().unwrap().connections.drain(..) {
            c.abort();
        }
    }
}

/// The proxies of every directed link between `n` members.
pub struct FaultyNet {
    links: HashMap<(usize, usize), Link>,
}

/// A small xorshift generator: the proxies need no cryptographic randomness.
fn random(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultyNet {
    /// Proxies for every ordered pair of `targets` (the members' real p2p ports).
    pub async fn new(targets: &[u16]) -> Self {
        let mut links = HashMap::new();
        for i in 0..targets.len() {
            for (j, target) in targets.iter().enumerate() {
                if i != j {
                    links.insert((i, j), Link::start(*target, (i * 31 + j) as u64 + 1).await);
                }
            }
        }
        Self { links }
    }

    /// The port member `from` dials to reach member `to`.
    pub fn port(&self, from: usize, to: usize) -> u16 {
        self.links[&(from, to)].port
    }

    fn set(&self, a: usize, b: usize, f: impl Fn(&mut LinkState)) {
        for key in [(a, b), (b, a)] {
            let mut state = self.links[&key].state.lock().unwrap();
            f(&mut state);
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut(&self, a: usize, b: usize) {
        self.set(a, b, |s| {
            s.cut = true;
            for c in s.connections.drain(..) {
                c.abort();
            }
        });
    }

    /// Cuts `member` off from everyone.
    pub fn isolate(&self, member: usize, members: usize) {
        for other in (0..members).filter(|o| *o != member) {
            self.cut(member, other);
        }
    }

    /// Cuts every link between `left` and `right`.
    pub fn partition(&self, left: &[usize], right: &[usize]) {
        for a in left {
            for b in right {
                self.cut(*a, *b);
            }
        }
    }

    /// Heals every cut link (impairments stay).
    pub fn heal(&self) {
        for link in self.links.values() {
            link.state.lock().unwrap().cut = false;
        }
    }

    /// Impairs every link.
    pub fn impair_all(&self, impairment: Impairment) {
        for link in self.links.values() {
            link.state.lock().unwrap().impairment = impairment;
        }
    }
}

impl Link {
    async fn start(target: u16, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(LinkState::default()));
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                let mut seed = seed;
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if state.lock().unwrap().cut {
                        drop(inbound);
                        continue;
                    }
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let connection = tokio::spawn(forward(inbound, target, state.clone(), seed));
                    let mut s = state.lock().unwrap();
                    s.connections.retain(|c| !c.is_finished());
                    s.connections.push(connection);
                }
            }
        });
        Self {
            port,
            state,
            _accept: accept,
        }
    }
}

async fn forward(inbound: TcpStream, target: u16, state: Arc<Mutex<LinkState>>, seed: u64) {
    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let there = pump(in_read, out_write, state.clone(), seed);
    let back = pump(out_read, in_write, state, seed ^ 0x5DEE_CE66);
    // Either direction ending ends the connection (the task is aborted on a cut).
    tokio::select! {
        () = there => {}
        () = back => {}
    }
}

/// Copies `from` to `to` in order, each chunk after its delay.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<Mutex<LinkState>>,
    mut seed: u64,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = tokio::time::Instant::now();
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let impairment = state.lock().unwrap().impairment;
            let mut delay = impairment.delay + impairment.jitter.mul_f64(random(&mut seed));
            if random(&mut seed) < impairment.loss {
                delay += impairment.rto;
            }
            // In order: a chunk never overtakes the one before it.
            let at = (tokio::time::Instant::now() + delay).max(last);
            last = at;
            if tx.send((at, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}
