//! `weft-mempool`: admission and ordering of transactions.
//!
//! The mempool admits signed transactions with precise errors, orders them by sender nonce, and
//! hands ready ones to block building. Bounded in count, bytes per transaction, pending per
//! sender, nonce distance and per-sender rate. It does no I/O and reads no clock: the caller
//! passes the sender's committed nonce and the current time, so every rule is testable as is.
//!
//! Main types: [`Mempool`] ([`Mempool::admit_verified`], [`Mempool::ready`], [`Mempool::prune`]),
//! [`MempoolConfig`] (the `[mempool]` table of the node's config) and [`AdmitError`] (one variant
//! per rule, each saying what was wrong and what is expected). Signatures are checked by the
//! caller before admission. This crate knows nothing of state, execution, the network or RPC.

use std::collections::{BTreeMap, HashMap};
use weft_types::{Address, ChainId, SignatureError, SignedTransaction, TxHash};

/// Mempool limits (the `[mempool]` table of the node's config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Largest encoded transaction, in bytes.
    pub max_tx_bytes: usize,
    /// Most gas one transaction may ask for.
    pub max_tx_gas: u64,
    /// Most pending transactions of one sender.
    pub max_per_sender: usize,
    /// How far past the sender's next nonce a transaction may be.
    pub nonce_window: u64,
    /// Sustained transactions per second admitted from one sender.
    pub sender_rate_per_sec: u64,
    /// Burst a sender may send at once.
    pub sender_burst: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_tx_bytes: 1_200 * 1024,
            max_tx_gas: 1_000_000_000,
            max_per_sender: 1_024,
            nonce_window: 1_024,
            sender_rate_per_sec: 2_000,
            sender_burst: 4_000,
        }
    }
}

impl MempoolConfig {
    /// The checks that need no signature and no state: size, gas and chain id.
    pub fn precheck(
        &self,
        chain_id: &ChainId,
        tx: &SignedTransaction,
        size: usize,
    ) -> Result<(), AdmitError> {
        let c = self;
        if size > c.max_tx_bytes {
            return Err(AdmitError::TooLarge {
                size,
                limit: c.max_tx_bytes,
            });
        }
        if tx.tx.gas_limit > c.max_tx_gas {
            return Err(AdmitError::GasTooHigh {
                gas: tx.tx.gas_limit,
                limit: c.max_tx_gas,
            });
        }
        if tx.tx.chain_id != *chain_id {
            return Err(AdmitError::WrongChain {
                found: tx.tx.chain_id.0.clone(),
                expected: chain_id.0.clone(),
            });
        }
        Ok(())
    }
}

/// Why a transaction was not admitted. Each message says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// Too many bytes.
    #[error("transaction is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Too much gas asked.
    #[error("transaction asks for {gas} gas; the limit per transaction is {limit}")]
    GasTooHigh {
        /// Asked.
        gas: u64,
        /// The limit.
        limit: u64,
    },
    /// Another chain.
    #[error("transaction is for chain {found:?}; this node serves chain {expected:?}")]
    WrongChain {
        /// Its chain id.
        found: String,
        /// This chain's.
        expected: String,
    },
    /// Not signed by its sender.
    #[error("{0}")]
    BadSignature(#[from] SignatureError),
    /// Nonce already committed.
    #[error("transaction nonce {nonce} already used; the next nonce for this sender is {next}")]
    NonceUsed {
        /// Its nonce.
        nonce: u64,
        /// The sender's next free nonce.
        next: u64,
    },
    /// Another transaction with this nonce is pending.
    #[error(
        "a transaction with nonce {nonce} from this sender is already pending ({pending}); the next nonce for this sender is {next}"
    )]
    NoncePending {
        /// Its nonce.
        nonce: u64,
        /// The pending one.
        pending: TxHash,
        /// The sender's next free nonce.
        next: u64,
    },
    /// Nonce too far ahead.
    #[error(
        "transaction nonce {nonce} is too far ahead: the next nonce for this sender is {next} and at most {window} beyond it are accepted"
    )]
    NonceGap {
        /// Its nonce.
        nonce: u64,
        /// The sender's next free nonce.
        next: u64,
        /// The window.
        window: u64,
    },
    /// Already pending.
    #[error("transaction {0} is already in the mempool")]
    Duplicate(TxHash),
    /// Too many pending from this sender.
    #[error(
        "this sender has {pending} pending transactions, the most allowed; wait for some to be committed"
    )]
    SenderFull {
        /// How many.
        pending: usize,
    },
    /// Sending too fast.
    #[error(
        "this sender is sending faster than {rate} transactions per second; retry in {retry_after_ms} ms"
    )]
    RateLimited {
        /// The sustained rate.
        rate: u64,
        /// When a token is available again.
        retry_after_ms: u64,
    },
    /// The pool is full.
    #[error("the mempool is full ({limit} transactions); retry later")]
    Full {
        /// The limit.
        limit: usize,
    },
}

struct Pending {
    tx: SignedTransaction,
    hash: TxHash,
}

/// A token bucket in milli-tokens, refilled from the caller's clock.
struct Bucket {
    milli_tokens: u64,
    updated_ms: u64,
}

/// Pending transactions by sender and nonce.
pub struct Mempool {
    config: MempoolConfig,
    chain_id: ChainId,
    senders: HashMap<Address, BTreeMap<u64, Pending>>,
    hashes: HashMap<TxHash, (Address, u64)>,
    buckets: HashMap<Address, Bucket>,
    len: usize,
}

impl Mempool {
    /// An empty mempool for `chain_id`.
    pub fn new(chain_id: ChainId, config: MempoolConfig) -> Self {
        Self {
            config,
            chain_id,
            senders: HashMap::new(),
            hashes: HashMap::new(),
            buckets: HashMap::new(),
            len: 0,
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.hashes.contains_key(hash)
    }

    /// The sender's next free nonce: the committed one, then past every consecutive pending one.
    pub fn next_nonce(&self, sender: &Address, committed: u64) -> u64 {
        let mut next = committed;
        if let Some(pending) = self.senders.get(sender) {
            while pending.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// The pending transaction with `hash`.
    pub fn get(&self, hash: &TxHash) -> Option<&SignedTransaction> {
        let (sender, nonce) = self.hashes.get(hash)?;
        self.senders.get(sender)?.get(nonce).map(|p| &p.tx)
    }

    /// The checks that need no signature and no state: size, gas and chain id. Run them before
    /// the (costlier) signature check.
    pub fn precheck(&self, tx: &SignedTransaction, size: usize) -> Result<(), AdmitError> {
        self.config.precheck(&self.chain_id, tx, size)
    }

    /// Checks and admits `tx`, whose borsh encoding is `size` bytes, given its sender's committed
    /// next nonce and the time now (milliseconds, any epoch). Returns its hash.
    pub fn admit(
        &mut self,
        tx: SignedTransaction,
        size: usize,
        committed_nonce: u64,
        now_ms: u64,
    ) -> Result<TxHash, AdmitError> {
        self.precheck(&tx, size)?;
        let hash = tx.verify()?;
        self.admit_verified(tx, hash, size, committed_nonce, now_ms)
    }

    /// [`Mempool::admit`] for a transaction whose signature the caller has checked and whose hash
    /// is `hash`, so that signatures can be checked in parallel outside the mempool's lock.
    pub fn admit_verified(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        size: usize,
        committed_nonce: u64,
        now_ms: u64,
    ) -> Result<TxHash, AdmitError> {
        self.precheck(&tx, size)?;
        let c = &self.config;
        if self.hashes.contains_key(&hash) {
            return Err(AdmitError::Duplicate(hash));
        }
        let sender = tx.tx.sender.address();
        let nonce = tx.tx.nonce;
        // The next free nonce walks the sender's pending ones: only errors and far nonces need it.
        let next = || self.next_nonce(&sender, committed_nonce);
        if nonce < committed_nonce {
            return Err(AdmitError::NonceUsed {
                nonce,
                next: next(),
            });
        }
        if let Some(pending) = self.senders.get(&sender).and_then(|p| p.get(&nonce)) {
            return Err(AdmitError::NoncePending {
                nonce,
                pending: pending.hash,
                next: next(),
            });
        }
        if nonce > committed_nonce.saturating_add(c.nonce_window)
            && nonce > next().saturating_add(c.nonce_window)
        {
            return Err(AdmitError::NonceGap {
                nonce,
                next: next(),
                window: c.nonce_window,
            });
        }
        let pending = self.senders.get(&sender).map_or(0, BTreeMap::len);
        if pending >= c.max_per_sender {
            return Err(AdmitError::SenderFull { pending });
        }
        if self.len >= c.max_txs {
            return Err(AdmitError::Full { limit: c.max_txs });
        }
        self.take_token(sender, now_ms)?;
        self.senders
            .entry(sender)
            .or_default()
            .insert(nonce, Pending { tx, hash });
        self.hashes.insert(hash, (sender, nonce));
        self.len += 1;
        Ok(hash)
    }

    fn take_token(&mut self, sender: Address, now_ms: u64) -> Result<(), AdmitError> {
        let (rate, burst) = (self.config.sender_rate_per_sec, self.config.sender_burst);
        let bucket = self.buckets.entry(sender).or_insert(Bucket {
            milli_tokens: burst * 1_000,
            updated_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.updated_ms);
        // `rate` tokens per second is `rate` milli-tokens per millisecond.
        bucket.milli_tokens = (bucket.milli_tokens + elapsed * rate).min(burst * 1_000);
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.milli_tokens < 1_000 {
            let retry_after_ms = (1_000 - bucket.milli_tokens).div_ceil(rate.max(1));
            return Err(AdmitError::RateLimited {
                rate,
                retry_after_ms,
            });
        }
        bucket.milli_tokens -= 1_000;
        Ok(())
    }

    /// Up to `max` transactions ready to execute in order: for each sender, consecutive nonces
    /// from its committed nonce, taken round-robin across senders (in address order) so no sender
    /// crowds out the others. Nothing is removed; call [`Mempool::prune`] after the block commits.
    pub fn ready(
        &self,
        max: usize,
        committed_nonce: impl Fn(&Address) -> u64,
    ) -> Vec<SignedTransaction> {
        let mut senders: Vec<(&Address, &BTreeMap<u64, Pending>)> = self.senders.iter().collect();
        senders.sort_by_key(|(address, _)| **address);
        let mut cursors: Vec<(u64, &BTreeMap<u64, Pending>)> = senders
            .into_iter()
            .map(|(a, p)| (committed_nonce(a), p))
            .collect();
        let mut out = Vec::new();
        while out.len() < max {
            let before = out.len();
            for (next, pending) in cursors.iter_mut() {
                if out.len() >= max {
                    break;
                }
                if let Some(p) = pending.get(next) {
                    out.push(p.tx.clone());
                    *next += 1;
                }
            }
            if out.len() == before {
                break;
            }
        }
        out
    }

    /// Drops the sender's transactions below its committed nonce (committed, or replaced by
    /// others with the same nonce).
    pub fn prune(&mut self, sender: &Address, committed_nonce: u64) {
        let Some(pending) = self.senders.get_mut(sender) else {
            return;
        };
        let keep = pending.split_off(&committed_nonce);
        for dropped in std::mem::replace(pending, keep).into_values() {
            self.hashes.remove(&dropped.hash);
            self.len -= 1;
        }
        if pending.is_empty() {
            self.senders.remove(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_types::{Action, ContractId, Keypair, Transaction};

    fn tx(key: &Keypair, nonce: u64) -> SignedTransaction {
        key.sign(Transaction {
            chain_id: ChainId("weft-test".into()),
            sender: key.public_key(),
            nonce,
            gas_limit: 1_000_000,
            action: Action::Call {
                contract: ContractId([1; 32]),
                method: "increment".into(),
                args: vec![1],
            },
        })
    }

    fn pool() -> Mempool {
        Mempool::new(ChainId("weft-test".into()), MempoolConfig::default())
    }

    #[test]
    fn nonces_are_checked_with_the_next_nonce_in_the_message() {
        let key = Keypair::from_seed([1; 32]);
        let mut pool = pool();
        for n in 7..9 {
            pool.admit(tx(&key, n), 200, 7, 0).unwrap();
        }
        let err = pool.admit(tx(&key, 5), 200, 7, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "transaction nonce 5 already used; the next nonce for this sender is 9"
        );
        let err = pool.admit(tx(&key, 8), 200, 7, 0).unwrap_err();
        assert!(matches!(err, AdmitError::Duplicate(_)), "{err}");
        let err = pool.admit(tx(&key, 9 + 1_025), 200, 7, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "transaction nonce 1034 is too far ahead: the next nonce for this sender is 9 and at most 1024 beyond it are accepted"
        );
        // A gap within the window is accepted but not ready until the gap is filled.
        pool.admit(tx(&key, 11), 200, 7, 0).unwrap();
        assert_eq!(
            pool.ready(100, |_| 7)
                .iter()
                .map(|t| t.tx.nonce)
                .collect::<Vec<_>>(),
            [7, 8]
        );
    }

    #[test]
    fn size_gas_chain_and_signature_are_checked() {
        let key = Keypair::from_seed([2; 32]);
        let mut pool = pool();
        assert_eq!(
            pool.admit(tx(&key, 0), 2_000_000, 0, 0)
                .unwrap_err()
                .to_string(),
            "transaction is 2000000 bytes; the limit is 1228800 bytes"
        );
        let mut greedy = tx(&key, 0);
        greedy.tx.gas_limit = u64::MAX;
        assert!(matches!(
            pool.admit(greedy, 200, 0, 0),
            Err(AdmitError::GasTooHigh { .. })
        ));
        let mut other = tx(&key, 0);
        other.tx.chain_id = ChainId("weft-main".into());
        assert_eq!(
            pool.admit(other, 200, 0, 0).unwrap_err().to_string(),
            "transaction is for chain \"weft-main\"; this node serves chain \"weft-test\""
        );
        let mut forged = tx(&key, 0);
        forged.signature.0[0] ^= 1;
        assert!(matches!(
            pool.admit(forged, 200, 0, 0),
            Err(AdmitError::BadSignature(_))
        ));
        assert!(pool.is_empty());
    }

    #[test]
    fn senders_are_rate_limited_and_bounded() {
        let key = Keypair::from_seed([3; 32]);
        let config = MempoolConfig {
            sender_rate_per_sec: 10,
            sender_burst: 3,
            max_per_sender: 5,
            ..MempoolConfig::default()
        };
        let mut pool = Mempool::new(ChainId("weft-test".into()), config);
        for n in 0..3 {
            pool.admit(tx(&key, n), 200, 0, 1_000).unwrap();
        }
        let err = pool.admit(tx(&key, 3), 200, 0, 1_000).unwrap_err();
        assert_eq!(
            err,
            AdmitError::RateLimited {
                rate: 10,
                retry_after_ms: 100
            }
        );
        pool.admit(tx(&key, 3), 200, 0, 1_100).unwrap();
        pool.admit(tx(&key, 4), 200, 0, 1_200).unwrap();
        let err = pool.admit(tx(&key, 5), 200, 0, 5_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this sender has 5 pending transactions, the most allowed; wait for some to be committed"
        );
    }

    #[test]
    fn ready_is_round_robin_and_prune_drops_committed() {
        let (a, b) = (Keypair::from_seed([4; 32]), Keypair::from_seed([5; 32]));
        let mut pool = pool();
        for n in 0..3 {
            pool.admit(tx(&a, n), 200, 0, 0).unwrap();
            pool.admit(tx(&b, n), 200, 0, 0).unwrap();
        }
        let ready = pool.ready(4, |_| 0);
        let senders: Vec<_> = ready
            .iter()
            .map(|t| (t.tx.sender.address(), t.tx.nonce))
            .collect();
        let (first, second) = if a.public_key().address() < b.public_key().address() {
            (a.public_key(), b.public_key())
        } else {
            (b.public_key(), a.public_key())
        };
        assert_eq!(
            senders,
            [
                (first.address(), 0),
                (second.address(), 0),
                (first.address(), 1),
                (second.address(), 1)
            ]
        );
        pool.prune(&a.public_key().address(), 2);
        assert_eq!(pool.len(), 4);
        assert_eq!(pool.next_nonce(&a.public_key().address(), 2), 3);
        pool.prune(&b.public_key().address(), 3);
        assert_eq!(pool.len(), 1);
    }
}
