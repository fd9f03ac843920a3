//! The accelerator generator without simulation: exact error messages of every parameter check, cycle counts
//! against the formula, weight memory against `Σ k_w × parameters`, and the output directory.
//! (Co-simulation against the golden model: `accel_cosim.rs`; lint, Icarus, yosys: `accel_tools.rs`; the memory
//! leaves against their Rust models: `accel_leaves.rs`.)

mod accel_support;

use accel_support::*;
use pact_cosim::fixtures::{DEFAULT_PE, DEFAULT_SIMD};
use pact_hdl::accel::plan::{timing, Plan};
use pact_hdl::accel::{generate, parse_target, AccelConfig, Device};
use pact_toolchain::float::{FloatModel, Node, Op};
use pact_toolchain::qmodel::QModel;

/// The default array (1 × 4, sized for the iCE40 UP5K).
fn default_array() -> AccelConfig {
    AccelConfig::new(DEFAULT_PE, DEFAULT_SIMD).unwrap()
}

fn plan_err(q: &QModel, cfg: AccelConfig) -> String {
    match Plan::new(q, &cfg) {
        Ok(_) => panic!("expected an error for {cfg:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_checks_have_exact_messages() {
    let e = |pe, simd| AccelConfig::new(pe, simd).unwrap_err().to_string();
    assert_eq!(e(0, 4), "--pe 0 is out of range 1..=64");
    assert_eq!(e(4, 65), "--simd 65 is out of range 1..=64");
    assert_eq!(
        e(4, 6),
        "--pe 4 and --simd 6: one must divide the other (the writer packs PE results into SIMD-wide words)"
    );
    assert!(AccelConfig::new(8, 2).is_ok() && AccelConfig::new(2, 8).is_ok() && AccelConfig::new(3, 3).is_ok());
    assert_eq!(
        parse_target("ice40-up6k").unwrap_err().to_string(),
        "unknown target `ice40-up6k` (one of: any, ice40-up5k, ecp5-25k, ecp5-45k, ecp5-85k)"
    );
    assert_eq!(parse_target("ecp5-25k").unwrap(), Some(Device::Ecp5_25k));
    assert_eq!(parse_target("any").unwrap(), None);
    let d = AccelConfig::default();
    assert_eq!((d.pe(), d.simd(), d.target()), (4, 4, None));
}

#[test]
fn model_checks_have_exact_messages() {
    // The default model (mnist5k-small-w4a4): conv1 4 outputs, conv2 20, fc 10.
    let q = default_model();
    assert_eq!(
        plan_err(&q, AccelConfig::new(64, 1).unwrap()),
        "--pe 64 is larger than every layer of the model (the widest, 'conv2', has 20 outputs)"
    );
    // It fits the UP5K's block RAM (its reason to be the default).
    assert!(Plan::new(&q, &default_array().with_target(Device::Ice40Up5k)).is_ok());
    let mut r = rng("model_checks_have_exact_messages");
    let fm = float_model(&mut r, [1, 4, 4], &[L::Flatten, L::Dense(5), L::Logits(3)]);
    let small = build_q(&mut r, &fm, 4, 4, "s");
    assert_eq!(
        plan_err(&small, AccelConfig::new(1, 32).unwrap()),
        "--simd 32 is larger than every layer of the model (the widest, 'fc1', has 16 inputs per output)"
    );
    // Memory larger than the target: the cnn preset (the previous default, built here with random weights; first
    // and last layers 8 bits): its 8-bit 1568 → 10 dense layer alone is 125 kbit.
    let fm = cnn_preset(&mut r, [1, 28, 28], 10);
    let cnn = build_q(&mut r, &fm, 4, 4, "cnn");
    // The fit rule (pact-device, shared with `pact synth`): weights and constants in at most the UP5K's 30 × 4 kbit
    // of block RAM plus 16 bits in a quarter of its 5280 LUTs.
    let mem = Plan::new(&cnn, &AccelConfig::default()).unwrap().memory();
    let rom = mem.weights + mem.requant;
    assert!(rom > 1568 * 10 * 8);
    let cap = 30 * 4096 + 5280 / 4 * 16;
    // And the block RAMs counted memory by memory (`ice40_brams`, the count the test against yosys pins).
    let cfg = AccelConfig::default().with_target(Device::Ice40Up5k);
    let brams = pact_hdl::accel::emit::ice40_brams(&Plan::new(&cnn, &AccelConfig::default()).unwrap(), false);
    assert!(brams > 30);
    assert_eq!(
        plan_err(&cnn, cfg),
        format!(
            "the design does not fit the ice40-up5k (iCE40UP5K-SG48): {rom} bits of initialised memory (weights, \
             constants) needed, {cap} available (30 block RAMs × 4096 bits = 122880, plus at most 21120 in LUTs); \
             over by {:.2}×; {brams} block RAMs needed (each memory mapped as yosys maps it), 30 on the device",
            rom as f64 / cap as f64
        )
    );
    assert!(Plan::new(&cnn, &AccelConfig::default().with_target(Device::Ecp5_25k)).is_ok());
    // A layer the engine does not run.
    let mut fm = float_model(
        &mut r,
        [1, 6, 6],
        &[L::Conv(4, [3, 3], [1, 1], [1; 4]), L::Pool(2), L::Flatten, L::Logits(3)],
    );
    let pool = fm
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::MaxPool { .. }))
        .unwrap();
    fm.nodes[pool] = Node {
        name: "avg".into(),
        op: Op::AvgPool {
            kernel: [2, 2],
            stride: [2, 2],
        },
        inputs: vec![pool - 1],
    };
    let avg = build_q(&mut r, &fm, 4, 4, "avg");
    assert_eq!(
        plan_err(&avg, AccelConfig::new(1, 1).unwrap()),
        "layer 'avg' (avgpool) is not supported by the accelerator (it runs dense, conv2d, flatten and max pools \
         fused into the conv before them)"
    );
    let mut fm3 = float_model(
        &mut r,
        [1, 7, 7],
        &[L::Conv(4, [3, 3], [1, 1], [1; 4]), L::Pool(2), L::Flatten, L::Logits(3)],
    );
    fm3.nodes[pool].op = Op::MaxPool {
        kernel: [3, 3],
        stride: [2, 2],
        pad: [0; 4],
    };
    let overlap = build_q(&mut r, &fm3, 4, 4, "overlap");
    assert_eq!(
        plan_err(&overlap, AccelConfig::new(1, 1).unwrap()),
        "layer 'pool1' (maxpool): kernel [3, 3], stride [2, 2], padding [0, 0, 0, 0]; the accelerator fuses only max \
         pools with kernel = stride and no padding"
    );
    // Writer throughput needs are met with bubbles, not errors: a 1×1 conv on one input channel takes one cycle
    // per position on a 4-PE array (the fused pool needs two), and 8 PEs with SIMD 1 write 8 words per group.
    let fm = float_model(
        &mut r,
        [1, 6, 6],
        &[L::Conv(4, [1, 1], [1, 1], [0; 4]), L::Pool(2), L::Flatten, L::Logits(3)],
    );
    let one = build_q(&mut r, &fm, 4, 4, "1x1");
    let plan = Plan::new(&one, &AccelConfig::new(4, 4).unwrap()).unwrap();
    assert_eq!((plan.layers[0].beats, plan.layers[0].bubbles), (1, 1));
    let plan = Plan::new(&one, &AccelConfig::new(8, 2).unwrap().with_target(None));
    assert!(plan.is_err(), "8 PEs on a model of at most 4 outputs");
    let fm = float_model(
        &mut r,
        [1, 6, 6],
        &[L::Conv(8, [1, 1], [1, 1], [0; 4]), L::Flatten, L::Logits(3)],
    );
    let wide = build_q(&mut r, &fm, 4, 4, "wide");
    let plan = Plan::new(&wide, &AccelConfig::new(8, 1).unwrap()).unwrap();
    assert_eq!((plan.layers[0].beats, plan.layers[0].bubbles), (1, 7));
}

/// The gate: compute cycles within 2 % of `Σ ⌈M/PE⌉·⌈N/SIMD⌉` (× positions), and weight memory within
/// 1.1 × `Σ k_w × parameters`, for the default model and the presets at W/A 2, 4, 8.
///
/// The default model is small (2 854 beats on its 1 × 4 array, 736 on 4 × 4): the fixed latencies of its three
/// layers are visible next to so few beats (a START cycle each, the pipeline drains — `timing::CODES_DRAIN`
/// per layer writing codes, + `pe/simd − 1` when `pe > simd`, and `Plan::logits_drain` for the last — and the
/// FINISH cycle: +8 % on 4 × 4). For it the 2 % bound is asserted on the array it is built for; on the other arrays
/// its cycles are bounded by the issued beats plus those fixed latencies (its 4-channel conv2 input pads to 8 lanes
/// on SIMD 8, so there the beats exceed the formula).
#[test]
fn cycle_counts_and_weight_memory_meet_the_bounds() {
    let mut r = rng("cycle_counts_and_weight_memory_meet_the_bounds");
    let mut models: Vec<(String, QModel)> = vec![("default (mnist5k-small W4A4)".into(), default_model())];
    for bits in [2, 4, 8] {
        let fm: FloatModel = mlp_preset(&mut r, [1, 28, 28], 10);
        models.push((format!("mlp W{bits}A{bits}"), build_q(&mut r, &fm, bits, bits, "mlp")));
        let fm = cnn_preset(&mut r, [1, 28, 28], 10);
        models.push((format!("cnn W{bits}A{bits}"), build_q(&mut r, &fm, bits, bits, "cnn")));
    }
    println!("| model | PE×SIMD | formula | beats | compute cycles | compute/formula | weight bits | exact | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, q) in &models {
        for (pe, simd) in [(4, 4), (8, 8), (2, 8), (1, 1), (16, 4)] {
            let plan = Plan::new(q, &AccelConfig::new(pe, simd).unwrap()).unwrap();
            let (f, c) = (plan.formula_cycles(), plan.compute_cycles());
            let m = plan.memory();
            let wr = m.weights as f64 / m.weights_exact as f64;
            println!(
                "| {name} | {pe}×{simd} | {f} | {} | {c} | {:.4} | {} | {} | {wr:.3} |",
                plan.beat_cycles(),
                c as f64 / f as f64,
                m.weights,
                m.weights_exact
            );
            // 16 × 4 needs a bubble per group on the 3-beat first conv (4 words per group): reported, not bounded.
            // START per layer, two codes-layer drains (+ pe/simd − 1 words when pe > simd), the last layer's drain,
            // FINISH.
            let fixed = 3 + 2 * (timing::CODES_DRAIN + (pe / simd).max(1) - 1) + plan.logits_drain() + 1;
            if models[0].0 == *name && (pe, simd) != (DEFAULT_PE, DEFAULT_SIMD) {
                assert!(
                    c <= plan.beat_cycles() + fixed,
                    "{name} {pe}×{simd}: {c} cycles vs {f} + {fixed}"
                );
            } else if pe <= simd {
                assert!(
                    c as f64 <= 1.02 * f as f64,
                    "{name} {pe}×{simd}: {c} cycles vs formula {f}"
                );
            }
            assert!(plan.beat_cycles() >= f);
            if simd <= 4 {
                assert!(wr <= 1.1, "{name} {pe}×{simd}: weight memory {wr:.3} × the exact bits");
            }
        }
    }
    // Pinned for the default model on its 1 × 4 array, computed by hand: conv1 4c 4×4 stride 4 on 1×28×28 (7×7
    // positions, 4 groups, 16 inputs = 4 beats), conv2 20c 3×3 stride 2 on 4×7×7 (3×3 positions, 20 groups, 36
    // inputs = 9 beats), fc 180 → 10 (10 groups, 45 beats): 784 + 1620 + 450 = 2854 beats; + 3 START, drains
    // 18 + 18 + 10 (the issue pipeline 3, stage 1, array 4, PACT 8, writer 2; for the logits bias 1, fold 1), 1
    // FINISH = 2904. Weights: 64 × 8 + 720 × 4 + 1800 × 8 bits (first and last layers 8 bits).
    let plan = Plan::new(&models[0].1, &default_array()).unwrap();
    assert_eq!(plan.formula_cycles(), 784 + 1620 + 450);
    assert_eq!(plan.beat_cycles(), 2854);
    assert_eq!(plan.compute_cycles(), 2854 + 3 + 18 + 18 + 10 + 1);
    assert_eq!(plan.memory().weights_exact, 64 * 8 + 720 * 4 + 1800 * 8);
    assert_eq!(plan.memory().weights, 17792);
}

#[test]
fn generate_writes_a_complete_directory_and_replaces_only_its_own() {
    let q = default_model();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("acc");
    let rep = generate(&q, &default_array(), &dir).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = rep.files.clone();
    want.sort();
    assert_eq!(names, want);
    assert!(names.contains(&"pact_accel.v".to_string()) && names.contains(&"w2_0.mem".to_string()));
    assert!(!names.contains(&"w2_1.mem".to_string()));
    println!("{}", rep.summary());
    assert!(rep.summary().contains(
        "cycles per inference: 2904 after the last pixel (3688 with one pixel per cycle; one image every 2905 in a \
             stream, 2 input buffer(s))"
    ));
    // No leftovers beside the directory.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "pact-accel");
    assert_eq!(m["timing"]["compute_cycles"], 2904);
    assert_eq!(m["timing"]["formula_cycles"], 2854);
    assert_eq!(m["timing"]["total_cycles"], 2904 + 784);
    // Two input buffers: the 784 pixels of the next image load during the 2904 compute cycles (+1 FINISH).
    assert_eq!(m["timing"]["interval_cycles"], 2905);
    assert_eq!(m["config"]["input_buffers"], 2);
    assert_eq!(m["ports"].as_array().unwrap().len(), 15);
    assert_eq!(m["layers"].as_array().unwrap().len(), 3);
    let est: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("estimate.json")).unwrap()).unwrap();
    assert_eq!(est["mac_lanes"], 4);
    assert_eq!(est["weight_bits"], 17792);
    // The dense layer's ROM for the one PE: rows 0..10 × 45 words of 4 × 8-bit indices (8 hex digits each).
    let w = std::fs::read_to_string(dir.join("w2_0.mem")).unwrap();
    assert_eq!(w.lines().count(), 10 * 45);
    assert!(w.lines().all(|l| l.len() == 8));
    assert!(rep.verilog.contains("$readmemh(\"w2_0.mem\""));
    // Regenerating replaces the directory (a stale file disappears).
    std::fs::write(dir.join("stale.mem"), "0\n").unwrap();
    generate(&q, &AccelConfig::new(2, 2).unwrap(), &dir).unwrap();
    assert!(!dir.join("stale.mem").exists() && dir.join("w2_1.mem").exists() && !dir.join("w2_2.mem").exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    // A directory that pact did not write is left alone.
    let other = tmp.path().join("mine");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep").unwrap();
    assert_eq!(
        generate(&q, &default_array(), &other).unwrap_err().to_string(),
        format!(
            "{} exists and is not an accelerator directory written by pact (no manifest.json); choose a new or empty \
             directory",
            other.display()
        )
    );
    assert_eq!(std::fs::read_to_string(other.join("notes.txt")).unwrap(), "keep");
    // A failing check writes nothing.
    let bad = tmp.path().join("bad");
    assert!(generate(&q, &AccelConfig::new(64, 1).unwrap(), &bad).is_err());
    assert!(!bad.exists());
}

#[test]
fn a_last_conv_needs_a_single_position() {
    let mut r = rng("a_last_conv_needs_a_single_position");
    let fm = float_model(
        &mut r,
        [2, 6, 6],
        &[L::Conv(4, [3, 3], [1, 1], [1; 4]), L::ConvLogits(3, [3, 3])],
    );
    let q = build_q(&mut r, &fm, 4, 4, "conv logits 4x4");
    assert_eq!(
        plan_err(&q, AccelConfig::new(1, 1).unwrap()),
        "layer 'conv1': the last layer is a conv with a 4×4 output; the accelerator's argmax takes one logit per \
         channel (a 1 × 1 output)"
    );
}

/// The planner's refusals carry their kind, so callers (`pact sweep`) need not read the text: a design larger than
/// its target device and a hardware capacity are `DoesNotFit`; the same array without a target plans.
#[test]
fn refusals_have_their_variant() {
    use pact_hdl::HdlError;
    let q = default_model();
    let big = AccelConfig::new(16, 16).unwrap();
    assert!(Plan::new(&q, &big).is_ok(), "16 × 16 without a target plans");
    let up5k = parse_target("ice40-up5k").unwrap();
    let e = Plan::new(&q, &big.with_target(up5k)).unwrap_err();
    assert!(matches!(e, HdlError::DoesNotFit(_)), "{e:?}");
}

/// What QONNX/QCDQ imports can carry and the engine cannot compute yet is refused up front, naming the layer (not
/// built into hardware that would differ from the golden model): two's-complement weights on lanes narrower than
/// the weights (digit passes split odd codes only), and a per-channel logit scale. Two's-complement weights on
/// lanes as wide as they are plan (co-simulated in `accel_cosim.rs`).
#[test]
fn imported_encodings_the_engine_lacks_are_refused() {
    use pact_hdl::HdlError;
    use pact_toolchain::contract::WeightEncoding;
    use pact_toolchain::qmodel::{LogitScale, QOp};
    fn compute(q: &mut QModel, i: usize) -> &mut pact_toolchain::qmodel::Compute {
        match &mut q.layers[i].op {
            QOp::Dense(c) | QOp::Conv2d(c) => c,
            other => panic!("layer {i} is a {}", other.kind()),
        }
    }
    let mut q = default_model();
    // conv1 (layer 0, 8-bit weights) with two's-complement weights: fine on 8-bit lanes, refused on 4-bit ones.
    compute(&mut q, 0).weights.encoding = WeightEncoding::TwosComplement;
    assert!(Plan::new(&q, &default_array()).is_ok());
    let e = Plan::new(&q, &default_array().with_lane_bits(Some(4)).unwrap()).unwrap_err();
    assert!(matches!(e, HdlError::Unsupported(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "layer 'conv1': its 8-bit two's-complement weights (imported from QONNX/QCDQ) need lanes of at least 8 bits \
         (--lane-bits 8 or more): digit passes split odd (DoReFa) weight codes only"
    );
    let mut q = default_model();
    let last = q.layers.len() - 1;
    compute(&mut q, last).logit_scale = Some(LogitScale {
        m0: vec![1 << 15; 10],
        shift: 15,
    });
    let e = Plan::new(&q, &default_array()).unwrap_err();
    assert!(matches!(e, HdlError::Unsupported(_)), "{e:?}");
    assert!(
        e.to_string().starts_with("layer 'fc': a per-channel logit scale"),
        "{e}"
    );
}

/// Automatic sizing's order on the default model for both targets: every candidate passes the fit rule (block RAMs
/// memory by memory included) and the logic budget; the first has the fewest LUTs among those within 1 % of the
/// fewest cycles; the rest follow by cycles, then LUTs.
#[test]
fn automatic_sizing_prefers_the_smaller_of_near_ties() {
    use pact_hdl::accel::autosize::{candidates, ice40_cells, Fixed, CYCLE_TIE_DIVISOR, ICE40_CELL_BUDGET};
    use pact_hdl::accel::emit::fit_estimate;
    let q = default_model();
    for device in [Device::Ice40Up5k, Device::Ecp5_25k] {
        let all = candidates(&q, device, Fixed::default()).unwrap();
        let min = all.iter().map(|c| c.cycles).min().unwrap();
        let near = min + min / CYCLE_TIE_DIVISOR;
        let tied: Vec<_> = all.iter().filter(|c| c.cycles <= near).collect();
        let least = tied.iter().map(|c| c.logic.luts).min().unwrap();
        println!(
            "{device}: {} candidates, fewest cycles {min}; chosen {}",
            all.len(),
            all[0].line(device)
        );
        assert!(
            all[0].cycles <= near && all[0].logic.luts == least,
            "{device}: {}",
            all[0].line(device)
        );
        let n = tied.len();
        assert!(
            all[..n].iter().all(|c| c.cycles <= near),
            "{device}: the near ties come first"
        );
        assert!(all[..n].windows(2).all(|w| w[0].logic.luts <= w[1].logic.luts));
        assert!(all[n..]
            .windows(2)
            .all(|w| (w[0].cycles, w[0].logic.luts) <= (w[1].cycles, w[1].logic.luts)));
        for c in &all {
            let plan = Plan::new(&q, &c.config).unwrap();
            let e = fit_estimate(&plan);
            assert!(
                pact_device::check_fit(device, &e).is_ok(),
                "{device}: {}",
                c.line(device)
            );
            if device == Device::Ice40Up5k {
                assert!(e.ice40_brams.unwrap() <= 30, "{}", c.line(device));
                assert!(
                    ice40_cells(&c.logic) as f64 <= ICE40_CELL_BUDGET * 5280.0,
                    "{}",
                    c.line(device)
                );
            }
        }
    }
}
