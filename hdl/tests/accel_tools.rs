//! The emitted accelerator and the open tools: `verilator --lint-only -Wall` with the project's waiver list
//! (`pact_hdl::verilog::VERILATOR_LINT_FLAGS`), Icarus Verilog (`iverilog -g2012`) running a self-checking
//! testbench whose expected classes, logits and cycle counts come from the golden model and the plan (a second
//! simulator besides Verilator), and yosys `synth_ice40`.

mod accel_support;

use accel_support::*;
use pact_hdl::accel::plan::Plan;
use pact_hdl::accel::{AccelConfig, GenReport};
use pact_hdl::verilog::{lint, synth_ice40};
use pact_sim::IcarusTestbench;
use pact_toolchain::golden::Golden;
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
    for (name, q, pe, simd) in [
        ("lint_default_4x4", &default, 4, 4),
        ("lint_default_16x4", &default, 16, 4),
        ("lint_conv_1x1", &conv, 1, 1),
        ("lint_conv_2x8", &conv, 2, 8),
        ("lint_mlp_8x2", &mlp, 8, 2),
    ] {
        let rep = gen(name, q, &AccelConfig::new(pe, simd).unwrap());
        if let Err(e) = lint(&rep.verilog) {
            panic!("{name}: {e}");
        }
        println!(
            "{name}: verilator --lint-only -Wall clean ({} lines)",
            rep.verilog_lines
        );
    }
}

/// A self-checking testbench: streams the images, counts the cycles from the last pixel to `out_valid`, and
/// compares the class, the cycle count and every logit (through the debug port) with the expected values.
fn testbench(rep: &GenReport, q: &QModel, images: &[u8]) -> String {
    let plan: &Plan = &rep.plan;
    let golden = Golden::new(q);
    let px = plan.pixels();
    let n = images.len() / px;
    let m = plan.classes;
    let dir = &rep.dir;
    let mut pix = String::new();
    for b in images {
        pix.push_str(&format!("{b:02x}\n"));
    }
    let mut logits = String::new();
    let mut classes = String::new();
    for i in 0..n {
        let inf = golden.infer(&images[i * px..(i + 1) * px]);
        classes.push_str(&format!("{:04x}\n", inf.class));
        for l in inf.logits {
            logits.push_str(&format!("{:08x}\n", l as u32));
        }
    }
    std::fs::write(dir.join("tb_pixels.mem"), pix).unwrap();
    std::fs::write(dir.join("tb_logits.mem"), logits).unwrap();
    std::fs::write(dir.join("tb_classes.mem"), classes).unwrap();
    let d = dir.display();
    format!(
        r#"
module tb;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg rst = 1'b1, in_valid = 1'b0, dbg_stop_en = 1'b0;
  reg [7:0] in_data = 8'h0;
  reg [15:0] dbg_stop_layer = 16'h0, dbg_lane = 16'h0, dbg_addr = 16'h0;
  reg [1:0] dbg_sel = 2'h0;
  wire in_ready, out_valid, busy, done;
  wire [15:0] out_class;
  wire [31:0] dbg_data;
  top dut(.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data), .in_ready(in_ready),
          .out_valid(out_valid), .out_class(out_class), .busy(busy), .done(done), .dbg_stop_en(dbg_stop_en),
          .dbg_stop_layer(dbg_stop_layer), .dbg_sel(dbg_sel), .dbg_lane(dbg_lane), .dbg_addr(dbg_addr),
          .dbg_data(dbg_data));
  reg [7:0] pix [0:{npix}];
  reg [31:0] exp_logit [0:{nlog}];
  reg [15:0] exp_class [0:{nimg}];
  integer i, k, c, cyc, errors;
  initial begin
    $readmemh("{d}/tb_pixels.mem", pix);
    $readmemh("{d}/tb_logits.mem", exp_logit);
    $readmemh("{d}/tb_classes.mem", exp_class);
    errors = 0;
    repeat (2) @(negedge clk);
    rst = 1'b0;
    for (i = 0; i < {n}; i = i + 1) begin
      for (k = 0; k < {px}; k = k + 1) begin
        @(negedge clk);
        if (!in_ready) begin $display("MISMATCH image %0d: in_ready low at pixel %0d", i, k); errors = errors + 1; end
        in_valid = 1'b1;
        in_data = pix[i * {px} + k];
      end
      @(negedge clk);
      in_valid = 1'b0;
      cyc = 0;
      while (!out_valid && cyc < {limit}) begin
        @(negedge clk);
        cyc = cyc + 1;
      end
      if (cyc != {cycles}) begin
        $display("MISMATCH image %0d: out_valid after %0d cycles, expected {cycles}", i, cyc);
        errors = errors + 1;
      end
      if (out_class != exp_class[i]) begin
        $display("MISMATCH image %0d: class %0d, golden %0d", i, out_class, exp_class[i]);
        errors = errors + 1;
      end
      for (c = 0; c < {m}; c = c + 1) begin
        dbg_sel = 2'h3;
        dbg_lane = c % {pe};
        dbg_addr = c / {pe};
        @(negedge clk);
        if (dbg_data != exp_logit[i * {m} + c]) begin
          $display("MISMATCH image %0d logit %0d: RTL %0d golden %0d", i, c, $signed(dbg_data),
                   $signed(exp_logit[i * {m} + c]));
          errors = errors + 1;
        end
      end
      @(negedge clk);
    end
    $display("icarus: %0d images, %0d mismatches", {n}, errors);
    $finish;
  end
endmodule
"#,
        npix = images.len() - 1,
        nlog = n * m - 1,
        nimg = n - 1,
        cycles = plan.compute_cycles(),
        limit = plan.compute_cycles() + 1000,
        pe = plan.pe,
    )
}

fn icarus(name: &str, q: &QModel, cfg: AccelConfig, images: &[u8]) {
    let rep = gen(name, q, &cfg);
    let tb = testbench(&rep, q, images);
    let t = Instant::now();
    let run = IcarusTestbench::new()
        .file(rep.dir.join("accel.v"))
        .text("tb.v", tb)
        .top("tb")
        .run()
        .unwrap_or_else(|e| panic!("{name}: Icarus testbench failed: {e}"));
    let n = images.len() / rep.plan.pixels();
    let cycles = n * rep.plan.total_cycles();
    println!(
        "{name}: {} (iverilog {:.1} s, vvp {:.1} s, about {:.0} cycles/s, wall {:.1} s)",
        run.stdout.lines().find(|l| l.starts_with("icarus:")).unwrap_or("?"),
        run.compile_time.as_secs_f64(),
        run.run_time.as_secs_f64(),
        cycles as f64 / run.run_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    assert!(
        run.stdout.contains(&format!("icarus: {n} images, 0 mismatches")),
        "{name}: {}",
        run.stdout
    );
}

#[test]
fn icarus_agrees_with_golden() {
    let mut r = rng("icarus_agrees_with_golden");
    let fm = tiny_conv(&mut r);
    let q = build_q(&mut r, &fm, 4, 4, "tiny conv");
    let images = random_images(&mut r, 3, 297);
    icarus("icarus_tiny_conv_2x4", &q, AccelConfig::new(2, 4).unwrap(), &images);
    let q = default_model();
    let ds = mnist_test();
    let n = env_usize("PACT_ACCEL_ICARUS_IMAGES", 1);
    icarus("icarus_default_4x4", &q, AccelConfig::default(), &ds.images[..n * 784]);
}

#[test]
fn yosys_synthesizes_the_accelerator() {
    let mut r = rng("yosys_synthesizes_the_accelerator");
    let fm = tiny_mlp(&mut r);
    let q = build_q(&mut r, &fm, 2, 2, "tiny mlp");
    let rep = gen("yosys_tiny_mlp_1x1", &q, &AccelConfig::new(1, 1).unwrap());
    let t = Instant::now();
    let s = synth_ice40(&rep.verilog, false).unwrap_or_else(|e| panic!("{e}"));
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
            let s = synth_ice40(&rep.verilog, dsp).unwrap_or_else(|e| panic!("{e}"));
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
