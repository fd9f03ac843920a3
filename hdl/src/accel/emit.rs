//! Emission: the Verilog, the `$readmemh` weight files, `manifest.json` and `estimate.json`, written into a fresh
//! directory that replaces the output directory in one rename.
use super::naming::{rename_top, TopName};
use super::plan::{timing, Bank, Plan};
use super::{build, AccelConfig};
use crate::array::ARRAY_LATENCY;
use crate::pact::{M0_BITS, PACT_LATENCY};
use crate::verilog::emit as emit_verilog;
use crate::HdlError;
use pact_device::manifest::{self, Resources};
pub use pact_device::manifest::{Manifest, ManifestError};
use pact_toolchain::qmodel::QModel;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Name of the manifest.
pub const MANIFEST_FILE: &str = manifest::FILE;
/// Name of the resource estimate.
pub const ESTIMATE_FILE: &str = "estimate.json";
/// `format` of the manifest.
pub const MANIFEST_FORMAT: &str = manifest::FORMAT;

/// Emission options beyond the accelerator itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenOptions {
    /// Directory written into the `$readmemh` paths. `None` (the default): bare file names, resolved by the
    /// simulator or synthesis tool relative to its working directory (run it in the output directory). Simulating
    /// from elsewhere needs an absolute directory here.
    pub mem_dir: Option<PathBuf>,
    /// For testing the checkers only: a deliberate defect in the design (`None`, the default: none).
    pub fault: Option<InjectedFault>,
    /// The top module's name, also the Verilog file's (`NAME.v`); default `pact_accel`.
    pub top: TopName,
}

/// A deliberate defect in the generated design, **for testing the checkers only**: co-simulation against the
/// golden model must report it. The Verilog's header names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InjectedFault {
    /// Every PACT unit adds 0 instead of 1 before its final halving: round half up becomes round down (a one-bit
    /// change of the rounding constant; [`crate::pact::PactUnit::inject_rounding_fault`]).
    PactRoundingBit,
    /// The top bit of lane 0's weight index in the middle word of the weight ROM file of layer 0, PE 0 is flipped
    /// (not the first or last word, which the ROM's load check reads).
    WeightRomBit,
}

/// What [`generate`] wrote and the figures of the design.
#[derive(Clone, Debug)]
pub struct GenReport {
    /// The output directory.
    pub dir: PathBuf,
    /// Files written (names inside `dir`).
    pub files: Vec<String>,
    /// The plan the design was built from.
    pub plan: Plan,
    /// The top module.
    pub top: TopName,
    /// The Verilog text: the top module (in `dir/NAME.v`, [`GenReport::verilog_file`]) followed by its
    /// submodules (in `dir/NAME_modules.v`, [`GenReport::modules_file`]).
    pub verilog: String,
    /// Lines of Verilog.
    pub verilog_lines: usize,
    /// Seconds to plan, build and emit the design (without writing files).
    pub gen_seconds: f64,
    /// The manifest (also in `dir/manifest.json`).
    pub manifest: Manifest,
}

impl GenReport {
    /// The Verilog file's name inside `dir`: the top module's name with `.v`.
    pub fn verilog_file(&self) -> String {
        self.top.file()
    }

    /// The Verilog library file of the top's submodules inside `dir`: `NAME_modules.v`.
    pub fn modules_file(&self) -> String {
        self.top.modules_file()
    }

    /// A few lines for the command line: files, array and widths, cycles against the formula, memory.
    pub fn summary(&self) -> String {
        let p = &self.plan;
        let m = p.memory();
        let roms = self.files.iter().filter(|f| f.ends_with(".mem")).count();
        let (c, f) = (p.compute_cycles(), p.formula_cycles());
        format!(
            "wrote {}: {} ({} lines, top module `{}`), {roms} weight ROM files, {MANIFEST_FILE}, \
             {ESTIMATE_FILE} (generated in {:.2} s)\narray {} × {} (PE × SIMD), {}; engine widths: activations {} bits, \
             weights {} bits, accumulators {} bits\ncycles per inference: {c} after the last pixel ({} with one \
             pixel per cycle; one image every {} in a stream, {} input buffer(s)); formula Σ⌈M/PE⌉·⌈N/SIMD⌉ = {f} ({:+.2} %)\nmemory: {} bits (weights {} = {:.3} × \
             the {} bits of Σ k_w × parameters; activations {}; constants {})",
            self.dir.display(),
            self.verilog_file(),
            self.verilog_lines,
            self.top,
            self.gen_seconds,
            p.pe,
            p.simd,
            if p.shared_requant {
                "one shared PACT unit"
            } else {
                "a PACT unit per PE"
            },
            p.ka,
            p.kw,
            p.acc,
            p.total_cycles(),
            p.interval_cycles(),
            p.input_buffers,
            100.0 * (c as f64 / f as f64 - 1.0),
            m.total(),
            m.weights,
            m.weights as f64 / m.weights_exact as f64,
            m.weights_exact,
            m.input + m.banks,
            m.requant + m.logits
        )
    }
}

/// Generate the accelerator for `q` with `cfg` into `out_dir` (see [`generate_with`]).
pub fn generate(q: &QModel, cfg: &AccelConfig, out_dir: &Path) -> Result<GenReport, HdlError> {
    generate_with(q, cfg, out_dir, &GenOptions::default())
}

/// The `$readmemh` file name of the weight ROM of layer `l`, PE `p`.
pub fn weight_file(l: usize, p: usize) -> String {
    format!("w{l}_{p}.mem")
}

fn io_err(path: &Path, e: std::io::Error) -> HdlError {
    HdlError::new(format!("{}: {e}", path.display()))
}

/// Plan, build and emit the accelerator for `q` with `cfg`, then write `NAME.v` (the top module, [`GenOptions::top`]), one `w<layer>_<pe>.mem` per
/// weight ROM, `manifest.json` and `estimate.json` into `out_dir`. The files are written into a temporary directory
/// beside `out_dir`, which then replaces it (an existing `out_dir` must be empty or a previous output of this
/// function, i.e. hold a pact-accel manifest). All checks run before anything is written.
pub fn generate_with(q: &QModel, cfg: &AccelConfig, out_dir: &Path, opts: &GenOptions) -> Result<GenReport, HdlError> {
    let t0 = Instant::now();
    let plan = Plan::new(q, cfg)?;
    let prefix = match &opts.mem_dir {
        Some(d) => {
            let s = d.to_string_lossy().into_owned();
            if s.contains('"') || s.contains('\\') {
                return Err(HdlError::new(format!(
                    "memory directory {s} cannot be written into a Verilog string (quote or backslash)"
                )));
            }
            if s.ends_with('/') {
                s
            } else {
                format!("{s}/")
            }
        }
        None => String::new(),
    };
    let files: Vec<Vec<String>> = plan
        .layers
        .iter()
        .enumerate()
        .map(|(l, _)| (0..plan.pe).map(|p| format!("{prefix}{}", weight_file(l, p))).collect())
        .collect();
    let mut top = build(&plan, files)?;
    if opts.fault == Some(InjectedFault::PactRoundingBit) {
        top.inject_rounding_fault();
    }
    let (top_module, submodules) = rename_top(&emit_verilog(&mut top), &opts.top)?;
    let fault = opts
        .fault
        .map(|f| format!("// INJECTED FAULT (testing the checkers only): {f:?}\n"));
    let top_text = format!(
        "{}{}{top_module}",
        header(q, &plan, &opts.top),
        fault.unwrap_or_default()
    );
    let verilog = format!("{top_text}{submodules}");
    let gen_seconds = t0.elapsed().as_secs_f64();
    let verilog_lines = verilog.lines().count();
    let manifest = manifest(q, &plan, &opts.top, verilog_lines);
    let estimate = estimate(&plan);

    // Write everything into a fresh directory beside out_dir, then swap it in.
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        (opts.top.file(), top_text.into_bytes()),
        (opts.top.modules_file(), submodules.into_bytes()),
    ];
    for (l, layer) in plan.layers.iter().enumerate() {
        for (p, block) in layer.weights.iter().enumerate() {
            if !block.index.is_empty() {
                outputs.push((
                    weight_file(l, p),
                    super::mem::WeightMem::mem_file(block, plan.simd).into_bytes(),
                ));
            }
        }
    }
    if opts.fault == Some(InjectedFault::WeightRomBit) {
        if let Some((_, text)) = outputs.iter_mut().find(|(n, _)| *n == weight_file(0, 0)) {
            let mut lines: Vec<String> = String::from_utf8_lossy(text).lines().map(String::from).collect();
            // The top bit of lane 0's index (the low `k_w` bits): a large change of one weight.
            let (mid, bit) = (lines.len() / 2, plan.layers[0].wbits as usize - 1);
            let mid = &mut lines[mid];
            if let Some(pos) = mid.len().checked_sub(1 + bit / 4) {
                let d = mid[pos..pos + 1]
                    .chars()
                    .next()
                    .and_then(|c| c.to_digit(16))
                    .unwrap_or(0)
                    ^ (1 << (bit % 4));
                mid.replace_range(pos..pos + 1, &char::from_digit(d, 16).unwrap_or('0').to_string());
            }
            *text = (lines.join("\n") + "\n").into_bytes();
        }
    }
    outputs.push((MANIFEST_FILE.into(), manifest.to_json().into_bytes()));
    let estimate = serde_json::to_vec_pretty(&estimate).expect("the estimate serializes");
    outputs.push((ESTIMATE_FILE.into(), estimate));
    write_dir(out_dir, &outputs)?;
    Ok(GenReport {
        dir: out_dir.to_path_buf(),
        files: outputs.iter().map(|(n, _)| n.clone()).collect(),
        plan,
        top: opts.top.clone(),
        verilog,
        verilog_lines,
        gen_seconds,
        manifest,
    })
}

/// Replace `dir` by a directory holding exactly `files`, via a temporary directory and renames.
fn write_dir(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), HdlError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| HdlError::new(format!("{}: not a directory name", dir.display())))?
        .to_string_lossy()
        .into_owned();
    if dir.exists() {
        if !dir.is_dir() {
            return Err(HdlError::new(format!(
                "{} exists and is not a directory",
                dir.display()
            )));
        }
        let ours = std::fs::read(dir.join(MANIFEST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(MANIFEST_FORMAT));
        let empty = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?.next().is_none();
        if !ours && !empty {
            return Err(HdlError::new(format!(
                "{} exists and is not an accelerator directory written by pact (no {MANIFEST_FILE}); choose a new or \
                 empty directory",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let tmp = parent.join(format!(".{name}.tmp-{stamp}"));
    std::fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
    let result = (|| {
        for (f, bytes) in files {
            let p = tmp.join(f);
            std::fs::write(&p, bytes).map_err(|e| io_err(&p, e))?;
        }
        if dir.exists() {
            let old = parent.join(format!(".{name}.old-{stamp}"));
            std::fs::rename(dir, &old).map_err(|e| io_err(dir, e))?;
            if let Err(e) = std::fs::rename(&tmp, dir) {
                let _ = std::fs::rename(&old, dir);
                return Err(io_err(dir, e));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(|e| io_err(dir, e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn header(q: &QModel, plan: &Plan, top: &TopName) -> String {
    format!(
        "// pact accelerator for '{}' ({} layers), {} x {} array (PE x SIMD); generated by pact-hdl.\n// Top module: \
         {top}. Weight ROMs are read with $readmemh (see manifest.json); docs/accelerator.md describes the interface.\n",
        q.provenance.source.replace('\n', " "),
        plan.layers.len(),
        plan.pe,
        plan.simd
    )
}

/// The ports of the emitted top: (name, direction, width, meaning).
pub fn ports() -> Vec<(&'static str, &'static str, usize, &'static str)> {
    vec![
        ("clk", "in", 1, "clock, rising edge"),
        ("rst", "in", 1, "synchronous reset of the controller"),
        ("in_valid", "in", 1, "a pixel is offered on in_data"),
        ("in_data", "in", 8, "pixel code, unsigned, C x H x W order"),
        (
            "in_ready",
            "out",
            1,
            "a pixel is taken at the next rising edge if in_valid (low only while every input buffer holds an \
             unfinished image)",
        ),
        ("out_valid", "out", 1, "one-cycle pulse: out_class is the new result"),
        ("out_class", "out", 16, "index of the largest logit (lowest on ties)"),
        (
            "busy",
            "out",
            1,
            "an image is in flight (first accepted pixel to its result)",
        ),
        (
            "done",
            "out",
            1,
            "compute idle after a result (or a debug halt), until the next image starts",
        ),
        ("dbg_stop_en", "in", 1, "halt after layer dbg_stop_layer"),
        ("dbg_stop_layer", "in", 16, "compute layer to halt after"),
        (
            "dbg_sel",
            "in",
            2,
            "debug read source: 0 input, 1 bank A, 2 bank B, 3 logits",
        ),
        ("dbg_lane", "in", 16, "debug read lane (SIMD lane; PE for logits)"),
        ("dbg_addr", "in", 16, "debug read word address"),
        (
            "dbg_data",
            "out",
            32,
            "debug read data, one cycle after the address (memories while the compute is idle)",
        ),
    ]
}

fn manifest(q: &QModel, plan: &Plan, top: &TopName, verilog_lines: usize) -> Manifest {
    let compute = plan.compute_cycles();
    let formula = plan.formula_cycles();
    Manifest {
        format: MANIFEST_FORMAT.into(),
        version: manifest::VERSION,
        top: top.as_str().into(),
        verilog: top.file(),
        verilog_lines,
        model: manifest::ModelInfo {
            source: q.provenance.source.clone(),
            input: plan.input,
            classes: plan.classes,
            layers: q.layers.iter().map(|l| l.name.clone()).collect(),
        },
        config: manifest::Config {
            pe: plan.pe,
            simd: plan.simd,
            target: plan.target.map_or("any", |d| d.name()).into(),
            input_buffers: plan.input_buffers,
            shared_requant: plan.shared_requant,
        },
        ports: ports()
            .into_iter()
            .map(|(n, d, w, m)| manifest::Port {
                name: n.into(),
                direction: d.into(),
                width: w as u32,
                meaning: m.into(),
            })
            .collect(),
        widths: manifest::Widths {
            lane_bits: plan.lane_bits,
            activation_bits: plan.ka,
            weight_bits: plan.kw,
            accumulator_bits: plan.acc,
            output_code_bits: plan.ka_out,
            m0_bits: M0_BITS,
            address_bits: super::mem::ADDR_BITS as u32,
        },
        timing: manifest::Timing {
            pixels_per_image: plan.pixels(),
            compute_cycles: compute as u64,
            total_cycles: plan.total_cycles() as u64,
            interval_cycles: plan.interval_cycles() as u64,
            formula_cycles: formula as u64,
            beat_cycles: plan.beat_cycles() as u64,
            compute_over_formula: compute as f64 / formula as f64,
            array_utilisation: plan.beat_cycles() as f64 / compute as f64,
            latencies: manifest::Latencies {
                array: ARRAY_LATENCY,
                pact: PACT_LATENCY,
                layer_start: timing::LAYER_START,
                codes_drain: timing::CODES_DRAIN + plan.chunks() - 1,
                codes_drain_note: "from the last beat; bubbles after the last beat overlap it".into(),
                logits_drain: plan.logits_drain(),
                finish: timing::FINISH,
            },
            definition: "compute_cycles: rising edges from the one that accepts the last pixel to the one after \
                         which out_valid is high; total_cycles adds one cycle per pixel (the latency from the first \
                         pixel); interval_cycles: cycles per image in a continuous stream, max(pixels, \
                         compute_cycles + 1) with two input buffers, pixels + compute_cycles + 1 with one"
                .into(),
        },
        layers: (0..plan.layers.len()).map(|i| layer_entry(q, plan, i)).collect(),
        memories: memories(plan),
        memory_bits: memory_bits(plan),
        resources: estimate(plan),
    }
}

fn layer_entry(q: &QModel, plan: &Plan, i: usize) -> manifest::Layer {
    let l = &plan.layers[i];
    let input_mode = if l.perlane {
        "per-lane im2col (replicated input)"
    } else {
        "packed words"
    };
    manifest::Layer {
        index: i,
        name: l.name.clone(),
        output_of: q.layers[l.out_qindex].name.clone(),
        kind: l.kind.to_string(),
        outputs: l.m,
        fan_in: l.fan_in,
        positions: l.positions(),
        groups: l.groups,
        beats_per_group: l.beats,
        input_mode: input_mode.into(),
        weight_bits: l.wbits,
        in_bits: l.in_bits,
        out_bits: l.out_bits,
        acc_bits: l.acc_bits,
        pool: l.pool,
        source: l.src.name().into(),
        destination: l.dst.name().into(),
        stored_output: manifest::StoredOutput {
            channels: l.out_layout.c,
            height: l.out_layout.h,
            width: l.out_layout.w,
            words_per_position: l.out_layout.cw,
        },
        beats: l.beat_count(),
        digits: [l.d_a, l.d_w],
        bubbles_per_pass: l.bubbles,
        issue_cycles: l.run_cycles(),
        formula_cycles: l.formula(plan.simd),
        cycles: plan.layer_cycles(i),
        weight_rom_words: l.weights.iter().map(|b| b.index.len() / plan.simd).collect(),
    }
}

fn ram(name: String, count: usize, depth: usize, width: usize, layout: Option<&str>) -> manifest::Memory {
    manifest::Memory {
        name,
        kind: "ram".into(),
        count: Some(count),
        depth,
        width,
        layout: layout.map(String::from),
        file: None,
    }
}

fn memories(plan: &Plan) -> Vec<manifest::Memory> {
    let layout = if plan.input_replicated {
        "replicated C x H x W"
    } else {
        "packed"
    };
    let layout = format!(
        "{layout}; {} buffer(s) of {} words at word offsets of {}",
        plan.input_buffers,
        plan.input_depth,
        plan.input_stride()
    );
    let mut memories = vec![ram(
        "input buffer".into(),
        plan.simd,
        plan.input_ram_depth(),
        8,
        Some(&layout),
    )];
    for (i, b) in [Bank::A, Bank::B].iter().enumerate() {
        let (depth, width) = (plan.bank_depth[i], plan.bank_bits[i] as usize);
        let layout = format!("{} lanes of {width} bits per word, lane 0 in the low bits", plan.simd);
        memories.push(ram(
            format!("bank {}", b.name()),
            1,
            depth,
            plan.simd * width,
            Some(&layout),
        ));
    }
    memories.push(ram("logits".into(), plan.pe, plan.last().groups, 32, None));
    for (l, layer) in plan.layers.iter().enumerate() {
        for (p, b) in layer.weights.iter().enumerate() {
            if !b.index.is_empty() {
                memories.push(manifest::Memory {
                    name: format!("weights {} pe {p}", layer.name),
                    kind: "rom".into(),
                    count: None,
                    depth: b.index.len() / plan.simd,
                    width: plan.simd * b.bits as usize,
                    layout: None,
                    file: Some(weight_file(l, p)),
                });
            }
        }
    }
    memories
}

fn memory_bits(plan: &Plan) -> manifest::MemoryBits {
    let mem = plan.memory();
    manifest::MemoryBits {
        weights: mem.weights as u64,
        weights_exact: mem.weights_exact as u64,
        weights_over_exact: mem.weights as f64 / mem.weights_exact as f64,
        input: mem.input as u64,
        banks: mem.banks as u64,
        logits: mem.logits as u64,
        requant: mem.requant as u64,
        total: mem.total() as u64,
    }
}

/// The pre-synthesis resource estimate (`estimate.json`, and `resources` in the manifest).
pub fn estimate(plan: &Plan) -> Resources {
    let mem = plan.memory();
    let logic = super::autosize::logic_estimate(plan);
    let mults_per_pact = if plan.acc > 16 { 2 } else { 1 };
    let total = mem.total() as u64;
    Resources {
        mac_lanes: (plan.pe * plan.simd) as u64,
        mac_operand_bits: [plan.ka, plan.kw],
        accumulators: plan.pe as u64,
        accumulator_bits: plan.acc,
        pact_units: plan.pact_consts.len() as u64,
        multipliers_16x16: (plan.pact_consts.len() * mults_per_pact) as u64,
        memory_bits: total,
        weight_bits: mem.weights as u64,
        activation_bits: (mem.input + mem.banks) as u64,
        constant_bits: (mem.requant + mem.logits) as u64,
        initialised_bits: (mem.weights + mem.requant) as u64,
        ice40_ebr_4kbit_lower_bound: total.div_ceil(4096),
        ice40_brams: ice40_brams(plan, false),
        ecp5_ebr_18kbit_lower_bound: total.div_ceil(18432),
        macs_per_inference: plan
            .layers
            .iter()
            .map(|l| l.m * l.fan_in * l.positions())
            .sum::<usize>() as u64,
        hard_multipliers: logic.dsps,
        lut4_estimate: logic.luts,
        ff_estimate: logic.ffs,
    }
}

/// The iCE40 block RAMs of the design in a board top-level, memory by memory as yosys maps them
/// ([`pact_device::fit::ice40_ram_tiles`]): the input buffer's `simd` lane RAMs, the two banks (one memory each),
/// the weight ROMs, and the PACT units' and the logit unit's constant ROMs. A ROM counts only its bit columns that
/// are not the same in every word (yosys removes the constant ones before mapping: the weights of a padding lane,
/// for instance). `debug`: the debug port is used (the accelerator synthesized as its own top); a board top-level
/// ties it off, so the logit RAMs, which only it reads, are not built (what `estimate.json` counts).
pub fn ice40_brams(plan: &Plan, debug: bool) -> u64 {
    use pact_device::fit::ice40_ram_tiles as tiles;
    let u = |x: usize| x as u64;
    let rom = |words: &[u64], width: u32| tiles(u(words.len()), live_columns(words, width), true);
    let input = u(plan.simd) * tiles(u(plan.input_ram_depth()), 8, false);
    let banks: u64 = (0..2)
        .map(|i| tiles(u(plan.bank_depth[i]), u(plan.simd * plan.bank_bits[i] as usize), false))
        .sum();
    let weights: u64 = plan
        .layers
        .iter()
        .flat_map(|l| l.weights.iter())
        .filter(|b| !b.index.is_empty())
        .map(|b| {
            let words: Vec<u64> = b
                .index
                .chunks(plan.simd)
                .map(|w| w.iter().rev().fold(0u64, |acc, &i| acc << b.bits | u64::from(i)))
                .collect();
            if plan.simd * b.bits as usize <= 64 {
                rom(&words, plan.simd as u32 * b.bits)
            } else {
                // Wider than a u64 word: every column counted (at most an over-count).
                tiles(u(words.len()), u(plan.simd * b.bits as usize), true)
            }
        })
        .sum();
    let acc = plan.acc;
    let signed = |x: i64| (x as u64) & ((1u64 << acc) - 1);
    let pact: u64 = plan
        .pact_consts
        .iter()
        .map(|c| {
            let m0: Vec<u64> = c.iter().map(|k| u64::from(k.m0)).collect();
            let sh: Vec<u64> = c.iter().map(|k| u64::from(k.shift) - 1).collect();
            let bias: Vec<u64> = c.iter().map(|k| signed(k.bias)).collect();
            rom(&m0, 16) + rom(&sh, 6) + rom(&bias, acc)
        })
        .sum();
    let logit_bias: u64 = plan
        .logit_bias
        .iter()
        .map(|b| rom(&b.iter().map(|&x| signed(x)).collect::<Vec<_>>(), acc))
        .sum();
    let logit_ram = if debug {
        u(plan.pe) * tiles(u(plan.last().groups), 32, false)
    } else {
        0
    };
    input + banks + weights + pact + logit_bias + logit_ram
}

/// Bit columns of `width`-bit `words` that are not the same in every word.
fn live_columns(words: &[u64], width: u32) -> u64 {
    let (mut ones, mut zeros) = (0u64, 0u64);
    for &w in words {
        ones |= w;
        zeros |= !w;
    }
    u64::from((ones & zeros & crate::widths::low_mask(width)).count_ones())
}

/// What the fit rule ([`pact_device::check_fit`]) checks for a plan: the estimate's figures, the same `pact synth`
/// reads back from the manifest.
pub fn fit_estimate(plan: &Plan) -> pact_device::Estimate {
    estimate(plan).estimate()
}
