//! The `extern "C"` C++ shim compiled with each verilated model.
//!
//! The template is fixed text (it is part of the cache key); only the per-port `switch` cases are generated from
//! the ports Verilator declared in the model header.

use crate::port::{CxxType, ModelPort};

/// The version of the C ABI between [`crate::ffi`] and the shim; `pact_sim_abi()` returns it.
pub(crate) const ABI: u32 = 1;

/// The class prefix passed to `verilator --prefix`, so that the shim does not depend on the top module's name.
pub(crate) const PREFIX: &str = "Vdut";

/// Defines the runtime must be compiled with: the shim provides `vl_finish`, `vl_stop` and `vl_fatal` so that a
/// `$finish` does not exit the process and a `$stop`/`$fatal` becomes a Rust error instead of `abort()`.
pub(crate) const RUNTIME_DEFINES: &[&str] = &["VL_USER_FINISH", "VL_USER_STOP", "VL_USER_FATAL"];

/// Force-included (`-include`) into every C++ file, runtime too: Verilator's `VL_PRINTF` goes through the shim,
/// which prints as usual and keeps the recent output, so that a `$fatal`/`$error` message ends up in the error.
pub(crate) const PRINTF_HEADER: &str = r#"// pact-sim: route Verilator's printing through the shim (generated, do not edit).
#pragma once
int pact_vl_printf(const char* formatp, ...) __attribute__((format(printf, 1, 2)));
#define VL_PRINTF pact_vl_printf
"#;

/// The shim template; `@TRACE@`, `@ABI@`, `@SET64@`, `@GET64@`, `@SETW@`, `@GETW@` and `@CLOCK@` are replaced.
pub(crate) const TEMPLATE: &str = r#"// pact-sim shim: generated, do not edit.
#include "Vdut.h"
#include "verilated.h"
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>
#define PACT_TRACE @TRACE@
#if PACT_TRACE
#include "verilated_vcd_c.h"
#endif

#define PACT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
struct PactStop {
    std::string msg;
};

struct PactSim {
    VerilatedContext* ctx = nullptr;
    Vdut* top = nullptr;
    CData* clk = nullptr;
    uint64_t time = 0;
    std::string err;
#if PACT_TRACE
    VerilatedVcdC* tfp = nullptr;
#endif
};

// The last lines Verilator printed on this thread (for error messages).
thread_local std::string recent;

std::string where(const char* filename, int linenum) {
    if (filename && filename[0]) return std::string(filename) + ":" + std::to_string(linenum) + ": ";
    return std::string();
}
}  // namespace

int pact_vl_printf(const char* formatp, ...) {
    va_list ap;
    va_start(ap, formatp);
    va_list ap2;
    va_copy(ap2, ap);
    int n = std::vsnprintf(nullptr, 0, formatp, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return n;
    }
    std::vector<char> buf(static_cast<size_t>(n) + 1);
    std::vsnprintf(buf.data(), buf.size(), formatp, ap2);
    va_end(ap2);
    std::fputs(buf.data(), stdout);
    std::fflush(stdout);
    recent.append(buf.data(), static_cast<size_t>(n));
    if (recent.size() > 4096) recent.erase(0, recent.size() - 2048);
    return n;
}

// The last non-empty line Verilator printed that reports an error, if any (then forgotten).
std::string recent_error() {
    std::string found;
    size_t start = 0;
    while (start < recent.size()) {
        size_t end = recent.find('\n', start);
        if (end == std::string::npos) end = recent.size();
        std::string line = recent.substr(start, end - start);
        if (line.find("%Error") != std::string::npos || line.find("%Fatal") != std::string::npos) found = line;
        start = end + 1;
    }
    recent.clear();
    return found;
}

// Verilator runtime hooks (the runtime is compiled with VL_USER_FINISH, VL_USER_STOP and VL_USER_FATAL).
void vl_finish(const char* filename, int linenum, const char* hier) VL_MT_UNSAFE {
    (void)hier;
    VL_PRINTF("- %sVerilog $finish\n", where(filename, linenum).c_str());
    Verilated::threadContextp()->gotFinish(true);
}

void vl_stop(const char* filename, int linenum, const char* hier) VL_MT_UNSAFE {
    (void)hier;
    Verilated::threadContextp()->gotError(true);
    Verilated::threadContextp()->gotFinish(true);
    std::string printed = recent_error();
    throw PactStop{printed.empty() ? where(filename, linenum) + "Verilog $stop" : printed};
}

void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) VL_MT_UNSAFE {
    (void)hier;
    Verilated::threadContextp()->gotError(true);
    Verilated::threadContextp()->gotFinish(true);
    std::string printed = recent_error();
    std::string m = where(filename, linenum) + (msg ? msg : "fatal error");
    throw PactStop{printed.empty() ? m : printed + " (" + m + ")"};
}

#define PACT_TRY(s, body)                                   \
    try {                                                   \
        body;                                               \
    } catch (const PactStop& e) {                           \
        (s)->err = e.msg;                                   \
        return 1;                                           \
    } catch (const std::exception& e) {                     \
        (s)->err = std::string("C++ exception: ") + e.what(); \
        return 1;                                           \
    }                                                       \
    return 0;

PACT_EXPORT uint32_t pact_sim_abi(void) { return @ABI@; }

PACT_EXPORT void* pact_sim_new(void) {
    PactSim* s = new PactSim();
    s->ctx = new VerilatedContext;
    s->ctx->fatalOnError(true);
#if PACT_TRACE
    s->ctx->traceEverOn(true);
#endif
    s->top = new Vdut{s->ctx, "TOP"};
    return s;
}

PACT_EXPORT const char* pact_sim_error(void* p) { return static_cast<PactSim*>(p)->err.c_str(); }

PACT_EXPORT int pact_sim_finished(void* p) { return static_cast<PactSim*>(p)->ctx->gotFinish() ? 1 : 0; }

PACT_EXPORT uint64_t pact_sim_time(void* p) { return static_cast<PactSim*>(p)->time; }

PACT_EXPORT void pact_sim_trace_close(void* p) {
#if PACT_TRACE
    PactSim* s = static_cast<PactSim*>(p);
    if (s->tfp) {
        s->tfp->dump(s->time);
        s->tfp->close();
        delete s->tfp;
        s->tfp = nullptr;
    }
#else
    (void)p;
#endif
}

PACT_EXPORT void pact_sim_delete(void* p) {
    PactSim* s = static_cast<PactSim*>(p);
    pact_sim_trace_close(p);
    Verilated::threadContextp(s->ctx);
    try {
        s->top->final();
    } catch (...) {
    }
    delete s->top;
    delete s->ctx;
    delete s;
}

PACT_EXPORT int pact_sim_trace_open(void* p, const char* path) {
#if PACT_TRACE
    PactSim* s = static_cast<PactSim*>(p);
    pact_sim_trace_close(p);
    s->tfp = new VerilatedVcdC;
    s->top->trace(s->tfp, 99);
    s->tfp->open(path);
    if (!s->tfp->isOpen()) {
        delete s->tfp;
        s->tfp = nullptr;
        return 2;
    }
    s->tfp->dump(s->time);
    return 0;
#else
    (void)p;
    (void)path;
    return 1;
#endif
}

PACT_EXPORT void pact_sim_trace_flush(void* p) {
#if PACT_TRACE
    PactSim* s = static_cast<PactSim*>(p);
    if (s->tfp) s->tfp->flush();
#else
    (void)p;
#endif
}

PACT_EXPORT int pact_sim_eval(void* p) {
    PactSim* s = static_cast<PactSim*>(p);
    Verilated::threadContextp(s->ctx);
    PACT_TRY(s, s->top->eval())
}

// One clock cycle per step: clock low (new inputs settle; dumped at 10k), clock high (the posedge; dumped at
// 10k+5). Between ticks the clock stays high, so outputs read after a tick show the state after the posedge.
PACT_EXPORT int pact_sim_tick(void* p, uint64_t n) {
    PactSim* s = static_cast<PactSim*>(p);
    if (!s->clk) {
        s->err = "no clock input selected";
        return 1;
    }
    Verilated::threadContextp(s->ctx);
    PACT_TRY(s, {
        for (uint64_t i = 0; i < n; ++i) {
            *s->clk = 0;
            s->top->eval();
#if PACT_TRACE
            if (s->tfp) s->tfp->dump(s->time);
#endif
            *s->clk = 1;
            s->top->eval();
#if PACT_TRACE
            if (s->tfp) s->tfp->dump(s->time + 5);
#endif
            s->time += 10;
        }
    })
}

PACT_EXPORT int pact_sim_set_clock(void* p, uint32_t idx) {
    PactSim* s = static_cast<PactSim*>(p);
    switch (idx) {
@CLOCK@    default: return 1;
    }
    return 0;
}

PACT_EXPORT void pact_sim_set64(void* p, uint32_t idx, uint64_t v) {
    Vdut* t = static_cast<PactSim*>(p)->top;
    switch (idx) {
@SET64@    default: break;
    }
}

PACT_EXPORT uint64_t pact_sim_get64(void* p, uint32_t idx) {
    Vdut* t = static_cast<PactSim*>(p)->top;
    switch (idx) {
@GET64@    default: return 0;
    }
}

// Wide ports: `w` holds `n` little-endian 64-bit words.
PACT_EXPORT void pact_sim_set_wide(void* p, uint32_t idx, const uint64_t* w, uint32_t n) {
    Vdut* t = static_cast<PactSim*>(p)->top;
    switch (idx) {
@SETW@    default: break;
    }
}

PACT_EXPORT void pact_sim_get_wide(void* p, uint32_t idx, uint64_t* w, uint32_t n) {
    Vdut* t = static_cast<PactSim*>(p)->top;
    for (uint32_t k = 0; k < n; ++k) w[k] = 0;
    switch (idx) {
@GETW@    default: break;
    }
}
"#;

/// The shim's C++ source for these ports.
pub(crate) fn generate(ports: &[ModelPort], trace: bool) -> String {
    let (mut set64, mut get64, mut setw, mut getw, mut clock) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for (i, mp) in ports.iter().enumerate() {
        let m = &mp.cxx;
        let ty = mp.cxx_type();
        match ty {
            CxxType::W(n32) => {
                if mp.port.dir.is_input() {
                    setw.push_str(&format!(
                        "    case {i}: for (uint32_t k = 0; k < {n32}u && k / 2 < n; ++k) \
                         t->{m}[k] = static_cast<EData>(w[k / 2] >> (32 * (k % 2))); break;\n"
                    ));
                }
                getw.push_str(&format!(
                    "    case {i}: for (uint32_t k = 0; k < {n32}u && k / 2 < n; ++k) \
                     w[k / 2] |= static_cast<uint64_t>(t->{m}[k]) << (32 * (k % 2)); break;\n"
                ));
                get64.push_str(&format!(
                    "    case {i}: return static_cast<uint64_t>(t->{m}[0]) | (static_cast<uint64_t>(t->{m}[1]) << 32);\n"
                ));
            }
            _ => {
                let tn = ty.name();
                if mp.port.dir.is_input() {
                    set64.push_str(&format!("    case {i}: t->{m} = static_cast<{tn}>(v); break;\n"));
                    setw.push_str(&format!(
                        "    case {i}: if (n) t->{m} = static_cast<{tn}>(w[0]); break;\n"
                    ));
                    if mp.port.width == 1 {
                        clock.push_str(&format!("    case {i}: s->clk = &s->top->{m}; break;\n"));
                    }
                }
                get64.push_str(&format!("    case {i}: return t->{m};\n"));
                getw.push_str(&format!("    case {i}: if (n) w[0] = t->{m}; break;\n"));
            }
        }
    }
    TEMPLATE
        .replace("@TRACE@", if trace { "1" } else { "0" })
        .replace("@ABI@", &ABI.to_string())
        .replace("@SET64@", &set64)
        .replace("@GET64@", &get64)
        .replace("@SETW@", &setw)
        .replace("@GETW@", &getw)
        .replace("@CLOCK@", &clock)
}
