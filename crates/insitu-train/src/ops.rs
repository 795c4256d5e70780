//! Tensor operations for training with backward passes that candle's fused
//! kernels lack (`candle_nn::ops::{rms_norm, softmax_last_dim}` and the rope
//! kernels silently drop gradients).
//!
//! Frozen weights are never differentiated: [`linear`] and [`rms_norm`]
//! compute a weight gradient only when the weight is a `Var` leaf, so a LoRA
//! run spends no time or memory on the base model's weight gradients.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Layout, Shape, Tensor, WithDType, D,
};

/// Target id that contributes no loss (prompt tokens, padding).
pub const IGNORE_INDEX: u32 = u32::MAX;

/// Floating types the CPU kernels here are written for.
trait Real:
    WithDType + Copy + std::ops::DivAssign + std::ops::MulAssign + std::ops::Neg<Output = Self>
{
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn neg_infinity() -> Self;
}

impl Real for f32 {
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
    fn neg_infinity() -> Self {
        f32::NEG_INFINITY
    }
}

impl Real for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn neg_infinity() -> Self {
        f64::NEG_INFINITY
    }
}

/// The contiguous elements a layout addresses, or an error naming the op.
fn contiguous_slice<'a, T: WithDType>(
    s: &'a CpuStorage,
    l: &Layout,
    op: &str,
) -> candle_core::Result<&'a [T]> {
    let Some((start, end)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: input must be contiguous (call .contiguous() first)")
    };
    Ok(&s.as_slice::<T>()?[start..end])
}

fn unsupported(op: &str, dtype: DType) -> candle_core::Error {
    candle_core::Error::Msg(format!(
        "{op}: dtype {dtype:?} is not supported — train in f32 (or f64 for tests)"
    ))
}

/// A CPU copy of a contiguous tensor's storage, for ops whose forward
/// result was computed beforehand (fused LM head, checkpointed layers).
pub(crate) fn cpu_copy(t: &Tensor, op: &str) -> candle_core::Result<(CpuStorage, Shape)> {
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("{op}: precomputed result is not on the CPU")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: precomputed result is not contiguous")
    };
    let out = match cpu {
        CpuStorage::F32(v) => CpuStorage::F32(v[start..end].to_vec()),
        CpuStorage::F64(v) => CpuStorage::F64(v[start..end].to_vec()),
        other => return Err(unsupported(op, other.dtype())),
    };
    Ok((out, layout.shape().clone()))
}

/// Below this many elements an op runs on the calling thread: spawning
/// costs more than it saves.
const PARALLEL_MIN_ELEMS: usize = 1 << 16;

/// Fills `out` (rows of width `n`, each costing about `work` element
/// operations) with `f(row_index, row)`, the rows split into contiguous
/// blocks over candle's thread count (`RAYON_NUM_THREADS`), so the fused
/// kernels keep every core busy as candle's own ops do.
fn par_rows<T: Send>(out: &mut [T], n: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let rows = out.len() / n.max(1);
    let threads = candle_core::utils::get_num_threads().clamp(1, rows.max(1));
    if threads == 1 || rows * work < PARALLEL_MIN_ELEMS {
        for (r, row) in out.chunks_exact_mut(n).enumerate() {
            f(r, row);
        }
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (block, chunk) in out.chunks_mut(per * n).enumerate() {
            let f = &f;
            scope.spawn(move || {
                for (k, row) in chunk.chunks_exact_mut(n).enumerate() {
                    f(block * per + k, row);
                }
            });
        }
    });
}

// ---------------------------------------------------------------- linear

/// `x · Wᵀ` whose backward returns the input gradient and, only when `W` is a
/// trainable `Var`, the weight gradient.
struct LinearOp;

impl CustomOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "insitu-linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (out_f, in_f) = wl.shape().dims2()?;
        let x_dims = xl.shape().dims();
        let k = *x_dims.last().unwrap_or(&0);
        if k != in_f {
            candle_core::bail!("linear: input width {k} does not match weight {out_f}x{in_f}")
        }
        let Some((start, _)) = xl.contiguous_offsets() else {
            candle_core::bail!("linear: input must be contiguous")
        };
        let m = xl.shape().elem_count() / k.max(1);
        let x2 = Layout::contiguous_with_offset((m, k), start);
        let wt = wl.transpose(0, 1)?;
        let out = xs.matmul(ws, (1, m, out_f, k), &x2, &wt)?;
        let mut dims = x_dims.to_vec();
        *dims.last_mut().expect("rank >= 1") = out_f;
        Ok((out, Shape::from(dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // Detached: gradients must not keep the forward graph alive.
        let is_var = w.is_variable();
        let (x, w) = (&x.detach(), &w.detach());
        let (out_f, in_f) = w.dims2()?;
        let m = grad.elem_count() / out_f;
        let g2 = grad.reshape((m, out_f))?;
        let gx = g2.matmul(w)?.reshape(x.shape())?;
        let gw = if is_var {
            Some(g2.t()?.matmul(&x.reshape((m, in_f))?)?)
        } else {
            None
        };
        Ok((Some(gx), gw))
    }
}

/// `x · Wᵀ (+ b)` for `x` of shape `(…, in)` and `W` of shape `(out, in)`.
/// `W` must be a leaf (a loaded tensor or a `Var`), not the result of an op.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let y = if x.device().is_cpu() {
        x.contiguous()?.apply_op2(w, LinearOp)?
    } else {
        // Other devices: stock matmul (correct, but also differentiates W).
        x.broadcast_matmul(&w.t()?)?
    };
    match bias {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}

// ---------------------------------------------------------------- rms norm

/// `1/√(mean(x²) + ε)` of one row, accumulated in f64.
fn inv_rms<T: Real>(row: &[T], eps: f64) -> f64 {
    let ms = row.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>() / row.len() as f64;
    1.0 / (ms + eps).sqrt()
}

/// RMSNorm `x / √(mean(x²) + ε) · w` (Zhang & Sennrich 2019) with a backward.
struct RmsNormOp {
    eps: f64,
}

impl RmsNormOp {
    fn fwd<T: Real>(&self, x: &[T], w: &[T], n: usize) -> Vec<T> {
        let mut out = vec![T::zero(); x.len()];
        par_rows(&mut out, n, n, |i, dst| {
            let row = &x[i * n..(i + 1) * n];
            let r = T::from_f64(inv_rms(row, self.eps));
            for ((d, &v), &g) in dst.iter_mut().zip(row).zip(w) {
                *d = v * r * g;
            }
        });
        out
    }

    /// `dx = r·(g·w − x̂·mean(g·w·x̂))` per row, `r = 1/√(mean(x²)+ε)`, `x̂ = x·r`.
    fn bwd_input<T: Real>(&self, x: &[T], w: &[T], g: &[T], n: usize) -> Vec<T> {
        let mut out = vec![T::zero(); x.len()];
        par_rows(&mut out, n, n, |i, dst| {
            let (row, gr) = (&x[i * n..(i + 1) * n], &g[i * n..(i + 1) * n]);
            let r = inv_rms(row, self.eps);
            let dot = row
                .iter()
                .zip(gr)
                .zip(w)
                .map(|((&v, &gv), &wv)| (gv * wv).to_f64() * v.to_f64() * r)
                .sum::<f64>()
                / n as f64;
            let (r_t, dot_t) = (T::from_f64(r), T::from_f64(dot));
            for (((d, &v), &gv), &wv) in dst.iter_mut().zip(row).zip(gr).zip(w) {
                *d = r_t * (gv * wv - v * r_t * dot_t);
            }
        });
        out
    }
}

impl CustomOp2 for RmsNormOp {
    fn name(&self) -> &'static str {
        "insitu-rms-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = wl.shape().elem_count();
        if xl.shape().dims().last() != Some(&n) {
            candle_core::bail!(
                "rms_norm: input {:?} does not end in the weight width {n}",
                xl.shape()
            )
        }
        let out = match xs.dtype() {
            DType::F32 => CpuStorage::F32(self.fwd(
                contiguous_slice(xs, xl, "rms_norm")?,
                contiguous_slice(ws, wl, "rms_norm")?,
                n,
            )),
            DType::F64 => CpuStorage::F64(self.fwd(
                contiguous_slice(xs, xl, "rms_norm")?,
                contiguous_slice(ws, wl, "rms_norm")?,
                n,
            )),
            dt => return Err(unsupported("rms_norm", dt)),
        };
        Ok((out, xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // dx in one pass (RmsNormGradOp); dw = Σ g·x̂ only for a trainable weight.
        let is_var = w.is_variable();
        let (x, w) = (&x.detach(), &w.detach());
        let grad = grad.contiguous()?;
        let dx = x.apply_op3_no_bwd(w, &grad, &RmsNormGradOp { eps: self.eps })?;
        let dw = if is_var {
            let r = (x.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?
                .sqrt()?
                .recip()?;
            let n = w.elem_count();
            Some((&grad * x.broadcast_mul(&r)?)?.reshape(((), n))?.sum(0)?)
        } else {
            None
        };
        Ok((Some(dx), dw))
    }
}

/// The input gradient of [`RmsNormOp`] as one pass: inputs `x`, `w`, `g`.
struct RmsNormGradOp {
    eps: f64,
}

impl CustomOp3 for RmsNormGradOp {
    fn name(&self) -> &'static str {
        "insitu-rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = wl.shape().elem_count();
        let op = RmsNormOp { eps: self.eps };
        let out = match xs.dtype() {
            DType::F32 => CpuStorage::F32(op.bwd_input(
                contiguous_slice(xs, xl, "rms_norm-grad")?,
                contiguous_slice(ws, wl, "rms_norm-grad")?,
                contiguous_slice(gs, gl, "rms_norm-grad")?,
                n,
            )),
            DType::F64 => CpuStorage::F64(op.bwd_input(
                contiguous_slice(xs, xl, "rms_norm-grad")?,
                contiguous_slice(ws, wl, "rms_norm-grad")?,
                contiguous_slice(gs, gl, "rms_norm-grad")?,
                n,
            )),
            dt => return Err(unsupported("rms_norm", dt)),
        };
        Ok((out, xl.shape().clone()))
    }
}

/// RMSNorm over the last dimension with weight `w` (a leaf tensor or `Var`).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    x.contiguous()?
        .apply_op2(&w.contiguous()?, RmsNormOp { eps })
}

// ---------------------------------------------------------------- softmax

/// Softmax over the last dimension with backward `y ⊙ (g − Σ g⊙y)`.
struct SoftmaxOp;

fn softmax_rows<T: Real>(x: &[T], n: usize) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    for (row, dst) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        let max = row
            .iter()
            .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        let mut sum = T::zero();
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = (v - max).exp();
            sum += *d;
        }
        for d in dst.iter_mut() {
            *d /= sum;
        }
    }
    out
}

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "insitu-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = *l.shape().dims().last().unwrap_or(&1);
        let out = match s.dtype() {
            DType::F32 => {
                CpuStorage::F32(softmax_rows(contiguous_slice::<f32>(s, l, "softmax")?, n))
            }
            DType::F64 => {
                CpuStorage::F64(softmax_rows(contiguous_slice::<f64>(s, l, "softmax")?, n))
            }
            dt => return Err(unsupported("softmax", dt)),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dot = (grad * y)?.sum_keepdim(D::Minus1)?;
        Ok(Some((grad.broadcast_sub(&dot)? * y)?))
    }
}

/// Softmax over the last dimension, differentiable.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?.apply_op1(SoftmaxOp)
    } else {
        // Composable form: shift by the (detached) row max, exponentiate, normalise.
        let max = x.max_keepdim(D::Minus1)?.detach();
        let e = x.broadcast_sub(&max)?.exp()?;
        e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
    }
}

/// `softmax(scale · scores + mask)` over the last dimension for attention:
/// scores `(b, h, t, T)`, additive mask `(b, 1, t, T)` shared by all heads.
/// One pass forward; the backward returns only the scores' gradient (the
/// mask is a constant), so neither the scaled nor the masked scores are stored.
struct MaskedSoftmaxOp {
    scale: f64,
}

fn masked_softmax_rows<T: Real>(
    x: &[T],
    mask: &[T],
    heads: usize,
    t: usize,
    n: usize,
    scale: T,
) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    par_rows(&mut out, n, n, |r, dst| {
        let row = &x[r * n..(r + 1) * n];
        let b = r / (heads * t);
        let i = r % t;
        let m = &mask[(b * t + i) * n..(b * t + i + 1) * n];
        let mut max = T::neg_infinity();
        for ((d, &v), &mv) in dst.iter_mut().zip(row).zip(m) {
            *d = v * scale + mv;
            if *d > max {
                max = *d;
            }
        }
        let mut sum = T::zero();
        for d in dst.iter_mut() {
            *d = (*d - max).exp();
            sum += *d;
        }
        for d in dst.iter_mut() {
            *d /= sum;
        }
    });
    out
}

/// `scale · y ⊙ (g − Σ g⊙y)` per row: the scores' gradient of [`MaskedSoftmaxOp`].
fn softmax_grad_rows<T: Real>(y: &[T], g: &[T], n: usize, scale: T) -> Vec<T> {
    let mut out = vec![T::zero(); y.len()];
    par_rows(&mut out, n, n, |r, dst| {
        let (yr, gr) = (&y[r * n..(r + 1) * n], &g[r * n..(r + 1) * n]);
        let dot = yr
            .iter()
            .zip(gr)
            .fold(T::zero(), |acc, (&a, &b)| acc + a * b);
        for ((d, &yv), &gv) in dst.iter_mut().zip(yr).zip(gr) {
            *d = scale * yv * (gv - dot);
        }
    });
    out
}

/// The backward of [`MaskedSoftmaxOp`] as one pass: inputs `y`, `g`.
struct SoftmaxGradOp {
    scale: f64,
}

impl CustomOp2 for SoftmaxGradOp {
    fn name(&self) -> &'static str {
        "insitu-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        ys: &CpuStorage,
        yl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = *yl.shape().dims().last().unwrap_or(&1);
        let out = match ys.dtype() {
            DType::F32 => CpuStorage::F32(softmax_grad_rows(
                contiguous_slice::<f32>(ys, yl, "softmax-grad")?,
                contiguous_slice::<f32>(gs, gl, "softmax-grad")?,
                n,
                self.scale as f32,
            )),
            DType::F64 => CpuStorage::F64(softmax_grad_rows(
                contiguous_slice::<f64>(ys, yl, "softmax-grad")?,
                contiguous_slice::<f64>(gs, gl, "softmax-grad")?,
                n,
                self.scale,
            )),
            dt => return Err(unsupported("softmax", dt)),
        };
        Ok((out, yl.shape().clone()))
    }
}

impl CustomOp2 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "insitu-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, h, t, n) = xl.shape().dims4()?;
        if ml.shape().dims() != [b, 1, t, n] {
            candle_core::bail!(
                "masked_softmax: mask {:?} does not fit scores {:?}",
                ml.shape(),
                xl.shape()
            )
        }
        let out = match xs.dtype() {
            DType::F32 => CpuStorage::F32(masked_softmax_rows(
                contiguous_slice::<f32>(xs, xl, "masked_softmax")?,
                contiguous_slice::<f32>(ms, ml, "masked_softmax")?,
                h,
                t,
                n,
                self.scale as f32,
            )),
            DType::F64 => CpuStorage::F64(masked_softmax_rows(
                contiguous_slice::<f64>(xs, xl, "masked_softmax")?,
                contiguous_slice::<f64>(ms, ml, "masked_softmax")?,
                h,
                t,
                n,
                self.scale,
            )),
            dt => return Err(unsupported("masked_softmax", dt)),
        };
        Ok((out, xl.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _mask: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = y
            .detach()
            .apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGradOp { scale: self.scale })?;
        Ok((Some(dx), None))
    }
}

/// Attention probabilities `softmax(scale · scores + mask)`; see [`MaskedSoftmaxOp`].
pub fn masked_softmax(scores: &Tensor, mask: &Tensor, scale: f64) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(scores.dtype())?;
    if scores.device().is_cpu() {
        scores
            .contiguous()?
            .apply_op2(&mask.contiguous()?, MaskedSoftmaxOp { scale })
    } else {
        softmax_last_dim(&(scores * scale)?.broadcast_add(&mask)?)
    }
}

// ---------------------------------------------------------------- rope

/// Rotary position embedding (Su et al. 2021) in HF's "rotate half" layout,
/// fused with the head transpose: `x` of shape `(b, t, heads, d)` (a
/// projection's output, reshaped for free) becomes `(b, heads, t, d)` =
/// `x·cos + rotate_half(x)·sin` in one pass, with `cos`/`sin` of shape
/// `(b, t, d)`. The backward is the transposed rotation in one pass too, so
/// neither the transposed copy nor the rotated halves are kept for backward.
struct RopeOp;

/// `(b, t, heads, d)` → `(b, heads, t, d)` rotated forward.
fn rope_fwd_kernel<T: Real>(x: &[T], cos: &[T], sin: &[T], dims: [usize; 4]) -> Vec<T> {
    let [_, t, h, d] = dims;
    let half = d / 2;
    let mut out = vec![T::zero(); x.len()];
    // Output row r is (batch, head, position).
    par_rows(&mut out, d, d, |r, dst| {
        let (bi, hi, i) = (r / (h * t), (r / t) % h, r % t);
        let c = &cos[(bi * t + i) * d..(bi * t + i + 1) * d];
        let s = &sin[(bi * t + i) * d..(bi * t + i + 1) * d];
        let src = &x[((bi * t + i) * h + hi) * d..((bi * t + i) * h + hi + 1) * d];
        for j in 0..half {
            dst[j] = src[j] * c[j] - src[j + half] * s[j];
            dst[j + half] = src[j + half] * c[j + half] + src[j] * s[j + half];
        }
    });
    out
}

/// Gradient `(b, heads, t, d)` → input gradient `(b, t, heads, d)`:
/// `g·cos + rotate_halfᵀ(g·sin)`.
fn rope_bwd_kernel<T: Real>(g: &[T], cos: &[T], sin: &[T], dims: [usize; 4]) -> Vec<T> {
    let [_, t, h, d] = dims;
    let half = d / 2;
    let mut out = vec![T::zero(); g.len()];
    // Output row r is (batch, position, head).
    par_rows(&mut out, d, d, |r, dst| {
        let (bi, i, hi) = (r / (t * h), (r / h) % t, r % h);
        let c = &cos[(bi * t + i) * d..(bi * t + i + 1) * d];
        let s = &sin[(bi * t + i) * d..(bi * t + i + 1) * d];
        let src = &g[((bi * h + hi) * t + i) * d..((bi * h + hi) * t + i + 1) * d];
        for j in 0..half {
            dst[j] = src[j] * c[j] + src[j + half] * s[j + half];
            dst[j + half] = src[j + half] * c[j + half] - src[j] * s[j];
        }
    });
    out
}

/// Checks the shapes of a rope call: `x` `(b, t, h, d)`, tables `(b, t, d)`.
fn rope_dims(
    xl: &Layout,
    cl: &Layout,
    sl: &Layout,
    x_is_bthd: bool,
) -> candle_core::Result<[usize; 4]> {
    let (b, t, h, d) = if x_is_bthd {
        xl.shape().dims4()?
    } else {
        let (b, h, t, d) = xl.shape().dims4()?;
        (b, t, h, d)
    };
    if d % 2 != 0 {
        candle_core::bail!("rope: head dimension {d} is odd")
    }
    if cl.shape().dims() != [b, t, d] || sl.shape().dims() != [b, t, d] {
        candle_core::bail!(
            "rope: tables {:?}/{:?} do not fit input {:?} — expected ({b}, {t}, {d})",
            cl.shape(),
            sl.shape(),
            xl.shape()
        )
    }
    Ok([b, t, h, d])
}

impl CustomOp3 for RopeOp {
    fn name(&self) -> &'static str {
        "insitu-rope"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        cs: &CpuStorage,
        cl: &Layout,
        ss: &CpuStorage,
        sl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = rope_dims(xl, cl, sl, true)?;
        let [b, t, h, d] = dims;
        let out = match xs.dtype() {
            DType::F32 => CpuStorage::F32(rope_fwd_kernel(
                contiguous_slice::<f32>(xs, xl, "rope")?,
                contiguous_slice::<f32>(cs, cl, "rope")?,
                contiguous_slice::<f32>(ss, sl, "rope")?,
                dims,
            )),
            DType::F64 => CpuStorage::F64(rope_fwd_kernel(
                contiguous_slice::<f64>(xs, xl, "rope")?,
                contiguous_slice::<f64>(cs, cl, "rope")?,
                contiguous_slice::<f64>(ss, sl, "rope")?,
                dims,
            )),
            dt => return Err(unsupported("rope", dt)),
        };
        Ok((out, Shape::from((b, h, t, d))))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let gx = grad
            .contiguous()?
            .apply_op3_no_bwd(&cos.detach(), &sin.detach(), &RopeGradOp)?;
        Ok((Some(gx), None, None))
    }
}

/// The backward of [`RopeOp`] as one pass.
struct RopeGradOp;

impl CustomOp3 for RopeGradOp {
    fn name(&self) -> &'static str {
        "insitu-rope-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        cs: &CpuStorage,
        cl: &Layout,
        ss: &CpuStorage,
        sl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = rope_dims(gl, cl, sl, false)?;
        let [b, t, h, d] = dims;
        let out = match gs.dtype() {
            DType::F32 => CpuStorage::F32(rope_bwd_kernel(
                contiguous_slice::<f32>(gs, gl, "rope-grad")?,
                contiguous_slice::<f32>(cs, cl, "rope-grad")?,
                contiguous_slice::<f32>(ss, sl, "rope-grad")?,
                dims,
            )),
            DType::F64 => CpuStorage::F64(rope_bwd_kernel(
                contiguous_slice::<f64>(gs, gl, "rope-grad")?,
                contiguous_slice::<f64>(cs, cl, "rope-grad")?,
                contiguous_slice::<f64>(ss, sl, "rope-grad")?,
                dims,
            )),
            dt => return Err(unsupported("rope", dt)),
        };
        Ok((out, Shape::from((b, t, h, d))))
    }
}

/// RoPE fused with the head transpose: `x` `(b, t, heads, d)` →
/// `(b, heads, t, d)`; `cos`/`sin` are `(b, t, d)`. See [`RopeOp`].
pub fn rope_transposed(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?
            .apply_op3(&cos.contiguous()?, &sin.contiguous()?, RopeOp)
    } else {
        let x = x.transpose(1, 2)?.contiguous()?;
        rope(&x, &cos.unsqueeze(1)?, &sin.unsqueeze(1)?)
    }
}

/// Rotary position embedding, HF "rotate half" layout, composed from candle
/// ops: `x·cos + rotate_half(x)·sin` for `x` `(b, heads, t, d)` and tables
/// broadcasting against it. The reference [`rope_transposed`] is tested against.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

// ---------------------------------------------------------------- swiglu

/// SwiGLU gate (Shazeer 2020) `silu(gate) ⊙ up` in one pass; the backward
/// computes both input gradients in one pass, so no `silu(gate)` tensor is
/// kept for backward.
struct SwigluOp;

fn sigmoid<T: Real>(v: T) -> T {
    T::one() / (T::one() + (-v).exp())
}

/// Element-wise kernels run over rows of this many elements (any split works).
const ELEMENTWISE_ROW: usize = 4096;

/// `f(i)` for every element index, in parallel blocks.
fn par_elementwise<T: Send>(out: &mut [T], f: impl Fn(usize) -> T + Sync) {
    let whole = out.len() - out.len() % ELEMENTWISE_ROW;
    let (body, tail) = out.split_at_mut(whole);
    par_rows(body, ELEMENTWISE_ROW, ELEMENTWISE_ROW, |r, dst| {
        for (k, d) in dst.iter_mut().enumerate() {
            *d = f(r * ELEMENTWISE_ROW + k);
        }
    });
    for (k, d) in tail.iter_mut().enumerate() {
        *d = f(whole + k);
    }
}

fn swiglu_fwd_kernel<T: Real>(gate: &[T], up: &[T]) -> Vec<T> {
    let mut out = vec![T::zero(); gate.len()];
    par_elementwise(&mut out, |i| gate[i] * sigmoid(gate[i]) * up[i]);
    out
}

/// `[d_gate; d_up]` (2·n elements) for upstream gradient `dy`.
fn swiglu_bwd_kernel<T: Real>(gate: &[T], up: &[T], dy: &[T]) -> Vec<T> {
    let n = gate.len();
    let mut out = vec![T::zero(); 2 * n];
    let (dg, du) = out.split_at_mut(n);
    // d silu/dg = σ(g)·(1 + g·(1 − σ(g)))
    par_elementwise(dg, |i| {
        let (g, s) = (gate[i], sigmoid(gate[i]));
        dy[i] * up[i] * s * (T::one() + g * (T::one() - s))
    });
    par_elementwise(du, |i| dy[i] * gate[i] * sigmoid(gate[i]));
    out
}

impl CustomOp2 for SwigluOp {
    fn name(&self) -> &'static str {
        "insitu-swiglu"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if gl.shape() != ul.shape() {
            candle_core::bail!(
                "swiglu: gate {:?} and up {:?} differ",
                gl.shape(),
                ul.shape()
            )
        }
        let out = match gs.dtype() {
            DType::F32 => CpuStorage::F32(swiglu_fwd_kernel(
                contiguous_slice::<f32>(gs, gl, "swiglu")?,
                contiguous_slice::<f32>(us, ul, "swiglu")?,
            )),
            DType::F64 => CpuStorage::F64(swiglu_fwd_kernel(
                contiguous_slice::<f64>(gs, gl, "swiglu")?,
                contiguous_slice::<f64>(us, ul, "swiglu")?,
            )),
            dt => return Err(unsupported("swiglu", dt)),
        };
        Ok((out, gl.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let both =
            gate.detach()
                .apply_op3_no_bwd(&up.detach(), &grad.contiguous()?, &SwigluGradOp)?;
        let shape = gate.shape();
        let dg = both.narrow(0, 0, 1)?.reshape(shape)?;
        let du = both.narrow(0, 1, 1)?.reshape(shape)?;
        Ok((Some(dg), Some(du)))
    }
}

/// The backward of [`SwigluOp`]: `(2, n)` holding `d_gate` and `d_up`.
struct SwigluGradOp;

impl CustomOp3 for SwigluGradOp {
    fn name(&self) -> &'static str {
        "insitu-swiglu-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
        ds: &CpuStorage,
        dl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let n = gl.shape().elem_count();
        let out = match gs.dtype() {
            DType::F32 => CpuStorage::F32(swiglu_bwd_kernel(
                contiguous_slice::<f32>(gs, gl, "swiglu-grad")?,
                contiguous_slice::<f32>(us, ul, "swiglu-grad")?,
                contiguous_slice::<f32>(ds, dl, "swiglu-grad")?,
            )),
            DType::F64 => CpuStorage::F64(swiglu_bwd_kernel(
                contiguous_slice::<f64>(gs, gl, "swiglu-grad")?,
                contiguous_slice::<f64>(us, ul, "swiglu-grad")?,
                contiguous_slice::<f64>(ds, dl, "swiglu-grad")?,
            )),
            dt => return Err(unsupported("swiglu", dt)),
        };
        Ok((out, Shape::from((2, n))))
    }
}

/// SwiGLU gate `silu(gate) ⊙ up`, differentiable in both inputs.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if gate.device().is_cpu() {
        gate.contiguous()?.apply_op2(&up.contiguous()?, SwigluOp)
    } else {
        gate.silu()? * up
    }
}

// ---------------------------------------------------------------- cross entropy

/// Per-row negative log-likelihood of `targets` under `softmax(logits)`.
struct CrossEntropyOp {
    targets: Vec<u32>,
}

fn nll_rows<T: Real>(x: &[T], n: usize, targets: &[u32]) -> candle_core::Result<Vec<T>> {
    if let Some(t) = targets
        .iter()
        .find(|&&t| t != IGNORE_INDEX && t as usize >= n)
    {
        candle_core::bail!("cross_entropy: target id {t} is outside the vocabulary of {n}")
    }
    let mut out = vec![T::zero(); targets.len()];
    par_rows(&mut out, 1, n, |r, dst| {
        let t = targets[r];
        if t == IGNORE_INDEX {
            return;
        }
        let row = &x[r * n..(r + 1) * n];
        let max = row
            .iter()
            .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        let sum = row.iter().fold(T::zero(), |s, &v| s + (v - max).exp());
        dst[0] = sum.ln() + max - row[t as usize];
    });
    Ok(out)
}

/// `g_i · (softmax(x_i) − onehot(t_i))`, zero for ignored rows.
fn nll_grad_rows<T: Real>(x: &[T], g: &[T], n: usize, targets: &[u32]) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    par_rows(&mut out, n, n, |r, dst| {
        let (row, t, gi) = (&x[r * n..(r + 1) * n], targets[r], g[r]);
        if t == IGNORE_INDEX {
            return;
        }
        let max = row
            .iter()
            .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        let mut sum = T::zero();
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = (v - max).exp();
            sum += *d;
        }
        let scale = gi / sum;
        for d in dst.iter_mut() {
            *d *= scale;
        }
        dst[t as usize] -= gi;
    });
    out
}

impl CustomOp1 for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "insitu-cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, n) = l.shape().dims2()?;
        if rows != self.targets.len() {
            candle_core::bail!(
                "cross_entropy: {rows} rows of logits but {} targets",
                self.targets.len()
            )
        }
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(nll_rows(
                contiguous_slice::<f32>(s, l, "cross_entropy")?,
                n,
                &self.targets,
            )?),
            DType::F64 => CpuStorage::F64(nll_rows(
                contiguous_slice::<f64>(s, l, "cross_entropy")?,
                n,
                &self.targets,
            )?),
            dt => return Err(unsupported("cross_entropy", dt)),
        };
        Ok((out, Shape::from(rows)))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let op = CrossEntropyGradOp {
            targets: self.targets.clone(),
        };
        Ok(Some(
            x.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &op)?,
        ))
    }
}

/// The backward of [`CrossEntropyOp`] as one pass over the logits.
struct CrossEntropyGradOp {
    targets: Vec<u32>,
}

impl CustomOp2 for CrossEntropyGradOp {
    fn name(&self) -> &'static str {
        "insitu-cross-entropy-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, n) = xl.shape().dims2()?;
        let out = match xs.dtype() {
            DType::F32 => CpuStorage::F32(nll_grad_rows(
                contiguous_slice::<f32>(xs, xl, "ce-grad")?,
                contiguous_slice::<f32>(gs, gl, "ce-grad")?,
                n,
                &self.targets,
            )),
            DType::F64 => CpuStorage::F64(nll_grad_rows(
                contiguous_slice::<f64>(xs, xl, "ce-grad")?,
                contiguous_slice::<f64>(gs, gl, "ce-grad")?,
                n,
                &self.targets,
            )),
            dt => return Err(unsupported("cross_entropy", dt)),
        };
        Ok((out, xl.shape().clone()))
    }
}

/// Per-row NLL for logits `(rows, vocab)`; rows whose target is
/// [`IGNORE_INDEX`] give 0 and no gradient. Result has shape `(rows,)`.
pub fn cross_entropy_per_row(logits: &Tensor, targets: &[u32]) -> candle_core::Result<Tensor> {
    let op = CrossEntropyOp {
        targets: targets.to_vec(),
    };
    let logits = logits.contiguous()?;
    if logits.device().is_cpu() {
        logits.apply_op1(op)
    } else {
        let logits = logits.to_device(&Device::Cpu)?;
        logits.apply_op1(op)
    }
}

// ---------------------------------------------------------------- LM head + cross entropy

/// Rows of logits formed at once by [`linear_cross_entropy`]: 256 rows of a
/// 49k vocabulary are 50 MB, against 200 MB for a whole 4×256 batch (and as
/// much again for its gradient).
const LM_HEAD_CHUNK_ROWS: usize = 256;

/// Identity-shaped carrier for [`linear_cross_entropy`]: its forward returns
/// the per-row losses computed already, its backward scales the per-row
/// hidden-state gradients computed in the same pass by the upstream gradient.
struct PrecomputedNllOp {
    nll: Tensor,
    grad_hidden: Option<Tensor>,
}

impl CustomOp1 for PrecomputedNllOp {
    fn name(&self) -> &'static str {
        "insitu-linear-cross-entropy"
    }

    fn cpu_fwd(&self, _s: &CpuStorage, _l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        cpu_copy(&self.nll, "linear_cross_entropy")
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        match &self.grad_hidden {
            Some(gh) => Ok(Some(gh.broadcast_mul(&grad.unsqueeze(1)?)?)),
            None => candle_core::bail!(
                "linear_cross_entropy: backward through a call made on a hidden state that needed no gradient"
            ),
        }
    }
}

/// Per-row NLL of `targets` under `softmax(hidden · Wᵀ)` for `hidden`
/// `(rows, h)` and a frozen head `W` `(vocab, h)`, without ever forming the
/// whole `(rows, vocab)` logits: chunk by chunk the logits, their loss and
/// `d loss / d hidden` are computed and the logits dropped ("fused linear
/// cross-entropy"). The hidden-state gradient is computed in the forward pass
/// only when `hidden` needs one. A trainable `W` (an untied head in full
/// fine-tuning) takes the plain path, which also differentiates `W`.
pub fn linear_cross_entropy(
    hidden: &Tensor,
    w: &Tensor,
    targets: &[u32],
) -> candle_core::Result<Tensor> {
    let (rows, _) = hidden.dims2()?;
    if rows != targets.len() {
        candle_core::bail!(
            "linear_cross_entropy: {rows} hidden rows but {} targets",
            targets.len()
        )
    }
    if w.is_variable() || !hidden.device().is_cpu() || rows == 0 {
        return cross_entropy_per_row(&linear(hidden, w, None)?, targets);
    }
    let needs_grad = hidden.track_op();
    let (h_det, w_det) = (hidden.detach(), w.detach());
    let mut nll_parts = Vec::new();
    let mut grad_parts = Vec::new();
    for start in (0..rows).step_by(LM_HEAD_CHUNK_ROWS) {
        let n = LM_HEAD_CHUNK_ROWS.min(rows - start);
        let t = &targets[start..start + n];
        let logits = linear(&h_det.narrow(0, start, n)?, &w_det, None)?;
        nll_parts.push(logits.apply_op1_no_bwd(&CrossEntropyOp {
            targets: t.to_vec(),
        })?);
        if needs_grad {
            let ones = Tensor::ones(n, logits.dtype(), logits.device())?;
            let dlogits = logits.apply_op2_no_bwd(
                &ones,
                &CrossEntropyGradOp {
                    targets: t.to_vec(),
                },
            )?;
            drop(logits);
            grad_parts.push(dlogits.matmul(&w_det)?);
        }
    }
    let nll = Tensor::cat(&nll_parts, 0)?;
    let grad_hidden = if needs_grad {
        Some(Tensor::cat(&grad_parts, 0)?)
    } else {
        None
    };
    hidden.apply_op1(PrecomputedNllOp { nll, grad_hidden })
}

// ---------------------------------------------------------------- masks

/// Additive attention mask `(b, 1, t, t)`: 0 where query `i` may attend key
/// `j` (same segment and `j ≤ i`), −∞ elsewhere. `segments` is row-major
/// `(b, t)`; packed sequences get distinct segment ids so that they never
/// attend to each other.
pub fn segment_causal_mask(
    segments: &[u32],
    b: usize,
    t: usize,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    if segments.len() != b * t {
        candle_core::bail!(
            "segment_causal_mask: {} segment ids for a {b}x{t} batch",
            segments.len()
        )
    }
    let mut m = vec![f32::NEG_INFINITY; b * t * t];
    for bi in 0..b {
        let seg = &segments[bi * t..(bi + 1) * t];
        for i in 0..t {
            let row = &mut m[(bi * t + i) * t..(bi * t + i + 1) * t];
            for j in 0..=i {
                if seg[j] == seg[i] {
                    row[j] = 0.0;
                }
            }
        }
    }
    Tensor::from_vec(m, (b, 1, t, t), device)?.to_dtype(dtype)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::Var;

    /// Central finite difference of `f` w.r.t. every element of `v`,
    /// compared with the analytic gradient.
    pub(crate) fn check_grad(v: &Var, f: &dyn Fn() -> candle_core::Result<Tensor>, tol: f64) {
        let loss = f().unwrap();
        let grads = loss.backward().unwrap();
        let analytic = grads
            .get(v)
            .expect("no gradient reached the variable")
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let base = v
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let shape = v.shape().clone();
        let h = 1e-6;
        for i in 0..base.len() {
            let mut p = base.clone();
            p[i] += h;
            v.set(&Tensor::from_vec(p.clone(), &shape, &Device::Cpu).unwrap())
                .unwrap();
            let up = f().unwrap().to_vec0::<f64>().unwrap();
            p[i] -= 2.0 * h;
            v.set(&Tensor::from_vec(p, &shape, &Device::Cpu).unwrap())
                .unwrap();
            let down = f().unwrap().to_vec0::<f64>().unwrap();
            let numeric = (up - down) / (2.0 * h);
            let err = (numeric - analytic[i]).abs() / (1.0f64).max(numeric.abs());
            assert!(
                err < tol,
                "element {i}: numeric {numeric} vs analytic {}",
                analytic[i]
            );
        }
        v.set(&Tensor::from_vec(base, &shape, &Device::Cpu).unwrap())
            .unwrap();
    }

    pub(crate) fn randn(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// A fixed random projection turns any output into a scalar loss whose
    /// gradient touches every element.
    fn project(y: &Tensor, seed: u64) -> candle_core::Result<Tensor> {
        let p = randn(y.dims(), seed);
        (y * p)?.sum_all()
    }

    #[test]
    fn linear_gradients_match_finite_differences() {
        let x = Var::from_tensor(&randn(&[2, 3, 4], 1)).unwrap();
        let w = Var::from_tensor(&randn(&[5, 4], 2)).unwrap();
        let b = randn(&[5], 3);
        let f = || project(&linear(x.as_tensor(), w.as_tensor(), Some(&b))?, 9);
        check_grad(&x, &f, 1e-6);
        check_grad(&w, &f, 1e-6);
    }

    #[test]
    fn linear_matches_plain_matmul() {
        let x = randn(&[2, 3, 4], 1);
        let w = randn(&[5, 4], 2);
        let ours = linear(&x, &w, None).unwrap();
        let plain = x.broadcast_matmul(&w.t().unwrap()).unwrap();
        let diff = (ours - plain)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert!(diff < 1e-12);
    }

    #[test]
    fn frozen_linear_weight_gets_no_gradient() {
        let x = Var::from_tensor(&randn(&[3, 4], 1)).unwrap();
        let w = randn(&[5, 4], 2);
        let norm_w = randn(&[5], 4);
        let y = rms_norm(&linear(x.as_tensor(), &w, None).unwrap(), &norm_w, 1e-5).unwrap();
        let grads = project(&y, 3).unwrap().backward().unwrap();
        assert!(grads.get(x.as_tensor()).is_some());
        assert!(
            grads.get(&w).is_none(),
            "a frozen weight was differentiated"
        );
        assert!(
            grads.get(&norm_w).is_none(),
            "a frozen norm weight was differentiated"
        );
    }

    #[test]
    fn rms_norm_gradients_match_finite_differences() {
        let x = Var::from_tensor(&randn(&[2, 3, 6], 5)).unwrap();
        let w = Var::from_tensor(&randn(&[6], 6)).unwrap();
        let f = || project(&rms_norm(x.as_tensor(), w.as_tensor(), 1e-5)?, 7);
        check_grad(&x, &f, 1e-6);
        check_grad(&w, &f, 1e-6);
    }

    #[test]
    fn softmax_gradient_matches_finite_differences_and_rows_sum_to_one() {
        let x = Var::from_tensor(&randn(&[2, 3, 5], 8)).unwrap();
        let y = softmax_last_dim(x.as_tensor()).unwrap();
        let sums = y
            .sum(D::Minus1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-12));
        let f = || project(&softmax_last_dim(x.as_tensor())?, 10);
        check_grad(&x, &f, 1e-6);
    }

    #[test]
    fn masked_softmax_matches_the_composed_form_and_finite_differences() {
        let x = Var::from_tensor(&randn(&[2, 3, 4, 4], 30)).unwrap();
        let mask =
            segment_causal_mask(&[0, 0, 1, 1, 0, 0, 0, 0], 2, 4, DType::F64, &Device::Cpu).unwrap();
        let fused = masked_softmax(x.as_tensor(), &mask, 0.5).unwrap();
        let composed =
            softmax_last_dim(&(x.as_tensor() * 0.5).unwrap().broadcast_add(&mask).unwrap())
                .unwrap();
        let diff = (fused - composed)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert!(diff < 1e-14, "{diff}");
        let f = || project(&masked_softmax(x.as_tensor(), &mask, 0.5)?, 31);
        check_grad(&x, &f, 1e-6);
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap()
    }

    #[test]
    fn fused_rope_matches_the_composed_form_and_finite_differences() {
        // x (b=2, t=3, heads=2, d=4); tables (b, t, d).
        let x = Var::from_tensor(&randn(&[2, 3, 2, 4], 11)).unwrap();
        let cos = randn(&[2, 3, 4], 12);
        let sin = randn(&[2, 3, 4], 13);
        let fused = rope_transposed(x.as_tensor(), &cos, &sin).unwrap();
        assert_eq!(fused.dims(), [2, 2, 3, 4]);
        let composed = rope(
            &x.as_tensor().transpose(1, 2).unwrap(),
            &cos.unsqueeze(1).unwrap(),
            &sin.unsqueeze(1).unwrap(),
        )
        .unwrap();
        let diff = max_abs_diff(&fused, &composed);
        assert!(diff < 1e-14, "fused and composed rope differ by {diff}");
        let f = || project(&rope_transposed(x.as_tensor(), &cos, &sin)?, 14);
        check_grad(&x, &f, 1e-6);
        let f = || {
            project(
                &rope(x.as_tensor(), &cos.unsqueeze(2)?, &sin.unsqueeze(2)?)?,
                14,
            )
        };
        check_grad(&x, &f, 1e-6);
    }

    /// Value and input gradient (under a fixed projection) of `f` at `x`.
    fn value_and_grad(x: &Tensor, f: &dyn Fn(&Tensor) -> Tensor) -> (Tensor, Tensor) {
        let v = Var::from_tensor(x).unwrap();
        let y = f(v.as_tensor());
        let g = project(&y, 99).unwrap().backward().unwrap();
        (y, g.get(v.as_tensor()).unwrap().clone())
    }

    fn assert_close(what: &str, a: &(Tensor, Tensor), b: &(Tensor, Tensor)) {
        let dv = max_abs_diff(&a.0, &b.0);
        let dg = max_abs_diff(&a.1, &b.1);
        assert!(
            dv < 1e-10 && dg < 1e-10,
            "{what}: value differs by {dv}, gradient by {dg}"
        );
    }

    #[test]
    fn multithreaded_kernels_match_the_composed_forms_on_large_inputs() {
        // Every input here is above PARALLEL_MIN_ELEMS, so the row-parallel
        // paths run (on any machine with 2+ threads).
        const { assert!(2 * 3 * 128 * 128 >= PARALLEL_MIN_ELEMS) };
        let x = randn(&[2, 3, 128, 128], 50);
        let mask = segment_causal_mask(
            &(0..256).map(|i| (i / 100) as u32).collect::<Vec<_>>(),
            2,
            128,
            DType::F64,
            &Device::Cpu,
        )
        .unwrap();
        assert_close(
            "masked_softmax",
            &value_and_grad(&x, &|x| masked_softmax(x, &mask, 0.3).unwrap()),
            &value_and_grad(&x, &|x| {
                softmax_last_dim(&(x * 0.3).unwrap().broadcast_add(&mask).unwrap()).unwrap()
            }),
        );
        let x = randn(&[300, 256], 51);
        let w = randn(&[256], 52);
        assert_close(
            "rms_norm",
            &value_and_grad(&x, &|x| rms_norm(x, &w, 1e-5).unwrap()),
            &value_and_grad(&x, &|x| {
                let r = (x.sqr().unwrap().mean_keepdim(D::Minus1).unwrap() + 1e-5)
                    .unwrap()
                    .sqrt()
                    .unwrap()
                    .recip()
                    .unwrap();
                x.broadcast_mul(&r).unwrap().broadcast_mul(&w).unwrap()
            }),
        );
        let x = randn(&[2, 64, 8, 64], 53);
        let (cos, sin) = (randn(&[2, 64, 64], 54), randn(&[2, 64, 64], 55));
        assert_close(
            "rope",
            &value_and_grad(&x, &|x| rope_transposed(x, &cos, &sin).unwrap()),
            &value_and_grad(&x, &|x| {
                rope(
                    &x.transpose(1, 2).unwrap(),
                    &cos.unsqueeze(1).unwrap(),
                    &sin.unsqueeze(1).unwrap(),
                )
                .unwrap()
            }),
        );
        let x = (randn(&[70001], 56) * 5.0).unwrap();
        let up = randn(&[70001], 57);
        assert_close(
            "swiglu",
            &value_and_grad(&x, &|x| swiglu(x, &up).unwrap()),
            &value_and_grad(&x, &|x| (x.silu().unwrap() * &up).unwrap()),
        );
        let x = randn(&[5, 20000], 58);
        let targets = [7, IGNORE_INDEX, 19999, 0, 123];
        let lsm = |x: &Tensor| {
            let l = candle_nn::ops::log_softmax(x, D::Minus1).unwrap();
            let rows: Vec<Tensor> = targets
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    if t == IGNORE_INDEX {
                        Tensor::zeros((), DType::F64, &Device::Cpu).unwrap()
                    } else {
                        l.get(i).unwrap().get(t as usize).unwrap().neg().unwrap()
                    }
                })
                .collect();
            Tensor::stack(&rows, 0).unwrap()
        };
        assert_close(
            "cross_entropy",
            &value_and_grad(&x, &|x| cross_entropy_per_row(x, &targets).unwrap()),
            &value_and_grad(&x, &lsm),
        );
    }

    #[test]
    fn rope_rejects_tables_that_do_not_fit() {
        let x = randn(&[1, 3, 2, 4], 1);
        let cos = randn(&[1, 2, 4], 2);
        let err = rope_transposed(&x, &cos, &cos).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
    }

    #[test]
    fn fused_swiglu_matches_silu_times_up_and_finite_differences() {
        let gate = Var::from_tensor(&(randn(&[2, 3, 5], 15) * 4.0).unwrap()).unwrap();
        let up = Var::from_tensor(&randn(&[2, 3, 5], 16)).unwrap();
        let fused = swiglu(gate.as_tensor(), up.as_tensor()).unwrap();
        let composed = (gate.as_tensor().silu().unwrap() * up.as_tensor()).unwrap();
        let diff = max_abs_diff(&fused, &composed);
        assert!(diff < 1e-14, "fused and composed swiglu differ by {diff}");
        let f = || project(&swiglu(gate.as_tensor(), up.as_tensor())?, 17);
        check_grad(&gate, &f, 1e-6);
        check_grad(&up, &f, 1e-6);
    }

    #[test]
    fn linear_cross_entropy_matches_the_materialised_logits_and_finite_differences() {
        // More rows than one chunk, so that chunk boundaries are exercised.
        let rows = LM_HEAD_CHUNK_ROWS + 3;
        let x = Var::from_tensor(&randn(&[rows, 4], 40)).unwrap();
        let w = randn(&[7, 4], 41);
        let targets: Vec<u32> = (0..rows)
            .map(|i| {
                if i % 5 == 1 {
                    IGNORE_INDEX
                } else {
                    (i % 7) as u32
                }
            })
            .collect();
        let fused = linear_cross_entropy(x.as_tensor(), &w, &targets).unwrap();
        let plain =
            cross_entropy_per_row(&linear(x.as_tensor(), &w, None).unwrap(), &targets).unwrap();
        let diff = max_abs_diff(&fused, &plain);
        assert!(diff < 1e-12, "fused and plain losses differ by {diff}");
        let f = || project(&linear_cross_entropy(x.as_tensor(), &w, &targets)?, 42);
        check_grad(&x, &f, 1e-6);
        // A hidden state that needs no gradient gives losses and no backward state.
        let frozen = linear_cross_entropy(&x.as_tensor().detach(), &w, &targets).unwrap();
        assert!(max_abs_diff(&frozen, &plain) < 1e-12);
        assert!(!frozen.track_op());
    }

    #[test]
    fn linear_cross_entropy_differentiates_a_trainable_head() {
        let x = Var::from_tensor(&randn(&[3, 4], 43)).unwrap();
        let w = Var::from_tensor(&randn(&[6, 4], 44)).unwrap();
        let targets = [2, 5, IGNORE_INDEX];
        let f = || {
            project(
                &linear_cross_entropy(x.as_tensor(), w.as_tensor(), &targets)?,
                45,
            )
        };
        check_grad(&w, &f, 1e-6);
        check_grad(&x, &f, 1e-6);
    }

    #[test]
    fn cross_entropy_matches_log_softmax_and_finite_differences() {
        let x = Var::from_tensor(&randn(&[4, 7], 17)).unwrap();
        let targets = [3, IGNORE_INDEX, 0, 6];
        let per_row = cross_entropy_per_row(x.as_tensor(), &targets)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let lsm = candle_nn::ops::log_softmax(x.as_tensor(), D::Minus1)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        for (i, &t) in targets.iter().enumerate() {
            let want = if t == IGNORE_INDEX {
                0.0
            } else {
                -lsm[i][t as usize]
            };
            assert!((per_row[i] - want).abs() < 1e-12, "row {i}");
        }
        let f = || project(&cross_entropy_per_row(x.as_tensor(), &targets)?, 18);
        check_grad(&x, &f, 1e-6);
        let grads = cross_entropy_per_row(x.as_tensor(), &targets)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let ignored = grads
            .get(x.as_tensor())
            .unwrap()
            .get(1)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_vec0::<f64>()
            .unwrap();
        assert_eq!(ignored, 0.0, "an ignored row received gradient");
    }

    #[test]
    fn segment_mask_blocks_other_segments_and_the_future() {
        let m = segment_causal_mask(&[0, 0, 1, 1], 1, 4, DType::F32, &Device::Cpu).unwrap();
        let m = m.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let allowed: Vec<bool> = m.iter().map(|v| *v == 0.0).collect();
        #[rustfmt::skip]
        let want = [
            true, false, false, false,
            true, true, false, false,
            false, false, true, false,
            false, false, true, true,
        ];
        assert_eq!(allowed, want);
    }
}
