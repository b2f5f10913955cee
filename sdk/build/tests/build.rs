//! Builds tiny, dependency-free crates to wasm the way contracts are built.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;
use weft_build::{BuildError, build_contract, build_contract_file, try_build_contract};

/// Writes a standalone crate (its own workspace) with `lib.rs` as its library.
fn write_crate(dir: &Path, name: &str, crate_type: &str, lib_rs: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"{crate_type}\"]\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib_rs).unwrap();
}

#[test]
fn builds_a_cdylib_to_wasm_and_memoizes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ok");
    write_crate(
        &dir,
        "weft_build_test_ok",
        "cdylib",
        "#[unsafe(no_mangle)]\npub extern \"C\" fn answer() -> i32 {\n    42\n}\n",
    );

    let path = build_contract_file(&dir).unwrap();
    assert_eq!(path.extension().unwrap(), "wasm");
    let wasm = std::fs::read(&path).unwrap();
    assert_eq!(&wasm[..4], b"\0asm");

    assert_eq!(build_contract(&dir), wasm);
    // Memoized: the same bytes even after the file is gone.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(try_build_contract(&dir).unwrap(), wasm);
}

#[test]
fn a_crate_that_does_not_compile_reports_cargo_diagnostics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("broken");
    write_crate(
        &dir,
        "weft_build_test_broken",
        "cdylib",
        "compile_error!(\"weft-build test: boom\");\n",
    );
    match build_contract_file(&dir) {
        Err(BuildError::Failed { crate_dir, output }) => {
            assert!(crate_dir.ends_with("broken"), "{crate_dir}");
            assert!(output.contains("weft-build test: boom"), "{output}");
        }
        other => panic!("expected a failed build, got {other:?}"),
    }
}

#[test]
fn a_crate_that_is_not_a_cdylib_produces_no_wasm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rlib");
    write_crate(&dir, "weft_build_test_rlib", "rlib", "pub fn f() {}\n");
    let err = build_contract_file(&dir).unwrap_err();
    assert!(matches!(err, BuildError::NoArtifact(_)), "{err:?}");
    assert!(err.to_string().contains("cdylib"), "{err}");
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = try_build_contract(tmp.path().join("nope")).unwrap_err();
    assert!(matches!(err, BuildError::Spawn(_)), "{err:?}");
}
