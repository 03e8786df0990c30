//! rnnplay-engine: the GPU runtime, the CPU reference backend, tensors, the autograd tape, ops,
//! optimizers and global-norm gradient clipping. See `docs/ARCHITECTURE.md`.

pub mod backend;
pub mod beam;
pub mod checkpoint;
pub mod clip;
pub mod error;
pub mod generate;
pub mod init;
pub mod inspect;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod options;
pub mod param;
pub mod replay;
mod state_grads;
pub mod tape;
pub mod tensor;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod train;
pub mod translate;

pub use backend::{Backend, BackendInfo, BackendKind, BufId, Counters, CpuBackend, GpuBackend, Kernel, MemoryUse};
pub use checkpoint::{Checkpoint, Seq2SeqCheckpoint};
pub use clip::GradClipper;
pub use error::{EngineError, Result};
pub use init::{Init, InitRng};
pub use optim::{Adam, LrSchedule, Optimizer, Sgd};
pub use options::EngineOptions;
pub use param::{zero_grads, Param};
pub use tape::{Tape, Var};
pub use tensor::{DType, Tensor};
