//! `insitu audit …`.

use crate::Global;

/// Subcommands of `insitu audit`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu audit …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
