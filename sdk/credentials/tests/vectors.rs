//! Known-answer tests against the specifications' own vectors (`tests/vectors/`, each file names
//! its source): Data Integrity EdDSA (eddsa-jcs-2022, eddsa-rdfc-2022), Bitstring Status List,
//! VC-JOSE-COSE and SD-JWT.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use serde_json::Value;
use sha2::{Digest, Sha256};
use weft_credentials::bitstring::{self, StatusEntry};
use weft_credentials::di::{self, Cryptosuite, ProofOptions};
use weft_credentials::jose::{Jws, b64, unb64};
use weft_credentials::{Signer, canon, sdjwt};

fn vector(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is missing"))
}

fn signer(v: &Value) -> Signer {
    let secret: [u8; 32] = hex::decode(text(&v["keyPair"], "secretKeyHex"))
        .unwrap()
        .try_into()
        .unwrap();
    let signer = Signer::did_key(ed25519_dalek::SigningKey::from_bytes(&secret));
    assert_eq!(
        signer.method(),
        text(&v["proofOptions"], "verificationMethod"),
        "the did:key of the vector's secret key"
    );
    signer
}

fn check_suite(file: &str, suite: Cryptosuite, canonicalize: fn(&Value) -> String) {
    let v = vector(file);
    let unsecured = &v["unsecuredCredential"];
    // Canonical forms and their hashes, byte for byte.
    assert_eq!(canonicalize(unsecured), text(&v, "canonicalCredential"));
    assert_eq!(
        canonicalize(&v["proofOptions"]),
        text(&v, "canonicalProofOptions")
    );
    let data = di::hash_data(suite, unsecured, &v["proofOptions"]).unwrap();
    assert_eq!(hex::encode(data), text(&v, "combinedHashDataHex"));
    assert_eq!(hex::encode(&data[32..]), text(&v, "credentialHashHex"));
    // Signing gives exactly the published secured credential (Ed25519 is deterministic).
    let options = ProofOptions {
        cryptosuite: suite,
        purpose: "assertionMethod".into(),
        created: text(&v["proofOptions"], "created").into(),
        challenge: None,
        domain: None,
    };
    let secured = di::sign(unsecured, &signer(&v), &options).unwrap();
    assert_eq!(secured, v["securedCredential"]);
    assert_eq!(secured["proof"]["proofValue"], v["proofValue"]);
    // Opening the published credential recovers what was signed.
    let proof = di::open(&v["securedCredential"]).unwrap();
    assert_eq!(
        hex::encode(proof.hash_data),
        text(&v, "combinedHashDataHex")
    );
    assert_eq!(hex::encode(proof.signature), text(&v, "signatureHex"));
}

#[test]
fn eddsa_jcs_2022_matches_the_recommendations_vectors() {
    check_suite("eddsa-jcs-2022.json", Cryptosuite::EddsaJcs2022, |v| {
        canon::jcs(v).unwrap()
    });
}

#[test]
fn eddsa_rdfc_2022_matches_the_recommendations_vectors() {
    check_suite("eddsa-rdfc-2022.json", Cryptosuite::EddsaRdfc2022, |v| {
        canon::rdfc(v).unwrap()
    });
}

#[test]
fn a_tampered_vector_no_longer_hashes_the_same() {
    let v = vector("eddsa-rdfc-2022.json");
    let mut tampered = v["securedCredential"].clone();
    tampered["credentialSubject"]["alumniOf"] = "Another School".into();
    let proof = di::open(&tampered).unwrap();
    assert_ne!(
        hex::encode(proof.hash_data),
        text(&v, "combinedHashDataHex")
    );
}

#[test]
fn the_bitstring_status_list_example_decodes_to_131072_clear_entries() {
    let v = vector("bitstring-status-list.json");
    let bits = bitstring::decode_list(text(&v, "encodedList")).unwrap();
    assert_eq!(bits.len(), 16_384);
    assert!(bits.iter().all(|b| *b == 0));
    // Entries of the example credential, and their values in the example list.
    let credential = &v["examples"]["example1_credentialWithTwoStatusEntries"]["credential"];
    let entries = StatusEntry::all_of(credential).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].purpose, "revocation");
    assert_eq!(entries[0].index, 94_567);
    assert_eq!(
        entries[0].list_url,
        "https://example.com/credentials/status/3"
    );
    assert_eq!(entries[1].purpose, "suspension");
    assert_eq!(entries[0].read(&bits), Ok(0));
    // Our encoding round-trips and sets index 0 as the first byte's top bit.
    let mut mine = vec![0u8; 16_384];
    mine[0] = 0x80;
    mine[11_820] = 0b0000_0001; // index 94567 = 11820 * 8 + 7
    let decoded = bitstring::decode_list(&bitstring::encode_list(&mine)).unwrap();
    assert_eq!(decoded, mine);
    assert_eq!(entries[0].read(&decoded), Ok(1));
    // Lists shorter than the minimum and indexes beyond the list are the spec's errors.
    let short = StatusEntry {
        index: 1,
        ..entries[0].clone()
    };
    assert_eq!(
        short.read(&[0u8; 100]).unwrap_err().0,
        bitstring::StatusErrorCode::ListLength
    );
    let far = StatusEntry {
        index: 131_072,
        ..entries[0].clone()
    };
    assert_eq!(
        far.read(&bits).unwrap_err().0,
        bitstring::StatusErrorCode::Range
    );
}

#[test]
fn the_vc_jose_cose_example_is_the_credential_as_payload() {
    let v = vector("vc-jose-cose.json");
    let parts = &v["compactJwsParts"];
    let header: Value =
        serde_json::from_slice(&unb64(text(parts, "protectedHeaderB64u"), "header").unwrap())
            .unwrap();
    assert_eq!(header, v["protectedHeader"]);
    let payload: Value =
        serde_json::from_slice(&unb64(text(parts, "payloadB64u"), "payload").unwrap()).unwrap();
    assert_eq!(payload, v["unsecuredCredential"]);
    // The example is ES256; Weft verifies EdDSA only and says so.
    let error = Jws::parse(text(&v, "compactJws"), Some("vc+jwt")).unwrap_err();
    assert!(error.to_string().contains("expected EdDSA"), "{error}");
}

#[test]
fn sd_jwt_disclosure_digests_and_sd_hash_match_the_rfc() {
    let v = vector("sd-jwt.json");
    for d in v["disclosures"].as_array().unwrap() {
        assert_eq!(
            sdjwt::digest(text(d, "disclosure")),
            text(d, "sha256DigestB64u"),
            "{}",
            text(d, "label")
        );
    }
    let example = &v["example"];
    let presented = sdjwt::SdJwt::parse(text(example, "sdJwtKbPresentation")).unwrap();
    let sd_hash = b64(&Sha256::digest(presented.without_key_binding().as_bytes()));
    assert_eq!(
        sd_hash,
        text(&example["keyBindingJwt"]["payload"], "sd_hash")
    );
    // The claims the RFC lists as disclosed in that presentation: family_name, address,
    // given_name and the first nationality (US); the rest of the digests stay hidden.
    let payload = example["issuerSignedJwtPayload"]
        .as_object()
        .unwrap()
        .clone();
    let claims = sdjwt::disclose(payload, &presented.disclosures).unwrap();
    assert_eq!(claims["family_name"], "Doe");
    assert_eq!(claims["given_name"], "John");
    assert_eq!(claims["address"]["locality"], "Anytown");
    assert_eq!(claims["nationalities"], serde_json::json!(["US"]));
    for hidden in ["email", "phone_number", "birthdate", "_sd", "_sd_alg"] {
        assert!(!claims.contains_key(hidden), "{hidden} must stay hidden");
    }
}

#[test]
fn rdfc_refuses_terms_json_ld_would_drop() {
    let mut v = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:weft:test:01",
        "credentialSubject": {"id": "did:weft:test:02", "birthDate": "2001-02-03"}
    });
    let error = canon::rdfc(&v).unwrap_err().to_string();
    assert!(error.contains("\"birthDate\" is not defined"), "{error}");
    v["type"] = serde_json::json!(["VerifiableCredential", "AgeCredential"]);
    v["credentialSubject"] = serde_json::json!({"id": "did:weft:test:02"});
    let error = canon::rdfc(&v).unwrap_err().to_string();
    assert!(error.contains("\"AgeCredential\""), "{error}");
    // With undefined terms given a vocabulary, both are signed.
    v["@context"] = serde_json::json!([canon::CREDENTIALS_V2, canon::UNDEFINED_TERMS_V2]);
    v["credentialSubject"]["birthDate"] = "2001-02-03".into();
    let nquads = canon::rdfc(&v).unwrap();
    assert!(
        nquads.contains(
            "<https://www.w3.org/ns/credentials/undefined-term#birthDate> \"2001-02-03\""
        ),
        "{nquads}"
    );
    assert!(
        nquads.contains("<https://www.w3.org/ns/credentials/undefined-term#AgeCredential>"),
        "{nquads}"
    );
}
