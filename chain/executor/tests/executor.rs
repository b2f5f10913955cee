//! The executor over a real RocksDB store with the real VM and the counter contract.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use std::sync::Arc;
use weft_executor::COLUMN_FAMILIES;
use weft_executor::{Executor, ExecutorError, keys};
use weft_state::StateStore;
use weft_types::{
    Action, ChainId, ContractId, Keypair, PublicKey, ReceiptStatus, SignedTransaction, Transaction,
};
use weft_vm::{Vm, VmConfig};

const CHAIN: &str = "weft-test";
const GAS: u64 = 100_000_000;

fn counter() -> Vec<u8> {
    weft_testkit::build_contract(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/counter"
    ))
}

fn executor(dir: &Path) -> Executor {
    let store = Arc::new(StateStore::open(dir, COLUMN_FAMILIES).unwrap());
    Executor::new(
        Vm::new(VmConfig::default()).unwrap(),
        store,
        ChainId(CHAIN.into()),
        GAS,
    )
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

fn increment(key: &Keypair, nonce: u64, contract: ContractId, by: u64) -> SignedTransaction {
    tx(
        key,
        nonce,
        Action::Call {
            contract,
            method: "increment".into(),
            args: borsh::to_vec(&(by,)).unwrap(),
        },
    )
}

#[test]
fn blocks_execute_commit_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Keypair::from_seed([1; 32]);
    let proposer = PublicKey([9; 32]);
    let deploy = tx(
        &alice,
        0,
        Action::Deploy {
            code: counter(),
            init_args: borsh::to_vec(&(5u64,)).unwrap(),
        },
    );
    let contract = ContractId::derive(&alice.public_key().address(), 0);
    let (root2, hash2) = {
        let ex = executor(dir.path());
        let b1 = ex.execute(1, 1_000, proposer, vec![deploy]).unwrap();
        assert_eq!(
            b1.receipts[0].contract,
            Some(contract),
            "{:?}",
            b1.receipts[0].status
        );
        let b2 = ex
            .execute(
                2,
                2_000,
                proposer,
                vec![
                    increment(&alice, 1, contract, 2),
                    increment(&alice, 2, contract, 0),
                    increment(&alice, 3, contract, 3),
                ],
            )
            .unwrap();
        let statuses: Vec<_> = b2.receipts.iter().map(|r| &r.status).collect();
        assert_eq!(
            statuses[0],
            &ReceiptStatus::Success {
                return_data: borsh::to_vec(&7u64).unwrap()
            }
        );
        assert!(
            matches!(statuses[1], ReceiptStatus::Failure { error } if error.contains("increment by at least 1"))
        );
        assert_eq!(
            statuses[2],
            &ReceiptStatus::Success {
                return_data: borsh::to_vec(&10u64).unwrap()
            },
            "the failed tx reverted only itself"
        );
        assert!(b2.receipts[1].gas_used > 0, "a failure is charged");
        assert_eq!(b2.block.header.parent, b1.hash);
        assert_eq!(b2.block.header.state_root, ex.store().root(2).unwrap());
        assert_eq!(
            ex.nonce(&alice.public_key().address()).unwrap(),
            4,
            "failed transactions use their nonce too"
        );
        (b2.block.header.state_root, b2.hash)
    };
    // Everything is there after reopening: height, root, blocks, receipts, state.
    let ex = executor(dir.path());
    assert_eq!(ex.store().version().unwrap(), Some(2));
    assert_eq!(ex.store().root(2).unwrap(), root2);
    let block = ex.block(2).unwrap().unwrap();
    assert_eq!(block.header.hash(), hash2);
    let receipt = ex.receipt(&block.txs[2].tx.hash()).unwrap().unwrap();
    assert_eq!((receipt.height, receipt.index), (2, 2));
    let stored = ex
        .store()
        .get(&keys::storage(&contract, b"\x05count"))
        .unwrap();
    assert_eq!(stored, Some(10u64.to_le_bytes().to_vec()));
    // A proof of the counter's storage verifies against the header's state root.
    let proof = ex
        .store()
        .prove(&keys::storage(&contract, b"\x05count"), 2)
        .unwrap();
    assert_eq!(
        proof
            .verify_key(&root2, &keys::storage(&contract, b"\x05count"))
            .unwrap(),
        Some(10u64.to_le_bytes().as_slice())
    );
}

#[test]
fn two_nodes_executing_the_same_blocks_agree() {
    let alice = Keypair::from_seed([2; 32]);
    let contract = ContractId::derive(&alice.public_key().address(), 0);
    let blocks = [
        vec![tx(
            &alice,
            0,
            Action::Deploy {
                code: counter(),
                init_args: borsh::to_vec(&(1u64,)).unwrap(),
            },
        )],
        (1..=20)
            .map(|n| increment(&alice, n, contract, n))
            .collect::<Vec<_>>(),
    ];
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let ex = executor(dir.path());
        blocks
            .iter()
            .enumerate()
            .map(|(i, txs)| {
                let b = ex
                    .execute(
                        i as u64 + 1,
                        1_000 * (i as u64 + 1),
                        PublicKey([7; 32]),
                        txs.clone(),
                    )
                    .unwrap();
                (b.hash, b.receipts)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn invalid_transactions_make_the_block_invalid_and_commit_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ex = executor(dir.path());
    let alice = Keypair::from_seed([3; 32]);
    let contract = ContractId([0; 32]);
    let err = ex
        .execute(
            1,
            0,
            PublicKey([0; 32]),
            vec![increment(&alice, 1, contract, 1)],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction 0 of block 1 has nonce 1; the sender's next nonce is 0"
    );
    let mut forged = increment(&alice, 0, contract, 1);
    forged.signature.0[5] ^= 1;
    assert!(matches!(
        ex.execute(1, 0, PublicKey([0; 32]), vec![forged])
            .unwrap_err(),
        ExecutorError::BadSignature { index: 0, .. }
    ));
    let other_chain = alice.sign(Transaction {
        chain_id: ChainId("weft-other".into()),
        sender: alice.public_key(),
        nonce: 0,
        gas_limit: GAS,
        action: Action::Call {
            contract,
            method: "get".into(),
            args: vec![],
        },
    });
    assert_eq!(
        ex.execute(1, 0, PublicKey([0; 32]), vec![other_chain])
            .unwrap_err()
            .to_string(),
        "transaction 0 of block 1 is for chain weft-other, not weft-test"
    );
    assert!(matches!(
        ex.execute(5, 0, PublicKey([0; 32]), vec![]).unwrap_err(),
        ExecutorError::WrongHeight {
            height: 5,
            expected: 1
        }
    ));
    assert_eq!(ex.store().version().unwrap(), None, "nothing was committed");
    // A call of a missing contract is a failed receipt, not an invalid block.
    let b = ex
        .execute(
            1,
            0,
            PublicKey([0; 32]),
            vec![increment(&alice, 0, contract, 1)],
        )
        .unwrap();
    assert!(
        matches!(&b.receipts[0].status, ReceiptStatus::Failure { error } if error.contains("no contract is deployed"))
    );
}
