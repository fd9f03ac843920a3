//! `pact sweep`: synthesis figures over bit widths and array shapes for one target, as a CSV and plots.
//!
//! Two kinds of points, each through the whole open flow (yosys → nextpnr → pack, no board):
//!
//! * **mac**: one MAC (`pact_hdl::mac::OffsetMac<16, 16, 33, 64>`, the same block type at every width, run-time
//!   widths `k × k` with a `2k + 9`-bit accumulator: 256 worst-case products) for each `--bits` (2, 4, 8, 16),
//!   hard multipliers off so that the LUT counts compare arithmetic, not DSP mapping: LUT4 per MAC and Fmax
//!   against bits, the PACT paper's §6 density claim measured on real synthesis;
//! * **accel**: the whole accelerator of a model (default: the shipped one) quantized at each inner W/A width of
//!   `--accel-bits` (2, 3, 4, 8; first/last layers 8 bits), for each `--arrays` shape (`auto`: the shape automatic
//!   sizing chooses for the target and that width, as `pact synth --target` does), hard multipliers used as the
//!   flow's `auto` mode does (LUTs when they run out): LUTs, DSPs, Fmax, cycles per inference, inferences/s at
//!   Fmax, the model's MACs per compute cycle, and the integer model's accuracy on `--data` (its test split). A
//!   shape that does not fit the target is listed under `does_not_fit` in `sweep.json` with the reason, and the
//!   sweep goes on.
//!
//! Every design is wrapped in an I/O harness (`sweep_top`: one serial input shifted into every design input, the
//! design's outputs registered and folded by a pipelined XOR tree into one output pin), so that designs with more
//! ports than the package has pins place, nothing is optimised away, and the harness adds no combinational path
//! longer than one LUT level. The harness' own cells are counted in the totals; its LUTs (the XOR tree, one LUT4 per
//! registered ≤ 4-input XOR) are `harness_luts` in the CSV and are taken out of `luts_per_mac`.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use pact_hdl::mac::OffsetMac;
use pact_hdl::verilog::emit;
use pact_hdl::widths::MacWidths;
use pact_synth::{DspMode, SynthOptions, SynthReport, Target};
use pact_toolchain::fsutil::write_atomic;
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::plot::{self, Series};
use pact_hdl::accel::AccelConfig;

/// `pact sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// FPGA target: ice40-up5k, ecp5-25k, ecp5-45k or ecp5-85k.
    #[arg(long, default_value = "ice40-up5k")]
    pub target: Target,
    /// MAC widths (weights = activations, 1..=16 bits).
    #[arg(long, value_delimiter = ',', default_values_t = [2u32, 4, 8, 16])]
    pub bits: Vec<u32>,
    /// Array shapes `PExSIMD` of the whole-accelerator points, or `auto` (sized for the target at each width);
    /// none: `--arrays ''`.
    #[arg(long, value_delimiter = ',', default_value = "auto")]
    pub arrays: Vec<String>,
    /// Inner W/A bits of the model for the accelerator points (1..=8 each; first/last layers 8 bits).
    #[arg(long, value_delimiter = ',', default_values_t = [2u32, 3, 4, 8])]
    pub accel_bits: Vec<u32>,
    /// Data set whose test split gives each accelerator point's integer accuracy: mnist5k, digits,
    /// fashion-mnist, or a PATH (as `pact eval`).
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Float model for the accelerator points (default: the shipped default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Clock asked of nextpnr, MHz (Fmax is reported whatever it is).
    #[arg(long, default_value_t = 48.0)]
    pub freq: f64,
    /// Output directory: sweep.csv, the plots, and one flow directory per point under points/.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

/// One synthesized point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    /// `mac` or `accel`.
    pub kind: &'static str,
    /// MAC width (mac) or the model's inner W/A bits (accel).
    pub bits: u32,
    /// Array shape (1 × 1 for a MAC).
    pub pe: usize,
    /// See `pe`.
    pub simd: usize,
    /// LUT4s (design + harness).
    pub luts: u32,
    /// Flip-flops (design + harness).
    pub ffs: u32,
    /// Block RAMs.
    pub brams: u32,
    /// Hard multipliers (0: mapping off).
    pub dsps: u32,
    /// Fmax after routing, MHz.
    pub fmax_mhz: f64,
    /// LUT4s per MAC lane without the harness: `(luts − harness_luts) / (pe·simd)`.
    pub luts_per_mac: f64,
    /// Clock cycles per inference (accel points).
    pub cycles_per_inference: Option<u64>,
    /// Inferences per second at Fmax (accel points).
    pub inferences_per_s: Option<f64>,
    /// The model's MACs per inference over its compute cycles (accel points).
    pub macs_per_cycle: Option<f64>,
    /// Integer (golden) model accuracy on the test split of `--data`, % (accel points).
    pub accuracy_pct: Option<f64>,
    /// The accelerator's directory under `points/` ([`point_name`]; accel points).
    pub point: Option<String>,
    /// The harness' LUT4s inside `luts` (its XOR tree).
    pub harness_luts: u32,
    /// Wall time of the flow, s.
    pub seconds: f64,
}

/// A port of the top module of rust-hdl's emitted Verilog.
#[derive(Debug, Clone, PartialEq)]
struct Port {
    input: bool,
    width: usize,
    name: String,
}

/// The ports of module `top` in `verilog` (rust-hdl's emission: one `input wire [N:0] name;` per line).
fn top_ports(verilog: &str, top: &str) -> Result<Vec<Port>> {
    let head = format!("module {top}(");
    let start = verilog
        .find(&head)
        .ok_or_else(|| anyhow!("no `module {top}` in the emitted Verilog"))?;
    let body = &verilog[start..];
    let body = &body[..body.find("endmodule").unwrap_or(body.len())];
    let mut ports = Vec::new();
    for line in body.lines().map(str::trim) {
        let (input, rest) = if let Some(r) = line.strip_prefix("input ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("output ") {
            (false, r)
        } else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let mut width = 1;
        let mut name = "";
        for tok in rest.split_whitespace() {
            if let Some(r) = tok.strip_prefix('[') {
                let hi: usize = r
                    .split(':')
                    .next()
                    .and_then(|h| h.parse().ok())
                    .ok_or_else(|| anyhow!("unexpected port range `{tok}` in `{line}`"))?;
                width = hi + 1;
            } else if !matches!(tok, "wire" | "reg" | "signed") {
                name = tok;
            }
        }
        if name.is_empty() {
            bail!("cannot read the port declaration `{line}`");
        }
        ports.push(Port {
            input,
            width,
            name: name.to_string(),
        });
    }
    Ok(ports)
}

/// The I/O harness around module `top` (see the module docs): returns the Verilog and the LUT4s of its XOR tree
/// (one LUT4 per ≤ 4-input XOR, each registered, so yosys cannot merge them into the design's logic).
/// `used(name, width)` is how many low bits of an output carry information (the rest, e.g. a sign extension,
/// are left unconnected so that the harness does not pay for them).
fn harness(verilog: &str, top: &str, used: &dyn Fn(&str, usize) -> usize) -> Result<(String, u32)> {
    let mut ports = top_ports(verilog, top)?;
    for p in ports.iter_mut().filter(|p| !p.input) {
        p.width = used(&p.name, p.width).clamp(1, p.width);
    }
    let is_clock = |p: &Port| p.input && p.width == 1 && (p.name == "clock" || p.name == "clk");
    if !ports.iter().any(is_clock) {
        bail!("module {top} has no 1-bit `clock`/`clk` input");
    }
    let n_in: usize = ports.iter().filter(|p| p.input && !is_clock(p)).map(|p| p.width).sum();
    let n_out: usize = ports.iter().filter(|p| !p.input).map(|p| p.width).sum();
    if n_out == 0 {
        bail!("module {top} has no outputs");
    }
    let n_sr = n_in.max(2);
    let mut v = String::new();
    let _ = writeln!(
        v,
        "// I/O harness of `pact sweep`: serial input to every input, outputs XOR-folded."
    );
    let _ = writeln!(v, "module sweep_top(input wire clk, input wire din, output wire dout);");
    let _ = writeln!(v, "    reg [{}:0] sr;", n_sr - 1);
    let _ = writeln!(v, "    always @(posedge clk) sr <= {{sr[{}:0], din}};", n_sr - 2);
    let _ = writeln!(v, "    wire [{}:0] o;", n_out - 1);
    let mut conns = Vec::new();
    let (mut ii, mut oi) = (0usize, 0usize);
    for p in &ports {
        let (lo, hi) = if p.input {
            (ii, ii + p.width - 1)
        } else {
            (oi, oi + p.width - 1)
        };
        let sig = if is_clock(p) {
            "clk".to_string()
        } else if p.input {
            ii += p.width;
            format!("sr[{hi}:{lo}]")
        } else {
            oi += p.width;
            format!("o[{hi}:{lo}]")
        };
        conns.push(format!("        .{}({sig})", p.name));
    }
    let _ = writeln!(v, "    {top} dut(\n{}\n    );", conns.join(",\n"));
    // Pipelined XOR tree: stage s+1 bit i = XOR of stage s bits 4i..4i+3, every stage registered.
    let mut width = n_out;
    let mut luts = 0u32;
    let _ = writeln!(v, "    reg [{}:0] x0;", width - 1);
    let _ = writeln!(v, "    always @(posedge clk) x0 <= o;");
    let mut s = 0;
    while width > 1 {
        let next = width.div_ceil(4);
        luts += next as u32;
        let _ = writeln!(v, "    reg [{}:0] x{};", next - 1, s + 1);
        for i in 0..next {
            let hi = (4 * i + 3).min(width - 1);
            let _ = writeln!(v, "    always @(posedge clk) x{}[{i}] <= ^x{s}[{hi}:{}];", s + 1, 4 * i);
        }
        width = next;
        s += 1;
    }
    let _ = writeln!(v, "    assign dout = x{s}[0];");
    let _ = writeln!(v, "endmodule");
    Ok((v, luts))
}

fn synth_point(dir: &Path, sources: &Path, target: Target, freq: f64, seed: u64, dsp: DspMode) -> Result<SynthReport> {
    let mut o = SynthOptions::new(sources, target, dir);
    o.top = Some("sweep_top".into());
    o.freq_mhz = freq;
    o.seed = seed;
    o.dsp = dsp;
    o.progress = false;
    pact_synth::run(&o).with_context(|| format!("synthesizing the sweep point in {}", dir.display()))
}

/// An array shape of `--arrays`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    pe: usize,
    simd: usize,
}

/// An entry of `--arrays`: a fixed shape (its configuration for the target), or automatic sizing.
#[derive(Clone, Copy, Debug)]
enum ArraySpec {
    Fixed(AccelConfig),
    Auto,
}

fn parse_spec(s: &str, target: Target) -> Result<ArraySpec> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(ArraySpec::Auto);
    }
    let x = parse_array(s)?;
    Ok(ArraySpec::Fixed(
        AccelConfig::new(x.pe, x.simd)?.with_target(Some(target)),
    ))
}

fn parse_array(s: &str) -> Result<Shape> {
    let (p, q) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| anyhow!("array shape `{s}`: expected PExSIMD, e.g. 4x4"))?;
    let num = |t: &str| -> Result<usize> {
        t.trim()
            .parse()
            .map_err(|_| anyhow!("array shape `{s}`: `{t}` is not a number"))
    };
    Ok(Shape {
        pe: num(p)?,
        simd: num(q)?,
    })
}

/// The CSV of the points (header + one row each).
pub fn csv(points: &[Point]) -> String {
    let mut s = String::from(
        "kind,bits,pe,simd,luts,ffs,brams,dsps,fmax_mhz,luts_per_mac,cycles_per_inference,inferences_per_s,harness_luts,seconds,macs_per_cycle,accuracy_pct,point\n",
    );
    for p in points {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{:.2},{:.2},{},{},{},{:.1},{},{},{}",
            p.kind,
            p.bits,
            p.pe,
            p.simd,
            p.luts,
            p.ffs,
            p.brams,
            p.dsps,
            p.fmax_mhz,
            p.luts_per_mac,
            p.cycles_per_inference.map(|c| c.to_string()).unwrap_or_default(),
            p.inferences_per_s.map(|c| format!("{c:.1}")).unwrap_or_default(),
            p.harness_luts,
            p.seconds,
            p.macs_per_cycle.map(|c| format!("{c:.2}")).unwrap_or_default(),
            p.accuracy_pct.map(|c| format!("{c:.2}")).unwrap_or_default(),
            p.point.as_deref().unwrap_or_default()
        );
    }
    s
}

/// LUT4-per-MAC ratio between the widest and the narrowest MAC point, if both exist.
pub fn density_ratio(points: &[Point]) -> Option<(u32, u32, f64)> {
    let macs: Vec<&Point> = points.iter().filter(|p| p.kind == "mac").collect();
    let lo = macs.iter().min_by_key(|p| p.bits)?;
    let hi = macs.iter().max_by_key(|p| p.bits)?;
    (hi.bits > lo.bits).then(|| (hi.bits, lo.bits, hi.luts_per_mac / lo.luts_per_mac))
}

/// The default model's float file (the shipped one, written out of the binary if needed).
fn default_float(out: &Path) -> Result<PathBuf> {
    crate::defaults::write_default_model(&out.join("model"))
}

/// The directory of an accelerator point under `points/`: `accel-w{bits}-{pe}x{simd}-ib{buffers}[-lb{lane bits}]`.
pub fn point_name(bits: u32, cfg: &AccelConfig) -> String {
    let lb = cfg.lane_bits().map(|k| format!("-lb{k}")).unwrap_or_default();
    format!(
        "accel-w{bits}-{}x{}-ib{}{lb}",
        cfg.pe(),
        cfg.simd(),
        cfg.input_buffers()
    )
}

/// Automatic sizing's choices tried per width before the point is given up (synthesis can refuse a choice).
const AUTO_TRIES: usize = 4;

/// Run `pact sweep`.
pub fn run(a: &SweepArgs, seed: u64, quiet: bool) -> Result<Vec<Point>> {
    for &b in &a.bits {
        if !(1..=16).contains(&b) {
            bail!("--bits {b}: MAC widths are 1..=16");
        }
    }
    for &k in &a.accel_bits {
        if !(1..=8).contains(&k) {
            bail!("--accel-bits {k}: the model's inner widths are 1..=8");
        }
    }
    let arrays: Vec<ArraySpec> = a
        .arrays
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_spec(s, a.target))
        .collect::<Result<_>>()?;
    // Quantize the model at every width and evaluate it, before any tool runs, so that bad input fails fast.
    let mut models: Vec<(u32, QModel, f64)> = Vec::new();
    if !arrays.is_empty() {
        let path = match &a.model {
            Some(p) => p.clone(),
            None => default_float(&a.out)?,
        };
        let fm = pact_toolchain::model_io::load_float(&path, None)?;
        let test = pact_toolchain::data::load_eval(&a.data, None)?;
        for &k in &a.accel_bits {
            let cfg = QuantConfig::builder().wbits(k).abits(k).build()?;
            let q = quantize(&fm, &cfg, None, &path.display().to_string())?;
            let ev = pact_toolchain::eval::evaluate(None, &q, &test, &|| {})
                .with_context(|| format!("evaluating {} at W{k}A{k} on {}", path.display(), a.data))?;
            let acc = pact_toolchain::eval::pct(ev.integer_correct(), ev.len());
            models.push((k, q, acc));
        }
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let points_dir = a.out.join("points");
    let mut points = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let say = |s: String| {
        if !quiet {
            println!("{s}");
        }
    };
    for &k in &a.bits {
        let t = Instant::now();
        let mut mac = OffsetMac::<16, 16, 33, 64>::new(MacWidths::new(k, k, 2 * k + 9))?;
        let v = emit(&mut mac);
        // Only the accumulator's 2k + 9 significant bits (the rest is its sign extension to 64).
        let (h, bound) = harness(&v, "top", &|name, w| {
            if name == "acc" {
                (2 * k + 9) as usize
            } else {
                w
            }
        })?;
        let name = format!("mac-k{k}");
        let src = points_dir.join(&name).join("src");
        std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
        write_atomic(src.join("mac.v"), v.as_bytes())?;
        write_atomic(src.join("sweep_top.v"), h.as_bytes())?;
        let r = synth_point(
            &points_dir.join(&name).join("flow"),
            &src,
            a.target,
            a.freq,
            seed,
            DspMode::Off,
        )?;
        let p = Point {
            kind: "mac",
            bits: k,
            pe: 1,
            simd: 1,
            luts: r.luts,
            ffs: r.ffs,
            brams: r.brams,
            dsps: r.dsps,
            fmax_mhz: r.fmax_mhz,
            luts_per_mac: r.luts.saturating_sub(bound) as f64,
            cycles_per_inference: None,
            inferences_per_s: None,
            macs_per_cycle: None,
            accuracy_pct: None,
            point: None,
            harness_luts: bound,
            seconds: t.elapsed().as_secs_f64(),
        };
        say(format!(
            "mac   {k:>2} bits: {:>5} LUT4 {:>5} FF  Fmax {:>7.2} MHz  ({:.0} s)",
            p.luts, p.ffs, p.fmax_mhz, p.seconds
        ));
        points.push(p);
    }
    for (k, q, acc) in &models {
        for spec in &arrays {
            // The point's configurations to try: the fixed shape; or automatic sizing's choices for this width, best
            // first, the next one tried when synthesis finds that one does not fit after all (the estimate's memory
            // count is not yet exact: each miss is listed under `does_not_fit`).
            let tries: Vec<AccelConfig> = match spec {
                ArraySpec::Fixed(cfg) => vec![*cfg],
                ArraySpec::Auto => {
                    use pact_hdl::accel::autosize::{candidates, Fixed};
                    match candidates(q, a.target, Fixed::default()) {
                        Ok(c) => c.iter().take(AUTO_TRIES).map(|c| c.config).collect(),
                        Err(e) => {
                            let msg = format!("{e:#}");
                            say(format!("accel W{k}A{k} auto: does not fit: {msg}"));
                            skipped.push(format!("W{k}A{k} auto: {msg}"));
                            continue;
                        }
                    }
                }
            };
            let mut done = None;
            for cfg in &tries {
                let label = format!(
                    "W{k}A{k} {}x{} ({}, {} input buffer(s))",
                    cfg.pe(),
                    cfg.simd(),
                    if matches!(spec, ArraySpec::Auto) {
                        "auto"
                    } else {
                        "fixed"
                    },
                    cfg.input_buffers()
                );
                match accel_point(q, *k, *acc, cfg, a, &points_dir, seed) {
                    Ok(p) => {
                        done = Some(p);
                        break;
                    }
                    Err(e) => {
                        // A shape that does not fit the target is a result of the sweep, not a failure of it.
                        if !does_not_fit(&e) {
                            return Err(e.context(label));
                        }
                        let msg = format!("{e:#}");
                        say(format!("accel {label}: does not fit: {msg}"));
                        skipped.push(format!("{label}: {msg}"));
                    }
                }
            }
            let Some(p) = done else {
                continue;
            };
            points.push(p);
            let p = points.last().expect("just pushed");
            say(format!(
                "accel W{k}A{k} {}x{}: {:>5} LUT4 {:>5} FF {:>3} BRAM  Fmax {:>7.2} MHz  {} cycles  {:.0} inferences/s  \
                 {:.2} MACs/cycle  accuracy {:.2} %  ({:.0} s)",
                p.pe,
                p.simd,
                p.luts,
                p.ffs,
                p.brams,
                p.fmax_mhz,
                p.cycles_per_inference.unwrap_or(0),
                p.inferences_per_s.unwrap_or(0.0),
                p.macs_per_cycle.unwrap_or(0.0),
                acc,
                p.seconds
            ));
        }
    }
    write_outputs(a, &points, &skipped)?;
    if let Some((hi, lo, r)) = density_ratio(&points) {
        println!("LUT4 per MAC, {hi} bits / {lo} bits: {r:.1}× (the PACT paper's §6 estimate: ≈14× from 16 to 2 bits)");
    }
    println!("wrote {}", a.out.join("sweep.csv").display());
    Ok(points)
}

/// Whether `e` says the design does not fit: the generator's or the synthesis flow's own variant, anywhere in the
/// chain (not a match on the message).
fn does_not_fit(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<pact_hdl::HdlError>(),
            Some(pact_hdl::HdlError::DoesNotFit(_))
        ) || matches!(
            c.downcast_ref::<pact_synth::SynthError>(),
            Some(pact_synth::SynthError::DoesNotFit { .. })
        )
    })
}

fn accel_point(
    q: &QModel,
    bits: u32,
    accuracy: f64,
    cfg: &AccelConfig,
    a: &SweepArgs,
    dir: &Path,
    seed: u64,
) -> Result<Point> {
    let t = Instant::now();
    let (pe, simd) = (cfg.pe(), cfg.simd());
    let name = point_name(bits, cfg);
    let gen = dir.join(&name).join("gen");
    let r = pact_hdl::accel::generate(q, cfg, &gen).with_context(|| name.clone())?;
    let (h, bound) = harness(&r.verilog, r.top.as_str(), &|_, w| w)?;
    write_atomic(gen.join("sweep_top.v"), h.as_bytes())?;
    let s = synth_point(
        &dir.join(&name).join("flow"),
        &gen,
        a.target,
        a.freq,
        seed,
        DspMode::Auto,
    )?;
    let cycles = r.plan.interval_cycles() as u64;
    Ok(Point {
        kind: "accel",
        bits,
        pe,
        simd,
        luts: s.luts,
        ffs: s.ffs,
        brams: s.brams,
        dsps: s.dsps,
        fmax_mhz: s.fmax_mhz,
        luts_per_mac: s.luts.saturating_sub(bound) as f64 / (pe * simd) as f64,
        cycles_per_inference: Some(cycles),
        inferences_per_s: Some(s.fmax_mhz * 1e6 / cycles as f64),
        macs_per_cycle: Some(r.plan.macs_per_cycle()),
        accuracy_pct: Some(accuracy),
        point: Some(name.clone()),
        harness_luts: bound,
        seconds: t.elapsed().as_secs_f64(),
    })
}

fn write_outputs(a: &SweepArgs, points: &[Point], skipped: &[String]) -> Result<()> {
    let macs: Vec<(f64, f64, f64)> = points
        .iter()
        .filter(|p| p.kind == "mac")
        .map(|p| (p.bits as f64, p.luts_per_mac, p.fmax_mhz))
        .collect();
    let accel: Vec<&Point> = points.iter().filter(|p| p.kind == "accel").collect();
    let by_bits = |f: &dyn Fn(&Point) -> Option<(f64, f64)>| -> Vec<Series> {
        let mut widths: Vec<u32> = accel.iter().map(|p| p.bits).collect();
        widths.sort_unstable();
        widths.dedup();
        if widths.is_empty() {
            return vec![Series {
                name: "whole accelerator".into(),
                points: Vec::new(),
            }];
        }
        widths
            .iter()
            .map(|&k| Series {
                name: format!("W{k}A{k}"),
                points: accel.iter().filter(|p| p.bits == k).filter_map(|p| f(p)).collect(),
            })
            .collect()
    };
    let t = a.target.name();
    let plots = [
        (
            "luts_per_mac.svg",
            plot::xy(
                &format!("LUT4 per MAC vs bits ({t})"),
                "bits (weights = activations)",
                "LUT4 per MAC",
                &[Series {
                    name: "one MAC (OffsetMac), DSP off".into(),
                    points: macs.iter().map(|m| (m.0, m.1)).collect(),
                }],
                false,
                true,
            )?,
        ),
        (
            "fmax_vs_bits.svg",
            plot::xy(
                &format!("Fmax vs bits ({t})"),
                "bits (weights = activations)",
                "Fmax MHz",
                &[Series {
                    name: "one MAC".into(),
                    points: macs.iter().map(|m| (m.0, m.2)).collect(),
                }],
                false,
                false,
            )?,
        ),
        (
            "inferences_vs_luts.svg",
            plot::xy(
                &format!("Inferences/s at Fmax vs LUT4 ({t})"),
                "LUT4",
                "inferences/s",
                &by_bits(&|p| Some((p.luts as f64, p.inferences_per_s?))),
                false,
                true,
            )?,
        ),
        (
            "inferences_vs_bits.svg",
            plot::xy(
                &format!("Inferences/s at Fmax vs inner bits ({t}, first/last 8)"),
                "inner W/A bits",
                "inferences/s",
                &[Series {
                    name: "whole accelerator".into(),
                    points: accel
                        .iter()
                        .filter_map(|p| Some((p.bits as f64, p.inferences_per_s?)))
                        .collect(),
                }],
                false,
                true,
            )?,
        ),
        (
            "accuracy_vs_inferences.svg",
            plot::xy_tight(
                &format!("Integer accuracy vs inferences/s ({t}, {})", a.data),
                "inferences/s at Fmax",
                "accuracy %",
                &by_bits(&|p| Some((p.inferences_per_s?, p.accuracy_pct?))),
                1.0,
                (0.0, 100.0),
            )?,
        ),
    ];
    for (name, svg) in plots {
        write_atomic(a.out.join(name), svg.as_bytes())?;
    }
    let json = serde_json::json!({ "points": points, "does_not_fit": skipped });
    write_atomic(
        a.out.join("sweep.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    write_atomic(a.out.join("sweep.csv"), csv(points).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_does_not_fit_variants_count_as_not_fitting() {
        use anyhow::Context;
        let gen: Result<()> = Err(pact_hdl::HdlError::DoesNotFit("x".into())).context("accel-4x4");
        assert!(does_not_fit(&gen.unwrap_err()));
        let synth = anyhow::Error::new(pact_synth::SynthError::DoesNotFit {
            target: "ice40-up5k".into(),
            part: "iCE40UP5K-SG48".into(),
            detail: "36 block RAMs after synthesis, 30 on the device".into(),
        });
        assert!(does_not_fit(&synth.context("synthesizing the sweep point")));
        // A message that merely says so is not the variant: a real failure is not swallowed.
        let other: Result<()> = Err(pact_hdl::HdlError::Config("the design does not fit my taste".into())).context("x");
        assert!(!does_not_fit(&other.unwrap_err()));
    }

    #[test]
    fn harness_connects_every_port() {
        let v = "module top(clock,a$0,b,y);\n    input wire  clock;\n    input wire  [7:0] a$0;\n    input wire  b;\n    output reg signed [12:0] y;\nendmodule\n";
        let ports = top_ports(v, "top").unwrap();
        assert_eq!(ports.len(), 4);
        assert_eq!((ports[1].name.as_str(), ports[1].width), ("a$0", 8));
        assert_eq!((ports[3].input, ports[3].width), (false, 13));
        let (h, luts) = harness(v, "top", &|_, w| w).unwrap();
        assert!(h.contains(".clock(clk)") && h.contains(".a$0(sr[7:0])") && h.contains(".b(sr[8:8])"));
        assert!(h.contains(".y(o[12:0])"));
        // 13 → 4 → 1 bits: 4 + 1 LUTs.
        assert_eq!(luts, 5);
        assert!(harness("module top(a);\n input wire a;\nendmodule", "top", &|_, w| w).is_err());
        let (h, luts) = harness(v, "top", &|n, w| if n == "y" { 5 } else { w }).unwrap();
        assert!(h.contains(".y(o[4:0])"));
        assert_eq!(luts, 3, "5 → 2 → 1 bits");
    }

    #[test]
    fn array_shapes_parse() {
        let x = parse_array("8x2").unwrap();
        assert_eq!((x.pe, x.simd), (8, 2));
        assert!(parse_array("8").unwrap_err().to_string().contains("PExSIMD"));
        assert!(parse_array("ax2").unwrap_err().to_string().contains("not a number"));
    }
}
