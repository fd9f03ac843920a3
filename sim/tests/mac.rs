//! The signed multiply-accumulate fixture against a Rust model: random stimulus every cycle, an exhaustive sweep
//! of the product, a parameter override, and instances running on several threads.

mod common;

use pact_sim::{Model, Sim, SimBuilder};
use rand::Rng;

/// Sign-extend the low `bits` of `v`.
fn sext(v: i64, bits: u32) -> i64 {
    (v << (64 - bits)) >> (64 - bits)
}

/// The Rust model of `tests/fixtures/mac.v`: an ACC-bit two's-complement accumulator.
struct Mac {
    acc_bits: u32,
    acc: i64,
}

impl Mac {
    fn posedge(&mut self, rst: bool, en: bool, clear: bool, a: i64, b: i64) {
        let prod = a * b;
        self.acc = if rst {
            0
        } else if clear {
            sext(prod, self.acc_bits)
        } else if en {
            sext(self.acc + prod, self.acc_bits)
        } else {
            self.acc
        };
    }
}

fn build(w: u32, acc: u32) -> Model {
    let mut b = SimBuilder::new("mac").file(common::fixture("mac.v"));
    if (w, acc) != (8, 24) {
        b = b
            .verilator_arg(format!("-GW={w}"))
            .verilator_arg(format!("-GACC={acc}"));
    }
    let m = b.build().unwrap();
    println!("mac W={w} ACC={acc}: {:?}", m.build_info());
    m
}

/// Drive `cycles` random cycles (with the edge values forced often) and compare prod and acc every cycle.
fn random_run(sim: &mut Sim, w: u32, acc_bits: u32, seed: u64, cycles: u64) -> u32 {
    let [rst, en, clear, a, b, prod, acc] =
        ["rst", "en", "clear", "a", "b", "prod", "acc"].map(|n| sim.port(n).unwrap());
    let mut rng = common::rng(&format!("mac W={w} ACC={acc_bits}"), seed);
    let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
    let edge = [lo, hi, 0, -1, 1];
    let pick = |rng: &mut rand_chacha::ChaCha8Rng| {
        if rng.gen_ratio(1, 8) {
            edge[rng.gen_range(0..edge.len())]
        } else {
            rng.gen_range(lo..=hi)
        }
    };
    let mut m = Mac { acc_bits, acc: 0 };
    let mut wraps = 0;
    for cycle in 0..cycles {
        let (r, e, c) = (rng.gen_ratio(1, 20_000), rng.gen_ratio(7, 8), rng.gen_ratio(1, 5_000));
        // Every other block of 4096 cycles drives same-sign extreme operands, so the accumulator overflows.
        let (av, bv) = if (cycle / 4096) % 2 == 1 {
            let v = if rng.gen_bool(0.5) { lo } else { hi };
            (v, v)
        } else {
            (pick(&mut rng), pick(&mut rng))
        };
        sim.set(rst, r as u64);
        sim.set(en, e as u64);
        sim.set(clear, c as u64);
        sim.set_i64(a, av);
        sim.set_i64(b, bv);
        sim.eval().unwrap();
        assert_eq!(
            sim.get_i64(prod),
            av * bv,
            "prod before posedge of cycle {cycle}: {av} * {bv}"
        );
        let before = m.acc;
        sim.tick().unwrap();
        m.posedge(r, e, c, av, bv);
        if e && !r && !c && m.acc != before + av * bv {
            wraps += 1;
        }
        assert_eq!(
            sim.get_i64(acc),
            m.acc,
            "acc after cycle {cycle} (a={av}, b={bv}, rst={r}, en={e}, clear={c})"
        );
    }
    wraps
}

#[test]
fn mac_matches_rust_model_every_cycle() {
    let model = build(8, 24);
    let mut sim = model.sim().unwrap();
    let wraps = random_run(&mut sim, 8, 24, 0x3ac_0001, 200_000);
    println!("accumulator wrapped {wraps} times");
    assert!(
        wraps > 10,
        "the run should overflow the 24-bit accumulator often, got {wraps}"
    );
}

#[test]
fn mac_product_exhaustive_8bit() {
    let model = build(8, 24);
    let mut sim = model.sim().unwrap();
    let [a, b, prod] = ["a", "b", "prod"].map(|n| sim.port(n).unwrap());
    for av in -128i64..=127 {
        for bv in -128i64..=127 {
            sim.set_i64(a, av);
            sim.set_i64(b, bv);
            sim.eval().unwrap();
            assert_eq!(sim.get_i64(prod), av * bv, "{av} * {bv}");
        }
    }
}

#[test]
fn mac_parameter_override_w4_acc10() {
    // A different -G flag is a different cache entry; a 10-bit accumulator wraps constantly.
    let model = build(4, 10);
    assert_eq!(model.ports().iter().find(|p| p.name == "acc").unwrap().width, 10);
    let mut sim = model.sim().unwrap();
    let wraps = random_run(&mut sim, 4, 10, 0x3ac_0004, 50_000);
    assert!(wraps > 100, "got {wraps} wraps");
}

#[test]
fn mac_instances_on_threads_are_independent() {
    let model = build(8, 24);
    let handles: Vec<_> = (0..2u64)
        .map(|t| {
            let mut sim = model.sim().unwrap();
            // `Sim` is Send: build here, run there.
            std::thread::spawn(move || random_run(&mut sim, 8, 24, 0x3ac_1000 + t, 30_000))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
