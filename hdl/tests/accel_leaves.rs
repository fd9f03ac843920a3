//! The accelerator's hand-written Verilog leaves (`pact_hdl::accel::mem`) against their Rust behaviour models: the
//! same random stimulus (fixed, printed seed) drives rust-hdl's simulation of the leaf and the leaf's emitted
//! Verilog under Verilator, and every output is compared every cycle.

mod accel_support;

use accel_support::{out_dir, rng};
use pact_hdl::accel::mem::{BankRam, LaneRam, Table, WeightBlock, WeightMem};
use pact_hdl::rom::{ChannelRom, MAX_CHANNELS};
use pact_hdl::verilog::{emit, lint};
use pact_sim::SimBuilder;
use rand::Rng;
use rust_hdl::prelude::*;

fn settle<B: Block>(b: &mut B) {
    assert!(simulate(b, 200), "did not settle");
}

/// One rising edge in rust-hdl (inputs must be set before).
fn edge<B: Block>(b: &mut B, clock: impl Fn(&mut B, bool)) {
    settle(b);
    clock(b, true);
    settle(b);
    clock(b, false);
    settle(b);
}

/// Every address of the 12-bit port, in and out of range, for depths of one word, powers of two and between
/// (the range guard is split into a high-bits NOR and an index compare), signed and unsigned words.
#[test]
fn channel_rom_matches_its_model_at_every_address() {
    let mut r = rng("channel_rom_matches_its_model_at_every_address");
    for (depth, nbits, signed) in [
        (1usize, 5usize, true),
        (10, 24, true),
        (16, 8, false),
        (300, 12, false),
        (4096, 3, true),
    ] {
        let words: Vec<u64> = (0..depth).map(|_| r.gen_range(0..1u64 << nbits)).collect();
        let mut rom = ChannelRom::<32>::new(&words, nbits, signed);
        let v = emit(&mut rom);
        lint(&v).unwrap_or_else(|e| panic!("ChannelRom {depth}×{nbits}: {e}"));
        let mut sim = SimBuilder::new("top").text("channel_rom.v", v).sim().unwrap();
        let (a, d) = (sim.port("address").unwrap(), sim.port("data").unwrap());
        for addr in 0..MAX_CHANNELS as u64 {
            rom.address.next = bits::<12>(addr);
            edge(&mut rom, |x, c| x.clock.next = Clock { clk: c });
            sim.set(a, addr);
            sim.tick().unwrap();
            let want = match words.get(addr as usize) {
                Some(&w) if signed => ((w << (64 - nbits)) as i64 >> (64 - nbits)) as u64 & 0xFFFF_FFFF,
                Some(&w) => w,
                None => 0,
            };
            assert_eq!(
                rom.data.val().to_u64(),
                want,
                "ChannelRom {depth}×{nbits}, address {addr}: model"
            );
            assert_eq!(sim.get(d), want, "ChannelRom {depth}×{nbits}, address {addr}: Verilog");
        }
    }
}

#[test]
fn lane_ram_matches_its_model() {
    let mut r = rng("lane_ram_matches_its_model");
    for (depth, width) in [(37usize, 5usize), (1, 8), (256, 8), (100, 3)] {
        let mut ram = LaneRam::<8>::new(depth, width);
        let v = emit(&mut ram);
        lint(&v).unwrap_or_else(|e| panic!("LaneRam {depth}×{width}: {e}"));
        let mut sim = SimBuilder::new("top").text("lane_ram.v", v).sim().unwrap();
        let p = |n: &str| sim.port(n).unwrap();
        let (we, wa, wd, ra, rd) = (p("we"), p("waddr"), p("wdata"), p("raddr"), p("rdata"));
        for cycle in 0..20_000 {
            // Addresses mostly in range, sometimes past the depth; data with junk above `width`.
            let addr = |r: &mut rand_chacha::ChaCha8Rng| {
                if r.gen_bool(0.9) {
                    r.gen_range(0..depth) as u64
                } else {
                    r.gen_range(0..65536u64)
                }
            };
            let (w, a, d, b) = (r.gen_bool(0.5), addr(&mut r), r.gen_range(0..256u64), addr(&mut r));
            ram.we.next = w;
            ram.waddr.next = bits::<16>(a);
            ram.wdata.next = bits::<8>(d);
            ram.raddr.next = bits::<16>(b);
            edge(&mut ram, |x, c| x.clock.next = Clock { clk: c });
            sim.set(we, w as u64);
            sim.set(wa, a);
            sim.set(wd, d);
            sim.set(ra, b);
            sim.tick().unwrap();
            assert_eq!(
                sim.get(rd),
                ram.rdata.val().to_u64(),
                "LaneRam {depth}×{width}, cycle {cycle}: Verilog vs model"
            );
        }
    }
}

/// A bank of several lanes in one memory: every lane of every cycle, lane widths 1..8 (junk above the width on
/// the write data), one lane and many, depths of one word and not a power of two, addresses past the depth.
#[test]
fn bank_ram_matches_its_model() {
    let mut r = rng("bank_ram_matches_its_model");
    for (depth, lanes, width) in [
        (37usize, 4usize, 4usize),
        (1, 1, 8),
        (256, 2, 8),
        (100, 16, 1),
        (45, 5, 3),
    ] {
        let mut ram = BankRam::new(depth, lanes, width);
        let v = emit(&mut ram);
        lint(&v).unwrap_or_else(|e| panic!("BankRam {depth}×{lanes}×{width}: {e}"));
        let mut sim = SimBuilder::new("top").text("bank_ram.v", v).sim().unwrap();
        let p = |n: &str| sim.port(n).unwrap();
        let (we, wa, ra) = (p("we"), p("waddr"), p("raddr"));
        let wd: Vec<_> = (0..lanes).map(|s| p(&format!("wdata${s}"))).collect();
        let rd: Vec<_> = (0..lanes).map(|s| p(&format!("rdata${s}"))).collect();
        for cycle in 0..10_000 {
            let addr = |r: &mut rand_chacha::ChaCha8Rng| {
                if r.gen_bool(0.9) {
                    r.gen_range(0..depth) as u64
                } else {
                    r.gen_range(0..65536u64)
                }
            };
            let (w, a, b) = (r.gen_bool(0.5), addr(&mut r), addr(&mut r));
            let d: Vec<u64> = (0..lanes).map(|_| r.gen_range(0..256u64)).collect();
            ram.we.next = w;
            ram.waddr.next = bits::<16>(a);
            ram.raddr.next = bits::<16>(b);
            for (s, &x) in d.iter().enumerate() {
                ram.wdata[s].next = bits::<8>(x);
                sim.set(wd[s], x);
            }
            edge(&mut ram, |x, c| x.clock.next = Clock { clk: c });
            sim.set(we, w as u64);
            sim.set(wa, a);
            sim.set(ra, b);
            sim.tick().unwrap();
            for (s, &port) in rd.iter().enumerate() {
                let got = sim.get(port);
                assert!(
                    got < 1 << width,
                    "BankRam {depth}×{lanes}×{width}, cycle {cycle}, lane {s}: {got} wider than the lane"
                );
                assert_eq!(
                    got,
                    ram.rdata[s].val().to_u64(),
                    "BankRam {depth}×{lanes}×{width}, cycle {cycle}, lane {s}: Verilog vs model"
                );
            }
        }
    }
}

/// An adder-tree node on `bits` bits: Verilog against the model for every width 1..=32 (junk above the width on
/// both inputs, sums that overflow the width and wrap), and the model against the exact sum wherever that fits.
#[test]
fn tree_add_matches_its_model() {
    use pact_hdl::array::TreeAdd;
    use pact_hdl::cast::{sign_extend, signed_value, to_signed};
    let mut r = rng("tree_add_matches_its_model");
    for width in 1..=32usize {
        let mut node = TreeAdd::<32>::new(width);
        let v = emit(&mut node);
        lint(&v).unwrap_or_else(|e| panic!("TreeAdd {width}: {e}"));
        let mut sim = SimBuilder::new("top").text("tree_add.v", v).sim().unwrap();
        let (a, b, y) = (sim.port("a").unwrap(), sim.port("b").unwrap(), sim.port("y").unwrap());
        let half = 1i64 << (width - 1);
        for i in 0..2_000 {
            // Edges first (both extremes of the width), then random values with random junk above the width.
            let (x, z) = match i {
                0 => (-half, -half),
                1 => (half - 1, half - 1),
                2 => (-half, half - 1),
                _ => (r.gen_range(-half..half), r.gen_range(-half..half)),
            };
            let junk = |r: &mut rand_chacha::ChaCha8Rng, v: i64| {
                if width < 32 && r.gen_bool(0.5) {
                    v ^ (r.gen_range(1..1i64 << (32 - width)) << width)
                } else {
                    v
                }
            };
            let (xa, zb) = (junk(&mut r, x), junk(&mut r, z));
            node.a.next = to_signed::<32>(xa);
            node.b.next = to_signed::<32>(zb);
            settle(&mut node);
            sim.set(a, xa as u64 & 0xFFFF_FFFF);
            sim.set(b, zb as u64 & 0xFFFF_FFFF);
            sim.eval().unwrap();
            let want = sign_extend((x + z) as u64, width);
            assert_eq!(signed_value(node.y.val()), want, "TreeAdd {width}: model, {x} + {z}");
            if (-half..half).contains(&(x + z)) {
                assert_eq!(want, x + z, "TreeAdd {width}: an in-range sum is exact");
            }
            assert_eq!(
                sim.get(y),
                want as u64 & 0xFFFF_FFFF,
                "TreeAdd {width}: Verilog vs model, {xa} + {zb}"
            );
        }
    }
}

#[test]
fn table_matches_its_model() {
    let mut r = rng("table_matches_its_model");
    let rows: Vec<Vec<u16>> = (0..13).map(|_| (0..5).map(|_| r.gen()).collect()).collect();
    let mut t = Table::new(rows.clone());
    let v = emit(&mut t);
    lint(&v).unwrap();
    let mut sim = SimBuilder::new("top").text("table.v", v).sim().unwrap();
    let idx = sim.port("index").unwrap();
    let fields: Vec<_> = (0..5).map(|f| sim.port(&format!("field${f}")).unwrap()).collect();
    for i in (0..20u64).chain([65535]) {
        t.index.next = bits::<16>(i);
        settle(&mut t);
        sim.set(idx, i);
        sim.eval().unwrap();
        for (f, &port) in fields.iter().enumerate() {
            let want = rows.get(i as usize).map(|r| r[f] as u64).unwrap_or(0);
            assert_eq!(t.field[f].val().to_u64(), want, "model row {i} field {f}");
            assert_eq!(sim.get(port), want, "Verilog row {i} field {f}");
        }
    }
}

#[test]
fn weight_mem_matches_its_model() {
    let mut r = rng("weight_mem_matches_its_model");
    let (pe, simd, kw) = (3usize, 2usize, 6u32);
    // Layers of 1, 4, 6 and 3 bits (odd codes of 1 and 3 bits widened by wiring); PE 2 of layer 1 has no rows
    // (absent outputs).
    let mut blocks = Vec::new();
    for (l, bits) in [1u32, 4, 6, 3].into_iter().enumerate() {
        let row: Vec<WeightBlock> = (0..pe)
            .map(|p| {
                let words = if l == 1 && p == 2 { 0 } else { r.gen_range(1..40) };
                WeightBlock {
                    bits,
                    index: (0..words * simd).map(|_| r.gen_range(0..1u32 << bits) as u8).collect(),
                    // The 4-bit layer's indices are two's-complement weights (sign-extended, not offset).
                    twos: bits == 4,
                }
            })
            .collect();
        blocks.push(row);
    }
    let dir = out_dir("leaf_weight_mem");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (l, row) in blocks.iter().enumerate() {
        let mut fr = Vec::new();
        for (p, b) in row.iter().enumerate() {
            let f = dir.join(format!("w{l}_{p}.mem"));
            std::fs::write(&f, WeightMem::mem_file(b, simd)).unwrap();
            fr.push(f.to_string_lossy().into_owned());
        }
        files.push(fr);
    }
    let mut m = WeightMem::new(blocks.clone(), files, pe, simd, kw);
    let v = emit(&mut m);
    lint(&v).unwrap();
    let mut sim = SimBuilder::new("top").text("weight_mem.v", v).sim().unwrap();
    let (layer, addr) = (sim.port("layer").unwrap(), sim.port("addr").unwrap());
    let outs: Vec<_> = (0..pe * simd)
        .map(|k| sim.port(&format!("widx${k}")).unwrap())
        .collect();
    for cycle in 0..5_000 {
        let l = r.gen_range(0..5u64); // layer 4 does not exist: 0 everywhere
        let a = if r.gen_bool(0.9) {
            r.gen_range(0..40u64)
        } else {
            r.gen_range(0..1u64 << 24)
        };
        m.layer.next = bits::<16>(l);
        m.addr.next = bits::<24>(a);
        edge(&mut m, |x, c| x.clock.next = Clock { clk: c });
        sim.set(layer, l);
        sim.set(addr, a);
        sim.tick().unwrap();
        for (k, &port) in outs.iter().enumerate() {
            let (p, s) = (k / simd, k % simd);
            let want = match blocks.get(l as usize) {
                Some(row) => {
                    let b = &row[p];
                    // Past the ROM's depth, or a PE without a ROM: 0.
                    let i = b.index.get(a as usize * simd + s).map(|&i| u32::from(i));
                    if let Some(i) = i.filter(|_| b.twos) {
                        // The signed value of the `bits`-bit index, as a `kw`-bit two's-complement index.
                        let v = (i64::from(i) << (64 - b.bits)) >> (64 - b.bits);
                        (v & ((1 << kw) - 1)) as u64
                    } else if let Some(i) = i {
                        WeightMem::widen(i, b.bits, kw) as u64
                    } else {
                        0
                    }
                }
                None => 0,
            };
            assert_eq!(
                m.widx[k].val().to_u64(),
                want,
                "model, cycle {cycle}, layer {l}, addr {a}, lane {k}"
            );
            assert_eq!(
                sim.get(port),
                want,
                "Verilog, cycle {cycle}, layer {l}, addr {a}, lane {k}"
            );
        }
    }
}

#[test]
fn widened_weight_indices_decode_to_the_same_weight() {
    for kw in 1..=8u32 {
        for bits in 1..=kw {
            for i in 0..(1u32 << bits) {
                let w = WeightMem::widen(i, bits, kw);
                assert!(w < 1 << kw);
                assert_eq!(
                    pact_toolchain::contract::decode_weight(w, kw),
                    pact_toolchain::contract::decode_weight(i, bits),
                    "index {i} of {bits} bits at {kw} bits"
                );
            }
        }
    }
}
