//! Enables `cfg(pact_avx512)` when the compiler is Rust 1.89 or newer (the AVX-512 intrinsics and target features
//! the golden model's fastest kernels use were stabilised there); older compilers (the MSRV) build the AVX2 and
//! portable kernels only.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pact_avx512)");
    if version_check::is_min_version("1.89.0").unwrap_or(false) {
        println!("cargo::rustc-cfg=pact_avx512");
    }
}
