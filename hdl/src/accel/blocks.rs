//! The accelerator's control and data-movement blocks, in rust-hdl: the beat issuer (im2col addressing), the
//! activation writer (channel-last packing, fused max pool by read-modify-write) and the logit unit (bias, argmax).
//!
//! Per-layer differences live in descriptor [`Table`]s indexed by the layer number (16-bit fields; the field
//! numbers are the `D_*`/`W_*` constants, written as literals inside the kernels because rust-hdl evaluates index
//! expressions with loop variables only). All counters and addresses are 16-bit unsigned and wrap modulo `2^16`:
//! a negative row or column (padding) wraps to a value `≥ H`/`≥ W`, so one unsigned compare is the bounds check.
use super::mem::{Table, ADDR_BITS, WADDR_BITS};
use crate::resize::ZeroResize;
use crate::rom::{ChannelRom, CHANNEL_BITS};
use crate::widths::{high_mask, low_mask};
use rust_hdl::prelude::*;

type A16 = Bits<ADDR_BITS>;
type A24 = Bits<WADDR_BITS>;

/// `n` default values.
fn vd<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

/// Issue descriptor fields (one row per layer): per-lane im2col flag, cycles per group − 1 (beats plus bubbles),
/// groups − 1, output columns − 1, output rows − 1, words per position − 1, kernel width − 1, input height, input
/// width, position step along x (`sx·CW`), row step (`sy·W·CW`), offset jump at a kernel row end
/// (`(W − kw)·CW + 1`), first input column (`−pad_left`), `sy`, `sx`, beats − 1; then the two fields read only
/// when a layer starts: first input row (`−pad_top`), first position base (`(−pad_top·W − pad_left)·CW`); then,
/// wrapping modulo 2^16, the values of fields 1 to 6 and 15 minus one (the counters' last values minus one, for
/// the end flags, so no subtracter follows the table).
pub const ISSUE_FIELDS: usize = 25;

/// The issue descriptor fields the unit registers and reads while a layer runs: field 0 and fields 7..=14
/// (register `dq[0]` holds field 0, `dq[j]` field `j + 6`); the counters' ends are flags of their own.
pub const RUN_FIELDS: usize = 9;

/// Cycles from a beat's issue cycle to the cycle its outputs are valid on the issue unit's ports (table/counter
/// register, address and row/column adders, bounds compare).
pub const ISSUE_LATENCY: usize = 3;

/// Writer descriptor fields (one row per layer): groups − 1, output columns − 1, output rows − 1 (before pooling),
/// pool rows − 1, pool columns − 1, pooled columns, pooled rows, output words per position − 1, pooled position
/// step (`CWo`), pooled row step (`PW·CWo`), largest output code `2^k_a − 1`.
pub const WRITER_FIELDS: usize = 11;

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
    desc: Table,
    patch: Table,
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
    /// An issuer for `simd` lanes with descriptor rows `desc` ([`ISSUE_FIELDS`] each) and the im2col table `patch`
    /// (rows per beat of the per-lane layer: `[off, ky, kx, valid]` per lane; one zero row if there is none).
    pub fn new(simd: usize, desc: Vec<Vec<u16>>, patch: Vec<Vec<u16>>) -> Self {
        assert!(desc.iter().all(|r| r.len() == ISSUE_FIELDS));
        assert!(patch.iter().all(|r| r.len() == 4 * simd));
        Self {
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
            desc: Table::new(desc),
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
            m5, m6, m15, z1, z2, z3, z5, z6, z15, b_z, b_in, b_e, b_l, g_e, ox_e, oy_e, cw_e, kx_e
        );
        self.desc.index.next = self.layer.val();
        // The descriptor row, registered (the `start` branch below reads the table directly).
        for f in 0..RUN_FIELDS {
            self.dq[f].clock.next = self.clock.val();
        }
        self.dq[0].d.next = self.desc.field[0].val();
        for f in 1..RUN_FIELDS {
            self.dq[f].d.next = self.desc.field[f + 6].val();
        }
        self.patch.index.next = self.b.q.val();
        self.perlane.next = self.dq[0].q.val() != self.zero.val();
        self.beat.next = self.b_in.q.val();
        // Stage 1: the beat's im2col entries (table row `b`, or the counters) and controls, registered.
        self.p_en.d.next = self.run.val() & self.beat.val();
        self.p_clear.d.next = self.b_z.q.val();
        self.p_last.d.next = self.b_l.q.val();
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
        for s in 0..self._simd {
            self.inb_q[s].clock.next = self.clock.val();
            self.raddr_q[s].clock.next = self.clock.val();
            self.inb_q[s].d.next = self.a_v[s].q.val()
                & (self.a_iy[s].q.val() < self.dq[1].q.val())
                & (self.a_ix[s].q.val() < self.dq[2].q.val());
            self.raddr_q[s].d.next = self.a_ra[s].q.val();
            self.inb[s].next = self.inb_q[s].q.val();
            self.raddr[s].next = self.raddr_q[s].q.val();
        }
        self.clear_q.d.next = self.a_clear.q.val();
        self.last_q.d.next = self.a_last.q.val();
        self.waddr_q.d.next = self.a_wa.q.val();
        self.clear.next = self.clear_q.q.val();
        self.last.next = self.last_q.q.val();
        self.waddr.next = self.waddr_q.q.val();
        // The counters' end flags are registers, stepped with the counters: `*_e` is "counter == its last value",
        // from the descriptor's last value minus one (`m*`, fields 18..24) or zero (`z*`), so no magnitude compare
        // lies between a counter and the next state.
        self.m1.d.next = self.desc.field[18].val();
        self.m2.d.next = self.desc.field[19].val();
        self.m3.d.next = self.desc.field[20].val();
        self.m4.d.next = self.desc.field[21].val();
        self.m5.d.next = self.desc.field[22].val();
        self.m6.d.next = self.desc.field[23].val();
        self.m15.d.next = self.desc.field[24].val();
        self.z1.d.next = self.desc.field[1].val() == self.zero.val();
        self.z2.d.next = self.desc.field[2].val() == self.zero.val();
        self.z3.d.next = self.desc.field[3].val() == self.zero.val();
        self.z5.d.next = self.desc.field[5].val() == self.zero.val();
        self.z6.d.next = self.desc.field[6].val() == self.zero.val();
        self.z15.d.next = self.desc.field[15].val() == self.zero.val();
        self.final_beat.next = self.b_e.q.val() & self.g_e.q.val() & self.ox_e.q.val() & self.oy_e.q.val();
        if self.start.val() {
            self.b.d.next = self.zero.val();
            self.g.d.next = self.zero.val();
            self.ox.d.next = self.zero.val();
            self.oy.d.next = self.zero.val();
            self.cw.d.next = self.zero.val();
            self.kx.d.next = self.zero.val();
            self.ky.d.next = self.zero.val();
            self.off.d.next = self.zero.val();
            self.wa.d.next = self.zero24.val();
            self.iy0.d.next = self.desc.field[16].val();
            self.ix0.d.next = self.desc.field[12].val();
            self.pos_base.d.next = self.desc.field[17].val();
            self.row_base.d.next = self.desc.field[17].val();
            self.b_z.d.next = true;
            self.b_in.d.next = true;
            self.b_e.d.next = self.desc.field[1].val() == self.zero.val();
            self.b_l.d.next = self.desc.field[15].val() == self.zero.val();
            self.g_e.d.next = self.desc.field[2].val() == self.zero.val();
            self.ox_e.d.next = self.desc.field[3].val() == self.zero.val();
            self.oy_e.d.next = self.desc.field[4].val() == self.zero.val();
            self.cw_e.d.next = self.desc.field[5].val() == self.zero.val();
            self.kx_e.d.next = self.desc.field[6].val() == self.zero.val();
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
                if self.g_e.q.val() {
                    self.g.d.next = self.zero.val();
                    self.wa.d.next = self.zero24.val();
                    self.g_e.d.next = self.z2.q.val();
                    if self.ox_e.q.val() {
                        self.ox.d.next = self.zero.val();
                        self.ix0.d.next = self.dq[6].q.val();
                        self.oy.d.next = self.oy.q.val() + self.one.val();
                        self.iy0.d.next = self.iy0.q.val() + self.dq[7].q.val();
                        self.row_base.d.next = self.row_base.q.val() + self.dq[4].q.val();
                        self.pos_base.d.next = self.row_base.q.val() + self.dq[4].q.val();
                        self.ox_e.d.next = self.z3.q.val();
                        self.oy_e.d.next = self.oy.q.val() == self.m4.q.val();
                    } else {
                        self.ox.d.next = self.ox.q.val() + self.one.val();
                        self.ix0.d.next = self.ix0.q.val() + self.dq[8].q.val();
                        self.pos_base.d.next = self.pos_base.q.val() + self.dq[3].q.val();
                        self.ox_e.d.next = self.ox.q.val() == self.m3.q.val();
                    }
                } else {
                    self.g.d.next = self.g.q.val() + self.one.val();
                    self.wa.d.next = self.wa.q.val() + self.one24.val();
                    self.g_e.d.next = self.g.q.val() == self.m2.q.val();
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
                        self.off.d.next = self.off.q.val() + self.dq[5].q.val();
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

/// The activation writer of a layer that outputs codes: takes the `pe` codes of one output group (`cv`, from the
/// PACT units), clamps them to the layer's `2^k_a − 1`, packs them channel-last into `simd`-lane words and writes
/// them to the destination bank, max-pooling on the way.
///
/// Packing: a group's codes are cut into chunks of `m = min(pe, simd)` codes; with `pe ≤ simd` a word collects
/// `simd/pe` groups (one chunk each) and is written when full or at the position's last group; with `pe > simd` a
/// group is `pe/simd` chunks, one word each, written on consecutive cycles (the first with `cv`). Words past the
/// position's `⌈M/simd⌉` are not written; lanes past the last channel are 0.
///
/// Pooling (window = stride `py × px`, no padding): output position `(y, x)` goes to pooled position
/// `(⌊y/py⌋, ⌊x/px⌋)`; the first position of a window writes its word, the others write the lane-wise maximum of
/// the word and the stored one (read at the write request, written one cycle later); positions past the last whole
/// window are dropped. Without a pool the window is 1 × 1 (every write is a first write).
///
/// Ports: `rd_addr` is the destination bank's read address (the word being requested); `rdata` its read data one
/// cycle later; `we`, `wa`, `wd` the bank write (one cycle after the request); `done` is high once every group of
/// the layer has been written (after `start`).
#[derive(LogicBlock)]
pub struct Writer {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Reset the counters for a new layer.
    pub start: Signal<In, Bit>,
    /// Layer number (selects the descriptor).
    pub layer: Signal<In, A16>,
    /// The `pe` codes of the next output group are on `code`.
    pub cv: Signal<In, Bit>,
    /// Codes from the PACT units, unsigned 8 bits, PE `p` at `p`.
    pub code: Vec<Signal<In, Bits<8>>>,
    /// Destination bank read data, per lane (one cycle after `rd_addr`).
    pub rdata: Vec<Signal<In, Bits<8>>>,
    /// Destination bank read address.
    pub rd_addr: Signal<Out, A16>,
    /// Destination bank write enable, address, data per lane.
    pub we: Signal<Out, Bit>,
    pub wa: Signal<Out, A16>,
    pub wd: Vec<Signal<Out, Bits<8>>>,
    /// Every word of the layer has been written.
    pub done: Signal<Out, Bit>,
    desc: Table,
    dq: Vec<DFF<A16>>,
    mx: ZeroResize<16, 8>,
    wg: DFF<A16>,
    slot: DFF<A16>,
    ow: DFF<A16>,
    k: DFF<A16>,
    wox: DFF<A16>,
    woy: DFF<A16>,
    rx: DFF<A16>,
    ry: DFF<A16>,
    px: DFF<A16>,
    py: DFF<A16>,
    wpos: DFF<A16>,
    wrow: DFF<A16>,
    active: DFF<Bit>,
    got_all: DFF<Bit>,
    fin: DFF<Bit>,
    stage: Vec<DFF<Bits<8>>>,
    wreg: Vec<DFF<Bits<8>>>,
    p_req: DFF<Bit>,
    p_first: DFF<Bit>,
    p_addr: DFF<A16>,
    addr_r: DFF<A16>,
    px_out: DFF<Bit>,
    py_out: DFF<Bit>,
    ow_in: DFF<Bit>,
    pm5: DFF<A16>,
    pm6: DFF<A16>,
    /// `slot == simd/pe − 1` and `wg == groups − 1`, as registers stepped with the counters.
    slot_e: DFF<Bit>,
    wg_e: DFF<Bit>,
    wm0: DFF<A16>,
    rn1: Constant<Bit>,
    rn_m2: Constant<A16>,
    p_data: Vec<DFF<Bits<8>>>,
    maxc: Signal<Local, Bits<8>>,
    cl: Vec<Signal<Local, Bits<8>>>,
    src: Vec<Signal<Local, Bits<8>>>,
    merged: Vec<Signal<Local, Bits<8>>>,
    cur: Signal<Local, Bit>,
    last_chunk: Signal<Local, Bit>,
    emit: Signal<Local, Bit>,
    group_done: Signal<Local, Bit>,
    first: Signal<Local, Bit>,
    dropped: Signal<Local, Bit>,
    wreq: Signal<Local, Bit>,
    addr: Signal<Local, A16>,
    kc: Vec<Constant<A16>>,
    rw_m: Constant<A16>,
    single: Constant<Bit>,
    zero: Constant<A16>,
    one: Constant<A16>,
    zero8: Constant<Bits<8>>,
    _pe: usize,
    _simd: usize,
    _m: usize,
    _rn: usize,
    _rw: usize,
}

impl Writer {
    /// A writer for `pe` PACT units and `simd` lanes (one must divide the other) with descriptor rows `desc`
    /// ([`WRITER_FIELDS`] each).
    pub fn new(pe: usize, simd: usize, desc: Vec<Vec<u16>>) -> Self {
        assert!(pe % simd == 0 || simd % pe == 0, "Writer needs PE | SIMD or SIMD | PE");
        assert!(desc.iter().all(|r| r.len() == WRITER_FIELDS));
        let m = pe.min(simd);
        let (rn, rw) = (simd / m, pe / m);
        Self {
            clock: Default::default(),
            start: Default::default(),
            layer: Default::default(),
            cv: Default::default(),
            code: vd(pe),
            rdata: vd(simd),
            rd_addr: Default::default(),
            we: Default::default(),
            wa: Default::default(),
            wd: vd(simd),
            done: Default::default(),
            desc: Table::new(desc),
            dq: vd(WRITER_FIELDS),
            mx: Default::default(),
            wg: Default::default(),
            slot: Default::default(),
            ow: Default::default(),
            k: Default::default(),
            wox: Default::default(),
            woy: Default::default(),
            rx: Default::default(),
            ry: Default::default(),
            px: Default::default(),
            py: Default::default(),
            wpos: Default::default(),
            wrow: Default::default(),
            active: Default::default(),
            got_all: Default::default(),
            fin: Default::default(),
            stage: vd(pe),
            wreg: vd(simd),
            p_req: Default::default(),
            p_first: Default::default(),
            p_addr: Default::default(),
            addr_r: Default::default(),
            px_out: Default::default(),
            py_out: Default::default(),
            ow_in: Default::default(),
            pm5: Default::default(),
            pm6: Default::default(),
            slot_e: Default::default(),
            wg_e: Default::default(),
            wm0: Default::default(),
            rn1: Constant::new(rn == 1),
            rn_m2: Constant::new(bits((rn as u64).wrapping_sub(2) & 0xffff)),
            p_data: vd(simd),
            maxc: Default::default(),
            cl: vd(pe),
            src: vd(m),
            merged: vd(simd),
            cur: Default::default(),
            last_chunk: Default::default(),
            emit: Default::default(),
            group_done: Default::default(),
            first: Default::default(),
            dropped: Default::default(),
            wreq: Default::default(),
            addr: Default::default(),
            kc: (0..rn.max(rw)).map(|i| Constant::new(bits(i as u64))).collect(),
            rw_m: Constant::new(bits(rw as u64 - 1)),
            single: Constant::new(rw == 1),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            zero8: Constant::new(bits(0)),
            _pe: pe,
            _simd: simd,
            _m: m,
            _rn: rn,
            _rw: rw,
        }
    }
}

impl Logic for Writer {
    // Index arithmetic: chunk `kk` of a group is codes `kk·m .. kk·m + m`; word lane `r·m + j` takes chunk lane `j`
    // when `slot = r`. `n` is `m`, bound by a one-iteration loop so that rust-hdl can evaluate the indices.
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, wg, slot, ow, k, wox, woy, rx, ry, px, py, wpos, wrow, active, got_all, fin, p_req, p_first,
            p_addr, addr_r, px_out, py_out, ow_in, pm5, pm6, slot_e, wg_e, wm0
        );
        for p in 0..self._pe {
            self.stage[p].clock.next = self.clock.val();
            self.stage[p].d.next = self.stage[p].q.val();
        }
        for s in 0..self._simd {
            self.wreg[s].clock.next = self.clock.val();
            self.wreg[s].d.next = self.wreg[s].q.val();
            self.p_data[s].clock.next = self.clock.val();
        }
        self.desc.index.next = self.layer.val();
        // The descriptor row, registered (the first codes of a layer come long after its start).
        for f in 0..self.dq.len() {
            self.dq[f].clock.next = self.clock.val();
            self.dq[f].d.next = self.desc.field[f].val();
        }
        self.mx.x.next = self.dq[10].q.val();
        self.maxc.next = self.mx.y.val();
        for p in 0..self._pe {
            if self.code[p].val() > self.maxc.val() {
                self.cl[p].next = self.maxc.val();
            } else {
                self.cl[p].next = self.code[p].val();
            }
        }
        self.cur.next = self.cv.val() | self.active.q.val();
        for n in self._m..(self._m + 1) {
            for j in 0..self._m {
                self.src[j].next = self.cl[j].val();
            }
            for kk in 1..self._rw {
                if !self.cv.val() & (self.k.q.val() == self.kc[kk].val()) {
                    for j in 0..self._m {
                        self.src[j].next = self.stage[kk * n + j].q.val();
                    }
                }
            }
            for r in 0..self._rn {
                for j in 0..self._m {
                    if self.slot.q.val() == self.kc[r].val() {
                        self.merged[r * n + j].next = self.src[j].val();
                    } else if self.kc[r].val() < self.slot.q.val() {
                        self.merged[r * n + j].next = self.wreg[r * n + j].q.val();
                    } else {
                        self.merged[r * n + j].next = self.zero8.val();
                    }
                }
            }
        }
        if self.cv.val() {
            self.last_chunk.next = self.single.val();
        } else {
            self.last_chunk.next = self.k.q.val() == self.rw_m.val();
        }
        self.emit.next = self.cur.val() & (self.slot_e.q.val() | (self.wg_e.q.val() & self.last_chunk.val()));
        self.group_done.next = self.cur.val() & self.last_chunk.val();
        self.first.next = (self.rx.q.val() == self.zero.val()) & (self.ry.q.val() == self.zero.val());
        // `px ≥ PW`, `py ≥ PH` and `ow ≤ CWo − 1` as registers stepped with the counters (`pm*`: the descriptor's
        // pooled columns and rows minus one), so no magnitude compare lies before the write request.
        // (From the registered row: the first codes of a layer come long after its start.)
        self.pm5.d.next = self.dq[5].q.val() - self.one.val();
        self.pm6.d.next = self.dq[6].q.val() - self.one.val();
        self.wm0.d.next = self.dq[0].q.val() - self.one.val();
        self.dropped.next = self.px_out.q.val() | self.py_out.q.val();
        self.wreq.next = self.emit.val() & !self.dropped.val() & self.ow_in.q.val();
        // `wpos + ow`, kept in a register of its own (stepped with `wpos` and `ow` below): the bank's read address
        // comes from a register.
        self.addr.next = self.addr_r.q.val();
        self.rd_addr.next = self.addr.val();
        // Read-modify-write register: the write happens one cycle after the request, with the read word.
        self.p_req.d.next = self.wreq.val();
        self.p_addr.d.next = self.addr.val();
        self.p_first.d.next = self.first.val();
        for s in 0..self._simd {
            self.p_data[s].d.next = self.merged[s].val();
            if self.p_first.q.val() | (self.p_data[s].q.val() > self.rdata[s].val()) {
                self.wd[s].next = self.p_data[s].q.val();
            } else {
                self.wd[s].next = self.rdata[s].val();
            }
        }
        self.we.next = self.p_req.q.val();
        self.wa.next = self.p_addr.q.val();
        // Done one cycle after the last chunk's write slot, whether or not that chunk wrote (a dropped position or
        // a word past the last channel writes nothing), so the drain is the same for every layer.
        self.fin.d.next = self.got_all.q.val() & !self.active.q.val();
        self.done.next = self.fin.q.val();
        if self.cur.val() {
            if self.cv.val() {
                for p in 0..self._pe {
                    self.stage[p].d.next = self.cl[p].val();
                }
                self.k.d.next = self.one.val();
                self.active.d.next = !self.single.val();
            } else {
                self.k.d.next = self.k.q.val() + self.one.val();
                if self.k.q.val() == self.rw_m.val() {
                    self.active.d.next = false;
                }
            }
            if self.emit.val() {
                self.slot.d.next = self.zero.val();
                self.slot_e.d.next = self.rn1.val();
                self.ow.d.next = self.ow.q.val() + self.one.val();
                self.addr_r.d.next = self.addr_r.q.val() + self.one.val();
                self.ow_in.d.next = self.ow_in.q.val() & (self.ow.q.val() != self.dq[7].q.val());
            } else {
                self.slot.d.next = self.slot.q.val() + self.one.val();
                self.slot_e.d.next = self.slot.q.val() == self.rn_m2.val();
                for s in 0..self._simd {
                    self.wreg[s].d.next = self.merged[s].val();
                }
            }
            if self.group_done.val() {
                if self.wg_e.q.val() {
                    self.wg.d.next = self.zero.val();
                    self.wg_e.d.next = self.dq[0].q.val() == self.zero.val();
                    self.ow.d.next = self.zero.val();
                    self.slot.d.next = self.zero.val();
                    self.slot_e.d.next = self.rn1.val();
                    self.addr_r.d.next = self.wpos.q.val();
                    self.ow_in.d.next = true;
                    if self.wox.q.val() == self.dq[1].q.val() {
                        self.wox.d.next = self.zero.val();
                        self.rx.d.next = self.zero.val();
                        self.px.d.next = self.zero.val();
                        self.px_out.d.next = self.dq[5].q.val() == self.zero.val();
                        if self.woy.q.val() == self.dq[2].q.val() {
                            self.got_all.d.next = true;
                        }
                        self.woy.d.next = self.woy.q.val() + self.one.val();
                        if self.ry.q.val() == self.dq[3].q.val() {
                            self.ry.d.next = self.zero.val();
                            self.py.d.next = self.py.q.val() + self.one.val();
                            self.py_out.d.next = self.py_out.q.val() | (self.py.q.val() == self.pm6.q.val());
                            self.wrow.d.next = self.wrow.q.val() + self.dq[9].q.val();
                            self.wpos.d.next = self.wrow.q.val() + self.dq[9].q.val();
                            self.addr_r.d.next = self.wrow.q.val() + self.dq[9].q.val();
                        } else {
                            self.ry.d.next = self.ry.q.val() + self.one.val();
                            self.wpos.d.next = self.wrow.q.val();
                            self.addr_r.d.next = self.wrow.q.val();
                        }
                    } else {
                        self.wox.d.next = self.wox.q.val() + self.one.val();
                        if self.rx.q.val() == self.dq[4].q.val() {
                            self.rx.d.next = self.zero.val();
                            self.px.d.next = self.px.q.val() + self.one.val();
                            self.px_out.d.next = self.px_out.q.val() | (self.px.q.val() == self.pm5.q.val());
                            self.wpos.d.next = self.wpos.q.val() + self.dq[8].q.val();
                            self.addr_r.d.next = self.wpos.q.val() + self.dq[8].q.val();
                        } else {
                            self.rx.d.next = self.rx.q.val() + self.one.val();
                        }
                    }
                } else {
                    self.wg.d.next = self.wg.q.val() + self.one.val();
                    self.wg_e.d.next = self.wg.q.val() == self.wm0.q.val();
                }
            }
        }
        if self.start.val() {
            self.wg.d.next = self.zero.val();
            self.wg_e.d.next = self.desc.field[0].val() == self.zero.val();
            self.slot.d.next = self.zero.val();
            self.slot_e.d.next = self.rn1.val();
            self.ow.d.next = self.zero.val();
            self.k.d.next = self.zero.val();
            self.wox.d.next = self.zero.val();
            self.woy.d.next = self.zero.val();
            self.rx.d.next = self.zero.val();
            self.ry.d.next = self.zero.val();
            self.px.d.next = self.zero.val();
            self.py.d.next = self.zero.val();
            self.wpos.d.next = self.zero.val();
            self.wrow.d.next = self.zero.val();
            self.addr_r.d.next = self.zero.val();
            self.px_out.d.next = self.desc.field[5].val() == self.zero.val();
            self.py_out.d.next = self.desc.field[6].val() == self.zero.val();
            self.ow_in.d.next = true;
            self.active.d.next = false;
            self.got_all.d.next = false;
            self.fin.d.next = false;
        }
    }
}

/// The last layer's output path: per PE, `logit = wrap_acc(acc + bias[channel])` (the bias from a
/// [`ChannelRom`] per PE, slot = output group), written to the logit RAMs (`lwe`, `lwa` = group, `lwd[p]`,
/// signed `acc` bits sign-extended to 32) and folded into a running argmax (strictly greater wins, so the lowest
/// channel wins ties; channels past the last output are skipped). Latency: sums presented with `valid` in cycle
/// `t` are written in cycle `t + 2`; `class` and `done` are valid from cycle `t + 3 + L` after the last group,
/// `L = ⌈log2 pe⌉` ([`argmax_levels`]).
///
/// The argmax is a pipelined tournament: the group's `pe` logits (padded to a power of two with absent entries)
/// are compared pairwise, one registered tree level per cycle (the left entry, the lower channel, wins ties), and
/// the group's winner is folded into the running best (strictly greater wins, so earlier groups win ties). Values
/// are compared as unsigned keys `(logit mod 2^acc) XOR 2^(acc−1)`, which order like the signed logits and have
/// no bits above `acc`. One group per cycle.
#[derive(LogicBlock)]
pub struct LogitUnit {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Reset for a new inference (one cycle before the first sums).
    pub start: Signal<In, Bit>,
    /// `acc` holds the sums of the next output group.
    pub valid: Signal<In, Bit>,
    /// Sums from the MAC array, signed, `acc` significant bits sign-extended to 32.
    pub acc: Vec<Signal<In, Signed<32>>>,
    /// Logit RAM write enable, address (group), data per PE (signed logit as 32 bits).
    pub lwe: Signal<Out, Bit>,
    pub lwa: Signal<Out, A16>,
    pub lwd: Vec<Signal<Out, Bits<32>>>,
    /// Index of the largest logit so far (the class once `done`).
    pub best: Signal<Out, A16>,
    /// Every group has been folded into `class`.
    pub done: Signal<Out, Bit>,
    bias: Vec<ChannelRom<32>>,
    ba: ZeroResize<16, CHANNEL_BITS>,
    lg: DFF<A16>,
    cb: DFF<A16>,
    g1: DFF<A16>,
    cb1: DFF<A16>,
    v1: DFF<Bit>,
    g2: DFF<A16>,
    cb2: DFF<A16>,
    v2: DFF<Bit>,
    a1: Vec<DFF<Bits<32>>>,
    l2: Vec<DFF<Signed<32>>>,
    best_v: DFF<Bits<32>>,
    best_i: DFF<A16>,
    have: DFF<Bit>,
    got_all: DFF<Bit>,
    nv: Vec<Signal<Local, Bits<32>>>,
    ni: Vec<Signal<Local, A16>>,
    nh: Vec<Signal<Local, Bit>>,
    tv: Vec<DFF<Bits<32>>>,
    ti: Vec<DFF<A16>>,
    th: Vec<DFF<Bit>>,
    dv: Vec<DFF<Bit>>,
    dg: Vec<DFF<Bit>>,
    tap_v: Vec<Signal<Local, Bit>>,
    tap_g: Vec<Signal<Local, Bit>>,
    take: Signal<Local, Bit>,
    flip: Constant<Bits<32>>,
    zero32: Constant<Bits<32>>,
    sum: Vec<Signal<Local, Bits<32>>>,
    sgn: Vec<Signal<Local, Bit>>,
    pv: Vec<Signal<Local, Bit>>,
    chan: Vec<Signal<Local, A16>>,
    gm: Constant<A16>,
    pe16: Constant<A16>,
    pc: Vec<Constant<A16>>,
    plast: Vec<Constant<Bit>>,
    lo: Constant<Bits<32>>,
    hi: Constant<Bits<32>>,
    zero: Constant<A16>,
    one: Constant<A16>,
    _pe: usize,
    _acc: usize,
    _p2: usize,
    _lv: usize,
}

/// Registered levels of the logit unit's argmax tree for `pe` PEs: `⌈log2 pe⌉` (0 for one PE).
pub fn argmax_levels(pe: usize) -> usize {
    pe.next_power_of_two().trailing_zeros() as usize
}

impl LogitUnit {
    /// A logit unit for `pe` PEs, `classes` outputs, accumulators wrapped at `acc` bits (2..=32) and the biases
    /// `bias[p][g]` of channel `g·pe + p` (each `⌈classes/pe⌉` long).
    pub fn new(pe: usize, classes: usize, acc: u32, bias: &[Vec<i64>]) -> Self {
        assert!((2..=32).contains(&acc) && bias.len() == pe && classes >= 1);
        let groups = classes.div_ceil(pe);
        let last_n = classes - (groups - 1) * pe;
        let (p2, lv) = (pe.next_power_of_two(), argmax_levels(pe));
        Self {
            clock: Default::default(),
            start: Default::default(),
            valid: Default::default(),
            acc: vd(pe),
            lwe: Default::default(),
            lwa: Default::default(),
            lwd: vd(pe),
            best: Default::default(),
            done: Default::default(),
            bias: bias
                .iter()
                .map(|b| ChannelRom::new(&b.iter().map(|&x| x as u64).collect::<Vec<_>>(), acc as usize, true))
                .collect(),
            ba: Default::default(),
            lg: Default::default(),
            cb: Default::default(),
            g1: Default::default(),
            cb1: Default::default(),
            v1: Default::default(),
            g2: Default::default(),
            cb2: Default::default(),
            v2: Default::default(),
            a1: vd(pe),
            l2: vd(pe),
            best_v: Default::default(),
            best_i: Default::default(),
            have: Default::default(),
            got_all: Default::default(),
            nv: vd(2 * p2 - 1),
            ni: vd(2 * p2 - 1),
            nh: vd(2 * p2 - 1),
            tv: vd(p2 - 1),
            ti: vd(p2 - 1),
            th: vd(p2 - 1),
            dv: vd(lv),
            dg: vd(lv),
            tap_v: vd(lv + 1),
            tap_g: vd(lv + 1),
            take: Default::default(),
            flip: Constant::new(bits(1u64 << (acc - 1))),
            zero32: Constant::new(bits(0)),
            sum: vd(pe),
            sgn: vd(pe),
            pv: vd(pe),
            chan: vd(pe),
            gm: Constant::new(bits(groups as u64 - 1)),
            pe16: Constant::new(bits(pe as u64)),
            pc: (0..pe).map(|p| Constant::new(bits(p as u64))).collect(),
            plast: (0..pe).map(|p| Constant::new(p < last_n)).collect(),
            lo: Constant::new(bits(low_mask(acc))),
            hi: Constant::new(bits(high_mask(acc, 32))),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            _pe: pe,
            _acc: acc as usize,
            _p2: p2,
            _lv: lv,
        }
    }
}

impl Logic for LogitUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lg, cb, g1, cb1, v1, g2, cb2, v2, best_v, best_i, have, got_all);
        self.ba.x.next = self.lg.q.val();
        for p in 0..self._pe {
            self.bias[p].clock.next = self.clock.val();
            self.bias[p].address.next = self.ba.y.val();
            self.a1[p].clock.next = self.clock.val();
            self.a1[p].d.next = self.a1[p].q.val();
            self.l2[p].clock.next = self.clock.val();
        }
        // Stage 1: register the sums; the bias ROMs read the group's slot at the same edge.
        self.v1.d.next = self.valid.val();
        if self.valid.val() {
            for p in 0..self._pe {
                self.a1[p].d.next = unsigned_cast(self.acc[p].val());
            }
            self.g1.d.next = self.lg.q.val();
            self.cb1.d.next = self.cb.q.val();
            if self.lg.q.val() == self.gm.val() {
                self.lg.d.next = self.zero.val();
                self.cb.d.next = self.zero.val();
            } else {
                self.lg.d.next = self.lg.q.val() + self.one.val();
                self.cb.d.next = self.cb.q.val() + self.pe16.val();
            }
        }
        // Stage 2: add the bias, wrap at acc bits.
        for p in 0..self._pe {
            self.sum[p].next = self.a1[p].q.val() + self.bias[p].data.val();
            for m in (self._acc - 1)..self._acc {
                self.sgn[p].next = self.sum[p].val().get_bit(m);
            }
            if self.sgn[p].val() {
                self.l2[p].d.next = signed_cast(self.sum[p].val() | self.hi.val());
            } else {
                self.l2[p].d.next = signed_cast(self.sum[p].val() & self.lo.val());
            }
        }
        self.v2.d.next = self.v1.q.val();
        self.g2.d.next = self.g1.q.val();
        self.cb2.d.next = self.cb1.q.val();
        // Stage 3: write the logits and fold them into the argmax (channel order, strictly greater wins).
        self.lwe.next = self.v2.q.val();
        self.lwa.next = self.g2.q.val();
        for p in 0..self._pe {
            self.lwd[p].next = unsigned_cast(self.l2[p].q.val());
        }
        // The tournament: leaves are the group's logits as keys (absent channels and padding entries invalid),
        // node `n + k` (registered) the winner of nodes `2k` and `2k + 1`; the root is node `2n − 2`.
        for n in self._p2..(self._p2 + 1) {
            for p in 0..self._pe {
                self.pv[p].next = (self.g2.q.val() != self.gm.val()) | self.plast[p].val();
                self.chan[p].next = self.cb2.q.val() + self.pc[p].val();
                self.nv[p].next = (unsigned_cast(self.l2[p].q.val()) & self.lo.val()) ^ self.flip.val();
                self.ni[p].next = self.chan[p].val();
                self.nh[p].next = self.pv[p].val();
            }
            for p in self._pe..self._p2 {
                self.nv[p].next = self.zero32.val();
                self.ni[p].next = self.zero.val();
                self.nh[p].next = false;
            }
            for k in 0..(self._p2 - 1) {
                self.tv[k].clock.next = self.clock.val();
                self.ti[k].clock.next = self.clock.val();
                self.th[k].clock.next = self.clock.val();
                if self.nh[2 * k + 1].val()
                    & (!self.nh[2 * k].val() | (self.nv[2 * k + 1].val() > self.nv[2 * k].val()))
                {
                    self.tv[k].d.next = self.nv[2 * k + 1].val();
                    self.ti[k].d.next = self.ni[2 * k + 1].val();
                    self.th[k].d.next = true;
                } else {
                    self.tv[k].d.next = self.nv[2 * k].val();
                    self.ti[k].d.next = self.ni[2 * k].val();
                    self.th[k].d.next = self.nh[2 * k].val();
                }
                self.nv[n + k].next = self.tv[k].q.val();
                self.ni[n + k].next = self.ti[k].q.val();
                self.nh[n + k].next = self.th[k].q.val();
            }
        }
        // The group's valid flag and last-group flag, delayed by the tree's levels.
        self.tap_v[0].next = self.v2.q.val();
        self.tap_g[0].next = self.g2.q.val() == self.gm.val();
        for j in 0..self._lv {
            self.dv[j].clock.next = self.clock.val();
            self.dg[j].clock.next = self.clock.val();
            self.dv[j].d.next = self.tap_v[j].val();
            self.dg[j].d.next = self.tap_g[j].val();
            self.tap_v[j + 1].next = self.dv[j].q.val();
            self.tap_g[j + 1].next = self.dg[j].q.val();
        }
        // Fold the group's winner into the running best (strictly greater wins).
        for n in self._p2..(self._p2 + 1) {
            self.take.next =
                self.nh[2 * n - 2].val() & (!self.have.q.val() | (self.nv[2 * n - 2].val() > self.best_v.q.val()));
            for q in self._lv..(self._lv + 1) {
                if self.tap_v[q].val() {
                    if self.take.val() {
                        self.best_v.d.next = self.nv[2 * n - 2].val();
                        self.best_i.d.next = self.ni[2 * n - 2].val();
                        self.have.d.next = true;
                    }
                    if self.tap_g[q].val() {
                        self.got_all.d.next = true;
                    }
                }
            }
        }
        self.best.next = self.best_i.q.val();
        self.done.next = self.got_all.q.val();
        if self.start.val() {
            self.lg.d.next = self.zero.val();
            self.cb.d.next = self.zero.val();
            self.v1.d.next = false;
            self.v2.d.next = false;
            self.best_v.d.next = self.zero32.val();
            self.have.d.next = false;
            self.got_all.d.next = false;
            for j in 0..self._lv {
                self.dv[j].d.next = false;
            }
        }
    }
}
