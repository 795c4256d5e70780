//! Deterministic patient-level splits: patients are ordered by a keyed hash
//! of (seed, patient key) and cut by the ratios, so the same seed and the
//! same patients always give the same splits, and a patient is in one split.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data.
    Train,
    /// Held out for model selection.
    Validation,
    /// Held out for the final evaluation.
    Test,
}

impl Split {
    /// All splits in file order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    /// File stem (`train`, `validation`, `test`).
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// Assigns each distinct patient to one split. `ratios` are train,
/// validation, test shares (normalised; each non-zero share gets at least
/// one patient when there are enough patients).
pub fn assign_splits<'a>(
    patients: impl IntoIterator<Item = &'a str>,
    seed: u64,
    ratios: [f64; 3],
) -> BTreeMap<String, Split> {
    let mut keyed: Vec<([u8; 32], &str)> = patients
        .into_iter()
        .map(|p| {
            let mut h = Sha256::new();
            h.update(seed.to_le_bytes());
            h.update(p.as_bytes());
            (h.finalize().into(), p)
        })
        .collect();
    keyed.sort();
    keyed.dedup_by(|a, b| a.1 == b.1);
    let n = keyed.len();
    let total: f64 = ratios.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let n_val = ((ratios[1] / total) * n as f64).round() as usize;
    let n_test = ((ratios[2] / total) * n as f64).round() as usize;
    let n_val = if ratios[1] > 0.0 && n >= 3 {
        n_val.max(1)
    } else {
        n_val
    };
    let n_test = if ratios[2] > 0.0 && n >= 3 {
        n_test.max(1)
    } else {
        n_test
    };
    let n_train = n.saturating_sub(n_val + n_test);
    keyed
        .into_iter()
        .enumerate()
        .map(|(i, (_, p))| {
            let s = if i < n_train {
                Split::Train
            } else if i < n_train + n_val {
                Split::Validation
            } else {
                Split::Test
            };
            (p.to_string(), s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_split_and_ratios_hold() {
        let pats: Vec<String> = (0..1000).map(|i| format!("pat-{i}")).collect();
        let a = assign_splits(pats.iter().map(String::as_str), 7, [0.8, 0.1, 0.1]);
        let b = assign_splits(pats.iter().rev().map(String::as_str), 7, [0.8, 0.1, 0.1]);
        assert_eq!(a, b, "input order must not matter");
        let count = |s| a.values().filter(|&&x| x == s).count();
        assert_eq!(
            (
                count(Split::Train),
                count(Split::Validation),
                count(Split::Test)
            ),
            (800, 100, 100)
        );
        let c = assign_splits(pats.iter().map(String::as_str), 8, [0.8, 0.1, 0.1]);
        assert_ne!(a, c, "a different seed reshuffles");
    }

    #[test]
    fn tiny_cohorts_still_fill_every_split() {
        let a = assign_splits(["a", "b", "c"], 1, [0.8, 0.1, 0.1]);
        for s in Split::ALL {
            assert_eq!(a.values().filter(|&&x| x == s).count(), 1);
        }
    }
}
