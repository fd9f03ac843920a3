//! File helpers: every file pact writes appears complete or not at all (temp file in the same directory, then
//! rename), and reads report the path on failure.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically: a temp file beside it, flushed and synced, then renamed over `path`.
/// On any failure the temp file is removed and `path` is untouched.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    // The rename would replace whatever is there: never a directory, a device (`/dev/full`, `/dev/null`), a
    // pipe or a socket, only a regular file (or a new name).
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file (a device, pipe or socket)"
            };
            return Err(Error::file(
                path,
                format!("is {what}; pact writes its outputs as regular files"),
            ));
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".pact-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    // tempfile creates 0600 files; results are ordinary files (0644 before the umask, like `File::create`).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = 0o666 & !current_umask();
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Read a whole file, naming it on failure.
pub fn read(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Read a whole file of at most `cap` bytes, naming it on failure. A regular file larger than `cap` is refused
/// before anything is read; anything else (a pipe, a device such as `/dev/zero`) is read up to `cap + 1` bytes
/// and refused if it has more, so no input can make pact read or allocate without bound.
pub fn read_capped(path: impl AsRef<Path>, cap: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let path = path.as_ref();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::file(path, format!("is a directory, expected {what}")));
    }
    let too_big = |len: String| {
        Error::file(
            path,
            format!("is {len} bytes, more than the {cap}-byte limit for {what}"),
        )
    };
    if meta.is_file() && meta.len() > cap {
        return Err(too_big(meta.len().to_string()));
    }
    let mut buf = Vec::with_capacity(if meta.is_file() { meta.len() as usize } else { 0 });
    (&mut file)
        .take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > cap {
        return Err(too_big(format!("over {cap}")));
    }
    Ok(buf)
}

/// Reject Git LFS pointer files (a clone without `git lfs pull`) with a clear message.
pub fn reject_lfs_pointer(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.starts_with(b"version https://git-lfs.github.com/spec/") {
        return Err(Error::file(
            path,
            "is a Git LFS pointer, not the real file (run `git lfs pull`)",
        ));
    }
    Ok(())
}

/// The process umask (read without changing it, via /proc; 0o022 if unavailable).
#[cfg(unix)]
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}
