//! `insitu users …`.

use crate::Global;

/// Subcommands of `insitu users`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu users …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
