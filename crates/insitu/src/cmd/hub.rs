//! `insitu hub …`.

use crate::Global;

/// Subcommands of `insitu hub`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu hub …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
