//! The channel contract through the testkit, next to the real identity contract: every
//! unauthorized subscription change and write is refused with a precise error and changes nothing;
//! entries link by hash; key epochs and wrapped keys follow the rights.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use std::time::Duration;
use weft_testkit::{Address, Chain, ContractId, build_contract};
use weft_types::Hash32;
use weft_types::channel::{
    Channel, ChannelSpec, Entry, EntryInput, Payload, Rights, WRAPPED_KEY_BYTES, WrappedKey,
};
use weft_types::did::{
    ASSERTION_METHOD, AUTHENTICATION, CAPABILITY_INVOCATION, DidId, Document, VerificationMethod,
};

const CHAIN: &str = "weft-test";
const AUTHOR: u8 = 1;
const ADMIN: u8 = 2;
const READER: u8 = 3;
const WRITER: u8 = 4;
const STRANGER: u8 = 5;

struct Setup {
    chain: Chain,
    channel_contract: ContractId,
    dids: Vec<DidId>,
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
    let receipt = chain.install_system("channel", &build_contract(here), &args);
    assert!(receipt.is_success(), "{receipt:?}");
    let mut dids = vec![DidId([0; 32])];
    for seed in 1..=5u8 {
        let document = Document {
            methods: vec![VerificationMethod::ed25519(
                "key-1",
                [seed; 32],
                AUTHENTICATION | ASSERTION_METHOD | CAPABILITY_INVOCATION,
            )],
            ..Document::default()
        };
        let receipt = chain.call(
            key(seed),
            ContractId::system("identity"),
            "create",
            &(document,),
        );
        assert!(receipt.is_success(), "{receipt:?}");
        dids.push(receipt.value());
    }
    Setup {
        chain,
        channel_contract: ContractId::system("channel"),
        dids,
    }
}

fn spec(private: bool) -> ChannelSpec {
    ChannelSpec {
        name: "security events".into(),
        description: "the shop's security tools".into(),
        topics: vec!["security".into()],
        private,
    }
}

fn input(kind: &str, epoch: u32) -> EntryInput {
    EntryInput {
        kind: kind.into(),
        metadata: "{\"source\":\"waf\"}".into(),
        public_payload: b"public".to_vec(),
        payload: Payload::Inline(b"sealed".to_vec()),
        epoch,
    }
}

fn wrapped(reader: DidId, epoch: u32) -> WrappedKey {
    WrappedKey {
        reader,
        epoch,
        recipient: [9; 32],
        wrapped: vec![7; WRAPPED_KEY_BYTES],
    }
}

impl Setup {
    fn did(&self, who: u8) -> DidId {
        self.dids[who as usize]
    }

    fn call<A: borsh::BorshSerialize>(
        &mut self,
        sender: u8,
        method: &str,
        args: &A,
    ) -> Result<Vec<u8>, String> {
        let receipt = self
            .chain
            .call(key(sender), self.channel_contract, method, args);
        match receipt.status {
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(e.to_string()),
        }
    }

    fn create(&mut self, private: bool) -> Hash32 {
        let author = self.did(AUTHOR);
        let epoch_key = private.then_some([8u8; 32]);
        let receipt = self.chain.call(
            key(AUTHOR),
            self.channel_contract,
            "create",
            &(author, spec(private), epoch_key),
        );
        assert!(receipt.is_success(), "{receipt:?}");
        receipt.value()
    }

    fn channel(&self, id: Hash32) -> Channel {
        self.chain
            .view::<Option<Channel>>(self.channel_contract, "channel", &(id,))
            .unwrap()
            .unwrap()
    }

    fn refused<T: std::fmt::Debug>(
        &mut self,
        expected: &str,
        call: impl FnOnce(&mut Self) -> Result<T, String>,
    ) {
        let before = self.chain.storage(self.channel_contract);
        let error = call(self).expect_err("the request must be refused");
        assert!(
            error.contains(expected),
            "expected {expected:?} in the refusal, got: {error}"
        );
        assert_eq!(self.chain.storage(self.channel_contract), before, "{error}");
    }

    fn authorize(
        &mut self,
        manager: u8,
        id: Hash32,
        who: u8,
        rights: Rights,
        expires: Option<u64>,
    ) -> Result<Vec<u8>, String> {
        let (m, s) = (self.did(manager), self.did(who));
        self.call(manager, "authorize", &(id, m, s, rights, expires))
    }

    fn write(&mut self, writer: u8, id: Hash32, epoch: u32) -> Result<Vec<u8>, String> {
        let w = self.did(writer);
        self.call(writer, "write", &(id, w, input("event", epoch)))
    }
}

#[test]
fn only_the_author_and_its_admins_grant_rights_and_nobody_their_own() {
    let mut s = setup();
    let id = s.create(true);
    let (reader, admin) = (s.did(READER), s.did(ADMIN));
    let evidence = Some(b"{\"type\":\"AuditorLicense\"}".to_vec());
    s.call(READER, "request", &(id, reader, Rights::Read, evidence))
        .unwrap();
    let asked: Option<weft_types::channel::Subscription> = s
        .chain
        .view(s.channel_contract, "subscription", &(id, reader))
        .unwrap();
    assert!(asked.unwrap().evidence.unwrap().starts_with(b"{"));
    s.refused("evidence has at most", |s| {
        s.call(
            READER,
            "request",
            &(id, reader, Rights::Read, Some(vec![0u8; 9_000])),
        )
    });
    // A stranger, the subscriber itself, and an admin before it is named cannot grant.
    s.refused("neither the author nor an admin", |s| {
        s.authorize(STRANGER, id, READER, Rights::Read, None)
    });
    s.refused("neither the author nor an admin", |s| {
        s.authorize(READER, id, READER, Rights::Audit, None)
    });
    s.refused("neither the author nor an admin", |s| {
        s.authorize(ADMIN, id, READER, Rights::Read, None)
    });
    // Someone acting as the author without its key.
    let author = s.did(AUTHOR);
    s.refused("is not an assertionMethod key", |s| {
        s.call(
            STRANGER,
            "authorize",
            &(id, author, reader, Rights::Read, None::<u64>),
        )
    });
    // Only the author names admins; an admin then grants others, never itself.
    s.refused("is not an assertionMethod key", |s| {
        s.call(ADMIN, "set_admins", &(id, vec![admin]))
    });
    s.call(AUTHOR, "set_admins", &(id, vec![admin])).unwrap();
    s.refused("cannot change its own rights", |s| {
        s.authorize(ADMIN, id, ADMIN, Rights::Audit, None)
    });
    s.authorize(ADMIN, id, READER, Rights::Read, None).unwrap();
    // The reader cannot revoke or widen its own rights; the stranger cannot revoke it.
    s.refused("neither the author nor an admin", |s| {
        s.authorize(READER, id, READER, Rights::ReadAndWrite, None)
    });
    let r = s.did(READER);
    s.refused("neither the author nor an admin", |s| {
        let stranger = s.did(STRANGER);
        s.call(STRANGER, "revoke", &(id, stranger, r))
    });
    let now = s.chain.time_ms();
    s.refused("is not after the block time", |s| {
        s.authorize(AUTHOR, id, READER, Rights::Read, Some(now))
    });
}

#[test]
fn only_writers_authorized_at_that_block_append_and_entries_link_by_hash() {
    let mut s = setup();
    let id = s.create(false);
    s.refused("has no write rights", |s| s.write(WRITER, id, 0));
    s.authorize(AUTHOR, id, READER, Rights::Read, None).unwrap();
    s.refused("has no write rights", |s| s.write(READER, id, 0));
    let until = s.chain.time_ms() + 10_000;
    s.authorize(AUTHOR, id, WRITER, Rights::Write, Some(until))
        .unwrap();
    assert_eq!(
        s.write(WRITER, id, 0)
            .map(|v| borsh::from_slice::<u64>(&v).unwrap()),
        Ok(0)
    );
    assert_eq!(
        s.write(AUTHOR, id, 0)
            .map(|v| borsh::from_slice::<u64>(&v).unwrap()),
        Ok(1)
    );
    let first: Entry = s
        .chain
        .view::<Option<Entry>>(s.channel_contract, "entry", &(id, 0u64))
        .unwrap()
        .unwrap();
    let second: Entry = s
        .chain
        .view::<Option<Entry>>(s.channel_contract, "entry", &(id, 1u64))
        .unwrap()
        .unwrap();
    assert_eq!(first.prev, Hash32::default());
    assert_eq!(second.prev, first.hash());
    assert_eq!(s.channel(id).head, second.hash());
    // The grant expires: the same writer is refused at a later block.
    s.chain.advance_time(Duration::from_secs(11));
    s.refused("has no write rights", |s| s.write(WRITER, id, 0));
    // Revoked writers too.
    s.authorize(AUTHOR, id, WRITER, Rights::ReadAndWrite, None)
        .unwrap();
    s.write(WRITER, id, 0).unwrap();
    let (author, writer) = (s.did(AUTHOR), s.did(WRITER));
    s.call(AUTHOR, "revoke", &(id, author, writer)).unwrap();
    s.refused("has no write rights", |s| s.write(WRITER, id, 0));
    // Oversized payloads are refused with the way out.
    let mut big = input("event", 0);
    big.payload = Payload::Inline(vec![0; 20_000]);
    s.refused("post the payload to the Tangle", |s| {
        s.call(AUTHOR, "write", &(id, author, big))
    });
}

#[test]
fn key_epochs_follow_the_rights() {
    let mut s = setup();
    let id = s.create(true);
    let (author, reader, writer) = (s.did(AUTHOR), s.did(READER), s.did(WRITER));
    s.authorize(AUTHOR, id, READER, Rights::Read, None).unwrap();
    s.authorize(AUTHOR, id, WRITER, Rights::Write, None)
        .unwrap();
    // Keys only for readers whose rights cover the epoch.
    s.refused("may only write", |s| {
        s.call(
            AUTHOR,
            "share_keys",
            &(id, author, vec![wrapped(writer, 0)]),
        )
    });
    s.refused("has no read rights", |s| {
        let stranger = s.did(STRANGER);
        s.call(
            AUTHOR,
            "share_keys",
            &(id, author, vec![wrapped(stranger, 0)]),
        )
    });
    s.refused("has not started", |s| {
        s.call(
            AUTHOR,
            "share_keys",
            &(id, author, vec![wrapped(reader, 1)]),
        )
    });
    s.refused("neither the author nor an admin", |s| {
        s.call(
            READER,
            "share_keys",
            &(id, reader, vec![wrapped(reader, 0)]),
        )
    });
    s.call(
        AUTHOR,
        "share_keys",
        &(id, author, vec![wrapped(reader, 0)]),
    )
    .unwrap();
    s.write(WRITER, id, 0).unwrap();
    // The reader is revoked and the author rotates: writes sealed for the old epoch are refused,
    // and the revoked reader gets no key of the new epoch.
    s.call(AUTHOR, "revoke", &(id, author, reader)).unwrap();
    s.refused("the next key epoch", |s| {
        s.call(
            AUTHOR,
            "rotate",
            &(id, author, 5u32, [6u8; 32], Vec::<WrappedKey>::new()),
        )
    });
    s.call(
        AUTHOR,
        "rotate",
        &(id, author, 1u32, [6u8; 32], Vec::<WrappedKey>::new()),
    )
    .unwrap();
    s.refused("seal it to the current epoch key", |s| {
        s.write(WRITER, id, 0)
    });
    s.write(WRITER, id, 1).unwrap();
    s.refused("has no read rights", |s| {
        s.call(
            AUTHOR,
            "share_keys",
            &(id, author, vec![wrapped(reader, 1)]),
        )
    });
    let held: Vec<WrappedKey> = s
        .chain
        .view(s.channel_contract, "keys", &(id, reader))
        .unwrap();
    assert_eq!(held.iter().map(|k| k.epoch).collect::<Vec<_>>(), [0]);
    // A Read grant made now covers epoch 1 on, not epoch 0; an Audit grant covers all.
    let stranger = s.did(STRANGER);
    s.authorize(AUTHOR, id, STRANGER, Rights::Read, None)
        .unwrap();
    s.refused("reads from key epoch 1 on", |s| {
        s.call(
            AUTHOR,
            "share_keys",
            &(id, author, vec![wrapped(stranger, 0)]),
        )
    });
    s.authorize(AUTHOR, id, STRANGER, Rights::Audit, None)
        .unwrap();
    s.call(
        AUTHOR,
        "share_keys",
        &(id, author, vec![wrapped(stranger, 0), wrapped(stranger, 1)]),
    )
    .unwrap();
    assert_eq!(s.channel(id).epoch, 1);
}
