//! 4-bit NormalFloat (NF4) storage for frozen base weights, as in QLoRA
//! (Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs")
//! and bitsandbytes: blocks of 64 weights share one absmax scale; each weight
//! becomes the index of the nearest of 16 NF4 code values, two indices per
//! byte (first element in the high nibble). Double quantisation stores the
//! absmax scales themselves as 8-bit integers around their mean, in blocks of
//! 256 with one f32 scale each.
//!
//! [`blockwise_linear`] computes `x·Wᵀ` without ever holding `W` densely: it
//! dequantises a tile of rows at a time (at most [`TILE_ELEMENTS`] values)
//! and multiplies that. Its backward returns the gradient with respect to
//! `x` only (`grad_x = grad_y · W`, dequantised the same way); a quantised
//! weight is frozen by construction and never receives a gradient.

use crate::lora::BaseQuantization;
use crate::model::Model;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor, WithDType};
use std::sync::Arc;

/// Weights per absmax block (bitsandbytes' and QLoRA's choice).
pub const NF4_BLOCK_SIZE: usize = 64;

/// Absmax values per second-level block under double quantisation.
pub const ABSMAX_BLOCK_SIZE: usize = 256;

/// The 16 NF4 code values: quantiles of N(0, 1) normalised to [-1, 1], with
/// an exact zero (the table bitsandbytes ships, `create_normal_map`).
pub const NF4_CODE: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_05,
    -0.394_917_5,
    -0.284_441_38,
    -0.184_773_43,
    -0.091_050_036,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_24,
    0.440_709_83,
    0.562_617,
    0.722_956_84,
    1.0,
];

/// Upper bound on the dense values one [`blockwise_linear`] call materialises at a
/// time (64 Ki values: 256 KiB in f32), whatever the weight's size.
pub const TILE_ELEMENTS: usize = 1 << 16;

/// Index of the NF4 code nearest to `v` (already divided by its block's
/// absmax); ties go to the lower code, as any fixed rule keeps it
/// deterministic.
fn nearest_code(v: f32) -> u8 {
    // Midpoints between neighbouring codes split [-1, 1] into 16 bins.
    let mut idx = 0u8;
    for pair in NF4_CODE.windows(2) {
        if v > (pair[0] + pair[1]) / 2.0 {
            idx += 1;
        } else {
            break;
        }
    }
    idx
}

/// How the per-block absmax scales are stored.
#[derive(Debug, Clone, PartialEq)]
enum Scales {
    /// One f32 per block of 64 weights.
    F32(Vec<f32>),
    /// Double quantisation: `absmax ≈ mean + code · step[block of 256]`.
    Int8 {
        codes: Vec<i8>,
        step: Vec<f32>,
        mean: f32,
    },
}

impl Scales {
    fn double_quantize(absmax: &[f32]) -> Scales {
        // Every absmax is ≥ 0, so centring on the mean uses both signs of
        // the 8-bit code (QLoRA's second quantisation does the same).
        let mean = if absmax.is_empty() {
            0.0
        } else {
            (absmax.iter().map(|&a| a as f64).sum::<f64>() / absmax.len() as f64) as f32
        };
        let mut codes = Vec::with_capacity(absmax.len());
        let mut step = Vec::with_capacity(absmax.len().div_ceil(ABSMAX_BLOCK_SIZE));
        for block in absmax.chunks(ABSMAX_BLOCK_SIZE) {
            let spread = block.iter().fold(0f32, |m, &a| m.max((a - mean).abs()));
            let s = spread / 127.0;
            step.push(s);
            codes.extend(block.iter().map(|&a| {
                if s > 0.0 {
                    ((a - mean) / s).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                }
            }));
        }
        Scales::Int8 { codes, step, mean }
    }

    /// The (dequantised) absmax of weight block `b`.
    fn get(&self, b: usize) -> f32 {
        match self {
            Scales::F32(v) => v[b],
            Scales::Int8 { codes, step, mean } => {
                mean + codes[b] as f32 * step[b / ABSMAX_BLOCK_SIZE]
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Scales::F32(v) => 4 * v.len(),
            Scales::Int8 { codes, step, .. } => codes.len() + 4 * step.len() + 4,
        }
    }
}

/// A 2-D weight `(rows, cols)` stored as NF4 codes, row-major, in blocks of
/// [`NF4_BLOCK_SIZE`] consecutive values of the flattened tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Nf4Tensor {
    rows: usize,
    cols: usize,
    /// Two 4-bit code indices per byte, element `2i` in the high nibble.
    packed: Vec<u8>,
    scales: Scales,
}

impl Nf4Tensor {
    /// Quantises row-major `values` of shape `(rows, cols)`; with
    /// `double_quant` the absmax scales are stored in 8 bits too.
    pub fn quantize(
        values: &[f32],
        (rows, cols): (usize, usize),
        double_quant: bool,
    ) -> crate::Result<Nf4Tensor> {
        if values.len() != rows * cols {
            return Err(crate::Error::Invalid(format!(
                "nf4: {} values do not fill a {rows}x{cols} weight",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(crate::Error::Invalid(format!(
                "nf4: weight value at row {}, column {} is {} — a base weight must be finite to be quantised",
                i / cols.max(1),
                i % cols.max(1),
                values[i]
            )));
        }
        let mut packed = vec![0u8; values.len().div_ceil(2)];
        let mut absmax = Vec::with_capacity(values.len().div_ceil(NF4_BLOCK_SIZE));
        for (b, block) in values.chunks(NF4_BLOCK_SIZE).enumerate() {
            let a = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            absmax.push(a);
            let inv = if a > 0.0 { 1.0 / a } else { 0.0 };
            for (j, &v) in block.iter().enumerate() {
                let i = b * NF4_BLOCK_SIZE + j;
                let code = nearest_code(v * inv);
                packed[i / 2] |= if i.is_multiple_of(2) { code << 4 } else { code };
            }
        }
        let scales = if double_quant {
            Scales::double_quantize(&absmax)
        } else {
            Scales::F32(absmax)
        };
        Ok(Nf4Tensor {
            rows,
            cols,
            packed,
            scales,
        })
    }

    /// Quantises a 2-D tensor of any float dtype (read as f32).
    pub fn from_tensor(w: &Tensor, double_quant: bool) -> crate::Result<Nf4Tensor> {
        let (rows, cols) = w.dims2()?;
        let values = w.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Nf4Tensor::quantize(&values, (rows, cols), double_quant)
    }

    /// `(rows, cols)`, i.e. `(out, in)` for a linear weight.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Whether the absmax scales are double-quantised.
    pub fn is_double_quantized(&self) -> bool {
        matches!(self.scales, Scales::Int8 { .. })
    }

    /// Bytes held: packed codes plus scales (≈ 4.5 bits per weight, ≈ 4.13
    /// with double quantisation).
    pub fn storage_bytes(&self) -> usize {
        self.packed.len() + self.scales.bytes()
    }

    /// The absmax scale of every block, dequantised.
    pub fn absmax(&self) -> Vec<f32> {
        let blocks = (self.rows * self.cols).div_ceil(NF4_BLOCK_SIZE);
        (0..blocks).map(|b| self.scales.get(b)).collect()
    }

    /// Writes the dequantised values of the flattened range
    /// `start..start + out.len()` into `out`.
    fn dequantize_range<T: WithDType>(&self, start: usize, out: &mut [T]) {
        let mut i = start;
        let mut rest = out;
        while !rest.is_empty() {
            let block = i / NF4_BLOCK_SIZE;
            let scale = self.scales.get(block);
            let take = ((block + 1) * NF4_BLOCK_SIZE - i).min(rest.len());
            let (now, later) = rest.split_at_mut(take);
            for o in now {
                let byte = self.packed[i / 2];
                let code = if i.is_multiple_of(2) {
                    byte >> 4
                } else {
                    byte & 0x0f
                };
                *o = T::from_f64((NF4_CODE[code as usize] * scale) as f64);
                i += 1;
            }
            rest = later;
        }
    }

    /// All values as a dense f32 tensor `(rows, cols)` (merging, tests).
    pub fn dequantize(&self, device: &candle_core::Device) -> crate::Result<Tensor> {
        dequantize_all(self, device)
    }
}

impl BlockWeight for Nf4Tensor {
    const OP_NAMES: [&'static str; 2] = ["insitu-nf4-linear", "insitu-nf4-linear-grad-input"];

    fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn dequantize_row<T: WithDType>(&self, row: usize, c0: usize, out: &mut [T]) {
        self.dequantize_range(row * self.cols + c0, out);
    }
}

/// A frozen 2-D weight `(rows, cols)` stored in blocks that can be
/// dequantised a row segment at a time; [`blockwise_linear`] multiplies by it.
pub trait BlockWeight: Send + Sync + 'static {
    /// Names of the forward and the input-gradient op (for candle's graph).
    const OP_NAMES: [&'static str; 2];

    /// `(rows, cols)`, i.e. `(out, in)` for a linear weight.
    fn dims(&self) -> (usize, usize);

    /// Writes row `row`, columns `c0..c0 + out.len()`, into `out`.
    fn dequantize_row<T: WithDType>(&self, row: usize, c0: usize, out: &mut [T]);

    /// The dense values of rows `rows` and columns `cols`, row-major.
    fn dequantize_tile<T: WithDType>(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> Vec<T> {
        let width = cols.len();
        let mut out = vec![T::zero(); rows.len() * width];
        for (r, row_out) in rows.zip(out.chunks_mut(width.max(1))) {
            self.dequantize_row(r, cols.start, row_out);
        }
        out
    }
}

fn dequantize_all<W: BlockWeight>(w: &W, device: &candle_core::Device) -> crate::Result<Tensor> {
    let (rows, cols) = w.dims();
    let values = w.dequantize_tile::<f32>(0..rows, 0..cols);
    Ok(Tensor::from_vec(values, (rows, cols), device)?)
}

/// Which product a [`BlockMatMul`] computes with the stored `W (n, k)`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Product {
    /// `x (m, k) · Wᵀ → (m, n)`: the forward pass.
    TimesTransposed,
    /// `g (m, n) · W → (m, k)`: the input gradient.
    Times,
}

/// `x·Wᵀ` or `g·W` with `W` dequantised a tile at a time.
struct BlockMatMul<W: BlockWeight> {
    w: Arc<W>,
    product: Product,
}

impl<W: BlockWeight> BlockMatMul<W> {
    fn compute<T: WithDType>(
        &self,
        xs: &CpuStorage,
        start: usize,
        m: usize,
    ) -> candle_core::Result<Vec<T>> {
        let (n, k) = self.w.dims();
        let (inner, outer) = match self.product {
            Product::TimesTransposed => (k, n),
            Product::Times => (n, k),
        };
        let x_layout = Layout::contiguous_with_offset((m, inner), start);
        let mut out = vec![T::zero(); m * outer];
        if m == 0 || outer == 0 {
            return Ok(out);
        }
        // Each tile covers `span` output columns: rows of W for the forward
        // product, columns of W for the input gradient.
        let span = (TILE_ELEMENTS / inner.max(1)).clamp(1, outer.max(1));
        let mut c0 = 0;
        while c0 < outer {
            let c1 = (c0 + span).min(outer);
            let width = c1 - c0;
            let (tile, tile_layout) = match self.product {
                Product::TimesTransposed => (
                    // W[c0..c1, :] is (width, k); the product needs its transpose.
                    self.w.dequantize_tile::<T>(c0..c1, 0..k),
                    Layout::contiguous((width, k)).transpose(0, 1)?,
                ),
                Product::Times => (
                    self.w.dequantize_tile::<T>(0..n, c0..c1),
                    Layout::contiguous((n, width)),
                ),
            };
            let tile = T::to_cpu_storage_owned(tile);
            let part = xs.matmul(&tile, (1, m, width, inner), &x_layout, &tile_layout)?;
            let part = part.as_slice::<T>()?;
            for (row_out, row_part) in out.chunks_mut(outer).zip(part.chunks(width)) {
                row_out[c0..c1].copy_from_slice(row_part);
            }
            c0 = c1;
        }
        Ok(out)
    }
}

impl<W: BlockWeight> CustomOp1 for BlockMatMul<W> {
    fn name(&self) -> &'static str {
        match self.product {
            Product::TimesTransposed => W::OP_NAMES[0],
            Product::Times => W::OP_NAMES[1],
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, k) = self.w.dims();
        let (inner, outer) = match self.product {
            Product::TimesTransposed => (k, n),
            Product::Times => (n, k),
        };
        let dims = l.shape().dims();
        let width = *dims.last().unwrap_or(&0);
        if width != inner {
            candle_core::bail!(
                "{}: input width {width} does not match the {n}x{k} quantised weight",
                self.name()
            )
        }
        let Some((start, _)) = l.contiguous_offsets() else {
            candle_core::bail!("{}: input must be contiguous", self.name())
        };
        let m = l.shape().elem_count() / inner.max(1);
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(self.compute::<f32>(s, start, m)?),
            DType::F64 => CpuStorage::F64(self.compute::<f64>(s, start, m)?),
            dtype => candle_core::bail!(
                "{}: dtype {dtype:?} is not supported — train in f32 (or f64 for tests)",
                self.name()
            ),
        };
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("rank >= 1") = outer;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // The input gradient only: W is frozen, so no weight gradient is
        // ever formed (there is no tensor to receive one).
        if self.product != Product::TimesTransposed {
            candle_core::bail!("{} has no second derivative", self.name())
        }
        let grad_input = grad_res.contiguous()?.apply_op1_no_bwd(&BlockMatMul {
            w: self.w.clone(),
            product: Product::Times,
        })?;
        Ok(Some(grad_input))
    }
}

/// `x · Wᵀ` for `x` of shape `(…, in)` and a block-quantised weight
/// `(out, in)` (NF4 or GGUF blocks), on the CPU in f32 or f64;
/// differentiable with respect to `x` only.
pub fn blockwise_linear<W: BlockWeight>(x: &Tensor, w: &Arc<W>) -> crate::Result<Tensor> {
    if !x.device().is_cpu() {
        return Err(crate::Error::Invalid(
            "quantised base weights run on the CPU only — use base_quantization = \"none\" on other devices".into(),
        ));
    }
    Ok(x.contiguous()?.apply_op1(BlockMatMul {
        w: w.clone(),
        product: Product::TimesTransposed,
    })?)
}

/// llama.cpp block formats a GGUF base can keep (32 weights per block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GgufBlockKind {
    /// f16 scale `d`, 16 bytes of nibbles: `d · (q − 8)`.
    Q4_0,
    /// f16 scale `d` and minimum `m`, 16 bytes of nibbles: `d · q + m`.
    Q4_1,
    /// f16 scale `d`, 32 signed bytes: `d · q`.
    Q8_0,
}

impl GgufBlockKind {
    fn block_bytes(self) -> usize {
        match self {
            GgufBlockKind::Q4_0 => 18,
            GgufBlockKind::Q4_1 => 20,
            GgufBlockKind::Q8_0 => 34,
        }
    }
}

/// Weights per llama.cpp Q4_0/Q4_1/Q8_0 block.
const GGUF_BLOCK_SIZE: usize = 32;

/// A weight kept in a GGUF file's own Q4_0, Q4_1 or Q8_0 blocks (no second
/// rounding to NF4), with llama.cpp's RoPE row order for q/k undone by an
/// index map rather than a copy. Not yet selectable from a run
/// configuration: see docs/quantisation.md.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufBlocks {
    rows: usize,
    cols: usize,
    kind: GgufBlockKind,
    data: Vec<u8>,
    /// HF row → row in the file, for q/k projections of llama models.
    row_in_file: Option<Vec<usize>>,
}

impl GgufBlocks {
    /// Takes the blocks of `q` (shape `(out, in)`); `rope_heads` is the head
    /// count of a llama q/k projection whose rows llama.cpp permuted.
    pub fn from_qtensor(
        q: &candle_core::quantized::QTensor,
        rope_heads: Option<usize>,
    ) -> crate::Result<GgufBlocks> {
        use candle_core::quantized::GgmlDType;
        let (rows, cols) = q.shape().dims2()?;
        let kind = match q.dtype() {
            GgmlDType::Q4_0 => GgufBlockKind::Q4_0,
            GgmlDType::Q4_1 => GgufBlockKind::Q4_1,
            GgmlDType::Q8_0 => GgufBlockKind::Q8_0,
            other => {
                return Err(crate::Error::Invalid(format!(
                    "a GGUF base can keep Q4_0, Q4_1 or Q8_0 blocks, not {} — import the model dense instead",
                    crate::gguf::ggml_type_name(other)
                )))
            }
        };
        if !cols.is_multiple_of(GGUF_BLOCK_SIZE) {
            return Err(crate::Error::Invalid(format!(
                "a {rows}x{cols} GGUF weight: rows must be whole blocks of {GGUF_BLOCK_SIZE}"
            )));
        }
        let data = q.data()?.into_owned();
        let want = rows * cols / GGUF_BLOCK_SIZE * kind.block_bytes();
        if data.len() != want {
            return Err(crate::Error::Invalid(format!(
                "a {rows}x{cols} {kind:?} weight holds {} bytes, expected {want}",
                data.len()
            )));
        }
        let row_in_file = match rope_heads {
            None => None,
            Some(heads) => {
                // The import's own un-permutation, applied to row numbers.
                let ids: Vec<f32> = (0..rows).map(|r| r as f32).collect();
                let ids = Tensor::from_vec(ids, (rows, 1), &candle_core::Device::Cpu)?;
                let order = crate::gguf::unpermute_rope_rows(&ids, heads)?;
                Some(
                    order
                        .flatten_all()?
                        .to_vec1::<f32>()?
                        .into_iter()
                        .map(|r| r as usize)
                        .collect(),
                )
            }
        };
        Ok(GgufBlocks {
            rows,
            cols,
            kind,
            data,
            row_in_file,
        })
    }

    /// Bytes held by the blocks.
    pub fn storage_bytes(&self) -> usize {
        self.data.len()
    }

    /// All values as a dense f32 tensor `(rows, cols)` in HF row order.
    pub fn dequantize(&self, device: &candle_core::Device) -> crate::Result<Tensor> {
        dequantize_all(self, device)
    }
}

impl BlockWeight for GgufBlocks {
    const OP_NAMES: [&'static str; 2] = ["insitu-gguf-linear", "insitu-gguf-linear-grad-input"];

    fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn dequantize_row<T: WithDType>(&self, row: usize, c0: usize, out: &mut [T]) {
        let file_row = self.row_in_file.as_ref().map_or(row, |m| m[row]);
        let bb = self.kind.block_bytes();
        let row_start = file_row * (self.cols / GGUF_BLOCK_SIZE) * bb;
        let f16_at =
            |at: usize| half::f16::from_le_bytes([self.data[at], self.data[at + 1]]).to_f32();
        for (j, o) in out.iter_mut().enumerate() {
            let c = c0 + j;
            let at = row_start + (c / GGUF_BLOCK_SIZE) * bb;
            let e = c % GGUF_BLOCK_SIZE;
            let d = f16_at(at);
            // Q4 blocks: element e < 16 is the low nibble of byte e, e ≥ 16
            // the high nibble of byte e − 16 (ggml's layout).
            let nibble = |qs: usize| {
                let byte = self.data[qs + e % 16];
                if e < 16 {
                    byte & 0x0f
                } else {
                    byte >> 4
                }
            };
            let v = match self.kind {
                GgufBlockKind::Q4_0 => d * (nibble(at + 2) as f32 - 8.0),
                GgufBlockKind::Q4_1 => d * nibble(at + 4) as f32 + f16_at(at + 2),
                GgufBlockKind::Q8_0 => d * (self.data[at + 2 + e] as i8) as f32,
            };
            *o = T::from_f64(v as f64);
        }
    }
}

/// Stores the frozen base weight of every projection (q/k/v/o, gate/up/down)
/// of `model` as `q` asks, before or after LoRA is attached; embeddings,
/// norms and the LM head stay dense, as in QLoRA. Returns the bytes the
/// projection weights occupy afterwards. Refused for trainable base weights
/// (full fine-tuning).
pub fn quantize_model_base(model: &mut Model, q: BaseQuantization) -> crate::Result<usize> {
    let mut bytes = 0;
    for (i, layer) in model.layers.iter_mut().enumerate() {
        for (module, lin) in layer.modules_mut() {
            lin.quantize_base(q)
                .map_err(|e| crate::Error::Invalid(format!("layer {i} {module}: {e}")))?;
            bytes += lin.base_weight_bytes();
        }
    }
    Ok(bytes)
}

/// llama.cpp's tensor name for a projection of layer `i` (the inverse of
/// the import's renaming, for the seven projections only).
fn gguf_projection_name(i: usize, module: &str) -> String {
    let part = match module {
        "q_proj" => "attn_q",
        "k_proj" => "attn_k",
        "v_proj" => "attn_v",
        "o_proj" => "attn_output",
        "gate_proj" => "ffn_gate",
        "up_proj" => "ffn_up",
        _ => "ffn_down",
    };
    format!("blk.{i}.{part}.weight")
}

/// Replaces every projection's dense frozen base of `model` with the
/// matching blocks of the GGUF file it was imported from (Q4_0, Q4_1 or
/// Q8_0; llama.cpp's q/k row order undone for llama models), so training
/// sees exactly the imported values at the file's own size. Returns the
/// bytes the projection weights occupy afterwards.
pub fn use_gguf_base(model: &mut Model, gguf: &std::path::Path) -> crate::Result<usize> {
    let bad = |message: String| crate::Error::BadFile {
        path: gguf.to_path_buf(),
        message,
    };
    let mut file = std::fs::File::open(gguf).map_err(|source| crate::Error::Io {
        path: gguf.to_path_buf(),
        source,
    })?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)
        .map_err(|e| bad(format!("not a readable GGUF file: {e}")))?;
    let cfg = model.config().clone();
    let permuted = cfg.model_type == "llama";
    let mut bytes = 0;
    for (i, layer) in model.layers.iter_mut().enumerate() {
        for (module, lin) in layer.modules_mut() {
            let name = gguf_projection_name(i, module);
            if !content.tensor_infos.contains_key(&name) {
                return Err(bad(format!(
                    "tensor {name:?} is missing — this file is not the one the model was imported from"
                )));
            }
            let q = content
                .tensor(&mut file, &name, &candle_core::Device::Cpu)
                .map_err(|e| bad(format!("tensor {name:?}: {e}")))?;
            let rope_heads = match module {
                "q_proj" if permuted => Some(cfg.num_attention_heads),
                "k_proj" if permuted => Some(cfg.kv_heads()),
                _ => None,
            };
            let blocks = GgufBlocks::from_qtensor(&q, rope_heads)
                .map_err(|e| bad(format!("tensor {name:?}: {e}")))?;
            lin.set_gguf_base(blocks)
                .map_err(|e| bad(format!("tensor {name:?}: {e}")))?;
            bytes += lin.base_weight_bytes();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::{Rng, SeedableRng};

    fn gaussian(n: usize, sigma: f32, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                // Box–Muller: weights of trained layers are roughly normal.
                let (u1, u2): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
                sigma * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect()
    }

    fn values(q: &Nf4Tensor) -> Vec<f32> {
        q.dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn code_values_round_trip_exactly() {
        // Every block holds ±1 so that its absmax is 1 and codes are exact.
        let mut v = Vec::new();
        for shift in 0..4 {
            let mut block: Vec<f32> = (0..NF4_BLOCK_SIZE)
                .map(|i| NF4_CODE[(i + shift) % 16])
                .collect();
            block[63] = 1.0;
            v.extend(block);
        }
        let q = Nf4Tensor::quantize(&v, (4, 64), false).unwrap();
        assert_eq!(values(&q), v);
        // Scaled blocks: code · absmax comes back exactly when absmax is a
        // power of two.
        let scaled: Vec<f32> = v.iter().map(|x| x * 0.125).collect();
        let q = Nf4Tensor::quantize(&scaled, (4, 64), false).unwrap();
        assert_eq!(values(&q), scaled);
    }

    #[test]
    fn nearest_code_picks_the_closest_value() {
        for k in 0..2001 {
            let v = -1.0 + k as f32 * 0.001;
            let c = nearest_code(v) as usize;
            let best = NF4_CODE
                .iter()
                .map(|x| (x - v).abs())
                .fold(f32::INFINITY, f32::min);
            assert!((NF4_CODE[c] - v).abs() <= best + 1e-7, "{v} → {c}");
        }
    }

    /// Half the widest gap between neighbouring codes: the worst rounding
    /// error on a weight normalised by its block's absmax.
    fn half_widest_gap() -> f32 {
        NF4_CODE.windows(2).map(|p| p[1] - p[0]).fold(0.0, f32::max) / 2.0
    }

    #[test]
    fn error_per_block_is_within_half_a_code_gap_of_absmax() {
        let n = 64 * 37 + 10; // a ragged last block
        let w = gaussian(n, 0.02, 3);
        let q = Nf4Tensor::quantize(&w, (1, n), false).unwrap();
        let back = values(&q);
        let absmax = q.absmax();
        for (b, (orig, deq)) in w
            .chunks(NF4_BLOCK_SIZE)
            .zip(back.chunks(NF4_BLOCK_SIZE))
            .enumerate()
        {
            let a = orig.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(absmax[b], a, "absmax of block {b} is stored in f32");
            for (x, y) in orig.iter().zip(deq) {
                assert!((x - y).abs() <= a * half_widest_gap() * (1.0 + 1e-6));
            }
            // The largest magnitude is exact: it maps to ±1.
            let i = orig.iter().position(|v| v.abs() == a).unwrap();
            assert_eq!(deq[i], orig[i]);
        }
        // Normal weights land mostly near the centre: the mean error is far
        // below the worst case.
        let mean_err: f32 = w.iter().zip(&back).map(|(x, y)| (x - y).abs()).sum::<f32>() / n as f32;
        let mean_abs: f32 = w.iter().map(|x| x.abs()).sum::<f32>() / n as f32;
        assert!(mean_err < 0.1 * mean_abs, "{mean_err} vs {mean_abs}");
    }

    #[test]
    fn double_quantisation_adds_at_most_half_an_absmax_step() {
        let n = 64 * 600; // 600 blocks: three absmax blocks of 256, one ragged
        let w = gaussian(n, 0.05, 9);
        let single = Nf4Tensor::quantize(&w, (60, 640), false).unwrap();
        let double = Nf4Tensor::quantize(&w, (60, 640), true).unwrap();
        assert!(double.is_double_quantized() && !single.is_double_quantized());
        let (a1, a2) = (single.absmax(), double.absmax());
        let mean = a1.iter().sum::<f32>() / a1.len() as f32;
        for (chunk1, chunk2) in a1
            .chunks(ABSMAX_BLOCK_SIZE)
            .zip(a2.chunks(ABSMAX_BLOCK_SIZE))
        {
            let step = chunk1.iter().fold(0f32, |m, a| m.max((a - mean).abs())) / 127.0;
            for (x, y) in chunk1.iter().zip(chunk2) {
                assert!((x - y).abs() <= step / 2.0 + 1e-6 * x, "{x} vs {y}");
            }
        }
        // Element error: the NF4 bound with the stored absmax, plus the
        // absmax error times the largest code magnitude (1).
        let (b1, b2) = (values(&single), values(&double));
        for (i, (x, y)) in w.iter().zip(&b2).enumerate() {
            let blk = i / NF4_BLOCK_SIZE;
            let bound = a1[blk] * half_widest_gap() + (a1[blk] - a2[blk]).abs();
            assert!((x - y).abs() <= bound * (1.0 + 1e-5), "element {i}");
        }
        assert_ne!(b1, b2, "double quantisation must change some scale");
        // Storage: 4.5 bits per weight, ≈ 4.13 with double quantisation.
        assert_eq!(single.storage_bytes(), n / 2 + 4 * 600);
        assert_eq!(double.storage_bytes(), n / 2 + 600 + 4 * 3 + 4);
    }

    #[test]
    fn packs_two_codes_per_byte_high_nibble_first() {
        let v = [NF4_CODE[3], NF4_CODE[12], 1.0];
        let q = Nf4Tensor::quantize(&v, (1, 3), false).unwrap();
        assert_eq!(q.packed, vec![0x3c, 0xf0]);
    }

    #[test]
    fn zero_blocks_and_non_finite_values() {
        let q = Nf4Tensor::quantize(&[0.0; 70], (7, 10), true).unwrap();
        assert!(values(&q).iter().all(|v| *v == 0.0));
        let mut w = vec![0.5f32; 20];
        w[13] = f32::NAN;
        let e = Nf4Tensor::quantize(&w, (4, 5), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2, column 3"), "{e}");
        let e = Nf4Tensor::quantize(&w, (4, 6), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("4x6"), "{e}");
    }

    #[test]
    fn linear_equals_dense_matmul_of_the_dequantised_weight() {
        // Shapes that make several tiles with a ragged last one, in both
        // directions, and blocks that straddle rows (cols not a multiple of 64).
        let (n, k) = (300, 250);
        let w = Arc::new(Nf4Tensor::quantize(&gaussian(n * k, 0.1, 1), (n, k), false).unwrap());
        let dense = w.dequantize(&Device::Cpu).unwrap();
        let x = Tensor::from_vec(gaussian(2 * 5 * k, 1.0, 2), (2, 5, k), &Device::Cpu).unwrap();
        let got = blockwise_linear(&x, &w).unwrap();
        let want = x.broadcast_matmul(&dense.t().unwrap()).unwrap();
        assert_eq!(got.dims(), &[2, 5, n]);
        let diff = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
        let g = Tensor::from_vec(gaussian(2 * 5 * n, 1.0, 4), (2, 5, n), &Device::Cpu).unwrap();
        let got = g
            .apply_op1_no_bwd(&BlockMatMul {
                w: w.clone(),
                product: Product::Times,
            })
            .unwrap();
        let want = g.broadcast_matmul(&dense).unwrap();
        let empty = Tensor::zeros((0, k), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(blockwise_linear(&empty, &w).unwrap().dims(), &[0, n]);
        let diff = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn gguf_blocks_dequantise_like_candle_and_undo_the_rope_order() {
        use candle_core::quantized::{GgmlDType, QTensor};
        let (rows, cols) = (16, 96);
        let w =
            Tensor::from_vec(gaussian(rows * cols, 0.05, 21), (rows, cols), &Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let want = q.dequantize(&Device::Cpu).unwrap();
            let blocks = GgufBlocks::from_qtensor(&q, None).unwrap();
            let got = blocks.dequantize(&Device::Cpu).unwrap();
            let diff = (&got - &want).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_vec0::<f32>().unwrap(), 0.0, "{dtype:?}");
            // Rows stored in llama.cpp's q/k order come back in HF order.
            let permuted = crate::gguf::permute_rope_rows(&w, 2).unwrap();
            let q = QTensor::quantize(&permuted, dtype).unwrap();
            let blocks = GgufBlocks::from_qtensor(&q, Some(2)).unwrap();
            let hf =
                crate::gguf::unpermute_rope_rows(&q.dequantize(&Device::Cpu).unwrap(), 2).unwrap();
            let diff = (blocks.dequantize(&Device::Cpu).unwrap() - hf)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert_eq!(diff.to_vec0::<f32>().unwrap(), 0.0, "{dtype:?} permuted");
            // And the tile-wise product uses those values.
            let blocks = Arc::new(blocks);
            let x = Tensor::from_vec(gaussian(3 * cols, 1.0, 22), (3, cols), &Device::Cpu).unwrap();
            let dense = blocks.dequantize(&Device::Cpu).unwrap();
            let diff = (blockwise_linear(&x, &blocks).unwrap()
                - x.matmul(&dense.t().unwrap()).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
            assert!(diff.to_vec0::<f32>().unwrap() < 1e-4);
        }
        // K-quants have blocks of 256 and are refused by name.
        let wide = Tensor::from_vec(gaussian(512, 0.05, 23), (2, 256), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&wide, GgmlDType::Q4K).unwrap();
        let e = GgufBlocks::from_qtensor(&q, None).unwrap_err().to_string();
        assert!(e.contains("not Q4_K"), "{e}");
    }
}
