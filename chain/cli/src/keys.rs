//! `weft keys`: create and show key files. Keys are made and kept on this machine only.

use crate::output::{Global, key_path, out};
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use weft_client::keyfile;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate a key and write it to a file (never overwrites).
    New {
        /// Where to write it [default: the --key path].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the public key (= address) of a key file.
    Show,
}

/// Runs `weft keys …`.
pub fn run(cli: &Global, command: &KeysCommand) -> Result<()> {
    match command {
        KeysCommand::New { out } => {
            let path = out.clone().unwrap_or_else(|| key_path(cli));
            let key = keyfile::generate();
            keyfile::write(&path, &key)?;
            out!("wrote {}", path.display());
            out!("address {}", key.public_key().address());
            Ok(())
        }
        KeysCommand::Show => {
            let path = key_path(cli);
            let key = keyfile::read(&path)?;
            out!("key file {}", path.display());
            out!("address {}", key.public_key().address());
            Ok(())
        }
    }
}
