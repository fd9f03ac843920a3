//! Shared by the co-simulation tests.
#![allow(dead_code)]

use pact_cosim::fixtures::{DEFAULT_PE, DEFAULT_SIMD};
use pact_hdl::accel::AccelConfig;
use pact_toolchain::data::{self, DataSpec, Dataset, Split};
use std::path::PathBuf;

/// The design cache of the tests (stable, so the Verilator cache hits on reruns).
pub fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("designs")
}

/// The mnist5k test split.
pub fn mnist_test() -> Dataset {
    data::load(&DataSpec::Mnist5k, Split::Test).expect("mnist5k")
}

/// A number from the environment, or the default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The array the default model is built for (`pact_cosim::fixtures::DEFAULT_PE` × `DEFAULT_SIMD`).
pub fn default_array() -> AccelConfig {
    AccelConfig::new(DEFAULT_PE, DEFAULT_SIMD).unwrap()
}
