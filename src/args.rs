//! Argument types shared by several subcommands.

use clap::Args;

pub use pact_cosim::cli::Requant;

/// The accelerator's array shape. Without `--pe`/`--simd`, a command with a target device sizes the array
/// itself (the shape and lane width with the most inferences/s whose estimate fits, see docs/accelerator.md);
/// without a target, the shipped default's shape is used. Flags the user gives always win.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ArrayArgs {
    /// Output channels computed in parallel (1..=64). Default: chosen for the target, else the shipped default's.
    #[arg(long)]
    pub pe: Option<usize>,
    /// Inputs per output channel per cycle (1..=64; one of --pe/--simd divides the other). Default: as --pe.
    #[arg(long)]
    pub simd: Option<usize>,
    /// Digit width of the MAC lanes in bits (1..=8): layers with wider activation codes or weights run as digit
    /// passes (docs/accelerator.md). Default: chosen for the target, else the model's widest operand (one pass per
    /// layer).
    #[arg(long)]
    pub lane_bits: Option<u32>,
    /// Input buffers, 1 or 2: with 2 the accelerator takes the next image's pixels while the current one computes
    /// (an image every max(pixels, compute + 1) cycles); 1 saves the second buffer's memory. Default: chosen for
    /// the target (2 where it fits), else 2.
    #[arg(long)]
    pub input_buffers: Option<usize>,
    /// Requantization units: one per PE (`per-pe`) or one shared by the PEs (`shared`: pe − 1 fewer units and
    /// multipliers, groups take at least PE cycles, codes PE + 1 cycles later). Default: chosen for the target,
    /// else per-pe.
    #[arg(long, value_enum)]
    pub requant: Option<Requant>,
}

impl ArrayArgs {
    /// `--requant shared` given.
    pub fn shared(&self) -> bool {
        self.requant == Some(Requant::Shared)
    }
}
