//! The dataset card: what is in a dataset and how it was made, as JSON
//! (`card.json`, for tools) and Markdown (`card.md`, for the IG officer).

use crate::splits::Split;
use insitu_text::dedup::DedupReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whitespace-token length statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    /// Shortest.
    pub min: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: usize,
    /// 95th percentile.
    pub p95: usize,
    /// Longest.
    pub max: usize,
}

impl LengthStats {
    /// Statistics over `lengths` (all zero when empty).
    pub fn of(mut lengths: Vec<usize>) -> LengthStats {
        if lengths.is_empty() {
            return LengthStats::default();
        }
        lengths.sort_unstable();
        let n = lengths.len();
        let pct = |p: f64| lengths[((p * (n - 1) as f64).round() as usize).min(n - 1)];
        LengthStats {
            min: lengths[0],
            mean: lengths.iter().sum::<usize>() as f64 / n as f64,
            p50: pct(0.5),
            p95: pct(0.95),
            max: lengths[n - 1],
        }
    }
}

/// Per-split counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Examples.
    pub examples: usize,
    /// Distinct patients.
    pub patients: usize,
}

/// Everything the card says. Deterministic: no timestamps, sorted maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetCard {
    /// Task name.
    pub task: String,
    /// Format name.
    pub format: String,
    /// Split seed.
    pub seed: u64,
    /// Minimum patients per split enforced.
    pub min_patients_per_split: usize,
    /// Whether abbreviations were expanded.
    pub abbreviations_expanded: bool,
    /// Counts per split.
    pub splits: BTreeMap<Split, SplitCounts>,
    /// Documents read.
    pub documents_in: usize,
    /// Documents dropped by quality flag (`too_short`, `not_english`…).
    pub quality_dropped: BTreeMap<String, usize>,
    /// Exact and near-duplicate removal totals.
    pub dedup: DedupReport,
    /// Documents that gave no example, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Prompt (instruction + input) lengths in whitespace tokens.
    pub prompt_tokens: LengthStats,
    /// Output lengths in whitespace tokens.
    pub output_tokens: LengthStats,
    /// Assertion mix of common findings mentioned in the examples.
    pub assertion_mix: BTreeMap<String, usize>,
    /// PHI re-scan over every example, or why it was not run.
    pub phi_rescan: PhiRescan,
    /// sha256 of each written file (`train.jsonl`, …, `splits.json`).
    pub files: BTreeMap<String, String>,
}

/// Result of re-scanning the finished examples for PHI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PhiRescan {
    /// The scanner ran over every example.
    Scanned {
        /// Scanner name and version.
        scanner: String,
        /// Spans it reported.
        spans: usize,
        /// Examples with at least one span.
        examples_with_spans: usize,
        /// Span counts by category.
        by_category: BTreeMap<String, usize>,
    },
    /// No scanner was available.
    NotRun {
        /// Why.
        reason: String,
    },
}

impl DatasetCard {
    /// The Markdown card.
    pub fn markdown(&self) -> String {
        let mut s = format!("# Dataset card: {} ({})\n\n", self.task, self.format);
        s += "Built by insitu from de-identified notes inside the appliance. Splits are by patient: no patient appears in two splits.\n\n";
        s += "| split | examples | patients |\n|---|---:|---:|\n";
        for (k, v) in &self.splits {
            s += &format!("| {} | {} | {} |\n", k.as_str(), v.examples, v.patients);
        }
        s += &format!(
            "\n- split seed: {}; minimum patients per split: {}\n",
            self.seed, self.min_patients_per_split
        );
        s += &format!(
            "- documents read: {}; abbreviations expanded: {}\n",
            self.documents_in, self.abbreviations_expanded
        );
        s += &format!("- quality filter dropped: {}\n", kv(&self.quality_dropped));
        s += &format!(
            "- duplicates: {} exact duplicate documents; {} copied-forward paragraphs (same patient) and {} near-duplicate paragraphs (across patients) dropped; {:.1}% of bytes removed\n",
            self.dedup.documents_duplicate,
            self.dedup.paragraphs_copied_forward,
            self.dedup.paragraphs_near_duplicate,
            100.0 * self.dedup.bytes_dropped as f64 / self.dedup.bytes.max(1) as f64
        );
        s += &format!("- documents without an example: {}\n", kv(&self.skipped));
        for (name, l) in [
            ("prompt", &self.prompt_tokens),
            ("output", &self.output_tokens),
        ] {
            s += &format!("- {name} length (whitespace tokens): min {}, mean {:.1}, median {}, p95 {}, max {}\n", l.min, l.mean, l.p50, l.p95, l.max);
        }
        s += &format!(
            "- assertion mix of common findings: {}\n",
            kv(&self.assertion_mix)
        );
        s += &match &self.phi_rescan {
            PhiRescan::Scanned {
                scanner,
                spans,
                examples_with_spans,
                by_category,
            } => {
                format!("- PHI re-scan ({scanner}): {spans} span(s) in {examples_with_spans} example(s) {}\n", if *spans == 0 { String::new() } else { format!("— {}; review before training (surrogates from de-identification are also reported)", kv(by_category)) })
            }
            PhiRescan::NotRun { reason } => format!("- PHI re-scan: NOT RUN — {reason}\n"),
        };
        s += "\n## Files (sha256)\n\n";
        for (f, h) in &self.files {
            s += &format!("- `{f}` {h}\n");
        }
        s
    }
}

fn kv(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
