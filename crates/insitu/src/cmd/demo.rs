//! `insitu demo`.

use crate::Global;

/// Arguments of `insitu demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu demo`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu demo` is not built yet")
}
