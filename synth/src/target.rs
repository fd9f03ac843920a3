//! FPGA targets (devices and their resources) and boards (pins, clocks, constraint files).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An FPGA device the flow can build a bitstream for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// Lattice iCE40 UltraPlus UP5K in the SG48 package (iCEBreaker): yosys `synth_ice40`, `nextpnr-ice40`,
    /// `icepack`, all from Debian.
    #[serde(rename = "ice40-up5k")]
    Ice40Up5k,
    /// Lattice ECP5 LFE5U-25F in the CABGA381 package: yosys `synth_ecp5`, `nextpnr-ecp5 --25k`, `ecppack`
    /// (YoWASP, from PyPI).
    #[serde(rename = "ecp5-25k")]
    Ecp5_25k,
    /// Lattice ECP5 LFE5U-85F in the CABGA381 package (ULX3S 85F).
    #[serde(rename = "ecp5-85k")]
    Ecp5_85k,
}

/// Resources of a device, as the report counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTotals {
    /// 4-input LUTs (iCE40: logic cells; ECP5: two per slice).
    pub luts: u32,
    /// Flip-flops.
    pub ffs: u32,
    /// Block RAMs (iCE40 `SB_RAM40_4K`, 4 kbit; ECP5 `DP16KD`, 18 kbit).
    pub brams: u32,
    /// Bits of one block RAM.
    pub bram_bits: u32,
    /// Hard multipliers (iCE40 `SB_MAC16`; ECP5 `MULT18X18D`).
    pub dsps: u32,
    /// iCE40 UltraPlus single-port RAMs (`SB_SPRAM256KA`, 256 kbit, not initialisable from the bitstream).
    pub sprams: u32,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 3] = [Target::Ice40Up5k, Target::Ecp5_25k, Target::Ecp5_85k];

    /// The name used on the command line and in reports (`ice40-up5k`, `ecp5-25k`, `ecp5-85k`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Ice40Up5k => "ice40-up5k",
            Target::Ecp5_25k => "ecp5-25k",
            Target::Ecp5_85k => "ecp5-85k",
        }
    }

    /// The part name, e.g. `iCE40UP5K-SG48`.
    pub fn part(self) -> &'static str {
        match self {
            Target::Ice40Up5k => "iCE40UP5K-SG48",
            Target::Ecp5_25k => "LFE5U-25F-CABGA381",
            Target::Ecp5_85k => "LFE5U-85F-CABGA381",
        }
    }

    /// Whether this is an ECP5 part (YoWASP tools) rather than iCE40 (Debian tools).
    pub fn is_ecp5(self) -> bool {
        !matches!(self, Target::Ice40Up5k)
    }

    /// Device resources (Lattice data sheets; nextpnr reports the same figures in its utilisation table).
    pub fn totals(self) -> DeviceTotals {
        match self {
            Target::Ice40Up5k => DeviceTotals {
                luts: 5280,
                ffs: 5280,
                brams: 30,
                bram_bits: 4096,
                dsps: 8,
                sprams: 4,
            },
            Target::Ecp5_25k => DeviceTotals {
                luts: 24288,
                ffs: 24288,
                brams: 56,
                bram_bits: 18432,
                dsps: 28,
                sprams: 0,
            },
            Target::Ecp5_85k => DeviceTotals {
                luts: 83640,
                ffs: 83640,
                brams: 208,
                bram_bits: 18432,
                dsps: 156,
                sprams: 0,
            },
        }
    }

    /// The `nextpnr-ecp5` device flag (`--25k`, `--85k`); `None` for iCE40.
    pub fn ecp5_flag(self) -> Option<&'static str> {
        match self {
            Target::Ice40Up5k => None,
            Target::Ecp5_25k => Some("--25k"),
            Target::Ecp5_85k => Some("--85k"),
        }
    }

    /// The file extension of this target's bitstream (`bin` for iCE40, `bit` for ECP5).
    pub fn bitstream_ext(self) -> &'static str {
        if self.is_ecp5() {
            "bit"
        } else {
            "bin"
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            format!(
                "unknown target `{s}` (one of: {})",
                Target::ALL.map(|t| t.name()).join(", ")
            )
        })
    }
}

/// A board: a target device plus its pins (a constraint file in `constraints/`), oscillator and host link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Board {
    /// 1BitSquared iCEBreaker (iCE40UP5K-SG48, 12 MHz oscillator on pin 35, FTDI UART on pins 6/9).
    #[serde(rename = "icebreaker")]
    Icebreaker,
    /// Radiona ULX3S (ECP5 CABGA381, 25 MHz oscillator on G2, FTDI UART on M1/L4).
    #[serde(rename = "ulx3s")]
    Ulx3s,
}

impl Board {
    /// Every board the flow builds for.
    pub const ALL: [Board; 2] = [Board::Icebreaker, Board::Ulx3s];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Board::Icebreaker => "icebreaker",
            Board::Ulx3s => "ulx3s",
        }
    }

    /// Whether the board carries this target.
    pub fn supports(self, target: Target) -> bool {
        match self {
            Board::Icebreaker => target == Target::Ice40Up5k,
            // ULX3S ships with 12F, 25F, 45F and 85F parts in the same package and pinout.
            Board::Ulx3s => target.is_ecp5(),
        }
    }

    /// The board's default target.
    pub fn default_target(self) -> Target {
        match self {
            Board::Icebreaker => Target::Ice40Up5k,
            Board::Ulx3s => Target::Ecp5_85k,
        }
    }

    /// Oscillator frequency in MHz.
    pub fn osc_mhz(self) -> f64 {
        match self {
            Board::Icebreaker => 12.0,
            Board::Ulx3s => 25.0,
        }
    }

    /// The board's constraint file (`constraints/icebreaker.pcf`, `constraints/ulx3s.lpf`): name and text.
    pub fn constraints(self) -> (&'static str, &'static str) {
        match self {
            Board::Icebreaker => ("icebreaker.pcf", include_str!("../../constraints/icebreaker.pcf")),
            Board::Ulx3s => ("ulx3s.lpf", include_str!("../../constraints/ulx3s.lpf")),
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Board {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Board::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            format!(
                "unknown board `{s}` (one of: {})",
                Board::ALL.map(|b| b.name()).join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.name()));
        }
        for b in Board::ALL {
            assert_eq!(b.name().parse::<Board>().unwrap(), b);
            assert!(b.supports(b.default_target()));
        }
        assert!("ice40-hx8k"
            .parse::<Target>()
            .unwrap_err()
            .contains("one of: ice40-up5k"));
        assert!(!Board::Icebreaker.supports(Target::Ecp5_25k));
    }
}
