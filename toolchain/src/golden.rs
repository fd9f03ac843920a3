//! The golden integer model: the bit-exact reference of the hardware. Every layer computes exactly what the
//! integer contract ([`crate::contract`]) says, in integers only:
//!
//! * dense/conv: `acc = Σ a·w_int + b_int` in a 32-bit register with wrap-around (the result is exact because the
//!   quantizer proved `acc` fits `acc_bits ≤ 32`; weights decoded by [`contract::decode_weight_as`]), then
//!   [`contract::requantize`] per channel, or `acc` as logits for the last layer (through
//!   [`contract::scale_logit`] when the layer has a per-channel logit scale);
//! * max pool: max of codes (zero padding never wins since codes are ≥ 0);
//! * average pools: window sum, then `(sum·m0 + 2^(shift−1)) >> shift` (an exact rounded division);
//! * add: `clamp((a·m0₀ + b·m0₁ + 2^(shift−1)) >> shift, 0, 2^bits − 1)`;
//! * the class is the index of the largest logit, the lowest index on ties.

use crate::contract;
use crate::gemm::{gemm, Kernel, PackedWeights};
use crate::qmodel::{Output, QModel, QOp};
use crate::window::pool;
use rayon::prelude::*;

/// A quantized model prepared for fast integer inference (weights decoded to `i16` and packed for [`gemm`]).
pub struct Golden<'a> {
    model: &'a QModel,
    weights: Vec<Option<(PackedWeights, Finish)>>,
}

/// The output step of a dense/conv layer, per channel constants laid out for a tight loop: the bias, then
/// [`contract::requantize`] (codes) or [`contract::scale_logit`] (scaled logits) or nothing (logits).
struct Finish {
    bias: Vec<i32>,
    kind: FinishKind,
    /// The CPU has AVX-512 F/DQ/VL: the requantization loop compiled for them (64-bit lanes).
    #[cfg(all(target_arch = "x86_64", pact_avx512))]
    avx512: bool,
}

/// [`contract::requantize`] of `acc + bias` for every channel.
#[inline(always)]
fn codes_row(acc: &[i32], bias: &[i32], m0: &[u32], shift: &[u32], bits: u32, dst: &mut [i32]) {
    let n = dst.len();
    let (acc, bias, m0, shift) = (&acc[..n], &bias[..n], &m0[..n], &shift[..n]);
    for o in 0..n {
        dst[o] = contract::requantize(acc[o].wrapping_add(bias[o]) as i64, m0[o], shift[o], bits) as i32;
    }
}

/// # Safety
/// The CPU must support AVX-512 F, DQ and VL.
#[cfg(all(target_arch = "x86_64", pact_avx512))]
#[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn codes_row_avx512(acc: &[i32], bias: &[i32], m0: &[u32], shift: &[u32], bits: u32, dst: &mut [i32]) {
    codes_row(acc, bias, m0, shift, bits, dst)
}

enum FinishKind {
    Codes { m0: Vec<u32>, shift: Vec<u32>, bits: u32 },
    Logits,
    Scaled { m0: Vec<u32>, shift: u32 },
}

impl Finish {
    fn new(cp: &crate::qmodel::Compute) -> Self {
        let kind = match &cp.output {
            Output::Codes { bits, requant, .. } => FinishKind::Codes {
                m0: requant.m0.clone(),
                shift: requant.shift.iter().map(|&s| s as u32).collect(),
                bits: *bits,
            },
            Output::Logits => match &cp.logit_scale {
                None => FinishKind::Logits,
                Some(ls) => FinishKind::Scaled {
                    m0: ls.m0.clone(),
                    shift: ls.shift,
                },
            },
        };
        Finish {
            bias: cp.bias.iter().map(|&b| b as i32).collect(),
            kind,
            #[cfg(all(target_arch = "x86_64", pact_avx512))]
            avx512: std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl"),
        }
    }

    /// `dst[o]` = the output of channel `o` from its accumulator `acc[o]` (the bias added with wrap-around).
    #[inline]
    fn row(&self, acc: &[i32], dst: &mut [i32]) {
        let n = dst.len();
        let (acc, bias) = (&acc[..n], &self.bias[..n]);
        match &self.kind {
            FinishKind::Codes { m0, shift, bits } => {
                #[cfg(all(target_arch = "x86_64", pact_avx512))]
                if self.avx512 {
                    // SAFETY: the features were detected in `Finish::new`.
                    unsafe { codes_row_avx512(acc, bias, m0, shift, *bits, dst) };
                    return;
                }
                codes_row(acc, bias, m0, shift, *bits, dst);
            }
            FinishKind::Logits => {
                for o in 0..n {
                    dst[o] = acc[o].wrapping_add(bias[o]);
                }
            }
            FinishKind::Scaled { m0, shift } => {
                for o in 0..n {
                    dst[o] = contract::scale_logit(acc[o].wrapping_add(bias[o]) as i64, m0[o], *shift) as i32;
                }
            }
        }
    }
}

/// Images per batch of [`Golden::classify_batch`] (each batch runs on one core).
const BATCH: usize = 32;

/// Max pooling without padding whose windows all lie inside the image (the common case, without
/// [`pool`]'s bounds checks): `x` is `C×H×W`, the result `C×OH×OW`. An empty window gives 0, as there.
fn max_pool_inside(x: &[i32], [c, h, w]: [usize; 3], [oh, ow]: [usize; 2], k: [usize; 2], s: [usize; 2]) -> Vec<i32> {
    let mut y = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        let img = &x[ch * h * w..(ch + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = if k[0] * k[1] == 0 { 0 } else { i32::MIN };
                for ky in 0..k[0] {
                    let r = &img[(oy * s[0] + ky) * w + ox * s[1]..][..k[1]];
                    m = r.iter().fold(m, |m, &v| m.max(v));
                }
                y.push(m);
            }
        }
    }
    y
}

/// The result of one inference: class and the last layer's accumulators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inference {
    pub class: usize,
    pub logits: Vec<i32>,
}

/// Index of the largest value, the lowest index on ties; 0 for an empty slice.
pub fn argmax<T: PartialOrd + Copy>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// `Σ a·w` over `i16` slices, accumulated in `i32` with wrap-around (vectorizes to multiply-add pairs).
#[inline]
pub fn dot_i16(a: &[i16], w: &[i16]) -> i32 {
    a.iter()
        .zip(w)
        .fold(0i32, |s, (&x, &y)| s.wrapping_add(x as i32 * y as i32))
}

impl<'a> Golden<'a> {
    /// Prepare `model` (which must have passed [`QModel::validate`], as every loaded or built model has).
    pub fn new(model: &'a QModel) -> Self {
        let weights = model
            .layers
            .iter()
            .map(|l| {
                l.op.compute().map(|cp| {
                    let w: Vec<i16> = cp.weights.index.iter().map(|&i| cp.weights.decode(i) as i16).collect();
                    (
                        PackedWeights::new(&w, cp.weights.out, cp.weights.fan_in),
                        Finish::new(cp),
                    )
                })
            })
            .collect();
        Golden { model, weights }
    }

    /// The model this was prepared from.
    pub fn model(&self) -> &QModel {
        self.model
    }

    /// Run one image (`C·H·W` pixel codes) and return every layer's output tensor (codes, or logits for the
    /// last), index `i` = layer `i`. Panics if `pixels` has the wrong length (callers check data shapes).
    pub fn trace(&self, pixels: &[u8]) -> Vec<Vec<i32>> {
        self.trace_batch(pixels, 1)
    }

    /// Run `n` images stored back to back and return every layer's outputs, index `i` = layer `i`, the `n`
    /// images' tensors back to back (as [`Golden::trace`] gives them one image at a time). Panics if `pixels`
    /// is not `n` images long.
    pub fn trace_batch(&self, pixels: &[u8], n: usize) -> Vec<Vec<i32>> {
        let q = self.model;
        let px: usize = q.input.shape.iter().product();
        assert_eq!(pixels.len(), px * n, "image size does not match the model input");
        let input: Vec<i32> = pixels.iter().map(|&p| p as i32).collect();
        let mut outs: Vec<Vec<i32>> = Vec::with_capacity(q.layers.len());
        let in_shape = |i: usize| -> Vec<usize> {
            if i == 0 {
                q.input.shape.to_vec()
            } else {
                q.layers[i - 1].out_shape.clone()
            }
        };
        for (li, l) in q.layers.iter().enumerate() {
            let get = |i: usize| -> &[i32] {
                if i == 0 {
                    &input
                } else {
                    &outs[i - 1]
                }
            };
            let xs = get(l.inputs[0]);
            let shape = in_shape(l.inputs[0]);
            let isz: usize = shape.iter().product();
            let osz: usize = l.out_shape.iter().product();
            let y = match (&l.op, &self.weights[li]) {
                (QOp::Dense(cp) | QOp::Conv2d(cp), Some((pw, finish))) => {
                    let (lda, ldc, fan, out) = (pw.lda(), pw.ldc(), pw.fan(), pw.out());
                    match cp.conv {
                        None => {
                            // one row per image
                            let mut a = vec![0i16; n * lda];
                            for (row, x) in a.chunks_exact_mut(lda).zip(xs.chunks_exact(isz)) {
                                for (d, &v) in row.iter_mut().zip(x) {
                                    *d = v as i16;
                                }
                            }
                            let mut c = vec![0i32; n * ldc];
                            gemm(&a, n, pw, &mut c, Kernel::Auto);
                            let mut y = vec![0i32; n * out];
                            for (row, yi) in c.chunks_exact(ldc).zip(y.chunks_exact_mut(out)) {
                                finish.row(row, yi);
                            }
                            y
                        }
                        Some(g) => {
                            // one row per output position of one image
                            let (c, h, wd) = (shape[0], shape[1], shape[2]);
                            let (oh, ow) = (l.out_shape[1], l.out_shape[2]);
                            let mut a = vec![0i16; oh * ow * lda];
                            let mut acc = vec![0i32; oh * ow * ldc];
                            let mut y = vec![0i32; n * osz];
                            let (s0, s1) = (g.stride[0], g.stride[1]);
                            let (k0, k1) = (g.kernel[0], g.kernel[1]);
                            let (pt, pl) = (g.pad[0], g.pad[1]);
                            // the image inside a zero border as wide as every window needs
                            let hp = (h + pt).max((oh - 1) * s0 + k0);
                            let wp = (wd + pl).max((ow - 1) * s1 + k1);
                            let mut padded = vec![0i16; c * hp * wp];
                            let hw = oh * ow;
                            let mut outs_row = vec![0i32; out];
                            for (x, yi) in xs.chunks_exact(isz).zip(y.chunks_exact_mut(osz)) {
                                for ch in 0..c {
                                    for iy in 0..h {
                                        let src = &x[(ch * h + iy) * wd..(ch * h + iy + 1) * wd];
                                        let dst = &mut padded[(ch * hp + iy + pt) * wp + pl..][..wd];
                                        for (d, &v) in dst.iter_mut().zip(src) {
                                            *d = v as i16;
                                        }
                                    }
                                }
                                // patch order [ch][ky][kx], as window::im2col
                                for oy in 0..oh {
                                    for ox in 0..ow {
                                        let row = &mut a[(oy * ow + ox) * lda..][..fan];
                                        let mut k = 0;
                                        for ch in 0..c {
                                            for ky in 0..k0 {
                                                let src = &padded[(ch * hp + oy * s0 + ky) * wp + ox * s1..][..k1];
                                                row[k..k + k1].copy_from_slice(src);
                                                k += k1;
                                            }
                                        }
                                    }
                                }
                                gemm(&a, hw, pw, &mut acc, Kernel::Auto);
                                for (pos, row) in acc.chunks_exact(ldc).take(hw).enumerate() {
                                    finish.row(row, &mut outs_row[..out]);
                                    for (o, &v) in outs_row[..out].iter().enumerate() {
                                        yi[o * hw + pos] = v;
                                    }
                                }
                            }
                            y
                        }
                    }
                }
                _ => {
                    let mut y = Vec::with_capacity(n * osz);
                    for (i, x) in xs.chunks_exact(isz).enumerate() {
                        y.extend(self.other_layer(l, li, x, &shape, |j| {
                            let s: usize = in_shape(j).iter().product();
                            &get(j)[i * s..(i + 1) * s]
                        }));
                    }
                    y
                }
            };
            outs.push(y);
        }
        outs
    }

    /// A layer without weights on one image: `x` its first input, `get(j)` the image's output of layer `j − 1`
    /// (`j = 0`: the input).
    fn other_layer<'x>(
        &self,
        l: &crate::qmodel::QLayer,
        li: usize,
        x: &[i32],
        shape: &[usize],
        get: impl Fn(usize) -> &'x [i32],
    ) -> Vec<i32> {
        match &l.op {
            QOp::MaxPool { kernel, stride, pad } => {
                let (h, w, oh, ow) = (shape[1], shape[2], l.out_shape[1], l.out_shape[2]);
                let inside =
                    oh > 0 && ow > 0 && (oh - 1) * stride[0] + kernel[0] <= h && (ow - 1) * stride[1] + kernel[1] <= w;
                if *pad == [0; 4] && inside {
                    max_pool_inside(x, [shape[0], h, w], [oh, ow], *kernel, *stride)
                } else {
                    pool(x, shape, &l.out_shape, *kernel, *stride, *pad, |win| {
                        win.iter().copied().max().unwrap_or(0)
                    })
                }
            }
            QOp::AvgPool {
                kernel,
                stride,
                m0,
                shift,
            } => {
                let bits = l.out_bits;
                pool(x, shape, &l.out_shape, *kernel, *stride, [0; 4], |win| {
                    contract::requantize(win.iter().map(|&v| v as i64).sum(), *m0, *shift, bits) as i32
                })
            }
            QOp::GlobalAvgPool { m0, shift } => {
                let hw = shape[1] * shape[2];
                (0..shape[0])
                    .map(|ch| {
                        contract::requantize(
                            x[ch * hw..(ch + 1) * hw].iter().map(|&v| v as i64).sum(),
                            *m0,
                            *shift,
                            l.out_bits,
                        ) as i32
                    })
                    .collect()
            }
            QOp::Flatten => x.to_vec(),
            QOp::Add { m0, shift, bits, .. } => {
                let b = get(l.inputs[1]);
                x.iter()
                    .zip(b)
                    .map(|(&p, &r)| {
                        contract::round_shift_clamp(p as i64 * m0[0] as i64 + r as i64 * m0[1] as i64, *shift, *bits)
                            as i32
                    })
                    .collect()
            }
            QOp::Dense(_) | QOp::Conv2d(_) => unreachable!("layer {li}: compute layers have packed weights"),
        }
    }

    /// Classify one image.
    pub fn infer(&self, pixels: &[u8]) -> Inference {
        let logits = self.trace(pixels).pop().unwrap_or_default();
        Inference {
            class: argmax(&logits),
            logits,
        }
    }

    /// Classify a batch of images stored back to back (`n × C·H·W`), in parallel on all cores (batches of
    /// [`BATCH`] images through [`Golden::trace_batch`]).
    pub fn classify_batch(&self, images: &[u8]) -> Vec<usize> {
        let px: usize = self.model.input.shape.iter().product::<usize>().max(1);
        let n = images.len() / px;
        images[..n * px]
            .par_chunks(BATCH * px)
            .flat_map_iter(|chunk| {
                let k = chunk.len() / px;
                let logits = self.trace_batch(chunk, k).pop().unwrap_or_default();
                let per = logits.len() / k.max(1);
                (0..k)
                    .map(move |i| argmax(&logits[i * per..(i + 1) * per]))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Batches give every image exactly what it gets alone, at every layer; `classify_batch` agrees with `infer`.
    #[test]
    fn batched_trace_equals_one_image_at_a_time() {
        let seed = 7;
        println!("seed {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for (name, q) in crate::bench::builtin_models(seed).unwrap() {
            let g = Golden::new(&q);
            let px: usize = q.input.shape.iter().product();
            let n = BATCH + 5;
            let mut images: Vec<u8> = (0..n * px).map(|_| rng.gen()).collect();
            images[..px].fill(255); // max codes
            images[px..2 * px].fill(0);
            let batch = g.trace_batch(&images, n);
            let mut classes = Vec::new();
            for (i, img) in images.chunks_exact(px).enumerate() {
                let one = g.trace(img);
                for (l, (b, o)) in batch.iter().zip(&one).enumerate() {
                    assert_eq!(
                        &b[i * o.len()..(i + 1) * o.len()],
                        &o[..],
                        "{name}: image {i}, layer {l}"
                    );
                }
                classes.push(g.infer(img).class);
            }
            assert_eq!(g.classify_batch(&images), classes, "{name}");
        }
    }
}
