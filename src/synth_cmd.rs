//! `pact synth`: a quantized model (or an already generated design) to a bitstream with the open tools.
//!
//! The model is generated into `OUT/gen/` (`pact gen`'s output, checked against the target's memory first), then
//! `pact_synth::run` synthesizes, places, routes and packs it into `OUT/` (`report.json`, `summary.txt`, the
//! bitstream and every tool's log).

use anyhow::{bail, Context, Result};
use clap::Args;
use pact_hdl::accel::{generate, AccelConfig, GenReport};
use pact_synth::{SynthReport, Target};
use pact_toolchain::qmodel::QModel;
use std::path::{Path, PathBuf};

use crate::args::ArrayArgs;

/// `pact synth`.
#[derive(Args, Debug)]
pub struct SynthCmdArgs {
    /// A quantized model (.pqm), or a directory `pact gen` wrote (with manifest.json).
    pub design: PathBuf,
    #[command(flatten)]
    pub array: ArrayArgs,
    #[command(flatten)]
    pub synth: pact_synth::cli::SynthArgs,
}

/// The accelerator configuration for `target` (the fit rule checks the design against it before any tool runs).
/// With `--pe` and `--simd` both given (or no target), the shape is the user's (or the shipped default's); else
/// the array is sized automatically for the target, printing the choice and the runners-up unless `quiet`.
pub fn accel_config(array: ArrayArgs, target: Option<Target>, q: &QModel, quiet: bool) -> Result<AccelConfig> {
    use pact_hdl::accel::autosize::{candidates, Fixed};
    match (array.pe, array.simd, target) {
        (Some(pe), Some(simd), _) => Ok(AccelConfig::new(pe, simd)?
            .with_lane_bits(array.lane_bits)?
            .with_input_buffers(array.input_buffers.unwrap_or(2))?
            .with_shared_requant(array.shared())
            .with_target(target)),
        (pe, simd, Some(t)) => {
            let fixed = Fixed {
                pe,
                simd,
                lane_bits: array.lane_bits,
                input_buffers: array.input_buffers,
                shared_requant: array.requant.map(|r| r == crate::args::Requant::Shared),
            };
            let all = candidates(q, t, fixed)?;
            if !quiet {
                println!(
                    "automatic sizing for the {t}: {} shapes fit; chose {}",
                    all.len(),
                    all[0].line(t)
                );
                for c in all.iter().skip(1).take(4) {
                    println!("  runner-up {}", c.line(t));
                }
            }
            Ok(all[0].config)
        }
        (pe, simd, None) => Ok(AccelConfig::new(
            pe.unwrap_or(crate::defaults::DEFAULT_PE),
            simd.unwrap_or(crate::defaults::DEFAULT_SIMD),
        )?
        .with_lane_bits(array.lane_bits)?
        .with_input_buffers(array.input_buffers.unwrap_or(2))?
        .with_shared_requant(array.shared())),
    }
}

/// Generate `q` into `dir` (replacing an earlier generator output there), naming the model file on errors.
pub fn generate_into(q: &QModel, cfg: &AccelConfig, model: &Path, dir: &Path) -> Result<GenReport> {
    generate(q, cfg, dir).with_context(|| model.display().to_string())
}

/// Run `pact synth`: returns the report (also written to `OUT/report.json`).
pub fn run(a: &SynthCmdArgs, seed: u64, quiet: bool) -> Result<SynthReport> {
    let target = a.synth.target();
    if let Some(b) = a.synth.board {
        if !b.supports(target) {
            bail!(
                "board {b} does not carry a {target} (its FPGA is {})",
                b.default_target()
            );
        }
    }
    let sources = if a.design.is_dir() {
        if !a.design.join("manifest.json").is_file() {
            bail!(
                "{}: not a `pact gen` output directory (no manifest.json); give a .pqm model or a generated directory",
                a.design.display()
            );
        }
        a.design.clone()
    } else {
        let q = QModel::load(&a.design)?;
        let cfg = accel_config(a.array, Some(target), &q, quiet)?;
        let dir = a.synth.out.join("gen");
        let r = generate_into(&q, &cfg, &a.design, &dir)?;
        if !quiet {
            println!("{}", r.summary());
        }
        dir
    };
    let mut opts = a.synth.options(&sources, seed);
    opts.progress = !quiet;
    // With progress on, the flow prints its summary itself.
    let report = pact_synth::run(&opts).with_context(|| format!("synthesizing {}", a.design.display()))?;
    println!("wrote {}", a.synth.out.join(pact_synth::REPORT_FILE).display());
    Ok(report)
}
