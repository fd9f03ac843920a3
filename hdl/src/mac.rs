//! Weight decode, low-bit products, the accumulator and the single MAC.
//!
//! Number formats (docs/integer-contract.md, `pact_toolchain::contract`):
//! * activation code `a`: unsigned, `ka` bits, `0 ..= 2^ka − 1`;
//! * weight index `i`: unsigned, `kw` bits; decoded weight `w = 2i − (2^kw − 1)`, odd, signed, `kw + 1` bits;
//! * product `a·w`: signed, `ka + kw + 1` bits (|a·w| ≤ (2^ka − 1)(2^kw − 1) < 2^(ka+kw));
//! * accumulator: signed, exactly `acc` bits (the layer's `acc_bits`): sums wrap at `acc` bits in two's
//!   complement, which the contract makes exact (it sizes `acc` so that every biased result fits).
//!
//! Const generics are capacities (port and register widths: `KA`, `KW`, `W1 = KW + 1`, `P = KA + KW + 1`, `R`
//! accumulator register bits); the actual widths are run-time [`MacWidths`] no larger than the capacity, applied
//! with masks that yosys reduces to exact-width hardware (see [`crate::widths`]). [`Mac`] has the capacity of the
//! whole contract (8-bit codes and weights, 32-bit accumulator).
use crate::resize::{SignResize, ZeroResize};
use crate::widths::{high_mask, low_mask, MacWidths};
use crate::HdlError;
use rust_hdl::prelude::*;

/// Pipeline latency of [`LowBitMac`] and [`OffsetMac`]: 2 register stages (product, accumulator). A beat sampled
/// at rising edge `t` is in `acc` after edge `t + 1`.
pub const MAC_LATENCY: usize = 2;

/// The MAC with the capacity of the whole contract: codes and weights up to 8 bits, accumulators up to 32 bits.
pub type Mac = LowBitMac<8, 8, 9, 17, 32>;

/// Weight decode (combinational): `KW`-bit index `i` → odd signed `w = 2i − (2^KW − 1)` of `W1 = KW + 1` bits.
///
/// In hardware it is free: append a 1 as LSB and invert the new MSB (`w = {~i[KW−1], i[KW−2:0], 1}`). Emitted as
/// `odd = (i << 1) | 1; weight = $signed(odd ^ (1 << KW))` on `W1`-bit values. The MAC lanes compute the same
/// value directly at 16 bits (see [`LaneProduct`]).
#[derive(LogicBlock)]
pub struct WeightDecode<const KW: usize, const W1: usize> {
    /// Weight index, unsigned, `KW` bits.
    pub index: Signal<In, Bits<KW>>,
    /// Decoded weight, signed two's complement, `KW + 1` bits.
    pub weight: Signal<Out, Signed<W1>>,
    wide: ZeroResize<KW, W1>,
    odd: Signal<Local, Bits<W1>>,
    one: Constant<Bits<W1>>,
    flip: Constant<Bits<W1>>,
}

impl<const KW: usize, const W1: usize> WeightDecode<KW, W1> {
    const WIDTHS_OK: () = assert!(
        KW >= 1 && KW <= 16 && W1 == KW + 1,
        "WeightDecode needs W1 = KW + 1, KW in 1..=16"
    );

    /// A decoder for `KW`-bit indices.
    pub fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        Self {
            index: Default::default(),
            weight: Default::default(),
            wide: Default::default(),
            odd: Default::default(),
            one: Constant::new(bits(1)),
            flip: Constant::new(bits(1 << KW)),
        }
    }
}

impl<const KW: usize, const W1: usize> Default for WeightDecode<KW, W1> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const KW: usize, const W1: usize> Logic for WeightDecode<KW, W1> {
    #[hdl_gen]
    fn update(&mut self) {
        self.wide.x.next = self.index.val();
        self.odd.next = (self.wide.y.val() << 1) | self.one.val();
        self.weight.next = signed_cast(self.odd.val() ^ self.flip.val());
    }
}

/// One lane's product, registered: `prod = en ? a·w : 0` one clock after `act`, `widx`, `en` are presented
/// (latency 1), for run-time widths `ka ≤ KA`, `kw ≤ KW`. Capacity `KA`, `KW` in 1..=15, `W1 = KW + 1`,
/// `P = KA + KW + 1`.
///
/// The activation is masked to `ka` bits and zero-extended to 16; the weight `(i << 1 | 1) − 2^kw` is formed at
/// 16 bits (the two's complement of `2i − (2^kw − 1)`: [`WeightDecode`] plus sign extension) and wrapped at
/// `kw + 1` bits; rust-hdl's only signed multiply, `Signed<16> × Signed<16> → Signed<32>`, runs alone in its own
/// assignment into a 32-bit signal (never inside a larger expression: docs/hardware.md); the product is narrowed to
/// `P` bits and wrapped at `ka + kw + 1` bits.
#[derive(LogicBlock)]
pub struct LaneProduct<const KA: usize, const KW: usize, const W1: usize, const P: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Activation code, unsigned, `ka` bits used (bits above are ignored).
    pub act: Signal<In, Bits<KA>>,
    /// Weight index, unsigned, `kw` bits used (bits above are ignored).
    pub widx: Signal<In, Bits<KW>>,
    /// Product enable: when low the registered product is 0.
    pub en: Signal<In, Bit>,
    /// Registered product, signed, `ka + kw + 1` significant bits sign-extended to `P`.
    pub prod: Signal<Out, Signed<P>>,
    a_m: Signal<Local, Bits<KA>>,
    a_u: ZeroResize<KA, 16>,
    a16: Signal<Local, Signed<16>>,
    i_m: Signal<Local, Bits<KW>>,
    i_u: ZeroResize<KW, 16>,
    odd: Signal<Local, Bits<16>>,
    w_t: Signal<Local, Bits<16>>,
    w_sign: Signal<Local, Bit>,
    w_u: Signal<Local, Bits<16>>,
    w16: Signal<Local, Signed<16>>,
    p32: Signal<Local, Signed<32>>,
    narrow: SignResize<32, P>,
    p_t: Signal<Local, Bits<P>>,
    p_sign: Signal<Local, Bit>,
    p_u: Signal<Local, Bits<P>>,
    prod_reg: DFF<Signed<P>>,
    a_mask: Constant<Bits<KA>>,
    i_mask: Constant<Bits<KW>>,
    one: Constant<Bits<16>>,
    offset: Constant<Bits<16>>,
    w_lo: Constant<Bits<16>>,
    w_hi: Constant<Bits<16>>,
    p_lo: Constant<Bits<P>>,
    p_hi: Constant<Bits<P>>,
    zero: Constant<Signed<P>>,
    _kw: usize,
    _pb: usize,
}

impl<const KA: usize, const KW: usize, const W1: usize, const P: usize> LaneProduct<KA, KW, W1, P> {
    const WIDTHS_OK: () = assert!(
        KA >= 1 && KA <= 15 && KW >= 1 && KW <= 15 && W1 == KW + 1 && P == KA + KW + 1,
        "LaneProduct needs KA, KW in 1..=15, W1 = KW + 1, P = KA + KW + 1"
    );

    /// A lane for `ka`-bit activations and `kw`-bit weight indices (`ka ≤ KA`, `kw ≤ KW`; the accumulator width
    /// in `w` is not used here).
    pub fn new(w: MacWidths) -> Result<Self, HdlError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        MacWidths { acc: 2, ..w }.check(KA, KW, 2)?;
        let pb = w.product_bits();
        Ok(Self {
            clock: Default::default(),
            act: Default::default(),
            widx: Default::default(),
            en: Default::default(),
            prod: Default::default(),
            a_m: Default::default(),
            a_u: Default::default(),
            a16: Default::default(),
            i_m: Default::default(),
            i_u: Default::default(),
            odd: Default::default(),
            w_t: Default::default(),
            w_sign: Default::default(),
            w_u: Default::default(),
            w16: Default::default(),
            p32: Default::default(),
            narrow: Default::default(),
            p_t: Default::default(),
            p_sign: Default::default(),
            p_u: Default::default(),
            prod_reg: Default::default(),
            a_mask: Constant::new(bits(low_mask(w.ka))),
            i_mask: Constant::new(bits(low_mask(w.kw))),
            one: Constant::new(bits(1)),
            offset: Constant::new(bits(1 << w.kw)),
            w_lo: Constant::new(bits(low_mask(w.kw + 1))),
            w_hi: Constant::new(bits(high_mask(w.kw + 1, 16))),
            p_lo: Constant::new(bits(low_mask(pb))),
            p_hi: Constant::new(bits(high_mask(pb, P as u32))),
            zero: Constant::new(Default::default()),
            _kw: w.kw as usize,
            _pb: pb as usize,
        })
    }
}

impl<const KA: usize, const KW: usize, const W1: usize, const P: usize> Logic for LaneProduct<KA, KW, W1, P> {
    // `for m in x..x + 1` binds a run-time width as a number rust-hdl writes into the Verilog (a bit index).
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, prod_reg);
        // Activation: ka bits, zero-extended to 16 (bit 15 stays 0, so the signed view is the code).
        self.a_m.next = self.act.val() & self.a_mask.val();
        self.a_u.x.next = self.a_m.val();
        self.a16.next = signed_cast(self.a_u.y.val());
        // Weight: 2i + 1 − 2^kw modulo 2^16, wrapped at kw + 1 bits.
        self.i_m.next = self.widx.val() & self.i_mask.val();
        self.i_u.x.next = self.i_m.val();
        self.odd.next = (self.i_u.y.val() << 1) | self.one.val();
        self.w_t.next = self.odd.val() - self.offset.val();
        for m in self._kw..(self._kw + 1) {
            self.w_sign.next = self.w_t.val().get_bit(m);
        }
        if self.w_sign.val() {
            self.w_u.next = self.w_t.val() | self.w_hi.val();
        } else {
            self.w_u.next = self.w_t.val() & self.w_lo.val();
        }
        self.w16.next = signed_cast(self.w_u.val());
        // The signed multiply, alone, into a 32-bit signal; then P bits, wrapped at ka + kw + 1 bits.
        self.p32.next = self.a16.val() * self.w16.val();
        self.narrow.x.next = self.p32.val();
        self.p_t.next = unsigned_cast(self.narrow.y.val());
        for m in (self._pb - 1)..self._pb {
            self.p_sign.next = self.p_t.val().get_bit(m);
        }
        if self.p_sign.val() {
            self.p_u.next = self.p_t.val() | self.p_hi.val();
        } else {
            self.p_u.next = self.p_t.val() & self.p_lo.val();
        }
        if self.en.val() {
            self.prod_reg.d.next = signed_cast(self.p_u.val());
        } else {
            self.prod_reg.d.next = self.zero.val();
        }
        self.prod.next = self.prod_reg.q.val();
    }
}

/// One lane's product without a signed multiplier, registered (latency 1): `prod = en ? a·w : 0` computed as
/// `a·w = 2·(a·i) + a − a·2^kw` from the unsigned product `a·i` (rust-hdl's `Bits<16> × Bits<16> → Bits<32>`),
/// for run-time `ka ≤ KA`, `kw ≤ KW`. Capacity `KA`, `KW` up to 16 (the 16-bit point of the density comparison,
/// where the signed form would need a 17-bit operand); `P = KA + KW + 1` (33 at 16 × 16). Same ports and timing
/// as [`LaneProduct`].
#[derive(LogicBlock)]
pub struct OffsetLaneProduct<const KA: usize, const KW: usize, const P: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Activation code, unsigned, `ka` bits used.
    pub act: Signal<In, Bits<KA>>,
    /// Weight index, unsigned, `kw` bits used.
    pub widx: Signal<In, Bits<KW>>,
    /// Product enable: when low the registered product is 0.
    pub en: Signal<In, Bit>,
    /// Registered product, signed, `ka + kw + 1` significant bits sign-extended to `P`.
    pub prod: Signal<Out, Signed<P>>,
    a_m: Signal<Local, Bits<KA>>,
    i_m: Signal<Local, Bits<KW>>,
    a16: ZeroResize<KA, 16>,
    i16: ZeroResize<KW, 16>,
    ai: Signal<Local, Bits<32>>,
    ai_p: ZeroResize<32, P>,
    a_p: ZeroResize<KA, P>,
    twice: Signal<Local, Bits<P>>,
    plus_a: Signal<Local, Bits<P>>,
    a_hi: Signal<Local, Bits<P>>,
    diff: Signal<Local, Bits<P>>,
    p_sign: Signal<Local, Bit>,
    p_u: Signal<Local, Bits<P>>,
    prod_reg: DFF<Signed<P>>,
    a_mask: Constant<Bits<KA>>,
    i_mask: Constant<Bits<KW>>,
    kw: Constant<Bits<8>>,
    p_lo: Constant<Bits<P>>,
    p_hi: Constant<Bits<P>>,
    zero: Constant<Signed<P>>,
    _pb: usize,
}

impl<const KA: usize, const KW: usize, const P: usize> OffsetLaneProduct<KA, KW, P> {
    const WIDTHS_OK: () = assert!(
        KA >= 1 && KA <= 16 && KW >= 1 && KW <= 16 && P == KA + KW + 1,
        "OffsetLaneProduct needs KA, KW in 1..=16 and P = KA + KW + 1"
    );

    /// A lane for `ka`-bit activations and `kw`-bit weight indices (`ka ≤ KA`, `kw ≤ KW`).
    pub fn new(w: MacWidths) -> Result<Self, HdlError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        MacWidths { acc: 2, ..w }.check(KA, KW, 2)?;
        let pb = w.product_bits();
        Ok(Self {
            clock: Default::default(),
            act: Default::default(),
            widx: Default::default(),
            en: Default::default(),
            prod: Default::default(),
            a_m: Default::default(),
            i_m: Default::default(),
            a16: Default::default(),
            i16: Default::default(),
            ai: Default::default(),
            ai_p: Default::default(),
            a_p: Default::default(),
            twice: Default::default(),
            plus_a: Default::default(),
            a_hi: Default::default(),
            diff: Default::default(),
            p_sign: Default::default(),
            p_u: Default::default(),
            prod_reg: Default::default(),
            a_mask: Constant::new(bits(low_mask(w.ka))),
            i_mask: Constant::new(bits(low_mask(w.kw))),
            kw: Constant::new(bits(w.kw as u64)),
            p_lo: Constant::new(bits(low_mask(pb))),
            p_hi: Constant::new(bits(high_mask(pb, P as u32))),
            zero: Constant::new(Default::default()),
            _pb: pb as usize,
        })
    }
}

impl<const KA: usize, const KW: usize, const P: usize> Logic for OffsetLaneProduct<KA, KW, P> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, prod_reg);
        self.a_m.next = self.act.val() & self.a_mask.val();
        self.i_m.next = self.widx.val() & self.i_mask.val();
        self.a16.x.next = self.a_m.val();
        self.i16.x.next = self.i_m.val();
        self.ai.next = self.a16.y.val() * self.i16.y.val();
        // a·i < 2^(ka+kw) ≤ 2^32: its low P bits (zero-extended when P = 33).
        self.ai_p.x.next = self.ai.val();
        self.a_p.x.next = self.a_m.val();
        self.twice.next = self.ai_p.y.val() << 1;
        self.plus_a.next = self.twice.val() + self.a_p.y.val();
        self.a_hi.next = self.a_p.y.val() << self.kw.val();
        self.diff.next = self.plus_a.val() - self.a_hi.val();
        for m in (self._pb - 1)..self._pb {
            self.p_sign.next = self.diff.val().get_bit(m);
        }
        if self.p_sign.val() {
            self.p_u.next = self.diff.val() | self.p_hi.val();
        } else {
            self.p_u.next = self.diff.val() & self.p_lo.val();
        }
        if self.en.val() {
            self.prod_reg.d.next = signed_cast(self.p_u.val());
        } else {
            self.prod_reg.d.next = self.zero.val();
        }
        self.prod.next = self.prod_reg.q.val();
    }
}

/// Signed accumulator wrapping at exactly `acc` bits (run time, `acc ≤ R`), latency 1: at each rising edge
/// `acc ← wrap_acc((clear ? 0 : shift ? acc·2^k : acc) + sext(addend))` and `valid ← last`.
///
/// `addend` is a signed `P`-bit value (`P ≤ R`) sign-extended to the `R`-bit register; the sum is wrapped at
/// `acc` bits (two's complement modulo `2^acc`, sign-extended to `R`), which is the contract's accumulator: the
/// contract sizes `acc` so that every biased result fits, and sums modulo `2^acc` give those results exactly
/// (also in the narrowest layers, where `acc` is smaller than one product's width). yosys keeps exactly `acc`
/// flip-flops. `clear` restarts the sum at the addend of the same beat, so sums follow each other without a
/// bubble. `valid` marks the cycle in which `acc` holds a sum whose last addend came with `last`.
///
/// `shift` (Horner step of the digit-serial passes, see [`crate::array::MacArray`]) multiplies the running sum by
/// `2^k` before adding: a constant left shift, wires only; `k = 0` ([`Accumulator::new`]) makes it a no-op. The
/// product modulo `2^acc` of the wrapped sum is the wrapped product of the true sum, so the result stays exact.
#[derive(LogicBlock)]
pub struct Accumulator<const P: usize, const R: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Value to add, signed, `P` bits.
    pub addend: Signal<In, Signed<P>>,
    /// Start a new sum with this beat.
    pub clear: Signal<In, Bit>,
    /// This beat completes the sum: `valid` is high while `acc` shows it.
    pub last: Signal<In, Bit>,
    /// Multiply the running sum by `2^k` before adding this beat (ignored with `clear`).
    pub shift: Signal<In, Bit>,
    /// The running sum: `acc` significant bits, sign-extended to `R` (registered).
    pub acc: Signal<Out, Signed<R>>,
    /// High for one cycle when `acc` is a completed sum.
    pub valid: Signal<Out, Bit>,
    ext: SignResize<P, R>,
    base: Signal<Local, Bits<R>>,
    sum: Signal<Local, Bits<R>>,
    sign: Signal<Local, Bit>,
    acc_reg: DFF<Signed<R>>,
    valid_reg: DFF<Bit>,
    lo: Constant<Bits<R>>,
    hi: Constant<Bits<R>>,
    zero: Constant<Bits<R>>,
    kshift: Constant<Bits<8>>,
    _acc: usize,
}

impl<const P: usize, const R: usize> Accumulator<P, R> {
    const WIDTHS_OK: () = assert!(P >= 2 && R >= P && R <= 64, "Accumulator needs 2 <= P <= R <= 64");

    /// An accumulator of `acc` bits (2..=`R`) adding `P`-bit values (`shift` is a no-op).
    pub fn new(acc: u32) -> Result<Self, HdlError> {
        Self::horner(acc, 0)
    }

    /// An accumulator of `acc` bits whose `shift` multiplies the running sum by `2^k` (`k` ≤ 8).
    pub fn horner(acc: u32, k: u32) -> Result<Self, HdlError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        crate::widths::check_range("accumulator width", acc, 2, R as u32)?;
        crate::widths::check_range("Horner shift", k, 0, 8)?;
        Ok(Self {
            clock: Default::default(),
            addend: Default::default(),
            clear: Default::default(),
            last: Default::default(),
            shift: Default::default(),
            acc: Default::default(),
            valid: Default::default(),
            ext: Default::default(),
            base: Default::default(),
            sum: Default::default(),
            sign: Default::default(),
            acc_reg: Default::default(),
            valid_reg: Default::default(),
            lo: Constant::new(bits(low_mask(acc))),
            hi: Constant::new(bits(high_mask(acc, R as u32))),
            zero: Constant::new(bits(0)),
            kshift: Constant::new(bits(k as u64)),
            _acc: acc as usize,
        })
    }
}

impl<const P: usize, const R: usize> Logic for Accumulator<P, R> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, acc_reg, valid_reg);
        self.ext.x.next = self.addend.val();
        if self.clear.val() {
            self.base.next = self.zero.val();
        } else if self.shift.val() {
            self.base.next = unsigned_cast(self.acc_reg.q.val()) << self.kshift.val();
        } else {
            self.base.next = unsigned_cast(self.acc_reg.q.val());
        }
        self.sum.next = self.base.val() + unsigned_cast(self.ext.y.val());
        for m in (self._acc - 1)..self._acc {
            self.sign.next = self.sum.val().get_bit(m);
        }
        if self.sign.val() {
            self.acc_reg.d.next = signed_cast(self.sum.val() | self.hi.val());
        } else {
            self.acc_reg.d.next = signed_cast(self.sum.val() & self.lo.val());
        }
        self.valid_reg.d.next = self.last.val();
        self.acc.next = self.acc_reg.q.val();
        self.valid.next = self.valid_reg.q.val();
    }
}

macro_rules! define_mac {
    ($(#[$doc:meta])* $name:ident, $lane:ident < $($lp:ident),* >, [$($gen:ident),*]) => {
        $(#[$doc])*
        #[derive(LogicBlock)]
        pub struct $name<$(const $gen: usize),*> {
            /// Clock (rising edge).
            pub clock: Signal<In, Clock>,
            /// Activation code, unsigned, `ka` bits used.
            pub act: Signal<In, Bits<KA>>,
            /// Weight index, unsigned, `kw` bits used (decoded inside).
            pub widx: Signal<In, Bits<KW>>,
            /// This beat carries a product to accumulate (when low the beat adds 0).
            pub en: Signal<In, Bit>,
            /// This beat starts a new sum (the accumulator restarts from 0 plus this beat's product).
            pub clear: Signal<In, Bit>,
            /// This beat is the last of its sum (taken only with `en`).
            pub last: Signal<In, Bit>,
            /// Running sum, signed, `acc` significant bits sign-extended to `R`.
            pub acc: Signal<Out, Signed<R>>,
            /// High for one cycle when `acc` holds a sum completed by a `last` beat.
            pub valid: Signal<Out, Bit>,
            lane: $lane<$($lp),*>,
            accum: Accumulator<P, R>,
            clear_reg: DFF<Bit>,
            last_reg: DFF<Bit>,
            _widths: MacWidths,
        }

        impl<$(const $gen: usize),*> $name<$($gen),*> {
            /// A MAC for run-time widths `w` within this type's capacity (`w.ka ≤ KA`, `w.kw ≤ KW`, `w.acc ≤ R`).
            pub fn new(w: MacWidths) -> Result<Self, HdlError> {
                w.check(KA, KW, R)?;
                Ok(Self {
                    clock: Default::default(),
                    act: Default::default(),
                    widx: Default::default(),
                    en: Default::default(),
                    clear: Default::default(),
                    last: Default::default(),
                    acc: Default::default(),
                    valid: Default::default(),
                    lane: $lane::new(w)?,
                    accum: Accumulator::new(w.acc)?,
                    clear_reg: Default::default(),
                    last_reg: Default::default(),
                    _widths: w,
                })
            }

            /// The run-time widths.
            pub fn widths(&self) -> MacWidths {
                self._widths
            }
        }

        impl<$(const $gen: usize),*> Logic for $name<$($gen),*> {
            #[hdl_gen]
            fn update(&mut self) {
                dff_setup!(self, clock, clear_reg, last_reg);
                self.lane.clock.next = self.clock.val();
                self.lane.act.next = self.act.val();
                self.lane.widx.next = self.widx.val();
                self.lane.en.next = self.en.val();
                self.clear_reg.d.next = self.clear.val();
                self.last_reg.d.next = self.en.val() & self.last.val();
                self.accum.clock.next = self.clock.val();
                self.accum.addend.next = self.lane.prod.val();
                self.accum.clear.next = self.clear_reg.q.val();
                self.accum.last.next = self.last_reg.q.val();
                self.accum.shift.next = false;
                self.acc.next = self.accum.acc.val();
                self.valid.next = self.accum.valid.val();
            }
        }
    };
}

define_mac!(
    /// The low-bit MAC: unsigned `ka`-bit activation × decoded `kw`-bit weight, accumulated into a signed
    /// accumulator of exactly `acc` bits ([`MacWidths`], chosen at run time). Capacity: `KA`, `KW` in 1..=15,
    /// `W1 = KW + 1`, `P = KA + KW + 1`, accumulator register `R` bits (`P ≤ R ≤ 64`); [`Mac`] covers the contract.
    ///
    /// Pipeline ([`MAC_LATENCY`] = 2): a beat (`act`, `widx`, `en`, `clear`, `last`) presented before rising edge
    /// `t` is multiplied into the product register at `t` ([`LaneProduct`]) and added at `t + 1`
    /// ([`Accumulator`]); after edge `t + 1`, `acc` includes it and, if it was an `en & last` beat, `valid` is high
    /// for that one cycle. One beat per cycle, no bubbles between sums (`clear` on the first beat of the next sum).
    LowBitMac, LaneProduct<KA, KW, W1, P>, [KA, KW, W1, P, R]
);

define_mac!(
    /// The MAC built on [`OffsetLaneProduct`] (no signed multiplier), for capacities up to 16 × 16 (the density
    /// comparison point). `P = KA + KW + 1`, `P ≤ R ≤ 64`; same ports and timing as [`LowBitMac`].
    OffsetMac, OffsetLaneProduct<KA, KW, P>, [KA, KW, P, R]
);

/// The weight decode of [`LaneProduct`] on its own (combinational), for the MAC array's input register: `kw`-bit
/// index `i` (bits above `kw` ignored) → `2i − (2^kw − 1)` as a 16-bit signed value (formed modulo 2^16, wrapped
/// at `kw + 1` bits, i.e. sign-extended); with `twos` high (weights imported as two's-complement integers,
/// [`pact_toolchain::contract::WeightEncoding::TwosComplement`]) → `i` read as a `kw`-bit two's-complement value,
/// sign-extended. Capacity `KW` in 1..=15.
#[derive(LogicBlock)]
pub struct LaneWeight<const KW: usize> {
    /// Weight index, unsigned, `kw` bits used.
    pub widx: Signal<In, Bits<KW>>,
    /// Decode `widx` as a two's-complement value instead of an odd code.
    pub twos: Signal<In, Bit>,
    /// The decoded weight, signed 16 bits.
    pub w16: Signal<Out, Signed<16>>,
    i_m: Signal<Local, Bits<KW>>,
    i_u: ZeroResize<KW, 16>,
    odd: Signal<Local, Bits<16>>,
    w_t: Signal<Local, Bits<16>>,
    w_sign: Signal<Local, Bit>,
    w_u: Signal<Local, Bits<16>>,
    i_mask: Constant<Bits<KW>>,
    one: Constant<Bits<16>>,
    offset: Constant<Bits<16>>,
    w_lo: Constant<Bits<16>>,
    w_hi: Constant<Bits<16>>,
    t_lo: Constant<Bits<16>>,
    t_hi: Constant<Bits<16>>,
    _kw: usize,
}

impl<const KW: usize> LaneWeight<KW> {
    const WIDTHS_OK: () = assert!(KW >= 1 && KW <= 15, "LaneWeight needs KW in 1..=15");

    /// A decoder for `kw`-bit indices (`1 ≤ kw ≤ KW`, checked by the caller's [`MacWidths::check`]).
    pub fn new(kw: u32) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        assert!(kw >= 1 && kw as usize <= KW, "LaneWeight: kw {kw} outside 1..={KW}");
        Self {
            widx: Default::default(),
            twos: Default::default(),
            w16: Default::default(),
            i_m: Default::default(),
            i_u: Default::default(),
            odd: Default::default(),
            w_t: Default::default(),
            w_sign: Default::default(),
            w_u: Default::default(),
            i_mask: Constant::new(bits(low_mask(kw))),
            one: Constant::new(bits(1)),
            offset: Constant::new(bits(1 << kw)),
            w_lo: Constant::new(bits(low_mask(kw + 1))),
            w_hi: Constant::new(bits(high_mask(kw + 1, 16))),
            t_lo: Constant::new(bits(low_mask(kw))),
            t_hi: Constant::new(bits(high_mask(kw, 16))),
            _kw: kw as usize,
        }
    }
}

impl<const KW: usize> Logic for LaneWeight<KW> {
    #[hdl_gen]
    fn update(&mut self) {
        // 2i + 1 − 2^kw modulo 2^16, wrapped at kw + 1 bits (as in LaneProduct). `2i + 1 < 2^(kw+1)`, so within
        // kw + 1 bits subtracting 2^kw flips bit kw: an XOR with a constant (wiring and an inverter, no carry
        // chain); the sign extension below sets the bits above.
        self.i_m.next = self.widx.val() & self.i_mask.val();
        self.i_u.x.next = self.i_m.val();
        self.odd.next = (self.i_u.y.val() << 1) | self.one.val();
        self.w_t.next = self.odd.val() ^ self.offset.val();
        for m in self._kw..(self._kw + 1) {
            self.w_sign.next = self.w_t.val().get_bit(m);
        }
        if self.w_sign.val() {
            self.w_u.next = self.w_t.val() | self.w_hi.val();
        } else {
            self.w_u.next = self.w_t.val() & self.w_lo.val();
        }
        // Two's complement: `i` itself, sign-extended from bit kw − 1.
        if self.twos.val() {
            for m in (self._kw - 1)..self._kw {
                if self.i_u.y.val().get_bit(m) {
                    self.w_u.next = self.i_u.y.val() | self.t_hi.val();
                } else {
                    self.w_u.next = self.i_u.y.val() & self.t_lo.val();
                }
            }
        }
        self.w16.next = signed_cast(self.w_u.val());
    }
}

/// One lane of the MAC array from a decoded weight ([`LaneWeight`]): the signed multiply `a·w` (16 × 16 → 32,
/// alone in its assignment: docs/hardware.md) registered raw, so that the multiplier has only wires on both sides
/// (its operands come from registers, its product goes straight into one); the narrowing to `P` bits, the wrap at
/// `ka + kw + 1` bits and the enable (registered beside the product) follow the register, combinationally.
/// Latency 1, the same `prod` as [`LaneProduct`] for the same beat.
#[derive(LogicBlock)]
pub struct RawLaneProduct<const KA: usize, const P: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Activation code, unsigned, `ka` bits used.
    pub act: Signal<In, Bits<KA>>,
    /// Decoded weight, signed 16 bits (from [`LaneWeight`]).
    pub w16: Signal<In, Signed<16>>,
    /// Product enable: when low `prod` is 0.
    pub en: Signal<In, Bit>,
    /// Product of the beat one edge earlier, signed, `ka + kw + 1` significant bits sign-extended to `P`.
    pub prod: Signal<Out, Signed<P>>,
    a_m: Signal<Local, Bits<KA>>,
    a_u: ZeroResize<KA, 16>,
    a16: Signal<Local, Signed<16>>,
    p32: Signal<Local, Signed<32>>,
    tail: ProductTail<P>,
    a_mask: Constant<Bits<KA>>,
}

impl<const KA: usize, const P: usize> RawLaneProduct<KA, P> {
    const WIDTHS_OK: () = assert!(
        KA >= 1 && KA <= 15 && P <= 32,
        "RawLaneProduct needs KA in 1..=15, P ≤ 32"
    );

    /// A lane for `ka`-bit activations and products of `w.product_bits()` bits.
    pub fn new(w: MacWidths) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        assert!(
            w.ka >= 1 && w.ka as usize <= KA && w.product_bits() as usize <= P,
            "RawLaneProduct: widths {w:?} exceed the capacity"
        );
        Self {
            clock: Default::default(),
            act: Default::default(),
            w16: Default::default(),
            en: Default::default(),
            prod: Default::default(),
            a_m: Default::default(),
            a_u: Default::default(),
            a16: Default::default(),
            p32: Default::default(),
            tail: ProductTail::new(w.product_bits()),
            a_mask: Constant::new(bits(low_mask(w.ka))),
        }
    }
}

impl<const KA: usize, const P: usize> Logic for RawLaneProduct<KA, P> {
    #[hdl_gen]
    fn update(&mut self) {
        self.a_m.next = self.act.val() & self.a_mask.val();
        self.a_u.x.next = self.a_m.val();
        self.a16.next = signed_cast(self.a_u.y.val());
        // The signed multiply, alone, into a 32-bit signal, registered as it is (in the tail).
        self.p32.next = self.a16.val() * self.w16.val();
        self.tail.clock.next = self.clock.val();
        self.tail.p32.next = self.p32.val();
        self.tail.en.next = self.en.val();
        self.prod.next = self.tail.prod.val();
    }
}

/// The common end of the array's lanes ([`RawLaneProduct`], [`LutLaneProduct`]): the 32-bit product registered
/// raw with the enable beside it, then, combinationally, narrowed to `P` bits, wrapped at the product's `pb`
/// significant bits (sign-extended) and gated by the registered enable. Latency 1.
#[derive(LogicBlock)]
pub struct ProductTail<const P: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// The product, signed 32 bits (exact: `|a·w| < 2^31`).
    pub p32: Signal<In, Signed<32>>,
    /// Product enable.
    pub en: Signal<In, Bit>,
    /// The registered product: `pb` significant bits sign-extended to `P`, or 0 without the enable.
    pub prod: Signal<Out, Signed<P>>,
    p_reg: DFF<Signed<32>>,
    en_reg: DFF<Bit>,
    narrow: SignResize<32, P>,
    p_t: Signal<Local, Bits<P>>,
    p_sign: Signal<Local, Bit>,
    p_u: Signal<Local, Bits<P>>,
    p_lo: Constant<Bits<P>>,
    p_hi: Constant<Bits<P>>,
    zero: Constant<Signed<P>>,
    _pb: usize,
}

impl<const P: usize> ProductTail<P> {
    /// A tail for products of `pb` significant bits (`1 ≤ pb ≤ P`).
    pub fn new(pb: u32) -> Self {
        assert!(pb >= 1 && pb as usize <= P, "ProductTail: {pb} bits exceed {P}");
        Self {
            clock: Default::default(),
            p32: Default::default(),
            en: Default::default(),
            prod: Default::default(),
            p_reg: Default::default(),
            en_reg: Default::default(),
            narrow: Default::default(),
            p_t: Default::default(),
            p_sign: Default::default(),
            p_u: Default::default(),
            p_lo: Constant::new(bits(low_mask(pb))),
            p_hi: Constant::new(bits(high_mask(pb, P as u32))),
            zero: Constant::new(Default::default()),
            _pb: pb as usize,
        }
    }
}

impl<const P: usize> Logic for ProductTail<P> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, p_reg, en_reg);
        self.p_reg.d.next = self.p32.val();
        self.en_reg.d.next = self.en.val();
        self.narrow.x.next = self.p_reg.q.val();
        self.p_t.next = unsigned_cast(self.narrow.y.val());
        for m in (self._pb - 1)..self._pb {
            self.p_sign.next = self.p_t.val().get_bit(m);
        }
        if self.p_sign.val() {
            self.p_u.next = self.p_t.val() | self.p_hi.val();
        } else {
            self.p_u.next = self.p_t.val() & self.p_lo.val();
        }
        if self.en_reg.q.val() {
            self.prod.next = signed_cast(self.p_u.val());
        } else {
            self.prod.next = self.zero.val();
        }
    }
}

/// The widest activation (digit) that the array's lanes multiply by shift and add in LUTs ([`LutLaneProduct`]);
/// wider ones use [`RawLaneProduct`]'s `*` (a DSP where the device has one).
pub const LUT_MUL_MAX_BITS: u32 = 4;

/// One lane of the MAC array for narrow activations (`ka ≤` [`LUT_MUL_MAX_BITS`]): the same `prod` as
/// [`RawLaneProduct`], latency 1, but multiplied by shift and add, `a·w = Σ_{b<ka} a_b·(w << b)`: a chain of `ka`
/// conditional adds of the sign-extended weight (two's complement, 32 bits, exact since `|a·w| < 2^31`). yosys
/// sees no `$mul` and builds the lane from LUTs and carry chains, where it would otherwise spend a whole 16 × 16
/// DSP (the iCE40 UP5K has 8) on a 2 × 3-bit product.
#[derive(LogicBlock)]
pub struct LutLaneProduct<const KA: usize, const P: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Activation code, unsigned, `ka` bits used.
    pub act: Signal<In, Bits<KA>>,
    /// Decoded weight, signed 16 bits (from [`LaneWeight`]).
    pub w16: Signal<In, Signed<16>>,
    /// Product enable: when low `prod` is 0.
    pub en: Signal<In, Bit>,
    /// Product of the beat one edge earlier, signed, `ka + kw + 1` significant bits sign-extended to `P`.
    pub prod: Signal<Out, Signed<P>>,
    a_m: Signal<Local, Bits<KA>>,
    /// The activation's bits above `ka` (always 0 after the mask) end here: Verilator exempts `*unused*`.
    unused_act: Signal<Local, Bits<KA>>,
    w_x: SignResize<16, 32>,
    /// `ws[b]` = `w << b` (32-bit two's complement), `b < ka`.
    ws: Vec<Signal<Local, Bits<32>>>,
    /// `pp[b]` = `Σ_{i<b} a_i·(w << i)`, `b ≤ ka`.
    pp: Vec<Signal<Local, Bits<32>>>,
    p32: Signal<Local, Signed<32>>,
    tail: ProductTail<P>,
    a_mask: Constant<Bits<KA>>,
    zero32: Constant<Bits<32>>,
    _ka: usize,
}

impl<const KA: usize, const P: usize> LutLaneProduct<KA, P> {
    const WIDTHS_OK: () = assert!(
        KA >= 1 && KA <= 15 && P <= 32,
        "LutLaneProduct needs KA in 1..=15, P ≤ 32"
    );

    /// A lane for `ka`-bit activations (`1 ≤ ka ≤` [`LUT_MUL_MAX_BITS`]) and products of `w.product_bits()` bits.
    pub fn new(w: MacWidths) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        assert!(
            w.ka >= 1 && w.ka <= LUT_MUL_MAX_BITS && w.ka as usize <= KA && w.product_bits() as usize <= P,
            "LutLaneProduct: widths {w:?} exceed the capacity"
        );
        let ka = w.ka as usize;
        Self {
            clock: Default::default(),
            act: Default::default(),
            w16: Default::default(),
            en: Default::default(),
            prod: Default::default(),
            a_m: Default::default(),
            unused_act: Default::default(),
            w_x: Default::default(),
            ws: (0..ka).map(|_| Default::default()).collect(),
            pp: (0..=ka).map(|_| Default::default()).collect(),
            p32: Default::default(),
            tail: ProductTail::new(w.product_bits()),
            a_mask: Constant::new(bits(low_mask(w.ka))),
            zero32: Constant::new(bits(0)),
            _ka: ka,
        }
    }
}

impl<const KA: usize, const P: usize> Logic for LutLaneProduct<KA, P> {
    #[hdl_gen]
    fn update(&mut self) {
        self.a_m.next = self.act.val() & self.a_mask.val();
        self.unused_act.next = self.a_m.val();
        self.w_x.x.next = self.w16.val();
        self.ws[0].next = unsigned_cast(self.w_x.y.val());
        for b in 1..self._ka {
            self.ws[b].next = self.ws[b - 1].val() << 1;
        }
        self.pp[0].next = self.zero32.val();
        for b in 0..self._ka {
            if self.a_m.val().get_bit(b) {
                self.pp[b + 1].next = self.pp[b].val() + self.ws[b].val();
            } else {
                self.pp[b + 1].next = self.pp[b].val();
            }
        }
        for c in self._ka..(self._ka + 1) {
            self.p32.next = signed_cast(self.pp[c].val());
        }
        self.tail.clock.next = self.clock.val();
        self.tail.p32.next = self.p32.val();
        self.tail.en.next = self.en.val();
        self.prod.next = self.tail.prod.val();
    }
}
