//! Two data-movement kernels as candle custom ops, for speed on the CPU: the im2col unfolding of a convolution
//! and max pooling with stride = kernel. Each has its exact adjoint as the backward pass (col2im: the scatter-add
//! of the patches; max pooling: the gradient routed to the first maximum of each window, as PyTorch does).
//! The arithmetic of training stays in candle's autograd (the convolution is `weight · im2col(x)`); these ops
//! only move values. Both work on the channel-major layout `[C, n, H, W]`, f32 or f64, in parallel over rows or
//! channels.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

/// Geometry of an unfolding: kernel, stride, zero padding `[top, left, bottom, right]`, input and output sizes.
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    n: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    /// With stride 1: the output columns `lo..hi` whose input column `ox + kx − left` lies inside the image.
    #[inline]
    fn valid_cols(&self, kx: usize) -> (usize, usize) {
        let lo = self.pad_left.saturating_sub(kx).min(self.ow);
        let hi = (self.w + self.pad_left).saturating_sub(kx).min(self.ow);
        (lo, hi.max(lo))
    }

    /// Input row/column of output position `o` and kernel offset `k`, if inside the image.
    #[inline]
    fn src(o: usize, k: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        (o * stride + k).checked_sub(pad).filter(|&i| i < size)
    }
}

/// `[C, n, H, W]` → `[C·kh·kw, n·oh·ow]`: row `(c·kh + ky)·kw + kx`, column `(i·oh + oy)·ow + ox` holds
/// `x[c, i, oy·s + ky − top, ox·s + kx − left]` (0 outside the image).
struct Im2Col(Geom);

fn im2col<T: WithDType>(x: &[T], g: &Geom) -> Vec<T> {
    let cols = g.n * g.oh * g.ow;
    let mut dst = vec![T::zero(); g.c * g.kh * g.kw * cols];
    dst.par_chunks_mut(cols).enumerate().for_each(|(row, d)| {
        let (c, k) = (row / (g.kh * g.kw), row % (g.kh * g.kw));
        let (ky, kx) = (k / g.kw, k % g.kw);
        for i in 0..g.n {
            let plane = &x[(c * g.n + i) * g.h * g.w..(c * g.n + i + 1) * g.h * g.w];
            for oy in 0..g.oh {
                let Some(iy) = Geom::src(oy, ky, g.stride, g.pad_top, g.h) else {
                    continue;
                };
                let d = &mut d[(i * g.oh + oy) * g.ow..(i * g.oh + oy + 1) * g.ow];
                let src = &plane[iy * g.w..(iy + 1) * g.w];
                if g.stride == 1 {
                    // ix = ox + kx − left: one contiguous run of valid columns
                    let (lo, hi) = g.valid_cols(kx);
                    if lo < hi {
                        d[lo..hi].copy_from_slice(&src[lo + kx - g.pad_left..hi + kx - g.pad_left]);
                    }
                    continue;
                }
                for (ox, v) in d.iter_mut().enumerate() {
                    if let Some(ix) = Geom::src(ox, kx, g.stride, g.pad_left, g.w) {
                        *v = src[ix];
                    }
                }
            }
        }
    });
    dst
}

/// The adjoint of [`im2col`]: `[C·kh·kw, n·oh·ow]` → `[C, n, H, W]`, summing every patch entry into its pixel.
fn col2im<T: WithDType>(cols: &[T], g: &Geom) -> Vec<T> {
    let ncols = g.n * g.oh * g.ow;
    let mut dst = vec![T::zero(); g.c * g.n * g.h * g.w];
    dst.par_chunks_mut(g.n * g.h * g.w).enumerate().for_each(|(c, d)| {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &cols[((c * g.kh + ky) * g.kw + kx) * ncols..((c * g.kh + ky) * g.kw + kx + 1) * ncols];
                for i in 0..g.n {
                    for oy in 0..g.oh {
                        let Some(iy) = Geom::src(oy, ky, g.stride, g.pad_top, g.h) else {
                            continue;
                        };
                        let r = &row[(i * g.oh + oy) * g.ow..(i * g.oh + oy + 1) * g.ow];
                        let dr = &mut d[(i * g.h + iy) * g.w..(i * g.h + iy + 1) * g.w];
                        if g.stride == 1 {
                            // the same additions in the same order, over the contiguous run of valid columns
                            let (lo, hi) = g.valid_cols(kx);
                            if lo < hi {
                                let dr = &mut dr[lo + kx - g.pad_left..hi + kx - g.pad_left];
                                for (v, &a) in dr.iter_mut().zip(&r[lo..hi]) {
                                    *v += a;
                                }
                            }
                            continue;
                        }
                        for (ox, &a) in r.iter().enumerate() {
                            if let Some(ix) = Geom::src(ox, kx, g.stride, g.pad_left, g.w) {
                                dr[ix] += a;
                            }
                        }
                    }
                }
            }
        }
    });
    dst
}

fn contiguous<'a, T: WithDType>(v: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("custom op: contiguous tensors only"),
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col-cm"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let shape = Shape::from((g.c * g.kh * g.kw, g.n * g.oh * g.ow));
        match s {
            CpuStorage::F32(v) => Ok((CpuStorage::F32(im2col(contiguous(v, l)?, g)), shape)),
            CpuStorage::F64(v) => Ok((CpuStorage::F64(im2col(contiguous(v, l)?, g)), shape)),
            _ => candle_core::bail!("im2col: f32 or f64 only"),
        }
    }
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im(self.0))?))
    }
}

struct Col2Im(Geom);

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im-cm"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let shape = Shape::from((g.c, g.n, g.h, g.w));
        match s {
            CpuStorage::F32(v) => Ok((CpuStorage::F32(col2im(contiguous(v, l)?, g)), shape)),
            CpuStorage::F64(v) => Ok((CpuStorage::F64(col2im(contiguous(v, l)?, g)), shape)),
            _ => candle_core::bail!("col2im: f32 or f64 only"),
        }
    }
}

/// 2-D convolution in the channel-major layout as one matrix product, `weight · im2col(x)`: `x` is
/// `[C, n, H, W]`, `w` is `[O, C, kh, kw]`, the result `[O, n, oh, ow]`; zero padding `[top, left, bottom, right]`.
pub fn conv2d_cm(x: &Tensor, w: &Tensor, stride: usize, pad: [usize; 4]) -> Result<Tensor> {
    let (c, n, h, wd) = x.dims4()?;
    let (o, wc, kh, kw) = w.dims4()?;
    if wc != c {
        candle_core::bail!("conv: weight takes {wc} channels, input has {c}");
    }
    let (hp, wp) = (h + pad[0] + pad[2], wd + pad[1] + pad[3]);
    if stride == 0 || hp < kh || wp < kw {
        candle_core::bail!("conv: kernel {kh}×{kw} with stride {stride} does not fit {hp}×{wp}");
    }
    let (oh, ow) = ((hp - kh) / stride + 1, (wp - kw) / stride + 1);
    let g = Geom {
        c,
        n,
        h,
        w: wd,
        kh,
        kw,
        stride,
        pad_top: pad[0],
        pad_left: pad[1],
        oh,
        ow,
    };
    let cols = if kh == 1 && kw == 1 && stride == 1 && pad == [0; 4] {
        x.reshape((c, n * h * wd))?
    } else {
        x.contiguous()?.apply_op1(Im2Col(g))?
    };
    w.reshape((o, c * kh * kw))?.matmul(&cols)?.reshape((o, n, oh, ow))
}

/// Max pooling with stride = kernel `[kh, kw]` of `[C, n, H, W]` whose H and W are multiples of the kernel.
/// Backward: each window's gradient goes to its first maximum (row-major within the window).
struct MaxPool {
    kh: usize,
    kw: usize,
}

/// Index (into the plane) of the first maximum of window `(oy, ox)`.
#[inline]
fn argmax_window<T: WithDType>(plane: &[T], w: usize, kh: usize, kw: usize, oy: usize, ox: usize) -> usize {
    let mut best = oy * kh * w + ox * kw;
    for ky in 0..kh {
        for kx in 0..kw {
            let j = (oy * kh + ky) * w + ox * kw + kx;
            if plane[j] > plane[best] {
                best = j;
            }
        }
    }
    best
}

fn max_pool_fwd<T: WithDType>(x: &[T], planes: usize, h: usize, w: usize, kh: usize, kw: usize) -> Vec<T> {
    let (oh, ow) = (h / kh, w / kw);
    let mut dst = vec![T::zero(); planes * oh * ow];
    dst.par_chunks_mut(oh * ow).zip(x.par_chunks(h * w)).for_each(|(d, p)| {
        for oy in 0..oh {
            for ox in 0..ow {
                d[oy * ow + ox] = p[argmax_window(p, w, kh, kw, oy, ox)];
            }
        }
    });
    dst
}

fn max_pool_bwd<T: WithDType>(x: &[T], grad: &[T], planes: usize, h: usize, w: usize, kh: usize, kw: usize) -> Vec<T> {
    let (oh, ow) = (h / kh, w / kw);
    let mut dst = vec![T::zero(); planes * h * w];
    dst.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(grad.par_chunks(oh * ow))
        .for_each(|((d, p), g)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    d[argmax_window(p, w, kh, kw, oy, ox)] += g[oy * ow + ox];
                }
            }
        });
    dst
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "maxpool-cm"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (c, n, h, w) = l.shape().dims4()?;
        let shape = Shape::from((c, n, h / self.kh, w / self.kw));
        match s {
            CpuStorage::F32(v) => Ok((
                CpuStorage::F32(max_pool_fwd(contiguous(v, l)?, c * n, h, w, self.kh, self.kw)),
                shape,
            )),
            CpuStorage::F64(v) => Ok((
                CpuStorage::F64(max_pool_fwd(contiguous(v, l)?, c * n, h, w, self.kh, self.kw)),
                shape,
            )),
            _ => candle_core::bail!("maxpool: f32 or f64 only"),
        }
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &MaxPoolBack {
                kh: self.kh,
                kw: self.kw,
            },
        )?))
    }
}

struct MaxPoolBack {
    kh: usize,
    kw: usize,
}

impl CustomOp2 for MaxPoolBack {
    fn name(&self) -> &'static str {
        "maxpool-cm-backward"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (c, n, h, w) = l1.shape().dims4()?;
        let (kh, kw) = (self.kh, self.kw);
        match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => Ok((
                CpuStorage::F32(max_pool_bwd(
                    contiguous(x, l1)?,
                    contiguous(g, l2)?,
                    c * n,
                    h,
                    w,
                    kh,
                    kw,
                )),
                l1.shape().clone(),
            )),
            (CpuStorage::F64(x), CpuStorage::F64(g)) => Ok((
                CpuStorage::F64(max_pool_bwd(
                    contiguous(x, l1)?,
                    contiguous(g, l2)?,
                    c * n,
                    h,
                    w,
                    kh,
                    kw,
                )),
                l1.shape().clone(),
            )),
            _ => candle_core::bail!("maxpool backward: f32 or f64 only"),
        }
    }
}

/// Max pooling with stride = kernel over `[C, n, H, W]` (H, W multiples of the kernel). The gradient goes to the
/// first maximum of each window, as in PyTorch. (candle 0.11's own `max_pool2d` backward scales the gradient by
/// (number of maxima)/(window size), i.e. by 1/4 for a unique maximum in a 2×2 window.)
pub fn max_pool_cm(x: &Tensor, k: [usize; 2]) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if k[0] == 0 || k[1] == 0 || h % k[0] != 0 || w % k[1] != 0 {
        candle_core::bail!("maxpool: {h}×{w} is not a multiple of the kernel {k:?}");
    }
    x.contiguous()?.apply_op1(MaxPool { kh: k[0], kw: k[1] })
}
