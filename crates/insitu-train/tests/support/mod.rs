//! Shared by the model-format tests: one forward pass to logits, and the
//! largest absolute difference between two tensors.
#![allow(dead_code)] // each test binary uses its own subset

use candle_core::{Device, Tensor};
use insitu_train::model::{ForwardInputs, Model};

/// Logits `(t, vocab)` for one unpadded prompt, positions 0..t.
pub fn logits(model: &Model, ids: &[u32]) -> Tensor {
    let dev = Device::Cpu;
    let input_ids = Tensor::new(ids, &dev).unwrap().unsqueeze(0).unwrap();
    let positions = Tensor::arange(0u32, ids.len() as u32, &dev)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let hidden = model
        .forward(
            ForwardInputs {
                input_ids: &input_ids,
                positions: &positions,
                mask: None,
            },
            None,
        )
        .unwrap();
    model.logits(&hidden).unwrap().squeeze(0).unwrap()
}

/// Token ids stored as an i64 tensor (as Python writes them) → u32.
pub fn ids_of(t: &Tensor) -> Vec<u32> {
    t.to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|x| x as u32)
        .collect()
}

/// max |a − b| over all elements (f32).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
