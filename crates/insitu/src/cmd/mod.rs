//! One module per subcommand: argument definitions and the wiring that calls
//! the library crates.

pub mod init;
pub mod status;
pub mod audit;
pub mod synth;
pub mod ingest;
pub mod deid;
pub mod assert;
pub mod dataset;
pub mod advise;
pub mod base;
pub mod base_fetch;
pub mod base_import;
pub mod base_init;
pub mod train;
pub mod merge;
pub mod gate;
pub mod users;
pub mod approve;
pub mod export;
pub mod verify;
pub mod hub;
pub mod agent;
pub mod sponsor;
pub mod jobs;
pub mod demo;
