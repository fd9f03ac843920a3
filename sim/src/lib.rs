//! Verilator co-simulation harness. Not built yet: see the co-simulation issue.
//! `pact sim` reports this and exits non-zero until it lands.

/// Whether this crate can simulate yet.
pub const AVAILABLE: bool = false;
