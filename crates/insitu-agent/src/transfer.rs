//! Resumable, verified transfer of a directory in content-addressed chunks.
//! Uploads ask the hub which chunks it lacks and send only those; downloads
//! keep verified chunks in a staging directory, so an interrupted transfer
//! resumes where it stopped. Every chunk and file digest is checked; the
//! finished tree is moved into place with one rename.

use crate::error::{io_err, AgentError, Result};
use insitu_hub::protocol::{self, TransferManifest};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// What a transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TransferStats {
    /// Distinct chunks in the manifest.
    pub chunks_total: usize,
    /// Chunks actually sent or fetched this time (the rest were already there).
    pub chunks_moved: usize,
    /// Bytes sent or fetched this time.
    pub bytes_moved: u64,
}

/// Uploads the chunks of `dir` the hub lacks. `missing` asks the hub which of
/// the listed chunks it does not have; `put` sends one chunk.
pub(crate) fn upload(
    dir: &Path,
    manifest: &TransferManifest,
    missing: impl FnOnce(&[String]) -> Result<Vec<String>>,
    mut put: impl FnMut(&str, &[u8]) -> Result<()>,
) -> Result<TransferStats> {
    let all = manifest.chunk_digests();
    let missing: std::collections::HashSet<String> = missing(&all)?.into_iter().collect();
    let mut stats = TransferStats {
        chunks_total: all.len(),
        ..Default::default()
    };
    let mut sent = std::collections::HashSet::new();
    for f in &manifest.files {
        let path = dir.join(&f.path);
        for (i, c) in f.chunks.iter().enumerate() {
            if !missing.contains(c) || sent.contains(c) {
                continue;
            }
            let bytes = protocol::read_chunk(&path, i).map_err(io_err(&path))?;
            if protocol::sha256_hex(&bytes) != *c {
                return Err(AgentError::Verify(format!(
                    "{}: changed while uploading (chunk {i} no longer matches) — rerun the command",
                    path.display()
                )));
            }
            put(c, &bytes)?;
            sent.insert(c.clone());
            stats.chunks_moved += 1;
            stats.bytes_moved += bytes.len() as u64;
        }
    }
    Ok(stats)
}

/// Downloads `manifest` into `dest` (which must not exist yet), keeping
/// verified chunks under `staging` across interruptions. `allow` may refuse
/// a file by path before anything is fetched.
pub(crate) fn download(
    manifest: &TransferManifest,
    dest: &Path,
    staging: &Path,
    allow: impl Fn(&str) -> Option<String>,
    mut fetch: impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<TransferStats> {
    let mut problems = manifest.check_shape();
    problems.extend(manifest.files.iter().filter_map(|f| allow(&f.path)));
    if !problems.is_empty() {
        return Err(AgentError::Verify(problems.join("; ")));
    }
    let chunk_dir = staging.join("chunks");
    std::fs::create_dir_all(&chunk_dir).map_err(io_err(&chunk_dir))?;
    let all = manifest.chunk_digests();
    let mut stats = TransferStats {
        chunks_total: all.len(),
        ..Default::default()
    };
    for c in &all {
        let p = chunk_dir.join(c);
        if let Ok(bytes) = std::fs::read(&p) {
            if protocol::sha256_hex(&bytes) == *c {
                continue;
            }
        }
        let bytes = fetch(c)?;
        if protocol::sha256_hex(&bytes) != *c {
            return Err(AgentError::Verify(format!(
                "chunk {c}: received bytes hash to {} — refused",
                protocol::sha256_hex(&bytes)
            )));
        }
        write_atomic(&p, &bytes)?;
        stats.chunks_moved += 1;
        stats.bytes_moved += bytes.len() as u64;
    }
    let tree = staging.join("tree");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).map_err(io_err(&tree))?;
    }
    for f in &manifest.files {
        let out = tree.join(&f.path);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut file = std::fs::File::create(&out).map_err(io_err(&out))?;
        let mut whole = Sha256::new();
        let mut size = 0u64;
        for c in &f.chunks {
            let p = chunk_dir.join(c);
            let bytes = std::fs::read(&p).map_err(io_err(&p))?;
            whole.update(&bytes);
            size += bytes.len() as u64;
            file.write_all(&bytes).map_err(io_err(&out))?;
        }
        file.sync_all().map_err(io_err(&out))?;
        let got = hex::encode(whole.finalize());
        if got != f.sha256 || size != f.size {
            return Err(AgentError::Verify(format!(
                "{}: assembled file hashes to {got} ({size} bytes), manifest says {} ({} bytes)",
                f.path, f.sha256, f.size
            )));
        }
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    std::fs::rename(&tree, dest).map_err(io_err(dest))?;
    std::fs::remove_dir_all(staging).map_err(io_err(staging))?;
    Ok(stats)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}
