//! Model configuration as Hugging Face writes it in `config.json` for the
//! Llama family (Llama 2/3, Mistral, Qwen2, SmolLM2), with limits checked
//! before any tensor is allocated.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// `eos_token_id` is a single id in most configs and a list in Llama 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// One id.
    One(u32),
    /// Several ids, any of which ends generation.
    Many(Vec<u32>),
}

impl TokenIds {
    /// All ids as a list.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(i) => vec![*i],
            TokenIds::Many(v) => v.clone(),
        }
    }
}

/// `rope_scaling` as HF spells it (`rope_type` or the older `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// `llama3`, `linear`, `dynamic`, `default`.
    #[serde(alias = "type")]
    pub rope_type: String,
    /// Scaling factor.
    pub factor: f64,
    /// Llama 3: low-frequency factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_freq_factor: Option<f64>,
    /// Llama 3: high-frequency factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_freq_factor: Option<f64>,
    /// Llama 3: context length the model was pretrained with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_max_position_embeddings: Option<usize>,
}

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_hidden_act() -> String {
    "silu".to_string()
}
fn default_max_pos() -> usize {
    2048
}

/// A Llama-family decoder's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// `llama`, `mistral` or `qwen2`.
    pub model_type: String,
    /// e.g. `["LlamaForCausalLM"]`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Vocabulary size (rows of the embedding matrix).
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to the query heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width when not `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// Longest sequence the positions are defined for.
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE scaling, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<RopeScaling>,
    /// Output projection shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v/o projections (Qwen2 has q/k/v bias without this key).
    #[serde(default)]
    pub attention_bias: bool,
    /// Bias on MLP projections.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation; only `silu` is supported.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Beginning-of-sequence id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<u32>,
    /// End-of-sequence id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<TokenIds>,
    /// Padding id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<u32>,
    /// Stored dtype (`float32`, `bfloat16`, …), informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
}

/// Upper bounds that keep a hostile config from exhausting the appliance.
pub const MAX_HIDDEN: usize = 16_384;
/// Largest accepted layer count.
pub const MAX_LAYERS: usize = 256;
/// Largest accepted vocabulary.
pub const MAX_VOCAB: usize = 1_048_576;
/// Largest accepted context.
pub const MAX_POSITIONS: usize = 1_048_576;

impl LlamaConfig {
    /// Key/value heads (defaults to the query heads).
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }
    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }
    /// Whether q/k/v projections carry a bias (Qwen2 always does).
    pub fn qkv_bias(&self) -> bool {
        self.attention_bias || self.model_type == "qwen2"
    }
    /// Whether the output projection carries a bias (Qwen2: no, unless attention_bias).
    pub fn o_bias(&self) -> bool {
        self.attention_bias
    }

    /// Checks the config against supported architectures and limits; the
    /// error names the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, msg: String| {
            Err(Error::Invalid(format!(
                "config.json: field {field:?}: {msg}"
            )))
        };
        if !matches!(self.model_type.as_str(), "llama" | "mistral" | "qwen2") {
            return bad(
                "model_type",
                format!("{:?} is not supported — insitu trains Llama-family decoders (llama, mistral, qwen2)", self.model_type),
            );
        }
        if self.hidden_act != "silu" {
            return bad(
                "hidden_act",
                format!("{:?} is not supported (only silu)", self.hidden_act),
            );
        }
        for (field, v, max) in [
            ("hidden_size", self.hidden_size, MAX_HIDDEN),
            ("intermediate_size", self.intermediate_size, 4 * MAX_HIDDEN),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, 1024),
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_POSITIONS,
            ),
        ] {
            if v == 0 || v > max {
                return bad(field, format!("{v} is outside 1..={max}"));
            }
        }
        let kv = self.kv_heads();
        if kv == 0 || !self.num_attention_heads.is_multiple_of(kv) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{kv} must divide num_attention_heads ({})",
                    self.num_attention_heads
                ),
            );
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "hidden_size",
                format!(
                    "{} is not divisible by num_attention_heads ({})",
                    self.hidden_size, self.num_attention_heads
                ),
            );
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(
                "head_dim",
                format!("{} must be even for rotary embeddings", self.head_dim()),
            );
        }
        if !(self.rms_norm_eps > 0.0 && self.rms_norm_eps < 1.0) {
            return bad(
                "rms_norm_eps",
                format!("{} must be in (0, 1)", self.rms_norm_eps),
            );
        }
        if self.rope_theta.is_nan() || self.rope_theta <= 0.0 {
            return bad(
                "rope_theta",
                format!("{} must be positive", self.rope_theta),
            );
        }
        Ok(())
    }

    /// Parses and validates a `config.json` text. transformers 5 writes the
    /// RoPE settings as `rope_parameters: {rope_theta, rope_type, factor, …}`
    /// instead of top-level `rope_theta` / `rope_scaling`; both spellings are
    /// read, and a file that gives two different values is refused rather
    /// than silently using one (a wrong RoPE base still produces fluent-looking
    /// but different logits).
    pub fn from_json(text: &str) -> Result<LlamaConfig> {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if let Some(obj) = value.as_object_mut() {
            if let Some(params) = obj.get("rope_parameters").cloned() {
                lift_rope_parameters(obj, &params)?;
            }
        }
        let cfg: LlamaConfig = serde_json::from_value(value)?;
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Moves transformers 5's `rope_parameters` into `rope_theta` and
/// `rope_scaling`, refusing contradictions.
fn lift_rope_parameters(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    params: &serde_json::Value,
) -> Result<()> {
    use serde_json::Value;
    let Some(p) = params.as_object() else {
        return match params {
            Value::Null => Ok(()),
            _ => Err(Error::Invalid(
                "config.json: field \"rope_parameters\": must be an object {rope_theta, rope_type, …}".into(),
            )),
        };
    };
    if let Some(theta) = p.get("rope_theta").filter(|v| !v.is_null()) {
        match obj.get("rope_theta") {
            Some(old) if !old.is_null() && old.as_f64() != theta.as_f64() => {
                return Err(Error::Invalid(format!(
                    "config.json: field \"rope_theta\": {old} disagrees with rope_parameters.rope_theta = {theta} — keep one"
                )))
            }
            _ => {
                obj.insert("rope_theta".into(), theta.clone());
            }
        }
    }
    let rope_type = p
        .get("rope_type")
        .or_else(|| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    if rope_type != "default" {
        let has_scaling = obj.get("rope_scaling").is_some_and(|v| !v.is_null());
        if !has_scaling {
            let mut scaling = p.clone();
            scaling.remove("rope_theta");
            obj.insert("rope_scaling".into(), Value::Object(scaling));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2_135M: &str = r#"{
      "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1,
      "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 576, "intermediate_size": 1536,
      "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
      "num_hidden_layers": 30, "num_key_value_heads": 3, "rms_norm_eps": 1e-05,
      "rope_theta": 100000, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "vocab_size": 49152, "rope_scaling": null, "pretraining_tp": 1, "use_cache": true
    }"#;

    #[test]
    fn reads_transformers_5_rope_parameters() {
        let v5 = SMOLLM2_135M.replace(
            "\"rope_theta\": 100000,",
            "\"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192},",
        );
        let cfg = LlamaConfig::from_json(&v5).unwrap();
        assert_eq!(cfg.rope_theta, 500000.0);
        let scaling = cfg.rope_scaling.unwrap();
        assert_eq!(
            (scaling.rope_type.as_str(), scaling.factor),
            ("llama3", 8.0)
        );
        let default = SMOLLM2_135M.replace(
            "\"rope_theta\": 100000,",
            "\"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"},",
        );
        let cfg = LlamaConfig::from_json(&default).unwrap();
        assert_eq!((cfg.rope_theta, cfg.rope_scaling), (1e6, None));
        let both = SMOLLM2_135M.replace(
            "\"rope_theta\": 100000,",
            "\"rope_theta\": 100000, \"rope_parameters\": {\"rope_theta\": 10000.0},",
        );
        let e = LlamaConfig::from_json(&both).unwrap_err().to_string();
        assert!(e.contains("rope_theta") && e.contains("disagrees"), "{e}");
    }

    #[test]
    fn parses_a_smollm2_config() {
        let c = LlamaConfig::from_json(SMOLLM2_135M).unwrap();
        assert_eq!(c.kv_heads(), 3);
        assert_eq!(c.head_dim(), 64);
        assert!(c.tie_word_embeddings);
        assert_eq!(c.eos_token_id.unwrap().to_vec(), vec![2]);
    }

    #[test]
    fn llama3_eos_list_and_rope_scaling_parse() {
        let text = SMOLLM2_135M
            .replace("\"eos_token_id\": 2", "\"eos_token_id\": [128001, 128009]")
            .replace(
                "\"rope_scaling\": null",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}",
            );
        let c = LlamaConfig::from_json(&text).unwrap();
        assert_eq!(c.eos_token_id.unwrap().to_vec(), vec![128001, 128009]);
        assert_eq!(c.rope_scaling.unwrap().rope_type, "llama3");
    }

    #[test]
    fn refuses_unsupported_and_oversized_configs() {
        let gpt2 = SMOLLM2_135M.replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"");
        let e = LlamaConfig::from_json(&gpt2).unwrap_err().to_string();
        assert!(e.contains("model_type"), "{e}");
        let huge =
            SMOLLM2_135M.replace("\"num_hidden_layers\": 30", "\"num_hidden_layers\": 100000");
        let e = LlamaConfig::from_json(&huge).unwrap_err().to_string();
        assert!(e.contains("num_hidden_layers"), "{e}");
        let gqa = SMOLLM2_135M.replace("\"num_key_value_heads\": 3", "\"num_key_value_heads\": 4");
        assert!(LlamaConfig::from_json(&gqa).is_err());
    }
}
