//! Llama-family decoder (Llama 2/3, Mistral, Qwen2, SmolLM2) in the shape of
//! candle-transformers' `llama.rs`: `Model::load(vb, &cfg)` then `forward`.
//! Differences that matter for training: every op has a backward
//! (see [`crate::ops`]), frozen weights are never differentiated, positions
//! and a segment mask are explicit so packed sequences stay independent, and
//! LoRA adapters or full fine-tuning are switched on after loading.

use crate::config::LlamaConfig;
use crate::lora::{seeded_rng, LoraAdapter, LoraConfig, LoraLinear};
use crate::ops;
use crate::peft::lora_tensor_name;
use crate::{Error, Result};
use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Shape, Tensor, Var};
use candle_nn::VarBuilder;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Rotary tables `(max_positions, head_dim)` in HF's rotate-half layout.
#[derive(Debug, Clone)]
struct RotaryTables {
    cos: Tensor,
    sin: Tensor,
}

/// RoPE inverse frequencies with `rope_scaling` applied (linear: positions
/// divided by the factor; llama3: Meta's piecewise wavelength rule).
pub fn rope_inv_freq(cfg: &LlamaConfig) -> Result<Vec<f64>> {
    let d = cfg.head_dim();
    let base: Vec<f64> = (0..d / 2)
        .map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / d as f64))
        .collect();
    let Some(s) = &cfg.rope_scaling else {
        return Ok(base);
    };
    match s.rope_type.as_str() {
        "default" => Ok(base),
        "linear" => Ok(base.iter().map(|f| f / s.factor).collect()),
        "llama3" => {
            let low = s.low_freq_factor.unwrap_or(1.0);
            let high = s.high_freq_factor.unwrap_or(4.0);
            let orig = s.original_max_position_embeddings.unwrap_or(8192) as f64;
            let (low_wl, high_wl) = (orig / low, orig / high);
            Ok(base
                .iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen < high_wl {
                        f
                    } else if wavelen > low_wl {
                        f / s.factor
                    } else {
                        let smooth = (orig / wavelen - low) / (high - low);
                        (1.0 - smooth) * f / s.factor + smooth * f
                    }
                })
                .collect())
        }
        other => Err(Error::Invalid(format!(
            "config.json: rope_scaling.rope_type {other:?} is not supported — use default, linear or llama3"
        ))),
    }
}

impl RotaryTables {
    fn new(cfg: &LlamaConfig, dtype: DType, device: &Device) -> Result<RotaryTables> {
        let inv = rope_inv_freq(cfg)?;
        let n = cfg.max_position_embeddings;
        let half = inv.len();
        let mut cos = Vec::with_capacity(n * half * 2);
        let mut sin = Vec::with_capacity(n * half * 2);
        for p in 0..n {
            for _ in 0..2 {
                for f in &inv {
                    let angle = p as f64 * f;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        let shape = (n, half * 2);
        Ok(RotaryTables {
            cos: Tensor::from_vec(cos, shape, device)?.to_dtype(dtype)?,
            sin: Tensor::from_vec(sin, shape, device)?.to_dtype(dtype)?,
        })
    }

    /// `(b, t, d)` tables for the given `(b, t)` positions.
    fn gather(&self, positions: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, t) = positions.dims2()?;
        let flat = positions.flatten_all()?;
        let d = self.cos.dim(1)?;
        let cos = self.cos.index_select(&flat, 0)?.reshape((b, t, d))?;
        let sin = self.sin.index_select(&flat, 0)?.reshape((b, t, d))?;
        Ok((cos, sin))
    }
}

/// Per-layer key/value cache for incremental decoding.
#[derive(Debug, Default, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map(|(k, _)| k.dim(2).unwrap_or(0))
            .unwrap_or(0)
    }
    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DecoderLayer {
    q_proj: LoraLinear,
    k_proj: LoraLinear,
    v_proj: LoraLinear,
    o_proj: LoraLinear,
    gate_proj: LoraLinear,
    up_proj: LoraLinear,
    down_proj: LoraLinear,
    input_layernorm: Tensor,
    post_attention_layernorm: Tensor,
}

impl DecoderLayer {
    pub(crate) fn modules_mut(&mut self) -> [(&'static str, &mut LoraLinear); 7] {
        [
            ("q_proj", &mut self.q_proj),
            ("k_proj", &mut self.k_proj),
            ("v_proj", &mut self.v_proj),
            ("o_proj", &mut self.o_proj),
            ("gate_proj", &mut self.gate_proj),
            ("up_proj", &mut self.up_proj),
            ("down_proj", &mut self.down_proj),
        ]
    }

    fn modules(&self) -> [(&'static str, &LoraLinear); 7] {
        [
            ("q_proj", &self.q_proj),
            ("k_proj", &self.k_proj),
            ("v_proj", &self.v_proj),
            ("o_proj", &self.o_proj),
            ("gate_proj", &self.gate_proj),
            ("up_proj", &self.up_proj),
            ("down_proj", &self.down_proj),
        ]
    }
}

/// What the decoder needs besides the tokens.
#[derive(Debug, Clone, Copy)]
pub struct ForwardInputs<'a> {
    /// Token ids `(b, t)`, u32.
    pub input_ids: &'a Tensor,
    /// Position of each token within its own sequence `(b, t)`, u32.
    pub positions: &'a Tensor,
    /// Additive mask `(b, 1, t, t_total)` from [`ops::segment_causal_mask`];
    /// `None` means plain causal over the whole row.
    pub mask: Option<&'a Tensor>,
}

/// A Llama-family causal language model.
#[derive(Debug, Clone)]
pub struct Model {
    cfg: LlamaConfig,
    embed_tokens: Tensor,
    pub(crate) layers: Vec<DecoderLayer>,
    norm: Tensor,
    lm_head: Option<Tensor>,
    rotary: RotaryTables,
    trainable: Vec<(String, Var)>,
    pub(crate) lora: Option<LoraConfig>,
    gradient_checkpointing: bool,
}

fn hf_layer_name(i: usize, module: &str, suffix: &str) -> String {
    let block = if matches!(module, "gate_proj" | "up_proj" | "down_proj") {
        "mlp"
    } else {
        "self_attn"
    };
    format!("model.layers.{i}.{block}.{module}.{suffix}")
}

impl Model {
    /// Loads the weights under HF names from `vb` (frozen: plain tensors).
    pub fn load(vb: VarBuilder, cfg: &LlamaConfig) -> Result<Model> {
        cfg.validate()?;
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let q_out = cfg.num_attention_heads * hd;
        let kv_out = cfg.kv_heads() * hd;
        let embed_tokens = vb.get((cfg.vocab_size, h), "model.embed_tokens.weight")?;
        let lin =
            |i: usize, module: &str, out_f: usize, in_f: usize, bias: bool| -> Result<LoraLinear> {
                let w = vb.get((out_f, in_f), &hf_layer_name(i, module, "weight"))?;
                let b = if bias {
                    Some(vb.get(out_f, &hf_layer_name(i, module, "bias"))?)
                } else {
                    None
                };
                Ok(LoraLinear::new(w, b))
            };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let qkv_bias = cfg.qkv_bias();
            layers.push(DecoderLayer {
                q_proj: lin(i, "q_proj", q_out, h, qkv_bias)?,
                k_proj: lin(i, "k_proj", kv_out, h, qkv_bias)?,
                v_proj: lin(i, "v_proj", kv_out, h, qkv_bias)?,
                o_proj: lin(i, "o_proj", h, q_out, cfg.o_bias())?,
                gate_proj: lin(i, "gate_proj", cfg.intermediate_size, h, cfg.mlp_bias)?,
                up_proj: lin(i, "up_proj", cfg.intermediate_size, h, cfg.mlp_bias)?,
                down_proj: lin(i, "down_proj", h, cfg.intermediate_size, cfg.mlp_bias)?,
                input_layernorm: vb.get(h, &format!("model.layers.{i}.input_layernorm.weight"))?,
                post_attention_layernorm: vb.get(
                    h,
                    &format!("model.layers.{i}.post_attention_layernorm.weight"),
                )?,
            });
        }
        let norm = vb.get(h, "model.norm.weight")?;
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            Some(vb.get((cfg.vocab_size, h), "lm_head.weight")?)
        };
        let rotary = RotaryTables::new(cfg, vb.dtype(), vb.device())?;
        Ok(Model {
            cfg: cfg.clone(),
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary,
            trainable: Vec::new(),
            lora: None,
            gradient_checkpointing: false,
        })
    }

    /// Loads a Hugging Face model directory in f32 on the CPU (how insitu trains).
    pub fn from_dir(dir: &crate::hf::ModelDir) -> Result<Model> {
        Model::load(dir.var_builder(DType::F32, &Device::Cpu)?, &dir.config)
    }

    /// A randomly initialised model (HF's `initializer_range` 0.02 normal
    /// weights, unit norms), loaded through the same path as a checkpoint.
    pub fn random(cfg: &LlamaConfig, seed: u64, dtype: DType, device: &Device) -> Result<Model> {
        cfg.validate()?;
        let mut rng = seeded_rng(seed);
        // Box–Muller: N(0, 0.02²) without another dependency.
        let normal = |rng: &mut ChaCha8Rng| -> f32 {
            let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
            (0.02 * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        };
        let mut tensors = HashMap::new();
        // `fill`: a constant (norm weights 1, biases 0) or `None` for random normal.
        let mut put = |name: String,
                       shape: &[usize],
                       fill: Option<f32>,
                       rng: &mut ChaCha8Rng|
         -> Result<()> {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = match fill {
                Some(c) => vec![c; n],
                None => (0..n).map(|_| normal(rng)).collect(),
            };
            tensors.insert(name, Tensor::from_vec(v, shape, device)?.to_dtype(dtype)?);
            Ok(())
        };
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (q_out, kv_out, m) = (
            cfg.num_attention_heads * hd,
            cfg.kv_heads() * hd,
            cfg.intermediate_size,
        );
        put(
            "model.embed_tokens.weight".into(),
            &[cfg.vocab_size, h],
            None,
            &mut rng,
        )?;
        for i in 0..cfg.num_hidden_layers {
            for (module, out_f, in_f, bias) in [
                ("q_proj", q_out, h, cfg.qkv_bias()),
                ("k_proj", kv_out, h, cfg.qkv_bias()),
                ("v_proj", kv_out, h, cfg.qkv_bias()),
                ("o_proj", h, q_out, cfg.o_bias()),
                ("gate_proj", m, h, cfg.mlp_bias),
                ("up_proj", m, h, cfg.mlp_bias),
                ("down_proj", h, m, cfg.mlp_bias),
            ] {
                put(
                    hf_layer_name(i, module, "weight"),
                    &[out_f, in_f],
                    None,
                    &mut rng,
                )?;
                if bias {
                    put(
                        hf_layer_name(i, module, "bias"),
                        &[out_f],
                        Some(0.0),
                        &mut rng,
                    )?;
                }
            }
            put(
                format!("model.layers.{i}.input_layernorm.weight"),
                &[h],
                Some(1.0),
                &mut rng,
            )?;
            put(
                format!("model.layers.{i}.post_attention_layernorm.weight"),
                &[h],
                Some(1.0),
                &mut rng,
            )?;
        }
        put("model.norm.weight".into(), &[h], Some(1.0), &mut rng)?;
        if !cfg.tie_word_embeddings {
            put(
                "lm_head.weight".into(),
                &[cfg.vocab_size, h],
                None,
                &mut rng,
            )?;
        }
        Model::load(VarBuilder::from_tensors(tensors, dtype, device), cfg)
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Device of the weights.
    pub fn device(&self) -> &Device {
        self.embed_tokens.device()
    }

    /// Dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.embed_tokens.dtype()
    }

    /// The LoRA configuration, when adapters are attached.
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Parameters the optimiser updates, by export name (PEFT names for
    /// LoRA, HF names for full fine-tuning), in a fixed order.
    pub fn trainable(&self) -> &[(String, Var)] {
        &self.trainable
    }

    /// Attaches fresh LoRA adapters (PEFT initialisation, seeded) to the
    /// target modules of every layer.
    pub fn attach_lora(&mut self, cfg: &LoraConfig, seed: u64) -> Result<()> {
        cfg.validate()?;
        if !self.trainable.is_empty() {
            return Err(Error::Invalid(
                "model already has trainable parameters — attach LoRA to a freshly loaded model"
                    .into(),
            ));
        }
        let mut rng = seeded_rng(seed);
        let (dtype, device) = (self.dtype(), self.device().clone());
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (module, lin) in layer.modules_mut() {
                lin.prepare_frozen_base(cfg)?;
                if !cfg.target_modules.iter().any(|t| t == module) {
                    continue;
                }
                let (in_f, out_f) = lin.features()?;
                let ad = LoraAdapter::init(cfg, in_f, out_f, &mut rng, dtype, &device)?;
                self.trainable
                    .push((lora_tensor_name(i, module, 'A'), ad.a.clone()));
                self.trainable
                    .push((lora_tensor_name(i, module, 'B'), ad.b.clone()));
                lin.adapter = Some(ad);
            }
        }
        self.lora = Some(cfg.clone());
        Ok(())
    }

    /// Attaches LoRA adapters and sets them from PEFT-named tensors (a saved
    /// adapter or checkpoint). Every expected tensor must be present.
    pub fn load_lora(&mut self, cfg: &LoraConfig, tensors: &HashMap<String, Tensor>) -> Result<()> {
        self.attach_lora(cfg, 0)?;
        self.set_trainable(tensors)
    }

    /// Overwrites the trainable parameters from tensors with the same names.
    pub fn set_trainable(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for (name, var) in &self.trainable {
            let t = tensors.get(name).ok_or_else(|| {
                Error::Invalid(format!("tensor {name:?} is missing — the adapter does not match this model and LoRA config"))
            })?;
            if t.dims() != var.dims() {
                return Err(Error::Invalid(format!(
                    "tensor {name:?} has shape {:?}, the model expects {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
        }
        Ok(())
    }

    /// Current values of the trainable parameters by export name.
    pub fn trainable_tensors(&self) -> HashMap<String, Tensor> {
        self.trainable
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect()
    }

    /// Makes every base weight trainable (full fine-tuning; small models only).
    pub fn make_fully_trainable(&mut self) -> Result<()> {
        if !self.trainable.is_empty() {
            return Err(Error::Invalid(
                "model already has trainable parameters".into(),
            ));
        }
        let mut vars = Vec::new();
        let to_var = |vars: &mut Vec<(String, Var)>, name: String, t: &mut Tensor| -> Result<()> {
            let v = Var::from_tensor(t)?;
            *t = v.as_tensor().clone();
            vars.push((name, v));
            Ok(())
        };
        to_var(
            &mut vars,
            "model.embed_tokens.weight".into(),
            &mut self.embed_tokens,
        )?;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            to_var(
                &mut vars,
                format!("model.layers.{i}.input_layernorm.weight"),
                &mut layer.input_layernorm,
            )?;
            to_var(
                &mut vars,
                format!("model.layers.{i}.post_attention_layernorm.weight"),
                &mut layer.post_attention_layernorm,
            )?;
            for (module, lin) in layer.modules_mut() {
                vars.push((
                    hf_layer_name(i, module, "weight"),
                    lin.make_weight_trainable()?,
                ));
                if let Some(b) = lin.bias.as_mut() {
                    to_var(&mut vars, hf_layer_name(i, module, "bias"), b)?;
                }
            }
        }
        to_var(&mut vars, "model.norm.weight".into(), &mut self.norm)?;
        if let Some(head) = self.lm_head.as_mut() {
            to_var(&mut vars, "lm_head.weight".into(), head)?;
        }
        self.trainable = vars;
        Ok(())
    }

    /// All weights under HF names, with LoRA adapters folded in (`merge`).
    pub fn merged_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        out.insert(
            "model.embed_tokens.weight".to_string(),
            self.embed_tokens.detach(),
        );
        for (i, layer) in self.layers.iter().enumerate() {
            out.insert(
                format!("model.layers.{i}.input_layernorm.weight"),
                layer.input_layernorm.detach(),
            );
            out.insert(
                format!("model.layers.{i}.post_attention_layernorm.weight"),
                layer.post_attention_layernorm.detach(),
            );
            for (module, lin) in layer.modules() {
                out.insert(
                    hf_layer_name(i, module, "weight"),
                    lin.merged_weight()?.detach(),
                );
                if let Some(b) = &lin.bias {
                    out.insert(hf_layer_name(i, module, "bias"), b.detach());
                }
            }
        }
        out.insert("model.norm.weight".to_string(), self.norm.detach());
        if let Some(head) = &self.lm_head {
            out.insert("lm_head.weight".to_string(), head.detach());
        }
        Ok(out)
    }

    fn run(
        &self,
        inputs: ForwardInputs,
        mut cache: Option<&mut KvCache>,
        dropout_seed: Option<u64>,
    ) -> Result<Tensor> {
        let (b, t) = inputs.input_ids.dims2()?;
        let mut rng = dropout_seed.map(seeded_rng);
        let mut x = self
            .embed_tokens
            .index_select(&inputs.input_ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.hidden_size))?;
        let rope = self.rotary.gather(inputs.positions)?;
        let past = cache.as_ref().map(|c| c.len()).unwrap_or(0);
        let mask = match inputs.mask {
            Some(m) => m.clone(),
            None => causal_mask_with_past(b, t, past, self.dtype(), self.device())?,
        };
        if let Some(c) = cache.as_mut() {
            c.layers.resize(self.layers.len(), None);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            x = match cache.as_mut() {
                Some(c) => decoder_layer(
                    &self.cfg,
                    layer,
                    &x,
                    &rope,
                    &mask,
                    Some(&mut c.layers[i]),
                    &mut rng,
                )?,
                None if self.gradient_checkpointing => {
                    self.checkpointed_layer(i, layer, &x, &rope, &mask, &mut rng)?
                }
                None => decoder_layer(&self.cfg, layer, &x, &rope, &mask, None, &mut rng)?,
            };
        }
        Ok(ops::rms_norm(&x, &self.norm, self.cfg.rms_norm_eps)?)
    }

    /// Trainable parameters that live in decoder layer `i` (LoRA A/B, or
    /// every layer weight in full fine-tuning).
    fn layer_vars(&self, i: usize) -> Vec<Var> {
        let key = format!("layers.{i}.");
        self.trainable
            .iter()
            .filter(|(name, _)| name.contains(&key))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Decoder layer `i` under gradient checkpointing: the forward keeps only
    /// the layer's input and output; the backward re-runs the layer (same
    /// dropout masks, replayed from the generator's state) and backpropagates
    /// through it. The layer's parameter gradients reach candle's `GradStore`
    /// through a chain of one-element [`GradInjectOp`] nodes, so a plain
    /// `loss.backward()` gives the same gradients as without checkpointing.
    fn checkpointed_layer(
        &self,
        i: usize,
        layer: &DecoderLayer,
        x: &Tensor,
        rope: &(Tensor, Tensor),
        mask: &Tensor,
        rng: &mut Option<ChaCha8Rng>,
    ) -> Result<Tensor> {
        let vars = self.layer_vars(i);
        if vars.is_empty() && !x.track_op() {
            // Nothing upstream or inside needs a gradient: a plain forward.
            return decoder_layer(&self.cfg, layer, x, rope, mask, None, rng);
        }
        let replay = rng.clone();
        // Detached: the tracked intermediates are dropped with this value.
        let out = decoder_layer(&self.cfg, layer, &x.detach(), rope, mask, None, rng)?.detach();
        let stash: GradStash = Arc::new(Mutex::new(HashMap::new()));
        let mut chain = Tensor::zeros(1, x.dtype(), x.device())?;
        for v in &vars {
            chain = chain.apply_op2(
                v.as_tensor(),
                GradInjectOp {
                    stash: stash.clone(),
                },
            )?;
        }
        Ok(x.apply_op2(
            &chain,
            CheckpointOp {
                cfg: self.cfg.clone(),
                layer: layer.clone(),
                rope: rope.clone(),
                mask: mask.clone(),
                replay,
                vars,
                out,
                stash,
            },
        )?)
    }

    /// Turns gradient checkpointing on or off for training forwards (see
    /// `checkpointed_layer`): activation memory drops to one layer's worth
    /// plus each layer's input, for one extra forward pass per step.
    pub fn set_gradient_checkpointing(&mut self, on: bool) {
        self.gradient_checkpointing = on;
    }

    /// Final hidden states `(b, t, hidden)` (after the last norm).
    /// `dropout_seed` is `Some` only while training (LoRA dropout).
    pub fn forward(&self, inputs: ForwardInputs, dropout_seed: Option<u64>) -> Result<Tensor> {
        self.run(inputs, None, dropout_seed)
    }

    /// Hidden states for new tokens given a cache of earlier ones (b = 1
    /// typical); positions must continue from the cache.
    pub fn forward_cached(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        self.run(
            ForwardInputs {
                input_ids,
                positions,
                mask: None,
            },
            Some(cache),
            None,
        )
    }

    /// Vocabulary logits for hidden states `(…, hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        Ok(ops::linear(hidden, head, None)?)
    }

    /// Per-token negative log-likelihood `(rows,)` of `labels` (row-major
    /// `(b, t)`, [`ops::IGNORE_INDEX`] where no loss is taken) given hidden
    /// states. Only labelled rows go through the LM head.
    pub fn token_nll(&self, hidden: &Tensor, labels: &[u32]) -> Result<(Tensor, Vec<usize>)> {
        let h = self.cfg.hidden_size;
        let rows: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l != ops::IGNORE_INDEX)
            .map(|(i, _)| i)
            .collect();
        let idx: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
        let targets: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
        let idx = Tensor::from_vec(idx, rows.len(), self.device())?;
        let selected = hidden.reshape(((), h))?.index_select(&idx, 0)?;
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        Ok((ops::linear_cross_entropy(&selected, head, &targets)?, rows))
    }
}

fn attention(
    cfg: &LlamaConfig,
    layer: &DecoderLayer,
    x: &Tensor,
    rope: &(Tensor, Tensor),
    mask: &Tensor,
    cache: Option<&mut Option<(Tensor, Tensor)>>,
    rng: &mut Option<ChaCha8Rng>,
) -> Result<Tensor> {
    let (b, t, _) = x.dims3()?;
    let (nh, nkv, hd) = (cfg.num_attention_heads, cfg.kv_heads(), cfg.head_dim());
    // RoPE is fused with the (b, t, heads, d) → (b, heads, t, d) transpose.
    let q = ops::rope_transposed(
        &layer
            .q_proj
            .forward(x, rng.as_mut())?
            .reshape((b, t, nh, hd))?,
        &rope.0,
        &rope.1,
    )?;
    let mut k = ops::rope_transposed(
        &layer
            .k_proj
            .forward(x, rng.as_mut())?
            .reshape((b, t, nkv, hd))?,
        &rope.0,
        &rope.1,
    )?;
    let mut v = layer
        .v_proj
        .forward(x, rng.as_mut())?
        .reshape((b, t, nkv, hd))?
        .transpose(1, 2)?
        .contiguous()?;
    if let Some(slot) = cache {
        if let Some((pk, pv)) = slot.as_ref() {
            k = Tensor::cat(&[pk, &k], 2)?;
            v = Tensor::cat(&[pv, &v], 2)?;
        }
        *slot = Some((k.clone(), v.clone()));
    }
    let total = k.dim(2)?;
    // Grouped-query attention without copying K/V per query head: the
    // `rep` query heads sharing a KV head are adjacent (HF's repeat_kv
    // order), so (b, nh, t, d) is (b, nkv, rep·t, d) as a free reshape
    // and each KV head serves its group in one matmul.
    let rep = nh / nkv;
    let scores = q
        .reshape((b, nkv, rep * t, hd))?
        .matmul(&k.t()?)?
        .reshape((b, nh, t, total))?;
    let scale = 1.0 / (hd as f64).sqrt();
    let probs = ops::masked_softmax(&scores, mask, scale)?;
    let out = probs
        .reshape((b, nkv, rep * t, total))?
        .matmul(&v)?
        .reshape((b, nh, t, hd))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((b, t, nh * hd))?;
    layer.o_proj.forward(&out, rng.as_mut())
}

/// One decoder layer: pre-norm attention and SwiGLU MLP, each with a residual.
fn decoder_layer(
    cfg: &LlamaConfig,
    layer: &DecoderLayer,
    x: &Tensor,
    rope: &(Tensor, Tensor),
    mask: &Tensor,
    slot: Option<&mut Option<(Tensor, Tensor)>>,
    rng: &mut Option<ChaCha8Rng>,
) -> Result<Tensor> {
    let eps = cfg.rms_norm_eps;
    let h = ops::rms_norm(x, &layer.input_layernorm, eps)?;
    let x = (x + attention(cfg, layer, &h, rope, mask, slot, rng)?)?;
    let h = ops::rms_norm(&x, &layer.post_attention_layernorm, eps)?;
    let act = ops::swiglu(
        &layer.gate_proj.forward(&h, rng.as_mut())?,
        &layer.up_proj.forward(&h, rng.as_mut())?,
    )?;
    Ok((x + layer.down_proj.forward(&act, rng.as_mut())?)?)
}

/// Parameter gradients of one checkpointed layer, from its recomputation
/// to the [`GradInjectOp`]s that hand them to candle's backward.
type GradStash = Arc<Mutex<HashMap<candle_core::TensorId, Tensor>>>;

/// A decoder layer whose backward recomputes it (see `Model::checkpointed_layer`).
/// Inputs: the layer input and the tail of the layer's [`GradInjectOp`] chain.
struct CheckpointOp {
    cfg: LlamaConfig,
    layer: DecoderLayer,
    rope: (Tensor, Tensor),
    mask: Tensor,
    /// Dropout generator state before the layer, replayed in backward.
    replay: Option<ChaCha8Rng>,
    vars: Vec<Var>,
    /// The forward output, computed without keeping the layer's graph.
    out: Tensor,
    stash: GradStash,
}

impl CustomOp2 for CheckpointOp {
    fn name(&self) -> &'static str {
        "insitu-checkpointed-layer"
    }

    fn cpu_fwd(
        &self,
        _xs: &CpuStorage,
        _xl: &Layout,
        _cs: &CpuStorage,
        _cl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        ops::cpu_copy(&self.out, "checkpointed layer")
    }

    fn bwd(
        &self,
        x: &Tensor,
        chain: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let xv = Var::from_tensor(&x.detach())?;
        let mut rng = self.replay.clone();
        let y = decoder_layer(
            &self.cfg,
            &self.layer,
            xv.as_tensor(),
            &self.rope,
            &self.mask,
            None,
            &mut rng,
        )
        .map_err(|e| candle_core::Error::Msg(format!("checkpointed layer recompute: {e}")))?;
        let grads = (y * grad.detach())?.sum_all()?.backward()?;
        let mut stash = self
            .stash
            .lock()
            .map_err(|_| candle_core::Error::Msg("checkpoint gradient stash poisoned".into()))?;
        for v in &self.vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                stash.insert(v.as_tensor().id(), g.clone());
            }
        }
        Ok((
            grads.get(xv.as_tensor()).cloned(),
            Some(chain.zeros_like()?),
        ))
    }
}

/// One link of a checkpointed layer's parameter chain: a one-element
/// identity whose backward hands its parameter the gradient that the
/// layer's recomputation stashed (candle processes it after the
/// [`CheckpointOp`], which consumes the chain).
struct GradInjectOp {
    stash: GradStash,
}

impl CustomOp2 for GradInjectOp {
    fn name(&self) -> &'static str {
        "insitu-checkpoint-grad"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        _vs: &CpuStorage,
        _vl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((s.clone(), l.shape().clone()))
    }

    fn bwd(
        &self,
        _chain: &Tensor,
        var: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self
            .stash
            .lock()
            .map_err(|_| candle_core::Error::Msg("checkpoint gradient stash poisoned".into()))?
            .remove(&var.id());
        Ok((Some(grad.clone()), g))
    }
}

/// Causal mask for `t` new queries after `past` cached keys: `(b, 1, t, past + t)`.
fn causal_mask_with_past(
    b: usize,
    t: usize,
    past: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let total = past + t;
    let mut m = vec![0f32; t * total];
    for i in 0..t {
        for j in (past + i + 1)..total {
            m[i * total + j] = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::from_vec(m, (1, 1, t, total), device)?
        .to_dtype(dtype)?
        .broadcast_as((b, 1, t, total))?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::tests::check_grad;

    pub(crate) fn tiny_config() -> LlamaConfig {
        LlamaConfig::from_json(
            r#"{"model_type":"llama","vocab_size":23,"hidden_size":16,"intermediate_size":24,
                "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
                "max_position_embeddings":32,"rms_norm_eps":1e-5,"tie_word_embeddings":true}"#,
        )
        .unwrap()
    }

    fn inputs(ids: &[u32], pos: &[u32], b: usize, t: usize) -> (Tensor, Tensor) {
        (
            Tensor::from_vec(ids.to_vec(), (b, t), &Device::Cpu).unwrap(),
            Tensor::from_vec(pos.to_vec(), (b, t), &Device::Cpu).unwrap(),
        )
    }

    fn loss(
        model: &Model,
        ids: &Tensor,
        pos: &Tensor,
        mask: Option<&Tensor>,
        labels: &[u32],
    ) -> candle_core::Result<Tensor> {
        let h = model
            .forward(
                ForwardInputs {
                    input_ids: ids,
                    positions: pos,
                    mask,
                },
                None,
            )
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        model
            .token_nll(&h, labels)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?
            .0
            .sum_all()
    }

    #[test]
    fn lora_gradients_of_a_whole_model_match_finite_differences() {
        let mut cfg = tiny_config();
        cfg.model_type = "qwen2".into(); // exercises q/k/v bias
        cfg.tie_word_embeddings = false;
        let mut model = Model::random(&cfg, 1, DType::F64, &Device::Cpu).unwrap();
        let lora = LoraConfig {
            r: 2,
            lora_alpha: 4.0,
            lora_dropout: 0.0,
            target_modules: crate::lora::KNOWN_TARGET_MODULES.map(String::from).to_vec(),
            ..LoraConfig::default()
        };
        model.attach_lora(&lora, 2).unwrap();
        // Give B non-zero values so that A's gradient is non-trivial too.
        for (i, (name, v)) in model.trainable().iter().enumerate() {
            if name.contains("lora_B") {
                v.set(&(crate::ops::tests::randn(v.dims(), 100 + i as u64) * 0.5).unwrap())
                    .unwrap();
            }
        }
        let (ids, pos) = inputs(&[1, 5, 7, 2, 9, 3], &[0, 1, 2, 0, 1, 2], 1, 6);
        let mask =
            ops::segment_causal_mask(&[0, 0, 0, 1, 1, 1], 1, 6, DType::F64, &Device::Cpu).unwrap();
        let labels = [5, 7, ops::IGNORE_INDEX, 9, 3, 4];
        let checked = model
            .trainable()
            .iter()
            .filter(|(n, _)| n.contains("layers.1.") || n.contains("layers.0.self_attn.q_proj"));
        for (_, var) in checked {
            let f = || loss(&model, &ids, &pos, Some(&mask), &labels);
            check_grad(var, &f, 1e-5);
        }
    }

    #[test]
    fn full_fine_tuning_gradients_match_finite_differences() {
        let cfg = tiny_config();
        let mut model = Model::random(&cfg, 3, DType::F64, &Device::Cpu).unwrap();
        model.make_fully_trainable().unwrap();
        let (ids, pos) = inputs(&[1, 5, 7, 2], &[0, 1, 2, 3], 1, 4);
        let labels = [5, 7, 2, 9];
        for (name, var) in model.trainable() {
            if name.contains("norm")
                || name.contains("embed")
                || name.contains("layers.0.self_attn.k_proj")
            {
                let f = || loss(&model, &ids, &pos, None, &labels);
                check_grad(var, &f, 1e-5);
            }
        }
    }

    #[test]
    fn lora_training_differentiates_no_base_weight() {
        let cfg = tiny_config();
        let mut model = Model::random(&cfg, 4, DType::F32, &Device::Cpu).unwrap();
        model.attach_lora(&LoraConfig::default(), 5).unwrap();
        let (ids, pos) = inputs(&[1, 5, 7, 2], &[0, 1, 2, 3], 1, 4);
        let l = loss(&model, &ids, &pos, None, &[5, 7, 2, 9]).unwrap();
        let grads = l.backward().unwrap();
        assert!(
            grads.get(&model.embed_tokens).is_none(),
            "embeddings were differentiated"
        );
        assert!(
            grads.get(&model.norm).is_none(),
            "final norm was differentiated"
        );
        for layer in &model.layers {
            for (module, lin) in layer.modules() {
                assert!(
                    grads.get(lin.dense_weight().unwrap()).is_none(),
                    "{module} weight was differentiated"
                );
            }
            assert!(grads.get(&layer.input_layernorm).is_none());
        }
        for (name, v) in model.trainable() {
            assert!(grads.get(v.as_tensor()).is_some(), "{name} got no gradient");
        }
    }

    /// Loss and every trainable parameter's gradient for one training forward.
    fn loss_and_grads(model: &Model, dropout_seed: Option<u64>) -> (f64, Vec<Vec<f64>>) {
        let (ids, pos) = inputs(&[1, 5, 7, 2, 9, 3], &[0, 1, 2, 0, 1, 2], 1, 6);
        let mask =
            ops::segment_causal_mask(&[0, 0, 0, 1, 1, 1], 1, 6, DType::F64, &Device::Cpu).unwrap();
        let h = model
            .forward(
                ForwardInputs {
                    input_ids: &ids,
                    positions: &pos,
                    mask: Some(&mask),
                },
                dropout_seed,
            )
            .unwrap();
        let labels = [5, 7, ops::IGNORE_INDEX, 9, 3, 4];
        let loss = model.token_nll(&h, &labels).unwrap().0.sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let per_var = model
            .trainable()
            .iter()
            .map(|(name, v)| {
                grads
                    .get(v.as_tensor())
                    .unwrap_or_else(|| panic!("{name} got no gradient"))
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
            })
            .collect();
        (loss.to_vec0::<f64>().unwrap(), per_var)
    }

    fn assert_same_training_step(model: &Model, dropout_seed: Option<u64>) {
        let mut checkpointed = model.clone();
        checkpointed.set_gradient_checkpointing(true);
        let (loss, grads) = loss_and_grads(model, dropout_seed);
        let (loss_ckpt, grads_ckpt) = loss_and_grads(&checkpointed, dropout_seed);
        assert!((loss - loss_ckpt).abs() < 1e-12, "{loss} vs {loss_ckpt}");
        let mut checked = 0;
        for ((name, _), (a, b)) in model.trainable().iter().zip(grads.iter().zip(&grads_ckpt)) {
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                diff < 1e-6,
                "{name}: checkpointed gradient differs by {diff}"
            );
            assert!(a.iter().any(|x| *x != 0.0), "{name}: gradient is all zero");
            checked += 1;
        }
        assert_eq!(checked, model.trainable().len());
    }

    #[test]
    fn gradient_checkpointing_gives_the_same_lora_gradients_with_dropout() {
        let mut cfg = tiny_config();
        cfg.model_type = "qwen2".into();
        let mut model = Model::random(&cfg, 8, DType::F64, &Device::Cpu).unwrap();
        let lora = LoraConfig {
            r: 2,
            lora_alpha: 4.0,
            lora_dropout: 0.3,
            target_modules: crate::lora::KNOWN_TARGET_MODULES.map(String::from).to_vec(),
            ..LoraConfig::default()
        };
        model.attach_lora(&lora, 9).unwrap();
        for (i, (name, v)) in model.trainable().iter().enumerate() {
            if name.contains("lora_B") {
                v.set(&(crate::ops::tests::randn(v.dims(), 200 + i as u64) * 0.5).unwrap())
                    .unwrap();
            }
        }
        // Dropout on: the recomputation must replay the same masks.
        assert_same_training_step(&model, Some(77));
        assert_same_training_step(&model, None);
    }

    #[test]
    fn gradient_checkpointing_gives_the_same_full_fine_tuning_gradients() {
        let mut model = Model::random(&tiny_config(), 10, DType::F64, &Device::Cpu).unwrap();
        model.make_fully_trainable().unwrap();
        assert_same_training_step(&model, None);
    }

    #[test]
    fn packed_rows_match_separate_rows() {
        let cfg = tiny_config();
        let model = Model::random(&cfg, 6, DType::F64, &Device::Cpu).unwrap();
        let (ids, pos) = inputs(&[1, 5, 7, 2, 9, 3], &[0, 1, 2, 0, 1, 2], 1, 6);
        let mask =
            ops::segment_causal_mask(&[0, 0, 0, 1, 1, 1], 1, 6, DType::F64, &Device::Cpu).unwrap();
        let packed = model
            .forward(
                ForwardInputs {
                    input_ids: &ids,
                    positions: &pos,
                    mask: Some(&mask),
                },
                None,
            )
            .unwrap();
        let (a_ids, a_pos) = inputs(&[1, 5, 7], &[0, 1, 2], 1, 3);
        let (b_ids, b_pos) = inputs(&[2, 9, 3], &[0, 1, 2], 1, 3);
        let a = model
            .forward(
                ForwardInputs {
                    input_ids: &a_ids,
                    positions: &a_pos,
                    mask: None,
                },
                None,
            )
            .unwrap();
        let b = model
            .forward(
                ForwardInputs {
                    input_ids: &b_ids,
                    positions: &b_pos,
                    mask: None,
                },
                None,
            )
            .unwrap();
        let separate = Tensor::cat(&[a, b], 1).unwrap();
        let diff = (packed - separate)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert!(
            diff < 1e-12,
            "packed and separate hidden states differ by {diff}"
        );
    }

    #[test]
    fn kv_cache_matches_full_forward() {
        let cfg = tiny_config();
        let model = Model::random(&cfg, 7, DType::F64, &Device::Cpu).unwrap();
        let (ids, pos) = inputs(&[1, 5, 7, 2, 9], &[0, 1, 2, 3, 4], 1, 5);
        let full = model
            .forward(
                ForwardInputs {
                    input_ids: &ids,
                    positions: &pos,
                    mask: None,
                },
                None,
            )
            .unwrap();
        let mut cache = KvCache::default();
        let (p_ids, p_pos) = inputs(&[1, 5, 7], &[0, 1, 2], 1, 3);
        let mut parts = vec![model.forward_cached(&p_ids, &p_pos, &mut cache).unwrap()];
        for (id, p) in [(2u32, 3u32), (9, 4)] {
            let (i, q) = inputs(&[id], &[p], 1, 1);
            parts.push(model.forward_cached(&i, &q, &mut cache).unwrap());
        }
        assert_eq!(cache.len(), 5);
        let inc = Tensor::cat(&parts, 1).unwrap();
        let diff = (full - inc)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert!(diff < 1e-12, "cached decoding differs by {diff}");
    }

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let mut cfg = tiny_config();
        let plain = rope_inv_freq(&cfg).unwrap();
        cfg.rope_scaling = Some(crate::config::RopeScaling {
            rope_type: "llama3".into(),
            factor: 8.0,
            low_freq_factor: Some(1.0),
            high_freq_factor: Some(4.0),
            original_max_position_embeddings: Some(64),
        });
        let scaled = rope_inv_freq(&cfg).unwrap();
        assert_eq!(scaled[0], plain[0], "highest frequency unchanged");
        let last = plain.len() - 1;
        assert!(
            (scaled[last] - plain[last] / 8.0).abs() < 1e-15,
            "lowest frequency divided by the factor"
        );
        cfg.rope_scaling.as_mut().unwrap().rope_type = "yarn".into();
        assert!(rope_inv_freq(&cfg).is_err());
    }
}
