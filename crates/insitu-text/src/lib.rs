//! Clinical text processing for de-identified notes: sections (NHS and US
//! headings), sentences, ConText-style assertion (negation, uncertainty,
//! hypothetical, historical, family), abbreviation disambiguation,
//! exact and near-duplicate (MinHash-LSH) removal and per-document quality
//! scores. It works on plain strings only: it must not know about models,
//! storage or PHI detection, and it never sees raw identifiers.

pub mod abbreviations;
pub mod assertion;
pub mod dedup;
pub mod quality;
pub mod sections;
pub mod sentences;
pub mod tokens;

/// Errors from text processing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A lexicon file could not be parsed or is inconsistent.
    #[error("{origin}: {message}")]
    Lexicon {
        /// File (or built-in name) the lexicon came from.
        origin: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The concept to classify does not occur in the text.
    #[error("concept {concept:?} does not occur in the text — `concept` must be a phrase copied from `text`")]
    ConceptNotFound {
        /// The concept that was looked for.
        concept: String,
    },
}
