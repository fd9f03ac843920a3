//! What a test does when an external tool it needs is missing (verilator, yosys, icepll, YoWASP, the
//! Fashion-MNIST package, root for a tmpfs mount).
//!
//! A test never passes by skipping where the tools are supposed to be there: `scripts/test.sh` (the README's test
//! command, which CI runs after installing every tool) sets [`REQUIRE_TOOLS_ENV`], and then a missing tool fails
//! the test, naming the tool and how to install it. Without the variable (a local run on a machine without the
//! tools) the test prints `SKIPPED: …` with the same reason and returns.

/// The environment variable that makes a missing tool fail the test: set to anything but empty or `0`.
pub const REQUIRE_TOOLS_ENV: &str = "PACT_REQUIRE_TOOLS";

/// Whether [`REQUIRE_TOOLS_ENV`] is set (to anything but empty or `0`) in this process's environment.
pub fn tools_required() -> bool {
    required_from(std::env::var_os(REQUIRE_TOOLS_ENV).as_deref())
}

/// [`tools_required`] for a given value of the variable (`None`: unset).
pub fn required_from(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The decision for a test whose tool is missing: `Err(message)` (the test must fail) when `required`, else
/// `Ok(message)` (print it and skip). `what` names what is missing and how to get it.
pub fn missing_tool(required: bool, what: &str) -> Result<String, String> {
    if required {
        Err(format!(
            "{what}; {REQUIRE_TOOLS_ENV} is set (scripts/test.sh, CI), so a missing tool fails the test instead of \
             skipping it"
        ))
    } else {
        Ok(format!(
            "SKIPPED: {what} (set {REQUIRE_TOOLS_ENV}=1 to make this a failure)"
        ))
    }
}

/// Called by a test when `what` is missing, just before it returns early: panics (fails the test) when
/// [`tools_required`], else prints `SKIPPED: {what}`.
pub fn skip_or_fail(what: &str) {
    match missing_tool(tools_required(), what) {
        Ok(skip) => println!("{skip}"),
        Err(fail) => panic!("{fail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn the_variable_is_read_as_documented() {
        assert!(!required_from(None));
        assert!(!required_from(Some(OsStr::new(""))));
        assert!(!required_from(Some(OsStr::new("0"))));
        assert!(required_from(Some(OsStr::new("1"))));
        assert!(required_from(Some(OsStr::new("yes"))));
    }

    #[test]
    fn a_missing_tool_fails_when_required_and_skips_otherwise() {
        let what = "yosys is not installed (apt-get install yosys)";
        let fail = missing_tool(true, what).unwrap_err();
        assert!(fail.starts_with(what) && fail.contains(REQUIRE_TOOLS_ENV), "{fail}");
        let skip = missing_tool(false, what).unwrap();
        assert!(skip.starts_with("SKIPPED: yosys is not installed"), "{skip}");
    }
}
