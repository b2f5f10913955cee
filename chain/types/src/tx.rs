//! Transactions: what a client signs and sends.
//!
//! A [`Transaction`] names the chain, the sender's public key, a per-sender nonce, a gas limit
//! and an [`Action`]. Its hash ([`TxHash`]) is blake3 over the domain-tagged borsh encoding, and
//! the sender signs that hash with ed25519. The signature is not part of the hash, so a
//! transaction has one id however it is signed.

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

/// Why a signed transaction is not authentic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The sender's key is not a valid ed25519 point.
    #[error("the sender public key {0:?} is not a valid ed25519 key")]
    BadKey(PublicKey),
    /// The signature does not verify.
    #[error("the signature does not match the transaction and its sender key {0:?}")]
    Mismatch(PublicKey),
    /// The key is a point of small order, under which any signature would verify.
    #[error(
        "the public key {0:?} is a point of small order: no key pair has it, and any signature would verify under it"
    )]
    WeakKey(PublicKey),
}

/// Every 32-byte encoding of a point of small order (the eight torsion points) that
/// ed25519 decompression accepts: canonical and non-canonical `y`, either sign bit.
///
/// A signature under such a key proves nothing: with `R` = the key and `s = 0`, ZIP-215's
/// cofactored equation holds for every message. No real key pair has one of these public keys,
/// so Weft refuses them as keys everywhere ([`is_small_order`]): nobody can act for such an
/// account, sign for such a DID key or a permit by such a payer.
pub const SMALL_ORDER_KEYS: [[u8; 32]; 14] = {
    const fn with_top(mut b: [u8; 32], top: u8) -> [u8; 32] {
        b[31] = top;
        b
    }
    const fn y(low: u8, fill: u8, top: u8) -> [u8; 32] {
        let mut b = [fill; 32];
        b[0] = low;
        b[31] = top;
        b
    }
    // The order-8 points' y, and p minus it, little-endian.
    const Y8: [u8; 32] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    const P_MINUS_Y8: [u8; 32] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    [
        y(0x01, 0x00, 0x00), // y = 1: the identity
        y(0x01, 0x00, 0x80),
        y(0xee, 0xff, 0x7f), // y = p + 1: the identity, non-canonical
        y(0xee, 0xff, 0xff),
        y(0xec, 0xff, 0x7f), // y = p - 1: order 2
        y(0xec, 0xff, 0xff),
        y(0x00, 0x00, 0x00), // y = 0: order 4
        y(0x00, 0x00, 0x80),
        y(0xed, 0xff, 0x7f), // y = p: order 4, non-canonical
        y(0xed, 0xff, 0xff),
        Y8, // order 8
        with_top(Y8, 0xfa),
        P_MINUS_Y8,
        with_top(P_MINUS_Y8, 0x85),
    ]
};

/// Whether `key` encodes a point of small order ([`SMALL_ORDER_KEYS`]), which no signature
/// check accepts as a key.
pub fn is_small_order(key: &[u8; 32]) -> bool {
    SMALL_ORDER_KEYS.contains(key)
}

#[cfg(feature = "signing")]
mod signing {
    use super::*;
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

    /// A public key decompressed for verification. Decompression is about a third of a
    /// verification, so callers that see one key often keep these in a cache.
    #[derive(Clone, Copy, Debug)]
    pub struct VerifyingKey(ed25519_zebra::VerificationKey);

    impl VerifyingKey {
        /// Decompresses `key`.
        pub fn new(key: &PublicKey) -> Result<Self, SignatureError> {
            if is_small_order(&key.0) {
                return Err(SignatureError::WeakKey(*key));
            }
            ed25519_zebra::VerificationKey::try_from(key.0)
                .map(Self)
                .map_err(|_| SignatureError::BadKey(*key))
        }

        /// Verifies `signature` over `message` under the ZIP-215 rules (see [`verify_hash`]).
        pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
            self.0
                .verify(&ed25519_zebra::Signature::from_bytes(&signature.0), message)
                .map_err(|_| SignatureError::Mismatch(PublicKey(self.0.into())))
        }
    }

    /// Verifies an ed25519 signature of a 32-byte hash under the ZIP-215 rules
    /// (`ed25519-zebra`): the cofactored equation, any encoding of the key and of `R` that
    /// decompresses, `s` canonical; and a key of small order never verifies
    /// ([`SMALL_ORDER_KEYS`]). Single and batch verification ([`verify_batch`]) accept
    /// exactly the same signatures, so every node judges every block alike however it batches.
    /// Every signature check in Weft goes through here or [`verify_batch`]: transactions, votes,
    /// certificates, Tangle blocks, anchors, and contracts' `ed25519_verify`.
    pub fn verify_hash(
        key: &PublicKey,
        hash: &Hash32,
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        VerifyingKey::new(key)?.verify(&hash.0, signature)
    }

    /// Whether every signature is valid, in one batch check (no search for the bad one: for
    /// senders who relay only what they checked, one bad signature condemns the lot).
    pub fn verify_all(items: &[(PublicKey, Hash32, Signature)]) -> bool {
        if items.iter().any(|(key, _, _)| is_small_order(&key.0)) {
            return false;
        }
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for (key, hash, signature) in items {
            batch.queue((
                ed25519_zebra::VerificationKeyBytes::from(key.0),
                ed25519_zebra::Signature::from_bytes(&signature.0),
                &hash.0,
            ));
        }
        batch.verify(rand_core::OsRng).is_ok()
    }

    /// Verifies many signatures of 32-byte hashes at once (ZIP-215 batch verification, about
    /// half the cost per signature of [`verify_hash`]); returns for each whether it is valid,
    /// exactly as [`verify_hash`] would say. A batch with a bad signature is checked again one
    /// by one to find it.
    pub fn verify_batch(items: &[(PublicKey, Hash32, Signature)]) -> Vec<bool> {
        if items.len() > 1 && verify_all(items) {
            return vec![true; items.len()];
        }
        items
            .iter()
            .map(|(key, hash, signature)| verify_hash(key, hash, signature).is_ok())
            .collect()
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
pub use signing::{Keypair, VerifyingKey, verify_all, verify_batch, verify_hash};

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

    fn signed(seed: u8, hash: u8) -> (PublicKey, Hash32, Signature) {
        let key = Keypair::from_seed([seed; 32]);
        let hash = Hash32([hash; 32]);
        (key.public_key(), hash, key.sign_hash(&hash))
    }

    #[test]
    fn batch_and_single_verification_agree() {
        let mut items: Vec<_> = (0..16).map(|i| signed(i, i.wrapping_mul(7))).collect();
        assert_eq!(verify_batch(&items), vec![true; 16]);
        assert!(verify_all(&items));
        // One wrong hash and one flipped signature bit: the batch finds exactly those.
        items[3].1 = Hash32([0xEE; 32]);
        items[9].2.0[5] ^= 1;
        let verdicts = verify_batch(&items);
        for (i, (key, hash, signature)) in items.iter().enumerate() {
            assert_eq!(
                verdicts[i],
                verify_hash(key, hash, signature).is_ok(),
                "item {i}"
            );
            assert_eq!(verdicts[i], i != 3 && i != 9, "item {i}");
        }
        assert_eq!(verify_batch(&items[..1]), vec![true]);
        assert!(verify_batch(&[]).is_empty());
    }

    /// ZIP-215's defining case: the identity as key and as `R`, with `s = 0`, satisfies the
    /// cofactored equation for any message, and so does the non-canonical encoding of the
    /// identity (y = 1 + p). Weft refuses every small-order key, alone and in a batch alike, so
    /// nobody can sign for such an account.
    #[test]
    fn small_order_keys_never_verify_single_or_batch() {
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        // y = 2^255 - 19 + 1 = p + 1, the non-canonical encoding of y = 1.
        let non_canonical = {
            let mut b = [0xFFu8; 32];
            b[0] = 0xEE;
            b[31] = 0x7F;
            b
        };
        for encoding in [identity, non_canonical] {
            let key = PublicKey(encoding);
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&encoding);
            let signature = Signature(signature);
            // The equation holds: only the small-order rule refuses it.
            let zebra = ed25519_zebra::VerificationKey::try_from(encoding)
                .unwrap()
                .verify(
                    &ed25519_zebra::Signature::from_bytes(&signature.0),
                    &[0u8; 32],
                );
            assert!(zebra.is_ok(), "ZIP-215 alone accepts it");
            for message in [[0u8; 32], [0xAB; 32]] {
                let hash = Hash32(message);
                assert!(matches!(
                    verify_hash(&key, &hash, &signature),
                    Err(SignatureError::WeakKey(_))
                ));
                assert_eq!(
                    verify_batch(&[(key, hash, signature), signed(1, 2)]),
                    vec![false, true]
                );
            }
        }
    }

    /// The list holds exactly the encodings of the eight torsion points that decompress.
    #[test]
    fn the_small_order_list_is_every_torsion_encoding() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        for encoding in SMALL_ORDER_KEYS {
            let point = CompressedEdwardsY(encoding)
                .decompress()
                .unwrap_or_else(|| panic!("{} decompresses", hex::encode(encoding)));
            assert!(point.is_small_order(), "{}", hex::encode(encoding));
        }
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            assert!(is_small_order(&point.compress().0));
        }
        let mut unique = SMALL_ORDER_KEYS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 14);
        // A real key is not on the list.
        assert!(!is_small_order(&Keypair::from_seed([9; 32]).public_key().0));
    }

    #[test]
    fn non_canonical_s_is_refused_single_and_batch() {
        // A non-canonical s (s + l) is refused by both rules.
        let (key, hash, mut signature) = signed(4, 4);
        let l: [u8; 32] = [
            0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9,
            0xDE, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, add) in signature.0[32..].iter_mut().zip(l) {
            let sum = u16::from(*byte) + u16::from(add) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert!(verify_hash(&key, &hash, &signature).is_err());
        assert_eq!(
            verify_batch(&[(key, hash, signature), signed(1, 2)]),
            vec![false, true]
        );
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
