//! `weft-build`: builds Weft contract crates to WebAssembly, as a contract author would ship them.
//!
//! [`build_contract_file`] runs cargo on a contract crate for `wasm32-unknown-unknown` with the
//! settings contracts ship with (`opt-level=z`, LTO, one codegen unit, `panic=abort`, stripped, a
//! 64 KiB shadow stack) and returns the path of the `.wasm`; [`build_contract`] and
//! [`try_build_contract`] return its bytes, memoized per process. [`BuildError`] says why a build
//! failed, with cargo's diagnostics.
//!
//! This crate must not know the VM, the node or the chain: it only runs cargo for the wasm target.
//! Validating or deploying the result is someone else's job (`weft-vm`, `weft-testkit`), so that
//! building a contract never compiles wasmtime, RocksDB or the network stack. The
//! `weft-build-contract` binary is the same build from the command line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Why a contract could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Cargo could not be started.
    #[error("could not run cargo: {0}")]
    Spawn(#[from] std::io::Error),
    /// The build failed; cargo's diagnostics are included.
    #[error(
        "building {crate_dir} for wasm32-unknown-unknown failed:\n{output}\n(is the target installed? `rustup target add wasm32-unknown-unknown`)"
    )]
    Failed {
        /// The crate.
        crate_dir: String,
        /// Cargo's output.
        output: String,
    },
    /// The build produced no `.wasm` file.
    #[error("building {0} produced no .wasm file; is its crate-type `cdylib`?")]
    NoArtifact(String),
}

/// Where nested builds put their output: next to the test binary's own target directory, but in
/// a directory of their own so they never wait on the outer build's lock.
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("wasm-contracts");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test binary>
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(|t| t.join("wasm-contracts"))
        .unwrap_or_else(|| std::env::temp_dir().join("weft-wasm-contracts"))
}

/// Builds the contract crate in `crate_dir` and returns its wasm; panics with cargo's diagnostics
/// if the build fails. Builds are memoized per process.
pub fn build_contract(crate_dir: impl AsRef<Path>) -> Vec<u8> {
    try_build_contract(crate_dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`build_contract`], returning the error.
pub fn try_build_contract(crate_dir: impl AsRef<Path>) -> Result<Vec<u8>, BuildError> {
    static BUILT: OnceLock<Mutex<HashMap<PathBuf, Vec<u8>>>> = OnceLock::new();
    let crate_dir = crate_dir.as_ref().canonicalize()?;
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wasm) = built.get(&crate_dir) {
        return Ok(wasm.clone());
    }
    let wasm = std::fs::read(build_contract_file(&crate_dir)?)?;
    built.insert(crate_dir, wasm.clone());
    Ok(wasm)
}

/// The flags of a contract build, `\x1f`-separated as `CARGO_ENCODED_RUSTFLAGS` wants them.
///
/// Panic messages embed source paths. Those of dependencies lie under the cargo home, and a crate
/// outside a workspace is compiled by absolute path, so both are remapped to fixed names: the same
/// sources and compiler give the same bytes on every machine (system contracts rely on it).
fn rustflags(crate_dir: &Path) -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags = vec!["-Clink-arg=-zstack-size=65536".to_string()];
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/contract",
        crate_dir.display()
    ));
    flags.join("\x1f")
}

/// Builds the contract crate in `crate_dir` (not memoized) and returns the path of its `.wasm`.
pub fn build_contract_file(crate_dir: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
    let crate_dir = crate_dir.as_ref().canonicalize()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&crate_dir)
        .args([
            "build",
            "--release",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--target-dir")
        .arg(target_dir())
        // Small contracts: optimize for size, one codegen unit, LTO, no unwinding; a 64 KiB
        // shadow stack instead of 1 MiB keeps each instance's memory small.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        // With --target, these flags reach only the wasm build, not build scripts or proc
        // macros; the caller's RUSTFLAGS (coverage, -Dwarnings) must not reach it at all.
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags(&crate_dir))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BuildError::Failed {
            crate_dir: crate_dir.display().to_string(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let artifact = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .filter(|msg| {
            msg["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p).parent() == Some(crate_dir.as_path()))
        })
        .flat_map(|msg| msg["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| BuildError::NoArtifact(crate_dir.display().to_string()))?;
    Ok(artifact)
}
