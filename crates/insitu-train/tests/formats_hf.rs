//! Writing and reopening Hugging Face model directories, and the refusals
//! that keep hostile directories out.

use candle_core::{DType, Device, Tensor};
use insitu_train::config::LlamaConfig;
use insitu_train::hf::{write_model_dir, GenerationConfig, ModelDir};
use insitu_train::tokenizer::{train_bpe, TextTokenizer};
use std::collections::HashMap;
use std::path::Path;

const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

fn tiny_config() -> LlamaConfig {
    LlamaConfig::from_json(
        r#"{"model_type": "llama", "vocab_size": 300, "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}"#,
    )
    .unwrap()
}

fn tokenizer() -> TextTokenizer {
    let texts: Vec<String> = (0..40)
        .map(|i| format!("Patient {i} seen on ward, plan reviewed."))
        .collect();
    train_bpe(
        &texts,
        300,
        &["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    )
    .unwrap()
}

/// Deterministic weights of the right shapes (values from a simple ramp).
fn tensors(cfg: &LlamaConfig) -> HashMap<String, Tensor> {
    let dev = Device::Cpu;
    let shapes: Vec<(String, Vec<usize>)> = {
        let (h, q, kv, i) = (16, 16, 8, 32);
        let mut v = vec![
            (
                "model.embed_tokens.weight".to_string(),
                vec![cfg.vocab_size, h],
            ),
            ("model.norm.weight".into(), vec![h]),
        ];
        for l in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{l}");
            v.push((format!("{p}.input_layernorm.weight"), vec![h]));
            v.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            v.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
            v.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
            v.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
            v.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
            v.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
        }
        v
    };
    shapes
        .into_iter()
        .map(|(n, s)| {
            let count: usize = s.iter().product();
            let t = Tensor::arange(0f32, count as f32, &dev)
                .unwrap()
                .affine(1e-3, -0.1)
                .unwrap()
                .reshape(s)
                .unwrap();
            (n, t)
        })
        .collect()
}

fn write_tiny(out: &Path) {
    let cfg = tiny_config();
    let generation = GenerationConfig {
        eos_token_id: cfg.eos_token_id.clone(),
        max_new_tokens: Some(64),
        ..Default::default()
    };
    write_model_dir(
        out,
        &cfg,
        &tensors(&cfg),
        &tokenizer(),
        Some(CHATML),
        &generation,
        "# tiny\n",
    )
    .unwrap();
}

#[test]
fn written_directory_reopens_with_same_contents() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_tiny(&out);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "README.md",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let m = ModelDir::open(&out).unwrap();
    assert_eq!(m.config.num_hidden_layers, 2);
    assert_eq!(m.config.torch_dtype.as_deref(), Some("float32"));
    assert_eq!(m.generation.max_new_tokens, Some(64));
    let chat = m.chat.as_ref().unwrap();
    assert_eq!(
        chat.eos_token(),
        Some("<|im_end|>"),
        "eos id 2 is the third special token"
    );
    let msgs = [insitu_train::chat::Message::new("user", "hi")];
    assert_eq!(
        chat.render(&msgs, true).unwrap(),
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
    let vb = m.var_builder(DType::F32, &Device::Cpu).unwrap();
    let emb = vb.get((300, 16), "model.embed_tokens.weight").unwrap();
    let want = &tensors(&m.config)["model.embed_tokens.weight"];
    let diff = (emb - want)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(diff, 0.0);
    // transformers requires the "format" metadata in safetensors files.
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(header.contains("\"format\":\"pt\""), "{header}");
}

#[test]
fn digest_is_stable_and_sensitive_to_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write_tiny(&a);
    write_tiny(&b);
    let da = ModelDir::open(&a).unwrap().digest().unwrap();
    assert_eq!(
        da,
        ModelDir::open(&b).unwrap().digest().unwrap(),
        "same content, same digest"
    );
    assert_eq!(da.len(), 64);
    std::fs::write(b.join("README.md"), "# changed\n").unwrap();
    assert_ne!(da, ModelDir::open(&b).unwrap().digest().unwrap());
}

#[test]
fn refuses_to_overwrite_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "x").unwrap();
    let cfg = tiny_config();
    let e = write_model_dir(
        &out,
        &cfg,
        &tensors(&cfg),
        &tokenizer(),
        None,
        &GenerationConfig::default(),
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not empty"), "{e}");
    assert_eq!(std::fs::read_to_string(out.join("keep.txt")).unwrap(), "x");
    // No temporary directory is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn refuses_pickle_and_code_files() {
    for bad in [
        "pytorch_model.bin",
        "modeling_evil.py",
        "sub/optimizer.pt",
        "weights.ckpt",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("model");
        write_tiny(&out);
        let path = out.join(bad);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"\x80\x02}q\x00.").unwrap();
        let e = ModelDir::open(&out).unwrap_err().to_string();
        assert!(
            e.contains("refused") && e.contains(bad.rsplit('/').next().unwrap()),
            "{bad}: {e}"
        );
    }
}

#[test]
fn refuses_shape_mismatch_missing_weights_and_hostile_headers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_tiny(&out);
    // config claims more layers than the weights hold
    let cfg_path = out.join("config.json");
    let original = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        original.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"),
    )
    .unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("model.layers.2") && e.contains("missing"), "{e}");
    // config claims a wider MLP
    std::fs::write(
        &cfg_path,
        original.replace("\"intermediate_size\": 32", "\"intermediate_size\": 48"),
    )
    .unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("shape") && e.contains("[16, 48]"), "{e}");
    std::fs::write(&cfg_path, &original).unwrap();
    // header whose offsets run past the end of the file
    let st = out.join("model.safetensors");
    let mut bytes = std::fs::read(&st).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&st, &bytes).unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("outside"), "{e}");
    // header length larger than the file
    std::fs::write(&st, u64::MAX.to_le_bytes()).unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("implausible"), "{e}");
    std::fs::remove_file(&st).unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("only safetensors"), "{e}");
}

#[test]
fn opens_sharded_checkpoints_and_rejects_path_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_tiny(&out);
    // Split the single file into two shards with an index.
    let all = candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    std::fs::remove_file(out.join("model.safetensors")).unwrap();
    let (mut s1, mut s2) = (HashMap::new(), HashMap::new());
    let mut map = serde_json::Map::new();
    for (name, t) in all {
        let (shard, file) = if name.contains("layers.1") {
            (&mut s2, "model-00002-of-00002.safetensors")
        } else {
            (&mut s1, "model-00001-of-00002.safetensors")
        };
        shard.insert(name.clone(), t);
        map.insert(name, file.into());
    }
    candle_core::safetensors::save(&s1, out.join("model-00001-of-00002.safetensors")).unwrap();
    candle_core::safetensors::save(&s2, out.join("model-00002-of-00002.safetensors")).unwrap();
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(out.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let m = ModelDir::open(&out).unwrap();
    assert_eq!(m.weight_files.len(), 2);
    m.var_builder(DType::F32, &Device::Cpu)
        .unwrap()
        .get((16,), "model.norm.weight")
        .unwrap();
    // An index pointing outside the directory is refused.
    let mut evil = index.clone();
    evil["weight_map"]["model.norm.weight"] = "../../etc/passwd.safetensors".into();
    std::fs::write(out.join("model.safetensors.index.json"), evil.to_string()).unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("plain"), "{e}");
}

#[cfg(unix)]
#[test]
fn refuses_directory_symlinks_that_could_loop() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    write_tiny(&out);
    std::os::unix::fs::symlink(&out, out.join("loop")).unwrap();
    let e = ModelDir::open(&out).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    std::fs::remove_file(out.join("loop")).unwrap();
    // A symlinked file (as in the HF cache) is fine.
    std::fs::rename(out.join("README.md"), dir.path().join("card.md")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("card.md"), out.join("README.md")).unwrap();
    ModelDir::open(&out).unwrap().digest().unwrap();
}
