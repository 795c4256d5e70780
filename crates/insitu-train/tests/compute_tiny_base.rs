//! The tiny base model round-trips through a Hugging Face directory, its
//! chat template drives prompt/completion tokenisation, and a LoRA adapter
//! trained on it exports as PEFT and merges back into the same logits.

use candle_core::{DType, Device, Tensor};
use insitu_train::chat::Message;
use insitu_train::hf::ModelDir;
use insitu_train::lora::LoraConfig;
use insitu_train::model::{ForwardInputs, Model};
use insitu_train::preset::{build_tiny, write_tiny, TinyPreset};
use insitu_train::sft::{PromptFormat, TextExample};

fn texts() -> Vec<String> {
    let drugs = [
        "amoxicillin",
        "ramipril",
        "metformin",
        "paracetamol",
        "furosemide",
    ];
    let findings = ["consolidation", "effusion", "oedema", "cardiomegaly"];
    (0..60)
        .map(|i| {
            format!(
                "Patient reviewed on ward {}. Chest X-ray shows {}. Started {} {} mg. Plan: review in {} days.",
                i % 9,
                findings[i % 4],
                drugs[i % 5],
                250 * (1 + i % 3),
                1 + i % 7
            )
        })
        .collect()
}

fn logits(model: &Model, ids: &[u32]) -> Vec<f32> {
    let n = ids.len();
    let t = Tensor::from_vec(ids.to_vec(), (1, n), &Device::Cpu).unwrap();
    let p = Tensor::from_vec((0..n as u32).collect::<Vec<_>>(), (1, n), &Device::Cpu).unwrap();
    let h = model
        .forward(
            ForwardInputs {
                input_ids: &t,
                positions: &p,
                mask: None,
            },
            None,
        )
        .unwrap();
    model
        .logits(&h)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

#[test]
fn tiny_base_round_trips_and_adapters_merge() {
    let work = tempfile::tempdir().unwrap();
    let preset = TinyPreset {
        seed: 3,
        vocab_size: 400,
        steps: 4,
        seq_len: 64,
        batch_size: 2,
        learning_rate: 3e-3,
    };
    let base = build_tiny(
        &texts(),
        &preset,
        &mut |_| {},
        &work.path().join("pretrain"),
    )
    .unwrap();
    assert!(base.metrics.val_loss_after.unwrap() < base.metrics.val_loss_before.unwrap());
    let out = work.path().join("tiny");
    write_tiny(&out, &base, &preset).unwrap();

    let dir = ModelDir::open(&out).unwrap();
    let loaded = Model::load(
        dir.var_builder(DType::F32, &Device::Cpu).unwrap(),
        &dir.config,
    )
    .unwrap();
    let ids = dir
        .tokenizer
        .encode("Chest X-ray shows effusion.", false)
        .unwrap();
    assert_eq!(
        logits(&loaded, &ids),
        logits(&base.model, &ids),
        "written and loaded weights differ"
    );

    // The chat template separates prompt from completion and ends the completion with EOS.
    let eos = dir.config.eos_token_id.clone().unwrap().to_vec();
    let fmt = PromptFormat {
        tokenizer: &dir.tokenizer,
        chat: dir.chat.as_ref(),
        eos_ids: eos.clone(),
    };
    let ex = TextExample::Chat(vec![
        Message::new("user", "Summarise: effusion."),
        Message::new("assistant", "Pleural effusion."),
    ]);
    let tok = fmt.tokenize(&ex).unwrap();
    let completion = dir
        .tokenizer
        .decode(&tok.ids[tok.prompt_len..], false)
        .unwrap();
    assert_eq!(completion, "Pleural effusion.<|im_end|>\n");
    assert_eq!(
        tok.ids.iter().filter(|i| eos.contains(i)).count(),
        2,
        "one EOS per turn, none added"
    );

    // A LoRA adapter with non-zero B merges into the same function.
    let mut tuned = Model::load(
        dir.var_builder(DType::F32, &Device::Cpu).unwrap(),
        &dir.config,
    )
    .unwrap();
    tuned
        .attach_lora(
            &LoraConfig {
                r: 4,
                lora_dropout: 0.0,
                ..LoraConfig::default()
            },
            1,
        )
        .unwrap();
    for (name, v) in tuned.trainable() {
        if name.contains("lora_B") {
            v.set(&(v.as_tensor().ones_like().unwrap() * 0.01).unwrap())
                .unwrap();
        }
    }
    let adapter_dir = work.path().join("adapter");
    insitu_train::peft::write_adapter(
        &adapter_dir,
        tuned.lora_config().unwrap(),
        "tiny",
        &tuned.trainable_tensors(),
    )
    .unwrap();
    let (lora, tensors) = insitu_train::peft::read_adapter(&adapter_dir).unwrap();
    let mut reloaded = Model::load(
        dir.var_builder(DType::F32, &Device::Cpu).unwrap(),
        &dir.config,
    )
    .unwrap();
    reloaded.load_lora(&lora, &tensors).unwrap();
    let merged_map = reloaded.merged_tensors().unwrap();
    let merged = Model::load(
        candle_nn::VarBuilder::from_tensors(merged_map, DType::F32, &Device::Cpu),
        &dir.config,
    )
    .unwrap();
    let (a, b, c) = (
        logits(&tuned, &ids),
        logits(&reloaded, &ids),
        logits(&merged, &ids),
    );
    assert_eq!(a, b, "adapter did not survive the PEFT round trip");
    let max_diff = a
        .iter()
        .zip(&c)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "merged model differs by {max_diff}");
    assert_ne!(a, logits(&loaded, &ids), "the adapter had no effect");
}
