//! The reverse-mode autograd tape.
//!
//! Every op appends a node (what it computed, from which inputs, what it saved). `backward(loss)`
//! walks the nodes in reverse and records the gradient kernels of each; nothing is read back.
//! Gradients of intermediate values live on the tape; gradients of parameters accumulate into
//! each [`Param`]'s persistent buffer. A tape lives for one step: build a new one per batch and
//! carry recurrent state across batches as plain tensors (that is `detach`, for truncated BPTT).
//!
//! The forward and backward rule of each op sit side by side in `ops/<family>.rs`.

use crate::backend::{Backend, BinaryOp, BufId, Kernel, UnaryOp};
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

/// A value on a tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var(pub(crate) usize);

/// What produced a value, with what its backward rule needs.
#[derive(Clone)]
pub(crate) enum Op {
    /// A constant or a parameter (see `Node::param`).
    Leaf,
    Matmul {
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    },
    AddBias {
        x: Var,
        bias: Var,
    },
    Binary {
        op: BinaryOp,
        a: Var,
        b: Var,
    },
    Unary {
        op: UnaryOp,
        x: Var,
    },
    Concat {
        inputs: Vec<Var>,
        dim: usize,
    },
    Slice {
        x: Var,
        dim: usize,
        start: usize,
    },
    Reshape {
        x: Var,
    },
    Transpose {
        x: Var,
    },
    Gather {
        table: Var,
        indices: Tensor,
        transposed: bool,
    },
    /// Mask number `salt` of the tape (see `Tape::next_dropout_mask`).
    Dropout {
        x: Var,
        p: f32,
        salt: u32,
    },
    SoftmaxCrossEntropy {
        logits: Var,
        dlogits: Tensor,
    },
    Sum {
        x: Var,
        scale: f32,
        squares: bool,
    },
    /// A fused recurrent layer over a whole window (ops/recurrent.rs).
    Recurrent(Box<crate::ops::RecurrentNode>),
    /// One decoder step of attention (ops/attention.rs).
    Attention(Box<crate::ops::AttentionNode>),
}

pub(crate) struct Node {
    pub(crate) value: Tensor,
    pub(crate) op: Op,
    /// Set for parameter leaves: their gradient goes to the parameter's buffer.
    pub(crate) param: Option<Param>,
    /// True when some parameter is upstream of this value.
    pub(crate) needs_grad: bool,
    pub(crate) grad: Option<Tensor>,
    /// Keep the gradient after backward (see [`Tape::retain_grad`]).
    retain_grad: bool,
}

/// A value a model shows to inspection (`crate::inspect`, the gradient's reach included):
/// what each recurrent layer computed, named, as the training kernels computed it.
/// Models push probes only when [`Tape::enable_probes`] was called.
#[derive(Clone)]
pub(crate) enum Probe {
    /// A fused layer (ops/recurrent.rs): every state of the window, (S·(steps + 1)·batch,
    /// hidden) — h blocks 0..=steps, then for the LSTM the c blocks — and the activated gates
    /// (steps·batch, G·hidden) the cell kernel saved for backward, named in column order.
    Window { layer: usize, steps: usize, states: Var, gates: Option<(Tensor, &'static [&'static str])> },
    /// One time step of a layer composed from primitive ops (the scratch models, unfused
    /// concise layers): the new h (batch, hidden), the LSTM's c, and the gates by name. A
    /// layer's steps are pushed in time order.
    Step { layer: usize, h: Var, c: Option<Var>, gates: Vec<(&'static str, Var)> },
    /// A bidirectional layer's output, (steps·batch, 2·hidden): at every step the forward
    /// direction's h and the reverse direction's side by side. Its gates (two sets) are not shown.
    Output { layer: usize, steps: usize, rows: Var },
    /// The rows the first layer reads for every step, (steps·batch, width). With `table`, the
    /// rows were gathered from it with one-hot ids (`one_hot(x) · table`), so the gradient with
    /// respect to the one-hot input row is `d(rows) · tableᵀ`.
    Input { rows: Var, table: Option<InputTable> },
}

/// The matrix a one-hot input picked its rows from ([`Probe::Input`]).
#[derive(Clone, Copy)]
pub(crate) enum InputTable {
    /// (vocab, width): one row per token.
    Rows(Var),
    /// (width, vocab), a PyTorch-layout W_ih: one column per token.
    Columns(Var),
}

/// One step's computation graph.
pub struct Tape {
    pub(crate) backend: Rc<dyn Backend>,
    pub(crate) nodes: Vec<Node>,
    training: bool,
    /// The step's seed as the dropout kernels read it: a one-element u32 device buffer, given
    /// by the trainer (written before the step, so a replayed step draws new masks) or made from
    /// `seed` on the first dropout.
    seed_buffer: Option<Tensor>,
    seed: u32,
    /// Dropout masks drawn so far; mask n uses salt n.
    dropout_masks: u32,
    /// What the model showed, when asked to (`enable_probes`).
    probes: Option<Vec<Probe>>,
}

impl Tape {
    /// A tape in training mode (dropout active) whose dropout masks derive from `seed`.
    pub fn new(backend: &Rc<dyn Backend>, seed: u32) -> Self {
        Self {
            backend: Rc::clone(backend),
            nodes: Vec::new(),
            training: true,
            seed_buffer: None,
            seed,
            dropout_masks: 0,
            probes: None,
        }
    }

    /// A tape in training mode whose dropout masks derive from the seed held in `seed` (a
    /// one-element u32 tensor). Trainers write the step's seed there before recording, so the
    /// recorded kernels do not depend on it and a step can be replayed.
    pub fn with_seed_buffer(backend: &Rc<dyn Backend>, seed: Tensor) -> Self {
        Self { seed_buffer: Some(seed), ..Self::new(backend, 0) }
    }

    pub fn backend(&self) -> &Rc<dyn Backend> {
        &self.backend
    }

    /// Training mode applies dropout; evaluation mode makes it the identity.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Asks the model run on this tape to push [`Probe`]s of what its layers compute.
    pub(crate) fn enable_probes(&mut self) {
        self.probes.get_or_insert_with(Vec::new);
    }

    /// Records `probe` if probes were asked for; free otherwise.
    pub(crate) fn probe(&mut self, probe: impl FnOnce() -> Probe) {
        if let Some(probes) = &mut self.probes {
            probes.push(probe());
        }
    }

    /// The probes pushed so far.
    pub(crate) fn probes(&self) -> &[Probe] {
        self.probes.as_deref().unwrap_or(&[])
    }

    /// Keeps the gradient of `var` after [`Tape::backward`] (which otherwise frees every
    /// intermediate gradient once propagated), as PyTorch's `retain_grad`.
    pub(crate) fn retain_grad(&mut self, var: Var) {
        self.nodes[var.0].retain_grad = true;
    }

    /// The gradient of `var` after backward: set for parameters' vars (their gradient buffer)
    /// and for vars passed to `retain_grad`; `None` when no gradient reached it.
    pub(crate) fn grad(&self, var: Var) -> Option<&Tensor> {
        let node = &self.nodes[var.0];
        node.param.as_ref().map(Param::grad).or(node.grad.as_ref())
    }

    /// The buffer holding the step's seed, made on first use for a tape built with `new`.
    pub(crate) fn dropout_seed(&mut self) -> Result<BufId> {
        if self.seed_buffer.is_none() {
            self.seed_buffer = Some(Tensor::from_u32(&self.backend, &[1], &[self.seed])?);
        }
        Ok(self.seed_buffer.as_ref().expect("invariant: the seed buffer was just made").id())
    }

    /// (seed buffer, salt) of the next dropout mask: each dropout op takes a fresh salt.
    pub(crate) fn next_dropout_mask(&mut self) -> Result<(BufId, u32)> {
        let seed = self.dropout_seed()?;
        self.dropout_masks += 1;
        Ok((seed, self.dropout_masks - 1))
    }

    /// A value that needs no gradient (inputs, carried recurrent state).
    pub fn constant(&mut self, value: Tensor) -> Var {
        self.push(value, Op::Leaf, None, false)
    }

    /// A parameter: backward accumulates its gradient into `param.grad()`.
    pub fn param(&mut self, param: &Param) -> Var {
        self.push(param.value().clone(), Op::Leaf, Some(param.clone()), true)
    }

    pub(crate) fn push(&mut self, value: Tensor, op: Op, param: Option<Param>, needs_grad: bool) -> Var {
        self.nodes.push(Node { value, op, param, needs_grad, grad: None, retain_grad: false });
        Var(self.nodes.len() - 1)
    }

    /// Appends the result of an op whose inputs are `inputs`.
    pub(crate) fn record(&mut self, value: Tensor, op: Op, inputs: &[Var]) -> Var {
        let needs_grad = inputs.iter().any(|v| self.nodes[v.0].needs_grad);
        self.push(value, op, None, needs_grad)
    }

    pub fn value(&self, var: Var) -> &Tensor {
        &self.nodes[var.0].value
    }

    pub fn shape(&self, var: Var) -> &[usize] {
        self.nodes[var.0].value.shape()
    }

    /// The value as a plain tensor, cut from the graph: what truncated BPTT carries to the
    /// next batch.
    pub fn detach(&self, var: Var) -> Tensor {
        self.nodes[var.0].value.clone()
    }

    /// A new uninitialised f32 tensor on this tape's backend.
    pub(crate) fn alloc(&self, shape: &[usize]) -> Result<Tensor> {
        Tensor::uninit(&self.backend, shape, DType::F32)
    }

    pub(crate) fn run(&self, kernel: Kernel) -> Result<()> {
        self.backend.run(kernel)
    }

    /// Where the gradient of `var` goes, and whether to add to it (`true`) or overwrite it.
    /// `None` when `var` needs no gradient.
    pub(crate) fn grad_target(&mut self, var: Var) -> Result<Option<(Tensor, bool)>> {
        let node = &self.nodes[var.0];
        if !node.needs_grad {
            return Ok(None);
        }
        if let Some(param) = &node.param {
            // A forgotten gradient is replaced by its first write.
            return Ok(Some((param.grad().clone(), !param.take_stale())));
        }
        if let Some(grad) = &node.grad {
            return Ok(Some((grad.clone(), true)));
        }
        let grad = self.alloc(node.value.shape())?;
        self.nodes[var.0].grad = Some(grad.clone());
        Ok(Some((grad, false)))
    }

    /// Gives `var` the gradient `dy` of `from` (its output, whose backward rule is running)
    /// unchanged, as an identity's rule does. When `var` has no gradient yet and `from`'s is
    /// neither kept nor a parameter's, `var` takes over `dy`'s buffer: no kernel. Safe because
    /// the walk is in reverse order — every reader of `from`'s gradient has run, and what
    /// later adds into `var`'s gradient writes a buffer nothing else reads any more.
    pub(crate) fn pass_grad(&mut self, from: Var, var: Var, dy: &Tensor) -> Result<()> {
        let node = &self.nodes[var.0];
        let takes_over =
            node.needs_grad && node.param.is_none() && node.grad.is_none() && !self.nodes[from.0].retain_grad;
        if takes_over {
            self.nodes[var.0].grad = Some(dy.reshape(node.value.shape())?);
            return Ok(());
        }
        if let Some((grad, accumulate)) = self.grad_target(var)? {
            self.run(Kernel::Scale { x: dy.id(), out: grad.id(), len: dy.len(), alpha: 1.0, accumulate })?;
        }
        Ok(())
    }

    /// Like `grad_target`, for rules that write only part of the gradient or only add: a
    /// new gradient buffer is zeroed first, so the caller always accumulates.
    pub(crate) fn grad_target_zeroed(&mut self, var: Var) -> Result<Option<Tensor>> {
        match self.grad_target(var)? {
            None => Ok(None),
            Some((grad, true)) => Ok(Some(grad)),
            Some((grad, false)) => {
                self.run(Kernel::Fill { out: grad.id(), len: grad.len(), value: 0.0 })?;
                Ok(Some(grad))
            }
        }
    }

    /// Records the gradient kernels of every node that leads to `loss` (a one-element value).
    /// Parameter gradients accumulate: call `zero_grad` between steps.
    pub fn backward(&mut self, loss: Var) -> Result<()> {
        if self.value(loss).len() != 1 {
            return Err(EngineError::ShapeMismatch {
                op: "backward",
                detail: format!("the loss must have one element, not shape {:?}", self.shape(loss)),
            });
        }
        if !self.nodes[loss.0].needs_grad {
            return Err(EngineError::InvalidArgument("backward: the loss does not depend on any parameter".into()));
        }
        // The loss's gradient is 1. A cross-entropy saved its logits' gradient for exactly that
        // seed, so it is handed down as it is; any other loss gets a seed tensor.
        let first = match &self.nodes[loss.0].op {
            Op::SoftmaxCrossEntropy { logits, dlogits } => {
                let (logits, dlogits) = (*logits, dlogits.clone());
                self.pass_grad(loss, logits, &dlogits)?;
                loss.0
            }
            _ => {
                self.nodes[loss.0].grad = Some(Tensor::full(&self.backend, &[1], 1.0)?);
                loss.0 + 1
            }
        };
        for index in (0..first).rev() {
            let node = &self.nodes[index];
            let (Some(grad), true) = (node.grad.clone(), node.needs_grad) else { continue };
            let op = node.op.clone();
            crate::ops::backward(self, Var(index), &op, &grad)?;
            // Intermediate gradients are not needed once propagated; free them early.
            let node = &self.nodes[index];
            if node.param.is_none() && !node.retain_grad && index != loss.0 {
                self.nodes[index].grad = None;
            }
        }
        Ok(())
    }
}
