//! Reads clinical notes from the formats hospitals export — directories of
//! `.txt`, JSONL, CSV (with column mapping) and FHIR R4 JSON — into plain
//! document records with their source position. Parses only; the store
//! persists.
