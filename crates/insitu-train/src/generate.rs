//! Inference for evaluation and leakage testing: KV-cached greedy and seeded
//! top-p sampling, per-example losses (membership inference), and
//! per-example gradients of the trainable parameters (DP-SGD clips each
//! example's gradient before summing).

use crate::model::{KvCache, Model};
use crate::sft::{batch_nll, build_rows, collate, TokenizedExample};
use crate::{Error, Result};
use candle_core::{DType, Tensor, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How to pick each next token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// 0 means greedy; otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Nucleus mass (Holtzman et al. 2020); 1.0 samples from the full distribution.
    pub top_p: f64,
    /// Seed for sampling.
    pub seed: u64,
}

impl SamplingConfig {
    /// Greedy decoding of up to `max_new_tokens`.
    pub fn greedy(max_new_tokens: usize) -> SamplingConfig {
        SamplingConfig {
            max_new_tokens,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// Picks a token from logits: argmax when greedy, else top-p sampling.
fn pick(logits: &[f32], cfg: &SamplingConfig, rng: &mut ChaCha8Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
                if v > b.1 {
                    (i, v)
                } else {
                    b
                }
            })
            .0 as u32
    };
    if cfg.temperature <= 0.0 {
        return argmax();
    }
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32, ((v as f64 - max) / cfg.temperature).exp()))
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    // Stable order (probability, then id) so the same seed gives the same tokens.
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut cut = probs.len();
    for (i, p) in probs.iter().enumerate() {
        kept += p.1 / total;
        if kept >= cfg.top_p {
            cut = i + 1;
            break;
        }
    }
    let nucleus = &probs[..cut];
    let mass: f64 = nucleus.iter().map(|p| p.1).sum();
    let mut u = rng.gen::<f64>() * mass;
    for p in nucleus {
        u -= p.1;
        if u <= 0.0 {
            return p.0;
        }
    }
    nucleus.last().map(|p| p.0).unwrap_or_else(argmax)
}

/// Continues `prompt` (token ids) until an id in `eos_ids` or
/// `max_new_tokens`; returns the new ids (EOS included when produced).
pub fn generate(
    model: &Model,
    prompt: &[u32],
    eos_ids: &[u32],
    cfg: &SamplingConfig,
) -> Result<Vec<u32>> {
    if prompt.is_empty() {
        return Err(Error::Invalid(
            "generate: the prompt is empty — pass at least a BOS token".into(),
        ));
    }
    let max_pos = model.config().max_position_embeddings;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut cache = KvCache::default();
    let dev = model.device();
    let mut out = Vec::new();
    let mut input: Vec<u32> = prompt.to_vec();
    let mut pos = 0usize;
    while out.len() < cfg.max_new_tokens && pos + input.len() <= max_pos {
        let n = input.len();
        let ids = Tensor::from_vec(input.clone(), (1, n), dev)?;
        let positions = Tensor::from_vec(
            (pos as u32..(pos + n) as u32).collect::<Vec<_>>(),
            (1, n),
            dev,
        )?;
        let hidden = model.forward_cached(&ids, &positions, &mut cache)?;
        let last = hidden.narrow(1, n - 1, 1)?;
        let logits = model
            .logits(&last)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        let next = pick(&logits, cfg, &mut rng);
        out.push(next);
        pos += n;
        if eos_ids.contains(&next) {
            break;
        }
        input = vec![next];
    }
    Ok(out)
}

/// Mean completion-token loss of each example (in order), for loss-based
/// membership inference; examples with no completion token give NaN.
pub fn loss_per_example(
    model: &Model,
    examples: &[TokenizedExample],
    max_len: usize,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(examples.len());
    for ex in examples {
        let rows = build_rows(std::slice::from_ref(ex), &[0], max_len, false);
        if rows.is_empty() {
            out.push(f32::NAN);
            continue;
        }
        let batch = collate(&rows, 0);
        let (nll, _) = batch_nll(model, &batch, None)?;
        let mean = nll.mean_all()?.to_dtype(DType::F32)?.to_vec0::<f32>()?;
        out.push(mean);
    }
    Ok(out)
}

/// Natural-log probability of each token of `ids` from position `from` on,
/// given the tokens before it (one forward pass, no dropout). Membership
/// inference's Min-K% and loss-ratio attacks read these.
pub fn token_logprobs(model: &Model, ids: &[u32], from: usize) -> Result<Vec<f32>> {
    let t = ids.len();
    let from = from.max(1);
    if t < 2 || from >= t {
        return Ok(Vec::new());
    }
    let dev = model.device();
    let input = Tensor::from_vec(ids.to_vec(), (1, t), dev)?;
    let positions = Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), dev)?;
    let hidden = model.forward(
        crate::model::ForwardInputs {
            input_ids: &input,
            positions: &positions,
            mask: None,
        },
        None,
    )?;
    // The label at position i is the token at i + 1.
    let labels: Vec<u32> = (0..t)
        .map(|i| {
            if i + 1 < t && i + 1 >= from {
                ids[i + 1]
            } else {
                crate::ops::IGNORE_INDEX
            }
        })
        .collect();
    let (nll, _) = model.token_nll(&hidden, &labels)?;
    Ok(nll
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?
        .into_iter()
        .map(|v| -v)
        .collect())
}

/// The gradient of one example's summed completion loss w.r.t. every
/// trainable parameter (by export name). No dropout.
pub fn example_gradient(
    model: &Model,
    ex: &TokenizedExample,
    max_len: usize,
) -> Result<HashMap<String, Tensor>> {
    let rows = build_rows(std::slice::from_ref(ex), &[0], max_len, false);
    if rows.is_empty() {
        return Err(Error::Invalid(
            "example has no completion token within max_len".into(),
        ));
    }
    let (nll, _) = batch_nll(model, &collate(&rows, 0), None)?;
    let grads = nll.sum_all()?.backward()?;
    let mut out = HashMap::new();
    for (name, v) in model.trainable() {
        let g = match grads.get(v.as_tensor()) {
            Some(g) => g.detach(),
            None => v.as_tensor().zeros_like()?,
        };
        out.insert(name.clone(), g);
    }
    Ok(out)
}

/// DP-SGD's inner step (Abadi et al. 2016): each example's gradient clipped
/// to L2 norm `clip_norm`, then summed. Returns the sum and each example's
/// norm before clipping. Noise is the caller's (the privacy crate's) job.
pub fn clipped_gradient_sum(
    model: &Model,
    examples: &[TokenizedExample],
    max_len: usize,
    clip_norm: f64,
) -> Result<(HashMap<String, Tensor>, Vec<f64>)> {
    let mut sum: HashMap<String, Tensor> = HashMap::new();
    let mut norms = Vec::with_capacity(examples.len());
    for ex in examples {
        let g = example_gradient(model, ex, max_len)?;
        let mut sq = 0.0;
        for t in g.values() {
            sq += t.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_vec0::<f64>()?;
        }
        let norm = sq.sqrt();
        norms.push(norm);
        let scale = if norm > clip_norm {
            clip_norm / norm
        } else {
            1.0
        };
        for (name, t) in g {
            let t = (t * scale)?;
            let acc = match sum.remove(&name) {
                Some(prev) => (prev + t)?,
                None => t,
            };
            sum.insert(name, acc);
        }
    }
    Ok((sum, norms))
}

/// Softmax probabilities of the next token after `prompt` (for tests and
/// calibration checks).
pub fn next_token_probs(model: &Model, prompt: &[u32]) -> Result<Vec<f32>> {
    let n = prompt.len();
    let dev = model.device();
    let ids = Tensor::from_vec(prompt.to_vec(), (1, n), dev)?;
    let positions = Tensor::from_vec((0..n as u32).collect::<Vec<_>>(), (1, n), dev)?;
    let hidden = model.forward_cached(&ids, &positions, &mut KvCache::default())?;
    let logits = model.logits(&hidden.narrow(1, n - 1, 1)?)?;
    Ok(candle_nn::ops::softmax(&logits, D::Minus1)?
        .flatten_all()?
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::LoraConfig;
    use crate::model::tests::tiny_config;
    use candle_core::Device;

    #[test]
    fn greedy_generation_follows_the_argmax_and_stops_at_eos() {
        let model = Model::random(&tiny_config(), 21, DType::F32, &Device::Cpu).unwrap();
        let out = generate(&model, &[1, 2, 3], &[], &SamplingConfig::greedy(5)).unwrap();
        assert_eq!(out.len(), 5);
        // Each greedy token is the argmax of a fresh (uncached) forward pass.
        let mut ctx = vec![1, 2, 3];
        for &tok in &out {
            let p = next_token_probs(&model, &ctx).unwrap();
            let best = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0 as u32;
            assert_eq!(tok, best);
            ctx.push(tok);
        }
        // Use the last token as EOS: generation stops at its first occurrence.
        let eos = out[4];
        let first = out.iter().position(|t| *t == eos).unwrap();
        let stop = generate(&model, &[1, 2, 3], &[eos], &SamplingConfig::greedy(5)).unwrap();
        assert_eq!(stop, out[..=first].to_vec(), "stops right after the EOS id");
    }

    #[test]
    fn sampling_is_seeded_and_top_p_restricts_to_the_nucleus() {
        let model = Model::random(&tiny_config(), 22, DType::F32, &Device::Cpu).unwrap();
        let cfg = SamplingConfig {
            max_new_tokens: 8,
            temperature: 1.0,
            top_p: 0.9,
            seed: 7,
        };
        let a = generate(&model, &[1, 2], &[], &cfg).unwrap();
        assert_eq!(a, generate(&model, &[1, 2], &[], &cfg).unwrap());
        let logits = [0.0f32, 10.0, 0.0, 0.0];
        let tiny_p = SamplingConfig { top_p: 0.5, ..cfg };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..50).all(|_| pick(&logits, &tiny_p, &mut rng) == 1));
    }

    #[test]
    fn per_example_gradients_sum_to_the_batch_gradient_and_are_clipped() {
        let mut model = Model::random(&tiny_config(), 23, DType::F64, &Device::Cpu).unwrap();
        model
            .attach_lora(
                &LoraConfig {
                    r: 2,
                    lora_dropout: 0.0,
                    ..LoraConfig::default()
                },
                1,
            )
            .unwrap();
        for (i, (_, v)) in model.trainable().iter().enumerate() {
            v.set(&(crate::ops::tests::randn(v.dims(), 50 + i as u64) * 0.3).unwrap())
                .unwrap();
        }
        let exs = vec![
            TokenizedExample {
                ids: vec![1, 2, 3, 4],
                prompt_len: 2,
            },
            TokenizedExample {
                ids: vec![5, 6, 7],
                prompt_len: 1,
            },
        ];
        let (sum, norms) = clipped_gradient_sum(&model, &exs, 16, f64::INFINITY).unwrap();
        assert!(norms.iter().all(|n| *n > 0.0));
        let batch = collate(&build_rows(&exs, &[0, 1], 16, false), 0);
        let (nll, _) = batch_nll(&model, &batch, None).unwrap();
        let grads = nll.sum_all().unwrap().backward().unwrap();
        for (name, v) in model.trainable() {
            let diff = (grads.get(v.as_tensor()).unwrap() - &sum[name])
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_vec0::<f64>()
                .unwrap();
            assert!(diff < 1e-10, "{name}: {diff}");
        }
        let (clipped, _) = clipped_gradient_sum(&model, &exs, 16, 1e-3).unwrap();
        let total: f64 = clipped
            .values()
            .map(|t| {
                t.sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_vec0::<f64>()
                    .unwrap()
            })
            .sum::<f64>()
            .sqrt();
        assert!(
            total <= 2e-3 + 1e-12,
            "sum of two clipped gradients has norm {total}"
        );
        let losses = loss_per_example(&model, &exs, 16).unwrap();
        assert_eq!(losses.len(), 2);
        assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
    }
}
