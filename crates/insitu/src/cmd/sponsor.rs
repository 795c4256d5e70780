//! `insitu sponsor …`.

use crate::Global;

/// Subcommands of `insitu sponsor`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu sponsor …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
