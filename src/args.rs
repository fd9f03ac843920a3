//! Argument types shared by several subcommands.

use clap::Args;

/// The accelerator's array shape (shared by `gen`-like commands).
#[derive(Args, Debug, Clone, Copy)]
pub struct ArrayArgs {
    /// Output channels computed in parallel (1..=64).
    #[arg(long, default_value_t = crate::defaults::DEFAULT_PE)]
    pub pe: usize,
    /// Inputs per output channel per cycle (1..=64; one of --pe/--simd divides the other).
    #[arg(long, default_value_t = crate::defaults::DEFAULT_SIMD)]
    pub simd: usize,
    /// Digit width of the MAC lanes in bits (1..=8): layers with wider activation codes or weights run as digit
    /// passes (docs/accelerator.md). Default: the model's widest operand (one pass per layer).
    #[arg(long)]
    pub lane_bits: Option<u32>,
}
