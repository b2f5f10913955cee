//! Canonical forms: RFC 8785 JSON (eddsa-jcs-2022) and RDFC-1.0 N-Quads (eddsa-rdfc-2022).
//!
//! JSON-LD contexts are never fetched: the W3C contexts a credential may use are bundled, and a
//! document naming any other context is refused, so verification needs no network and cannot be
//! steered by whoever serves a context URL.

use crate::error::Error;
use oxjsonld::{JsonLdLoadDocumentOptions, JsonLdParser, JsonLdRemoteDocument};
use oxrdf::Dataset;
use oxrdf::dataset::{CanonicalizationAlgorithm, CanonicalizationHashAlgorithm};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The VC Data Model 2.0 context, always first.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The Data Integrity context (its terms are also in the credentials v2 context).
pub const DATA_INTEGRITY_V2: &str = "https://w3id.org/security/data-integrity/v2";
/// The W3C examples context (`@vocab` for example terms).
pub const EXAMPLES_V2: &str = "https://www.w3.org/ns/credentials/examples/v2";
/// The Multikey context.
pub const MULTIKEY_V1: &str = "https://w3id.org/security/multikey/v1";
/// The VC Data Model 2.0 context that maps every term the other contexts leave undefined to
/// `https://www.w3.org/ns/credentials/undefined-term#`.
pub const UNDEFINED_TERMS_V2: &str = "https://www.w3.org/ns/credentials/undefined-terms/v2";
const UNDEFINED_TERMS_V2_DOCUMENT: &str =
    r#"{"@context":{"@vocab":"https://www.w3.org/ns/credentials/undefined-term#"}}"#;

/// The largest document canonicalized (RDFC-1.0's worst case grows fast with blank nodes).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most blank nodes an RDFC-1.0 input may have.
pub const MAX_BLANK_NODES: usize = 64;

/// The contexts this crate knows, by URL.
pub fn bundled_context(url: &str) -> Option<&'static str> {
    Some(match url {
        CREDENTIALS_V2 => ssi_contexts::CREDENTIALS_V2,
        DATA_INTEGRITY_V2 => ssi_contexts::W3ID_DATA_INTEGRITY_V2,
        EXAMPLES_V2 => ssi_contexts::CREDENTIALS_EXAMPLES_V2,
        MULTIKEY_V1 => ssi_contexts::W3ID_MULTIKEY_V1,
        UNDEFINED_TERMS_V2 => UNDEFINED_TERMS_V2_DOCUMENT,
        _ => return None,
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn load_context(
    url: &str,
    _: &JsonLdLoadDocumentOptions,
) -> Result<JsonLdRemoteDocument, BoxError> {
    let document = bundled_context(url).ok_or_else(|| {
        format!(
            "context {url} is not one this verifier knows ({CREDENTIALS_V2}, {UNDEFINED_TERMS_V2}, {DATA_INTEGRITY_V2}, {EXAMPLES_V2}, {MULTIKEY_V1}); contexts are never fetched"
        )
    })?;
    Ok(JsonLdRemoteDocument {
        document: document.as_bytes().to_vec(),
        document_url: url.to_owned(),
    })
}

/// Every term (key, or value of `type`) some bundled context defines, at any depth.
fn defined_terms(url: &str) -> &'static HashSet<String> {
    static TERMS: OnceLock<HashMap<&'static str, HashSet<String>>> = OnceLock::new();
    static EMPTY: OnceLock<HashSet<String>> = OnceLock::new();
    let all = TERMS.get_or_init(|| {
        [
            CREDENTIALS_V2,
            DATA_INTEGRITY_V2,
            EXAMPLES_V2,
            MULTIKEY_V1,
            UNDEFINED_TERMS_V2,
        ]
        .into_iter()
        .map(|url| {
            let mut terms = HashSet::new();
            if let Some(Ok(context)) = bundled_context(url).map(serde_json::from_str::<Value>) {
                collect_keys(&context, &mut terms);
            }
            (url, terms)
        })
        .collect()
    });
    all.get(url)
        .unwrap_or_else(|| EMPTY.get_or_init(HashSet::new))
}

fn collect_keys(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if !k.starts_with('@') {
                    out.insert(k.clone());
                }
                collect_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

/// Whether a context (a URL or an inline object) gives every undefined term an IRI.
fn has_vocab(context: &Value) -> bool {
    match context {
        Value::String(url) => url == UNDEFINED_TERMS_V2 || url == EXAMPLES_V2,
        Value::Object(map) => map.contains_key("@vocab"),
        Value::Array(items) => items.iter().any(has_vocab),
        _ => false,
    }
}

/// What a verifier reads from the JSON must be what the RDF signature covers, so before
/// canonicalizing for eddsa-rdfc-2022 a document must be plain enough that its JSON and its RDF
/// say the same thing:
/// - contexts are bundled URLs only, given once at the top (no inline or nested contexts, which
///   could alias a term);
/// - no property is a keyword (`@type`, `@value`, …) or an IRI (`https://…#credentialStatus`
///   expands to the same statement as `credentialStatus`, but a JSON reader would not see it);
/// - no blank node identifiers (`_:b0`), which RDFC-1.0's worst case needs;
/// - every property and `type` is defined by the contexts (JSON-LD silently drops undefined
///   terms, so the signature would not cover them), unless a context gives undefined terms a
///   vocabulary (`undefined-terms/v2`): Data Integrity's "safe mode".
fn check_terms(document: &Value) -> Result<(), Error> {
    check_object_terms(document).map_err(|m| {
        Error::Invalid(format!(
            "{m} (eddsa-rdfc-2022 signs only documents whose JSON and RDF say the same)"
        ))
    })
}

/// The contexts of a document (or of a credential embedded in a presentation): URLs only.
fn contexts_of(value: &Value) -> Result<Vec<String>, String> {
    let list = match value.get("@context") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::String(_)) => vec![one.clone()],
        Some(_) => return Err("@context must be a URL or a list of URLs".into()),
        None => return Err("the document has no @context".into()),
    };
    list.into_iter()
        .map(|c| match c {
            Value::String(url) => Ok(url),
            _ => Err("inline @context objects are refused; use bundled context URLs".into()),
        })
        .collect()
}

/// Checks one document, with its own contexts; credentials embedded in a presentation
/// (`verifiableCredential`) are checked as documents of their own.
fn check_object_terms(document: &Value) -> Result<(), String> {
    let contexts = contexts_of(document)?;
    let vocab = contexts
        .iter()
        .any(|u| has_vocab(&Value::String(u.clone())));
    let defined: HashSet<&str> = contexts
        .iter()
        .flat_map(|url| defined_terms(url).iter().map(String::as_str))
        .collect();
    let is_defined = |term: &str| vocab || defined.contains(term);
    fn walk(value: &Value, top: bool, is_defined: &dyn Fn(&str) -> bool) -> Result<(), String> {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "@context" {
                        if top {
                            continue;
                        }
                        return Err("a nested @context is refused".into());
                    }
                    if k.starts_with('@') {
                        return Err(format!("the keyword {k:?} as a property is refused"));
                    }
                    if k.contains(':') {
                        return Err(format!(
                            "the property {k:?} is an IRI; use the term the context defines"
                        ));
                    }
                    if !is_defined(k) {
                        return Err(format!(
                            "the term {k:?} is not defined by the document's @context, so JSON-LD would drop it and the signature would not cover it; define it, or add {UNDEFINED_TERMS_V2} to @context"
                        ));
                    }
                    if k == "id" && v.as_str().is_some_and(|id| id.starts_with("_:")) {
                        return Err("blank node identifiers (\"_:…\") are refused".into());
                    }
                    if k == "type" {
                        let types = match v {
                            Value::Array(items) => items.iter().collect(),
                            one => vec![one],
                        };
                        for t in types {
                            let Some(t) = t.as_str() else {
                                return Err("a type must be a string".into());
                            };
                            if !t.contains(':') && !is_defined(t) {
                                return Err(format!(
                                    "the type {t:?} is not defined by the document's @context, so JSON-LD would drop it; define it, or add {UNDEFINED_TERMS_V2} to @context"
                                ));
                            }
                        }
                        continue;
                    }
                    if k == "verifiableCredential" {
                        // Embedded credentials: documents with their own contexts.
                        let items = match v {
                            Value::Array(items) => items.iter().collect(),
                            one => vec![one],
                        };
                        for item in items {
                            if item.get("@context").is_some() {
                                check_object_terms(item)?;
                            } else {
                                walk(item, false, is_defined)?;
                            }
                        }
                        continue;
                    }
                    walk(v, false, is_defined)?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, false, is_defined)),
            _ => Ok(()),
        }
    }
    walk(document, true, &is_defined)
}

/// `value` in the RFC 8785 JSON Canonicalization Scheme.
pub fn jcs(value: &Value) -> Result<String, Error> {
    serde_json_canonicalizer::to_string(value)
        .map_err(|e| Error::Malformed(format!("cannot canonicalize the JSON (RFC 8785): {e}")))
}

/// The RDFC-1.0 canonical N-Quads of JSON-LD document `value`: its quads with canonical blank
/// node labels (`_:c14n0`, …), one per line, sorted.
pub fn rdfc(value: &Value) -> Result<String, Error> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::Malformed(format!("cannot serialize the document: {e}")))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::Malformed(format!(
            "the document has {} bytes; at most {MAX_DOCUMENT_BYTES} are canonicalized",
            bytes.len()
        )));
    }
    check_terms(value)?;
    let mut dataset = Dataset::new();
    for quad in JsonLdParser::new()
        .for_slice(&bytes)
        .with_load_document_callback(load_context)
    {
        let quad =
            quad.map_err(|e| Error::Malformed(format!("the document is not valid JSON-LD: {e}")))?;
        dataset.insert(&quad);
    }
    let mut blank = std::collections::HashSet::new();
    for quad in dataset.iter() {
        if let oxrdf::NamedOrBlankNodeRef::BlankNode(b) = quad.subject {
            blank.insert(b.as_str().to_owned());
        }
        if let oxrdf::TermRef::BlankNode(b) = quad.object {
            blank.insert(b.as_str().to_owned());
        }
        if let oxrdf::GraphNameRef::BlankNode(b) = quad.graph_name {
            blank.insert(b.as_str().to_owned());
        }
    }
    if blank.len() > MAX_BLANK_NODES {
        return Err(Error::Malformed(format!(
            "the document has {} blank nodes; at most {MAX_BLANK_NODES} are canonicalized",
            blank.len()
        )));
    }
    dataset.canonicalize(CanonicalizationAlgorithm::Rdfc10 {
        hash_algorithm: CanonicalizationHashAlgorithm::Sha256,
    });
    let mut lines: Vec<String> = dataset.iter().map(|q| format!("{q} .\n")).collect();
    lines.sort_unstable();
    Ok(lines.concat())
}
