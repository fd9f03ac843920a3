//! The quantizers of PACT training as differentiable candle expressions.
//!
//! Each function here mirrors one definition of the integer contract (`pact_toolchain::contract`): the forward
//! value is the contract's value (up to f32 rounding), the backward pass is the straight-through estimator
//! (STE) of the PACT paper. All rounding is **round half up**, `floor(x + 1/2)`, as in
//! `pact_toolchain::contract::round_half_up`; candle's `round` (half away from zero) is never used.
//!
//! The STE is written as `y + (q − y).detach()`: the forward value is `q` (up to one f32 rounding of the sum,
//! which the evaluation path avoids by returning `q` itself), the gradient is that of `y`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use pact_toolchain::contract;
use rayon::prelude::*;

/// Largest supported quantized width; a width of [`FLOAT_BITS`] means "not quantized".
pub const MAX_BITS: u32 = 8;
/// The width that means full precision (no quantization): plain ReLU, float weights.
pub const FLOAT_BITS: u32 = 32;

/// `2^bits − 1`, the number of steps of a `bits`-bit code, as f64.
pub fn levels(bits: u32) -> f64 {
    ((1u64 << bits) - 1) as f64
}

/// `floor(x + 1/2)` element-wise: round half up (no gradient; use inside a detached residual).
pub fn round_half_up(x: &Tensor) -> Result<Tensor> {
    (x + 0.5)?.floor()
}

/// Straight-through estimator: the value of `q`, the gradient of `y` (`y + (q − y).detach()`).
pub fn ste(y: &Tensor, q: &Tensor) -> Result<Tensor> {
    y + (q - y)?.detach()
}

/// PACT's clip `clip(x, 0, α) = relu(x) − relu(x − α)` with `alpha` a scalar (0-d) tensor.
///
/// Gradients (candle's `relu'(0) = 1`): `∂y/∂x = 1` for `0 ≤ x < α`, else 0; `∂y/∂α = 1` for `x ≥ α`, else 0.
/// So at the hand-picked points: `x < 0` → (0, 0); `0 < x < α` → (1, 0); `x = α` → (0, 1); `x > α` → (0, 1).
pub fn pact_clip(x: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    x.relu()? - x.broadcast_sub(alpha)?.relu()?
}

/// PACT activation quantized to `bits` bits: `round_half_up(clip(x, 0, α)·(2^k − 1)/α)·α/(2^k − 1)`.
///
/// With `train` the value is `y + (q − y).detach()` with `y = `[`pact_clip`]`(x, α)`: the forward value is the
/// quantized `q` (up to one f32 rounding of the sum), the gradients are those of [`pact_clip`] (STE through the
/// rounding). Without, the exact quantized value is returned, computed as the fake-quant evaluator computes it
/// (`contract::pact_code` in f64, times the step `α/(2^k − 1)` in f64, rounded once to f32; the tests hold
/// the inlined kernel to `contract::pact_code` at every width, ties included).
pub fn pact(x: &Tensor, alpha: &Tensor, bits: u32, train: bool) -> Result<Tensor> {
    let a = alpha.to_scalar::<f32>()?;
    if train {
        let y = pact_clip(x, alpha)?;
        let r = y.detach().contiguous()?.apply_op1_no_bwd(&PactQuant {
            alpha: a,
            bits,
            residual: true,
        })?;
        y + r
    } else {
        x.detach().contiguous()?.apply_op1_no_bwd(&PactQuant {
            alpha: a,
            bits,
            residual: false,
        })
    }
}

/// Forward-only kernel: `q = (pact_code(x, α, k) as f64 · α/(2^k − 1)) as f32` element-wise, or the residual
/// `q − x` (for the straight-through estimator). One pass, in parallel over chunks.
struct PactQuant {
    alpha: f32,
    bits: u32,
    residual: bool,
}

impl CustomOp1 for PactQuant {
    fn name(&self) -> &'static str {
        "pact-quant"
    }
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("pact-quant: f32 tensors only");
        };
        let Some((o1, o2)) = layout.contiguous_offsets() else {
            candle_core::bail!("pact-quant: contiguous tensors only");
        };
        let src = &data[o1..o2];
        let alpha = self.alpha as f64;
        let l = levels(self.bits);
        let step = alpha / l;
        let mut dst = vec![0f32; src.len()];
        #[cfg(all(target_arch = "x86_64", pact_avx512))]
        #[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
        let wide = std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq");
        let residual = self.residual;
        dst.par_chunks_mut(1 << 14)
            .zip(src.par_chunks(1 << 14))
            .for_each(|(d, s)| {
                #[cfg(all(target_arch = "x86_64", pact_avx512))]
                if wide {
                    // SAFETY: the features were detected above.
                    unsafe { pact_quant_avx512(s, d, alpha, l, step, residual) };
                    return;
                }
                pact_quant(s, d, alpha, l, step, residual)
            });
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

/// The kernel of [`PactQuant`] on one chunk.
#[inline(always)]
fn pact_quant(src: &[f32], dst: &mut [f32], alpha: f64, l: f64, step: f64, residual: bool) {
    for (d, &x) in dst.iter_mut().zip(src) {
        // contract::pact_code, inlined: round_half_up(clamp(x, 0, α)·L/α) clamped to [0, L], in f64.
        // The argument of the floor is ≥ 1/2, so truncation is the floor (NaN gives code 0, as there).
        let code = (((x as f64).clamp(0.0, alpha) * l / alpha + 0.5) as i64 as f64).clamp(0.0, l);
        let q = (code * step) as f32;
        *d = if residual { q - x } else { q };
    }
}

/// [`pact_quant`] compiled for AVX-512 F/DQ (vector f64 ↔ i64 conversions): the same IEEE operations element by
/// element, so the same values.
///
/// # Safety
/// The CPU must support AVX-512 F and DQ.
#[cfg(all(target_arch = "x86_64", pact_avx512))]
#[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn pact_quant_avx512(src: &[f32], dst: &mut [f32], alpha: f64, l: f64, step: f64, residual: bool) {
    pact_quant(src, dst, alpha, l, step, residual)
}

/// Elements from which [`tanh`] splits the work over the cores.
const TANH_PAR_MIN: usize = 1 << 14;

/// `tanh(w)` element-wise with the values and the gradient of candle's `Tensor::tanh`, bit for bit, computed in
/// parallel over chunks for large tensors (candle's own runs on one thread here: `pact` limits its spinning
/// element-wise pool, see `src/main.rs`). Forward: `f32::tanh`/`f64::tanh` of every element, as candle. Backward:
/// candle subtracts `grad·(tanh² − 1)` from the input's gradient; this returns `−(grad·(tanh² − 1))`, which
/// candle adds: IEEE subtraction is the addition of the negation, so the sum is the same, signed zeros included.
pub fn tanh(w: &Tensor) -> Result<Tensor> {
    if w.elem_count() < TANH_PAR_MIN {
        return w.tanh();
    }
    w.contiguous()?.apply_op1(TanhPar)
}

struct TanhPar;

impl CustomOp1 for TanhPar {
    fn name(&self) -> &'static str {
        "tanh-par"
    }
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((o1, o2)) = layout.contiguous_offsets() else {
            candle_core::bail!("tanh-par: contiguous tensors only");
        };
        fn map<T: Copy + Send + Sync + Default>(src: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
            let mut dst = vec![T::default(); src.len()];
            dst.par_chunks_mut(1 << 13)
                .zip(src.par_chunks(1 << 13))
                .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, &x)| *d = f(x)));
            dst
        }
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(map(&v[o1..o2], f32::tanh)),
            CpuStorage::F64(v) => CpuStorage::F64(map(&v[o1..o2], f64::tanh)),
            _ => candle_core::bail!("tanh-par: f32 or f64 only"),
        };
        Ok((out, layout.shape().clone()))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let minus_dtanh = (res.sqr()? - 1.)?;
        Ok(Some((grad * &minus_dtanh)?.neg()?))
    }
}

/// DoReFa weights of one layer (the whole tensor shares one normalisation), as real values in `[−1, 1]`
/// (`bits ≥ 2`) or `±mean|w|` (`bits = 1`):
///
/// * `bits ≥ 2`: `f = tanh(w)/(2·max|tanh(w)|) + 1/2`, `w_q = 2·round_half_up((2^k − 1)·f)/(2^k − 1) − 1`; the STE
///   bypasses only the rounding, so the gradient flows through `tanh` and the max normalisation (as in DoReFa's
///   reference code): `∂w_q/∂w = ∂(tanh(w)/max|tanh(w)|)/∂w`.
/// * `bits = 1`: `w_q = sign(w)·mean|w|` with `sign(0) = +1`; `mean|w|` is a constant for the backward pass and
///   `sign` is bypassed by the STE, so `∂w_q/∂w = 1` (DoReFa's binary rule).
/// * `bits = 32`: `w` unchanged.
///
/// With `exact` (the evaluation forward, no gradient) the levels are computed by
/// `pact_toolchain::contract::dorefa_weights` itself (f64) and decoded as the fake-quant evaluator decodes
/// them, `(scale·(2i − (2^k − 1))) as f32`: bit-identical to what `pact quantize` produces. Without (training),
/// the same formula in f32 on the tensor with the STE (fast; a weight within ~1e-7 of a rounding tie may land
/// on the neighbouring level).
pub fn dorefa(w: &Tensor, bits: u32, exact: bool) -> Result<Tensor> {
    if bits >= FLOAT_BITS {
        return Ok(w.clone());
    }
    if exact {
        let data: Vec<f32> = w.flatten_all()?.to_vec1()?;
        let (index, scale) = contract::dorefa_weights(&data, bits);
        let values: Vec<f32> = index
            .iter()
            .map(|&i| (scale * contract::decode_weight(i as u32, bits) as f64) as f32)
            .collect();
        return Tensor::from_vec(values, w.shape(), w.device());
    }
    if bits == 1 {
        let e = w.abs()?.mean_all()?.to_scalar::<f32>()? as f64;
        let e = if e > 0.0 { e } else { 1.0 };
        let q = w.detach().ge(0f64)?.to_dtype(w.dtype())?.affine(2.0 * e, -e)?;
        return ste(w, &q);
    }
    // y = tanh(w)/max|tanh(w)| ∈ [−1, 1] is the differentiable surrogate of w_q = 2f − 1.
    let t = tanh(w)?;
    let max_t = t.abs()?.flatten_all()?.max_keepdim(0)?.reshape(())?;
    let y = if max_t.to_scalar::<f32>()? > 0.0 {
        t.broadcast_div(&max_t)?
    } else {
        t
    };
    let f = ((y.detach() * 0.5)? + 0.5)?;
    let q = ((round_half_up(&(f * levels(bits))?)?.clamp(0.0, levels(bits))? * (2.0 / levels(bits)))? - 1.0)?;
    ste(&y, &q)
}
