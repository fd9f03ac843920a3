//! Quantized ONNX: QONNX (`Quant` nodes, as Brevitas's `export_qonnx`, FINN and hls4ml write them) and QCDQ
//! (`QuantizeLinear` → `Clip` → `DequantizeLinear`, Brevitas's `export_onnx_qcdq`, onnxruntime's format), read by
//! the ONNX importer ([`super::onnx`]) into a dequantized [`FloatModel`] plus a [`Preset`] that fixes the
//! integer weights and activation widths ([`crate::quantize::quantize_preset`] makes the integer model).
//!
//! # QONNX
//!
//! Ops `Quant` (also named `IntQuant`), `BipolarQuant` in the domains `qonnx.custom_op.general`,
//! `finn.custom_op.general` and `onnx.brevitas`. `Quant(x, scale, zeropt, bitwidth)` computes
//! `(round(clamp(x/scale + zeropt, qmin, qmax)) − zeropt)·scale` with the ranges of its `signed`/`narrow`
//! attributes; pact reads it so:
//!
//! * on the graph input: the input's scale (unsigned, 8 bits: pixel codes);
//! * on an activation (`Relu → Quant`, or an unsigned `Quant` alone, which clips at 0 too): PACT with
//!   `k = bitwidth` (1..=8) and `α = scale·(2^k − 1)`; unsigned, not narrow, one scale per tensor;
//! * on a constant (a weight initializer): the integers `clamp(round(w/scale))` (the file's `rounding_mode`),
//!   taken as they are, not re-quantized, with a scale per tensor or per output channel; signed narrow weights
//!   whose values are all odd are stored as pact's odd codes at `bitwidth − 1` bits, other weights as
//!   two's complement at `bitwidth` bits (2..=8; unsigned weights take one more bit);
//! * on a bias: dequantized (the integer times its scale, at most 32 bits); pact's integer bias comes out equal
//!   when the bias scale is `s_in·s_w`, as Brevitas's `Int32Bias`.
//!
//! `BipolarQuant` on a weight gives ±1 (1-bit odd codes). `Trunc` (v1 and v2) is refused: it is a floor shift of
//! already quantized values, which pact's integer contract (one round-half-up requantization per layer) has no
//! place for. A non-zero zero point, a bitwidth that is not one integer in range, a missing, NaN, infinite or
//! non-positive scale, or a scale whose shape is neither a scalar nor per-channel along the tensor's output axis
//! is an error naming the node.
//!
//! # QCDQ
//!
//! `QuantizeLinear → [Clip] → DequantizeLinear` on an activation is the same PACT activation: unsigned (a `UINT8`
//! zero point, 0), `k` from the `Clip` bounds `[0, 2^k − 1]` (8 without a `Clip`). Integer weight initializers
//! (`INT8`, or `INT32`) through an optional `Clip` into `DequantizeLinear` (per-axis scales along the output axis
//! included) are integer weights, the `Clip` bounds giving their width; an `INT32` bias through
//! `DequantizeLinear` is a bias. Zero points must be 0.
//!
//! # Rounding
//!
//! QONNX's `ROUND` and `QuantizeLinear` round half to even on floats; pact's requantization rounds half up in
//! integers (docs/integer-contract.md gives the measured effect). Activations accept `ROUND`, `HALF_EVEN` and
//! `HALF_UP` (the same on the non-negative values of an activation except at ties).
//!
//! # External data
//!
//! Initializers may keep their data in a file beside the model (ONNX `external_data`: `location`, `offset`,
//! `length`), as PyTorch's dynamo exporter writes `NAME.onnx.data`. The location must be a plain relative path
//! inside the model's folder: absolute paths, `..` and names that resolve (through symlinks) outside the folder
//! are refused and never opened.

use super::onnx::proto::{data_type, ModelProto, NodeProto};
use super::onnx::{dtype_name, label, Builder, Const, Data, Value};
use crate::contract::WeightEncoding;
use crate::float::{BatchNorm, FloatModel, Op};
use crate::quantize::{Preset, PresetWeights};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};
use std::rc::Rc;

type Res<T> = std::result::Result<T, String>;

/// The op domains of QONNX's custom ops (current, FINN's older name, Brevitas's).
pub const DOMAINS: [&str; 3] = ["qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas"];

/// The ops read in those domains.
pub const QONNX_OPS: &str = "Quant (IntQuant), BipolarQuant";

fn q(s: &str) -> String {
    format!("'{}'", s.escape_debug())
}

/// Integers of a quantized constant (a weight or a bias) and how they were declared.
#[derive(Clone, Debug)]
pub(super) struct IntConst {
    ints: Vec<i64>,
    dims: Vec<usize>,
    /// One scale, or one per index of `axis`.
    scales: Vec<f64>,
    axis: usize,
    /// Declared width and signedness (QONNX attributes, or the QCDQ range).
    bits: u32,
    signed: bool,
    /// The node that quantized it (named in errors).
    label: String,
}

/// What the quantizer nodes of the graph said.
#[derive(Debug, Default)]
pub(super) struct QState {
    /// `qonnx` or `qcdq` once a quantizer node was seen.
    format: Option<&'static str>,
    /// Quantized constants by the tensor name that carries them.
    consts: HashMap<String, IntConst>,
    /// Integer weights by float node index.
    weights: HashMap<usize, PresetWeights>,
    /// Width of every PACT node made from a quantizer, by float node index.
    act_bits: HashMap<usize, u32>,
    /// The input's scale once quantized.
    input_scale: Option<f64>,
}

/// The integer side of a QCDQ pair: `QuantizeLinear`'s output (or an integer constant through `Clip`), waiting
/// for the `DequantizeLinear` that ends it.
#[derive(Debug)]
pub struct Pending<'a> {
    src: PendingSrc<'a>,
    /// `QuantizeLinear`'s scale (none for an integer constant).
    scale: Option<Rc<Const>>,
    axis: i64,
    lo: i64,
    hi: i64,
    label: String,
}

#[derive(Debug)]
enum PendingSrc<'a> {
    /// A float value (an activation or a float constant) quantized by `QuantizeLinear`.
    Float(Value<'a>),
    /// An integer constant.
    Int(Rc<Const>),
}

impl Pending<'_> {
    /// The error for a pending value read by anything but `Clip`/`DequantizeLinear`.
    pub(super) fn unfinished(&self) -> String {
        format!(
            "reads the integer output of {} directly; a QuantizeLinear (and Clip) must end in a DequantizeLinear",
            q(&self.label)
        )
    }
}

/// Smallest signed width holding `[lo, hi]`.
fn signed_bits(lo: i64, hi: i64) -> u32 {
    crate::contract::signed_width(lo, hi)
}

/// Range of a QONNX `Quant`'s integers.
fn quant_range(bits: u32, signed: bool, narrow: bool) -> (i64, i64) {
    if signed {
        (-(1i64 << (bits - 1)) + narrow as i64, (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1 - narrow as i64)
    }
}

/// Round by a QONNX `rounding_mode`.
fn round_by(mode: &str, x: f64) -> Res<f64> {
    Ok(match mode {
        "ROUND" | "HALF_EVEN" => x.round_ties_even(),
        "HALF_UP" => x.round(),
        "HALF_DOWN" => {
            if (x - x.trunc()).abs() == 0.5 {
                x.trunc()
            } else {
                x.round()
            }
        }
        "CEIL" => x.ceil(),
        "FLOOR" => x.floor(),
        "UP" => {
            if x >= 0.0 {
                x.ceil()
            } else {
                x.floor()
            }
        }
        "DOWN" => x.trunc(),
        other => return Err(format!("rounding_mode {} is unknown", q(other))),
    })
}

/// Scales as f64, every one finite and > 0.
fn positive_scales(c: &Const) -> Res<Vec<f64>> {
    let v = c.to_f32();
    if v.is_empty() {
        return Err(format!("the scale {} is empty", q(&c.name)));
    }
    if let Some(p) = v.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(format!(
            "the scale {} holds {} at index {p}; scales must be finite and > 0",
            q(&c.name),
            v[p]
        ));
    }
    Ok(v.into_iter().map(|s| s as f64).collect())
}

/// All zero points 0.
fn check_zero_point(zp: Option<&Const>) -> Res<()> {
    if let Some(z) = zp {
        if let Some(p) = z.to_f32().iter().position(|&v| v != 0.0) {
            return Err(format!(
                "the zero point {} is {} at index {p}; only a zero point of 0 is supported (pact's codes are \
                 symmetric: activations start at 0, weights are signed)",
                q(&z.name),
                z.to_f32()[p]
            ));
        }
    }
    Ok(())
}

/// A QONNX scale's broadcast against a tensor of shape `dims`: one scale, or one per index of one axis.
fn broadcast_axis(scale: &Const, scales: &[f64], dims: &[usize]) -> Res<usize> {
    if scales.len() == 1 {
        return Ok(0);
    }
    let bad = || {
        format!(
            "the scale {} has shape {:?}, which is neither a scalar nor one value per channel of one axis of the \
             quantized tensor's shape {dims:?}",
            q(&scale.name),
            scale.dims
        )
    };
    if scale.dims.len() > dims.len() {
        return Err(bad());
    }
    let off = dims.len() - scale.dims.len();
    let big: Vec<usize> = (0..scale.dims.len()).filter(|&i| scale.dims[i] != 1).collect();
    match big[..] {
        [i] if scale.dims[i] == dims[off + i] => Ok(off + i),
        _ => Err(bad()),
    }
}

/// Index of element `e` of a row-major tensor of shape `dims` along `axis`.
fn index_along(e: usize, dims: &[usize], axis: usize) -> usize {
    let inner: usize = dims[axis + 1..].iter().product();
    (e / inner.max(1)) % dims[axis].max(1)
}

/// A scalar bitwidth: one integer value in `1..=max`.
fn bitwidth(c: &Const, max: u32, what: &str) -> Res<u32> {
    if c.numel() != 1 {
        return Err(format!(
            "the bitwidth {} has shape {:?}; it must be a scalar (one width per tensor)",
            q(&c.name),
            c.dims
        ));
    }
    let b = c.to_f32()[0];
    if !(b.is_finite() && b.fract() == 0.0) {
        return Err(format!("the bitwidth {} is {b}; it must be an integer", q(&c.name)));
    }
    if b < 1.0 || b > max as f32 {
        return Err(format!("bitwidth {b} is out of range: {what} take 1..={max} bits"));
    }
    Ok(b as u32)
}

impl<'a> Builder<'a> {
    fn saw(&mut self, format: &'static str) {
        self.qx.format.get_or_insert(format);
    }

    /// A node of a QONNX domain.
    pub(super) fn qonnx_node(&mut self, node: &'a NodeProto) -> Res<()> {
        self.saw("qonnx");
        match node.op_type.as_str() {
            "Quant" | "IntQuant" => self.quant(node),
            "BipolarQuant" => self.bipolar_quant(node),
            "Trunc" => Err(
                "Trunc is not supported: it floors (shifts) already quantized values, and pact's integer contract \
                 has no floor-shift (one round-half-up requantization per layer); re-export without Trunc \
                 (e.g. no QuantAvgPool2d)"
                    .into(),
            ),
            other => Err(format!(
                "op {} of domain {} is not supported (supported there: {QONNX_OPS})",
                q(other),
                q(&node.domain)
            )),
        }
    }

    /// QONNX `Quant(x, scale, zeropt, bitwidth)`.
    fn quant(&mut self, node: &'a NodeProto) -> Res<()> {
        super::onnx::check_attrs(node, &["signed", "narrow", "rounding_mode"])?;
        Self::only_first_output(node)?;
        let signed = super::onnx::attr_int(node, "signed", 1)? != 0;
        let narrow = super::onnx::attr_int(node, "narrow", 0)? != 0;
        let mode = super::onnx::attr_string(node, "rounding_mode")?.unwrap_or_else(|| "ROUND".into());
        round_by(&mode, 0.0)?;
        let x = self.input(node, 0)?.ok_or("input 0 (x) is missing")?;
        let scale = self.constant(node, 1, "scale")?;
        let scales = positive_scales(&scale)?;
        let zp = self.constant(node, 2, "zero point")?;
        check_zero_point(Some(&zp))?;
        let bw = self.constant(node, 3, "bitwidth")?;
        match x {
            Value::Act(j) => {
                let bits = bitwidth(&bw, 8, "activations")?;
                if signed {
                    return Err(
                        "signed activation quantizer (signed = 1): pact's activations are unsigned PACT \
                                codes; export Relu → Quant with signed = 0 (Brevitas QuantReLU)"
                            .into(),
                    );
                }
                if narrow {
                    return Err(
                        "narrow unsigned activations (narrow = 1) are not supported: PACT codes use all \
                                2^k levels"
                            .into(),
                    );
                }
                if !matches!(mode.as_str(), "ROUND" | "HALF_EVEN" | "HALF_UP") {
                    return Err(format!(
                        "rounding_mode {} on an activation: pact requantizes with round half up, which matches \
                         ROUND (half even) and HALF_UP except at ties, not {}",
                        q(&mode),
                        mode
                    ));
                }
                self.act_quant(node, j, bits, &scale, &scales)
            }
            Value::Pending(p) => Err(p.unfinished()),
            c => {
                let c = Self::constant_of(c)?.ok_or("internal: constant expected")?;
                let bits = bitwidth(&bw, 32, "quantized constants (weights 2..=8, biases up to 32)")?;
                let vals = c.finite_f32()?;
                let axis = broadcast_axis(&scale, &scales, &c.dims)?;
                let (lo, hi) = quant_range(bits, signed, narrow);
                let mut ints = Vec::with_capacity(vals.len());
                for (e, &v) in vals.iter().enumerate() {
                    let s = scales[if scales.len() == 1 {
                        0
                    } else {
                        index_along(e, &c.dims, axis)
                    }];
                    // QONNX computes x/scale in the tensor's precision (float32).
                    let r = ((v / s as f32) as f64).clamp(lo as f64, hi as f64);
                    ints.push(round_by(&mode, r)? as i64);
                }
                self.int_const(node, c.dims.clone(), ints, scales, axis, bits, signed)
            }
        }
    }

    /// Record a quantized constant and make its dequantized value the node's output.
    #[allow(clippy::too_many_arguments)]
    fn int_const(
        &mut self,
        node: &'a NodeProto,
        dims: Vec<usize>,
        ints: Vec<i64>,
        scales: Vec<f64>,
        axis: usize,
        bits: u32,
        signed: bool,
    ) -> Res<()> {
        let out = node.output.first().cloned().unwrap_or_default();
        let deq: Vec<f32> = ints
            .iter()
            .enumerate()
            .map(|(e, &v)| {
                (v as f64
                    * scales[if scales.len() == 1 {
                        0
                    } else {
                        index_along(e, &dims, axis)
                    }]) as f32
            })
            .collect();
        self.qx.consts.insert(
            out.clone(),
            IntConst {
                ints,
                dims: dims.clone(),
                scales,
                axis,
                bits,
                signed,
                label: label(node),
            },
        );
        let c = Const {
            name: out,
            dims,
            data: Data::F32(deq),
            dtype: data_type::FLOAT,
        };
        self.set_output(node, Value::Const(Rc::new(c)))
    }

    /// Where activation `j`'s codes come from: `Some((bits, scale))` if it is already quantized (a PACT node made
    /// from a quantizer, the quantized input, or a max pool / flatten of one), `Ok(None)` for the raw input.
    fn codes_of(&self, mut j: usize) -> Option<Option<(u32, f64)>> {
        loop {
            let n = &self.model.nodes[j];
            match &n.op {
                Op::Input => return Some(self.qx.input_scale.map(|s| (8, s))),
                Op::Pact { alpha } => {
                    let b = *self.qx.act_bits.get(&j)?;
                    return Some(Some((b, *alpha as f64 / crate::contract::code_max(b) as f64)));
                }
                Op::MaxPool { .. } | Op::Flatten => j = n.inputs[0],
                _ => return None,
            }
        }
    }

    /// An activation quantizer (QONNX `Quant`, or a QCDQ pair) of `bits` unsigned bits on activation `j`.
    fn act_quant(&mut self, node: &'a NodeProto, j: usize, bits: u32, scale: &Const, scales: &[f64]) -> Res<()> {
        if scales.len() != 1 {
            return Err(format!(
                "the scale {} has {} values; activations take one scale per tensor (PACT has one α per layer)",
                q(&scale.name),
                scales.len()
            ));
        }
        let s = scales[0];
        let out = match self.codes_of(j) {
            // The raw graph input: its quantizer gives the pixel codes.
            Some(None) => {
                if bits != 8 {
                    return Err(format!(
                        "the input quantizer has {bits} bits; pact's input is 8-bit unsigned pixel codes"
                    ));
                }
                self.qx.input_scale = Some(s);
                self.model.input.scale = s as f32;
                j
            }
            // Already codes: accepted when it changes nothing.
            Some(Some((b, s0))) => {
                if b != bits || ((s - s0) / s0).abs() > 1e-6 {
                    return Err(format!(
                        "re-quantizes codes of {b} bits, scale {s0:e} to {bits} bits, scale {s:e}; only a \
                         quantizer that changes nothing may follow another"
                    ));
                }
                j
            }
            None => {
                let alpha = (s * crate::contract::code_max(bits) as f64) as f32;
                if !(alpha.is_finite() && alpha > 0.0) {
                    return Err(format!(
                        "scale {s:e} gives PACT α = {alpha}, which must be finite and > 0"
                    ));
                }
                let k = if matches!(self.model.nodes[j].op, Op::Relu) {
                    // Relu → Quant(unsigned) is PACT's clip(x, 0, α).
                    self.model.nodes[j].op = Op::Pact { alpha };
                    j
                } else {
                    // An unsigned quantizer clips at 0 by itself.
                    self.push(label(node), Op::Pact { alpha }, vec![j])
                };
                self.qx.act_bits.insert(k, bits);
                k
            }
        };
        self.set_output(node, Value::Act(out))
    }

    /// QONNX `BipolarQuant(x, scale)`: ±scale; on a weight, 1-bit (±1) codes.
    fn bipolar_quant(&mut self, node: &'a NodeProto) -> Res<()> {
        super::onnx::check_attrs(node, &[])?;
        Self::only_first_output(node)?;
        let x = self.input(node, 0)?.ok_or("input 0 (x) is missing")?;
        let scale = self.constant(node, 1, "scale")?;
        let scales = positive_scales(&scale)?;
        let Some(c) = Self::constant_of(x)? else {
            return Err(
                "BipolarQuant on an activation is not supported: pact's activations are unsigned PACT \
                        codes (BipolarQuant is supported on weights)"
                    .into(),
            );
        };
        let vals = c.finite_f32()?;
        let axis = broadcast_axis(&scale, &scales, &c.dims)?;
        let ints = vals.iter().map(|&v| if v >= 0.0 { 1 } else { -1 }).collect();
        self.int_const(node, c.dims.clone(), ints, scales, axis, 2, true)
    }

    /// QCDQ `QuantizeLinear(x, y_scale, y_zero_point)`.
    pub(super) fn quantize_linear(&mut self, node: &'a NodeProto) -> Res<()> {
        self.saw("qcdq");
        super::onnx::check_attrs(node, &["axis", "saturate"])?;
        Self::only_first_output(node)?;
        let x = self.input(node, 0)?.ok_or("input 0 (x) is missing")?;
        let scale = self.constant(node, 1, "scale")?;
        positive_scales(&scale)?;
        let zp = self.opt_const(node, 2, "zero point")?;
        check_zero_point(zp.as_deref())?;
        let (lo, hi) = match zp.as_ref().map_or(data_type::UINT8, |z| z.dtype) {
            data_type::UINT8 => (0, 255),
            data_type::INT8 => (-128, 127),
            t => {
                return Err(format!(
                    "the zero point has type {}; QuantizeLinear outputs INT8 or UINT8 here",
                    dtype_name(t)
                ))
            }
        };
        if matches!(x, Value::Pending(_)) {
            return Err("QuantizeLinear of an already quantized integer tensor".into());
        }
        let p = Pending {
            src: PendingSrc::Float(x),
            scale: Some(scale),
            axis: super::onnx::attr_int(node, "axis", 1)?,
            lo,
            hi,
            label: label(node),
        };
        self.set_output(node, Value::Pending(Rc::new(p)))
    }

    /// `Clip` of an integer value (a QCDQ pair's, or an integer weight constant's) with constant bounds.
    pub(super) fn clip_integers(&mut self, node: &'a NodeProto) -> Res<()> {
        super::onnx::check_attrs(node, &[])?;
        Self::only_first_output(node)?;
        let x = self.input(node, 0)?.ok_or("input 0 is missing")?;
        let bound = |b: &mut Self, i: usize, what: &str| -> Res<Option<i64>> {
            match b.opt_const(node, i, what)? {
                None => Ok(None),
                Some(c) => {
                    let v = c.scalar()?;
                    if v.fract() != 0.0 || !v.is_finite() {
                        return Err(format!("the {what} {v} of an integer Clip is not an integer"));
                    }
                    Ok(Some(v as i64))
                }
            }
        };
        let lo = bound(self, 1, "min")?;
        let hi = bound(self, 2, "max")?;
        let p = match x {
            Value::Pending(p) => Pending {
                src: match &p.src {
                    PendingSrc::Float(v) => PendingSrc::Float(v.clone()),
                    PendingSrc::Int(c) => PendingSrc::Int(c.clone()),
                },
                scale: p.scale.clone(),
                axis: p.axis,
                lo: lo.map_or(p.lo, |l| l.max(p.lo)),
                hi: hi.map_or(p.hi, |h| h.min(p.hi)),
                label: p.label.clone(),
            },
            Value::Act(_) => return Err("internal: activation Clip".into()),
            c => {
                let c = Self::constant_of(c)?.ok_or("internal: constant expected")?;
                let (tlo, thi) = match c.dtype {
                    data_type::INT8 => (-128, 127),
                    data_type::UINT8 => (0, 255),
                    data_type::INT32 => (i32::MIN as i64, i32::MAX as i64),
                    t => {
                        return Err(format!(
                            "Clip of a constant of type {}: only integer (QCDQ weight) constants are clipped",
                            dtype_name(t)
                        ))
                    }
                };
                Pending {
                    src: PendingSrc::Int(c),
                    scale: None,
                    axis: 1,
                    lo: lo.map_or(tlo, |l| l.max(tlo)),
                    hi: hi.map_or(thi, |h| h.min(thi)),
                    label: label(node),
                }
            }
        };
        if p.lo > p.hi {
            return Err(format!("Clip bounds [{}, {}] are empty", p.lo, p.hi));
        }
        self.set_output(node, Value::Pending(Rc::new(p)))
    }

    /// QCDQ `DequantizeLinear(x, x_scale, x_zero_point)`: ends a pair, or dequantizes an integer constant.
    pub(super) fn dequantize_linear(&mut self, node: &'a NodeProto) -> Res<()> {
        self.saw("qcdq");
        super::onnx::check_attrs(node, &["axis", "block_size"])?;
        Self::only_first_output(node)?;
        let x = self.input(node, 0)?.ok_or("input 0 (x) is missing")?;
        let scale = self.constant(node, 1, "scale")?;
        let scales = positive_scales(&scale)?;
        let zp = self.opt_const(node, 2, "zero point")?;
        check_zero_point(zp.as_deref())?;
        let axis_attr = super::onnx::attr_int(node, "axis", 1)?;
        let p: Rc<Pending> = match x {
            Value::Pending(p) => p,
            Value::Act(_) => {
                return Err("DequantizeLinear of a float activation (it must read a QuantizeLinear's output)".into())
            }
            c => {
                let c = Self::constant_of(c)?.ok_or("internal: constant expected")?;
                let (lo, hi) = match c.dtype {
                    data_type::INT8 => (-128, 127),
                    data_type::UINT8 => (0, 255),
                    data_type::INT32 => (i32::MIN as i64, i32::MAX as i64),
                    t => {
                        return Err(format!(
                            "DequantizeLinear of a constant of type {}: expected INT8, UINT8 or INT32",
                            dtype_name(t)
                        ))
                    }
                };
                Rc::new(Pending {
                    src: PendingSrc::Int(c),
                    scale: None,
                    axis: axis_attr,
                    lo,
                    hi,
                    label: label(node),
                })
            }
        };
        if let Some(qs) = &p.scale {
            if qs.to_f32() != scale.to_f32() {
                return Err(format!(
                    "its scale {} differs from the scale {} of QuantizeLinear {}",
                    q(&scale.name),
                    q(&qs.name),
                    q(&p.label)
                ));
            }
        }
        let signed = p.lo < 0;
        match &p.src {
            PendingSrc::Float(Value::Act(j)) => {
                if signed || p.lo != 0 {
                    return Err(format!(
                        "the activation's integer range is [{}, {}]; pact's activations are unsigned codes \
                         [0, 2^k − 1] (a UINT8 zero point of 0, Clip(0, 2^k − 1))",
                        p.lo, p.hi
                    ));
                }
                let bits = (p.hi + 1).trailing_zeros();
                if p.hi < 1 || (p.hi + 1).count_ones() != 1 || bits > 8 {
                    return Err(format!(
                        "the activation's integer range [0, {}] is not [0, 2^k − 1] with k in 1..=8",
                        p.hi
                    ));
                }
                let j = *j;
                self.act_quant(node, j, bits, &scale, &scales)
            }
            src => {
                let (c, ints): (Rc<Const>, Vec<i64>) = match src {
                    PendingSrc::Int(c) => {
                        let Data::I64(v) = &c.data else {
                            return Err("internal: integer constant expected".into());
                        };
                        (c.clone(), v.iter().map(|&v| v.clamp(p.lo, p.hi)).collect())
                    }
                    PendingSrc::Float(v) => {
                        let c = Self::constant_of(v.clone())?.ok_or("internal: constant expected")?;
                        let vals = c.finite_f32()?;
                        let axis = self.dq_axis(&scale, &scales, &c.dims, p.axis)?;
                        let ints = vals
                            .iter()
                            .enumerate()
                            .map(|(e, &v)| {
                                let s = scales[if scales.len() == 1 {
                                    0
                                } else {
                                    index_along(e, &c.dims, axis)
                                }];
                                ((v / s as f32) as f64)
                                    .round_ties_even()
                                    .clamp(p.lo as f64, p.hi as f64) as i64
                            })
                            .collect();
                        (c, ints)
                    }
                };
                let axis = self.dq_axis(&scale, &scales, &c.dims, axis_attr)?;
                let bits = if signed {
                    signed_bits(p.lo, p.hi)
                } else {
                    64 - (p.hi as u64).leading_zeros().min(63)
                };
                self.int_const(node, c.dims.clone(), ints, scales, axis, bits, signed)
            }
        }
    }

    /// The axis of a `DequantizeLinear`/`QuantizeLinear` scale on a tensor of shape `dims`.
    fn dq_axis(&self, scale: &Const, scales: &[f64], dims: &[usize], axis: i64) -> Res<usize> {
        if scales.len() == 1 {
            return Ok(0);
        }
        let r = dims.len() as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if !(0..r).contains(&a) || scale.dims.len() != 1 || dims[a as usize] != scales.len() {
            return Err(format!(
                "the per-axis scale {} of shape {:?} does not match axis {axis} of the tensor's shape {dims:?}",
                q(&scale.name),
                scale.dims
            ));
        }
        Ok(a as usize)
    }

    /// `Mul(x, c)` of an activation by a positive constant per channel (or one constant): a per-channel affine
    /// with no shift, imported as an inference BatchNorm (`γ = c`, `β = 0`, `μ = 0`, `σ² = 1`, `ε = 0`) so that
    /// it folds into the requantization of the dense/conv layer before it. pact's own export writes these.
    pub(super) fn mul(&mut self, node: &'a NodeProto) -> Res<()> {
        super::onnx::check_attrs(node, &[])?;
        let a = self.input(node, 0)?.ok_or("input 0 is missing")?;
        let b = self.input(node, 1)?.ok_or("input 1 is missing")?;
        let (j, c) = match (a, b) {
            (Value::Act(j), c) | (c, Value::Act(j)) if !matches!(c, Value::Act(_)) => {
                (j, Self::constant_of(c)?.ok_or("internal: constant expected")?)
            }
            _ => return Err("only an activation times a constant is supported".into()),
        };
        let shape = self.model.shapes().map_err(|e| e.to_string())?[j].clone();
        let channels = shape[0];
        let v = c.finite_f32()?;
        let dims: Vec<usize> = c.dims.iter().copied().skip_while(|&d| d == 1).collect();
        let per_channel = match shape.len() {
            1 => dims.len() <= 1,
            _ => dims.len() == shape.len() && dims[1..].iter().all(|&d| d == 1),
        };
        let gamma = match v.len() {
            1 => vec![v[0]; channels],
            n if n == channels && per_channel => v,
            _ => {
                return Err(format!(
                    "constant {} of shape {:?} is not one factor per channel of an input of shape {shape:?}",
                    q(&c.name),
                    c.dims
                ))
            }
        };
        let bn = BatchNorm {
            beta: vec![0.0; channels],
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
            eps: 0.0,
            gamma,
        };
        self.emit(node, Op::BatchNorm(bn), vec![j])
    }

    /// After a Conv/Gemm/MatMul node was emitted: its integer weights, if its weight input is quantized.
    pub(super) fn attach_weights(&mut self, node: &'a NodeProto) -> Res<()> {
        let Some(w) = node.input.get(1).and_then(|n| self.qx.consts.get(n)) else {
            return Ok(());
        };
        let idx = self.model.nodes.len() - 1;
        // Layout of the stored weight: [out, ...] for Conv and Gemm transB = 1, [in, out] otherwise.
        let (out_in, alpha) = match node.op_type.as_str() {
            "Conv" => (true, 1.0),
            "Gemm" => (
                super::onnx::attr_int(node, "transB", 0)? != 0,
                super::onnx::attr_float(node, "alpha", 1.0)? as f64,
            ),
            _ => (false, 1.0),
        };
        let out_axis = if out_in { 0 } else { 1 };
        let out = w.dims[out_axis];
        let fan = w.ints.len() / out.max(1);
        let ints: Vec<i64> = if out_in {
            w.ints.clone()
        } else {
            let (r, k) = (w.dims[0], w.dims[1]);
            let mut t = vec![0; w.ints.len()];
            for i in 0..r {
                for j in 0..k {
                    t[j * r + i] = w.ints[i * k + j];
                }
            }
            t
        };
        let scales: Vec<f64> = if w.scales.len() == 1 {
            vec![w.scales[0] * alpha; out]
        } else if w.axis == out_axis {
            w.scales.iter().map(|s| s * alpha).collect()
        } else {
            return Err(format!(
                "the weight scales of {} run along axis {} of the weight {:?}; per-channel scales must be per \
                 output channel (axis {out_axis})",
                q(&w.label),
                w.axis,
                w.dims
            ));
        };
        let wq = weight_codes(w, ints, fan)?;
        self.qx.weights.insert(idx, PresetWeights { scales, ..wq });
        Ok(())
    }
}

/// How integer weights are stored: signed values all odd within the declared narrow range are pact's odd codes
/// at `bitwidth − 1` bits (DoReFa's levels, and pact's own export); others two's complement (2..=8 bits).
fn weight_codes(w: &IntConst, ints: Vec<i64>, _fan: usize) -> Res<PresetWeights> {
    let max = ints.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    let all_odd = ints.iter().all(|v| v % 2 != 0);
    let (bits, encoding) = if w.signed && all_odd && w.bits >= 2 && w.bits <= 9 && max < 1u64 << (w.bits - 1) {
        (w.bits - 1, WeightEncoding::Odd)
    } else {
        let need = (if w.signed { w.bits } else { w.bits + 1 }).max(2);
        if need > 8 {
            return Err(format!(
                "the weights quantized by {} have bitwidth {} ({}): pact's weights take at most 8 bits (9 only \
                 for signed narrow weights whose values are all odd, DoReFa's levels)",
                q(&w.label),
                w.bits,
                if w.signed { "signed" } else { "unsigned" }
            ));
        }
        (need, WeightEncoding::TwosComplement)
    };
    Ok(PresetWeights {
        bits,
        encoding,
        ints: ints.into_iter().map(|v| v as i32).collect(),
        scales: Vec::new(),
    })
}

impl QState {
    /// The preset of a quantized graph (`None` for a float model), its node indices renumbered by the pruning
    /// (`new_index[old]`, `usize::MAX` for dropped nodes).
    pub(super) fn preset(&self, new_index: &[usize], model: &FloatModel) -> Res<Option<Preset>> {
        let Some(format) = self.format else {
            return Ok(None);
        };
        if self.input_scale.is_none() {
            return Err(
                "the graph input is not quantized: a quantized model starts with an unsigned 8-bit Quant \
                        (QCDQ: QuantizeLinear → DequantizeLinear) on its input"
                    .into(),
            );
        }
        let remap = |i: usize| new_index.get(i).copied().filter(|&n| n != usize::MAX);
        let weights: HashMap<usize, PresetWeights> = self
            .weights
            .iter()
            .filter_map(|(&i, w)| remap(i).map(|n| (n, w.clone())))
            .collect();
        let act_bits: HashMap<usize, u32> = self
            .act_bits
            .iter()
            .filter_map(|(&i, &b)| remap(i).map(|n| (n, b)))
            .collect();
        for (i, n) in model.nodes.iter().enumerate() {
            if matches!(n.op, Op::Dense { .. } | Op::Conv2d { .. }) && !weights.contains_key(&i) {
                return Err(format!(
                    "node {} (op {}): its weight is not quantized (no Quant / DequantizeLinear on it); a quantized \
                     model needs integer weights in every layer",
                    q(&n.name),
                    n.op.kind()
                ));
            }
        }
        Ok(Some(Preset {
            weights,
            act_bits,
            format: format.into(),
        }))
    }
}

/// Load a quantized ONNX model (QONNX or QCDQ) at `path` as its dequantized float model and its integer model
/// ([`crate::quantize::quantize_preset`] with an `m0_bits`-bit `M0`); `Ok(None)` if the file is a float ONNX
/// model. Errors name the file.
pub fn load_quantized(path: &Path, m0_bits: u32) -> crate::Result<Option<(FloatModel, crate::qmodel::QModel)>> {
    let bytes = crate::fsutil::read_capped(path, super::onnx::MAX_ONNX_BYTES, "an ONNX model (the protobuf limit)")?;
    from_bytes_quantized(path, &bytes, m0_bits)
}

/// [`load_quantized`] on the bytes of the file `path` (its folder holds any external data).
pub fn from_bytes_quantized(
    path: &Path,
    bytes: &[u8],
    m0_bits: u32,
) -> crate::Result<Option<(FloatModel, crate::qmodel::QModel)>> {
    let (m, preset) = super::onnx::from_bytes_any(path, bytes, crate::model_io::DEFAULT_INPUT_SCALE)?;
    let Some(p) = preset else {
        return Ok(None);
    };
    let q =
        crate::quantize::quantize_preset(&m, &p, m0_bits, &path.display().to_string()).map_err(|e| e.in_file(path))?;
    Ok(Some((m, q)))
}

/// Read every initializer's external data (ONNX `external_data`) into the model, from files in the folder of
/// `path`: a plain relative location only (no absolute path, no `..`), resolving inside that folder (no
/// symlink out of it), `offset` and `length` within the file.
pub(super) fn resolve_external(model: &mut ModelProto, path: &Path) -> Res<()> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(());
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for t in &mut graph.initializer {
        if t.data_location != super::onnx::proto::DATA_LOCATION_EXTERNAL && t.external_data.is_empty() {
            continue;
        }
        let n = q(&t.name);
        let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let location = get("location").ok_or_else(|| format!("tensor {n} has external data without a location"))?;
        let loc = q(&location);
        let rel = Path::new(&location);
        if rel.is_absolute() || location.starts_with('/') || location.starts_with('\\') || location.contains(':') {
            return Err(format!(
                "tensor {n} keeps its data in an external file ({loc}), an absolute path, which is never opened: \
                 the data file must be in the model's folder"
            ));
        }
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "tensor {n} keeps its data in an external file ({loc}) outside the model's folder ('..'), which \
                 is never opened"
            ));
        }
        let file = dir.join(rel);
        let real = file
            .canonicalize()
            .map_err(|e| format!("tensor {n} keeps its data in an external file ({loc}) that cannot be read: {e}"))?;
        let real_dir = dir
            .canonicalize()
            .map_err(|e| format!("the model's folder cannot be read: {e}"))?;
        if !real.starts_with(&real_dir) {
            return Err(format!(
                "tensor {n} keeps its data in an external file ({loc}) that resolves outside the model's folder \
                 (a symlink), which is never opened"
            ));
        }
        let num = |k: &str| -> Res<Option<u64>> {
            get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("tensor {n}: external data {k} {} is not a number", q(&v)))
                })
                .transpose()
        };
        let offset = num("offset")?.unwrap_or(0);
        let length = num("length")?;
        let mut f = std::fs::File::open(&real)
            .map_err(|e| format!("tensor {n}: external file ({loc}) cannot be opened: {e}"))?;
        let size = f
            .metadata()
            .map_err(|e| format!("tensor {n}: external file ({loc}): {e}"))?
            .len();
        let len = length.unwrap_or(size.saturating_sub(offset));
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(format!(
                "tensor {n}: external data at offset {offset}, length {len} is outside the file ({loc}, {size} \
                 bytes)"
            ));
        }
        if len > super::onnx::MAX_ONNX_BYTES {
            return Err(format!(
                "tensor {n}: external data of {len} bytes is over the 2 GiB cap"
            ));
        }
        let mut buf = Vec::with_capacity(len as usize);
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.take(len).read_to_end(&mut buf))
            .map_err(|e| format!("tensor {n}: reading external file ({loc}): {e}"))?;
        t.raw_data = buf;
        t.external_data.clear();
        t.data_location = super::onnx::proto::DATA_LOCATION_DEFAULT;
    }
    Ok(())
}
