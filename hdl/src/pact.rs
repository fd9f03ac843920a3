//! The PACT requantization unit: signed accumulator + per-channel bias → activation code.
use crate::resize::ZeroResize;
use crate::rom::{ChannelRom, CHANNEL_BITS, MAX_CHANNELS};
use crate::widths::{check_range, high_mask, low_mask};
use crate::HdlError;
use pact_toolchain::contract::MAX_SHIFT;
use rust_hdl::prelude::*;

/// Width of `M0` in the hardware (unsigned): one 16-bit multiplier operand (an iCE40 SB_MAC16 input).
pub const M0_BITS: u32 = 16;

/// Pipeline latency of [`PactUnit`]: 8 register stages. An input sampled at rising edge `t` gives its code after
/// edge `t + 7`.
pub const PACT_LATENCY: usize = 8;

/// The PACT unit with the capacity of the whole contract: 32-bit accumulators, codes up to 8 bits.
pub type Pact = PactUnit<32, 48, 8>;

/// Requantization constants of one output channel (`pact_toolchain::qmodel::ChannelRequant` per channel plus the
/// layer bias): `code = clamp(((acc + bias)·m0 + 2^(shift−1)) >> shift, 0, 2^ka − 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelConsts {
    /// Multiplier, unsigned, below `2^16` ([`M0_BITS`]).
    pub m0: u32,
    /// Right shift `n`, 1..=62 (`contract::MAX_SHIFT`).
    pub shift: u32,
    /// Bias in accumulator units; must fit the signed accumulator width.
    pub bias: i64,
}

/// The PACT unit: `code = clamp(((acc + bias)·M0 + 2^(n−1)) >> n, 0, 2^ka − 1)` with `>>` arithmetic (floor),
/// i.e. `contract::requantize(acc + bias, m0, n, ka)`, bit for bit, with `M0`, `n` and `bias` of the channel
/// given by `channel` read from three [`ChannelRom`]s.
///
/// Widths: `acc` signed, `acc_bits` significant (run time, 2..=`R`, sign-extended to the `R`-bit port); bias
/// signed `acc_bits` bits (the contract's accumulator width covers `acc + bias`, so the sum is formed modulo
/// `2^acc_bits` and is exact); `M0` unsigned 16 bits; the signed product `acc_bits + 16` bits (capacity
/// `V = R + 16`); `code` unsigned, `ka` bits (run time, 1..=`KA`, zero-extended to the `KA`-bit port). [`Pact`]
/// covers the contract. Run-time widths are masks that yosys reduces to exact-width hardware
/// ([`crate::widths`]).
///
/// Pipeline ([`PACT_LATENCY`] = 8 stages, one input per cycle; at most one adder, one multiplier or three levels
/// of a shifter between two registers, for the clock rate):
/// 1. ROM reads of `M0`, `n − 1`, `bias`; `acc` registered.
/// 2. `s = acc + bias`, wrapped at `acc_bits`.
/// 3. Partial products with rust-hdl's only unsigned multiply (`Bits<16> × Bits<16>`): `lo = s[15:0]·M0` and,
///    only when `acc_bits > 16`, `hi = s[acc_bits−1:16]·M0`; and the sign of `s`. (One iCE40 SB_MAC16 each.)
/// 4. `p = (hi << 16) + lo` and the correction `c = sign ? M0 << acc_bits : 0`.
/// 5. `x = p − c` = `s·M0` exactly, wrapped at `acc_bits + 16` bits.
/// 6. `x >> (8·⌊(n − 1)/8⌋)` (the coarse shift) and the sign of `x`.
/// 7. the fine shift by `(n − 1) mod 8`, giving `y = x >> (n − 1)` (logical, meaningful for `x ≥ 0`).
/// 8. `code = x < 0 ? 0 : y ≥ 2^(ka+1) − 1 ? 2^ka − 1 : (y + 1) >> 1`.
///
/// Why it is exact: for any `x`, `floor((x + 2^(n−1)) / 2^n) = floor((floor(x / 2^(n−1)) + 1) / 2)`, so rounding
/// half up needs no wide add; a negative `x` always gives a code ≤ 0, clamped to 0 (the ReLU part), so the shift
/// only ever sees `x ≥ 0`; and `(y + 1) >> 1 > 2^ka − 1` exactly when `y ≥ 2^(ka+1) − 1` (the clip at α).
/// Channel addresses past the last channel read zeros (`M0 = 0`, `n = 1`, `bias = 0`): code 0.
#[derive(LogicBlock)]
pub struct PactUnit<const R: usize, const V: usize, const KA: usize> {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Accumulator (without bias), signed, `acc_bits` significant bits.
    pub acc: Signal<In, Signed<R>>,
    /// Output channel of this accumulator, selects `M0`, `n` and `bias`.
    pub channel: Signal<In, Bits<CHANNEL_BITS>>,
    /// This cycle carries an accumulator to requantize.
    pub valid_in: Signal<In, Bit>,
    /// Activation code, unsigned, `ka` bits ([`PACT_LATENCY`] stages after its input).
    pub code: Signal<Out, Bits<KA>>,
    /// `code` is valid (the delayed `valid_in`).
    pub valid: Signal<Out, Bit>,
    m0_rom: ChannelRom<16>,
    shift_rom: ChannelRom<6>,
    bias_rom: ChannelRom<R>,
    // Stage 1.
    acc_1: DFF<Bits<R>>,
    v_1: DFF<Bit>,
    // Stage 2.
    sum_2: Signal<Local, Bits<R>>,
    sign_2: Signal<Local, Bit>,
    biased_2: DFF<Bits<R>>,
    m0_2: DFF<Bits<16>>,
    sh_2: DFF<Bits<6>>,
    v_2: DFF<Bit>,
    // Stage 3.
    lo_m: Signal<Local, Bits<R>>,
    lo16: ZeroResize<R, 16>,
    // The high-half path exists only when acc_bits > 16: vectors of length 1 or 0.
    hi_shift: Vec<Signal<Local, Bits<R>>>,
    hi_m: Vec<Signal<Local, Bits<R>>>,
    hi16: Vec<ZeroResize<R, 16>>,
    hi_3: Vec<DFF<Bits<32>>>,
    hi16_mask: Vec<Constant<Bits<R>>>,
    lo_3: DFF<Bits<32>>,
    neg_3: DFF<Bit>,
    m0_3: DFF<Bits<16>>,
    sh_3: DFF<Bits<6>>,
    v_3: DFF<Bit>,
    // Stage 4.
    hi_v: ZeroResize<32, V>,
    lo_v: ZeroResize<32, V>,
    m0_v: ZeroResize<16, V>,
    hi_s: Signal<Local, Bits<V>>,
    m0_s: Signal<Local, Bits<V>>,
    corr: Signal<Local, Bits<V>>,
    sum_4: Signal<Local, Bits<V>>,
    p_4: DFF<Bits<V>>,
    c_4: DFF<Bits<V>>,
    sh_4: DFF<Bits<6>>,
    v_4: DFF<Bit>,
    // Stage 5.
    x_t: Signal<Local, Bits<V>>,
    x_sign: Signal<Local, Bit>,
    x_5: DFF<Bits<V>>,
    sh_5: DFF<Bits<6>>,
    v_5: DFF<Bit>,
    // Stage 6.
    sh_hi: Signal<Local, Bits<6>>,
    yc_6: DFF<Bits<V>>,
    neg_6: DFF<Bit>,
    sh_6: DFF<Bits<6>>,
    v_6: DFF<Bit>,
    // Stage 7.
    sh_lo: Signal<Local, Bits<6>>,
    y_s: Signal<Local, Bits<V>>,
    y_7: DFF<Bits<V>>,
    neg_7: DFF<Bit>,
    v_7: DFF<Bit>,
    // Stage 8.
    y_inc: Signal<Local, Bits<V>>,
    y_half: Signal<Local, Bits<V>>,
    y_code: ZeroResize<V, KA>,
    sat_8: Signal<Local, Bit>,
    code_8: DFF<Bits<KA>>,
    v_8: DFF<Bit>,
    acc_lo: Constant<Bits<R>>,
    acc_hi: Constant<Bits<R>>,
    lo16_mask: Constant<Bits<R>>,
    acc_bits: Constant<Bits<8>>,
    zero_32: Constant<Bits<32>>,
    v_lo: Constant<Bits<V>>,
    v_hi: Constant<Bits<V>>,
    one_v: Constant<Bits<V>>,
    zero_v: Constant<Bits<V>>,
    threshold: Constant<Bits<V>>,
    above: Constant<Bits<V>>,
    sh_hi_mask: Constant<Bits<6>>,
    sh_lo_mask: Constant<Bits<6>>,
    max_code: Constant<Bits<KA>>,
    zero_code: Constant<Bits<KA>>,
    _acc: usize,
    _hi_mul: usize,
}

impl<const R: usize, const V: usize, const KA: usize> PactUnit<R, V, KA> {
    const WIDTHS_OK: () = assert!(
        R >= 2 && R <= 32 && V == R + 16 && KA >= 1 && KA <= 16,
        "PactUnit needs R in 2..=32, V = R + 16, KA in 1..=16"
    );

    /// A PACT unit for `acc_bits`-bit accumulators (2..=`R`) and `ka`-bit codes (1..=`KA`), holding the channels
    /// `consts[0..]` (channel `c` at address `c`). Errors name the offending width or channel: no channels or
    /// more than 4096, `M0 ≥ 2^16`, a shift outside 1..=62, a bias that does not fit `acc_bits` bits.
    pub fn new(acc_bits: u32, ka: u32, consts: &[ChannelConsts]) -> Result<Self, HdlError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        check_range("accumulator width", acc_bits, 2, R as u32)?;
        check_range("activation width", ka, 1, KA as u32)?;
        check_consts(consts, acc_bits)?;
        let m0: Vec<u64> = consts.iter().map(|c| c.m0 as u64).collect();
        let sh: Vec<u64> = consts.iter().map(|c| c.shift as u64 - 1).collect();
        let bias: Vec<u64> = consts.iter().map(|c| c.bias as u64).collect();
        let vb = acc_bits + 16;
        let hi = usize::from(acc_bits > 16);
        Ok(Self {
            clock: Default::default(),
            acc: Default::default(),
            channel: Default::default(),
            valid_in: Default::default(),
            code: Default::default(),
            valid: Default::default(),
            m0_rom: ChannelRom::new(&m0, 16, false),
            shift_rom: ChannelRom::new(&sh, 6, false),
            bias_rom: ChannelRom::new(&bias, acc_bits as usize, true),
            acc_1: Default::default(),
            v_1: Default::default(),
            sum_2: Default::default(),
            sign_2: Default::default(),
            biased_2: Default::default(),
            m0_2: Default::default(),
            sh_2: Default::default(),
            v_2: Default::default(),
            lo_m: Default::default(),
            lo16: Default::default(),
            hi_shift: (0..hi).map(|_| Default::default()).collect(),
            hi_m: (0..hi).map(|_| Default::default()).collect(),
            hi16: (0..hi).map(|_| Default::default()).collect(),
            hi_3: (0..hi).map(|_| Default::default()).collect(),
            hi16_mask: (0..hi)
                .map(|_| Constant::new(bits(low_mask(acc_bits.saturating_sub(16)))))
                .collect(),
            lo_3: Default::default(),
            neg_3: Default::default(),
            m0_3: Default::default(),
            sh_3: Default::default(),
            v_3: Default::default(),
            hi_v: Default::default(),
            lo_v: Default::default(),
            m0_v: Default::default(),
            hi_s: Default::default(),
            m0_s: Default::default(),
            corr: Default::default(),
            sum_4: Default::default(),
            p_4: Default::default(),
            c_4: Default::default(),
            sh_4: Default::default(),
            v_4: Default::default(),
            x_t: Default::default(),
            x_sign: Default::default(),
            x_5: Default::default(),
            sh_5: Default::default(),
            v_5: Default::default(),
            sh_hi: Default::default(),
            yc_6: Default::default(),
            neg_6: Default::default(),
            sh_6: Default::default(),
            v_6: Default::default(),
            sh_lo: Default::default(),
            y_s: Default::default(),
            y_7: Default::default(),
            neg_7: Default::default(),
            v_7: Default::default(),
            y_inc: Default::default(),
            y_half: Default::default(),
            y_code: Default::default(),
            sat_8: Default::default(),
            code_8: Default::default(),
            v_8: Default::default(),
            acc_lo: Constant::new(bits(low_mask(acc_bits))),
            acc_hi: Constant::new(bits(high_mask(acc_bits, R as u32))),
            lo16_mask: Constant::new(bits(low_mask(acc_bits.min(16)))),
            acc_bits: Constant::new(bits(acc_bits as u64)),
            zero_32: Constant::new(bits(0)),
            v_lo: Constant::new(bits(low_mask(vb))),
            v_hi: Constant::new(bits(high_mask(vb, V as u32))),
            one_v: Constant::new(bits(1)),
            zero_v: Constant::new(bits(0)),
            threshold: Constant::new(bits((1u64 << (ka + 1)) - 1)),
            above: Constant::new(bits(low_mask(vb) & !((1u64 << (ka + 1)) - 1))),
            sh_hi_mask: Constant::new(bits(0b111000)),
            sh_lo_mask: Constant::new(bits(0b000111)),
            max_code: Constant::new(bits(low_mask(ka))),
            zero_code: Constant::new(bits(0)),
            _acc: acc_bits as usize,
            _hi_mul: hi,
        })
    }

    /// Number of channels held.
    pub fn channels(&self) -> usize {
        self.m0_rom.depth()
    }

    /// For testing the checkers only: the last stage adds 0 instead of 1 before halving, so the unit rounds down
    /// instead of half up (a one-bit change of the rounding constant). Co-simulation must catch it.
    pub fn inject_rounding_fault(&mut self) {
        self.one_v = Constant::new(bits(0));
    }
}

/// Check per-channel constants against the hardware limits (see [`PactUnit::new`]).
pub fn check_consts(consts: &[ChannelConsts], acc_bits: u32) -> Result<(), HdlError> {
    if consts.is_empty() || consts.len() > MAX_CHANNELS {
        return Err(HdlError::config(format!(
            "a PACT unit holds 1..={MAX_CHANNELS} channels, got {}",
            consts.len()
        )));
    }
    let (lo, hi) = (-(1i64 << (acc_bits - 1)), (1i64 << (acc_bits - 1)) - 1);
    for (c, k) in consts.iter().enumerate() {
        if k.m0 >= 1 << M0_BITS {
            return Err(HdlError::config(format!(
                "channel {c}: M0 = {} does not fit {M0_BITS} bits",
                k.m0
            )));
        }
        if !(1..=MAX_SHIFT).contains(&k.shift) {
            return Err(HdlError::config(format!(
                "channel {c}: shift {} is out of range 1..={MAX_SHIFT}",
                k.shift
            )));
        }
        if k.bias < lo || k.bias > hi {
            return Err(HdlError::config(format!(
                "channel {c}: bias {} does not fit a {acc_bits}-bit accumulator",
                k.bias
            )));
        }
    }
    Ok(())
}

impl<const R: usize, const V: usize, const KA: usize> Logic for PactUnit<R, V, KA> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, acc_1, v_1, biased_2, m0_2, sh_2, v_2, lo_3, neg_3, m0_3, sh_3, v_3, p_4, c_4, sh_4, v_4, x_5,
            sh_5, v_5, yc_6, neg_6, sh_6, v_6, y_7, neg_7, v_7, code_8, v_8
        );
        // Stage 1: ROM reads (registered inside the ROMs) and the accumulator.
        self.m0_rom.clock.next = self.clock.val();
        self.shift_rom.clock.next = self.clock.val();
        self.bias_rom.clock.next = self.clock.val();
        self.m0_rom.address.next = self.channel.val();
        self.shift_rom.address.next = self.channel.val();
        self.bias_rom.address.next = self.channel.val();
        self.acc_1.d.next = unsigned_cast(self.acc.val());
        self.v_1.d.next = self.valid_in.val();
        // Stage 2: add the bias, wrap at acc_bits (exact: the contract sizes acc_bits for acc + bias).
        self.sum_2.next = self.acc_1.q.val() + self.bias_rom.data.val();
        for m in (self._acc - 1)..self._acc {
            self.sign_2.next = self.sum_2.val().get_bit(m);
        }
        if self.sign_2.val() {
            self.biased_2.d.next = self.sum_2.val() | self.acc_hi.val();
        } else {
            self.biased_2.d.next = self.sum_2.val() & self.acc_lo.val();
        }
        self.m0_2.d.next = self.m0_rom.data.val();
        self.sh_2.d.next = self.shift_rom.data.val();
        self.v_2.d.next = self.v_1.q.val();
        // Stage 3: unsigned partial products of the low 16 and the high acc_bits − 16 bits, and the sign.
        self.lo_m.next = self.biased_2.q.val() & self.lo16_mask.val();
        self.lo16.x.next = self.lo_m.val();
        self.lo_3.d.next = self.lo16.y.val() * self.m0_2.q.val();
        for h in 0..self._hi_mul {
            self.hi_shift[h].next = self.biased_2.q.val() >> 16;
            self.hi_m[h].next = self.hi_shift[h].val() & self.hi16_mask[h].val();
            self.hi16[h].x.next = self.hi_m[h].val();
            self.hi_3[h].clock.next = self.clock.val();
            self.hi_3[h].d.next = self.hi16[h].y.val() * self.m0_2.q.val();
        }
        for m in (self._acc - 1)..self._acc {
            self.neg_3.d.next = self.biased_2.q.val().get_bit(m);
        }
        self.m0_3.d.next = self.m0_2.q.val();
        self.sh_3.d.next = self.sh_2.q.val();
        self.v_3.d.next = self.v_2.q.val();
        // Stage 4: the partial products aligned and added, and the sign correction: p = (hi << 16) + lo,
        // c = sign ? M0 << acc_bits : 0.
        self.hi_v.x.next = self.zero_32.val();
        for h in 0..self._hi_mul {
            self.hi_v.x.next = self.hi_3[h].q.val();
        }
        self.lo_v.x.next = self.lo_3.q.val();
        self.m0_v.x.next = self.m0_3.q.val();
        self.hi_s.next = self.hi_v.y.val() << 16;
        self.m0_s.next = self.m0_v.y.val() << self.acc_bits.val();
        if self.neg_3.q.val() {
            self.corr.next = self.m0_s.val();
        } else {
            self.corr.next = self.zero_v.val();
        }
        self.sum_4.next = self.hi_s.val() + self.lo_v.y.val();
        self.p_4.d.next = self.sum_4.val();
        self.c_4.d.next = self.corr.val();
        self.sh_4.d.next = self.sh_3.q.val();
        self.v_4.d.next = self.v_3.q.val();
        // Stage 5: x = p − c = s·M0, wrapped at acc_bits + 16.
        self.x_t.next = self.p_4.q.val() - self.c_4.q.val();
        for m in (self._acc + 15)..(self._acc + 16) {
            self.x_sign.next = self.x_t.val().get_bit(m);
        }
        if self.x_sign.val() {
            self.x_5.d.next = self.x_t.val() | self.v_hi.val();
        } else {
            self.x_5.d.next = self.x_t.val() & self.v_lo.val();
        }
        self.sh_5.d.next = self.sh_4.q.val();
        self.v_5.d.next = self.v_4.q.val();
        // Stage 6: the coarse part of y = x >> (n − 1): shift by the multiple of 8 in n − 1; the sign of x.
        self.sh_hi.next = self.sh_5.q.val() & self.sh_hi_mask.val();
        self.yc_6.d.next = self.x_5.q.val() >> self.sh_hi.val();
        for m in (self._acc + 15)..(self._acc + 16) {
            self.neg_6.d.next = self.x_5.q.val().get_bit(m);
        }
        self.sh_6.d.next = self.sh_5.q.val();
        self.v_6.d.next = self.v_5.q.val();
        // Stage 7: the fine part (the low 3 bits of n − 1). y is used only for x ≥ 0, where it is
        // < 2^(acc_bits+15).
        self.sh_lo.next = self.sh_6.q.val() & self.sh_lo_mask.val();
        self.y_s.next = self.yc_6.q.val() >> self.sh_lo.val();
        self.y_7.d.next = self.y_s.val() & self.v_lo.val();
        self.neg_7.d.next = self.neg_6.q.val();
        self.v_7.d.next = self.v_6.q.val();
        // Stage 8: round half up and clamp to [0, 2^ka − 1].
        self.y_inc.next = self.y_7.q.val() + self.one_v.val();
        self.y_half.next = self.y_inc.val() >> 1;
        self.y_code.x.next = self.y_half.val();
        // `y ≥ 2^(ka+1) − 1` without a magnitude comparator: a bit at or above ka + 1, or the low ka + 1 bits all set.
        self.sat_8.next = ((self.y_7.q.val() & self.above.val()) != self.zero_v.val())
            | ((self.y_7.q.val() & self.threshold.val()) == self.threshold.val());
        if self.neg_7.q.val() {
            self.code_8.d.next = self.zero_code.val();
        } else if self.sat_8.val() {
            self.code_8.d.next = self.max_code.val();
        } else {
            self.code_8.d.next = self.y_code.y.val() & self.max_code.val();
        }
        self.v_8.d.next = self.v_7.q.val();
        self.code.next = self.code_8.q.val();
        self.valid.next = self.v_8.q.val();
    }
}
