//! The `pact` command as a user runs it: exit codes, help, usage errors, one-line errors that name the culprit,
//! no output left behind on failure, and the quantize → inspect → eval path on the shipped default model.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .output()
        .expect("run pact")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_for_every_subcommand() {
    assert_eq!(pact(&["--help"]).status.code(), Some(0));
    for sub in [
        "quantize",
        "eval",
        "inspect",
        "bench",
        "train",
        "experiment",
        "gen",
        "sim",
        "synth",
        "run",
        "sweep",
    ] {
        let o = pact(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0), "pact {sub} --help");
        assert!(text(&o).0.contains("Usage: pact"), "pact {sub} --help prints usage");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(pact(&[]).status.code(), Some(2));
    assert_eq!(pact(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(pact(&["eval", "--bogus", "x"]).status.code(), Some(2));
    assert_eq!(pact(&["quantize", "m.onnx"]).status.code(), Some(2), "missing -o");
}

fn assert_one_line_error(o: &Output, needle: &str) {
    let (_, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "one line: {err}"
    );
    assert!(err.contains(needle), "'{needle}' in: {err}");
}

#[test]
fn bad_inputs_fail_cleanly_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pqm");
    let o_s = out.to_str().unwrap();
    // Missing file.
    let missing = dir.path().join("missing.onnx");
    assert_one_line_error(
        &pact(&["quantize", missing.to_str().unwrap(), "-o", o_s]),
        "missing.onnx",
    );
    // Garbage ONNX.
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not a protobuf \xff\xff\xff\xff").unwrap();
    assert_one_line_error(&pact(&["quantize", junk.to_str().unwrap(), "-o", o_s]), "junk.onnx");
    // Unknown extension.
    let txt = dir.path().join("model.bin");
    std::fs::write(&txt, b"x").unwrap();
    assert_one_line_error(&pact(&["quantize", txt.to_str().unwrap(), "-o", o_s]), "model.bin");
    // Bits out of range on a real model.
    let model = default_model();
    let m = model.to_str().unwrap();
    assert_one_line_error(
        &pact(&["quantize", m, "--wbits", "9", "-o", o_s]),
        "--wbits = 9 is out of range",
    );
    assert_one_line_error(
        &pact(&["quantize", m, "--abits", "0", "-o", o_s]),
        "--abits = 0 is out of range",
    );
    // A corrupted quantized model.
    let bad = dir.path().join("bad.pqm");
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    assert_one_line_error(&pact(&["inspect", bad.to_str().unwrap()]), "bad.pqm");
    assert_one_line_error(&pact(&["eval", bad.to_str().unwrap(), "--data", "digits"]), "bad.pqm");
    assert!(!out.exists(), "no output written on failure");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "{left:?}");
}

/// The float model shipped in the repository (trained with `pact train`, see models/README.md).
fn default_model() -> PathBuf {
    repo().join("models/mnist5k-small-w4a4.json")
}

fn parse_pct(out: &str, prefix: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{out}"));
    let field = line[prefix.len()..]
        .split_whitespace()
        .find(|w| w.ends_with('%'))
        .unwrap();
    field.trim_end_matches('%').parse().unwrap()
}

#[test]
fn quantize_inspect_eval_default_model() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("m.pqm");
    let qs = q.to_str().unwrap();
    let model = default_model();
    let o = pact(&[
        "-q",
        "quantize",
        model.to_str().unwrap(),
        "--wbits",
        "4",
        "--abits",
        "4",
        "-o",
        qs,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let o = pact(&["inspect", qs]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.contains("W4A4 first/last 8 bits") && out.contains("MACs per inference"),
        "{out}"
    );
    let preds = dir.path().join("p.csv");
    let o = pact(&[
        "eval",
        qs,
        "--data",
        "mnist5k",
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    println!("{out}");
    let agreement = parse_pct(&out, "top-1 agreement fake-quant vs integer:");
    assert!(agreement >= 99.0, "agreement {agreement} % < 99 %");
    let acc = parse_pct(&out, "integer (golden model)");
    assert!(acc >= 90.0, "integer accuracy {acc} %");
    assert!(
        parse_pct(&out, "float") >= acc - 3.0,
        "float model found through the recorded source"
    );
    // The predictions file: header + one row per test image, labels matching the data set.
    let csv = std::fs::read_to_string(&preds).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("index,label,prediction"));
    let rows: Vec<Vec<usize>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 1000);
    let ds = pact_toolchain_test_labels();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], i);
        assert_eq!(r[1], ds[i] as usize);
    }
    let correct = rows.iter().filter(|r| r[1] == r[2]).count();
    assert_eq!(correct as f64 / 10.0, acc, "CSV agrees with the printed accuracy");
}

fn pact_toolchain_test_labels() -> Vec<u8> {
    use pact_toolchain::data::{load, DataSpec, Split};
    load(&DataSpec::Mnist5k, Split::Test).unwrap().labels
}

/// An MLP whose ONNX input is flat (`[N, 64]`, tests/fixtures/make_onnx_fixture.py) takes the 1×8×8 digits: the
/// pixels are read in PyTorch's flatten order, `-v` says so, and a data set of another pixel count stays an error.
#[test]
fn flat_input_model_takes_image_data() {
    let mlp = repo().join("tests/fixtures/pact_mlp_digits.onnx");
    let m = mlp.to_str().unwrap();
    let o = pact(&["-v", "eval", m, "--data", "digits", "--input-scale", "0.0625"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("1×8×8 images read as 1×1×64"), "{out}");
    assert_eq!(
        parse_pct(&out, "top-1 agreement fake-quant vs integer:"),
        100.0,
        "{out}"
    );
    let o = pact(&["eval", m, "--data", "digits", "--input-scale", "0.0625"]);
    assert!(o.status.success());
    assert!(!text(&o).0.contains("read as"), "the note needs -v");
    assert_one_line_error(
        &pact(&["eval", m, "--data", "mnist5k", "--limit", "10"]),
        "data set 'mnist5k' has 1×28×28 images, the model takes 1×1×64",
    );
}

/// Files named without pact's extensions (`pact quantize -o qmodel`, `pact train -o m`) are recognised by their
/// content; a file that is no model names itself and the formats tried.
#[test]
fn models_without_the_usual_extension_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let q = d.join("qmodel");
    let o = pact(&[
        "-q",
        "quantize",
        default_model().to_str().unwrap(),
        "-o",
        q.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = pact(&["eval", q.to_str().unwrap(), "--limit", "50"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).0.contains("integer (golden model)"));
    // What `pact train -o m` writes: the architecture JSON `m` and the weights `m.safetensors` it names.
    let arch = std::fs::read_to_string(default_model()).unwrap();
    let weights = repo().join("models/mnist5k-small-w4a4.safetensors");
    std::fs::copy(&weights, d.join("m.safetensors")).unwrap();
    std::fs::write(
        d.join("m"),
        arch.replace("mnist5k-small-w4a4.safetensors", "m.safetensors"),
    )
    .unwrap();
    let o = pact(&["inspect", d.join("m").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o).0.contains("MACs per inference"));
    // ONNX under another name.
    std::fs::copy(repo().join("tests/fixtures/pact_mlp_digits.onnx"), d.join("mlp")).unwrap();
    let o = pact(&["inspect", d.join("mlp").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    // A quantized model where a float model is needed, and a file that is no model at all.
    assert_one_line_error(
        &pact(&["quantize", q.to_str().unwrap(), "-o", d.join("x").to_str().unwrap()]),
        "qmodel: is a quantized model, not a float model",
    );
    let junk = d.join("notes");
    std::fs::write(&junk, "just some text\n").unwrap();
    for cmd in ["inspect", "eval"] {
        assert_one_line_error(
            &pact(&[cmd, junk.to_str().unwrap()]),
            "notes: is not a model pact reads (tried: a quantized model .pqm",
        );
    }
}

/// A missing input file is reported once, on one line naming it once (the OS message used to appear twice, and
/// `pact sim` named the file twice).
#[test]
fn missing_files_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let nope = dir.path().join("nope.pqm");
    let n = nope.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let onnx = dir.path().join("nope.onnx");
    let csv = dir.path().join("nope.csv");
    let model = default_model();
    let cases: Vec<Vec<&str>> = vec![
        vec!["eval", n],
        vec!["inspect", n],
        vec!["quantize", onnx.to_str().unwrap(), "-o", o],
        vec!["gen", n, "-o", o],
        vec!["sim", n],
        vec!["synth", n, "-o", o],
        vec!["eval", model.to_str().unwrap(), "--data", csv.to_str().unwrap()],
        vec!["train", "--data", csv.to_str().unwrap(), "--epochs", "1", "-o", o],
    ];
    for args in cases {
        let r = pact(&args);
        let (_, err) = text(&r);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches("nope.").count(), 1, "{args:?} names the file, once: {err}");
        let said = err.matches("No such file or directory").count() + err.matches("no such file or directory").count();
        assert_eq!(said, 1, "{args:?} says it once: {err}");
    }
}

/// `pact gen --top NAME`: a Verilog identifier names the top module and its file (before: always `top` in
/// `accel.v`); anything else is refused in one line naming the value, and nothing is written.
#[test]
fn gen_top_names_the_module_and_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("m.pqm");
    let model = repo().join("models/mnist5k-small-w4a4.json");
    let o = pact(&["-q", "quantize", model.to_str().unwrap(), "-o", q.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let out = dir.path().join("gen");
    let (q_s, out_s) = (q.to_str().unwrap(), out.to_str().unwrap());
    assert_one_line_error(
        &pact(&["gen", q_s, "-o", out_s, "--top", "my-acc"]),
        "--top 'my-acc' is not a Verilog module name (a letter or '_', then letters, digits or '_'; at most 64 \
         characters)",
    );
    assert_one_line_error(
        &pact(&["gen", q_s, "-o", out_s, "--top", "wire"]),
        "--top 'wire' is a Verilog keyword",
    );
    assert!(!out.exists());
    let o = pact(&["-q", "gen", q_s, "-o", out_s, "--top", "my_acc"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let v = std::fs::read_to_string(out.join("my_acc.v")).unwrap();
    assert!(v.lines().any(|l| l.starts_with("module my_acc(")));
    assert!(!v.lines().any(|l| l.starts_with("module top(")));
    assert!(out.join("my_acc_modules.v").is_file() && !out.join("accel.v").exists());
}
