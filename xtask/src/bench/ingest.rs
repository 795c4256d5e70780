//! `cargo xtask bench ingest`.

/// Runs the ingest benchmark.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the ingest benchmark is not built yet")
}
