//! The generated design for a (model, array, fault) triple, kept in a cache directory so that the Verilator build
//! cache (keyed by the Verilog's content, which embeds the `$readmemh` paths) hits on every later run.

use anyhow::{anyhow, Context, Result};
use pact_hdl::accel::emit::{Manifest, MANIFEST_FILE};
use pact_hdl::accel::{generate_with, AccelConfig, GenOptions, GenReport, InjectedFault};
use pact_sim::{Model, SimBuilder};
use pact_toolchain::qmodel::QModel;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where designs go when the caller names no folder: `$PACT_COSIM_CACHE`, else `designs/` inside pact-sim's
/// build cache ([`pact_sim::default_cache_dir`]: `$PACT_SIM_CACHE`, `$CARGO_TARGET_DIR/pact-sim-cache`, …).
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("PACT_COSIM_CACHE").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => pact_sim::default_cache_dir().join("designs"),
    }
}

/// A generated accelerator in its cache folder.
#[derive(Clone, Debug)]
pub struct Design {
    /// What the generator wrote (`report.dir` is the cache folder, `report.plan` the plan, `report.manifest` the
    /// manifest).
    pub report: GenReport,
    /// True when the folder already held exactly these files (nothing was rewritten).
    pub reused: bool,
    /// Wall time of generating (and comparing) the design.
    pub gen_time: Duration,
    /// The manifest's `timing.compute_cycles`: cycles from the edge that takes the last pixel to `out_valid`.
    pub compute_cycles: u64,
}

impl Design {
    /// The folder holding the Verilog, the `$readmemh` files and the manifest.
    pub fn dir(&self) -> &Path {
        &self.report.dir
    }

    /// The Verilog file (`NAME.v`, top module `NAME`).
    pub fn verilog_path(&self) -> PathBuf {
        self.report.dir.join(self.report.verilog_file())
    }

    /// The Verilog library file of the top's submodules (`NAME_modules.v`).
    pub fn modules_path(&self) -> PathBuf {
        self.report.dir.join(self.report.modules_file())
    }

    /// The top module's name.
    pub fn top(&self) -> &str {
        self.report.top.as_str()
    }
}

/// The cache folder of a design: `<cache>/<source stem>-<pe>x<simd>[-fault]-<16 hex digits of SHA-256 over the
/// model's JSON, the array and the fault>`.
pub fn design_dir(cache: &Path, q: &QModel, cfg: &AccelConfig, fault: Option<InjectedFault>) -> PathBuf {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(q).unwrap_or_default());
    h.update(format!("{cfg:?} {fault:?}").as_bytes());
    let key: String = h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    let stem: String = Path::new(&q.provenance.source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let stem = if stem.is_empty() { "model".to_string() } else { stem };
    let fault = fault.map(|f| format!("-{f:?}")).unwrap_or_default();
    cache.join(format!("{stem}-{}x{}{fault}-{key}", cfg.pe(), cfg.simd()))
}

/// Generate the accelerator for `q` on `cfg` (with an injected `fault`, for testing the checkers only) into its
/// folder under `cache` ([`design_dir`]), with absolute `$readmemh` paths so it simulates from any working
/// directory.
///
/// Generate-or-reuse: the design is always generated (0.1–0.3 s for the default model), into a temporary folder
/// beside the final one, with the final folder's paths written into the Verilog. If the final folder already holds
/// exactly the same files, the temporary one is deleted and nothing changes (`reused`); otherwise the new folder
/// replaces the old one by renames. A changed generator therefore never leaves a stale design behind, and an
/// unchanged one never rewrites a folder another process may be simulating.
pub fn prepare(q: &QModel, cfg: &AccelConfig, fault: Option<InjectedFault>, cache: &Path) -> Result<Design> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let t = Instant::now();
    let dir = design_dir(cache, q, cfg, fault);
    std::fs::create_dir_all(cache).with_context(|| format!("creating the design cache {}", cache.display()))?;
    let tmp = cache.join(format!(
        ".gen-{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let opts = GenOptions {
        mem_dir: Some(dir.clone()),
        fault,
        ..GenOptions::default()
    };
    let mut report = generate_with(q, cfg, &tmp, &opts)?;
    let reused = same_files(&tmp, &dir, &report.files);
    if reused {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    } else {
        replace_dir(&tmp, &dir)?;
    }
    report.dir = dir;
    // The manifest as published (typed: a missing or renamed key is an error naming it and the file).
    let path = report.dir.join(MANIFEST_FILE);
    let compute_cycles = Manifest::read(&path)?.timing.compute_cycles;
    if compute_cycles != report.plan.compute_cycles() as u64 {
        return Err(anyhow!(
            "{}: the manifest says {compute_cycles} compute cycles, the plan {}",
            path.display(),
            report.plan.compute_cycles()
        ));
    }
    Ok(Design {
        report,
        reused,
        gen_time: t.elapsed(),
        compute_cycles,
    })
}

/// `new` and `old` hold the same `files` with the same contents, and `old` holds nothing else.
fn same_files(new: &Path, old: &Path, files: &[String]) -> bool {
    let count = match std::fs::read_dir(old) {
        Ok(d) => d.count(),
        Err(_) => return false,
    };
    count == files.len()
        && files
            .iter()
            .all(|f| match (std::fs::read(new.join(f)), std::fs::read(old.join(f))) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            })
}

/// Put `tmp` in the place of `dir` (renames; the old folder is moved aside first and then deleted).
fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        let aside = tmp.with_extension("old");
        std::fs::rename(dir, &aside).with_context(|| format!("moving {} aside", dir.display()))?;
        std::fs::remove_dir_all(&aside).with_context(|| format!("removing {}", aside.display()))?;
    }
    match std::fs::rename(tmp, dir) {
        Ok(()) => Ok(()),
        // Another thread or process published the same design first.
        Err(_) if dir.is_dir() => std::fs::remove_dir_all(tmp).with_context(|| format!("removing {}", tmp.display())),
        Err(e) => Err(e).with_context(|| format!("renaming {} to {}", tmp.display(), dir.display())),
    }
}

/// The Verilator model of a design (`pact_sim`'s content-hash cache: a rebuild only when the Verilog changed).
/// `trace` builds with `--trace` (a separate cache entry) so that [`crate::Dut::trace`] can write a VCD.
pub fn verilate(design: &Design, trace: bool) -> Result<Model> {
    SimBuilder::new(design.top())
        .file(design.verilog_path())
        .file(design.modules_path())
        .trace(trace)
        .build()
        .with_context(|| format!("verilating {}", design.verilog_path().display()))
}
