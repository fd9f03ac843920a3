//! Support for the accelerator tests: models built in code (seeded, printed) and generation into a stable folder
//! (so the Verilator cache hits on reruns). The co-simulation driver is the `pact-cosim` crate.
#![allow(dead_code)]

use pact_hdl::accel::{AccelConfig, GenReport};
use pact_toolchain::float::{BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Instant;

/// A seeded generator: fixed per test name unless `PACT_HDL_SEED` is set; the seed is printed.
pub fn rng(test: &str) -> ChaCha8Rng {
    let seed = match std::env::var("PACT_HDL_SEED") {
        Ok(s) => s.parse().expect("PACT_HDL_SEED must be an integer"),
        Err(_) => test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        }),
    };
    println!("{test}: seed {seed} (replay with PACT_HDL_SEED={seed})");
    ChaCha8Rng::seed_from_u64(seed)
}

/// A number from the environment, or the default.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The shipped default model, quantized as `pact sim` does ([`pact_cosim::fixtures::default_model`]).
pub fn default_model() -> QModel {
    pact_cosim::fixtures::default_model().expect("load the default model")
}

/// Layers of a float model built in code.
pub enum L {
    /// Conv: out channels, kernel [kh, kw], stride [sy, sx], pad [t, l, b, r], then BN (random, some γ < 0) + ReLU.
    Conv(usize, [usize; 2], [usize; 2], [usize; 4]),
    /// Max pool kernel = stride.
    Pool(usize),
    Flatten,
    /// Dense with BN + ReLU.
    Dense(usize),
    /// The last dense layer (logits).
    Logits(usize),
    /// The last layer as a conv without padding (logits; its output must be 1 × 1).
    ConvLogits(usize, [usize; 2]),
}

fn tensor(r: &mut ChaCha8Rng, shape: Vec<usize>, scale: f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| r.gen_range(-1.0f32..1.0) * scale).collect()).unwrap()
}

fn bn(r: &mut ChaCha8Rng, c: usize) -> BatchNorm {
    BatchNorm {
        // Mostly positive scales, a few negative (the quantizer flips those channels' weights).
        gamma: (0..c)
            .map(|_| {
                let g = r.gen_range(0.5f32..1.5);
                if r.gen_bool(0.2) {
                    -g
                } else {
                    g
                }
            })
            .collect(),
        beta: (0..c).map(|_| r.gen_range(-0.3f32..0.3)).collect(),
        mean: (0..c).map(|_| r.gen_range(-0.2f32..0.2)).collect(),
        var: (0..c).map(|_| r.gen_range(0.5f32..2.0)).collect(),
        eps: 1e-5,
    }
}

/// A float model with random weights (ReLU activations, α calibrated by the quantizer on `calib`).
pub fn float_model(r: &mut ChaCha8Rng, input: [usize; 3], layers: &[L]) -> FloatModel {
    let mut nodes = vec![Node {
        name: "input".into(),
        op: Op::Input,
        inputs: vec![],
    }];
    let mut shape = input.to_vec();
    let push = |nodes: &mut Vec<Node>, name: String, op: Op| {
        let i = nodes.len();
        nodes.push(Node {
            name,
            op,
            inputs: vec![i - 1],
        });
    };
    for (k, l) in layers.iter().enumerate() {
        match *l {
            L::Conv(oc, kernel, stride, pad) => {
                let ic = shape[0];
                let fan = (ic * kernel[0] * kernel[1]) as f32;
                let w = tensor(r, vec![oc, ic, kernel[0], kernel[1]], 2.0 / fan.sqrt());
                let b = (0..oc).map(|_| r.gen_range(-0.2f32..0.2)).collect();
                push(
                    &mut nodes,
                    format!("conv{k}"),
                    Op::Conv2d {
                        weight: w,
                        bias: Some(b),
                        stride,
                        pad,
                    },
                );
                push(&mut nodes, format!("bn{k}"), Op::BatchNorm(bn(r, oc)));
                push(&mut nodes, format!("relu{k}"), Op::Relu);
                let oh = (shape[1] + pad[0] + pad[2] - kernel[0]) / stride[0] + 1;
                let ow = (shape[2] + pad[1] + pad[3] - kernel[1]) / stride[1] + 1;
                shape = vec![oc, oh, ow];
            }
            L::ConvLogits(oc, kernel) => {
                let ic = shape[0];
                let fan = (ic * kernel[0] * kernel[1]) as f32;
                let w = tensor(r, vec![oc, ic, kernel[0], kernel[1]], 2.0 / fan.sqrt());
                push(
                    &mut nodes,
                    format!("conv{k}"),
                    Op::Conv2d {
                        weight: w,
                        bias: None,
                        stride: [1, 1],
                        pad: [0; 4],
                    },
                );
                shape = vec![oc, shape[1] + 1 - kernel[0], shape[2] + 1 - kernel[1]];
            }
            L::Pool(k2) => {
                push(
                    &mut nodes,
                    format!("pool{k}"),
                    Op::MaxPool {
                        kernel: [k2, k2],
                        stride: [k2, k2],
                        pad: [0; 4],
                    },
                );
                shape = vec![shape[0], shape[1] / k2, shape[2] / k2];
            }
            L::Flatten => {
                push(&mut nodes, format!("flatten{k}"), Op::Flatten);
                shape = vec![shape.iter().product()];
            }
            L::Dense(n) | L::Logits(n) => {
                let fan = shape[0];
                let w = tensor(r, vec![n, fan], 2.0 / (fan as f32).sqrt());
                let b = (0..n).map(|_| r.gen_range(-0.2f32..0.2)).collect();
                push(
                    &mut nodes,
                    format!("fc{k}"),
                    Op::Dense {
                        weight: w,
                        bias: Some(b),
                    },
                );
                if matches!(l, L::Dense(_)) {
                    push(&mut nodes, format!("bn{k}"), Op::BatchNorm(bn(r, n)));
                    push(&mut nodes, format!("relu{k}"), Op::Relu);
                }
                shape = vec![n];
            }
        }
    }
    FloatModel {
        input: InputSpec {
            shape: input,
            scale: 1.0 / 255.0,
        },
        nodes,
    }
}

/// Random images (pixel codes), `n` back to back.
pub fn random_images(r: &mut ChaCha8Rng, n: usize, pixels: usize) -> Vec<u8> {
    (0..n * pixels)
        .map(|_| if r.gen_bool(0.3) { 0 } else { r.gen_range(0..=255u8) })
        .collect()
}

/// Quantize a float model at `wbits`/`abits` (first/last layers 8 bits), α calibrated on `calib`.
pub fn quantize_at(fm: &FloatModel, wbits: u32, abits: u32, calib: &[u8], source: &str) -> QModel {
    let cfg = QuantConfig::builder().wbits(wbits).abits(abits).build().unwrap();
    quantize(fm, &cfg, Some(calib), source).expect("quantize")
}

/// The folder of the generated designs (stable, so the Verilator cache hits on reruns).
pub fn design_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("accel")
}

/// A stable output folder for a named file set.
pub fn out_dir(name: &str) -> PathBuf {
    design_cache().join(name)
}

/// Generate (or reuse) the accelerator in [`design_cache`] with absolute `$readmemh` paths
/// ([`pact_cosim::prepare`]).
pub fn gen(name: &str, q: &QModel, cfg: &AccelConfig) -> GenReport {
    let t = Instant::now();
    let d =
        pact_cosim::prepare(q, cfg, None, &design_cache()).unwrap_or_else(|e| panic!("{name}: generate failed: {e:#}"));
    println!(
        "{name}: {} lines of Verilog in {} ({:.2} s, {}), {} files",
        d.report.verilog_lines,
        d.dir().display(),
        t.elapsed().as_secs_f64(),
        if d.reused { "reused" } else { "generated" },
        d.report.files.len()
    );
    d.report
}

/// The `mlp` preset's architecture (Flatten → 256 → 128 → classes) on a `[c, h, w]` input, random weights.
pub fn mlp_preset(r: &mut ChaCha8Rng, input: [usize; 3], classes: usize) -> FloatModel {
    float_model(
        r,
        input,
        &[L::Flatten, L::Dense(256), L::Dense(128), L::Logits(classes)],
    )
}

/// The `cnn` preset's architecture (the default model's), random weights.
pub fn cnn_preset(r: &mut ChaCha8Rng, input: [usize; 3], classes: usize) -> FloatModel {
    float_model(
        r,
        input,
        &[
            L::Conv(16, [3, 3], [1, 1], [1, 1, 1, 1]),
            L::Pool(2),
            L::Conv(32, [3, 3], [1, 1], [1, 1, 1, 1]),
            L::Pool(2),
            L::Flatten,
            L::Logits(classes),
        ],
    )
}

/// A small MLP (8×8 input, 64 → 20 → 13 → 4): output counts that are not multiples of the array sides.
pub fn tiny_mlp(r: &mut ChaCha8Rng) -> FloatModel {
    float_model(r, [1, 8, 8], &[L::Flatten, L::Dense(20), L::Dense(13), L::Logits(4)])
}

/// A tiny CNN exercising the addressing corners: 3 input channels, a non-square 11 × 9 input, a max pool that
/// drops the last row and column, a 3 × 2 kernel with stride [2, 1] and asymmetric padding, channel counts that
/// are not multiples of the array sides, a flatten into a dense layer, and a dense layer after a dense layer.
pub fn tiny_conv(r: &mut ChaCha8Rng) -> FloatModel {
    float_model(
        r,
        [3, 11, 9],
        &[
            L::Conv(5, [3, 3], [1, 1], [1, 1, 1, 1]),
            L::Pool(2),
            L::Conv(7, [3, 2], [2, 1], [1, 0, 1, 1]),
            L::Flatten,
            L::Dense(6),
            L::Logits(3),
        ],
    )
}

/// Quantize a model built in code at `wbits`/`abits` with α calibrated on 32 random images of its input shape.
pub fn build_q(r: &mut ChaCha8Rng, fm: &FloatModel, wbits: u32, abits: u32, what: &str) -> QModel {
    let px: usize = fm.input.shape.iter().product();
    let calib = random_images(r, 32, px);
    quantize_at(fm, wbits, abits, &calib, what)
}

/// The mnist5k test split.
pub fn mnist_test() -> pact_toolchain::data::Dataset {
    pact_toolchain::data::load(
        &pact_toolchain::data::DataSpec::Mnist5k,
        pact_toolchain::data::Split::Test,
    )
    .expect("mnist5k")
}
