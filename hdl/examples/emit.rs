//! Write the Verilog of a 4-bit MAC, a 4 × 4 W4A4 array and a 16-channel PACT unit to a directory, with line
//! counts and emission times: `cargo run -p pact-hdl --example emit DIR`.
use pact_hdl::array::Array;
use pact_hdl::mac::Mac;
use pact_hdl::pact::{ChannelConsts, Pact};
use pact_hdl::verilog::emit;
use pact_hdl::widths::MacWidths;
use pact_hdl::HdlError;
use std::path::Path;
use std::time::Instant;

fn write(
    dir: &Path,
    name: &str,
    build: impl FnOnce() -> Result<String, HdlError>,
) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let v = build()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    std::fs::write(dir.join(name), &v)?;
    let modules = v.lines().filter(|l| l.starts_with("module ")).count();
    println!(
        "{name}: {} lines, {modules} modules, built and emitted in {ms:.1} ms",
        v.lines().count()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: emit DIR")?);
    std::fs::create_dir_all(&dir)?;
    let w = MacWidths::new(4, 4, 14);
    let consts: Vec<ChannelConsts> = (0..16)
        .map(|c| ChannelConsts {
            m0: 30000 + c,
            shift: 16,
            bias: -5,
        })
        .collect();
    write(&dir, "mac.v", || Ok(emit(&mut Mac::new(w)?)))?;
    write(&dir, "array.v", || Ok(emit(&mut Array::new(4, 4, w)?)))?;
    write(&dir, "pact.v", || Ok(emit(&mut Pact::new(14, 4, &consts)?)))?;
    Ok(())
}
