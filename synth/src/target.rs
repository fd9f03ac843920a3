//! FPGA devices and boards. Their tables (parts, resources, families, constraint files) are pact-device's, shared
//! with the generator; `Target` is this crate's name for a [`Device`].

pub use pact_device::{Board, BoardSpec, Device, DeviceSpec, DeviceTotals, Family};

/// An FPGA device the flow can build a bitstream for (see [`Device`]).
pub type Target = Device;
