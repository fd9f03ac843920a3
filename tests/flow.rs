//! The hardware commands as a user runs them: `pact run` end to end on the embedded default (co-simulation of the
//! whole test split, an iCE40 UP5K bitstream, the reports), `pact synth` determinism (same Verilog, same bitstream
//! bytes), `pact sweep`, and their refusals of bad input. Needs verilator, yosys, nextpnr-ice40 and icepack
//! (`scripts/setup.sh` installs them).

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

fn pact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .output()
        .expect("run pact")
}

fn ok(o: &Output, what: &str) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{what} failed ({:?}):\n{out}\n{err}", o.status);
    println!("{out}");
    out
}

fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(needle), "'{needle}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sha256(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    fails(&pact(&["synth", "no/such/model.pqm", "-o", o]), "no/such/model.pqm");
    fails(
        &pact(&["synth", dir.path().to_str().unwrap(), "-o", o]),
        "no manifest.json",
    );
    fails(
        &pact(&[
            "synth",
            "x.pqm",
            "--board",
            "icebreaker",
            "--target",
            "ecp5-25k",
            "-o",
            o,
        ]),
        "board icebreaker does not carry a ecp5-25k",
    );
    fails(&pact(&["sweep", "--arrays", "4", "-o", o]), "expected PExSIMD");
    fails(&pact(&["sweep", "--bits", "17", "-o", o]), "MAC widths are 1..=16");
    fails(
        &pact(&["sweep", "--accel-bits", "2,9", "-o", o]),
        "--accel-bits 9: the model's inner widths are 1..=8",
    );
    fails(&pact(&["run", "--pe", "3", "--simd", "4", "-o", o]), "pe");
    assert!(!out.exists(), "a refused command wrote {}", out.display());
}

/// The main job: every test image co-simulated with 0 mismatches, a UP5K bitstream, sane reports; then `pact
/// synth` of the same model again gives the same Verilog and the same bitstream bytes.
#[test]
fn run_default_end_to_end_then_synth_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let t = std::time::Instant::now();
    let stdout = ok(&pact(&["run", "-o", out.to_str().unwrap()]), "pact run");
    println!("pact run: {:.1} s", t.elapsed().as_secs_f64());
    let r = json(&out.join("report.json"));
    let manifest = json(&out.join("gen/manifest.json"));
    assert_eq!(r["cosim_images"], 1000, "the whole mnist5k test split");
    assert_eq!(r["cosim_mismatches"], 0);
    assert!(stdout.contains("1000 images, 0 mismatches"), "{stdout}");
    assert_eq!(r["total_cycles"], manifest["timing"]["total_cycles"]);
    assert_eq!(r["interval_cycles"], manifest["timing"]["interval_cycles"]);
    assert_eq!(r["compute_cycles"], manifest["timing"]["compute_cycles"]);
    let acc = r["accuracy_integer"].as_f64().unwrap();
    assert_eq!(
        r["cosim_accuracy"].as_f64().unwrap(),
        acc,
        "the RTL classifies exactly as the golden model"
    );
    assert!(acc > 90.0, "integer accuracy {acc}");
    let s = &r["synth"];
    let synth_report = json(&out.join("synth/report.json"));
    assert_eq!(s, &synth_report, "report.json carries the synthesis report");
    assert_eq!(s["target"], "ice40-up5k");
    assert_eq!(s["board"], "icebreaker");
    let fmax = s["fmax_mhz"].as_f64().unwrap();
    assert!(fmax > 0.0 && fmax < 1000.0, "Fmax {fmax}");
    // Inferences/s count one image per interval of a stream (two input buffers: the pixels overlap the compute).
    assert_eq!(s["cycles_per_inference"], manifest["timing"]["interval_cycles"]);
    for (used, total) in [("luts", "luts"), ("ffs", "ffs"), ("brams", "brams"), ("dsps", "dsps")] {
        let (u, t) = (s[used].as_u64().unwrap(), s["device"][total].as_u64().unwrap());
        assert!(u <= t, "{used}: {u} of {t}: it does not fit");
    }
    assert!(
        s["luts"].as_u64().unwrap() > 100,
        "an accelerator is more than a hundred LUTs"
    );
    let bit = out.join("synth").join(s["bitstream"]["file"].as_str().unwrap());
    assert_eq!(sha256(&bit), s["bitstream"]["sha256"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&bit).unwrap().len(),
        s["bitstream"]["bytes"].as_u64().unwrap()
    );
    for f in ["report.md", "report.html", "model.pqm"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("0 mismatches"),
        "report.html has the plots and the result"
    );

    // Determinism: the same model and seed again, through `pact synth`.
    let again = dir.path().join("again");
    let model = out.join("model.pqm");
    ok(
        &pact(&[
            "-q",
            "synth",
            model.to_str().unwrap(),
            "--board",
            "icebreaker",
            "-o",
            again.to_str().unwrap(),
        ]),
        "pact synth",
    );
    assert_eq!(
        std::fs::read(out.join("gen/pact_accel.v")).unwrap(),
        std::fs::read(again.join("gen/pact_accel.v")).unwrap(),
        "the same Verilog"
    );
    let r2 = json(&again.join("report.json"));
    assert_eq!(
        r2["bitstream"]["sha256"], s["bitstream"]["sha256"],
        "the same bitstream bytes"
    );
    println!("bitstream sha256 {} twice", s["bitstream"]["sha256"]);
}

#[test]
fn sweep_writes_csv_plots_and_the_density_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let stdout = ok(
        &pact(&["sweep", "--bits", "2,16", "--arrays", "", "-o", out.to_str().unwrap()]),
        "pact sweep",
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let lpm = |r: &Vec<&str>| r[9].parse::<f64>().unwrap();
    assert_eq!((rows[0][0], rows[0][1]), ("mac", "2"));
    assert!(
        lpm(&rows[1]) > 5.0 * lpm(&rows[0]),
        "16-bit MACs cost many times the LUTs of 2-bit ones: {csv}"
    );
    for r in &rows {
        assert!(r[8].parse::<f64>().unwrap() > 0.0, "Fmax: {csv}");
    }
    assert!(stdout.contains("LUT4 per MAC, 16 bits / 2 bits"), "{stdout}");
    for f in [
        "luts_per_mac.svg",
        "fmax_vs_bits.svg",
        "inferences_vs_luts.svg",
        "sweep.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

/// Accelerator points across inner widths, auto-sized for the UP5K: one row per width with the chosen shape, its
/// cycles, MACs per cycle and accuracy; the per-width plots. (Whether low precision buys throughput is a figure
/// for docs/accelerator.md, not asserted here.)
#[test]
fn sweep_accel_points_across_bits_auto_sized() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let stdout = ok(
        &pact(&[
            "sweep",
            "--bits",
            "2",
            "--accel-bits",
            "2,8",
            "-o",
            out.to_str().unwrap(),
        ]),
        "pact sweep --accel-bits 2,8",
    );
    println!("{stdout}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name}: {csv}"))
    };
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let accel: Vec<&Vec<&str>> = rows.iter().filter(|r| r[col("kind")] == "accel").collect();
    assert_eq!(accel.len(), 2, "one auto-sized point per width: {csv}");
    for (r, bits) in accel.iter().zip(["2", "8"]) {
        assert_eq!(r[col("bits")], bits, "{csv}");
        let num = |c: &str| r[col(c)].parse::<f64>().unwrap_or_else(|_| panic!("{c}: {csv}"));
        assert!(num("pe") >= 1.0 && num("simd") >= 1.0, "{csv}");
        assert!(num("fmax_mhz") > 0.0 && num("cycles_per_inference") > 0.0, "{csv}");
        assert_eq!(
            (num("inferences_per_s") / (num("fmax_mhz") * 1e6 / num("cycles_per_inference")) * 1e3).round(),
            1e3,
            "inferences/s = Fmax / cycles: {csv}"
        );
        assert!(
            num("macs_per_cycle") > 0.0 && num("macs_per_cycle") <= num("pe") * num("simd"),
            "{csv}"
        );
        // The shipped model is ~94 % at W4A4; any width of it classifies far above chance (10 %).
        assert!(num("accuracy_pct") > 50.0 && num("accuracy_pct") <= 100.0, "{csv}");
        let stem = r[col("point")];
        assert!(
            stem.starts_with(&format!("accel-w{bits}-{}x{}-", r[col("pe")], r[col("simd")])),
            "{csv}"
        );
        let manifest = std::fs::read_to_string(out.join("points").join(stem).join("gen").join("manifest.json"))
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        let m: Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(
            m["timing"]["interval_cycles"].as_f64(),
            Some(num("cycles_per_inference")),
            "the CSV's cycles are the generated design's: {csv}"
        );
    }
    for f in [
        "inferences_vs_bits.svg",
        "accuracy_vs_inferences.svg",
        "inferences_vs_luts.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

/// `pact run --train` retrains the default architecture with the shipped model's recipe and seed: the weights come
/// out byte for byte equal to the shipped ones (training is deterministic), and the flow goes on with them.
#[test]
fn run_train_reproduces_the_shipped_model_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(
        &pact(&[
            "-q",
            "run",
            "--train",
            "--no-synth",
            "--limit",
            "50",
            "-o",
            out.to_str().unwrap(),
        ]),
        "pact run --train",
    );
    let shipped = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/mnist5k-small-w4a4.safetensors");
    let trained = out.join("trained/mnist5k-small-w4a4.safetensors");
    assert!(
        std::fs::read(&trained).unwrap() == std::fs::read(&shipped).unwrap(),
        "{} differs from {}",
        trained.display(),
        shipped.display()
    );
    let r = json(&out.join("report.json"));
    assert_eq!(r["trained"], true);
    assert_eq!(
        (r["cosim_images"].as_u64(), r["cosim_mismatches"].as_u64()),
        (Some(50), Some(0))
    );
}
