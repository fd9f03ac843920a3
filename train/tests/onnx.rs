//! ONNX export: a float model written by `pact_train::onnx` and read back by pact's own ONNX importer is the same
//! model (same ops and parameters) and gives identical float outputs; it quantizes to the same integer model;
//! `pact train --onnx` writes the file.

use pact_toolchain::data::{load, DataSpec, Split};
use pact_toolchain::float::{FloatModel, InputSpec, Op};
use pact_toolchain::forward::float_forward;
use pact_toolchain::golden::Golden;
use pact_toolchain::import::onnx::load_onnx;
use pact_toolchain::quantize::{quantize, QuantConfig};
use pact_train::{onnx, ArchSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every layer kind the export handles: conv (with and without bias, padding, stride 2), BatchNorm on feature
/// maps and on vectors, PACT and plain ReLU, residual add, max/avg/global-avg pooling, flatten, dense.
const EVERY_LAYER: &str = r#"{ "layers": [
    { "name": "c1", "op": "conv2d", "out": 6, "kernel": 3, "padding": 1 },
    { "name": "bn1", "op": "batchnorm" },
    { "name": "a1", "op": "pact" },
    { "name": "c2", "op": "conv2d", "out": 6, "kernel": 3, "padding": [1, 1, 1, 1] },
    { "name": "bn2", "op": "batchnorm" },
    { "name": "a2", "op": "relu" },
    { "name": "res", "op": "add", "inputs": ["a1", "a2"] },
    { "name": "a3", "op": "act" },
    { "name": "mp", "op": "maxpool", "kernel": 2, "padding": [0, 0, 1, 1] },
    { "name": "c3", "op": "conv2d", "out": 8, "kernel": [2, 3], "stride": 1, "padding": [0, 1, 1, 1], "bias": true },
    { "name": "bn3", "op": "batchnorm" },
    { "name": "a4", "op": "pact" },
    { "name": "ap", "op": "avgpool", "kernel": 2 },
    { "name": "c4", "op": "conv2d", "out": 8, "kernel": 1, "stride": 1 },
    { "name": "a5", "op": "pact" },
    { "name": "gap", "op": "global_avgpool" },
    { "name": "fc1", "op": "dense", "out": 12 },
    { "name": "bn5", "op": "batchnorm" },
    { "name": "a6", "op": "pact" },
    { "name": "fc2", "op": "dense" }
] }"#;

/// `arch` on digits-shaped input with random weights, random BatchNorm statistics and random α (the plain
/// `relu` layer a2 stays a ReLU).
fn random_model(arch: &str, seed: u64, shape: [usize; 3]) -> FloatModel {
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = if arch.starts_with('{') {
        ArchSpec::from_json(arch).unwrap()
    } else {
        ArchSpec::preset(arch, shape).unwrap()
    };
    let mut m = arch
        .build(
            InputSpec {
                shape,
                scale: 1.0 / 16.0,
            },
            10,
            &mut rng,
        )
        .unwrap();
    for node in &mut m.nodes {
        match &mut node.op {
            Op::BatchNorm(bn) => {
                for c in 0..bn.gamma.len() {
                    bn.gamma[c] = rng.gen_range(0.5..2.0);
                    bn.beta[c] = rng.gen_range(-0.5..0.5);
                    bn.mean[c] = rng.gen_range(-0.3..0.3);
                    bn.var[c] = rng.gen_range(0.2..2.0);
                }
                bn.eps = 1e-3;
            }
            Op::Relu if node.name != "a2" => {
                node.op = Op::Pact {
                    alpha: rng.gen_range(0.5..4.0),
                }
            }
            _ => {}
        }
    }
    m
}

/// Export, re-import, and compare: the same ops with the same parameters, identical float outputs on the
/// digits test images, and the same integer model (golden predictions) after quantization.
fn round_trip(m: &FloatModel) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    onnx::save_onnx(m, &path).unwrap();
    let back = load_onnx(&path, m.input.scale).unwrap();
    let ops = |m: &FloatModel| m.nodes.iter().skip(1).map(|n| n.op.clone()).collect::<Vec<_>>();
    assert_eq!(ops(&back), ops(m), "the re-imported model differs");
    assert_eq!(back.input, m.input);
    let data = load(&DataSpec::Digits, Split::Test).unwrap();
    for i in 0..100 {
        let (a, b) = (
            float_forward(m, data.image(i)).unwrap(),
            float_forward(&back, data.image(i)).unwrap(),
        );
        assert_eq!(a, b, "image {i}: float outputs differ");
    }
    let qc = QuantConfig::builder().wbits(4).abits(4).build().unwrap();
    let imgs = &data.images[..200 * data.pixels_per_image()];
    let calib = Some(&imgs[..50 * data.pixels_per_image()]); // for the plain ReLU
    let (qa, qb) = (
        quantize(m, &qc, calib, "a").unwrap(),
        quantize(&back, &qc, calib, "b").unwrap(),
    );
    assert_eq!(
        Golden::new(&qa).classify_batch(imgs),
        Golden::new(&qb).classify_batch(imgs),
        "the integer models differ"
    );
}

#[test]
fn every_layer_kind_round_trips_through_onnx() {
    round_trip(&random_model(EVERY_LAYER, 61, [1, 8, 8]));
}

#[test]
fn presets_round_trip_through_onnx() {
    round_trip(&random_model("cnn", 62, [1, 8, 8]));
    round_trip(&random_model("mlp", 63, [1, 8, 8]));
}

#[test]
fn clip_nodes_carry_alpha_and_batchnorm_stays_a_node() {
    use pact_toolchain::import::onnx::proto::ModelProto;
    use prost::Message;
    let m = random_model("cnn", 64, [1, 8, 8]);
    let bytes = onnx::onnx_bytes(&m).unwrap();
    let p = ModelProto::decode(bytes.as_slice()).unwrap();
    let g = p.graph.unwrap();
    let types: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    println!("{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "BatchNormalization").count(), 2);
    assert_eq!(types.iter().filter(|t| **t == "Clip").count(), 2);
    let alphas: Vec<f32> = m
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Pact { alpha } => Some(alpha),
            _ => None,
        })
        .collect();
    for (clip, alpha) in g.node.iter().filter(|n| n.op_type == "Clip").zip(alphas) {
        let max = g.initializer.iter().find(|t| t.name == clip.input[2]).unwrap();
        assert_eq!(max.raw_data, alpha.to_le_bytes(), "Clip {} max", clip.name);
        let min = g.initializer.iter().find(|t| t.name == clip.input[1]).unwrap();
        assert_eq!(min.raw_data, 0f32.to_le_bytes());
    }
    assert!(!types.contains(&"Relu"), "PACT activations must be Clip nodes");
}

#[test]
fn pact_train_writes_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = pact_train::TrainArgs::with_output(dir.path().join("m.json"));
    a.data = "digits".into();
    a.arch = Some("cnn".into());
    a.epochs = 1;
    a.onnx = Some(dir.path().join("m.onnx"));
    let seed = 65;
    println!("seed {seed}");
    let r = pact_train::run(&a, seed, true).unwrap();
    let json = pact_toolchain::import::statedict::load_arch(&a.output).unwrap();
    let back = load_onnx(a.onnx.as_ref().unwrap(), json.input.scale).unwrap();
    let data = load(&DataSpec::Digits, Split::Test).unwrap();
    for i in 0..50 {
        assert_eq!(
            float_forward(&json, data.image(i)).unwrap(),
            float_forward(&back, data.image(i)).unwrap()
        );
    }
    assert!(r.int_test_acc.is_some());
}
