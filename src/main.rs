//! `pact`: PACT-quantized neural networks to verified FPGA hardware.
//!
//! Exit codes: 0 success, 1 failure (bad input, mismatch, tool failure), 2 usage error.

mod args;
mod cli;
mod defaults;
mod plot;
mod run_cmd;
mod run_report;
mod sweep;
mod synth_cmd;
mod ui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    single_candle_pool();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// Limit candle's element-wise barrier pool to the calling thread (`CANDLE_NUM_THREADS=1`) unless the user set it.
///
/// candle splits every large element-wise op over a pool of threads that *spin* on a barrier, beside the rayon
/// pool its matmul and pact's own kernels use; on a machine with few cores (or a busy one) the spinning threads
/// take the cores the workers need, and training ran 3–6× slower than on one thread (docs/performance.md).
/// Element-wise results do not depend on the split, so this changes no value. Done first thing in `main`, before
/// any other thread exists (setting the environment is only sound then).
fn single_candle_pool() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// `e` and its causes joined by `: ` (as `{e:#}` prints them), leaving out a cause whose text is already there:
/// errors whose message quotes their source (`path: {source}`) would otherwise say the OS error twice.
fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if s.contains(&c) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_quoted_by_its_parent_is_said_once() {
        let os = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(pact_toolchain::error::Error::io("f.pqm", os)).context("loading f.pqm");
        assert_eq!(one_line(&e), "loading f.pqm: f.pqm: gone");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(one_line(&plain), "outer: inner");
    }
}
