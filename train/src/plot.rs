//! SVG plots of the experiment results with [`plotters`]: integer accuracy vs bits (PACT, fixed clip, the FP32
//! line) and α per layer over training.

use crate::experiment::RunResult;
use plotters::prelude::*;

const W: u32 = 800;
const H: u32 = 500;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plotting: {e}")
}

/// Test accuracy (%) of the integer golden model against the inner W/A width, one series per method, and the
/// FP32 float accuracy as a horizontal line.
pub fn accuracy_vs_bits(runs: &[RunResult]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let fp = runs.iter().find(|r| r.method == "fp32").map(|r| 100.0 * r.float_acc);
        let series = |method: &str| -> Vec<(f64, f64)> {
            let mut v: Vec<(f64, f64)> = runs
                .iter()
                .filter(|r| r.method == method)
                .filter_map(|r| r.integer_acc.map(|a| (r.bits as f64, 100.0 * a)))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        };
        let (pact, clip) = (series("pact"), series("fixed-clip"));
        let ys: Vec<f64> = pact.iter().chain(&clip).map(|p| p.1).chain(fp).collect();
        let (lo, hi) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &y| (l.min(y), h.max(y)));
        let (lo, hi) = if lo.is_finite() {
            ((lo - 1.0).floor().max(0.0), (hi + 1.0).ceil().min(100.0))
        } else {
            (0.0, 100.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption("Test accuracy of the integer model vs bits (W = A)", ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5f64..8.5f64, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("inner weight/activation bits")
            .y_desc("test accuracy %")
            .x_labels(9)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(err)?;
        if let Some(f) = fp {
            chart
                .draw_series(LineSeries::new(vec![(0.5, f), (8.5, f)], BLACK.stroke_width(1)))
                .map_err(err)?
                .label(format!("FP32 ({f:.2} %)"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        for (name, pts, color) in [("PACT (learned α)", &pact, BLUE), ("fixed clip", &clip, RED)] {
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// α of every PACT activation over training (epoch 0 = the start), one line per configuration and layer.
pub fn alpha_over_training(runs: &[RunResult]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let lines: Vec<(String, &Vec<f32>)> = runs
            .iter()
            .filter(|r| r.method == "pact")
            .flat_map(|r| r.alpha.iter().map(move |(n, v)| (format!("{} {n}", r.config), v)))
            .collect();
        let epochs = lines.iter().map(|(_, v)| v.len()).max().unwrap_or(1).max(2) - 1;
        let amax = lines
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0f32, f32::max)
            .max(1.0) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("PACT α per layer over training", ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..epochs as f64, 0f64..amax * 1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("epoch (0 = start)")
            .y_desc("α")
            .draw()
            .map_err(err)?;
        for (i, (name, v)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = v.iter().enumerate().map(|(e, &a)| (e as f64, a as f64)).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        if !lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}
