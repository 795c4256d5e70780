//! `insitu agent …`.

use crate::Global;

/// Subcommands of `insitu agent`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {}

/// Runs `insitu agent …`.
pub fn run(command: Command, _g: &Global) -> anyhow::Result<()> {
    match command {}
}
