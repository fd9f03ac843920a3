//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, loading or running a simulation.
///
/// Messages are meant for a person: each says what failed and, where there is one, quotes the tool's own output.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A required tool is not on `PATH` (or could not be started).
    #[error("{tool} not found ({detail}); install it with `{install}`")]
    ToolMissing {
        /// The program name, e.g. `verilator`.
        tool: &'static str,
        /// Why starting it failed.
        detail: String,
        /// The command that installs it on Debian.
        install: &'static str,
    },
    /// Verilator is installed but older than 5.0.
    #[error("{found} is too old: pact-sim needs Verilator >= 5.0; install a newer one with `{install}`")]
    VerilatorTooOld {
        /// The version line `verilator --version` printed.
        found: String,
        /// The command that installs it on Debian.
        install: &'static str,
    },
    /// `verilator --cc` rejected the design.
    #[error("verilator failed on top module `{top}`{}: {message}\n--- verilator output (excerpt) ---\n{excerpt}",
        location.as_ref().map(|(f, l)| format!(" at {f}:{l}")).unwrap_or_default())]
    Verilate {
        /// The top module name.
        top: String,
        /// The first `file:line` verilator named, if any.
        location: Option<(String, u32)>,
        /// The first `%Error` message.
        message: String,
        /// The first lines of verilator's output.
        excerpt: String,
    },
    /// The C++ compiler or the linker failed on the verilated model, the runtime or the shim.
    #[error("C++ {stage} failed for {what}\n--- compiler output (excerpt) ---\n{excerpt}")]
    Compile {
        /// `compile` or `link`.
        stage: &'static str,
        /// The file(s) being compiled or the library being linked.
        what: String,
        /// The first lines of the compiler's output (errors first).
        excerpt: String,
    },
    /// The design's ports do not match what the caller declared.
    #[error("port list mismatch for top module `{top}`: {detail}")]
    PortMismatch {
        /// The top module name.
        top: String,
        /// What differs.
        detail: String,
    },
    /// No port of that name, or it has the wrong direction for the use asked.
    #[error("{0}")]
    Port(String),
    /// The shared library could not be loaded or lacks a symbol.
    #[error("loading {path}: {detail}")]
    Load {
        /// The shared library.
        path: PathBuf,
        /// The loader's message.
        detail: String,
    },
    /// The simulated design stopped with `$stop`, `$fatal`, a failed `$error`, or a Verilator runtime error.
    #[error("simulation stopped: {0}")]
    Stopped(String),
    /// Tracing was asked of a model built without `--trace`, or the VCD file could not be opened.
    #[error("tracing: {0}")]
    Trace(String),
    /// An Icarus Verilog testbench failed to compile, exited non-zero or printed a failure line.
    #[error("icarus testbench {what}\n--- output (excerpt) ---\n{excerpt}")]
    Icarus {
        /// What failed, e.g. `failed: line 12 says MISMATCH`.
        what: String,
        /// The first lines of the output.
        excerpt: String,
    },
    /// A file system or process error, with the path or command it concerns.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// At most `max` lines of `text`, the lines containing `error` (any case) first, with a note of what was left out.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() <= max {
        return lines.join("\n");
    }
    let is_err = |l: &&str| l.to_ascii_lowercase().contains("error");
    let first_err = lines.iter().position(is_err).unwrap_or(0);
    // Start a little before the first error so that the context ("In file included from ...") is kept.
    let start = first_err.saturating_sub(3).min(lines.len() - max);
    let mut out: Vec<&str> = lines[start..start + max].to_vec();
    let more = lines.len() - max;
    let note = format!("... ({more} more lines)");
    out.push(&note);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_text_and_centres_on_errors() {
        assert_eq!(excerpt("a\n\nb\n", 5), "a\nb");
        let text: String = (0..100)
            .map(|i| {
                if i == 50 {
                    "x.cpp:1: error: boom\n".to_string()
                } else {
                    format!("line {i}\n")
                }
            })
            .collect();
        let e = excerpt(&text, 10);
        assert!(e.starts_with("line 47\n"), "{e}");
        assert!(e.contains("error: boom"));
        assert!(e.ends_with("(90 more lines)"));
    }
}
