//! Small pieces shared by the accelerator's rust-hdl blocks ([`super::issue`], [`super::writer`],
//! [`super::logit`], [`super::top`]).
use super::mem::{ADDR_BITS, WADDR_BITS};
use rust_hdl::prelude::*;

/// A 16-bit unsigned address, counter or descriptor word.
pub type A16 = Bits<ADDR_BITS>;

/// A weight ROM address, unsigned.
pub type A24 = Bits<WADDR_BITS>;

/// `n` default values.
pub fn vd<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}
