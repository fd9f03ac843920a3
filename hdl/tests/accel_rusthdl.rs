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

type Top = pact_hdl::accel::top::Accel;

fn settle(t: &mut Top) {
    assert!(simulate(t, 1000), "did not settle");
}

/// One clock cycle: settle, rising edge, settle, falling edge, settle.
fn tick(t: &mut Top) {
    settle(t);
    t.clk.next = Clock { clk: true };
    settle(t);
    t.clk.next = Clock { clk: false };
    settle(t);
}

/// The accelerator of `plan` in rust-hdl's simulator (ROM contents in the Verilog only: empty file names), held in
/// reset for one cycle.
fn fresh(plan: &Plan) -> Top {
    let files = (0..plan.layers.len()).map(|_| vec![String::new(); plan.pe]).collect();
    let mut top = build(plan, files).unwrap();
    top.connect_all();
    top.rst.next = true;
    tick(&mut top);
    top.rst.next = false;
    top
}

fn run(name: &str, q: &pact_toolchain::qmodel::QModel, cfg: AccelConfig, images: &[u8]) {
    let plan = Plan::new(q, &cfg).unwrap();
    let px = plan.pixels();
    let mut top = fresh(&plan);
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

/// Images streamed back to back in rust-hdl's simulator: a pixel offered every cycle and taken whenever `in_ready`
/// is high, the logits read through the debug port while the next image computes. Every class and logit equals the
/// golden model, and the stream takes exactly `pixels + compute + (n − 1)·interval + classes` cycles (the timing
/// contract of docs/accelerator.md).
fn run_stream(name: &str, q: &pact_toolchain::qmodel::QModel, cfg: AccelConfig, images: &[u8]) {
    let plan = Plan::new(q, &cfg).unwrap();
    let (px, n) = (plan.pixels(), images.len() / plan.pixels());
    let mut top = fresh(&plan);
    let golden = Golden::new(q);
    top.dbg_sel.next = bits::<2>(3);
    let (mut next_px, mut results, mut edges) = (0usize, Vec::new(), 0usize);
    // (image, class, next logit to read, logits so far)
    let mut reading: Option<(usize, usize, usize, Vec<i32>)> = None;
    let limit = n * (px + plan.compute_cycles() + 100);
    while results.len() < n && edges < limit {
        let offer = next_px < images.len();
        top.in_valid.next = offer;
        top.in_data.next = bits::<8>(if offer { images[next_px] as u64 } else { 0 });
        if let Some((_, _, c, _)) = &reading {
            top.dbg_lane.next = bits::<ADDR_BITS>((c % plan.pe) as u64);
            top.dbg_addr.next = bits::<ADDR_BITS>((c / plan.pe) as u64);
        }
        settle(&mut top);
        let taken = offer && top.in_ready.val();
        tick(&mut top);
        edges += 1;
        if taken {
            next_px += 1;
        }
        if let Some((i, class, c, mut vals)) = reading.take() {
            vals.push(top.dbg_data.val().to_u64() as u32 as i32);
            if c + 1 == plan.classes {
                results.push((i, class, vals));
            } else {
                reading = Some((i, class, c + 1, vals));
            }
        }
        if top.out_valid.val() {
            assert!(reading.is_none(), "{name}: a result while the last logits are read");
            reading = Some((results.len(), top.out_class.val().index(), 0, Vec::new()));
        }
    }
    assert_eq!(results.len(), n, "{name}: results within {limit} cycles");
    for (i, class, logits) in results {
        let want = golden.infer(&images[i * px..(i + 1) * px]);
        assert_eq!(class, want.class, "{name} image {i}: class");
        assert_eq!(logits, want.logits, "{name} image {i}: logits");
    }
    let want = px + plan.compute_cycles() + (n - 1) * plan.interval_cycles() + plan.classes;
    assert_eq!(edges, want, "{name}: cycles of {n} images streamed back to back");
    println!(
        "{name}: {n} images streamed in {edges} cycles (interval {}): equal to the golden model",
        plan.interval_cycles()
    );
}

#[test]
fn rust_hdl_simulation_streams_images_back_to_back() {
    let mut r = rng("rust_hdl_simulation_streams_images_back_to_back");
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 3, 297);
    for (cfg, what) in [
        (AccelConfig::new(4, 2).unwrap(), "two input buffers"),
        (
            AccelConfig::new(4, 2).unwrap().with_input_buffers(1).unwrap(),
            "one input buffer",
        ),
    ] {
        let plan = Plan::new(&q, &cfg).unwrap();
        println!(
            "{what}: {} pixels, {} compute cycles, interval {}",
            plan.pixels(),
            plan.compute_cycles(),
            plan.interval_cycles()
        );
        run_stream(&format!("conv stream, {what}"), &q, cfg, &images);
    }
    // (The input-bound case, compute shorter than the pixels, is covered under Verilator by the default model on
    // 8 × 8 in cosim/tests/default_model.rs: the tiny models' fixed drains exceed their few pixels.)
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
