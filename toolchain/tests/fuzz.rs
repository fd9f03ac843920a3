//! Mutation fuzzing of every parser of user input: quantized models (`.pqm`), ONNX, safetensors and `.npz`
//! weights, architecture files (JSON and TOML), and data sets (CSV, IDX, each plain and gzip).
//!
//! cargo-fuzz needs a nightly toolchain that a new machine of this project does not have, so this is a
//! proptest-driven byte mutator that runs on stable as an ordinary test. Each target starts from valid seed
//! files (built here from the repository's models, ONNX fixtures and data) and applies stacked mutations: bit
//! flips, byte sets, inserts, deletes, truncation, splicing from other seeds, integer tweaks of every width
//! and endianness at any offset, tweaks of the format's known length fields (safetensors header length, IDX
//! dimensions, `.npy` header length, zip sizes), and replacement of decimal numbers in text by boundary values.
//! Containers are mutated inside and out: a `.npz` member's `.npy` bytes are mutated and the zip rebuilt, a
//! CSV is mutated and then gzip-compressed, and the encoded bytes can be mutated again.
//!
//! Every execution must return `Ok`, or an error whose message is one line and names the file; a panic (caught
//! with `catch_unwind`) or an execution slower than [`SLOW`] is a finding: proptest shrinks it to a minimal
//! mutation list, the bytes are written to `target/fuzz-findings/`, and the test fails.
//!
//! ```text
//! cargo test --release -p pact-toolchain --test fuzz -- --nocapture           # CI: a few seconds per target
//! PACT_FUZZ_ITERS=200000 PACT_FUZZ_SEED=7 cargo test --release -p pact-toolchain --test fuzz fuzz_onnx -- --nocapture
//! PACT_FUZZ_SECS=300 cargo test --release -p pact-toolchain --test fuzz fuzz_npz -- --nocapture  # time budget
//! ```
//!
//! `PACT_FUZZ_ITERS` (default [`DEFAULT_ITERS`]) is the number of executions per target, `PACT_FUZZ_SECS` a
//! time budget per target instead (iterations then count up to it), `PACT_FUZZ_SEED` (default 1) the seed.
//! Each target prints its seed, executions, accepted and rejected inputs and time. Build with overflow checks
//! (`CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true`, in a separate `CARGO_TARGET_DIR`) to also catch arithmetic
//! overflow, as the long runs in docs/reliability.md did.

mod common;

use common::{npy_bytes, zip_of};
use flate2::write::GzEncoder;
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::float::FloatModel;
use pact_toolchain::import::{onnx, qonnx, statedict};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Executions per target when `PACT_FUZZ_ITERS` and `PACT_FUZZ_SECS` are unset (a few seconds in release).
const DEFAULT_ITERS: u64 = 1000;
/// Executions per proptest run (each chunk gets its own RNG stream derived from the seed).
const CHUNK: u64 = 500;
/// An execution slower than this is a finding (hangs and quadratic blow-ups).
const SLOW: Duration = Duration::from_secs(5);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

// ---------------------------------------------------------------------------------------------------------
// Mutations

/// One mutation. Positions are taken modulo the input length, so every value applies to every input.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Copy `len` bytes at `from` of seed `seed` (any target's) to `at`, inserting or overwriting.
    Splice {
        at: usize,
        seed: usize,
        from: usize,
        len: usize,
        overwrite: bool,
    },
    /// Overwrite an integer of `width` bytes at `at` with an interesting value.
    Int {
        at: usize,
        width: usize,
        big_endian: bool,
        value: IntValue,
    },
    /// Overwrite the `n`-th known length field of the format (see [`length_fields`]) with an interesting value.
    LengthField(usize, IntValue),
    /// Replace the `n`-th decimal number of the input (ASCII) with a boundary value.
    Number(usize, usize),
}

/// A value written by [`Mutation::Int`] and [`Mutation::LengthField`].
#[derive(Clone, Copy, Debug)]
enum IntValue {
    Fixed(u64),
    /// The current value plus a small delta.
    Delta(i8),
    /// The input length plus a small delta.
    Len(i8),
}

const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    16,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    1 << 40,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 7,
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "2",
    "255",
    "256",
    "65536",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "NaN",
    "inf",
    "0.5",
    "3.4e38",
    "",
];

fn int_value() -> impl Strategy<Value = IntValue> {
    prop_oneof![
        4 => (0..INTERESTING.len()).prop_map(|i| IntValue::Fixed(INTERESTING[i])),
        1 => any::<u64>().prop_map(IntValue::Fixed),
        2 => any::<i8>().prop_map(IntValue::Delta),
        2 => (-9i8..=9).prop_map(IntValue::Len),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::SetByte(p, v)),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(p, b)| Mutation::Insert(p, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..256, any::<bool>()).prop_map(
            |(at, seed, from, len, overwrite)| Mutation::Splice { at, seed, from, len, overwrite }
        ),
        3 => (any::<usize>(), prop_oneof![Just(1usize), Just(2), Just(4), Just(8)], any::<bool>(), int_value())
            .prop_map(|(at, width, big_endian, value)| Mutation::Int { at, width, big_endian, value }),
        4 => (any::<usize>(), int_value()).prop_map(|(n, v)| Mutation::LengthField(n, v)),
        4 => (any::<usize>(), 0..NUMBERS.len()).prop_map(|(n, v)| Mutation::Number(n, v)),
    ]
}

/// A known integer field of an input: offset, width, big-endian.
type Field = (usize, usize, bool);

/// The length and size fields of the formats fuzzed here, found in `b` by their magic bytes.
fn length_fields(b: &[u8]) -> Vec<Field> {
    let mut f = Vec::new();
    // safetensors / .pqm: the 8-byte little-endian header length.
    if b.len() >= 8 && !b.starts_with(b"PK") && !b.starts_with(&[0x1f, 0x8b]) && b[0] != 0 {
        f.push((0, 8, false));
    }
    // IDX: the dimensions after 00 00 08 nd.
    if b.len() >= 4 && b[0] == 0 && b[1] == 0 {
        for k in 0..(b[3] as usize).min(4) {
            f.push((4 + 4 * k, 4, true));
        }
    }
    // .npy (bare, or inside a stored zip member): the header length.
    for pos in find_all(b, b"\x93NUMPY") {
        f.push((pos + 8, 2, false));
        f.push((pos + 8, 4, false));
    }
    // zip: local file headers (sizes, name length) and central directory entries (sizes, offset), and the
    // end record (entry counts, directory size and offset).
    for pos in find_all(b, b"PK\x03\x04") {
        f.extend([
            (pos + 18, 4, false),
            (pos + 22, 4, false),
            (pos + 26, 2, false),
            (pos + 28, 2, false),
        ]);
    }
    for pos in find_all(b, b"PK\x01\x02") {
        f.extend([
            (pos + 20, 4, false),
            (pos + 24, 4, false),
            (pos + 28, 2, false),
            (pos + 42, 4, false),
        ]);
    }
    for pos in find_all(b, b"PK\x05\x06") {
        f.extend([
            (pos + 8, 2, false),
            (pos + 10, 2, false),
            (pos + 12, 4, false),
            (pos + 16, 4, false),
        ]);
    }
    // gzip: the trailing CRC and size.
    if b.starts_with(&[0x1f, 0x8b]) && b.len() >= 8 {
        f.extend([(b.len() - 8, 4, false), (b.len() - 4, 4, false)]);
    }
    f.retain(|&(at, w, _)| at + w <= b.len());
    f
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if hay.len() < needle.len() {
        return vec![];
    }
    (0..=hay.len() - needle.len())
        .filter(|&i| &hay[i..i + needle.len()] == needle)
        .take(64)
        .collect()
}

fn write_int(b: &mut [u8], (at, width, be): Field, value: IntValue) {
    let cur = {
        let mut v = 0u64;
        for k in 0..width {
            let byte = if be { b[at + k] } else { b[at + width - 1 - k] };
            v = (v << 8) | byte as u64;
        }
        v
    };
    let v = match value {
        IntValue::Fixed(v) => v,
        IntValue::Delta(d) => cur.wrapping_add(d as i64 as u64),
        IntValue::Len(d) => (b.len() as u64).wrapping_add(d as i64 as u64),
    };
    for k in 0..width {
        let byte = (v >> (8 * k)) as u8;
        if be {
            b[at + width - 1 - k] = byte;
        } else {
            b[at + k] = byte;
        }
    }
}

/// Apply `ms` to `b`; `pool` holds the seeds splices copy from.
fn apply(b: &mut Vec<u8>, ms: &[Mutation], pool: &[Vec<u8>]) {
    for m in ms {
        let n = b.len();
        match m {
            Mutation::FlipBit(p, bit) if n > 0 => b[p % n] ^= 1 << bit,
            Mutation::SetByte(p, v) if n > 0 => b[p % n] = *v,
            Mutation::Insert(p, bytes) => {
                let at = p % (n + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(p, len) if n > 0 => {
                let at = p % n;
                b.drain(at..(at + len).min(n));
            }
            Mutation::Truncate(p) => b.truncate(p % (n + 1)),
            Mutation::Splice {
                at,
                seed,
                from,
                len,
                overwrite,
            } if !pool.is_empty() => {
                let src = &pool[seed % pool.len()];
                if src.is_empty() {
                    continue;
                }
                let from = from % src.len();
                let chunk = &src[from..(from + len).min(src.len())];
                let at = at % (n + 1);
                if *overwrite {
                    let end = (at + chunk.len()).min(n);
                    b.splice(at..end, chunk.iter().copied());
                } else {
                    b.splice(at..at, chunk.iter().copied());
                }
            }
            Mutation::Int {
                at,
                width,
                big_endian,
                value,
            } if n >= *width => {
                let at = at % (n - width + 1);
                write_int(b, (at, *width, *big_endian), *value);
            }
            Mutation::LengthField(k, value) => {
                let fields = length_fields(b);
                if !fields.is_empty() {
                    write_int(b, fields[k % fields.len()], *value);
                }
            }
            Mutation::Number(k, v) => {
                let runs = digit_runs(b);
                if !runs.is_empty() {
                    let (s, e) = runs[k % runs.len()];
                    b.splice(s..e, NUMBERS[*v].bytes());
                }
            }
            _ => {}
        }
    }
}

/// Byte ranges of the ASCII digit runs of `b` (at most 4096, spread over the input).
fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() && runs.len() < 4096 {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    runs
}

// ---------------------------------------------------------------------------------------------------------
// Targets

/// A valid starting input: its inner bytes (what the inner mutations change) and how they become a file
/// (identity, gzip, or rebuilding a zip around a changed member).
struct Seed {
    what: String,
    inner: Vec<u8>,
    encode: Encode,
}

impl Seed {
    fn plain(what: &str, bytes: Vec<u8>) -> Seed {
        Seed {
            what: what.into(),
            inner: bytes,
            encode: Rc::new(|b: &[u8]| b.to_vec()),
        }
    }
    fn gzip(what: &str, bytes: Vec<u8>) -> Seed {
        Seed {
            what: what.into(),
            inner: bytes,
            encode: Rc::new(|b: &[u8]| gzip(b)),
        }
    }
}

/// How a seed's inner bytes become a file.
type Encode = Rc<dyn Fn(&[u8]) -> Vec<u8>>;
/// One execution of a target on seed `i` mutated to `bytes`.
type Run = Box<dyn Fn(usize, &[u8]) -> Result<Outcome, String>>;

/// What one execution did.
enum Outcome {
    Accepted,
    Rejected,
}

/// A parser under test: its seeds, and one execution on seed `i` mutated to `bytes`. The execution returns
/// the outcome or a description of a bad error message.
struct Target {
    name: &'static str,
    seeds: Vec<Seed>,
    run: Run,
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Check a rejection: one line, non-empty, naming `must_name`.
fn check_error(msg: &str, must_name: &str) -> Result<Outcome, String> {
    if msg.trim().is_empty() || msg.contains('\n') || msg.contains('\r') || !msg.contains(must_name) {
        return Err(format!(
            "unclear error (must be one line naming {must_name:?}): {msg:?}"
        ));
    }
    Ok(Outcome::Rejected)
}

fn result<T>(r: pact_toolchain::Result<T>, must_name: &str) -> Result<Outcome, String> {
    match r {
        Ok(_) => Ok(Outcome::Accepted),
        Err(e) => check_error(&e.to_string(), must_name),
    }
}

/// The float models the seeds are made from: the repository's default mnist5k CNN and the three ONNX fixtures.
fn float_models() -> Vec<(&'static str, FloatModel)> {
    let mut v = vec![(
        "mnist5k-small",
        statedict::load_arch(&root().join("models/mnist5k-small-w4a4.json")).unwrap(),
    )];
    for name in ["pact_mlp_digits", "pact_cnn_digits", "pact_resnet_digits"] {
        let p = root().join(format!("tests/fixtures/{name}.onnx"));
        v.push((name, onnx::load_onnx(&p, 1.0 / 16.0).unwrap()));
    }
    v
}

fn onnx_seeds() -> Vec<Seed> {
    ["pact_mlp_digits", "pact_cnn_digits", "pact_resnet_digits"]
        .iter()
        .map(|n| {
            Seed::plain(
                n,
                std::fs::read(root().join(format!("tests/fixtures/{n}.onnx"))).unwrap(),
            )
        })
        .collect()
}

fn pqm_target() -> Target {
    let mut seeds = Vec::new();
    // Calibration images for the ReLUs without a learned α (the ONNX fixtures are 8×8 digits models).
    let mut digits = data::load(&DataSpec::Digits, Split::Train).unwrap();
    digits.truncate(64);
    for (name, m) in float_models() {
        for (w, a) in [(4, 4), (2, 3)] {
            let cfg = QuantConfig::builder().wbits(w).abits(a).build().unwrap();
            let calib = (m.input.shape == [1, 8, 8]).then_some(&digits.images[..]);
            // The residual fixture does not quantize (a conv feeding an Add directly); the others do.
            if let Ok(q) = quantize(&m, &cfg, calib, name) {
                seeds.push(Seed::plain(&format!("{name} w{w}a{a}"), q.to_bytes().unwrap()));
            }
        }
    }
    assert_eq!(seeds.len(), 6, "three models at two widths");
    Target {
        name: "pqm",
        seeds,
        run: Box::new(|_, bytes| result(QModel::from_bytes(Path::new("fuzz.pqm"), bytes), "fuzz.pqm")),
    }
}

fn onnx_target() -> Target {
    Target {
        name: "onnx",
        seeds: onnx_seeds(),
        run: Box::new(|_, bytes| {
            result(
                onnx::from_bytes(Path::new("fuzz.onnx"), bytes, 1.0 / 255.0),
                "fuzz.onnx",
            )
        }),
    }
}

/// The Brevitas fixtures (QONNX with its external weights inlined, and QCDQ), read as quantized models: the
/// import and the integer model built from it (`quantize_preset`).
fn qonnx_target() -> Target {
    let dir = root().join("tests/fixtures/brevitas");
    let mut seeds = Vec::new();
    for name in ["bv_cnn_w4a4_pt", "bv_cnn_w2a2_pc"] {
        let qonnx = common::inline_external_data(&dir.join(format!("{name}.qonnx.onnx")));
        seeds.push(Seed::plain(&format!("{name} qonnx"), qonnx));
        let qcdq = std::fs::read(dir.join(format!("{name}.qcdq.onnx"))).unwrap();
        seeds.push(Seed::plain(&format!("{name} qcdq"), qcdq));
    }
    Target {
        name: "qonnx",
        seeds,
        run: Box::new(|_, bytes| {
            let path = Path::new("fuzz.qonnx.onnx");
            result(qonnx::from_bytes_quantized(path, bytes, 16), "fuzz.qonnx.onnx")
        }),
    }
}

/// Architecture + safetensors files of every float model, written by `save_float` into `dir`:
/// `(arch JSON path, arch text, weights bytes)` per model.
fn saved_models(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    float_models()
        .into_iter()
        .map(|(name, m)| {
            let arch = dir.join(format!("{name}.json"));
            statedict::save_float(&m, &arch).unwrap();
            let text = std::fs::read_to_string(&arch).unwrap();
            let weights = std::fs::read(arch.with_extension("safetensors")).unwrap();
            (name.to_string(), text, weights)
        })
        .collect()
}

/// `(name, f32 data, shape)` of every tensor of a safetensors file.
fn tensors_of(st: &[u8]) -> Vec<(String, Vec<f32>, Vec<usize>)> {
    let st = safetensors::SafeTensors::deserialize(st).unwrap();
    let mut v: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| {
            let data = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (n, data, t.shape().to_vec())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A weights target: seeds are the weights files of the saved models (safetensors, or npz whose members are
/// mutated inside); each execution writes the mutated weights file and loads the architecture naming it.
fn weights_target(name: &'static str, npz: bool) -> Target {
    let dir = tempfile::tempdir().unwrap().keep();
    let models = saved_models(&dir);
    let mut seeds = Vec::new();
    let mut arch_of_seed = Vec::new();
    for (mi, (mname, text, weights)) in models.iter().enumerate() {
        let wfile = if npz {
            format!("{mname}.fuzz.npz")
        } else {
            format!("{mname}.fuzz.safetensors")
        };
        let arch = dir.join(format!("{mname}.fuzz.json"));
        let wline = format!("\"weights\": \"{mname}.safetensors\"");
        assert!(text.contains(&wline), "{text}");
        std::fs::write(&arch, text.replace(&wline, &format!("\"weights\": \"{wfile}\""))).unwrap();
        if !npz {
            seeds.push(Seed::plain(mname, weights.clone()));
            arch_of_seed.push((arch, dir.join(wfile)));
            continue;
        }
        let members: Vec<(String, Vec<u8>)> = tensors_of(weights)
            .into_iter()
            .map(|(n, d, s)| (format!("{n}.npy"), npy_bytes(&d, &s)))
            .collect();
        // One seed per (member, compression): the inner bytes are that member's .npy.
        for (k, (member, npy)) in members.iter().enumerate() {
            if mi > 0 && k % 3 != 0 {
                continue; // keep the seed count moderate: every member of the first model, a third of the others
            }
            for deflate in [false, true] {
                let members = members.clone();
                seeds.push(Seed {
                    what: format!("{mname} {member} {}", if deflate { "deflated" } else { "stored" }),
                    inner: npy.clone(),
                    encode: Rc::new(move |b: &[u8]| {
                        let mut m = members.clone();
                        m[k].1 = b.to_vec();
                        zip_of(&m, deflate)
                    }),
                });
                arch_of_seed.push((arch.clone(), dir.join(&wfile)));
            }
        }
    }
    let dir_name = dir.display().to_string();
    Target {
        name,
        seeds,
        run: Box::new(move |i, bytes| {
            let (arch, wpath) = &arch_of_seed[i];
            std::fs::write(wpath, bytes).unwrap();
            result(statedict::load_arch(arch), &dir_name)
        }),
    }
}

/// An architecture-file target: the arch text (JSON, or TOML converted by `save_float`) is mutated, the
/// weights stay valid.
fn arch_target(name: &'static str, toml: bool) -> Target {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut seeds = Vec::new();
    let mut paths = Vec::new();
    for (mname, m) in float_models() {
        let ext = if toml { "toml" } else { "json" };
        let arch = dir.join(format!("{mname}.{ext}"));
        statedict::save_float(&m, &arch).unwrap();
        seeds.push(Seed::plain(mname, std::fs::read(&arch).unwrap()));
        paths.push(dir.join(format!("{mname}.fuzz.{ext}")));
        // The fuzzed file names the same weights file.
        let text = std::fs::read_to_string(&arch).unwrap();
        assert!(text.contains(&format!("{mname}.safetensors")));
    }
    Target {
        name,
        seeds,
        run: Box::new(move |i, bytes| {
            std::fs::write(&paths[i], bytes).unwrap();
            let name = paths[i].file_name().unwrap().to_string_lossy().into_owned();
            // Errors about the arch file name it; errors about its weights name those (same directory).
            let dir = paths[i].parent().unwrap().display().to_string();
            match statedict::load_arch(&paths[i]) {
                Ok(_) => Ok(Outcome::Accepted),
                Err(e) => {
                    let msg = e.to_string();
                    check_error(&msg, if msg.contains(&name) { &name } else { &dir })
                }
            }
        }),
    }
}

/// The first `n` samples of the embedded digits set as CSV text.
fn digits_csv(n: usize) -> Vec<u8> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(root().join("data/digits.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .take(n)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

fn csv_target(name: &'static str, gz: bool) -> Target {
    let dir = tempfile::tempdir().unwrap().keep();
    let csv = digits_csv(40);
    let mnist_like: Vec<u8> = (0..6)
        .flat_map(|i| {
            let mut l: Vec<String> = (0..16).map(|p| ((p * 37 + i * 11) % 256).to_string()).collect();
            l.push((i % 3).to_string());
            format!("{}\r\n", l.join(",")).into_bytes()
        })
        .collect();
    let seeds = if gz {
        vec![
            Seed::gzip("digits40.csv.gz", csv),
            Seed::gzip("crlf.csv.gz", mnist_like),
        ]
    } else {
        vec![Seed::plain("digits40.csv", csv), Seed::plain("crlf.csv", mnist_like)]
    };
    let path = dir.join(if gz { "fuzz.csv.gz" } else { "fuzz.csv" });
    Target {
        name,
        seeds,
        run: Box::new(move |i, bytes| {
            std::fs::write(&path, bytes).unwrap();
            let split = [Split::All, Split::Train, Split::Test][i % 3];
            result(data::load(&DataSpec::Path(path.clone()), split), "fuzz")
        }),
    }
}

/// IDX images and labels of the first 30 digits: the seed mutates one of the two files, the other stays valid.
fn idx_target(name: &'static str, gz: bool) -> Target {
    let dir = tempfile::tempdir().unwrap().keep();
    let csv = String::from_utf8(digits_csv(30)).unwrap();
    let (mut images, mut labels) = (vec![0, 0, 8, 3], vec![0, 0, 8, 1]);
    for d in [30u32, 8, 8] {
        images.extend(d.to_be_bytes());
    }
    labels.extend(30u32.to_be_bytes());
    for line in csv.lines() {
        let v: Vec<u8> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
        images.extend(&v[..64]);
        labels.push(v[64]);
    }
    let (ip, lp) = if gz {
        ("fuzz-images-idx3-ubyte.gz", "fuzz-labels-idx1-ubyte.gz")
    } else {
        ("fuzz-images-idx3-ubyte", "fuzz-labels-idx1-ubyte")
    };
    let (ip, lp) = (dir.join(ip), dir.join(lp));
    let enc = |b: Vec<u8>| if gz { gzip(&b) } else { b };
    let (good_images, good_labels) = (enc(images.clone()), enc(labels.clone()));
    let mk = |what: &str, b: Vec<u8>| if gz { Seed::gzip(what, b) } else { Seed::plain(what, b) };
    let seeds = vec![mk("images", images), mk("labels", labels)];
    let dir_name = dir.display().to_string();
    Target {
        name,
        seeds,
        run: Box::new(move |i, bytes| {
            let (img, lab) = if i == 0 {
                (bytes, &good_labels[..])
            } else {
                (&good_images[..], bytes)
            };
            std::fs::write(&ip, img).unwrap();
            std::fs::write(&lp, lab).unwrap();
            // Both the single-file form and the directory form (train/t10k names) read these files.
            result(data::load(&DataSpec::Path(ip.clone()), Split::All), &dir_name)
        }),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The runner

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a non-negative integer"))
    })
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// Fuzz `t`: see the module documentation. Returns (executions, accepted, rejected).
fn fuzz(t: Target) -> (u64, u64, u64) {
    let seed = env_u64("PACT_FUZZ_SEED").unwrap_or(1);
    let secs = env_u64("PACT_FUZZ_SECS");
    let iters = env_u64("PACT_FUZZ_ITERS").unwrap_or(if secs.is_some() { u64::MAX } else { DEFAULT_ITERS });
    let deadline = secs.map(|s| Instant::now() + Duration::from_secs(s));
    // Every seed runs unmutated first: it must be accepted (else the target tests nothing but rejections).
    for (i, s) in t.seeds.iter().enumerate() {
        match (t.run)(i, &(s.encode)(&s.inner)) {
            Ok(Outcome::Accepted) => {}
            Ok(Outcome::Rejected) | Err(_) => panic!("{}: seed {i} ({}) is not accepted", t.name, s.what),
        }
    }
    let pool: Vec<Vec<u8>> = t.seeds.iter().map(|s| s.inner.clone()).collect();
    let strategy = (
        0..t.seeds.len(),
        proptest::collection::vec(mutation(), 0..6),
        proptest::collection::vec(mutation(), 0..3),
    );
    let (mut execs, mut accepted, mut rejected) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut chunk = 0u64;
    while execs < iters && deadline.is_none_or(|d| Instant::now() < d) {
        let cases = (iters - execs).min(CHUNK);
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&chunk.to_le_bytes());
        // FNV-1a of the target name: each target draws its own stream from the same seed.
        let fnv = t.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        key[16..24].copy_from_slice(&fnv.to_le_bytes());
        let config = Config {
            cases: cases as u32,
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        let (c_exec, c_acc, c_rej) = (
            std::cell::Cell::new(0u64),
            std::cell::Cell::new(0u64),
            std::cell::Cell::new(0u64),
        );
        let res = runner.run(&strategy, |(si, inner_ms, outer_ms)| {
            let s = &t.seeds[si];
            let mut inner = s.inner.clone();
            apply(&mut inner, &inner_ms, &pool);
            let mut bytes = (s.encode)(&inner);
            apply(&mut bytes, &outer_ms, &pool);
            let t0 = Instant::now();
            let out = catch_unwind(AssertUnwindSafe(|| (t.run)(si, &bytes)));
            let mut took = t0.elapsed();
            // A slow execution is retried: on a loaded machine one write can stall; a real hang stays slow.
            for _ in 0..2 {
                if took <= SLOW || out.is_err() {
                    break;
                }
                let t1 = Instant::now();
                let _ = catch_unwind(AssertUnwindSafe(|| (t.run)(si, &bytes)));
                took = took.min(t1.elapsed());
            }
            c_exec.set(c_exec.get() + 1);
            let fail = |why: String| {
                let dir = root().join("target/fuzz-findings");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{}-seed{seed}-{}.bin", t.name, bytes.len()));
                let _ = std::fs::write(&file, &bytes);
                TestCaseError::fail(format!("{why} (input saved to {})", file.display()))
            };
            match out {
                Err(p) => Err(fail(format!("PANIC: {}", panic_text(&*p)))),
                Ok(Err(msg)) => Err(fail(msg)),
                Ok(Ok(_)) if took > SLOW => Err(fail(format!("took {took:?}, more than {SLOW:?}"))),
                Ok(Ok(Outcome::Accepted)) => {
                    c_acc.set(c_acc.get() + 1);
                    Ok(())
                }
                Ok(Ok(Outcome::Rejected)) => {
                    c_rej.set(c_rej.get() + 1);
                    Ok(())
                }
            }
        });
        execs += cases;
        accepted += c_acc.get();
        rejected += c_rej.get();
        chunk += 1;
        if let Err(e) = res {
            let (why, value) = match e {
                TestError::Fail(why, v) => (why.to_string(), v),
                TestError::Abort(why) => panic!("{}: proptest aborted: {why}", t.name),
            };
            panic!(
                "fuzz target {} found a bug (seed {seed}, chunk {}): {why}\nminimal input: seed file {} ({}), \
                 inner mutations {:?}, outer mutations {:?}",
                t.name,
                chunk - 1,
                value.0,
                t.seeds[value.0].what,
                value.1,
                value.2
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz target {}: seed {seed}, {} seed files, {execs} executions ({accepted} accepted, {rejected} rejected), \
         0 crashes, {secs:.1} s ({:.0} exec/s)",
        t.name,
        t.seeds.len(),
        execs as f64 / secs.max(1e-9)
    );
    assert_eq!(accepted + rejected, execs, "every execution is counted");
    (execs, accepted, rejected)
}

/// Fuzz and require that mutations reach both outcomes (a target that rejects everything is not fuzzing the
/// parser past its first check; one that accepts everything is not parsing).
fn fuzz_both(t: Target) {
    let name = t.name;
    let (execs, accepted, rejected) = fuzz(t);
    if execs >= 200 {
        assert!(rejected > 0, "{name}: no mutation was rejected");
        assert!(accepted > 0, "{name}: no mutation was accepted");
    }
}

#[test]
fn fuzz_pqm() {
    fuzz_both(pqm_target());
}

#[test]
fn fuzz_onnx() {
    fuzz_both(onnx_target());
}

#[test]
fn fuzz_qonnx() {
    fuzz_both(qonnx_target());
}

#[test]
fn fuzz_safetensors() {
    fuzz_both(weights_target("safetensors", false));
}

#[test]
fn fuzz_npz() {
    fuzz_both(weights_target("npz", true));
}

#[test]
fn fuzz_arch_json() {
    fuzz_both(arch_target("arch_json", false));
}

#[test]
fn fuzz_arch_toml() {
    fuzz_both(arch_target("arch_toml", true));
}

#[test]
fn fuzz_csv() {
    fuzz_both(csv_target("csv", false));
}

#[test]
fn fuzz_csv_gz() {
    fuzz_both(csv_target("csv_gz", true));
}

#[test]
fn fuzz_idx() {
    fuzz_both(idx_target("idx", false));
}

#[test]
fn fuzz_idx_gz() {
    fuzz_both(idx_target("idx_gz", true));
}

/// The mutator itself: every mutation kind changes inputs, length fields are found, and a fixed seed gives
/// the same mutated bytes every time (so a printed seed reproduces a run).
#[test]
fn mutator_is_deterministic_and_effective() {
    let seed_bytes: Vec<u8> = {
        let mut b = 16u64.to_le_bytes().to_vec();
        b.extend(b"{\"a\":[1,2,300]}\0");
        b
    };
    assert_eq!(length_fields(&seed_bytes), vec![(0, 8, false)]);
    let run = || {
        let mut runner =
            TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7u8; 32]));
        let strat = proptest::collection::vec(mutation(), 1..6);
        (0..200)
            .map(|_| {
                let ms = strat.new_tree(&mut runner).unwrap().current();
                let mut b = seed_bytes.clone();
                apply(&mut b, &ms, std::slice::from_ref(&seed_bytes));
                b
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b, "same seed, same mutations");
    let changed = a.iter().filter(|m| **m != seed_bytes).count();
    assert!(
        changed > 150,
        "only {changed} of 200 mutated inputs differ from the seed"
    );
    let mut t = seed_bytes.clone();
    apply(&mut t, &[Mutation::Number(2, 19)], &[]);
    assert!(String::from_utf8_lossy(&t).contains("[1,2,NaN]"), "{t:?}");
    let mut t = seed_bytes.clone();
    apply(&mut t, &[Mutation::LengthField(0, IntValue::Len(1))], &[]);
    assert_eq!(
        u64::from_le_bytes(t[..8].try_into().unwrap()),
        seed_bytes.len() as u64 + 1
    );
}
