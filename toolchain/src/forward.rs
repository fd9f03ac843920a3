//! Float evaluation: the float model as trained ([`float_forward`]) and the fake-quant model
//! ([`fake_quant_forward`]): the quantized model evaluated in real numbers as in quantization-aware training —
//! DoReFa/max-abs weight levels, float bias and BatchNorm, PACT activations quantized with round half up — but
//! without the integer approximations of the golden model (fixed-point `M0/2^n`, integer bias).

use crate::contract;
use crate::error::{Error, Result};
use crate::float::{FloatModel, Op};
use crate::qmodel::{Output, QModel, QOp};
use crate::window::{im2col, pool};

/// Real values of every node of the float model for one image; the last entry is the logits.
pub fn float_trace(model: &FloatModel, pixels: &[u8]) -> Result<Vec<Vec<f32>>> {
    let shapes = model.shapes()?;
    let n: usize = model.input.shape.iter().product();
    if pixels.len() != n {
        return Err(Error::config(format!(
            "image has {} pixels, the model takes {n}",
            pixels.len()
        )));
    }
    let mut outs: Vec<Vec<f32>> = Vec::with_capacity(model.nodes.len());
    for (i, node) in model.nodes.iter().enumerate() {
        let x = node.inputs.first().map(|&j| outs[j].as_slice()).unwrap_or(&[]);
        let xs = node.inputs.first().map(|&j| shapes[j].as_slice()).unwrap_or(&[]);
        let y = match &node.op {
            Op::Input => pixels.iter().map(|&p| p as f32 * model.input.scale).collect(),
            Op::Dense { weight, bias } => dense(x, &weight.data, weight.shape[0], bias.as_deref()),
            Op::Conv2d {
                weight,
                bias,
                stride,
                pad,
            } => {
                let k = [weight.shape[2], weight.shape[3]];
                conv(
                    x,
                    xs,
                    &weight.data,
                    weight.shape[0],
                    k,
                    *stride,
                    *pad,
                    &shapes[i],
                    bias.as_deref(),
                )
            }
            Op::BatchNorm(bn) => {
                let aff = bn.affine();
                let per = x.len() / aff.len();
                x.iter()
                    .enumerate()
                    .map(|(j, &v)| (aff[j / per].0 * v as f64 + aff[j / per].1) as f32)
                    .collect()
            }
            Op::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
            Op::Pact { alpha } => x.iter().map(|&v| v.clamp(0.0, *alpha)).collect(),
            Op::MaxPool { kernel, stride, pad } => pool(x, xs, &shapes[i], *kernel, *stride, *pad, |w| {
                w.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            }),
            Op::AvgPool { kernel, stride } => pool(x, xs, &shapes[i], *kernel, *stride, [0; 4], |w| {
                w.iter().sum::<f32>() / w.len() as f32
            }),
            Op::GlobalAvgPool => {
                let hw = xs[1] * xs[2];
                x.chunks(hw).map(|c| c.iter().sum::<f32>() / hw as f32).collect()
            }
            Op::Flatten => x.to_vec(),
            Op::Add => x.iter().zip(&outs[node.inputs[1]]).map(|(a, b)| a + b).collect(),
        };
        outs.push(y);
    }
    Ok(outs)
}

/// Logits of the float model for one image.
pub fn float_forward(model: &FloatModel, pixels: &[u8]) -> Result<Vec<f32>> {
    Ok(float_trace(model, pixels)?.pop().unwrap_or_default())
}

/// A quantized model prepared for fake-quant evaluation (real weight levels computed once).
pub struct FakeQuant<'a> {
    q: &'a QModel,
    weights: Vec<Vec<f32>>,
}

impl<'a> FakeQuant<'a> {
    /// Prepare a validated quantized model.
    pub fn new(q: &'a QModel) -> Self {
        let weights = q
            .layers
            .iter()
            .map(|l| match l.op.compute() {
                Some(cp) => {
                    let wt = &cp.weights;
                    wt.index
                        .iter()
                        .enumerate()
                        .map(|(j, &i)| {
                            let sign = if cp.flip[j / wt.fan_in] { -1.0 } else { 1.0 };
                            (sign * wt.channel_scale(j / wt.fan_in) * wt.decode(i) as f64) as f32
                        })
                        .collect()
                }
                None => Vec::new(),
            })
            .collect();
        FakeQuant { q, weights }
    }

    /// Fake-quant logits for one image (see the module doc).
    pub fn forward(&self, pixels: &[u8]) -> Vec<f32> {
        let q = self.q;
        let mut outs: Vec<Vec<f32>> = Vec::with_capacity(q.layers.len());
        let input: Vec<f32> = pixels.iter().map(|&p| (p as f64 * q.input.scale) as f32).collect();
        let scale_of = |i: usize| {
            if i == 0 {
                q.input.scale
            } else {
                q.layers[i - 1].out_scale
            }
        };
        for (li, l) in q.layers.iter().enumerate() {
            let get = |i: usize| {
                if i == 0 {
                    input.as_slice()
                } else {
                    outs[i - 1].as_slice()
                }
            };
            let x = get(l.inputs[0]);
            let xs: Vec<usize> = if l.inputs[0] == 0 {
                q.input.shape.to_vec()
            } else {
                q.layers[l.inputs[0] - 1].out_shape.clone()
            };
            let y = match &l.op {
                QOp::Dense(cp) | QOp::Conv2d(cp) => {
                    let w = &self.weights[li];
                    let out = cp.weights.out;
                    let fb: Vec<f32> = cp.float_bias.iter().map(|&b| b as f32).collect();
                    let acc = match cp.conv {
                        None => dense(x, w, out, Some(&fb)),
                        Some(g) => conv(x, &xs, w, out, g.kernel, g.stride, g.pad, &l.out_shape, Some(&fb)),
                    };
                    let per = acc.len() / out;
                    match &cp.output {
                        Output::Codes { bits, alpha, .. } => {
                            let step = alpha / contract::code_max(*bits) as f64;
                            acc.iter()
                                .enumerate()
                                .map(|(j, &v)| {
                                    let c = j / per;
                                    let yv = cp.bn_g[c] * v as f64 + cp.bn_h[c];
                                    (contract::pact_code(yv, *alpha, *bits) as f64 * step) as f32
                                })
                                .collect()
                        }
                        Output::Logits => acc,
                    }
                }
                QOp::MaxPool { kernel, stride, pad } => pool(x, &xs, &l.out_shape, *kernel, *stride, *pad, |w| {
                    w.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                }),
                QOp::AvgPool { kernel, stride, .. } => {
                    let s = scale_of(l.inputs[0]);
                    pool(x, &xs, &l.out_shape, *kernel, *stride, [0; 4], |w| regrid_mean(w, s))
                }
                QOp::GlobalAvgPool { .. } => {
                    let s = scale_of(l.inputs[0]);
                    x.chunks(xs[1] * xs[2]).map(|c| regrid_mean(c, s)).collect()
                }
                QOp::Flatten => x.to_vec(),
                QOp::Add { bits, alpha, .. } => {
                    let step = alpha / contract::code_max(*bits) as f64;
                    x.iter()
                        .zip(get(l.inputs[1]))
                        .map(|(&a, &b)| (contract::pact_code(a as f64 + b as f64, *alpha, *bits) as f64 * step) as f32)
                        .collect()
                }
            };
            outs.push(y);
        }
        outs.pop().unwrap_or_default()
    }
}

/// Fake-quant logits of a quantized model for one image (prepares the model each call; use [`FakeQuant`] in loops).
pub fn fake_quant_forward(q: &QModel, pixels: &[u8]) -> Vec<f32> {
    FakeQuant::new(q).forward(pixels)
}

/// Mean of values on the grid `k·scale`, rounded half up back onto that grid (exactly, through the codes).
fn regrid_mean(w: &[f32], scale: f64) -> f32 {
    let sum: i64 = w.iter().map(|&v| (v as f64 / scale).round() as i64).sum();
    let n = w.len() as i64;
    (((2 * sum + n) / (2 * n)) as f64 * scale) as f32
}

/// `y[o] = Σ_j x[j]·w[o, j] + b[o]` with `w` row-major `[out, x.len()]`.
fn dense(x: &[f32], w: &[f32], out: usize, b: Option<&[f32]>) -> Vec<f32> {
    let n = x.len();
    (0..out)
        .map(|o| x.iter().zip(&w[o * n..(o + 1) * n]).map(|(a, b)| a * b).sum::<f32>() + b.map_or(0.0, |b| b[o]))
        .collect()
}

/// Direct 2-D convolution, zero padding; `w` is `[out, in_c, kh, kw]`.
#[allow(clippy::too_many_arguments)]
fn conv(
    x: &[f32],
    xs: &[usize],
    w: &[f32],
    out: usize,
    k: [usize; 2],
    s: [usize; 2],
    pad: [usize; 4],
    ys: &[usize],
    b: Option<&[f32]>,
) -> Vec<f32> {
    let (c, h, wd) = (xs[0], xs[1], xs[2]);
    let (oh, ow) = (ys[1], ys[2]);
    let fan = c * k[0] * k[1];
    let mut patch = vec![0f32; fan];
    let mut y = vec![0f32; out * oh * ow];
    for oy in 0..oh {
        for ox in 0..ow {
            im2col(
                x,
                [c, h, wd],
                k,
                [oy * s[0], ox * s[1]],
                [pad[0], pad[1]],
                0.0,
                |v| v,
                &mut patch,
            );
            for o in 0..out {
                let acc: f32 = patch.iter().zip(&w[o * fan..(o + 1) * fan]).map(|(a, b)| a * b).sum();
                y[(o * oh + oy) * ow + ox] = acc + b.map_or(0.0, |b| b[o]);
            }
        }
    }
    y
}
