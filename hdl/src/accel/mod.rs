//! The whole-model accelerator: a layer-sequential engine that runs a quantized model's dense and conv layers one
//! after another on one shared `pe × simd` MAC array, and the generator that emits it (`pact gen`).
//!
//! * [`AccelConfig`]: array size and target, checked at construction (exact messages, pinned by tests);
//! * [`plan::Plan`]: the model mapped onto the engine (layouts, descriptors, packed weights, exact cycle counts),
//!   with every model-dependent check (unsupported layers, array larger than the model, design larger than the
//!   target device (the fit rule `pact synth` uses), address and slot capacities);
//! * [`top::Accel`]: the rust-hdl top (controller, [`issue`], [`writer`] and [`logit`] units, [`mem`] leaves,
//!   [`crate::array::Array`], [`crate::pact::Pact`] units); per-layer differences live in the [`desc`] tables,
//!   not in the type structure;
//! * [`generate`]: writes the Verilog, the `$readmemh` weight files, `manifest.json` and `estimate.json`
//!   atomically into a directory.
//!
//! docs/accelerator.md describes the architecture, the interface and the timing.
pub mod autosize;
pub mod desc;
pub mod emit;
pub mod issue;
pub mod logit;
pub mod mem;
pub mod naming;
pub mod plan;
mod shared;
pub mod top;
pub mod writer;

pub use emit::{generate, generate_with, GenOptions, GenReport, InjectedFault};
pub use naming::{TopName, DEFAULT_TOP};
pub use plan::Plan;

use crate::array::Array;
use crate::pact::Pact;
use crate::widths::MacWidths;
use crate::HdlError;
use desc::{IssueRow, TopRow, WriterRow};
use issue::Issue;
use logit::LogitUnit;
use mem::WeightMem;
use plan::{Bank, LayerKind, LayerPlan};
use top::{Accel, AccelParts};
use writer::Writer;

/// Largest `pe` and `simd`.
pub const MAX_SIDE: usize = 64;

/// The FPGA devices (pact-device's table). A design generated for one is checked against it with the fit rule
/// `pact synth` uses ([`pact_device::check_fit`]); without one (`any` on the command line) nothing bounds it.
pub use pact_device::Device;

/// Parse `pact gen`'s `--target`: `any` (no bound) or a device name.
pub fn parse_target(s: &str) -> Result<Option<Device>, HdlError> {
    Device::parse_bound(s).map_err(|e| HdlError::new(e.to_string()))
}

/// The accelerator's array size and target, checked at construction. The model-dependent checks (array larger
/// than the model, memory larger than the target, unsupported layers) run in [`Plan::new`], which [`generate`]
/// calls first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccelConfig {
    pe: usize,
    simd: usize,
    target: Option<Device>,
    lane_bits: Option<u32>,
    input_buffers: usize,
    shared_requant: bool,
}

impl Default for AccelConfig {
    /// A 4 × 4 array, no device bound.
    fn default() -> Self {
        AccelConfig {
            pe: 4,
            simd: 4,
            target: None,
            lane_bits: None,
            input_buffers: 2,
            shared_requant: false,
        }
    }
}

impl AccelConfig {
    /// `pe` output channels and `simd` inputs per cycle, each in `1..=64`, one dividing the other.
    pub fn new(pe: usize, simd: usize) -> Result<Self, HdlError> {
        for (what, v) in [("--pe", pe), ("--simd", simd)] {
            if !(1..=MAX_SIDE).contains(&v) {
                return Err(HdlError::new(format!("{what} {v} is out of range 1..={MAX_SIDE}")));
            }
        }
        if pe % simd != 0 && simd % pe != 0 {
            return Err(HdlError::new(format!(
                "--pe {pe} and --simd {simd}: one must divide the other (the writer packs PE results into SIMD-wide \
                 words)"
            )));
        }
        Ok(AccelConfig {
            pe,
            simd,
            target: None,
            lane_bits: None,
            input_buffers: 2,
            shared_requant: false,
        })
    }

    /// The same array for `target` (a [`Device`], or `None`: no bound): the plan must pass the fit rule for it.
    pub fn with_target(self, target: impl Into<Option<Device>>) -> Self {
        AccelConfig {
            target: target.into(),
            ..self
        }
    }

    /// Output channels computed in parallel.
    /// The digit width `k` of the lanes (`--lane-bits`, 1..=8): layers whose operands are wider run as digit
    /// passes (docs/accelerator.md). `None` (the default): the widest operand of the inner layers
    /// ([`plan::default_lane_bits`]).
    pub fn with_lane_bits(self, k: Option<u32>) -> Result<Self, HdlError> {
        if let Some(k) = k {
            if !(1..=8).contains(&k) {
                return Err(HdlError::new(format!("--lane-bits {k} is out of range 1..=8")));
            }
        }
        Ok(AccelConfig { lane_bits: k, ..self })
    }

    /// The number of input buffers (`--input-buffers`, 1 or 2; default 2). With two, the accelerator takes the next
    /// image's pixels while the current one computes (an image every `max(pixels, compute + 1)` cycles); one buffer
    /// halves the input buffer's memory and takes an image every `pixels + compute + 1` cycles.
    pub fn with_input_buffers(self, n: usize) -> Result<Self, HdlError> {
        if !(1..=2).contains(&n) {
            return Err(HdlError::new(format!("--input-buffers {n}: must be 1 or 2")));
        }
        Ok(AccelConfig {
            input_buffers: n,
            ..self
        })
    }

    /// One requantization (PACT) unit shared by all PEs (`--requant shared`) instead of one per PE
    /// (`--requant per-pe`, the default). The shared unit takes a group's `pe` sums one per cycle (so a layer's
    /// groups take at least `pe` cycles each: bubbles where they have fewer beats) and hands the `pe` codes to the
    /// writer together, `pe + 1` cycles later than `pe` units would; it saves `pe − 1` units (their multipliers
    /// and logic). With `pe = 1` both are the same design.
    pub fn with_shared_requant(self, shared: bool) -> Self {
        AccelConfig {
            shared_requant: shared,
            ..self
        }
    }

    /// Whether the PEs share one requantization unit (see [`Self::with_shared_requant`]; always false for
    /// `pe = 1`).
    pub fn shared_requant(&self) -> bool {
        self.shared_requant && self.pe > 1
    }

    /// Input buffers (1 or 2).
    pub fn input_buffers(&self) -> usize {
        self.input_buffers
    }

    /// The lane digit width chosen with [`Self::with_lane_bits`], if any.
    pub fn lane_bits(&self) -> Option<u32> {
        self.lane_bits
    }

    pub fn pe(&self) -> usize {
        self.pe
    }

    /// Inputs per output consumed per cycle.
    pub fn simd(&self) -> usize {
        self.simd
    }

    /// The device bounding the design, if any.
    pub fn target(&self) -> Option<Device> {
        self.target
    }
}

fn w16(v: usize) -> u16 {
    (v & 0xffff) as u16
}

/// The issue descriptor row of a layer.
fn issue_row(l: &LayerPlan) -> IssueRow {
    let (h, w, cw) = match l.kind {
        LayerKind::Dense => (1, 1, l.beats),
        LayerKind::Conv2d => (l.src_layout.h, l.src_layout.w, l.src_layout.cw),
    };
    let kw = l.kernel[1];
    let [sy, sx] = l.stride;
    let [pt, pl] = l.pad;
    let cycles = l.beats + l.bubbles;
    let passes = l.pass_count();
    IssueRow {
        perlane: u16::from(l.perlane),
        group_cycles_m1: w16(cycles - 1),
        groups_m1: w16(l.groups - 1),
        ow_m1: w16(l.ow - 1),
        oh_m1: w16(l.oh - 1),
        cw_m1: w16(cw - 1),
        kw_m1: w16(kw - 1),
        in_h: w16(h),
        in_w: w16(w),
        step_x: w16(sx * cw),
        step_y: w16(sy * w * cw),
        krow_jump: w16((w - kw) * cw + 1),
        ix_first: w16(0usize.wrapping_sub(pl)),
        sy: w16(sy),
        sx: w16(sx),
        beats_m1: w16(l.beats - 1),
        iy_first: w16(0usize.wrapping_sub(pt)),
        pos_first: w16((0usize).wrapping_sub((pt * w + pl) * cw)),
        // Each counter's last value minus one (wrapping), for the issue unit's end flags.
        group_cycles_m2: w16(cycles.wrapping_sub(2)),
        groups_m2: w16(l.groups.wrapping_sub(2)),
        ow_m2: w16(l.ow.wrapping_sub(2)),
        oh_m2: w16(l.oh.wrapping_sub(2)),
        cw_m2: w16(cw.wrapping_sub(2)),
        kw_m2: w16(kw.wrapping_sub(2)),
        beats_m2: w16(l.beats.wrapping_sub(2)),
        passes_m1: w16(passes - 1),
        passes_m2: w16(passes.wrapping_sub(2)),
        pass_base: w16(l.pass_base),
        group_words: w16(l.d_w * l.beats),
        woff_first: w16(l.passes()[0].l * l.beats),
    }
}

/// The writer descriptor row of a layer; zeros for the last layer.
fn writer_row(l: &LayerPlan) -> WriterRow {
    let Some(bits) = l.out_bits else {
        return WriterRow::default();
    };
    let o = &l.out_layout;
    WriterRow {
        groups_m1: w16(l.groups - 1),
        ow_m1: w16(l.ow - 1),
        oh_m1: w16(l.oh - 1),
        pool_y_m1: w16(l.pool[0] - 1),
        pool_x_m1: w16(l.pool[1] - 1),
        pw: w16(o.w),
        ph: w16(o.h),
        cwo_m1: w16(o.cw - 1),
        cwo: w16(o.cw),
        row_step: w16(o.w * o.cw),
        code_max: w16((1usize << bits) - 1),
    }
}

/// The controller's descriptor row of a layer.
fn top_row(l: &LayerPlan) -> TopRow {
    TopRow {
        src: l.src.code(),
        dst: l.dst.code(),
        last: u16::from(l.dst == Bank::Logits),
        ch_base: w16(l.ch_base),
        groups_m1: w16(l.groups - 1),
        twos: u16::from(l.weights.iter().any(|b| b.twos)),
    }
}

/// Build the rust-hdl top for a plan. `files[l][p]` are the `$readmemh` paths of the weight ROMs.
pub fn build(plan: &Plan, files: Vec<Vec<String>>) -> Result<Accel, HdlError> {
    let (pe, simd) = (plan.pe, plan.simd);
    let array = Array::horner(pe, simd, MacWidths::new(plan.ka, plan.kw, plan.acc), plan.lane_bits)?;
    let pacts = plan
        .pact_consts
        .iter()
        .map(|c| Pact::new(plan.acc, plan.ka_out, c))
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = plan.layers.iter().map(|l| l.weights.clone()).collect();
    let wmem = WeightMem::new(blocks, files, pe, simd, plan.kw);
    let patch: Vec<Vec<u16>> = match plan.layers.first().filter(|l| l.perlane) {
        Some(l) => l
            .patch
            .chunks(simd)
            .map(|c| c.iter().flatten().copied().collect())
            .collect(),
        None => vec![vec![0; 4 * simd]],
    };
    let issue_desc: Vec<IssueRow> = plan.layers.iter().map(issue_row).collect();
    let issue = Issue::new(simd, &issue_desc, patch, &plan.pass_rows());
    let writer_desc: Vec<WriterRow> = plan.layers.iter().map(writer_row).collect();
    let writer = Writer::new(pe, simd, &writer_desc);
    let last = plan.last();
    let logits = LogitUnit::new(pe, last.m, plan.acc, &plan.logit_bias);
    let top_desc = plan.layers.iter().map(top_row).collect();
    Ok(Accel::new(AccelParts {
        pe,
        simd,
        array,
        pacts,
        wmem,
        issue,
        writer,
        logits,
        top_desc,
        input: (plan.input_depth, 8),
        banks: [
            (plan.bank_depth[0], plan.bank_bits[0] as usize),
            (plan.bank_depth[1], plan.bank_bits[1] as usize),
        ],
        logit_depth: last.groups,
        pixels: plan.pixels(),
        replicated: plan.input_replicated,
        input_buffers: plan.input_buffers,
        input_stride: plan.input_stride(),
        shared_requant: plan.shared_requant,
    }))
}
