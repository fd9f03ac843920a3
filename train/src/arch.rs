//! Architecture descriptions: the built-in presets `mlp` and `cnn`, and a JSON description of layer sizes.
//! [`ArchSpec::build`] turns a description into a [`FloatModel`] with freshly initialised parameters, adapted
//! to the data set's input shape and class count.
//!
//! # JSON description
//!
//! ```json
//! { "layers": [
//!     { "name": "conv1", "op": "conv2d", "out": 16, "kernel": 3, "padding": 1 },
//!     { "op": "batchnorm" },
//!     { "op": "pact" },
//!     { "op": "maxpool", "kernel": 2 },
//!     { "op": "flatten" },
//!     { "op": "dense" }
//! ] }
//! ```
//!
//! Layers run in order; each reads the previous one (the first reads the model input) unless `inputs` lists
//! names of earlier layers (`"input"` is the model input). Names default to the op followed by the layer's
//! position (`dense5`) and must be unique. Unknown keys are errors.
//!
//! | op | keys |
//! |---|---|
//! | `dense` | `out` (required except on the last layer, where it defaults to the class count), `bias` |
//! | `conv2d` | `out` (as for dense), `kernel` (required), `stride` (1), `padding` (0), `bias` |
//! | `batchnorm` | `eps` (1e-5) |
//! | `pact` (alias `relu`, `act`) | the activation: PACT with a learned α, or plain ReLU at `--abits 32` |
//! | `maxpool` | `kernel` (required), `stride` (= kernel), `padding` (0) |
//! | `avgpool` | `kernel` (required), `stride` (= kernel) |
//! | `global_avgpool`, `flatten` | |
//! | `add` | `inputs` (two layer names) |
//!
//! `kernel` and `stride` are an integer or `[height, width]`; `padding` an integer, `[height, width]` or
//! `[top, left, bottom, right]`. `bias` defaults to true, except for a dense/conv layer directly followed by a
//! batchnorm (whose β makes a bias redundant). The last layer must be a dense or conv layer (the logits).
//!
//! Initialisation (PyTorch's defaults): weights and biases uniform in `±1/√fan_in`, BatchNorm γ = 1, β = 0,
//! running mean 0, running variance 1. Activations are emitted as [`Op::Relu`] placeholders; the trainer gives
//! each its α.

use anyhow::{bail, Context};
use pact_toolchain::float::{BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// An integer or a `[height, width]` pair.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pair {
    /// The same value for height and width.
    One(usize),
    /// `[height, width]`.
    Two([usize; 2]),
}

impl Pair {
    fn get(self) -> [usize; 2] {
        match self {
            Pair::One(v) => [v, v],
            Pair::Two(v) => v,
        }
    }
}

/// Zero padding: an integer, `[height, width]` or `[top, left, bottom, right]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding {
    /// The same on all four sides.
    One(usize),
    /// `[height, width]`: top = bottom = height, left = right = width.
    Two([usize; 2]),
    /// `[top, left, bottom, right]`.
    Four([usize; 4]),
}

impl Padding {
    fn get(self) -> [usize; 4] {
        match self {
            Padding::One(p) => [p; 4],
            Padding::Two([h, w]) => [h, w, h, w],
            Padding::Four(p) => p,
        }
    }
}

/// One layer of an architecture description (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// Fully connected layer.
    Dense {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
        /// Output features (default on the last layer: the class count).
        #[serde(default)]
        out: Option<usize>,
        /// Whether the layer has a bias.
        #[serde(default)]
        bias: Option<bool>,
    },
    /// 2-D convolution.
    Conv2d {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
        /// Output channels (default on the last layer: the class count).
        #[serde(default)]
        out: Option<usize>,
        /// Kernel size.
        kernel: Pair,
        /// Stride (default 1).
        #[serde(default)]
        stride: Option<Pair>,
        /// Zero padding (default 0).
        #[serde(default)]
        padding: Option<Padding>,
        /// Whether the layer has a bias.
        #[serde(default)]
        bias: Option<bool>,
    },
    /// BatchNorm over the channels of its input.
    #[serde(rename = "batchnorm")]
    BatchNorm {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
        /// ε of the normalisation (default 1e-5).
        #[serde(default)]
        eps: Option<f32>,
    },
    /// The activation: PACT (learned α) or ReLU at full precision.
    #[serde(alias = "relu", alias = "act")]
    Pact {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
    },
    /// Max pooling.
    #[serde(rename = "maxpool")]
    MaxPool {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
        /// Window size.
        kernel: Pair,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<Pair>,
        /// Padding (default 0).
        #[serde(default)]
        padding: Option<Padding>,
    },
    /// Average pooling without padding.
    #[serde(rename = "avgpool")]
    AvgPool {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
        /// Window size.
        kernel: Pair,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<Pair>,
    },
    /// Mean over each channel.
    #[serde(rename = "global_avgpool")]
    GlobalAvgPool {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
    },
    /// C×H×W → C·H·W.
    Flatten {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// Names of the input layers (default: the previous layer).
        #[serde(default)]
        inputs: Option<Vec<String>>,
    },
    /// Sum of two layers of the same shape (residual).
    Add {
        /// Layer name.
        #[serde(default)]
        name: Option<String>,
        /// The two layers to add.
        inputs: Vec<String>,
    },
}

impl LayerSpec {
    fn name(&self) -> Option<&str> {
        match self {
            LayerSpec::Dense { name, .. }
            | LayerSpec::Conv2d { name, .. }
            | LayerSpec::BatchNorm { name, .. }
            | LayerSpec::Pact { name, .. }
            | LayerSpec::MaxPool { name, .. }
            | LayerSpec::AvgPool { name, .. }
            | LayerSpec::GlobalAvgPool { name, .. }
            | LayerSpec::Flatten { name, .. }
            | LayerSpec::Add { name, .. } => name.as_deref(),
        }
    }
    fn inputs(&self) -> Option<&[String]> {
        match self {
            LayerSpec::Dense { inputs, .. }
            | LayerSpec::Conv2d { inputs, .. }
            | LayerSpec::BatchNorm { inputs, .. }
            | LayerSpec::Pact { inputs, .. }
            | LayerSpec::MaxPool { inputs, .. }
            | LayerSpec::AvgPool { inputs, .. }
            | LayerSpec::GlobalAvgPool { inputs, .. }
            | LayerSpec::Flatten { inputs, .. } => inputs.as_deref(),
            LayerSpec::Add { inputs, .. } => Some(inputs),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::BatchNorm { .. } => "batchnorm",
            LayerSpec::Pact { .. } => "pact",
            LayerSpec::MaxPool { .. } => "maxpool",
            LayerSpec::AvgPool { .. } => "avgpool",
            LayerSpec::GlobalAvgPool { .. } => "global_avgpool",
            LayerSpec::Flatten { .. } => "flatten",
            LayerSpec::Add { .. } => "add",
        }
    }
}

/// An architecture: layer sizes without parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// The layers in order; the last is the output.
    pub layers: Vec<LayerSpec>,
}

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &["mlp", "cnn"];

fn dense(name: &str, out: Option<usize>) -> LayerSpec {
    LayerSpec::Dense {
        name: Some(name.into()),
        inputs: None,
        out,
        bias: None,
    }
}
fn bn(name: &str) -> LayerSpec {
    LayerSpec::BatchNorm {
        name: Some(name.into()),
        inputs: None,
        eps: None,
    }
}
fn act(name: &str) -> LayerSpec {
    LayerSpec::Pact {
        name: Some(name.into()),
        inputs: None,
    }
}

impl ArchSpec {
    /// A built-in preset for inputs of shape `[c, h, w]`:
    ///
    /// * `mlp`: Flatten → Dense(256) → BN → PACT → Dense(128) → BN → PACT → Dense(classes).
    /// * `cnn`: Conv3×3(16, pad 1) → BN → PACT → MaxPool2 → Conv3×3(32, pad 1) → BN → PACT → MaxPool2 → Flatten →
    ///   Dense(classes). A max pool is left out where the feature map is smaller than 2×2 (tiny inputs).
    pub fn preset(name: &str, input_shape: [usize; 3]) -> anyhow::Result<Self> {
        let layers = match name {
            "mlp" => vec![
                LayerSpec::Flatten {
                    name: Some("flatten".into()),
                    inputs: None,
                },
                dense("fc1", Some(256)),
                bn("bn1"),
                act("act1"),
                dense("fc2", Some(128)),
                bn("bn2"),
                act("act2"),
                dense("fc3", None),
            ],
            "cnn" => {
                let [_, mut h, mut w] = input_shape;
                let mut layers = Vec::new();
                for (i, ch) in [16usize, 32].into_iter().enumerate() {
                    let n = i + 1;
                    layers.push(LayerSpec::Conv2d {
                        name: Some(format!("conv{n}")),
                        inputs: None,
                        out: Some(ch),
                        kernel: Pair::One(3),
                        stride: None,
                        padding: Some(Padding::One(1)),
                        bias: None,
                    });
                    layers.push(bn(&format!("bn{n}")));
                    layers.push(act(&format!("act{n}")));
                    if h >= 2 && w >= 2 {
                        layers.push(LayerSpec::MaxPool {
                            name: Some(format!("pool{n}")),
                            inputs: None,
                            kernel: Pair::One(2),
                            stride: None,
                            padding: None,
                        });
                        h /= 2;
                        w /= 2;
                    }
                }
                layers.push(LayerSpec::Flatten {
                    name: Some("flatten".into()),
                    inputs: None,
                });
                layers.push(dense("fc", None));
                layers
            }
            _ => bail!(
                "unknown architecture preset '{name}' (presets: {}; or a path to a JSON file)",
                PRESETS.join(", ")
            ),
        };
        Ok(ArchSpec { layers })
    }

    /// Parse a JSON description.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let spec: ArchSpec = serde_json::from_str(text)?;
        if spec.layers.is_empty() {
            bail!("the architecture has no layers");
        }
        Ok(spec)
    }

    /// A preset name (see [`ArchSpec::preset`]) or the path of a JSON description.
    pub fn resolve(arch: &str, input_shape: [usize; 3]) -> anyhow::Result<Self> {
        if PRESETS.contains(&arch) {
            return Self::preset(arch, input_shape);
        }
        let path = Path::new(arch);
        if !path.exists() {
            bail!(
                "--arch '{arch}' is neither a preset ({}) nor an existing file",
                PRESETS.join(", ")
            );
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        Self::from_json(&text).with_context(|| format!("{}: bad architecture description", path.display()))
    }

    /// A float model with this architecture for inputs `input` and `classes` classes, parameters initialised from
    /// `rng` (PyTorch's default initialisation, see the module documentation).
    pub fn build(&self, input: InputSpec, classes: usize, rng: &mut ChaCha8Rng) -> anyhow::Result<FloatModel> {
        let mut nodes = vec![Node {
            name: "input".into(),
            op: Op::Input,
            inputs: vec![],
        }];
        let mut shapes: Vec<Vec<usize>> = vec![input.shape.to_vec()];
        let mut index: HashMap<String, usize> = HashMap::from([("input".to_string(), 0)]);
        let n_layers = self.layers.len();
        for (li, layer) in self.layers.iter().enumerate() {
            let pos = li + 1;
            let name = layer
                .name()
                .map_or_else(|| format!("{}{pos}", layer.kind()), str::to_string);
            let ctx = || format!("layer {pos} ('{name}', {})", layer.kind());
            if index.contains_key(&name) {
                bail!("{}: the name is used twice", ctx());
            }
            let inputs: Vec<usize> = match layer.inputs() {
                None => vec![pos - 1],
                Some(names) => names
                    .iter()
                    .map(|n| {
                        index
                            .get(n)
                            .copied()
                            .with_context(|| format!("{}: no earlier layer named '{n}'", ctx()))
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            let want = if matches!(layer, LayerSpec::Add { .. }) { 2 } else { 1 };
            if inputs.len() != want {
                bail!("{}: takes {want} input(s), got {}", ctx(), inputs.len());
            }
            let xs = shapes[inputs[0]].clone();
            let last = li + 1 == n_layers;
            let next_is_bn = matches!(self.layers.get(li + 1), Some(LayerSpec::BatchNorm { inputs: None, .. }));
            let out_of = |out: Option<usize>| -> anyhow::Result<usize> {
                match (out, last) {
                    (Some(o), true) if o != classes => {
                        bail!(
                            "{}: the last layer has {o} outputs, the data set has {classes} classes",
                            ctx()
                        )
                    }
                    (Some(0), _) => bail!("{}: out must be at least 1", ctx()),
                    (Some(o), _) => Ok(o),
                    (None, true) => Ok(classes),
                    (None, false) => bail!(
                        "{}: 'out' is required (only the last layer defaults to the class count)",
                        ctx()
                    ),
                }
            };
            let op = match layer {
                LayerSpec::Dense { out, bias, .. } => {
                    if xs.len() != 1 {
                        bail!(
                            "{}: its input has shape {xs:?}; a dense layer reads a vector (add a flatten)",
                            ctx()
                        );
                    }
                    let out = out_of(*out)?;
                    let fan_in = xs[0];
                    let weight = Tensor::new(vec![out, fan_in], uniform(rng, out * fan_in, fan_in))?;
                    let bias = bias.unwrap_or(!next_is_bn).then(|| uniform(rng, out, fan_in));
                    Op::Dense { weight, bias }
                }
                LayerSpec::Conv2d {
                    out,
                    kernel,
                    stride,
                    padding,
                    bias,
                    ..
                } => {
                    if xs.len() != 3 {
                        bail!("{}: its input has shape {xs:?}; a conv layer reads C×H×W", ctx());
                    }
                    let out = out_of(*out)?;
                    let [kh, kw] = kernel.get();
                    let fan_in = xs[0] * kh * kw;
                    let weight = Tensor::new(vec![out, xs[0], kh, kw], uniform(rng, out * fan_in, fan_in))?;
                    let bias = bias.unwrap_or(!next_is_bn).then(|| uniform(rng, out, fan_in));
                    Op::Conv2d {
                        weight,
                        bias,
                        stride: stride.map_or([1, 1], Pair::get),
                        pad: padding.map_or([0; 4], Padding::get),
                    }
                }
                LayerSpec::BatchNorm { eps, .. } => {
                    let c = xs[0];
                    Op::BatchNorm(BatchNorm {
                        gamma: vec![1.0; c],
                        beta: vec![0.0; c],
                        mean: vec![0.0; c],
                        var: vec![1.0; c],
                        eps: eps.unwrap_or(1e-5),
                    })
                }
                LayerSpec::Pact { .. } => Op::Relu,
                LayerSpec::MaxPool {
                    kernel,
                    stride,
                    padding,
                    ..
                } => Op::MaxPool {
                    kernel: kernel.get(),
                    stride: stride.unwrap_or(*kernel).get(),
                    pad: padding.map_or([0; 4], Padding::get),
                },
                LayerSpec::AvgPool { kernel, stride, .. } => Op::AvgPool {
                    kernel: kernel.get(),
                    stride: stride.unwrap_or(*kernel).get(),
                },
                LayerSpec::GlobalAvgPool { .. } => Op::GlobalAvgPool,
                LayerSpec::Flatten { .. } => Op::Flatten,
                LayerSpec::Add { .. } => Op::Add,
            };
            if last && !matches!(op, Op::Dense { .. } | Op::Conv2d { .. }) {
                bail!("{}: the last layer must be a dense or conv layer (the logits)", ctx());
            }
            nodes.push(Node {
                name: name.clone(),
                op,
                inputs,
            });
            let model = FloatModel {
                input: input.clone(),
                nodes: nodes.clone(),
            };
            let s = model.shapes().map_err(anyhow::Error::from).with_context(ctx)?;
            shapes.push(s[pos].clone());
            index.insert(name, pos);
        }
        let model = FloatModel { input, nodes };
        let out = model.shapes()?.pop().unwrap_or_default();
        if out.iter().product::<usize>() != classes {
            bail!("the model outputs shape {out:?}, the data set has {classes} classes");
        }
        Ok(model)
    }
}

/// `n` values uniform in `±1/√fan_in`.
fn uniform(rng: &mut ChaCha8Rng, n: usize, fan_in: usize) -> Vec<f32> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
}
