//! `cargo xtask bench train`.

/// Runs the train benchmark.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("the train benchmark is not built yet")
}
