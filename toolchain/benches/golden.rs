//! Criterion benchmark of the golden integer model against the f32 (fake-quant) evaluation of the same shapes,
//! single image and a parallel batch. `pact bench` prints the same comparison as MAC/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pact_toolchain::bench::builtin_models;
use pact_toolchain::forward::FakeQuant;
use pact_toolchain::golden::Golden;
use pact_toolchain::report::total_macs;
use rand::{Rng, SeedableRng};

fn bench(c: &mut Criterion) {
    let seed = 7;
    let models = builtin_models(seed).expect("built-in models quantize");
    for (name, q) in &models {
        let px: usize = q.input.shape.iter().product();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let batch = 256;
        let data: Vec<u8> = (0..px * batch).map(|_| rng.gen()).collect();
        let golden = Golden::new(q);
        let fq = FakeQuant::new(q);
        let mut g = c.benchmark_group(name.as_str());
        g.throughput(Throughput::Elements(total_macs(q)));
        g.bench_function(BenchmarkId::new("golden-int", "1 image"), |b| {
            b.iter(|| golden.infer(&data[..px]))
        });
        g.bench_function(BenchmarkId::new("f32", "1 image"), |b| {
            b.iter(|| fq.forward(&data[..px]))
        });
        g.throughput(Throughput::Elements(total_macs(q) * batch as u64));
        g.bench_function(BenchmarkId::new("golden-int", "batch 256 (all cores)"), |b| {
            b.iter(|| golden.classify_batch(&data))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
