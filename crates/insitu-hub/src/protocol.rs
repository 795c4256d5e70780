//! The wire protocol shared by the hub, the appliance agent and the sponsor
//! client: request signing, transfer manifests and the file policy for what
//! may cross. Pure functions, no I/O except reading files to hash them.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Header carrying the appliance's ed25519 public key (hex).
pub const HEADER_KEY: &str = "x-insitu-key";
/// Header carrying the request time (Unix seconds).
pub const HEADER_TIMESTAMP: &str = "x-insitu-timestamp";
/// Header carrying a fresh random nonce (hex, 16–64 characters).
pub const HEADER_NONCE: &str = "x-insitu-nonce";
/// Header carrying the ed25519 signature (hex) over [`signing_message`].
pub const HEADER_SIGNATURE: &str = "x-insitu-signature";
/// Header naming a mutating request so that a retry is answered, not re-run.
pub const HEADER_IDEMPOTENCY: &str = "idempotency-key";
/// How far a signed request's timestamp may be from the hub's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// Transfer chunk size. Chunks are content-addressed by their sha256.
pub const CHUNK_SIZE: usize = 4 * 1024 * 1024;

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True for a lower-case 64-character hex sha256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The exact bytes an agent signs: method, path (with query), body digest,
/// timestamp and nonce, one per line after a version tag. Binding the body
/// digest means a captured signature cannot be reused for a different body.
pub fn signing_message(
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Vec<u8> {
    format!(
        "insitu-agent-v1\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        sha256_hex(body),
        timestamp,
        nonce
    )
    .into_bytes()
}

/// Headers for one signed agent request (name, value pairs).
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let sig = key.sign(&signing_message(method, path, body, timestamp, nonce));
    vec![
        (HEADER_KEY, hex::encode(key.verifying_key().as_bytes())),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_NONCE, nonce.to_string()),
        (HEADER_SIGNATURE, hex::encode(sig.to_bytes())),
    ]
}

/// Parses a hex ed25519 public key.
pub fn parse_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Verifies a hex ed25519 signature over `message` with a hex public key.
pub fn verify_hex(public_key_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let Some(key) = parse_public_key(public_key_hex) else {
        return false;
    };
    let Some(sig) = hex::decode(signature_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify(message, &Signature::from_bytes(&sig)).is_ok()
}

/// The message an appliance signs when it delivers a bundle for a job.
pub fn bundle_signing_message(job_id: &str, manifest_digest: &str) -> Vec<u8> {
    format!("insitu-bundle-v1\n{job_id}\n{manifest_digest}").into_bytes()
}

/// One file in a transfer: its relative path, size, digest and chunk digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferFile {
    /// Relative path with `/` separators, no `..`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the whole file (hex).
    pub sha256: String,
    /// sha256 of each chunk, in order (hex).
    pub chunks: Vec<String>,
}

/// A directory as transferred: files sorted by path. Its digest (sha256 of
/// the canonical JSON) names a model on the hub and on the appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferManifest {
    /// The files, sorted by path.
    pub files: Vec<TransferFile>,
}

impl TransferManifest {
    /// sha256 (hex) of the canonical JSON of the manifest.
    pub fn digest(&self) -> String {
        let mut sorted = self.clone();
        sorted.files.sort_by(|a, b| a.path.cmp(&b.path));
        sha256_hex(&serde_json::to_vec(&sorted).unwrap_or_default())
    }

    /// Every chunk digest, deduplicated, in first-seen order.
    pub fn chunk_digests(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.files
            .iter()
            .flat_map(|f| f.chunks.iter())
            .filter(|c| seen.insert(c.as_str()))
            .cloned()
            .collect()
    }

    /// Checks shape: safe relative paths, hex digests, no duplicate paths,
    /// sizes consistent with the chunk count. Returns every problem found.
    pub fn check_shape(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut paths = std::collections::HashSet::new();
        if self.files.is_empty() {
            problems.push("the manifest lists no files".to_string());
        }
        for f in &self.files {
            if let Err(e) = check_relative_path(&f.path) {
                problems.push(e);
            }
            if !paths.insert(f.path.as_str()) {
                problems.push(format!("{}: listed twice", f.path));
            }
            if !is_sha256_hex(&f.sha256) || f.chunks.iter().any(|c| !is_sha256_hex(c)) {
                problems.push(format!(
                    "{}: digests must be 64 lower-case hex characters",
                    f.path
                ));
            }
            let expected = f.size.div_ceil(CHUNK_SIZE as u64);
            if f.chunks.len() as u64 != expected {
                problems.push(format!(
                    "{}: {} bytes need {expected} chunk(s) of {CHUNK_SIZE} bytes, the manifest lists {}",
                    f.path,
                    f.size,
                    f.chunks.len()
                ));
            }
        }
        problems
    }
}

/// Refuses absolute paths, `..`, backslashes and empty components.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "{path:?}: not a safe relative path — use forward slashes, no '..', no leading '/'"
        ));
    }
    Ok(())
}

/// Why a model file may not cross into the appliance, or `None` if it may.
/// Base models must be data only: safetensors weights, JSON configs and
/// tokenizers, text. Pickle-based weights (`.bin`, `.pt`, `.pkl`, …) can run
/// code when loaded, and code files (`.py`, shared objects, scripts) are code.
pub fn model_file_refusal(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    const PICKLE: &[&str] = &[
        "bin", "pt", "pth", "pkl", "pickle", "ckpt", "joblib", "npy", "npz", "h5",
    ];
    const CODE: &[&str] = &[
        "py", "pyc", "so", "dll", "dylib", "sh", "exe", "ipynb", "js", "bat", "ps1",
    ];
    const DATA: &[&str] = &[
        "safetensors",
        "json",
        "txt",
        "md",
        "model",
        "gguf",
        "jinja",
        "tiktoken",
    ];
    if PICKLE.contains(&ext) {
        return Some(format!("{path}: pickle-format file refused (loading it can execute code) — convert the weights to .safetensors"));
    }
    if CODE.contains(&ext) {
        return Some(format!(
            "{path}: code file refused — jobs carry no code; remove it from the model directory"
        ));
    }
    if DATA.contains(&ext)
        || matches!(
            name.as_str(),
            ".gitattributes" | "license" | "notice" | "readme"
        )
    {
        return None;
    }
    Some(format!(
        "{path}: file type not allowed in a base model (allowed: {}) — remove it",
        DATA.join(", ")
    ))
}

/// Builds the manifest of a local directory, hashing every file and chunk.
/// `allow` is called with each relative path and may refuse it.
pub fn manifest_of_dir(
    dir: &Path,
    allow: impl Fn(&str) -> Option<String>,
) -> Result<TransferManifest, Vec<String>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: {e}", d.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let rel = p
                .strip_prefix(dir)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() {
                problems.push(format!(
                    "{rel}: symbolic links are not transferred — copy the file in"
                ));
            } else if ft.is_dir() {
                stack.push(p);
            } else if let Some(why) = allow(&rel) {
                problems.push(why);
            } else {
                match hash_file(&p) {
                    Ok((size, sha256, chunks)) => files.push(TransferFile {
                        path: rel,
                        size,
                        sha256,
                        chunks,
                    }),
                    Err(e) => problems.push(format!("{}: {e}", p.display())),
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TransferManifest { files })
}

/// Size, sha256 and chunk digests of one file, read once in chunks.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String, Vec<String>)> {
    let mut f = std::fs::File::open(path)?;
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        let n = read_full(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        whole.update(&buf[..n]);
        chunks.push(sha256_hex(&buf[..n]));
        size += n as u64;
        if n < CHUNK_SIZE {
            break;
        }
    }
    Ok((size, hex::encode(whole.finalize()), chunks))
}

/// Reads chunk number `index` of a file.
pub fn read_chunk(path: &Path, index: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start((index * CHUNK_SIZE) as u64))?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let n = read_full(&mut f, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        let n = f.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Job states, as stored and printed.
pub mod state {
    /// Accepted by the hub, offers not yet written (transient, same transaction).
    pub const POSTED: &str = "posted";
    /// Offered to its target hospitals.
    pub const OFFERED: &str = "offered";
    /// A hospital's IG officer accepted it.
    pub const ACCEPTED: &str = "accepted";
    /// Every target hospital declined; the fee was refunded.
    pub const DECLINED: &str = "declined";
    /// The appliance is running it.
    pub const RUNNING: &str = "running";
    /// The signed bundle was delivered; the fee was split.
    pub const DELIVERED: &str = "delivered";
    /// The run failed; the fee was refunded.
    pub const FAILED: &str = "failed";
    /// The release gate (or the approvers) refused the result; refunded.
    pub const REFUSED_BY_GATE: &str = "refused-by-gate";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_binds_every_field() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let msg = signing_message("POST", "/v1/agent/jobs", b"{}", 100, "abcd");
        let h = sign_request(&key, "POST", "/v1/agent/jobs", b"{}", 100, "abcd");
        let pk = &h[0].1;
        let sig = &h[3].1;
        assert!(verify_hex(pk, &msg, sig));
        for other in [
            signing_message("GET", "/v1/agent/jobs", b"{}", 100, "abcd"),
            signing_message("POST", "/v1/agent/jobz", b"{}", 100, "abcd"),
            signing_message("POST", "/v1/agent/jobs", b"{ }", 100, "abcd"),
            signing_message("POST", "/v1/agent/jobs", b"{}", 101, "abcd"),
            signing_message("POST", "/v1/agent/jobs", b"{}", 100, "abce"),
        ] {
            assert!(!verify_hex(pk, &other, sig));
        }
        let wrong = SigningKey::from_bytes(&[8u8; 32]);
        assert!(!verify_hex(
            &hex::encode(wrong.verifying_key().as_bytes()),
            &msg,
            sig
        ));
    }

    #[test]
    fn model_file_policy() {
        assert!(model_file_refusal("model.safetensors").is_none());
        assert!(model_file_refusal("tokenizer.json").is_none());
        assert!(model_file_refusal("sub/config.json").is_none());
        assert!(model_file_refusal("pytorch_model.bin")
            .unwrap()
            .contains("pickle"));
        assert!(model_file_refusal("model.pt").unwrap().contains("pickle"));
        assert!(model_file_refusal("modeling_llama.py")
            .unwrap()
            .contains("code"));
        assert!(model_file_refusal("weird.xyz").is_some());
    }

    #[test]
    fn unsafe_paths_refused() {
        for p in ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""] {
            assert!(check_relative_path(p).is_err(), "{p}");
        }
        assert!(check_relative_path("a/b.json").is_ok());
    }

    #[test]
    fn manifest_of_dir_hashes_and_chunks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.json"), b"{}").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let big = vec![3u8; CHUNK_SIZE + 10];
        std::fs::write(d.path().join("sub/model.safetensors"), &big).unwrap();
        let m = manifest_of_dir(d.path(), model_file_refusal).unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[1].path, "sub/model.safetensors");
        assert_eq!(m.files[1].chunks.len(), 2);
        assert_eq!(m.files[1].sha256, sha256_hex(&big));
        assert_eq!(m.files[1].chunks[1], sha256_hex(&big[CHUNK_SIZE..]));
        assert!(m.check_shape().is_empty());
        std::fs::write(d.path().join("pytorch_model.bin"), b"x").unwrap();
        let err = manifest_of_dir(d.path(), model_file_refusal).unwrap_err();
        assert!(err[0].contains("pickle"));
    }
}
