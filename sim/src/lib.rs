//! Verilator co-simulation harness for the RTL that `pact-hdl` emits, plus an Icarus Verilog testbench runner.
//!
//! The Verilog depends on the model, so everything happens at run time:
//!
//! 1. `verilator --cc -Mdir DIR --top-module TOP --prefix Vdut [--trace] files…` (Verilator ≥ 5.0; Debian 12
//!    ships 5.006, which the `marlin` and `verilator` crates do not support, hence this crate).
//! 2. A small `extern "C"` C++ shim is generated from the ports Verilator declared (create/destroy, set/get a
//!    port by index, eval, clock tick, VCD tracing).
//! 3. The generated C++ (as a few unity files), the shim and the Verilator runtime are compiled in parallel
//!    with the compiler the `cc` crate finds, and linked into a shared library.
//! 4. The library is loaded with `libloading`; [`Sim`] is the safe API over it.
//!
//! Builds are cached by a SHA-256 content hash (sources, flags, Verilator and compiler version, shim template)
//! in [`default_cache_dir`]; the Verilator runtime objects are cached apart and shared by all designs. A cache
//! entry is built in a temporary folder and published with one atomic rename, so concurrent builders never see
//! or corrupt a half-built entry.
//!
//! ```no_run
//! use pact_sim::{Port, SimBuilder};
//! let mut sim = SimBuilder::new("mac").file("mac.v").sim()?;
//! let (a, b, acc) = (sim.port("a")?, sim.port("b")?, sim.port("acc")?);
//! sim.set_i64(a, -3);
//! sim.set_i64(b, 5);
//! sim.tick()?;
//! assert_eq!(sim.get_i64(acc), -15);
//! # Ok::<(), pact_sim::SimError>(())
//! ```
//!
//! `unsafe` code lives only in the private `ffi` module.

mod builder;
mod error;
mod ffi;
mod icarus;
mod port;
pub mod require;
mod shim;
mod sim;
mod toolchain;

pub use builder::{default_cache_dir, verilate_runs, BuildInfo, SimBuilder};
pub use error::{Result, SimError};
pub use icarus::{is_failure_line, IcarusRun, IcarusTestbench, ICARUS_INSTALL};
pub use port::{Direction, Port};
pub use sim::{Model, PortId, Sim};
pub use toolchain::{parse_verilator_version, verilator_info, VerilatorInfo, MIN_VERILATOR, VERILATOR_INSTALL};

/// Whether this crate can simulate: true since the Verilator harness landed (Verilator must still be installed;
/// [`verilator_info`] checks).
pub const AVAILABLE: bool = true;
