//! System contracts at genesis and their upgrades: only a quorum of the governing committee (on a
//! single-node chain, the producer of block 1) replaces a system contract's code, its storage
//! stays, and no approval works twice.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use std::sync::Arc;
use weft_executor::{COLUMN_FAMILIES, ExecutedBlock, Executor, GenesisContract, Governance, keys};
use weft_state::StateStore;
use weft_types::did::{self, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document};
use weft_types::tx::upgrade_statement;
use weft_types::{
    Action, ChainId, CodeHash, Committee, CommitteeMember, ContractId, Keypair, PublicKey,
    QuorumCertificate, ReceiptStatus, SignedTransaction, Transaction,
};
use weft_vm::{Vm, VmConfig};

const CHAIN: &str = "weft-test";
const GAS: u64 = 1_000_000_000;

fn identity() -> GenesisContract {
    let c = weft_system::IDENTITY;
    GenesisContract {
        id: c.id(),
        code: c.code.into(),
        init_args: c.init_args(CHAIN),
    }
}

fn counter() -> Vec<u8> {
    weft_testkit::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/counter"
    ))
}

fn executor(dir: &Path, governors: Option<Committee>) -> Executor {
    let store = Arc::new(StateStore::open(dir, COLUMN_FAMILIES).unwrap());
    Executor::new(
        Vm::new(VmConfig::default()).unwrap(),
        store,
        ChainId(CHAIN.into()),
        GAS,
    )
    .with_genesis(vec![identity()], governors)
}

fn committee(members: &[Keypair]) -> Committee {
    Committee::new(
        0,
        members
            .iter()
            .map(|k| CommitteeMember {
                public_key: k.public_key(),
                power: 1,
            })
            .collect(),
    )
    .unwrap()
}

fn tx(key: &Keypair, nonce: u64, action: Action) -> SignedTransaction {
    key.sign(Transaction {
        chain_id: ChainId(CHAIN.into()),
        sender: key.public_key(),
        nonce,
        gas_limit: GAS,
        action,
    })
}

fn approvals(
    committee: &Committee,
    signers: &[&Keypair],
    statement: weft_types::StatementId,
) -> QuorumCertificate {
    QuorumCertificate::from_signatures(
        committee.members.len(),
        signers
            .iter()
            .map(|k| committee.sign(k, &statement).unwrap())
            .collect(),
    )
}

fn failure(block: &ExecutedBlock, index: usize) -> String {
    match &block.receipts[index].status {
        ReceiptStatus::Failure { error } => error.clone(),
        ok => panic!("transaction {index} succeeded: {ok:?}"),
    }
}

fn create_did(key: &Keypair, nonce: u64) -> SignedTransaction {
    let document = Document {
        methods: vec![did::VerificationMethod::ed25519(
            "key-1",
            key.public_key().0,
            AUTHENTICATION | CAPABILITY_INVOCATION,
        )],
        ..Document::default()
    };
    tx(
        key,
        nonce,
        Action::Call {
            contract: weft_system::IDENTITY.id(),
            method: "create".into(),
            args: borsh::to_vec(&(document,)).unwrap(),
        },
    )
}

#[test]
fn only_a_committee_quorum_upgrades_a_system_contract_and_its_storage_stays() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<Keypair> = (1..=4).map(|i| Keypair::from_seed([i; 32])).collect();
    let governors = committee(&members);
    let ex = executor(dir.path(), Some(governors.clone()));
    let alice = Keypair::from_seed([20; 32]);
    let identity_id = weft_system::IDENTITY.id();
    let proposer = members[0].public_key();

    // Block 1 installs the identity contract; a DID can be created in the same block.
    let b1 = ex
        .execute(
            1,
            1_000,
            proposer,
            vec![
                create_did(&alice, 0),
                tx(
                    &alice,
                    1,
                    Action::Deploy {
                        code: counter(),
                        init_args: borsh::to_vec(&(0u64,)).unwrap(),
                    },
                ),
            ],
        )
        .unwrap();
    assert!(
        matches!(b1.receipts[0].status, ReceiptStatus::Success { .. }),
        "{:?}",
        b1.receipts[0].status
    );
    let did = DidId::derive(&alice.public_key().address(), 0);
    let record_key = keys::storage(&identity_id, &did::storage::record_key(&did));
    assert!(ex.store().get(&record_key).unwrap().is_some());
    assert_eq!(
        ex.governance().unwrap(),
        Some(Governance {
            committee: governors.clone(),
            system: vec![identity_id],
            upgrades: 0,
        })
    );
    let genesis_code = weft_system::IDENTITY.code_hash();
    assert_eq!(ex.code_hash(&identity_id).unwrap(), Some(genesis_code));

    let new_code = counter();
    let new_hash = CodeHash::of(&new_code);
    let chain = ChainId(CHAIN.into());
    let statement = upgrade_statement(&chain, &identity_id, &genesis_code, &new_hash, 0);
    let upgrade = |nonce, contract, approvals| {
        tx(
            &alice,
            nonce,
            Action::Upgrade {
                contract,
                code: new_code.clone(),
                approvals,
            },
        )
    };

    // Refused: two of four members; the right quorum for another upgrade number; a contract
    // that is not a system contract; signatures of keys outside the committee.
    let outsiders: Vec<Keypair> = (30..=33).map(|i| Keypair::from_seed([i; 32])).collect();
    let outsider_committee = committee(&outsiders);
    let wrong_sequence = upgrade_statement(&chain, &identity_id, &genesis_code, &new_hash, 1);
    let counter_id = ContractId::derive(&alice.public_key().address(), 1);
    let b2 = ex
        .execute(
            2,
            2_000,
            proposer,
            vec![
                upgrade(
                    2,
                    identity_id,
                    approvals(&governors, &[&members[0], &members[1]], statement),
                ),
                upgrade(
                    3,
                    identity_id,
                    approvals(
                        &governors,
                        &[&members[0], &members[1], &members[2]],
                        wrong_sequence,
                    ),
                ),
                upgrade(
                    4,
                    counter_id,
                    approvals(
                        &governors,
                        &[&members[0], &members[1], &members[2]],
                        statement,
                    ),
                ),
                upgrade(
                    5,
                    identity_id,
                    approvals(
                        &outsider_committee,
                        &[&outsiders[0], &outsiders[1], &outsiders[2]],
                        statement,
                    ),
                ),
            ],
        )
        .unwrap();
    assert!(failure(&b2, 0).contains("too few signatures: members with power 2 of 4 signed"));
    assert!(
        failure(&b2, 1).contains("does not verify"),
        "{}",
        failure(&b2, 1)
    );
    assert!(failure(&b2, 1).contains("upgrade number 0"));
    assert!(failure(&b2, 2).contains("is not a system contract"));
    assert!(
        failure(&b2, 3).contains("does not verify"),
        "{}",
        failure(&b2, 3)
    );
    assert_eq!(ex.code_hash(&identity_id).unwrap(), Some(genesis_code));

    // Three of four: the code is replaced, the storage stays.
    let quorum = approvals(
        &governors,
        &[&members[1], &members[2], &members[3]],
        statement,
    );
    let b3 = ex
        .execute(
            3,
            3_000,
            proposer,
            vec![upgrade(6, identity_id, quorum.clone())],
        )
        .unwrap();
    assert!(
        matches!(b3.receipts[0].status, ReceiptStatus::Success { .. }),
        "{:?}",
        b3.receipts[0].status
    );
    assert_eq!(b3.receipts[0].events[0].topic, "upgraded");
    let hashes: (CodeHash, CodeHash) = borsh::from_slice(&b3.receipts[0].events[0].data).unwrap();
    assert_eq!(hashes, (genesis_code, new_hash));
    assert_eq!(ex.code_hash(&identity_id).unwrap(), Some(new_hash));
    assert!(ex.store().get(&record_key).unwrap().is_some());
    assert_eq!(ex.governance().unwrap().unwrap().upgrades, 1);

    // The same approvals again: refused (the code and the upgrade number moved on).
    let b4 = ex
        .execute(4, 4_000, proposer, vec![upgrade(7, identity_id, quorum)])
        .unwrap();
    assert!(
        failure(&b4, 0).contains("already runs"),
        "{}",
        failure(&b4, 0)
    );
    let back = upgrade_statement(&chain, &identity_id, &genesis_code, &new_hash, 0);
    let b5 = ex
        .execute(
            5,
            5_000,
            proposer,
            vec![tx(
                &alice,
                8,
                Action::Upgrade {
                    contract: identity_id,
                    code: weft_system::IDENTITY.code.to_vec(),
                    approvals: approvals(
                        &governors,
                        &[&members[0], &members[1], &members[2]],
                        back,
                    ),
                },
            )],
        )
        .unwrap();
    assert!(
        failure(&b5, 0).contains("do not authorize"),
        "{}",
        failure(&b5, 0)
    );
}

#[test]
fn a_single_node_chain_is_governed_by_the_producer_of_block_one() {
    let dir = tempfile::tempdir().unwrap();
    let producer = Keypair::from_seed([7; 32]);
    let other = Keypair::from_seed([8; 32]);
    let ex = executor(dir.path(), None);
    ex.execute(1, 1_000, producer.public_key(), vec![]).unwrap();
    let governance = ex.governance().unwrap().unwrap();
    assert_eq!(
        governance.committee.members,
        vec![CommitteeMember {
            public_key: producer.public_key(),
            power: 1
        }]
    );
    let identity_id = weft_system::IDENTITY.id();
    let new_code = counter();
    let statement = upgrade_statement(
        &ChainId(CHAIN.into()),
        &identity_id,
        &weft_system::IDENTITY.code_hash(),
        &CodeHash::of(&new_code),
        0,
    );
    let sender = Keypair::from_seed([9; 32]);
    let signed_by = |key: &Keypair, nonce| {
        tx(
            &sender,
            nonce,
            Action::Upgrade {
                contract: identity_id,
                code: new_code.clone(),
                approvals: QuorumCertificate {
                    signers: vec![1],
                    signatures: vec![key.sign_hash(&weft_types::Hash32(statement.0))],
                },
            },
        )
    };
    let b2 = ex
        .execute(
            2,
            2_000,
            PublicKey([1; 32]),
            vec![signed_by(&other, 0), signed_by(&producer, 1)],
        )
        .unwrap();
    assert!(failure(&b2, 0).contains("does not verify"));
    assert!(matches!(
        b2.receipts[1].status,
        ReceiptStatus::Success { .. }
    ));
    // A quorum for code that is not a valid contract: refused, nothing changes.
    let garbage = b"not a wasm module".to_vec();
    let statement = upgrade_statement(
        &ChainId(CHAIN.into()),
        &identity_id,
        &CodeHash::of(&new_code),
        &CodeHash::of(&garbage),
        1,
    );
    let bad = tx(
        &sender,
        2,
        Action::Upgrade {
            contract: identity_id,
            code: garbage,
            approvals: QuorumCertificate {
                signers: vec![1],
                signatures: vec![producer.sign_hash(&weft_types::Hash32(statement.0))],
            },
        },
    );
    let b3 = ex.execute(3, 3_000, PublicKey([1; 32]), vec![bad]).unwrap();
    assert!(
        failure(&b3, 0).contains("not a valid contract"),
        "{}",
        failure(&b3, 0)
    );
    assert_eq!(
        ex.code_hash(&identity_id).unwrap(),
        Some(CodeHash::of(&new_code))
    );
}
