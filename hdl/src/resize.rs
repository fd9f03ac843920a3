//! Width-changing leaves: zero- and sign-extension (or truncation) as exact Verilog.
//!
//! rust-hdl 0.46 has no concatenation: its `bit_cast` widens with a mask (`x & 16'hFFFF`, an operand width
//! mismatch that Verilator reports) and its `signed_bit_cast` emits a bare `$signed(x)` (sized by context) while its
//! Rust model recurses without end on the most negative value. Sign extension built from arithmetic instead
//! (`(z ^ 2^(N−1)) − 2^(N−1)`) costs an adder (9 extra iCE40 LUTs on a 12-bit accumulator). These two leaves emit
//! the replication `{{(M−N){x[N−1]}}, x}` (free wiring) with a Rust behaviour model beside it; their tests run the
//! emitted Verilog under Icarus against the same model.
use crate::cast::{sign_extend, to_bits};
use rust_hdl::prelude::*;

fn resize_verilog(n: usize, m: usize, signed: bool) -> String {
    if m > n {
        let fill = if signed {
            format!("x[{}]", n - 1)
        } else {
            "1'b0".to_string()
        };
        format!("always @(*) y = {{{{{}{{{}}}}}, x}};\n", m - n, fill)
    } else if m == n {
        "always @(*) y = x;\n".to_string()
    } else {
        // Truncation keeps the low M bits. The discarded high bits feed a wire whose name matches Verilator's
        // default unused-signal pattern (`*unused*`): dropping them is the purpose of this leaf, not an accident.
        format!(
            "wire unused_high_bits = ^x[{}:{}];\nalways @(*) y = x[{}:0];\n",
            n - 1,
            m,
            m - 1
        )
    }
}

/// Zero-extend (`M > N`) or truncate (`M < N`) an unsigned `Bits<N>` to `Bits<M>`. Combinational.
#[derive(LogicBlock, Default)]
pub struct ZeroResize<const N: usize, const M: usize> {
    /// Input, unsigned, `N` bits.
    pub x: Signal<In, Bits<N>>,
    /// Output, unsigned, `M` bits: `x mod 2^M`.
    pub y: Signal<Out, Bits<M>>,
}

impl<const N: usize, const M: usize> Logic for ZeroResize<N, M> {
    fn update(&mut self) {
        self.y.next = bit_cast::<M, N>(self.x.val());
    }
    fn connect(&mut self) {
        self.y.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(resize_verilog(N, M, false))
    }
}

/// Sign-extend (`M > N`) or truncate (`M < N`) a two's-complement `Signed<N>` to `Signed<M>`. Combinational.
/// Total for every input, including the most negative `N`-bit value.
#[derive(LogicBlock, Default)]
pub struct SignResize<const N: usize, const M: usize> {
    /// Input, signed, `N` bits.
    pub x: Signal<In, Signed<N>>,
    /// Output, signed, `M` bits: the same value when `M ≥ N`, else `x` modulo `2^M` in two's complement.
    pub y: Signal<Out, Signed<M>>,
}

impl<const N: usize, const M: usize> Logic for SignResize<N, M> {
    fn update(&mut self) {
        let raw = self.x.val().inner();
        let v = if N <= 64 {
            sign_extend(raw.to_u64(), N)
        } else {
            unreachable!("SignResize supports N <= 64")
        };
        self.y.next = signed_cast(to_bits::<M>(v));
    }
    fn connect(&mut self) {
        self.y.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(resize_verilog(N, M, true))
    }
}

/// Wrap an unsigned `Bits<N>` key between two flag bits: `y = {hi, x, lo}` as `Bits<M>`, `M = N + 2` (free wiring,
/// no logic). Used where a comparison must fold a validity flag into the operands (the logit unit's argmax).
#[derive(LogicBlock, Default)]
pub struct FlagKey<const N: usize, const M: usize> {
    /// Most significant bit of `y`.
    pub hi: Signal<In, Bit>,
    /// The key, unsigned, `N` bits: bits `N..=1` of `y`.
    pub x: Signal<In, Bits<N>>,
    /// Least significant bit of `y`.
    pub lo: Signal<In, Bit>,
    /// `hi·2^(N+1) + x·2 + lo`, unsigned, `M = N + 2` bits.
    pub y: Signal<Out, Bits<M>>,
}

impl<const N: usize, const M: usize> FlagKey<N, M> {
    const WIDTHS_OK: () = assert!(M == N + 2 && M <= 64, "FlagKey<N, M> needs M = N + 2 ≤ 64");
}

impl<const N: usize, const M: usize> Logic for FlagKey<N, M> {
    fn update(&mut self) {
        #[allow(clippy::let_unit_value)]
        let () = Self::WIDTHS_OK;
        let x = self.x.val().to_u64();
        let v = (u64::from(self.hi.val()) << (N + 1)) | (x << 1) | u64::from(self.lo.val());
        self.y.next = to_bits::<M>(v as i64);
    }
    fn connect(&mut self) {
        self.y.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(*) y = {hi, x, lo};\n".to_string())
    }
}
