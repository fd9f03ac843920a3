//! A float model as an architecture file plus a weights file with PyTorch state-dict tensor names. This is
//! also pact's own float model format: [`save_float`] writes it, [`load_arch`] reads it.
//!
//! # Architecture file
//!
//! JSON (any extension but `.toml`) or TOML (`.toml`). Unknown keys are errors. Example (JSON):
//!
//! ```json
//! { "format": "pact-arch", "version": 1,
//!   "input": { "shape": [1, 28, 28], "scale": 0.00392156862745098 },
//!   "weights": "model.safetensors",
//!   "layers": [
//!     { "name": "conv1", "op": "conv2d", "weight": "conv1.weight", "bias": "conv1.bias", "stride": 1, "padding": 1 },
//!     { "name": "bn1", "op": "batchnorm", "prefix": "bn1", "eps": 1e-5 },
//!     { "name": "act1", "op": "pact", "alpha": "act1.alpha" },
//!     { "name": "conv2", "op": "conv2d", "weight": "conv2.weight", "padding": [1, 1] },
//!     { "name": "bn2", "op": "batchnorm", "prefix": "bn2" },
//!     { "name": "res", "op": "add", "inputs": ["act1", "bn2"] },
//!     { "name": "act2", "op": "relu" },
//!     { "name": "pool1", "op": "maxpool", "kernel": 2, "stride": 2 },
//!     { "name": "avg", "op": "avgpool", "kernel": [2, 2] },
//!     { "name": "act3", "op": "pact", "alpha": 6.0 },
//!     { "name": "flat", "op": "flatten" },
//!     { "name": "fc", "op": "dense", "weight": "fc.weight", "bias": "fc.bias" }
//!   ] }
//! ```
//!
//! The same in TOML:
//!
//! ```toml
//! format = "pact-arch"
//! version = 1
//! weights = "model.safetensors"
//!
//! [input]
//! shape = [1, 28, 28]
//! scale = 0.00392156862745098
//!
//! [[layers]]
//! name = "conv1"
//! op = "conv2d"
//! weight = "conv1.weight"
//! bias = "conv1.bias"
//! stride = 1
//! padding = 1
//!
//! [[layers]]
//! name = "res"
//! op = "add"
//! inputs = ["act1", "bn2"]
//! # … one [[layers]] table per layer, keys as in JSON
//! ```
//!
//! - `format` must be `"pact-arch"`, `version` 1.
//! - `input.shape` is `[channels, height, width]`; `input.scale` (default 1/255) is the real value of one step
//!   of the 8-bit pixel code: the model sees `code × scale`.
//! - `weights` is the weights file, relative to the directory of the architecture file (or absolute).
//! - Layers run in order. Each reads the previous layer (the first reads the model input) unless `inputs`
//!   lists layer names of earlier layers; `"input"` names the model input (a reserved layer name). The last
//!   layer is the output (logits). Layer names are unique.
//! - Ops and their keys (all others are rejected):
//!
//! | op | keys | tensors |
//! |---|---|---|
//! | `conv2d` | `weight` (required), `bias`, `stride` (1), `padding` (0) | weight `[out_c, in_c, kh, kw]`, bias `[out_c]` |
//! | `dense` | `weight` (required), `bias` | weight `[out, in]`, bias `[out]` |
//! | `batchnorm` | `prefix` (the layer name), `eps` (1e-5) | `<prefix>.weight`, `.bias`, `.running_mean`, `.running_var`, each `[C]` |
//! | `pact` | `alpha` (required): a tensor name (one element) or a number | |
//! | `relu`, `flatten`, `global_avgpool` | | |
//! | `maxpool` | `kernel` (required), `stride` (= kernel), `padding` (0) | |
//! | `avgpool` | `kernel` (required), `stride` (= kernel) | |
//! | `add` | `inputs` (required, two layer names) | |
//!
//! `kernel` and `stride` are an integer or `[height, width]`; `padding` is an integer, `[height, width]` or
//! `[top, left, bottom, right]`. A conv/dense layer without `bias` has none; but if the weights file holds the
//! bias that belongs to its weight (`x.weight` → `x.bias`) the file is rejected, since silently dropping a
//! trained bias is nearly always a mistake.
//!
//! # Weights file
//!
//! Chosen by content: a zip archive is NumPy `.npz` (`numpy.savez`, arrays named by tensor name, float32 or
//! float64), anything else is read as safetensors (F32; F64, F16 and BF16 are converted to f32). Tensors the
//! architecture does not name are ignored (a PyTorch state dict also holds e.g. `num_batches_tracked`), but
//! every tensor that is named must exist, have the expected shape and hold finite values; other dtypes, NaN,
//! infinity, α ≤ 0, duplicate tensor names, truncated or corrupt files and pickled (object) arrays are
//! rejected with a one-line error naming the file and the tensor. PyTorch `.pt`/`.pth` pickles are not read:
//! save `model.state_dict()` with `safetensors.torch.save_file` or `numpy.savez`.
//!
//! # Writing
//!
//! [`save_float`] writes the architecture file (TOML if its extension is `.toml`, JSON otherwise) and the
//! weights as `<same stem>.safetensors` beside it, each atomically. Tensors are named after the nodes:
//! `<node>.weight`, `<node>.bias`, `<node>.running_mean`, `<node>.running_var` (batchnorm: `weight` = γ,
//! `bias` = β) and `<node>.alpha` (shape `[1]`). The input node is always written (and read back) as
//! `"input"`. Floats are written so that they read back bit-identical.

use crate::error::{Error, Result};
use crate::float::{checked_numel, BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use crate::fsutil;
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use safetensors::tensor::{Metadata, TensorView};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// The `format` value of an architecture file.
pub const ARCH_FORMAT: &str = "pact-arch";
/// The architecture file version this code reads and writes.
pub const ARCH_VERSION: u32 = 1;
/// The ops an architecture file may use.
pub const SUPPORTED_OPS: &[&str] = &[
    "conv2d",
    "dense",
    "batchnorm",
    "pact",
    "relu",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "flatten",
    "add",
];

/// Largest weights file (or decompressed `.npz` member, or all members read from one `.npz` together) read:
/// 2 GiB.
pub const MAX_WEIGHTS_BYTES: u64 = 1 << 31;

/// Largest architecture file read: 16 MiB (a real one is a few kilobytes).
pub const MAX_ARCH_BYTES: u64 = 1 << 24;

/// Largest compression ratio (uncompressed / compressed size) of an `.npz` member larger than
/// [`NPZ_RATIO_MIN_BYTES`]: deflate cannot exceed ~1032:1, real float weights compress to ~1.1:1, and a
/// zip bomb relies on a huge ratio (or on members overlapping, which the total cap stops).
pub const MAX_NPZ_RATIO: u64 = 100;

/// Members up to this size (uncompressed) may have any ratio: an all-zero bias or running mean compresses
/// extremely well and is harmless at that size.
pub const NPZ_RATIO_MIN_BYTES: u64 = 1 << 24;

/// The architecture file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchFile {
    format: String,
    version: u32,
    weights: String,
    input: InputDef,
    layers: Vec<LayerDef>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDef {
    shape: [usize; 3],
    #[serde(default = "default_scale")]
    scale: f64,
}

fn default_scale() -> f64 {
    1.0 / 255.0
}

/// One layer; which keys are allowed depends on `op` (checked in [`build_op`]).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerDef {
    name: String,
    op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpha: Option<Alpha>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel: Option<Ints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stride: Option<Ints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    padding: Option<Ints>,
}

impl LayerDef {
    /// The op-specific keys present in this layer.
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |present: bool, key: &'static str| {
            if present {
                v.push(key)
            }
        };
        add(self.inputs.is_some(), "inputs");
        add(self.weight.is_some(), "weight");
        add(self.bias.is_some(), "bias");
        add(self.prefix.is_some(), "prefix");
        add(self.eps.is_some(), "eps");
        add(self.alpha.is_some(), "alpha");
        add(self.kernel.is_some(), "kernel");
        add(self.stride.is_some(), "stride");
        add(self.padding.is_some(), "padding");
        v
    }
}

/// An integer or a list of integers (kernel, stride, padding).
#[derive(Clone, Debug, PartialEq)]
struct Ints(Vec<usize>);

impl Serialize for Ints {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.len() == 1 {
            return s.serialize_u64(self.0[0] as u64);
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in &self.0 {
            seq.serialize_element(&(*v as u64))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Ints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ints;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Ints, E> {
                usize::try_from(v)
                    .map(|v| Ints(vec![v]))
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Ints, E> {
                usize::try_from(v)
                    .map(|v| Ints(vec![v]))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Ints, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<usize>()? {
                    if v.len() == 4 {
                        return Err(de::Error::custom("more than 4 values"));
                    }
                    v.push(x);
                }
                Ok(Ints(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// PACT α: a tensor name or a number.
#[derive(Clone, Debug, PartialEq)]
enum Alpha {
    Tensor(String),
    Value(f64),
}

impl Serialize for Alpha {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Alpha::Tensor(n) => s.serialize_str(n),
            Alpha::Value(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Alpha {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Alpha;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor name or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Alpha, E> {
                Ok(Alpha::Tensor(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Alpha, E> {
                Ok(Alpha::Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Alpha, E> {
                Ok(Alpha::Value(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Alpha, E> {
                Ok(Alpha::Value(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// Read an architecture file and the weights file it names into a validated [`FloatModel`] (node 0 is the
/// input, named `"input"`; node `i` is layer `i − 1` of the file).
pub fn load_arch(path: &Path) -> Result<FloatModel> {
    let bytes = fsutil::read_capped(path, MAX_ARCH_BYTES, "an architecture file")?;
    fsutil::reject_lfs_pointer(path, &bytes)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::file(path, format!("is not UTF-8 text (byte {})", e.valid_up_to())))?;
    let arch: ArchFile = if reads_as_toml(path, text) {
        toml::from_str(text).map_err(|e| toml_error(path, text, &e))?
    } else {
        serde_json::from_str(text).map_err(|e| Error::file(path, format!("invalid architecture file: {e}")))?
    };
    if arch.format != ARCH_FORMAT {
        return Err(Error::file(
            path,
            format!("format is '{}', expected '{ARCH_FORMAT}'", arch.format),
        ));
    }
    if arch.version != ARCH_VERSION {
        return Err(Error::file(
            path,
            format!(
                "version {} is not supported (this pact reads version {ARCH_VERSION})",
                arch.version
            ),
        ));
    }
    if arch.weights.is_empty() {
        return Err(Error::file(path, "'weights' is empty"));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut weights = Weights::open(&dir.join(&arch.weights))?;
    let model = build(&arch, &mut weights).map_err(|e| e.in_file(path))?;
    model.shapes().map_err(|e| e.in_file(path))?;
    Ok(model)
}

/// True for a `.toml` path.
fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Whether [`load_arch`] parses `text` as TOML: a `.toml` file is TOML, a `.json` file JSON; any other name by its
/// content (JSON opens with `{`).
fn reads_as_toml(path: &Path, text: &str) -> bool {
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    is_toml(path) || (!json && !text.trim_start().starts_with('{'))
}

/// A TOML error as one line with its line number.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let at = match e.span() {
        Some(span) => format!(
            "line {}: ",
            text[..span.start.min(text.len())].matches('\n').count() + 1
        ),
        None => String::new(),
    };
    Error::file(
        path,
        format!("invalid architecture file: {at}{}", one_line(e.message())),
    )
}

/// `s` with control characters escaped (names from files go into one-line messages).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Collapse any line breaks of a third-party message into spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn build(arch: &ArchFile, w: &mut Weights) -> Result<FloatModel> {
    if arch.layers.is_empty() {
        return Err(Error::config("'layers' is empty"));
    }
    if checked_numel(&arch.input.shape).is_none_or(|n| n > MAX_INPUT) {
        return Err(Error::config(format!(
            "input shape {:?} is larger than {MAX_INPUT} values",
            arch.input.shape
        )));
    }
    let input = InputSpec {
        shape: arch.input.shape,
        scale: arch.input.scale as f32,
    };
    let mut nodes = vec![Node {
        name: "input".into(),
        op: Op::Input,
        inputs: vec![],
    }];
    let mut index: HashMap<&str, usize> = HashMap::from([("input", 0)]);
    for (i, l) in arch.layers.iter().enumerate() {
        let me = i + 1;
        if l.name.is_empty() {
            return Err(Error::config(format!("layer {me} has an empty name")));
        }
        let strings = [Some(&l.name), l.weight.as_ref(), l.bias.as_ref(), l.prefix.as_ref()];
        let alpha = match &l.alpha {
            Some(Alpha::Tensor(t)) => Some(t),
            _ => None,
        };
        let inputs = l.inputs.iter().flatten().map(Some);
        if let Some(bad) = strings
            .into_iter()
            .chain([alpha])
            .chain(inputs)
            .flatten()
            .find(|s| s.chars().any(char::is_control))
        {
            return Err(Error::config(format!(
                "layer {me}: name '{}' contains control characters",
                printable(bad)
            )));
        }
        if l.name == "input" {
            return Err(Error::layer(
                &l.name,
                "the name 'input' is reserved for the model input",
            ));
        }
        if let Some(&j) = index.get(l.name.as_str()) {
            return Err(Error::layer(&l.name, format!("defined twice (layers {j} and {me})")));
        }
        let op = build_op(l, w)?;
        let inputs = match &l.inputs {
            None => vec![me - 1],
            Some(names) => names
                .iter()
                .map(|n| {
                    index.get(n.as_str()).copied().ok_or_else(|| {
                        Error::layer(
                            &l.name,
                            format!(
                                "input '{n}' is not an earlier layer (layers run in order; 'input' is the model input)"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        nodes.push(Node {
            name: l.name.clone(),
            op,
            inputs,
        });
        index.insert(&l.name, me);
    }
    Ok(FloatModel { input, nodes })
}

/// Largest kernel, stride or padding accepted (keeps every derived size far from overflow).
const MAX_WINDOW: usize = 1 << 16;

/// Largest input (C·H·W values) accepted.
const MAX_INPUT: usize = 1 << 31;

/// Reject window values above [`MAX_WINDOW`].
fn window_values(layer: &str, key: &str, v: &Ints) -> Result<()> {
    match v.0.iter().find(|&&x| x > MAX_WINDOW) {
        Some(x) => Err(Error::layer(
            layer,
            format!("'{key}' value {x} is larger than {MAX_WINDOW}"),
        )),
        None => Ok(()),
    }
}

/// `[h, w]` from an integer or a 2-list.
fn pair(layer: &str, key: &str, v: &Ints) -> Result<[usize; 2]> {
    window_values(layer, key, v)?;
    match v.0[..] {
        [k] => Ok([k, k]),
        [h, w] => Ok([h, w]),
        _ => Err(Error::layer(
            layer,
            format!("'{key}' must be an integer or [height, width], got {:?}", v.0),
        )),
    }
}

/// `[top, left, bottom, right]` from an integer, a 2-list or a 4-list.
fn pad4(layer: &str, v: &Ints) -> Result<[usize; 4]> {
    window_values(layer, "padding", v)?;
    match v.0[..] {
        [p] => Ok([p; 4]),
        [h, w] => Ok([h, w, h, w]),
        [t, l, b, r] => Ok([t, l, b, r]),
        _ => Err(Error::layer(
            layer,
            format!(
                "'padding' must be an integer, [height, width] or [top, left, bottom, right], got {:?}",
                v.0
            ),
        )),
    }
}

fn build_op(l: &LayerDef, w: &mut Weights) -> Result<Op> {
    let name = l.name.as_str();
    let (allowed, required): (&[&str], &[&str]) = match l.op.as_str() {
        "conv2d" => (&["inputs", "weight", "bias", "stride", "padding"], &["weight"]),
        "dense" => (&["inputs", "weight", "bias"], &["weight"]),
        "batchnorm" => (&["inputs", "prefix", "eps"], &[]),
        "pact" => (&["inputs", "alpha"], &["alpha"]),
        "relu" | "flatten" | "global_avgpool" => (&["inputs"], &[]),
        "maxpool" => (&["inputs", "kernel", "stride", "padding"], &["kernel"]),
        "avgpool" => (&["inputs", "kernel", "stride"], &["kernel"]),
        "add" => (&["inputs"], &["inputs"]),
        other => {
            return Err(Error::layer(
                name,
                format!("unknown op '{other}' (supported: {})", SUPPORTED_OPS.join(", ")),
            ))
        }
    };
    let given = l.given();
    if let Some(k) = given.iter().find(|k| !allowed.contains(k)) {
        return Err(Error::layer(
            name,
            format!("op '{}' does not take '{k}' (it takes: {})", l.op, allowed.join(", ")),
        ));
    }
    if let Some(k) = required.iter().find(|k| !given.contains(k)) {
        return Err(Error::layer(name, format!("op '{}' needs '{k}'", l.op)));
    }
    let op = match l.op.as_str() {
        "conv2d" | "dense" => {
            let wname = l.weight.as_deref().unwrap_or_default();
            let weight = w.get(name, wname)?;
            let (want, layout) = if l.op == "conv2d" {
                (4, "[out_c, in_c, kh, kw]")
            } else {
                (2, "[out, in]")
            };
            if weight.shape.len() != want {
                return Err(w.err(name, wname, format!("has shape {:?}, expected {layout}", weight.shape)));
            }
            let bias = match &l.bias {
                Some(bname) => {
                    let b = w.get(name, bname)?;
                    if b.shape != [weight.shape[0]] {
                        return Err(w.err(
                            name,
                            bname,
                            format!(
                                "has shape {:?}, expected [{}] (one value per output of '{wname}' {:?})",
                                b.shape, weight.shape[0], weight.shape
                            ),
                        ));
                    }
                    Some(b.data)
                }
                None => {
                    if let Some(sibling) = wname.strip_suffix("weight").map(|s| format!("{s}bias")) {
                        if w.has(&sibling) {
                            return Err(Error::layer(
                                name,
                                format!(
                                    "names no bias but the weights file holds '{sibling}'; add \"bias\": \"{sibling}\""
                                ),
                            ));
                        }
                    }
                    None
                }
            };
            if l.op == "dense" {
                Op::Dense { weight, bias }
            } else {
                let stride = l.stride.as_ref().map_or(Ok([1, 1]), |s| pair(name, "stride", s))?;
                let pad = l.padding.as_ref().map_or(Ok([0; 4]), |p| pad4(name, p))?;
                Op::Conv2d {
                    weight,
                    bias,
                    stride,
                    pad,
                }
            }
        }
        "batchnorm" => {
            let prefix = l.prefix.as_deref().unwrap_or(name);
            let mut vals = Vec::with_capacity(4);
            let mut first: Option<(String, Vec<usize>)> = None;
            for suffix in ["weight", "bias", "running_mean", "running_var"] {
                let tname = format!("{prefix}.{suffix}");
                let t = w.get(name, &tname)?;
                match &first {
                    None if t.shape.len() != 1 => {
                        return Err(w.err(name, &tname, format!("has shape {:?}, expected [channels]", t.shape)));
                    }
                    None => first = Some((tname, t.shape.clone())),
                    Some((fname, fshape)) if *fshape != t.shape => {
                        return Err(w.err(
                            name,
                            &tname,
                            format!("has shape {:?}, expected {fshape:?} like '{fname}'", t.shape),
                        ));
                    }
                    Some(_) => {}
                }
                vals.push(t.data);
            }
            let eps = l.eps.unwrap_or(1e-5);
            if !(eps.is_finite() && eps >= 0.0) {
                return Err(Error::layer(name, format!("eps {eps} must be finite and >= 0")));
            }
            let var = vals.pop().unwrap_or_default();
            let mean = vals.pop().unwrap_or_default();
            let beta = vals.pop().unwrap_or_default();
            let gamma = vals.pop().unwrap_or_default();
            if let Some(c) = var.iter().position(|&v| v < 0.0) {
                return Err(w.err(
                    name,
                    &format!("{prefix}.running_var"),
                    format!("value [{c}] is negative (a variance)"),
                ));
            }
            Op::BatchNorm(BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps: eps as f32,
            })
        }
        "pact" => {
            let alpha = match &l.alpha {
                Some(Alpha::Tensor(tname)) => {
                    let t = w.get(name, tname)?;
                    if t.numel() != 1 {
                        return Err(w.err(name, tname, format!("has shape {:?}, expected a single value", t.shape)));
                    }
                    let a = t.data[0];
                    if a <= 0.0 {
                        return Err(w.err(name, tname, format!("is alpha = {a}, which must be > 0")));
                    }
                    a
                }
                Some(Alpha::Value(v)) => {
                    let a = *v as f32;
                    if !(a.is_finite() && a > 0.0) {
                        return Err(Error::layer(name, format!("alpha {v} must be finite and > 0")));
                    }
                    a
                }
                None => return Err(Error::layer(name, "op 'pact' needs 'alpha'")),
            };
            Op::Pact { alpha }
        }
        "relu" => Op::Relu,
        "flatten" => Op::Flatten,
        "global_avgpool" => Op::GlobalAvgPool,
        "add" => Op::Add,
        "maxpool" | "avgpool" => {
            let kernel = pair(name, "kernel", l.kernel.as_ref().unwrap_or(&Ints(vec![0])))?;
            let stride = l.stride.as_ref().map_or(Ok(kernel), |s| pair(name, "stride", s))?;
            if l.op == "maxpool" {
                let pad = l.padding.as_ref().map_or(Ok([0; 4]), |p| pad4(name, p))?;
                Op::MaxPool { kernel, stride, pad }
            } else {
                Op::AvgPool { kernel, stride }
            }
        }
        other => return Err(Error::layer(name, format!("unknown op '{other}'"))),
    };
    if l.op == "add" && l.inputs.as_ref().map_or(0, Vec::len) != 2 {
        return Err(Error::layer(name, "op 'add' needs exactly two 'inputs'"));
    }
    Ok(op)
}

/// An opened weights file; tensors are decoded on demand.
struct Weights {
    path: PathBuf,
    store: Store,
}

enum Store {
    Safetensors {
        buf: Vec<u8>,
        data_start: usize,
        meta: Metadata,
    },
    Npz {
        zip: zip::ZipArchive<Cursor<Vec<u8>>>,
        entries: BTreeMap<String, usize>,
        /// Uncompressed bytes read from members so far (capped at [`MAX_WEIGHTS_BYTES`] in all).
        inflated: u64,
    },
}

impl Weights {
    fn open(path: &Path) -> Result<Weights> {
        let buf = fsutil::read_capped(path, MAX_WEIGHTS_BYTES, "a weights file")?;
        fsutil::reject_lfs_pointer(path, &buf)?;
        if buf.is_empty() {
            return Err(Error::file(path, "is empty"));
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ["pt", "pth", "ckpt", "pkl"].contains(&ext.as_str()) {
            return Err(Error::file(path, torch_message()));
        }
        let store = if buf.starts_with(b"PK") {
            open_npz(path, buf)?
        } else {
            open_safetensors(path, buf)?
        };
        Ok(Weights {
            path: path.to_path_buf(),
            store,
        })
    }

    /// An error about tensor `tensor` of layer `layer`, naming this file.
    fn err(&self, layer: &str, tensor: &str, msg: String) -> Error {
        Error::file(&self.path, format!("tensor '{tensor}' (layer '{layer}') {msg}"))
    }

    fn names(&self) -> Vec<String> {
        match &self.store {
            Store::Safetensors { meta, .. } => meta.offset_keys(),
            Store::Npz { entries, .. } => entries.keys().cloned().collect(),
        }
    }

    fn has(&self, name: &str) -> bool {
        match &self.store {
            Store::Safetensors { meta, .. } => meta.info(name).is_some(),
            Store::Npz { entries, .. } => entries.contains_key(name),
        }
    }

    /// Tensor `name` as f32, checked finite. `layer` is only for messages.
    fn get(&mut self, layer: &str, name: &str) -> Result<Tensor> {
        if !self.has(name) {
            let names = self.names();
            let hint = match names.iter().find(|n| n.ends_with(&format!(".{name}"))) {
                Some(n) => format!("; did you mean '{}'?", printable(n)),
                None => {
                    let shown: Vec<String> = names.iter().take(8).map(|n| printable(n)).collect();
                    let more = if names.len() > 8 { ", …" } else { "" };
                    format!("; it holds {} tensors: {}{more}", names.len(), shown.join(", "))
                }
            };
            return Err(self.err(layer, name, format!("is not in the file{hint}")));
        }
        let (shape, data, from) = match &mut self.store {
            Store::Safetensors { buf, data_start, meta } => {
                let info = meta
                    .info(name)
                    .ok_or_else(|| Error::file(&self.path, "tensor vanished"))?;
                let bytes = buf
                    .get(*data_start + info.data_offsets.0..*data_start + info.data_offsets.1)
                    .ok_or_else(|| Error::file(&self.path, format!("tensor '{name}' lies outside the file")))?;
                let data = decode_safetensors(info.dtype, bytes).ok_or_else(|| {
                    Error::file(
                        &self.path,
                        format!(
                            "tensor '{name}' (layer '{layer}') has dtype {:?}; only float tensors (F32, F64, F16, BF16) are read",
                            info.dtype
                        ),
                    )
                })?;
                (info.shape.clone(), data, format!("{:?}", info.dtype))
            }
            Store::Npz { zip, entries, inflated } => {
                let idx = entries[name];
                read_npz_member(&self.path, zip, idx, name, inflated)?
            }
        };
        if let Some(p) = data.iter().position(|x| !x.is_finite()) {
            let how = if from == "F64" {
                " (after conversion to f32)"
            } else {
                ""
            };
            return Err(self.err(
                layer,
                name,
                format!(
                    "value {} is {}{how}; weights must be finite",
                    multi_index(&shape, p),
                    data[p]
                ),
            ));
        }
        Tensor::new(shape, data).map_err(|e| self.err(layer, name, e.to_string()))
    }
}

fn torch_message() -> &'static str {
    "is a PyTorch pickle checkpoint, which pact does not read; save the state dict with \
     `safetensors.torch.save_file(model.state_dict(), 'model.safetensors')` or `numpy.savez`"
}

/// `[i, j, …]` of flat index `p` in `shape`.
fn multi_index(shape: &[usize], mut p: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = p % d;
            p /= d;
        }
    }
    format!("{idx:?}")
}

/// f32 values of a little-endian float tensor; `None` for non-float dtypes.
fn decode_safetensors(dtype: Dtype, b: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        _ => return None,
    })
}

/// IEEE binary16 → f32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let man = (h & 0x3ff) as u32;
    match exp {
        0 => sign * man as f32 * (2.0f32).powi(-24),
        31 if man == 0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => f32::from_bits(((h as u32 & 0x8000) << 16) | (((exp + 112) as u32) << 23) | (man << 13)),
    }
}

/// Keys of a JSON object, in order, duplicates kept.
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// The first name that occurs twice.
fn first_duplicate<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

fn open_safetensors(path: &Path, buf: Vec<u8>) -> Result<Store> {
    let (header_len, meta) = check_safetensors(path, &buf)?;
    Ok(Store::Safetensors {
        buf,
        data_start: 8 + header_len,
        meta,
    })
}

/// Parse and check the header of a safetensors file (also used for `.pqm` files): its length against the file
/// and the 100 MB cap, duplicate tensor names, tensor offsets that overlap, leave gaps or leave the file, shape ×
/// dtype overflow, and PyTorch pickles given instead. Returns the header length and the metadata.
pub(crate) fn check_safetensors(path: &Path, buf: &[u8]) -> Result<(usize, Metadata)> {
    let bad = |msg: String| Error::file(path, format!("is not a valid safetensors file: {msg}"));
    if buf.len() < 8 {
        return Err(bad(format!(
            "only {} bytes, shorter than the 8-byte header length",
            buf.len()
        )));
    }
    let n = u64::from_le_bytes([buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]]);
    if buf[0] == 0x80 && (2..=5).contains(&buf[1]) && n > buf.len() as u64 - 8 {
        return Err(Error::file(path, torch_message()));
    }
    if n > MAX_SAFETENSORS_HEADER {
        return Err(bad(format!(
            "header length {n} is over the {MAX_SAFETENSORS_HEADER}-byte cap (the file has {} bytes)",
            buf.len()
        )));
    }
    if n > buf.len() as u64 - 8 {
        return Err(bad(format!(
            "header length {n} is larger than the file ({} bytes): truncated or not safetensors",
            buf.len()
        )));
    }
    if let Ok(header) = std::str::from_utf8(&buf[8..8 + n as usize]) {
        if let Ok(Keys(keys)) = serde_json::from_str::<Keys>(header) {
            if let Some(d) = first_duplicate(keys.iter().map(String::as_str)) {
                return Err(Error::file(
                    path,
                    format!("tensor name '{}' appears twice in the header", printable(d)),
                ));
            }
        }
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(header) {
            check_tensor_ranges(&map, buf.len() as u64 - 8 - n).map_err(bad)?;
        }
    }
    let looks_pickled = buf[0] == 0x80 && (2..=5).contains(&buf[1]);
    let (header_len, meta) = SafeTensors::read_metadata(buf).map_err(|e| {
        if looks_pickled {
            return Error::file(path, torch_message());
        }
        bad(match e {
            SafeTensorError::InvalidHeader(_) => "the header is not UTF-8".into(),
            SafeTensorError::InvalidHeaderDeserialization(e) => format!("bad header: {e}"),
            SafeTensorError::HeaderTooLarge => "the header is larger than 100 MB".into(),
            SafeTensorError::MetadataIncompleteBuffer => {
                "the tensor data does not fill the file exactly (truncated or trailing bytes)".into()
            }
            SafeTensorError::InvalidOffset(t) => format!(
                "tensor '{}' has invalid data offsets (overlapping, leaving a gap, or out of order)",
                printable(&t)
            ),
            SafeTensorError::TensorInvalidInfo => "a tensor's byte range does not match its shape and dtype".into(),
            SafeTensorError::ValidationOverflow => "a tensor's shape × dtype size overflows".into(),
            other => one_line(&other.to_string()),
        })
    })?;
    Ok((header_len, meta))
}

/// Largest safetensors header accepted (the `safetensors` crate's own limit, 100 MB).
pub const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// Check the tensors of a parsed safetensors header by name before the `safetensors` crate sees them (its
/// errors name no tensor, or a wrong one): shape × dtype overflow, data offsets past the `avail` data bytes,
/// and overlapping byte ranges. Entries it cannot read are left to the crate.
fn check_tensor_ranges(
    map: &serde_json::Map<String, serde_json::Value>,
    avail: u64,
) -> std::result::Result<(), String> {
    let mut ranges: Vec<(u64, u64, &str)> = Vec::new();
    for (name, info) in map.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let shown = printable(name);
        let dtype = info.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let width: Option<u64> = match dtype {
            "F64" | "I64" | "U64" | "C64" => Some(8),
            "F32" | "I32" | "U32" => Some(4),
            "F16" | "BF16" | "I16" | "U16" => Some(2),
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => Some(1),
            _ => None,
        };
        let shape: Option<Vec<u64>> = info
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect());
        if let (Some(width), Some(shape)) = (width, &shape) {
            if shape
                .iter()
                .try_fold(width, |acc, &d| acc.checked_mul(d))
                .is_none_or(|b| b > usize::MAX as u64)
            {
                return Err(format!(
                    "tensor '{shown}' has shape {shape:?} of {dtype}, whose byte size overflows"
                ));
            }
        }
        let offsets: Option<Vec<u64>> = info
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect());
        if let Some([start, end]) = offsets.as_deref() {
            if *end > avail || *start > avail {
                return Err(format!(
                    "tensor '{shown}' has data offsets [{start}, {end}], outside the file's {avail} data bytes"
                ));
            }
            ranges.push((*start, *end, name));
        }
    }
    ranges.sort();
    for w in ranges.windows(2) {
        let ((s1, e1, a), (s2, e2, b)) = (w[0], w[1]);
        if s2 < e1 {
            return Err(format!(
                "tensors '{}' (bytes {s1}..{e1}) and '{}' (bytes {s2}..{e2}) overlap",
                printable(a),
                printable(b)
            ));
        }
    }
    Ok(())
}

/// Number of entries the zip's end-of-central-directory record declares, if found.
fn zip_declared_entries(buf: &[u8]) -> Option<usize> {
    let lo = buf.len().saturating_sub(22 + 65535);
    let pos = (lo..=buf.len().checked_sub(22)?)
        .rev()
        .find(|&i| buf[i..].starts_with(b"PK\x05\x06"))?;
    let n = u16::from_le_bytes([buf[pos + 10], buf[pos + 11]]);
    (n != 0xffff).then_some(n as usize)
}

fn open_npz(path: &Path, buf: Vec<u8>) -> Result<Store> {
    let declared = zip_declared_entries(&buf);
    let zip = zip::ZipArchive::new(Cursor::new(buf)).map_err(|e| {
        Error::file(
            path,
            format!("is not a valid .npz (zip) file: {}", one_line(&e.to_string())),
        )
    })?;
    if zip.file_names().any(|n| n.ends_with("data.pkl")) {
        return Err(Error::file(path, torch_message()));
    }
    let mut entries = BTreeMap::new();
    for i in 0..zip.len() {
        let Some(raw) = zip.name_for_index(i) else { continue };
        let name = raw.strip_suffix(".npy").unwrap_or(raw).to_string();
        if entries.insert(name.clone(), i).is_some() {
            return Err(Error::file(
                path,
                format!("array name '{}' appears twice", printable(&name)),
            ));
        }
    }
    if let Some(d) = declared.filter(|&d| d > zip.len()) {
        return Err(Error::file(
            path,
            format!(
                "declares {d} arrays but only {} distinct names: an array name appears twice",
                zip.len()
            ),
        ));
    }
    Ok(Store::Npz {
        zip,
        entries,
        inflated: 0,
    })
}

/// Read and decode member `idx` (array `name`) of an `.npz`: shape, f32 data, source dtype.
fn read_npz_member(
    path: &Path,
    zip: &mut zip::ZipArchive<Cursor<Vec<u8>>>,
    idx: usize,
    name: &str,
    inflated: &mut u64,
) -> Result<(Vec<usize>, Vec<f32>, String)> {
    let name = &printable(name);
    let bad = |msg: String| Error::file(path, format!("array '{name}': {msg}"));
    let mut member = zip
        .by_index(idx)
        .map_err(|e| bad(format!("unreadable zip member: {}", one_line(&e.to_string()))))?;
    let (size, packed) = (member.size(), member.compressed_size());
    // Zip bombs: a member, or all members together, inflating past the cap, or an extreme ratio.
    let left = MAX_WEIGHTS_BYTES - *inflated;
    if size > left {
        return Err(bad(format!(
            "{size} bytes uncompressed, more than the {MAX_WEIGHTS_BYTES}-byte limit for all arrays of a .npz \
             ({} already read): a zip bomb?",
            *inflated
        )));
    }
    if size > NPZ_RATIO_MIN_BYTES && size / packed.max(1) > MAX_NPZ_RATIO {
        return Err(bad(format!(
            "{size} bytes uncompressed from {packed} compressed, a ratio over {MAX_NPZ_RATIO}:1: a zip bomb?"
        )));
    }
    let mut bytes = Vec::with_capacity((size as usize).min(1 << 26));
    (&mut member)
        .take(size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("corrupt or truncated zip member: {}", one_line(&e.to_string()))))?;
    drop(member);
    if bytes.len() as u64 > size {
        return Err(bad(format!(
            "the zip member inflates past its declared {size} bytes (corrupt, or a zip bomb)"
        )));
    }
    *inflated += bytes.len() as u64;
    // Check the .npy header against the member size before anything is allocated from it.
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(bad("is not a .npy array (bad magic)".into()));
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    if hlen > bytes.len() - hstart {
        return Err(bad(format!(
            ".npy header length {hlen} is larger than the array's {} bytes (truncated)",
            bytes.len()
        )));
    }
    let mut depth = 0usize;
    for &b in &bytes[hstart..hstart + hlen] {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 16 {
            return Err(bad(".npy header is nested too deeply".into()));
        }
    }
    let header = ndarray_npy::npy::header::Header::from_reader(&mut &bytes[..])
        .map_err(|e| bad(format!("bad .npy header: {}", one_line(&e.to_string()))))?;
    let desc = header.type_descriptor.to_string();
    if desc.contains('O') {
        return Err(bad(format!(
            "holds Python objects (dtype {desc}, pickled), which are not read; save plain float32/float64 arrays"
        )));
    }
    let numel = checked_numel(&header.shape).ok_or_else(|| bad(format!("shape {:?} overflows", header.shape)))?;
    let data_len = bytes.len() - hstart - hlen;
    if numel.checked_mul(4).is_none_or(|b| b > data_len) {
        return Err(bad(format!(
            "header shape {:?} needs more than the {data_len} data bytes present (truncated)",
            header.shape
        )));
    }
    let npy_err = |e: ReadNpyError| match e {
        ReadNpyError::WrongDescriptor(_) => bad(format!(
            "has dtype {desc}; only float32 (<f4) and float64 (<f8) arrays are read"
        )),
        other => bad(format!("corrupt .npy data: {}", one_line(&other.to_string()))),
    };
    match ArrayD::<f32>::read_npy(&bytes[..]) {
        Ok(a) => Ok((a.shape().to_vec(), a.iter().copied().collect(), "float32".into())),
        Err(ReadNpyError::WrongDescriptor(_)) => {
            let a = ArrayD::<f64>::read_npy(&bytes[..]).map_err(npy_err)?;
            Ok((a.shape().to_vec(), a.iter().map(|&x| x as f32).collect(), "F64".into()))
        }
        Err(e) => Err(npy_err(e)),
    }
}

/// A float for a text file that parses back (via f64, as serde does) to exactly `x`: its shortest decimal
/// form when that round-trips, else its exact f64 value.
fn f32_text(x: f32) -> f64 {
    match x.to_string().parse::<f64>() {
        Ok(short) if short as f32 == x => short,
        _ => x as f64,
    }
}

/// The architecture as JSON with one line per layer.
fn json_text(arch: &ArchFile) -> serde_json::Result<String> {
    let layers = arch
        .layers
        .iter()
        .map(|l| serde_json::to_string(l).map(|s| format!("    {s}")))
        .collect::<serde_json::Result<Vec<_>>>()?;
    Ok(format!(
        "{{\n  \"format\": {},\n  \"version\": {},\n  \"weights\": {},\n  \"input\": {},\n  \"layers\": [\n{}\n  ]\n}}\n",
        serde_json::to_string(&arch.format)?,
        arch.version,
        serde_json::to_string(&arch.weights)?,
        serde_json::to_string(&arch.input)?,
        layers.join(",\n")
    ))
}

/// Write `model` as the architecture file `arch_path` (TOML if it ends in `.toml`, else JSON) and its
/// weights as `<same stem>.safetensors` beside it; both atomically. See the module documentation.
pub fn save_float(model: &FloatModel, arch_path: &Path) -> Result<()> {
    model.shapes().map_err(|e| e.in_file(arch_path))?;
    if model.nodes.len() < 2 {
        return Err(Error::file(arch_path, "the model has no layers besides the input"));
    }
    let weights_path = arch_path.with_extension("safetensors");
    if weights_path == arch_path {
        return Err(Error::file(
            arch_path,
            "the architecture file must not end in .safetensors",
        ));
    }
    let weights_name = weights_path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::file(arch_path, "the file name is not valid UTF-8"))?
        .to_string();
    let nodes = &model.nodes;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        if node.name.is_empty() || node.name == "input" {
            return Err(
                Error::layer(&node.name, format!("node {i} needs a name other than '' and 'input'")).in_file(arch_path),
            );
        }
        if let Some(j) = seen.insert(&node.name, i) {
            return Err(Error::layer(
                &node.name,
                format!("nodes {j} and {i} share this name; the architecture file refers to layers by name"),
            )
            .in_file(arch_path));
        }
    }
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let mut add = |name: String, shape: Vec<usize>, data: &[f32]| -> Result<String> {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        if tensors.insert(name.clone(), (shape, bytes)).is_some() {
            return Err(Error::file(arch_path, format!("two tensors would be named '{name}'")));
        }
        Ok(name)
    };
    let pair_ints = |p: [usize; 2]| {
        if p[0] == p[1] {
            Ints(vec![p[0]])
        } else {
            Ints(p.to_vec())
        }
    };
    let pad_ints = |p: [usize; 4]| {
        if p.iter().all(|&v| v == p[0]) {
            Ints(vec![p[0]])
        } else if p[0] == p[2] && p[1] == p[3] {
            Ints(vec![p[0], p[1]])
        } else {
            Ints(p.to_vec())
        }
    };
    let mut layers = Vec::with_capacity(nodes.len().saturating_sub(1));
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let name = &node.name;
        let inputs = if node.inputs == [i - 1] {
            None
        } else {
            Some(
                node.inputs
                    .iter()
                    .map(|&j| {
                        if j == 0 {
                            "input".to_string()
                        } else {
                            nodes[j].name.clone()
                        }
                    })
                    .collect(),
            )
        };
        let mut l = LayerDef {
            name: name.clone(),
            op: node.op.kind().to_string(),
            inputs,
            ..Default::default()
        };
        match &node.op {
            Op::Input => return Err(Error::layer(name, "only node 0 may be the input").in_file(arch_path)),
            Op::Dense { weight, bias } | Op::Conv2d { weight, bias, .. } => {
                l.weight = Some(add(format!("{name}.weight"), weight.shape.clone(), &weight.data)?);
                if let Some(b) = bias {
                    l.bias = Some(add(format!("{name}.bias"), vec![b.len()], b)?);
                }
                if let Op::Conv2d { stride, pad, .. } = &node.op {
                    l.stride = Some(pair_ints(*stride));
                    l.padding = Some(pad_ints(*pad));
                }
            }
            Op::BatchNorm(bn) => {
                for (suffix, v) in [
                    ("weight", &bn.gamma),
                    ("bias", &bn.beta),
                    ("running_mean", &bn.mean),
                    ("running_var", &bn.var),
                ] {
                    add(format!("{name}.{suffix}"), vec![v.len()], v)?;
                }
                l.prefix = Some(name.clone());
                l.eps = Some(f32_text(bn.eps));
            }
            Op::Pact { alpha } => {
                l.alpha = Some(Alpha::Tensor(add(format!("{name}.alpha"), vec![1], &[*alpha])?));
            }
            Op::MaxPool { kernel, stride, pad } => {
                l.kernel = Some(pair_ints(*kernel));
                l.stride = Some(pair_ints(*stride));
                l.padding = Some(pad_ints(*pad));
            }
            Op::AvgPool { kernel, stride } => {
                l.kernel = Some(pair_ints(*kernel));
                l.stride = Some(pair_ints(*stride));
            }
            Op::Relu | Op::GlobalAvgPool | Op::Flatten | Op::Add => {}
        }
        layers.push(l);
    }
    let arch = ArchFile {
        format: ARCH_FORMAT.into(),
        version: ARCH_VERSION,
        weights: weights_name,
        input: InputDef {
            shape: model.input.shape,
            scale: f32_text(model.input.scale),
        },
        layers,
    };
    let views = tensors
        .iter()
        .map(|(n, (shape, bytes))| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::file(&weights_path, format!("tensor '{n}': {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let st = safetensors::serialize(views, None)
        .map_err(|e| Error::file(&weights_path, format!("cannot serialize: {e}")))?;
    let ser_err = |e: String| Error::file(arch_path, format!("cannot serialize: {e}"));
    let text = if is_toml(arch_path) {
        toml::to_string(&arch).map_err(|e| ser_err(e.to_string()))?
    } else {
        json_text(&arch).map_err(|e| ser_err(e.to_string()))?
    };
    fsutil::write_atomic(&weights_path, &st)?;
    fsutil::write_atomic(arch_path, text.as_bytes())
}
