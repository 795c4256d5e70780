//! `insitu export`.

use crate::Global;

/// Arguments of `insitu export`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu export`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu export` is not built yet")
}
