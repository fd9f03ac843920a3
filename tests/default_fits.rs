//! The shipped default model on its default array fits the iCE40 UP5K (iCEBreaker) and meets issue 6's throughput
//! target, per the generator's plan and pre-synthesis estimate (no yosys: cheap). The measured yosys/nextpnr figures
//! are in models/README.md.

use pact_cosim::fixtures::{default_model, DEFAULT_PE, DEFAULT_SIMD};
use pact_hdl::accel::{generate, AccelConfig, Device};

#[test]
fn default_model_fits_the_up5k_and_meets_10k_inferences_per_s_at_48_mhz() {
    let q = default_model().unwrap();
    let cfg = AccelConfig::new(DEFAULT_PE, DEFAULT_SIMD)
        .unwrap()
        .with_target(Device::Ice40Up5k);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gen");
    // Fails with the fit rule if the design certainly cannot fit the UP5K.
    let rep = generate(&q, &cfg, &dir).unwrap();
    println!("{}", rep.summary());
    let info = pact_synth::estimate::read_manifest(&dir.join("manifest.json")).unwrap();
    let est = info.estimate.expect("manifest has an estimate");
    pact_synth::estimate::check_fit(pact_synth::Target::Ice40Up5k, &est).unwrap();
    // Every multiplier (MAC lanes + requantization) in one of the 8 SB_MAC16s, so no lane is built from LUTs.
    assert!(est.multipliers.unwrap() <= 8, "{est:?}");
    // Block RAM: the lower bound within 24 of the 30 RAMs (the one-RAM-per-lane memories yosys makes of it, with
    // two input buffers, measured 29 of 30).
    assert!(est.memory_bits <= 24 * 4096, "{est:?}");
    // ≥ 10 000 inferences/s at 48 MHz: at most 4 800 cycles per image in a stream of images (the pixels of the
    // next image overlap the compute); the default is built with margin (≤ 4 000).
    let cycles = info.cycles_per_inference.unwrap();
    assert!(cycles <= 4_000, "{cycles} cycles per inference");
    assert!(48e6 / cycles as f64 >= 10_000.0);
}
