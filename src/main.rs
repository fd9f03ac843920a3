//! `pact`: PACT-quantized neural networks to verified FPGA hardware.
//!
//! Exit codes: 0 success, 1 failure (bad input, mismatch, tool failure), 2 usage error.

mod cli;
mod defaults;
mod plot;
mod run_cmd;
mod sweep;
mod synth_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
