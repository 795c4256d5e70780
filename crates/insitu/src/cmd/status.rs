//! `insitu status`: what the home holds, in a few lines or as stable JSON.

use crate::cmd::init::open_store;
use crate::Global;

/// Arguments of `insitu status`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Summarise the home: documents, patients, sources, datasets, runs, bundles, \
the audit head (sequence number and hash) and the schema versions.\n\n\
--json prints one object whose shape is documented in docs/foundation.md; fields are only \
ever added, never renamed or removed."
)]
pub struct Args {
    /// Print one JSON object (stable shape) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `insitu status`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let s = store.status()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("home       {}", s.home);
    println!(
        "documents  {} from {} patient(s) in {} source(s)",
        s.documents, s.patients, s.sources
    );
    for source in store.source_counts()? {
        println!(
            "  {:<24} {} document(s), {} patient(s)",
            source.source, source.documents, source.patients
        );
    }
    println!("datasets   {}", s.datasets);
    println!("runs       {}", s.runs);
    println!("bundles    {}", s.bundles);
    println!(
        "audit      {} event(s); head seq {} hash {}",
        s.audit.events, s.audit.head_seq, s.audit.head_hash
    );
    let versions: Vec<String> = s.schema_versions.iter().map(u32::to_string).collect();
    println!("schema     {}", versions.join(", "));
    Ok(())
}
