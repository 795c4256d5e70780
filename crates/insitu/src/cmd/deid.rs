//! `insitu deid`.

use crate::Global;

/// Arguments of `insitu deid`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu deid`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu deid` is not built yet")
}
