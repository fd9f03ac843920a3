//! The accelerator plan: a quantized model mapped onto one `pe × simd` engine — per-layer descriptors, memory
//! layouts, packed weight words, requantization slots, exact cycle counts — with every parameter check.
//!
//! Layouts (see docs/accelerator.md):
//! * **input buffer**: `simd` lane RAMs of 8-bit pixels. If the first compute layer is a conv, every lane holds the
//!   whole image in C×H×W order (*replicated*: each lane reads its own im2col element); if it is dense, pixel `j`
//!   of the flattened image is in lane `j mod simd`, word `⌊j/simd⌋` (*packed*).
//! * **activation banks A and B** (ping-pong): `simd` lane RAMs; a tensor of `C` channels × `H` × `W` is stored
//!   channel-last, `CW = ⌈C/simd⌉` words per position, channel `c` of position `(y, x)` in lane `c mod simd` of word
//!   `(y·W + x)·CW + ⌊c/simd⌋`; channels `C..CW·simd` hold 0. A vector of `N` values is the case `H = W = 1`.
//! * **weights**: per layer and PE `p`, the rows `p, p + pe, …` (output channels), `⌈N/simd⌉` words (beats) each of
//!   `simd` indices of exactly `k_w` bits, columns reordered to the order the beats read the activations.
use super::mem::{WeightBlock, MAX_DEPTH, MAX_WEIGHT_DEPTH, WADDR_BITS};
use super::{AccelConfig, Target};
use crate::pact::{check_consts, ChannelConsts, M0_BITS};
use crate::rom::MAX_CHANNELS;
use crate::HdlError;
use pact_toolchain::contract::MAX_ACC_BITS;
use pact_toolchain::qmodel::{Compute, Output, QModel, QOp};

/// Where a layer reads or writes its activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bank {
    /// The input buffer (read by the first compute layer only).
    Input,
    /// Activation bank A.
    A,
    /// Activation bank B.
    B,
    /// The logit RAMs (written by the last layer only).
    Logits,
}

impl Bank {
    /// Code used in the descriptor tables and on `dbg_sel`: input 0, A 1, B 2, logits 3.
    pub fn code(self) -> u16 {
        match self {
            Bank::Input => 0,
            Bank::A => 1,
            Bank::B => 2,
            Bank::Logits => 3,
        }
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Bank::Input => "input",
            Bank::A => "a",
            Bank::B => "b",
            Bank::Logits => "logits",
        }
    }
}

/// What a compute layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// A fully connected layer (reads its source flattened).
    Dense,
    /// A 2-D convolution.
    Conv2d,
}

impl LayerKind {
    /// The name in the manifest and the reports: `dense` or `conv2d`.
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Dense => "dense",
            LayerKind::Conv2d => "conv2d",
        }
    }
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor as stored in a buffer: `c` channels × `h` × `w`, `cw` words per position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub cw: usize,
}

impl Layout {
    /// Words the tensor occupies.
    pub fn words(&self) -> usize {
        self.h * self.w * self.cw
    }
}

/// One compute layer (dense or conv, with an optional fused max pool) as the engine runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    /// Name of the compute layer in the quantized model.
    pub name: String,
    /// Index of the compute layer in `QModel::layers`.
    pub qindex: usize,
    /// Index of the layer whose output this layer's buffer holds (the fused pool, else the compute layer).
    pub out_qindex: usize,
    /// Dense or conv2d.
    pub kind: LayerKind,
    /// Reads the input buffer one im2col element per lane (replicated layout).
    pub perlane: bool,
    /// The source tensor as stored (for a dense layer: the flattened tensor's layout before flattening).
    pub src_layout: Layout,
    /// Kernel `[kh, kw]`, stride `[sy, sx]`, padding `[top, left]` (dense: 1×1, 1, 0).
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    /// Output channels `M`, output rows and columns of the compute (before pooling).
    pub m: usize,
    pub oh: usize,
    pub ow: usize,
    /// Fan-in `N` (inputs per output).
    pub fan_in: usize,
    /// Beats per output group: `⌈N/simd⌉` (packed conv: `kh·kw·⌈C/simd⌉`).
    pub beats: usize,
    /// Output groups `⌈M/pe⌉`.
    pub groups: usize,
    /// Idle cycles after each group's beats (0 unless the writer needs more cycles per group: `pe/simd` words,
    /// or 2 cycles per position for a fused max pool).
    pub bubbles: usize,
    /// Weight index bits, input code bits, accumulator bits.
    pub wbits: u32,
    pub in_bits: u32,
    pub acc_bits: u32,
    /// Output code bits (`None` for the logits of the last layer).
    pub out_bits: Option<u32>,
    /// Fused max pool window (= stride) `[ky, kx]`; `[1, 1]` without a pool.
    pub pool: [usize; 2],
    /// Stored output layout (after pooling): `M` channels × `ph` × `pw`.
    pub out_layout: Layout,
    pub src: Bank,
    pub dst: Bank,
    /// First requantization slot of this layer in every PACT unit's ROMs.
    pub ch_base: usize,
    /// Per-lane im2col table (`perlane` layers): `[offset, ky, kx, valid]` per beat and lane, beat-major.
    pub patch: Vec<[u16; 4]>,
    /// Packed weight indices per PE.
    pub weights: Vec<WeightBlock>,
}

impl LayerPlan {
    /// Output positions of the compute (before pooling).
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }
    /// Beats the engine issues for this layer: positions × groups × beats.
    pub fn beat_count(&self) -> usize {
        self.positions() * self.groups * self.beats
    }
    /// Cycles the issuer runs for this layer: positions × groups × (beats + bubbles).
    pub fn run_cycles(&self) -> usize {
        self.positions() * self.groups * (self.beats + self.bubbles)
    }
    /// The issue's formula for this layer: `⌈M/pe⌉·⌈N/simd⌉` (× output positions for a conv).
    pub fn formula(&self, simd: usize) -> usize {
        self.positions() * self.groups * self.fan_in.div_ceil(simd)
    }
    /// Words per stored output position `⌈M/simd⌉`.
    pub fn out_words(&self) -> usize {
        self.out_layout.cw
    }
}

/// Cycles of the fixed parts of the schedule (see docs/accelerator.md, "Timing").
pub mod timing {
    use crate::array::ARRAY_LATENCY;
    use crate::pact::PACT_LATENCY;

    /// The START cycle before each layer (descriptor settles, counters load).
    pub const LAYER_START: usize = 1;
    /// The issue unit's pipeline ([`super::super::issue::ISSUE_LATENCY`] = 3: table/counter register, adders,
    /// bounds compare).
    pub const ISSUE_LATENCY: usize = super::super::issue::ISSUE_LATENCY;
    /// From the last beat of a layer writing codes to the cycle its writer reports done: issue pipeline (3),
    /// stage-1 memory read (1), MAC array ([`ARRAY_LATENCY`] = 4), PACT unit ([`PACT_LATENCY`] = 8), writer chunk
    /// and read-modify-write register (2; the done flag shares the last cycle) — plus one per extra chunk when
    /// PE > SIMD.
    pub const CODES_DRAIN: usize = ISSUE_LATENCY + 1 + ARRAY_LATENCY + PACT_LATENCY + 2;
    /// From the last beat of the last layer to its done flag, without the argmax tree: issue pipeline (3), stage 1
    /// (1), array ([`ARRAY_LATENCY`] = 4), bias add (1), argmax fold (1); plus
    /// [`super::super::logit::argmax_levels`]`(pe)` tree levels (see [`super::Plan::logits_drain`]).
    pub const LOGITS_DRAIN: usize = ISSUE_LATENCY + 1 + ARRAY_LATENCY + 2;
    /// The FINISH cycle in which `out_valid` is high.
    pub const FINISH: usize = 1;
}

/// The whole-model plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub pe: usize,
    pub simd: usize,
    pub target: Target,
    /// Model input `[c, h, w]` (8-bit pixels).
    pub input: [usize; 3],
    /// Input buffer replicated (first compute layer is a conv) or packed (dense).
    pub input_replicated: bool,
    /// Words per input-buffer lane.
    pub input_depth: usize,
    pub layers: Vec<LayerPlan>,
    /// Engine capacities: activation bits, weight bits, accumulator bits (maxima over the layers).
    pub ka: u32,
    pub kw: u32,
    pub acc: u32,
    /// Widest output code (the PACT units' width).
    pub ka_out: u32,
    /// Depth and word width of banks A and B (per lane).
    pub bank_depth: [usize; 2],
    pub bank_bits: [u32; 2],
    /// Requantization slots per PACT unit, and their constants per PE.
    pub slots: usize,
    pub pact_consts: Vec<Vec<ChannelConsts>>,
    /// Biases of the last layer per PE (slot = group).
    pub logit_bias: Vec<Vec<i64>>,
    /// Classes (outputs of the last layer).
    pub classes: usize,
}

fn err(msg: String) -> HdlError {
    HdlError::new(msg)
}

fn fits16(what: &str, layer: &str, v: usize) -> Result<u16, HdlError> {
    if v <= MAX_DEPTH {
        Ok(v as u16)
    } else {
        Err(err(format!(
            "layer '{layer}': {what} {v} does not fit the 16-bit address counters (at most {MAX_DEPTH})"
        )))
    }
}

impl Plan {
    /// Map `q` onto the engine of `cfg`. Errors name the layer or the setting (the messages are pinned by tests).
    pub fn new(q: &QModel, cfg: &AccelConfig) -> Result<Self, HdlError> {
        let (pe, simd) = (cfg.pe(), cfg.simd());
        q.validate().map_err(|e| err(format!("invalid quantized model: {e}")))?;
        let [c0, h0, w0] = q.input.shape;
        // Gather compute layers with their fused pools; reject what the engine does not run.
        struct Item<'a> {
            qi: usize,
            cp: &'a Compute,
            pool: Option<(usize, [usize; 2])>,
        }
        let mut items: Vec<Item> = Vec::new();
        for (li, l) in q.layers.iter().enumerate() {
            if l.inputs != [li] {
                return Err(err(format!(
                    "layer '{}' reads {:?}: the accelerator runs chains of layers, each reading the one before",
                    l.name, l.inputs
                )));
            }
            match &l.op {
                QOp::Dense(cp) | QOp::Conv2d(cp) => items.push(Item { qi: li, cp, pool: None }),
                QOp::Flatten => {}
                QOp::MaxPool { kernel, stride, pad } => {
                    let after_conv = matches!(
                        items.last(),
                        Some(it) if it.cp.conv.is_some() && it.pool.is_none() && it.qi + 1 == li
                    );
                    if !after_conv {
                        return Err(err(format!(
                            "layer '{}' (maxpool): the accelerator fuses a max pool into the conv right before it; \
                             this one does not follow a conv",
                            l.name
                        )));
                    }
                    if kernel != stride || pad.iter().any(|&p| p != 0) {
                        return Err(err(format!(
                            "layer '{}' (maxpool): kernel {kernel:?}, stride {stride:?}, padding {pad:?}; the \
                             accelerator fuses only max pools with kernel = stride and no padding",
                            l.name
                        )));
                    }
                    items.last_mut().expect("after conv").pool = Some((li, *kernel));
                }
                other => {
                    return Err(err(format!(
                        "layer '{}' ({}) is not supported by the accelerator (it runs dense, conv2d, flatten and max \
                         pools fused into the conv before them)",
                        l.name,
                        other.kind()
                    )))
                }
            }
        }
        if items.is_empty() {
            return Err(err("the model has no dense or conv layer".into()));
        }
        // Array larger than the model.
        let (mi, max_m) = items
            .iter()
            .map(|it| (it.qi, it.cp.weights.out))
            .max_by_key(|x| x.1)
            .expect("items");
        if pe > max_m {
            return Err(err(format!(
                "--pe {pe} is larger than every layer of the model (the widest, '{}', has {max_m} outputs)",
                q.layers[mi].name
            )));
        }
        let (ni, max_n) = items
            .iter()
            .map(|it| (it.qi, it.cp.weights.fan_in))
            .max_by_key(|x| x.1)
            .expect("items");
        if simd > max_n {
            return Err(err(format!(
                "--simd {simd} is larger than every layer of the model (the widest, '{}', has {max_n} inputs per \
                 output)",
                q.layers[ni].name
            )));
        }
        let last_item = items.last().expect("items");
        let last_layer = &q.layers[last_item.qi];
        let positions: usize = last_layer.out_shape.iter().skip(1).product();
        if last_item.cp.conv.is_some() && positions != 1 {
            return Err(err(format!(
                "layer '{}': the last layer is a conv with a {}×{} output; the accelerator's argmax takes one logit \
                 per channel (a 1 × 1 output)",
                last_layer.name, last_layer.out_shape[1], last_layer.out_shape[2]
            )));
        }
        let input_replicated = items[0].cp.conv.is_some();
        let input_depth = if input_replicated {
            c0 * h0 * w0
        } else {
            (c0 * h0 * w0).div_ceil(simd)
        };
        fits16("input buffer depth", &q.layers[items[0].qi].name, input_depth)?;

        let n_items = items.len();
        let mut layers = Vec::with_capacity(n_items);
        // The source of the first layer: the input, as C×H×W (conv) or a flat vector (dense).
        let mut src_layout = if input_replicated {
            Layout {
                c: c0,
                h: h0,
                w: w0,
                cw: 1,
            }
        } else {
            Layout {
                c: c0 * h0 * w0,
                h: 1,
                w: 1,
                cw: input_depth,
            }
        };
        let mut slots = 0usize;
        let mut pact_consts: Vec<Vec<ChannelConsts>> = vec![Vec::new(); pe];
        let mut logit_bias: Vec<Vec<i64>> = vec![Vec::new(); pe];
        let mut bank_depth = [0usize; 2];
        let mut bank_bits = [0u32; 2];
        for (k, it) in items.iter().enumerate() {
            let l = &q.layers[it.qi];
            let name = l.name.clone();
            let cp = it.cp;
            let last = k + 1 == n_items;
            let m = cp.weights.out;
            let n = cp.weights.fan_in;
            let groups = m.div_ceil(pe);
            let src = if k == 0 {
                Bank::Input
            } else if k % 2 == 1 {
                Bank::A
            } else {
                Bank::B
            };
            let dst = if last {
                Bank::Logits
            } else if k % 2 == 0 {
                Bank::A
            } else {
                Bank::B
            };
            let perlane = k == 0 && input_replicated;
            let (kernel, stride, pad, oh, ow) = match cp.conv {
                Some(g) => (g.kernel, g.stride, [g.pad[0], g.pad[1]], l.out_shape[1], l.out_shape[2]),
                None => ([1, 1], [1, 1], [0, 0], 1, 1),
            };
            // A dense layer reads the flattened source words in order.
            let beats = if perlane {
                n.div_ceil(simd)
            } else if cp.conv.is_some() {
                kernel[0] * kernel[1] * src_layout.cw
            } else {
                src_layout.words()
            };
            let (pool, ph, pw, out_qindex) = match it.pool {
                Some((pi, k)) => (k, oh / k[0], ow / k[1], pi),
                None => ([1, 1], oh, ow, it.qi),
            };
            let out_layout = Layout {
                c: m,
                h: ph,
                w: pw,
                cw: m.div_ceil(simd),
            };
            // Weights: packed per PE, columns in beat order.
            let col = |b: usize, s: usize| -> Option<usize> {
                if perlane {
                    let j = b * simd + s;
                    (j < n).then_some(j)
                } else if let Some(_g) = cp.conv {
                    let cw = src_layout.cw;
                    let (kpos, wi) = (b / cw, b % cw);
                    let (ky, kx) = (kpos / kernel[1], kpos % kernel[1]);
                    let c = wi * simd + s;
                    (c < src_layout.c).then(|| (c * kernel[0] + ky) * kernel[1] + kx)
                } else {
                    let cw = src_layout.cw;
                    let (pos, wi) = (b / cw, b % cw);
                    let c = wi * simd + s;
                    (c < src_layout.c).then(|| c * src_layout.h * src_layout.w + pos)
                }
            };
            let mut weights = Vec::with_capacity(pe);
            for p in 0..pe {
                let mut index = Vec::new();
                for g in 0..groups {
                    let row = g * pe + p;
                    if row >= m {
                        break;
                    }
                    for b in 0..beats {
                        for s in 0..simd {
                            index.push(match col(b, s) {
                                Some(j) => cp.weights.index[row * n + j],
                                None => 0,
                            });
                        }
                    }
                }
                if index.len() / simd > MAX_WEIGHT_DEPTH {
                    return Err(err(format!(
                        "layer '{name}': a weight ROM of {} words does not fit the {WADDR_BITS}-bit address (at \
                         most {MAX_WEIGHT_DEPTH})",
                        index.len() / simd
                    )));
                }
                weights.push(WeightBlock {
                    bits: cp.weights.bits,
                    index,
                });
            }
            // Per-lane im2col table of the first conv.
            let mut patch = Vec::new();
            if perlane {
                let (kh, kw) = (kernel[0], kernel[1]);
                for b in 0..beats {
                    for s in 0..simd {
                        let j = b * simd + s;
                        if j < n {
                            let (c, ky, kx) = (j / (kh * kw), (j / kw) % kh, j % kw);
                            let off = fits16("im2col offset", &name, c * h0 * w0 + ky * w0 + kx)?;
                            patch.push([off, ky as u16, kx as u16, 1]);
                        } else {
                            patch.push([0, 0, 0, 0]);
                        }
                    }
                }
            }
            // Requantization slots (codes) or logit biases.
            let ch_base = slots;
            let out_bits = match &cp.output {
                Output::Codes { bits, requant, .. } => {
                    for (p, consts) in pact_consts.iter_mut().enumerate() {
                        for g in 0..groups {
                            let c = g * pe + p;
                            consts.push(if c < m {
                                ChannelConsts {
                                    m0: requant.m0[c],
                                    shift: requant.shift[c] as u32,
                                    bias: cp.bias[c],
                                }
                            } else {
                                // An absent channel: M0 = 0 gives code 0 (padding channels must read 0).
                                ChannelConsts {
                                    m0: 0,
                                    shift: 1,
                                    bias: 0,
                                }
                            });
                        }
                    }
                    slots += groups;
                    Some(*bits)
                }
                Output::Logits => {
                    for (p, b) in logit_bias.iter_mut().enumerate() {
                        for g in 0..groups {
                            let c = g * pe + p;
                            b.push(if c < m { cp.bias[c] } else { 0 });
                        }
                    }
                    None
                }
            };
            if let Some(bits) = out_bits {
                let bi = if dst == Bank::A { 0 } else { 1 };
                bank_depth[bi] = bank_depth[bi].max(out_layout.words());
                bank_bits[bi] = bank_bits[bi].max(bits);
                fits16("output buffer depth", &name, out_layout.words())?;
            }
            // Writer throughput: a group of pe > simd codes takes pe/simd cycles to write, and a fused max pool
            // needs two cycles between writes of the same word (consecutive positions of a window); bubbles after
            // each group's beats provide them.
            let bubbles = if out_bits.is_some() {
                let words = (pe / simd).saturating_sub(beats);
                let pool_gap = if it.pool.is_some() {
                    2usize.saturating_sub(groups * beats)
                } else {
                    0
                };
                words.max(pool_gap)
            } else {
                0
            };
            for (what, v) in [
                ("input height", src_layout.h),
                ("input width", src_layout.w),
                ("output height", oh),
                ("output width", ow),
                ("beats per group", beats),
                ("output groups", groups),
                ("words per position", src_layout.cw),
                ("kernel width", kernel[1]),
                ("row step", stride[0] * src_layout.w * src_layout.cw),
                ("output words per row", pw * out_layout.cw),
            ] {
                fits16(what, &name, v)?;
            }
            if cp.acc_bits > MAX_ACC_BITS {
                return Err(err(format!(
                    "layer '{name}': accumulator of {} bits is wider than the {MAX_ACC_BITS} bits the engine has",
                    cp.acc_bits
                )));
            }
            layers.push(LayerPlan {
                name,
                qindex: it.qi,
                out_qindex,
                kind: if cp.conv.is_some() {
                    LayerKind::Conv2d
                } else {
                    LayerKind::Dense
                },
                perlane,
                src_layout,
                kernel,
                stride,
                pad,
                m,
                oh,
                ow,
                fan_in: n,
                beats,
                groups,
                bubbles,
                wbits: cp.weights.bits,
                in_bits: cp.in_bits,
                acc_bits: cp.acc_bits,
                out_bits,
                pool,
                out_layout,
                src,
                dst,
                ch_base,
                patch,
                weights,
            });
            // The next layer reads this stored tensor (a dense layer reads its words in order: flatten is free).
            src_layout = out_layout;
        }
        let ka = layers.iter().map(|l| l.in_bits).max().unwrap_or(8);
        let kw = layers.iter().map(|l| l.wbits).max().unwrap_or(1);
        let acc = layers.iter().map(|l| l.acc_bits).max().unwrap_or(2);
        let ka_out = layers.iter().filter_map(|l| l.out_bits).max().unwrap_or(1);
        if slots > MAX_CHANNELS {
            return Err(err(format!(
                "the model needs {slots} requantization slots per PACT unit, more than the {MAX_CHANNELS} a unit \
                 holds; use a larger --pe"
            )));
        }
        if slots == 0 {
            // No layer outputs codes: the PACT units still need a (never used) slot.
            for c in &mut pact_consts {
                c.push(ChannelConsts {
                    m0: 0,
                    shift: 1,
                    bias: 0,
                });
            }
        }
        for (p, consts) in pact_consts.iter().enumerate() {
            check_consts(consts, acc).map_err(|e| {
                err(format!(
                    "requantization constants of PE {p} do not fit the PACT unit ({e}; M0 has {M0_BITS} bits)"
                ))
            })?;
        }
        for (i, d) in bank_depth.iter_mut().enumerate() {
            if *d == 0 {
                *d = 1;
                bank_bits[i] = 1;
            }
        }
        let plan = Plan {
            pe,
            simd,
            target: cfg.target(),
            input: [c0, h0, w0],
            input_replicated,
            input_depth,
            layers,
            ka,
            kw,
            acc,
            ka_out,
            bank_depth,
            bank_bits,
            slots: slots.max(1),
            pact_consts,
            logit_bias,
            classes: q.classes(),
        };
        let need = plan.memory().total();
        if let Some(have) = plan.target.memory_bits() {
            if need > have {
                return Err(err(format!(
                    "the accelerator needs {need} bits of memory ({:.1} kbit), more than the {have} bits ({:.1} kbit) \
                     of block RAM the {} has",
                    need as f64 / 1024.0,
                    have as f64 / 1024.0,
                    plan.target.name()
                )));
            }
        }
        Ok(plan)
    }

    /// The last layer.
    pub fn last(&self) -> &LayerPlan {
        self.layers.last().expect("a plan has layers")
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.input.iter().product()
    }

    /// Words a group of `pe` codes fills (`pe/simd`, at least 1): the writer's cycles per group.
    pub fn chunks(&self) -> usize {
        (self.pe / self.simd).max(1)
    }

    /// Cycles from a layer's last issue cycle to its done flag (see [`timing`]).
    pub fn drain(&self, i: usize) -> usize {
        let l = &self.layers[i];
        if l.dst == Bank::Logits {
            self.logits_drain()
        } else {
            // The writer finishes a fixed time after the last beat; the bubbles after it overlap that time.
            timing::CODES_DRAIN + self.chunks() - 1 - l.bubbles
        }
    }

    /// Cycles from the last issue cycle of the last layer to its done flag: [`timing::LOGITS_DRAIN`] plus the
    /// argmax tree's levels for `pe` PEs.
    pub fn logits_drain(&self) -> usize {
        timing::LOGITS_DRAIN + super::logit::argmax_levels(self.pe)
    }

    /// Exact cycles of layer `i`: START, its beats and bubbles, its drain.
    pub fn layer_cycles(&self, i: usize) -> usize {
        timing::LAYER_START + self.layers[i].run_cycles() + self.drain(i)
    }

    /// Exact compute cycles per inference: rising edges from the one that accepts the last pixel to the one after
    /// which `out_valid` is high (inclusive).
    pub fn compute_cycles(&self) -> usize {
        (0..self.layers.len()).map(|i| self.layer_cycles(i)).sum::<usize>() + timing::FINISH
    }

    /// Cycles from the first pixel offered (with `in_valid` held high) to `out_valid`: one pixel per cycle, then
    /// [`Self::compute_cycles`].
    pub fn total_cycles(&self) -> usize {
        self.pixels() + self.compute_cycles()
    }

    /// The issue's formula `Σ ⌈M/pe⌉·⌈N/simd⌉` (× output positions for a conv) over the layers.
    pub fn formula_cycles(&self) -> usize {
        self.layers.iter().map(|l| l.formula(self.simd)).sum()
    }

    /// Beats issued per inference (cycles the array does useful work).
    pub fn beat_cycles(&self) -> usize {
        self.layers.iter().map(|l| l.beat_count()).sum()
    }

    /// Memory sizes in bits.
    pub fn memory(&self) -> MemoryBits {
        let weights: usize = self
            .layers
            .iter()
            .flat_map(|l| l.weights.iter().map(|b| b.index.len() * b.bits as usize))
            .sum();
        let weights_exact: usize = self.layers.iter().map(|l| l.m * l.fan_in * l.wbits as usize).sum();
        let input = self.simd * self.input_depth * 8;
        let banks = (0..2)
            .map(|i| self.simd * self.bank_depth[i] * self.bank_bits[i] as usize)
            .sum();
        let last = self.last();
        let logits = self.pe * last.groups * self.acc as usize;
        let requant = self.pe * self.slots * (16 + 6 + self.acc as usize) + self.pe * last.groups * self.acc as usize;
        MemoryBits {
            weights,
            weights_exact,
            input,
            banks,
            logits,
            requant,
        }
    }
}

/// Memory of the accelerator in bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBits {
    /// Weight ROMs as stored (`k_w` bits per index; rows padded to whole beats).
    pub weights: usize,
    /// `Σ k_w × parameters` over the layers (the lower bound).
    pub weights_exact: usize,
    /// Input buffer.
    pub input: usize,
    /// Activation banks A and B.
    pub banks: usize,
    /// Logit RAMs.
    pub logits: usize,
    /// Requantization ROMs (M0, shift, bias per slot) and the last layer's biases.
    pub requant: usize,
}

impl MemoryBits {
    /// Everything that maps to RAM/ROM.
    pub fn total(&self) -> usize {
        self.weights + self.input + self.banks + self.logits + self.requant
    }
}
