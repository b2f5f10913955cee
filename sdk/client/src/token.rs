//! Fungible tokens from Rust: the token contract's transactions ([`tx`]), permits signed offline
//! ([`sign_permit`]), its views, and balances and tokens read with proofs ([`balance_proven`],
//! [`info_proven`]).
//!
//! The model is `weft_types::token`; amounts are `u128` base units (`format_amount` and
//! `parse_amount` convert them to and from decimal text). Every request names the holder
//! (`weft_types::holder::Holder`) it acts for: the sender's account, or a DID whose
//! `capabilityInvocation` keys include the sender's.

#[cfg(feature = "transport")]
use crate::credentials::{CredentialVerifier, VerifierError};
#[cfg(feature = "transport")]
use weft_types::holder::Holder;
#[cfg(feature = "transport")]
use weft_types::token::{Allowance, Minter, Token, TokenId, storage};
use weft_types::token::{Permit, permit_message, settlement_message};
use weft_types::{ContractId, Keypair};

/// The token system contract.
pub fn contract() -> ContractId {
    ContractId::system("token")
}

/// Transactions of the token contract, built and signed by a [`crate::Signer`] whose key speaks
/// for the holder named (its account, or a `capabilityInvocation` key of its DID).
pub mod tx {
    use crate::Signer;
    use weft_types::SignedTransaction;
    use weft_types::holder::Holder;
    use weft_types::token::{Metadata, Permit, TokenId, TokenSpec};

    fn call<A: borsh::BorshSerialize>(
        signer: &mut Signer,
        method: &str,
        args: &A,
    ) -> SignedTransaction {
        signer.call(
            super::contract(),
            method,
            borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail"),
        )
    }

    /// `create(owner, spec)`: returns the token's number.
    pub fn create(signer: &mut Signer, owner: &Holder, spec: &TokenSpec) -> SignedTransaction {
        call(signer, "create", &(owner, spec))
    }

    /// `set_minter(token, minter, cap)`, by the token's owner: `cap` base units in all (`None`:
    /// up to the maximum supply).
    pub fn set_minter(
        signer: &mut Signer,
        token: TokenId,
        minter: &Holder,
        cap: Option<u128>,
    ) -> SignedTransaction {
        call(signer, "set_minter", &(token, minter, cap))
    }

    /// `remove_minter(token, minter)`, by the token's owner.
    pub fn remove_minter(
        signer: &mut Signer,
        token: TokenId,
        minter: &Holder,
    ) -> SignedTransaction {
        call(signer, "remove_minter", &(token, minter))
    }

    /// `mint(token, minter, to, amount)`, by the minter.
    pub fn mint(
        signer: &mut Signer,
        token: TokenId,
        minter: &Holder,
        to: &Holder,
        amount: u128,
    ) -> SignedTransaction {
        call(signer, "mint", &(token, minter, to, amount))
    }

    /// `burn(token, from, amount)`, by the holder.
    pub fn burn(
        signer: &mut Signer,
        token: TokenId,
        from: &Holder,
        amount: u128,
    ) -> SignedTransaction {
        call(signer, "burn", &(token, from, amount))
    }

    /// `transfer(token, from, to, amount)`, by the sender `from`.
    pub fn transfer(
        signer: &mut Signer,
        token: TokenId,
        from: &Holder,
        to: &Holder,
        amount: u128,
    ) -> SignedTransaction {
        call(signer, "transfer", &(token, from, to, amount))
    }

    /// `transfer_batch(token, from, transfers)`: all or none, at most
    /// `weft_types::token::MAX_BATCH` recipients.
    pub fn transfer_batch(
        signer: &mut Signer,
        token: TokenId,
        from: &Holder,
        transfers: &[(Holder, u128)],
    ) -> SignedTransaction {
        call(signer, "transfer_batch", &(token, from, transfers))
    }

    /// `approve(token, owner, spender, amount, expires_ms)`: replaces any earlier allowance; an
    /// amount of 0 removes it.
    pub fn approve(
        signer: &mut Signer,
        token: TokenId,
        owner: &Holder,
        spender: &Holder,
        amount: u128,
        expires_ms: Option<u64>,
    ) -> SignedTransaction {
        call(
            signer,
            "approve",
            &(token, owner, spender, amount, expires_ms),
        )
    }

    /// `transfer_from(token, spender, from, to, amount)`, by the spender within its allowance.
    pub fn transfer_from(
        signer: &mut Signer,
        token: TokenId,
        spender: &Holder,
        from: &Holder,
        to: &Holder,
        amount: u128,
    ) -> SignedTransaction {
        call(signer, "transfer_from", &(token, spender, from, to, amount))
    }

    /// `transfer_signed(permit, signer, signature)`: relays a permit signed with
    /// [`super::sign_permit`]; any account may send it.
    pub fn transfer_signed(
        signer: &mut Signer,
        permit: &Permit,
        permit_signer: &[u8; 32],
        signature: &[u8; 64],
    ) -> SignedTransaction {
        call(
            signer,
            "transfer_signed",
            &(permit, permit_signer, signature),
        )
    }

    /// `settle(legs, signatures)`: carries out several legs at once, all or none (delivery
    /// against payment), each signed by its payer over all of them with
    /// [`super::sign_settlement`]; any account may send it.
    pub fn settle(
        signer: &mut Signer,
        legs: &[Permit],
        signatures: &[([u8; 32], [u8; 64])],
    ) -> SignedTransaction {
        call(signer, "settle", &(legs, signatures))
    }

    /// `pause(token, paused)`, by the owner of a pausable token (`false` restarts movements).
    pub fn pause(signer: &mut Signer, token: TokenId, paused: bool) -> SignedTransaction {
        call(signer, "pause", &(token, paused))
    }

    /// `freeze(token, holder, frozen)`, by the owner of a freezable token.
    pub fn freeze(
        signer: &mut Signer,
        token: TokenId,
        holder: &Holder,
        frozen: bool,
    ) -> SignedTransaction {
        call(signer, "freeze", &(token, holder, frozen))
    }

    /// `set_metadata(token, metadata)`, by the owner.
    pub fn set_metadata(
        signer: &mut Signer,
        token: TokenId,
        metadata: &Metadata,
    ) -> SignedTransaction {
        call(signer, "set_metadata", &(token, metadata))
    }

    /// `set_owner(token, owner)`, by the owner: hands the token on, or renounces it (`None`).
    pub fn set_owner(
        signer: &mut Signer,
        token: TokenId,
        owner: Option<Holder>,
    ) -> SignedTransaction {
        call(signer, "set_owner", &(token, owner))
    }
}

/// Signs `permit` for chain `chain` with `key` (the paying account's key, or a
/// `capabilityInvocation` key of the paying DID): returns the signer's public key and the
/// signature, the last two arguments of [`tx::transfer_signed`].
pub fn sign_permit(key: &Keypair, chain: &str, permit: &Permit) -> ([u8; 32], [u8; 64]) {
    let signature = key.sign_hash(&permit_message(chain, &contract(), permit));
    (key.public_key().0, signature.0)
}

/// Signs all the legs of a settlement with `key` (the payer of one or more of them): returns
/// the public key and the signature, the entry of [`tx::settle`]'s `signatures` for each leg
/// this key pays. Every payer signs the same legs, so none applies without the others.
pub fn sign_settlement(key: &Keypair, chain: &str, legs: &[Permit]) -> ([u8; 32], [u8; 64]) {
    let signature = key.sign_hash(&settlement_message(chain, &contract(), legs));
    (key.public_key().0, signature.0)
}

/// A token as JSON, as the CLI prints it and `token_getInfo` answers: amounts as decimal
/// strings of base units, the owner as text (`null` once renounced).
pub fn to_json(token: &weft_types::token::Token, chain: &str) -> serde_json::Value {
    serde_json::json!({
        "token": token.id,
        "name": token.spec.name,
        "symbol": token.spec.symbol,
        "decimals": token.spec.decimals,
        "supply": token.supply.to_string(),
        "maxSupply": token.spec.max_supply.map(|m| m.to_string()),
        "owner": token.owner.map(|o| o.to_text(chain)),
        "pausable": token.spec.pausable,
        "paused": token.paused,
        "freezable": token.spec.freezable,
        "description": token.spec.metadata.description,
        "url": token.spec.metadata.url,
        "logoUrl": token.spec.metadata.logo_url,
        "createdHeight": token.created_height,
    })
}

/// Calls view `method` of contract `contract` and decodes its borsh answer.
#[cfg(feature = "transport")]
pub(crate) async fn view<T: borsh::BorshDeserialize>(
    client: &crate::Client,
    contract: &ContractId,
    method: &str,
    args: &impl borsh::BorshSerialize,
) -> crate::Result<T> {
    let args = borsh::to_vec(args).map_err(|e| crate::Error::Encode(e.to_string()))?;
    let result = client.call_borsh(contract, method, &args).await?;
    borsh::from_slice(&result.return_data).map_err(|e| crate::Error::Protocol {
        method: method.into(),
        reason: format!("the answer does not decode: {e}"),
    })
}

/// Reads one storage entry of `contract` with its proof at the latest anchored height, checked
/// against the verifier's committee; returns the height and the decoded value (`None`: proven
/// absent).
#[cfg(feature = "transport")]
pub(crate) async fn proven_value<T: borsh::BorshDeserialize>(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    contract: ContractId,
    key: Vec<u8>,
    what: &str,
) -> Result<(u64, Option<T>), VerifierError> {
    let (height, values) = verifier
        .read_proven(client, &[crate::json::StateRead { contract, key }], None)
        .await?;
    match values.into_iter().next().flatten() {
        None => Ok((height, None)),
        Some(bytes) => borsh::from_slice(&bytes)
            .map(|value| (height, Some(value)))
            .map_err(|e| {
                VerifierError::Request(crate::Error::Protocol {
                    method: "weft_getStates".into(),
                    reason: format!("{what}, proven at height {height}, does not decode: {e}"),
                })
            }),
    }
}

/// Token `token` (`None`: there is none).
#[cfg(feature = "transport")]
pub async fn info(client: &crate::Client, token: TokenId) -> crate::Result<Option<Token>> {
    view(client, &contract(), "token", &(token,)).await
}

/// Tokens numbered after `after`, at most `limit` (up to 100).
#[cfg(feature = "transport")]
pub async fn tokens(
    client: &crate::Client,
    after: TokenId,
    limit: u32,
) -> crate::Result<Vec<Token>> {
    view(client, &contract(), "tokens", &(after, limit)).await
}

/// `holder`'s balance of `token`, in base units.
#[cfg(feature = "transport")]
pub async fn balance(
    client: &crate::Client,
    token: TokenId,
    holder: &Holder,
) -> crate::Result<u128> {
    view(client, &contract(), "balance", &(token, holder)).await
}

/// What `spender` may still move of `owner`'s balance (an expired allowance shows 0).
#[cfg(feature = "transport")]
pub async fn allowance(
    client: &crate::Client,
    token: TokenId,
    owner: &Holder,
    spender: &Holder,
) -> crate::Result<Option<Allowance>> {
    view(client, &contract(), "allowance", &(token, owner, spender)).await
}

/// A minter's cap and what it minted (`None`: not a minter).
#[cfg(feature = "transport")]
pub async fn minter(
    client: &crate::Client,
    token: TokenId,
    minter: &Holder,
) -> crate::Result<Option<Minter>> {
    view(client, &contract(), "minter", &(token, minter)).await
}

/// Whether `holder` is frozen for `token`.
#[cfg(feature = "transport")]
pub async fn frozen(
    client: &crate::Client,
    token: TokenId,
    holder: &Holder,
) -> crate::Result<bool> {
    view(client, &contract(), "frozen", &(token, holder)).await
}

/// `holder`'s next permit number: the `nonce` its next [`Permit`] must carry.
#[cfg(feature = "transport")]
pub async fn nonce(client: &crate::Client, holder: &Holder) -> crate::Result<u64> {
    view(client, &contract(), "nonce", &(holder,)).await
}

/// Holders of `token` after `after` (in key order; `None`: from the first), at most `limit` (up
/// to 100), with their balances.
#[cfg(feature = "transport")]
pub async fn holders(
    client: &crate::Client,
    token: TokenId,
    after: Option<Holder>,
    limit: u32,
) -> crate::Result<Vec<(Holder, u128)>> {
    view(client, &contract(), "holders", &(token, after, limit)).await
}

/// `holder`'s balance of `token`, read with its proof at the latest anchored height and checked
/// against the verifier's committee; returns the height and the balance (an absent entry is a
/// proven 0).
#[cfg(feature = "transport")]
pub async fn balance_proven(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    token: TokenId,
    holder: &Holder,
) -> Result<(u64, u128), VerifierError> {
    let (height, balance) = proven_value::<u128>(
        verifier,
        client,
        contract(),
        storage::balance_key(token, holder),
        "the balance",
    )
    .await?;
    Ok((height, balance.unwrap_or(0)))
}

/// Token `token` and `holder`'s balance of it, read with their proofs at one anchored height
/// (the latest) and checked against the verifier's committee: the height, the token (`None`:
/// proven absent) and the balance (an absent entry is a proven 0).
#[cfg(feature = "transport")]
pub async fn holding_proven(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    token: TokenId,
    holder: &Holder,
) -> Result<(u64, Option<Token>, u128), VerifierError> {
    let reads = [
        crate::json::StateRead {
            contract: contract(),
            key: storage::token_key(token),
        },
        crate::json::StateRead {
            contract: contract(),
            key: storage::balance_key(token, holder),
        },
    ];
    let (height, values) = verifier.read_proven(client, &reads, None).await?;
    let decode_error = |what: &str, e: std::io::Error| {
        VerifierError::Request(crate::Error::Protocol {
            method: "weft_getStates".into(),
            reason: format!("{what}, proven at height {height}, does not decode: {e}"),
        })
    };
    let mut values = values.into_iter();
    let record = match values.next().flatten() {
        None => None,
        Some(bytes) => Some(borsh::from_slice(&bytes).map_err(|e| decode_error("the token", e))?),
    };
    let balance = match values.next().flatten() {
        None => 0,
        Some(bytes) => borsh::from_slice(&bytes).map_err(|e| decode_error("the balance", e))?,
    };
    Ok((height, record, balance))
}

/// Token `token`, read with its proof at the latest anchored height and checked against the
/// verifier's committee; returns the height and the token (`None`: proven absent).
#[cfg(feature = "transport")]
pub async fn info_proven(
    verifier: &CredentialVerifier,
    client: &crate::Client,
    token: TokenId,
) -> Result<(u64, Option<Token>), VerifierError> {
    proven_value(
        verifier,
        client,
        contract(),
        storage::token_key(token),
        "the token",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_types::Address;
    use weft_types::holder::Holder;

    #[test]
    fn permits_are_signed_over_the_permit_message() {
        let key = Keypair::from_seed([3; 32]);
        let permit = Permit {
            token: 1,
            from: Holder::Account(key.public_key().address()),
            to: Holder::Account(Address([4; 32])),
            amount: 1_500_000,
            nonce: 0,
            deadline_ms: 1_000,
        };
        let (signer, signature) = sign_permit(&key, "weft-test", &permit);
        assert_eq!(signer, key.public_key().0);
        let message = permit_message("weft-test", &contract(), &permit);
        let signature = weft_types::Signature(signature);
        assert!(weft_types::verify_hash(&key.public_key(), &message, &signature).is_ok());
        let other = permit_message("other-chain", &contract(), &permit);
        assert!(weft_types::verify_hash(&key.public_key(), &other, &signature).is_err());
    }
}
