//! What `pact` prints for failures whose error comes from a lower crate (pact-hdl, pact-toolchain): the same
//! messages as when those errors were flattened to strings, each said once.

use std::process::Command;

/// stderr of a failing `pact` run (exit code 1).
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pact")).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default model quantized into a scratch directory.
fn qmodel(dir: &std::path::Path) -> String {
    let q = dir.join("m.pqm");
    let m = root().join("models/mnist5k-small-w4a4.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(["-q", "quantize", m.to_str().unwrap(), "-o", q.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    q.display().to_string()
}

#[test]
fn hardware_parameter_errors_print_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let q = qmodel(dir.path());
    let o = dir.path().join("gen");
    let o = o.to_str().unwrap();
    // The messages docs/accelerator.md pins ("Parameter checks").
    assert_eq!(
        fails(&["gen", &q, "-o", o, "--pe", "0"]),
        "error: --pe 0 is out of range 1..=64\n"
    );
    let e = fails(&["gen", &q, "-o", o, "--target", "ice40-up6k"]);
    // The device table's parser (pact_device), shared with `pact synth --target`.
    assert_eq!(
        e,
        "error: unknown target `ice40-up6k` (one of: any, ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k)\n"
    );
    // An error of the generator is prefixed with the model file, once.
    let e = fails(&["gen", &q, "-o", o, "--pe", "64", "--simd", "1"]);
    assert!(
        e.starts_with(&format!("error: {q}: --pe 64 is larger than every layer")),
        "{e}"
    );
    assert_eq!(e.matches("is larger than every layer").count(), 1, "{e}");
}
