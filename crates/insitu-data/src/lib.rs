//! Training datasets from cleaned notes: task templates, alpaca / messages /
//! preference / text JSONL, patient-level splits, minimum-cohort rules.
//! Knows nothing about candle.
