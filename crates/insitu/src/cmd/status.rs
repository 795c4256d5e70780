//! `insitu status`.

use crate::Global;

/// Arguments of `insitu status`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu status`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu status` is not built yet")
}
