//! Privacy inside training: user-level DP-SGD for the SFT loop (the patient
//! is the privacy unit) and canary insertion.
//!
//! DP-SGD step (Abadi et al. 2016, user level as in McMahan et al. 2018):
//! Poisson-sample patients with rate q; for each sampled patient compute the
//! gradient of the sum of their examples' losses (each example's loss is its
//! mean completion-token NLL, as in ordinary training) w.r.t. the trainable
//! (LoRA) parameters; clip it to global L2 norm C over all tensors; sum; add
//! N(0, σ²C²) to every coordinate; divide by the expected batch q·N; AdamW.
//! Sampling, clipping and noise are `insitu_privacy::DpSgdStep`; ε comes from
//! the same crate's RDP accountant, so the run, the model card and the gate
//! agree by construction. Every draw derives from (seed, step), so a resumed
//! run repeats the same noise.

use crate::model::Model;
use crate::sft::{batch_nll, build_rows, collate, SftConfig, TextExample, TokenizedExample};
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use insitu_privacy::{generate_canaries, Canary, DpSgdParams, DpSgdStep, Gradient};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Repetition counts of inserted canaries (Carlini et al. 2019 use powers of two).
pub const CANARY_REPETITIONS: [u32; 4] = [1, 2, 4, 8];

/// The `[privacy]` table of `run.toml`. DP-SGD is on when `target_epsilon`
/// or `noise_multiplier` is set; canaries are independent of DP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// ε to reach after the whole run; σ is solved from it with the accountant.
    pub target_epsilon: Option<f64>,
    /// δ; default min(1e-5, N^-1.1) for N training patients (see [`default_delta`]).
    pub delta: Option<f64>,
    /// σ given directly (instead of `target_epsilon`); ε is then computed.
    pub noise_multiplier: Option<f64>,
    /// C: the L2 bound on one patient's gradient over all trainable tensors.
    pub max_grad_norm: f64,
    /// Poisson sampling rate q of patients per step.
    pub sampling_rate: Option<f64>,
    /// Alternative to `sampling_rate`: q = this / N. Default: the plain
    /// loop's rows per step (batch size × accumulation).
    pub expected_patients_per_step: Option<f64>,
    /// Insert secret canary sentences into the training examples.
    pub canaries: bool,
    /// Canaries per repetition count (1, 2, 4, 8).
    pub canaries_per_count: usize,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            target_epsilon: None,
            delta: None,
            noise_multiplier: None,
            max_grad_norm: 1.0,
            sampling_rate: None,
            expected_patients_per_step: None,
            canaries: false,
            canaries_per_count: 2,
        }
    }
}

/// δ when none is configured: min(1e-5, N^-1.1). Below 1/N (a mechanism
/// that publishes one whole patient's record with probability δ must stay
/// unlikely), and never above the default policy's `max_delta` of 1e-5.
pub fn default_delta(patients: usize) -> f64 {
    (patients.max(1) as f64).powf(-1.1).min(1e-5)
}

impl PrivacyConfig {
    /// Whether DP-SGD is requested.
    pub fn dp_enabled(&self) -> bool {
        self.target_epsilon.is_some() || self.noise_multiplier.is_some()
    }

    /// Resolves the DP-SGD parameters for `patients` training patients and
    /// the loop settings in `sft` (steps: `max_steps`, else epochs / q).
    pub fn plan(&self, patients: usize, sft: &SftConfig) -> Result<DpPlan> {
        let bad = |m: String| Err(Error::Invalid(format!("[privacy] {m}")));
        if patients == 0 {
            return bad("DP-SGD needs patient keys: no training example names a patient — rebuild the dataset with `insitu dataset build` (rows carry \"patient_key\")".into());
        }
        if self.target_epsilon.is_some() && self.noise_multiplier.is_some() {
            return bad("set target_epsilon or noise_multiplier, not both".into());
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm > 0.0) {
            return bad(format!(
                "max_grad_norm = {} must be positive (it is the clipping bound C)",
                self.max_grad_norm
            ));
        }
        let n = patients as f64;
        let q = match (self.sampling_rate, self.expected_patients_per_step) {
            (Some(_), Some(_)) => {
                return bad("set sampling_rate or expected_patients_per_step, not both".into())
            }
            (Some(q), None) => q,
            (None, Some(k)) => k / n,
            // Fewer patients than rows per step: every patient, every step.
            (None, None) => {
                ((sft.per_device_train_batch_size * sft.gradient_accumulation_steps) as f64 / n)
                    .min(1.0)
            }
        };
        if !(q > 0.0 && q <= 1.0) {
            return bad(format!(
                "sampling rate q = {q} must be in (0, 1] — with {patients} patients, expected_patients_per_step must be at most {patients}"
            ));
        }
        let delta = self.delta.unwrap_or_else(|| default_delta(patients));
        if !(delta > 0.0 && delta < 1.0) {
            return bad(format!("delta = {delta} must be in (0, 1)"));
        }
        let steps = match sft.max_steps {
            Some(s) => s,
            // One epoch visits each patient once in expectation: 1/q steps.
            None => (sft.num_train_epochs / q).ceil().max(1.0) as usize,
        };
        let noise_multiplier = match (self.target_epsilon, self.noise_multiplier) {
            (Some(eps), None) => {
                insitu_privacy::noise_multiplier_for_epsilon(eps, delta, q, steps as u64)
                    .map_err(|e| Error::Invalid(format!("[privacy] target_epsilon: {e}")))?
            }
            (None, Some(s)) if s >= 0.0 && s.is_finite() => s,
            (None, Some(s)) => return bad(format!("noise_multiplier = {s} must be ≥ 0")),
            _ => return bad("DP-SGD needs target_epsilon or noise_multiplier".into()),
        };
        let plan = DpPlan {
            sampling_rate: q,
            noise_multiplier,
            max_grad_norm: self.max_grad_norm,
            delta,
            steps,
            patients,
            target_epsilon: self.target_epsilon,
            per_step_rdp: Vec::new(),
        };
        let per_step_rdp = plan
            .params(1)
            .rdp(&insitu_privacy::default_orders())
            .map_err(|e| Error::Invalid(format!("[privacy] {e}")))?;
        Ok(DpPlan {
            per_step_rdp,
            ..plan
        })
    }
}

/// Resolved DP-SGD parameters of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct DpPlan {
    /// Poisson sampling rate q.
    pub sampling_rate: f64,
    /// σ.
    pub noise_multiplier: f64,
    /// C.
    pub max_grad_norm: f64,
    /// δ.
    pub delta: f64,
    /// Noisy steps of the run.
    pub steps: usize,
    /// Training patients N.
    pub patients: usize,
    /// The ε asked for, if σ was solved from it.
    pub target_epsilon: Option<f64>,
    per_step_rdp: Vec<f64>,
}

/// What `run.json` → `dp` records (the gate recomputes ε from the rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpRecord {
    /// q.
    pub sampling_rate: f64,
    /// σ.
    pub noise_multiplier: f64,
    /// Noisy steps taken.
    pub steps: u64,
    /// δ.
    pub delta: f64,
    /// ε at δ after `steps` (RDP accountant).
    pub epsilon: f64,
    /// C.
    pub max_grad_norm: f64,
    /// Training patients N.
    pub patients: usize,
}

impl DpPlan {
    fn params(&self, steps: u64) -> DpSgdParams {
        DpSgdParams {
            sampling_rate: self.sampling_rate,
            noise_multiplier: self.noise_multiplier,
            steps,
        }
    }

    /// ε spent after `steps` noisy steps (0 before the first).
    pub fn epsilon_after(&self, steps: usize) -> Result<f64> {
        if steps == 0 {
            return Ok(0.0);
        }
        let rdp: Vec<f64> = self.per_step_rdp.iter().map(|r| r * steps as f64).collect();
        insitu_privacy::epsilon_from_rdp(&insitu_privacy::default_orders(), &rdp, self.delta)
            .map(|b| b.epsilon)
            .map_err(|e| Error::Invalid(format!("accountant: {e}")))
    }

    /// The record for `run.json` after `steps` steps.
    pub fn record(&self, steps: usize) -> Result<DpRecord> {
        Ok(DpRecord {
            sampling_rate: self.sampling_rate,
            noise_multiplier: self.noise_multiplier,
            steps: steps as u64,
            delta: self.delta,
            epsilon: self.epsilon_after(steps)?,
            max_grad_norm: self.max_grad_norm,
            patients: self.patients,
        })
    }
}

/// Training examples grouped by patient key, in first-seen key order sorted
/// (so the grouping does not depend on file order beyond the keys).
#[derive(Debug, Clone, PartialEq)]
pub struct PatientGroups {
    groups: Vec<Vec<usize>>,
}

impl PatientGroups {
    /// Groups example indices by `keys[i]`; an empty key is an error, since
    /// an unattributed example would escape the per-patient bound.
    pub fn new(keys: &[String]) -> Result<PatientGroups> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            if k.is_empty() {
                return Err(Error::Invalid(format!(
                    "training example {} has no patient_key — DP-SGD bounds each patient's influence and needs every example attributed; rebuild the dataset with `insitu dataset build`",
                    i + 1
                )));
            }
            by_key.entry(k).or_default().push(i);
        }
        Ok(PatientGroups {
            groups: by_key.into_values().collect(),
        })
    }

    /// Number of patients.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no patients.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// One privatised step's gradient and what to log about it.
pub(crate) struct DpStepOutcome {
    /// Noisy averaged gradient, keyed like the model's trainable vars.
    pub grads: GradStore,
    /// Mean per-example loss over the sampled patients (NaN if none sampled).
    pub loss: f64,
    /// Tokens processed.
    pub tokens: usize,
    /// Mean pre-clipping norm of the sampled patients' gradients.
    pub mean_patient_norm: f64,
}

/// Settings the privatised step shares with the plain loop.
pub(crate) struct StepInputs<'a> {
    pub model: &'a Model,
    pub examples: &'a [TokenizedExample],
    pub groups: &'a PatientGroups,
    pub plan: &'a DpPlan,
    pub cfg: &'a SftConfig,
    pub pad_id: u32,
    /// Seed for this step's sampling, noise and dropout.
    pub step_seed: u64,
}

/// Gradient of the sum of per-example mean losses over `rows`' examples, as
/// flat f32 vectors in trainable order, plus the summed loss and token count.
fn patient_gradient(
    model: &Model,
    examples: &[TokenizedExample],
    members: &[usize],
    cfg: &SftConfig,
    pad_id: u32,
    dropout_seed: u64,
) -> Result<(Gradient, f64, usize, usize)> {
    let rows = build_rows(examples, members, cfg.max_seq_length, cfg.packing);
    let trainable = model.trainable();
    let mut total: Gradient = trainable
        .iter()
        .map(|(_, v)| vec![0.0; v.elem_count()])
        .collect();
    let (mut loss_sum, mut tokens, mut scored) = (0.0, 0usize, 0usize);
    for (k, chunk) in rows
        .chunks(cfg.per_device_train_batch_size.max(1))
        .enumerate()
    {
        let batch = collate(chunk, pad_id);
        if batch.label_count() == 0 {
            continue;
        }
        tokens += batch.tokens;
        let (nll, idx) = batch_nll(model, &batch, Some(dropout_seed ^ k as u64))?;
        // Weight each token by 1/(labelled tokens of its example): every
        // example contributes its mean loss, as in the plain loop.
        let example_of = |i: usize| (i / batch.t, batch.segments[i]);
        let mut counts: HashMap<(usize, u32), usize> = HashMap::new();
        for &i in &idx {
            *counts.entry(example_of(i)).or_default() += 1;
        }
        scored += counts.len();
        let weights: Vec<f32> = idx
            .iter()
            .map(|&i| 1.0 / counts[&example_of(i)] as f32)
            .collect();
        let w = Tensor::from_vec(weights, idx.len(), nll.device())?.to_dtype(nll.dtype())?;
        let loss = (nll * w)?.sum_all()?;
        loss_sum += loss.to_dtype(DType::F64)?.to_vec0::<f64>()?;
        let grads = loss.backward()?;
        for ((_, v), acc) in trainable.iter().zip(total.iter_mut()) {
            if let Some(g) = grads.get(v.as_tensor()) {
                let g = g.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                acc.iter_mut().zip(g).for_each(|(a, x)| *a += x);
            }
        }
    }
    Ok((total, loss_sum, tokens, scored))
}

/// One DP-SGD step: sample, per-patient gradients, clip, sum, noise, average.
pub(crate) fn private_step(inp: &StepInputs<'_>) -> Result<DpStepOutcome> {
    let plan = inp.plan;
    let mut privatiser = DpSgdStep::new(
        plan.sampling_rate,
        plan.max_grad_norm,
        plan.noise_multiplier,
        inp.step_seed,
    );
    let sampled = privatiser.sample_patients(inp.groups.len());
    let mut per_patient = Vec::with_capacity(sampled.len());
    let (mut loss_sum, mut tokens, mut scored, mut norm_sum) = (0.0, 0usize, 0usize, 0.0);
    for &p in &sampled {
        let (g, l, t, s) = patient_gradient(
            inp.model,
            inp.examples,
            &inp.groups.groups[p],
            inp.cfg,
            inp.pad_id,
            crate::sft::mix(inp.step_seed, 4, p as u64),
        )?;
        norm_sum += insitu_privacy::global_norm(&g);
        per_patient.push(g);
        loss_sum += l;
        tokens += t;
        scored += s;
    }
    let trainable = inp.model.trainable();
    let shapes: Vec<usize> = trainable.iter().map(|(_, v)| v.elem_count()).collect();
    let noisy = privatiser.privatise(per_patient, &shapes, plan.patients);
    // GradStore has no public constructor: a zero loss over every trainable
    // var yields one with an entry per var, which we then overwrite.
    let mut zero: Option<Tensor> = None;
    for (_, v) in trainable {
        let t = (v.as_tensor().sum_all()? * 0.0)?;
        zero = Some(match zero {
            None => t,
            Some(z) => (z + t)?,
        });
    }
    let mut grads = zero
        .ok_or_else(|| Error::Invalid("DP-SGD: no trainable parameters".into()))?
        .backward()?;
    for ((_, v), g) in trainable.iter().zip(noisy) {
        let t = Tensor::from_vec(g, v.dims(), v.device())?.to_dtype(v.dtype())?;
        grads.insert(v.as_tensor(), t);
    }
    Ok(DpStepOutcome {
        grads,
        loss: if scored > 0 {
            loss_sum / scored as f64
        } else {
            f64::NAN
        },
        tokens,
        mean_patient_norm: if sampled.is_empty() {
            0.0
        } else {
            norm_sum / sampled.len() as f64
        },
    })
}

/// Canaries for a run (seeded) and where their copies went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryInsertion {
    /// The secrets; stored only in the run directory's canary file.
    pub canaries: Vec<Canary>,
    /// For each canary, the patient key each of its copies was attributed to.
    pub patients: Vec<Vec<String>>,
}

/// Name of the run-directory file holding the canary secrets. It is not on
/// the export bundle's allowed list, so it never leaves the appliance.
pub const CANARY_FILE: &str = "canaries.secret.json";

/// Makes `per_count` canaries per repetition count 1, 2, 4, 8 and adds each
/// copy as its own training example: the bare sentence as the completion of
/// an empty prompt, which is exactly how `insitu leakage` scores candidate
/// secrets, so exposure measures memorisation rather than a change of
/// context. Each copy is attributed to a random training patient
/// (`patient_keys` grows with `examples`), so DP-SGD's per-patient bound
/// covers canaries as it would a real identifier in that patient's notes.
pub fn insert_canaries(
    examples: &mut Vec<TextExample>,
    patient_keys: &mut Vec<String>,
    seed: u64,
    per_count: usize,
) -> Result<CanaryInsertion> {
    if examples.len() != patient_keys.len() {
        return Err(Error::Invalid(format!(
            "canaries: {} examples but {} patient keys",
            examples.len(),
            patient_keys.len()
        )));
    }
    let mut patients: Vec<String> = patient_keys
        .iter()
        .filter(|k| !k.is_empty())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if patients.is_empty() {
        // Rows without patient keys (plain SFT files): one key per example,
        // the attribution DP would refuse anyway.
        patients = (0..examples.len().max(1))
            .map(|i| format!("example-{i}"))
            .collect();
    }
    let canaries = generate_canaries(seed, &CANARY_REPETITIONS, per_count);
    let mut rng = ChaCha8Rng::seed_from_u64(crate::sft::mix(seed, 5, 0));
    let mut attributed = Vec::with_capacity(canaries.len());
    for c in &canaries {
        let mut owners = Vec::with_capacity(c.repetitions as usize);
        for _ in 0..c.repetitions {
            let owner = patients.choose(&mut rng).expect("non-empty").clone();
            examples.push(TextExample::PromptCompletion {
                prompt: String::new(),
                completion: c.sentence(),
            });
            patient_keys.push(owner.clone());
            owners.push(owner);
        }
        attributed.push(owners);
    }
    Ok(CanaryInsertion {
        canaries,
        patients: attributed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Message;

    #[test]
    fn plan_solves_sigma_for_the_target_and_records_the_accountants_epsilon() {
        let privacy = PrivacyConfig {
            target_epsilon: Some(2.0),
            delta: Some(1e-5),
            sampling_rate: Some(0.1),
            ..PrivacyConfig::default()
        };
        let sft = SftConfig {
            max_steps: Some(50),
            ..SftConfig::default()
        };
        let plan = privacy.plan(200, &sft).unwrap();
        let rec = plan.record(50).unwrap();
        let direct = DpSgdParams {
            sampling_rate: 0.1,
            noise_multiplier: plan.noise_multiplier,
            steps: 50,
        }
        .epsilon(1e-5)
        .unwrap()
        .epsilon;
        assert!(
            (rec.epsilon - direct).abs() <= 1e-9 * direct,
            "{rec:?} vs {direct}"
        );
        assert!(rec.epsilon <= 2.0 && rec.epsilon > 1.9, "{rec:?}");
        assert!(plan.epsilon_after(10).unwrap() < rec.epsilon);
        assert_eq!(plan.epsilon_after(0).unwrap(), 0.0);
    }

    #[test]
    fn plan_defaults_and_refusals() {
        let sft = SftConfig {
            num_train_epochs: 2.0,
            per_device_train_batch_size: 4,
            ..SftConfig::default()
        };
        let p = PrivacyConfig {
            noise_multiplier: Some(1.0),
            ..PrivacyConfig::default()
        }
        .plan(40, &sft)
        .unwrap();
        assert_eq!(p.sampling_rate, 0.1);
        assert_eq!(p.steps, 20, "two epochs at q = 0.1");
        assert_eq!(p.delta, 1e-5);
        assert!(default_delta(1_000_000) < 1e-6);
        let refuse = |c: PrivacyConfig, n: usize| c.plan(n, &sft).unwrap_err().to_string();
        assert!(refuse(
            PrivacyConfig {
                target_epsilon: Some(1.0),
                noise_multiplier: Some(1.0),
                ..PrivacyConfig::default()
            },
            40
        )
        .contains("not both"));
        assert!(refuse(
            PrivacyConfig {
                noise_multiplier: Some(1.0),
                expected_patients_per_step: Some(80.0),
                ..PrivacyConfig::default()
            },
            40
        )
        .contains("(0, 1]"));
        assert!(refuse(
            PrivacyConfig {
                noise_multiplier: Some(1.0),
                max_grad_norm: 0.0,
                ..PrivacyConfig::default()
            },
            40
        )
        .contains("max_grad_norm"));
        assert!(refuse(
            PrivacyConfig {
                noise_multiplier: Some(1.0),
                ..PrivacyConfig::default()
            },
            0
        )
        .contains("patient"));
        assert!(PatientGroups::new(&["a".into(), String::new()]).is_err());
    }

    use crate::model::tests::tiny_config;
    use crate::sft::Trainer;
    use candle_core::Device;

    fn ex(i: u32) -> TokenizedExample {
        // A learnable pattern: the answer tokens depend on the question token.
        TokenizedExample {
            ids: vec![1 + i % 4, 5, 6 + i % 3, 10 + i % 3, 13, 2],
            prompt_len: 3,
        }
    }

    fn full_model(seed: u64) -> Model {
        let mut m = Model::random(&tiny_config(), seed, DType::F32, &Device::Cpu).unwrap();
        m.make_fully_trainable().unwrap();
        m
    }

    fn plan(q: f64, sigma: f64, c: f64, patients: usize, steps: usize) -> DpPlan {
        PrivacyConfig {
            noise_multiplier: Some(sigma),
            sampling_rate: Some(q),
            max_grad_norm: c,
            delta: Some(1e-5),
            ..PrivacyConfig::default()
        }
        .plan(
            patients,
            &SftConfig {
                max_steps: Some(steps),
                ..SftConfig::default()
            },
        )
        .unwrap()
    }

    fn flat(g: &GradStore, model: &Model) -> Vec<f64> {
        model
            .trainable()
            .iter()
            .flat_map(|(_, v)| {
                g.get(v.as_tensor())
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
            })
            .collect()
    }

    fn step(
        model: &Model,
        examples: &[TokenizedExample],
        keys: &[&str],
        p: &DpPlan,
        seed: u64,
    ) -> Vec<f64> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let groups = PatientGroups::new(&keys).unwrap();
        let cfg = SftConfig {
            max_seq_length: 16,
            ..SftConfig::default()
        };
        let out = private_step(&StepInputs {
            model,
            examples,
            groups: &groups,
            plan: p,
            cfg: &cfg,
            pad_id: 0,
            step_seed: seed,
        })
        .unwrap();
        flat(&out.grads, model)
    }

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    #[test]
    fn a_patient_with_ten_times_the_examples_has_no_more_influence() {
        let model = full_model(31);
        let c = 0.05;
        // No noise, every patient sampled: the update is (Σ clipped)/(q·N).
        let p = plan(1.0, 0.0, c, 3, 1);
        let others: Vec<TokenizedExample> = (0..2).map(ex).collect();
        let light: Vec<TokenizedExample> = others.iter().cloned().chain([ex(7)]).collect();
        let heavy: Vec<TokenizedExample> = others
            .iter()
            .cloned()
            .chain((0..10).map(|_| ex(7)))
            .collect();
        let mut heavy_keys = vec!["a", "b"];
        heavy_keys.extend(["x"; 10]);
        let g_without = step(&model, &others, &["a", "b"], &p, 1);
        let g_light = step(&model, &light, &["a", "b", "x"], &p, 1);
        let g_heavy = step(&model, &heavy, &heavy_keys, &p, 1);
        let diff =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
        // Adding patient x moves the update by at most C/(q·N), however many
        // examples x has.
        let bound = c / 3.0 * (1.0 + 1e-5);
        let d_light = norm(&diff(&g_light, &g_without));
        let d_heavy = norm(&diff(&g_heavy, &g_without));
        assert!(
            d_light <= bound && d_heavy <= bound,
            "{d_light} {d_heavy} > {bound}"
        );
        // Clipping was active: unclipped, x's ten examples would move it far more.
        let raw = plan(1.0, 0.0, 1e9, 3, 1);
        let raw_heavy = norm(&diff(
            &step(&model, &heavy, &heavy_keys, &raw, 1),
            &step(&model, &others, &["a", "b"], &raw, 1),
        ));
        assert!(raw_heavy > 5.0 * bound, "raw influence {raw_heavy}");
    }

    #[test]
    fn noise_has_standard_deviation_sigma_c_over_q_n() {
        let model = full_model(32);
        let (q, sigma, c, n) = (1.0, 3.0, 0.5, 4);
        let p = plan(q, sigma, c, n, 1);
        let exs: Vec<TokenizedExample> = (0..4).map(ex).collect();
        let keys = ["a", "b", "c", "d"];
        // Same data, same sampling (q = 1), different noise draws: the
        // difference is pure noise with variance 2(σC/(qN))².
        let a = step(&model, &exs, &keys, &p, 10);
        let b = step(&model, &exs, &keys, &p, 11);
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let sd = norm(&d) / (d.len() as f64).sqrt() / 2f64.sqrt();
        let want = sigma * c / (q * n as f64);
        assert!(d.len() > 1000, "{} coordinates", d.len());
        assert!((sd - want).abs() / want < 0.1, "sd {sd} vs {want}");
        assert_eq!(
            a,
            step(&model, &exs, &keys, &p, 10),
            "same seed, same noise"
        );
    }

    fn dp_trainer(seed: u64, sigma: f64, steps: usize) -> Trainer {
        let train: Vec<TokenizedExample> = (0..12).map(ex).collect();
        let keys: Vec<String> = (0..12).map(|i| format!("p{}", i % 6)).collect();
        let cfg = SftConfig {
            seed,
            max_seq_length: 16,
            per_device_train_batch_size: 4,
            learning_rate: 5e-2,
            max_grad_norm: 1.0,
            eval_steps: 0,
            save_steps: 3,
            max_steps: Some(steps),
            ..SftConfig::default()
        };
        let p = PrivacyConfig {
            noise_multiplier: Some(sigma),
            sampling_rate: Some(0.5),
            max_grad_norm: 1.0,
            ..PrivacyConfig::default()
        }
        .plan(6, &cfg)
        .unwrap();
        Trainer::new(full_model(33), cfg, train.clone(), train[..4].to_vec(), 0)
            .unwrap()
            .with_dp(p, &keys)
            .unwrap()
    }

    #[test]
    fn low_noise_dp_steps_reduce_loss_and_record_the_accountants_epsilon() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = dp_trainer(1, 0.05, 12);
        let mut eps = Vec::new();
        let m = t
            .run(dir.path(), &mut |p| eps.push(p.epsilon.unwrap()))
            .unwrap();
        assert!(
            m.val_loss_after.unwrap() < 0.8 * m.val_loss_before.unwrap(),
            "{m:?}"
        );
        assert_eq!(eps.len(), 12);
        assert!(eps.windows(2).all(|w| w[0] < w[1]), "ε grows: {eps:?}");
        let rec = t.dp_record().unwrap().unwrap();
        let accountant = DpSgdParams {
            sampling_rate: 0.5,
            noise_multiplier: 0.05,
            steps: 12,
        }
        .epsilon(rec.delta)
        .unwrap()
        .epsilon;
        assert_eq!(rec.steps, 12);
        assert!((rec.epsilon - accountant).abs() <= 1e-9 * accountant);
        assert_eq!(rec.epsilon, eps[11]);
    }

    #[test]
    fn dp_runs_are_seeded_and_resume_exactly() {
        let run = |seed: u64, cut: Option<usize>| {
            let dir = tempfile::tempdir().unwrap();
            if let Some(k) = cut {
                dp_trainer(seed, 1.0, 6)
                    .run_until(dir.path(), k, &mut |_| {})
                    .unwrap();
            }
            let mut t = dp_trainer(seed, 1.0, 6);
            if cut.is_some() {
                assert!(t.resume(dir.path()).unwrap());
            }
            t.run(dir.path(), &mut |_| {}).unwrap();
            let w = t.model().trainable_tensors();
            let mut names: Vec<_> = w.keys().cloned().collect();
            names.sort();
            names
                .iter()
                .flat_map(|n| w[n].flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .map(f32::to_bits)
                .collect::<Vec<u32>>()
        };
        let a = run(4, None);
        assert_eq!(a, run(4, None), "same seed, same bytes");
        assert_ne!(a, run(5, None), "another seed, other noise");
        assert_eq!(a, run(4, Some(4)), "killed after step 4, resumed from 3");
    }

    #[test]
    fn canaries_are_added_at_their_repetition_counts_and_attributed_to_patients() {
        let mut exs: Vec<TextExample> = (0..10)
            .map(|i| {
                TextExample::Chat(vec![
                    Message::new("user", format!("note {i}")),
                    Message::new("assistant", format!("impression {i}.")),
                ])
            })
            .collect();
        let mut keys: Vec<String> = (0..10).map(|i| format!("pt-{}", i % 3)).collect();
        let (before, before_keys) = (exs.clone(), keys.clone());
        let ins = insert_canaries(&mut exs, &mut keys, 3, 2).unwrap();
        assert_eq!(ins.canaries.len(), 8);
        assert_eq!(exs.len(), 10 + 2 * (1 + 2 + 4 + 8));
        assert_eq!(keys.len(), exs.len());
        assert_eq!(&exs[..10], &before[..], "existing examples untouched");
        for c in &ins.canaries {
            let copies = exs
                .iter()
                .filter(|e| {
                    matches!(e, TextExample::PromptCompletion { prompt, completion }
                        if prompt.is_empty() && *completion == c.sentence())
                })
                .count();
            assert_eq!(copies, c.repetitions as usize, "{c:?}");
        }
        assert!(keys[10..].iter().all(|k| before_keys.contains(k)));
        let (mut again, mut again_keys) = (before.clone(), before_keys.clone());
        assert_eq!(
            insert_canaries(&mut again, &mut again_keys, 3, 2).unwrap(),
            ins
        );
        assert_eq!(
            (again, again_keys),
            (exs, keys),
            "same seed, same insertion"
        );
    }
}
