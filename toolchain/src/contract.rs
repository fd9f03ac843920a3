//! The integer contract (docs/integer-contract.md): the single definition of every piece of integer arithmetic that the
//! golden model computes and the RTL generator must reproduce bit for bit.
//!
//! * Activation codes are unsigned, `k_a` ∈ 1..=8 bits, code `a` stands for the real value `a · α/(2^k_a − 1)`.
//! * Weight codes are `k_w`-bit indices `i` ∈ `[0, 2^k_w − 1]`, `k_w` ∈ 1..=8, decoded to the odd signed integer
//!   `w_int = 2i − (2^k_w − 1)` (for `k_w = 1` that is ±1). In hardware the decode is free: append a 1 as LSB
//!   and invert the MSB.
//! * A layer accumulates `acc = Σ a·w_int + b_int` in a signed register exactly as wide as
//!   [`acc_width`] says for that layer's worst case.
//! * Requantization: `code = clamp((acc·M0 + 2^(n−1)) >> n, 0, 2^k_a − 1)` with `>>` arithmetic (floor), i.e.
//!   round half up; `M0` unsigned of at most `m0_bits` bits, `1 ≤ n ≤` [`MAX_SHIFT`].
//!
//! Rounding everywhere in pact's quantizers is **round half up** (`floor(x + 1/2)`), see [`round_half_up`]; it is
//! neither Rust's `f64::round` (half away from zero) nor PyTorch's `torch.round` (half to even).

use crate::error::{Error, Result};

/// Largest requantization shift `n`. With `|acc| < 2^31` and `M0 < 2^31`, `acc·M0 + 2^(n−1)` fits an `i64`.
pub const MAX_SHIFT: u32 = 62;
/// Widest accumulator the contract allows (bits, signed).
pub const MAX_ACC_BITS: u32 = 32;
/// Default width of `M0` in bits (unsigned); 16 fits one iCE40 SB_MAC16 operand.
pub const DEFAULT_M0_BITS: u32 = 16;
/// Default weight bits of the inner dense/conv layers (the W4 of W4A4).
pub const DEFAULT_WBITS: u32 = 4;
/// Default activation bits of the inner layers (the A4 of W4A4).
pub const DEFAULT_ABITS: u32 = 4;
/// Default bits of the first and last layers' weights and of the activations feeding the last layer.
pub const DEFAULT_FIRST_LAST_BITS: u32 = 8;

/// Largest activation code for `bits` bits: `2^bits − 1`. `bits` must be in 1..=16.
#[inline]
pub fn code_max(bits: u32) -> u32 {
    debug_assert!((1..=16).contains(&bits));
    (1u32 << bits) - 1
}

/// `floor(x + 1/2)`: round half up, the one rounding of pact's quantizers (f64 in, exact for |x| < 2^52).
pub fn round_half_up(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Check an activation width (1..=8 bits). `what` names the setting in the message.
pub fn check_act_bits(what: &str, bits: u32) -> Result<()> {
    if (1..=8).contains(&bits) {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{what} = {bits} is out of range: activations take 1..=8 bits"
        )))
    }
}

/// Check a weight width (1..=8 bits). `what` names the setting in the message.
pub fn check_weight_bits(what: &str, bits: u32) -> Result<()> {
    if (1..=8).contains(&bits) {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{what} = {bits} is out of range: weights take 1..=8 bits"
        )))
    }
}

/// Decode a `bits`-bit weight index `i` to the odd signed integer `2i − (2^bits − 1)`.
/// Range: `[−(2^bits − 1), 2^bits − 1]`, odd values only.
pub fn decode_weight(index: u32, bits: u32) -> i32 {
    debug_assert!(index <= code_max(bits));
    2 * index as i32 - code_max(bits) as i32
}

/// How a layer's stored `bits`-bit weight codes become signed integers.
///
/// * [`WeightEncoding::Odd`] (the default, DoReFa): index `i` ∈ `[0, 2^bits − 1]` decodes to the odd integer
///   `2i − (2^bits − 1)` ([`decode_weight`]); `bits` ∈ 1..=8.
/// * [`WeightEncoding::TwosComplement`] (weights imported from QONNX/QCDQ): the code is the low `bits` bits of the
///   signed integer, decoded by sign extension to `[−2^(bits−1), 2^(bits−1) − 1]`; `bits` ∈ 2..=8.
///
/// Serialized as `"odd"` / `"twos_complement"` (key `encoding` of a layer's weights; absent means odd).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightEncoding {
    #[default]
    Odd,
    TwosComplement,
}

impl WeightEncoding {
    /// True for the default ([`WeightEncoding::Odd`]); lets serde omit the key so older files stay identical.
    pub fn is_odd(&self) -> bool {
        *self == WeightEncoding::Odd
    }
    /// The widths this encoding takes: 1..=8 for odd codes, 2..=8 for two's complement.
    pub fn bits_range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            WeightEncoding::Odd => 1..=8,
            WeightEncoding::TwosComplement => 2..=8,
        }
    }
}

/// Decode a `bits`-bit weight code under `encoding` (the one decoder of the golden model): odd codes by
/// [`decode_weight`], two's-complement codes by sign-extending the low `bits` bits (`bits` ∈ 2..=8).
pub fn decode_weight_as(code: u32, bits: u32, encoding: WeightEncoding) -> i32 {
    match encoding {
        WeightEncoding::Odd => decode_weight(code, bits),
        WeightEncoding::TwosComplement => {
            let shift = 32 - bits;
            ((code << shift) as i32) >> shift
        }
    }
}

/// The `bits`-bit two's-complement code of `value`, `None` if it is outside `[−2^(bits−1), 2^(bits−1) − 1]`.
pub fn encode_twos_complement(value: i32, bits: u32) -> Option<u32> {
    let half = 1i64 << (bits - 1);
    if (-half..half).contains(&(value as i64)) {
        Some(value as u32 & code_max(bits))
    } else {
        None
    }
}

/// The code whose decoded weight is the negation of `code`'s under `encoding`; `None` when the negation does
/// not fit (the two's-complement minimum `−2^(bits−1)`).
pub fn negate_weight_as(code: u32, bits: u32, encoding: WeightEncoding) -> Option<u32> {
    match encoding {
        WeightEncoding::Odd => Some(negate_weight_index(code, bits)),
        WeightEncoding::TwosComplement => encode_twos_complement(-decode_weight_as(code, bits, encoding), bits),
    }
}

/// Per-channel scaling of the last layer's logits (weights imported with per-channel scales): logit
/// `= (acc·m0[o] + 2^(shift−1)) >> shift`, `>>` arithmetic (round half up), no clamp; the class is the argmax of
/// these. `m0` unsigned, `shift` ∈ 1..=[`MAX_SHIFT`]; the result fits an `i32` (checked by the model validation).
pub fn scale_logit(acc: i64, m0: u32, shift: u32) -> i64 {
    debug_assert!((1..=MAX_SHIFT).contains(&shift));
    (acc * m0 as i64 + (1i64 << (shift - 1))) >> shift
}

/// The index whose decoded weight is the negation of `index`'s: `2^bits − 1 − index` (levels are symmetric).
pub fn negate_weight_index(index: u32, bits: u32) -> u32 {
    code_max(bits) - index
}

/// The requantization step of one output: `clamp((acc·m0 + 2^(shift−1)) >> shift, 0, 2^out_bits − 1)`.
/// `shift` ∈ 1..=[`MAX_SHIFT`]; `acc` signed (|acc| < 2^31), `m0` unsigned (< 2^31); arithmetic in i64.
#[inline]
pub fn requantize(acc: i64, m0: u32, shift: u32, out_bits: u32) -> u32 {
    round_shift_clamp(acc * m0 as i64, shift, out_bits)
}

/// `clamp((v + 2^(shift−1)) >> shift, 0, 2^out_bits − 1)`, the rounding shift and clamp shared by
/// [`requantize`], average pooling and the residual add (whose `v` is a sum of two products).
#[inline]
pub fn round_shift_clamp(v: i64, shift: u32, out_bits: u32) -> u32 {
    debug_assert!((1..=MAX_SHIFT).contains(&shift));
    ((v + (1i64 << (shift - 1))) >> shift).clamp(0, code_max(out_bits) as i64) as u32
}

/// A real multiplier `m ≥ 0` approximated as `m0 / 2^shift`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedMultiplier {
    /// Unsigned multiplier, below `2^m0_bits`.
    pub m0: u32,
    /// Right shift, 1..=[`MAX_SHIFT`].
    pub shift: u32,
    /// The real value it approximates.
    pub real: f64,
}

impl FixedMultiplier {
    /// The value it represents exactly: `m0 / 2^shift`.
    pub fn value(&self) -> f64 {
        self.m0 as f64 / 2f64.powi(self.shift as i32)
    }
    /// Relative error `|m0/2^shift − real| / real` (0 when `real` is 0 and `m0` is 0).
    pub fn rel_error(&self) -> f64 {
        if self.real == 0.0 {
            if self.m0 == 0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (self.value() - self.real).abs() / self.real
        }
    }

    /// The most precise `m0 / 2^shift` with `m0 < 2^m0_bits` and `1 ≤ shift ≤ MAX_SHIFT` for a real `m ≥ 0`:
    /// `shift` is as large as possible so `m0` uses all `m0_bits` bits, `m0 = round_half_up(m·2^shift)`.
    /// Fails when `m` is negative, not finite, or too large (`m ≥ 2^(m0_bits − 1)` leaves no shift ≥ 1).
    /// Very small `m` saturate at `shift = MAX_SHIFT` with fewer significant bits (see [`Self::rel_error`]).
    pub fn from_real(m: f64, m0_bits: u32) -> Result<Self> {
        if !(2..=31).contains(&m0_bits) {
            return Err(Error::config(format!("M0 width {m0_bits} is out of range 2..=31 bits")));
        }
        if !m.is_finite() || m < 0.0 {
            return Err(Error::config(format!(
                "requantization multiplier {m} must be finite and >= 0"
            )));
        }
        if m == 0.0 {
            return Ok(FixedMultiplier {
                m0: 0,
                shift: 1,
                real: 0.0,
            });
        }
        let limit = (1u64 << m0_bits) as f64;
        // Largest shift with m·2^shift < 2^m0_bits after rounding.
        let mut shift = (m0_bits as i32 - 1) - m.log2().floor() as i32;
        loop {
            if shift < 1 {
                return Err(Error::config(format!(
                    "requantization multiplier {m:.6e} is too large for a {m0_bits}-bit M0 with a shift of at least 1"
                )));
            }
            let s = shift.min(MAX_SHIFT as i32);
            let m0 = round_half_up(m * 2f64.powi(s));
            if m0 < limit {
                return Ok(FixedMultiplier {
                    m0: m0 as u32,
                    shift: s as u32,
                    real: m,
                });
            }
            shift -= 1;
        }
    }
}

/// Exact division of an unsigned sum by a constant `k` with rounding half up, as a multiply and shift:
/// returns `(m0, shift)` such that `(s·m0 + 2^(shift−1)) >> shift == floor(s/k + 1/2)` for every
/// `s ∈ [0, max_sum]`, verified exhaustively here. Used by average pooling. `m0` fits `m0_bits`.
pub fn exact_divider(k: u32, max_sum: u32, m0_bits: u32) -> Result<FixedMultiplier> {
    if k == 0 {
        return Err(Error::config("average over zero elements"));
    }
    let exact = |s: u64| (2 * s + k as u64) / (2 * k as u64); // floor(s/k + 1/2)
    for shift in 1..=MAX_SHIFT.min(m0_bits + 40) {
        let m0 = (1u128 << shift).div_ceil(k as u128); // ceil(2^shift / k)
        if m0 >= 1u128 << m0_bits {
            break;
        }
        let ok = (0..=max_sum as u64).all(|s| ((s as u128 * m0 + (1u128 << (shift - 1))) >> shift) as u64 == exact(s));
        if ok {
            return Ok(FixedMultiplier {
                m0: m0 as u32,
                shift,
                real: 1.0 / k as f64,
            });
        }
    }
    Err(Error::config(format!(
        "no {m0_bits}-bit multiplier divides sums up to {max_sum} by {k} exactly; widen M0"
    )))
}

/// Smallest signed two's-complement width holding every value in `[min, max]` (at least 2 bits).
pub fn signed_width(min: i64, max: i64) -> u32 {
    let mut w = 2;
    while w < 64 && (min < -(1i64 << (w - 1)) || max > (1i64 << (w - 1)) - 1) {
        w += 1;
    }
    w
}

/// Exact accumulator range of one output channel: `acc = Σ a_j·w_j + bias` with `a_j ∈ [0, max_code]`.
/// The maximum takes `max_code` at every positive weight, the minimum at every negative weight.
pub fn acc_range(max_code: u32, weights: &[i32], bias: i64) -> (i64, i64) {
    // Saturating: a range past i64 (only a corrupt model file can ask for one) gives the 64-bit width, which
    // every caller rejects, instead of wrapping to a small width.
    let (mut pos, mut neg) = (0i64, 0i64);
    for &w in weights {
        if w > 0 {
            pos = pos.saturating_add(w as i64);
        } else {
            neg = neg.saturating_add(w as i64);
        }
    }
    (
        neg.saturating_mul(max_code as i64).saturating_add(bias),
        pos.saturating_mul(max_code as i64).saturating_add(bias),
    )
}

/// Accumulator width of a layer: the smallest signed width holding [`acc_range`] of every channel.
/// `rows` yields `(weights of the channel, bias of the channel)`.
pub fn acc_width<'a>(max_code: u32, rows: impl IntoIterator<Item = (&'a [i32], i64)>) -> u32 {
    let (mut lo, mut hi) = (0i64, 0i64);
    for (w, b) in rows {
        let (l, h) = acc_range(max_code, w, b);
        lo = lo.min(l);
        hi = hi.max(h);
    }
    signed_width(lo, hi)
}

/// DoReFa weight quantization of a whole layer (`k ≥ 2`): `f(w) = tanh(w)/(2·max|tanh(w)|) + 1/2`,
/// index `i = round_half_up((2^k − 1)·f(w))`, real level `(2i − (2^k − 1))/(2^k − 1)`, i.e. scale
/// `1/(2^k − 1)`. For `k = 1` (binary): index `1` if `w ≥ 0` else `0`, scale `mean|w|`.
/// Returns the indices and the real scale of one integer step. All-zero weights give scale 1 / index of +level.
pub fn dorefa_weights(w: &[f32], bits: u32) -> (Vec<u8>, f64) {
    if bits == 1 {
        let mean = w.iter().map(|x| x.abs() as f64).sum::<f64>() / w.len().max(1) as f64;
        let idx = w.iter().map(|&x| u8::from(x >= 0.0)).collect();
        return (idx, if mean > 0.0 { mean } else { 1.0 });
    }
    let levels = code_max(bits) as f64;
    let max_t = w.iter().map(|&x| (x as f64).tanh().abs()).fold(0.0, f64::max);
    let idx = w
        .iter()
        .map(|&x| {
            let f = if max_t > 0.0 {
                (x as f64).tanh() / (2.0 * max_t) + 0.5
            } else {
                0.5
            };
            round_half_up(levels * f).clamp(0.0, levels) as u8
        })
        .collect();
    (idx, 1.0 / levels)
}

/// The DoReFa weight transform without rounding (its limit for many bits): `tanh(w)/max|tanh(w)|` in `[−1, 1]`.
/// This is the float network a DoReFa-trained model stands for; `pact eval` reports its accuracy as "float".
pub fn dorefa_limit(w: &[f32]) -> Vec<f32> {
    let max_t = w.iter().map(|&x| (x as f64).tanh().abs()).fold(0.0, f64::max);
    w.iter()
        .map(|&x| {
            if max_t > 0.0 {
                ((x as f64).tanh() / max_t) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Symmetric max-abs weight quantization onto the same odd levels (for post-training quantization of models not
/// trained with DoReFa): scale `s = max|w|/(2^k − 1)`, index `i = round_half_up((w/s + 2^k − 1)/2)` clamped,
/// so `w ≈ s·(2i − (2^k − 1))`. For `k = 1` identical to [`dorefa_weights`].
pub fn maxabs_weights(w: &[f32], bits: u32) -> (Vec<u8>, f64) {
    if bits == 1 {
        return dorefa_weights(w, 1);
    }
    let levels = code_max(bits) as f64;
    let max = w.iter().map(|&x| (x as f64).abs()).fold(0.0, f64::max);
    let s = if max > 0.0 { max / levels } else { 1.0 };
    let idx = w
        .iter()
        .map(|&x| round_half_up((x as f64 / s + levels) / 2.0).clamp(0.0, levels) as u8)
        .collect();
    (idx, s)
}

/// PACT activation quantizer on reals: `round_half_up(clip(x, 0, α)·(2^k − 1)/α)` as a code.
pub fn pact_code(x: f64, alpha: f64, bits: u32) -> u32 {
    let levels = code_max(bits) as f64;
    let c = x.clamp(0.0, alpha);
    round_half_up(c * levels / alpha).clamp(0.0, levels) as u32
}

#[cfg(test)]
mod weight_encoding_tests {
    use super::*;

    #[test]
    fn twos_complement_codes_round_trip_exhaustively() {
        for bits in 2..=8u32 {
            let half = 1i32 << (bits - 1);
            let mut seen = Vec::new();
            for code in 0..=code_max(bits) {
                let v = decode_weight_as(code, bits, WeightEncoding::TwosComplement);
                assert!((-half..half).contains(&v), "bits {bits} code {code} -> {v}");
                assert_eq!(encode_twos_complement(v, bits), Some(code));
                seen.push(v);
            }
            seen.sort_unstable();
            assert_eq!(seen, (-half..half).collect::<Vec<_>>(), "bits {bits}: every value once");
            assert_eq!(encode_twos_complement(half, bits), None);
            assert_eq!(encode_twos_complement(-half - 1, bits), None);
            assert_eq!(
                negate_weight_as(half as u32, bits, WeightEncoding::TwosComplement),
                None
            );
            assert_eq!(
                negate_weight_as(code_max(bits), bits, WeightEncoding::TwosComplement),
                Some(1),
                "−1 negates to 1"
            );
        }
    }

    #[test]
    fn odd_encoding_is_the_dorefa_decoder() {
        for bits in 1..=8u32 {
            for code in 0..=code_max(bits) {
                assert_eq!(
                    decode_weight_as(code, bits, WeightEncoding::Odd),
                    2 * code as i32 - code_max(bits) as i32
                );
            }
        }
    }

    #[test]
    fn logit_scaling_rounds_half_up_arithmetically() {
        // (acc·m0 + 2^(s−1)) >> s with s = 2: 3·1 = 3 → (3 + 2) >> 2 = 1; −3 → (−3 + 2) >> 2 = −1; −2 → 0.
        assert_eq!(scale_logit(3, 1, 2), 1);
        assert_eq!(scale_logit(-3, 1, 2), -1);
        assert_eq!(scale_logit(-2, 1, 2), 0);
        assert_eq!(scale_logit(2, 1, 2), 1);
    }
}
