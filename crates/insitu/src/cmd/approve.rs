//! `insitu approve`.

use crate::Global;

/// Arguments of `insitu approve`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu approve`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu approve` is not built yet")
}
