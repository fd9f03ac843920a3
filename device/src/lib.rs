//! `pact-device`: what `pact gen`, `pact synth` and the estimate share about the hardware.
//!
//! * [`Device`]: one table of the FPGAs pact builds for ([`DeviceSpec`]: part, [`Family`], LUTs, flip-flops, block
//!   RAMs, SPRAMs, DSPs, carry cells, nextpnr flags);
//! * [`Family`]: what differs between iCE40 and ECP5 in the tool flow (yosys command, nextpnr, packer, file
//!   extensions);
//! * [`Board`]: one table of the boards ([`BoardSpec`]: oscillator, constraint file, devices carried);
//! * [`fit`]: the one rule deciding, before synthesis, whether a design certainly cannot fit a device;
//! * [`manifest`]: `manifest.json`, the generator's typed description of a design, written by `pact gen` and read
//!   by `pact synth` and `pact sim`.
#![warn(missing_docs)]

mod board;
mod device;
pub mod fit;
pub mod manifest;

pub use board::{Board, BoardSpec};
pub use device::{Device, DeviceSpec, DeviceTotals, Family, UnknownName};
pub use fit::{check_fit, Estimate, FitError};
pub use manifest::{Manifest, ManifestError};
