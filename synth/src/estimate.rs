//! What the flow reads from the generator's `manifest.json`: pact-device's typed [`Manifest`], shared with the
//! writer (a missing or renamed key, another format or version is refused, naming the key or the version and the
//! file). The pre-synthesis estimate and the fit rule are pact-device's too ([`Estimate`], [`check_fit`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::board::AccelPorts;
pub use pact_device::fit::{check_fit, min_luts_per_mac, Estimate, FitError};
pub use pact_device::manifest::{Manifest, ManifestError, Port};

/// What the flow uses from the generator's manifest; all `None` (the default) for a design without one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestInfo {
    /// The accelerator's top module (`top`).
    pub top: Option<String>,
    /// The streaming interface's port names (`ports`).
    pub ports: Option<AccelPorts>,
    /// The pre-synthesis estimate (`resources`, see [`pact_device::manifest::Resources::estimate`]).
    pub estimate: Option<Estimate>,
    /// Clock cycles per inference in a continuous stream of images at one pixel per cycle (`timing.interval_cycles`:
    /// with two input buffers the next image loads while the current one computes).
    pub cycles_per_inference: Option<u64>,
    /// Multiply-accumulate operations per inference (`resources.macs_per_inference`).
    pub macs_per_inference: Option<u64>,
    /// Number of classes (`model.classes`): the board top-level sends the class as one byte.
    #[serde(default)]
    pub classes: Option<u64>,
}

impl ManifestInfo {
    /// The figures of a manifest.
    pub fn new(m: &Manifest) -> Result<Self, String> {
        Ok(ManifestInfo {
            top: Some(m.top.clone()),
            ports: Some(ports_from_manifest(&m.top, &m.ports)?),
            estimate: Some(m.estimate()),
            cycles_per_inference: Some(m.timing.interval_cycles),
            macs_per_inference: Some(m.resources.macs_per_inference),
            classes: Some(m.model.classes as u64),
        })
    }
}

/// The ports the board top-level connects, by name: the names of [`AccelPorts::with_module`].
const ROLES: [&str; 9] = [
    "clk",
    "rst",
    "in_data",
    "in_valid",
    "in_ready",
    "out_class",
    "out_valid",
    "busy",
    "done",
];

/// The accelerator's interface from a manifest's `ports`: the ports named as in [`AccelPorts::with_module`] are
/// connected (`out_class`'s width is the class width; `busy`/`done` are `None` when not listed); every other
/// port is tied to 0 if its direction is `in` and left unconnected if it is `out`; any other direction is an
/// error.
pub fn ports_from_manifest(module: &str, ports: &[Port]) -> Result<AccelPorts, String> {
    let mut a = AccelPorts::with_module(module);
    a.busy = None;
    a.done = None;
    for p in ports {
        if ROLES.contains(&p.name.as_str()) {
            match p.name.as_str() {
                "out_class" => a.class_bits = p.width,
                "busy" => a.busy = Some(p.name.clone()),
                "done" => a.done = Some(p.name.clone()),
                _ => {}
            }
            continue;
        }
        match p.direction.as_str() {
            "in" => a.tie_low.push((p.name.clone(), p.width)),
            "out" => a.unused_outputs.push((p.name.clone(), p.width)),
            d => {
                return Err(format!(
                    "manifest port `{}` has direction `{d}` (not `in` or `out`): cannot tie it off",
                    p.name
                ))
            }
        }
    }
    Ok(a)
}

/// Read `manifest.json` ([`Manifest::read`]) and take the flow's figures from it.
pub fn read_manifest(path: &Path) -> Result<ManifestInfo, ManifestError> {
    let m = Manifest::read(path)?;
    ManifestInfo::new(&m).map_err(|e| ManifestError::Ports {
        path: path.to_path_buf(),
        detail: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ports the tests below rely on: the class width, busy/done, debug ports in and out.
    fn pact_ports() -> Vec<Port> {
        Port::list(&[
            ("clk", "in", 1),
            ("out_class", "out", 16),
            ("busy", "out", 1),
            ("done", "out", 1),
            ("dbg_stop_en", "in", 1),
            ("dbg_addr", "in", 16),
            ("dbg_data", "out", 32),
        ])
    }

    #[test]
    fn manifest_figures_and_ports() {
        let mut m = Manifest::minimal("top", pact_ports());
        m.model.classes = 10;
        m.timing.total_cycles = 9784;
        m.timing.interval_cycles = 9000;
        m.memory_bits.total = 60000;
        m.resources.mac_lanes = 16;
        m.resources.mac_operand_bits = [4, 3];
        m.resources.memory_bits = 60000;
        m.resources.initialised_bits = 41000;
        m.resources.multipliers_16x16 = 4;
        // 4-bit activations: LUT-mode lanes, so only the 4 PACT multipliers are hard ones.
        m.resources.hard_multipliers = 4;
        m.resources.lut4_estimate = 4321;
        m.resources.macs_per_inference = 100000;
        let info = ManifestInfo::new(&m).unwrap();
        let p = info.ports.unwrap();
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
        let e = info.estimate.unwrap();
        assert_eq!((e.macs, e.memory_bits, e.mac_bits), (16, 60000, Some(3)));
        assert_eq!(
            (e.rom_bits, e.multipliers, e.luts, e.spram_buffers),
            (Some(41000), Some(4), Some(4321), false)
        );
        assert_eq!(info.cycles_per_inference, Some(9000));
        assert_eq!(info.macs_per_inference, Some(100000));
        assert_eq!(info.classes, Some(10));
    }

    #[test]
    fn a_port_without_a_direction_is_refused() {
        let err = ports_from_manifest("top", &[Port::new("mystery", "inout", 3)]).unwrap_err();
        assert!(err.contains("`mystery`") && err.contains("`inout`"), "{err}");
        // Without busy/done in the list, the board top-level does not connect them.
        let p = ports_from_manifest("top", &[Port::new("clk", "in", 1)]).unwrap();
        assert_eq!((p.busy, p.done), (None, None));
    }
}
