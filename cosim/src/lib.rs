//! Co-simulation of the generated accelerator against the golden integer model: the driver behind `pact sim` and
//! the hardware tests.
//!
//! * [`design::prepare`]: generate (or reuse, when unchanged) the design for a model and an array in a cache
//!   folder, with absolute `$readmemh` paths; [`design::verilate`]: build it with pact-sim (content-hash cache).
//! * [`Dut`]: one Verilated instance behind the accelerator's ports: streams an image (valid/ready, unsigned 8-bit
//!   pixel codes), counts the compute cycles, reads the class (16-bit unsigned), the logits (32-bit two's
//!   complement) and, after a debug halt after layer L, that layer's stored activation codes (unsigned).
//! * [`check()`] / [`run()`]: every image's class, every logit and the compute cycle count compared with `==` against
//!   [`pact_toolchain::golden::Golden`] and the manifest; at the first mismatching image it stops and locates the
//!   first differing layer and value by halting after each layer and comparing with `Golden::trace`
//!   ([`check::locate`]).
//! * [`icarus::run_icarus`]: the same comparison with the design running under Icarus Verilog.
//! * [`cli`]: `pact sim`'s arguments and driver.
//!
//! Injected faults ([`pact_hdl::accel::InjectedFault`], `RunOptions::fault`) exist only to prove the checks fail.
//! docs/simulation.md describes `pact sim`.

pub mod check;
pub mod cli;
pub mod design;
pub mod dut;
pub mod icarus;

pub use check::{check, locate, run, run_with_progress, CheckOptions, CoSimReport, LayerDiff, Mismatch, RunOptions};
pub use design::{prepare, verilate, Design};
pub use dut::{Dut, Inferred};

/// The repository's shipped default model, for tests and measurements (read from the source tree). One place to
/// change when the default model changes.
pub mod fixtures {
    use anyhow::Result;
    use pact_toolchain::qmodel::QModel;
    use std::path::PathBuf;

    /// Path of the default model inside the repository.
    pub const DEFAULT_MODEL: &str = "models/mnist5k-small-w4a4.json";

    /// The array shape the default model is built for (`--pe`): 1 × 4 fits the iCE40 UP5K (6 of 8 DSPs, 21 of 30
    /// block RAMs with yosys; see models/README.md) at 3 672 cycles per image.
    pub const DEFAULT_PE: usize = 1;
    /// See [`DEFAULT_PE`] (`--simd`).
    pub const DEFAULT_SIMD: usize = 4;

    /// The default model's absolute path (from this crate's source location).
    pub fn default_model_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_MODEL)
    }

    /// The default model, loaded as `pact sim` loads models ([`crate::cli::load_model`]: a float model is quantized
    /// with the defaults, W4A4 with 8-bit first and last layers).
    pub fn default_model() -> Result<QModel> {
        let mut q = crate::cli::load_model(&default_model_path())?;
        // A stable provenance: the Verilog header embeds it (and with it the Verilator cache key).
        q.provenance.source = DEFAULT_MODEL.into();
        Ok(q)
    }
}
