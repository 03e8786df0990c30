//! The kernel interface that both backends implement.
//!
//! A [`Kernel`] is one compute dispatch described by value: its buffers and its scalar
//! parameters. `CpuBackend` runs it at once in plain Rust; `GpuBackend` records it into the
//! current step and submits all recorded kernels together. Because both backends take the very
//! same value, every GPU kernel can be tested against the CPU reference by running one
//! `Kernel` on each.

use super::BufId;
use serde::{Deserialize, Serialize};

/// Element-wise functions with a backward form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// y = tanh(x); dy/dx = 1 - y² (backward reads the saved output)
    Tanh,
    /// y = 1 / (1 + e^-x); dy/dx = y (1 - y) (backward reads the saved output)
    Sigmoid,
    /// y = max(x, 0); dy/dx = [x > 0] (backward reads the saved input)
    Relu,
}

impl UnaryOp {
    pub(crate) fn code(self) -> u32 {
        match self {
            UnaryOp::Tanh => 0,
            UnaryOp::Sigmoid => 1,
            UnaryOp::Relu => 2,
        }
    }
}

/// Element-wise functions of two operands of equal length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
}

impl BinaryOp {
    pub(crate) fn code(self) -> u32 {
        match self {
            BinaryOp::Add => 0,
            BinaryOp::Sub => 1,
            BinaryOp::Mul => 2,
        }
    }
}

/// The ways a matmul can be computed on the GPU. The CPU backend ignores the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// One thread per output element; the baseline every other variant is measured against.
    Naive,
    /// Each thread computes a 4×4 block of outputs from registers, no workgroup memory:
    /// fastest on CPU-like adapters (lavapipe, SwiftShader).
    Blocked4x4,
    /// 16×16 tiles staged through workgroup memory: fastest on discrete GPUs.
    Tiled16,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 3] = [Self::Naive, Self::Blocked4x4, Self::Tiled16];

    pub fn name(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Blocked4x4 => "blocked4x4",
            Self::Tiled16 => "tiled16",
        }
    }

    /// Parses the names used by `RNNPLAY_MATMUL` and the benchmark.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// How a backend picks the variant of a matmul that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulPick {
    /// One variant for every shape: blocked4x4 on CPU-like adapters (fastest there at every
    /// size measured), or the one `RNNPLAY_MATMUL` forces.
    Always(MatmulVariant),
    /// On GPUs: tiled16 for products of fewer than [`MatmulPick::LARGE_OUTPUTS`] outputs,
    /// blocked4x4 from there.
    BySize,
}

impl MatmulPick {
    /// Where blocked4x4 takes over from tiled16 on a GPU, in outputs (m·n). Measured on an
    /// NVIDIA H200 (docs/PERFORMANCE.md, square products): tiled16 is 1.5× faster at 256³
    /// (65 536 outputs); blocked4x4 is 1.3× faster at 512³ (262 144 outputs), 3.8× at 1024³
    /// and 4.1× at 2048³. Fewer outputs make fewer of blocked4x4's 4×8-output threads, too few
    /// to fill a large GPU; tiled16's workgroups of 256 threads fill it sooner.
    pub const LARGE_OUTPUTS: usize = 512 * 512;

    /// The variant an m×n product runs with.
    pub fn variant_for(self, m: usize, n: usize) -> MatmulVariant {
        match self {
            Self::Always(variant) => variant,
            Self::BySize if m.saturating_mul(n) >= Self::LARGE_OUTPUTS => MatmulVariant::Blocked4x4,
            Self::BySize => MatmulVariant::Tiled16,
        }
    }

    /// How it picks, for logs and benchmark headers.
    pub fn describe(self) -> String {
        match self {
            Self::Always(variant) => variant.name().to_string(),
            Self::BySize => "tiled16 below 512×512 outputs, blocked4x4 from there".to_string(),
        }
    }
}

/// One compute kernel with its operands. Lengths are element counts; all buffers hold f32
/// except index buffers (u32), which are named `indices` or `labels`.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// c (+)= op(a) · op(b), op(a) is m×k, op(b) is k×n, c is m×n, all row-major.
    /// `trans_a` means `a` is stored k×m; `trans_b` means `b` is stored n×k. Each matrix
    /// starts `offsets` = [a, b, c] elements into its buffer, so a fused recurrent layer can
    /// multiply one time step's block of a buffer that holds the whole window.
    Matmul {
        a: BufId,
        b: BufId,
        c: BufId,
        m: usize,
        k: usize,
        n: usize,
        trans_a: bool,
        trans_b: bool,
        accumulate: bool,
        offsets: [usize; 3],
        variant: Option<MatmulVariant>,
    },
    /// Time step `at.step` of a fused recurrent layer, forward: the gate arithmetic of one cell
    /// for every (sequence, unit), from the step's input projections `gi` and recurrent
    /// projections `gh` (without the bias `bias_hh`, which it adds). Reads state block `step`
    /// of `states`, writes block `step + 1` and, for GRU and LSTM, the activated gates. The
    /// layouts are in [`CellStep`].
    RecurrentCell { at: CellStep, gi: BufId, gh: BufId, bias_hh: BufId, states: BufId, gates: Option<BufId> },
    /// Time step `at.step` of a fused recurrent layer, backward: from the complete state
    /// gradient of block `step + 1` of `dstates`, writes the step's pre-activation gradients
    /// into `dgi` (and, for the GRU, whose reset gate scales `W_hn h + b_hn`, the different
    /// ones of the recurrent projections into `dgh`) and adds the element-wise part of the
    /// previous state's gradient into block `step` (GRU: z ⊙ dh; LSTM: f ⊙ dc). The matmul
    /// part of dh, `dgh · W_hh`, is a separate [`Kernel::Matmul`].
    RecurrentCellBackward {
        at: CellStep,
        gh: BufId,
        bias_hh: BufId,
        states: BufId,
        gates: Option<BufId>,
        dstates: BufId,
        dgi: BufId,
        dgh: Option<BufId>,
    },
    /// One half of time step `at.step` of d2l's GRU (`at.reset_before`), forward. `Gates`: r
    /// and z from `gi`, gh's (r, z) block and `bias_hh`, their activations into `gates`, and
    /// r ⊙ h_{t−1} into `reset_h` (steps·batch, hidden). `Candidate`: n = tanh(gi_n + gh's n
    /// block + b_n), with gh's n block (r ⊙ h_{t−1}) · W_hnᵀ, and the new state
    /// n + z ⊙ (h_{t−1} − n) into block `step + 1`. Layouts in [`CellStep`].
    ResetGruCell {
        at: CellStep,
        half: ResetGruHalf,
        gi: BufId,
        gh: BufId,
        bias_hh: BufId,
        states: BufId,
        gates: BufId,
        reset_h: BufId,
    },
    /// One half of time step `at.step` of d2l's GRU, backward, the halves in reverse order.
    /// `Candidate`: from the complete gradient dh of block `step + 1`, the pre-activation
    /// gradients of z and n into `dgi` and `dgh`, and dh ⊙ z added into block `step`.
    /// `Gates`: from d(r ⊙ h_{t−1}) in gh's n block (the matmul dgh_n · W_hn wrote it there),
    /// r's pre-activation gradient into `dgi` and `dgh`, and d(r ⊙ h_{t−1}) ⊙ r added into
    /// block `step`. The rest of the previous state's gradient, dgh_rz · W_h(r,z), is a
    /// [`Kernel::Matmul`].
    ResetGruCellBackward {
        at: CellStep,
        half: ResetGruHalf,
        gh: BufId,
        states: BufId,
        gates: BufId,
        dstates: BufId,
        dgi: BufId,
        dgh: BufId,
    },
    /// A fused recurrent layer's whole window forward, in one dispatch: per step t (in
    /// order), `gh` row t = h_t · W_hhᵀ (the recurrent projections without bias, as the
    /// per-step matmul writes them) and the cell of [`Kernel::RecurrentCell`] at step t. `w_t` is
    /// W_hhᵀ (hidden, G·hidden); `at.step` is not used. State block 0 (and the LSTM's c block 0)
    /// holds the initial state. d2l's GRU (`at.reset_before`) runs the two halves of
    /// [`Kernel::ResetGruCell`] per step, with `w_t` in its blocked layout ([`CellStep`]) and
    /// r ⊙ h_{t−1} saved in `reset_h`.
    RecurrentWindow {
        at: CellStep,
        gi: BufId,
        w_t: BufId,
        bias_hh: BufId,
        states: BufId,
        gates: Option<BufId>,
        gh: BufId,
        reset_h: Option<BufId>,
    },
    /// A fused recurrent layer's whole window backward, in one dispatch: per step from the
    /// last, [`Kernel::RecurrentCellBackward`] at that step, then the matmul part of the
    /// previous state's gradient, dgh_t · W_hh (`dgi` where there is no `dgh`), added into
    /// block t of `dstates`. `w_hh` is W_hh (G·hidden, hidden); `at.step` is not used. d2l's
    /// GRU's per-step path (and so the CPU's) leaves d(r ⊙ h) in `gh`'s n block, its scratch
    /// there; the window kernel leaves `gh` alone: after a backward, `gh` is not to be read.
    RecurrentWindowBackward {
        at: CellStep,
        w_hh: BufId,
        gh: BufId,
        bias_hh: BufId,
        states: BufId,
        gates: Option<BufId>,
        dstates: BufId,
        dgi: BufId,
        dgh: Option<BufId>,
    },
    /// out[i] = value
    Fill { out: BufId, len: usize, value: f32 },
    /// y[i] = f(x[i])
    Unary { op: UnaryOp, x: BufId, y: BufId, len: usize },
    /// dx[i] (+)= dy[i] · f'(saved[i]); `saved` is y for tanh and sigmoid, x for relu.
    UnaryBackward { op: UnaryOp, saved: BufId, dy: BufId, dx: BufId, len: usize, accumulate: bool },
    /// out[i] (+)= a[i] op b[i]
    Binary { op: BinaryOp, a: BufId, b: BufId, out: BufId, len: usize, accumulate: bool },
    /// out[i] (+)= alpha · x[i]
    Scale { x: BufId, out: BufId, len: usize, alpha: f32, accumulate: bool },
    /// out[i] (+)= alpha · x[i] · s[0] (x present) or out[i] (+)= alpha · s[0] (x absent): the
    /// backward of a scalar-valued op, whose upstream gradient lives in a one-element buffer.
    ScaleByScalar { x: Option<BufId>, s: BufId, out: BufId, len: usize, alpha: f32, accumulate: bool },
    /// out[r, c] = x[r, c] + bias[c] for a rows×cols x
    AddBias { x: BufId, bias: BufId, out: BufId, rows: usize, cols: usize },
    /// out[c] (+)= Σ_r x[r, c]: the gradient of a broadcast bias
    ColumnSum { x: BufId, out: BufId, rows: usize, cols: usize, accumulate: bool },
    /// For each of `blocks` consecutive blocks of `rows` rows of `cols` values in `x` (from
    /// element `offset`), the mean over the block's rows of the rows' L2 norms, added into
    /// `out[out_offset + block]`: the batch-mean ‖∂L/∂h_s‖ of every time step s of a window's
    /// state gradient (`state_grads.rs`: the connectivity and the gradient's reach).
    RowNormMean { x: BufId, offset: usize, rows: usize, cols: usize, blocks: usize, out: BufId, out_offset: usize },
    /// dst[r·dst_stride + dst_offset + c] (+)= src[r·src_stride + src_offset + c] for r < rows,
    /// c < cols: slicing and concatenation along any dimension, and their gradients.
    Copy2d {
        src: BufId,
        dst: BufId,
        rows: usize,
        cols: usize,
        src_stride: usize,
        src_offset: usize,
        dst_stride: usize,
        dst_offset: usize,
        accumulate: bool,
    },
    /// Concatenation in one dispatch, or its gradient: part k (2 to [`JOIN_PARTS`] of them, no
    /// buffer twice, none the whole) is a (rows × cols) block at column `offset` of each of the
    /// `rows` rows of `whole` (rows × whole_stride). A join writes the parts into `whole`; a
    /// `split` adds (or, without the part's `accumulate`, writes) whole's blocks into the parts.
    Join { whole: BufId, rows: usize, whole_stride: usize, parts: [Option<JoinPart>; JOIN_PARTS], split: bool },
    /// out[c, r] (+)= x[r, c] for an x of rows × cols: the transpose (one-hot input through a
    /// PyTorch-layout weight gathers rows of its transpose).
    Transpose { x: BufId, out: BufId, rows: usize, cols: usize, accumulate: bool },
    /// out[r] (u32) = coins[r] != 0 ? argmax_c logits[r, c] (first on ties) : truth[r]: the next
    /// decoder inputs under scheduled sampling, chosen on the device.
    PickTokens { logits: BufId, truth: BufId, coins: BufId, out: BufId, rows: usize, classes: usize },
    /// out[i, :] = table[indices[i], :] (embedding lookup; one-hot input times a matrix). With
    /// `transposed` the table is stored (dim, table_rows) and its columns are gathered: a one-hot
    /// input times a PyTorch-layout weight, `one_hot · W_ihᵀ`, without a transpose.
    Gather {
        table: BufId,
        indices: BufId,
        out: BufId,
        num_indices: usize,
        dim: usize,
        table_rows: usize,
        transposed: bool,
    },
    /// grad_table[indices[i], :] += grad_out[i, :] for every i, in index order (deterministic),
    /// in the layout `transposed` says as for [`Kernel::Gather`]. Without `accumulate` the
    /// table is zeroed first (rows no index names get 0), so a fresh gradient needs no fill.
    ScatterAdd {
        grad_out: BufId,
        indices: BufId,
        grad_table: BufId,
        num_indices: usize,
        dim: usize,
        table_rows: usize,
        transposed: bool,
        accumulate: bool,
    },
    /// Per row r of a rows×classes `logits`: row_loss[r] = w_r · (logsumexp(logits[r]) - logits[r, labels[r]]),
    /// dlogits[r] = (softmax(logits[r]) - onehot(labels[r])) · w_r · grad_scale, with w_r = weights[r]
    /// or 1 when `weights` is absent (padding is masked by a weight of 0).
    SoftmaxCrossEntropy {
        logits: BufId,
        labels: BufId,
        weights: Option<BufId>,
        row_loss: BufId,
        dlogits: BufId,
        rows: usize,
        classes: usize,
        grad_scale: f32,
    },
    /// out[out_index] (+)= scale · Σ x[i] (or Σ x[i]² when `squares`)
    Sum { x: BufId, out: BufId, out_index: usize, len: usize, scale: f32, squares: bool, accumulate: bool },
    /// y[i] = x[i] · keep(i) / (1 - p) with keep(i) = hash(dropout_mask_seed(seed[0], salt), i) ≥ p;
    /// the backward is the same kernel applied to dy with the same seed and salt (and
    /// `accumulate`). `seed` is a one-element u32 buffer holding the step's seed: it is read on
    /// the device, so a recorded step (plan replay) draws new masks when the buffer changes.
    Dropout { x: BufId, y: BufId, len: usize, p: f32, seed: BufId, salt: u32, accumulate: bool },
    /// The global norm of the gradients of several kernels' worth of parameters, a group of
    /// up to [`NORM_GROUP`] at a time (one workgroup): `clip.state[1]` = Σ g² over the group's
    /// `grads` (each (buffer, len)), plus what it held unless `first`. With `last`, the norm:
    /// `norm[0]` = √state[1] (kept for charts) and `state[2]` = the factor
    /// [`ClipBy::factor`] gives from it and θ = state[0], which the updates then read.
    GradNorm { grads: [Option<(BufId, usize)>; NORM_GROUP], clip: ClipBy, norm: BufId, first: bool, last: bool },
    /// g[i] ·= clip.state[2], the factor the last [`Kernel::GradNorm`] wrote (d2l's
    /// grad_clipping, min(1, θ / ‖g‖)).
    ClipScale { grad: BufId, len: usize, clip: ClipBy },
    /// For each parameter of the group (up to [`SGD_GROUP`]): p[i] -= lr[0] · (g[i] /
    /// batch_size + weight_decay · p[i]) (d2l's `sgd`; with weight decay, PyTorch's
    /// `SGD(weight_decay=λ)`). The learning rate is a one-element buffer written before the
    /// step, so a recorded step (plan replay) follows a schedule. With `clip` the gradient is
    /// clipped on the way in, as [`Kernel::ClipScale`] would have (the gradient's buffer keeps
    /// the unclipped values).
    SgdUpdate {
        params: [Option<UpdateSlot>; SGD_GROUP],
        lr: BufId,
        batch_size: f32,
        weight_decay: f32,
        clip: Option<ClipBy>,
    },
    /// Attention scores (d2l 11.4), one per (query, key): for query b (row b of `query`,
    /// (batch, width)) and key s (row `s·batch + b` of `keys`, time-major (steps·batch, width)),
    /// additive: Σ_j w_v[j] · tanh(query[b, j] + keys[s·batch + b, j]) (`w_v` present), dot:
    /// Σ_j query[b, j] · keys[s·batch + b, j] / √width. Keys at or past `valid_lens[b]` (u32; 0
    /// counts as 1, so a row always has a key)
    /// score -10⁶, d2l's `masked_softmax`. Writes `scores` (batch, steps).
    AttentionScores {
        at: AttentionShape,
        query: BufId,
        keys: BufId,
        w_v: Option<BufId>,
        valid_lens: BufId,
        scores: BufId,
    },
    /// The softmax of each row of `scores` into `weights` (batch, steps), and the context
    /// Σ_s a[b, s] · values[s·batch + b, :] into `context` (batch, width), where a is the
    /// weights, or with `dropout` the weights dropped out (a = w · keep / (1 − p), the mask
    /// [`Kernel::Dropout`] would draw over the (batch, steps) weights). `weights` stay whole:
    /// the views read them and the softmax's backward needs them.
    AttentionContext {
        at: AttentionShape,
        scores: BufId,
        values: BufId,
        weights: BufId,
        context: BufId,
        dropout: Option<WeightDropout>,
    },
    /// The weighted sum's backward: the gradient of the weights as the context applied them,
    /// dweights[b, s] = Σ_j dcontext[b, j] · values[s·batch + b, j] (through the forward's
    /// dropout mask when it had one: · keep / (1 − p)), written; and the values' share
    /// a[b, s] · dcontext[b, :], added into `dvalues` row s·batch + b.
    AttentionSumBackward {
        at: AttentionShape,
        dcontext: BufId,
        values: BufId,
        weights: BufId,
        dweights: BufId,
        dvalues: BufId,
        dropout: Option<WeightDropout>,
    },
    /// The rest of attention's backward, from the weights and their gradient: through the
    /// softmax (ds = w ⊙ (dw − Σ_s w·dw)) and the scores into `dquery` and `dkeys` (both added
    /// to), and for additive scores each query's share of d(w_v) into `dw_v_rows` (batch,
    /// width; written, summed over the batch by a [`Kernel::ColumnSum`]). Dot scores' keys are
    /// the values (`keys` the values, `dkeys` their gradient).
    AttentionBackward {
        at: AttentionShape,
        query: BufId,
        keys: BufId,
        weights: BufId,
        dweights: BufId,
        dquery: BufId,
        dkeys: BufId,
        additive: Option<AdditiveGrads>,
    },
    /// PyTorch's Adam (no amsgrad): m = β1 m + (1-β1) g, v = β2 v + (1-β2) g²,
    /// p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps), with weight decay added to g — or,
    /// `decoupled`, PyTorch's AdamW: p ·= 1 - lr · weight_decay first, and g as it is.
    /// `scalars` holds [lr, 1-β1^t, 1-β2^t] ([`adam_bias_corrections`]), written by the host
    /// before the step: the step count and the scheduled rate live on the device, so a recorded
    /// step replays.
    AdamUpdate {
        param: BufId,
        grad: BufId,
        m: BufId,
        v: BufId,
        len: usize,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        scalars: BufId,
        /// The gradient clipped on the way in, as for [`Kernel::SgdUpdate`].
        clip: Option<ClipBy>,
    },
}

/// Global-norm clipping's state on the device, `state` = [θ, Σ g², factor]: θ written by the
/// host, the rest by [`Kernel::GradNorm`]. An update with it multiplies each gradient by the
/// factor on the way in — what a clip then an update did, one dispatch per parameter fewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipBy {
    pub state: BufId,
}

impl ClipBy {
    /// The clipping state's length.
    pub const LEN: usize = 3;

    /// What the gradient is multiplied by, given its norm and θ: min(1, θ / norm), exactly 1
    /// when the norm is within θ (so the gradient stays bit for bit as it was).
    pub fn factor(norm: f32, threshold: f32) -> f32 {
        if norm > threshold {
            threshold / norm
        } else {
            1.0
        }
    }
}

/// Parameters one [`Kernel::GradNorm`] reads: WebGPU lets a kernel bind 8 storage buffers,
/// and the norm binds the clipping state and the norm besides the gradients.
pub const NORM_GROUP: usize = 6;

/// Parameters one [`Kernel::SgdUpdate`] updates: two buffers each, besides the learning rate
/// and the clipping state, within WebGPU's 8 storage buffers.
pub const SGD_GROUP: usize = 3;

/// One parameter of a grouped update: its values, its gradient and their length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateSlot {
    pub param: BufId,
    pub grad: BufId,
    pub len: usize,
}

/// Parts one [`Kernel::Join`] joins or splits: one buffer each besides the whole.
pub const JOIN_PARTS: usize = 4;

/// One part of a [`Kernel::Join`]: its buffer, its (rows × cols) block's column in the whole,
/// and, when split, whether it accumulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinPart {
    pub buf: BufId,
    pub cols: usize,
    pub offset: usize,
    pub accumulate: bool,
}

/// `items` in groups of `N` slots, the last group's spare slots `None`.
pub fn groups_of<T: Copy, const N: usize>(items: &[T]) -> impl Iterator<Item = [Option<T>; N]> + '_ {
    items.chunks(N).map(|chunk| std::array::from_fn(|i| chunk.get(i).copied()))
}

/// How attention scores a query against a key (and how a model is built: `nn` re-exports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionScoring {
    /// Bahdanau's: w_vᵀ tanh(W_q q + W_k k), d2l's `AdditiveAttention`.
    Additive,
    /// Luong's scaled dot product qᵀk / √d, d2l's `DotProductAttention`.
    Dot,
}

impl AttentionScoring {
    pub const ALL: [AttentionScoring; 2] = [Self::Additive, Self::Dot];

    pub fn name(self) -> &'static str {
        match self {
            Self::Additive => "additive",
            Self::Dot => "dot",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The shapes of one attention step: `batch` queries of `width` values, each over `steps` keys
/// and values stored time-major (row `s·batch + b`), as a recurrent encoder writes its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    pub scoring: AttentionScoring,
    pub batch: usize,
    pub steps: usize,
    pub width: usize,
}

/// Dropout of attention weights in training, as d2l's `AdditiveAttention` and
/// `DotProductAttention` apply it before the weighted sum: weight (b, s) is kept where
/// `dropout_uniform(dropout_mask_seed(seed[0], salt), b·steps + s) ≥ p` and scaled by
/// 1 / (1 − p) — the mask a [`Kernel::Dropout`] with the same seed and salt draws over the
/// (batch, steps) weights. The kernels draw it where they need it, forward and backward, so
/// dropout costs no dispatch and no buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightDropout {
    pub p: f32,
    /// The step's seed, one u32 on the device (so a replayed step draws a new mask).
    pub seed: BufId,
    pub salt: u32,
}

/// What additive attention's backward reads and writes besides dot attention's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdditiveGrads {
    pub w_v: BufId,
    pub dw_v_rows: BufId,
}

/// The recurrent cell a fused kernel computes (and a model is built from: `nn` re-exports it).
/// It lives here, at the ground floor, because the kernels need it; the backend never imports
/// the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    Rnn,
    Gru,
    Lstm,
}

impl CellKind {
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Gru => "gru",
            CellKind::Lstm => "lstm",
        }
    }

    /// Number of gate blocks stacked in a PyTorch weight (and of (W_x, W_h, b) groups in a
    /// scratch model): RNN 1, GRU 3, LSTM 4.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    /// The activated gates a fused cell saves, in PyTorch's block order (the columns of its
    /// `gates` buffer): GRU reset r, update z, candidate n; LSTM input i, forget f, candidate
    /// g, output o. The RNN has none.
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            CellKind::Rnn => &[],
            CellKind::Gru => &["r", "z", "n"],
            CellKind::Lstm => &["i", "f", "g", "o"],
        }
    }

    /// Number of state tensors (H, or H and C).
    pub fn state_count(self) -> usize {
        if self == CellKind::Lstm {
            2
        } else {
            1
        }
    }
}

/// How a fused recurrent layer runs its time loop: two dispatches per time step each way
/// ([`Kernel::RecurrentCell`] and a matmul), or one dispatch per window each way with the loop
/// inside the kernel ([`Kernel::RecurrentWindow`]). Both compute the same numbers, up to the
/// order of the projections' sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeLoop {
    PerStep,
    Window,
}

impl TimeLoop {
    pub const ALL: [TimeLoop; 2] = [Self::PerStep, Self::Window];

    pub fn name(self) -> &'static str {
        match self {
            Self::PerStep => "step",
            Self::Window => "window",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Which time step of a fused recurrent layer a cell kernel computes, and the window's sizes.
///
/// Layouts, all row-major f32, with G the cell's gate count (RNN 1, GRU 3, LSTM 4):
/// - `gi`, `gh`, `gates`, `dgi`, `dgh`: (steps·batch, G·hidden), row `step·batch + b`, gate
///   blocks in PyTorch's order (GRU r, z, n; LSTM i, f, g, o);
/// - `states`, `dstates`: (S, steps + 1, batch, hidden) with S = 1 (h) or 2 (h, c): block `t`
///   of h is the state after `t` steps (block 0 is the initial state), c follows all of h.
///
/// d2l's GRU (`reset_before`: n = tanh(x W_xh + (r ⊙ h) W_hh + b_h), the reset gate applied
/// before the matmul) projects twice per step, h for r and z, then r ⊙ h for n, so its
/// recurrent buffers are blocked by what they multiply: `gh` and `dgh` hold a (steps·batch,
/// 2·hidden) (r, z) block, then a (steps·batch, hidden) n block ([`CellStep::gates_block`],
/// [`CellStep::candidate_block`]); the forward's `w_t` is W_h(r,z)ᵀ (hidden, 2·hidden) then
/// W_hnᵀ (hidden, hidden). `gi`, `gates` and `dgi` keep the rows above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellStep {
    pub cell: CellKind,
    /// d2l's GRU: the reset gate scales h before its matmul (a GRU only; PyTorch's applies it
    /// after, to W_hn h + b_hn).
    pub reset_before: bool,
    pub step: usize,
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
}

impl CellStep {
    /// Elements of one state block (batch · hidden).
    pub fn block(&self) -> usize {
        self.batch * self.hidden
    }

    /// Where the memory cells start in `states` (after the steps + 1 blocks of h).
    pub fn c_base(&self) -> usize {
        (self.steps + 1) * self.block()
    }

    /// Length of the `states` buffer.
    pub fn states_len(&self) -> usize {
        self.cell.state_count() * self.c_base()
    }

    /// Length of the `gi`/`gh`/`gates` buffers.
    pub fn gates_len(&self) -> usize {
        self.steps * self.batch * self.cell.gates() * self.hidden
    }

    /// d2l's GRU: where step `step`'s (batch, 2·hidden) rows of the (r, z) block of `gh`/`dgh` start.
    pub fn gates_block(&self, step: usize) -> usize {
        step * self.batch * 2 * self.hidden
    }

    /// d2l's GRU: where step `step`'s (batch, hidden) rows of the n block of `gh`/`dgh` start.
    pub fn candidate_block(&self, step: usize) -> usize {
        self.gates_block(self.steps) + step * self.block()
    }
}

/// The two halves of a time step of d2l's GRU, split by the matmul between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetGruHalf {
    /// r and z, and r ⊙ h_{t−1}.
    Gates,
    /// n and the new state.
    Candidate,
}

/// The hash that decides which elements dropout keeps. The same integer arithmetic runs in
/// `shaders/dropout_mask.wgsl`, so both backends drop the same elements for the same seed.
pub fn dropout_uniform(seed: u32, index: u32) -> f32 {
    let mut state = index.wrapping_mul(747_796_405).wrapping_add(2_891_336_453)
        ^ seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    let hashed = (word >> 22) ^ word;
    (hashed >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Inverted dropout of element `index`, worth `x`: x / (1 − p) where mask `mask_seed` keeps
/// it, else 0.
pub fn dropped(x: f32, mask_seed: u32, index: u32, p: f32) -> f32 {
    if dropout_uniform(mask_seed, index) >= p {
        x / (1.0 - p)
    } else {
        0.0
    }
}

/// The seed of dropout mask number `salt` of a step seeded `step_seed` (the tape's seed, read
/// from a device buffer). The same integer arithmetic runs in `shaders/dropout_mask.wgsl`.
pub fn dropout_mask_seed(step_seed: u32, salt: u32) -> u32 {
    step_seed.wrapping_mul(1_103_515_245).wrapping_add(12_345) ^ salt.wrapping_mul(0x9E37_79B9)
}

/// 1 - β1^t and 1 - β2^t, as the host computes them for [`Kernel::AdamUpdate`].
pub fn adam_bias_corrections(beta1: f32, beta2: f32, step: u32) -> (f32, f32) {
    let t = i32::try_from(step).unwrap_or(i32::MAX);
    (1.0 - beta1.powi(t), 1.0 - beta2.powi(t))
}

/// One step's untransposed product of a window's per-step path: `c = a · b` (m, k) × (k, n)
/// at the buffers' `offsets`, added into `c` when `accumulate`.
fn step_matmul(m: usize, k: usize, n: usize, [a, b, c]: [BufId; 3], offsets: [usize; 3], accumulate: bool) -> Kernel {
    Kernel::Matmul { a, b, c, m, k, n, trans_a: false, trans_b: false, accumulate, offsets, variant: None }
}

/// The most sequences a window kernel runs: one workgroup each, in one grid dimension (WebGPU's
/// 65 535). A larger batch takes the per-step kernels.
pub const MAX_WINDOW_SEQUENCES: usize = 65_535;

impl Kernel {
    /// The per-step kernels a window kernel stands for, in the order they run: forward, per
    /// step, the matmul writing `gh` and [`Kernel::RecurrentCell`]; backward, from the last
    /// step, [`Kernel::RecurrentCellBackward`] and the matmul adding dgh · W_hh into the
    /// previous state's gradient — at step 0 only `into_h0` (when the initial state needs a
    /// gradient). The per-step time loop runs these; the CPU backend runs a window as them.
    /// `None` for any other kernel.
    pub fn per_step(&self, into_h0: bool) -> Option<Vec<Kernel>> {
        let at = match self {
            Kernel::RecurrentWindow { at, .. } | Kernel::RecurrentWindowBackward { at, .. } => *at,
            _ => return None,
        };
        if at.reset_before {
            return Some(self.reset_gru_per_step(at, into_h0));
        }
        let (rows, block) = (at.cell.gates() * at.hidden, at.block());
        let mut kernels = Vec::with_capacity(2 * at.steps);
        match *self {
            Kernel::RecurrentWindow { gi, w_t, bias_hh, states, gates, gh, .. } => {
                for step in 0..at.steps {
                    kernels.push(step_matmul(
                        at.batch,
                        at.hidden,
                        rows,
                        [states, w_t, gh],
                        [step * block, 0, step * at.batch * rows],
                        false,
                    ));
                    kernels.push(Kernel::RecurrentCell { at: CellStep { step, ..at }, gi, gh, bias_hh, states, gates });
                }
            }
            Kernel::RecurrentWindowBackward { w_hh, gh, bias_hh, states, gates, dstates, dgi, dgh, .. } => {
                for step in (0..at.steps).rev() {
                    let at = CellStep { step, ..at };
                    kernels.push(Kernel::RecurrentCellBackward { at, gh, bias_hh, states, gates, dstates, dgi, dgh });
                    if step > 0 || into_h0 {
                        let a = dgh.unwrap_or(dgi);
                        kernels.push(step_matmul(
                            at.batch,
                            rows,
                            at.hidden,
                            [a, w_hh, dstates],
                            [step * at.batch * rows, 0, step * block],
                            true,
                        ));
                    }
                }
            }
            _ => unreachable!("matched above"),
        }
        Some(kernels)
    }

    /// [`Kernel::per_step`] for d2l's GRU: per step forward, h · W_h(r,z)ᵀ, the gates' half,
    /// (r ⊙ h) · W_hnᵀ, the candidate's half; backward, from the last step, the candidate's
    /// half, d(r ⊙ h) = dgh_n · W_hn (into gh's n block, which the backward no longer needs),
    /// the gates' half, and dgh_rz · W_h(r,z) added into the previous state's gradient.
    fn reset_gru_per_step(&self, at: CellStep, into_h0: bool) -> Vec<Kernel> {
        let (h, block) = (at.hidden, at.block());
        let mut kernels = Vec::with_capacity(4 * at.steps);
        match *self {
            Kernel::RecurrentWindow { gi, w_t, bias_hh, states, gates, gh, reset_h, .. } => {
                let gates = gates.expect("invariant: a GRU window saves its gates");
                let reset_h = reset_h.expect("invariant: d2l's GRU window saves r ⊙ h");
                for step in 0..at.steps {
                    let at = CellStep { step, ..at };
                    let cell = |half| Kernel::ResetGruCell { at, half, gi, gh, bias_hh, states, gates, reset_h };
                    kernels.push(step_matmul(
                        at.batch,
                        h,
                        2 * h,
                        [states, w_t, gh],
                        [step * block, 0, at.gates_block(step)],
                        false,
                    ));
                    kernels.push(cell(ResetGruHalf::Gates));
                    kernels.push(step_matmul(
                        at.batch,
                        h,
                        h,
                        [reset_h, w_t, gh],
                        [step * block, 2 * h * h, at.candidate_block(step)],
                        false,
                    ));
                    kernels.push(cell(ResetGruHalf::Candidate));
                }
            }
            Kernel::RecurrentWindowBackward { w_hh, gh, states, gates, dstates, dgi, dgh, .. } => {
                let gates = gates.expect("invariant: a GRU window saves its gates");
                let dgh = dgh.expect("invariant: a GRU window's backward writes dgh");
                for step in (0..at.steps).rev() {
                    let at = CellStep { step, ..at };
                    let cell = |half| Kernel::ResetGruCellBackward { at, half, gh, states, gates, dstates, dgi, dgh };
                    kernels.push(cell(ResetGruHalf::Candidate));
                    let n_block = at.candidate_block(step);
                    kernels.push(step_matmul(at.batch, h, h, [dgh, w_hh, gh], [n_block, 2 * h * h, n_block], false));
                    kernels.push(cell(ResetGruHalf::Gates));
                    if step > 0 || into_h0 {
                        kernels.push(step_matmul(
                            at.batch,
                            2 * h,
                            h,
                            [dgh, w_hh, dstates],
                            [at.gates_block(step), 0, step * block],
                            true,
                        ));
                    }
                }
            }
            _ => unreachable!("only window kernels have per-step kernels"),
        }
        kernels
    }

    /// Floating-point operations of a matmul (2·m·n·k); 0 for every other kernel. Benchmarks
    /// divide the matmul FLOPs of a training step by its time.
    /// A window kernel's error when its optional buffers do not match its cell: the GRU and
    /// LSTM save gates, the GRU's backward writes `dgh`, and d2l's GRU (`reset_before`, a GRU
    /// only) saves r ⊙ h; no other cell has `reset_h`. Both backends refuse such a kernel
    /// before running it (and [`Kernel::per_step`] relies on it).
    pub(crate) fn check_window_buffers(&self) -> crate::error::Result<()> {
        let (at, fits) = match *self {
            Kernel::RecurrentWindow { at, gates, reset_h, .. } => {
                (at, gates.is_some() == (at.cell != CellKind::Rnn) && reset_h.is_some() == at.reset_before)
            }
            Kernel::RecurrentWindowBackward { at, gates, dgh, .. } => {
                (at, gates.is_some() == (at.cell != CellKind::Rnn) && dgh.is_some() == (at.cell == CellKind::Gru))
            }
            _ => return Ok(()),
        };
        if fits && (!at.reset_before || at.cell == CellKind::Gru) {
            return Ok(());
        }
        Err(crate::error::EngineError::InvalidArgument(format!(
            "a {} window kernel (reset before its matmul: {}) with buffers another cell needs: gates for the GRU and LSTM, dgh for the GRU's backward, reset_h for d2l's GRU only",
            at.cell.name(),
            at.reset_before
        )))
    }

    /// An attention kernel's error when it reads additive scoring's operands (`w_v`, keys) and
    /// its shape says dot scoring, or the reverse; both backends refuse it.
    pub(crate) fn check_attention_scoring(&self) -> crate::error::Result<()> {
        let (scoring, additive) = match self {
            Kernel::AttentionScores { at, w_v, .. } => (at.scoring, w_v.is_some()),
            Kernel::AttentionBackward { at, additive, .. } => (at.scoring, additive.is_some()),
            _ => return Ok(()),
        };
        if (scoring == AttentionScoring::Additive) != additive {
            return Err(crate::error::EngineError::InvalidArgument(format!(
                "{} attention's kernels {} read w_v and projected keys",
                scoring.name(),
                if additive { "do not" } else { "must" }
            )));
        }
        Ok(())
    }

    pub fn matmul_flops(&self) -> u64 {
        match self {
            Kernel::Matmul { m, n, k, .. } => 2 * (*m as u64) * (*n as u64) * (*k as u64),
            // The window kernels' recurrent products: a (batch, hidden) × (hidden, G·hidden)
            // matmul per step each way, as the per-step path counts them.
            Kernel::RecurrentWindow { at, .. } | Kernel::RecurrentWindowBackward { at, .. } => {
                2 * (at.steps * at.batch * at.hidden * at.cell.gates() * at.hidden) as u64
            }
            _ => 0,
        }
    }
}
