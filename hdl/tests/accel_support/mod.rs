//! Support for the accelerator tests: models built in code (seeded, printed), generation into a stable folder
//! (so the Verilator cache hits on reruns), and a driver for the Verilated top that compares every result with the
//! golden model.
#![allow(dead_code)]

use pact_hdl::accel::plan::{Bank, LayerPlan, Plan};
use pact_hdl::accel::{generate_with, AccelConfig, GenOptions, GenReport};
use pact_sim::{Model, PortId, Sim, SimBuilder};
use pact_toolchain::float::{BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use pact_toolchain::golden::{argmax, Golden};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig, WeightQuantizer};
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

/// The shipped default model, quantized as `pact quantize` does.
pub fn default_model() -> QModel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/mnist5k-cnn-w4a4.json");
    let fm = pact_toolchain::model_io::load_float(&path, None).expect("load the default model");
    let cfg = QuantConfig::new(4, 4, 8, 16, WeightQuantizer::Dorefa).unwrap();
    quantize(&fm, &cfg, None, "models/mnist5k-cnn-w4a4.json").expect("quantize the default model")
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
    let cfg = QuantConfig::new(wbits, abits, 8, 16, WeightQuantizer::Dorefa).unwrap();
    quantize(fm, &cfg, Some(calib), source).expect("quantize")
}

/// A stable output folder for a named design (the Verilog embeds it, so the Verilator cache hits on reruns).
pub fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("accel").join(name)
}

/// Generate the accelerator into [`out_dir`] with absolute `$readmemh` paths.
pub fn gen(name: &str, q: &QModel, cfg: &AccelConfig) -> GenReport {
    let dir = out_dir(name);
    let opts = GenOptions {
        mem_dir: Some(dir.clone()),
    };
    let t = Instant::now();
    let rep = generate_with(q, cfg, &dir, &opts).unwrap_or_else(|e| panic!("{name}: generate failed: {e}"));
    println!(
        "{name}: generated {} lines of Verilog in {:.2} s ({:.2} s without writing files), {} files",
        rep.verilog_lines,
        t.elapsed().as_secs_f64(),
        rep.gen_seconds,
        rep.files.len()
    );
    rep
}

/// Verilate the generated design (cached).
pub fn verilate(name: &str, rep: &GenReport) -> Model {
    let t = Instant::now();
    let model = SimBuilder::new("top")
        .file(rep.dir.join("accel.v"))
        .build()
        .unwrap_or_else(|e| panic!("{name}: verilator build failed: {e}"));
    println!(
        "{name}: Verilator model in {:.1} s (cache hit: {})",
        t.elapsed().as_secs_f64(),
        model.build_info().cache_hit
    );
    model
}

/// The Verilated accelerator with its port handles.
pub struct Dut {
    pub sim: Sim,
    pub plan: Plan,
    rst: PortId,
    in_valid: PortId,
    in_data: PortId,
    in_ready: PortId,
    out_valid: PortId,
    out_class: PortId,
    busy: PortId,
    done: PortId,
    stop_en: PortId,
    stop_layer: PortId,
    sel: PortId,
    lane: PortId,
    addr: PortId,
    data: PortId,
}

impl Dut {
    /// A fresh instance, reset.
    pub fn new(model: &Model, plan: &Plan) -> Self {
        let sim = model.sim().expect("instance");
        let p = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
        let mut d = Dut {
            rst: p("rst"),
            in_valid: p("in_valid"),
            in_data: p("in_data"),
            in_ready: p("in_ready"),
            out_valid: p("out_valid"),
            out_class: p("out_class"),
            busy: p("busy"),
            done: p("done"),
            stop_en: p("dbg_stop_en"),
            stop_layer: p("dbg_stop_layer"),
            sel: p("dbg_sel"),
            lane: p("dbg_lane"),
            addr: p("dbg_addr"),
            data: p("dbg_data"),
            sim,
            plan: plan.clone(),
        };
        d.sim.set(d.rst, 1);
        d.sim.run(2).unwrap();
        d.sim.set(d.rst, 0);
        d
    }

    /// Stream one image in (one pixel per cycle). Returns with the last pixel just accepted.
    fn feed(&mut self, pixels: &[u8]) -> Result<(), String> {
        if self.sim.get(self.busy) != 0 || self.sim.get(self.in_ready) != 1 {
            return Err("not idle before the first pixel".into());
        }
        self.sim.set(self.in_valid, 1);
        for (i, &px) in pixels.iter().enumerate() {
            if self.sim.get(self.in_ready) != 1 {
                return Err(format!("in_ready low at pixel {i}"));
            }
            self.sim.set(self.in_data, px as u64);
            self.sim.tick().map_err(|e| e.to_string())?;
            if i + 1 < pixels.len() && self.sim.get(self.busy) != 1 {
                return Err(format!("busy low after pixel {i}"));
            }
        }
        self.sim.set(self.in_valid, 0);
        Ok(())
    }

    /// Run one image to its result; checks that `out_valid` rises exactly after the plan's compute cycles and
    /// returns the class.
    pub fn infer(&mut self, pixels: &[u8]) -> Result<usize, String> {
        self.sim.set(self.stop_en, 0);
        self.feed(pixels)?;
        let want = self.plan.compute_cycles() as u64;
        let mut got = 0u64;
        while got < want + 100_000 {
            self.sim.tick().map_err(|e| e.to_string())?;
            got += 1;
            if self.sim.get(self.out_valid) == 1 {
                break;
            }
        }
        if got != want {
            return Err(format!("out_valid after {got} compute cycles, the plan says {want}"));
        }
        let class = self.sim.get(self.out_class) as usize;
        self.sim.tick().map_err(|e| e.to_string())?;
        if self.sim.get(self.out_valid) != 0 || self.sim.get(self.done) != 1 || self.sim.get(self.busy) != 0 {
            return Err("after the result: out_valid should fall, done rise, busy fall".into());
        }
        if self.sim.get(self.out_class) as usize != class {
            return Err("out_class did not hold".into());
        }
        Ok(class)
    }

    /// Run one image and halt after compute layer `layer` (debug stop).
    pub fn run_to(&mut self, pixels: &[u8], layer: usize) -> Result<(), String> {
        self.sim.set(self.stop_en, 1);
        self.sim.set(self.stop_layer, layer as u64);
        self.feed(pixels)?;
        let want: usize = (0..=layer).map(|i| self.plan.layer_cycles(i)).sum();
        self.sim.run(want as u64).map_err(|e| e.to_string())?;
        self.sim.set(self.stop_en, 0);
        if self.sim.get(self.done) != 1 || self.sim.get(self.in_ready) != 1 {
            return Err(format!("not halted after layer {layer} within {want} cycles"));
        }
        Ok(())
    }

    /// Cycles from the last pixel to the halt after layer `layer` (measured tick by tick).
    pub fn measure_to(&mut self, pixels: &[u8], layer: usize) -> u64 {
        self.sim.set(self.stop_en, 1);
        self.sim.set(self.stop_layer, layer as u64);
        self.feed(pixels).unwrap();
        let mut n = 0;
        while self.sim.get(self.done) == 0 && n < 10_000_000 {
            self.sim.tick().unwrap();
            n += 1;
        }
        self.sim.set(self.stop_en, 0);
        n
    }

    /// Read a word through the debug port.
    pub fn read(&mut self, sel: Bank, lane: usize, addr: usize) -> u64 {
        self.sim.set(self.sel, sel.code() as u64);
        self.sim.set(self.lane, lane as u64);
        self.sim.set(self.addr, addr as u64);
        self.sim.tick().unwrap();
        self.sim.get(self.data)
    }

    /// The logits of the last inference (signed), channel order.
    pub fn logits(&mut self) -> Vec<i32> {
        let pe = self.plan.pe;
        (0..self.plan.classes)
            .map(|c| self.read(Bank::Logits, c % pe, c / pe) as u32 as i32)
            .collect()
    }

    /// The output tensor of compute layer `l` as stored (after a halt), in C×H×W order, plus the number of nonzero
    /// padding lanes (must be 0).
    pub fn stored(&mut self, l: &LayerPlan) -> (Vec<i32>, usize) {
        let simd = self.plan.simd;
        let o = l.out_layout;
        let mut out = vec![0i32; o.c * o.h * o.w];
        let mut bad_pad = 0;
        for pos in 0..o.h * o.w {
            for wi in 0..o.cw {
                for s in 0..simd {
                    let v = self.read(l.dst, s, pos * o.cw + wi) as i32;
                    let c = wi * simd + s;
                    if c < o.c {
                        out[c * o.h * o.w + pos] = v;
                    } else if v != 0 {
                        bad_pad += 1;
                    }
                }
            }
        }
        (out, bad_pad)
    }
}

/// Compare `rtl` with `gold` element-wise; the first difference as a message.
pub fn first_diff(what: &str, rtl: &[i32], gold: &[i32]) -> Option<String> {
    if rtl.len() != gold.len() {
        return Some(format!("{what}: {} values, golden has {}", rtl.len(), gold.len()));
    }
    let n = rtl.iter().zip(gold).filter(|(a, b)| a != b).count();
    rtl.iter().zip(gold).position(|(a, b)| a != b).map(|i| {
        format!(
            "{what}: {n} of {} values differ, first at {i}: RTL {} golden {}",
            rtl.len(),
            rtl[i],
            gold[i]
        )
    })
}

/// Outcome of a co-simulation run.
#[derive(Debug, Default)]
pub struct CoSim {
    pub images: usize,
    pub mismatches: Vec<String>,
    pub correct: usize,
    /// Cycles and wall time of the inferences alone (pixels in to result, not the layer-by-layer runs).
    pub cycles: u64,
    pub seconds: f64,
}

impl CoSim {
    pub fn cycles_per_second(&self) -> f64 {
        self.cycles as f64 / self.seconds.max(1e-9)
    }
}

/// Stream `images` through the DUT and compare class and logits of every image with the golden model; the first
/// `layered` images are also run layer by layer (debug halts) and every stored intermediate tensor compared.
pub fn cosim(dut: &mut Dut, q: &QModel, images: &[u8], labels: Option<&[u8]>, layered: usize) -> CoSim {
    let golden = Golden::new(q);
    let px = dut.plan.pixels();
    let n = images.len() / px;
    let mut res = CoSim::default();
    for i in 0..n {
        let img = &images[i * px..(i + 1) * px];
        let trace = golden.trace(img);
        if i < layered {
            for (k, l) in dut.plan.layers.clone().iter().enumerate() {
                if l.dst == Bank::Logits {
                    continue;
                }
                if let Err(e) = dut.run_to(img, k) {
                    res.mismatches.push(format!("image {i}, layer {k} '{}': {e}", l.name));
                    continue;
                }
                let (stored, bad_pad) = dut.stored(l);
                if let Some(d) = first_diff(&format!("image {i}, layer '{}'", l.name), &stored, &trace[l.out_qindex]) {
                    res.mismatches.push(d);
                }
                if bad_pad != 0 {
                    res.mismatches.push(format!(
                        "image {i}, layer '{}': {bad_pad} padding lanes are not 0",
                        l.name
                    ));
                }
            }
        }
        let gold_logits = trace.last().unwrap();
        let gold_class = argmax(gold_logits);
        let (t, c0) = (Instant::now(), dut.sim.cycles());
        let out = dut.infer(img);
        res.seconds += t.elapsed().as_secs_f64();
        res.cycles += dut.sim.cycles() - c0;
        match out {
            Err(e) => res.mismatches.push(format!("image {i}: {e}")),
            Ok(class) => {
                let logits = dut.logits();
                if class != gold_class {
                    res.mismatches.push(format!(
                        "image {i}: class {class}, golden {gold_class} (logits RTL {logits:?} golden {gold_logits:?})"
                    ));
                } else if let Some(d) = first_diff(&format!("image {i}, logits"), &logits, gold_logits) {
                    res.mismatches.push(d);
                }
                if labels.is_some_and(|l| l[i] as usize == class) {
                    res.correct += 1;
                }
            }
        }
        res.images += 1;
        if res.mismatches.len() > 20 {
            break;
        }
    }
    res
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
