//! The trainable network against the toolchain's evaluators: the float forward (full precision) and the
//! fake-quant forward of the quantized model, on an architecture with every supported layer kind; the
//! channel-major convolution against candle's; a finite-difference check through a whole network.

use candle_core::{DType, Device, Tensor, Var};
use pact_toolchain::float::{FloatModel, InputSpec, Op};
use pact_toolchain::forward::{fake_quant_forward, float_forward};
use pact_toolchain::golden::argmax;
use pact_toolchain::quantize::{quantize, QuantConfig};
use pact_train::ops::conv2d_cm;
use pact_train::{AlphaInit, ArchSpec, Net, Precision};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn randn(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

#[test]
fn channel_major_conv_matches_candle() {
    let seed = 31;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dev = Device::Cpu;
    for (k, stride, pad) in [
        (3, 1, [1; 4]),
        (3, 2, [1; 4]),
        (2, 2, [0; 4]),
        (1, 1, [0; 4]),
        (3, 1, [0, 1, 2, 1]),
        (5, 3, [2, 0, 1, 2]),
    ] {
        let (n, c, h, w, o) = (3, 2, 9, 8, 4);
        let x = Tensor::from_vec(randn(&mut rng, n * c * h * w), (n, c, h, w), &dev).unwrap();
        let wt = Tensor::from_vec(randn(&mut rng, o * c * k * k), (o, c, k, k), &dev).unwrap();
        let xp = x
            .pad_with_zeros(2, pad[0], pad[2])
            .unwrap()
            .pad_with_zeros(3, pad[1], pad[3])
            .unwrap();
        let want = xp.conv2d(&wt, 0, stride, 1, 1).unwrap();
        let got = conv2d_cm(&x.transpose(0, 1).unwrap().contiguous().unwrap(), &wt, stride, pad)
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        assert_eq!(got.dims(), want.dims(), "k {k} stride {stride} pad {pad:?}");
        let d = (got - &want)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 1e-5, "k {k} stride {stride} pad {pad:?}: max difference {d}");
        // Gradients of Σ cw·conv with respect to input and weight, against the naive loops below (candle 0.11's
        // own conv2d backward fails on some of these geometries).
        let cw = randn(&mut rng, want.elem_count());
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&wt).unwrap());
        let ours = conv2d_cm(&xv.as_tensor().transpose(0, 1).unwrap(), wv.as_tensor(), stride, pad).unwrap();
        let cwt = Tensor::from_vec(cw.clone(), want.dims(), &dev).unwrap();
        let g = (ours.transpose(0, 1).unwrap() * cwt)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (gx, gw) = naive_conv_grads(
            &x.flatten_all().unwrap().to_vec1().unwrap(),
            &wt.flatten_all().unwrap().to_vec1().unwrap(),
            &cw,
            [n, c, h, w, o, k, k],
            stride,
            pad,
        );
        for (what, v, want) in [("input", &xv, gx), ("weight", &wv, gw)] {
            let got: Vec<f32> = g.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let d = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(
                d < 1e-4,
                "k {k} stride {stride} pad {pad:?}: {what} gradient differs by {d}"
            );
        }
    }
}

/// Gradients of `L = Σ cw·conv(x, w)` (NCHW, zero padding `[top, left, bottom, right]`) by direct loops.
fn naive_conv_grads(
    x: &[f32],
    w: &[f32],
    cw: &[f32],
    [n, c, h, wd, o, kh, kw]: [usize; 7],
    s: usize,
    pad: [usize; 4],
) -> (Vec<f64>, Vec<f64>) {
    let oh = (h + pad[0] + pad[2] - kh) / s + 1;
    let ow = (wd + pad[1] + pad[3] - kw) / s + 1;
    let (mut gx, mut gw) = (vec![0f64; x.len()], vec![0f64; w.len()]);
    for i in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = cw[((i * o + oc) * oh + oy) * ow + ox] as f64;
                    for ic in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) = (
                                    (oy * s + ky) as isize - pad[0] as isize,
                                    (ox * s + kx) as isize - pad[1] as isize,
                                );
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((i * c + ic) * h + iy as usize) * wd + ix as usize;
                                let wi = ((oc * c + ic) * kh + ky) * kw + kx;
                                gx[xi] += g * w[wi] as f64;
                                gw[wi] += g * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (gx, gw)
}

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
    { "name": "c3", "op": "conv2d", "out": 8, "kernel": [2, 3], "stride": 1, "padding": [0, 1, 1, 1] },
    { "name": "bn3", "op": "batchnorm" },
    { "name": "a4", "op": "pact" },
    { "name": "ap", "op": "avgpool", "kernel": 2 },
    { "name": "c4", "op": "conv2d", "out": 8, "kernel": 1 },
    { "name": "bn4", "op": "batchnorm" },
    { "name": "a5", "op": "pact" },
    { "name": "gap", "op": "global_avgpool" },
    { "name": "fc1", "op": "dense", "out": 12 },
    { "name": "bn5", "op": "batchnorm" },
    { "name": "a6", "op": "pact" },
    { "name": "fc2", "op": "dense" }
] }"#;

/// A model with every layer kind, random weights and random BatchNorm statistics; α of its activations `alpha`.
fn every_layer_model(seed: u64, alpha: f32) -> FloatModel {
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = ArchSpec::from_json(EVERY_LAYER).unwrap();
    let mut m = arch
        .build(
            InputSpec {
                shape: [1, 8, 8],
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
                    bn.gamma[c] = rng.gen_range(0.5..2.0) * if rng.gen_bool(0.2) { -1.0 } else { 1.0 };
                    bn.beta[c] = rng.gen_range(-0.5..0.5);
                    bn.mean[c] = rng.gen_range(-0.3..0.3);
                    bn.var[c] = rng.gen_range(0.2..2.0);
                }
            }
            Op::Relu => {
                node.op = Op::Pact {
                    alpha: alpha * rng.gen_range(0.7..1.3),
                }
            }
            _ => {}
        }
    }
    m
}

fn images(seed: u64, n: usize, px: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * px).map(|_| rng.gen_range(0..=16u8)).collect()
}

#[test]
fn full_precision_forward_matches_the_float_evaluator() {
    let m = every_layer_model(32, 3.0);
    let mut net = Net::new(&m, Precision::full(), AlphaInit::default()).unwrap();
    let imgs = images(33, 40, 64);
    let x = net.input_tensor(&imgs).unwrap();
    let logits: Vec<Vec<f32>> = net.forward(&x, false).unwrap().to_vec2().unwrap();
    // Full precision means plain ReLU: compare with the float model whose activations are ReLU.
    let exported = net.to_float_model().unwrap();
    assert!(exported.nodes.iter().all(|n| !matches!(n.op, Op::Pact { .. })));
    for (i, l) in logits.iter().enumerate() {
        let want = float_forward(&exported, &imgs[i * 64..(i + 1) * 64]).unwrap();
        for (a, b) in l.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "image {i}: {l:?} vs {want:?}");
        }
    }
}

#[test]
fn quantized_forward_matches_fake_quant() {
    let m = every_layer_model(34, 2.0);
    let qc = QuantConfig::builder().wbits(4).abits(3).build().unwrap();
    let q = quantize(&m, &qc, None, "test").unwrap();
    let mut net = Net::new(&m, Precision::new(4, 3, 8).unwrap(), AlphaInit::default()).unwrap();
    let n = 300;
    let imgs = images(35, n, 64);
    let x = net.input_tensor(&imgs).unwrap();
    let logits: Vec<Vec<f32>> = net.forward(&x, false).unwrap().to_vec2().unwrap();
    let (mut same_class, mut close) = (0, 0);
    for (i, l) in logits.iter().enumerate() {
        let want = fake_quant_forward(&q, &imgs[i * 64..(i + 1) * 64]);
        same_class += usize::from(argmax(l) == argmax(&want));
        close += usize::from(
            l.iter()
                .zip(&want)
                .all(|(a, b)| (a - b).abs() <= 1e-3 * (1.0 + b.abs())),
        );
    }
    println!("{same_class}/{n} same class, {close}/{n} logits equal to 1e-3");
    assert!(same_class * 100 >= 99 * n, "{same_class}/{n} images classified alike");
    assert!(close * 100 >= 95 * n, "{close}/{n} images with matching logits");
    // The exported model carries the α it was built with.
    let exported = net.to_float_model().unwrap();
    assert_eq!(exported, m);
}

#[test]
fn whole_network_finite_differences() {
    // Full precision in f64, training mode (batch statistics): autograd against central differences of the loss.
    let m = every_layer_model(36, 3.0);
    let mut net = Net::new(&m, Precision::full(), AlphaInit::default()).unwrap();
    net.set_dtype(DType::F64).unwrap();
    let imgs = images(37, 16, 64);
    let labels: Vec<u32> = (0..16).map(|i| i % 10).collect();
    let x = net.input_tensor(&imgs).unwrap();
    let y = Tensor::from_vec(labels, 16, &Device::Cpu).unwrap();
    let params: Vec<Var> = net.params().into_iter().map(|(v, _)| v).collect();
    let loss_of = |net: &mut Net| -> f64 {
        let l = net.forward(&x, true).unwrap();
        candle_nn::loss::cross_entropy(&l, &y)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let l = net.forward(&x, true).unwrap();
    let grads = candle_nn::loss::cross_entropy(&l, &y).unwrap().backward().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(38);
    let (mut checked, mut kinks) = (0, 0);
    for p in &params {
        let g: Vec<f64> = grads
            .get(p.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let v0: Vec<f64> = p.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for _ in 0..3 {
            let i = rng.gen_range(0..v0.len());
            let set = |d: f64| {
                let mut v = v0.clone();
                v[i] += d;
                p.set(&Tensor::from_vec(v, p.as_tensor().shape(), &Device::Cpu).unwrap())
                    .unwrap();
            };
            let mut fd = |h: f64| {
                set(h);
                let lp = loss_of(&mut net);
                set(-h);
                let lm = loss_of(&mut net);
                set(0.0);
                (lp - lm) / (2.0 * h)
            };
            let (coarse, fine) = (fd(1e-4), fd(2.5e-5));
            if (coarse - fine).abs() > 1e-6 + 1e-4 * fine.abs() {
                kinks += 1; // a ReLU or max-pool kink within the step: the loss is not smooth there
                continue;
            }
            assert!(
                (fine - g[i]).abs() <= 1e-6 + 1e-4 * fine.abs(),
                "parameter {:?}[{i}]: FD {fine}, autograd {}",
                p.shape(),
                g[i]
            );
            checked += 1;
        }
    }
    println!("{checked} coordinates checked, {kinks} skipped at kinks");
    assert!(checked >= 40, "only {checked} coordinates away from kinks");
}
