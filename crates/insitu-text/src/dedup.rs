//! Exact and near-duplicate removal for copy-forward text.
//!
//! Whole documents are deduplicated by a hash of their normalised text.
//! Paragraphs are compared by MinHash (Broder 1997) over word shingles and
//! indexed with LSH banding (b bands of r rows) so that each new paragraph is
//! only checked against candidates that share a band. Candidates are
//! confirmed with a 2-bit minwise sketch (Li & König 2010,
//! "b-Bit Minwise Hashing"): 16 bytes per kept paragraph instead of the
//! full signature, which is what lets a million notes fit in memory.
//!
//! The first occurrence is kept; later copies are dropped and attributed to
//! the earlier document, either within the same patient's timeline
//! (copy-forward) or across the corpus (templates, pasted letters).
//! Feed documents in timeline order (by patient, then written time).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;

/// Tuning for [`Deduper`].
#[derive(Debug, Clone, Serialize)]
pub struct DedupConfig {
    /// Words per shingle.
    pub shingle_words: usize,
    /// Paragraphs shorter than this (in words) are always kept.
    pub min_paragraph_words: usize,
    /// A paragraph is dropped as a copy of *another patient's* text only from
    /// this many words: short lines such as a medication ("Ramipril 5mg OD")
    /// or a comorbidity are legitimately identical across patients and are
    /// facts about this patient, whereas long shared paragraphs are templates.
    pub min_cross_patient_words: usize,
    /// LSH bands; `bands * rows` MinHash functions in all (at most 64).
    pub bands: usize,
    /// Rows (hash functions) per band.
    pub rows: usize,
    /// Estimated Jaccard similarity at or above which a paragraph is a copy.
    pub threshold: f64,
    /// Seed for the hash functions (same seed → same decisions).
    pub seed: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        // 8 bands × 6 rows: candidates from J ≈ 0.7; at J = 0.9 a copy is
        // found with probability 1 − (1 − 0.9⁶)⁸ ≈ 0.999.
        DedupConfig {
            shingle_words: 3,
            min_paragraph_words: 8,
            min_cross_patient_words: 20,
            bands: 8,
            rows: 6,
            threshold: 0.75,
            seed: 0x1d5e_7a11,
        }
    }
}

/// Why a piece of text was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The whole document repeats an earlier one.
    ExactDuplicateDocument,
    /// A paragraph copied forward from an earlier note of the same patient.
    CopiedForwardWithinPatient,
    /// A paragraph that (nearly) repeats one from another patient's note.
    NearDuplicateAcrossCorpus,
}

/// One dropped paragraph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedParagraph {
    /// Byte range in the document's text.
    pub span: Range<usize>,
    /// Why.
    pub reason: DropReason,
    /// Ordinal (0-based, in feed order) of the document holding the first copy.
    pub first_doc: u32,
}

/// The verdict for one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocVerdict {
    /// Ordinal of this document in feed order.
    pub doc: u32,
    /// Set when the whole document repeats the given earlier document.
    pub duplicate_of: Option<u32>,
    /// Paragraphs dropped from an otherwise kept document.
    pub dropped: Vec<DroppedParagraph>,
}

impl DocVerdict {
    /// The text that survives: `None` for a duplicate document, otherwise the
    /// text without its dropped paragraphs.
    pub fn kept_text(&self, text: &str) -> Option<String> {
        if self.duplicate_of.is_some() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for d in &self.dropped {
            out.push_str(&text[at..d.span.start]);
            at = d.span.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// Totals over everything fed so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DedupReport {
    /// Documents seen.
    pub documents: u64,
    /// Documents dropped as exact duplicates.
    pub documents_duplicate: u64,
    /// Paragraphs fingerprinted (long enough to compare).
    pub paragraphs: u64,
    /// Paragraphs dropped as copy-forward within a patient.
    pub paragraphs_copied_forward: u64,
    /// Paragraphs dropped as near-duplicates across patients.
    pub paragraphs_near_duplicate: u64,
    /// Bytes of text seen.
    pub bytes: u64,
    /// Bytes dropped (whole documents and paragraphs).
    pub bytes_dropped: u64,
}

/// A document's fingerprints, computed without touching the index so that
/// callers can compute them in parallel.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    exact: u64,
    bytes: usize,
    paragraphs: Vec<ParagraphPrint>,
}

#[derive(Debug, Clone)]
struct ParagraphPrint {
    span: Range<usize>,
    words: usize,
    minhash: Vec<u32>,
}

/// Streaming deduplicator: feed documents in timeline order.
pub struct Deduper {
    cfg: DedupConfig,
    hash_a: Vec<u64>,
    hash_b: Vec<u64>,
    exact: HashMap<u64, u32>,
    patients: HashMap<String, u32>,
    /// Band key → kept paragraph id.
    bands: HashMap<u64, u32>,
    /// Per kept paragraph: (2-bit sketch, patient, document).
    kept: Vec<(u128, u32, u32)>,
    docs: u32,
    report: DedupReport,
}

impl Deduper {
    /// A fresh index. Panics if `bands * rows` is 0 or over 64 (a programming error).
    pub fn new(cfg: DedupConfig) -> Deduper {
        let k = cfg.bands * cfg.rows;
        assert!(k > 0 && k <= 64, "bands × rows must be 1..=64");
        let mut state = cfg.seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            // splitmix64: deterministic per seed.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let hash_a = (0..k).map(|_| next() | 1).collect();
        let hash_b = (0..k).map(|_| next()).collect();
        Deduper {
            cfg,
            hash_a,
            hash_b,
            exact: HashMap::new(),
            patients: HashMap::new(),
            bands: HashMap::new(),
            kept: Vec::new(),
            docs: 0,
            report: DedupReport::default(),
        }
    }

    /// Computes a document's fingerprints (pure; safe to run on many threads).
    pub fn fingerprint(&self, text: &str) -> Fingerprint {
        let mut paragraphs = Vec::new();
        for span in paragraph_spans(text) {
            let words: Vec<u64> = words(&text[span.clone()]).map(hash_word).collect();
            if words.len() < self.cfg.min_paragraph_words {
                continue;
            }
            let mut mins = vec![u32::MAX; self.hash_a.len()];
            let w = self.cfg.shingle_words.min(words.len()).max(1);
            for shingle in words.windows(w) {
                let h = shingle.iter().fold(0xcbf2_9ce4_8422_2325u64, |acc, x| {
                    (acc ^ x)
                        .wrapping_mul(0x0000_0100_0000_01b3)
                        .rotate_left(17)
                });
                for (m, (a, b)) in mins.iter_mut().zip(self.hash_a.iter().zip(&self.hash_b)) {
                    let v = (h.wrapping_mul(*a).wrapping_add(*b) >> 32) as u32;
                    if v < *m {
                        *m = v;
                    }
                }
            }
            paragraphs.push(ParagraphPrint {
                span,
                words: words.len(),
                minhash: mins,
            });
        }
        Fingerprint {
            exact: exact_hash(text),
            bytes: text.len(),
            paragraphs,
        }
    }

    /// Fingerprints and adds one document.
    pub fn add(&mut self, patient: &str, text: &str) -> DocVerdict {
        let fp = self.fingerprint(text);
        self.add_fingerprint(patient, fp)
    }

    /// Adds a document fingerprinted earlier with [`Deduper::fingerprint`].
    pub fn add_fingerprint(&mut self, patient: &str, fp: Fingerprint) -> DocVerdict {
        let doc = self.docs;
        self.docs += 1;
        self.report.documents += 1;
        self.report.bytes += fp.bytes as u64;
        if let Some(&first) = self.exact.get(&fp.exact) {
            self.report.documents_duplicate += 1;
            self.report.bytes_dropped += fp.bytes as u64;
            return DocVerdict {
                doc,
                duplicate_of: Some(first),
                dropped: Vec::new(),
            };
        }
        self.exact.insert(fp.exact, doc);
        let next_patient = self.patients.len() as u32;
        let patient_id = *self
            .patients
            .entry(patient.to_string())
            .or_insert(next_patient);
        let mut dropped = Vec::new();
        for p in fp.paragraphs {
            self.report.paragraphs += 1;
            let sketch = two_bit_sketch(&p.minhash);
            let keys = self.band_keys(&p.minhash);
            let mut seen = HashSet::new();
            let hit = keys
                .iter()
                .filter_map(|k| self.bands.get(k).copied())
                .filter(|id| seen.insert(*id))
                .find(|&id| {
                    estimate_jaccard(sketch, self.kept[id as usize].0, p.minhash.len())
                        >= self.cfg.threshold
                });
            let hit = hit.filter(|&id| {
                self.kept[id as usize].1 == patient_id
                    || p.words >= self.cfg.min_cross_patient_words
            });
            match hit {
                Some(id) => {
                    let (_, first_patient, first_doc) = self.kept[id as usize];
                    let reason = if first_patient == patient_id {
                        self.report.paragraphs_copied_forward += 1;
                        DropReason::CopiedForwardWithinPatient
                    } else {
                        self.report.paragraphs_near_duplicate += 1;
                        DropReason::NearDuplicateAcrossCorpus
                    };
                    self.report.bytes_dropped += p.span.len() as u64;
                    dropped.push(DroppedParagraph {
                        span: p.span,
                        reason,
                        first_doc,
                    });
                }
                None => {
                    let id = self.kept.len() as u32;
                    self.kept.push((sketch, patient_id, doc));
                    for k in keys {
                        self.bands.entry(k).or_insert(id);
                    }
                }
            }
        }
        DocVerdict {
            doc,
            duplicate_of: None,
            dropped,
        }
    }

    /// Totals so far.
    pub fn report(&self) -> &DedupReport {
        &self.report
    }

    fn band_keys(&self, minhash: &[u32]) -> Vec<u64> {
        minhash
            .chunks(self.cfg.rows)
            .enumerate()
            .map(|(band, rows)| {
                let mut h = std::hash::DefaultHasher::new();
                band.hash(&mut h);
                rows.hash(&mut h);
                h.finish()
            })
            .collect()
    }
}

/// Paragraphs: blocks separated by blank lines; a note without blank lines
/// is taken line by line (clinical notes often put one item per line).
fn paragraph_spans(text: &str) -> Vec<Range<usize>> {
    let sep = if text.contains("\n\n") || text.contains("\r\n\r\n") {
        "\n\n"
    } else {
        "\n"
    };
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split(sep) {
        let end = start + piece.len();
        if !piece.trim().is_empty() {
            out.push(start..end);
        }
        start = end + sep.len();
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

fn hash_word(w: &str) -> u64 {
    // FNV-1a over lower-cased bytes: fast, stable across runs and platforms.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in w.bytes() {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn exact_hash(text: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for w in words(text) {
        h = (h ^ hash_word(w))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }
    h
}

fn two_bit_sketch(minhash: &[u32]) -> u128 {
    minhash
        .iter()
        .enumerate()
        .fold(0u128, |acc, (i, m)| acc | (((m & 3) as u128) << (2 * i)))
}

/// Jaccard estimate from 2-bit sketches: P(match) = J + (1 − J)/4.
fn estimate_jaccard(a: u128, b: u128, k: usize) -> f64 {
    let x = a ^ b;
    let matches = (0..k).filter(|i| (x >> (2 * i)) & 3 == 0).count() as f64 / k as f64;
    ((matches - 0.25) / 0.75).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: &str = "Admitted with community acquired pneumonia, treated with amoxicillin and clarithromycin, improving on ward.";
    const P2: &str = "Seen on ward round today, remains on oxygen two litres via nasal cannula, eating and drinking well.";
    const P3: &str =
        "Discharged home with a five day course of oral antibiotics and GP follow up in two weeks.";

    #[test]
    fn copy_forward_within_patient_is_dropped_first_copy_kept() {
        let mut d = Deduper::new(DedupConfig::default());
        let day1 = format!("{P1}\n\n{P2}");
        let day2 = format!("{P1}\n\n{P3}");
        assert_eq!(d.add("pat-a", &day1).dropped, vec![]);
        let v = d.add("pat-a", &day2);
        assert_eq!(v.dropped.len(), 1);
        assert_eq!(v.dropped[0].reason, DropReason::CopiedForwardWithinPatient);
        assert_eq!(v.dropped[0].first_doc, 0);
        assert_eq!(v.kept_text(&day2).unwrap().trim(), P3);
        assert_eq!(d.report().paragraphs_copied_forward, 1);
    }

    #[test]
    fn lightly_edited_copy_is_still_caught_and_different_text_is_not() {
        let mut d = Deduper::new(DedupConfig::default());
        let long = format!("{P1} {P2} {P3}");
        d.add("pat-a", &long);
        let edited = long.replace("improving", "slowly improving");
        assert_eq!(
            d.add("pat-b", &edited).dropped[0].reason,
            DropReason::NearDuplicateAcrossCorpus
        );
        assert!(d.add("pat-c", P2).dropped.is_empty());
    }

    #[test]
    fn exact_duplicate_documents_ignore_whitespace_and_case() {
        let mut d = Deduper::new(DedupConfig::default());
        d.add("pat-a", "No fever.  Chest clear.");
        let v = d.add("pat-a", "no fever.\nchest clear.");
        assert_eq!(v.duplicate_of, Some(0));
        assert_eq!(v.kept_text("x"), None);
        assert_eq!(d.report().documents_duplicate, 1);
    }

    #[test]
    fn short_lines_shared_across_patients_are_kept_but_copied_forward_within_one_are_dropped() {
        let mut d = Deduper::new(DedupConfig::default());
        let med = "Salbutamol inhaler 100 micrograms two puffs as required for wheeze";
        d.add("pat-a", &format!("{med}\n\n{P1}"));
        assert!(
            d.add("pat-b", &format!("{med}\n\n{P2}")).dropped.is_empty(),
            "another patient's identical medication line is a fact about them"
        );
        let again = d.add("pat-a", &format!("{med}\n\n{P3}"));
        assert_eq!(again.dropped.len(), 1);
        assert_eq!(
            again.dropped[0].reason,
            DropReason::CopiedForwardWithinPatient
        );
    }

    #[test]
    fn short_paragraphs_are_never_dropped() {
        let mut d = Deduper::new(DedupConfig::default());
        d.add("a", "Plan:\n\nReview tomorrow morning please thanks team");
        let v = d.add("a", "Plan:\n\nSomething else entirely different here");
        assert!(v.dropped.is_empty());
    }

    #[test]
    fn same_seed_same_decisions() {
        let run = |seed| {
            let mut d = Deduper::new(DedupConfig {
                seed,
                ..DedupConfig::default()
            });
            (0..20)
                .map(|i| d.add("p", &format!("{P1} {i}\n\n{P2}")).dropped.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn jaccard_estimate_of_identical_sketches_is_one() {
        assert_eq!(estimate_jaccard(0xabc, 0xabc, 48), 1.0);
    }
}
