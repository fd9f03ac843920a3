//! The board table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::device::{Device, Family, UnknownName};

/// One row of the board table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoardSpec {
    /// Command-line name, e.g. `icebreaker`.
    pub name: &'static str,
    /// The devices the board is sold with (same package and pinout).
    pub devices: &'static [Device],
    /// The device a build for the board uses by default.
    pub default_device: Device,
    /// Oscillator frequency, MHz.
    pub osc_mhz: f64,
    /// The constraint file's name in `constraints/`.
    pub constraint_file: &'static str,
    /// The constraint file's text.
    pub constraints: &'static str,
}

/// A board: a device plus its pins (a constraint file in `constraints/`), oscillator and host link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Board {
    /// 1BitSquared iCEBreaker (iCE40UP5K-SG48, 12 MHz oscillator on pin 35, FTDI UART on pins 6/9).
    #[serde(rename = "icebreaker")]
    Icebreaker,
    /// Radiona ULX3S (ECP5 CABGA381, 25 MHz oscillator on G2, FTDI UART on M1/L4).
    #[serde(rename = "ulx3s")]
    Ulx3s,
}

/// The board table, in the order of [`Board::ALL`].
const TABLE: [BoardSpec; 2] = [
    BoardSpec {
        name: "icebreaker",
        devices: &[Device::Ice40Up5k],
        default_device: Device::Ice40Up5k,
        osc_mhz: 12.0,
        constraint_file: "icebreaker.pcf",
        constraints: include_str!("../../constraints/icebreaker.pcf"),
    },
    BoardSpec {
        name: "ulx3s",
        // ULX3S ships with 12F, 25F, 45F and 85F parts in the same package and pinout.
        devices: &[Device::Ecp5_25k, Device::Ecp5_45k, Device::Ecp5_85k],
        default_device: Device::Ecp5_85k,
        osc_mhz: 25.0,
        constraint_file: "ulx3s.lpf",
        constraints: include_str!("../../constraints/ulx3s.lpf"),
    },
];

impl Board {
    /// Every board.
    pub const ALL: [Board; 2] = [Board::Icebreaker, Board::Ulx3s];

    /// The board's row of the table.
    pub fn spec(self) -> &'static BoardSpec {
        &TABLE[self as usize]
    }

    /// Command-line name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Whether the board carries `device`.
    pub fn supports(self, device: Device) -> bool {
        self.spec().devices.contains(&device)
    }

    /// The board's default device.
    pub fn default_target(self) -> Device {
        self.spec().default_device
    }

    /// The board for a device when none is named: the first in the table that carries it.
    pub fn for_device(device: Device) -> Option<Board> {
        Board::ALL.into_iter().find(|b| b.supports(device))
    }

    /// The family of the board's devices.
    pub fn family(self) -> Family {
        self.default_target().family()
    }

    /// Oscillator frequency in MHz.
    pub fn osc_mhz(self) -> f64 {
        self.spec().osc_mhz
    }

    /// The board's constraint file (`icebreaker.pcf`, `ulx3s.lpf`): name and text.
    pub fn constraints(self) -> (&'static str, &'static str) {
        (self.spec().constraint_file, self.spec().constraints)
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Board {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        UnknownName::lookup("board", &Board::ALL, Board::name, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_carry_one_family() {
        for b in Board::ALL {
            assert_eq!(b.name().parse::<Board>().unwrap(), b);
            assert!(b.supports(b.default_target()));
            assert!(b.spec().devices.iter().all(|d| d.family() == b.family()), "{b}");
        }
        // Every device has a board.
        for d in Device::ALL {
            assert!(Board::for_device(d).is_some(), "{d}");
        }
        assert!(!Board::Icebreaker.supports(Device::Ecp5_25k));
        assert!(Board::Ulx3s.supports(Device::Ecp5_45k));
        assert_eq!(
            "arty".parse::<Board>().unwrap_err().to_string(),
            "unknown board `arty` (one of: icebreaker, ulx3s)"
        );
    }
}
