//! Compiled modules serialized on disk, so a restarted node does not recompile every contract.
//!
//! Files are named by a key over the code hash and the engine-compatibility key (wasmtime version,
//! every compilation setting including the instruction costs, and the gas-schedule version), so a
//! changed schedule or engine never loads stale machine code. Each file starts with the blake3
//! hash of the serialized module; a file that does not match is ignored and rewritten.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};
use weft_types::CodeHash;

/// Feeds `std::hash::Hash` output into blake3, so the engine's compatibility hash (which is only
/// exposed as `impl Hash`) becomes a stable 32-byte key.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 of 32 bytes"))
    }
}

/// The key under which modules compiled by `engine` with gas schedule `schedule_version` may be
/// shared.
pub(crate) fn engine_key(engine: &Engine, schedule_version: u32) -> [u8; 32] {
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    "weft-vm module cache v1".hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    schedule_version.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    *hasher.0.finalize().as_bytes()
}

pub(crate) struct DiskCache {
    dir: PathBuf,
    engine_key: [u8; 32],
}

impl DiskCache {
    pub(crate) fn open(dir: &Path, engine_key: [u8; 32]) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            engine_key,
        })
    }

    fn path(&self, code: &CodeHash) -> PathBuf {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.engine_key);
        hasher.update(&code.0);
        self.dir
            .join(format!("{}.cwasm", hasher.finalize().to_hex()))
    }

    /// Loads the module for `code`, or `None` when absent, damaged or built by another engine.
    pub(crate) fn load(&self, engine: &Engine, code: &CodeHash) -> Option<Module> {
        let path = self.path(code);
        let bytes = std::fs::read(&path).ok()?;
        let (checksum, body) = bytes.split_at_checked(32)?;
        if blake3::hash(body).as_bytes() != checksum {
            tracing::warn!(path = %path.display(), "ignoring damaged compiled-module cache file");
            return None;
        }
        match deserialize(engine, body) {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring incompatible compiled-module cache file");
                None
            }
        }
    }

    /// Stores `module` for `code`. Failures are logged, not fatal: the cache is an optimization.
    pub(crate) fn store(&self, code: &CodeHash, module: &Module) {
        let result = module
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|body| {
                let path = self.path(code);
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                let mut bytes = Vec::with_capacity(32 + body.len());
                bytes.extend_from_slice(blake3::hash(&body).as_bytes());
                bytes.extend_from_slice(&body);
                std::fs::write(&tmp, &bytes)?;
                std::fs::rename(&tmp, &path)
            });
        if let Err(e) = result {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write compiled-module cache");
        }
    }
}

#[allow(
    unsafe_code,
    reason = "deserializing machine code is unsafe by nature; see SAFETY"
)]
fn deserialize(engine: &Engine, body: &[u8]) -> wasmtime::Result<Module> {
    // SAFETY: the bytes were produced by `Module::serialize` of this node (files live in the
    // node's own data directory), their blake3 checksum matched, and wasmtime checks that they
    // were built by a compatible engine before using them.
    unsafe { Module::deserialize(engine, body) }
}
