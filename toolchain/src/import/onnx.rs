//! ONNX import: a float model exported from PyTorch (or any ONNX producer using the ops below) becomes a
//! [`FloatModel`].
//!
//! # Exporting from PyTorch
//!
//! ```python
//! torch.onnx.export(model.eval(), x, "model.onnx",
//!                   training=torch.onnx.TrainingMode.PRESERVE,   # keep BatchNormalization a node
//!                   opset_version=13, do_constant_folding=False,
//!                   dynamic_axes={"input": {0: "batch"}},
//!                   dynamo=False)                               # the TorchScript exporter (PyTorch >= 2.9)
//! ```
//!
//! `training=TrainingMode.PRESERVE` matters: the default (`EVAL`) folds every BatchNorm into the preceding
//! convolution's weights, which destroys the latent weights that DoReFa quantizes (BatchNorm must fold into the
//! per-channel requantization constants instead). With the model in eval mode, `PRESERVE` keeps each
//! `BatchNormalization` as an inference-form node with its running statistics. Weights may be stored inside
//! the `.onnx` file or in a data file beside it in the same folder (ONNX external data, e.g. `model.onnx.data`;
//! absolute paths, `..` and symlinks out of the folder are refused, see [`super::qonnx`]).
//!
//! # Quantized models (QONNX, QCDQ)
//!
//! Graphs with QONNX `Quant` nodes or QCDQ `QuantizeLinear`/`DequantizeLinear` are read by [`load_onnx_any`]
//! (rules in [`super::qonnx`]); [`load_onnx`] refuses them, pointing to `pact quantize`.
//!
//! `dynamo=False` matters too: with the newer torch.export-based exporter (the default since PyTorch 2.9), the
//! graph optimizer folds BatchNorm into the convolution even with `training=PRESERVE`; with `optimize=False` it
//! keeps BatchNorm but emits shape-computation ops (`Shape`, `Expand`, `CastLike`, `Max`/`Min`, `Concat`) that
//! this importer does not support (checked with PyTorch 2.15). An import cannot tell that a BatchNorm was folded
//! away, so use the TorchScript exporter as above (`tests/fixtures/make_onnx_fixture.py` is a working example).
//!
//! # PACT activations
//!
//! A PACT activation `clip(x, 0, α)` is an ONNX `Clip` with min 0 and max α: write it in PyTorch as
//! `torch.clamp(x, min=torch.tensor(0.0), max=self.alpha)` with `self.alpha` a 0-d `nn.Parameter`. From opset 11
//! on, min and max are inputs (initializers or `Constant` nodes, possibly through `Cast`); before, attributes.
//! `Clip(0, α)` imports as [`Op::Pact`] with that α; `Clip(0)` without a max (or max = +∞) as [`Op::Relu`]; any
//! other minimum is an error. (A 1-element `alpha` of shape `[1]` makes PyTorch export `Max`/`Min` instead, which
//! is not supported: use a 0-d parameter.)
//!
//! # Supported ops (default ONNX domain)
//!
//! | ONNX op | becomes | restrictions |
//! |---|---|---|
//! | `Conv` | [`Op::Conv2d`] | 2-D kernel, `group` = 1, dilations 1, constant weight/bias, `auto_pad` NOTSET or VALID |
//! | `Gemm` | [`Op::Dense`] | `transA` = 0; `transB`, `alpha`, `beta` honoured; constant B and C (C optional) |
//! | `MatMul` (+ `Add` of a constant) | [`Op::Dense`] | activation × constant 2-D matrix; the bias `Add` is fused |
//! | `BatchNormalization` | [`Op::BatchNorm`] | inference form (one output, `training_mode` = 0) |
//! | `Relu` | [`Op::Relu`] | |
//! | `Clip` | [`Op::Pact`] / [`Op::Relu`] | min = 0 (see above) |
//! | `MaxPool` | [`Op::MaxPool`] | 2-D, dilations 1, no `Indices` output, `ceil_mode` 0 (1 if it changes nothing) |
//! | `AveragePool` | [`Op::AvgPool`] | 2-D, no padding, `ceil_mode` as for `MaxPool` |
//! | `GlobalAveragePool` | [`Op::GlobalAvgPool`] | |
//! | `Flatten` | [`Op::Flatten`] | `axis` = 1 |
//! | `Reshape` | [`Op::Flatten`] | flattening each sample only: `[N, -1]`, `[0, -1]`, `[1, -1]`, `[-1, K]`, `[1, K]` |
//! | `Add` of two activations | [`Op::Add`] | same shapes (residual) |
//! | `Mul` by a constant | [`Op::BatchNorm`] (`γ` = the constant, no shift) | one factor, or one per channel (folds like BatchNorm) |
//! | `QuantizeLinear`, `DequantizeLinear`, QONNX `Quant`, `BipolarQuant` | quantized models, see [`super::qonnx`] | |
//! | `Add` of a constant | the bias of the `MatMul`, `Gemm` or `Conv` before it | that node has no other reader |
//! | `Identity`, `Dropout`, `Cast` (to float) | nothing (pass-through) | inference only |
//! | `Constant` | constant feeding the ops above | `value`, `value_float(s)`, `value_int(s)` |
//!
//! Anything else is rejected with an error naming the node, its op type and this list. Nodes that the graph
//! output does not depend on are dropped.
//!
//! # Inputs and outputs
//!
//! The graph must have exactly one input that is not an initializer, of type float, with shape `[N, C, H, W]`
//! (N symbolic or 1), or `[N, F]`: a flat input becomes `C = 1, H = 1, W = F` followed by a [`Op::Flatten`] node,
//! so that a following `Gemm`/`MatMul` sees a vector. The float model sees `pixel code × input_scale`. The graph
//! must have exactly one output; it is the last node of the returned model.
//!
//! # Protobuf decoding: `prost`
//!
//! The wire format is decoded by [`prost`] (tokio-rs, Apache-2.0), the most used protobuf implementation for
//! Rust, through the message types in [`proto`]: the subset of `onnx.proto` this importer reads, declared with
//! `#[derive(prost::Message)]` and the field numbers of the official schema (what `prost-build` would generate,
//! minus the fields we never read: prost skips unknown fields). This needs no `protoc` and no build script.
//! Rejected alternatives: `onnx-protobuf` 0.2.3 (rust-protobuf generated code, last released 2024) does not
//! build against the current `protobuf` 3.7 runtime (its generated code requires `protobuf::VERSION_3_4_0`), so
//! it would need an exact `protobuf = "=3.4.0"` pin; `onnx-pb` is stuck on the 2020 prost 0.6; `candle-onnx`
//! and most prost-based crates run `protoc` at build time; `tract-onnx` and `onnx-ir` are whole inference
//! engines or framework IRs. prost bounds its recursion depth and checks every length against the remaining
//! input, so truncated or corrupt files fail with an error instead of a panic or a huge allocation.

use crate::error::{Error, Result};
use crate::float::{checked_numel, BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use crate::fsutil;
use prost::Message;
use proto::{attribute_type as at, AttributeProto, ModelProto, NodeProto, TensorProto};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

/// The op types this importer understands (named in every "unsupported" error).
pub const SUPPORTED_OPS: &str = "Conv, Gemm, MatMul (+ Add of a constant bias), BatchNormalization, Relu, \
Clip (min 0 → PACT), MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape (flatten only), Add, \
Mul (by a per-channel constant), Identity, Dropout, Cast, Constant; quantized: QuantizeLinear, DequantizeLinear, \
and Quant/BipolarQuant in the QONNX domains";

/// Load an ONNX model exported from PyTorch into a FloatModel. `input_scale` is the real value of one input
/// pixel code (default 1/255). The returned model has passed [`FloatModel::shapes`].
pub fn load_onnx(path: &Path, input_scale: f32) -> Result<FloatModel> {
    if !(input_scale.is_finite() && input_scale > 0.0) {
        return Err(Error::config(format!(
            "input scale {input_scale} must be finite and > 0"
        )));
    }
    let bytes = fsutil::read_capped(path, MAX_ONNX_BYTES, "an ONNX model (the protobuf limit)")?;
    from_bytes(path, &bytes, input_scale)
}

/// Largest ONNX file read: 2 GiB, the protobuf limit (larger models keep their weights in external files;
/// each external tensor is capped at the same size).
pub const MAX_ONNX_BYTES: u64 = 1 << 31;

/// [`load_onnx`] on the bytes of a file; `path` names the file in error messages, and its folder is where
/// external data files are looked for. A quantized graph (QONNX, QCDQ) is an error pointing to
/// [`load_onnx_any`] (`pact quantize` takes its widths from the file).
pub fn from_bytes(path: &Path, bytes: &[u8], input_scale: f32) -> Result<FloatModel> {
    match from_bytes_any(path, bytes, input_scale)? {
        (m, None) => Ok(m),
        (_, Some(p)) => Err(Error::file(
            path,
            format!(
                "is a quantized model ({}): quantize it with `pact quantize FILE -o OUT.pqm`, which takes its bit \
                 widths and integer weights from the file",
                p.format
            ),
        )),
    }
}

/// Load any ONNX model: a float model, or a quantized one (QONNX `Quant` nodes, or QCDQ
/// `QuantizeLinear`/`DequantizeLinear`, see [`super::qonnx`]) as its dequantized float model plus the
/// [`Preset`](crate::quantize::Preset) that [`crate::quantize::quantize_preset`] turns into the integer model.
/// `input_scale` is used for float models only (a quantized model's input `Quant` gives it).
pub fn load_onnx_any(path: &Path, input_scale: f32) -> Result<(FloatModel, Option<crate::quantize::Preset>)> {
    let bytes = fsutil::read_capped(path, MAX_ONNX_BYTES, "an ONNX model (the protobuf limit)")?;
    from_bytes_any(path, &bytes, input_scale)
}

/// [`load_onnx_any`] on the bytes of the file `path`.
pub fn from_bytes_any(
    path: &Path,
    bytes: &[u8],
    input_scale: f32,
) -> Result<(FloatModel, Option<crate::quantize::Preset>)> {
    if !(input_scale.is_finite() && input_scale > 0.0) {
        return Err(Error::config(format!(
            "input scale {input_scale} must be finite and > 0"
        )));
    }
    fsutil::reject_lfs_pointer(path, bytes)?;
    let mut onnx = ModelProto::decode(bytes).map_err(|e| {
        Error::file(
            path,
            one_line(&format!("not a valid ONNX model (truncated or corrupt protobuf: {e})")),
        )
    })?;
    super::qonnx::resolve_external(&mut onnx, path).map_err(|msg| Error::file(path, one_line(&msg)))?;
    let (model, preset) = convert(&onnx, input_scale).map_err(|msg| Error::file(path, one_line(&msg)))?;
    model.shapes().map_err(|e| e.in_file(path))?;
    Ok((model, preset))
}

/// How [`Error::Layer`] messages start: such errors are not prefixed with the node being converted.
const LAYER_ERROR: &str = "layer '";

/// Internal errors are plain messages; [`load_onnx`] adds the file name.
type Res<T> = std::result::Result<T, String>;

/// Quote a name from the file for an error message (escaped, so the message stays one line).
fn q(s: &str) -> String {
    format!("'{}'", s.escape_debug())
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A constant tensor (initializer, `Constant` node, or derived from one by `Cast`).
#[derive(Clone, Debug)]
pub(super) struct Const {
    pub(super) name: String,
    pub(super) dims: Vec<usize>,
    pub(super) data: Data,
    /// The ONNX data type it was stored as (QCDQ tells signedness by it); FLOAT for derived floats.
    pub(super) dtype: i32,
}

#[derive(Clone, Debug)]
pub(super) enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl Const {
    pub(super) fn numel(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }
    /// The values as f32 (integers converted).
    pub(super) fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
    /// Float values that must all be finite (weights, statistics).
    pub(super) fn finite_f32(&self) -> Res<Vec<f32>> {
        let v = match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(_) => {
                return Err(format!(
                    "tensor {} must be a float tensor, it holds integers ({})",
                    q(&self.name),
                    dtype_name(self.dtype)
                ))
            }
        };
        if let Some(p) = v.iter().position(|x| !x.is_finite()) {
            return Err(format!(
                "tensor {} holds {} at index {p} (weights must be finite)",
                q(&self.name),
                v[p]
            ));
        }
        Ok(v)
    }
    /// The single value of a scalar (or 1-element) constant, as f32.
    pub(super) fn scalar(&self) -> Res<f32> {
        if self.numel() != 1 {
            return Err(format!(
                "tensor {} has shape {:?}, expected a scalar",
                q(&self.name),
                self.dims
            ));
        }
        Ok(self.to_f32()[0])
    }
}

/// What a tensor name of the graph stands for.
#[derive(Clone, Debug)]
pub(super) enum Value<'a> {
    /// The output of a float model node.
    Act(usize),
    /// An initializer or `Constant` tensor, decoded when used (its name as known in the graph).
    Proto(&'a TensorProto, &'a str),
    /// A decoded constant.
    Const(Rc<Const>),
    /// The integer output of a QCDQ `QuantizeLinear` (or an integer constant through `Clip`), waiting for its
    /// `DequantizeLinear`.
    Pending(Rc<super::qonnx::Pending<'a>>),
}

/// Name of an ONNX data type (for messages).
pub(super) fn dtype_name(t: i32) -> String {
    let name = match t {
        0 => "UNDEFINED",
        1 => "FLOAT",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FLOAT16",
        11 => "DOUBLE",
        12 => "UINT32",
        13 => "UINT64",
        14 => "COMPLEX64",
        15 => "COMPLEX128",
        16 => "BFLOAT16",
        _ => return format!("data type {t}"),
    };
    name.to_string()
}

use proto::data_type::{DOUBLE, FLOAT, INT32, INT64, INT8, UINT8};

/// Decode the data of a tensor proto. Never allocates more than the data actually present in the file.
fn decode(t: &TensorProto, name: &str) -> Res<Const> {
    let n = q(name);
    if t.data_location == proto::DATA_LOCATION_EXTERNAL || !t.external_data.is_empty() {
        // Initializers' external data is read before the conversion (resolve_external); this is another tensor
        // (a Constant node's value), whose data is never opened.
        return Err(format!(
            "tensor {n} keeps its data in an external file, which is only supported for initializers"
        ));
    }
    if t.data_location != proto::DATA_LOCATION_DEFAULT {
        return Err(format!("tensor {n} has unknown data_location {}", t.data_location));
    }
    if t.segment.is_some() {
        return Err(format!("tensor {n} is segmented, which is not supported"));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor {n} has a negative dimension in {:?}", t.dims)))
        .collect::<Res<_>>()?;
    let numel = checked_numel(&dims).ok_or_else(|| format!("tensor {n} has shape {dims:?}, which overflows"))?;
    let raw = &t.raw_data;
    // Check the stored amount of data against the shape before converting anything.
    let check = |typed_len: usize, width: usize| -> Res<()> {
        if !raw.is_empty() && typed_len != 0 {
            return Err(format!("tensor {n} has both raw_data and typed data"));
        }
        if !raw.is_empty() {
            let want = numel
                .checked_mul(width)
                .ok_or_else(|| format!("tensor {n} has shape {dims:?}, which overflows"))?;
            if raw.len() != want {
                return Err(format!(
                    "tensor {n} has {} bytes of data, but shape {dims:?} of {} needs {want}",
                    raw.len(),
                    dtype_name(t.data_type)
                ));
            }
        } else if typed_len != numel {
            return Err(format!(
                "tensor {n} has {typed_len} {} values, but shape {dims:?} needs {numel}",
                dtype_name(t.data_type)
            ));
        }
        Ok(())
    };
    let data = match t.data_type {
        FLOAT => {
            check(t.float_data.len(), 4)?;
            Data::F32(if raw.is_empty() {
                t.float_data.clone()
            } else {
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
        }
        DOUBLE => {
            check(t.double_data.len(), 8)?;
            Data::F32(if raw.is_empty() {
                t.double_data.iter().map(|&x| x as f32).collect()
            } else {
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
                    .collect()
            })
        }
        INT64 => {
            check(t.int64_data.len(), 8)?;
            Data::I64(if raw.is_empty() {
                t.int64_data.clone()
            } else {
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect()
            })
        }
        INT32 => {
            check(t.int32_data.len(), 4)?;
            Data::I64(if raw.is_empty() {
                t.int32_data.iter().map(|&x| x as i64).collect()
            } else {
                raw.chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                    .collect()
            })
        }
        INT8 | UINT8 => {
            // Typed data of 8-bit tensors is stored in int32_data.
            check(t.int32_data.len(), 1)?;
            Data::I64(if raw.is_empty() {
                t.int32_data.iter().map(|&x| x as i64).collect()
            } else if t.data_type == INT8 {
                raw.iter().map(|&b| b as i8 as i64).collect()
            } else {
                raw.iter().map(|&b| b as i64).collect()
            })
        }
        other => {
            return Err(format!(
                "tensor {n} has data type {}; only FLOAT (and DOUBLE, INT64, INT32, INT8, UINT8 constants) are \
                 supported",
                dtype_name(other)
            ))
        }
    };
    Ok(Const {
        name: name.to_string(),
        dims,
        data,
        dtype: t.data_type,
    })
}

// ---- attributes ----

fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// Reject attributes this importer does not know for the op (their meaning would be silently lost).
pub(super) fn check_attrs(node: &NodeProto, allowed: &[&str]) -> Res<()> {
    let mut seen = HashSet::new();
    for a in &node.attribute {
        if !a.ref_attr_name.is_empty() {
            return Err(format!(
                "attribute {} refers to a function attribute, which is not supported",
                q(&a.name)
            ));
        }
        if !seen.insert(a.name.as_str()) {
            return Err(format!("attribute {} is given twice", q(&a.name)));
        }
        if !allowed.contains(&a.name.as_str()) {
            let list = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(format!("attribute {} is not supported (supported: {list})", q(&a.name)));
        }
    }
    Ok(())
}

fn attr_typed<'n>(node: &'n NodeProto, name: &str, ty: i32) -> Res<Option<&'n AttributeProto>> {
    match attr(node, name) {
        None => Ok(None),
        Some(a) if a.r#type == ty => Ok(Some(a)),
        Some(a) => Err(format!(
            "attribute {} has type {}, expected {}",
            q(name),
            at::name(a.r#type),
            at::name(ty)
        )),
    }
}

pub(super) fn attr_int(node: &NodeProto, name: &str, default: i64) -> Res<i64> {
    Ok(attr_typed(node, name, at::INT)?.map_or(default, |a| a.i))
}

pub(super) fn attr_float(node: &NodeProto, name: &str, default: f32) -> Res<f32> {
    Ok(attr_typed(node, name, at::FLOAT)?.map_or(default, |a| a.f))
}

fn attr_ints<'n>(node: &'n NodeProto, name: &str) -> Res<Option<&'n [i64]>> {
    Ok(attr_typed(node, name, at::INTS)?.map(|a| a.ints.as_slice()))
}

pub(super) fn attr_string(node: &NodeProto, name: &str) -> Res<Option<String>> {
    Ok(attr_typed(node, name, at::STRING)?.map(|a| String::from_utf8_lossy(&a.s).into_owned()))
}

/// Largest kernel size, stride, padding or input dimension accepted (keeps every size product far from overflow).
const MAX_DIM: i64 = 1 << 16;

/// A list attribute of exactly `N` values in `min..=MAX_DIM`, as usize.
fn attr_dims<const N: usize>(node: &NodeProto, name: &str, default: [usize; N], min: i64) -> Res<[usize; N]> {
    let Some(v) = attr_ints(node, name)? else {
        return Ok(default);
    };
    if v.len() != N {
        return Err(format!("{name} = {v:?}: expected {N} values (only 2-D is supported)"));
    }
    let mut out = [0usize; N];
    for (o, &x) in out.iter_mut().zip(v) {
        if x < min || x > MAX_DIM {
            return Err(format!("{name} = {v:?}: values must be in {min}..={MAX_DIM}"));
        }
        *o = usize::try_from(x).map_err(|_| format!("{name} = {v:?} is out of range"))?;
    }
    Ok(out)
}

/// `auto_pad`: NOTSET (explicit `pads`) or VALID (no padding); SAME_* is rejected.
fn check_auto_pad(node: &NodeProto) -> Res<()> {
    match attr_string(node, "auto_pad")?.as_deref() {
        None | Some("NOTSET") => Ok(()),
        Some("VALID") => {
            if attr_dims(node, "pads", [0; 4], 0)? != [0; 4] {
                return Err("auto_pad = VALID together with non-zero pads".into());
            }
            Ok(())
        }
        Some(other) => Err(format!(
            "auto_pad = {} is not supported (only NOTSET with explicit pads, or VALID)",
            q(other)
        )),
    }
}

fn check_dilations(node: &NodeProto) -> Res<()> {
    if let Some(d) = attr_ints(node, "dilations")? {
        if d.iter().any(|&x| x != 1) {
            return Err(format!("dilations = {d:?}: only dilation 1 is supported"));
        }
    }
    Ok(())
}

/// Per-axis output size with ceil rounding (ONNX `ceil_mode = 1`), `None` if the window does not fit.
fn window_out_ceil(size: usize, k: usize, stride: usize, lo: usize, hi: usize) -> Option<usize> {
    let padded = size.checked_add(lo)?.checked_add(hi)?;
    if k == 0 || stride == 0 || padded < k {
        return None;
    }
    let mut out = (padded - k).div_ceil(stride) + 1;
    // ONNX/PyTorch drop a last window that would start inside the end padding.
    if (out - 1).checked_mul(stride)? >= size + lo {
        out -= 1;
    }
    Some(out)
}

// ---- the graph conversion ----

pub(super) struct Builder<'a> {
    pub(super) model: FloatModel,
    pub(super) values: HashMap<&'a str, Value<'a>>,
    /// Names of tensors whose node was changed by a later bias `Add` (reading them is an error).
    stale: HashMap<&'a str, String>,
    opset: i64,
    /// What the QONNX/QCDQ nodes said (empty for a float model).
    pub(super) qx: super::qonnx::QState,
}

fn convert(model: &ModelProto, input_scale: f32) -> Res<(FloatModel, Option<crate::quantize::Preset>)> {
    let graph = model
        .graph
        .as_ref()
        .ok_or("the file has no graph (not an ONNX model?)")?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or("the model declares no opset version for the default ONNX domain")?;
    if !graph.sparse_initializer.is_empty() {
        return Err("sparse initializers are not supported".into());
    }
    let mut values: HashMap<&str, Value> = HashMap::new();
    for t in &graph.initializer {
        if values
            .insert(t.name.as_str(), Value::Proto(t, t.name.as_str()))
            .is_some()
        {
            return Err(format!("initializer {} is defined twice", q(&t.name)));
        }
    }
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !values.contains_key(i.name.as_str()))
        .collect();
    if inputs.len() != 1 {
        let names: Vec<String> = inputs.iter().map(|i| q(&i.name)).collect();
        return Err(format!(
            "the graph has {} inputs besides initializers ({}); exactly one image input is supported",
            inputs.len(),
            names.join(", ")
        ));
    }
    let input = inputs[0];
    let iname = q(&input.name);
    let tensor_type = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| format!("graph input {iname} is not a tensor"))?;
    if tensor_type.elem_type != FLOAT {
        return Err(format!(
            "graph input {iname} has type {}; only float inputs are supported",
            dtype_name(tensor_type.elem_type)
        ));
    }
    let dims = &tensor_type
        .shape
        .as_ref()
        .ok_or_else(|| format!("graph input {iname} has no shape"))?
        .dim;
    match dims.first().and_then(|d| d.dim_value) {
        None | Some(1) => {}
        Some(n) => {
            return Err(format!(
                "graph input {iname} has a fixed batch size of {n}; export with batch 1 or a dynamic batch axis"
            ))
        }
    }
    let mut fixed = Vec::new();
    for d in dims.iter().skip(1) {
        match d.dim_value {
            Some(v) if v > 0 && v <= MAX_DIM => fixed.push(v as usize),
            Some(v) if v > MAX_DIM => return Err(format!("graph input {iname} has a dimension of {v}, too large")),
            _ => {
                return Err(format!(
                    "graph input {iname} must have fixed positive sizes after the batch axis"
                ))
            }
        }
    }
    let (shape, flat) = match fixed[..] {
        [c, h, w] => ([c, h, w], false),
        [f] => ([1, 1, f], true),
        _ => {
            return Err(format!(
                "graph input {iname} has rank {}; only [N, C, H, W] and [N, F] are supported",
                dims.len()
            ))
        }
    };
    let mut b = Builder {
        model: FloatModel {
            input: InputSpec {
                shape,
                scale: input_scale,
            },
            nodes: vec![Node {
                name: input.name.clone(),
                op: Op::Input,
                inputs: vec![],
            }],
        },
        values,
        stale: HashMap::new(),
        opset,
        qx: Default::default(),
    };
    let mut input_idx = 0;
    if flat {
        input_idx = b.push(format!("{}/flatten", input.name), Op::Flatten, vec![0]);
    }
    b.values.insert(input.name.as_str(), Value::Act(input_idx));

    for node in &graph.node {
        b.node(node).map_err(|msg| {
            // Shape errors of earlier nodes (found while this node needed a shape) already name their layer.
            if msg.starts_with(LAYER_ERROR) {
                msg
            } else {
                format!("node {} (op {}): {msg}", q(&label(node)), node.op_type.escape_debug())
            }
        })?;
    }

    if graph.output.len() != 1 {
        return Err(format!(
            "the graph has {} outputs; exactly one is supported",
            graph.output.len()
        ));
    }
    let out_name = graph.output[0].name.as_str();
    let out = match b.lookup(out_name).map_err(|m| format!("graph output: {m}"))? {
        Value::Act(i) => i,
        _ => return Err(format!("the graph output {} is a constant", q(out_name))),
    };
    if out == input_idx {
        return Err(format!("the graph output {} is the input itself", q(out_name)));
    }
    let (model, new_index) = prune(b.model, out);
    let preset = b.qx.preset(&new_index, &model)?;
    Ok((model, preset))
}

/// Keep node 0 and the nodes the output depends on; the output becomes the last node. Also returns each old
/// node's new index (`usize::MAX` for dropped nodes).
fn prune(model: FloatModel, out: usize) -> (FloatModel, Vec<usize>) {
    let mut keep = vec![false; out + 1];
    keep[0] = true;
    keep[out] = true;
    for i in (0..=out).rev() {
        if keep[i] {
            for &j in &model.nodes[i].inputs {
                keep[j] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; out + 1];
    let mut nodes = Vec::new();
    for (i, mut node) in model.nodes.into_iter().take(out + 1).enumerate() {
        if keep[i] {
            node.inputs.iter_mut().for_each(|j| *j = new_index[*j]);
            new_index[i] = nodes.len();
            nodes.push(node);
        }
    }
    (
        FloatModel {
            input: model.input,
            nodes,
        },
        new_index,
    )
}

/// The node's name, or its first output's name if it has none.
pub(super) fn label(node: &NodeProto) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else if let Some(o) = node.output.first().filter(|o| !o.is_empty()) {
        o.clone()
    } else {
        "(unnamed)".into()
    }
}

impl<'a> Builder<'a> {
    pub(super) fn push(&mut self, name: String, op: Op, inputs: Vec<usize>) -> usize {
        self.model.nodes.push(Node { name, op, inputs });
        self.model.nodes.len() - 1
    }

    pub(super) fn lookup(&self, name: &str) -> Res<Value<'a>> {
        if let Some(v) = self.values.get(name) {
            return Ok(v.clone());
        }
        if let Some(fused) = self.stale.get(name) {
            return Err(format!(
                "tensor {} is read after its bias was fused by Add node {}; this is not supported",
                q(name),
                q(fused)
            ));
        }
        Err(format!(
            "tensor {} is neither the graph input, an initializer nor the output of an earlier node",
            q(name)
        ))
    }

    /// Input `i` of `node`, `None` if absent (missing or empty name).
    pub(super) fn input(&self, node: &NodeProto, i: usize) -> Res<Option<Value<'a>>> {
        match node.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => self.lookup(name).map(Some),
        }
    }

    fn act(&self, node: &NodeProto, i: usize) -> Res<usize> {
        match self.input(node, i)? {
            Some(Value::Act(j)) => Ok(j),
            Some(Value::Pending(p)) => Err(p.unfinished()),
            Some(_) => Err(format!(
                "input {i} ({}) must be an activation, not a constant",
                q(&node.input[i])
            )),
            None => Err(format!("input {i} is missing")),
        }
    }

    pub(super) fn constant_of(v: Value<'a>) -> Res<Option<Rc<Const>>> {
        match v {
            Value::Act(_) => Ok(None),
            Value::Pending(p) => Err(p.unfinished()),
            Value::Proto(t, name) => Ok(Some(Rc::new(decode(t, name)?))),
            Value::Const(c) => Ok(Some(c)),
        }
    }

    /// Optional constant input `i` (an error if it is an activation).
    pub(super) fn opt_const(&self, node: &NodeProto, i: usize, what: &str) -> Res<Option<Rc<Const>>> {
        match self.input(node, i)? {
            None => Ok(None),
            Some(v) => match Self::constant_of(v)? {
                Some(c) => Ok(Some(c)),
                None => Err(format!(
                    "the {what} (input {i}, {}) must be a constant (initializer or Constant node), not an activation",
                    q(&node.input[i])
                )),
            },
        }
    }

    pub(super) fn constant(&self, node: &NodeProto, i: usize, what: &str) -> Res<Rc<Const>> {
        self.opt_const(node, i, what)?
            .ok_or_else(|| format!("the {what} (input {i}) is missing"))
    }

    /// A per-channel float vector of exactly `len` values (or broadcast from one value when `broadcast`).
    fn vector(c: &Const, len: usize, what: &str) -> Res<Vec<f32>> {
        let v = c.finite_f32()?;
        if v.len() != len {
            return Err(format!(
                "the {what} {} has {} values, expected {len}",
                q(&c.name),
                v.len()
            ));
        }
        Ok(v)
    }

    pub(super) fn set_output(&mut self, node: &'a NodeProto, v: Value<'a>) -> Res<()> {
        let name = node
            .output
            .first()
            .filter(|o| !o.is_empty())
            .ok_or("the node has no output")?;
        if self.values.contains_key(name.as_str()) || self.stale.contains_key(name.as_str()) {
            return Err(format!("tensor {} is produced twice", q(name)));
        }
        self.values.insert(name.as_str(), v);
        Ok(())
    }

    pub(super) fn only_first_output(node: &NodeProto) -> Res<()> {
        if let Some((k, o)) = node.output.iter().enumerate().skip(1).find(|(_, o)| !o.is_empty()) {
            return Err(format!(
                "output {k} ({}) is not supported; only the first output may be used",
                q(o)
            ));
        }
        Ok(())
    }

    pub(super) fn emit(&mut self, node: &'a NodeProto, op: Op, inputs: Vec<usize>) -> Res<()> {
        Self::only_first_output(node)?;
        let idx = self.push(label(node), op, inputs);
        self.set_output(node, Value::Act(idx))
    }

    /// Per-sample shape of node `idx` (validates the model built so far; errors name the faulty layer).
    fn shape_of(&self, idx: usize) -> Res<Vec<usize>> {
        let shapes = self.model.shapes().map_err(|e| match e {
            Error::Layer { .. } => e.to_string(),
            other => format!("{LAYER_ERROR}{}': {other}", self.model.nodes[idx].name.escape_debug()),
        })?;
        Ok(shapes[idx].clone())
    }

    fn node(&mut self, node: &'a NodeProto) -> Res<()> {
        if super::qonnx::DOMAINS.contains(&node.domain.as_str()) {
            return self.qonnx_node(node);
        }
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(format!(
                "op domain {} is not supported (supported: {SUPPORTED_OPS})",
                q(&node.domain)
            ));
        }
        match node.op_type.as_str() {
            "Conv" | "Gemm" | "MatMul" => {
                match node.op_type.as_str() {
                    "Conv" => self.conv(node)?,
                    "Gemm" => self.gemm(node)?,
                    _ => self.matmul(node)?,
                }
                self.attach_weights(node)
            }
            "QuantizeLinear" => self.quantize_linear(node),
            "DequantizeLinear" => self.dequantize_linear(node),
            "Mul" => self.mul(node),
            "BatchNormalization" => self.batchnorm(node),
            "Relu" => {
                check_attrs(node, &[])?;
                let x = self.act(node, 0)?;
                self.emit(node, Op::Relu, vec![x])
            }
            "Clip" => self.clip(node),
            "MaxPool" | "AveragePool" => self.pool(node),
            "GlobalAveragePool" => {
                check_attrs(node, &[])?;
                let x = self.act(node, 0)?;
                self.emit(node, Op::GlobalAvgPool, vec![x])
            }
            "Flatten" => self.flatten(node),
            "Reshape" => self.reshape(node),
            "Add" => self.add(node),
            "Identity" => {
                check_attrs(node, &[])?;
                Self::only_first_output(node)?;
                let v = self.input(node, 0)?.ok_or("input 0 is missing")?;
                self.set_output(node, v)
            }
            "Dropout" => self.dropout(node),
            "Cast" => self.cast(node),
            "Constant" => self.constant_node(node),
            other => Err(format!("op {} is not supported (supported: {SUPPORTED_OPS})", q(other))),
        }
    }

    fn conv(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(
            node,
            &["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
        )?;
        let x = self.act(node, 0)?;
        let w = self.constant(node, 1, "weight")?;
        if w.dims.len() != 4 {
            return Err(format!(
                "weight {} has shape {:?}; only 2-D convolutions ([out_c, in_c, kh, kw] weights) are supported",
                q(&w.name),
                w.dims
            ));
        }
        let group = attr_int(node, "group", 1)?;
        if group != 1 {
            return Err(format!(
                "group = {group}: only group = 1 is supported (no grouped or depthwise convolutions)"
            ));
        }
        check_dilations(node)?;
        check_auto_pad(node)?;
        if let Some(k) = attr_ints(node, "kernel_shape")? {
            if k.len() != 2 || k[0] as u64 != w.dims[2] as u64 || k[1] as u64 != w.dims[3] as u64 {
                return Err(format!("kernel_shape {k:?} does not match weight shape {:?}", w.dims));
            }
        }
        let stride = attr_dims(node, "strides", [1, 1], 1)?;
        let pad = attr_dims(node, "pads", [0; 4], 0)?;
        let data = w.finite_f32()?;
        let weight = Tensor::new(w.dims.clone(), data).map_err(|e| e.to_string())?;
        let bias = match self.opt_const(node, 2, "bias")? {
            Some(c) => Some(Self::vector(&c, w.dims[0], "bias")?),
            None => None,
        };
        self.emit(
            node,
            Op::Conv2d {
                weight,
                bias,
                stride,
                pad,
            },
            vec![x],
        )
    }

    fn gemm(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["alpha", "beta", "transA", "transB", "broadcast"])?;
        let trans_a = attr_int(node, "transA", 0)?;
        if trans_a != 0 {
            return Err(format!(
                "transA = {trans_a}: only transA = 0 (activation as A) is supported"
            ));
        }
        let trans_b = attr_int(node, "transB", 0)?;
        let alpha = attr_float(node, "alpha", 1.0)?;
        let beta = attr_float(node, "beta", 1.0)?;
        if !(alpha.is_finite() && beta.is_finite()) {
            return Err(format!("alpha = {alpha}, beta = {beta} must be finite"));
        }
        let x = self.act(node, 0)?;
        let bt = self.constant(node, 1, "weight")?;
        let mut weight = Self::matrix(&bt, trans_b != 0)?;
        if alpha != 1.0 {
            weight.data.iter_mut().for_each(|v| *v *= alpha);
        }
        let out = weight.shape[0];
        let bias = match self.opt_const(node, 2, "bias")? {
            Some(c) => {
                let v = c.finite_f32()?;
                let v = match v.len() {
                    n if n == out => v,
                    1 => vec![v[0]; out],
                    n => return Err(format!("bias {} has {n} values, expected {out} (or 1)", q(&c.name))),
                };
                Some(v.into_iter().map(|b| b * beta).collect())
            }
            None => None,
        };
        self.emit(node, Op::Dense { weight, bias }, vec![x])
    }

    /// A 2-D constant as a dense weight `[out, in]`: `transposed` means it is stored `[out, in]` already
    /// (Gemm transB = 1); otherwise it is `[in, out]` (MatMul, Gemm transB = 0) and gets transposed.
    fn matrix(c: &Const, out_in: bool) -> Res<Tensor> {
        if c.dims.len() != 2 {
            return Err(format!(
                "weight {} has shape {:?}; expected a 2-D matrix",
                q(&c.name),
                c.dims
            ));
        }
        let data = c.finite_f32()?;
        let (r, k) = (c.dims[0], c.dims[1]);
        let (shape, data) = if out_in {
            (vec![r, k], data)
        } else {
            let mut t = vec![0.0f32; data.len()];
            for i in 0..r {
                for j in 0..k {
                    t[j * r + i] = data[i * k + j];
                }
            }
            (vec![k, r], t)
        };
        Tensor::new(shape, data).map_err(|e| e.to_string())
    }

    fn matmul(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &[])?;
        let x = match self.input(node, 0)? {
            Some(Value::Act(j)) => j,
            Some(_) => return Err("only activation × constant matrix is supported (input 0 is a constant)".into()),
            None => return Err("input 0 is missing".into()),
        };
        let b = self.constant(node, 1, "weight")?;
        let weight = Self::matrix(&b, false)?;
        self.emit(node, Op::Dense { weight, bias: None }, vec![x])
    }

    fn batchnorm(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["epsilon", "momentum", "training_mode", "spatial"])?;
        let training = attr_int(node, "training_mode", 0)?;
        let outputs = node.output.iter().filter(|o| !o.is_empty()).count();
        if training != 0 || outputs > 1 {
            return Err(format!(
                "BatchNormalization in training form (training_mode = {training}, {outputs} used outputs) is not \
                 supported: export the model in eval mode (model.eval()) with training=TrainingMode.PRESERVE"
            ));
        }
        if attr_int(node, "spatial", 1)? != 1 {
            return Err("spatial = 0 is not supported".into());
        }
        let eps = attr_float(node, "epsilon", 1e-5)?;
        let x = self.act(node, 0)?;
        let scale = self.constant(node, 1, "scale")?;
        let channels = scale.numel();
        let gamma = Self::vector(&scale, channels, "scale")?;
        let beta = self.constant(node, 2, "bias")?;
        let beta = Self::vector(&beta, channels, "bias")?;
        let mean = self.constant(node, 3, "running mean")?;
        let mean = Self::vector(&mean, channels, "running mean")?;
        let var = self.constant(node, 4, "running variance")?;
        let var = Self::vector(&var, channels, "running variance")?;
        self.emit(
            node,
            Op::BatchNorm(BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
            }),
            vec![x],
        )
    }

    fn clip(&mut self, node: &'a NodeProto) -> Res<()> {
        if self.opset >= 11 && !matches!(self.input(node, 0)?, Some(Value::Act(_))) {
            return self.clip_integers(node);
        }
        let x = self.act(node, 0)?;
        let (min, max) = if self.opset < 11 {
            check_attrs(node, &["min", "max"])?;
            if node.input.iter().skip(1).any(|s| !s.is_empty()) {
                return Err(format!(
                    "Clip of opset {} takes min and max as attributes, not inputs",
                    self.opset
                ));
            }
            let min = attr_typed(node, "min", at::FLOAT)?.map(|a| a.f);
            let max = attr_typed(node, "max", at::FLOAT)?.map(|a| a.f);
            (min, max)
        } else {
            check_attrs(node, &[])?;
            let min = self.opt_const(node, 1, "min")?.map(|c| c.scalar()).transpose()?;
            let max = self.opt_const(node, 2, "max")?.map(|c| c.scalar()).transpose()?;
            (min, max)
        };
        const ONLY: &str = "only clip(x, 0, α) (PACT) and clip(x, 0) (ReLU) are supported";
        match min {
            None => return Err(format!("Clip has no lower bound; {ONLY}")),
            Some(m) if m != 0.0 => return Err(format!("min is {m}; {ONLY}")),
            Some(_) => {}
        }
        let op = match max {
            None => Op::Relu,
            Some(m) if m == f32::INFINITY => Op::Relu,
            Some(m) if m.is_finite() && m > 0.0 => Op::Pact { alpha: m },
            Some(m) => return Err(format!("max (the PACT α) is {m}; it must be finite and > 0")),
        };
        self.emit(node, op, vec![x])
    }

    fn pool(&mut self, node: &'a NodeProto) -> Res<()> {
        let is_max = node.op_type == "MaxPool";
        if is_max {
            check_attrs(
                node,
                &[
                    "auto_pad",
                    "ceil_mode",
                    "dilations",
                    "kernel_shape",
                    "pads",
                    "storage_order",
                    "strides",
                ],
            )?;
        } else {
            check_attrs(
                node,
                &[
                    "auto_pad",
                    "ceil_mode",
                    "count_include_pad",
                    "dilations",
                    "kernel_shape",
                    "pads",
                    "strides",
                ],
            )?;
        }
        let x = self.act(node, 0)?;
        check_auto_pad(node)?;
        check_dilations(node)?;
        if attr_ints(node, "kernel_shape")?.is_none() {
            return Err("kernel_shape is missing".into());
        }
        let kernel = attr_dims(node, "kernel_shape", [0, 0], 1)?;
        let stride = attr_dims(node, "strides", [1, 1], 1)?;
        let pad = attr_dims(node, "pads", [0; 4], 0)?;
        if !is_max && pad != [0; 4] {
            return Err(format!("pads = {pad:?}: only AveragePool without padding is supported"));
        }
        match attr_int(node, "ceil_mode", 0)? {
            0 => {}
            1 => {
                // Accepted only where rounding up gives the same output size as rounding down.
                let s = self.shape_of(x)?;
                let same = s.len() == 3
                    && (0..2).all(|a| {
                        let f = crate::float::window_out(s[a + 1], kernel[a], stride[a], pad[a], pad[a + 2]);
                        f.is_some() && f == window_out_ceil(s[a + 1], kernel[a], stride[a], pad[a], pad[a + 2])
                    });
                if !same {
                    return Err(format!(
                        "ceil_mode = 1 changes the output size for input {s:?}; only ceil_mode = 0 is supported"
                    ));
                }
            }
            c => return Err(format!("ceil_mode = {c} is not supported")),
        }
        let op = if is_max {
            Op::MaxPool { kernel, stride, pad }
        } else {
            Op::AvgPool { kernel, stride }
        };
        self.emit(node, op, vec![x])
    }

    /// Flatten each sample: nothing to do if the input is already a vector.
    fn flatten_to(&mut self, node: &'a NodeProto, x: usize) -> Res<()> {
        if self.shape_of(x)?.len() == 1 {
            Self::only_first_output(node)?;
            self.set_output(node, Value::Act(x))
        } else {
            self.emit(node, Op::Flatten, vec![x])
        }
    }

    fn flatten(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["axis"])?;
        let x = self.act(node, 0)?;
        let rank = self.shape_of(x)?.len() as i64 + 1;
        let axis = attr_int(node, "axis", 1)?;
        if axis != 1 && axis + rank != 1 {
            return Err(format!(
                "axis = {axis}: only axis = 1 (flatten each sample) is supported"
            ));
        }
        self.flatten_to(node, x)
    }

    fn reshape(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["allowzero"])?;
        let allow_zero = attr_int(node, "allowzero", 0)? != 0;
        let x = self.act(node, 0)?;
        let target = self.constant(node, 1, "shape")?;
        let Data::I64(t) = &target.data else {
            return Err(format!("shape {} must be an INT64 tensor", q(&target.name)));
        };
        let k = checked_numel(&self.shape_of(x)?)
            .and_then(|k| i64::try_from(k).ok())
            .ok_or("the input of the reshape is too large")?;
        let ok = match t[..] {
            [-1, b] => b == k,
            [0, b] if !allow_zero => b == -1 || b == k,
            [1, b] => b == -1 || b == k,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "reshape to {t:?} is not supported: only flattening each sample ([N, -1], [-1, {k}], [1, {k}]) is"
            ));
        }
        self.flatten_to(node, x)
    }

    fn add(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &[])?;
        let a = self.input(node, 0)?.ok_or("input 0 is missing")?;
        let b = self.input(node, 1)?.ok_or("input 1 is missing")?;
        match (a, b) {
            (Value::Act(i), Value::Act(j)) => self.emit(node, Op::Add, vec![i, j]),
            (Value::Act(i), c) | (c, Value::Act(i)) => {
                let c = Self::constant_of(c)?.ok_or("internal: constant expected")?;
                self.fuse_bias(node, i, &c)
            }
            _ => Err("adding two constants is not supported".into()),
        }
    }

    /// `Add(x, c)` with `x` the output of a Dense or Conv node: add `c` to that node's bias.
    fn fuse_bias(&mut self, node: &'a NodeProto, i: usize, c: &Const) -> Res<()> {
        Self::only_first_output(node)?;
        let kind = self.model.nodes[i].op.kind();
        let target = self.model.nodes[i].name.clone();
        let unsupported = || {
            format!(
                "adding a constant is only supported as the bias of the MatMul, Gemm or Conv right before it \
                 (here it follows {} node {})",
                kind,
                q(&target)
            )
        };
        let v = c.finite_f32()?;
        // Drop leading 1s of the constant's shape (batch broadcasting).
        let dims: Vec<usize> = c.dims.iter().copied().skip_while(|&d| d == 1).collect();
        let (out, per_channel) = match &self.model.nodes[i].op {
            Op::Dense { weight, .. } => (weight.shape[0], dims.len() <= 1),
            // ONNX broadcasting aligns trailing axes: a per-channel constant is [C, 1, 1] (or [1, C, 1, 1]).
            Op::Conv2d { weight, .. } => (weight.shape[0], dims.len() == 3 && dims[1] == 1 && dims[2] == 1),
            _ => return Err(unsupported()),
        };
        if let Some(reader) = self.model.nodes.iter().find(|n| n.inputs.contains(&i)) {
            return Err(format!(
                "{} is also read by node {}, so the constant cannot be fused into its bias",
                q(&target),
                q(&reader.name)
            ));
        }
        let add: Vec<f32> = match v.len() {
            1 => vec![v[0]; out],
            n if n == out && per_channel => v,
            _ => {
                return Err(format!(
                    "constant {} of shape {:?} is not a per-output bias of {} (which has {out} outputs)",
                    q(&c.name),
                    c.dims,
                    q(&target)
                ))
            }
        };
        match &mut self.model.nodes[i].op {
            Op::Dense { bias, .. } | Op::Conv2d { bias, .. } => match bias {
                Some(b) => b.iter_mut().zip(&add).for_each(|(b, a)| *b += a),
                None => *bias = Some(add),
            },
            _ => return Err(unsupported()),
        }
        // Every name of the node's output before the bias now means something else: forbid reading it.
        let old: Vec<&'a str> = self
            .values
            .iter()
            .filter(|(_, v)| matches!(v, Value::Act(j) if *j == i))
            .map(|(k, _)| *k)
            .collect();
        for name in old {
            self.values.remove(name);
            self.stale.insert(name, label(node));
        }
        self.set_output(node, Value::Act(i))
    }

    fn dropout(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["ratio", "seed", "is_test"])?;
        if let Some(t) = self.opt_const(node, 2, "training_mode")? {
            if t.scalar()? != 0.0 {
                return Err("training_mode is true; export the model in eval mode".into());
            }
        }
        // The optional mask output is not defined: a node reading it fails as reading an unknown tensor.
        let v = self.input(node, 0)?.ok_or("input 0 is missing")?;
        self.set_output(node, v)
    }

    fn cast(&mut self, node: &'a NodeProto) -> Res<()> {
        check_attrs(node, &["to", "saturate"])?;
        Self::only_first_output(node)?;
        let to = i32::try_from(attr_int(node, "to", -1)?).unwrap_or(-1);
        let v = self.input(node, 0)?.ok_or("input 0 is missing")?;
        let out = match Self::constant_of(v.clone())? {
            None => {
                if to != FLOAT {
                    return Err(format!(
                        "casts an activation to {}; only float activations are supported",
                        dtype_name(to)
                    ));
                }
                v
            }
            Some(c) => {
                let data = match to {
                    FLOAT | DOUBLE => Data::F32(c.to_f32()),
                    INT64 | INT32 => Data::I64(match &c.data {
                        Data::I64(v) => v.clone(),
                        Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
                    }),
                    _ => {
                        return Err(format!(
                            "casts a constant to {}, which is not supported",
                            dtype_name(to)
                        ))
                    }
                };
                let name = node.output.first().cloned().unwrap_or_default();
                Value::Const(Rc::new(Const {
                    name,
                    dims: c.dims.clone(),
                    data,
                    dtype: to,
                }))
            }
        };
        self.set_output(node, out)
    }

    pub(super) fn constant_node(&mut self, node: &'a NodeProto) -> Res<()> {
        Self::only_first_output(node)?;
        let out = node.output.first().map(String::as_str).unwrap_or_default();
        let [a] = &node.attribute[..] else {
            return Err(format!(
                "a Constant needs exactly one attribute, it has {}",
                node.attribute.len()
            ));
        };
        let c = |dims: Vec<usize>, data: Data| {
            let dtype = if matches!(data, Data::F32(_)) { FLOAT } else { INT64 };
            Value::Const(Rc::new(Const {
                name: out.to_string(),
                dims,
                data,
                dtype,
            }))
        };
        let ty = a.r#type;
        let v = match a.name.as_str() {
            "value" if ty == at::TENSOR => {
                Value::Proto(a.t.as_ref().ok_or("the value attribute holds no tensor")?, out)
            }
            "value_float" if ty == at::FLOAT => c(vec![], Data::F32(vec![a.f])),
            "value_floats" if ty == at::FLOATS => c(vec![a.floats.len()], Data::F32(a.floats.clone())),
            "value_int" if ty == at::INT => c(vec![], Data::I64(vec![a.i])),
            "value_ints" if ty == at::INTS => c(vec![a.ints.len()], Data::I64(a.ints.clone())),
            name => {
                return Err(format!(
                    "Constant attribute {} of type {} is not supported",
                    q(name),
                    at::name(ty)
                ))
            }
        };
        self.set_output(node, v)
    }
}

/// The subset of the ONNX protobuf schema (`onnx/onnx.proto`, IR version 10) that the importer reads, as
/// prost messages with the official field numbers. Fields not declared here are skipped when decoding. Public
/// so that tests and tools can build ONNX models (`prost::Message::encode_to_vec`).
pub mod proto {
    /// `TensorProto.DataLocation.DEFAULT`.
    pub const DATA_LOCATION_DEFAULT: i32 = 0;
    /// `TensorProto.DataLocation.EXTERNAL`.
    pub const DATA_LOCATION_EXTERNAL: i32 = 1;

    /// `TensorProto.DataType` values used here.
    pub mod data_type {
        pub const FLOAT: i32 = 1;
        pub const UINT8: i32 = 2;
        pub const INT8: i32 = 3;
        pub const INT32: i32 = 6;
        pub const INT64: i32 = 7;
        pub const FLOAT16: i32 = 10;
        pub const DOUBLE: i32 = 11;
    }

    /// `AttributeProto.AttributeType`.
    pub mod attribute_type {
        pub const UNDEFINED: i32 = 0;
        pub const FLOAT: i32 = 1;
        pub const INT: i32 = 2;
        pub const STRING: i32 = 3;
        pub const TENSOR: i32 = 4;
        pub const GRAPH: i32 = 5;
        pub const FLOATS: i32 = 6;
        pub const INTS: i32 = 7;
        pub const STRINGS: i32 = 8;
        pub const TENSORS: i32 = 9;
        pub const GRAPHS: i32 = 10;
        pub const SPARSE_TENSOR: i32 = 11;

        /// Name of an attribute type (for messages).
        pub fn name(t: i32) -> String {
            let n = match t {
                UNDEFINED => "UNDEFINED",
                FLOAT => "FLOAT",
                INT => "INT",
                STRING => "STRING",
                TENSOR => "TENSOR",
                GRAPH => "GRAPH",
                FLOATS => "FLOATS",
                INTS => "INTS",
                STRINGS => "STRINGS",
                TENSORS => "TENSORS",
                GRAPHS => "GRAPHS",
                SPARSE_TENSOR => "SPARSE_TENSOR",
                _ => return format!("type {t}"),
            };
            n.to_string()
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ModelProto {
        #[prost(int64, tag = "1")]
        pub ir_version: i64,
        #[prost(string, tag = "2")]
        pub producer_name: String,
        #[prost(string, tag = "3")]
        pub producer_version: String,
        #[prost(message, optional, tag = "7")]
        pub graph: Option<GraphProto>,
        #[prost(message, repeated, tag = "8")]
        pub opset_import: Vec<OperatorSetIdProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OperatorSetIdProto {
        #[prost(string, tag = "1")]
        pub domain: String,
        #[prost(int64, tag = "2")]
        pub version: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GraphProto {
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<NodeProto>,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<TensorProto>,
        #[prost(message, repeated, tag = "11")]
        pub input: Vec<ValueInfoProto>,
        #[prost(message, repeated, tag = "12")]
        pub output: Vec<ValueInfoProto>,
        #[prost(message, repeated, tag = "15")]
        pub sparse_initializer: Vec<SparseTensorProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeProto {
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, tag = "4")]
        pub op_type: String,
        #[prost(message, repeated, tag = "5")]
        pub attribute: Vec<AttributeProto>,
        #[prost(string, tag = "7")]
        pub domain: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AttributeProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(float, tag = "2")]
        pub f: f32,
        #[prost(int64, tag = "3")]
        pub i: i64,
        #[prost(bytes = "vec", tag = "4")]
        pub s: Vec<u8>,
        #[prost(message, optional, tag = "5")]
        pub t: Option<TensorProto>,
        #[prost(float, repeated, tag = "7")]
        pub floats: Vec<f32>,
        #[prost(int64, repeated, tag = "8")]
        pub ints: Vec<i64>,
        #[prost(int32, tag = "20")]
        pub r#type: i32,
        #[prost(string, tag = "21")]
        pub ref_attr_name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        #[prost(int64, repeated, tag = "1")]
        pub dims: Vec<i64>,
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        #[prost(message, optional, tag = "3")]
        pub segment: Option<Segment>,
        #[prost(float, repeated, tag = "4")]
        pub float_data: Vec<f32>,
        #[prost(int32, repeated, tag = "5")]
        pub int32_data: Vec<i32>,
        #[prost(int64, repeated, tag = "7")]
        pub int64_data: Vec<i64>,
        #[prost(string, tag = "8")]
        pub name: String,
        #[prost(bytes = "vec", tag = "9")]
        pub raw_data: Vec<u8>,
        #[prost(double, repeated, tag = "10")]
        pub double_data: Vec<f64>,
        #[prost(message, repeated, tag = "13")]
        pub external_data: Vec<StringStringEntryProto>,
        #[prost(int32, tag = "14")]
        pub data_location: i32,
    }

    /// `TensorProto.Segment`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Segment {
        #[prost(int64, tag = "1")]
        pub begin: i64,
        #[prost(int64, tag = "2")]
        pub end: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StringStringEntryProto {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// Only its presence matters (sparse initializers are rejected).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SparseTensorProto {
        #[prost(int64, repeated, tag = "3")]
        pub dims: Vec<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueInfoProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub r#type: Option<TypeProto>,
    }

    /// `TypeProto` with only its `tensor_type` member (other members of the oneof are skipped, leaving
    /// `tensor_type` empty).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeProto {
        #[prost(message, optional, tag = "1")]
        pub tensor_type: Option<TypeProtoTensor>,
    }

    /// `TypeProto.Tensor`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeProtoTensor {
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeProto {
        #[prost(message, repeated, tag = "1")]
        pub dim: Vec<Dimension>,
    }

    /// `TensorShapeProto.Dimension`: the oneof `value` as two optional fields.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(int64, optional, tag = "1")]
        pub dim_value: Option<i64>,
        #[prost(string, optional, tag = "2")]
        pub dim_param: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_mode_sizes() {
        // 5 wide, kernel 2, stride 2: floor 2, ceil 3.
        assert_eq!(window_out_ceil(5, 2, 2, 0, 0), Some(3));
        assert_eq!(crate::float::window_out(5, 2, 2, 0, 0), Some(2));
        // 4 wide: both 2.
        assert_eq!(window_out_ceil(4, 2, 2, 0, 0), Some(2));
        // A last window that would start inside the end padding is dropped: 4 wide, pads 1+1, k 2, s 3.
        assert_eq!(window_out_ceil(4, 2, 3, 1, 1), Some(2));
        assert_eq!(window_out_ceil(1, 2, 1, 0, 0), None);
    }

    #[test]
    fn prune_keeps_the_output_path() {
        let n = |name: &str, op: Op, inputs: Vec<usize>| Node {
            name: name.into(),
            op,
            inputs,
        };
        let m = FloatModel {
            input: InputSpec {
                shape: [1, 1, 4],
                scale: 1.0,
            },
            nodes: vec![
                n("in", Op::Input, vec![]),
                n("dead", Op::Relu, vec![0]),
                n("flat", Op::Flatten, vec![0]),
                n("relu", Op::Relu, vec![2]),
                n("after", Op::Relu, vec![3]),
            ],
        };
        let (p, _) = prune(m, 3);
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["in", "flat", "relu"]);
        assert_eq!(p.nodes[2].inputs, [1]);
    }
}
