//! LoRA with PEFT's semantics and names (`r`, `lora_alpha`, `lora_dropout`,
//! `target_modules`, `use_rslora`): W x + (α/r)·B A x, A ~ Kaiming-uniform,
//! B = 0 (Hu et al. 2021; rsLoRA scales by α/√r, Kalajdzievski 2023).

use crate::ops;
use crate::quant::{self, GgufBlocks, Nf4Tensor};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Linear layers LoRA may target in a Llama-family decoder.
pub const KNOWN_TARGET_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyperparameters, named as in PEFT's `LoraConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraConfig {
    /// Rank of the update.
    pub r: usize,
    /// Scaling numerator.
    pub lora_alpha: f64,
    /// Dropout on the LoRA input path during training.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Which linear layers get an adapter.
    pub target_modules: Vec<String>,
    /// Scale by α/√r instead of α/r.
    #[serde(default)]
    pub use_rslora: bool,
    /// How the frozen base projections are stored while training (insitu's
    /// own key, not PEFT's: `adapter_config.json` never carries it).
    #[serde(default)]
    pub base_quantization: BaseQuantization,
}

/// Storage of the frozen base projections during LoRA training
/// (`[lora] base_quantization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BaseQuantization {
    /// Dense, in the model's dtype (`"none"`).
    #[default]
    None,
    /// 4-bit NormalFloat in blocks of 64 with f32 absmax (`"nf4"`).
    Nf4,
    /// NF4 with the absmax scales quantised to 8 bits (`"nf4-dq"`).
    Nf4DoubleQuant,
    /// The GGUF file's own Q4_0/Q4_1/Q8_0 blocks (`"gguf"`), set from the
    /// file with [`crate::quant::use_gguf_base`].
    Gguf,
}

impl BaseQuantization {
    /// Refuses full fine-tuning with a quantised base: a quantised weight
    /// cannot be trained, only adapters on top of it.
    pub fn check_full_finetune(self) -> Result<()> {
        if self != BaseQuantization::None {
            return Err(Error::Invalid(format!(
                "lora.base_quantization = \"{self}\" cannot be combined with training.full_finetune = true — a quantised base weight is frozen; train LoRA adapters (full_finetune = false) or set base_quantization = \"none\""
            )));
        }
        Ok(())
    }

    /// The configuration spelling: `"none"`, `"nf4"` or `"nf4-dq"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseQuantization::None => "none",
            BaseQuantization::Nf4 => "nf4",
            BaseQuantization::Nf4DoubleQuant => "nf4-dq",
            BaseQuantization::Gguf => "gguf",
        }
    }
}

impl std::fmt::Display for BaseQuantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BaseQuantization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(BaseQuantization::None),
            "nf4" => Ok(BaseQuantization::Nf4),
            "nf4-dq" => Ok(BaseQuantization::Nf4DoubleQuant),
            "gguf" => Ok(BaseQuantization::Gguf),
            other => Err(Error::Invalid(format!(
                "lora: base_quantization = {other:?} is unknown — choose \"none\" (dense), \"nf4\" (4-bit NormalFloat), \"nf4-dq\" (NF4 with double-quantised scales) or \"gguf\" (the GGUF file's own blocks)"
            ))),
        }
    }
}

impl TryFrom<String> for BaseQuantization {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<BaseQuantization> for String {
    fn from(q: BaseQuantization) -> String {
        q.as_str().to_string()
    }
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            r: 16,
            lora_alpha: 32.0,
            lora_dropout: 0.05,
            target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
            use_rslora: false,
            base_quantization: BaseQuantization::None,
        }
    }
}

impl LoraConfig {
    /// The factor applied to B·A.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Checks ranges and module names.
    pub fn validate(&self) -> Result<()> {
        if self.r == 0 || self.r > 4096 {
            return Err(Error::Invalid(format!(
                "lora: r = {} must be in 1..=4096",
                self.r
            )));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(Error::Invalid(format!(
                "lora: lora_dropout = {} must be in [0, 1)",
                self.lora_dropout
            )));
        }
        if self.target_modules.is_empty() {
            return Err(Error::Invalid("lora: target_modules is empty — name at least one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj".into()));
        }
        for m in &self.target_modules {
            if !KNOWN_TARGET_MODULES.contains(&m.as_str()) {
                return Err(Error::Invalid(format!(
                    "lora: target module {m:?} is unknown — choose from {KNOWN_TARGET_MODULES:?}"
                )));
            }
        }
        Ok(())
    }
}

/// A trainable low-rank update `(α/r)·B·A` attached to a frozen linear layer.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// `A`, shape `(r, in)`, Kaiming-uniform initialised.
    pub a: Var,
    /// `B`, shape `(out, r)`, zero initialised so training starts at the base model.
    pub b: Var,
    /// α/r or α/√r.
    pub scaling: f64,
    /// Dropout probability on the adapter's input.
    pub dropout: f64,
}

impl LoraAdapter {
    /// PEFT's initialisation: `A ~ U(−1/√in, 1/√in)` (torch's Kaiming-uniform
    /// with a = √5) and `B = 0`.
    pub fn init(
        cfg: &LoraConfig,
        in_features: usize,
        out_features: usize,
        rng: &mut ChaCha8Rng,
        dtype: DType,
        device: &Device,
    ) -> Result<LoraAdapter> {
        let bound = 1.0 / (in_features as f64).sqrt();
        let a: Vec<f32> = (0..cfg.r * in_features)
            .map(|_| rng.gen_range(-bound..bound) as f32)
            .collect();
        let a = Tensor::from_vec(a, (cfg.r, in_features), device)?.to_dtype(dtype)?;
        let b = Tensor::zeros((out_features, cfg.r), dtype, device)?;
        Ok(LoraAdapter {
            a: Var::from_tensor(&a)?,
            b: Var::from_tensor(&b)?,
            scaling: cfg.scaling(),
            dropout: cfg.lora_dropout,
        })
    }
}

/// How a [`LoraLinear`] holds its base weight.
#[derive(Debug, Clone)]
enum BaseWeight {
    /// `(out, in)` in the model's dtype; a `Var`'s tensor in full fine-tuning.
    Dense(Tensor),
    /// NF4 codes, dequantised tile by tile in forward and backward; `dtype`
    /// is the model's, which `merged_weight` restores.
    Nf4 {
        weight: Arc<Nf4Tensor>,
        dtype: DType,
    },
    /// A GGUF file's blocks, used the same way.
    Gguf {
        weight: Arc<GgufBlocks>,
        dtype: DType,
    },
}

/// A linear layer `x·Wᵀ + b` whose frozen weight may carry a LoRA adapter.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    /// Base weight. Private so that the model code sees one interface
    /// whatever the storage form.
    weight: BaseWeight,
    /// Optional bias `(out,)`.
    pub bias: Option<Tensor>,
    /// The adapter, when this module is targeted.
    pub adapter: Option<LoraAdapter>,
}

impl LoraLinear {
    /// A plain linear layer without adapter.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> LoraLinear {
        LoraLinear {
            weight: BaseWeight::Dense(weight),
            bias,
            adapter: None,
        }
    }

    /// The dense base weight `(out, in)`, when it is stored densely.
    pub fn dense_weight(&self) -> Option<&Tensor> {
        match &self.weight {
            BaseWeight::Dense(w) => Some(w),
            BaseWeight::Nf4 { .. } | BaseWeight::Gguf { .. } => None,
        }
    }

    /// The base weight's storage form.
    pub fn base_quantization(&self) -> BaseQuantization {
        match &self.weight {
            BaseWeight::Dense(_) => BaseQuantization::None,
            BaseWeight::Nf4 { weight, .. } if weight.is_double_quantized() => {
                BaseQuantization::Nf4DoubleQuant
            }
            BaseWeight::Nf4 { .. } => BaseQuantization::Nf4,
            BaseWeight::Gguf { .. } => BaseQuantization::Gguf,
        }
    }

    /// Bytes the base weight occupies (dense: elements × dtype size).
    pub fn base_weight_bytes(&self) -> usize {
        match &self.weight {
            BaseWeight::Dense(w) => w.elem_count() * w.dtype().size_in_bytes(),
            BaseWeight::Nf4 { weight, .. } => weight.storage_bytes(),
            BaseWeight::Gguf { weight, .. } => weight.storage_bytes(),
        }
    }

    /// Turns the base weight into a trainable `Var` (full fine-tuning) and
    /// returns it. Refused for a quantised base.
    pub fn make_weight_trainable(&mut self) -> Result<Var> {
        match &self.weight {
            BaseWeight::Dense(w) => {
                let v = Var::from_tensor(w)?;
                self.weight = BaseWeight::Dense(v.as_tensor().clone());
                Ok(v)
            }
            BaseWeight::Nf4 { .. } | BaseWeight::Gguf { .. } => Err(Error::Invalid(format!(
                "full fine-tuning needs dense base weights, but this layer's base is stored as {} — train LoRA adapters on a quantised base, or load the model without base_quantization",
                self.base_quantization()
            ))),
        }
    }

    /// Puts the frozen base weight in the storage form `cfg` asks for, once
    /// LoRA is attached (every projection, targeted or not). Dense storage
    /// needs nothing; quantised storage is chosen with
    /// [`crate::quant::quantize_model_base`] until `LoraConfig` carries
    /// `base_quantization` (then this calls [`LoraLinear::quantize_base`]).
    pub fn prepare_frozen_base(&mut self, cfg: &LoraConfig) -> Result<()> {
        match cfg.base_quantization {
            // "none" leaves the base as loaded (or as the caller already
            // stored it); GGUF blocks come from the file, set by
            // `quant::use_gguf_base`.
            BaseQuantization::None | BaseQuantization::Gguf => Ok(()),
            q => self.quantize_base(q),
        }
    }

    /// Stores the frozen base weight as `q` asks: NF4 quantises the dense
    /// weight and releases it. A base already in that form is left alone;
    /// a trainable (full fine-tuning) weight is refused.
    pub fn quantize_base(&mut self, want: BaseQuantization) -> Result<()> {
        if want == self.base_quantization() {
            return Ok(());
        }
        let double_quant = match want {
            BaseQuantization::None => {
                return Err(Error::Invalid(format!(
                    "the base weight is already stored as {}; it cannot become dense again — reload the model",
                    self.base_quantization()
                )))
            }
            BaseQuantization::Nf4 => false,
            BaseQuantization::Nf4DoubleQuant => true,
            BaseQuantization::Gguf => {
                return Err(Error::Invalid(
                    "base_quantization = \"gguf\" takes its blocks from the GGUF file — use quant::use_gguf_base(model, file)".into(),
                ))
            }
        };
        let (w, dtype) = self.frozen_dense_base(want)?;
        let weight = Arc::new(Nf4Tensor::from_tensor(w, double_quant)?);
        self.weight = BaseWeight::Nf4 { weight, dtype };
        Ok(())
    }

    /// Replaces the dense frozen base with a GGUF file's blocks of the same
    /// shape (see [`crate::quant::use_gguf_base`]).
    pub fn set_gguf_base(&mut self, blocks: GgufBlocks) -> Result<()> {
        let (_, dtype) = self.frozen_dense_base(BaseQuantization::Gguf)?;
        let (in_f, out_f) = self.features()?;
        let (rows, cols) = quant::BlockWeight::dims(&blocks);
        if (rows, cols) != (out_f, in_f) {
            return Err(Error::Invalid(format!(
                "the GGUF weight is {rows}x{cols} but this layer's base is {out_f}x{in_f} — the file does not belong to this model"
            )));
        }
        self.weight = BaseWeight::Gguf {
            weight: Arc::new(blocks),
            dtype,
        };
        Ok(())
    }

    /// The dense, frozen, CPU, f32/f64 base that quantised storage
    /// (`want`) may replace, or why not.
    fn frozen_dense_base(&self, want: BaseQuantization) -> Result<(&Tensor, DType)> {
        let BaseWeight::Dense(w) = &self.weight else {
            return Err(Error::Invalid(format!(
                "the base weight is already stored as {}; it cannot become {want} — reload the model",
                self.base_quantization()
            )));
        };
        if w.is_variable() {
            return Err(Error::Invalid(
                "this base weight is trainable (full fine-tuning) and cannot be quantised".into(),
            ));
        }
        if !w.device().is_cpu() {
            return Err(Error::Invalid(format!(
                "base_quantization = \"{want}\" runs on the CPU only; this model is on {:?} — use \"none\"",
                w.device()
            )));
        }
        let dtype = w.dtype();
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(Error::Invalid(format!(
                "base_quantization = \"{want}\" needs the model loaded in f32 (it is {dtype:?})"
            )));
        }
        Ok((w, dtype))
    }

    /// `(in, out)` feature counts.
    pub fn features(&self) -> Result<(usize, usize)> {
        let (out_f, in_f) = match &self.weight {
            BaseWeight::Dense(w) => w.dims2()?,
            BaseWeight::Nf4 { weight, .. } => weight.dims(),
            BaseWeight::Gguf { weight, .. } => quant::BlockWeight::dims(weight.as_ref()),
        };
        Ok((in_f, out_f))
    }

    /// Applies the layer; `dropout_rng` is `Some` only while training.
    pub fn forward(&self, x: &Tensor, dropout_rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
        let y = match &self.weight {
            BaseWeight::Dense(w) => ops::linear(x, w, self.bias.as_ref())?,
            BaseWeight::Nf4 { weight, .. } => self.add_bias(quant::blockwise_linear(x, weight)?)?,
            BaseWeight::Gguf { weight, .. } => {
                self.add_bias(quant::blockwise_linear(x, weight)?)?
            }
        };
        let Some(ad) = &self.adapter else {
            return Ok(y);
        };
        let x = match dropout_rng {
            Some(rng) if ad.dropout > 0.0 => {
                let keep = 1.0 - ad.dropout;
                // One 32-bit draw per element, generated a block at a time
                // (a per-element f64 draw was ≈ 7 % of a training step):
                // kept with probability ⌊keep·2³²⌋ / 2³².
                let mut draws = vec![0u32; x.elem_count()];
                rng.fill(&mut draws[..]);
                let threshold = (keep * 4_294_967_296.0) as u64;
                let scale = (1.0 / keep) as f32;
                let mask: Vec<f32> = draws
                    .iter()
                    .map(|&u| if u64::from(u) < threshold { scale } else { 0.0 })
                    .collect();
                let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                (x * mask)?
            }
            _ => x.clone(),
        };
        let update = ops::linear(
            &ops::linear(&x, ad.a.as_tensor(), None)?,
            ad.b.as_tensor(),
            None,
        )?;
        Ok((y + (update * ad.scaling)?)?)
    }

    fn add_bias(&self, y: Tensor) -> Result<Tensor> {
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// `W + (α/r)·B·A`: the weight with the adapter folded in (a quantised
    /// base is dequantised first, in the model's dtype).
    pub fn merged_weight(&self) -> Result<Tensor> {
        let base = match &self.weight {
            BaseWeight::Dense(w) => w.clone(),
            BaseWeight::Nf4 { weight, dtype } => {
                weight.dequantize(&Device::Cpu)?.to_dtype(*dtype)?
            }
            BaseWeight::Gguf { weight, dtype } => {
                weight.dequantize(&Device::Cpu)?.to_dtype(*dtype)?
            }
        };
        match &self.adapter {
            None => Ok(base),
            Some(ad) => Ok((&base + (ad.b.as_tensor().matmul(ad.a.as_tensor())? * ad.scaling)?)?),
        }
    }
}

/// A seeded generator for LoRA initialisation and dropout.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_follows_peft() {
        let mut c = LoraConfig::default();
        assert_eq!(c.scaling(), 2.0);
        c.use_rslora = true;
        assert_eq!(c.scaling(), 32.0 / 4.0);
    }

    #[test]
    fn rejects_unknown_modules_and_bad_ranks() {
        let mut c = LoraConfig::default();
        c.target_modules.push("lm_head".into());
        assert!(c.validate().unwrap_err().to_string().contains("lm_head"));
        let c = LoraConfig {
            r: 0,
            ..LoraConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn init_follows_peft() {
        let cfg = LoraConfig {
            r: 4,
            ..LoraConfig::default()
        };
        let ad =
            LoraAdapter::init(&cfg, 64, 8, &mut seeded_rng(1), DType::F32, &Device::Cpu).unwrap();
        let a =
            ad.a.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
        assert!(a.iter().all(|v| v.abs() <= 1.0 / 8.0));
        assert!(a.iter().any(|v| v.abs() > 0.1), "A should fill its range");
        assert_eq!(
            ad.b.as_tensor()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_vec0::<f32>()
                .unwrap(),
            0.0
        );
        let again =
            LoraAdapter::init(&cfg, 64, 8, &mut seeded_rng(1), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            again
                .a
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            a,
            "same seed, same A"
        );
    }

    /// A 7×6 layer (blocks of 64 straddle rows) with NF4 base, bias and a
    /// rank-2 adapter whose B is non-zero, in f64 for finite differences.
    fn quantised_layer(q: BaseQuantization) -> LoraLinear {
        use crate::ops::tests::randn;
        let mut lin = LoraLinear::new(randn(&[7, 6], 11), Some(randn(&[7], 12)));
        let cfg = LoraConfig {
            r: 2,
            lora_dropout: 0.0,
            ..LoraConfig::default()
        };
        lin.quantize_base(q).unwrap();
        let ad =
            LoraAdapter::init(&cfg, 6, 7, &mut seeded_rng(3), DType::F64, &Device::Cpu).unwrap();
        ad.b.set(&(randn(&[7, 2], 13) * 0.5).unwrap()).unwrap();
        lin.adapter = Some(ad);
        lin
    }

    #[test]
    fn gradients_through_a_quantised_base_match_finite_differences() {
        use crate::ops::tests::{check_grad, randn};
        for q in [BaseQuantization::Nf4, BaseQuantization::Nf4DoubleQuant] {
            let lin = quantised_layer(q);
            assert_eq!(lin.base_quantization(), q);
            assert!(lin.dense_weight().is_none());
            let x = Var::from_tensor(&randn(&[2, 3, 6], 14)).unwrap();
            let probe = randn(&[2, 3, 7], 15);
            let f = || -> candle_core::Result<Tensor> {
                let y = lin
                    .forward(x.as_tensor(), None)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                (y * &probe)?.sum_all()
            };
            let ad = lin.adapter.as_ref().unwrap();
            check_grad(&x, &f, 1e-6);
            check_grad(&ad.a, &f, 1e-6);
            check_grad(&ad.b, &f, 1e-6);
        }
    }

    #[test]
    fn a_quantised_base_gets_no_gradient_and_cannot_be_trained() {
        use crate::ops::tests::randn;
        let mut lin = quantised_layer(BaseQuantization::Nf4);
        let x = Var::from_tensor(&randn(&[3, 6], 16)).unwrap();
        let y = lin.forward(x.as_tensor(), None).unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        let ad = lin.adapter.as_ref().unwrap();
        for t in [x.as_tensor(), ad.a.as_tensor(), ad.b.as_tensor()] {
            assert!(grads.get(t).is_some());
        }
        // Whatever else the store holds (intermediate results), nothing has
        // the base weight's (out, in) shape: no weight gradient was formed.
        for id in grads.get_ids() {
            let g = grads.get_id(*id).unwrap();
            assert_ne!(g.dims(), &[7, 6], "a base-weight-shaped gradient exists");
        }
        let e = lin.make_weight_trainable().unwrap_err().to_string();
        assert!(e.contains("full fine-tuning") && e.contains("nf4"), "{e}");
        // And a trainable dense weight is never quantised.
        let mut dense = LoraLinear::new(randn(&[7, 6], 11), None);
        dense.make_weight_trainable().unwrap();
        let e = dense
            .quantize_base(BaseQuantization::Nf4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("trainable"), "{e}");
    }

    #[test]
    fn merged_weight_dequantises_the_base() {
        let lin = quantised_layer(BaseQuantization::Nf4);
        let ad = lin.adapter.as_ref().unwrap();
        let merged = lin.merged_weight().unwrap();
        assert_eq!(merged.dtype(), DType::F64);
        let x = crate::ops::tests::randn(&[4, 6], 17);
        let via_merge = x
            .matmul(&merged.t().unwrap())
            .unwrap()
            .broadcast_add(lin.bias.as_ref().unwrap())
            .unwrap();
        let via_forward = lin.forward(&x, None).unwrap();
        let diff = (via_merge - via_forward)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert!(diff < 1e-12, "{diff}");
        assert_eq!(ad.a.dims(), &[2, 6]);
        // Quantising shrinks the base: 42 f64 values vs one block of codes.
        assert_eq!(lin.base_weight_bytes(), 21 + 4);
    }

    #[test]
    fn base_quantization_parses_and_explains_bad_values() {
        let q: BaseQuantization = serde_json::from_str(r#""nf4-dq""#).unwrap();
        assert_eq!(q, BaseQuantization::Nf4DoubleQuant);
        assert_eq!(BaseQuantization::default(), BaseQuantization::None);
        let e = serde_json::from_str::<BaseQuantization>(r#""int4""#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"int4\" is unknown") && e.contains("nf4-dq"),
            "{e}"
        );
        for q in [
            BaseQuantization::None,
            BaseQuantization::Nf4,
            BaseQuantization::Nf4DoubleQuant,
            BaseQuantization::Gguf,
        ] {
            let json = serde_json::to_string(&q).unwrap();
            assert_eq!(json, format!("\"{q}\""));
            assert_eq!(serde_json::from_str::<BaseQuantization>(&json).unwrap(), q);
        }
        let e = BaseQuantization::Nf4
            .check_full_finetune()
            .unwrap_err()
            .to_string();
        assert!(e.contains("full_finetune") && e.contains("nf4"), "{e}");
        assert!(BaseQuantization::None.check_full_finetune().is_ok());
    }

    #[test]
    fn a_gguf_base_replaces_a_dense_one_of_the_same_shape_only() {
        use candle_core::quantized::{GgmlDType, QTensor};
        let w = (crate::ops::tests::randn(&[4, 64], 18) * 0.1)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let mut lin = LoraLinear::new(w.clone(), None);
        let e = lin
            .quantize_base(BaseQuantization::Gguf)
            .unwrap_err()
            .to_string();
        assert!(e.contains("use_gguf_base"), "{e}");
        let wrong = QTensor::quantize(
            &Tensor::zeros((2, 64), DType::F32, &Device::Cpu).unwrap(),
            GgmlDType::Q4_1,
        )
        .unwrap();
        let e = lin
            .set_gguf_base(GgufBlocks::from_qtensor(&wrong, None).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2x64") && e.contains("4x64"), "{e}");
        lin.set_gguf_base(GgufBlocks::from_qtensor(&q, None).unwrap())
            .unwrap();
        assert_eq!(lin.base_quantization(), BaseQuantization::Gguf);
        assert_eq!(lin.base_weight_bytes(), 4 * 2 * 20);
        let x = (crate::ops::tests::randn(&[3, 64], 19))
            .to_dtype(DType::F32)
            .unwrap();
        let want = x
            .matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap())
            .unwrap();
        let diff = (lin.forward(&x, None).unwrap() - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
        assert!(lin.make_weight_trainable().is_err());
    }
}
