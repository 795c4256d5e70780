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
