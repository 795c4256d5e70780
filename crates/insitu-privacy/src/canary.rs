//! Canaries: random secret sentences inserted into training a known number of
//! times, and their exposure after training (Carlini et al. 2019, "The Secret
//! Sharer"): exposure = log2|R| − log2 rank, where rank is the canary's place
//! among all candidate secrets R ordered by the model's loss.
//!
//! Secrets are fake NHS-style numbers in the 999 range that NHS England keeps
//! for testing, so a canary can never be a real patient's number.

use crate::suite::LossOracle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// Random digits after the fixed `999` prefix; |R| = 10^SECRET_DIGITS.
const SECRET_DIGITS: u32 = 7;

/// Hand-written words that make each canary's carrier sentence distinct.
const CARRIER_WORDS: &[&str] = &[
    "amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbour", "indigo",
    "juniper", "kestrel", "lantern", "meadow", "nimbus", "orchard", "pebble", "quartz", "russet",
    "saffron", "thistle", "umber", "violet", "willow", "yarrow",
];

/// One inserted secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// Stable id (`canary-<n>`).
    pub id: String,
    /// The sentence before the secret, e.g. `Record amber-kestrel: NHS number`.
    pub prefix: String,
    /// The secret digits after `999`, as spaced in the sentence (`123 4567`).
    pub secret: String,
    /// How many copies were put into the training data.
    pub repetitions: u32,
}

impl Canary {
    /// The full sentence for a given secret (the true one or a candidate).
    pub fn sentence_with(&self, secret: &str) -> String {
        format!("{} 999 {}.", self.prefix, secret)
    }

    /// The sentence that is inserted into the training data.
    pub fn sentence(&self) -> String {
        self.sentence_with(&self.secret)
    }

    /// The training lines for this canary: the sentence `repetitions` times.
    pub fn training_lines(&self) -> Vec<String> {
        vec![self.sentence(); self.repetitions as usize]
    }
}

/// Formats `n` (< 10^7) as the spaced secret `ddd dddd`.
fn format_secret(n: u64) -> String {
    let digits = format!("{n:0width$}", width = SECRET_DIGITS as usize);
    format!("{} {}", &digits[..3], &digits[3..])
}

/// Makes `per_count` canaries for each repetition count (the default
/// counts are 1, 2, 4, 8), deterministically from `seed`.
pub fn generate_canaries(seed: u64, repetition_counts: &[u32], per_count: usize) -> Vec<Canary> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let space = 10u64.pow(SECRET_DIGITS);
    let mut out = Vec::new();
    for &reps in repetition_counts {
        for _ in 0..per_count {
            let n = out.len();
            let a = CARRIER_WORDS[rng.gen_range(0..CARRIER_WORDS.len())];
            let b = CARRIER_WORDS[rng.gen_range(0..CARRIER_WORDS.len())];
            out.push(Canary {
                id: format!("canary-{n}"),
                prefix: format!("Record {a}-{b}-{n}: the NHS number is"),
                secret: format_secret(rng.gen_range(0..space)),
                repetitions: reps,
            });
        }
    }
    out
}

/// How a canary's rank was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankMethod {
    /// Fraction of sampled candidates with a lower loss, scaled to |R|.
    Sampled,
    /// No sampled candidate beat the canary: the tail was extrapolated from a
    /// normal fit to the candidate losses (Carlini et al. 2019, §4.3 use a
    /// skew-normal; a normal is the simpler, documented choice here).
    NormalTail,
}

/// Exposure of one canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryExposure {
    /// Canary id.
    pub id: String,
    /// Copies inserted in training.
    pub repetitions: u32,
    /// log2|R| − log2 rank, in bits (0 = no more likely than a random guess,
    /// log2|R| = the model ranks the true secret first).
    pub exposure: f64,
    /// log2|R|.
    pub max_exposure: f64,
    /// How the rank was estimated.
    pub method: RankMethod,
    /// Candidates scored.
    pub candidates: usize,
}

/// Estimates each canary's exposure by scoring `candidates` random other
/// secrets with the model's loss (seeded).
pub fn measure_exposure(
    model: &dyn LossOracle,
    canaries: &[Canary],
    candidates: usize,
    seed: u64,
) -> Vec<CanaryExposure> {
    let space = 10u64.pow(SECRET_DIGITS);
    let log2_space = (space as f64).log2();
    // A rank needs something to rank against.
    let candidates = candidates.max(2);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    canaries
        .iter()
        .map(|c| {
            let mut texts = vec![c.sentence()];
            while texts.len() < candidates + 1 {
                let s = format_secret(rng.gen_range(0..space));
                if s != c.secret {
                    texts.push(c.sentence_with(&s));
                }
            }
            let losses = model.losses(&texts);
            let (own, others) = (losses[0], &losses[1..]);
            let lower: f64 = others
                .iter()
                .map(|&l| {
                    if l < own {
                        1.0
                    } else if l == own {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum();
            let (fraction, method) = if lower > 0.0 {
                (lower / others.len() as f64, RankMethod::Sampled)
            } else {
                (normal_lower_tail(own, others), RankMethod::NormalTail)
            };
            let rank = 1.0 + fraction * (space - 1) as f64;
            CanaryExposure {
                id: c.id.clone(),
                repetitions: c.repetitions,
                exposure: (log2_space - rank.log2()).max(0.0),
                max_exposure: log2_space,
                method,
                candidates: others.len(),
            }
        })
        .collect()
}

/// P(L ≤ x) under a normal fitted to `sample`.
fn normal_lower_tail(x: f64, sample: &[f64]) -> f64 {
    let n = sample.len() as f64;
    let mean = sample.iter().sum::<f64>() / n;
    let var = sample.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    if var <= 0.0 {
        return if x < mean { 0.0 } else { 1.0 };
    }
    0.5 * libm::erfc(-(x - mean) / (var.sqrt() * std::f64::consts::SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Memorised {
        secret_sentence: String,
    }
    impl LossOracle for Memorised {
        fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
            // The memorised sentence is far likelier; the rest vary a little
            // by their text so ranks are well defined.
            texts
                .iter()
                .map(|t| {
                    if *t == self.secret_sentence {
                        vec![-0.1; 4]
                    } else {
                        let wiggle = (t.bytes().map(u64::from).sum::<u64>() % 97) as f64 / 100.0;
                        vec![-3.0 - wiggle; 4]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn canaries_are_deterministic_and_fake() {
        let a = generate_canaries(5, &[1, 2, 4, 8], 2);
        assert_eq!(a, generate_canaries(5, &[1, 2, 4, 8], 2));
        assert_ne!(a, generate_canaries(6, &[1, 2, 4, 8], 2));
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|c| c.sentence().contains(" 999 ")));
        assert_eq!(a[7].training_lines().len(), 8);
    }

    #[test]
    fn memorised_canary_has_high_exposure_and_unseen_has_low() {
        let canaries = generate_canaries(1, &[8], 2);
        let model = Memorised {
            secret_sentence: canaries[0].sentence(),
        };
        let e = measure_exposure(&model, &canaries, 300, 3);
        assert!(e[0].exposure > 15.0, "{e:?}");
        assert_eq!(e[0].method, RankMethod::NormalTail);
        // The second canary is scored like every other candidate.
        assert!(e[1].exposure < 8.0, "{e:?}");
        assert_eq!(e[1].method, RankMethod::Sampled);
    }
}
