//! `insitu export`: writes the signed bundle for a run whose gate passed and
//! whose approvals hold at the current digest; records it (audited).

use crate::Global;
use anyhow::Context;
use insitu_privacy::FoundIdentifier;
use insitu_release::{release_digest, write_bundle, ExportRequest};
use std::path::PathBuf;

/// Arguments of `insitu export`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Write the export bundle for a run: adapter/ (PEFT), MODEL_CARD.md generated from \
recorded facts, leakage.json, manifest.json (sha256 of every file, run and job ids, the appliance \
public key) and manifest.sig (ed25519). Refused unless the latest gate decision passed and both \
required approvals hold at the current release digest (re-checked now). Every text file is \
scanned for PHI before sealing; anything outside the allowed file list is refused. The bundle \
is written to a temporary directory and renamed into place.",
    after_help = "Example:\n  insitu export run-1 --out /media/transfer/run-1\n  insitu verify /media/transfer/run-1 --pubkey keys/signing.pub"
)]
pub struct Args {
    /// Run id.
    pub run: String,
    /// Bundle directory to create (must not exist). Default: bundles/<run> in the home.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sponsor job id to record in the manifest.
    #[arg(long)]
    pub job: Option<String>,
}

/// `insitu_deid::scan` adapted to the release and privacy crates' scanner type
/// (also what the demo passes to the leakage suite).
pub(crate) fn deid_scanner(text: &str) -> Vec<FoundIdentifier> {
    insitu_deid::scan(text)
        .into_iter()
        .map(|s| FoundIdentifier {
            start: s.start,
            end: s.end,
            category: s.category,
        })
        .collect()
}

/// Runs `insitu export`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let mut store = crate::cmd::init::open_store(g)?;
    let policy = super::gate::load_policy(&store)?;
    let facts = super::gate::load_run(&store, &args.run)?;
    let run_id = facts.run.run_id.clone();
    let refuse = |why: String| -> anyhow::Result<()> {
        eprintln!("error: export of {run_id} refused: {why}");
        Err(crate::exit::Silent(1).into())
    };
    let digest = match release_digest(&facts) {
        Ok(d) => d,
        Err(e) => return refuse(e.to_string()),
    };
    if let Err(why) = super::gate::gate_passed_at(&store, &run_id, &digest)? {
        return refuse(why);
    }
    let approvals = store.approvals(&run_id)?;
    let signing_key = store
        .home()
        .signing_key()
        .context("loading the appliance signing key")?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| store.home().bundles_dir().join(&run_id));
    let written = match write_bundle(&ExportRequest {
        facts: &facts,
        approvals: &approvals,
        required_roles: &policy.required_approver_roles,
        signing_key: &signing_key,
        job_id: args.job.clone(),
        scanner: &deid_scanner,
        out: &out,
    }) {
        Ok(w) => w,
        Err(insitu_release::Error::Refused(why)) => return refuse(why),
        Err(e) => return Err(e).context(format!("writing the bundle for {run_id}")),
    };
    let path = written.dir.display().to_string();
    store.tx(|tx| {
        tx.record_bundle(
            &run_id,
            &path,
            &written.manifest_sha256,
            &digest,
            &g.actor(),
        )?;
        tx.audit(
            &g.actor(),
            "release.export",
            &run_id,
            serde_json::json!({
                "bundle": path,
                "manifest_sha256": written.manifest_sha256,
                "release_digest": digest,
                "files": written.manifest.files,
            }),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    println!("bundle written: {path}");
    for f in &written.manifest.files {
        println!("  {:64}  {}", f.sha256, f.path);
    }
    println!("manifest sha256 {}", written.manifest_sha256);
    println!(
        "verify with: insitu verify {path} --pubkey {}",
        store.home().verifying_key_path().display()
    );
    Ok(())
}
