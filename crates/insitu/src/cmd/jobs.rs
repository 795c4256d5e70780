//! `insitu jobs …`.

use crate::Global;

/// Subcommands of `insitu jobs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu jobs …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
