//! Export of a quantized integer model as QONNX (for the `qonnx` package's executor, FINN, hls4ml) or as QCDQ
//! (`QuantizeLinear`/`DequantizeLinear`, for onnxruntime): `pact export QMODEL -o OUT.onnx [--format qonnx|qcdq]`.
//!
//! The graph computes the integer model in real numbers, ONNX opset 13 (plus the domain
//! `qonnx.custom_op.general`, version 1, for QONNX):
//!
//! * input `x` of shape `[N, C, H, W]`, the pixel code times the model's input scale; quantized by an unsigned
//!   8-bit quantizer of that scale (the codes);
//! * a dense/conv layer: `Gemm` (`transB = 1`) or `Conv` on the integer weights (a signed quantizer of scale
//!   `s_w`: odd codes as signed narrow `k + 1` bits — only the odd levels occur —, two's-complement codes as signed
//!   `k` bits), with the integer bias as its bias (a signed quantizer of scale `s_a·s_w` per channel, as wide as the
//!   accumulator); then `Mul` by `(M0/2^n)·s_out/(s_a·s_w)` per channel, `Relu`, and the unsigned `k_a`-bit
//!   output quantizer of scale `s_out = α/(2^k_a − 1)`: the quantizer sees `acc·M0/2^n`, the contract's value
//!   before rounding. The last layer ends at its accumulators (times `s_a·s_w`, or times the logit scale);
//! * max pool, flatten as such; average pools as `AveragePool`/`GlobalAveragePool` then the quantizer of their
//!   input's scale; a residual add as two `Mul`s, `Add`, `Relu` and the output quantizer.
//!
//! Every QONNX `Quant` carries `signed`, `narrow` and `rounding_mode`. Rounding: the requantizing quantizers
//! (after a layer or an add) use `ROUND` (half to even, what FINN and hls4ml take); pact rounds half up, so the
//! graph differs from the golden model only where `acc·M0/2^n` is exactly a half (rare; measured in
//! docs/integer-contract.md). Average pools, whose means are often exact halves, use `HALF_UP` (half away from
//! zero: half up on these non-negative values), which is exact. QCDQ has only half to even (`QuantizeLinear`).
//! Every value is computed in float32 by the consumer, so a value within float32 rounding of a half may round
//! the other way; the agreement with the golden model is measured by `tests/cli_export.rs`.

use crate::contract::{code_max, WeightEncoding};
use crate::error::{Error, Result};
use crate::import::onnx::proto::{
    attribute_type, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use crate::qmodel::{Compute, Output, QLayer, QModel, QOp};
use prost::Message;
use std::path::Path;

/// The domain of QONNX's `Quant`.
pub const QONNX_DOMAIN: &str = "qonnx.custom_op.general";
/// The default-domain opset written.
pub const OPSET: i64 = 13;

/// Which quantized ONNX dialect to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// QONNX `Quant` nodes.
    Qonnx,
    /// `QuantizeLinear` → `Clip` → `DequantizeLinear`, integer weight initializers.
    Qcdq,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "qonnx" => Ok(Format::Qonnx),
            "qcdq" => Ok(Format::Qcdq),
            _ => Err(Error::config(format!("export format '{s}' is unknown (qonnx, qcdq)"))),
        }
    }
}

/// Write `q` to `path` as `format` (atomically: temporary file, then rename).
pub fn export(q: &QModel, format: Format, path: &Path) -> Result<()> {
    crate::fsutil::write_atomic(path, &to_bytes(q, format)?)
}

/// The ONNX bytes of `q` as `format`.
pub fn to_bytes(q: &QModel, format: Format) -> Result<Vec<u8>> {
    Ok(to_model(q, format)?.encode_to_vec())
}

/// A quantized activation: its tensor name, real value of one code, bits.
#[derive(Clone, Debug)]
struct Act {
    name: String,
    scale: f64,
    bits: u32,
}

struct G {
    format: Format,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
}

fn a_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

fn a_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

fn a_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: s.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..Default::default()
    }
}

fn f32_tensor(name: &str, dims: &[usize], v: &[f64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        raw_data: v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn int_tensor(name: &str, dims: &[usize], v: &[i64], dtype: i32) -> TensorProto {
    let raw = match dtype {
        data_type::INT8 => v.iter().map(|&x| x as i8 as u8).collect(),
        data_type::UINT8 => v.iter().map(|&x| x as u8).collect(),
        _ => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
    };
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: dtype,
        raw_data: raw,
        ..Default::default()
    }
}

impl G {
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = format!("{name}_out");
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: name.into(),
            op_type: op.into(),
            attribute: attrs,
            domain: if op == "Quant" {
                QONNX_DOMAIN.into()
            } else {
                String::new()
            },
        });
        out
    }

    fn init(&mut self, t: TensorProto) -> String {
        let n = t.name.clone();
        self.inits.push(t);
        n
    }

    /// Quantize activation `x` to unsigned `bits`-bit codes of step `scale` (rounding `mode` in QONNX).
    fn act_quant(&mut self, name: &str, x: &str, scale: f64, bits: u32, mode: &str) -> Act {
        let s = self.init(f32_tensor(&format!("{name}.scale"), &[], &[scale]));
        let out = match self.format {
            Format::Qonnx => {
                let zp = self.init(f32_tensor(&format!("{name}.zero_point"), &[], &[0.0]));
                let bw = self.init(f32_tensor(&format!("{name}.bitwidth"), &[], &[bits as f64]));
                let attrs = vec![a_int("signed", 0), a_int("narrow", 0), a_str("rounding_mode", mode)];
                self.node("Quant", name, &[x, &s, &zp, &bw], attrs)
            }
            Format::Qcdq => {
                let zp = self.init(int_tensor(&format!("{name}.zero_point"), &[], &[0], data_type::UINT8));
                let mut q = self.node("QuantizeLinear", &format!("{name}/quantize"), &[x, &s, &zp], vec![]);
                if bits < 8 {
                    let lo = self.init(int_tensor(&format!("{name}.min"), &[], &[0], data_type::UINT8));
                    let hi = self.init(int_tensor(
                        &format!("{name}.max"),
                        &[],
                        &[code_max(bits) as i64],
                        data_type::UINT8,
                    ));
                    q = self.node("Clip", &format!("{name}/clip"), &[&q, &lo, &hi], vec![]);
                }
                self.node(
                    "DequantizeLinear",
                    &format!("{name}/dequantize"),
                    &[&q, &s, &zp],
                    vec![],
                )
            }
        };
        Act { name: out, scale, bits }
    }

    /// A constant of signed integers `v` (shape `dims`) with scales `scales` (one, or one per index of axis 0):
    /// its real value `v·scale` as the graph computes it. `bits`/`narrow` describe the integer range.
    fn int_const(&mut self, name: &str, dims: &[usize], v: &[i64], scales: &[f64], bits: u32, narrow: bool) -> String {
        let per = scales.len() > 1;
        let inner = v.len() / dims[0].max(1);
        let sdims: Vec<usize> = if per {
            let mut d = vec![1; dims.len()];
            d[0] = dims[0];
            d
        } else {
            vec![]
        };
        match self.format {
            Format::Qonnx => {
                let real: Vec<f64> = v
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| x as f64 * scales[if per { i / inner } else { 0 }])
                    .collect();
                let w = self.init(f32_tensor(&format!("{name}.float"), dims, &real));
                let s = self.init(f32_tensor(&format!("{name}.scale"), &sdims, scales));
                let zp = self.init(f32_tensor(&format!("{name}.zero_point"), &[], &[0.0]));
                let bw = self.init(f32_tensor(&format!("{name}.bitwidth"), &[], &[bits as f64]));
                let attrs = vec![
                    a_int("signed", 1),
                    a_int("narrow", narrow as i64),
                    a_str("rounding_mode", "ROUND"),
                ];
                self.node("Quant", name, &[&w, &s, &zp, &bw], attrs)
            }
            Format::Qcdq => {
                let small = bits <= 8;
                let dtype = if small { data_type::INT8 } else { data_type::INT32 };
                let w = self.init(int_tensor(&format!("{name}.int"), dims, v, dtype));
                let s = self.init(f32_tensor(
                    &format!("{name}.scale"),
                    &[scales.len()][..per as usize],
                    scales,
                ));
                let zp = self.init(int_tensor(
                    &format!("{name}.zero_point"),
                    &[scales.len()][..per as usize],
                    &vec![0; scales.len()],
                    dtype,
                ));
                let mut x = w;
                if bits < 32 {
                    // The declared range, so that a reader sees the width (Brevitas writes the same Clip).
                    let half = 1i64 << (bits - 1);
                    let lo = self.init(int_tensor(&format!("{name}.min"), &[], &[-half + narrow as i64], dtype));
                    let hi = self.init(int_tensor(&format!("{name}.max"), &[], &[half - 1], dtype));
                    x = self.node("Clip", &format!("{name}/clip"), &[&x, &lo, &hi], vec![]);
                }
                let attrs = if per { vec![a_int("axis", 0)] } else { vec![] };
                self.node("DequantizeLinear", &format!("{name}/dequantize"), &[&x, &s, &zp], attrs)
            }
        }
    }

    /// `Mul` of `x` by per-channel factors `c` (shape `[C, 1, 1]` for conv outputs, `[C]` for vectors).
    fn mul(&mut self, name: &str, x: &str, c: &[f64], spatial: bool) -> String {
        let dims: Vec<usize> = if c.len() == 1 {
            vec![]
        } else if spatial {
            vec![c.len(), 1, 1]
        } else {
            vec![c.len()]
        };
        let t = self.init(f32_tensor(&format!("{name}.factor"), &dims, c));
        self.node("Mul", name, &[x, &t], vec![])
    }
}

/// ONNX names: the layer name with characters other than `[A-Za-z0-9_./-]` replaced.
fn clean(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_./-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The ONNX model of `q` as `format`.
pub fn to_model(q: &QModel, format: Format) -> Result<ModelProto> {
    q.validate()?;
    let mut g = G {
        format,
        nodes: Vec::new(),
        inits: Vec::new(),
    };
    let input = g.act_quant("input_quant", "x", q.input.scale, 8, "ROUND");
    let mut acts: Vec<Act> = vec![input];
    let mut last_out = String::new();
    for (li, l) in q.layers.iter().enumerate() {
        let name = format!("{li}_{}", clean(&l.name));
        let x = acts[l.inputs[0]].clone();
        let shape_in: Vec<usize> = if l.inputs[0] == 0 {
            q.input.shape.to_vec()
        } else {
            q.layers[l.inputs[0] - 1].out_shape.clone()
        };
        let act = match &l.op {
            QOp::Dense(cp) | QOp::Conv2d(cp) => {
                let (out, a) = compute(&mut g, &name, l, cp, &x)?;
                last_out = out;
                a
            }
            QOp::MaxPool { kernel, stride, pad } => {
                let attrs = vec![
                    a_ints("kernel_shape", kernel),
                    a_ints("strides", stride),
                    a_ints("pads", pad),
                ];
                let out = g.node("MaxPool", &name, &[&x.name], attrs);
                Some(Act { name: out, ..x })
            }
            QOp::AvgPool { kernel, stride, .. } => {
                let attrs = vec![a_ints("kernel_shape", kernel), a_ints("strides", stride)];
                let out = g.node("AveragePool", &name, &[&x.name], attrs);
                Some(g.act_quant(&format!("{name}/quant"), &out, x.scale, x.bits, "HALF_UP"))
            }
            QOp::GlobalAvgPool { .. } => {
                let out = g.node("GlobalAveragePool", &name, &[&x.name], vec![]);
                let a = g.act_quant(&format!("{name}/quant"), &out, x.scale, x.bits, "HALF_UP");
                let flat = g.node(
                    "Flatten",
                    &format!("{name}/flatten"),
                    &[&a.name],
                    vec![a_int("axis", 1)],
                );
                Some(Act { name: flat, ..a })
            }
            QOp::Flatten => {
                let out = if shape_in.len() == 1 {
                    x.name.clone()
                } else {
                    g.node("Flatten", &name, &[&x.name], vec![a_int("axis", 1)])
                };
                Some(Act { name: out, ..x })
            }
            QOp::Add {
                m0, shift, bits, alpha, ..
            } => {
                let b = acts[l.inputs[1]].clone();
                let s_out = alpha / code_max(*bits) as f64;
                let f = |m: u32, s_in: f64| m as f64 / 2f64.powi(*shift as i32) * s_out / s_in;
                let ma = g.mul(&format!("{name}/scale_a"), &x.name, &[f(m0[0], x.scale)], false);
                let mb = g.mul(&format!("{name}/scale_b"), &b.name, &[f(m0[1], b.scale)], false);
                let sum = g.node("Add", &name, &[&ma, &mb], vec![]);
                let r = g.node("Relu", &format!("{name}/relu"), &[&sum], vec![]);
                Some(g.act_quant(&format!("{name}/quant"), &r, s_out, *bits, "ROUND"))
            }
        };
        acts.push(act.unwrap_or(Act {
            name: last_out.clone(),
            scale: l.out_scale,
            bits: l.out_bits,
        }));
    }
    let [c, h, w] = q.input.shape;
    let dim = |v: Option<i64>, p: Option<&str>| Dimension {
        dim_value: v,
        dim_param: p.map(String::from),
    };
    let value_info = |name: &str, dims: Vec<Dimension>| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim: dims }),
            }),
        }),
    };
    let mut in_dims = vec![dim(None, Some("N"))];
    in_dims.extend([c, h, w].iter().map(|&d| dim(Some(d as i64), None)));
    let mut out_dims = vec![dim(None, Some("N"))];
    out_dims.extend(
        q.layers
            .last()
            .map_or(&[][..], |l| &l.out_shape[..])
            .iter()
            .map(|&d| dim(Some(d as i64), None)),
    );
    let mut opsets = vec![OperatorSetIdProto {
        domain: String::new(),
        version: OPSET,
    }];
    if format == Format::Qonnx {
        opsets.push(OperatorSetIdProto {
            domain: QONNX_DOMAIN.into(),
            version: 1,
        });
    }
    Ok(ModelProto {
        ir_version: 7,
        producer_name: "pact".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "pact_qmodel".into(),
            initializer: g.inits,
            input: vec![value_info("x", in_dims)],
            output: vec![value_info(&acts.last().expect("layers").name, out_dims)],
            sparse_initializer: vec![],
        }),
        opset_import: opsets,
    })
}

/// A dense/conv layer; returns its accumulator-side output tensor and, for layers that output codes, the codes.
fn compute(g: &mut G, name: &str, l: &QLayer, cp: &Compute, x: &Act) -> Result<(String, Option<Act>)> {
    let wt = &cp.weights;
    let (bits, narrow) = match wt.encoding {
        WeightEncoding::Odd => (wt.bits + 1, true),
        WeightEncoding::TwosComplement => (wt.bits, false),
    };
    let ints: Vec<i64> = wt.index.iter().map(|&c| wt.decode(c) as i64).collect();
    let s_w: Vec<f64> = (0..wt.out).map(|o| wt.channel_scale(o)).collect();
    let per = s_w.iter().any(|&s| s != s_w[0]);
    let scales = if per { s_w.clone() } else { vec![s_w[0]] };
    let dims: Vec<usize> = match cp.conv {
        Some(gm) => vec![
            wt.out,
            wt.fan_in / (gm.kernel[0] * gm.kernel[1]),
            gm.kernel[0],
            gm.kernel[1],
        ],
        None => vec![wt.out, wt.fan_in],
    };
    let w = g.int_const(&format!("{name}/weight"), &dims, &ints, &scales, bits, narrow);
    let s_acc: Vec<f64> = s_w.iter().map(|s| x.scale * s).collect();
    // QCDQ biases are plain INT32 (no Clip), as Brevitas writes them.
    let bias_bits = if g.format == Format::Qcdq {
        32
    } else {
        cp.acc_bits.max(2)
    };
    let b = g.int_const(&format!("{name}/bias"), &[wt.out], &cp.bias, &s_acc, bias_bits, false);
    let acc = match cp.conv {
        Some(gm) => {
            let attrs = vec![
                a_ints("kernel_shape", &gm.kernel),
                a_ints("strides", &gm.stride),
                a_ints("pads", &gm.pad),
            ];
            g.node("Conv", name, &[&x.name, &w, &b], attrs)
        }
        None => g.node("Gemm", name, &[&x.name, &w, &b], vec![a_int("transB", 1)]),
    };
    let spatial = cp.conv.is_some();
    match &cp.output {
        Output::Codes { bits, requant, .. } => {
            let s_out = l.out_scale;
            let c: Vec<f64> = (0..wt.out)
                .map(|o| requant.m0[o] as f64 / 2f64.powi(requant.shift[o] as i32) * s_out / s_acc[o])
                .collect();
            let m = g.mul(&format!("{name}/requant"), &acc, &c, spatial);
            let r = g.node("Relu", &format!("{name}/relu"), &[&m], vec![]);
            let a = g.act_quant(&format!("{name}/quant"), &r, s_out, *bits, "ROUND");
            Ok((a.name.clone(), Some(a)))
        }
        Output::Logits => match &cp.logit_scale {
            None => Ok((acc, None)),
            Some(ls) => {
                let c: Vec<f64> = (0..wt.out)
                    .map(|o| ls.m0[o] as f64 / 2f64.powi(ls.shift as i32) / s_acc[o])
                    .collect();
                Ok((g.mul(&format!("{name}/logit_scale"), &acc, &c, spatial), None))
            }
        },
    }
}
