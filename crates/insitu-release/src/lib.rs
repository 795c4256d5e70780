//! Release control: policy gate, two-person approvals bound to a digest,
//! signed export bundles and their offline verification. Never trains.
