//! PLL parameter solvers (the Rust behaviour of the PLL primitives) and the Verilog that instantiates them.
//!
//! iCE40 `SB_PLL40_PAD` (simple feedback): `f_pfd = f_in / (DIVR + 1)` in 10..=133 MHz,
//! `f_vco = f_pfd · (DIVF + 1)` in 533..=1066 MHz, `f_out = f_vco / 2^DIVQ` ≤ 275 MHz with DIVQ in 1..=6 (the iCE40 PLL
//! data sheet's ranges, as `icepll` uses them). ECP5 `EHXPLLL` (feedback from CLKOP):
//! `f_pfd = f_in / CLKI_DIV` ≥ 3.125 MHz, `f_out = f_in · CLKFB_DIV / CLKI_DIV`,
//! `f_vco = f_out · CLKOP_DIV` in 400..=800 MHz (as `ecppll` searches them). Both solvers choose the highest
//! output frequency that does not exceed the target (a faster clock than asked for would break the timing the
//! user asked for) and give up below 95 % of it; the tests compare them with `icepll` and `ecppll`.

/// `SB_PLL40_PAD` parameters for simple feedback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ice40Pll {
    /// Reference divider (0..=15): `f_pfd = f_in / (DIVR + 1)`.
    pub divr: u32,
    /// Feedback divider (0..=127): `f_vco = f_pfd · (DIVF + 1)`.
    pub divf: u32,
    /// Output divider exponent (1..=6): `f_out = f_vco / 2^DIVQ`.
    pub divq: u32,
    /// Loop filter range, from `f_pfd`.
    pub filter_range: u32,
    /// Input frequency, MHz.
    pub f_in: f64,
    /// Achieved output frequency, MHz.
    pub f_out: f64,
    /// VCO frequency, MHz.
    pub f_vco: f64,
}

/// Best `SB_PLL40_PAD` parameters for `f_in` → at most `f_target` MHz, or `None` if none reaches 95 % of it.
pub fn ice40_pll(f_in: f64, f_target: f64) -> Option<Ice40Pll> {
    if !(10.0..=133.0).contains(&f_in) {
        return None;
    }
    let mut best: Option<Ice40Pll> = None;
    for divr in 0..=15u32 {
        let f_pfd = f_in / (divr + 1) as f64;
        if !(10.0..=133.0).contains(&f_pfd) {
            continue;
        }
        for divf in 0..=127u32 {
            let f_vco = f_pfd * (divf + 1) as f64;
            if !(533.0..=1066.0).contains(&f_vco) {
                continue;
            }
            for divq in 1..=6u32 {
                let f_out = f_vco / (1u32 << divq) as f64;
                if f_out > f_target * (1.0 + 1e-9) || f_out > 275.0 {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some(b) => (f_out - f_target).abs() < (b.f_out - f_target).abs() - 1e-9,
                };
                if better {
                    let filter_range = match f_pfd {
                        f if f < 17.0 => 1,
                        f if f < 26.0 => 2,
                        f if f < 44.0 => 3,
                        f if f < 66.0 => 4,
                        f if f < 101.0 => 5,
                        _ => 6,
                    };
                    best = Some(Ice40Pll {
                        divr,
                        divf,
                        divq,
                        filter_range,
                        f_in,
                        f_out,
                        f_vco,
                    });
                }
            }
        }
    }
    best.filter(|b| b.f_out >= 0.95 * f_target)
}

impl Ice40Pll {
    /// An `SB_PLL40_PAD` instance named `pll` driving `out` (global buffer) and `lock` from the package pin `pad`.
    pub fn verilog(&self, pad: &str, out: &str, lock: &str) -> String {
        format!(
            "    // SB_PLL40_PAD: {:.3} MHz -> {:.3} MHz (VCO {:.1} MHz)\n    SB_PLL40_PAD #(\n        \
             .FEEDBACK_PATH(\"SIMPLE\"),\n        .DIVR(4'd{}),\n        .DIVF(7'd{}),\n        .DIVQ(3'd{}),\n        \
             .FILTER_RANGE(3'd{})\n    ) pll (\n        .PACKAGEPIN({pad}),\n        .PLLOUTGLOBAL({out}),\n        \
             .LOCK({lock}),\n        .RESETB(1'b1),\n        .BYPASS(1'b0)\n    );\n",
            self.f_in, self.f_out, self.f_vco, self.divr, self.divf, self.divq, self.filter_range
        )
    }
}

/// `EHXPLLL` parameters with feedback from CLKOP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ecp5Pll {
    /// Input divider (1..=128).
    pub clki_div: u32,
    /// Feedback divider (1..=80).
    pub clkfb_div: u32,
    /// CLKOP output divider (1..=128).
    pub clkop_div: u32,
    /// Input frequency, MHz.
    pub f_in: f64,
    /// Achieved output frequency, MHz.
    pub f_out: f64,
    /// VCO frequency, MHz.
    pub f_vco: f64,
}

/// Best `EHXPLLL` parameters for `f_in` → at most `f_target` MHz (ties: VCO closest to 600 MHz), or `None` if
/// none reaches 95 % of it.
pub fn ecp5_pll(f_in: f64, f_target: f64) -> Option<Ecp5Pll> {
    let mut best: Option<Ecp5Pll> = None;
    for clki_div in 1..=128u32 {
        if f_in / (clki_div as f64) < 3.125 {
            break;
        }
        for clkfb_div in 1..=80u32 {
            let f_out = f_in * clkfb_div as f64 / clki_div as f64;
            for clkop_div in 1..=128u32 {
                let f_vco = f_out * clkop_div as f64;
                if !(400.0..=800.0).contains(&f_vco) || f_out > f_target * (1.0 + 1e-9) {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let (e, eb) = ((f_out - f_target).abs(), (b.f_out - f_target).abs());
                        e < eb - 1e-9 || (e <= eb + 1e-9 && (f_vco - 600.0).abs() < (b.f_vco - 600.0).abs() - 1e-9)
                    }
                };
                if better {
                    best = Some(Ecp5Pll {
                        clki_div,
                        clkfb_div,
                        clkop_div,
                        f_in,
                        f_out,
                        f_vco,
                    });
                }
            }
        }
    }
    best.filter(|b| b.f_out >= 0.95 * f_target)
}

impl Ecp5Pll {
    /// An `EHXPLLL` instance named `pll` from `clk_in` to `out`, with `lock`. The `FREQUENCY_PIN_*` attributes
    /// let nextpnr derive the output clock's constraint.
    pub fn verilog(&self, clk_in: &str, out: &str, lock: &str) -> String {
        let fmt_mhz = |f: f64| {
            let s = format!("{f:.6}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        format!(
            "    // EHXPLLL: {:.3} MHz -> {:.3} MHz (VCO {:.1} MHz)\n    \
             (* FREQUENCY_PIN_CLKI=\"{}\" *)\n    (* FREQUENCY_PIN_CLKOP=\"{}\" *)\n    \
             (* ICP_CURRENT=\"12\" *) (* LPF_RESISTOR=\"8\" *) (* MFG_ENABLE_FILTEROPAMP=\"1\" *) \
             (* MFG_GMCREF_SEL=\"2\" *)\n    EHXPLLL #(\n        .PLLRST_ENA(\"DISABLED\"),\n        \
             .INTFB_WAKE(\"DISABLED\"),\n        .STDBY_ENABLE(\"DISABLED\"),\n        .DPHASE_SOURCE(\"DISABLED\"),\n        \
             .OUTDIVIDER_MUXA(\"DIVA\"),\n        .OUTDIVIDER_MUXB(\"DIVB\"),\n        .OUTDIVIDER_MUXC(\"DIVC\"),\n        \
             .OUTDIVIDER_MUXD(\"DIVD\"),\n        .CLKI_DIV({}),\n        .CLKOP_ENABLE(\"ENABLED\"),\n        \
             .CLKOP_DIV({}),\n        .CLKOP_CPHASE({}),\n        .CLKOP_FPHASE(0),\n        \
             .FEEDBK_PATH(\"CLKOP\"),\n        .CLKFB_DIV({})\n    ) pll (\n        .RST(1'b0),\n        \
             .STDBY(1'b0),\n        .CLKI({clk_in}),\n        .CLKOP({out}),\n        .CLKFB({out}),\n        \
             .PHASESEL0(1'b0),\n        .PHASESEL1(1'b0),\n        .PHASEDIR(1'b1),\n        .PHASESTEP(1'b1),\n        \
             .PHASELOADREG(1'b1),\n        .PLLWAKESYNC(1'b0),\n        .ENCLKOP(1'b0),\n        .LOCK({lock})\n    );\n",
            self.f_in,
            self.f_out,
            self.f_vco,
            fmt_mhz(self.f_in),
            fmt_mhz(self.f_out),
            self.clki_div,
            self.clkop_div,
            (self.clkop_div - 1) / 2,
            self.clkfb_div
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice40_12_to_48() {
        // icepll -i 12 -o 48: DIVR 0, DIVF 63, DIVQ 4, FILTER_RANGE 1, VCO 768 MHz.
        let p = ice40_pll(12.0, 48.0).unwrap();
        assert_eq!((p.divr, p.divf, p.divq, p.filter_range), (0, 63, 4, 1));
        assert_eq!(p.f_out, 48.0);
        assert_eq!(p.f_vco, 768.0);
        assert!(ice40_pll(12.0, 400.0).is_none(), "above the 275 MHz output limit");
        assert!(ice40_pll(5.0, 48.0).is_none());
    }

    #[test]
    fn ecp5_25_to_100() {
        // ecppll -i 25 -o 100: CLKI_DIV 1, CLKFB_DIV 4, CLKOP_DIV 6, VCO 600 MHz.
        let p = ecp5_pll(25.0, 100.0).unwrap();
        assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div), (1, 4, 6));
        assert_eq!(p.f_vco, 600.0);
        // 48 MHz is not reachable from 25 MHz within the PFD limit; ecppll gives 46.875 MHz (8, 15, 13).
        let p = ecp5_pll(25.0, 47.0).unwrap();
        assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div), (8, 15, 13));
        assert_eq!(p.f_out, 46.875);
        assert_eq!(ecp5_pll(25.0, 48.0).unwrap().f_out, 46.875);
        assert!(ecp5_pll(25.0, 1000.0).is_none());
    }
}
