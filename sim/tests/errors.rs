//! Errors a person will meet: a Verilog syntax error, a missing or too old Verilator, a wrong port list, a design
//! that stops itself, misuse of ports.

mod common;

use pact_sim::{Port, SimBuilder, SimError};

#[test]
fn syntax_error_names_file_and_line() {
    let bad = "module broken (input wire a, output wire y);\n  assign y = a\n  wire z;\nendmodule\n";
    let err = SimBuilder::new("broken").text("broken.v", bad).build().unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    match &err {
        SimError::Verilate {
            top,
            location,
            message,
            excerpt,
        } => {
            assert_eq!(top, "broken");
            assert_eq!(location.as_ref(), Some(&("broken.v".to_string(), 3)));
            assert!(message.contains("syntax error"), "{message}");
            assert!(excerpt.contains("%Error"), "{excerpt}");
        }
        other => panic!("expected a verilator error, got {other}"),
    }
    assert!(
        msg.starts_with("verilator failed on top module `broken` at broken.v:3: syntax error"),
        "{msg}"
    );
    // The temporary build folder does not leak into the message.
    assert!(!msg.contains(".build-"), "{msg}");
}

#[test]
fn syntax_error_in_a_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("oops.v");
    std::fs::write(&f, "module oops(input a);\nendmodul\n").unwrap();
    let err = SimBuilder::new("oops").file(&f).build().unwrap_err();
    let SimError::Verilate {
        location: Some((file, line)),
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((file.as_str(), *line), (f.to_str().unwrap(), 2), "{err}");
}

#[test]
fn unknown_top_module_is_reported() {
    let err = SimBuilder::new("nope")
        .file(common::fixture("counter.v"))
        .build()
        .unwrap_err();
    assert!(matches!(err, SimError::Verilate { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn missing_verilator_says_how_to_install() {
    let err = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .verilator_program("/nonexistent/verilator")
        .build();
    let err = err.unwrap_err();
    assert!(matches!(err, SimError::ToolMissing { tool: "verilator", .. }), "{err}");
    assert!(
        err.to_string().contains("install it with `apt-get install verilator`"),
        "{err}"
    );
}

#[test]
fn too_old_verilator_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("verilator");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'Verilator 4.038 2020-07-11 rev v4.036-114-g0cd4a57ad'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .verilator_program(&fake)
        .cache_dir(dir.path().join("cache"))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Verilator 4.038 2020-07-11 rev v4.036-114-g0cd4a57ad is too old: pact-sim needs Verilator >= 5.0; \
         install a newer one with `apt-get install verilator`"
    );
}

#[test]
fn declared_ports_must_match() {
    let err = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .ports([Port::input("clk", 1), Port::output("count", 8)])
        .build()
        .unwrap_err();
    assert!(matches!(err, SimError::PortMismatch { .. }), "{err}");
    assert!(err.to_string().contains("was not declared"), "{err}");
}

#[test]
fn fatal_in_the_design_is_an_error_not_an_abort() {
    let mut sim = SimBuilder::new("stopper")
        .file(common::fixture("stopper.v"))
        .sim()
        .unwrap();
    let (go, fin, n) = (
        sim.port("go").unwrap(),
        sim.port("fin").unwrap(),
        sim.port("n").unwrap(),
    );
    sim.run(3).unwrap();
    assert_eq!(sim.get(n), 3);
    assert!(!sim.finished());
    sim.set(fin, 1);
    sim.tick().unwrap();
    assert!(sim.finished(), "$finish is reported, and does not exit the process");
    sim.set(go, 1);
    let err = sim.tick().unwrap_err();
    assert!(matches!(err, SimError::Stopped(_)), "{err}");
    assert!(err.to_string().contains("stopper: go was high at n=4"), "{err}");
    // Another instance of the same model is unaffected.
    let mut other = sim.model().sim().unwrap();
    other.run(2).unwrap();
    assert_eq!(other.get(n), 2);
}

#[test]
fn tick_without_a_clock_is_an_error() {
    let mut sim = SimBuilder::new("wide").file(common::fixture("wide.v")).sim().unwrap();
    let err = sim.tick().unwrap_err();
    assert!(err.to_string().contains("has no clock"), "{err}");
    let x = sim.port("x").unwrap();
    assert!(sim.set_clock(x).is_err(), "a 100-bit input cannot be the clock");
}

#[test]
fn unknown_port_lists_the_ports() {
    let sim = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .sim()
        .unwrap();
    let err = sim.port("cnt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`counter` has no port `cnt`; its ports are: clk, rst, en, load, d, count, wrap"
    );
}

#[test]
#[should_panic(expected = "value 0x100 does not fit input [8] d")]
fn value_too_wide_panics() {
    let mut sim = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .sim()
        .unwrap();
    let d = sim.port("d").unwrap();
    sim.set(d, 256);
}

#[test]
#[should_panic(expected = "output [8] count is not an input")]
fn setting_an_output_panics() {
    let mut sim = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .sim()
        .unwrap();
    let count = sim.port("count").unwrap();
    sim.set(count, 1);
}

#[test]
#[should_panic(expected = "value -129 does not fit signed input [8] a")]
fn signed_value_out_of_range_panics() {
    let mut sim = SimBuilder::new("mac").file(common::fixture("mac.v")).sim().unwrap();
    let a = sim.port("a").unwrap();
    sim.set_i64(a, -128);
    sim.set_i64(a, -129);
}
