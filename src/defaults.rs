//! The embedded default: the shipped PACT model (architecture JSON + safetensors weights, built into the binary so
//! that `pact run` works from any directory), its quantization, and the accelerator shape it is built for.

use anyhow::{Context, Result};
use pact_toolchain::fsutil::write_atomic;
use std::path::{Path, PathBuf};

macro_rules! default_model {
    ($stem:literal, $arch:literal) => {
        /// File stem of the shipped default model in `models/`.
        pub const MODEL_STEM: &str = $stem;
        const MODEL_JSON: &[u8] = include_bytes!(concat!("../models/", $stem, ".json"));
        const MODEL_WEIGHTS: &[u8] = include_bytes!(concat!("../models/", $stem, ".safetensors"));
        /// File name of the architecture the default model was trained from (`pact train --arch`).
        pub const ARCH_FILE: &str = $arch;
        const ARCH_JSON: &[u8] = include_bytes!(concat!("../models/", $arch));
    };
}
default_model!("mnist5k-small-w4a4", "small-cnn-arch.json");

/// The training recipe of the shipped model (models/README.md): epochs.
pub const TRAIN_EPOCHS: usize = 30;

/// Default array shape of the generated accelerator (`--pe`, `--simd`): the shape the shipped default model is
/// built for (it fits the iCE40 UP5K).
pub const DEFAULT_PE: usize = pact_cosim::fixtures::DEFAULT_PE;
/// See [`DEFAULT_PE`].
pub const DEFAULT_SIMD: usize = pact_cosim::fixtures::DEFAULT_SIMD;

/// Inner weight bits of the default quantization (first and last layers: 8).
pub const WBITS: u32 = pact_toolchain::contract::DEFAULT_WBITS;
/// Inner activation bits of the default quantization.
pub const ABITS: u32 = pact_toolchain::contract::DEFAULT_ABITS;

/// Write the embedded default model into `dir` (its JSON and weights, and the architecture it was trained from,
/// atomically each) and return the model JSON's path. Files already there with the same bytes are left alone.
pub fn write_default_model(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = dir.join(format!("{MODEL_STEM}.json"));
    for (path, bytes) in [
        (json.clone(), MODEL_JSON),
        (dir.join(format!("{MODEL_STEM}.safetensors")), MODEL_WEIGHTS),
        (dir.join(ARCH_FILE), ARCH_JSON),
    ] {
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            write_atomic(&path, bytes).with_context(|| format!("writing the default model to {}", path.display()))?;
        }
    }
    Ok(json)
}
