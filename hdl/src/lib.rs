//! Hardware building blocks for PACT-quantized networks, described with rust-hdl 0.46 `LogicBlock`s.
//!
//! Blocks (their arithmetic is the integer contract, `pact_toolchain::contract`, bit for bit):
//! * [`mac::WeightDecode`]: `KW`-bit DoReFa index → odd signed weight `2i − (2^KW − 1)` (free in hardware);
//! * [`mac::LowBitMac`]: unsigned `ka`-bit code × decoded `kw`-bit weight into an exactly `acc`-bit signed
//!   accumulator (latency 2), and [`mac::OffsetMac`], the multiplier-free form used at 16 × 16;
//! * [`pact::PactUnit`]: `clamp(((acc + bias)·M0 + 2^(n−1)) >> n, 0, 2^ka − 1)` with per-channel constants from
//!   [`rom::ChannelRom`]s (latency 8);
//! * [`array::MacArray`]: `PE × SIMD` MACs (latency 4), a dense layer in `⌈M/PE⌉·⌈N/SIMD⌉ + 3` cycles;
//! * leaves with their own Verilog and a Rust behaviour beside it: [`resize::ZeroResize`],
//!   [`resize::SignResize`], [`rom::ChannelRom`].
//!
//! Const generics are capacities (port and register widths); the widths a layer uses are run-time values applied
//! with masks that yosys reduces to exact-width hardware ([`widths`]). One instantiation ([`mac::Mac`],
//! [`array::Array`], [`pact::Pact`]) serves every width of the contract: no per-width types to dispatch.
//! [`accel`] composes them into a whole-model accelerator and writes it out (`pact gen`; docs/accelerator.md).
//! [`verilog`] emits Verilog and runs the open tools on it (Verilator lint with the waiver list, yosys statistics).
//! `docs/hardware.md` describes interfaces, timing, the rust-hdl traps worked around, and resource figures.

pub mod accel;
pub mod array;
pub mod cast;
pub mod mac;
pub mod pact;
pub mod resize;
pub mod rom;
pub mod verilog;
pub mod widths;

/// Whether this crate can generate a whole-model accelerator (`pact gen` checks it): [`accel::generate`].
pub const AVAILABLE: bool = true;

/// A parameter the hardware cannot take; the message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdlError(pub String);

impl HdlError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        HdlError(msg.into())
    }
}

impl std::fmt::Display for HdlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HdlError {}
