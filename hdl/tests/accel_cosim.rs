//! The correctness gate: the emitted accelerator, verilated and driven from Rust, equals the golden model on every
//! image — class and every logit compared with `==`, and on the first images every stored intermediate tensor
//! (halting after each layer and reading the activation banks through the debug port), plus the exact cycle count
//! of every inference against the plan. Any difference fails with the image, the layer and the values.
//!
//! `PACT_ACCEL_IMAGES` sets the number of mnist5k test images for the default model (default 1000: the whole test
//! split, about 20 s of simulation).

mod accel_support;

use accel_support::*;
use pact_hdl::accel::AccelConfig;
use pact_toolchain::qmodel::QModel;

fn check(name: &str, q: &QModel, cfg: AccelConfig, images: &[u8], labels: Option<&[u8]>, layered: usize) {
    let rep = gen(name, q, &cfg);
    let model = verilate(name, &rep);
    let mut dut = Dut::new(&model, &rep.plan);
    let res = cosim(&mut dut, q, images, labels, layered);
    let per_image = rep.plan.compute_cycles();
    println!(
        "{name}: {} images, {} mismatches{}; {per_image} compute cycles per inference (formula {}, {:+.2} %); {:.2} M \
         simulated cycles/s",
        res.images,
        res.mismatches.len(),
        labels.map(|_| format!(", {} correct", res.correct)).unwrap_or_default(),
        rep.plan.formula_cycles(),
        100.0 * (per_image as f64 / rep.plan.formula_cycles() as f64 - 1.0),
        res.cycles_per_second() / 1e6
    );
    assert!(
        res.mismatches.is_empty(),
        "{name}: RTL differs from the golden model:\n{}",
        res.mismatches.join("\n")
    );
    assert_eq!(
        res.images * rep.plan.pixels(),
        images.len(),
        "{name}: every image compared"
    );
}

#[test]
fn default_model_equals_golden() {
    let q = default_model();
    let ds = mnist_test();
    let n = env_usize("PACT_ACCEL_IMAGES", 1000).min(ds.len());
    check(
        "default_4x4",
        &q,
        AccelConfig::default(),
        &ds.images[..n * 784],
        Some(&ds.labels[..n]),
        2,
    );
}

#[test]
fn default_model_on_other_arrays_equals_golden() {
    let q = default_model();
    let ds = mnist_test();
    // 16 × 4 has PE > SIMD (4 words per group, bubbles on the 3-beat first conv); 2 × 8 has PE < SIMD.
    for (pe, simd, n) in [(16, 4, 20), (2, 8, 10), (8, 8, 20)] {
        check(
            &format!("default_{pe}x{simd}"),
            &q,
            AccelConfig::new(pe, simd).unwrap(),
            &ds.images[..n * 784],
            Some(&ds.labels[..n]),
            1,
        );
    }
}

#[test]
fn tiny_conv_equals_golden_at_2_4_8_bits() {
    let mut r = rng("tiny_conv_equals_golden_at_2_4_8_bits");
    for (bits, shapes) in [
        (4, &[(1, 1), (2, 4), (4, 2), (4, 4), (2, 8), (1, 4)][..]),
        (2, &[(2, 4), (4, 2)][..]),
        (8, &[(1, 1), (4, 4)][..]),
    ] {
        let fm = tiny_conv(&mut r);
        let q = build_q(&mut r, &fm, bits, bits, &format!("tiny conv W{bits}A{bits}"));
        let images = random_images(&mut r, 6, 297);
        for &(pe, simd) in shapes {
            check(
                &format!("tiny_conv_w{bits}_{pe}x{simd}"),
                &q,
                AccelConfig::new(pe, simd).unwrap(),
                &images,
                None,
                3,
            );
        }
    }
}

#[test]
fn tiny_mlp_equals_golden_at_2_4_8_bits() {
    let mut r = rng("tiny_mlp_equals_golden_at_2_4_8_bits");
    for (bits, shapes) in [
        (4, &[(1, 1), (4, 4), (8, 2), (2, 8)][..]),
        (2, &[(2, 2), (4, 1)][..]),
        (8, &[(1, 2), (4, 4)][..]),
    ] {
        let fm = tiny_mlp(&mut r);
        let q = build_q(&mut r, &fm, bits, bits, &format!("tiny mlp W{bits}A{bits}"));
        let images = random_images(&mut r, 8, 64);
        for &(pe, simd) in shapes {
            check(
                &format!("tiny_mlp_w{bits}_{pe}x{simd}"),
                &q,
                AccelConfig::new(pe, simd).unwrap(),
                &images,
                None,
                3,
            );
        }
    }
}

#[test]
fn bubbles_keep_the_writer_exact() {
    let mut r = rng("bubbles_keep_the_writer_exact");
    // One cycle per position before bubbles: a 1×1 conv on one channel with a fused pool on a 4 × 4 array.
    let fm = float_model(
        &mut r,
        [1, 6, 7],
        &[L::Conv(4, [1, 1], [1, 1], [0; 4]), L::Pool(2), L::Flatten, L::Logits(3)],
    );
    let q = build_q(&mut r, &fm, 4, 4, "1x1 conv + pool");
    let images = random_images(&mut r, 6, 42);
    check(
        "bubbles_pool_4x4",
        &q,
        AccelConfig::new(4, 4).unwrap(),
        &images,
        None,
        3,
    );
    // Eight words per group from one beat: 8 PEs, SIMD 1.
    let fm = float_model(
        &mut r,
        [1, 5, 5],
        &[L::Conv(8, [1, 1], [1, 1], [0; 4]), L::Pool(2), L::Flatten, L::Logits(3)],
    );
    let q = build_q(&mut r, &fm, 4, 4, "1x1 conv, 8 channels");
    let images = random_images(&mut r, 6, 25);
    check(
        "bubbles_wide_8x1",
        &q,
        AccelConfig::new(8, 1).unwrap(),
        &images,
        None,
        3,
    );
}

#[test]
fn presets_equal_golden_at_2_and_8_bits() {
    let mut r = rng("presets_equal_golden_at_2_and_8_bits");
    let ds = mnist_test();
    let n = 5;
    for bits in [2, 8] {
        let fm = mlp_preset(&mut r, [1, 28, 28], 10);
        let q = quantize_at(&fm, bits, bits, &ds.images[..64 * 784], "mlp preset");
        check(
            &format!("mlp_w{bits}_4x4"),
            &q,
            AccelConfig::default(),
            &ds.images[..n * 784],
            None,
            1,
        );
        let fm = cnn_preset(&mut r, [1, 28, 28], 10);
        let q = quantize_at(&fm, bits, bits, &ds.images[..64 * 784], "cnn preset");
        check(
            &format!("cnn_w{bits}_4x4"),
            &q,
            AccelConfig::default(),
            &ds.images[..n * 784],
            None,
            1,
        );
    }
}

/// The gate can fail: one flipped bit in one weight of the first layer's ROM file (a middle word, so the ROM's load
/// check does not see it) is reported with the image, the layer and the values.
#[test]
fn a_corrupted_weight_is_caught() {
    let mut r = rng("a_corrupted_weight_is_caught");
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 4, 297);
    let name = "corrupted_tiny_conv_2x4";
    let rep = gen(name, &q, &AccelConfig::new(2, 4).unwrap());
    let model = verilate(name, &rep);
    let file = rep.dir.join("w0_0.mem");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Lane 0 of a middle word is its last two hex digits (8-bit first-layer indices): flip the index's top bit.
    let mid = lines.len() / 2;
    let pos = lines[mid].len() - 2;
    let d = lines[mid].as_bytes()[pos] as char;
    let flipped = char::from_digit(d.to_digit(16).unwrap() ^ 8, 16).unwrap();
    println!(
        "{name}: word {mid} of w0_0.mem: {} -> lane 0 digit {d} -> {flipped}",
        lines[mid]
    );
    lines[mid].replace_range(pos..pos + 1, &flipped.to_string());
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let mut dut = Dut::new(&model, &rep.plan);
    let res = cosim(&mut dut, &q, &images, None, 1);
    std::fs::write(&file, text).unwrap();
    println!(
        "{name}: {} mismatches, first: {:?}",
        res.mismatches.len(),
        res.mismatches.first()
    );
    assert!(!res.mismatches.is_empty(), "a corrupted weight went unnoticed");
    assert!(
        res.mismatches[0].starts_with("image 0, layer 'conv0'"),
        "{}",
        res.mismatches[0]
    );
}

#[test]
fn edge_models_equal_golden() {
    let mut r = rng("edge_models_equal_golden");
    // A single dense layer (no requantization at all), and a conv as the last layer (1 × 1 output).
    let fm = float_model(&mut r, [2, 3, 5], &[L::Flatten, L::Logits(7)]);
    let q = build_q(&mut r, &fm, 4, 4, "single dense");
    let images = random_images(&mut r, 5, 30);
    check(
        "edge_single_dense_2x2",
        &q,
        AccelConfig::new(2, 2).unwrap(),
        &images,
        None,
        0,
    );
    let fm = float_model(
        &mut r,
        [3, 7, 7],
        &[L::Conv(6, [3, 3], [2, 2], [0; 4]), L::ConvLogits(5, [3, 3])],
    );
    let q = build_q(&mut r, &fm, 2, 2, "conv logits");
    let images = random_images(&mut r, 5, 147);
    check(
        "edge_conv_logits_2x2",
        &q,
        AccelConfig::new(2, 2).unwrap(),
        &images,
        None,
        2,
    );
    check(
        "edge_conv_logits_4x1",
        &q,
        AccelConfig::new(4, 1).unwrap(),
        &images,
        None,
        2,
    );
}
