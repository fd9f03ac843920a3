//! The integer matrix product of the golden model: `c[i][o] = Σ_k a[i][k]·w[o][k]` on `i16` operands, accumulated
//! in `i32` with wrap-around, for many rows at once (all the patches of an image, or a batch of images).
//!
//! Exactness: every product of two `i16` fits an `i32`, and the sum of two such products overflows only for
//! `(−32768)·(−32768) + (−32768)·(−32768) = 2^31`, where the hardware instruction (`vpmaddwd`) wraps to `−2^31` just
//! as [`i32::wrapping_add`] does. Addition modulo 2^32 is associative and commutative, so any order of the sum
//! gives the same `i32` as the golden model's sequential wrapping sum, bit for bit.
//!
//! Kernels, chosen at run time with `is_x86_feature_detected!`: AVX-512 VNNI (`vpdpwssd` on 32 output channels
//! × 6 rows per step), AVX2 (`vpmaddwd` on 16 output channels × 4 rows) and a portable fallback computing the same thing element by element. The weights
//! are packed once ([`PackedWeights`]): for each block of 16 output channels, for each pair of inputs `(2k, 2k+1)`,
//! the 16 channels' two weights side by side, so one broadcast pair of activations times one packed vector gives
//! 8 channels' partial sums.

/// Output channels per packed block.
pub const BLOCK: usize = 16;

/// Rows of `a` per kernel step.
const ROWS: usize = 4;

/// Weights `w[out][fan]` packed for [`gemm`]: `out` rounded up to [`BLOCK`] channels and `fan` to an even count,
/// both with zeros.
#[derive(Clone, Debug)]
pub struct PackedWeights {
    out: usize,
    fan: usize,
    /// Pairs of inputs (`fan` rounded up to even, halved).
    pairs: usize,
    data: Vec<i16>,
}

impl PackedWeights {
    /// Pack `w` (row-major `out × fan`). Panics if `w.len() != out·fan`.
    pub fn new(w: &[i16], out: usize, fan: usize) -> Self {
        assert_eq!(w.len(), out * fan, "weight matrix size");
        let pairs = fan.div_ceil(2);
        let blocks = out.div_ceil(BLOCK);
        let mut data = vec![0i16; blocks * pairs * 2 * BLOCK];
        for o in 0..out {
            let (b, c) = (o / BLOCK, o % BLOCK);
            for k in 0..fan {
                data[(b * pairs + k / 2) * 2 * BLOCK + 2 * c + k % 2] = w[o * fan + k];
            }
        }
        PackedWeights { out, fan, pairs, data }
    }

    /// Output channels.
    pub fn out(&self) -> usize {
        self.out
    }

    /// Inputs per output channel.
    pub fn fan(&self) -> usize {
        self.fan
    }

    /// Row stride of the activations [`gemm`] takes: `fan` rounded up to even.
    pub fn lda(&self) -> usize {
        2 * self.pairs
    }

    /// Row stride of the result [`gemm`] writes: `out` rounded up to [`BLOCK`].
    pub fn ldc(&self) -> usize {
        self.out.div_ceil(BLOCK) * BLOCK
    }

    fn blocks(&self) -> usize {
        self.out.div_ceil(BLOCK)
    }
}

/// Which kernel [`gemm`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The fastest this CPU supports.
    Auto,
    /// AVX2 (`vpmaddwd`) if the CPU has it, else portable (for the tests: AVX-512 CPUs would never run it).
    Avx2,
    /// The portable element-by-element loop.
    Portable,
}

/// `c[i·ldc + o] = Σ_k a[i·lda + k]·w[o][k]` (wrapping `i32`) for `i < rows`, `o < ldc` (channels past `out` get 0),
/// with `lda`/`ldc` of `w` ([`PackedWeights::lda`], [`PackedWeights::ldc`]). `a`'s padding column (odd `fan`) must
/// be 0. Panics if `a` or `c` is too short.
pub fn gemm(a: &[i16], rows: usize, w: &PackedWeights, c: &mut [i32], kernel: Kernel) {
    let (lda, ldc) = (w.lda(), w.ldc());
    assert!(a.len() >= rows * lda, "activation matrix too short");
    assert!(c.len() >= rows * ldc, "result matrix too short");
    #[cfg(all(target_arch = "x86_64", pact_avx512))]
    #[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
    if kernel == Kernel::Auto
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vnni")
    {
        // SAFETY: AVX-512F and VNNI are present; the slice lengths were checked above.
        unsafe { x86::gemm_vnni(a, rows, w, c) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if kernel != Kernel::Portable && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present; the slice lengths were checked above.
        unsafe { x86::gemm_avx2(a, rows, w, c) };
        return;
    }
    let _ = kernel;
    gemm_portable(a, rows, w, c);
}

fn gemm_portable(a: &[i16], rows: usize, w: &PackedWeights, c: &mut [i32]) {
    let (lda, ldc, pairs) = (w.lda(), w.ldc(), w.pairs);
    for i in 0..rows {
        let ar = &a[i * lda..(i + 1) * lda];
        for b in 0..w.blocks() {
            let mut acc = [0i32; BLOCK];
            let wb = &w.data[b * pairs * 2 * BLOCK..(b + 1) * pairs * 2 * BLOCK];
            for (p, wp) in wb.chunks_exact(2 * BLOCK).enumerate() {
                let (a0, a1) = (ar[2 * p] as i32, ar[2 * p + 1] as i32);
                for (s, wc) in acc.iter_mut().zip(wp.chunks_exact(2)) {
                    // what vpmaddwd computes: the pair's sum wraps (only for four −32768 operands)
                    let pair = (a0 * wc[0] as i32).wrapping_add(a1 * wc[1] as i32);
                    *s = s.wrapping_add(pair);
                }
            }
            c[i * ldc + b * BLOCK..i * ldc + (b + 1) * BLOCK].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{PackedWeights, BLOCK, ROWS};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2; `a.len() ≥ rows·lda`, `c.len() ≥ rows·ldc`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gemm_avx2(a: &[i16], rows: usize, w: &PackedWeights, c: &mut [i32]) {
        let mut i = 0;
        while i + ROWS <= rows {
            block_rows::<ROWS>(a, i, w, c);
            i += ROWS;
        }
        while i < rows {
            block_rows::<1>(a, i, w, c);
            i += 1;
        }
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 VNNI; `a.len() ≥ rows·lda`, `c.len() ≥ rows·ldc`.
    #[cfg(pact_avx512)]
    #[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn gemm_vnni(a: &[i16], rows: usize, w: &PackedWeights, c: &mut [i32]) {
        let mut i = 0;
        while i + 6 <= rows {
            vnni_rows::<6>(a, i, w, c);
            i += 6;
        }
        while i < rows {
            vnni_rows::<1>(a, i, w, c);
            i += 1;
        }
    }

    /// Rows `i0..i0 + R` against every block of output channels, two blocks at a time: `vpdpwssd` adds the
    /// two products of a pair to each channel's accumulator (wrapping, as `vpmaddwd` + `vpaddd`).
    #[cfg(pact_avx512)]
    #[allow(clippy::incompatible_msrv)] // only built by Rust ≥ 1.89 (build.rs)
    #[target_feature(enable = "avx512f,avx512vnni")]
    #[inline]
    unsafe fn vnni_rows<const R: usize>(a: &[i16], i0: usize, w: &PackedWeights, c: &mut [i32]) {
        let (lda, ldc, pairs) = (w.lda(), w.ldc(), w.pairs);
        let ap = a.as_ptr().add(i0 * lda) as *const i32;
        let blocks = w.blocks();
        let mut b = 0;
        while b < blocks {
            let two = b + 1 < blocks;
            let wp0 = w.data.as_ptr().add(b * pairs * 2 * BLOCK) as *const __m512i;
            let wp1 = if two {
                w.data.as_ptr().add((b + 1) * pairs * 2 * BLOCK) as *const __m512i
            } else {
                wp0
            };
            let mut acc = [[_mm512_setzero_si512(); 2]; R];
            for p in 0..pairs {
                let w0 = _mm512_loadu_si512(wp0.add(p));
                let w1 = _mm512_loadu_si512(wp1.add(p));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(std::ptr::read_unaligned(ap.add(r * lda / 2 + p)));
                    acc[0] = _mm512_dpwssd_epi32(acc[0], x, w0);
                    acc[1] = _mm512_dpwssd_epi32(acc[1], x, w1);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let dst = c.as_mut_ptr().add((i0 + r) * ldc + b * BLOCK);
                _mm512_storeu_si512(dst as *mut __m512i, acc[0]);
                if two {
                    _mm512_storeu_si512(dst.add(BLOCK) as *mut __m512i, acc[1]);
                }
            }
            b += 2;
        }
    }

    /// Rows `i0..i0 + R` against every block of output channels.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn block_rows<const R: usize>(a: &[i16], i0: usize, w: &PackedWeights, c: &mut [i32]) {
        let (lda, ldc, pairs) = (w.lda(), w.ldc(), w.pairs);
        // activations of row r as pairs: one i32 = (a[2p], a[2p+1])
        let ap = a.as_ptr().add(i0 * lda) as *const i32;
        for b in 0..w.blocks() {
            let wp = w.data.as_ptr().add(b * pairs * 2 * BLOCK) as *const __m256i;
            let mut acc = [[_mm256_setzero_si256(); 2]; R];
            for p in 0..pairs {
                let w0 = _mm256_loadu_si256(wp.add(2 * p));
                let w1 = _mm256_loadu_si256(wp.add(2 * p + 1));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_epi32(std::ptr::read_unaligned(ap.add(r * lda / 2 + p)));
                    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x, w0));
                    acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x, w1));
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let dst = c.as_mut_ptr().add((i0 + r) * ldc + b * BLOCK) as *mut __m256i;
                _mm256_storeu_si256(dst, acc[0]);
                _mm256_storeu_si256(dst.add(1), acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The golden model's own sum: sequential, wrapping.
    fn naive(a: &[i16], rows: usize, w: &[i16], out: usize, fan: usize) -> Vec<i32> {
        let mut c = vec![0i32; rows * out];
        for i in 0..rows {
            for o in 0..out {
                c[i * out + o] = (0..fan).fold(0i32, |s, k| {
                    s.wrapping_add(a[i * fan + k] as i32 * w[o * fan + k] as i32)
                });
            }
        }
        c
    }

    fn check(a: &[i16], rows: usize, w: &[i16], out: usize, fan: usize) {
        let pw = PackedWeights::new(w, out, fan);
        let (lda, ldc) = (pw.lda(), pw.ldc());
        let mut ap = vec![0i16; rows * lda];
        for i in 0..rows {
            ap[i * lda..i * lda + fan].copy_from_slice(&a[i * fan..(i + 1) * fan]);
        }
        let want = naive(a, rows, w, out, fan);
        for kernel in [Kernel::Auto, Kernel::Avx2, Kernel::Portable] {
            let mut c = vec![7i32; rows * ldc];
            gemm(&ap, rows, &pw, &mut c, kernel);
            for i in 0..rows {
                assert_eq!(
                    &c[i * ldc..i * ldc + out],
                    &want[i * out..(i + 1) * out],
                    "{kernel:?} row {i}"
                );
                assert!(
                    c[i * ldc + out..(i + 1) * ldc].iter().all(|&v| v == 0),
                    "{kernel:?} padding"
                );
            }
        }
    }

    #[test]
    fn edges_match_the_sequential_wrapping_sum() {
        // every (rows, out, fan) shape class: row tails, partial blocks, odd fan-in
        for (rows, out, fan) in [
            (1, 1, 1),
            (4, 16, 2),
            (5, 17, 3),
            (9, 33, 9),
            (7, 10, 144),
            (3, 256, 784),
        ] {
            // most negative weights against the largest codes: the accumulator's worst case
            let a = vec![255i16; rows * fan];
            check(&a, rows, &vec![-255i16; out * fan], out, fan);
            check(&a, rows, &vec![255i16; out * fan], out, fan);
            // the i16 extremes: products of 2^30, pair sums that wrap, long sums that wrap
            check(&vec![i16::MIN; rows * fan], rows, &vec![i16::MIN; out * fan], out, fan);
            check(&vec![i16::MAX; rows * fan], rows, &vec![i16::MIN; out * fan], out, fan);
        }
    }

    #[test]
    fn random_operands_match_the_sequential_wrapping_sum() {
        let seed = 0x5eed_0001;
        println!("seed {seed:#x}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..50 {
            let (rows, out, fan) = (rng.gen_range(1..40), rng.gen_range(1..70), rng.gen_range(1..300));
            let wide = rng.gen_bool(0.3);
            let mut val = |lo: i16, hi: i16| -> i16 {
                if wide {
                    rng.gen()
                } else {
                    rng.gen_range(lo..=hi)
                }
            };
            let a: Vec<i16> = (0..rows * fan).map(|_| val(0, 255)).collect();
            let w: Vec<i16> = (0..out * fan).map(|_| val(-255, 255)).collect();
            check(&a, rows, &w, out, fan);
        }
    }
}
