//! The reports of `pact run`: `report.json` (the [`RunReport`]), `report.md`, and `report.html` (the Markdown
//! rendered, every table with a header row, and the plots inline: accuracy per bit width when an experiment's
//! results are given, cycles per layer, device utilisation). Everything is rendered from the [`RunReport`] alone,
//! so a report read back from `report.json` renders the same.

use anyhow::{anyhow, bail, Context, Result};
use pact_synth::SynthReport;
use pact_toolchain::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

use crate::defaults;
use crate::plot::{self, Series};

/// The figures `report.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Float model file.
    pub model: String,
    /// Whether the model was trained in this run.
    pub trained: bool,
    /// Data set and images evaluated.
    pub data: String,
    /// Test images.
    pub images: usize,
    /// Top-1 accuracy, %: float (DoReFa unrounded), fake-quant, integer golden model.
    pub accuracy_float: Option<f64>,
    /// See `accuracy_float`.
    pub accuracy_fake_quant: f64,
    /// See `accuracy_float`.
    pub accuracy_integer: f64,
    /// Accuracy per bit width from an experiment's `results.csv` (`pact run --accuracy-csv`); absent when not
    /// measured (the report says so).
    #[serde(default)]
    pub accuracy_by_bits: Option<AccuracyByBits>,
    /// Array shape.
    pub pe: usize,
    /// See `pe`.
    pub simd: usize,
    /// Compute cycles per inference (manifest) and with the pixels streamed at one per cycle.
    pub compute_cycles: u64,
    /// See `compute_cycles`.
    pub total_cycles: u64,
    /// Cycles per image in a continuous stream (the manifest's `interval_cycles`).
    #[serde(default)]
    pub interval_cycles: u64,
    /// The compute layers of the accelerator in order, with their cycles.
    #[serde(default)]
    pub layers: Vec<LayerCycles>,
    /// MACs per inference.
    pub macs: u64,
    /// Memory bits of the design (weights, activations, constants).
    pub memory_bits: u64,
    /// Images co-simulated and mismatches (always 0 in a written report: a mismatch fails the run).
    pub cosim_images: usize,
    /// See `cosim_images`.
    pub cosim_mismatches: usize,
    /// Accuracy of the RTL's classes, %.
    pub cosim_accuracy: Option<f64>,
    /// Simulated cycles per second under Verilator.
    pub cosim_cycles_per_s: f64,
    /// The synthesis report (absent with --no-synth).
    pub synth: Option<SynthReport>,
    /// Wall time per stage, seconds.
    pub stages: Vec<(String, f64)>,
    /// Total wall time, seconds.
    pub seconds: f64,
}

/// One compute layer of the accelerator's plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerCycles {
    /// Layer name (from the model).
    pub name: String,
    /// `conv` or `dense`.
    pub kind: String,
    /// Output channels.
    pub outputs: usize,
    /// Output positions (H·W; 1 for dense).
    pub positions: usize,
    /// Beats per group of `pe` outputs.
    pub beats: usize,
    /// Cycles of the layer per inference.
    pub cycles: u64,
}

/// Accuracy per bit width, read from a `pact experiment` `results.csv`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccuracyByBits {
    /// The file read.
    pub source: String,
    /// Its rows, in file order.
    pub rows: Vec<BitsAccuracy>,
}

/// One configuration of an experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BitsAccuracy {
    /// Configuration name (`pact4`, `fp32`, …).
    pub config: String,
    /// Method (`pact`, `fixed-clip`, `fp32`).
    pub method: String,
    /// Weight/activation bits (32 for the float baseline).
    pub bits: u32,
    /// Float model accuracy, %.
    pub float: Option<f64>,
    /// Integer (golden) model accuracy, %.
    pub integer: Option<f64>,
}

impl AccuracyByBits {
    /// Read `results.csv` as `pact experiment` writes it: a header naming at least `config`, `method`, `bits`,
    /// `float_acc` and `integer_acc` (fractions 0..=1, empty when not measured), then one row per configuration.
    pub fn read_csv(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
        let col = |name: &str| {
            header.iter().position(|h| *h == name).ok_or_else(|| {
                anyhow!(
                    "{}: no column '{name}' in the header (expected a `pact experiment` results.csv)",
                    path.display()
                )
            })
        };
        let cols = [
            col("config")?,
            col("method")?,
            col("bits")?,
            col("float_acc")?,
            col("integer_acc")?,
        ];
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let at = |c: usize| f.get(c).copied().unwrap_or("");
            let bad = |what: &str| anyhow!("{}: line {}: {what}", path.display(), i + 2);
            let pct = |c: usize| -> Result<Option<f64>> {
                match at(c) {
                    "" => Ok(None),
                    s => match s.parse::<f64>() {
                        Ok(v) if (0.0..=1.0).contains(&v) => Ok(Some(100.0 * v)),
                        _ => Err(bad(&format!("accuracy '{s}' is not a fraction 0..=1"))),
                    },
                }
            };
            rows.push(BitsAccuracy {
                config: at(cols[0]).to_string(),
                method: at(cols[1]).to_string(),
                bits: at(cols[2])
                    .parse()
                    .map_err(|_| bad(&format!("bits '{}' is not a number", at(cols[2]))))?,
                float: pct(cols[3])?,
                integer: pct(cols[4])?,
            });
        }
        if rows.is_empty() {
            bail!("{}: no rows", path.display());
        }
        Ok(Self {
            source: path.display().to_string(),
            rows,
        })
    }
}

/// A Markdown table with the header cells `head` and `rows` of the same width.
fn md_table<const N: usize>(head: [&str; N], rows: &[[String; N]]) -> String {
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(N));
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// Two-column rows `(figure, value)`.
fn kv(rows: Vec<(&str, String)>) -> Vec<[String; 2]> {
    rows.into_iter().map(|(k, v)| [k.to_string(), v]).collect()
}

fn pct_or_na(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2} %")).unwrap_or_else(|| "n/a".into())
}

fn model_section(r: &RunReport) -> String {
    let trained = if r.trained { " (trained in this run)" } else { "" };
    let rows = kv(vec![
        ("float model", format!("`{}`{trained}", r.model)),
        (
            "quantization",
            format!("W{}A{}, first/last layers 8 bits", defaults::WBITS, defaults::ABITS),
        ),
        ("test data", format!("{} ({} images)", r.data, r.images)),
        ("accuracy, float (DoReFa unrounded)", pct_or_na(r.accuracy_float)),
        ("accuracy, fake-quant", format!("{:.2} %", r.accuracy_fake_quant)),
        ("accuracy, integer golden model", format!("{:.2} %", r.accuracy_integer)),
    ]);
    format!("## Model\n\n{}", md_table(["figure", "value"], &rows))
}

fn accuracy_section(r: &RunReport) -> String {
    let mut s = String::from("\n## Accuracy per bit width\n\n");
    match &r.accuracy_by_bits {
        None => s.push_str(&format!(
            "Not measured for this model: it was quantized at W{}A{} only. `pact experiment pact-vs-clip --data DATA \
             -o DIR` trains and measures every width; `pact run --accuracy-csv DIR/results.csv` shows its results \
             here.\n",
            defaults::WBITS,
            defaults::ABITS
        )),
        Some(a) => {
            let _ = writeln!(s, "From `{}` (an experiment, not this run):\n", a.source);
            let rows: Vec<[String; 5]> = a
                .rows
                .iter()
                .map(|b| {
                    [
                        b.config.clone(),
                        b.method.clone(),
                        b.bits.to_string(),
                        pct_or_na(b.float),
                        pct_or_na(b.integer),
                    ]
                })
                .collect();
            s.push_str(&md_table(["config", "method", "W/A bits", "float", "integer"], &rows));
        }
    }
    s
}

fn accelerator_section(r: &RunReport) -> String {
    let rows = kv(vec![
        ("array", format!("{} PE × {} SIMD", r.pe, r.simd)),
        ("MACs per inference", r.macs.to_string()),
        (
            "cycles per inference",
            format!(
                "{} compute, {} from the first pixel, one image every {} in a stream",
                r.compute_cycles, r.total_cycles, r.interval_cycles
            ),
        ),
        ("memory bits", r.memory_bits.to_string()),
        (
            "Verilator co-simulation",
            format!(
                "**{} images, {} mismatches** (class, every logit, cycle count compared with `==`)",
                r.cosim_images, r.cosim_mismatches
            ),
        ),
        ("RTL accuracy", pct_or_na(r.cosim_accuracy)),
        ("simulated cycles/s", format!("{:.2} M", r.cosim_cycles_per_s / 1e6)),
    ]);
    let layers: Vec<[String; 5]> = r
        .layers
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                l.kind.clone(),
                format!("{} × {}", l.outputs, l.positions),
                l.beats.to_string(),
                l.cycles.to_string(),
            ]
        })
        .collect();
    format!(
        "\n## Accelerator and co-simulation\n\n{}\n{}",
        md_table(["figure", "value"], &rows),
        md_table(
            ["layer", "kind", "outputs × positions", "beats/group", "cycles"],
            &layers
        )
    )
}

fn bitstream_section(y: &SynthReport) -> String {
    let d = &y.device;
    let timing = if y.timing_met { "met" } else { "NOT met" };
    let mut rows = vec![
        ("board", y.board.clone().unwrap_or_else(|| "none".into())),
        (
            "Fmax",
            format!("{:.2} MHz (clock {:.2} MHz: timing {timing})", y.fmax_mhz, y.clock_mhz),
        ),
        ("LUT4", format!("{} / {} ({:.1} %)", y.luts, d.luts, y.percent.luts)),
        ("FF", format!("{} / {} ({:.1} %)", y.ffs, d.ffs, y.percent.ffs)),
        ("BRAM", format!("{} / {} ({:.1} %)", y.brams, d.brams, y.percent.brams)),
        ("DSP", format!("{} / {} ({:.1} %)", y.dsps, d.dsps, y.percent.dsps)),
    ];
    if let Some(i) = y.inferences_per_s {
        rows.push(("inferences/s at min(Fmax, clock)", format!("{i:.0}")));
    }
    if let Some(m) = y.macs_per_s {
        rows.push(("MAC/s", format!("{:.3} G", m / 1e9)));
    }
    if let Some(e) = &y.estimate {
        rows.push((
            "pre-synthesis estimate",
            format!("{} MACs, {} memory bits", e.macs, e.memory_bits),
        ));
    }
    rows.push((
        "bitstream",
        format!(
            "`synth/{}` ({} bytes, sha256 `{}`)",
            y.bitstream.file, y.bitstream.bytes, y.bitstream.sha256
        ),
    ));
    format!(
        "\n## Bitstream ({})\n\n{}",
        y.part,
        md_table(["figure", "value"], &kv(rows))
    )
}

/// `report.md`.
pub fn markdown(r: &RunReport) -> String {
    let mut s = String::from("# pact run\n\n");
    s.push_str(&model_section(r));
    s.push_str(&accuracy_section(r));
    s.push_str(&accelerator_section(r));
    if let Some(y) = &r.synth {
        s.push_str(&bitstream_section(y));
    }
    let mut stages: Vec<[String; 2]> = r.stages.iter().map(|(k, v)| [k.clone(), format!("{v:.1}")]).collect();
    stages.push(["**total**".into(), format!("**{:.1}**", r.seconds)]);
    s.push_str("\n## Wall time\n\n");
    s.push_str(&md_table(["stage", "s"], &stages));
    s
}

/// The plots of the report as `(caption, SVG)`: accuracy per bit width (when known), cycles per layer,
/// utilisation (after synthesis).
pub fn plots(r: &RunReport) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(a) = &r.accuracy_by_bits {
        out.push((format!("accuracy per bit width ({})", a.source), accuracy_plot(a)?));
    }
    let cycles: Vec<(String, f64)> = r.layers.iter().map(|l| (l.name.clone(), l.cycles as f64)).collect();
    out.push((
        "cycles per layer".to_string(),
        plot::bars("Cycles per compute layer", "cycles", &cycles)?,
    ));
    if let Some(y) = &r.synth {
        let p = &y.percent;
        out.push((
            format!("utilisation of the {}", y.part),
            plot::bars(
                &format!("Device utilisation ({})", y.part),
                "% of the device",
                &[
                    ("LUT4".into(), p.luts),
                    ("FF".into(), p.ffs),
                    ("BRAM".into(), p.brams),
                    ("DSP".into(), p.dsps),
                ],
            )?,
        ));
    }
    Ok(out)
}

/// Integer accuracy against bits, one line per quantization method; the float baseline (no integer model) as a
/// flat line over the quantized widths.
fn accuracy_plot(a: &AccuracyByBits) -> Result<String> {
    let mut series: Vec<Series> = Vec::new();
    for b in a.rows.iter().filter(|b| b.integer.is_some()) {
        let name = format!("{} (integer)", b.method);
        let point = (b.bits as f64, b.integer.unwrap_or_default());
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                name,
                points: vec![point],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|p, q| p.0.total_cmp(&q.0));
    }
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    for b in a.rows.iter().filter(|b| b.integer.is_none()) {
        if let (Some(f), true) = (b.float, lo.is_finite()) {
            series.push(Series {
                name: format!("{} (float)", b.config),
                points: vec![(lo, f), (hi, f)],
            });
        }
    }
    plot::xy_tight(
        "Accuracy per bit width",
        "W/A bits",
        "top-1 accuracy, %",
        &series,
        1.0,
        (0.0, 100.0),
    )
}

/// [`markdown`]'s output as an HTML page (pulldown-cmark, tables on), with the plots inline.
pub fn html(md: &str, plots: &[(String, String)]) -> String {
    use pulldown_cmark::{html::push_html, Options, Parser};
    let mut h = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pact run</title><style>body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eee}</style></head><body>\n",
    );
    push_html(&mut h, Parser::new_ext(md, Options::ENABLE_TABLES));
    h.push_str("<h2>Plots</h2>\n");
    for (name, svg) in plots {
        let caption = name.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = writeln!(h, "<figure>{svg}<figcaption>{caption}</figcaption></figure>");
    }
    h.push_str("</body></html>\n");
    h
}

/// Names of the report files, `report.json` last (its presence means the run finished).
pub const REPORTS: [&str; 3] = ["report.json", "report.md", "report.html"];

/// Write `plots/*.svg`, `report.md`, `report.html` and then `report.json` into `out`, each atomically.
pub fn write_reports(out: &Path, r: &RunReport) -> Result<()> {
    let plots = plots(r)?;
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, (name, svg)) in plots.iter().enumerate() {
        let stem: String = name
            .chars()
            .take_while(|c| *c != '(')
            .collect::<String>()
            .trim()
            .replace(' ', "-");
        write_atomic(dir.join(format!("{i}-{stem}.svg")), svg.as_bytes())?;
    }
    let md = markdown(r);
    let json = serde_json::to_string_pretty(r).context("report.json")?;
    write_atomic(out.join("report.md"), md.as_bytes())?;
    write_atomic(out.join("report.html"), html(&md, &plots).as_bytes())?;
    write_atomic(out.join("report.json"), json.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }

    /// A real `pact run` report.json (iCE40 UP5K, synthesized), read back.
    fn fixture() -> RunReport {
        let text = std::fs::read_to_string(repo("tests/fixtures/run_report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every `<thead>` of `h`, one per table, each with `min` or more non-empty header cells.
    fn check_headers(h: &str, tables: usize) {
        assert_eq!(h.matches("<table>").count(), tables, "{h}");
        let heads: Vec<&str> = h
            .split("<thead>")
            .skip(1)
            .map(|t| &t[..t.find("</thead>").unwrap()])
            .collect();
        assert_eq!(heads.len(), tables, "a header row per table");
        for head in heads {
            let cells: Vec<&str> = head
                .split("<th>")
                .skip(1)
                .map(|c| &c[..c.find("</th>").unwrap()])
                .collect();
            assert!(cells.len() >= 2, "{head}");
            assert!(cells.iter().all(|c| !c.trim().is_empty()), "empty header cell: {head}");
        }
    }

    #[test]
    fn report_html_has_headed_tables_and_the_plots() {
        let mut r = fixture();
        r.accuracy_by_bits = Some(AccuracyByBits::read_csv(&repo("docs/experiments/mnist5k/results.csv")).unwrap());
        let plots = plots(&r).unwrap();
        let h = html(&markdown(&r), &plots);
        // Model, accuracy per bits, accelerator, layers, bitstream, wall time.
        check_headers(&h, 6);
        assert_eq!(h.matches("<svg").count(), 3, "three plots");
        for caption in [
            "accuracy per bit width (",
            "cycles per layer",
            "utilisation of the iCE40UP5K",
        ] {
            assert!(h.contains(&format!("<figcaption>{caption}")), "{caption}");
        }
        let svg = |c: &str| &plots.iter().find(|p| p.0.starts_with(c)).unwrap().1;
        for l in &r.layers {
            assert!(svg("cycles per layer").contains(&l.name), "bar of {}", l.name);
        }
        for legend in ["pact (integer)", "fixed-clip (integer)", "fp32 (float)"] {
            assert!(svg("accuracy per bit width").contains(legend), "{legend}");
        }
        for bar in ["LUT4", "FF", "BRAM", "DSP"] {
            assert!(svg("utilisation").contains(bar), "{bar}");
        }
        // The fixture's pact4 row: 0.9670 in the CSV.
        assert!(
            h.contains("<td>pact4</td><td>pact</td><td>4</td><td>96.80 %</td><td>96.70 %</td>"),
            "{h}"
        );
    }

    #[test]
    fn html_renders_tables_bold_and_code() {
        let h = html(
            "# t\n\n| a | **b** `c` |\n|---|---|\n| x<y | z |\n",
            &[("p<".into(), "<svg/>".into())],
        );
        assert!(h.contains("<h1>t</h1>"));
        assert!(h.contains("<strong>b</strong> <code>c</code></th>"), "{h}");
        assert!(h.contains("<td>x&lt;y</td>"), "{h}");
        assert!(h.contains("<figure><svg/><figcaption>p&lt;</figcaption>"), "{h}");
        assert_eq!(h.matches("<table>").count(), 1);
    }

    #[test]
    fn report_without_synthesis_or_experiment_says_what_is_unknown() {
        let mut r = fixture();
        r.synth = None;
        let md = markdown(&r);
        assert!(
            md.contains("## Accuracy per bit width\n\nNot measured for this model"),
            "{md}"
        );
        let plots = plots(&r).unwrap();
        let h = html(&md, &plots);
        check_headers(&h, 4);
        assert_eq!(plots.len(), 1, "only the cycles per layer");
    }

    #[test]
    fn accuracy_csv_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        std::fs::write(&p, "config,method,bits,float_acc\nfp32,fp32,32,0.9\n").unwrap();
        let e = AccuracyByBits::read_csv(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("r.csv: no column 'integer_acc' in the header (expected a `pact experiment` results.csv)"),
            "{e}"
        );
        std::fs::write(&p, "config,method,bits,float_acc,integer_acc\npact4,pact,4,0.9,97\n").unwrap();
        let e = AccuracyByBits::read_csv(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("r.csv: line 2: accuracy '97' is not a fraction 0..=1"),
            "{e}"
        );
    }
}
