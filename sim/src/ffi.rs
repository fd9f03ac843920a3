//! The FFI layer: loading the shim library and calling its `extern "C"` functions. All `unsafe` of the crate is
//! here; everything above it is safe Rust.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{Result, SimError};
use crate::shim;

type NewFn = unsafe extern "C" fn() -> *mut c_void;
type PtrFn = unsafe extern "C" fn(*mut c_void);
type StatusFn = unsafe extern "C" fn(*mut c_void) -> i32;
type TickFn = unsafe extern "C" fn(*mut c_void, u64) -> i32;
type TimeFn = unsafe extern "C" fn(*mut c_void) -> u64;
type IdxFn = unsafe extern "C" fn(*mut c_void, u32) -> i32;
type Set64Fn = unsafe extern "C" fn(*mut c_void, u32, u64);
type Get64Fn = unsafe extern "C" fn(*mut c_void, u32) -> u64;
type SetWideFn = unsafe extern "C" fn(*mut c_void, u32, *const u64, u32);
type GetWideFn = unsafe extern "C" fn(*mut c_void, u32, *mut u64, u32);
type StrFn = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type TraceOpenFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> i32;
type AbiFn = unsafe extern "C" fn() -> u32;

/// The shim's functions, copied out of the library (which [`Library`] keeps loaded as long as they are used).
struct Api {
    new: NewFn,
    delete: PtrFn,
    eval: StatusFn,
    tick: TickFn,
    time: TimeFn,
    finished: StatusFn,
    error: StrFn,
    set_clock: IdxFn,
    set64: Set64Fn,
    get64: Get64Fn,
    set_wide: SetWideFn,
    get_wide: GetWideFn,
    trace_open: TraceOpenFn,
    trace_flush: PtrFn,
    trace_close: PtrFn,
}

/// A loaded shim library.
pub(crate) struct Library {
    api: Api,
    path: PathBuf,
    // Declared last so that it is dropped (unloaded) last; the `Api` pointers point into it.
    _lib: libloading::Library,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).finish()
    }
}

impl Library {
    /// Load a shim library built by this crate and check its ABI version.
    pub(crate) fn open(path: &Path) -> Result<Library> {
        let err = |detail: String| SimError::Load {
            path: path.to_path_buf(),
            detail,
        };
        // SAFETY: the library is one this crate generated and linked (a cache entry is only published complete,
        // by an atomic rename). Its initialisers are the C++ static constructors of the Verilator runtime and the
        // model, which have no preconditions. It is opened with RTLD_LOCAL (libloading's default on Unix), and
        // everything but the `pact_sim_*` functions has hidden visibility, so it cannot interpose on other code.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| err(e.to_string()))?;
        macro_rules! sym {
            ($name:literal, $ty:ty) => {{
                // SAFETY: the symbol is defined by the shim template in `shim.rs` with exactly the C signature
                // `$ty` describes; the ABI version check below guards against a library from another template.
                let s = unsafe { lib.get::<$ty>(concat!($name, "\0").as_bytes()) };
                *s.map_err(|e| err(format!("missing symbol {}: {e}", $name)))?
            }};
        }
        let abi: AbiFn = sym!("pact_sim_abi", AbiFn);
        // SAFETY: `pact_sim_abi` takes no arguments and returns a constant.
        let found = unsafe { abi() };
        if found != shim::ABI {
            return Err(err(format!(
                "shim ABI {found}, expected {} (delete the cache entry)",
                shim::ABI
            )));
        }
        let api = Api {
            new: sym!("pact_sim_new", NewFn),
            delete: sym!("pact_sim_delete", PtrFn),
            eval: sym!("pact_sim_eval", StatusFn),
            tick: sym!("pact_sim_tick", TickFn),
            time: sym!("pact_sim_time", TimeFn),
            finished: sym!("pact_sim_finished", StatusFn),
            error: sym!("pact_sim_error", StrFn),
            set_clock: sym!("pact_sim_set_clock", IdxFn),
            set64: sym!("pact_sim_set64", Set64Fn),
            get64: sym!("pact_sim_get64", Get64Fn),
            set_wide: sym!("pact_sim_set_wide", SetWideFn),
            get_wide: sym!("pact_sim_get_wide", GetWideFn),
            trace_open: sym!("pact_sim_trace_open", TraceOpenFn),
            trace_flush: sym!("pact_sim_trace_flush", PtrFn),
            trace_close: sym!("pact_sim_trace_close", PtrFn),
        };
        Ok(Library {
            api,
            path: path.to_path_buf(),
            _lib: lib,
        })
    }

    /// Where the library was loaded from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// One model instance (a `VerilatedContext` plus the model) inside a loaded library.
///
/// Port indices passed to the methods are the positions in the library's port manifest; the shim ignores any
/// other index (reads return 0), so a wrong index is a logic error but never memory-unsafe.
pub(crate) struct Instance {
    ptr: NonNull<c_void>,
    lib: Arc<Library>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("library", &self.lib.path).finish()
    }
}

// SAFETY: an instance exclusively owns its C++ `PactSim` (context, model, trace file); nothing else holds its
// pointer, and every call goes through `&self`/`&mut self`, so moving it to another thread moves sole access. The
// shim sets Verilator's thread-local current context on every eval, so Verilator does not rely on the thread
// that created it. It is not `Sync`: two threads must not call into one model at once.
unsafe impl Send for Instance {}

impl Instance {
    pub(crate) fn new(lib: Arc<Library>) -> Result<Instance> {
        // SAFETY: `new` has no preconditions; it returns a heap object owned by this `Instance` until `drop`.
        let raw = unsafe { (lib.api.new)() };
        let ptr = NonNull::new(raw).ok_or_else(|| SimError::Load {
            path: lib.path.clone(),
            detail: "pact_sim_new returned null".into(),
        })?;
        Ok(Instance { ptr, lib })
    }

    fn p(&self) -> *mut c_void {
        self.ptr.as_ptr()
    }

    fn status(&self, code: i32) -> Result<()> {
        if code == 0 {
            return Ok(());
        }
        // SAFETY: the pointer is live (owned by self); the returned C string is owned by the C++ object and
        // stays valid until the next call into it, and it is copied out at once.
        let msg = unsafe { CStr::from_ptr((self.lib.api.error)(self.p())) };
        Err(SimError::Stopped(msg.to_string_lossy().into_owned()))
    }

    pub(crate) fn eval(&mut self) -> Result<()> {
        // SAFETY: live pointer owned by self; C++ exceptions are caught inside the shim (status code returned).
        let code = unsafe { (self.lib.api.eval)(self.p()) };
        self.status(code)
    }

    pub(crate) fn tick(&mut self, n: u64) -> Result<()> {
        // SAFETY: as for `eval`; the shim checks that a clock was selected.
        let code = unsafe { (self.lib.api.tick)(self.p(), n) };
        self.status(code)
    }

    pub(crate) fn time(&self) -> u64 {
        // SAFETY: live pointer; reads a field.
        unsafe { (self.lib.api.time)(self.p()) }
    }

    pub(crate) fn finished(&self) -> bool {
        // SAFETY: live pointer; reads a flag of the context.
        unsafe { (self.lib.api.finished)(self.p()) != 0 }
    }

    /// Select the clock input by index; false if that port is not a 1-bit input.
    pub(crate) fn set_clock(&mut self, idx: u32) -> bool {
        // SAFETY: live pointer; unknown indices are rejected by the shim's switch.
        unsafe { (self.lib.api.set_clock)(self.p(), idx) == 0 }
    }

    #[inline]
    pub(crate) fn set64(&mut self, idx: u32, v: u64) {
        // SAFETY: live pointer; the shim's switch ignores indices that are not inputs of at most 64 bits.
        unsafe { (self.lib.api.set64)(self.p(), idx, v) }
    }

    #[inline]
    pub(crate) fn get64(&self, idx: u32) -> u64 {
        // SAFETY: live pointer; the shim's switch returns 0 for unknown indices; reading does not mutate.
        unsafe { (self.lib.api.get64)(self.p(), idx) }
    }

    pub(crate) fn set_wide(&mut self, idx: u32, words: &[u64]) {
        let n = u32::try_from(words.len()).unwrap_or(u32::MAX);
        // SAFETY: live pointer; the shim reads at most `n` words from `words`, a valid slice of that length.
        unsafe { (self.lib.api.set_wide)(self.p(), idx, words.as_ptr(), n) }
    }

    pub(crate) fn get_wide(&self, idx: u32, out: &mut [u64]) {
        let n = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // SAFETY: live pointer; the shim writes at most `n` words into `out`, a valid mutable slice of that length.
        unsafe { (self.lib.api.get_wide)(self.p(), idx, out.as_mut_ptr(), n) }
    }

    /// Open a VCD file; `Err` with a reason if the model has no tracing or the file cannot be opened.
    pub(crate) fn trace_open(&mut self, path: &Path) -> std::result::Result<(), String> {
        let c = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| "path contains a NUL byte".to_string())?;
        // SAFETY: live pointer; `c` is a NUL-terminated string that outlives the call (the shim copies it).
        match unsafe { (self.lib.api.trace_open)(self.p(), c.as_ptr()) } {
            0 => Ok(()),
            1 => Err("the model was built without tracing: use SimBuilder::trace(true)".into()),
            _ => Err(format!("cannot open {}", path.display())),
        }
    }

    pub(crate) fn trace_flush(&mut self) {
        // SAFETY: live pointer; a no-op without an open trace.
        unsafe { (self.lib.api.trace_flush)(self.p()) }
    }

    pub(crate) fn trace_close(&mut self) {
        // SAFETY: live pointer; a no-op without an open trace.
        unsafe { (self.lib.api.trace_close)(self.p()) }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `pact_sim_new`, is deleted exactly once here, and the library stays loaded
        // because `self.lib` is still alive during this call.
        unsafe { (self.lib.api.delete)(self.p()) }
    }
}
