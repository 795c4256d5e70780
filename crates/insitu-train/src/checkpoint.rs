//! Training checkpoints: trainable tensors, optimizer moments and the loop
//! position, written to a temporary directory and renamed into place so a
//! crash leaves the previous checkpoint or the new one, never half of one.
//! No RNG state is stored: every random draw is derived from the run seed and
//! the step, so the position alone restores it.

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the loop stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Optimizer steps completed.
    pub step: usize,
    /// Micro-batches consumed (the data position).
    pub micro_batches: usize,
    /// Optimizer update count (AdamW bias correction).
    pub optimizer_steps: u64,
    /// Tokens processed.
    pub tokens: u64,
    /// Training loss of the first step, if taken.
    pub train_loss_first: Option<f64>,
    /// Validation loss before training.
    pub val_loss_before: Option<f64>,
}

/// A checkpoint on disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// Trainable tensors by export name.
    pub trainable: HashMap<String, Tensor>,
    /// Optimizer moments.
    pub optimizer: HashMap<String, Tensor>,
    /// Loop position.
    pub state: LoopState,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `run_dir/checkpoints`.
pub fn checkpoints_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// Writes `checkpoints/step-NNNNNN` atomically and points `checkpoints/latest` at it.
pub fn save(
    run_dir: &Path,
    trainable: &HashMap<String, Tensor>,
    optimizer: &HashMap<String, Tensor>,
    state: &LoopState,
) -> Result<PathBuf> {
    let root = checkpoints_dir(run_dir);
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let name = format!("step-{:06}", state.step);
    let tmp = root.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    candle_core::safetensors::save(trainable, tmp.join("trainable.safetensors"))?;
    candle_core::safetensors::save(optimizer, tmp.join("optimizer.safetensors"))?;
    let state_path = tmp.join("state.json");
    std::fs::write(&state_path, serde_json::to_vec_pretty(state)?).map_err(io(&state_path))?;
    let dest = root.join(&name);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
    }
    std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    let latest_tmp = root.join(".latest.tmp");
    std::fs::write(&latest_tmp, &name).map_err(io(&latest_tmp))?;
    let latest = root.join("latest");
    std::fs::rename(&latest_tmp, &latest).map_err(io(&latest))?;
    Ok(dest)
}

/// Loads the checkpoint `checkpoints/latest` points at, if any.
pub fn load_latest(run_dir: &Path) -> Result<Option<Checkpoint>> {
    let root = checkpoints_dir(run_dir);
    let latest = root.join("latest");
    if !latest.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&latest).map_err(io(&latest))?;
    let dir = root.join(name.trim());
    let bad = |message: String| Error::BadFile {
        path: dir.clone(),
        message,
    };
    let trainable = candle_core::safetensors::load(dir.join("trainable.safetensors"), &Device::Cpu)
        .map_err(|e| {
            bad(format!(
                "trainable.safetensors: {e} — delete the checkpoint directory to start over"
            ))
        })?;
    let optimizer = candle_core::safetensors::load(dir.join("optimizer.safetensors"), &Device::Cpu)
        .map_err(|e| {
            bad(format!(
                "optimizer.safetensors: {e} — delete the checkpoint directory to start over"
            ))
        })?;
    let state_path = dir.join("state.json");
    let state: LoopState =
        serde_json::from_slice(&std::fs::read(&state_path).map_err(io(&state_path))?)?;
    Ok(Some(Checkpoint {
        trainable,
        optimizer,
        state,
    }))
}
