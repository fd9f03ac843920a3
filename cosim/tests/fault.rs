//! The check can fail: the generator's test-only fault (every PACT unit rounds down instead of half up, a one-bit
//! change of the rounding constant) is reported at the first image with the layer, position and values; the clean
//! design on the same images reports no mismatch.

mod common;

use common::*;
use pact_cosim::{fixtures, RunOptions};
use pact_hdl::accel::InjectedFault;
use std::time::Instant;

#[test]
fn a_rounding_fault_is_caught_and_located() {
    let q = fixtures::default_model().unwrap();
    let ds = mnist_test();
    let n = 20;
    let (images, labels) = (&ds.images[..n * ds.pixels_per_image()], &ds.labels[..n]);
    let faulty = RunOptions {
        cache_dir: Some(cache()),
        config: default_array(),
        fault: Some(InjectedFault::PactRoundingBit),
        ..Default::default()
    };
    let t = Instant::now();
    let r = pact_cosim::run(&q, images, Some(labels), &faulty).unwrap();
    let m = r.mismatch.as_ref().expect("the rounding fault went unnoticed");
    println!(
        "faulty design: {} images, {} mismatch ({:.1} s, Verilator cache hit {}):\n{m}",
        r.images,
        r.mismatches(),
        t.elapsed().as_secs_f64(),
        r.build.as_ref().unwrap().cache_hit
    );
    let d = r.design.as_ref().unwrap();
    assert!(std::fs::read_to_string(d.verilog_path())
        .unwrap()
        .contains("INJECTED FAULT"));
    assert_eq!((m.image, r.images), (0, 1), "stops at the first image");
    let l = m.layer.as_ref().expect("the layer is located");
    let first = &d.report.plan.layers[0];
    assert_eq!((l.layer, l.name.as_str()), (0, first.name.as_str()), "{m}");
    assert!(l.count > 0 && l.rtl != l.golden, "{m}");
    // Rounding down instead of half up: the RTL's code is one below the golden code.
    assert_eq!(l.rtl + 1, l.golden, "{m}");
    let text = m.to_string();
    assert!(
        text.contains("image 0") && text.contains(&format!("layer '{}'", first.name)) && text.contains("RTL"),
        "{text}"
    );

    let clean = RunOptions {
        cache_dir: Some(cache()),
        config: default_array(),
        ..Default::default()
    };
    let r = pact_cosim::run(&q, images, Some(labels), &clean).unwrap();
    println!("clean design: {} images, {} mismatches", r.images, r.mismatches());
    assert!(r.mismatch.is_none(), "{}", r.mismatch.unwrap());
    assert_eq!(r.images, n);
}
