//! Runs the story in `story.rs` against a running chain; see `README.md`.
//!
//! `cargo run -p weft-examples --bin audit-trail -- [--rpc URL] [--genesis FILE]`

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let target = weft_examples::Target::from_args()?;
        weft_examples::audit_trail::run(&target).await
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
