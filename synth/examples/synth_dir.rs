//! Run the flow on a directory of Verilog (e.g. `pact-hdl`'s generator output) with the same arguments
//! `pact synth` takes: `cargo run -p pact-synth --example synth_dir -- SOURCES -o OUT [--board icebreaker] …`.
use clap::Parser;

#[derive(Parser)]
struct Cli {
    /// Directory with the Verilog, the $readmemh files and (optionally) manifest.json.
    sources: std::path::PathBuf,
    #[command(flatten)]
    synth: pact_synth::cli::SynthArgs,
    /// nextpnr placer seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() {
    let cli = Cli::parse();
    match pact_synth::run(&cli.synth.options(&cli.sources, cli.seed)) {
        Ok(_) => println!("report: {}", cli.synth.out.join(pact_synth::REPORT_FILE).display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
