//! The content-hash cache: a second build of an unchanged design does not run Verilator or the compiler, and
//! concurrent builders of one design all succeed. (One test in this binary, so the process-wide verilate counter
//! is not disturbed by other tests.)

mod common;

use std::time::Instant;

use pact_sim::{verilate_runs, SimBuilder};

#[test]
fn second_build_hits_cache_and_concurrent_builds_agree() {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let counter = std::fs::read_to_string(common::fixture("counter.v")).unwrap();
    // A comment makes the design new to the cache without changing it.
    let design = |tag: &str| SimBuilder::new("counter").text("counter.v", format!("// {tag} {nonce}\n{counter}"));

    let runs0 = verilate_runs();
    let t = Instant::now();
    let first = design("cache").build().unwrap();
    let first_time = t.elapsed();
    let info1 = first.build_info().clone();
    println!("first build: {first_time:?} {info1:?}");
    assert!(!info1.cache_hit);
    assert_eq!(verilate_runs(), runs0 + 1);

    let t = Instant::now();
    let second = design("cache").build().unwrap();
    let second_time = t.elapsed();
    let info2 = second.build_info().clone();
    println!("second build (cache hit): {second_time:?} {info2:?}");
    assert!(info2.cache_hit);
    assert_eq!(verilate_runs(), runs0 + 1, "a cache hit must not run verilator");
    assert_eq!(info2.key, info1.key);
    assert_eq!(second.library_path(), first.library_path());
    assert!(
        second_time * 4 < first_time,
        "cache hit {second_time:?} vs first build {first_time:?}"
    );

    // The hit works like the original.
    let mut sim = second.sim().unwrap();
    let (en, count) = (sim.port("en").unwrap(), sim.port("count").unwrap());
    sim.set(en, 1);
    sim.run(300).unwrap();
    assert_eq!(sim.get(count), 300 % 256);

    // Three builders of one new design at once: each gets a working model from the same entry.
    let builders: Vec<_> = (0..3)
        .map(|_| {
            let b = design("concurrent");
            std::thread::spawn(move || {
                b.build()
                    .map(|m| (m.build_info().clone(), m.library_path().to_path_buf()))
            })
        })
        .collect();
    let results: Vec<_> = builders.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    for (info, path) in &results {
        println!(
            "concurrent: hit={} total={:?} {}",
            info.cache_hit,
            info.total,
            path.display()
        );
        assert_eq!(path, &results[0].1);
    }
    let model = design("concurrent").build().unwrap();
    assert!(model.build_info().cache_hit);
    let mut sim = model.sim().unwrap();
    sim.set(sim.port("en").unwrap(), 1);
    sim.run(5).unwrap();
    assert_eq!(sim.get(sim.port("count").unwrap()), 5);

    // Leave no nonce entries behind in the shared cache.
    for dir in [&info1.dir, &results[0].0.dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
