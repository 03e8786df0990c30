//! Models. `scratch` holds d2l's from-scratch recurrent models, written with primitive ops:
//! the teaching path, and the oracle for the fused layers to come.

pub mod scratch;

pub use scratch::{CellKind, ScratchModel};
