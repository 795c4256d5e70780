//! `insitu base import`.

use crate::Global;

/// Arguments of `insitu base import`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu base import`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu base import` is not built yet")
}
