//! `insitu synth`.

use crate::Global;

/// Arguments of `insitu synth`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu synth`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu synth` is not built yet")
}
