//! Fungible tokens, as the token system contract keeps them: many tokens in one contract.
//!
//! A token ([`Token`]) has a name, a symbol, decimals, an optional maximum supply and marketing
//! metadata ([`Metadata`], in the spirit of IRC30 and cw20), and an owner ([`Holder`]: an account
//! or a DID) who names minters, each with an optional cap on what it may mint ([`Minter`]). A
//! token may be declared pausable (the owner stops every movement) or freezable (the owner stops
//! one holder's), at creation only, so holders see the terms before they accept the token.
//!
//! Amounts are `u128` base units, exact: a transfer moves what it says, there is no fee, no
//! storage deposit and no rounding. [`format_amount`] and [`parse_amount`] convert between base
//! units and the decimal text people write (`1.5` of a 6-decimal token is `1500000`); JSON
//! carries amounts as decimal strings of base units, since JSON numbers lose precision above 2^53.
//!
//! Holders move their balances themselves, through allowances ([`Allowance`], with an optional
//! expiry), or by a [`Permit`] they signed that any account relays: a device with a key that
//! sends no transactions can pay. Permits carry the payer's next permit number, so none can be
//! replayed, and a deadline. Several permits settle together when every payer signs all of
//! them ([`settlement_message`]): delivery against payment, all or none.

use crate::Hash32;
use crate::holder::Holder;
use crate::ids::{ContractId, domain_hash};
use borsh::{BorshDeserialize, BorshSerialize};

/// A token's number in the contract, counted from 1.
pub type TokenId = u64;

/// The longest name.
pub const MAX_NAME: usize = 64;
/// The longest symbol.
pub const MAX_SYMBOL: usize = 16;
/// The most decimals (`u128` holds 38 full digits).
pub const MAX_DECIMALS: u8 = 30;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 1024;
/// The longest URL.
pub const MAX_URL: usize = 512;
/// The most recipients of one batch transfer.
pub const MAX_BATCH: usize = 256;
/// The most permits one settlement carries out together.
pub const MAX_LEGS: usize = 8;

/// Marketing metadata, shown by wallets.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Metadata {
    /// What the token is for.
    pub description: String,
    /// The project's web page.
    pub url: Option<String>,
    /// A logo.
    pub logo_url: Option<String>,
}

/// What a creator asks for.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TokenSpec {
    /// Its name (`Solar Credit`).
    pub name: String,
    /// Its symbol (`SOLAR`): 1 to 16 ASCII letters and digits.
    pub symbol: String,
    /// Decimals to show: one token is `10^decimals` base units.
    pub decimals: u8,
    /// The most base units that may ever exist at once (`None`: no limit).
    pub max_supply: Option<u128>,
    /// Whether the owner may pause every movement.
    pub pausable: bool,
    /// Whether the owner may freeze one holder's balance.
    pub freezable: bool,
    /// Marketing metadata.
    pub metadata: Metadata,
}

/// Why a request to the token or NFT contract is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssetError(pub String);

pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<(), AssetError> {
    if text.len() > max {
        return Err(AssetError(format!(
            "the {what} is {} bytes; at most {max} are allowed",
            text.len()
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(AssetError(format!("the {what} has control characters")));
    }
    Ok(())
}

pub(crate) fn check_url(what: &str, url: &str) -> Result<(), AssetError> {
    check_text(what, url, MAX_URL)?;
    let scheme_ok = url.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
    });
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Err(AssetError(format!(
            "the {what} {url:?} is not a URI (scheme:rest, no spaces)"
        )));
    }
    Ok(())
}

impl Metadata {
    /// Checks lengths and URIs.
    pub fn check(&self) -> Result<(), AssetError> {
        check_text("description", &self.description, MAX_DESCRIPTION)?;
        if let Some(url) = &self.url {
            check_url("url", url)?;
        }
        if let Some(url) = &self.logo_url {
            check_url("logo URL", url)?;
        }
        Ok(())
    }
}

impl TokenSpec {
    /// Checks the name, symbol, decimals, supply and metadata.
    pub fn check(&self) -> Result<(), AssetError> {
        if self.name.trim().is_empty() {
            return Err(AssetError("the name is empty".into()));
        }
        check_text("name", &self.name, MAX_NAME)?;
        if self.symbol.is_empty()
            || self.symbol.len() > MAX_SYMBOL
            || !self.symbol.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(AssetError(format!(
                "the symbol {:?} must be 1 to {MAX_SYMBOL} ASCII letters and digits",
                self.symbol
            )));
        }
        if self.decimals > MAX_DECIMALS {
            return Err(AssetError(format!(
                "{} decimals are too many; at most {MAX_DECIMALS}",
                self.decimals
            )));
        }
        if self.max_supply == Some(0) {
            return Err(AssetError(
                "a maximum supply of 0 allows no tokens at all; leave it out for no limit".into(),
            ));
        }
        self.metadata.check()
    }
}

/// A token as the contract keeps it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Token {
    /// Its number.
    pub id: TokenId,
    /// Who may name minters, pause and freeze (`None`: renounced, nobody).
    pub owner: Option<Holder>,
    /// Its terms.
    pub spec: TokenSpec,
    /// Base units in existence: minted minus burned, always the sum of all balances.
    pub supply: u128,
    /// Whether movements are paused (only a pausable token).
    pub paused: bool,
    /// The height of the block that created it.
    pub created_height: u64,
}

impl Token {
    /// Whether `amount` more may be minted without passing the maximum supply.
    pub fn check_mint(&self, amount: u128) -> Result<u128, AssetError> {
        let after = self.supply.checked_add(amount).ok_or_else(|| {
            AssetError(format!(
                "minting {amount} would overflow the supply of {}",
                self.supply
            ))
        })?;
        if let Some(max) = self.spec.max_supply
            && after > max
        {
            return Err(AssetError(format!(
                "minting {amount} would make the supply {after}, above the maximum {max} (room for {})",
                max - self.supply
            )));
        }
        Ok(after)
    }
}

/// A minter's right: how much it may mint in all, and how much it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Minter {
    /// The most base units it may mint in all (`None`: up to the maximum supply).
    pub cap: Option<u128>,
    /// What it minted so far.
    pub minted: u128,
}

impl Minter {
    /// What it may still mint.
    pub fn room(&self) -> Option<u128> {
        self.cap.map(|cap| cap.saturating_sub(self.minted))
    }
}

/// What an owner lets a spender move from its balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Allowance {
    /// Base units left.
    pub amount: u128,
    /// When it ends (ms since the Unix epoch, compared with the block time).
    pub expires_ms: Option<u64>,
}

impl Allowance {
    /// What it still allows at block time `now_ms`.
    pub fn available(&self, now_ms: u64) -> u128 {
        match self.expires_ms {
            Some(until) if now_ms >= until => 0,
            _ => self.amount,
        }
    }
}

/// A transfer signed by the holder (an account's key, or a capabilityInvocation key of a DID),
/// which any account may relay.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Permit {
    /// The token.
    pub token: TokenId,
    /// Whose balance pays.
    pub from: Holder,
    /// Who receives.
    pub to: Holder,
    /// Base units.
    pub amount: u128,
    /// The payer's next permit number (its permits apply once each, in order).
    pub nonce: u64,
    /// The permit is refused in blocks at or after this time (ms since the Unix epoch).
    pub deadline_ms: u64,
}

/// What the payer's key signs for `permit` to the token contract `contract` (the system one,
/// `ContractId::system("token")`, or another instance of the same code) on chain `chain`.
pub fn permit_message(chain: &str, contract: &ContractId, permit: &Permit) -> Hash32 {
    let permit = borsh::to_vec(permit).expect("borsh encoding into a Vec cannot fail");
    domain_hash(
        "weft/token/permit/v2",
        &[chain.as_bytes(), &contract.0, &permit],
    )
}

/// What every payer of a settlement signs: all its legs, in order, so no leg applies without
/// the others (a payer's signature of one leg is no permit on its own).
pub fn settlement_message(chain: &str, contract: &ContractId, legs: &[Permit]) -> Hash32 {
    let legs = borsh::to_vec(legs).expect("borsh encoding into a Vec cannot fail");
    domain_hash(
        "weft/token/settlement/v1",
        &[chain.as_bytes(), &contract.0, &legs],
    )
}

/// Base units as decimal text with `decimals` places, without trailing zeros
/// (`1500000`, 6 → `1.5`).
pub fn format_amount(amount: u128, decimals: u8) -> String {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    if d == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (whole, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

/// Decimal text with at most `decimals` places as base units (`1.5`, 6 → `1500000`).
pub fn parse_amount(text: &str, decimals: u8) -> Result<u128, AssetError> {
    let bad = |why: &str| AssetError(format!("amount {text:?}: {why}"));
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad("expected digits"));
    }
    if !whole
        .chars()
        .chain(frac.chars())
        .all(|c| c.is_ascii_digit())
    {
        return Err(bad("expected digits and at most one decimal point"));
    }
    if frac.len() > usize::from(decimals) {
        return Err(bad(&format!(
            "the token has {decimals} decimals; this has {}",
            frac.len()
        )));
    }
    let scale = 10u128
        .checked_pow(u32::from(decimals))
        .ok_or_else(|| bad("too many decimals"))?;
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("too large"))?
    };
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = usize::from(decimals));
        padded.parse().map_err(|_| bad("too large"))?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(|| bad("too large for a u128 of base units"))
}

/// Storage names the token contract uses, and the keys a client asks proofs for.
pub mod storage {
    use super::TokenId;
    use crate::did::storage::map_key;
    use crate::holder::{HOLDER_KEY, Holder};

    /// The chain id.
    pub const CHAIN: &str = "chain";
    /// How many tokens exist (`u64`; the next one's number minus 1).
    pub const COUNT: &str = "count";
    /// [`super::Token`] by number (big-endian).
    pub const TOKENS: &str = "tokens";
    /// Balances (`u128`) by token and holder.
    pub const BALANCES: &str = "balances";
    /// [`super::Minter`] by token and minter.
    pub const MINTERS: &str = "minters";
    /// [`super::Allowance`] by token, owner and spender.
    pub const ALLOWANCES: &str = "allowances";
    /// Frozen holders (`()`) by token and holder.
    pub const FROZEN: &str = "frozen";
    /// Each signer's next permit number (`u64`), by holder.
    pub const NONCES: &str = "nonces";

    /// A token and a holder, as one map key.
    pub fn token_holder(token: TokenId, holder: &Holder) -> [u8; 8 + HOLDER_KEY] {
        let mut out = [0u8; 8 + HOLDER_KEY];
        out[..8].copy_from_slice(&token.to_be_bytes());
        out[8..].copy_from_slice(&holder.key());
        out
    }

    /// A token, an owner and a spender, as one map key.
    pub fn allowance_pair(
        token: TokenId,
        owner: &Holder,
        spender: &Holder,
    ) -> [u8; 8 + 2 * HOLDER_KEY] {
        let mut out = [0u8; 8 + 2 * HOLDER_KEY];
        out[..8 + HOLDER_KEY].copy_from_slice(&token_holder(token, owner));
        out[8 + HOLDER_KEY..].copy_from_slice(&spender.key());
        out
    }

    /// The contract's storage key of a token.
    pub fn token_key(token: TokenId) -> Vec<u8> {
        map_key(TOKENS, &token.to_be_bytes())
    }

    /// The contract's storage key of a balance.
    pub fn balance_key(token: TokenId, holder: &Holder) -> Vec<u8> {
        map_key(BALANCES, &token_holder(token, holder))
    }

    /// The contract's storage key of a holder's freeze mark (present: frozen).
    pub fn frozen_key(token: TokenId, holder: &Holder) -> Vec<u8> {
        map_key(FROZEN, &token_holder(token, holder))
    }

    /// The contract's storage key of an allowance.
    pub fn allowance_key(token: TokenId, owner: &Holder, spender: &Holder) -> Vec<u8> {
        map_key(ALLOWANCES, &allowance_pair(token, owner, spender))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TokenSpec {
        TokenSpec {
            name: "Solar Credit".into(),
            symbol: "SOLAR".into(),
            decimals: 3,
            max_supply: Some(1_000_000),
            pausable: false,
            freezable: false,
            metadata: Metadata {
                description: "Energy produced by certified meters".into(),
                url: Some("https://example.org/solar".into()),
                logo_url: None,
            },
        }
    }

    #[test]
    fn specs_are_checked() {
        assert!(spec().check().is_ok());
        let bad = |f: fn(&mut TokenSpec)| {
            let mut s = spec();
            f(&mut s);
            s.check().unwrap_err().0
        };
        assert!(bad(|s| s.symbol = "SO LAR".into()).contains("symbol"));
        assert!(bad(|s| s.symbol = String::new()).contains("symbol"));
        assert!(bad(|s| s.name = " ".into()).contains("name is empty"));
        assert!(bad(|s| s.decimals = 31).contains("decimals"));
        assert!(bad(|s| s.max_supply = Some(0)).contains("maximum supply of 0"));
        assert!(bad(|s| s.metadata.url = Some("not a url".into())).contains("not a URI"));
    }

    #[test]
    fn minting_respects_the_maximum_supply() {
        let mut token = Token {
            id: 1,
            owner: None,
            spec: spec(),
            supply: 999_000,
            paused: false,
            created_height: 1,
        };
        assert_eq!(token.check_mint(1_000), Ok(1_000_000));
        assert!(
            token
                .check_mint(1_001)
                .unwrap_err()
                .0
                .contains("room for 1000")
        );
        token.spec.max_supply = None;
        token.supply = u128::MAX;
        assert!(token.check_mint(1).unwrap_err().0.contains("overflow"));
    }

    #[test]
    fn amounts_convert_exactly() {
        assert_eq!(format_amount(1_500_000, 6), "1.5");
        assert_eq!(format_amount(1, 6), "0.000001");
        assert_eq!(format_amount(0, 6), "0");
        assert_eq!(format_amount(42, 0), "42");
        assert_eq!(format_amount(u128::MAX, 0), u128::MAX.to_string());
        assert_eq!(parse_amount("1.5", 6), Ok(1_500_000));
        assert_eq!(parse_amount(".5", 1), Ok(5));
        assert_eq!(parse_amount("7", 0), Ok(7));
        assert!(
            parse_amount("1.0000001", 6)
                .unwrap_err()
                .0
                .contains("6 decimals")
        );
        assert!(parse_amount("-1", 6).is_err());
        assert!(parse_amount("1e6", 6).is_err());
        assert!(parse_amount("", 6).is_err());
        assert!(
            parse_amount("340282366920938463463374607431768211456", 0)
                .unwrap_err()
                .0
                .contains("too large")
        );
        for (n, d) in [(123_456_789u128, 4u8), (10, 1), (u128::MAX, 30)] {
            assert_eq!(parse_amount(&format_amount(n, d), d), Ok(n));
        }
    }

    #[test]
    fn allowances_lapse_at_their_expiry() {
        let a = Allowance {
            amount: 10,
            expires_ms: Some(100),
        };
        assert_eq!(a.available(99), 10);
        assert_eq!(a.available(100), 0);
    }
}
