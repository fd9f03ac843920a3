//! The trainable network: a [`FloatModel`] graph whose parameters are candle variables, evaluated with the
//! quantizers of [`crate::quant`] exactly where `pact_toolchain::quantize` puts them.
//!
//! Which layer gets which width (the rule of `quantize.rs`):
//! * dense/conv weights: `--first-last-bits` for the first and the last dense/conv layer, `--wbits` for the
//!   others; all float when `--wbits 32`;
//! * activations: `--first-last-bits` for an activation whose value reaches the last layer only through
//!   max/avg pooling and flatten (`feeds_last`), `--abits` for the others; plain ReLU when `--abits 32`;
//! * the input is 8-bit pixel codes × `input.scale`, not quantized further.
//!
//! An average pool (or global average pool) of quantized values is re-rounded onto its input's grid, as the
//! integer model does (`round_half_up` of the mean code).

use crate::ops;
use crate::quant::{self, FLOAT_BITS, MAX_BITS};
use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor, Var, D};
use pact_toolchain::float::{BatchNorm, FloatModel, Node, Op};
use pact_toolchain::quantize::{QuantConfig, WeightQuantizer};

/// Momentum of the BatchNorm running statistics (PyTorch convention: `running = 0.9·running + 0.1·batch`).
pub const BN_MOMENTUM: f64 = 0.1;
/// Smallest α an optimizer step may leave (α must stay positive).
pub const MIN_ALPHA: f32 = 1e-3;

/// Bit widths of a training run. Each is 1..=8, or 32 for full precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    /// Weights of the inner dense/conv layers (32: float weights everywhere).
    pub wbits: u32,
    /// Activations of the inner layers (32: plain ReLU everywhere).
    pub abits: u32,
    /// Weights of the first and last dense/conv layer, and the activation feeding the last layer (when the
    /// respective kind is quantized at all).
    pub first_last_bits: u32,
}

impl Precision {
    /// Checked widths: each in 1..=8 or 32; `first_last_bits` in 1..=8 (or 32 when both others are 32).
    pub fn new(wbits: u32, abits: u32, first_last_bits: u32) -> anyhow::Result<Self> {
        for (what, b) in [
            ("--wbits", wbits),
            ("--abits", abits),
            ("--first-last-bits", first_last_bits),
        ] {
            if !((1..=MAX_BITS).contains(&b) || b == FLOAT_BITS) {
                bail!("{what} = {b} is out of range: 1..=8 bits, or 32 for full precision");
            }
        }
        if first_last_bits == FLOAT_BITS && (wbits != FLOAT_BITS || abits != FLOAT_BITS) {
            bail!("--first-last-bits 32 needs --wbits 32 --abits 32 (a quantized model keeps its first/last layers at 1..=8 bits)");
        }
        Ok(Precision {
            wbits,
            abits,
            first_last_bits,
        })
    }
    /// Full precision: float weights, plain ReLU.
    pub fn full() -> Self {
        Precision {
            wbits: FLOAT_BITS,
            abits: FLOAT_BITS,
            first_last_bits: FLOAT_BITS,
        }
    }
    /// True when nothing is quantized.
    pub fn is_full_precision(&self) -> bool {
        self.wbits == FLOAT_BITS && self.abits == FLOAT_BITS
    }
    /// Weight width of a dense/conv layer (32 = float).
    pub fn weight_bits(&self, first_or_last: bool) -> u32 {
        match (self.wbits, first_or_last) {
            (FLOAT_BITS, _) => FLOAT_BITS,
            (_, true) => self.first_last_bits,
            (w, false) => w,
        }
    }
    /// Width of an activation (`None`: plain ReLU).
    pub fn act_bits(&self, feeds_last: bool) -> Option<u32> {
        match (self.abits, feeds_last) {
            (FLOAT_BITS, _) => None,
            (_, true) => Some(self.first_last_bits),
            (a, false) => Some(a),
        }
    }
    /// The quantizer settings matching this training (`M0` of 16 bits, DoReFa weights), or `None` if weights
    /// or activations are float.
    pub fn quant_config(&self) -> Option<QuantConfig> {
        if self.wbits == FLOAT_BITS || self.abits == FLOAT_BITS {
            return None;
        }
        QuantConfig::builder()
            .wbits(self.wbits)
            .abits(self.abits)
            .first_last_bits(self.first_last_bits)
            .m0_bits(16)
            .weights(WeightQuantizer::Dorefa)
            .build()
            .ok()
    }
}

/// How the activations get their clipping level α.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlphaInit {
    /// α of a ReLU in the starting model (default 10, the paper's). A PACT node of the starting model keeps its
    /// own α.
    pub init: f32,
    /// Fixed clipping level for every activation (not learned): the fixed-clip baseline.
    pub fixed: Option<f32>,
    /// Data-driven start (`--alpha-init auto`): before the first step, the α of every activation that would
    /// start at `init` is set to this percentile (0..100) of its input on the first training batch (see
    /// [`Net::calibrate_alphas`]). Ignored with `fixed`.
    pub auto_percentile: Option<f64>,
}

impl Default for AlphaInit {
    fn default() -> Self {
        AlphaInit {
            init: 10.0,
            fixed: None,
            auto_percentile: None,
        }
    }
}

/// What an optimizer does with a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Dense/conv weights (weight decay).
    Weight,
    /// Dense/conv biases, BatchNorm γ and β (no decay).
    Other,
    /// A learned PACT α (α decay, kept ≥ [`MIN_ALPHA`]).
    Alpha,
}

enum Layer {
    Input,
    Dense {
        w: Var,
        b: Option<Var>,
        bits: u32,
    },
    Conv {
        w: Var,
        b: Option<Var>,
        stride: usize,
        pad: [usize; 4],
        bits: u32,
    },
    BatchNorm {
        gamma: Var,
        beta: Var,
        mean: Vec<f32>,
        var: Vec<f32>,
        eps: f32,
    },
    Relu,
    Pact {
        alpha: Var,
        bits: u32,
        learned: bool,
        /// α started at `AlphaInit::init` (not a fixed clip, not an `--init` model's PACT α): data-driven
        /// initialisation may replace it.
        from_init: bool,
    },
    MaxPool {
        kernel: [usize; 2],
        pad: [usize; 4],
    },
    AvgPool {
        kernel: [usize; 2],
    },
    GlobalAvgPool,
    Flatten,
    Add,
}

/// A trainable network built from a float model (see the module documentation).
pub struct Net {
    template: FloatModel,
    layers: Vec<Layer>,
    precision: Precision,
    device: Device,
    dtype: DType,
}

fn var_from(data: &[f32], shape: &[usize], device: &Device) -> candle_core::Result<Var> {
    Var::from_tensor(&Tensor::from_slice(data, shape, device)?)
}

fn to_vec(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl Net {
    /// Build the network for `model` at `precision`. ReLU and PACT nodes become PACT activations (α from the
    /// PACT node, or `alpha.init` for a ReLU, or `alpha.fixed` for all) unless activations are float.
    /// Fails on what training cannot express: unequal conv strides, pooling with stride ≠ kernel.
    pub fn new(model: &FloatModel, precision: Precision, alpha: AlphaInit) -> anyhow::Result<Self> {
        model.shapes()?;
        let nodes = &model.nodes;
        let dev = Device::Cpu;
        let Some((first, last)) = model.first_last_compute() else {
            bail!("the model has no dense or conv layer");
        };
        // The quantizer's rule: values reaching the last layer only through shape-only ops use first/last bits.
        let feeds_last = model.feeds_last();
        if let Some(v) = alpha.fixed {
            if !(v.is_finite() && v > 0.0) {
                bail!("--fixed-clip {v} must be finite and > 0");
            }
        }
        if !(alpha.init.is_finite() && alpha.init > 0.0) {
            bail!("--alpha-init {} must be finite and > 0", alpha.init);
        }
        let mut layers = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let err = |m: &str| anyhow::anyhow!("layer '{}': {m}", node.name);
            let layer = match &node.op {
                Op::Input => Layer::Input,
                Op::Dense { weight, bias } => Layer::Dense {
                    w: var_from(&weight.data, &weight.shape, &dev)?,
                    b: bias.as_ref().map(|b| var_from(b, &[b.len()], &dev)).transpose()?,
                    bits: precision.weight_bits(i == first || i == last),
                },
                Op::Conv2d {
                    weight,
                    bias,
                    stride,
                    pad,
                } => {
                    if stride[0] != stride[1] {
                        return Err(err(&format!("stride {stride:?}: training supports equal strides only")));
                    }
                    Layer::Conv {
                        w: var_from(&weight.data, &weight.shape, &dev)?,
                        b: bias.as_ref().map(|b| var_from(b, &[b.len()], &dev)).transpose()?,
                        stride: stride[0],
                        pad: *pad,
                        bits: precision.weight_bits(i == first || i == last),
                    }
                }
                Op::BatchNorm(bn) => Layer::BatchNorm {
                    gamma: var_from(&bn.gamma, &[bn.gamma.len()], &dev)?,
                    beta: var_from(&bn.beta, &[bn.beta.len()], &dev)?,
                    mean: bn.mean.clone(),
                    var: bn.var.clone(),
                    eps: bn.eps,
                },
                Op::Relu | Op::Pact { .. } => match precision.act_bits(feeds_last[i]) {
                    None => Layer::Relu,
                    Some(bits) => {
                        let (a, from_init) = match (&node.op, alpha.fixed) {
                            (_, Some(v)) => (v, false),
                            (Op::Pact { alpha }, None) => (*alpha, false),
                            _ => (alpha.init, true),
                        };
                        Layer::Pact {
                            alpha: Var::from_tensor(&Tensor::new(a, &dev)?)?,
                            bits,
                            learned: alpha.fixed.is_none(),
                            from_init,
                        }
                    }
                },
                Op::MaxPool { kernel, stride, pad } => {
                    if kernel != stride {
                        return Err(err(&format!(
                            "max pooling with stride {stride:?} ≠ kernel {kernel:?} is not supported for training"
                        )));
                    }
                    Layer::MaxPool {
                        kernel: *kernel,
                        pad: *pad,
                    }
                }
                Op::AvgPool { kernel, stride } => {
                    if kernel != stride {
                        return Err(err(&format!(
                            "average pooling with stride {stride:?} ≠ kernel {kernel:?} is not supported for training"
                        )));
                    }
                    Layer::AvgPool { kernel: *kernel }
                }
                Op::GlobalAvgPool => Layer::GlobalAvgPool,
                Op::Flatten => Layer::Flatten,
                Op::Add => Layer::Add,
            };
            layers.push(layer);
        }
        Ok(Net {
            template: model.clone(),
            layers,
            precision,
            device: dev,
            dtype: DType::F32,
        })
    }

    /// Compute in `dtype` from now on (parameters converted). f32 is the default and the only type the
    /// quantizers support; f64 serves full-precision gradient checks.
    pub fn set_dtype(&mut self, dtype: DType) -> anyhow::Result<()> {
        if dtype != DType::F32 && !self.precision.is_full_precision() {
            bail!("only full-precision networks compute in {dtype:?}; the quantizers are f32");
        }
        let conv = |v: &mut Var| -> candle_core::Result<()> {
            *v = Var::from_tensor(&v.as_tensor().to_dtype(dtype)?)?;
            Ok(())
        };
        for l in &mut self.layers {
            match l {
                Layer::Dense { w, b, .. } | Layer::Conv { w, b, .. } => {
                    conv(w)?;
                    if let Some(b) = b {
                        conv(b)?;
                    }
                }
                Layer::BatchNorm { gamma, beta, .. } => {
                    conv(gamma)?;
                    conv(beta)?;
                }
                Layer::Pact { alpha, .. } => conv(alpha)?,
                _ => {}
            }
        }
        self.dtype = dtype;
        Ok(())
    }

    /// The precision this network trains at.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Input tensor of `n` images stored back to back, in the channel-major layout `[C, n, H, W]` that
    /// [`Net::forward`] takes: pixel code × input scale.
    pub fn input_tensor(&self, images: &[u8]) -> anyhow::Result<Tensor> {
        let [c, h, w] = self.template.input.shape;
        let px = c * h * w;
        if images.len() % px != 0 {
            bail!("{} bytes is not a whole number of {c}×{h}×{w} images", images.len());
        }
        let n = images.len() / px;
        let s = self.template.input.scale;
        let mut data = vec![0f32; images.len()];
        let hw = h * w;
        for (i, img) in images.chunks(px).enumerate() {
            for ch in 0..c {
                let dst = &mut data[(ch * n + i) * hw..(ch * n + i + 1) * hw];
                for (d, &p) in dst.iter_mut().zip(&img[ch * hw..(ch + 1) * hw]) {
                    *d = p as f32 * s;
                }
            }
        }
        Ok(Tensor::from_vec(data, (c, n, h, w), &self.device)?.to_dtype(self.dtype)?)
    }

    /// Logits `[n, classes]` for the input `x` from [`Net::input_tensor`]. `train`: batch statistics in
    /// BatchNorm (and the running statistics updated), straight-through estimators for the backward pass.
    /// Otherwise the evaluation forward: running statistics, exact quantized values (what the fake-quant
    /// evaluator computes).
    ///
    /// Internally every tensor is channel-major, `[C, n, H, W]` for feature maps and `[F, n]` for vectors: a
    /// convolution is then one matrix product without transposes, and BatchNorm statistics reduce over the
    /// last (contiguous) dimension, which candle's CPU backend does fast, forward and backward.
    pub fn forward(&mut self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.forward_impl(x, train, None)
    }

    /// Data-driven α (`--alpha-init auto`): one training-mode forward of `x` (batch statistics in BatchNorm,
    /// running statistics left alone) in which every activation whose α came from `AlphaInit::init` first sets
    /// α to the `percentile` (0..100, nearest rank) of its own input values, all channels and samples pooled,
    /// then quantizes with it; layers are calibrated in order, so each sees its predecessors' new α.
    /// α is kept ≥ [`MIN_ALPHA`]. Returns the α of every activation afterwards, by layer name.
    pub fn calibrate_alphas(&mut self, x: &Tensor, percentile: f64) -> anyhow::Result<Vec<(String, f32)>> {
        if !(0.0..=100.0).contains(&percentile) {
            bail!("alpha percentile {percentile} is outside 0..=100");
        }
        self.forward_impl(x, true, Some(percentile))?;
        Ok(self.alphas())
    }

    fn forward_impl(&mut self, x: &Tensor, train: bool, calib: Option<f64>) -> candle_core::Result<Tensor> {
        let nodes = &self.template.nodes;
        let mut vals: Vec<Tensor> = Vec::with_capacity(nodes.len());
        // Grid (step size) of values that are quantization codes × step, for the average pools.
        let mut grids: Vec<Option<Tensor>> = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let inp = node.inputs.first().map(|&j| &vals[j]);
            let grid_in = node.inputs.first().and_then(|&j| grids[j].clone());
            let (y, grid) = match &mut self.layers[i] {
                Layer::Input => {
                    let g = (self.precision.abits != FLOAT_BITS)
                        .then(|| Tensor::new(self.template.input.scale, &self.device)?.to_dtype(x.dtype()))
                        .transpose()?;
                    (x.clone(), g)
                }
                Layer::Dense { w, b, bits } => {
                    let wq = quant::dorefa(w.as_tensor(), *bits, !train)?;
                    let y = wq.matmul(inp.unwrap())?; // [O, F]·[F, n]
                    let y = match b {
                        Some(b) => y.broadcast_add(&b.as_tensor().reshape(((), 1))?)?,
                        None => y,
                    };
                    (y, None)
                }
                Layer::Conv {
                    w,
                    b,
                    stride,
                    pad,
                    bits,
                } => {
                    let wq = quant::dorefa(w.as_tensor(), *bits, !train)?;
                    let y = ops::conv2d_cm(inp.unwrap(), &wq, *stride, *pad)?;
                    let y = match b {
                        Some(b) => y.broadcast_add(&b.as_tensor().reshape(((), 1, 1, 1))?)?,
                        None => y,
                    };
                    (y, None)
                }
                Layer::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    eps,
                } => {
                    let x = inp.unwrap();
                    let dims = x.dims().to_vec();
                    let c = dims[0];
                    let m = x.elem_count() / c;
                    let x2 = x.reshape((c, m))?;
                    let y = if train {
                        // (x − μ)·(γ/σ) + β: the per-channel factor is formed on the small [C, 1] tensors.
                        let mu = x2.mean_keepdim(1)?;
                        let xc = x2.broadcast_sub(&mu)?;
                        let v = xc.sqr()?.mean_keepdim(1)?;
                        let g = gamma.as_tensor().reshape((c, 1))?.div(&(&v + *eps as f64)?.sqrt()?)?;
                        let y = xc
                            .broadcast_mul(&g)?
                            .broadcast_add(&beta.as_tensor().reshape((c, 1))?)?;
                        let bm = to_vec(&mu)?;
                        let bv = to_vec(&v)?;
                        let unbias = if m > 1 { m as f64 / (m - 1) as f64 } else { 1.0 };
                        for ch in (0..c).filter(|_| calib.is_none()) {
                            mean[ch] = ((1.0 - BN_MOMENTUM) * mean[ch] as f64 + BN_MOMENTUM * bm[ch] as f64) as f32;
                            var[ch] =
                                ((1.0 - BN_MOMENTUM) * var[ch] as f64 + BN_MOMENTUM * bv[ch] as f64 * unbias) as f32;
                        }
                        y
                    } else {
                        // The quantizer's folding: g = γ/√(var + ε), h = β − g·mean, in f64.
                        let bn = BatchNorm {
                            gamma: to_vec(gamma.as_tensor())?,
                            beta: to_vec(beta.as_tensor())?,
                            mean: mean.clone(),
                            var: var.clone(),
                            eps: *eps,
                        };
                        let (g, h): (Vec<f32>, Vec<f32>) =
                            bn.affine().into_iter().map(|(g, h)| (g as f32, h as f32)).unzip();
                        let g = Tensor::from_vec(g, (c, 1), &self.device)?.to_dtype(x.dtype())?;
                        let h = Tensor::from_vec(h, (c, 1), &self.device)?.to_dtype(x.dtype())?;
                        x2.broadcast_mul(&g)?.broadcast_add(&h)?
                    };
                    (y.reshape(dims)?, None)
                }
                Layer::Relu => (inp.unwrap().relu()?, None),
                Layer::Pact {
                    alpha, bits, from_init, ..
                } => {
                    if let (Some(p), true) = (calib, *from_init) {
                        let mut v = to_vec(inp.unwrap())?;
                        let a = if v.is_empty() {
                            MIN_ALPHA
                        } else {
                            let k = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
                            *v.select_nth_unstable_by(k, f32::total_cmp).1
                        };
                        let a = if a.is_finite() { a.max(MIN_ALPHA) } else { MIN_ALPHA };
                        alpha.set(&Tensor::new(a, &self.device)?.to_dtype(self.dtype)?)?;
                    }
                    let a = alpha.as_tensor();
                    let y = quant::pact(inp.unwrap(), a, *bits, train)?;
                    let step = (a.detach() / quant::levels(*bits))?;
                    (y, Some(step))
                }
                Layer::MaxPool { kernel, pad } => {
                    let mut x = inp.unwrap().clone();
                    if pad.iter().any(|&p| p > 0) {
                        x = pad_neg_inf(&x, *pad)?;
                    }
                    (ops::max_pool_cm(&crop(&x, *kernel)?, *kernel)?, grid_in)
                }
                Layer::AvgPool { kernel } => {
                    let x = crop(inp.unwrap(), *kernel)?;
                    let k = (kernel[0], kernel[1]);
                    let y = x.avg_pool2d_with_stride(k, k)?;
                    let y = match &grid_in {
                        Some(s) => regrid(&y, &x, s, kernel[0] * kernel[1], |c| c.avg_pool2d_with_stride(k, k))?,
                        None => y,
                    };
                    (y, grid_in)
                }
                Layer::GlobalAvgPool => {
                    let x = inp.unwrap();
                    let hw = x.dim(2)? * x.dim(3)?;
                    let x = x.flatten_from(2)?; // [C, n, H·W]
                    let y = x.mean_keepdim(2)?;
                    let y = match &grid_in {
                        Some(s) => regrid(&y, &x, s, hw, |c| c.mean_keepdim(2))?,
                        None => y,
                    };
                    (y.squeeze(2)?, grid_in)
                }
                Layer::Flatten => {
                    let x = inp.unwrap();
                    let y = if x.rank() == 4 {
                        // [C, n, H, W] → [C, H, W, n] → [C·H·W, n]: C-major features, as the float model.
                        let n = x.dim(1)?;
                        x.permute((0, 2, 3, 1))?.reshape(((), n))?
                    } else {
                        x.clone()
                    };
                    (y, grid_in)
                }
                Layer::Add => (inp.unwrap().add(&vals[node.inputs[1]])?, None),
            };
            vals.push(y);
            grids.push(grid);
        }
        let out = vals.pop().expect("a model has nodes");
        // [classes, n] (or [classes, n, 1, 1] from a conv) → [n, classes].
        let n = out.dim(1)?;
        out.transpose(0, 1)?.reshape((n, ()))
    }

    /// Classify `images` (back to back) with the evaluation forward, in batches.
    pub fn classify(&mut self, images: &[u8]) -> anyhow::Result<Vec<usize>> {
        let px: usize = self.template.input.shape.iter().product();
        let mut out = Vec::with_capacity(images.len() / px);
        for chunk in images.chunks(px * 500) {
            let x = self.input_tensor(chunk)?;
            let logits = self.forward(&x, false)?;
            out.extend(
                logits
                    .argmax(D::Minus1)?
                    .to_vec1::<u32>()?
                    .into_iter()
                    .map(|c| c as usize),
            );
        }
        Ok(out)
    }

    /// The trainable parameters with their kinds (fixed-clip α are not trainable).
    pub fn params(&self) -> Vec<(Var, ParamKind)> {
        let mut out = Vec::new();
        for l in &self.layers {
            match l {
                Layer::Dense { w, b, .. } | Layer::Conv { w, b, .. } => {
                    out.push((w.clone(), ParamKind::Weight));
                    if let Some(b) = b {
                        out.push((b.clone(), ParamKind::Other));
                    }
                }
                Layer::BatchNorm { gamma, beta, .. } => {
                    out.push((gamma.clone(), ParamKind::Other));
                    out.push((beta.clone(), ParamKind::Other));
                }
                Layer::Pact {
                    alpha, learned: true, ..
                } => out.push((alpha.clone(), ParamKind::Alpha)),
                _ => {}
            }
        }
        out
    }

    /// Current α of every PACT activation, by layer name.
    pub fn alphas(&self) -> Vec<(String, f32)> {
        self.template
            .nodes
            .iter()
            .zip(&self.layers)
            .filter_map(|(n, l)| match l {
                Layer::Pact { alpha, .. } => alpha.as_tensor().to_scalar::<f32>().ok().map(|a| (n.name.clone(), a)),
                _ => None,
            })
            .collect()
    }

    /// Keep every learned α at least [`MIN_ALPHA`].
    pub fn clamp_alphas(&self) -> candle_core::Result<()> {
        for l in &self.layers {
            if let Layer::Pact {
                alpha, learned: true, ..
            } = l
            {
                if alpha.as_tensor().to_scalar::<f32>()? < MIN_ALPHA {
                    alpha.set(&Tensor::new(MIN_ALPHA, &self.device)?)?;
                }
            }
        }
        Ok(())
    }

    /// The trained model: the starting graph with the current parameters, BatchNorm running statistics,
    /// [`Op::Pact`] with the current α (or [`Op::Relu`] where activations are float).
    pub fn to_float_model(&self) -> anyhow::Result<FloatModel> {
        let mut model = self.template.clone();
        for (node, layer) in model.nodes.iter_mut().zip(&self.layers) {
            let Node { op, name, .. } = node;
            let ctx = || format!("layer '{name}'");
            match (op, layer) {
                (Op::Dense { weight, bias }, Layer::Dense { w, b, .. })
                | (Op::Conv2d { weight, bias, .. }, Layer::Conv { w, b, .. }) => {
                    weight.data = to_vec(w.as_tensor()).with_context(ctx)?;
                    *bias = b
                        .as_ref()
                        .map(|b| to_vec(b.as_tensor()))
                        .transpose()
                        .with_context(ctx)?;
                }
                (
                    Op::BatchNorm(bn),
                    Layer::BatchNorm {
                        gamma, beta, mean, var, ..
                    },
                ) => {
                    bn.gamma = to_vec(gamma.as_tensor()).with_context(ctx)?;
                    bn.beta = to_vec(beta.as_tensor()).with_context(ctx)?;
                    bn.mean = mean.clone();
                    bn.var = var.clone();
                }
                (op, Layer::Relu) => *op = Op::Relu,
                (op, Layer::Pact { alpha, .. }) => {
                    *op = Op::Pact {
                        alpha: alpha.as_tensor().to_scalar::<f32>().with_context(ctx)?,
                    }
                }
                _ => {}
            }
        }
        model.shapes().context("the trained model is invalid")?;
        Ok(model)
    }
}

/// Pad the last two dims with −∞ (`[top, left, bottom, right]`), for max pooling.
fn pad_neg_inf(x: &Tensor, pad: [usize; 4]) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let full = |hh: usize, ww: usize| Tensor::full(f32::NEG_INFINITY, (n, c, hh, ww), x.device())?.to_dtype(x.dtype());
    let mut parts = Vec::new();
    if pad[1] > 0 {
        parts.push(full(h, pad[1])?);
    }
    parts.push(x.clone());
    if pad[3] > 0 {
        parts.push(full(h, pad[3])?);
    }
    let x = Tensor::cat(&parts, 3)?;
    let w2 = w + pad[1] + pad[3];
    let mut parts = Vec::new();
    if pad[0] > 0 {
        parts.push(full(pad[0], w2)?);
    }
    parts.push(x);
    if pad[2] > 0 {
        parts.push(full(pad[2], w2)?);
    }
    Tensor::cat(&parts, 2)
}

/// Drop the rows/columns that no window (stride = kernel) covers.
fn crop(x: &Tensor, k: [usize; 2]) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (hh, ww) = ((h / k[0]) * k[0], (w / k[1]) * k[1]);
    if hh == h && ww == w {
        Ok(x.clone())
    } else {
        x.narrow(2, 0, hh)?.narrow(3, 0, ww)
    }
}

/// Mean of grid values re-rounded onto the grid `step`, as the integer average pool does:
/// `floor((2·Σcode + k)/(2k))·step`, through the codes (exact), with the STE around it.
fn regrid(
    y: &Tensor,
    x: &Tensor,
    step: &Tensor,
    k: usize,
    mean: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<Tensor> {
    let codes = x.detach().broadcast_div(step)?.round()?;
    let sum = (mean(&codes)? * k as f64)?.round()?;
    // (2s + k)/(2k) is an integer or at least 1/(2k) below the next one; the +1/4 absorbs the error of
    // multiplying by the rounded reciprocal without crossing an integer.
    let q = ((sum * 2.0)? + (k as f64 + 0.25))?
        .affine(1.0 / (2 * k) as f64, 0.0)?
        .floor()?
        .broadcast_mul(step)?;
    quant::ste(y, &q)
}
