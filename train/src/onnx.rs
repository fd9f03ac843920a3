//! ONNX export of a float model (`pact train --onnx FILE`), written with the prost message types of
//! `pact_toolchain::import::onnx::proto`, so that other tools can run a PACT-trained network and pact's own ONNX
//! importer reads it back to the same model.
//!
//! Opset 15, one graph input `input` of shape `[batch, C, H, W]` (real values: pixel code × the model's input
//! scale, which is recorded in the model's `metadata_props` as `pact.input_scale`), one output `logits`:
//!
//! | float model | ONNX |
//! |---|---|
//! | `Conv2d` | `Conv` (weight, optional bias initializers; `pads` = `[top, left, bottom, right]`) |
//! | `Dense` | `Gemm` with `transB = 1` (weight `[out, in]`, optional bias) |
//! | `BatchNorm` | `BatchNormalization` (inference form: scale, B, running mean and variance; kept as a node) |
//! | `Pact { alpha }` | `Clip` with min 0 and max α as initializers |
//! | `Relu` | `Relu` |
//! | `MaxPool`, `AvgPool` | `MaxPool`, `AveragePool` |
//! | `GlobalAvgPool` | `GlobalAveragePool` followed by `Flatten` (pact's global pool yields a vector) |
//! | `Flatten` | `Flatten` (`axis` 1); dropped where its input is already a vector |
//! | `Add` | `Add` |
//!
//! The weights are the float (latent) weights: `pact quantize` applies DoReFa to them as it does to the
//! architecture + safetensors form, so both files quantize to the same integer model.

use anyhow::{bail, Context};
use pact_toolchain::float::{FloatModel, Op, Tensor};
use pact_toolchain::import::onnx::proto::{
    self, attribute_type as at, data_type, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use prost::Message;
use std::path::Path;

/// The opset the export declares.
pub const OPSET: i64 = 15;
/// ONNX IR version of opset 15 (ONNX 1.10).
pub const IR_VERSION: i64 = 8;

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: at::INTS,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: at::INT,
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: v,
        r#type: at::FLOAT,
        ..Default::default()
    }
}

fn init(name: String, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        name,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| proto::Dimension {
                            dim_value: d.map(|v| v as i64),
                            dim_param: d.is_none().then(|| "batch".to_string()),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// The ONNX model of `model` (see the module documentation).
pub fn to_onnx(model: &FloatModel) -> anyhow::Result<ModelProto> {
    let shapes = model.shapes().context("the model is invalid")?;
    let mut nodes: Vec<NodeProto> = Vec::new();
    let mut inits: Vec<TensorProto> = Vec::new();
    // ONNX value name of each float-model node's output.
    let mut out: Vec<String> = Vec::with_capacity(model.nodes.len());
    let last = model.nodes.len() - 1;
    for (i, n) in model.nodes.iter().enumerate() {
        let value = if i == last {
            "logits".to_string()
        } else {
            format!("{}:{i}", n.name)
        };
        let ins: Vec<String> = n.inputs.iter().map(|&j| out[j].clone()).collect();
        let p = |suffix: &str| format!("{}.{suffix}", n.name);
        let mut node = |op: &str, inputs: Vec<String>, attribute: Vec<AttributeProto>, output: &str| {
            nodes.push(NodeProto {
                input: inputs,
                output: vec![output.to_string()],
                name: format!("{}:{op}", n.name),
                op_type: op.into(),
                attribute,
                domain: String::new(),
            })
        };
        let tensor = |name: String, t: &Tensor| init(name, &t.shape, &t.data);
        match &n.op {
            Op::Input => {
                out.push("input".into());
                continue;
            }
            Op::Conv2d {
                weight,
                bias,
                stride,
                pad,
            } => {
                let mut inputs = vec![ins[0].clone(), p("weight")];
                inits.push(tensor(p("weight"), weight));
                if let Some(b) = bias {
                    inputs.push(p("bias"));
                    inits.push(init(p("bias"), &[b.len()], b));
                }
                let attrs = vec![
                    ints("kernel_shape", &weight.shape[2..4]),
                    ints("strides", stride),
                    ints("pads", pad),
                ];
                node("Conv", inputs, attrs, &value);
            }
            Op::Dense { weight, bias } => {
                let mut inputs = vec![ins[0].clone(), p("weight")];
                inits.push(tensor(p("weight"), weight));
                if let Some(b) = bias {
                    inputs.push(p("bias"));
                    inits.push(init(p("bias"), &[b.len()], b));
                }
                node("Gemm", inputs, vec![int("transB", 1)], &value);
            }
            Op::BatchNorm(bn) => {
                let c = bn.gamma.len();
                for (s, v) in [
                    ("gamma", &bn.gamma),
                    ("beta", &bn.beta),
                    ("mean", &bn.mean),
                    ("var", &bn.var),
                ] {
                    inits.push(init(p(s), &[c], v));
                }
                let inputs = vec![ins[0].clone(), p("gamma"), p("beta"), p("mean"), p("var")];
                node("BatchNormalization", inputs, vec![float("epsilon", bn.eps)], &value);
            }
            Op::Relu => node("Relu", ins, vec![], &value),
            Op::Pact { alpha } => {
                inits.push(init(p("min"), &[], &[0.0]));
                inits.push(init(p("alpha"), &[], &[*alpha]));
                node("Clip", vec![ins[0].clone(), p("min"), p("alpha")], vec![], &value);
            }
            Op::MaxPool { kernel, stride, pad } => node(
                "MaxPool",
                ins,
                vec![ints("kernel_shape", kernel), ints("strides", stride), ints("pads", pad)],
                &value,
            ),
            Op::AvgPool { kernel, stride } => node(
                "AveragePool",
                ins,
                vec![ints("kernel_shape", kernel), ints("strides", stride)],
                &value,
            ),
            Op::GlobalAvgPool => {
                let pooled = format!("{}:{i}:pooled", n.name);
                node("GlobalAveragePool", ins, vec![], &pooled);
                node("Flatten", vec![pooled], vec![int("axis", 1)], &value);
            }
            Op::Flatten => {
                if shapes[n.inputs[0]].len() == 1 && i != last {
                    out.push(ins[0].clone()); // already [N, F]
                    continue;
                }
                node("Flatten", ins, vec![int("axis", 1)], &value);
            }
            Op::Add => node("Add", ins, vec![], &value),
        }
        out.push(value);
    }
    let [c, h, w] = model.input.shape;
    let out_dims: Vec<Option<usize>> = std::iter::once(None)
        .chain(shapes[last].iter().map(|&d| Some(d)))
        .collect();
    if out[last] != "logits" {
        bail!("the model's last node must compute the output");
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        producer_name: "pact".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: nodes,
            name: "pact".into(),
            initializer: inits,
            input: vec![value_info("input", &[None, Some(c), Some(h), Some(w)])],
            output: vec![value_info("logits", &out_dims)],
            sparse_initializer: vec![],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    })
}

/// `ModelProto.metadata_props` (field 14), which the importer's `ModelProto` does not declare: encoded on its
/// own and appended to the encoded model (protobuf merges concatenated messages field by field).
#[derive(Clone, PartialEq, prost::Message)]
struct ModelMetadata {
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

/// The bytes of the ONNX file of `model`: [`to_onnx`] plus `metadata_props` `pact.input_scale`.
pub fn onnx_bytes(model: &FloatModel) -> anyhow::Result<Vec<u8>> {
    let mut bytes = to_onnx(model)?.encode_to_vec();
    ModelMetadata {
        metadata_props: vec![StringStringEntryProto {
            key: "pact.input_scale".into(),
            value: format!("{:e}", model.input.scale),
        }],
    }
    .encode(&mut bytes)
    .expect("a Vec grows");
    Ok(bytes)
}

/// Write `model` as an ONNX file at `path` (atomically).
pub fn save_onnx(model: &FloatModel, path: &Path) -> anyhow::Result<()> {
    let bytes = onnx_bytes(model)?;
    pact_toolchain::fsutil::write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
