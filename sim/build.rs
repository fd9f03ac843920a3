//! Records the target triple so that the run-time C++ build (through the `cc` crate, outside any build script)
//! compiles for the machine this crate was built for.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=PACT_SIM_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
