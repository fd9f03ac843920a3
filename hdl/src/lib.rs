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

use std::path::PathBuf;

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

/// Errors of the hardware generator. `Display` is one line for the user naming the parameter, layer, file or tool
/// at fault (a tool's failure appends the tool's output). A variant caused by another error returns it from
/// `source()` and leaves it out of its own `Display`, so that a chain printer (`anyhow`'s `{:#}`) says it once.
#[derive(Debug, thiserror::Error)]
pub enum HdlError {
    /// A parameter the hardware cannot take (a width, the array size, a per-channel constant, an option).
    #[error("{0}")]
    Config(String),
    /// A layer or model feature the accelerator does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The model does not fit the target device or a capacity of the hardware.
    #[error("{0}")]
    DoesNotFit(String),
    /// Reading or writing `path` failed: `Display` is `doing` followed by the path (`cannot write /tmp/x.v`), the
    /// OS error is the source.
    #[error("{doing}{}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An external tool is not installed: `tool` is its program, `package` the Debian package that provides it.
    #[error("{tool} is not installed (Debian: apt-get install {package})")]
    ToolMissing { tool: String, package: String },
    /// An external tool could not run or failed; `msg` holds its output, `source` the OS error if there is one.
    #[error("{msg}")]
    Tool {
        msg: String,
        #[source]
        source: Option<std::io::Error>,
    },
    /// The quantized model failed its own check; the toolchain's error is the source.
    #[error("invalid quantized model")]
    InvalidModel(#[source] pact_toolchain::Error),
    /// An error of the toolchain, passed on as it is.
    #[error(transparent)]
    Toolchain(#[from] pact_toolchain::Error),
}

impl HdlError {
    /// A [`HdlError::Config`] error with this message (kept for the callers written before the variants).
    pub fn new(msg: impl Into<String>) -> Self {
        HdlError::Config(msg.into())
    }
    /// A [`HdlError::Config`] error: a parameter the hardware cannot take; the message names it.
    pub fn config(msg: impl Into<String>) -> Self {
        HdlError::Config(msg.into())
    }
    /// A [`HdlError::Unsupported`] error: a layer or model feature the accelerator does not implement.
    pub fn unsupported(msg: impl Into<String>) -> Self {
        HdlError::Unsupported(msg.into())
    }
    /// A [`HdlError::DoesNotFit`] error: the model does not fit the target or a capacity of the hardware.
    pub fn does_not_fit(msg: impl Into<String>) -> Self {
        HdlError::DoesNotFit(msg.into())
    }
    /// An [`HdlError::Io`] error: `doing` (e.g. `"cannot write "`, or `""`) then `path`, caused by `source`.
    pub fn io(doing: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HdlError::Io {
            doing,
            path: path.into(),
            source,
        }
    }
    /// An [`HdlError::Tool`] error with the tool's output in `msg`, without an OS error.
    pub fn tool(msg: impl Into<String>) -> Self {
        HdlError::Tool {
            msg: msg.into(),
            source: None,
        }
    }
}
