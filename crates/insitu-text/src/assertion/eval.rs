//! Per-class precision, recall and F1 for assertion predictions against gold.

use insitu_types::Assertion;
use serde::Serialize;

/// Every assertion class in report order.
pub const CLASSES: [Assertion; 6] = [
    Assertion::Present,
    Assertion::Absent,
    Assertion::Possible,
    Assertion::Hypothetical,
    Assertion::Historical,
    Assertion::Family,
];

/// Scores for one class.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassScores {
    /// The class.
    pub class: Assertion,
    /// Gold examples of this class.
    pub support: usize,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// tp / (tp + fp), 0 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn), 0 when there is no gold.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Scores over a labelled set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AssertionScores {
    /// Examples scored.
    pub total: usize,
    /// Fraction predicted exactly right.
    pub accuracy: f64,
    /// Per-class scores in [`CLASSES`] order.
    pub classes: Vec<ClassScores>,
    /// Unweighted mean F1 over classes with gold support.
    pub macro_f1: f64,
}

impl AssertionScores {
    /// Scores `(gold, predicted)` pairs.
    pub fn from_pairs(pairs: &[(Assertion, Assertion)]) -> AssertionScores {
        let classes: Vec<ClassScores> = CLASSES
            .iter()
            .map(|&c| {
                let tp = pairs.iter().filter(|(g, p)| *g == c && *p == c).count();
                let fp = pairs.iter().filter(|(g, p)| *g != c && *p == c).count();
                let fn_ = pairs.iter().filter(|(g, p)| *g == c && *p != c).count();
                let precision = ratio(tp, tp + fp);
                let recall = ratio(tp, tp + fn_);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassScores {
                    class: c,
                    support: tp + fn_,
                    tp,
                    fp,
                    fn_,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect();
        let supported: Vec<&ClassScores> = classes.iter().filter(|c| c.support > 0).collect();
        let macro_f1 = if supported.is_empty() {
            0.0
        } else {
            supported.iter().map(|c| c.f1).sum::<f64>() / supported.len() as f64
        };
        AssertionScores {
            total: pairs.len(),
            accuracy: ratio(pairs.iter().filter(|(g, p)| g == p).count(), pairs.len()),
            classes,
            macro_f1,
        }
    }

    /// Scores for one class.
    pub fn class(&self, c: Assertion) -> &ClassScores {
        self.classes
            .iter()
            .find(|s| s.class == c)
            .expect("every class is scored")
    }

    /// A fixed-width table for terminals.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<13} {:>7} {:>9} {:>7} {:>7}\n",
            "class", "support", "precision", "recall", "f1"
        );
        for c in &self.classes {
            s += &format!(
                "{:<13} {:>7} {:>9.3} {:>7.3} {:>7.3}\n",
                c.class.as_str(),
                c.support,
                c.precision,
                c.recall,
                c.f1
            );
        }
        s += &format!(
            "accuracy {:.3} over {} examples; macro F1 {:.3}\n",
            self.accuracy, self.total, self.macro_f1
        );
        s
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Assertion::*;

    #[test]
    fn precision_recall_f1_by_hand() {
        // absent: tp 2, fp 1, fn 1 → P 2/3, R 2/3.
        let pairs = [
            (Absent, Absent),
            (Absent, Absent),
            (Absent, Present),
            (Present, Absent),
            (Present, Present),
        ];
        let s = AssertionScores::from_pairs(&pairs);
        let ab = s.class(Absent);
        assert_eq!((ab.tp, ab.fp, ab.fn_), (2, 1, 1));
        assert!((ab.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(s.class(Family).support, 0);
        assert!(s.table().contains("absent"));
    }
}
