//! The logit unit in rust-hdl: the last layer's bias add, logit RAM writes and pipelined argmax.
use super::shared::{vd, A16};
use crate::resize::{FlagKey, ZeroResize};
use crate::rom::{ChannelRom, CHANNEL_BITS};
use crate::widths::{high_mask, low_mask};
use rust_hdl::prelude::*;

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
    v2: DFF<Bit>,
    a1: Vec<DFF<Bits<32>>>,
    l2: Vec<DFF<Signed<32>>>,
    k2: Vec<DFF<Bits<32>>>,
    i2: Vec<DFF<A16>>,
    h2: Vec<DFF<Bit>>,
    best_v: DFF<Bits<32>>,
    best_i: DFF<A16>,
    have: DFF<Bit>,
    pk: DFF<Bits<32>>,
    pi: DFF<A16>,
    tk: DFF<Bit>,
    xc: FlagKey<32, 34>,
    xp: FlagKey<32, 34>,
    xb: FlagKey<32, 34>,
    gtp: Signal<Local, Bit>,
    gtb: Signal<Local, Bit>,
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
            v2: Default::default(),
            a1: vd(pe),
            l2: vd(pe),
            k2: vd(pe),
            i2: vd(pe),
            h2: vd(pe),
            best_v: Default::default(),
            best_i: Default::default(),
            have: Default::default(),
            pk: Default::default(),
            pi: Default::default(),
            tk: Default::default(),
            xc: Default::default(),
            xp: Default::default(),
            xb: Default::default(),
            gtp: Default::default(),
            gtb: Default::default(),
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
        dff_setup!(self, clock, lg, cb, g1, cb1, v1, g2, v2, best_v, best_i, have, pk, pi, tk, got_all);
        self.ba.x.next = self.lg.q.val();
        for p in 0..self._pe {
            self.bias[p].clock.next = self.clock.val();
            self.bias[p].address.next = self.ba.y.val();
            self.a1[p].clock.next = self.clock.val();
            self.a1[p].d.next = self.a1[p].q.val();
            self.l2[p].clock.next = self.clock.val();
            self.k2[p].clock.next = self.clock.val();
            self.i2[p].clock.next = self.clock.val();
            self.h2[p].clock.next = self.clock.val();
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
            // The argmax leaf, registered beside the logit so that the running best compares registers: the key,
            // the channel, and whether the channel exists.
            self.k2[p].d.next = (self.sum[p].val() & self.lo.val()) ^ self.flip.val();
            self.pv[p].next = (self.g1.q.val() != self.gm.val()) | self.plast[p].val();
            self.chan[p].next = self.cb1.q.val() + self.pc[p].val();
            self.i2[p].d.next = self.chan[p].val();
            self.h2[p].d.next = self.pv[p].val() & self.v1.q.val();
        }
        self.v2.d.next = self.v1.q.val();
        self.g2.d.next = self.g1.q.val();
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
                self.nv[p].next = self.k2[p].q.val();
                self.ni[p].next = self.i2[p].q.val();
                self.nh[p].next = self.h2[p].q.val();
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
        // Fold the group's winner C (the root) into the running best, one compare deep: B (`best_v`, `best_i`,
        // `have`) is the best of the groups before the pending winner P (`pk`, `pi`, the previous cycle's root),
        // and `tk` says P beats B. Each cycle B takes P when `tk`, P takes C, and `tk` becomes "C beats the new B":
        // C beats P when `tk`, else C beats B, both compared from registers. The validity flags ride in the keys
        // `{valid, key, lo}` so each test is one comparison: an absent C (`0` on top) beats nothing, and an empty B
        // (`have` low, key 0) loses to any present C. `best` is P when `tk`, else B (strictly greater wins).
        for n in self._p2..(self._p2 + 1) {
            self.xc.hi.next = self.nh[2 * n - 2].val();
            self.xc.x.next = self.nv[2 * n - 2].val();
            self.xc.lo.next = true;
            self.pk.d.next = self.nv[2 * n - 2].val();
            self.pi.d.next = self.ni[2 * n - 2].val();
        }
        self.xp.hi.next = true;
        self.xp.x.next = self.pk.q.val();
        self.xp.lo.next = true;
        self.xb.hi.next = true;
        self.xb.x.next = self.best_v.q.val();
        self.xb.lo.next = self.have.q.val();
        self.gtp.next = self.xc.y.val() > self.xp.y.val();
        self.gtb.next = self.xc.y.val() > self.xb.y.val();
        if self.tk.q.val() {
            self.tk.d.next = self.gtp.val();
            self.best_v.d.next = self.pk.q.val();
            self.best_i.d.next = self.pi.q.val();
            self.have.d.next = true;
        } else {
            self.tk.d.next = self.gtb.val();
        }
        for q in self._lv..(self._lv + 1) {
            if self.tap_v[q].val() & self.tap_g[q].val() {
                self.got_all.d.next = true;
            }
        }
        if self.tk.q.val() {
            self.best.next = self.pi.q.val();
        } else {
            self.best.next = self.best_i.q.val();
        }
        self.done.next = self.got_all.q.val();
        if self.start.val() {
            self.lg.d.next = self.zero.val();
            self.cb.d.next = self.zero.val();
            self.v1.d.next = false;
            self.v2.d.next = false;
            self.best_v.d.next = self.zero32.val();
            self.have.d.next = false;
            self.tk.d.next = false;
            self.got_all.d.next = false;
            for j in 0..self._lv {
                self.dv[j].d.next = false;
            }
        }
    }
}
