//! `cargo xtask bench dedup`.

/// Runs the dedup benchmark.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the dedup benchmark is not built yet")
}
