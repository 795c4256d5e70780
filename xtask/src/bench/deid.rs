//! `cargo xtask bench deid`.

/// Runs the deid benchmark.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the deid benchmark is not built yet")
}
