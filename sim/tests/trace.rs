//! VCD tracing.

mod common;

use pact_sim::{SimBuilder, SimError};

#[test]
fn trace_writes_a_vcd_file() {
    let model = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .trace(true)
        .build()
        .unwrap();
    assert!(model.has_trace());
    let dir = tempfile::tempdir().unwrap();
    let vcd = dir.path().join("counter.vcd");
    let mut sim = model.sim().unwrap();
    sim.trace(&vcd).unwrap();
    let en = sim.port("en").unwrap();
    sim.set(en, 1);
    sim.run(20).unwrap();
    sim.trace_close();
    let text = std::fs::read_to_string(&vcd).unwrap();
    assert!(text.contains("$enddefinitions"), "{text}");
    assert!(text.contains(" count "), "the count signal is declared");
    // Cycle 19's posedge is dumped at 19 * 10 + 5.
    assert!(text.lines().any(|l| l == "#195"), "{text}");
    assert_eq!(sim.time(), 200);
    // The last value of count (20 = 0b00010100) is in the file.
    assert!(text.contains("b00010100 "), "{text}");
}

#[test]
fn trace_without_trace_build_is_an_error() {
    let mut sim = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .sim()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = sim.trace(dir.path().join("x.vcd")).unwrap_err();
    assert!(matches!(err, SimError::Trace(_)), "{err}");
    assert!(err.to_string().contains("SimBuilder::trace(true)"), "{err}");
}
