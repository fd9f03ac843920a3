//! The quantizers of training against the integer contract: forward values (ties included), the exact
//! straight-through gradients at hand-picked points, and finite-difference checks of the surrogate gradients
//! away from the kinks.

use candle_core::{Device, Tensor, Var};
use pact_toolchain::contract;
use pact_train::quant::{dorefa, pact, pact_clip};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn t1(v: &[f32]) -> Tensor {
    Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
}
fn scalar(v: f32) -> Var {
    Var::from_tensor(&Tensor::new(v, &Device::Cpu).unwrap()).unwrap()
}
fn vec1(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// ∂y/∂x and ∂y/∂α of the training PACT (STE) at one point.
fn pact_grads(x: f32, alpha: f32, bits: u32) -> (f32, f32, f32) {
    let xv = Var::from_tensor(&t1(&[x])).unwrap();
    let a = scalar(alpha);
    let y = pact(xv.as_tensor(), a.as_tensor(), bits, true).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    let gx = vec1(g.get(xv.as_tensor()).unwrap())[0];
    let ga = g.get(a.as_tensor()).map_or(0.0, |t| t.to_scalar::<f32>().unwrap());
    (vec1(&y)[0], gx, ga)
}

#[test]
fn pact_ste_gradients_at_hand_picked_points() {
    let alpha = 2.0;
    // (x, ∂y/∂x, ∂y/∂α): x < 0, 0 < x < α, x = α, x > α.
    for (x, dx, da) in [
        (-1.0, 0.0, 0.0),
        (-0.001, 0.0, 0.0),
        (0.7, 1.0, 0.0),
        (1.999, 1.0, 0.0),
        (2.0, 0.0, 1.0),
        (3.5, 0.0, 1.0),
        (100.0, 0.0, 1.0),
    ] {
        for bits in [2, 4, 8] {
            let (y, gx, ga) = pact_grads(x, alpha, bits);
            assert_eq!((gx, ga), (dx, da), "x = {x}, bits {bits}: (∂y/∂x, ∂y/∂α)");
            let want = (contract::pact_code(x as f64, alpha as f64, bits) as f64 * alpha as f64
                / contract::code_max(bits) as f64) as f32;
            assert!(
                (y - want).abs() <= 1e-6,
                "x = {x}, bits {bits}: forward {y}, contract {want}"
            );
        }
    }
}

#[test]
fn pact_rounds_half_up_at_ties() {
    // α = 3 at 2 bits: step 1, so x = k + 1/2 is an exact tie. Half up gives k + 1 (half-even would give 0, 2, 2).
    let a = scalar(3.0);
    let x = t1(&[0.5, 1.5, 2.5, 0.49999997, 2.9999998, 3.0, -0.5]);
    let want = [1.0, 2.0, 3.0, 0.0, 3.0, 3.0, 0.0];
    for train in [false, true] {
        let y = vec1(&pact(&x, a.as_tensor(), 2, train).unwrap());
        assert_eq!(y, want, "train = {train}");
    }
    // Codes match the contract for a sweep of values at every width.
    let xs: Vec<f32> = (-40..=400).map(|i| i as f32 * 0.0125).collect();
    for bits in 1..=8 {
        let alpha = 3.7f32;
        let y = vec1(&pact(&t1(&xs), scalar(alpha).as_tensor(), bits, false).unwrap());
        let step = alpha as f64 / contract::code_max(bits) as f64;
        for (x, y) in xs.iter().zip(&y) {
            let want = (contract::pact_code(*x as f64, alpha as f64, bits) as f64 * step) as f32;
            assert_eq!(*y, want, "x = {x}, bits {bits}");
        }
    }
}

#[test]
fn pact_finite_differences_away_from_kinks() {
    let seed = 11;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let alpha = 1.7f32;
    let n = 200;
    let mut xs = Vec::new();
    while xs.len() < n {
        let x: f32 = rng.gen_range(-1.0..3.0);
        if x.abs() > 0.05 && (x - alpha).abs() > 0.05 {
            xs.push(x);
        }
    }
    let c: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    // Loss L = Σ c·y. The STE gradient of the quantized PACT equals the gradient of the unrounded clip.
    let xv = Var::from_tensor(&t1(&xs)).unwrap();
    let a = scalar(alpha);
    let y = pact(xv.as_tensor(), a.as_tensor(), 3, true).unwrap();
    let g = (y * t1(&c)).unwrap().sum_all().unwrap().backward().unwrap();
    let gx = vec1(g.get(xv.as_tensor()).unwrap());
    let ga = g.get(a.as_tensor()).unwrap().to_scalar::<f32>().unwrap() as f64;
    let clip = |x: f64, a: f64| x.clamp(0.0, a);
    let loss = |xs: &[f64], a: f64| xs.iter().zip(&c).map(|(&x, &c)| c as f64 * clip(x, a)).sum::<f64>();
    let xs64: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    let h = 1e-3;
    for i in 0..n {
        let mut p = xs64.clone();
        p[i] += h;
        let mut m = xs64.clone();
        m[i] -= h;
        let fd = (loss(&p, alpha as f64) - loss(&m, alpha as f64)) / (2.0 * h);
        assert!(
            (fd - gx[i] as f64).abs() < 1e-6,
            "x = {}: FD {fd}, autograd {}",
            xs[i],
            gx[i]
        );
    }
    let fd_a = (loss(&xs64, alpha as f64 + h) - loss(&xs64, alpha as f64 - h)) / (2.0 * h);
    assert!((fd_a - ga).abs() < 1e-4, "∂L/∂α: FD {fd_a}, autograd {ga}");
    // And the candle expression of the clip itself.
    let y = vec1(&pact_clip(&t1(&xs), a.as_tensor()).unwrap());
    for (x, y) in xs.iter().zip(&y) {
        assert!((clip(*x as f64, alpha as f64) - *y as f64).abs() < 1e-6);
    }
}

#[test]
fn dorefa_forward_matches_the_contract() {
    let seed = 12;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f32> = (0..999).map(|_| rng.gen_range(-0.8..0.8)).collect();
    let mut w0 = w.clone();
    w0[5] = 0.0; // sign(0) = +1 at one bit
    for bits in 1..=8 {
        let (idx, scale) = contract::dorefa_weights(&w0, bits);
        let want: Vec<f32> = idx
            .iter()
            .map(|&i| (scale * contract::decode_weight(i as u32, bits) as f64) as f32)
            .collect();
        let exact = vec1(&dorefa(&t1(&w0), bits, true).unwrap());
        assert_eq!(exact, want, "bits {bits}: exact path");
        let fast = vec1(&dorefa(&t1(&w0), bits, false).unwrap());
        let diff = fast.iter().zip(&want).filter(|(a, b)| (*a - *b).abs() > 1e-6).count();
        assert!(
            diff <= 1,
            "bits {bits}: the f32 path differs from the contract on {diff} weights"
        );
    }
    assert!(vec1(&dorefa(&t1(&w0), 1, false).unwrap())[5] > 0.0, "sign(0) = +1");
    assert_eq!(vec1(&dorefa(&t1(&w), 32, false).unwrap()), w, "32 bits: float weights");
}

#[test]
fn dorefa_finite_differences_away_from_kinks() {
    let seed = 13;
    println!("seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = 64;
    let mut w: Vec<f32> = (0..n).map(|_| rng.gen_range(-0.9..0.9)).collect();
    w[7] = 1.4; // a unique maximum of |tanh(w)|: the max is differentiable there
    let c: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    // Surrogate: Σ c·tanh(w)/max|tanh(w)| (the STE replaces only the rounding).
    let loss = |w: &[f64]| {
        let m = w.iter().map(|x| x.tanh().abs()).fold(0.0, f64::max);
        w.iter().zip(&c).map(|(x, &c)| c as f64 * x.tanh() / m).sum::<f64>()
    };
    let w64: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    for bits in [2, 4, 8] {
        {
            let wv = Var::from_tensor(&t1(&w)).unwrap();
            let q = dorefa(wv.as_tensor(), bits, false).unwrap();
            let g = (q * t1(&c)).unwrap().sum_all().unwrap().backward().unwrap();
            let gw = vec1(g.get(wv.as_tensor()).unwrap());
            let h = 1e-4;
            for i in 0..n {
                let mut p = w64.clone();
                p[i] += h;
                let mut m = w64.clone();
                m[i] -= h;
                let fd = (loss(&p) - loss(&m)) / (2.0 * h);
                assert!(
                    (fd - gw[i] as f64).abs() < 2e-4 * (1.0 + fd.abs()),
                    "bits {bits}, w[{i}]: FD {fd}, autograd {}",
                    gw[i]
                );
            }
        }
    }
    // One bit: sign(w)·mean|w| with the STE: ∂/∂w = 1.
    let wv = Var::from_tensor(&t1(&w)).unwrap();
    let g = dorefa(wv.as_tensor(), 1, false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(vec1(g.get(wv.as_tensor()).unwrap()).iter().all(|&d| d == 1.0));
}

/// The parallel `quant::tanh` gives candle's `tanh` values and gradients bit for bit (a tensor large enough to
/// take the parallel path, and a second use of the input so the gradient is a sum).
#[test]
fn parallel_tanh_is_candles_tanh_bit_for_bit() {
    let seed = 11u64;
    println!("seed {seed}");
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 8.0
    };
    let n = 40_000;
    let mut v: Vec<f32> = (0..n).map(|_| next()).collect();
    v[..6].copy_from_slice(&[0.0, -0.0, 20.0, -20.0, 1e-30, f32::MIN_POSITIVE]);
    let c: Vec<f32> = (0..n).map(|_| next()).collect();
    let c = Tensor::from_vec(c, n, &Device::Cpu).unwrap();
    let run = |ours: bool| {
        let w = Var::from_vec(v.clone(), n, &Device::Cpu).unwrap();
        let t = if ours {
            pact_train::quant::tanh(w.as_tensor()).unwrap()
        } else {
            w.as_tensor().tanh().unwrap()
        };
        let loss = ((t.clone() * &c).unwrap() + w.as_tensor().sqr().unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let g = loss
            .backward()
            .unwrap()
            .get(w.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        (t.to_vec1::<f32>().unwrap(), g)
    };
    let (a, b) = (run(true), run(false));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.0), bits(&b.0), "values");
    assert_eq!(bits(&a.1), bits(&b.1), "gradients");
}
