//! `insitu advise`.

use crate::Global;

/// Arguments of `insitu advise`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu advise`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu advise` is not built yet")
}
