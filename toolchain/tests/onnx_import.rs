//! ONNX import: graphs built here with the protobuf message types (compared with a naive forward pass written
//! in this file), malformed and unsupported files (the error must name the file, node and problem), and real
//! PyTorch exports (`tests/fixtures/*.onnx`, written by `tests/fixtures/make_onnx_fixture.py`) compared with
//! PyTorch's own outputs.

use pact_toolchain::float::{FloatModel, Op};
use pact_toolchain::forward::float_forward;
use pact_toolchain::import::onnx::load_onnx;
use pact_toolchain::import::onnx::proto::{
    attribute_type as at, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------------------
// Building ONNX models in the test.

fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// The same tensor stored in `float_data` instead of `raw_data`.
fn tensor_float_data(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        float_data: data.to_vec(),
        ..Default::default()
    }
}

fn int_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::INT64,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn a_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INT,
        i,
        ..Default::default()
    }
}

fn a_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INTS,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn a_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::FLOAT,
        f,
        ..Default::default()
    }
}

fn a_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::STRING,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn a_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::TENSOR,
        t: Some(t),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// A float tensor value info; `None` dims are the symbolic batch axis.
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Some(v) => Dimension {
                dim_value: Some(*v),
                dim_param: None,
            },
            None => Dimension {
                dim_value: None,
                dim_param: Some("batch".into()),
            },
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

fn model(
    nodes: Vec<NodeProto>,
    initializer: Vec<TensorProto>,
    input: ValueInfoProto,
    output: &str,
    opset: i64,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        producer_name: "pact-test".into(),
        producer_version: "0".into(),
        graph: Some(GraphProto {
            node: nodes,
            name: "test".into(),
            initializer,
            input: vec![input],
            output: vec![value_info(output, &[None, Some(1)])],
            sparse_initializer: vec![],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
    }
}

fn write_bytes(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn write_model(dir: &tempfile::TempDir, name: &str, m: &ModelProto) -> PathBuf {
    write_bytes(dir, name, &m.encode_to_vec())
}

fn random_vec(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * scale).collect()
}

// ---------------------------------------------------------------------------------------------------------
// The hand-built CNN: Conv → BatchNormalization → Clip(0, α) → Flatten → Gemm, and its naive reference.

const C_IN: usize = 2;
const H: usize = 5;
const W: usize = 5;
const C_OUT: usize = 3;
const K: usize = 3;
const STRIDE: [usize; 2] = [1, 2];
const PADS: [usize; 4] = [1, 1, 0, 1]; // top, left, bottom, right
const OH: usize = H + 1 - K + 1; // stride 1, pads top 1, bottom 0
const OW: usize = (W + 2 - K) / 2 + 1; // pads left 1, right 1
const N_OUT: usize = 4;
const ALPHA: f32 = 0.8;
const EPS: f32 = 1e-3;
const SCALE: f32 = 1.0 / 16.0;

struct CnnParams {
    conv_w: Vec<f32>,
    conv_b: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean: Vec<f32>,
    var: Vec<f32>,
    fc_w: Vec<f32>, // [N_OUT, C_OUT*OH*OW] (transB = 1)
    fc_b: Vec<f32>, // [N_OUT]
    gemm_alpha: f32,
    gemm_beta: f32,
}

fn cnn_params(seed: u64) -> CnnParams {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    CnnParams {
        conv_w: random_vec(&mut rng, C_OUT * C_IN * K * K, 0.5),
        conv_b: random_vec(&mut rng, C_OUT, 0.2),
        gamma: (0..C_OUT).map(|_| rng.gen_range(0.5f32..1.5)).collect(),
        beta: random_vec(&mut rng, C_OUT, 0.3),
        mean: random_vec(&mut rng, C_OUT, 0.2),
        var: (0..C_OUT).map(|_| rng.gen_range(0.3f32..1.3)).collect(),
        fc_w: random_vec(&mut rng, N_OUT * C_OUT * OH * OW, 0.4),
        fc_b: random_vec(&mut rng, N_OUT, 0.2),
        gemm_alpha: 0.5,
        gemm_beta: 2.0,
    }
}

fn cnn_model(p: &CnnParams) -> ModelProto {
    let nodes = vec![
        node(
            "Conv",
            "conv",
            &["image", "conv.w", "conv.b"],
            &["c"],
            vec![
                a_ints("kernel_shape", &[3, 3]),
                a_ints("strides", &[STRIDE[0] as i64, STRIDE[1] as i64]),
                a_ints("pads", &PADS.map(|v| v as i64)),
                a_ints("dilations", &[1, 1]),
                a_int("group", 1),
            ],
        ),
        node(
            "BatchNormalization",
            "bn",
            &["c", "bn.gamma", "bn.beta", "bn.mean", "bn.var"],
            &["b"],
            vec![a_float("epsilon", EPS), a_float("momentum", 0.9)],
        ),
        node(
            "Constant",
            "zero",
            &[],
            &["zero_out"],
            vec![a_tensor("value", tensor("", &[], &[0.0]))],
        ),
        node("Clip", "pact", &["b", "zero_out", "pact.alpha"], &["a"], vec![]),
        node("Flatten", "flatten", &["a"], &["f"], vec![a_int("axis", 1)]),
        node(
            "Gemm",
            "fc",
            &["f", "fc.w", "fc.b"],
            &["logits"],
            vec![
                a_float("alpha", p.gemm_alpha),
                a_float("beta", p.gemm_beta),
                a_int("transB", 1),
            ],
        ),
    ];
    let inits = vec![
        tensor("conv.w", &[C_OUT as i64, C_IN as i64, 3, 3], &p.conv_w),
        tensor_float_data("conv.b", &[C_OUT as i64], &p.conv_b),
        tensor("bn.gamma", &[C_OUT as i64], &p.gamma),
        tensor("bn.beta", &[C_OUT as i64], &p.beta),
        tensor("bn.mean", &[C_OUT as i64], &p.mean),
        tensor("bn.var", &[C_OUT as i64], &p.var),
        tensor("pact.alpha", &[], &[ALPHA]),
        tensor("fc.w", &[N_OUT as i64, (C_OUT * OH * OW) as i64], &p.fc_w),
        tensor("fc.b", &[1, N_OUT as i64], &p.fc_b),
    ];
    let input = value_info("image", &[None, Some(C_IN as i64), Some(H as i64), Some(W as i64)]);
    model(nodes, inits, input, "logits", 13)
}

/// The CNN computed directly with nested loops (f64).
fn cnn_reference(p: &CnnParams, pixels: &[u8]) -> Vec<f32> {
    let x: Vec<f64> = pixels.iter().map(|&v| v as f64 * SCALE as f64).collect();
    let mut act = vec![0.0f64; C_OUT * OH * OW];
    for co in 0..C_OUT {
        for oy in 0..OH {
            for ox in 0..OW {
                let mut s = p.conv_b[co] as f64;
                for ci in 0..C_IN {
                    for ky in 0..K {
                        for kx in 0..K {
                            let iy = (oy * STRIDE[0] + ky) as isize - PADS[0] as isize;
                            let ix = (ox * STRIDE[1] + kx) as isize - PADS[1] as isize;
                            if iy < 0 || ix < 0 || iy >= H as isize || ix >= W as isize {
                                continue;
                            }
                            let w = p.conv_w[((co * C_IN + ci) * K + ky) * K + kx] as f64;
                            s += w * x[(ci * H + iy as usize) * W + ix as usize];
                        }
                    }
                }
                // BatchNorm, then clip(·, 0, α).
                let bn = (s - p.mean[co] as f64) / (p.var[co] as f64 + EPS as f64).sqrt() * p.gamma[co] as f64
                    + p.beta[co] as f64;
                act[(co * OH + oy) * OW + ox] = bn.clamp(0.0, ALPHA as f64);
            }
        }
    }
    (0..N_OUT)
        .map(|o| {
            let dot: f64 = (0..act.len()).map(|i| p.fc_w[o * act.len() + i] as f64 * act[i]).sum();
            (p.gemm_alpha as f64 * dot + p.gemm_beta as f64 * p.fc_b[o] as f64) as f32
        })
        .collect()
}

/// Relative comparison of float paths: |a − b| ≤ 1e-4 · max(|b|, 1) for each value.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * w.abs().max(1.0),
            "{what}: output {i}: got {g}, want {w} (all: {got:?} vs {want:?})"
        );
    }
}

fn kinds(m: &FloatModel) -> Vec<&'static str> {
    m.nodes.iter().map(|n| n.op.kind()).collect()
}

#[test]
fn hand_built_cnn_matches_naive_forward() {
    let seed = 7;
    eprintln!("seed {seed}");
    let p = cnn_params(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(&dir, "cnn.onnx", &cnn_model(&p));
    let m = load_onnx(&path, SCALE).unwrap();
    assert_eq!(kinds(&m), ["input", "conv2d", "batchnorm", "pact", "flatten", "dense"]);
    assert_eq!(m.input.shape, [C_IN, H, W]);
    assert_eq!(m.input.scale, SCALE);
    match &m.nodes[1].op {
        Op::Conv2d {
            stride,
            pad,
            weight,
            bias,
        } => {
            assert_eq!(*stride, STRIDE);
            assert_eq!(*pad, PADS);
            assert_eq!(weight.shape, [C_OUT, C_IN, K, K]);
            assert_eq!(bias.as_deref(), Some(&p.conv_b[..]));
        }
        other => panic!("expected conv2d, got {other:?}"),
    }
    assert_eq!(m.nodes[3].op, Op::Pact { alpha: ALPHA });
    assert_eq!(m.nodes[3].name, "pact");
    assert_eq!(m.shapes().unwrap().last().unwrap(), &vec![N_OUT]);

    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let mut clipped = 0;
    for _ in 0..8 {
        let pixels: Vec<u8> = (0..C_IN * H * W).map(|_| rng.gen_range(0..=16)).collect();
        let got = float_forward(&m, &pixels).unwrap();
        assert_close(&got, &cnn_reference(&p, &pixels), "hand-built CNN");
        let trace = pact_toolchain::forward::float_trace(&m, &pixels).unwrap();
        clipped += trace[3].iter().filter(|&&v| v == ALPHA).count();
    }
    assert!(clipped > 0, "the test inputs never reach α: the clip is not exercised");
}

/// Opset 10 Clip (attributes), Gemm with transB = 0 and a scalar C, Reshape to [-1, K], Identity, Dropout,
/// Cast, a padded MaxPool, AveragePool, a dead branch, and a MatMul + Add bias.
#[test]
fn hand_built_variants_import() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let conv_w = random_vec(&mut rng, 2 * 4 * 4, 0.5);
    let fc_w = random_vec(&mut rng, 8 * 3, 0.5); // [in 8, out 3] for transB = 0
    let mm_w = random_vec(&mut rng, 3 * 2, 0.5); // [in 3, out 2]
    let mm_b = random_vec(&mut rng, 2, 0.5);
    let nodes = vec![
        node(
            "Conv",
            "conv",
            &["x", "w"],
            &["c"],
            vec![a_ints("kernel_shape", &[4, 4]), a_string("auto_pad", "VALID")],
        ),
        node("Identity", "id", &["c"], &["c2"], vec![]),
        node("Dropout", "drop", &["c2"], &["c3"], vec![a_float("ratio", 0.5)]),
        node(
            "Clip",
            "clip",
            &["c3"],
            &["r"],
            vec![a_float("min", 0.0), a_float("max", 2.0)],
        ),
        node("Relu", "dead", &["c"], &["unused"], vec![]),
        node(
            "MaxPool",
            "maxpool",
            &["r"],
            &["m"],
            vec![
                a_ints("kernel_shape", &[2, 2]),
                a_ints("strides", &[1, 1]),
                a_ints("pads", &[1, 1, 0, 0]),
            ],
        ),
        node(
            "AveragePool",
            "avgpool",
            &["m"],
            &["ap"],
            vec![a_ints("kernel_shape", &[2, 2]), a_ints("strides", &[2, 2])],
        ),
        node("Reshape", "reshape", &["ap", "shape"], &["flat"], vec![]),
        node(
            "Gemm",
            "fc",
            &["flat", "fc.w", "fc.c"],
            &["g"],
            vec![a_float("beta", 0.5)],
        ),
        node("Clip", "relu_clip", &["g"], &["g2"], vec![a_float("min", 0.0)]),
        node("MatMul", "mm", &["g2", "mm.w"], &["mmo"], vec![]),
        node("Add", "mm_bias", &["mm.b", "mmo"], &["logits"], vec![]),
    ];
    let inits = vec![
        tensor("w", &[2, 1, 4, 4], &conv_w),
        int_tensor("shape", &[2], &[-1, 8]),
        tensor("fc.w", &[8, 3], &fc_w),
        tensor("fc.c", &[], &[0.25]),
        tensor("mm.w", &[3, 2], &mm_w),
        tensor_float_data("mm.b", &[2], &mm_b),
    ];
    // 7×7 → conv 4×4 → 4×4 (×2 channels) → maxpool with pads top/left → 4×4 → avgpool → 2×2 → 8.
    let m = model(
        nodes,
        inits,
        value_info("x", &[Some(1), Some(1), Some(7), Some(7)]),
        "logits",
        10,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(&dir, "variants.onnx", &m);
    let fm = load_onnx(&path, 1.0 / 255.0).unwrap();
    assert_eq!(
        kinds(&fm),
        ["input", "conv2d", "pact", "maxpool", "avgpool", "flatten", "dense", "relu", "dense"]
    );
    assert_eq!(fm.nodes[2].op, Op::Pact { alpha: 2.0 });
    assert_eq!(
        fm.nodes[3].op,
        Op::MaxPool {
            kernel: [2, 2],
            stride: [1, 1],
            pad: [1, 1, 0, 0]
        }
    );
    assert_eq!(
        fm.nodes[4].op,
        Op::AvgPool {
            kernel: [2, 2],
            stride: [2, 2]
        }
    );
    match &fm.nodes[6].op {
        Op::Dense { weight, bias } => {
            assert_eq!(weight.shape, [3, 8]);
            // transB = 0: B is [in, out], the dense weight is its transpose.
            for o in 0..3 {
                for i in 0..8 {
                    assert_eq!(weight.data[o * 8 + i], fc_w[i * 3 + o]);
                }
            }
            assert_eq!(bias.as_deref(), Some(&[0.125f32; 3][..]));
        }
        other => panic!("expected dense, got {other:?}"),
    }
    match &fm.nodes[8].op {
        Op::Dense { weight, bias } => {
            assert_eq!(weight.shape, [2, 3]);
            assert_eq!(weight.data[3 + 2], mm_w[2 * 2 + 1]);
            assert_eq!(bias.as_deref(), Some(&mm_b[..]));
        }
        other => panic!("expected dense, got {other:?}"),
    }
    assert_eq!(fm.nodes[8].inputs, [7]);
    let pixels: Vec<u8> = (0..49).map(|i| (i * 5) as u8).collect();
    assert_eq!(float_forward(&fm, &pixels).unwrap().len(), 2);
}

/// A [N, F] input becomes C = 1, H = 1, W = F followed by a Flatten node.
#[test]
fn flat_input_gets_a_flatten_node() {
    let nodes = vec![node(
        "Gemm",
        "fc",
        &["x", "w", "b"],
        &["logits"],
        vec![a_int("transB", 1)],
    )];
    let inits = vec![
        tensor("w", &[2, 3], &[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]),
        tensor("b", &[2], &[0.5, -0.5]),
    ];
    let m = model(nodes, inits, value_info("x", &[None, Some(3)]), "logits", 13);
    let dir = tempfile::tempdir().unwrap();
    let fm = load_onnx(&write_model(&dir, "flat.onnx", &m), 1.0).unwrap();
    assert_eq!(fm.input.shape, [1, 1, 3]);
    assert_eq!(kinds(&fm), ["input", "flatten", "dense"]);
    assert_close(&float_forward(&fm, &[1, 2, 3]).unwrap(), &[14.5, -0.5], "flat input");
}

// ---------------------------------------------------------------------------------------------------------
// Errors: each names the file and what is wrong, on one line; nothing panics.

fn import_err(dir: &tempfile::TempDir, name: &str, m: &ModelProto) -> String {
    let path = write_model(dir, name, m);
    let e = load_onnx(&path, SCALE).expect_err("import should fail").to_string();
    assert!(e.contains(name), "error does not name the file: {e}");
    assert!(!e.contains('\n'), "error is not one line: {e}");
    e
}

fn assert_contains(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "error {e:?} does not contain {p:?}");
    }
}

fn cnn() -> ModelProto {
    cnn_model(&cnn_params(3))
}

fn graph(m: &mut ModelProto) -> &mut GraphProto {
    m.graph.as_mut().unwrap()
}

fn init<'m>(m: &'m mut ModelProto, name: &str) -> &'m mut TensorProto {
    graph(m).initializer.iter_mut().find(|t| t.name == name).unwrap()
}

#[test]
fn truncated_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = cnn().encode_to_vec();
    let path = write_bytes(&dir, "truncated.onnx", &bytes[..bytes.len() / 2]);
    let e = load_onnx(&path, SCALE).unwrap_err().to_string();
    assert_contains(&e, &["truncated.onnx", "not a valid ONNX model"]);
    assert!(!e.contains('\n'));
    // Every strict prefix fails cleanly.
    for len in 0..bytes.len() {
        let path = write_bytes(&dir, "prefix.onnx", &bytes[..len]);
        let r = load_onnx(&path, SCALE);
        assert!(r.is_err(), "prefix of {len} of {} bytes imported", bytes.len());
        assert!(r.unwrap_err().to_string().contains("prefix.onnx"));
    }
}

#[test]
fn random_bytes_are_rejected_and_corruption_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let seed = 42;
    eprintln!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let path = dir.path().join("random.onnx");
    for _ in 0..300 {
        let n = rng.gen_range(0..2000);
        let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        std::fs::write(&path, &bytes).unwrap();
        let e = load_onnx(&path, SCALE).expect_err("random bytes imported").to_string();
        assert!(e.contains("random.onnx") && !e.contains('\n'), "{e}");
    }
    let e = load_onnx(&path, SCALE).unwrap_err().to_string();
    eprintln!("example: {e}");
    // Flipped bytes in a valid model: an error or a valid model, never a panic.
    let good = cnn().encode_to_vec();
    let mut ok = 0;
    for _ in 0..1000 {
        let mut bytes = good.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..bytes.len());
            bytes[i] = rng.gen();
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(m) = load_onnx(&path, SCALE) {
            m.shapes().unwrap();
            ok += 1;
        }
    }
    eprintln!("{ok} of 1000 corrupted models still imported (flips in weights)");
}

#[test]
fn lfs_pointer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_bytes(
        &dir,
        "lfs.onnx",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
    );
    assert_contains(
        &load_onnx(&path, SCALE).unwrap_err().to_string(),
        &["lfs.onnx", "Git LFS pointer"],
    );
}

#[test]
fn unsupported_op_names_node_op_and_supported_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = cnn();
    let g = graph(&mut m);
    g.node[3] = node("Sigmoid", "act/Sigmoid", &["b"], &["a"], vec![]);
    let e = import_err(&dir, "sigmoid.onnx", &m);
    assert_contains(
        &e,
        &[
            "node 'act/Sigmoid' (op Sigmoid)",
            "not supported",
            "Conv",
            "Gemm",
            "BatchNormalization",
        ],
    );
}

#[test]
fn grouped_conv_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = cnn();
    graph(&mut m).node[0].attribute.retain(|a| a.name != "group");
    graph(&mut m).node[0].attribute.push(a_int("group", 2));
    let e = import_err(&dir, "groups.onnx", &m);
    assert_contains(&e, &["node 'conv' (op Conv)", "group = 2", "only group = 1"]);
}

#[test]
fn external_data_must_exist_beside_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = cnn();
    let t = init(&mut m, "conv.w");
    t.raw_data.clear();
    t.data_location = 1;
    t.external_data = vec![
        StringStringEntryProto {
            key: "location".into(),
            value: "weights.bin".into(),
        },
        StringStringEntryProto {
            key: "offset".into(),
            value: "0".into(),
        },
    ];
    // weights.bin does not exist: the error names the tensor and the file (reading external data is tested
    // on the Brevitas fixtures in qonnx_import.rs, refusals of hostile locations in the fuzz corpus).
    let e = import_err(&dir, "external.onnx", &m);
    assert_contains(
        &e,
        &["tensor 'conv.w'", "external file ('weights.bin')", "cannot be read"],
    );
}

#[test]
fn nan_weight_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = cnn();
    let mut w = cnn_params(3).fc_w;
    w[5] = f32::NAN;
    *init(&mut m, "fc.w") = tensor("fc.w", &[N_OUT as i64, (C_OUT * OH * OW) as i64], &w);
    let e = import_err(&dir, "nan.onnx", &m);
    assert_contains(
        &e,
        &["node 'fc' (op Gemm)", "tensor 'fc.w'", "NaN at index 5", "finite"],
    );
    // Infinity in a BatchNorm statistic too.
    let mut m = cnn();
    *init(&mut m, "bn.var") = tensor("bn.var", &[C_OUT as i64], &[1.0, f32::INFINITY, 1.0]);
    assert_contains(
        &import_err(&dir, "inf.onnx", &m),
        &["tensor 'bn.var'", "inf at index 1"],
    );
}

#[test]
fn clip_with_nonzero_min_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = cnn();
    graph(&mut m).node[2] = node(
        "Constant",
        "zero",
        &[],
        &["zero_out"],
        vec![a_float("value_float", 0.5)],
    );
    let e = import_err(&dir, "clipmin.onnx", &m);
    assert_contains(
        &e,
        &["node 'pact' (op Clip)", "min is 0.5", "only clip(x, 0, α) (PACT)"],
    );
    // No lower bound at all.
    let mut m = cnn();
    graph(&mut m).node[3].input = vec!["b".into(), "".into(), "pact.alpha".into()];
    assert_contains(
        &import_err(&dir, "clipnomin.onnx", &m),
        &["node 'pact' (op Clip)", "no lower bound"],
    );
    // A non-positive α.
    let mut m = cnn();
    *init(&mut m, "pact.alpha") = tensor("pact.alpha", &[], &[-1.0]);
    assert_contains(
        &import_err(&dir, "clipalpha.onnx", &m),
        &["node 'pact' (op Clip)", "max (the PACT α) is -1"],
    );
}

#[test]
fn other_malformed_or_unsupported_graphs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(&mut ModelProto);
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        ("nograph", |m| m.graph = None, &["has no graph"]),
        ("noopset", |m| m.opset_import.clear(), &["no opset version"]),
        (
            "rawsize",
            |m| init(m, "conv.w").raw_data.truncate(8),
            &["tensor 'conv.w' has 8 bytes", "needs 216"],
        ),
        (
            "int8",
            |m| init(m, "conv.b").data_type = 3,
            &["tensor 'conv.b'", "INT8"],
        ),
        (
            "samepad",
            |m| graph(m).node[0].attribute.push(a_string("auto_pad", "SAME_UPPER")),
            &["auto_pad = 'SAME_UPPER'"],
        ),
        (
            "dilation",
            |m| graph(m).node[0].attribute[3] = a_ints("dilations", &[2, 2]),
            &["dilations = [2, 2]"],
        ),
        (
            "conv1d",
            |m| *init(m, "conv.w") = tensor("conv.w", &[3, 2, 3], &[0.0; 18]),
            &["only 2-D convolutions"],
        ),
        (
            "unknownattr",
            |m| graph(m).node[0].attribute.push(a_int("foo", 1)),
            &["attribute 'foo' is not supported"],
        ),
        (
            "bntrain",
            |m| graph(m).node[1].attribute.push(a_int("training_mode", 1)),
            &["(op BatchNormalization)", "training", "PRESERVE"],
        ),
        (
            "bnoutputs",
            |m| graph(m).node[1].output.push("running_mean_out".into()),
            &["training form", "2 used outputs"],
        ),
        (
            "transa",
            |m| graph(m).node[5].attribute.push(a_int("transA", 1)),
            &["(op Gemm)", "transA = 1"],
        ),
        (
            "flataxis",
            |m| graph(m).node[4].attribute[0] = a_int("axis", 2),
            &["(op Flatten)", "axis = 2"],
        ),
        (
            "weightact",
            |m| graph(m).node[5].input[1] = "a".into(),
            &["(op Gemm)", "must be a constant"],
        ),
        (
            "unknowntensor",
            |m| graph(m).node[1].input[0] = "nope".into(),
            &["tensor 'nope' is neither"],
        ),
        (
            "twoinputs",
            |m| graph(m).input.push(value_info("y", &[None, Some(3)])),
            &["2 inputs", "'image', 'y'"],
        ),
        (
            "badinputrank",
            |m| graph(m).input[0] = value_info("image", &[None, Some(2), Some(5)]),
            &["rank 3"],
        ),
        (
            "fixedbatch",
            |m| graph(m).input[0] = value_info("image", &[Some(8), Some(2), Some(5), Some(5)]),
            &["fixed batch size of 8"],
        ),
        (
            "twooutputs",
            |m| graph(m).output.push(value_info("a", &[None, Some(1)])),
            &["2 outputs"],
        ),
        (
            "outputmissing",
            |m| graph(m).output[0].name = "nothing".into(),
            &["graph output: tensor 'nothing' is neither"],
        ),
        (
            "domain",
            |m| graph(m).node[3].domain = "com.microsoft".into(),
            &["op domain 'com.microsoft'"],
        ),
        (
            "dup",
            |m| graph(m).node[1].output[0] = "c".into(),
            &["tensor 'c' is produced twice"],
        ),
        (
            "negdim",
            |m| init(m, "fc.b").dims = vec![-1, 4],
            &["negative dimension"],
        ),
        (
            "bnsize",
            |m| *init(m, "bn.mean") = tensor("bn.mean", &[2], &[0.0, 0.0]),
            &["running mean", "has 2 values, expected 3"],
        ),
        (
            "channels",
            |m| *init(m, "conv.w") = tensor("conv.w", &[3, 1, 3, 3], &[0.1; 27]),
            &["channels.onnx: layer 'conv': input [2, 5, 5] does not match weight"],
        ),
        (
            "gemmsize",
            |m| *init(m, "fc.b") = tensor("fc.b", &[3], &[0.0; 3]),
            &["bias 'fc.b' has 3 values, expected 4"],
        ),
    ];
    for (name, edit, parts) in cases {
        let mut m = cnn();
        edit(&mut m);
        let e = import_err(&dir, &format!("{name}.onnx"), &m);
        eprintln!("{name}: {e}");
        assert_contains(&e, parts);
    }
}

#[test]
fn unsupported_pool_and_reshape_forms_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mk = |n: NodeProto, extra: Vec<TensorProto>| {
        let nodes = vec![n, node("Flatten", "flatten", &["p"], &["logits"], vec![])];
        model(
            nodes,
            extra,
            value_info("x", &[None, Some(1), Some(5), Some(5)]),
            "logits",
            13,
        )
    };
    let pool = |op: &str, attrs: Vec<AttributeProto>| node(op, "pool", &["x"], &["p"], attrs);
    let k2 = || a_ints("kernel_shape", &[2, 2]);
    let s2 = || a_ints("strides", &[2, 2]);
    let cases: Vec<(&str, ModelProto, &[&str])> = vec![
        (
            "avgpad",
            mk(pool("AveragePool", vec![k2(), a_ints("pads", &[1, 1, 1, 1])]), vec![]),
            &["(op AveragePool)", "without padding"],
        ),
        (
            "ceil",
            mk(pool("MaxPool", vec![k2(), s2(), a_int("ceil_mode", 1)]), vec![]),
            &["(op MaxPool)", "ceil_mode = 1 changes the output size"],
        ),
        (
            "nokernel",
            mk(pool("MaxPool", vec![s2()]), vec![]),
            &["kernel_shape is missing"],
        ),
        (
            "pooldil",
            mk(pool("MaxPool", vec![k2(), a_ints("dilations", &[2, 2])]), vec![]),
            &["dilations = [2, 2]"],
        ),
        (
            "indices",
            mk(node("MaxPool", "pool", &["x"], &["p", "idx"], vec![k2()]), vec![]),
            &["output 1 ('idx') is not supported"],
        ),
        (
            "reshape",
            mk(
                node("Reshape", "rs", &["x", "s"], &["p"], vec![]),
                vec![int_tensor("s", &[3], &[-1, 5, 5])],
            ),
            &["(op Reshape)", "reshape to [-1, 5, 5] is not supported"],
        ),
        (
            "reshapeval",
            mk(
                node("Reshape", "rs", &["x", "s"], &["p"], vec![]),
                vec![int_tensor("s", &[2], &[-1, 24])],
            ),
            &["reshape to [-1, 24]"],
        ),
        (
            "addconst",
            mk(
                node("Add", "add", &["x", "c"], &["p"], vec![]),
                vec![tensor("c", &[1], &[1.0])],
            ),
            &["(op Add)", "only supported as the bias of the MatMul, Gemm or Conv"],
        ),
    ];
    for (name, m, parts) in cases {
        let e = import_err(&dir, &format!("{name}.onnx"), &m);
        eprintln!("{name}: {e}");
        assert_contains(&e, parts);
    }
    // ceil_mode = 1 is accepted where it changes nothing (5 wide, kernel 1, stride 1).
    let m = mk(
        pool("MaxPool", vec![a_ints("kernel_shape", &[1, 1]), a_int("ceil_mode", 1)]),
        vec![],
    );
    load_onnx(&write_model(&dir, "ceilok.onnx", &m), SCALE).unwrap();
}

#[test]
fn bias_add_after_a_read_of_the_matmul_output_is_rejected() {
    // y = x·W; z = Relu(y); out = (y + b) + z: the bias cannot be fused into y's node.
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![
        node("MatMul", "mm", &["x", "w"], &["y"], vec![]),
        node("Relu", "relu", &["y"], &["z"], vec![]),
        node("Add", "bias", &["y", "b"], &["yb"], vec![]),
        node("Add", "sum", &["yb", "z"], &["logits"], vec![]),
    ];
    let inits = vec![
        tensor("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0]),
        tensor("b", &[2], &[1.0, 2.0]),
    ];
    let m = model(nodes, inits, value_info("x", &[None, Some(2)]), "logits", 13);
    let e = import_err(&dir, "readbefore.onnx", &m);
    assert_contains(&e, &["node 'bias' (op Add)", "'mm' is also read by node 'relu'"]);
    // Read after the fusion.
    let nodes = vec![
        node("MatMul", "mm", &["x", "w"], &["y"], vec![]),
        node("Add", "bias", &["y", "b"], &["yb"], vec![]),
        node("Add", "sum", &["yb", "y"], &["logits"], vec![]),
    ];
    let inits = vec![
        tensor("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0]),
        tensor("b", &[2], &[1.0, 2.0]),
    ];
    let m = model(nodes, inits, value_info("x", &[None, Some(2)]), "logits", 13);
    let e = import_err(&dir, "readafter.onnx", &m);
    assert_contains(
        &e,
        &[
            "node 'sum' (op Add)",
            "tensor 'y' is read after its bias was fused by Add node 'bias'",
        ],
    );
}

#[test]
fn missing_file_and_bad_scale_are_errors() {
    let e = load_onnx(Path::new("/nonexistent/model.onnx"), SCALE)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/model.onnx"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(&dir, "ok.onnx", &cnn());
    assert!(load_onnx(&path, 0.0).unwrap_err().to_string().contains("input scale"));
    assert!(load_onnx(&path, f32::NAN).is_err());
}

// ---------------------------------------------------------------------------------------------------------
// Real PyTorch exports.

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

struct Expected {
    input_scale: f32,
    alphas: Vec<f32>,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<f32>>,
}

fn expected(name: &str) -> Expected {
    let path = fixture(&format!("{name}_expected.json"));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    Expected {
        input_scale: j["input_scale"].as_f64().unwrap() as f32,
        alphas: floats(&j["pact_alphas"]),
        inputs: j["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|img| {
                img.as_array()
                    .unwrap()
                    .iter()
                    .map(|p| u8::try_from(p.as_u64().unwrap()).unwrap())
                    .collect()
            })
            .collect(),
        outputs: j["outputs"].as_array().unwrap().iter().map(floats).collect(),
    }
}

/// Import a fixture and compare pact's float forward pass with PyTorch's outputs.
fn check_fixture(name: &str) -> FloatModel {
    let exp = expected(name);
    let m = load_onnx(&fixture(&format!("{name}.onnx")), exp.input_scale).unwrap();
    assert_eq!(m.input.scale, exp.input_scale);
    let alphas: Vec<f32> = m
        .nodes
        .iter()
        .filter_map(|n| {
            if let Op::Pact { alpha } = n.op {
                Some(alpha)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(alphas, exp.alphas, "{name}: PACT alphas");
    assert!(!exp.inputs.is_empty());
    for (img, want) in exp.inputs.iter().zip(&exp.outputs) {
        assert_close(&float_forward(&m, img).unwrap(), want, name);
    }
    m
}

#[test]
fn pytorch_cnn_fixture_matches_torch() {
    let m = check_fixture("pact_cnn_digits");
    assert_eq!(m.input.shape, [1, 8, 8]);
    assert_eq!(
        kinds(&m),
        ["input", "conv2d", "batchnorm", "pact", "maxpool", "flatten", "dense"]
    );
    assert_eq!(m.nodes[3].op, Op::Pact { alpha: 0.75 });
    match &m.nodes[2].op {
        Op::BatchNorm(bn) => {
            assert_eq!(bn.gamma.len(), 4);
            assert!((bn.eps - 1e-3).abs() < 1e-9, "eps {}", bn.eps);
            assert!(
                bn.mean.iter().any(|&v| v != 0.0) && bn.var.iter().any(|&v| v != 1.0),
                "BN statistics look untrained"
            );
        }
        other => panic!("BatchNorm was folded or lost: {other:?}"),
    }
}

#[test]
fn pytorch_residual_fixture_matches_torch() {
    let m = check_fixture("pact_resnet_digits");
    assert_eq!(
        kinds(&m),
        [
            "input",
            "conv2d",
            "batchnorm",
            "pact",
            "conv2d",
            "batchnorm",
            "add",
            "relu",
            "avgpool",
            "global_avgpool",
            "dense"
        ]
    );
    assert_eq!(m.nodes[6].inputs, [5, 3], "residual Add reads BN2 and the PACT output");
}

#[test]
fn pytorch_matmul_add_fixture_matches_torch() {
    let m = check_fixture("pact_mlp_digits");
    assert_eq!(m.input.shape, [1, 1, 64]);
    assert_eq!(kinds(&m), ["input", "flatten", "dense", "pact", "dense"]);
    match &m.nodes[2].op {
        Op::Dense { weight, bias } => {
            assert_eq!(weight.shape, [16, 64]);
            assert!(bias.is_some(), "the Add bias was not fused");
        }
        other => panic!("expected dense, got {other:?}"),
    }
}
