//! Conversions between rust-hdl's `Bits`/`Signed` and Rust integers, for behaviour models and tests.
//!
//! Kernel idioms used by the blocks (rust-hdl 0.46 kernels allow no `let` and no helper calls, so each is a few
//! assignments, one operation per assignment, so that no Verilog expression depends on context sizing):
//! * widening and truncation go through the [`crate::resize`] leaves (rust-hdl's `bit_cast` emits a masked
//!   operand of the wrong width, its `signed_bit_cast` a bare `$signed(x)`, and `Bits::set_bit` in a kernel does
//!   not compile);
//! * a run-time width enters as a `Constant` (a `localparam` mask) or as the variable of a one-iteration `for`
//!   loop (`for m in k..k + 1`), which rust-hdl substitutes as a number, e.g. in a bit index `x[11]`. A const
//!   generic used as a value is written verbatim (undeclared in Verilog), so the same trick serves const generics.
use rust_hdl::prelude::*;

/// Two's-complement value of the low `bits` bits of `raw` (`bits` in 1..=64).
pub fn sign_extend(raw: u64, bits: usize) -> i64 {
    debug_assert!((1..=64).contains(&bits));
    if bits == 64 {
        raw as i64
    } else {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    }
}

/// The integer value of a `Signed<N>` (N ≤ 64).
pub fn signed_value<const N: usize>(x: Signed<N>) -> i64 {
    sign_extend(x.inner().to_u64(), N)
}

/// A `Signed<N>` holding `v` modulo `2^N` (N ≤ 64). Built from bits, never through rust-hdl's negation, so the
/// most negative value of the width is fine.
pub fn to_signed<const N: usize>(v: i64) -> Signed<N> {
    signed_cast(to_bits::<N>(v))
}

/// `Bits<N>` holding `v` modulo `2^N` (N ≤ 64).
pub fn to_bits<const N: usize>(v: i64) -> Bits<N> {
    let mask = if N == 64 { u64::MAX } else { (1u64 << N) - 1 };
    bits::<N>(v as u64 & mask)
}
