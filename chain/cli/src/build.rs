//! `weft build`: compiles contract crates to wasm (`weft-build`) and checks each module as a node
//! would at deploy (`weft-vm`'s validation), printing its size and ABI.

use crate::output::out;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::path::PathBuf;
use weft_vm::{Vm, VmConfig};

/// Arguments of `weft build`.
#[derive(Args)]
pub struct BuildArgs {
    /// Contract crate directories (each a `cdylib` depending on `weft-sdk`).
    #[arg(required = true)]
    pub crates: Vec<PathBuf>,
}

/// Runs `weft build`.
pub fn run(args: &BuildArgs) -> Result<()> {
    let vm = Vm::new(VmConfig::default()).context("cannot start the VM to check the modules")?;
    let mut failed = 0usize;
    for dir in &args.crates {
        eprintln!("building {} …", dir.display());
        match build_one(&vm, dir) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} contract crates failed", args.crates.len());
    }
    Ok(())
}

fn build_one(vm: &Vm, dir: &std::path::Path) -> Result<()> {
    let path = weft_build::build_contract_file(dir)?;
    let code = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let abi = vm
        .validate(&code)
        .map_err(|e| anyhow!("{}: a node would reject it: {e}", path.display()))?;
    out!("{} ({} bytes)", path.display(), code.len());
    for m in &abi.methods {
        let args: Vec<String> = m
            .args
            .iter()
            .map(|a| format!("{}: {}", a.name, a.ty))
            .collect();
        let returns = m
            .returns
            .as_deref()
            .map(|r| format!(" -> {r}"))
            .unwrap_or_default();
        out!(
            "  {:<5} {}({}){returns}",
            m.kind.as_str(),
            m.name,
            args.join(", ")
        );
    }
    Ok(())
}
