//! pact toolchain: the integer contract (one definition shared by the golden model and the RTL generator),
//! PACT/DoReFa quantization, model import, the quantized model format, the golden integer model and evaluation.

pub mod bench;
pub mod contract;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod float;
pub mod forward;
pub mod fsutil;
pub mod gemm;
pub mod golden;
pub mod import;
pub mod model_io;
pub mod qmodel;
pub mod quantize;
pub mod report;
pub mod window;

pub use error::{Error, Result};
