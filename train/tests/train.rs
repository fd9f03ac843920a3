//! Training end to end: determinism for a fixed seed, agreement of the trained model's own evaluation with the
//! quantizer's fake-quant and integer golden models, and the `pact train` command (model file, log, report).

use pact_toolchain::data::{load, DataSpec, Dataset, Split};
use pact_toolchain::forward::fake_quant_forward;
use pact_toolchain::golden::{argmax, Golden};
use pact_toolchain::import::statedict;
use pact_toolchain::quantize::{quantize, QuantConfig};
use pact_train::{run, train, AlphaInit, ArchSpec, ModelSpec, Net, Precision, TrainArgs, TrainConfig};

fn digits(split: Split) -> Dataset {
    load(&DataSpec::Digits, split).unwrap()
}

fn acc(pred: &[usize], labels: &[u8]) -> f64 {
    pred.iter().zip(labels).filter(|(p, l)| **p == **l as usize).count() as f64 / labels.len() as f64
}

#[test]
fn fixed_seed_gives_identical_weights() {
    let mut data = digits(Split::Train);
    data.truncate(300);
    let spec = ModelSpec::Arch(ArchSpec::preset("cnn", data.shape).unwrap());
    let mut cfg = TrainConfig::new(Precision::new(4, 4, 8).unwrap());
    cfg.epochs = 2;
    cfg.batch = 32;
    let seed = 7;
    println!("seed {seed}");
    let (a, ha) = train(&spec, &data, None, &cfg, seed, |_| {}).unwrap();
    // The second run on a single thread: the result must not depend on how work is split between threads.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let (b, hb) = one.install(|| train(&spec, &data, None, &cfg, seed, |_| {})).unwrap();
    assert!(a == b, "two runs with seed {seed} gave different models");
    assert_eq!(
        ha.iter().map(|e| e.loss).collect::<Vec<_>>(),
        hb.iter().map(|e| e.loss).collect::<Vec<_>>()
    );
    let (c, _) = train(&spec, &data, None, &cfg, seed + 1, |_| {}).unwrap();
    assert!(a != c, "seeds {seed} and {} gave the same model", seed + 1);
}

/// Train `arch` on digits at W4A4 (first/last 8), then check that the trained model's own evaluation forward,
/// the fake-quant forward of the quantized model and the integer golden model agree.
fn trains_and_agrees(arch: ArchSpec, epochs: usize, min_acc: f64) {
    let train_set = digits(Split::Train);
    let test_set = digits(Split::Test);
    let precision = Precision::new(4, 4, 8).unwrap();
    let mut cfg = TrainConfig::new(precision);
    cfg.epochs = epochs;
    cfg.batch = 32;
    cfg.lr = 3e-3;
    cfg.alpha.init = 4.0;
    let seed = 3;
    println!("seed {seed}");
    let (model, hist) = train(&ModelSpec::Arch(arch), &train_set, Some(&test_set), &cfg, seed, |e| {
        println!(
            "epoch {}: loss {:.4} train {:.3} test {:?} α {:?}",
            e.epoch, e.loss, e.train_acc, e.test_acc, e.alpha
        )
    })
    .unwrap();
    assert_eq!(hist.len(), epochs);
    let mut net = Net::new(&model, precision, AlphaInit::default()).unwrap();
    let ours = net.classify(&test_set.images).unwrap();
    let q = quantize(
        &model,
        &QuantConfig::builder().wbits(4).abits(4).build().unwrap(),
        None,
        "test",
    )
    .unwrap();
    let px = test_set.pixels_per_image();
    let fq: Vec<usize> = test_set
        .images
        .chunks(px)
        .map(|img| argmax(&fake_quant_forward(&q, img)))
        .collect();
    let golden = Golden::new(&q).classify_batch(&test_set.images);
    let agree = ours.iter().zip(&fq).filter(|(a, b)| a == b).count();
    let (a_ours, a_fq, a_int) = (
        acc(&ours, &test_set.labels),
        acc(&fq, &test_set.labels),
        acc(&golden, &test_set.labels),
    );
    println!(
        "test: ours {a_ours:.4}, fake-quant {a_fq:.4}, integer {a_int:.4}; {agree}/{} agree",
        ours.len()
    );
    assert!(
        agree as f64 >= 0.99 * ours.len() as f64,
        "only {agree}/{} test images classified alike",
        ours.len()
    );
    assert!((a_int - a_fq).abs() <= 0.01, "integer {a_int} vs fake-quant {a_fq}");
    assert!(a_ours >= min_acc, "test accuracy {a_ours} below {min_acc}");
}

#[test]
fn mlp_w4a4_agrees_with_quantizer_and_golden() {
    let shape = digits(Split::Test).shape;
    trains_and_agrees(ArchSpec::preset("mlp", shape).unwrap(), 6, 0.9);
}

#[test]
fn residual_cnn_with_avgpool_agrees_with_quantizer_and_golden() {
    let arch = ArchSpec::from_json(
        r#"{ "layers": [
            { "name": "c1", "op": "conv2d", "out": 8, "kernel": 3, "padding": 1 },
            { "op": "batchnorm" }, { "name": "a1", "op": "pact" },
            { "op": "conv2d", "out": 8, "kernel": 3, "padding": 1 },
            { "op": "batchnorm" }, { "name": "a2", "op": "pact" },
            { "op": "add", "inputs": ["a1", "a2"] }, { "op": "pact" },
            { "op": "avgpool", "kernel": 2 },
            { "op": "conv2d", "out": 16, "kernel": 3, "padding": 1 },
            { "op": "batchnorm" }, { "op": "pact" },
            { "op": "maxpool", "kernel": 2 },
            { "op": "flatten" }, { "op": "dense" }
        ] }"#,
    )
    .unwrap();
    trains_and_agrees(arch, 4, 0.85);
}

#[test]
fn pact_train_command_writes_model_log_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let log = dir.path().join("log.jsonl");
    let mut args = TrainArgs::with_output(&out);
    args.data = "digits".into();
    args.arch = Some("mlp".into());
    args.epochs = 2;
    args.wbits = 2;
    args.abits = 2;
    args.limit = Some(400);
    args.log = Some(log.clone());
    let r = run(&args, 5, true).unwrap();
    assert_eq!(r.seed, 5);
    assert_eq!(r.train_samples, 400);
    assert!(r.int_test_acc.is_some(), "{:?}", r.int_note);
    assert!(r.samples_per_sec > 0.0 && r.wall_seconds > 0.0);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["epoch"], 2);
    assert!(lines[1]["alpha"]["act1"].as_f64().unwrap() > 0.0);
    assert!(lines[1]["test_acc"].as_f64().is_some());
    let m = statedict::load_arch(&out).unwrap();
    assert!(m
        .nodes
        .iter()
        .any(|n| matches!(n.op, pact_toolchain::float::Op::Pact { .. })));
    // Fine-tune from it at full precision: activations become plain ReLU.
    let mut ft = TrainArgs::with_output(dir.path().join("fp.json"));
    ft.data = "digits".into();
    ft.init = Some(out.clone());
    ft.epochs = 1;
    ft.wbits = 32;
    ft.abits = 32;
    ft.limit = Some(200);
    let r2 = run(&ft, 5, true).unwrap();
    assert!(r2.int_test_acc.is_none());
    let m2 = statedict::load_arch(&dir.path().join("fp.json")).unwrap();
    assert!(m2
        .nodes
        .iter()
        .all(|n| !matches!(n.op, pact_toolchain::float::Op::Pact { .. })));
    // --arch with --init is refused.
    ft.arch = Some("mlp".into());
    assert!(run(&ft, 5, true).unwrap_err().to_string().contains("--init"));
}
