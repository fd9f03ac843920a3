//! Throughput of the golden integer model against an f32 evaluation of the same layer shapes.

use crate::float::{FloatModel, InputSpec, Node, Op, Tensor};
use crate::forward::FakeQuant;
use crate::golden::Golden;
use crate::qmodel::QModel;
use crate::quantize::{quantize, QuantConfig};
use crate::report::total_macs;
use crate::Result;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::time::Instant;

/// The MLP shape used by `pact bench` (784-256-128-10, as the training preset).
pub fn synthetic_mlp(seed: u64) -> FloatModel {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut nodes = vec![node("input", Op::Input, vec![]), node("flatten", Op::Flatten, vec![0])];
    let dims = [784, 256, 128, 10];
    for k in 0..3 {
        let w = random(&mut rng, vec![dims[k + 1], dims[k]], 1.0 / (dims[k] as f32).sqrt());
        let prev = nodes.len() - 1;
        nodes.push(node(
            &format!("fc{}", k + 1),
            Op::Dense {
                weight: w,
                bias: Some(vec![0.01; dims[k + 1]]),
            },
            vec![prev],
        ));
        if k < 2 {
            let prev = nodes.len() - 1;
            nodes.push(node(&format!("act{}", k + 1), Op::Pact { alpha: 2.0 }, vec![prev]));
        }
    }
    FloatModel {
        input: InputSpec {
            shape: [1, 28, 28],
            scale: 1.0 / 255.0,
        },
        nodes,
    }
}

/// The CNN shape used by `pact bench`: conv3×3(16) → pool → conv3×3(32) → pool → dense(10) on 28×28.
pub fn synthetic_cnn(seed: u64) -> FloatModel {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let conv = |rng: &mut rand_chacha::ChaCha8Rng, o: usize, i: usize| Op::Conv2d {
        weight: random(rng, vec![o, i, 3, 3], 1.0 / ((i * 9) as f32).sqrt()),
        bias: Some(vec![0.01; o]),
        stride: [1, 1],
        pad: [1, 1, 1, 1],
    };
    let pool = Op::MaxPool {
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0; 4],
    };
    let nodes = vec![
        node("input", Op::Input, vec![]),
        node("conv1", conv(&mut rng, 16, 1), vec![0]),
        node("act1", Op::Pact { alpha: 2.0 }, vec![1]),
        node("pool1", pool.clone(), vec![2]),
        node("conv2", conv(&mut rng, 32, 16), vec![3]),
        node("act2", Op::Pact { alpha: 2.0 }, vec![4]),
        node("pool2", pool, vec![5]),
        node("flatten", Op::Flatten, vec![6]),
        node(
            "fc",
            Op::Dense {
                weight: random(&mut rng, vec![10, 32 * 49], 0.03),
                bias: None,
            },
            vec![7],
        ),
    ];
    FloatModel {
        input: InputSpec {
            shape: [1, 28, 28],
            scale: 1.0 / 255.0,
        },
        nodes,
    }
}

fn node(name: &str, op: Op, inputs: Vec<usize>) -> Node {
    Node {
        name: name.into(),
        op,
        inputs,
    }
}

fn random(rng: &mut impl Rng, shape: Vec<usize>, scale: f32) -> Tensor {
    let n = shape.iter().product();
    Tensor {
        shape,
        data: (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * scale).collect(),
    }
}

/// Figures of one measurement.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub name: String,
    pub macs_per_inference: u64,
    pub images: usize,
    pub golden_mac_per_s: f64,
    pub f32_mac_per_s: f64,
    pub threads: usize,
}

/// Measure `q` on `images` random images: the golden model and the f32 (fake-quant) evaluation of the same
/// shapes, both over all cores. Each is run once to warm up, then timed.
pub fn measure(name: &str, q: &QModel, images: usize, seed: u64) -> BenchResult {
    let px: usize = q.input.shape.iter().product();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let data: Vec<u8> = (0..px * images).map(|_| rng.gen()).collect();
    let golden = Golden::new(q);
    let fq = FakeQuant::new(q);
    let macs = total_macs(q) * images as u64;
    let time = |f: &dyn Fn() -> usize| {
        std::hint::black_box(f());
        let t = Instant::now();
        std::hint::black_box(f());
        t.elapsed().as_secs_f64()
    };
    let tg = time(&|| golden.classify_batch(&data).len());
    let tf = time(&|| {
        data.par_chunks(px)
            .map(|img| crate::golden::argmax(&fq.forward(img)))
            .count()
    });
    BenchResult {
        name: name.into(),
        macs_per_inference: total_macs(q),
        images,
        golden_mac_per_s: macs as f64 / tg,
        f32_mac_per_s: macs as f64 / tf,
        threads: rayon::current_num_threads(),
    }
}

/// The built-in benchmark models quantized at W4A4.
pub fn builtin_models(seed: u64) -> Result<Vec<(String, QModel)>> {
    let cfg = QuantConfig::builder().wbits(4).abits(4).build()?;
    Ok(vec![
        (
            "mlp 784-256-128-10".into(),
            quantize(&synthetic_mlp(seed), &cfg, None, "synthetic mlp")?,
        ),
        (
            "cnn 16c3-32c3-10".into(),
            quantize(&synthetic_cnn(seed), &cfg, None, "synthetic cnn")?,
        ),
    ])
}
