//! `pact experiment pact-vs-clip`: the PACT paper's central comparison, reproduced with `pact` alone.
//!
//! With one seed and one budget it trains the full-precision baseline, PACT at several widths and a fixed-clip
//! baseline (every activation clipped at a fixed value, not learned, same quantizer), quantizes every quantized
//! model with the training's widths (`pact_toolchain::quantize`, 16-bit `M0`, DoReFa weights) and measures the
//! float, fake-quant and integer golden model accuracy on the test split exactly as `pact eval` does. It writes
//! a Markdown table, a CSV file and two SVG plots (accuracy vs bits; α per layer over training) into a
//! directory, with the trained models and their per-epoch logs.

use crate::arch::ArchSpec;
use crate::cli::{AlphaStart, TrainArgs};
use crate::optim::OptimizerKind;
use crate::train::{train_run, BatchStats, EpochStats, ModelSpec};
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pact_toolchain::data::{self, DataSpec, Dataset, Split};
use pact_toolchain::eval;
use pact_toolchain::float::FloatModel;
use pact_toolchain::forward::float_forward;
use pact_toolchain::golden::argmax;
use pact_toolchain::import::statedict;
use pact_toolchain::quantize::{self, WeightQuantizer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

/// Which experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExperimentName {
    /// FP32, PACT at several widths and a fixed-clip baseline, same seed and budget.
    PactVsClip,
}

/// One trained configuration of the experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunConfig {
    /// Full precision: float weights, plain ReLU (`fp32`).
    Fp32,
    /// PACT with learned α at W = A = bits (`pactK`).
    Pact(u32),
    /// Fixed clipping level at W = A = bits (`clipK`).
    Clip(u32),
}

impl RunConfig {
    /// Weight and activation bits of the inner layers (32 for FP32).
    pub fn bits(self) -> u32 {
        match self {
            RunConfig::Fp32 => 32,
            RunConfig::Pact(b) | RunConfig::Clip(b) => b,
        }
    }
    /// `fp32`, `pact` or `fixed-clip`.
    pub fn method(self) -> &'static str {
        match self {
            RunConfig::Fp32 => "fp32",
            RunConfig::Pact(_) => "pact",
            RunConfig::Clip(_) => "fixed-clip",
        }
    }
}

impl fmt::Display for RunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunConfig::Fp32 => f.write_str("fp32"),
            RunConfig::Pact(b) => write!(f, "pact{b}"),
            RunConfig::Clip(b) => write!(f, "clip{b}"),
        }
    }
}

impl FromStr for RunConfig {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bits = |r: &str| match r.parse::<u32>() {
            Ok(b) if (1..=8).contains(&b) => Ok(b),
            _ => Err(format!("'{s}': the width must be 1..=8")),
        };
        if s == "fp32" {
            Ok(RunConfig::Fp32)
        } else if let Some(r) = s.strip_prefix("pact") {
            bits(r).map(RunConfig::Pact)
        } else if let Some(r) = s.strip_prefix("clip") {
            bits(r).map(RunConfig::Clip)
        } else {
            Err(format!("'{s}': expected fp32, pactK or clipK (K = 1..=8)"))
        }
    }
}

/// The configurations of the issue: FP32, PACT at 8/4/3/2 bits, fixed clip at 4/2 bits.
pub const DEFAULT_CONFIGS: &str = "fp32,pact8,pact4,pact3,pact2,clip4,clip2";

/// Arguments of `pact experiment`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// The experiment to run.
    #[arg(value_enum)]
    pub name: ExperimentName,
    /// Data set: mnist5k, digits, fashion-mnist, or a path (as `pact train --data`).
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Architecture: a preset (mlp, cnn) or a JSON description.
    #[arg(long, default_value = "cnn")]
    pub arch: String,
    /// Passes over the training set, for every configuration.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Configurations to train, comma-separated: fp32, pactK, clipK (K = 1..=8 bits for weights and activations).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_CONFIGS)]
    pub configs: Vec<RunConfig>,
    /// Clipping level of the fixed-clip baseline (ReLU6-style).
    #[arg(long, default_value_t = 6.0)]
    pub fixed_clip: f32,
    /// Bits of the first/last layers' weights and of the activation feeding the last layer.
    #[arg(long, default_value_t = pact_toolchain::contract::DEFAULT_FIRST_LAST_BITS)]
    pub first_last_bits: u32,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Peak learning rate [default: as `pact train`].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Initial PACT α, a value or `auto[:P]` (default: as `pact train`).
    #[arg(long)]
    pub alpha_init: Option<AlphaStart>,
    /// Peak learning rate of α [default: as `pact train`].
    #[arg(long)]
    pub alpha_lr: Option<f64>,
    /// Train on the first N training samples only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Evaluate on the first N test samples only.
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,
    /// Reuse the result of a configuration already in DIR if it was trained with the same settings.
    #[arg(long)]
    pub resume: bool,
    /// Output directory: results.md, results.csv, accuracy_vs_bits.svg, alpha.svg, models/, logs/, runs/.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

impl ExperimentArgs {
    /// Arguments with the command line's defaults, the given configurations and output directory.
    pub fn with_output(output: impl Into<PathBuf>, configs: Vec<RunConfig>) -> Self {
        ExperimentArgs {
            name: ExperimentName::PactVsClip,
            data: "mnist5k".into(),
            arch: "cnn".into(),
            epochs: 10,
            configs,
            fixed_clip: 6.0,
            first_last_bits: pact_toolchain::contract::DEFAULT_FIRST_LAST_BITS,
            batch: 64,
            optimizer: OptimizerKind::Adam,
            lr: None,
            alpha_init: None,
            alpha_lr: None,
            limit: None,
            test_limit: None,
            resume: false,
            output: output.into(),
        }
    }

    /// The `pact train` arguments of one configuration.
    pub fn train_args(&self, c: RunConfig) -> TrainArgs {
        let mut t = TrainArgs::with_output(self.output.join("models").join(format!("{c}.json")));
        t.data = self.data.clone();
        t.arch = Some(self.arch.clone());
        t.wbits = c.bits();
        t.abits = c.bits();
        t.first_last_bits = if c == RunConfig::Fp32 { 32 } else { self.first_last_bits };
        t.epochs = self.epochs;
        t.batch = self.batch;
        t.optimizer = self.optimizer;
        t.lr = self.lr;
        if let Some(a) = self.alpha_init {
            t.alpha_init = a;
        }
        t.alpha_lr = self.alpha_lr;
        t.fixed_clip = matches!(c, RunConfig::Clip(_)).then_some(self.fixed_clip);
        t.limit = self.limit;
        t.log = Some(self.output.join("logs").join(format!("{c}.jsonl")));
        t
    }
}

/// The result of one configuration (`runs/NAME.json`, one row of the table).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    /// `fp32`, `pactK`, `clipK`.
    pub config: String,
    /// `fp32`, `pact`, `fixed-clip`.
    pub method: String,
    /// Inner weight and activation bits (32 for FP32).
    pub bits: u32,
    /// The training settings (a fingerprint for `--resume`).
    pub settings: String,
    /// Test accuracy of the float model (`pact eval`'s float column: DoReFa unrounded for quantized models).
    pub float_acc: f64,
    /// Test accuracy of the fake-quant model of the quantized model (`None` for FP32).
    pub fake_quant_acc: Option<f64>,
    /// Test accuracy of the integer golden model (`None` for FP32).
    pub integer_acc: Option<f64>,
    /// α per activation: before the first step and after every epoch (`alpha[e]` after epoch `e`).
    pub alpha: Vec<(String, Vec<f32>)>,
    /// Test accuracy after every epoch (the training code's evaluation forward).
    pub epoch_test_acc: Vec<f64>,
    /// Training throughput, samples/s.
    pub samples_per_sec: f64,
    /// Wall time of the configuration (training, quantization, evaluation), seconds.
    pub wall_seconds: f64,
    /// Taken over from an earlier invocation by `--resume` (not stored).
    #[serde(skip)]
    pub reused: bool,
}

/// What the experiment produced.
#[derive(Clone, Debug)]
pub struct ExperimentReport {
    /// One result per configuration, in the order given.
    pub runs: Vec<RunResult>,
    /// Paths written.
    pub files: Vec<PathBuf>,
    /// Wall time of the whole command, seconds.
    pub wall_seconds: f64,
}

fn settings_fingerprint(t: &TrainArgs, seed: u64, test_limit: Option<usize>) -> String {
    format!(
        "seed={seed} data={} arch={:?} w={} a={} fl={} epochs={} batch={} opt={} lr={:?} alpha_init={} alpha_lr={:?} fixed={:?} limit={:?} test_limit={:?}",
        t.data,
        t.arch,
        t.wbits,
        t.abits,
        t.first_last_bits,
        t.epochs,
        t.batch,
        t.optimizer,
        t.lr,
        t.alpha_init,
        t.alpha_lr,
        t.fixed_clip,
        t.limit,
        test_limit
    )
}

fn pct(a: f64) -> String {
    format!("{:.2}", 100.0 * a)
}

fn opt_pct(a: Option<f64>) -> String {
    a.map_or("–".into(), pct)
}

/// Accuracy of the float model `m` (toolchain float evaluator) on `ds`, in parallel.
fn float_accuracy(m: &FloatModel, ds: &Dataset) -> anyhow::Result<f64> {
    let hits = (0..ds.len())
        .into_par_iter()
        .map(|i| Ok((argmax(&float_forward(m, ds.image(i))?) == ds.labels[i] as usize) as usize))
        .collect::<pact_toolchain::error::Result<Vec<usize>>>()?
        .into_iter()
        .sum::<usize>();
    Ok(hits as f64 / ds.len().max(1) as f64)
}

/// `pact experiment`: train, quantize and evaluate every configuration, then write the table and the plots.
/// Progress (configuration, epoch, loss, α) goes to stderr unless `quiet`.
pub fn run(args: &ExperimentArgs, seed: u64, quiet: bool) -> anyhow::Result<ExperimentReport> {
    let t_start = Instant::now();
    crate::tune_allocator();
    if args.configs.is_empty() {
        bail!("--configs is empty");
    }
    let load_start = loadavg();
    let spec: DataSpec = args.data.parse().expect("infallible");
    let mut train_set = data::load(&spec, Split::Train).context("loading --data")?;
    if let Some(n) = args.limit {
        train_set.truncate(n);
    }
    let mut test_set = data::load(&spec, Split::Test).context("loading --data")?;
    if let Some(n) = args.test_limit {
        test_set.truncate(n);
    }
    let arch = ArchSpec::resolve(&args.arch, train_set.shape)?;
    for d in ["models", "logs", "runs"] {
        std::fs::create_dir_all(args.output.join(d))
            .with_context(|| format!("creating {}", args.output.join(d).display()))?;
    }
    if !quiet {
        eprintln!(
            "pact experiment pact-vs-clip: seed {seed}, data {} ({} train / {} test), arch {}, {} epochs, configs {}",
            train_set.name,
            train_set.len(),
            test_set.len(),
            args.arch,
            args.epochs,
            args.configs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
        );
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:24} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]")
            .expect("a valid template"),
    );
    let say = |line: String| {
        if bar.is_hidden() {
            if !quiet {
                eprintln!("{line}");
            }
        } else {
            bar.println(line);
        }
    };
    let (machine, data_text) = (
        machine(),
        format!(
            "{} ({} train / {} test)",
            train_set.name,
            train_set.len(),
            test_set.len()
        ),
    );
    let meta = |wall_seconds: f64, load_end: &str| Meta {
        command: command_line(),
        seed,
        data: data_text.clone(),
        arch: args.arch.clone(),
        epochs: args.epochs,
        fixed_clip: args.fixed_clip,
        first_last_bits: args.first_last_bits,
        machine: machine.clone(),
        load: format!("{load_start} at the start, {load_end} at the end"),
        wall_seconds,
    };
    let mut runs = Vec::with_capacity(args.configs.len());
    for (ci, &c) in args.configs.iter().enumerate() {
        let targs = args.train_args(c);
        let settings = settings_fingerprint(&targs, seed, args.test_limit);
        let run_path = args.output.join("runs").join(format!("{c}.json"));
        if args.resume {
            if let Some(r) = std::fs::read(&run_path)
                .ok()
                .and_then(|b| serde_json::from_slice::<RunResult>(&b).ok())
                .filter(|r| r.settings == settings)
            {
                say(format!(
                    "[{}/{}] {c}: reusing {}",
                    ci + 1,
                    args.configs.len(),
                    run_path.display()
                ));
                runs.push(RunResult { reused: true, ..r });
                continue;
            }
        }
        let t0 = Instant::now();
        let cfg = targs.config()?;
        let tag = format!("[{}/{}] {c}", ci + 1, args.configs.len());
        let alphas_now = std::cell::RefCell::new(String::new());
        let mut log = std::io::BufWriter::new(
            std::fs::File::create(targs.log.as_ref().expect("set"))
                .with_context(|| format!("creating the log of {c}"))?,
        );
        let mut log_err = None;
        let out = train_run(
            &ModelSpec::Arch(arch.clone()),
            &train_set,
            Some(&test_set),
            &cfg,
            seed,
            |b: &BatchStats| {
                if b.batch == 1 && b.epoch == 1 {
                    bar.reset();
                    bar.set_length((b.batches * cfg.epochs) as u64);
                }
                bar.inc(1);
                bar.set_message(format!(
                    "{tag} epoch {}/{} loss {:.4} acc {:.2}% α {}",
                    b.epoch,
                    cfg.epochs,
                    b.loss,
                    100.0 * b.acc,
                    alphas_now.borrow()
                ));
            },
            |e: &EpochStats| {
                *alphas_now.borrow_mut() = alpha_text(&e.alpha);
                say(format!(
                    "{tag} epoch {:>3}/{}: loss {:.4}  train {:.2}%  test {}  {:.0} samples/s  α {}",
                    e.epoch,
                    e.epochs,
                    e.loss,
                    100.0 * e.train_acc,
                    e.test_acc.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
                    e.samples_per_sec,
                    alphas_now.borrow()
                ));
                use std::io::Write;
                let line = serde_json::to_string(e).expect("stats serialize");
                if let Err(err) = writeln!(log, "{line}").and_then(|_| log.flush()) {
                    log_err.get_or_insert(err);
                }
            },
        )
        .with_context(|| format!("training {c}"))?;
        if let Some(e) = log_err {
            return Err(anyhow::Error::from(e).context(format!("writing the log of {c}")));
        }
        statedict::save_float(&out.model, &targs.output)
            .with_context(|| format!("writing {}", targs.output.display()))?;
        bar.set_message(format!("{tag}: quantizing and evaluating"));
        let (float_acc, fake_quant_acc, integer_acc) = match cfg.precision.quant_config() {
            None => (float_accuracy(&out.model, &test_set)?, None, None),
            Some(qc) => {
                let q = quantize::quantize(&out.model, &qc, None, &targs.output.display().to_string())
                    .with_context(|| format!("quantizing {c}"))?;
                let float = quantize::float_reference(&out.model, WeightQuantizer::Dorefa);
                let r = eval::evaluate(Some(&float), &q, &test_set, &|| {})?;
                let n = r.len().max(1) as f64;
                (
                    r.float_correct().unwrap_or(0) as f64 / n,
                    Some(r.fake_quant_correct() as f64 / n),
                    Some(r.integer_correct() as f64 / n),
                )
            }
        };
        let alpha = out
            .alpha_start
            .iter()
            .enumerate()
            .map(|(i, (name, a0))| {
                let mut v = vec![*a0];
                v.extend(out.history.iter().map(|e| e.alpha[i].1));
                (name.clone(), v)
            })
            .collect();
        let train_seconds: f64 = out.history.iter().map(|e| e.seconds).sum();
        let samples: usize = out.history.iter().map(|e| e.samples).sum();
        let r = RunResult {
            config: c.to_string(),
            method: c.method().into(),
            bits: c.bits(),
            settings,
            float_acc,
            fake_quant_acc,
            integer_acc,
            alpha,
            epoch_test_acc: out.history.iter().filter_map(|e| e.test_acc).collect(),
            samples_per_sec: samples as f64 / train_seconds.max(1e-9),
            wall_seconds: t0.elapsed().as_secs_f64(),
            reused: false,
        };
        say(format!(
            "{tag}: float {}%  fake-quant {}%  integer {}%  α {}  {:.0} s",
            pct(r.float_acc),
            opt_pct(r.fake_quant_acc),
            opt_pct(r.integer_acc),
            final_alpha_text(&r),
            r.wall_seconds
        ));
        pact_toolchain::fsutil::write_atomic(&run_path, serde_json::to_string_pretty(&r)?.as_bytes())?;
        runs.push(r);
        if ci + 1 < args.configs.len() {
            // The tables and plots so far, so that a long run can be looked at (and committed) as it goes.
            write_outputs(
                &args.output,
                &runs,
                &meta(t_start.elapsed().as_secs_f64(), "(still running)"),
            )?;
        }
    }
    bar.finish_and_clear();
    let wall_seconds = t_start.elapsed().as_secs_f64();
    let files = write_outputs(&args.output, &runs, &meta(wall_seconds, &loadavg()))?;
    if !quiet {
        print!("{}", markdown_table(&runs));
        for f in &files {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(ExperimentReport {
        runs,
        files,
        wall_seconds,
    })
}

fn alpha_text(a: &[(String, f32)]) -> String {
    a.iter()
        .map(|(n, v)| format!("{n}={v:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn final_alpha_text(r: &RunResult) -> String {
    if r.alpha.is_empty() {
        return "–".into();
    }
    r.alpha
        .iter()
        .map(|(n, v)| format!("{n}={:.3}", v.last().copied().unwrap_or(f32::NAN)))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Meta {
    command: String,
    seed: u64,
    data: String,
    arch: String,
    epochs: usize,
    fixed_clip: f32,
    first_last_bits: u32,
    machine: String,
    load: String,
    wall_seconds: f64,
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let a = if i == 0 {
            Path::new(a)
                .file_name()
                .map_or(a.clone(), |f| f.to_string_lossy().into_owned())
        } else {
            a.clone()
        };
        out.push_str(&a);
    }
    out
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(|l| format!("load {l}")))
        .unwrap_or_else(|| "load n/a".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {threads} hardware threads, {} rayon threads, {} {}",
        rayon::current_num_threads(),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The results as a Markdown table.
pub fn markdown_table(runs: &[RunResult]) -> String {
    let fp = runs.iter().find(|r| r.method == "fp32").map(|r| r.float_acc);
    let mut s = String::from(
        "| config | method | W/A bits | float % | fake-quant % | integer % | Δ integer vs FP32 | α per layer (final) | samples/s | wall s |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let delta = match (fp, r.integer_acc) {
            (Some(f), Some(i)) => format!("{:+.2}", 100.0 * (i - f)),
            _ => "–".into(),
        };
        let bits = if r.bits == 32 {
            "32 (float)".to_string()
        } else {
            format!("{0}/{0}", r.bits)
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |\n",
            r.config,
            r.method,
            bits,
            pct(r.float_acc),
            opt_pct(r.fake_quant_acc),
            opt_pct(r.integer_acc),
            delta,
            final_alpha_text(r),
            r.samples_per_sec,
            r.wall_seconds
        ));
    }
    s
}

/// The results as CSV: one row per configuration, α per layer as `name=value` separated by spaces.
pub fn csv(runs: &[RunResult]) -> String {
    let mut s = String::from(
        "config,method,bits,float_acc,fake_quant_acc,integer_acc,alpha_final,alpha_start,samples_per_sec,wall_seconds\n",
    );
    let o = |a: Option<f64>| a.map_or(String::new(), |v| format!("{v:.4}"));
    for r in runs {
        let al = |first: bool| {
            r.alpha
                .iter()
                .map(|(n, v)| {
                    let x = if first { v.first() } else { v.last() };
                    format!("{n}={:.4}", x.copied().unwrap_or(f32::NAN))
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        s.push_str(&format!(
            "{},{},{},{:.4},{},{},{},{},{:.1},{:.1}\n",
            r.config,
            r.method,
            r.bits,
            r.float_acc,
            o(r.fake_quant_acc),
            o(r.integer_acc),
            al(false),
            al(true),
            r.samples_per_sec,
            r.wall_seconds
        ));
    }
    s
}

fn write_outputs(dir: &Path, runs: &[RunResult], meta: &Meta) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let write = |name: &str, bytes: &[u8], files: &mut Vec<PathBuf>| -> anyhow::Result<()> {
        let p = dir.join(name);
        pact_toolchain::fsutil::write_atomic(&p, bytes)?;
        files.push(p);
        Ok(())
    };
    write("results.csv", csv(runs).as_bytes(), &mut files)?;
    let acc_svg = crate::plot::accuracy_vs_bits(runs)?;
    write("accuracy_vs_bits.svg", acc_svg.as_bytes(), &mut files)?;
    let alpha_svg = crate::plot::alpha_over_training(runs)?;
    write("alpha.svg", alpha_svg.as_bytes(), &mut files)?;
    let md = format!(
        "# pact experiment pact-vs-clip\n\n\
         Command: `{}`\n\n\
         Seed {}, data {}, arch `{}`, {} epochs per configuration, first/last layers {} bits, \
         fixed-clip baseline at {}. Accuracies are on the test split: float = the float model (`pact eval`'s float \
         column, DoReFa unrounded for quantized models), fake-quant and integer (golden model) of the model \
         quantized with the training's widths (16-bit M0, DoReFa weights), as `pact eval` measures them. \
         Δ is integer minus FP32 float, in points.\n\n\
         Machine: {}; {}. Wall time of this invocation {:.0} s ({:.1} min){}; the configurations' own wall \
         times (last column) sum to {:.0} s ({:.1} min).\n\n{}\n\
         ![accuracy vs bits](accuracy_vs_bits.svg)\n\n![alpha over training](alpha.svg)\n",
        meta.command,
        meta.seed,
        meta.data,
        meta.arch,
        meta.epochs,
        meta.first_last_bits,
        meta.fixed_clip,
        meta.machine,
        meta.load,
        meta.wall_seconds,
        meta.wall_seconds / 60.0,
        match runs
            .iter()
            .filter(|r| r.reused)
            .map(|r| r.config.as_str())
            .collect::<Vec<_>>()
        {
            v if v.is_empty() => String::new(),
            v => format!(
                "; reused from earlier invocations with the same settings (`--resume`): {}",
                v.join(", ")
            ),
        },
        runs.iter().map(|r| r.wall_seconds).sum::<f64>(),
        runs.iter().map(|r| r.wall_seconds).sum::<f64>() / 60.0,
        markdown_table(runs)
    );
    write("results.md", md.as_bytes(), &mut files)?;
    Ok(files)
}
