//! `manifest.json`, the generator's description of an accelerator it wrote: one typed struct, written by
//! `pact gen` (pact-hdl) and read by `pact synth` (pact-synth) and `pact sim` (pact-cosim).
//!
//! Readers refuse a file whose `format` is not [`FORMAT`] or whose `version` is not [`VERSION`], and a file with a
//! missing or mistyped key, naming the file and the key: nothing is guessed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fit::Estimate;

/// The manifest's file name in a generated directory.
pub const FILE: &str = "manifest.json";
/// Its `format`.
pub const FORMAT: &str = "pact-accel";
/// The version this build writes and reads. 5: `resources.ice40_brams` (block RAMs memory by memory), banks as one
/// memory each (`count` 1, `simd` lanes per word), `config.shared_requant`; 4: two input buffers; 3: digit passes (`widths.lane_bits`,
/// `layers[].digits`, `bubbles_per_pass`); 2: the typed manifest (version 1 was written untyped).
pub const VERSION: u32 = 5;

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The accelerator's top module.
    pub top: String,
    /// The Verilog file (in the same directory).
    pub verilog: String,
    /// Lines of Verilog.
    pub verilog_lines: usize,
    /// The model the design was generated for.
    pub model: ModelInfo,
    /// The generator's configuration.
    pub config: Config,
    /// The top module's ports.
    pub ports: Vec<Port>,
    /// The engine's datapath widths.
    pub widths: Widths,
    /// Cycle counts.
    pub timing: Timing,
    /// The compute layers, in execution order.
    pub layers: Vec<Layer>,
    /// Every memory of the design.
    pub memories: Vec<Memory>,
    /// Memory bits by use.
    pub memory_bits: MemoryBits,
    /// The pre-synthesis resource estimate (also written alone as `estimate.json`).
    pub resources: Resources,
}

/// The model a design was generated for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where the quantized model came from.
    pub source: String,
    /// Input `[channels, height, width]` (8-bit pixels).
    pub input: [usize; 3],
    /// Classes (logits).
    pub classes: usize,
    /// Names of the model's layers.
    pub layers: Vec<String>,
}

/// The generator's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Output channels computed in parallel.
    pub pe: usize,
    /// Inputs per output consumed per cycle.
    pub simd: usize,
    /// The device the design was checked against (a [`crate::Device`] name), or `any`.
    pub target: String,
    /// Input buffers: 2 takes the next image while the current one computes, 1 does not.
    pub input_buffers: usize,
    /// One requantization (PACT) unit shared by the PEs (else one per PE).
    pub shared_requant: bool,
}

/// A port of the top module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Port name.
    pub name: String,
    /// `in` or `out`.
    pub direction: String,
    /// Bits.
    pub width: u32,
    /// What it carries.
    pub meaning: String,
}

/// The engine's datapath widths, in bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widths {
    /// Digit width `k` of the passes: a layer whose codes or weight indices are wider than the lanes runs as
    /// `⌈bits/k⌉` activation × weight digit passes (docs/accelerator.md).
    pub lane_bits: u32,
    /// Activation codes (digits) into the lanes (unsigned).
    pub activation_bits: u32,
    /// Weight indices (digits) into the lanes, decoded to odd signed weights.
    pub weight_bits: u32,
    /// Accumulators (signed).
    pub accumulator_bits: u32,
    /// Output codes of the PACT units (unsigned).
    pub output_code_bits: u32,
    /// The requantization multiplier M0 (unsigned).
    pub m0_bits: u32,
    /// Memory word addresses.
    pub address_bits: u32,
}

/// Cycle counts per inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Pixels streamed in per image.
    pub pixels_per_image: usize,
    /// Rising edges from the one that takes the last pixel to the one after which `out_valid` is high.
    pub compute_cycles: u64,
    /// `compute_cycles` plus one cycle per pixel: the latency of one image from its first pixel.
    pub total_cycles: u64,
    /// Cycles per image in a continuous stream: `max(pixels, compute_cycles + 1)` with two input buffers,
    /// `pixels + compute_cycles + 1` with one. Inferences per second are `f_clk / interval_cycles`.
    pub interval_cycles: u64,
    /// The formula `Σ ⌈M/PE⌉·⌈N/SIMD⌉` (× output positions for a conv).
    pub formula_cycles: u64,
    /// Beats issued (cycles the array does useful work).
    pub beat_cycles: u64,
    /// `compute_cycles / formula_cycles`.
    pub compute_over_formula: f64,
    /// `beat_cycles / compute_cycles`.
    pub array_utilisation: f64,
    /// Pipeline latencies, cycles.
    pub latencies: Latencies,
    /// The definition of the counts, in words.
    pub definition: String,
}

/// Pipeline latencies, cycles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latencies {
    /// The MAC array.
    pub array: usize,
    /// A PACT unit.
    pub pact: usize,
    /// Starting a layer.
    pub layer_start: usize,
    /// From a layer's last beat to its codes in the bank.
    pub codes_drain: usize,
    /// A note on `codes_drain`.
    pub codes_drain_note: String,
    /// From the last layer's last beat to its result.
    pub logits_drain: usize,
    /// The cycle in which `out_valid` is high.
    pub finish: usize,
}

/// One compute layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Position in execution order.
    pub index: usize,
    /// The layer's name.
    pub name: String,
    /// The model layer whose output it produces (after a fused pool, the pool).
    pub output_of: String,
    /// `dense` or `conv`.
    pub kind: String,
    /// Output channels.
    pub outputs: usize,
    /// Inputs per output.
    pub fan_in: usize,
    /// Output positions.
    pub positions: usize,
    /// Groups of `pe` outputs.
    pub groups: usize,
    /// Beats per group.
    pub beats_per_group: usize,
    /// How the input reaches the array.
    pub input_mode: String,
    /// Weight bits.
    pub weight_bits: u32,
    /// Input code bits.
    pub in_bits: u32,
    /// Output code bits (`null` for the last layer, whose outputs are logits).
    pub out_bits: Option<u32>,
    /// Accumulator bits.
    pub acc_bits: u32,
    /// Fused max-pool `[height, width]`.
    pub pool: [usize; 2],
    /// The bank it reads.
    pub source: String,
    /// The bank it writes.
    pub destination: String,
    /// The layout of its stored output.
    pub stored_output: StoredOutput,
    /// Beats issued.
    pub beats: usize,
    /// Activation and weight digits: a group takes their product in passes of `beats_per_group` beats.
    pub digits: [usize; 2],
    /// Idle issue cycles after each pass.
    pub bubbles_per_pass: usize,
    /// Issue cycles.
    pub issue_cycles: usize,
    /// The formula's cycles for this layer.
    pub formula_cycles: usize,
    /// Cycles including the drain.
    pub cycles: usize,
    /// Words of each PE's weight ROM.
    pub weight_rom_words: Vec<usize>,
}

/// The layout of a layer's stored output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOutput {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// SIMD words per position.
    pub words_per_position: usize,
}

/// One memory (or a set of identical ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// What it holds.
    pub name: String,
    /// `ram` or `rom`.
    pub kind: String,
    /// Identical copies (one per lane), for RAMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
    /// The data layout, for the input buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// The `$readmemh` file, for ROMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Memory bits by use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryBits {
    /// Weight ROMs as stored.
    pub weights: u64,
    /// `Σ k_w × parameters` (the lower bound).
    pub weights_exact: u64,
    /// `weights / weights_exact`.
    pub weights_over_exact: f64,
    /// The input buffer.
    pub input: u64,
    /// Activation banks.
    pub banks: u64,
    /// Logit RAMs.
    pub logits: u64,
    /// Requantization ROMs and the last layer's biases.
    pub requant: u64,
    /// All of it.
    pub total: u64,
}

/// The pre-synthesis resource estimate (`resources` in the manifest, and `estimate.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// MAC lanes (`pe × simd`).
    pub mac_lanes: u64,
    /// The array's operand widths `[activation, weight]`, bits.
    pub mac_operand_bits: [u32; 2],
    /// Accumulators.
    pub accumulators: u64,
    /// Accumulator bits.
    pub accumulator_bits: u32,
    /// PACT (requantization) units.
    pub pact_units: u64,
    /// 16 × 16 multipliers of the PACT units.
    pub multipliers_16x16: u64,
    /// All memory bits.
    pub memory_bits: u64,
    /// Weight ROM bits.
    pub weight_bits: u64,
    /// Input buffer and bank bits.
    pub activation_bits: u64,
    /// Requantization constants and logit RAM bits.
    pub constant_bits: u64,
    /// Bits initialised by the bitstream: weight ROMs and requantization constants.
    pub initialised_bits: u64,
    /// `memory_bits` in 4-kbit iCE40 block RAMs, rounded up.
    pub ice40_ebr_4kbit_lower_bound: u64,
    /// iCE40 block RAMs (SB_RAM40_4K) after yosys, memory by memory ([`crate::fit::ice40_ram_tiles`]), in the
    /// board top-level: the debug port tied off, so the logit RAMs (read only by it) are not built.
    pub ice40_brams: u64,
    /// `memory_bits` in 18-kbit ECP5 block RAMs, rounded up.
    pub ecp5_ebr_18kbit_lower_bound: u64,
    /// Multiply-accumulate operations per inference.
    pub macs_per_inference: u64,
    /// Hard multipliers the design asks for: the MAC lanes that multiply with `*` (activation digits wider than 4
    /// bits; narrower lanes shift and add in LUTs) and the PACT units' 16 × 16 multipliers.
    pub hard_multipliers: u64,
    /// The generator's LUT4 estimate (the logic model of automatic sizing, docs/accelerator.md).
    pub lut4_estimate: u64,
    /// The generator's flip-flop estimate (the same model).
    pub ff_estimate: u64,
}

impl Resources {
    /// What the fit rule checks: the MAC lanes and their narrower operand, all memory, the initialised part, the
    /// hard multipliers (DSP-mode lanes and PACT units) and the LUT4 estimate. The design keeps no buffer in SPRAM.
    pub fn estimate(&self) -> Estimate {
        Estimate {
            macs: self.mac_lanes,
            memory_bits: self.memory_bits,
            rom_bits: Some(self.initialised_bits),
            luts: Some(self.lut4_estimate),
            multipliers: Some(self.hard_multipliers),
            mac_bits: self.mac_operand_bits.into_iter().min(),
            spram_buffers: false,
            ice40_brams: Some(self.ice40_brams),
        }
    }
}

/// A manifest that cannot be used; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not JSON, or a key missing or of the wrong type (serde names the key).
    #[error("{}: not a valid pact accelerator manifest: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Another `format`.
    #[error("{}: `format` is {found}, not \"{FORMAT}\": not a pact accelerator manifest", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The value found (JSON).
        found: String,
    },
    /// A port the board top-level cannot connect or tie off.
    #[error("{}: {detail}", path.display())]
    Ports {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Another `version`.
    #[error(
        "{}: manifest version {found} is not supported (this pact reads version {VERSION}); generate the design \
         again with `pact gen`",
        path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The value found (JSON).
        found: String,
    },
}

impl Port {
    /// A port with no meaning given.
    pub fn new(name: &str, direction: &str, width: u32) -> Port {
        Port {
            name: name.into(),
            direction: direction.into(),
            width,
            meaning: String::new(),
        }
    }

    /// Ports from `(name, direction, width)` triples.
    pub fn list(ports: &[(&str, &str, u32)]) -> Vec<Port> {
        ports.iter().map(|&(n, d, w)| Port::new(n, d, w)).collect()
    }
}

impl Manifest {
    /// The manifest of a design without layers or memories (every figure 0) whose top module is `top`: for
    /// stand-in designs and tests. The generator fills in every field itself.
    pub fn minimal(top: &str, ports: Vec<Port>) -> Manifest {
        let zero_latencies = Latencies {
            array: 0,
            pact: 0,
            layer_start: 0,
            codes_drain: 0,
            codes_drain_note: String::new(),
            logits_drain: 0,
            finish: 0,
        };
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            top: top.into(),
            verilog: format!("{top}.v"),
            verilog_lines: 0,
            model: ModelInfo {
                source: String::new(),
                input: [1, 1, 1],
                classes: 1,
                layers: Vec::new(),
            },
            config: Config {
                pe: 1,
                simd: 1,
                target: "any".into(),
                input_buffers: 1,
                shared_requant: false,
            },
            ports,
            widths: Widths {
                lane_bits: 0,
                activation_bits: 0,
                weight_bits: 0,
                accumulator_bits: 0,
                output_code_bits: 0,
                m0_bits: 0,
                address_bits: 0,
            },
            timing: Timing {
                pixels_per_image: 0,
                compute_cycles: 0,
                total_cycles: 0,
                interval_cycles: 0,
                formula_cycles: 0,
                beat_cycles: 0,
                compute_over_formula: 0.0,
                array_utilisation: 0.0,
                latencies: zero_latencies,
                definition: String::new(),
            },
            layers: Vec::new(),
            memories: Vec::new(),
            memory_bits: MemoryBits {
                weights: 0,
                weights_exact: 0,
                weights_over_exact: 0.0,
                input: 0,
                banks: 0,
                logits: 0,
                requant: 0,
                total: 0,
            },
            resources: Resources {
                mac_lanes: 0,
                mac_operand_bits: [0, 0],
                accumulators: 0,
                accumulator_bits: 0,
                pact_units: 0,
                multipliers_16x16: 0,
                memory_bits: 0,
                weight_bits: 0,
                activation_bits: 0,
                constant_bits: 0,
                initialised_bits: 0,
                ice40_ebr_4kbit_lower_bound: 0,
                ice40_brams: 0,
                ecp5_ebr_18kbit_lower_bound: 0,
                macs_per_inference: 0,
                hard_multipliers: 0,
                lut4_estimate: 0,
                ff_estimate: 0,
            },
        }
    }

    /// Read and check `path`.
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::from_json(&text, path)
    }

    /// Parse and check `text`, the contents of `path` (named in errors).
    pub fn from_json(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let invalid = |source| ManifestError::Invalid {
            path: path.to_path_buf(),
            source,
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
        let found = |key: &str| v.get(key).map_or("missing".to_string(), |x| x.to_string());
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(ManifestError::Format {
                path: path.to_path_buf(),
                found: found("format"),
            });
        }
        if v.get("version").and_then(|f| f.as_u64()) != Some(u64::from(VERSION)) {
            return Err(ManifestError::Version {
                path: path.to_path_buf(),
                found: found("version"),
            });
        }
        serde_json::from_value(v).map_err(invalid)
    }

    /// The manifest as pretty JSON (what the generator writes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest serializes")
    }

    /// The pre-synthesis estimate ([`Resources::estimate`]).
    pub fn estimate(&self) -> Estimate {
        self.resources.estimate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::minimal(
            "pact_accel",
            vec![Port::new("clk", "in", 1), Port::new("out_class", "out", 4)],
        );
        m.timing.total_cycles = 1234;
        m.timing.compute_over_formula = 1.0625;
        m.memories.push(Memory {
            name: "weights fc pe 0".into(),
            kind: "rom".into(),
            count: None,
            depth: 7,
            width: 16,
            layout: None,
            file: Some("w0_0.mem".into()),
        });
        m
    }

    fn refused(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = serde_json::to_value(sample()).unwrap();
        edit(&mut v);
        Manifest::from_json(&v.to_string(), Path::new("gen/manifest.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_manifest_round_trips() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json(), Path::new("m.json")).unwrap();
        assert_eq!(back, m);
        // Optional memory fields are left out, not written as null.
        assert!(!m.to_json().contains("\"layout\": null"));
    }

    #[test]
    fn missing_renamed_or_foreign_keys_are_refused_naming_key_and_file() {
        let e = refused(|v| {
            let t = v["timing"].as_object_mut().unwrap();
            let x = t.remove("total_cycles").unwrap();
            t.insert("cycles".into(), x);
        });
        assert!(e.starts_with("gen/manifest.json: "), "{e}");
        assert!(e.contains("missing field `total_cycles`"), "{e}");
        let e = refused(|v| {
            v.as_object_mut().unwrap().remove("resources");
        });
        assert!(
            e.contains("gen/manifest.json") && e.contains("missing field `resources`"),
            "{e}"
        );
        let e = refused(|v| v["version"] = 1.into());
        assert_eq!(
            e,
            "gen/manifest.json: manifest version 1 is not supported (this pact reads version 5); generate the design \
             again with `pact gen`"
        );
        let e = refused(|v| v["format"] = "other".into());
        assert!(e.contains("gen/manifest.json: `format` is \"other\""), "{e}");
        let e = Manifest::read(Path::new("/nonexistent/manifest.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read /nonexistent/manifest.json: "), "{e}");
    }
}
