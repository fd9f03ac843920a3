//! SGD with momentum and Adam, PyTorch's update rules, with a per-parameter L2 coefficient (weight decay for
//! dense/conv weights, the α decay for PACT's α, none for biases and BatchNorm).

use crate::net::ParamKind;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum: `g ← ∇ + λ·p`, `b ← μ·b + g` (b = g on the first step), `p ← p − lr·b`.
    Sgd,
    /// Adam (β₁ 0.9, β₂ 0.999, ε 1e-8) with coupled L2: `g ← ∇ + λ·p`, bias-corrected moments.
    Adam,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            _ => Err(format!("unknown optimizer '{s}' (sgd, adam)")),
        }
    }
}

struct Slot {
    var: Var,
    kind: ParamKind,
    decay: f64,
    lr_scale: f64,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// An optimizer over a fixed set of parameters. The update runs as one plain loop per parameter on the CPU
/// (f32 state), in parallel over chunks of large parameters.
pub struct Optimizer {
    kind: OptimizerKind,
    momentum: f64,
    slots: Vec<Slot>,
    t: i32,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;
const CHUNK: usize = 1 << 14;

impl Optimizer {
    /// `params` with their kinds; `weight_decay` applies to [`ParamKind::Weight`], `alpha_decay` to
    /// [`ParamKind::Alpha`]. `momentum` is used by SGD only.
    pub fn new(
        kind: OptimizerKind,
        params: Vec<(Var, ParamKind)>,
        momentum: f64,
        weight_decay: f64,
        alpha_decay: f64,
    ) -> Self {
        let slots = params
            .into_iter()
            .map(|(var, k)| {
                let decay = match k {
                    ParamKind::Weight => weight_decay,
                    ParamKind::Alpha => alpha_decay,
                    ParamKind::Other => 0.0,
                };
                Slot {
                    var,
                    kind: k,
                    decay,
                    lr_scale: 1.0,
                    m: Vec::new(),
                    v: Vec::new(),
                }
            })
            .collect();
        Optimizer {
            kind,
            momentum,
            slots,
            t: 0,
        }
    }

    /// Scale the learning rate of every [`ParamKind::Alpha`] parameter by `factor` (a separate α learning rate
    /// `--alpha-lr` that follows the same schedule: α's rate at each step is `factor·lr`).
    pub fn with_alpha_lr_scale(mut self, factor: f64) -> Self {
        for s in self.slots.iter_mut().filter(|s| s.kind == ParamKind::Alpha) {
            s.lr_scale = factor;
        }
        self
    }

    /// One update with learning rate `lr`. Parameters without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.t += 1;
        let (b1t, b2t) = (1.0 - BETA1.powi(self.t), 1.0 - BETA2.powi(self.t));
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else {
                continue;
            };
            let g: Vec<f32> = g.flatten_all()?.to_vec1()?;
            let mut p: Vec<f32> = s.var.as_tensor().flatten_all()?.to_vec1()?;
            let (decay, first) = (s.decay as f32, s.m.is_empty());
            let lr = lr * s.lr_scale;
            if first {
                s.m = vec![0.0; p.len()];
                if self.kind == OptimizerKind::Adam {
                    s.v = vec![0.0; p.len()];
                }
            }
            match self.kind {
                OptimizerKind::Sgd => {
                    let (mu, lr) = (self.momentum as f32, lr as f32);
                    p.par_chunks_mut(CHUNK)
                        .zip(s.m.par_chunks_mut(CHUNK))
                        .zip(g.par_chunks(CHUNK))
                        .for_each(|((p, b), g)| {
                            for ((p, b), &g) in p.iter_mut().zip(b.iter_mut()).zip(g) {
                                let g = g + decay * *p;
                                *b = if first { g } else { mu * *b + g };
                                *p -= lr * *b;
                            }
                        });
                }
                OptimizerKind::Adam => {
                    let (b1, b2) = (BETA1 as f32, BETA2 as f32);
                    let (c1, c2, lr, eps) = ((1.0 / b1t) as f32, (1.0 / b2t) as f32, lr as f32, EPS as f32);
                    p.par_chunks_mut(CHUNK)
                        .zip(s.m.par_chunks_mut(CHUNK))
                        .zip(s.v.par_chunks_mut(CHUNK))
                        .zip(g.par_chunks(CHUNK))
                        .for_each(|(((p, m), v), g)| {
                            for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                                let g = g + decay * *p;
                                *m = b1 * *m + (1.0 - b1) * g;
                                *v = b2 * *v + (1.0 - b2) * g * g;
                                *p -= lr * (*m * c1) / ((*v * c2).sqrt() + eps);
                            }
                        });
                }
            }
            let t = s.var.as_tensor();
            s.var.set(&Tensor::from_vec(p, t.shape(), t.device())?)?;
        }
        Ok(())
    }
}
