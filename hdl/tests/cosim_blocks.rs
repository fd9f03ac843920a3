//! Verilator block sweep: the weight decode, the low-bit MAC, the PACT unit and the MAC array, each emitted to
//! Verilog by `pact_hdl::verilog::emit` and run under Verilator (`pact_sim`), driven with exhaustive, edge and
//! random stimulus and compared **every cycle, every output port, all port bits** with `==` against cycle-accurate
//! reference models written here on `pact_toolchain::contract` (`decode_weight`, `requantize`, `acc_width`) — not
//! on the code under test. The only things taken from `pact_hdl` are the blocks' declared latencies
//! (`MAC_LATENCY`, `PACT_LATENCY`, `ARRAY_LATENCY`) and their constructors.
//!
//! **Banks.** The run-time widths are `localparam`s in the emitted Verilog, so every configuration is its own
//! design, and a Verilator build is dominated by its fixed cost (C++ compile of model and shim, link). Measured
//! on 2 cores under a load average of 8: 24 MACs built one by one 64 s, the same in one design 4.0 s; seven
//! 4 × 4 arrays one by one 37.7 s, in one design 11.3 s. So the configurations are built into a few designs,
//! *banks*: each configuration's emitted modules are renamed `<prefix>top…` (checked: every module renamed,
//! every non-top module instantiated exactly once) and instantiated side by side in a wrapper `top` whose ports
//! are the configurations' ports with the prefix; the emitted modules are otherwise untouched. All configurations
//! of a bank run in lock step on one clock, each with its own stimulus and reference; after its stimulus ends a
//! configuration gets idle beats and is still compared. Verilation grows faster than linearly with the size of a
//! bank (70 000 lines: 21 s), so there are six banks of at most ~37 000 lines: MACs (25 + an exactly typed MAC +
//! 5 weight decoders), PACT units (9), and one per array shape (7 widths each). Builds are cached by content hash
//! in the `pact_sim` cache: a warm run builds nothing.
//!
//! **Configurations and vectors** (a *vector* is one clock cycle of stimulus, all of whose outputs are compared;
//! the counts are printed and the random count is asserted ≥ 100 000 per configuration):
//! * MAC: the full 5 × 5 product `k_a, k_w ∈ {1, 2, 3, 4, 8}` on the contract-capacity `Mac`, plus
//!   `LowBitMac<4, 4, 5, 9, 13>` typed at its widths; accumulator at the contract's exact bound for sums of up to
//!   12 products (`contract::acc_width`). Every activation × weight-index pair, exhaustively for every width
//!   (8 × 8 included: 65 536 pairs), once as one-beat sums and once accumulated in 12-beat sums; the edges (sums of
//!   12 × max code × most negative / most positive weight = both ends of the accumulator's range, zero codes,
//!   one-beat sums, disabled first beats, `last` without `en`, sums exceeding the bound that wrap); ≥ 100 000
//!   random beats (sums of random length with bubbles and idle gaps, codes biased to 0 / max). Junk in the port
//!   bits above the run-time widths. Weight decoders `KW ∈ {1, 2, 3, 4, 8}` cycle through every index every cycle.
//! * PACT unit: `(acc_bits, k_a)` = (10, 1), (12, 2), (13, 3), (14, 4), (14, 8) with **every accumulator value for
//!   every channel** (12 constant sets each), and (16, 4), (17, 2), (20, 4), (32, 8) (wider than 16 bits: the
//!   high partial product) with edges and random inputs only. Constant sets: realistic `M0` in `[2^14, 2^16)`,
//!   tie-rich `M0` = 1, 3·2^14, 5·2^13, 2^15 (odd parts small enough for in-range ties), `M0` = 0, `M0` = 65535
//!   with shifts 1 and 62, both bias extremes. Edges per channel: both ends of the range, −1/0/1, the first
//!   accumulator giving code 1 and the first giving the maximum code and their neighbours, and every in-range
//!   rounding tie (`s·M0 + 2^(n−1) ≡ 0 mod 2^n`) of every channel; channels past the last (code 0); junk above
//!   `acc_bits`. ≥ 100 000 random inputs. `code` is compared on every cycle, also when `valid` is low (the unit
//!   is a pure pipeline: the code of whatever was presented).
//! * MAC array: shapes 1 × 1, 2 × 8, 8 × 2, 4 × 4 (default) × widths (1, 1), (2, 2), (3, 3), (4, 4), (8, 8),
//!   (2, 4), (4, 2) — the diagonal plus mixed pairs, not the full 5 × 5: one shape's bank of 7 widths is already
//!   ~33 000 lines of Verilog (5–19 s to build cold), 25 widths would be ~3.5× that with superlinear verilation. (The
//!   array's lanes are `LaneWeight` + `RawLaneProduct`, the same product as the MAC's `LaneProduct` that the MAC
//!   bank sweeps over all 25 pairs, with the weight decoded one register earlier.) Every lane sees every
//!   activation × weight pair; worst-case sums (max codes × most negative weights in even PEs and most positive in
//!   odd PEs, and swapped) that reach both ends of the accumulator, sized at its exact bound for sums of up to
//!   6 beats; wrapping sums; ≥ 100 000 random beats.
//!
//! **Negative checks** (a check that cannot fail proves nothing): references with round-half-down and with
//! round-half-to-even (PyTorch's `torch.round`) must disagree with the RTL, and exactly on the in-range tie vectors
//! (half-down on all of them, half-even on those rounding to an odd code); a MAC reference that does not wrap must
//! disagree on the wrapping sums. Round-half-away-from-zero (Rust's `f64::round`) differs from round-half-up only
//! on negative ties, which the clamp maps to 0 either way: it cannot be told apart at the output, by design.
//!
//! Seeds are fixed per configuration, printed, and replayable with `PACT_HDL_SEED=<seed>`. Run time and the
//! command: see docs/hardware.md, "Verilator block sweep".

mod common;

use common::tb::{top_ports, Port};
use common::{max_code, pact_edges, random_stream, rng, Beat};
use pact_hdl::array::{Array, ARRAY_LATENCY};
use pact_hdl::mac::{LowBitMac, Mac, WeightDecode, MAC_LATENCY};
use pact_hdl::pact::{ChannelConsts, Pact, PACT_LATENCY};
use pact_hdl::verilog::emit;
use pact_hdl::widths::MacWidths;
use pact_sim::{PortId, Sim, SimBuilder};
use pact_toolchain::contract;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashSet, VecDeque};
use std::time::Instant;

/// Random vectors per configuration (asserted).
const RANDOM_VECTORS: usize = 100_000;
/// The widths of the sweep.
const WIDTHS: [u32; 5] = [1, 2, 3, 4, 8];

// ---------------------------------------------------------------------------------------------------------------
// Reference arithmetic (contract only)

/// Two's-complement wrap of `v` to `bits` bits (1..=64): the value a `bits`-bit register holds.
fn wrap(v: i64, bits: u32) -> i64 {
    let m = 1i128 << bits;
    let w = (v as i128).rem_euclid(m);
    (if w >= m / 2 { w - m } else { w }) as i64
}

/// The raw bits of `v` in a `width`-bit port (two's complement for negative values).
fn raw(v: i64, width: u32) -> u64 {
    if width >= 64 {
        v as u64
    } else {
        v as u64 & ((1u64 << width) - 1)
    }
}

/// `a · decode(i)` per the contract.
fn product(a: u32, i: u32, kw: u32) -> i64 {
    a as i64 * contract::decode_weight(i, kw) as i64
}

/// A deterministic junk word for cycle `t` of unit `salt` (fills port bits above the run-time widths).
fn junk(t: usize, salt: u64) -> u64 {
    let mut x = (t as u64 ^ salt.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// `value` (< 2^bits) with junk in the port bits from `bits` up to `port`.
fn with_junk(value: u64, bits: u32, port: u32, j: u64) -> u64 {
    let port_mask = if port >= 64 { u64::MAX } else { (1u64 << port) - 1 };
    (value | (j << bits)) & port_mask
}

/// Cycle-accurate accumulator reference shared by the MAC and each array PE: a beat's (sum of) products enters a
/// delay line of `latency − 1` registers, then `acc ← wrap_acc((clear ? 0 : acc) + sum)`, `valid ← en & last`.
/// All registers start at 0. With `wrapping == false` it is the deliberately wrong reference that never wraps.
struct AccRef {
    pipe: VecDeque<(i64, bool, bool)>,
    acc_bits: u32,
    wrapping: bool,
    acc: i64,
    valid: bool,
}

impl AccRef {
    fn new(latency: usize, acc_bits: u32, wrapping: bool) -> Self {
        AccRef {
            pipe: (0..latency - 1).map(|_| (0, false, false)).collect(),
            acc_bits,
            wrapping,
            acc: 0,
            valid: false,
        }
    }
    /// One rising edge with this beat presented; returns `(acc, valid)` after it.
    fn step(&mut self, sum: i64, en: bool, clear: bool, last: bool) -> (i64, bool) {
        self.pipe.push_back((if en { sum } else { 0 }, clear, en && last));
        let (s, c, l) = self.pipe.pop_front().expect("latency ≥ 1");
        let next = if c { 0 } else { self.acc } + s;
        self.acc = if self.wrapping { wrap(next, self.acc_bits) } else { next };
        self.valid = l;
        (self.acc, self.valid)
    }
}

/// A rounding rule for the requantization reference: the contract's, and two wrong ones for the negative check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    /// Round half up, `floor(x/2^n + 1/2)`: the contract (`contract::requantize`).
    Up,
    /// Round half down, `ceil(x/2^n − 1/2)`: wrong on every tie.
    Down,
    /// Round half to even (`torch.round`): wrong on ties whose half-up result is odd.
    ToEven,
}

/// The code of a biased accumulator `s` under `rounding`; `Rounding::Up` is `contract::requantize` itself.
fn requantize_with(rounding: Rounding, s: i64, c: &ChannelConsts, ka: u32) -> u32 {
    let max = contract::code_max(ka) as i64;
    let x = s as i128 * c.m0 as i128;
    let n = c.shift;
    let q = match rounding {
        Rounding::Up => return contract::requantize(s, c.m0, c.shift, ka),
        Rounding::Down => (x + (1i128 << (n - 1)) - 1) >> n,
        Rounding::ToEven => {
            let up = (x + (1i128 << (n - 1))) >> n;
            let tie = (x + (1i128 << (n - 1))).rem_euclid(1i128 << n) == 0;
            if tie && up % 2 != 0 {
                up - 1
            } else {
                up
            }
        }
    };
    q.clamp(0, max as i128) as u32
}

/// Whether `s` is an in-range rounding tie of channel `c`: `s·M0 + 2^(n−1) ≡ 0 (mod 2^n)` and the half-up result
/// `q` lies in `1 ..= 2^ka − 1` (so that neither clamp hides the rounding direction). Returns `q`.
fn in_range_tie(s: i64, c: &ChannelConsts, ka: u32) -> Option<i64> {
    let n = c.shift;
    let y = s as i128 * c.m0 as i128 + (1i128 << (n - 1));
    let q = (y >> n) as i64;
    (y.rem_euclid(1i128 << n) == 0 && q >= 1 && q <= contract::code_max(ka) as i64).then_some(q)
}

// ---------------------------------------------------------------------------------------------------------------
// Banks: several emitted designs in one Verilator model

/// Rename every module of an emitted design (`top`, `top$…`) to `<prefix>top…`. rust-hdl emits one module per
/// instance, so every module except the top is instantiated exactly once; both are checked, so that no module is
/// left with its old name (two definitions of one module name would make Verilator silently pick one).
fn prefix_modules(verilog: &str, prefix: &str) -> String {
    let names: HashSet<&str> = verilog
        .lines()
        .filter_map(|l| l.strip_prefix("module "))
        .map(|l| &l[..l.find('(').expect("module header")])
        .collect();
    assert!(names.contains("top"), "no module top");
    assert!(
        names.iter().all(|n| *n == "top" || n.starts_with("top$")),
        "unexpected module names {names:?}"
    );
    let mut out = String::with_capacity(verilog.len() + names.len() * 2 * prefix.len());
    let (mut decls, mut insts) = (0, 0);
    for line in verilog.lines() {
        let body = line.trim_start();
        let first = body.split_whitespace().next().unwrap_or("");
        if let Some(rest) = line.strip_prefix("module ") {
            out.push_str("module ");
            out.push_str(prefix);
            out.push_str(rest);
            decls += 1;
        } else if names.contains(first) && body.ends_with('(') {
            out.push_str(&line[..line.len() - body.len()]);
            out.push_str(prefix);
            out.push_str(body);
            insts += 1;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    assert_eq!(decls, names.len(), "every module renamed once");
    assert_eq!(insts, names.len() - 1, "every non-top module instantiated exactly once");
    out
}

/// The bank-level name of port `port` of the unit with `prefix` (`$` of flattened vectors becomes `_`).
fn bank_port(prefix: &str, port: &str) -> String {
    format!("{prefix}{}", port.replace('$', "_"))
}

/// A wrapper `top` instantiating every unit (`(prefix, emitted Verilog)`) with its ports brought out as
/// `<prefix><port>`; all units share the `clock` input.
fn bank_verilog(units: &[(String, String)]) -> String {
    let mut ports = vec!["clock".to_string()];
    let mut decls = vec!["    input wire clock;".to_string()];
    let mut insts = Vec::new();
    let mut modules = String::new();
    let mut all_names = HashSet::new();
    for (prefix, v) in units {
        let mut conns = Vec::new();
        for Port { name, width, input } in top_ports(v) {
            if name == "clock" {
                conns.push(".clock(clock)".to_string());
                continue;
            }
            let outer = bank_port(prefix, &name);
            assert!(all_names.insert(outer.clone()), "port {outer} twice");
            decls.push(format!(
                "    {} wire [{}:0] {outer};",
                if input { "input" } else { "output" },
                width - 1
            ));
            conns.push(format!(".{name}({outer})"));
            ports.push(outer);
        }
        insts.push(format!("    {prefix}top {prefix}u({});", conns.join(", ")));
        modules.push_str(&prefix_modules(v, prefix));
    }
    format!(
        "module top({});\n{}\n{}\nendmodule\n\n{modules}",
        ports.join(", "),
        decls.join("\n"),
        insts.join("\n")
    )
}

/// Build (or find in the cache) a bank and print what it cost.
fn build_bank(name: &str, verilog: &str) -> Sim {
    let t0 = Instant::now();
    let model = SimBuilder::new("top")
        .text(format!("{name}.v"), verilog)
        .build()
        .unwrap_or_else(|e| panic!("building bank {name}: {e}"));
    let info = model.build_info();
    println!(
        "{name}: {} lines of Verilog, {} in {:.2} s (verilate {:.2} s, compile {:.2} s)",
        verilog.lines().count(),
        if info.cache_hit { "cache hit" } else { "built" },
        t0.elapsed().as_secs_f64(),
        info.verilate.as_secs_f64(),
        info.compile.as_secs_f64()
    );
    model.sim().expect("instantiate the model")
}

/// One configuration inside a bank.
trait Unit {
    /// Cycles of stimulus (afterwards the unit gets idle inputs and is still compared).
    fn len(&self) -> usize;
    /// Set the inputs of cycle `t`.
    fn drive(&mut self, t: usize, sim: &mut Sim);
    /// After the rising edge ending cycle `t`: advance the reference and compare every output.
    fn check(&mut self, t: usize, sim: &Sim);
    /// The summary line (and the assertions on the counts).
    fn finish(&self);
}

/// Run all units of a bank in lock step until the longest stimulus has drained (`drain` idle cycles).
fn run_bank(name: &str, sim: &mut Sim, units: &mut [Box<dyn Unit>], drain: usize) -> usize {
    let cycles = units.iter().map(|u| u.len()).max().unwrap_or(0) + drain;
    let t0 = Instant::now();
    for t in 0..cycles {
        for u in units.iter_mut() {
            u.drive(t, sim);
        }
        sim.tick().expect("tick");
        for u in units.iter_mut() {
            u.check(t, sim);
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    for u in units.iter() {
        u.finish();
    }
    println!(
        "{name}: {} units, {cycles} cycles in {dt:.2} s ({:.0} k cycles/s)",
        units.len(),
        cycles as f64 / dt / 1e3
    );
    cycles
}

/// Look up `<prefix><port>`.
fn port(sim: &Sim, prefix: &str, name: &str) -> PortId {
    sim.port(&bank_port(prefix, name))
        .unwrap_or_else(|e| panic!("port {name} of {prefix}: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Weight decode and low-bit MAC

/// Longest sum of the MAC stimulus; the accumulator is sized for it exactly.
const MAC_SUM_LEN: usize = 12;

/// The contract's accumulator width for sums of up to `len` products of `ka`-bit codes and `kw`-bit weights:
/// the worst cases are every code at its maximum times the most negative or the most positive weight.
fn worst_case_acc_width(ka: u32, kw: u32, len: usize) -> u32 {
    let neg = vec![contract::decode_weight(0, kw); len];
    let pos = vec![contract::decode_weight(max_code(kw), kw); len];
    contract::acc_width(max_code(ka), [(neg.as_slice(), 0i64), (pos.as_slice(), 0i64)])
}

/// The worst-case sums of `len` products at widths `w` (every code at its maximum times the most negative / most
/// positive weight), after checking that `w.acc` is exactly the contract's width for them.
fn worst_case_sums(w: MacWidths, len: usize) -> (i64, i64) {
    let top = max_code(w.ka) as i64 * len as i64;
    let (lo, hi) = (
        top * contract::decode_weight(0, w.kw) as i64,
        top * contract::decode_weight(max_code(w.kw), w.kw) as i64,
    );
    assert_eq!(contract::signed_width(lo, hi), w.acc, "accumulator at its exact bound");
    (lo, hi)
}

/// Stimulus counts of one configuration (cycles).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    exhaustive: usize,
    edge: usize,
    random: usize,
}

impl Counts {
    fn total(&self) -> usize {
        self.exhaustive + self.edge + self.random
    }
}

fn beat(act: u32, widx: u32, en: bool, clear: bool, last: bool) -> Beat {
    Beat {
        act,
        widx,
        en,
        clear,
        last,
    }
}

/// A sum of `len` enabled beats of `(a, i)`.
fn sum_of(a: u32, i: u32, len: usize) -> impl Iterator<Item = Beat> {
    (0..len).map(move |k| beat(a, i, true, k == 0, k + 1 == len))
}

/// MAC stimulus: every pair (one-beat sums, then accumulated in `MAC_SUM_LEN`-beat sums), the edges, random sums.
/// Returns the beats, the counts and the number of beats in sums that exceed the accumulator's bound.
fn mac_stimulus(name: &str, ka: u32, kw: u32) -> (Vec<Beat>, Counts, usize) {
    let (amax, imax) = (max_code(ka), max_code(kw));
    let pairs: Vec<(u32, u32)> = (0..=amax).flat_map(|a| (0..=imax).map(move |i| (a, i))).collect();
    let mut beats: Vec<Beat> = pairs.iter().map(|&(a, i)| beat(a, i, true, true, true)).collect();
    for (k, &(a, i)) in pairs.iter().enumerate() {
        beats.push(beat(
            a,
            i,
            true,
            k % MAC_SUM_LEN == 0,
            k % MAC_SUM_LEN == MAC_SUM_LEN - 1 || k + 1 == pairs.len(),
        ));
    }
    let exhaustive = beats.len();
    // The edges. Sums of MAC_SUM_LEN max codes × most negative / most positive weight reach both ends of the
    // accumulator's range exactly; back to back, without bubbles.
    let l = MAC_SUM_LEN;
    for &(a, i) in &[
        (amax, 0),
        (amax, imax),
        (amax, 0),
        (0, 0),
        (0, imax),
        (amax, imax / 2),
        (amax, imax),
    ] {
        beats.extend(sum_of(a, i, l));
    }
    beats.extend(sum_of(amax, 0, 1));
    beats.extend(sum_of(amax, imax, 1));
    beats.extend(sum_of(0, 0, 1));
    // A disabled first beat carrying clear; `last` without `en` (no valid, the sum goes on); clear in mid-sum.
    beats.push(beat(amax, imax, false, true, false));
    beats.push(beat(amax, 0, true, false, false));
    beats.push(beat(amax, 0, false, false, true));
    beats.push(beat(amax, imax, true, false, true));
    beats.extend(sum_of(amax, imax, 3));
    beats.push(beat(amax, 0, true, true, false));
    beats.push(beat(amax, 0, true, true, false));
    beats.push(beat(1, imax, true, false, true));
    // Idle beats with extreme codes (en low: they add nothing).
    beats.extend((0..4).map(|k| beat(amax, if k % 2 == 0 { 0 } else { imax }, false, false, false)));
    // Sums beyond the bound (2·MAC_SUM_LEN + 1 worst-case products): they wrap at acc bits, as documented.
    let wrap_start = beats.len();
    beats.extend(sum_of(amax, imax, 2 * l + 1));
    beats.extend(sum_of(amax, 0, 2 * l + 1));
    let wrapping = beats.len() - wrap_start;
    beats.extend(sum_of(amax, imax, l));
    let edge = beats.len() - exhaustive;
    // Random sums of 1..=MAC_SUM_LEN enabled beats with bubbles and idle gaps; codes biased to the edges.
    let mut r = rng(name);
    let start = beats.len();
    while beats.len() - start < RANDOM_VECTORS {
        beats.extend(random_stream(&mut r, 500, MAC_SUM_LEN, |r: &mut ChaCha8Rng| {
            let a = match r.gen_range(0..6) {
                0 => 0,
                1 => amax,
                _ => r.gen_range(0..=amax),
            };
            let i = match r.gen_range(0..6) {
                0 => 0,
                1 => imax,
                _ => r.gen_range(0..=imax),
            };
            (a, i)
        }));
    }
    let random = beats.len() - start;
    let counts = Counts {
        exhaustive,
        edge,
        random,
    };
    (beats, counts, wrapping)
}

/// One MAC configuration of the bank.
struct MacUnit {
    name: String,
    w: MacWidths,
    beats: Vec<Beat>,
    counts: Counts,
    wrapping: usize,
    salt: u64,
    ports: [PortId; 7],
    bits: [u32; 3],
    reference: AccRef,
    no_wrap: AccRef,
    no_wrap_disagree: usize,
    sums: usize,
    compared: usize,
    extremes: (bool, bool),
}

impl MacUnit {
    fn new(sim: &Sim, prefix: &str, w: MacWidths) -> Self {
        let name = format!(
            "MAC {}: ka {} kw {} acc {}",
            prefix.trim_end_matches('_'),
            w.ka,
            w.kw,
            w.acc
        );
        let (beats, counts, wrapping) = mac_stimulus(&format!("cosim_{}", prefix.trim_end_matches('_')), w.ka, w.kw);
        let ports = ["act", "widx", "en", "clear", "last", "acc", "valid"].map(|n| port(sim, prefix, n));
        let bits = [0, 1, 5].map(|k| sim.port_info(ports[k]).width);
        MacUnit {
            name,
            w,
            beats,
            counts,
            wrapping,
            salt: prefix
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
            ports,
            bits,
            reference: AccRef::new(MAC_LATENCY, w.acc, true),
            no_wrap: AccRef::new(MAC_LATENCY, w.acc, false),
            no_wrap_disagree: 0,
            sums: 0,
            compared: 0,
            extremes: (false, false),
        }
    }
}

impl Unit for MacUnit {
    fn len(&self) -> usize {
        self.beats.len()
    }
    fn drive(&mut self, t: usize, sim: &mut Sim) {
        let b = self.beats.get(t).copied().unwrap_or_default();
        let j = junk(t, self.salt);
        let [act, widx, en, clear, last, ..] = self.ports;
        sim.set(act, with_junk(b.act as u64, self.w.ka, self.bits[0], j));
        sim.set(widx, with_junk(b.widx as u64, self.w.kw, self.bits[1], j >> 20));
        sim.set(en, b.en as u64);
        sim.set(clear, b.clear as u64);
        sim.set(last, b.last as u64);
    }
    fn check(&mut self, t: usize, sim: &Sim) {
        let b = self.beats.get(t).copied().unwrap_or_default();
        let p = product(b.act, b.widx, self.w.kw);
        let (acc, valid) = self.reference.step(p, b.en, b.clear, b.last);
        let (acc_nw, _) = self.no_wrap.step(p, b.en, b.clear, b.last);
        let (got_acc, got_valid) = (sim.get(self.ports[5]), sim.get(self.ports[6]));
        assert!(
            got_acc == raw(acc, self.bits[2]) && got_valid == valid as u64,
            "{}, cycle {t}: RTL acc {:#x} valid {got_valid}, reference acc {acc} ({:#x}) valid {valid} (beat presented \
             {} cycles earlier: {:?})",
            self.name,
            got_acc,
            raw(acc, self.bits[2]),
            MAC_LATENCY - 1,
            self.beats.get((t + 1).wrapping_sub(MAC_LATENCY))
        );
        self.no_wrap_disagree += (sim.get_i64(self.ports[5]) != acc_nw) as usize;
        self.sums += valid as usize;
        self.compared += 1;
        let (lo, hi) = worst_case_sums(self.w, MAC_SUM_LEN);
        self.extremes.0 |= valid && acc == lo;
        self.extremes.1 |= valid && acc == hi;
    }
    fn finish(&self) {
        let c = self.counts;
        println!(
            "{}: {} vectors = {} exhaustive (every pair twice) + {} edge ({} in wrapping sums) + {} random; \
             {} cycles compared, {} sums completed; a non-wrapping reference disagrees on {} cycles",
            self.name,
            c.total(),
            c.exhaustive,
            c.edge,
            self.wrapping,
            c.random,
            self.compared,
            self.sums,
            self.no_wrap_disagree
        );
        assert!(c.random >= RANDOM_VECTORS, "{}: {} random vectors", self.name, c.random);
        assert_eq!(
            c.exhaustive,
            2 * (1usize << self.w.ka) * (1usize << self.w.kw),
            "{}: every pair twice",
            self.name
        );
        assert!(self.compared >= c.total(), "{}: every vector compared", self.name);
        assert!(
            self.extremes.0 && self.extremes.1,
            "{}: both ends of the accumulator reached",
            self.name
        );
        assert!(self.no_wrap_disagree > 0, "{}: the wrapping sums must wrap", self.name);
    }
}

/// A weight decoder of the bank: the index cycles through every value; `weight` compared every cycle.
struct DecodeUnit {
    kw: u32,
    ports: [PortId; 2],
    compared: usize,
}

impl Unit for DecodeUnit {
    fn len(&self) -> usize {
        0
    }
    fn drive(&mut self, t: usize, sim: &mut Sim) {
        sim.set(self.ports[0], (t as u64) & max_code(self.kw) as u64);
    }
    fn check(&mut self, t: usize, sim: &Sim) {
        let i = (t as u32) & max_code(self.kw);
        let want = raw(contract::decode_weight(i, self.kw) as i64, self.kw + 1);
        let got = sim.get(self.ports[1]);
        assert_eq!(got, want, "WeightDecode<{}>, index {i}: RTL {got:#x}", self.kw);
        self.compared += 1;
    }
    fn finish(&self) {
        println!(
            "WeightDecode<{}, {}>: every index, {} cycles compared",
            self.kw,
            self.kw + 1,
            self.compared
        );
        assert!(self.compared >= 1 << self.kw);
    }
}

#[test]
fn mac_and_weight_decode_sweep_under_verilator() {
    let t0 = Instant::now();
    let mut designs = Vec::new();
    let mut configs = Vec::new();
    for &ka in &WIDTHS {
        for &kw in &WIDTHS {
            let w = MacWidths::new(ka, kw, worst_case_acc_width(ka, kw, MAC_SUM_LEN));
            let prefix = format!("m{ka}x{kw}_");
            designs.push((prefix.clone(), emit(&mut Mac::new(w).unwrap())));
            configs.push((prefix, w));
        }
    }
    // A MAC typed at exactly its widths (no capacity masks to fold away).
    let w = MacWidths::new(4, 4, 13);
    assert_eq!(worst_case_acc_width(4, 4, MAC_SUM_LEN), 13);
    designs.push(("t4x4_".into(), emit(&mut LowBitMac::<4, 4, 5, 9, 13>::new(w).unwrap())));
    configs.push(("t4x4_".into(), w));
    designs.push(("d1_".into(), emit(&mut WeightDecode::<1, 2>::new())));
    designs.push(("d2_".into(), emit(&mut WeightDecode::<2, 3>::new())));
    designs.push(("d3_".into(), emit(&mut WeightDecode::<3, 4>::new())));
    designs.push(("d4_".into(), emit(&mut WeightDecode::<4, 5>::new())));
    designs.push(("d8_".into(), emit(&mut WeightDecode::<8, 9>::new())));
    let mut sim = build_bank("mac_bank", &bank_verilog(&designs));
    let mut units: Vec<Box<dyn Unit>> = configs
        .iter()
        .map(|(prefix, w)| Box::new(MacUnit::new(&sim, prefix, *w)) as Box<dyn Unit>)
        .collect();
    for kw in [1, 2, 3, 4, 8] {
        let prefix = format!("d{kw}_");
        let ports = [port(&sim, &prefix, "index"), port(&sim, &prefix, "weight")];
        units.push(Box::new(DecodeUnit { kw, ports, compared: 0 }));
    }
    run_bank("mac_bank", &mut sim, &mut units, MAC_LATENCY + 2);
    println!("mac_bank: {:.2} s in all", t0.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------------------------
// PACT unit

/// One PACT unit configuration: widths, channel constants, and whether every accumulator value is driven.
struct PactCfg {
    prefix: String,
    acc_bits: u32,
    ka: u32,
    consts: Vec<ChannelConsts>,
    exhaustive: bool,
}

/// The PACT bank's configurations. Deterministic for a given seed, so that every test emits the same bank.
fn pact_configs() -> Vec<PactCfg> {
    let exhaustive = [(10, 1), (12, 2), (13, 3), (14, 4), (14, 8)];
    let wide = [(16, 4), (17, 2), (20, 4), (32, 8)];
    let cfg = |(acc_bits, ka): (u32, u32), exhaustive: bool| {
        let prefix = format!("p{acc_bits}to{ka}_");
        let mut r = rng(&format!("cosim_{}", prefix.trim_end_matches('_')));
        PactCfg {
            consts: pact_consts(&mut r, acc_bits, ka),
            prefix,
            acc_bits,
            ka,
            exhaustive,
        }
    };
    exhaustive
        .into_iter()
        .map(|w| cfg(w, true))
        .chain(wide.into_iter().map(|w| cfg(w, false)))
        .collect()
}

/// Channel constants (13 sets): realistic multipliers whose code range spans part of the accumulator range,
/// tie-rich multipliers (small odd part, so that `s·M0 + 2^(n−1) ≡ 0 mod 2^n` has in-range solutions for many
/// codes), `M0` = 0, `M0` = 2^16 − 1 with shifts 1 and 62 and the bias extremes, `M0` = 3 with shift 2, and
/// realistic multipliers with the most negative and the most positive bias.
fn pact_consts(r: &mut ChaCha8Rng, acc_bits: u32, ka: u32) -> Vec<ChannelConsts> {
    let (lo, hi) = (-(1i64 << (acc_bits - 1)), (1i64 << (acc_bits - 1)) - 1);
    let realistic = |r: &mut ChaCha8Rng, bias: Option<i64>| {
        let m0 = r.gen_range(1u32 << 14..1 << 16);
        let d = r.gen_range(0..=(acc_bits as i32 - 1).min(6));
        ChannelConsts {
            m0,
            shift: (acc_bits as i32 - 1 - d + 16 - ka as i32).clamp(1, 62) as u32,
            bias: bias.unwrap_or_else(|| r.gen_range(lo / 4..=hi / 4)),
        }
    };
    let mut v: Vec<ChannelConsts> = (0..3).map(|_| realistic(r, None)).collect();
    for m0 in [1u32, 3 << 14, 5 << 13, 1 << 15] {
        // The maximum code at about a quarter of the range: 2^ka · 2^n / M0 ≈ 2^(acc_bits − 2).
        let n = (acc_bits as f64 - 2.0 - ka as f64 + (m0 as f64).log2()).round();
        v.push(ChannelConsts {
            m0,
            shift: n.clamp(1.0, 62.0) as u32,
            bias: r.gen_range(lo / 8..=hi / 8),
        });
    }
    v.extend(common::edge_consts(acc_bits));
    v.push(realistic(r, Some(lo)));
    v.push(realistic(r, Some(hi)));
    v
}

/// The constants a channel address reads: past the last channel the ROMs read zeros (M0 = 0, n = 1, bias = 0).
fn channel(consts: &[ChannelConsts], ch: usize) -> ChannelConsts {
    consts.get(ch).copied().unwrap_or(ChannelConsts {
        m0: 0,
        shift: 1,
        bias: 0,
    })
}

/// Every in-range rounding tie of a channel (for each code `q` in 1..=2^ka − 1, the `s` with
/// `s·M0 = (2q − 1)·2^(n−1)` if it is an integer in range) and the first two negative ties.
fn pact_ties(c: &ChannelConsts, acc_bits: u32, ka: u32) -> Vec<i64> {
    let (lo, hi) = (-(1i128 << (acc_bits - 1)), (1i128 << (acc_bits - 1)) - 1);
    if c.m0 == 0 {
        return Vec::new();
    }
    let q_max = contract::code_max(ka) as i128;
    (1..=q_max)
        .map(|q| (2 * q - 1) << (c.shift - 1))
        .chain([-(1i128 << (c.shift - 1)), -(3i128 << (c.shift - 1))])
        .filter(|x| x % c.m0 as i128 == 0)
        .map(|x| x / c.m0 as i128)
        .filter(|s| (lo..=hi).contains(s))
        .map(|s| s as i64)
        .collect()
}

/// One PACT unit input: the accumulator as the MAC delivers it (without bias), the channel, `valid_in`.
#[derive(Clone, Copy, Debug, Default)]
struct PactIn {
    acc: i64,
    channel: u16,
    valid: bool,
}

/// Stimulus: every accumulator value of every channel (if `exhaustive`), the edges of every channel, two
/// addresses past the last channel, then random inputs. With `ties_only`, only the in-range ties.
fn pact_stimulus(cfg: &PactCfg, ties_only: bool) -> (Vec<PactIn>, Counts) {
    let (b, ka) = (cfg.acc_bits, cfg.ka);
    let (lo, hi) = (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1);
    let input = |s: i64, ch: usize, valid: bool| PactIn {
        acc: wrap(s - channel(&cfg.consts, ch).bias, b),
        channel: ch as u16,
        valid,
    };
    let mut v = Vec::new();
    if ties_only {
        for (ch, c) in cfg.consts.iter().enumerate() {
            v.extend(
                pact_ties(c, b, ka)
                    .into_iter()
                    .filter(|&s| in_range_tie(s, c, ka).is_some())
                    .map(|s| input(s, ch, true)),
            );
        }
        let n = v.len();
        return (
            v,
            Counts {
                edge: n,
                ..Counts::default()
            },
        );
    }
    if cfg.exhaustive {
        for ch in 0..cfg.consts.len() {
            v.extend((lo..=hi).map(|acc| PactIn {
                acc,
                channel: ch as u16,
                valid: true,
            }));
        }
    }
    let exhaustive = v.len();
    for (ch, c) in cfg.consts.iter().enumerate() {
        for s in pact_edges(c, b, ka).into_iter().chain(pact_ties(c, b, ka)) {
            v.push(input(s, ch, true));
            // The same value once more without valid_in: code is still computed, valid stays low.
            v.push(input(s, ch, false));
        }
    }
    v.push(input(hi, cfg.consts.len(), true));
    v.push(input(lo, (1 << pact_hdl::rom::CHANNEL_BITS) - 1, true));
    let edge = v.len() - exhaustive;
    let mut r = rng(&format!("cosim_{}_random", cfg.prefix.trim_end_matches('_')));
    for _ in 0..RANDOM_VECTORS {
        let ch = if r.gen_bool(0.02) {
            r.gen_range(cfg.consts.len()..1 << pact_hdl::rom::CHANNEL_BITS)
        } else {
            r.gen_range(0..cfg.consts.len())
        };
        let acc = match r.gen_range(0..8) {
            0 => lo,
            1 => hi,
            _ => r.gen_range(lo..=hi),
        };
        v.push(PactIn {
            acc,
            channel: ch as u16,
            valid: r.gen_bool(0.85),
        });
    }
    let counts = Counts {
        exhaustive,
        edge,
        random: RANDOM_VECTORS,
    };
    (v, counts)
}

/// What the references expect of one input: the code under each rounding, `valid_in`, and the half-up result if
/// the input is an in-range tie.
#[derive(Clone, Copy, Debug, Default)]
struct PactExpect {
    input: PactIn,
    up: u32,
    down: u32,
    even: u32,
    tie: Option<i64>,
}

/// One PACT unit configuration of the bank. `reference` is the rounding the RTL is checked against: with
/// `Rounding::Up` (the contract) every mismatch fails the test; with a wrong rounding the mismatches are counted.
struct PactUnit {
    name: String,
    acc_bits: u32,
    ka: u32,
    consts: Vec<ChannelConsts>,
    inputs: Vec<PactIn>,
    counts: Counts,
    reference: Rounding,
    ports: [PortId; 5],
    acc_port_bits: u32,
    pipe: VecDeque<PactExpect>,
    mismatches: usize,
    ties: usize,
    odd_ties: usize,
    down_disagree: usize,
    even_disagree: usize,
    compared: usize,
    codes_seen: Vec<bool>,
}

impl PactUnit {
    fn new(sim: &Sim, cfg: &PactCfg, reference: Rounding, ties_only: bool) -> Self {
        let (inputs, counts) = pact_stimulus(cfg, ties_only);
        let ports = ["acc", "channel", "valid_in", "code", "valid"].map(|n| port(sim, &cfg.prefix, n));
        PactUnit {
            name: format!(
                "PACT {}: acc {} → {} bits, {} channels",
                cfg.prefix.trim_end_matches('_'),
                cfg.acc_bits,
                cfg.ka,
                cfg.consts.len()
            ),
            acc_bits: cfg.acc_bits,
            ka: cfg.ka,
            consts: cfg.consts.clone(),
            inputs,
            counts,
            reference,
            ports,
            acc_port_bits: sim.port_info(ports[0]).width,
            pipe: (0..PACT_LATENCY - 1).map(|_| PactExpect::default()).collect(),
            mismatches: 0,
            ties: 0,
            odd_ties: 0,
            down_disagree: 0,
            even_disagree: 0,
            compared: 0,
            codes_seen: vec![false; 1 << cfg.ka],
        }
    }

    fn input(&self, t: usize) -> PactIn {
        self.inputs.get(t).copied().unwrap_or_default()
    }
}

impl Unit for PactUnit {
    fn len(&self) -> usize {
        self.inputs.len()
    }
    fn drive(&mut self, t: usize, sim: &mut Sim) {
        let x = self.input(t);
        // Every other cycle: junk above acc_bits (the unit uses acc_bits bits of the port).
        let j = if t % 2 == 1 { junk(t, self.acc_bits as u64) } else { 0 };
        let [acc, ch, valid_in, ..] = self.ports;
        sim.set(
            acc,
            with_junk(raw(x.acc, self.acc_bits), self.acc_bits, self.acc_port_bits, j),
        );
        sim.set(ch, x.channel as u64);
        sim.set(valid_in, x.valid as u64);
    }
    fn check(&mut self, t: usize, sim: &Sim) {
        let x = self.input(t);
        let c = channel(&self.consts, x.channel as usize);
        let s = wrap(x.acc + c.bias, self.acc_bits);
        self.pipe.push_back(PactExpect {
            input: x,
            up: requantize_with(Rounding::Up, s, &c, self.ka),
            down: requantize_with(Rounding::Down, s, &c, self.ka),
            even: requantize_with(Rounding::ToEven, s, &c, self.ka),
            tie: in_range_tie(s, &c, self.ka),
        });
        let e = self.pipe.pop_front().expect("latency ≥ 1");
        let (got_code, got_valid) = (sim.get(self.ports[3]) as u32, sim.get(self.ports[4]) != 0);
        let want = match self.reference {
            Rounding::Up => e.up,
            Rounding::Down => e.down,
            Rounding::ToEven => e.even,
        };
        assert_eq!(
            got_valid, e.input.valid,
            "{}, cycle {t}: valid (input {:?})",
            self.name, e.input
        );
        if got_code != want {
            assert!(
                self.reference != Rounding::Up,
                "{}, cycle {t}: RTL code {got_code}, contract {want} (input {:?}, constants {:?})",
                self.name,
                e.input,
                channel(&self.consts, e.input.channel as usize)
            );
            self.mismatches += 1;
        }
        self.down_disagree += (got_code != e.down) as usize;
        self.even_disagree += (got_code != e.even) as usize;
        if let Some(q) = e.tie {
            self.ties += 1;
            self.odd_ties += (q % 2 == 1) as usize;
        }
        self.codes_seen[got_code as usize] = true;
        self.compared += 1;
    }
    fn finish(&self) {
        let c = self.counts;
        println!(
            "{}: {} vectors = {} exhaustive + {} edge + {} random; {} cycles compared (code, valid), {} codes seen; \
             {} in-range tie cycles ({} to odd codes): round-half-down reference disagrees on {}, half-to-even on {}",
            self.name,
            c.total(),
            c.exhaustive,
            c.edge,
            c.random,
            self.compared,
            self.codes_seen.iter().filter(|&&s| s).count(),
            self.ties,
            self.odd_ties,
            self.down_disagree,
            self.even_disagree
        );
        if self.reference == Rounding::Up {
            assert!(c.random >= RANDOM_VECTORS, "{}: {} random vectors", self.name, c.random);
            assert!(self.codes_seen.iter().all(|&s| s), "{}: every code produced", self.name);
        }
        // The negative check: each wrong rounding disagrees with the RTL, exactly on the in-range ties (all of them
        // for half-down, those rounding up to an odd code for half-to-even).
        assert!(
            self.ties > 0 && self.odd_ties > 0,
            "{}: the stimulus must contain ties",
            self.name
        );
        assert_eq!(
            self.down_disagree, self.ties,
            "{}: half-down differs exactly on ties",
            self.name
        );
        assert_eq!(
            self.even_disagree, self.odd_ties,
            "{}: half-even differs exactly on odd ties",
            self.name
        );
    }
}

fn pact_bank() -> (Vec<PactCfg>, Sim) {
    let cfgs = pact_configs();
    let designs: Vec<(String, String)> = cfgs
        .iter()
        .map(|c| {
            let mut unit = Pact::new(c.acc_bits, c.ka, &c.consts).unwrap();
            (c.prefix.clone(), emit(&mut unit))
        })
        .collect();
    let sim = build_bank("pact_bank", &bank_verilog(&designs));
    (cfgs, sim)
}

#[test]
fn pact_unit_sweep_under_verilator() {
    let t0 = Instant::now();
    let (cfgs, mut sim) = pact_bank();
    let mut units: Vec<Box<dyn Unit>> = cfgs
        .iter()
        .map(|c| Box::new(PactUnit::new(&sim, c, Rounding::Up, false)) as Box<dyn Unit>)
        .collect();
    run_bank("pact_bank", &mut sim, &mut units, PACT_LATENCY + 2);
    println!("pact_bank: {:.2} s in all", t0.elapsed().as_secs_f64());
}

/// The negative check through the same compare path: with a round-half-down reference the comparison of the RTL
/// must fail on every tie vector of every configuration (and only there), so the edge vectors do exercise ties.
#[test]
fn a_round_half_down_reference_fails_on_the_tie_vectors() {
    let (cfgs, mut sim) = pact_bank();
    let mut units: Vec<PactUnit> = cfgs
        .iter()
        .map(|c| PactUnit::new(&sim, c, Rounding::Down, true))
        .collect();
    let longest = units.iter().map(|u| u.len()).max().unwrap();
    for t in 0..longest + PACT_LATENCY + 2 {
        for u in units.iter_mut() {
            u.drive(t, &mut sim);
        }
        sim.tick().unwrap();
        for u in units.iter_mut() {
            u.check(t, &sim);
        }
    }
    for u in &units {
        u.finish();
        println!(
            "{}: a round-half-down reference fails on {} cycles",
            u.name, u.mismatches
        );
        assert_eq!(
            u.counts.edge, u.ties,
            "{}: every driven vector is an in-range tie",
            u.name
        );
        assert!(u.mismatches > 0);
        assert_eq!(
            u.mismatches, u.ties,
            "{}: the wrong reference fails on every tie",
            u.name
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// MAC array

/// Longest sum (in beats) of the array stimulus; each array's accumulator is sized for it exactly.
const ARRAY_SUM_BEATS: usize = 6;
/// Array shapes (PE × SIMD): the smallest, two non-square ones and the default 4 × 4.
const SHAPES: [(usize, usize); 4] = [(1, 1), (2, 8), (8, 2), (4, 4)];
/// Array widths (k_a, k_w): the diagonal of the sweep and two mixed pairs.
const ARRAY_WIDTHS: [(u32, u32); 7] = [(1, 1), (2, 2), (3, 3), (4, 4), (8, 8), (2, 4), (4, 2)];

/// Array stimulus, flat: per beat `simd` activation codes, `pe·simd` weight indices and the controls.
#[derive(Default)]
struct ArrayBeats {
    simd: usize,
    lanes: usize,
    act: Vec<u8>,
    widx: Vec<u8>,
    ctl: Vec<(bool, bool, bool)>,
}

impl ArrayBeats {
    fn len(&self) -> usize {
        self.ctl.len()
    }
    fn push(&mut self, act: impl Fn(usize) -> u32, widx: impl Fn(usize) -> u32, en: bool, clear: bool, last: bool) {
        self.act.extend((0..self.simd).map(|s| act(s) as u8));
        self.widx.extend((0..self.lanes).map(|k| widx(k) as u8));
        self.ctl.push((en, clear, last));
    }
    /// A sum of `len` enabled beats.
    fn sum(&mut self, len: usize, act: impl Fn(usize) -> u32, widx: impl Fn(usize) -> u32) {
        for k in 0..len {
            self.push(&act, &widx, true, k == 0, k + 1 == len);
        }
    }
}

/// Every lane sees every (activation, weight index) pair (beat `u·I + v` gives lane `(p, s)` the pair
/// `((u + s) mod A, (v + p + s) mod I)`), as one-beat sums and accumulated; the worst cases (max codes × most
/// negative weights in even PEs and most positive in odd PEs, and swapped: both ends of the accumulator); the
/// control edges; sums beyond the bound; random sums. Returns the beats, counts and beats in wrapping sums.
fn array_stimulus(name: &str, pe: usize, simd: usize, ka: u32, kw: u32) -> (ArrayBeats, Counts, usize) {
    let (amax, imax) = (max_code(ka), max_code(kw));
    let (na, ni) = (amax as usize + 1, imax as usize + 1);
    let mut b = ArrayBeats {
        simd,
        lanes: pe * simd,
        ..ArrayBeats::default()
    };
    for pass in 0..2 {
        for k in 0..na * ni {
            let (u, v) = (k / ni, k % ni);
            let (clear, last) = if pass == 0 {
                (true, true)
            } else {
                (
                    k % ARRAY_SUM_BEATS == 0,
                    k % ARRAY_SUM_BEATS == ARRAY_SUM_BEATS - 1 || k + 1 == na * ni,
                )
            };
            b.push(
                |s| ((u + s) % na) as u32,
                |l| ((v + l / simd + l % simd) % ni) as u32,
                true,
                clear,
                last,
            );
        }
    }
    let exhaustive = b.len();
    let l = ARRAY_SUM_BEATS;
    let even_neg = move |k: usize| if (k / simd) % 2 == 0 { 0 } else { imax };
    let even_pos = move |k: usize| if (k / simd) % 2 == 0 { imax } else { 0 };
    b.sum(l, |_| amax, even_neg);
    b.sum(l, |_| amax, even_pos);
    b.sum(l, |_| amax, even_neg);
    b.sum(l, |_| 0, even_pos);
    b.sum(l, |s| if s % 2 == 0 { amax } else { 0 }, |_| imax);
    b.sum(1, |_| amax, even_neg);
    b.sum(1, |_| amax, even_pos);
    // A disabled first beat carrying clear, `last` without `en`, clear in mid-sum, idle beats with extreme codes.
    b.push(|_| amax, |_| imax, false, true, false);
    b.push(|_| amax, even_neg, true, false, false);
    b.push(|_| amax, even_neg, false, false, true);
    b.push(|_| amax, even_pos, true, false, true);
    b.push(|_| amax, even_neg, true, true, false);
    b.push(|_| amax, even_pos, true, true, true);
    for k in 0..4 {
        b.push(
            |_| amax,
            move |_| if k % 2 == 0 { 0 } else { imax },
            false,
            false,
            false,
        );
    }
    let wrap_start = b.len();
    b.sum(2 * l + 1, |_| amax, even_neg);
    b.sum(2 * l + 1, |_| amax, even_pos);
    let wrapping = b.len() - wrap_start;
    b.sum(l, |_| amax, even_pos);
    let edge = b.len() - exhaustive;
    let mut r = rng(name);
    let pick = |r: &mut ChaCha8Rng, max: u32| match r.gen_range(0..6) {
        0 => 0,
        1 => max,
        _ => r.gen_range(0..=max),
    };
    let start = b.len();
    while b.len() - start < RANDOM_VECTORS {
        let len = r.gen_range(1..=l);
        let (mut done, mut first) = (0, true);
        while done < len {
            let en = !r.gen_bool(0.15);
            done += en as usize;
            let acts: Vec<u32> = (0..simd).map(|_| pick(&mut r, amax)).collect();
            let ws: Vec<u32> = (0..pe * simd).map(|_| pick(&mut r, imax)).collect();
            b.push(|s| acts[s], |k| ws[k], en, first, en && done == len);
            first = false;
        }
        while r.gen_bool(0.2) {
            let acts: Vec<u32> = (0..simd).map(|_| pick(&mut r, amax)).collect();
            let ws: Vec<u32> = (0..pe * simd).map(|_| pick(&mut r, imax)).collect();
            b.push(|s| acts[s], |k| ws[k], false, false, false);
        }
    }
    let random = b.len() - start;
    let counts = Counts {
        exhaustive,
        edge,
        random,
    };
    (b, counts, wrapping)
}

/// The beat controls `(en, clear, last)`.
type Ctl = (bool, bool, bool);

/// One array configuration of a bank.
struct ArrayUnit {
    name: String,
    pe: usize,
    simd: usize,
    w: MacWidths,
    beats: ArrayBeats,
    counts: Counts,
    wrapping: usize,
    salt: u64,
    act: Vec<PortId>,
    widx: Vec<PortId>,
    ctl: [PortId; 3],
    acc: Vec<PortId>,
    valid: PortId,
    bits: [u32; 3],
    reference: Vec<AccRef>,
    no_wrap: Vec<AccRef>,
    no_wrap_disagree: usize,
    sums: usize,
    compared: usize,
    extremes: (bool, bool),
}

impl ArrayUnit {
    fn new(sim: &Sim, prefix: &str, pe: usize, simd: usize, w: MacWidths) -> Self {
        let tag = prefix.trim_end_matches('_');
        let (beats, counts, wrapping) = array_stimulus(&format!("cosim_{tag}"), pe, simd, w.ka, w.kw);
        let act: Vec<PortId> = (0..simd).map(|s| port(sim, prefix, &format!("act${s}"))).collect();
        let widx: Vec<PortId> = (0..pe * simd)
            .map(|k| port(sim, prefix, &format!("widx${k}")))
            .collect();
        let acc: Vec<PortId> = (0..pe).map(|p| port(sim, prefix, &format!("acc${p}"))).collect();
        let bits = [
            sim.port_info(act[0]).width,
            sim.port_info(widx[0]).width,
            sim.port_info(acc[0]).width,
        ];
        ArrayUnit {
            name: format!("array {tag}: {pe}×{simd}, ka {} kw {} acc {}", w.ka, w.kw, w.acc),
            pe,
            simd,
            w,
            beats,
            counts,
            wrapping,
            salt: prefix
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
            act,
            widx,
            ctl: ["en", "clear", "last"].map(|n| port(sim, prefix, n)),
            acc,
            valid: port(sim, prefix, "valid"),
            bits,
            reference: (0..pe).map(|_| AccRef::new(ARRAY_LATENCY, w.acc, true)).collect(),
            no_wrap: (0..pe).map(|_| AccRef::new(ARRAY_LATENCY, w.acc, false)).collect(),
            no_wrap_disagree: 0,
            sums: 0,
            compared: 0,
            extremes: (false, false),
        }
    }

    /// Beat `t`: activation of lane `s`, weight index of lane `k`, controls (idle after the stimulus).
    fn at(&self, t: usize) -> Option<(&[u8], &[u8], Ctl)> {
        (t < self.beats.len()).then(|| {
            (
                &self.beats.act[t * self.simd..(t + 1) * self.simd],
                &self.beats.widx[t * self.pe * self.simd..(t + 1) * self.pe * self.simd],
                self.beats.ctl[t],
            )
        })
    }
}

impl Unit for ArrayUnit {
    fn len(&self) -> usize {
        self.beats.len()
    }
    fn drive(&mut self, t: usize, sim: &mut Sim) {
        let j = junk(t, self.salt);
        let (acts, ws, (en, clear, last)) = match self.at(t) {
            Some((a, w, c)) => (a.to_vec(), w.to_vec(), c),
            None => (vec![0; self.simd], vec![0; self.pe * self.simd], (false, false, false)),
        };
        for (s, &a) in acts.iter().enumerate() {
            sim.set(self.act[s], with_junk(a as u64, self.w.ka, self.bits[0], j >> s));
        }
        for (k, &i) in ws.iter().enumerate() {
            sim.set(
                self.widx[k],
                with_junk(i as u64, self.w.kw, self.bits[1], j >> (k % 40)),
            );
        }
        sim.set(self.ctl[0], en as u64);
        sim.set(self.ctl[1], clear as u64);
        sim.set(self.ctl[2], last as u64);
    }
    fn check(&mut self, t: usize, sim: &Sim) {
        let (sums, (en, clear, last)) = match self.at(t) {
            Some((acts, ws, ctl)) => {
                let sums: Vec<i64> = (0..self.pe)
                    .map(|p| {
                        (0..self.simd)
                            .map(|s| product(acts[s] as u32, ws[p * self.simd + s] as u32, self.w.kw))
                            .sum()
                    })
                    .collect();
                (sums, ctl)
            }
            None => (vec![0; self.pe], (false, false, false)),
        };
        let got_valid = sim.get(self.valid);
        let (lo, hi) = worst_case_sums(self.w, ARRAY_SUM_BEATS * self.simd);
        for (p, &sum) in sums.iter().enumerate() {
            let (acc, valid) = self.reference[p].step(sum, en, clear, last);
            let (acc_nw, _) = self.no_wrap[p].step(sum, en, clear, last);
            let got = sim.get(self.acc[p]);
            assert!(
                got == raw(acc, self.bits[2]) && got_valid == valid as u64,
                "{}, cycle {t}, PE {p}: RTL acc {got:#x} valid {got_valid}, reference acc {acc} ({:#x}) valid {valid}",
                self.name,
                raw(acc, self.bits[2])
            );
            self.no_wrap_disagree += (sim.get_i64(self.acc[p]) != acc_nw) as usize;
            self.extremes.0 |= valid && acc == lo;
            self.extremes.1 |= valid && acc == hi;
            if p == 0 {
                self.sums += valid as usize;
            }
        }
        self.compared += 1;
    }
    fn finish(&self) {
        let c = self.counts;
        println!(
            "{}: {} vectors = {} exhaustive (every pair in every lane, twice) + {} edge ({} in wrapping sums) + {} \
             random; {} cycles compared ({} acc + valid each), {} sums completed; a non-wrapping reference disagrees \
             on {}",
            self.name,
            c.total(),
            c.exhaustive,
            c.edge,
            self.wrapping,
            c.random,
            self.compared,
            self.pe,
            self.sums,
            self.no_wrap_disagree
        );
        assert!(c.random >= RANDOM_VECTORS, "{}: {} random vectors", self.name, c.random);
        assert!(self.compared >= c.total(), "{}: every vector compared", self.name);
        assert!(
            self.extremes.0 && self.extremes.1,
            "{}: both worst-case sums reached",
            self.name
        );
        assert!(self.no_wrap_disagree > 0, "{}: the wrapping sums must wrap", self.name);
    }
}

/// Build one array bank holding `shapes` × [`ARRAY_WIDTHS`] and run it.
fn array_sweep(bank: &str, shapes: &[(usize, usize)]) {
    let t0 = Instant::now();
    let mut designs = Vec::new();
    let mut configs = Vec::new();
    for &(pe, simd) in shapes {
        for &(ka, kw) in &ARRAY_WIDTHS {
            let w = MacWidths::new(ka, kw, worst_case_acc_width(ka, kw, ARRAY_SUM_BEATS * simd));
            let prefix = format!("a{pe}x{simd}w{ka}{kw}_");
            designs.push((prefix.clone(), emit(&mut Array::new(pe, simd, w).unwrap())));
            configs.push((prefix, pe, simd, w));
        }
    }
    let mut sim = build_bank(bank, &bank_verilog(&designs));
    let mut units: Vec<Box<dyn Unit>> = configs
        .iter()
        .map(|(prefix, pe, simd, w)| Box::new(ArrayUnit::new(&sim, prefix, *pe, *simd, *w)) as Box<dyn Unit>)
        .collect();
    run_bank(bank, &mut sim, &mut units, ARRAY_LATENCY + 2);
    println!("{bank}: {:.2} s in all", t0.elapsed().as_secs_f64());
}

#[test]
fn mac_array_sweep_under_verilator_1x1() {
    array_sweep("array_bank_1x1", &[SHAPES[0]]);
}

#[test]
fn mac_array_sweep_under_verilator_2x8() {
    array_sweep("array_bank_2x8", &[SHAPES[1]]);
}

#[test]
fn mac_array_sweep_under_verilator_8x2() {
    array_sweep("array_bank_8x2", &[SHAPES[2]]);
}

#[test]
fn mac_array_sweep_under_verilator_4x4() {
    array_sweep("array_bank_4x4", &[SHAPES[3]]);
}
