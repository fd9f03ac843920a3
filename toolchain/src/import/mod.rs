//! Importers of trained float models into [`crate::float::FloatModel`].

pub mod onnx;
pub mod qonnx;
pub mod statedict;
