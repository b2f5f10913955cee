//! Every rejection a verifier must make, asserted by its reason, over an in-memory lookup (the
//! node and client lookups are tested against a real chain in `chain/rpc/tests/credentials.rs`).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use std::collections::HashMap;
use weft_credentials::bitstring::{self, StatusEntry, StatusErrorCode};
use weft_credentials::present::present_sd_jwt;
use weft_credentials::verify::{Resolved, StatusEvidence};
use weft_credentials::{
    ChallengeStore, Cryptosuite, Format, Lookup, Options, PresentFormat, Reason, Report, Signer,
    issue, present, verify_credential, verify_presentation,
};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, Did, DidId, Document,
    VerificationMethod,
};
use weft_types::trust::Accreditation;

const NOW: u64 = 1_780_000_000; // 2026-05-28
const LIST: &str = "https://node.example/status/";

#[derive(Default)]
struct Mem {
    dids: HashMap<String, (Document, bool)>,
    status: HashMap<(String, u64), u8>,
    lists: HashMap<String, Value>,
    accreditations: HashMap<(String, String), Accreditation>,
}

fn did(n: u8) -> Did {
    Did::new("test", DidId([n; 32]))
}

impl Lookup for Mem {
    fn resolve(&self, did: &str) -> Result<Resolved, String> {
        let (document, deactivated) = self.dids.get(did).ok_or("not found")?;
        Ok(Resolved {
            document: weft_did::render(&did.parse().unwrap(), document),
            deactivated: *deactivated,
            source: "memory".into(),
        })
    }

    fn status(
        &self,
        entry: &StatusEntry,
        _issuer: &str,
    ) -> Result<StatusEvidence, (StatusErrorCode, String)> {
        if let Some(list) = self.lists.get(&entry.list_url) {
            return Ok(StatusEvidence::ListCredential(list.clone()));
        }
        let value = self
            .status
            .get(&(entry.list_url.clone(), entry.index))
            .copied()
            .unwrap_or(0);
        Ok(StatusEvidence::Value {
            value,
            source: "memory".into(),
        })
    }

    fn accreditors(&self, subject: &str) -> Result<Vec<String>, String> {
        Ok(self
            .accreditations
            .keys()
            .filter(|(s, _)| s == subject)
            .map(|(_, a)| a.clone())
            .collect())
    }

    fn accreditation(
        &self,
        subject: &str,
        authority: &str,
    ) -> Result<Option<(Accreditation, String)>, String> {
        Ok(self
            .accreditations
            .get(&(subject.to_string(), authority.to_string()))
            .map(|a| (a.clone(), "memory".into())))
    }
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// DID `n` with key `key-1` (key `n`) under `relationships`.
fn document(n: u8, relationships: u8) -> Document {
    Document {
        methods: vec![VerificationMethod::ed25519(
            "key-1",
            key(n).verifying_key().to_bytes(),
            relationships,
        )],
        ..Document::default()
    }
}

const ALL: u8 = AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION;
const ISSUER: u8 = 1;
const HOLDER: u8 = 2;
const AUTHORITY: u8 = 3;
const ROOT: u8 = 4;
const STRANGER: u8 = 5;

fn signer(n: u8) -> Signer {
    Signer::new(key(n), did(n).url("key-1")).unwrap()
}

fn world() -> Mem {
    let mut mem = Mem::default();
    for n in [ISSUER, HOLDER, AUTHORITY, ROOT, STRANGER] {
        mem.dids
            .insert(did(n).to_string(), (document(n, ALL), false));
    }
    mem.accredit(ROOT, AUTHORITY, true, None);
    mem.accredit(AUTHORITY, ISSUER, false, None);
    mem
}

impl Mem {
    fn accredit(&mut self, authority: u8, subject: u8, may_accredit: bool, until: Option<u64>) {
        self.accreditations.insert(
            (did(subject).to_string(), did(authority).to_string()),
            Accreditation {
                authority: DidId([authority; 32]),
                subject: DidId([subject; 32]),
                types: vec!["AgeCredential".into()],
                may_accredit,
                valid_from_ms: 0,
                valid_until_ms: until,
                revoked_ms: None,
                height: 1,
                number: 1,
            },
        );
    }
}

fn credential() -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/undefined-terms/v2"
        ],
        "type": ["VerifiableCredential", "AgeCredential"],
        "issuer": did(ISSUER).to_string(),
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "credentialSubject": {
            "id": did(HOLDER).to_string(),
            "birthDate": "2001-02-03",
            "ageOver18": true,
        },
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "7",
                "statusListCredential": format!("{LIST}{}/0", did(ISSUER)),
            },
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": "7",
                "statusListCredential": format!("{LIST}{}/1", did(ISSUER)),
            }
        ]
    })
}

fn formats() -> Vec<Format> {
    vec![
        Format::DataIntegrity(Cryptosuite::EddsaRdfc2022),
        Format::DataIntegrity(Cryptosuite::EddsaJcs2022),
        Format::Jose,
        Format::SdJwt {
            disclosable: vec!["birthDate".into(), "ageOver18".into()],
            holder_method: did(HOLDER).url("key-1"),
        },
    ]
}

fn options() -> Options {
    Options {
        now: NOW,
        trusted_roots: vec![did(ROOT).to_string()],
        ..Options::default()
    }
}

fn issued(format: &Format) -> Value {
    issue(
        &credential(),
        &signer(ISSUER),
        format,
        "2026-01-01T00:00:00Z",
    )
    .unwrap()
}

fn assert_fails(report: &Report, check: &str, reason: Reason) {
    let failed = report
        .failed(check)
        .unwrap_or_else(|| panic!("expected check {check} to fail with {reason:?}: {report:#?}"));
    assert_eq!(failed.reason, Some(reason), "{report:#?}");
    assert!(!report.verified);
}

#[test]
fn a_good_credential_passes_every_check_in_every_format() {
    let mem = world();
    for format in formats() {
        let report = verify_credential(&issued(&format), &mem, &options());
        assert!(report.verified, "{format:?}: {report:#?}");
        let checks: Vec<&str> = report.checks.iter().map(|c| c.check).collect();
        assert_eq!(
            checks,
            [
                "format", "issuer", "proof", "validity", "status", "status", "trust"
            ],
            "{format:?}"
        );
    }
}

#[test]
fn a_bad_signature_is_refused() {
    let mem = world();
    let mut di = issued(&Format::DataIntegrity(Cryptosuite::EddsaRdfc2022));
    di["credentialSubject"]["birthDate"] = "1990-01-01".into();
    assert_fails(
        &verify_credential(&di, &mem, &options()),
        "proof",
        Reason::BadSignature,
    );

    let jose = issued(&Format::Jose);
    let id = jose["id"].as_str().unwrap();
    let (head, sig) = id.rsplit_once('.').unwrap();
    let mut sig = weft_credentials::jose::unb64(sig, "sig").unwrap();
    sig[0] ^= 1;
    let forged = json!({"@context": jose["@context"], "type": "EnvelopedVerifiableCredential",
        "id": format!("{head}.{}", weft_credentials::jose::b64(&sig))});
    assert_fails(
        &verify_credential(&forged, &mem, &options()),
        "proof",
        Reason::BadSignature,
    );
}

#[test]
fn a_key_not_under_assertion_method_is_refused() {
    let mut mem = world();
    mem.dids.insert(
        did(ISSUER).to_string(),
        (
            document(ISSUER, AUTHENTICATION | CAPABILITY_INVOCATION),
            false,
        ),
    );
    for format in formats() {
        let report = verify_credential(&issued(&format), &mem, &options());
        assert_fails(&report, "proof", Reason::WrongRelationship);
    }
}

#[test]
fn a_key_rotated_away_is_refused_after_the_rotation() {
    let mut mem = world();
    let credential = issued(&Format::DataIntegrity(Cryptosuite::EddsaJcs2022));
    assert!(verify_credential(&credential, &mem, &options()).verified);
    // The issuer rotates: key-1 is replaced by key-2 (another key).
    let rotated = Document {
        methods: vec![VerificationMethod::ed25519(
            "key-2",
            key(99).verifying_key().to_bytes(),
            ALL,
        )],
        ..Document::default()
    };
    mem.dids.insert(did(ISSUER).to_string(), (rotated, false));
    assert_fails(
        &verify_credential(&credential, &mem, &options()),
        "proof",
        Reason::UnknownKey,
    );
}

#[test]
fn a_deactivated_issuer_is_refused() {
    let mut mem = world();
    mem.dids.get_mut(&did(ISSUER).to_string()).unwrap().1 = true;
    let report = verify_credential(&issued(&Format::Jose), &mem, &options());
    assert_fails(&report, "issuer", Reason::IssuerDeactivated);
    // An issuer nobody can resolve fails too.
    let mut unknown = credential();
    unknown["issuer"] = did(77).to_string().into();
    let signer = Signer::new(key(77), did(77).url("key-1")).unwrap();
    let secured = issue(&unknown, &signer, &Format::Jose, "2026-01-01T00:00:00Z").unwrap();
    assert_fails(
        &verify_credential(&secured, &mem, &options()),
        "issuer",
        Reason::IssuerUnresolved,
    );
}

#[test]
fn expired_and_not_yet_valid_credentials_are_refused() {
    let mem = world();
    for format in formats() {
        let credential = issued(&format);
        let later = Options {
            now: 1_800_000_000, // 2027-01-15
            ..options()
        };
        assert_fails(
            &verify_credential(&credential, &mem, &later),
            "validity",
            Reason::Expired,
        );
        let earlier = Options {
            now: 1_760_000_000, // 2025-10-09
            ..options()
        };
        assert_fails(
            &verify_credential(&credential, &mem, &earlier),
            "validity",
            Reason::NotYetValid,
        );
    }
}

#[test]
fn revoked_and_suspended_credentials_are_refused() {
    let mut mem = world();
    let revocation = format!("{LIST}{}/0", did(ISSUER));
    let suspension = format!("{LIST}{}/1", did(ISSUER));
    mem.status.insert((revocation.clone(), 7), 1);
    for format in formats() {
        let report = verify_credential(&issued(&format), &mem, &options());
        assert_fails(&report, "status", Reason::Revoked);
    }
    mem.status.insert((revocation, 7), 0);
    mem.status.insert((suspension.clone(), 7), 1);
    let report = verify_credential(&issued(&Format::Jose), &mem, &options());
    assert_fails(&report, "status", Reason::Suspended);
    mem.status.insert((suspension, 7), 0);
    assert!(verify_credential(&issued(&Format::Jose), &mem, &options()).verified);
}

/// The issuer-signed list credentials a spec-only verifier fetches.
fn list_credential(mem: &mut Mem, list: u32, purpose: &str, set: Option<usize>) -> String {
    let url = format!("{LIST}{}/{list}", did(ISSUER));
    let mut bits = vec![0u8; 16_384];
    if let Some(i) = set {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    let unsigned = bitstring::list_credential(
        &url,
        &did(ISSUER).to_string(),
        purpose,
        &bits,
        "2026-01-01T00:00:00Z",
    );
    let signed = issue(
        &unsigned,
        &signer(ISSUER),
        &Format::DataIntegrity(Cryptosuite::EddsaRdfc2022),
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    mem.lists.insert(url.clone(), signed);
    url
}

#[test]
fn status_read_from_the_issuer_signed_list_credential_and_a_tampered_one_is_refused() {
    let mut mem = world();
    let revocation = list_credential(&mut mem, 0, "revocation", None);
    list_credential(&mut mem, 1, "suspension", None);
    let credential = issued(&Format::DataIntegrity(Cryptosuite::EddsaRdfc2022));
    assert!(verify_credential(&credential, &mem, &options()).verified);

    list_credential(&mut mem, 0, "revocation", Some(7));
    assert_fails(
        &verify_credential(&credential, &mem, &options()),
        "status",
        Reason::Revoked,
    );

    // Someone clears the bit in transit: the list's own proof no longer verifies.
    let mut tampered = mem.lists[&revocation].clone();
    tampered["credentialSubject"]["encodedList"] = bitstring::encode_list(&[0u8; 16_384]).into();
    mem.lists.insert(revocation, tampered);
    let report = verify_credential(&credential, &mem, &options());
    assert_fails(&report, "status", Reason::StatusError);
    let detail = &report.failed("status").unwrap().detail;
    assert!(detail.starts_with("STATUS_VERIFICATION_ERROR"), "{detail}");
}

#[test]
fn issuers_without_a_valid_accreditation_chain_are_refused() {
    let mut mem = world();
    let secured = issued(&Format::Jose);
    // Accredited for another type only.
    let mut other = credential();
    other["type"] = json!(["VerifiableCredential", "TicketCredential"]);
    let ticket = issue(
        &other,
        &signer(ISSUER),
        &Format::Jose,
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    let report = verify_credential(&ticket, &mem, &options());
    assert_fails(&report, "trust", Reason::NotAccredited);
    assert!(
        report
            .failed("trust")
            .unwrap()
            .detail
            .contains("TicketCredential")
    );

    // The authority's accreditation by the root is revoked.
    let key = (did(AUTHORITY).to_string(), did(ROOT).to_string());
    mem.accreditations.get_mut(&key).unwrap().revoked_ms = Some(1);
    let report = verify_credential(&secured, &mem, &options());
    assert_fails(&report, "trust", Reason::NotAccredited);
    assert!(report.failed("trust").unwrap().detail.contains("revoked"));

    // Expired.
    mem.accredit(ROOT, AUTHORITY, true, Some(NOW * 1000 - 1));
    let report = verify_credential(&secured, &mem, &options());
    assert!(report.failed("trust").unwrap().detail.contains("expired"));

    // An authority not allowed to accredit further.
    mem.accredit(ROOT, AUTHORITY, false, None);
    let report = verify_credential(&secured, &mem, &options());
    assert!(
        report
            .failed("trust")
            .unwrap()
            .detail
            .contains("accrediting")
    );

    // Nobody accredited a stranger.
    mem.accredit(ROOT, AUTHORITY, true, None);
    assert!(verify_credential(&secured, &mem, &options()).verified);
    let untrusted = Options {
        trusted_roots: vec![did(STRANGER).to_string()],
        ..options()
    };
    assert_fails(
        &verify_credential(&secured, &mem, &untrusted),
        "trust",
        Reason::NotAccredited,
    );
}

fn challenge(store: &ChallengeStore) -> String {
    store.issue(NOW, 300)
}

fn presentation_options(challenge: &str) -> Options {
    Options {
        challenge: Some(challenge.into()),
        domain: Some("shop.example".into()),
        ..options()
    }
}

#[test]
fn presentations_pass_with_the_right_holder_challenge_and_domain() {
    let mem = world();
    let store = ChallengeStore::default();
    for format in [
        PresentFormat::DataIntegrity(Cryptosuite::EddsaRdfc2022),
        PresentFormat::DataIntegrity(Cryptosuite::EddsaJcs2022),
        PresentFormat::Jose,
    ] {
        let c = challenge(&store);
        let vp = present(
            &[
                issued(&Format::Jose),
                issued(&Format::DataIntegrity(Cryptosuite::EddsaRdfc2022)),
            ],
            &signer(HOLDER),
            &c,
            "shop.example",
            format,
            "2026-05-28T00:00:00Z",
        )
        .unwrap();
        let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
        assert!(report.verified, "{format:?}: {report:#?}");
        assert_eq!(report.credentials.len(), 2);
        // The same presentation again: its challenge is used up.
        let again = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
        assert_fails(&again, "challenge", Reason::ChallengeReused);
    }
}

#[test]
fn an_sd_jwt_presentation_reveals_only_what_the_holder_chooses() {
    let mem = world();
    let store = ChallengeStore::default();
    let sd = issued(&formats()[3].clone());
    let c = challenge(&store);
    let vp = present_sd_jwt(
        &sd,
        &["ageOver18"],
        &signer(HOLDER),
        &c,
        "shop.example",
        NOW,
    )
    .unwrap();
    let compact = vp["id"].as_str().unwrap().to_string();
    assert!(!compact.contains(&weft_credentials::jose::b64(b"birthDate")));
    let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
    assert!(report.verified, "{report:#?}");
    let opened =
        weft_credentials::sdjwt::open(compact.trim_start_matches("data:application/vc+sd-jwt,"))
            .unwrap();
    let subject = &opened.claims["credentialSubject"];
    assert_eq!(subject["ageOver18"], true);
    assert!(subject.get("birthDate").is_none());
}

#[test]
fn a_presentation_by_someone_else_is_refused() {
    let mem = world();
    let store = ChallengeStore::default();
    // The stranger presents the holder's credential under its own proof.
    let c = challenge(&store);
    let vp = present(
        &[issued(&Format::Jose)],
        &signer(STRANGER),
        &c,
        "shop.example",
        PresentFormat::DataIntegrity(Cryptosuite::EddsaJcs2022),
        "2026-05-28T00:00:00Z",
    )
    .unwrap();
    let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
    assert_fails(&report, "binding", Reason::HolderMismatch);

    // The stranger claims to be the holder but signs with its own key.
    let c = challenge(&store);
    let mut vp = present(
        &[issued(&Format::Jose)],
        &Signer::new(key(STRANGER), did(HOLDER).url("key-1")).unwrap(),
        &c,
        "shop.example",
        PresentFormat::Jose,
        "2026-05-28T00:00:00Z",
    )
    .unwrap();
    let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
    assert_fails(&report, "holder", Reason::BadSignature);
    assert_fails(&report, "challenge", Reason::WrongChallenge);

    // An SD-JWT whose key binding the stranger signs.
    let c = challenge(&store);
    let sd = issued(&formats()[3].clone());
    vp = present_sd_jwt(
        &sd,
        &["ageOver18"],
        &Signer::new(key(STRANGER), did(HOLDER).url("key-1")).unwrap(),
        &c,
        "shop.example",
        NOW,
    )
    .unwrap();
    let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
    assert_fails(&report, "holder", Reason::BadSignature);
    assert_fails(&report, "binding", Reason::HolderMismatch);
}

#[test]
fn wrong_or_missing_challenges_and_wrong_domains_are_refused() {
    let mem = world();
    let store = ChallengeStore::default();
    let c = challenge(&store);
    let make = |challenge: &str, domain: &str| {
        present(
            &[issued(&Format::Jose)],
            &signer(HOLDER),
            challenge,
            domain,
            PresentFormat::DataIntegrity(Cryptosuite::EddsaRdfc2022),
            "2026-05-28T00:00:00Z",
        )
        .unwrap()
    };
    let report = verify_presentation(
        &make("made-up", "shop.example"),
        &mem,
        &presentation_options(&c),
        &store,
    );
    assert_fails(&report, "challenge", Reason::WrongChallenge);
    // A challenge this verifier never issued.
    let report = verify_presentation(
        &make("made-up", "shop.example"),
        &mem,
        &presentation_options("made-up"),
        &store,
    );
    assert_fails(&report, "challenge", Reason::ChallengeReused);
    let report = verify_presentation(
        &make(&c, "evil.example"),
        &mem,
        &presentation_options(&c),
        &store,
    );
    assert_fails(&report, "domain", Reason::WrongDomain);
    // A verifier that names no challenge verifies nothing.
    let report = verify_presentation(&make(&c, "shop.example"), &mem, &options(), &store);
    assert_fails(&report, "challenge", Reason::WrongChallenge);
    // An SD-JWT presented to another audience.
    let c = challenge(&store);
    let vp = present_sd_jwt(
        &issued(&formats()[3].clone()),
        &["ageOver18"],
        &signer(HOLDER),
        &c,
        "evil.example",
        NOW,
    )
    .unwrap();
    let report = verify_presentation(&vp, &mem, &presentation_options(&c), &store);
    assert_fails(&report, "domain", Reason::WrongDomain);
}

#[test]
fn malformed_input_gets_a_format_failure_not_a_panic() {
    let mem = world();
    for bad in [
        json!(42),
        json!("not.a.jwt"),
        json!({"@context": ["https://www.w3.org/ns/credentials/v2"]}),
        json!({"type": "EnvelopedVerifiableCredential", "id": "data:text/plain,hello"}),
        json!({"@context": ["https://example.com/unknown"], "type": ["VerifiableCredential"], "proof": {}}),
    ] {
        let report = verify_credential(&bad, &mem, &options());
        assert!(!report.verified);
        assert!(report.failed("format").is_some(), "{bad}: {report:#?}");
    }
}
