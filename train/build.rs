//! Enables `cfg(pact_avx512)` when the compiler is Rust 1.89 or newer (AVX-512 target features were stabilised
//! there): the PACT quantizer kernel is then also compiled for AVX-512 and chosen at run time; older compilers
//! (the MSRV) build the portable loop only.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pact_avx512)");
    if version_check::is_min_version("1.89.0").unwrap_or(false) {
        println!("cargo::rustc-cfg=pact_avx512");
    }
}
