//! Formal equivalence of the PACT unit's RTL (as `pact_hdl::verilog::emit` writes it) and the gate netlist yosys
//! synthesizes from it, for a few widths: a `miter -equiv` of the two, proved with a bounded SAT check from the
//! all-zero initial state (`sat -verify -prove trigger 0 -set-init-zero -seq N`, N covering the pipeline
//! latency several times over). The same check run against a deliberately modified netlist (the unit with its
//! rounding constant changed, `inject_rounding_fault`) must fail, so the check is known to be able to fail.
//!
//! Skipped, with the reason printed, when yosys is not installed (`apt-get install yosys`), except where
//! `PACT_REQUIRE_TOOLS` is set (scripts/test.sh, CI): then it fails. Any other yosys failure fails the test.
//!
//! ```text
//! cargo test --release -p pact-hdl --test equiv -- --nocapture
//! ```

use pact_hdl::pact::{ChannelConsts, PactUnit, PACT_LATENCY};
use pact_hdl::verilog::{emit, ScratchDir};
use std::process::Command;

/// Cycles the bounded proof covers: three times the pipeline latency.
const SEQ: usize = 3 * PACT_LATENCY;

fn yosys_available() -> bool {
    Command::new("yosys")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Two channels with different constants (the channel ROMs are part of the logic proved).
fn consts(acc_bits: u32) -> Vec<ChannelConsts> {
    let lim = 1i64 << (acc_bits - 1);
    vec![
        ChannelConsts {
            m0: 40000,
            shift: 18,
            bias: -(lim / 3),
        },
        ChannelConsts {
            m0: 517,
            shift: 5,
            bias: lim / 2 - 1,
        },
    ]
}

/// Verilog of the unit `PactUnit<R, R + 16, KA>` at `acc_bits`, `ka`, optionally with the rounding fault.
fn unit_verilog<const R: usize, const V: usize, const KA: usize>(acc_bits: u32, ka: u32, fault: bool) -> String {
    let mut u = PactUnit::<R, V, KA>::new(acc_bits, ka, &consts(acc_bits)).unwrap();
    if fault {
        u.inject_rounding_fault();
    }
    emit(&mut u)
}

/// Run `script` in yosys; `Ok(log)` if it exits 0, `Err(log)` otherwise.
fn yosys(dir: &ScratchDir, name: &str, script: &str) -> Result<String, String> {
    let ys = dir.write(name, script).unwrap();
    let out = Command::new("yosys")
        .arg("-q")
        .arg("-l")
        .arg(dir.path().join(format!("{name}.log")))
        .arg("-s")
        .arg(&ys)
        .current_dir(dir.path())
        .output()
        .expect("run yosys");
    let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
    let all = format!(
        "{log}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(all)
    } else {
        Err(all)
    }
}

/// Synthesize `rtl` to a generic gate netlist (`synth -flatten`), written as `netlist.v` in `dir`.
fn synthesize(dir: &ScratchDir, rtl: &str, name: &str) -> String {
    dir.write(&format!("{name}.v"), rtl).unwrap();
    let script = format!(
        "read_verilog {name}.v\nsynth -flatten -top top\nopt_clean -purge\nwrite_verilog -noattr {name}_netlist.v\n"
    );
    yosys(dir, &format!("synth_{name}"), &script).unwrap_or_else(|log| panic!("yosys synth failed:\n{log}"));
    std::fs::read_to_string(dir.path().join(format!("{name}_netlist.v"))).unwrap()
}

/// Prove `gold` (RTL) and `gate` (netlist) equivalent for [`SEQ`] cycles from the all-zero state.
fn prove(dir: &ScratchDir, gold: &str, gate: &str, name: &str) -> Result<String, String> {
    dir.write(&format!("{name}_gold.v"), gold).unwrap();
    dir.write(&format!("{name}_gate.v"), gate).unwrap();
    let script = format!(
        "read_verilog {name}_gold.v\nprep -flatten -top top\nmemory\nopt_clean\nrename top gold\ndesign -stash gold\n\
         read_verilog {name}_gate.v\nprep -flatten -top top\nrename top gate\ndesign -stash gate\n\
         design -copy-from gold -as gold gold\ndesign -copy-from gate -as gate gate\n\
         miter -equiv -flatten -make_outputs -ignore_gold_x gold gate miter\nhierarchy -top miter\n\
         sat -verify -prove trigger 0 -set-init-zero -seq {SEQ} -show-inputs -show-outputs miter\n"
    );
    yosys(dir, &format!("prove_{name}"), &script)
}

fn check_width<const R: usize, const V: usize, const KA: usize>(acc_bits: u32, ka: u32) {
    let name = format!("pact_r{R}_ka{KA}_acc{acc_bits}_k{ka}");
    let dir = ScratchDir::new(&name).unwrap();
    let rtl = unit_verilog::<R, V, KA>(acc_bits, ka, false);
    let netlist = synthesize(&dir, &rtl, "good");
    let t = std::time::Instant::now();
    match prove(&dir, &rtl, &netlist, "good") {
        Ok(log) => {
            assert!(log.contains("SAT proof finished - no model found: SUCCESS!"), "{log}");
            println!(
                "{name}: RTL ≡ netlist for {SEQ} cycles from reset ({:.1} s)",
                t.elapsed().as_secs_f64()
            );
        }
        Err(log) => panic!("{name}: the synthesized netlist is not equivalent to the RTL:\n{log}"),
    }
    // The check can fail: the netlist of the unit with its rounding constant changed differs from the RTL.
    let bad_netlist = synthesize(&dir, &unit_verilog::<R, V, KA>(acc_bits, ka, true), "bad");
    match prove(&dir, &rtl, &bad_netlist, "bad") {
        Ok(log) => panic!("{name}: a netlist with a rounding fault passed the equivalence check:\n{log}"),
        Err(log) => {
            assert!(
                log.contains("SAT proof finished - model found: FAIL!"),
                "{name}: the faulty netlist failed for another reason:\n{log}"
            );
            println!("{name}: the rounding-fault netlist is caught (counterexample found)");
        }
    }
}

#[test]
fn pact_unit_rtl_equals_its_synthesized_netlist() {
    if !yosys_available() {
        pact_sim::require::skip_or_fail("yosys is not installed (Debian: apt-get install yosys)");
        return;
    }
    check_width::<4, 20, 2>(4, 2);
    check_width::<8, 24, 4>(8, 4);
}
