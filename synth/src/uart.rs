//! UART receiver and transmitter (8 data bits, no parity, 1 stop bit) in rust-hdl, and a Rust model of the
//! line (frames as bit sequences) for testbenches.
//!
//! rust-hdl 0.46's widget library has SPI and I²C but no UART, so these are written here; both are plain
//! rust-hdl `LogicBlock`s (no hand-written Verilog).

use rust_hdl::prelude::*;

/// Width of the bit-period counters: up to 65 536 clock cycles per bit (e.g. 9600 baud at 100 MHz is 10 417).
pub const BAUD_COUNTER_BITS: usize = 16;

/// Clock cycles per bit for a clock of `clock_hz` and a line of `baud`, rounded to nearest.
///
/// The receiver samples each bit in its middle, so a relative error below about 2 % (half a bit over the ten
/// bits of a frame, shared with the host's own error) is harmless; [`check_baud`] enforces 2 %.
pub fn clocks_per_bit(clock_hz: f64, baud: u32) -> u32 {
    (clock_hz / baud as f64).round().max(1.0) as u32
}

/// Check that `clock_hz` can carry `baud`: at least 4 clocks per bit, at most 2^16, and a rate error
/// (from rounding [`clocks_per_bit`]) below 2 %. Returns the clocks per bit.
pub fn check_baud(clock_hz: f64, baud: u32) -> Result<u32, String> {
    let n = clocks_per_bit(clock_hz, baud);
    let actual = clock_hz / n as f64;
    let err = (actual - baud as f64).abs() / baud as f64;
    if n < 4 {
        return Err(format!(
            "{baud} baud needs at least 4 clock cycles per bit; a {:.3} MHz clock gives {n}",
            clock_hz / 1e6
        ));
    }
    if n > 1 << BAUD_COUNTER_BITS {
        return Err(format!(
            "{baud} baud at {:.3} MHz needs {n} clock cycles per bit, more than the {}-bit counter holds",
            clock_hz / 1e6,
            BAUD_COUNTER_BITS
        ));
    }
    if err > 0.02 {
        return Err(format!(
            "{baud} baud at {:.3} MHz: {n} cycles per bit give {actual:.0} baud ({:.1} % off, more than 2 %)",
            clock_hz / 1e6,
            err * 100.0
        ));
    }
    Ok(n)
}

/// The line levels of one 8N1 frame, in order: start bit (0), data bits LSB first, stop bit (1).
pub fn frame_bits(byte: u8) -> [bool; 10] {
    let mut f = [false; 10];
    for (i, b) in f.iter_mut().enumerate().skip(1).take(8) {
        *b = (byte >> (i - 1)) & 1 == 1;
    }
    f[9] = true;
    f
}

/// Decode one frame from line levels (start, 8 data bits LSB first, stop). `None` if the start bit is not 0 or
/// the stop bit is not 1 (a framing error).
pub fn decode_frame(bits: &[bool; 10]) -> Option<u8> {
    if bits[0] || !bits[9] {
        return None;
    }
    Some((0..8).fold(0u8, |acc, i| acc | ((bits[i + 1] as u8) << i)))
}

/// UART receiver, 8N1.
///
/// The line is synchronized by two flip-flops, then a falling edge starts a frame; the start bit is checked
/// again half a bit later (a shorter low pulse is ignored), and every following bit is sampled one bit period
/// apart, in the middle of the bit. After the stop bit, `strobe` is high for one cycle with the byte on `data`
/// if the stop bit was 1; otherwise `frame_error` is high for one cycle. `reset` (synchronous, active high)
/// abandons a frame in progress.
#[derive(LogicBlock)]
pub struct UartRx {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// The serial line (idle high), asynchronous to `clock`.
    pub line: Signal<In, Bit>,
    /// The last byte received (held until the next one).
    pub data: Signal<Out, Bits<8>>,
    /// High for one cycle when `data` holds a newly received byte.
    pub strobe: Signal<Out, Bit>,
    /// High for one cycle when a frame ended with a low stop bit.
    pub frame_error: Signal<Out, Bit>,
    sync0: DFF<Bit>,
    sync1: DFF<Bit>,
    active: DFF<Bit>,
    count: DFF<Bits<BAUD_COUNTER_BITS>>,
    nbit: DFF<Bits<4>>,
    shift: DFF<Bits<8>>,
    held: DFF<Bits<8>>,
    got: DFF<Bit>,
    bad: DFF<Bit>,
    shifted: Signal<Local, Bits<8>>,
    limit: Signal<Local, Bits<BAUD_COUNTER_BITS>>,
    full_period: Constant<Bits<BAUD_COUNTER_BITS>>,
    half_period: Constant<Bits<BAUD_COUNTER_BITS>>,
    zero: Constant<Bits<BAUD_COUNTER_BITS>>,
    one: Constant<Bits<BAUD_COUNTER_BITS>>,
    nbit_one: Constant<Bits<4>>,
    nbit_start: Constant<Bits<4>>,
    nbit_stop: Constant<Bits<4>>,
    top_bit: Constant<Bits<8>>,
}

impl UartRx {
    /// A receiver for `clocks_per_bit` clock cycles per bit (4..=65 536, see [`check_baud`]).
    pub fn new(clocks_per_bit: u32) -> Self {
        assert!(
            (4..=1 << BAUD_COUNTER_BITS).contains(&clocks_per_bit),
            "UartRx: clocks_per_bit out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            line: Default::default(),
            data: Default::default(),
            strobe: Default::default(),
            frame_error: Default::default(),
            sync0: Default::default(),
            sync1: Default::default(),
            active: Default::default(),
            count: Default::default(),
            nbit: Default::default(),
            shift: Default::default(),
            held: Default::default(),
            got: Default::default(),
            bad: Default::default(),
            shifted: Default::default(),
            limit: Default::default(),
            full_period: Constant::new(bits((clocks_per_bit - 1) as u64)),
            half_period: Constant::new(bits((clocks_per_bit / 2 - 1) as u64)),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            nbit_one: Constant::new(bits(1)),
            nbit_start: Constant::new(bits(0)),
            nbit_stop: Constant::new(bits(9)),
            top_bit: Constant::new(bits(0x80)),
        }
    }
}

impl Logic for UartRx {
    // The bit-period counter only ever restarts from 0 and counts up to a limit compared for equality: then
    // its D input is the plain increment (the restart maps to the flip-flops' synchronous reset), and the
    // increment's carry chain stays whole on iCE40. Loading other constants, or decrementing to zero,
    // made yosys merge the restart logic into the sum LUTs, which split the chain and halved Fmax.
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, sync0, sync1, active, count, nbit, shift, held, got, bad);
        self.sync0.d.next = self.line.val();
        self.sync1.d.next = self.sync0.q.val();
        self.shifted.next = self.shift.q.val() >> 1;
        if self.nbit.q.val() == self.nbit_start.val() {
            self.limit.next = self.half_period.val();
        } else {
            self.limit.next = self.full_period.val();
        }
        self.got.d.next = false;
        self.bad.d.next = false;
        self.count.d.next = self.count.q.val() + self.one.val();
        if self.reset.val() {
            self.active.d.next = false;
            self.count.d.next = self.zero.val();
        } else if !self.active.q.val() {
            self.count.d.next = self.zero.val();
            if !self.sync1.q.val() {
                // Falling edge: the middle of the start bit is half a period away.
                self.active.d.next = true;
                self.nbit.d.next = self.nbit_start.val();
            }
        } else if self.count.q.val() == self.limit.val() {
            // The middle of bit `nbit`: 0 start, 1..=8 data (LSB first), 9 stop.
            self.count.d.next = self.zero.val();
            self.nbit.d.next = self.nbit.q.val() + self.nbit_one.val();
            if self.nbit.q.val() == self.nbit_start.val() {
                if self.sync1.q.val() {
                    // The line went high again: a glitch, not a start bit.
                    self.active.d.next = false;
                }
            } else if self.nbit.q.val() == self.nbit_stop.val() {
                self.active.d.next = false;
                if self.sync1.q.val() {
                    self.held.d.next = self.shift.q.val();
                    self.got.d.next = true;
                } else {
                    self.bad.d.next = true;
                }
            } else if self.sync1.q.val() {
                self.shift.d.next = self.shifted.val() | self.top_bit.val();
            } else {
                self.shift.d.next = self.shifted.val();
            }
        }
        self.data.next = self.held.q.val();
        self.strobe.next = self.got.q.val();
        self.frame_error.next = self.bad.q.val();
    }
}

/// UART transmitter, 8N1.
///
/// When idle (`busy` low), a cycle with `start` high loads `data`; the frame (start bit, 8 data bits LSB first,
/// stop bit) goes out on `line`, each bit for `clocks_per_bit` cycles, beginning after the next rising edge. `busy` is
/// high from the cycle after `start` until the stop bit has been sent. The line is held high while idle, in
/// reset and from configuration on (the line register is stored inverted, so its power-up value 0 is idle).
#[derive(LogicBlock)]
pub struct UartTx {
    /// Clock (rising edge).
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// The byte to send, sampled in the cycle `start` is high.
    pub data: Signal<In, Bits<8>>,
    /// Send `data` (ignored while `busy`).
    pub start: Signal<In, Bit>,
    /// The serial line (idle high).
    pub line: Signal<Out, Bit>,
    /// A frame is being sent.
    pub busy: Signal<Out, Bit>,
    active: DFF<Bit>,
    count: DFF<Bits<BAUD_COUNTER_BITS>>,
    nbit: DFF<Bits<4>>,
    shift: DFF<Bits<8>>,
    line_n: DFF<Bit>,
    full_period: Constant<Bits<BAUD_COUNTER_BITS>>,
    zero: Constant<Bits<BAUD_COUNTER_BITS>>,
    one: Constant<Bits<BAUD_COUNTER_BITS>>,
    nbit_one: Constant<Bits<4>>,
    nbit_stop: Constant<Bits<4>>,
    nbit_done: Constant<Bits<4>>,
}

impl UartTx {
    /// A transmitter for `clocks_per_bit` clock cycles per bit (4..=65 536, see [`check_baud`]).
    pub fn new(clocks_per_bit: u32) -> Self {
        assert!(
            (4..=1 << BAUD_COUNTER_BITS).contains(&clocks_per_bit),
            "UartTx: clocks_per_bit out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            data: Default::default(),
            start: Default::default(),
            line: Default::default(),
            busy: Default::default(),
            active: Default::default(),
            count: Default::default(),
            nbit: Default::default(),
            shift: Default::default(),
            line_n: Default::default(),
            full_period: Constant::new(bits((clocks_per_bit - 1) as u64)),
            zero: Constant::new(bits(0)),
            one: Constant::new(bits(1)),
            nbit_one: Constant::new(bits(1)),
            nbit_stop: Constant::new(bits(9)),
            nbit_done: Constant::new(bits(10)),
        }
    }
}

impl Logic for UartTx {
    // The counter restarts from 0 only (see UartRx).
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, active, count, nbit, shift, line_n);
        self.count.d.next = self.count.q.val() + self.one.val();
        if self.reset.val() {
            self.active.d.next = false;
            self.line_n.d.next = false;
            self.count.d.next = self.zero.val();
        } else if !self.active.q.val() {
            self.count.d.next = self.zero.val();
            if self.start.val() {
                // The start bit goes out now; bit 1 (data bit 0) one period later.
                self.active.d.next = true;
                self.line_n.d.next = true;
                self.shift.d.next = self.data.val();
                self.nbit.d.next = self.nbit_one.val();
            }
        } else if self.count.q.val() == self.full_period.val() {
            self.count.d.next = self.zero.val();
            if self.nbit.q.val() == self.nbit_done.val() {
                // The stop bit has lasted a whole period.
                self.active.d.next = false;
            } else if self.nbit.q.val() == self.nbit_stop.val() {
                self.line_n.d.next = false;
            } else {
                self.line_n.d.next = !self.shift.q.val().get_bit(0);
                self.shift.d.next = self.shift.q.val() >> 1;
            }
            self.nbit.d.next = self.nbit.q.val() + self.nbit_one.val();
        }
        self.line.next = !self.line_n.q.val();
        self.busy.next = self.active.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for b in 0..=255u8 {
            let f = frame_bits(b);
            assert!(!f[0] && f[9]);
            assert_eq!(decode_frame(&f), Some(b));
        }
        let mut f = frame_bits(0x5a);
        f[9] = false;
        assert_eq!(decode_frame(&f), None);
    }

    #[test]
    fn baud_checks() {
        assert_eq!(check_baud(48e6, 115_200), Ok(417));
        assert_eq!(check_baud(12e6, 115_200), Ok(104));
        assert_eq!(check_baud(25e6, 115_200), Ok(217));
        assert!(check_baud(300e3, 115_200).unwrap_err().contains("at least 4"));
        assert!(check_baud(100e6, 300).unwrap_err().contains("counter"));
    }
}
