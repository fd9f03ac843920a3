//! The activation writer in rust-hdl: channel-last packing of a layer's output codes and the fused max pool by
//! read-modify-write, driven by the [`WriterRow`] descriptor table (read through the column constants
//! `WriterRow::*`, each bound by a one-iteration `for` loop inside the kernel: rust-hdl evaluates index
//! expressions with loop variables only).
use super::desc::WriterRow as D;
use super::mem::Table;
use super::shared::{vd, A16};
use crate::resize::ZeroResize;
use rust_hdl::prelude::*;

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
    /// The window counters at their last value (`wox == OW − 1`, `woy == OH − 1`, `rx == px − 1`, `ry == py − 1`),
    /// stepped with the counters from the descriptor fields minus one (`owm2` … `pym2`: the last value minus one),
    /// so that the position step decides from registers instead of 16-bit compares.
    wox_e: DFF<Bit>,
    woy_e: DFF<Bit>,
    rx_e: DFF<Bit>,
    ry_e: DFF<Bit>,
    owm2: DFF<A16>,
    ohm2: DFF<A16>,
    pxm2: DFF<A16>,
    pym2: DFF<A16>,
    pm5: DFF<A16>,
    pm6: DFF<A16>,
    /// `slot == simd/pe − 1` and `wg == groups − 1`, as registers stepped with the counters.
    slot_e: DFF<Bit>,
    wg_e: DFF<Bit>,
    wm0: DFF<A16>,
    rn1: Constant<Bit>,
    rn_m2: Constant<A16>,
    p_data: Vec<DFF<Bits<8>>>,
    /// The layer's largest code, registered once more beside the clamp (the descriptor row fans out across the
    /// writer; this copy is placed at the compare).
    maxc: DFF<Bits<8>>,
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
    /// (one row per layer).
    pub fn new(pe: usize, simd: usize, desc: &[D]) -> Self {
        assert!(pe % simd == 0 || simd % pe == 0, "Writer needs PE | SIMD or SIMD | PE");
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
            desc: Table::new(desc.iter().map(D::to_words).collect()),
            dq: vd(D::FIELDS),
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
            wox_e: Default::default(),
            woy_e: Default::default(),
            rx_e: Default::default(),
            ry_e: Default::default(),
            owm2: Default::default(),
            ohm2: Default::default(),
            pxm2: Default::default(),
            pym2: Default::default(),
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
            p_addr, addr_r, px_out, py_out, ow_in, pm5, pm6, slot_e, wg_e, wm0, maxc, wox_e, woy_e, rx_e, ry_e, owm2,
            ohm2, pxm2, pym2
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
        for c in D::CODE_MAX..(D::CODE_MAX + 1) {
            self.mx.x.next = self.dq[c].q.val();
        }
        self.maxc.d.next = self.mx.y.val();
        for p in 0..self._pe {
            if self.code[p].val() > self.maxc.q.val() {
                self.cl[p].next = self.maxc.q.val();
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
        for c in D::PW..(D::PW + 1) {
            self.pm5.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::PH..(D::PH + 1) {
            self.pm6.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::GROUPS_M1..(D::GROUPS_M1 + 1) {
            self.wm0.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::OW_M1..(D::OW_M1 + 1) {
            self.owm2.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::OH_M1..(D::OH_M1 + 1) {
            self.ohm2.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::POOL_X_M1..(D::POOL_X_M1 + 1) {
            self.pxm2.d.next = self.dq[c].q.val() - self.one.val();
        }
        for c in D::POOL_Y_M1..(D::POOL_Y_M1 + 1) {
            self.pym2.d.next = self.dq[c].q.val() - self.one.val();
        }
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
                for c in D::CWO_M1..(D::CWO_M1 + 1) {
                    self.ow_in.d.next = self.ow_in.q.val() & (self.ow.q.val() != self.dq[c].q.val());
                }
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
                    for c in D::GROUPS_M1..(D::GROUPS_M1 + 1) {
                        self.wg_e.d.next = self.dq[c].q.val() == self.zero.val();
                    }
                    self.ow.d.next = self.zero.val();
                    self.slot.d.next = self.zero.val();
                    self.slot_e.d.next = self.rn1.val();
                    self.addr_r.d.next = self.wpos.q.val();
                    self.ow_in.d.next = true;
                    for ow in D::OW_M1..(D::OW_M1 + 1) {
                        for py in D::POOL_Y_M1..(D::POOL_Y_M1 + 1) {
                            for px in D::POOL_X_M1..(D::POOL_X_M1 + 1) {
                                if self.wox_e.q.val() {
                                    self.wox.d.next = self.zero.val();
                                    self.wox_e.d.next = self.dq[ow].q.val() == self.zero.val();
                                    self.rx.d.next = self.zero.val();
                                    self.rx_e.d.next = self.dq[px].q.val() == self.zero.val();
                                    self.px.d.next = self.zero.val();
                                    for c in D::PW..(D::PW + 1) {
                                        self.px_out.d.next = self.dq[c].q.val() == self.zero.val();
                                    }
                                    if self.woy_e.q.val() {
                                        self.got_all.d.next = true;
                                    }
                                    self.woy.d.next = self.woy.q.val() + self.one.val();
                                    self.woy_e.d.next = self.woy.q.val() == self.ohm2.q.val();
                                    if self.ry_e.q.val() {
                                        self.ry.d.next = self.zero.val();
                                        self.ry_e.d.next = self.dq[py].q.val() == self.zero.val();
                                        self.py.d.next = self.py.q.val() + self.one.val();
                                        self.py_out.d.next =
                                            self.py_out.q.val() | (self.py.q.val() == self.pm6.q.val());
                                        for c in D::ROW_STEP..(D::ROW_STEP + 1) {
                                            self.wrow.d.next = self.wrow.q.val() + self.dq[c].q.val();
                                            self.wpos.d.next = self.wrow.q.val() + self.dq[c].q.val();
                                            self.addr_r.d.next = self.wrow.q.val() + self.dq[c].q.val();
                                        }
                                    } else {
                                        self.ry.d.next = self.ry.q.val() + self.one.val();
                                        self.ry_e.d.next = self.ry.q.val() == self.pym2.q.val();
                                        self.wpos.d.next = self.wrow.q.val();
                                        self.addr_r.d.next = self.wrow.q.val();
                                    }
                                } else {
                                    self.wox.d.next = self.wox.q.val() + self.one.val();
                                    self.wox_e.d.next = self.wox.q.val() == self.owm2.q.val();
                                    if self.rx_e.q.val() {
                                        self.rx.d.next = self.zero.val();
                                        self.rx_e.d.next = self.dq[px].q.val() == self.zero.val();
                                        self.px.d.next = self.px.q.val() + self.one.val();
                                        self.px_out.d.next =
                                            self.px_out.q.val() | (self.px.q.val() == self.pm5.q.val());
                                        for c in D::CWO..(D::CWO + 1) {
                                            self.wpos.d.next = self.wpos.q.val() + self.dq[c].q.val();
                                            self.addr_r.d.next = self.wpos.q.val() + self.dq[c].q.val();
                                        }
                                    } else {
                                        self.rx.d.next = self.rx.q.val() + self.one.val();
                                        self.rx_e.d.next = self.rx.q.val() == self.pxm2.q.val();
                                    }
                                }
                            }
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
            for c in D::GROUPS_M1..(D::GROUPS_M1 + 1) {
                self.wg_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            self.slot.d.next = self.zero.val();
            self.slot_e.d.next = self.rn1.val();
            self.ow.d.next = self.zero.val();
            self.k.d.next = self.zero.val();
            self.wox.d.next = self.zero.val();
            self.woy.d.next = self.zero.val();
            self.rx.d.next = self.zero.val();
            self.ry.d.next = self.zero.val();
            for c in D::OW_M1..(D::OW_M1 + 1) {
                self.wox_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::OH_M1..(D::OH_M1 + 1) {
                self.woy_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::POOL_X_M1..(D::POOL_X_M1 + 1) {
                self.rx_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::POOL_Y_M1..(D::POOL_Y_M1 + 1) {
                self.ry_e.d.next = self.desc.field[c].val() == self.zero.val();
            }
            self.px.d.next = self.zero.val();
            self.py.d.next = self.zero.val();
            self.wpos.d.next = self.zero.val();
            self.wrow.d.next = self.zero.val();
            self.addr_r.d.next = self.zero.val();
            for c in D::PW..(D::PW + 1) {
                self.px_out.d.next = self.desc.field[c].val() == self.zero.val();
            }
            for c in D::PH..(D::PH + 1) {
                self.py_out.d.next = self.desc.field[c].val() == self.zero.val();
            }
            self.ow_in.d.next = true;
            self.active.d.next = false;
            self.got_all.d.next = false;
            self.fin.d.next = false;
        }
    }
}
