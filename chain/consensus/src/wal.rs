//! The consensus write-ahead log of a committee member: one file holding, for the height in
//! progress, every input consensus asked to persist and a record of every message this member
//! signed. The host syncs it to disk before any message leaves the node, so a member
//! restarted after a crash replays the height where it was and never signs two different
//! messages for one height, round and step.
//!
//! Records are `[length u32 LE][first 4 bytes of blake3(payload)][payload]`, the payload a borsh
//! [`WalRecord`]. A torn or corrupt tail (a crash mid-write) ends the log: it is cut off on open.
//! Starting a height rewrites the file from empty; the block of the height before is durable in
//! the state store by then.

use crate::{SignedRecord, WalEntry};
use borsh::{BorshDeserialize, BorshSerialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WalRecord {
    /// The height the records after it belong to; always first.
    Height(u64),
    /// An input to replay.
    Entry(WalEntry),
    /// A message this member signed.
    Signed(SignedRecord),
}

/// What an existing log held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The height in progress when the log was last written.
    pub height: Option<u64>,
    /// Inputs to replay, in order.
    pub entries: Vec<WalEntry>,
    /// Signatures given at that height.
    pub signed: Vec<SignedRecord>,
    /// Bytes of a torn or corrupt tail that were cut off.
    pub discarded_bytes: u64,
}

/// The open log.
pub struct Wal {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let hash = blake3::hash(payload);
    let mut out = [0u8; 4];
    out.copy_from_slice(&hash.as_bytes()[..4]);
    out
}

impl Wal {
    /// Opens (or creates) the log at `path` and reads what it holds.
    pub fn open(path: &Path) -> std::io::Result<(Self, Recovered)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut recovered = Recovered::default();
        let mut at = 0usize;
        while bytes.len() - at >= 8 {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
                break;
            };
            if checksum(payload) != bytes[at + 4..at + 8] {
                break;
            }
            let Ok(record) = borsh::from_slice::<WalRecord>(payload) else {
                break;
            };
            match record {
                WalRecord::Height(h) => {
                    recovered = Recovered {
                        height: Some(h),
                        ..Recovered::default()
                    };
                }
                WalRecord::Entry(e) => recovered.entries.push(e),
                WalRecord::Signed(s) => recovered.signed.push(s),
            }
            at += 8 + len;
        }
        recovered.discarded_bytes = (bytes.len() - at) as u64;
        if recovered.discarded_bytes > 0 {
            file.set_len(at as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                buffer: Vec::new(),
            },
            recovered,
        ))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts `height`: the log is emptied and begins with the height, synced.
    pub fn start_height(&mut self, height: u64) -> std::io::Result<()> {
        self.buffer.clear();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.append(&WalRecord::Height(height));
        self.sync()
    }

    /// Buffers a record; [`Wal::sync`] writes and syncs what is buffered.
    pub fn append(&mut self, record: &WalRecord) {
        let payload = borsh::to_vec(record).expect("borsh encoding into a Vec cannot fail");
        self.buffer
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buffer.extend_from_slice(&checksum(&payload));
        self.buffer.extend_from_slice(&payload);
    }

    /// Whether records wait to be synced.
    pub fn dirty(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// Writes buffered records and syncs the file's data to disk.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buffer)?;
        self.file.sync_data()?;
        self.buffer.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use weft_types::Hash32;

    fn signed(round: i64) -> SignedRecord {
        SignedRecord {
            height: 3,
            round,
            step: 1,
            hash: Hash32([round as u8; 32]),
        }
    }

    #[test]
    fn recovers_the_current_height_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        {
            let (mut wal, recovered) = Wal::open(&path).unwrap();
            assert_eq!(recovered, Recovered::default());
            wal.start_height(2).unwrap();
            wal.append(&WalRecord::Signed(signed(9)));
            wal.sync().unwrap();
            wal.start_height(3).unwrap();
            wal.append(&WalRecord::Entry(WalEntry::Timeout {
                kind: 0,
                round: 0,
                duration_ms: 0,
            }));
            wal.append(&WalRecord::Signed(signed(0)));
            wal.sync().unwrap();
            // Buffered but never synced: lost in a crash, as it must be.
            wal.append(&WalRecord::Signed(signed(1)));
        }
        // A torn record at the end.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[40, 0, 0, 0, 1, 2]).unwrap();
        drop(file);
        let (mut wal, recovered) = Wal::open(&path).unwrap();
        assert_eq!(recovered.height, Some(3));
        assert_eq!(
            recovered.entries,
            vec![WalEntry::Timeout {
                kind: 0,
                round: 0,
                duration_ms: 0,
            }]
        );
        assert_eq!(recovered.signed, vec![signed(0)]);
        assert_eq!(recovered.discarded_bytes, 6);
        // Appending after recovery continues the log.
        wal.append(&WalRecord::Signed(signed(2)));
        wal.sync().unwrap();
        let (_, again) = Wal::open(&path).unwrap();
        assert_eq!(again.signed, vec![signed(0), signed(2)]);
        assert_eq!(again.discarded_bytes, 0);
    }

    #[test]
    fn a_corrupt_record_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.start_height(5).unwrap();
        wal.append(&WalRecord::Signed(signed(0)));
        wal.append(&WalRecord::Signed(signed(1)));
        wal.sync().unwrap();
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, recovered) = Wal::open(&path).unwrap();
        assert_eq!(recovered.height, Some(5));
        assert_eq!(recovered.signed, vec![signed(0)]);
        assert!(recovered.discarded_bytes > 0);
    }
}
