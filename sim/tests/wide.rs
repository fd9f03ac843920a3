//! Ports wider than 64 bits (100 and 256), a 40-bit port, and a `$` in a port name.

mod common;

use pact_sim::{Direction, Port, SimBuilder};
use rand::Rng;

const M100: u128 = (1u128 << 100) - 1;

#[test]
fn wide_ports_round_trip() {
    let model = SimBuilder::new("wide").file(common::fixture("wide.v")).build().unwrap();
    let ports = model.ports();
    assert!(ports.contains(&Port::input("x", 100)));
    assert!(ports.contains(&Port::output("big_swap", 256)));
    assert!(
        ports.contains(&Port {
            name: "par$ity".into(),
            dir: Direction::Output,
            width: 1
        }),
        "{ports:?}"
    );
    let mut sim = model.sim().unwrap();
    let [x, y, sum, inv, big, big_swap, q, q_neg, parity] =
        ["x", "y", "sum", "inv", "big", "big_swap", "q", "q_neg", "par$ity"].map(|n| sim.port(n).unwrap());
    // Verilator's C++ name finds the same port.
    assert_eq!(sim.port("par__024ity").unwrap(), parity);

    let mut rng = common::rng("wide", 0x01de_0100);
    for i in 0..20_000 {
        let xv: u128 = match i {
            0 => 0,
            1 => M100,
            2 => 1u128 << 99,
            _ => rng.gen::<u128>() & M100,
        };
        let yv: u128 = if i == 1 { 1 } else { rng.gen::<u128>() & M100 };
        let bigv: [u64; 4] = rng.gen();
        let qv: u64 = rng.gen::<u64>() & ((1 << 40) - 1);
        sim.set_u128(x, xv);
        sim.set_u128(y, yv);
        sim.set_wide(big, &bigv);
        sim.set(q, qv);
        sim.eval().unwrap();
        assert_eq!(sim.get_u128(sum), (xv + yv) & M100, "sum, vector {i}");
        assert_eq!(sim.get_u128(inv), !xv & M100, "inv, vector {i}");
        assert_eq!(sim.get_u128(x), xv, "x read back, vector {i}");
        assert_eq!(
            sim.get_wide(big_swap),
            vec![bigv[2], bigv[3], bigv[0], bigv[1]],
            "big_swap, vector {i}"
        );
        assert_eq!(sim.get(q_neg), qv.wrapping_neg() & ((1 << 40) - 1), "q_neg, vector {i}");
        assert_eq!(sim.get(parity), u64::from(xv.count_ones() % 2), "parity, vector {i}");
    }
}

#[test]
#[should_panic(expected = "does not fit")]
fn wide_value_above_width_panics() {
    let mut sim = SimBuilder::new("wide").file(common::fixture("wide.v")).sim().unwrap();
    let x = sim.port("x").unwrap();
    sim.set_u128(x, 1u128 << 100);
}

#[test]
#[should_panic(expected = "wider than 64 bits")]
fn narrow_get_of_wide_port_panics() {
    let sim = SimBuilder::new("wide").file(common::fixture("wide.v")).sim().unwrap();
    let x = sim.port("sum").unwrap();
    sim.get(x);
}
