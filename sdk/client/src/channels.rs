//! Audit-trail channels from Rust: the channel contract's transactions ([`tx`]), reading a
//! channel with proofs ([`read_channel`]), decrypting what a reader may read ([`decrypt`]), and
//! validating the hash chain ([`weft_channels::validate`]) against the proven head.
//!
//! Every request names the DID it acts as; the sender's key must be under that DID's
//! `assertionMethod`. Epoch secrets are made and kept by the author (or an admin): see
//! `weft_channels`.

use crate::credentials::{CredentialVerifier, VerifierError};
use crate::json::StateRead;
use weft_channels::{AgreementSecret, ChannelCryptoError, EpochSecret};
use weft_types::channel::{self, Channel, Entry, Payload, WrappedKey, storage};
use weft_types::did::DidId;
use weft_types::{ContractId, Hash32};

/// Transactions of the channel contract, built and signed by a [`crate::Signer`].
pub mod tx {
    use crate::Signer;
    use weft_types::channel::{ChannelSpec, EntryInput, Rights, WrappedKey};
    use weft_types::did::DidId;
    use weft_types::{ContractId, Hash32, SignedTransaction};

    fn call<A: borsh::BorshSerialize>(
        signer: &mut Signer,
        method: &str,
        args: &A,
    ) -> SignedTransaction {
        signer.call(
            ContractId::system("channel"),
            method,
            borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail"),
        )
    }

    /// `create(author, spec, epoch_key)`: returns the channel id.
    pub fn create(
        signer: &mut Signer,
        author: &DidId,
        spec: &ChannelSpec,
        epoch_key: Option<[u8; 32]>,
    ) -> SignedTransaction {
        call(signer, "create", &(author, spec, epoch_key))
    }

    /// `set_admins(channel, admins)`, as the author.
    pub fn set_admins(
        signer: &mut Signer,
        channel: &Hash32,
        admins: &[DidId],
    ) -> SignedTransaction {
        call(signer, "set_admins", &(channel, admins))
    }

    /// `request(channel, subscriber, rights, evidence)`: `evidence` is typically a credential
    /// (its JSON bytes) the managers verify before they authorize.
    pub fn request(
        signer: &mut Signer,
        channel: &Hash32,
        subscriber: &DidId,
        rights: Rights,
        evidence: Option<&[u8]>,
    ) -> SignedTransaction {
        call(
            signer,
            "request",
            &(channel, subscriber, rights, evidence.map(<[u8]>::to_vec)),
        )
    }

    /// `authorize(channel, manager, subscriber, rights, expires_ms)`.
    pub fn authorize(
        signer: &mut Signer,
        channel: &Hash32,
        manager: &DidId,
        subscriber: &DidId,
        rights: Rights,
        expires_ms: Option<u64>,
    ) -> SignedTransaction {
        call(
            signer,
            "authorize",
            &(channel, manager, subscriber, rights, expires_ms),
        )
    }

    /// `revoke(channel, manager, subscriber)`.
    pub fn revoke(
        signer: &mut Signer,
        channel: &Hash32,
        manager: &DidId,
        subscriber: &DidId,
    ) -> SignedTransaction {
        call(signer, "revoke", &(channel, manager, subscriber))
    }

    /// `rotate(channel, manager, epoch, epoch_key, keys)`.
    pub fn rotate(
        signer: &mut Signer,
        channel: &Hash32,
        manager: &DidId,
        epoch: u32,
        epoch_key: [u8; 32],
        keys: &[WrappedKey],
    ) -> SignedTransaction {
        call(
            signer,
            "rotate",
            &(channel, manager, epoch, epoch_key, keys),
        )
    }

    /// `share_keys(channel, manager, keys)`.
    pub fn share_keys(
        signer: &mut Signer,
        channel: &Hash32,
        manager: &DidId,
        keys: &[WrappedKey],
    ) -> SignedTransaction {
        call(signer, "share_keys", &(channel, manager, keys))
    }

    /// `write(channel, writer, input)`: returns the entry's index.
    pub fn write(
        signer: &mut Signer,
        channel: &Hash32,
        writer: &DidId,
        input: &EntryInput,
    ) -> SignedTransaction {
        call(signer, "write", &(channel, writer, input))
    }
}

/// A channel as proven at one anchored height.
#[derive(Debug, Clone)]
pub struct ProvenChannel {
    /// The channel id.
    pub id: Hash32,
    /// The anchored height read.
    pub height: u64,
    /// Its record.
    pub channel: Channel,
    /// Its entries, from the first.
    pub entries: Vec<Entry>,
}

/// Why a channel could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChannelReadError {
    /// Reading or proving failed.
    #[error(transparent)]
    Proof(#[from] VerifierError),
    /// No such channel at that height.
    #[error("there is no channel {0}")]
    NoChannel(Hash32),
    /// A proven value does not decode.
    #[error("a proven value does not decode: {0}")]
    Decode(String),
}

fn decode<T: borsh::BorshDeserialize>(bytes: &[u8]) -> Result<T, ChannelReadError> {
    borsh::from_slice(bytes).map_err(|e| ChannelReadError::Decode(e.to_string()))
}

/// Reads channel `id` and all its entries with proofs at the latest anchored height, every value
/// checked against the committee's anchor. Validate it with [`weft_channels::validate`]
/// (`entries` against `channel.head`).
#[cfg(feature = "transport")]
pub async fn read_channel(
    client: &crate::Client,
    verifier: &CredentialVerifier,
    id: &Hash32,
) -> Result<ProvenChannel, ChannelReadError> {
    let contract = ContractId::system("channel");
    let (height, values) = verifier
        .read_proven(
            client,
            &[StateRead {
                contract,
                key: storage::channel_key(id),
            }],
            None,
        )
        .await?;
    let channel: Channel = match values.first() {
        Some(Some(bytes)) => decode(bytes)?,
        _ => return Err(ChannelReadError::NoChannel(*id)),
    };
    let reads: Vec<StateRead> = (0..channel.entries)
        .map(|i| StateRead {
            contract,
            key: storage::entry_key(id, i),
        })
        .collect();
    let mut entries = Vec::with_capacity(reads.len());
    if !reads.is_empty() {
        let (_, values) = verifier.read_proven(client, &reads, Some(height)).await?;
        for (i, value) in values.iter().enumerate() {
            let bytes = value
                .as_ref()
                .ok_or_else(|| ChannelReadError::Decode(format!("entry {i} is proven absent")))?;
            entries.push(decode(bytes)?);
        }
    }
    Ok(ProvenChannel {
        id: *id,
        height,
        channel,
        entries,
    })
}

/// The epoch secrets wrapped for `reader`, proven at `height`.
#[cfg(feature = "transport")]
pub async fn read_keys(
    client: &crate::Client,
    verifier: &CredentialVerifier,
    id: &Hash32,
    reader: &DidId,
    height: u64,
) -> Result<Vec<WrappedKey>, ChannelReadError> {
    let (_, values) = verifier
        .read_proven(
            client,
            &[StateRead {
                contract: ContractId::system("channel"),
                key: storage::keys_key(id, reader),
            }],
            Some(height),
        )
        .await?;
    match values.first() {
        Some(Some(bytes)) => decode(bytes),
        _ => Ok(Vec::new()),
    }
}

/// Each entry's payload as `reader` can read it: opened with the epoch secrets in `keys`
/// (unwrapped with `reader_secret`), or why not (no key for that epoch, or it does not open).
/// Payloads in the Tangle are not fetched here (`Payload::Tangle` gives their hash).
pub fn decrypt(
    channel: &ProvenChannel,
    reader: &DidId,
    reader_secret: &AgreementSecret,
    keys: &[WrappedKey],
) -> Vec<(u64, Result<Vec<u8>, ChannelCryptoError>)> {
    let mut secrets: Vec<(u32, EpochSecret)> = Vec::new();
    for key in keys {
        if let Ok(secret) =
            weft_channels::unwrap(&channel.id, key.epoch, reader, reader_secret, &key.wrapped)
        {
            secrets.push((key.epoch, secret));
        }
    }
    channel
        .entries
        .iter()
        .map(|entry| {
            let result = match &entry.input.payload {
                Payload::Inline(bytes) if !channel.channel.spec.private => Ok(bytes.clone()),
                Payload::Inline(bytes) => {
                    match secrets.iter().find(|(e, _)| *e == entry.input.epoch) {
                        Some((_, secret)) => {
                            weft_channels::open(&channel.id, entry.input.epoch, secret, bytes)
                        }
                        None => Err(ChannelCryptoError::Decrypt(format!(
                            "no key of epoch {} was shared with this reader",
                            entry.input.epoch
                        ))),
                    }
                }
                Payload::Tangle { hash, .. } => Err(ChannelCryptoError::Malformed(format!(
                    "the payload is in the Tangle (blake3 {hash}); fetch it with tangle_getBlock"
                ))),
            };
            (entry.index, result)
        })
        .collect()
}

/// The id of the channel `author` creates next, whose creations so far number `counter`.
pub fn next_channel_id(author: &DidId, counter: u64) -> Hash32 {
    channel::channel_id(author, counter)
}

#[cfg(feature = "transport")]
use crate::credentials::succeeded as rejected;

#[cfg(feature = "transport")]
async fn view<T: borsh::BorshDeserialize>(
    client: &crate::Client,
    method: &str,
    args: &impl borsh::BorshSerialize,
) -> crate::Result<T> {
    let args = borsh::to_vec(args).map_err(|e| crate::Error::Encode(e.to_string()))?;
    let result = client
        .call_borsh(&ContractId::system("channel"), method, &args)
        .await?;
    borsh::from_slice(&result.return_data).map_err(|e| crate::Error::Protocol {
        method: method.into(),
        reason: e.to_string(),
    })
}

/// The X25519 `keyAgreement` key of `did`, from its current DID document.
#[cfg(feature = "transport")]
pub async fn agreement_key(client: &crate::Client, did: &str) -> crate::Result<[u8; 32]> {
    let answer = client
        .resolve_did(did, &crate::did::ResolveOptions::default())
        .await?;
    let document = answer
        .result
        .did_document
        .ok_or_else(|| crate::Error::Rejected(format!("{did} does not resolve to a document")))?;
    for reference in &document.key_agreement {
        if let Some(method) = document.method(reference)
            && let Some(multibase) = &method.public_key_multibase
            && let Ok((weft_types::did::KeyType::X25519, key)) = weft_did::parse_multikey(multibase)
        {
            return Ok(key);
        }
    }
    Err(crate::Error::Rejected(format!(
        "{did} has no X25519 keyAgreement key to wrap channel keys to; add one (weft did add-key … --relationships keyAgreement)"
    )))
}

/// The author or an admin of a channel, holding the channel's epoch secrets: it grants and
/// revokes rights and shares keys accordingly (starting a new key epoch on every revocation).
#[cfg(feature = "transport")]
pub struct Manager<'a> {
    client: &'a crate::Client,
    signer: crate::Signer,
    did: weft_types::did::Did,
    id: Hash32,
    secrets: Vec<(u32, [u8; 32])>,
}

#[cfg(feature = "transport")]
impl<'a> Manager<'a> {
    async fn signer(
        client: &crate::Client,
        key: weft_types::Keypair,
    ) -> crate::Result<crate::Signer> {
        let info = client.chain_info().await?;
        let account = client.account(&key.public_key().address()).await?;
        Ok(crate::Signer::new(key, &info.chain_id, account.next_nonce))
    }

    fn parse(did: &str) -> crate::Result<weft_types::did::Did> {
        did.parse()
            .map_err(|e: weft_types::did::DidParseError| crate::Error::Encode(e.to_string()))
    }

    /// Creates a channel as `author` (the key is under its `assertionMethod`); a private one
    /// gets its first epoch secret here, kept by this manager ([`Manager::secrets`]).
    pub async fn create(
        client: &'a crate::Client,
        key: weft_types::Keypair,
        author: &str,
        spec: &weft_types::channel::ChannelSpec,
    ) -> crate::Result<Self> {
        let did = Self::parse(author)?;
        let mut signer = Self::signer(client, key).await?;
        let secret = spec.private.then(EpochSecret::generate);
        let tx = tx::create(
            &mut signer,
            &did.id,
            spec,
            secret.as_ref().map(EpochSecret::public),
        );
        let out = rejected(client.send_and_wait(&tx).await?, "creating the channel")?;
        let id: Hash32 = borsh::from_slice(&out).map_err(|e| crate::Error::Protocol {
            method: "create".into(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            signer,
            did,
            id,
            secrets: secret.map(|s| vec![(0, s.to_bytes())]).unwrap_or_default(),
        })
    }

    /// Manages channel `id` as `manager` with the epoch secrets kept from before.
    pub async fn open(
        client: &'a crate::Client,
        key: weft_types::Keypair,
        manager: &str,
        id: Hash32,
        secrets: Vec<(u32, [u8; 32])>,
    ) -> crate::Result<Self> {
        Ok(Self {
            did: Self::parse(manager)?,
            signer: Self::signer(client, key).await?,
            client,
            id,
            secrets,
        })
    }

    /// The channel id.
    pub fn id(&self) -> Hash32 {
        self.id
    }

    /// The epoch secrets (keep them: readers get them only from a manager).
    pub fn secrets(&self) -> &[(u32, [u8; 32])] {
        &self.secrets
    }

    async fn send(
        &mut self,
        tx: weft_types::SignedTransaction,
        what: &str,
    ) -> crate::Result<Vec<u8>> {
        rejected(self.client.send_and_wait(&tx).await?, what)
    }

    fn wrapped_for(
        &self,
        reader: &weft_types::did::Did,
        key: &[u8; 32],
        epochs: &[u32],
    ) -> Vec<WrappedKey> {
        self.secrets
            .iter()
            .filter(|(e, _)| epochs.contains(e))
            .map(|(epoch, bytes)| WrappedKey {
                reader: reader.id,
                epoch: *epoch,
                recipient: *key,
                wrapped: weft_channels::wrap(
                    &self.id,
                    *epoch,
                    &EpochSecret::from_bytes(*bytes),
                    &reader.id,
                    key,
                ),
            })
            .collect()
    }

    /// Grants `subscriber` `rights` until `expires_ms` and, on a private channel, shares the
    /// keys those rights cover: every epoch for `Audit`, the current one for `Read`.
    pub async fn authorize(
        &mut self,
        subscriber: &str,
        rights: weft_types::channel::Rights,
        expires_ms: Option<u64>,
    ) -> crate::Result<()> {
        let who = Self::parse(subscriber)?;
        // The reader's key first: a grant whose keys cannot be shared would be of no use.
        let key = if self.secrets.is_empty() || !rights.reads() {
            None
        } else {
            Some(agreement_key(self.client, subscriber).await?)
        };
        let tx = tx::authorize(
            &mut self.signer,
            &self.id,
            &self.did.id,
            &who.id,
            rights,
            expires_ms,
        );
        self.send(tx, "authorizing").await?;
        let Some(key) = key else {
            return Ok(());
        };
        let current = self.secrets.iter().map(|(e, _)| *e).max().unwrap_or(0);
        let epochs: Vec<u32> = match rights {
            weft_types::channel::Rights::Audit => self.secrets.iter().map(|(e, _)| *e).collect(),
            _ => vec![current],
        };
        let keys = self.wrapped_for(&who, &key, &epochs);
        let tx = tx::share_keys(&mut self.signer, &self.id, &self.did.id, &keys);
        self.send(tx, "sharing keys").await.map(|_| ())
    }

    /// Revokes `subscriber` and, on a private channel, starts a new key epoch shared with every
    /// member that still reads: the revoked reader cannot read anything written afterwards.
    pub async fn revoke(&mut self, subscriber: &str) -> crate::Result<()> {
        let who = Self::parse(subscriber)?;
        let tx = tx::revoke(&mut self.signer, &self.id, &self.did.id, &who.id);
        self.send(tx, "revoking").await?;
        self.rotate().await
    }

    /// Starts a new key epoch (after a revocation, or when a grant expired), shared with every
    /// member whose rights read now.
    pub async fn rotate(&mut self) -> crate::Result<()> {
        if self.secrets.is_empty() {
            return Ok(());
        }
        let epoch = self.secrets.iter().map(|(e, _)| *e).max().unwrap_or(0) + 1;
        let secret = EpochSecret::generate();
        self.secrets.push((epoch, secret.to_bytes()));
        let members: Vec<DidId> = view(self.client, "members", &(self.id,)).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let chain = self.did.chain.clone();
        let mut keys = Vec::new();
        for member in members {
            let subscription: Option<weft_types::channel::Subscription> =
                view(self.client, "subscription", &(self.id, member)).await?;
            if !subscription
                .and_then(|s| s.rights_at(now))
                .is_some_and(|r| r.reads())
            {
                continue;
            }
            let did = weft_types::did::Did::new(chain.clone(), member);
            let key = agreement_key(self.client, &did.to_string()).await?;
            keys.extend(self.wrapped_for(&did, &key, &[epoch]));
        }
        for (i, chunk) in keys
            .chunks(weft_types::channel::MAX_WRAPPED_KEYS)
            .enumerate()
        {
            let tx = if i == 0 {
                tx::rotate(
                    &mut self.signer,
                    &self.id,
                    &self.did.id,
                    epoch,
                    secret.public(),
                    chunk,
                )
            } else {
                tx::share_keys(&mut self.signer, &self.id, &self.did.id, chunk)
            };
            self.send(tx, "rotating the channel key").await?;
        }
        if keys.is_empty() {
            let tx = tx::rotate(
                &mut self.signer,
                &self.id,
                &self.did.id,
                epoch,
                secret.public(),
                &[],
            );
            self.send(tx, "rotating the channel key").await?;
        }
        Ok(())
    }
}

/// Appends an entry to channel `id` as `writer`, sealing `payload` to the current epoch key on a
/// private channel. Returns the entry's index.
#[cfg(feature = "transport")]
#[allow(clippy::too_many_arguments, reason = "an entry's fields")]
pub async fn write_entry(
    client: &crate::Client,
    signer: &mut crate::Signer,
    id: &Hash32,
    writer: &DidId,
    kind: &str,
    metadata: &str,
    public_payload: &[u8],
    payload: &[u8],
) -> crate::Result<u64> {
    let record: Option<Channel> = view(client, "channel", &(*id,)).await?;
    let record =
        record.ok_or_else(|| crate::Error::Rejected(format!("there is no channel {id}")))?;
    let sealed = match (record.spec.private, record.epoch_key) {
        (true, Some(key)) => weft_channels::seal(id, record.epoch, &key, payload),
        _ => payload.to_vec(),
    };
    let input = weft_types::channel::EntryInput {
        kind: kind.into(),
        metadata: metadata.into(),
        public_payload: public_payload.to_vec(),
        payload: Payload::Inline(sealed),
        epoch: record.epoch,
    };
    input
        .check()
        .map_err(|e| crate::Error::Encode(e.to_string()))?;
    let out = rejected(
        client
            .send_and_wait(&tx::write(signer, id, writer, &input))
            .await?,
        "writing the entry",
    )?;
    borsh::from_slice(&out).map_err(|e| crate::Error::Protocol {
        method: "write".into(),
        reason: e.to_string(),
    })
}
