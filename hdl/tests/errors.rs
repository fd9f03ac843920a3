//! `HdlError` keeps the error that caused it: an OS error is the `source()` (its original type), not text pasted
//! into the message, and the chain printed as `anyhow`'s `{:#}` prints it says everything once.

use pact_hdl::verilog::{run_tool, ScratchDir};
use pact_hdl::HdlError;
use std::error::Error as _;
use std::process::Command;

/// The message of `e` and of every error in its source chain, joined by ": " (as `{:#}` prints an anyhow error).
fn chain(e: &HdlError) -> String {
    let mut s = e.to_string();
    let mut x = e.source();
    while let Some(c) = x {
        s += &format!(": {c}");
        x = c.source();
    }
    s
}

#[test]
fn io_errors_keep_the_os_error_as_source() {
    let dir = ScratchDir::new("errors").unwrap();
    std::fs::remove_dir_all(dir.path()).unwrap();
    let e = dir.write("x.v", "module x; endmodule\n").unwrap_err();
    let p = dir.path().join("x.v");
    let io = e
        .source()
        .expect("a source")
        .downcast_ref::<std::io::Error>()
        .expect("the OS error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(matches!(&e, HdlError::Io { path, .. } if *path == p), "{e:?}");
    assert_eq!(e.to_string(), format!("cannot write {}", p.display()));
    assert_eq!(chain(&e), format!("cannot write {}: {io}", p.display()));
}

#[test]
fn tool_errors_say_what_to_install_or_keep_the_os_error() {
    let e = run_tool(&mut Command::new("pact-no-such-tool"), "pact-no-such-package").unwrap_err();
    assert!(e.source().is_none(), "{e:?}");
    assert_eq!(
        chain(&e),
        "pact-no-such-tool is not installed (Debian: apt-get install pact-no-such-package)"
    );
    // A file that is not executable: the tool cannot run, the OS error is the source.
    let dir = ScratchDir::new("errors").unwrap();
    let f = dir.write("not-a-tool", "").unwrap();
    let e = run_tool(&mut Command::new(&f), "x").unwrap_err();
    let io = e
        .source()
        .expect("a source")
        .downcast_ref::<std::io::Error>()
        .expect("the OS error");
    assert_eq!(chain(&e), format!("cannot run {}: {io}", f.display()));
}

#[test]
fn toolchain_errors_are_the_source() {
    let inner = pact_toolchain::Error::config("bad");
    let e = HdlError::InvalidModel(inner);
    assert!(e
        .source()
        .and_then(|s| s.downcast_ref::<pact_toolchain::Error>())
        .is_some());
    assert_eq!(chain(&e), "invalid quantized model: bad");
    // Passed on as it is: the same message, once.
    let e = HdlError::from(pact_toolchain::Error::layer("fc", "bad"));
    assert_eq!(chain(&e), "layer 'fc': bad");
    // The compatibility constructor is a parameter error.
    assert!(matches!(HdlError::new("x"), HdlError::Config(m) if m == "x"));
}
