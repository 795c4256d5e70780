//! `insitu init`: creates an appliance home, or confirms an existing one.
//! Also home to [`open_store`], which every command needing a home uses so
//! that a missing or newer home reads the same everywhere.

use crate::Global;
use anyhow::Context;
use insitu_store::{Store, StoreError};

/// Arguments of `insitu init`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Create an appliance home: the SQLite database (WAL, versioned migrations), \
an ed25519 bundle-signing key and an HMAC secret for patient pseudonyms (both mode 0600), \
and config.toml with every default written out and explained.\n\n\
Running it on an existing home changes nothing and says so. A home written by a newer \
insitu is refused rather than risk damaging it.",
    after_help = "Example:\n  insitu init --home /srv/insitu\n  export INSITU_HOME=/srv/insitu"
)]
pub struct Args {}

/// Runs `insitu init`.
pub fn run(_args: Args, g: &Global) -> anyhow::Result<()> {
    let dir = g.home_dir();
    let (store, created) = Store::init(&dir).map_err(|e| match e {
        e @ StoreError::NewerSchema { .. } => crate::exit::input(e.to_string()),
        e => anyhow::Error::new(e).context(format!("could not initialise {}", dir.display())),
    })?;
    let home = store.home();
    let versions = store.applied_schema_versions()?;
    if !created {
        println!(
            "{} is already an insitu home — nothing changed (schema versions {})",
            dir.display(),
            join(&versions)
        );
        return Ok(());
    }
    let public = home
        .verifying_key()
        .context("reading the signing key just written")?;
    println!("insitu home ready at {}", dir.display());
    println!(
        "  database     {} (schema versions {})",
        home.db_path().display(),
        join(&versions)
    );
    println!(
        "  signing key  {} (0600); public key {}",
        home.signing_key_path().display(),
        home.verifying_key_path().display()
    );
    println!("  public key   {}", hex_of(public.as_bytes()));
    println!(
        "  hmac secret  {} (0600) — back it up: patient keys depend on it",
        home.hmac_key_path().display()
    );
    println!("  config       {}", home.config_path().display());
    println!("next: insitu ingest notes.jsonl --home {}", dir.display());
    Ok(())
}

/// Opens the home named by `--home`/`$INSITU_HOME`. A missing or newer home
/// is an input error (exit 2) with a message saying what to do.
pub fn open_store(g: &Global) -> anyhow::Result<Store> {
    let dir = g.home_dir();
    Store::open(&dir).map_err(|e| match e {
        e @ (StoreError::NotInitialised(_) | StoreError::NewerSchema { .. }) => {
            crate::exit::input(e.to_string())
        }
        e => anyhow::Error::new(e).context(format!("could not open the home {}", dir.display())),
    })
}

fn join(versions: &[u32]) -> String {
    versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
