//! The architecture + state-dict float model format: round trips through `save_float`/`load_arch` (JSON and
//! TOML), hand-written files with safetensors and npz weights, and every malformed input rejected with a
//! one-line message naming the file and the culprit.

use ndarray::{Array2, ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::NpzWriter;
use pact_toolchain::float::{BatchNorm, FloatModel, InputSpec, Node, Op, Tensor};
use pact_toolchain::import::statedict::{load_arch, save_float, SUPPORTED_OPS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn rand_tensor(rng: &mut ChaCha8Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape.to_vec(), (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()).unwrap()
}

fn rand_vec(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

fn bn(rng: &mut ChaCha8Rng, c: usize, eps: f32) -> Op {
    Op::BatchNorm(BatchNorm {
        gamma: rand_vec(rng, c, 0.5, 1.5),
        beta: rand_vec(rng, c, -0.5, 0.5),
        mean: rand_vec(rng, c, -0.2, 0.2),
        var: rand_vec(rng, c, 0.1, 2.0),
        eps,
    })
}

fn node(name: &str, op: Op, inputs: &[usize]) -> Node {
    Node {
        name: name.into(),
        op,
        inputs: inputs.to_vec(),
    }
}

/// A model using every op kind, with branches, asymmetric windows and awkward floats.
fn every_op_model() -> FloatModel {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let nodes = vec![
        node("input", Op::Input, &[]),
        node(
            "conv1",
            Op::Conv2d {
                weight: rand_tensor(&mut rng, &[4, 1, 3, 3]),
                bias: Some(rand_vec(&mut rng, 4, -1.0, 1.0)),
                stride: [1, 1],
                pad: [1, 1, 1, 1],
            },
            &[0],
        ),
        node("bn1", bn(&mut rng, 4, 1e-5), &[1]),
        node("act1", Op::Pact { alpha: 3.7 }, &[2]),
        node(
            "conv2",
            Op::Conv2d {
                weight: rand_tensor(&mut rng, &[4, 4, 3, 3]),
                bias: None,
                stride: [1, 1],
                pad: [1, 1, 1, 1],
            },
            &[3],
        ),
        node("bn2", bn(&mut rng, 4, 1e-3), &[4]),
        node("res", Op::Add, &[3, 5]),
        node("relu", Op::Relu, &[6]),
        node(
            "pool1",
            Op::MaxPool {
                kernel: [2, 2],
                stride: [2, 2],
                pad: [0; 4],
            },
            &[7],
        ), // [4,4,4]
        node(
            "pool2",
            Op::MaxPool {
                kernel: [2, 3],
                stride: [1, 2],
                pad: [0, 1, 1, 0],
            },
            &[8],
        ), // [4,4,2]
        node(
            "avg",
            Op::AvgPool {
                kernel: [2, 1],
                stride: [2, 1],
            },
            &[9],
        ), // [4,2,2]
        node("flat", Op::Flatten, &[10]),
        node(
            "fc",
            Op::Dense {
                weight: rand_tensor(&mut rng, &[10, 16]),
                bias: Some(rand_vec(&mut rng, 10, -1.0, 1.0)),
            },
            &[11],
        ),
        node(
            "conv3",
            Op::Conv2d {
                weight: rand_tensor(&mut rng, &[3, 4, 2, 2]),
                bias: None,
                stride: [2, 1],
                pad: [0, 1, 2, 1],
            },
            &[10],
        ), // [3,2,3]
        node("act3", Op::Pact { alpha: 0.1 }, &[13]),
        node("gap", Op::GlobalAvgPool, &[14]),
        node(
            "fc2",
            Op::Dense {
                weight: rand_tensor(&mut rng, &[10, 3]),
                bias: None,
            },
            &[15],
        ),
        node("out", Op::Add, &[12, 16]),
    ];
    let m = FloatModel {
        input: InputSpec {
            shape: [1, 8, 8],
            scale: 1.0 / 255.0,
        },
        nodes,
    };
    m.shapes().expect("the test model is valid");
    m
}

/// Files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip_json_and_toml() {
    let model = every_op_model();
    let kinds: std::collections::HashSet<&str> = model.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds.len(),
        SUPPORTED_OPS.len() + 1,
        "the test model must use every op: {kinds:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    for name in ["model.json", "model.toml"] {
        let dir = tmp.path().join(name.replace('.', "_"));
        std::fs::create_dir(&dir).unwrap();
        let arch = dir.join(name);
        save_float(&model, &arch).unwrap();
        let mut want = vec![name.to_string(), "model.safetensors".to_string()];
        want.sort();
        assert_eq!(listing(&dir), want, "no temp files left");
        let back = load_arch(&arch).unwrap();
        assert_eq!(back, model, "{name}");
        // Bit-identical floats, not only equal ones.
        assert_eq!(back.input.scale.to_bits(), model.input.scale.to_bits());
        // Saving again over the existing files gives the same bytes.
        let before = (
            std::fs::read(&arch).unwrap(),
            std::fs::read(dir.join("model.safetensors")).unwrap(),
        );
        save_float(&back, &arch).unwrap();
        let after = (
            std::fs::read(&arch).unwrap(),
            std::fs::read(dir.join("model.safetensors")).unwrap(),
        );
        if std::env::var_os("PACT_SHOW_ARCH").is_some() {
            eprintln!("{}", String::from_utf8_lossy(&after.0));
        }
        assert_eq!(before, after);
        assert_eq!(listing(&dir).len(), 2);
    }
    // Tensor names follow the node names (state-dict style).
    let st = std::fs::read(tmp.path().join("model_json/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&st).unwrap();
    let mut names = st.names();
    names.sort();
    for want in [
        "conv1.weight",
        "conv1.bias",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "act1.alpha",
        "fc.weight",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.contains(&"conv2.bias"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("model_json/model.json")).unwrap()).unwrap();
    assert_eq!(json["format"], "pact-arch");
    assert_eq!(json["weights"], "model.safetensors");
    assert_eq!(json["layers"][5]["inputs"], serde_json::json!(["act1", "bn2"]));
    assert_eq!(json["layers"][8]["padding"], serde_json::json!([0, 1, 1, 0]));
}

#[test]
fn awkward_floats_round_trip_bit_exactly() {
    let mut model = every_op_model();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let tmp = tempfile::tempdir().unwrap();
    let arch = tmp.path().join("m.toml");
    for _ in 0..50 {
        // Random bit patterns of positive finite f32 (incl. subnormals) for scale, eps and alpha.
        let mut pos = || loop {
            let x = f32::from_bits(rng.gen::<u32>() & 0x7fff_ffff);
            if x.is_finite() && x > 0.0 {
                return x;
            }
        };
        model.input.scale = pos();
        if let Op::BatchNorm(b) = &mut model.nodes[2].op {
            b.eps = pos();
        }
        model.nodes[3].op = Op::Pact { alpha: pos() };
        save_float(&model, &arch).unwrap();
        assert_eq!(load_arch(&arch).unwrap(), model);
    }
}

/// An input node name other than "input" (as importers may give) is written and read back as "input".
#[test]
fn input_node_is_always_named_input() {
    let mut model = every_op_model();
    model.nodes[0].name = "x.1".into();
    let tmp = tempfile::tempdir().unwrap();
    save_float(&model, &tmp.path().join("m.json")).unwrap();
    let back = load_arch(&tmp.path().join("m.json")).unwrap();
    assert_eq!(back.nodes[0].name, "input");
    model.nodes[0].name = "input".into();
    assert_eq!(back, model);
}

// ----- hand-written files -----

type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn safetensors_bytes(t: &Tensors) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = t
        .iter()
        .map(|(n, (dt, shape, bytes))| (n.clone(), TensorView::new(*dt, shape.clone(), bytes).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// The tensors of the small model of `SMALL_ARCH`: conv1 (1→2 channels, 3×3, pad 1) with bias, bn1, act1 α,
/// fc [3, 2·4·4] with bias; input 1×4×4.
fn small_tensors() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut t = BTreeMap::new();
    let mut put = |n: &str, shape: Vec<usize>, lo: f32, hi: f32| {
        let len = shape.iter().product();
        t.insert(n.to_string(), (shape, rand_vec(&mut rng, len, lo, hi)));
    };
    put("conv1.weight", vec![2, 1, 3, 3], -1.0, 1.0);
    put("conv1.bias", vec![2], -1.0, 1.0);
    put("bn1.weight", vec![2], 0.5, 1.5);
    put("bn1.bias", vec![2], -0.5, 0.5);
    put("bn1.running_mean", vec![2], -0.5, 0.5);
    put("bn1.running_var", vec![2], 0.5, 1.5);
    put("act1.alpha", vec![1], 2.0, 4.0);
    put("fc.weight", vec![3, 32], -1.0, 1.0);
    put("fc.bias", vec![3], -1.0, 1.0);
    t
}

fn as_f32_tensors(t: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> Tensors {
    t.iter()
        .map(|(n, (s, v))| (n.clone(), (Dtype::F32, s.clone(), f32_bytes(v))))
        .collect()
}

const SMALL_ARCH: &str = r#"{ "format": "pact-arch", "version": 1,
  "input": { "shape": [1, 4, 4], "scale": 0.00392156862745098 },
  "weights": "model.safetensors",
  "layers": [
    { "name": "conv1", "op": "conv2d", "weight": "conv1.weight", "bias": "conv1.bias", "stride": 1, "padding": 1 },
    { "name": "bn1", "op": "batchnorm", "prefix": "bn1", "eps": 1e-5 },
    { "name": "act1", "op": "pact", "alpha": "act1.alpha" },
    { "name": "flat", "op": "flatten" },
    { "name": "fc", "op": "dense", "weight": "fc.weight", "bias": "fc.bias" }
  ] }"#;

const SMALL_TOML: &str = r#"format = "pact-arch"
version = 1
weights = "model.safetensors"

[input]
shape = [1, 4, 4]
scale = 0.00392156862745098

[[layers]]
name = "conv1"
op = "conv2d"
weight = "conv1.weight"
bias = "conv1.bias"
stride = [1, 1]
padding = [1, 1, 1, 1]

[[layers]]
name = "bn1"
op = "batchnorm"

[[layers]]
name = "act1"
op = "pact"
alpha = "act1.alpha"

[[layers]]
name = "flat"
op = "flatten"

[[layers]]
name = "fc"
op = "dense"
weight = "fc.weight"
bias = "fc.bias"
"#;

/// The model `SMALL_ARCH` describes, built by hand.
fn small_model() -> FloatModel {
    let t = small_tensors();
    let tensor = |n: &str| Tensor::new(t[n].0.clone(), t[n].1.clone()).unwrap();
    let vec = |n: &str| t[n].1.clone();
    FloatModel {
        input: InputSpec {
            shape: [1, 4, 4],
            scale: 0.00392156862745098f64 as f32,
        },
        nodes: vec![
            node("input", Op::Input, &[]),
            node(
                "conv1",
                Op::Conv2d {
                    weight: tensor("conv1.weight"),
                    bias: Some(vec("conv1.bias")),
                    stride: [1, 1],
                    pad: [1; 4],
                },
                &[0],
            ),
            node(
                "bn1",
                Op::BatchNorm(BatchNorm {
                    gamma: vec("bn1.weight"),
                    beta: vec("bn1.bias"),
                    mean: vec("bn1.running_mean"),
                    var: vec("bn1.running_var"),
                    eps: 1e-5,
                }),
                &[1],
            ),
            node(
                "act1",
                Op::Pact {
                    alpha: t["act1.alpha"].1[0],
                },
                &[2],
            ),
            node("flat", Op::Flatten, &[3]),
            node(
                "fc",
                Op::Dense {
                    weight: tensor("fc.weight"),
                    bias: Some(vec("fc.bias")),
                },
                &[4],
            ),
        ],
    }
}

/// A temp dir with `model.json` (= `arch`) and `model.safetensors` (= `tensors`).
fn setup(arch: &str, tensors: &Tensors) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.safetensors"), safetensors_bytes(tensors)).unwrap();
    let p = tmp.path().join("model.json");
    std::fs::write(&p, arch).unwrap();
    (tmp, p)
}

/// The error of `load_arch(p)`: one line, naming `file` and containing every string of `parts`.
fn arch_err(p: &Path, file: &str, parts: &[&str]) -> String {
    let e = load_arch(p).expect_err("malformed input must be rejected").to_string();
    eprintln!("{e}");
    assert!(!e.contains('\n'), "multi-line error: {e}");
    assert!(e.contains(file), "error does not name {file}: {e}");
    for part in parts {
        assert!(e.contains(part), "error lacks {part:?}: {e}");
    }
    e
}

#[test]
fn hand_written_json_and_toml_load() {
    let tensors = as_f32_tensors(&small_tensors());
    let (tmp, p) = setup(SMALL_ARCH, &tensors);
    assert_eq!(load_arch(&p).unwrap(), small_model());
    let toml_path = tmp.path().join("model.toml");
    std::fs::write(&toml_path, SMALL_TOML).unwrap();
    assert_eq!(load_arch(&toml_path).unwrap(), small_model());
    // Without an extension, by content: TOML and JSON alike (`pact train -o m`).
    for (name, text) in [("arch_toml", SMALL_TOML), ("arch_json", SMALL_ARCH)] {
        let bare = tmp.path().join(name);
        std::fs::write(&bare, text).unwrap();
        assert_eq!(load_arch(&bare).unwrap(), small_model(), "{name}");
        match pact_toolchain::model_io::load_any(&bare, None).unwrap() {
            pact_toolchain::model_io::AnyModel::Float(m) => assert_eq!(m, small_model(), "{name}"),
            pact_toolchain::model_io::AnyModel::Quant(_) => panic!("{name} loaded as a quantized model"),
        }
    }
    // Weights in a subdirectory, referenced relative to the architecture file; unreferenced tensors of other
    // dtypes (PyTorch's num_batches_tracked) are ignored.
    std::fs::create_dir(tmp.path().join("w")).unwrap();
    let mut extra = tensors.clone();
    extra.insert(
        "bn1.num_batches_tracked".into(),
        (Dtype::I64, vec![], 7i64.to_le_bytes().to_vec()),
    );
    std::fs::write(tmp.path().join("w/sd.safetensors"), safetensors_bytes(&extra)).unwrap();
    let sub = tmp.path().join("sub.json");
    std::fs::write(
        &sub,
        SMALL_ARCH.replace("\"model.safetensors\"", "\"w/sd.safetensors\""),
    )
    .unwrap();
    assert_eq!(load_arch(&sub).unwrap(), small_model());
}

#[test]
fn defaults_numbers_and_explicit_inputs() {
    let tensors = as_f32_tensors(&small_tensors());
    // No scale (1/255), bn prefix defaults to the layer name, alpha as a number, explicit inputs, relu,
    // pools with list kernels, global_avgpool.
    let arch = r#"{ "format": "pact-arch", "version": 1, "input": { "shape": [1, 4, 4] }, "weights": "model.safetensors",
      "layers": [
        { "name": "conv1", "op": "conv2d", "weight": "conv1.weight", "bias": "conv1.bias", "padding": [1, 1] },
        { "name": "bn1", "op": "batchnorm" },
        { "name": "act1", "op": "pact", "alpha": 6 },
        { "name": "r", "op": "relu", "inputs": ["bn1"] },
        { "name": "s", "op": "add", "inputs": ["act1", "r"] },
        { "name": "mp", "op": "maxpool", "kernel": [2, 2], "padding": [0, 0, 1, 1] },
        { "name": "ap", "op": "avgpool", "kernel": 2, "stride": [1, 1] },
        { "name": "g", "op": "global_avgpool" }
      ] }"#;
    let (_tmp, p) = setup(arch, &tensors);
    let m = load_arch(&p).unwrap();
    assert_eq!(m.input.scale, (1.0f64 / 255.0) as f32);
    assert_eq!(m.nodes[3].op, Op::Pact { alpha: 6.0 });
    assert_eq!(m.nodes[4].inputs, vec![2]);
    assert_eq!(m.nodes[5].inputs, vec![3, 4]);
    assert_eq!(
        m.nodes[6].op,
        Op::MaxPool {
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0, 1, 1]
        }
    );
    assert_eq!(
        m.nodes[7].op,
        Op::AvgPool {
            kernel: [2, 2],
            stride: [1, 1]
        }
    );
    assert_eq!(m.shapes().unwrap().last().unwrap(), &vec![2]);
    match &m.nodes[2].op {
        Op::BatchNorm(b) => assert_eq!(b.eps, 1e-5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_float_dtypes_are_converted() {
    let t = small_tensors();
    let mut tensors = as_f32_tensors(&t);
    // F64, F16 and BF16 versions of tensors whose values are exact in those formats.
    tensors.insert(
        "conv1.bias".into(),
        (
            Dtype::F64,
            vec![2],
            [0.5f64, -1.25].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    // f16: 1.5 = 0x3e00, -0.000061035156 (smallest normal) = 0x8400; subnormal 2^-24 = 0x0001.
    tensors.insert(
        "bn1.bias".into(),
        (
            Dtype::F16,
            vec![2],
            [0x3e00u16, 0x8400].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    tensors.insert(
        "bn1.running_mean".into(),
        (
            Dtype::F16,
            vec![2],
            [0x0001u16, 0x0000].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    // bf16: 2.0 = 0x4000, -3.0 = 0xc040.
    tensors.insert(
        "fc.bias".into(),
        (
            Dtype::BF16,
            vec![3],
            [0x4000u16, 0xc040, 0].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    let (_tmp, p) = setup(SMALL_ARCH, &tensors);
    let m = load_arch(&p).unwrap();
    match &m.nodes[1].op {
        Op::Conv2d { bias, .. } => assert_eq!(bias.as_deref(), Some(&[0.5f32, -1.25][..])),
        other => panic!("{other:?}"),
    }
    match &m.nodes[2].op {
        Op::BatchNorm(b) => {
            assert_eq!(b.beta, vec![1.5, -(2.0f32).powi(-14)]);
            assert_eq!(b.mean, vec![(2.0f32).powi(-24), 0.0]);
        }
        other => panic!("{other:?}"),
    }
    match &m.nodes[5].op {
        Op::Dense { bias, .. } => assert_eq!(bias.as_deref(), Some(&[2.0f32, -3.0, 0.0][..])),
        other => panic!("{other:?}"),
    }
}

/// Write an `.npz` of the small tensors; `f64_names` are stored as float64.
fn write_npz(path: &Path, t: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, f64_names: &[&str], compressed: bool) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = if compressed {
        NpzWriter::new_compressed(f)
    } else {
        NpzWriter::new(f)
    };
    for (n, (shape, v)) in t {
        if f64_names.contains(&n.as_str()) {
            let a = ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|&x| x as f64).collect()).unwrap();
            w.add_array(n.as_str(), &a).unwrap();
        } else {
            let a = ArrayD::from_shape_vec(IxDyn(shape), v.clone()).unwrap();
            w.add_array(n.as_str(), &a).unwrap();
        }
    }
    w.finish().unwrap();
}

#[test]
fn npz_weights_load() {
    let t = small_tensors();
    let tmp = tempfile::tempdir().unwrap();
    for (i, compressed) in [false, true].into_iter().enumerate() {
        let npz = format!("w{i}.npz");
        write_npz(&tmp.path().join(&npz), &t, &["fc.weight", "act1.alpha"], compressed);
        let p = tmp.path().join(format!("m{i}.json"));
        std::fs::write(&p, SMALL_ARCH.replace("model.safetensors", &npz)).unwrap();
        assert_eq!(load_arch(&p).unwrap(), small_model(), "compressed: {compressed}");
    }
    // Fortran-order arrays are read in logical (C) order.
    let f = std::fs::File::create(tmp.path().join("f.npz")).unwrap();
    let mut w = NpzWriter::new(f);
    for (n, (shape, v)) in &t {
        if n == "fc.weight" {
            let c = Array2::from_shape_vec((shape[0], shape[1]), v.clone()).unwrap();
            let mut fo = Array2::<f32>::zeros((shape[0], shape[1]).f());
            fo.assign(&c);
            w.add_array(n.as_str(), &fo).unwrap();
        } else {
            w.add_array(n.as_str(), &ArrayD::from_shape_vec(IxDyn(shape), v.clone()).unwrap())
                .unwrap();
        }
    }
    w.finish().unwrap();
    let p = tmp.path().join("f.json");
    std::fs::write(&p, SMALL_ARCH.replace("model.safetensors", "f.npz")).unwrap();
    assert_eq!(load_arch(&p).unwrap(), small_model());
}

#[test]
fn malformed_architecture_files_are_rejected() {
    let tensors = as_f32_tensors(&small_tensors());
    let (tmp, p) = setup(SMALL_ARCH, &tensors);
    let with = |text: String| {
        std::fs::write(&p, text).unwrap();
        &p
    };
    let a = SMALL_ARCH.to_string();
    arch_err(
        with(a.replace("\"dense\"", "\"linear\"")),
        "model.json",
        &[
            "layer 'fc'",
            "unknown op 'linear'",
            "conv2d, dense, batchnorm, pact, relu, maxpool, avgpool, global_avgpool, flatten, add",
        ],
    );
    arch_err(
        with(a.replace("\"stride\": 1", "\"strid\": 1")),
        "model.json",
        &["unknown field `strid`", "line 5"],
    );
    arch_err(
        with(a.replace(
            "{ \"name\": \"flat\", \"op\": \"flatten\" }",
            "{ \"name\": \"flat\", \"op\": \"flatten\", \"weight\": \"fc.weight\" }",
        )),
        "model.json",
        &["layer 'flat'", "does not take 'weight'"],
    );
    arch_err(
        with(a.replace("\"name\": \"flat\"", "\"name\": \"bn1\"")),
        "model.json",
        &["layer 'bn1'", "defined twice"],
    );
    arch_err(
        with(a.replace("\"name\": \"flat\"", "\"name\": \"input\"")),
        "model.json",
        &["reserved"],
    );
    arch_err(
        with(a.replace(
            "{ \"name\": \"flat\", \"op\": \"flatten\" }",
            "{ \"name\": \"flat\", \"op\": \"flatten\", \"inputs\": [\"fc\"] }",
        )),
        "model.json",
        &["layer 'flat'", "input 'fc' is not an earlier layer"],
    );
    arch_err(
        with(a.replace("pact-arch", "onnx")),
        "model.json",
        &["format is 'onnx'"],
    );
    arch_err(
        with(a.replace("\"padding\": 1", "\"padding\": 100000")),
        "model.json",
        &["layer 'conv1'", "100000"],
    );
    arch_err(
        with(a.replace("[1, 4, 4]", "[1, 4000000, 4000000]")),
        "model.json",
        &["input shape", "larger than"],
    );
    arch_err(
        with(a.replace("0.00392156862745098", "0")),
        "model.json",
        &["input scale 0"],
    );
    arch_err(
        with(a.replace("\"version\": 1", "\"version\": 2")),
        "model.json",
        &["version 2 is not supported"],
    );
    arch_err(
        with(a.replace("\"stride\": 1", "\"stride\": -1")),
        "model.json",
        &["-1"],
    );
    arch_err(
        with(a.replace("\"stride\": 1", "\"stride\": [1, 1, 1]")),
        "model.json",
        &["layer 'conv1'", "'stride'", "[1, 1, 1]"],
    );
    arch_err(
        with(a.replace("\"padding\": 1", "\"padding\": [1, 1, 1]")),
        "model.json",
        &["layer 'conv1'", "'padding'"],
    );
    arch_err(
        with(a.replace("\"alpha\": \"act1.alpha\"", "\"alpha\": 0")),
        "model.json",
        &["layer 'act1'", "alpha 0", "> 0"],
    );
    arch_err(
        with(a.replace("\"alpha\": \"act1.alpha\"", "\"alpha\": -2.5")),
        "model.json",
        &["layer 'act1'", "alpha -2.5"],
    );
    arch_err(
        with(a.replace("\"alpha\": \"act1.alpha\"", "\"alpha\": [1]")),
        "model.json",
        &["a tensor name or a number"],
    );
    arch_err(
        with(a.replace(", \"alpha\": \"act1.alpha\"", "")),
        "model.json",
        &["layer 'act1'", "needs 'alpha'"],
    );
    arch_err(
        with(a.replace("\"eps\": 1e-5", "\"eps\": -1")),
        "model.json",
        &["layer 'bn1'", "eps"],
    );
    arch_err(
        with(a.replace("\"name\": \"flat\"", "\"name\": \"fl\\nat\"")),
        "model.json",
        &["fl\\nat", "control characters"],
    );
    arch_err(
        with(a.replace(
            "\"weights\": \"model.safetensors\"",
            "\"weights\": \"gone.safetensors\"",
        )),
        "gone.safetensors",
        &[],
    );
    arch_err(
        with(a.replace("[1, 4, 4]", "[1, 5, 4]")),
        "model.json",
        &["layer 'fc'", "[3, 32]", "40"],
    );
    arch_err(
        with(a.replace("\"layers\": [", "\"layers\": [ { \"name\": \"s\", \"op\": \"add\" },")),
        "model.json",
        &["layer 's'", "needs 'inputs'"],
    );
    arch_err(
        with(a.replace(
            "}\n  ] }",
            "}, { \"name\": \"s\", \"op\": \"add\", \"inputs\": [\"fc\"] }\n  ] }",
        )),
        "model.json",
        &["layer 's'", "two 'inputs'"],
    );
    arch_err(with(a[..a.len() / 2].to_string()), "model.json", &["EOF"]);
    arch_err(
        with("version https://git-lfs.github.com/spec/v1\noid sha256:0\n".into()),
        "model.json",
        &["Git LFS"],
    );
    // TOML: errors are one line with the line number.
    let tp = tmp.path().join("model.toml");
    std::fs::write(
        &tp,
        SMALL_TOML.replace("op = \"batchnorm\"", "op = \"batchnorm\"\nepsilon = 1"),
    )
    .unwrap();
    arch_err(&tp, "model.toml", &["line 20", "unknown field `epsilon`"]);
    std::fs::write(
        &tp,
        SMALL_TOML.replace("[[layers]]\nname = \"act1\"", "[[layers]\nname = \"act1\""),
    )
    .unwrap();
    arch_err(&tp, "model.toml", &["line 2"]);
    std::fs::write(
        &tp,
        SMALL_TOML.replace("name = \"flat\"\nop = \"flatten\"", "name = \"flat\"\nop = \"dropout\""),
    )
    .unwrap();
    arch_err(&tp, "model.toml", &["layer 'flat'", "unknown op 'dropout'"]);
}

#[test]
fn malformed_weights_are_rejected() {
    let base = small_tensors();
    let f32t = as_f32_tensors(&base);
    let st = "model.safetensors";
    let check = |tensors: &Tensors, parts: &[&str]| {
        let (_tmp, p) = setup(SMALL_ARCH, tensors);
        arch_err(&p, st, parts);
    };
    // Missing tensor: names layer and tensor; a prefixed state dict gets a hint.
    let mut t = f32t.clone();
    t.remove("conv1.bias");
    check(
        &t,
        &["layer 'conv1'", "'conv1.bias'", "not in the file", "it holds 8 tensors"],
    );
    let prefixed: Tensors = f32t.iter().map(|(n, v)| (format!("module.{n}"), v.clone())).collect();
    check(&prefixed, &["'conv1.weight'", "did you mean 'module.conv1.weight'"]);
    // Wrong shapes.
    let mut t = f32t.clone();
    t.insert("conv1.bias".into(), (Dtype::F32, vec![5], f32_bytes(&[0.0; 5])));
    check(&t, &["'conv1.bias'", "layer 'conv1'", "[5]", "expected [2]"]);
    let mut t = f32t.clone();
    t.insert("conv1.weight".into(), (Dtype::F32, vec![2, 9], f32_bytes(&[0.0; 18])));
    check(&t, &["'conv1.weight'", "[2, 9]", "[out_c, in_c, kh, kw]"]);
    let mut t = f32t.clone();
    t.insert("bn1.running_var".into(), (Dtype::F32, vec![3], f32_bytes(&[1.0; 3])));
    check(&t, &["'bn1.running_var'", "[3]", "[2]"]);
    let mut t = f32t.clone();
    t.insert("act1.alpha".into(), (Dtype::F32, vec![2], f32_bytes(&[1.0; 2])));
    check(&t, &["'act1.alpha'", "[2]", "single value"]);
    // Non-finite values: tensor and index.
    let mut t = f32t.clone();
    let mut w = base["conv1.weight"].1.clone();
    w[5] = f32::NAN;
    t.insert("conv1.weight".into(), (Dtype::F32, vec![2, 1, 3, 3], f32_bytes(&w)));
    check(&t, &["'conv1.weight'", "[0, 0, 1, 2]", "NaN"]);
    let mut t = f32t.clone();
    t.insert(
        "fc.bias".into(),
        (Dtype::F32, vec![3], f32_bytes(&[0.0, f32::NEG_INFINITY, 0.0])),
    );
    check(&t, &["'fc.bias'", "[1]", "-inf"]);
    let mut t = f32t.clone();
    t.insert(
        "fc.bias".into(),
        (
            Dtype::F64,
            vec![3],
            [0.0, 1e300, 0.0f64].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    check(&t, &["'fc.bias'", "[1]", "inf", "conversion"]);
    // α ≤ 0 and negative variance.
    for a in [0.0f32, -1.0] {
        let mut t = f32t.clone();
        t.insert("act1.alpha".into(), (Dtype::F32, vec![1], f32_bytes(&[a])));
        check(&t, &["'act1.alpha'", "layer 'act1'", "must be > 0"]);
    }
    let mut t = f32t.clone();
    t.insert("bn1.running_var".into(), (Dtype::F32, vec![2], f32_bytes(&[1.0, -0.5])));
    check(&t, &["'bn1.running_var'", "[1] is negative"]);
    // Unsupported dtype of a referenced tensor.
    let mut t = f32t.clone();
    t.insert(
        "fc.bias".into(),
        (
            Dtype::I64,
            vec![3],
            [1i64, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    );
    check(&t, &["'fc.bias'", "dtype I64"]);
    // A bias in the file that the architecture leaves out.
    let (_tmp, p) = setup(&SMALL_ARCH.replace(", \"bias\": \"fc.bias\"", ""), &f32t);
    arch_err(&p, "model.json", &["layer 'fc'", "'fc.bias'"]);
}

/// Safetensors bytes with a hand-written header.
fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn corrupt_safetensors_files_are_rejected() {
    let good = safetensors_bytes(&as_f32_tensors(&small_tensors()));
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("model.json");
    std::fs::write(&p, SMALL_ARCH).unwrap();
    let w = tmp.path().join("model.safetensors");
    let check = |bytes: &[u8], parts: &[&str]| {
        std::fs::write(&w, bytes).unwrap();
        arch_err(&p, "model.safetensors", parts)
    };
    check(
        &good[..good.len() - 3],
        &["not a valid safetensors file", "outside the file's 509 data bytes"],
    );
    check(&good[..good.len() / 2], &["not a valid safetensors file"]);
    check(&good[..5], &["only 5 bytes"]);
    check(b"", &["is empty"]);
    check(&[&good[..], &[0u8; 4][..]].concat(), &["trailing"]);
    let mut big = good.clone();
    big[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    check(&big, &["header length", "larger than the file"]);
    big[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    check(&big, &["header length", "over the 100000000-byte cap"]);
    let mut bad_json = good.clone();
    bad_json[8] = b'[';
    check(&bad_json, &["not a valid safetensors file"]);
    // Duplicate tensor names in the header.
    let dup = raw_safetensors(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        &[0; 8],
    );
    check(&dup, &["'a' appears twice"]);
    // Offsets beyond the data.
    let off = raw_safetensors(
        r#"{"conv1.weight":{"dtype":"F32","shape":[2,1,3,3],"data_offsets":[0,72]}}"#,
        &[0; 8],
    );
    check(&off, &["not a valid safetensors file"]);
    check(
        b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n",
        &["Git LFS"],
    );
    // PyTorch pickles.
    check(
        &[0x80, 0x02, b'}', b'q', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &["PyTorch pickle"],
    );
    std::fs::write(&p, SMALL_ARCH.replace("model.safetensors", "model.pt")).unwrap();
    std::fs::write(tmp.path().join("model.pt"), &good).unwrap();
    arch_err(&p, "model.pt", &["PyTorch pickle", "safetensors.torch.save_file"]);
}

/// A `.npy` member with a hand-written header dict and data.
fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(data);
    v
}

/// An `.npz` of the small tensors plus raw members.
fn npz_with(raw: &[(&str, Vec<u8>)], skip: &[&str]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = NpzWriter::new(&mut buf);
        for (n, (shape, v)) in small_tensors() {
            if !skip.contains(&n.as_str()) {
                w.add_array(n.as_str(), &ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap())
                    .unwrap();
            }
        }
        w.finish().unwrap();
    }
    let mut zip = zip::ZipWriter::new_append(buf).unwrap();
    for (name, bytes) in raw {
        zip.start_file(
            *name,
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn corrupt_npz_files_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("model.json");
    std::fs::write(&p, SMALL_ARCH.replace("model.safetensors", "w.npz")).unwrap();
    let w = tmp.path().join("w.npz");
    let check = |bytes: &[u8], parts: &[&str]| {
        std::fs::write(&w, bytes).unwrap();
        arch_err(&p, "w.npz", parts)
    };
    let good = npz_with(&[], &[]);
    std::fs::write(&w, &good).unwrap();
    assert_eq!(load_arch(&p).unwrap(), small_model());
    check(&good[..good.len() - 30], &["not a valid .npz (zip) file"]);
    check(&good[..good.len() / 2], &["not a valid .npz (zip) file"]);
    // Object (pickled) array.
    let obj = raw_npy(
        "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
        b"\x80\x02]q\x00.",
    );
    check(
        &npz_with(&[("fc.bias.npy", obj)], &["fc.bias"]),
        &["'fc.bias'", "Python objects", "pickled"],
    );
    // Integer array.
    let ints = raw_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", &[0; 24]);
    check(&npz_with(&[("fc.bias.npy", ints)], &["fc.bias"]), &["'fc.bias'", "<i8"]);
    // Header shape larger than the data; header length larger than the member; garbage member.
    let short = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 8]);
    check(
        &npz_with(&[("fc.bias.npy", short)], &["fc.bias"]),
        &["'fc.bias'", "truncated"],
    );
    let huge = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
        &[0; 8],
    );
    check(
        &npz_with(&[("fc.bias.npy", huge)], &["fc.bias"]),
        &["'fc.bias'", "truncated"],
    );
    let overflow = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
        &[],
    );
    check(&npz_with(&[("fc.bias.npy", overflow)], &["fc.bias"]), &["'fc.bias'"]);
    let mut long_header = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 12]);
    long_header[8..10].copy_from_slice(&60000u16.to_le_bytes());
    check(
        &npz_with(&[("fc.bias.npy", long_header)], &["fc.bias"]),
        &["'fc.bias'", "header length 60000"],
    );
    let deep = raw_npy(
        &format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': {}3{}, }}",
            "(".repeat(200),
            ",)".repeat(200)
        ),
        &[0; 12],
    );
    check(
        &npz_with(&[("fc.bias.npy", deep)], &["fc.bias"]),
        &["'fc.bias'", "nested"],
    );
    check(
        &npz_with(&[("fc.bias.npy", b"not npy".to_vec())], &["fc.bias"]),
        &["'fc.bias'", "not a .npy"],
    );
    let trailing = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 16]);
    check(
        &npz_with(&[("fc.bias.npy", trailing)], &["fc.bias"]),
        &["'fc.bias'", "extra bytes"],
    );
    // NaN in an npz array, duplicate names ("a" and "a.npy"; the same name twice).
    let mut nan = f32_bytes(&[0.0, 0.0, f32::NAN]);
    nan = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        &std::mem::take(&mut nan),
    );
    check(
        &npz_with(&[("fc.bias.npy", nan)], &["fc.bias"]),
        &["'fc.bias'", "[2]", "NaN"],
    );
    let b = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 12]);
    check(&npz_with(&[("fc.bias", b.clone())], &[]), &["'fc.bias' appears twice"]);
    // A corrupted stored member fails its CRC check.
    let mut crc = npz_with(&[], &[]);
    let pos = crc.windows(6).position(|w| w == b"\x93NUMPY").unwrap();
    crc[pos + 80] ^= 0x55;
    check(&crc, &["corrupt"]);
    // A zip holding a PyTorch checkpoint.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("archive/data.pkl", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"\x80\x02}q\x00.").unwrap();
        z.finish().unwrap();
    }
    check(buf.get_ref(), &["PyTorch pickle"]);
}

#[test]
fn duplicate_zip_entries_are_rejected() {
    // Two members with the same name: written by raw concatenation since zip writers refuse it.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("model.json");
    std::fs::write(&p, SMALL_ARCH.replace("model.safetensors", "w.npz")).unwrap();
    let member = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 12]);
    let mut one = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut one);
        for n in ["fc.bias.npy", "fc.biaX.npy"] {
            z.start_file(
                n,
                zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
            z.write_all(&member).unwrap();
        }
        z.finish().unwrap();
    }
    // Rename the second member to the first in both local and central headers.
    let mut bytes = one.into_inner();
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(11).position(|w| w == b"fc.biaX.npy") {
        bytes[i + pos + 6] = b's';
        i += pos + 11;
    }
    std::fs::write(tmp.path().join("w.npz"), &bytes).unwrap();
    arch_err(&p, "w.npz", &["appears twice"]);
}

#[test]
fn save_float_rejects_invalid_models_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let arch = tmp.path().join("m.json");
    let mut m = every_op_model();
    m.nodes[3].name = "bn1".into();
    let e = save_float(&m, &arch).unwrap_err().to_string();
    assert!(
        e.contains("m.json") && e.contains("'bn1'") && e.contains("share this name"),
        "{e}"
    );
    let mut m = every_op_model();
    m.nodes[3].op = Op::Pact { alpha: -1.0 };
    let e = save_float(&m, &arch).unwrap_err().to_string();
    assert!(e.contains("m.json") && e.contains("act1"), "{e}");
    let mut m = every_op_model();
    m.nodes[5].name = "input".into();
    assert!(save_float(&m, &arch).is_err());
    let e = save_float(&every_op_model(), &tmp.path().join("m.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(".safetensors"), "{e}");
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));
    // A directory that does not exist: an I/O error naming the file, nothing left behind.
    let e = save_float(&every_op_model(), &tmp.path().join("no/m.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("m.safetensors"), "{e}");
    assert!(listing(tmp.path()).is_empty());
}

/// Random corruptions of valid architecture, safetensors and npz files never panic.
#[test]
fn corrupted_model_files_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let arch = tmp.path().join("m.json");
    save_float(&small_model(), &arch).unwrap();
    let npz_arch = tmp.path().join("n.toml");
    std::fs::write(&npz_arch, SMALL_TOML.replace("model.safetensors", "n.npz")).unwrap();
    write_npz(&tmp.path().join("n.npz"), &small_tensors(), &["fc.bias"], true);
    let files = [
        arch.clone(),
        tmp.path().join("m.safetensors"),
        npz_arch.clone(),
        tmp.path().join("n.npz"),
    ];
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    // PACT_FUZZ_ROUNDS=<n> runs more rounds.
    let rounds = std::env::var("PACT_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for round in 0..rounds {
        let k = round % files.len();
        let mut bytes = originals[k].clone();
        match rng.gen_range(0..3) {
            0 => bytes.truncate(rng.gen_range(0..bytes.len())),
            1 => {
                for _ in 0..rng.gen_range(1..4) {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] = rng.gen();
                }
            }
            _ => {
                let i = rng.gen_range(0..bytes.len());
                bytes.insert(i, rng.gen());
            }
        }
        std::fs::write(&files[k], &bytes).unwrap();
        let target = if k < 2 { &arch } else { &npz_arch };
        if let Err(e) = load_arch(target) {
            assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
        }
        std::fs::write(&files[k], &originals[k]).unwrap();
    }
}

/// The first ```json block of `text`, with any leading `//! ` stripped.
fn json_block(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start().trim_start_matches("//!").trim_start_matches(' '))
        .collect();
    let start = lines.iter().position(|l| *l == "```json").expect("a json block") + 1;
    let end = start + lines[start..].iter().position(|l| *l == "```").expect("end of block");
    lines[start..end].join("\n")
}

/// The example of the module documentation and of docs/model-formats.md loads (with weights made up here).
#[test]
fn documented_example_loads() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let mut t: Tensors = BTreeMap::new();
    let mut put = |n: &str, shape: Vec<usize>, lo: f32, hi: f32| {
        let len = shape.iter().product();
        t.insert(
            n.to_string(),
            (Dtype::F32, shape, f32_bytes(&rand_vec(&mut rng, len, lo, hi))),
        );
    };
    put("conv1.weight", vec![4, 1, 3, 3], -1.0, 1.0);
    put("conv1.bias", vec![4], -1.0, 1.0);
    put("conv2.weight", vec![4, 4, 3, 3], -1.0, 1.0);
    for bn in ["bn1", "bn2"] {
        put(&format!("{bn}.weight"), vec![4], 0.5, 1.5);
        put(&format!("{bn}.bias"), vec![4], -0.5, 0.5);
        put(&format!("{bn}.running_mean"), vec![4], -0.5, 0.5);
        put(&format!("{bn}.running_var"), vec![4], 0.5, 1.5);
    }
    put("act1.alpha", vec![1], 2.0, 4.0);
    put("fc.weight", vec![10, 4 * 7 * 7], -1.0, 1.0);
    put("fc.bias", vec![10], -1.0, 1.0);
    let docs = [
        include_str!("../src/import/statedict.rs"),
        include_str!("../../docs/model-formats.md"),
    ];
    for doc in docs {
        let (_tmp, p) = setup(&json_block(doc), &t);
        let m = load_arch(&p).unwrap();
        assert_eq!(m.nodes.len(), 13);
        assert_eq!(m.shapes().unwrap().last().unwrap(), &vec![10]);
        assert_eq!(m.nodes[6].inputs, vec![3, 5]);
    }
}
