//! The one fit rule: whether a design certainly cannot fit a device, decided before synthesis from its estimate.
//! `pact gen` (with a target), `pact synth` (before any tool runs) and the estimate in `manifest.json` use it.

use serde::{Deserialize, Serialize};

use crate::device::{Device, Family};

/// A design's size before synthesis (from the generator's manifest, or given by the caller).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Parallel multiply-accumulate units.
    pub macs: u64,
    /// Bits of memory: weights, requantization constants and activation buffers.
    pub memory_bits: u64,
    /// The part of `memory_bits` that is initialised by the bitstream (weights, constants). `None`: all of it.
    #[serde(default)]
    pub rom_bits: Option<u64>,
    /// The generator's own LUT estimate, if it made one. A model, not a bound: the rule refuses only an estimate
    /// over the device by more than the model's error ([`LUT_MODEL_ERROR`]).
    pub luts: Option<u64>,
    /// Multipliers in the design (MAC lanes + requantization multipliers), if known: with more than the device
    /// has DSPs, the flow maps them to LUTs from the start instead of retrying.
    #[serde(default)]
    pub multipliers: Option<u64>,
    /// The narrowest multiplier operand width in bits (sets the LUT cost of a MAC built from LUTs); 2 if
    /// unknown, which makes the check the most lenient.
    pub mac_bits: Option<u32>,
    /// The design puts its buffers without initial contents (`memory_bits − rom_bits`) in the iCE40 UltraPlus
    /// SPRAMs. pact's accelerator does not (its memories are inferred, and yosys maps none to SPRAM).
    #[serde(default)]
    pub spram_buffers: bool,
    /// iCE40 block RAMs (SB_RAM40_4K) the design maps to, counted memory by memory as yosys maps them
    /// ([`ice40_ram_tiles`]), if the generator counted them: refused on an iCE40 with more than it has.
    #[serde(default)]
    pub ice40_brams: Option<u64>,
}

/// The iCE40 SB_RAM40_4K tiles one memory of `depth` words of `width` bits takes under yosys 0.23 `synth_ice40`
/// (its `memory_libmap` with the ice40 `brams.txt`), measured on yosys: the fewest tiles among the 4-kbit
/// configurations 2048 × 2, 1024 × 4, 512 × 8 and 256 × 16 (`⌈depth/d⌉ · ⌈width/w⌉`), or 0 when yosys builds the
/// memory from logic instead, which it does when that is cheaper by its costs: a RAM of at most 64 bits per tile,
/// a ROM (`initialised`) of at most 1 056 bits per tile (yosys 0.23: 66 × 16 and 130 × 8 ROMs in logic, 67 × 16 and
/// 134 × 8 in one block RAM; 16 × 4 RAMs in logic, 5 × 16 in one).
pub fn ice40_ram_tiles(depth: u64, width: u64, initialised: bool) -> u64 {
    if depth == 0 || width == 0 {
        return 0;
    }
    let tiles = [2u64, 4, 8, 16]
        .iter()
        .map(|&w| depth.div_ceil(4096 / w) * width.div_ceil(w))
        .min()
        .unwrap_or(0);
    let per_tile_in_logic = if initialised { 1056 } else { 64 };
    if depth * width <= per_tile_in_logic * tiles {
        0
    } else {
        tiles
    }
}

/// A lower bound on the LUT4s of one MAC built from LUTs (signed `b × b` multiply + accumulator), from yosys
/// `synth_ice40` measurements (23, 58, 219, 817 LUT4 at 2, 4, 8, 16 bits), rounded down and interpolated
/// downwards between the measured points.
pub fn min_luts_per_mac(bits: u32) -> u64 {
    match bits {
        0..=2 => 20,
        3..=4 => 50,
        5..=8 => 150,
        9..=15 => 400,
        _ => 800,
    }
}

/// A design that certainly cannot fit a device: the device and one sentence per resource over, with figures.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the design does not fit the {device} ({}): {}", device.part(), problems.join("; "))]
pub struct FitError {
    /// The device.
    pub device: Device,
    /// Needed against available, per resource over.
    pub problems: Vec<String>,
}

/// Check an estimate against a device. Only designs that certainly cannot fit are refused (every bound is a lower
/// bound on what the design needs or an upper bound on what the device has):
///
/// * initialised memory (`rom_bits`, else `memory_bits`) > block RAM bits + 16 bits in each of a quarter of the
///   LUTs (LUT ROM);
/// * all memory > that, plus the SPRAM bits if the design puts its buffers there ([`Estimate::spram_buffers`]);
/// * on an iCE40, the block RAMs counted memory by memory ([`Estimate::ice40_brams`]) > the device's;
/// * MACs: `macs` > hard multipliers + LUTs / [`min_luts_per_mac`];
/// * LUTs: the generator's own LUT estimate > the device's LUTs.
pub fn check_fit(device: Device, e: &Estimate) -> Result<(), FitError> {
    let problems: Vec<String> = [
        memory_problem(device, e),
        bram_problem(device, e),
        mac_problem(device, e),
        lut_problem(device, e),
    ]
    .into_iter()
    .flatten()
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FitError { device, problems })
    }
}

fn memory_problem(device: Device, e: &Estimate) -> Option<String> {
    let d = device.spec();
    let bram_bits = device.bram_bits();
    let lut_rom_bits = u64::from(d.luts) / 4 * 16;
    let spram_bits = if e.spram_buffers {
        u64::from(d.sprams) * u64::from(d.spram_bits)
    } else {
        0
    };
    let rom = e.rom_bits.unwrap_or(e.memory_bits).min(e.memory_bits);
    let rom_cap = bram_bits + lut_rom_bits;
    if rom > rom_cap {
        return Some(format!(
            "{rom} bits of initialised memory (weights, constants) needed, {rom_cap} available ({} block RAMs × \
             {} bits = {bram_bits}, plus at most {lut_rom_bits} in LUTs); over by {:.2}×",
            d.brams,
            d.bram_bits,
            rom as f64 / rom_cap as f64
        ));
    }
    let cap = rom_cap + spram_bits;
    (e.memory_bits > cap).then(|| {
        format!(
            "{} memory bits needed, {cap} available ({bram_bits} in block RAMs, at most {lut_rom_bits} in LUTs, \
             {spram_bits} in SPRAMs); over by {:.2}×",
            e.memory_bits,
            e.memory_bits as f64 / cap as f64
        )
    })
}

fn bram_problem(device: Device, e: &Estimate) -> Option<String> {
    let d = device.spec();
    let n = e
        .ice40_brams
        .filter(|&n| device.family() == Family::Ice40 && n > u64::from(d.brams))?;
    Some(format!(
        "{n} block RAMs needed (each memory mapped as yosys maps it), {} on the device",
        d.brams
    ))
}

fn mac_problem(device: Device, e: &Estimate) -> Option<String> {
    let d = device.spec();
    let bits = e.mac_bits.unwrap_or(2);
    let per_mac = min_luts_per_mac(bits);
    let mac_cap = u64::from(d.dsps) + u64::from(d.luts) / per_mac;
    (e.macs > mac_cap).then(|| {
        format!(
            "{} MACs needed, at most {mac_cap} possible ({} hard multipliers + {} LUTs / ≥ {per_mac} LUTs per \
             {bits}-bit MAC)",
            e.macs, d.dsps, d.luts
        )
    })
}

/// The relative error a LUT estimate may have (the generator's logic model is within ±15 % of yosys in its tests):
/// a design is refused for its LUTs only when even 15 % fewer would not fit.
pub const LUT_MODEL_ERROR: f64 = 0.15;

fn lut_problem(device: Device, e: &Estimate) -> Option<String> {
    let luts = u64::from(device.spec().luts);
    let l = e.luts.filter(|&l| l as f64 * (1.0 - LUT_MODEL_ERROR) > luts as f64)?;
    Some(format!(
        "{l} LUTs estimated, {luts} on the device ({:.0} %)",
        100.0 * l as f64 / luts as f64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(macs: u64, memory_bits: u64, rom_bits: Option<u64>, luts: Option<u64>) -> Estimate {
        Estimate {
            macs,
            memory_bits,
            rom_bits,
            luts,
            mac_bits: Some(4),
            ..Estimate::default()
        }
    }

    /// The LUT estimate is a model within ±15 %: 6 200 estimated LUT4 may be 5 270 real ones (fits the UP5K's 5 280),
    /// 6 300 cannot be fewer than 5 355 (refused).
    #[test]
    fn lut_estimate_refused_only_beyond_the_model_error() {
        assert!(check_fit(Device::Ice40Up5k, &est(16, 50_000, None, Some(6_200))).is_ok());
        let e = check_fit(Device::Ice40Up5k, &est(16, 50_000, None, Some(6_300)))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("6300 LUTs estimated, 5280 on the device (119 %)"), "{e}");
    }

    #[test]
    fn fit_check_refuses_with_figures() {
        assert!(check_fit(Device::Ice40Up5k, &est(16, 50_000, None, None)).is_ok());
        // 16×16 array of 4-bit MACs: 256 > 8 + 5280/50 = 113.
        let big = est(256, 2_000_000, None, Some(30_000));
        let e = check_fit(Device::Ice40Up5k, &big).unwrap_err().to_string();
        assert!(
            e.starts_with("the design does not fit the ice40-up5k (iCE40UP5K-SG48): "),
            "{e}"
        );
        assert!(e.contains("256 MACs needed, at most 113 possible"), "{e}");
        assert!(
            e.contains("2000000 bits of initialised memory (weights, constants) needed, 144000 available"),
            "{e}"
        );
        assert!(e.contains("30000 LUTs estimated, 5280"), "{e}");
        assert!(check_fit(
            Device::Ecp5_85k,
            &Estimate {
                luts: None,
                ..big.clone()
            }
        )
        .is_ok());
        // 45k: 108 × 18432 + 43848 / 4 × 16 = 2 165 952 bits.
        assert!(check_fit(
            Device::Ecp5_45k,
            &Estimate {
                luts: None,
                ..big.clone()
            }
        )
        .is_ok());
        assert!(check_fit(Device::Ecp5_25k, &Estimate { luts: None, ..big }).is_err());
    }

    /// The tile counts yosys 0.23 `synth_ice40` gave for single memories (the probes named in the doc comment, and
    /// the accelerator's own: a 1 568 × 8 input lane, a 49 × 16 bank, a 45 × 32 bank, a 450 × 32 weight ROM).
    #[test]
    fn ice40_tiles_follow_yosys() {
        for (depth, width, rom, tiles) in [
            (16, 4, false, 0),
            (8, 8, false, 0),
            (4, 32, false, 0),
            (5, 16, false, 1),
            (49, 16, false, 1),
            (45, 32, false, 2),
            (300, 20, false, 3),
            (1568, 8, false, 4),
            (66, 16, true, 0),
            (67, 16, true, 1),
            (130, 8, true, 0),
            (134, 8, true, 1),
            (33, 32, true, 0),
            (180, 16, true, 1),
            (450, 32, true, 4),
            (20, 64, true, 0),
        ] {
            assert_eq!(
                ice40_ram_tiles(depth, width, rom),
                tiles,
                "{depth} × {width} {}",
                if rom { "ROM" } else { "RAM" }
            );
        }
        assert_eq!(ice40_ram_tiles(0, 8, false), 0);
    }

    #[test]
    fn block_rams_refused_on_the_ice40_only() {
        let e = Estimate {
            ice40_brams: Some(31),
            ..est(4, 50_000, Some(20_000), None)
        };
        let msg = check_fit(Device::Ice40Up5k, &e).unwrap_err().to_string();
        assert!(
            msg.contains("31 block RAMs needed (each memory mapped as yosys maps it), 30 on the device"),
            "{msg}"
        );
        assert!(check_fit(
            Device::Ice40Up5k,
            &Estimate {
                ice40_brams: Some(30),
                ..e.clone()
            }
        )
        .is_ok());
        assert!(check_fit(Device::Ecp5_25k, &e).is_ok());
    }

    #[test]
    fn buffers_use_the_sprams_only_when_the_design_puts_them_there() {
        let buffers = est(16, 600_000, Some(100_000), None);
        let e = check_fit(Device::Ice40Up5k, &buffers).unwrap_err().to_string();
        assert!(e.contains("600000 memory bits needed, 144000 available"), "{e}");
        let spram = Estimate {
            spram_buffers: true,
            ..buffers
        };
        assert!(check_fit(Device::Ice40Up5k, &spram).is_ok());
        let e = check_fit(
            Device::Ice40Up5k,
            &Estimate {
                memory_bits: 1_300_000,
                ..spram
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("1300000 memory bits needed, 1192576 available"), "{e}");
    }
}
