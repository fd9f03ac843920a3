//! `pact sim`'s driver (`pact_cosim::cli::run`) as the command line calls it: arguments parsed by clap, errors
//! that name what is wrong, a mismatch as an error, a passing run's report, the VCD.

mod common;

use clap::Parser;
use common::*;
use pact_cosim::cli::{run, SimArgs, SimOutcome};
use pact_cosim::fixtures;

#[derive(Parser)]
struct P {
    #[command(flatten)]
    a: SimArgs,
}

fn sim(args: &[&str]) -> anyhow::Result<SimOutcome> {
    let cache = cache();
    let mut v = vec!["pact-sim", "--cache", cache.to_str().unwrap()];
    v.extend_from_slice(args);
    let p = P::try_parse_from(&v)?;
    run(&p.a, 1, true)
}

fn model() -> String {
    fixtures::default_model_path().display().to_string()
}

fn err(args: &[&str]) -> String {
    match sim(args) {
        Ok(o) => panic!("expected an error for {args:?}, got {} images", o.report.images),
        Err(e) => format!("{e:#}"),
    }
}

/// An error of the hardware generator reaches the caller as itself (`downcast_ref::<HdlError>`), not as a copy of its
/// text, and its message is printed once.
#[test]
fn hardware_errors_keep_their_type() {
    use pact_hdl::HdlError;
    let m = model();
    let e = sim(&[&m, "--pe", "0"]).map(|_| ()).unwrap_err();
    assert!(
        matches!(e.downcast_ref::<HdlError>(), Some(HdlError::Config(_))),
        "{e:?}"
    );
    assert_eq!(format!("{e:#}"), "--pe 0 is out of range 1..=64");
    // From the generator, called inside pact-cosim's design cache.
    let e = sim(&[&m, "--pe", "64", "--simd", "1", "--limit", "1"])
        .map(|_| ())
        .unwrap_err();
    assert!(e.chain().any(|c| c.downcast_ref::<HdlError>().is_some()), "{e:?}");
    let msg = format!("{e:#}");
    assert_eq!(msg.matches("--pe 64 is larger than every layer").count(), 1, "{msg}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let e = err(&["/nonexistent/model.pqm"]);
    println!("{e}");
    assert!(e.contains("/nonexistent/model.pqm"), "{e}");
    let e = err(&["/nonexistent/model.txt"]);
    assert!(e.contains("/nonexistent/model.txt"), "{e}");
    let m = model();
    let e = err(&[&m, "--data", "/nonexistent/data.csv"]);
    println!("{e}");
    assert!(e.contains("/nonexistent/data.csv"), "{e}");
    let e = err(&[&m, "--data", "digits"]);
    println!("{e}");
    assert!(e.contains("8×8") && e.contains("28×28"), "{e}");
    let e = err(&[&m, "--limit", "0"]);
    assert!(e.contains("no images"), "{e}");
    let e = err(&[&m, "--pe", "0"]);
    assert!(e.contains("--pe 0 is out of range 1..=64"), "{e}");
    let e = err(&[&m, "--pe", "64", "--simd", "1", "--limit", "1"]);
    assert!(e.contains("--pe 64 is larger than every layer"), "{e}");
    let e = err(&[&m, "--simulator", "icarus", "--trace", "x.vcd"]);
    assert!(e.contains("--trace needs --simulator verilator"), "{e}");
    let e = err(&[&m, "--simulator", "modelsim"]);
    assert!(e.contains("modelsim"), "{e}");
}

#[test]
fn a_mismatch_is_an_error_naming_image_layer_and_values() {
    let m = model();
    let e = err(&[&m, "--limit", "5", "--inject-fault", "pact-rounding-bit"]);
    println!("{e}");
    assert!(e.contains("the RTL differs from the golden model at image 0"), "{e}");
    let q = fixtures::default_model().unwrap();
    let first = &q.layers.iter().find(|l| l.op.compute().is_some()).unwrap().name;
    assert!(e.contains(&format!("layer '{first}' (compute layer 0")), "{e}");
    assert!(e.contains("RTL") && e.contains("golden"), "{e}");
}

#[test]
fn a_passing_run_reports_every_image() {
    let m = model();
    let o = sim(&[&m, "--limit", "5", "--input-gaps"]).unwrap();
    let r = &o.report;
    assert_eq!((r.images, r.mismatches(), o.data.as_str()), (5, 0, "mnist5k"));
    assert!(r.accuracy().is_some() && r.cycles_per_second() > 0.0);
    assert_eq!(
        r.compute_cycles,
        r.design.as_ref().unwrap().report.manifest.timing.compute_cycles
    );
}

/// A tiny quantized model for the UCI digits (8 × 8 → 10, one dense layer), saved as .pqm: a VCD of the default
/// model is ~770 MB per image.
fn tiny_digits_model(dir: &std::path::Path) -> std::path::PathBuf {
    use pact_toolchain::float::{FloatModel, InputSpec, Node, Op, Tensor};
    use pact_toolchain::quantize::{quantize, QuantConfig};
    let w: Vec<f32> = (0..640).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let node = |name: &str, op, inputs| Node {
        name: name.into(),
        op,
        inputs,
    };
    let fm = FloatModel {
        input: InputSpec {
            shape: [1, 8, 8],
            scale: 1.0 / 16.0,
        },
        nodes: vec![
            node("input", Op::Input, vec![]),
            node("flatten", Op::Flatten, vec![0]),
            node(
                "fc",
                Op::Dense {
                    weight: Tensor::new(vec![10, 64], w).unwrap(),
                    bias: Some((0..10).map(|i| i as f32 / 10.0).collect()),
                },
                vec![1],
            ),
        ],
    };
    let q = quantize(
        &fm,
        &QuantConfig::builder().wbits(4).abits(4).build().unwrap(),
        None,
        "tiny",
    )
    .unwrap();
    let path = dir.join("tiny.pqm");
    q.save(&path).unwrap();
    path
}

#[test]
fn trace_writes_a_vcd() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_digits_model(dir.path());
    let vcd = dir.path().join("run.vcd");
    let o = sim(&[
        model.to_str().unwrap(),
        "--data",
        "digits",
        "--limit",
        "3",
        "--trace",
        vcd.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!((o.report.images, o.report.mismatches()), (3, 0));
    let text = std::fs::read(&vcd).unwrap();
    println!("VCD of 3 tiny images: {} bytes", text.len());
    assert!(text.starts_with(b"$") && text.windows(7).any(|w| w == b"in_data"));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["run.vcd", "tiny.pqm"].map(std::ffi::OsString::from),
        "no temporary file left"
    );
}
