//! Window geometry shared by the golden (integer) and the float evaluators: conv patches (im2col) and pooling
//! windows over a C×H×W tensor stored row-major, with zero padding `[top, left, bottom, right]`.

/// Gather the conv patch (`c × k[0] × k[1]`, in `[c][ky][kx]` order) whose top-left corner is input row
/// `y0 − pad_top`, column `x0 − pad_left`; cells outside the image are `zero`. `conv` converts each element.
#[allow(clippy::too_many_arguments)]
pub fn im2col<T: Copy, U: Copy>(
    x: &[T],
    [c, h, w]: [usize; 3],
    k: [usize; 2],
    [y0, x0]: [usize; 2],
    [pt, pl]: [usize; 2],
    zero: U,
    conv: impl Fn(T) -> U,
    patch: &mut [U],
) {
    let mut p = 0;
    for ch in 0..c {
        for ky in 0..k[0] {
            let iy = (y0 + ky).wrapping_sub(pt);
            for kx in 0..k[1] {
                let ix = (x0 + kx).wrapping_sub(pl);
                patch[p] = if iy < h && ix < w {
                    conv(x[(ch * h + iy) * w + ix])
                } else {
                    zero
                };
                p += 1;
            }
        }
    }
}

/// Apply `f` to every pooling window of `x` (shape `C×H×W`, output `C×OH×OW` given by `out`); cells outside the
/// image are skipped, so a padded cell never wins a max and never counts in a mean.
pub fn pool<T: Copy, R>(
    x: &[T],
    shape: &[usize],
    out: &[usize],
    k: [usize; 2],
    s: [usize; 2],
    pad: [usize; 4],
    f: impl Fn(&[T]) -> R,
) -> Vec<R> {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let (oh, ow) = (out[1], out[2]);
    let mut y = Vec::with_capacity(c * oh * ow);
    let mut win = Vec::with_capacity(k[0] * k[1]);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                win.clear();
                for ky in 0..k[0] {
                    let iy = (oy * s[0] + ky).wrapping_sub(pad[0]);
                    for kx in 0..k[1] {
                        let ix = (ox * s[1] + kx).wrapping_sub(pad[1]);
                        if iy < h && ix < w {
                            win.push(x[(ch * h + iy) * w + ix]);
                        }
                    }
                }
                y.push(f(&win));
            }
        }
    }
    y
}
