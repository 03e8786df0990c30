//! Tensors: a shape and a reference-counted buffer on one backend.

use crate::backend::{f32_words, Backend, BufId, Kernel};
use crate::error::{EngineError, Result};
use std::rc::Rc;

/// Element type of a tensor. Index tensors (token ids, labels) are `U32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

/// A buffer owned by a backend, freed when the last tensor that uses it is dropped.
pub(crate) struct Storage {
    pub(crate) id: BufId,
    pub(crate) backend: Rc<dyn Backend>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.backend.free(self.id);
    }
}

/// A dense, row-major tensor on one backend. Cloning is cheap and shares the buffer.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Rc<Storage>,
    shape: Vec<usize>,
    dtype: DType,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}, {:?}, {:?})", self.shape, self.dtype, self.storage.id)
    }
}

fn element_count(op: &'static str, shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Err(EngineError::EmptyTensor { op, shape: shape.to_vec() });
    }
    Ok(shape.iter().product())
}

impl Tensor {
    /// A tensor whose content is unspecified until a kernel writes it.
    pub fn uninit(backend: &Rc<dyn Backend>, shape: &[usize], dtype: DType) -> Result<Self> {
        let len = element_count("alloc", shape)?;
        let id = backend.alloc(len)?;
        Ok(Self { storage: Rc::new(Storage { id, backend: Rc::clone(backend) }), shape: shape.to_vec(), dtype })
    }

    /// A tensor of `value` everywhere (one fill kernel, no upload).
    pub fn full(backend: &Rc<dyn Backend>, shape: &[usize], value: f32) -> Result<Self> {
        let tensor = Self::uninit(backend, shape, DType::F32)?;
        backend.run(Kernel::Fill { out: tensor.id(), len: tensor.len(), value })?;
        Ok(tensor)
    }

    pub fn zeros(backend: &Rc<dyn Backend>, shape: &[usize]) -> Result<Self> {
        Self::full(backend, shape, 0.0)
    }

    /// Uploads `data` as a tensor of `shape`.
    pub fn from_f32(backend: &Rc<dyn Backend>, shape: &[usize], data: &[f32]) -> Result<Self> {
        let tensor = Self::uninit(backend, shape, DType::F32)?;
        tensor.write_f32(data)?;
        Ok(tensor)
    }

    /// Uploads indices (token ids, labels) as a u32 tensor of `shape`.
    pub fn from_u32(backend: &Rc<dyn Backend>, shape: &[usize], data: &[u32]) -> Result<Self> {
        let tensor = Self::uninit(backend, shape, DType::U32)?;
        tensor.write_u32(data)?;
        Ok(tensor)
    }

    /// Overwrites the whole tensor with `data` (same length).
    pub fn write_f32(&self, data: &[f32]) -> Result<()> {
        self.write_words(f32_words(data))
    }

    /// Overwrites the whole tensor with indices (same length).
    pub fn write_u32(&self, data: &[u32]) -> Result<()> {
        self.write_words(data)
    }

    fn write_words(&self, words: &[u32]) -> Result<()> {
        if words.len() != self.len() {
            return Err(EngineError::ShapeMismatch {
                op: "write",
                detail: format!("{} values for shape {:?}", words.len(), self.shape),
            });
        }
        self.backend().upload(self.id(), words)
    }

    /// Reads the tensor back (flushes recorded work first).
    pub async fn to_vec(&self) -> Result<Vec<f32>> {
        let words = self.backend().read(self.id(), self.len()).await?;
        Ok(words.into_iter().map(f32::from_bits).collect())
    }

    /// Reads an index tensor back.
    pub async fn to_vec_u32(&self) -> Result<Vec<u32>> {
        self.backend().read(self.id(), self.len()).await
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Always false: tensors have at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether both tensors use the very same buffer (clones of one tensor, or reshapes).
    pub fn same_buffer(&self, other: &Tensor) -> bool {
        Rc::ptr_eq(&self.storage, &other.storage)
    }

    pub fn id(&self) -> BufId {
        self.storage.id
    }

    pub fn backend(&self) -> &Rc<dyn Backend> {
        &self.storage.backend
    }

    /// The same buffer seen with another shape of equal element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        let len = element_count("reshape", shape)?;
        if len != self.len() {
            return Err(EngineError::ShapeMismatch {
                op: "reshape",
                detail: format!("cannot view {:?} as {shape:?}", self.shape),
            });
        }
        Ok(Self { storage: Rc::clone(&self.storage), shape: shape.to_vec(), dtype: self.dtype })
    }

    /// (rows, cols) of the tensor seen as a matrix: cols is the last dimension.
    pub fn matrix_dims(&self) -> (usize, usize) {
        let cols = *self.shape.last().expect("invariant: tensors have at least one dimension");
        (self.len() / cols, cols)
    }

    /// A new tensor with a copy of this one's values (one kernel).
    pub fn deep_copy(&self) -> Result<Self> {
        let copy = Self::uninit(self.backend(), &self.shape, self.dtype)?;
        copy.copy_from(self)?;
        Ok(copy)
    }

    /// Overwrites this tensor with `src`'s values, on the device (one kernel; same length).
    pub fn copy_from(&self, src: &Tensor) -> Result<()> {
        if src.len() != self.len() {
            return Err(EngineError::ShapeMismatch {
                op: "copy",
                detail: format!("a tensor of shape {:?} into one of shape {:?}", src.shape, self.shape),
            });
        }
        let len = self.len();
        self.backend().run(Kernel::Copy2d {
            src: src.id(),
            dst: self.id(),
            rows: 1,
            cols: len,
            src_stride: len,
            src_offset: 0,
            dst_stride: len,
            dst_offset: 0,
            accumulate: false,
        })
    }
}
