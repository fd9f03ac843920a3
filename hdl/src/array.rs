//! The PE × SIMD MAC array.
use crate::cast::{sign_extend, to_signed};
use crate::mac::{Accumulator, LaneWeight, LutLaneProduct, RawLaneProduct, LUT_MUL_MAX_BITS};
use crate::resize::SignResize;
use crate::widths::MacWidths;
use crate::HdlError;
use rust_hdl::prelude::*;

/// Pipeline latency of [`MacArray`]: 4 register stages (inputs, lane product, adder tree, accumulator). A beat
/// sampled at rising edge `t` is in `acc` after edge `t + 3`.
pub const ARRAY_LATENCY: usize = 4;

/// Rising edges a dense layer of `n_in` inputs and `n_out` outputs takes on a `pe × simd` array, from the edge
/// that samples its first beat to the edge after which its last sums are in `acc` (`valid` high): one beat per
/// cycle, `⌈n_out/pe⌉·⌈n_in/simd⌉` beats back to back, plus `ARRAY_LATENCY − 1` = 3 to drain the pipeline.
pub fn dense_cycles(n_in: usize, n_out: usize, pe: usize, simd: usize) -> usize {
    n_out.div_ceil(pe) * n_in.div_ceil(simd) + ARRAY_LATENCY - 1
}

/// One node of a PE's adder tree: `y = a + b` computed on exactly `bits` bits and sign-extended to `R` (the
/// inputs' bits above `bits` are ignored). Exact when the true sum fits `bits` signed bits, which the array
/// guarantees by giving a node over `L` lane products of `p` bits at least `p + ⌈log2 L⌉` bits; the adder is
/// `bits` wide in the Verilog, not `R` (a tree node over 2-bit lanes is a 6-bit adder, not a 24-bit one).
#[derive(LogicBlock)]
pub struct TreeAdd<const R: usize> {
    /// Addends, signed, `bits` significant bits used.
    pub a: Signal<In, Signed<R>>,
    pub b: Signal<In, Signed<R>>,
    /// The sum wrapped at `bits` bits, sign-extended to `R`.
    pub y: Signal<Out, Signed<R>>,
    _bits: usize,
}

impl<const R: usize> TreeAdd<R> {
    /// A node adding on `bits` (1..=`R`, ≤ 64) bits.
    pub fn new(bits: usize) -> Self {
        assert!(bits >= 1 && bits <= R && bits <= 64, "TreeAdd width out of range");
        Self {
            a: Default::default(),
            b: Default::default(),
            y: Default::default(),
            _bits: bits,
        }
    }
}

impl<const R: usize> Logic for TreeAdd<R> {
    fn update(&mut self) {
        let sum = self
            .a
            .val()
            .inner()
            .to_u64()
            .wrapping_add(self.b.val().inner().to_u64());
        self.y.next = to_signed::<R>(sign_extend(sum, self._bits));
    }

    fn connect(&mut self) {
        self.y.connect();
    }

    fn hdl(&self) -> Verilog {
        let b = self._bits;
        let mut v = format!("wire [{hi}:0] s = a[{hi}:0] + b[{hi}:0];\n", hi = b - 1);
        if b < R {
            v.push_str(&format!(
                "wire unused_high_bits = ^{{a[{}:{b}], b[{}:{b}]}};\nalways @(*) y = {{{{{}{{s[{}]}}}}, s}};\n",
                R - 1,
                R - 1,
                R - b,
                b - 1
            ));
        } else {
            v.push_str("always @(*) y = s;\n");
        }
        Verilog::Custom(v)
    }
}

/// The array with the capacity of the whole contract (8-bit codes and weights, 32-bit accumulators).
pub type Array = MacArray<8, 8, 9, 17, 32>;

/// A `pe × simd` array of low-bit MACs: `pe` output channels in parallel, each summing `simd` products per cycle
/// into its own signed accumulator of exactly `acc` bits. Widths as in [`crate::mac::LowBitMac`]: run-time
/// [`MacWidths`] within the capacity `KA`, `KW` (1..=15), `W1 = KW + 1`, `P = KA + KW + 1`, `R` (`P ≤ R ≤ 64`);
/// [`Array`] covers the contract. `pe` and `simd` are chosen at construction too.
///
/// Ports (all `Vec`s are flat, one level deep, because rust-hdl 0.46 emits broken Verilog for two-level indexing):
/// * `act[s]`, `s < simd`: activation codes, broadcast to every PE;
/// * `widx[p·simd + s]`: the weight index of PE `p`, lane `s`;
/// * `en`, `clear`, `last`: beat controls shared by all PEs, as for [`crate::mac::LowBitMac`] (`clear` starts new
///   sums, `last` ends them, `en` low makes the beat add 0);
/// * `acc[p]`: the signed sums (`acc` significant bits, sign-extended to `R`); `valid` is high for the one cycle in
///   which they are complete.
///
/// Pipeline ([`ARRAY_LATENCY`] = 4): the beat (activations, decoded weights ([`LaneWeight`]), controls) registered
/// at the input, so that a memory read, the weight decode or a multiplexer before the array and the multipliers
/// are in different cycles; the multipliers' raw products registered per lane ([`RawLaneProduct`]: nothing but
/// wires on either side of a multiplier); wrapped to the product width and gated, the `simd` products of a PE,
/// sign-extended to `R` bits, summed by a balanced adder tree of [`TreeAdd`] nodes, each exactly as wide as its
/// sum can be ([`tree_node_bits`]), into a register; that sum accumulated, wrapping at `acc` bits. A dense layer
/// with `N` inputs and `M` outputs: for each of the `⌈M/pe⌉` output groups, `⌈N/simd⌉` beats (activations padded with code
/// 0, weights of absent outputs arbitrary), `clear` on the first beat and `last` on the last of each group;
/// group `g`'s sums are valid three cycles after the edge that samples its last beat ([`dense_cycles`]).
#[derive(LogicBlock)]
pub struct MacArray<const KA: usize, const KW: usize, const W1: usize, const P: usize, const R: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Activation codes, unsigned, `KA` bits, one per SIMD lane.
    pub act: Vec<Signal<In, Bits<KA>>>,
    /// Weight indices, unsigned, `KW` bits, lane `s` of PE `p` at `p·simd + s`.
    pub widx: Vec<Signal<In, Bits<KW>>>,
    /// This beat carries products to accumulate.
    pub en: Signal<In, Bit>,
    /// This beat starts new sums.
    pub clear: Signal<In, Bit>,
    /// This beat ends the sums (taken only with `en`).
    pub last: Signal<In, Bit>,
    /// Horner step: multiply the running sums by `2^k` before adding this beat (the first beat of a digit pass
    /// whose digit weight is `2^k` times smaller than the previous pass's; ignored with `clear`).
    pub shift: Signal<In, Bit>,
    /// The indices on `widx` are two's-complement weights, not odd codes ([`LaneWeight`]; constant during a layer).
    pub twos: Signal<In, Bit>,
    /// Running sums, signed, `acc` significant bits sign-extended to `R`, one per PE.
    pub acc: Vec<Signal<Out, Signed<R>>>,
    /// High for one cycle when `acc` holds completed sums.
    pub valid: Signal<Out, Bit>,
    act_r: Vec<DFF<Bits<KA>>>,
    wdec: Vec<LaneWeight<KW>>,
    w_r: Vec<DFF<Signed<16>>>,
    en_r: DFF<Bit>,
    clear_r: DFF<Bit>,
    last_r: DFF<Bit>,
    shift_r: DFF<Bit>,
    /// The lanes: multipliers ([`RawLaneProduct`], DSP mode) for activations wider than [`LUT_MUL_MAX_BITS`],
    /// else shift-and-add lanes ([`LutLaneProduct`], LUT mode); the other vector is empty.
    lanes: Vec<RawLaneProduct<KA, P>>,
    lut_lanes: Vec<LutLaneProduct<KA, P>>,
    ext: Vec<SignResize<P, R>>,
    tree: Vec<Signal<Local, Signed<R>>>,
    /// The internal tree nodes, `simd − 1` per PE (node `k` of PE `p` at `p·(simd − 1) + k`), each as wide as its
    /// sum needs.
    node: Vec<TreeAdd<R>>,
    sum_reg: Vec<DFF<Signed<R>>>,
    accum: Vec<Accumulator<R, R>>,
    clear_1: DFF<Bit>,
    last_1: DFF<Bit>,
    clear_2: DFF<Bit>,
    last_2: DFF<Bit>,
    shift_1: DFF<Bit>,
    shift_2: DFF<Bit>,
    valid_and: Vec<Signal<Local, Bit>>,
    _pe: usize,
    _simd: usize,
    /// 1 in DSP mode, else 0; `_lut` the opposite (loop bounds selecting the lanes).
    _dsp: usize,
    _lut: usize,
    _widths: MacWidths,
}

impl<const KA: usize, const KW: usize, const W1: usize, const P: usize, const R: usize> MacArray<KA, KW, W1, P, R> {
    /// A `pe × simd` array for run-time widths `w` within the capacity. `pe` and `simd` must be at least 1,
    /// `pe·simd ≤ 4096`.
    pub fn new(pe: usize, simd: usize, w: MacWidths) -> Result<Self, HdlError> {
        Self::horner(pe, simd, w, 0)
    }

    /// A `pe × simd` array whose `shift` multiplies the running sums by `2^k` (digit-serial passes of `k`-bit
    /// digits; `k = 0`: `shift` is a no-op).
    pub fn horner(pe: usize, simd: usize, w: MacWidths, k: u32) -> Result<Self, HdlError> {
        w.check(KA, KW, R)?;
        if pe == 0 || simd == 0 {
            return Err(HdlError::config(format!(
                "array size {pe}×{simd}: PE and SIMD must be at least 1"
            )));
        }
        if pe * simd > 4096 {
            return Err(HdlError::config(format!(
                "array size {pe}×{simd} has more than 4096 lanes"
            )));
        }
        let lanes = pe * simd;
        let lut = w.ka <= LUT_MUL_MAX_BITS;
        Ok(Self {
            clock: Default::default(),
            act: (0..simd).map(|_| Default::default()).collect(),
            widx: (0..lanes).map(|_| Default::default()).collect(),
            en: Default::default(),
            clear: Default::default(),
            last: Default::default(),
            shift: Default::default(),
            twos: Default::default(),
            acc: (0..pe).map(|_| Default::default()).collect(),
            valid: Default::default(),
            act_r: (0..simd).map(|_| Default::default()).collect(),
            wdec: (0..lanes).map(|_| LaneWeight::new(w.kw)).collect(),
            w_r: (0..lanes).map(|_| Default::default()).collect(),
            en_r: Default::default(),
            clear_r: Default::default(),
            last_r: Default::default(),
            shift_r: Default::default(),
            lanes: (0..if lut { 0 } else { lanes })
                .map(|_| RawLaneProduct::new(w))
                .collect(),
            lut_lanes: (0..if lut { lanes } else { 0 })
                .map(|_| LutLaneProduct::new(w))
                .collect(),
            ext: (0..lanes).map(|_| Default::default()).collect(),
            tree: (0..pe * (2 * simd - 1)).map(|_| Default::default()).collect(),
            node: (0..pe)
                .flat_map(|_| tree_node_bits(simd, w.product_bits() as usize, w.acc as usize))
                .map(TreeAdd::new)
                .collect(),
            sum_reg: (0..pe).map(|_| Default::default()).collect(),
            accum: (0..pe)
                .map(|_| Accumulator::horner(w.acc, k))
                .collect::<Result<_, _>>()?,
            clear_1: Default::default(),
            last_1: Default::default(),
            clear_2: Default::default(),
            last_2: Default::default(),
            shift_1: Default::default(),
            shift_2: Default::default(),
            valid_and: (0..pe).map(|_| Default::default()).collect(),
            _pe: pe,
            _simd: simd,
            _dsp: usize::from(!lut),
            _lut: usize::from(lut),
            _widths: w,
        })
    }

    /// Number of PEs (output channels in parallel).
    pub fn pe(&self) -> usize {
        self._pe
    }

    /// Number of SIMD lanes per PE (inputs per cycle).
    pub fn simd(&self) -> usize {
        self._simd
    }

    /// The run-time widths.
    pub fn widths(&self) -> MacWidths {
        self._widths
    }
}

impl<const KA: usize, const KW: usize, const W1: usize, const P: usize, const R: usize> Logic
    for MacArray<KA, KW, W1, P, R>
{
    // Index arithmetic: lane (p, s) is `p·n + s`; PE p's tree nodes are `p·(2n − 1) + k`, leaves k < n, node
    // `n + k` = nodes `2k` + `2k + 1` (each node after its children, so the emitted always block reads only values
    // it has already assigned); the PE's sum is node `2n − 2`. `n` is bound by a one-iteration loop so that rust-hdl
    // can evaluate the index expressions when it unrolls the loops.
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, en_r, clear_r, last_r, shift_r, clear_1, last_1, clear_2, last_2, shift_1, shift_2);
        // Input register: the beat as presented.
        self.en_r.d.next = self.en.val();
        self.clear_r.d.next = self.clear.val();
        self.last_r.d.next = self.last.val();
        self.shift_r.d.next = self.shift.val();
        for s in 0..self._simd {
            self.act_r[s].clock.next = self.clock.val();
            self.act_r[s].d.next = self.act[s].val();
        }
        for k in 0..(self._pe * self._simd) {
            self.wdec[k].widx.next = self.widx[k].val();
            self.wdec[k].twos.next = self.twos.val();
            self.w_r[k].clock.next = self.clock.val();
            self.w_r[k].d.next = self.wdec[k].w16.val();
        }
        self.clear_1.d.next = self.clear_r.q.val();
        self.last_1.d.next = self.en_r.q.val() & self.last_r.q.val();
        self.clear_2.d.next = self.clear_1.q.val();
        self.last_2.d.next = self.last_1.q.val();
        self.shift_1.d.next = self.shift_r.q.val();
        self.shift_2.d.next = self.shift_1.q.val();
        for n in self._simd..(self._simd + 1) {
            for p in 0..self._pe {
                for s in 0..self._simd {
                    for _d in 0..self._dsp {
                        self.lanes[p * n + s].clock.next = self.clock.val();
                        self.lanes[p * n + s].act.next = self.act_r[s].q.val();
                        self.lanes[p * n + s].w16.next = self.w_r[p * n + s].q.val();
                        self.lanes[p * n + s].en.next = self.en_r.q.val();
                        self.ext[p * n + s].x.next = self.lanes[p * n + s].prod.val();
                    }
                    for _l in 0..self._lut {
                        self.lut_lanes[p * n + s].clock.next = self.clock.val();
                        self.lut_lanes[p * n + s].act.next = self.act_r[s].q.val();
                        self.lut_lanes[p * n + s].w16.next = self.w_r[p * n + s].q.val();
                        self.lut_lanes[p * n + s].en.next = self.en_r.q.val();
                        self.ext[p * n + s].x.next = self.lut_lanes[p * n + s].prod.val();
                    }
                    self.tree[p * (2 * n - 1) + s].next = self.ext[p * n + s].y.val();
                }
                for k in 0..(self._simd - 1) {
                    self.node[p * (n - 1) + k].a.next = self.tree[p * (2 * n - 1) + 2 * k].val();
                    self.node[p * (n - 1) + k].b.next = self.tree[p * (2 * n - 1) + 2 * k + 1].val();
                    self.tree[p * (2 * n - 1) + n + k].next = self.node[p * (n - 1) + k].y.val();
                }
                self.sum_reg[p].clock.next = self.clock.val();
                self.sum_reg[p].d.next = self.tree[p * (2 * n - 1) + 2 * n - 2].val();
                self.accum[p].clock.next = self.clock.val();
                self.accum[p].addend.next = self.sum_reg[p].q.val();
                self.accum[p].clear.next = self.clear_2.q.val();
                self.accum[p].last.next = self.last_2.q.val();
                self.accum[p].shift.next = self.shift_2.q.val();
                self.acc[p].next = self.accum[p].acc.val();
            }
        }
        // All PEs' valid flags are equal; AND them so none is left unused (yosys merges the identical registers).
        self.valid_and[0].next = self.accum[0].valid.val();
        for p in 1..self._pe {
            self.valid_and[p].next = self.valid_and[p - 1].val() & self.accum[p].valid.val();
        }
        for q in (self._pe - 1)..self._pe {
            self.valid.next = self.valid_and[q].val();
        }
    }
}

/// The widths of a PE's `simd − 1` tree nodes (node `k` adds nodes `2k` and `2k + 1` of the heap whose first `simd`
/// entries are the lanes): `product_bits + ⌈log2 L⌉` for a node over `L` lanes, at most `acc` (the accumulator
/// keeps only its low `acc` bits, so wrapping there is exact too).
pub fn tree_node_bits(simd: usize, product_bits: usize, acc: usize) -> Vec<usize> {
    let mut leaves = vec![1usize; simd];
    let mut out = Vec::with_capacity(simd.saturating_sub(1));
    for k in 0..simd.saturating_sub(1) {
        let l = leaves[2 * k] + leaves[2 * k + 1];
        leaves.push(l);
        let grow = (usize::BITS - (l - 1).leading_zeros()) as usize;
        out.push((product_bits + grow).min(acc).max(1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tree_node_bits;

    #[test]
    fn tree_nodes_grow_one_bit_per_doubling_up_to_the_accumulator() {
        assert_eq!(tree_node_bits(1, 5, 24), Vec::<usize>::new());
        assert_eq!(tree_node_bits(4, 5, 24), vec![6, 6, 7]);
        // 3 lanes: node 0 adds lanes 0 and 1, node 1 adds lane 2 and node 0 (3 lanes: 2 more bits).
        assert_eq!(tree_node_bits(3, 5, 24), vec![6, 7]);
        assert_eq!(tree_node_bits(8, 17, 20), vec![18, 18, 18, 18, 19, 19, 20]);
        assert_eq!(tree_node_bits(64, 3, 32).last(), Some(&9));
    }
}
