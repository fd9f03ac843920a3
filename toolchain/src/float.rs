//! The float model: what importers produce and what the quantizer, the float evaluator and the fake-quant
//! evaluator consume. A small DAG of nodes in topological order; tensors are per sample in C×H×W (or N for
//! vectors) with PyTorch's layouts: dense weight `[out, in]`, conv weight `[out_c, in_c, kh, kw]`, flatten in
//! C-major (channel, row, column) order.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A dense f32 tensor with its shape (row-major).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor; fails if `data.len()` is not the product of `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n = checked_numel(&shape).ok_or_else(|| Error::config(format!("tensor shape {shape:?} overflows")))?;
        if n != data.len() {
            return Err(Error::config(format!(
                "tensor shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Product of a shape, `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// The model input: raw 8-bit pixel codes; the float model sees `code × scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Channels, height, width of one sample.
    pub shape: [usize; 3],
    /// Real value of one pixel code step (default 1/255).
    pub scale: f32,
}

/// Float BatchNorm parameters (inference form), one value per channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

impl BatchNorm {
    /// Per-channel `(g, h)` with `bn(x) = g·x + h`, computed in f64.
    pub fn affine(&self) -> Vec<(f64, f64)> {
        (0..self.gamma.len())
            .map(|c| {
                let g = self.gamma[c] as f64 / (self.var[c] as f64 + self.eps as f64).sqrt();
                (g, self.beta[c] as f64 - g * self.mean[c] as f64)
            })
            .collect()
    }
}

/// One operation of the float model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The model input (always node 0, no inputs).
    Input,
    /// `y = W·x + b`, `weight` shape `[out, in]`.
    Dense { weight: Tensor, bias: Option<Vec<f32>> },
    /// 2-D convolution, `weight` shape `[out_c, in_c, kh, kw]`, zero padding `[top, left, bottom, right]`.
    Conv2d {
        weight: Tensor,
        bias: Option<Vec<f32>>,
        stride: [usize; 2],
        pad: [usize; 4],
    },
    /// Per-channel affine normalisation with running statistics.
    BatchNorm(BatchNorm),
    /// Plain ReLU (no learned α: the quantizer calibrates one).
    Relu,
    /// PACT activation: `clip(x, 0, alpha)` (quantized to k_a bits by the quantizer).
    Pact { alpha: f32 },
    /// Max pooling, padding `[top, left, bottom, right]` (padded cells never win).
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 4],
    },
    /// Average pooling without padding.
    AvgPool { kernel: [usize; 2], stride: [usize; 2] },
    /// Mean over each channel's H×W.
    GlobalAvgPool,
    /// C×H×W → C·H·W (C-major).
    Flatten,
    /// Element-wise sum of two inputs of the same shape (residual).
    Add,
}

impl Op {
    /// Short lowercase name of the op.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Dense { .. } => "dense",
            Op::Conv2d { .. } => "conv2d",
            Op::BatchNorm(_) => "batchnorm",
            Op::Relu => "relu",
            Op::Pact { .. } => "pact",
            Op::MaxPool { .. } => "maxpool",
            Op::AvgPool { .. } => "avgpool",
            Op::GlobalAvgPool => "global_avgpool",
            Op::Flatten => "flatten",
            Op::Add => "add",
        }
    }
}

/// One node: a named op and the indices of the nodes it reads (all smaller than its own index).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    #[serde(flatten)]
    pub op: Op,
    pub inputs: Vec<usize>,
}

/// A float model. Node 0 is the input; the last node is the output (logits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatModel {
    pub input: InputSpec,
    pub nodes: Vec<Node>,
}

/// Shape of one sample's tensor: `[c, h, w]` for feature maps, `[n]` for vectors.
pub type Shape = Vec<usize>;

/// Output size of a pooling/conv window along one axis, `None` if the window does not fit.
pub fn window_out(size: usize, k: usize, stride: usize, pad_lo: usize, pad_hi: usize) -> Option<usize> {
    let padded = size.checked_add(pad_lo)?.checked_add(pad_hi)?;
    if k == 0 || stride == 0 || padded < k {
        return None;
    }
    Some((padded - k) / stride + 1)
}

impl FloatModel {
    /// Check the graph (topological order, arities, parameter sizes, finite values, α > 0) and return the
    /// output shape of every node. Errors name the node.
    pub fn shapes(&self) -> Result<Vec<Shape>> {
        let [c, h, w] = self.input.shape;
        if c == 0 || h == 0 || w == 0 {
            return Err(Error::config(format!(
                "input shape {:?} has a zero dimension",
                self.input.shape
            )));
        }
        if !(self.input.scale.is_finite() && self.input.scale > 0.0) {
            return Err(Error::config(format!(
                "input scale {} must be finite and > 0",
                self.input.scale
            )));
        }
        let mut shapes: Vec<Shape> = Vec::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let err = |msg: String| Error::layer(&node.name, msg);
            let want = match node.op {
                Op::Input => 0,
                Op::Add => 2,
                _ => 1,
            };
            if (i == 0) != matches!(node.op, Op::Input) {
                return Err(err("the input must be node 0 and only node 0".into()));
            }
            if node.inputs.len() != want {
                return Err(err(format!(
                    "{} takes {want} input(s), got {}",
                    node.op.kind(),
                    node.inputs.len()
                )));
            }
            if let Some(&j) = node.inputs.iter().find(|&&j| j >= i) {
                return Err(err(format!("reads node {j}, which does not come before it")));
            }
            let ins: Vec<&Shape> = node.inputs.iter().map(|&j| &shapes[j]).collect();
            let finite = |name: &str, v: &[f32]| -> Result<()> {
                match v.iter().position(|x| !x.is_finite()) {
                    Some(p) => Err(err(format!("{name}[{p}] is {} (must be finite)", v[p]))),
                    None => Ok(()),
                }
            };
            let shape = match &node.op {
                Op::Input => vec![c, h, w],
                Op::Dense { weight, bias } => {
                    finite("weight", &weight.data)?;
                    if weight.shape.len() != 2 {
                        return Err(err(format!("dense weight must be [out, in], got {:?}", weight.shape)));
                    }
                    let n: usize = ins[0][0];
                    if ins[0].len() != 1 {
                        return Err(err(format!(
                            "dense input must be a vector (flatten first), got {:?}",
                            ins[0]
                        )));
                    }
                    if weight.shape[1] != n {
                        return Err(err(format!("weight {:?} does not take {n} inputs", weight.shape)));
                    }
                    if let Some(b) = bias {
                        finite("bias", b)?;
                        if b.len() != weight.shape[0] {
                            return Err(err(format!(
                                "bias has {} values, weight has {} outputs",
                                b.len(),
                                weight.shape[0]
                            )));
                        }
                    }
                    vec![weight.shape[0]]
                }
                Op::Conv2d {
                    weight,
                    bias,
                    stride,
                    pad,
                } => {
                    finite("weight", &weight.data)?;
                    if weight.shape.len() != 4 {
                        return Err(err(format!(
                            "conv weight must be [out_c, in_c, kh, kw], got {:?}",
                            weight.shape
                        )));
                    }
                    if ins[0].len() != 3 || ins[0][0] != weight.shape[1] {
                        return Err(err(format!(
                            "input {:?} does not match weight {:?}",
                            ins[0], weight.shape
                        )));
                    }
                    if let Some(b) = bias {
                        finite("bias", b)?;
                        if b.len() != weight.shape[0] {
                            return Err(err(format!(
                                "bias has {} values, weight has {} outputs",
                                b.len(),
                                weight.shape[0]
                            )));
                        }
                    }
                    let oh = window_out(ins[0][1], weight.shape[2], stride[0], pad[0], pad[2]);
                    let ow = window_out(ins[0][2], weight.shape[3], stride[1], pad[1], pad[3]);
                    match (oh, ow) {
                        (Some(oh), Some(ow)) => vec![weight.shape[0], oh, ow],
                        _ => return Err(err(format!("kernel/stride/padding do not fit input {:?}", ins[0]))),
                    }
                }
                Op::BatchNorm(bn) => {
                    let ch = ins[0][0];
                    for (name, v) in [
                        ("gamma", &bn.gamma),
                        ("beta", &bn.beta),
                        ("mean", &bn.mean),
                        ("var", &bn.var),
                    ] {
                        finite(name, v)?;
                        if v.len() != ch {
                            return Err(err(format!("{name} has {} values, input has {ch} channels", v.len())));
                        }
                    }
                    if let Some(p) = bn.var.iter().position(|&v| v < 0.0) {
                        return Err(err(format!("running variance of channel {p} is negative")));
                    }
                    if !(bn.eps.is_finite() && bn.eps >= 0.0) {
                        return Err(err(format!("eps {} must be finite and >= 0", bn.eps)));
                    }
                    ins[0].clone()
                }
                Op::Relu => ins[0].clone(),
                Op::Flatten => vec![checked_numel(ins[0]).ok_or_else(|| err(format!("input {:?} overflows", ins[0])))?],
                Op::Pact { alpha } => {
                    if !(alpha.is_finite() && *alpha > 0.0) {
                        return Err(err(format!("PACT alpha is {alpha} (must be finite and > 0)")));
                    }
                    ins[0].clone()
                }
                Op::MaxPool { kernel, stride, pad } => pool_shape(ins[0], *kernel, *stride, *pad)
                    .ok_or_else(|| err(format!("pool window does not fit input {:?}", ins[0])))?,
                Op::AvgPool { kernel, stride } => pool_shape(ins[0], *kernel, *stride, [0; 4])
                    .ok_or_else(|| err(format!("pool window does not fit input {:?}", ins[0])))?,
                Op::GlobalAvgPool => {
                    if ins[0].len() != 3 {
                        return Err(err(format!(
                            "global average pool needs a C×H×W input, got {:?}",
                            ins[0]
                        )));
                    }
                    vec![ins[0][0]]
                }
                Op::Add => {
                    if ins[0] != ins[1] {
                        return Err(err(format!("adds shapes {:?} and {:?}", ins[0], ins[1])));
                    }
                    ins[0].clone()
                }
            };
            shapes.push(shape);
        }
        if self.nodes.is_empty() {
            return Err(Error::config("the model has no nodes"));
        }
        Ok(shapes)
    }
}

impl FloatModel {
    /// Indices of the first and the last dense/conv node, `None` if there is none.
    pub fn first_last_compute(&self) -> Option<(usize, usize)> {
        let mut it = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::Dense { .. } | Op::Conv2d { .. }));
        let first = it.next()?.0;
        Some((first, it.next_back().map_or(first, |(i, _)| i)))
    }

    /// For every node: whether its value reaches the last dense/conv layer only through shape-only ops (pools,
    /// flatten). Those activations use the first/last width, like the last layer's weights.
    pub fn feeds_last(&self) -> Vec<bool> {
        let mut feeds = vec![false; self.nodes.len()];
        let Some((_, last)) = self.first_last_compute() else {
            return feeds;
        };
        let mut stack: Vec<usize> = self.nodes[last].inputs.clone();
        while let Some(i) = stack.pop() {
            feeds[i] = true;
            if matches!(
                self.nodes[i].op,
                Op::MaxPool { .. } | Op::AvgPool { .. } | Op::GlobalAvgPool | Op::Flatten
            ) {
                stack.extend(self.nodes[i].inputs.iter().copied());
            }
        }
        feeds
    }
}

fn pool_shape(input: &Shape, kernel: [usize; 2], stride: [usize; 2], pad: [usize; 4]) -> Option<Shape> {
    if input.len() != 3 {
        return None;
    }
    let oh = window_out(input[1], kernel[0], stride[0], pad[0], pad[2])?;
    let ow = window_out(input[2], kernel[1], stride[1], pad[1], pad[3])?;
    Some(vec![input[0], oh, ow])
}
