//! Row gather (embedding lookup, one-hot input) and its scatter-add gradient
//! (shaders/embedding.wgsl).

use super::ensure;
use crate::backend::Kernel;
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::{DType, Tensor};

impl Tape {
    /// out[…, :] = table[indices[…], :] for a (rows × dim) table and u32 indices of any shape;
    /// the output has the indices' shape plus `dim`. A one-hot input times a matrix is this
    /// gather of the matrix's rows. d(table)[indices[i]] += d(out)[i], in index order.
    pub fn gather(&mut self, table: Var, indices: &Tensor) -> Result<Var> {
        self.gather_rows(table, indices, false)
    }

    /// The columns of a (dim × columns) `weight` picked by `indices`, as rows: `one_hot ·
    /// weightᵀ`, what [`Tape::gather`] gives from the transposed weight, without transposing it.
    pub fn gather_columns(&mut self, weight: Var, indices: &Tensor) -> Result<Var> {
        self.gather_rows(weight, indices, true)
    }

    fn gather_rows(&mut self, table: Var, indices: &Tensor, transposed: bool) -> Result<Var> {
        let table_shape = self.shape(table).to_vec();
        ensure(table_shape.len() == 2, "gather", || format!("the table must be 2-D, got {table_shape:?}"))?;
        ensure(indices.dtype() == DType::U32, "gather", || "indices must be a u32 tensor".into())?;
        let (table_rows, dim) = table_dims(&table_shape, transposed);
        let mut shape = indices.shape().to_vec();
        shape.push(dim);
        let out = self.alloc(&shape)?;
        self.run(Kernel::Gather {
            table: self.value(table).id(),
            indices: indices.id(),
            out: out.id(),
            num_indices: indices.len(),
            dim,
            table_rows,
            transposed,
        })?;
        Ok(self.record(out, Op::Gather { table, indices: indices.clone(), transposed }, &[table]))
    }
}

/// (entries, width) of a gather's 2-D table, stored as is or transposed (one entry per column).
fn table_dims(shape: &[usize], transposed: bool) -> (usize, usize) {
    match transposed {
        false => (shape[0], shape[1]),
        true => (shape[1], shape[0]),
    }
}

pub(super) fn gather_backward(
    tape: &mut Tape,
    table: Var,
    indices: &Tensor,
    transposed: bool,
    dy: &Tensor,
) -> Result<()> {
    let (table_rows, dim) = table_dims(tape.shape(table), transposed);
    if let Some((grad, accumulate)) = tape.grad_target(table)? {
        tape.run(Kernel::ScatterAdd {
            grad_out: dy.id(),
            indices: indices.id(),
            grad_table: grad.id(),
            num_indices: indices.len(),
            dim,
            table_rows,
            transposed,
            accumulate,
        })?;
    }
    Ok(())
}
