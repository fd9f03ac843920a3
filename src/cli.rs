//! Command-line interface: argument types and the subcommand drivers.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use pact_toolchain::data::{self, DataSpec, Dataset, Split};
use pact_toolchain::eval::{self, pct};
use pact_toolchain::float::FloatModel;
use pact_toolchain::model_io::{self, AnyModel};
use pact_toolchain::qmodel::QModel;
use pact_toolchain::quantize::{self, QuantConfig, WeightQuantizer};
use pact_toolchain::{contract, fsutil, report};
use std::path::{Path, PathBuf};

use crate::ui::Ui;

/// PACT-quantized neural networks to verified FPGA hardware.
#[derive(Parser, Debug)]
#[command(name = "pact", version, about, propagate_version = true)]
pub struct Cli {
    /// More output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors and the final result; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Seed of every random choice (training order, initialisation, random test stimulus).
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Quantize a float model (ONNX, or architecture JSON/TOML + safetensors/npz) to a .pqm integer model.
    Quantize(QuantizeArgs),
    /// Accuracy of the float, fake-quant and integer (golden) models on a data set, and their agreement.
    Eval(EvalArgs),
    /// Write a quantized model as QONNX (qonnx, FINN, hls4ml) or QCDQ (onnxruntime).
    Export(ExportArgs),
    /// Print a quantized model's layers: bits, α, scales, accumulator widths, parameters, MACs.
    Inspect(InspectArgs),
    /// Measure the golden model's MAC/s against an f32 evaluation of the same shapes.
    Bench(BenchArgs),
    /// Train a PACT network (quantization-aware: learned α, DoReFa weights) or its FP32 baseline.
    Train(pact_train::TrainArgs),
    /// Reproduce the PACT paper's comparison: FP32, PACT at several widths and a fixed-clip baseline.
    Experiment(pact_train::experiment::ExperimentArgs),
    /// Generate the accelerator's Verilog, memory files, manifest and resource estimate for a quantized model.
    Gen(GenArgs),
    /// Co-simulate the generated accelerator (Verilator, or Icarus) against the golden model, image by image.
    Sim(pact_cosim::cli::SimArgs),
    /// Generate the accelerator and build a bitstream with the open FPGA tools (yosys, nextpnr, icepack/ecppack).
    Synth(crate::synth_cmd::SynthCmdArgs),
    /// The whole flow on the embedded default: model → W4A4 → accuracy → Verilog → co-simulation → bitstream → report.
    Run(crate::run_cmd::RunArgs),
    /// Synthesize MACs over bit widths and the accelerator over array shapes; write a CSV and plots.
    Sweep(crate::sweep::SweepArgs),
}

/// Quantization settings shared by `quantize` and `eval` of a float model.
#[derive(Args, Debug, Clone)]
pub struct QuantArgs {
    /// Weight bits of inner layers (1..=8; 1 = binary ±1 with a per-layer scale).
    #[arg(long, default_value_t = contract::DEFAULT_WBITS)]
    pub wbits: u32,
    /// Activation bits of inner layers (1..=8).
    #[arg(long, default_value_t = contract::DEFAULT_ABITS)]
    pub abits: u32,
    /// Bits of the first and last layers' weights and of the last layer's input activations (1..=8).
    #[arg(long, default_value_t = contract::DEFAULT_FIRST_LAST_BITS)]
    pub first_last_bits: u32,
    /// Width of the requantization multiplier M0 (2..=31 bits).
    #[arg(long, default_value_t = contract::DEFAULT_M0_BITS)]
    pub m0_bits: u32,
    /// Weight quantizer: dorefa (PACT/DoReFa-trained models) or maxabs (plain float models).
    #[arg(long, default_value = "dorefa")]
    pub weight_quant: String,
    /// Real value of one input pixel code (default: from the architecture file; 1/255 for ONNX).
    #[arg(long)]
    pub input_scale: Option<f32>,
    /// Calibration data for ReLUs without a learned α: mnist5k | digits | fashion-mnist | PATH (train split).
    #[arg(long)]
    pub calib: Option<String>,
    /// Calibration images used at most.
    #[arg(long, default_value_t = 512)]
    pub calib_limit: usize,
}

/// `pact quantize`.
#[derive(Args, Debug)]
pub struct QuantizeArgs {
    /// The float model: .onnx, or a .json/.toml architecture file naming its weights.
    pub model: PathBuf,
    #[command(flatten)]
    pub quant: QuantArgs,
    /// Output quantized model (.pqm).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// `pact eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A float model (quantized in memory with the settings below) or a quantized .pqm model.
    pub model: PathBuf,
    /// Data: mnist5k | digits | fashion-mnist (their test split) | PATH (IDX/CSV, used whole).
    #[arg(long, default_value = "mnist5k")]
    pub data: String,
    /// Evaluate at most N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write per-image predictions of the integer model as CSV: index,label,prediction.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// The float model a .pqm came from (default: its recorded source, if that file exists).
    #[arg(long)]
    pub float: Option<PathBuf>,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// `pact export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The quantized model (.pqm).
    pub model: PathBuf,
    /// Output ONNX file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// qonnx (Quant nodes, domain qonnx.custom_op.general) or qcdq (QuantizeLinear/Clip/DequantizeLinear).
    #[arg(long, default_value = "qonnx")]
    pub format: String,
}

/// `pact gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// The quantized model (.pqm).
    pub model: PathBuf,
    /// Output directory (Verilog, $readmemh files, manifest.json).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub array: crate::args::ArrayArgs,
    /// Device the design must fit (the fit rule `pact synth` uses): any (no bound), ice40-up5k, ecp5-25k, ecp5-45k,
    /// ecp5-85k.
    #[arg(long, default_value = "any")]
    pub target: String,
    /// Name of the top module, also the Verilog file's (NAME.v): a Verilog identifier.
    #[arg(long, default_value = pact_hdl::accel::DEFAULT_TOP)]
    pub top: String,
}

/// `pact inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A quantized model (.pqm) or a float model (quantized in memory with the default settings).
    pub model: PathBuf,
}

/// `pact bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Quantized model to measure (default: the MLP and CNN shapes with random weights).
    pub model: Option<PathBuf>,
    /// Images per measurement.
    #[arg(long, default_value_t = 2000)]
    pub images: usize,
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ui = Ui {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    match cli.command {
        Command::Quantize(a) => cmd_quantize(&ui, a),
        Command::Eval(a) => cmd_eval(&ui, a),
        Command::Inspect(a) => cmd_inspect(a),
        Command::Export(a) => cmd_export(&ui, a),
        Command::Bench(a) => cmd_bench(&ui, a, cli.seed),
        Command::Train(a) => pact_train::run(&a, cli.seed, ui.quiet).map(|_| ()),
        Command::Experiment(a) => pact_train::experiment::run(&a, cli.seed, ui.quiet).map(|_| ()),
        Command::Gen(a) => cmd_gen(&ui, a),
        Command::Sim(a) => pact_cosim::cli::run(&a, cli.seed, ui.quiet).map(|_| ()),
        Command::Synth(a) => crate::synth_cmd::run(&a, cli.seed, ui.quiet).map(|_| ()),
        Command::Run(a) => crate::run_cmd::run(&a, cli.seed, ui.quiet).map(|_| ()),
        Command::Sweep(a) => crate::sweep::run(&a, cli.seed, ui.quiet).map(|_| ()),
    }
}

fn quant_config(q: &QuantArgs) -> Result<QuantConfig> {
    let wq: WeightQuantizer = q.weight_quant.parse()?;
    Ok(QuantConfig::builder()
        .wbits(q.wbits)
        .abits(q.abits)
        .first_last_bits(q.first_last_bits)
        .m0_bits(q.m0_bits)
        .weights(wq)
        .build()?)
}

/// Load `spec`'s split for evaluation: the test split of a named set, a PATH whole.
fn load_eval_data(spec: &str, limit: Option<usize>) -> Result<Dataset> {
    Ok(data::load_eval(spec, limit)?)
}

/// Quantize a float model with calibration data as the arguments say.
fn quantize_float(m: &FloatModel, q: &QuantArgs, source: &Path, default_calib: Option<&str>) -> Result<QModel> {
    let cfg = quant_config(q)?;
    let calib_name = q.calib.as_deref().or(default_calib);
    let needs_calib = m.nodes.iter().any(|n| matches!(n.op, pact_toolchain::float::Op::Relu));
    let calib = match (needs_calib, calib_name) {
        (true, Some(name)) => {
            let spec: DataSpec = name.parse()?;
            let split = if matches!(spec, DataSpec::Path(_)) {
                Split::All
            } else {
                Split::Train
            };
            let mut ds = data::load(&spec, split)?;
            ds.truncate(q.calib_limit.max(1));
            ds.fit_to(m.input.shape)?;
            Some(ds.images)
        }
        _ => None,
    };
    Ok(quantize::quantize(
        m,
        &cfg,
        calib.as_deref(),
        &source.display().to_string(),
    )?)
}

/// A quantized ONNX model (QONNX, QCDQ) as its dequantized float model and its integer model, `None` for any
/// other model file. Its widths come from the file: width flags given with other values than the file's are
/// an error.
fn load_quantized_onnx(path: &Path, q: &QuantArgs) -> Result<Option<(FloatModel, QModel)>> {
    if model_io::format_of(path)? != model_io::ModelFormat::Onnx {
        return Ok(None);
    }
    let Some((fm, qm)) = pact_toolchain::import::qonnx::load_quantized(path, q.m0_bits)? else {
        return Ok(None);
    };
    let p = &qm.provenance;
    let file = path.display().to_string();
    for (flag, given, default, from_file) in [
        ("--wbits", q.wbits, contract::DEFAULT_WBITS, p.wbits),
        ("--abits", q.abits, contract::DEFAULT_ABITS, p.abits),
        (
            "--first-last-bits",
            q.first_last_bits,
            contract::DEFAULT_FIRST_LAST_BITS,
            p.first_last_bits,
        ),
    ] {
        if given != default && given != from_file {
            anyhow::bail!(
                "{flag} {given} contradicts {file}, whose widths are fixed by its quantizers ({from_file} bits here); \
                 a quantized model needs no width flags"
            );
        }
    }
    if q.weight_quant != "dorefa" {
        anyhow::bail!(
            "--weight-quant {} does not apply to {file}: its integer weights are taken as they are",
            q.weight_quant
        );
    }
    if let Some(s) = q.input_scale {
        if ((s as f64 - qm.input.scale) / qm.input.scale).abs() > 1e-6 {
            anyhow::bail!(
                "--input-scale {s} contradicts {file}, whose input quantizer has scale {}",
                qm.input.scale
            );
        }
    }
    if q.calib.is_some() {
        anyhow::bail!("--calib does not apply to {file}: its activations' α come from its quantizers");
    }
    Ok(Some((fm, qm)))
}

/// The float model a `.pqm` came from: a float model file, or the dequantized graph of a quantized ONNX one.
fn load_source_float(path: &Path, input_scale: f32) -> Result<FloatModel> {
    if model_io::format_of(path)? == model_io::ModelFormat::Onnx {
        return Ok(pact_toolchain::import::onnx::load_onnx_any(path, input_scale)?.0);
    }
    Ok(model_io::load_float(path, Some(input_scale))?)
}

fn cmd_quantize(ui: &Ui, a: QuantizeArgs) -> Result<()> {
    let q = match load_quantized_onnx(&a.model, &a.quant)? {
        Some((_, q)) => q,
        None => {
            let m = model_io::load_float(&a.model, a.quant.input_scale)?;
            quantize_float(&m, &a.quant, &a.model, None)?
        }
    };
    q.save(&a.output)?;
    if !ui.quiet {
        print!("{}", report::inspect_table(&q));
    }
    ui.say(&format!("wrote {}", a.output.display()));
    Ok(())
}

fn cmd_eval(ui: &Ui, a: EvalArgs) -> Result<()> {
    let mut ds = load_eval_data(&a.data, a.limit)?;
    let quantized = load_quantized_onnx(&a.model, &a.quant)?;
    let any = match quantized {
        Some(_) => None,
        None => Some(model_io::load_any(&a.model, a.quant.input_scale)?),
    };
    let (float, q) = match (quantized, any) {
        (Some((f, q)), _) => (Some(f), q),
        (None, None) => unreachable!("one of the two is loaded"),
        (None, Some(AnyModel::Float(f))) => {
            let q = quantize_float(&f, &a.quant, &a.model, Some(&a.data))?;
            (Some(f), q)
        }
        (None, Some(AnyModel::Quant(q))) => {
            let src = a
                .float
                .clone()
                .or_else(|| Some(PathBuf::from(&q.provenance.source)).filter(|p| p.is_file()));
            let f = match src {
                Some(p) => Some(
                    load_source_float(&p, q.input.scale as f32)
                        .with_context(|| format!("loading the float model {}", p.display()))?,
                ),
                None => None,
            };
            (f, *q)
        }
    };
    if let Some(note) = ds.fit_to(q.input.shape)? {
        if ui.verbose > 0 {
            println!("{note}");
        }
    }
    let wq: WeightQuantizer = q.provenance.weight_quantizer.parse()?;
    let float = float.map(|f| quantize::float_reference(&f, wq));
    let pb = ui.bar(ds.len(), "eval");
    let t0 = std::time::Instant::now();
    let r = eval::evaluate(float.as_ref(), &q, &ds, &|| pb.inc(1))?;
    pb.finish_and_clear();
    let dt = t0.elapsed().as_secs_f64();
    let n = r.len();
    let p = &q.provenance;
    println!("data: {} ({} images)   model: {}", ds.name, n, a.model.display());
    println!("{:<28} {:>9} {:>12}", "model", "accuracy", "correct");
    match r.float_correct() {
        Some(c) => println!(
            "{:<28} {:>8.2}% {:>12}",
            format!("float ({})", float_kind(wq)),
            pct(c, n),
            format!("{c}/{n}")
        ),
        None => println!("{:<28} {:>9} {:>12}", "float", "n/a", "(no float model)"),
    }
    let tag = format!("W{}A{} first/last {}", p.wbits, p.abits, p.first_last_bits);
    let fq = r.fake_quant_correct();
    let it = r.integer_correct();
    println!(
        "{:<28} {:>8.2}% {:>12}",
        format!("fake-quant {tag}"),
        pct(fq, n),
        format!("{fq}/{n}")
    );
    println!(
        "{:<28} {:>8.2}% {:>12}",
        "integer (golden model)",
        pct(it, n),
        format!("{it}/{n}")
    );
    let ag = r.agreement();
    println!("top-1 agreement fake-quant vs integer: {:.2}% ({ag}/{n})", pct(ag, n));
    if ui.verbose > 0 {
        println!(
            "evaluated in {dt:.2} s ({:.0} images/s, all three models)",
            n as f64 / dt
        );
    }
    if let Some(path) = &a.predictions {
        fsutil::write_atomic(path, &eval::predictions_csv(&r))?;
        ui.say(&format!("wrote {}", path.display()));
    }
    Ok(())
}

fn float_kind(wq: WeightQuantizer) -> &'static str {
    match wq {
        WeightQuantizer::Dorefa => "dorefa unrounded",
        WeightQuantizer::MaxAbs => "as trained",
        WeightQuantizer::Imported => "dequantized, as in the file",
    }
}

fn cmd_export(ui: &Ui, a: ExportArgs) -> Result<()> {
    let format: pact_toolchain::export::Format = a.format.parse()?;
    let q = QModel::load(&a.model)?;
    pact_toolchain::export::export(&q, format, &a.output)?;
    ui.say(&format!(
        "wrote {} ({}, opset {})",
        a.output.display(),
        a.format,
        pact_toolchain::export::OPSET
    ));
    Ok(())
}

fn cmd_gen(ui: &Ui, a: GenArgs) -> Result<()> {
    use pact_hdl::accel::{generate_with, parse_target, GenOptions, TopName};
    let top: TopName = a.top.parse()?;
    let q = QModel::load(&a.model)?;
    let target = parse_target(&a.target)?;
    let cfg = crate::synth_cmd::accel_config(a.array, target, &q, false)?;
    let opts = GenOptions {
        top,
        ..GenOptions::default()
    };
    let r = generate_with(&q, &cfg, &a.output, &opts).with_context(|| a.model.display().to_string())?;
    ui.say(&r.summary());
    Ok(())
}

fn cmd_inspect(a: InspectArgs) -> Result<()> {
    if let Some((_, q)) = load_quantized_onnx(&a.model, &QuantArgs::parse_default())? {
        print!("{}", report::inspect_table(&q));
        return Ok(());
    }
    let q = match model_io::load_any(&a.model, None)? {
        AnyModel::Quant(q) => *q,
        AnyModel::Float(f) => {
            quantize_float(&f, &QuantArgs::parse_default(), &a.model, None).context("quantizing with the defaults")?
        }
    };
    print!("{}", report::inspect_table(&q));
    Ok(())
}

impl QuantArgs {
    /// The defaults as if no flag were given.
    fn parse_default() -> Self {
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            q: QuantArgs,
        }
        P::parse_from(["pact"]).q
    }
}

/// `pact bench`.
pub fn cmd_bench(ui: &Ui, a: BenchArgs, seed: u64) -> Result<()> {
    use pact_toolchain::bench;
    let models = match &a.model {
        Some(p) => vec![(p.display().to_string(), QModel::load(p)?)],
        None => bench::builtin_models(seed)?,
    };
    ui.say(&format!(
        "seed {seed}, {} images per measurement, {} threads",
        a.images,
        rayon::current_num_threads()
    ));
    println!(
        "{:<24} {:>12} {:>16} {:>16} {:>8}",
        "model", "MACs/inf", "golden MAC/s", "f32 MAC/s", "ratio"
    );
    for (name, q) in models {
        let r = bench::measure(&name, &q, a.images.max(1), seed);
        println!(
            "{:<24} {:>12} {:>16.3e} {:>16.3e} {:>8.2}",
            r.name,
            r.macs_per_inference,
            r.golden_mac_per_s,
            r.f32_mac_per_s,
            r.golden_mac_per_s / r.f32_mac_per_s
        );
    }
    Ok(())
}
