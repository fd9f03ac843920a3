//! Run-time build of a Verilator model: verilate, compile with `cc`, link a shared library, cache by content hash.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{excerpt, Result, SimError};
use crate::ffi::Library;
use crate::port::{self, Port};
use crate::shim;
use crate::toolchain::{self, VerilatorInfo};
use crate::Model;

/// Bump when the layout of a cache entry or the build recipe changes.
const CACHE_FORMAT: &str = "pact-sim cache v1";
/// The port manifest of a cache entry; written last, so its presence marks a complete entry.
const MANIFEST: &str = "ports.tsv";
/// The shared library in a cache entry.
const LIBRARY: &str = "libdut.so";

/// Flags from Verilator's `verilated.mk` (`CFG_CXXFLAGS_NO_UNUSED` on Debian 12) plus hidden visibility, so that
/// two models loaded into one process each keep their own copy of the Verilator runtime.
const CXX_FLAGS: &[&str] = &[
    "-faligned-new",
    "-fcf-protection=none",
    "-Wno-bool-operation",
    "-Wno-sign-compare",
    "-Wno-uninitialized",
    "-Wno-unused-but-set-variable",
    "-Wno-unused-parameter",
    "-Wno-unused-variable",
    "-Wno-shadow",
    "-fvisibility=hidden",
    "-fvisibility-inlines-hidden",
];
/// Libraries Verilator's makefile links (`CFG_LDLIBS_THREADS`).
const LINK_LIBS: &[&str] = &["-pthread", "-latomic"];
/// Optimisation level of the Verilator runtime objects.
const RUNTIME_OPT: u32 = 1;

static VERILATE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has run `verilator --cc` (cache hits do not). Tests use it to prove a cache hit.
pub fn verilate_runs() -> usize {
    VERILATE_RUNS.load(Ordering::SeqCst)
}

/// Where cached builds go when neither [`SimBuilder::cache_dir`] nor `$PACT_SIM_CACHE` says otherwise:
/// `$CARGO_TARGET_DIR/pact-sim-cache`, else `target/pact-sim-cache` in the nearest `target` directory above the
/// running executable (tests, benches and `cargo run` binaries live there), else `$XDG_CACHE_HOME/pact-sim` or
/// `~/.cache/pact-sim`, else a folder in the system temporary directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PACT_SIM_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("pact-sim-cache");
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(target) = exe.ancestors().find(|a| a.file_name().is_some_and(|n| n == "target")) {
            return target.join("pact-sim-cache");
        }
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("pact-sim");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache/pact-sim");
    }
    std::env::temp_dir().join("pact-sim-cache")
}

/// One Verilog source: a file on disk, or text with a file name (used in Verilator's messages).
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Text { name: String, text: String },
}

/// How a model was obtained, and what it cost.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// The content hash naming the cache entry.
    pub key: String,
    /// The cache entry (holds the shared library, the generated C++ and `build.log`).
    pub dir: PathBuf,
    /// True when the entry existed already: nothing was verilated or compiled.
    pub cache_hit: bool,
    /// Time spent in `verilator --cc`.
    pub verilate: Duration,
    /// Wall time of the parallel C++ compilation (model, shim and, if not cached yet, the Verilator runtime).
    pub compile: Duration,
    /// Time spent linking the shared library.
    pub link: Duration,
    /// Whether the Verilator runtime objects had to be compiled too (they are cached apart from models).
    pub runtime_compiled: bool,
    /// Wall time of the whole `build()` call, loading included.
    pub total: Duration,
    /// Verilator's version line.
    pub verilator: String,
}

/// Describes a design to verilate and builds (or finds in the cache) its simulation library.
///
/// ```no_run
/// use pact_sim::{Port, SimBuilder};
/// let model = SimBuilder::new("counter")
///     .file("rtl/counter.v")
///     .ports([Port::input("clk", 1), Port::input("rst", 1), Port::output("count", 8)])
///     .build()?;
/// let mut sim = model.sim()?;
/// let count = sim.port("count")?;
/// sim.tick()?;
/// println!("{}", sim.get(count));
/// # Ok::<(), pact_sim::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SimBuilder {
    top: String,
    sources: Vec<Source>,
    ports: Option<Vec<Port>>,
    clock: Option<String>,
    trace: bool,
    verilator_args: Vec<String>,
    opt_level: u32,
    cache_dir: Option<PathBuf>,
    verilator: PathBuf,
    jobs: Option<usize>,
}

impl SimBuilder {
    /// A design whose top module is `top`. Add sources with [`file`](Self::file) or [`text`](Self::text).
    pub fn new(top: impl Into<String>) -> Self {
        SimBuilder {
            top: top.into(),
            sources: Vec::new(),
            ports: None,
            clock: None,
            trace: false,
            verilator_args: Vec::new(),
            opt_level: 2,
            cache_dir: None,
            verilator: PathBuf::from("verilator"),
            jobs: None,
        }
    }

    /// Add a Verilog/SystemVerilog file. Its contents are part of the cache key. Files pulled in with `` `include ``
    /// are not: list them with `file` too, or change the including file, to invalidate the cache.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::File(path.into()));
        self
    }

    /// Add Verilog source text; `name` (e.g. `mac.v`) is the file name Verilator's messages will use.
    pub fn text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources.push(Source::Text {
            name: name.into(),
            text: text.into(),
        });
        self
    }

    /// Declare the top module's ports. Optional: without it the ports are taken from what Verilator generated.
    /// With it, `build` fails with [`SimError::PortMismatch`] unless the design has exactly these ports.
    pub fn ports(mut self, ports: impl IntoIterator<Item = Port>) -> Self {
        self.ports = Some(ports.into_iter().collect());
        self
    }

    /// The 1-bit input that [`Sim::tick`](crate::Sim::tick) toggles. Default: `clk` or `clock` if the design has one.
    pub fn clock(mut self, name: impl Into<String>) -> Self {
        self.clock = Some(name.into());
        self
    }

    /// Build with `--trace` so that [`Sim::trace`](crate::Sim::trace) can write a VCD file (slower to build and
    /// to run).
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// An extra argument for `verilator --cc` (e.g. `-Wno-WIDTH`, `-GW=8`). `-Wno-fatal` is always given:
    /// warnings are kept in `build.log` but do not stop the build.
    pub fn verilator_arg(mut self, arg: impl Into<String>) -> Self {
        self.verilator_args.push(arg.into());
        self
    }

    /// The C++ optimisation level (default 2).
    pub fn opt_level(mut self, level: u32) -> Self {
        self.opt_level = level;
        self
    }

    /// The cache directory (default [`default_cache_dir`]).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The Verilator program (default `verilator` on `PATH`).
    pub fn verilator_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.verilator = program.into();
        self
    }

    /// How many compiler processes may run at once (default `$PACT_SIM_JOBS`, else the number of CPUs).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = Some(jobs.max(1));
        self
    }

    fn job_count(&self) -> usize {
        self.jobs
            .or_else(|| std::env::var("PACT_SIM_JOBS").ok().and_then(|j| j.parse().ok()))
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
            .max(1)
    }

    /// Verilate and compile the design (or find it in the cache) and load it.
    pub fn build(&self) -> Result<Model> {
        let t0 = Instant::now();
        if self.sources.is_empty() {
            return Err(SimError::Port(format!(
                "no Verilog sources given for top module `{}`",
                self.top
            )));
        }
        let cache = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let vinfo = toolchain::verilator_info(&self.verilator, Some(&cache))?;
        let sources = self.read_sources()?;
        let probe = toolchain::cxx_tool(self.opt_level, &[], &[], &[])?;
        let compiler = toolchain::compiler_identity(&probe);
        let key = self.cache_key(&vinfo, &compiler, &sources);
        let entry = cache.join(format!("{}-{}", sanitize(&self.top), &key[..32]));

        let mut info = BuildInfo {
            key: key.clone(),
            dir: entry.clone(),
            cache_hit: true,
            verilate: Duration::ZERO,
            compile: Duration::ZERO,
            link: Duration::ZERO,
            runtime_compiled: false,
            total: Duration::ZERO,
            verilator: vinfo.version_line.clone(),
        };
        if !entry.join(MANIFEST).is_file() {
            // Threads of this process building the same entry wait for the first one instead of compiling it
            // again (other processes still build in parallel; the atomic rename keeps that correct).
            let key_lock = entry_lock(&entry);
            let _guard = key_lock.lock().unwrap_or_else(|e| e.into_inner());
            if !entry.join(MANIFEST).is_file() {
                info.cache_hit = false;
                fs::create_dir_all(&cache).map_err(|e| SimError::io(format!("creating {}", cache.display()), e))?;
                sweep_stale(&cache);
                self.build_entry(&vinfo, &cache, &entry, &sources, &mut info)?;
            }
        }
        let manifest = fs::read_to_string(entry.join(MANIFEST))
            .map_err(|e| SimError::io(format!("reading {}", entry.join(MANIFEST).display()), e))?;
        let ports = port::from_manifest(&manifest).ok_or_else(|| SimError::Load {
            path: entry.join(MANIFEST),
            detail: "corrupt port manifest (delete the cache entry)".into(),
        })?;
        if let Some(declared) = &self.ports {
            port::check_declared(&self.top, declared, &ports)?;
        }
        let lib = Library::open(&entry.join(LIBRARY))?;
        let clock = match &self.clock {
            Some(name) => {
                let i = ports
                    .iter()
                    .position(|p| p.port.name == *name || p.cxx == *name)
                    .ok_or_else(|| SimError::Port(format!("clock `{name}` is not a port of `{}`", self.top)))?;
                let p = &ports[i].port;
                if !p.dir.is_input() || p.width != 1 {
                    return Err(SimError::Port(format!("clock `{name}` must be a 1-bit input, not {p}")));
                }
                Some(i as u32)
            }
            None => ports
                .iter()
                .position(|p| {
                    (p.port.name == "clk" || p.port.name == "clock") && p.port.dir.is_input() && p.port.width == 1
                })
                .map(|i| i as u32),
        };
        info.total = t0.elapsed();
        Ok(Model::new(
            Arc::new(lib),
            self.top.clone(),
            ports,
            clock,
            self.trace,
            info,
        ))
    }

    /// Shorthand for `build()?.sim()`.
    pub fn sim(&self) -> Result<crate::Sim> {
        self.build()?.sim()
    }

    fn read_sources(&self) -> Result<Vec<(String, String)>> {
        self.sources
            .iter()
            .map(|s| match s {
                Source::File(p) => fs::read_to_string(p)
                    .map(|t| (p.display().to_string(), t))
                    .map_err(|e| SimError::io(format!("reading Verilog source {}", p.display()), e)),
                Source::Text { name, text } => Ok((name.clone(), text.clone())),
            })
            .collect()
    }

    fn verilator_flags(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "--cc",
            "--top-module",
            &self.top,
            "--prefix",
            shim::PREFIX,
            "-Wno-fatal",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.trace {
            v.push("--trace".into());
        }
        v.extend(self.verilator_args.iter().cloned());
        v
    }

    fn cache_key(&self, vinfo: &VerilatorInfo, compiler: &str, sources: &[(String, String)]) -> String {
        let mut h = Sha256::new();
        let mut field = |tag: &str, data: &[u8]| {
            h.update(tag.as_bytes());
            h.update((data.len() as u64).to_le_bytes());
            h.update(data);
        };
        field("format", CACHE_FORMAT.as_bytes());
        field("abi", &shim::ABI.to_le_bytes());
        field("shim", shim::TEMPLATE.as_bytes());
        field("runtime-defines", shim::RUNTIME_DEFINES.join(" ").as_bytes());
        field("printf-header", shim::PRINTF_HEADER.as_bytes());
        field("cxxflags", CXX_FLAGS.join(" ").as_bytes());
        field("ldlibs", LINK_LIBS.join(" ").as_bytes());
        field("verilator", vinfo.version_line.as_bytes());
        field("verilator-root", vinfo.root.to_string_lossy().as_bytes());
        field("compiler", compiler.as_bytes());
        field("target", toolchain::target_triple().as_bytes());
        field("opt", &self.opt_level.to_le_bytes());
        field("flags", self.verilator_flags().join("\u{1f}").as_bytes());
        for (name, text) in sources {
            // Only the base name of a file: moving a checkout does not invalidate its cache.
            let base = Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            field("source-name", base.as_bytes());
            field("source", text.as_bytes());
        }
        h.finalize().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    fn build_entry(
        &self,
        vinfo: &VerilatorInfo,
        cache: &Path,
        entry: &Path,
        sources: &[(String, String)],
        info: &mut BuildInfo,
    ) -> Result<()> {
        let tmp = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(cache)
            .map_err(|e| SimError::io(format!("creating a build folder in {}", cache.display()), e))?;
        let dir = tmp.path();
        let obj = dir.join("obj");
        let src = dir.join("src");
        let mut log = String::new();

        // 1. verilate
        let mut files = Vec::new();
        for (s, (name, text)) in self.sources.iter().zip(sources) {
            match s {
                Source::File(p) => files.push(p.clone()),
                Source::Text { .. } => {
                    fs::create_dir_all(&src).map_err(|e| SimError::io(format!("creating {}", src.display()), e))?;
                    let p = src.join(name);
                    fs::write(&p, text).map_err(|e| SimError::io(format!("writing {}", p.display()), e))?;
                    files.push(p);
                }
            }
        }
        let t = Instant::now();
        let mut cmd = Command::new(&vinfo.program);
        cmd.args(self.verilator_flags()).arg("-Mdir").arg(&obj).args(&files);
        VERILATE_RUNS.fetch_add(1, Ordering::SeqCst);
        let out = cmd
            .output()
            .map_err(|e| SimError::io(format!("running {}", vinfo.program.display()), e))?;
        info.verilate = t.elapsed();
        let src_prefix = format!("{}/", src.display());
        let vlog =
            (String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)).replace(&src_prefix, "");
        let _ = writeln!(log, "$ {cmd:?}\n{vlog}\nverilate: {:?}", info.verilate);
        if !out.status.success() {
            let (location, message) = parse_verilator_error(&vlog);
            return Err(SimError::Verilate {
                top: self.top.clone(),
                location,
                message,
                excerpt: excerpt(&vlog, 30),
            });
        }

        // 2. what Verilator generated
        let classes = read(&obj.join(format!("{}_classes.mk", shim::PREFIX)))?;
        let mk = parse_classes_mk(&classes);
        let header = read(&obj.join(format!("{}.h", shim::PREFIX)))?;
        let ports = port::parse_header(&header).map_err(|detail| SimError::Load {
            path: obj.clone(),
            detail,
        })?;
        if let Some(declared) = &self.ports {
            port::check_declared(&self.top, declared, &ports)?;
        }
        let shim_path = obj.join("pact_shim.cpp");
        fs::write(&shim_path, shim::generate(&ports, self.trace))
            .map_err(|e| SimError::io(format!("writing {}", shim_path.display()), e))?;

        // 3. compile: runtime objects (cached apart, keyed by flags), model + shim as a few unity files
        let inc = vinfo.root.join("include");
        let vltstd = inc.join("vltstd");
        let mut defines: Vec<(String, String)> = ["VM_COVERAGE", "VM_SC", "VM_TRACE", "VM_TRACE_FST", "VM_TRACE_VCD"]
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    mk.switches.get(*k).cloned().unwrap_or_else(|| "0".into()),
                )
            })
            .collect();
        defines.extend(shim::RUNTIME_DEFINES.iter().map(|d| (d.to_string(), "1".to_string())));
        let printf_h = printf_header(cache)?;
        let printf_h = printf_h
            .to_str()
            .ok_or_else(|| SimError::Port(format!("cache path {} is not UTF-8", cache.display())))?;
        let mut flags: Vec<&str> = CXX_FLAGS.to_vec();
        flags.extend(["-include", printf_h]);
        if mk.switches.get("VM_TIMING").is_some_and(|v| v != "0") {
            flags.push("-fcoroutines");
        }
        let tool = toolchain::cxx_tool(self.opt_level, &[&inc, &vltstd, &obj], &defines, &flags)?;
        // The runtime is off the per-cycle path (eval is all model code): -O1 keeps its first build short.
        // No runtime source or header reads VM_TRACE* (Verilator 5.006), so one runtime serves traced and
        // untraced models alike.
        let rt_defines: Vec<(String, String)> = defines
            .iter()
            .map(|(k, v)| {
                if k.starts_with("VM_TRACE") {
                    (k.clone(), "0".to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let rt_tool = toolchain::cxx_tool(RUNTIME_OPT, &[&inc, &vltstd], &rt_defines, &flags)?;
        let rt_key = {
            let mut h = Sha256::new();
            h.update(format!(
                "{CACHE_FORMAT}\n{}\n{}\n",
                vinfo.version_line,
                vinfo.root.display()
            ));
            h.update(format!(
                "{}\n{:?}\n",
                toolchain::compiler_identity(&rt_tool),
                rt_tool.args()
            ));
            h.finalize().iter().take(8).fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
        };
        let rt_dir = cache.join(format!("runtime-{rt_key}"));
        fs::create_dir_all(&rt_dir).map_err(|e| SimError::io(format!("creating {}", rt_dir.display()), e))?;
        let mut jobs = Vec::new();
        let mut objects = Vec::new();
        for name in &mk.globals {
            let o = rt_dir.join(format!("{name}.o"));
            if !o.is_file() {
                let tmp_o = rt_dir.join(format!(".{name}.o.{}-{}", std::process::id(), unique()));
                jobs.push(Job {
                    src: inc.join(format!("{name}.cpp")),
                    out: tmp_o,
                    rename_to: Some(o.clone()),
                    runtime: true,
                });
                info.runtime_compiled = true;
            }
            objects.push(o);
        }
        let mut model_files: Vec<(PathBuf, u64)> = mk
            .classes
            .iter()
            .map(|c| obj.join(format!("{c}.cpp")))
            .chain(std::iter::once(shim_path.clone()))
            .map(|p| {
                let len = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                (p, len)
            })
            .collect();
        let n_jobs = self.job_count();
        let chunks = n_jobs.min(model_files.len()).max(1);
        model_files.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut buckets: Vec<(u64, Vec<PathBuf>)> = vec![(0, Vec::new()); chunks];
        for (p, len) in model_files {
            let b = buckets.iter_mut().min_by_key(|b| b.0).expect("at least one bucket");
            b.0 += len.max(1);
            b.1.push(p);
        }
        for (k, (_, files)) in buckets.iter().enumerate() {
            let unity = obj.join(format!("pact_unity_{k}.cpp"));
            let text: String = files
                .iter()
                .map(|f| format!("#include \"{}\"\n", f.display()))
                .collect();
            fs::write(&unity, text).map_err(|e| SimError::io(format!("writing {}", unity.display()), e))?;
            let o = obj.join(format!("pact_unity_{k}.o"));
            jobs.push(Job {
                src: unity,
                out: o.clone(),
                rename_to: None,
                runtime: false,
            });
            objects.push(o);
        }
        let t = Instant::now();
        let clog = run_jobs([&tool, &rt_tool], &jobs, n_jobs)?;
        info.compile = t.elapsed();
        let _ = writeln!(
            log,
            "{clog}compile ({} files, {n_jobs} jobs): {:?}",
            jobs.len(),
            info.compile
        );

        // 4. link
        let t = Instant::now();
        let lib = dir.join(LIBRARY);
        let mut cmd = tool.to_command();
        cmd.arg("-shared")
            .arg("-o")
            .arg(&lib)
            .args(&objects)
            .args(LINK_LIBS)
            .arg("-Wl,-z,defs");
        let out = cmd
            .output()
            .map_err(|e| SimError::io(format!("running the linker {}", tool.path().display()), e))?;
        info.link = t.elapsed();
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            return Err(SimError::Compile {
                stage: "link",
                what: lib.display().to_string(),
                excerpt: excerpt(&text, 30),
            });
        }
        let _ = writeln!(log, "link: {:?}", info.link);
        for o in objects.iter().filter(|o| o.starts_with(&obj)) {
            let _ = fs::remove_file(o);
        }

        // 5. publish: manifest last, then one atomic rename of the whole folder
        write(&dir.join("build.log"), &log)?;
        write(&dir.join(MANIFEST), &port::to_manifest(&ports))?;
        let kept = tmp.keep();
        match fs::rename(&kept, entry) {
            Ok(()) => Ok(()),
            Err(_) if entry.join(MANIFEST).is_file() => {
                // Another process finished the same build first; theirs is identical, use it.
                let _ = fs::remove_dir_all(&kept);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&kept);
                Err(SimError::io(format!("moving the build into {}", entry.display()), e))
            }
        }
    }
}

/// One mutex per cache entry being built in this process.
fn entry_lock(entry: &Path) -> Arc<Mutex<()>> {
    static LOCKS: Mutex<BTreeMap<PathBuf, Arc<Mutex<()>>>> = Mutex::new(BTreeMap::new());
    LOCKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(entry.to_path_buf())
        .or_default()
        .clone()
}

/// Remove what killed builds left behind: temporary build folders and half-written objects older than a day.
fn sweep_stale(cache: &Path) {
    let day = Duration::from_secs(24 * 3600);
    let old = |p: &Path| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day)
    };
    let Ok(entries) = fs::read_dir(cache) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".build-") && old(&p) {
            let _ = fs::remove_dir_all(&p);
        } else if name.starts_with("runtime-") {
            for o in fs::read_dir(&p).into_iter().flatten().flatten() {
                if o.file_name().to_string_lossy().starts_with('.') && old(&o.path()) {
                    let _ = fs::remove_file(o.path());
                }
            }
        }
    }
}

/// The force-included printf header, written once per content into the cache folder (atomically).
fn printf_header(cache: &Path) -> Result<PathBuf> {
    let digest = Sha256::digest(shim::PRINTF_HEADER.as_bytes());
    let name: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let path = cache.join(format!("pact_printf_{name}.h"));
    if !path.is_file() {
        let tmp = cache.join(format!(".pact_printf_{name}.h.{}-{}", std::process::id(), unique()));
        write(&tmp, shim::PRINTF_HEADER)?;
        fs::rename(&tmp, &path).map_err(|e| SimError::io(format!("creating {}", path.display()), e))?;
    }
    Ok(path)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

fn unique() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u64) ^ ((N.fetch_add(1, Ordering::Relaxed) as u64) << 48)
}

fn read(p: &Path) -> Result<String> {
    fs::read_to_string(p).map_err(|e| SimError::io(format!("reading {}", p.display()), e))
}

fn write(p: &Path, text: &str) -> Result<()> {
    fs::write(p, text).map_err(|e| SimError::io(format!("writing {}", p.display()), e))
}

/// The switches and file lists of `V<prefix>_classes.mk`.
#[derive(Debug, Default, PartialEq)]
struct ClassesMk {
    switches: BTreeMap<String, String>,
    /// Generated model files (`VM_CLASSES_*`, `VM_SUPPORT_*`), without `.cpp`.
    classes: Vec<String>,
    /// Runtime files from the Verilator include folder (`VM_GLOBAL_*`), without `.cpp`.
    globals: Vec<String>,
}

fn parse_classes_mk(text: &str) -> ClassesMk {
    let mut mk = ClassesMk::default();
    let mut list: Option<bool> = None; // Some(true) = globals, Some(false) = classes
    for line in text.lines() {
        let l = line.trim();
        if let Some(open) = list {
            let item = l.trim_end_matches('\\').trim();
            if !item.is_empty() {
                if open {
                    mk.globals.push(item.to_string());
                } else {
                    mk.classes.push(item.to_string());
                }
            }
            if !l.ends_with('\\') {
                list = None;
            }
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = l.split_once("+=") {
            let name = name.trim();
            if name.starts_with("VM_GLOBAL_") {
                list = Some(true);
            } else if name.starts_with("VM_CLASSES_") || name.starts_with("VM_SUPPORT_") {
                list = Some(false);
            }
        } else if let Some((name, value)) = l.split_once('=') {
            mk.switches.insert(name.trim().to_string(), value.trim().to_string());
        }
    }
    mk
}

/// The first `%Error` of Verilator's output: its `file:line` if it has one, and its message.
fn parse_verilator_error(log: &str) -> (Option<(String, u32)>, String) {
    let Some(line) = log.lines().find(|l| l.starts_with("%Error")) else {
        return (
            None,
            log.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
                .trim()
                .to_string(),
        );
    };
    // "%Error: file.v:3:5: message" or "%Error-CODE: file.v:3:5: message" or "%Error: message"
    let rest = line.split_once(": ").map(|x| x.1).unwrap_or(line);
    let mut parts = rest.splitn(4, ':');
    let (file, lno) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match lno.trim().parse::<u32>() {
        Ok(n) if !file.is_empty() && !file.contains(' ') => {
            let third = parts.next().unwrap_or("");
            let msg = if third.trim().parse::<u32>().is_ok() {
                parts.next().unwrap_or("")
            } else {
                third
            };
            (Some((file.to_string(), n)), msg.trim().to_string())
        }
        _ => (None, rest.trim().to_string()),
    }
}

struct Job {
    src: PathBuf,
    out: PathBuf,
    /// Compile to `out`, then rename to this (atomic publication of shared runtime objects).
    rename_to: Option<PathBuf>,
    /// Compile with the runtime's tool (lower optimisation) instead of the model's.
    runtime: bool,
}

/// Compile `jobs` with at most `n` compilers at once; returns a log of per-file times.
fn run_jobs(tools: [&cc::Tool; 2], jobs: &[Job], n: usize) -> Result<String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, std::result::Result<Duration, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..n.min(jobs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                let t = Instant::now();
                let tool = tools[job.runtime as usize];
                let mut cmd = tool.to_command();
                cmd.arg("-c").arg(&job.src).arg("-o").arg(&job.out);
                let r = match cmd.output() {
                    Ok(o) if o.status.success() => match &job.rename_to {
                        Some(dest) => fs::rename(&job.out, dest)
                            .map(|_| t.elapsed())
                            .map_err(|e| e.to_string()),
                        None => Ok(t.elapsed()),
                    },
                    Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                    Err(e) => Err(format!("running {}: {e}", tool.path().display())),
                };
                if r.is_err() {
                    let _ = fs::remove_file(&job.out);
                }
                results.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.0);
    let mut log = String::new();
    for (i, r) in &results {
        match r {
            Ok(d) => {
                let _ = writeln!(log, "  cc {} ({d:?})", jobs[*i].src.display());
            }
            Err(text) => {
                return Err(SimError::Compile {
                    stage: "compile",
                    what: jobs[*i].src.display().to_string(),
                    excerpt: excerpt(text, 40),
                })
            }
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verilator_errors() {
        let log = "%Warning-WIDTH: a.v:2:3: x\n%Error: bad.v:3:1: syntax error, unexpected endmodule\n%Error: Exiting";
        assert_eq!(
            parse_verilator_error(log),
            (Some(("bad.v".into(), 3)), "syntax error, unexpected endmodule".into())
        );
        assert_eq!(
            parse_verilator_error("%Error: Specified --top-module 'x' was not found in design.\n"),
            (None, "Specified --top-module 'x' was not found in design.".into())
        );
        assert_eq!(
            parse_verilator_error("%Error-PINNOTFOUND: /t/m.v:7:12: Pin not found: 'q'\n").0,
            Some(("/t/m.v".into(), 7))
        );
    }

    #[test]
    fn parses_classes_mk() {
        let text = "VM_TIMING = 0\nVM_TRACE = 1\n# c\nVM_CLASSES_FAST += \\\n\tVdut \\\n\tVdut__A \\\n\n\
                    VM_SUPPORT_SLOW += \\\n\tVdut__Syms \\\n\nVM_GLOBAL_FAST += \\\n\tverilated \\\n\tverilated_threads \\\n\n\
                    VM_GLOBAL_SLOW += \\\n\n\n";
        let mk = parse_classes_mk(text);
        assert_eq!(mk.classes, ["Vdut", "Vdut__A", "Vdut__Syms"]);
        assert_eq!(mk.globals, ["verilated", "verilated_threads"]);
        assert_eq!(mk.switches.get("VM_TRACE").map(String::as_str), Some("1"));
    }
}
