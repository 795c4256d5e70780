//! Rényi-DP accountant for DP-SGD: the Poisson-subsampled Gaussian mechanism
//! composed over training steps, converted to (ε, δ), and the inverse
//! (target ε → noise multiplier).
//!
//! The computation follows the published analysis so that our ε matches
//! Google's `dp-accounting` `RdpAccountant` (checked against a fixture made by
//! `interop/dp_accounting/`):
//! - RDP of the sampled Gaussian, integer orders: Mironov, Talwar, Zhang 2019,
//!   "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3 (A_α
//!   as a binomial sum); fractional orders: the same paper's two-sided series
//!   with erfc tails.
//! - RDP → (ε, δ): Canonne, Kamath, Steinke 2020 ("The Discrete Gaussian for
//!   Differential Privacy", Prop. 12), also Asoodeh et al. 2020 eq. 20,
//!   minimised over the order grid.

use crate::Error;
use serde::{Deserialize, Serialize};

/// The order grid `dp-accounting` uses by default: 1.1..=10.9 step 0.1,
/// 11..=63, 128, 256, 512, 1024.
pub fn default_orders() -> Vec<f64> {
    let mut orders: Vec<f64> = (1..100).map(|x| 1.0 + x as f64 / 10.0).collect();
    orders.extend((11..64).map(|x| x as f64));
    orders.extend([128.0, 256.0, 512.0, 1024.0]);
    orders
}

/// DP-SGD parameters: each step samples every patient independently with
/// probability `sampling_rate` and adds Gaussian noise of standard deviation
/// `noise_multiplier` × clipping norm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSgdParams {
    /// Poisson sampling probability q (expected batch / population).
    pub sampling_rate: f64,
    /// σ: noise standard deviation divided by the L2 clipping norm.
    pub noise_multiplier: f64,
    /// Number of noisy gradient steps composed.
    pub steps: u64,
}

/// ε for a δ, with the Rényi order where the bound was tightest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpsilonBound {
    /// ε (may be `f64::INFINITY` when no order gives a finite bound).
    pub epsilon: f64,
    /// δ the bound holds for.
    pub delta: f64,
    /// The Rényi order α that minimised ε.
    pub optimal_order: f64,
}

impl DpSgdParams {
    fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.sampling_rate) || self.sampling_rate.is_nan() {
            return Err(Error::InvalidParameter(format!(
                "sampling_rate {} is outside [0, 1] — it is the probability that one patient is in a batch",
                self.sampling_rate
            )));
        }
        if self.noise_multiplier < 0.0 || self.noise_multiplier.is_nan() {
            return Err(Error::InvalidParameter(format!(
                "noise_multiplier {} is negative — use 0 for no noise or a positive σ",
                self.noise_multiplier
            )));
        }
        Ok(())
    }

    /// RDP ε(α) of the whole run at each order (per-step RDP × steps).
    pub fn rdp(&self, orders: &[f64]) -> Result<Vec<f64>, Error> {
        self.validate()?;
        Ok(orders
            .iter()
            .map(|&alpha| {
                rdp_poisson_subsampled_gaussian(self.sampling_rate, self.noise_multiplier, alpha)
                    * self.steps as f64
            })
            .collect())
    }

    /// ε for `delta` over the default order grid.
    pub fn epsilon(&self, delta: f64) -> Result<EpsilonBound, Error> {
        let orders = default_orders();
        let rdp = self.rdp(&orders)?;
        epsilon_from_rdp(&orders, &rdp, delta)
    }
}

/// Per-step RDP of the Poisson-subsampled Gaussian mechanism at order α.
fn rdp_poisson_subsampled_gaussian(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if alpha.is_infinite() || sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_integer(q, sigma, alpha as u64)
    } else {
        log_a_fractional(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

/// log(e^x + e^y) without overflow.
fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

/// log |C(n, k)| via log-gamma; n may be fractional (then C can be negative,
/// and the series below uses its magnitude, as the reference does).
fn log_binomial(n: f64, k: f64) -> f64 {
    libm::lgamma(n + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0)
}

/// log A_α for integer α: log Σ_i C(α,i) (1−q)^(α−i) q^i exp((i²−i)/(2σ²)).
fn log_a_integer(q: f64, sigma: f64, alpha: u64) -> f64 {
    let log_q = q.ln();
    let log_1mq = (-q).ln_1p();
    let a = alpha as f64;
    (0..=alpha).fold(f64::NEG_INFINITY, |acc, i| {
        let i = i as f64;
        let term = log_binomial(a, i)
            + i * log_q
            + (a - i) * log_1mq
            + (i * i - i) / (2.0 * sigma * sigma);
        log_add(acc, term)
    })
}

/// Series cap for fractional orders; an order that has not converged by then
/// is excluded (ε = ∞ at that order), exactly as the reference does.
const MAX_STEPS_LOG_A_FRAC: usize = 1000;

/// log A_α for fractional α: the integral split at z0 into two series with
/// erfc tails (Mironov, Talwar, Zhang 2019, §3.3).
fn log_a_fractional(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let log_q = q.ln();
    let log_1mq = (-q).ln_1p();
    let (mut last_s0, mut last_s1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let sqrt2_sigma = std::f64::consts::SQRT_2 * sigma;
    for i in 0..MAX_STEPS_LOG_A_FRAC {
        let i = i as f64;
        let log_coef = log_binomial(alpha, i);
        let j = alpha - i;
        let log_t0 = log_coef + i * log_q + j * log_1mq;
        let log_t1 = log_coef + j * log_q + i * log_1mq;
        let log_e0 = 0.5f64.ln() + log_erfc((i - z0) / sqrt2_sigma);
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / sqrt2_sigma);
        let log_s0 = log_t0 + (i * i - i) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        log_a0 = log_add(log_a0, log_s0);
        log_a1 = log_add(log_a1, log_s1);
        let total = log_add(log_a0, log_a1);
        // Stop once both series are decreasing and negligible against the sum.
        if log_s0 < last_s0 && log_s1 < last_s1 && log_s0.max(log_s1) < total - 30.0 {
            return total;
        }
        last_s0 = log_s0;
        last_s1 = log_s1;
    }
    tracing::warn!(
        q,
        sigma,
        alpha,
        "RDP series did not converge; excluding this order from the epsilon bound"
    );
    f64::INFINITY
}

/// log(erfc(x)), accurate in the far tail where erfc underflows.
fn log_erfc(x: f64) -> f64 {
    let r = libm::erfc(x);
    if r > 1e-300 {
        return r.ln();
    }
    // Asymptotic (Laurent) expansion of log erfc at +∞.
    let x2 = x * x;
    -std::f64::consts::PI.ln() / 2.0 - x.ln() - x2 - 0.5 / x2 + 0.625 / (x2 * x2)
        - 37.0 / 24.0 / (x2 * x2 * x2)
        + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
}

/// Converts RDP values at `orders` to the smallest ε for `delta`
/// (Canonne, Kamath, Steinke 2020, Prop. 12).
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> Result<EpsilonBound, Error> {
    if !(0.0..1.0).contains(&delta) {
        return Err(Error::InvalidParameter(format!(
            "delta {delta} must be in [0, 1) — typically below 1/(number of patients)"
        )));
    }
    if orders.len() != rdp.len() || orders.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "{} orders but {} RDP values — they must pair up",
            orders.len(),
            rdp.len()
        )));
    }
    if delta == 0.0 {
        let eps = if rdp.iter().all(|&r| r == 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
        return Ok(EpsilonBound {
            epsilon: eps,
            delta,
            optimal_order: 0.0,
        });
    }
    let mut best = (f64::INFINITY, orders[0]);
    for (&a, &r) in orders.iter().zip(rdp) {
        if a < 1.0 {
            return Err(Error::InvalidParameter(format!(
                "Rényi order {a} is below 1"
            )));
        }
        let eps = if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
            // Negative RDP is numerical noise; tiny RDP bounds δ via KL directly.
            0.0
        } else if a > 1.01 {
            r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
        } else {
            f64::INFINITY
        };
        // Strict `<` keeps the first minimum, like numpy's argmin.
        if eps < best.0 {
            best = (eps, a);
        }
    }
    Ok(EpsilonBound {
        epsilon: best.0.max(0.0),
        delta,
        optimal_order: best.1,
    })
}

/// The smallest noise multiplier σ (to within `1e-4` relative) whose ε at
/// `delta` is at most `target_epsilon`, found by bisection; ε decreases in σ.
pub fn noise_multiplier_for_epsilon(
    target_epsilon: f64,
    delta: f64,
    sampling_rate: f64,
    steps: u64,
) -> Result<f64, Error> {
    if target_epsilon.is_nan() || target_epsilon <= 0.0 {
        return Err(Error::InvalidParameter(format!(
            "target epsilon {target_epsilon} must be positive"
        )));
    }
    let eps_at = |sigma: f64| -> Result<f64, Error> {
        Ok(DpSgdParams {
            sampling_rate,
            noise_multiplier: sigma,
            steps,
        }
        .epsilon(delta)?
        .epsilon)
    };
    // Grow the upper end until it satisfies the target.
    let mut hi = 1.0;
    while eps_at(hi)? > target_epsilon {
        hi *= 2.0;
        if hi > 1e6 {
            return Err(Error::InvalidParameter(format!(
                "no noise multiplier up to 1e6 reaches ε ≤ {target_epsilon} at δ = {delta} with q = {sampling_rate} over {steps} steps — raise the target or take fewer steps"
            )));
        }
    }
    let mut lo = 0.0;
    while (hi - lo) > 1e-4 * hi {
        let mid = 0.5 * (lo + hi);
        if eps_at(mid)? > target_epsilon {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_orders_match_reference_grid() {
        let o = default_orders();
        assert_eq!(o.len(), 99 + 53 + 4);
        assert!((o[0] - 1.1).abs() < 1e-12);
        assert_eq!(o[99], 11.0);
        assert_eq!(*o.last().unwrap(), 1024.0);
    }

    #[test]
    fn full_batch_gaussian_is_alpha_over_two_sigma_squared() {
        let p = DpSgdParams {
            sampling_rate: 1.0,
            noise_multiplier: 2.0,
            steps: 3,
        };
        let rdp = p.rdp(&[2.0, 10.0]).unwrap();
        assert!((rdp[0] - 3.0 * 2.0 / 8.0).abs() < 1e-12);
        assert!((rdp[1] - 3.0 * 10.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn integer_and_fractional_series_agree_near_an_integer() {
        // The fractional series at α = 3 ± tiny must approach the integer sum.
        let int = rdp_poisson_subsampled_gaussian(0.05, 1.0, 3.0);
        let frac = rdp_poisson_subsampled_gaussian(0.05, 1.0, 3.0 + 1e-9);
        assert!((int - frac).abs() / int < 1e-5, "{int} vs {frac}");
    }

    #[test]
    fn more_noise_means_smaller_epsilon() {
        let e = |s| {
            DpSgdParams {
                sampling_rate: 0.01,
                noise_multiplier: s,
                steps: 1000,
            }
            .epsilon(1e-5)
            .unwrap()
            .epsilon
        };
        assert!(e(0.8) > e(1.1));
        assert!(e(1.1) > e(2.0));
    }

    #[test]
    fn inverse_reaches_the_target() {
        let sigma = noise_multiplier_for_epsilon(3.0, 1e-5, 0.01, 2000).unwrap();
        let eps = DpSgdParams {
            sampling_rate: 0.01,
            noise_multiplier: sigma,
            steps: 2000,
        }
        .epsilon(1e-5)
        .unwrap()
        .epsilon;
        assert!(eps <= 3.0 && eps > 2.99, "σ = {sigma} gives ε = {eps}");
        let slightly_less = DpSgdParams {
            sampling_rate: 0.01,
            noise_multiplier: sigma * 0.999,
            steps: 2000,
        }
        .epsilon(1e-5)
        .unwrap()
        .epsilon;
        assert!(slightly_less > 3.0 - 1e-3);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(DpSgdParams {
            sampling_rate: 1.5,
            noise_multiplier: 1.0,
            steps: 1
        }
        .epsilon(1e-5)
        .is_err());
        assert!(DpSgdParams {
            sampling_rate: 0.1,
            noise_multiplier: -1.0,
            steps: 1
        }
        .epsilon(1e-5)
        .is_err());
        assert!(DpSgdParams {
            sampling_rate: 0.1,
            noise_multiplier: 1.0,
            steps: 1
        }
        .epsilon(1.0)
        .is_err());
        assert!(noise_multiplier_for_epsilon(0.0, 1e-5, 0.1, 10).is_err());
    }

    #[test]
    fn no_noise_is_infinite_epsilon() {
        let b = DpSgdParams {
            sampling_rate: 0.1,
            noise_multiplier: 0.0,
            steps: 10,
        }
        .epsilon(1e-5)
        .unwrap();
        assert!(b.epsilon.is_infinite());
    }
}
