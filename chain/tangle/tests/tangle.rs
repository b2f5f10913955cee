//! The Tangle's rules, through its public interface: solidification in any order, tip selection,
//! confirmation by approval weight, anchor rules and equivocation, restart.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use weft_tangle::tangle::equal_committee;
use weft_tangle::{
    Block, Error, Essence, Event, MemStore, PROTOCOL_VERSION, Params, Payload, RocksStore, Store,
    Tangle,
};
use weft_types::{
    Anchor, ChainId, Committee, CommitteeMember, Keypair, QuorumCertificate, QuorumError,
    Registration, Rotation, Signed, Statement, StatementId, TangleBlockId,
};

const NOW: u64 = 1_000_000;

struct World {
    validators: Vec<Keypair>,
    committee_keys: Vec<Keypair>,
    committee: Committee,
    chain: ChainId,
}

impl World {
    fn new() -> Self {
        let validators: Vec<Keypair> = (1..=4u8).map(|s| Keypair::from_seed([s; 32])).collect();
        let committee_keys: Vec<Keypair> =
            (11..=14u8).map(|s| Keypair::from_seed([s; 32])).collect();
        let committee = equal_committee(
            0,
            &committee_keys
                .iter()
                .map(Keypair::public_key)
                .collect::<Vec<_>>(),
        );
        World {
            validators,
            committee_keys,
            committee,
            chain: ChainId("weft-test".into()),
        }
    }

    fn params(&self) -> Params {
        Params::new(
            "test-net",
            self.validators
                .iter()
                .map(|k| CommitteeMember {
                    public_key: k.public_key(),
                    power: 1,
                })
                .collect(),
        )
    }

    fn tangle(&self) -> Tangle<MemStore> {
        Tangle::open(self.params(), MemStore::default()).unwrap()
    }

    fn block(&self, key: &Keypair, parents: &[TangleBlockId], at: u64, payload: Payload) -> Block {
        let mut parents = parents.to_vec();
        parents.sort();
        parents.dedup();
        Block::issue(
            Essence {
                version: PROTOCOL_VERSION,
                network_id: "test-net".into(),
                parents,
                issuer: key.public_key(),
                issued_at_ms: at,
                payload,
            },
            key,
            0,
        )
    }

    fn certify(
        &self,
        committee: &Committee,
        keys: &[Keypair],
        id: &StatementId,
    ) -> QuorumCertificate {
        let sigs = keys.iter().filter_map(|k| committee.sign(k, id)).collect();
        QuorumCertificate::from_signatures(committee.members.len(), sigs)
    }

    fn registration(&self) -> Payload {
        let r = Registration {
            chain_id: self.chain.clone(),
            committee: self.committee.clone(),
        };
        let id = Statement::Registration(r.clone()).id();
        Payload::Registration(Signed {
            certificate: self.certify(&self.committee, &self.committee_keys, &id),
            statement: r,
        })
    }

    fn anchor(&self, index: u64, prev: StatementId, root: u8) -> Anchor {
        Anchor {
            chain_id: self.chain.clone(),
            state_index: index,
            height: index,
            block_hash: weft_types::Hash32([index as u8; 32]),
            state_root: weft_types::Hash32([root; 32]),
            prev_anchor: prev,
            epoch: 0,
        }
    }

    fn signed_anchor(&self, anchor: &Anchor, signers: usize) -> Payload {
        Payload::Anchor(Signed {
            certificate: self.certify(
                &self.committee,
                &self.committee_keys[..signers],
                &anchor.id(),
            ),
            statement: anchor.clone(),
        })
    }
}

fn insert<S: Store>(t: &mut Tangle<S>, b: &Block) -> weft_tangle::Inserted {
    let v = t.verify(b.clone(), NOW).unwrap();
    t.insert(v, NOW).unwrap()
}

fn confirmed<S: Store>(t: &Tangle<S>, id: &TangleBlockId) -> bool {
    t.meta(id).unwrap().unwrap().confirmed_ms.is_some()
}

#[test]
fn out_of_order_blocks_wait_for_missing_parents_then_solidify() {
    let w = World::new();
    let mut t = w.tangle();
    let v = &w.validators[0];
    let a = w.block(v, &[TangleBlockId::GENESIS], NOW, Payload::Validation);
    let b = w.block(v, &[a.id()], NOW, Payload::Validation);
    let c = w.block(v, &[a.id(), b.id()], NOW, Payload::Validation);
    // c arrives first: both parents are missing and requested once.
    let out = insert(&mut t, &c);
    assert!(out.new);
    let mut missing = out.missing.clone();
    missing.sort();
    let mut expected = vec![a.id(), b.id()];
    expected.sort();
    assert_eq!(missing, expected);
    assert!(!t.meta(&c.id()).unwrap().unwrap().solid);
    // b arrives: a is still missing, no new request for it.
    let out = insert(&mut t, &b);
    assert!(out.missing.is_empty());
    assert!(!t.meta(&b.id()).unwrap().unwrap().solid);
    assert_eq!(t.missing(), vec![a.id()]);
    // a arrives: all three become solid, parents before children.
    let out = insert(&mut t, &a);
    let solid: Vec<_> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Solid(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(solid, vec![a.id(), b.id(), c.id()]);
    assert!(t.missing().is_empty());
    // a has two approvers and leaves the tip pool; b (one approver) stays a tip until a second.
    let tips: Vec<_> = t.tips().iter().map(|(id, _)| *id).collect();
    assert!(tips.contains(&c.id()) && tips.contains(&b.id()) && !tips.contains(&a.id()));
    // A duplicate changes nothing.
    assert!(!insert(&mut t, &a).new);
}

#[test]
fn lazy_tips_are_not_selected() {
    let w = World::new();
    let mut t = w.tangle();
    let data = |at| Payload::Data {
        tag: "audit".into(),
        data: vec![at as u8],
    };
    let user = Keypair::from_seed([99; 32]);
    // An old block nobody confirms, and a young block approving it.
    let old = w.block(&user, &[TangleBlockId::GENESIS], NOW - 60_000, data(1));
    let young_on_old = w.block(&user, &[old.id()], NOW - 1_000, data(2));
    // A stale tip, and a fresh one.
    let stale = w.block(&user, &[TangleBlockId::GENESIS], NOW - 20_000, data(3));
    let fresh = w.block(&user, &[TangleBlockId::GENESIS], NOW - 500, data(4));
    for b in [&old, &young_on_old, &stale, &fresh] {
        insert(&mut t, b);
    }
    let tips: Vec<_> = t.tips().into_iter().map(|(id, _)| id).collect();
    assert!(tips.contains(&young_on_old.id()) && tips.contains(&stale.id()));
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..20 {
        assert_eq!(t.select_parents(&mut rng, 8, NOW), vec![fresh.id()]);
    }
}

#[test]
fn confirmation_follows_approval_weight_exactly() {
    let w = World::new();
    let mut t = w.tangle();
    let user = Keypair::from_seed([99; 32]);
    let data = w.block(
        &user,
        &[TangleBlockId::GENESIS],
        NOW,
        Payload::Data {
            tag: "doc".into(),
            data: vec![7],
        },
    );
    insert(&mut t, &data);
    // Two of four validators (weight 2 of 4) approve: not confirmed.
    let v0 = w.block(&w.validators[0], &[data.id()], NOW, Payload::Validation);
    let v1 = w.block(&w.validators[1], &[v0.id()], NOW, Payload::Validation);
    insert(&mut t, &v0);
    insert(&mut t, &v1);
    assert!(!confirmed(&t, &data.id()));
    assert_eq!(
        t.meta(&data.id()).unwrap().unwrap().approvers.count_ones(),
        2
    );
    // The same validator again adds nothing.
    let v1b = w.block(&w.validators[1], &[v1.id()], NOW + 1, Payload::Validation);
    insert(&mut t, &v1b);
    assert!(!confirmed(&t, &data.id()));
    // A third validator makes more than two thirds: the data block and v0 are confirmed; v1,
    // approved by validators 1 and 2 only, is not.
    let v2 = w.block(&w.validators[2], &[v1b.id()], NOW, Payload::Validation);
    let out = insert(&mut t, &v2);
    assert!(out.events.contains(&Event::Confirmed(data.id())));
    assert!(confirmed(&t, &data.id()));
    assert!(confirmed(&t, &v0.id()));
    assert!(!confirmed(&t, &v1.id()));
    assert!(!confirmed(&t, &v2.id()));
    assert!(
        !t.has_unconfirmed(),
        "only validation blocks are left unconfirmed"
    );
}

#[test]
fn anchors_apply_in_order_and_wait_for_what_they_need() {
    let w = World::new();
    let mut t = w.tangle();
    let v = &w.validators[0];
    let reg = w.block(v, &[TangleBlockId::GENESIS], NOW, w.registration());
    let a1 = w.anchor(1, StatementId::default(), 1);
    let a2 = w.anchor(2, a1.id(), 2);
    let b2 = w.block(v, &[TangleBlockId::GENESIS], NOW, w.signed_anchor(&a2, 3));
    let b1 = w.block(v, &[TangleBlockId::GENESIS], NOW, w.signed_anchor(&a1, 3));
    // Anchor 2 first, before the registration: both wait.
    insert(&mut t, &b2);
    assert!(t.chain(&w.chain).is_none());
    insert(&mut t, &b1);
    let out = insert(&mut t, &reg);
    let applied: Vec<u64> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::AnchorApplied(r) => Some(r.anchor.statement.state_index),
            _ => None,
        })
        .collect();
    assert_eq!(applied, vec![1, 2]);
    let state = t.chain(&w.chain).unwrap();
    assert_eq!((state.last_index, state.last_anchor), (2, a2.id()));
    assert_eq!(t.store().anchor_at_height(&w.chain, 2).unwrap(), Some(2));
}

#[test]
fn anchors_with_too_few_or_foreign_signatures_are_rejected() {
    let w = World::new();
    let mut t = w.tangle();
    let v = &w.validators[0];
    insert(
        &mut t,
        &w.block(v, &[TangleBlockId::GENESIS], NOW, w.registration()),
    );
    let a1 = w.anchor(1, StatementId::default(), 1);
    let few = w.block(v, &[TangleBlockId::GENESIS], NOW, w.signed_anchor(&a1, 2));
    let err = t
        .insert(t.verify(few.clone(), NOW).unwrap(), NOW)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Statement {
                kind: "anchor",
                error: QuorumError::TooFewSignatures {
                    signed: 2,
                    needed: 3,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !t.contains(&few.id()).unwrap(),
        "a refused block is not stored"
    );
    let foreign_keys: Vec<Keypair> = (21..=24u8).map(|s| Keypair::from_seed([s; 32])).collect();
    let foreign = equal_committee(
        0,
        &foreign_keys
            .iter()
            .map(Keypair::public_key)
            .collect::<Vec<_>>(),
    );
    let forged = Payload::Anchor(Signed {
        certificate: w.certify(&foreign, &foreign_keys, &a1.id()),
        statement: a1.clone(),
    });
    let b = w.block(v, &[TangleBlockId::GENESIS], NOW, forged);
    let err = t.insert(t.verify(b, NOW).unwrap(), NOW).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Statement {
                error: QuorumError::BadSignature { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("different committee"), "{err}");
    // A registration its own committee did not sign is refused too.
    let mut reg = w.registration();
    if let Payload::Registration(s) = &mut reg {
        s.certificate.signatures.truncate(2);
        s.certificate.signers = vec![0b0011];
    }
    let err = t
        .insert(
            t.verify(w.block(v, &[TangleBlockId::GENESIS], NOW, reg), NOW)
                .unwrap(),
            NOW,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Statement {
            kind: "registration",
            ..
        }
    ));
}

#[test]
fn conflicting_anchors_are_kept_as_evidence() {
    let w = World::new();
    let mut t = w.tangle();
    let v = &w.validators[0];
    insert(
        &mut t,
        &w.block(v, &[TangleBlockId::GENESIS], NOW, w.registration()),
    );
    let a1 = w.anchor(1, StatementId::default(), 1);
    let other = w.anchor(1, StatementId::default(), 9);
    let b1 = w.block(v, &[TangleBlockId::GENESIS], NOW, w.signed_anchor(&a1, 4));
    let b1_again = w.block(
        v,
        &[TangleBlockId::GENESIS],
        NOW + 1,
        w.signed_anchor(&a1, 3),
    );
    let conflict = w.block(
        v,
        &[TangleBlockId::GENESIS],
        NOW,
        w.signed_anchor(&other, 3),
    );
    insert(&mut t, &b1);
    // The same anchor in a second block is a duplicate, not evidence.
    let out = insert(&mut t, &b1_again);
    assert!(
        !out.events
            .iter()
            .any(|e| matches!(e, Event::Equivocation(_)))
    );
    let out = insert(&mut t, &conflict);
    let evidence = out
        .events
        .iter()
        .find_map(|e| match e {
            Event::Equivocation(ev) => Some(ev.clone()),
            _ => None,
        })
        .expect("a second anchor for index 1 is evidence");
    assert_eq!((evidence.kind.as_str(), evidence.index), ("anchor", 1));
    assert_eq!(evidence.first, (a1.id(), b1.id()));
    assert_eq!(evidence.second, (other.id(), conflict.id()));
    assert_eq!(t.store().evidence(&w.chain).unwrap().len(), 1);
    // The applied anchor stays the first one.
    assert_eq!(
        t.store()
            .anchor(&w.chain, 1)
            .unwrap()
            .unwrap()
            .anchor
            .statement,
        a1
    );
}

#[test]
fn rotation_needs_the_old_quorum() {
    let w = World::new();
    let mut t = w.tangle();
    let v = &w.validators[0];
    insert(
        &mut t,
        &w.block(v, &[TangleBlockId::GENESIS], NOW, w.registration()),
    );
    let new_keys: Vec<Keypair> = (31..=33u8).map(|s| Keypair::from_seed([s; 32])).collect();
    let next = equal_committee(
        1,
        &new_keys.iter().map(Keypair::public_key).collect::<Vec<_>>(),
    );
    let rotation = Rotation {
        chain_id: w.chain.clone(),
        committee: next.clone(),
    };
    let id = Statement::Rotation(rotation.clone()).id();
    // Signed by the new committee only: refused.
    let by_new = Payload::Rotation(Signed {
        certificate: w.certify(&w.committee, &new_keys, &id),
        statement: rotation.clone(),
    });
    assert!(
        t.insert(
            t.verify(w.block(v, &[TangleBlockId::GENESIS], NOW, by_new), NOW)
                .unwrap(),
            NOW
        )
        .is_err()
    );
    let by_old = Payload::Rotation(Signed {
        certificate: w.certify(&w.committee, &w.committee_keys[..3], &id),
        statement: rotation,
    });
    let out = insert(&mut t, &w.block(v, &[TangleBlockId::GENESIS], NOW, by_old));
    assert!(out.events.contains(&Event::Rotated(w.chain.clone(), 1)));
    // Anchors are now checked against the new committee.
    let mut a1 = w.anchor(1, StatementId::default(), 1);
    a1.epoch = 1;
    let signed = Payload::Anchor(Signed {
        certificate: w.certify(&next, &new_keys, &a1.id()),
        statement: a1,
    });
    let out = insert(&mut t, &w.block(v, &[TangleBlockId::GENESIS], NOW, signed));
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::AnchorApplied(_)))
    );
}

#[test]
fn restart_keeps_the_dag_tips_confirmations_and_anchors() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let user = Keypair::from_seed([99; 32]);
    let reg = w.block(
        &w.validators[0],
        &[TangleBlockId::GENESIS],
        NOW,
        w.registration(),
    );
    let a1 = w.anchor(1, StatementId::default(), 1);
    let anchor = w.block(&w.validators[0], &[reg.id()], NOW, w.signed_anchor(&a1, 3));
    let v1 = w.block(&w.validators[1], &[anchor.id()], NOW, Payload::Validation);
    let v2 = w.block(&w.validators[2], &[v1.id()], NOW, Payload::Validation);
    let orphan_child = w.block(
        &user,
        &[TangleBlockId([5; 32])],
        NOW,
        Payload::Data {
            tag: "x".into(),
            data: vec![],
        },
    );
    let (tips, missing) = {
        let mut t = Tangle::open(w.params(), RocksStore::open(dir.path(), true).unwrap()).unwrap();
        for b in [&reg, &anchor, &v1, &v2, &orphan_child] {
            insert(&mut t, b);
        }
        assert!(confirmed(&t, &anchor.id()));
        assert!(
            t.store()
                .anchor(&w.chain, 1)
                .unwrap()
                .unwrap()
                .confirmed_ms
                .is_some()
        );
        (t.tips(), t.missing())
    };
    let mut t = Tangle::open(w.params(), RocksStore::open(dir.path(), true).unwrap()).unwrap();
    assert_eq!(t.tips(), tips);
    assert_eq!(t.missing(), missing);
    assert!(confirmed(&t, &reg.id()) && confirmed(&t, &anchor.id()));
    assert!(!confirmed(&t, &v2.id()));
    assert_eq!(t.store().children(&anchor.id()).unwrap(), vec![v1.id()]);
    assert_eq!(t.chain(&w.chain).unwrap().last_index, 1);
    assert_eq!(t.store().block(&v1.id()).unwrap().unwrap(), v1);
    // Work goes on after the restart: the fourth validator's approval confirms v2's past cone.
    let v3 = w.block(&w.validators[3], &[v2.id()], NOW, Payload::Validation);
    let out = insert(&mut t, &v3);
    assert!(out.events.contains(&Event::Confirmed(v1.id())));
}

/// The anchor chain of two anchors with validation blocks confirming each, and a data block.
fn confirmed_history<S: Store>(w: &World, t: &mut Tangle<S>) -> Vec<Block> {
    let user = Keypair::from_seed([98; 32]);
    let reg = w.block(
        &w.validators[0],
        &[TangleBlockId::GENESIS],
        NOW,
        w.registration(),
    );
    let a1 = w.anchor(1, StatementId::default(), 1);
    let b1 = w.block(&w.validators[0], &[reg.id()], NOW, w.signed_anchor(&a1, 3));
    let data = w.block(
        &user,
        &[b1.id()],
        NOW,
        Payload::Data {
            tag: "audit".into(),
            data: b"order 17 shipped".to_vec(),
        },
    );
    let mut blocks = vec![reg, b1.clone(), data.clone()];
    let mut tip = data.id();
    for v in &w.validators[1..] {
        let b = w.block(v, &[tip], NOW, Payload::Validation);
        tip = b.id();
        blocks.push(b);
    }
    let a2 = w.anchor(2, a1.id(), 2);
    let b2 = w.block(&w.validators[1], &[tip], NOW, w.signed_anchor(&a2, 3));
    tip = b2.id();
    blocks.push(b2);
    for v in [&w.validators[0], &w.validators[2], &w.validators[3]] {
        let b = w.block(v, &[tip], NOW, Payload::Validation);
        tip = b.id();
        blocks.push(b);
    }
    for b in &blocks {
        insert(t, b);
    }
    blocks
}

fn prunes_validation_blocks_and_keeps_the_anchor_chain<S: Store>(
    w: &World,
    t: &mut Tangle<S>,
) -> Vec<Block> {
    let blocks = confirmed_history(w, t);
    let (reg, b1, data, b2) = (&blocks[0], &blocks[1], &blocks[2], &blocks[6]);
    for b in &blocks[..blocks.len() - 3] {
        assert!(confirmed(t, &b.id()), "block {} not confirmed", b.id());
    }
    // Nothing confirmed before the cut-off: nothing goes.
    assert_eq!(t.prune_confirmed(NOW, true).unwrap(), 0);
    let forgotten = t.prune_confirmed(NOW + 1, true).unwrap();
    let validation: Vec<&Block> = blocks
        .iter()
        .filter(|b| matches!(b.essence.payload, Payload::Validation))
        .filter(|b| confirmed_or_gone(t, &b.id()))
        .collect();
    assert_eq!(forgotten, validation.len());
    assert!(forgotten >= 3, "{forgotten}");
    for b in &validation {
        assert_eq!(t.store().block(&b.id()).unwrap(), None);
    }
    // Statements and data stay, and the anchor chain reads as before.
    for b in [reg, b1, data, b2] {
        assert_eq!(t.store().block(&b.id()).unwrap().as_ref(), Some(b));
    }
    let first = t.store().anchor(&w.chain, 1).unwrap().unwrap();
    let second = t.store().anchor(&w.chain, 2).unwrap().unwrap();
    assert_eq!(
        second.anchor.statement.prev_anchor,
        first.anchor.statement.id()
    );
    assert_eq!((first.block, second.block), (b1.id(), b2.id()));
    assert_eq!(t.store().anchor_from_height(&w.chain, 2).unwrap(), Some(2));
    // Pruning again finds nothing; without `keep_data` the data block goes too.
    assert_eq!(t.prune_confirmed(NOW + 1, true).unwrap(), 0);
    blocks
}

fn confirmed_or_gone<S: Store>(t: &Tangle<S>, id: &TangleBlockId) -> bool {
    t.meta(id).unwrap().is_none_or(|m| m.confirmed_ms.is_some())
}

#[test]
fn pruning_forgets_confirmed_validation_blocks_and_keeps_anchors() {
    let w = World::new();
    let mut t = w.tangle();
    prunes_validation_blocks_and_keeps_the_anchor_chain(&w, &mut t);

    let dir = tempfile::tempdir().unwrap();
    let blocks = {
        let mut t = Tangle::open(w.params(), RocksStore::open(dir.path(), true).unwrap()).unwrap();
        prunes_validation_blocks_and_keeps_the_anchor_chain(&w, &mut t)
    };
    // After a restart the pruned blocks stay gone, the anchors stay, and the DAG goes on from
    // the live tips.
    let mut t = Tangle::open(w.params(), RocksStore::open(dir.path(), true).unwrap()).unwrap();
    assert_eq!(t.store().block(&blocks[3].id()).unwrap(), None);
    assert_eq!(t.chain(&w.chain).unwrap().last_index, 2);
    assert_eq!(t.prune_confirmed(NOW + 1, true).unwrap(), 0);
    assert_eq!(
        t.prune_confirmed(NOW + 1, false).unwrap(),
        0,
        "already considered"
    );
    let last = blocks.last().unwrap();
    let next = w.block(&w.validators[1], &[last.id()], NOW, Payload::Validation);
    let out = insert(&mut t, &next);
    assert!(out.missing.is_empty());
    assert!(t.meta(&next.id()).unwrap().unwrap().solid);

    // A node that keeps no data forgets posted data too.
    let mut t = w.tangle();
    let blocks = confirmed_history(&w, &mut t);
    t.prune_confirmed(NOW + 1, false).unwrap();
    assert_eq!(t.store().block(&blocks[2].id()).unwrap(), None);
    assert!(t.store().block(&blocks[1].id()).unwrap().is_some());
}

#[test]
fn validators_are_asked_only_for_what_awaits_their_approval() {
    let w = World::new();
    let mut t = w.tangle();
    let [v0, v1, v2, v3] = [0, 1, 2, 3].map(|i| w.validators[i].public_key());
    let reg = w.block(
        &w.validators[0],
        &[TangleBlockId::GENESIS],
        NOW,
        w.registration(),
    );
    insert(&mut t, &reg);
    // The issuer's own block carries its approval; the others are asked for theirs.
    assert!(!t.awaits_approval_of(&v0));
    assert!(t.awaits_approval_of(&v1) && t.awaits_approval_of(&v2));
    let b = w.block(&w.validators[1], &[reg.id()], NOW, Payload::Validation);
    insert(&mut t, &b);
    assert!(!t.awaits_approval_of(&v1));
    assert!(t.awaits_approval_of(&v2) && t.awaits_approval_of(&v3));
    // Validation blocks by themselves ask for nothing.
    let c = w.block(&w.validators[2], &[b.id()], NOW, Payload::Validation);
    insert(&mut t, &c);
    assert!(confirmed(&t, &reg.id()));
    for v in [v0, v1, v2, v3] {
        assert!(!t.awaits_approval_of(&v));
    }
    assert!(!t.awaits_approval_of(&Keypair::from_seed([77; 32]).public_key()));
}

#[test]
fn validation_blocks_nobody_approved_are_forgotten_when_given_up() {
    let w = World::new();
    let mut t = w.tangle();
    let user = Keypair::from_seed([97; 32]);
    let data = w.block(
        &user,
        &[TangleBlockId::GENESIS],
        NOW,
        Payload::Data {
            tag: "x".into(),
            data: vec![1],
        },
    );
    let v = w.block(&w.validators[1], &[data.id()], NOW, Payload::Validation);
    insert(&mut t, &data);
    insert(&mut t, &v);
    assert!(!confirmed(&t, &data.id()));
    let later = NOW + t.params().orphan_after_ms + 1;
    assert_eq!(t.prune(later).unwrap(), 2);
    // The data block stays, marked orphaned; the validation block is gone.
    assert!(t.store().meta(&data.id()).unwrap().unwrap().orphaned);
    assert!(t.store().block(&data.id()).unwrap().is_some());
    assert_eq!(t.store().block(&v.id()).unwrap(), None);
    assert_eq!(t.store().meta(&v.id()).unwrap(), None);
    assert!(t.tips().iter().all(|(id, _)| *id != v.id()));
}
