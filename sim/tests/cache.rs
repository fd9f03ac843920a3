//! The content-hash cache: a second build of an unchanged design does not run Verilator or the compiler, and
//! concurrent builders of one design all succeed. (One test in this binary, so the process-wide verilate counter
//! is not disturbed by other tests.)

mod common;

use std::time::Instant;

use pact_sim::{verilate_runs, SimBuilder};

/// The counter fixture behind a comment that makes it new to the cache without changing it.
fn design(tag: &str, nonce: &str) -> SimBuilder {
    let counter = std::fs::read_to_string(common::fixture("counter.v")).unwrap();
    SimBuilder::new("counter").text("counter.v", format!("// {tag} {nonce}\n{counter}"))
}

/// Run by `second_build_hits_cache_and_concurrent_builds_agree` as a separate process.
#[test]
#[ignore = "a helper process of the cache test"]
fn child_build() {
    let nonce = std::env::var("PACT_SIM_TEST_NONCE").expect("run by the cache test");
    let model = design("processes", &nonce).build().unwrap();
    let mut sim = model.sim().unwrap();
    sim.set(sim.port("en").unwrap(), 1);
    sim.run(7).unwrap();
    assert_eq!(sim.get(sim.port("count").unwrap()), 7);
    println!(
        "HIT={} total={:?}",
        model.build_info().cache_hit,
        model.build_info().total
    );
    println!("LIB={}", model.library_path().display());
}

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
    let design = |tag: &str| design(tag, &nonce);

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

    // Three threads building one new design at once: one builds, the others wait for it and hit the cache.
    let builders: Vec<_> = (0..3)
        .map(|_| {
            let b = design("threads");
            std::thread::spawn(move || {
                b.build()
                    .map(|m| (m.build_info().clone(), m.library_path().to_path_buf()))
            })
        })
        .collect();
    let threads: Vec<_> = builders.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    for (info, path) in &threads {
        println!(
            "thread: hit={} total={:?} {}",
            info.cache_hit,
            info.total,
            path.display()
        );
        assert_eq!(path, &threads[0].1);
    }
    assert_eq!(
        threads.iter().filter(|(i, _)| !i.cache_hit).count(),
        1,
        "exactly one thread compiles"
    );

    // Three processes building one new design at once: all compile, the first rename wins, all get a working
    // model from the same entry and none sees a half-built one.
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_build", "--ignored", "--nocapture"])
                .env("PACT_SIM_TEST_NONCE", &nonce)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut libs = Vec::new();
    for out in &children {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = text
            .lines()
            .find_map(|l| l.strip_prefix("LIB="))
            .expect("child printed its library")
            .to_string();
        println!(
            "process: {}",
            text.lines().find(|l| l.starts_with("HIT=")).unwrap_or("?")
        );
        libs.push(lib);
    }
    assert!(libs.iter().all(|l| *l == libs[0]), "{libs:?}");
    let processes = design("processes").build().unwrap();
    assert!(processes.build_info().cache_hit);
    let mut sim = processes.sim().unwrap();
    sim.set(sim.port("en").unwrap(), 1);
    sim.run(5).unwrap();
    assert_eq!(sim.get(sim.port("count").unwrap()), 5);
    let leftovers: Vec<_> = std::fs::read_dir(info1.dir.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".build-"))
        .filter(|e| std::fs::read_to_string(e.path().join("src/counter.v")).is_ok_and(|t| t.contains(&nonce)))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary build folders left behind: {leftovers:?}"
    );

    // Leave no nonce entries behind in the shared cache.
    for dir in [&info1.dir, &threads[0].0.dir, &processes.build_info().dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
