//! Simulated clock cycles per second of the MAC test fixture through the Verilator shim: free-running (one call
//! for many cycles), and the co-simulation loop (set a and b, tick, read acc, every cycle). The figure to beat is
//! ~20 M cycles/s for one MAC (docs/simulation.md, Figures).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pact_sim::SimBuilder;
use rand::{Rng, SeedableRng};

const CYCLES: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mac.v");
    let model = SimBuilder::new("mac")
        .file(&fixture)
        .build()
        .expect("the MAC fixture builds");
    println!("mac build: {:?}", model.build_info());
    let mut sim = model.sim().unwrap();
    let [en, a, b, acc] = ["en", "a", "b", "acc"].map(|n| sim.port(n).unwrap());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let stim: Vec<(i64, i64)> = (0..CYCLES)
        .map(|_| (rng.gen_range(-128..128), rng.gen_range(-128..128)))
        .collect();

    let mut g = c.benchmark_group("mac W=8 ACC=24");
    g.throughput(Throughput::Elements(CYCLES));
    g.sample_size(20);
    sim.set(en, 1);
    sim.set_i64(a, 3);
    sim.set_i64(b, -5);
    g.bench_function(BenchmarkId::new("free-running", "run(n)"), |bch| {
        bch.iter(|| sim.run(CYCLES).unwrap())
    });
    g.bench_function(BenchmarkId::new("co-sim loop", "set a,b; tick; get acc"), |bch| {
        bch.iter(|| {
            let mut x = 0i64;
            for &(av, bv) in &stim {
                sim.set_i64(a, av);
                sim.set_i64(b, bv);
                sim.tick().unwrap();
                x ^= sim.get_i64(acc);
            }
            x
        })
    });
    g.finish();
    println!("simulated cycles so far: {}", sim.cycles());
}

criterion_group!(benches, bench);
criterion_main!(benches);
