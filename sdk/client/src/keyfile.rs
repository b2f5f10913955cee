//! Key files: an ed25519 secret seed and its public key, as JSON, readable only by the owner.
//!
//! ```json
//! { "publicKey": "0x…", "secretSeed": "0x…" }
//! ```

use crate::json::hex_bytes;
use crate::{Error, Result};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::Path;
use weft_types::Keypair;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    public_key: String,
    secret_seed: String,
}

/// A new random key from the operating system's generator.
pub fn generate() -> Keypair {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    Keypair::from_seed(seed)
}

/// Writes `key` to `path` (mode 0600 on Unix). Refuses to overwrite an existing file.
pub fn write(path: &Path, key: &Keypair) -> Result<()> {
    let file = KeyFile {
        public_key: hex_bytes::encode(&key.public_key().0),
        secret_seed: hex_bytes::encode(&key.seed()),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| Error::Key(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Key(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(path).map_err(|e| {
        Error::Key(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} already exists; not overwriting a key", path.display())
        } else {
            format!("cannot create {}: {e}", path.display())
        })
    })?;
    std::io::Write::write_all(&mut out, text.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| Error::Key(format!("cannot write {}: {e}", path.display())))
}

/// Reads a key file; checks that the public key matches the seed.
pub fn read(path: &Path) -> Result<Keypair> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Key(format!("cannot read key file {}: {e}", path.display())))?;
    let file: KeyFile = serde_json::from_str(&text)
        .map_err(|e| Error::Key(format!("{} is not a Weft key file: {e}", path.display())))?;
    let seed: [u8; 32] = hex_bytes::decode(&file.secret_seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            Error::Key(format!(
                "{}: secretSeed must be 0x followed by 64 hex digits",
                path.display()
            ))
        })?;
    let key = Keypair::from_seed(seed);
    if hex_bytes::encode(&key.public_key().0) != file.public_key.to_lowercase() {
        return Err(Error::Key(format!(
            "{}: publicKey does not belong to secretSeed; the file is damaged",
            path.display()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_overwrite() {
        let dir = std::env::temp_dir().join(format!("weft-keyfile-{}", std::process::id()));
        let path = dir.join("k.json");
        let _ = std::fs::remove_file(&path);
        let key = generate();
        write(&path, &key).unwrap();
        assert_eq!(read(&path).unwrap().seed(), key.seed());
        assert!(
            write(&path, &key)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
