//! PHI detection, surrogate replacement, per-patient date shifting and span
//! evaluation. Knows nothing about storage: callers pass text, get spans.
