//! `weft tangle …`: inspect a committee member's Tangle and post data to it.

use crate::output::out;
use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use weft_client::Client;
use weft_client::json::AnchorJson;
use weft_types::{StatementId, TangleBlockId};

/// Inspect the embedded Tangle.
#[derive(Subcommand)]
pub enum TangleCommand {
    /// Show a Tangle block with its metadata.
    Block {
        /// The block id (0x…).
        id: TangleBlockId,
    },
    /// Show the tip pool, newest first.
    Tips,
    /// Show a chain's anchors and check that they form one chain without gaps.
    Anchors {
        /// The chain [default: the node's chain].
        #[arg(long)]
        chain: Option<String>,
        /// The first anchor index.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Most anchors to show (the node caps it at 1000).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Post data to the Tangle in a block issued by the node.
    Post {
        /// The data as text (`--hex` for bytes).
        data: String,
        /// Take `data` as 0x-prefixed hex.
        #[arg(long)]
        hex: bool,
        /// A short label.
        #[arg(long, default_value = "data")]
        tag: String,
    },
}

/// Checks that `anchors` follow each other: consecutive indexes and each naming the previous one.
/// Returns the problems found.
pub fn gaps(anchors: &[AnchorJson], from: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let mut prev: Option<StatementId> = None;
    for (i, a) in anchors.iter().enumerate() {
        let expected = from + i as u64;
        if a.state_index != expected {
            problems.push(format!(
                "expected anchor {expected}, found {}",
                a.state_index
            ));
        }
        if let Some(p) = prev
            && a.prev_anchor != p
        {
            problems.push(format!(
                "anchor {} names {} as previous, not {p}",
                a.state_index, a.prev_anchor
            ));
        }
        prev = Some(a.id);
    }
    problems
}

/// Runs a `weft tangle` command against `client`.
pub async fn run(client: &Client, command: &TangleCommand, json: bool) -> Result<()> {
    let print = |value: &serde_json::Value| {
        out!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    };
    match command {
        TangleCommand::Block { id } => {
            let block = client
                .tangle_block(id)
                .await?
                .ok_or_else(|| anyhow!("the node knows no Tangle block {id}"))?;
            print(&serde_json::to_value(block)?);
        }
        TangleCommand::Tips => {
            let tips = client.tips().await?;
            if json {
                print(&serde_json::to_value(tips)?);
            } else {
                out!("{} tips", tips.len());
                for t in tips {
                    let lazy = if t.lazy { "  (lazy)" } else { "" };
                    out!(
                        "{}  issued {}  approvers {}{lazy}",
                        t.id,
                        t.issued_at,
                        t.approvers
                    );
                }
            }
        }
        TangleCommand::Anchors { chain, from, limit } => {
            let chain = match chain {
                Some(c) => c.clone(),
                None => client.chain_info().await?.chain_id,
            };
            let anchors = client.anchors(&chain, *from, *limit).await?;
            let problems = gaps(&anchors, *from);
            if json {
                print(&serde_json::to_value(&anchors)?);
            } else {
                for a in &anchors {
                    let state = if a.confirmed { "confirmed" } else { "applied" };
                    out!(
                        "#{:<6} height {:<8} root {}  {state:<9}  tangle block {}",
                        a.state_index,
                        a.height,
                        a.state_root,
                        a.tangle_block
                    );
                }
                let unconfirmed = anchors.iter().filter(|a| !a.confirmed).count();
                match (anchors.first(), anchors.last()) {
                    (Some(first), Some(last)) if problems.is_empty() => out!(
                        "anchors {}..={} of chain {chain}: one chain, no gaps; {} confirmed, {unconfirmed} awaiting confirmation",
                        first.state_index,
                        last.state_index,
                        anchors.len() - unconfirmed
                    ),
                    _ if anchors.is_empty() => out!("chain {chain} has no anchors from {from}"),
                    _ => {}
                }
            }
            if !problems.is_empty() {
                bail!("the anchor chain is broken:\n{}", problems.join("\n"));
            }
        }
        TangleCommand::Post { data, hex, tag } => {
            let bytes = if *hex {
                weft_client::json::hex_bytes::decode(data).map_err(|e| anyhow!("data: {e}"))?
            } else {
                data.as_bytes().to_vec()
            };
            let id = client.submit_data(&bytes, tag).await?;
            out!("{id}");
        }
    }
    Ok(())
}
