//! What the flow reads from the generator's `manifest.json`; the pre-synthesis estimate and the fit rule are
//! pact-device's ([`Estimate`], [`check_fit`]), shared with the generator.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::board::AccelPorts;
pub use pact_device::fit::{check_fit, min_luts_per_mac, Estimate, FitError};

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
        spram_buffers: false,
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
