//! The trust contract through the testkit, next to the real identity contract: accreditation,
//! re-accreditation, revocation, and who may do them.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use std::time::Duration;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, Op,
    VerificationMethod,
};
use weft_types::trust::{Accreditation, Grant};

const CHAIN: &str = "weft-test";

struct Setup {
    chain: Chain,
    trust: ContractId,
    identity: ContractId,
}

fn key(seed: u8) -> Address {
    Address([seed; 32])
}

fn setup() -> Setup {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut chain = Chain::new();
    let args = (CHAIN.to_string(),);
    let identity = build_contract(here.join("../identity"));
    assert!(
        chain
            .install_system("identity", &identity, &args)
            .is_success()
    );
    let receipt = chain.install_system("trust", &build_contract(here), &args);
    assert!(receipt.is_success(), "{receipt:?}");
    Setup {
        chain,
        trust: ContractId::system("trust"),
        identity: ContractId::system("identity"),
    }
}

fn grant(types: &[&str], may_accredit: bool, valid_until_ms: Option<u64>) -> Grant {
    Grant {
        types: types.iter().map(|t| t.to_string()).collect(),
        may_accredit,
        valid_until_ms,
    }
}

impl Setup {
    fn did(&mut self, seed: u8) -> DidId {
        let document = Document {
            methods: vec![VerificationMethod::ed25519(
                "key-1",
                [seed; 32],
                AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
            )],
            ..Document::default()
        };
        let receipt = self
            .chain
            .call(key(seed), self.identity, "create", &(document,));
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn accredit(
        &mut self,
        sender: u8,
        authority: DidId,
        subject: DidId,
        grant: Grant,
    ) -> Result<u32, String> {
        let receipt = self.chain.call(
            key(sender),
            self.trust,
            "accredit",
            &(authority, subject, grant),
        );
        if receipt.is_success() {
            Ok(receipt.value())
        } else {
            Err(receipt.error_message())
        }
    }

    fn revoke(&mut self, sender: u8, authority: DidId, subject: DidId) -> Result<(), String> {
        let receipt = self
            .chain
            .call(key(sender), self.trust, "revoke", &(authority, subject));
        if receipt.is_success() {
            Ok(())
        } else {
            Err(receipt.error_message())
        }
    }

    fn accreditation(&self, subject: DidId, authority: DidId) -> Accreditation {
        self.chain
            .view::<Option<Accreditation>>(self.trust, "accreditation", &(subject, authority))
            .unwrap()
            .unwrap()
    }

    fn refused<T: std::fmt::Debug>(
        &mut self,
        expected: &str,
        call: impl FnOnce(&mut Self) -> Result<T, String>,
    ) {
        let before = self.chain.storage(self.trust);
        let error = call(self).expect_err("the request must be refused");
        assert!(
            error.contains(expected),
            "expected {expected:?} in the refusal, got: {error}"
        );
        assert_eq!(self.chain.storage(self.trust), before, "{error}");
    }
}

#[test]
fn a_root_accredits_an_authority_that_accredits_an_issuer() {
    let mut s = setup();
    let (root, authority, issuer) = (s.did(1), s.did(2), s.did(3));
    let until = s.chain.time_ms() + 3_600_000;
    assert_eq!(
        s.accredit(
            1,
            root,
            authority,
            grant(&["AgeCredential"], true, Some(until))
        ),
        Ok(1)
    );
    assert_eq!(
        s.accredit(2, authority, issuer, grant(&["AgeCredential"], false, None)),
        Ok(1)
    );
    let now = s.chain.time_ms();
    let link = s.accreditation(issuer, authority);
    assert!(link.check("AgeCredential", now, false).is_ok());
    assert!(link.check("AgeCredential", now, true).is_err());
    let upper = s.accreditation(authority, root);
    assert!(upper.check("AgeCredential", now, true).is_ok());
    assert!(
        upper
            .check("AgeCredential", until, true)
            .unwrap_err()
            .contains("expired")
    );
    let accreditors: Vec<DidId> = s.chain.view(s.trust, "accreditors", &(issuer,)).unwrap();
    assert_eq!(accreditors, vec![authority]);

    // Revocation is recorded with its time; the record stays for verifiers to see.
    s.chain.advance_time(Duration::from_secs(5));
    s.revoke(2, authority, issuer).unwrap();
    let revoked = s.accreditation(issuer, authority);
    assert_eq!(revoked.revoked_ms, Some(s.chain.time_ms()));
    assert!(
        revoked
            .check("AgeCredential", s.chain.time_ms(), false)
            .unwrap_err()
            .contains("revoked")
    );
    s.refused("already revoked", |s| s.revoke(2, authority, issuer));
    // Accrediting again makes a new accreditation, listed once.
    assert_eq!(
        s.accredit(2, authority, issuer, grant(&["AgeCredential"], false, None)),
        Ok(2)
    );
    assert_eq!(s.accreditation(issuer, authority).revoked_ms, None);
    let accreditors: Vec<DidId> = s.chain.view(s.trust, "accreditors", &(issuer,)).unwrap();
    assert_eq!(accreditors, vec![authority]);
}

#[test]
fn only_the_authoritys_assertion_keys_accredit_or_revoke() {
    let mut s = setup();
    let (authority, issuer, intruder) = (s.did(1), s.did(2), s.did(3));
    s.refused("is not an assertionMethod key", |s| {
        s.accredit(3, authority, issuer, grant(&["Ticket"], false, None))
    });
    s.accredit(1, authority, issuer, grant(&["Ticket"], false, None))
        .unwrap();
    s.refused("is not an assertionMethod key", |s| {
        s.revoke(3, authority, issuer)
    });
    s.refused("never accredited", |s| s.revoke(3, intruder, issuer));
    s.refused("cannot accredit itself", |s| {
        s.accredit(1, authority, authority, grant(&["Ticket"], true, None))
    });
    // The subject turns the accreditation down; the authority cannot do that for it.
    let dismiss = |s: &mut Setup, sender: u8| {
        let receipt = s
            .chain
            .call(key(sender), s.trust, "dismiss", &(issuer, authority));
        if receipt.is_success() {
            Ok(())
        } else {
            Err(receipt.error_message())
        }
    };
    s.refused("is not an assertionMethod key", |s| dismiss(s, 1));
    dismiss(&mut s, 2).unwrap();
    let accreditors: Vec<DidId> = s.chain.view(s.trust, "accreditors", &(issuer,)).unwrap();
    assert!(accreditors.is_empty());
    let gone: Option<Accreditation> = s
        .chain
        .view(s.trust, "accreditation", &(issuer, authority))
        .unwrap();
    assert_eq!(gone, None);
}

#[test]
fn bad_grants_and_unknown_or_deactivated_dids_are_refused() {
    let mut s = setup();
    let (authority, issuer) = (s.did(1), s.did(2));
    let now = s.chain.time_ms();
    s.refused("is not after the block time", |s| {
        s.accredit(1, authority, issuer, grant(&["Ticket"], false, Some(now)))
    });
    s.refused("1 to 16 credential types", |s| {
        s.accredit(1, authority, issuer, grant(&[], false, None))
    });
    s.refused("does not exist", |s| {
        s.accredit(
            1,
            authority,
            DidId([0xab; 32]),
            grant(&["Ticket"], false, None),
        )
    });
    let receipt = s.chain.call(
        key(2),
        s.identity,
        "update",
        &(issuer, 1u32, vec![Op::Deactivate]),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    s.refused("is deactivated", |s| {
        s.accredit(1, authority, issuer, grant(&["Ticket"], false, None))
    });
}
