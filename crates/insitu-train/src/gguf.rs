//! Importing llama.cpp GGUF checkpoints as Hugging Face model directories.
//!
//! A GGUF file carries the weights (often quantised), the hyperparameters and
//! the tokenizer as metadata under llama.cpp's key names. Import reverses
//! llama.cpp's conversion: every tensor is dequantised with candle's GGUF
//! reader, renamed back to the HF name, and the query/key rows that llama.cpp
//! interleaved for its RoPE kernel are put back in HF's half-split order;
//! `config.json`, `tokenizer.json` (byte-level BPE with the model family's
//! pre-tokenizer), `tokenizer_config.json` (chat template), and
//! `generation_config.json` are rebuilt from the metadata. The result goes
//! through [`crate::hf::write_model_dir`], so it passes the same checks as any
//! sponsor's model.
//!
//! Supported: `general.architecture = llama` (Llama 2/3, Mistral, SmolLM2)
//! and `qwen2`, with a byte-level BPE vocabulary (`tokenizer.ggml.model = gpt2`).
//! SentencePiece vocabularies and other architectures are refused by name.

use crate::config::{LlamaConfig, RopeScaling, TokenIds};
use crate::hf::{file_sha256, write_model_dir, GenerationConfig};
use crate::tokenizer::TextTokenizer;
use crate::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::path::Path;

/// What an import produced, for the CLI and the audit log.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// `general.name` from the file, if any.
    pub name: Option<String>,
    /// sha256 (hex) of the GGUF file.
    pub source_sha256: String,
    /// `general.license` from the file, if any.
    pub license: Option<String>,
    /// The rebuilt `config.json`.
    pub config: LlamaConfig,
    /// llama.cpp tensor type name → number of tensors of that type.
    pub tensor_types: BTreeMap<String, usize>,
}

/// llama.cpp's name for a tensor type.
pub fn ggml_type_name(t: GgmlDType) -> &'static str {
    match t {
        GgmlDType::F32 => "F32",
        GgmlDType::F16 => "F16",
        GgmlDType::BF16 => "BF16",
        GgmlDType::Q4_0 => "Q4_0",
        GgmlDType::Q4_1 => "Q4_1",
        GgmlDType::Q5_0 => "Q5_0",
        GgmlDType::Q5_1 => "Q5_1",
        GgmlDType::Q8_0 => "Q8_0",
        GgmlDType::Q8_1 => "Q8_1",
        GgmlDType::Q2K => "Q2_K",
        GgmlDType::Q3K => "Q3_K",
        GgmlDType::Q4K => "Q4_K",
        GgmlDType::Q5K => "Q5_K",
        GgmlDType::Q6K => "Q6_K",
        GgmlDType::Q8K => "Q8_K",
    }
}

/// Names of ggml type ids candle cannot read, for a useful error.
fn unsupported_type_name(id: u32) -> &'static str {
    match id {
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        31..=33 => "Q4_0 repacked (Q4_0_4_4/4_8/8_8)",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => "an unknown type",
    }
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Typed access to GGUF metadata with errors that name the key.
struct Metadata<'a> {
    path: &'a Path,
    map: &'a HashMap<String, Value>,
}

impl Metadata<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    fn int(&self, key: &str) -> Result<Option<u64>> {
        Ok(match self.get(key) {
            None => None,
            Some(v) => Some(match v {
                Value::U8(x) => u64::from(*x),
                Value::U16(x) => u64::from(*x),
                Value::U32(x) => u64::from(*x),
                Value::U64(x) => *x,
                Value::I8(x) if *x >= 0 => *x as u64,
                Value::I16(x) if *x >= 0 => *x as u64,
                Value::I32(x) if *x >= 0 => *x as u64,
                Value::I64(x) if *x >= 0 => *x as u64,
                other => {
                    return Err(bad(
                        self.path,
                        format!("metadata {key:?} = {other:?} is not a non-negative integer"),
                    ))
                }
            }),
        })
    }

    fn req_int(&self, key: &str) -> Result<usize> {
        self.int(key)?.map(|x| x as usize).ok_or_else(|| {
            bad(
                self.path,
                format!("metadata {key:?} is missing — the file is not a complete llama.cpp model"),
            )
        })
    }

    /// A float, read the way it was written: an f32 `1e-5` becomes the f64
    /// `1e-5`, not `9.99999974e-6`.
    fn float(&self, key: &str) -> Result<Option<f64>> {
        Ok(match self.get(key) {
            None => None,
            Some(Value::F32(x)) => Some(format!("{x}").parse().unwrap_or(f64::from(*x))),
            Some(Value::F64(x)) => Some(*x),
            Some(other) => {
                return Err(bad(
                    self.path,
                    format!("metadata {key:?} = {other:?} is not a float"),
                ))
            }
        })
    }

    fn string(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<&str>> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.as_str()),
                    other => Err(bad(
                        self.path,
                        format!("metadata {key:?} holds {other:?}, expected strings"),
                    )),
                })
                .collect(),
            None => Err(bad(self.path, format!("metadata {key:?} is missing"))),
            Some(other) => Err(bad(
                self.path,
                format!(
                    "metadata {key:?} = {:?} is not an array",
                    other.value_type()
                ),
            )),
        }
    }

    fn ints(&self, key: &str) -> Result<Vec<i64>> {
        match self.get(key) {
            Some(Value::Array(items)) => Ok(items
                .iter()
                .map(|v| match v {
                    Value::I32(x) => i64::from(*x),
                    Value::U32(x) => i64::from(*x),
                    Value::I8(x) => i64::from(*x),
                    Value::U8(x) => i64::from(*x),
                    _ => -1,
                })
                .collect()),
            _ => Ok(Vec::new()),
        }
    }
}

/// `general.architecture` values insitu imports.
const ARCHITECTURES: [&str; 2] = ["llama", "qwen2"];

/// Rebuilds `config.json` from `<arch>.*` metadata.
fn config_from_metadata(md: &Metadata, has_output: bool, dtype: DType) -> Result<LlamaConfig> {
    let arch = md.string("general.architecture").unwrap_or("(missing)");
    if !ARCHITECTURES.contains(&arch) {
        return Err(bad(
            md.path,
            format!("general.architecture is {arch:?}; insitu imports only \"llama\" (Llama 2/3, Mistral, SmolLM2) and \"qwen2\" GGUF files"),
        ));
    }
    let k = |s: &str| format!("{arch}.{s}");
    let hidden = md.req_int(&k("embedding_length"))?;
    let heads = md.req_int(&k("attention.head_count"))?;
    let kv_heads = md
        .int(&k("attention.head_count_kv"))?
        .map(|x| x as usize)
        .unwrap_or(heads);
    let default_head_dim = hidden.checked_div(heads).unwrap_or(0);
    let head_dim = md
        .int(&k("attention.key_length"))?
        .map(|x| x as usize)
        .unwrap_or(default_head_dim);
    if let Some(rot) = md.int(&k("rope.dimension_count"))? {
        if rot as usize != head_dim {
            return Err(bad(md.path, format!("{arch}.rope.dimension_count = {rot} differs from the head width {head_dim}; partial rotary embeddings are not supported")));
        }
    }
    let tokens = md.strings("tokenizer.ggml.tokens")?.len();
    let vocab = md
        .int(&k("vocab_size"))?
        .map(|x| x as usize)
        .unwrap_or(tokens);
    let rope_scaling = match md.string(&k("rope.scaling.type")) {
        None | Some("none") => None,
        Some("linear") => Some(RopeScaling {
            rope_type: "linear".into(),
            factor: md.float(&k("rope.scaling.factor"))?.unwrap_or(1.0),
            low_freq_factor: None,
            high_freq_factor: None,
            original_max_position_embeddings: None,
        }),
        Some(other) => {
            return Err(bad(
                md.path,
                format!("{arch}.rope.scaling.type = {other:?} is not supported (only linear)"),
            ))
        }
    };
    let id = |key: &str| -> Result<Option<u32>> { Ok(md.int(key)?.map(|x| x as u32)) };
    let cfg = LlamaConfig {
        model_type: arch.into(),
        architectures: vec![if arch == "qwen2" {
            "Qwen2ForCausalLM"
        } else {
            "LlamaForCausalLM"
        }
        .into()],
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: md.req_int(&k("feed_forward_length"))?,
        num_hidden_layers: md.req_int(&k("block_count"))?,
        num_attention_heads: heads,
        num_key_value_heads: Some(kv_heads),
        head_dim: (head_dim != default_head_dim).then_some(head_dim),
        max_position_embeddings: md.req_int(&k("context_length"))?,
        rms_norm_eps: md
            .float(&k("attention.layer_norm_rms_epsilon"))?
            .unwrap_or(1e-5),
        rope_theta: md.float(&k("rope.freq_base"))?.unwrap_or(10_000.0),
        rope_scaling,
        tie_word_embeddings: !has_output,
        attention_bias: false,
        mlp_bias: false,
        hidden_act: "silu".into(),
        bos_token_id: id("tokenizer.ggml.bos_token_id")?,
        eos_token_id: id("tokenizer.ggml.eos_token_id")?.map(TokenIds::One),
        pad_token_id: id("tokenizer.ggml.padding_token_id")?,
        torch_dtype: Some(
            if dtype == DType::BF16 {
                "bfloat16"
            } else {
                "float32"
            }
            .into(),
        ),
    };
    cfg.validate()
        .map_err(|e| bad(md.path, format!("metadata gives an invalid config: {e}")))?;
    Ok(cfg)
}

/// GPT-2's byte-level split regex is built into `ByteLevel(use_regex=true)`;
/// these families split differently before the byte mapping.
/// Qwen2: like Llama 3's but every digit on its own.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split (tiktoken cl100k style).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How a vocabulary family splits text before BPE, as `tokenizer.json` parts.
struct PreTokenization {
    normalizer: serde_json::Value,
    pre_tokenizer: serde_json::Value,
    ignore_merges: bool,
}

/// The `tokenizer.json` normaliser, pre-tokenizer and model flag for
/// llama.cpp's `tokenizer.ggml.pre` (the family whose merges were learned with it).
fn pre_tokenizer_for(pre: &str, path: &Path) -> Result<PreTokenization> {
    let split_then_bytes = |regex: &str| {
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]})
    };
    let plain = |pre_tokenizer, ignore_merges| PreTokenization {
        normalizer: serde_json::Value::Null,
        pre_tokenizer,
        ignore_merges,
    };
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    Ok(match pre {
        // GPT-2 style: the byte-level pre-tokenizer's own regex.
        "default" | "gpt2" | "gpt-2" => plain(byte_level(true), false),
        // SmolLM/StarCoder: every digit on its own, then GPT-2's split.
        "smollm" | "starcoder" => plain(
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            false,
        ),
        // Llama 3: tiktoken-style split, merges ignored for whole-vocab words.
        "llama-bpe" | "llama3" | "llama-v3" | "smaug-bpe" => plain(split_then_bytes(LLAMA3_SPLIT), true),
        // Qwen2: NFC first (as Qwen2's own tokenizer.json), single digits.
        "qwen2" => PreTokenization {
            normalizer: json!({"type": "NFC"}),
            pre_tokenizer: split_then_bytes(QWEN2_SPLIT),
            ignore_merges: false,
        },
        other => {
            return Err(bad(
                path,
                format!("tokenizer.ggml.pre = {other:?} is not supported — supported pre-tokenizers: default, gpt2, smollm, starcoder, llama-bpe, qwen2"),
            ))
        }
    })
}

/// Rebuilds `tokenizer.json` from `tokenizer.ggml.*`.
fn tokenizer_from_metadata(md: &Metadata) -> Result<TextTokenizer> {
    match md.string("tokenizer.ggml.model") {
        Some("gpt2") => {}
        Some("llama") => {
            return Err(bad(md.path, "tokenizer.ggml.model = \"llama\" (SentencePiece) is not supported yet — only byte-level BPE (\"gpt2\") vocabularies can be imported"))
        }
        other => return Err(bad(md.path, format!("tokenizer.ggml.model = {other:?} is not supported (only \"gpt2\" byte-level BPE)"))),
    }
    let tokens = md.strings("tokenizer.ggml.tokens")?;
    let types = md.ints("tokenizer.ggml.token_type")?;
    let merges: Vec<serde_json::Value> = md
        .strings("tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| match m.split_once(' ') {
            Some((a, b)) if !b.contains(' ') => Ok(json!([a, b])),
            _ => Err(bad(
                md.path,
                format!(
                    "tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by one space"
                ),
            )),
        })
        .collect::<Result<_>>()?;
    let pre = md.string("tokenizer.ggml.pre").unwrap_or("default");
    let PreTokenization {
        normalizer,
        pre_tokenizer,
        ignore_merges,
    } = pre_tokenizer_for(pre, md.path)?;

    let mut vocab = serde_json::Map::new();
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert(token.to_string(), json!(id));
        // 3 = control (special tokens such as <|im_end|>), 4 = user-defined:
        // both are matched whole in text, as llama.cpp does.
        match types.get(id) {
            Some(3) | Some(4) => added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": types.get(id) == Some(&3),
            })),
            _ => {}
        }
    }
    let byte_level_post = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true});
    let bos = md
        .int("tokenizer.ggml.bos_token_id")?
        .and_then(|i| tokens.get(i as usize).copied());
    let post_processor = match (md.bool("tokenizer.ggml.add_bos_token"), bos) {
        (Some(true), Some(bos)) => {
            let bos_id = md.int("tokenizer.ggml.bos_token_id")?.unwrap_or(0);
            json!({"type": "Sequence", "processors": [
                byte_level_post,
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}
            ]})
        }
        _ => byte_level_post,
    };
    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges,
        },
    });
    TextTokenizer::from_json(&tokenizer_json.to_string())
        .map_err(|e| bad(md.path, format!("rebuilt tokenizer is invalid: {e}")))
}

/// The HF name of a llama.cpp tensor, or `None` if it is not a Llama/Qwen2
/// tensor (q/k/v biases exist only in Qwen2 files).
fn hf_tensor_name(gguf_name: &str) -> Option<String> {
    Some(match gguf_name {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => {
            let rest = gguf_name.strip_prefix("blk.")?;
            let (layer, rest) = rest.split_once('.')?;
            let layer: usize = layer.parse().ok()?;
            let (part, kind) = rest.rsplit_once('.')?;
            if kind != "weight"
                && !(kind == "bias" && matches!(part, "attn_q" | "attn_k" | "attn_v"))
            {
                return None;
            }
            let hf = match part {
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                _ => return None,
            };
            format!("model.layers.{layer}.{hf}.{kind}")
        }
    })
}

/// Undoes llama.cpp's RoPE row permutation of a q/k projection. llama.cpp
/// stores each head's rows with the two rotary halves interleaved
/// (pairs `(i, i + d/2)` adjacent); HF keeps the halves split.
pub fn unpermute_rope_rows(w: &Tensor, n_heads: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    if n_heads == 0 || rows % (n_heads * 2) != 0 {
        return Err(Error::Invalid(format!(
            "cannot unpermute a {rows}×{cols} projection into {n_heads} heads"
        )));
    }
    let half = rows / n_heads / 2;
    Ok(w.reshape((n_heads, half, 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

/// llama.cpp's permutation (the inverse of [`unpermute_rope_rows`]); used to
/// build test files the way llama.cpp's converter does.
pub fn permute_rope_rows(w: &Tensor, n_heads: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    if n_heads == 0 || rows % (n_heads * 2) != 0 {
        return Err(Error::Invalid(format!(
            "cannot permute a {rows}×{cols} projection into {n_heads} heads"
        )));
    }
    let half = rows / n_heads / 2;
    Ok(w.reshape((n_heads, 2, half, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

fn read_content(path: &Path) -> Result<(Content, BufReader<std::fs::File>)> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader).map_err(|e| {
        let msg = e.to_string();
        match msg.rsplit_once("unknown dtype for tensor ").and_then(|(_, id)| id.trim().parse::<u32>().ok()) {
            Some(id) => bad(path, format!("tensor type {id} ({}) is not supported — re-quantise with Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 or a K-quant, or use an F16/BF16 file", unsupported_type_name(id))),
            None => bad(path, format!("not a readable GGUF file: {msg}")),
        }
    })?;
    Ok((content, reader))
}

/// Imports a GGUF checkpoint as a complete HF model directory at `out`
/// (written atomically; `out` must not exist or be empty), with weights
/// stored as `dtype` (`F32` or `BF16`).
pub fn import(gguf: &Path, out: &Path, dtype: DType) -> Result<ImportSummary> {
    if !matches!(dtype, DType::F32 | DType::BF16) {
        return Err(Error::Invalid(format!(
            "--dtype {dtype:?} is not supported; use f32 or bf16"
        )));
    }
    let (content, mut reader) = read_content(gguf)?;
    let md = Metadata {
        path: gguf,
        map: &content.metadata,
    };
    let has_output = content.tensor_infos.contains_key("output.weight");
    let cfg = config_from_metadata(&md, has_output, dtype)?;
    let tokenizer = tokenizer_from_metadata(&md)?;

    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    // Map every name and check every shape against the config before any
    // tensor is read, so a hostile file cannot make us dequantise gigabytes.
    let mut hf_names = Vec::with_capacity(names.len());
    let mut shapes = crate::hf::TensorHeaders::new();
    for name in names {
        if name == "rope_freqs.weight" {
            return Err(bad(gguf, "tensor \"rope_freqs.weight\" (Llama 3.1 rope frequency factors) is not supported yet"));
        }
        let hf = hf_tensor_name(name).ok_or_else(|| bad(gguf, format!("tensor {name:?} is not part of a Llama model — is this really a llama or qwen2 file?")))?;
        let dims = content.tensor_infos[name].shape.dims().to_vec();
        shapes.insert(hf.clone(), ("F32".to_string(), dims));
        hf_names.push((name, hf));
    }
    crate::hf::check_tensors(&cfg, &shapes, gguf, "the GGUF metadata")?;

    let mut tensor_types: BTreeMap<String, usize> = BTreeMap::new();
    let mut tensors = HashMap::new();
    for (name, hf) in hf_names {
        let info = &content.tensor_infos[name];
        *tensor_types
            .entry(ggml_type_name(info.ggml_dtype).to_string())
            .or_default() += 1;
        let q = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(|e| bad(gguf, format!("tensor {name:?}: {e}")))?;
        let mut t = q.dequantize(&Device::Cpu)?;
        // llama.cpp permutes q/k rows only for the llama architecture; Qwen2
        // uses the NeoX rotary layout, which is HF's already.
        let permuted = cfg.model_type == "llama";
        if permuted && hf.ends_with("q_proj.weight") {
            t = unpermute_rope_rows(&t, cfg.num_attention_heads)?;
        } else if permuted && hf.ends_with("k_proj.weight") {
            t = unpermute_rope_rows(&t, cfg.kv_heads())?;
        }
        tensors.insert(hf, t.to_dtype(dtype)?);
    }

    let source_sha256 = file_sha256(gguf)?;
    let name = md.string("general.name").map(str::to_string);
    let license = md.string("general.license").map(str::to_string);
    let chat_template = md.string("tokenizer.chat_template");
    let generation = GenerationConfig {
        bos_token_id: cfg.bos_token_id,
        eos_token_id: cfg.eos_token_id.clone(),
        pad_token_id: cfg.pad_token_id,
        ..GenerationConfig::default()
    };
    let summary = ImportSummary {
        name,
        source_sha256,
        license,
        config: cfg,
        tensor_types,
    };
    let card = model_card(gguf, &summary, dtype);
    write_model_dir(
        out,
        &summary.config,
        &tensors,
        &tokenizer,
        chat_template,
        &generation,
        &card,
    )?;
    Ok(summary)
}

fn model_card(gguf: &Path, s: &ImportSummary, dtype: DType) -> String {
    let file = gguf
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let types = s
        .tensor_types
        .iter()
        .map(|(t, n)| format!("{t} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let c = &s.config;
    format!(
        "# {name}\n\nImported by insitu from a llama.cpp GGUF checkpoint.\n\n\
         - Source file: `{file}`\n- Source sha256: `{sha}`\n- Licence: {license}\n\
         - Architecture: {arch}, {layers} layers, hidden size {h}, {heads} heads ({kv} key/value), vocabulary {v}\n\
         - Tensor types in the source: {types}\n- Stored here as: {dtype}\n\n\
         The weights were dequantised from the types above: they reproduce the quantised model, \
         not the original full-precision checkpoint.\n",
        name = s.name.as_deref().unwrap_or("Imported model"),
        sha = s.source_sha256,
        license = s.license.as_deref().unwrap_or("not stated in the file — check with the model's publisher"),
        arch = c.model_type,
        layers = c.num_hidden_layers,
        h = c.hidden_size,
        heads = c.num_attention_heads,
        kv = c.kv_heads(),
        v = c.vocab_size,
        dtype = if dtype == DType::BF16 { "bfloat16" } else { "float32" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_permutation_round_trips_and_interleaves_halves() {
        // One head of width 4 with 1 column: HF rows [a0 a1 b0 b1] (halves
        // a, b) become llama.cpp rows [a0 b0 a1 b1].
        let hf = Tensor::new(&[[0f32], [1.], [2.], [3.]], &Device::Cpu).unwrap();
        let ggml = permute_rope_rows(&hf, 1).unwrap();
        assert_eq!(
            ggml.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![0., 2., 1., 3.]
        );
        let back = unpermute_rope_rows(&ggml, 1).unwrap();
        assert_eq!(
            back.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![0., 1., 2., 3.]
        );
        let w = Tensor::arange(0f32, 48., &Device::Cpu)
            .unwrap()
            .reshape((12, 4))
            .unwrap();
        let rt = unpermute_rope_rows(&permute_rope_rows(&w, 3).unwrap(), 3).unwrap();
        assert_eq!(rt.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        assert!(unpermute_rope_rows(&w, 5).is_err());
    }

    #[test]
    fn tensor_names_map_to_hf() {
        assert_eq!(
            hf_tensor_name("blk.7.attn_q.weight").unwrap(),
            "model.layers.7.self_attn.q_proj.weight"
        );
        assert_eq!(
            hf_tensor_name("blk.0.ffn_norm.weight").unwrap(),
            "model.layers.0.post_attention_layernorm.weight"
        );
        assert_eq!(hf_tensor_name("output.weight").unwrap(), "lm_head.weight");
        assert_eq!(
            hf_tensor_name("blk.0.attn_q.bias").unwrap(),
            "model.layers.0.self_attn.q_proj.bias"
        );
        assert_eq!(hf_tensor_name("blk.0.attn_output.bias"), None);
        assert_eq!(hf_tensor_name("blk.x.attn_q.weight"), None);
        assert_eq!(hf_tensor_name("mm.0.weight"), None);
    }
}
