//! `pact sim`: the arguments and the driver (the `pact` binary wires [`SimArgs`] and [`run`] into its CLI).

use crate::check::{self, CheckOptions, CoSimReport, RunOptions};
use crate::icarus;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pact_hdl::accel::{AccelConfig, InjectedFault};
use pact_toolchain::data::{self, Dataset};
use pact_toolchain::model_io::{self, AnyModel};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig};
use std::path::{Path, PathBuf};

/// How the PEs requantize (`--requant`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requant {
    /// One PACT unit per PE (its own multipliers).
    PerPe,
    /// One PACT unit shared by the PEs: a group's sums go in one per cycle (groups take at least PE cycles).
    Shared,
}

/// Which simulator runs the RTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Simulator {
    /// Verilator via pact-sim (millions of cycles/s; the design is verilated once and cached).
    Verilator,
    /// Icarus Verilog (1 000–3 000 cycles/s: a handful of images).
    Icarus,
}

/// A defect the generator can put into the design, for testing the checkers only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FaultArg {
    /// Every PACT unit rounds down instead of half up.
    PactRoundingBit,
    /// One bit flipped in the first layer's weight ROM.
    WeightRomBit,
}

impl From<FaultArg> for InjectedFault {
    fn from(f: FaultArg) -> Self {
        match f {
            FaultArg::PactRoundingBit => InjectedFault::PactRoundingBit,
            FaultArg::WeightRomBit => InjectedFault::WeightRomBit,
        }
    }
}

/// `pact sim`: co-simulate the generated accelerator against the golden integer model.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The quantized model (.pqm), or a float model (.json/.toml/.onnx) quantized with the defaults (W4A4, first
    /// and last layers 8 bits, DoReFa weights; its ReLUs need learned α).
    pub model: PathBuf,
    /// Data: mnist5k | digits | fashion-mnist (their test split) | PATH (IDX/CSV, used whole).
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Simulate at most N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output channels computed in parallel (1..=64).
    #[arg(long, default_value_t = crate::fixtures::DEFAULT_PE)]
    pub pe: usize,
    /// Inputs per output channel per cycle (1..=64; one of --pe/--simd divides the other).
    #[arg(long, default_value_t = crate::fixtures::DEFAULT_SIMD)]
    pub simd: usize,
    /// Digit width of the MAC lanes (1..=8; default: the model's widest operand, one pass per layer), as in
    /// `pact gen --lane-bits`.
    #[arg(long)]
    pub lane_bits: Option<u32>,
    /// Input buffers (1 or 2), as in `pact gen --input-buffers`.
    #[arg(long, default_value_t = 2)]
    pub input_buffers: usize,
    /// Requantization units, as in `pact gen --requant`.
    #[arg(long, value_enum, default_value_t = Requant::PerPe)]
    pub requant: Requant,
    /// Write a VCD waveform of the whole run (Verilator only; large: use --limit 1).
    #[arg(long, value_name = "FILE.vcd")]
    pub trace: Option<PathBuf>,
    /// The simulator.
    #[arg(long, value_enum, default_value_t = Simulator::Verilator)]
    pub simulator: Simulator,
    /// Also halt after every layer on the first N images and compare each stored tensor (Verilator only).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub layered: usize,
    /// Feed the pixels with random gaps (in_valid low), drawn from --seed (Verilator only).
    #[arg(long)]
    pub input_gaps: bool,
    /// Folder for generated designs (default: $PACT_COSIM_CACHE, else designs/ in pact-sim's build cache).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// For testing the checkers only: generate the design with this defect (the run must fail).
    #[arg(long, value_enum, hide = true)]
    pub inject_fault: Option<FaultArg>,
}

/// What a passing `pact sim` found (a mismatch is an error).
#[derive(Debug)]
pub struct SimOutcome {
    /// The co-simulation report (images, cycles, accuracy, design and build).
    pub report: CoSimReport,
    /// The data set's name.
    pub data: String,
}

/// Load a model as `pact sim` does: a .pqm as it is, a float model quantized with the defaults.
pub fn load_model(path: &Path) -> Result<QModel> {
    // The toolchain's errors name the file already.
    match model_io::load_any(path, None)? {
        AnyModel::Quant(q) => Ok(*q),
        AnyModel::Float(f) => {
            let cfg = QuantConfig::default();
            quantize(&f, &cfg, None, &path.display().to_string()).with_context(|| {
                format!(
                    "quantizing {} with the defaults (W{}A{}, first/last {} bits); run `pact quantize` first for \
                     other settings or calibration",
                    path.display(),
                    cfg.wbits(),
                    cfg.abits(),
                    cfg.first_last_bits()
                )
            })
        }
    }
}

/// Load the data as `pact eval` does: the test split of a named set, a PATH whole; at most `limit` images; the
/// images must have the model's input shape or as many pixels (then read as that shape, see
/// [`Dataset::fit_to`], and the note saying so is printed).
pub fn load_data(spec: &str, limit: Option<usize>, q: &QModel) -> Result<Dataset> {
    let mut ds = data::load_eval(spec, limit).with_context(|| format!("loading the data {spec}"))?;
    if let Some(note) = ds.fit_to(q.input.shape)? {
        println!("{note}");
    }
    Ok(ds)
}

/// A progress bar of `n` steps labelled `msg`, in the style every `pact` command uses; hidden when `quiet`.
pub fn progress_bar(n: usize, msg: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// `pact sim`: load the model and the data, generate (or reuse) the design, build (or reuse) the Verilator model,
/// stream every image and compare class, logits and compute cycles with the golden model (`==`). Prints the setup,
/// a progress bar (unless `quiet`) and the summary on stdout. `seed` drives `--input-gaps`. Any mismatch is an
/// error naming the image, the first differing layer, the position and the RTL and golden values.
pub fn run(args: &SimArgs, seed: u64, quiet: bool) -> Result<SimOutcome> {
    let q = load_model(&args.model)?;
    let ds = load_data(&args.data, args.limit, &q)?;
    let config = AccelConfig::new(args.pe, args.simd)?
        .with_lane_bits(args.lane_bits)?
        .with_input_buffers(args.input_buffers)?
        .with_shared_requant(args.requant == Requant::Shared);
    let verilator = args.simulator == Simulator::Verilator;
    if !verilator && args.trace.is_some() {
        bail!("--trace needs --simulator verilator");
    }
    if !verilator && args.input_gaps {
        bail!("--input-gaps needs --simulator verilator");
    }
    let opts = RunOptions {
        config,
        fault: args.inject_fault.map(Into::into),
        cache_dir: args.cache.clone(),
        trace: args.trace.clone(),
        check: CheckOptions {
            layered: if verilator { args.layered } else { 0 },
            gap_seed: args.input_gaps.then_some(seed),
        },
    };
    let n = ds.len();
    println!(
        "model: {}   data: {} ({n} images)   array: {} × {} (PE × SIMD)   simulator: {:?}{}",
        args.model.display(),
        ds.name,
        args.pe,
        args.simd,
        args.simulator,
        if args.input_gaps {
            format!("   input gaps from seed {seed}")
        } else {
            String::new()
        }
    );
    if let Some(f) = opts.fault {
        println!("INJECTED FAULT (testing the checkers only): {f:?}");
    }
    let what = |e: anyhow::Error| e.context(format!("pact sim {}", args.model.display()));
    let rep = if verilator {
        let pb = progress_bar(n, "sim", quiet || n < 2);
        let r = check::run_with_progress(&q, &ds.images, Some(&ds.labels), &opts, &|k| pb.set_position(k as u64));
        pb.finish_and_clear();
        r.map_err(what)?
    } else {
        if !quiet {
            let cycles = pact_hdl::accel::Plan::new(&q, &config).map(|p| p.total_cycles())?;
            println!(
                "running Icarus Verilog ({cycles} cycles per image at roughly 1 000–3 000 cycles/s: about {:.0}–{:.0} s for {n} images)",
                (n * cycles) as f64 / 3000.0,
                (n * cycles) as f64 / 1000.0
            );
        }
        icarus::run_icarus(&q, &ds.images, Some(&ds.labels), &opts).map_err(what)?
    };
    print_report(&rep);
    if let Some(m) = &rep.mismatch {
        bail!("{}: the RTL differs from the golden model at {m}", args.model.display());
    }
    Ok(SimOutcome {
        report: rep,
        data: ds.name,
    })
}

/// The summary lines of a report.
pub fn print_report(rep: &CoSimReport) {
    if let Some(d) = &rep.design {
        println!(
            "design: {} ({} in {:.2} s)",
            d.dir().display(),
            if d.reused { "reused, unchanged" } else { "generated" },
            d.gen_time.as_secs_f64()
        );
    }
    if let Some(b) = &rep.build {
        if b.cache_hit {
            println!("verilator: cache hit ({:.2} s)", b.total.as_secs_f64());
        } else {
            println!(
                "verilator: built in {:.1} s (verilate {:.1} s, compile {:.1} s{}, link {:.1} s)",
                b.total.as_secs_f64(),
                b.verilate.as_secs_f64(),
                b.compile.as_secs_f64(),
                if b.runtime_compiled { ", runtime included" } else { "" },
                b.link.as_secs_f64()
            );
        }
    }
    println!(
        "{} images, {} mismatch{}",
        rep.images,
        rep.mismatches(),
        if rep.mismatches() == 1 { "" } else { "es" }
    );
    if let Some(a) = rep.accuracy() {
        println!("accuracy vs labels: {a:.2} % ({}/{})", rep.correct, rep.results);
    }
    println!(
        "cycles per inference: {} from the last pixel to the result{} (manifest compute_cycles {}); {} with one pixel \
         per cycle (manifest total_cycles)",
        rep.compute_cycles,
        if rep.mismatch.is_none() { ", every image" } else { "" },
        rep.compute_cycles,
        rep.total_cycles
    );
    if rep.simulator == "verilator" && rep.results > 0 {
        println!(
            "streamed back to back: {} cycles for {} images, {:.1} per image (manifest interval_cycles {})",
            rep.cycles,
            rep.results,
            rep.cycles as f64 / rep.results as f64,
            rep.interval_cycles
        );
    }
    if rep.seconds > 0.0 {
        println!(
            "simulated: {} cycles in {:.2} s: {:.3} M cycles/s ({}, {:.1} images/s)",
            rep.cycles,
            rep.seconds,
            rep.cycles_per_second() / 1e6,
            rep.simulator,
            rep.results as f64 / rep.seconds
        );
    }
}
