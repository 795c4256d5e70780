//! Clinical text processing: sections, sentences, assertion (ConText-style),
//! abbreviations, near-duplicate detection. Knows nothing about models.
