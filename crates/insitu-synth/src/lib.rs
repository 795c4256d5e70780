//! Deterministic synthetic clinical notes (NHS and US styles) with gold PHI
//! spans, ICD-10 codes and assertion labels. For tests and the demo only:
//! nothing here may be used on real data.
