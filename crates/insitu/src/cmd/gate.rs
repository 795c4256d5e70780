//! `insitu gate`.

use crate::Global;

/// Arguments of `insitu gate`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu gate`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu gate` is not built yet")
}
