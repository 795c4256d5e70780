//! LoRA adapters as PEFT directories: `adapter_config.json` with PEFT's full
//! key set and `adapter_model.safetensors` with PEFT's tensor names, so a
//! sponsor loads them with `peft` or serves them with vLLM unchanged.
//!
//! Reading is strict: an adapter that uses PEFT features insitu does not
//! implement (DoRA, biases, extra saved modules, per-layer ranks) is refused
//! rather than half-applied.

use crate::hf::{publish_dir, temp_dir_beside, write_safetensors};
use crate::lora::{LoraConfig, KNOWN_TARGET_MODULES};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// File name of the adapter's configuration.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// File name of the adapter's weights.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";

const NAME_PREFIX: &str = "base_model.model.model.layers.";

/// Ranks vLLM accepts for `--max-lora-rank`; an adapter's `r` must fit one.
pub const VLLM_RANKS: [usize; 9] = [1, 8, 16, 32, 64, 128, 256, 320, 512];
/// vLLM's default `--max-lora-rank`.
pub const VLLM_DEFAULT_MAX_RANK: usize = 16;

/// A config field and a test for whether it enables a feature.
type FieldCheck = (&'static str, fn(&Value) -> bool);

fn block_of(module: &str) -> &'static str {
    match module {
        "gate_proj" | "up_proj" | "down_proj" => "mlp",
        _ => "self_attn",
    }
}

/// PEFT's name for one LoRA factor: `a_or_b` is `'A'` or `'B'`, e.g.
/// `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`.
pub fn lora_tensor_name(layer: usize, module: &str, a_or_b: char) -> String {
    format!(
        "{NAME_PREFIX}{layer}.{}.{module}.lora_{}.weight",
        block_of(module),
        a_or_b.to_ascii_uppercase()
    )
}

/// Splits a PEFT tensor name into (layer, module, 'A' | 'B').
fn parse_tensor_name(name: &str) -> Option<(usize, String, char)> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (block, rest) = rest.split_once('.')?;
    let (module, rest) = rest.split_once('.')?;
    if block != block_of(module) || !KNOWN_TARGET_MODULES.contains(&module) {
        return None;
    }
    let ab = match rest {
        "lora_A.weight" => 'A',
        "lora_B.weight" => 'B',
        _ => return None,
    };
    Some((layer, module.to_string(), ab))
}

/// A number as JSON, written as an integer when it is one (PEFT's
/// `lora_alpha` is an int in most configs).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// `adapter_config.json` content: every field of PEFT's `LoraConfig` (as of
/// PEFT 0.21), with insitu's values or PEFT's defaults.
fn adapter_config_json(lora: &LoraConfig, base_model_name_or_path: &str) -> Value {
    // serde_json's map is sorted, which is also how PEFT writes the file.
    json!({
        "alora_invocation_tokens": null,
        "alpha_pattern": {},
        "arrow_config": null,
        "auto_mapping": null,
        "base_model_name_or_path": base_model_name_or_path,
        "bias": "none",
        "corda_config": null,
        "ensure_weight_tying": false,
        "eva_config": null,
        "exclude_modules": null,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "kasa_config": null,
        "layer_replication": null,
        "layers_pattern": null,
        "layers_to_transform": null,
        "loftq_config": {},
        "lora_alpha": number(lora.lora_alpha),
        "lora_bias": false,
        "lora_dropout": lora.lora_dropout,
        "lora_ga_config": null,
        "megatron_config": null,
        "megatron_core": "megatron.core",
        "modules_to_save": null,
        "monteclora_config": null,
        "peft_type": "LORA",
        "qalora_group_size": 16,
        "r": lora.r,
        "rank_pattern": {},
        "revision": null,
        "target_modules": lora.target_modules,
        "target_parameters": null,
        "task_type": "CAUSAL_LM",
        "trainable_token_indices": null,
        "use_bdlora": null,
        "use_dora": false,
        "use_qalora": false,
        "use_rslora": lora.use_rslora,
        "velora_config": null,
    })
}

/// Checks that `tensors` are exactly the A/B pairs `lora` implies, with
/// ranks matching `r`. `source` names the file for errors.
fn check_adapter_tensors(
    lora: &LoraConfig,
    tensors: &HashMap<String, Tensor>,
    source: &Path,
) -> Result<()> {
    let bad = |message: String| Error::BadFile {
        path: source.to_path_buf(),
        message,
    };
    if tensors.is_empty() {
        return Err(bad("holds no LoRA tensors".into()));
    }
    let mut pairs: BTreeMap<(usize, String), [Option<&Tensor>; 2]> = BTreeMap::new();
    for (name, t) in tensors {
        let (layer, module, ab) = parse_tensor_name(name).ok_or_else(|| {
            bad(format!(
                "tensor {name:?} is not a PEFT LoRA name like {:?}",
                lora_tensor_name(0, "q_proj", 'A')
            ))
        })?;
        if !lora.target_modules.contains(&module) {
            return Err(bad(format!(
                "tensor {name:?} is for {module}, which target_modules {:?} does not list",
                lora.target_modules
            )));
        }
        if t.rank() != 2 {
            return Err(bad(format!(
                "tensor {name:?} has shape {:?}; LoRA factors are matrices",
                t.dims()
            )));
        }
        let (rows, cols) = (t.dims()[0], t.dims()[1]);
        let rank_ok = if ab == 'A' {
            rows == lora.r
        } else {
            cols == lora.r
        };
        if !rank_ok {
            return Err(bad(format!(
                "tensor {name:?} has shape {:?}, which does not have rank r = {}",
                t.dims(),
                lora.r
            )));
        }
        pairs.entry((layer, module)).or_default()[usize::from(ab == 'B')] = Some(t);
    }
    for ((layer, module), pair) in &pairs {
        if pair.iter().any(Option::is_none) {
            return Err(bad(format!(
                "layer {layer} {module}: lora_A and lora_B must both be present"
            )));
        }
    }
    Ok(())
}

/// Writes a PEFT adapter directory at `dir` (`adapter_config.json`,
/// `adapter_model.safetensors`), atomically. `tensors` are keyed by
/// [`lora_tensor_name`]; A is `[r, in]`, B is `[out, r]`.
pub fn write_adapter(
    dir: &Path,
    lora: &LoraConfig,
    base_model_name_or_path: &str,
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    lora.validate()?;
    check_adapter_tensors(lora, tensors, &dir.join(ADAPTER_WEIGHTS))?;
    let tmp = temp_dir_beside(dir)?;
    let written = (|| -> Result<()> {
        let cfg_path = tmp.join(ADAPTER_CONFIG);
        let text =
            serde_json::to_string_pretty(&adapter_config_json(lora, base_model_name_or_path))?
                + "\n";
        std::fs::write(&cfg_path, text).map_err(|source| Error::Io {
            path: cfg_path.clone(),
            source,
        })?;
        write_safetensors(&tmp.join(ADAPTER_WEIGHTS), tensors)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    publish_dir(&tmp, dir)
}

/// Reads and validates a PEFT LoRA adapter directory (weights on the CPU).
/// Refuses pickle weights and PEFT features insitu does not implement.
pub fn read_adapter(dir: &Path) -> Result<(LoraConfig, HashMap<String, Tensor>)> {
    let cfg_path = dir.join(ADAPTER_CONFIG);
    let bad = |message: String| Error::BadFile {
        path: cfg_path.clone(),
        message,
    };
    if dir.join("adapter_model.bin").exists() {
        return Err(Error::BadFile {
            path: dir.join("adapter_model.bin"),
            message: "pickle adapters are refused — save the adapter with safe_serialization=True"
                .into(),
        });
    }
    let text = std::fs::read_to_string(&cfg_path).map_err(|source| Error::Io {
        path: cfg_path.clone(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    match field("peft_type").and_then(Value::as_str) {
        Some("LORA") => {}
        other => {
            return Err(bad(format!(
                "field \"peft_type\" is {other:?}; only \"LORA\" adapters are supported"
            )))
        }
    }
    // PEFT features that change the maths: refusing them beats applying a
    // different adapter from the one the sponsor trained.
    let unsupported: [FieldCheck; 8] = [
        ("use_dora", |x| x.as_bool() == Some(true)),
        ("bias", |x| x.as_str() != Some("none")),
        ("lora_bias", |x| x.as_bool() == Some(true)),
        ("fan_in_fan_out", |x| x.as_bool() == Some(true)),
        ("modules_to_save", |x| {
            x.as_array().is_some_and(|a| !a.is_empty())
        }),
        ("rank_pattern", |x| {
            x.as_object().is_some_and(|o| !o.is_empty())
        }),
        ("alpha_pattern", |x| {
            x.as_object().is_some_and(|o| !o.is_empty())
        }),
        ("layers_to_transform", |x| !x.is_null()),
    ];
    for (name, is_set) in unsupported {
        if let Some(x) = field(name) {
            if is_set(x) {
                return Err(bad(format!(
                    "field {name:?} = {x} is not supported by insitu — retrain without it"
                )));
            }
        }
    }
    let target_modules: Vec<String> = match field("target_modules") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().map(str::to_string).ok_or_else(|| bad("field \"target_modules\" must be a list of names".into())))
            .collect::<Result<_>>()?,
        Some(Value::String(s)) => {
            return Err(bad(format!(
                "field \"target_modules\" is the pattern {s:?}; list the modules by name (e.g. [\"q_proj\", \"v_proj\"])"
            )))
        }
        _ => return Err(bad("field \"target_modules\" is missing".into())),
    };
    let r = field("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("field \"r\" is missing or not a positive integer".into()))?
        as usize;
    let lora_alpha = field("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("field \"lora_alpha\" is missing or not a number".into()))?;
    let lora = LoraConfig {
        r,
        lora_alpha,
        lora_dropout: field("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0),
        target_modules,
        use_rslora: field("use_rslora")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..LoraConfig::default()
    };
    lora.validate().map_err(|e| bad(e.to_string()))?;
    let weights = dir.join(ADAPTER_WEIGHTS);
    if !weights.is_file() {
        return Err(Error::BadFile {
            path: weights,
            message: "is missing — a PEFT adapter needs adapter_model.safetensors".into(),
        });
    }
    let tensors =
        candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| Error::BadFile {
            path: weights.clone(),
            message: e.to_string(),
        })?;
    check_adapter_tensors(&lora, &tensors, &weights)?;
    Ok((lora, tensors))
}

/// Reasons vLLM would refuse or need extra flags to serve this adapter
/// (empty when it loads with vLLM's defaults).
pub fn vllm_warnings(lora: &LoraConfig) -> Vec<String> {
    let mut out = Vec::new();
    if !VLLM_RANKS.contains(&lora.r) {
        out.push(format!(
            "r = {} is not a rank vLLM supports ({VLLM_RANKS:?}); vLLM will refuse the adapter — use r = {}",
            lora.r,
            VLLM_RANKS.iter().find(|&&x| x >= lora.r).copied().unwrap_or(512)
        ));
    } else if lora.r > VLLM_DEFAULT_MAX_RANK {
        out.push(format!(
            "r = {} exceeds vLLM's default --max-lora-rank {VLLM_DEFAULT_MAX_RANK}; start vLLM with --max-lora-rank {}",
            lora.r, lora.r
        ));
    }
    for m in &lora.target_modules {
        if !KNOWN_TARGET_MODULES.contains(&m.as_str()) {
            out.push(format!(
                "target module {m:?} is not one vLLM applies LoRA to in Llama-family models"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_follow_peft_and_parse_back() {
        assert_eq!(
            lora_tensor_name(3, "q_proj", 'A'),
            "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
        );
        assert_eq!(
            lora_tensor_name(0, "down_proj", 'b'),
            "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"
        );
        assert_eq!(
            parse_tensor_name(&lora_tensor_name(12, "up_proj", 'B')),
            Some((12, "up_proj".into(), 'B'))
        );
        assert_eq!(
            parse_tensor_name("base_model.model.model.layers.1.mlp.q_proj.lora_A.weight"),
            None
        );
        assert_eq!(parse_tensor_name("base_model.model.lm_head.weight"), None);
    }

    #[test]
    fn vllm_warnings_name_ranks_and_flags() {
        assert!(vllm_warnings(&LoraConfig {
            r: 8,
            ..LoraConfig::default()
        })
        .is_empty());
        let w = vllm_warnings(&LoraConfig {
            r: 12,
            ..LoraConfig::default()
        });
        assert!(w[0].contains("r = 12") && w[0].contains("r = 16"), "{w:?}");
        let w = vllm_warnings(&LoraConfig {
            r: 64,
            ..LoraConfig::default()
        });
        assert!(w[0].contains("--max-lora-rank 64"), "{w:?}");
    }

    #[test]
    fn config_has_peft_fields_and_integer_alpha() {
        let v = adapter_config_json(&LoraConfig::default(), "smollm2");
        for key in [
            "peft_type",
            "task_type",
            "r",
            "lora_alpha",
            "lora_dropout",
            "target_modules",
            "use_rslora",
            "bias",
            "fan_in_fan_out",
            "init_lora_weights",
            "modules_to_save",
            "layers_to_transform",
            "layers_pattern",
            "rank_pattern",
            "alpha_pattern",
            "use_dora",
            "revision",
            "inference_mode",
            "base_model_name_or_path",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["lora_alpha"], json!(32));
        assert_eq!(v["r"], json!(16));
    }
}
