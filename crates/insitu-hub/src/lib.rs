//! The sponsor-facing hub service: parties and authentication, content-
//! addressed model and bundle transfer, jobs and their states, and the
//! double-entry fee ledger, over SQLite (embedded) or PostgreSQL with the
//! same migrations. It never reaches into an appliance: appliances pull,
//! signing every request with their enrolled ed25519 key.
//!
//! [`protocol`] and [`spec`] are shared with the appliance agent and the
//! sponsor client (signing, manifests, file policy, the job spec).

mod db;
mod embedded;
mod error;
mod jobs;
pub mod ledger;
#[cfg(test)]
mod ledger_props;
mod parties;
pub mod protocol;
mod server;
pub mod spec;
mod transfer;

pub use db::{Backend, HubDb};
pub use embedded::{scratch_postgres_database, RunningHub};
pub use error::{HubError, Result};
pub use ledger::{AccountBalance, LedgerReport};
pub use server::{router, serve};
pub use spec::{JobSpec, SpecIssue};
