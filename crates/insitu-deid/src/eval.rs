//! Span evaluation: exact and overlap matching at span level, and token level
//! when the note texts are given. De-identification is judged on whether a
//! gold identifier was caught, so matching ignores categories; per-category
//! rows attribute recall to the gold category and precision to the predicted one.

use insitu_types::{Category, SpanRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Precision, recall and F1 with the counts behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Gold items in scope.
    pub gold: usize,
    /// Gold items that were found.
    pub found: usize,
    /// Predicted items in scope.
    pub predicted: usize,
    /// Predicted items that were correct.
    pub correct: usize,
    /// correct / predicted (1 when nothing was predicted).
    pub precision: f64,
    /// found / gold (1 when there is no gold).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Scores {
    fn new(gold: usize, found: usize, predicted: usize, correct: usize) -> Scores {
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let precision = ratio(correct, predicted);
        let recall = ratio(found, gold);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Scores {
            gold,
            found,
            predicted,
            correct,
            precision,
            recall,
            f1,
        }
    }
}

/// Scores for one category.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryScores {
    /// The category.
    pub category: Category,
    /// Span level, exact boundaries.
    pub exact: Scores,
    /// Span level, any overlap.
    pub overlap: Scores,
    /// Token level (only with note texts).
    pub token: Option<Scores>,
}

/// A gold span no prediction touched, or a prediction no gold span touched.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// Document id.
    pub doc: String,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Category of the span.
    pub category: Category,
    /// The covered text, only when the caller asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The full evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Documents that have gold or predicted spans.
    pub documents: usize,
    /// Span level, exact boundaries.
    pub exact: Scores,
    /// Span level, any overlap.
    pub overlap: Scores,
    /// Token level (only with note texts).
    pub token: Option<Scores>,
    /// One row per category that occurs in gold or predictions.
    pub per_category: Vec<CategoryScores>,
    /// Gold spans with no overlapping prediction.
    pub misses: Vec<Miss>,
    /// Predictions with no overlapping gold span.
    pub false_positives: Vec<Miss>,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    gold: usize,
    found: usize,
    predicted: usize,
    correct: usize,
}

impl Counts {
    fn scores(self) -> Scores {
        Scores::new(self.gold, self.found, self.predicted, self.correct)
    }
}

fn overlaps(a: &SpanRecord, b: &SpanRecord) -> bool {
    a.start < b.end && b.start < a.end
}

/// Byte ranges of alphanumeric tokens.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// Scores `pred` against `gold`. With `notes` (doc id → text) token-level
/// scores are computed and, when `show_text` is set, misses carry their text.
pub fn evaluate(
    gold: &[SpanRecord],
    pred: &[SpanRecord],
    notes: Option<&HashMap<String, String>>,
    show_text: bool,
) -> EvalReport {
    let mut by_doc: BTreeMap<&str, (Vec<&SpanRecord>, Vec<&SpanRecord>)> = BTreeMap::new();
    for g in gold {
        by_doc.entry(&g.doc).or_default().0.push(g);
    }
    for p in pred {
        by_doc.entry(&p.doc).or_default().1.push(p);
    }
    let mut exact = Counts::default();
    let mut overlap = Counts::default();
    let mut token = Counts::default();
    let mut cat_exact: BTreeMap<Category, Counts> = BTreeMap::new();
    let mut cat_overlap: BTreeMap<Category, Counts> = BTreeMap::new();
    let mut cat_token: BTreeMap<Category, Counts> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut false_positives = Vec::new();
    let text_of = |doc: &str, s: &SpanRecord| -> Option<String> {
        if !show_text {
            return None;
        }
        notes
            .and_then(|n| n.get(doc))
            .and_then(|t| t.get(s.start..s.end))
            .map(str::to_string)
    };
    for (doc, (gs, ps)) in &by_doc {
        for g in gs {
            let hit_exact = ps.iter().any(|p| p.start == g.start && p.end == g.end);
            let hit_overlap = ps.iter().any(|p| overlaps(p, g));
            for (c, hit) in [(&mut exact, hit_exact), (&mut overlap, hit_overlap)] {
                c.gold += 1;
                c.found += usize::from(hit);
            }
            let e = cat_exact.entry(g.category).or_default();
            e.gold += 1;
            e.found += usize::from(hit_exact);
            let o = cat_overlap.entry(g.category).or_default();
            o.gold += 1;
            o.found += usize::from(hit_overlap);
            if !hit_overlap {
                misses.push(Miss {
                    doc: doc.to_string(),
                    start: g.start,
                    end: g.end,
                    category: g.category,
                    text: text_of(doc, g),
                });
            }
        }
        for p in ps {
            let ok_exact = gs.iter().any(|g| p.start == g.start && p.end == g.end);
            let ok_overlap = gs.iter().any(|g| overlaps(p, g));
            for (c, ok) in [(&mut exact, ok_exact), (&mut overlap, ok_overlap)] {
                c.predicted += 1;
                c.correct += usize::from(ok);
            }
            let e = cat_exact.entry(p.category).or_default();
            e.predicted += 1;
            e.correct += usize::from(ok_exact);
            let o = cat_overlap.entry(p.category).or_default();
            o.predicted += 1;
            o.correct += usize::from(ok_overlap);
            if !ok_overlap {
                false_positives.push(Miss {
                    doc: doc.to_string(),
                    start: p.start,
                    end: p.end,
                    category: p.category,
                    text: text_of(doc, p),
                });
            }
        }
        if let Some(text) = notes.and_then(|n| n.get(*doc)) {
            for (ts, te) in tokens(text) {
                let tok = SpanRecord {
                    doc: doc.to_string(),
                    start: ts,
                    end: te,
                    category: Category::Other,
                };
                let g = gs.iter().find(|g| overlaps(g, &tok));
                let p = ps.iter().find(|p| overlaps(p, &tok));
                if let Some(g) = g {
                    token.gold += 1;
                    token.found += usize::from(p.is_some());
                    let c = cat_token.entry(g.category).or_default();
                    c.gold += 1;
                    c.found += usize::from(p.is_some());
                }
                if let Some(p) = p {
                    token.predicted += 1;
                    token.correct += usize::from(g.is_some());
                    let c = cat_token.entry(p.category).or_default();
                    c.predicted += 1;
                    c.correct += usize::from(g.is_some());
                }
            }
        }
    }
    let has_tokens = notes.is_some();
    let per_category = Category::ALL
        .into_iter()
        .filter(|c| cat_exact.contains_key(c))
        .map(|c| CategoryScores {
            category: c,
            exact: cat_exact[&c].scores(),
            overlap: cat_overlap[&c].scores(),
            token: has_tokens.then(|| cat_token.get(&c).copied().unwrap_or_default().scores()),
        })
        .collect();
    EvalReport {
        documents: by_doc.len(),
        exact: exact.scores(),
        overlap: overlap.scores(),
        token: has_tokens.then(|| token.scores()),
        per_category,
        misses,
        false_positives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(doc: &str, start: usize, end: usize, c: Category) -> SpanRecord {
        SpanRecord {
            doc: doc.into(),
            start,
            end,
            category: c,
        }
    }

    #[test]
    fn exact_overlap_and_token_scores_differ_as_expected() {
        let text = "Seen by Jane Smith on 12/03/2024.".to_string();
        let gold = vec![
            rec("a", 8, 18, Category::Name),
            rec("a", 22, 32, Category::Date),
        ];
        // Name only half found, date exact, one false alarm on "Seen".
        let pred = vec![
            rec("a", 8, 12, Category::Name),
            rec("a", 22, 32, Category::Date),
            rec("a", 0, 4, Category::Name),
        ];
        let notes = HashMap::from([("a".to_string(), text)]);
        let r = evaluate(&gold, &pred, Some(&notes), true);
        assert_eq!((r.exact.found, r.exact.gold), (1, 2));
        assert_eq!((r.overlap.found, r.overlap.gold), (2, 2));
        assert_eq!((r.overlap.correct, r.overlap.predicted), (2, 3));
        let t = r.token.unwrap();
        // gold tokens: Jane, Smith, 12, 03, 2024 → 5; found: Jane, 12, 03, 2024.
        assert_eq!((t.found, t.gold), (4, 5));
        assert_eq!(r.false_positives[0].text.as_deref(), Some("Seen"));
        assert!(r.misses.is_empty());
    }

    #[test]
    fn misses_are_listed_without_text_unless_asked() {
        let gold = vec![rec("b", 0, 3, Category::Id)];
        let r = evaluate(&gold, &[], None, false);
        assert_eq!(r.overlap.recall, 0.0);
        assert_eq!(r.misses.len(), 1);
        assert!(r.misses[0].text.is_none());
    }
}
