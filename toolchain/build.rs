//! Enables `cfg(pact_avx512)` when the compiler is Rust 1.89 or newer (the AVX-512 intrinsics and target features
//! the golden model's fastest kernels use were stabilised there); older compilers (the MSRV) build the AVX2 and
//! portable kernels only.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pact_avx512)");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let minor = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1)?.split('.').nth(1)?.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=pact_avx512");
    }
}
