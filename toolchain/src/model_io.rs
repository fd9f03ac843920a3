//! Loading any model file pact accepts, chosen by extension (or content for `.safetensors`):
//! `.onnx` (PyTorch export), `.json`/`.toml` (architecture + state dict), `.pqm` (quantized model).

use crate::error::{Error, Result};
use crate::float::FloatModel;
use crate::qmodel::QModel;
use std::path::Path;

/// A float or a quantized model.
pub enum AnyModel {
    Float(FloatModel),
    Quant(Box<QModel>),
}

/// Default real value of one input pixel code.
pub const DEFAULT_INPUT_SCALE: f32 = 1.0 / 255.0;

/// Load a float model (`.onnx`, `.json`, `.toml`). `input_scale` overrides the file's input scale
/// (ONNX files carry none: the default is 1/255).
pub fn load_float(path: &Path, input_scale: Option<f32>) -> Result<FloatModel> {
    if let Some(s) = input_scale {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::config(format!("--input-scale {s} must be finite and > 0")));
        }
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut m = match ext.as_str() {
        "onnx" => crate::import::onnx::load_onnx(path, input_scale.unwrap_or(DEFAULT_INPUT_SCALE))?,
        "json" | "toml" => crate::import::statedict::load_arch(path)?,
        _ => {
            return Err(Error::file(
                path,
                "is not a float model: expected .onnx, or a .json/.toml architecture file naming its weights",
            ))
        }
    };
    if let Some(s) = input_scale {
        m.input.scale = s;
    }
    Ok(m)
}

/// Load a float or a quantized model by extension: `.pqm`/`.safetensors` holding a pact manifest are quantized.
pub fn load_any(path: &Path, input_scale: Option<f32>) -> Result<AnyModel> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pqm" | "safetensors" => Ok(AnyModel::Quant(Box::new(QModel::load(path)?))),
        _ => Ok(AnyModel::Float(load_float(path, input_scale)?)),
    }
}
