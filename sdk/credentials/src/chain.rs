//! A [`Lookup`] over a Weft chain's state: DIDs from the identity contract, status entries from
//! the status contract, accreditations from the trust contract, all read through [`StateRead`].
//!
//! A node implements [`StateRead`] over its own state; `weft-client` over values it proved
//! against the committee's anchors. Either way, the same code turns storage entries into
//! documents, status values and accreditations, so what a client proves is exactly what the node
//! would have answered.

use crate::bitstring::{self, StatusEntry, StatusErrorCode};
use crate::verify::{Lookup, Resolved, StatusEvidence};
use borsh::BorshDeserialize;
use weft_did::{Query, ResolutionResult};
use weft_types::ContractId;
use weft_types::did::{self as model, Did, DidId, DidRecord, DidVersion};
use weft_types::status::{self, StatusList};
use weft_types::trust::{self, Accreditation};

/// Why a read did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The value is not at hand yet; the caller fetches it and tries again.
    Missing,
    /// The read failed.
    Failed(String),
}

/// Reads contract storage at one height.
pub trait StateRead {
    /// `contract`'s storage entry `key`; `Ok(None)` if it is (proven) absent.
    fn read(&self, contract: &ContractId, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError>;
    /// How the values are established, for reports ("state at height 12", "proven at …").
    fn source(&self) -> String;
}

/// A [`Lookup`] over chain `chain`'s state.
pub struct ChainLookup<R> {
    chain: String,
    reader: R,
}

fn describe(e: ReadError) -> String {
    match e {
        ReadError::Missing => "not fetched yet".into(),
        ReadError::Failed(e) => e,
    }
}

impl<R: StateRead> ChainLookup<R> {
    /// Lookups of chain `chain` through `reader`.
    pub fn new(chain: impl Into<String>, reader: R) -> Self {
        Self {
            chain: chain.into(),
            reader,
        }
    }

    /// The reader.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    fn get<T: BorshDeserialize>(
        &self,
        contract: &str,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>, String> {
        let id = ContractId::system(contract);
        self.reader
            .read(&id, key)
            .map_err(describe)?
            .map(|bytes| {
                T::try_from_slice(&bytes).map_err(|e| format!("{what} does not decode: {e}"))
            })
            .transpose()
    }

    fn weft_did(&self, did: &str) -> Result<Did, String> {
        let parsed: Did = did
            .parse()
            .map_err(|e: model::DidParseError| e.to_string())?;
        if parsed.chain != self.chain {
            return Err(format!(
                "{did} belongs to chain {}, not {}",
                parsed.chain, self.chain
            ));
        }
        Ok(parsed)
    }

    fn did_string(&self, id: &DidId) -> String {
        Did::new(self.chain.clone(), *id).to_string()
    }
}

impl<R: StateRead> Lookup for ChainLookup<R> {
    fn resolve(&self, did: &str) -> Result<Resolved, String> {
        if did.starts_with("did:key:") {
            return from_result(weft_did::resolve_did_key(did), "did:key, resolved locally");
        }
        let parsed = self.weft_did(did)?;
        let record: Option<DidRecord> = self.get(
            "identity",
            &model::storage::record_key(&parsed.id),
            "the DID's record",
        )?;
        let result = weft_did::resolve_records(&parsed, record, Query::Latest, |n| {
            self.get::<DidVersion>(
                "identity",
                &model::storage::version_key(&parsed.id, n),
                "a DID version",
            )?
            .ok_or_else(|| format!("version {n} is missing"))
        })?;
        from_result(result, &self.reader.source())
    }

    fn status(
        &self,
        entry: &StatusEntry,
        issuer: &str,
    ) -> Result<StatusEvidence, (StatusErrorCode, String)> {
        let retrieval = |m: String| (StatusErrorCode::Retrieval, m);
        let (owner, list) = bitstring::parse_list_url(&entry.list_url).ok_or_else(|| {
            retrieval(format!(
                "{} is not a Weft status list URL (…/status/<issuer DID>/<list>)",
                entry.list_url
            ))
        })?;
        if owner != issuer {
            return Err((
                StatusErrorCode::Verification,
                format!("the status list belongs to {owner}, not the credential's issuer {issuer}"),
            ));
        }
        let did = self.weft_did(&owner).map_err(retrieval)?;
        let record: StatusList = self
            .get(
                "status",
                &status::storage::list_key(&did.id, list),
                "the status list",
            )
            .map_err(retrieval)?
            .ok_or_else(|| retrieval(format!("{owner} has no status list {list}")))?;
        if record.spec.purpose.as_str() != entry.purpose {
            return Err((
                StatusErrorCode::Verification,
                format!(
                    "list {list} is a {} list; the entry says {}",
                    record.spec.purpose, entry.purpose
                ),
            ));
        }
        if record.spec.status_size != entry.size {
            return Err((
                StatusErrorCode::Verification,
                format!(
                    "list {list} has {} bits per entry; the entry says {}",
                    record.spec.status_size, entry.size
                ),
            ));
        }
        if entry.index >= u64::from(record.spec.entries) {
            return Err((
                StatusErrorCode::Range,
                format!(
                    "index {} is outside the list's {} entries",
                    entry.index, record.spec.entries
                ),
            ));
        }
        if entry.index >= u64::from(record.allocated) {
            // The issuer never handed this index out, so it could never revoke it.
            return Err((
                StatusErrorCode::Range,
                format!(
                    "index {} of list {list} was never allocated by its issuer ({} allocated)",
                    entry.index, record.allocated
                ),
            ));
        }
        let first = entry.index * u64::from(entry.size);
        let mut value = 0u8;
        let mut page_bytes: Option<(u32, Vec<u8>)> = None;
        for k in 0..u64::from(entry.size) {
            let bit = first + k;
            let page = status::storage::page_of(bit);
            if page_bytes.as_ref().is_none_or(|(p, _)| *p != page) {
                let bytes: Vec<u8> = self
                    .get(
                        "status",
                        &status::storage::page_key(&did.id, list, page),
                        "a status page",
                    )
                    .map_err(retrieval)?
                    .unwrap_or_else(|| vec![0; status::PAGE_BYTES]);
                page_bytes = Some((page, bytes));
            }
            let bytes = page_bytes
                .as_ref()
                .map(|(_, b)| b.as_slice())
                .unwrap_or_default();
            value = (value << 1) | status::read_bits(bytes, bit % status::PAGE_BITS, 1);
        }
        Ok(StatusEvidence::Value {
            value,
            source: self.reader.source(),
        })
    }

    fn accreditors(&self, subject: &str) -> Result<Vec<String>, String> {
        let Ok(did) = self.weft_did(subject) else {
            // Only did:weft DIDs of this chain are in its registry.
            return Ok(Vec::new());
        };
        let ids: Vec<DidId> = self
            .get(
                "trust",
                &trust::storage::accreditors_key(&did.id),
                "the accreditors",
            )?
            .unwrap_or_default();
        Ok(ids.iter().map(|id| self.did_string(id)).collect())
    }

    fn accreditation(
        &self,
        subject: &str,
        authority: &str,
    ) -> Result<Option<(Accreditation, String)>, String> {
        let subject = self.weft_did(subject)?;
        let authority = self.weft_did(authority)?;
        let found: Option<Accreditation> = self.get(
            "trust",
            &trust::storage::accreditation_key(&subject.id, &authority.id),
            "an accreditation",
        )?;
        Ok(found.map(|a| (a, self.reader.source())))
    }
}

fn from_result(result: ResolutionResult, source: &str) -> Result<Resolved, String> {
    let deactivated = result.is_deactivated();
    if let Some(problem) = &result.did_resolution_metadata.error
        && !deactivated
    {
        return Err(problem
            .detail
            .clone()
            .unwrap_or_else(|| problem.title.clone()));
    }
    let document = result
        .did_document
        .ok_or_else(|| "the resolution returned no document".to_string())?;
    Ok(Resolved {
        document,
        deactivated,
        source: source.to_string(),
    })
}
