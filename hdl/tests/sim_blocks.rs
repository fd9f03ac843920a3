//! Every block simulated with rust-hdl's own simulator against the toolchain's contract functions
//! (`pact_toolchain::contract`), with random and edge stimulus from a fixed, printed seed. Outputs are compared
//! every cycle with a cycle-accurate reference.

mod common;

use common::{mac_acc_width, mac_stimulus, max_code, pact_case, product, rng, start, sv, Beat, MacRef, PactInput};
use pact_hdl::array::Array;
use pact_hdl::array::{dense_cycles, MacArray, ARRAY_LATENCY};
use pact_hdl::cast::to_signed;
use pact_hdl::mac::{LaneWeight, LowBitMac, Mac, OffsetMac, WeightDecode};
use pact_hdl::pact::{ChannelConsts, Pact, PactUnit, PACT_LATENCY};
use pact_hdl::widths::MacWidths;
use pact_toolchain::contract;
use rand::Rng;
use rust_hdl::prelude::*;
use std::collections::VecDeque;

// ---------------------------------------------------------------------------------------------------------------
// Weight decode

fn check_decode<const KW: usize, const W1: usize>(indices: impl Iterator<Item = u32>) -> usize {
    let mut uut = WeightDecode::<KW, W1>::new();
    start(&mut uut);
    let mut n = 0;
    for i in indices {
        uut.index.next = bits(i as u64);
        common::settle(&mut uut);
        assert_eq!(
            sv(uut.weight.val()),
            contract::decode_weight(i, KW as u32) as i64,
            "KW={KW} index {i}"
        );
        n += 1;
    }
    n
}

#[test]
fn weight_decode_matches_contract() {
    let mut r = rng("weight_decode_matches_contract");
    // Exhaustive up to 8 bits (every index, including 0 = most negative weight and the top code).
    assert_eq!(check_decode::<1, 2>(0..=1), 2);
    assert_eq!(check_decode::<2, 3>(0..=3), 4);
    assert_eq!(check_decode::<3, 4>(0..=7), 8);
    assert_eq!(check_decode::<4, 5>(0..=15), 16);
    assert_eq!(check_decode::<8, 9>(0..=255), 256);
    // 16 bits: the edges and random indices.
    let mut v: Vec<u32> = vec![0, 1, 32767, 32768, 65534, 65535];
    v.extend((0..500).map(|_| r.gen_range(0..=65535)));
    check_decode::<16, 17>(v.into_iter());
}

/// The MAC array's lane decoder, in both modes, exhaustively for every run-time width 1..=8 on an 8-bit port, with
/// junk above `kw` (ignored): odd codes as [`contract::decode_weight`], two's-complement indices as
/// [`contract::decode_weight_as`] (the most negative and the top value included).
#[test]
fn lane_weight_decodes_odd_and_twos_complement() {
    use pact_toolchain::contract::WeightEncoding;
    let mut n = 0;
    for kw in 1..=8u32 {
        let mut uut = LaneWeight::<8>::new(kw);
        uut.connect_all();
        for twos in [false, true] {
            let enc = if twos {
                WeightEncoding::TwosComplement
            } else {
                WeightEncoding::Odd
            };
            for i in 0..(1u32 << kw) {
                let junk = if kw < 8 { (0xa5u32 << kw) & 0xff } else { 0 };
                uut.widx.next = bits((i | junk) as u64);
                uut.twos.next = twos;
                common::settle(&mut uut);
                assert_eq!(
                    sv(uut.w16.val()),
                    i64::from(contract::decode_weight_as(i, kw, enc)),
                    "kw {kw}, index {i}, {enc:?}"
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 2 * (2 + 4 + 8 + 16 + 32 + 64 + 128 + 256));
}

// ---------------------------------------------------------------------------------------------------------------
// Low-bit MAC

/// Drive a MAC with `beats` and compare `acc` and `valid` with the reference after every cycle. The port bits
/// above the run-time widths carry junk, which the MAC must ignore.
macro_rules! run_mac {
    ($uut:expr, $beats:expr, $ka:expr, $kw:expr, $acc:expr) => {{
        let mut uut = $uut;
        start(&mut uut);
        let mut model = MacRef::new(1, $acc);
        let mut sums = 0;
        let tail = vec![Beat::default(); 3];
        let (act_port, widx_port) = (uut.act.val().len() as u32, uut.widx.val().len() as u32);
        for (t, b) in $beats.iter().chain(tail.iter()).enumerate() {
            let junk = (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7;
            uut.act.next = bits(junk_above(b.act, $ka, act_port, junk));
            uut.widx.next = bits(junk_above(b.widx, $kw, widx_port, junk >> 20));
            uut.en.next = b.en;
            uut.clear.next = b.clear;
            uut.last.next = b.last;
            cycle!(uut);
            let (acc, valid) = model.step(product(b.act, b.widx, $kw), b.en, b.clear, b.last);
            assert_eq!(uut.valid.val(), valid, "valid at cycle {t}");
            assert_eq!(sv(uut.acc.val()), acc, "acc at cycle {t} (beat {b:?})");
            sums += valid as usize;
        }
        sums
    }};
}

/// `value` (< 2^bits) with `junk` in the bits from `bits` up to `port` bits.
fn junk_above(value: u32, bits: u32, port: u32, junk: u64) -> u64 {
    let port_mask = if port >= 64 { u64::MAX } else { (1u64 << port) - 1 };
    (value as u64 | (junk << bits)) & port_mask
}

macro_rules! mac_case {
    ($name:ident, $mac:ty, $ka:literal, $kw:literal, $acc:literal, $max_len:literal, $sums:literal) => {
        #[test]
        fn $name() {
            // The run-time accumulator width is exactly the contract's width for this worst case.
            assert_eq!(mac_acc_width($ka, $kw, $max_len), $acc);
            let beats = mac_stimulus(stringify!($name), $ka, $kw, $max_len, $sums);
            let sums = run_mac!(
                <$mac>::new(MacWidths::new($ka, $kw, $acc)).unwrap(),
                beats,
                $ka,
                $kw,
                $acc
            );
            assert!(sums >= $sums + 6, "every sum completed once ({sums})");
        }
    };
}

// The contract-capacity MAC (8-bit ports, 32-bit register) at run-time widths, and MACs typed at exact widths.
mac_case!(mac_1x1, Mac, 1, 1, 5, 12, 40);
mac_case!(mac_2x2, Mac, 2, 2, 8, 12, 60);
mac_case!(mac_4x4_exact_type, LowBitMac<4, 4, 5, 9, 13>, 4, 4, 13, 12, 60);
mac_case!(mac_8x8, Mac, 8, 8, 21, 12, 60);
mac_case!(mac_3x5, Mac, 3, 5, 13, 12, 40);
mac_case!(mac_8x1_exact_type, LowBitMac<8, 1, 2, 10, 13>, 8, 1, 13, 12, 40);
mac_case!(mac_1x8, Mac, 1, 8, 13, 12, 40);
// Accumulator narrower than one product (3 bits > acc 2): a one-product layer of 1-bit codes.
mac_case!(mac_acc_narrower_than_product, Mac, 1, 1, 2, 1, 30);
// The multiplier-free form at small widths and at the 16 × 16 density point.
mac_case!(offset_mac_3x5, OffsetMac<16, 16, 33, 64>, 3, 5, 13, 12, 30);
mac_case!(offset_mac_16x16, OffsetMac<16, 16, 33, 64>, 16, 16, 35, 4, 12);

#[test]
fn mac_rejects_widths_beyond_its_capacity() {
    let err = |w| Mac::new(w).err().expect("rejected").to_string();
    assert_eq!(
        err(MacWidths::new(9, 2, 8)),
        "activation width 9 is out of range 1..=8 bits"
    );
    assert_eq!(
        err(MacWidths::new(0, 2, 8)),
        "activation width 0 is out of range 1..=8 bits"
    );
    assert_eq!(
        err(MacWidths::new(2, 9, 8)),
        "weight width 9 is out of range 1..=8 bits"
    );
    assert_eq!(
        err(MacWidths::new(2, 2, 33)),
        "accumulator width 33 is out of range 2..=32 bits"
    );
    assert_eq!(
        err(MacWidths::new(2, 2, 1)),
        "accumulator width 1 is out of range 2..=32 bits"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// PACT unit

fn check_pact<const R: usize, const V: usize, const KA: usize>(test: &str, acc_bits: u32, ka: u32) {
    let case = pact_case(test, acc_bits, ka, &[]);
    let mut uut = PactUnit::<R, V, KA>::new(acc_bits, ka, &case.consts).unwrap();
    assert_eq!(uut.channels(), case.consts.len());
    start(&mut uut);
    // An input sampled at edge t comes out after edge t + PACT_LATENCY − 1.
    let mut pipe: VecDeque<(u32, bool)> = (0..PACT_LATENCY - 1).map(|_| (0, false)).collect();
    let idle = PactInput::default();
    for (t, x) in case
        .inputs
        .iter()
        .chain(std::iter::repeat_n(&idle, PACT_LATENCY))
        .enumerate()
    {
        // Every other input carries junk above the accumulator's acc_bits (the unit wraps at acc_bits).
        let junk = if t % 2 == 1 {
            (t as i64).wrapping_mul(0x2545_f491) << acc_bits
        } else {
            0
        };
        uut.acc.next = to_signed::<R>(x.acc ^ junk);
        uut.channel.next = bits(x.channel as u64);
        uut.valid_in.next = x.valid;
        cycle!(uut);
        pipe.push_back((x.code, x.valid));
        let (code, v) = pipe.pop_front().unwrap();
        assert_eq!(uut.valid.val(), v, "valid at cycle {t}");
        if v {
            let got = uut.code.val().index() as u32;
            assert_eq!(
                got,
                code,
                "cycle {t}: code for input {:?}",
                case.inputs.get(t + 1 - PACT_LATENCY)
            );
        }
    }
}

// The contract-capacity unit (32-bit accumulator port, 8-bit code port) at run-time widths, and one typed exactly.
#[test]
fn pact_acc12_to_4_bits() {
    check_pact::<32, 48, 8>("pact_acc12_to_4_bits", 12, 4);
}

#[test]
fn pact_acc12_to_4_bits_exact_type() {
    check_pact::<12, 28, 4>("pact_acc12_to_4_bits_exact_type", 12, 4);
}

#[test]
fn pact_acc8_to_2_bits() {
    check_pact::<32, 48, 8>("pact_acc8_to_2_bits", 8, 2);
}

#[test]
fn pact_acc16_to_8_bits() {
    check_pact::<32, 48, 8>("pact_acc16_to_8_bits", 16, 8);
}

#[test]
fn pact_acc17_to_1_bit() {
    check_pact::<32, 48, 8>("pact_acc17_to_1_bit", 17, 1);
}

#[test]
fn pact_acc32_to_8_bits() {
    check_pact::<32, 48, 8>("pact_acc32_to_8_bits", 32, 8);
}

#[test]
fn pact_acc2_to_1_bit() {
    check_pact::<32, 48, 8>("pact_acc2_to_1_bit", 2, 1);
}

#[test]
fn pact_rejects_bad_constants() {
    let ok = ChannelConsts {
        m0: 1,
        shift: 1,
        bias: 0,
    };
    let err = |c: &[ChannelConsts]| Pact::new(8, 4, c).err().expect("must be rejected").to_string();
    assert_eq!(err(&[]), "a PACT unit holds 1..=4096 channels, got 0");
    assert_eq!(
        err(&[ok, ChannelConsts { m0: 65536, ..ok }]),
        "channel 1: M0 = 65536 does not fit 16 bits"
    );
    assert_eq!(
        err(&[ChannelConsts { shift: 0, ..ok }]),
        "channel 0: shift 0 is out of range 1..=62"
    );
    assert_eq!(
        err(&[ChannelConsts { shift: 63, ..ok }]),
        "channel 0: shift 63 is out of range 1..=62"
    );
    assert_eq!(
        err(&[ChannelConsts { bias: 128, ..ok }]),
        "channel 0: bias 128 does not fit a 8-bit accumulator"
    );
    assert_eq!(
        err(&[ChannelConsts { bias: -129, ..ok }]),
        "channel 0: bias -129 does not fit a 8-bit accumulator"
    );
    assert!(Pact::new(
        8,
        4,
        &[ChannelConsts { bias: -128, ..ok }, ChannelConsts { bias: 127, ..ok }]
    )
    .is_ok());
    let werr = |acc, ka| Pact::new(acc, ka, &[ok]).err().expect("must be rejected").to_string();
    assert_eq!(werr(33, 4), "accumulator width 33 is out of range 2..=32 bits");
    assert_eq!(werr(1, 4), "accumulator width 1 is out of range 2..=32 bits");
    assert_eq!(werr(8, 9), "activation width 9 is out of range 1..=8 bits");
    assert_eq!(werr(8, 0), "activation width 0 is out of range 1..=8 bits");
}

// ---------------------------------------------------------------------------------------------------------------
// MAC array

/// Run a dense layer (`x`: `n` codes, `w`: `m` rows of `n` indices) through a `pe × simd` array, groups back to
/// back (optionally with idle beats between), and compare every cycle with the reference. Returns the cycle after
/// which the last sums were valid (counted from the first beat).
fn run_dense<const KA: usize, const KW: usize, const W1: usize, const P: usize, const R: usize>(
    r: &mut impl Rng,
    w_rt: MacWidths,
    pe: usize,
    simd: usize,
    x: &[u32],
    w: &[Vec<u32>],
    idle_between: bool,
) -> usize {
    let (n, m) = (x.len(), w.len());
    let mut uut = MacArray::<KA, KW, W1, P, R>::new(pe, simd, w_rt).unwrap();
    assert_eq!(uut.widths(), w_rt);
    assert_eq!((uut.pe(), uut.simd()), (pe, simd));
    start(&mut uut);
    let mut refs: Vec<MacRef> = (0..pe).map(|_| MacRef::new(ARRAY_LATENCY - 1, w_rt.acc)).collect();
    let (groups, beats) = (m.div_ceil(pe), n.div_ceil(simd));
    let mut schedule: Vec<Option<(usize, usize)>> = Vec::new();
    for g in 0..groups {
        for b in 0..beats {
            schedule.push(Some((g, b)));
        }
        if idle_between && g % 2 == 0 {
            schedule.push(None);
        }
    }
    schedule.extend([None; ARRAY_LATENCY + 1]);
    let mut results = vec![None; m];
    let mut last_valid = 0;
    for (t, slot) in schedule.iter().enumerate() {
        let (en, clear, last) = match slot {
            Some((_, b)) => (true, *b == 0, *b + 1 == beats),
            None => (false, false, false),
        };
        // Junk above the run-time widths in every port.
        let junk = (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 9;
        for s in 0..simd {
            let a = slot.and_then(|(_, b)| x.get(b * simd + s).copied()).unwrap_or(0);
            uut.act[s].next = bits(junk_above(a, w_rt.ka, KA as u32, junk >> s));
        }
        let mut sums = vec![0i64; pe];
        for (p, sum) in sums.iter_mut().enumerate() {
            for s in 0..simd {
                // Absent outputs and padded inputs get arbitrary weight indices.
                let i = match slot {
                    Some((g, b)) => w.get(g * pe + p).and_then(|row| row.get(b * simd + s)).copied(),
                    None => None,
                }
                .unwrap_or_else(|| r.gen_range(0..=max_code(w_rt.kw)));
                uut.widx[p * simd + s].next = bits(junk_above(i, w_rt.kw, KW as u32, junk >> (p + s)));
                let a = slot.and_then(|(_, b)| x.get(b * simd + s).copied()).unwrap_or(0);
                *sum += product(a, i, w_rt.kw);
            }
        }
        uut.en.next = en;
        uut.clear.next = clear;
        uut.last.next = last;
        cycle!(uut);
        for p in 0..pe {
            let (acc, valid) = refs[p].step(sums[p], en, clear, last);
            assert_eq!(uut.valid.val(), valid, "valid at cycle {t}");
            assert_eq!(sv(uut.acc[p].val()), acc, "PE {p} acc at cycle {t}");
        }
        if uut.valid.val() {
            last_valid = t + 1;
            // Which group just completed: the one whose last beat was sampled ARRAY_LATENCY − 1 edges ago.
            let (g, _) = schedule[t + 1 - ARRAY_LATENCY].expect("a beat");
            for p in 0..pe {
                if g * pe + p < m {
                    results[g * pe + p] = Some(sv(uut.acc[p].val()));
                }
            }
        }
    }
    // Every output equals the contract's dot product (the PACT unit adds the bias later).
    for (o, row) in w.iter().enumerate() {
        let exact: i64 = x.iter().zip(row).map(|(&a, &i)| product(a, i, w_rt.kw)).sum();
        assert_eq!(results[o], Some(exact), "output {o}");
    }
    last_valid
}

fn random_layer(r: &mut impl Rng, n: usize, m: usize, ka: u32, kw: u32) -> (Vec<u32>, Vec<Vec<u32>>) {
    let x = (0..n).map(|_| r.gen_range(0..=max_code(ka))).collect();
    let w = (0..m)
        .map(|_| (0..n).map(|_| r.gen_range(0..=max_code(kw))).collect())
        .collect();
    (x, w)
}

fn layer_acc_width(x_max: u32, w: &[Vec<u32>], kw: u32) -> u32 {
    let rows: Vec<Vec<i32>> = w
        .iter()
        .map(|row| row.iter().map(|&i| contract::decode_weight(i, kw)).collect())
        .collect();
    contract::acc_width(x_max, rows.iter().map(|r| (r.as_slice(), 0i64)))
}

#[test]
fn array_dense_layers_match_contract_and_cycle_count() {
    let mut r = rng("array_dense_layers_match_contract_and_cycle_count");
    // (pe, simd, n inputs, m outputs): 1×1, non-square, a remainder in both dimensions, the default-like 4×4.
    for &(pe, simd, n, m) in &[(1, 1, 5, 3), (2, 3, 10, 5), (3, 2, 7, 7), (4, 4, 16, 8), (4, 4, 13, 6)] {
        let (x, w) = random_layer(&mut r, n, m, 4, 4);
        assert!(layer_acc_width(15, &w, 4) <= 14);
        let t = run_dense::<8, 8, 9, 17, 32>(&mut r, MacWidths::new(4, 4, 14), pe, simd, &x, &w, false);
        assert_eq!(t, dense_cycles(n, m, pe, simd), "{pe}×{simd} array, {n}→{m} layer");
        println!(
            "{pe}×{simd}, {n}→{m}: {t} cycles = ⌈{m}/{pe}⌉·⌈{n}/{simd}⌉ + {}",
            ARRAY_LATENCY - 1
        );
    }
    // Idle beats between groups only delay the result.
    let (x, w) = random_layer(&mut r, 9, 4, 4, 4);
    run_dense::<4, 4, 5, 9, 14>(&mut r, MacWidths::new(4, 4, 14), 2, 3, &x, &w, true);
}

#[test]
fn array_accumulator_at_its_exact_bound() {
    let mut r = rng("array_accumulator_at_its_exact_bound");
    // 2-bit codes, 2-bit weights, 12 inputs: one row of most negative weights, one of most positive, all codes at
    // the maximum: the sums are exactly the ends of the contract's range for a 8-bit accumulator.
    let x = vec![3u32; 12];
    let mut w = vec![vec![0u32; 12], vec![3u32; 12]];
    w.push((0..12).map(|_| r.gen_range(0..=3)).collect());
    assert_eq!(layer_acc_width(3, &w, 2), 8);
    run_dense::<8, 8, 9, 17, 32>(&mut r, MacWidths::new(2, 2, 8), 2, 4, &x, &w, false);
    // 8-bit codes and weights on a 3×2 array.
    let (x, w) = random_layer(&mut r, 6, 5, 8, 8);
    assert!(layer_acc_width(255, &w, 8) <= 20);
    run_dense::<8, 8, 9, 17, 32>(&mut r, MacWidths::new(8, 8, 20), 3, 2, &x, &w, true);
}

#[test]
fn array_rejects_bad_sizes() {
    let err = |pe, simd| {
        Array::new(pe, simd, MacWidths::new(2, 2, 8))
            .err()
            .expect("rejected")
            .to_string()
    };
    assert_eq!(err(0, 4), "array size 0×4: PE and SIMD must be at least 1");
    assert_eq!(err(4, 0), "array size 4×0: PE and SIMD must be at least 1");
    assert_eq!(err(65, 64), "array size 65×64 has more than 4096 lanes");
    let werr = Array::new(2, 2, MacWidths::new(2, 2, 40))
        .err()
        .expect("rejected")
        .to_string();
    assert_eq!(werr, "accumulator width 40 is out of range 2..=32 bits");
}

// ---------------------------------------------------------------------------------------------------------------
// MAC followed by the PACT unit

/// The contract sizes the accumulator for `Σ a·w + bias`, not for `Σ a·w` alone: with a large bias the unbiased
/// sum the MAC accumulates can exceed `acc_bits` and wraps, and the PACT unit's `acc + bias` modulo `2^acc_bits`
/// is still exact. Here 12 codes of 15 × weights of +15 sum to 2700 (13 bits), the bias is −1350, the contract's
/// width is 12 bits: the MAC holds 2700 − 4096 = −1396, and the code must be requantize(1350, …). Random layers
/// with large biases follow.
#[test]
fn mac_then_pact_exact_when_the_unbiased_sum_wraps() {
    let mut r = rng("mac_then_pact_exact_when_the_unbiased_sum_wraps");
    let mut layers: Vec<(Vec<u32>, Vec<u32>, i64)> = vec![(vec![15; 12], vec![15; 12], -1350)];
    // Positive weights, large codes and a bias of about minus half the largest sum: the contract's range is
    // centred on 0 and the unbiased sum often exceeds it.
    for _ in 0..40 {
        let n = r.gen_range(1..=16);
        let x: Vec<u32> = (0..n).map(|_| r.gen_range(10..=15)).collect();
        let w: Vec<u32> = (0..n).map(|_| r.gen_range(8..=15)).collect();
        let top: i64 = w.iter().map(|&i| product(15, i, 4)).sum();
        layers.push((x, w, -top / 2 + r.gen_range(-8..=8)));
    }
    let mut wrapped = 0;
    for (k, (x, w, bias)) in layers.iter().enumerate() {
        let row: Vec<i32> = w.iter().map(|&i| contract::decode_weight(i, 4)).collect();
        let acc_bits = contract::acc_width(15, [(row.as_slice(), *bias)]);
        // The MAC (contract capacity) accumulates Σ a·w at acc_bits.
        let mut mac = Mac::new(MacWidths::new(4, 4, acc_bits)).unwrap();
        start(&mut mac);
        let mut acc = None;
        for (j, (&a, &i)) in x.iter().zip(w).enumerate() {
            mac.act.next = bits(a as u64);
            mac.widx.next = bits(i as u64);
            mac.en.next = true;
            mac.clear.next = j == 0;
            mac.last.next = j + 1 == x.len();
            cycle!(mac);
        }
        mac.en.next = false;
        for _ in 0..2 {
            cycle!(mac);
            if mac.valid.val() {
                acc = Some(sv(mac.acc.val()));
            }
        }
        let acc = acc.expect("the sum completed");
        let dot: i64 = x.iter().zip(w).map(|(&a, &i)| product(a, i, 4)).sum();
        assert_eq!(
            acc,
            common::wrap(dot, acc_bits),
            "layer {k}: the MAC wraps at {acc_bits} bits"
        );
        wrapped += (acc != dot) as usize;
        // The PACT unit adds the bias and requantizes to 4 bits.
        let c = ChannelConsts {
            m0: 20000,
            shift: 14,
            bias: *bias,
        };
        let mut pact = Pact::new(acc_bits, 4, &[c]).unwrap();
        start(&mut pact);
        pact.acc.next = to_signed::<32>(acc);
        pact.valid_in.next = true;
        for _ in 0..PACT_LATENCY {
            cycle!(pact);
            pact.valid_in.next = false;
        }
        assert!(pact.valid.val());
        let expect = contract::requantize(dot + bias, c.m0, c.shift, 4);
        assert_eq!(
            pact.code.val().index() as u32,
            expect,
            "layer {k}: Σ = {dot}, bias {bias}, {acc_bits} bits"
        );
    }
    assert!(wrapped >= 10, "unbiased sums wrapped in {wrapped} layers");
    println!("{} layers, {wrapped} with a wrapped unbiased sum", layers.len());
}

// ---------------------------------------------------------------------------------------------------------------
// The same check through rust-hdl's `Simulation` testbench API (clock thread, `wait_clock_cycle!`)

#[test]
fn mac_in_a_rust_hdl_simulation_testbench() {
    let w = MacWidths::new(4, 4, 13);
    let beats = mac_stimulus("mac_in_a_rust_hdl_simulation_testbench", w.ka, w.kw, 12, 30);
    let mut model = MacRef::new(1, w.acc);
    let expected: Vec<(i64, bool)> = beats
        .iter()
        .map(|b| model.step(product(b.act, b.widx, w.kw), b.en, b.clear, b.last))
        .collect();
    let cycles = beats.len();
    let mut sim = simple_sim!(Mac, clock, 100_000_000, ep, {
        let mut x = ep.init()?;
        for (b, e) in beats.iter().zip(&expected) {
            x.act.next = bits(b.act as u64);
            x.widx.next = bits(b.widx as u64);
            x.en.next = b.en;
            x.clear.next = b.clear;
            x.last.next = b.last;
            wait_clock_cycle!(ep, clock, x);
            sim_assert_eq!(ep, sv(x.acc.val()), e.0, x);
            sim_assert_eq!(ep, x.valid.val(), e.1, x);
        }
        ep.done(x)
    });
    let mut uut = Mac::new(w).unwrap();
    uut.connect_all();
    sim.run(Box::new(uut), 1_000_000_000_000)
        .expect("the testbench ran to the end without a mismatch");
    println!("{cycles} cycles in rust-hdl's Simulation");
}
