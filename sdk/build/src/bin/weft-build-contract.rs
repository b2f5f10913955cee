//! `weft-build-contract <crate-dir>…`: builds contract crates to wasm exactly as the testkit does
//! and prints, for each, the path of the `.wasm` and its size.
//!
//! It only builds: it does not validate the module or read its ABI, which would need the VM. A
//! node checks the code when it is deployed; `weft_testkit::Vm::validate` checks it in a test.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() || dirs.iter().any(|d| d == "-h" || d == "--help") {
        eprintln!("usage: weft-build-contract <contract crate directory>...");
        eprintln!(
            "builds each crate for wasm32-unknown-unknown (opt-level=z, LTO, panic=abort) and prints the path and size of its .wasm"
        );
        return ExitCode::from(2);
    }
    let mut failed = false;
    for dir in dirs {
        eprintln!("building {dir} …");
        let result = weft_build::build_contract_file(&dir)
            .map_err(|e| e.to_string())
            .and_then(|path| {
                let size = std::fs::metadata(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?
                    .len();
                Ok((path, size))
            });
        match result {
            Ok((path, size)) => println!("{} ({size} bytes)", path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
