//! The real SmolLM2-135M-Instruct, imported from its GGUF, against values
//! recorded from Hugging Face transformers. Runs only where the imported
//! directory exists (`insitu base fetch smollm2-135m-instruct`, or
//! `$INSITU_SMOLLM2_DIR`); otherwise each test prints a notice and passes.
//! The fixtures in `interop/smollm2_parity/` (token ids, chat renders, a
//! logits sample) and the full logits file (`$INSITU_SMOLLM2_LOGITS`) are
//! written by `interop/smollm2_parity/run.sh`.

mod support;

use candle_core::{DType, Device};
use insitu_train::chat::Message;
use insitu_train::hf::ModelDir;
use insitu_train::model::Model;
use std::path::PathBuf;
use support::{ids_of, logits, max_abs_diff};

fn model_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("INSITU_SMOLLM2_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/insitu/models/smollm2-135m-instruct"),
    };
    if dir.join("config.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: SmolLM2 not imported at {} — skipped (run `insitu base fetch smollm2-135m-instruct` or set INSITU_SMOLLM2_DIR)",
            dir.display()
        );
        None
    }
}

#[test]
fn tokenizer_gives_the_ids_transformers_gives() {
    let Some(dir) = model_dir() else { return };
    let m = ModelDir::open(&dir).unwrap();
    // Recorded from transformers (AutoTokenizer with gguf_file=) on the same GGUF.
    let cases: [(&str, &[u32]); 4] = [
        (
            "Patient admitted with chest pain.",
            &[37654, 12453, 351, 8349, 1556, 30],
        ),
        (
            "BP 120/80, HR 72 bpm on 12/03/2024.",
            &[
                22304, 216, 33, 34, 32, 31, 40, 32, 28, 18941, 216, 39, 34, 278, 11043, 335, 216,
                33, 34, 31, 32, 35, 31, 34, 32, 34, 36, 30,
            ],
        ),
        (
            "  two  spaces\tand\ttabs\n\nnewlines",
            &[
                216, 827, 216, 5600, 197, 397, 197, 100, 7366, 198, 198, 2241, 5110,
            ],
        ),
        (
            "Café au lait — naïve façade 🙂 中文",
            &[
                51, 1939, 2756, 26261, 2618, 269, 1841, 15486, 46494, 40852, 47526, 216, 28589,
                29184,
            ],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(m.tokenizer.encode(text, true).unwrap(), want, "{text:?}");
        assert_eq!(m.tokenizer.decode(want, false).unwrap(), text);
    }
    assert_eq!(m.tokenizer.token_to_id("<|im_end|>"), Some(2));
    assert_eq!(m.config.eos_token_id.as_ref().unwrap().to_vec(), vec![2]);
}

#[test]
fn reference_sentences_and_chat_renders_match_transformers() {
    let Some(dir) = model_dir() else { return };
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop/smollm2_parity/reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let m = ModelDir::open(&dir).unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 1000);
    let mut mismatches = Vec::new();
    for s in sentences {
        let text = s["text"].as_str().unwrap();
        let want: Vec<u32> = s["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let got = m.tokenizer.encode(text, true).unwrap();
        if got != want {
            mismatches.push(text.to_string());
        }
        assert_eq!(
            m.tokenizer.decode(&want, false).unwrap(),
            s["decoded"].as_str().unwrap()
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} sentences differ, e.g. {:?}",
        mismatches.len(),
        sentences.len(),
        mismatches.first()
    );
    let chat = m.chat.as_ref().expect("SmolLM2 has a chat template");
    let chats = reference["chats"].as_array().unwrap();
    for c in chats {
        let messages: Vec<Message> = serde_json::from_value(c["messages"].clone()).unwrap();
        let gen = c["add_generation_prompt"].as_bool().unwrap();
        assert_eq!(
            chat.render(&messages, gen).unwrap(),
            c["text"].as_str().unwrap(),
            "{messages:?} gen={gen}"
        );
    }
    eprintln!(
        "{} sentences and {} chat renders identical to transformers",
        sentences.len(),
        chats.len()
    );
}

/// Compares with the full reference logits (`$INSITU_SMOLLM2_LOGITS`, from
/// run.sh) when present, else with the committed subset: a fixed sample of
/// 1,024 vocabulary columns at every position plus the whole last row.
#[test]
fn logits_match_transformers_within_1e_3() {
    let Some(dir) = model_dir() else { return };
    let dev = Device::Cpu;
    let full = std::env::var_os("INSITU_SMOLLM2_LOGITS")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    let path = full.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../interop/smollm2_parity/reference_logits_subset.safetensors")
    });
    let reference = candle_core::safetensors::load(&path, &dev).unwrap();
    let m = ModelDir::open(&dir).unwrap();
    let model = Model::load(m.var_builder(DType::F32, &dev).unwrap(), &m.config).unwrap();
    let mut worst = 0f32;
    let mut prompts = 0;
    while let Some(ids) = reference.get(&format!("input_ids_{prompts}")) {
        let i = prompts;
        let logits = logits(&model, &ids_of(ids));
        let diff = if full.is_some() {
            max_abs_diff(&logits, &reference[&format!("logits_{i}")])
        } else {
            let cols = reference["columns"].to_dtype(DType::U32).unwrap();
            let sampled = logits.index_select(&cols, 1).unwrap();
            let last = logits.get(logits.dim(0).unwrap() - 1).unwrap();
            max_abs_diff(&sampled, &reference[&format!("logits_columns_{i}")])
                .max(max_abs_diff(&last, &reference[&format!("logits_last_{i}")]))
        };
        eprintln!(
            "prompt {i}: {} tokens, max |logit diff| = {diff:.3e}",
            ids.dim(0).unwrap()
        );
        worst = worst.max(diff);
        prompts += 1;
    }
    assert!(prompts > 0, "{} holds no prompts", path.display());
    assert!(worst <= 1e-3, "max |logit diff| {worst} > 1e-3");
}
