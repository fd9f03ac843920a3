//! Stand-alone `pact train` (the same arguments as the `pact` subcommand, plus `--seed` and `--quiet`):
//! `cargo run --release -p pact-train --example train -- --data mnist5k --arch cnn -o /tmp/m.json`.
//! Prints the report as JSON on stdout.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: pact_train::TrainArgs,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = pact_train::run(&cli.args, cli.seed, cli.quiet)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
