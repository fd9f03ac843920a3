//! The flow driver: sources → (board top-level) → yosys → nextpnr → icepack/ecppack → report, with atomic
//! outputs.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::board::{write_board_sources, AccelPorts, Shell, DEFAULT_BAUD};
use crate::error::{Result, SynthError};
use crate::estimate::{check_fit, read_manifest, Estimate, ManifestInfo};
use crate::report::{
    parse_nextpnr_log, parse_nextpnr_report, parse_yosys_stat, BitstreamInfo, CellCounts, Percent, StageTime,
    SynthReport,
};
use crate::target::{Board, Target};
use crate::tools::{find_tools, version_line, Stage, ToolSearch, ToolSet};

/// Whether yosys may map multipliers to the hard DSP blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DspMode {
    /// Use them; if synthesis maps more multipliers than the device has, synthesize again without them.
    #[default]
    Auto,
    /// Always (`synth_ice40 -dsp`; `synth_ecp5` default).
    On,
    /// Never (multipliers in LUTs; `synth_ecp5 -nodsp`).
    Off,
}

/// Everything a run needs. [`SynthOptions::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Directory with the design's Verilog (`*.v`, `*.sv`, `*.vh`, `*.svh`) and the files it reads with
    /// `$readmemh` (everything in it is copied; `$readmemh` paths are relative to it). A `manifest.json` in it
    /// is read for the top module, ports, estimate and cycle count.
    pub sources: PathBuf,
    /// The design's top module (the accelerator). `None`: the manifest's `top`.
    pub top: Option<String>,
    /// The FPGA.
    pub target: Target,
    /// Wrap the design in this board's top-level (UART, PLL, reset) and use its constraint file.
    pub board: Option<Board>,
    /// The design clock, MHz: nextpnr's `--freq`, and the PLL's target on a board.
    pub freq_mhz: f64,
    /// Output directory (created if needed).
    pub out_dir: PathBuf,
    /// nextpnr placer seed (fixed, so that runs are reproducible).
    pub seed: u64,
    /// Pre-synthesis estimate; overrides the manifest's.
    pub estimate: Option<Estimate>,
    /// Run the tools even if the estimate says the design cannot fit (the check after synthesis still runs).
    pub skip_fit_check: bool,
    /// The accelerator's port names; override the manifest's (defaults: [`AccelPorts::with_module`]).
    pub ports: Option<AccelPorts>,
    /// UART rate of the board top-level.
    pub baud: u32,
    /// Hard multiplier use.
    pub dsp: DspMode,
    /// Fail (no bitstream) when timing is not met at `freq_mhz`, instead of reporting the shortfall.
    pub strict_timing: bool,
    /// Where tools are looked for (`PATH` syntax); `None`: the process's `PATH`.
    pub tool_path: Option<OsString>,
    /// The YoWASP venv for ECP5; `None`: [`crate::tools::default_yowasp_venv`].
    pub yowasp_venv: Option<PathBuf>,
    /// Create the YoWASP venv (pip, from PyPI) on first ECP5 use.
    pub setup_yowasp: bool,
    /// Show a spinner per stage and a line when it ends (stderr).
    pub progress: bool,
    /// Kill a tool that runs longer than this.
    pub stage_timeout: Duration,
}

impl SynthOptions {
    /// Options with the defaults: top from the manifest, no board, 48 MHz, seed 1, 115 200 baud, automatic
    /// DSP use, timing failures reported (not fatal), the process's `PATH`, YoWASP set up on first use, no
    /// progress output, one hour per stage.
    pub fn new(sources: impl Into<PathBuf>, target: Target, out_dir: impl Into<PathBuf>) -> Self {
        SynthOptions {
            sources: sources.into(),
            top: None,
            target,
            board: None,
            freq_mhz: 48.0,
            out_dir: out_dir.into(),
            seed: 1,
            estimate: None,
            skip_fit_check: false,
            ports: None,
            baud: DEFAULT_BAUD,
            dsp: DspMode::Auto,
            strict_timing: false,
            tool_path: None,
            yowasp_venv: None,
            setup_yowasp: true,
            progress: false,
            stage_timeout: Duration::from_secs(3600),
        }
    }
}

/// Names of the files a successful run leaves in the output directory, besides the bitstream
/// (`<top>.bin` / `<top>.bit`) and the netlist / placed design (`<top>.json`, `<top>.asc` / `<top>.config`).
pub const REPORT_FILE: &str = "report.json";
/// The human summary.
pub const SUMMARY_FILE: &str = "summary.txt";
/// Where a failed run keeps its logs (inside the output directory).
pub const FAILED_DIR: &str = "failed";

/// A temporary directory inside the output directory, removed on drop.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const WORK_PREFIX: &str = ".pact-synth-";

/// Remove work directories of runs whose process is gone (a killed run leaves one behind).
fn clean_stale(out_dir: &Path) {
    let Ok(rd) = std::fs::read_dir(out_dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(WORK_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn copy_tree(from: &Path, to: &Path, skip: &Path, files: &mut Vec<PathBuf>, rel: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| SynthError::io(format!("creating {}", to.display()), e))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| SynthError::io(format!("reading {}", from.display()), e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') || same_path(&p, skip) {
            continue;
        }
        let ft = e
            .file_type()
            .map_err(|er| SynthError::io(format!("reading {}", p.display()), er))?;
        if ft.is_dir() {
            copy_tree(&p, &to.join(&name), skip, files, &rel.join(&name))?;
        } else if ft.is_file() || ft.is_symlink() && p.is_file() {
            std::fs::copy(&p, to.join(&name)).map_err(|er| SynthError::io(format!("copying {}", p.display()), er))?;
            files.push(rel.join(&name));
        }
    }
    Ok(())
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn is_verilog(p: &Path) -> bool {
    matches!(p.extension().and_then(OsStr::to_str), Some("v" | "sv"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Run the whole flow. On success the output directory holds the bitstream, `report.json` (written last),
/// `summary.txt`, each stage's log, the netlist and the placed design; nothing of an earlier run's results is
/// left that this run did not replace. On failure it holds `failed/` (the logs and `error.txt`) and no
/// bitstream or report: an earlier run's are removed, so that nothing looks finished.
pub fn run(opts: &SynthOptions) -> Result<SynthReport> {
    // ---- Checks that need no tool. ----
    if !(opts.freq_mhz > 0.0 && opts.freq_mhz < 2000.0) {
        return Err(SynthError::Invalid(format!(
            "--freq {} MHz is out of range (0, 2000)",
            opts.freq_mhz
        )));
    }
    if let Some(b) = opts.board {
        if !b.supports(opts.target) {
            return Err(SynthError::Invalid(format!(
                "board {b} does not carry the {} (it has the {})",
                opts.target,
                b.default_target()
            )));
        }
    }
    if !opts.sources.is_dir() {
        return Err(SynthError::Invalid(format!(
            "source directory {} does not exist",
            opts.sources.display()
        )));
    }
    let manifest_path = opts.sources.join("manifest.json");
    let manifest = if manifest_path.is_file() {
        read_manifest(&manifest_path)?
    } else {
        ManifestInfo::default()
    };
    let design_top = opts.top.clone().or_else(|| manifest.top.clone()).ok_or_else(|| {
        SynthError::Invalid(format!(
            "no top module: give one, or put a manifest.json with `top` in {}",
            opts.sources.display()
        ))
    })?;
    let estimate = opts.estimate.clone().or_else(|| manifest.estimate.clone());
    if let (Some(e), false) = (&estimate, opts.skip_fit_check) {
        check_fit(opts.target, e).map_err(|fit| SynthError::DoesNotFit {
            target: opts.target.to_string(),
            part: opts.target.part().to_string(),
            detail: format!(
                "{} (pre-synthesis estimate; nothing was run; the checks are lower bounds, which --force skips)",
                fit.problems.join("; ")
            ),
        })?;
    }
    let ports = match (&opts.ports, &manifest.ports) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => AccelPorts {
            module: design_top.clone(),
            ..p.clone()
        },
        (None, None) => AccelPorts::with_module(&design_top),
    };

    if let (Some(b), Some(c)) = (opts.board, manifest.classes) {
        if c > 256 {
            return Err(SynthError::Invalid(format!(
                "the model has {c} classes; the {b} top-level sends the class index as one byte (at most 256)"
            )));
        }
    }

    // ---- Tools. ----
    let tools = find_tools(
        opts.target,
        &ToolSearch {
            path: opts.tool_path.clone(),
            yowasp_venv: opts.yowasp_venv.clone(),
            setup_yowasp: opts.setup_yowasp,
        },
    )?;

    // ---- Work directory inside the output directory. ----
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).map_err(|e| SynthError::io(format!("creating {}", out.display()), e))?;
    clean_stale(out);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let work = WorkDir(out.join(format!("{WORK_PREFIX}{}-{nanos}", std::process::id())));
    let src = work.0.join("src");
    let mut files = Vec::new();
    copy_tree(&opts.sources, &src, out, &mut files, Path::new(""))?;
    if !files.iter().any(|f| is_verilog(f)) {
        return Err(SynthError::Invalid(format!(
            "no Verilog files (*.v, *.sv) in {}",
            opts.sources.display()
        )));
    }

    let result = run_in(
        opts,
        &tools,
        &work.0,
        &src,
        files,
        &design_top,
        &ports,
        estimate,
        &manifest,
    );
    match result {
        Ok((report, outputs)) => {
            publish(out, &work.0, &outputs)?;
            Ok(report)
        }
        Err(e) => {
            keep_failure(out, &work.0, &e);
            Err(e)
        }
    }
}

/// Files to move from the work directory to the output directory: (name in work, name in out).
type Outputs = Vec<(PathBuf, String)>;

#[allow(clippy::too_many_arguments)]
fn run_in(
    opts: &SynthOptions,
    tools: &ToolSet,
    work: &Path,
    src: &Path,
    mut files: Vec<PathBuf>,
    design_top: &str,
    ports: &AccelPorts,
    estimate: Option<Estimate>,
    manifest: &ManifestInfo,
) -> Result<(SynthReport, Outputs)> {
    // (`estimate` is moved into the report at the end.)
    let target = opts.target;
    let failed = opts.out_dir.join(FAILED_DIR);
    let mut outputs: Outputs = Vec::new();
    let mut stages = Vec::new();

    // ---- Board top-level and constraints. ----
    let (top, clock_mhz, constraint) = match opts.board {
        Some(board) => {
            let bs = write_board_sources(src, Shell::from(board), opts.freq_mhz, opts.baud, ports)
                .map_err(SynthError::Invalid)?;
            for f in &bs.files {
                files.push(PathBuf::from(f));
                outputs.push((src.join(f), format!("board/{f}")));
            }
            let (name, text) = board.constraints();
            let cpath = work.join(name);
            std::fs::write(&cpath, text).map_err(|e| SynthError::io(format!("writing {}", cpath.display()), e))?;
            outputs.push((cpath, name.to_string()));
            (bs.top, bs.clock_mhz, Some(name.to_string()))
        }
        None => (design_top.to_string(), opts.freq_mhz, None),
    };
    if opts.progress {
        eprintln!(
            "pact synth: {top} for {} ({}) at {clock_mhz:.2} MHz, {} source files",
            target,
            target.part(),
            files.len()
        );
    }

    // ---- yosys. ----
    let verilog: Vec<String> = files
        .iter()
        .filter(|f| is_verilog(f))
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let totals = target.totals();
    let family = target.family();
    let synth_cmd = |dsp: bool| {
        format!(
            "{} -top {top}{} -json ../netlist.json",
            family.synth_command(),
            family.dsp_option(dsp)
        )
    };
    let run_yosys = |dsp: bool, log_name: &str| -> Result<(f64, CellCounts)> {
        let script = format!(
            "# pact-synth: {} for {}\nread_verilog -sv {}\n{}\ntee -q -o ../stat.json stat -json\n",
            top,
            target.part(),
            verilog.join(" "),
            synth_cmd(dsp)
        );
        std::fs::write(work.join("synth.ys"), &script)
            .map_err(|e| SynthError::io(format!("writing {}", work.join("synth.ys").display()), e))?;
        let secs = Stage {
            name: "yosys",
            title: format!("yosys ({})", family.synth_command()),
            program: &tools.yosys,
            args: vec!["-s".into(), "../synth.ys".into()],
            cwd: src,
            log: work.join(log_name),
            failed_log: failed.join(log_name),
            progress: opts.progress,
            timeout: opts.stage_timeout,
        }
        .run()?;
        let stat = std::fs::read_to_string(work.join("stat.json"))
            .map_err(|e| SynthError::io("reading yosys' stat.json", e))?;
        let cells = parse_yosys_stat(&stat, &top).map_err(SynthError::Invalid)?;
        Ok((secs, cells))
    };
    let mut dsp_mapping = opts.dsp != DspMode::Off;
    if let (DspMode::Auto, Some(m)) = (opts.dsp, estimate.as_ref().and_then(|e| e.multipliers)) {
        if m > totals.dsps as u64 {
            if opts.progress {
                eprintln!(
                    "  {m} multipliers (estimate) but {} DSPs on the device: multipliers in LUTs",
                    totals.dsps
                );
            }
            dsp_mapping = false;
        }
    }
    let (secs, mut cells) = run_yosys(dsp_mapping, "yosys.log")?;
    stages.push(StageTime {
        stage: "yosys".into(),
        seconds: secs,
        log: "yosys.log".into(),
    });
    outputs.push((work.join("yosys.log"), "yosys.log".into()));
    if opts.dsp == DspMode::Auto && cells.dsps > totals.dsps {
        if opts.progress {
            eprintln!(
                "  {} multipliers mapped to DSPs but the device has {}: synthesizing again with multipliers in LUTs",
                cells.dsps, totals.dsps
            );
        }
        dsp_mapping = false;
        let (secs, c) = run_yosys(false, "yosys-nodsp.log")?;
        cells = c;
        stages.push(StageTime {
            stage: "yosys-nodsp".into(),
            seconds: secs,
            log: "yosys-nodsp.log".into(),
        });
        outputs.push((work.join("yosys-nodsp.log"), "yosys-nodsp.log".into()));
    }
    outputs.push((work.join("synth.ys"), "synth.ys".into()));
    check_cells(target, &cells)?;

    // ---- nextpnr. ----
    let placed = format!("placed.{}", family.placed_ext());
    let spec = target.spec();
    let mut args: Vec<OsString> = vec![spec.nextpnr_device.into(), "--package".into(), spec.package.into()];
    match (&constraint, family.unconstrained_flag()) {
        (Some(c), _) => args.extend([family.constraint_flag().into(), c.into()]),
        (None, Some(flag)) => args.push(flag.into()),
        (None, None) => {}
    }
    args.extend([family.placed_flag().into(), (&placed).into()]);
    args.extend([
        "--json".into(),
        "netlist.json".into(),
        "--freq".into(),
        format!("{}", opts.freq_mhz).into(),
        "--seed".into(),
        opts.seed.to_string().into(),
        "--report".into(),
        "nextpnr-report.json".into(),
    ]);
    if !opts.strict_timing {
        args.push("--timing-allow-fail".into());
    }
    let secs = Stage {
        name: "nextpnr",
        title: format!("{} ({})", family.nextpnr(), target.part()),
        program: &tools.nextpnr,
        args,
        cwd: work,
        log: work.join("nextpnr.log"),
        failed_log: failed.join("nextpnr.log"),
        progress: opts.progress,
        timeout: opts.stage_timeout,
    }
    .run()?;
    stages.push(StageTime {
        stage: "nextpnr".into(),
        seconds: secs,
        log: "nextpnr.log".into(),
    });
    let pnr_log = std::fs::read_to_string(work.join("nextpnr.log")).unwrap_or_default();
    let mut pnr = std::fs::read_to_string(work.join("nextpnr-report.json"))
        .ok()
        .and_then(|j| parse_nextpnr_report(&j).ok())
        .unwrap_or_default();
    let from_log = parse_nextpnr_log(&pnr_log);
    if pnr.utilisation.is_empty() {
        pnr.utilisation = from_log.utilisation;
    }
    if pnr.clocks.is_empty() {
        pnr.clocks = from_log.clocks;
    }

    // ---- Pack. ----
    let ext = family.bitstream_ext();
    let bit_name = format!("{top}.{ext}");
    let pack_log = format!("{}.log", family.packer());
    let secs = Stage {
        name: "pack",
        title: family.packer().into(),
        program: &tools.pack,
        args: vec![(&placed).into(), format!("bitstream.{ext}").into()],
        cwd: work,
        log: work.join(&pack_log),
        failed_log: failed.join(&pack_log),
        progress: opts.progress,
        timeout: opts.stage_timeout,
    }
    .run()?;
    stages.push(StageTime {
        stage: "pack".into(),
        seconds: secs,
        log: pack_log.clone(),
    });
    let bits =
        std::fs::read(work.join(format!("bitstream.{ext}"))).map_err(|e| SynthError::io("reading the bitstream", e))?;
    if bits.is_empty() {
        return Err(SynthError::Invalid(format!(
            "{pack_log}: the packer wrote an empty bitstream"
        )));
    }

    // ---- Report. ----
    let mut tool_versions = std::collections::BTreeMap::new();
    let ylog = std::fs::read_to_string(work.join("yosys.log")).unwrap_or_default();
    if let Some(l) = ylog.lines().find(|l| l.contains("Yosys 0.") || l.contains("Yosys 1.")) {
        tool_versions.insert(
            "yosys".to_string(),
            l.trim_matches(|c: char| c == '|' || c.is_whitespace()).to_string(),
        );
    }
    if let Some(v) = version_line(&tools.nextpnr, "--version") {
        tool_versions.insert("nextpnr".to_string(), v);
    }
    let logic_cells = pnr
        .utilisation
        .iter()
        .find(|u| u.bel == family.logic_cell_bel())
        .map(|u| u.used);
    let lc_total = pnr
        .utilisation
        .iter()
        .find(|u| u.bel == family.logic_cell_bel())
        .map(|u| u.available)
        .unwrap_or(totals.luts);
    let pct = |used: u32, total: u32| {
        if total == 0 {
            0.0
        } else {
            100.0 * used as f64 / total as f64
        }
    };
    let fmax = pnr.clocks.iter().map(|c| c.fmax_mhz).fold(f64::INFINITY, f64::min);
    let fmax = if fmax.is_finite() { fmax } else { 0.0 };
    let run_mhz = fmax.min(clock_mhz);
    let cycles = manifest.cycles_per_inference;
    let inferences_per_s = cycles
        .filter(|&c| c > 0 && run_mhz > 0.0)
        .map(|c| run_mhz * 1e6 / c as f64);
    let macs_per_s = inferences_per_s.and_then(|i| manifest.macs_per_inference.map(|m| i * m as f64));
    let report = SynthReport {
        schema: 1,
        tool: format!("pact-synth {}", env!("CARGO_PKG_VERSION")),
        target,
        part: target.part().to_string(),
        board: opts.board.map(|b| b.to_string()),
        top: top.clone(),
        design_top: design_top.to_string(),
        freq_mhz: opts.freq_mhz,
        clock_mhz,
        fmax_mhz: fmax,
        timing_met: fmax > 0.0 && fmax + 1e-9 >= clock_mhz,
        clocks: pnr.clocks.clone(),
        luts: cells.luts,
        ffs: cells.ffs,
        brams: cells.brams,
        dsps: cells.dsps,
        carries: cells.carries,
        sprams: cells.sprams,
        logic_cells,
        device: totals,
        percent: Percent {
            luts: pct(cells.luts, totals.luts),
            ffs: pct(cells.ffs, totals.ffs),
            brams: pct(cells.brams, totals.brams),
            dsps: pct(cells.dsps, totals.dsps),
            logic_cells: logic_cells.map(|l| pct(l, lc_total)),
        },
        dsp_mapping,
        cells: cells.by_type.clone(),
        utilisation: pnr.utilisation.clone(),
        estimate,
        cycles_per_inference: cycles,
        inferences_per_s,
        macs_per_s,
        bitstream: BitstreamInfo {
            file: bit_name.clone(),
            bytes: bits.len() as u64,
            sha256: sha256_hex(&bits),
        },
        seed: opts.seed,
        stages,
        tool_versions,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| SynthError::Invalid(format!("report: {e}")))?;
    let write = |name: &str, text: &str| {
        std::fs::write(work.join(name), text).map_err(|e| SynthError::io(format!("writing {name}"), e))
    };
    write(REPORT_FILE, &(json + "\n"))?;
    write(SUMMARY_FILE, &report.summary())?;
    if opts.progress {
        eprint!("{}", report.summary());
    }
    outputs.extend([
        (work.join("nextpnr.log"), "nextpnr.log".to_string()),
        (work.join(&pack_log), pack_log.clone()),
        (work.join("nextpnr-report.json"), "nextpnr-report.json".to_string()),
        (work.join("netlist.json"), format!("{top}.json")),
        (work.join(&placed), format!("{top}.{}", family.placed_ext())),
        (work.join(format!("bitstream.{ext}")), bit_name),
        (work.join(SUMMARY_FILE), SUMMARY_FILE.to_string()),
        // Last: its presence means the run finished.
        (work.join(REPORT_FILE), REPORT_FILE.to_string()),
    ]);
    Ok((report, outputs))
}

/// Refuse after synthesis a netlist that needs more cells than the device has (nextpnr would fail later with
/// a less direct message).
fn check_cells(target: Target, c: &CellCounts) -> Result<()> {
    let d = target.totals();
    let mut over = Vec::new();
    for (what, used, avail) in [
        ("LUT4", c.luts, d.luts),
        ("flip-flops", c.ffs, d.ffs),
        ("block RAMs", c.brams, d.brams),
        ("DSPs", c.dsps, d.dsps),
        ("SPRAMs", c.sprams, d.sprams),
    ] {
        if used > avail {
            over.push(format!("{used} {what} after synthesis, {avail} on the device"));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(SynthError::DoesNotFit {
            target: target.to_string(),
            part: target.part().to_string(),
            detail: format!("{} (yosys counts; see yosys.log)", over.join("; ")),
        })
    }
}

/// Move the finished files into the output directory: first remove the old `report.json` (so that, until this
/// run's is in place, the directory does not look finished), then everything else, then `report.json`.
fn publish(out: &Path, work: &Path, outputs: &Outputs) -> Result<()> {
    let _ = std::fs::remove_file(out.join(REPORT_FILE));
    let _ = std::fs::remove_dir_all(out.join(FAILED_DIR));
    for (from, to) in outputs {
        let dest = out.join(to);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SynthError::io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::rename(from, &dest)
            .map_err(|e| SynthError::io(format!("moving {} to {}", from.display(), dest.display()), e))?;
    }
    let _ = work;
    Ok(())
}

/// After a failure: remove an earlier run's report and bitstreams from the output directory and keep this
/// run's logs in `failed/` with `error.txt`.
fn keep_failure(out: &Path, work: &Path, err: &SynthError) {
    let _ = std::fs::remove_file(out.join(REPORT_FILE));
    if let Ok(rd) = std::fs::read_dir(out) {
        for e in rd.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(OsStr::to_str), Some("bin" | "bit")) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let failed = out.join(FAILED_DIR);
    let _ = std::fs::remove_dir_all(&failed);
    if std::fs::create_dir_all(&failed).is_err() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(work) {
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") || name == "synth.ys" {
                let _ = std::fs::rename(&p, failed.join(&name));
            }
        }
    }
    let _ = std::fs::write(failed.join("error.txt"), format!("{err}\n"));
}
