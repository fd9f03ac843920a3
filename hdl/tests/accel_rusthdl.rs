//! rust-hdl's own simulator running the whole accelerator (the Rust behaviour of every block and leaf) against the
//! golden model: a small MLP and the tiny CNN on three array shapes, class, logits and cycle count of every image.
//! (The Verilog is the product and is checked in `accel_cosim.rs`; this shows the Rust models beside the Verilog
//! leaves describe the same machine.)

mod accel_support;

use accel_support::*;
use pact_hdl::accel::mem::ADDR_BITS;
use pact_hdl::accel::plan::Plan;
use pact_hdl::accel::{build, AccelConfig};
use pact_toolchain::golden::Golden;
use rust_hdl::prelude::*;

fn run(name: &str, q: &pact_toolchain::qmodel::QModel, cfg: AccelConfig, images: &[u8]) {
    let plan = Plan::new(q, &cfg).unwrap();
    let px = plan.pixels();
    let files = (0..plan.layers.len()).map(|_| vec![String::new(); plan.pe]).collect();
    let mut top = build(&plan, files).unwrap();
    top.connect_all();
    let settle = |t: &mut pact_hdl::accel::top::Accel| assert!(simulate(t, 1000), "did not settle");
    let tick = |t: &mut pact_hdl::accel::top::Accel| {
        settle(t);
        t.clk.next = Clock { clk: true };
        settle(t);
        t.clk.next = Clock { clk: false };
        settle(t);
    };
    top.rst.next = true;
    tick(&mut top);
    top.rst.next = false;
    let golden = Golden::new(q);
    for (i, img) in images.chunks(px).enumerate() {
        for &p in img {
            top.in_valid.next = true;
            top.in_data.next = bits::<8>(p as u64);
            tick(&mut top);
        }
        top.in_valid.next = false;
        let mut n = 0;
        while !top.out_valid.val() && n < 10 * plan.compute_cycles() {
            tick(&mut top);
            n += 1;
        }
        let want = golden.infer(img);
        assert_eq!(n, plan.compute_cycles(), "{name} image {i}: cycles");
        assert_eq!(top.out_class.val().index(), want.class, "{name} image {i}: class");
        let logits: Vec<i32> = (0..plan.classes)
            .map(|c| {
                top.dbg_sel.next = bits::<2>(3);
                top.dbg_lane.next = bits::<ADDR_BITS>((c % plan.pe) as u64);
                top.dbg_addr.next = bits::<ADDR_BITS>((c / plan.pe) as u64);
                tick(&mut top);
                top.dbg_data.val().to_u64() as u32 as i32
            })
            .collect();
        assert_eq!(logits, want.logits, "{name} image {i}: logits");
        println!(
            "{name} image {i}: class {} logits {logits:?} after {n} cycles: equal to the golden model",
            want.class
        );
    }
}

#[test]
fn rust_hdl_simulation_equals_golden() {
    let mut r = rng("rust_hdl_simulation_equals_golden");
    let fm = tiny_mlp(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny mlp");
    let images = random_images(&mut r, 2, 64);
    run("mlp 2x4", &q, AccelConfig::new(2, 4).unwrap(), &images);
    // Digit passes (Horner steps in the accumulators, shifted activation digits, weight digit words): 2-bit lanes,
    // so the 8-bit first and last layers take 16 passes and the 4-bit middle layer 4.
    let lanes2 = AccelConfig::new(2, 4).unwrap().with_lane_bits(Some(2)).unwrap();
    run("mlp 2x4 on 2-bit lanes", &q, lanes2, &images);
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 2, 297);
    for (pe, simd) in [(2, 4), (4, 2), (1, 1)] {
        run(
            &format!("conv {pe}x{simd}"),
            &q,
            AccelConfig::new(pe, simd).unwrap(),
            &images,
        );
    }
    // A Brevitas CNN imported from QONNX: two's-complement weights (sign-extending ROM widening and lane decode).
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/brevitas/bv_cnn_w4a4_pt.qonnx.onnx");
    let q = pact_toolchain::import::qonnx::load_quantized(&path, 16)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .expect("a quantized model")
        .1;
    let ds = mnist_test();
    run(
        "brevitas w4a4 4x8",
        &q,
        AccelConfig::new(4, 8).unwrap(),
        &ds.images[..784],
    );
}
