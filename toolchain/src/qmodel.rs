//! The quantized integer model and its file format.
//!
//! A `.pqm` file is a [safetensors](https://huggingface.co/docs/safetensors) file: its tensors hold the integer
//! arrays (weight indices `U8`, biases `I64`, `M0` `U32`, shifts `U8`) and its `__metadata__` entry
//! `pact.qmodel` holds the JSON manifest (the [`QModel`] without its arrays): format name and version, the input, and per layer its
//! kind, shapes, bit widths, accumulator width, α and the real scales the constants came from. Any safetensors
//! reader can open it; `pact inspect FILE` prints it as a table. The format is versioned: readers refuse a
//! different major version with a clear message.

use crate::contract::{self, code_max, WeightEncoding, MAX_ACC_BITS, MAX_SHIFT};
use crate::error::{Error, Result};
use crate::float::window_out;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The `format` string of every quantized model manifest.
pub const FORMAT: &str = "pact-qmodel";
/// The manifest version this build reads and writes.
pub const VERSION: u32 = 1;
/// The safetensors metadata key holding the manifest.
pub const METADATA_KEY: &str = "pact.qmodel";
/// Largest model input (C·H·W values) a `.pqm` may declare.
pub const MAX_INPUT_VALUES: usize = 1 << 31;
/// Largest `.pqm` file read (2 GiB).
pub const MAX_PQM_BYTES: u64 = 1 << 31;

/// Requantization constants of one output channel: `code = clamp((acc·m0 + 2^(shift−1)) >> shift, 0, max)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelRequant {
    pub m0: Vec<u32>,
    pub shift: Vec<u8>,
}

/// Weights of a dense or conv layer: `out` rows of `fan_in` codes (`bits` bits each, decoded by
/// [`contract::decode_weight_as`] under `encoding`); conv rows are in `[in_c][kh][kw]` order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub bits: u32,
    pub out: usize,
    pub fan_in: usize,
    /// `out × fan_in` indices (in the file: a `U8` tensor `<layer>.weight`).
    #[serde(skip)]
    pub index: Vec<u8>,
    /// Real value of one integer weight step `s_w` (before the per-channel sign, see `Compute::flip`).
    pub scale: f64,
    /// `dorefa`, `maxabs` or `imported`: how the codes were derived from the source's weights.
    pub quantizer: String,
    /// How the codes decode to signed integers; absent in the file means odd (DoReFa) codes.
    #[serde(default, skip_serializing_if = "WeightEncoding::is_odd")]
    pub encoding: WeightEncoding,
    /// Real value of one integer weight step per output channel, when it differs per channel (weights imported
    /// with per-channel scales; `scale` is then their maximum). Used by the fake-quant evaluation only: the
    /// integer path has these folded into the per-channel `M0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_scales: Option<Vec<f64>>,
}

impl Weights {
    /// Decoded signed weights of output row `o` (`fan_in` values).
    pub fn row(&self, o: usize) -> Vec<i32> {
        self.index[o * self.fan_in..(o + 1) * self.fan_in]
            .iter()
            .map(|&i| self.decode(i))
            .collect()
    }
    /// The signed integer of one stored code ([`contract::decode_weight_as`]).
    pub fn decode(&self, code: u8) -> i32 {
        contract::decode_weight_as(code as u32, self.bits, self.encoding)
    }
    /// Real value of one integer step of output channel `o`.
    pub fn channel_scale(&self, o: usize) -> f64 {
        self.channel_scales.as_ref().map_or(self.scale, |s| s[o])
    }
}

/// What a compute layer outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// Activation codes of `bits` bits after a PACT clip at `alpha`: per-channel requantization.
    Codes {
        bits: u32,
        alpha: f64,
        #[serde(skip)]
        requant: ChannelRequant,
        /// Real multipliers `M` the constants approximate, per channel.
        m_real: Vec<f64>,
        /// Largest relative error `|M0/2^n − M|/M` over the channels.
        max_rel_error: f64,
    },
    /// Raw accumulators (the last layer's logits), followed by an argmax.
    Logits,
}

/// A dense or conv layer with its requantization (BatchNorm folded into the per-channel constants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compute {
    pub weights: Weights,
    /// Conv geometry, `None` for dense layers.
    pub conv: Option<ConvGeom>,
    /// Bias in accumulator units per channel (in the file: `I64` tensor `<layer>.bias`).
    #[serde(skip)]
    pub bias: Vec<i64>,
    /// Largest error of the integer bias, `|b_int − b_exact|` (≤ 1/2 accumulator unit), expressed in output codes
    /// (`× M`) for layers that output codes and in accumulator units for logits.
    #[serde(default)]
    pub max_bias_error: f64,
    /// Exact signed accumulator width for this layer's worst case.
    pub acc_bits: u32,
    /// Bits of the input codes and the real scale of one input code step.
    pub in_bits: u32,
    pub in_scale: f64,
    pub output: Output,
    /// Float parameters kept for the fake-quant evaluation and reporting: float bias per channel (0 if none),
    /// BatchNorm affine `g`, `h` per channel (1, 0 without BatchNorm).
    pub float_bias: Vec<f64>,
    pub bn_g: Vec<f64>,
    pub bn_h: Vec<f64>,
    /// Channels whose weight indices were negated so that `M ≥ 0` (BatchNorm with γ < 0).
    pub flip: Vec<bool>,
    /// Last layer only, when the real value of one accumulator unit differs per output channel (weights imported
    /// with per-channel scales): the logits are [`contract::scale_logit`] of the accumulators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_scale: Option<LogitScale>,
}

/// Per-channel logit scaling of the last layer: logit `= (acc·m0[o] + 2^(shift−1)) >> shift` (arithmetic shift,
/// round half up, no clamp), the argmax taken over these. `m0[o]` unsigned, proportional to the channel's real
/// accumulator step; `shift` ∈ 1..=[`MAX_SHIFT`]; every logit fits an `i32` (checked by [`QModel::validate`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogitScale {
    pub m0: Vec<u32>,
    pub shift: u32,
}

/// Conv geometry: kernel, stride, zero padding `[top, left, bottom, right]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvGeom {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 4],
}

/// One operation of the quantized model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QOp {
    Dense(Compute),
    Conv2d(Compute),
    /// Max over windows of codes (zero padding never wins: codes are ≥ 0).
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 4],
    },
    /// Window sum divided exactly (round half up) by the window size: `(sum·m0 + 2^(shift−1)) >> shift`.
    AvgPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        m0: u32,
        shift: u32,
    },
    /// Mean over H×W per channel, same exact division.
    GlobalAvgPool {
        m0: u32,
        shift: u32,
    },
    Flatten,
    /// Residual add then PACT: `clamp((a·m0[0] + b·m0[1] + 2^(shift−1)) >> shift, 0, 2^bits − 1)`.
    Add {
        m0: [u32; 2],
        shift: u32,
        bits: u32,
        alpha: f64,
        m_real: [f64; 2],
    },
}

impl QOp {
    /// Short name.
    pub fn kind(&self) -> &'static str {
        match self {
            QOp::Dense(_) => "dense",
            QOp::Conv2d(_) => "conv2d",
            QOp::MaxPool { .. } => "maxpool",
            QOp::AvgPool { .. } => "avgpool",
            QOp::GlobalAvgPool { .. } => "global_avgpool",
            QOp::Flatten => "flatten",
            QOp::Add { .. } => "add",
        }
    }
    /// The compute part of a dense/conv layer.
    pub fn compute(&self) -> Option<&Compute> {
        match self {
            QOp::Dense(c) | QOp::Conv2d(c) => Some(c),
            _ => None,
        }
    }
}

/// One layer: its op, its inputs (0 = the model input, `i + 1` = layer `i`), the shape and format of its output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLayer {
    pub name: String,
    pub inputs: Vec<usize>,
    pub out_shape: Vec<usize>,
    /// Bits of the output codes (the accumulator width for logits).
    pub out_bits: u32,
    /// Real value of one output code step (of one accumulator unit for logits).
    pub out_scale: f64,
    #[serde(flatten)]
    pub op: QOp,
}

/// The model input: `shape` = C×H×W of 8-bit pixel codes, real value `code × scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QInput {
    pub shape: [usize; 3],
    pub bits: u32,
    pub scale: f64,
}

/// How the model was made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: String,
    pub wbits: u32,
    pub abits: u32,
    pub first_last_bits: u32,
    pub m0_bits: u32,
    pub weight_quantizer: String,
    /// Human-readable notes, e.g. calibrated α values.
    pub notes: Vec<String>,
}

/// The quantized integer model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QModel {
    pub format: String,
    pub version: u32,
    pub input: QInput,
    pub layers: Vec<QLayer>,
    pub provenance: Provenance,
}

impl QModel {
    /// Number of classes (outputs of the last layer).
    pub fn classes(&self) -> usize {
        self.layers.last().map(|l| l.out_shape.iter().product()).unwrap_or(0)
    }

    /// Check every invariant the golden model and the RTL generator rely on: shapes chain, widths in range,
    /// array lengths, indices within `2^bits`, shifts in range, the accumulator width equal to the exact bound,
    /// the last layer producing logits. Errors name the layer.
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(Error::config(format!(
                "format is '{}', expected '{FORMAT}'",
                self.format
            )));
        }
        if self.version != VERSION {
            return Err(Error::config(format!(
                "manifest version {} is not supported by this pact (reads version {VERSION})",
                self.version
            )));
        }
        let [c, h, w] = self.input.shape;
        if c == 0
            || h == 0
            || w == 0
            || self.input.bits != 8
            || !(self.input.scale > 0.0 && self.input.scale.is_finite())
            || crate::float::checked_numel(&self.input.shape).is_none_or(|n| n > MAX_INPUT_VALUES)
        {
            return Err(Error::config(format!(
                "input {:?} is invalid (8-bit codes, nonzero shape of at most {MAX_INPUT_VALUES} values, scale > 0)",
                self.input
            )));
        }
        if self.layers.is_empty() {
            return Err(Error::config("the model has no layers"));
        }
        let mut shapes: Vec<Vec<usize>> = vec![vec![c, h, w]];
        let mut bits: Vec<u32> = vec![8];
        for (li, l) in self.layers.iter().enumerate() {
            let err = |m: String| Error::layer(&l.name, m);
            let arity = if matches!(l.op, QOp::Add { .. }) { 2 } else { 1 };
            if l.inputs.len() != arity || l.inputs.iter().any(|&i| i > li) {
                return Err(err(format!(
                    "inputs {:?} are invalid (needs {arity}, each before this layer)",
                    l.inputs
                )));
            }
            let ins: Vec<&Vec<usize>> = l.inputs.iter().map(|&i| &shapes[i]).collect();
            let in_bits = bits[l.inputs[0]];
            let last = li + 1 == self.layers.len();
            let (shape, obits) = match &l.op {
                QOp::Dense(cp) | QOp::Conv2d(cp) => {
                    let wt = &cp.weights;
                    contract::check_weight_bits("weight bits", wt.bits).map_err(|e| err(e.to_string()))?;
                    if !wt.encoding.bits_range().contains(&wt.bits) {
                        return Err(err(format!(
                            "{:?} weights of {} bits: this encoding takes {:?} bits",
                            wt.encoding,
                            wt.bits,
                            wt.encoding.bits_range()
                        )));
                    }
                    if let Some(cs) = &wt.channel_scales {
                        if cs.len() != wt.out || cs.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                            return Err(err(format!(
                                "channel_scales must hold {} finite values > 0, it has {}",
                                wt.out,
                                cs.len()
                            )));
                        }
                    }
                    if cp.in_bits != in_bits {
                        return Err(err(format!(
                            "expects {}-bit input codes, its input has {in_bits}",
                            cp.in_bits
                        )));
                    }
                    let n = wt
                        .out
                        .checked_mul(wt.fan_in)
                        .ok_or_else(|| err("weight shape overflows".into()))?;
                    if wt.index.len() != n {
                        return Err(err(format!(
                            "has {} weight indices, expected {}×{}",
                            wt.index.len(),
                            wt.out,
                            wt.fan_in
                        )));
                    }
                    if let Some(p) = wt.index.iter().position(|&i| i as u32 > code_max(wt.bits)) {
                        return Err(err(format!(
                            "weight index {} at {p} does not fit {} bits",
                            wt.index[p], wt.bits
                        )));
                    }
                    for (name, len) in [
                        ("bias", cp.bias.len()),
                        ("float_bias", cp.float_bias.len()),
                        ("bn_g", cp.bn_g.len()),
                        ("bn_h", cp.bn_h.len()),
                        ("flip", cp.flip.len()),
                    ] {
                        if len != wt.out {
                            return Err(err(format!("{name} has {len} values, expected {}", wt.out)));
                        }
                    }
                    let shape = match (&l.op, cp.conv) {
                        (QOp::Dense(_), None) => {
                            if ins[0].len() != 1 || ins[0][0] != wt.fan_in {
                                return Err(err(format!("input {:?} does not give {} features", ins[0], wt.fan_in)));
                            }
                            vec![wt.out]
                        }
                        (QOp::Conv2d(_), Some(g)) => {
                            let s = ins[0];
                            let fan_in = |s: &[usize]| s[0].checked_mul(g.kernel[0])?.checked_mul(g.kernel[1]);
                            if s.len() != 3 || fan_in(s) != Some(wt.fan_in) {
                                return Err(err(format!(
                                    "input {s:?} does not match kernel {:?} and fan-in {}",
                                    g.kernel, wt.fan_in
                                )));
                            }
                            let oh = window_out(s[1], g.kernel[0], g.stride[0], g.pad[0], g.pad[2]);
                            let ow = window_out(s[2], g.kernel[1], g.stride[1], g.pad[1], g.pad[3]);
                            match (oh, ow) {
                                (Some(oh), Some(ow)) => vec![wt.out, oh, ow],
                                _ => return Err(err("conv window does not fit its input".into())),
                            }
                        }
                        _ => return Err(err("conv geometry present on a dense layer or missing on a conv".into())),
                    };
                    let rows: Vec<Vec<i32>> = (0..wt.out).map(|o| wt.row(o)).collect();
                    let need = contract::acc_width(
                        code_max(in_bits),
                        rows.iter().map(|r| r.as_slice()).zip(cp.bias.iter().copied()),
                    );
                    if need > MAX_ACC_BITS {
                        return Err(err(format!(
                            "needs a {need}-bit accumulator, more than the {MAX_ACC_BITS} bits supported"
                        )));
                    }
                    if cp.acc_bits != need {
                        return Err(err(format!(
                            "declares a {}-bit accumulator, the exact bound needs {need}",
                            cp.acc_bits
                        )));
                    }
                    match &cp.output {
                        Output::Codes {
                            bits, requant, alpha, ..
                        } => {
                            contract::check_act_bits("output bits", *bits).map_err(|e| err(e.to_string()))?;
                            check_alpha(*alpha).map_err(err)?;
                            if requant.m0.len() != wt.out || requant.shift.len() != wt.out {
                                return Err(err("requantization constants do not match the channel count".into()));
                            }
                            check_shifts(&requant.shift).map_err(err)?;
                            if cp.logit_scale.is_some() {
                                return Err(err("a logit scale on a layer that outputs codes".into()));
                            }
                            if last {
                                return Err(err("the last layer must output logits".into()));
                            }
                            (shape, *bits)
                        }
                        Output::Logits => {
                            if !last {
                                return Err(err("only the last layer may output logits".into()));
                            }
                            if let Some(ls) = &cp.logit_scale {
                                check_logit_scale(ls, &rows, &cp.bias, code_max(in_bits)).map_err(err)?;
                            }
                            (shape, cp.acc_bits)
                        }
                    }
                }
                QOp::MaxPool { kernel, stride, pad } => (
                    pool(ins[0], *kernel, *stride, *pad).ok_or_else(|| err("pool window does not fit".into()))?,
                    in_bits,
                ),
                QOp::AvgPool {
                    kernel, stride, shift, ..
                } => {
                    check_shift(*shift).map_err(err)?;
                    (
                        pool(ins[0], *kernel, *stride, [0; 4]).ok_or_else(|| err("pool window does not fit".into()))?,
                        in_bits,
                    )
                }
                QOp::GlobalAvgPool { shift, .. } => {
                    check_shift(*shift).map_err(err)?;
                    if ins[0].len() != 3 {
                        return Err(err("global average pool needs a C×H×W input".into()));
                    }
                    (vec![ins[0][0]], in_bits)
                }
                QOp::Flatten => (vec![ins[0].iter().product()], in_bits),
                QOp::Add {
                    shift, bits: b, alpha, ..
                } => {
                    check_shift(*shift).map_err(err)?;
                    check_alpha(*alpha).map_err(err)?;
                    contract::check_act_bits("output bits", *b).map_err(|e| err(e.to_string()))?;
                    if ins[0] != ins[1] {
                        return Err(err(format!("adds shapes {:?} and {:?}", ins[0], ins[1])));
                    }
                    (ins[0].clone(), *b)
                }
            };
            if l.out_shape != shape {
                return Err(err(format!(
                    "declares output shape {:?}, computed {:?}",
                    l.out_shape, shape
                )));
            }
            if l.out_bits != obits {
                return Err(err(format!("declares {} output bits, computed {obits}", l.out_bits)));
            }
            if last && !matches!(l.op.compute().map(|c| &c.output), Some(Output::Logits)) {
                return Err(err(
                    "the last layer must be a dense or conv layer producing logits".into()
                ));
            }
            shapes.push(shape);
            bits.push(obits);
        }
        Ok(())
    }

    /// Serialize to the `.pqm` bytes (safetensors with the manifest in its metadata).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let manifest = serde_json::to_string(self).map_err(|e| Error::config(format!("manifest: {e}")))?;
        let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for l in &self.layers {
            if let Some(cp) = l.op.compute() {
                tensors.push((
                    format!("{}.weight", l.name),
                    safetensors::Dtype::U8,
                    vec![cp.weights.out, cp.weights.fan_in],
                    cp.weights.index.clone(),
                ));
                tensors.push((
                    format!("{}.bias", l.name),
                    safetensors::Dtype::I64,
                    vec![cp.bias.len()],
                    cp.bias.iter().flat_map(|b| b.to_le_bytes()).collect(),
                ));
                if let Output::Codes { requant, .. } = &cp.output {
                    tensors.push((
                        format!("{}.m0", l.name),
                        safetensors::Dtype::U32,
                        vec![requant.m0.len()],
                        requant.m0.iter().flat_map(|b| b.to_le_bytes()).collect(),
                    ));
                    tensors.push((
                        format!("{}.shift", l.name),
                        safetensors::Dtype::U8,
                        vec![requant.shift.len()],
                        requant.shift.clone(),
                    ));
                }
            }
        }
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::config(format!("tensor: {e}")))?;
        let meta: HashMap<String, String> = [(METADATA_KEY.to_string(), manifest)].into();
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::config(format!("safetensors: {e}")))
    }

    /// Write the model to `path` atomically after validating it.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()?;
        crate::fsutil::write_atomic(path, &self.to_bytes()?)
    }

    /// Parse `.pqm` bytes; `path` is only used in error messages. The result is validated.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        crate::fsutil::reject_lfs_pointer(path, bytes)?;
        // Header length and cap, duplicate names, offsets, overflow: checked with messages naming the tensor.
        let (_, meta) = crate::import::statedict::check_safetensors(path, bytes)?;
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| Error::file(path, format!("is not a valid safetensors file: {e}")))?;
        let manifest = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| {
                Error::file(
                    path,
                    format!("has no '{METADATA_KEY}' manifest: not a pact quantized model"),
                )
            })?;
        let head: serde_json::Value =
            serde_json::from_str(manifest).map_err(|e| Error::file(path, format!("manifest is not JSON: {e}")))?;
        if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(Error::file(path, format!("manifest format is not '{FORMAT}'")));
        }
        if let Some(v) = head.get("version").and_then(|v| v.as_u64()) {
            if v != VERSION as u64 {
                return Err(Error::file(
                    path,
                    format!("manifest version {v} is not supported (this pact reads version {VERSION})"),
                ));
            }
        }
        let mut q: QModel = serde_json::from_value(head).map_err(|e| Error::file(path, format!("manifest: {e}")))?;
        let get = |name: &str, dtype: safetensors::Dtype, len: usize| -> Result<Vec<u8>> {
            let t = st
                .tensor(name)
                .map_err(|_| Error::file(path, format!("tensor '{name}' is missing")))?;
            if t.dtype() != dtype {
                return Err(Error::file(
                    path,
                    format!("tensor '{name}' is {:?}, expected {dtype:?}", t.dtype()),
                ));
            }
            let elems: usize = t.shape().iter().product();
            if elems != len {
                return Err(Error::file(
                    path,
                    format!("tensor '{name}' has shape {:?}, expected {len} elements", t.shape()),
                ));
            }
            Ok(t.data().to_vec())
        };
        for l in &mut q.layers {
            let name = l.name.clone();
            if let QOp::Dense(cp) | QOp::Conv2d(cp) = &mut l.op {
                let n = cp
                    .weights
                    .out
                    .checked_mul(cp.weights.fan_in)
                    .ok_or_else(|| Error::file(path, format!("layer '{name}': weight shape overflows")))?;
                cp.weights.index = get(&format!("{name}.weight"), safetensors::Dtype::U8, n)?;
                cp.bias = get(&format!("{name}.bias"), safetensors::Dtype::I64, cp.weights.out)?
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                    .collect();
                if let Output::Codes { requant, .. } = &mut cp.output {
                    requant.m0 = get(&format!("{name}.m0"), safetensors::Dtype::U32, cp.weights.out)?
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().expect("4-byte chunk")))
                        .collect();
                    requant.shift = get(&format!("{name}.shift"), safetensors::Dtype::U8, cp.weights.out)?;
                }
            }
        }
        q.validate().map_err(|e| e.in_file(path))?;
        Ok(q)
    }

    /// Read and validate a `.pqm` file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::fsutil::read_capped(path, MAX_PQM_BYTES, "a quantized model")?;
        Self::from_bytes(path, &bytes)
    }
}

/// A logit scale: one `m0` per channel, the shift in range, and every scaled logit within `i32`.
fn check_logit_scale(
    ls: &LogitScale,
    rows: &[Vec<i32>],
    bias: &[i64],
    max_code: u32,
) -> std::result::Result<(), String> {
    if ls.m0.len() != rows.len() {
        return Err(format!(
            "logit scale has {} multipliers, expected {}",
            ls.m0.len(),
            rows.len()
        ));
    }
    check_shift(ls.shift)?;
    for (o, (r, &b)) in rows.iter().zip(bias).enumerate() {
        let (lo, hi) = contract::acc_range(max_code, r, b);
        let m = ls.m0[o] as i128;
        let half = 1i128 << (ls.shift - 1);
        let (l, h) = ((lo as i128 * m + half) >> ls.shift, (hi as i128 * m + half) >> ls.shift);
        if l < i32::MIN as i128 || h > i32::MAX as i128 {
            return Err(format!(
                "channel {o}: scaled logits reach [{l}, {h}], outside the 32-bit range"
            ));
        }
    }
    Ok(())
}

fn check_alpha(alpha: f64) -> std::result::Result<(), String> {
    if alpha.is_finite() && alpha > 0.0 {
        Ok(())
    } else {
        Err(format!("PACT α = {alpha} must be finite and > 0"))
    }
}

fn check_shift(shift: u32) -> std::result::Result<(), String> {
    if shift == 0 || shift > MAX_SHIFT {
        return Err(format!("requantization shift {shift} is out of range 1..={MAX_SHIFT}"));
    }
    Ok(())
}

fn check_shifts(shifts: &[u8]) -> std::result::Result<(), String> {
    match shifts.iter().find(|&&s| s == 0 || s as u32 > MAX_SHIFT) {
        Some(s) => Err(format!("requantization shift {s} is out of range 1..={MAX_SHIFT}")),
        None => Ok(()),
    }
}

fn pool(input: &[usize], kernel: [usize; 2], stride: [usize; 2], pad: [usize; 4]) -> Option<Vec<usize>> {
    if input.len() != 3 {
        return None;
    }
    Some(vec![
        input[0],
        window_out(input[1], kernel[0], stride[0], pad[0], pad[2])?,
        window_out(input[2], kernel[1], stride[1], pad[1], pad[3])?,
    ])
}
