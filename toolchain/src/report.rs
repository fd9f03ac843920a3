//! Human-readable summaries of a quantized model.

use crate::qmodel::{Output, QModel, QOp};

/// Multiply-accumulates of one layer per inference (0 for non-compute layers).
pub fn layer_macs(q: &QModel, i: usize) -> u64 {
    let l = &q.layers[i];
    match &l.op {
        QOp::Dense(c) => (c.weights.out * c.weights.fan_in) as u64,
        QOp::Conv2d(c) => (c.weights.out * c.weights.fan_in * l.out_shape[1] * l.out_shape[2]) as u64,
        _ => 0,
    }
}

/// Total MACs per inference.
pub fn total_macs(q: &QModel) -> u64 {
    (0..q.layers.len()).map(|i| layer_macs(q, i)).sum()
}

/// Total weight bits (Σ k_w × parameters).
pub fn weight_bits(q: &QModel) -> u64 {
    q.layers
        .iter()
        .filter_map(|l| l.op.compute())
        .map(|c| (c.weights.out * c.weights.fan_in) as u64 * c.weights.bits as u64)
        .sum()
}

fn shape(s: &[usize]) -> String {
    s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×")
}

/// The per-layer table printed by `pact inspect`.
pub fn inspect_table(q: &QModel) -> String {
    let mut s = String::new();
    let p = &q.provenance;
    s.push_str(&format!(
        "pact quantized model v{}  source: {}\nW{}A{} first/last {} bits, M0 {} bits, weights: {}\ninput: {} pixel codes (8 bits), scale {:.6e}\n\n",
        q.version, p.source, p.wbits, p.abits, p.first_last_bits, p.m0_bits, p.weight_quantizer, shape(&q.input.shape), q.input.scale
    ));
    let nw = q
        .layers
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    s.push_str(&format!(
        "{:<3} {:<nw$} {:<14} {:<12} {:>3} {:>3} {:>4} {:>10} {:>11} {:>11} {:>4} {:>9} {:>11} {:>9} {:>8}\n",
        "#",
        "layer",
        "op",
        "out shape",
        "w",
        "in",
        "out",
        "alpha",
        "s_in",
        "s_w",
        "acc",
        "params",
        "MACs",
        "max|dM|/M",
        "bias err"
    ));
    for (i, l) in q.layers.iter().enumerate() {
        let macs = layer_macs(q, i);
        let (w, inb, alpha, s_in, s_w, acc, params, err) = match l.op.compute() {
            Some(c) => {
                let (alpha, err) = match &c.output {
                    Output::Codes {
                        alpha, max_rel_error, ..
                    } => (
                        format!("{alpha:.4}"),
                        format!("{max_rel_error:.2e} {:>8.3}", c.max_bias_error),
                    ),
                    Output::Logits => ("logits".into(), format!("{:>9} {:>8.3}", "-", c.max_bias_error)),
                };
                (
                    c.weights.bits.to_string(),
                    c.in_bits.to_string(),
                    alpha,
                    format!("{:.4e}", c.in_scale),
                    format!("{:.4e}", c.weights.scale),
                    c.acc_bits.to_string(),
                    (c.weights.out * c.weights.fan_in + c.weights.out).to_string(),
                    err,
                )
            }
            None => {
                let alpha = match &l.op {
                    QOp::Add { alpha, .. } => format!("{alpha:.4}"),
                    _ => "-".into(),
                };
                (
                    "-".into(),
                    "-".into(),
                    alpha,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "0".into(),
                    "-".into(),
                )
            }
        };
        let out = if matches!(l.op.compute().map(|c| &c.output), Some(Output::Logits)) {
            "acc".to_string()
        } else {
            l.out_bits.to_string()
        };
        s.push_str(&format!(
            "{:<3} {:<nw$} {:<14} {:<12} {:>3} {:>3} {:>4} {:>10} {:>11} {:>11} {:>4} {:>9} {:>11} {:>9}\n",
            i,
            l.name,
            l.op.kind(),
            shape(&l.out_shape),
            w,
            inb,
            out,
            alpha,
            s_in,
            s_w,
            acc,
            params,
            macs,
            err
        ));
    }
    let params: usize = q
        .layers
        .iter()
        .filter_map(|l| l.op.compute())
        .map(|c| c.weights.out * c.weights.fan_in)
        .sum();
    s.push_str(&format!(
        "\ntotal: {} weights ({} weight bits = {:.1} KiB packed), {} MACs per inference, {} classes\n",
        params,
        weight_bits(q),
        weight_bits(q) as f64 / 8192.0,
        total_macs(q),
        q.classes()
    ));
    s.push_str(
        "max|dM|/M: relative error of M0/2^n; bias err: largest |b_int - exact bias|, in output codes (in accumulator units for logits)\n",
    );
    for n in &p.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}
