//! Typed errors of the engine. Every message names what was wrong and how to fix it.

use thiserror::Error;

/// Everything the engine can report instead of panicking.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    /// Two operands whose shapes do not fit together.
    #[error("{op}: shape mismatch: {detail}")]
    ShapeMismatch { op: &'static str, detail: String },

    /// An op that needs at least one element got none.
    #[error("{op}: empty tensor (shape {shape:?}); every dimension must be at least 1")]
    EmptyTensor { op: &'static str, shape: Vec<usize> },

    /// A buffer larger than the backend can hold in one buffer: the GPU adapter's
    /// max_storage_buffer_binding_size, or the CPU backend's own limit.
    #[error(
        "a buffer of {bytes} bytes exceeds {limit_name} of {limit} bytes; use a smaller batch, hidden size or vocabulary"
    )]
    BufferTooLarge { bytes: u64, limit: u64, limit_name: &'static str },

    /// No GPU adapter could be found or opened.
    #[error("no GPU adapter: {reason}. Install a Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libvulkan1`) or use RNNPLAY_BACKEND=cpu")]
    NoAdapter { reason: String },

    /// An unknown value of RNNPLAY_BACKEND or another setting.
    #[error("{0}")]
    InvalidArgument(String),

    /// The device reported an error (validation, out of memory, lost device).
    #[error("GPU error: {0}")]
    Device(String),

    /// The GPU device was lost mid-run (a driver reset, the browser reclaiming it, the GPU
    /// removed or `destroy`ed): nothing more can run on it. The run's host copy of its last
    /// finished epoch ([`crate::Session::host_checkpoint`]) survives.
    #[error("the GPU device was lost ({0}); nothing more can run on it")]
    DeviceLost(String),

    /// Training produced a non-finite loss in epoch `epoch` (counting from 1).
    #[error(
        "training diverged in epoch {epoch}: the mean loss became {mean_loss:.3e} (not finite, or over 10 000 times the \
         first epoch's or a uniform guess's); lower the learning rate or the clipping threshold θ"
    )]
    Diverged { mean_loss: f32, epoch: usize },

    /// A run resumed on data other than what it trained on (the host may offer to go on anyway).
    #[error("the data is not what the saved run trained on: {0}")]
    DataChanged(String),

    /// Reading a buffer back to the host failed.
    #[error("read-back failed: {0}")]
    Readback(String),
}

/// Result type of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
