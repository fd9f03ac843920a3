//! The training loop (library form): seeded initialisation and shuffling, mini-batch SGD/Adam on the
//! cross-entropy loss, per-epoch statistics.

use crate::arch::ArchSpec;
use crate::net::{AlphaInit, Net, ParamKind, Precision};
use crate::optim::{Optimizer, OptimizerKind};
use anyhow::{bail, Context};
use candle_core::{DType, Tensor, Var, D};
use pact_toolchain::data::Dataset;
use pact_toolchain::float::{FloatModel, InputSpec, Op};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::time::Instant;

/// What to train: a fresh architecture or a float model to fine-tune.
#[derive(Clone, Debug)]
pub enum ModelSpec {
    /// A new model with this architecture, initialised from the seed.
    Arch(ArchSpec),
    /// Fine-tune this model (its weights, BatchNorm statistics and PACT α are the starting point).
    Init(FloatModel),
}

/// Learning-rate schedule over the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same learning rate throughout.
    Constant,
    /// Cosine decay from `lr` to 0 over all steps: `lr·(1 + cos(π·t/T))/2` at step `t` of `T`.
    Cosine,
}

/// Default ratio of α's learning rate to the weights' with Adam (`--alpha-lr`; measured in docs/training.md).
pub const ADAM_ALPHA_LR_FACTOR: f64 = 100.0;

/// Settings of one training run.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Bit widths.
    pub precision: Precision,
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size (a last batch of fewer than 2 samples is skipped: BatchNorm needs two).
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 coefficient of the dense/conv weights.
    pub weight_decay: f64,
    /// L2 coefficient of the learned α.
    pub alpha_decay: f64,
    /// Peak learning rate of the learned α (same schedule as `lr`); `None`: [`ADAM_ALPHA_LR_FACTOR`]`·lr` with
    /// Adam, `lr` with SGD (see [`TrainConfig::alpha_lr`]).
    pub alpha_lr: Option<f64>,
    /// α initialisation, or the fixed clip of the baseline.
    pub alpha: AlphaInit,
    /// Stop each epoch after this many batches (benchmarks, quick tests).
    pub max_batches: Option<usize>,
}

impl TrainConfig {
    /// Defaults for `precision`: 10 epochs, batch 64, Adam at 1e-3 with cosine decay, weight and α decay 1e-4,
    /// α initialised to 10.
    pub fn new(precision: Precision) -> Self {
        TrainConfig {
            precision,
            epochs: 10,
            batch: 64,
            lr: 1e-3,
            schedule: Schedule::Cosine,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            weight_decay: 1e-4,
            alpha_decay: 1e-4,
            alpha_lr: None,
            alpha: AlphaInit::default(),
            max_batches: None,
        }
    }

    /// The peak learning rate of α: `alpha_lr`, or by default [`ADAM_ALPHA_LR_FACTOR`]`·lr` with Adam (Adam
    /// moves a parameter by about its learning rate per step whatever the gradient's size, so at the weights'
    /// 1e-3 α = 10 could move by at most ~0.5 in 1000 steps) and `lr` with SGD (the paper's setting: α is
    /// trained with the weights' rate).
    pub fn alpha_lr(&self) -> f64 {
        self.alpha_lr.unwrap_or(match self.optimizer {
            OptimizerKind::Adam => ADAM_ALPHA_LR_FACTOR * self.lr,
            OptimizerKind::Sgd => self.lr,
        })
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        if self.batch < 2 {
            bail!("--batch must be at least 2 (BatchNorm needs batch statistics)");
        }
        for (what, v) in [
            ("--lr", self.lr),
            ("--momentum", self.momentum),
            ("--weight-decay", self.weight_decay),
            ("--alpha-decay", self.alpha_decay),
            ("--alpha-lr", self.alpha_lr.unwrap_or(0.0)),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                bail!("{what} {v} must be finite and >= 0");
            }
        }
        Ok(())
    }
}

/// Statistics of one epoch (one line of the JSON-lines log).
#[derive(Clone, Debug, Serialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Number of epochs of the run.
    pub epochs: usize,
    /// Mean cross-entropy over the epoch's batches (training mode).
    pub loss: f64,
    /// Accuracy over the epoch's batches (training mode, parameters changing during the epoch).
    pub train_acc: f64,
    /// Accuracy on the test split after the epoch (evaluation forward), if a test split was given.
    pub test_acc: Option<f64>,
    /// α of every PACT activation after the epoch, by layer name.
    #[serde(serialize_with = "ser_alphas")]
    pub alpha: Vec<(String, f32)>,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Samples trained on in this epoch.
    pub samples: usize,
    /// Wall time of the epoch's training steps (without the test evaluation), seconds.
    pub seconds: f64,
    /// Training throughput, samples per second.
    pub samples_per_sec: f64,
}

fn ser_alphas<S: Serializer>(v: &[(String, f32)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, a) in v {
        m.serialize_entry(k, a)?;
    }
    m.end()
}

/// Progress within an epoch, reported after every batch.
#[derive(Clone, Debug)]
pub struct BatchStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches in this epoch.
    pub batches: usize,
    /// Running mean loss of the epoch.
    pub loss: f64,
    /// Running accuracy of the epoch.
    pub acc: f64,
}

/// The network to start from: built from `spec` for `data` (input shape, `1/max_value` input scale, class count),
/// parameters drawn from `ChaCha8Rng::seed_from_u64(seed)`.
pub fn initial_model(spec: &ModelSpec, data: &Dataset, seed: u64) -> anyhow::Result<FloatModel> {
    let scale = 1.0 / data.max_value.max(1) as f32;
    match spec {
        ModelSpec::Arch(arch) => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            arch.build(
                InputSpec {
                    shape: data.shape,
                    scale,
                },
                data.classes,
                &mut rng,
            )
        }
        ModelSpec::Init(m) => {
            if m.input.shape != data.shape {
                bail!(
                    "the --init model takes inputs of shape {:?}, the data set has {:?}",
                    m.input.shape,
                    data.shape
                );
            }
            if ((m.input.scale - scale) / scale).abs() > 1e-6 {
                bail!(
                    "the --init model's input scale is {}, the data set's pixels are 0..={} (scale {scale})",
                    m.input.scale,
                    data.max_value
                );
            }
            let outs: usize = m.shapes()?.pop().unwrap_or_default().iter().product();
            if outs < data.classes {
                bail!(
                    "the --init model has {outs} outputs, the data set has {} classes",
                    data.classes
                );
            }
            Ok(m.clone())
        }
    }
}

/// Train on `data`, evaluating on `test` after every epoch when given; `progress` sees every epoch's statistics.
/// Returns the trained float model (PACT α, BatchNorm running statistics) and the statistics of every epoch.
pub fn train(
    spec: &ModelSpec,
    data: &Dataset,
    test: Option<&Dataset>,
    cfg: &TrainConfig,
    seed: u64,
    progress: impl FnMut(&EpochStats),
) -> anyhow::Result<(FloatModel, Vec<EpochStats>)> {
    train_observed(spec, data, test, cfg, seed, |_| {}, progress)
}

/// [`train`] with a second observer called after every batch.
pub fn train_observed(
    spec: &ModelSpec,
    data: &Dataset,
    test: Option<&Dataset>,
    cfg: &TrainConfig,
    seed: u64,
    on_batch: impl FnMut(&BatchStats),
    on_epoch: impl FnMut(&EpochStats),
) -> anyhow::Result<(FloatModel, Vec<EpochStats>)> {
    let out = train_run(spec, data, test, cfg, seed, on_batch, on_epoch)?;
    Ok((out.model, out.history))
}

/// Everything a training run produced.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The trained float model.
    pub model: FloatModel,
    /// Statistics of every epoch.
    pub history: Vec<EpochStats>,
    /// α of every PACT activation before the first step (after `--alpha-init auto`), by layer name.
    pub alpha_start: Vec<(String, f32)>,
}

/// [`train_observed`] that also returns the starting α.
pub fn train_run(
    spec: &ModelSpec,
    data: &Dataset,
    test: Option<&Dataset>,
    cfg: &TrainConfig,
    seed: u64,
    mut on_batch: impl FnMut(&BatchStats),
    mut on_epoch: impl FnMut(&EpochStats),
) -> anyhow::Result<TrainOutcome> {
    cfg.check()?;
    if data.len() < 2 {
        bail!("the training set has {} samples; at least 2 are needed", data.len());
    }
    if let Some(t) = test {
        if t.shape != data.shape {
            bail!("test images are {:?}, training images {:?}", t.shape, data.shape);
        }
    }
    let start = initial_model(spec, data, seed)?;
    let mut net = Net::new(&start, cfg.precision, cfg.alpha)?;
    let mut params = net.params();
    // DoReFa levels of the last layer are normalised to [−1, 1], so its logits are ~√fan_in times larger than a
    // float layer's and no parameter can scale them down; the loss sees them through a learned temperature τ
    // (initialised to 1/√fan_in). The argmax, and so the model, does not depend on τ, and τ is not saved.
    let tau = match (cfg.precision.weight_bits(true), last_fan_in(&start)) {
        (b, Some(fan_in)) if b < crate::quant::FLOAT_BITS => {
            let t = Var::from_tensor(&Tensor::new(
                (1.0 / (fan_in as f64).sqrt()) as f32,
                &candle_core::Device::Cpu,
            )?)?;
            params.push((t.clone(), ParamKind::Other));
            Some(t)
        }
        _ => None,
    };
    let alpha_scale = if cfg.lr > 0.0 { cfg.alpha_lr() / cfg.lr } else { 0.0 };
    let mut opt = Optimizer::new(cfg.optimizer, params, cfg.momentum, cfg.weight_decay, cfg.alpha_decay)
        .with_alpha_lr_scale(alpha_scale);
    let mut alpha_start = net.alphas();
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(seed);
    shuffle_rng.set_stream(1);

    let px = data.pixels_per_image();
    let mut batches = data.len().div_ceil(cfg.batch);
    if data.len() % cfg.batch == 1 {
        batches -= 1; // a last batch of one sample is skipped
    }
    if let Some(m) = cfg.max_batches {
        batches = batches.min(m.max(1));
    }
    let total_steps = (batches * cfg.epochs) as f64;
    let mut step = 0usize;
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut history = Vec::with_capacity(cfg.epochs);
    let mut images = Vec::with_capacity(cfg.batch * px);
    let mut lr = cfg.lr;
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut shuffle_rng);
        let t0 = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0f64, 0usize);
        for (b, idx) in order.chunks(cfg.batch).take(batches).enumerate() {
            images.clear();
            for &i in idx {
                images.extend_from_slice(data.image(i));
            }
            let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i] as u32).collect();
            let x = net.input_tensor(&images)?;
            if let (1, 0, Some(p), None) = (epoch, b, cfg.alpha.auto_percentile, cfg.alpha.fixed) {
                alpha_start = net.calibrate_alphas(&x, p).context("--alpha-init auto")?;
            }
            let y = Tensor::from_vec(labels, idx.len(), x.device())?;
            let logits = net.forward(&x, true)?;
            let scaled = match &tau {
                Some(t) => logits.broadcast_mul(t.as_tensor())?,
                None => logits.clone(),
            };
            let loss = candle_nn::loss::cross_entropy(&scaled, &y)?;
            let loss_v = loss.to_scalar::<f32>()? as f64;
            if !loss_v.is_finite() {
                bail!(
                    "the loss became {loss_v} at epoch {epoch}, batch {} (try a lower --lr)",
                    b + 1
                );
            }
            let grads = loss.backward()?;
            lr = match cfg.schedule {
                Schedule::Constant => cfg.lr,
                Schedule::Cosine => cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total_steps).cos()),
            };
            opt.step(&grads, lr)?;
            net.clamp_alphas()?;
            if let Some(t) = &tau {
                if t.as_tensor().to_scalar::<f32>()? < 1e-6 {
                    t.set(&Tensor::new(1e-6f32, t.device())?)?;
                }
            }
            step += 1;
            let hits = logits
                .argmax(D::Minus1)?
                .eq(&y)?
                .to_dtype(DType::F32)?
                .sum_all()?
                .to_scalar::<f32>()?;
            loss_sum += loss_v * idx.len() as f64;
            correct += hits as f64;
            seen += idx.len();
            on_batch(&BatchStats {
                epoch,
                batch: b + 1,
                batches,
                loss: loss_sum / seen as f64,
                acc: correct / seen as f64,
            });
        }
        let seconds = t0.elapsed().as_secs_f64();
        let test_acc = match test {
            Some(t) => Some(accuracy(&mut net, t).context("evaluating the test split")?),
            None => None,
        };
        let stats = EpochStats {
            epoch,
            epochs: cfg.epochs,
            loss: loss_sum / seen.max(1) as f64,
            train_acc: correct / seen.max(1) as f64,
            test_acc,
            alpha: net.alphas(),
            lr,
            samples: seen,
            seconds,
            samples_per_sec: seen as f64 / seconds.max(1e-9),
        };
        on_epoch(&stats);
        history.push(stats);
    }
    Ok(TrainOutcome {
        model: net.to_float_model()?,
        history,
        alpha_start,
    })
}

/// Fan-in of the last dense/conv layer (the logits).
fn last_fan_in(m: &FloatModel) -> Option<usize> {
    m.nodes.iter().rev().find_map(|n| match &n.op {
        Op::Dense { weight, .. } | Op::Conv2d { weight, .. } => Some(weight.numel() / weight.shape[0].max(1)),
        _ => None,
    })
}

/// Accuracy of `net` (evaluation forward) on `data`.
pub fn accuracy(net: &mut Net, data: &Dataset) -> anyhow::Result<f64> {
    if data.is_empty() {
        return Ok(0.0);
    }
    let pred = net.classify(&data.images)?;
    let hits = pred
        .iter()
        .zip(&data.labels)
        .filter(|(p, l)| **p == **l as usize)
        .count();
    Ok(hits as f64 / data.len() as f64)
}
