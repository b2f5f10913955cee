//! Verifiable credentials with Weft: verifying without trusting a node, issuing with the
//! issuer's own key, and the status and trust transactions.
//!
//! - [`CredentialVerifier`] verifies credentials and presentations (`weft_credentials`) with
//!   every DID document, status entry and accreditation read from proven state: the node answers
//!   `weft_getStates` with JMT proofs at an anchored height, and the verifier checks the
//!   committee's anchor and each proof before using a value. Proven values are kept for
//!   [`CredentialVerifier::with_refresh`] (1 s by default) and reused across verifications.
//!   Any anchor the committee ever signed verifies, so a node could answer with old state: the
//!   verifier refuses state more than 16 heights below the highest it has seen, and below a floor
//!   set from a source it trusts ([`CredentialVerifier::require_height`]).
//! - [`Issuer`] issues credentials with status entries, keeps status lists (publishing the
//!   issuer-signed `BitstringStatusListCredential` with every change) and accredits others.
//! - [`tx`] builds the status and trust contracts' transactions.

use crate::json::{StateRead as ReadRequest, StatesResult};
use crate::verify::{LightClientError, VerifyError, verify_anchor, verify_state};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use weft_credentials::chain::{ChainLookup, ReadError, StateRead};
use weft_credentials::verify::{Challenges, Peek};
use weft_credentials::{Options, Report};
use weft_types::{Committee, ContractId, Hash32, StatementId};

/// Transactions of the status and trust contracts, built and signed by a [`crate::Signer`]
/// whose key is an `assertionMethod` key of the issuer or authority DID.
pub mod tx {
    use crate::Signer;
    use weft_types::did::DidId;
    use weft_types::status::{Change, ListSpec, Published};
    use weft_types::trust::Grant;
    use weft_types::{ContractId, SignedTransaction};

    fn encode<T: borsh::BorshSerialize>(args: &T) -> Vec<u8> {
        borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail")
    }

    /// `create(issuer, number, spec, credential)`: new list `number` (the issuer's next);
    /// returns it.
    pub fn create_list(
        signer: &mut Signer,
        issuer: &DidId,
        number: u32,
        spec: &ListSpec,
        credential: &Published,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("status"),
            "create",
            encode(&(issuer, number, spec, credential)),
        )
    }

    /// `allocate(issuer, list, count)`: returns the first of `count` new indexes.
    pub fn allocate(
        signer: &mut Signer,
        issuer: &DidId,
        list: u32,
        count: u32,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("status"),
            "allocate",
            encode(&(issuer, list, count)),
        )
    }

    /// `update(issuer, list, version, changes, credential)`: returns the new version.
    pub fn update_list(
        signer: &mut Signer,
        issuer: &DidId,
        list: u32,
        version: u32,
        changes: &[Change],
        credential: &Published,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("status"),
            "update",
            encode(&(issuer, list, version, changes, credential)),
        )
    }

    /// `accredit(authority, subject, grant)`: returns the accreditation's number.
    pub fn accredit(
        signer: &mut Signer,
        authority: &DidId,
        subject: &DidId,
        grant: &Grant,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("trust"),
            "accredit",
            encode(&(authority, subject, grant)),
        )
    }

    /// `revoke(authority, subject)`.
    pub fn revoke_accreditation(
        signer: &mut Signer,
        authority: &DidId,
        subject: &DidId,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("trust"),
            "revoke",
            encode(&(authority, subject)),
        )
    }
}

/// Proven storage values at one anchored height.
#[derive(Debug, Default)]
struct Proven {
    height: u64,
    values: HashMap<(ContractId, Vec<u8>), Option<Vec<u8>>>,
}

/// Proven values of the few latest anchored heights. Each verification reads at one height from
/// start to end, so newer state arriving meanwhile never pulls its values away.
#[derive(Debug, Default)]
struct Heights {
    by_height: std::collections::BTreeMap<u64, Proven>,
    /// The latest height learned, and when.
    latest: Option<(u64, Instant)>,
}

/// How many anchored heights a verifier keeps values of.
const KEPT_HEIGHTS: usize = 4;

/// Reads from [`Proven`], recording what is missing.
struct CacheRead<'a> {
    proven: &'a Proven,
    missing: Mutex<Vec<ReadRequest>>,
}

impl StateRead for CacheRead<'_> {
    fn read(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        match self.proven.values.get(&(*contract, key.to_vec())) {
            Some(value) => Ok(value.clone()),
            None => {
                self.missing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(ReadRequest {
                        contract: *contract,
                        key: key.to_vec(),
                    });
                Err(ReadError::Missing)
            }
        }
    }

    fn source(&self) -> String {
        format!(
            "proven against the committee's anchor of height {}",
            self.proven.height
        )
    }
}

/// Why a verification could not run to the end (a failed check is a [`Report`], not this).
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// The node could not be asked.
    #[error(transparent)]
    Request(#[from] crate::Error),
    /// The node's anchor does not verify against the committee.
    #[error("the node's anchor does not verify: {0}")]
    Anchor(#[from] LightClientError),
    /// A value's proof does not verify.
    #[error("a value the node served does not verify: {0}")]
    Proof(#[from] VerifyError),
    /// The node served state older than the verifier has seen.
    #[error(
        "the node serves height {height}, more than {max_lag} below height {seen} seen before: old state"
    )]
    Stale {
        /// The height served.
        height: u64,
        /// The highest height seen.
        seen: u64,
        /// The lag allowed.
        max_lag: u64,
    },
    /// The verification needed more rounds of reads than a credential can need.
    #[error("the verification still needed state after {0} rounds of reads")]
    TooManyRounds(usize),
}

/// How many rounds of reads one verification may take (a DID takes 2, a trust chain 2 per link).
const MAX_ROUNDS: usize = 24;

/// Verifies credentials and presentations against one chain's committee, without trusting the
/// node it reads from.
#[derive(Debug)]
pub struct CredentialVerifier {
    chain: String,
    committee: Committee,
    proven: RwLock<Heights>,
    anchors: Mutex<VecDeque<StatementId>>,
    highest: std::sync::atomic::AtomicU64,
    refresh: Duration,
    max_lag: u64,
}

impl CredentialVerifier {
    /// A verifier for `chain` governed by `committee` (from the chain's genesis file).
    pub fn new(chain: impl Into<String>, committee: Committee) -> Self {
        Self {
            chain: chain.into(),
            committee,
            proven: RwLock::new(Heights::default()),
            anchors: Mutex::new(VecDeque::new()),
            highest: Default::default(),
            refresh: Duration::from_secs(1),
            max_lag: crate::did::DEFAULT_MAX_LAG,
        }
    }

    /// Refuses state anchored more than the allowed lag (16 heights) below `height` from now on:
    /// set it from a source you trust (another node, the Tangle), or a node could answer with
    /// old state (an anchor carries no time).
    pub fn require_height(&self, height: u64) {
        self.highest
            .fetch_max(height, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reuses proven values for `refresh` before reading newer state (0: every verification
    /// reads the latest anchored state).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// Verifies a credential: format, issuer, proof, validity, status and trust.
    #[cfg(feature = "transport")]
    pub async fn verify_credential(
        &self,
        client: &crate::Client,
        credential: &serde_json::Value,
        options: &Options,
    ) -> Result<Report, VerifierError> {
        self.run(client, |lookup, _| {
            weft_credentials::verify_credential(credential, lookup, options)
        })
        .await
    }

    /// Verifies a presentation; its challenge is used up in `challenges` only by the final run.
    #[cfg(feature = "transport")]
    pub async fn verify_presentation(
        &self,
        client: &crate::Client,
        presentation: &serde_json::Value,
        options: &Options,
        challenges: &dyn Challenges,
    ) -> Result<Report, VerifierError> {
        let peek = Peek(challenges);
        self.run(client, |lookup, last| {
            if last {
                // Everything is at hand in this snapshot: this run reads nothing new and uses
                // the challenge exactly once.
                weft_credentials::verify_presentation(presentation, lookup, options, challenges)
            } else {
                weft_credentials::verify_presentation(presentation, lookup, options, &peek)
            }
        })
        .await
    }

    #[cfg(feature = "transport")]
    async fn run<F>(&self, client: &crate::Client, verify: F) -> Result<Report, VerifierError>
    where
        F: Fn(&ChainLookup<CacheRead<'_>>, bool) -> Report,
    {
        // The height this verification reads at, chosen once.
        let mut pinned: Option<u64> = None;
        for _ in 0..MAX_ROUNDS {
            let height = match pinned {
                Some(h) => h,
                None => {
                    let latest = self
                        .proven
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .latest
                        .filter(|(_, at)| at.elapsed() <= self.refresh)
                        .map(|(h, _)| h);
                    let h = match latest {
                        Some(h) => h,
                        None => self.fetch(client, Vec::new(), None).await?,
                    };
                    pinned = Some(h);
                    h
                }
            };
            let missing = {
                let heights = self.proven.read().unwrap_or_else(|e| e.into_inner());
                let Some(proven) = heights.by_height.get(&height) else {
                    // Dropped for newer heights meanwhile: choose again.
                    pinned = None;
                    continue;
                };
                let lookup = ChainLookup::new(
                    self.chain.clone(),
                    CacheRead {
                        proven,
                        missing: Mutex::new(Vec::new()),
                    },
                );
                let _ = verify(&lookup, false);
                let missing = std::mem::take(
                    &mut *lookup
                        .reader()
                        .missing
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()),
                );
                if missing.is_empty() {
                    // The same snapshot again, for the run whose effects count.
                    return Ok(verify(&lookup, true));
                }
                missing
            };
            self.fetch(client, missing, Some(height)).await?;
        }
        Err(VerifierError::TooManyRounds(MAX_ROUNDS))
    }

    /// Reads `missing` with proofs at `height`, or (with nothing missing and no height) learns
    /// the latest anchored height. Returns the height read.
    #[cfg(feature = "transport")]
    async fn fetch(
        &self,
        client: &crate::Client,
        mut missing: Vec<ReadRequest>,
        height: Option<u64>,
    ) -> Result<u64, VerifierError> {
        missing.sort_by(|a, b| (a.contract, &a.key).cmp(&(b.contract, &b.key)));
        missing.dedup();
        if missing.is_empty() {
            // Something small everyone reads, to learn the anchored height.
            missing.push(ReadRequest {
                contract: ContractId::system("identity"),
                key: weft_types::did::storage::map_key(weft_types::did::storage::CHAIN, &[]),
            });
        }
        let mut answers = Vec::new();
        let mut at = height;
        for chunk in missing.chunks(crate::json::MAX_STATE_READS) {
            let answer = client.states(chunk, at).await?;
            if at.is_some_and(|h| h != answer.height) || answer.entries.len() != chunk.len() {
                return Err(VerifierError::Proof(VerifyError::Malformed(format!(
                    "asked for {} values at height {at:?}, got {} at height {}",
                    chunk.len(),
                    answer.entries.len(),
                    answer.height
                ))));
            }
            at = Some(answer.height);
            answers.push((chunk.to_vec(), answer));
        }
        let mut verified = Vec::new();
        for (reads, answer) in &answers {
            let root = self.check_anchor(answer)?;
            for (read, entry) in reads.iter().zip(&answer.entries) {
                let value = verify_state(entry, &read.contract, &read.key, &root)?;
                verified.push(((read.contract, read.key.clone()), value));
            }
        }
        let read_at = at.unwrap_or_default();
        let mut heights = self.proven.write().unwrap_or_else(|e| e.into_inner());
        if height.is_none() && heights.latest.is_none_or(|(h, _)| h <= read_at) {
            heights.latest = Some((read_at, Instant::now()));
        }
        heights
            .by_height
            .entry(read_at)
            .or_insert_with(|| Proven {
                height: read_at,
                values: HashMap::new(),
            })
            .values
            .extend(verified);
        while heights.by_height.len() > KEPT_HEIGHTS {
            heights.by_height.pop_first();
        }
        Ok(read_at)
    }

    /// Reads `reads` with their proofs at `height` (the latest anchored height when `None`),
    /// checking the committee's anchor and every proof; returns the height and the proven values
    /// in order (`None`: proven absent). Channels and other light-client readers use it.
    #[cfg(feature = "transport")]
    pub async fn read_proven(
        &self,
        client: &crate::Client,
        reads: &[ReadRequest],
        height: Option<u64>,
    ) -> Result<(u64, Vec<Option<Vec<u8>>>), VerifierError> {
        let mut values = Vec::with_capacity(reads.len());
        let mut at = height;
        for chunk in reads.chunks(crate::json::MAX_STATE_READS) {
            let answer = client.states(chunk, at).await?;
            if at.is_some_and(|h| h != answer.height) || answer.entries.len() != chunk.len() {
                return Err(VerifierError::Proof(VerifyError::Malformed(format!(
                    "asked for {} values at height {at:?}, got {} at height {}",
                    chunk.len(),
                    answer.entries.len(),
                    answer.height
                ))));
            }
            let root = self.check_anchor(&answer)?;
            for (read, entry) in chunk.iter().zip(&answer.entries) {
                values.push(verify_state(entry, &read.contract, &read.key, &root)?);
            }
            at = Some(answer.height);
        }
        Ok((at.unwrap_or_default(), values))
    }

    /// Checks an answer's anchor (once per anchor) and freshness; returns the proven root.
    fn check_anchor(&self, answer: &StatesResult) -> Result<Hash32, VerifierError> {
        let anchor_json = answer
            .anchor
            .as_ref()
            .ok_or(LightClientError::NoAnchor(answer.height))?;
        let known = anchor_json.signed().ok().map(|s| s.statement).filter(|s| {
            self.anchors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&s.id())
        });
        let anchor = match known {
            Some(anchor) => anchor,
            None => {
                let anchor = verify_anchor(anchor_json, &self.chain, &self.committee)?;
                let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
                if anchors.len() == 64 {
                    anchors.pop_front();
                }
                anchors.push_back(anchor.id());
                anchor
            }
        };
        if anchor.height != answer.height {
            return Err(LightClientError::WrongHeight {
                answer: answer.height,
                anchor: anchor.height,
            }
            .into());
        }
        if anchor.state_root != answer.state_root {
            return Err(LightClientError::WrongRoot {
                anchored: anchor.state_root,
                got: answer.state_root,
            }
            .into());
        }
        let seen = self
            .highest
            .fetch_max(anchor.height, std::sync::atomic::Ordering::Relaxed);
        if anchor.height.saturating_add(self.max_lag) < seen {
            return Err(VerifierError::Stale {
                height: anchor.height,
                seen,
                max_lag: self.max_lag,
            });
        }
        Ok(anchor.state_root)
    }
}

/// An issuer (or accrediting authority) holding only its own key: it signs credentials and the
/// status list credentials it publishes, and sends its status and trust transactions from the
/// account of the same key, which must be under its DID's `assertionMethod`.
#[cfg(feature = "transport")]
pub struct Issuer<'a> {
    client: &'a crate::Client,
    signer: crate::Signer,
    key: weft_credentials::Signer,
    did: weft_types::did::Did,
    base_url: String,
}

/// The return data of a successful transaction, or its failure as [`crate::Error::Rejected`].
#[cfg(feature = "transport")]
pub(crate) fn succeeded(receipt: crate::json::ReceiptJson, what: &str) -> crate::Result<Vec<u8>> {
    match receipt.status {
        crate::json::Status::Success => Ok(receipt.return_data),
        crate::json::Status::Failure => Err(crate::Error::Rejected(format!(
            "{what} failed at height {}: {}",
            receipt.height,
            receipt.error.unwrap_or_default()
        ))),
    }
}

#[cfg(feature = "transport")]
fn decode<T: borsh::BorshDeserialize>(bytes: &[u8], what: &str) -> crate::Result<T> {
    borsh::from_slice(bytes).map_err(|e| crate::Error::Protocol {
        method: what.into(),
        reason: e.to_string(),
    })
}

#[cfg(feature = "transport")]
impl<'a> Issuer<'a> {
    /// The issuer `did` (a `did:weft` of the client's chain) with `key`, its verification method
    /// `did#fragment`; `base_url` is where verifiers fetch status lists (a node's HTTP URL).
    pub async fn new(
        client: &'a crate::Client,
        key: weft_types::Keypair,
        did: &str,
        fragment: &str,
        base_url: &str,
    ) -> crate::Result<Self> {
        let did: weft_types::did::Did = did
            .parse()
            .map_err(|e: weft_types::did::DidParseError| crate::Error::Key(e.to_string()))?;
        let info = client.chain_info().await?;
        let account = client.account(&key.public_key().address()).await?;
        let vc_key = weft_credentials::Signer::new(
            ed25519_dalek::SigningKey::from_bytes(&key.seed()),
            did.url(fragment),
        )
        .map_err(|e| crate::Error::Key(e.to_string()))?;
        Ok(Self {
            client,
            signer: crate::Signer::new(key, &info.chain_id, account.next_nonce),
            key: vc_key,
            did,
            base_url: base_url
                .trim_end_matches('/')
                .replacen("ws://", "http://", 1)
                .replacen("wss://", "https://", 1),
        })
    }

    /// The issuer DID.
    pub fn did(&self) -> String {
        self.did.to_string()
    }

    /// The signing key for credentials.
    pub fn key(&self) -> &weft_credentials::Signer {
        &self.key
    }

    /// The URL of list `list`.
    pub fn list_url(&self, list: u32) -> String {
        weft_credentials::bitstring::list_url(&self.base_url, &self.did(), list)
    }

    async fn send(
        &mut self,
        tx: weft_types::SignedTransaction,
        what: &str,
    ) -> crate::Result<Vec<u8>> {
        match self.client.send_and_wait(&tx).await {
            Ok(receipt) => succeeded(receipt, what),
            Err(e) => {
                // The nonce was not used if the node refused the transaction.
                if let Ok(account) = self
                    .client
                    .account(&self.signer.key().public_key().address())
                    .await
                {
                    self.signer.set_next_nonce(account.next_nonce);
                }
                Err(e)
            }
        }
    }

    fn list_credential(
        &self,
        list: u32,
        purpose: weft_types::status::Purpose,
        bits: &[u8],
        version: u32,
    ) -> crate::Result<weft_types::status::Published> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let time = weft_did::format_time(now);
        let unsigned = weft_credentials::bitstring::list_credential(
            &self.list_url(list),
            &self.did(),
            purpose.as_str(),
            bits,
            &time,
        );
        let signed = weft_credentials::issue(
            &unsigned,
            &self.key,
            &weft_credentials::Format::DataIntegrity(weft_credentials::Cryptosuite::EddsaRdfc2022),
            &time,
        )
        .map_err(|e| crate::Error::Encode(e.to_string()))?;
        Ok(weft_types::status::Published {
            version,
            media_type: weft_credentials::model::MEDIA_VC.into(),
            credential: serde_json::to_vec(&signed)
                .map_err(|e| crate::Error::Encode(e.to_string()))?,
        })
    }

    /// Creates a status list laid out as `spec`; returns its number.
    pub async fn create_list(&mut self, spec: weft_types::status::ListSpec) -> crate::Result<u32> {
        spec.check()
            .map_err(|e| crate::Error::Encode(e.to_string()))?;
        let status = ContractId::system("status");
        let next: u32 = {
            let result = self
                .client
                .call_borsh(
                    &status,
                    "lists_of",
                    &borsh::to_vec(&(self.did.id,)).unwrap_or_default(),
                )
                .await?;
            decode(&result.return_data, "lists_of")?
        };
        let bits = vec![0u8; spec.bits().div_ceil(8) as usize];
        let credential = self.list_credential(next, spec.purpose, &bits, 0)?;
        let tx = tx::create_list(&mut self.signer, &self.did.id, next, &spec, &credential);
        let out = self.send(tx, "creating the status list").await?;
        decode(&out, "create")
    }

    /// Allocates `count` indexes of list `list`; returns the first.
    pub async fn allocate(&mut self, list: u32, count: u32) -> crate::Result<u32> {
        let tx = tx::allocate(&mut self.signer, &self.did.id, list, count);
        let out = self.send(tx, "allocating status indexes").await?;
        decode(&out, "allocate")
    }

    /// The `BitstringStatusListEntry` of `index` in list `list` (whose purpose is `purpose`).
    pub fn status_entry(
        &self,
        purpose: weft_types::status::Purpose,
        list: u32,
        index: u32,
    ) -> serde_json::Value {
        let url = self.list_url(list);
        serde_json::json!({
            "id": format!("{url}#{index}"),
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose.as_str(),
            "statusListIndex": index.to_string(),
            "statusListCredential": url,
        })
    }

    /// Issues `credential` (its `issuer` is set to this DID) secured as `format`, with a freshly
    /// allocated entry in each of `lists` (purpose and list number).
    pub async fn issue(
        &mut self,
        mut credential: serde_json::Value,
        format: &weft_credentials::Format,
        lists: &[(weft_types::status::Purpose, u32)],
    ) -> crate::Result<serde_json::Value> {
        credential["issuer"] = self.did().into();
        let mut entries = Vec::new();
        for (purpose, list) in lists {
            let index = self.allocate(*list, 1).await?;
            entries.push(self.status_entry(*purpose, *list, index));
        }
        if !entries.is_empty() {
            credential["credentialStatus"] = serde_json::Value::Array(entries);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        weft_credentials::issue(&credential, &self.key, format, &weft_did::format_time(now))
            .map_err(|e| crate::Error::Encode(e.to_string()))
    }

    /// Applies `changes` to list `list` and publishes the signed list credential of the result;
    /// retries when another change landed first. Returns the new version.
    pub async fn change(
        &mut self,
        list: u32,
        changes: &[weft_types::status::Change],
    ) -> crate::Result<u32> {
        let status = ContractId::system("status");
        let args = borsh::to_vec(&(self.did.id, list)).unwrap_or_default();
        for _ in 0..3 {
            let record: Option<weft_types::status::StatusList> = decode(
                &self
                    .client
                    .call_borsh(&status, "list", &args)
                    .await?
                    .return_data,
                "list",
            )?;
            let record = record.ok_or_else(|| {
                crate::Error::Rejected(format!("{} has no status list {list}", self.did()))
            })?;
            let bits: Option<Vec<u8>> = decode(
                &self
                    .client
                    .call_borsh(&status, "bits", &args)
                    .await?
                    .return_data,
                "bits",
            )?;
            let mut bits = bits.unwrap_or_default();
            let expected = record.spec.bits().div_ceil(8) as usize;
            if bits.len() != expected {
                return Err(crate::Error::Protocol {
                    method: "bits".into(),
                    reason: format!(
                        "the node returned {} bytes of list {list}, not {expected}",
                        bits.len()
                    ),
                });
            }
            let size = record.spec.status_size;
            for change in changes {
                let current = weft_types::status::read_bits(
                    &bits,
                    u64::from(change.index) * u64::from(size),
                    size,
                );
                record
                    .check_change(change, current)
                    .map_err(|e| crate::Error::Rejected(e.to_string()))?;
                weft_types::status::write_bits(
                    &mut bits,
                    u64::from(change.index) * u64::from(size),
                    size,
                    change.value,
                );
            }
            let credential =
                self.list_credential(list, record.spec.purpose, &bits, record.version + 1)?;
            let tx = tx::update_list(
                &mut self.signer,
                &self.did.id,
                list,
                record.version,
                changes,
                &credential,
            );
            match self.send(tx, "changing the status list").await {
                Ok(out) => return decode(&out, "update"),
                Err(crate::Error::Rejected(e)) if e.contains("read it again") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(crate::Error::Rejected(format!(
            "status list {list} kept changing under three attempts; try again"
        )))
    }

    /// Accredits `subject` (a DID of this chain) as `grant` says.
    pub async fn accredit(
        &mut self,
        subject: &str,
        grant: &weft_types::trust::Grant,
    ) -> crate::Result<u32> {
        let subject: weft_types::did::Did = subject
            .parse()
            .map_err(|e: weft_types::did::DidParseError| crate::Error::Encode(e.to_string()))?;
        let tx = tx::accredit(&mut self.signer, &self.did.id, &subject.id, grant);
        let out = self.send(tx, "accrediting").await?;
        decode(&out, "accredit")
    }

    /// Revokes this authority's accreditation of `subject`.
    pub async fn revoke_accreditation(&mut self, subject: &str) -> crate::Result<()> {
        let subject: weft_types::did::Did = subject
            .parse()
            .map_err(|e: weft_types::did::DidParseError| crate::Error::Encode(e.to_string()))?;
        let tx = tx::revoke_accreditation(&mut self.signer, &self.did.id, &subject.id);
        self.send(tx, "revoking the accreditation")
            .await
            .map(|_| ())
    }
}

/// The W3C VC API of a node (`POST /credentials/verify`, `POST /presentations/verify`,
/// `POST /challenges`, `GET /status/…`) or of an issuer service (`POST /credentials/issue`),
/// over plain HTTP. Answers come back as the HTTP status and the JSON body, problem
/// descriptions included.
#[cfg(feature = "transport")]
#[derive(Clone)]
pub struct VcApi {
    base: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<hyper::body::Bytes>,
    >,
}

#[cfg(feature = "transport")]
impl VcApi {
    /// The API at `base` (`http://host:port`; a `ws://` URL is taken as its HTTP twin).
    pub fn new(base: &str) -> Self {
        let base = base
            .trim_end_matches('/')
            .replacen("ws://", "http://", 1)
            .replacen("wss://", "https://", 1);
        Self {
            base,
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    /// `method path` with an optional JSON body: the status and the JSON body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> crate::Result<(u16, serde_json::Value)> {
        use http_body_util::BodyExt;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let transport = |reason: String| crate::Error::Transport {
            method: format!("{method} {url}"),
            reason,
        };
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(hyper::body::Bytes::from(bytes)))
            .map_err(|e| crate::Error::Encode(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        let json = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| crate::Error::Protocol {
                method: format!("{method} {url}"),
                reason: format!("HTTP {status} with a body that is not JSON: {e}"),
            })?
        };
        Ok((status, json))
    }

    /// `POST /challenges`: a fresh single-use challenge.
    pub async fn challenge(&self) -> crate::Result<String> {
        let (status, body) = self.request("POST", "/challenges", None).await?;
        body["challenge"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| crate::Error::Protocol {
                method: "POST /challenges".into(),
                reason: format!("HTTP {status} without a challenge: {body}"),
            })
    }

    /// `POST /credentials/verify`, trusting accreditations that lead to `roots`.
    pub async fn verify_credential(
        &self,
        credential: &serde_json::Value,
        roots: &[String],
    ) -> crate::Result<(u16, serde_json::Value)> {
        let body = serde_json::json!({
            "verifiableCredential": credential,
            "options": {"trustedRoots": roots},
        });
        self.request("POST", "/credentials/verify", Some(&body))
            .await
    }

    /// `POST /presentations/verify` for a presentation answering `challenge` for `domain`.
    pub async fn verify_presentation(
        &self,
        presentation: &serde_json::Value,
        challenge: &str,
        domain: Option<&str>,
        roots: &[String],
    ) -> crate::Result<(u16, serde_json::Value)> {
        let mut options = serde_json::json!({"challenge": challenge, "trustedRoots": roots});
        if let Some(domain) = domain {
            options["domain"] = domain.into();
        }
        let body = serde_json::json!({"verifiablePresentation": presentation, "options": options});
        self.request("POST", "/presentations/verify", Some(&body))
            .await
    }
}
