//! Offline verification of a bundle: the signature over manifest.json holds,
//! every listed file exists and matches, nothing is missing or extra, and no
//! manifest path escapes the bundle. Needs no appliance home.

use crate::bundle::{Manifest, MANIFEST, MANIFEST_FORMAT, SIGNATURE};
use crate::Error;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Component, Path};

/// Where the verifying key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Given by the verifier (`--pubkey`): proves origin and integrity.
    Given,
    /// Taken from the manifest itself: proves integrity only.
    Manifest,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOutcome {
    /// Every problem found; empty means the bundle verifies.
    pub problems: Vec<String>,
    /// Files checked and matching.
    pub files_ok: usize,
    /// Where the key came from.
    pub key_source: KeySource,
    /// The parsed manifest, when it parsed.
    pub manifest: Option<Manifest>,
}

impl VerifyOutcome {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Parses a public key given as 64 hex characters or an SPKI PEM
/// (`keys/signing.pub`).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(t)
            .map_err(|e| format!("not an ed25519 public key PEM: {e}"));
    }
    let bytes =
        hex::decode(t).map_err(|_| "expected 64 hex characters or a PEM public key".to_string())?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an ed25519 public key is 32 bytes (64 hex characters)".to_string())?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not a valid ed25519 public key: {e}"))
}

/// A manifest path is safe when it is relative, `/`-separated, made of
/// normal components only, and not the manifest or signature themselves.
fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\\')
        && !p.starts_with('/')
        && p != MANIFEST
        && p != SIGNATURE
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Every regular file under `dir`, relative and `/`-separated; symlinks and
/// other special files are reported as problems.
fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in entries {
        let e = e.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = e.file_type().map_err(|source| Error::Io {
            path: e.path(),
            source,
        })?;
        if ft.is_symlink() {
            problems.push(format!(
                "{rel}: is a symbolic link — bundles contain regular files only"
            ));
        } else if ft.is_dir() {
            walk(&e.path(), &rel, out, problems)?;
        } else if ft.is_file() {
            out.insert(rel);
        } else {
            problems.push(format!("{rel}: is not a regular file"));
        }
    }
    Ok(())
}

/// Verifies the bundle in `dir`, with `key` when the verifier has the
/// appliance's public key, else with the key in the manifest.
pub fn verify_bundle(dir: &Path, key: Option<&VerifyingKey>) -> Result<VerifyOutcome, Error> {
    let mut problems = Vec::new();
    let key_source = if key.is_some() {
        KeySource::Given
    } else {
        KeySource::Manifest
    };
    let manifest_path = dir.join(MANIFEST);
    let manifest_bytes = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) => {
            return Ok(VerifyOutcome {
                problems: vec![format!(
                    "{MANIFEST}: cannot be read ({e}) — is this a bundle directory?"
                )],
                files_ok: 0,
                key_source,
                manifest: None,
            })
        }
    };
    let manifest: Option<Manifest> = match serde_json::from_slice::<Manifest>(&manifest_bytes) {
        Ok(m) if m.format == MANIFEST_FORMAT => Some(m),
        Ok(m) => {
            problems.push(format!(
                "{MANIFEST}: format {:?} is not {MANIFEST_FORMAT:?}",
                m.format
            ));
            None
        }
        Err(e) => {
            problems.push(format!("{MANIFEST}: not a valid manifest ({e})"));
            None
        }
    };

    // Signature over the exact bytes.
    let sig = std::fs::read_to_string(dir.join(SIGNATURE))
        .map_err(|e| format!("{SIGNATURE}: cannot be read ({e})"))
        .and_then(|t| hex::decode(t.trim()).map_err(|_| format!("{SIGNATURE}: not hex")))
        .and_then(|b| {
            Signature::from_slice(&b)
                .map_err(|_| format!("{SIGNATURE}: not a 64-byte ed25519 signature"))
        });
    let manifest_key = manifest.as_ref().map(|m| {
        parse_public_key(&m.appliance_public_key)
            .map_err(|e| format!("{MANIFEST}: appliance_public_key: {e}"))
    });
    let key = match (key, manifest_key) {
        (Some(k), _) => Ok(*k),
        (None, Some(k)) => k,
        (None, None) => Err("no key to check the signature with".to_string()),
    };
    match (sig, key) {
        (Ok(sig), Ok(k)) => {
            if k.verify_strict(&manifest_bytes, &sig).is_err() {
                problems.push(format!(
                    "{SIGNATURE}: the signature does not match {MANIFEST} under this key — the manifest was altered or signed by another key"
                ));
            }
        }
        (Err(e), _) | (_, Err(e)) => problems.push(e),
    }

    let mut files_ok = 0;
    if let Some(m) = &manifest {
        let mut listed = BTreeSet::new();
        for f in &m.files {
            if !safe_path(&f.path) {
                problems.push(format!(
                    "{MANIFEST}: entry {:?} is not a safe relative path — refusing to read it",
                    f.path
                ));
                continue;
            }
            if !listed.insert(f.path.clone()) {
                problems.push(format!("{MANIFEST}: {} is listed twice", f.path));
                continue;
            }
            let path = dir.join(&f.path);
            match std::fs::symlink_metadata(&path) {
                Ok(md) if md.file_type().is_file() => match std::fs::read(&path) {
                    Ok(bytes) => {
                        let sha = hex::encode(Sha256::digest(&bytes));
                        if sha != f.sha256 || bytes.len() as u64 != f.size {
                            problems.push(format!("{}: content does not match the manifest (sha256 {sha}, expected {})", f.path, f.sha256));
                        } else {
                            files_ok += 1;
                        }
                    }
                    Err(e) => problems.push(format!("{}: cannot be read ({e})", f.path)),
                },
                Ok(_) => problems.push(format!("{}: is not a regular file", f.path)),
                Err(_) => problems.push(format!("{}: missing (listed in the manifest)", f.path)),
            }
        }
        let mut present = BTreeSet::new();
        walk(dir, "", &mut present, &mut problems)?;
        for p in present {
            if p != MANIFEST && p != SIGNATURE && !listed.contains(&p) {
                problems.push(format!("{p}: extra file not listed in the manifest"));
            }
        }
    }
    Ok(VerifyOutcome {
        problems,
        files_ok,
        key_source,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for p in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "",
            "./a",
            "a//b",
            "manifest.json",
            "manifest.sig",
        ] {
            assert!(!safe_path(p), "{p:?} should be unsafe");
        }
        for p in ["MODEL_CARD.md", "adapter/adapter_model.safetensors"] {
            assert!(safe_path(p), "{p:?} should be safe");
        }
    }

    #[test]
    fn keys_parse_from_hex_and_reject_junk() {
        let k = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        assert_eq!(parse_public_key(&hex::encode(k.as_bytes())).unwrap(), k);
        assert!(parse_public_key("abcd").is_err());
        assert!(parse_public_key("zz").is_err());
    }
}
