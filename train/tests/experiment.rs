//! `pact experiment pact-vs-clip` on a tiny budget (digits, 1 epoch, three configurations): the files are
//! written, and every accuracy in the table is what an independent evaluation of the saved model measures.

use pact_toolchain::data::{load, DataSpec, Split};
use pact_toolchain::golden::Golden;
use pact_toolchain::import::statedict;
use pact_toolchain::quantize::{quantize, QuantConfig};
use pact_train::experiment::{self, ExperimentArgs, RunConfig};

#[test]
fn pact_vs_clip_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let configs: Vec<RunConfig> = "fp32,pact2,clip2".split(',').map(|s| s.parse().unwrap()).collect();
    let mut args = ExperimentArgs::with_output(dir.path(), configs);
    args.data = "digits".into();
    args.epochs = 1;
    let seed = 9;
    println!("seed {seed}");
    let report = experiment::run(&args, seed, true).unwrap();
    assert_eq!(report.runs.len(), 3);
    for f in ["results.md", "results.csv", "accuracy_vs_bits.svg", "alpha.svg"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(!text.is_empty(), "{f} is empty");
        if f.ends_with(".svg") {
            assert!(text.starts_with("<svg"), "{f} is not an SVG");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.lines().nth(2).unwrap().starts_with("pact2,pact,2,"), "{csv}");

    // The integer accuracy in the table is that of the saved model, quantized and run by the golden model.
    let test = load(&DataSpec::Digits, Split::Test).unwrap();
    let qc = QuantConfig::builder().wbits(2).abits(2).build().unwrap();
    for r in &report.runs[1..] {
        let m = statedict::load_arch(&dir.path().join("models").join(format!("{}.json", r.config))).unwrap();
        let pred = Golden::new(&quantize(&m, &qc, None, "test").unwrap()).classify_batch(&test.images);
        let acc = pred
            .iter()
            .zip(&test.labels)
            .filter(|(p, l)| **p == **l as usize)
            .count() as f64
            / 360.0;
        assert_eq!(r.integer_acc, Some(acc), "{}", r.config);
        assert!(acc > 0.3, "{}: {acc} after one epoch", r.config);
        assert_eq!(
            r.alpha.iter().map(|(_, v)| v.len()).min(),
            Some(2),
            "α at the start and after epoch 1"
        );
    }
    let clip = &report.runs[2];
    assert!(
        clip.alpha.iter().all(|(_, v)| v.iter().all(|&a| a == 6.0)),
        "{:?}",
        clip.alpha
    );
    assert!(report.runs[0].integer_acc.is_none() && report.runs[0].alpha.is_empty());

    // --resume reuses every finished configuration trained with the same settings.
    args.resume = true;
    let again = experiment::run(&args, seed, true).unwrap();
    for (a, b) in report.runs.iter().zip(&again.runs) {
        assert_eq!(a.integer_acc, b.integer_acc);
        assert_eq!(a.wall_seconds, b.wall_seconds, "{} was trained again", a.config);
        assert!(b.reused && !a.reused);
    }
    let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
    assert!(md.contains("(`--resume`): fp32, pact2, clip2"), "{md}");
    // Another seed is another setting: trained again.
    args.configs = vec![RunConfig::Pact(2)];
    let other = experiment::run(&args, seed + 1, true).unwrap();
    assert_ne!(report.runs[1].wall_seconds, other.runs[0].wall_seconds);
}

#[test]
fn run_configs_parse() {
    assert_eq!("fp32".parse::<RunConfig>(), Ok(RunConfig::Fp32));
    assert_eq!("pact3".parse::<RunConfig>(), Ok(RunConfig::Pact(3)));
    assert_eq!("clip8".parse::<RunConfig>(), Ok(RunConfig::Clip(8)));
    for bad in ["pact0", "pact9", "clip", "fp16", "pact32"] {
        assert!(bad.parse::<RunConfig>().is_err(), "'{bad}' must be rejected");
    }
    let all: Vec<String> = experiment::DEFAULT_CONFIGS
        .split(',')
        .map(|s| s.parse::<RunConfig>().unwrap().to_string())
        .collect();
    assert_eq!(all.join(","), experiment::DEFAULT_CONFIGS);
}
