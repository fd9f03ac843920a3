//! SVG charts for the `sweep` and `run` reports ([`plotters`]): lines with markers over numeric axes, and bars.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

const W: u32 = 800;
const H: u32 = 480;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

/// One line of an [`xy`] chart.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points `(x, y)`; drawn in this order.
    pub points: Vec<(f64, f64)>,
}

/// The range of `v` with a margin, never empty.
fn span(v: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite() && (!log || *x > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.05).max(1e-9);
        ((lo - pad).min(if lo >= 0.0 { 0.0 } else { lo - pad }), hi + pad)
    }
}

const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// A line chart with markers. `log_x` / `log_y` use logarithmic axes (non-positive values are left out).
pub fn xy(title: &str, x_desc: &str, y_desc: &str, series: &[Series], log_x: bool, log_y: bool) -> Result<String> {
    let y = span(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), log_y);
    xy_in(title, x_desc, y_desc, series, log_x, log_y, y)
}

/// [`xy`] on a linear y axis spanning the values with a margin of `pad` on either side (not from 0), clamped to
/// `limits`: for values that differ little, such as accuracies.
pub fn xy_tight(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    pad: f64,
    limits: (f64, f64),
) -> Result<String> {
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    let y = if lo.is_finite() {
        ((lo - pad).max(limits.0), (hi + pad).min(limits.1))
    } else {
        limits
    };
    xy_in(title, x_desc, y_desc, series, false, false, y)
}

fn xy_in(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
    (y0, y1): (f64, f64),
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = span(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), log_x);
        let mut b = ChartBuilder::on(&root);
        b.caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70);
        // plotters' log and linear coordinates are different types; draw through one generic function.
        match (log_x, log_y) {
            (false, false) => draw(
                b.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?,
                x_desc,
                y_desc,
                series,
            ),
            (true, false) => draw(
                b.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(err)?,
                x_desc,
                y_desc,
                series,
            ),
            (false, true) => draw(
                b.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(err)?,
                x_desc,
                y_desc,
                series,
            ),
            (true, true) => draw(
                b.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                    .map_err(err)?,
                x_desc,
                y_desc,
                series,
            ),
        }?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn draw<'a, X, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<()>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A bar chart: one bar per `(label, value)`, values ≥ 0.
pub fn bars(title: &str, y_desc: &str, bars: &[(String, f64)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let top = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
        let n = bars.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)
            .map_err(err)?;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let mut r = Rectangle::new(
                    [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), b.1)],
                    BLUE.mix(0.7).filled(),
                );
                r.set_margin(0, 0, 8, 8);
                r
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_the_labels() {
        let s = xy(
            "t",
            "bits",
            "LUT4 per MAC",
            &[Series {
                name: "MAC".into(),
                points: vec![(2.0, 31.0), (16.0, 832.0)],
            }],
            true,
            true,
        )
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("LUT4 per MAC") && s.contains("MAC"));
        let b = bars("u", "%", &[("LUT".into(), 50.0), ("BRAM".into(), 20.0)]).unwrap();
        assert!(b.contains("BRAM") && b.contains("<rect"));
        let one = bars("u", "%", &[("LUT".into(), 50.0)]).unwrap();
        assert!(one.contains("LUT"));
        // A tight axis: 95..97 on a 0..100 scale would be one flat line; the labels show the values' range.
        let acc = [Series {
            name: "pact".into(),
            points: vec![(2.0, 95.5), (8.0, 97.0)],
        }];
        let t = xy_tight("a", "bits", "%", &acc, 1.0, (0.0, 100.0)).unwrap();
        let labels: Vec<&str> = t
            .split("</text>")
            .filter_map(|p| p.rsplit('>').next())
            .map(str::trim)
            .collect();
        assert!(labels.iter().any(|l| l.starts_with("95")), "{labels:?}");
        assert!(!labels.iter().any(|l| l.starts_with("20")), "{labels:?}");
    }
}
