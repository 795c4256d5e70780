//! One module per subcommand: argument definitions and the wiring that calls
//! the library crates.

pub mod advise;
pub mod agent;
pub mod agent_pipeline;
pub mod approve;
pub mod assert;
pub mod audit;
pub mod base;
pub mod base_fetch;
pub mod base_import;
pub mod base_init;
pub mod dataset;
pub mod deid;
pub mod demo;
pub mod eval;
pub mod export;
pub mod gate;
pub mod hub;
pub mod ingest;
pub mod init;
pub mod jobs;
pub mod leakage;
pub mod merge;
pub mod sponsor;
pub mod status;
pub mod synth;
pub mod train;
pub mod users;
pub mod verify;
