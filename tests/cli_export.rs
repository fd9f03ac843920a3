//! `pact export` (issue 13): the default model exported as QONNX runs in the `qonnx` package's executor and as
//! QCDQ in onnxruntime, each agreeing ≥ 99.5 % top-1 with the golden model on the first 300 images of mnist5k;
//! the export imports back (`pact quantize OUT.onnx`) to the same predictions on 1000 images. The Python side runs
//! in the venv `scripts/setup.sh` makes (`qonnx`, `onnxruntime`): `$PACT_QONNX_VENV`, else
//! `$XDG_CACHE_HOME/pact/qonnx-venv`, else `~/.cache/pact/qonnx-venv`. Without it the test is skipped, or fails
//! under `PACT_REQUIRE_TOOLS=1` (scripts/test.sh, CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{what}: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The venv with `qonnx` and `onnxruntime` (see the module doc).
fn qonnx_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("PACT_QONNX_VENV") {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("pact/qonnx-venv")
}

/// The venv's python if it imports qonnx and onnxruntime.
fn python() -> Option<PathBuf> {
    let py = qonnx_venv().join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import qonnx, onnxruntime"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// Runs an exported model on the first N rows of mnist5k (pixel code × input scale) and prints
/// `agree K of N` against the golden model's predictions CSV.
const CHECK: &str = r#"
import csv, gzip, sys
import numpy as np
import onnx
model_path, fmt, pred_csv, n, scale = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
with gzip.open("data/mnist_5k.csv.gz", "rt") as f:
    rows = np.loadtxt(f, delimiter=",", dtype=np.int64, max_rows=n)
x = rows[:, :-1].reshape(-1, 1, 28, 28).astype(np.float32) * np.float32(scale)
want = np.array([int(r[2]) for r in list(csv.reader(open(pred_csv)))[1:]][:n])
onnx.checker.check_model(onnx.load(model_path))
if fmt == "qcdq":
    import onnxruntime as ort
    s = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    out = s.run(None, {"x": x})[0]
else:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    m = ModelWrapper(model_path)
    # The batch axis is symbolic ("N"); qonnx's executor checks fixed shapes.
    m.set_tensor_shape("x", [len(x), *m.get_tensor_shape("x")[1:]])
    m = m.transform(InferShapes())
    ops = sorted({(n.op_type, n.domain) for n in m.graph.node})
    assert ("Quant", "qonnx.custom_op.general") in ops, ops
    for node in m.graph.node:
        if node.op_type == "Quant":
            names = {a.name for a in node.attribute}
            assert {"signed", "narrow", "rounding_mode"} <= names, (node.name, names)
    out = execute_onnx(m, {"x": x})[m.graph.output[0].name]
assert len(want) == n and len(out) == n, (len(want), len(out))
got = out.reshape(n, -1).argmax(1)
print("agree", int((got == want).sum()), "of", n)
"#;

fn agreement(py: &Path, dir: &Path, model: &Path, fmt: &str, preds: &Path, n: usize, scale: f64) -> (usize, usize) {
    let script = dir.join("check_export.py");
    std::fs::write(&script, CHECK).unwrap();
    let o = Command::new(py)
        .arg(&script)
        .args([
            model.to_str().unwrap(),
            fmt,
            preds.to_str().unwrap(),
            &n.to_string(),
            &format!("{scale:e}"),
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    let out = ok(o, &format!("running the {fmt} export in Python"));
    let line = out.lines().find(|l| l.starts_with("agree ")).expect("agree line");
    let v: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    (v[0], v[1])
}

fn predictions(csv: &Path) -> Vec<String> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn default_model_export_runs_in_qonnx_and_onnxruntime_and_imports_back() {
    let Some(py) = python() else {
        pact_sim::require::skip_or_fail(&format!(
            "the qonnx venv ({}, with qonnx and onnxruntime) is missing; make it with scripts/setup.sh",
            qonnx_venv().display()
        ));
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let pqm = d("default.pqm");
    ok(
        pact(&["quantize", "models/mnist5k-small-w4a4.json", "-o", &s(&pqm), "-q"]),
        "quantize",
    );
    let scale = pact_toolchain::qmodel::QModel::load(&pqm).unwrap().input.scale;
    let golden = d("golden.csv");
    let data = [
        "--data",
        "data/mnist_5k.csv.gz",
        "--limit",
        "1000",
        "-q",
        "--predictions",
    ];
    ok(pact(&[&["eval", &s(&pqm)][..], &data, &[&s(&golden)]].concat()), "eval");
    for fmt in ["qonnx", "qcdq"] {
        let onnx = d(&format!("default.{fmt}.onnx"));
        ok(
            pact(&["export", &s(&pqm), "-o", &s(&onnx), "--format", fmt, "-q"]),
            "export",
        );
        let (same, n) = agreement(&py, dir.path(), &onnx, fmt, &golden, 300, scale);
        println!("{fmt} export vs golden model: {same}/{n} top-1");
        assert_eq!(n, 300);
        assert!(same as f64 >= 0.995 * n as f64, "{fmt}: {same}/{n} agree, below 99.5 %");
        // Round trip: the export imports as a quantized model with the same predictions.
        let back = d(&format!("back.{fmt}.pqm"));
        ok(
            pact(&["quantize", &s(&onnx), "-o", &s(&back), "-q"]),
            "quantize the export",
        );
        let back_csv = d(&format!("back.{fmt}.csv"));
        ok(
            pact(&[&["eval", &s(&back)][..], &data, &[&s(&back_csv)]].concat()),
            "eval the round trip",
        );
        let (a, b) = (predictions(&golden), predictions(&back_csv));
        assert_eq!(a.len(), 1000);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        println!("{fmt} export imported back: {same}/1000 predictions as before");
        assert_eq!(same, 1000, "{fmt}: the round trip changed predictions");
    }
}

#[test]
fn export_writes_nothing_on_error_and_refuses_unknown_formats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.onnx");
    let o = pact(&["export", "no-such-model.pqm", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists(), "no output on error");
    let pqm = dir.path().join("m.pqm");
    ok(
        pact(&[
            "quantize",
            "models/mnist5k-small-w4a4.json",
            "-o",
            pqm.to_str().unwrap(),
            "-q",
        ]),
        "quantize",
    );
    let o = pact(&[
        "export",
        pqm.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "tflite",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("export format 'tflite' is unknown (qonnx, qcdq)"), "{err}");
    assert!(!out.exists());
}

#[test]
fn quantized_onnx_needs_no_width_flags_and_refuses_contradicting_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.pqm");
    let o = out.to_str().unwrap();
    let model = "tests/fixtures/brevitas/bv_cnn_w2a2_pc.qcdq.onnx";
    let text = ok(pact(&["quantize", model, "-o", o]), "quantize without flags");
    assert!(
        text.contains("W2A2 first/last 8 bits") && text.contains("weights: imported"),
        "{text}"
    );
    // Flags equal to the file's widths are accepted; others (not the flag's default, which cannot be told from
    // no flag) are an error naming the flag and the file.
    ok(
        pact(&["quantize", model, "--wbits", "2", "--abits", "2", "-o", o, "-q"]),
        "agreeing flags",
    );
    for (flag, v, want) in [
        ("--wbits", "3", "--wbits 3 contradicts"),
        ("--abits", "3", "--abits 3 contradicts"),
        ("--weight-quant", "maxabs", "--weight-quant maxabs does not apply"),
        ("--input-scale", "0.5", "--input-scale 0.5 contradicts"),
    ] {
        let r = pact(&["quantize", model, flag, v, "-o", o]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{flag}: {err}");
        assert!(
            err.contains(want) && err.contains("bv_cnn_w2a2_pc.qcdq.onnx"),
            "{flag}: {err}"
        );
    }
}
