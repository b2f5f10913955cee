//! The tidy checks on the real workspace. `cargo test -p weft-tidy -- --nocapture` also prints
//! the crate graph in the documented order.

use std::path::Path;

use weft_tidy::{ARCHITECTURE, Report};

fn report() -> Report {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    weft_tidy::run(root).unwrap_or_else(|e| panic!("tidy could not read the workspace: {e}"))
}

fn list(violations: impl IntoIterator<Item = String>) -> String {
    violations.into_iter().map(|v| format!("- {v}\n")).collect()
}

#[test]
fn layering_follows_the_documented_order() {
    let report = report();
    println!("{}", report.crate_graph());
    assert!(
        report.layering.is_empty(),
        "{} layering violation(s) against {ARCHITECTURE}:\n{}",
        report.layering.len(),
        list(report.layering.iter().cloned()),
    );
}

#[test]
fn no_file_imports_another_in_a_circle() {
    let report = report();
    assert!(
        report.cycles.is_empty(),
        "{} import circle(s) between the files of a crate:\n{}",
        report.cycles.len(),
        list(report.cycles.iter().map(ToString::to_string)),
    );
}
