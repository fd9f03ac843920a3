//! Export a float model to ONNX and dump test images with the float logits pact computes for them, for a check
//! with other ONNX tools (`scripts` are not needed: see docs/training.md, "ONNX export"):
//! `cargo run --release -p pact-train --example onnx_dump -- MODEL.json DATA N OUT_DIR` writes `OUT_DIR/model.onnx`
//! and `OUT_DIR/samples.json` (`{"scale": s, "shape": [C, H, W], "images": [[pixel codes]], "logits": [[..]]}`).

use anyhow::Context;
use pact_toolchain::data::{load, DataSpec, Split};
use pact_toolchain::forward::float_forward;
use pact_toolchain::import::statedict;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, data, n, out] = &args[..] else {
        anyhow::bail!("usage: onnx_dump MODEL.json DATA N OUT_DIR");
    };
    let m = statedict::load_arch(&PathBuf::from(model)).context("loading the model")?;
    let ds = load(&data.parse::<DataSpec>().expect("infallible"), Split::Test)?;
    let n: usize = n.parse()?;
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    pact_train::onnx::save_onnx(&m, &out.join("model.onnx"))?;
    let mut images = Vec::new();
    let mut logits = Vec::new();
    for i in 0..n.min(ds.len()) {
        images.push(ds.image(i).to_vec());
        logits.push(float_forward(&m, ds.image(i))?);
    }
    let trace = pact_toolchain::forward::float_trace(&m, ds.image(0))?;
    let names: Vec<String> = m.nodes.iter().map(|n| n.name.clone()).collect();
    let j = serde_json::json!({ "scale": m.input.scale, "shape": m.input.shape, "images": images, "logits": logits,
        "trace0": trace, "names": names });
    std::fs::write(out.join("samples.json"), serde_json::to_vec(&j)?)?;
    Ok(())
}
