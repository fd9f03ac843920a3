//! The default model under Icarus Verilog (a second simulator): class, logits and compute cycles of the first
//! mnist5k test images equal the golden model. Slow (about 1 000 cycles/s, ~70 s per image):
//! `PACT_COSIM_ICARUS_IMAGES` sets the number (default 3).

mod common;

use common::*;
use pact_cosim::icarus::run_icarus;
use pact_cosim::{fixtures, RunOptions};
use std::time::Instant;

#[test]
fn icarus_agrees_with_golden_on_the_default_model() {
    let q = fixtures::default_model().unwrap();
    let ds = mnist_test();
    let n = env_u64("PACT_COSIM_ICARUS_IMAGES", 3) as usize;
    let opts = RunOptions {
        cache_dir: Some(cache()),
        config: default_array(),
        ..Default::default()
    };
    let t = Instant::now();
    let r = run_icarus(
        &q,
        &ds.images[..n * ds.pixels_per_image()],
        Some(&ds.labels[..n]),
        &opts,
    )
    .unwrap();
    println!(
        "icarus_default: {} images, {} mismatches, {} correct; {} compute cycles per inference; {:.0} simulated \
         cycles/s ({} cycles in {:.1} s of vvp); wall {:.1} s",
        r.images,
        r.mismatches(),
        r.correct,
        r.compute_cycles,
        r.cycles_per_second(),
        r.cycles,
        r.seconds,
        t.elapsed().as_secs_f64()
    );
    if let Some(m) = &r.mismatch {
        panic!("Icarus differs from the golden model: {m}");
    }
    assert_eq!(r.images, n);
}
