//! The comparison with the golden model: every image's class, logits and compute cycles with `==`; on the first
//! difference, the first differing layer and value.

use crate::design::{self, Design};
use crate::dut::{Dut, Streamed};
use anyhow::{Context, Result};
use pact_hdl::accel::plan::Bank;
use pact_hdl::accel::{AccelConfig, InjectedFault};
use pact_sim::BuildInfo;
use pact_toolchain::golden::{argmax, Golden};
use pact_toolchain::qmodel::QModel;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

/// The first differing value of a layer's output tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerDiff {
    /// Compute layer index in the plan (0 = first dense/conv layer).
    pub layer: usize,
    /// The compute layer's name in the model.
    pub name: String,
    /// Name of the max pool fused into it, whose output is what the layer stores (if any).
    pub pooled_by: Option<String>,
    /// Shape of the compared tensor, `[C, H, W]` (logits: `[classes, 1, 1]`).
    pub shape: [usize; 3],
    /// Values that differ, of `shape`'s product.
    pub count: usize,
    /// Index of the first differing value in C×H×W order, and its channel, row and column.
    pub index: usize,
    pub channel: usize,
    pub y: usize,
    pub x: usize,
    /// The RTL's and the golden model's value there: unsigned activation codes, or signed 32-bit logits.
    pub rtl: i32,
    pub golden: i32,
    /// Padding lanes of the stored words that are not 0 (they must be; 0 when the values themselves differ).
    pub bad_padding: usize,
}

impl fmt::Display for LayerDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [c, h, w] = self.shape;
        write!(f, "layer '{}' (compute layer {}", self.name, self.layer)?;
        if let Some(p) = &self.pooled_by {
            write!(f, ", stored after the fused pool '{p}'")?;
        }
        write!(f, ", output {c}×{h}×{w})")?;
        if self.count == 0 {
            return write!(f, ": {} padding lanes are not 0", self.bad_padding);
        }
        write!(
            f,
            ": {} of {} values differ, first at channel {}, y {}, x {} (index {}): RTL {}, golden {}",
            self.count,
            c * h * w,
            self.channel,
            self.y,
            self.x,
            self.index,
            self.rtl,
            self.golden
        )
    }
}

/// The first image whose outputs differ from the golden model, and where the difference starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the image in the data given (0-based).
    pub image: usize,
    /// What differed at the outputs, e.g. `class RTL 3, golden 5`, `logit 2: RTL -1200, golden -1180`,
    /// `compute cycles 67067, manifest 67066`, or a handshake error.
    pub outputs: Vec<String>,
    /// The first layer whose stored output differs (halting after each layer in turn), if it was located.
    pub layer: Option<LayerDiff>,
    /// Why the layer could not be located, if it was not.
    pub locate_note: Option<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "image {}: {}", self.image, self.outputs.join("; "))?;
        match (&self.layer, &self.locate_note) {
            (Some(l), _) => write!(f, "\n  first difference: image {}, {l}", self.image),
            (None, Some(n)) => write!(f, "\n  {n}"),
            (None, None) => Ok(()),
        }
    }
}

/// What a co-simulation found.
#[derive(Clone, Debug, Default)]
pub struct CoSimReport {
    /// Images compared (up to and including the first mismatching one).
    pub images: usize,
    /// The first mismatch; the run stops there. `None`: every image equal.
    pub mismatch: Option<Mismatch>,
    /// Images that produced a class (all compared images, unless a mismatch stopped one before its result).
    pub results: usize,
    /// Images whose RTL class equals the label (when labels were given).
    pub correct: usize,
    /// Labels were given.
    pub labelled: bool,
    /// Expected compute cycles per inference (the manifest's `timing.compute_cycles`).
    pub compute_cycles: u64,
    /// The manifest's `timing.total_cycles` (pixels at one per cycle plus compute cycles: one image's latency).
    pub total_cycles: u64,
    /// The manifest's `timing.interval_cycles` (cycles per image in a continuous stream).
    pub interval_cycles: u64,
    /// Clock cycles simulated for the stream of images (pixels in, compute, logits out; not the layer-by-layer runs).
    pub cycles: u64,
    /// Wall time of those cycles.
    pub seconds: f64,
    /// The design (set by [`run`]).
    pub design: Option<Design>,
    /// The Verilator build (set by [`run`]; `cache_hit`, times).
    pub build: Option<BuildInfo>,
    /// Which simulator ran (`verilator` or `icarus`).
    pub simulator: &'static str,
}

impl CoSimReport {
    /// 0 or 1: the run stops at the first mismatching image.
    pub fn mismatches(&self) -> usize {
        usize::from(self.mismatch.is_some())
    }

    /// Simulated clock cycles per second of wall time.
    pub fn cycles_per_second(&self) -> f64 {
        self.cycles as f64 / self.seconds.max(1e-9)
    }

    /// Top-1 accuracy of the RTL's classes against the labels over [`CoSimReport::results`], in percent (`None`
    /// without labels or results).
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled && self.results > 0).then(|| 100.0 * self.correct as f64 / self.results as f64)
    }
}

/// Options of [`check`].
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// The first `layered` images are also run layer by layer before their inference (halt after each compute
    /// layer, compare the stored tensor and its zero padding lanes with `Golden::trace`), even when their outputs
    /// are right.
    pub layered: usize,
    /// Random gaps in the pixel stream from this seed ([`Dut::set_input_gaps`]); `None`: one pixel per cycle.
    pub gap_seed: Option<u64>,
}

/// Compare `rtl` with `gold` (same length): count, first index.
fn diff(rtl: &[i32], gold: &[i32]) -> Option<(usize, usize)> {
    let n = rtl.iter().zip(gold).filter(|(a, b)| a != b).count();
    rtl.iter().zip(gold).position(|(a, b)| a != b).map(|i| (n, i))
}

/// Halt after every compute layer in turn on image `img` and compare the stored tensor with the golden trace; the
/// first layer that differs (or has nonzero padding lanes). The last layer's logits are compared too (layer halts
/// do not apply to it: its inference is run whole).
pub fn locate(dut: &mut Dut, q: &QModel, img: &[u8]) -> Result<Option<LayerDiff>> {
    let trace = Golden::new(q).trace(img);
    let layers = dut.plan().layers.clone();
    for (k, l) in layers.iter().enumerate() {
        let (stored, bad_padding, gold) = if l.dst == Bank::Logits {
            dut.infer(img)
                .with_context(|| format!("running to the logits of layer '{}'", l.name))?;
            (dut.logits()?, 0, &trace[l.out_qindex])
        } else {
            dut.run_to(img, k)
                .with_context(|| format!("halting after layer {k} '{}'", l.name))?;
            let (s, bad) = dut.stored(l)?;
            (s, bad, &trace[l.out_qindex])
        };
        let o = l.out_layout;
        let shape = if l.dst == Bank::Logits {
            [stored.len(), 1, 1]
        } else {
            [o.c, o.h, o.w]
        };
        let d = diff(&stored, gold);
        if d.is_some() || bad_padding != 0 || stored.len() != gold.len() {
            let (count, index) = d.unwrap_or((0, 0));
            let plane = shape[1] * shape[2];
            return Ok(Some(LayerDiff {
                layer: k,
                name: l.name.clone(),
                pooled_by: (l.out_qindex != l.qindex).then(|| q.layers[l.out_qindex].name.clone()),
                shape,
                count,
                index,
                channel: index / plane.max(1),
                y: index % plane.max(1) / shape[2].max(1),
                x: index % shape[2].max(1),
                rtl: stored.get(index).copied().unwrap_or(0),
                golden: gold.get(index).copied().unwrap_or(0),
                bad_padding,
            }));
        }
    }
    Ok(None)
}

/// The outputs of one streamed image that differ from the golden model's (empty: all equal).
fn compare(r: &Streamed, inf: &pact_toolchain::golden::Inference, compute_cycles: u64) -> Vec<String> {
    let mut outputs = Vec::new();
    if r.compute_cycles != compute_cycles {
        outputs.push(format!(
            "compute cycles {}, manifest {compute_cycles}",
            r.compute_cycles
        ));
    }
    if r.class != inf.class {
        outputs.push(format!("class RTL {}, golden {}", r.class, inf.class));
    }
    if r.class != argmax(&r.logits) {
        outputs.push(format!(
            "class RTL {} is not the argmax {} of the RTL's own logits",
            r.class,
            argmax(&r.logits)
        ));
    }
    if let Some((count, k)) = diff(&r.logits, &inf.logits) {
        outputs.push(format!(
            "{count} of {} logits differ, first logit {k}: RTL {}, golden {}",
            r.logits.len(),
            r.logits[k],
            inf.logits[k]
        ));
    }
    outputs
}

/// Stream `images` (`n × C·H·W` pixel codes) through `dut` back to back ([`Dut::stream`]: the next image loads
/// while the current one computes, every cycle of the handshake checked) and compare, for every image, the class,
/// every logit and the compute cycle count (`compute_cycles`, the manifest's figure) with the golden model using
/// `==`. Stops at the first mismatching image and locates its first differing layer ([`locate`], after a reset).
/// The first `opts.layered` images are also run layer by layer first. `labels` (one per image) give the accuracy.
/// `on_image` is called after each image with the number done.
pub fn check(
    dut: &mut Dut,
    q: &QModel,
    compute_cycles: u64,
    images: &[u8],
    labels: Option<&[u8]>,
    opts: &CheckOptions,
    on_image: &dyn Fn(usize),
) -> Result<CoSimReport> {
    let golden = Golden::new(q);
    let px = dut.plan().pixels();
    anyhow::ensure!(
        px > 0 && images.len() % px == 0,
        "{} pixel codes are not a whole number of {px}-pixel images",
        images.len()
    );
    let n = images.len() / px;
    if let Some(l) = labels {
        anyhow::ensure!(l.len() == n, "{} labels for {n} images", l.len());
    }
    let mut res = CoSimReport {
        compute_cycles,
        total_cycles: compute_cycles + px as u64,
        interval_cycles: dut.plan().interval_cycles() as u64,
        labelled: labels.is_some(),
        simulator: "verilator",
        ..Default::default()
    };
    dut.set_input_gaps(opts.gap_seed.map(ChaCha8Rng::seed_from_u64));
    for i in 0..n.min(opts.layered) {
        let img = &images[i * px..(i + 1) * px];
        let (outputs, layer) = match locate(dut, q, img) {
            Ok(None) => continue,
            Ok(Some(l)) => (vec!["stored intermediate tensor differs".into()], Some(l)),
            Err(e) => (vec![format!("{e:#}")], None),
        };
        res.images = i + 1;
        res.mismatch = Some(Mismatch {
            image: i,
            outputs,
            layer,
            locate_note: None,
        });
        return Ok(res);
    }
    let (t, c0) = (Instant::now(), dut.cycles());
    let mut bad: Option<(usize, Vec<String>)> = None;
    let (mut correct, mut delivered) = (0usize, 0usize);
    let streamed = dut.stream(images, &mut |i, r| {
        delivered = i + 1;
        let inf = golden.infer(&images[i * px..(i + 1) * px]);
        if labels.is_some_and(|l| l[i] as usize == r.class) {
            correct += 1;
        }
        on_image(i + 1);
        let outputs = compare(&r, &inf, compute_cycles);
        if outputs.is_empty() {
            Ok(true)
        } else {
            bad = Some((i, outputs));
            Ok(false)
        }
    });
    res.seconds = t.elapsed().as_secs_f64();
    res.cycles = dut.cycles() - c0;
    res.correct = correct;
    res.results = delivered;
    let (image, outputs) = match (streamed, bad) {
        (Ok(_), None) => {
            res.images = delivered;
            return Ok(res);
        }
        (Ok(_), Some(b)) => b,
        // A handshake or timing error: it concerns the first image without a delivered result.
        (Err(e), _) => (delivered.min(n.saturating_sub(1)), vec![format!("{e:#}")]),
    };
    res.images = image + 1;
    // Locate the first differing layer on that image alone, from a reset (other images may be in flight).
    let img = &images[image * px..(image + 1) * px];
    let (layer, locate_note) = match dut.reset().and_then(|()| locate(dut, q, img)) {
        Ok(Some(l)) => (Some(l), None),
        Ok(None) => (
            None,
            Some("no stored layer output differs when halting after each layer".into()),
        ),
        Err(e) => (None, Some(format!("locating the layer failed: {e:#}"))),
    };
    res.mismatch = Some(Mismatch {
        image,
        outputs,
        layer,
        locate_note,
    });
    Ok(res)
}

/// Options of [`run`].
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The array (PE × SIMD) and target.
    pub config: AccelConfig,
    /// For testing the checkers only: generate the design with this defect.
    pub fault: Option<InjectedFault>,
    /// Design cache folder (default [`design::default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// Write a VCD of the whole run here (written to `FILE.tmp`, renamed when complete).
    pub trace: Option<PathBuf>,
    /// See [`CheckOptions`].
    pub check: CheckOptions,
}

/// Generate (or reuse) the design for `q` on `opts.config`, verilate it (or hit the cache), and [`check`] the
/// images. Errors are about the setup (generation, Verilator, the data); a mismatch is in the report.
pub fn run(q: &QModel, images: &[u8], labels: Option<&[u8]>, opts: &RunOptions) -> Result<CoSimReport> {
    run_with_progress(q, images, labels, opts, &|_| {})
}

/// [`run`], calling `on_image` after each image with the number done.
pub fn run_with_progress(
    q: &QModel,
    images: &[u8],
    labels: Option<&[u8]>,
    opts: &RunOptions,
    on_image: &dyn Fn(usize),
) -> Result<CoSimReport> {
    let cache = opts.cache_dir.clone().unwrap_or_else(design::default_cache_dir);
    let design = design::prepare(q, &opts.config, opts.fault, &cache)?;
    let model = design::verilate(&design, opts.trace.is_some())?;
    let tmp = opts.trace.as_ref().map(|p| {
        let mut t = p.clone().into_os_string();
        t.push(".tmp");
        PathBuf::from(t)
    });
    let mut dut = Dut::with_trace(&model, &design.report.plan, tmp.as_deref())?;
    let mut res = check(
        &mut dut,
        q,
        design.compute_cycles,
        images,
        labels,
        &opts.check,
        on_image,
    )?;
    if let (Some(t), Some(p)) = (&tmp, &opts.trace) {
        dut.trace_close();
        std::fs::rename(t, p).with_context(|| format!("renaming {} to {}", t.display(), p.display()))?;
    }
    res.build = Some(model.build_info().clone());
    res.design = Some(design);
    Ok(res)
}
