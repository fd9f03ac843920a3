//! `pact run`: the whole flow on the embedded default — model (shipped, or trained with `--train`) → W4A4
//! quantization → accuracy of the float, fake-quant and integer models → accelerator generation → Verilator
//! co-simulation of every test image (must be exact) → bitstream → a report (`report.md`, `report.html` with the
//! plots, `report.json`).
//!
//! Layout of the output directory: `model/` (the float model), `model.pqm`, `gen/` (Verilog, manifest),
//! `synth/` (bitstream, logs, synthesis `report.json`), `plots/`, and the reports. The reports are written last,
//! atomically, after every stage succeeded; a run that fails removes an earlier run's reports first, so nothing in
//! the directory looks finished.

use anyhow::{bail, Context, Result};
use clap::Args;
use pact_synth::{Board, SynthOptions, Target};
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{self, QuantConfig, WeightQuantizer};
use pact_toolchain::{eval, model_io};
use std::path::PathBuf;
use std::time::Instant;

use crate::args::ArrayArgs;
use crate::defaults;
use crate::run_report::{write_reports, AccuracyByBits, LayerCycles, RunReport, REPORTS};
use crate::synth_cmd::generate_into;
use crate::ui::Ui;

/// `pact run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Output directory.
    #[arg(short = 'o', long = "out", default_value = "out")]
    pub out: PathBuf,
    /// Train the default architecture with PACT from scratch (seeded) instead of using the shipped model.
    #[arg(long)]
    pub train: bool,
    /// Training epochs with --train (the shipped model's recipe: 30).
    #[arg(long, default_value_t = crate::defaults::TRAIN_EPOCHS)]
    pub epochs: usize,
    /// Data set: its training split for --train, its test split for accuracy and co-simulation.
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Co-simulate only the first N test images (default: all of the test split).
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub array: ArrayArgs,
    /// FPGA target of the bitstream.
    #[arg(long, default_value = "ice40-up5k")]
    pub target: Target,
    /// Board top-level (UART, PLL, reset) and pins: icebreaker or ulx3s (default: the target's board).
    #[arg(long)]
    pub board: Option<Board>,
    /// Design clock, MHz (the PLL's target).
    #[arg(long, default_value_t = 48.0)]
    pub freq: f64,
    /// Stop after co-simulation (no synthesis).
    #[arg(long)]
    pub no_synth: bool,
    /// A `pact experiment` results.csv: the report shows its accuracy per bit width (otherwise it says that was
    /// not measured).
    #[arg(long)]
    pub accuracy_csv: Option<PathBuf>,
}

fn stage<T>(quiet: bool, times: &mut Vec<(String, f64)>, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if !quiet {
        eprintln!("==> {name}");
    }
    let t = Instant::now();
    let r = f().with_context(|| format!("pact run: stage `{name}` failed"))?;
    let s = t.elapsed().as_secs_f64();
    if !quiet {
        eprintln!("    {name}: {s:.1} s");
    }
    times.push((name.to_string(), s));
    Ok(r)
}

/// Run the whole flow.
pub fn run(a: &RunArgs, seed: u64, quiet: bool) -> Result<RunReport> {
    let t0 = Instant::now();
    let board = a.board.unwrap_or(match a.target {
        Target::Ice40Up5k => Board::Icebreaker,
        _ => Board::Ulx3s,
    });
    if !a.no_synth && !board.supports(a.target) {
        bail!(
            "board {board} does not carry a {} (its FPGA is {})",
            a.target,
            board.default_target()
        );
    }
    // The shipped default's shape unless the user gives one (automatic sizing: `pact gen`/`pact synth`).
    let array = ArrayArgs {
        pe: a.array.pe.or(Some(defaults::DEFAULT_PE)),
        simd: a.array.simd.or(Some(defaults::DEFAULT_SIMD)),
        ..a.array
    };
    let cfg = pact_hdl::accel::AccelConfig::new(array.pe.unwrap_or_default(), array.simd.unwrap_or_default())?
        .with_lane_bits(array.lane_bits)?
        .with_input_buffers(array.input_buffers.unwrap_or(2))?
        .with_shared_requant(array.shared())
        .with_target((!a.no_synth).then_some(a.target));
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    // Nothing may look finished while this run works.
    for r in REPORTS {
        let p = a.out.join(r);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing the earlier {}", p.display()))?;
        }
    }
    let accuracy_by_bits = a.accuracy_csv.as_deref().map(AccuracyByBits::read_csv).transpose()?;
    let mut times = Vec::new();
    let spec: DataSpec = a.data.parse()?;
    let float_path = stage(quiet, &mut times, "model", || {
        let shipped = defaults::write_default_model(&a.out.join("model"))?;
        if !a.train {
            return Ok(shipped);
        }
        let dir = a.out.join("trained");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let out = dir.join(format!("{}.json", defaults::MODEL_STEM));
        let mut t = pact_train::TrainArgs::with_output(&out);
        t.arch = Some(shipped.with_file_name(defaults::ARCH_FILE).display().to_string());
        t.data = a.data.clone();
        t.epochs = a.epochs;
        t.wbits = defaults::WBITS;
        t.abits = defaults::ABITS;
        pact_train::run(&t, seed, quiet)?;
        Ok(out)
    })?;
    let test = data::load(&spec, Split::Test)?;
    let (q, ev) = stage(quiet, &mut times, "quantize + evaluate", || {
        let fm = model_io::load_float(&float_path, None)?;
        let qc = QuantConfig::builder()
            .wbits(defaults::WBITS)
            .abits(defaults::ABITS)
            .build()?;
        let q = quantize::quantize(&fm, &qc, None, &float_path.display().to_string())?;
        q.save(&a.out.join("model.pqm"))?;
        let fr = quantize::float_reference(&fm, WeightQuantizer::Dorefa);
        let ev = eval::evaluate(Some(&fr), &q, &test, &|| {})?;
        Ok((q, ev))
    })?;
    let n = ev.len();
    let acc = |c: usize| eval::pct(c, n);
    if !quiet {
        println!(
            "accuracy on {} ({n} test images): float {}  fake-quant {:.2} %  integer {:.2} %",
            test.name,
            ev.float_correct()
                .map(|c| format!("{:.2} %", acc(c)))
                .unwrap_or("n/a".into()),
            acc(ev.fake_quant_correct()),
            acc(ev.integer_correct())
        );
    }
    let gen_dir = a.out.join("gen");
    let gen = stage(quiet, &mut times, "generate", || {
        generate_into(&q, &cfg, &float_path, &gen_dir)
    })?;
    if !quiet {
        println!("{}", gen.summary());
    }
    let cos = stage(quiet, &mut times, "co-simulate (Verilator)", || {
        cosim(&q, &test, a, &cfg, quiet)
    })?;
    let synth = if a.no_synth {
        None
    } else {
        Some(stage(quiet, &mut times, "synthesize", || {
            let mut o = SynthOptions::new(&gen_dir, a.target, a.out.join("synth"));
            o.board = Some(board);
            o.freq_mhz = a.freq;
            o.seed = seed;
            o.progress = !quiet;
            // With progress on, the flow prints its summary itself.
            Ok(pact_synth::run(&o)?)
        })?)
    };
    let mem = gen.plan.memory();
    let report = RunReport {
        model: float_path.display().to_string(),
        trained: a.train,
        data: test.name.clone(),
        images: n,
        accuracy_float: ev.float_correct().map(acc),
        accuracy_fake_quant: acc(ev.fake_quant_correct()),
        accuracy_integer: acc(ev.integer_correct()),
        accuracy_by_bits,
        pe: cfg.pe(),
        simd: cfg.simd(),
        compute_cycles: gen.plan.compute_cycles() as u64,
        total_cycles: gen.plan.total_cycles() as u64,
        interval_cycles: gen.plan.interval_cycles() as u64,
        layers: layer_cycles(&gen.plan),
        macs: pact_toolchain::report::total_macs(&q) as u64,
        memory_bits: mem.total() as u64,
        cosim_images: cos.images,
        cosim_mismatches: cos.mismatches(),
        cosim_accuracy: cos.accuracy(),
        cosim_cycles_per_s: cos.cycles_per_second(),
        synth,
        stages: times,
        seconds: t0.elapsed().as_secs_f64(),
    };
    write_reports(&a.out, &report)?;
    println!(
        "pact run: {} images, 0 mismatches; report {}",
        report.cosim_images,
        a.out.join("report.html").display()
    );
    Ok(report)
}

/// The plan's compute layers with their cycles, for the report.
fn layer_cycles(plan: &pact_hdl::accel::Plan) -> Vec<LayerCycles> {
    plan.layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerCycles {
            name: l.name.clone(),
            kind: l.kind.to_string(),
            outputs: l.m,
            positions: l.positions(),
            beats: l.beats,
            cycles: plan.layer_cycles(i) as u64,
        })
        .collect()
}

fn cosim(
    q: &QModel,
    test: &data::Dataset,
    a: &RunArgs,
    cfg: &pact_hdl::accel::AccelConfig,
    quiet: bool,
) -> Result<pact_cosim::check::CoSimReport> {
    let n = a.limit.unwrap_or(test.len()).min(test.len());
    if n == 0 {
        bail!("--limit 0: nothing to co-simulate");
    }
    let px: usize = test.shape.iter().product();
    let opts = pact_cosim::check::RunOptions {
        config: *cfg,
        ..Default::default()
    };
    let pb = Ui { quiet, verbose: 0 }.bar(n, "co-sim");
    let r = pact_cosim::check::run_with_progress(q, &test.images[..n * px], Some(&test.labels[..n]), &opts, &|i| {
        pb.set_position(i as u64)
    })?;
    pb.finish_and_clear();
    if let Some(m) = &r.mismatch {
        bail!("RTL and golden model differ after {} images: {m}", r.images);
    }
    if r.images != n {
        bail!("co-simulation compared {} of {n} images", r.images);
    }
    if !quiet {
        println!(
            "co-simulation: {} images streamed back to back, 0 mismatches; {} cycles per inference ({} from the \
             first pixel); {:.2} M simulated cycles/s",
            r.images,
            r.interval_cycles,
            r.total_cycles,
            r.cycles_per_second() / 1e6
        );
    }
    Ok(r)
}
