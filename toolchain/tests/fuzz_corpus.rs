//! The malformed-input regression corpus in `tests/corpus/` (repository root): one file per case, each rejected
//! with a one-line error that names the file and says what is wrong (a specific fragment per case, listed in
//! `tests/corpus/EXPECTED`).
//!
//! The files are made by [`corpus`] below from valid files (the repository's models, ONNX fixtures and data),
//! so they are reproducible: `corpus_matches_its_generator` fails if a committed file differs from what the
//! generator makes. After changing the generator, rewrite the corpus with
//!
//! ```text
//! PACT_WRITE_CORPUS=1 cargo test --release -p pact-toolchain --test fuzz_corpus -- --test-threads=1
//! ```
//!
//! Cases that need files too large to commit (size caps) are made at test time as sparse files.

mod common;

use common::{npy_bytes, zip_of};
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::import::onnx::proto::{ModelProto, StringStringEntryProto, TensorProto};
use pact_toolchain::import::{onnx, qonnx, statedict};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{quantize, QuantConfig};
use prost::Message;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus_dir() -> PathBuf {
    root().join("tests/corpus")
}

/// One malformed input: `loader` reads `dir/file`; `also` are files beside it (weights, labels), `links`
/// symlinks beside it (name, target).
struct Case {
    loader: &'static str,
    dir: &'static str,
    file: String,
    bytes: Vec<u8>,
    expect: Vec<&'static str>,
    also: Vec<(String, Vec<u8>)>,
    links: Vec<(String, String)>,
}

fn case(loader: &'static str, dir: &'static str, file: &str, bytes: Vec<u8>, expect: &[&'static str]) -> Case {
    Case {
        loader,
        dir,
        file: file.into(),
        bytes,
        expect: expect.to_vec(),
        also: vec![],
        links: vec![],
    }
}

/// Load `path` with `loader`; the error message, or "accepted".
fn load(loader: &str, path: &Path) -> Result<(), String> {
    let r = match loader {
        "pqm" => QModel::load(path).map(drop),
        "onnx" => onnx::load_onnx(path, 1.0 / 255.0).map(drop),
        "qonnx" => qonnx::load_quantized(path, 16).map(drop),
        "arch" => statedict::load_arch(path).map(drop),
        "data" => data::load(&DataSpec::Path(path.to_path_buf()), Split::All).map(drop),
        other => panic!("unknown loader {other}"),
    };
    r.map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------------------
// safetensors helpers

/// Split a safetensors file into its header (parsed) and data.
fn st_split(b: &[u8]) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    (header.as_object().unwrap().clone(), b[8 + n..].to_vec())
}

/// A safetensors file of `header` text and `data`.
fn st_join(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// Rewrite the header of safetensors bytes `b` with `f`.
fn st_edit(b: &[u8], f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let (mut h, data) = st_split(b);
    f(&mut h);
    st_join(&serde_json::to_string(&h).unwrap(), &data)
}

/// The name of the tensor stored first in the data section, and the one after it.
fn first_two(h: &serde_json::Map<String, serde_json::Value>) -> (String, String) {
    let mut v: Vec<(u64, String)> = h
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, t)| (t["data_offsets"][0].as_u64().unwrap(), k.clone()))
        .collect();
    v.sort();
    (v[0].1.clone(), v[1].1.clone())
}

/// Overwrite the f32 value `index` of tensor `name`.
fn st_set_f32(b: &[u8], name: &str, index: usize, value: f32) -> Vec<u8> {
    let (h, mut data) = st_split(b);
    let off = h[name]["data_offsets"][0].as_u64().unwrap() as usize + 4 * index;
    data[off..off + 4].copy_from_slice(&value.to_le_bytes());
    let mut out = b[..b.len() - data.len()].to_vec();
    out.extend(data);
    out
}

// ---------------------------------------------------------------------------------------------------------
// The seeds

const LFS: &[u8] = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 83528\n";

/// A small float model: arch JSON (naming `WEIGHTS`) and its safetensors weights.
fn small_model() -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let m = onnx::load_onnx(&root().join("tests/fixtures/pact_mlp_digits.onnx"), 1.0 / 16.0).unwrap();
    let arch = dir.path().join("model.json");
    statedict::save_float(&m, &arch).unwrap();
    (
        std::fs::read_to_string(&arch).unwrap(),
        std::fs::read(dir.path().join("model.safetensors")).unwrap(),
    )
}

fn pqm_seed() -> Vec<u8> {
    let m = statedict::load_arch(&root().join("models/mnist5k-small-w4a4.json")).unwrap();
    let cfg = QuantConfig::builder().wbits(4).abits(4).build().unwrap();
    quantize(&m, &cfg, None, "corpus").unwrap().to_bytes().unwrap()
}

/// Edit the manifest JSON inside `.pqm` bytes.
fn pqm_manifest(b: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    st_edit(b, |h| {
        let meta = h["__metadata__"].as_object_mut().unwrap();
        let mut m: serde_json::Value = serde_json::from_str(meta["pact.qmodel"].as_str().unwrap()).unwrap();
        f(&mut m);
        meta.insert("pact.qmodel".into(), serde_json::Value::String(m.to_string()));
    })
}

/// The `.npy` members of the small model's weights.
fn npz_members(st: &[u8]) -> Vec<(String, Vec<u8>)> {
    let st = safetensors::SafeTensors::deserialize(st).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| {
            let d: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (format!("{n}.npy"), npy_bytes(&d, t.shape()))
        })
        .collect();
    v.sort();
    v
}

fn gzip(b: &[u8]) -> Vec<u8> {
    // flate2's header has no timestamp or name by default: reproducible bytes.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn digits_csv(n: usize) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(root().join("data/digits.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().take(n).map(|l| format!("{l}\n")).collect()
}

fn onnx_seed() -> ModelProto {
    ModelProto::decode(&std::fs::read(root().join("tests/fixtures/pact_mlp_digits.onnx")).unwrap()[..]).unwrap()
}

/// The first FLOAT initializer with raw data of at least 4 values.
fn onnx_weight(m: &mut ModelProto) -> &mut TensorProto {
    m.graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.data_type == 1 && t.raw_data.len() >= 16)
        .expect("a float initializer")
}

fn onnx_external(location: &str) -> Vec<u8> {
    let mut m = onnx_seed();
    let t = onnx_weight(&mut m);
    let len = t.raw_data.len();
    t.raw_data.clear();
    t.data_location = 1;
    t.external_data = vec![
        StringStringEntryProto {
            key: "location".into(),
            value: location.into(),
        },
        StringStringEntryProto {
            key: "length".into(),
            value: len.to_string(),
        },
    ];
    m.encode_to_vec()
}

// ---------------------------------------------------------------------------------------------------------
// The corpus

fn corpus() -> Vec<Case> {
    let mut v = Vec::new();

    // ---- .pqm (quantized model: safetensors + manifest) ----
    let pqm = pqm_seed();
    let mut b = pqm.clone();
    b[..8].copy_from_slice(&(pqm.len() as u64).to_le_bytes());
    v.push(case(
        "pqm",
        "pqm",
        "header_larger_than_file.pqm",
        b,
        &["header length", "larger than the file"],
    ));
    let mut b = pqm.clone();
    b[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    v.push(case(
        "pqm",
        "pqm",
        "header_over_cap.pqm",
        b,
        &["header length 1099511627776", "over the 100000000-byte cap"],
    ));
    v.push(case(
        "pqm",
        "pqm",
        "overlapping_offsets.pqm",
        st_edit(&pqm, |h| {
            let (a, b) = first_two(h);
            let end = h[&b]["data_offsets"][1].clone();
            h[&a]["data_offsets"][1] = end;
        }),
        &["overlap"],
    ));
    v.push(case(
        "pqm",
        "pqm",
        "offset_outside_file.pqm",
        st_edit(&pqm, |h| {
            let (a, _) = first_two(h);
            h[&a]["data_offsets"][1] = serde_json::json!(1u64 << 33);
        }),
        &["data offsets", "outside the file"],
    ));
    v.push(case(
        "pqm",
        "pqm",
        "shape_overflow.pqm",
        st_edit(&pqm, |h| {
            let (a, _) = first_two(h);
            h[&a]["shape"] = serde_json::json!([1u64 << 32, 1u64 << 32, 16]);
        }),
        &["byte size overflows"],
    ));
    {
        // A duplicate name cannot be made through a map: splice a second entry for the first key into the text.
        let (h, data) = st_split(&pqm);
        let (a, _) = first_two(&h);
        let text = serde_json::to_string(&h).unwrap();
        let entry = format!("\"{a}\":{}", serde_json::to_string(&h[&a]).unwrap());
        let text = text.replacen('{', &format!("{{{entry},"), 1);
        v.push(case(
            "pqm",
            "pqm",
            "duplicate_tensor_name.pqm",
            st_join(&text, &data),
            &["appears twice"],
        ));
    }
    v.push(case(
        "pqm",
        "pqm",
        "lfs_pointer.pqm",
        LFS.to_vec(),
        &["Git LFS pointer", "git lfs pull"],
    ));
    v.push(case(
        "pqm",
        "pqm",
        "alpha_negative.pqm",
        pqm_manifest(&pqm, |m| m["layers"][0]["output"]["alpha"] = serde_json::json!(-2.5)),
        &["layer 'conv1'", "PACT α = -2.5 must be finite and > 0"],
    ));
    {
        // JSON has no NaN or infinity: an overflowing literal is how a file would try.
        let b = pqm_manifest(&pqm, |m| m["layers"][0]["output"]["alpha"] = serde_json::json!(12345.5));
        let (h, data) = st_split(&b);
        let header = serde_json::to_string(&h).unwrap().replace("12345.5", "1e999");
        v.push(case(
            "pqm",
            "pqm",
            "alpha_infinite.pqm",
            st_join(&header, &data),
            &["manifest is not JSON", "number out of range"],
        ));
    }
    {
        let (h, _) = st_split(&pqm);
        let shift = h.keys().find(|k| k.ends_with(".shift")).unwrap().clone();
        let off = h[&shift]["data_offsets"][0].as_u64().unwrap() as usize;
        let mut b = pqm.clone();
        let base = b.len() - st_split(&pqm).1.len();
        b[base + off] = 0;
        v.push(case(
            "pqm",
            "pqm",
            "shift_zero.pqm",
            b,
            &["requantization shift 0 is out of range"],
        ));
        let bias = h.keys().find(|k| k.ends_with(".bias")).unwrap().clone();
        let off = h[&bias]["data_offsets"][0].as_u64().unwrap() as usize;
        let mut b = pqm.clone();
        b[base + off..base + off + 8].copy_from_slice(&i64::MAX.to_le_bytes());
        v.push(case(
            "pqm",
            "pqm",
            "bias_i64_max.pqm",
            b,
            &["needs a 64-bit accumulator"],
        ));
    }
    v.push(case(
        "pqm",
        "pqm",
        "truncated.pqm",
        pqm[..pqm.len() / 2].to_vec(),
        &["not a valid safetensors file"],
    ));
    v.push(case(
        "pqm",
        "pqm",
        "torch_pickle.pqm",
        [&[0x80u8, 0x02, 0x8a, 0x0a][..], &[0x6c; 60]].concat(),
        &["PyTorch pickle"],
    ));

    // ---- architecture + safetensors weights ----
    let (arch, st) = small_model();
    let with = |weights: &str| arch.replace("\"model.safetensors\"", &format!("\"{weights}\""));
    let pair = |name: &str, weights: Vec<u8>, expect: &[&'static str]| {
        let wname = format!("{name}.safetensors");
        let mut c = case(
            "arch",
            "safetensors",
            &format!("{name}.json"),
            with(&wname).into_bytes(),
            expect,
        );
        c.also.push((wname, weights));
        c
    };
    let (h, _) = st_split(&st);
    let (wa, _) = first_two(&h);
    let wa: &'static str = Box::leak(format!("'{wa}'").into_boxed_str());
    let mut b = st.clone();
    b[..8].copy_from_slice(&(st.len() as u64 + 1).to_le_bytes());
    v.push(pair(
        "header_larger_than_file",
        b,
        &["header length", "larger than the file"],
    ));
    let mut b = st.clone();
    b[..8].copy_from_slice(&(200_000_000u64).to_le_bytes());
    v.push(pair("header_over_cap", b, &["over the 100000000-byte cap"]));
    v.push(pair(
        "overlapping_offsets",
        st_edit(&st, |h| {
            let (a, b) = first_two(h);
            let s = h[&b]["data_offsets"][0].as_u64().unwrap();
            let e = h[&a]["data_offsets"][1].as_u64().unwrap();
            h[&b]["data_offsets"] = serde_json::json!([s - 4, e - 4 + (e - s)]);
            let _ = e;
        }),
        &["overlap"],
    ));
    v.push(pair(
        "offset_outside_file",
        st_edit(&st, |h| {
            let (a, _) = first_two(h);
            h[&a]["data_offsets"] = serde_json::json!([0, 1u64 << 40]);
        }),
        &[wa, "outside the file"],
    ));
    v.push(pair(
        "shape_overflow",
        st_edit(&st, |h| {
            let (a, _) = first_two(h);
            h[&a]["shape"] = serde_json::json!([u64::MAX, 2]);
        }),
        &[wa, "byte size overflows"],
    ));
    {
        let (h, data) = st_split(&st);
        let (a, _) = first_two(&h);
        let text = serde_json::to_string(&h).unwrap();
        let entry = format!("\"{a}\":{}", serde_json::to_string(&h[&a]).unwrap());
        let text = text.replacen('{', &format!("{{{entry},"), 1);
        v.push(pair(
            "duplicate_tensor_name",
            st_join(&text, &data),
            &[wa, "appears twice"],
        ));
    }
    let weight_name = h.keys().find(|k| k.ends_with(".weight")).unwrap().clone();
    let wq: &'static str = Box::leak(format!("'{weight_name}'").into_boxed_str());
    v.push(pair(
        "nan_weight",
        st_set_f32(&st, &weight_name, 3, f32::NAN),
        &[wq, "is NaN", "must be finite"],
    ));
    v.push(pair(
        "inf_weight",
        st_set_f32(&st, &weight_name, 0, f32::NEG_INFINITY),
        &[wq, "is -inf"],
    ));
    let alpha = h.keys().find(|k| k.ends_with(".alpha")).unwrap().clone();
    let aq: &'static str = Box::leak(format!("'{alpha}'").into_boxed_str());
    v.push(pair("alpha_nan", st_set_f32(&st, &alpha, 0, f32::NAN), &[aq, "is NaN"]));
    v.push(pair(
        "alpha_inf",
        st_set_f32(&st, &alpha, 0, f32::INFINITY),
        &[aq, "is inf"],
    ));
    v.push(pair(
        "alpha_zero",
        st_set_f32(&st, &alpha, 0, 0.0),
        &[aq, "which must be > 0"],
    ));
    v.push(pair(
        "integer_dtype",
        st_edit(&st, |h| h[&weight_name]["dtype"] = serde_json::json!("I32")),
        &[wq, "only float tensors"],
    ));
    v.push(pair("lfs_pointer", LFS.to_vec(), &["Git LFS pointer"]));
    v.push(pair(
        "torch_pickle",
        [&[0x80u8, 0x02, 0x8a, 0x0a][..], &[0x6c; 60]].concat(),
        &["PyTorch pickle", "safetensors.torch.save_file"],
    ));
    v.push(pair(
        "truncated",
        st[..st.len() - 5].to_vec(),
        &["'/fc/Gemm.weight'", "outside the file"],
    ));
    v.push(pair(
        "trailing_bytes",
        [&st[..], b"junk"].concat(),
        &["does not fill the file exactly"],
    ));

    // ---- architecture + npz weights ----
    let members = npz_members(&st);
    let npz_pair = |name: &str, weights: Vec<u8>, expect: &[&'static str]| {
        let wname = format!("{name}.npz");
        let mut c = case(
            "arch",
            "npz",
            &format!("{name}.json"),
            with(&wname).into_bytes(),
            expect,
        );
        c.also.push((wname, weights));
        c
    };
    let wi = members
        .iter()
        .position(|(n, _)| n == &format!("{weight_name}.npy"))
        .unwrap();
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = members.clone();
        f(&mut m[wi].1);
        zip_of(&m, false)
    };
    v.push(npz_pair(
        "object_dtype",
        edit(&|b| set_npy_header(b, |h| h.replace("'<f4'", "'|O'"))),
        &[wq, "Python objects", "pickled"],
    ));
    v.push(npz_pair(
        "npy_header_larger_than_member",
        edit(&|b| b[8..10].copy_from_slice(&60000u16.to_le_bytes())),
        &[wq, ".npy header length 60000 is larger"],
    ));
    v.push(npz_pair(
        "shape_overflow",
        edit(&|b| {
            set_npy_header(b, |h| {
                let start = h.find("'shape': (").unwrap() + 10;
                let end = start + h[start..].find(')').unwrap();
                format!("{}18446744073709551615, 3{}", &h[..start], &h[end..])
            })
        }),
        &[wq, "overflows"],
    ));
    v.push(npz_pair(
        "truncated_member",
        edit(&|b| b.truncate(b.len() - 8)),
        &[wq, "truncated"],
    ));
    v.push(npz_pair(
        "nan_weight",
        edit(&|b| {
            let n = b.len();
            b[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        }),
        &[wq, "is NaN"],
    ));
    {
        // The zip writer refuses a duplicate name: write a twin under a name one letter off, then patch it.
        let mut m = members.clone();
        let (orig, twin) = (m[wi].0.clone(), m[wi].0.replace("weight.npy", "weighT.npy"));
        m.push((twin.clone(), m[wi].1.clone()));
        let mut z = zip_of(&m, false);
        for pos in find_all(&z, twin.as_bytes()) {
            z[pos..pos + twin.len()].copy_from_slice(orig.as_bytes());
        }
        v.push(npz_pair("duplicate_member", z, &["appears twice"]));
        let mut m = members.clone();
        m.push(("archive/data.pkl".into(), vec![0x80, 0x02, b'.']));
        v.push(npz_pair("torch_zip_checkpoint", zip_of(&m, true), &["PyTorch pickle"]));
        // A zip bomb: 17 MiB of zeros deflated to a few kilobytes (ratio ~1000:1), as a valid .npy.
        let mut m = members.clone();
        m[wi].1 = npy_bytes(&vec![0.0; 17 << 18], &[17 << 18]);
        v.push(npz_pair(
            "zip_bomb_ratio",
            zip_of(&m, true),
            &[wq, "a ratio over 100:1", "zip bomb"],
        ));
        // A member declaring 4 GiB uncompressed in the central directory.
        let mut z = zip_of(&members, true);
        let cd = find(&z, b"PK\x01\x02").unwrap();
        z[cd + 24..cd + 28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let first = members[0].0.trim_end_matches(".npy").to_string();
        let fq: &'static str = Box::leak(format!("'{first}'").into_boxed_str());
        let _ = fq;
        v.push(npz_pair(
            "zip_declared_4gib",
            z,
            &["more than the 2147483648-byte limit", "zip bomb"],
        ));
        // A stored member whose data runs past the size the central directory declares.
        let mut z = zip_of(&members, false);
        for pos in find_all(&z, b"PK\x01\x02") {
            z[pos + 24..pos + 28].copy_from_slice(&16u32.to_le_bytes());
        }
        v.push(npz_pair("zip_size_lies", z, &["array '"]));
    }
    v.push(npz_pair("lfs_pointer", LFS.to_vec(), &["Git LFS pointer"]));

    // ---- architecture files ----
    let mut c = case("arch", "arch", "lfs_pointer.json", LFS.to_vec(), &["Git LFS pointer"]);
    c.also.push(("model.safetensors".into(), st.clone()));
    v.push(c);
    let arch_case =
        |file: &str, text: String, expect: &[&'static str]| case("arch", "arch", file, text.into_bytes(), expect);
    v.push(arch_case(
        "unknown_key.json",
        arch.replacen("\"version\": 1", "\"version\": 1, \"bogus\": 2", 1),
        &["unknown field `bogus`"],
    ));
    {
        let first_layer = arch.find("{\"name\":").unwrap();
        let end = first_layer + arch[first_layer..].find('\n').unwrap();
        let line = arch[first_layer..end].trim_end_matches(',').to_string();
        v.push(arch_case(
            "duplicate_layer.json",
            arch.replacen(&line, &format!("{line},\n    {line}"), 1),
            &["defined twice"],
        ));
    }
    let mut c = case(
        "arch",
        "arch",
        "binary.json",
        vec![b'{', 0xff, 0xfe, b'}'],
        &["is not UTF-8 text"],
    );
    c.also.clear();
    v.push(c);
    v.push(arch_case(
        "truncated.json",
        arch[..arch.len() / 2].to_string(),
        &["invalid architecture file", "EOF"],
    ));
    v.push(arch_case(
        "huge_input.json",
        arch.replacen("\"shape\":[", "\"shape\":[4294967296,4294967296,", 1)
            .replacen(",1,64]", "]", 1),
        &["input shape", "is larger than 2147483648 values"],
    ));
    v.push(arch_case(
        "alpha_negative.json",
        regex_alpha(&arch, "-1.5"),
        &["alpha -1.5 must be finite and > 0"],
    ));
    v.push(arch_case(
        "alpha_overflow.json",
        regex_alpha(&arch, "1e999"),
        &["invalid architecture file", "number out of range"],
    ));
    v.push(arch_case(
        "weights_missing.json",
        arch.replace("\"model.safetensors\"", "\"no_such_weights.safetensors\""),
        &["no_such_weights.safetensors", "No such file"],
    ));
    v.push(arch_case(
        "weights_is_directory.json",
        arch.replace("\"model.safetensors\"", "\".\""),
        &["is a directory"],
    ));
    v.push(case(
        "arch",
        "arch",
        "syntax_error.toml",
        b"format = \"pact-arch\"\nversion = 1\nweights = \"model.safetensors\"\n[input\nshape = [1, 8, 8]\n".to_vec(),
        &["invalid architecture file", "line 4"],
    ));
    v.push(case(
        "arch",
        "arch",
        "huge_kernel.toml",
        b"format = \"pact-arch\"\nversion = 1\nweights = \"model.safetensors\"\n[input]\nshape = [1, 8, 8]\n\n[[layers]]\nname = \"p\"\nop = \"maxpool\"\nkernel = 4294967296\n".to_vec(),
        &["layer 'p'", "'kernel' value 4294967296 is larger than 65536"],
    ));
    // the arch cases share one valid weights file
    if let Some(c) = v.iter_mut().find(|c| c.dir == "arch" && c.file == "unknown_key.json") {
        c.also.push(("model.safetensors".into(), st.clone()));
    }
    if let Some(c) = v.iter_mut().find(|c| c.dir == "arch" && c.file == "lfs_pointer.json") {
        c.also.clear();
    }

    // ---- ONNX ----
    let seed = onnx_seed();
    let mut m = seed.clone();
    let wname = onnx_weight(&mut m).name.clone();
    let oq: &'static str = Box::leak(format!("'{wname}'").into_boxed_str());
    v.push(case(
        "onnx",
        "onnx",
        "external_data_absolute.onnx",
        onnx_external("/etc/passwd"),
        &[oq, "external file ('/etc/passwd')", "never opened"],
    ));
    v.push(case(
        "onnx",
        "onnx",
        "external_data_dotdot.onnx",
        onnx_external("../../../etc/shadow"),
        &["external file ('../../../etc/shadow')"],
    ));
    let mut c = case(
        "onnx",
        "onnx",
        "external_data_symlink.onnx",
        onnx_external("weights_link.bin"),
        &["external file ('weights_link.bin')"],
    );
    c.links.push(("weights_link.bin".into(), "/etc/passwd".into()));
    v.push(c);
    {
        let mut m = seed.clone();
        let g = m.graph.as_mut().unwrap();
        let dup = g.initializer[0].clone();
        g.initializer.push(dup);
        v.push(case(
            "onnx",
            "onnx",
            "duplicate_initializer.onnx",
            m.encode_to_vec(),
            &["is defined twice"],
        ));
        let mut m = seed.clone();
        onnx_weight(&mut m).raw_data[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        v.push(case(
            "onnx",
            "onnx",
            "nan_weight.onnx",
            m.encode_to_vec(),
            &[oq, "holds NaN", "must be finite"],
        ));
        let mut m = seed.clone();
        onnx_weight(&mut m).raw_data[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
        v.push(case(
            "onnx",
            "onnx",
            "inf_weight.onnx",
            m.encode_to_vec(),
            &[oq, "holds inf"],
        ));
        let mut m = seed.clone();
        onnx_weight(&mut m).dims = vec![i64::MAX, i64::MAX];
        v.push(case(
            "onnx",
            "onnx",
            "shape_overflow.onnx",
            m.encode_to_vec(),
            &[oq, "which overflows"],
        ));
        let mut m = seed.clone();
        onnx_weight(&mut m).raw_data.truncate(12);
        v.push(case(
            "onnx",
            "onnx",
            "raw_data_short.onnx",
            m.encode_to_vec(),
            &[oq, "has 12 bytes of data, but shape"],
        ));
        let mut m = seed.clone();
        onnx_weight(&mut m).dims[0] = -3;
        v.push(case(
            "onnx",
            "onnx",
            "negative_dim.onnx",
            m.encode_to_vec(),
            &[oq, "negative dimension"],
        ));
        let mut m = seed.clone();
        if let Some(alpha) = find_alpha(&mut m) {
            alpha.raw_data = f32::NAN.to_le_bytes().to_vec();
            alpha.float_data.clear();
            v.push(case(
                "onnx",
                "onnx",
                "alpha_nan.onnx",
                m.encode_to_vec(),
                &["the PACT α", "is NaN", "must be finite and > 0"],
            ));
        } else {
            panic!("the mlp fixture has a Clip with an initializer max");
        }
    }
    let b = seed.encode_to_vec();
    v.push(case(
        "onnx",
        "onnx",
        "truncated.onnx",
        b[..b.len() * 2 / 3].to_vec(),
        &["not a valid ONNX model"],
    ));
    v.push(case(
        "onnx",
        "onnx",
        "lfs_pointer.onnx",
        LFS.to_vec(),
        &["Git LFS pointer"],
    ));

    // ---- data sets ----
    let csv = digits_csv(12);
    v.push(case(
        "data",
        "data",
        "lfs_pointer.csv",
        LFS.to_vec(),
        &["Git LFS pointer"],
    ));
    v.push(case(
        "data",
        "data",
        "lfs_pointer-images-idx3-ubyte.gz",
        LFS.to_vec(),
        &["Git LFS pointer"],
    ));
    v.push(case("data", "data", "empty.csv", vec![], &["is empty"]));
    v.push(case(
        "data",
        "data",
        "header_row.csv",
        format!("pixel0,{}", &csv[csv.find(',').unwrap() + 1..]).into_bytes(),
        &["line 1, column 1", "header row"],
    ));
    v.push(case(
        "data",
        "data",
        "pixel_out_of_range.csv",
        csv.replacen(",0,", ",256,", 1).into_bytes(),
        &["line 1", "pixel value 256 is out of range"],
    ));
    v.push(case(
        "data",
        "data",
        "ragged.csv",
        csv.replacen('\n', ",3\n", 3).replacen(",3\n", "\n", 1).into_bytes(),
        &["line 2", "columns, expected 65"],
    ));
    let mut z = gzip(csv.as_bytes());
    let n = z.len();
    z[n - 6] ^= 0xff;
    v.push(case("data", "data", "crc_error.csv.gz", z, &["gzip"]));
    let z = gzip(csv.as_bytes());
    v.push(case(
        "data",
        "data",
        "truncated.csv.gz",
        z[..z.len() / 2].to_vec(),
        &["truncated or corrupt gzip data"],
    ));
    // IDX: images + labels of the first 12 digits.
    let (mut images, mut labels) = (vec![0u8, 0, 8, 3], vec![0u8, 0, 8, 1]);
    for d in [12u32, 8, 8] {
        images.extend(d.to_be_bytes());
    }
    labels.extend(12u32.to_be_bytes());
    for line in csv.lines() {
        let px: Vec<u8> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
        images.extend(&px[..64]);
        labels.push(px[64]);
    }
    let idx = |name: &str, img: Vec<u8>, lab: Vec<u8>, expect: &[&'static str]| {
        let mut c = case("data", "data", &format!("{name}-images-idx3-ubyte"), img, expect);
        c.also.push((format!("{name}-labels-idx1-ubyte"), lab));
        c
    };
    let mut b = images.clone();
    b[4..8].copy_from_slice(&1000u32.to_be_bytes());
    v.push(idx(
        "count_larger_than_file",
        b,
        labels.clone(),
        &["need 64000 data bytes, the file has only 768"],
    ));
    let mut b = images.clone();
    for k in 0..3 {
        b[4 + 4 * k..8 + 4 * k].copy_from_slice(&u32::MAX.to_be_bytes());
    }
    v.push(idx(
        "dims_over_cap",
        b,
        labels.clone(),
        &["exceed the 2147483648-byte limit"],
    ));
    let mut b = images.clone();
    b[2] = 0x0d;
    v.push(idx(
        "float_elements",
        b,
        labels.clone(),
        &["element type 0x0d is not supported"],
    ));
    let mut l = labels.clone();
    l[4..8].copy_from_slice(&11u32.to_be_bytes());
    l.pop();
    v.push(idx(
        "label_count_mismatch",
        images.clone(),
        l,
        &["has 11 labels but", "has 12 images"],
    ));
    let mut c = case(
        "data",
        "data",
        "truncated-images-idx3-ubyte.gz",
        gzip(&images[..images.len() - 10]),
        &["truncated"],
    );
    c.also.push(("truncated-labels-idx1-ubyte.gz".into(), gzip(&labels)));
    v.push(c);
    v.extend(qonnx_cases());
    v
}

/// A Brevitas fixture (tests/fixtures/brevitas) as a self-contained ModelProto (external weights inlined).
fn brevitas(file: &str) -> ModelProto {
    let p = root().join("tests/fixtures/brevitas").join(file);
    ModelProto::decode(&common::inline_external_data(&p)[..]).unwrap()
}

/// A FLOAT initializer.
fn f32_init(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// An integer initializer of ONNX data type `dtype` (INT8 3, UINT8 2).
fn int8_init(name: &str, dims: &[i64], v: &[i64], dtype: i32) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: dtype,
        raw_data: v.iter().map(|&x| x as u8).collect(),
        ..Default::default()
    }
}

/// `m` with input `i` of node `node` replaced by a new initializer `t` (or removed when `t` is `None`).
fn rewire(mut m: ModelProto, node: &str, i: usize, t: Option<TensorProto>) -> ModelProto {
    let g = m.graph.as_mut().unwrap();
    let n = g
        .node
        .iter_mut()
        .find(|n| n.name == node)
        .unwrap_or_else(|| panic!("node {node}"));
    match t {
        Some(t) => {
            n.input[i] = t.name.clone();
            g.initializer.push(t);
        }
        None => n.input[i].clear(),
    }
    m
}

/// Malformed quantizers (issue 13) in the Brevitas W4A4 fixtures, QONNX (node__symbolic_2 quantizes the first
/// ReLU's output, node__symbolic_3 the second conv's weights) and QCDQ.
fn qonnx_cases() -> Vec<Case> {
    let qx = brevitas("bv_cnn_w4a4_pt.qonnx.onnx");
    let (act, wq) = ("node__symbolic_2", "node__symbolic_3");
    let mut v = Vec::new();
    let mut add = |file: &str, m: ModelProto, expect: &[&'static str]| {
        v.push(case("qonnx", "qonnx", file, m.encode_to_vec(), expect));
    };
    add(
        "bitwidth_0.qonnx.onnx",
        rewire(qx.clone(), wq, 3, Some(f32_init("bad_bitwidth", &[], &[0.0]))),
        &["node 'node__symbolic_3' (op Quant)", "bitwidth 0 is out of range"],
    );
    add(
        "act_bitwidth_9.qonnx.onnx",
        rewire(qx.clone(), act, 3, Some(f32_init("bad_bitwidth", &[], &[9.0]))),
        &[
            "node 'node__symbolic_2' (op Quant)",
            "bitwidth 9 is out of range",
            "activations take 1..=8",
        ],
    );
    add(
        "weight_bitwidth_9.qonnx.onnx",
        rewire(qx.clone(), wq, 3, Some(f32_init("bad_bitwidth", &[], &[9.0]))),
        &["'node__symbolic_3'", "bitwidth 9", "at most 8 bits"],
    );
    add(
        "bitwidth_not_scalar.qonnx.onnx",
        rewire(qx.clone(), wq, 3, Some(f32_init("bad_bitwidth", &[2], &[4.0, 4.0]))),
        &["node 'node__symbolic_3'", "has shape [2]; it must be a scalar"],
    );
    add(
        "zero_point_nonzero.qonnx.onnx",
        rewire(qx.clone(), act, 2, Some(f32_init("bad_zero_point", &[], &[3.0]))),
        &[
            "node 'node__symbolic_2'",
            "zero point 'bad_zero_point' is 3",
            "only a zero point of 0",
        ],
    );
    add(
        "scale_missing.qonnx.onnx",
        rewire(qx.clone(), act, 1, None),
        &["node 'node__symbolic_2'", "the scale (input 1) is missing"],
    );
    add(
        "scale_nan.qonnx.onnx",
        rewire(qx.clone(), act, 1, Some(f32_init("bad_scale", &[], &[f32::NAN]))),
        &["node 'node__symbolic_2'", "'bad_scale' holds NaN", "finite and > 0"],
    );
    add(
        "per_channel_shape_mismatch.qonnx.onnx",
        rewire(
            qx.clone(),
            wq,
            1,
            Some(f32_init("bad_scale", &[8, 1, 1, 1], &[0.01; 8])),
        ),
        &["node 'node__symbolic_3'", "shape [8, 1, 1, 1]", "[16, 8, 3, 3]"],
    );
    let mut m = qx.clone();
    m.graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.name == act)
        .unwrap()
        .op_type = "Trunc".into();
    add(
        "trunc.qonnx.onnx",
        m,
        &[
            "node 'node__symbolic_2' (op Trunc)",
            "Trunc is not supported",
            "floor-shift",
        ],
    );
    let mut m = qx.clone();
    let n = m
        .graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.name == act)
        .unwrap();
    n.attribute.iter_mut().find(|a| a.name == "signed").unwrap().i = 1;
    add(
        "signed_activation.qonnx.onnx",
        m,
        &["node 'node__symbolic_2'", "signed activation quantizer"],
    );

    let cd = brevitas("bv_cnn_w4a4_pt.qcdq.onnx");
    let (aq, ac) = (
        "/a1/act_quant/export_handler/QuantizeLinear",
        "/a1/act_quant/export_handler/Clip",
    );
    // The second activation is 8 bits: no Clip after its QuantizeLinear.
    let aq2 = "/a2/act_quant/export_handler/QuantizeLinear";
    let c2dq = "/c2/weight_quant/export_handler/DequantizeLinear";
    add(
        "zero_point_nonzero.qcdq.onnx",
        rewire(cd.clone(), aq, 2, Some(int8_init("bad_zero_point", &[], &[3], 2))),
        &[
            "'/a1/act_quant/export_handler/QuantizeLinear' (op QuantizeLinear)",
            "only a zero point of 0",
        ],
    );
    add(
        "signed_activation.qcdq.onnx",
        rewire(cd.clone(), aq2, 2, Some(int8_init("signed_zero_point", &[], &[0], 3))),
        &["(op DequantizeLinear)", "range is [-128, 127]", "unsigned codes"],
    );
    add(
        "clip_not_power_of_two.qcdq.onnx",
        rewire(cd.clone(), ac, 2, Some(int8_init("bad_max", &[], &[10], 2))),
        &["(op DequantizeLinear)", "[0, 10] is not [0, 2^k − 1]"],
    );
    add(
        "per_axis_mismatch.qcdq.onnx",
        rewire(cd.clone(), c2dq, 1, Some(f32_init("bad_scale", &[5], &[0.01; 5]))),
        &[
            "'/c2/weight_quant/export_handler/DequantizeLinear'",
            "shape [5] does not match axis 1",
            "[16, 8, 3, 3]",
        ],
    );
    add(
        "scale_missing.qcdq.onnx",
        rewire(cd.clone(), c2dq, 1, None),
        &[
            "'/c2/weight_quant/export_handler/DequantizeLinear'",
            "the scale (input 1) is missing",
        ],
    );
    add(
        "scale_nan.qcdq.onnx",
        rewire(cd.clone(), aq, 1, Some(f32_init("bad_scale", &[], &[f32::NAN]))),
        &["(op QuantizeLinear)", "'bad_scale' holds NaN"],
    );
    v
}

/// Rewrite the header of version-1 `.npy` bytes (its text without the padding), re-padded to a multiple of 64.
fn set_npy_header(b: &mut Vec<u8>, f: impl FnOnce(&str) -> String) {
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let old = std::str::from_utf8(&b[10..10 + hlen]).unwrap().trim_end().to_string();
    let mut h = f(&old);
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let data = b[10 + hlen..].to_vec();
    b.truncate(8);
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(data);
}

/// The arch text with the value of its first PACT `alpha` tensor replaced by a number literal.
fn regex_alpha(arch: &str, value: &str) -> String {
    let i = arch.find("\"alpha\":").expect("a pact layer");
    let start = i + "\"alpha\":".len();
    let end = start + arch[start..].find('}').unwrap();
    format!("{}{value}{}", &arch[..start], &arch[end..])
}

/// The initializer holding the max (α) of the first Clip node.
fn find_alpha(m: &mut ModelProto) -> Option<&mut TensorProto> {
    let g = m.graph.as_mut()?;
    let max = g.node.iter().find(|n| n.op_type == "Clip")?.input.get(2)?.clone();
    // An initializer or a Constant node holds it, possibly behind Casts.
    let mut name = max;
    loop {
        if g.initializer.iter().any(|t| t.name == name) {
            return g.initializer.iter_mut().find(|t| t.name == name);
        }
        let n = g.node.iter().position(|n| n.output.first() == Some(&name))?;
        if g.node[n].op_type == "Constant" {
            return g.node[n].attribute.iter_mut().find(|a| a.name == "value")?.t.as_mut();
        }
        name = g.node[n].input.first()?.clone();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    (0..hay.len().saturating_sub(needle.len() - 1))
        .filter(|&i| &hay[i..i + needle.len()] == needle)
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// The tests

/// `EXPECTED`: one line per case, `loader<TAB>path<TAB>fragment|fragment…`.
fn expected_text(cases: &[Case]) -> String {
    let mut s = String::from(
        "# Generated by toolchain/tests/fuzz_corpus.rs (PACT_WRITE_CORPUS=1); loader, file, expected error fragments\n",
    );
    for c in cases {
        s += &format!("{}\t{}/{}\t{}\n", c.loader, c.dir, c.file, c.expect.join("|"));
    }
    s
}

/// Every file the corpus consists of: relative path → bytes (symlinks as `-> target`).
fn files(cases: &[Case]) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for c in cases {
        assert!(
            m.insert(format!("{}/{}", c.dir, c.file), c.bytes.clone()).is_none(),
            "{} twice",
            c.file
        );
        for (n, b) in &c.also {
            if let Some(old) = m.insert(format!("{}/{n}", c.dir), b.clone()) {
                assert_eq!(&old, b, "two cases need different {n}");
            }
        }
        for (n, t) in &c.links {
            m.insert(format!("{}/{n}", c.dir), format!("-> {t}").into_bytes());
        }
    }
    m.insert("EXPECTED".into(), expected_text(cases).into_bytes());
    m
}

fn on_disk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            out.insert(r, format!("-> {}", t.display()).into_bytes());
        } else if ft.is_dir() {
            on_disk(dir, &r, out);
        } else if name != "README.md" {
            out.insert(r, std::fs::read(e.path()).unwrap());
        }
    }
}

#[test]
fn corpus_matches_its_generator() {
    let cases = corpus();
    let want = files(&cases);
    let dir = corpus_dir();
    if std::env::var_os("PACT_WRITE_CORPUS").is_some() {
        for sub in ["pqm", "safetensors", "npz", "arch", "onnx", "data"] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
        }
        for (rel, bytes) in &want {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            match bytes.strip_prefix(b"-> ") {
                Some(t) => std::os::unix::fs::symlink(std::str::from_utf8(t).unwrap(), &p).unwrap(),
                None => std::fs::write(&p, bytes).unwrap(),
            }
        }
        println!(
            "wrote {} files for {} cases to {}",
            want.len(),
            cases.len(),
            dir.display()
        );
    }
    let mut have = BTreeMap::new();
    on_disk(&dir, "", &mut have);
    let missing: Vec<_> = want.keys().filter(|k| !have.contains_key(*k)).collect();
    let extra: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    let differ: Vec<_> = want
        .iter()
        .filter(|(k, b)| have.get(*k).is_some_and(|h| h != *b))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "tests/corpus is not what the generator makes (rerun with PACT_WRITE_CORPUS=1): missing {missing:?}, \
         extra {extra:?}, different {differ:?}"
    );
}

#[test]
fn every_corpus_file_is_rejected_with_a_clear_error() {
    let dir = corpus_dir();
    let expected = std::fs::read_to_string(dir.join("EXPECTED")).unwrap();
    let mut n = 0;
    let mut failures = Vec::new();
    for line in expected.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (loader, rel, frags) = (f[0], f[1], f[2]);
        let path = dir.join(rel);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = catch_unwind(AssertUnwindSafe(|| load(loader, &path)));
        n += 1;
        let msg = match out {
            Err(_) => {
                failures.push(format!("{rel}: PANICKED"));
                continue;
            }
            Ok(Ok(())) => {
                failures.push(format!("{rel}: accepted"));
                continue;
            }
            Ok(Err(m)) => m,
        };
        // One line; names the file (or, for a weights file, the directory it is in); every fragment.
        let names = msg.contains(&name) || msg.contains(&dir.join(rel).parent().unwrap().display().to_string());
        let missing: Vec<&str> = frags.split('|').filter(|fr| !msg.contains(fr)).collect();
        if msg.contains('\n') || !names || !missing.is_empty() {
            failures.push(format!("{rel}: {msg:?} (missing {missing:?}, names the file: {names})"));
        }
        println!("{rel}: {msg}");
    }
    assert!(
        failures.is_empty(),
        "{} of {n} corpus cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 60, "only {n} corpus cases");
    println!("{n} corpus cases rejected with clear errors");
}

/// Size caps, checked on sparse files made here (too large to commit) and on endless devices.
#[test]
fn oversized_inputs_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = |name: &str, len: u64| {
        let p = dir.path().join(name);
        std::fs::File::create(&p).unwrap().set_len(len).unwrap();
        p
    };
    let check = |r: Result<(), String>, frags: &[&str]| {
        let e = r.expect_err("oversized input accepted");
        for f in frags {
            assert!(e.contains(f), "{e:?} lacks {f:?}");
        }
    };
    check(
        load("arch", &sparse("big.json", (1 << 24) + 1)),
        &["big.json", "more than the 16777216-byte limit for an architecture file"],
    );
    check(
        load("pqm", &sparse("big.pqm", (1 << 31) + 1)),
        &["big.pqm", "more than the 2147483648-byte limit for a quantized model"],
    );
    check(
        load("onnx", &sparse("big.onnx", (1 << 31) + 1)),
        &["big.onnx", "more than the 2147483648-byte limit for an ONNX model"],
    );
    let w = sparse("big.safetensors", (1 << 31) + 1);
    let arch = dir.path().join("a.json");
    let text = small_model()
        .0
        .replace("\"model.safetensors\"", &format!("\"{}\"", w.display()));
    std::fs::write(&arch, text).unwrap();
    check(
        load("arch", &arch),
        &[
            "big.safetensors",
            "more than the 2147483648-byte limit for a weights file",
        ],
    );
    // An endless device is read only up to the cap.
    check(
        load("arch", Path::new("/dev/zero")),
        &["/dev/zero", "over 16777216 bytes"],
    );
    check(
        load("data", Path::new("/dev/zero")),
        &["/dev/zero", "IDX element type 0x00 is not supported"],
    );
}
