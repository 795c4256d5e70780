//! NF4 on real weights: the imported SmolLM2-135M-Instruct
//! (`$INSITU_SMOLLM2_DIR`, else `~/.cache/insitu/models/smollm2-135m-instruct`
//! from `insitu base fetch smollm2-135m-instruct`). Skipped with a notice
//! when it has not been imported. Ignored by default (loads 135M weights):
//! `cargo test -p insitu-train --test quant_smollm2 -- --ignored --nocapture`.

use insitu_train::lora::BaseQuantization;
use insitu_train::model::Model;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn smollm2_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("INSITU_SMOLLM2_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/insitu/models/smollm2-135m-instruct"),
    };
    if dir.join("config.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: SmolLM2 not imported at {} — skipped",
            dir.display()
        );
        None
    }
}

#[test]
#[ignore]
fn nf4_relative_error_per_projection_on_smollm2() {
    let Some(dir) = smollm2_dir() else { return };
    let md = insitu_train::hf::ModelDir::open(&dir).unwrap();
    let mut model = Model::from_dir(&md).unwrap();
    let dense = model.merged_tensors().unwrap();
    for q in [BaseQuantization::Nf4, BaseQuantization::Nf4DoubleQuant] {
        let mut model = model.clone();
        let bytes = insitu_train::quant::quantize_model_base(&mut model, q).unwrap();
        let quantised = model.merged_tensors().unwrap();
        // ‖W − Ŵ‖ / ‖W‖ over all layers, per projection kind.
        let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for (name, w) in &dense {
            if !name.ends_with("proj.weight") {
                continue;
            }
            let sq = |t: &candle_core::Tensor| {
                t.sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap() as f64
            };
            let err = sq(&(w - &quantised[name]).unwrap());
            let kind = name.rsplit('.').nth(1).unwrap().to_string();
            let s = sums.entry(kind).or_default();
            s.0 += err;
            s.1 += sq(w);
        }
        println!(
            "{q}: projection weights {:.1} MiB",
            bytes as f64 / 1048576.0
        );
        for (kind, (err, norm)) in &sums {
            let rel = (err / norm).sqrt();
            println!("  {kind}: relative error {rel:.4}");
            // 4-bit NormalFloat on bell-shaped weights: about 0.09–0.10.
            assert!(rel < 0.12, "{q} {kind}: relative error {rel}");
        }
    }
    // The non-projection tensors are untouched.
    insitu_train::quant::quantize_model_base(&mut model, BaseQuantization::Nf4).unwrap();
    let after = model.merged_tensors().unwrap();
    for (name, w) in &dense {
        if !name.ends_with("proj.weight") {
            let same = (w - &after[name])
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0, "{name} changed");
        }
    }
}

#[test]
#[ignore]
fn gguf_blocks_reproduce_the_imported_weights() {
    // The GGUF the model was imported from (`insitu base fetch` keeps it).
    let Some(dir) = smollm2_dir() else { return };
    let gguf = dir.join("../../gguf/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !gguf.is_file() {
        eprintln!("notice: {} not found — skipped", gguf.display());
        return;
    }
    let md = insitu_train::hf::ModelDir::open(&dir).unwrap();
    let dense = Model::from_dir(&md).unwrap().merged_tensors().unwrap();
    let mut file = std::fs::File::open(&gguf).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let heads = md.config.num_attention_heads;
    let kv_heads = md.config.kv_heads();
    for (gguf_name, hf_name, rope_heads) in [
        (
            "blk.0.attn_q.weight",
            "model.layers.0.self_attn.q_proj.weight",
            Some(heads),
        ),
        (
            "blk.5.attn_k.weight",
            "model.layers.5.self_attn.k_proj.weight",
            Some(kv_heads),
        ),
        (
            "blk.29.ffn_down.weight",
            "model.layers.29.mlp.down_proj.weight",
            None,
        ),
    ] {
        let q = content
            .tensor(&mut file, gguf_name, &candle_core::Device::Cpu)
            .unwrap();
        let blocks = insitu_train::quant::GgufBlocks::from_qtensor(&q, rope_heads).unwrap();
        let got = blocks.dequantize(&candle_core::Device::Cpu).unwrap();
        let diff = (got - &dense[hf_name])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        println!(
            "{gguf_name} ({:?}): {} bytes of blocks, max |diff| vs imported {diff}",
            q.dtype(),
            blocks.storage_bytes()
        );
        assert_eq!(diff, 0.0, "{gguf_name}");
    }
}

#[test]
#[ignore]
fn a_gguf_base_gives_the_imported_models_loss() {
    let Some(dir) = smollm2_dir() else { return };
    let gguf = dir.join("../../gguf/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !gguf.is_file() {
        eprintln!("notice: {} not found — skipped", gguf.display());
        return;
    }
    let md = insitu_train::hf::ModelDir::open(&dir).unwrap();
    let dense = Model::from_dir(&md).unwrap();
    let mut blocks = dense.clone();
    let bytes = insitu_train::quant::use_gguf_base(&mut blocks, &gguf).unwrap();
    println!(
        "GGUF base: projection weights {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    let ids = md
        .tokenizer
        .encode(
            "Patient reviewed on the ward; observations stable, plan to continue antibiotics.",
            false,
        )
        .unwrap();
    let t = ids.len();
    let input_ids =
        candle_core::Tensor::from_vec(ids.clone(), (1, t), &candle_core::Device::Cpu).unwrap();
    let positions = candle_core::Tensor::from_vec(
        (0..t as u32).collect::<Vec<_>>(),
        (1, t),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let labels: Vec<u32> = ids[1..]
        .iter()
        .copied()
        .chain([insitu_train::ops::IGNORE_INDEX])
        .collect();
    let loss = |m: &Model| {
        let h = m
            .forward(
                insitu_train::model::ForwardInputs {
                    input_ids: &input_ids,
                    positions: &positions,
                    mask: None,
                },
                None,
            )
            .unwrap();
        m.token_nll(&h, &labels)
            .unwrap()
            .0
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let (a, b) = (loss(&dense), loss(&blocks));
    println!("loss per token: dense {a:.6}, GGUF blocks {b:.6}");
    assert!((a - b).abs() < 1e-4, "{a} vs {b}");
}
