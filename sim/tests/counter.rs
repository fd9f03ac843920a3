//! The counter fixture driven with random stimulus, compared every cycle with a Rust model.

mod common;

use pact_sim::{Port, SimBuilder};
use rand::Rng;

/// The Rust model of `tests/fixtures/counter.v` (W = 8).
#[derive(Default)]
struct Counter {
    count: u8,
}

impl Counter {
    fn wrap(&self, en: bool, load: bool) -> bool {
        en && !load && self.count == u8::MAX
    }

    fn posedge(&mut self, rst: bool, en: bool, load: bool, d: u8) {
        self.count = if rst {
            0
        } else if load {
            d
        } else if en {
            self.count.wrapping_add(1)
        } else {
            self.count
        };
    }
}

#[test]
fn counter_matches_rust_model_every_cycle() {
    let model = SimBuilder::new("counter")
        .file(common::fixture("counter.v"))
        .ports([
            Port::input("clk", 1),
            Port::input("rst", 1),
            Port::input("en", 1),
            Port::input("load", 1),
            Port::input("d", 8),
            Port::output("count", 8),
            Port::output("wrap", 1),
        ])
        .build()
        .unwrap();
    println!("build: {:?}", model.build_info());
    let mut sim = model.sim().unwrap();
    let [rst, en, load, d, count, wrap] = ["rst", "en", "load", "d", "count", "wrap"].map(|n| sim.port(n).unwrap());
    let mut rng = common::rng("counter", 0x5eed_c0de);
    let mut m = Counter::default();
    let mut wraps = 0;
    const CYCLES: u64 = 200_000;
    for cycle in 0..CYCLES {
        // Mostly counting, with occasional resets and loads so that wrap-around happens often.
        let (r, e, l) = (rng.gen_ratio(1, 500), rng.gen_ratio(9, 10), rng.gen_ratio(1, 300));
        let dv: u8 = rng.gen();
        sim.set(rst, r as u64);
        sim.set(en, e as u64);
        sim.set(load, l as u64);
        sim.set(d, dv as u64);
        sim.eval().unwrap();
        assert_eq!(sim.get(wrap) == 1, m.wrap(e, l), "wrap before posedge of cycle {cycle}");
        wraps += m.wrap(e, l) as u32;
        sim.tick().unwrap();
        m.posedge(r, e, l, dv);
        assert_eq!(sim.get(count), m.count as u64, "count after cycle {cycle}");
    }
    assert_eq!(sim.cycles(), CYCLES);
    assert!(wraps > 100, "the stimulus should wrap the counter often, got {wraps}");
}
