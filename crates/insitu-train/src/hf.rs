//! Hugging Face model directories: open and verify one a sponsor sent
//! (`config.json`, safetensors weights, `tokenizer.json`,
//! `tokenizer_config.json`, `generation_config.json`), and write one
//! atomically in exactly the layout `transformers` saves.
//!
//! Only safetensors weights are accepted: a directory holding pickle files
//! (`*.bin`, `*.pt`, `*.ckpt`, …) or code (`*.py`) is refused outright rather
//! than skipped, because its presence means the sender expected it to be run.

use crate::chat::{read_tokenizer_config, ChatTemplate};
use crate::config::{LlamaConfig, TokenIds};
use crate::tokenizer::TextTokenizer;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `generation_config.json`: decoding defaults the model was published with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Beginning-of-sequence id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<u32>,
    /// End-of-sequence id(s); generation stops at any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<TokenIds>,
    /// Padding id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<u32>,
    /// Sample (true) or decode greedily (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Softmax temperature when sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling cut-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Longest answer to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<usize>,
    /// Penalty on repeated tokens (1.0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Any other fields, kept so that a round trip loses nothing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A verified Hugging Face model directory.
#[derive(Debug)]
pub struct ModelDir {
    /// The directory.
    pub root: PathBuf,
    /// Parsed and validated `config.json`.
    pub config: LlamaConfig,
    /// `tokenizer.json`.
    pub tokenizer: TextTokenizer,
    /// The chat template from `tokenizer_config.json`, if the model has one.
    pub chat: Option<ChatTemplate>,
    /// `generation_config.json` (defaults when absent).
    pub generation: GenerationConfig,
    /// Safetensors files holding the weights, in name order.
    pub weight_files: Vec<PathBuf>,
}

/// Tensor name → (safetensors dtype name, shape), as read from file headers.
pub(crate) type TensorHeaders = BTreeMap<String, (String, Vec<usize>)>;

/// File endings that mean pickle (arbitrary code on load) or code.
const REFUSED_ENDINGS: [&str; 10] = [
    ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".py", ".pyc", ".so", ".msgpack",
];

/// Upper bound on a safetensors JSON header; real ones are well under 1 MiB.
const MAX_SAFETENSORS_HEADER: u64 = 100 << 20;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad_file(path: &Path, message: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Every regular file under `root`, as (relative path with `/`, full path), sorted.
fn list_files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            // Symlinked files are followed (HF cache snapshots link into
            // blobs/); symlinked directories are refused, as they can loop.
            let is_link = entry.file_type().map_err(io_err(&path))?.is_symlink();
            let meta = std::fs::metadata(&path).map_err(io_err(&path))?;
            if meta.is_dir() && is_link {
                return Err(bad_file(
                    &path,
                    "is a symbolic link to a directory — copy the model into a plain directory",
                ));
            } else if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a Llama-family checkpoint must hold for `cfg`: tensor name → shape.
/// `lm_head.weight` is optional when embeddings are tied.
pub(crate) fn expected_tensors(cfg: &LlamaConfig) -> BTreeMap<String, Vec<usize>> {
    let (h, v, i) = (cfg.hidden_size, cfg.vocab_size, cfg.intermediate_size);
    let q = cfg.num_attention_heads * cfg.head_dim();
    let kv = cfg.kv_heads() * cfg.head_dim();
    let mut m = BTreeMap::new();
    m.insert("model.embed_tokens.weight".to_string(), vec![v, h]);
    m.insert("model.norm.weight".to_string(), vec![h]);
    if !cfg.tie_word_embeddings {
        m.insert("lm_head.weight".to_string(), vec![v, h]);
    }
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        m.insert(format!("{p}.input_layernorm.weight"), vec![h]);
        m.insert(format!("{p}.post_attention_layernorm.weight"), vec![h]);
        for (name, out, inp) in [
            ("q_proj", q, h),
            ("k_proj", kv, h),
            ("v_proj", kv, h),
            ("o_proj", h, q),
        ] {
            m.insert(format!("{p}.self_attn.{name}.weight"), vec![out, inp]);
            let biased = if name == "o_proj" {
                cfg.o_bias()
            } else {
                cfg.qkv_bias()
            };
            if biased {
                m.insert(format!("{p}.self_attn.{name}.bias"), vec![out]);
            }
        }
        for (name, out, inp) in [("gate_proj", i, h), ("up_proj", i, h), ("down_proj", h, i)] {
            m.insert(format!("{p}.mlp.{name}.weight"), vec![out, inp]);
            if cfg.mlp_bias {
                m.insert(format!("{p}.mlp.{name}.bias"), vec![out]);
            }
        }
    }
    m
}

/// Checks a checkpoint's tensor names, shapes and dtypes against `cfg`.
/// `source` names the file(s) for error messages.
/// `config_name` says where the config came from (`config.json`, GGUF metadata).
pub(crate) fn check_tensors(
    cfg: &LlamaConfig,
    found: &TensorHeaders,
    source: &Path,
    config_name: &str,
) -> Result<()> {
    let expected = expected_tensors(cfg);
    for (name, shape) in &expected {
        match found.get(name) {
            None => {
                return Err(bad_file(
                    source,
                    format!("tensor {name:?} is missing — the weights do not match {config_name}"),
                ))
            }
            Some((_, got)) if got != shape => {
                return Err(bad_file(
                    source,
                    format!("tensor {name:?} has shape {got:?}, {config_name} implies {shape:?}"),
                ))
            }
            Some(_) => {}
        }
    }
    for (name, (dtype, shape)) in found {
        if !matches!(dtype.as_str(), "F32" | "F16" | "BF16") {
            return Err(bad_file(
                source,
                format!("tensor {name:?} has dtype {dtype}; only F32, F16 and BF16 are supported — dequantise first"),
            ));
        }
        if expected.contains_key(name) || name.ends_with(".rotary_emb.inv_freq") {
            continue;
        }
        if name == "lm_head.weight" && shape.as_slice() == [cfg.vocab_size, cfg.hidden_size] {
            continue; // tied models may still store the head
        }
        return Err(bad_file(
            source,
            format!(
                "unexpected tensor {name:?} — not part of a {} model with this config.json",
                cfg.model_type
            ),
        ));
    }
    Ok(())
}

/// Reads a safetensors file's header: name → (dtype, shape), checking
/// that every tensor's bytes lie inside the file.
fn read_safetensors_header(path: &Path) -> Result<TensorHeaders> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let file_len = f.metadata().map_err(io_err(path))?.len();
    let mut len_bytes = [0u8; 8];
    f.read_exact(&mut len_bytes)
        .map_err(|_| bad_file(path, "shorter than a safetensors header (8 bytes)"))?;
    let n = u64::from_le_bytes(len_bytes);
    if n > MAX_SAFETENSORS_HEADER || 8 + n > file_len {
        return Err(bad_file(
            path,
            format!("safetensors header length {n} is implausible for a {file_len}-byte file"),
        ));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io_err(path))?;
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| {
            bad_file(
                path,
                format!("safetensors header is not a JSON object: {e}"),
            )
        })?;
    let data_len = file_len - 8 - n;
    let mut out = BTreeMap::new();
    for (name, info) in json {
        if name == "__metadata__" {
            continue;
        }
        #[derive(Deserialize)]
        struct Info {
            dtype: String,
            shape: Vec<usize>,
            data_offsets: (u64, u64),
        }
        let info: Info = serde_json::from_value(info).map_err(|e| {
            bad_file(
                path,
                format!("tensor {name:?}: malformed header entry: {e}"),
            )
        })?;
        let (start, end) = info.data_offsets;
        if start > end || end > data_len {
            return Err(bad_file(path, format!("tensor {name:?}: data offsets {start}..{end} lie outside the file's {data_len} data bytes")));
        }
        out.insert(name, (info.dtype, info.shape));
    }
    Ok(out)
}

impl ModelDir {
    /// Opens and verifies a model directory: refuses pickle and code files,
    /// validates `config.json`, loads the tokenizer and chat template, and
    /// checks that the safetensors weights have the shapes the config implies.
    pub fn open(root: &Path) -> Result<ModelDir> {
        if !root.is_dir() {
            return Err(bad_file(
                root,
                "is not a directory — pass a Hugging Face model directory",
            ));
        }
        let files = list_files(root)?;
        for (rel, path) in &files {
            let lower = rel.to_ascii_lowercase();
            if let Some(ending) = REFUSED_ENDINGS.iter().find(|e| lower.ends_with(*e)) {
                return Err(bad_file(
                    path,
                    format!("{ending} files are refused (pickle or code can run on load) — send the weights as safetensors and remove code files"),
                ));
            }
        }
        let config_path = root.join("config.json");
        let config_text = std::fs::read_to_string(&config_path).map_err(io_err(&config_path))?;
        let config = LlamaConfig::from_json(&config_text)
            .map_err(|e| bad_file(&config_path, e.to_string()))?;

        let tokenizer = TextTokenizer::from_file(&root.join("tokenizer.json"))?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(bad_file(
                &root.join("tokenizer.json"),
                format!("{} token ids exceed config.json's vocab_size {} — the embedding has no row for them", tokenizer.vocab_size(), config.vocab_size),
            ));
        }
        let tc_path = root.join("tokenizer_config.json");
        let chat = if tc_path.is_file() {
            read_tokenizer_config(&tc_path)?
        } else {
            None
        };
        let gen_path = root.join("generation_config.json");
        let generation = if gen_path.is_file() {
            let text = std::fs::read_to_string(&gen_path).map_err(io_err(&gen_path))?;
            serde_json::from_str(&text)
                .map_err(|e| bad_file(&gen_path, format!("not a valid generation config: {e}")))?
        } else {
            GenerationConfig::default()
        };

        let (weight_files, found) = Self::read_weight_headers(root)?;
        let source = if weight_files.len() == 1 {
            weight_files[0].clone()
        } else {
            root.join("model.safetensors.index.json")
        };
        check_tensors(&config, &found, &source, "config.json")?;
        Ok(ModelDir {
            root: root.to_path_buf(),
            config,
            tokenizer,
            chat,
            generation,
            weight_files,
        })
    }

    /// Finds the weight files (single or sharded) and merges their headers.
    fn read_weight_headers(root: &Path) -> Result<(Vec<PathBuf>, TensorHeaders)> {
        let single = root.join("model.safetensors");
        let index = root.join("model.safetensors.index.json");
        if single.is_file() {
            let found = read_safetensors_header(&single)?;
            return Ok((vec![single], found));
        }
        if !index.is_file() {
            return Err(bad_file(root, "has neither model.safetensors nor model.safetensors.index.json — only safetensors weights are accepted"));
        }
        let text = std::fs::read_to_string(&index).map_err(io_err(&index))?;
        #[derive(Deserialize)]
        struct Index {
            weight_map: BTreeMap<String, String>,
        }
        let idx: Index = serde_json::from_str(&text).map_err(|e| {
            bad_file(
                &index,
                format!("field \"weight_map\" missing or malformed: {e}"),
            )
        })?;
        let shards: BTreeSet<&String> = idx.weight_map.values().collect();
        let mut files = Vec::new();
        let mut found = BTreeMap::new();
        for shard in shards {
            let plain = Path::new(shard)
                .file_name()
                .map(|n| n == shard.as_str())
                .unwrap_or(false);
            if !plain || !shard.ends_with(".safetensors") {
                return Err(bad_file(&index, format!("shard {shard:?} must be a plain *.safetensors file name in the same directory")));
            }
            let path = root.join(shard);
            let header = read_safetensors_header(&path)?;
            for (name, info) in header {
                if idx.weight_map.get(&name) != Some(shard) {
                    return Err(bad_file(
                        &path,
                        format!("tensor {name:?} is not mapped to this shard in the index"),
                    ));
                }
                found.insert(name, info);
            }
            files.push(path);
        }
        if let Some(missing) = idx.weight_map.keys().find(|k| !found.contains_key(*k)) {
            return Err(bad_file(
                &index,
                format!("tensor {missing:?} is listed but not present in its shard"),
            ));
        }
        Ok((files, found))
    }

    /// A `VarBuilder` over the weights, converted to `dtype` on `device`.
    /// The files are read into memory (no memory map, so no `unsafe`).
    pub fn var_builder(
        &self,
        dtype: DType,
        device: &Device,
    ) -> Result<candle_nn::VarBuilder<'static>> {
        let mut all = HashMap::new();
        for file in &self.weight_files {
            let tensors = candle_core::safetensors::load(file, device)
                .map_err(|e| bad_file(file, e.to_string()))?;
            all.extend(tensors);
        }
        Ok(candle_nn::VarBuilder::from_tensors(all, dtype, device))
    }

    /// End-of-sequence ids: `config.json`'s, else `generation_config.json`'s
    /// (empty when neither names one).
    pub fn eos_ids(&self) -> Vec<u32> {
        self.config
            .eos_token_id
            .as_ref()
            .or(self.generation.eos_token_id.as_ref())
            .map(|e| e.to_vec())
            .unwrap_or_default()
    }

    /// sha256 (hex) identifying the directory's contents: the digest of a
    /// manifest with one line `<sha256 of file>  <relative path>\n` per file,
    /// sorted by path (the `sha256sum` format).
    pub fn digest(&self) -> Result<String> {
        dir_digest(&self.root)
    }
}

/// The content digest [`ModelDir::digest`] computes, for any directory.
pub fn dir_digest(root: &Path) -> Result<String> {
    let mut manifest = String::new();
    for (rel, path) in list_files(root)? {
        manifest.push_str(&file_sha256(&path)?);
        manifest.push_str("  ");
        manifest.push_str(&rel);
        manifest.push('\n');
    }
    Ok(hex::encode(Sha256::digest(manifest.as_bytes())))
}

/// sha256 (hex) of one file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `tensors` as a safetensors file with `{"format": "pt"}` metadata
/// (which `transformers` expects). Names are stored in sorted order.
pub(crate) fn write_safetensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (dtype, bytes) =
            tensor_bytes(t).map_err(|e| Error::Invalid(format!("tensor {name:?}: {e}")))?;
        owned.push((name.clone(), dtype, t.dims().to_vec(), bytes));
    }
    owned.sort_by(|a, b| a.0.cmp(&b.0));
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            Ok((
                name.as_str(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path)?;
    Ok(())
}

/// Little-endian bytes of a tensor in its own dtype (F32, F16 or BF16).
fn tensor_bytes(t: &Tensor) -> Result<(safetensors::Dtype, Vec<u8>)> {
    let flat = t.flatten_all()?;
    Ok(match t.dtype() {
        DType::F32 => (
            safetensors::Dtype::F32,
            flat.to_vec1::<f32>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        DType::F16 => (
            safetensors::Dtype::F16,
            flat.to_vec1::<half::f16>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        DType::BF16 => (
            safetensors::Dtype::BF16,
            flat.to_vec1::<half::bf16>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        other => {
            return Err(Error::Invalid(format!(
                "dtype {other:?} cannot be saved — convert to f32, f16 or bf16"
            )))
        }
    })
}

/// `torch_dtype` name of a candle dtype.
fn torch_dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        _ => "float32",
    }
}

/// Creates a fresh temporary directory beside `out` (same filesystem, so
/// that the final rename is atomic).
pub(crate) fn temp_dir_beside(out: &Path) -> Result<PathBuf> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = parent.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
    Ok(tmp)
}

/// Moves a finished temporary directory to `out`. `out` must not exist or
/// be an empty directory; anything else is refused so nothing is overwritten.
pub(crate) fn publish_dir(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let empty = out.is_dir()
            && std::fs::read_dir(out)
                .map_err(io_err(out))?
                .next()
                .is_none();
        if !empty {
            let _ = std::fs::remove_dir_all(tmp);
            return Err(bad_file(
                out,
                "already exists and is not empty — choose a new output directory or remove it",
            ));
        }
        std::fs::remove_dir(out).map_err(io_err(out))?;
    }
    std::fs::rename(tmp, out).map_err(io_err(out))
}

/// Writes a complete HF model directory at `out` (config.json,
/// model.safetensors, tokenizer.json, tokenizer_config.json,
/// generation_config.json, README.md) through a temporary directory that is
/// renamed into place, so `out` appears whole or not at all.
pub fn write_model_dir(
    out: &Path,
    cfg: &LlamaConfig,
    tensors: &HashMap<String, Tensor>,
    tokenizer: &TextTokenizer,
    chat_template: Option<&str>,
    generation: &GenerationConfig,
    model_card: &str,
) -> Result<()> {
    cfg.validate()?;
    let found: TensorHeaders = tensors
        .iter()
        .map(|(n, t)| {
            let dtype = match t.dtype() {
                DType::F32 => "F32",
                DType::F16 => "F16",
                DType::BF16 => "BF16",
                _ => "unsupported",
            };
            (n.clone(), (dtype.to_string(), t.dims().to_vec()))
        })
        .collect();
    check_tensors(cfg, &found, &out.join("model.safetensors"), "the config")?;
    if tokenizer.vocab_size() > cfg.vocab_size {
        return Err(Error::Invalid(format!(
            "tokenizer has {} ids but vocab_size is {} — enlarge the embedding",
            tokenizer.vocab_size(),
            cfg.vocab_size
        )));
    }
    if let Some(t) = chat_template {
        ChatTemplate::new(t, None, None).check()?;
    }
    let mut cfg = cfg.clone();
    if cfg.architectures.is_empty() {
        cfg.architectures = vec!["LlamaForCausalLM".to_string()];
    }
    let dtype = tensors
        .get("model.embed_tokens.weight")
        .map(|t| t.dtype())
        .unwrap_or(DType::F32);
    cfg.torch_dtype = Some(torch_dtype_name(dtype).to_string());

    let tmp = temp_dir_beside(out)?;
    let written = (|| -> Result<()> {
        let write_json = |name: &str, value: &serde_json::Value| -> Result<()> {
            let path = tmp.join(name);
            let text = serde_json::to_string_pretty(value)? + "\n";
            std::fs::write(&path, text).map_err(io_err(&path))
        };
        write_json("config.json", &serde_json::to_value(&cfg)?)?;
        write_safetensors(&tmp.join("model.safetensors"), tensors)?;
        tokenizer.save(&tmp.join("tokenizer.json"))?;
        write_json(
            "tokenizer_config.json",
            &tokenizer_config_json(&cfg, tokenizer, chat_template),
        )?;
        write_json("generation_config.json", &serde_json::to_value(generation)?)?;
        let readme = tmp.join("README.md");
        std::fs::write(&readme, model_card).map_err(io_err(&readme))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    publish_dir(&tmp, out)
}

/// `tokenizer_config.json` for a fast tokenizer: special tokens by content,
/// the added-token table and the chat template.
fn tokenizer_config_json(
    cfg: &LlamaConfig,
    tokenizer: &TextTokenizer,
    chat_template: Option<&str>,
) -> serde_json::Value {
    let token = |id: Option<u32>| {
        id.and_then(|i| tokenizer.id_to_token(i))
            .map(serde_json::Value::String)
            .unwrap_or(serde_json::Value::Null)
    };
    let eos = cfg
        .eos_token_id
        .as_ref()
        .and_then(|e| e.to_vec().first().copied());
    let mut added: Vec<(u32, tokenizers::AddedToken)> = tokenizer
        .inner()
        .get_added_tokens_decoder()
        .into_iter()
        .collect();
    added.sort_by_key(|(id, _)| *id);
    let decoder: serde_json::Map<String, serde_json::Value> = added
        .into_iter()
        .map(|(id, t)| {
            (
                id.to_string(),
                serde_json::json!({
                    "content": t.content, "lstrip": t.lstrip, "normalized": t.normalized,
                    "rstrip": t.rstrip, "single_word": t.single_word, "special": t.special,
                }),
            )
        })
        .collect();
    let mut v = serde_json::json!({
        "added_tokens_decoder": decoder,
        "bos_token": token(cfg.bos_token_id),
        "eos_token": token(eos),
        "pad_token": token(cfg.pad_token_id),
        "clean_up_tokenization_spaces": false,
        "model_max_length": cfg.max_position_embeddings,
        "tokenizer_class": "PreTrainedTokenizerFast",
    });
    if let Some(t) = chat_template {
        v["chat_template"] = serde_json::Value::String(t.to_string());
    }
    v
}
