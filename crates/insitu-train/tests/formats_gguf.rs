//! GGUF import: a small llama.cpp-style file is written with candle's GGUF
//! writer (q/k rows permuted as llama.cpp's converter does), imported, and
//! compared with the original weights and tokenizer.

mod support;
use support::max_abs_diff;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use insitu_train::gguf::{import, permute_rope_rows};
use insitu_train::hf::ModelDir;
use insitu_train::tokenizer::{train_bpe, TextTokenizer};
use std::collections::HashMap;
use std::path::Path;

const HIDDEN: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 128;
const LAYERS: usize = 2;
const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

fn tokenizer() -> TextTokenizer {
    let texts: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "Patient {i} reviewed on the ward; plan: continue antibiotics, repeat bloods {}.",
                i * 7
            )
        })
        .collect();
    train_bpe(
        &texts,
        320,
        &["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    )
    .unwrap()
}

/// Deterministic, non-symmetric weights so that a wrong permutation shows.
fn weight(rows: usize, cols: usize, salt: f32) -> Tensor {
    let n = rows * cols;
    let v: Vec<f32> = (0..n)
        .map(|i| (i as f32 * 0.37 + salt).sin() * 0.5)
        .collect();
    Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
}

/// The HF tensors of the test model (untied head when `tied` is false).
fn hf_tensors(vocab: usize, tied: bool, qkv_bias: bool) -> HashMap<String, Tensor> {
    let mut m = HashMap::new();
    m.insert(
        "model.embed_tokens.weight".to_string(),
        weight(vocab, HIDDEN, 0.1),
    );
    m.insert(
        "model.norm.weight".to_string(),
        weight(1, HIDDEN, 0.2).reshape(HIDDEN).unwrap(),
    );
    if !tied {
        m.insert("lm_head.weight".to_string(), weight(vocab, HIDDEN, 0.3));
    }
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        let s = l as f32;
        m.insert(
            format!("{p}.input_layernorm.weight"),
            weight(1, HIDDEN, s + 0.4).reshape(HIDDEN).unwrap(),
        );
        m.insert(
            format!("{p}.post_attention_layernorm.weight"),
            weight(1, HIDDEN, s + 0.5).reshape(HIDDEN).unwrap(),
        );
        m.insert(
            format!("{p}.self_attn.q_proj.weight"),
            weight(HEADS * HEAD_DIM, HIDDEN, s + 0.6),
        );
        m.insert(
            format!("{p}.self_attn.k_proj.weight"),
            weight(KV_HEADS * HEAD_DIM, HIDDEN, s + 0.7),
        );
        m.insert(
            format!("{p}.self_attn.v_proj.weight"),
            weight(KV_HEADS * HEAD_DIM, HIDDEN, s + 0.8),
        );
        m.insert(
            format!("{p}.self_attn.o_proj.weight"),
            weight(HIDDEN, HEADS * HEAD_DIM, s + 0.9),
        );
        m.insert(
            format!("{p}.mlp.gate_proj.weight"),
            weight(FFN, HIDDEN, s + 1.0),
        );
        m.insert(
            format!("{p}.mlp.up_proj.weight"),
            weight(FFN, HIDDEN, s + 1.1),
        );
        m.insert(
            format!("{p}.mlp.down_proj.weight"),
            weight(HIDDEN, FFN, s + 1.2),
        );
        if qkv_bias {
            for (name, rows) in [
                ("q_proj", HEADS * HEAD_DIM),
                ("k_proj", KV_HEADS * HEAD_DIM),
                ("v_proj", KV_HEADS * HEAD_DIM),
            ] {
                m.insert(
                    format!("{p}.self_attn.{name}.bias"),
                    weight(1, rows, s + 1.3).reshape(rows).unwrap(),
                );
            }
        }
    }
    m
}

/// llama.cpp's name for an HF tensor (what its converter writes).
fn gguf_name(hf: &str) -> String {
    match hf {
        "model.embed_tokens.weight" => "token_embd.weight".into(),
        "model.norm.weight" => "output_norm.weight".into(),
        "lm_head.weight" => "output.weight".into(),
        _ => {
            let rest = hf.strip_prefix("model.layers.").unwrap();
            let (layer, rest) = rest.split_once('.').unwrap();
            let (rest, kind) = rest.rsplit_once('.').unwrap();
            let part = match rest {
                "input_layernorm" => "attn_norm",
                "post_attention_layernorm" => "ffn_norm",
                "self_attn.q_proj" => "attn_q",
                "self_attn.k_proj" => "attn_k",
                "self_attn.v_proj" => "attn_v",
                "self_attn.o_proj" => "attn_output",
                "mlp.gate_proj" => "ffn_gate",
                "mlp.up_proj" => "ffn_up",
                "mlp.down_proj" => "ffn_down",
                other => panic!("{other}"),
            };
            format!("blk.{layer}.{part}.{kind}")
        }
    }
}

struct Options<'a> {
    arch: &'a str,
    tokenizer_model: &'a str,
    pre: &'a str,
    quant: GgmlDType,
    tied: bool,
    extra_tensor: bool,
    /// `llama.feed_forward_length` to claim (defaults to the real width).
    claimed_ffn: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`.
    add_bos: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            arch: "llama",
            tokenizer_model: "gpt2",
            pre: "gpt2",
            quant: GgmlDType::F32,
            tied: false,
            extra_tensor: false,
            claimed_ffn: None,
            add_bos: false,
        }
    }
}

/// Writes a GGUF file the way llama.cpp's converter lays one out.
fn write_gguf(path: &Path, tok: &TextTokenizer, opts: &Options) -> HashMap<String, Tensor> {
    let json: serde_json::Value = serde_json::from_str(&tok.to_json().unwrap()).unwrap();
    let vocab = tok.vocab_size();
    let mut tokens = vec![String::new(); vocab];
    for (t, id) in json["model"]["vocab"].as_object().unwrap() {
        tokens[id.as_u64().unwrap() as usize] = t.clone();
    }
    for added in json["added_tokens"].as_array().unwrap() {
        tokens[added["id"].as_u64().unwrap() as usize] =
            added["content"].as_str().unwrap().to_string();
    }
    let types: Vec<Value> = (0..vocab)
        .map(|i| Value::I32(if i < 3 { 3 } else { 1 }))
        .collect();
    let merges: Vec<Value> = json["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(p) => Value::String(format!(
                "{} {}",
                p[0].as_str().unwrap(),
                p[1].as_str().unwrap()
            )),
            _ => panic!(),
        })
        .collect();
    let s = |x: &str| Value::String(x.to_string());
    let a = opts.arch;
    let metadata: Vec<(String, Value)> = vec![
        ("general.architecture".to_string(), s(opts.arch)),
        ("general.name".to_string(), s("Tiny Test Llama")),
        ("general.license".to_string(), s("apache-2.0")),
        (format!("{a}.block_count"), Value::U32(LAYERS as u32)),
        (format!("{a}.context_length"), Value::U32(512)),
        (format!("{a}.embedding_length"), Value::U32(HIDDEN as u32)),
        (
            format!("{a}.feed_forward_length"),
            Value::U32(opts.claimed_ffn.unwrap_or(FFN as u32)),
        ),
        (
            format!("{a}.attention.head_count"),
            Value::U32(HEADS as u32),
        ),
        (
            format!("{a}.attention.head_count_kv"),
            Value::U32(KV_HEADS as u32),
        ),
        (format!("{a}.rope.freq_base"), Value::F32(100000.0)),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-5),
        ),
        (
            format!("{a}.rope.dimension_count"),
            Value::U32(HEAD_DIM as u32),
        ),
        (format!("{a}.vocab_size"), Value::U32(vocab as u32)),
        ("tokenizer.ggml.model".to_string(), s(opts.tokenizer_model)),
        ("tokenizer.ggml.pre".to_string(), s(opts.pre)),
        (
            "tokenizer.ggml.tokens".to_string(),
            Value::Array(tokens.iter().map(|t| s(t)).collect()),
        ),
        ("tokenizer.ggml.token_type".to_string(), Value::Array(types)),
        ("tokenizer.ggml.merges".to_string(), Value::Array(merges)),
        ("tokenizer.ggml.bos_token_id".to_string(), Value::U32(1)),
        ("tokenizer.ggml.eos_token_id".to_string(), Value::U32(2)),
        ("tokenizer.ggml.padding_token_id".to_string(), Value::U32(2)),
        (
            "tokenizer.ggml.add_bos_token".to_string(),
            Value::Bool(opts.add_bos),
        ),
        ("tokenizer.chat_template".to_string(), s(CHATML)),
    ];
    let hf = hf_tensors(vocab, opts.tied, opts.arch == "qwen2");
    let mut q: Vec<(String, QTensor)> = Vec::new();
    for (name, t) in &hf {
        let llama = opts.arch == "llama";
        let stored = if llama && name.ends_with("q_proj.weight") {
            permute_rope_rows(t, HEADS).unwrap()
        } else if llama && name.ends_with("k_proj.weight") {
            permute_rope_rows(t, KV_HEADS).unwrap()
        } else {
            t.clone()
        };
        // llama.cpp keeps norms in F32 whatever the file type.
        let dtype = if t.rank() == 1 {
            GgmlDType::F32
        } else {
            opts.quant
        };
        q.push((gguf_name(name), QTensor::quantize(&stored, dtype).unwrap()));
    }
    if opts.extra_tensor {
        q.push((
            "mm.projector.weight".into(),
            QTensor::quantize(&weight(2, 32, 0.0), GgmlDType::F32).unwrap(),
        ));
    }
    q.sort_by(|a, b| a.0.cmp(&b.0));
    let md_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = q.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &md_refs, &t_refs).unwrap();
    hf
}

#[test]
fn f32_gguf_imports_to_the_exact_hf_weights_and_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    let tok = tokenizer();
    let original = write_gguf(&gguf, &tok, &Options::default());
    let out = dir.path().join("hf");
    let summary = import(&gguf, &out, DType::F32).unwrap();
    assert_eq!(summary.license.as_deref(), Some("apache-2.0"));
    assert_eq!(summary.tensor_types["F32"], original.len());
    assert_eq!(
        summary.source_sha256,
        insitu_train::hf::file_sha256(&gguf).unwrap()
    );

    let m = ModelDir::open(&out).unwrap();
    assert_eq!(m.config.num_key_value_heads, Some(KV_HEADS));
    assert_eq!(
        m.config.rms_norm_eps, 1e-5,
        "f32 metadata read back as the value that was written"
    );
    assert_eq!(m.config.rope_theta, 100000.0);
    assert!(!m.config.tie_word_embeddings);
    assert_eq!(m.config.eos_token_id.as_ref().unwrap().to_vec(), vec![2]);
    assert_eq!(
        m.generation.eos_token_id.as_ref().unwrap().to_vec(),
        vec![2]
    );
    let chat = m.chat.as_ref().unwrap();
    assert_eq!(chat.eos_token(), Some("<|im_end|>"));
    assert_eq!(chat.source(), CHATML);

    let vb = m.var_builder(DType::F32, &Device::Cpu).unwrap();
    for (name, want) in &original {
        let got = vb.get(want.dims(), name).unwrap();
        assert_eq!(
            max_abs_diff(&got, want),
            0.0,
            "{name} differs (q/k permutation not undone?)"
        );
    }

    for text in [
        "Patient 12 reviewed on the ward.",
        "plan:  continue\n\nantibiotics 2024",
        "<|im_start|>user\nhi<|im_end|>",
        "é ü 中文 🙂",
    ] {
        assert_eq!(
            m.tokenizer.encode(text, true).unwrap(),
            tok.encode(text, true).unwrap(),
            "{text:?}"
        );
        let ids = m.tokenizer.encode(text, false).unwrap();
        assert_eq!(m.tokenizer.decode(&ids, false).unwrap(), text);
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("tiny.gguf")
            && card.contains(&summary.source_sha256)
            && card.contains("apache-2.0"),
        "{card}"
    );
}

#[test]
fn quantised_gguf_imports_within_quantisation_error_and_tied_head() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("q8.gguf");
    let tok = tokenizer();
    let original = write_gguf(
        &gguf,
        &tok,
        &Options {
            quant: GgmlDType::Q8_0,
            tied: true,
            ..Options::default()
        },
    );
    let out = dir.path().join("hf");
    let summary = import(&gguf, &out, DType::BF16).unwrap();
    assert!(summary.tensor_types.contains_key("Q8_0"));
    let m = ModelDir::open(&out).unwrap();
    assert!(m.config.tie_word_embeddings);
    assert_eq!(m.config.torch_dtype.as_deref(), Some("bfloat16"));
    let vb = m.var_builder(DType::F32, &Device::Cpu).unwrap();
    for name in [
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.embed_tokens.weight",
    ] {
        let want = &original[name];
        let got = vb.get(want.dims(), name).unwrap();
        // Q8_0 (≈0.4% of the block max) plus bf16 rounding (≈0.4%) of |w| ≤ 0.5.
        assert!(
            max_abs_diff(&got, want) < 0.01,
            "{name}: {}",
            max_abs_diff(&got, want)
        );
    }
}

#[test]
fn every_llama_cpp_weight_type_dequantises_close_to_the_source() {
    let src = weight(4, 256, 0.3);
    for (dtype, tol) in [
        (GgmlDType::F16, 1e-3),
        (GgmlDType::BF16, 4e-3),
        (GgmlDType::Q8_0, 5e-3),
        (GgmlDType::Q5_0, 4e-2),
        (GgmlDType::Q5_1, 4e-2),
        (GgmlDType::Q4_0, 8e-2),
        (GgmlDType::Q4_1, 8e-2),
        (GgmlDType::Q6K, 2e-2),
        (GgmlDType::Q5K, 4e-2),
        (GgmlDType::Q4K, 8e-2),
        (GgmlDType::Q3K, 0.15),
        (GgmlDType::Q2K, 0.3),
    ] {
        let back = QTensor::quantize(&src, dtype)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap();
        let d = max_abs_diff(&back, &src);
        assert!(d < tol, "{dtype:?}: max error {d} ≥ {tol}");
    }
}

#[test]
fn smollm_pre_tokenizer_splits_every_digit() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("smol.gguf");
    let tok = tokenizer();
    write_gguf(
        &gguf,
        &tok,
        &Options {
            pre: "smollm",
            ..Options::default()
        },
    );
    let out = dir.path().join("hf");
    import(&gguf, &out, DType::F32).unwrap();
    let m = ModelDir::open(&out).unwrap();
    let ids = m.tokenizer.encode("2024", false).unwrap();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(m.tokenizer.decode(&ids, false).unwrap(), "2024");
}

#[test]
fn refuses_unsupported_files_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let tok = tokenizer();
    for (opts, expect) in [
        (
            Options {
                arch: "gpt2",
                ..Options::default()
            },
            "general.architecture",
        ),
        (
            Options {
                tokenizer_model: "llama",
                ..Options::default()
            },
            "SentencePiece",
        ),
        (
            Options {
                pre: "tekken",
                ..Options::default()
            },
            "tekken",
        ),
        (
            Options {
                claimed_ffn: Some(4096),
                ..Options::default()
            },
            "the GGUF metadata implies [64, 4096]",
        ),
        (
            Options {
                extra_tensor: true,
                ..Options::default()
            },
            "mm.projector.weight",
        ),
    ] {
        let gguf = dir.path().join("bad.gguf");
        write_gguf(&gguf, &tok, &opts);
        let out = dir.path().join("out");
        let e = import(&gguf, &out, DType::F32).unwrap_err().to_string();
        assert!(e.contains(expect), "{expect}: {e}");
        assert!(!out.exists(), "nothing is written on failure");
    }
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let e = import(&junk, &dir.path().join("out"), DType::F32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.gguf"), "{e}");
    let e = import(&junk, &dir.path().join("out"), DType::F16)
        .unwrap_err()
        .to_string();
    assert!(e.contains("f32 or bf16"), "{e}");
}

#[test]
fn llama3_style_vocabulary_gets_its_split_and_a_bos_post_processor() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("l3.gguf");
    let tok = tokenizer();
    write_gguf(
        &gguf,
        &tok,
        &Options {
            pre: "llama-bpe",
            add_bos: true,
            ..Options::default()
        },
    );
    let out = dir.path().join("hf");
    import(&gguf, &out, DType::F32).unwrap();
    let m = ModelDir::open(&out).unwrap();
    let with = m.tokenizer.encode("Patient 12 reviewed.", true).unwrap();
    let without = m.tokenizer.encode("Patient 12 reviewed.", false).unwrap();
    assert_eq!(with[0], 1, "BOS (id 1) first: {with:?}");
    assert_eq!(&with[1..], without.as_slice());
    // Text survives Llama 3's split (digit runs cut into groups of up to three).
    let digits = m.tokenizer.encode("12345", false).unwrap();
    assert_eq!(m.tokenizer.decode(&digits, false).unwrap(), "12345");
    assert_eq!(
        m.tokenizer.decode(&with, true).unwrap(),
        "Patient 12 reviewed."
    );
}

#[test]
fn qwen2_imports_with_biases_and_without_row_permutation() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("qwen2.gguf");
    let tok = tokenizer();
    let original = write_gguf(
        &gguf,
        &tok,
        &Options {
            arch: "qwen2",
            pre: "qwen2",
            ..Options::default()
        },
    );
    let out = dir.path().join("hf");
    import(&gguf, &out, DType::F32).unwrap();
    let m = ModelDir::open(&out).unwrap();
    assert_eq!(m.config.model_type, "qwen2");
    assert_eq!(m.config.architectures, ["Qwen2ForCausalLM"]);
    assert!(m.config.qkv_bias());
    let vb = m.var_builder(DType::F32, &Device::Cpu).unwrap();
    assert!(original.contains_key("model.layers.1.self_attn.k_proj.bias"));
    for (name, want) in &original {
        let got = vb.get(want.dims(), name).unwrap();
        assert_eq!(max_abs_diff(&got, want), 0.0, "{name}");
    }
    // NFC normalisation: a decomposed "é" encodes like the composed one.
    assert_eq!(
        m.tokenizer.encode("caf\u{65}\u{301}", false).unwrap(),
        m.tokenizer.encode("caf\u{e9}", false).unwrap()
    );
}
