//! One device table and one fit rule (issue 15, item 7): every device `pact gen` takes, `pact synth` takes too, and
//! `pact gen` (with the target) and `pact synth` (on a design generated without one) refuse a design that does not
//! fit with the same sentence.

use std::path::Path;
use std::process::{Command, Output};

fn pact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run pact")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(o));
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_gen_target_is_a_synth_target() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-design");
    for name in pact_hdl::accel::Device::ALL.map(|d| d.name()) {
        // `pact gen`'s parser takes it ...
        assert!(pact_hdl::accel::parse_target(name).unwrap().is_some(), "{name}");
        // ... and so does `pact synth`'s: the run gets past the arguments to the missing design.
        let o = pact(&[
            "synth",
            path(&missing),
            "--target",
            name,
            "-o",
            path(&tmp.path().join("out")),
        ]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "pact synth --target {name}: {e}");
        assert!(!e.contains("invalid value"), "pact synth --target {name}: {e}");
    }
    let o = pact(&[
        "synth",
        path(&missing),
        "--target",
        "ice40-hx8k",
        "-o",
        path(&tmp.path().join("out")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown target `ice40-hx8k` (one of: ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gen_and_synth_give_the_same_fit_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("default.pqm");
    ok(
        &pact(&["-q", "quantize", "models/mnist5k-small-w4a4.json", "-o", path(&q)]),
        "quantize",
    );
    // A 16 × 16 array: 256 MACs, more than the UP5K's 8 DSPs and 5280 LUTs can make.
    let array = ["--pe", "16", "--simd", "16"];
    let refused = pact(
        &[
            &[
                "gen",
                path(&q),
                "--target",
                "ice40-up5k",
                "-o",
                path(&tmp.path().join("g1")),
            ][..],
            &array[..],
        ]
        .concat(),
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let gen_err = stderr(&refused);
    let verdict = gen_err
        .split_once("the design does not fit")
        .map(|(_, v)| v.trim_end().to_string())
        .unwrap_or_else(|| panic!("pact gen: {gen_err}"));
    assert!(verdict.contains("256 MACs needed"), "{verdict}");
    // Without a target the design is generated; `pact synth` refuses it before running any tool.
    let dir = tmp.path().join("g2");
    ok(
        &pact(
            &[
                &["-q", "gen", path(&q), "--target", "any", "-o", path(&dir)][..],
                &array[..],
            ]
            .concat(),
        ),
        "gen --target any",
    );
    let o = pact(&[
        "synth",
        path(&dir),
        "--target",
        "ice40-up5k",
        "--no-setup",
        "-o",
        path(&tmp.path().join("s")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let synth_err = stderr(&o);
    assert!(
        synth_err.contains(&format!("the design does not fit{verdict} (pre-synthesis estimate")),
        "gen: {gen_err}\nsynth: {synth_err}"
    );
}
