//! Command-line arguments for `pact synth` (clap), mapped onto [`SynthOptions`].

use std::path::PathBuf;

use crate::flow::{DspMode, SynthOptions};
use crate::target::{Board, Target};

/// `pact synth` arguments (the design part: a directory of Verilog; the caller generates it from a model).
#[derive(Clone, Debug, clap::Args)]
pub struct SynthArgs {
    /// FPGA target: ice40-up5k, ecp5-25k, ecp5-45k or ecp5-85k (default: the board's, else ice40-up5k).
    #[arg(long)]
    pub target: Option<Target>,
    /// Board: icebreaker or ulx3s (adds the UART/PLL/reset top-level and the board's pins).
    #[arg(long)]
    pub board: Option<Board>,
    /// Design clock in MHz (nextpnr --freq; the PLL's target on a board).
    #[arg(long, default_value_t = 48.0)]
    pub freq: f64,
    /// Output directory.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Top module of the design (default: the manifest's).
    #[arg(long)]
    pub top: Option<String>,
    /// UART baud rate of the board top-level.
    #[arg(long, default_value_t = crate::board::DEFAULT_BAUD)]
    pub baud: u32,
    /// Hard multipliers: auto (use them, fall back to LUTs if too many), on, off.
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    pub dsp: String,
    /// Fail when timing is not met at --freq (default: report the shortfall and still write the bitstream).
    #[arg(long)]
    pub strict_timing: bool,
    /// Do not create the YoWASP venv for ECP5 (fail with the install command instead).
    #[arg(long)]
    pub no_setup: bool,
    /// Run the tools even when the pre-synthesis estimate says the design cannot fit.
    #[arg(long)]
    pub force: bool,
}

impl SynthArgs {
    /// The target: `--target`, else the board's, else iCE40 UP5K.
    pub fn target(&self) -> Target {
        self.target
            .or(self.board.map(Board::default_target))
            .unwrap_or(Target::Ice40Up5k)
    }

    /// Options for sources in `sources` and nextpnr placer seed `seed` (the `pact` command's global `--seed`), with
    /// progress output on.
    pub fn options(&self, sources: impl Into<PathBuf>, seed: u64) -> SynthOptions {
        let mut o = SynthOptions::new(sources, self.target(), self.out.clone());
        o.top = self.top.clone();
        o.board = self.board;
        o.freq_mhz = self.freq;
        o.seed = seed;
        o.baud = self.baud;
        o.dsp = match self.dsp.as_str() {
            "on" => DspMode::On,
            "off" => DspMode::Off,
            _ => DspMode::Auto,
        };
        o.strict_timing = self.strict_timing;
        o.setup_yowasp = !self.no_setup;
        o.skip_fit_check = self.force;
        o.progress = true;
        o
    }
}
