//! AdamW with decoupled weight decay and bias correction (Loshchilov &
//! Hutter 2019), learning-rate schedules with linear warm-up, and global-norm
//! gradient clipping. State is plain tensors so checkpoints can save it.

use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// AdamW hyperparameters (PyTorch's names and defaults, except the rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// β₁.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// β₂.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// ε.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Decoupled weight decay λ.
    #[serde(default)]
    pub weight_decay: f64,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

/// Learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Constant after warm-up.
    Constant,
    /// Linear decay to 0 at the last step.
    Linear,
    /// Half-cosine decay to 0 at the last step.
    Cosine,
}

/// The multiplier on the peak rate at `step` (0-based) of `total` steps
/// with `warmup` linear warm-up steps (as `transformers.get_*_schedule_with_warmup`).
pub fn lr_factor(schedule: Schedule, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return (step + 1) as f64 / warmup as f64;
    }
    let decay_steps = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / decay_steps).min(1.0);
    match schedule {
        Schedule::Constant => 1.0,
        Schedule::Linear => 1.0 - progress,
        Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
    }
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`;
/// returns the norm before clipping.
pub fn clip_grad_norm(
    params: &[(String, Var)],
    grads: &mut GradStore,
    max_norm: f64,
) -> Result<f64> {
    let mut sq = 0.0f64;
    for (_, v) in params {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_vec0::<f64>()?;
        }
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for (_, v) in params {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * scale)?);
            }
        }
    }
    Ok(norm)
}

/// AdamW over named parameters.
#[derive(Debug)]
pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: u64,
}

impl AdamW {
    /// An optimiser with zero moments for `params`.
    pub fn new(params: Vec<(String, Var)>, cfg: AdamWConfig) -> Result<AdamW> {
        let m = params
            .iter()
            .map(|(_, p)| p.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = params
            .iter()
            .map(|(_, p)| p.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(AdamW {
            cfg,
            params,
            m,
            v,
            step: 0,
        })
    }

    /// Updates taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// One update at learning rate `lr`; parameters without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let c = &self.cfg;
        let t = self.step as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        for (i, (_, p)) in self.params.iter().enumerate() {
            // Gradients can reference the forward graph (backward passes use
            // the forward tensors); detached, the moments cannot chain every
            // step's graph into memory.
            let Some(g) = grads.get(p.as_tensor()).map(Tensor::detach) else {
                continue;
            };
            let g = &g;
            let m = ((&self.m[i] * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            let v = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let update = ((&m / bc1)? / ((&v / bc2)?.sqrt()? + c.eps)?)?;
            let decayed = (p.as_tensor() * (1.0 - lr * c.weight_decay))?;
            p.set(&(decayed - (update * lr)?)?)?;
            self.m[i] = m.detach();
            self.v[i] = v.detach();
        }
        Ok(())
    }

    /// Moments as named tensors (`exp_avg.<name>`, `exp_avg_sq.<name>`) plus the step count.
    pub fn state(&self) -> (HashMap<String, Tensor>, u64) {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.insert(format!("exp_avg.{name}"), self.m[i].clone());
            out.insert(format!("exp_avg_sq.{name}"), self.v[i].clone());
        }
        (out, self.step)
    }

    /// Restores moments saved by [`AdamW::state`].
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, slot) in [("exp_avg", &mut self.m[i]), ("exp_avg_sq", &mut self.v[i])] {
                let key = format!("{prefix}.{name}");
                let t = tensors.get(&key).ok_or_else(|| {
                    Error::Invalid(format!("optimizer state lacks {key:?} — the checkpoint belongs to a different model or LoRA config"))
                })?;
                *slot = t.to_dtype(p.dtype())?.to_device(p.device())?;
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedules_warm_up_then_decay_to_zero() {
        assert_eq!(lr_factor(Schedule::Cosine, 0, 4, 20), 0.25);
        assert_eq!(lr_factor(Schedule::Cosine, 3, 4, 20), 1.0);
        assert_eq!(lr_factor(Schedule::Cosine, 4, 4, 20), 1.0);
        assert!((lr_factor(Schedule::Cosine, 12, 4, 20) - 0.5).abs() < 1e-12);
        assert!(lr_factor(Schedule::Cosine, 20, 4, 20).abs() < 1e-12);
        assert!((lr_factor(Schedule::Linear, 12, 4, 20) - 0.5).abs() < 1e-12);
        assert_eq!(lr_factor(Schedule::Constant, 19, 4, 20), 1.0);
    }

    #[test]
    fn first_adamw_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        // With bias correction the first update is lr·g/(|g|+ε) ≈ lr·sign(g).
        let p = Var::from_slice(&[1.0f64, -2.0, 3.0], 3, &Device::Cpu).unwrap();
        let loss = (p.as_tensor() * Tensor::new(&[2.0f64, -0.5, 0.0], &Device::Cpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let cfg = AdamWConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        let mut opt = AdamW::new(vec![("p".into(), p.clone())], cfg).unwrap();
        opt.step(&grads, 0.1).unwrap();
        let got = p.as_tensor().to_vec1::<f64>().unwrap();
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] + 1.9).abs() < 1e-6 && got[2] == 3.0,
            "{got:?}"
        );
    }

    #[test]
    fn weight_decay_is_decoupled_and_state_round_trips() {
        let p = Var::from_slice(&[1.0f64, 1.0], 2, &Device::Cpu).unwrap();
        let zeros = Tensor::zeros(2, candle_core::DType::F64, &Device::Cpu).unwrap();
        let zero_grad = (p.as_tensor() * zeros)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let cfg = AdamWConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.5,
        };
        let mut opt = AdamW::new(vec![("p".into(), p.clone())], cfg.clone()).unwrap();
        opt.step(&zero_grad, 0.1).unwrap();
        assert_eq!(p.as_tensor().to_vec1::<f64>().unwrap(), vec![0.95, 0.95]);
        let (state, step) = opt.state();
        let mut fresh = AdamW::new(vec![("p".into(), p.clone())], cfg).unwrap();
        fresh.load_state(&state, step).unwrap();
        assert_eq!(fresh.steps_taken(), 1);
        assert!(fresh.load_state(&HashMap::new(), 1).is_err());
    }

    #[test]
    fn moments_do_not_hold_the_forward_graph() {
        // A moment that tracked ops would chain every step's graph (an OOM
        // seen in a 200-step run before this was fixed).
        let w = Var::from_slice(&[0.5f64, -0.5, 1.0, 2.0], (2, 2), &Device::Cpu).unwrap();
        let x = Var::from_slice(&[1.0f64, 2.0], (1, 2), &Device::Cpu).unwrap();
        let cfg = AdamWConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
        };
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], cfg).unwrap();
        for _ in 0..3 {
            let y = crate::ops::linear(x.as_tensor(), w.as_tensor(), None).unwrap();
            let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            opt.step(&grads, 0.1).unwrap();
        }
        let (state, _) = opt.state();
        assert!(
            state.values().all(|t| !t.track_op()),
            "optimizer state references a graph"
        );
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let a = Var::from_slice(&[0.0f64, 0.0], 2, &Device::Cpu).unwrap();
        let b = Var::from_slice(&[0.0f64], 1, &Device::Cpu).unwrap();
        let w1 = Tensor::new(&[3.0f64, 0.0], &Device::Cpu).unwrap();
        let w2 = Tensor::new(&[4.0f64], &Device::Cpu).unwrap();
        let loss = ((a.as_tensor() * w1).unwrap().sum_all().unwrap()
            + (b.as_tensor() * w2).unwrap().sum_all().unwrap())
        .unwrap();
        let mut grads = loss.backward().unwrap();
        let params = vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
        let norm = clip_grad_norm(&params, &mut grads, 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-12);
        let after = clip_grad_norm(&params, &mut grads, 0.0).unwrap();
        assert!((after - 1.0).abs() < 1e-5, "{after}");
    }
}
