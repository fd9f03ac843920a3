//! The Verilated accelerator behind its ports (docs/accelerator.md, "Interface and timing").

use anyhow::{bail, Context, Result};
use pact_hdl::accel::plan::{Bank, LayerPlan, Plan};
use pact_sim::{Model, PortId, Sim};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// What one inference produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inferred {
    /// `out_class` (16 bits, unsigned) in the cycle `out_valid` was high.
    pub class: usize,
    /// Rising edges from the one that took the last pixel to the one after which `out_valid` is high (the
    /// manifest's `timing.compute_cycles` when the design is right).
    pub compute_cycles: u64,
}

/// One result of [`Dut::stream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streamed {
    /// `out_class` in the cycle `out_valid` was high.
    pub class: usize,
    /// The logits read through the debug port in the cycles after the result (while the next image computes).
    pub logits: Vec<i32>,
    /// Rising edges from the image's start to the one after which `out_valid` is high. The start is the edge that
    /// took its last pixel, or, when the previous image was still computing then, the edge that ended the previous
    /// result's `out_valid` cycle (the manifest's `timing.compute_cycles` when the design is right).
    pub compute_cycles: u64,
}

/// One instance of the Verilated accelerator (top module [`Design::top`]), with its port handles and the plan it was built
/// from. Pixels are fed one per cycle with the valid/ready handshake; results and stored tensors are read through
/// the debug port. Every method advances the clock: [`Dut::cycles`] counts all of them.
pub struct Dut {
    sim: Sim,
    plan: Plan,
    rst: PortId,
    in_valid: PortId,
    in_data: PortId,
    in_ready: PortId,
    out_valid: PortId,
    out_class: PortId,
    busy: PortId,
    done: PortId,
    stop_en: PortId,
    stop_layer: PortId,
    sel: PortId,
    lane: PortId,
    addr: PortId,
    data: PortId,
    gaps: Option<ChaCha8Rng>,
}

impl Dut {
    /// A fresh instance of `model` (a design generated for `plan`), held in reset for two cycles. Fails if the
    /// design lacks one of the accelerator's ports.
    pub fn new(model: &Model, plan: &Plan) -> Result<Self> {
        Self::with_trace(model, plan, None)
    }

    /// [`Dut::new`], writing a VCD of every cycle from the reset on to `vcd` if given (the model must be built with
    /// tracing, see [`crate::design::verilate`]).
    pub fn with_trace(model: &Model, plan: &Plan, vcd: Option<&Path>) -> Result<Self> {
        let mut sim = model.sim().context("creating a simulation instance")?;
        if let Some(p) = vcd {
            sim.trace(p)
                .with_context(|| format!("opening the VCD {}", p.display()))?;
        }
        let p = |n: &str| sim.port(n).context("the design is not a pact accelerator");
        let mut d = Dut {
            rst: p("rst")?,
            in_valid: p("in_valid")?,
            in_data: p("in_data")?,
            in_ready: p("in_ready")?,
            out_valid: p("out_valid")?,
            out_class: p("out_class")?,
            busy: p("busy")?,
            done: p("done")?,
            stop_en: p("dbg_stop_en")?,
            stop_layer: p("dbg_stop_layer")?,
            sel: p("dbg_sel")?,
            lane: p("dbg_lane")?,
            addr: p("dbg_addr")?,
            data: p("dbg_data")?,
            sim,
            plan: plan.clone(),
            gaps: None,
        };
        d.reset()?;
        Ok(d)
    }

    /// From now on, hold `in_valid` low for 1–3 cycles before a pixel with probability 1/4, drawn from `rng`
    /// (the handshake allows gaps; the compute cycles count from the last pixel and do not change). `None`: one
    /// pixel per cycle.
    pub fn set_input_gaps(&mut self, rng: Option<ChaCha8Rng>) {
        self.gaps = rng;
    }

    /// The plan the design was generated from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The simulation (for ports and tracing beyond this API).
    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Clock cycles simulated so far (reset included).
    pub fn cycles(&self) -> u64 {
        self.sim.cycles()
    }

    /// Stop writing the VCD (flushes and closes it).
    pub fn trace_close(&mut self) {
        self.sim.trace_close();
    }

    /// Stream one image in: `pixels` are unsigned 8-bit codes in C×H×W order, one accepted per rising edge with
    /// `in_valid & in_ready` (plus gaps if enabled). Returns right after the edge that took the last pixel.
    fn feed(&mut self, pixels: &[u8]) -> Result<()> {
        if pixels.len() != self.plan.pixels() {
            bail!(
                "an image of {} pixels, the design takes {}",
                pixels.len(),
                self.plan.pixels()
            );
        }
        if self.sim.get(self.busy) != 0 || self.sim.get(self.in_ready) != 1 {
            bail!("not idle (busy low, in_ready high) before the first pixel");
        }
        for (i, &px) in pixels.iter().enumerate() {
            let gap = self
                .gaps
                .as_mut()
                .map_or(0, |r| if r.gen_ratio(1, 4) { r.gen_range(1..=3) } else { 0 });
            if gap > 0 {
                self.sim.set(self.in_valid, 0);
                self.sim.set(self.in_data, 0);
                for _ in 0..gap {
                    self.sim.tick()?;
                    if self.sim.get(self.in_ready) != 1 {
                        bail!("in_ready fell during an input gap before pixel {i}");
                    }
                }
            }
            if self.sim.get(self.in_ready) != 1 {
                bail!("in_ready low at pixel {i}");
            }
            self.sim.set(self.in_valid, 1);
            self.sim.set(self.in_data, px as u64);
            self.sim.tick()?;
            if i + 1 < pixels.len() && self.sim.get(self.busy) != 1 {
                bail!("busy low after pixel {i}");
            }
        }
        self.sim.set(self.in_valid, 0);
        // One buffer: it is held until the result. Two: the other one takes the next image.
        let want = u64::from(self.plan.input_buffers == 2);
        if self.sim.get(self.in_ready) != want {
            bail!(
                "in_ready {} after the last pixel with {} input buffer(s)",
                self.sim.get(self.in_ready),
                self.plan.input_buffers
            );
        }
        Ok(())
    }

    /// Run one image to its result. Checks the handshake (`in_ready` high while pixels are taken and, with one input
    /// buffer, low after the last; `busy` high during the inference; after the `out_valid` pulse `done` high, `busy` low and `out_class`
    /// held) and counts the compute cycles; gives up after twice the plan's count plus 1000.
    pub fn infer(&mut self, pixels: &[u8]) -> Result<Inferred> {
        self.sim.set(self.stop_en, 0);
        self.feed(pixels)?;
        let limit = 2 * self.plan.compute_cycles() as u64 + 1000;
        let mut n = 0u64;
        loop {
            self.sim.tick()?;
            n += 1;
            if self.sim.get(self.out_valid) == 1 {
                break;
            }
            if n >= limit {
                bail!("no out_valid within {limit} cycles after the last pixel");
            }
        }
        let class = self.sim.get(self.out_class) as usize;
        self.sim.tick()?;
        if self.sim.get(self.out_valid) != 0 || self.sim.get(self.done) != 1 || self.sim.get(self.busy) != 0 {
            bail!("after the result: out_valid should fall, done rise, busy fall");
        }
        if self.sim.get(self.out_class) as usize != class {
            bail!("out_class did not hold after out_valid");
        }
        Ok(Inferred {
            class,
            compute_cycles: n,
        })
    }

    /// Pulse `rst` for two cycles: the controller and the loader go back to idle with empty input buffers.
    pub fn reset(&mut self) -> Result<()> {
        self.sim.set(self.in_valid, 0);
        self.sim.set(self.stop_en, 0);
        self.sim.set(self.rst, 1);
        self.sim.run(2)?;
        self.sim.set(self.rst, 0);
        Ok(())
    }

    /// Stream `images` (`n × pixels` codes) back to back: a pixel is offered in every cycle (gaps if enabled) and
    /// taken whenever `in_ready` is high, so the next image loads while the current one computes (two input
    /// buffers). After each `out_valid` the logits are read through the debug port while the next image runs.
    /// `on_result(i, result)` is called for every image in order; it returns `false` to stop the stream.
    ///
    /// Every cycle is checked against the interface's timing contract (docs/accelerator.md), from the events seen
    /// so far: `in_ready` is high exactly while fewer than `input_buffers` images are held (an image is held from
    /// its last pixel to the edge after its `out_valid` cycle); `out_valid` comes only for an image that started;
    /// `busy` is high exactly while an image is in flight, `done` exactly while the compute is idle after a
    /// result. The compute cycles of each image are returned for the caller to compare. Any deviation is an error
    /// naming the image and the edge. Returns the number of images whose result was delivered.
    pub fn stream(
        &mut self,
        images: &[u8],
        on_result: &mut dyn FnMut(usize, Streamed) -> Result<bool>,
    ) -> Result<usize> {
        let px = self.plan.pixels();
        anyhow::ensure!(
            px > 0 && images.len() % px == 0,
            "{} pixel codes are not a whole number of {px}-pixel images",
            images.len()
        );
        let n = images.len() / px;
        let buffers = self.plan.input_buffers;
        let compute = self.plan.compute_cycles() as u64;
        let (pe, classes) = (self.plan.pe, self.plan.classes);
        if self.sim.get(self.busy) != 0 || self.sim.get(self.in_ready) != 1 {
            bail!("not idle (busy low, in_ready high) before the stream");
        }
        self.sim.set(self.stop_en, 0);
        self.sim.set(self.sel, Bank::Logits.code() as u64);
        // Loader: image and pixel being offered, gap cycles left before it.
        let (mut li, mut lp, mut gap, mut draw) = (0usize, 0usize, 0u32, true);
        // Images whose last pixel was taken: their last-pixel edges, in order.
        let mut loaded: Vec<u64> = Vec::with_capacity(n);
        // Images finished (result seen) and released (the edge after the result passed).
        let (mut results, mut released) = (0usize, 0usize);
        let mut result_edges: Vec<u64> = Vec::with_capacity(n);
        let mut done_seen = self.sim.get(self.done) == 1;
        // The logits being read for result `reading`: next class to address, values so far.
        let mut reading: Option<(usize, usize, Vec<i32>, Streamed)> = None;
        let mut delivered = 0usize;
        let mut edge = 0u64;
        // Image `i` starts at its last pixel, or (two buffers) at the edge after the previous result if that is later.
        let start_of = |i: usize, loaded: &[u64], results: &[u64]| match i.checked_sub(1) {
            Some(p) if buffers == 2 => loaded[i].max(results[p] + 1),
            _ => loaded[i],
        };
        loop {
            // Drive this cycle's inputs.
            // Before each pixel, a gap of 1–3 cycles with probability 1/4 (if gaps are enabled).
            if draw && li < n {
                draw = false;
                if let Some(r) = self.gaps.as_mut() {
                    if r.gen_ratio(1, 4) {
                        gap = r.gen_range(1..=3);
                    }
                }
            }
            let offer = li < n && gap == 0;
            self.sim.set(self.in_valid, u64::from(offer));
            self.sim
                .set(self.in_data, if offer { images[li * px + lp] as u64 } else { 0 });
            let read_class = reading.as_ref().map(|r| r.1);
            if let Some(c) = read_class {
                self.sim.set(self.lane, (c % pe) as u64);
                self.sim.set(self.addr, (c / pe) as u64);
            }
            // The contract's expectations for this cycle, from the events so far.
            let held = loaded.len() - released;
            let ready_want = held < buffers;
            let ready = self.sim.get(self.in_ready) == 1;
            if ready != ready_want {
                bail!(
                    "edge {edge} (image {}): in_ready {} but {held} image(s) held in {buffers} input buffer(s)",
                    li.min(n - 1),
                    u8::from(ready)
                );
            }
            let computing = results < loaded.len() || result_edges.len() > released;
            let busy_want = held > 0 || lp > 0 || computing;
            if (self.sim.get(self.busy) == 1) != busy_want {
                bail!(
                    "edge {edge}: busy {} but an image in flight is {busy_want}",
                    self.sim.get(self.busy)
                );
            }
            let idle = !computing;
            let done_want = idle && done_seen;
            if (self.sim.get(self.done) == 1) != done_want {
                bail!(
                    "edge {edge}: done {} but the compute is {} after {results} result(s)",
                    self.sim.get(self.done),
                    if idle { "idle" } else { "busy" }
                );
            }
            self.sim.tick()?;
            edge += 1;
            // What the edge did.
            if result_edges.len() > released && edge == result_edges[released] + 1 {
                released += 1;
            }
            if offer && ready {
                draw = true;
                lp += 1;
                if lp == px {
                    loaded.push(edge);
                    li += 1;
                    lp = 0;
                }
            } else {
                gap = gap.saturating_sub(1);
            }
            if let (Some(c), Some((_, _, vals, _))) = (read_class, reading.as_mut()) {
                vals.push(self.sim.get(self.data) as u32 as i32);
                if c + 1 == classes {
                    let (i, _, vals, mut out) = reading.take().expect("reading");
                    out.logits = vals;
                    delivered += 1;
                    if !on_result(i, out)? {
                        return Ok(delivered);
                    }
                } else if let Some(r) = reading.as_mut() {
                    r.1 += 1;
                }
            }
            if self.sim.get(self.out_valid) == 1 {
                let i = results;
                if i >= loaded.len() {
                    bail!("edge {edge}: out_valid for image {i}, whose last pixel was not taken yet");
                }
                if reading.is_some() {
                    bail!(
                        "edge {edge}: result of image {i} while the logits of image {} are still being read",
                        i - 1
                    );
                }
                let start = start_of(i, &loaded, &result_edges);
                result_edges.push(edge);
                results += 1;
                done_seen = true;
                reading = Some((
                    i,
                    0,
                    Vec::with_capacity(classes),
                    Streamed {
                        class: self.sim.get(self.out_class) as usize,
                        logits: Vec::new(),
                        compute_cycles: edge - start,
                    },
                ));
            } else if results < loaded.len() {
                let i = results;
                let start = start_of(i, &loaded, &result_edges);
                if edge > start + 2 * compute + 1000 {
                    bail!(
                        "image {i}: no out_valid within {} cycles of its start",
                        2 * compute + 1000
                    );
                }
            }
            if delivered == n && reading.is_none() && released == results {
                break;
            }
        }
        self.sim.set(self.in_valid, 0);
        Ok(delivered)
    }

    /// Run one image and halt after compute layer `layer` (`dbg_stop_en`, `dbg_stop_layer`): its output stays in
    /// its bank for [`Dut::stored`]. Checks that the halt comes exactly after the plan's cycles of layers
    /// `0..=layer`.
    pub fn run_to(&mut self, pixels: &[u8], layer: usize) -> Result<()> {
        if layer >= self.plan.layers.len() {
            bail!(
                "layer {layer}: the design has {} compute layers",
                self.plan.layers.len()
            );
        }
        self.sim.set(self.stop_en, 1);
        self.sim.set(self.stop_layer, layer as u64);
        self.feed(pixels)?;
        let want: usize = (0..=layer).map(|i| self.plan.layer_cycles(i)).sum();
        self.sim.run(want as u64)?;
        self.sim.set(self.stop_en, 0);
        if self.sim.get(self.done) != 1 || self.sim.get(self.in_ready) != 1 {
            bail!("not halted after layer {layer} within the plan's {want} cycles");
        }
        Ok(())
    }

    /// Read one word through the debug port (one cycle): `sel` picks the memory, `lane` the lane (the PE for
    /// logits), `addr` the word. Codes come back zero-extended, logits as 32-bit two's complement (use
    /// [`Dut::logits`]). Activation memories are readable while `in_ready` is high.
    pub fn read(&mut self, sel: Bank, lane: usize, addr: usize) -> Result<u64> {
        self.sim.set(self.sel, sel.code() as u64);
        self.sim.set(self.lane, lane as u64);
        self.sim.set(self.addr, addr as u64);
        self.sim.tick()?;
        Ok(self.sim.get(self.data))
    }

    /// The logits of the last inference (the last layer's signed 32-bit accumulators plus bias), in class order.
    pub fn logits(&mut self) -> Result<Vec<i32>> {
        let pe = self.plan.pe;
        (0..self.plan.classes)
            .map(|c| Ok(self.read(Bank::Logits, c % pe, c / pe)? as u32 as i32))
            .collect()
    }

    /// The output tensor of compute layer `l` as stored in its bank (after [`Dut::run_to`] that layer), unsigned
    /// codes in C×H×W order (after a fused pool: the pooled tensor), plus the number of padding lanes (channels
    /// `C..` of the last word of a position) that are not 0 (must be 0).
    pub fn stored(&mut self, l: &LayerPlan) -> Result<(Vec<i32>, usize)> {
        let simd = self.plan.simd;
        let o = l.out_layout;
        let mut out = vec![0i32; o.c * o.h * o.w];
        let mut bad_pad = 0;
        for pos in 0..o.h * o.w {
            for wi in 0..o.cw {
                for s in 0..simd {
                    let v = self.read(l.dst, s, pos * o.cw + wi)? as i32;
                    let c = wi * simd + s;
                    if c < o.c {
                        out[c * o.h * o.w + pos] = v;
                    } else if v != 0 {
                        bad_pad += 1;
                    }
                }
            }
        }
        Ok((out, bad_pad))
    }
}
