//! rnnplay-engine: the GPU runtime, the CPU reference backend, tensors, the autograd tape, ops,
//! optimizers and global-norm gradient clipping. See `docs/ARCHITECTURE.md`.

pub mod backend;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use backend::{Backend, BackendInfo, BackendKind, BufId, Counters, CpuBackend, GpuBackend, Kernel};
pub use error::{EngineError, Result};
