//! The sponsor-facing hub service: parties and auth, model and bundle
//! transfer, jobs, and the double-entry fee ledger. Never reaches into an
//! appliance: appliances pull.
