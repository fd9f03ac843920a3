//! Shared test support: seeded randomness, clocking rust-hdl blocks, cycle-accurate reference models built on the
//! toolchain's contract functions.
#![allow(dead_code)]

pub mod tb;

use pact_hdl::pact::ChannelConsts;
use pact_toolchain::contract;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_hdl::prelude::*;
use std::collections::VecDeque;

/// A seeded generator. The seed is fixed per test (derived from its name) unless `PACT_HDL_SEED` is set, and is
/// printed so that a failure can be replayed.
pub fn rng(test: &str) -> ChaCha8Rng {
    let seed = match std::env::var("PACT_HDL_SEED") {
        Ok(s) => s.parse().expect("PACT_HDL_SEED must be an integer"),
        Err(_) => test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        }),
    };
    println!("{test}: seed {seed} (replay with PACT_HDL_SEED={seed})");
    ChaCha8Rng::seed_from_u64(seed)
}

/// Connect a block and run rust-hdl's connection checks (what `Simulation::run` does first).
pub fn start<B: Block>(uut: &mut B) {
    uut.connect_all();
    check_all(uut).expect("rust-hdl connection check");
    settle(uut);
}

/// Propagate until stable with rust-hdl's own update loop (the loop `Simulation` runs after every event).
pub fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 200), "circuit did not settle");
}

/// One clock cycle of a block with a `clock` input: settle the inputs set before the call (with the clock low),
/// rising edge, settle, falling edge, settle. Inputs are sampled at the rising edge; outputs read after the call
/// show the state after that edge. (Inputs must settle before the edge, as in any event simulator: rust-hdl
/// propagates a clock one update pass per level of hierarchy, so an input changed together with the edge would
/// reach registers at different depths on different sides of it.)
#[macro_export]
macro_rules! cycle {
    ($uut:expr) => {{
        common::settle(&mut $uut);
        $uut.clock.next = Clock { clk: true };
        common::settle(&mut $uut);
        $uut.clock.next = Clock { clk: false };
        common::settle(&mut $uut);
    }};
}

/// `a · decode(i)` per the contract.
pub fn product(a: u32, i: u32, kw: u32) -> i64 {
    a as i64 * contract::decode_weight(i, kw) as i64
}

/// Largest code of `bits` bits.
pub fn max_code(bits: u32) -> u32 {
    contract::code_max(bits)
}

/// One beat of MAC stimulus.
#[derive(Clone, Copy, Debug, Default)]
pub struct Beat {
    pub act: u32,
    pub widx: u32,
    pub en: bool,
    pub clear: bool,
    pub last: bool,
}

/// Two's-complement wrap of `v` to `bits` bits (the value a `bits`-bit register holds).
pub fn wrap(v: i64, bits: u32) -> i64 {
    pact_hdl::cast::sign_extend(v as u64, bits as usize)
}

/// Cycle-accurate reference of a MAC / one PE: `stages` registers before the accumulator (1 for the single MAC,
/// 2 for the array), then `acc ← wrap_acc((clear ? 0 : acc) + sum)`, `valid ← en & last`. Feeds one beat's
/// product sum per call and returns `(acc, valid)` after that edge.
pub struct MacRef {
    pipe: VecDeque<(i64, bool, bool)>,
    acc_bits: u32,
    pub acc: i64,
    pub valid: bool,
}

impl MacRef {
    pub fn new(stages: usize, acc_bits: u32) -> Self {
        MacRef {
            pipe: (0..stages).map(|_| (0, false, false)).collect(),
            acc_bits,
            acc: 0,
            valid: false,
        }
    }
    /// `sum` is the beat's product (or sum of products), already 0 when `en` is low.
    pub fn step(&mut self, sum: i64, en: bool, clear: bool, last: bool) -> (i64, bool) {
        self.pipe.push_back((if en { sum } else { 0 }, clear, en && last));
        let (s, c, l) = self.pipe.pop_front().unwrap();
        self.acc = wrap(if c { 0 } else { self.acc } + s, self.acc_bits);
        self.valid = l;
        (self.acc, self.valid)
    }
}

/// A stream of sums of random length (1..=`max_len` enabled beats, with occasional disabled beats inside and
/// idle beats between), starting with `clear` and ending with `last`. Products come from `pick(rng)`.
pub fn random_stream(
    rng: &mut ChaCha8Rng,
    sums: usize,
    max_len: usize,
    mut pick: impl FnMut(&mut ChaCha8Rng) -> (u32, u32),
) -> Vec<Beat> {
    let mut beats = Vec::new();
    for _ in 0..sums {
        let len = rng.gen_range(1..=max_len);
        let mut done = 0;
        let mut first = true;
        while done < len {
            let en = !rng.gen_bool(0.15);
            let (act, widx) = pick(rng);
            if en {
                done += 1;
            }
            beats.push(Beat {
                act,
                widx,
                en,
                clear: first,
                last: en && done == len,
            });
            first = false;
        }
        while rng.gen_bool(0.2) {
            let (act, widx) = pick(rng);
            beats.push(Beat {
                act,
                widx,
                en: false,
                clear: false,
                last: false,
            });
        }
    }
    beats
}

/// The value of a `Signed<N>`.
pub fn sv<const N: usize>(x: Signed<N>) -> i64 {
    pact_hdl::cast::signed_value(x)
}

/// Stimulus for one MAC configuration: random sums, then the edges on purpose.
pub fn mac_stimulus(test: &str, ka: u32, kw: u32, max_len: usize, sums: usize) -> Vec<Beat> {
    let mut r = rng(test);
    let (amax, imax) = (max_code(ka), max_code(kw));
    let mut beats = random_stream(&mut r, sums, max_len, |r| {
        // Bias towards the edge codes: 0, the maximum, and the most negative / most positive weight.
        let a = match r.gen_range(0..6) {
            0 => 0,
            1 => amax,
            _ => r.gen_range(0..=amax),
        };
        let i = match r.gen_range(0..6) {
            0 => 0,
            1 => imax,
            _ => r.gen_range(0..=imax),
        };
        (a, i)
    });
    // Accumulator worst cases: max_len beats of max code × most negative weight, then × most positive weight,
    // zero activations, a one-beat sum, and a sum whose first beat is disabled.
    for &(a, i) in &[(amax, 0), (amax, imax), (0, 0), (0, imax)] {
        for k in 0..max_len {
            beats.push(Beat {
                act: a,
                widx: i,
                en: true,
                clear: k == 0,
                last: k + 1 == max_len,
            });
        }
    }
    beats.push(Beat {
        act: amax,
        widx: 0,
        en: true,
        clear: true,
        last: true,
    });
    beats.push(Beat {
        act: amax,
        widx: imax,
        en: false,
        clear: true,
        last: false,
    });
    beats.push(Beat {
        act: amax,
        widx: imax,
        en: true,
        clear: false,
        last: true,
    });
    beats
}

/// The contract's accumulator width for sums of up to `max_len` products (worst case: every code at its maximum
/// times the most negative or the most positive weight).
pub fn mac_acc_width(ka: u32, kw: u32, max_len: usize) -> u32 {
    let neg = vec![contract::decode_weight(0, kw); max_len];
    let pos = vec![contract::decode_weight(max_code(kw), kw); max_len];
    contract::acc_width(max_code(ka), [(neg.as_slice(), 0i64), (pos.as_slice(), 0i64)])
}

/// Accumulator values worth testing for one channel: the ends of the range, around 0, the rounding ties and the
/// clamp points (the first value giving code 1 and the first giving the maximum code, and their neighbours).
pub fn pact_edges(c: &ChannelConsts, acc_bits: u32, ka: u32) -> Vec<i64> {
    let (lo, hi) = (-(1i64 << (acc_bits - 1)), (1i64 << (acc_bits - 1)) - 1);
    let code = |s: i64| contract::requantize(s, c.m0, c.shift, ka);
    let first_at_least = |target: u32| {
        // requantize is non-decreasing in s (m0 ≥ 0): binary search the first s with code ≥ target.
        let (mut a, mut b) = (lo, hi + 1);
        while a < b {
            let m = a + (b - a) / 2;
            if code(m) >= target {
                b = m
            } else {
                a = m + 1
            }
        }
        a
    };
    let mut v = vec![lo, lo + 1, -1, 0, 1, hi - 1, hi];
    for t in [1, max_code(ka)] {
        let s = first_at_least(t);
        v.extend([s - 1, s, s + 1]);
    }
    // Ties: s·m0 + 2^(n−1) ≡ 0 (mod 2^n), searched near the clamp points.
    let n = c.shift;
    let start = first_at_least(1).saturating_sub(4);
    v.extend(
        (start..start + 4096)
            .filter(|&s| {
                let x = s as i128 * c.m0 as i128;
                n < 100 && (x + (1i128 << (n - 1))).rem_euclid(1i128 << n) == 0
            })
            .take(3),
    );
    v.retain(|&s| (lo..=hi).contains(&s));
    v
}

/// One PACT unit input: the accumulator as the MAC delivers it (`s − bias` modulo `2^ACC`), the channel, the
/// valid flag, and the expected code `contract::requantize(s, m0, n, KA)` (0 for channels past the ROM).
#[derive(Clone, Copy, Debug, Default)]
pub struct PactInput {
    pub acc: i64,
    pub channel: usize,
    pub valid: bool,
    pub code: u32,
}

/// Channel constants and inputs for a PACT unit test.
pub struct PactCase {
    pub consts: Vec<ChannelConsts>,
    pub inputs: Vec<PactInput>,
}

/// The edge channel constants of an `acc_bits` accumulator: `M0` = 0; `M0` = 2^16 − 1 with shift 1 and the
/// largest bias, and with shift 62 and the most negative bias; the tie-prone `M0` = 3 with shift 2 and bias −1.
pub fn edge_consts(acc_bits: u32) -> [ChannelConsts; 4] {
    let (lo, hi) = (-(1i64 << (acc_bits - 1)), (1i64 << (acc_bits - 1)) - 1);
    [
        ChannelConsts {
            m0: 0,
            shift: 1,
            bias: 0,
        },
        ChannelConsts {
            m0: 65535,
            shift: 1,
            bias: hi,
        },
        ChannelConsts {
            m0: 65535,
            shift: 62,
            bias: lo,
        },
        ChannelConsts {
            m0: 3,
            shift: 2,
            bias: -1,
        },
    ]
}

/// Channels with realistic multipliers (the code range spans a fraction of the accumulator range) and edge
/// constants (M0 = 0, M0 = 2^16 − 1 with shifts 1 and 62, the bias extremes, tie-prone M0 = 1 and 3), then every
/// edge accumulator of every channel, random inputs, and two addresses past the last channel.
pub fn pact_case(test: &str, acc_bits: u32, ka: u32, extra: &[ChannelConsts]) -> PactCase {
    let mut r = rng(test);
    let (lo, hi) = (-(1i64 << (acc_bits - 1)), (1i64 << (acc_bits - 1)) - 1);
    let mut consts: Vec<ChannelConsts> = (0..6)
        .map(|_| {
            let m0 = r.gen_range(1u32 << 14..1 << 16);
            let span = acc_bits as i32 - 1 - r.gen_range(0..=(acc_bits as i32 - 1).min(6)) + 16 - ka as i32;
            let shift = span.clamp(1, 62) as u32;
            ChannelConsts {
                m0,
                shift,
                bias: r.gen_range(lo / 4..=hi / 4),
            }
        })
        .collect();
    let [zero, max_hi, max_lo, tie] = edge_consts(acc_bits);
    consts.extend([
        zero,
        max_hi,
        max_lo,
        ChannelConsts {
            m0: 1,
            shift: 1,
            bias: 0,
        },
        tie,
    ]);
    consts.extend_from_slice(extra);
    let wrap = |v: i64| {
        let m = 1i64 << acc_bits;
        let w = v.rem_euclid(m);
        if w > hi {
            w - m
        } else {
            w
        }
    };
    let input = |s: i64, ch: usize, valid: bool| {
        let (bias, code) = match consts.get(ch) {
            Some(c) => (c.bias, contract::requantize(s, c.m0, c.shift, ka)),
            None => (0, 0),
        };
        PactInput {
            acc: wrap(s - bias),
            channel: ch,
            valid,
            code,
        }
    };
    let mut inputs = Vec::new();
    for (ch, c) in consts.iter().enumerate() {
        for s in pact_edges(c, acc_bits, ka) {
            inputs.push(input(s, ch, true));
        }
    }
    for _ in 0..400 {
        let ch = r.gen_range(0..consts.len());
        let valid = r.gen_bool(0.85);
        inputs.push(input(r.gen_range(lo..=hi), ch, valid));
    }
    // Addresses past the last channel read zeros in both models: M0 = 0, n = 1, bias = 0, so the code is 0.
    inputs.push(input(hi, consts.len(), true));
    inputs.push(input(hi, (1 << pact_hdl::rom::CHANNEL_BITS) - 1, true));
    PactCase { consts, inputs }
}
