//! One error type for the toolchain. Every variant renders as a single line that names the file, layer or
//! setting at fault and what is wrong with it.

use std::path::{Path, PathBuf};

/// Errors of the toolchain. `Display` is one line meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could be read but its content is malformed.
    #[error("{}: {msg}", path.display())]
    File { path: PathBuf, msg: String },
    /// A layer (node, tensor) of a model is unsupported or inconsistent.
    #[error("layer '{layer}': {msg}")]
    Layer { layer: String, msg: String },
    /// A configuration value is out of range.
    #[error("{0}")]
    Config(String),
    /// An error of a layer caused by another toolchain error (a constant the contract cannot represent …):
    /// `Display` names the layer and, if given, where in it (`channel 3`); the cause is the `source`, not repeated.
    #[error("layer '{layer}'{}", at.as_deref().map(|a| format!(": {a}")).unwrap_or_default())]
    InLayer {
        layer: String,
        at: Option<String>,
        /// Always a toolchain [`Error`] (boxed as `dyn` so that `source()` yields it, not its box).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result alias of the toolchain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
    /// A content error in `path`.
    pub fn file(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::File {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    /// An error about one layer, node or tensor.
    pub fn layer(layer: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Layer {
            layer: layer.into(),
            msg: msg.into(),
        }
    }
    /// A configuration error.
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
    /// `self` as the cause of an error of `layer` (at `at` in it, e.g. `channel 3`).
    pub fn in_layer(self, layer: impl Into<String>, at: Option<String>) -> Self {
        Error::InLayer {
            layer: layer.into(),
            at,
            source: Box::new(self),
        }
    }
    /// The message of `self` and of every error in its `source()` chain, joined by `": "` (what `anyhow`'s `{:#}`
    /// prints): the whole message for a caller that formats errors itself.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut e: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(x) = e {
            s.push_str(": ");
            s.push_str(&x.to_string());
            e = x.source();
        }
        s
    }
    /// Prefix a layer or config error with the file it came from (I/O and file errors already name one).
    pub fn in_file(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Io { .. } | Error::File { .. } => self,
            other => Error::file(path, other.chain()),
        }
    }
}
