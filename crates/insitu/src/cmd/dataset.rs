//! `insitu dataset …`.

use crate::Global;

/// Subcommands of `insitu dataset`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu dataset …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
