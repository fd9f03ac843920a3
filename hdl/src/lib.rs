//! Hardware generator (rust-hdl). Not built yet: see the hardware generator issue.
//! `pact gen` reports this and exits non-zero until it lands.

/// Whether this crate can generate hardware yet.
pub const AVAILABLE: bool = false;
