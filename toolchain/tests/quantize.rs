//! Quantizer, golden model and .pqm format on hand-built models: BatchNorm folding (incl. negative γ), requant
//! constants, first/last widths, calibration, every rejection with its message, file round trip and corruption.

use pact_toolchain::contract::{self, code_max, decode_weight};
use pact_toolchain::float::{BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use pact_toolchain::forward::{float_trace, FakeQuant};
use pact_toolchain::golden::Golden;
use pact_toolchain::qmodel::{Output, QModel, QOp};
use pact_toolchain::quantize::{quantize, QuantConfig, WeightQuantizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0x9AC7_0001;

fn rng() -> ChaCha8Rng {
    println!("seed = {SEED:#x}");
    ChaCha8Rng::seed_from_u64(SEED)
}

fn node(name: &str, op: Op, inputs: Vec<usize>) -> Node {
    Node {
        name: name.into(),
        op,
        inputs,
    }
}

fn rand_tensor(r: &mut ChaCha8Rng, shape: Vec<usize>, s: f32) -> Tensor {
    let n = shape.iter().product();
    Tensor {
        shape,
        data: (0..n).map(|_| r.gen_range(-1.0f32..1.0) * s).collect(),
    }
}

/// conv(4, 3×3, pad 1) → BN (γ < 0 on channels 1 and 3) → PACT(α=3) → maxpool 2 → flatten → dense(16) → PACT(2)
/// → dense(10), on 1×8×8 inputs.
fn cnn(r: &mut ChaCha8Rng) -> FloatModel {
    let bn = BatchNorm {
        gamma: vec![1.3, -0.7, 0.9, -1.6],
        beta: vec![0.2, 0.5, -0.1, 1.0],
        mean: vec![0.1, -0.2, 0.3, 0.0],
        var: vec![0.5, 1.2, 0.8, 2.0],
        eps: 1e-5,
    };
    let nodes = vec![
        node("input", Op::Input, vec![]),
        node(
            "conv1",
            Op::Conv2d {
                weight: rand_tensor(r, vec![4, 1, 3, 3], 1.0),
                bias: Some(vec![0.1, -0.2, 0.05, 0.0]),
                stride: [1, 1],
                pad: [1, 1, 1, 1],
            },
            vec![0],
        ),
        node("bn1", Op::BatchNorm(bn), vec![1]),
        node("act1", Op::Pact { alpha: 3.0 }, vec![2]),
        node(
            "pool1",
            Op::MaxPool {
                kernel: [2, 2],
                stride: [2, 2],
                pad: [0; 4],
            },
            vec![3],
        ),
        node("flat", Op::Flatten, vec![4]),
        node(
            "fc1",
            Op::Dense {
                weight: rand_tensor(r, vec![16, 64], 0.125),
                bias: Some(vec![0.05; 16]),
            },
            vec![5],
        ),
        node("act2", Op::Pact { alpha: 2.0 }, vec![6]),
        node(
            "fc2",
            Op::Dense {
                weight: rand_tensor(r, vec![10, 16], 1.0),
                bias: Some((0..10).map(|i| i as f32 * 0.01).collect()),
            },
            vec![7],
        ),
    ];
    FloatModel {
        input: InputSpec {
            shape: [1, 8, 8],
            scale: 1.0 / 16.0,
        },
        nodes,
    }
}

fn images(r: &mut ChaCha8Rng, n: usize, px: usize, max: u8) -> Vec<u8> {
    (0..n * px).map(|_| r.gen_range(0..=max)).collect()
}

fn cfg(w: u32, a: u32, fl: u32) -> QuantConfig {
    QuantConfig::builder()
        .wbits(w)
        .abits(a)
        .first_last_bits(fl)
        .build()
        .unwrap()
}

#[test]
fn first_last_widths_and_structure() {
    let m = cnn(&mut rng());
    let q = quantize(&m, &cfg(2, 3, 8), None, "test").unwrap();
    let kinds: Vec<&str> = q.layers.iter().map(|l| l.op.kind()).collect();
    assert_eq!(kinds, ["conv2d", "maxpool", "flatten", "dense", "dense"]);
    let c = |i: usize| q.layers[i].op.compute().unwrap();
    assert_eq!(
        (c(0).weights.bits, c(0).in_bits),
        (8, 8),
        "first layer: 8-bit weights, 8-bit pixels"
    );
    assert_eq!(
        (c(3).weights.bits, c(3).in_bits),
        (2, 3),
        "inner layer: W2 weights, A3 inputs"
    );
    assert_eq!(
        q.layers[3].out_bits, 8,
        "the activation feeding the last layer uses first/last bits"
    );
    assert_eq!(
        (c(4).weights.bits, c(4).in_bits),
        (8, 8),
        "last layer: 8-bit weights and inputs"
    );
    assert!(matches!(c(4).output, Output::Logits));
    // K equal to the other widths: every layer alike.
    let q4 = quantize(&m, &cfg(4, 4, 4), None, "test").unwrap();
    for l in q4.layers.iter().filter_map(|l| l.op.compute()) {
        assert_eq!(l.weights.bits, 4);
    }
    assert_eq!(q4.layers[3].out_bits, 4);
}

/// BatchNorm folds into per-channel M0/n and bias; γ < 0 channels get negated weight indices. Checked against a
/// naive float computation in this file from the DoReFa levels of the original weights.
#[test]
fn batchnorm_folding_with_negative_gamma() {
    let mut r = rng();
    let m = cnn(&mut r);
    let q = quantize(&m, &cfg(4, 4, 8), None, "test").unwrap();
    let conv = q.layers[0].op.compute().unwrap();
    assert_eq!(conv.flip, vec![false, true, false, true]);
    let Op::Conv2d { weight, bias, .. } = &m.nodes[1].op else {
        unreachable!()
    };
    let Op::BatchNorm(bn) = &m.nodes[2].op else {
        unreachable!()
    };
    let (orig_idx, s_w) = contract::dorefa_weights(&weight.data, 8);
    for c in 0..4 {
        for j in 0..9 {
            let orig = decode_weight(orig_idx[c * 9 + j] as u32, 8);
            let stored = decode_weight(conv.weights.index[c * 9 + j] as u32, 8);
            assert_eq!(stored, if c % 2 == 1 { -orig } else { orig }, "channel {c} weight {j}");
        }
    }
    let golden = Golden::new(&q);
    let imgs = images(&mut r, 300, 64, 16);
    let (mut exact, mut total) = (0, 0);
    for img in imgs.chunks(64) {
        let codes = &golden.trace(img)[0];
        for c in 0..4 {
            let g = bn.gamma[c] as f64 / (bn.var[c] as f64 + bn.eps as f64).sqrt();
            for y in 0..8 {
                for x in 0..8 {
                    let mut acc = 0.0f64;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = (y as i64 + ky - 1, x as i64 + kx - 1);
                            if (0..8).contains(&iy) && (0..8).contains(&ix) {
                                let w = s_w * decode_weight(orig_idx[c * 9 + (ky * 3 + kx) as usize] as u32, 8) as f64;
                                acc += img[(iy * 8 + ix) as usize] as f64 / 16.0 * w;
                            }
                        }
                    }
                    let pre = g * (acc + bias.as_ref().unwrap()[c] as f64 - bn.mean[c] as f64) + bn.beta[c] as f64;
                    let want = contract::pact_code(pre, 3.0, 4) as i32;
                    let got = codes[(c * 8 + y) * 8 + x];
                    assert!(
                        (got - want).abs() <= 1,
                        "channel {c} ({y},{x}): integer {got}, float {want}"
                    );
                    exact += usize::from(got == want);
                    total += 1;
                }
            }
        }
    }
    assert!(
        exact * 1000 >= total * 995,
        "integer codes equal to float codes: {exact}/{total}"
    );
}

/// Fake-quant and integer models agree on nearly every class (they differ only by fixed-point rounding).
#[test]
fn fake_quant_and_integer_agree() {
    let mut r = rng();
    let m = cnn(&mut r);
    for (w, a) in [(8, 8), (4, 4), (2, 2), (1, 2)] {
        let q = quantize(&m, &cfg(w, a, 8), None, "test").unwrap();
        let (g, fq) = (Golden::new(&q), FakeQuant::new(&q));
        let imgs = images(&mut r, 1000, 64, 16);
        let agree = imgs
            .chunks(64)
            .filter(|img| g.infer(img).class == pact_toolchain::golden::argmax(&fq.forward(img)))
            .count();
        println!("W{w}A{a}: agreement {agree}/1000");
        // They differ by the fixed-point M0/2^n and by the integer bias (rounded to accumulator units, which are
        // coarse at low bits). Untrained random weights put many logits close together; the trained default model
        // is checked at >= 99 % in the CLI tests.
        assert!(agree >= 950, "W{w}A{a}: agreement {agree}/1000");
    }
}

#[test]
fn float_trace_matches_fake_quant_at_8_bits_closely() {
    // At W8A8 the fake-quant logits stay close to the float ones (sanity of scales and BN folding).
    let mut r = rng();
    let m = cnn(&mut r);
    // DoReFa renormalises weights (a training-time quantizer); post-training comparison uses max-abs.
    let q = quantize(
        &m,
        &QuantConfig::builder()
            .wbits(8)
            .abits(8)
            .weights(WeightQuantizer::MaxAbs)
            .build()
            .unwrap(),
        None,
        "test",
    )
    .unwrap();
    let fq = FakeQuant::new(&q);
    let imgs = images(&mut r, 50, 64, 16);
    let mut agree = 0;
    for img in imgs.chunks(64) {
        let f = float_trace(&m, img).unwrap().pop().unwrap();
        agree += usize::from(pact_toolchain::golden::argmax(&f) == pact_toolchain::golden::argmax(&fq.forward(img)));
    }
    assert!(agree >= 40, "float vs fake-quant W8A8 agreement {agree}/50");
}

#[test]
fn logits_bias_and_acc_width_bound() {
    let m = cnn(&mut rng());
    let q = quantize(&m, &cfg(4, 4, 8), None, "test").unwrap();
    let golden = Golden::new(&q);
    // Worst case of the first layer: every pixel at 16 would not reach 255; the width is computed for 8-bit codes.
    for l in q.layers.iter().filter_map(|l| l.op.compute()) {
        let rows: Vec<Vec<i32>> = (0..l.weights.out).map(|o| l.weights.row(o)).collect();
        let want = contract::acc_width(
            code_max(l.in_bits),
            rows.iter().map(|r| r.as_slice()).zip(l.bias.iter().copied()),
        );
        assert_eq!(l.acc_bits, want);
    }
    // An all-255 image runs without overflow and the logits stay inside the declared width.
    let out = golden.trace(&[255u8; 64]);
    let last = q.layers.last().unwrap().op.compute().unwrap();
    for &v in out.last().unwrap() {
        assert!((v as i64) >= -(1i64 << (last.acc_bits - 1)) && (v as i64) < (1i64 << (last.acc_bits - 1)));
    }
}

#[test]
fn save_load_round_trip_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let m = cnn(&mut rng());
    let q = quantize(&m, &cfg(3, 2, 8), None, "test").unwrap();
    let p = dir.path().join("m.pqm");
    q.save(&p).unwrap();
    let back = QModel::load(&p).unwrap();
    assert_eq!(back, q);
    let bytes = std::fs::read(&p).unwrap();
    let bad = dir.path().join("bad.pqm");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            bytes[..bytes.len() / 2].to_vec(),
            "not a valid safetensors file",
        ),
        ("empty", vec![], "not a valid safetensors file"),
        (
            "random",
            (0..500u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "not a valid safetensors file",
        ),
        (
            "lfs",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n".to_vec(),
            "Git LFS pointer",
        ),
    ];
    for (what, b, msg) in cases {
        std::fs::write(&bad, &b).unwrap();
        let e = QModel::load(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&bad.display().to_string()) && e.contains(msg),
            "{what}: {e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
    }
    // A weight index out of range for its width is caught by validation.
    let mut q2 = q.clone();
    if let QOp::Dense(c) = &mut q2.layers[3].op {
        c.weights.index[0] = 200;
    }
    let e = q2.save(&bad).unwrap_err().to_string();
    assert_eq!(e, "layer 'fc1': weight index 200 at 0 does not fit 3 bits");
    // A wrong accumulator width is caught.
    let mut q3 = q.clone();
    if let QOp::Dense(c) = &mut q3.layers[3].op {
        c.acc_bits += 1;
    }
    assert!(q3.validate().unwrap_err().to_string().contains("the exact bound needs"));
    // A newer version is refused with its number.
    let mut q4 = q.clone();
    q4.version = 2;
    std::fs::write(&bad, q4.to_bytes().unwrap()).unwrap();
    let e = QModel::load(&bad).unwrap_err().to_string();
    assert!(e.contains("manifest version 2 is not supported"), "{e}");
    // No temp files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

fn err_of(m: &FloatModel, calib: Option<&[u8]>) -> String {
    quantize(m, &cfg(4, 4, 8), calib, "t").unwrap_err().to_string()
}

#[test]
fn rejections_name_the_layer() {
    let mut r = rng();
    let base = cnn(&mut r);
    // Dense/conv not followed by an activation (not the last layer).
    let mut m = base.clone();
    m.nodes[3] = node(
        "act1",
        Op::MaxPool {
            kernel: [1, 1],
            stride: [1, 1],
            pad: [0; 4],
        },
        vec![2],
    );
    let e = err_of(&m, None);
    assert!(
        e.starts_with("layer 'conv1': is not followed by a ReLU/PACT activation"),
        "{e}"
    );
    // BatchNorm γ = 0.
    let mut m = base.clone();
    if let Op::BatchNorm(bn) = &mut m.nodes[2].op {
        bn.gamma[2] = 0.0;
    }
    assert_eq!(
        err_of(&m, None),
        "layer 'conv1': channel 2: BatchNorm scale γ/σ is 0, the channel would be constant; not supported"
    );
    // α ≤ 0 and NaN.
    let mut m = base.clone();
    m.nodes[3].op = Op::Pact { alpha: 0.0 };
    assert_eq!(
        err_of(&m, None),
        "layer 'act1': PACT alpha is 0 (must be finite and > 0)"
    );
    m.nodes[3].op = Op::Pact { alpha: f32::NAN };
    assert_eq!(
        err_of(&m, None),
        "layer 'act1': PACT alpha is NaN (must be finite and > 0)"
    );
    // NaN weight.
    let mut m = base.clone();
    if let Op::Dense { weight, .. } = &mut m.nodes[6].op {
        weight.data[5] = f32::INFINITY;
    }
    assert_eq!(err_of(&m, None), "layer 'fc1': weight[5] is inf (must be finite)");
    // ReLU without α and without calibration data.
    let mut m = base.clone();
    m.nodes[7].op = Op::Relu;
    assert_eq!(
        err_of(&m, None),
        "layer 'act2': ReLU has no learned alpha: pass calibration data (--calib DATA) so pact can calibrate one"
    );
    // ... with calibration data it is calibrated and noted.
    let imgs = images(&mut r, 64, 64, 16);
    let q = quantize(&m, &cfg(4, 4, 8), Some(&imgs), "t").unwrap();
    assert!(
        q.provenance
            .notes
            .iter()
            .any(|n| n.starts_with("layer 'act2': ReLU without learned alpha, calibrated alpha = ")),
        "{:?}",
        q.provenance.notes
    );
    // BatchNorm after the last layer.
    let mut m = base.clone();
    m.nodes.push(node(
        "bn_out",
        Op::BatchNorm(BatchNorm {
            gamma: vec![1.0; 10],
            beta: vec![0.0; 10],
            mean: vec![0.0; 10],
            var: vec![1.0; 10],
            eps: 1e-5,
        }),
        vec![8],
    ));
    let e = err_of(&m, None);
    assert_eq!(
        e,
        "layer 'bn_out': the model must end with its last dense/conv layer (logits), it ends with batchnorm"
    );
}

/// Residual add and average pools: exact integer division, shared-shift add, agreement with fake-quant.
#[test]
fn residual_add_and_average_pools() {
    let mut r = rng();
    let conv = |r: &mut ChaCha8Rng, o: usize, i: usize| Op::Conv2d {
        weight: rand_tensor(r, vec![o, i, 3, 3], 0.7),
        bias: None,
        stride: [1, 1],
        pad: [1, 1, 1, 1],
    };
    let nodes = vec![
        node("input", Op::Input, vec![]),
        node("c1", conv(&mut r, 4, 1), vec![0]),
        node("a1", Op::Pact { alpha: 2.0 }, vec![1]),
        node("c2", conv(&mut r, 4, 4), vec![2]),
        node("a2", Op::Pact { alpha: 1.5 }, vec![3]),
        node("res", Op::Add, vec![4, 2]),
        node("a3", Op::Pact { alpha: 3.0 }, vec![5]),
        node(
            "avg",
            Op::AvgPool {
                kernel: [2, 2],
                stride: [2, 2],
            },
            vec![6],
        ),
        node("gap", Op::GlobalAvgPool, vec![7]),
        node(
            "fc",
            Op::Dense {
                weight: rand_tensor(&mut r, vec![10, 4], 1.0),
                bias: None,
            },
            vec![8],
        ),
    ];
    let m = FloatModel {
        input: InputSpec {
            shape: [1, 8, 8],
            scale: 1.0 / 16.0,
        },
        nodes,
    };
    let q = quantize(&m, &cfg(4, 4, 8), None, "t").unwrap();
    let kinds: Vec<&str> = q.layers.iter().map(|l| l.op.kind()).collect();
    assert_eq!(kinds, ["conv2d", "conv2d", "add", "avgpool", "global_avgpool", "dense"]);
    let g = Golden::new(&q);
    let fq = FakeQuant::new(&q);
    let imgs = images(&mut r, 500, 64, 16);
    let mut agree = 0;
    for img in imgs.chunks(64) {
        let t = g.trace(img);
        // avg pool of 2×2 = exact rounded mean of the add's codes
        for c in 0..4 {
            for y in 0..4 {
                for x in 0..4 {
                    let s: i32 = (0..4).map(|k| t[2][(c * 8 + 2 * y + k / 2) * 8 + 2 * x + k % 2]).sum();
                    assert_eq!(t[3][(c * 4 + y) * 4 + x], (2 * s + 4) / 8, "avg pool rounds half up");
                }
            }
            let s: i32 = t[3][c * 16..(c + 1) * 16].iter().sum();
            assert_eq!(t[4][c], (2 * s + 16) / 32, "global avg pool rounds half up");
        }
        agree += usize::from(g.infer(img).class == pact_toolchain::golden::argmax(&fq.forward(img)));
    }
    assert!(agree >= 490, "agreement {agree}/500");
    // An add without a following activation is rejected.
    let mut m2 = m.clone();
    m2.nodes[6] = node("a3", Op::Flatten, vec![5]);
    m2.nodes.truncate(7);
    m2.nodes.push(node(
        "fc",
        Op::Dense {
            weight: rand_tensor(&mut r, vec![10, 256], 1.0),
            bias: None,
        },
        vec![6],
    ));
    assert_eq!(
        err_of(&m2, None),
        "layer 'res': a residual add must be followed by a ReLU/PACT activation"
    );
}

/// The builder: defaults, every setting kept, each range checked at `build()` with its exact message, both ends.
#[test]
fn quant_config_builder() {
    // The documented defaults (README: W4A4, first/last layers 8 bits; M0 fits one 16-bit DSP operand).
    let d = QuantConfig::builder().build().unwrap();
    let got = (d.wbits(), d.abits(), d.first_last_bits(), d.m0_bits(), d.quantizer());
    assert_eq!(got, (4, 4, 8, 16, WeightQuantizer::Dorefa));
    assert_eq!(d, QuantConfig::default());
    let c = QuantConfig::builder()
        .wbits(1)
        .abits(8)
        .first_last_bits(1)
        .m0_bits(31)
        .weights(WeightQuantizer::MaxAbs)
        .build()
        .unwrap();
    let got = (c.wbits(), c.abits(), c.first_last_bits(), c.m0_bits(), c.quantizer());
    assert_eq!(got, (1, 8, 1, 31, WeightQuantizer::MaxAbs));
    let e = |b: pact_toolchain::quantize::QuantConfigBuilder| b.build().unwrap_err().to_string();
    let b = QuantConfig::builder;
    for (w, msg) in [(0, "--wbits = 0"), (9, "--wbits = 9")] {
        assert_eq!(
            e(b().wbits(w)),
            format!("{msg} is out of range: weights take 1..=8 bits")
        );
    }
    for (a, msg) in [(0, "--abits = 0"), (9, "--abits = 9")] {
        assert_eq!(
            e(b().abits(a)),
            format!("{msg} is out of range: activations take 1..=8 bits")
        );
    }
    for v in [0, 9] {
        let msg = format!("--first-last-bits = {v} is out of range: 1..=8 bits");
        assert_eq!(e(b().first_last_bits(v)), msg);
    }
    for v in [1, 32] {
        assert_eq!(
            e(b().m0_bits(v)),
            format!("--m0-bits = {v} is out of range: 2..=31 bits")
        );
    }
    // Several out of range: the first in flag order is reported.
    assert_eq!(
        e(b().m0_bits(0).first_last_bits(0).abits(0).wbits(9)),
        "--wbits = 9 is out of range: weights take 1..=8 bits"
    );
    assert_eq!(
        e(b().m0_bits(0).first_last_bits(0)),
        "--first-last-bits = 0 is out of range: 1..=8 bits"
    );
}

/// A constant the contract cannot represent is an error of the layer whose `source()` is the contract's own error
/// (not a copy of its text), and the whole chain reads as before: `layer '…': channel c: <the contract's message>`.
#[test]
fn contract_errors_keep_their_source() {
    use pact_toolchain::Error;
    use std::error::Error as _;
    let mut r = rng();
    // α = 1e-6 after fc1: M = s_in·s_w·255/α is far above 2^15, so no 16-bit M0 with a shift ≥ 1 exists.
    let m = FloatModel {
        input: InputSpec {
            shape: [1, 2, 2],
            scale: 1.0,
        },
        nodes: vec![
            node("input", Op::Input, vec![]),
            node("flat", Op::Flatten, vec![0]),
            node(
                "fc1",
                Op::Dense {
                    weight: rand_tensor(&mut r, vec![3, 4], 1.0),
                    bias: None,
                },
                vec![1],
            ),
            node("act1", Op::Pact { alpha: 1e-6 }, vec![2]),
            node(
                "fc2",
                Op::Dense {
                    weight: rand_tensor(&mut r, vec![2, 3], 1.0),
                    bias: None,
                },
                vec![3],
            ),
        ],
    };
    let e = quantize(&m, &cfg(4, 4, 8), None, "t").unwrap_err();
    assert!(matches!(&e, Error::InLayer { layer, .. } if layer == "fc1"), "{e:?}");
    let src = e
        .source()
        .expect("a source")
        .downcast_ref::<Error>()
        .expect("the toolchain's error");
    assert!(matches!(src, Error::Config(_)), "{src:?}");
    assert!(src.to_string().starts_with("requantization multiplier "), "{src}");
    assert_eq!(e.to_string(), "layer 'fc1': channel 0");
    assert_eq!(e.chain(), format!("layer 'fc1': channel 0: {src}"));
}
