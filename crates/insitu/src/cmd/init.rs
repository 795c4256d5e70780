//! `insitu init`.

use crate::Global;

/// Arguments of `insitu init`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu init`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu init` is not built yet")
}
