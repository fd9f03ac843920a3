//! Output settings of a command: quiet or verbose, progress bars.

use indicatif::{ProgressBar, ProgressStyle};

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
        if self.quiet || n < 200 {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new(n as u64);
        pb.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(msg.to_string());
        pb
    }
    /// Print unless quiet.
    pub fn say(&self, s: &str) {
        if !self.quiet {
            println!("{s}");
        }
    }
}
