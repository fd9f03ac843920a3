//! `pact train`: command-line arguments and the command itself.

use crate::arch::ArchSpec;
use crate::net::{AlphaInit, Net, Precision};
use crate::optim::OptimizerKind;
use crate::train::{accuracy, train_run, BatchStats, EpochStats, ModelSpec, Schedule, TrainConfig};
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pact_toolchain::contract;
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::golden::Golden;
use pact_toolchain::import::statedict;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Percentile of `--alpha-init auto`.
pub const AUTO_PERCENTILE: f64 = 99.0;

/// How α starts (`--alpha-init`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AlphaStart {
    /// This value for every activation.
    Value(f32),
    /// This percentile (0..=100) of each activation's input on the first training batch.
    Auto(f64),
}

impl std::str::FromStr for AlphaStart {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}': expected a number > 0, 'auto' or 'auto:P' with a percentile P in 0..=100");
        if let Some(rest) = s.strip_prefix("auto") {
            let p = match rest.strip_prefix(':') {
                None if rest.is_empty() => AUTO_PERCENTILE,
                Some(p) => p.parse::<f64>().map_err(|_| bad())?,
                None => return Err(bad()),
            };
            return if (0.0..=100.0).contains(&p) {
                Ok(AlphaStart::Auto(p))
            } else {
                Err(bad())
            };
        }
        match s.parse::<f32>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(AlphaStart::Value(v)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for AlphaStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlphaStart::Value(v) => write!(f, "{v}"),
            AlphaStart::Auto(p) => write!(f, "auto:{p}"),
        }
    }
}

/// Arguments of `pact train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Data set: mnist5k, digits, fashion-mnist, or a path (CSV, IDX file or directory).
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Architecture: a preset (mlp, cnn) or a JSON description [default: mlp; not with --init].
    #[arg(long)]
    pub arch: Option<String>,
    /// Weight bits of the inner dense/conv layers (1..=8, or 32 for float weights).
    #[arg(long, default_value_t = contract::DEFAULT_WBITS)]
    pub wbits: u32,
    /// Activation bits of the inner layers (1..=8, or 32 for plain ReLU).
    #[arg(long, default_value_t = contract::DEFAULT_ABITS)]
    pub abits: u32,
    /// Bits of the first/last layers' weights and of the activation feeding the last layer.
    #[arg(long, default_value_t = contract::DEFAULT_FIRST_LAST_BITS)]
    pub first_last_bits: u32,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Peak learning rate [default: 1e-3 for adam, 0.05 for sgd].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = Schedule::Cosine)]
    pub lr_schedule: Schedule,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 coefficient of the dense/conv weights.
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Initial PACT α: a value (the paper's 10), or `auto[:P]`, the P-th percentile (default 99)
    /// of each activation's input on the first training batch. A PACT layer of an --init model keeps its own.
    #[arg(long, default_value = "10")]
    pub alpha_init: AlphaStart,
    /// L2 coefficient of α [default: the weight decay].
    #[arg(long)]
    pub alpha_decay: Option<f64>,
    /// Peak learning rate of α, same schedule as --lr [default: 100 × --lr with adam, --lr with sgd].
    #[arg(long)]
    pub alpha_lr: Option<f64>,
    /// Fine-tune from this float model (architecture file written by pact, e.g. by an earlier `pact train`).
    #[arg(long, value_name = "MODEL")]
    pub init: Option<PathBuf>,
    /// Baseline: clip every activation at this fixed α (not learned), same quantizer.
    #[arg(long, value_name = "VALUE")]
    pub fixed_clip: Option<f32>,
    /// Train on the first N training samples only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Write one JSON line of statistics per epoch to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Also write the trained float model as ONNX (Clip nodes carry α, BatchNormalization kept as nodes).
    #[arg(long, value_name = "FILE.onnx")]
    pub onnx: Option<PathBuf>,
    /// Output: the trained float model (architecture JSON; the weights go beside it as .safetensors).
    #[arg(short, long, value_name = "MODEL.json")]
    pub output: PathBuf,
}

impl TrainArgs {
    /// Arguments with the defaults of the command line and output `output`.
    pub fn with_output(output: impl Into<PathBuf>) -> Self {
        TrainArgs {
            data: "mnist5k".into(),
            arch: None,
            wbits: contract::DEFAULT_WBITS,
            abits: contract::DEFAULT_ABITS,
            first_last_bits: contract::DEFAULT_FIRST_LAST_BITS,
            epochs: 10,
            batch: 64,
            lr: None,
            lr_schedule: Schedule::Cosine,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            weight_decay: 1e-4,
            alpha_init: AlphaStart::Value(10.0),
            alpha_decay: None,
            alpha_lr: None,
            init: None,
            fixed_clip: None,
            limit: None,
            log: None,
            onnx: None,
            output: output.into(),
        }
    }

    /// The training settings these arguments describe.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let precision = Precision::new(self.wbits, self.abits, self.first_last_bits)?;
        let mut cfg = TrainConfig::new(precision);
        cfg.epochs = self.epochs;
        cfg.batch = self.batch;
        cfg.optimizer = self.optimizer;
        cfg.lr = self.lr.unwrap_or(match self.optimizer {
            OptimizerKind::Adam => 1e-3,
            OptimizerKind::Sgd => 0.05,
        });
        cfg.schedule = self.lr_schedule;
        cfg.momentum = self.momentum;
        cfg.weight_decay = self.weight_decay;
        cfg.alpha_decay = self.alpha_decay.unwrap_or(self.weight_decay);
        cfg.alpha_lr = self.alpha_lr;
        cfg.alpha = match self.alpha_init {
            AlphaStart::Value(v) => AlphaInit {
                init: v,
                fixed: self.fixed_clip,
                auto_percentile: None,
            },
            AlphaStart::Auto(p) => AlphaInit {
                init: 10.0,
                fixed: self.fixed_clip,
                auto_percentile: Some(p),
            },
        };
        Ok(cfg)
    }
}

/// What `pact train` measured.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// The seed of initialisation and shuffling.
    pub seed: u64,
    /// Data set name.
    pub data: String,
    /// Training / test samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Final accuracy on the training split (evaluation forward: fake-quant, running BatchNorm statistics).
    pub train_acc: f64,
    /// Final accuracy on the test split (evaluation forward).
    pub test_acc: f64,
    /// Test accuracy of the integer golden model of the quantized model (`pact quantize` with the same bits,
    /// 16-bit M0, DoReFa weights), when weights and activations are quantized and the model quantizes.
    pub int_test_acc: Option<f64>,
    /// Why `int_test_acc` is missing, if it is.
    pub int_note: Option<String>,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
    /// Learned (or fixed) α per PACT layer.
    pub alpha: Vec<(String, f32)>,
    /// α per PACT layer before the first step (after `--alpha-init auto`).
    pub alpha_start: Vec<(String, f32)>,
    /// Wall time of the whole command, seconds.
    pub wall_seconds: f64,
    /// Time spent in training steps, seconds.
    pub train_seconds: f64,
    /// Training throughput over all epochs, samples per second.
    pub samples_per_sec: f64,
    /// Per-epoch statistics.
    pub epochs: Vec<EpochStats>,
    /// Where the model was written.
    pub output: PathBuf,
}

/// `pact train`: load the data, train, write the model (with `save_float`) and the log, and measure the result.
/// Shows a progress bar (epoch, loss, accuracy, α per layer) and prints the seed unless `quiet`.
pub fn run(args: &TrainArgs, seed: u64, quiet: bool) -> anyhow::Result<TrainReport> {
    let t_start = Instant::now();
    crate::tune_allocator();
    let cfg = args.config()?;
    let spec: DataSpec = args.data.parse().expect("infallible");
    let mut train_set = data::load(&spec, Split::Train).context("loading --data")?;
    if let Some(n) = args.limit {
        train_set.truncate(n);
    }
    let test_set = data::load(&spec, Split::Test).context("loading --data")?;
    let model_spec = match (&args.init, &args.arch) {
        (Some(_), Some(_)) => bail!("--arch and --init exclude each other (--init brings its own architecture)"),
        (Some(p), None) => {
            ModelSpec::Init(statedict::load_arch(p).with_context(|| format!("loading --init {}", p.display()))?)
        }
        (None, a) => ModelSpec::Arch(ArchSpec::resolve(a.as_deref().unwrap_or("mlp"), train_set.shape)?),
    };
    let p = cfg.precision;
    if !quiet {
        eprintln!(
            "pact train: seed {seed}, data {} ({} train / {} test, {:?}, pixels 0..={}), W{}A{} first/last {} bits, {} epochs, batch {}, {} lr {}, α init {} lr {} decay {}",
            train_set.name,
            train_set.len(),
            test_set.len(),
            train_set.shape,
            train_set.max_value,
            p.wbits,
            p.abits,
            p.first_last_bits,
            cfg.epochs,
            cfg.batch,
            cfg.optimizer,
            cfg.lr,
            match (args.fixed_clip, args.alpha_init) {
                (Some(v), _) => format!("fixed {v}"),
                (None, a) => a.to_string(),
            },
            cfg.alpha_lr(),
            cfg.alpha_decay
        );
    }
    let mut log = match &args.log {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating the log {}", path.display()))?,
        )),
        None => None,
    };
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:24} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]")
            .expect("a valid template"),
    );
    let mut log_err: Option<std::io::Error> = None;
    let alpha_text = |a: &[(String, f32)]| {
        a.iter()
            .map(|(n, v)| format!("{n}={v:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let alphas_now = std::cell::RefCell::new(String::new());
    let crate::train::TrainOutcome {
        model,
        history,
        alpha_start,
    } = train_run(
        &model_spec,
        &train_set,
        Some(&test_set),
        &cfg,
        seed,
        |b: &BatchStats| {
            if b.batch == 1 {
                bar.set_length((b.batches * cfg.epochs) as u64);
            }
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} loss {:.4} acc {:.2}% α {}",
                b.epoch,
                cfg.epochs,
                b.loss,
                100.0 * b.acc,
                alphas_now.borrow()
            ));
        },
        |e: &EpochStats| {
            *alphas_now.borrow_mut() = alpha_text(&e.alpha);
            let line = format!(
                "epoch {:>3}/{}: loss {:.4}  train {:.2}%  test {}  {:.0} samples/s  α {}",
                e.epoch,
                e.epochs,
                e.loss,
                100.0 * e.train_acc,
                e.test_acc.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
                e.samples_per_sec,
                alphas_now.borrow()
            );
            if bar.is_hidden() {
                if !quiet {
                    eprintln!("{line}"); // not a terminal: no bar, but the epoch lines still go to stderr
                }
            } else {
                bar.println(line);
            }
            if let Some(w) = log.as_mut() {
                let line = serde_json::to_string(e).expect("stats serialize");
                if let Err(err) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                    log_err.get_or_insert(err);
                }
            }
        },
    )?;
    bar.finish_and_clear();
    if let Some(e) = log_err {
        return Err(anyhow::Error::from(e).context("writing the log"));
    }
    statedict::save_float(&model, &args.output).with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.onnx {
        crate::onnx::save_onnx(&model, path)?;
    }

    let mut net = Net::new(&model, p, AlphaInit::default())?;
    let train_acc = accuracy(&mut net, &train_set)?;
    let test_acc = accuracy(&mut net, &test_set)?;
    let (int_test_acc, int_note) = match p.quant_config() {
        None => (
            None,
            Some("weights or activations are float: quantize with `pact quantize --calib`".to_string()),
        ),
        Some(qc) => match pact_toolchain::quantize::quantize(&model, &qc, None, "pact train") {
            Ok(q) => {
                let pred = Golden::new(&q).classify_batch(&test_set.images);
                let hits = pred
                    .iter()
                    .zip(&test_set.labels)
                    .filter(|(p, l)| **p == **l as usize)
                    .count();
                (Some(hits as f64 / test_set.len().max(1) as f64), None)
            }
            Err(e) => (None, Some(format!("the model does not quantize: {}", e.chain()))),
        },
    };
    let train_seconds: f64 = history.iter().map(|e| e.seconds).sum();
    let samples: usize = history.iter().map(|e| e.samples).sum();
    let report = TrainReport {
        seed,
        data: train_set.name.clone(),
        train_samples: train_set.len(),
        test_samples: test_set.len(),
        train_acc,
        test_acc,
        int_test_acc,
        int_note,
        final_loss: history.last().map_or(f64::NAN, |e| e.loss),
        alpha: net.alphas(),
        alpha_start,
        wall_seconds: t_start.elapsed().as_secs_f64(),
        train_seconds,
        samples_per_sec: samples as f64 / train_seconds.max(1e-9),
        epochs: history,
        output: args.output.clone(),
    };
    if !quiet {
        eprintln!(
            "pact train: wrote {}; train {:.2}%, test {:.2}% (fake-quant){}; {:.1} s, {:.0} samples/s",
            args.output.display(),
            100.0 * report.train_acc,
            100.0 * report.test_acc,
            report
                .int_test_acc
                .map_or(String::new(), |a| format!(", integer model {:.2}%", 100.0 * a)),
            report.wall_seconds,
            report.samples_per_sec
        );
    }
    Ok(report)
}
