//! The integer contract: hand-worked requantization cases (ties, both clamps), properties against exact rational
//! arithmetic, accumulator bounds reached by constructed worst-case inputs, DoReFa levels for every width.

use pact_toolchain::contract::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

/// floor(p / q) for q > 0, in i128 (independent of the `>>` used by the code under test).
fn floor_div(p: i128, q: i128) -> i128 {
    p.div_euclid(q)
}

/// The exact result: clamp(floor(acc·m0/2^shift + 1/2), 0, 2^bits − 1), via rationals.
fn exact_requant(acc: i64, m0: u32, shift: u32, bits: u32) -> u32 {
    let num = 2 * acc as i128 * m0 as i128 + (1i128 << shift);
    let v = floor_div(num, 1i128 << (shift + 1));
    v.clamp(0, (1i128 << bits) - 1) as u32
}

#[test]
fn requantize_hand_worked() {
    // (acc, m0, shift, bits, expected) worked by hand.
    let cases: &[(i64, u32, u32, u32, u32)] = &[
        (5, 3, 2, 4, 4),     // 15/4 = 3.75 → 4
        (2, 3, 2, 4, 2),     // 6/4 = 1.5, a tie → rounds up to 2
        (10, 1, 2, 4, 3),    // 2.5 → 3 (tie up, not to even)
        (6, 1, 2, 4, 2),     // 1.5 → 2
        (-2, 1, 2, 4, 0),    // −0.5, a tie → rounds up to 0
        (-3, 1, 2, 4, 0),    // −0.75 → −1 → clamped to 0 (the ReLU)
        (-1000, 7, 3, 8, 0), // very negative → 0
        (58, 1, 2, 4, 15),   // 14.5 → 15 = max code exactly
        (60, 1, 2, 4, 15),   // 15.0 → 15
        (62, 1, 2, 4, 15),   // 15.5 → 16 → clamped to 15 (the clip at α)
        (1 << 30, 65535, 16, 8, 255),
        (1, 1, 1, 1, 1), // 0.5 → 1, one-bit output
        (0, 65535, 20, 8, 0),
    ];
    for &(acc, m0, shift, bits, want) in cases {
        assert_eq!(
            requantize(acc, m0, shift, bits),
            want,
            "acc={acc} m0={m0} shift={shift} bits={bits}"
        );
        assert_eq!(
            exact_requant(acc, m0, shift, bits),
            want,
            "hand-worked expectation {acc} {m0} {shift}"
        );
    }
}

/// Exhaustive over small operands, where exact ties (acc·m0 an odd multiple of 2^(shift−1)) are frequent.
#[test]
fn requantize_exhaustive_small() {
    let mut ties = 0;
    for shift in 1..=8u32 {
        for m0 in 0..64u32 {
            for acc in -300i64..=300 {
                for bits in [1u32, 2, 4, 8] {
                    assert_eq!(
                        requantize(acc, m0, shift, bits),
                        exact_requant(acc, m0, shift, bits),
                        "acc={acc} m0={m0} shift={shift} bits={bits}"
                    );
                }
                ties += usize::from((acc * m0 as i64).rem_euclid(1 << shift) == 1 << (shift - 1));
            }
        }
    }
    assert!(ties > 10_000, "the sweep covers many ties ({ties})");
}

#[test]
fn round_half_up_ties() {
    assert_eq!(round_half_up(0.5), 1.0);
    assert_eq!(round_half_up(1.5), 2.0);
    assert_eq!(round_half_up(2.5), 3.0); // ties_even would give 2
    assert_eq!(round_half_up(-0.5), 0.0); // f64::round would give −1
    assert_eq!(round_half_up(-1.5), -1.0);
    assert_eq!(round_half_up(-1.51), -2.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..ProptestConfig::default() })]

    /// When M = m0/2^shift exactly, the integer code equals the exactly rounded rational result.
    #[test]
    fn requantize_exact_when_representable(acc in -(1i64 << 31)..(1i64 << 31), m0 in 0u32..(1 << 16), shift in 1u32..=MAX_SHIFT, bits in 1u32..=8) {
        prop_assert_eq!(requantize(acc, m0, shift, bits), exact_requant(acc, m0, shift, bits));
    }

    /// For any real M the fixed-point code is within one code of the exactly rounded result of acc·M.
    #[test]
    fn requantize_within_one_code(acc in -(1i64 << 24)..(1i64 << 24), mant in 1u64..(1u64 << 52), exp in -40i32..-2, bits in 1u32..=8) {
        let m = mant as f64 * 2f64.powi(exp - 52); // a dyadic rational, exact in f64
        let fm = FixedMultiplier::from_real(m, 16).unwrap();
        let got = requantize(acc, fm.m0, fm.shift, bits) as i128;
        // exact: floor(acc·mant·2^(exp−52) + 1/2)
        let sh = (52 - exp) as u32;
        let want = floor_div(2 * acc as i128 * mant as i128 + (1i128 << sh), 1i128 << (sh + 1)).clamp(0, (1 << bits) - 1);
        prop_assert!((got - want).abs() <= 1, "m={} acc={} got={} want={}", m, acc, got, want);
    }
}

#[test]
fn fixed_multiplier_precision_and_limits() {
    for &m in &[1e-9, 3.7e-5, 0.001234, 0.25, 0.3333333, 0.999, 1.0, 17.5, 16383.0] {
        for bits in [8u32, 16, 24] {
            let Ok(fm) = FixedMultiplier::from_real(m, bits) else {
                assert!(
                    m >= (1u32 << (bits - 1)) as f64,
                    "only too-large m fail: m={m} bits={bits}"
                );
                continue;
            };
            assert!(fm.m0 < 1 << bits, "m0 fits");
            assert!((1..=MAX_SHIFT).contains(&fm.shift));
            if fm.shift < MAX_SHIFT {
                assert!(fm.m0 >= 1 << (bits - 1), "m0 {} uses all {bits} bits for m={m}", fm.m0);
                assert!(
                    fm.rel_error() <= 2f64.powi(-(bits as i32 - 1)),
                    "m={m} bits={bits} err={}",
                    fm.rel_error()
                );
            }
        }
    }
    let fm = FixedMultiplier::from_real(0.25, 16).unwrap();
    assert_eq!((fm.m0, fm.shift, fm.rel_error()), (32768, 17, 0.0));
    assert_eq!(FixedMultiplier::from_real(0.0, 16).unwrap().m0, 0);
    let e = FixedMultiplier::from_real(40000.0, 16).unwrap_err().to_string();
    assert_eq!(
        e,
        "requantization multiplier 4.000000e4 is too large for a 16-bit M0 with a shift of at least 1"
    );
    assert_eq!(
        FixedMultiplier::from_real(-1.0, 16).unwrap_err().to_string(),
        "requantization multiplier -1 must be finite and >= 0"
    );
    assert_eq!(
        FixedMultiplier::from_real(f64::NAN, 16).unwrap_err().to_string(),
        "requantization multiplier NaN must be finite and >= 0"
    );
    assert_eq!(
        FixedMultiplier::from_real(0.5, 40).unwrap_err().to_string(),
        "M0 width 40 is out of range 2..=31 bits"
    );
}

#[test]
fn exact_divider_matches_rounded_division() {
    for k in 1u32..=64 {
        let max_sum = k * 255;
        let d = exact_divider(k, max_sum, 16).unwrap();
        for s in 0..=max_sum as i64 {
            let want = ((2 * s + k as i64) / (2 * k as i64)) as u32; // floor(s/k + 1/2)
            assert_eq!(requantize(s, d.m0, d.shift, 8), want, "k={k} s={s}");
        }
    }
    assert_eq!(
        exact_divider(0, 10, 16).unwrap_err().to_string(),
        "average over zero elements"
    );
}

#[test]
fn accumulator_bound_is_reached_and_tight() {
    let seed = 0x00AC_C0DE_u64;
    println!("seed = {seed:#x}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for trial in 0..200 {
        let in_bits = rng.gen_range(1..=8);
        let w_bits = rng.gen_range(1..=8);
        let n = rng.gen_range(1..300);
        let max_code = code_max(in_bits);
        // Include the extremes on purpose: most negative and most positive weight everywhere in some trials.
        let w: Vec<i32> = (0..n)
            .map(|_| match trial % 4 {
                0 => decode_weight(0, w_bits),
                1 => decode_weight(code_max(w_bits), w_bits),
                _ => decode_weight(rng.gen_range(0..=code_max(w_bits)), w_bits),
            })
            .collect();
        let bias: i64 = rng.gen_range(-100_000..100_000);
        let (lo, hi) = acc_range(max_code, &w, bias);
        // Worst-case inputs: max code where the weight helps, 0 elsewhere.
        let a_hi: Vec<i64> = w.iter().map(|&x| if x > 0 { max_code as i64 } else { 0 }).collect();
        let a_lo: Vec<i64> = w.iter().map(|&x| if x < 0 { max_code as i64 } else { 0 }).collect();
        let acc = |a: &[i64]| a.iter().zip(&w).map(|(&a, &w)| a * w as i64).sum::<i64>() + bias;
        assert_eq!(acc(&a_hi), hi, "max reached");
        assert_eq!(acc(&a_lo), lo, "min reached");
        // Random inputs never exceed the bound.
        for _ in 0..20 {
            let a: Vec<i64> = (0..n).map(|_| rng.gen_range(0..=max_code as i64)).collect();
            let v = acc(&a);
            assert!(lo <= v && v <= hi);
        }
        let width = acc_width(max_code, [(w.as_slice(), bias)]);
        let fits = |wd: u32, v: i64| v >= -(1i64 << (wd - 1)) && v < (1i64 << (wd - 1));
        assert!(fits(width, lo) && fits(width, hi), "width {width} holds [{lo}, {hi}]");
        assert!(
            width == 2 || !(fits(width - 1, lo) && fits(width - 1, hi)),
            "width {width} is the smallest"
        );
    }
}

#[test]
fn signed_width_edges() {
    assert_eq!(signed_width(0, 0), 2);
    assert_eq!(signed_width(-2, 1), 2);
    assert_eq!(signed_width(-3, 1), 3);
    assert_eq!(signed_width(0, 2), 3);
    assert_eq!(signed_width(-128, 127), 8);
    assert_eq!(signed_width(-129, 127), 9);
    assert_eq!(signed_width(0, 128), 9);
    assert_eq!(signed_width(i32::MIN as i64, i32::MAX as i64), 32);
}

#[test]
fn weight_decoding_every_width() {
    for k in 1..=8u32 {
        let levels: Vec<i32> = (0..=code_max(k)).map(|i| decode_weight(i, k)).collect();
        assert_eq!(levels.len(), 1 << k);
        assert_eq!(levels[0], -(code_max(k) as i32), "most negative weight, k={k}");
        assert_eq!(*levels.last().unwrap(), code_max(k) as i32);
        for (i, &l) in levels.iter().enumerate() {
            assert_eq!(l.rem_euclid(2), 1, "odd level");
            assert_eq!(decode_weight(negate_weight_index(i as u32, k), k), -l, "symmetric");
            // Hardware decode: append a 1 as LSB, invert the new MSB, read as k+1-bit two's complement.
            let raw = (((i as u32) << 1) | 1) ^ (1 << k);
            let hw = if raw & (1 << k) != 0 {
                raw as i32 - (1 << (k + 1))
            } else {
                raw as i32
            };
            assert_eq!(hw, l, "free hardware decode, k={k} i={i}");
        }
    }
    assert_eq!(decode_weight(0, 1), -1);
    assert_eq!(decode_weight(1, 1), 1);
}

/// DoReFa from the formula in f64, independently: w_q = 2·round((2^k−1)·f(w))/(2^k−1) − 1.
fn dorefa_ref(w: &[f32], k: u32) -> Vec<f64> {
    let n = ((1u32 << k) - 1) as f64;
    let m = w.iter().map(|&x| (x as f64).tanh().abs()).fold(0.0, f64::max);
    w.iter()
        .map(|&x| 2.0 * ((n * ((x as f64).tanh() / (2.0 * m) + 0.5)) + 0.5).floor() / n - 1.0)
        .collect()
}

#[test]
fn dorefa_levels_exact_for_every_width() {
    let w: Vec<f32> = (-200..=200).map(|i| i as f32 / 80.0).collect();
    for k in 2..=8u32 {
        let (idx, s) = dorefa_weights(&w, k);
        assert_eq!(s, 1.0 / code_max(k) as f64);
        let want = dorefa_ref(&w, k);
        for (j, &i) in idx.iter().enumerate() {
            let level = s * decode_weight(i as u32, k) as f64;
            assert!(
                (level - want[j]).abs() < 1e-12,
                "k={k} w={} level={level} want={}",
                w[j],
                want[j]
            );
        }
        // Extremes map to the end codes; 0 sits on a tie between the two middle levels and rounds up.
        assert_eq!(idx[0] as u32, 0, "most negative weight → index 0");
        assert_eq!(*idx.last().unwrap() as u32, code_max(k));
        assert_eq!(
            idx[200] as u32,
            1 << (k - 1),
            "w = 0 is a tie, rounds half up to level +1/(2^k−1)"
        );
        assert_eq!(decode_weight(idx[200] as u32, k), 1);
    }
    // k = 1: sign with a mean-|w| scale; sign(0) = +1.
    let (idx, s) = dorefa_weights(&[-2.0, 0.0, 1.0, -1.0], 1);
    assert_eq!(idx, vec![0, 1, 1, 0]);
    assert_eq!(s, 1.0);
}

#[test]
fn maxabs_levels() {
    let w = [-3.0f32, -1.0, 0.0, 0.5, 3.0];
    let (idx, s) = maxabs_weights(&w, 2); // levels ±1, ±3 times s = 1
    assert_eq!(s, 1.0);
    let dec: Vec<i32> = idx.iter().map(|&i| decode_weight(i as u32, 2)).collect();
    assert_eq!(dec, vec![-3, -1, 1, 1, 3]); // 0 and 0.5 round up to +1
}

#[test]
fn pact_code_edges() {
    let a = 2.0;
    assert_eq!(pact_code(-1.0, a, 4), 0, "x < 0");
    assert_eq!(pact_code(0.0, a, 4), 0);
    assert_eq!(pact_code(a, a, 4), 15, "x = α gives the max code");
    assert_eq!(pact_code(5.0, a, 4), 15, "x > α clips");
    let step = a / 15.0;
    assert_eq!(pact_code(step * 0.5, a, 4), 1, "half a step rounds up");
    assert_eq!(pact_code(step * 0.49, a, 4), 0);
    assert_eq!(pact_code(1.0, 1.0, 1), 1);
    assert_eq!(pact_code(0.5, 1.0, 1), 1, "tie at half of the single step");
    assert_eq!(pact_code(0.49, 1.0, 1), 0);
    // An exact tie on a binary grid: α = 15, 4 bits → step 1; x = 7.5 → 8.
    assert_eq!(pact_code(7.5, 15.0, 4), 8);
    assert_eq!(pact_code(6.5, 15.0, 4), 7);
}

#[test]
fn bit_range_errors_are_exact() {
    assert_eq!(
        check_act_bits("--abits", 9).unwrap_err().to_string(),
        "--abits = 9 is out of range: activations take 1..=8 bits"
    );
    assert_eq!(
        check_act_bits("--abits", 0).unwrap_err().to_string(),
        "--abits = 0 is out of range: activations take 1..=8 bits"
    );
    assert_eq!(
        check_weight_bits("--wbits", 0).unwrap_err().to_string(),
        "--wbits = 0 is out of range: weights take 1..=8 bits"
    );
    assert!(check_act_bits("x", 1).is_ok() && check_act_bits("x", 8).is_ok());
}
