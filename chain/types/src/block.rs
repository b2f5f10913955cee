//! Blocks and receipts.

pub use crate::ids::BlockHash;
use crate::ids::domain_hash;
use crate::{Address, ChainId, ContractId, Event, Hash32, PublicKey, SignedTransaction, TxHash};
use borsh::{BorshDeserialize, BorshSerialize};

/// Domain tag of block hashes.
pub const BLOCK_DOMAIN: &str = "weft/block/v1";

/// What a block commits to.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    /// The chain.
    pub chain_id: ChainId,
    /// Height; the first block is 1.
    pub height: u64,
    /// Block time in milliseconds since the Unix epoch, as agreed by consensus.
    pub time_ms: u64,
    /// The previous block's hash (zero for height 1).
    pub parent: BlockHash,
    /// [`list_hash`] of the transaction hashes, in order.
    pub tx_root: Hash32,
    /// The state root after executing this block.
    pub state_root: Hash32,
    /// [`list_hash`] of the receipts' hashes, in order.
    pub receipts_root: Hash32,
    /// Who proposed the block.
    pub proposer: PublicKey,
}

impl BlockHeader {
    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        domain_hash(BLOCK_DOMAIN, &[&bytes])
    }
}

/// A block: its header and transactions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ReceiptStatus {
    /// It succeeded; the method's borsh-encoded result.
    Success {
        /// Return data.
        return_data: Vec<u8>,
    },
    /// It failed; its writes and events were discarded, its gas charged, its nonce used.
    Failure {
        /// Why, as the VM explained it.
        error: String,
    },
}

/// The result of one transaction in a block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: TxHash,
    /// The block height it was executed in.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The sender.
    pub sender: Address,
    /// Success with return data, or failure with the reason.
    pub status: ReceiptStatus,
    /// Gas consumed.
    pub gas_used: u64,
    /// Events emitted (none on failure).
    pub events: Vec<Event>,
    /// The contract created, for a successful deploy.
    pub contract: Option<ContractId>,
}

impl Receipt {
    /// The receipt's hash, committed to by the block's `receipts_root`.
    pub fn hash(&self) -> Hash32 {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        domain_hash("weft/receipt/v1", &[&bytes])
    }
}

/// A commitment to an ordered list of hashes (transactions or receipts of a block).
pub fn list_hash(domain: &str, hashes: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let joined: Vec<u8> = hashes.into_iter().flat_map(|h| h.0).collect();
    domain_hash(domain, &[&joined])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn headers_and_receipts_round_trip(height in any::<u64>(), time in any::<u64>(), gas in any::<u64>(), ok in any::<bool>(), data in proptest::collection::vec(any::<u8>(), 0..32)) {
            let header = BlockHeader {
                chain_id: ChainId("weft-devnet".into()), height, time_ms: time, parent: Hash32([1; 32]),
                tx_root: Hash32([2; 32]), state_root: Hash32([3; 32]), receipts_root: Hash32([4; 32]), proposer: PublicKey([5; 32]),
            };
            prop_assert_eq!(borsh::from_slice::<BlockHeader>(&borsh::to_vec(&header).unwrap()).unwrap(), header.clone());
            let status = if ok { ReceiptStatus::Success { return_data: data } } else { ReceiptStatus::Failure { error: "out of gas".into() } };
            let receipt = Receipt { tx_hash: Hash32([6; 32]), height, index: 3, sender: Address([7; 32]), status, gas_used: gas, events: vec![], contract: None };
            prop_assert_eq!(borsh::from_slice::<Receipt>(&borsh::to_vec(&receipt).unwrap()).unwrap(), receipt);
        }
    }

    #[test]
    fn list_hash_depends_on_order_and_domain() {
        let (a, b) = (Hash32([1; 32]), Hash32([2; 32]));
        assert_ne!(list_hash("x", [a, b]), list_hash("x", [b, a]));
        assert_ne!(list_hash("x", [a]), list_hash("y", [a]));
    }
}
