//! The node's configuration: a TOML file, every field checked, unknown fields rejected.
//!
//! ```toml
//! chain_id = "weft-devnet"
//! data_dir = "data"            # relative to the config file
//! key_file = "node-key.json"   # the node's signing key (relative to the config file)
//!
//! [rpc]
//! listen = "127.0.0.1:8545"    # JSON-RPC over HTTP and WebSocket
//!
//! [metrics]
//! listen = "127.0.0.1:9615"    # Prometheus text at /metrics; omit to disable
//!
//! [block]
//! interval_ms = 20             # how long a block fills once a transaction is ready
//! max_txs = 10000
//!
//! # Committee members only:
//! genesis = "genesis.toml"     # the committee and chain id (relative to the config file)
//!
//! [p2p]
//! listen = "/ip4/0.0.0.0/tcp/30300"
//! peers = []                   # extra multiaddrs; the genesis members' addresses are dialled anyway
//! dial = {}                    # { node-2 = "/ip4/10.0.0.7/tcp/30300" }: dial a member elsewhere
//!
//! [consensus]
//! propose_timeout_ms = 3000    # cut to 100 ms when the round's proposer is silent (down)
//! prevote_timeout_ms = 300     # each timeout grows by delta_ms per failed round
//! precommit_timeout_ms = 300
//! delta_ms = 200
//! empty_block_interval_ms = 1000
//! min_height_ms = 100          # a round-0 proposer waits this long after its parent's time
//!
//! [storage]                    # what this node keeps (docs/operations.md)
//! state_history = 10000        # state versions kept below the head (0: all); anchored ones always
//! keep_blocks = 0              # blocks, receipts, certificates kept below the head (0: all)
//! prune_every_s = 60
//! state_sync = true            # an empty member restores state from peers, not from genesis
//!
//! [tangle]
//! prune_after_s = 3600         # confirmed validation blocks are forgotten after this (0: never)
//! keep_data = true             # keep posted data blocks (channels may point at them)
//! ```

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use weft_mempool::MempoolConfig;

/// Why a config file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// TOML syntax, a wrong type, a missing or unknown field.
    #[error("config file {path} is invalid: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why (with line and column).
        reason: String,
    },
    /// A value out of range.
    #[error("config file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

/// `[rpc]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Where JSON-RPC listens (HTTP and WebSocket on one port).
    pub listen: SocketAddr,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Largest request body, in bytes.
    pub max_request_bytes: u32,
    /// Longest `weft_sendTransaction` waits for `committed`, in milliseconds.
    pub max_wait_ms: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_connections: 1024,
            max_request_bytes: 4 * 1024 * 1024,
            max_wait_ms: 60_000,
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where Prometheus metrics are served; none when absent.
    pub listen: Option<SocketAddr>,
}

/// `[block]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockConfig {
    /// How long a block fills once a transaction is ready, in milliseconds (in a committee, round
    /// 0 also waits for `consensus.min_height_ms`).
    pub interval_ms: u64,
    /// Most transactions per block.
    pub max_txs: usize,
}

impl Default for BlockConfig {
    fn default() -> Self {
        Self {
            interval_ms: 20,
            max_txs: 10_000,
        }
    }
}

/// `[p2p]`: the committee's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// The multiaddr to listen on.
    pub listen: String,
    /// Extra peers to dial (multiaddrs, with `/p2p/<peer id>` or not); the genesis members'
    /// addresses are always dialled.
    pub peers: Vec<String>,
    /// Addresses to dial committee members at instead of their genesis addresses, by member
    /// name (a member behind NAT, a private network, a proxy).
    pub dial: std::collections::BTreeMap<String, String>,
    /// Largest gossiped message (a proposed block), in bytes.
    pub max_message_bytes: usize,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: "/ip4/0.0.0.0/tcp/30300".into(),
            peers: Vec::new(),
            dial: Default::default(),
            max_message_bytes: 32 * 1024 * 1024,
        }
    }
}

/// `[consensus]`: timeouts and pacing of a committee member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusConfig {
    /// How long to wait for a proposal in round 0 (it must exceed `empty_block_interval_ms`: an
    /// idle proposer waits that long before proposing an empty block). A round whose proposer
    /// has not been heard from for a second times out after 100 ms instead.
    pub propose_timeout_ms: u64,
    /// How long to wait for more prevotes after seeing 2/3 of them for different blocks.
    pub prevote_timeout_ms: u64,
    /// The same for precommits.
    pub precommit_timeout_ms: u64,
    /// How much each timeout grows per round.
    pub delta_ms: u64,
    /// With no pending transactions, a proposer waits this long before proposing an empty block.
    pub empty_block_interval_ms: u64,
    /// A round-0 proposer with transactions ready proposes no sooner than this after its parent
    /// block's time. Every block costs every member the same fixed work (votes, the state tree's
    /// paths to the root, a synced write, an anchor), so under a light load fewer, larger blocks
    /// leave the cores to the transactions; under a heavy load a height lasts longer than this
    /// anyway and nothing waits. 0: propose as soon as `block.interval_ms` has passed.
    pub min_height_ms: u64,
    /// How often a member sends its own messages for a stalled height again (the backstop of the
    /// status-driven repair).
    pub regossip_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            propose_timeout_ms: 3_000,
            prevote_timeout_ms: 300,
            precommit_timeout_ms: 300,
            delta_ms: 200,
            empty_block_interval_ms: 1_000,
            min_height_ms: 100,
            regossip_ms: 1_000,
        }
    }
}

/// `[tangle]`: this node's part in the embedded Tangle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TangleConfig {
    /// How often a validator issues a block while something awaits confirmation.
    pub validator_interval_ms: u64,
    /// Most blocks per second accepted from one issuer that is not a validator.
    pub issuer_rate_per_s: u32,
    /// A tip issued longer ago than this is lazy.
    pub max_tip_age_ms: u64,
    /// A tip approving an unconfirmed block older than this is lazy.
    pub below_max_depth_ms: u64,
    /// How long a member waits for the designated member to issue an anchor before issuing it
    /// itself.
    pub anchor_fallback_ms: u64,
    /// Confirmed validation blocks older than this (seconds) are forgotten; blocks with
    /// statements (anchors, registrations, rotations) are kept for good. 0: keep everything.
    pub prune_after_s: u64,
    /// Keep confirmed data blocks when pruning (audit-trail channels may point at them).
    pub keep_data: bool,
}

impl Default for TangleConfig {
    fn default() -> Self {
        Self {
            validator_interval_ms: 50,
            issuer_rate_per_s: 20,
            max_tip_age_ms: 10_000,
            below_max_depth_ms: 30_000,
            anchor_fallback_ms: 2_000,
            prune_after_s: 3_600,
            keep_data: true,
        }
    }
}

/// `[storage]`: what history this node keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// State versions kept below the head, for reads and proofs at past heights (0: all). The
    /// latest anchored version is always kept, so proofs at it never fail.
    pub state_history: u64,
    /// Blocks (with receipts, the transaction index and certificates) kept below the head
    /// (0: all). A node that prunes blocks cannot serve them to a member syncing by blocks.
    pub keep_blocks: u64,
    /// How often pruning runs, in seconds.
    pub prune_every_s: u64,
    /// A member starting with no state restores it from peers at their latest certified
    /// height instead of replaying the chain from genesis.
    pub state_sync: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            state_history: 10_000,
            keep_blocks: 0,
            prune_every_s: 60,
            state_sync: true,
        }
    }
}

fn default_max_tx_gas() -> u64 {
    1_000_000_000
}

fn default_query_gas() -> u64 {
    300_000_000
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The chain id every transaction must carry.
    pub chain_id: String,
    /// Where state, blocks and compiled modules live.
    pub data_dir: PathBuf,
    /// The node's ed25519 key file (it signs as block proposer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Most gas a transaction may use.
    #[serde(default = "default_max_tx_gas")]
    pub max_tx_gas: u64,
    /// Most gas a read-only call may use.
    #[serde(default = "default_query_gas")]
    pub query_gas: u64,
    /// JSON-RPC.
    #[serde(default)]
    pub rpc: RpcConfig,
    /// Metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Block production.
    #[serde(default)]
    pub block: BlockConfig,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// The genesis file naming the committee; without it the node produces blocks alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<PathBuf>,
    /// The committee's network.
    #[serde(default)]
    pub p2p: P2pConfig,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// The embedded Tangle.
    #[serde(default)]
    pub tangle: TangleConfig,
    /// History kept.
    #[serde(default)]
    pub storage: StorageConfig,
}

impl NodeConfig {
    /// A configuration with defaults for `chain_id` and `data_dir`.
    pub fn new(chain_id: &str, data_dir: PathBuf) -> Self {
        Self {
            chain_id: chain_id.into(),
            data_dir,
            key_file: None,
            max_tx_gas: default_max_tx_gas(),
            query_gas: default_query_gas(),
            rpc: RpcConfig::default(),
            metrics: MetricsConfig::default(),
            block: BlockConfig::default(),
            mempool: MempoolConfig::default(),
            genesis: None,
            p2p: P2pConfig::default(),
            consensus: ConsensusConfig::default(),
            tangle: TangleConfig::default(),
            storage: StorageConfig::default(),
        }
    }

    /// Reads and checks a config file; relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.key_file = config.key_file.map(|k| base.join(k));
        config.genesis = config.genesis.map(|g| base.join(g));
        Ok(config)
    }

    /// Parses and checks TOML text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        config.check().map_err(|reason| ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(config)
    }

    /// Checks ranges.
    pub fn check(&self) -> Result<(), String> {
        let id = &self.chain_id;
        if id.is_empty() || id.len() > weft_types::tx::MAX_CHAIN_ID {
            return Err(format!(
                "chain_id must be 1 to {} bytes, got {} bytes",
                weft_types::tx::MAX_CHAIN_ID,
                id.len()
            ));
        }
        weft_types::did::check_chain_name(id).map_err(|e| format!("chain_id: {e}"))?;
        if self.p2p.listen.parse::<weft_p2p::Multiaddr>().is_err() {
            return Err(format!(
                "p2p.listen `{}` is not a multiaddr; expected e.g. /ip4/0.0.0.0/tcp/30300",
                self.p2p.listen
            ));
        }
        if let Some(bad) = self
            .p2p
            .peers
            .iter()
            .find(|p| p.parse::<weft_p2p::Multiaddr>().is_err())
        {
            return Err(format!(
                "p2p.peers entry `{bad}` is not a multiaddr; expected e.g. /ip4/10.0.0.2/tcp/30300"
            ));
        }
        if let Some((name, bad)) = self
            .p2p
            .dial
            .iter()
            .find(|(_, a)| a.parse::<weft_p2p::Multiaddr>().is_err())
        {
            return Err(format!(
                "p2p.dial entry for `{name}`: `{bad}` is not a multiaddr; expected e.g. /ip4/10.0.0.2/tcp/30300"
            ));
        }
        let c = &self.consensus;
        if c.propose_timeout_ms == 0
            || c.prevote_timeout_ms == 0
            || c.precommit_timeout_ms == 0
            || c.regossip_ms == 0
        {
            return Err("consensus timeouts and regossip_ms must be at least 1 millisecond".into());
        }
        if 2 * (c.min_height_ms + self.block.interval_ms) > c.propose_timeout_ms {
            return Err(format!(
                "consensus.min_height_ms ({}) plus block.interval_ms ({}) must be at most half of propose_timeout_ms ({}): the proposer waits that long before it builds, and the other members must still receive and execute its block in time",
                c.min_height_ms, self.block.interval_ms, c.propose_timeout_ms
            ));
        }
        let t = &self.tangle;
        if t.prune_after_s > 0
            && t.prune_after_s * 1000 < 2 * t.below_max_depth_ms.max(t.max_tip_age_ms)
        {
            return Err(format!(
                "tangle.prune_after_s ({}) must be 0 (never) or at least twice the tip-age rules ({} s): a block still selectable as a parent must not be forgotten",
                t.prune_after_s,
                2 * t.below_max_depth_ms.max(t.max_tip_age_ms) / 1000
            ));
        }
        if self.storage.prune_every_s == 0 {
            return Err("storage.prune_every_s must be at least 1".into());
        }
        if self.block.max_txs == 0 {
            return Err("block.max_txs must be at least 1".into());
        }
        if self.max_tx_gas == 0 || self.query_gas == 0 {
            return Err("max_tx_gas and query_gas must be at least 1".into());
        }
        if self.mempool.max_tx_gas > self.max_tx_gas {
            return Err(format!(
                "mempool.max_tx_gas ({}) is above max_tx_gas ({})",
                self.mempool.max_tx_gas, self.max_tx_gas
            ));
        }
        if self.mempool.max_tx_bytes as u64 * 2 + 1024 > u64::from(self.rpc.max_request_bytes) {
            return Err(format!(
                "rpc.max_request_bytes ({}) must hold a hex-encoded transaction of mempool.max_tx_bytes ({}): at least {}",
                self.rpc.max_request_bytes,
                self.mempool.max_tx_bytes,
                self.mempool.max_tx_bytes as u64 * 2 + 1024
            ));
        }
        Ok(())
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_where_and_what() {
        let p = Path::new("node.toml");
        let err = NodeConfig::parse("chain_id = \"x\"\ndata_dir = \"d\"\n[rpc]\nlisten = 5\n", p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4") && err.contains("listen"), "{err}");
        let err = NodeConfig::parse("chain_id = \"x\"\ndata_dir = \"d\"\nblok = 1\n", p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `blok`"), "{err}");
        let err = NodeConfig::parse("chain_id = \"\"\ndata_dir = \"d\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chain_id must be 1 to 64 bytes"), "{err}");
        let err = NodeConfig::parse(
            "chain_id = \"x\"\ndata_dir = \"d\"\n[consensus]\nmin_height_ms = 1490\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("min_height_ms (1490) plus block.interval_ms (20) must be at most half of propose_timeout_ms (3000)"),
            "{err}"
        );
    }

    #[test]
    fn round_trips_with_defaults() {
        let config = NodeConfig::new("weft-devnet", PathBuf::from("data"));
        let again = NodeConfig::parse(&config.to_toml(), Path::new("x.toml")).unwrap();
        assert_eq!(again, config);
    }
}
