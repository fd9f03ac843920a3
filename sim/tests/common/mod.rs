//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A test fixture file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A seeded generator; the seed is `$PACT_SIM_SEED` if set, else `default`, and is printed so a failure can be
/// replayed.
pub fn rng(test: &str, default: u64) -> ChaCha8Rng {
    let seed = std::env::var("PACT_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    println!("{test}: seed {seed} (replay with PACT_SIM_SEED={seed})");
    ChaCha8Rng::seed_from_u64(seed)
}
