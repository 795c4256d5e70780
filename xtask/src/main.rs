//! Project chores that never ship in the binary: benchmarks against peers and
//! interop checks. Run as `cargo xtask <command>` (alias in .cargo/config.toml).
//! Each benchmark prints its figures and, where a peer exists, the ratio
//! measured in the same run.

mod bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "insitu project chores: benchmarks and interop checks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a benchmark and print its figures: ingest, deid, dedup, train, hub.
    Bench {
        /// Which benchmark.
        name: String,
        /// Arguments passed to the benchmark (see each one's --help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { name, args } => bench::run(&name, &args),
    }
}
