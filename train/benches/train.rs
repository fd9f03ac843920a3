//! Training throughput: a fixed number of mini-batches (batch 64, W4A4, first/last 8 bits, Adam) of the `mlp`
//! and `cnn` presets on the embedded mnist5k images, reported by criterion as samples per second.
//! `cargo bench -p pact-train` (release profile).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pact_toolchain::data::{load, DataSpec, Split};
use pact_train::{train, ArchSpec, ModelSpec, Precision, TrainConfig};

const BATCHES: usize = 20;
const BATCH: usize = 64;

fn bench(c: &mut Criterion) {
    pact_train::tune_allocator();
    let data = load(&DataSpec::Mnist5k, Split::Train).expect("embedded data set");
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.throughput(Throughput::Elements((BATCHES * BATCH) as u64));
    for preset in ["mlp", "cnn"] {
        let spec = ModelSpec::Arch(ArchSpec::preset(preset, data.shape).expect("preset"));
        let mut cfg = TrainConfig::new(Precision::new(4, 4, 8).expect("bits"));
        cfg.epochs = 1;
        cfg.batch = BATCH;
        cfg.max_batches = Some(BATCHES);
        group.bench_function(format!("{preset}_w4a4_{BATCHES}x{BATCH}"), |b| {
            b.iter(|| train(&spec, &data, None, &cfg, 1, |_| {}).expect("training"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
