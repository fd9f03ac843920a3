//! yosys `synth_ice40` cell counts of the blocks, as a Markdown table (the figures in docs/hardware.md):
//!
//! ```sh
//! cargo run -p pact-hdl --example resources
//! ```
//!
//! Each design is emitted by rust-hdl and synthesized alone with `yosys -p 'read_verilog top.v; synth_ice40
//! [-dsp] -top top; stat'` (yosys 0.23). A k × k MAC has an accumulator of 2k + 9 bits (256 worst-case products).
use pact_hdl::array::Array;
use pact_hdl::mac::{LowBitMac, Mac, OffsetMac};
use pact_hdl::pact::{ChannelConsts, Pact};
use pact_hdl::verilog::{emit, synth_ice40, Ice40Stats};
use pact_hdl::widths::MacWidths;
use pact_hdl::HdlError;

fn row(what: &str, verilog: &str, dsp: bool) -> Result<Ice40Stats, HdlError> {
    let s = synth_ice40(verilog, dsp)?;
    println!(
        "| {what} | {} | {} | {} | {} | {} | {} |",
        if dsp { "yes" } else { "no" },
        s.luts,
        s.ffs,
        s.carries,
        s.brams,
        s.dsps
    );
    Ok(s)
}

fn main() -> Result<(), HdlError> {
    let w = |k: u32| MacWidths::new(k, k, 2 * k + 9);
    println!("| design | -dsp | LUT4 | FF | CARRY | BRAM | DSP |");
    println!("|---|---|---|---|---|---|---|");
    let mut mac = Vec::new();
    for k in [2, 4, 8] {
        mac.push(row(
            &format!("`Mac` (8-bit capacity) at k = {k}"),
            &emit(&mut Mac::new(w(k))?),
            false,
        )?);
    }
    let wide = row(
        "`OffsetMac<16,16,33,64>` at k = 16",
        &emit(&mut OffsetMac::<16, 16, 33, 64>::new(w(16))?),
        false,
    )?;
    row(
        "`LowBitMac` typed at k = 2",
        &emit(&mut LowBitMac::<2, 2, 3, 5, 13>::new(w(2))?),
        false,
    )?;
    row(
        "`LowBitMac` typed at k = 4",
        &emit(&mut LowBitMac::<4, 4, 5, 9, 17>::new(w(4))?),
        false,
    )?;
    row(
        "`LowBitMac` typed at k = 8",
        &emit(&mut LowBitMac::<8, 8, 9, 17, 25>::new(w(8))?),
        false,
    )?;
    for k in [2, 4, 8] {
        let v = emit(&mut OffsetMac::<16, 16, 33, 64>::new(w(k))?);
        row(&format!("`OffsetMac` (16-bit capacity) at k = {k}"), &v, false)?;
    }
    row("`Mac` at k = 8", &emit(&mut Mac::new(w(8))?), true)?;
    row(
        "`OffsetMac<16,16,33,64>` at k = 16",
        &emit(&mut OffsetMac::<16, 16, 33, 64>::new(w(16))?),
        true,
    )?;
    let consts: Vec<ChannelConsts> = (0..16)
        .map(|c| ChannelConsts {
            m0: 30000 + c,
            shift: 16,
            bias: -5,
        })
        .collect();
    for (acc, ka) in [(14, 4), (20, 4), (32, 8)] {
        let v = emit(&mut Pact::new(acc, ka, &consts)?);
        row(
            &format!("`Pact`, 16 channels, {acc}-bit acc → {ka}-bit code"),
            &v,
            false,
        )?;
        row(&format!("`Pact`, 16 channels, {acc}-bit acc → {ka}-bit code"), &v, true)?;
    }
    row(
        "`Array` 4 × 4 at W4A4, 14-bit acc",
        &emit(&mut Array::new(4, 4, MacWidths::new(4, 4, 14))?),
        false,
    )?;
    row(
        "`Array` 4 × 4 at W2A2, 10-bit acc",
        &emit(&mut Array::new(4, 4, MacWidths::new(2, 2, 10))?),
        false,
    )?;
    println!();
    println!(
        "MAC LUT4 ratios: 8-bit / 2-bit = {:.1}, 16-bit / 2-bit = {:.1}, 16-bit / 8-bit = {:.1}",
        mac[2].luts as f64 / mac[0].luts as f64,
        wide.luts as f64 / mac[0].luts as f64,
        wide.luts as f64 / mac[2].luts as f64
    );
    Ok(())
}
