//! The correctness gate on many designs: the emitted accelerator, verilated and driven by `pact-cosim`, equals the
//! golden model on every image — class and every logit compared with `==`, the exact cycle count of every
//! inference against the manifest, and on the first images every stored intermediate tensor (halting after each
//! layer and reading the activation banks through the debug port). Any difference fails with the image, the layer
//! and the values. (The default model on the whole mnist5k test split: `cosim/tests/default_model.rs`.)

mod accel_support;

use accel_support::*;
use pact_cosim::{CheckOptions, RunOptions};
use pact_hdl::accel::{AccelConfig, InjectedFault};
use pact_toolchain::qmodel::QModel;

fn opts(cfg: AccelConfig, layered: usize) -> RunOptions {
    RunOptions {
        config: cfg,
        cache_dir: Some(design_cache()),
        check: CheckOptions {
            layered,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn check(name: &str, q: &QModel, cfg: AccelConfig, images: &[u8], labels: Option<&[u8]>, layered: usize) {
    let res = pact_cosim::run(q, images, labels, &opts(cfg, layered)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let plan = &res.design.as_ref().unwrap().report.plan;
    println!(
        "{name}: lanes {} bits, digit passes {:?}: {} images, {} mismatches{}; {} compute cycles per inference \
         (formula {}, {:+.2} %); {:.2} M simulated cycles/s (Verilator cache hit: {})",
        plan.lane_bits,
        plan.layers.iter().map(|l| l.pass_count()).collect::<Vec<_>>(),
        res.images,
        res.mismatches(),
        labels.map(|_| format!(", {} correct", res.correct)).unwrap_or_default(),
        res.compute_cycles,
        plan.formula_cycles(),
        100.0 * (res.compute_cycles as f64 / plan.formula_cycles() as f64 - 1.0),
        res.cycles_per_second() / 1e6,
        res.build.as_ref().unwrap().cache_hit
    );
    if let Some(m) = &res.mismatch {
        panic!("{name}: RTL differs from the golden model: {m}");
    }
    assert_eq!(res.images * plan.pixels(), images.len(), "{name}: every image compared");
}

#[test]
fn default_model_on_other_arrays_equals_golden() {
    let q = default_model();
    let ds = mnist_test();
    // 16 × 4 has PE > SIMD (4 words per group, bubbles on the 3-beat first conv); 2 × 8 has PE < SIMD.
    // 8 × 8 on 4-bit lanes: the 8-bit first and last layers in 4 digit passes each.
    for (pe, simd, n, k) in [
        (16, 4, 20, None),
        (2, 8, 10, None),
        (8, 8, 20, None),
        (8, 8, 20, Some(4)),
    ] {
        check(
            &format!("default_{pe}x{simd}_k{}", k.map_or("-".into(), |k: u32| k.to_string())),
            &q,
            AccelConfig::new(pe, simd).unwrap().with_lane_bits(k).unwrap(),
            &ds.images[..n * 784],
            Some(&ds.labels[..n]),
            1,
        );
    }
}

#[test]
fn tiny_conv_equals_golden_at_2_4_8_bits() {
    let mut r = rng("tiny_conv_equals_golden_at_2_4_8_bits");
    // (pe, simd, lane bits): `None` is one pass per layer (lanes as wide as the widest operand); narrower lanes run
    // the 8-bit first and last layers (and at 3 bits every layer) as digit passes.
    for (bits, shapes) in [
        (
            4,
            &[
                (1, 1, None),
                (2, 4, None),
                (4, 2, None),
                (4, 4, None),
                (2, 8, None),
                (1, 4, None),
                (2, 4, Some(4)),
                (4, 4, Some(3)),
                (1, 4, Some(1)),
            ][..],
        ),
        (2, &[(2, 4, None), (4, 2, None), (4, 4, Some(2))][..]),
        (8, &[(1, 1, None), (4, 4, None), (2, 4, Some(4))][..]),
    ] {
        let fm = tiny_conv(&mut r);
        let q = build_q(&mut r, &fm, bits, bits, &format!("tiny conv W{bits}A{bits}"));
        let images = random_images(&mut r, 6, 297);
        for &(pe, simd, k) in shapes {
            check(
                &format!(
                    "tiny_conv_w{bits}_{pe}x{simd}_k{}",
                    k.map_or("-".into(), |k: u32| k.to_string())
                ),
                &q,
                AccelConfig::new(pe, simd).unwrap().with_lane_bits(k).unwrap(),
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
        (
            4,
            &[
                (1, 1, None),
                (4, 4, None),
                (8, 2, None),
                (2, 8, None),
                (4, 4, Some(4)),
                (8, 2, Some(2)),
            ][..],
        ),
        (2, &[(2, 2, None), (4, 1, None), (2, 2, Some(2)), (4, 4, Some(1))][..]),
        (8, &[(1, 2, None), (4, 4, None), (4, 4, Some(5))][..]),
    ] {
        let fm = tiny_mlp(&mut r);
        let q = build_q(&mut r, &fm, bits, bits, &format!("tiny mlp W{bits}A{bits}"));
        let images = random_images(&mut r, 8, 64);
        for &(pe, simd, k) in shapes {
            check(
                &format!(
                    "tiny_mlp_w{bits}_{pe}x{simd}_k{}",
                    k.map_or("-".into(), |k: u32| k.to_string())
                ),
                &q,
                AccelConfig::new(pe, simd).unwrap().with_lane_bits(k).unwrap(),
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

/// The gate can fail: the generator's test-only fault flips one bit of one weight of the first layer's ROM file
/// (a middle word, so the ROM's load check does not see it); the run reports the image, the layer and the values.
#[test]
fn a_corrupted_weight_is_caught() {
    let mut r = rng("a_corrupted_weight_is_caught");
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 4, 297);
    let name = "corrupted_tiny_conv_2x4";
    let o = RunOptions {
        fault: Some(InjectedFault::WeightRomBit),
        ..opts(AccelConfig::new(2, 4).unwrap(), 1)
    };
    let res = pact_cosim::run(&q, &images, None, &o).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let m = res.mismatch.expect("a corrupted weight went unnoticed");
    println!("{name}: {m}");
    assert_eq!(m.image, 0, "{m}");
    let l = m.layer.as_ref().expect("the layer is located");
    assert_eq!((l.layer, l.name.as_str()), (0, "conv0"), "{m}");
    assert!(l.count > 0 && l.rtl != l.golden, "{m}");
    // The clean design on the same images.
    check(name, &q, AccelConfig::new(2, 4).unwrap(), &images, None, 1);
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

/// A Brevitas-trained CNN imported from QONNX and from QCDQ (`tests/fixtures/brevitas`, per-tensor W4A4, first
/// and last layers 8 bits): its weights are two's-complement integers taken as the file quantizes them, decoded as
/// such by the lanes (sign extension in the weight ROMs' widening and in the lane decoder). Equal to the golden
/// model on every logit and cycle count, on two array shapes; narrower lanes than its 8-bit weights are refused.
#[test]
fn brevitas_import_equals_golden() {
    use pact_toolchain::import::qonnx::load_quantized;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/brevitas");
    let ds = mnist_test();
    for file in ["bv_cnn_w4a4_pt.qonnx.onnx", "bv_cnn_w4a4_pt.qcdq.onnx"] {
        let path = root.join(file);
        let q = load_quantized(&path, 16)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .expect("a quantized model")
            .1;
        for (pe, simd, n) in [(1, 4, 12), (4, 8, 12)] {
            check(
                &format!("{file}_{pe}x{simd}"),
                &q,
                AccelConfig::new(pe, simd).unwrap(),
                &ds.images[..n * 784],
                Some(&ds.labels[..n]),
                1,
            );
        }
        let e = pact_hdl::accel::plan::Plan::new(&q, &AccelConfig::new(1, 4).unwrap().with_lane_bits(Some(4)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("two's-complement weights") && e.contains("--lane-bits 8 or more"),
            "{e}"
        );
    }
}

/// One PACT unit shared by the PEs (`--requant shared`): the group's sums go in one per cycle and the codes reach
/// the writer together. Groups shorter than `pe` cycles get bubbles (a 3-beat first conv on 16 PEs; 1-beat groups
/// of the tiny MLP on 8 PEs); digit passes (several passes per group); PE counts that are not powers of two;
/// PE > SIMD and PE < SIMD. Every logit, every cycle, and the stored intermediate tensors of the first images.
#[test]
fn shared_requantization_equals_golden() {
    let mut r = rng("shared_requantization_equals_golden");
    let q = default_model();
    let ds = mnist_test();
    for (pe, simd, k) in [(8, 4, Some(4)), (4, 4, None), (16, 4, None), (2, 8, Some(2))] {
        check(
            &format!(
                "default_shared_{pe}x{simd}_k{}",
                k.map_or("-".into(), |k: u32| k.to_string())
            ),
            &q,
            AccelConfig::new(pe, simd)
                .unwrap()
                .with_lane_bits(k)
                .unwrap()
                .with_shared_requant(true),
            &ds.images[..10 * 784],
            Some(&ds.labels[..10]),
            2,
        );
    }
    let fm = tiny_conv(&mut r);
    let conv = build_q(&mut r, &fm, 4, 4, "tiny conv W4A4");
    let conv_images = random_images(&mut r, 5, 297);
    let fm = tiny_mlp(&mut r);
    let mlp = build_q(&mut r, &fm, 2, 2, "tiny mlp W2A2");
    let mlp_images = random_images(&mut r, 6, 64);
    for (name, q, images, pe, simd, k) in [
        ("tiny_conv", &conv, &conv_images, 4, 2, None),
        ("tiny_conv", &conv, &conv_images, 3, 3, None),
        ("tiny_conv", &conv, &conv_images, 2, 8, Some(2)),
        ("tiny_mlp", &mlp, &mlp_images, 8, 2, Some(2)),
        ("tiny_mlp", &mlp, &mlp_images, 4, 1, None),
        ("tiny_mlp", &mlp, &mlp_images, 8, 8, None),
    ] {
        check(
            &format!("{name}_shared_{pe}x{simd}"),
            q,
            AccelConfig::new(pe, simd)
                .unwrap()
                .with_lane_bits(k)
                .unwrap()
                .with_shared_requant(true),
            images,
            None,
            3,
        );
    }
}
