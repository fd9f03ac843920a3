//! The device table and the device families.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An FPGA family: what differs between iCE40 and ECP5 in the open tool flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Lattice iCE40 (yosys `synth_ice40`, `nextpnr-ice40`, `icepack`; Debian packages).
    Ice40,
    /// Lattice ECP5 (yosys `synth_ecp5`, `nextpnr-ecp5`, `ecppack`; YoWASP from PyPI).
    Ecp5,
}

impl Family {
    /// The family's name as Lattice writes it (`iCE40`, `ECP5`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Ice40 => "iCE40",
            Family::Ecp5 => "ECP5",
        }
    }

    /// The yosys synthesis command (`synth_ice40`, `synth_ecp5`).
    pub fn synth_command(self) -> &'static str {
        match self {
            Family::Ice40 => "synth_ice40",
            Family::Ecp5 => "synth_ecp5",
        }
    }

    /// The option of [`Family::synth_command`] for hard multiplier use: iCE40 maps to `SB_MAC16` only with
    /// `-dsp`, ECP5 maps to `MULT18X18D` unless `-nodsp`. Empty when the default is wanted.
    pub fn dsp_option(self, dsp: bool) -> &'static str {
        match (self, dsp) {
            (Family::Ice40, true) => " -dsp",
            (Family::Ecp5, false) => " -nodsp",
            _ => "",
        }
    }

    /// The place-and-route program (`nextpnr-ice40`, `nextpnr-ecp5`).
    pub fn nextpnr(self) -> &'static str {
        match self {
            Family::Ice40 => "nextpnr-ice40",
            Family::Ecp5 => "nextpnr-ecp5",
        }
    }

    /// The bitstream packer (`icepack`, `ecppack`).
    pub fn packer(self) -> &'static str {
        match self {
            Family::Ice40 => "icepack",
            Family::Ecp5 => "ecppack",
        }
    }

    /// The extension of the bitstream file (`bin`, `bit`).
    pub fn bitstream_ext(self) -> &'static str {
        match self {
            Family::Ice40 => "bin",
            Family::Ecp5 => "bit",
        }
    }

    /// The extension of nextpnr's placed-and-routed text design (`asc`, `config`).
    pub fn placed_ext(self) -> &'static str {
        match self {
            Family::Ice40 => "asc",
            Family::Ecp5 => "config",
        }
    }

    /// The nextpnr option writing the placed design (`--asc`, `--textcfg`).
    pub fn placed_flag(self) -> &'static str {
        match self {
            Family::Ice40 => "--asc",
            Family::Ecp5 => "--textcfg",
        }
    }

    /// The nextpnr option reading a constraint file (`--pcf`, `--lpf`).
    pub fn constraint_flag(self) -> &'static str {
        match self {
            Family::Ice40 => "--pcf",
            Family::Ecp5 => "--lpf",
        }
    }

    /// The nextpnr option for a design without a constraint file, if it needs one.
    pub fn unconstrained_flag(self) -> Option<&'static str> {
        match self {
            Family::Ice40 => Some("--pcf-allow-unconstrained"),
            Family::Ecp5 => None,
        }
    }

    /// The nextpnr bel counted as a logic cell (`ICESTORM_LC`, `TRELLIS_COMB`).
    pub fn logic_cell_bel(self) -> &'static str {
        match self {
            Family::Ice40 => "ICESTORM_LC",
            Family::Ecp5 => "TRELLIS_COMB",
        }
    }
}

/// One row of the device table (Lattice data sheets; nextpnr reports the same figures in its utilisation table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Command-line name, e.g. `ice40-up5k`.
    pub name: &'static str,
    /// Part name with package, e.g. `iCE40UP5K-SG48`.
    pub part: &'static str,
    /// The family.
    pub family: Family,
    /// nextpnr's device option, e.g. `--up5k`, `--25k`.
    pub nextpnr_device: &'static str,
    /// nextpnr's package name, e.g. `sg48`, `CABGA381`.
    pub package: &'static str,
    /// 4-input LUTs (iCE40: logic cells; ECP5: two per slice).
    pub luts: u32,
    /// Flip-flops.
    pub ffs: u32,
    /// Block RAMs (iCE40 `SB_RAM40_4K`; ECP5 `DP16KD`).
    pub brams: u32,
    /// Bits of one block RAM (4096; 18432).
    pub bram_bits: u32,
    /// iCE40 UltraPlus single-port RAMs (`SB_SPRAM256KA`; not initialisable from the bitstream).
    pub sprams: u32,
    /// Bits of one SPRAM (262 144).
    pub spram_bits: u32,
    /// Hard multipliers (iCE40 `SB_MAC16`, 16 × 16; ECP5 `MULT18X18D`, 18 × 18).
    pub dsps: u32,
    /// Carry cells (iCE40 `SB_CARRY`, one per LUT; ECP5 `CCU2C`, one per two LUTs).
    pub carries: u32,
}

/// An FPGA device pact builds for; its figures are in [`Device::spec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Device {
    /// Lattice iCE40 UltraPlus UP5K in the SG48 package (iCEBreaker).
    #[serde(rename = "ice40-up5k")]
    Ice40Up5k,
    /// Lattice ECP5 LFE5U-25F in the CABGA381 package (ULX3S 25F).
    #[serde(rename = "ecp5-25k")]
    Ecp5_25k,
    /// Lattice ECP5 LFE5U-45F in the CABGA381 package (ULX3S 45F).
    #[serde(rename = "ecp5-45k")]
    Ecp5_45k,
    /// Lattice ECP5 LFE5U-85F in the CABGA381 package (ULX3S 85F).
    #[serde(rename = "ecp5-85k")]
    Ecp5_85k,
}

const fn ecp5(
    name: &'static str,
    part: &'static str,
    flag: &'static str,
    luts: u32,
    ebr: u32,
    dsps: u32,
) -> DeviceSpec {
    DeviceSpec {
        name,
        part,
        family: Family::Ecp5,
        nextpnr_device: flag,
        package: "CABGA381",
        luts,
        ffs: luts,
        brams: ebr,
        bram_bits: 18432,
        sprams: 0,
        spram_bits: 262_144,
        dsps,
        carries: luts / 2,
    }
}

/// The device table, in the order of [`Device::ALL`].
const TABLE: [DeviceSpec; 4] = [
    DeviceSpec {
        name: "ice40-up5k",
        part: "iCE40UP5K-SG48",
        family: Family::Ice40,
        nextpnr_device: "--up5k",
        package: "sg48",
        luts: 5280,
        ffs: 5280,
        brams: 30,
        bram_bits: 4096,
        sprams: 4,
        spram_bits: 262_144,
        dsps: 8,
        carries: 5280,
    },
    ecp5("ecp5-25k", "LFE5U-25F-CABGA381", "--25k", 24288, 56, 28),
    ecp5("ecp5-45k", "LFE5U-45F-CABGA381", "--45k", 43848, 108, 72),
    ecp5("ecp5-85k", "LFE5U-85F-CABGA381", "--85k", 83640, 208, 156),
];

/// A device's resources as the synthesis report counts them (the `device` object of `report.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTotals {
    /// 4-input LUTs.
    pub luts: u32,
    /// Flip-flops.
    pub ffs: u32,
    /// Block RAMs.
    pub brams: u32,
    /// Bits of one block RAM.
    pub bram_bits: u32,
    /// Hard multipliers.
    pub dsps: u32,
    /// SPRAMs.
    pub sprams: u32,
}

impl Device {
    /// Every device, in table order.
    pub const ALL: [Device; 4] = [Device::Ice40Up5k, Device::Ecp5_25k, Device::Ecp5_45k, Device::Ecp5_85k];

    /// The device's row of the table.
    pub fn spec(self) -> &'static DeviceSpec {
        &TABLE[self as usize]
    }

    /// Command-line name (`ice40-up5k`, `ecp5-25k`, `ecp5-45k`, `ecp5-85k`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Part name with package, e.g. `iCE40UP5K-SG48`.
    pub fn part(self) -> &'static str {
        self.spec().part
    }

    /// The family.
    pub fn family(self) -> Family {
        self.spec().family
    }

    /// The resources the synthesis report compares against.
    pub fn totals(self) -> DeviceTotals {
        let s = self.spec();
        DeviceTotals {
            luts: s.luts,
            ffs: s.ffs,
            brams: s.brams,
            bram_bits: s.bram_bits,
            dsps: s.dsps,
            sprams: s.sprams,
        }
    }

    /// Block RAM bits: `brams × bram_bits`.
    pub fn bram_bits(self) -> u64 {
        let s = self.spec();
        u64::from(s.brams) * u64::from(s.bram_bits)
    }

    /// The comma-separated names of every device (for messages).
    pub fn names() -> String {
        Device::ALL.map(Device::name).join(", ")
    }

    /// Parse a bound for `pact gen`: `any` (no bound, `None`) or a device name.
    pub fn parse_bound(s: &str) -> Result<Option<Device>, UnknownName> {
        if s == "any" {
            return Ok(None);
        }
        s.parse().map(Some).map_err(|_| UnknownName {
            what: "target",
            name: s.to_string(),
            known: format!("any, {}", Device::names()),
        })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A device or board name that is not in the table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (one of: {known})")]
pub struct UnknownName {
    /// `target` or `board`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names known, comma-separated.
    pub known: String,
}

impl UnknownName {
    /// The entry of `all` whose `name` is `s`, else an [`UnknownName`] listing them (`what`: `target`, `board`).
    pub fn lookup<T: Copy>(what: &'static str, all: &[T], name: fn(T) -> &'static str, s: &str) -> Result<T, Self> {
        all.iter().copied().find(|&t| name(t) == s).ok_or_else(|| UnknownName {
            what,
            name: s.to_string(),
            known: all.iter().map(|&t| name(t)).collect::<Vec<_>>().join(", "),
        })
    }
}

impl FromStr for Device {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        UnknownName::lookup("target", &Device::ALL, Device::name, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_match_their_devices() {
        for d in Device::ALL {
            assert_eq!(d.name().parse::<Device>().unwrap(), d);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{}\"", d.name()));
            let s = d.spec();
            // The part name carries the family's and the size's spelling.
            let size = d
                .name()
                .rsplit('-')
                .next()
                .unwrap()
                .trim_end_matches('k')
                .to_uppercase();
            assert!(s.part.contains(&size), "{d}: {}", s.part);
            assert_eq!(s.family == Family::Ecp5, s.part.starts_with("LFE5U"), "{d}");
        }
        assert_eq!(
            "ice40-hx8k".parse::<Device>().unwrap_err().to_string(),
            "unknown target `ice40-hx8k` (one of: ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k)"
        );
        assert_eq!(Device::parse_bound("any").unwrap(), None);
        assert_eq!(Device::parse_bound("ecp5-45k").unwrap(), Some(Device::Ecp5_45k));
        assert_eq!(
            Device::parse_bound("up5k").unwrap_err().to_string(),
            "unknown target `up5k` (one of: any, ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k)"
        );
    }
}
