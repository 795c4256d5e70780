//! `insitu ingest`.

use crate::Global;

/// Arguments of `insitu ingest`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `insitu ingest`.
pub fn run(_args: Args, _g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("`insitu ingest` is not built yet")
}
