//! Privacy evidence: DP accountant, canaries, membership inference,
//! extraction probes and the leakage report. Makes no release decisions.
