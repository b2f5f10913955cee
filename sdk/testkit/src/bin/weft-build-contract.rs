//! `weft-build-contract <crate-dir>…`: builds contract crates to wasm exactly as the testkit does
//! and prints, for each, the path of the `.wasm`, its size and its ABI.

use std::process::ExitCode;
use weft_vm::{Vm, VmConfig};

fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() || dirs.iter().any(|d| d == "-h" || d == "--help") {
        eprintln!("usage: weft-build-contract <contract crate directory>...");
        eprintln!(
            "builds each crate for wasm32-unknown-unknown (opt-level=z, LTO, panic=abort) and checks it as a node would"
        );
        return ExitCode::from(2);
    }
    let vm = match Vm::new(VmConfig::default()) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for dir in dirs {
        eprintln!("building {dir} …");
        let result = weft_testkit::build_contract_file(&dir)
            .map_err(|e| e.to_string())
            .and_then(|path| {
                let code =
                    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                let abi = vm
                    .validate(&code)
                    .map_err(|e| format!("{}: rejected: {e}", path.display()))?;
                Ok((path, code.len(), abi))
            });
        match result {
            Ok((path, size, abi)) => {
                println!("{} ({size} bytes)", path.display());
                for m in &abi.methods {
                    let args: Vec<String> = m
                        .args
                        .iter()
                        .map(|a| format!("{}: {}", a.name, a.ty))
                        .collect();
                    let ret = m
                        .returns
                        .as_deref()
                        .map(|r| format!(" -> {r}"))
                        .unwrap_or_default();
                    println!(
                        "  {:<5} {}({}){ret}",
                        m.kind.as_str(),
                        m.name,
                        args.join(", ")
                    );
                }
            }
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
