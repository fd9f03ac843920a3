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
use pact_synth::{Board, SynthOptions, SynthReport, Target};
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::fsutil::write_atomic;
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{self, QuantConfig, WeightQuantizer};
use pact_toolchain::{eval, model_io};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::defaults;
use crate::plot;
use crate::synth_cmd::{accel_config, generate_into, ArrayArgs};

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
}

/// The figures `report.json` holds.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// Float model file.
    pub model: String,
    /// Whether the model was trained in this run.
    pub trained: bool,
    /// Data set and images evaluated.
    pub data: String,
    /// Test images.
    pub images: usize,
    /// Top-1 accuracy, %: float (DoReFa unrounded), fake-quant, integer golden model.
    pub accuracy_float: Option<f64>,
    /// See `accuracy_float`.
    pub accuracy_fake_quant: f64,
    /// See `accuracy_float`.
    pub accuracy_integer: f64,
    /// Array shape.
    pub pe: usize,
    /// See `pe`.
    pub simd: usize,
    /// Compute cycles per inference (manifest) and with the pixels streamed at one per cycle.
    pub compute_cycles: u64,
    /// See `compute_cycles`.
    pub total_cycles: u64,
    /// MACs per inference.
    pub macs: u64,
    /// Memory bits of the design (weights, activations, constants).
    pub memory_bits: u64,
    /// Images co-simulated and mismatches (always 0 in a written report: a mismatch fails the run).
    pub cosim_images: usize,
    /// See `cosim_images`.
    pub cosim_mismatches: usize,
    /// Accuracy of the RTL's classes, %.
    pub cosim_accuracy: Option<f64>,
    /// Simulated cycles per second under Verilator.
    pub cosim_cycles_per_s: f64,
    /// The synthesis report (absent with --no-synth).
    pub synth: Option<SynthReport>,
    /// Wall time per stage, seconds.
    pub stages: Vec<(String, f64)>,
    /// Total wall time, seconds.
    pub seconds: f64,
}

const REPORTS: [&str; 3] = ["report.json", "report.md", "report.html"];

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
    let cfg = accel_config(a.array, (!a.no_synth).then_some(a.target))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    // Nothing may look finished while this run works.
    for r in REPORTS {
        let p = a.out.join(r);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing the earlier {}", p.display()))?;
        }
    }
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
        pe: a.array.pe,
        simd: a.array.simd,
        compute_cycles: gen.plan.compute_cycles() as u64,
        total_cycles: gen.plan.total_cycles() as u64,
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
    write_reports(&a.out, &report, &gen.plan)?;
    println!(
        "pact run: {} images, 0 mismatches; report {}",
        report.cosim_images,
        a.out.join("report.html").display()
    );
    Ok(report)
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
    let pb = crate::cli::Ui { quiet, verbose: 0 }.bar(n, "co-sim");
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
            "co-simulation: {} images, 0 mismatches; {} cycles per inference; {:.2} M simulated cycles/s",
            r.images,
            r.total_cycles,
            r.cycles_per_second() / 1e6
        );
    }
    Ok(r)
}

fn md_table(rows: &[(&str, String)]) -> String {
    let mut s = String::from("| | |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s
}

fn markdown(r: &RunReport, plan: &pact_hdl::accel::Plan) -> String {
    let mut s = String::from("# pact run\n\n");
    let f = |x: Option<f64>| x.map(|v| format!("{v:.2} %")).unwrap_or_else(|| "n/a".into());
    s.push_str("## Model\n\n");
    s.push_str(&md_table(&[
        (
            "float model",
            format!("`{}`{}", r.model, if r.trained { " (trained in this run)" } else { "" }),
        ),
        (
            "quantization",
            format!(
                "W{}A{}, first/last layers {} bits",
                defaults::WBITS,
                defaults::ABITS,
                pact_toolchain::contract::DEFAULT_FIRST_LAST_BITS
            ),
        ),
        ("test data", format!("{} ({} images)", r.data, r.images)),
        ("accuracy, float (DoReFa unrounded)", f(r.accuracy_float)),
        ("accuracy, fake-quant", format!("{:.2} %", r.accuracy_fake_quant)),
        ("accuracy, integer golden model", format!("{:.2} %", r.accuracy_integer)),
    ]));
    s.push_str("\n## Accelerator and co-simulation\n\n");
    s.push_str(&md_table(&[
        ("array", format!("{} PE × {} SIMD", r.pe, r.simd)),
        ("MACs per inference", r.macs.to_string()),
        (
            "cycles per inference",
            format!(
                "{} compute, {} with the pixels streamed",
                r.compute_cycles, r.total_cycles
            ),
        ),
        ("memory bits", r.memory_bits.to_string()),
        (
            "Verilator co-simulation",
            format!(
                "**{} images, {} mismatches** (class, every logit, cycle count compared with `==`)",
                r.cosim_images, r.cosim_mismatches
            ),
        ),
        ("RTL accuracy", f(r.cosim_accuracy)),
        ("simulated cycles/s", format!("{:.2} M", r.cosim_cycles_per_s / 1e6)),
    ]));
    s.push_str("\n| layer | kind | outputs × positions | beats/group | cycles |\n|---|---|---|---|---|\n");
    for (i, l) in plan.layers.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {} × {} | {} | {} |",
            l.name,
            l.kind,
            l.m,
            l.positions(),
            l.beats,
            plan.layer_cycles(i)
        );
    }
    if let Some(y) = &r.synth {
        s.push_str(&format!("\n## Bitstream ({})\n\n", y.part));
        let d = &y.device;
        let mut rows = vec![
            ("board", y.board.clone().unwrap_or_else(|| "none".into())),
            (
                "Fmax",
                format!(
                    "{:.2} MHz (clock {:.2} MHz: timing {})",
                    y.fmax_mhz,
                    y.clock_mhz,
                    if y.timing_met { "met" } else { "NOT met" }
                ),
            ),
            ("LUT4", format!("{} / {} ({:.1} %)", y.luts, d.luts, y.percent.luts)),
            ("FF", format!("{} / {} ({:.1} %)", y.ffs, d.ffs, y.percent.ffs)),
            ("BRAM", format!("{} / {} ({:.1} %)", y.brams, d.brams, y.percent.brams)),
            ("DSP", format!("{} / {} ({:.1} %)", y.dsps, d.dsps, y.percent.dsps)),
        ];
        if let Some(i) = y.inferences_per_s {
            rows.push(("inferences/s at min(Fmax, clock)", format!("{i:.0}")));
        }
        if let Some(m) = y.macs_per_s {
            rows.push(("MAC/s", format!("{:.3} G", m / 1e9)));
        }
        if let Some(e) = &y.estimate {
            rows.push((
                "pre-synthesis estimate",
                format!("{} MACs, {} memory bits", e.macs, e.memory_bits),
            ));
        }
        rows.push((
            "bitstream",
            format!(
                "`synth/{}` ({} bytes, sha256 `{}`)",
                y.bitstream.file, y.bitstream.bytes, y.bitstream.sha256
            ),
        ));
        s.push_str(&md_table(&rows));
    }
    s.push_str("\n## Wall time\n\n| stage | s |\n|---|---|\n");
    for (k, v) in &r.stages {
        let _ = writeln!(s, "| {k} | {v:.1} |");
    }
    let _ = writeln!(s, "| **total** | **{:.1}** |", r.seconds);
    s
}

/// [`markdown`]'s output as an HTML page (pulldown-cmark, tables on), with the plots inline.
fn html(md: &str, plots: &[(String, String)]) -> String {
    use pulldown_cmark::{html::push_html, Options, Parser};
    let mut h = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pact run</title><style>body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head><body>\n",
    );
    push_html(&mut h, Parser::new_ext(md, Options::ENABLE_TABLES));
    h.push_str("<h2>Plots</h2>\n");
    for (name, svg) in plots {
        let caption = name.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = writeln!(h, "<figure>{svg}<figcaption>{caption}</figcaption></figure>");
    }
    h.push_str("</body></html>\n");
    h
}

fn write_reports(out: &Path, r: &RunReport, plan: &pact_hdl::accel::Plan) -> Result<()> {
    let mut plots = vec![(
        "cycles per layer".to_string(),
        plot::bars(
            "Cycles per compute layer",
            "cycles",
            &plan
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.clone(), plan.layer_cycles(i) as f64))
                .collect::<Vec<_>>(),
        )?,
    )];
    if let Some(y) = &r.synth {
        plots.push((
            format!("utilisation of the {}", y.part),
            plot::bars(
                &format!("Device utilisation ({})", y.part),
                "% of the device",
                &[
                    ("LUT4".into(), y.percent.luts),
                    ("FF".into(), y.percent.ffs),
                    ("BRAM".into(), y.percent.brams),
                    ("DSP".into(), y.percent.dsps),
                ],
            )?,
        ));
    }
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, (name, svg)) in plots.iter().enumerate() {
        let file = dir.join(format!("{i}-{}.svg", name.replace(' ', "-")));
        write_atomic(&file, svg.as_bytes())?;
    }
    let md = markdown(r, plan);
    let json = serde_json::to_string_pretty(r).context("report.json")?;
    // report.json last: its presence means the run finished.
    write_atomic(out.join("report.md"), md.as_bytes())?;
    write_atomic(out.join("report.html"), html(&md, &plots).as_bytes())?;
    write_atomic(out.join("report.json"), json.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_renders_tables_bold_and_code() {
        let h = html(
            "# t\n\n| a | **b** `c` |\n|---|---|\n| x<y | z |\n",
            &[("p<".into(), "<svg/>".into())],
        );
        assert!(h.contains("<h1>t</h1>"));
        assert!(h.contains("<strong>b</strong> <code>c</code></th>"), "{h}");
        assert!(h.contains("<td>x&lt;y</td>"), "{h}");
        assert!(h.contains("<figure><svg/><figcaption>p&lt;</figcaption>"), "{h}");
        assert_eq!(h.matches("<table>").count(), 1);
    }
}
