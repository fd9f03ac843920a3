//! The accelerator top: one controller running the layers of a model one after another on a shared
//! `pe × simd` MAC array, with the memories, the PACT units, the streaming interface and the debug read port.
use super::desc::TopRow as T;
use super::issue::Issue;
use super::logit::LogitUnit;
use super::mem::{BankRam, LaneRam, Table, WeightMem};
use super::shared::A16;
use super::writer::Writer;
use crate::array::Array;
use crate::pact::Pact;
use crate::resize::ZeroResize;
use crate::rom::CHANNEL_BITS;
use rust_hdl::prelude::*;

/// Controller state `IDLE`: no image in computation (the loader, which fills the input buffers, runs on its own).
pub const ST_LOAD: u64 = 0;
/// Controller state `START`: one cycle to load the layer's counters.
pub const ST_START: u64 = 1;
/// Controller state `RUN`: one beat per cycle.
pub const ST_RUN: u64 = 2;
/// Controller state `DRAIN`: waiting for the layer's last results.
pub const ST_DRAIN: u64 = 3;
/// Controller state `FINISH`: `out_valid` high for one cycle.
pub const ST_FINISH: u64 = 4;

/// Everything the top needs, prepared from a [`super::plan::Plan`] (see `super::build`).
pub struct AccelParts {
    pub pe: usize,
    pub simd: usize,
    pub array: Array,
    pub pacts: Vec<Pact>,
    pub wmem: WeightMem,
    pub issue: Issue,
    pub writer: Writer,
    pub logits: LogitUnit,
    /// The controller's descriptor, one row per layer.
    pub top_desc: Vec<T>,
    pub input: (usize, usize),
    pub banks: [(usize, usize); 2],
    pub logit_depth: usize,
    pub pixels: usize,
    pub replicated: bool,
    /// Input buffers (1 or 2) and the word offset of the second one in each lane RAM (a power of two above the
    /// first buffer's addresses, so the buffer select is one address bit).
    pub input_buffers: usize,
    pub input_stride: usize,
    /// One PACT unit shared by the PEs (`pacts` holds one unit).
    pub shared_requant: bool,
}

/// The whole-model accelerator (rust-hdl emits it as module `top`; `generate` renames it, `pact_accel` by default).
///
/// Interface (all synchronous to the rising edge of `clk`; see docs/accelerator.md for the timing):
/// * `rst` (in): synchronous reset of the controller and the loader (back to idle with empty input buffers,
///   nothing else is cleared);
/// * `in_valid`, `in_data[7:0]` (in), `in_ready` (out): pixel codes in C×H×W order, one accepted at every rising
///   edge with `in_valid & in_ready`. With two input buffers the loader takes the next image while the current one
///   computes: `in_ready` is low only while both buffers hold an image that has no result yet; with one buffer it
///   is low from an image's last pixel to the cycle after its result;
/// * `out_valid` (out): high for one cycle when an inference is complete (results come in input order);
///   `out_class[15:0]` (out): the index of the largest logit (lowest index on ties), valid from that cycle until
///   the next result;
/// * `busy` (out): high while an image is in flight (from its first accepted pixel to its result);
///   `done` (out): high while the compute is idle after a result (or a debug halt), until the next image's
///   computation starts;
/// * debug: `dbg_stop_en`, `dbg_stop_layer[15:0]` (in) halt after that compute layer (its output stays in its
///   bank; `done` rises, `out_valid` does not); `dbg_sel[1:0]` (0 input buffer of the last image computed, 1 bank A,
///   2 bank B, 3 logits), `dbg_lane[15:0]`, `dbg_addr[15:0]` (in) select a word that appears on `dbg_data[31:0]`
///   (out) one cycle later; activation memories while the compute is idle, logits at any time until the next
///   image's last layer writes them (logits as signed 32-bit values, codes zero-extended).
#[derive(LogicBlock)]
pub struct Accel {
    /// Clock (rising edge).
    pub clk: Signal<In, Clock>,
    /// Synchronous reset of the controller.
    pub rst: Signal<In, Bit>,
    /// A pixel is offered on `in_data`.
    pub in_valid: Signal<In, Bit>,
    /// Pixel code, unsigned 8 bits.
    pub in_data: Signal<In, Bits<8>>,
    /// The accelerator takes a pixel at the next rising edge if `in_valid`.
    pub in_ready: Signal<Out, Bit>,
    /// One-cycle pulse: `out_class` is the new result.
    pub out_valid: Signal<Out, Bit>,
    /// Class index, unsigned.
    pub out_class: Signal<Out, A16>,
    /// An inference is in progress.
    pub busy: Signal<Out, Bit>,
    /// A result (or debug halt) is available.
    pub done: Signal<Out, Bit>,
    /// Halt after layer `dbg_stop_layer` (debug).
    pub dbg_stop_en: Signal<In, Bit>,
    /// Layer to halt after (compute-layer number).
    pub dbg_stop_layer: Signal<In, A16>,
    /// Debug read source: 0 input buffer, 1 bank A, 2 bank B, 3 logits.
    pub dbg_sel: Signal<In, Bits<2>>,
    /// Debug read lane (SIMD lane, or PE for logits).
    pub dbg_lane: Signal<In, A16>,
    /// Debug read address (word).
    pub dbg_addr: Signal<In, A16>,
    /// Debug read data (one cycle after the address), unsigned 32 bits.
    pub dbg_data: Signal<Out, Bits<32>>,
    issue: Issue,
    writer: Writer,
    logits: LogitUnit,
    array: Array,
    pact: Vec<Pact>,
    wmem: WeightMem,
    inbuf: Vec<LaneRam<8>>,
    bank_a: BankRam,
    bank_b: BankRam,
    lram: Vec<LaneRam<32>>,
    ltab: Table,
    chan: ZeroResize<16, CHANNEL_BITS>,
    dz: ZeroResize<8, 32>,
    state: DFF<Bits<3>>,
    layer: DFF<A16>,
    pc: DFF<A16>,
    /// `pc == pixels − 1` (the next pixel taken is the image's last), kept beside `pc` so the loader's handshake
    /// does not wait for a 16-bit compare; with one pixel per image every pixel is the last (`one_pix`).
    at_last: DFF<Bit>,
    il: DFF<A16>,
    iw: DFF<A16>,
    rg: DFF<A16>,
    chan_r: DFF<A16>,
    done_r: DFF<Bit>,
    class_r: DFF<A16>,
    s1_en: DFF<Bit>,
    s1_clear: DFF<Bit>,
    s1_shift: DFF<Bit>,
    s1_sh: DFF<A16>,
    s1_last: DFF<Bit>,
    s1_inb: Vec<DFF<Bit>>,
    src_a: DFF<Bit>,
    src_b: DFF<Bit>,
    dst_a: DFF<Bit>,
    dst_b: DFF<Bit>,
    last_r: DFF<Bit>,
    /// The layer's weights are two's-complement (descriptor `twos`).
    twos_r: DFF<Bit>,
    src_d: Vec<Signal<Local, Bits<8>>>,
    /// The compute is idle (`state == IDLE`, from a register of its own).
    idle: Signal<Local, Bit>,
    not_idle: DFF<Bit>,
    /// The input buffer the loader fills, the one the current image is computed from, the one the next image
    /// starts from; buffer `b` holds a whole image not yet finished (`full0`, `full1`).
    fill: DFF<Bit>,
    cb: DFF<Bit>,
    nb: DFF<Bit>,
    full0: DFF<Bit>,
    full1: DFF<Bit>,
    fill_full: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    take_last: Signal<Local, Bit>,
    go: Signal<Local, Bit>,
    free_buf: Signal<Local, Bit>,
    launch: Signal<Local, Bit>,
    /// Two input buffers (else the flags above stay at buffer 0).
    dbl: Constant<Bit>,
    /// The address bit of the second input buffer (`input_stride`), or 0 with one buffer.
    ib_hi: Constant<A16>,
    ib_w: Signal<Local, A16>,
    ib_r: Signal<Local, A16>,
    pact_v: Vec<Signal<Local, Bit>>,
    /// Shared requantization (empty or idle with one unit per PE): a group's sums captured (`hold`), fed to the
    /// unit one per cycle (`sbusy`, `scnt`: the PE; `swrap`: the group is the position's last, latched from `rg` at the
    /// capture; `schan`: the slot), and the codes collected
    /// (`col`, `ccnt`) and handed to the writer together (`cv_r`).
    /// (Each scalar of the shared path is a vector of one element with a shared unit, of none without, so that a
    /// design without it has none of its signals.)
    hold: Vec<DFF<Signed<32>>>,
    sbusy: Vec<DFF<Bit>>,
    scnt: Vec<DFF<A16>>,
    swrap: Vec<DFF<Bit>>,
    schan: Vec<DFF<A16>>,
    col: Vec<DFF<Bits<8>>>,
    ccnt: Vec<DFF<A16>>,
    cv_r: Vec<DFF<Bit>>,
    sacc: Vec<Signal<Local, Signed<32>>>,
    pe_m1: Vec<Constant<A16>>,
    cap: Signal<Local, Bit>,
    dsel8: Signal<Local, Bits<8>>,
    st_load: Constant<Bits<3>>,
    st_start: Constant<Bits<3>>,
    st_run: Constant<Bits<3>>,
    st_drain: Constant<Bits<3>>,
    st_finish: Constant<Bits<3>>,
    bank_a_code: Constant<A16>,
    bank_b_code: Constant<A16>,
    sel_in: Constant<Bits<2>>,
    sel_a: Constant<Bits<2>>,
    sel_b: Constant<Bits<2>>,
    sel_logits: Constant<Bits<2>>,
    lane: Vec<Constant<A16>>,
    simd_m: Constant<A16>,
    npix_m2: Constant<A16>,
    one_pix: Constant<Bit>,
    replicated: Constant<Bit>,
    zero: Constant<A16>,
    one: Constant<A16>,
    zero8: Constant<Bits<8>>,
    _pe: usize,
    _simd: usize,
    /// 1 with a shared PACT unit, else 0; `_per_pe` the opposite (loop bounds selecting the wiring).
    _shared: usize,
    _per_pe: usize,
}

impl Accel {
    /// Assemble the top from its prepared parts.
    pub fn new(parts: AccelParts) -> Self {
        let AccelParts {
            pe,
            simd,
            array,
            pacts,
            wmem,
            issue,
            writer,
            logits,
            top_desc,
            input,
            banks,
            logit_depth,
            pixels,
            replicated,
            input_buffers,
            input_stride,
            shared_requant,
        } = parts;
        let ns = if shared_requant { pe } else { 0 };
        let n1 = usize::from(shared_requant);
        assert!(matches!(input_buffers, 1 | 2), "input buffers must be 1 or 2");
        let ram_depth = |(depth, bits): (usize, usize)| (input_buffers * input_stride.max(depth), bits);
        let ram8 = |(depth, bits): (usize, usize)| (0..simd).map(|_| LaneRam::new(depth, bits)).collect::<Vec<_>>();
        Self {
            clk: Default::default(),
            rst: Default::default(),
            in_valid: Default::default(),
            in_data: Default::default(),
            in_ready: Default::default(),
            out_valid: Default::default(),
            out_class: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            dbg_stop_en: Default::default(),
            dbg_stop_layer: Default::default(),
            dbg_sel: Default::default(),
            dbg_lane: Default::default(),
            dbg_addr: Default::default(),
            dbg_data: Default::default(),
            issue,
            writer,
            logits,
            array,
            pact: pacts,
            wmem,
            inbuf: ram8(ram_depth(input)),
            bank_a: BankRam::new(banks[0].0, simd, banks[0].1),
            bank_b: BankRam::new(banks[1].0, simd, banks[1].1),
            lram: (0..pe).map(|_| LaneRam::new(logit_depth, 32)).collect(),
            ltab: Table::new(top_desc.iter().map(T::to_words).collect()),
            chan: Default::default(),
            dz: Default::default(),
            state: Default::default(),
            layer: Default::default(),
            pc: Default::default(),
            at_last: Default::default(),
            il: Default::default(),
            iw: Default::default(),
            rg: Default::default(),
            chan_r: Default::default(),
            done_r: Default::default(),
            class_r: Default::default(),
            s1_en: Default::default(),
            s1_clear: Default::default(),
            s1_shift: Default::default(),
            s1_sh: Default::default(),
            s1_last: Default::default(),
            s1_inb: (0..simd).map(|_| Default::default()).collect(),
            src_a: Default::default(),
            src_b: Default::default(),
            dst_a: Default::default(),
            dst_b: Default::default(),
            last_r: Default::default(),
            twos_r: Default::default(),
            src_d: (0..simd).map(|_| Default::default()).collect(),
            idle: Default::default(),
            not_idle: Default::default(),
            fill: Default::default(),
            cb: Default::default(),
            nb: Default::default(),
            full0: Default::default(),
            full1: Default::default(),
            fill_full: Default::default(),
            take: Default::default(),
            take_last: Default::default(),
            go: Default::default(),
            free_buf: Default::default(),
            launch: Default::default(),
            dbl: Constant::new(input_buffers == 2),
            ib_hi: Constant::new(bits(if input_buffers == 2 { input_stride as u64 } else { 0 })),
            ib_w: Default::default(),
            ib_r: Default::default(),
            pact_v: (0..if shared_requant { 0 } else { pe })
                .map(|_| Default::default())
                .collect(),
            hold: (0..ns).map(|_| Default::default()).collect(),
            sbusy: (0..n1).map(|_| Default::default()).collect(),
            scnt: (0..n1).map(|_| Default::default()).collect(),
            swrap: (0..n1).map(|_| Default::default()).collect(),
            schan: (0..n1).map(|_| Default::default()).collect(),
            col: (0..ns).map(|_| Default::default()).collect(),
            ccnt: (0..n1).map(|_| Default::default()).collect(),
            cv_r: (0..n1).map(|_| Default::default()).collect(),
            sacc: (0..n1).map(|_| Default::default()).collect(),
            pe_m1: (0..n1).map(|_| Constant::new(bits(pe as u64 - 1))).collect(),
            cap: Default::default(),
            dsel8: Default::default(),
            st_load: Constant::new(bits(ST_LOAD)),
            st_start: Constant::new(bits(ST_START)),
            st_run: Constant::new(bits(ST_RUN)),
            st_drain: Constant::new(bits(ST_DRAIN)),
            st_finish: Constant::new(bits(ST_FINISH)),
            bank_a_code: Constant::new(bits(1)),
            bank_b_code: Constant::new(bits(2)),
            sel_in: Constant::new(bits(0)),
            sel_a: Constant::new(bits(1)),
            sel_b: Constant::new(bits(2)),
            sel_logits: Constant::new(bits(3)),
            lane: (0..pe.max(simd)).map(|i| Constant::new(bits(i as u64))).collect(),
            simd_m: Constant::new(bits(simd as u64 - 1)),
            npix_m2: Constant::new(bits(pixels.saturating_sub(2) as u64)),
            one_pix: Constant::new(pixels == 1),
            replicated: Constant::new(replicated),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            zero8: Constant::new(bits(0)),
            _pe: pe,
            _simd: simd,
            _shared: usize::from(shared_requant),
            _per_pe: usize::from(!shared_requant),
        }
    }
}

impl Logic for Accel {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clk, state, layer, pc, il, iw, rg, chan_r, done_r, class_r, s1_en, s1_clear, s1_shift, s1_sh,
            s1_last, src_a, src_b, dst_a, dst_b, last_r, twos_r, not_idle, fill, cb, nb, full0, full1, at_last
        );
        self.ltab.index.next = self.layer.q.val();
        // The layer's descriptor, decoded into registers: valid from the cycle after START (in which `layer` is new),
        // which has no reads or writes yet; they drive the memory multiplexers and the result paths.
        for c in T::SRC..(T::SRC + 1) {
            self.src_a.d.next = self.ltab.field[c].val() == self.bank_a_code.val();
            self.src_b.d.next = self.ltab.field[c].val() == self.bank_b_code.val();
        }
        for c in T::DST..(T::DST + 1) {
            self.dst_a.d.next = self.ltab.field[c].val() == self.bank_a_code.val();
            self.dst_b.d.next = self.ltab.field[c].val() == self.bank_b_code.val();
        }
        for c in T::LAST..(T::LAST + 1) {
            self.last_r.d.next = self.ltab.field[c].val() != self.zero.val();
        }
        for c in T::TWOS..(T::TWOS + 1) {
            self.twos_r.d.next = self.ltab.field[c].val() != self.zero.val();
        }
        // `state == IDLE`, from a register of its own (set from the next state below; 0 = IDLE at power-up): it selects
        // the memories' read addresses.
        self.idle.next = !self.not_idle.q.val();
        // The loader: it fills buffer `fill` while that buffer holds no unfinished image.
        self.fill_full.next = self.full0.q.val();
        if self.fill.q.val() {
            self.fill_full.next = self.full1.q.val();
        }
        self.take.next = self.in_valid.val() & !self.fill_full.val();
        self.take_last.next = self.take.val() & (self.at_last.q.val() | self.one_pix.val());
        // The next image is ready: its buffer is full, or its last pixel is taken at this edge.
        self.go.next = self.take_last.val() & (self.fill.q.val() == self.nb.q.val());
        if self.nb.q.val() {
            if self.full1.q.val() {
                self.go.next = true;
            }
        } else if self.full0.q.val() {
            self.go.next = true;
        }
        // The buffers' address bit: the loader writes buffer `fill`, the compute and the debug port read buffer `cb`.
        self.ib_w.next = self.zero.val();
        if self.fill.q.val() {
            self.ib_w.next = self.ib_hi.val();
        }
        self.ib_r.next = self.zero.val();
        if self.cb.q.val() {
            self.ib_r.next = self.ib_hi.val();
        }

        // Beat issue and stage 1 (RAM and weight ROM reads).
        self.issue.clock.next = self.clk.val();
        self.issue.layer.next = self.layer.q.val();
        self.issue.start.next = self.state.q.val() == self.st_start.val();
        self.issue.run.next = self.state.q.val() == self.st_run.val();
        self.s1_en.d.next = self.issue.en.val();
        self.s1_clear.d.next = self.issue.clear.val();
        self.s1_shift.d.next = self.issue.shift.val();
        self.s1_sh.d.next = self.issue.shamt.val();
        self.s1_last.d.next = self.issue.last.val();
        self.wmem.clock.next = self.clk.val();
        self.wmem.layer.next = self.layer.q.val();
        self.wmem.addr.next = self.issue.waddr.val();

        // The MAC array.
        self.array.clock.next = self.clk.val();
        self.array.en.next = self.s1_en.q.val();
        self.array.clear.next = self.s1_clear.q.val();
        self.array.shift.next = self.s1_shift.q.val();
        self.array.twos.next = self.twos_r.q.val();
        self.array.last.next = self.s1_last.q.val();
        for k in 0..(self._pe * self._simd) {
            self.array.widx[k].next = self.wmem.widx[k].val();
        }
        for s in 0..self._simd {
            self.s1_inb[s].clock.next = self.clk.val();
            self.s1_inb[s].d.next = self.issue.inb[s].val();
            self.src_d[s].next = self.inbuf[s].rdata.val();
            if self.src_a.q.val() {
                self.src_d[s].next = self.bank_a.rdata[s].val();
            }
            if self.src_b.q.val() {
                self.src_d[s].next = self.bank_b.rdata[s].val();
            }
            // The beat's activation digit: the code shifted right by `k·j` (the lanes keep its low `k` bits).
            if self.s1_inb[s].q.val() {
                self.array.act[s].next = self.src_d[s].val() >> self.s1_sh.q.val();
            } else {
                self.array.act[s].next = self.zero8.val();
            }
        }

        // Activation memories.
        for s in 0..self._simd {
            self.inbuf[s].clock.next = self.clk.val();
            self.inbuf[s].we.next = self.take.val() & (self.replicated.val() | (self.il.q.val() == self.lane[s].val()));
            if self.replicated.val() {
                self.inbuf[s].waddr.next = self.pc.q.val() | self.ib_w.val();
            } else {
                self.inbuf[s].waddr.next = self.iw.q.val() | self.ib_w.val();
            }
            self.inbuf[s].wdata.next = self.in_data.val();
            if self.idle.val() {
                self.inbuf[s].raddr.next = self.dbg_addr.val() | self.ib_r.val();
            } else {
                self.inbuf[s].raddr.next = self.issue.raddr[s].val() | self.ib_r.val();
            }
            self.bank_a.wdata[s].next = self.writer.wd[s].val();
            self.bank_b.wdata[s].next = self.writer.wd[s].val();
            if self.dst_a.q.val() {
                self.writer.rdata[s].next = self.bank_a.rdata[s].val();
            } else {
                self.writer.rdata[s].next = self.bank_b.rdata[s].val();
            }
        }
        // The banks: every lane at one address (packed layers read the same word in all lanes, and the writer
        // writes whole words), so each bank is one memory.
        self.bank_a.clock.next = self.clk.val();
        self.bank_a.we.next = self.writer.we.val() & self.dst_a.q.val();
        self.bank_a.waddr.next = self.writer.wa.val();
        self.bank_b.clock.next = self.clk.val();
        self.bank_b.we.next = self.writer.we.val() & self.dst_b.q.val();
        self.bank_b.waddr.next = self.writer.wa.val();
        if self.idle.val() {
            self.bank_a.raddr.next = self.dbg_addr.val();
            self.bank_b.raddr.next = self.dbg_addr.val();
        } else {
            if self.src_a.q.val() {
                self.bank_a.raddr.next = self.issue.raddr[0].val();
            } else {
                self.bank_a.raddr.next = self.writer.rd_addr.val();
            }
            if self.src_b.q.val() {
                self.bank_b.raddr.next = self.issue.raddr[0].val();
            } else {
                self.bank_b.raddr.next = self.writer.rd_addr.val();
            }
        }

        // Requantization (layers that output codes) and the writer. The PACT slot of the next group, `ch_base + rg`,
        // is kept in its own register (stepped with `rg`), so the slot ROMs' address comes from a register.
        self.cap.next = self.array.valid.val() & !self.last_r.q.val();
        for _u in 0..self._per_pe {
            self.pact_v[0].next = self.pact[0].valid.val();
            self.chan.x.next = self.chan_r.q.val();
            for p in 0..self._pe {
                self.pact[p].clock.next = self.clk.val();
                self.pact[p].acc.next = self.array.acc[p].val();
                self.pact[p].channel.next = self.chan.y.val();
                self.pact[p].valid_in.next = self.cap.val();
                self.writer.code[p].next = self.pact[p].code.val();
            }
            for p in 1..self._pe {
                self.pact_v[p].next = self.pact_v[p - 1].val() & self.pact[p].valid.val();
            }
        }
        // One shared unit: the group's sums are captured, then go in one per cycle (PE order, so the slot steps by
        // one); the codes come out in the same order, are shifted into `col` and go to the writer together.
        for u in 0..self._shared {
            self.chan.x.next = self.schan[u].q.val();
            self.sbusy[u].clock.next = self.clk.val();
            self.scnt[u].clock.next = self.clk.val();
            self.swrap[u].clock.next = self.clk.val();
            self.schan[u].clock.next = self.clk.val();
            self.ccnt[u].clock.next = self.clk.val();
            self.cv_r[u].clock.next = self.clk.val();
            self.sbusy[u].d.next = self.sbusy[u].q.val();
            self.scnt[u].d.next = self.scnt[u].q.val();
            self.swrap[u].d.next = self.swrap[u].q.val();
            self.schan[u].d.next = self.schan[u].q.val();
            self.ccnt[u].d.next = self.ccnt[u].q.val();
            self.sacc[u].next = self.hold[0].q.val();
            for p in 1..self._pe {
                if self.scnt[u].q.val() == self.lane[p].val() {
                    self.sacc[u].next = self.hold[p].q.val();
                }
            }
            self.pact[0].clock.next = self.clk.val();
            self.pact[0].acc.next = self.sacc[u].val();
            self.pact[0].channel.next = self.chan.y.val();
            self.pact[0].valid_in.next = self.sbusy[u].q.val();
            if self.sbusy[u].q.val() {
                self.scnt[u].d.next = self.scnt[u].q.val() + self.one.val();
                self.schan[u].d.next = self.schan[u].q.val() + self.one.val();
                if self.scnt[u].q.val() == self.pe_m1[u].val() {
                    self.sbusy[u].d.next = false;
                    if self.swrap[u].q.val() {
                        for c in T::CH_BASE..(T::CH_BASE + 1) {
                            self.schan[u].d.next = self.ltab.field[c].val();
                        }
                    }
                }
            }
            for p in 0..self._pe {
                self.hold[p].clock.next = self.clk.val();
                self.col[p].clock.next = self.clk.val();
                self.hold[p].d.next = self.hold[p].q.val();
                self.col[p].d.next = self.col[p].q.val();
                if self.cap.val() {
                    self.hold[p].d.next = self.array.acc[p].val();
                }
                self.writer.code[p].next = self.col[p].q.val();
            }
            if self.cap.val() {
                self.sbusy[u].d.next = true;
                self.scnt[u].d.next = self.zero.val();
                // `rg` still holds this group's index at the capture (it steps at the same edge).
                for g in T::GROUPS_M1..(T::GROUPS_M1 + 1) {
                    self.swrap[u].d.next = self.rg.q.val() == self.ltab.field[g].val();
                }
            }
            self.cv_r[u].d.next = false;
            if self.pact[0].valid.val() {
                for p in 0..(self._pe - 1) {
                    self.col[p].d.next = self.col[p + 1].q.val();
                }
                for q in (self._pe - 1)..self._pe {
                    self.col[q].d.next = self.pact[0].code.val();
                }
                if self.ccnt[u].q.val() == self.pe_m1[u].val() {
                    self.ccnt[u].d.next = self.zero.val();
                    self.cv_r[u].d.next = true;
                } else {
                    self.ccnt[u].d.next = self.ccnt[u].q.val() + self.one.val();
                }
            }
            if self.state.q.val() == self.st_start.val() {
                self.sbusy[u].d.next = false;
                self.scnt[u].d.next = self.zero.val();
                self.ccnt[u].d.next = self.zero.val();
                for c in T::CH_BASE..(T::CH_BASE + 1) {
                    self.schan[u].d.next = self.ltab.field[c].val();
                }
            }
        }
        self.writer.clock.next = self.clk.val();
        self.writer.layer.next = self.layer.q.val();
        // Both result paths are reset at every layer's START (the writer of the last layer and the logit unit of the
        // others receive nothing: PACT and logit inputs are gated with `last_r`, and each done flag is read only for
        // its own kind of layer), so no descriptor lookup lies on the reset.
        self.writer.start.next = self.state.q.val() == self.st_start.val();
        for _u in 0..self._per_pe {
            for q in (self._pe - 1)..self._pe {
                self.writer.cv.next = self.pact_v[q].val();
            }
        }
        for u in 0..self._shared {
            self.writer.cv.next = self.cv_r[u].q.val();
        }
        if self.array.valid.val() {
            for g in T::GROUPS_M1..(T::GROUPS_M1 + 1) {
                if self.rg.q.val() == self.ltab.field[g].val() {
                    self.rg.d.next = self.zero.val();
                    for c in T::CH_BASE..(T::CH_BASE + 1) {
                        self.chan_r.d.next = self.ltab.field[c].val();
                    }
                } else {
                    self.rg.d.next = self.rg.q.val() + self.one.val();
                    self.chan_r.d.next = self.chan_r.q.val() + self.one.val();
                }
            }
        }

        // The last layer: logits and argmax.
        self.logits.clock.next = self.clk.val();
        self.logits.start.next = self.state.q.val() == self.st_start.val();
        self.logits.valid.next = self.array.valid.val() & self.last_r.q.val();
        for p in 0..self._pe {
            self.logits.acc[p].next = self.array.acc[p].val();
            self.lram[p].clock.next = self.clk.val();
            self.lram[p].we.next = self.logits.lwe.val();
            self.lram[p].waddr.next = self.logits.lwa.val();
            self.lram[p].wdata.next = self.logits.lwd[p].val();
            self.lram[p].raddr.next = self.dbg_addr.val();
        }

        // Debug read port.
        self.dsel8.next = self.zero8.val();
        for s in 0..self._simd {
            if self.dbg_lane.val() == self.lane[s].val() {
                if self.dbg_sel.val() == self.sel_in.val() {
                    self.dsel8.next = self.inbuf[s].rdata.val();
                }
                if self.dbg_sel.val() == self.sel_a.val() {
                    self.dsel8.next = self.bank_a.rdata[s].val();
                }
                if self.dbg_sel.val() == self.sel_b.val() {
                    self.dsel8.next = self.bank_b.rdata[s].val();
                }
            }
        }
        self.dz.x.next = self.dsel8.val();
        self.dbg_data.next = self.dz.y.val();
        if self.dbg_sel.val() == self.sel_logits.val() {
            for p in 0..self._pe {
                if self.dbg_lane.val() == self.lane[p].val() {
                    self.dbg_data.next = self.lram[p].rdata.val();
                }
            }
        }

        // The loader.
        self.in_ready.next = !self.fill_full.val();
        if self.take.val() {
            self.pc.d.next = self.pc.q.val() + self.one.val();
            self.at_last.d.next = self.pc.q.val() == self.npix_m2.val();
            if self.il.q.val() == self.simd_m.val() {
                self.il.d.next = self.zero.val();
                self.iw.d.next = self.iw.q.val() + self.one.val();
            } else {
                self.il.d.next = self.il.q.val() + self.one.val();
            }
            if self.take_last.val() {
                self.pc.d.next = self.zero.val();
                self.at_last.d.next = false;
                self.il.d.next = self.zero.val();
                self.iw.d.next = self.zero.val();
                if self.fill.q.val() {
                    self.full1.d.next = true;
                } else {
                    self.full0.d.next = true;
                }
                self.fill.d.next = self.fill.q.val() ^ self.dbl.val();
            }
        }

        // The controller.
        self.out_valid.next = self.state.q.val() == self.st_finish.val();
        self.out_class.next = self.class_r.q.val();
        self.done.next = self.done_r.q.val();
        self.busy.next =
            !self.idle.val() | (self.pc.q.val() != self.zero.val()) | self.full0.q.val() | self.full1.q.val();
        // `free_buf`: the image's buffer is free from the next cycle (its result, or a debug halt); `launch`: the next
        // image starts (from IDLE, or straight from FINISH with two buffers).
        self.free_buf.next = false;
        self.launch.next = false;
        if self.idle.val() {
            self.launch.next = self.go.val();
        } else if self.state.q.val() == self.st_start.val() {
            self.rg.d.next = self.zero.val();
            for c in T::CH_BASE..(T::CH_BASE + 1) {
                self.chan_r.d.next = self.ltab.field[c].val();
            }
            self.state.d.next = self.st_run.val();
        } else if self.state.q.val() == self.st_run.val() {
            if self.issue.final_beat.val() {
                self.state.d.next = self.st_drain.val();
            }
        } else if self.state.q.val() == self.st_drain.val() {
            if self.last_r.q.val() {
                if self.logits.done.val() {
                    self.class_r.d.next = self.logits.best.val();
                    self.state.d.next = self.st_finish.val();
                }
            } else if self.writer.done.val() {
                if self.dbg_stop_en.val() & (self.layer.q.val() == self.dbg_stop_layer.val()) {
                    self.free_buf.next = true;
                    self.done_r.d.next = true;
                    self.state.d.next = self.st_load.val();
                } else {
                    self.layer.d.next = self.layer.q.val() + self.one.val();
                    self.state.d.next = self.st_start.val();
                }
            }
        } else {
            // FINISH: with two buffers the next image (already loaded, or taking its last pixel now) starts at once.
            self.free_buf.next = true;
            self.done_r.d.next = true;
            self.state.d.next = self.st_load.val();
            self.launch.next = self.dbl.val() & self.go.val();
        }
        if self.free_buf.val() {
            if self.cb.q.val() {
                self.full1.d.next = false;
            } else {
                self.full0.d.next = false;
            }
        }
        if self.launch.val() {
            self.done_r.d.next = false;
            self.cb.d.next = self.nb.q.val();
            self.nb.d.next = self.nb.q.val() ^ self.dbl.val();
            self.layer.d.next = self.zero.val();
            self.state.d.next = self.st_start.val();
        }
        if self.rst.val() {
            self.state.d.next = self.st_load.val();
            self.pc.d.next = self.zero.val();
            self.at_last.d.next = false;
            self.il.d.next = self.zero.val();
            self.iw.d.next = self.zero.val();
            self.layer.d.next = self.zero.val();
            self.done_r.d.next = false;
            self.fill.d.next = false;
            self.cb.d.next = false;
            self.nb.d.next = false;
            self.full0.d.next = false;
            self.full1.d.next = false;
        }
        self.not_idle.d.next = self.state.d.val() != self.st_load.val();
    }
}

impl Accel {
    /// For testing the checkers only ([`super::InjectedFault::PactRoundingBit`]): every PACT unit rounds down.
    pub(crate) fn inject_rounding_fault(&mut self) {
        for p in &mut self.pact {
            p.inject_rounding_fault();
        }
    }
}
