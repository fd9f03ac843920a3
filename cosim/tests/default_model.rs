//! The shipped default model (`pact_cosim::fixtures`) on the whole mnist5k test split: class, every logit and the
//! compute cycles of every image equal the golden model and the manifest; the first two images also layer by
//! layer. `PACT_COSIM_IMAGES` sets the number of images (default 1000, the whole split).

mod common;

use common::*;
use pact_cosim::{fixtures, CheckOptions, CoSimReport, RunOptions};
use pact_hdl::accel::AccelConfig;
use std::time::Instant;

fn summary(name: &str, r: &CoSimReport, wall: f64) {
    let b = r.build.as_ref().unwrap();
    println!(
        "{name}: {} images, {} mismatches, {} correct ({:.2} %); {} compute cycles per inference; {:.2} M simulated \
         cycles/s ({} cycles in {:.1} s); design {} ({:.2} s); Verilator {} ({:.1} s); wall {wall:.1} s",
        r.images,
        r.mismatches(),
        r.correct,
        r.accuracy().unwrap_or(0.0),
        r.compute_cycles,
        r.cycles_per_second() / 1e6,
        r.cycles,
        r.seconds,
        if r.design.as_ref().unwrap().reused {
            "reused"
        } else {
            "generated"
        },
        r.design.as_ref().unwrap().gen_time.as_secs_f64(),
        if b.cache_hit { "cache hit" } else { "built" },
        b.total.as_secs_f64()
    );
    if let Some(m) = &r.mismatch {
        panic!("{name}: the RTL differs from the golden model: {m}");
    }
}

#[test]
fn default_model_equals_golden_on_the_test_split() {
    let q = fixtures::default_model().unwrap();
    let ds = mnist_test();
    let n = (env_u64("PACT_COSIM_IMAGES", 1000) as usize).min(ds.len());
    let opts = RunOptions {
        cache_dir: Some(cache()),
        config: default_array(),
        check: CheckOptions {
            layered: 2,
            gap_seed: None,
        },
        ..Default::default()
    };
    let t = Instant::now();
    let r = pact_cosim::run(
        &q,
        &ds.images[..n * ds.pixels_per_image()],
        Some(&ds.labels[..n]),
        &opts,
    )
    .unwrap();
    summary("default", &r, t.elapsed().as_secs_f64());
    assert_eq!(r.images, n);
    assert_eq!(
        r.compute_cycles,
        r.design.as_ref().unwrap().report.plan.compute_cycles() as u64
    );
}

/// Pixels offered with random gaps (in_valid low for 1–3 cycles before a quarter of the pixels): same results,
/// same compute cycles. Checked where the gaps show: one input buffer (the pixels add to every image's time) and
/// an 8 × 8 array whose compute is shorter than the 784 pixels (two buffers: the stream is input-bound).
#[test]
fn input_gaps_change_nothing() {
    let seed = env_u64("PACT_COSIM_SEED", 5);
    println!("input_gaps_change_nothing: seed {seed} (replay with PACT_COSIM_SEED={seed})");
    let q = fixtures::default_model().unwrap();
    let ds = mnist_test();
    let n = 20;
    for config in [
        default_array().with_input_buffers(1).unwrap(),
        AccelConfig::new(8, 8).unwrap(),
    ] {
        let opts = RunOptions {
            cache_dir: Some(cache()),
            config,
            check: CheckOptions {
                layered: 1,
                gap_seed: Some(seed),
            },
            ..Default::default()
        };
        let t = Instant::now();
        let r = pact_cosim::run(
            &q,
            &ds.images[..n * ds.pixels_per_image()],
            Some(&ds.labels[..n]),
            &opts,
        )
        .unwrap();
        summary("default_gaps", &r, t.elapsed().as_secs_f64());
        assert_eq!(r.images, n);
        // The gaps cost cycles beyond one pixel per cycle: the stream really had gaps.
        assert!(r.cycles > n as u64 * (r.interval_cycles + 10), "{} cycles", r.cycles);
    }
}

/// Images streamed back to back take exactly the timing contract's cycles: the first image's pixels and compute,
/// then one image per `interval_cycles` (max(pixels, compute + 1) with two input buffers, pixels + compute + 1 with
/// one), then the reads of the last logits (one cycle per class). Compute-bound (the default 1 × 4), input-bound
/// (8 × 8: 448 compute cycles < 784 pixels) and single-buffered.
#[test]
fn a_stream_takes_one_image_per_interval() {
    let q = fixtures::default_model().unwrap();
    let ds = mnist_test();
    let n = 12u64;
    for (config, bound) in [
        (default_array(), "compute"),
        (AccelConfig::new(8, 8).unwrap(), "input"),
        (default_array().with_input_buffers(1).unwrap(), "one buffer"),
    ] {
        let opts = RunOptions {
            cache_dir: Some(cache()),
            config,
            ..Default::default()
        };
        let t = Instant::now();
        let r = pact_cosim::run(
            &q,
            &ds.images[..n as usize * ds.pixels_per_image()],
            Some(&ds.labels[..n as usize]),
            &opts,
        )
        .unwrap();
        summary("stream", &r, t.elapsed().as_secs_f64());
        let plan = &r.design.as_ref().unwrap().report.plan;
        let (p, c) = (plan.pixels() as u64, plan.compute_cycles() as u64);
        let interval = match (plan.input_buffers, bound) {
            (2, "compute") => c + 1,
            (2, _) => p,
            _ => p + c + 1,
        };
        assert!(
            (bound == "compute") == (c + 1 > p) || plan.input_buffers == 1,
            "{bound}-bound: {c} compute cycles, {p} pixels"
        );
        assert_eq!(r.interval_cycles, interval, "{bound}-bound: the manifest's interval");
        assert_eq!(
            r.cycles,
            p + c + (n - 1) * interval + plan.classes as u64,
            "{bound}-bound: {n} images streamed"
        );
    }
}
