//! Board top-levels: the accelerator wrapped with a UART host interface, reset handling and a PLL.
//!
//! Two layers:
//!
//! * **`pact_board_core`** (rust-hdl, [`BoardCore`]): UART receiver → one-byte holding register → the
//!   accelerator's pixel stream (valid/ready); the accelerator's class (valid) → UART transmitter; a reset
//!   generator (two-flip-flop synchronizer + 255-cycle stretch, also asserted from configuration on); status
//!   flags for LEDs. The accelerator is an instance of an external module ([`AccelInstance`], a rust-hdl
//!   `Wrapper` leaf) whose port names come from [`AccelPorts`] (the generator's manifest).
//! * **the board shell** (`pact_icebreaker`, `pact_ulx3s`, `pact_arty_a7`; Verilog text written by
//!   [`board_shell`]): the board's pin names, the PLL primitive (`SB_PLL40_PAD` on iCE40, `EHXPLLL` on ECP5,
//!   parameters from [`crate::pll`]) and LED polarity.
//!
//! Host protocol, 115 200 baud 8N1 by default: send the image's bytes (as many as the accelerator consumes per
//! inference, in its input order); receive one byte, the class index. Bytes sent while the accelerator is not
//! taking pixels wait in the holding register; a byte arriving while the register is still full is lost and
//! lights the error LED (the host must wait for the class byte before sending the next image). A framing error
//! also lights it. The reset button (or PLL loss of lock) resets the core and the accelerator.

use std::path::Path;

use rust_hdl::prelude::*;
use serde::{Deserialize, Serialize};

use crate::pll::{ecp5_pll, ice40_pll};
use crate::uart::{check_baud, UartRx, UartTx};

/// Name of the rust-hdl wrapper module in the emitted Verilog (rust-hdl calls every top `top`; the emitted
/// text is renamed so that it cannot collide with an accelerator that rust-hdl also emitted).
pub const CORE_MODULE: &str = "pact_board_core";

const ACCEL_PLACEHOLDER: &str = "PACT_ACCEL_MODULE_PLACEHOLDER";

/// The default UART rate.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Cycles the reset generator holds reset after configuration or after its request goes low.
pub const RESET_CYCLES: u32 = 255;

/// The accelerator's streaming interface: module name and port names (from the generator's manifest, or these
/// defaults: `clk`, `rst`, `in_data`, `in_valid`, `in_ready`, `out_class`, `out_valid`, `busy`, `done`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelPorts {
    /// Verilog module name of the accelerator.
    pub module: String,
    /// Clock input (rising edge).
    pub clk: String,
    /// Reset input.
    pub rst: String,
    /// Whether `rst` is active low.
    pub rst_active_low: bool,
    /// Pixel input, 8 bits.
    pub in_data: String,
    /// Pixel valid (input).
    pub in_valid: String,
    /// Pixel ready (output).
    pub in_ready: String,
    /// Class index output.
    pub out_class: String,
    /// Width of `out_class` in bits (1..=8).
    pub class_bits: u32,
    /// Class valid (output).
    pub out_valid: String,
    /// Busy output, if the accelerator has one.
    pub busy: Option<String>,
    /// Done output, if the accelerator has one (not used by the core; left unconnected).
    pub done: Option<String>,
    /// Other inputs (e.g. debug ports), tied to 0: name and width.
    #[serde(default)]
    pub tie_low: Vec<(String, u32)>,
    /// Other outputs, left unconnected: name and width.
    #[serde(default)]
    pub unused_outputs: Vec<(String, u32)>,
}

impl AccelPorts {
    /// The default port names for a module.
    pub fn with_module(module: &str) -> Self {
        AccelPorts {
            module: module.to_string(),
            clk: "clk".into(),
            rst: "rst".into(),
            rst_active_low: false,
            in_data: "in_data".into(),
            in_valid: "in_valid".into(),
            in_ready: "in_ready".into(),
            out_class: "out_class".into(),
            class_bits: 8,
            out_valid: "out_valid".into(),
            busy: Some("busy".into()),
            done: Some("done".into()),
            tie_low: Vec::new(),
            unused_outputs: Vec::new(),
        }
    }

    /// The ports of the stand-in accelerator [`STANDIN_ACCEL_V`] (default names, 4-bit class).
    pub fn standin() -> Self {
        AccelPorts {
            class_bits: 4,
            ..AccelPorts::with_module("pact_standin_accel")
        }
    }

    /// Check the names (Verilog identifiers) and the class width.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = vec![
            &self.module,
            &self.clk,
            &self.rst,
            &self.in_data,
            &self.in_valid,
            &self.in_ready,
            &self.out_class,
            &self.out_valid,
        ];
        names.extend(self.busy.iter());
        names.extend(self.done.iter());
        names.extend(self.tie_low.iter().map(|t| &t.0));
        names.extend(self.unused_outputs.iter().map(|t| &t.0));
        for n in names {
            let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            if !ok {
                return Err(format!(
                    "accelerator port or module name `{n}` is not a Verilog identifier"
                ));
            }
        }
        if !(1..=32).contains(&self.class_bits) {
            return Err(format!(
                "accelerator class output is {} bits wide; the board top-level takes 1..=32 bits (and sends the \
                 low 8 as one byte)",
                self.class_bits
            ));
        }
        if let Some((n, w)) = self
            .tie_low
            .iter()
            .chain(&self.unused_outputs)
            .find(|t| !(1..=1024).contains(&t.1))
        {
            return Err(format!("accelerator port `{n}` is {w} bits wide (1..=1024)"));
        }
        Ok(())
    }
}

/// The accelerator instance inside [`BoardCore`]: a rust-hdl `Wrapper` leaf whose Verilog instantiates the
/// external module named in [`AccelPorts`].
///
/// Its Rust behaviour (used only if the core is simulated in rust-hdl) is the stand-in accelerator of
/// [`STANDIN_ACCEL_V`] with 16 pixels per image: ready while collecting, class = sum of the pixels mod 10,
/// `busy` from the first pixel until the class is out.
#[derive(LogicBlock)]
pub struct AccelInstance {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Reset, active high (inverted for an active-low accelerator reset).
    pub rst: Signal<In, Bit>,
    /// Pixel.
    pub in_data: Signal<In, Bits<8>>,
    /// Pixel valid.
    pub in_valid: Signal<In, Bit>,
    /// Pixel ready.
    pub in_ready: Signal<Out, Bit>,
    /// Class index, zero-extended to 8 bits.
    pub out_class: Signal<Out, Bits<8>>,
    /// Class valid.
    pub out_valid: Signal<Out, Bit>,
    /// Busy (0 if the accelerator has no such port).
    pub busy: Signal<Out, Bit>,
    _ports: AccelPorts,
    _sum: u32,
    _count: u32,
}

impl AccelInstance {
    /// An instance of the accelerator described by `ports` (validated by the caller).
    pub fn new(ports: &AccelPorts) -> Self {
        AccelInstance {
            clock: Default::default(),
            rst: Default::default(),
            in_data: Default::default(),
            in_valid: Default::default(),
            in_ready: Default::default(),
            out_class: Default::default(),
            out_valid: Default::default(),
            busy: Default::default(),
            _ports: ports.clone(),
            _sum: 0,
            _count: 0,
        }
    }
}

impl Logic for AccelInstance {
    fn update(&mut self) {
        // Stand-in behaviour (see the type's documentation); outputs are registered like the Verilog stand-in.
        if self.clock.pos_edge() {
            self.out_valid.next = false;
            if self.rst.val() {
                self._sum = 0;
                self._count = 0;
                self.busy.next = false;
            } else if self.in_valid.val() && self._count < 16 {
                self._sum += self.in_data.val().index() as u32;
                self._count += 1;
                self.busy.next = true;
                if self._count == 16 {
                    self.out_class.next = bits((self._sum % 10) as u64);
                    self.out_valid.next = true;
                    self.busy.next = false;
                    self._sum = 0;
                    self._count = 0;
                }
            }
        }
        self.in_ready.next = true;
    }

    fn connect(&mut self) {
        self.in_ready.connect();
        self.out_class.connect();
        self.out_valid.connect();
        self.busy.connect();
    }

    fn hdl(&self) -> Verilog {
        let p = &self._ports;
        let rst = if p.rst_active_low { "~rst" } else { "rst" };
        let cb = p.class_bits;
        let mut code = format!("wire [{}:0] class_w;\n", cb - 1);
        if cb > 8 {
            // Class indices past 255 cannot be sent as one byte; the manifest's class count is checked first.
            code.push_str(&format!(
                "wire [{}:0] unused_class_high = class_w[{}:8];\n",
                cb - 9,
                cb - 1
            ));
        }
        for (i, (_, w)) in p.unused_outputs.iter().enumerate() {
            code.push_str(&format!("wire [{}:0] unused_out{i};\n", w - 1));
        }
        if p.busy.is_some() {
            code.push_str("wire busy_w;\n");
        }
        if p.done.is_some() {
            code.push_str("wire unused_done;\n");
        }
        // The module name is a placeholder until `core_verilog` has renamed rust-hdl's `top` (the accelerator
        // may itself be called `top`).
        code.push_str(&format!(
            "{ACCEL_PLACEHOLDER} accel (\n    .{}(clock),\n    .{}({rst}),\n    .{}(in_data),\n    .{}(in_valid),\n    \
             .{}(in_ready),\n    .{}(class_w),\n    .{}(out_valid)",
            p.clk, p.rst, p.in_data, p.in_valid, p.in_ready, p.out_class, p.out_valid
        ));
        if let Some(b) = &p.busy {
            code.push_str(&format!(",\n    .{b}(busy_w)"));
        }
        if let Some(d) = &p.done {
            // Not used by the core; the name matches Verilator's unused-signal pattern.
            code.push_str(&format!(",\n    .{d}(unused_done)"));
        }
        for (n, w) in &p.tie_low {
            code.push_str(&format!(",\n    .{n}({w}'d0)"));
        }
        for (i, (n, _)) in p.unused_outputs.iter().enumerate() {
            code.push_str(&format!(",\n    .{n}(unused_out{i})"));
        }
        code.push_str("\n);\n");
        match cb {
            8 => code.push_str("assign out_class = class_w;\n"),
            c if c > 8 => code.push_str("assign out_class = class_w[7:0];\n"),
            c => code.push_str(&format!("assign out_class = {{{}'d0, class_w}};\n", 8 - c)),
        }
        code.push_str(if p.busy.is_some() {
            "assign busy = busy_w;\n"
        } else {
            "assign busy = 1'b0;\n"
        });
        Verilog::Wrapper(Wrapper {
            code,
            cores: String::new(),
        })
    }
}

/// The board-independent wrapper: UART host interface, reset generator and the accelerator (module docs).
#[derive(LogicBlock)]
pub struct BoardCore {
    /// The design clock (from the PLL).
    pub clock: Signal<In, Clock>,
    /// Reset request, active high, asynchronous (button, PLL not locked).
    pub reset_request: Signal<In, Bit>,
    /// UART line from the host (idle high).
    pub uart_rx: Signal<In, Bit>,
    /// UART line to the host (idle high).
    pub uart_tx: Signal<Out, Bit>,
    /// The accelerator is busy.
    pub led_busy: Signal<Out, Bit>,
    /// A class has been sent and no pixel of a new image has arrived since.
    pub led_done: Signal<Out, Bit>,
    /// Sticky: a byte was lost (holding register full) or a frame was malformed; cleared by reset.
    pub led_error: Signal<Out, Bit>,
    /// The last class index (0 after reset).
    pub last_class: Signal<Out, Bits<8>>,
    rx: UartRx,
    tx: UartTx,
    accel: AccelInstance,
    rst_sync0: DFF<Bit>,
    rst_sync1: DFF<Bit>,
    rst_count: DFF<Bits<8>>,
    rst: DFF<Bit>,
    pix: DFF<Bits<8>>,
    pix_full: DFF<Bit>,
    class_reg: DFF<Bits<8>>,
    class_pending: DFF<Bit>,
    done_flag: DFF<Bit>,
    error_flag: DFF<Bit>,
    count_max: Constant<Bits<8>>,
    count_zero: Constant<Bits<8>>,
    count_one: Constant<Bits<8>>,
}

impl BoardCore {
    /// A core for `clocks_per_bit` clock cycles per UART bit (see [`check_baud`]) around the accelerator
    /// described by `ports`.
    pub fn new(clocks_per_bit: u32, ports: &AccelPorts) -> Self {
        BoardCore {
            clock: Default::default(),
            reset_request: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            led_busy: Default::default(),
            led_done: Default::default(),
            led_error: Default::default(),
            last_class: Default::default(),
            rx: UartRx::new(clocks_per_bit),
            tx: UartTx::new(clocks_per_bit),
            accel: AccelInstance::new(ports),
            rst_sync0: Default::default(),
            rst_sync1: Default::default(),
            rst_count: Default::default(),
            rst: Default::default(),
            pix: Default::default(),
            pix_full: Default::default(),
            class_reg: Default::default(),
            class_pending: Default::default(),
            done_flag: Default::default(),
            error_flag: Default::default(),
            count_max: Constant::new(bits(RESET_CYCLES as u64)),
            count_zero: Constant::new(bits(0)),
            count_one: Constant::new(bits(1)),
        }
    }
}

impl Logic for BoardCore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rst_sync0,
            rst_sync1,
            rst_count,
            rst,
            pix,
            pix_full,
            class_reg,
            class_pending,
            done_flag,
            error_flag
        );
        clock!(self, clock, rx, tx, accel);
        // Reset: synchronize the request, then hold reset for RESET_CYCLES cycles after it goes away. The
        // counter starts at 0 at configuration, so reset is also asserted after power-up.
        self.rst_sync0.d.next = self.reset_request.val();
        self.rst_sync1.d.next = self.rst_sync0.q.val();
        if self.rst_sync1.q.val() {
            self.rst_count.d.next = self.count_zero.val();
        } else if self.rst_count.q.val() != self.count_max.val() {
            self.rst_count.d.next = self.rst_count.q.val() + self.count_one.val();
        }
        self.rst.d.next = self.rst_count.q.val() != self.count_max.val();

        self.rx.reset.next = self.rst.q.val();
        self.rx.line.next = self.uart_rx.val();
        self.tx.reset.next = self.rst.q.val();
        self.accel.rst.next = self.rst.q.val();

        // Pixels: one holding register between the receiver and the accelerator's stream.
        self.accel.in_data.next = self.pix.q.val();
        self.accel.in_valid.next = self.pix_full.q.val();
        if self.pix_full.q.val() & self.accel.in_ready.val() {
            self.pix_full.d.next = false;
        }
        if self.rx.strobe.val() {
            if self.pix_full.q.val() & !self.accel.in_ready.val() {
                self.error_flag.d.next = true;
            } else {
                self.pix.d.next = self.rx.data.val();
                self.pix_full.d.next = true;
                self.done_flag.d.next = false;
            }
        }
        if self.rx.frame_error.val() {
            self.error_flag.d.next = true;
        }

        // Class: latched when valid, sent when the transmitter is idle.
        self.tx.data.next = self.class_reg.q.val();
        self.tx.start.next = self.class_pending.q.val() & !self.tx.busy.val();
        if self.class_pending.q.val() & !self.tx.busy.val() {
            self.class_pending.d.next = false;
        }
        if self.accel.out_valid.val() {
            if self.class_pending.q.val() & self.tx.busy.val() {
                self.error_flag.d.next = true;
            }
            self.class_reg.d.next = self.accel.out_class.val();
            self.class_pending.d.next = true;
            self.done_flag.d.next = true;
        }

        if self.rst.q.val() {
            self.pix_full.d.next = false;
            self.class_pending.d.next = false;
            self.done_flag.d.next = false;
            self.error_flag.d.next = false;
            self.class_reg.d.next = self.count_zero.val();
        }

        self.uart_tx.next = self.tx.line.val();
        self.led_busy.next = self.accel.busy.val();
        self.led_done.next = self.done_flag.q.val();
        self.led_error.next = self.error_flag.q.val();
        self.last_class.next = self.class_reg.q.val();
    }
}

/// Rename rust-hdl's top module `top` (and its sub-modules `top$…`) to `name` (`name$…`): whole identifiers
/// only, so that a signal such as `stop$x` is left alone.
pub fn rename_top(verilog: &str, name: &str) -> String {
    let mut out = String::with_capacity(verilog.len() + 1024);
    let bytes = verilog.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let prev_ident = i > 0 && {
            let c = bytes[i - 1] as char;
            c.is_ascii_alphanumeric() || c == '_' || c == '$'
        };
        if !prev_ident && verilog[i..].starts_with("top") {
            let next = bytes.get(i + 3).map(|&c| c as char);
            let is_word = !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            // `top` followed by `$` (a sub-module) or by a non-identifier character (the top itself).
            if is_word {
                out.push_str(name);
                i += 3;
                continue;
            }
        }
        let ch = verilog[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The Verilog of [`BoardCore`] (module [`CORE_MODULE`]) for a clock of `clock_mhz` and a UART of `baud`.
pub fn core_verilog(clock_mhz: f64, baud: u32, ports: &AccelPorts) -> Result<String, String> {
    ports.validate()?;
    let cpb = check_baud(clock_mhz * 1e6, baud)?;
    let mut core = BoardCore::new(cpb, ports);
    core.connect_all();
    let text = generate_verilog(&core);
    Ok(format!(
        "// pact board core: UART {baud} baud 8N1 at {clock_mhz:.3} MHz ({cpb} clocks per bit), accelerator `{}`.\n\
         // Emitted by rust-hdl (pact-synth); do not edit.\n{}",
        ports.module,
        rename_top(&text, CORE_MODULE).replace(ACCEL_PLACEHOLDER, &ports.module)
    ))
}

/// A board for which a top-level shell can be written (the flow builds the first two; the Arty A7 shell is
/// for the Vivado script in `constraints/arty-a7/`, which pact cannot run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// iCEBreaker: `pact_icebreaker`, SB_PLL40_PAD from the 12 MHz pin.
    Icebreaker,
    /// ULX3S: `pact_ulx3s`, EHXPLLL from 25 MHz.
    Ulx3s,
    /// Arty A7: `pact_arty_a7`, straight from the 100 MHz oscillator (no MMCM).
    ArtyA7,
}

impl Shell {
    /// The shell's module name.
    pub fn module(self) -> &'static str {
        match self {
            Shell::Icebreaker => "pact_icebreaker",
            Shell::Ulx3s => "pact_ulx3s",
            Shell::ArtyA7 => "pact_arty_a7",
        }
    }

    /// The board oscillator, MHz.
    pub fn osc_mhz(self) -> f64 {
        match self {
            Shell::Icebreaker => 12.0,
            Shell::Ulx3s => 25.0,
            Shell::ArtyA7 => 100.0,
        }
    }
}

impl From<crate::Board> for Shell {
    fn from(b: crate::Board) -> Self {
        match b {
            crate::Board::Icebreaker => Shell::Icebreaker,
            crate::Board::Ulx3s => Shell::Ulx3s,
        }
    }
}

/// The board shell's Verilog and the clock frequency it gives the core (MHz), for a design clock of
/// `freq_mhz` (the PLL's best setting at or below it; the oscillator itself if equal).
pub fn board_shell(shell: Shell, freq_mhz: f64) -> Result<(String, f64), String> {
    let osc = shell.osc_mhz();
    let direct = (freq_mhz - osc).abs() < 1e-9;
    let (clock_src, f) = match shell {
        Shell::Icebreaker if !direct => {
            let p = ice40_pll(osc, freq_mhz).ok_or_else(|| {
                format!("the iCE40 PLL cannot make {freq_mhz} MHz from the {osc} MHz oscillator (16..275 MHz)")
            })?;
            (p.verilog("CLK", "clk", "locked"), p.f_out)
        }
        Shell::Ulx3s if !direct => {
            let p = ecp5_pll(osc, freq_mhz)
                .ok_or_else(|| format!("the ECP5 PLL cannot make {freq_mhz} MHz from the {osc} MHz oscillator"))?;
            (p.verilog("clk_25mhz", "clk", "locked"), p.f_out)
        }
        Shell::ArtyA7 if !direct => {
            return Err(format!(
                "the Arty A7 shell runs from the 100 MHz oscillator directly; {freq_mhz} MHz would need an MMCM"
            ))
        }
        Shell::Icebreaker => ("    assign clk = CLK;\n    assign locked = 1'b1;\n".to_string(), osc),
        Shell::Ulx3s => (
            "    assign clk = clk_25mhz;\n    assign locked = 1'b1;\n".to_string(),
            osc,
        ),
        Shell::ArtyA7 => (
            "    assign clk = CLK100MHZ;\n    assign locked = 1'b1;\n".to_string(),
            osc,
        ),
    };
    let core = |rst: &str, rx: &str, tx: &str| {
        format!(
            "    wire busy, done, error;\n    wire [7:0] last_class;\n    {CORE_MODULE} core (\n        \
             .clock(clk),\n        .reset_request({rst}),\n        .uart_rx({rx}),\n        .uart_tx({tx}),\n        \
             .led_busy(busy),\n        .led_done(done),\n        .led_error(error),\n        \
             .last_class(last_class)\n    );\n"
        )
    };
    let head = format!(
        "// pact board top-level for the {} ({:.3} MHz design clock). Written by pact-synth; do not edit.\n\
         `default_nettype none\n",
        match shell {
            Shell::Icebreaker => "iCEBreaker",
            Shell::Ulx3s => "ULX3S",
            Shell::ArtyA7 => "Arty A7",
        },
        f
    );
    let body = match shell {
        Shell::Icebreaker => format!(
            "module pact_icebreaker (\n    input  wire CLK,\n    input  wire RX,\n    output wire TX,\n    \
             input  wire BTN_N,\n    output wire LEDR_N,\n    output wire LEDG_N,\n    output wire LED1,\n    \
             output wire LED2,\n    output wire LED3,\n    output wire LED4,\n    output wire LED5\n);\n    \
             wire clk, locked;\n{clock_src}{}    // Red: error; green: a class was sent; PMOD2 LED1: busy,\n    \
             // LED2..LED5: the last class, LSB on LED5.\n    assign LEDR_N = ~error;\n    \
             assign LEDG_N = ~done;\n    assign LED1 = busy;\n    \
             assign {{LED2, LED3, LED4, LED5}} = last_class[3:0];\nendmodule\n",
            core("~locked | ~BTN_N", "RX", "TX")
        ),
        Shell::Ulx3s => format!(
            "module pact_ulx3s (\n    input  wire clk_25mhz,\n    input  wire ftdi_txd,\n    \
             output wire ftdi_rxd,\n    input  wire [6:0] btn,\n    output wire [7:0] led,\n    \
             output wire wifi_gpio0\n);\n    // Keep the ESP32 from resetting the board.\n    \
             assign wifi_gpio0 = 1'b1;\n    wire clk, locked;\n{clock_src}{}    \
             // led[0] busy, led[1] a class was sent, led[2] error, led[7:4] the last class. FIRE1 resets.\n    \
             assign led = {{last_class[3:0], 1'b0, error, done, busy}};\nendmodule\n",
            core("~locked | btn[1]", "ftdi_txd", "ftdi_rxd")
        ),
        Shell::ArtyA7 => format!(
            "module pact_arty_a7 (\n    input  wire CLK100MHZ,\n    input  wire ck_rst,\n    \
             input  wire uart_txd_in,\n    output wire uart_rxd_out,\n    output wire [3:0] led\n);\n    \
             wire clk, locked;\n{clock_src}{}    // led[0] busy, led[1] a class was sent, led[2] error, led[3] class LSB.\n    \
             assign led = {{last_class[0], error, done, busy}};\nendmodule\n",
            core("~locked | ~ck_rst", "uart_txd_in", "uart_rxd_out")
        ),
    };
    Ok((format!("{head}{body}`default_nettype wire\n"), f))
}

/// What [`write_board_sources`] wrote.
#[derive(Clone, Debug)]
pub struct BoardSources {
    /// The top module (the shell).
    pub top: String,
    /// The design clock the core runs at, MHz (the PLL's output).
    pub clock_mhz: f64,
    /// Clock cycles per UART bit.
    pub clocks_per_bit: u32,
    /// Files written, relative to the directory.
    pub files: Vec<String>,
}

/// [`core_verilog`]'s text split into the core module (with the header comment before it) and its submodules
/// (`pact_board_core$…`, everything after the core's `endmodule`): each module in a file of its own name, and the
/// submodules in a Verilog library file (`verilator -v`), so that `verilator -Wall` gives no DECLFILENAME.
pub fn split_core(core_v: &str) -> Result<(String, String), String> {
    let end = format!("endmodule // {CORE_MODULE}\n");
    let at: Vec<usize> = core_v.match_indices(&end).map(|(i, _)| i).collect();
    match at[..] {
        [i] => Ok((core_v[..i + end.len()].to_string(), core_v[i + end.len()..].to_string())),
        _ => Err(format!(
            "the board core's Verilog ends module `{CORE_MODULE}` {} times (expected once)",
            at.len()
        )),
    }
}

/// The file of [`split_core`]'s submodules: `pact_board_core_modules.v`.
pub fn core_modules_file() -> String {
    format!("{CORE_MODULE}_modules.v")
}

/// Write `pact_board_core.v` (the core), `pact_board_core_modules.v` (its submodules, [`split_core`]) and the shell
/// (`pact_<board>.v`) into `dir` for a design clock of `freq_mhz`.
pub fn write_board_sources(
    dir: &Path,
    shell: Shell,
    freq_mhz: f64,
    baud: u32,
    ports: &AccelPorts,
) -> Result<BoardSources, String> {
    let (shell_v, f) = board_shell(shell, freq_mhz)?;
    let core_v = core_verilog(f, baud, ports)?;
    let cpb = check_baud(f * 1e6, baud)?;
    let (core_top, core_modules) = split_core(&core_v)?;
    let files = [
        (format!("{CORE_MODULE}.v"), core_top),
        (core_modules_file(), core_modules),
        (format!("{}.v", shell.module()), shell_v),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    Ok(BoardSources {
        top: shell.module().to_string(),
        clock_mhz: f,
        clocks_per_bit: cpb,
        files: files.into_iter().map(|(name, _)| name).collect(),
    })
}

/// A stand-in accelerator with the streaming interface ([`AccelPorts::with_module`]`("pact_standin_accel")`):
/// it takes `PIXELS` pixels (parameter, default 16), one per cycle, and answers `sum mod 10` 2 cycles after the
/// last one, with `busy` from the first pixel to the answer and a one-cycle `done` beside `out_valid`. Each
/// pixel's residue comes from a table it reads with `$readmemh` from [`STANDIN_MOD10_HEX_FILE`] (write
/// [`standin_mod10_hex`] beside it). For testing board top-levels before the real accelerator exists.
pub const STANDIN_ACCEL_V: &str = include_str!("../verilog/pact_standin_accel.v");

/// The memory file the stand-in reads.
pub const STANDIN_MOD10_HEX_FILE: &str = "pact_standin_mod10.hex";

/// The stand-in's table: `i mod 10` for `i` in 0..256, one hex digit per line.
pub fn standin_mod10_hex() -> String {
    (0..256).map(|i| format!("{:x}\n", i % 10)).collect()
}

/// Write the stand-in accelerator (`pact_standin_accel.v` and its memory file) into `dir`.
pub fn write_standin(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("pact_standin_accel.v"), STANDIN_ACCEL_V)?;
    std::fs::write(dir.join(STANDIN_MOD10_HEX_FILE), standin_mod10_hex())
}

/// The manifest of the stand-in accelerator (for `manifest.json` beside it): its ports ([`AccelPorts::standin`]),
/// 18 cycles and 16 multiply-accumulates per inference (16 pixels), no memories the fit rule counts.
pub fn standin_manifest() -> pact_device::Manifest {
    use pact_device::manifest::Port;
    let a = AccelPorts::standin();
    let ports = [
        (&a.clk, "in", 1),
        (&a.rst, "in", 1),
        (&a.in_data, "in", 8),
        (&a.in_valid, "in", 1),
    ]
    .into_iter()
    .chain([
        (&a.in_ready, "out", 1),
        (&a.out_class, "out", a.class_bits),
        (&a.out_valid, "out", 1),
    ])
    .chain(a.busy.iter().chain(&a.done).map(|n| (n, "out", 1)))
    .map(|(n, d, w)| Port::new(n, d, w))
    .collect();
    let mut m = pact_device::Manifest::minimal(&a.module, ports);
    m.timing.total_cycles = 18;
    m.timing.interval_cycles = 18;
    m.resources.macs_per_inference = 16;
    m
}

/// The class the stand-in accelerator answers for an image: the sum of its pixels mod 10.
pub fn standin_class(pixels: &[u8]) -> u8 {
    (pixels.iter().map(|&p| p as u32).sum::<u32>() % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_splits_after_its_own_endmodule_only() {
        let v = format!(
            "// h\nmodule {CORE_MODULE}(a);\nendmodule // {CORE_MODULE}\nmodule {CORE_MODULE}$x(b);\nendmodule // \
             {CORE_MODULE}$x\n"
        );
        let (top, modules) = split_core(&v).unwrap();
        assert_eq!(
            top,
            format!("// h\nmodule {CORE_MODULE}(a);\nendmodule // {CORE_MODULE}\n")
        );
        assert_eq!(
            modules,
            format!("module {CORE_MODULE}$x(b);\nendmodule // {CORE_MODULE}$x\n")
        );
        assert_eq!(
            split_core("module x;\nendmodule\n").unwrap_err(),
            format!("the board core's Verilog ends module `{CORE_MODULE}` 0 times (expected once)")
        );
    }

    #[test]
    fn rename_only_whole_identifiers() {
        let v = "module top(clock);\ntop$rx rx(.a(stop$x));\nmodule top$rx$sync(a);\nendmodule // top\nlaptop\n";
        let r = rename_top(v, "core");
        assert_eq!(
            r,
            "module core(clock);\ncore$rx rx(.a(stop$x));\nmodule core$rx$sync(a);\nendmodule // core\nlaptop\n"
        );
    }

    #[test]
    fn ports_are_checked() {
        let mut p = AccelPorts::with_module("accel");
        assert!(p.validate().is_ok());
        p.class_bits = 33;
        assert!(p.validate().unwrap_err().contains("33 bits"));
        p.class_bits = 4;
        p.in_data = "in data".into();
        assert!(p.validate().unwrap_err().contains("`in data`"));
    }

    #[test]
    fn shells_name_their_pll() {
        let (v, f) = board_shell(Shell::Icebreaker, 48.0).unwrap();
        assert_eq!(f, 48.0);
        assert!(v.contains("SB_PLL40_PAD") && v.contains(".DIVF(7'd63)") && v.contains("module pact_icebreaker"));
        let (v, f) = board_shell(Shell::Icebreaker, 12.0).unwrap();
        assert_eq!(f, 12.0);
        assert!(!v.contains("SB_PLL40_PAD"));
        let (v, f) = board_shell(Shell::Ulx3s, 100.0).unwrap();
        assert_eq!(f, 100.0);
        assert!(v.contains("EHXPLLL") && v.contains(".CLKFB_DIV(4)") && v.contains("FREQUENCY_PIN_CLKOP=\"100\""));
        assert!(board_shell(Shell::ArtyA7, 50.0).unwrap_err().contains("MMCM"));
        assert_eq!(standin_class(&[9, 9, 3]), 1);
    }
}
