//! Build the stand-in accelerator in a board top-level and print the report:
//! `cargo run -p pact-synth --example synth_standin -- [icebreaker|ulx3s] [FREQ_MHZ] [OUT_DIR]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let board: pact_synth::Board = args.get(1).map(String::as_str).unwrap_or("icebreaker").parse()?;
    let freq: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(48.0);
    let out = std::path::PathBuf::from(args.get(3).cloned().unwrap_or_else(|| "target/synth-standin".into()));
    let src = out.with_extension("src");
    std::fs::create_dir_all(&src)?;
    pact_synth::board::write_standin(&src)?;
    let mut o = pact_synth::SynthOptions::new(&src, board.default_target(), &out);
    o.top = Some("pact_standin_accel".into());
    o.ports = Some(pact_synth::board::AccelPorts::standin());
    o.board = Some(board);
    o.freq_mhz = freq;
    o.progress = true;
    let r = pact_synth::run(&o)?;
    println!("fmax {:.2} MHz, {} LUT4, {} FF", r.fmax_mhz, r.luts, r.ffs);
    Ok(())
}
