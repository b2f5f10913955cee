//! What the node keeps on disk, and for how long: pruning of old state versions and blocks
//! (`[storage]` in the config), the size of the data directory as a metric, backups
//! ([`backup`], online through the admin socket [`serve_admin`]), restores ([`restore`]) and the
//! signing guard ([`SigningGuard`]) that keeps a restored member from signing twice.
//!
//! [`run_pruning`] wakes every `storage.prune_every_s`. The state keeps `storage.state_history`
//! versions below the head and always the latest anchored one (light clients read proofs there);
//! blocks are kept unless `storage.keep_blocks` says otherwise. Confirmed Tangle blocks are
//! pruned by the Tangle task (`crate::tangle`). Each pass works in small batches off the async
//! runtime, so commits never wait long behind it.

use crate::service::Node;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The admin socket in the data directory: only who may read the data directory may use it.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// The signing guard in the data directory.
pub const GUARD_FILE: &str = "signing.guard";
/// The manifest written last into a backup.
pub const MANIFEST: &str = "backup.toml";

/// What a backup holds, written last (a directory without it is not a complete backup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The chain.
    pub chain_id: String,
    /// The height of the state and blocks in the backup.
    pub height: u64,
    /// The state root at that height.
    pub state_root: String,
    /// When the backup was taken (Unix milliseconds).
    pub created_ms: u64,
    /// The highest height this member had signed consensus messages at when the backup was
    /// taken (0: none, or not a member).
    pub signed_up_to: u64,
    /// The Weft version that wrote it.
    pub weft_version: String,
    /// Whether the backup holds the member's Tangle.
    pub tangle: bool,
}

impl Manifest {
    /// Reads a manifest's TOML.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The highest height this member signed consensus messages at, kept in `signing.guard` in the
/// data directory and raised (and synced) before the first message of a new height leaves. A
/// member never signs at a height at or below it unless its write-ahead log holds that height
/// (a plain restart), so a restore from an older backup cannot make it sign a second, different
/// vote: the restore keeps the newer guard.
pub struct SigningGuard {
    file: std::fs::File,
    up_to: u64,
}

impl SigningGuard {
    /// Opens (or creates) the guard in `data_dir`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(GUARD_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let up_to = parse_guard(&bytes).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is damaged; it must hold the highest height this member signed at. Write a height at or above the chain's current one (weft_chainInfo on another member) into it, followed by a newline, then start again",
                    path.display()
                ),
            )
        })?;
        Ok(Self { file, up_to })
    }

    /// The highest height signed at.
    pub fn up_to(&self) -> u64 {
        self.up_to
    }

    /// Records that this member signs at `height`; on disk before it returns.
    pub fn raise(&mut self, height: u64) -> std::io::Result<()> {
        if height <= self.up_to {
            return Ok(());
        }
        self.file.seek(std::io::SeekFrom::Start(0))?;
        self.file.write_all(guard_text(height).as_bytes())?;
        self.file.sync_data()?;
        self.up_to = height;
        Ok(())
    }
}

/// The guard's text for `height`: fixed width, so an overwrite in place leaves no old digits.
fn guard_text(height: u64) -> String {
    format!("{height:020}\n")
}

/// The guard's text: a decimal height and a newline (empty: nothing signed yet).
fn parse_guard(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() {
        return Some(0);
    }
    text.parse().ok()
}

/// The guard in `data_dir`, if the file exists.
pub fn read_guard(data_dir: &Path) -> Result<Option<u64>, String> {
    let path = data_dir.join(GUARD_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => parse_guard(&bytes)
            .map(Some)
            .ok_or_else(|| format!("{} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_guard(data_dir: &Path, height: u64) -> Result<(), String> {
    let path = data_dir.join(GUARD_FILE);
    let mut file = std::fs::File::create(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(guard_text(height).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Takes a consistent backup of a running node into `out` (a new or empty directory): a
/// checkpoint of the state database (state, blocks, receipts, certificates), one of the Tangle,
/// the signing guard, and [`MANIFEST`] last.
pub fn backup(node: &Node, out: &Path) -> Result<Manifest, String> {
    prepare_out(out)?;
    node.store()
        .checkpoint(&out.join("state"))
        .map_err(|e| format!("cannot copy the state database: {e}"))?;
    let tangle = match node.tangle_service() {
        Some(t) => {
            t.checkpoint(&out.join("tangle"))?;
            true
        }
        None => false,
    };
    finish_backup(
        &node.config().data_dir,
        &node.config().chain_id,
        out,
        tangle,
    )
}

/// Takes a backup of a node that is not running, opening its databases directly.
pub fn backup_offline(data_dir: &Path, chain_id: &str, out: &Path) -> Result<Manifest, String> {
    let state = weft_state::StateStore::open(&data_dir.join("state"), weft_executor::COLUMN_FAMILIES)
        .map_err(|e| format!("cannot open the node's state (is the node running? `weft node backup` reaches a running node through {}): {e}", data_dir.join(ADMIN_SOCKET).display()))?;
    prepare_out(out)?;
    state
        .checkpoint(&out.join("state"))
        .map_err(|e| format!("cannot copy the state database: {e}"))?;
    drop(state);
    let tangle_dir = data_dir.join("tangle");
    let tangle = tangle_dir.exists();
    if tangle {
        weft_tangle::RocksStore::open(&tangle_dir, false)
            .and_then(|t| t.checkpoint(&out.join("tangle")))
            .map_err(|e| e.to_string())?;
    }
    finish_backup(data_dir, chain_id, out, tangle)
}

fn prepare_out(out: &Path) -> Result<(), String> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| format!("cannot read {}: {e}", out.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty; back up into a new directory",
            out.display()
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))
}

fn finish_backup(
    data_dir: &Path,
    chain_id: &str,
    out: &Path,
    tangle: bool,
) -> Result<Manifest, String> {
    // What the copy holds, read from the copy itself.
    let (height, state_root) = {
        let copy = weft_state::StateStore::open(&out.join("state"), weft_executor::COLUMN_FAMILIES)
            .map_err(|e| format!("cannot open the copied state: {e}"))?;
        let height = copy.version().map_err(|e| e.to_string())?.unwrap_or(0);
        let root = if height > 0 {
            copy.root(height).map_err(|e| e.to_string())?.to_string()
        } else {
            String::new()
        };
        (height, root)
    };
    let signed_up_to = read_guard(data_dir)?.unwrap_or(0);
    write_guard(out, signed_up_to)?;
    let manifest = Manifest {
        chain_id: chain_id.to_string(),
        height,
        state_root,
        created_ms: crate::service::now_ms(),
        signed_up_to,
        weft_version: env!("CARGO_PKG_VERSION").to_string(),
        tangle,
    };
    let text = toml::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(out.join(MANIFEST), text)
        .map_err(|e| format!("cannot write the backup manifest: {e}"))?;
    Ok(manifest)
}

/// Reads a backup's manifest.
pub fn read_manifest(backup: &Path) -> Result<Manifest, String> {
    let path = backup.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{} is not a complete backup (no {MANIFEST}: {e})",
            backup.display()
        )
    })?;
    Manifest::parse(&text).map_err(|e| format!("{} is damaged: {e}", path.display()))
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The signing guard now in force.
    pub signed_up_to: u64,
    /// Where the data it replaced went.
    pub moved_aside: Option<PathBuf>,
}

/// Restores the backup in `from` into `data_dir` of a stopped node. The state and Tangle it
/// replaces are moved aside, never deleted; the write-ahead log stays. The signing guard becomes
/// the highest of the current one, the backup's and `signed_up_to`; a committee member
/// (`member`) without a current guard must be given `signed_up_to`, since it may have signed
/// heights after the backup that nothing on this disk remembers.
pub fn restore(
    data_dir: &Path,
    chain_id: &str,
    member: bool,
    from: &Path,
    signed_up_to: Option<u64>,
) -> Result<Restored, String> {
    let manifest = read_manifest(from)?;
    if manifest.chain_id != chain_id {
        return Err(format!(
            "the backup is of chain `{}`, but this node's config is for `{chain_id}`",
            manifest.chain_id
        ));
    }
    if std::os::unix::net::UnixStream::connect(data_dir.join(ADMIN_SOCKET)).is_ok() {
        return Err("the node is running; stop it before restoring".into());
    }
    // The state database's lock says for sure whether a node has it open.
    if data_dir.join("state").exists() {
        weft_state::StateStore::open(&data_dir.join("state"), weft_executor::COLUMN_FAMILIES)
            .map_err(|e| format!("cannot open the node's state; is the node still running? stop it before restoring ({e})"))?;
    }
    let current = read_guard(data_dir)?;
    if member && current.is_none() && signed_up_to.is_none() {
        return Err(format!(
            "{} has no signing guard ({GUARD_FILE}), so nothing here remembers which heights this member signed after the backup (height {}). Pass --signed-up-to HEIGHT with a height at or above the chain's current height (weft_chainInfo on another member): the member will sign only above it",
            data_dir.display(),
            manifest.height
        ));
    }
    let guard = [current, Some(manifest.signed_up_to), signed_up_to]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let mut moved_aside = None;
    let aside = data_dir.join(format!("before-restore-{}", crate::service::now_ms()));
    let mut parts = vec!["state"];
    if manifest.tangle {
        parts.push("tangle");
    }
    for part in &parts {
        let path = data_dir.join(part);
        if path.exists() {
            std::fs::create_dir_all(&aside)
                .map_err(|e| format!("cannot create {}: {e}", aside.display()))?;
            std::fs::rename(&path, aside.join(part))
                .map_err(|e| format!("cannot move {} aside: {e}", path.display()))?;
            moved_aside = Some(aside.clone());
        }
    }
    for part in parts {
        copy_dir(&from.join(part), &data_dir.join(part))?;
    }
    write_guard(data_dir, guard)?;
    Ok(Restored {
        manifest,
        signed_up_to: guard,
        moved_aside,
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Serves the admin socket (`<data_dir>/admin.sock`, mode 0600) until the node stops: one
/// request per connection, `backup <directory>`, answered with the manifest (TOML) or a line
/// starting with `error: `.
pub async fn serve_admin(node: Node) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let path = node.config().data_dir.join(ADMIN_SOCKET);
    // The state database's lock is held: no other node uses this directory, so a socket file
    // left here is stale.
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open the admin socket; online backups are off");
            return;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let node = node.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = tokio::io::BufReader::new(read);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let answer = match line.trim().split_once(' ') {
                Some(("backup", dir)) => {
                    let dir = PathBuf::from(dir);
                    let started = std::time::Instant::now();
                    let result = tokio::task::spawn_blocking(move || backup(&node, &dir)).await;
                    match result {
                        Ok(Ok(manifest)) => {
                            tracing::info!(
                                height = manifest.height,
                                ms = started.elapsed().as_millis() as u64,
                                "backup taken"
                            );
                            toml::to_string_pretty(&manifest)
                                .unwrap_or_else(|e| format!("error: {e}\n"))
                        }
                        Ok(Err(e)) => format!("error: {e}\n"),
                        Err(e) => format!("error: the backup failed: {e}\n"),
                    }
                }
                _ => format!(
                    "error: unknown request `{}`; expected `backup <directory>`\n",
                    line.trim()
                ),
            };
            let _ = write.write_all(answer.as_bytes()).await;
        });
    }
}

/// What one pruning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The oldest state version readable now.
    pub state_oldest: u64,
    /// State tree nodes and values deleted.
    pub state_entries: u64,
    /// Blocks deleted.
    pub blocks: u64,
}

/// The state version pruning keeps from: `history` below the head, never above the latest
/// anchored height (0 `history`: keep everything).
pub fn state_keep_from(head: u64, history: u64, anchored: Option<u64>) -> u64 {
    if history == 0 {
        return 0;
    }
    let keep_from = head.saturating_sub(history);
    match anchored {
        Some(anchored) => keep_from.min(anchored),
        None => keep_from,
    }
}

/// One pruning pass over state and blocks.
pub fn prune_once(node: &Node) -> Result<PruneReport, String> {
    let storage = &node.config().storage;
    let head = node.head().height;
    let anchored = match node.tangle_service() {
        Some(tangle) => tangle
            .latest_anchor(node.chain_id())?
            .map(|r| r.anchor.statement.height),
        None => None,
    };
    let keep_from = state_keep_from(head, storage.state_history, anchored);
    let mut report = PruneReport::default();
    if keep_from > 0 {
        let pruned = node.store().prune(keep_from).map_err(|e| e.to_string())?;
        report.state_oldest = pruned.oldest;
        report.state_entries = pruned.nodes + pruned.values;
    }
    if storage.keep_blocks > 0 {
        // The latest anchored block stays: anchoring resumes from it after a restart.
        let mut keep_from = head.saturating_sub(storage.keep_blocks);
        if let Some(anchored) = anchored {
            keep_from = keep_from.min(anchored);
        }
        report.blocks = node
            .executor()
            .prune_blocks(keep_from)
            .map_err(|e| e.to_string())?;
    }
    Ok(report)
}

/// Bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Prunes every `storage.prune_every_s` for as long as the node runs.
pub async fn run_pruning(node: Node) {
    let every = Duration::from_secs(node.config().storage.prune_every_s);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pass = node.clone();
        let done = tokio::task::spawn_blocking(move || {
            let report = prune_once(&pass);
            (report, dir_bytes(&pass.config().data_dir))
        })
        .await;
        let Ok((report, bytes)) = done else {
            tracing::error!("a pruning pass panicked");
            continue;
        };
        let metrics = node.metrics();
        metrics.data_dir_bytes.set(bytes as i64);
        match report {
            Ok(report) => {
                metrics.state_oldest.set(report.state_oldest as i64);
                metrics.pruned_state_entries.inc_by(report.state_entries);
                metrics.pruned_blocks.inc_by(report.blocks);
                if report.state_entries > 0 || report.blocks > 0 {
                    tracing::debug!(
                        state_oldest = report.state_oldest,
                        state_entries = report.state_entries,
                        blocks = report.blocks,
                        "pruned"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "pruning failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchored_version_is_always_kept() {
        assert_eq!(state_keep_from(100, 0, Some(10)), 0);
        assert_eq!(state_keep_from(100, 30, None), 70);
        assert_eq!(state_keep_from(100, 30, Some(90)), 70);
        assert_eq!(state_keep_from(100, 30, Some(40)), 40);
        assert_eq!(state_keep_from(20, 30, None), 0);
    }
}
