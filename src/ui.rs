//! Output settings of a command: quiet or verbose, progress bars.

use indicatif::ProgressBar;

/// Output settings (`-q`, `-v`).
pub struct Ui {
    /// Only errors and the final result; no progress bars.
    pub quiet: bool,
    /// More output (the count of `-v`).
    pub verbose: u8,
}

impl Ui {
    /// A progress bar of `n` steps (hidden when quiet or tiny).
    pub fn bar(&self, n: usize, msg: &str) -> ProgressBar {
        pact_cosim::cli::progress_bar(n, msg, self.quiet || n < 200)
    }
    /// Print unless quiet.
    pub fn say(&self, s: &str) {
        if !self.quiet {
            println!("{s}");
        }
    }
}
