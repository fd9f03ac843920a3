//! The same check under Icarus Verilog (a second, event-driven simulator): a Verilog testbench streams the images
//! into the design and prints what the RTL produced (class, compute cycles, every logit through the debug port);
//! the comparison with the golden model is [`crate::check`]'s, in Rust, with `==`. Slow (about 1 000 cycles/s on
//! the default design, one 28 × 28 image ≈ 65 s): for a handful of images.

use crate::check::{locate, CoSimReport, Mismatch, RunOptions};
use crate::design::{self, Design};
use crate::dut::Dut;
use anyhow::{anyhow, bail, Context, Result};
use pact_sim::IcarusTestbench;
use pact_toolchain::golden::{argmax, Golden};
use pact_toolchain::qmodel::QModel;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The testbench for `design` and `n` images whose pixels are in `pixels_file` (one hex byte per line). It prints
/// `pact-out I CLASS CYCLES` and `pact-logit I C VALUE` lines (VALUE signed decimal), or `pact-err I …` for a
/// handshake error.
pub fn testbench(design: &Design, n: usize, pixels_file: &Path) -> String {
    let plan = &design.report.plan;
    let px = plan.pixels();
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
  {top} dut(.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data), .in_ready(in_ready),
          .out_valid(out_valid), .out_class(out_class), .busy(busy), .done(done), .dbg_stop_en(dbg_stop_en),
          .dbg_stop_layer(dbg_stop_layer), .dbg_sel(dbg_sel), .dbg_lane(dbg_lane), .dbg_addr(dbg_addr),
          .dbg_data(dbg_data));
  reg [7:0] pix [0:{last_px}];
  integer i, k, c, cyc;
  initial begin
    $readmemh("{file}", pix);
    repeat (2) @(negedge clk);
    rst = 1'b0;
    for (i = 0; i < {n}; i = i + 1) begin
      for (k = 0; k < {px}; k = k + 1) begin
        @(negedge clk);
        if (!in_ready) $display("pact-err %0d in_ready low at pixel %0d", i, k);
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
      $display("pact-out %0d %0d %0d", i, out_class, cyc);
      for (c = 0; c < {m}; c = c + 1) begin
        dbg_sel = 2'h3;
        dbg_lane = c % {pe};
        dbg_addr = c / {pe};
        @(negedge clk);
        $display("pact-logit %0d %0d %0d", i, c, $signed(dbg_data));
      end
      @(negedge clk);
    end
    $finish;
  end
endmodule
"#,
        file = pixels_file.display(),
        last_px = (n * px).max(1) - 1,
        limit = 2 * plan.compute_cycles() + 1000,
        m = plan.classes,
        pe = plan.pe,
        top = design.top(),
    )
}

/// What the testbench printed for one image.
#[derive(Default)]
struct Out {
    class: Option<usize>,
    cycles: u64,
    logits: BTreeMap<usize, i32>,
    errors: Vec<String>,
}

fn parse(stdout: &str) -> Result<BTreeMap<usize, Out>> {
    let mut outs: BTreeMap<usize, Out> = BTreeMap::new();
    for line in stdout.lines() {
        let mut w = line.split_whitespace();
        let tag = w.next().unwrap_or("");
        if !tag.starts_with("pact-") {
            continue;
        }
        let bad = || anyhow!("unreadable testbench line: {line}");
        let i: usize = w.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let o = outs.entry(i).or_default();
        match tag {
            "pact-out" => {
                o.class = Some(w.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?);
                o.cycles = w.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            }
            "pact-logit" => {
                let c: usize = w.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                let v: i32 = w.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
                o.logits.insert(c, v);
            }
            "pact-err" => o.errors.push(w.collect::<Vec<_>>().join(" ")),
            _ => return Err(bad()),
        }
    }
    Ok(outs)
}

/// Run the check of [`crate::run`] under Icarus Verilog: the same design (generated or reused in the cache),
/// every image's class, logits and compute cycles compared with the golden model with `==`; the report names the
/// first mismatching image. Icarus cannot halt layer by layer from here, so the differing layer is located with
/// Verilator on the same design when it is installed (`locate_note` says when it was not possible).
/// `opts.trace` and `opts.check` (layered images, input gaps) are not supported and refused.
pub fn run_icarus(q: &QModel, images: &[u8], labels: Option<&[u8]>, opts: &RunOptions) -> Result<CoSimReport> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    if opts.trace.is_some() {
        bail!("--trace is supported with --simulator verilator only");
    }
    if opts.check.layered > 0 || opts.check.gap_seed.is_some() {
        bail!("layer-by-layer runs and input gaps are supported with the Verilator simulator only");
    }
    let cache = opts.cache_dir.clone().unwrap_or_else(design::default_cache_dir);
    let design = design::prepare(q, &opts.config, opts.fault, &cache)?;
    let plan = &design.report.plan;
    let px = plan.pixels();
    anyhow::ensure!(
        !images.is_empty() && images.len() % px == 0,
        "{} pixel codes are not a whole, nonzero number of {px}-pixel images",
        images.len()
    );
    let n = images.len() / px;
    let tmp = cache.join(format!(
        ".tb-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let pixels_file = tmp.join("pixels.mem");
    let hex: String = images.iter().map(|b| format!("{b:02x}\n")).collect();
    std::fs::write(&pixels_file, hex).with_context(|| format!("writing {}", pixels_file.display()))?;
    // About 1 000 cycles/s on the default design; allow 5× slower plus a minute.
    let budget = (n * plan.total_cycles()) as u64 / 200 + 60;
    let run = IcarusTestbench::new()
        .file(design.verilog_path())
        .file(design.modules_path())
        .text("tb.v", testbench(&design, n, &pixels_file))
        .top("tb")
        .timeout(Duration::from_secs(budget))
        .run();
    let _ = std::fs::remove_dir_all(&tmp);
    let run = run.context("Icarus Verilog")?;
    let outs = parse(&run.stdout)?;
    let golden = Golden::new(q);
    let mut res = CoSimReport {
        compute_cycles: design.compute_cycles,
        total_cycles: design.compute_cycles + px as u64,
        interval_cycles: plan.interval_cycles() as u64,
        labelled: labels.is_some(),
        seconds: run.run_time.as_secs_f64(),
        simulator: "icarus",
        // Every image ran: reset, pixels, compute, the logit reads and one idle cycle.
        cycles: 2 + (n * (px + 1 + plan.classes + 1)) as u64 + n as u64 * design.compute_cycles,
        ..Default::default()
    };
    for i in 0..n {
        let img = &images[i * px..(i + 1) * px];
        let inf = golden.infer(img);
        res.images += 1;
        let mut outputs = Vec::new();
        match outs.get(&i) {
            None | Some(Out { class: None, .. }) => outputs.push("the testbench printed no result".to_string()),
            Some(o) => {
                res.results += 1;
                outputs.extend(o.errors.iter().cloned());
                let class = o.class.unwrap_or(usize::MAX);
                let logits: Vec<i32> = (0..plan.classes)
                    .map(|c| o.logits.get(&c).copied().unwrap_or(0))
                    .collect();
                if o.logits.len() != plan.classes {
                    outputs.push(format!("{} logits printed, {} expected", o.logits.len(), plan.classes));
                }
                if o.cycles != design.compute_cycles {
                    outputs.push(format!(
                        "compute cycles {}, manifest {}",
                        o.cycles, design.compute_cycles
                    ));
                }
                if class != inf.class {
                    outputs.push(format!("class RTL {class}, golden {}", inf.class));
                }
                if class != argmax(&logits) {
                    outputs.push(format!(
                        "class RTL {class} is not the argmax {} of the RTL's own logits",
                        argmax(&logits)
                    ));
                }
                let d: Vec<usize> = (0..logits.len()).filter(|&k| logits[k] != inf.logits[k]).collect();
                if let Some(&k) = d.first() {
                    outputs.push(format!(
                        "{} of {} logits differ, first logit {k}: RTL {}, golden {}",
                        d.len(),
                        logits.len(),
                        logits[k],
                        inf.logits[k]
                    ));
                }
                if labels.is_some_and(|l| l.get(i).is_some_and(|&l| l as usize == class)) {
                    res.correct += 1;
                }
            }
        }
        if !outputs.is_empty() {
            let located = design::verilate(&design, false)
                .and_then(|m| Dut::new(&m, plan))
                .and_then(|mut d| locate(&mut d, q, img));
            let (layer, locate_note) = match located {
                Ok(Some(l)) => (Some(l), None),
                Ok(None) => (
                    None,
                    Some("Verilator shows no differing layer on this design: the simulators disagree".into()),
                ),
                Err(e) => (None, Some(format!("could not locate the layer with Verilator: {e:#}"))),
            };
            res.mismatch = Some(Mismatch {
                image: i,
                outputs,
                layer,
                locate_note,
            });
            break;
        }
    }
    res.design = Some(design);
    Ok(res)
}
