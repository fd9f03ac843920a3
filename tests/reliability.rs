//! Faults injected into the `pact` command as a user runs it: outputs that cannot be written (a device such as
//! `/dev/full`, a missing or read-only directory, a full disk), `pact gen` into a directory of unrelated files,
//! and SIGINT in the middle of a long `pact train` and `pact gen`. In each case: exit code 1, one clear error line
//! naming the path, no partial or finished-looking output, and a rerun that succeeds and gives the same bytes.
//!
//! The full-disk and read-only cases mount a small tmpfs, which needs root (CI runs as root); elsewhere they are
//! skipped with the reason printed.
//!
//! ```text
//! cargo test --release --test reliability -- --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn pact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .output()
        .expect("run pact")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped float model (architecture + safetensors).
fn model() -> String {
    repo().join("models/mnist5k-small-w4a4.json").display().to_string()
}

/// A quantized model in `dir`, made by `pact quantize`.
fn pqm(dir: &Path) -> String {
    let p = dir.join("m.pqm").display().to_string();
    let o = pact(&["quantize", &model(), "-o", &p, "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    p
}

/// Every name in `dir` (recursively), sorted, with file sizes.
fn listing(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.push(format!("{}/", p.display()));
                v.extend(listing(&p));
            } else {
                v.push(format!(
                    "{} {}",
                    p.display(),
                    p.metadata().map(|m| m.len()).unwrap_or(0)
                ));
            }
        }
    }
    v.sort();
    v
}

/// Check a failed run: exit code 1, stderr one error line containing every fragment.
fn failed(o: &Output, frags: &[&str]) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {e:?}");
    for f in frags {
        assert!(e.contains(f), "{e:?} lacks {f:?}");
    }
    e
}

/// A tmpfs of `size` mounted at a new directory (unmounted on drop); `None` (reason printed) without root.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, opts: &str) -> Option<Tmpfs> {
        let m = dir.join("mnt");
        std::fs::create_dir_all(&m).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(&m)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(m))
        } else {
            pact_sim::require::skip_or_fail(&format!("cannot mount a tmpfs ({opts}) here (needs root)"));
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_output_that_is_a_device_is_refused_and_left_alone() {
    // Renaming a finished temp file over /dev/full (as root) would replace the device node; pact refuses.
    for dev in ["/dev/full", "/dev/null"] {
        let before = std::fs::metadata(dev).unwrap();
        let o = pact(&["quantize", &model(), "-o", dev, "-q"]);
        failed(&o, &[dev, "not a regular file"]);
        let after = std::fs::metadata(dev).unwrap();
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        assert!(after.file_type().is_char_device(), "{dev} is still a device");
        assert_eq!(before.rdev(), after.rdev());
    }
    let leftovers: Vec<_> = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pact-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left in /dev: {leftovers:?}");
}

#[test]
fn unwritable_output_locations_give_one_clear_error_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist, a path under a regular file, and a directory given as the file.
    let missing = dir.path().join("no/such/dir/m.pqm").display().to_string();
    failed(
        &pact(&["quantize", &model(), "-o", &missing, "-q"]),
        &["no/such/dir/m.pqm", "No such file or directory"],
    );
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let under_file = dir.path().join("file/m.pqm").display().to_string();
    failed(
        &pact(&["quantize", &model(), "-o", &under_file, "-q"]),
        &["file/m.pqm", "Not a directory"],
    );
    let d = dir.path().display().to_string();
    failed(&pact(&["quantize", &model(), "-o", &d, "-q"]), &[&d, "is a directory"]);
    assert_eq!(listing(dir.path()).len(), 1, "{:?}", listing(dir.path()));

    // A read-only file system (root bypasses directory permissions, a read-only mount it does not).
    if let Some(ro) = Tmpfs::mount(dir.path(), "ro,size=1m") {
        let out = ro.0.join("m.pqm").display().to_string();
        failed(
            &pact(&["quantize", &model(), "-o", &out, "-q"]),
            &["m.pqm", "Read-only file system"],
        );
        let g = ro.0.join("gen").display().to_string();
        let q = pqm(dir.path());
        let o = pact(&["gen", &q, "-o", &g, "-q"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
        assert!(listing(&ro.0).is_empty());
    }
}

#[test]
fn a_full_disk_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let q = pqm(dir.path());
    // 64 KiB, all of it taken by a ballast file: every write fails.
    let Some(full) = Tmpfs::mount(dir.path(), "size=64k") else {
        return;
    };
    std::fs::write(full.0.join("ballast"), vec![0u8; 64 << 10]).unwrap();
    let out = full.0.join("m.pqm").display().to_string();
    failed(
        &pact(&["quantize", &model(), "-o", &out, "-q"]),
        &["m.pqm", "No space left on device"],
    );
    let g = full.0.join("gen").display().to_string();
    let o = pact(&["gen", &q, "-o", &g, "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left on device"), "{}", stderr(&o));
    assert_eq!(
        listing(&full.0),
        vec![format!("{} {}", full.0.join("ballast").display(), 64 << 10)],
        "only the ballast is left"
    );
    // Space freed: the same commands succeed.
    std::fs::remove_file(full.0.join("ballast")).unwrap();
    let o = pact(&["quantize", &model(), "-o", &out, "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&q).unwrap(),
        "same model, same bytes"
    );
}

#[test]
fn gen_refuses_a_directory_of_unrelated_files_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let q = pqm(dir.path());
    let out = dir.path().join("mine");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("thesis.tex"), b"\\documentclass{article}").unwrap();
    std::fs::write(out.join("sub/data.bin"), [1u8, 2, 3]).unwrap();
    let before = listing(&out);
    let o = pact(&["gen", &q, "-o", &out.display().to_string(), "-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains(&out.display().to_string()), "{e}");
    assert_eq!(listing(&out), before, "the directory is untouched");
    assert_eq!(
        std::fs::read(out.join("thesis.tex")).unwrap(),
        b"\\documentclass{article}"
    );
    println!("{e}");
}

/// Start `pact args`, wait until `ready` holds (or `max`), send SIGINT, and return the output.
/// Run pact, send it SIGINT once `ready()` (or after `max`), and wait for it. The child gets SIGINT's default
/// action back before it starts: a test run from a background job (CI scripts, `nohup … &`) inherits SIGINT
/// ignored, and the signal would then do nothing.
fn interrupt(args: &[&str], ready: impl Fn() -> bool, max: Duration) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pact"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: signal() is async-signal-safe, the only call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let t = Instant::now();
    while !ready() && t.elapsed() < max {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    child.wait_with_output().unwrap()
}

#[test]
fn sigint_during_train_leaves_nothing_finished_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let log = dir.path().join("train.jsonl");
    let o_s = out.display().to_string();
    let log_s = log.display().to_string();
    // Interrupted once the first epoch has been logged (or after 3 s).
    let args = [
        "train", "--data", "digits", "--epochs", "2000", "--limit", "400", "-o", &o_s, "--log", &log_s, "-q",
    ];
    let o = interrupt(&args, || log.exists(), Duration::from_secs(3));
    assert_ne!(o.status.code(), Some(0), "interrupted run must not succeed");
    assert!(!out.exists(), "no model after an interrupted training");
    assert!(
        !dir.path().join("m.safetensors").exists(),
        "no weights after an interrupted training"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n == "train.jsonl" || n.starts_with(".pact-")),
        "only the log (and hidden temp files) may remain: {names:?}"
    );
    // The rerun (short) succeeds, twice with the same bytes.
    let short = [
        "train", "--data", "digits", "--epochs", "1", "--limit", "200", "-o", &o_s, "-q",
    ];
    let o = pact(&short);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = std::fs::read(dir.path().join("m.safetensors")).unwrap();
    let o = pact(&short);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        first,
        std::fs::read(dir.path().join("m.safetensors")).unwrap(),
        "deterministic"
    );
}

#[test]
fn sigint_during_gen_leaves_no_finished_looking_output_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let q = pqm(dir.path());
    let out = dir.path().join("gen");
    let out_s = out.display().to_string();
    // Interrupt at several moments (right away, and as soon as anything appears beside the output).
    for delay_ms in [0u64, 30, 120, 400] {
        let t0 = Instant::now();
        let o = interrupt(
            &["gen", &q, "-o", &out_s, "-q"],
            || t0.elapsed() >= Duration::from_millis(delay_ms),
            Duration::from_secs(5),
        );
        match o.status.code() {
            // Finished before the signal: then the output is complete.
            Some(0) => assert!(out.join("manifest.json").is_file() && out.join("pact_accel.v").is_file()),
            _ => {
                // Killed: either no output directory, or a complete previous one — never a partial one.
                if out.exists() {
                    assert!(
                        out.join("manifest.json").is_file(),
                        "partial output: {:?}",
                        listing(&out)
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    // Rerun: succeeds and gives the same files as an uninterrupted run.
    let o = pact(&["gen", &q, "-o", &out_s, "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = std::fs::read(out.join("pact_accel.v")).unwrap();
    let o = pact(&["gen", &q, "-o", &out_s, "-q"]);
    assert_eq!(o.status.code(), Some(0), "rerun over its own output: {}", stderr(&o));
    assert_eq!(first, std::fs::read(out.join("pact_accel.v")).unwrap(), "deterministic");
}

/// `pact` with `PATH` set to an empty directory (no verilator, yosys, nextpnr) and fresh build caches, so that a
/// cached Verilator build cannot stand in for the missing tool.
fn pact_without_tools(args: &[&str], dir: &Path) -> Output {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    Command::new(env!("CARGO_BIN_EXE_pact"))
        .args(args)
        .env("PATH", &empty)
        .env("PACT_SIM_CACHE", dir.join("sim-cache"))
        .env("PACT_COSIM_CACHE", dir.join("cosim-cache"))
        .output()
        .expect("run pact")
}

fn fails_naming(o: &Output, frags: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for f in frags {
        assert!(e.contains(f), "{e:?} lacks {f:?}");
    }
}

#[test]
fn hardware_commands_without_their_tools_name_the_install_command_and_leave_nothing_finished() {
    let dir = tempfile::tempdir().unwrap();
    let q = pqm(dir.path());
    let o = pact_without_tools(&["sim", &q, "--data", "mnist5k", "--limit", "2", "-q"], dir.path());
    fails_naming(&o, &["verilator", "apt-get install verilator"]);
    let out = dir.path().join("synth");
    let out_s = out.display().to_string();
    let o = pact_without_tools(&["synth", &q, "-o", &out_s, "-q"], dir.path());
    fails_naming(&o, &["yosys", "apt-get install yosys"]);
    assert!(!out.join("report.json").exists(), "no report after a failed synth");
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let o = pact_without_tools(&["run", "-o", &run_s, "--limit", "5", "-q"], dir.path());
    fails_naming(&o, &["co-simulate", "verilator"]);
    for f in ["report.json", "report.md", "report.html"] {
        assert!(!run.join(f).exists(), "{f} after a failed run");
    }
}

/// SIGINT while `pact run` synthesizes: no report, no bitstream that looks finished; a rerun (without synthesis,
/// to keep the test short) writes the reports.
#[test]
fn sigint_during_run_leaves_no_report_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.display().to_string();
    let manifest = out.join("gen").join("manifest.json");
    let o = interrupt(
        &["run", "-o", &out_s, "--limit", "20"],
        || manifest.is_file(),
        Duration::from_secs(120),
    );
    assert_ne!(
        o.status.code(),
        Some(0),
        "an interrupted run must not succeed: {}",
        stderr(&o)
    );
    for f in ["report.json", "report.md", "report.html", "synth/report.json"] {
        assert!(!out.join(f).exists(), "{f} after an interrupted run");
    }
    let o = pact(&["run", "-o", &out_s, "--limit", "20", "--no-synth", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        (r["cosim_images"].as_u64(), r["cosim_mismatches"].as_u64()),
        (Some(20), Some(0))
    );
    assert!(r["synth"].is_null());
}
