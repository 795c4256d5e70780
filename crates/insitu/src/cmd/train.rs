//! `insitu train`.

use crate::Global;

/// Arguments of `insitu train`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu train`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu train` is not built yet")
}
