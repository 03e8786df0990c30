//! rnnplay's WGSL kernels as text, one constant per shader family (the engine's
//! `backend::gpu::encode::Family`). Each family is one file beside this crate's `src/`; the
//! matmul and reduction families are their shared `Params` declaration followed by the kernels;
//! the element-wise and attention families share `dropout_mask.wgsl`, the hash dropout keeps by,
//! the two recurrent families `cell_math.wgsl`, the gate arithmetic, and the reduction and
//! optimizer families `workgroup_sum.wgsl`, a workgroup's tree sum.
//! The engine's CPU backend is the reference every kernel is tested against
//! (`crates/engine/tests/kernels_gpu_vs_cpu.rs`).

/// Matrix multiply: naive, register-blocked 4×4 and 16×16 workgroup tiles, with transposes.
pub const MATMUL: &str = concat!(include_str!("../matmul_params.wgsl"), include_str!("../matmul.wgsl"));
/// Matrix multiply over `vec4` loads (the register-blocked variant's wide form).
pub const MATMUL_VEC4: &str = concat!(include_str!("../matmul_params.wgsl"), include_str!("../matmul_vec4.wgsl"));
/// Element-wise maps and their backward forms, bias add, dropout, scaling, fill.
pub const ELEMENTWISE: &str = concat!(include_str!("../elementwise.wgsl"), include_str!("../dropout_mask.wgsl"));
/// Sums, sums of squares and column sums, one workgroup tree per output.
pub const REDUCE: &str = concat!(
    include_str!("../reduce_params.wgsl"),
    include_str!("../reduce.wgsl"),
    include_str!("../workgroup_sum.wgsl")
);
/// The same reductions with subgroup operations, for devices opened with `Features::SUBGROUP`.
pub const REDUCE_SUBGROUP: &str =
    concat!(include_str!("../reduce_params.wgsl"), include_str!("../reduce_subgroup.wgsl"));
/// Strided copies: slices, concatenation, transposition.
pub const SHAPE: &str = include_str!("../shape.wgsl");
/// Concatenation of up to four parts in one dispatch, and its gradient.
pub const JOIN: &str = include_str!("../join.wgsl");
/// Row gather and its deterministic scatter-add backward (embeddings, one-hot input).
pub const EMBEDDING: &str = include_str!("../embedding.wgsl");
/// Softmax cross-entropy, masked or not, forward and backward together.
pub const LOSS: &str = include_str!("../loss.wgsl");
/// SGD and Adam updates, a group of gradients' global norm and the clipping scale.
pub const OPTIMIZER: &str = concat!(include_str!("../optimizer.wgsl"), include_str!("../workgroup_sum.wgsl"));
/// Scheduled sampling's choice between the true token and the model's own, on the device.
pub const SAMPLING: &str = include_str!("../sampling.wgsl");
/// One time step of a fused RNN, GRU or LSTM cell, forward and backward.
pub const RECURRENT: &str = concat!(include_str!("../recurrent.wgsl"), include_str!("../cell_math.wgsl"));
/// A fused RNN, GRU or LSTM layer's whole window, forward and backward, one workgroup per
/// sequence running the time loop.
pub const RECURRENT_WINDOW: &str = concat!(include_str!("../recurrent_window.wgsl"), include_str!("../cell_math.wgsl"));
/// Attention over an encoder's outputs: scores (additive or dot), masked softmax and context,
/// and their backward, with dropout of the weights in training (d2l's attention classes).
pub const ATTENTION: &str = concat!(include_str!("../attention.wgsl"), include_str!("../dropout_mask.wgsl"));
