//! Parsing what the tools report (yosys `stat -json`, nextpnr's `--report` JSON and its log) and the run's
//! `report.json` + human summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::estimate::Estimate;
use crate::target::{DeviceTotals, Target};

/// Cell counts after synthesis, by the report's categories.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellCounts {
    /// LUT4s (`SB_LUT4`; ECP5 `LUT4`).
    pub luts: u32,
    /// Flip-flops (`SB_DFF*`; ECP5 `TRELLIS_FF`).
    pub ffs: u32,
    /// Carry cells (`SB_CARRY`; ECP5 `CCU2C`, two LUT4s each).
    pub carries: u32,
    /// Block RAMs (`SB_RAM40_4K`; ECP5 `DP16KD`).
    pub brams: u32,
    /// Hard multipliers (`SB_MAC16`; ECP5 `MULT18X18D`).
    pub dsps: u32,
    /// iCE40 UltraPlus SPRAMs (`SB_SPRAM256KA`).
    pub sprams: u32,
    /// Every cell type and its count, as yosys named them.
    pub by_type: BTreeMap<String, u32>,
}

/// Read yosys `stat -json` output: the `design` totals if present, else the module `top`.
pub fn parse_yosys_stat(json: &str, top: &str) -> Result<CellCounts, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("yosys stat -json output is not JSON: {e}"))?;
    let m = v
        .get("design")
        .or_else(|| {
            v.get("modules")
                .and_then(|m| m.get(format!("\\{top}")).or_else(|| m.get(top)))
        })
        .ok_or_else(|| format!("yosys stat -json has neither `design` nor module `{top}`"))?;
    let cells = m
        .get("num_cells_by_type")
        .and_then(Value::as_object)
        .ok_or("yosys stat -json has no num_cells_by_type")?;
    let mut c = CellCounts::default();
    for (name, n) in cells {
        if name.starts_with('$') && name.contains("scopeinfo") {
            // Newer yosys keeps `$scopeinfo` records of flattened hierarchy: not hardware.
            continue;
        }
        let n = n.as_u64().unwrap_or(0) as u32;
        c.by_type.insert(name.clone(), n);
        match name.as_str() {
            "SB_LUT4" | "LUT4" => c.luts += n,
            "SB_CARRY" | "CCU2C" => c.carries += n,
            "SB_RAM40_4K" | "DP16KD" | "PDPW16KD" => c.brams += n,
            "SB_MAC16" | "MULT18X18D" => c.dsps += n,
            "SB_SPRAM256KA" => c.sprams += n,
            "TRELLIS_FF" => c.ffs += n,
            s if s.starts_with("SB_DFF") => c.ffs += n,
            _ => {}
        }
    }
    Ok(c)
}

/// One line of nextpnr's device utilisation table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utilisation {
    /// Bel type, e.g. `ICESTORM_LC`, `TRELLIS_COMB`.
    pub bel: String,
    /// Used.
    pub used: u32,
    /// On the device.
    pub available: u32,
}

/// A clock's achieved and requested frequency from nextpnr.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClockTiming {
    /// The clock net, as nextpnr names it.
    pub net: String,
    /// Max frequency after routing, MHz.
    pub fmax_mhz: f64,
    /// The constraint it was checked against, MHz.
    pub target_mhz: f64,
}

/// What nextpnr reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PnrFigures {
    /// The utilisation table.
    pub utilisation: Vec<Utilisation>,
    /// Clocks after routing.
    pub clocks: Vec<ClockTiming>,
}

/// Read nextpnr's `--report` JSON (`utilization` and `fmax`).
pub fn parse_nextpnr_report(json: &str) -> Result<PnrFigures, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("nextpnr report is not JSON: {e}"))?;
    let mut f = PnrFigures::default();
    if let Some(u) = v.get("utilization").and_then(Value::as_object) {
        for (bel, x) in u {
            f.utilisation.push(Utilisation {
                bel: bel.clone(),
                used: x.get("used").and_then(Value::as_u64).unwrap_or(0) as u32,
                available: x.get("available").and_then(Value::as_u64).unwrap_or(0) as u32,
            });
        }
    }
    if let Some(c) = v.get("fmax").and_then(Value::as_object) {
        for (net, x) in c {
            f.clocks.push(ClockTiming {
                net: net.clone(),
                fmax_mhz: x.get("achieved").and_then(Value::as_f64).unwrap_or(0.0),
                target_mhz: x.get("constraint").and_then(Value::as_f64).unwrap_or(0.0),
            });
        }
    }
    Ok(f)
}

/// Read the utilisation table and the last `Max frequency for clock` lines from nextpnr's log (the fallback
/// when no `--report` JSON exists, and a cross-check).
///
/// ```text
/// Info: Device utilisation:
/// Info:            ICESTORM_LC:   120/ 5280     2%
/// Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 123.45 MHz (PASS at 12.00 MHz)
/// ```
pub fn parse_nextpnr_log(log: &str) -> PnrFigures {
    let mut f = PnrFigures::default();
    // The last utilisation table (nextpnr prints it once, after packing).
    if let Some(start) = log.rfind("Device utilisation:") {
        for line in log[start..].lines().skip(1) {
            let body = line.trim_start_matches("Info:").trim();
            let Some((bel, rest)) = body.split_once(':') else { break };
            let Some((used, rest)) = rest.split_once('/') else {
                break;
            };
            let avail = rest.split_whitespace().next().unwrap_or("");
            match (used.trim().parse(), avail.parse()) {
                (Ok(used), Ok(available)) => f.utilisation.push(Utilisation {
                    bel: bel.trim().to_string(),
                    used,
                    available,
                }),
                _ => break,
            }
        }
    }
    // Fmax lines appear after placement and again after routing: keep the last value per clock.
    let mut clocks: Vec<ClockTiming> = Vec::new();
    for line in log.lines() {
        let Some(i) = line.find("Max frequency for clock") else {
            continue;
        };
        let rest = &line[i + "Max frequency for clock".len()..];
        let (Some(q0), Some(q1)) = (rest.find('\''), rest.rfind('\'')) else {
            continue;
        };
        if q1 <= q0 {
            continue;
        }
        let net = rest[q0 + 1..q1].to_string();
        let after = &rest[q1 + 1..];
        let num = |s: &str| -> Option<f64> {
            s.trim_start_matches([':', ' '])
                .split_whitespace()
                .next()
                .and_then(|w| w.parse().ok())
        };
        let Some(fmax) = num(after) else { continue };
        let target = after.find(" at ").and_then(|j| num(&after[j + 4..])).unwrap_or(0.0);
        match clocks.iter_mut().find(|c| c.net == net) {
            Some(c) => {
                c.fmax_mhz = fmax;
                c.target_mhz = target;
            }
            None => clocks.push(ClockTiming {
                net,
                fmax_mhz: fmax,
                target_mhz: target,
            }),
        }
    }
    f.clocks = clocks;
    f
}

/// How long a stage took and where its log is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    /// Stage name: `yosys`, `nextpnr`, `pack`.
    pub stage: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Its log file, relative to the output directory.
    pub log: String,
}

/// Percent of the device used, per resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percent {
    /// LUT4s.
    pub luts: f64,
    /// Flip-flops.
    pub ffs: f64,
    /// Block RAMs.
    pub brams: f64,
    /// Hard multipliers.
    pub dsps: f64,
    /// iCE40 logic cells after packing (LUT + FF + carry share one), if nextpnr reported them.
    pub logic_cells: Option<f64>,
}

/// The bitstream file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitstreamInfo {
    /// File name inside the output directory.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// `report.json`: everything a run measured. `fmax_mhz` is the design clock's maximum frequency after routing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynthReport {
    /// Report format version.
    pub schema: u32,
    /// `pact-synth <version>`.
    pub tool: String,
    /// Target name (`ice40-up5k`, …).
    pub target: Target,
    /// Part name.
    pub part: String,
    /// Board name, if a board top-level was built.
    pub board: Option<String>,
    /// The synthesized top module.
    pub top: String,
    /// The accelerator module (the `--top` given), inside the board top-level if any.
    pub design_top: String,
    /// The requested clock, MHz (`--freq`).
    pub freq_mhz: f64,
    /// The design clock the board's PLL makes, MHz (equal to `freq_mhz` without a board, or when reachable).
    pub clock_mhz: f64,
    /// Max frequency of the design clock after routing, MHz (the lowest over the clocks nextpnr timed).
    pub fmax_mhz: f64,
    /// Whether `fmax_mhz` ≥ `clock_mhz`.
    pub timing_met: bool,
    /// Every clock nextpnr timed.
    pub clocks: Vec<ClockTiming>,
    /// LUT4s after synthesis.
    pub luts: u32,
    /// Flip-flops after synthesis.
    pub ffs: u32,
    /// Block RAMs.
    pub brams: u32,
    /// Hard multipliers.
    pub dsps: u32,
    /// Carry cells.
    pub carries: u32,
    /// SPRAMs (iCE40 UltraPlus).
    pub sprams: u32,
    /// Logic cells after packing (iCE40 `ICESTORM_LC`; ECP5 `TRELLIS_COMB`).
    pub logic_cells: Option<u32>,
    /// Device totals.
    pub device: DeviceTotals,
    /// Percent of the device.
    pub percent: Percent,
    /// Whether yosys was allowed to use the hard multipliers (`-dsp`; off after a retry when they ran out).
    pub dsp_mapping: bool,
    /// Every cell type yosys left.
    pub cells: BTreeMap<String, u32>,
    /// nextpnr's utilisation table.
    pub utilisation: Vec<Utilisation>,
    /// The pre-synthesis estimate, if one was given (from the manifest or the caller).
    pub estimate: Option<Estimate>,
    /// Clock cycles per inference (from the manifest), if known.
    pub cycles_per_inference: Option<u64>,
    /// Inferences per second at `min(fmax, clock)`, if the cycle count is known.
    pub inferences_per_s: Option<f64>,
    /// MAC operations per second at that rate, if the MACs per inference are known.
    pub macs_per_s: Option<f64>,
    /// The bitstream.
    pub bitstream: BitstreamInfo,
    /// nextpnr's seed.
    pub seed: u64,
    /// Wall time per stage.
    pub stages: Vec<StageTime>,
    /// Tool versions (first line of each tool's version output).
    pub tool_versions: BTreeMap<String, String>,
}

impl SynthReport {
    /// The human summary (`summary.txt`).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let pct = |p: f64| format!("{p:5.1} %");
        s.push_str(&format!(
            "pact synth: {} on {}{} (top `{}`)\n",
            self.design_top,
            self.part,
            self.board.as_ref().map(|b| format!(", board {b}")).unwrap_or_default(),
            self.top
        ));
        s.push_str(&format!(
            "  Fmax      {:8.2} MHz   design clock {:.2} MHz (asked {:.2}): timing {}\n",
            self.fmax_mhz,
            self.clock_mhz,
            self.freq_mhz,
            if self.timing_met {
                "met".to_string()
            } else {
                format!("NOT met, short by {:.2} MHz", self.clock_mhz - self.fmax_mhz)
            }
        ));
        let d = &self.device;
        s.push_str(&format!(
            "  LUT4      {:8} / {:6}  {}\n",
            self.luts,
            d.luts,
            pct(self.percent.luts)
        ));
        if let (Some(lc), Some(p)) = (self.logic_cells, self.percent.logic_cells) {
            s.push_str(&format!(
                "  cells     {:8} / {:6}  {}  (after packing)\n",
                lc,
                d.luts,
                pct(p)
            ));
        }
        s.push_str(&format!(
            "  FF        {:8} / {:6}  {}\n",
            self.ffs,
            d.ffs,
            pct(self.percent.ffs)
        ));
        s.push_str(&format!(
            "  BRAM      {:8} / {:6}  {}\n",
            self.brams,
            d.brams,
            pct(self.percent.brams)
        ));
        s.push_str(&format!(
            "  DSP       {:8} / {:6}  {}{}\n",
            self.dsps,
            d.dsps,
            pct(self.percent.dsps),
            if self.dsp_mapping {
                ""
            } else {
                "  (multipliers in LUTs)"
            }
        ));
        if let Some(e) = &self.estimate {
            s.push_str(&format!(
                "  estimate  {} MACs, {} memory bits ({} initialised){}\n",
                e.macs,
                e.memory_bits,
                e.rom_bits.unwrap_or(e.memory_bits),
                e.luts.map(|l| format!(", {l} LUTs")).unwrap_or_default()
            ));
        }
        if let (Some(c), Some(i)) = (self.cycles_per_inference, self.inferences_per_s) {
            s.push_str(&format!("  {c} cycles per inference: {i:.0} inferences/s"));
            if let Some(m) = self.macs_per_s {
                s.push_str(&format!(", {:.3} GMAC/s", m / 1e9));
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "  bitstream {} ({} bytes, sha256 {})\n",
            self.bitstream.file,
            self.bitstream.bytes,
            &self.bitstream.sha256[..16.min(self.bitstream.sha256.len())]
        ));
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|t| format!("{} {:.1} s", t.stage, t.seconds))
            .collect();
        s.push_str(&format!("  time      {}\n", stages.join(", ")));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextpnr_log_lines() {
        let log = "Info: Device utilisation:\n\
                   Info: \t         ICESTORM_LC:   120/ 5280     2%\n\
                   Info: \t        ICESTORM_RAM:     1/   30     3%\n\
                   Info: \t               SB_IO:     4/   96     4%\n\
                   \n\
                   Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 100.00 MHz (PASS at 12.00 MHz)\n\
                   Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 91.50 MHz (FAIL at 95.00 MHz)\n";
        let f = parse_nextpnr_log(log);
        assert_eq!(f.utilisation.len(), 3);
        assert_eq!(f.utilisation[0].bel, "ICESTORM_LC");
        assert_eq!((f.utilisation[0].used, f.utilisation[0].available), (120, 5280));
        assert_eq!(f.clocks.len(), 1);
        assert_eq!(f.clocks[0].net, "clk$SB_IO_IN_$glb_clk");
        assert_eq!((f.clocks[0].fmax_mhz, f.clocks[0].target_mhz), (91.5, 95.0));
    }

    #[test]
    fn yosys_stat_json() {
        let j = r#"{"modules": {"\\t": {"num_cells_by_type": {"SB_LUT4": 3}}},
                   "design": {"num_cells_by_type": {"SB_CARRY": 11, "SB_DFF": 16, "SB_DFFE": 2, "SB_LUT4": 179,
                              "SB_MAC16": 1, "SB_RAM40_4K": 2}}}"#;
        let c = parse_yosys_stat(j, "t").unwrap();
        assert_eq!((c.luts, c.ffs, c.carries, c.dsps, c.brams), (179, 18, 11, 1, 2));
        let j = r#"{"modules": {"\\t": {"num_cells_by_type": {"LUT4": 3, "TRELLIS_FF": 4, "MULT18X18D": 1}}}}"#;
        let c = parse_yosys_stat(j, "t").unwrap();
        assert_eq!((c.luts, c.ffs, c.dsps), (3, 4, 1));
        assert!(parse_yosys_stat("{}", "t").is_err());
    }
}
