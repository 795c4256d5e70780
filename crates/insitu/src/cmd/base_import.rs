//! `insitu base import`: turn a llama.cpp GGUF checkpoint into a Hugging Face
//! model directory that every other command loads like a sponsor's model.

use crate::Global;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// How the imported weights are stored.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoredDtype {
    /// 32-bit floats (exact for every GGUF type; the default).
    #[default]
    F32,
    /// bfloat16 (half the size; rounds the dequantised weights).
    Bf16,
}

impl StoredDtype {
    /// The candle dtype.
    pub fn dtype(self) -> candle_core::DType {
        match self {
            StoredDtype::F32 => candle_core::DType::F32,
            StoredDtype::Bf16 => candle_core::DType::BF16,
        }
    }
}

/// Arguments of `insitu base import`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The GGUF file to import (llama architecture, byte-level BPE vocabulary).
    #[arg(long, value_name = "FILE")]
    pub gguf: PathBuf,
    /// Directory to create; must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Storage type of the written weights.
    #[arg(long, value_enum, default_value_t = StoredDtype::F32)]
    pub dtype: StoredDtype,
}

/// Runs `insitu base import`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let summary = import(&args.gguf, &args.out, args.dtype)?;
    if !g.quiet {
        print_summary(&summary, &args.out);
    }
    Ok(())
}

/// Imports `gguf` into `out`, classifying errors: a missing, malformed or
/// unsupported file is an input error (exit 2).
pub fn import(
    gguf: &Path,
    out: &Path,
    dtype: StoredDtype,
) -> anyhow::Result<insitu_train::gguf::ImportSummary> {
    if !gguf.is_file() {
        return Err(crate::exit::input(format!(
            "{}: no such file — pass a GGUF checkpoint with --gguf",
            gguf.display()
        )));
    }
    match insitu_train::gguf::import(gguf, out, dtype.dtype()) {
        Ok(s) => Ok(s),
        Err(e @ (insitu_train::Error::BadFile { .. } | insitu_train::Error::Invalid(_))) => {
            Err(crate::exit::input(e.to_string()))
        }
        Err(e) => {
            Err(e).with_context(|| format!("importing {} into {}", gguf.display(), out.display()))
        }
    }
}

/// Prints what was imported and where.
pub fn print_summary(s: &insitu_train::gguf::ImportSummary, out: &Path) {
    let c = &s.config;
    let types: Vec<String> = s
        .tensor_types
        .iter()
        .map(|(t, n)| format!("{t}×{n}"))
        .collect();
    println!(
        "imported {} → {}",
        s.name.as_deref().unwrap_or("model"),
        out.display()
    );
    println!(
        "  llama: {} layers, hidden {}, {} heads ({} kv), vocab {}, context {}",
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.kv_heads(),
        c.vocab_size,
        c.max_position_embeddings
    );
    println!("  source tensors: {}", types.join(", "));
    println!("  source sha256: {}", s.source_sha256);
    println!(
        "  licence: {}",
        s.license.as_deref().unwrap_or("not stated")
    );
}
