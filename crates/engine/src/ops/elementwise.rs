//! Element-wise ops: forward and backward (shaders/elementwise.wgsl, reduce.wgsl for bias).

use super::ensure;
use crate::backend::{BinaryOp, Kernel, UnaryOp};
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

impl Tape {
    /// y = x + bias, with a bias of shape (cols) broadcast over every row of x (…, cols).
    pub fn add_bias(&mut self, x: Var, bias: Var) -> Result<Var> {
        let (rows, cols) = self.value(x).matrix_dims();
        let bias_shape = self.shape(bias).to_vec();
        ensure(bias_shape == [cols], "add_bias", || {
            format!("bias of shape {bias_shape:?} for input {:?}; expected [{cols}]", self.shape(x))
        })?;
        let out = self.alloc(self.shape(x))?;
        self.run(Kernel::AddBias { x: self.value(x).id(), bias: self.value(bias).id(), out: out.id(), rows, cols })?;
        Ok(self.record(out, Op::AddBias { x, bias }, &[x, bias]))
    }

    fn binary(&mut self, op: BinaryOp, a: Var, b: Var) -> Result<Var> {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        ensure(sa == sb, "binary op", || format!("{op:?} of shapes {sa:?} and {sb:?}; shapes must be equal"))?;
        let out = self.alloc(&sa)?;
        let (ia, ib) = (self.value(a).id(), self.value(b).id());
        self.run(Kernel::Binary { op, a: ia, b: ib, out: out.id(), len: out.len(), accumulate: false })?;
        Ok(self.record(out, Op::Binary { op, a, b }, &[a, b]))
    }

    /// a + b (equal shapes); da = dc, db = dc.
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Add, a, b)
    }

    /// a - b (equal shapes); da = dc, db = -dc.
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Sub, a, b)
    }

    /// a ⊙ b (equal shapes); da = dc ⊙ b, db = dc ⊙ a.
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryOp::Mul, a, b)
    }

    fn unary(&mut self, op: UnaryOp, x: Var) -> Result<Var> {
        let out = self.alloc(self.shape(x))?;
        self.run(Kernel::Unary { op, x: self.value(x).id(), y: out.id(), len: out.len() })?;
        Ok(self.record(out, Op::Unary { op, x }, &[x]))
    }

    /// y = tanh(x); dy/dx = 1 - y² (uses the saved output, not the input).
    pub fn tanh(&mut self, x: Var) -> Result<Var> {
        self.unary(UnaryOp::Tanh, x)
    }

    /// y = σ(x); dy/dx = y (1 - y) (uses the saved output).
    pub fn sigmoid(&mut self, x: Var) -> Result<Var> {
        self.unary(UnaryOp::Sigmoid, x)
    }

    /// y = max(x, 0); dy/dx = [x > 0] (uses the saved input).
    pub fn relu(&mut self, x: Var) -> Result<Var> {
        self.unary(UnaryOp::Relu, x)
    }

    /// Inverted dropout: in training mode each element is kept with probability 1 - p and
    /// scaled by 1/(1 - p); the mask comes from the tape's seed, so a seed reproduces it on
    /// either backend. In evaluation mode, or with p = 0, it is the identity.
    /// dy/dx = mask / (1 - p).
    pub fn dropout(&mut self, x: Var, p: f32) -> Result<Var> {
        if !(0.0..1.0).contains(&p) {
            return Err(crate::error::EngineError::InvalidArgument(format!(
                "dropout probability {p} is outside [0, 1)"
            )));
        }
        if !self.is_training() || p == 0.0 {
            return Ok(x);
        }
        let (seed, salt) = self.next_dropout_mask()?;
        let out = self.alloc(self.shape(x))?;
        let (x_id, len) = (self.value(x).id(), out.len());
        self.run(Kernel::Dropout { x: x_id, y: out.id(), len, p, seed, salt, accumulate: false })?;
        Ok(self.record(out, Op::Dropout { x, p, salt }, &[x]))
    }
}

/// dst (+)= alpha · src.
fn add_scaled(tape: &Tape, src: &Tensor, dst: &Tensor, alpha: f32, accumulate: bool) -> Result<()> {
    tape.run(Kernel::Scale { x: src.id(), out: dst.id(), len: src.len(), alpha, accumulate })
}

pub(super) fn add_bias_backward(tape: &mut Tape, out: Var, x: Var, bias: Var, dy: &Tensor) -> Result<()> {
    if let Some((db, acc)) = tape.grad_target(bias)? {
        let (rows, cols) = dy.matrix_dims();
        tape.run(Kernel::ColumnSum { x: dy.id(), out: db.id(), rows, cols, accumulate: acc })?;
    }
    tape.pass_grad(out, x, dy)
}

pub(super) fn binary_backward(tape: &mut Tape, op: BinaryOp, a: Var, b: Var, dc: &Tensor) -> Result<()> {
    let (av, bv) = (tape.value(a).clone(), tape.value(b).clone());
    for (input, other, sign) in [(a, &bv, 1.0), (b, &av, -1.0)] {
        let Some((grad, acc)) = tape.grad_target(input)? else { continue };
        match op {
            BinaryOp::Add => add_scaled(tape, dc, &grad, 1.0, acc)?,
            BinaryOp::Sub => add_scaled(tape, dc, &grad, sign, acc)?,
            BinaryOp::Mul => tape.run(Kernel::Binary {
                op: BinaryOp::Mul,
                a: dc.id(),
                b: other.id(),
                out: grad.id(),
                len: dc.len(),
                accumulate: acc,
            })?,
        }
    }
    Ok(())
}

pub(super) fn unary_backward(tape: &mut Tape, op: UnaryOp, x: Var, out: Var, dy: &Tensor) -> Result<()> {
    let saved = match op {
        UnaryOp::Tanh | UnaryOp::Sigmoid => tape.value(out).clone(),
        UnaryOp::Relu => tape.value(x).clone(),
    };
    if let Some((dx, acc)) = tape.grad_target(x)? {
        tape.run(Kernel::UnaryBackward {
            op,
            saved: saved.id(),
            dy: dy.id(),
            dx: dx.id(),
            len: dy.len(),
            accumulate: acc,
        })?;
    }
    Ok(())
}

pub(super) fn dropout_backward(tape: &mut Tape, x: Var, p: f32, salt: u32, dy: &Tensor) -> Result<()> {
    if let Some((dx, acc)) = tape.grad_target(x)? {
        let seed = tape.dropout_seed()?;
        tape.run(Kernel::Dropout { x: dy.id(), y: dx.id(), len: dy.len(), p, seed, salt, accumulate: acc })?;
    }
    Ok(())
}
