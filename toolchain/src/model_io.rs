//! Loading any model file pact accepts: `.onnx` (PyTorch export), `.json`/`.toml` (architecture + state dict),
//! `.pqm` (quantized model). The extension decides when it is one of these (or `.safetensors`); any other name
//! (`pact quantize -o qmodel`, `pact train -o m`) is recognised by its first bytes, see [`sniff`].

use crate::error::{Error, Result};
use crate::float::FloatModel;
use crate::qmodel::QModel;
use std::io::Read;
use std::path::Path;

/// A float or a quantized model.
pub enum AnyModel {
    Float(FloatModel),
    Quant(Box<QModel>),
}

/// Default real value of one input pixel code.
pub const DEFAULT_INPUT_SCALE: f32 = 1.0 / 255.0;

/// The formats of model files pact reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// A quantized model: safetensors with the `pact-qmodel` manifest (`.pqm`).
    Quant,
    /// An ONNX protobuf (`.onnx`).
    Onnx,
    /// An architecture file naming its weights (`.json`, `.toml`).
    Arch,
}

/// What the error names when a file is none of the formats.
const FORMATS_TRIED: &str = "is not a model pact reads (tried: a quantized model .pqm = safetensors with a pact \
                             manifest, ONNX, an architecture file JSON/TOML)";

/// The format of the model file `path`: by extension when it is `.pqm`/`.safetensors`, `.onnx`, `.json` or
/// `.toml`, otherwise by content ([`sniff`]).
pub fn format_of(path: &Path) -> Result<ModelFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pqm" | "safetensors" => Ok(ModelFormat::Quant),
        "onnx" => Ok(ModelFormat::Onnx),
        "json" | "toml" => Ok(ModelFormat::Arch),
        _ => sniff(path),
    }
}

/// The format of `path` told by its first bytes: a safetensors header (an 8-byte little-endian length below
/// 2^48, then `{`) is a quantized model; text opening with `{` (after white space) or holding a `format = ` line
/// is an architecture file; a first byte 0x08 (protobuf field 1, varint: ONNX's `ir_version`, which exporters
/// write first) is ONNX. Anything else is an error naming the file and the formats tried.
pub fn sniff(path: &Path) -> Result<ModelFormat> {
    let mut head = Vec::with_capacity(4096);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().map_err(|e| Error::io(path, e))?.is_dir() {
        return Err(Error::file(path, "is a directory, expected a model file"));
    }
    file.take(4096).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    crate::fsutil::reject_lfs_pointer(path, &head)?;
    if head.len() > 8 && head[6..8] == [0, 0] && head[8] == b'{' {
        return Ok(ModelFormat::Quant);
    }
    if let Ok(text) = std::str::from_utf8(&head[..utf8_prefix(&head)]) {
        let t = text.trim_start();
        if t.starts_with('{') || t.lines().any(|l| l.trim_start().starts_with("format =")) {
            return Ok(ModelFormat::Arch);
        }
    }
    if head.first() == Some(&0x08) {
        return Ok(ModelFormat::Onnx);
    }
    Err(Error::file(path, FORMATS_TRIED))
}

/// Length of the longest prefix of `b` that is valid UTF-8 (a read cut in a character mid-way is still text).
fn utf8_prefix(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Ok(_) => b.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => 0,
    }
}

/// Load a float model (ONNX or an architecture file, see [`format_of`]). `input_scale` overrides the file's
/// input scale (ONNX files carry none: the default is 1/255).
pub fn load_float(path: &Path, input_scale: Option<f32>) -> Result<FloatModel> {
    if let Some(s) = input_scale {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::config(format!("--input-scale {s} must be finite and > 0")));
        }
    }
    let mut m = match format_of(path)? {
        ModelFormat::Onnx => crate::import::onnx::load_onnx(path, input_scale.unwrap_or(DEFAULT_INPUT_SCALE))?,
        ModelFormat::Arch => crate::import::statedict::load_arch(path)?,
        ModelFormat::Quant => {
            return Err(Error::file(
                path,
                "is a quantized model, not a float model: expected ONNX, or a JSON/TOML architecture file naming \
                 its weights",
            ))
        }
    };
    if let Some(s) = input_scale {
        m.input.scale = s;
    }
    Ok(m)
}

/// Load a float or a quantized model, whichever `path` holds ([`format_of`]).
pub fn load_any(path: &Path, input_scale: Option<f32>) -> Result<AnyModel> {
    match format_of(path)? {
        ModelFormat::Quant => Ok(AnyModel::Quant(Box::new(QModel::load(path)?))),
        _ => Ok(AnyModel::Float(load_float(path, input_scale)?)),
    }
}
