//! `insitu merge`.

use crate::Global;

/// Arguments of `insitu merge`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu merge`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu merge` is not built yet")
}
