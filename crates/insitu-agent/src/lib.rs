//! The appliance's side of the hub protocol: signed requests, polling,
//! resumable transfer and the job runner. Never listens on a port.
