//! Tools that fail in the middle of a run, injected as fake programs first on the tool search path: a `yosys`
//! that prints an error and exits 1, and one that hangs past the stage timeout. The error quotes the tool's log
//! and names where the full log is kept; nothing that looks finished is left, and no work directory.
//! (A missing tool with its install command is tested in `flow.rs`.)
//!
//! ```text
//! cargo test --release -p pact-synth --test faults -- --nocapture
//! ```

use pact_synth::board::{standin_manifest, write_standin};
use pact_synth::{run, SynthError, SynthOptions, Target, FAILED_DIR, REPORT_FILE};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A source directory with the stand-in accelerator and its manifest.
fn sources(dir: &Path) -> PathBuf {
    let src = dir.join("gen");
    std::fs::create_dir_all(&src).unwrap();
    write_standin(&src).unwrap();
    std::fs::write(src.join("manifest.json"), standin_manifest().to_json()).unwrap();
    src
}

/// A directory of fake tools: `yosys` runs `yosys_body`, `nextpnr-ice40` and `icepack` succeed silently.
fn fake_tools(dir: &Path, yosys_body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, body) in [
        ("yosys", yosys_body),
        ("nextpnr-ice40", "exit 0"),
        ("icepack", "exit 0"),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn nothing_finished(out: &Path) {
    assert!(!out.join(REPORT_FILE).exists(), "no report after a failure");
    let names: Vec<String> = std::fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        names.iter().all(|n| n == FAILED_DIR),
        "only the failure's logs may remain: {names:?}"
    );
}

#[test]
fn a_tool_failing_mid_run_is_quoted_and_leaves_nothing_finished() {
    let dir = tempfile::tempdir().unwrap();
    let src = sources(dir.path());
    let out = dir.path().join("out");
    let bin = fake_tools(
        dir.path(),
        "echo 'Executing SYNTH_ICE40 pass.'\necho 'ERROR: fake failure injected by faults.rs: out of cheese' >&2\nexit 1",
    );
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.tool_path = Some(bin.into_os_string());
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    println!("{msg}");
    assert!(matches!(e, SynthError::ToolFailed(_)), "{msg}");
    assert!(msg.contains("out of cheese"), "the error quotes the tool's log: {msg}");
    assert!(msg.contains("yosys"), "{msg}");
    assert!(
        msg.contains(&out.join(FAILED_DIR).display().to_string()),
        "names the kept log: {msg}"
    );
    nothing_finished(&out);
}

#[test]
fn a_hanging_tool_is_stopped_at_the_stage_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let src = sources(dir.path());
    let out = dir.path().join("out");
    let bin = fake_tools(dir.path(), "echo 'Executing SYNTH_ICE40 pass.'\nexec sleep 600");
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.tool_path = Some(bin.into_os_string());
    o.stage_timeout = Duration::from_secs(2);
    let t = Instant::now();
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    println!("{msg} ({:.1} s)", t.elapsed().as_secs_f64());
    assert!(t.elapsed() < Duration::from_secs(30), "stopped near the timeout");
    assert!(msg.contains("yosys"), "{msg}");
    assert!(msg.to_lowercase().contains("time"), "says it timed out: {msg}");
    nothing_finished(&out);
}
