//! The accelerator plan: a quantized model mapped onto one `pe × simd` engine — per-layer descriptors, memory
//! layouts, packed weight words, requantization slots, exact cycle counts — with every parameter check.
//!
//! Layouts (see docs/accelerator.md):
//! * **input buffer**: `simd` lane RAMs of 8-bit pixels. If the first compute layer is a conv, every lane holds the
//!   whole image in C×H×W order (*replicated*: each lane reads its own im2col element); if it is dense, pixel `j`
//!   of the flattened image is in lane `j mod simd`, word `⌊j/simd⌋` (*packed*).
//! * **activation banks A and B** (ping-pong): each one memory of `simd` lanes side by side (every lane is read
//!   and written at the same address); a tensor of `C` channels × `H` × `W` is stored
//!   channel-last, `CW = ⌈C/simd⌉` words per position, channel `c` of position `(y, x)` in lane `c mod simd` of word
//!   `(y·W + x)·CW + ⌊c/simd⌋`; channels `C..CW·simd` hold 0. A vector of `N` values is the case `H = W = 1`.
//! * **weights**: per layer and PE `p`, the rows `p, p + pe, …` (output channels), `⌈N/simd⌉` words (beats) each of
//!   `simd` indices of exactly `k_w` bits, columns reordered to the order the beats read the activations.
use super::desc::PassRow;
use super::mem::{WeightBlock, WeightMem, MAX_DEPTH, MAX_WEIGHT_DEPTH, WADDR_BITS};
use super::{AccelConfig, Device};
use crate::pact::{check_consts, ChannelConsts, M0_BITS};
use crate::rom::MAX_CHANNELS;
use crate::HdlError;
use pact_toolchain::contract::{WeightEncoding, MAX_ACC_BITS};
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
    /// Beats per output group and digit pass: `⌈N/simd⌉` (packed conv: `kh·kw·⌈C/simd⌉`).
    pub beats: usize,
    /// Activation and weight digits: `⌈in_bits/k⌉` and `⌈wbits/k⌉` for the engine's digit width `k` (1 and 1 when
    /// the layer's operands fit the lanes); a group takes `d_a·d_w` passes of `beats` beats.
    pub d_a: usize,
    pub d_w: usize,
    /// The layer's first row in the plan's pass table ([`Plan::pass_rows`]).
    pub pass_base: usize,
    /// Output groups `⌈M/pe⌉`.
    pub groups: usize,
    /// Idle cycles after each pass's beats (0 unless the writer needs more cycles per group than its passes take:
    /// `pe/simd` words, or 2 cycles per position for a fused max pool).
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
    /// Digit passes per group: `d_a·d_w`.
    pub fn pass_count(&self) -> usize {
        self.d_a * self.d_w
    }
    /// The layer's digit passes in issue order ([`digit_passes`]).
    pub fn passes(&self) -> Vec<Pass> {
        digit_passes(self.d_a, self.d_w)
    }
    /// Beats the engine issues for this layer: positions × groups × passes × beats.
    pub fn beat_count(&self) -> usize {
        self.positions() * self.groups * self.pass_count() * self.beats
    }
    /// Cycles the issuer runs for this layer: positions × groups × passes × (beats + bubbles).
    pub fn run_cycles(&self) -> usize {
        self.positions() * self.groups * self.pass_count() * (self.beats + self.bubbles)
    }
    /// The issue's formula for this layer: `⌈M/pe⌉·⌈N/simd⌉·passes` (× output positions for a conv).
    pub fn formula(&self, simd: usize) -> usize {
        self.positions() * self.groups * self.pass_count() * self.fan_in.div_ceil(simd)
    }
    /// Words per stored output position `⌈M/simd⌉`.
    pub fn out_words(&self) -> usize {
        self.out_layout.cw
    }
}

/// One digit pass of a group: activation digit `j` (bits `k·j ..< k·j + k` of the codes) times weight digit `l`
/// (the `l`-th `k`-bit digit of the weight index widened to `d_w·k` bits, decoded on its own: the odd weight
/// `2i − (2^(d_w·k) − 1)` is exactly `Σ_l 2^(k·l)·(2·e_l − (2^k − 1))`), weighted `2^(k·(j + l))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    pub j: usize,
    pub l: usize,
    /// The pass starts with a Horner step: the running sum is multiplied by `2^k` (its `j + l` is one below the
    /// previous pass's).
    pub shift: bool,
}

/// The passes of a group with `d_a` activation and `d_w` weight digits, in issue order: by `t = j + l` from the
/// largest down (Horner: `acc ← acc·2^k + P_t` sums `Σ_t 2^(k·t)·P_t`), within one `t` by `j` from the largest down
/// (so `l`, and with it the weight word address, rises from one pass to the next).
pub fn digit_passes(d_a: usize, d_w: usize) -> Vec<Pass> {
    let mut out = Vec::with_capacity(d_a * d_w);
    for t in (0..d_a + d_w - 1).rev() {
        let mut first_of_t = true;
        for j in (0..d_a).rev() {
            if t < j || t - j >= d_w {
                continue;
            }
            out.push(Pass {
                j,
                l: t - j,
                shift: first_of_t && !out.is_empty(),
            });
            first_of_t = false;
        }
    }
    out
}

/// The default digit width `k` of the engine's lanes when neither `--lane-bits` nor automatic sizing chooses one:
/// the widest operand (input code or weight index) of any layer, so that every layer takes a single pass.
pub fn default_lane_bits(layers: &[(u32, u32)]) -> u32 {
    layers.iter().map(|&(a, w)| a.max(w)).max().unwrap_or(8)
}

/// The digit widths worth trying for a model: each distinct operand width of its layers (a layer narrower than the
/// lanes runs in one pass, a wider one in digit passes), ascending.
pub fn lane_bits_candidates(layers: &[(u32, u32)]) -> Vec<u32> {
    let mut ks: Vec<u32> = layers.iter().flat_map(|&(a, w)| [a, w]).collect();
    ks.sort_unstable();
    ks.dedup();
    ks
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
    pub target: Option<Device>,
    /// Model input `[c, h, w]` (8-bit pixels).
    pub input: [usize; 3],
    /// Input buffer replicated (first compute layer is a conv) or packed (dense).
    pub input_replicated: bool,
    /// Words per input-buffer lane (one image).
    pub input_depth: usize,
    /// Input buffers (1 or 2, see [`AccelConfig::with_input_buffers`]).
    pub input_buffers: usize,
    pub layers: Vec<LayerPlan>,
    /// Digit width `k` of the passes (see [`Pass`]).
    pub lane_bits: u32,
    /// The lanes' operand widths: activation bits `min(k, widest input code)`, weight bits `min(k, widest weight
    /// index)`; accumulator bits (the widest layer's).
    pub ka: u32,
    pub kw: u32,
    pub acc: u32,
    /// Widest output code (the PACT units' width).
    pub ka_out: u32,
    /// Depth of banks A and B, and their width per lane (a bank's word is `simd` lanes of that width).
    pub bank_depth: [usize; 2],
    pub bank_bits: [u32; 2],
    /// One PACT unit shared by the PEs ([`AccelConfig::shared_requant`]): its slots hold every channel of every
    /// group (slot `ch_base + g·pe + p`); else one unit per PE, PE `p` holding slot `ch_base + g`.
    pub shared_requant: bool,
    /// Requantization slots per PACT unit, and their constants per unit (one list when shared, else one per PE).
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
        Err(HdlError::DoesNotFit(format!(
            "layer '{layer}': {what} {v} does not fit the 16-bit address counters (at most {MAX_DEPTH})"
        )))
    }
}

/// A compute layer of the model with the max pool fused into it: `(index of the pool layer, window)`.
struct Item<'a> {
    qi: usize,
    cp: &'a Compute,
    pool: Option<(usize, [usize; 2])>,
}

/// The model's compute layers with their fused pools; rejects what the engine does not run.
fn gather(q: &QModel) -> Result<Vec<Item<'_>>, HdlError> {
    let mut items: Vec<Item> = Vec::new();
    for (li, l) in q.layers.iter().enumerate() {
        if l.inputs != [li] {
            return Err(err(format!(
                "layer '{}' reads {:?}: the accelerator runs chains of layers, each reading the one before",
                l.name, l.inputs
            )));
        }
        match &l.op {
            QOp::Dense(cp) | QOp::Conv2d(cp) => {
                check_encodings(&l.name, cp)?;
                items.push(Item { qi: li, cp, pool: None })
            }
            QOp::Flatten => {}
            QOp::MaxPool { kernel, stride, pad } => fuse_pool(&mut items, li, &l.name, *kernel, *stride, *pad)?,
            other => {
                return Err(HdlError::Unsupported(format!(
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
    Ok(items)
}

/// Refuse, naming the layer, what the engine cannot compute yet: a per-channel logit scale (weights imported with
/// per-channel scales; the golden model takes it, the logit unit has no multiplier).
fn check_encodings(name: &str, cp: &Compute) -> Result<(), HdlError> {
    if cp.logit_scale.is_some() {
        return Err(HdlError::Unsupported(format!(
            "layer '{name}': a per-channel logit scale (weights imported with per-channel scales) is not supported \
             by the accelerator yet: its logit unit outputs the accumulators; the golden model (pact eval) takes it"
        )));
    }
    Ok(())
}

/// Fuse the max pool of layer `li` into the conv right before it (the last item).
fn fuse_pool(
    items: &mut [Item],
    li: usize,
    name: &str,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 4],
) -> Result<(), HdlError> {
    let after_conv = matches!(
        items.last(),
        Some(it) if it.cp.conv.is_some() && it.pool.is_none() && it.qi + 1 == li
    );
    if !after_conv {
        return Err(err(format!(
            "layer '{name}' (maxpool): the accelerator fuses a max pool into the conv right before it; this one does \
             not follow a conv"
        )));
    }
    if kernel != stride || pad.iter().any(|&p| p != 0) {
        return Err(err(format!(
            "layer '{name}' (maxpool): kernel {kernel:?}, stride {stride:?}, padding {pad:?}; the accelerator fuses \
             only max pools with kernel = stride and no padding"
        )));
    }
    items.last_mut().expect("after conv").pool = Some((li, kernel));
    Ok(())
}

/// The array must not be larger than the model, and the last layer must give one logit per channel.
fn check_shapes(q: &QModel, items: &[Item], pe: usize, simd: usize) -> Result<(), HdlError> {
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
            "--simd {simd} is larger than every layer of the model (the widest, '{}', has {max_n} inputs per output)",
            q.layers[ni].name
        )));
    }
    let last_item = items.last().expect("items");
    let last_layer = &q.layers[last_item.qi];
    let positions: usize = last_layer.out_shape.iter().skip(1).product();
    if last_item.cp.conv.is_some() && positions != 1 {
        return Err(err(format!(
            "layer '{}': the last layer is a conv with a {}×{} output; the accelerator's argmax takes one logit per \
             channel (a 1 × 1 output)",
            last_layer.name, last_layer.out_shape[1], last_layer.out_shape[2]
        )));
    }
    Ok(())
}

/// Planning state carried from one layer to the next: the engine, the source layout, the requantization slots
/// and logit biases collected so far, and the banks' sizes.
struct Planner<'a> {
    q: &'a QModel,
    pe: usize,
    simd: usize,
    /// Digit width of the passes.
    k: u32,
    /// Pass-table rows of the layers planned so far.
    pass_rows: usize,
    /// Model input `[c, h, w]`.
    input: [usize; 3],
    input_replicated: bool,
    input_depth: usize,
    n_items: usize,
    /// The stored tensor the next layer reads.
    src_layout: Layout,
    /// One PACT unit shared by the PEs.
    shared: bool,
    slots: usize,
    pact_consts: Vec<Vec<ChannelConsts>>,
    logit_bias: Vec<Vec<i64>>,
    bank_depth: [usize; 2],
    bank_bits: [u32; 2],
}

impl<'a> Planner<'a> {
    /// The input buffer's layout (replicated for a first conv, packed for a first dense) and the empty state.
    fn new(q: &'a QModel, items: &[Item], pe: usize, simd: usize, k: u32, shared: bool) -> Result<Self, HdlError> {
        let [c0, h0, w0] = q.input.shape;
        let input_replicated = items[0].cp.conv.is_some();
        let input_depth = if input_replicated {
            c0 * h0 * w0
        } else {
            (c0 * h0 * w0).div_ceil(simd)
        };
        fits16("input buffer depth", &q.layers[items[0].qi].name, input_depth)?;
        // The source of the first layer: the input, as C×H×W (conv) or a flat vector (dense).
        let src_layout = if input_replicated {
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
        Ok(Planner {
            q,
            pe,
            simd,
            k,
            pass_rows: 0,
            input: [c0, h0, w0],
            input_replicated,
            input_depth,
            n_items: items.len(),
            src_layout,
            shared,
            slots: 0,
            pact_consts: vec![Vec::new(); if shared { 1 } else { pe }],
            logit_bias: vec![Vec::new(); pe],
            bank_depth: [0; 2],
            bank_bits: [0; 2],
        })
    }

    /// Plan item `k`: its shape, weights, im2col table, requantization slots and bubbles, with its checks.
    fn layer(&mut self, k: usize, it: &Item) -> Result<LayerPlan, HdlError> {
        let mut l = self.shape(k, it);
        if it.cp.weights.encoding == WeightEncoding::TwosComplement && l.d_w > 1 {
            return Err(HdlError::Unsupported(format!(
                "layer '{}': its {}-bit two's-complement weights (imported from QONNX/QCDQ) need lanes of at least \
                 {} bits (--lane-bits {} or more): digit passes split odd (DoReFa) weight codes only",
                l.name, l.wbits, l.wbits, l.wbits
            )));
        }
        l.pass_base = self.pass_rows;
        self.pass_rows += l.pass_count();
        l.weights = pack_weights(&l, it.cp, self.pe, self.simd, self.k)?;
        if l.perlane {
            l.patch = im2col_patch(&l, self.input, self.simd)?;
        }
        l.ch_base = self.slots;
        l.out_bits = self.requant(&l, it.cp);
        if let Some(bits) = l.out_bits {
            let bi = if l.dst == Bank::A { 0 } else { 1 };
            self.bank_depth[bi] = self.bank_depth[bi].max(l.out_layout.words());
            self.bank_bits[bi] = self.bank_bits[bi].max(bits);
            fits16("output buffer depth", &l.name, l.out_layout.words())?;
        }
        l.bubbles = bubbles(&l, self.pe, self.simd, it.pool.is_some(), self.shared);
        check_counters(&l)?;
        if l.acc_bits > MAX_ACC_BITS {
            return Err(err(format!(
                "layer '{}': accumulator of {} bits is wider than the {MAX_ACC_BITS} bits the engine has",
                l.name, l.acc_bits
            )));
        }
        // The next layer reads this stored tensor (a dense layer reads its words in order: flatten is free).
        self.src_layout = l.out_layout;
        Ok(l)
    }

    /// Item `k`'s banks and geometry (no weights, im2col table, slots or bubbles yet).
    fn shape(&self, k: usize, it: &Item) -> LayerPlan {
        let (l, cp, simd) = (&self.q.layers[it.qi], it.cp, self.simd);
        let last = k + 1 == self.n_items;
        let (m, n) = (cp.weights.out, cp.weights.fan_in);
        let src = match k {
            0 => Bank::Input,
            _ if k % 2 == 1 => Bank::A,
            _ => Bank::B,
        };
        let dst = if last {
            Bank::Logits
        } else if k % 2 == 0 {
            Bank::A
        } else {
            Bank::B
        };
        let perlane = k == 0 && self.input_replicated;
        let (kernel, stride, pad, oh, ow) = match cp.conv {
            Some(g) => (g.kernel, g.stride, [g.pad[0], g.pad[1]], l.out_shape[1], l.out_shape[2]),
            None => ([1, 1], [1, 1], [0, 0], 1, 1),
        };
        let src_layout = self.src_layout;
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
        LayerPlan {
            name: l.name.clone(),
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
            d_a: cp.in_bits.div_ceil(self.k) as usize,
            d_w: cp.weights.bits.div_ceil(self.k) as usize,
            pass_base: 0,
            groups: m.div_ceil(self.pe),
            bubbles: 0,
            wbits: cp.weights.bits,
            in_bits: cp.in_bits,
            acc_bits: cp.acc_bits,
            out_bits: None,
            pool,
            out_layout: Layout {
                c: m,
                h: ph,
                w: pw,
                cw: m.div_ceil(simd),
            },
            src,
            dst,
            ch_base: 0,
            patch: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Append the layer's requantization constants (a layer that outputs codes; returns their width) or its logit
    /// biases (the last layer; returns `None`).
    fn requant(&mut self, l: &LayerPlan, cp: &Compute) -> Option<u32> {
        let (pe, m, groups) = (self.pe, l.m, l.groups);
        match &cp.output {
            Output::Codes { bits, requant, .. } => {
                // Unit `u` holds, per group `g`, the channels `g·pe + p` of its PEs `p` (all PEs when shared).
                let per_unit = if self.shared { pe } else { 1 };
                for (u, consts) in self.pact_consts.iter_mut().enumerate() {
                    for (g, p) in (0..groups).flat_map(|g| (0..per_unit).map(move |j| (g, u + j))) {
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
                self.slots += groups * per_unit;
                Some(*bits)
            }
            Output::Logits => {
                for (p, b) in self.logit_bias.iter_mut().enumerate() {
                    for g in 0..groups {
                        let c = g * pe + p;
                        b.push(if c < m { cp.bias[c] } else { 0 });
                    }
                }
                None
            }
        }
    }

    /// The plan of `layers`: engine widths and the checks over every layer (slots, PACT constants).
    fn finish(mut self, layers: Vec<LayerPlan>, cfg: &AccelConfig) -> Result<Plan, HdlError> {
        let ka = layers.iter().map(|l| l.in_bits).max().unwrap_or(8).min(self.k);
        let kw = layers.iter().map(|l| l.wbits).max().unwrap_or(1).min(self.k);
        let acc = layers.iter().map(|l| l.acc_bits).max().unwrap_or(2);
        let ka_out = layers.iter().filter_map(|l| l.out_bits).max().unwrap_or(1);
        let slots = self.slots;
        if slots > MAX_CHANNELS {
            return Err(HdlError::DoesNotFit(format!(
                "the model needs {slots} requantization slots per PACT unit, more than the {MAX_CHANNELS} a unit \
                 holds; {}",
                if self.shared {
                    "use --requant per-pe"
                } else {
                    "use a larger --pe"
                }
            )));
        }
        if slots == 0 {
            // No layer outputs codes: the PACT units still need a (never used) slot.
            for c in &mut self.pact_consts {
                c.push(ChannelConsts {
                    m0: 0,
                    shift: 1,
                    bias: 0,
                });
            }
        }
        for (p, consts) in self.pact_consts.iter().enumerate() {
            check_consts(consts, acc).map_err(|e| {
                err(format!(
                    "requantization constants of {} do not fit the PACT unit ({e}; M0 has {M0_BITS} bits)",
                    if self.shared {
                        "the shared unit".to_string()
                    } else {
                        format!("PE {p}")
                    }
                ))
            })?;
        }
        for (i, d) in self.bank_depth.iter_mut().enumerate() {
            if *d == 0 {
                *d = 1;
                self.bank_bits[i] = 1;
            }
        }
        Ok(Plan {
            pe: self.pe,
            simd: self.simd,
            target: cfg.target(),
            input: self.input,
            input_replicated: self.input_replicated,
            input_depth: self.input_depth,
            input_buffers: cfg.input_buffers(),
            layers,
            lane_bits: self.k,
            ka,
            kw,
            acc,
            ka_out,
            bank_depth: self.bank_depth,
            bank_bits: self.bank_bits,
            shared_requant: self.shared,
            slots: slots.max(1),
            pact_consts: self.pact_consts,
            logit_bias: self.logit_bias,
            classes: self.q.classes(),
        })
    }
}

/// The weight column (index into a row of `fan_in`) that lane `s` of beat `b` reads, `None` past the fan-in or
/// the channels.
fn weight_column(l: &LayerPlan, simd: usize, b: usize, s: usize) -> Option<usize> {
    let src = &l.src_layout;
    if l.perlane {
        let j = b * simd + s;
        (j < l.fan_in).then_some(j)
    } else if l.kind == LayerKind::Conv2d {
        let (kpos, wi) = (b / src.cw, b % src.cw);
        let (ky, kx) = (kpos / l.kernel[1], kpos % l.kernel[1]);
        let c = wi * simd + s;
        (c < src.c).then(|| (c * l.kernel[0] + ky) * l.kernel[1] + kx)
    } else {
        let (pos, wi) = (b / src.cw, b % src.cw);
        let c = wi * simd + s;
        (c < src.c).then(|| c * src.h * src.w + pos)
    }
}

/// The layer's weight indices packed per PE, columns in beat order (rows `p, p + pe, …` for PE `p`). A layer with
/// `d_w > 1` weight digits stores each row as `d_w` blocks of `beats` words, block `l` holding digit `l` (`k` bits)
/// of the indices widened to `d_w·k` bits ([`WeightMem::widen`]: the same odd weight).
fn pack_weights(l: &LayerPlan, cp: &Compute, pe: usize, simd: usize, k: u32) -> Result<Vec<WeightBlock>, HdlError> {
    let (m, n) = (l.m, l.fan_in);
    let wide = l.d_w as u32 * k;
    let mut weights = Vec::with_capacity(pe);
    for p in 0..pe {
        let mut index = Vec::new();
        for row in (p..m).step_by(pe).take(l.groups) {
            for digit in 0..l.d_w {
                for b in 0..l.beats {
                    for s in 0..simd {
                        let i = match weight_column(l, simd, b, s) {
                            Some(j) => cp.weights.index[row * n + j],
                            // Padding: index 0 of the stored width (its activation is 0).
                            None => 0,
                        };
                        index.push(if l.d_w == 1 {
                            i
                        } else {
                            let w = WeightMem::widen(u32::from(i), l.wbits, wide);
                            ((w >> (k as usize * digit)) & ((1 << k) - 1)) as u8
                        });
                    }
                }
            }
        }
        if index.len() / simd > MAX_WEIGHT_DEPTH {
            return Err(HdlError::DoesNotFit(format!(
                "layer '{}': a weight ROM of {} words does not fit the {WADDR_BITS}-bit address (at most \
                 {MAX_WEIGHT_DEPTH})",
                l.name,
                index.len() / simd
            )));
        }
        weights.push(WeightBlock {
            bits: if l.d_w == 1 { cp.weights.bits } else { k },
            index,
            twos: cp.weights.encoding == WeightEncoding::TwosComplement,
        });
    }
    Ok(weights)
}

/// The per-lane im2col table of the first conv (`input` = `[c, h, w]`): `[offset, ky, kx, valid]` per beat and
/// lane, beat-major.
fn im2col_patch(l: &LayerPlan, input: [usize; 3], simd: usize) -> Result<Vec<[u16; 4]>, HdlError> {
    let [_, h0, w0] = input;
    let (kh, kw) = (l.kernel[0], l.kernel[1]);
    let mut patch = Vec::with_capacity(l.beats * simd);
    for j in 0..l.beats * simd {
        if j < l.fan_in {
            let (c, ky, kx) = (j / (kh * kw), (j / kw) % kh, j % kw);
            let off = fits16("im2col offset", &l.name, c * h0 * w0 + ky * w0 + kx)?;
            patch.push([off, ky as u16, kx as u16, 1]);
        } else {
            patch.push([0, 0, 0, 0]);
        }
    }
    Ok(patch)
}

/// Idle cycles after each pass's beats. Writer throughput: a group of pe > simd codes takes pe/simd cycles to
/// write, and a fused max pool needs two cycles between writes of the same word (consecutive positions of a
/// window); a shared PACT unit takes a group's `pe` sums one per cycle. Bubbles after each pass's beats provide
/// them (spread over the group's passes, rounded up).
fn bubbles(l: &LayerPlan, pe: usize, simd: usize, pooled: bool, shared: bool) -> usize {
    if l.out_bits.is_none() {
        return 0;
    }
    let d = l.pass_count();
    let need = if shared { pe } else { pe / simd };
    let words = need.saturating_sub(d * l.beats).div_ceil(d);
    let pool_gap = if pooled {
        2usize.saturating_sub(l.groups * d * l.beats).div_ceil(l.groups * d)
    } else {
        0
    };
    words.max(pool_gap)
}

/// Every value a 16-bit counter or descriptor field of the layer holds must fit it.
fn check_counters(l: &LayerPlan) -> Result<(), HdlError> {
    let src = &l.src_layout;
    for (what, v) in [
        ("input height", src.h),
        ("input width", src.w),
        ("output height", l.oh),
        ("output width", l.ow),
        ("beats per group", l.beats),
        ("weight words per group", l.d_w * l.beats),
        ("output groups", l.groups),
        ("words per position", src.cw),
        ("kernel width", l.kernel[1]),
        ("row step", l.stride[0] * src.w * src.cw),
        ("output words per row", l.out_layout.w * l.out_layout.cw),
    ] {
        fits16(what, &l.name, v)?;
    }
    Ok(())
}

impl Plan {
    /// Map `q` onto the engine of `cfg`. Errors name the layer or the setting (the messages are pinned by tests).
    pub fn new(q: &QModel, cfg: &AccelConfig) -> Result<Self, HdlError> {
        let (pe, simd) = (cfg.pe(), cfg.simd());
        q.validate().map_err(|e| err(format!("invalid quantized model: {e}")))?;
        let items = gather(q)?;
        check_shapes(q, &items, pe, simd)?;
        let k = cfg.lane_bits().unwrap_or_else(|| {
            default_lane_bits(
                &items
                    .iter()
                    .map(|it| (it.cp.in_bits, it.cp.weights.bits))
                    .collect::<Vec<_>>(),
            )
        });
        let mut planner = Planner::new(q, &items, pe, simd, k, cfg.shared_requant())?;
        let layers = items
            .iter()
            .enumerate()
            .map(|(k, it)| planner.layer(k, it))
            .collect::<Result<Vec<_>, _>>()?;
        let plan = planner.finish(layers, cfg)?;
        if plan.input_ram_depth() > MAX_DEPTH {
            return Err(err(format!(
                "input buffer: {} buffers of {} words per lane exceed the {MAX_DEPTH}-word lane RAM (try \
                 --input-buffers 1)",
                plan.input_buffers,
                plan.input_stride()
            )));
        }
        if let Some(device) = plan.target {
            pact_device::check_fit(device, &super::emit::fit_estimate(&plan))
                .map_err(|e| HdlError::DoesNotFit(e.to_string()))?;
        }
        Ok(plan)
    }

    /// The pass table: every layer's passes in issue order, layers one after another (at
    /// [`LayerPlan::pass_base`]).
    pub fn pass_rows(&self) -> Vec<PassRow> {
        let k = self.lane_bits as usize;
        let mut rows = Vec::new();
        for l in &self.layers {
            let passes = l.passes();
            for (i, p) in passes.iter().enumerate() {
                let next = passes[(i + 1) % passes.len()];
                rows.push(PassRow {
                    shamt: (k * p.j) as u16,
                    shift: u16::from(p.shift),
                    woff_next: (next.l * l.beats) as u16,
                });
            }
        }
        rows
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
            timing::CODES_DRAIN + self.chunks() - 1 + self.serial_cycles() - l.bubbles
        }
    }

    /// The extra latency of a shared PACT unit: its `pe` sums go in one per cycle after a capture register, and
    /// the codes leave together one cycle after the last: `pe + 1` cycles (0 with one unit per PE).
    pub fn serial_cycles(&self) -> usize {
        if self.shared_requant {
            self.pe + 1
        } else {
            0
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

    /// The model's multiply-accumulates per inference: `Σ outputs × fan-in × positions` over the layers (what the
    /// MACs-per-cycle figures divide by [`Plan::compute_cycles`]).
    pub fn macs(&self) -> usize {
        self.layers.iter().map(|l| l.m * l.fan_in * l.positions()).sum()
    }

    /// The model's MACs per compute cycle: [`Plan::macs`] / [`Plan::compute_cycles`].
    pub fn macs_per_cycle(&self) -> f64 {
        self.macs() as f64 / self.compute_cycles() as f64
    }

    /// Exact compute cycles per inference: rising edges from the one that accepts the last pixel to the one after
    /// which `out_valid` is high (inclusive).
    pub fn compute_cycles(&self) -> usize {
        (0..self.layers.len()).map(|i| self.layer_cycles(i)).sum::<usize>() + timing::FINISH
    }

    /// Cycles from the first pixel offered (with `in_valid` held high) to `out_valid`: one pixel per cycle, then
    /// [`Self::compute_cycles`] (the latency of one image).
    pub fn total_cycles(&self) -> usize {
        self.pixels() + self.compute_cycles()
    }

    /// Cycles per image in a continuous stream (`in_valid` held high, one image after another): with two input
    /// buffers the next image loads while the current one computes, `max(pixels, compute_cycles + 1)`; with one,
    /// `pixels + compute_cycles + 1` (the `+ 1` is the FINISH cycle, after which the buffer is free). The
    /// throughput is `f_clk / interval_cycles` inferences per second.
    pub fn interval_cycles(&self) -> usize {
        let c = self.compute_cycles() + timing::FINISH;
        if self.input_buffers == 2 {
            self.pixels().max(c)
        } else {
            self.pixels() + c
        }
    }

    /// Word offset of the second input buffer in each input lane RAM: the first power of two at or above
    /// [`Self::input_depth`] (the buffer select is then one address bit); with one buffer, `input_depth`.
    pub fn input_stride(&self) -> usize {
        if self.input_buffers == 2 {
            self.input_depth.next_power_of_two()
        } else {
            self.input_depth
        }
    }

    /// Words per input lane RAM (every buffer).
    pub fn input_ram_depth(&self) -> usize {
        self.input_buffers * self.input_stride()
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
        let input = self.simd * self.input_ram_depth() * 8;
        let banks = (0..2)
            .map(|i| self.simd * self.bank_depth[i] * self.bank_bits[i] as usize)
            .sum();
        let last = self.last();
        let logits = self.pe * last.groups * self.acc as usize;
        let requant = self.pact_consts.len() * self.slots * (16 + 6 + self.acc as usize)
            + self.pe * last.groups * self.acc as usize;
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
