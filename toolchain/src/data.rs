//! Data sets (in progress).
