//! Run-time widths and the masks that make them exact in hardware.
//!
//! Every block's const generics are its *capacity*: the widths of its ports and registers. The widths a layer
//! actually uses are run-time values no larger than the capacity, applied inside the block with `localparam`
//! masks:
//! * an unsigned `k`-bit value is ANDed with `2^k − 1`, so its upper bits are constant zeros;
//! * a signed value that fits `b` bits is *wrapped* at `b` bits — every bit above `b − 1` replaced by bit `b − 1`
//!   (`x[b−1] ? x | ~mask : x & mask`), so those bits are structurally copies of the sign.
//!
//! Both change no value the contract allows (the products, sums and accumulators fit their exact widths), and
//! both let yosys remove the unused capacity: constant bits propagate, registers with identical inputs merge,
//! logic with no remaining load disappears. Measured with `synth_ice40`, a 32-bit accumulator wrapped at 12 bits
//! is cell for cell the 12-bit accumulator, and an 8-bit-capacity MAC run at 2 bits is as small as a MAC typed at
//! 2 bits (docs/hardware.md). One instantiation therefore serves every width of the contract: no per-width types,
//! no dispatch table (a table over every `(k_a, k_w, acc_bits)` as const generics was measured at 7 minutes of
//! compile time for the MAC alone).
use crate::HdlError;
use pact_toolchain::contract::MAX_ACC_BITS;

/// The widths of one MAC configuration: unsigned `ka`-bit activation codes, `kw`-bit weight indices, a signed
/// `acc`-bit accumulator. The product `a·w` takes `ka + kw + 1` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacWidths {
    /// Activation code bits (1..=8 in the contract).
    pub ka: u32,
    /// Weight index bits (1..=8 in the contract).
    pub kw: u32,
    /// Accumulator bits (2..=32 in the contract).
    pub acc: u32,
}

impl MacWidths {
    /// Widths `ka`, `kw`, `acc`.
    pub fn new(ka: u32, kw: u32, acc: u32) -> Self {
        MacWidths { ka, kw, acc }
    }

    /// Bits of the signed product `a·w`: `ka + kw + 1`.
    pub fn product_bits(&self) -> u32 {
        self.ka + self.kw + 1
    }

    /// Check the widths against a block's capacity (`cap_ka`, `cap_kw`, `cap_acc`). Errors say which width is out
    /// of range, e.g. `activation width 9 is out of range 1..=8 bits`.
    pub fn check(&self, cap_ka: usize, cap_kw: usize, cap_acc: usize) -> Result<(), HdlError> {
        check_range("activation width", self.ka, 1, cap_ka as u32)?;
        check_range("weight width", self.kw, 1, cap_kw as u32)?;
        check_range("accumulator width", self.acc, 2, (cap_acc as u32).min(64))
    }
}

/// The widest accumulator of the contract, the capacity of [`crate::mac::Mac`], [`crate::array::Array`] and
/// [`crate::pact::Pact`].
pub const CONTRACT_ACC_BITS: u32 = MAX_ACC_BITS;

pub(crate) fn check_range(what: &str, v: u32, lo: u32, hi: u32) -> Result<(), HdlError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(HdlError::config(format!("{what} {v} is out of range {lo}..={hi} bits")))
    }
}

/// `2^bits − 1` as a `u64` (`bits` ≤ 64).
pub fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The bits of a `cap`-bit word above the low `bits`: `(2^cap − 1) − (2^bits − 1)`.
pub fn high_mask(bits: u32, cap: u32) -> u64 {
    low_mask(cap) & !low_mask(bits)
}
