//! The Icarus Verilog self-checking testbench runner.

mod common;

use pact_sim::{IcarusTestbench, SimError};

/// A testbench for the counter fixture that compares against expected values and prints MISMATCH on error.
fn counter_tb(expect_offset: u32) -> String {
    format!(
        r#"
module tb;
  reg clk = 0, rst = 1, en = 0, load = 0;
  reg [7:0] d = 0;
  wire [7:0] count;
  wire wrap;
  integer i, errors = 0;
  counter dut(.clk(clk), .rst(rst), .en(en), .load(load), .d(d), .count(count), .wrap(wrap));
  always #5 clk = ~clk;
  initial begin
    @(negedge clk) rst = 0; en = 1;
    for (i = 1; i <= 300; i = i + 1) begin
      @(negedge clk);
      if (count !== ((i + {expect_offset}) % 256)) begin
        $display("MISMATCH at %0d: count=%0d", i, count);
        errors = errors + 1;
      end
    end
    $display("PASS? checked 300 cycles, errors: %0d", errors);
    $finish;
  end
endmodule
"#
    )
}

#[test]
fn passing_testbench_returns_its_output() {
    let run = IcarusTestbench::new()
        .file(common::fixture("counter.v"))
        .text("tb.v", counter_tb(0))
        .top("tb")
        .run()
        .unwrap();
    assert!(run.stdout.contains("checked 300 cycles, errors: 0"), "{}", run.stdout);
    println!("iverilog {:?}, vvp {:?}", run.compile_time, run.run_time);
}

#[test]
fn mismatch_line_fails() {
    let err = IcarusTestbench::new()
        .file(common::fixture("counter.v"))
        .text("tb.v", counter_tb(1))
        .top("tb")
        .run()
        .unwrap_err();
    assert!(matches!(err, SimError::Icarus { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("icarus testbench failed: output line 1 says `MISMATCH at 1: count=1`"),
        "{err}"
    );
}

#[test]
fn fatal_and_error_fail() {
    let fatal = "module tb; initial begin $display(\"x\"); $fatal(1, \"bad\"); end endmodule\n";
    let err = IcarusTestbench::new().text("tb.v", fatal).run().unwrap_err();
    assert!(err.to_string().contains("failed: vvp exit status: 1"), "{err}");
    let error = "module tb; initial begin $error(\"oops\"); $finish; end endmodule\n";
    let err = IcarusTestbench::new().text("tb.v", error).run().unwrap_err();
    assert!(err.to_string().contains("says `ERROR: tb.v:1: oops`"), "{err}");
}

#[test]
fn syntax_error_fails_to_compile() {
    let err = IcarusTestbench::new()
        .text("bad.v", "module x(;\nendmodule\n")
        .run()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("icarus testbench did not compile"), "{msg}");
    assert!(msg.contains("bad.v:1: syntax error"), "{msg}");
}

#[test]
fn plusargs_and_defines_reach_the_testbench() {
    let tb = "module tb; integer n; initial begin if (!$value$plusargs(\"N=%d\", n)) n = -1; \
              $display(\"n=%0d w=%0d\", n, `W); end endmodule\n";
    let run = IcarusTestbench::new()
        .text("tb.v", tb)
        .define("W", "7")
        .plusarg("+N=42")
        .run()
        .unwrap();
    assert!(run.stdout.contains("n=42 w=7"), "{}", run.stdout);
}
