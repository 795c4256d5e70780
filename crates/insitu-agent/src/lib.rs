//! The appliance's side of the hub protocol — signed outbound requests,
//! polling, resumable verified transfer and the job runner — plus the
//! sponsor's client for the same protocol. It never listens on a port: the
//! hospital network needs no inbound rule for insitu.
//!
//! Order of use on the appliance: [`AgentClient::enroll`] once, then
//! [`poll_once`] in a loop with a [`JobExecutor`] that runs the pipeline.

mod agent;
mod error;
mod http;
mod runner;
mod sponsor;
mod transfer;

pub use agent::{AgentClient, RemoteJob};
pub use error::{AgentError, Result};
pub use runner::{poll_once, JobExecutor, Outcome, PollReport, RunnableJob};
pub use sponsor::{PushedModel, SponsorClient};
pub use transfer::TransferStats;
