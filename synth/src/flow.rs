//! The flow driver: sources → (board top-level) → yosys → nextpnr → icepack/ecppack → report, with atomic
//! outputs.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::board::{write_board_sources, AccelPorts, Shell, DEFAULT_BAUD};
use crate::error::{Result, SynthError};
use crate::estimate::{check_fit, read_manifest, Estimate, ManifestInfo};
use crate::report::{
    parse_nextpnr_log, parse_nextpnr_report, parse_yosys_stat, BitstreamInfo, CellCounts, Percent, PnrFigures,
    StageTime, SynthReport,
};
use crate::target::{Board, Family, Target};
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
    check_options(opts)?;
    let design = read_design(opts)?;
    let tools = find_tools(
        opts.target,
        &ToolSearch {
            path: opts.tool_path.clone(),
            yowasp_venv: opts.yowasp_venv.clone(),
            setup_yowasp: opts.setup_yowasp,
        },
    )?;
    // The work directory inside the output directory.
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
    let run = Run {
        opts,
        tools,
        design,
        family: opts.target.family(),
        work: work.0.clone(),
        src,
        failed: out.join(FAILED_DIR),
        files,
        outputs: Vec::new(),
        stages: Vec::new(),
    };
    match run.execute() {
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

/// The checks of the options alone: clock range, board against target, source directory.
fn check_options(opts: &SynthOptions) -> Result<()> {
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
    Ok(())
}

/// The design from the options and its manifest (if any): top module, ports, estimate; refused here when the fit
/// rule says it cannot fit (unless skipped) or when a board cannot send its class index.
fn read_design(opts: &SynthOptions) -> Result<Design> {
    let manifest_path = opts.sources.join("manifest.json");
    let manifest = if manifest_path.is_file() {
        read_manifest(&manifest_path)?
    } else {
        ManifestInfo::default()
    };
    let top = opts.top.clone().or_else(|| manifest.top.clone()).ok_or_else(|| {
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
            module: top.clone(),
            ..p.clone()
        },
        (None, None) => AccelPorts::with_module(&top),
    };
    if let (Some(b), Some(c)) = (opts.board, manifest.classes) {
        if c > 256 {
            return Err(SynthError::Invalid(format!(
                "the model has {c} classes; the {b} top-level sends the class index as one byte (at most 256)"
            )));
        }
    }
    Ok(Design {
        top,
        ports,
        estimate,
        manifest,
    })
}

/// Files to move from the work directory to the output directory: (name in work, name in out).
type Outputs = Vec<(PathBuf, String)>;

/// What the checks that need no tool settled: the design's top module, its interface, its estimate and what the
/// manifest says about it.
struct Design {
    top: String,
    ports: AccelPorts,
    estimate: Option<Estimate>,
    manifest: ManifestInfo,
}

/// One run in its work directory: the request, the tools, and what the stages have produced so far.
struct Run<'a> {
    opts: &'a SynthOptions,
    tools: ToolSet,
    design: Design,
    family: Family,
    /// The work directory (inside the output directory).
    work: PathBuf,
    /// The copied sources (`work/src`).
    src: PathBuf,
    /// Where the logs go on failure.
    failed: PathBuf,
    /// Source files, relative to `src`.
    files: Vec<PathBuf>,
    outputs: Outputs,
    stages: Vec<StageTime>,
}

/// The board top-level, if any: the module to synthesize, the clock it gives the design, the constraint file.
struct Top {
    name: String,
    clock_mhz: f64,
    constraint: Option<String>,
}

/// What synthesis gave: yosys' cell counts and whether multipliers went to DSPs.
struct Netlist {
    cells: CellCounts,
    dsp_mapping: bool,
}

impl Run<'_> {
    /// Every stage after the copy, in order.
    fn execute(mut self) -> Result<(SynthReport, Outputs)> {
        let top = self.board_top()?;
        if self.opts.progress {
            let t = self.opts.target;
            eprintln!(
                "pact synth: {} for {t} ({}) at {:.2} MHz, {} source files",
                top.name,
                t.part(),
                top.clock_mhz,
                self.files.len()
            );
        }
        let netlist = self.synthesize(&top.name)?;
        check_cells(self.opts.target, &netlist.cells)?;
        let pnr = self.place_and_route(&top)?;
        let bits = self.pack()?;
        let report = self.report(&top, netlist, pnr, &bits);
        self.write_report(&top.name, &report)?;
        Ok((report, self.outputs))
    }

    /// A stage's program run in `cwd` with its log; returns the seconds it took.
    fn stage(&self, name: &'static str, title: String, program: &Path, args: Vec<OsString>, log: &str) -> Result<f64> {
        Stage {
            name,
            title,
            program,
            args,
            // yosys reads the sources (and their `$readmemh` files) from where they are.
            cwd: if name == "yosys" { &self.src } else { &self.work },
            log: self.work.join(log),
            failed_log: self.failed.join(log),
            progress: self.opts.progress,
            timeout: self.opts.stage_timeout,
        }
        .run()
    }

    fn record(&mut self, stage: &str, seconds: f64, log: &str) {
        self.stages.push(StageTime {
            stage: stage.into(),
            seconds,
            log: log.into(),
        });
    }

    /// With a board: write its top-level and constraint file; without: the design's top at the requested clock.
    fn board_top(&mut self) -> Result<Top> {
        let Some(board) = self.opts.board else {
            return Ok(Top {
                name: self.design.top.clone(),
                clock_mhz: self.opts.freq_mhz,
                constraint: None,
            });
        };
        let o = self.opts;
        let bs = write_board_sources(&self.src, Shell::from(board), o.freq_mhz, o.baud, &self.design.ports)
            .map_err(SynthError::Invalid)?;
        for f in &bs.files {
            self.files.push(PathBuf::from(f));
            self.outputs.push((self.src.join(f), format!("board/{f}")));
        }
        let (name, text) = board.constraints();
        let cpath = self.work.join(name);
        std::fs::write(&cpath, text).map_err(|e| SynthError::io(format!("writing {}", cpath.display()), e))?;
        self.outputs.push((cpath, name.to_string()));
        Ok(Top {
            name: bs.top,
            clock_mhz: bs.clock_mhz,
            constraint: Some(name.to_string()),
        })
    }

    /// Whether to start with multipliers in DSPs: not with `--dsp off`, nor (automatic mode) when the estimate
    /// already has more multipliers than the device has DSPs.
    fn start_with_dsps(&self) -> bool {
        let dsps = self.opts.target.totals().dsps;
        let estimated = self.design.estimate.as_ref().and_then(|e| e.multipliers);
        match (self.opts.dsp, estimated) {
            (DspMode::Off, _) => false,
            (DspMode::Auto, Some(m)) if m > u64::from(dsps) => {
                if self.opts.progress {
                    eprintln!("  {m} multipliers (estimate) but {dsps} DSPs on the device: multipliers in LUTs");
                }
                false
            }
            _ => true,
        }
    }

    /// yosys, again without DSPs if it mapped more multipliers than the device has (automatic mode).
    fn synthesize(&mut self, top: &str) -> Result<Netlist> {
        let mut dsp_mapping = self.start_with_dsps();
        let mut cells = self.yosys(top, dsp_mapping, "yosys")?;
        self.outputs.push((self.work.join("yosys.log"), "yosys.log".into()));
        let dsps = self.opts.target.totals().dsps;
        if self.opts.dsp == DspMode::Auto && cells.dsps > dsps {
            if self.opts.progress {
                eprintln!(
                    "  {} multipliers mapped to DSPs but the device has {dsps}: synthesizing again with multipliers \
                     in LUTs",
                    cells.dsps
                );
            }
            dsp_mapping = false;
            cells = self.yosys(top, false, "yosys-nodsp")?;
            self.outputs
                .push((self.work.join("yosys-nodsp.log"), "yosys-nodsp.log".into()));
        }
        self.outputs.push((self.work.join("synth.ys"), "synth.ys".into()));
        Ok(Netlist { cells, dsp_mapping })
    }

    /// One yosys run (stage and log named `stage`): the script, the run, the cell counts.
    fn yosys(&mut self, top: &str, dsp: bool, stage: &str) -> Result<CellCounts> {
        let verilog: Vec<String> = self
            .files
            .iter()
            .filter(|f| is_verilog(f))
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        let script = format!(
            "# pact-synth: {top} for {}\nread_verilog -sv {}\n{} -top {top}{} -json ../netlist.json\ntee -q -o \
             ../stat.json stat -json\n",
            self.opts.target.part(),
            verilog.join(" "),
            self.family.synth_command(),
            self.family.dsp_option(dsp)
        );
        let ys = self.work.join("synth.ys");
        std::fs::write(&ys, &script).map_err(|e| SynthError::io(format!("writing {}", ys.display()), e))?;
        let log = format!("{stage}.log");
        let title = format!("yosys ({})", self.family.synth_command());
        let secs = self.stage(
            "yosys",
            title,
            &self.tools.yosys,
            vec!["-s".into(), "../synth.ys".into()],
            &log,
        )?;
        self.record(stage, secs, &log);
        let stat = std::fs::read_to_string(self.work.join("stat.json"))
            .map_err(|e| SynthError::io("reading yosys' stat.json", e))?;
        parse_yosys_stat(&stat, top).map_err(SynthError::Invalid)
    }

    /// The placed design's file name in the work directory.
    fn placed(&self) -> String {
        format!("placed.{}", self.family.placed_ext())
    }

    /// nextpnr's arguments: device, package, constraints, outputs, clock, seed.
    fn nextpnr_args(&self, top: &Top) -> Vec<OsString> {
        let (spec, family) = (self.opts.target.spec(), self.family);
        let mut args: Vec<OsString> = vec![spec.nextpnr_device.into(), "--package".into(), spec.package.into()];
        match (&top.constraint, family.unconstrained_flag()) {
            (Some(c), _) => args.extend([family.constraint_flag().into(), c.into()]),
            (None, Some(flag)) => args.push(flag.into()),
            (None, None) => {}
        }
        args.extend([family.placed_flag().into(), self.placed().into()]);
        args.extend([
            "--json".into(),
            "netlist.json".into(),
            "--freq".into(),
            format!("{}", self.opts.freq_mhz).into(),
            "--seed".into(),
            self.opts.seed.to_string().into(),
            "--report".into(),
            "nextpnr-report.json".into(),
        ]);
        if !self.opts.strict_timing {
            args.push("--timing-allow-fail".into());
        }
        args
    }

    /// nextpnr, then its utilisation and clocks (from its JSON report, else its log).
    fn place_and_route(&mut self, top: &Top) -> Result<PnrFigures> {
        let title = format!("{} ({})", self.family.nextpnr(), self.opts.target.part());
        let args = self.nextpnr_args(top);
        let secs = self.stage("nextpnr", title, &self.tools.nextpnr, args, "nextpnr.log")?;
        self.record("nextpnr", secs, "nextpnr.log");
        let pnr_log = std::fs::read_to_string(self.work.join("nextpnr.log")).unwrap_or_default();
        let mut pnr = std::fs::read_to_string(self.work.join("nextpnr-report.json"))
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
        Ok(pnr)
    }

    /// icepack / ecppack; returns the bitstream.
    fn pack(&mut self) -> Result<Vec<u8>> {
        let (ext, packer) = (self.family.bitstream_ext(), self.family.packer());
        let log = format!("{packer}.log");
        let args = vec![self.placed().into(), format!("bitstream.{ext}").into()];
        let secs = self.stage("pack", packer.into(), &self.tools.pack, args, &log)?;
        self.record("pack", secs, &log);
        let bits = std::fs::read(self.work.join(format!("bitstream.{ext}")))
            .map_err(|e| SynthError::io("reading the bitstream", e))?;
        if bits.is_empty() {
            return Err(SynthError::Invalid(format!(
                "{log}: the packer wrote an empty bitstream"
            )));
        }
        Ok(bits)
    }

    /// The tools' version lines (yosys from its log, nextpnr from `--version`).
    fn tool_versions(&self) -> BTreeMap<String, String> {
        let mut versions = BTreeMap::new();
        let ylog = std::fs::read_to_string(self.work.join("yosys.log")).unwrap_or_default();
        if let Some(l) = ylog.lines().find(|l| l.contains("Yosys 0.") || l.contains("Yosys 1.")) {
            versions.insert(
                "yosys".to_string(),
                l.trim_matches(|c: char| c == '|' || c.is_whitespace()).to_string(),
            );
        }
        if let Some(v) = version_line(&self.tools.nextpnr, "--version") {
            versions.insert("nextpnr".to_string(), v);
        }
        versions
    }

    /// The report of a finished run.
    fn report(&mut self, top: &Top, netlist: Netlist, pnr: PnrFigures, bits: &[u8]) -> SynthReport {
        let (target, cells) = (self.opts.target, netlist.cells);
        let totals = target.totals();
        let lc = pnr.utilisation.iter().find(|u| u.bel == self.family.logic_cell_bel());
        let logic_cells = lc.map(|u| u.used);
        let lc_total = lc.map(|u| u.available).unwrap_or(totals.luts);
        let fmax = pnr.clocks.iter().map(|c| c.fmax_mhz).fold(f64::INFINITY, f64::min);
        let fmax = if fmax.is_finite() { fmax } else { 0.0 };
        let m = &self.design.manifest;
        let (inferences_per_s, macs_per_s) = throughput(fmax.min(top.clock_mhz), m);
        SynthReport {
            schema: 1,
            tool: format!("pact-synth {}", env!("CARGO_PKG_VERSION")),
            target,
            part: target.part().to_string(),
            board: self.opts.board.map(|b| b.to_string()),
            top: top.name.clone(),
            design_top: self.design.top.clone(),
            freq_mhz: self.opts.freq_mhz,
            clock_mhz: top.clock_mhz,
            fmax_mhz: fmax,
            timing_met: fmax > 0.0 && fmax + 1e-9 >= top.clock_mhz,
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
            dsp_mapping: netlist.dsp_mapping,
            cells: cells.by_type,
            utilisation: pnr.utilisation,
            estimate: self.design.estimate.take(),
            cycles_per_inference: m.cycles_per_inference,
            inferences_per_s,
            macs_per_s,
            bitstream: BitstreamInfo {
                file: format!("{}.{}", top.name, self.family.bitstream_ext()),
                bytes: bits.len() as u64,
                sha256: sha256_hex(bits),
            },
            seed: self.opts.seed,
            stages: std::mem::take(&mut self.stages),
            tool_versions: self.tool_versions(),
        }
    }

    /// Write `report.json` and `summary.txt` and list every output (the report last: its presence means the run
    /// finished).
    fn write_report(&mut self, top: &str, report: &SynthReport) -> Result<()> {
        let json = serde_json::to_string_pretty(report).map_err(|e| SynthError::Invalid(format!("report: {e}")))?;
        let write = |name: &str, text: &str| {
            std::fs::write(self.work.join(name), text).map_err(|e| SynthError::io(format!("writing {name}"), e))
        };
        write(REPORT_FILE, &(json + "\n"))?;
        write(SUMMARY_FILE, &report.summary())?;
        if self.opts.progress {
            eprint!("{}", report.summary());
        }
        let (f, w) = (self.family, &self.work);
        let pack_log = format!("{}.log", f.packer());
        self.outputs.extend([
            (w.join("nextpnr.log"), "nextpnr.log".to_string()),
            (w.join(&pack_log), pack_log),
            (w.join("nextpnr-report.json"), "nextpnr-report.json".to_string()),
            (w.join("netlist.json"), format!("{top}.json")),
            (w.join(self.placed()), format!("{top}.{}", f.placed_ext())),
            (
                w.join(format!("bitstream.{}", f.bitstream_ext())),
                report.bitstream.file.clone(),
            ),
            (w.join(SUMMARY_FILE), SUMMARY_FILE.to_string()),
            (w.join(REPORT_FILE), REPORT_FILE.to_string()),
        ]);
        Ok(())
    }
}

/// `used / total` in percent (0 for an absent resource).
fn pct(used: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * used as f64 / total as f64
    }
}

/// Inferences/s and MACs/s at `run_mhz`, from the manifest's cycles and MACs per inference.
fn throughput(run_mhz: f64, m: &ManifestInfo) -> (Option<f64>, Option<f64>) {
    let inferences_per_s = m
        .cycles_per_inference
        .filter(|&c| c > 0 && run_mhz > 0.0)
        .map(|c| run_mhz * 1e6 / c as f64);
    let macs_per_s = inferences_per_s.and_then(|i| m.macs_per_inference.map(|macs| i * macs as f64));
    (inferences_per_s, macs_per_s)
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
