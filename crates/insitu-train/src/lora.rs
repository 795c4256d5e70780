//! LoRA with PEFT's semantics and names (`r`, `lora_alpha`, `lora_dropout`,
//! `target_modules`, `use_rslora`): W x + (α/r)·B A x, A ~ Kaiming-uniform,
//! B = 0 (Hu et al. 2021; rsLoRA scales by α/√r, Kalajdzievski 2023).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Linear layers LoRA may target in a Llama-family decoder.
pub const KNOWN_TARGET_MODULES: [&str; 7] = [
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
];

/// LoRA hyperparameters, named as in PEFT's `LoraConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            return Err(Error::Invalid(format!("lora: r = {} must be in 1..=4096", self.r)));
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
        let c = LoraConfig { r: 0, ..LoraConfig::default() };
        assert!(c.validate().is_err());
    }
}
