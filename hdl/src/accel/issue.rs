//! The beat issuer in rust-hdl: walks a layer's output positions, groups and beats and computes the im2col
//! addresses of every lane.
//!
//! Per-layer differences live in the [`IssueRow`] descriptor table indexed by the layer number (16-bit fields,
//! read through the column constants `IssueRow::*`; inside the kernel each column is bound by a one-iteration
//! `for` loop because rust-hdl evaluates index expressions with loop variables only). All counters and addresses
//! are 16-bit unsigned and wrap modulo `2^16`: a negative row or column (padding) wraps to a value `≥ H`/`≥ W`, so
//! one unsigned compare is the bounds check.
use super::desc::{IssueRow as D, PassRow};
use super::mem::Table;
use super::shared::{vd, A16, A24};
use crate::resize::ZeroResize;
use rust_hdl::prelude::*;

/// The issue descriptor columns the unit registers (`dq`) and reads while a layer runs: [`IssueRow::PERLANE`] in
/// `dq[0]`, then the contiguous columns [`IssueRow::IN_H`]`..=`[`IssueRow::SX`] in `dq[1..]`; the counters' ends
/// are flags of their own.
pub const RUN_FIELDS: usize = 1 + (D::SX - D::IN_H + 1);

/// The `dq` register holding each descriptor column read while a layer runs.
mod run {
    use super::D;
    /// `dq[c − SHIFT]` holds column `c` of `IN_H..=SX`.
    pub const SHIFT: usize = D::IN_H - 1;
    pub const PERLANE: usize = 0;
    pub const IN_H: usize = D::IN_H - SHIFT;
    pub const IN_W: usize = D::IN_W - SHIFT;
    pub const STEP_X: usize = D::STEP_X - SHIFT;
    pub const STEP_Y: usize = D::STEP_Y - SHIFT;
    pub const KROW_JUMP: usize = D::KROW_JUMP - SHIFT;
    pub const IX_FIRST: usize = D::IX_FIRST - SHIFT;
    pub const SY: usize = D::SY - SHIFT;
    pub const SX: usize = D::SX - SHIFT;
}

/// Cycles from a beat's issue cycle to the cycle its outputs are valid on the issue unit's ports (table/counter
/// register, address and row/column adders, bounds compare).
pub const ISSUE_LATENCY: usize = 3;

/// The beat issuer: one cycle per step while `run`, walking output positions (row-major), output groups of `pe`
/// channels, and the `⌈N/simd⌉` beats of each group, followed by the layer's bubble cycles (none unless the writer
/// needs more cycles per group than there are beats: `pe/simd` words per group, or two cycles per position for a
/// fused max pool).
///
/// Outputs are registered, [`ISSUE_LATENCY`] = 3 cycles after the one that issues the beat (a pipeline for the
/// clock rate: stage 1 reads the im2col table or the counters into registers, stage 2 adds the row, column and
/// address, stage 3 compares the row and column with the image's bounds): `en` (a beat, not a bubble), per lane the activation read address `raddr[s]` and `inb[s]` (a beat whose element is inside the image
/// and inside the fan-in; otherwise the lane's activation must be 0), `clear` (first beat of a group), `last` (last
/// beat of a group), `waddr` (weight word address within the layer's ROMs: `group·beats + beat`); `final_beat`
/// (the layer's last issue cycle) is combinational. `start` loads the counters for the layer in `layer`; the
/// descriptor row is registered at the same edge, so `layer` must be stable during the `start` cycle, and the
/// counters step with the registered row (`run` comes after `start`).
///
/// Addressing: packed layers read word `pos_base + off` in every lane, with `off = (ky·W + kx)·CW + cw` stepped by
/// counters; the per-lane first conv reads each lane's own `pos_base + off[s]` with `off[s]`, `ky[s]`, `kx[s]`
/// from the im2col table (C×H×W input, `CW = 1`).
#[derive(LogicBlock)]
pub struct Issue {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Layer number (selects the descriptor).
    pub layer: Signal<In, A16>,
    /// Load the counters for `layer` (one cycle before the first beat).
    pub start: Signal<In, Bit>,
    /// Issue a beat (or bubble) this cycle and advance.
    pub run: Signal<In, Bit>,
    /// This cycle is a beat (not a bubble).
    pub en: Signal<Out, Bit>,
    /// Activation read address per lane, unsigned 16 bits.
    pub raddr: Vec<Signal<Out, A16>>,
    /// Lane reads a real element (inside the image and the fan-in).
    pub inb: Vec<Signal<Out, Bit>>,
    /// First beat of a group.
    pub clear: Signal<Out, Bit>,
    /// Last beat of a group.
    pub last: Signal<Out, Bit>,
    /// Weight word address.
    pub waddr: Signal<Out, A24>,
    /// The layer's last beat.
    pub final_beat: Signal<Out, Bit>,
    /// Horner step: the first beat of a pass whose digit weight is `2^k` below the previous pass's.
    pub shift: Signal<Out, Bit>,
    /// Right shift (`k·j`, unsigned) that selects this beat's activation digit `j` from the codes.
    pub shamt: Signal<Out, A16>,
    desc: Table,
    patch: Table,
    ptab: Table,
    ps: DFF<A16>,
    pfirst: DFF<Bit>,
    plast: DFF<Bit>,
    prow: DFF<A16>,
    gbase: DFF<A24>,
    gnext: DFF<A24>,
    pm2: DFF<A16>,
    pz: DFF<Bit>,
    pb: DFF<A16>,
    gwz: ZeroResize<16, 24>,
    /// Weight words per group (`d_w·beats`), registered from the descriptor for the run (off the table's path).
    gw_r: DFF<A24>,
    woz: ZeroResize<16, 24>,
    wfz: ZeroResize<16, 24>,
    wsel: Signal<Local, A24>,
    wsum: Signal<Local, A24>,
    p_shift: DFF<Bit>,
    a_shift: DFF<Bit>,
    shift_q: DFF<Bit>,
    p_sh: DFF<A16>,
    a_sh: DFF<A16>,
    sh_q: DFF<A16>,
    dq: Vec<DFF<A16>>,
    en_q: DFF<Bit>,
    clear_q: DFF<Bit>,
    last_q: DFF<Bit>,
    waddr_q: DFF<A24>,
    raddr_q: Vec<DFF<A16>>,
    inb_q: Vec<DFF<Bit>>,
    p_en: DFF<Bit>,
    p_clear: DFF<Bit>,
    p_last: DFF<Bit>,
    p_wa: DFF<A24>,
    p_iy0: DFF<A16>,
    p_ix0: DFF<A16>,
    p_pos: DFF<A16>,
    p_off: Vec<DFF<A16>>,
    p_ky: Vec<DFF<A16>>,
    p_kx: Vec<DFF<A16>>,
    p_v: Vec<DFF<Bit>>,
    a_en: DFF<Bit>,
    a_clear: DFF<Bit>,
    a_last: DFF<Bit>,
    a_wa: DFF<A24>,
    a_iy: Vec<DFF<A16>>,
    a_ix: Vec<DFF<A16>>,
    a_ra: Vec<DFF<A16>>,
    a_v: Vec<DFF<Bit>>,
    m1: DFF<A16>,
    m2: DFF<A16>,
    m3: DFF<A16>,
    m4: DFF<A16>,
    m5: DFF<A16>,
    m6: DFF<A16>,
    m15: DFF<A16>,
    z1: DFF<Bit>,
    z2: DFF<Bit>,
    z3: DFF<Bit>,
    z5: DFF<Bit>,
    z6: DFF<Bit>,
    z15: DFF<Bit>,
    b_z: DFF<Bit>,
    b_in: DFF<Bit>,
    b_e: DFF<Bit>,
    b_l: DFF<Bit>,
    g_e: DFF<Bit>,
    ox_e: DFF<Bit>,
    oy_e: DFF<Bit>,
    cw_e: DFF<Bit>,
    kx_e: DFF<Bit>,
    b: DFF<A16>,
    g: DFF<A16>,
    ox: DFF<A16>,
    oy: DFF<A16>,
    cw: DFF<A16>,
    kx: DFF<A16>,
    ky: DFF<A16>,
    off: DFF<A16>,
    wa: DFF<A24>,
    iy0: DFF<A16>,
    ix0: DFF<A16>,
    pos_base: DFF<A16>,
    row_base: DFF<A16>,
    perlane: Signal<Local, Bit>,
    beat: Signal<Local, Bit>,
    zero: Constant<A16>,
    one: Constant<A16>,
    zero24: Constant<A24>,
    one24: Constant<A24>,
    _simd: usize,
}

impl Issue {
    /// An issuer for `simd` lanes with one descriptor row per layer, the im2col table `patch` (rows per beat of
    /// the per-lane layer: `[off, ky, kx, valid]` per lane; one zero row if there is none) and the digit passes of
    /// every layer (`passes`, at least one row; [`D::PASS_BASE`] points into it).
    pub fn new(simd: usize, desc: &[D], patch: Vec<Vec<u16>>, passes: &[PassRow]) -> Self {
        assert!(patch.iter().all(|r| r.len() == 4 * simd));
        Self {
            shift: Default::default(),
            shamt: Default::default(),
            ptab: Table::new(passes.iter().map(PassRow::to_words).collect()),
            ps: Default::default(),
            pfirst: Default::default(),
            plast: Default::default(),
            prow: Default::default(),
            gbase: Default::default(),
            gnext: Default::default(),
            pm2: Default::default(),
            pz: Default::default(),
            pb: Default::default(),
            gwz: Default::default(),
            gw_r: Default::default(),
            woz: Default::default(),
            wfz: Default::default(),
            wsel: Default::default(),
            wsum: Default::default(),
            p_shift: Default::default(),
            a_shift: Default::default(),
            shift_q: Default::default(),
            p_sh: Default::default(),
            a_sh: Default::default(),
            sh_q: Default::default(),
            clock: Default::default(),
            layer: Default::default(),
            start: Default::default(),
            run: Default::default(),
            en: Default::default(),
            raddr: vd(simd),
            inb: vd(simd),
            clear: Default::default(),
            last: Default::default(),
            waddr: Default::default(),
            final_beat: Default::default(),
            desc: Table::new(desc.iter().map(D::to_words).collect()),
            patch: Table::new(patch),
            dq: vd(RUN_FIELDS),
            en_q: Default::default(),
            clear_q: Default::default(),
            last_q: Default::default(),
            waddr_q: Default::default(),
            raddr_q: vd(simd),
            inb_q: vd(simd),
            p_en: Default::default(),
            p_clear: Default::default(),
            p_last: Default::default(),
            p_wa: Default::default(),
            p_iy0: Default::default(),
            p_ix0: Default::default(),
            p_pos: Default::default(),
            p_off: vd(simd),
            p_ky: vd(simd),
            p_kx: vd(simd),
            p_v: vd(simd),
            a_en: Default::default(),
            a_clear: Default::default(),
            a_last: Default::default(),
            a_wa: Default::default(),
            a_iy: vd(simd),
            a_ix: vd(simd),
            a_ra: vd(simd),
            a_v: vd(simd),
            m1: Default::default(),
            m2: Default::default(),
            m3: Default::default(),
            m4: Default::default(),
            m5: Default::default(),
            m6: Default::default(),
            m15: Default::default(),
            z1: Default::default(),
            z2: Default::default(),
            z3: Default::default(),
            z5: Default::default(),
            z6: Default::default(),
            z15: Default::default(),
            b_z: Default::default(),
            b_in: Default::default(),
            b_e: Default::default(),
            b_l: Default::default(),
            g_e: Default::default(),
            ox_e: Default::default(),
            oy_e: Default::default(),
            cw_e: Default::default(),
            kx_e: Default::default(),
            b: Default::default(),
            g: Default::default(),
            ox: Default::default(),
            oy: Default::default(),
            cw: Default::default(),
            kx: Default::default(),
            ky: Default::default(),
            off: Default::default(),
            wa: Default::default(),
            iy0: Default::default(),
            ix0: Default::default(),
            pos_base: Default::default(),
            row_base: Default::default(),
            perlane: Default::default(),
            beat: Default::default(),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            zero24: Constant::new(bits(0)),
            one24: Constant::new(bits(1)),
            _simd: simd,
        }
    }
}

impl Logic for Issue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, en_q, clear_q, last_q, waddr_q, b, g, ox, oy, cw, kx, ky, off, wa, iy0, ix0, pos_base,
            row_base, p_en, p_clear, p_last, p_wa, p_iy0, p_ix0, p_pos, a_en, a_clear, a_last, a_wa, m1, m2, m3, m4,
            m5, m6, m15, z1, z2, z3, z5, z6, z15, b_z, b_in, b_e, b_l, g_e, ox_e, oy_e, cw_e, kx_e, ps, pfirst, plast,
            prow, gbase, gnext, gw_r, pm2, pz, pb, p_shift, a_shift, shift_q, p_sh, a_sh, sh_q
        );
        self.desc.index.next = self.layer.val();
        // The descriptor row, registered (the `start` branch below reads the table directly).
        for f in 0..RUN_FIELDS {
            self.dq[f].clock.next = self.clock.val();
        }
        for c in D::PERLANE..(D::PERLANE + 1) {
            for q in run::PERLANE..(run::PERLANE + 1) {
                self.dq[q].d.next = self.desc.field[c].val();
            }
        }
        for o in run::SHIFT..(run::SHIFT + 1) {
            for c in D::IN_H..(D::SX + 1) {
                self.dq[c - o].d.next = self.desc.field[c].val();
            }
        }
        self.patch.index.next = self.b.q.val();
        for c in run::PERLANE..(run::PERLANE + 1) {
            self.perlane.next = self.dq[c].q.val() != self.zero.val();
        }
        self.beat.next = self.b_in.q.val();
        // Stage 1: the beat's im2col entries (table row `b`, or the counters) and controls, registered.
        self.p_en.d.next = self.run.val() & self.beat.val();
        self.p_clear.d.next = self.b_z.q.val() & self.pfirst.q.val();
        self.p_last.d.next = self.b_l.q.val() & self.plast.q.val();
        self.ptab.index.next = self.prow.q.val();
        for c in PassRow::SHIFT..(PassRow::SHIFT + 1) {
            self.p_shift.d.next = self.b_z.q.val() & (self.ptab.field[c].val() != self.zero.val());
        }
        for c in PassRow::SHAMT..(PassRow::SHAMT + 1) {
            self.p_sh.d.next = self.ptab.field[c].val();
        }
        self.p_wa.d.next = self.wa.q.val();
        self.p_iy0.d.next = self.iy0.q.val();
        self.p_ix0.d.next = self.ix0.q.val();
        self.p_pos.d.next = self.pos_base.q.val();
        for s in 0..self._simd {
            self.p_off[s].clock.next = self.clock.val();
            self.p_ky[s].clock.next = self.clock.val();
            self.p_kx[s].clock.next = self.clock.val();
            self.p_v[s].clock.next = self.clock.val();
            if self.perlane.val() {
                self.p_off[s].d.next = self.patch.field[4 * s].val();
                self.p_ky[s].d.next = self.patch.field[4 * s + 1].val();
                self.p_kx[s].d.next = self.patch.field[4 * s + 2].val();
                self.p_v[s].d.next = self.beat.val() & (self.patch.field[4 * s + 3].val() != self.zero.val());
            } else {
                self.p_off[s].d.next = self.off.q.val();
                self.p_ky[s].d.next = self.ky.q.val();
                self.p_kx[s].d.next = self.kx.q.val();
                self.p_v[s].d.next = self.beat.val();
            }
        }
        // Stage 2: input row, column and read address.
        self.a_en.d.next = self.p_en.q.val();
        self.a_clear.d.next = self.p_clear.q.val();
        self.a_last.d.next = self.p_last.q.val();
        self.a_shift.d.next = self.p_shift.q.val();
        self.a_sh.d.next = self.p_sh.q.val();
        self.a_wa.d.next = self.p_wa.q.val();
        for s in 0..self._simd {
            self.a_iy[s].clock.next = self.clock.val();
            self.a_ix[s].clock.next = self.clock.val();
            self.a_ra[s].clock.next = self.clock.val();
            self.a_v[s].clock.next = self.clock.val();
            self.a_iy[s].d.next = self.p_iy0.q.val() + self.p_ky[s].q.val();
            self.a_ix[s].d.next = self.p_ix0.q.val() + self.p_kx[s].q.val();
            self.a_ra[s].d.next = self.p_pos.q.val() + self.p_off[s].q.val();
            self.a_v[s].d.next = self.p_v[s].q.val();
        }
        // Stage 3: the bounds check (a negative row or column has wrapped to a large one), and the outputs.
        self.en_q.d.next = self.a_en.q.val();
        self.en.next = self.en_q.q.val();
        for h in run::IN_H..(run::IN_H + 1) {
            for w in run::IN_W..(run::IN_W + 1) {
                for s in 0..self._simd {
                    self.inb_q[s].clock.next = self.clock.val();
                    self.raddr_q[s].clock.next = self.clock.val();
                    self.inb_q[s].d.next = self.a_v[s].q.val()
                        & (self.a_iy[s].q.val() < self.dq[h].q.val())
                        & (self.a_ix[s].q.val() < self.dq[w].q.val());
                    self.raddr_q[s].d.next = self.a_ra[s].q.val();
                    self.inb[s].next = self.inb_q[s].q.val();
                    self.raddr[s].next = self.raddr_q[s].q.val();
                }
            }
        }
        self.clear_q.d.next = self.a_clear.q.val();
        self.last_q.d.next = self.a_last.q.val();
        self.waddr_q.d.next = self.a_wa.q.val();
        self.clear.next = self.clear_q.q.val();
        self.last.next = self.last_q.q.val();
        self.shift_q.d.next = self.a_shift.q.val();
        self.sh_q.d.next = self.a_sh.q.val();
        self.shift.next = self.shift_q.q.val();
        self.shamt.next = self.sh_q.q.val();
        self.waddr.next = self.waddr_q.q.val();
        // The counters' end flags are registers, stepped with the counters: `*_e` is "counter == its last value",
        // from the descriptor's last value minus one (`m*`, the `*_M2` columns) or zero (`z*`), so no magnitude compare
        // lies between a counter and the next state.
        for c in D::GROUP_CYCLES_M2..(D::GROUP_CYCLES_M2 + 1) {
            self.m1.d.next = self.desc.field[c].val();
        }
        for c in D::GROUPS_M2..(D::GROUPS_M2 + 1) {
            self.m2.d.next = self.desc.field[c].val();
        }
        for c in D::OW_M2..(D::OW_M2 + 1) {
            self.m3.d.next = self.desc.field[c].val();
        }
        for c in D::OH_M2..(D::OH_M2 + 1) {
            self.m4.d.next = self.desc.field[c].val();
        }
        for c in D::CW_M2..(D::CW_M2 + 1) {
            self.m5.d.next = self.desc.field[c].val();
        }
        for c in D::KW_M2..(D::KW_M2 + 1) {
            self.m6.d.next = self.desc.field[c].val();
        }
        for c in D::BEATS_M2..(D::BEATS_M2 + 1) {
            self.m15.d.next = self.desc.field[c].val();
        }
        for c in D::GROUP_CYCLES_M1..(D::GROUP_CYCLES_M1 + 1) {
            self.z1.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::GROUPS_M1..(D::GROUPS_M1 + 1) {
            self.z2.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::OW_M1..(D::OW_M1 + 1) {
            self.z3.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::CW_M1..(D::CW_M1 + 1) {
            self.z5.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::KW_M1..(D::KW_M1 + 1) {
            self.z6.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::BEATS_M1..(D::BEATS_M1 + 1) {
            self.z15.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::PASSES_M2..(D::PASSES_M2 + 1) {
            self.pm2.d.next = self.desc.field[c].val();
        }
        for c in D::PASSES_M1..(D::PASSES_M1 + 1) {
            self.pz.d.next = self.desc.field[c].val() == self.zero.val();
        }
        for c in D::PASS_BASE..(D::PASS_BASE + 1) {
            self.pb.d.next = self.desc.field[c].val();
        }
        for c in D::GROUP_WORDS..(D::GROUP_WORDS + 1) {
            self.gwz.x.next = self.desc.field[c].val();
        }
        self.gw_r.d.next = self.gwz.y.val();
        for c in D::WOFF_FIRST..(D::WOFF_FIRST + 1) {
            self.wfz.x.next = self.desc.field[c].val();
        }
        for c in PassRow::WOFF_NEXT..(PassRow::WOFF_NEXT + 1) {
            self.woz.x.next = self.ptab.field[c].val();
        }
        // The weight address of the next pass: its group's base (the next group's after the last pass, 0 after the
        // last group of a position) plus the pass's offset within the group.
        if self.plast.q.val() {
            if self.g_e.q.val() {
                self.wsel.next = self.zero24.val();
            } else {
                self.wsel.next = self.gnext.q.val();
            }
        } else {
            self.wsel.next = self.gbase.q.val();
        }
        self.wsum.next = self.wsel.val() + self.woz.y.val();
        self.final_beat.next =
            self.b_e.q.val() & self.plast.q.val() & self.g_e.q.val() & self.ox_e.q.val() & self.oy_e.q.val();
        if self.start.val() {
            self.b.d.next = self.zero.val();
            self.g.d.next = self.zero.val();
            self.ox.d.next = self.zero.val();
            self.oy.d.next = self.zero.val();
            self.cw.d.next = self.zero.val();
            self.kx.d.next = self.zero.val();
            self.ky.d.next = self.zero.val();
            self.off.d.next = self.zero.val();
            self.wa.d.next = self.wfz.y.val();
            self.ps.d.next = self.zero.val();
            self.pfirst.d.next = true;
            for c in D::PASSES_M1..(D::PASSES_M1 + 1) {
                self.plast.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::PASS_BASE..(D::PASS_BASE + 1) {
                self.prow.d.next = self.desc.field[c].val();
            }
            self.gbase.d.next = self.zero24.val();
            self.gnext.d.next = self.gwz.y.val();
            for c in D::IY_FIRST..(D::IY_FIRST + 1) {
                self.iy0.d.next = self.desc.field[c].val();
            }
            for c in D::IX_FIRST..(D::IX_FIRST + 1) {
                self.ix0.d.next = self.desc.field[c].val();
            }
            for c in D::POS_FIRST..(D::POS_FIRST + 1) {
                self.pos_base.d.next = self.desc.field[c].val();
                self.row_base.d.next = self.desc.field[c].val();
            }
            self.b_z.d.next = true;
            self.b_in.d.next = true;
            for c in D::GROUP_CYCLES_M1..(D::GROUP_CYCLES_M1 + 1) {
                self.b_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::BEATS_M1..(D::BEATS_M1 + 1) {
                self.b_l.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::GROUPS_M1..(D::GROUPS_M1 + 1) {
                self.g_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::OW_M1..(D::OW_M1 + 1) {
                self.ox_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::OH_M1..(D::OH_M1 + 1) {
                self.oy_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::CW_M1..(D::CW_M1 + 1) {
                self.cw_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::KW_M1..(D::KW_M1 + 1) {
                self.kx_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
        } else if self.run.val() {
            if self.b_e.q.val() {
                self.b.d.next = self.zero.val();
                self.cw.d.next = self.zero.val();
                self.kx.d.next = self.zero.val();
                self.ky.d.next = self.zero.val();
                self.off.d.next = self.zero.val();
                self.b_z.d.next = true;
                self.b_in.d.next = true;
                self.b_e.d.next = self.z1.q.val();
                self.b_l.d.next = self.z15.q.val();
                self.cw_e.d.next = self.z5.q.val();
                self.kx_e.d.next = self.z6.q.val();
                if self.plast.q.val() {
                    // The group's last pass: the next group (or position) starts with its first pass.
                    self.ps.d.next = self.zero.val();
                    self.pfirst.d.next = true;
                    self.plast.d.next = self.pz.q.val();
                    self.prow.d.next = self.pb.q.val();
                    if self.g_e.q.val() {
                        self.g.d.next = self.zero.val();
                        self.wa.d.next = self.wsum.val();
                        self.gbase.d.next = self.zero24.val();
                        self.gnext.d.next = self.gw_r.q.val();
                        self.g_e.d.next = self.z2.q.val();
                        if self.ox_e.q.val() {
                            self.ox.d.next = self.zero.val();
                            for c in run::IX_FIRST..(run::IX_FIRST + 1) {
                                self.ix0.d.next = self.dq[c].q.val();
                            }
                            self.oy.d.next = self.oy.q.val() + self.one.val();
                            for c in run::SY..(run::SY + 1) {
                                self.iy0.d.next = self.iy0.q.val() + self.dq[c].q.val();
                            }
                            for c in run::STEP_Y..(run::STEP_Y + 1) {
                                self.row_base.d.next = self.row_base.q.val() + self.dq[c].q.val();
                                self.pos_base.d.next = self.row_base.q.val() + self.dq[c].q.val();
                            }
                            self.ox_e.d.next = self.z3.q.val();
                            self.oy_e.d.next = self.oy.q.val() == self.m4.q.val();
                        } else {
                            self.ox.d.next = self.ox.q.val() + self.one.val();
                            for c in run::SX..(run::SX + 1) {
                                self.ix0.d.next = self.ix0.q.val() + self.dq[c].q.val();
                            }
                            for c in run::STEP_X..(run::STEP_X + 1) {
                                self.pos_base.d.next = self.pos_base.q.val() + self.dq[c].q.val();
                            }
                            self.ox_e.d.next = self.ox.q.val() == self.m3.q.val();
                        }
                    } else {
                        self.g.d.next = self.g.q.val() + self.one.val();
                        self.wa.d.next = self.wsum.val();
                        self.gbase.d.next = self.gnext.q.val();
                        self.gnext.d.next = self.gnext.q.val() + self.gw_r.q.val();
                        self.g_e.d.next = self.g.q.val() == self.m2.q.val();
                    }
                } else {
                    // The next pass of the same group.
                    self.ps.d.next = self.ps.q.val() + self.one.val();
                    self.pfirst.d.next = false;
                    self.plast.d.next = self.ps.q.val() == self.pm2.q.val();
                    self.prow.d.next = self.prow.q.val() + self.one.val();
                    self.wa.d.next = self.wsum.val();
                }
            } else {
                self.b.d.next = self.b.q.val() + self.one.val();
                self.b_z.d.next = false;
                self.b_in.d.next = self.b_in.q.val() & !self.b_l.q.val();
                self.b_e.d.next = self.b.q.val() == self.m1.q.val();
                self.b_l.d.next = self.b.q.val() == self.m15.q.val();
                if self.b_in.q.val() & !self.b_l.q.val() {
                    self.wa.d.next = self.wa.q.val() + self.one24.val();
                }
                if self.cw_e.q.val() {
                    self.cw.d.next = self.zero.val();
                    self.cw_e.d.next = self.z5.q.val();
                    if self.kx_e.q.val() {
                        self.kx.d.next = self.zero.val();
                        self.ky.d.next = self.ky.q.val() + self.one.val();
                        for c in run::KROW_JUMP..(run::KROW_JUMP + 1) {
                            self.off.d.next = self.off.q.val() + self.dq[c].q.val();
                        }
                        self.kx_e.d.next = self.z6.q.val();
                    } else {
                        self.kx.d.next = self.kx.q.val() + self.one.val();
                        self.off.d.next = self.off.q.val() + self.one.val();
                        self.kx_e.d.next = self.kx.q.val() == self.m6.q.val();
                    }
                } else {
                    self.cw.d.next = self.cw.q.val() + self.one.val();
                    self.off.d.next = self.off.q.val() + self.one.val();
                    self.cw_e.d.next = self.cw.q.val() == self.m5.q.val();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::D;

    #[test]
    fn perlane_is_registered_on_its_own() {
        assert!(!(D::IN_H..=D::SX).contains(&D::PERLANE));
    }
}
