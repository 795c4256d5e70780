//! Membership-inference scores and how well they separate members (training
//! notes) from non-members (held-out patients): ROC curve, AUC, TPR at a
//! fixed low FPR, and seeded bootstrap confidence intervals.
//!
//! A score is "higher means more likely a member". Two attacks:
//! - loss ratio (the sponsor holds the base model): S(x) = L_base(x) − L_adapter(x)
//!   (Carlini et al. 2022, "Membership Inference Attacks From First Principles",
//!   reference-model calibration);
//! - Min-K% Prob (Shi et al. 2024, "Detecting Pretraining Data from Large
//!   Language Models"): the mean log-probability of the k% least likely tokens.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Loss-ratio score S(x) = L_base(x) − L_adapter(x): how much fine-tuning
/// lowered the loss on x. Losses are mean per-token negative log-likelihoods.
pub fn loss_ratio_score(base_loss: f64, adapter_loss: f64) -> f64 {
    base_loss - adapter_loss
}

/// Min-K% Prob: the mean of the lowest `k` fraction (0 < k ≤ 1) of the
/// per-token log-probabilities (at least one token). NaN for an empty text.
pub fn min_k_percent(token_logprobs: &[f64], k: f64) -> f64 {
    if token_logprobs.is_empty() {
        return f64::NAN;
    }
    let mut sorted = token_logprobs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = ((sorted.len() as f64 * k).ceil() as usize).clamp(1, sorted.len());
    sorted[..n].iter().sum::<f64>() / n as f64
}

/// Averages note scores per patient (the unit a user-level guarantee
/// protects). Returns the per-patient means in patient-key order.
pub fn aggregate_by_patient(scores: &[(String, f64)]) -> Vec<f64> {
    let mut groups: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (patient, s) in scores {
        let e = groups.entry(patient.as_str()).or_insert((0.0, 0));
        e.0 += s;
        e.1 += 1;
    }
    groups.values().map(|(sum, n)| sum / *n as f64).collect()
}

/// One operating point of a score threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// False-positive rate: non-members flagged as members.
    pub fpr: f64,
    /// True-positive rate: members flagged as members.
    pub tpr: f64,
}

/// A ROC curve from (0,0) to (1,1); ties in score form one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roc {
    /// Points in increasing FPR order.
    pub points: Vec<RocPoint>,
}

impl Roc {
    /// Builds the curve by sweeping a threshold from the highest score down.
    /// NaN scores are ignored.
    pub fn new(members: &[f64], nonmembers: &[f64]) -> Roc {
        let mut all: Vec<(f64, bool)> = members
            .iter()
            .map(|&s| (s, true))
            .chain(nonmembers.iter().map(|&s| (s, false)))
            .filter(|(s, _)| !s.is_nan())
            .collect();
        let p = all.iter().filter(|(_, m)| *m).count() as f64;
        let n = all.len() as f64 - p;
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut points = vec![RocPoint { fpr: 0.0, tpr: 0.0 }];
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut i = 0;
        while i < all.len() {
            let s = all[i].0;
            while i < all.len() && all[i].0 == s {
                if all[i].1 {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
                i += 1;
            }
            points.push(RocPoint {
                fpr: if n > 0.0 { fp / n } else { 0.0 },
                tpr: if p > 0.0 { tp / p } else { 0.0 },
            });
        }
        Roc { points }
    }

    /// Area under the curve (trapezoids; equals the Mann–Whitney probability
    /// that a member outscores a non-member, ties counted half).
    pub fn auc(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum()
    }

    /// The best TPR at any threshold whose FPR is at most `max_fpr`.
    pub fn tpr_at_fpr(&self, max_fpr: f64) -> f64 {
        self.points
            .iter()
            .filter(|p| p.fpr <= max_fpr + 1e-12)
            .map(|p| p.tpr)
            .fold(0.0, f64::max)
    }

    /// At most `max_points` points spread along the curve (for JSON and plots),
    /// always keeping the two ends.
    pub fn thinned(&self, max_points: usize) -> Roc {
        if self.points.len() <= max_points || max_points < 2 {
            return self.clone();
        }
        let last = self.points.len() - 1;
        let points = (0..max_points)
            .map(|k| self.points[k * last / (max_points - 1)])
            .collect();
        Roc { points }
    }
}

/// A point estimate with a bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Value on the full sample.
    pub value: f64,
    /// Lower end of the 95% bootstrap percentile interval.
    pub ci_low: f64,
    /// Upper end of the 95% bootstrap percentile interval.
    pub ci_high: f64,
}

/// How one attack separates members from non-members at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// `loss_ratio` or `min_k_20`.
    pub attack: String,
    /// `note` or `patient`.
    pub level: String,
    /// Number of member units scored.
    pub members: usize,
    /// Number of non-member units scored.
    pub nonmembers: usize,
    /// ROC AUC (0.5 = chance).
    pub auc: Estimate,
    /// TPR at FPR ≤ 0.1%. With fewer than 1000 non-members this means "at
    /// zero false positives", a stricter reading.
    pub tpr_at_0_1pct_fpr: Estimate,
    /// TPR at FPR ≤ 1%.
    pub tpr_at_1pct_fpr: Estimate,
    /// The ROC curve, thinned to at most 200 points.
    pub roc: Roc,
}

/// Evaluates one attack's scores, with `resamples` bootstrap draws from a
/// ChaCha20 generator seeded with `seed` (same seed → same intervals).
pub fn evaluate_attack(
    attack: &str,
    level: &str,
    members: &[f64],
    nonmembers: &[f64],
    resamples: usize,
    seed: u64,
) -> AttackResult {
    let roc = Roc::new(members, nonmembers);
    let figures = |r: &Roc| [r.auc(), r.tpr_at_fpr(0.001), r.tpr_at_fpr(0.01)];
    let full = figures(&roc);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut draws: [Vec<f64>; 3] = Default::default();
    if !members.is_empty() && !nonmembers.is_empty() {
        for _ in 0..resamples {
            let m: Vec<f64> = (0..members.len())
                .map(|_| members[rng.gen_range(0..members.len())])
                .collect();
            let n: Vec<f64> = (0..nonmembers.len())
                .map(|_| nonmembers[rng.gen_range(0..nonmembers.len())])
                .collect();
            for (d, v) in draws.iter_mut().zip(figures(&Roc::new(&m, &n))) {
                d.push(v);
            }
        }
    }
    let estimate = |value: f64, d: &mut Vec<f64>| {
        if d.is_empty() {
            return Estimate {
                value,
                ci_low: value,
                ci_high: value,
            };
        }
        d.sort_by(f64::total_cmp);
        Estimate {
            value,
            ci_low: percentile(d, 0.025),
            ci_high: percentile(d, 0.975),
        }
    };
    let [d_auc, d_low, d_one] = &mut draws;
    AttackResult {
        attack: attack.to_string(),
        level: level.to_string(),
        members: members.len(),
        nonmembers: nonmembers.len(),
        auc: estimate(full[0], d_auc),
        tpr_at_0_1pct_fpr: estimate(full[1], d_low),
        tpr_at_1pct_fpr: estimate(full[2], d_one),
        roc: roc.thinned(200),
    }
}

/// Linear-interpolated percentile of sorted data (numpy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_separation() {
        let roc = Roc::new(&[3.0, 4.0, 5.0], &[0.0, 1.0, 2.0]);
        assert_eq!(roc.auc(), 1.0);
        assert_eq!(roc.tpr_at_fpr(0.0), 1.0);
    }

    #[test]
    fn identical_distributions_are_chance() {
        let s: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let roc = Roc::new(&s, &s);
        assert!((roc.auc() - 0.5).abs() < 1e-12);
        // Every threshold that flags a member also flags the tied non-member.
        assert_eq!(roc.tpr_at_fpr(0.001), 0.0);
    }

    #[test]
    fn auc_equals_mann_whitney() {
        let m = [0.9, 0.4, 0.7, 0.7, 0.2];
        let n = [0.1, 0.7, 0.3, 0.5];
        let mut wins = 0.0;
        for a in m {
            for b in n {
                wins += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let expect = wins / (m.len() * n.len()) as f64;
        assert!((Roc::new(&m, &n).auc() - expect).abs() < 1e-12);
    }

    #[test]
    fn tpr_at_fpr_picks_best_threshold_below_the_rate() {
        // Scores: members 10, 9, 1; non-members 8, 0. At FPR 0 we catch 2/3.
        let roc = Roc::new(&[10.0, 9.0, 1.0], &[8.0, 0.0]);
        assert!((roc.tpr_at_fpr(0.0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((roc.tpr_at_fpr(0.5) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn min_k_takes_the_least_likely_tokens() {
        let lp = [-0.1, -5.0, -0.2, -3.0, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1];
        // 20% of 10 tokens = the two lowest: −5 and −3.
        assert!((min_k_percent(&lp, 0.2) - (-4.0)).abs() < 1e-12);
        assert!(min_k_percent(&[], 0.2).is_nan());
        assert_eq!(min_k_percent(&[-2.0], 0.2), -2.0);
    }

    #[test]
    fn patient_aggregation_averages_notes() {
        let s = vec![
            ("p1".to_string(), 1.0),
            ("p2".to_string(), 4.0),
            ("p1".to_string(), 3.0),
        ];
        assert_eq!(aggregate_by_patient(&s), vec![2.0, 4.0]);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let m: Vec<f64> = (0..60).map(|i| (i % 17) as f64 + 2.0).collect();
        let n: Vec<f64> = (0..60).map(|i| (i % 13) as f64).collect();
        let a = evaluate_attack("loss_ratio", "note", &m, &n, 100, 7);
        let b = evaluate_attack("loss_ratio", "note", &m, &n, 100, 7);
        let c = evaluate_attack("loss_ratio", "note", &m, &n, 100, 8);
        assert_eq!(a, b);
        assert_ne!(a.auc.ci_low, c.auc.ci_low);
        assert!(a.auc.ci_low <= a.auc.value && a.auc.value <= a.auc.ci_high);
        assert!(a.auc.ci_high - a.auc.ci_low > 0.0);
    }

    #[test]
    fn thinning_keeps_ends() {
        let s: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let t: Vec<f64> = (0..1000).map(|i| i as f64 + 0.5).collect();
        let roc = Roc::new(&s, &t).thinned(50);
        assert_eq!(roc.points.len(), 50);
        assert_eq!(roc.points[0], RocPoint { fpr: 0.0, tpr: 0.0 });
        assert_eq!(*roc.points.last().unwrap(), RocPoint { fpr: 1.0, tpr: 1.0 });
    }
}
