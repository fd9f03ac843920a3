//! The external tools: Verilator (version check, include root) and the C++ compiler (through the `cc` crate).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::error::{Result, SimError};

/// The command that installs Verilator on Debian, quoted in errors.
pub const VERILATOR_INSTALL: &str = "apt-get install verilator";

/// The lowest Verilator version supported (the Debian 12 package is 5.006).
pub const MIN_VERILATOR: (u32, u32) = (5, 0);

/// What `verilator --version` and `verilator --getenv VERILATOR_ROOT` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerilatorInfo {
    /// The program that was run.
    pub program: PathBuf,
    /// The whole version line, e.g. `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)`.
    pub version_line: String,
    /// Major and minor version, e.g. `(5, 6)`.
    pub version: (u32, u32),
    /// The Verilator root; its `include/` holds the runtime sources.
    pub root: PathBuf,
}

/// Parse `Verilator 5.006 2023-01-22 ...` into `(5, 6)`.
pub fn parse_verilator_version(line: &str) -> Option<(u32, u32)> {
    let mut words = line.split_whitespace();
    if words.next()? != "Verilator" {
        return None;
    }
    let v = words.next()?;
    let (major, minor) = v.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Find and check Verilator (`program` is `verilator` or a path).
///
/// The answer is remembered per program in this process and, when `cache` is given, on disk in that folder
/// keyed by the program's resolved path, size and modification time, so that a cache hit starts no Verilator
/// process at all.
pub fn verilator_info(program: &Path, cache: Option<&Path>) -> Result<VerilatorInfo> {
    static SEEN: Mutex<Vec<VerilatorInfo>> = Mutex::new(Vec::new());
    if let Some(info) = SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|i| i.program == program)
    {
        return Ok(info.clone());
    }
    let missing = |detail: String| SimError::ToolMissing {
        tool: "verilator",
        detail,
        install: VERILATOR_INSTALL,
    };
    let resolved = resolve_program(program)
        .ok_or_else(|| missing(format!("`{}` is not an executable file or on PATH", program.display())))?;
    let stamp_file = cache.and_then(|dir| {
        let meta = std::fs::metadata(&resolved).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let mut h = DefaultHasher::new();
        (resolved.as_os_str(), meta.len(), mtime).hash(&mut h);
        Some(dir.join(format!("verilator-{:016x}.txt", h.finish())))
    });
    let cached = stamp_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| {
            let (line, root) = t.split_once('\n')?;
            let version = parse_verilator_version(line)?;
            let root = PathBuf::from(root.trim_end());
            root.join("include/verilated.cpp").is_file().then(|| VerilatorInfo {
                program: program.to_path_buf(),
                version_line: line.to_string(),
                version,
                root,
            })
        });
    let info = match cached {
        Some(info) => info,
        None => {
            let info = query_verilator(program)?;
            if let Some(f) = &stamp_file {
                let _ = std::fs::create_dir_all(f.parent().unwrap_or(Path::new(".")));
                let tmp = f.with_extension(format!("tmp{}", std::process::id()));
                if std::fs::write(&tmp, format!("{}\n{}\n", info.version_line, info.root.display())).is_ok() {
                    let _ = std::fs::rename(&tmp, f);
                }
            }
            info
        }
    };
    if info.version < MIN_VERILATOR {
        return Err(SimError::VerilatorTooOld {
            found: info.version_line,
            install: VERILATOR_INSTALL,
        });
    }
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).push(info.clone());
    Ok(info)
}

/// `program` itself if it names a file (has a `/`), else the first match on `PATH`.
fn resolve_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn query_verilator(program: &Path) -> Result<VerilatorInfo> {
    let missing = |detail: String| SimError::ToolMissing {
        tool: "verilator",
        detail,
        install: VERILATOR_INSTALL,
    };
    let out = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| missing(format!("running `{} --version`: {e}", program.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("Verilator"))
        .unwrap_or("")
        .trim()
        .to_string();
    if !out.status.success() || line.is_empty() {
        return Err(missing(format!(
            "`{} --version` did not print a Verilator version ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let version =
        parse_verilator_version(&line).ok_or_else(|| missing(format!("unrecognised version line `{line}`")))?;
    if version < MIN_VERILATOR {
        return Err(SimError::VerilatorTooOld {
            found: line,
            install: VERILATOR_INSTALL,
        });
    }
    let root_out = Command::new(program)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| missing(format!("running `{} --getenv VERILATOR_ROOT`: {e}", program.display())))?;
    let root = PathBuf::from(String::from_utf8_lossy(&root_out.stdout).trim());
    if !root.join("include/verilated.cpp").is_file() {
        return Err(missing(format!(
            "Verilator's runtime sources are not at {}/include/verilated.cpp",
            root.display()
        )));
    }
    Ok(VerilatorInfo {
        program: program.to_path_buf(),
        version_line: line,
        version,
        root,
    })
}

/// The target triple this crate was compiled for (recorded by its build script).
pub(crate) fn target_triple() -> &'static str {
    env!("PACT_SIM_TARGET")
}

/// The C++ compiler command from `cc`, with the flags Verilator's own makefile uses plus ours.
pub(crate) fn cxx_tool(
    opt_level: u32,
    includes: &[&Path],
    defines: &[(String, String)],
    flags: &[&str],
) -> Result<cc::Tool> {
    let mut b = cc::Build::new();
    b.cpp(true)
        .target(target_triple())
        .host(target_triple())
        .opt_level(opt_level)
        .debug(false)
        .pic(true)
        .warnings(false)
        .extra_warnings(false)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .emit_rerun_if_env_changed(false)
        .inherit_rustflags(false);
    for dir in includes {
        b.include(dir);
    }
    for (k, v) in defines {
        b.define(k, v.as_str());
    }
    for f in flags {
        b.flag(f);
    }
    b.try_get_compiler().map_err(|e| SimError::ToolMissing {
        tool: "c++",
        detail: format!("the cc crate found no C++ compiler: {e}"),
        install: "apt-get install g++",
    })
}

/// `<compiler> --version`, first line, remembered; part of the cache key.
pub(crate) fn compiler_identity(tool: &cc::Tool) -> String {
    static ID: OnceLock<Mutex<Vec<(PathBuf, String)>>> = OnceLock::new();
    let ids = ID.get_or_init(|| Mutex::new(Vec::new()));
    let path = tool.path().to_path_buf();
    if let Some((_, id)) = ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(p, _)| *p == path)
    {
        return id.clone();
    }
    let id = Command::new(&path)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let id = format!("{} {id}", path.display());
    ids.lock().unwrap_or_else(|e| e.into_inner()).push((path, id.clone()));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_version_lines() {
        assert_eq!(
            parse_verilator_version("Verilator 5.006 2023-01-22 rev (Debian 5.006-3)"),
            Some((5, 6))
        );
        assert_eq!(
            parse_verilator_version("Verilator 4.038 2020-07-11 rev v4.036-114-g0cd4a57ad"),
            Some((4, 38))
        );
        assert_eq!(parse_verilator_version("Verilator 5.030"), Some((5, 30)));
        assert_eq!(parse_verilator_version("Icarus Verilog 11"), None);
        assert!((4, 38) < MIN_VERILATOR && (5, 6) >= MIN_VERILATOR);
    }
}
