//! `insitu verify`: offline check of a bundle (no home needed).

use crate::Global;
use insitu_release::{parse_public_key, verify_bundle, KeySource};
use std::path::PathBuf;

/// Arguments of `insitu verify`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Verify an export bundle offline: the ed25519 signature over manifest.json holds, \
every listed file exists with the listed sha256 and size, nothing is missing or extra, and no \
manifest entry points outside the bundle. Needs no appliance home.\n\n\
Give the hospital's public key with --pubkey (a file with the SPKI PEM, keys/signing.pub, or 64 \
hex characters, or the hex itself). Without it the key inside the manifest is used, which proves \
the bundle is intact but not who made it.\n\nExit code 0 only if everything holds; 1 otherwise.",
    after_help = "Example:\n  insitu verify ./run-1 --pubkey hospital-signing.pub"
)]
pub struct Args {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Appliance public key: a file (PEM or hex) or 64 hex characters.
    #[arg(long, value_name = "KEY")]
    pub pubkey: Option<String>,
}

/// Runs `insitu verify`.
pub fn run(args: Args, _g: &Global) -> anyhow::Result<()> {
    if !args.bundle.is_dir() {
        return Err(crate::exit::input(format!(
            "{} is not a directory — give the bundle directory",
            args.bundle.display()
        )));
    }
    let key = match &args.pubkey {
        None => None,
        Some(k) => {
            let text = if std::path::Path::new(k).is_file() {
                std::fs::read_to_string(k).map_err(|e| crate::exit::input(format!("{k}: {e}")))?
            } else {
                k.clone()
            };
            Some(
                parse_public_key(&text)
                    .map_err(|e| crate::exit::input(format!("--pubkey {k}: {e}")))?,
            )
        }
    };
    let outcome = verify_bundle(&args.bundle, key.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if outcome.key_source == KeySource::Manifest {
        eprintln!(
            "warning: no --pubkey given: checked against the key inside the manifest, which proves the bundle \
             is intact but not that the hospital made it — get the appliance's public key out of band"
        );
    }
    if !outcome.ok() {
        for p in &outcome.problems {
            eprintln!("error: {}: {p}", args.bundle.display());
        }
        eprintln!(
            "FAILED: {} problem(s); do not use this bundle",
            outcome.problems.len()
        );
        return Err(crate::exit::Silent(1).into());
    }
    let m = outcome
        .manifest
        .as_ref()
        .expect("a bundle that verifies has a manifest");
    println!(
        "OK: {} files match, nothing missing or extra, signature holds (run {}, release digest {})",
        outcome.files_ok, m.run_id, m.release_digest
    );
    Ok(())
}
