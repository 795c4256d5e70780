//! User-level DP-SGD as plain math on gradient vectors (Abadi et al. 2016,
//! "Deep Learning with Differential Privacy", with the patient as the unit as
//! in McMahan et al. 2018, "Learning Differentially Private Recurrent
//! Language Models"). The training engine computes each sampled patient's
//! total gradient (sum over that patient's examples) and hands it here as one
//! `Vec<f32>` per trainable parameter; this module samples patients, clips,
//! sums, adds Gaussian noise and averages. The accountant in this crate then
//! gives ε for the same (q, σ, steps).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};

/// A gradient: one flat vector per trainable parameter, in a fixed order.
pub type Gradient = Vec<Vec<f32>>;

/// One DP-SGD step's privatisation: Poisson sampling rate q, clipping norm C
/// and noise multiplier σ, with a seeded generator (same seed → same noise).
pub struct DpSgdStep {
    /// Probability that each patient joins a step's batch.
    pub sampling_rate: f64,
    /// L2 bound C on one patient's total gradient.
    pub clip_norm: f64,
    /// σ: the noise standard deviation is σ·C.
    pub noise_multiplier: f64,
    rng: ChaCha20Rng,
}

/// L2 norm over every parameter of a gradient.
pub fn global_norm(g: &Gradient) -> f64 {
    g.iter()
        .flatten()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Scales `g` so its global L2 norm is at most `clip_norm`; returns the norm
/// before clipping.
pub fn clip_to_norm(g: &mut Gradient, clip_norm: f64) -> f64 {
    let norm = global_norm(g);
    if norm > clip_norm && norm > 0.0 {
        let scale = (clip_norm / norm) as f32;
        g.iter_mut().flatten().for_each(|x| *x *= scale);
    }
    norm
}

impl DpSgdStep {
    /// A privatiser seeded with `seed`.
    pub fn new(sampling_rate: f64, clip_norm: f64, noise_multiplier: f64, seed: u64) -> DpSgdStep {
        DpSgdStep {
            sampling_rate,
            clip_norm,
            noise_multiplier,
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// Poisson sampling: each of `patients` patients is in the batch
    /// independently with probability q. Returns the chosen indices (may be
    /// empty — the step still adds noise, as the analysis assumes).
    pub fn sample_patients(&mut self, patients: usize) -> Vec<usize> {
        (0..patients)
            .filter(|_| self.rng.gen::<f64>() < self.sampling_rate)
            .collect()
    }

    /// Clips each patient's gradient to C, sums, adds N(0, (σC)²) to every
    /// coordinate and divides by the expected batch size q·`population`
    /// (fixed, so the batch size leaks nothing). `shapes` gives each
    /// parameter's length, used when no patient was sampled.
    pub fn privatise(
        &mut self,
        per_patient: Vec<Gradient>,
        shapes: &[usize],
        population: usize,
    ) -> Gradient {
        let mut sum: Gradient = shapes.iter().map(|&n| vec![0.0f32; n]).collect();
        for mut g in per_patient {
            clip_to_norm(&mut g, self.clip_norm);
            for (acc, p) in sum.iter_mut().zip(&g) {
                acc.iter_mut().zip(p).for_each(|(a, x)| *a += x);
            }
        }
        let std = self.noise_multiplier * self.clip_norm;
        let denom = (self.sampling_rate * population as f64).max(1.0);
        for x in sum.iter_mut().flatten() {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            *x = ((f64::from(*x) + std * z) / denom) as f32;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_bounds_the_norm_and_keeps_small_gradients() {
        let mut g = vec![vec![3.0, 4.0], vec![12.0]];
        assert_eq!(clip_to_norm(&mut g, 1.0), 13.0);
        assert!((global_norm(&g) - 1.0).abs() < 1e-6);
        let mut small = vec![vec![0.3, 0.4]];
        clip_to_norm(&mut small, 1.0);
        assert_eq!(small, vec![vec![0.3, 0.4]]);
    }

    #[test]
    fn noise_has_the_calibrated_spread_and_is_seeded() {
        // No patients: the output is pure noise / (q·N); its std must be σC/(qN).
        let (q, c, sigma, n) = (0.1, 2.0, 1.5, 100);
        let mut step = DpSgdStep::new(q, c, sigma, 9);
        let out = step.privatise(Vec::new(), &[20_000], n);
        let v: Vec<f64> = out[0].iter().map(|&x| f64::from(x)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let expect = sigma * c / (q * n as f64);
        assert!((sd - expect).abs() / expect < 0.03, "sd {sd} vs {expect}");
        assert!(mean.abs() < 0.05 * expect);
        let again = DpSgdStep::new(q, c, sigma, 9).privatise(Vec::new(), &[20_000], n);
        assert_eq!(out, again);
    }

    #[test]
    fn one_patient_cannot_move_the_sum_by_more_than_c() {
        // Without noise, adding one huge patient changes the sum by at most C.
        let mut a = DpSgdStep::new(1.0, 1.0, 0.0, 1);
        let base = a.privatise(vec![vec![vec![0.5, 0.0]]], &[2], 1);
        let mut b = DpSgdStep::new(1.0, 1.0, 0.0, 1);
        let with = b.privatise(
            vec![vec![vec![0.5, 0.0]], vec![vec![1000.0, 1000.0]]],
            &[2],
            1,
        );
        let diff: Gradient = vec![with[0].iter().zip(&base[0]).map(|(x, y)| x - y).collect()];
        assert!(global_norm(&diff) <= 1.0 + 1e-6);
    }

    #[test]
    fn poisson_sampling_rate_is_respected() {
        let mut step = DpSgdStep::new(0.2, 1.0, 1.0, 4);
        let total: usize = (0..200).map(|_| step.sample_patients(100).len()).sum();
        let rate = total as f64 / 20_000.0;
        assert!((rate - 0.2).abs() < 0.01, "{rate}");
    }
}
