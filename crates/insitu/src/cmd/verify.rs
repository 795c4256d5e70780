//! `insitu verify`.

use crate::Global;

/// Arguments of `insitu verify`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu verify`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu verify` is not built yet")
}
