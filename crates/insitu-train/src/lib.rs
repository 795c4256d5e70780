//! The only crate that uses candle: Llama-family models from Hugging Face
//! directories, LoRA and full SFT, checkpoints, PEFT export and merge,
//! generation. Never touches the store; callers record what it returns.
//!
//! Compute (model, ops, LoRA, training, generation) and formats (HF
//! directories, tokenizers, chat templates, PEFT files, GGUF) live in
//! separate modules so that they can change independently.

mod error;

pub use error::{Error, Result};

// compute
pub mod checkpoint;
pub mod config;
pub mod dp;
pub mod generate;
pub mod lora;
pub mod model;
pub mod ops;
pub mod optim;
pub mod preset;
pub mod quant;
pub mod sft;
pub mod tensorboard;

// formats
pub mod chat;
pub mod gguf;
pub mod hf;
pub mod peft;
pub mod tokenizer;
