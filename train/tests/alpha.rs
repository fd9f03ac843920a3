//! α moves the way PACT says: saturated inputs whose targets lie above α push α up, below α pull it down;
//! inputs inside (0, α) leave it alone except for the L2 decay.

use candle_core::{Device, Tensor, Var};
use pact_train::quant::pact;
use pact_train::{Optimizer, OptimizerKind, ParamKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Fit `mean((pact(x, α) − target)²)` by gradient descent on α alone; returns α after `steps` steps.
fn fit_alpha(xs: &[f32], target: f32, alpha0: f32, decay: f64, kind: OptimizerKind, steps: usize) -> f32 {
    let dev = Device::Cpu;
    let a = Var::from_tensor(&Tensor::new(alpha0, &dev).unwrap()).unwrap();
    let x = Tensor::from_slice(xs, xs.len(), &dev).unwrap();
    let lr = if kind == OptimizerKind::Adam { 0.05 } else { 0.1 };
    let mut opt = Optimizer::new(kind, vec![(a.clone(), ParamKind::Alpha)], 0.9, 0.0, decay);
    for _ in 0..steps {
        let y = pact(&x, a.as_tensor(), 4, true).unwrap();
        let loss = (y - target as f64).unwrap().sqr().unwrap().mean_all().unwrap();
        opt.step(&loss.backward().unwrap(), lr).unwrap();
    }
    a.as_tensor().to_scalar::<f32>().unwrap()
}

fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

#[test]
fn targets_above_alpha_push_alpha_up() {
    let xs = uniform(21, 256, 5.0, 8.0); // all saturated at α = 2
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let a = fit_alpha(&xs, 4.0, 2.0, 0.0, kind, 200);
        assert!(a > 3.5 && a < 4.5, "{kind}: α went from 2 to {a}, expected about 4");
    }
}

#[test]
fn targets_below_alpha_pull_alpha_down() {
    let xs = uniform(22, 256, 5.0, 8.0);
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let a = fit_alpha(&xs, 1.0, 2.0, 0.0, kind, 200);
        assert!(a > 0.7 && a < 1.3, "{kind}: α went from 2 to {a}, expected about 1");
    }
}

#[test]
fn unsaturated_inputs_move_alpha_only_by_decay() {
    let xs = uniform(23, 256, 0.1, 1.5); // all inside (0, α = 2): ∂L/∂α = 0
    let a = fit_alpha(&xs, 0.8, 2.0, 0.0, OptimizerKind::Sgd, 50);
    assert_eq!(a, 2.0, "no saturated input and no decay: α must not move");
    let a = fit_alpha(&xs, 0.8, 2.0, 0.1, OptimizerKind::Sgd, 50);
    assert!(a < 2.0, "with α decay α shrinks, got {a}");
}
