//! Transactions: what a client signs and sends.
//!
//! A [`Transaction`] names the chain, the sender's public key, a per-sender nonce, a gas limit
//! and an [`Action`]. Its hash ([`TxHash`]) is blake3 over the domain-tagged borsh encoding, and
//! the sender signs that hash with ed25519. The signature is not part of the hash, so a
//! transaction has one id however it is signed.

pub use crate::ed25519::{SMALL_ORDER_KEYS, SignatureError, is_small_order};
use crate::ids::domain_hash;
pub use crate::ids::{ChainId, PublicKey, Signature};
use crate::{ContractId, Hash32};
use borsh::{BorshDeserialize, BorshSerialize};

/// Domain tag of transaction hashes; bumping it invalidates every signature.
pub const TX_DOMAIN: &str = "weft/tx/v1";

/// Longest accepted chain id, in bytes.
pub const MAX_CHAIN_ID: usize = 64;

/// The hash of a transaction; its id.
pub type TxHash = Hash32;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Action {
    /// Deploy wasm code and run its init method with borsh-encoded arguments. The new contract's id
    /// is [`ContractId::derive`] of the sender and the transaction's nonce.
    Deploy {
        /// The wasm module.
        code: Vec<u8>,
        /// Borsh-encoded arguments of the init method (empty when it takes none).
        init_args: Vec<u8>,
    },
    /// Call a method of a deployed contract with borsh-encoded arguments.
    Call {
        /// The contract.
        contract: ContractId,
        /// The method name.
        method: String,
        /// Borsh-encoded arguments.
        args: Vec<u8>,
    },
    /// Replace a system contract's code, keeping its storage. Valid only with signatures of
    /// members holding more than two thirds of the committee's power (on a single-node chain, its
    /// key) over [`upgrade_statement`]; anyone may submit it.
    Upgrade {
        /// The system contract.
        contract: ContractId,
        /// The new wasm module.
        code: Vec<u8>,
        /// The committee's signatures, in the order of the committee's members sorted by key.
        approvals: crate::QuorumCertificate,
    },
}

/// Domain tag of [`upgrade_statement`].
pub const UPGRADE_DOMAIN: &str = "weft/upgrade/v1";

/// What the committee signs to replace `contract`'s code `from` by `to` on `chain`, as upgrade
/// number `sequence` of the chain (0 for the first): each approval is good for one upgrade only.
pub fn upgrade_statement(
    chain: &ChainId,
    contract: &ContractId,
    from: &crate::CodeHash,
    to: &crate::CodeHash,
    sequence: u64,
) -> crate::StatementId {
    crate::StatementId(
        domain_hash(
            UPGRADE_DOMAIN,
            &[
                chain.0.as_bytes(),
                &contract.0,
                &from.0,
                &to.0,
                &sequence.to_le_bytes(),
            ],
        )
        .0,
    )
}

/// An unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The chain it is for.
    pub chain_id: ChainId,
    /// Who sends it; pays nothing (Weft has no fees) but is rate-limited and nonce-ordered.
    pub sender: PublicKey,
    /// The sender's next nonce: 0 for the first transaction, then 1, 2, …
    pub nonce: u64,
    /// Most gas it may use.
    pub gas_limit: u64,
    /// What it does.
    pub action: Action,
}

impl Transaction {
    /// The transaction's hash: blake3 over [`TX_DOMAIN`] and its borsh encoding.
    pub fn hash(&self) -> TxHash {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        domain_hash(TX_DOMAIN, &[&bytes])
    }
}

/// A transaction with its sender's signature over [`Transaction::hash`].
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The signature of `tx.hash()` by `tx.sender`.
    pub signature: Signature,
}

#[cfg(feature = "signing")]
mod signing {
    use super::*;
    use crate::ed25519::verify_hash;
    use ed25519_dalek::{Signer, SigningKey};

    /// A secret ed25519 key that signs transactions.
    pub struct Keypair(SigningKey);

    impl Keypair {
        /// The keypair of a 32-byte secret seed.
        pub fn from_seed(seed: [u8; 32]) -> Self {
            Self(SigningKey::from_bytes(&seed))
        }

        /// The secret seed.
        pub fn seed(&self) -> [u8; 32] {
            self.0.to_bytes()
        }

        /// The public key.
        pub fn public_key(&self) -> PublicKey {
            PublicKey(self.0.verifying_key().to_bytes())
        }

        /// Signs 32 bytes (a hash).
        pub fn sign_hash(&self, hash: &Hash32) -> Signature {
            Signature(self.0.sign(&hash.0).to_bytes())
        }

        /// Signs a transaction.
        pub fn sign(&self, tx: Transaction) -> SignedTransaction {
            let signature = self.sign_hash(&tx.hash());
            SignedTransaction { tx, signature }
        }
    }

    impl std::fmt::Debug for Keypair {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Keypair({:?})", self.public_key())
        }
    }

    impl SignedTransaction {
        /// Checks the signature; returns the transaction's hash.
        pub fn verify(&self) -> Result<TxHash, SignatureError> {
            let hash = self.tx.hash();
            verify_hash(&self.tx.sender, &hash, &self.signature)?;
            Ok(hash)
        }
    }
}

#[cfg(feature = "signing")]
pub use signing::Keypair;

#[cfg(all(test, feature = "signing"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (
                proptest::collection::vec(any::<u8>(), 0..64),
                proptest::collection::vec(any::<u8>(), 0..16)
            )
                .prop_map(|(code, init_args)| Action::Deploy { code, init_args }),
            (
                any::<[u8; 32]>(),
                "[a-z_]{1,12}",
                proptest::collection::vec(any::<u8>(), 0..16)
            )
                .prop_map(|(id, method, args)| Action::Call {
                    contract: ContractId(id),
                    method,
                    args
                }),
        ]
    }

    proptest! {
        #[test]
        fn signed_transactions_round_trip_and_verify(
            seed in any::<[u8; 32]>(), nonce in any::<u64>(), gas in any::<u64>(), action in action(), chain in "[a-z-]{1,16}"
        ) {
            let key = Keypair::from_seed(seed);
            let tx = Transaction { chain_id: ChainId(chain), sender: key.public_key(), nonce, gas_limit: gas, action };
            let signed = key.sign(tx);
            let bytes = borsh::to_vec(&signed).unwrap();
            let decoded: SignedTransaction = borsh::from_slice(&bytes).unwrap();
            prop_assert_eq!(&decoded, &signed);
            prop_assert_eq!(decoded.verify().unwrap(), signed.tx.hash());
        }
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let key = Keypair::from_seed([9; 32]);
        let tx = Transaction {
            chain_id: ChainId("weft-devnet".into()),
            sender: key.public_key(),
            nonce: 0,
            gas_limit: 1_000_000,
            action: Action::Call {
                contract: ContractId([1; 32]),
                method: "increment".into(),
                args: vec![1],
            },
        };
        let signed = key.sign(tx);
        let mut other_chain = signed.clone();
        other_chain.tx.chain_id = ChainId("weft-mainnet".into());
        assert_eq!(
            other_chain.verify(),
            Err(SignatureError::Mismatch(key.public_key()))
        );
        let mut other_nonce = signed.clone();
        other_nonce.tx.nonce = 1;
        assert!(other_nonce.verify().is_err());
        let mut forged = signed.clone();
        forged.signature.0[0] ^= 1;
        assert!(forged.verify().is_err());
        let mut bad_key = signed;
        bad_key.tx.sender = PublicKey([0xff; 32]);
        assert!(bad_key.verify().is_err());
    }
}
