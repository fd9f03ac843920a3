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
    /// Prefix a layer or config error with the file it came from (I/O and file errors already name one).
    pub fn in_file(self, path: impl AsRef<Path>) -> Self {
        match self {
            Error::Io { .. } | Error::File { .. } => self,
            other => Error::file(path, other.to_string()),
        }
    }
}
