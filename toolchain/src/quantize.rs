//! Float model → quantized integer model.
//!
//! Each dense/conv layer is fused with the BatchNorm and the ReLU/PACT activation that follow it; BatchNorm folds
//! into the per-channel requantization constants and the integer bias, never into the weight codes (which stay
//! DoReFa indices). For channel `c` with input scale `s_in`, weight step `s_w`, float bias `b`, BatchNorm
//! `y = g·x + h` and output activation `(α, k)`:
//!
//! * `M_c = |g_c|·s_in·s_w·(2^k − 1)/α`, approximated by `M0/2^n` ([`FixedMultiplier::from_real`]);
//! * `b_int_c = round_half_up(sign(g_c)·(b_c + h_c/g_c)/(s_in·s_w))`, in accumulator units;
//! * when `g_c < 0` the channel's weight indices are negated (`i → 2^k_w − 1 − i`, exact because the levels are
//!   symmetric) so that `M_c ≥ 0`; `g_c = 0` is rejected.
//!
//! The last dense/conv layer outputs raw accumulators (logits, `b_int = round_half_up(b/(s_in·s_w))`) followed by
//! an argmax. The first and the last dense/conv layer use `first_last_bits` for their weights, and so do the
//! activations feeding the last layer; the input is always 8-bit pixel codes. A ReLU without a learned α gets one
//! by calibration: the 99.99th percentile of its outputs over the calibration images (noted in the model's
//! provenance). Average pools divide exactly ([`contract::exact_divider`]); a residual add followed by an
//! activation becomes `clamp((a·M0_a + b·M0_b + 2^(n−1)) >> n)` with one shared shift.

use crate::contract::{self, code_max, round_half_up, FixedMultiplier, MAX_ACC_BITS};
use crate::error::{Error, Result};
use crate::float::{BatchNorm, FloatModel, Node, Op, Shape, Tensor};
use crate::qmodel::{
    self, ChannelRequant, Compute, ConvGeom, Output, Provenance, QInput, QLayer, QModel, QOp, Weights,
};
use rayon::prelude::*;

/// How float weights become weight indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightQuantizer {
    /// DoReFa (`tanh` normalisation), for models trained with DoReFa weights (PACT's recipe).
    Dorefa,
    /// Symmetric max-abs scaling onto the same odd levels, for post-training quantization of plain float models.
    MaxAbs,
    /// Integer weights read from a quantized source (QONNX/QCDQ) as they are, through a [`Preset`].
    Imported,
}

impl WeightQuantizer {
    /// Name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WeightQuantizer::Dorefa => "dorefa",
            WeightQuantizer::MaxAbs => "maxabs",
            WeightQuantizer::Imported => "imported",
        }
    }
}

impl std::str::FromStr for WeightQuantizer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dorefa" => Ok(WeightQuantizer::Dorefa),
            "maxabs" => Ok(WeightQuantizer::MaxAbs),
            "imported" => Ok(WeightQuantizer::Imported),
            _ => Err(Error::config(format!(
                "weight quantizer '{s}' is unknown (dorefa, maxabs)"
            ))),
        }
    }
}

/// Validated quantization settings. Build them with [`QuantConfig::builder`]; [`QuantConfig::default`] is W4A4,
/// first/last layers 8 bits, a 16-bit `M0` and DoReFa weights (the `contract::DEFAULT_*` constants).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConfig {
    wbits: u32,
    abits: u32,
    first_last_bits: u32,
    m0_bits: u32,
    quantizer: WeightQuantizer,
}

/// Percentile used to calibrate α of a plain ReLU.
pub const CALIB_PERCENTILE: f64 = 99.99;

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            wbits: contract::DEFAULT_WBITS,
            abits: contract::DEFAULT_ABITS,
            first_last_bits: contract::DEFAULT_FIRST_LAST_BITS,
            m0_bits: contract::DEFAULT_M0_BITS,
            quantizer: WeightQuantizer::Dorefa,
        }
    }
}

impl QuantConfig {
    /// A builder starting from the defaults ([`QuantConfig::default`]); its [`QuantConfigBuilder::build`]
    /// checks the ranges.
    pub fn builder() -> QuantConfigBuilder {
        QuantConfigBuilder {
            cfg: QuantConfig::default(),
        }
    }
    /// Weight bits of inner layers.
    pub fn wbits(&self) -> u32 {
        self.wbits
    }
    /// Activation bits of inner layers.
    pub fn abits(&self) -> u32 {
        self.abits
    }
    /// Bits of the first/last layers.
    pub fn first_last_bits(&self) -> u32 {
        self.first_last_bits
    }
    /// Width of the unsigned requantization multiplier `M0` in bits.
    pub fn m0_bits(&self) -> u32 {
        self.m0_bits
    }
    /// How float weights become weight indices.
    pub fn quantizer(&self) -> WeightQuantizer {
        self.quantizer
    }
}

/// Builder of a [`QuantConfig`]; every setting not given keeps its default. Nothing is checked before
/// [`Self::build`].
#[derive(Clone, Debug)]
#[must_use]
pub struct QuantConfigBuilder {
    cfg: QuantConfig,
}

impl QuantConfigBuilder {
    /// Weight bits of the inner dense/conv layers, 1..=8 (`--wbits`).
    pub fn wbits(mut self, bits: u32) -> Self {
        self.cfg.wbits = bits;
        self
    }
    /// Activation bits of the inner layers, 1..=8 (`--abits`).
    pub fn abits(mut self, bits: u32) -> Self {
        self.cfg.abits = bits;
        self
    }
    /// Bits of the first and last layers' weights and of the activations feeding the last layer, 1..=8
    /// (`--first-last-bits`).
    pub fn first_last_bits(mut self, bits: u32) -> Self {
        self.cfg.first_last_bits = bits;
        self
    }
    /// Width of the unsigned requantization multiplier `M0`, 2..=31 bits (`--m0-bits`).
    pub fn m0_bits(mut self, bits: u32) -> Self {
        self.cfg.m0_bits = bits;
        self
    }
    /// How float weights become weight indices.
    pub fn weights(mut self, quantizer: WeightQuantizer) -> Self {
        self.cfg.quantizer = quantizer;
        self
    }
    /// The settings, if every width is in range; the error names the first one out of range by its flag
    /// (checked in the order `--wbits`, `--abits`, `--first-last-bits`, `--m0-bits`).
    pub fn build(self) -> Result<QuantConfig> {
        let c = self.cfg;
        contract::check_weight_bits("--wbits", c.wbits)?;
        contract::check_act_bits("--abits", c.abits)?;
        if !(1..=8).contains(&c.first_last_bits) {
            return Err(Error::config(format!(
                "--first-last-bits = {} is out of range: 1..=8 bits",
                c.first_last_bits
            )));
        }
        if !(2..=31).contains(&c.m0_bits) {
            return Err(Error::config(format!(
                "--m0-bits = {} is out of range: 2..=31 bits",
                c.m0_bits
            )));
        }
        Ok(c)
    }
}

/// The float network a model stands for under `quantizer`: for DoReFa, every dense/conv weight replaced by its
/// unrounded DoReFa transform ([`contract::dorefa_limit`]) — the latent weights of a DoReFa-trained model are not
/// the network's weights; for max-abs, the model unchanged.
pub fn float_reference(model: &FloatModel, quantizer: WeightQuantizer) -> FloatModel {
    let mut m = model.clone();
    if quantizer == WeightQuantizer::Dorefa {
        for n in &mut m.nodes {
            if let Op::Dense { weight, .. } | Op::Conv2d { weight, .. } = &mut n.op {
                weight.data = contract::dorefa_limit(&weight.data);
            }
        }
    }
    m
}

/// Integer weights of one dense/conv node of a quantized source, taken as they are (not re-quantized).
#[derive(Clone, Debug, PartialEq)]
pub struct PresetWeights {
    /// Width of the codes: `TwosComplement` 2..=8 bits, `Odd` 1..=8 bits.
    pub bits: u32,
    pub encoding: contract::WeightEncoding,
    /// `out × fan_in` signed integers, in the float node's weight layout (dense `[out, in]`, conv
    /// `[out][in_c][kh][kw]`); each must be representable under `bits`/`encoding`.
    pub ints: Vec<i32>,
    /// Real value of one integer step per output channel (`> 0`).
    pub scales: Vec<f64>,
}

/// What a quantized source (QONNX, QCDQ) fixes instead of the quantizer: the integer weights of every dense/conv
/// node and the bit width of every PACT activation, by float node index. The activations' α comes from the
/// float model's [`Op::Pact`] nodes, the input scale from its input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preset {
    pub weights: std::collections::HashMap<usize, PresetWeights>,
    pub act_bits: std::collections::HashMap<usize, u32>,
    /// Recorded in the provenance: the file's format (`qonnx`, `qcdq`).
    pub format: String,
}

/// Quantize a float model whose weights and activation widths a quantized source fixes ([`Preset`]): weights are
/// stored as given (their encoding and per-channel scales folded into per-channel `M0`), every activation must
/// be a PACT node with its width in the preset, no calibration. `m0_bits` as [`QuantConfigBuilder::m0_bits`].
pub fn quantize_preset(model: &FloatModel, preset: &Preset, m0_bits: u32, source: &str) -> Result<QModel> {
    if let Some(n) = model.nodes.iter().find(|n| matches!(n.op, Op::Relu)) {
        return Err(Error::layer(
            &n.name,
            "ReLU without a quantizer after it: in a quantized model every ReLU must be followed by an unsigned Quant",
        ));
    }
    let (first, last) = model
        .first_last_compute()
        .ok_or_else(|| Error::config("the model has no dense or conv layer"))?;
    let inner: Vec<u32> = (0..model.nodes.len())
        .filter(|&i| i != first && i != last)
        .filter_map(|i| preset.weights.get(&i).map(|w| w.bits))
        .collect();
    let fl = preset.weights.get(&first).map_or(8, |w| w.bits);
    let wbits = inner.iter().copied().max().unwrap_or(fl);
    let feeds_last = model.feeds_last();
    let abits = preset
        .act_bits
        .iter()
        .filter(|(&i, _)| !feeds_last[i])
        .map(|(_, &b)| b)
        .max()
        .unwrap_or(8);
    let cfg = QuantConfig {
        wbits: wbits.clamp(1, 8),
        abits: abits.clamp(1, 8),
        first_last_bits: fl.clamp(1, 8),
        m0_bits,
        quantizer: WeightQuantizer::Imported,
    };
    if !(2..=31).contains(&m0_bits) {
        return Err(Error::config(format!(
            "--m0-bits = {m0_bits} is out of range: 2..=31 bits"
        )));
    }
    let mut q = quantize_with(model, &cfg, None, source, Some(preset))?;
    q.provenance.notes.push(format!(
        "imported from {}: integer weights and activation widths as in the file",
        preset.format
    ));
    Ok(q)
}

/// Where a float node's value lives in the quantized model, if it is a tensor of codes.
#[derive(Clone, Copy, Debug)]
struct Codes {
    layer: usize, // 0 = model input, i + 1 = quantized layer i
    bits: u32,
    scale: f64,
}

/// Quantize `model`. `calib` holds calibration images back to back (needed only if some ReLU has no α).
/// `source` is recorded in the provenance.
pub fn quantize(model: &FloatModel, cfg: &QuantConfig, calib: Option<&[u8]>, source: &str) -> Result<QModel> {
    if cfg.quantizer == WeightQuantizer::Imported {
        return Err(Error::config(
            "weight quantizer 'imported' needs a quantized source (QONNX/QCDQ); use dorefa or maxabs",
        ));
    }
    quantize_with(model, cfg, calib, source, None)
}

fn quantize_with(
    model: &FloatModel,
    cfg: &QuantConfig,
    calib: Option<&[u8]>,
    source: &str,
    preset: Option<&Preset>,
) -> Result<QModel> {
    let cx = Ctx::new(model, cfg, calib, preset)?;
    let in_scale = model.input.scale as f64;
    let mut walk = Walk::new(model.nodes.len(), in_scale);
    for i in 1..model.nodes.len() {
        if !walk.fused[i] {
            cx.node(&mut walk, i)?;
        }
    }
    let [c, h, w] = model.input.shape;
    let q = QModel {
        format: qmodel::FORMAT.into(),
        version: qmodel::VERSION,
        input: QInput {
            shape: [c, h, w],
            bits: 8,
            scale: in_scale,
        },
        layers: walk.layers,
        provenance: Provenance {
            source: source.into(),
            wbits: cfg.wbits,
            abits: cfg.abits,
            first_last_bits: cfg.first_last_bits,
            m0_bits: cfg.m0_bits,
            weight_quantizer: cfg.quantizer.name().into(),
            notes: cx.notes(),
        },
    };
    q.validate()?;
    Ok(q)
}

/// What [`quantize`] knows of the float model before walking it.
struct Ctx<'a> {
    nodes: &'a [Node],
    cfg: &'a QuantConfig,
    shapes: Vec<Shape>,
    /// The nodes reading each node.
    consumers: Vec<Vec<usize>>,
    /// The first and the last dense/conv node (their weights use `first_last_bits`).
    first: usize,
    last: usize,
    /// Activations reaching the last layer only through shape-only ops (they use `first_last_bits`).
    feeds_last: Vec<bool>,
    /// Calibrated α of every ReLU (`None` elsewhere).
    alphas: Vec<Option<f64>>,
    /// Weights and activation widths fixed by a quantized source.
    preset: Option<&'a Preset>,
}

/// The quantized model being built, node by node.
struct Walk {
    layers: Vec<QLayer>,
    /// Where each float node's value lives once quantized.
    codes: Vec<Option<Codes>>,
    /// Nodes folded into an earlier layer (BatchNorm, activations).
    fused: Vec<bool>,
}

impl Walk {
    /// Nothing quantized yet; node 0, the input, is 8-bit pixel codes of scale `in_scale`.
    fn new(nodes: usize, in_scale: f64) -> Self {
        let mut codes = vec![None; nodes];
        codes[0] = Some(Codes {
            layer: 0,
            bits: 8,
            scale: in_scale,
        });
        Walk {
            layers: Vec::new(),
            codes,
            fused: vec![false; nodes],
        }
    }
    /// Append `layer`, whose output is the value of float node `at` as `bits`-bit codes of step `scale`.
    fn push(&mut self, layer: QLayer, at: usize, bits: u32, scale: f64) {
        self.layers.push(layer);
        self.codes[at] = Some(Codes {
            layer: self.layers.len(),
            bits,
            scale,
        });
    }
}

/// The output side of a dense/conv layer: integer bias, flipped channels and requantization (or logits).
struct OutputSide {
    bias: Vec<i64>,
    max_bias_error: f64,
    flip: Vec<bool>,
    output: Output,
    /// Output code bits; `None` for logits (the accumulator width).
    bits: Option<u32>,
    scale: f64,
    /// Logits only: the real value of one accumulator unit per channel (empty for codes).
    logit_s: Vec<f64>,
}

/// A dense/conv layer's float parameters on the accumulator scale `s = s_in·s_w` (per output channel).
struct Folding<'a> {
    s: Vec<f64>,
    float_bias: &'a [f64],
    bn_g: &'a [f64],
    bn_h: &'a [f64],
}

impl<'a> Ctx<'a> {
    /// Check the model's overall form, and calibrate the α of plain ReLUs over `calib`.
    fn new(
        model: &'a FloatModel,
        cfg: &'a QuantConfig,
        calib: Option<&[u8]>,
        preset: Option<&'a Preset>,
    ) -> Result<Self> {
        let shapes = model.shapes()?;
        let nodes = &model.nodes;
        let mut consumers = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for &j in &n.inputs {
                consumers[j].push(i);
            }
        }
        let (first, last) = model
            .first_last_compute()
            .ok_or_else(|| Error::config("the model has no dense or conv layer"))?;
        if last != nodes.len() - 1 {
            let n = &nodes[nodes.len() - 1];
            return Err(Error::layer(
                &n.name,
                format!(
                    "the model must end with its last dense/conv layer (logits), it ends with {}",
                    n.op.kind()
                ),
            ));
        }
        let feeds_last = model.feeds_last();
        let alphas = calibrate(model, calib)?;
        Ok(Ctx {
            nodes,
            cfg,
            shapes,
            consumers,
            first,
            last,
            feeds_last,
            alphas,
            preset,
        })
    }

    /// The provenance notes: one per calibrated α.
    fn notes(&self) -> Vec<String> {
        let calibrated = self.alphas.iter().enumerate().filter_map(|(i, a)| a.map(|a| (i, a)));
        calibrated
            .map(|(i, a)| {
                format!(
                    "layer '{}': ReLU without learned alpha, calibrated alpha = {a:.6} ({CALIB_PERCENTILE}th \
                     percentile of its outputs)",
                    self.nodes[i].name
                )
            })
            .collect()
    }

    /// The clipping level α of node `a` if it is a ReLU/PACT activation.
    fn act_of(&self, a: usize) -> Option<f64> {
        match self.nodes[a].op {
            Op::Pact { alpha } => Some(alpha as f64),
            Op::Relu => self.alphas[a],
            _ => None,
        }
    }

    /// The only node reading node `i`, if exactly one does.
    fn sole(&self, i: usize) -> Option<usize> {
        match self.consumers[i].as_slice() {
            &[n] => Some(n),
            _ => None,
        }
    }

    /// Output bits of activation node `a`.
    fn act_bits(&self, a: usize) -> u32 {
        if let Some(&b) = self.preset.and_then(|p| p.act_bits.get(&a)) {
            return b;
        }
        if self.feeds_last[a] {
            self.cfg.first_last_bits
        } else {
            self.cfg.abits
        }
    }

    /// An error about node `i`.
    fn err(&self, i: usize, msg: impl Into<String>) -> Error {
        Error::layer(&self.nodes[i].name, msg)
    }

    /// The codes node `i` reads as its input `k`; an error unless that input is a tensor of codes.
    fn input_codes(&self, w: &Walk, i: usize, k: usize) -> Result<Codes> {
        let j = self.nodes[i].inputs[k];
        w.codes[j].ok_or_else(|| {
            self.err(
                i,
                format!(
                    "reads '{}' ({}), which is not a tensor of activation codes: a dense/conv layer must be \
                     followed by its ReLU/PACT (BatchNorm between them is fine)",
                    self.nodes[j].name,
                    self.nodes[j].op.kind()
                ),
            )
        })
    }

    /// The quantized layer of node `i`.
    fn layer(&self, i: usize, inputs: Vec<usize>, out_bits: u32, out_scale: f64, op: QOp) -> QLayer {
        QLayer {
            name: self.nodes[i].name.clone(),
            inputs,
            out_shape: self.shapes[i].clone(),
            out_bits,
            out_scale,
            op,
        }
    }

    /// Quantize node `i` (not fused into an earlier layer).
    fn node(&self, w: &mut Walk, i: usize) -> Result<()> {
        let node = &self.nodes[i];
        match &node.op {
            Op::Input => unreachable!("node 0 only"),
            Op::Dense { weight, bias } | Op::Conv2d { weight, bias, .. } => self.compute(w, i, weight, bias.as_deref()),
            Op::BatchNorm(_) => Err(self.err(
                i,
                "BatchNorm must directly follow a dense or conv layer (it is folded into its requantization)",
            )),
            Op::Relu | Op::Pact { .. } => {
                let src = &self.nodes[node.inputs[0]];
                Err(self.err(
                    i,
                    format!(
                        "activation reads '{}' ({}); it must follow a dense/conv layer (optionally through \
                         BatchNorm) or an add",
                        src.name,
                        src.op.kind()
                    ),
                ))
            }
            Op::MaxPool { kernel, stride, pad } => {
                let op = QOp::MaxPool {
                    kernel: *kernel,
                    stride: *stride,
                    pad: *pad,
                };
                self.pass_through(w, i, op)
            }
            Op::AvgPool { .. } | Op::GlobalAvgPool => self.avg_pool(w, i),
            Op::Flatten => self.pass_through(w, i, QOp::Flatten),
            Op::Add => self.add(w, i),
        }
    }

    /// A layer whose output codes have its input's bits and scale (max pool, flatten).
    fn pass_through(&self, w: &mut Walk, i: usize, op: QOp) -> Result<()> {
        let inp = self.input_codes(w, i, 0)?;
        w.push(
            self.layer(i, vec![inp.layer], inp.bits, inp.scale, op),
            i,
            inp.bits,
            inp.scale,
        );
        Ok(())
    }

    /// An average pool: the exact rounded mean of the window, by [`contract::exact_divider`].
    fn avg_pool(&self, w: &mut Walk, i: usize) -> Result<()> {
        let node = &self.nodes[i];
        let inp = self.input_codes(w, i, 0)?;
        let xs = &self.shapes[node.inputs[0]];
        let k = match &node.op {
            Op::AvgPool { kernel, .. } => kernel[0] * kernel[1],
            _ => xs[1] * xs[2],
        };
        let too_large = || self.err(i, "pooling window too large");
        let k32 = u32::try_from(k).map_err(|_| too_large())?;
        let max_sum = k32.checked_mul(code_max(inp.bits)).ok_or_else(too_large)?;
        let d = contract::exact_divider(k32, max_sum, self.cfg.m0_bits).map_err(|e| e.in_layer(&node.name, None))?;
        let op = match &node.op {
            Op::AvgPool { kernel, stride } => QOp::AvgPool {
                kernel: *kernel,
                stride: *stride,
                m0: d.m0,
                shift: d.shift,
            },
            _ => QOp::GlobalAvgPool {
                m0: d.m0,
                shift: d.shift,
            },
        };
        w.push(
            self.layer(i, vec![inp.layer], inp.bits, inp.scale, op),
            i,
            inp.bits,
            inp.scale,
        );
        Ok(())
    }

    /// A residual add fused with the activation after it: `clamp((a·M0_a + b·M0_b + 2^(n−1)) >> n)`, one shift.
    fn add(&self, w: &mut Walk, i: usize) -> Result<()> {
        let a = self.input_codes(w, i, 0)?;
        let b = self.input_codes(w, i, 1)?;
        let Some((act, alpha)) = self.sole(i).and_then(|n| self.act_of(n).map(|al| (n, al))) else {
            return Err(self.err(i, "a residual add must be followed by a ReLU/PACT activation"));
        };
        w.fused[act] = true;
        let bits = self.act_bits(act);
        let ma = a.scale * code_max(bits) as f64 / alpha;
        let mb = b.scale * code_max(bits) as f64 / alpha;
        let big = FixedMultiplier::from_real(ma.max(mb), self.cfg.m0_bits)
            .map_err(|e| e.in_layer(&self.nodes[i].name, None))?;
        let scale = 2f64.powi(big.shift as i32);
        let m0 = [round_half_up(ma * scale) as u32, round_half_up(mb * scale) as u32];
        let out_scale = alpha / code_max(bits) as f64;
        let op = QOp::Add {
            m0,
            shift: big.shift,
            bits,
            alpha,
            m_real: [ma, mb],
        };
        w.push(
            self.layer(i, vec![a.layer, b.layer], bits, out_scale, op),
            act,
            bits,
            out_scale,
        );
        Ok(())
    }

    /// The BatchNorm and the activation fused into dense/conv node `i` (each only if it is the sole reader of
    /// what precedes it), marked fused; returns the last fused node and what was fused.
    fn fuse_tail(&self, w: &mut Walk, i: usize) -> (usize, Option<&'a BatchNorm>, Option<(usize, f64)>) {
        let nodes: &'a [Node] = self.nodes;
        let mut tail = i;
        let mut bn = None;
        if let Some(n) = self.sole(tail) {
            if let Op::BatchNorm(b) = &nodes[n].op {
                bn = Some(b);
                w.fused[n] = true;
                tail = n;
            }
        }
        let mut act = None;
        if let Some(n) = self.sole(tail) {
            if let Some(alpha) = self.act_of(n) {
                act = Some((n, alpha));
                w.fused[n] = true;
                tail = n;
            }
        }
        (tail, bn, act)
    }

    /// Dense/conv node `i` with the BatchNorm and activation after it folded in.
    fn compute(&self, w: &mut Walk, i: usize, weight: &Tensor, bias: Option<&[f32]>) -> Result<()> {
        let node = &self.nodes[i];
        let inp = self.input_codes(w, i, 0)?;
        let (tail, bn, act) = self.fuse_tail(w, i);
        let out_ch = weight.shape[0];
        let fan_in = weight.numel() / out_ch;
        let (wbits, mut index, s_w, encoding) = self.weight_indices(i, weight)?;
        let float_bias: Vec<f64> = (0..out_ch).map(|c| bias.map_or(0.0, |b| b[c] as f64)).collect();
        let (bn_g, bn_h): (Vec<f64>, Vec<f64>) = match bn {
            Some(b) => b.affine().into_iter().unzip(),
            None => (vec![1.0; out_ch], vec![0.0; out_ch]),
        };
        let f = Folding {
            s: s_w.iter().map(|s| inp.scale * s).collect(),
            float_bias: &float_bias,
            bn_g: &bn_g,
            bn_h: &bn_h,
        };
        let side = match act {
            None => self.logits(i, bn.is_some(), &f)?,
            Some(act) => self.requant(i, act, &f, &mut index, wbits, encoding)?,
        };
        let s_max = s_w.iter().copied().fold(0.0, f64::max);
        let weights = Weights {
            bits: wbits,
            out: out_ch,
            fan_in,
            index,
            scale: s_max,
            quantizer: self.cfg.quantizer.name().into(),
            encoding,
            channel_scales: if s_w.iter().all(|&s| s == s_max) {
                None
            } else {
                Some(s_w)
            },
        };
        let acc_bits = self.acc_bits(i, &weights, inp.bits, &side.bias)?;
        let logit_scale = match side.output {
            Output::Logits => self.logit_scale(&side.logit_s, acc_bits),
            _ => None,
        };
        let conv = match &node.op {
            Op::Conv2d { stride, pad, .. } => Some(ConvGeom {
                kernel: [weight.shape[2], weight.shape[3]],
                stride: *stride,
                pad: *pad,
            }),
            _ => None,
        };
        let out_bits = side.bits.unwrap_or(acc_bits);
        let cp = Compute {
            weights,
            conv,
            bias: side.bias,
            max_bias_error: side.max_bias_error,
            acc_bits,
            in_bits: inp.bits,
            in_scale: inp.scale,
            output: side.output,
            float_bias,
            bn_g,
            bn_h,
            flip: side.flip,
            logit_scale,
        };
        let op = if conv.is_some() {
            QOp::Conv2d(cp)
        } else {
            QOp::Dense(cp)
        };
        w.push(
            self.layer(i, vec![inp.layer], out_bits, side.scale, op),
            tail,
            out_bits,
            side.scale,
        );
        Ok(())
    }

    /// The weight width of dense/conv node `i` (`first_last_bits` for the first and the last layer), its weights
    /// as codes of that width, the real value `s_w` of one integer weight step per output channel, and the
    /// codes' encoding. A preset's weights are taken as they are.
    fn weight_indices(&self, i: usize, weight: &Tensor) -> Result<(u32, Vec<u8>, Vec<f64>, contract::WeightEncoding)> {
        let out = weight.shape[0];
        if let Some(p) = self.preset {
            let pw = p
                .weights
                .get(&i)
                .ok_or_else(|| self.err(i, "has no quantized (integer) weights in the source"))?;
            if pw.ints.len() != weight.numel() || pw.scales.len() != out {
                return Err(self.err(i, "integer weights do not match the layer's shape"));
            }
            let mut codes = Vec::with_capacity(pw.ints.len());
            for &v in &pw.ints {
                let c = match pw.encoding {
                    contract::WeightEncoding::TwosComplement => contract::encode_twos_complement(v, pw.bits),
                    contract::WeightEncoding::Odd => {
                        let m = code_max(pw.bits) as i32;
                        (v % 2 != 0 && v.abs() <= m).then(|| ((v + m) / 2) as u32)
                    }
                };
                codes
                    .push(c.ok_or_else(|| {
                        self.err(i, format!("weight {v} does not fit {} {:?} bits", pw.bits, pw.encoding))
                    })? as u8);
            }
            return Ok((pw.bits, codes, pw.scales.clone(), pw.encoding));
        }
        let wbits = if i == self.first || i == self.last {
            self.cfg.first_last_bits
        } else {
            self.cfg.wbits
        };
        let (index, s_w) = match self.cfg.quantizer {
            WeightQuantizer::Dorefa => contract::dorefa_weights(&weight.data, wbits),
            WeightQuantizer::MaxAbs => contract::maxabs_weights(&weight.data, wbits),
            WeightQuantizer::Imported => {
                return Err(self.err(i, "weight quantizer 'imported' needs integer weights from the source"))
            }
        };
        Ok((wbits, index, vec![s_w; out], contract::WeightEncoding::Odd))
    }

    /// The per-channel logit scale of the last layer, when the real value of one accumulator unit differs per
    /// channel: `m0[o] = round_half_up(s[o]/max s · (2^m0_bits − 1))`, `shift` the smallest (≥ 1) that keeps
    /// every logit of an `acc_bits`-bit accumulator within 32 bits.
    fn logit_scale(&self, s: &[f64], acc_bits: u32) -> Option<qmodel::LogitScale> {
        let s_max = s.iter().copied().fold(0.0, f64::max);
        if s.iter().all(|&x| x == s_max) {
            return None;
        }
        let top = code_max(self.cfg.m0_bits.min(16)) as f64;
        let m0 = s.iter().map(|&x| round_half_up(x / s_max * top) as u32).collect();
        let shift = (acc_bits + self.cfg.m0_bits.min(16)).saturating_sub(32).max(1);
        Some(qmodel::LogitScale { m0, shift })
    }

    /// The exact accumulator width of dense/conv node `i`; an error past [`MAX_ACC_BITS`].
    fn acc_bits(&self, i: usize, weights: &Weights, in_bits: u32, bias: &[i64]) -> Result<u32> {
        let rows: Vec<Vec<i32>> = (0..weights.out).map(|o| weights.row(o)).collect();
        let acc_bits = contract::acc_width(
            code_max(in_bits),
            rows.iter().map(|r| r.as_slice()).zip(bias.iter().copied()),
        );
        if acc_bits > MAX_ACC_BITS {
            return Err(self.err(
                i,
                format!("needs a {acc_bits}-bit accumulator, more than the {MAX_ACC_BITS} bits supported"),
            ));
        }
        Ok(acc_bits)
    }

    /// The output side of dense/conv node `i` without an activation: logits, `b_int = round_half_up(b/s)`.
    /// Only the last layer may end so, and without BatchNorm.
    fn logits(&self, i: usize, has_bn: bool, f: &Folding) -> Result<OutputSide> {
        if i != self.last {
            return Err(self.err(
                i,
                "is not followed by a ReLU/PACT activation; only the last layer may end without one",
            ));
        }
        if has_bn && self.preset.is_none() {
            return Err(self.err(
                i,
                "BatchNorm after the last layer is not supported (its per-channel scale would change the argmax)",
            ));
        }
        let mut bias = Vec::with_capacity(f.float_bias.len());
        let mut max_bias_error: f64 = 0.0;
        let mut s = f.s.clone();
        for (c, fb) in f.float_bias.iter().enumerate() {
            // A per-channel affine after the last layer (an imported model's per-channel Mul, as BatchNorm):
            // logit = g·s·(acc + (b + h/g)/s); g > 0 keeps the argmax order, g·s goes into the logit scale.
            let g = f.bn_g[c];
            if !(g > 0.0 && g.is_finite()) {
                return Err(self.err(i, format!("channel {c}: logit scale factor {g} must be finite and > 0")));
            }
            let b = (fb + f.bn_h[c] / g) / s[c];
            s[c] *= g;
            let bi = to_acc_int(round_half_up(b)).map_err(|m| self.err(i, m))?;
            max_bias_error = max_bias_error.max((bi as f64 - b).abs());
            bias.push(bi);
        }
        Ok(OutputSide {
            flip: vec![false; bias.len()],
            bias,
            max_bias_error,
            output: Output::Logits,
            bits: None,
            scale: s.iter().copied().fold(0.0, f64::max),
            logit_s: s,
        })
    }

    /// The output side of dense/conv node `i` followed by activation `(a_node, α)`: per channel, the folded
    /// integer bias and `M0/2^n`; a channel with `γ < 0` gets its `wbits`-bit weight indices in `index` negated.
    fn requant(
        &self,
        i: usize,
        act: (usize, f64),
        f: &Folding,
        index: &mut [u8],
        wbits: u32,
        encoding: contract::WeightEncoding,
    ) -> Result<OutputSide> {
        let (a_node, alpha) = act;
        let bits = self.act_bits(a_node);
        let out_ch = f.bn_g.len();
        let fan_in = index.len() / out_ch;
        let mut side = OutputSide {
            bias: Vec::with_capacity(out_ch),
            max_bias_error: 0.0,
            flip: vec![false; out_ch],
            output: Output::Logits,
            bits: Some(bits),
            scale: alpha / code_max(bits) as f64,
            logit_s: Vec::new(),
        };
        let mut requant = ChannelRequant {
            m0: Vec::new(),
            shift: Vec::new(),
        };
        let (mut m_real, mut max_rel_error) = (Vec::new(), 0f64);
        for c in 0..out_ch {
            let g = f.bn_g[c];
            if g == 0.0 || !g.is_finite() {
                return Err(self.err(
                    i,
                    format!("channel {c}: BatchNorm scale γ/σ is {g}, the channel would be constant; not supported"),
                ));
            }
            if g < 0.0 {
                side.flip[c] = true;
                for x in &mut index[c * fan_in..(c + 1) * fan_in] {
                    *x = contract::negate_weight_as(*x as u32, wbits, encoding).ok_or_else(|| {
                        self.err(
                            i,
                            format!(
                                "channel {c}: BatchNorm γ < 0 needs the weights negated, but weight −2^{} has no \
                                 {wbits}-bit negation",
                                wbits - 1
                            ),
                        )
                    })? as u8;
                }
            }
            let b = g.signum() * (f.float_bias[c] + f.bn_h[c] / g) / f.s[c];
            let bi = to_acc_int(round_half_up(b)).map_err(|m| self.err(i, m))?;
            side.bias.push(bi);
            let m = g.abs() * f.s[c] * code_max(bits) as f64 / alpha;
            side.max_bias_error = side.max_bias_error.max((bi as f64 - b).abs() * m);
            let fm = FixedMultiplier::from_real(m, self.cfg.m0_bits)
                .map_err(|e| e.in_layer(&self.nodes[i].name, Some(format!("channel {c}"))))?;
            max_rel_error = max_rel_error.max(fm.rel_error());
            requant.m0.push(fm.m0);
            requant.shift.push(fm.shift as u8);
            m_real.push(m);
        }
        side.output = Output::Codes {
            bits,
            alpha,
            requant,
            m_real,
            max_rel_error,
        };
        Ok(side)
    }
}

fn to_acc_int(v: f64) -> std::result::Result<i64, String> {
    if v.is_finite() && v.abs() < (1u64 << 31) as f64 {
        Ok(v as i64)
    } else {
        Err(format!(
            "integer bias {v:e} does not fit a 32-bit accumulator (bias too large for the input and weight scales)"
        ))
    }
}

/// α for every ReLU node (None elsewhere), by the percentile rule over `calib` images.
fn calibrate(model: &FloatModel, calib: Option<&[u8]>) -> Result<Vec<Option<f64>>> {
    let relus: Vec<usize> = (0..model.nodes.len())
        .filter(|&i| matches!(model.nodes[i].op, Op::Relu))
        .collect();
    let mut out = vec![None; model.nodes.len()];
    if relus.is_empty() {
        return Ok(out);
    }
    let images = calib.ok_or_else(|| {
        Error::layer(
            &model.nodes[relus[0]].name,
            "ReLU has no learned alpha: pass calibration data (--calib DATA) so pact can calibrate one",
        )
    })?;
    let px: usize = model.input.shape.iter().product();
    if images.is_empty() || images.len() % px != 0 {
        return Err(Error::config(
            "calibration data is empty or does not match the model input size",
        ));
    }
    let traces: Vec<Vec<Vec<f32>>> = images
        .par_chunks(px)
        .map(|img| float_relu_outputs(model, img, &relus))
        .collect::<Result<_>>()?;
    for (k, &r) in relus.iter().enumerate() {
        let mut v: Vec<f32> = traces.iter().flat_map(|t| t[k].iter().copied()).collect();
        v.sort_unstable_by(f32::total_cmp);
        let pos = ((CALIB_PERCENTILE / 100.0) * (v.len() - 1) as f64).round() as usize;
        let a = v[pos.min(v.len() - 1)] as f64;
        out[r] = Some(if a > 0.0 { a } else { 1.0 });
    }
    Ok(out)
}

fn float_relu_outputs(model: &FloatModel, img: &[u8], relus: &[usize]) -> Result<Vec<Vec<f32>>> {
    let mut t = crate::forward::float_trace(model, img)?;
    Ok(relus.iter().map(|&r| std::mem::take(&mut t[r])).collect())
}
