//! `cargo xtask bench hub`.

/// Runs the hub benchmark.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the hub benchmark is not built yet")
}
