//! `insitu base fetch`.

use crate::Global;

/// Arguments of `insitu base fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu base fetch`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu base fetch` is not built yet")
}
