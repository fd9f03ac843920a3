//! The board core (rust-hdl UART host interface + reset) around the stand-in accelerator: Verilator lint and an
//! Icarus testbench that sends images over the simulated UART and checks the class bytes that come back.

use std::process::Command;

use pact_sim::IcarusTestbench;
use pact_synth::board::{
    core_modules_file, core_verilog, split_core, standin_class, write_standin, AccelPorts, CORE_MODULE,
    STANDIN_MOD10_HEX_FILE,
};
use pact_synth::estimate::{ports_from_manifest, Port};
use pact_synth::uart::check_baud;

/// A clock that gives 16 cycles per bit at 115 200 baud, so that the simulation is short.
const CLOCK_MHZ: f64 = 16.0 * 115_200.0 / 1e6;
const CPB: u32 = 16;

fn core() -> String {
    assert_eq!(check_baud(CLOCK_MHZ * 1e6, 115_200), Ok(CPB));
    core_verilog(CLOCK_MHZ, 115_200, &AccelPorts::standin()).unwrap()
}

/// A small deterministic generator (xorshift), so that the images are reproducible; the seed is printed.
fn images(seed: u64, n: usize, pixels: usize) -> Vec<Vec<u8>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (0..pixels)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 24) as u8
                })
                .collect()
        })
        .collect()
}

#[test]
fn core_verilog_lints_clean_with_verilator() {
    // As the flow writes it: the core alone in pact_board_core.v, its submodules in a library file; no waiver.
    let dir = tempfile::tempdir().unwrap();
    let (top, modules) = split_core(&core()).unwrap();
    std::fs::write(dir.path().join(format!("{CORE_MODULE}.v")), top).unwrap();
    std::fs::write(dir.path().join(core_modules_file()), modules).unwrap();
    write_standin(dir.path()).unwrap();
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", CORE_MODULE])
        .arg(dir.path().join(format!("{CORE_MODULE}.v")))
        .arg(dir.path().join("pact_standin_accel.v"))
        .arg("-v")
        .arg(dir.path().join(core_modules_file()))
        .output()
        .expect("verilator is installed (apt-get install verilator)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("%Warning") && !text.contains("%Error"),
        "verilator lint:\n{text}"
    );
}

/// An accelerator shaped like pact-hdl's: module `top` (rust-hdl's name, like the core's before renaming),
/// 16-bit class, debug ports to tie off.
#[test]
fn core_around_a_module_named_top_with_debug_ports_lints_clean() {
    let listed = Port::list(&[
        ("clk", "in", 1),
        ("rst", "in", 1),
        ("in_valid", "in", 1),
        ("in_data", "in", 8),
        ("in_ready", "out", 1),
        ("out_valid", "out", 1),
        ("out_class", "out", 16),
        ("busy", "out", 1),
        ("done", "out", 1),
        ("dbg_sel", "in", 2),
        ("dbg_data", "out", 32),
    ]);
    let ports = ports_from_manifest("top", &listed).unwrap();
    let core = core_verilog(CLOCK_MHZ, 115_200, &ports).unwrap();
    assert!(
        core.contains("\ntop accel (") || core.contains(" top accel ("),
        "{core}"
    );
    assert!(core.contains(".dbg_sel(2'd0)") && core.contains("assign out_class = class_w[7:0];"));
    let stub = "module top(input wire clk, input wire rst, input wire in_valid, input wire [7:0] in_data,\n\
                output wire in_ready, output wire out_valid, output wire [15:0] out_class, output wire busy,\n\
                output wire done, input wire [1:0] dbg_sel, output wire [31:0] dbg_data);\n\
                assign in_ready = 1'b1; assign out_valid = in_valid & ~rst; assign out_class = {8'd0, in_data};\n\
                assign busy = clk; assign done = 1'b0; assign dbg_data = {30'd0, dbg_sel};\nendmodule\n";
    let dir = tempfile::tempdir().unwrap();
    let (top, modules) = split_core(&core).unwrap();
    std::fs::write(dir.path().join(format!("{CORE_MODULE}.v")), top).unwrap();
    std::fs::write(dir.path().join(core_modules_file()), modules).unwrap();
    std::fs::write(dir.path().join("top.v"), stub).unwrap();
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", CORE_MODULE])
        .arg(dir.path().join(format!("{CORE_MODULE}.v")))
        .arg(dir.path().join("top.v"))
        .arg("-v")
        .arg(dir.path().join(core_modules_file()))
        .output()
        .expect("verilator is installed (apt-get install verilator)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("%Error"),
        "verilator lint:\n{text}"
    );
    // The stub's own unused inputs may warn; the core must not.
    let core_warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("%Warning") && l.contains(CORE_MODULE))
        .collect();
    assert!(core_warnings.is_empty(), "{text}");
}

#[test]
fn images_over_the_uart_come_back_classified() {
    let seed = 0x5eed_0001_u64;
    println!("image seed {seed:#x}");
    let imgs = images(seed, 4, 16);
    let mut expected = String::new();
    let mut stimulus = String::new();
    for (k, img) in imgs.iter().enumerate() {
        for (i, p) in img.iter().enumerate() {
            stimulus.push_str(&format!("        image[{}] = 8'd{p};\n", k * 16 + i));
        }
        expected.push_str(&format!("        want[{k}] = 8'd{};\n", standin_class(img)));
    }
    let n = imgs.len();
    let tb = format!(
        r#"`timescale 1ns/1ps
module tb;
    localparam CPB = {CPB};
    reg clk = 1'b0;
    always #5 clk = ~clk;
    reg rx = 1'b1;
    reg reset_request = 1'b0;
    wire tx, busy, done, error;
    wire [7:0] last_class;
    {CORE_MODULE} dut (
        .clock(clk), .reset_request(reset_request), .uart_rx(rx), .uart_tx(tx),
        .led_busy(busy), .led_done(done), .led_error(error), .last_class(last_class)
    );
    reg [7:0] image [0:{pix}];
    reg [7:0] want [0:{last}];
    reg [7:0] got;
    integer k, i, failures;

    task send_byte(input [7:0] b, input stop);
        integer j;
        begin
            rx = 1'b0;
            repeat (CPB) @(posedge clk);
            for (j = 0; j < 8; j = j + 1) begin
                rx = b[j];
                repeat (CPB) @(posedge clk);
            end
            rx = stop;
            repeat (CPB) @(posedge clk);
            rx = 1'b1;
            repeat (CPB) @(posedge clk);
        end
    endtask

    task recv_byte(output [7:0] b);
        integer j;
        begin
            @(negedge tx);
            repeat (CPB / 2) @(posedge clk);
            if (tx !== 1'b0) $display("FAIL: start bit not low");
            for (j = 0; j < 8; j = j + 1) begin
                repeat (CPB) @(posedge clk);
                b[j] = tx;
            end
            repeat (CPB) @(posedge clk);
            if (tx !== 1'b1) $display("FAIL: stop bit not high");
        end
    endtask

    initial begin
        #50_000_000 $display("FAIL: timeout");
        $finish;
    end

    initial begin
        failures = 0;
{stimulus}{expected}
        // Power-on reset (255 cycles), plus a reset request from the "button".
        repeat (20) @(posedge clk);
        if (tx !== 1'b1) $display("FAIL: tx not idle high after configuration");
        reset_request = 1'b1;
        repeat (10) @(posedge clk);
        reset_request = 1'b0;
        repeat (300) @(posedge clk);
        for (k = 0; k < {n}; k = k + 1) begin
            fork
                for (i = 0; i < 16; i = i + 1) send_byte(image[k * 16 + i], 1'b1);
                recv_byte(got);
            join
            if (got !== want[k]) begin
                $display("MISMATCH image %0d: got class %0d, want %0d", k, got, want[k]);
                failures = failures + 1;
            end else $display("image %0d: class %0d", k, got);
            if (last_class !== want[k]) $display("MISMATCH last_class %0d", last_class);
            repeat (CPB) @(posedge clk);
            if (done !== 1'b1) $display("FAIL: done LED not lit after a class");
        end
        if (error !== 1'b0) $display("FAIL: error LED lit without an error");
        // A frame whose stop bit is low lights the error LED; reset clears it.
        send_byte(8'h55, 1'b0);
        repeat (4) @(posedge clk);
        if (error !== 1'b1) $display("FAIL: framing error not flagged");
        reset_request = 1'b1;
        repeat (4) @(posedge clk);
        reset_request = 1'b0;
        repeat (300) @(posedge clk);
        if (error !== 1'b0) $display("FAIL: reset did not clear the error LED");
        $display("PASS: %0d images, failures: %0d", {n}, failures);
        $finish;
    end
endmodule
"#,
        pix = n * 16 - 1,
        last = n - 1,
    );
    let dir = tempfile::tempdir().unwrap();
    write_standin(dir.path()).unwrap();
    let hex = dir.path().join(STANDIN_MOD10_HEX_FILE);
    let run = IcarusTestbench::new()
        .text("core.v", core())
        .file(dir.path().join("pact_standin_accel.v"))
        .define("PACT_STANDIN_MOD10_HEX", format!("\"{}\"", hex.display()))
        .text("tb.v", tb)
        .top("tb")
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    print!("{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("PASS: {n} images, failures: 0")),
        "{}",
        run.stdout
    );
    for (k, img) in imgs.iter().enumerate() {
        assert!(run.stdout.contains(&format!("image {k}: class {}", standin_class(img))));
    }
}

/// The same core in rust-hdl's own simulator, with the Rust behaviour of the accelerator leaf (the stand-in's:
/// 16 pixels, sum mod 10), at 4 clocks per bit: one image in over the UART, its class byte out.
#[test]
fn core_in_rust_hdl_simulation_with_the_stand_in_behaviour() {
    use pact_synth::board::BoardCore;
    use pact_synth::uart::frame_bits;
    use rust_hdl::prelude::*;

    const BIT: usize = 4;
    let image = images(0x5eed_0002, 1, 16).remove(0);
    let want = standin_class(&image);
    println!("class {want} for image {image:?}");
    let mut sim = simple_sim!(BoardCore, clock, 100_000_000, ep, {
        let mut x = ep.init()?;
        x.reset_request.next = false;
        x.uart_rx.next = true;
        let mut line_out = Vec::new();
        for _ in 0..300 {
            wait_clock_cycle!(ep, clock, x);
            line_out.push(x.uart_tx.val());
        }
        for &p in &image {
            for b in frame_bits(p) {
                x.uart_rx.next = b;
                for _ in 0..BIT {
                    wait_clock_cycle!(ep, clock, x);
                    line_out.push(x.uart_tx.val());
                }
            }
        }
        x.uart_rx.next = true;
        for _ in 0..60 {
            wait_clock_cycle!(ep, clock, x);
            line_out.push(x.uart_tx.val());
        }
        // Decode the reply: first falling edge, then the middle of each bit.
        let start = line_out
            .windows(2)
            .position(|w| w[0] && !w[1])
            .map(|i| i + 1)
            .unwrap_or(0);
        let mut bits10 = [false; 10];
        for (k, b) in bits10.iter_mut().enumerate() {
            *b = line_out.get(start + BIT / 2 + k * BIT).copied().unwrap_or(true);
        }
        let got = pact_synth::uart::decode_frame(&bits10).map(|b| b as u64).unwrap_or(999);
        sim_assert_eq!(ep, got, want as u64, x);
        sim_assert_eq!(ep, x.last_class.val().index() as u64, want as u64, x);
        sim_assert!(ep, !x.led_error.val(), x);
        ep.done(x)
    });
    let mut core = BoardCore::new(BIT as u32, &AccelPorts::standin());
    core.connect_all();
    sim.run(Box::new(core), 1_000_000_000_000)
        .expect("rust-hdl simulation: the class byte came back");
}
