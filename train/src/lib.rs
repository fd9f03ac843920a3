//! PACT quantization-aware training (Choi et al. 2018) with candle, on the CPU.
//!
//! * [`quant`]: the quantizers as differentiable expressions — PACT `clip(x, 0, α)` with a learned α, quantized
//!   with round half up and a straight-through estimator; DoReFa weights.
//! * [`arch`]: the presets `mlp` and `cnn` and JSON architecture descriptions.
//! * [`net`]: a [`pact_toolchain::float::FloatModel`] graph as a trainable network; the bit widths per layer follow
//!   `pact_toolchain::quantize` exactly, so `pact quantize` reproduces what was trained.
//! * [`ops`]: im2col and max pooling as custom ops with their exact adjoints (speed on the CPU).
//! * [`optim`]: SGD with momentum and Adam with per-parameter L2 and a separate learning rate for α.
//! * [`train()`]: the training loop; [`run`]: the `pact train` command.
//! * [`experiment`]: `pact experiment pact-vs-clip` (FP32 vs PACT vs fixed clip); [`plot`]: its SVG plots.
//! * [`onnx`]: ONNX export of a float model (`pact train --onnx`).
//!
//! See `docs/training.md` for the semantics and the flags.

#![warn(missing_docs)]

pub mod arch;
pub mod cli;
pub mod experiment;
pub mod net;
pub mod onnx;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod quant;
pub mod train;

pub use arch::ArchSpec;
pub use cli::{run, AlphaStart, TrainArgs, TrainReport, AUTO_PERCENTILE};
pub use net::{AlphaInit, Net, ParamKind, Precision};
pub use optim::{Optimizer, OptimizerKind};
pub use train::{
    accuracy, initial_model, train, train_observed, train_run, BatchStats, EpochStats, ModelSpec, Schedule,
    TrainConfig, TrainOutcome, ADAM_ALPHA_LR_FACTOR,
};

/// Keep freed memory in the process instead of returning it to the OS after every tensor (glibc only; a no-op
/// elsewhere). candle allocates a fresh buffer for every intermediate tensor; with glibc's defaults the large
/// ones are `mmap`ed and unmapped each time, and page faults then cost about a third of a training step.
/// Raises the mmap threshold to 256 MiB and the trim threshold to 1 GiB for the whole process: meant for the
/// `pact train` command, benchmarks and tests, not for long-running hosts that want memory back.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
