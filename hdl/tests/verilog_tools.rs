//! The emitted Verilog, checked by the open tools, because rust-hdl's simulator can be wrong about its own
//! Verilog (docs/hardware.md, rust-hdl traps):
//! * `verilator --lint-only -Wall` on every block (waivers: `pact_hdl::verilog::VERILATOR_LINT_FLAGS`);
//! * Icarus Verilog runs of the emitted MAC, PACT unit and MAC array against vectors from the contract functions,
//!   compared every cycle (the same stimulus generators as the rust-hdl simulations);
//! * both checks shown to catch the `$signed(a*b)` trap that rust-hdl's simulator passes;
//! * yosys `synth_ice40`: the MAC shrinks with the bit width.

mod common;

use common::tb::{run_icarus, Vector};
use common::{mac_stimulus, pact_case, product, start, Beat, MacRef, PactInput};
use pact_hdl::array::{Array, MacArray, ARRAY_LATENCY};
use pact_hdl::mac::{LowBitMac, Mac, OffsetMac, WeightDecode};
use pact_hdl::pact::{ChannelConsts, Pact, PactUnit, PACT_LATENCY};
use pact_hdl::verilog::{emit, lint, synth_ice40};
use pact_hdl::widths::MacWidths;
use rand::Rng;
use rust_hdl::prelude::*;
use std::collections::VecDeque;

fn one_channel() -> Vec<ChannelConsts> {
    vec![ChannelConsts {
        m0: 40000,
        shift: 20,
        bias: -3,
    }]
}

fn mw(ka: u32, kw: u32, acc: u32) -> MacWidths {
    MacWidths::new(ka, kw, acc)
}

#[test]
fn every_block_lints_clean() {
    let mut texts: Vec<(&str, String)> = vec![
        ("decode 1", emit(&mut WeightDecode::<1, 2>::new())),
        ("decode 8", emit(&mut WeightDecode::<8, 9>::new())),
        ("decode 16", emit(&mut WeightDecode::<16, 17>::new())),
        ("mac 1x1 acc 2", emit(&mut Mac::new(mw(1, 1, 2)).unwrap())),
        ("mac 2x2 acc 8", emit(&mut Mac::new(mw(2, 2, 8)).unwrap())),
        ("mac 8x8 acc 32", emit(&mut Mac::new(mw(8, 8, 32)).unwrap())),
        (
            "mac typed 1x1 acc 3",
            emit(&mut LowBitMac::<1, 1, 2, 3, 3>::new(mw(1, 1, 3)).unwrap()),
        ),
        (
            "mac typed 4x4 acc 13",
            emit(&mut LowBitMac::<4, 4, 5, 9, 13>::new(mw(4, 4, 13)).unwrap()),
        ),
        (
            "offset mac 3x5",
            emit(&mut OffsetMac::<16, 16, 33, 64>::new(mw(3, 5, 13)).unwrap()),
        ),
        (
            "offset mac 16x16",
            emit(&mut OffsetMac::<16, 16, 33, 64>::new(mw(16, 16, 41)).unwrap()),
        ),
        (
            "offset mac typed 3x5",
            emit(&mut OffsetMac::<3, 5, 9, 13>::new(mw(3, 5, 13)).unwrap()),
        ),
        (
            "pact 2→1",
            emit(
                &mut Pact::new(
                    2,
                    1,
                    &[ChannelConsts {
                        m0: 1,
                        shift: 1,
                        bias: 0,
                    }],
                )
                .unwrap(),
            ),
        ),
        ("pact 12→4", emit(&mut Pact::new(12, 4, &one_channel()).unwrap())),
        ("pact 17→8", emit(&mut Pact::new(17, 8, &one_channel()).unwrap())),
        ("pact 32→8", emit(&mut Pact::new(32, 8, &one_channel()).unwrap())),
        (
            "pact typed 12→4",
            emit(&mut PactUnit::<12, 28, 4>::new(12, 4, &one_channel()).unwrap()),
        ),
        ("array 1x1", emit(&mut Array::new(1, 1, mw(2, 2, 8)).unwrap())),
        ("array 3x5", emit(&mut Array::new(3, 5, mw(4, 4, 14)).unwrap())),
        (
            "array typed 2x2",
            emit(&mut MacArray::<2, 2, 3, 5, 8>::new(2, 2, mw(2, 2, 8)).unwrap()),
        ),
    ];
    // A full 4096-word channel ROM (no address guard) and a 5-word one (a non-power-of-two depth).
    let full: Vec<ChannelConsts> = (0..4096)
        .map(|c| ChannelConsts {
            m0: c,
            shift: 1 + c % 62,
            bias: 0,
        })
        .collect();
    texts.push(("pact 4096 channels", emit(&mut Pact::new(16, 4, &full).unwrap())));
    texts.push(("pact 5 channels", emit(&mut Pact::new(16, 4, &full[..5]).unwrap())));
    let mut failures = Vec::new();
    for (what, v) in &texts {
        if let Err(e) = lint(v) {
            failures.push(format!("{what}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{} designs lint clean", texts.len());
}

// ---------------------------------------------------------------------------------------------------------------
// The trap: a signed multiply written inside a larger expression.

/// `p = signed_bit_cast(a * b)`: rust-hdl emits `p = $signed(a * b);`, where `$signed`'s operand is sized on its
/// own (16 bits), so the Verilog drops the product's high half. rust-hdl's simulator computes the full product.
#[derive(LogicBlock, Default)]
struct TrappedMultiply {
    pub a: Signal<In, Signed<16>>,
    pub b: Signal<In, Signed<16>>,
    pub p: Signal<Out, Signed<32>>,
}

impl Logic for TrappedMultiply {
    #[hdl_gen]
    fn update(&mut self) {
        self.p.next = signed_bit_cast::<32, 32>(self.a.val() * self.b.val());
    }
}

#[test]
fn the_signed_multiply_trap_is_caught_by_lint_and_icarus_but_not_by_rust_hdl() {
    let pairs = [(255i64, -255i64), (200, 200), (-32768, 3), (7, -5), (0, 1)];
    let mut uut = TrappedMultiply::default();
    start(&mut uut);
    let mut vectors = Vec::new();
    for &(a, b) in &pairs {
        uut.a.next = pact_hdl::cast::to_signed::<16>(a);
        uut.b.next = pact_hdl::cast::to_signed::<16>(b);
        common::settle(&mut uut);
        // rust-hdl's own simulator: the right product.
        assert_eq!(common::sv(uut.p.val()), a * b);
        vectors.push(Vector {
            inputs: vec![("a".into(), (a as u128) & 0xffff), ("b".into(), (b as u128) & 0xffff)],
            outputs: vec![("p".into(), Some(((a * b) as u128) & 0xffff_ffff))],
        });
    }
    let verilog = emit(&mut uut);
    assert!(verilog.contains("$signed(a * b)"), "{verilog}");
    let e = lint(&verilog)
        .expect_err("lint must reject the trapped multiply")
        .to_string();
    assert!(e.contains("WIDTH") && e.contains("SIGNED generates 16 bits"), "{e}");
    let (_, mismatches, log) = run_icarus(&verilog, &vectors);
    // 255·(−255), 200·200 and −32768·3 do not fit 16 bits: Icarus shows the wrong products.
    assert_eq!(mismatches, 3, "{log}");
}

// ---------------------------------------------------------------------------------------------------------------
// Icarus runs of the emitted blocks

fn mac_vectors(beats: &[Beat], w: MacWidths) -> Vec<Vector> {
    let mut model = MacRef::new(1, w.acc);
    let tail = [Beat::default(); 3];
    beats
        .iter()
        .chain(tail.iter())
        .enumerate()
        .map(|(t, b)| {
            let (acc, valid) = model.step(product(b.act, b.widx, w.kw), b.en, b.clear, b.last);
            // Junk in the port bits above the run-time widths (the testbench cuts it to the port width).
            let junk = ((t as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 5) & 0xffff_ffff;
            Vector {
                inputs: vec![
                    ("act".into(), b.act as u128 | junk << w.ka),
                    ("widx".into(), b.widx as u128 | junk << (w.kw + 3)),
                    ("en".into(), b.en as u128),
                    ("clear".into(), b.clear as u128),
                    ("last".into(), b.last as u128),
                ],
                outputs: vec![("acc".into(), Some(acc as u128)), ("valid".into(), Some(valid as u128))],
            }
        })
        .collect()
}

#[test]
fn icarus_mac_matches_contract() {
    let cases: Vec<(&str, String, MacWidths, usize)> = vec![
        (
            "icarus_mac_2x2",
            emit(&mut Mac::new(mw(2, 2, 8)).unwrap()),
            mw(2, 2, 8),
            12,
        ),
        (
            "icarus_mac_8x8",
            emit(&mut Mac::new(mw(8, 8, 21)).unwrap()),
            mw(8, 8, 21),
            12,
        ),
        (
            "icarus_mac_1x1_acc2",
            emit(&mut Mac::new(mw(1, 1, 2)).unwrap()),
            mw(1, 1, 2),
            1,
        ),
        (
            "icarus_mac_typed_4x4",
            emit(&mut LowBitMac::<4, 4, 5, 9, 13>::new(mw(4, 4, 13)).unwrap()),
            mw(4, 4, 13),
            12,
        ),
        (
            "icarus_offset_mac_16x16",
            emit(&mut OffsetMac::<16, 16, 33, 64>::new(mw(16, 16, 35)).unwrap()),
            mw(16, 16, 35),
            4,
        ),
    ];
    for (name, verilog, w, max_len) in cases {
        let beats = mac_stimulus(name, w.ka, w.kw, max_len, 200);
        let (cycles, mismatches, log) = run_icarus(&verilog, &mac_vectors(&beats, w));
        assert_eq!(mismatches, 0, "{name}:\n{log}");
        println!("{name}: {cycles} cycles, 0 mismatches");
    }
}

fn pact_vectors(inputs: &[PactInput]) -> Vec<Vector> {
    let mut pipe: VecDeque<(u32, bool)> = (0..PACT_LATENCY - 1).map(|_| (0, false)).collect();
    let idle = PactInput::default();
    inputs
        .iter()
        .chain(std::iter::repeat_n(&idle, PACT_LATENCY))
        .map(|x| {
            pipe.push_back((x.code, x.valid));
            let (code, v) = pipe.pop_front().unwrap();
            Vector {
                inputs: vec![
                    ("acc".into(), x.acc as u128),
                    ("channel".into(), x.channel as u128),
                    ("valid_in".into(), x.valid as u128),
                ],
                outputs: vec![
                    ("code".into(), v.then_some(code as u128)),
                    ("valid".into(), Some(v as u128)),
                ],
            }
        })
        .collect()
}

#[test]
fn icarus_pact_unit_matches_contract() {
    for (name, acc_bits, ka) in [
        ("icarus_pact_12_4", 12, 4),
        ("icarus_pact_32_8", 32, 8),
        ("icarus_pact_2_1", 2, 1),
    ] {
        let case = pact_case(name, acc_bits, ka, &[]);
        let verilog = emit(&mut Pact::new(acc_bits, ka, &case.consts).unwrap());
        let (cycles, mismatches, log) = run_icarus(&verilog, &pact_vectors(&case.inputs));
        assert_eq!(mismatches, 0, "{name}:\n{log}");
        println!("{name}: {cycles} cycles, 0 mismatches");
    }
}

#[test]
fn icarus_mac_array_matches_contract() {
    let mut r = common::rng("icarus_mac_array_matches_contract");
    let (pe, simd, n, m) = (3usize, 2usize, 7usize, 8usize);
    let verilog = emit(&mut Array::new(pe, simd, mw(4, 4, 14)).unwrap());
    let x: Vec<u32> = (0..n).map(|_| r.gen_range(0..=15)).collect();
    let w: Vec<Vec<u32>> = (0..m).map(|_| (0..n).map(|_| r.gen_range(0..=15)).collect()).collect();
    let (groups, beats) = (m.div_ceil(pe), n.div_ceil(simd));
    let mut refs: Vec<MacRef> = (0..pe).map(|_| MacRef::new(ARRAY_LATENCY - 1, 14)).collect();
    let mut vectors = Vec::new();
    for t in 0..groups * beats + 4 {
        let slot = (t < groups * beats).then(|| (t / beats, t % beats));
        let mut v = Vector::default();
        for s in 0..simd {
            let a = slot.and_then(|(_, b)| x.get(b * simd + s).copied()).unwrap_or(0);
            v.inputs.push((format!("act${s}"), a as u128));
        }
        let (en, clear, last) = match slot {
            Some((_, b)) => (true, b == 0, b + 1 == beats),
            None => (false, false, false),
        };
        for (p, model) in refs.iter_mut().enumerate() {
            let mut sum = 0;
            for s in 0..simd {
                let i = slot.and_then(|(g, b)| w.get(g * pe + p).and_then(|row| row.get(b * simd + s)).copied());
                let i = i.unwrap_or_else(|| r.gen_range(0..=15));
                let a = slot.and_then(|(_, b)| x.get(b * simd + s).copied()).unwrap_or(0);
                sum += product(a, i, 4);
                v.inputs.push((format!("widx${}", p * simd + s), i as u128));
            }
            let (acc, valid) = model.step(sum, en, clear, last);
            v.outputs.push((format!("acc${p}"), Some(acc as u128)));
            if p == 0 {
                v.outputs.push(("valid".into(), Some(valid as u128)));
            }
        }
        v.inputs.extend([
            ("en".into(), en as u128),
            ("clear".into(), clear as u128),
            ("last".into(), last as u128),
        ]);
        vectors.push(v);
    }
    let (cycles, mismatches, log) = run_icarus(&verilog, &vectors);
    assert_eq!(mismatches, 0, "{log}");
    println!("icarus 3×2 array: {cycles} cycles, 0 mismatches");
}

// ---------------------------------------------------------------------------------------------------------------
// Synthesis

#[test]
fn yosys_mac_shrinks_with_bit_width() {
    // The contract-capacity MAC at k × k with an accumulator of 2k + 9 bits (room for 256 worst-case products).
    let s2 = synth_ice40(&emit(&mut Mac::new(mw(2, 2, 13)).unwrap()), false).unwrap();
    let s8 = synth_ice40(&emit(&mut Mac::new(mw(8, 8, 25)).unwrap()), false).unwrap();
    println!("2-bit MAC: {s2:?}\n8-bit MAC: {s8:?}");
    assert!(
        s8.luts >= 4 * s2.luts,
        "an 8-bit MAC must be several times larger than a 2-bit one"
    );
    assert_eq!((s2.dsps, s8.dsps, s2.brams, s8.brams), (0, 0, 0, 0));
}
