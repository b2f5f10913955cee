//! Ed25519 signature checks under the ZIP-215 rules, single and batch alike (ADR 0006, 0011).
//!
//! A signature `(R, s)` of message `M` under key `A` is valid when `s` is a canonical scalar,
//! `R` and `A` decompress (non-canonical encodings included), `A` is not of small order
//! ([`SMALL_ORDER_KEYS`], ADR 0009), and the cofactored equation `[8][s]B = [8]R + [8][k]A`
//! holds, with `k = SHA-512(R ‖ A ‖ M) mod l` over the encodings as given. Batch
//! verification checks one random linear combination of those equations, so it accepts
//! exactly what single verification accepts.
//!
//! The checks run over `curve25519-dalek`'s points and multiscalar multiplication, exactly as
//! `ed25519-zebra` computes them (its batch API takes key bytes and decompresses every key in
//! every batch, more than a quarter of a batch's cost; Weft keeps decompressed keys,
//! [`VerifyingKey`]).
//! `ed25519-zebra` is the reference the tests compare against.

use crate::ids::PublicKey;

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
mod verify {
    use super::*;
    use crate::ids::{Hash32, Signature};
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
    use rand::Rng;
    use sha2::{Digest, Sha512};

    /// A public key decompressed for verification. Decompression costs about a tenth of a
    /// single check and more than a quarter of a batched one (`benches/RESULTS.md`), so callers
    /// that see one key often keep these in a cache and check batches over them
    /// ([`verify_all_keyed`]).
    #[derive(Clone, Copy, Debug)]
    pub struct VerifyingKey {
        key: PublicKey,
        point: EdwardsPoint,
    }

    impl VerifyingKey {
        /// Decompresses `key`; a key of small order is refused.
        pub fn new(key: &PublicKey) -> Result<Self, SignatureError> {
            if is_small_order(&key.0) {
                return Err(SignatureError::WeakKey(*key));
            }
            let point = CompressedEdwardsY(key.0)
                .decompress()
                .ok_or(SignatureError::BadKey(*key))?;
            Ok(Self { key: *key, point })
        }

        /// The key as it was encoded.
        pub fn public_key(&self) -> PublicKey {
            self.key
        }

        /// Verifies `signature` over `message` under the ZIP-215 rules (see [`verify_hash`]).
        pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
            let mismatch = || SignatureError::Mismatch(self.key);
            let (r, s) = parts(signature).ok_or_else(mismatch)?;
            let k = challenge(signature, &self.key, message);
            // [8]R = [8]([s]B - [k]A)
            let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-self.point, &s);
            if (r - expected).mul_by_cofactor().is_identity() {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
    }

    /// `R` decompressed and `s` if canonical, or `None`: no equation can hold then.
    fn parts(signature: &Signature) -> Option<(EdwardsPoint, Scalar)> {
        let mut s = [0u8; 32];
        s.copy_from_slice(&signature.0[32..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
        let mut r = [0u8; 32];
        r.copy_from_slice(&signature.0[..32]);
        Some((CompressedEdwardsY(r).decompress()?, s))
    }

    /// `k = SHA-512(R ‖ A ‖ M) mod l`, over the encodings as given.
    fn challenge(signature: &Signature, key: &PublicKey, message: &[u8]) -> Scalar {
        let digest = Sha512::new()
            .chain_update(&signature.0[..32])
            .chain_update(key.0)
            .chain_update(message)
            .finalize();
        Scalar::from_bytes_mod_order_wide(&digest.into())
    }

    /// Verifies an ed25519 signature of a 32-byte hash under the ZIP-215 rules: the cofactored
    /// equation, any encoding of the key and of `R` that decompresses, `s` canonical; and a key
    /// of small order never verifies ([`SMALL_ORDER_KEYS`]). Single and batch verification
    /// ([`verify_batch`]) accept exactly the same signatures, so every node judges every block
    /// alike however it batches. Every signature check in Weft goes through here, a
    /// [`VerifyingKey`] or a batch: transactions, votes, certificates, Tangle blocks, anchors,
    /// and contracts' `ed25519_verify`.
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
        let mut keys = std::collections::HashMap::new();
        let mut keyed = Vec::with_capacity(items.len());
        for (key, hash, signature) in items {
            let verifying = match keys.get(key) {
                Some(k) => *k,
                None => match VerifyingKey::new(key) {
                    Ok(k) => *keys.entry(*key).or_insert(k),
                    Err(_) => return false,
                },
            };
            keyed.push((verifying, *hash, *signature));
        }
        verify_all_keyed(&keyed)
    }

    /// [`verify_all`] over keys already decompressed.
    ///
    /// With random 128-bit `z_i`, checks `[8](-(Σ z_i s_i)B + Σ z_i R_i + Σ (Σ_j z_j k_j) A) = 0`,
    /// one term per distinct key: a batch with a bad signature passes with probability 2^-128.
    pub fn verify_all_keyed(items: &[(VerifyingKey, Hash32, Signature)]) -> bool {
        let mut rng = rand::thread_rng();
        let mut b_coefficient = Scalar::ZERO;
        let mut key_index = std::collections::HashMap::with_capacity(items.len());
        let mut key_coefficients: Vec<Scalar> = Vec::with_capacity(items.len());
        let mut key_points: Vec<EdwardsPoint> = Vec::with_capacity(items.len());
        let mut r_coefficients = Vec::with_capacity(items.len());
        let mut r_points = Vec::with_capacity(items.len());
        for (key, hash, signature) in items {
            let Some((r, s)) = parts(signature) else {
                return false;
            };
            let z = Scalar::from(rng.r#gen::<u128>());
            let k = challenge(signature, &key.key, &hash.0);
            b_coefficient -= z * s;
            r_coefficients.push(z);
            r_points.push(r);
            let i = *key_index.entry(key.key).or_insert_with(|| {
                key_coefficients.push(Scalar::ZERO);
                key_points.push(key.point);
                key_points.len() - 1
            });
            key_coefficients[i] += z * k;
        }
        let check = EdwardsPoint::vartime_multiscalar_mul(
            std::iter::once(&b_coefficient)
                .chain(&key_coefficients)
                .chain(&r_coefficients),
            std::iter::once(&ED25519_BASEPOINT_POINT)
                .chain(&key_points)
                .chain(&r_points),
        );
        check.mul_by_cofactor().is_identity()
    }

    /// Verifies many signatures of 32-byte hashes at once (ZIP-215 batch verification: for 512
    /// signatures about 40 % of the cost per signature of [`verify_hash`], 30 % over cached
    /// keys); returns for each whether it is valid, exactly as [`verify_hash`] would say. A batch
    /// with a bad signature is checked again one by one to find it.
    pub fn verify_batch(items: &[(PublicKey, Hash32, Signature)]) -> Vec<bool> {
        if items.len() > 1 && verify_all(items) {
            return vec![true; items.len()];
        }
        items
            .iter()
            .map(|(key, hash, signature)| verify_hash(key, hash, signature).is_ok())
            .collect()
    }

    /// [`verify_batch`] over keys already decompressed.
    pub fn verify_batch_keyed(items: &[(VerifyingKey, Hash32, Signature)]) -> Vec<bool> {
        if items.len() > 1 && verify_all_keyed(items) {
            return vec![true; items.len()];
        }
        items
            .iter()
            .map(|(key, hash, signature)| key.verify(&hash.0, signature).is_ok())
            .collect()
    }
}

#[cfg(feature = "signing")]
pub use verify::{
    VerifyingKey, verify_all, verify_all_keyed, verify_batch, verify_batch_keyed, verify_hash,
};

#[cfg(all(test, feature = "signing"))]
mod tests {
    use super::*;
    use crate::ids::{Hash32, Signature};
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn signed(seed: u8, hash: u8) -> (PublicKey, Hash32, Signature) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let hash = Hash32([hash; 32]);
        let signature = Signature(key.sign(&hash.0).to_bytes());
        (PublicKey(key.verifying_key().to_bytes()), hash, signature)
    }

    /// What `ed25519-zebra`, the reference implementation of ZIP-215, says alone and in a
    /// batch, with Weft's small-order rule on top.
    fn zebra(items: &[(PublicKey, Hash32, Signature)]) -> (Vec<bool>, bool) {
        let single = items
            .iter()
            .map(|(key, hash, signature)| {
                !is_small_order(&key.0)
                    && ed25519_zebra::VerificationKey::try_from(key.0).is_ok_and(|k| {
                        k.verify(&ed25519_zebra::Signature::from_bytes(&signature.0), &hash.0)
                            .is_ok()
                    })
            })
            .collect();
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for (key, hash, signature) in items {
            batch.queue((
                ed25519_zebra::VerificationKeyBytes::from(key.0),
                ed25519_zebra::Signature::from_bytes(&signature.0),
                &hash.0,
            ));
        }
        let all = !items.iter().any(|(key, _, _)| is_small_order(&key.0))
            && batch.verify(rand_core::OsRng).is_ok();
        (single, all)
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
        assert!(!is_small_order(&signed(9, 9).0.0));
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

    /// Encodings of `R` and of keys at the edges of the rules: the small-order points in every
    /// encoding, `y = 2` (not on the curve), and `y = 3` of large order, canonical and as
    /// `p + 3` (non-canonical; it decompresses), with either sign bit.
    fn edge_encodings() -> Vec<[u8; 32]> {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let mut edges = SMALL_ORDER_KEYS.to_vec();
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(CompressedEdwardsY(off_curve).decompress().is_none());
        edges.push(off_curve);
        let mut three = [0u8; 32];
        three[0] = 3;
        let mut p_plus_3 = [0xFFu8; 32];
        p_plus_3[0] = 0xF0;
        p_plus_3[31] = 0x7F;
        for mut encoding in [three, p_plus_3] {
            let point = CompressedEdwardsY(encoding)
                .decompress()
                .expect("y = 3 is on the curve");
            assert!(!point.is_small_order());
            edges.push(encoding);
            encoding[31] |= 0x80;
            edges.push(encoding);
        }
        edges
    }

    /// Every edge encoding as `R` (with `s = 0` and a real `s`) under a real key, and as the key:
    /// Weft's single and batch checks say what `ed25519-zebra` says.
    #[test]
    fn edge_encodings_are_judged_as_the_reference_judges_them() {
        let (key, hash, real) = signed(3, 3);
        for edge in edge_encodings() {
            for s in [[0u8; 32], real.0[32..].try_into().unwrap()] {
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(&edge);
                signature[32..].copy_from_slice(&s);
                for key in [key, PublicKey(edge)] {
                    let items = [(key, hash, Signature(signature)), signed(1, 2)];
                    let (single, all) = zebra(&items);
                    assert_eq!(verify_batch(&items), single, "{}", hex::encode(edge));
                    assert_eq!(verify_all(&items), all, "{}", hex::encode(edge));
                    assert_eq!(
                        verify_hash(&items[0].0, &items[0].1, &items[0].2).is_ok(),
                        single[0]
                    );
                }
            }
        }
    }

    /// Keys of mixed order (a real key plus a torsion point), signed honestly over that key's
    /// encoding: the cofactored equation accepts them, the uncofactored one would not for seven
    /// of the eight. Single and batch checks accept all eight, as the reference does.
    #[test]
    fn mixed_order_keys_verify_under_the_cofactored_equation() {
        use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
        use curve25519_dalek::scalar::Scalar;
        use sha2::{Digest, Sha512};
        let wide = |bytes: &[&[u8]]| {
            let mut h = Sha512::new();
            for b in bytes {
                h.update(b);
            }
            Scalar::from_bytes_mod_order_wide(&h.finalize().into())
        };
        let secret = wide(&[b"secret"]);
        let message = Hash32([7; 32]);
        let mut items = Vec::new();
        for (i, torsion) in EIGHT_TORSION.iter().enumerate() {
            let key = (secret * ED25519_BASEPOINT_POINT + torsion).compress().0;
            let nonce = wide(&[b"nonce", &[i as u8]]);
            let r = (nonce * ED25519_BASEPOINT_POINT).compress().0;
            let k = wide(&[&r, &key, &message.0]);
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&r);
            signature[32..].copy_from_slice((nonce + k * secret).as_bytes());
            items.push((PublicKey(key), message, Signature(signature)));
        }
        assert_eq!(zebra(&items), (vec![true; 8], true));
        assert_eq!(verify_batch(&items), vec![true; 8]);
        assert!(verify_all(&items));
        for (key, hash, signature) in &items {
            assert_eq!(verify_hash(key, hash, signature), Ok(()));
        }
    }

    /// A batch with many signatures by few keys (terms per key are summed) and with one
    /// signature replaced by another key's: both sides agree with the reference.
    #[test]
    fn repeated_keys_in_a_batch() {
        let mut items: Vec<_> = (0..40u8).map(|i| signed(i % 3, i)).collect();
        assert!(verify_all(&items));
        assert_eq!(zebra(&items), (vec![true; 40], true));
        items[17].2 = signed(1, 17).2;
        assert!(!verify_all(&items));
        let verdicts = verify_batch(&items);
        assert_eq!(zebra(&items), (verdicts.clone(), false));
        assert_eq!(verdicts.iter().filter(|ok| !**ok).count(), 1);
    }

    proptest! {
        /// Random keys, messages and tampering: single, batch and keyed batch all agree with
        /// the reference, bit for bit.
        #[test]
        fn agrees_with_the_reference(
            seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..12),
            tamper in proptest::collection::vec((any::<usize>(), 0usize..96, any::<u8>()), 0..3),
        ) {
            let mut items: Vec<_> = seeds
                .iter()
                .enumerate()
                .map(|(i, seed)| {
                    let key = SigningKey::from_bytes(seed);
                    let hash = Hash32(*blake3::hash(&i.to_le_bytes()).as_bytes());
                    let signature = Signature(key.sign(&hash.0).to_bytes());
                    (PublicKey(key.verifying_key().to_bytes()), hash, signature)
                })
                .collect();
            for (item, at, flip) in tamper {
                let n = items.len();
                let (_, hash, signature) = &mut items[item % n];
                if at < 64 {
                    signature.0[at] ^= flip;
                } else {
                    hash.0[at - 64] ^= flip;
                }
            }
            let (single, all) = zebra(&items);
            prop_assert_eq!(verify_batch(&items), single.clone());
            prop_assert_eq!(verify_all(&items), all);
            let keyed: Vec<_> = items
                .iter()
                .map(|(k, h, s)| (VerifyingKey::new(k).unwrap(), *h, *s))
                .collect();
            prop_assert_eq!(verify_batch_keyed(&keyed), single);
            prop_assert_eq!(verify_all_keyed(&keyed), all);
        }
    }
}
