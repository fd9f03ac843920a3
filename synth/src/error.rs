//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can stop a synthesis run. Messages are for a person: what failed, the figures or the tool's
/// own words, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A tool is not installed (not on the search path, or its YoWASP venv is missing).
    #[error("{tool} not found ({detail}); install it with: {install}")]
    ToolMissing {
        /// The program, e.g. `nextpnr-ice40`.
        tool: String,
        /// Where it was looked for.
        detail: String,
        /// The command that installs it.
        install: String,
    },
    /// A tool ran and failed.
    #[error("{0}")]
    ToolFailed(Box<ToolFailure>),
    /// The design cannot fit the target: refused before running (estimate) or after synthesis (cell counts).
    #[error("the design does not fit the {target} ({part}): {detail}")]
    DoesNotFit {
        /// Target name.
        target: String,
        /// Part name.
        part: String,
        /// The figures: needed vs available, per resource.
        detail: String,
    },
    /// The design's `manifest.json` cannot be used.
    #[error(transparent)]
    Manifest(#[from] pact_device::ManifestError),
    /// Bad options or inputs (caught before any tool runs).
    #[error("{0}")]
    Invalid(String),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl SynthError {
    /// An [`SynthError::Io`] with a description.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        SynthError::Io {
            what: what.into(),
            source,
        }
    }
}

/// What a failed tool run left: the stage, its exit status, the log's relevant lines and a hint.
#[derive(Debug)]
pub struct ToolFailure {
    /// The stage, e.g. `yosys (synth_ice40)`.
    pub stage: String,
    /// Exit status, or `timed out after …`.
    pub status: String,
    /// The first `file:line` the tool named, if any.
    pub location: Option<String>,
    /// The log's relevant lines.
    pub excerpt: String,
    /// What probably went wrong and what to try.
    pub hint: String,
    /// The file name of the log.
    pub log_name: String,
    /// Where the full log was kept.
    pub log: PathBuf,
}

impl std::fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed ({})", self.stage, self.status)?;
        if let Some(l) = &self.location {
            write!(f, " at {l}")?;
        }
        write!(
            f,
            "\n--- {} (excerpt) ---\n{}\n--- end of excerpt; full log: {} ---\nhint: {}",
            self.log_name,
            self.excerpt,
            self.log.display(),
            self.hint
        )
    }
}

/// Result with [`SynthError`].
pub type Result<T> = std::result::Result<T, SynthError>;
