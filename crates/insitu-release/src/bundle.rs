//! The export bundle: what may leave the hospital, sealed.
//!
//! ```text
//! adapter/adapter_config.json  adapter/adapter_model.safetensors
//! MODEL_CARD.md  leakage.json  manifest.json  manifest.sig
//! ```
//! `manifest.json` lists the sha256 and size of every other file, the run and
//! job ids, the release digest the approvals cover and the appliance public
//! key; `manifest.sig` is the ed25519 signature over manifest.json's exact
//! bytes (hex). Nothing outside this list is ever written.

use crate::approval::approvals_for_export;
use crate::facts::RunFacts;
use crate::Error;
use ed25519_dalek::{Signer, SigningKey};
use insitu_privacy::FoundIdentifier;
use insitu_store::release::ApprovalRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The only files an adapter directory may contribute.
pub const ADAPTER_FILES: &[&str] = &["adapter_config.json", "adapter_model.safetensors"];
/// Every path a bundle may contain besides the manifest and its signature.
pub const BUNDLE_FILES: &[&str] = &[
    "adapter/adapter_config.json",
    "adapter/adapter_model.safetensors",
    "MODEL_CARD.md",
    "leakage.json",
];
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The signature's file name.
pub const SIGNATURE: &str = "manifest.sig";
/// `format` value of manifests this version writes and reads.
pub const MANIFEST_FORMAT: &str = "insitu-bundle/1";

/// One file listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the bundle, `/`-separated, relative.
    pub path: String,
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// The training run this adapter came from.
    pub run_id: String,
    /// The sponsor job, when the run served one.
    pub job_id: Option<String>,
    /// When the bundle was sealed (RFC 3339).
    pub created_at: String,
    /// Digest over the payload and the recorded facts, as approved.
    pub release_digest: String,
    /// Appliance ed25519 public key, hex (32 bytes).
    pub appliance_public_key: String,
    /// Every file except manifest.json and manifest.sig, sorted by path.
    pub files: Vec<ManifestFile>,
}

/// A payload file: where it comes from and what it must hash to.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadFile {
    /// Path inside the bundle.
    pub bundle_path: String,
    /// Source in the run directory.
    pub source: PathBuf,
    /// sha256 (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<(String, u64), Error> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok((hex::encode(Sha256::digest(&bytes)), bytes.len() as u64))
}

/// Lists the files that would be copied into the bundle, refusing anything
/// in `adapter/` outside [`ADAPTER_FILES`] (and symlinks, and sub-directories).
pub fn plan_payload(facts: &RunFacts) -> Result<Vec<PayloadFile>, Error> {
    let adapter = facts.dir.join("adapter");
    let entries = std::fs::read_dir(&adapter).map_err(io_err(&adapter))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(io_err(&adapter))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().map_err(io_err(&adapter))?;
        if !ft.is_file() || !ADAPTER_FILES.contains(&name.as_str()) {
            return Err(Error::Refused(format!(
                "{}: {name} is not on the allowed file list ({}) — remove it from the adapter directory; nothing else may leave",
                adapter.display(),
                ADAPTER_FILES.join(", ")
            )));
        }
        names.push(name);
    }
    for required in ADAPTER_FILES {
        if !names.iter().any(|n| n == required) {
            return Err(Error::Refused(format!(
                "{}: {required} is missing — the adapter is incomplete",
                adapter.display()
            )));
        }
    }
    let mut out = Vec::new();
    let mut sources: Vec<(String, PathBuf)> = ADAPTER_FILES
        .iter()
        .map(|n| (format!("adapter/{n}"), adapter.join(n)))
        .collect();
    sources.push(("leakage.json".into(), facts.dir.join("leakage.json")));
    for (bundle_path, source) in sources {
        let (sha256, size) = sha256_file(&source)?;
        out.push(PayloadFile {
            bundle_path,
            source,
            sha256,
            size,
        });
    }
    Ok(out)
}

/// The digest approvals are bound to: sha256 over the sorted lines
/// `<sha256>  <path>` of every payload file plus the recorded facts the
/// model card is written from (`facts/run.json`, `facts/dataset_counts.json`).
/// Changing any of them after approval changes the digest and voids it.
pub fn release_digest(facts: &RunFacts) -> Result<String, Error> {
    let mut lines: Vec<String> = plan_payload(facts)?
        .iter()
        .map(|p| format!("{}  {}", p.sha256, p.bundle_path))
        .collect();
    let (run_sha, _) = sha256_file(&facts.dir.join("run.json"))?;
    lines.push(format!("{run_sha}  facts/run.json"));
    let counts = serde_json::to_vec(&facts.dataset_counts).expect("numbers serialise");
    lines.push(format!(
        "{}  facts/dataset_counts.json",
        hex::encode(Sha256::digest(&counts))
    ));
    // The card quotes the held-out evaluation: evaluating after approval
    // changes what would leave, so it voids the approvals.
    if !facts.evaluation.is_empty() {
        let eval = serde_json::to_vec(&facts.evaluation).expect("numbers serialise");
        lines.push(format!(
            "{}  facts/evaluation.json",
            hex::encode(Sha256::digest(&eval))
        ));
    }
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

/// What `write_bundle` needs beyond the run's facts.
pub struct ExportRequest<'a> {
    /// The run's facts.
    pub facts: &'a RunFacts,
    /// Every approval/rejection recorded for the run.
    pub approvals: &'a [ApprovalRecord],
    /// Roles that must have approved.
    pub required_roles: &'a [String],
    /// The appliance's signing key.
    pub signing_key: &'a SigningKey,
    /// The sponsor job id, if any.
    pub job_id: Option<String>,
    /// PHI scanner run over every text file before sealing.
    pub scanner: &'a dyn Fn(&str) -> Vec<FoundIdentifier>,
    /// Where the bundle directory is created (must not exist).
    pub out: &'a Path,
}

/// A sealed bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenBundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The manifest written.
    pub manifest: Manifest,
    /// sha256 of manifest.json.
    pub manifest_sha256: String,
}

/// Re-checks the approvals against the current digest, copies the payload,
/// writes the model card, scans every text file for PHI, signs the manifest;
/// all into a temporary sibling directory renamed into place at the end.
pub fn write_bundle(req: &ExportRequest<'_>) -> Result<WrittenBundle, Error> {
    let facts = req.facts;
    let digest = release_digest(facts)?;
    let approvals = approvals_for_export(
        req.required_roles,
        req.approvals,
        &digest,
        &facts.run.started_by,
    )?;
    if req.out.exists() {
        return Err(Error::Refused(format!(
            "{} already exists — choose a new --out directory",
            req.out.display()
        )));
    }
    let parent = req
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let name = req
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let result = seal_into(&tmp, req, &digest, &approvals);
    match result {
        Ok((manifest, manifest_sha256)) => {
            std::fs::rename(&tmp, req.out).map_err(io_err(req.out))?;
            Ok(WrittenBundle {
                dir: req.out.to_path_buf(),
                manifest,
                manifest_sha256,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn seal_into(
    tmp: &Path,
    req: &ExportRequest<'_>,
    digest: &str,
    approvals: &[ApprovalRecord],
) -> Result<(Manifest, String), Error> {
    let facts = req.facts;
    std::fs::create_dir_all(tmp.join("adapter")).map_err(io_err(tmp))?;
    let mut files = Vec::new();
    for p in plan_payload(facts)? {
        let dest = tmp.join(&p.bundle_path);
        std::fs::copy(&p.source, &dest).map_err(io_err(&p.source))?;
        let (sha256, size) = sha256_file(&dest)?;
        // The file may have changed between digest and copy: re-check.
        if sha256 != p.sha256 {
            return Err(Error::Refused(format!(
                "{} changed while exporting — run the export again",
                p.source.display()
            )));
        }
        files.push(ManifestFile {
            path: p.bundle_path,
            sha256,
            size,
        });
    }
    let public_key = hex::encode(req.signing_key.verifying_key().as_bytes());
    let card =
        crate::model_card::render(facts, approvals, digest, &public_key, req.job_id.as_deref());
    std::fs::write(tmp.join("MODEL_CARD.md"), card.as_bytes()).map_err(io_err(tmp))?;
    let (sha256, size) = sha256_file(&tmp.join("MODEL_CARD.md"))?;
    files.push(ManifestFile {
        path: "MODEL_CARD.md".into(),
        sha256,
        size,
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));

    scan_text_files(
        tmp,
        &files,
        req.scanner,
        &allowed_values(facts, approvals, digest, &public_key),
    )?;

    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        run_id: facts.run.run_id.clone(),
        job_id: req.job_id.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        release_digest: digest.to_string(),
        appliance_public_key: public_key,
        files,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    let sig = req.signing_key.sign(&bytes);
    std::fs::write(tmp.join(MANIFEST), &bytes).map_err(io_err(tmp))?;
    std::fs::write(
        tmp.join(SIGNATURE),
        format!("{}\n", hex::encode(sig.to_bytes())),
    )
    .map_err(io_err(tmp))?;
    Ok((manifest, hex::encode(Sha256::digest(&bytes))))
}

/// Values insitu itself wrote into the text files from the record (ids,
/// digests, approver names, timestamps): the scanner flagging these is
/// expected and not PHI from notes.
fn allowed_values(
    facts: &RunFacts,
    approvals: &[ApprovalRecord],
    digest: &str,
    key: &str,
) -> Vec<String> {
    let mut v = vec![
        facts.run.run_id.clone(),
        facts.run.base_model.digest.clone(),
        digest.to_string(),
        key.to_string(),
    ];
    v.extend(facts.run.base_model.path.clone());
    v.extend(facts.run.started_at.clone());
    v.extend(facts.run.finished_at.clone());
    // Counts copied from the dataset card (examples, tokens, bytes) are
    // figures, not identifiers, however long their digits run.
    v.extend(facts.dataset_counts.values().map(|x| format!("{x}")));
    v.extend(facts.patients_per_split.values().map(|x| x.to_string()));
    // Evaluation figures (a perplexity of 28.01 reads like a date).
    v.extend(facts.evaluation.values().map(|x| format!("{x}")));
    // The leakage figures the card prints (an exposure of 12.05 bits).
    if let Ok(r) = &facts.leakage {
        v.extend(
            crate::model_card::leakage_rows(&r.summary)
                .into_iter()
                .map(|(_, value)| value),
        );
    }
    for a in approvals {
        v.push(a.user_name.clone());
        v.push(a.decided_at.clone());
    }
    v
}

/// insitu's own technical vocabulary that name dictionaries mistake for
/// first names (LoRA → "Lora", val_loss → "Val", mia_auc → "Mia", …).
const TECHNICAL_TERMS: &[&str] = &[
    "lora", "peft", "val", "mia", "phi", "auc", "tpr", "fpr", "rdp",
];

/// A scanner hit that is part of insitu's own notation rather than text:
/// a word from [`TECHNICAL_TERMS`], a piece of a snake_case/dotted field
/// name (`lora_alpha`, `splits.train.patients`), or digits of a decimal
/// number (`0.3583203125`). Everything else stops the export.
fn is_technical_hit(text: &str, start: usize, end: usize) -> bool {
    let value = &text[start..end];
    if TECHNICAL_TERMS
        .iter()
        .any(|t| value.eq_ignore_ascii_case(t))
    {
        return true;
    }
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let joins = |c: Option<char>| matches!(c, Some('_'));
    if joins(before) || joins(after) {
        return true;
    }
    let numeric = value.chars().all(|c| c.is_ascii_digit());
    numeric && matches!(before, Some('.'))
}

fn scan_text_files(
    dir: &Path,
    files: &[ManifestFile],
    scanner: &dyn Fn(&str) -> Vec<FoundIdentifier>,
    allowed: &[String],
) -> Result<(), Error> {
    let mut problems = Vec::new();
    for f in files.iter().filter(|f| !f.path.ends_with(".safetensors")) {
        let text =
            std::fs::read_to_string(dir.join(&f.path)).map_err(io_err(&dir.join(&f.path)))?;
        for hit in scanner(&text) {
            let Some(value) = text.get(hit.start..hit.end) else {
                continue;
            };
            if allowed.iter().any(|a| a.contains(value))
                || is_technical_hit(&text, hit.start, hit.end)
            {
                continue;
            }
            let line = text[..hit.start].matches('\n').count() + 1;
            problems.push(format!(
                "{}:{line}: possible {} {:?}",
                f.path, hit.category, value
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "the PHI scan of the bundle found {} possible identifier(s), so nothing was sealed: {} — inspect these files in the run directory",
        problems.len(),
        problems.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technical_notation_is_not_phi_but_words_are() {
        let t = "lora_alpha 0.3583203125 LoRA adapter, seen by Mia Jones";
        let at = |w: &str| {
            let s = t.find(w).unwrap();
            is_technical_hit(t, s, s + w.len())
        };
        assert!(at("lora"));
        assert!(at("3583203125"));
        assert!(at("LoRA"));
        assert!(at("Mia"), "short technical terms are allowed even as words");
        assert!(!at("Jones"));
    }
}
