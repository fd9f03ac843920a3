//! pact toolchain: the integer contract (one definition shared by the golden model and the RTL generator),
//! PACT/DoReFa quantization, model import, the quantized model format, the golden integer model and evaluation.

pub mod error;
pub mod float;
pub mod fsutil;
pub mod import;
pub mod data;

pub use error::{Error, Result};
