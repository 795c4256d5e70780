//! LoRA with PEFT's semantics and names (`r`, `lora_alpha`, `lora_dropout`,
//! `target_modules`, `use_rslora`): W x + (α/r)·B A x, A ~ Kaiming-uniform,
//! B = 0 (Hu et al. 2021; rsLoRA scales by α/√r, Kalajdzievski 2023).

use crate::ops;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Linear layers LoRA may target in a Llama-family decoder.
pub const KNOWN_TARGET_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyperparameters, named as in PEFT's `LoraConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraConfig {
    /// Rank of the update.
    pub r: usize,
    /// Scaling numerator.
    pub lora_alpha: f64,
    /// Dropout on the LoRA input path during training.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Which linear layers get an adapter.
    pub target_modules: Vec<String>,
    /// Scale by α/√r instead of α/r.
    #[serde(default)]
    pub use_rslora: bool,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            r: 16,
            lora_alpha: 32.0,
            lora_dropout: 0.05,
            target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
            use_rslora: false,
        }
    }
}

impl LoraConfig {
    /// The factor applied to B·A.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Checks ranges and module names.
    pub fn validate(&self) -> Result<()> {
        if self.r == 0 || self.r > 4096 {
            return Err(Error::Invalid(format!(
                "lora: r = {} must be in 1..=4096",
                self.r
            )));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(Error::Invalid(format!(
                "lora: lora_dropout = {} must be in [0, 1)",
                self.lora_dropout
            )));
        }
        if self.target_modules.is_empty() {
            return Err(Error::Invalid("lora: target_modules is empty — name at least one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj".into()));
        }
        for m in &self.target_modules {
            if !KNOWN_TARGET_MODULES.contains(&m.as_str()) {
                return Err(Error::Invalid(format!(
                    "lora: target module {m:?} is unknown — choose from {KNOWN_TARGET_MODULES:?}"
                )));
            }
        }
        Ok(())
    }
}

/// A trainable low-rank update `(α/r)·B·A` attached to a frozen linear layer.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// `A`, shape `(r, in)`, Kaiming-uniform initialised.
    pub a: Var,
    /// `B`, shape `(out, r)`, zero initialised so training starts at the base model.
    pub b: Var,
    /// α/r or α/√r.
    pub scaling: f64,
    /// Dropout probability on the adapter's input.
    pub dropout: f64,
}

impl LoraAdapter {
    /// PEFT's initialisation: `A ~ U(−1/√in, 1/√in)` (torch's Kaiming-uniform
    /// with a = √5) and `B = 0`.
    pub fn init(
        cfg: &LoraConfig,
        in_features: usize,
        out_features: usize,
        rng: &mut ChaCha8Rng,
        dtype: DType,
        device: &Device,
    ) -> Result<LoraAdapter> {
        let bound = 1.0 / (in_features as f64).sqrt();
        let a: Vec<f32> = (0..cfg.r * in_features)
            .map(|_| rng.gen_range(-bound..bound) as f32)
            .collect();
        let a = Tensor::from_vec(a, (cfg.r, in_features), device)?.to_dtype(dtype)?;
        let b = Tensor::zeros((out_features, cfg.r), dtype, device)?;
        Ok(LoraAdapter {
            a: Var::from_tensor(&a)?,
            b: Var::from_tensor(&b)?,
            scaling: cfg.scaling(),
            dropout: cfg.lora_dropout,
        })
    }
}

/// A linear layer `x·Wᵀ + b` whose frozen weight may carry a LoRA adapter.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    /// Base weight `(out, in)`; a `Var`'s tensor in full fine-tuning.
    /// Private so that other storage forms (quantised bases) can be added
    /// here without touching the model code.
    weight: Tensor,
    /// Optional bias `(out,)`.
    pub bias: Option<Tensor>,
    /// The adapter, when this module is targeted.
    pub adapter: Option<LoraAdapter>,
}

impl LoraLinear {
    /// A plain linear layer without adapter.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> LoraLinear {
        LoraLinear {
            weight,
            bias,
            adapter: None,
        }
    }

    /// The dense base weight `(out, in)`, when it is stored densely.
    pub fn dense_weight(&self) -> Option<&Tensor> {
        Some(&self.weight)
    }

    /// Turns the base weight into a trainable `Var` (full fine-tuning) and
    /// returns it.
    pub fn make_weight_trainable(&mut self) -> Result<Var> {
        let v = Var::from_tensor(&self.weight)?;
        self.weight = v.as_tensor().clone();
        Ok(v)
    }

    /// Puts the frozen base weight in the storage form `cfg` asks for, once
    /// LoRA is attached (every projection, targeted or not). Dense storage
    /// needs nothing; this is the hook for quantised bases.
    pub fn prepare_frozen_base(&mut self, _cfg: &LoraConfig) -> Result<()> {
        Ok(())
    }

    /// `(in, out)` feature counts.
    pub fn features(&self) -> Result<(usize, usize)> {
        let (out_f, in_f) = self.weight.dims2()?;
        Ok((in_f, out_f))
    }

    /// Applies the layer; `dropout_rng` is `Some` only while training.
    pub fn forward(&self, x: &Tensor, dropout_rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
        let y = ops::linear(x, &self.weight, self.bias.as_ref())?;
        let Some(ad) = &self.adapter else {
            return Ok(y);
        };
        let x = match dropout_rng {
            Some(rng) if ad.dropout > 0.0 => {
                let keep = 1.0 - ad.dropout;
                let mask: Vec<f32> = (0..x.elem_count())
                    .map(|_| {
                        if rng.gen::<f64>() < keep {
                            (1.0 / keep) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                (x * mask)?
            }
            _ => x.clone(),
        };
        let update = ops::linear(
            &ops::linear(&x, ad.a.as_tensor(), None)?,
            ad.b.as_tensor(),
            None,
        )?;
        Ok((y + (update * ad.scaling)?)?)
    }

    /// `W + (α/r)·B·A`: the weight with the adapter folded in.
    pub fn merged_weight(&self) -> Result<Tensor> {
        match &self.adapter {
            None => Ok(self.weight.clone()),
            Some(ad) => {
                Ok((&self.weight + (ad.b.as_tensor().matmul(ad.a.as_tensor())? * ad.scaling)?)?)
            }
        }
    }
}

/// A seeded generator for LoRA initialisation and dropout.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_follows_peft() {
        let mut c = LoraConfig::default();
        assert_eq!(c.scaling(), 2.0);
        c.use_rslora = true;
        assert_eq!(c.scaling(), 32.0 / 4.0);
    }

    #[test]
    fn rejects_unknown_modules_and_bad_ranks() {
        let mut c = LoraConfig::default();
        c.target_modules.push("lm_head".into());
        assert!(c.validate().unwrap_err().to_string().contains("lm_head"));
        let c = LoraConfig {
            r: 0,
            ..LoraConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn init_follows_peft() {
        let cfg = LoraConfig {
            r: 4,
            ..LoraConfig::default()
        };
        let ad =
            LoraAdapter::init(&cfg, 64, 8, &mut seeded_rng(1), DType::F32, &Device::Cpu).unwrap();
        let a =
            ad.a.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
        assert!(a.iter().all(|v| v.abs() <= 1.0 / 8.0));
        assert!(a.iter().any(|v| v.abs() > 0.1), "A should fill its range");
        assert_eq!(
            ad.b.as_tensor()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_vec0::<f32>()
                .unwrap(),
            0.0
        );
        let again =
            LoraAdapter::init(&cfg, 64, 8, &mut seeded_rng(1), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            again
                .a
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            a,
            "same seed, same A"
        );
    }
}
