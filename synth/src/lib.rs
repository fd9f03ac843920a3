//! `pact-synth`: from Verilog to an FPGA bitstream with open tools, with resource and timing reports and board
//! top-levels.
//!
//! * [`run`] drives yosys (`synth_ice40` / `synth_ecp5`), nextpnr (`nextpnr-ice40` from Debian,
//!   `nextpnr-ecp5` from YoWASP in a venv it can set up) and `icepack` / `ecppack` over a directory of Verilog
//!   and `$readmemh` files, keeps every stage's log, and writes `report.json` + `summary.txt`
//!   ([`SynthReport`]). Outputs are built in a work directory inside the output directory and moved into place
//!   at the end; a failed run leaves only `failed/` (logs and `error.txt`).
//! * Designs that cannot fit are refused before any tool runs, from the generator's estimate
//!   ([`estimate::check_fit`]), and again after synthesis from yosys' cell counts.
//! * With a board ([`Board`]), the design is wrapped in a top-level with a UART host interface, a PLL and reset
//!   handling ([`board`]), and placed with the board's constraint file from `constraints/`.
//!
//! ```no_run
//! use pact_synth::{run, Board, SynthOptions, Target};
//! let mut opts = SynthOptions::new("gen/", Target::Ice40Up5k, "build/");
//! opts.top = Some("pact_standin_accel".into());
//! opts.board = Some(Board::Icebreaker);
//! opts.freq_mhz = 48.0;
//! let report = run(&opts)?;
//! println!("{} LUT4, Fmax {:.1} MHz", report.luts, report.fmax_mhz);
//! # Ok::<(), pact_synth::SynthError>(())
//! ```
#![warn(missing_docs)]

pub mod board;
pub mod cli;
mod error;
pub mod estimate;
mod flow;
pub mod pll;
pub mod report;
pub mod target;
pub mod tools;
pub mod uart;

pub use error::{Result, SynthError, ToolFailure};
pub use estimate::Estimate;
pub use flow::{run, DspMode, SynthOptions, FAILED_DIR, REPORT_FILE, SUMMARY_FILE};
pub use report::SynthReport;
pub use target::{Board, Device, DeviceTotals, Family, Target};
