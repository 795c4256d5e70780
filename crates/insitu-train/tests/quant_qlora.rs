//! QLoRA through the public API: a model whose frozen projections are stored
//! in NF4 trains LoRA adapters (gradients checked against finite
//! differences, loss falls through `sft::Trainer`), never forms a base
//! gradient, and refuses full fine-tuning.

use candle_core::{DType, Device, Tensor};
use insitu_train::lora::{BaseQuantization, LoraConfig, KNOWN_TARGET_MODULES};
use insitu_train::model::{ForwardInputs, Model};
use insitu_train::quant::quantize_model_base;
use insitu_train::sft::{SftConfig, TokenizedExample, Trainer};
use rand::{Rng, SeedableRng};

/// The tiny preset's shape with a small vocabulary and two layers: fast
/// enough for finite differences in f64.
fn small_config() -> insitu_train::config::LlamaConfig {
    let mut cfg = insitu_train::preset::tiny_config(64);
    cfg.num_hidden_layers = 2;
    cfg
}

fn all_modules() -> LoraConfig {
    LoraConfig {
        r: 2,
        lora_alpha: 4.0,
        lora_dropout: 0.0,
        target_modules: KNOWN_TARGET_MODULES.map(String::from).to_vec(),
        ..LoraConfig::default()
    }
}

fn loss(model: &Model, ids: &[u32], labels: &[u32]) -> candle_core::Result<Tensor> {
    let t = ids.len();
    let input_ids = Tensor::from_vec(ids.to_vec(), (1, t), &Device::Cpu)?;
    let positions = Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), &Device::Cpu)?;
    let msg = |e: insitu_train::Error| candle_core::Error::Msg(e.to_string());
    let h = model
        .forward(
            ForwardInputs {
                input_ids: &input_ids,
                positions: &positions,
                mask: None,
            },
            None,
        )
        .map_err(msg)?;
    model.token_nll(&h, labels).map_err(msg)?.0.sum_all()
}

#[test]
fn lora_gradients_through_an_nf4_base_match_finite_differences() {
    let mut model = Model::random(&small_config(), 1, DType::F64, &Device::Cpu).unwrap();
    let dense_bytes = quantize_model_base(&mut model, BaseQuantization::None).unwrap();
    let nf4_bytes = quantize_model_base(&mut model, BaseQuantization::Nf4).unwrap();
    // f64 base: 8 bytes per weight against 4.5 bits.
    assert!(nf4_bytes * 14 < dense_bytes, "{nf4_bytes} vs {dense_bytes}");
    model.attach_lora(&all_modules(), 2).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for (name, v) in model.trainable() {
        if name.contains("lora_B") {
            let vals: Vec<f64> = (0..v.elem_count())
                .map(|_| rng.gen_range(-0.5..0.5))
                .collect();
            v.set(&Tensor::from_vec(vals, v.dims(), &Device::Cpu).unwrap())
                .unwrap();
        }
    }
    let (ids, labels) = ([1u32, 5, 7, 2, 9, 3], [5u32, 7, 2, 9, 3, 4]);
    let f = || loss(&model, &ids, &labels);
    let grads = f().unwrap().backward().unwrap();
    let h = 1e-6;
    let mut checked = 0;
    for (name, var) in model.trainable() {
        if !(name.contains("layers.0.self_attn.q_proj") || name.contains("layers.1.mlp.down_proj"))
        {
            continue;
        }
        let analytic: Vec<f64> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name} got no gradient"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        // A handful of entries per tensor keeps the test in milliseconds.
        for i in (0..base.len()).step_by(base.len() / 5 + 1) {
            let at = |delta: f64| {
                let mut p = base.clone();
                p[i] += delta;
                var.set(&Tensor::from_vec(p, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                f().unwrap().to_vec0::<f64>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                .unwrap();
            let err = (numeric - analytic[i]).abs();
            assert!(
                err <= 1e-6 * (1.0 + numeric.abs()),
                "{name}[{i}]: analytic {} vs numeric {numeric}",
                analytic[i]
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} entries checked");
}

#[test]
fn full_fine_tuning_is_refused_on_a_quantised_base() {
    let mut model = Model::random(&small_config(), 1, DType::F32, &Device::Cpu).unwrap();
    quantize_model_base(&mut model, BaseQuantization::Nf4DoubleQuant).unwrap();
    let e = model.make_fully_trainable().unwrap_err().to_string();
    assert!(
        e.contains("full fine-tuning needs dense base weights"),
        "{e}"
    );
    let mut model = Model::random(&small_config(), 1, DType::F32, &Device::Cpu).unwrap();
    model.make_fully_trainable().unwrap();
    let e = quantize_model_base(&mut model, BaseQuantization::Nf4)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layer 0 q_proj") && e.contains("trainable"),
        "{e}"
    );
    let bf16 = Model::random(&small_config(), 1, DType::BF16, &Device::Cpu);
    if let Ok(mut m) = bf16 {
        let e = quantize_model_base(&mut m, BaseQuantization::Nf4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("f32"), "{e}");
    }
}

/// Sequences from a seeded first-order Markov chain over 64 tokens, each
/// token with four likely successors: a pattern LoRA can learn in a few
/// steps on a random base.
fn markov_rows(n: usize, len: usize, seed: u64) -> Vec<TokenizedExample> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let next: Vec<[u32; 4]> = (0..64)
        .map(|t| {
            [
                (t * 7 + 3) % 64,
                (t * 13 + 5) % 64,
                (t + 1) % 64,
                (t * 3) % 64,
            ]
        })
        .collect();
    (0..n)
        .map(|_| {
            let mut ids = vec![rng.gen_range(0..64u32)];
            while ids.len() < len {
                let prev = *ids.last().unwrap() as usize;
                ids.push(next[prev][rng.gen_range(0..4)]);
            }
            TokenizedExample { ids, prompt_len: 0 }
        })
        .collect()
}

/// Trains the small model with an NF4 base for `steps` steps and returns
/// the run's metrics.
fn train_nf4(steps: usize, gradient_checkpointing: bool) -> insitu_train::sft::RunMetrics {
    let mut model = Model::random(&small_config(), 3, DType::F32, &Device::Cpu).unwrap();
    let lora = LoraConfig {
        r: 8,
        lora_alpha: 16.0,
        lora_dropout: 0.1,
        ..all_modules()
    };
    model.attach_lora(&lora, 4).unwrap();
    quantize_model_base(&mut model, BaseQuantization::Nf4).unwrap();
    let cfg = SftConfig {
        max_seq_length: 32,
        per_device_train_batch_size: 4,
        max_steps: Some(steps),
        learning_rate: 1e-2,
        packing: false,
        gradient_checkpointing,
        ..SftConfig::default()
    };
    let mut trainer =
        Trainer::new(model, cfg, markov_rows(48, 32, 5), markov_rows(8, 32, 6), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let metrics = trainer.run(dir.path(), &mut |_| {}).unwrap();
    // Only adapters were trained: no base weight became a parameter.
    for (name, _) in trainer.model().trainable() {
        assert!(name.contains(".lora_"), "{name} is trainable");
    }
    metrics
}

#[test]
fn sft_trainer_lowers_the_loss_with_an_nf4_base() {
    let metrics = train_nf4(40, false);
    let (before, after) = (
        metrics.val_loss_before.unwrap(),
        metrics.val_loss_after.unwrap(),
    );
    assert!(
        after < before - 0.5,
        "validation loss {before:.3} → {after:.3} did not fall by 0.5"
    );
    assert!(metrics.train_loss_last.unwrap() < metrics.train_loss_first.unwrap());
}

#[test]
fn gradient_checkpointing_over_an_nf4_base_changes_no_loss() {
    // QLoRA is usually run with checkpointing: recomputing a layer in
    // backward must dequantise to the same values and replay the dropout.
    let plain = train_nf4(3, false);
    let checkpointed = train_nf4(3, true);
    let close = |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() < 1e-5;
    assert!(
        close(plain.val_loss_after, checkpointed.val_loss_after),
        "{plain:?} vs {checkpointed:?}"
    );
    assert!(
        close(plain.train_loss_last, checkpointed.train_loss_last),
        "{plain:?} vs {checkpointed:?}"
    );
}
