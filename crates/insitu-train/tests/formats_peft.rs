//! PEFT adapter directories: round trip, and refusal of adapters insitu
//! cannot apply faithfully.

use candle_core::{Device, Tensor};
use insitu_train::lora::LoraConfig;
use insitu_train::peft::{lora_tensor_name, read_adapter, write_adapter};
use std::collections::HashMap;

fn lora() -> LoraConfig {
    LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        target_modules: vec!["q_proj".into(), "down_proj".into()],
        use_rslora: true,
        ..LoraConfig::default()
    }
}

fn tensors(cfg: &LoraConfig) -> HashMap<String, Tensor> {
    let dev = Device::Cpu;
    let mut m = HashMap::new();
    for layer in 0..2 {
        for (module, out, inp) in [("q_proj", 16, 16), ("down_proj", 16, 32)] {
            let a = Tensor::arange(0f32, (cfg.r * inp) as f32, &dev)
                .unwrap()
                .reshape((cfg.r, inp))
                .unwrap();
            let b = Tensor::ones((out, cfg.r), candle_core::DType::F32, &dev).unwrap();
            m.insert(lora_tensor_name(layer, module, 'A'), a);
            m.insert(lora_tensor_name(layer, module, 'B'), b);
        }
    }
    m
}

#[test]
fn adapter_round_trips_with_peft_names_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adapter");
    let cfg = lora();
    write_adapter(
        &out,
        &cfg,
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        &tensors(&cfg),
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(json["peft_type"], "LORA");
    assert_eq!(json["task_type"], "CAUSAL_LM");
    assert_eq!(
        json["base_model_name_or_path"],
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    );
    assert_eq!(json["use_rslora"], true);
    assert_eq!(
        json["target_modules"],
        serde_json::json!(["q_proj", "down_proj"])
    );
    let (back, ts) = read_adapter(&out).unwrap();
    assert_eq!(back, cfg);
    assert_eq!(ts.len(), 8);
    let a = &ts["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"];
    assert_eq!(a.dims(), &[4, 32]);
    assert_eq!(a.flatten_all().unwrap().to_vec1::<f32>().unwrap()[5], 5.0);
}

#[test]
fn write_refuses_inconsistent_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = lora();
    let mut ts = tensors(&cfg);
    ts.remove(&lora_tensor_name(1, "q_proj", 'B'));
    let e = write_adapter(&dir.path().join("a"), &cfg, "m", &ts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer 1 q_proj"), "{e}");
    let mut ts = tensors(&cfg);
    ts.insert(
        lora_tensor_name(0, "v_proj", 'A'),
        Tensor::zeros((4, 16), candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    let e = write_adapter(&dir.path().join("b"), &cfg, "m", &ts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("v_proj"), "{e}");
    let wrong_rank = LoraConfig {
        r: 8,
        ..cfg.clone()
    };
    let e = write_adapter(&dir.path().join("c"), &wrong_rank, "m", &tensors(&cfg))
        .unwrap_err()
        .to_string();
    assert!(e.contains("rank r = 8"), "{e}");
    assert!(
        !dir.path().join("a").exists()
            && !dir.path().join("b").exists()
            && !dir.path().join("c").exists()
    );
}

#[test]
fn read_refuses_unsupported_peft_features_and_pickle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adapter");
    let cfg = lora();
    write_adapter(&out, &cfg, "m", &tensors(&cfg)).unwrap();
    let path = out.join("adapter_config.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (field, value) in [
        ("use_dora", serde_json::json!(true)),
        ("bias", serde_json::json!("all")),
        ("modules_to_save", serde_json::json!(["lm_head"])),
        ("rank_pattern", serde_json::json!({"q_proj": 8})),
        ("target_modules", serde_json::json!("all-linear")),
        ("peft_type", serde_json::json!("IA3")),
        ("r", serde_json::json!(0)),
    ] {
        let mut v = original.clone();
        v[field] = value;
        std::fs::write(&path, v.to_string()).unwrap();
        let e = read_adapter(&out).unwrap_err().to_string();
        assert!(
            e.contains(field) || (field == "r" && e.contains("r = 0")),
            "{field}: {e}"
        );
    }
    std::fs::write(&path, original.to_string()).unwrap();
    read_adapter(&out).unwrap();
    std::fs::write(out.join("adapter_model.bin"), b"pickle").unwrap();
    let e = read_adapter(&out).unwrap_err().to_string();
    assert!(e.contains("pickle"), "{e}");
}

fn interop_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/peft_adapter")
}

#[test]
fn reads_an_adapter_that_peft_saved() {
    // Written by PEFT 0.21.2 (interop/peft_adapter/run.sh), including every
    // config key that version knows and its own README.md.
    let (cfg, ts) = read_adapter(&interop_dir().join("peft_written")).unwrap();
    assert_eq!((cfg.r, cfg.lora_alpha, cfg.use_rslora), (8, 16.0, false));
    let mut modules = cfg.target_modules.clone();
    modules.sort();
    assert_eq!(modules, ["down_proj", "q_proj", "v_proj"]);
    assert_eq!(ts.len(), 12);
    assert_eq!(ts[&lora_tensor_name(1, "v_proj", 'B')].dims(), &[8, 8]);
    assert_eq!(ts[&lora_tensor_name(0, "down_proj", 'A')].dims(), &[8, 32]);
}

/// Writes an adapter for interop/peft_adapter/run.sh to load with PEFT
/// (tiny Llama: hidden 16, 2 kv heads of 4, MLP 32, 2 layers).
#[test]
#[ignore = "run by interop/peft_adapter/run.sh with INSITU_PEFT_OUT set"]
fn write_adapter_for_peft_interop() {
    let Some(out) = std::env::var_os("INSITU_PEFT_OUT") else {
        eprintln!("notice: INSITU_PEFT_OUT not set — nothing written");
        return;
    };
    let cfg = LoraConfig {
        r: 8,
        lora_alpha: 16.0,
        lora_dropout: 0.0,
        target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        use_rslora: false,
        ..LoraConfig::default()
    };
    let dev = Device::Cpu;
    let mut ts = HashMap::new();
    for layer in 0..2 {
        for (module, out_dim, in_dim) in
            [("q_proj", 16, 16), ("v_proj", 8, 16), ("down_proj", 16, 32)]
        {
            let a = Tensor::arange(0f32, (8 * in_dim) as f32, &dev)
                .unwrap()
                .affine(0.01, layer as f64)
                .unwrap()
                .reshape((8, in_dim))
                .unwrap();
            let b = Tensor::arange(0f32, (out_dim * 8) as f32, &dev)
                .unwrap()
                .affine(-0.02, 0.5)
                .unwrap()
                .reshape((out_dim, 8))
                .unwrap();
            ts.insert(lora_tensor_name(layer, module, 'A'), a);
            ts.insert(lora_tensor_name(layer, module, 'B'), b);
        }
    }
    write_adapter(std::path::Path::new(&out), &cfg, "tiny-random-llama", &ts).unwrap();
    eprintln!("wrote {}", std::path::Path::new(&out).display());
}
