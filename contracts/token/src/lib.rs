//! The token system contract: fungible tokens, many in one contract, exact to the base unit.
//!
//! `weft_types::token` has the data model, shared with clients. A creator makes a token with its
//! terms ([`create`]) and owns it: it names minters with caps ([`set_minter`]), pauses a pausable
//! token ([`pause`]), freezes holders of a freezable one ([`freeze`]), edits the marketing
//! metadata ([`set_metadata`]) and hands ownership on or renounces it ([`set_owner`]). Holders
//! move balances themselves ([`transfer`], [`transfer_batch`], [`burn`]), through allowances
//! ([`approve`], [`transfer_from`]), or by a signed permit any account relays
//! ([`transfer_signed`]); several legs signed by all their payers settle together, all or none
//! ([`settle`]: delivery against payment).
//!
//! A holder is an account (the sender's key) or a `did:weft` DID, which acts through a key under
//! its `capabilityInvocation` relationship, read from the identity contract. There are no fees
//! and no storage deposits: a balance that reaches zero is deleted. Every movement emits an event
//! (`token_minted`, `token_burned`, `token_transferred`) and the supply is always the sum of the
//! balances, which `contracts/token/tests` checks over random sequences of operations.

use weft_sdk::abort;
use weft_sdk::identity;
use weft_sdk::prelude::*;
use weft_types::did;
use weft_types::holder::Holder;
use weft_types::token::{
    Allowance, MAX_BATCH, MAX_LEGS, Metadata, Minter, Permit, Token, TokenSpec, format_amount,
    permit_message, settlement_message, storage as names,
};

const CHAIN: Item<String> = Item::new(names::CHAIN);
const COUNT: Item<u64> = Item::new(names::COUNT);
const TOKENS: Map<u64, Token> = Map::new(names::TOKENS);
const BALANCES: Map<[u8; 41], u128> = Map::new(names::BALANCES);
const MINTERS: Map<[u8; 41], Minter> = Map::new(names::MINTERS);
const ALLOWANCES: Map<[u8; 74], Allowance> = Map::new(names::ALLOWANCES);
const FROZEN: Map<[u8; 41], ()> = Map::new(names::FROZEN);
const NONCES: Map<[u8; 33], u64> = Map::new(names::NONCES);

fn chain() -> String {
    CHAIN
        .get()
        .unwrap_or_else(|| abort("the token contract was not initialized with its chain id"))
}

fn text(holder: &Holder) -> String {
    holder.to_text(&chain())
}

fn require_speaks_for(holder: &Holder, key: &[u8; 32], role: &str) -> Result<()> {
    identity::require_holder(&chain(), holder, key, role)
}

fn require_sender(holder: &Holder, role: &str) -> Result<()> {
    identity::require_sender_holds(&chain(), holder, role)
}

fn load(token: u64) -> Result<Token> {
    TOKENS
        .get(&token)
        .ok_or_else(|| format!("there is no token {token}").into())
}

fn require_owner(token: &Token) -> Result<()> {
    let owner = token.owner.ok_or_else(|| {
        ContractError(format!(
            "token {} ({}) has no owner: its ownership was renounced",
            token.id, token.spec.symbol
        ))
    })?;
    require_sender(&owner, "the token's owner")
}

fn require_moving(token: &Token) -> Result<()> {
    require!(
        !token.paused,
        "token {} ({}) is paused by its owner: nothing moves until it is unpaused",
        token.id,
        token.spec.symbol
    );
    Ok(())
}

fn require_not_frozen(token: &Token, holder: &Holder, role: &str) -> Result<()> {
    require!(
        !FROZEN.contains(&names::token_holder(token.id, holder)),
        "{role} {} is frozen for token {} ({}) by its owner",
        text(holder),
        token.id,
        token.spec.symbol
    );
    Ok(())
}

fn require_recipient(to: &Holder) -> Result<()> {
    identity::require_recipient(&chain(), to)
}

fn require_amount(amount: u128) -> Result<()> {
    require!(amount > 0, "the amount is 0; send at least 1 base unit");
    Ok(())
}

fn amount_text(token: &Token, amount: u128) -> String {
    format!(
        "{} {} ({amount} base units)",
        format_amount(amount, token.spec.decimals),
        token.spec.symbol
    )
}

fn balance_of(token: u64, holder: &Holder) -> u128 {
    BALANCES
        .get(&names::token_holder(token, holder))
        .unwrap_or(0)
}

fn set_balance(token: u64, holder: &Holder, amount: u128) {
    let key = names::token_holder(token, holder);
    if amount == 0 {
        BALANCES.remove(&key);
    } else {
        BALANCES.set(&key, &amount);
    }
}

/// Moves `amount` from `from` to `to`, all checks made here but who speaks for `from`.
fn move_units(token: &Token, from: &Holder, to: &Holder, amount: u128) -> Result<()> {
    require_amount(amount)?;
    require!(
        from != to,
        "{} would send to itself, which changes nothing",
        text(from)
    );
    require_moving(token)?;
    require_not_frozen(token, from, "the sender")?;
    require_not_frozen(token, to, "the recipient")?;
    require_recipient(to)?;
    let have = balance_of(token.id, from);
    require!(
        have >= amount,
        "{} holds {}, less than the {} to send",
        text(from),
        amount_text(token, have),
        amount_text(token, amount)
    );
    let theirs = balance_of(token.id, to)
        .checked_add(amount)
        .ok_or("the recipient's balance would overflow")?;
    set_balance(token.id, from, have - amount);
    set_balance(token.id, to, theirs);
    emit("token_transferred", &(token.id, *from, *to, amount));
    Ok(())
}

/// Sets the chain id, part of every DID this contract names and of every permit.
#[init]
pub fn init(chain_id: String) -> Result<()> {
    did::check_chain_name(&chain_id)?;
    CHAIN.set(&chain_id);
    Ok(())
}

/// Creates a token owned by `owner` (the sender, or a DID it holds a capabilityInvocation key
/// of). Nothing exists until a minter mints; the owner names minters with [`set_minter`].
/// Returns the token's number.
#[call]
pub fn create(owner: Holder, spec: TokenSpec) -> Result<u64> {
    require_sender(&owner, "the owner")?;
    spec.check()?;
    let id = COUNT.get().unwrap_or(0) + 1;
    COUNT.set(&id);
    TOKENS.set(
        &id,
        &Token {
            id,
            owner: Some(owner),
            spec,
            supply: 0,
            paused: false,
            created_height: block_height(),
        },
    );
    emit("token_created", &(id, owner));
    Ok(id)
}

/// The owner lets `minter` mint up to `cap` base units in all (`None`: up to the maximum
/// supply), counting what it already minted; calling again changes the cap.
#[call]
pub fn set_minter(token: u64, minter: Holder, cap: Option<u128>) -> Result<()> {
    let record = load(token)?;
    require_owner(&record)?;
    let key = names::token_holder(token, &minter);
    let mut right = MINTERS.get(&key).unwrap_or_default();
    right.cap = cap;
    MINTERS.set(&key, &right);
    emit("token_minter_set", &(token, minter, cap));
    Ok(())
}

/// The owner takes minting rights away from `minter` (naming it again later starts its count
/// afresh, under the cap given then).
#[call]
pub fn remove_minter(token: u64, minter: Holder) -> Result<()> {
    let record = load(token)?;
    require_owner(&record)?;
    let key = names::token_holder(token, &minter);
    require!(
        MINTERS.contains(&key),
        "{} is not a minter of token {token}",
        text(&minter)
    );
    MINTERS.remove(&key);
    emit("token_minter_removed", &(token, minter));
    Ok(())
}

/// `minter` (whom the sender speaks for) mints `amount` to `to`, within its cap and the
/// maximum supply.
#[call]
pub fn mint(token: u64, minter: Holder, to: Holder, amount: u128) -> Result<()> {
    let mut record = load(token)?;
    require_sender(&minter, "the minter")?;
    require_amount(amount)?;
    let key = names::token_holder(token, &minter);
    let mut right = MINTERS.get(&key).ok_or_else(|| {
        ContractError(format!(
            "{} is not a minter of token {token} ({}); its owner names minters",
            text(&minter),
            record.spec.symbol
        ))
    })?;
    if let Some(room) = right.room() {
        require!(
            amount <= room,
            "{} may mint {} more, less than {}; the token's owner raises the cap with set_minter",
            text(&minter),
            amount_text(&record, room),
            amount_text(&record, amount)
        );
    }
    require_moving(&record)?;
    require_not_frozen(&record, &to, "the recipient")?;
    require_not_frozen(&record, &minter, "the minter")?;
    record.supply = record.check_mint(amount)?;
    right.minted = right
        .minted
        .checked_add(amount)
        .ok_or("the minter's count would overflow")?;
    MINTERS.set(&key, &right);
    require_recipient(&to)?;
    let theirs = balance_of(token, &to)
        .checked_add(amount)
        .ok_or("the recipient's balance would overflow")?;
    set_balance(token, &to, theirs);
    TOKENS.set(&token, &record);
    emit("token_minted", &(token, minter, to, amount));
    Ok(())
}

/// `from` (whom the sender speaks for) destroys `amount` of its balance.
#[call]
pub fn burn(token: u64, from: Holder, amount: u128) -> Result<()> {
    let mut record = load(token)?;
    require_sender(&from, "the holder")?;
    require_amount(amount)?;
    require_moving(&record)?;
    require_not_frozen(&record, &from, "the holder")?;
    let have = balance_of(token, &from);
    require!(
        have >= amount,
        "{} holds {}, less than the {} to burn",
        text(&from),
        amount_text(&record, have),
        amount_text(&record, amount)
    );
    set_balance(token, &from, have - amount);
    record.supply -= amount;
    TOKENS.set(&token, &record);
    emit("token_burned", &(token, from, amount));
    Ok(())
}

/// `from` (whom the sender speaks for) sends `amount` to `to`.
#[call]
pub fn transfer(token: u64, from: Holder, to: Holder, amount: u128) -> Result<()> {
    let record = load(token)?;
    require_sender(&from, "the sender")?;
    move_units(&record, &from, &to, amount)
}

/// `from` sends to several recipients at once, all or none (at most
/// `weft_types::token::MAX_BATCH`).
#[call]
pub fn transfer_batch(token: u64, from: Holder, transfers: Vec<(Holder, u128)>) -> Result<()> {
    let record = load(token)?;
    require_sender(&from, "the sender")?;
    require!(
        (1..=MAX_BATCH).contains(&transfers.len()),
        "a batch sends to 1 to {MAX_BATCH} recipients, not {}",
        transfers.len()
    );
    for (i, (to, amount)) in transfers.iter().enumerate() {
        move_units(&record, &from, to, *amount).map_err(|e| format!("transfer {i}: {e}"))?;
    }
    Ok(())
}

/// `owner` (whom the sender speaks for) lets `spender` move up to `amount` of its balance until
/// `expires_ms` (block time), replacing any earlier allowance; 0 removes it.
#[call]
pub fn approve(
    token: u64,
    owner: Holder,
    spender: Holder,
    amount: u128,
    expires_ms: Option<u64>,
) -> Result<()> {
    load(token)?;
    require_sender(&owner, "the owner of the balance")?;
    require!(owner != spender, "{} cannot approve itself", text(&owner));
    if let Some(until) = expires_ms {
        require!(
            until > block_time_ms(),
            "the expiry ({until} ms) is not after the block time ({} ms)",
            block_time_ms()
        );
    }
    let key = names::allowance_pair(token, &owner, &spender);
    if amount == 0 {
        ALLOWANCES.remove(&key);
    } else {
        ALLOWANCES.set(&key, &Allowance { amount, expires_ms });
    }
    emit(
        "token_approved",
        &(token, owner, spender, amount, expires_ms),
    );
    Ok(())
}

/// `spender` (whom the sender speaks for) moves `amount` from `from` to `to` within its
/// allowance, which shrinks by `amount`.
#[call]
pub fn transfer_from(
    token: u64,
    spender: Holder,
    from: Holder,
    to: Holder,
    amount: u128,
) -> Result<()> {
    let record = load(token)?;
    require_sender(&spender, "the spender")?;
    require_not_frozen(&record, &spender, "the spender")?;
    let key = names::allowance_pair(token, &from, &spender);
    let allowance = ALLOWANCES.get(&key);
    let available = allowance.map_or(0, |a| a.available(block_time_ms()));
    require!(
        allowance.is_some(),
        "{} has not approved {} to move its token {token} ({}): it approves with `approve` first",
        text(&from),
        text(&spender),
        record.spec.symbol
    );
    require!(
        amount <= available,
        "{} may move {} of {}'s balance, less than {}{}",
        text(&spender),
        amount_text(&record, available),
        text(&from),
        amount_text(&record, amount),
        match allowance.and_then(|a| a.expires_ms) {
            Some(until) if block_time_ms() >= until =>
                format!(" (its allowance expired at {until} ms)"),
            _ => String::new(),
        }
    );
    move_units(&record, &from, &to, amount)?;
    let left = available - amount;
    emit(
        "token_allowance_used",
        &(token, from, spender, amount, left),
    );
    if left == 0 {
        ALLOWANCES.remove(&key);
    } else if let Some(a) = allowance {
        ALLOWANCES.set(
            &key,
            &Allowance {
                amount: left,
                expires_ms: a.expires_ms,
            },
        );
    }
    Ok(())
}

/// Carries out `permit`, signed by `signer` (the paying account, or a capabilityInvocation key
/// of the paying DID) over `weft_types::token::permit_message` for this contract; any account
/// may relay it. The permit must carry the payer's next permit number ([`nonce`]) and a
/// deadline after the block time, so it applies once.
#[call]
pub fn transfer_signed(permit: Permit, signer: [u8; 32], signature: [u8; 64]) -> Result<()> {
    let message = permit_message(&chain(), &self_id(), &permit);
    apply_permit(&permit, &signer, &signature, &message, "permit_message")
}

/// Carries out several permits at once, all or none, in order (at most
/// `weft_types::token::MAX_LEGS`): delivery against payment, where one leg moves what is sold
/// and another the price. Every leg's payer signs all the legs
/// (`weft_types::token::settlement_message`), so no leg applies without the others;
/// `signatures[i]` is leg `i`'s, and any account relays the settlement.
#[call]
pub fn settle(legs: Vec<Permit>, signatures: Vec<([u8; 32], [u8; 64])>) -> Result<()> {
    require!(
        (1..=MAX_LEGS).contains(&legs.len()),
        "a settlement has 1 to {MAX_LEGS} legs, not {}",
        legs.len()
    );
    require!(
        signatures.len() == legs.len(),
        "a settlement carries one signature per leg: {} legs, {} signatures",
        legs.len(),
        signatures.len()
    );
    let message = settlement_message(&chain(), &self_id(), &legs);
    for (i, (permit, (signer, signature))) in legs.iter().zip(&signatures).enumerate() {
        apply_permit(permit, signer, signature, &message, "settlement_message")
            .map_err(|e| format!("leg {i}: {e}"))?;
    }
    Ok(())
}

fn apply_permit(
    permit: &Permit,
    signer: &[u8; 32],
    signature: &[u8; 64],
    message: &weft_types::Hash32,
    signed: &str,
) -> Result<()> {
    let record = load(permit.token)?;
    require!(
        ed25519_verify(signer, signature, &message.0),
        "the signature does not verify: it must be key {}'s ed25519 signature of weft_types::token::{signed} for this contract on chain {}",
        Address(*signer),
        chain()
    );
    require_speaks_for(&permit.from, signer, "the payer")?;
    let nonce_key = permit.from.key();
    let next = NONCES.get(&nonce_key).unwrap_or(0);
    require!(
        permit.nonce == next,
        "the permit carries number {}, but {}'s next permit number is {next}{}",
        permit.nonce,
        text(&permit.from),
        if permit.nonce < next {
            ": it was used already"
        } else {
            ""
        }
    );
    require!(
        block_time_ms() < permit.deadline_ms,
        "the permit's deadline ({} ms) has passed (block time {} ms)",
        permit.deadline_ms,
        block_time_ms()
    );
    move_units(&record, &permit.from, &permit.to, permit.amount)?;
    NONCES.set(&nonce_key, &(next + 1));
    emit("token_permit_used", &(permit.from, next));
    Ok(())
}

/// The owner of a pausable token stops (`true`) or restarts (`false`) every movement.
#[call]
pub fn pause(token: u64, paused: bool) -> Result<()> {
    let mut record = load(token)?;
    require_owner(&record)?;
    require!(
        record.spec.pausable,
        "token {token} ({}) was not declared pausable at creation, so it cannot be paused",
        record.spec.symbol
    );
    require!(
        record.paused != paused,
        "token {token} is {} already",
        if paused { "paused" } else { "not paused" }
    );
    record.paused = paused;
    TOKENS.set(&token, &record);
    emit("token_paused", &(token, paused));
    Ok(())
}

/// The owner of a freezable token freezes (`true`) or unfreezes `holder`: a frozen holder
/// neither sends, receives, burns, spends an allowance nor mints.
#[call]
pub fn freeze(token: u64, holder: Holder, frozen: bool) -> Result<()> {
    let record = load(token)?;
    require_owner(&record)?;
    require!(
        record.spec.freezable,
        "token {token} ({}) was not declared freezable at creation, so no holder can be frozen",
        record.spec.symbol
    );
    let key = names::token_holder(token, &holder);
    require!(
        FROZEN.contains(&key) != frozen,
        "{} is {} for token {token} already",
        text(&holder),
        if frozen { "frozen" } else { "not frozen" }
    );
    if frozen {
        FROZEN.set(&key, &());
    } else {
        FROZEN.remove(&key);
    }
    emit("token_frozen", &(token, holder, frozen));
    Ok(())
}

/// The owner replaces the marketing metadata.
#[call]
pub fn set_metadata(token: u64, metadata: Metadata) -> Result<()> {
    let mut record = load(token)?;
    require_owner(&record)?;
    metadata.check()?;
    record.spec.metadata = metadata;
    TOKENS.set(&token, &record);
    emit("token_metadata_set", &token);
    Ok(())
}

/// The owner hands the token to `owner`, or renounces it (`None`: nobody can name or remove
/// minters, pause or freeze again; minters named before keep minting within their caps, frozen
/// holders stay frozen, a paused token stays paused).
#[call]
pub fn set_owner(token: u64, owner: Option<Holder>) -> Result<()> {
    let mut record = load(token)?;
    require_owner(&record)?;
    if let Some(new) = &owner {
        require_recipient(new)?;
    }
    record.owner = owner;
    TOKENS.set(&token, &record);
    emit("token_owner_set", &(token, owner));
    Ok(())
}

/// A token.
#[view]
pub fn token(token: u64) -> Option<Token> {
    TOKENS.get(&token)
}

/// Tokens numbered after `after`, at most `limit` (up to 100).
#[view]
pub fn tokens(after: u64, limit: u32) -> Vec<Token> {
    TOKENS
        .iter_after(&after)
        .take(limit.min(100) as usize)
        .map(|(_, t)| t)
        .collect()
}

/// A holder's balance in base units.
#[view]
pub fn balance(token: u64, holder: Holder) -> u128 {
    balance_of(token, &holder)
}

/// Holders of a token after `after` (in key order), at most `limit` (up to 100), with balances.
#[view]
pub fn holders(token: u64, after: Option<Holder>, limit: u32) -> Vec<(Holder, u128)> {
    let start = match after {
        Some(h) => names::token_holder(token, &h),
        None => {
            // The last key of the token before: no holder key starts with 0xff.
            let mut k = [0xffu8; 41];
            k[..8].copy_from_slice(&token.wrapping_sub(1).to_be_bytes());
            k
        }
    };
    BALANCES
        .iter_after(&start)
        .take_while(|(k, _)| k[..8] == token.to_be_bytes())
        .filter_map(|(k, v)| Holder::from_key(&k[8..]).map(|h| (h, v)))
        .take(limit.min(100) as usize)
        .collect()
}

/// What `spender` may still move of `owner`'s balance (expired allowances show 0).
#[view]
pub fn allowance(token: u64, owner: Holder, spender: Holder) -> Option<Allowance> {
    ALLOWANCES
        .get(&names::allowance_pair(token, &owner, &spender))
        .map(|a| Allowance {
            amount: a.available(block_time_ms()),
            ..a
        })
}

/// A minter's cap and what it minted.
#[view]
pub fn minter(token: u64, minter: Holder) -> Option<Minter> {
    MINTERS.get(&names::token_holder(token, &minter))
}

/// Whether `holder` is frozen for `token`.
#[view]
pub fn frozen(token: u64, holder: Holder) -> bool {
    FROZEN.contains(&names::token_holder(token, &holder))
}

/// `holder`'s next permit number.
#[view]
pub fn nonce(holder: Holder) -> u64 {
    NONCES.get(&holder.key()).unwrap_or(0)
}
