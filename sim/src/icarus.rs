//! Running a self-checking Icarus Verilog testbench: `iverilog -g2012 -o X files && vvp -n X`.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{excerpt, Result, SimError};

/// The command that installs Icarus Verilog on Debian, quoted in errors.
pub const ICARUS_INSTALL: &str = "apt-get install iverilog";

/// What a passing testbench printed, and what it cost.
#[derive(Debug, Clone)]
pub struct IcarusRun {
    /// Everything `vvp` wrote to standard output.
    pub stdout: String,
    /// Everything `vvp` wrote to standard error.
    pub stderr: String,
    /// Time spent in `iverilog`.
    pub compile_time: Duration,
    /// Time spent in `vvp`.
    pub run_time: Duration,
}

/// A self-checking Icarus Verilog testbench.
///
/// It fails ([`SimError::Icarus`]) when `iverilog` rejects the sources, when `vvp` exits non-zero (e.g. after
/// `$fatal`) or runs past the timeout, or when a line of its output contains `MISMATCH` or `FAIL` or starts with
/// `ERROR:` (how Icarus prints `$error`). Matching is case-sensitive, so a testbench may print `failures: 0`.
///
/// ```no_run
/// let run = pact_sim::IcarusTestbench::new().file("tb_mac.v").file("mac.v").top("tb_mac").run()?;
/// println!("{}", run.stdout);
/// # Ok::<(), pact_sim::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IcarusTestbench {
    files: Vec<PathBuf>,
    texts: Vec<(String, String)>,
    top: Option<String>,
    defines: Vec<(String, String)>,
    include_dirs: Vec<PathBuf>,
    plusargs: Vec<String>,
    timeout: Duration,
}

impl Default for IcarusTestbench {
    fn default() -> Self {
        Self::new()
    }
}

impl IcarusTestbench {
    /// An empty testbench (add files); the default timeout is 10 minutes.
    pub fn new() -> Self {
        IcarusTestbench {
            files: Vec::new(),
            texts: Vec::new(),
            top: None,
            defines: Vec::new(),
            include_dirs: Vec::new(),
            plusargs: Vec::new(),
            timeout: Duration::from_secs(600),
        }
    }

    /// Add a source file.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Add source text under a file name (written to a temporary folder).
    pub fn text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.texts.push((name.into(), text.into()));
        self
    }

    /// The root module (`iverilog -s`); without it Icarus elaborates every uninstantiated module.
    pub fn top(mut self, name: impl Into<String>) -> Self {
        self.top = Some(name.into());
        self
    }

    /// A preprocessor define (`-DNAME=VALUE`).
    pub fn define(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.defines.push((name.into(), value.into()));
        self
    }

    /// An include directory (`-I`).
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// A `+plusarg` for `vvp` (read with `$value$plusargs`).
    pub fn plusarg(mut self, arg: impl Into<String>) -> Self {
        self.plusargs.push(arg.into());
        self
    }

    /// Kill `vvp` and fail after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Compile and run; `Ok` only if the testbench passed (see the type's documentation).
    pub fn run(&self) -> Result<IcarusRun> {
        let dir = tempfile::Builder::new()
            .prefix("pact-icarus-")
            .tempdir()
            .map_err(|e| SimError::io("creating a temporary folder for iverilog", e))?;
        let mut files = self.files.clone();
        for (name, text) in &self.texts {
            let p = dir.path().join(name);
            std::fs::write(&p, text).map_err(|e| SimError::io(format!("writing {}", p.display()), e))?;
            files.push(p);
        }
        let exe = dir.path().join("tb.vvp");
        let mut cmd = Command::new("iverilog");
        cmd.arg("-g2012").arg("-o").arg(&exe);
        if let Some(top) = &self.top {
            cmd.arg("-s").arg(top);
        }
        for (k, v) in &self.defines {
            cmd.arg(format!("-D{k}={v}"));
        }
        for d in &self.include_dirs {
            cmd.arg("-I").arg(d);
        }
        cmd.args(&files);
        let t = Instant::now();
        let out = cmd.output().map_err(|e| missing("iverilog", e))?;
        let compile_time = t.elapsed();
        // Text sources live in the temporary folder: show only their names.
        let prefix = format!("{}/", dir.path().display());
        if !out.status.success() {
            let text = (String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
                .replace(&prefix, "");
            return Err(SimError::Icarus {
                what: format!("did not compile (iverilog {})", out.status),
                excerpt: excerpt(&text, 30),
            });
        }

        let t = Instant::now();
        let mut child = Command::new("vvp")
            .arg("-n")
            .arg(&exe)
            .args(&self.plusargs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| missing("vvp", e))?;
        let mut so = child.stdout.take().expect("piped stdout");
        let mut se = child.stderr.take().expect("piped stderr");
        let out_thread = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = so.read_to_end(&mut s);
            s
        });
        let err_thread = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = se.read_to_end(&mut s);
            s
        });
        let status = loop {
            match child.try_wait().map_err(|e| SimError::io("waiting for vvp", e))? {
                Some(st) => break Some(st),
                None if t.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let run_time = t.elapsed();
        let stdout = String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).replace(&prefix, "");
        let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).replace(&prefix, "");
        let both = format!("{stdout}{stderr}");
        let Some(status) = status else {
            return Err(SimError::Icarus {
                what: format!("timed out after {:?}", self.timeout),
                excerpt: excerpt(&both, 30),
            });
        };
        if !status.success() {
            return Err(SimError::Icarus {
                what: format!("failed: vvp {status}"),
                excerpt: excerpt(&both, 30),
            });
        }
        if let Some((n, line)) = both.lines().enumerate().find(|(_, l)| is_failure_line(l)) {
            return Err(SimError::Icarus {
                what: format!("failed: output line {} says `{}`", n + 1, line.trim()),
                excerpt: excerpt(&both, 30),
            });
        }
        Ok(IcarusRun {
            stdout,
            stderr,
            compile_time,
            run_time,
        })
    }
}

/// Whether a testbench output line reports a failure.
pub fn is_failure_line(line: &str) -> bool {
    line.contains("MISMATCH") || line.contains("FAIL") || line.trim_start().starts_with("ERROR:")
}

fn missing(tool: &'static str, e: std::io::Error) -> SimError {
    SimError::ToolMissing {
        tool,
        detail: e.to_string(),
        install: ICARUS_INSTALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines() {
        assert!(is_failure_line("MISMATCH at cycle 3: got 1 want 2"));
        assert!(is_failure_line("test FAILED"));
        assert!(is_failure_line("ERROR: tb.v:4: bad"));
        assert!(!is_failure_line("PASS: 100 vectors, failures: 0"));
        assert!(!is_failure_line("no errors"));
    }
}
