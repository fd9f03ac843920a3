//! QONNX and QCDQ import (issue 13): the Brevitas fixtures in `tests/fixtures/brevitas/` (trained and exported by
//! `make_brevitas_fixtures.py`) imported in both formats, their integer predictions compared with the ones
//! Brevitas recorded for all 5000 rows of `data/mnist_5k.csv.gz`; and small hand-built graphs whose integers are
//! known, for what the fixtures do not show (rounding modes, the odd-code path, refusals).

use pact_toolchain::contract::WeightEncoding;
use pact_toolchain::data::{self, DataSpec, Split};
use pact_toolchain::golden::Golden;
use pact_toolchain::import::onnx::proto::{
    attribute_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use pact_toolchain::import::qonnx;
use pact_toolchain::qmodel::QModel;
use prost::Message;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/brevitas").join(name)
}

/// The predictions and bit widths Brevitas recorded for a fixture.
struct Recorded {
    predictions: Vec<usize>,
    wbits: u32,
    abits: u32,
    per_channel: bool,
}

fn recorded(variant: &str) -> Recorded {
    let text = std::fs::read_to_string(fixture(&format!("{variant}.predictions.json"))).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    Recorded {
        predictions: j["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect(),
        wbits: j["inner_weight_bits"].as_u64().unwrap() as u32,
        abits: j["inner_activation_bits"].as_u64().unwrap() as u32,
        per_channel: j["per_channel_weights"].as_bool().unwrap(),
    }
}

fn import(path: &Path) -> QModel {
    qonnx::load_quantized(path, 16)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .expect("a quantized model")
        .1
}

/// Integer (golden model) top-1 agreement with Brevitas on all 5000 rows, in file order.
fn agreement(q: &QModel, rec: &Recorded) -> (usize, usize) {
    let ds = data::load(&DataSpec::Path(root().join("data/mnist_5k.csv.gz")), Split::All).unwrap();
    assert_eq!(ds.len(), 5000);
    assert_eq!(rec.predictions.len(), 5000);
    let got = Golden::new(q).classify_batch(&ds.images);
    let same = got.iter().zip(&rec.predictions).filter(|(a, b)| a == b).count();
    (same, got.len())
}

/// A compute layer's integers: weight codes, bias, and `M0` (or the logit scale's).
type LayerInts = (Vec<u8>, Vec<i64>, Option<Vec<u32>>);

const VARIANTS: [&str; 4] = ["bv_cnn_w4a4_pt", "bv_cnn_w4a4_pc", "bv_cnn_w2a2_pc", "bv_cnn_w8a8_pt"];

#[test]
fn brevitas_fixtures_match_brevitas_in_both_formats() {
    for v in VARIANTS {
        let rec = recorded(v);
        let mut models = Vec::new();
        for fmt in ["qonnx", "qcdq"] {
            let q = import(&fixture(&format!("{v}.{fmt}.onnx")));
            let p = &q.provenance;
            // Widths from the file, no flags: inner W/A as Brevitas's, first and last layers 8 bits.
            assert_eq!(
                (p.wbits, p.abits, p.first_last_bits),
                (rec.wbits, rec.abits, 8),
                "{v} {fmt}"
            );
            let computes: Vec<_> = q.layers.iter().filter_map(|l| l.op.compute()).collect();
            assert_eq!(computes.len(), 3);
            assert_eq!(computes[1].weights.bits, rec.wbits, "{v} {fmt}: inner weight bits");
            for c in &computes {
                assert_eq!(c.weights.encoding, WeightEncoding::TwosComplement, "{v} {fmt}");
                assert_eq!(c.weights.channel_scales.is_some(), rec.per_channel, "{v} {fmt}");
            }
            // Per-channel scales of the last layer need the logit scale; per-tensor ones do not.
            assert_eq!(computes[2].logit_scale.is_some(), rec.per_channel, "{v} {fmt}");
            let (same, n) = agreement(&q, &rec);
            let pct = 100.0 * same as f64 / n as f64;
            println!("{v} {fmt}: integer vs Brevitas top-1 {same}/{n} ({pct:.2} %)");
            assert!(pct >= 99.0, "{v} {fmt}: {same}/{n} agree with Brevitas, below 99 %");
            models.push(q);
        }
        // Both exports hold the same integers: the two imports give the same integer model (names aside).
        let arrays = |q: &QModel| -> Vec<LayerInts> {
            q.layers
                .iter()
                .filter_map(|l| l.op.compute())
                .map(|c| {
                    let m0 = match &c.output {
                        pact_toolchain::qmodel::Output::Codes { requant, .. } => Some(requant.m0.clone()),
                        _ => c.logit_scale.as_ref().map(|s| s.m0.clone()),
                    };
                    (c.weights.index.clone(), c.bias.clone(), m0)
                })
                .collect()
        };
        assert_eq!(
            arrays(&models[0]),
            arrays(&models[1]),
            "{v}: QONNX and QCDQ imports differ"
        );
    }
}

#[test]
fn qonnx_fixtures_read_their_weights_from_the_data_file() {
    // The .onnx alone (no .onnx.data beside it) fails, naming the data file: the weights really come from it.
    let dir = tempfile::tempdir().unwrap();
    let name = "bv_cnn_w4a4_pt.qonnx.onnx";
    std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
    let e = qonnx::load_quantized(&dir.path().join(name), 16)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("external file ('bv_cnn_w4a4_pt.qonnx.onnx.data')") && e.contains("cannot be read"),
        "{e}"
    );
    // With it, the same model as from the fixture folder.
    std::fs::copy(
        fixture(&format!("{name}.data")),
        dir.path().join(format!("{name}.data")),
    )
    .unwrap();
    let a = import(&dir.path().join(name));
    let b = import(&fixture(name));
    assert_eq!(a.layers, b.layers);
}

// ---- hand-built graphs ----

fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data.to_vec(),
        ..Default::default()
    }
}

fn scalar(name: &str, v: f32) -> TensorProto {
    tensor(name, &[], &[v])
}

fn node(op: &str, name: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        attribute: attrs,
        domain: if op == "Quant" || op == "BipolarQuant" || op == "Trunc" {
            "qonnx.custom_op.general".into()
        } else {
            String::new()
        },
    }
}

fn a_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

fn a_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: v.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..Default::default()
    }
}

fn quant_attrs(signed: i64, narrow: i64, mode: &str) -> Vec<AttributeProto> {
    vec![
        a_int("signed", signed),
        a_int("narrow", narrow),
        a_str("rounding_mode", mode),
    ]
}

/// A 1-feature-map MLP in QONNX: input [N, 1, 1, 4] → Quant(u8, 1/255) → Flatten → Gemm(W: Quant) → Relu →
/// Quant(u4) → Gemm(W2: Quant) (logits). `w` is the first layer's float weight [3, 4]; `wq` its Quant's
/// (signed, narrow, rounding mode, bitwidth, scales).
fn mlp(w: &[f32], wq: (i64, i64, &str, f32, &[f32])) -> ModelProto {
    let (signed, narrow, mode, bits, scales) = wq;
    let w2: Vec<f32> = (0..6).map(|i| [1.0, -1.0, 3.0][i % 3] * 0.5).collect();
    let scale_dims: Vec<i64> = if scales.len() == 1 {
        vec![]
    } else {
        vec![scales.len() as i64, 1]
    };
    let init = vec![
        scalar("s_in", 1.0 / 255.0),
        scalar("zero", 0.0),
        scalar("b8", 8.0),
        tensor("w1", &[3, 4], w),
        tensor("s_w1", &scale_dims, scales),
        scalar("b_w1", bits),
        scalar("s_a", 0.25),
        scalar("b4", 4.0),
        tensor("w2", &[2, 3], &w2),
        scalar("s_w2", 0.5),
    ];
    let nodes = vec![
        node("Quant", "qin", &["x", "s_in", "zero", "b8"], quant_attrs(0, 0, "ROUND")),
        node("Flatten", "flat", &["qin_out"], vec![]),
        node(
            "Quant",
            "qw1",
            &["w1", "s_w1", "zero", "b_w1"],
            quant_attrs(signed, narrow, mode),
        ),
        node("Gemm", "fc1", &["flat_out", "qw1_out"], vec![a_int("transB", 1)]),
        node("Relu", "relu", &["fc1_out"], vec![]),
        node(
            "Quant",
            "qa",
            &["relu_out", "s_a", "zero", "b4"],
            quant_attrs(0, 0, "ROUND"),
        ),
        node(
            "Quant",
            "qw2",
            &["w2", "s_w2", "zero", "b4"],
            quant_attrs(1, 1, "ROUND"),
        ),
        node("Gemm", "fc2", &["qa_out", "qw2_out"], vec![a_int("transB", 1)]),
    ];
    let input = ValueInfoProto {
        name: "x".into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: [1, 1, 1, 4]
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![
            OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            },
            OperatorSetIdProto {
                domain: "qonnx.custom_op.general".into(),
                version: 1,
            },
        ],
        graph: Some(GraphProto {
            name: "mlp".into(),
            node: nodes,
            initializer: init,
            input: vec![input],
            output: vec![ValueInfoProto {
                name: "fc2_out".into(),
                r#type: None,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn load_model(m: &ModelProto) -> pact_toolchain::Result<QModel> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.qonnx.onnx");
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    qonnx::load_quantized(&p, 16).map(|o| o.expect("quantized").1)
}

fn first_weights(q: &QModel) -> Vec<i32> {
    let c = q.layers.iter().find_map(|l| l.op.compute()).unwrap();
    (0..c.weights.out).flat_map(|o| c.weights.row(o)).collect()
}

#[test]
fn weights_are_taken_as_the_file_quantizes_them() {
    // Integers chosen here, weights = integer × scale (per channel), so the Quant gives them back exactly.
    let ints = [3, -7, 0, 5, 7, -1, 2, -6, 1, 4, -3, 6];
    let scales = [0.1f32, 0.02, 0.3];
    let w: Vec<f32> = ints
        .iter()
        .enumerate()
        .map(|(i, &v)| v as f32 * scales[i / 4])
        .collect();
    let q = load_model(&mlp(&w, (1, 1, "ROUND", 4.0, &scales))).unwrap();
    assert_eq!(first_weights(&q), ints);
    let c = q.layers.iter().find_map(|l| l.op.compute()).unwrap();
    assert_eq!(c.weights.encoding, WeightEncoding::TwosComplement);
    assert_eq!(c.weights.bits, 4);
    assert_eq!(
        c.weights.channel_scales.as_deref(),
        Some(&scales.map(|s| s as f64)[..]),
        "per-channel scales kept"
    );
    // The activation: PACT with k = 4, α = 0.25 · 15.
    match &c.output {
        pact_toolchain::qmodel::Output::Codes { bits, alpha, .. } => assert_eq!((*bits, *alpha), (4, 0.25 * 15.0)),
        o => panic!("{o:?}"),
    }
    // Ties: w/s = ±2.5 and 1.5. ROUND (half even) gives 2, −2, 2; HALF_UP (away from zero) 3, −3, 2; FLOOR 2, −3, 1.
    let mut w = vec![0.5f32; 12];
    w[..3].copy_from_slice(&[0.25, -0.25, 0.15]);
    for (mode, want) in [("ROUND", [2, -2, 2]), ("HALF_UP", [3, -3, 2]), ("FLOOR", [2, -3, 1])] {
        let q = load_model(&mlp(&w, (1, 1, mode, 4.0, &[0.1]))).unwrap();
        assert_eq!(first_weights(&q)[..3], want, "{mode}");
    }
    // Clamped to the narrow range: 100 → 7, −100 → −7.
    w[..2].copy_from_slice(&[10.0, -10.0]);
    let q = load_model(&mlp(&w, (1, 1, "ROUND", 4.0, &[0.1]))).unwrap();
    assert_eq!(first_weights(&q)[..2], [7, -7]);
}

#[test]
fn odd_weights_become_odd_codes_and_8_bit_dorefa_levels_fit() {
    // Signed narrow 9-bit weights whose values are all odd (DoReFa's 8-bit levels ±255 …): 8-bit odd codes.
    let ints = [255, -255, 1, -1, 3, 101, -77, 5, 7, -9, 11, -13];
    let w: Vec<f32> = ints.iter().map(|&v| v as f32).collect();
    let q = load_model(&mlp(&w, (1, 1, "ROUND", 9.0, &[1.0]))).unwrap();
    let c = q.layers.iter().find_map(|l| l.op.compute()).unwrap();
    assert_eq!((c.weights.encoding, c.weights.bits), (WeightEncoding::Odd, 8));
    assert_eq!(first_weights(&q), ints);
    // The same at 9 bits with one even value cannot be stored in 8 bits: refused, naming the Quant node.
    let mut w2 = w.clone();
    w2[2] = 2.0;
    let e = load_model(&mlp(&w2, (1, 1, "ROUND", 9.0, &[1.0])))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'qw1'") && e.contains("bitwidth 9") && e.contains("at most 8 bits"),
        "{e}"
    );
}

/// Replace initializer `name` by `t` (renamed).
fn set_init(m: &mut ModelProto, name: &str, t: TensorProto) {
    let g = m.graph.as_mut().unwrap();
    let i = g.initializer.iter().position(|x| x.name == name).unwrap();
    g.initializer[i] = TensorProto { name: name.into(), ..t };
}

#[test]
fn malformed_quantizers_are_refused_naming_the_node() {
    let w = vec![0.1f32; 12];
    let base = || mlp(&w, (1, 1, "ROUND", 4.0, &[0.1]));
    type Edit = Box<dyn Fn(&mut ModelProto)>;
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "bitwidth 0",
            Box::new(|m| set_init(m, "b_w1", scalar("", 0.0))),
            &["node 'qw1'", "bitwidth 0 is out of range"],
        ),
        (
            "act bitwidth 9",
            Box::new(|m| set_init(m, "b4", scalar("", 9.0))),
            &["node 'qa'", "bitwidth 9 is out of range", "1..=8"],
        ),
        (
            "zero point",
            Box::new(|m| set_init(m, "zero", scalar("", 1.0))),
            &["node 'qin'", "zero point", "only a zero point of 0"],
        ),
        (
            "nan scale",
            Box::new(|m| set_init(m, "s_a", scalar("", f32::NAN))),
            &["node 'qa'", "holds NaN", "finite and > 0"],
        ),
        (
            "negative scale",
            Box::new(|m| set_init(m, "s_w2", scalar("", -0.5))),
            &["node 'qw2'", "holds -0.5"],
        ),
        (
            "non-scalar bitwidth",
            Box::new(|m| set_init(m, "b_w1", tensor("", &[2], &[4.0, 4.0]))),
            &["node 'qw1'", "must be a scalar"],
        ),
        (
            "fractional bitwidth",
            Box::new(|m| set_init(m, "b_w1", scalar("", 4.5))),
            &["node 'qw1'", "must be an integer"],
        ),
        (
            "per-channel shape",
            Box::new(|m| set_init(m, "s_w1", tensor("", &[4, 1], &[0.1; 4]))),
            &["node 'qw1'", "shape [4, 1]", "[3, 4]"],
        ),
        (
            "per-channel along inputs",
            Box::new(|m| set_init(m, "s_w1", tensor("", &[1, 4], &[0.1; 4]))),
            &["node 'fc1'", "per output channel"],
        ),
        (
            "missing scale",
            Box::new(|m| m.graph.as_mut().unwrap().node[2].input[1].clear()),
            &["node 'qw1'", "the scale (input 1) is missing"],
        ),
        (
            "signed activation",
            Box::new(|m| m.graph.as_mut().unwrap().node[5].attribute[0] = a_int("signed", 1)),
            &["node 'qa'", "signed activation quantizer"],
        ),
        (
            "trunc",
            Box::new(|m| m.graph.as_mut().unwrap().node[5].op_type = "Trunc".into()),
            &["node 'qa'", "Trunc is not supported", "floor-shift"],
        ),
        (
            "unknown qonnx op",
            Box::new(|m| m.graph.as_mut().unwrap().node[5].op_type = "MultiThreshold".into()),
            &["node 'qa'", "'MultiThreshold'", "Quant (IntQuant), BipolarQuant"],
        ),
        (
            "relu not quantized",
            Box::new(|m| {
                let g = m.graph.as_mut().unwrap();
                g.node.remove(5);
                g.node[6].input[0] = "relu_out".into();
            }),
            &["layer 'relu'", "ReLU without a quantizer"],
        ),
        (
            "input not quantized",
            Box::new(|m| {
                let g = m.graph.as_mut().unwrap();
                g.node.remove(0);
                g.node[0].input[0] = "x".into();
            }),
            &["graph input is not quantized"],
        ),
    ];
    for (what, edit, want) in cases {
        let mut m = base();
        edit(&mut m);
        let e = match load_model(&m) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(!e.contains('\n'), "{what}: {e}");
        for w in want {
            assert!(e.contains(w), "{what}: error {e:?} does not contain {w:?}");
        }
    }
    // The unchanged graph imports (so each case fails by its edit).
    load_model(&base()).unwrap();
}
