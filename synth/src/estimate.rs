//! The pre-synthesis resource estimate, the up-front fit check, and what the flow reads from the generator's
//! `manifest.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::board::AccelPorts;
use crate::target::Target;

/// A design's size before synthesis (from the generator's manifest, or given by the caller).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Parallel multiply-accumulate units.
    pub macs: u64,
    /// Bits of memory: weights, requantization constants and activation buffers.
    pub memory_bits: u64,
    /// The part of `memory_bits` that is initialised by the bitstream (weights, constants): it cannot live in
    /// the iCE40 UltraPlus SPRAMs. `None`: all of it.
    #[serde(default)]
    pub rom_bits: Option<u64>,
    /// The generator's own LUT estimate, if it made one.
    pub luts: Option<u64>,
    /// Multipliers in the design (MAC lanes + requantization multipliers), if known: with more than the device
    /// has DSPs, the flow maps them to LUTs from the start instead of retrying.
    #[serde(default)]
    pub multipliers: Option<u64>,
    /// The narrowest multiplier operand width in bits (sets the LUT cost of a MAC built from LUTs); 2 if
    /// unknown, which makes the check the most lenient.
    pub mac_bits: Option<u32>,
}

/// A lower bound on the LUT4s of one MAC built from LUTs (signed `b × b` multiply + accumulator), from yosys
/// `synth_ice40` measurements (docs/bitstream.md: 23, 58, 219, 817 LUT4 at 2, 4, 8, 16 bits), rounded down and
/// interpolated downwards between the measured points.
pub fn min_luts_per_mac(bits: u32) -> u64 {
    match bits {
        0..=2 => 20,
        3..=4 => 50,
        5..=8 => 150,
        9..=15 => 400,
        _ => 800,
    }
}

/// Check an estimate against a target before running any tool. Only designs that certainly cannot fit are
/// refused (the checks are lower bounds); the error text gives the figures.
///
/// * initialised memory (`rom_bits`, else `memory_bits`) > block RAM bits + 16 bits in each of a quarter of the
///   LUTs (LUT ROM);
/// * all memory > that + SPRAM bits (UP5K: 4 × 256 kbit, usable for buffers that need no initial contents);
/// * MACs: `macs` > hard multipliers + LUTs / [`min_luts_per_mac`];
/// * LUTs: the generator's own LUT estimate > the device's LUTs.
pub fn check_fit(target: Target, e: &Estimate) -> Result<(), String> {
    let d = target.totals();
    let mut problems = Vec::new();
    let bram_bits = d.brams as u64 * d.bram_bits as u64;
    let lut_rom_bits = d.luts as u64 / 4 * 16;
    let spram_bits = d.sprams as u64 * 262_144;
    let rom = e.rom_bits.unwrap_or(e.memory_bits).min(e.memory_bits);
    let rom_cap = bram_bits + lut_rom_bits;
    if rom > rom_cap {
        problems.push(format!(
            "{rom} bits of initialised memory (weights, constants) needed, {rom_cap} available ({} block RAMs × \
             {} bits = {bram_bits}, plus at most {lut_rom_bits} in LUTs); over by {:.2}×",
            d.brams,
            d.bram_bits,
            rom as f64 / rom_cap as f64
        ));
    } else if e.memory_bits > rom_cap + spram_bits {
        problems.push(format!(
            "{} memory bits needed, {} available ({bram_bits} in block RAMs, at most {lut_rom_bits} in LUTs, \
             {spram_bits} in SPRAMs); over by {:.2}×",
            e.memory_bits,
            rom_cap + spram_bits,
            e.memory_bits as f64 / (rom_cap + spram_bits) as f64
        ));
    }
    let bits = e.mac_bits.unwrap_or(2);
    let per_mac = min_luts_per_mac(bits);
    let mac_cap = d.dsps as u64 + d.luts as u64 / per_mac;
    if e.macs > mac_cap {
        problems.push(format!(
            "{} MACs needed, at most {mac_cap} possible ({} hard multipliers + {} LUTs / ≥ {per_mac} LUTs per \
             {bits}-bit MAC)",
            e.macs, d.dsps, d.luts
        ));
    }
    if let Some(l) = e.luts {
        if l > d.luts as u64 {
            problems.push(format!(
                "{l} LUTs estimated, {} on the device ({:.0} %)",
                d.luts,
                100.0 * l as f64 / d.luts as f64
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What the flow uses from the generator's `manifest.json`. Every field is optional; see
/// [`read_manifest`] for the keys looked up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestInfo {
    /// The accelerator's top module.
    pub top: Option<String>,
    /// The streaming interface's port names.
    pub ports: Option<AccelPorts>,
    /// The pre-synthesis estimate.
    pub estimate: Option<Estimate>,
    /// Clock cycles per inference.
    pub cycles_per_inference: Option<u64>,
    /// Multiply-accumulate operations per inference.
    pub macs_per_inference: Option<u64>,
    /// Number of classes (`model.classes` or `classes`): the board top-level sends the class as one byte.
    #[serde(default)]
    pub classes: Option<u64>,
}

fn get_u64(v: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| {
        let x = v.get(*k)?;
        x.as_u64()
            .or_else(|| x.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    })
}

fn get_str(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| v.get(*k)?.as_str().map(str::to_string))
}

/// The port roles and the names that identify them when the manifest lists ports without roles.
const ROLES: &[(&str, &[&str])] = &[
    ("clk", &["clk", "clock"]),
    ("rst", &["rst", "reset", "rst_n", "reset_n", "rstn", "resetn"]),
    (
        "in_data",
        &[
            "in_data",
            "pixel",
            "in_pixel",
            "pixel_data",
            "in",
            "data_in",
            "s_data",
            "in_tdata",
        ],
    ),
    (
        "in_valid",
        &["in_valid", "pixel_valid", "valid_in", "s_valid", "in_tvalid"],
    ),
    (
        "in_ready",
        &["in_ready", "pixel_ready", "ready_out", "s_ready", "in_tready"],
    ),
    (
        "out_class",
        &[
            "out_class",
            "class",
            "class_index",
            "out_data",
            "result",
            "m_data",
            "out_tdata",
        ],
    ),
    (
        "out_valid",
        &["out_valid", "class_valid", "valid_out", "m_valid", "out_tvalid"],
    ),
    ("busy", &["busy"]),
    ("done", &["done"]),
];

/// One port as listed in the manifest: name, role (given or guessed), direction, width.
struct ListedPort {
    name: String,
    role: Option<String>,
    dir: Option<String>,
    width: Option<u32>,
}

fn get_dir(v: &Value) -> Option<String> {
    get_str(v, &["direction", "dir"])
}

fn listed_ports(ports: &Value) -> Vec<ListedPort> {
    let mut out = Vec::new();
    match ports {
        // [{"name": .., "role"?: .., "width"?: ..}, ..]
        Value::Array(a) => {
            for p in a {
                if let Some(name) = get_str(p, &["name", "port"]) {
                    out.push(ListedPort {
                        name,
                        role: get_str(p, &["role", "kind", "function"]),
                        dir: get_dir(p),
                        width: get_u64(p, &["width", "bits"]).map(|w| w as u32),
                    });
                }
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                match v {
                    // {"clk": "clock", ..}: role → name.
                    Value::String(name) => out.push(ListedPort {
                        name: name.clone(),
                        role: Some(k.clone()),
                        dir: None,
                        width: None,
                    }),
                    // {"clock": {"dir": .., "width": .., "role"?: ..}} or {"clk": {"name": .., "width": ..}}.
                    Value::Object(_) => match get_str(v, &["name", "port"]) {
                        Some(name) => out.push(ListedPort {
                            name,
                            role: get_str(v, &["role"]).or_else(|| Some(k.clone())),
                            dir: get_dir(v),
                            width: get_u64(v, &["width", "bits"]).map(|w| w as u32),
                        }),
                        None => out.push(ListedPort {
                            name: k.clone(),
                            role: get_str(v, &["role", "kind", "function"]),
                            dir: get_dir(v),
                            width: get_u64(v, &["width", "bits"]).map(|w| w as u32),
                        }),
                    },
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn role_of(p: &ListedPort) -> Option<&'static str> {
    let matches = |s: &str| {
        let s = s.to_ascii_lowercase();
        ROLES
            .iter()
            .find(|(role, names)| *role == s || names.contains(&s.as_str()))
            .map(|r| r.0)
    };
    p.role.as_deref().and_then(matches).or_else(|| matches(&p.name))
}

/// Port names from a manifest's `ports` (an array of `{name, role?, direction?, width?}`, an object role →
/// name, or an object name → `{width, direction?, role?}`); roles missing from the manifest keep the default
/// names of [`AccelPorts::with_module`]. `busy`/`done` become `None` when the manifest lists ports but not
/// them. Ports with no role (e.g. debug ports) are tied to 0 if their direction is `in` and left unconnected if
/// it is `out`; a role-less port without a direction is an error.
pub fn ports_from_manifest(module: &str, ports: &Value) -> Result<AccelPorts, String> {
    let mut a = AccelPorts::with_module(module);
    let listed = listed_ports(ports);
    if listed.is_empty() {
        return Ok(a);
    }
    a.busy = None;
    a.done = None;
    for p in &listed {
        let Some(role) = role_of(p) else {
            let width = p.width.unwrap_or(1);
            match p.dir.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("in" | "input") => a.tie_low.push((p.name.clone(), width)),
                Some("out" | "output") => a.unused_outputs.push((p.name.clone(), width)),
                _ => {
                    return Err(format!(
                        "manifest port `{}` has no role the board top-level knows and no direction: cannot tie it off",
                        p.name
                    ))
                }
            }
            continue;
        };
        let name = p.name.clone();
        match role {
            "clk" => a.clk = name,
            "rst" => {
                let l = name.to_ascii_lowercase();
                a.rst_active_low =
                    l.ends_with("_n") || (l.ends_with('n') && (l.starts_with("rst") || l.starts_with("reset")));
                a.rst = name;
            }
            "in_data" => a.in_data = name,
            "in_valid" => a.in_valid = name,
            "in_ready" => a.in_ready = name,
            "out_class" => {
                a.out_class = name;
                if let Some(w) = p.width {
                    a.class_bits = w;
                }
            }
            "out_valid" => a.out_valid = name,
            "busy" => a.busy = Some(name),
            "done" => a.done = Some(name),
            _ => {}
        }
    }
    Ok(a)
}

/// Read `manifest.json` (pact-hdl's accelerator manifest, or anything shaped alike): the top module (`top`,
/// `top_module`, `module`), `ports`, the estimate (a `resources`/`estimate` object, or top-level keys:
/// `macs`/`mac_lanes`/`mac_units`, `memory_bits`, `luts`, `mac_bits` or `mac_operand_bits`),
/// `cycles_per_inference` (or `timing.total_cycles`, `cycles`) and `macs_per_inference` (top level or in the
/// estimate). Unknown keys are ignored.
pub fn read_manifest(path: &Path) -> Result<ManifestInfo, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    manifest_info(&v).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`read_manifest`] on parsed JSON.
pub fn manifest_info(v: &Value) -> Result<ManifestInfo, String> {
    let top = get_str(v, &["top", "top_module", "module"]);
    let ports = v
        .get("ports")
        .map(|p| ports_from_manifest(top.as_deref().unwrap_or("top"), p))
        .transpose()?;
    let est_src = ["estimate", "resources", "resource_estimate"]
        .iter()
        .find_map(|k| v.get(*k))
        .unwrap_or(v);
    let macs = get_u64(est_src, &["macs", "mac_lanes", "mac_units", "mac_count", "pe_simd"]);
    let memory_bits = get_u64(est_src, &["memory_bits", "mem_bits", "total_memory_bits"]);
    // Initialised memory: pact-hdl's `memory_bits: {weights, requant, ..}`, else the estimate's
    // `weight_bits` + `constant_bits`, else `rom_bits`.
    let mb = v.get("memory_bits").unwrap_or(&Value::Null);
    let rom_bits = match (get_u64(mb, &["weights"]), get_u64(mb, &["requant"])) {
        (Some(w), r) => Some(w + r.unwrap_or(0)),
        _ => match (get_u64(est_src, &["weight_bits"]), get_u64(est_src, &["constant_bits"])) {
            (Some(w), c) => Some(w + c.unwrap_or(0)),
            _ => get_u64(est_src, &["rom_bits"]),
        },
    };
    let estimate = (macs.is_some() || memory_bits.is_some()).then(|| Estimate {
        macs: macs.unwrap_or(0),
        memory_bits: memory_bits.unwrap_or(0),
        rom_bits,
        multipliers: get_u64(est_src, &["multipliers"]).or_else(|| {
            let lanes = get_u64(est_src, &["mac_lanes"])?;
            Some(lanes + get_u64(est_src, &["multipliers_16x16"]).unwrap_or(0))
        }),
        luts: get_u64(est_src, &["luts", "lut4", "lut"]),
        mac_bits: get_u64(est_src, &["mac_bits", "min_bits"])
            .map(|b| b as u32)
            .or_else(|| {
                // `mac_operand_bits: [ka, kw]`: the narrower operand bounds the LUT cost from below.
                est_src
                    .get("mac_operand_bits")?
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_u64)
                    .min()
                    .map(|b| b as u32)
            }),
    });
    let timing = v.get("timing").unwrap_or(&Value::Null);
    let cycle_keys = ["cycles_per_inference", "total_cycles", "cycles", "latency_cycles"];
    let mac_keys = ["macs_per_inference", "mac_ops", "mac_ops_per_inference"];
    Ok(ManifestInfo {
        top,
        ports,
        estimate,
        cycles_per_inference: get_u64(v, &cycle_keys).or_else(|| get_u64(timing, &cycle_keys)),
        macs_per_inference: get_u64(v, &mac_keys).or_else(|| get_u64(est_src, &mac_keys)),
        classes: get_u64(v, &["classes"]).or_else(|| get_u64(v.get("model").unwrap_or(&Value::Null), &["classes"])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fit_check_refuses_with_figures() {
        let ok = Estimate {
            macs: 16,
            memory_bits: 50_000,
            rom_bits: None,
            multipliers: None,
            luts: None,
            mac_bits: Some(4),
        };
        assert!(check_fit(Target::Ice40Up5k, &ok).is_ok());
        // 16×16 array of 4-bit MACs: 256 > 8 + 5280/50 = 113.
        let big = Estimate {
            macs: 256,
            memory_bits: 2_000_000,
            rom_bits: None,
            multipliers: None,
            luts: Some(30_000),
            mac_bits: Some(4),
        };
        let e = check_fit(Target::Ice40Up5k, &big).unwrap_err();
        assert!(e.contains("256 MACs needed, at most 113 possible"), "{e}");
        assert!(
            e.contains("2000000 bits of initialised memory (weights, constants) needed, 144000 available"),
            "{e}"
        );
        assert!(e.contains("30000 LUTs estimated, 5280"), "{e}");
        assert!(check_fit(
            Target::Ecp5_85k,
            &Estimate {
                luts: None,
                ..big.clone()
            }
        )
        .is_ok());
        // Buffers without initial contents may use the UP5K's SPRAMs; weights may not.
        let buffers = Estimate {
            macs: 16,
            memory_bits: 600_000,
            rom_bits: Some(100_000),
            multipliers: None,
            luts: None,
            mac_bits: Some(4),
        };
        assert!(check_fit(Target::Ice40Up5k, &buffers).is_ok());
        let e = check_fit(
            Target::Ice40Up5k,
            &Estimate {
                memory_bits: 1_300_000,
                ..buffers
            },
        )
        .unwrap_err();
        assert!(e.contains("1300000 memory bits needed, 1192576 available"), "{e}");
    }

    #[test]
    fn manifest_shapes() {
        let m = manifest_info(&json!({
            "top": "pact_accel",
            "ports": [
                {"name": "clock", "dir": "in", "width": 1},
                {"name": "reset_n", "dir": "in", "width": 1},
                {"name": "pixel", "dir": "in", "width": 8},
                {"name": "pixel_valid", "dir": "in", "width": 1},
                {"name": "pixel_ready", "dir": "out", "width": 1},
                {"name": "class", "dir": "out", "width": 4},
                {"name": "class_valid", "dir": "out", "width": 1},
                {"name": "busy", "dir": "out", "width": 1}
            ],
            "estimate": {"macs": 16, "memory_bits": 40000},
            "cycles_per_inference": 12345
        }))
        .unwrap();
        let p = m.ports.unwrap();
        assert_eq!(p.module, "pact_accel");
        assert_eq!(
            (p.clk.as_str(), p.rst.as_str(), p.rst_active_low),
            ("clock", "reset_n", true)
        );
        assert_eq!(
            (p.in_data.as_str(), p.out_class.as_str(), p.class_bits),
            ("pixel", "class", 4)
        );
        assert_eq!((p.busy.as_deref(), p.done.as_deref()), (Some("busy"), None));
        assert_eq!(m.estimate.unwrap().macs, 16);
        assert_eq!(m.cycles_per_inference, Some(12345));

        let m = manifest_info(
            &json!({"module": "a", "ports": {"clk": "c", "in_data": "px", "out_class": {"name": "k", "width": 2}}}),
        )
        .unwrap();
        let p = m.ports.unwrap();
        assert_eq!(
            (p.clk.as_str(), p.in_data.as_str(), p.out_class.as_str(), p.class_bits),
            ("c", "px", "k", 2)
        );
        assert_eq!(p.rst, "rst");
        assert!(m.estimate.is_none());
    }

    #[test]
    fn pact_hdl_manifest_shape() {
        // The shape pact-hdl's accelerator generator writes (hdl/src/accel/emit.rs), abridged.
        let m = manifest_info(&json!({
            "format": "pact-accel", "top": "top", "verilog": "accel.v",
            "ports": [
                {"name": "clk", "direction": "in", "width": 1, "meaning": "clock"},
                {"name": "rst", "direction": "in", "width": 1},
                {"name": "in_valid", "direction": "in", "width": 1},
                {"name": "in_data", "direction": "in", "width": 8},
                {"name": "in_ready", "direction": "out", "width": 1},
                {"name": "out_valid", "direction": "out", "width": 1},
                {"name": "out_class", "direction": "out", "width": 16},
                {"name": "busy", "direction": "out", "width": 1},
                {"name": "done", "direction": "out", "width": 1},
                {"name": "dbg_stop_en", "direction": "in", "width": 1},
                {"name": "dbg_addr", "direction": "in", "width": 16},
                {"name": "dbg_data", "direction": "out", "width": 32}
            ],
            "model": {"classes": 10},
            "timing": {"pixels_per_image": 784, "compute_cycles": 9000, "total_cycles": 9784},
            "memory_bits": {"weights": 40000, "requant": 1000, "total": 60000},
            "resources": {"mac_lanes": 16, "mac_operand_bits": [4, 4], "memory_bits": 60000,
                          "weight_bits": 40000, "constant_bits": 1300, "macs_per_inference": 100000}
        }))
        .unwrap();
        let p = m.ports.unwrap();
        assert_eq!(p.module, "top");
        assert_eq!(
            (p.class_bits, p.busy.as_deref(), p.done.as_deref()),
            (16, Some("busy"), Some("done"))
        );
        assert_eq!(
            p.tie_low,
            vec![("dbg_stop_en".to_string(), 1), ("dbg_addr".to_string(), 16)]
        );
        assert_eq!(p.unused_outputs, vec![("dbg_data".to_string(), 32)]);
        assert!(p.validate().is_ok());
        let e = m.estimate.unwrap();
        assert_eq!((e.macs, e.memory_bits, e.mac_bits), (16, 60000, Some(4)));
        assert_eq!(e.rom_bits, Some(40000 + 1000));
        assert_eq!(e.multipliers, Some(16));
        assert_eq!(m.cycles_per_inference, Some(9784));
        assert_eq!(m.macs_per_inference, Some(100000));
        assert_eq!(m.classes, Some(10));
        let err = manifest_info(&json!({"ports": [{"name": "mystery", "width": 3}]})).unwrap_err();
        assert!(err.contains("`mystery`"), "{err}");
    }
}
