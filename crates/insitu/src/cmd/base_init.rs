//! `insitu base init`.

use crate::Global;

/// Arguments of `insitu base init`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu base init`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu base init` is not built yet")
}
