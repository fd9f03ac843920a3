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

/// `with_alpha_lr_scale` changes the step of α and of nothing else: one Adam step moves every parameter by
/// its learning rate (times |g|/(|g| + ε)) against the gradient's sign.
#[test]
fn alpha_learning_rate_scales_only_alpha() {
    let dev = Device::Cpu;
    let w = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &dev).unwrap()).unwrap();
    let a = Var::from_tensor(&Tensor::new(5.0f32, &dev).unwrap()).unwrap();
    let params = vec![(w.clone(), ParamKind::Weight), (a.clone(), ParamKind::Alpha)];
    let mut opt = Optimizer::new(OptimizerKind::Adam, params, 0.9, 0.0, 0.0).with_alpha_lr_scale(30.0);
    // loss = Σw + 2α: gradients 1, 1 and 2.
    let loss = (w.as_tensor().sum_all().unwrap() + (a.as_tensor() * 2.0).unwrap()).unwrap();
    opt.step(&loss.backward().unwrap(), 1e-3).unwrap();
    let wv: Vec<f32> = w.as_tensor().to_vec1().unwrap();
    let av: f32 = a.as_tensor().to_scalar().unwrap();
    assert!(
        (wv[0] - 0.999).abs() < 1e-6 && (wv[1] + 2.001).abs() < 1e-6,
        "weights moved to {wv:?}"
    );
    assert!(
        (av - (5.0 - 0.03)).abs() < 1e-5,
        "α moved from 5 to {av}, expected 4.97"
    );
}

/// `--alpha-init auto:P`: every activation whose α would start at the default is set to the nearest-rank P-th
/// percentile of its own input on the batch, in layer order; BatchNorm running statistics stay untouched; a PACT
/// node of the starting model keeps its α; a fixed clip is never calibrated.
#[test]
fn auto_alpha_init_is_the_percentile_of_the_first_batch() {
    use pact_toolchain::float::{FloatModel, InputSpec, Op};
    use pact_train::{AlphaInit, ArchSpec, Net, Precision};
    let seed = 41;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = ArchSpec::from_json(
        r#"{ "layers": [ { "op": "flatten" }, { "name": "fc1", "op": "dense", "out": 32 }, { "name": "bn1", "op": "batchnorm" },
        { "name": "a1", "op": "pact" }, { "name": "fc2", "op": "dense", "out": 16 }, { "name": "a2", "op": "pact" },
        { "name": "fc3", "op": "dense" } ] }"#,
    )
    .unwrap();
    let input = InputSpec {
        shape: [1, 1, 20],
        scale: 1.0 / 16.0,
    };
    let model: FloatModel = arch.build(input, 4, &mut rng).unwrap();
    let images: Vec<u8> = (0..50 * 20).map(|_| rng.gen_range(0..=16u8)).collect();
    let auto = AlphaInit {
        auto_percentile: Some(90.0),
        ..AlphaInit::default()
    };
    // Float weights (the reference below need not apply DoReFa), 4-bit activations: a1 is 4 bits, a2 (feeding
    // the last layer) 8 bits.
    let precision = Precision::new(32, 4, 8).unwrap();
    let mut net = Net::new(&model, precision, auto).unwrap();
    let x = net.input_tensor(&images).unwrap();
    let alphas = net.calibrate_alphas(&x, 90.0).unwrap();
    let after = net.to_float_model().unwrap();
    let bn = |m: &FloatModel| {
        m.nodes
            .iter()
            .find_map(|n| match &n.op {
                Op::BatchNorm(b) => Some((b.mean.clone(), b.var.clone())),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        bn(&after),
        bn(&model),
        "calibration must not update the running statistics"
    );

    // Independent reference: batch-statistics BatchNorm in f64, then nearest-rank percentiles layer by layer.
    let nearest_rank = |mut v: Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let dense = |m: &FloatModel, name: &str, xs: &[Vec<f64>]| -> Vec<Vec<f64>> {
        let n = m.nodes.iter().find(|n| n.name == name).unwrap();
        let Op::Dense { weight, bias } = &n.op else { panic!() };
        let (o, i) = (weight.shape[0], weight.shape[1]);
        xs.iter()
            .map(|x| {
                (0..o)
                    .map(|r| {
                        (0..i).map(|c| weight.data[r * i + c] as f64 * x[c]).sum::<f64>()
                            + bias.as_ref().map_or(0.0, |b| b[r] as f64)
                    })
                    .collect()
            })
            .collect()
    };
    let xs: Vec<Vec<f64>> = images
        .chunks(20)
        .map(|im| im.iter().map(|&p| p as f64 / 16.0).collect())
        .collect();
    let mut h = dense(&model, "fc1", &xs);
    for c in 0..32 {
        let col: Vec<f64> = h.iter().map(|r| r[c]).collect();
        let mu = col.iter().sum::<f64>() / 50.0;
        let var = col.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / 50.0;
        for r in h.iter_mut() {
            r[c] = (r[c] - mu) / (var + 1e-5).sqrt(); // γ = 1, β = 0 at initialisation
        }
    }
    let a1 = nearest_rank(h.iter().flatten().copied().collect(), 90.0);

    assert_eq!(alphas[0].0, "a1");
    assert!(
        (alphas[0].1 as f64 - a1).abs() < 1e-5 * a1.abs().max(1.0),
        "α1 {} vs {a1}",
        alphas[0].1
    );
    // The second layer sees the first one's quantized output with the new α (4 bits).
    let l = 15.0;
    let q: Vec<Vec<f64>> = h
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| ((v.clamp(0.0, a1) * l / a1 + 0.5).floor()) * a1 / l)
                .collect()
        })
        .collect();
    let a2 = nearest_rank(dense(&model, "fc2", &q).into_iter().flatten().collect(), 90.0);
    assert!(
        (alphas[1].1 as f64 - a2).abs() < 1e-5 * a2.abs().max(1.0),
        "α2 {} vs {a2}",
        alphas[1].1
    );
    assert!(alphas.iter().all(|(_, a)| (*a - 10.0).abs() > 1e-3), "{alphas:?}");

    // A PACT node of the starting model keeps its α; a fixed clip stays fixed.
    let mut with_pact = model.clone();
    for n in &mut with_pact.nodes {
        if n.name == "a1" {
            n.op = Op::Pact { alpha: 2.5 };
        }
    }
    let mut net = Net::new(&with_pact, precision, auto).unwrap();
    let got = net.calibrate_alphas(&x, 90.0).unwrap();
    assert_eq!(got[0].1, 2.5, "{got:?}");
    assert!((got[1].1 - 10.0).abs() > 1e-3, "{got:?}");
    let fixed = AlphaInit {
        fixed: Some(6.0),
        ..auto
    };
    let mut net = Net::new(&model, precision, fixed).unwrap();
    assert!(net.calibrate_alphas(&x, 90.0).unwrap().iter().all(|(_, a)| *a == 6.0));
}

/// The α fix: with the default α learning rate (100 × lr with Adam) α leaves its initial 10 within a short
/// budget, where with the weights' rate (the old default) it barely moves. Both are trained with the same seed.
#[test]
fn default_alpha_lr_lets_alpha_learn_in_a_short_budget() {
    use pact_toolchain::data::{load, DataSpec, Split};
    use pact_train::{train, ArchSpec, ModelSpec, Precision, TrainConfig};
    let data = load(&DataSpec::Digits, Split::Train).unwrap();
    let spec = ModelSpec::Arch(ArchSpec::preset("mlp", data.shape).unwrap());
    let mut cfg = TrainConfig::new(Precision::new(4, 4, 8).unwrap());
    cfg.epochs = 3;
    let seed = 5;
    println!("seed {seed}");
    let final_alpha = |cfg: &TrainConfig| {
        let (_, hist) = train(&spec, &data, None, cfg, seed, |_| {}).unwrap();
        hist.last().unwrap().alpha.clone()
    };
    let learned = final_alpha(&cfg);
    cfg.alpha_lr = Some(cfg.lr);
    let slow = final_alpha(&cfg);
    println!("default α lr: {learned:?}; α lr = lr: {slow:?}");
    assert!(
        learned.iter().all(|(_, a)| *a < 8.0),
        "default α lr: α stayed near 10: {learned:?}"
    );
    assert!(
        slow.iter().all(|(_, a)| *a > 9.9),
        "α lr = lr: α moved more than expected: {slow:?}"
    );
}

#[test]
fn alpha_init_argument_parses() {
    use pact_train::AlphaStart;
    assert_eq!("10".parse::<AlphaStart>(), Ok(AlphaStart::Value(10.0)));
    assert_eq!(
        "auto".parse::<AlphaStart>(),
        Ok(AlphaStart::Auto(pact_train::AUTO_PERCENTILE))
    );
    assert_eq!("auto:99.9".parse::<AlphaStart>(), Ok(AlphaStart::Auto(99.9)));
    for bad in ["0", "-1", "nan", "auto:101", "auto:", "automatic", "x"] {
        assert!(bad.parse::<AlphaStart>().is_err(), "'{bad}' must be rejected");
    }
}
