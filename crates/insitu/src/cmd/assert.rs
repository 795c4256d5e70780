//! `insitu assert`.

use crate::Global;

/// Arguments of `insitu assert`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu assert`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu assert` is not built yet")
}
