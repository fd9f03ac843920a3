//! Automatic sizing: the array shape (PE × SIMD), lane width, input buffers and requantization units with the most
//! inferences per second that fits a device, chosen from the estimate before any tool runs.
//!
//! Every candidate is planned ([`Plan::new`], which applies the fit rule of `pact synth` for memory and
//! multipliers); its cycles per inference are exact (the plan's schedule, the same the manifest states and the
//! co-simulation checks), its LUT4, flip-flop and DSP counts come from [`logic_estimate`], a model fitted to yosys
//! `synth_ice40` counts of generated accelerators (docs/accelerator.md, "Automatic sizing", gives the
//! measurements and the test that keeps the model within ±15 % of yosys). A candidate is kept when its estimate
//! stays within [`LUT_BUDGET`] of the device's LUTs (on an iCE40 also within [`ICE40_CELL_BUDGET`] of its logic
//! cells, [`ice40_cells`]), within its flip-flops, and its multipliers within the device's DSPs (lanes in LUT mode
//! need none). Inferences per second are counted at the device's reference clock ([`reference_mhz`]); the best
//! candidate has the fewest LUTs among those within 1 % of the fewest cycles per inference
//! ([`CYCLE_TIE_DIVISOR`]).
use super::plan::{lane_bits_candidates, Plan};
use super::{AccelConfig, Device};
use crate::mac::LUT_MUL_MAX_BITS;
use crate::HdlError;
use pact_device::Family;
use pact_toolchain::qmodel::QModel;

/// The share of the device's LUTs a chosen design may use: the rest is left to placement and routing (nextpnr
/// fails or misses the clock on a device filled to the last LUT).
pub const LUT_BUDGET: f64 = 0.85;

/// On the iCE40 a LUT4, a flip-flop and a carry share a logic cell only when they are connected, so a design needs
/// more cells than LUT4s: about `LUT4 + ICE40_CELLS_PER_FF × FF` (nextpnr-ice40 0.4 after packing, four designs:
/// the default 1 × 4 at 2 727 LUT4 and 2 030 FF in 3 889 cells, the same before two rounds of changes at 2 819 / 2 042
/// in 4 133 and 2 621 / 1 941 in 3 905, and W4A4 on 4 × 4 four-bit lanes with a shared PACT unit at 4 156 / 2 764 in
/// 5 568: 0.51–0.66 cells per FF beyond the LUT4s).
pub const ICE40_CELLS_PER_FF: f64 = 0.6;

/// The share of an iCE40's logic cells a chosen design may use by that estimate (the W4A4 design above, 105 %,
/// failed placement; the 2 × 2 designs of the sweep, about 90 %, placed).
pub const ICE40_CELL_BUDGET: f64 = 0.95;

/// The iCE40 logic cells a design's estimate needs (see [`ICE40_CELLS_PER_FF`]).
pub fn ice40_cells(logic: &Logic) -> u64 {
    (logic.luts as f64 + ICE40_CELLS_PER_FF * logic.ffs as f64).round() as u64
}

/// Candidates whose cycles per inference are within `1/CYCLE_TIE_DIVISOR` (1 %) of the fewest count as tied: among
/// them the fewest LUTs wins.
pub const CYCLE_TIE_DIVISOR: usize = 100;

/// The array sizes tried for PE and SIMD (one of the two divides the other).
pub const SIZES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The clock inferences per second are counted at: the iCEBreaker's 48 MHz on the iCE40, 100 MHz on the ECP5
/// (the timing goals of docs/bitstream.md).
pub fn reference_mhz(device: Device) -> f64 {
    match device.family() {
        Family::Ice40 => 48.0,
        Family::Ecp5 => 100.0,
    }
}

/// The logic of a design as the model estimates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logic {
    /// 4-input LUTs.
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// Hard multipliers: one per lane in DSP mode (activation digits wider than [`LUT_MUL_MAX_BITS`]), and the
    /// PACT units' (one per PE, two when the accumulator is wider than 16 bits).
    pub dsps: u64,
}

// The model's coefficients, fitted by least squares to yosys 0.23 `synth_ice40 -dsp` counts of 11 accelerators
// for the shipped default CNN re-quantized at W2A2/W4A4/W8A8 (first/last 8 bits), PE × SIMD from 1 × 4 to 16 × 8
// and 8 × 16, lanes of 2, 4 and 8 bits (the table in docs/accelerator.md, "Automatic sizing"; largest in-sample
// error 6.4 % for LUT4, 3.3 % for FF). Terms: a fixed part (issue unit, descriptor tables, writer, logit unit,
// memory ports), a part per PE (accumulator, PACT unit's logic, writer lane) and per log2 PE (the PE multiplexers),
// a part per SIMD lane of the activation path (input buffer and bank lanes, stage-1 shifters), and per MAC lane:
// in LUT mode, proportional to the lane width (shift-and-add multiplier and its share of the adder tree), in DSP mode
// a constant (the tree; the product is in the DSP).
const LUT4: Linear = Linear {
    base: 1934.3,
    per_pe: 105.9,
    per_log2_pe: 818.9,
    per_simd: 132.2,
    // 18.4 in the fit; 11.4 since the adder-tree nodes are as wide as their sums (`array::TreeAdd`): the mean
    // change of the LUT-mode designs' residuals, −6.3 to −8.1 LUT4 per lane bit on 4 × 8 two-bit, 2 × 8 and 8 × 4
    // four-bit lanes.
    per_lut_lane_bit: 11.4,
    per_dsp_lane: 44.3,
};
const FF: Linear = Linear {
    base: 1405.7,
    per_pe: 295.6,
    per_log2_pe: 329.3,
    per_simd: 45.1,
    per_lut_lane_bit: 4.8,
    per_dsp_lane: 22.3,
};

// A shared PACT unit (`--requant shared`) saves `pe − 1` units net of its capture and collect registers: per unit
// saved, the least-squares fit to yosys 0.23 `synth_ice40 -dsp` counts of the default model on 8 × 4 four-bit
// lanes (7 311 → 6 331 LUT4, 5 521 → 4 252 FF) and 4 × 4 eight-bit lanes (5 122 → 4 500, 3 801 → 3 187)
// (docs/accelerator.md, "Shared requantization").
const SHARED_SAVES_LUT4: f64 = 150.0;
const SHARED_SAVES_FF: f64 = 185.0;

/// One linear cost model over the design's terms (see above).
struct Linear {
    base: f64,
    per_pe: f64,
    per_log2_pe: f64,
    per_simd: f64,
    per_lut_lane_bit: f64,
    per_dsp_lane: f64,
}

impl Linear {
    /// The cost of `pe × simd` lanes, `lut_lane_bits` = Σ lane widths of LUT-mode lanes, `dsp_lanes` DSP-mode lanes.
    fn eval(&self, pe: f64, simd: f64, lut_lane_bits: f64, dsp_lanes: f64) -> u64 {
        let v = self.base
            + self.per_pe * pe
            + self.per_log2_pe * pe.log2()
            + self.per_simd * simd
            + self.per_lut_lane_bit * lut_lane_bits
            + self.per_dsp_lane * dsp_lanes;
        v.round() as u64
    }
}

/// The model's estimate of a plan's logic (see the module documentation).
pub fn logic_estimate(plan: &Plan) -> Logic {
    let (pe, simd) = (plan.pe as f64, plan.simd as f64);
    let lanes = pe * simd;
    let lut_mode = plan.ka <= LUT_MUL_MAX_BITS;
    let (lut_lane_bits, dsp_lanes) = if lut_mode {
        (lanes * f64::from(plan.lane_bits), 0.0)
    } else {
        (0.0, lanes)
    };
    let pact_mults = if plan.acc > 16 { 2 } else { 1 };
    let units = plan.pact_consts.len() as u64;
    let dsps = units * pact_mults + if lut_mode { 0 } else { (plan.pe * plan.simd) as u64 };
    let (mut luts, mut ffs) = (
        LUT4.eval(pe, simd, lut_lane_bits, dsp_lanes) as f64,
        FF.eval(pe, simd, lut_lane_bits, dsp_lanes) as f64,
    );
    if plan.shared_requant {
        // The per-PE model counts `pe` PACT units; a shared design has one (and capture and collect registers).
        luts -= SHARED_SAVES_LUT4 * (pe - 1.0);
        ffs -= SHARED_SAVES_FF * (pe - 1.0);
    }
    Logic {
        luts: luts.max(0.0).round() as u64,
        ffs: ffs.max(0.0).round() as u64,
        dsps,
    }
}

/// One sized design.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Its configuration (with the target).
    pub config: AccelConfig,
    /// Output channels in parallel.
    pub pe: usize,
    /// Inputs per output channel per cycle.
    pub simd: usize,
    /// Lane (digit) width.
    pub lane_bits: u32,
    /// Input buffers (2: the next image loads while the current one computes).
    pub input_buffers: usize,
    /// One PACT unit shared by the PEs.
    pub shared_requant: bool,
    /// Cycles per inference in a continuous stream ([`Plan::interval_cycles`]).
    pub cycles: usize,
    /// Parallel MAC lanes `pe × simd` and the model's MACs per cycle (MACs per inference / compute cycles).
    pub lanes: usize,
    /// See `lanes`.
    pub macs_per_cycle: f64,
    /// Inferences per second at [`reference_mhz`].
    pub inferences_per_s: f64,
    /// The logic estimate.
    pub logic: Logic,
    /// Memory bits (weights, constants, buffers).
    pub memory_bits: usize,
    /// iCE40 block RAMs, memory by memory ([`super::emit::ice40_brams`], board top-level).
    pub ice40_brams: u64,
}

impl Candidate {
    /// One line: shape, lanes, cycles, inferences/s, LUT4, DSP.
    pub fn line(&self, device: Device) -> String {
        let d = device.spec();
        format!(
            "--pe {} --simd {} --lane-bits {} --input-buffers {} --requant {}: {} cycles per inference, {:.0} \
             inferences/s at {} MHz, {:.1} MACs per cycle; estimate {} LUT4 ({:.0} %), {} FF, {}/{} DSP, {} memory \
             bits",
            self.pe,
            self.simd,
            self.lane_bits,
            self.input_buffers,
            if self.shared_requant { "shared" } else { "per-pe" },
            self.cycles,
            self.inferences_per_s,
            reference_mhz(device),
            self.macs_per_cycle,
            self.logic.luts,
            100.0 * self.logic.luts as f64 / f64::from(d.luts),
            self.logic.ffs,
            self.logic.dsps,
            d.dsps,
            self.memory_bits
        ) + &match device.family() {
            Family::Ice40 => format!(
                ", {}/{} block RAMs, about {} logic cells ({:.0} %)",
                self.ice40_brams,
                d.brams,
                ice40_cells(&self.logic),
                100.0 * ice40_cells(&self.logic) as f64 / f64::from(d.luts)
            ),
            Family::Ecp5 => String::new(),
        }
    }
}

/// What the user fixed: the sizer searches only the rest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fixed {
    /// `--pe`.
    pub pe: Option<usize>,
    /// `--simd`.
    pub simd: Option<usize>,
    /// `--lane-bits`.
    pub lane_bits: Option<u32>,
    /// `--input-buffers`.
    pub input_buffers: Option<usize>,
    /// `--requant` (`Some(true)`: shared).
    pub shared_requant: Option<bool>,
}

/// Every candidate that fits `device`, best first: those within 1 % of the fewest cycles per inference by fewest
/// LUTs, then the rest by cycles and LUTs. An empty list
/// is an error naming the device and the smallest design's problem.
pub fn candidates(q: &QModel, device: Device, fixed: Fixed) -> Result<Vec<Candidate>, HdlError> {
    let ops: Vec<(u32, u32)> = q
        .layers
        .iter()
        .filter_map(|l| l.op.compute())
        .map(|c| (c.in_bits, c.weights.bits))
        .collect();
    let ks = match fixed.lane_bits {
        Some(k) => vec![k],
        None => lane_bits_candidates(&ops),
    };
    // Two input buffers first: one is tried for the memory it saves, and only wins where two do not fit.
    let buffers = match fixed.input_buffers {
        Some(n) => vec![n],
        None => vec![2, 1],
    };
    let spec = device.spec();
    let mut out = Vec::new();
    let mut first_error: Option<HdlError> = None;
    for &pe in fixed.pe.as_ref().map(std::slice::from_ref).unwrap_or(&SIZES) {
        for &simd in fixed.simd.as_ref().map(std::slice::from_ref).unwrap_or(&SIZES) {
            if pe % simd != 0 && simd % pe != 0 {
                continue;
            }
            // A shared PACT unit only where there are PEs to share it.
            let shares: &[bool] = match fixed.shared_requant {
                Some(true) if pe > 1 => &[true],
                Some(_) => &[false],
                None if pe > 1 => &[false, true],
                None => &[false],
            };
            for (&k, &nb, &sh) in ks
                .iter()
                .flat_map(|k| buffers.iter().map(move |b| (k, b)))
                .flat_map(|(k, b)| shares.iter().map(move |s| (k, b, s)))
            {
                let cfg = AccelConfig::new(pe, simd)?
                    .with_lane_bits(Some(k))?
                    .with_input_buffers(nb)?
                    .with_shared_requant(sh)
                    .with_target(Some(device));
                let plan = match Plan::new(q, &cfg) {
                    Ok(p) => p,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                let logic = logic_estimate(&plan);
                let cells_over = device.family() == Family::Ice40
                    && ice40_cells(&logic) as f64 > ICE40_CELL_BUDGET * f64::from(spec.luts);
                if logic.luts as f64 > LUT_BUDGET * f64::from(spec.luts)
                    || cells_over
                    || logic.ffs > u64::from(spec.ffs)
                    || logic.dsps > u64::from(spec.dsps)
                {
                    continue;
                }
                let cycles = plan.interval_cycles();
                out.push(Candidate {
                    config: cfg,
                    pe,
                    simd,
                    lane_bits: plan.lane_bits,
                    input_buffers: nb,
                    shared_requant: sh,
                    cycles,
                    lanes: pe * simd,
                    macs_per_cycle: plan.macs_per_cycle(),
                    inferences_per_s: reference_mhz(device) * 1e6 / cycles as f64,
                    logic,
                    memory_bits: plan.memory().total(),
                    ice40_brams: super::emit::ice40_brams(&plan, false),
                });
            }
        }
    }
    if out.is_empty() {
        let why = first_error.map(|e| format!(": {e}")).unwrap_or_else(|| {
            format!(
                ": every shape's logic estimate is over {:.0} % of its {} LUTs (on an iCE40, or {:.0} % of its \
                 logic cells), or over its {} DSPs",
                100.0 * LUT_BUDGET,
                spec.luts,
                100.0 * ICE40_CELL_BUDGET,
                spec.dsps
            )
        });
        return Err(HdlError::new(format!(
            "automatic sizing: no array shape fits the {device}{why}"
        )));
    }
    out.sort_by(|a, b| a.cycles.cmp(&b.cycles).then(a.logic.luts.cmp(&b.logic.luts)));
    // Within 1 % of the fewest cycles, fewer LUTs first: a design several times larger for a few cycles less is
    // slower at the clock it reaches.
    let near = out[0].cycles + out[0].cycles / CYCLE_TIE_DIVISOR;
    let n = out.iter().take_while(|c| c.cycles <= near).count();
    out[..n].sort_by(|a, b| a.logic.luts.cmp(&b.logic.luts).then(a.cycles.cmp(&b.cycles)));
    Ok(out)
}
