//! Each system contract's committed wasm is what its crate in `contracts/` builds to.
//!
//! If this fails after a change to a system contract (or to the SDK, or `weft-types`), rebuild
//! the committed bytes with
//! `WEFT_UPDATE_SYSTEM_CONTRACTS=1 cargo test -p weft-system --test reproducible` and commit them:
//! a chain created afterwards installs the new code. A node of an existing chain must keep
//! installing that chain's genesis code when it replays block 1: its genesis file names the code
//! hash, and a binary carrying other code refuses to start (ADR 0007); the running chain's code
//! changes only by a committee quorum's upgrade.

use std::path::Path;

#[test]
fn committed_wasm_is_what_the_sources_build_to() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let update = std::env::var_os("WEFT_UPDATE_SYSTEM_CONTRACTS").is_some();
    for contract in weft_system::ALL {
        let built = weft_build::build_contract(root.join(contract.source));
        let committed = contract.code;
        if update {
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{}.wasm", contract.name));
            std::fs::write(&path, &built).expect("write the system contract's wasm");
            eprintln!("wrote {} ({} bytes)", path.display(), built.len());
            continue;
        }
        assert!(
            built == committed,
            "system contract `{}`: {} builds to {} bytes with hash {}, but the committed {}.wasm has {} bytes with hash {}.\n\
             After changing the contract, the SDK or weft-types, rebuild it with\n\
             WEFT_UPDATE_SYSTEM_CONTRACTS=1 cargo test -p weft-system --test reproducible\n\
             (the toolchain must be the one in the README; another rustc version gives other bytes).",
            contract.name,
            contract.source,
            built.len(),
            weft_types::CodeHash::of(&built),
            contract.name,
            committed.len(),
            contract.code_hash(),
        );
    }
}

#[test]
fn ids_are_well_known() {
    let identity = weft_system::by_name("identity").expect("identity is a system contract");
    assert_eq!(identity.id(), weft_types::ContractId::system("identity"));
    assert_eq!(
        weft_system::by_id(&identity.id()).map(|c| c.name),
        Some("identity")
    );
    assert!(weft_system::by_name("nope").is_none());
}
