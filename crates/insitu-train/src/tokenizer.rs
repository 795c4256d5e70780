//! Text ↔ token ids through Hugging Face's `tokenizers` (the same code that
//! backs `transformers`' fast tokenizers), and training a byte-level BPE
//! tokenizer like GPT-2's and SmolLM2's for the built-in base model.

use crate::{Error, Result};
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// A tokenizer loaded from (or saved as) a `tokenizer.json`.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

fn tok_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(format!("{context}: {e}"))
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<TextTokenizer> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| Error::BadFile {
            path: path.to_path_buf(),
            message: format!("{e} — expected a Hugging Face tokenizer.json"),
        })
    }

    /// Parses the text of a `tokenizer.json`.
    pub fn from_json(text: &str) -> Result<TextTokenizer> {
        let inner: Tokenizer = text
            .parse()
            .map_err(|e| tok_err("cannot parse tokenizer.json", e))?;
        Ok(TextTokenizer { inner })
    }

    /// Wraps an already built `tokenizers::Tokenizer`.
    pub fn from_tokenizer(inner: Tokenizer) -> TextTokenizer {
        TextTokenizer { inner }
    }

    /// The wrapped `tokenizers::Tokenizer`, for what this type does not expose.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Token ids of `text`; `add_special_tokens` applies the post-processor
    /// (e.g. a BOS token) exactly as `transformers` does by default.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| tok_err("encode", e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`; `skip_special` drops special tokens such as `<|im_end|>`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| tok_err("decode", e))
    }

    /// The id of a token (including added/special tokens), if it exists.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token string of an id, if it exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Number of ids, added tokens included (the embedding needs at least this many rows).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Writes `tokenizer.json` (pretty-printed, as `transformers` saves it).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.to_json()?;
        std::fs::write(path, json).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner
            .to_string(true)
            .map_err(|e| tok_err("serialise tokenizer.json", e))
    }
}

/// Trains a byte-level BPE tokenizer (GPT-2/SmolLM2 style: byte-level
/// pre-tokenizer with GPT-2's split regex, no normaliser, byte-level
/// decoder) on `texts`. `special_tokens` get the first ids, in order.
/// Training is deterministic: the same texts give the same `tokenizer.json`.
pub fn train_bpe(
    texts: &[String],
    vocab_size: usize,
    special_tokens: &[&str],
) -> Result<TextTokenizer> {
    let alphabet = ByteLevel::alphabet();
    let floor = alphabet.len() + special_tokens.len();
    if vocab_size < floor {
        return Err(Error::Invalid(format!(
            "tokenizer: vocab_size {vocab_size} is below {floor} (256 byte tokens + {} special tokens) — choose a larger vocabulary",
            special_tokens.len()
        )));
    }
    if texts.is_empty() {
        return Err(Error::Invalid(
            "tokenizer: no training texts — pass at least one text".into(),
        ));
    }
    let specials: Vec<AddedToken> = special_tokens
        .iter()
        .map(|t| AddedToken::from(t.to_string(), true))
        .collect();
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(vocab_size)
        .min_frequency(2)
        .special_tokens(specials.clone())
        .initial_alphabet(alphabet.into_iter().collect())
        .build()
        .into();
    let byte_level = ByteLevel::new(false, true, true);
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer
        .with_pre_tokenizer(Some(byte_level))
        .with_decoder(Some(byte_level))
        .with_post_processor(Some(byte_level));
    tokenizer
        .train(&mut trainer, texts.iter())
        .map_err(|e| tok_err("train BPE", e))?;
    // `train` registers the trainer's special tokens; re-adding keeps the
    // added-token list explicit even if a future version stops doing that.
    tokenizer.add_special_tokens(&specials);
    Ok(TextTokenizer { inner: tokenizer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        [
            "Patient admitted with chest pain, troponin 14 ng/L.",
            "Plan: aspirin 300 mg stat, repeat ECG in 6 hours.",
            "Denies shortness of breath. No history of diabetes.",
            "Handover: stable overnight, obs within normal limits.",
            "Café au lait spots noted — refer to dermatology.",
        ]
        .iter()
        .cycle()
        .take(50)
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn trained_bpe_round_trips_text_and_keeps_special_ids() {
        let tok = train_bpe(
            &corpus(),
            400,
            &["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        )
        .unwrap();
        assert_eq!(tok.token_to_id("<|endoftext|>"), Some(0));
        assert_eq!(tok.token_to_id("<|im_end|>"), Some(2));
        assert!(
            tok.vocab_size() <= 400 && tok.vocab_size() > 259,
            "{}",
            tok.vocab_size()
        );
        for text in [
            "Patient admitted with chest pain.",
            "  two  spaces\tand tab\n",
            "ünïcödé 42 → ok",
        ] {
            let ids = tok.encode(text, false).unwrap();
            assert_eq!(tok.decode(&ids, false).unwrap(), text);
        }
        // Merges learned: a frequent word is fewer tokens than bytes.
        assert!(tok.encode(" patient", false).unwrap().len() < " patient".len());
        let ids = tok.encode("<|im_start|>user", false).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(tok.decode(&ids, true).unwrap(), "user");
    }

    #[test]
    fn training_is_deterministic_and_save_load_round_trips() {
        let a = train_bpe(&corpus(), 350, &["<eos>"]).unwrap();
        let b = train_bpe(&corpus(), 350, &["<eos>"]).unwrap();
        assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        a.save(&path).unwrap();
        let c = TextTokenizer::from_file(&path).unwrap();
        let text = "Repeat ECG in 6 hours.";
        assert_eq!(a.encode(text, true).unwrap(), c.encode(text, true).unwrap());
    }

    #[test]
    fn refuses_tiny_vocab_and_garbage_files() {
        assert!(train_bpe(&corpus(), 10, &[]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = TextTokenizer::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("tokenizer.json"), "{e}");
    }
}
