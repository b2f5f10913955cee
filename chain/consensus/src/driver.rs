//! [`Consensus`]: one committee member's consensus as a state machine. Inputs in (messages,
//! timeouts, proposed values), [`Action`]s out (messages to send, timers to set, a value to
//! propose, a decision). It signs and verifies with ed25519 itself; it does no I/O and reads no
//! clock, so a whole committee runs deterministically in a test.
//!
//! The host must carry out actions in order. In particular it must make every [`Action::Persist`]
//! durable before it sends any later [`Action::Send`], so that a restarted member never signs two
//! different messages for one height, round and step.

use crate::context::{
    BlockId, Height, Proposal, Signature, ValidatorAddress, ValidatorSet, Vote, WeftContext,
};
use arc_malachitebft_core_consensus::{
    self as core, ConsensusMsg, Effect, Input, LocallyProposedValue, Params, ProposedValue,
    Resumable, Resume, SignedConsensusMsg, State, ThresholdParams, ValuePayload, process,
};
use arc_malachitebft_core_types::{
    CertificateError, CommitCertificate, CommitSignature, NilOrVal, Round, SignedMessage, Timeout,
    Validator as _, ValidatorSet as _, Validity, ValueOrigin, VoteExtensionPolicy,
};
use std::time::Duration;
use weft_types::{Hash32, Keypair, PublicKey, verify_hash};

/// A signed consensus message, as sent between members.
pub type Message = SignedConsensusMsg<WeftContext>;

/// What a member signed for one height, round and step, kept so that a restarted member never
/// signs a different message for the same step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct SignedRecord {
    /// The height.
    pub height: u64,
    /// The round.
    pub round: i64,
    /// 0 proposal, 1 prevote, 2 precommit.
    pub step: u8,
    /// The hash of what was signed.
    pub hash: Hash32,
}

/// What the host must do, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Make this input durable (write-ahead log) before sending anything that follows.
    Persist(Input<WeftContext>),
    /// Make this record of a signature durable (the last-signed record) before sending anything
    /// that follows; give the records back with [`Consensus::restore_signed`] after a restart.
    PersistSigned(SignedRecord),
    /// Send a message to every other member.
    Send(Message),
    /// Call [`Consensus::timeout`] with this timeout after the duration, unless cancelled.
    ScheduleTimeout(Timeout, Duration),
    /// Cancel a scheduled timeout.
    CancelTimeout(Timeout),
    /// Cancel every scheduled timeout.
    CancelAllTimeouts,
    /// This member proposes: build a block for the height and round, send it to the others, and
    /// call [`Consensus::propose`] with its id.
    Propose {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
    },
    /// A block was decided, with its commit certificate.
    Decided(CommitCertificate<WeftContext>),
    /// The height is over; the host calls [`Consensus::start_height`] for the next one.
    Finalized(Height),
}

/// Why an input was refused.
#[derive(Debug, thiserror::Error)]
#[error("consensus error: {0}")]
pub struct ConsensusError(String);

/// One member's consensus.
pub struct Consensus {
    state: State<WeftContext>,
    key: Keypair,
    /// Signatures given at the current and later heights, by (height, round, step).
    signed: std::collections::BTreeMap<(u64, i64, u8), Hash32>,
    refusals: u64,
    address: ValidatorAddress,
    timeouts: arc_malachitebft_core_types::LinearTimeouts,
}

/// Verifies `signature` by `key` over `hash`.
fn verified(key: &PublicKey, hash: &Hash32, signature: &Signature) -> bool {
    verify_hash(key, hash, &weft_types::Signature(signature.0)).is_ok()
}

impl Consensus {
    /// A member with `key` in `validators`, at `height` (not started yet: call
    /// [`Consensus::start_height`]).
    pub fn new(ctx: WeftContext, key: Keypair, validators: ValidatorSet, height: Height) -> Self {
        let address = ValidatorAddress::from(key.public_key());
        let params = Params {
            address,
            threshold_params: ThresholdParams::default(),
            // Blocks travel apart; the host reports each one's validity (`block_checked`).
            value_payload: ValuePayload::ProposalAndParts,
            enabled: true,
        };
        Self {
            state: State::new(ctx, height, validators, params, 1_000, 1_000),
            key,
            signed: Default::default(),
            refusals: 0,
            address,
            timeouts: Default::default(),
        }
    }

    /// Sets the timeouts (propose, prevote, precommit and their per-round increments).
    pub fn with_timeouts(mut self, timeouts: arc_malachitebft_core_types::LinearTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Restores the last-signed records persisted before a restart.
    pub fn restore_signed(&mut self, records: impl IntoIterator<Item = SignedRecord>) {
        for r in records {
            self.signed.insert((r.height, r.round, r.step), r.hash);
        }
    }

    /// How many times this member refused to sign a second, different message for a step.
    pub fn refusals(&self) -> u64 {
        self.refusals
    }

    /// This member's address.
    pub fn address(&self) -> ValidatorAddress {
        self.address
    }

    /// The height in progress.
    pub fn height(&self) -> Height {
        self.state.height()
    }

    /// The round in progress.
    pub fn round(&self) -> Round {
        self.state.round()
    }

    /// Starts `height` with `validators`. `restart` is true when resuming after a crash (the host
    /// then replays its write-ahead log with [`Consensus::replay`]).
    pub fn start_height(
        &mut self,
        height: Height,
        validators: ValidatorSet,
        restart: bool,
    ) -> Result<Vec<Action>, ConsensusError> {
        self.run(Input::StartHeight(
            height,
            validators,
            restart,
            None,
            VoteExtensionPolicy::Disabled,
        ))
    }

    /// Proposes the block `value` (after [`Action::Propose`]).
    pub fn propose(
        &mut self,
        height: Height,
        round: Round,
        value: BlockId,
    ) -> Result<Vec<Action>, ConsensusError> {
        self.run(Input::Propose(LocallyProposedValue::new(
            height, round, value,
        )))
    }

    /// A message from another member.
    pub fn receive(&mut self, message: Message) -> Result<Vec<Action>, ConsensusError> {
        self.run(match message {
            SignedConsensusMsg::Vote(v) => Input::Vote(v),
            SignedConsensusMsg::Proposal(p) => Input::Proposal(p),
        })
    }

    /// The host received and checked the block `value` proposed by `proposer` for `height` and
    /// `round`: `valid` says whether it may be decided. `valid_round` is the proposal's proof of
    /// lock round (`Round::Nil` if none).
    pub fn block_checked(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: ValidatorAddress,
        value: BlockId,
        valid: bool,
    ) -> Result<Vec<Action>, ConsensusError> {
        self.run(Input::ProposedValue(
            ProposedValue {
                height,
                round,
                valid_round,
                proposer,
                value,
                validity: Validity::from_bool(valid),
            },
            ValueOrigin::Consensus,
        ))
    }

    /// A scheduled timeout elapsed.
    pub fn timeout(&mut self, timeout: Timeout) -> Result<Vec<Action>, ConsensusError> {
        self.run(Input::TimeoutElapsed(timeout))
    }

    /// Replays inputs from the write-ahead log after [`Consensus::start_height`] with
    /// `restart = true`. Messages this member signed before the crash are signed again
    /// identically (ed25519 is deterministic), never differently.
    pub fn replay(
        &mut self,
        inputs: Vec<Input<WeftContext>>,
    ) -> Result<Vec<Action>, ConsensusError> {
        let mut actions = Vec::new();
        for input in inputs {
            actions.extend(self.run(input)?);
        }
        Ok(actions)
    }

    fn run(&mut self, input: Input<WeftContext>) -> Result<Vec<Action>, ConsensusError> {
        let mut actions = Vec::new();
        let mut refused = None;
        let signer = Signer {
            key: &self.key,
            signed: &mut self.signed,
            refused: &mut refused,
        };
        let timeouts = &self.timeouts;
        let chain = self.state.ctx.chain_id.clone();
        let mut signer = signer;
        let result: Result<(), core::Error<WeftContext>> = process!(
            input: input,
            state: &mut self.state,
            metrics: &(),
            with: effect => handle(effect, &mut signer, &chain, timeouts, &mut actions)
        );
        let current = self.state.height().0;
        self.signed.retain(|(h, _, _), _| *h >= current);
        if let Some(reason) = refused {
            // The refused message was never signed, so it is not among the actions; the rest
            // (timeouts in particular) still has to happen for the member to go on.
            tracing::error!(%reason, "double-signing guard");
            self.refusals += 1;
            return Ok(actions);
        }
        result.map_err(|e| ConsensusError(e.to_string()))?;
        Ok(actions)
    }
}

/// Signs for the core, refusing to sign a second, different message for a step already signed.
struct Signer<'a> {
    key: &'a Keypair,
    signed: &'a mut std::collections::BTreeMap<(u64, i64, u8), Hash32>,
    refused: &'a mut Option<String>,
}

impl Signer<'_> {
    fn sign(
        &mut self,
        (height, round, step): (u64, i64, u8),
        hash: Hash32,
        actions: &mut Vec<Action>,
    ) -> Result<Signature, ConsensusError> {
        match self.signed.get(&(height, round, step)) {
            Some(earlier) if *earlier != hash => {
                let reason = format!(
                    "refusing to sign a second, different message for height {height}, round {round}, step {step}: this member already signed {earlier}"
                );
                *self.refused = Some(reason.clone());
                return Err(ConsensusError(reason));
            }
            Some(_) => {}
            None => {
                self.signed.insert((height, round, step), hash);
                actions.push(Action::PersistSigned(SignedRecord {
                    height,
                    round,
                    step,
                    hash,
                }));
            }
        }
        Ok(Signature(self.key.sign_hash(&hash).0))
    }
}

fn handle(
    effect: Effect<WeftContext>,
    signer: &mut Signer<'_>,
    chain: &weft_types::ChainId,
    timeouts: &arc_malachitebft_core_types::LinearTimeouts,
    actions: &mut Vec<Action>,
) -> Result<Resume<WeftContext>, ConsensusError> {
    Ok(match effect {
        Effect::CancelAllTimeouts(r) => {
            actions.push(Action::CancelAllTimeouts);
            r.resume_with(())
        }
        Effect::CancelTimeout(t, r) => {
            actions.push(Action::CancelTimeout(t));
            r.resume_with(())
        }
        Effect::ScheduleTimeout(t, r) => {
            actions.push(Action::ScheduleTimeout(t, timeouts.duration_for(t)));
            r.resume_with(())
        }
        Effect::StartRound(_, _, _, _, r) => r.resume_with(()),
        Effect::PublishConsensusMsg(msg, r) => {
            actions.push(Action::Send(msg));
            r.resume_with(())
        }
        // Liveness messages (round certificates, rebroadcasts) are not gossiped yet; votes are
        // sent once and the rebroadcast timeout is left to the host's retransmission.
        Effect::PublishLivenessMsg(_, r) => r.resume_with(()),
        Effect::RepublishVote(vote, r) => {
            actions.push(Action::Send(SignedConsensusMsg::Vote(vote)));
            r.resume_with(())
        }
        Effect::RepublishRoundCertificate(_, r) => r.resume_with(()),
        Effect::GetValue(height, round, _, r) => {
            actions.push(Action::Propose { height, round });
            r.resume_with(())
        }
        Effect::RestreamProposal(_, _, _, _, _, r) => r.resume_with(()),
        Effect::CertVerifiedSyncValue(_, _, r) => r.resume_with(()),
        Effect::CertRejectedSyncValue(_, _, _, r) => r.resume_with(()),
        Effect::Decide(certificate, _, r) => {
            actions.push(Action::Decided(certificate));
            r.resume_with(())
        }
        Effect::Finalize(certificate, _, _, r) => {
            actions.push(Action::Finalized(certificate.height));
            r.resume_with(())
        }
        Effect::WalAppend(_, input, r) => {
            actions.push(Action::Persist(input));
            r.resume_with(())
        }
        Effect::SignVote(vote, r) => {
            let step = match vote.vote_type {
                arc_malachitebft_core_types::VoteType::Prevote => 1,
                arc_malachitebft_core_types::VoteType::Precommit => 2,
            };
            let at = (vote.height.0, vote.round.as_i64(), step);
            let signature = signer.sign(at, vote.sign_bytes(chain), actions)?;
            r.resume_with(SignedMessage::new(vote, signature))
        }
        Effect::SignProposal(proposal, r) => {
            let at = (proposal.height.0, proposal.round.as_i64(), 0);
            let signature = signer.sign(at, proposal.sign_bytes(chain), actions)?;
            r.resume_with(SignedMessage::new(proposal, signature))
        }
        Effect::VerifySignature(signed, public_key, r) => {
            let hash = match &signed.message {
                ConsensusMsg::Vote(v) => v.sign_bytes(chain),
                ConsensusMsg::Proposal(p) => p.sign_bytes(chain),
            };
            r.resume_with(verified(&public_key, &hash, &signed.signature))
        }
        Effect::VerifyCommitCertificate(certificate, validators, thresholds, r) => {
            r.resume_with(verify_commit(&certificate, &validators, thresholds, chain))
        }
        Effect::VerifyExtendedCommitCertificate(certificate, validators, thresholds, _, r) => {
            let plain = CommitCertificate {
                height: certificate.height,
                round: certificate.round,
                value_id: certificate.value_id,
                commit_signatures: certificate
                    .commit_signatures
                    .iter()
                    .map(|s| CommitSignature::new(s.address, s.signature))
                    .collect(),
            };
            r.resume_with(verify_commit(&plain, &validators, thresholds, chain))
        }
        // Weft does not gossip polka or round certificates, so the core never asks to verify one
        // that this member did not build itself from verified votes.
        Effect::VerifyPolkaCertificate(_, _, _, r) => r.resume_with(Ok(())),
        Effect::VerifyRoundCertificate(_, _, _, r) => r.resume_with(Ok(())),
        Effect::ExtendVote(_, _, _, _, r) => r.resume_with(None),
        Effect::VerifyVoteExtension(_, _, _, _, _, _, r) => r.resume_with(Ok(())),
    })
}

/// Checks a commit certificate: every signature is a precommit for the certified block by a
/// distinct committee member, and together they hold more than two thirds of the voting power.
#[allow(
    clippy::result_large_err,
    reason = "the core's own error type, returned to the core as is"
)]
pub fn verify_commit(
    certificate: &CommitCertificate<WeftContext>,
    validators: &ValidatorSet,
    thresholds: ThresholdParams,
    chain: &weft_types::ChainId,
) -> Result<(), CertificateError<WeftContext>> {
    let total = validators.total_voting_power();
    let mut signed: u64 = 0;
    let mut seen = std::collections::BTreeSet::new();
    for s in &certificate.commit_signatures {
        let validator = validators
            .get_by_address(&s.address)
            .ok_or(CertificateError::UnknownValidator(s.address))?;
        let vote = Vote {
            vote_type: arc_malachitebft_core_types::VoteType::Precommit,
            height: certificate.height,
            round: certificate.round,
            value: NilOrVal::Val(certificate.value_id),
            validator: s.address,
        };
        if !verified(
            validator.public_key(),
            &vote.sign_bytes(chain),
            &s.signature,
        ) {
            return Err(CertificateError::InvalidCommitSignature(s.clone()));
        }
        if seen.insert(s.address) {
            signed = signed.saturating_add(validator.voting_power());
        }
    }
    if !thresholds.quorum.is_met(signed, total) {
        return Err(CertificateError::NotEnoughVotingPower {
            signed,
            total,
            expected: thresholds.quorum.min_expected(total),
        });
    }
    Ok(())
}

/// The proposal inside a message, if it is one.
pub fn proposal_of(message: &Message) -> Option<&Proposal> {
    match message {
        SignedConsensusMsg::Proposal(p) => Some(&p.message),
        SignedConsensusMsg::Vote(_) => None,
    }
}
