//! A whole committee on a simulated network with a virtual clock: deterministic, no sockets.
//! Messages can be dropped, delayed, reordered and partitioned; members can be silent or
//! equivocate. Agreement (no two different blocks decided at one height) must always hold, and
//! blocks must keep being decided while a quorum can talk.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use arc_malachitebft_core_consensus::SignedConsensusMsg;
use arc_malachitebft_core_types::{Round, SignedMessage, Timeout};
use std::collections::{BTreeMap, BTreeSet};
use weft_consensus::{
    Action, BlockId, Consensus, Height, Message, Proposal, Signature, Validator, ValidatorAddress,
    ValidatorSet, WeftContext, verify_commit,
};
use weft_types::{ChainId, Hash32, Keypair, domain_hash};

const CHAIN: &str = "weft-sim";

#[derive(Clone, Debug)]
enum Event {
    Message(Message),
    /// A whole block, gossiped apart from consensus messages.
    Block(BlockId),
    Timeout(Timeout),
    /// The network layer's periodic re-gossip of what a member sent.
    Tick,
}

/// How often the network layer sends a member's recent messages again, in virtual ms.
const GOSSIP_MS: u64 = 1_000;

/// Decides what the network does with a message from `from` to `to` at `now`: `None` drops it,
/// `Some(delay)` delivers it after `delay` ms.
type Policy = Box<dyn FnMut(usize, usize, u64) -> Option<u64>>;

struct Member {
    consensus: Consensus,
    key: Keypair,
    /// Proposals seen, by height and round.
    proposals: BTreeMap<(u64, i64), Proposal>,
    /// Blocks received.
    blocks: BTreeSet<BlockId>,
    /// (height, round, block) already reported to consensus.
    checked: BTreeSet<(u64, i64, BlockId)>,
    decided: BTreeMap<u64, BlockId>,
    /// Silent members send nothing.
    silent: bool,
    /// Equivocating members send a different proposal to half the committee.
    equivocates: bool,
    /// What this member sent for the current and the previous height: the network layer sends
    /// it again every `GOSSIP_MS`, as gossip does, so losses are repaired and a member one
    /// height behind can still collect the precommits it missed.
    sent: Vec<(u64, usize, Event)>,
}

struct Sim {
    members: Vec<Member>,
    validators: ValidatorSet,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), (usize, Event)>,
    /// Scheduled timeouts per member, so they can be cancelled.
    timers: Vec<Vec<(Timeout, (u64, u64))>>,
    policy: Policy,
    /// Every decision by every member: height → the set of blocks decided at it.
    decisions: BTreeMap<u64, BTreeSet<BlockId>>,
}

fn key(i: usize) -> Keypair {
    Keypair::from_seed([i as u8 + 1; 32])
}

fn block_id(height: Height, round: Round, proposer: ValidatorAddress, variant: u8) -> BlockId {
    BlockId(domain_hash(
        "weft/test/block",
        &[
            &height.0.to_le_bytes(),
            &round.as_i64().to_le_bytes(),
            &proposer.0,
            &[variant],
        ],
    ))
}

impl Sim {
    fn new(n: usize, policy: Policy) -> Self {
        let validators = ValidatorSet::new(
            (0..n)
                .map(|i| Validator::new(key(i).public_key(), 1))
                .collect(),
        )
        .unwrap();
        let ctx = WeftContext {
            chain_id: ChainId(CHAIN.into()),
        };
        let members = (0..n)
            .map(|i| Member {
                consensus: Consensus::new(ctx.clone(), key(i), validators.clone(), Height(1)),
                key: key(i),
                proposals: BTreeMap::new(),
                blocks: BTreeSet::new(),
                checked: BTreeSet::new(),
                decided: BTreeMap::new(),
                silent: false,
                equivocates: false,
                sent: Vec::new(),
            })
            .collect();
        Self {
            members,
            validators,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            timers: vec![Vec::new(); n],
            policy,
            decisions: BTreeMap::new(),
        }
    }

    fn push(&mut self, at: u64, to: usize, event: Event) -> (u64, u64) {
        self.seq += 1;
        let slot = (at, self.seq);
        self.queue.insert(slot, (to, event));
        slot
    }

    fn send(&mut self, from: usize, to: usize, event: Event) {
        if self.members[from].silent || from == to {
            return;
        }
        let height = self.members[from].consensus.height().0;
        self.members[from].sent.push((height, to, event.clone()));
        self.transmit(from, to, event);
    }

    fn transmit(&mut self, from: usize, to: usize, event: Event) {
        if let Some(delay) = (self.policy)(from, to, self.now) {
            self.push(self.now + delay, to, event);
        }
    }

    fn broadcast(&mut self, from: usize, event: Event) {
        for to in 0..self.members.len() {
            self.send(from, to, event.clone());
        }
    }

    fn start(&mut self) {
        for i in 0..self.members.len() {
            self.push(GOSSIP_MS, i, Event::Tick);
            let actions = self.members[i]
                .consensus
                .start_height(Height(1), self.validators.clone(), false)
                .unwrap();
            self.apply(i, actions);
        }
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Persist(_) | Action::PersistSigned(_) => {}
                Action::Send(message) => self.send_message(i, message),
                Action::ScheduleTimeout(t, d) => {
                    self.cancel(i, &t);
                    let slot = self.push(self.now + d.as_millis() as u64, i, Event::Timeout(t));
                    self.timers[i].push((t, slot));
                }
                Action::CancelTimeout(t) => {
                    self.cancel(i, &t);
                }
                Action::CancelAllTimeouts => {
                    for (_, slot) in std::mem::take(&mut self.timers[i]) {
                        self.queue.remove(&slot);
                    }
                }
                Action::Propose { height, round } => {
                    let me = self.members[i].consensus.address();
                    let id = block_id(height, round, me, 0);
                    self.members[i].blocks.insert(id);
                    self.broadcast(i, Event::Block(id));
                    if self.members[i].equivocates {
                        // The other block, for the second half of the committee.
                        let other = block_id(height, round, me, 1);
                        for to in self.members.len() / 2..self.members.len() {
                            self.send(i, to, Event::Block(other));
                        }
                    }
                    let more = self.members[i]
                        .consensus
                        .propose(height, round, id)
                        .unwrap();
                    self.apply(i, more);
                }
                Action::Decided(certificate) => {
                    verify_commit(
                        &certificate,
                        &self.validators,
                        Default::default(),
                        &ChainId(CHAIN.into()),
                    )
                    .expect("every decision carries a valid commit certificate");
                    let h = certificate.height.0;
                    self.members[i].decided.insert(h, certificate.value_id);
                    self.decisions
                        .entry(h)
                        .or_default()
                        .insert(certificate.value_id);
                    assert_eq!(
                        self.decisions[&h].len(),
                        1,
                        "two different blocks decided at height {h}: {:?}",
                        self.decisions[&h]
                    );
                }
                Action::Finalized(height) => {
                    self.members[i].sent.retain(|(h, _, _)| *h >= height.0);
                    let next = Height(height.0 + 1);
                    let more = self.members[i]
                        .consensus
                        .start_height(next, self.validators.clone(), false)
                        .unwrap();
                    self.apply(i, more);
                }
            }
        }
    }

    fn cancel(&mut self, i: usize, t: &Timeout) {
        let queue = &mut self.queue;
        self.timers[i].retain(|(scheduled, slot)| {
            if scheduled == t {
                queue.remove(slot);
            }
            scheduled != t
        });
    }

    fn send_message(&mut self, i: usize, message: Message) {
        let equivocating = self.members[i].equivocates;
        match (&message, equivocating) {
            (SignedConsensusMsg::Proposal(p), true) => {
                // Half the committee gets the real proposal, the other half a second one for a
                // different block, both properly signed.
                let mut other = p.message.clone();
                other.value = block_id(other.height, other.round, other.proposer, 1);
                let signature = Signature(
                    self.members[i]
                        .key
                        .sign_hash(&other.sign_bytes(&ChainId(CHAIN.into())))
                        .0,
                );
                let forged = SignedConsensusMsg::Proposal(SignedMessage::new(other, signature));
                let half = self.members.len() / 2;
                for to in 0..self.members.len() {
                    let m = if to < half {
                        message.clone()
                    } else {
                        forged.clone()
                    };
                    self.send(i, to, Event::Message(m));
                }
            }
            _ => self.broadcast(i, Event::Message(message)),
        }
    }

    /// Reports a block to consensus once both its proposal and the block itself are in.
    fn check_blocks(&mut self, i: usize) {
        let ready: Vec<Proposal> = self.members[i]
            .proposals
            .values()
            .filter(|p| self.members[i].blocks.contains(&p.value))
            .filter(|p| {
                !self.members[i]
                    .checked
                    .contains(&(p.height.0, p.round.as_i64(), p.value))
            })
            .cloned()
            .collect();
        for p in ready {
            self.members[i]
                .checked
                .insert((p.height.0, p.round.as_i64(), p.value));
            let actions = self.members[i]
                .consensus
                .block_checked(p.height, p.round, p.pol_round, p.proposer, p.value, true)
                .unwrap();
            self.apply(i, actions);
        }
    }

    fn step(&mut self) -> bool {
        let Some(((at, _), (to, event))) = self.queue.pop_first() else {
            return false;
        };
        self.now = at;
        let actions = match event {
            Event::Tick => {
                for (_, peer, event) in self.members[to].sent.clone() {
                    self.transmit(to, peer, event);
                }
                self.push(self.now + GOSSIP_MS, to, Event::Tick);
                Vec::new()
            }
            Event::Timeout(t) => {
                self.timers[to].retain(|(scheduled, _)| *scheduled != t);
                self.members[to].consensus.timeout(t).unwrap()
            }
            Event::Block(id) => {
                self.members[to].blocks.insert(id);
                self.check_blocks(to);
                Vec::new()
            }
            Event::Message(message) => {
                if let SignedConsensusMsg::Proposal(p) = &message {
                    self.members[to]
                        .proposals
                        .entry((p.message.height.0, p.message.round.as_i64()))
                        .or_insert_with(|| p.message.clone());
                }
                let actions = self.members[to]
                    .consensus
                    .receive(message)
                    .unwrap_or_default();
                self.apply(to, actions);
                self.check_blocks(to);
                Vec::new()
            }
        };
        self.apply(to, actions);
        true
    }

    /// Runs until `until` ms of virtual time.
    fn run_until(&mut self, until: u64) {
        while self
            .queue
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= until)
        {
            self.step();
        }
        self.now = until;
    }

    fn min_height(&self, members: impl Iterator<Item = usize>) -> u64 {
        members
            .map(|i| {
                self.members[i]
                    .decided
                    .keys()
                    .next_back()
                    .copied()
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0)
    }
}

/// A small deterministic random generator (xorshift), so every run is the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn four_honest_members_decide_the_same_blocks() {
    let mut sim = Sim::new(4, Box::new(|_, _, _| Some(10)));
    sim.start();
    sim.run_until(30_000);
    assert!(
        sim.min_height(0..4) >= 20,
        "decided {:?}",
        sim.members[0].decided.len()
    );
    for h in 1..=20 {
        let first = sim.members[0].decided[&h];
        assert!((0..4).all(|i| sim.members[i].decided[&h] == first));
    }
}

/// Runs a committee whose member `faulty` misbehaves as `fault` says, and checks that the
/// three others keep deciding (agreement is asserted at every decision).
fn three_honest_members_keep_deciding(faulty: usize, fault: impl FnOnce(&mut Member)) {
    let mut sim = Sim::new(4, Box::new(|_, _, _| Some(10)));
    fault(&mut sim.members[faulty]);
    sim.start();
    sim.run_until(60_000);
    assert!(sim.min_height((0..4).filter(|i| *i != faulty)) >= 10);
}

#[test]
fn a_silent_member_does_not_stop_the_others() {
    // Its turns as proposer cost a round each.
    three_honest_members_keep_deciding(2, |m| m.silent = true);
}

#[test]
fn drops_delays_and_reordering_never_break_agreement() {
    for seed in 1..=4u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut sim = Sim::new(
            4,
            Box::new(move |_, _, _| {
                let r = rng.next();
                // 20 % dropped; the rest delayed 1..400 ms, so messages overtake each other.
                (!r.is_multiple_of(5)).then_some(1 + (r >> 8) % 400)
            }),
        );
        sim.start();
        sim.run_until(60_000);
        // Agreement is asserted at every decision; losses are repaired by retransmission, and a
        // quorum keeps deciding. (A member that missed a decision stays behind until block sync,
        // which is the host's job, brings it up.)
        let counts: Vec<usize> = (0..4).map(|i| sim.members[i].decided.len()).collect();
        assert!(
            counts.iter().filter(|c| **c >= 3).count() >= 3,
            "seed {seed}: decided {counts:?}"
        );
    }
}

#[test]
fn a_partition_stalls_commits_safely_and_healing_resumes_them() {
    // Members 0 and 1 cannot reach 2 and 3 between 5 s and 25 s: no side has a quorum.
    let mut sim = Sim::new(
        4,
        Box::new(|from, to, now| {
            let split = (5_000..25_000).contains(&now) && (from < 2) != (to < 2);
            (!split).then_some(10)
        }),
    );
    sim.start();
    sim.run_until(5_000);
    let before = sim.decisions.len();
    assert!(before >= 3);
    sim.run_until(24_000);
    let during = sim.decisions.len();
    assert!(
        during <= before + 1,
        "decided {before} → {during} without a quorum"
    );
    sim.run_until(90_000);
    assert!(
        sim.decisions.len() > during + 5,
        "commits resume after healing"
    );
}

#[test]
fn an_equivocating_proposer_cannot_split_the_committee() {
    three_honest_members_keep_deciding(1, |m| m.equivocates = true);
}

#[test]
fn certificates_with_too_few_or_foreign_signatures_are_rejected() {
    let mut sim = Sim::new(4, Box::new(|_, _, _| Some(10)));
    sim.start();
    sim.run_until(5_000);
    let chain = ChainId(CHAIN.into());
    // Build certificates for the first decided block from chosen signers.
    let h = *sim.decisions.keys().next().unwrap();
    let value = *sim.decisions[&h].iter().next().unwrap();
    let precommit = |i: usize| {
        let vote = weft_consensus::Vote {
            vote_type: arc_malachitebft_core_types::VoteType::Precommit,
            height: Height(h),
            round: Round::new(0),
            value: arc_malachitebft_core_types::NilOrVal::Val(value),
            validator: key(i).public_key().into(),
        };
        let signature = Signature(key(i).sign_hash(&vote.sign_bytes(&chain)).0);
        arc_malachitebft_core_types::CommitSignature::new(vote.validator, signature)
    };
    let certificate = |signers: &[usize]| arc_malachitebft_core_types::CommitCertificate {
        height: Height(h),
        round: Round::new(0),
        value_id: value,
        commit_signatures: signers.iter().map(|i| precommit(*i)).collect(),
    };
    // The error of checking `certificate` against this committee on `chain`, or "ok".
    let check = |certificate: &arc_malachitebft_core_types::CommitCertificate<WeftContext>,
                 chain: &ChainId| {
        verify_commit(certificate, &sim.validators, Default::default(), chain)
            .map_or_else(|e| e.to_string(), |()| "ok".to_string())
    };
    assert_eq!(check(&certificate(&[0, 1, 2]), &chain), "ok");
    assert!(check(&certificate(&[0, 1]), &chain).contains("Not enough voting power"));
    // The same signer twice counts once.
    assert!(check(&certificate(&[0, 1, 1]), &chain).contains("Not enough voting power"));
    // A signer outside the committee.
    assert!(check(&certificate(&[0, 1, 7]), &chain).contains("not in the validator set"));
    // Signatures bound to another chain.
    let other = ChainId("another-chain".into());
    assert!(check(&certificate(&[0, 1, 2]), &other).contains("Invalid commit signature"));
    // A signature over another block.
    let mut forged = certificate(&[0, 1, 2]);
    forged.value_id = BlockId(Hash32([9; 32]));
    assert!(check(&forged, &chain).contains("Invalid commit signature"));
}

#[test]
fn a_restarted_member_never_signs_a_different_vote_for_a_step() {
    let chain = ChainId(CHAIN.into());
    let validators = ValidatorSet::new(
        (0..4)
            .map(|i| Validator::new(key(i).public_key(), 1))
            .collect(),
    )
    .unwrap();
    let ctx = WeftContext {
        chain_id: chain.clone(),
    };
    // Height 1, round 0: the proposer is member 1 (round-robin by height + round, address order).
    let proposer_index = (0..4)
        .find(|i| {
            let mut sorted: Vec<_> = (0..4).map(|j| key(j).public_key().0).collect();
            sorted.sort();
            sorted[1] == key(*i).public_key().0
        })
        .unwrap();
    let voter = (0..4).find(|i| *i != proposer_index).unwrap();
    let proposer: ValidatorAddress = key(proposer_index).public_key().into();
    let signed_proposal = |variant: u8| {
        let proposal = Proposal {
            height: Height(1),
            round: Round::new(0),
            value: block_id(Height(1), Round::new(0), proposer, variant),
            pol_round: Round::Nil,
            proposer,
        };
        let signature = Signature(
            key(proposer_index)
                .sign_hash(&proposal.sign_bytes(&chain))
                .0,
        );
        (
            proposal.clone(),
            SignedConsensusMsg::Proposal(SignedMessage::new(proposal, signature)),
        )
    };
    let prevotes = |actions: &[Action]| -> Vec<BlockId> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(SignedConsensusMsg::Vote(v)) => match v.message.value {
                    arc_malachitebft_core_types::NilOrVal::Val(id) => Some(id),
                    arc_malachitebft_core_types::NilOrVal::Nil => None,
                },
                _ => None,
            })
            .collect()
    };

    // Before the crash: the voter gets proposal A and its block, and prevotes A.
    let mut member = Consensus::new(ctx.clone(), key(voter), validators.clone(), Height(1));
    let mut actions = member
        .start_height(Height(1), validators.clone(), false)
        .unwrap();
    let (a, message_a) = signed_proposal(0);
    actions.extend(member.receive(message_a).unwrap());
    actions.extend(
        member
            .block_checked(a.height, a.round, a.pol_round, a.proposer, a.value, true)
            .unwrap(),
    );
    assert_eq!(prevotes(&actions), vec![a.value]);
    let records: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::PersistSigned(r) => Some(*r),
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 1);
    // The record is persisted before the vote is sent.
    let persisted_at = actions
        .iter()
        .position(|a| matches!(a, Action::PersistSigned(_)));
    let sent_at = actions.iter().position(|a| matches!(a, Action::Send(_)));
    assert!(persisted_at < sent_at);

    // After a crash that lost the write-ahead log but kept the last-signed record, an
    // equivocating proposer offers block B for the same round: the member does not prevote B.
    let mut restarted = Consensus::new(ctx, key(voter), validators.clone(), Height(1));
    restarted.restore_signed(records);
    let mut actions = restarted.start_height(Height(1), validators, true).unwrap();
    let (b, message_b) = signed_proposal(1);
    actions.extend(restarted.receive(message_b).unwrap());
    actions.extend(
        restarted
            .block_checked(b.height, b.round, b.pol_round, b.proposer, b.value, true)
            .unwrap(),
    );
    assert!(
        prevotes(&actions).is_empty(),
        "signed a second prevote: {:?}",
        prevotes(&actions)
    );
    assert_eq!(restarted.refusals(), 1);
}
