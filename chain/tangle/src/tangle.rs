//! The Tangle state machine: solidification, tips, confirmation by approval weight, and the anchor
//! rules.
//!
//! **Confirmation is cheap.** Every live block keeps a bitmap of the validators whose blocks
//! approve it. When a validator's block becomes solid, its bit is pushed into the past cone, and
//! the walk stops at blocks that already carry the bit (their own past cone carries it too) and at
//! confirmed blocks (no longer held in memory). So each block is visited at most once per
//! validator, not once per new block. A block is confirmed once the approving validators hold
//! more than two thirds of the weight; its whole past cone then has at least the same approvers,
//! so it is confirmed with it.
//!
//! **Statements** (registrations, anchors, rotations) are applied in their chain's order. One that
//! can be checked now and fails is refused with the block. One that cannot be checked yet (the
//! chain's registration, an earlier anchor or the signing committee's rotation has not arrived)
//! waits, and is applied as soon as what it needs is applied.

use crate::error::{Error, Result};
use crate::store::{AnchorRecord, BlockMeta, ChainState, Changes, Evidence, Store, Tip};
use crate::{Block, Payload, VerifiedBlock};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, HashMap, HashSet};
use weft_types::{
    Anchor, ChainId, Committee, CommitteeMember, PublicKey, Registration, Rotation, Signed,
    Statement, StatementId, TangleBlockId,
};

/// The Tangle's rules and tuning.
#[derive(Debug, Clone)]
pub struct Params {
    /// The network id every block must carry.
    pub network_id: String,
    /// The Tangle validators and their weight (at most 64; sorted by key here).
    pub validators: Vec<CommitteeMember>,
    /// Leading zero bits of proof of work required from issuers that are not validators.
    pub pow_difficulty: u8,
    /// How far ahead of this node's clock a block may be issued.
    pub max_drift_ms: u64,
    /// A tip issued longer ago than this is lazy and not selected.
    pub max_tip_age_ms: u64,
    /// A tip whose parents reach an unconfirmed block older than this is lazy.
    pub below_max_depth_ms: u64,
    /// A tip leaves the pool once this many solid blocks approve it.
    pub max_approvers: u32,
    /// Blocks still unconfirmed (or unsolid) this long after arriving are given up on.
    pub orphan_after_ms: u64,
}

impl Params {
    /// Defaults for a network with these validators.
    pub fn new(network_id: impl Into<String>, validators: Vec<CommitteeMember>) -> Self {
        let mut validators = validators;
        validators.sort_by_key(|v| v.public_key);
        Self {
            network_id: network_id.into(),
            validators,
            pow_difficulty: 0,
            max_drift_ms: 30_000,
            max_tip_age_ms: 10_000,
            below_max_depth_ms: 30_000,
            max_approvers: 2,
            orphan_after_ms: 600_000,
        }
    }
}

/// Something that happened to the Tangle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A block became solid.
    Solid(TangleBlockId),
    /// A block was confirmed.
    Confirmed(TangleBlockId),
    /// A chain was registered.
    Registered(ChainId),
    /// A chain's committee rotated to `epoch`.
    Rotated(ChainId, u64),
    /// An anchor was applied.
    AnchorApplied(Box<AnchorRecord>),
    /// An applied anchor's block was confirmed.
    AnchorConfirmed(Box<AnchorRecord>),
    /// A committee equivocated.
    Equivocation(Box<Evidence>),
    /// A statement was found invalid after it had waited (its block stays, the statement is void).
    InvalidStatement(TangleBlockId, String),
}

/// What [`Tangle::insert`] did.
#[derive(Debug, Default)]
pub struct Inserted {
    /// False when the block was already known.
    pub new: bool,
    /// Parents nobody has sent yet: request them from peers.
    pub missing: Vec<TangleBlockId>,
    /// What happened, in order.
    pub events: Vec<Event>,
}

/// The Tangle over a [`Store`].
pub struct Tangle<S: Store> {
    params: Params,
    store: S,
    quorum: u64,
    /// Metadata of every block neither confirmed nor orphaned.
    live: HashMap<TangleBlockId, BlockMeta>,
    /// Blocks waiting for a parent to become solid (missing or unsolid parent → children).
    waiting: HashMap<TangleBlockId, Vec<TangleBlockId>>,
    /// Unsolid blocks → parents not yet solid.
    unsolid: HashMap<TangleBlockId, usize>,
    tips: HashMap<TangleBlockId, Tip>,
    chains: HashMap<ChainId, ChainState>,
    /// Blocks whose statements wait, by chain.
    pending: BTreeMap<ChainId, Vec<(TangleBlockId, Payload)>>,
    /// Applied anchors whose blocks are not confirmed yet.
    anchor_blocks: HashMap<TangleBlockId, (ChainId, u64)>,
    /// The most recently confirmed block: where to attach when every tip is lazy.
    last_confirmed: TangleBlockId,
}

impl<S: Store> Tangle<S> {
    /// Opens the Tangle over `store`, resuming its DAG, tips, confirmations and chains.
    pub fn open(mut params: Params, store: S) -> Result<Self> {
        params.validators.sort_by_key(|v| v.public_key);
        if params.validators.len() > weft_types::anchor::MAX_COMMITTEE {
            return Err(Error::Storage(format!(
                "at most {} Tangle validators are supported, {} are configured",
                weft_types::anchor::MAX_COMMITTEE,
                params.validators.len()
            )));
        }
        let total: u64 = params.validators.iter().map(|v| v.power).sum();
        let loaded = store.load()?;
        let mut tangle = Self {
            quorum: weft_types::anchor::quorum_of(total),
            params,
            store,
            live: loaded.live.into_iter().collect(),
            waiting: HashMap::new(),
            unsolid: HashMap::new(),
            tips: loaded.tips.into_iter().collect(),
            chains: loaded.chains.into_iter().collect(),
            pending: BTreeMap::new(),
            anchor_blocks: HashMap::new(),
            last_confirmed: TangleBlockId::GENESIS,
        };
        let unsolid: Vec<(TangleBlockId, Vec<TangleBlockId>)> = tangle
            .live
            .iter()
            .filter(|(_, m)| !m.solid)
            .map(|(id, m)| (*id, m.parents.clone()))
            .collect();
        for (id, parents) in unsolid {
            for parent in parents {
                if !tangle.is_solid(&parent)? {
                    tangle.waiting.entry(parent).or_default().push(id);
                    *tangle.unsolid.entry(id).or_default() += 1;
                }
            }
        }
        for id in loaded.pending {
            if let Some(block) = tangle.store.block(&id)? {
                let chain = statement_chain(&block.essence.payload);
                tangle
                    .pending
                    .entry(chain)
                    .or_default()
                    .push((id, block.essence.payload));
            }
        }
        for record in loaded.unconfirmed_anchors {
            let a = &record.anchor.statement;
            tangle
                .anchor_blocks
                .insert(record.block, (a.chain_id.clone(), a.state_index));
        }
        Ok(tangle)
    }

    /// The rules in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The store (for reads).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The index of `key` among the Tangle validators.
    pub fn validator_index(&self, key: &PublicKey) -> Option<usize> {
        self.params
            .validators
            .binary_search_by_key(key, |v| v.public_key)
            .ok()
    }

    /// The proof of work a block by `issuer` needs (`None`: none, it is a validator).
    pub fn difficulty_for(&self, issuer: &PublicKey) -> Option<u8> {
        self.validator_index(issuer)
            .is_none()
            .then_some(self.params.pow_difficulty)
    }

    /// Verifies `block` for this Tangle (see [`Block::verify`]).
    pub fn verify(&self, block: Block, now_ms: u64) -> Result<VerifiedBlock> {
        let difficulty = self.difficulty_for(&block.essence.issuer);
        block.verify(
            &self.params.network_id,
            now_ms,
            self.params.max_drift_ms,
            difficulty,
        )
    }

    /// A block's metadata.
    pub fn meta(&self, id: &TangleBlockId) -> Result<Option<BlockMeta>> {
        if let Some(meta) = self.live.get(id) {
            return Ok(Some(meta.clone()));
        }
        self.store.meta(id)
    }

    /// Whether the block is known (solid or not).
    pub fn contains(&self, id: &TangleBlockId) -> Result<bool> {
        Ok(*id == TangleBlockId::GENESIS
            || self.live.contains_key(id)
            || self.store.meta(id)?.is_some())
    }

    fn is_solid(&self, id: &TangleBlockId) -> Result<bool> {
        if *id == TangleBlockId::GENESIS {
            return Ok(true);
        }
        if let Some(meta) = self.live.get(id) {
            return Ok(meta.solid);
        }
        Ok(self.store.meta(id)?.is_some_and(|m| m.solid))
    }

    /// Parents that are referenced by waiting blocks but unknown here.
    pub fn missing(&self) -> Vec<TangleBlockId> {
        self.waiting
            .keys()
            .filter(|id| !self.live.contains_key(id))
            .copied()
            .collect()
    }

    /// The current tip pool (lazy tips included), with their data.
    pub fn tips(&self) -> Vec<(TangleBlockId, Tip)> {
        let mut tips: Vec<_> = self.tips.iter().map(|(id, t)| (*id, *t)).collect();
        tips.sort_by_key(|(id, t)| (std::cmp::Reverse(t.issued_at_ms), *id));
        tips
    }

    /// Whether a tip is lazy at `now_ms`: issued too long ago, or approving an unconfirmed block
    /// that is too old. Lazy tips are never selected.
    pub fn is_lazy(&self, tip: &Tip, now_ms: u64) -> bool {
        now_ms.saturating_sub(tip.issued_at_ms) > self.params.max_tip_age_ms
            || now_ms.saturating_sub(tip.oldest_unconfirmed_ms) > self.params.below_max_depth_ms
    }

    /// Picks up to `max` parents for a new block: a random choice among the non-lazy tips, or the
    /// most recently confirmed block when every tip is lazy.
    pub fn select_parents(
        &self,
        rng: &mut impl Rng,
        max: usize,
        now_ms: u64,
    ) -> Vec<TangleBlockId> {
        let mut candidates: Vec<TangleBlockId> = self
            .tips
            .iter()
            .filter(|(_, tip)| !self.is_lazy(tip, now_ms))
            .map(|(id, _)| *id)
            .collect();
        candidates.sort();
        candidates.shuffle(rng);
        candidates.truncate(max.clamp(1, crate::MAX_PARENTS));
        if candidates.is_empty() {
            candidates.push(self.last_confirmed);
        }
        candidates.sort();
        candidates
    }

    /// Whether a solid block with a payload (anything but a validation block) awaits
    /// confirmation: validators keep issuing while this is true.
    pub fn has_unconfirmed(&self) -> bool {
        self.live.values().any(|m| m.solid && !m.validation)
    }

    /// Whether a solid block with a payload awaits confirmation and validator `key` has not
    /// approved it yet: all a validator's blocks are for. Once each validator approved what waits,
    /// nothing more is issued until something new arrives, so an idle Tangle stays quiet.
    pub fn awaits_approval_of(&self, key: &PublicKey) -> bool {
        let Some(v) = self.validator_index(key) else {
            return false;
        };
        let bit = 1u64 << v;
        self.live
            .values()
            .any(|m| m.solid && !m.validation && m.approvers & bit == 0)
    }

    /// Live solid blocks not yet confirmed.
    pub fn unconfirmed_count(&self) -> usize {
        self.live.values().filter(|m| m.solid).count()
    }

    /// A registered chain's state.
    pub fn chain(&self, chain: &ChainId) -> Option<&ChainState> {
        self.chains.get(chain)
    }

    /// Checks what can be checked now about a block's committee statement: a certificate that
    /// does not verify against the chain's known committee is an error. Statements about chains or
    /// epochs not known yet pass here and are checked when they are applied.
    pub fn check_statement(&self, payload: &Payload) -> Result<()> {
        match payload {
            Payload::Registration(s) => {
                let id = Statement::Registration(s.statement.clone()).id();
                s.statement
                    .committee
                    .verify(&id, &s.certificate)
                    .map_err(|error| Error::Statement {
                        kind: "registration",
                        chain: s.statement.chain_id.0.clone(),
                        error,
                    })?;
            }
            Payload::Anchor(s) => {
                let a = &s.statement;
                if let Some(committee) = self
                    .chains
                    .get(&a.chain_id)
                    .and_then(|c| c.committees.get(a.epoch as usize))
                {
                    committee.verify(&a.id(), &s.certificate).map_err(|error| {
                        Error::Statement {
                            kind: "anchor",
                            chain: a.chain_id.0.clone(),
                            error,
                        }
                    })?;
                }
            }
            Payload::Rotation(s) => {
                let r = &s.statement;
                if let Some(committee) = self.chains.get(&r.chain_id).and_then(|c| {
                    r.committee
                        .epoch
                        .checked_sub(1)
                        .and_then(|e| c.committees.get(e as usize))
                }) {
                    let id = Statement::Rotation(r.clone()).id();
                    committee
                        .verify(&id, &s.certificate)
                        .map_err(|error| Error::Statement {
                            kind: "rotation",
                            chain: r.chain_id.0.clone(),
                            error,
                        })?;
                }
            }
            Payload::Validation | Payload::Data { .. } => {}
        }
        Ok(())
    }

    /// Adds a verified block. It is stored at once; it becomes solid (and takes part in tips,
    /// confirmation and anchoring) when all its parents are solid. Everything it changes is
    /// written in one batch.
    pub fn insert(&mut self, block: VerifiedBlock, now_ms: u64) -> Result<Inserted> {
        let VerifiedBlock { block, id } = block;
        let mut out = Inserted::default();
        if self.contains(&id)? {
            return Ok(out);
        }
        self.check_statement(&block.essence.payload)?;
        out.new = true;
        let mut changes = Changes::default();
        let parents = block.essence.parents.clone();
        let meta = BlockMeta {
            parents: parents.clone(),
            issued_at_ms: block.essence.issued_at_ms,
            received_ms: now_ms,
            solid: false,
            oldest_unconfirmed_ms: block.essence.issued_at_ms,
            approvers: 0,
            confirmed_ms: None,
            orphaned: false,
            validation: matches!(block.essence.payload, Payload::Validation),
        };
        changes.blocks.push((id, block.encode()));
        let mut blocked = 0;
        for parent in &parents {
            if *parent != TangleBlockId::GENESIS {
                changes.children.push((*parent, id));
            }
            if !self.is_solid(parent)? {
                blocked += 1;
                let waiting = self.waiting.entry(*parent).or_default();
                if waiting.is_empty() && !self.live.contains_key(parent) {
                    out.missing.push(*parent);
                }
                waiting.push(id);
            }
        }
        self.live.insert(id, meta);
        let mut touched_tips = HashSet::new();
        if blocked == 0 {
            self.solidify(id, block, now_ms, &mut changes, &mut out, &mut touched_tips)?;
        } else {
            self.unsolid.insert(id, blocked);
            changes.metas.insert(id, self.live[&id].clone());
        }
        self.finish(changes, touched_tips)?;
        Ok(out)
    }

    fn finish(&mut self, mut changes: Changes, touched_tips: HashSet<TangleBlockId>) -> Result<()> {
        for id in touched_tips {
            match self.tips.get(&id) {
                Some(tip) => {
                    changes.tips_put.insert(id, *tip);
                }
                None => changes.tips_remove.push(id),
            }
        }
        let confirmed: Vec<TangleBlockId> = changes
            .metas
            .iter()
            .filter(|(_, m)| m.confirmed_ms.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in confirmed {
            self.live.remove(&id);
        }
        self.store.commit(changes)
    }

    /// Solidifies `id` and every waiting block that it unblocks.
    fn solidify(
        &mut self,
        first: TangleBlockId,
        first_block: Block,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
        touched_tips: &mut HashSet<TangleBlockId>,
    ) -> Result<()> {
        let mut queue = vec![(first, Some(first_block))];
        while let Some((id, block)) = queue.pop() {
            let block = match block {
                Some(b) => b,
                None => self.store.block(&id)?.ok_or(Error::UnknownBlock(id))?,
            };
            // The oldest unconfirmed block its parents reach, for the laziness rule.
            let mut oldest = block.essence.issued_at_ms;
            for parent in &block.essence.parents {
                if let Some(p) = self.live.get(parent) {
                    oldest = oldest.min(p.oldest_unconfirmed_ms).min(p.issued_at_ms);
                }
                if let Some(tip) = self.tips.get_mut(parent) {
                    tip.approvers += 1;
                    if tip.approvers >= self.params.max_approvers {
                        self.tips.remove(parent);
                    }
                    touched_tips.insert(*parent);
                }
            }
            let meta = self
                .live
                .get_mut(&id)
                .expect("a block being solidified is live: it was inserted and not confirmed");
            meta.solid = true;
            meta.oldest_unconfirmed_ms = oldest;
            changes.metas.insert(id, meta.clone());
            self.tips.insert(
                id,
                Tip {
                    issued_at_ms: block.essence.issued_at_ms,
                    oldest_unconfirmed_ms: oldest,
                    approvers: 0,
                },
            );
            touched_tips.insert(id);
            out.events.push(Event::Solid(id));
            if let Some(v) = self.validator_index(&block.essence.issuer) {
                self.approve(id, v, now_ms, changes, out);
            }
            if block.essence.payload.statement_id().is_some() {
                self.apply_statement(id, block.essence.payload, now_ms, changes, out)?;
            }
            for child in self.waiting.remove(&id).unwrap_or_default() {
                let left = self.unsolid.get_mut(&child);
                if let Some(left) = left {
                    *left -= 1;
                    if *left == 0 {
                        self.unsolid.remove(&child);
                        queue.push((child, None));
                    }
                }
            }
        }
        Ok(())
    }

    /// Pushes validator `v`'s approval from `start` into its past cone.
    fn approve(
        &mut self,
        start: TangleBlockId,
        v: usize,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) {
        let bit = 1u64 << v;
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            // Blocks no longer live are confirmed (or given up on): their past cone needs nothing.
            let Some(meta) = self.live.get_mut(&id) else {
                continue;
            };
            if meta.approvers & bit != 0 || meta.confirmed_ms.is_some() {
                continue;
            }
            meta.approvers |= bit;
            stack.extend(meta.parents.iter().copied());
            let weight: u64 = self
                .params
                .validators
                .iter()
                .enumerate()
                .filter(|(i, _)| meta.approvers & (1 << i) != 0)
                .map(|(_, v)| v.power)
                .sum();
            let confirmed = weight >= self.quorum;
            if confirmed {
                meta.confirmed_ms = Some(now_ms);
            }
            changes.metas.insert(id, meta.clone());
            if confirmed {
                self.last_confirmed = id;
                out.events.push(Event::Confirmed(id));
                if let Some((chain, index)) = self.anchor_blocks.remove(&id) {
                    self.confirm_anchor(&chain, index, now_ms, changes, out);
                }
            }
        }
    }

    fn confirm_anchor(
        &mut self,
        chain: &ChainId,
        index: u64,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) {
        let record = changes
            .anchors
            .iter()
            .position(|r| {
                &r.anchor.statement.chain_id == chain && r.anchor.statement.state_index == index
            })
            .map(|i| changes.anchors.remove(i))
            .or_else(|| self.store.anchor(chain, index).ok().flatten());
        if let Some(mut record) = record {
            record.confirmed_ms = Some(now_ms);
            out.events
                .push(Event::AnchorConfirmed(Box::new(record.clone())));
            changes.anchors.push(record);
        }
    }

    fn apply_statement(
        &mut self,
        id: TangleBlockId,
        payload: Payload,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) -> Result<()> {
        let chain = statement_chain(&payload);
        match self.try_apply(id, &payload, now_ms, changes, out) {
            Applied::Waiting => {
                self.pending.entry(chain).or_default().push((id, payload));
                changes.pending_put.push(id);
                return Ok(());
            }
            Applied::Done => {}
        }
        // Applying one statement may let waiting ones through.
        loop {
            let waiting = self.pending.remove(&chain).unwrap_or_default();
            let mut progress = false;
            let mut still = Vec::new();
            for (pid, p) in waiting {
                match self.try_apply(pid, &p, now_ms, changes, out) {
                    Applied::Waiting => still.push((pid, p)),
                    Applied::Done => {
                        progress = true;
                        changes.pending_remove.push(pid);
                    }
                }
            }
            if !still.is_empty() {
                self.pending.insert(chain.clone(), still);
            }
            if !progress {
                return Ok(());
            }
        }
    }

    fn try_apply(
        &mut self,
        id: TangleBlockId,
        payload: &Payload,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) -> Applied {
        match payload {
            Payload::Registration(s) => self.register(id, &s.statement, now_ms, changes, out),
            Payload::Rotation(s) => self.rotate(id, s, now_ms, changes, out),
            Payload::Anchor(s) => self.anchor(id, s, now_ms, changes, out),
            Payload::Validation | Payload::Data { .. } => Applied::Done,
        }
    }

    fn register(
        &mut self,
        id: TangleBlockId,
        r: &Registration,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) -> Applied {
        let sid = Statement::Registration(r.clone()).id();
        if let Some(existing) = self.chains.get(&r.chain_id) {
            if existing.registration != sid {
                self.evidence(
                    &r.chain_id,
                    "registration",
                    0,
                    (existing.registration, existing.registered_in),
                    (sid, id),
                    now_ms,
                    changes,
                    out,
                );
            }
            return Applied::Done;
        }
        if r.committee.epoch != 0 {
            out.events.push(Event::InvalidStatement(
                id,
                format!(
                    "a registration names the epoch-0 committee, not epoch {}",
                    r.committee.epoch
                ),
            ));
            return Applied::Done;
        }
        let state = ChainState {
            committees: vec![r.committee.clone()],
            registration: sid,
            registered_in: id,
            last_index: 0,
            last_anchor: StatementId::default(),
        };
        changes.chains.insert(r.chain_id.clone(), state.clone());
        self.chains.insert(r.chain_id.clone(), state);
        out.events.push(Event::Registered(r.chain_id.clone()));
        Applied::Done
    }

    fn rotate(
        &mut self,
        id: TangleBlockId,
        s: &Signed<Rotation>,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) -> Applied {
        let r = &s.statement;
        let Some(state) = self.chains.get(&r.chain_id) else {
            return Applied::Waiting;
        };
        let current = state.committee().epoch;
        let sid = Statement::Rotation(r.clone()).id();
        if r.committee.epoch > current + 1 {
            return Applied::Waiting;
        }
        if r.committee.epoch <= current {
            let known = &state.committees[r.committee.epoch as usize];
            if *known != r.committee {
                let first = Statement::Rotation(Rotation {
                    chain_id: r.chain_id.clone(),
                    committee: known.clone(),
                })
                .id();
                self.evidence(
                    &r.chain_id,
                    "rotation",
                    r.committee.epoch,
                    (first, TangleBlockId::GENESIS),
                    (sid, id),
                    now_ms,
                    changes,
                    out,
                );
            }
            return Applied::Done;
        }
        if let Err(e) = state.committee().verify(&sid, &s.certificate) {
            out.events.push(Event::InvalidStatement(id, e.to_string()));
            return Applied::Done;
        }
        let mut state = state.clone();
        state.committees.push(r.committee.clone());
        changes.chains.insert(r.chain_id.clone(), state.clone());
        self.chains.insert(r.chain_id.clone(), state);
        out.events
            .push(Event::Rotated(r.chain_id.clone(), r.committee.epoch));
        Applied::Done
    }

    fn anchor(
        &mut self,
        id: TangleBlockId,
        s: &Signed<Anchor>,
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) -> Applied {
        let a = &s.statement;
        let Some(state) = self.chains.get(&a.chain_id) else {
            return Applied::Waiting;
        };
        let current = state.committee().epoch;
        if a.epoch > current {
            return Applied::Waiting;
        }
        let sid = a.id();
        if a.state_index > state.last_index + 1 {
            return Applied::Waiting;
        }
        if a.state_index <= state.last_index {
            let first = self
                .applied_anchor(&a.chain_id, a.state_index, changes)
                .map(|r| (r.anchor.statement.id(), r.block));
            if let Some(first) = first
                && first.0 != sid
            {
                self.evidence(
                    &a.chain_id,
                    "anchor",
                    a.state_index,
                    first,
                    (sid, id),
                    now_ms,
                    changes,
                    out,
                );
            }
            return Applied::Done;
        }
        if a.epoch < current {
            out.events.push(Event::InvalidStatement(
                id,
                format!(
                    "anchor {} is signed by the retired committee of epoch {}",
                    a.state_index, a.epoch
                ),
            ));
            return Applied::Done;
        }
        if let Err(e) = state.committee().verify(&sid, &s.certificate) {
            out.events.push(Event::InvalidStatement(id, e.to_string()));
            return Applied::Done;
        }
        if a.prev_anchor != state.last_anchor {
            // Signed by the committee, yet not a continuation of the applied chain of anchors.
            let first = (state.last_anchor, TangleBlockId::GENESIS);
            self.evidence(
                &a.chain_id,
                "anchor",
                a.state_index,
                first,
                (sid, id),
                now_ms,
                changes,
                out,
            );
            return Applied::Done;
        }
        let confirmed_ms = match self.live.get(&id) {
            Some(meta) => meta.confirmed_ms,
            None => self
                .store
                .meta(&id)
                .ok()
                .flatten()
                .and_then(|m| m.confirmed_ms),
        };
        let record = AnchorRecord {
            anchor: s.clone(),
            block: id,
            applied_ms: now_ms,
            confirmed_ms,
        };
        let mut state = state.clone();
        state.last_index = a.state_index;
        state.last_anchor = sid;
        changes.chains.insert(a.chain_id.clone(), state.clone());
        self.chains.insert(a.chain_id.clone(), state);
        if confirmed_ms.is_none() {
            self.anchor_blocks
                .insert(id, (a.chain_id.clone(), a.state_index));
        }
        out.events
            .push(Event::AnchorApplied(Box::new(record.clone())));
        if confirmed_ms.is_some() {
            out.events
                .push(Event::AnchorConfirmed(Box::new(record.clone())));
        }
        changes.anchors.push(record);
        Applied::Done
    }

    fn applied_anchor(
        &self,
        chain: &ChainId,
        index: u64,
        changes: &Changes,
    ) -> Option<AnchorRecord> {
        changes
            .anchors
            .iter()
            .find(|r| {
                &r.anchor.statement.chain_id == chain && r.anchor.statement.state_index == index
            })
            .cloned()
            .or_else(|| self.store.anchor(chain, index).ok().flatten())
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "evidence names both sides and where"
    )]
    fn evidence(
        &mut self,
        chain: &ChainId,
        kind: &str,
        index: u64,
        first: (StatementId, TangleBlockId),
        second: (StatementId, TangleBlockId),
        now_ms: u64,
        changes: &mut Changes,
        out: &mut Inserted,
    ) {
        let evidence = Evidence {
            chain_id: chain.clone(),
            kind: kind.to_string(),
            index,
            first,
            second,
            detected_ms: now_ms,
        };
        out.events
            .push(Event::Equivocation(Box::new(evidence.clone())));
        changes.evidence.push(evidence);
    }

    /// Forgets validation blocks confirmed before `before_ms`, and data blocks too unless
    /// `keep_data`. Blocks that carry statements (registrations, anchors, rotations) are kept
    /// for good, so the anchor chain, its evidence and every anchor's block stay checkable.
    /// Returns how many blocks were forgotten. `before_ms` must be well past the tip-age rules,
    /// so that no new block can name a forgotten one as its parent.
    pub fn prune_confirmed(&mut self, before_ms: u64, keep_data: bool) -> Result<usize> {
        let mut forgotten = 0;
        loop {
            let considered = self.store.confirmed_before(before_ms, 1_000)?;
            if considered.is_empty() {
                return Ok(forgotten);
            }
            let mut blocks = Vec::new();
            for (_, id) in &considered {
                let Some(block) = self.store.block(id)? else {
                    continue;
                };
                let forget = match block.essence.payload {
                    Payload::Validation => true,
                    Payload::Data { .. } => !keep_data,
                    Payload::Anchor(_) | Payload::Registration(_) | Payload::Rotation(_) => false,
                };
                if forget {
                    self.tips.remove(id);
                    blocks.push(*id);
                }
            }
            forgotten += blocks.len();
            self.store.forget(&blocks, &considered)?;
        }
    }

    /// Gives up on blocks that stayed unconfirmed (or unsolid) longer than
    /// [`Params::orphan_after_ms`], so memory does not grow with blocks nobody approves. Blocks
    /// with a payload stay on disk, marked orphaned; validation blocks nobody approved (the last
    /// ones before a quiet spell) are forgotten, so disk does not grow with them either.
    pub fn prune(&mut self, now_ms: u64) -> Result<usize> {
        let cutoff = now_ms.saturating_sub(self.params.orphan_after_ms);
        let old: Vec<TangleBlockId> = self
            .live
            .iter()
            .filter(|(_, m)| m.received_ms < cutoff)
            .map(|(id, _)| *id)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let mut changes = Changes::default();
        let mut touched = HashSet::new();
        let mut forget = Vec::new();
        for id in &old {
            if let Some(mut meta) = self.live.remove(id) {
                if meta.validation && meta.solid {
                    forget.push(*id);
                    continue;
                }
                meta.orphaned = true;
                changes.metas.insert(*id, meta);
            }
            self.unsolid.remove(id);
            if self.tips.remove(id).is_some() {
                touched.insert(*id);
            }
        }
        let old_set: HashSet<_> = old.iter().collect();
        self.waiting.retain(|parent, children| {
            children.retain(|c| !old_set.contains(c));
            !children.is_empty() && !old_set.contains(parent)
        });
        self.finish(changes, touched)?;
        for id in &forget {
            self.tips.remove(id);
        }
        self.store.forget(&forget, &[])?;
        Ok(old.len())
    }
}

enum Applied {
    Done,
    Waiting,
}

fn statement_chain(payload: &Payload) -> ChainId {
    match payload {
        Payload::Anchor(s) => s.statement.chain_id.clone(),
        Payload::Registration(s) => s.statement.chain_id.clone(),
        Payload::Rotation(s) => s.statement.chain_id.clone(),
        Payload::Validation | Payload::Data { .. } => ChainId(String::new()),
    }
}

/// The committee of `members` with power 1 each, for tests and devnets.
pub fn equal_committee(epoch: u64, keys: &[PublicKey]) -> Committee {
    Committee::new(
        epoch,
        keys.iter()
            .map(|k| CommitteeMember {
                public_key: *k,
                power: 1,
            })
            .collect(),
    )
    .expect("distinct keys make a valid committee")
}
