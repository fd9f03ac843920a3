//! The emitted accelerator and the open tools: `verilator --lint-only -Wall` with the project's waiver list
//! (`pact_hdl::verilog::VERILATOR_LINT_FLAGS`), Icarus Verilog (`iverilog -g2012`, a second simulator besides
//! Verilator) running pact-cosim's testbench, whose classes, logits and cycle counts are compared with the golden
//! model and the manifest, and yosys `synth_ice40`.

mod accel_support;

use accel_support::*;
use pact_cosim::icarus::run_icarus;
use pact_cosim::RunOptions;
use pact_hdl::accel::autosize::logic_estimate;
use pact_hdl::accel::emit::ice40_brams;
use pact_hdl::accel::AccelConfig;
use pact_hdl::accel::{generate_with, GenOptions, TopName};
use pact_hdl::verilog::{lint_named, synth_ice40_named};
use pact_toolchain::qmodel::QModel;
use std::time::Instant;

#[test]
fn emitted_accelerators_lint_clean() {
    let mut r = rng("emitted_accelerators_lint_clean");
    let default = default_model();
    let fm = tiny_conv(&mut r);
    let conv = build_q(&mut r, &fm, 2, 2, "tiny conv");
    let fm = tiny_mlp(&mut r);
    let mlp = build_q(&mut r, &fm, 8, 8, "tiny mlp");
    // `k`: lane bits (`None`: one pass per layer); 2 and 4 bits are LUT-mode lanes (shift and add), 8 DSP mode.
    // `shared`: one PACT unit for all PEs.
    for (name, q, pe, simd, k, shared) in [
        ("lint_default_4x4", &default, 4, 4, None, false),
        ("lint_default_16x4", &default, 16, 4, None, false),
        ("lint_default_4x8_k4", &default, 4, 8, Some(4), false),
        ("lint_default_8x4_k4_shared", &default, 8, 4, Some(4), true),
        ("lint_conv_1x1", &conv, 1, 1, None, false),
        ("lint_conv_2x8", &conv, 2, 8, None, false),
        ("lint_conv_2x4_k2", &conv, 2, 4, Some(2), false),
        ("lint_conv_3x3_shared", &conv, 3, 3, None, true),
        ("lint_mlp_8x2", &mlp, 8, 2, None, false),
    ] {
        let cfg = AccelConfig::new(pe, simd)
            .unwrap()
            .with_lane_bits(k)
            .unwrap()
            .with_shared_requant(shared);
        let rep = gen(name, q, &cfg);
        if let Err(e) = lint_named(&rep.verilog, rep.top.as_str()) {
            panic!("{name}: {e}");
        }
        println!(
            "{name}: verilator --lint-only -Wall clean ({} lines)",
            rep.verilog_lines
        );
    }
}

/// `pact gen --top my_acc` writes the top module `my_acc` alone into `my_acc.v` and its submodules into the library
/// file `my_acc_modules.v`; `verilator --lint-only -Wall` on the written files, with no waiver, reports nothing (no
/// DECLFILENAME: before, the top was always `top` in `accel.v`).
#[test]
fn a_named_top_lints_without_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        top: TopName::new("my_acc").unwrap(),
        ..GenOptions::default()
    };
    let rep = generate_with(&default_model(), &AccelConfig::new(4, 4).unwrap(), dir.path(), &opts).unwrap();
    let top = std::fs::read_to_string(dir.path().join("my_acc.v")).unwrap();
    let modules: Vec<&str> = top.lines().filter(|l| l.starts_with("module ")).collect();
    assert_eq!(modules.len(), 1, "one module in my_acc.v");
    assert!(modules[0].starts_with("module my_acc("), "{}", modules[0]);
    assert!(top.ends_with("endmodule // my_acc\n"));
    let lib = std::fs::read_to_string(dir.path().join("my_acc_modules.v")).unwrap();
    assert_eq!(format!("{top}{lib}"), rep.verilog);
    assert!(lib
        .lines()
        .filter(|l| l.starts_with("module "))
        .all(|l| l.starts_with("module top$")));
    assert_eq!(rep.manifest.top, "my_acc");
    assert_eq!(rep.manifest.verilog, "my_acc.v");
    let out = std::process::Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "--top-module",
            "my_acc",
            "my_acc.v",
            "-v",
            "my_acc_modules.v",
        ])
        .current_dir(dir.path())
        .output()
        .expect("verilator is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && !text.contains("%Warning"), "{text}");
}

/// Icarus Verilog runs the design (pact-cosim's testbench prints what the RTL produced; classes, logits and cycle
/// counts are compared with the golden model and the manifest with `==`).
fn icarus(name: &str, q: &QModel, cfg: AccelConfig, images: &[u8]) {
    let opts = RunOptions {
        config: cfg,
        cache_dir: Some(design_cache()),
        ..Default::default()
    };
    let t = Instant::now();
    let res = run_icarus(q, images, None, &opts).unwrap_or_else(|e| panic!("{name}: Icarus failed: {e:#}"));
    println!(
        "{name}: {} images, {} mismatches under Icarus ({:.0} cycles/s, wall {:.1} s)",
        res.images,
        res.mismatches(),
        res.cycles_per_second(),
        t.elapsed().as_secs_f64()
    );
    if let Some(m) = &res.mismatch {
        panic!("{name}: Icarus differs from the golden model: {m}");
    }
    assert_eq!(res.images * res.design.unwrap().report.plan.pixels(), images.len());
}

/// A tiny CNN under Icarus (the default model: `cosim/tests/icarus.rs`).
#[test]
fn icarus_agrees_with_golden() {
    let mut r = rng("icarus_agrees_with_golden");
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 3, 297);
    icarus("icarus_tiny_conv_2x4", &q, AccelConfig::new(2, 4).unwrap(), &images);
}

#[test]
fn yosys_synthesizes_the_accelerator() {
    let mut r = rng("yosys_synthesizes_the_accelerator");
    let fm = tiny_mlp(&mut r);
    let q = build_q(&mut r, &fm, 2, 2, "tiny mlp");
    let rep = gen("yosys_tiny_mlp_1x1", &q, &AccelConfig::new(1, 1).unwrap());
    let t = Instant::now();
    let s = synth_ice40_named(&rep.verilog, rep.top.as_str(), false).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "yosys synth_ice40, tiny MLP W2A2 on a 1 × 1 array: {} LUT4, {} FF, {} CARRY, {} RAM40_4K, {} MAC16 ({:.0} s)",
        s.luts,
        s.ffs,
        s.carries,
        s.brams,
        s.dsps,
        t.elapsed().as_secs_f64()
    );
    assert!(s.luts > 0 && s.ffs > 0 && s.brams > 0);
}

/// The automatic sizer's logic model ([`logic_estimate`]) against yosys `synth_ice40 -dsp` on the default model:
/// LUT4 within ±15 %, and the DSP count exact (lanes in DSP mode plus the PACT units' multipliers; LUT-mode lanes
/// take none), and the iCE40 block RAMs exact. Four designs of different modes and shapes: the shipped 1 × 4 on
/// 8-bit (DSP) lanes and 2 × 8 on 4-bit (LUT) lanes, both among the designs the model was fitted to, 4 × 8 on 2-bit
/// lanes, which was not, and 4 × 4 with one shared PACT unit.
#[test]
fn logic_estimate_tracks_yosys() {
    let q = default_model();
    for (pe, simd, k, shared) in [
        (1, 4, None, false),
        (4, 8, Some(2), false),
        (2, 8, Some(4), false),
        (4, 4, None, true),
    ] {
        let cfg = AccelConfig::new(pe, simd)
            .unwrap()
            .with_lane_bits(k)
            .unwrap()
            .with_shared_requant(shared);
        let rep = gen(&format!("yosys_estimate_{pe}x{simd}_{shared}"), &q, &cfg);
        let est = logic_estimate(&rep.plan);
        let t = Instant::now();
        let s = synth_ice40_named(&rep.verilog, rep.top.as_str(), true).unwrap_or_else(|e| panic!("{e}"));
        let dl = est.luts as f64 / f64::from(s.luts) - 1.0;
        println!(
            "default model {pe}×{simd}, lanes {} bits, shared requantization {shared}: yosys {} LUT4, {} FF, {} MAC16; estimate {} LUT4 ({:+.1} %), {} \
             FF ({:+.1} %), {} DSP ({:.0} s)",
            rep.plan.lane_bits,
            s.luts,
            s.ffs,
            s.dsps,
            est.luts,
            100.0 * dl,
            est.ffs,
            100.0 * (est.ffs as f64 / f64::from(s.ffs) - 1.0),
            est.dsps,
            t.elapsed().as_secs_f64()
        );
        assert!(
            dl.abs() <= 0.15,
            "{pe}×{simd}: LUT4 estimate {} vs yosys {}",
            est.luts,
            s.luts
        );
        assert_eq!(est.dsps, u64::from(s.dsps), "{pe}×{simd}: DSPs");
        // Synthesized as its own top, the debug port is live (the logit RAMs are built).
        let brams = ice40_brams(&rep.plan, true);
        println!("  block RAMs: yosys {}, estimate {brams}", s.brams);
        assert_eq!(brams, u64::from(s.brams), "{pe}×{simd}: block RAMs");
    }
}

/// The figures for docs/accelerator.md (slow: minutes per run): the default model on the default array.
#[test]
#[ignore = "minutes of yosys per run: reproduces the figures in docs/accelerator.md (cargo test -p pact-hdl --release --test accel_tools -- --ignored)"]
fn yosys_default_model_figures() {
    let q = default_model();
    for (pe, simd) in [(4, 4)] {
        let rep = gen(
            &format!("yosys_default_{pe}x{simd}"),
            &q,
            &AccelConfig::new(pe, simd).unwrap(),
        );
        for dsp in [false, true] {
            let t = Instant::now();
            let s = synth_ice40_named(&rep.verilog, rep.top.as_str(), dsp).unwrap_or_else(|e| panic!("{e}"));
            println!(
                "default model {pe}×{simd}, synth_ice40{}: {} LUT4, {} FF, {} CARRY, {} RAM40_4K, {} MAC16 ({:.0} s)",
                if dsp { " -dsp" } else { "" },
                s.luts,
                s.ffs,
                s.carries,
                s.brams,
                s.dsps,
                t.elapsed().as_secs_f64()
            );
        }
    }
}
