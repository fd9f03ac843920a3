//! Emitting Verilog and checking it with the open tools: Verilator lint and yosys `synth_ice40` statistics.
use crate::HdlError;
use rust_hdl::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Verilator lint flags: the one place where waivers live, each with its reason.
pub const VERILATOR_LINT_FLAGS: &[(&str, &str)] = &[
    ("--lint-only", "check only, build nothing"),
    ("-Wall", "every lint and style warning"),
];

/// rust-hdl emits every module of a design into one text: the top, then its submodules named by instance path
/// (`top$lane$prod_reg`). [`lint_named`] lints the top in `NAME.v` and the submodules as a library file
/// (`-v NAME_modules.v`), as `pact gen` writes them: module and file names match, and Verilator exempts library
/// files from DECLFILENAME, so no waiver is needed.
pub const LIBRARY_FLAG: &str = "-v";

/// The only other waiver is in-source: the truncating [`crate::resize::SignResize`] and
/// [`crate::resize::ZeroResize`] leaves feed the bits they drop to a wire named `unused_high_bits`, which
/// Verilator's default unused-signal pattern (`*unused*`) exempts from UNUSEDSIGNAL.
pub const IN_SOURCE_WAIVERS: &str = "unused_high_bits (truncating resize leaves)";

/// Connect a block and emit its Verilog (rust-hdl's `generate_verilog`; the top module is named `top`).
pub fn emit<B: Block>(block: &mut B) -> String {
    block.connect_all();
    generate_verilog(block)
}

/// A fresh scratch directory under the system temp dir (removed by [`ScratchDir`]'s `Drop`).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Create `<tmp>/pact-hdl-<what>-<pid>-<n>`.
    pub fn new(what: &str) -> Result<Self, HdlError> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pact-hdl-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| HdlError::io("cannot create ", &dir, e))?;
        Ok(ScratchDir(dir))
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// Write `text` to `name` inside the directory and return its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf, HdlError> {
        let p = self.0.join(name);
        std::fs::write(&p, text).map_err(|e| HdlError::io("cannot write ", &p, e))?;
        Ok(p)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run a tool, mapping "not installed" to an error that says how to install it.
pub fn run_tool(cmd: &mut Command, package: &str) -> Result<std::process::Output, HdlError> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            HdlError::ToolMissing {
                tool: prog,
                package: package.into(),
            }
        } else {
            HdlError::Tool {
                msg: format!("cannot run {prog}"),
                source: Some(e),
            }
        }
    })
}

/// Lint Verilog text emitted by rust-hdl (top module `top`) with [`lint_named`].
pub fn lint(verilog: &str) -> Result<(), HdlError> {
    lint_named(verilog, "top")
}

/// Lint Verilog text whose top module `top` is first, ending with the line `endmodule // TOP`, with `verilator`
/// and [`VERILATOR_LINT_FLAGS`]: the top goes into `TOP.v`, the submodules after it into the library file
/// `TOP_modules.v` ([`LIBRARY_FLAG`]). `Ok` only if Verilator reports nothing; otherwise the error holds
/// Verilator's messages.
pub fn lint_named(verilog: &str, top: &str) -> Result<(), HdlError> {
    let end = format!("endmodule // {top}\n");
    let cut = verilog.find(&end).map_or(verilog.len(), |i| i + end.len());
    let dir = ScratchDir::new("lint")?;
    let file = dir.write(&format!("{top}.v"), &verilog[..cut])?;
    let lib = dir.write(&format!("{top}_modules.v"), &verilog[cut..])?;
    let mut cmd = Command::new("verilator");
    cmd.args(VERILATOR_LINT_FLAGS.iter().map(|f| f.0))
        .arg("--top-module")
        .arg(top)
        .arg(&file)
        .arg(LIBRARY_FLAG)
        .arg(&lib);
    let out = run_tool(&mut cmd, "verilator")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && !text.contains("%Warning") && !text.contains("%Error") {
        Ok(())
    } else {
        Err(HdlError::tool(format!("verilator lint failed:\n{text}")))
    }
}

/// iCE40 cell counts after `yosys -p 'synth_ice40 -top top'` (default options: no `-dsp`, so multipliers are
/// built from LUTs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ice40Stats {
    /// `SB_LUT4` cells.
    pub luts: u32,
    /// Flip-flops: every `SB_DFF*` cell.
    pub ffs: u32,
    /// `SB_CARRY` cells (carry chain; they share logic cells with LUTs after place and route).
    pub carries: u32,
    /// `SB_RAM40_4K` block RAMs.
    pub brams: u32,
    /// `SB_MAC16` DSP blocks.
    pub dsps: u32,
}

/// The yosys script behind [`synth_ice40_named`]: `read_verilog FILE; synth_ice40 [-dsp] -top TOP; tee -o STAT
/// stat`.
pub fn synth_ice40_script(file: &str, top: &str, dsp: bool, stat_file: &str) -> String {
    format!(
        "read_verilog {file}; synth_ice40 {}-top {top}; tee -o {stat_file} stat",
        if dsp { "-dsp " } else { "" }
    )
}

/// Synthesize Verilog text emitted by rust-hdl (top module `top`) for iCE40 with yosys and count the cells.
pub fn synth_ice40(verilog: &str, dsp: bool) -> Result<Ice40Stats, HdlError> {
    synth_ice40_named(verilog, "top", dsp)
}

/// Synthesize Verilog text with top module `top` for iCE40 with yosys and count the cells.
pub fn synth_ice40_named(verilog: &str, top: &str, dsp: bool) -> Result<Ice40Stats, HdlError> {
    let dir = ScratchDir::new("yosys")?;
    let file = dir.write(&format!("{top}.v"), verilog)?;
    let stat = dir.path().join("stat.txt");
    let script = synth_ice40_script(&file.to_string_lossy(), top, dsp, &stat.to_string_lossy());
    let out = run_tool(Command::new("yosys").arg("-q").arg("-p").arg(&script), "yosys")?;
    if !out.status.success() {
        return Err(HdlError::tool(format!(
            "yosys failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = std::fs::read_to_string(&stat).map_err(|e| HdlError::Tool {
        msg: "no yosys stat report".into(),
        source: Some(e),
    })?;
    parse_stat(&text)
}

/// Parse the cell list of the last `stat` report in yosys output.
pub fn parse_stat(text: &str) -> Result<Ice40Stats, HdlError> {
    let start = text
        .rfind("Number of cells:")
        .ok_or_else(|| HdlError::tool("no yosys stat report in output"))?;
    let mut s = Ice40Stats::default();
    for line in text[start..].lines().skip(1) {
        let mut it = line.split_whitespace();
        let (Some(cell), Some(n)) = (it.next(), it.next()) else {
            break;
        };
        let Ok(n) = n.parse::<u32>() else { break };
        match cell {
            "SB_LUT4" => s.luts += n,
            "SB_CARRY" => s.carries += n,
            "SB_RAM40_4K" => s.brams += n,
            "SB_MAC16" => s.dsps += n,
            c if c.starts_with("SB_DFF") => s.ffs += n,
            _ => {}
        }
    }
    Ok(s)
}
