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
use crate::qmodel::{Output, QModel, QOp};
use crate::window::{im2col, pool};
use rayon::prelude::*;

/// A quantized model prepared for fast integer inference (weights decoded to `i16`).
pub struct Golden<'a> {
    model: &'a QModel,
    weights: Vec<Vec<i16>>,
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
            .map(|l| match l.op.compute() {
                Some(cp) => cp.weights.index.iter().map(|&i| cp.weights.decode(i) as i16).collect(),
                None => Vec::new(),
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
        let q = self.model;
        assert_eq!(
            pixels.len(),
            q.input.shape.iter().product::<usize>(),
            "image size does not match the model input"
        );
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
            let x = get(l.inputs[0]);
            let shape = in_shape(l.inputs[0]);
            let y = match &l.op {
                QOp::Dense(cp) | QOp::Conv2d(cp) => {
                    let w = &self.weights[li];
                    let fan = cp.weights.fan_in;
                    let finish = |o: usize, acc: i32| -> i32 {
                        let acc = acc.wrapping_add(cp.bias[o] as i32);
                        match &cp.output {
                            Output::Codes { bits, requant, .. } => {
                                contract::requantize(acc as i64, requant.m0[o], requant.shift[o] as u32, *bits) as i32
                            }
                            Output::Logits => match &cp.logit_scale {
                                None => acc,
                                Some(ls) => contract::scale_logit(acc as i64, ls.m0[o], ls.shift) as i32,
                            },
                        }
                    };
                    match cp.conv {
                        None => {
                            let a: Vec<i16> = x.iter().map(|&v| v as i16).collect();
                            (0..cp.weights.out)
                                .map(|o| finish(o, dot_i16(&a, &w[o * fan..(o + 1) * fan])))
                                .collect()
                        }
                        Some(g) => {
                            let (c, h, wd) = (shape[0], shape[1], shape[2]);
                            let (oh, ow) = (l.out_shape[1], l.out_shape[2]);
                            let mut y = vec![0i32; cp.weights.out * oh * ow];
                            let mut patch = vec![0i16; fan];
                            for oy in 0..oh {
                                for ox in 0..ow {
                                    im2col(
                                        x,
                                        [c, h, wd],
                                        g.kernel,
                                        [oy * g.stride[0], ox * g.stride[1]],
                                        [g.pad[0], g.pad[1]],
                                        0,
                                        |v| v as i16,
                                        &mut patch,
                                    );
                                    for o in 0..cp.weights.out {
                                        y[(o * oh + oy) * ow + ox] =
                                            finish(o, dot_i16(&patch, &w[o * fan..(o + 1) * fan]));
                                    }
                                }
                            }
                            y
                        }
                    }
                }
                QOp::MaxPool { kernel, stride, pad } => pool(x, &shape, &l.out_shape, *kernel, *stride, *pad, |win| {
                    win.iter().copied().max().unwrap_or(0)
                }),
                QOp::AvgPool {
                    kernel,
                    stride,
                    m0,
                    shift,
                } => {
                    let bits = l.out_bits;
                    pool(x, &shape, &l.out_shape, *kernel, *stride, [0; 4], |win| {
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
                            contract::round_shift_clamp(
                                p as i64 * m0[0] as i64 + r as i64 * m0[1] as i64,
                                *shift,
                                *bits,
                            ) as i32
                        })
                        .collect()
                }
            };
            outs.push(y);
        }
        outs
    }

    /// Classify one image.
    pub fn infer(&self, pixels: &[u8]) -> Inference {
        let logits = self.trace(pixels).pop().unwrap_or_default();
        Inference {
            class: argmax(&logits),
            logits,
        }
    }

    /// Classify a batch of images stored back to back (`n × C·H·W`), in parallel on all cores.
    pub fn classify_batch(&self, images: &[u8]) -> Vec<usize> {
        let px: usize = self.model.input.shape.iter().product();
        images.par_chunks(px).map(|img| self.infer(img).class).collect()
    }
}
