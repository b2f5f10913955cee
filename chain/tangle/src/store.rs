//! What the Tangle persists, the [`Store`] seam, and the in-memory [`MemStore`].

use crate::Block;
use crate::error::Result;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use weft_types::{Anchor, ChainId, Committee, Signed, StatementId, TangleBlockId};

/// What the Tangle knows about a block besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockMeta {
    /// The block's parents (kept here so walks need not decode blocks).
    pub parents: Vec<TangleBlockId>,
    /// Its issuing time.
    pub issued_at_ms: u64,
    /// When this node received it.
    pub received_ms: u64,
    /// Whether all its ancestors are known.
    pub solid: bool,
    /// The issuing time of the oldest unconfirmed block its parents reached when it became solid
    /// (its own issuing time when they were all confirmed). Old values mark lazy tips.
    pub oldest_unconfirmed_ms: u64,
    /// Bit `i` is set once validator `i` issued a block whose past cone holds this one.
    pub approvers: u64,
    /// When it was confirmed, by this node's clock.
    pub confirmed_ms: Option<u64>,
    /// Set when it was given up on: unconfirmed (or unsolid) for too long.
    pub orphaned: bool,
    /// Whether it is a validation block (no payload).
    pub validation: bool,
}

/// A tip: a solid block that few blocks approve yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Tip {
    /// Its issuing time.
    pub issued_at_ms: u64,
    /// See [`BlockMeta::oldest_unconfirmed_ms`].
    pub oldest_unconfirmed_ms: u64,
    /// Solid blocks that approve it directly.
    pub approvers: u32,
}

/// A chain registered on the Tangle.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainState {
    /// The committee of every epoch so far (index = epoch).
    pub committees: Vec<Committee>,
    /// The registration's id.
    pub registration: StatementId,
    /// The Tangle block that registered it.
    pub registered_in: TangleBlockId,
    /// The last applied anchor's index (0: none yet).
    pub last_index: u64,
    /// The last applied anchor's id (zero: none yet).
    pub last_anchor: StatementId,
}

impl ChainState {
    /// The current committee.
    pub fn committee(&self) -> &Committee {
        self.committees
            .last()
            .expect("a registered chain has its first committee")
    }
}

/// An applied anchor and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AnchorRecord {
    /// The anchor with its committee's certificate.
    pub anchor: Signed<Anchor>,
    /// The Tangle block that carries it.
    pub block: TangleBlockId,
    /// When this node applied it.
    pub applied_ms: u64,
    /// When its block was confirmed, by this node's clock.
    pub confirmed_ms: Option<u64>,
}

/// Two different statements where only one may be: signed proof that a committee equivocated.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Evidence {
    /// The chain.
    pub chain_id: ChainId,
    /// `anchor`, `registration` or `rotation`.
    pub kind: String,
    /// The anchor index or epoch in question.
    pub index: u64,
    /// The statement applied first, and its block.
    pub first: (StatementId, TangleBlockId),
    /// The conflicting statement, and its block.
    pub second: (StatementId, TangleBlockId),
    /// When this node saw the conflict.
    pub detected_ms: u64,
}

/// Everything one insert changes; a store writes it atomically.
#[derive(Debug, Default)]
pub struct Changes {
    /// New blocks (id, encoding).
    pub blocks: Vec<(TangleBlockId, Vec<u8>)>,
    /// Changed metadata.
    pub metas: BTreeMap<TangleBlockId, BlockMeta>,
    /// New parent → child edges.
    pub children: Vec<(TangleBlockId, TangleBlockId)>,
    /// Tips added or updated.
    pub tips_put: BTreeMap<TangleBlockId, Tip>,
    /// Tips removed.
    pub tips_remove: Vec<TangleBlockId>,
    /// Changed chain states.
    pub chains: BTreeMap<ChainId, ChainState>,
    /// New or updated anchor records.
    pub anchors: Vec<AnchorRecord>,
    /// New evidence.
    pub evidence: Vec<Evidence>,
    /// Blocks whose statements wait for an earlier one.
    pub pending_put: Vec<TangleBlockId>,
    /// Blocks whose statements no longer wait.
    pub pending_remove: Vec<TangleBlockId>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.metas.is_empty()
            && self.children.is_empty()
            && self.tips_put.is_empty()
            && self.tips_remove.is_empty()
            && self.chains.is_empty()
            && self.anchors.is_empty()
            && self.evidence.is_empty()
            && self.pending_put.is_empty()
            && self.pending_remove.is_empty()
    }
}

/// What a restart needs back.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Metadata of every block neither confirmed nor orphaned.
    pub live: Vec<(TangleBlockId, BlockMeta)>,
    /// The tip pool.
    pub tips: Vec<(TangleBlockId, Tip)>,
    /// Registered chains.
    pub chains: Vec<(ChainId, ChainState)>,
    /// Blocks with waiting statements.
    pub pending: Vec<TangleBlockId>,
    /// Applied anchors whose blocks are not confirmed yet.
    pub unconfirmed_anchors: Vec<AnchorRecord>,
}

/// Where the Tangle keeps its data.
pub trait Store: Send {
    /// A block's bytes.
    fn block_bytes(&self, id: &TangleBlockId) -> Result<Option<Vec<u8>>>;
    /// A block's metadata.
    fn meta(&self, id: &TangleBlockId) -> Result<Option<BlockMeta>>;
    /// The blocks that name `id` as a parent.
    fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>>;
    /// The anchor of `chain` at `index`.
    fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>>;
    /// The index of the anchor of `chain` for block `height`.
    fn anchor_at_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>>;
    /// The index of the first anchor of `chain` at `height` or later.
    fn anchor_from_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>>;
    /// The evidence kept about `chain`.
    fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>>;
    /// Everything a restart needs.
    fn load(&self) -> Result<Loaded>;
    /// Writes `changes` atomically.
    fn commit(&self, changes: Changes) -> Result<()>;
    /// Up to `max` confirmed blocks not yet considered for pruning, confirmed before
    /// `before_ms`, oldest first, with their confirmation time.
    fn confirmed_before(&self, before_ms: u64, max: usize) -> Result<Vec<(u64, TangleBlockId)>>;
    /// Forgets `blocks` (their bytes, metadata, tip entries and child links) and drops `considered` from the
    /// pruning index, atomically.
    fn forget(&self, blocks: &[TangleBlockId], considered: &[(u64, TangleBlockId)]) -> Result<()>;

    /// A decoded block.
    fn block(&self, id: &TangleBlockId) -> Result<Option<Block>> {
        self.block_bytes(id)?.map(|b| Block::decode(&b)).transpose()
    }
}

#[derive(Default)]
struct Mem {
    blocks: BTreeMap<TangleBlockId, Vec<u8>>,
    metas: BTreeMap<TangleBlockId, BlockMeta>,
    children: BTreeMap<TangleBlockId, Vec<TangleBlockId>>,
    tips: BTreeMap<TangleBlockId, Tip>,
    chains: BTreeMap<ChainId, ChainState>,
    anchors: BTreeMap<(ChainId, u64), AnchorRecord>,
    heights: BTreeMap<(ChainId, u64), u64>,
    evidence: Vec<Evidence>,
    pending: std::collections::BTreeSet<TangleBlockId>,
    confirmed: std::collections::BTreeSet<(u64, TangleBlockId)>,
}

/// A [`Store`] in memory, for tests of the Tangle's logic.
#[derive(Default)]
pub struct MemStore(Mutex<Mem>);

impl MemStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Mem> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemStore {
    fn block_bytes(&self, id: &TangleBlockId) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().blocks.get(id).cloned())
    }

    fn meta(&self, id: &TangleBlockId) -> Result<Option<BlockMeta>> {
        Ok(self.lock().metas.get(id).cloned())
    }

    fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>> {
        Ok(self.lock().children.get(id).cloned().unwrap_or_default())
    }

    fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>> {
        Ok(self.lock().anchors.get(&(chain.clone(), index)).cloned())
    }

    fn anchor_at_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>> {
        Ok(self.lock().heights.get(&(chain.clone(), height)).copied())
    }

    fn anchor_from_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>> {
        Ok(self
            .lock()
            .heights
            .range((chain.clone(), height)..=(chain.clone(), u64::MAX))
            .next()
            .map(|(_, index)| *index))
    }

    fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>> {
        Ok(self
            .lock()
            .evidence
            .iter()
            .filter(|e| &e.chain_id == chain)
            .cloned()
            .collect())
    }

    fn load(&self) -> Result<Loaded> {
        let m = self.lock();
        Ok(Loaded {
            live: m
                .metas
                .iter()
                .filter(|(_, meta)| meta.confirmed_ms.is_none() && !meta.orphaned)
                .map(|(id, meta)| (*id, meta.clone()))
                .collect(),
            tips: m.tips.iter().map(|(id, t)| (*id, *t)).collect(),
            chains: m
                .chains
                .iter()
                .map(|(c, s)| (c.clone(), s.clone()))
                .collect(),
            pending: m.pending.iter().copied().collect(),
            unconfirmed_anchors: m
                .anchors
                .values()
                .filter(|r| r.confirmed_ms.is_none())
                .cloned()
                .collect(),
        })
    }

    fn commit(&self, changes: Changes) -> Result<()> {
        let mut m = self.lock();
        for (id, bytes) in changes.blocks {
            m.blocks.insert(id, bytes);
        }
        for (id, meta) in &changes.metas {
            if let Some(at) = meta.confirmed_ms {
                m.confirmed.insert((at, *id));
            }
        }
        m.metas.extend(changes.metas);
        for (parent, child) in changes.children {
            m.children.entry(parent).or_default().push(child);
        }
        for id in changes.tips_remove {
            m.tips.remove(&id);
        }
        m.tips.extend(changes.tips_put);
        m.chains.extend(changes.chains);
        for record in changes.anchors {
            let a = &record.anchor.statement;
            m.heights
                .insert((a.chain_id.clone(), a.height), a.state_index);
            m.anchors
                .insert((a.chain_id.clone(), a.state_index), record);
        }
        m.evidence.extend(changes.evidence);
        for id in changes.pending_remove {
            m.pending.remove(&id);
        }
        m.pending.extend(changes.pending_put);
        Ok(())
    }

    fn confirmed_before(&self, before_ms: u64, max: usize) -> Result<Vec<(u64, TangleBlockId)>> {
        Ok(self
            .lock()
            .confirmed
            .iter()
            .take_while(|(at, _)| *at < before_ms)
            .take(max)
            .copied()
            .collect())
    }

    fn forget(&self, blocks: &[TangleBlockId], considered: &[(u64, TangleBlockId)]) -> Result<()> {
        let mut m = self.lock();
        for id in blocks {
            m.blocks.remove(id);
            m.metas.remove(id);
            m.tips.remove(id);
            m.children.remove(id);
        }
        for entry in considered {
            m.confirmed.remove(entry);
        }
        Ok(())
    }
}
