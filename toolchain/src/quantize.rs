//! Float model → quantized integer model.
//!
//! Each dense/conv layer is fused with the BatchNorm and the ReLU/PACT activation that follow it; BatchNorm folds
//! into the per-channel requantization constants and the integer bias, never into the weight codes (which stay
//! DoReFa indices). For channel `c` with input scale `s_in`, weight step `s_w`, float bias `b`, BatchNorm
//! `y = g·x + h` and output activation `(α, k)`:
//!
//! * `M_c = |g_c|·s_in·s_w·(2^k − 1)/α`, approximated by `M0/2^n` ([`FixedMultiplier::from_real`]);
//! * `b_int_c = round_half_up(sign(g_c)·(b_c + h_c/g_c)/(s_in·s_w))`, in accumulator units;
//! * when `g_c < 0` the channel's weight indices are negated (`i → 2^k_w − 1 − i`, exact because the levels are
//!   symmetric) so that `M_c ≥ 0`; `g_c = 0` is rejected.
//!
//! The last dense/conv layer outputs raw accumulators (logits, `b_int = round_half_up(b/(s_in·s_w))`) followed by
//! an argmax. The first and the last dense/conv layer use `first_last_bits` for their weights, and so do the
//! activations feeding the last layer; the input is always 8-bit pixel codes. A ReLU without a learned α gets one
//! by calibration: the 99.99th percentile of its outputs over the calibration images (noted in the model's
//! provenance). Average pools divide exactly ([`contract::exact_divider`]); a residual add followed by an
//! activation becomes `clamp((a·M0_a + b·M0_b + 2^(n−1)) >> n)` with one shared shift.

use crate::contract::{self, code_max, round_half_up, FixedMultiplier, MAX_ACC_BITS};
use crate::error::{Error, Result};
use crate::float::{FloatModel, Op};
use crate::qmodel::{
    self, ChannelRequant, Compute, ConvGeom, Output, Provenance, QInput, QLayer, QModel, QOp, Weights,
};
use rayon::prelude::*;

/// How float weights become weight indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightQuantizer {
    /// DoReFa (`tanh` normalisation), for models trained with DoReFa weights (PACT's recipe).
    Dorefa,
    /// Symmetric max-abs scaling onto the same odd levels, for post-training quantization of plain float models.
    MaxAbs,
}

impl WeightQuantizer {
    /// Name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WeightQuantizer::Dorefa => "dorefa",
            WeightQuantizer::MaxAbs => "maxabs",
        }
    }
}

impl std::str::FromStr for WeightQuantizer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dorefa" => Ok(WeightQuantizer::Dorefa),
            "maxabs" => Ok(WeightQuantizer::MaxAbs),
            _ => Err(Error::config(format!(
                "weight quantizer '{s}' is unknown (dorefa, maxabs)"
            ))),
        }
    }
}

/// Validated quantization settings.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConfig {
    wbits: u32,
    abits: u32,
    first_last_bits: u32,
    m0_bits: u32,
    quantizer: WeightQuantizer,
}

/// Percentile used to calibrate α of a plain ReLU.
pub const CALIB_PERCENTILE: f64 = 99.99;

impl QuantConfig {
    /// Settings: weights `wbits` ∈ 1..=8, activations `abits` ∈ 1..=8, first/last layers `first_last_bits` ∈ 1..=8
    /// (weights and input activations of the last layer, weights of the first), `M0` of `m0_bits` ∈ 2..=31 bits.
    pub fn new(wbits: u32, abits: u32, first_last_bits: u32, m0_bits: u32, quantizer: WeightQuantizer) -> Result<Self> {
        contract::check_weight_bits("--wbits", wbits)?;
        contract::check_act_bits("--abits", abits)?;
        if !(1..=8).contains(&first_last_bits) {
            return Err(Error::config(format!(
                "--first-last-bits = {first_last_bits} is out of range: 1..=8 bits"
            )));
        }
        if !(2..=31).contains(&m0_bits) {
            return Err(Error::config(format!(
                "--m0-bits = {m0_bits} is out of range: 2..=31 bits"
            )));
        }
        Ok(QuantConfig {
            wbits,
            abits,
            first_last_bits,
            m0_bits,
            quantizer,
        })
    }
    /// Weight bits of inner layers.
    pub fn wbits(&self) -> u32 {
        self.wbits
    }
    /// Activation bits of inner layers.
    pub fn abits(&self) -> u32 {
        self.abits
    }
    /// Bits of the first/last layers.
    pub fn first_last_bits(&self) -> u32 {
        self.first_last_bits
    }
}

/// The float network a model stands for under `quantizer`: for DoReFa, every dense/conv weight replaced by its
/// unrounded DoReFa transform ([`contract::dorefa_limit`]) — the latent weights of a DoReFa-trained model are not
/// the network's weights; for max-abs, the model unchanged.
pub fn float_reference(model: &FloatModel, quantizer: WeightQuantizer) -> FloatModel {
    let mut m = model.clone();
    if quantizer == WeightQuantizer::Dorefa {
        for n in &mut m.nodes {
            if let Op::Dense { weight, .. } | Op::Conv2d { weight, .. } = &mut n.op {
                weight.data = contract::dorefa_limit(&weight.data);
            }
        }
    }
    m
}

/// Where a float node's value lives in the quantized model, if it is a tensor of codes.
#[derive(Clone, Copy, Debug)]
struct Codes {
    layer: usize, // 0 = model input, i + 1 = quantized layer i
    bits: u32,
    scale: f64,
}

/// Quantize `model`. `calib` holds calibration images back to back (needed only if some ReLU has no α).
/// `source` is recorded in the provenance.
pub fn quantize(model: &FloatModel, cfg: &QuantConfig, calib: Option<&[u8]>, source: &str) -> Result<QModel> {
    let shapes = model.shapes()?;
    let nodes = &model.nodes;
    let mut consumers = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &j in &n.inputs {
            consumers[j].push(i);
        }
    }
    let (first, last) = model
        .first_last_compute()
        .ok_or_else(|| Error::config("the model has no dense or conv layer"))?;
    if last != nodes.len() - 1 {
        let n = &nodes[nodes.len() - 1];
        return Err(Error::layer(
            &n.name,
            format!(
                "the model must end with its last dense/conv layer (logits), it ends with {}",
                n.op.kind()
            ),
        ));
    }
    // Activations reaching the last layer only through shape-only ops use first_last_bits.
    let feeds_last = model.feeds_last();
    let alphas = calibrate(model, calib)?;
    let mut notes = Vec::new();
    for (i, a) in alphas.iter().enumerate() {
        if let Some(a) = a {
            notes.push(format!("layer '{}': ReLU without learned alpha, calibrated alpha = {a:.6} ({CALIB_PERCENTILE}th percentile of its outputs)", nodes[i].name));
        }
    }

    let mut layers: Vec<QLayer> = Vec::new();
    let mut codes: Vec<Option<Codes>> = vec![None; nodes.len()];
    let mut fused = vec![false; nodes.len()];
    let in_scale = model.input.scale as f64;
    codes[0] = Some(Codes {
        layer: 0,
        bits: 8,
        scale: in_scale,
    });
    // The activation (α, bits) of node `a` if it is a ReLU/PACT.
    let act_of = |a: usize| -> Option<f64> {
        match nodes[a].op {
            Op::Pact { alpha } => Some(alpha as f64),
            Op::Relu => alphas[a],
            _ => None,
        }
    };
    let sole = |i: usize| {
        if consumers[i].len() == 1 {
            Some(consumers[i][0])
        } else {
            None
        }
    };

    for i in 1..nodes.len() {
        if fused[i] {
            continue;
        }
        let node = &nodes[i];
        let err = |m: String| Error::layer(&node.name, m);
        let input_codes = |j: usize| -> Result<Codes> {
            codes[j].ok_or_else(|| err(format!("reads '{}' ({}), which is not a tensor of activation codes: a dense/conv layer must be followed by its ReLU/PACT (BatchNorm between them is fine)", nodes[j].name, nodes[j].op.kind())))
        };
        match &node.op {
            Op::Input => unreachable!("node 0 only"),
            Op::Dense { weight, bias } | Op::Conv2d { weight, bias, .. } => {
                let inp = input_codes(node.inputs[0])?;
                let mut tail = i;
                let mut bn = None;
                if let Some(n) = sole(tail) {
                    if let Op::BatchNorm(b) = &nodes[n].op {
                        bn = Some(b);
                        fused[n] = true;
                        tail = n;
                    }
                }
                let mut act = None;
                if let Some(n) = sole(tail) {
                    if let Some(alpha) = act_of(n) {
                        act = Some((n, alpha));
                        fused[n] = true;
                        tail = n;
                    }
                }
                let out_ch = weight.shape[0];
                let fan_in = weight.numel() / out_ch;
                let wbits = if i == first || i == last { cfg.first_last_bits } else { cfg.wbits };
                let (mut index, s_w) = match cfg.quantizer {
                    WeightQuantizer::Dorefa => contract::dorefa_weights(&weight.data, wbits),
                    WeightQuantizer::MaxAbs => contract::maxabs_weights(&weight.data, wbits),
                };
                let s = inp.scale * s_w;
                let float_bias: Vec<f64> = (0..out_ch).map(|c| bias.as_ref().map_or(0.0, |b| b[c] as f64)).collect();
                let (bn_g, bn_h): (Vec<f64>, Vec<f64>) = match bn {
                    Some(b) => b.affine().into_iter().unzip(),
                    None => (vec![1.0; out_ch], vec![0.0; out_ch]),
                };
                let mut flip = vec![false; out_ch];
                let mut bias_int = Vec::with_capacity(out_ch);
                let mut max_bias_error: f64 = 0.0;
                let output;
                let (out_bits, out_scale);
                match act {
                    None if i != last => return Err(err("is not followed by a ReLU/PACT activation; only the last layer may end without one".into())),
                    None => {
                        if bn.is_some() {
                            return Err(err("BatchNorm after the last layer is not supported (its per-channel scale would change the argmax)".into()));
                        }
                        for fb in &float_bias {
                            let b = fb / s;
                            let bi = to_acc_int(round_half_up(b)).map_err(&err)?;
                            max_bias_error = max_bias_error.max((bi as f64 - b).abs());
                            bias_int.push(bi);
                        }
                        output = Output::Logits;
                        out_bits = 0; // set below to the accumulator width
                        out_scale = s;
                    }
                    Some((a_node, alpha)) => {
                        let bits = if feeds_last[a_node] { cfg.first_last_bits } else { cfg.abits };
                        let mut requant = ChannelRequant { m0: Vec::new(), shift: Vec::new() };
                        let mut m_real = Vec::new();
                        let mut max_rel_error: f64 = 0.0;
                        for c in 0..out_ch {
                            let g = bn_g[c];
                            if g == 0.0 || !g.is_finite() {
                                return Err(err(format!("channel {c}: BatchNorm scale γ/σ is {g}, the channel would be constant; not supported")));
                            }
                            if g < 0.0 {
                                flip[c] = true;
                                for x in &mut index[c * fan_in..(c + 1) * fan_in] {
                                    *x = contract::negate_weight_index(*x as u32, wbits) as u8;
                                }
                            }
                            let b = g.signum() * (float_bias[c] + bn_h[c] / g) / s;
                            let bi = to_acc_int(round_half_up(b)).map_err(&err)?;
                            bias_int.push(bi);
                            let m = g.abs() * s * code_max(bits) as f64 / alpha;
                            max_bias_error = max_bias_error.max((bi as f64 - b).abs() * m);
                            let fm = FixedMultiplier::from_real(m, cfg.m0_bits).map_err(|e| err(format!("channel {c}: {e}")))?;
                            max_rel_error = max_rel_error.max(fm.rel_error());
                            requant.m0.push(fm.m0);
                            requant.shift.push(fm.shift as u8);
                            m_real.push(m);
                        }
                        output = Output::Codes { bits, alpha, requant, m_real, max_rel_error };
                        out_bits = bits;
                        out_scale = alpha / code_max(bits) as f64;
                    }
                }
                let weights = Weights { bits: wbits, out: out_ch, fan_in, index, scale: s_w, quantizer: cfg.quantizer.name().into() };
                let rows: Vec<Vec<i32>> = (0..out_ch).map(|o| weights.row(o)).collect();
                let acc_bits = contract::acc_width(code_max(inp.bits), rows.iter().map(|r| r.as_slice()).zip(bias_int.iter().copied()));
                if acc_bits > MAX_ACC_BITS {
                    return Err(err(format!("needs a {acc_bits}-bit accumulator, more than the {MAX_ACC_BITS} bits supported")));
                }
                let conv = match &node.op {
                    Op::Conv2d { stride, pad, .. } => Some(ConvGeom { kernel: [weight.shape[2], weight.shape[3]], stride: *stride, pad: *pad }),
                    _ => None,
                };
                let cp = Compute { weights, conv, bias: bias_int, max_bias_error, acc_bits, in_bits: inp.bits, in_scale: inp.scale, output, float_bias, bn_g, bn_h, flip };
                let op = if conv.is_some() { QOp::Conv2d(cp) } else { QOp::Dense(cp) };
                let out_bits = if out_bits == 0 { acc_bits } else { out_bits };
                layers.push(QLayer { name: node.name.clone(), inputs: vec![inp.layer], out_shape: shapes[i].clone(), out_bits, out_scale, op });
                codes[tail] = Some(Codes { layer: layers.len(), bits: out_bits, scale: out_scale });
            }
            Op::BatchNorm(_) => return Err(err("BatchNorm must directly follow a dense or conv layer (it is folded into its requantization)".into())),
            Op::Relu | Op::Pact { .. } => {
                return Err(err(format!("activation reads '{}' ({}); it must follow a dense/conv layer (optionally through BatchNorm) or an add", nodes[node.inputs[0]].name, nodes[node.inputs[0]].op.kind())))
            }
            Op::MaxPool { kernel, stride, pad } => {
                let inp = input_codes(node.inputs[0])?;
                layers.push(QLayer { name: node.name.clone(), inputs: vec![inp.layer], out_shape: shapes[i].clone(), out_bits: inp.bits, out_scale: inp.scale, op: QOp::MaxPool { kernel: *kernel, stride: *stride, pad: *pad } });
                codes[i] = Some(Codes { layer: layers.len(), ..inp });
            }
            Op::AvgPool { .. } | Op::GlobalAvgPool => {
                let inp = input_codes(node.inputs[0])?;
                let xs = &shapes[node.inputs[0]];
                let k = match &node.op {
                    Op::AvgPool { kernel, .. } => kernel[0] * kernel[1],
                    _ => xs[1] * xs[2],
                };
                let k32 = u32::try_from(k).map_err(|_| err("pooling window too large".into()))?;
                let max_sum = k32.checked_mul(code_max(inp.bits)).ok_or_else(|| err("pooling window too large".into()))?;
                let d = contract::exact_divider(k32, max_sum, cfg.m0_bits).map_err(|e| err(e.to_string()))?;
                let op = match &node.op {
                    Op::AvgPool { kernel, stride } => QOp::AvgPool { kernel: *kernel, stride: *stride, m0: d.m0, shift: d.shift },
                    _ => QOp::GlobalAvgPool { m0: d.m0, shift: d.shift },
                };
                layers.push(QLayer { name: node.name.clone(), inputs: vec![inp.layer], out_shape: shapes[i].clone(), out_bits: inp.bits, out_scale: inp.scale, op });
                codes[i] = Some(Codes { layer: layers.len(), ..inp });
            }
            Op::Flatten => {
                let inp = input_codes(node.inputs[0])?;
                layers.push(QLayer { name: node.name.clone(), inputs: vec![inp.layer], out_shape: shapes[i].clone(), out_bits: inp.bits, out_scale: inp.scale, op: QOp::Flatten });
                codes[i] = Some(Codes { layer: layers.len(), ..inp });
            }
            Op::Add => {
                let a = input_codes(node.inputs[0])?;
                let b = input_codes(node.inputs[1])?;
                let Some((act, alpha)) = sole(i).and_then(|n| act_of(n).map(|al| (n, al))) else {
                    return Err(err("a residual add must be followed by a ReLU/PACT activation".into()));
                };
                fused[act] = true;
                let bits = if feeds_last[act] { cfg.first_last_bits } else { cfg.abits };
                let ma = a.scale * code_max(bits) as f64 / alpha;
                let mb = b.scale * code_max(bits) as f64 / alpha;
                let big = FixedMultiplier::from_real(ma.max(mb), cfg.m0_bits).map_err(|e| err(e.to_string()))?;
                let scale = 2f64.powi(big.shift as i32);
                let m0 = [round_half_up(ma * scale) as u32, round_half_up(mb * scale) as u32];
                layers.push(QLayer {
                    name: node.name.clone(),
                    inputs: vec![a.layer, b.layer],
                    out_shape: shapes[i].clone(),
                    out_bits: bits,
                    out_scale: alpha / code_max(bits) as f64,
                    op: QOp::Add { m0, shift: big.shift, bits, alpha, m_real: [ma, mb] },
                });
                codes[act] = Some(Codes { layer: layers.len(), bits, scale: alpha / code_max(bits) as f64 });
            }
        }
    }
    let [c, h, w] = model.input.shape;
    let q = QModel {
        format: qmodel::FORMAT.into(),
        version: qmodel::VERSION,
        input: QInput {
            shape: [c, h, w],
            bits: 8,
            scale: in_scale,
        },
        layers,
        provenance: Provenance {
            source: source.into(),
            wbits: cfg.wbits,
            abits: cfg.abits,
            first_last_bits: cfg.first_last_bits,
            m0_bits: cfg.m0_bits,
            weight_quantizer: cfg.quantizer.name().into(),
            notes,
        },
    };
    q.validate()?;
    Ok(q)
}

fn to_acc_int(v: f64) -> std::result::Result<i64, String> {
    if v.is_finite() && v.abs() < (1u64 << 31) as f64 {
        Ok(v as i64)
    } else {
        Err(format!(
            "integer bias {v:e} does not fit a 32-bit accumulator (bias too large for the input and weight scales)"
        ))
    }
}

/// α for every ReLU node (None elsewhere), by the percentile rule over `calib` images.
fn calibrate(model: &FloatModel, calib: Option<&[u8]>) -> Result<Vec<Option<f64>>> {
    let relus: Vec<usize> = (0..model.nodes.len())
        .filter(|&i| matches!(model.nodes[i].op, Op::Relu))
        .collect();
    let mut out = vec![None; model.nodes.len()];
    if relus.is_empty() {
        return Ok(out);
    }
    let images = calib.ok_or_else(|| {
        Error::layer(
            &model.nodes[relus[0]].name,
            "ReLU has no learned alpha: pass calibration data (--calib DATA) so pact can calibrate one",
        )
    })?;
    let px: usize = model.input.shape.iter().product();
    if images.is_empty() || images.len() % px != 0 {
        return Err(Error::config(
            "calibration data is empty or does not match the model input size",
        ));
    }
    let traces: Vec<Vec<Vec<f32>>> = images
        .par_chunks(px)
        .map(|img| float_relu_outputs(model, img, &relus))
        .collect::<Result<_>>()?;
    for (k, &r) in relus.iter().enumerate() {
        let mut v: Vec<f32> = traces.iter().flat_map(|t| t[k].iter().copied()).collect();
        v.sort_unstable_by(f32::total_cmp);
        let pos = ((CALIB_PERCENTILE / 100.0) * (v.len() - 1) as f64).round() as usize;
        let a = v[pos.min(v.len() - 1)] as f64;
        out[r] = Some(if a > 0.0 { a } else { 1.0 });
    }
    Ok(out)
}

fn float_relu_outputs(model: &FloatModel, img: &[u8], relus: &[usize]) -> Result<Vec<Vec<f32>>> {
    let mut t = crate::forward::float_trace(model, img)?;
    Ok(relus.iter().map(|&r| std::mem::take(&mut t[r])).collect())
}
