//! Reading by cryptography and validation: a revoked reader keeps what it was given and reads
//! nothing after; keys and payloads do not open in another context; a reordered, removed or
//! altered entry fails validation at that entry.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use weft_channels::{AgreementSecret, EpochSecret, compare, open, seal, unwrap, validate, wrap};
use weft_types::Hash32;
use weft_types::channel::{Entry, EntryInput, Payload, WRAPPED_KEY_BYTES};
use weft_types::did::DidId;

const CHANNEL: Hash32 = Hash32([5; 32]);

#[test]
fn a_reader_unwraps_its_epoch_key_and_opens_the_entries() {
    let reader = DidId([1; 32]);
    let reader_key = AgreementSecret::generate();
    let epoch = EpochSecret::generate();
    let wrapped = wrap(&CHANNEL, 0, &epoch, &reader, &reader_key.public());
    assert_eq!(wrapped.len(), WRAPPED_KEY_BYTES);
    let unwrapped = unwrap(&CHANNEL, 0, &reader, &reader_key, &wrapped).unwrap();
    assert_eq!(unwrapped.public(), epoch.public());
    let sealed = seal(
        &CHANNEL,
        0,
        &epoch.public(),
        b"login failed for admin from 203.0.113.9",
    );
    assert_eq!(
        open(&CHANNEL, 0, &unwrapped, &sealed).unwrap(),
        b"login failed for admin from 203.0.113.9"
    );
}

#[test]
fn keys_and_payloads_open_only_in_their_context() {
    let reader = DidId([1; 32]);
    let reader_key = AgreementSecret::generate();
    let epoch = EpochSecret::generate();
    let wrapped = wrap(&CHANNEL, 3, &epoch, &reader, &reader_key.public());
    // Another reader's key, another reader id, epoch or channel: refused.
    assert!(unwrap(&CHANNEL, 3, &reader, &AgreementSecret::generate(), &wrapped).is_err());
    assert!(unwrap(&CHANNEL, 3, &DidId([2; 32]), &reader_key, &wrapped).is_err());
    assert!(unwrap(&CHANNEL, 4, &reader, &reader_key, &wrapped).is_err());
    assert!(unwrap(&Hash32([6; 32]), 3, &reader, &reader_key, &wrapped).is_err());
    let sealed = seal(&CHANNEL, 3, &epoch.public(), b"payload");
    assert!(open(&CHANNEL, 2, &epoch, &sealed).is_err());
    assert!(open(&Hash32([6; 32]), 3, &epoch, &sealed).is_err());
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let error = open(&CHANNEL, 3, &epoch, &altered).unwrap_err().to_string();
    assert!(error.contains("cannot decrypt"), "{error}");
    assert!(
        open(&CHANNEL, 3, &epoch, &sealed[..10])
            .unwrap_err()
            .to_string()
            .contains("too few")
    );
}

#[test]
fn a_reader_revoked_at_a_height_reads_nothing_written_after_but_keeps_what_it_had() {
    let (reader, other) = (DidId([1; 32]), DidId([2; 32]));
    let (reader_key, other_key) = (AgreementSecret::generate(), AgreementSecret::generate());
    // Epoch 0: both readers get the key; an entry is written.
    let epoch0 = EpochSecret::generate();
    let r0 = wrap(&CHANNEL, 0, &epoch0, &reader, &reader_key.public());
    let before = seal(&CHANNEL, 0, &epoch0.public(), b"before the revocation");
    // The reader is revoked; the author starts epoch 1 and wraps it for the other reader only.
    let epoch1 = EpochSecret::generate();
    let o1 = wrap(&CHANNEL, 1, &epoch1, &other, &other_key.public());
    let after = seal(&CHANNEL, 1, &epoch1.public(), b"after the revocation");
    // The revoked reader still reads what it was given...
    let k0 = unwrap(&CHANNEL, 0, &reader, &reader_key, &r0).unwrap();
    assert_eq!(
        open(&CHANNEL, 0, &k0, &before).unwrap(),
        b"before the revocation"
    );
    // ...but nothing after: its old key does not open epoch 1, and the new key is not its own.
    assert!(open(&CHANNEL, 1, &k0, &after).is_err());
    assert!(unwrap(&CHANNEL, 1, &reader, &reader_key, &o1).is_err());
    assert!(unwrap(&CHANNEL, 1, &other, &reader_key, &o1).is_err());
    // The remaining reader reads the new entries.
    let k1 = unwrap(&CHANNEL, 1, &other, &other_key, &o1).unwrap();
    assert_eq!(
        open(&CHANNEL, 1, &k1, &after).unwrap(),
        b"after the revocation"
    );
}

fn chain(n: u64) -> (Vec<Entry>, Hash32) {
    let mut entries = Vec::new();
    let mut prev = Hash32::default();
    for index in 0..n {
        let entry = Entry {
            index,
            prev,
            writer: DidId([9; 32]),
            created_ms: 1_000 + index,
            height: 10 + index,
            input: EntryInput {
                kind: "event".into(),
                metadata: format!("{{\"n\":{index}}}"),
                public_payload: Vec::new(),
                payload: Payload::Inline(vec![index as u8; 8]),
                epoch: 0,
            },
        };
        prev = entry.hash();
        entries.push(entry);
    }
    (entries, prev)
}

#[test]
fn reordered_removed_or_altered_entries_fail_at_that_entry() {
    let (entries, head) = chain(5);
    assert_eq!(validate(&entries, &head), Ok(()));

    let mut reordered = entries.clone();
    reordered.swap(2, 3);
    assert_eq!(validate(&reordered, &head).unwrap_err().index, 2);

    let mut removed = entries.clone();
    removed.remove(1);
    assert_eq!(validate(&removed, &head).unwrap_err().index, 1);

    let mut altered = entries.clone();
    altered[2].input.metadata = "{\"n\":999}".into();
    let error = validate(&altered, &head).unwrap_err();
    assert_eq!(
        error.index, 3,
        "entry 3 no longer links to the altered entry 2: {error}"
    );

    let mut last = entries.clone();
    last[4].input.kind = "nothing-happened".into();
    let error = validate(&last, &head).unwrap_err();
    assert_eq!(error.index, 4);
    assert!(error.reason.contains("proven head"), "{error}");

    let truncated = &entries[..4];
    assert_eq!(validate(truncated, &head).unwrap_err().index, 3);

    // Against the proven entries, a copy fails exactly at the entry that changed.
    assert_eq!(compare(&entries, &entries), Ok(()));
    let error = compare(&altered, &entries).unwrap_err();
    assert_eq!(error.index, 2);
    assert!(error.reason.contains("altered"), "{error}");
    let error = compare(&reordered, &entries).unwrap_err();
    assert_eq!(
        (error.index, error.reason.contains("entry 3 of the channel")),
        (2, true),
        "{error}"
    );
    let error = compare(&removed, &entries).unwrap_err();
    assert_eq!(error.index, 1, "{error}");
    assert_eq!(compare(truncated, &entries).unwrap_err().index, 4);
}
