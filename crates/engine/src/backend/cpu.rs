//! `CpuBackend`: every kernel in plain Rust. It is the oracle the GPU kernels are tested
//! against and the fallback where no GPU (or no WebGPU) is available.

// The kernels index several slices with one loop variable, like the shaders they mirror.
#![allow(clippy::needless_range_loop)]

use super::cpu_pool::{default_threads, Pool, SharedMut};
use super::kernel::{dropout_mask_seed, dropped, BinaryOp, ClipBy, Kernel, UnaryOp, UpdateSlot};
use super::{cpu_cells, cpu_math};
use super::{BackendInfo, BackendKind, BufId, Counters, LocalFuture, MatmulPick, MatmulVariant, MemoryUse, TimeLoop};
use crate::error::{EngineError, Result};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// The CPU reference backend. Kernels run immediately when [`Backend::run`](super::Backend::run)
/// is called; there is nothing to flush.
pub struct CpuBackend {
    storage: RefCell<Slab>,
    counters: Cell<Counters>,
    pool: Pool,
    time_loop: Cell<TimeLoop>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Slab {
    buffers: Vec<Option<Vec<f32>>>,
    free_ids: Vec<u32>,
    /// Bytes of the buffers allocated and not freed.
    live_bytes: u64,
    /// Freed buffers by length, handed out again by `alloc`: a training step allocates the
    /// same sizes every step, and fresh zeroed pages cost more than the arithmetic of the
    /// small kernels that fill them.
    spare: HashMap<usize, Vec<Vec<f32>>>,
}

/// Most spare buffers kept per length.
const SPARE_PER_LENGTH: usize = 256;

impl Slab {
    fn get(&self, id: BufId) -> &[f32] {
        self.buffers[id.0 as usize].as_deref().expect("invariant: a live BufId names an allocated buffer")
    }

    fn take(&mut self, id: BufId) -> Vec<f32> {
        self.buffers[id.0 as usize].take().expect("invariant: a live BufId names an allocated buffer")
    }

    fn put(&mut self, id: BufId, data: Vec<f32>) {
        self.buffers[id.0 as usize] = Some(data);
    }
}

/// `out = value` or `out += value`.
#[inline]
fn store(out: &mut f32, value: f32, accumulate: bool) {
    if accumulate {
        *out += value;
    } else {
        *out = value;
    }
}

/// `y[i] = f(x[i])`.
#[inline]
fn map(y: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = f(*x);
    }
}

fn unary_derivative(op: UnaryOp, saved: f32) -> f32 {
    match op {
        UnaryOp::Tanh => 1.0 - saved * saved,
        UnaryOp::Sigmoid => saved * (1.0 - saved),
        UnaryOp::Relu => {
            if saved > 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

impl CpuBackend {
    /// A CPU backend on every core ([`default_threads`]).
    pub fn new() -> Self {
        Self::with_threads(default_threads())
    }

    /// A CPU backend on `threads` threads (clamped to 1..=[`MAX_CPU_THREADS`](super::MAX_CPU_THREADS)); the numbers it
    /// computes are the same for every count.
    pub fn with_threads(threads: usize) -> Self {
        Self {
            storage: RefCell::default(),
            counters: Cell::default(),
            pool: Pool::new(threads),
            time_loop: Cell::new(TimeLoop::Window),
        }
    }

    /// The threads its kernels run on.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    fn count(&self, update: impl FnOnce(&mut Counters)) {
        let mut counters = self.counters.get();
        update(&mut counters);
        self.counters.set(counters);
    }

    /// Runs `body` with the output buffer taken out of the slab and the rest readable.
    fn with_output(&self, out: BufId, inputs: &[BufId], body: impl FnOnce(&Slab, &mut [f32])) -> Result<()> {
        if inputs.contains(&out) {
            return Err(EngineError::InvalidArgument("a kernel's output buffer is also one of its inputs".into()));
        }
        let mut slab = self.storage.borrow_mut();
        let mut data = slab.take(out);
        body(&slab, &mut data);
        slab.put(out, data);
        Ok(())
    }
}

/// The largest buffer the CPU backend makes: past it an allocation would abort the process (or
/// exhaust wasm32's 4 GiB), so it is refused with the GPU's error instead.
#[cfg(not(target_arch = "wasm32"))]
const MAX_BUFFER_BYTES: u64 = 2 << 30;
#[cfg(target_arch = "wasm32")]
const MAX_BUFFER_BYTES: u64 = 512 << 20;

impl super::Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Cpu,
            // The thread count, where there are several, so that figures say what they ran on.
            adapter: match self.threads() {
                1 => "cpu".into(),
                n => format!("cpu, {n} threads"),
            },
            api: "native".into(),
            max_buffer_bytes: MAX_BUFFER_BYTES,
            matmul: MatmulPick::Always(MatmulVariant::Blocked4x4),
            subgroups: false,
        }
    }

    fn alloc(&self, len: usize) -> Result<BufId> {
        let bytes = (len as u64).saturating_mul(4);
        if bytes > MAX_BUFFER_BYTES {
            return Err(EngineError::BufferTooLarge {
                bytes,
                limit: MAX_BUFFER_BYTES,
                limit_name: "the CPU backend's limit for one buffer",
            });
        }
        let mut slab = self.storage.borrow_mut();
        let data = slab.spare.get_mut(&len).and_then(Vec::pop).unwrap_or_else(|| vec![0.0; len]);
        let id = match slab.free_ids.pop() {
            Some(id) => {
                slab.buffers[id as usize] = Some(data);
                id
            }
            None => {
                slab.buffers.push(Some(data));
                (slab.buffers.len() - 1) as u32
            }
        };
        slab.live_bytes += 4 * len as u64;
        let live = slab.live_bytes;
        self.count(|c| {
            c.buffers_created += 1;
            c.peak_buffer_bytes = c.peak_buffer_bytes.max(live);
        });
        Ok(BufId(id))
    }

    fn upload(&self, buf: BufId, data: &[u32]) -> Result<()> {
        let mut slab = self.storage.borrow_mut();
        let mut target = slab.take(buf);
        let fits = data.len() <= target.len();
        if fits {
            for (dst, word) in target.iter_mut().zip(data) {
                *dst = f32::from_bits(*word);
            }
        }
        let capacity = target.len();
        slab.put(buf, target);
        if !fits {
            return Err(EngineError::InvalidArgument(format!(
                "upload of {} elements into a buffer of {capacity}",
                data.len()
            )));
        }
        self.count(|c| c.bytes_uploaded += 4 * data.len() as u64);
        Ok(())
    }

    fn free(&self, buf: BufId) {
        let mut slab = self.storage.borrow_mut();
        let freed = slab.buffers[buf.0 as usize].take();
        slab.live_bytes -= freed.as_ref().map_or(0, |b| 4 * b.len() as u64);
        if let Some(data) = freed {
            let spare = slab.spare.entry(data.len()).or_default();
            if spare.len() < SPARE_PER_LENGTH {
                spare.push(data);
            }
        }
        slab.free_ids.push(buf.0);
    }

    fn run(&self, kernel: Kernel) -> Result<()> {
        let flops = kernel.matmul_flops();
        self.count(|c| {
            c.dispatches += 1;
            c.matmul_flops += flops;
        });
        run_kernel(self, kernel)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn read(&self, buf: BufId, len: usize) -> LocalFuture<'_, Result<Vec<u32>>> {
        let slab = self.storage.borrow();
        let data = slab.get(buf);
        let result = if len <= data.len() {
            Ok(data[..len].iter().map(|v| v.to_bits()).collect())
        } else {
            Err(EngineError::Readback(format!("read of {len} elements from a buffer of {}", data.len())))
        };
        drop(slab);
        self.count(|c| {
            c.read_backs += 1;
            c.bytes_read_back += 4 * len as u64;
        });
        Box::pin(std::future::ready(result))
    }

    fn counters(&self) -> Counters {
        self.counters.get()
    }

    fn time_loop(&self) -> TimeLoop {
        self.time_loop.get()
    }

    fn set_time_loop(&self, time_loop: TimeLoop) {
        self.time_loop.set(time_loop);
    }

    fn reset_counters(&self) {
        self.counters.set(Counters::default());
    }

    fn memory(&self) -> MemoryUse {
        let slab = self.storage.borrow();
        let spare = slab.spare.iter().flat_map(|(len, idle)| idle.iter().map(move |_| *len as u64));
        let (pooled_buffers, pooled_bytes) = spare.fold((0, 0), |(n, bytes), len| (n + 1, bytes + 4 * len));
        MemoryUse {
            live_buffers: slab.buffers.iter().filter(|b| b.is_some()).count() as u64,
            live_bytes: slab.live_bytes,
            pooled_buffers,
            pooled_bytes,
        }
    }
}

/// A clear error, instead of an index panic, when a cell kernel's buffers are too short for
/// its window: `per_step` buffers hold (steps·batch, G·hidden), `whole` ones the states.
fn check_cell_buffers(
    slab: &Slab,
    at: &super::CellStep,
    per_step: &[BufId],
    whole: &[BufId],
    bias: BufId,
    gates: Option<BufId>,
) -> Result<()> {
    let mut needs: Vec<(BufId, usize)> = per_step.iter().chain(&gates).map(|b| (*b, at.gates_len())).collect();
    needs.extend(whole.iter().map(|b| (*b, at.states_len())));
    needs.push((bias, at.cell.gates() * at.hidden));
    if at.reset_before {
        return Err(EngineError::InvalidArgument(
            "d2l's GRU (reset before its matmul) runs as the two halves of Kernel::ResetGruCell, not as one cell"
                .into(),
        ));
    }
    let short = at.step >= at.steps || needs.iter().any(|(buf, need)| slab.get(*buf).len() < *need);
    if short {
        return Err(EngineError::InvalidArgument(format!(
            "a {} cell kernel at step {} of {} (batch {}, hidden {}) has a buffer shorter than its window",
            at.cell.name(),
            at.step,
            at.steps,
            at.batch,
            at.hidden
        )));
    }
    if gates.is_none() && at.cell != super::CellKind::Rnn {
        return Err(EngineError::InvalidArgument(format!("a {} cell kernel needs a gates buffer", at.cell.name())));
    }
    Ok(())
}

/// Elements below which an element-wise kernel runs in one piece: few for one whose every
/// element costs a tanh or an exponential, many for one that moves memory (an addition costs
/// less than handing half of it to another thread, unless there are tens of thousands).
const PARALLEL_COSTLY: usize = 1 << 12;
const PARALLEL_CHEAP: usize = 1 << 16;

/// Runs `body(start, chunk)` on `out` cut into one contiguous chunk per thread, each at least
/// `min_len` long (one chunk when `out` is short); `start` is the chunk's first index in `out`.
fn par_chunks(pool: &Pool, out: &mut [f32], min_len: usize, body: impl Fn(usize, &mut [f32]) + Sync) {
    let ranges = pool.ranges(out.len(), 16, min_len);
    let base = SharedMut(out.as_mut_ptr());
    pool.run(ranges.len(), |part| {
        let r = ranges[part].clone();
        // SAFETY: the ranges are disjoint and inside `out`, which this call borrows mutably.
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.ptr().add(r.start), r.len()) };
        body(r.start, chunk);
    });
}

/// A cell step's sites (sequence × unit) below which it runs in one piece.
const PARALLEL_SITES: usize = 2048;

/// The batch's sequences cut into one range per thread, for a cell kernel.
fn cell_ranges(pool: &Pool, at: &super::CellStep) -> Vec<std::ops::Range<usize>> {
    pool.ranges(at.batch, 1, PARALLEL_SITES.div_ceil(at.hidden.max(1)))
}

/// [`Kernel::Join`], after checking that every part's block lies inside both buffers and that
/// no buffer is there twice.
fn run_join(
    backend: &CpuBackend,
    whole: BufId,
    rows: usize,
    whole_stride: usize,
    parts: [Option<super::JoinPart>; super::JOIN_PARTS],
    split: bool,
) -> Result<()> {
    let parts: Vec<super::JoinPart> = parts.iter().map_while(|slot| *slot).collect();
    {
        let slab = backend.storage.borrow();
        let fits = |part: &super::JoinPart| {
            let last_row = rows.saturating_sub(1) * whole_stride;
            part.offset + part.cols <= whole_stride
                && slab.get(part.buf).len() >= rows * part.cols
                && (rows == 0 || slab.get(whole).len() >= last_row + part.offset + part.cols)
        };
        let distinct = parts
            .iter()
            .enumerate()
            .all(|(k, part)| part.buf != whole && parts[..k].iter().all(|other| other.buf != part.buf));
        if !(2..=super::JOIN_PARTS).contains(&parts.len()) || !distinct || !parts.iter().all(fits) {
            return Err(EngineError::InvalidArgument(format!(
                "a join of {} parts into {rows} rows of {whole_stride}: it takes 2 to {} distinct buffers, each block inside both",
                parts.len(),
                super::JOIN_PARTS
            )));
        }
    }
    for part in parts {
        let block = |r: usize| r * whole_stride + part.offset;
        if split {
            backend.with_output(part.buf, &[whole], |slab, out| {
                let whole = slab.get(whole);
                for r in 0..rows {
                    let (from, to) = (&whole[block(r)..][..part.cols], &mut out[r * part.cols..][..part.cols]);
                    for (o, v) in to.iter_mut().zip(from) {
                        store(o, *v, part.accumulate);
                    }
                }
            })?;
        } else {
            backend.with_output(whole, &[part.buf], |slab, out| {
                let from = slab.get(part.buf);
                for r in 0..rows {
                    out[block(r)..][..part.cols].copy_from_slice(&from[r * part.cols..][..part.cols]);
                }
            })?;
        }
    }
    Ok(())
}

/// The halves of d2l's GRU cell (cpu_reset_gru.rs), after checking that every buffer covers
/// the window and no output is also an input.
fn run_reset_gru(backend: &CpuBackend, kernel: Kernel) -> Result<()> {
    use super::cpu_reset_gru as cell;
    let (at, reads, writes) = match kernel {
        Kernel::ResetGruCell { at, gi, gh, bias_hh, states, gates, reset_h, .. } => {
            (at, vec![gi, gh, bias_hh], vec![states, gates, reset_h])
        }
        Kernel::ResetGruCellBackward { at, gh, states, gates, dstates, dgi, dgh, .. } => {
            (at, vec![gh, states, gates], vec![dstates, dgi, dgh])
        }
        _ => unreachable!("only the GRU halves come here"),
    };
    let mut slab = backend.storage.borrow_mut();
    let overlap = writes.iter().enumerate().any(|(i, w)| reads.contains(w) || writes[..i].contains(w));
    if overlap {
        return Err(EngineError::InvalidArgument("a GRU cell half's outputs overlap its inputs or each other".into()));
    }
    let (gates_len, states_len, reset_len) = (at.gates_len(), at.states_len(), at.steps * at.block());
    let needs: Vec<(BufId, usize)> = match kernel {
        Kernel::ResetGruCell { gi, gh, bias_hh, states, gates, reset_h, .. } => vec![
            (gi, gates_len),
            (gh, gates_len),
            (bias_hh, 3 * at.hidden),
            (states, states_len),
            (gates, gates_len),
            (reset_h, reset_len),
        ],
        Kernel::ResetGruCellBackward { gh, states, gates, dstates, dgi, dgh, .. } => vec![
            (gh, gates_len),
            (states, states_len),
            (gates, gates_len),
            (dstates, states_len),
            (dgi, gates_len),
            (dgh, gates_len),
        ],
        _ => unreachable!("matched above"),
    };
    let fits = at.cell == super::CellKind::Gru && at.reset_before && at.step < at.steps;
    if !fits || needs.iter().any(|(buf, need)| slab.get(*buf).len() < *need) {
        return Err(EngineError::InvalidArgument(format!(
            "a GRU cell half (reset before its matmul) at step {} of {} (batch {}, hidden {}) has a buffer shorter than its window",
            at.step, at.steps, at.batch, at.hidden
        )));
    }
    let mut written: Vec<Vec<f32>> = writes.iter().map(|w| slab.take(*w)).collect();
    let [first, second, third] = &mut written[..] else { unreachable!("three outputs") };
    let (first, second, third) =
        (SharedMut(first.as_mut_ptr()), SharedMut(second.as_mut_ptr()), SharedMut(third.as_mut_ptr()));
    let sequences = cell_ranges(&backend.pool, &at);
    match kernel {
        Kernel::ResetGruCell { half, .. } => {
            let x = cell::ForwardInputs { gi: slab.get(reads[0]), gh: slab.get(reads[1]), bias: slab.get(reads[2]) };
            let out = cell::ForwardOutputs { states: first, gates: second, reset_h: third };
            backend.pool.run(sequences.len(), |part| {
                // SAFETY: the buffers were checked to cover the window, and each part writes
                // only its own sequences.
                unsafe { cell::forward(&at, half, sequences[part].clone(), &x, out) };
            });
        }
        Kernel::ResetGruCellBackward { half, .. } => {
            let (gh, states, gates) = (slab.get(reads[0]), slab.get(reads[1]), slab.get(reads[2]));
            let x = cpu_cells::BackwardInputs { gh, bias: &[], states, gates };
            let out = cpu_cells::BackwardOutputs { dstates: first, dgi: second, dgh: third };
            backend.pool.run(sequences.len(), |part| {
                // SAFETY: as for the forward half.
                unsafe { cell::backward(&at, half, sequences[part].clone(), &x, out) };
            });
        }
        _ => unreachable!("matched above"),
    }
    for (buf, data) in writes.into_iter().zip(written) {
        slab.put(buf, data);
    }
    Ok(())
}

/// The attention kernels (cpu_attention.rs), after checking that every buffer covers its
/// shape and no output is also an input.
fn run_attention(backend: &CpuBackend, kernel: Kernel) -> Result<()> {
    use super::cpu_attention as attention;
    kernel.check_attention_scoring()?;
    let mut slab = backend.storage.borrow_mut();
    let dropout = match kernel {
        Kernel::AttentionContext { dropout, .. } | Kernel::AttentionSumBackward { dropout, .. } => dropout,
        _ => None,
    };
    let check = |at: &super::AttentionShape, slab: &Slab, needs: &[(BufId, usize)], outputs: &[BufId]| {
        let needs: Vec<_> = needs.iter().copied().chain(dropout.map(|d| (d.seed, 1))).collect();
        let short = needs.iter().any(|(buf, need)| slab.get(*buf).len() < *need);
        let aliased = outputs
            .iter()
            .enumerate()
            .any(|(i, o)| outputs[i + 1..].contains(o) || needs.iter().filter(|(b, _)| b == o).count() > 1);
        if short || aliased {
            return Err(EngineError::InvalidArgument(format!(
                "an attention kernel (batch {}, steps {}, width {}) has a buffer {}",
                at.batch,
                at.steps,
                at.width,
                if short { "shorter than its shape" } else { "that is both read and written" }
            )));
        }
        Ok(())
    };
    // The mask's seed is read from the device buffer here, as the shader reads it.
    let mask = |slab: &Slab| {
        dropout.map(|d| attention::Mask { p: d.p, seed: dropout_mask_seed(slab.get(d.seed)[0].to_bits(), d.salt) })
    };
    match kernel {
        Kernel::AttentionScores { at, query, keys, w_v, valid_lens, scores } => {
            let (rows, scored) = (at.batch * at.width, at.batch * at.steps);
            let mut needs = vec![(query, rows), (keys, at.steps * rows), (valid_lens, at.batch), (scores, scored)];
            needs.extend(w_v.map(|w| (w, at.width)));
            check(&at, &slab, &needs, &[scores])?;
            let mut out = slab.take(scores);
            let w_v = w_v.map_or(&[][..], |w| slab.get(w));
            attention::scores(&at, slab.get(query), slab.get(keys), w_v, slab.get(valid_lens), &mut out);
            slab.put(scores, out);
        }
        Kernel::AttentionContext { at, scores, values, weights, context, .. } => {
            let scored = at.batch * at.steps;
            let needs =
                [(scores, scored), (values, scored * at.width), (weights, scored), (context, at.batch * at.width)];
            check(&at, &slab, &needs, &[weights, context])?;
            let (mut w, mut c) = (slab.take(weights), slab.take(context));
            let mask = mask(&slab);
            attention::context(&at, mask, slab.get(scores), slab.get(values), &mut w, &mut c);
            slab.put(weights, w);
            slab.put(context, c);
        }
        Kernel::AttentionSumBackward { at, dcontext, values, weights, dweights, dvalues, .. } => {
            let (rows, scored) = (at.batch * at.width, at.batch * at.steps);
            let needs = [
                (dcontext, rows),
                (values, at.steps * rows),
                (weights, scored),
                (dweights, scored),
                (dvalues, at.steps * rows),
            ];
            check(&at, &slab, &needs, &[dweights, dvalues])?;
            let (mut dw, mut dv) = (slab.take(dweights), slab.take(dvalues));
            let inputs = (slab.get(weights), slab.get(dcontext), slab.get(values));
            attention::sum_backward(&at, mask(&slab), inputs, &mut dw, &mut dv);
            slab.put(dweights, dw);
            slab.put(dvalues, dv);
        }
        Kernel::AttentionBackward { at, query, keys, weights, dweights, dquery, dkeys, additive } => {
            let (rows, scored) = (at.batch * at.width, at.batch * at.steps);
            let mut needs = vec![
                (query, rows),
                (keys, at.steps * rows),
                (weights, scored),
                (dweights, scored),
                (dquery, rows),
                (dkeys, at.steps * rows),
            ];
            let mut outputs = vec![dquery, dkeys];
            if let Some(a) = additive {
                needs.extend([(a.w_v, at.width), (a.dw_v_rows, rows)]);
                outputs.push(a.dw_v_rows);
            }
            check(&at, &slab, &needs, &outputs)?;
            let (mut dq, mut dk) = (slab.take(dquery), slab.take(dkeys));
            let mut rows_out = additive.map(|a| slab.take(a.dw_v_rows));
            let inputs = attention::BackwardInputs {
                query: slab.get(query),
                keys: slab.get(keys),
                weights: slab.get(weights),
                dweights: slab.get(dweights),
                w_v: additive.map(|a| slab.get(a.w_v)),
            };
            attention::backward(&at, &inputs, &mut dq, &mut dk, rows_out.as_deref_mut());
            slab.put(dquery, dq);
            slab.put(dkeys, dk);
            if let (Some(a), Some(r)) = (additive, rows_out) {
                slab.put(a.dw_v_rows, r);
            }
        }
        other => return Err(EngineError::InvalidArgument(format!("{other:?} is not an attention kernel"))),
    }
    Ok(())
}

/// The clipping factor an update applies to its gradient (see [`ClipBy`]).
fn clip_factor(slab: &Slab, clip: Option<ClipBy>) -> Option<f32> {
    clip.map(|c| slab.get(c.state)[2])
}

/// out (+)= the transpose of the (rows × cols) row-major matrix `x`: the transpose kernel,
/// and the gather's and scatter's way between a transposed table and a row-major one.
fn transpose_into(x: &[f32], rows: usize, cols: usize, out: &mut [f32], accumulate: bool) {
    for r in 0..rows {
        for c in 0..cols {
            store(&mut out[c * rows + r], x[r * cols + c], accumulate);
        }
    }
}

/// The transpose of a (rows × cols) row-major matrix.
fn transposed_copy(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    transpose_into(x, rows, cols, &mut out, false);
    out
}

fn run_kernel(backend: &CpuBackend, kernel: Kernel) -> Result<()> {
    match kernel {
        // The CPU runs a window as the per-step kernels in order, which makes it the reference
        // of the GPU's window kernels: the same numbers as the per-step path, exactly.
        Kernel::RecurrentWindow { .. } | Kernel::RecurrentWindowBackward { .. } => {
            kernel.check_window_buffers()?;
            let steps = kernel.per_step(true).expect("invariant: a window kernel has per-step kernels");
            steps.into_iter().try_for_each(|step| run_kernel(backend, step))
        }
        Kernel::Matmul { a, b, c, m, k, n, trans_a, trans_b, accumulate, offsets, variant: _ } => {
            let (rsa, csa) = if trans_a { (1, m) } else { (k, 1) };
            let (rsb, csb) = if trans_b { (1, k) } else { (n, 1) };
            // The last element each operand touches must lie inside its buffer.
            let extent = |rows: usize, cols: usize, rs: usize, cs: usize, offset: usize| {
                if rows == 0 || cols == 0 {
                    offset
                } else {
                    offset + (rows - 1) * rs + (cols - 1) * cs + 1
                }
            };
            let needs = [
                (a, extent(m, k, rsa, csa, offsets[0])),
                (b, extent(k, n, rsb, csb, offsets[1])),
                (c, extent(m, n, n, 1, offsets[2])),
            ];
            {
                let slab = backend.storage.borrow();
                if let Some((_, need)) = needs.iter().find(|(buf, need)| slab.get(*buf).len() < *need) {
                    return Err(EngineError::InvalidArgument(format!(
                        "matmul {m}×{k}×{n} with offsets {offsets:?} reads past the end of a buffer ({need} elements needed)"
                    )));
                }
            }
            backend.with_output(c, &[a, b], |slab, c| {
                let (a, b) = (&slab.get(a)[offsets[0]..], &slab.get(b)[offsets[1]..]);
                let c = &mut c[offsets[2]..];
                let beta = if accumulate { 1.0 } else { 0.0 };
                if k == 0 {
                    if !accumulate {
                        c[..m * n].fill(0.0);
                    }
                    return;
                }
                let whole = Gemm {
                    m,
                    k,
                    n,
                    a: a.as_ptr(),
                    rsa,
                    csa,
                    b: b.as_ptr(),
                    rsb,
                    csb,
                    beta,
                    c: SharedMut(c.as_mut_ptr()),
                };
                // SAFETY: every strided access stays inside the slices (the extents were checked
                // against the buffer lengths above) and the parts write disjoint blocks of `c`.
                unsafe { whole.run_on(&backend.pool) };
            })
        }
        Kernel::RecurrentCell { at, gi, gh, bias_hh, states, gates } => {
            let mut slab = backend.storage.borrow_mut();
            if [gi, gh, bias_hh].iter().any(|i| *i == states || Some(*i) == gates) || Some(states) == gates {
                return Err(EngineError::InvalidArgument("a recurrent cell's outputs overlap its inputs".into()));
            }
            check_cell_buffers(&slab, &at, &[gi, gh], &[states], bias_hh, gates)?;
            let mut state_data = slab.take(states);
            let mut gate_data = gates.map(|g| slab.take(g)).unwrap_or_default();
            let (gi, gh, bias) = (slab.get(gi), slab.get(gh), slab.get(bias_hh));
            let (state_out, gate_out) = (SharedMut(state_data.as_mut_ptr()), SharedMut(gate_data.as_mut_ptr()));
            let sequences = cell_ranges(&backend.pool, &at);
            backend.pool.run(sequences.len(), |part| {
                // SAFETY: the buffers were checked to cover the window, and each part writes
                // only its own sequences.
                unsafe { cpu_cells::forward(&at, sequences[part].clone(), gi, gh, bias, state_out, gate_out) };
            });
            slab.put(states, state_data);
            if let Some(g) = gates {
                slab.put(g, gate_data);
            }
            Ok(())
        }
        Kernel::RecurrentCellBackward { at, gh, bias_hh, states, gates, dstates, dgi, dgh } => {
            let mut slab = backend.storage.borrow_mut();
            let outputs = [Some(dstates), Some(dgi), dgh];
            let inputs = [Some(gh), Some(bias_hh), Some(states), gates];
            let overlap = outputs.iter().flatten().any(|o| inputs.contains(&Some(*o)))
                || dstates == dgi
                || dgh.is_some_and(|g| g == dstates || g == dgi);
            if overlap {
                return Err(EngineError::InvalidArgument("a recurrent cell's gradients overlap its inputs".into()));
            }
            if at.cell == super::CellKind::Gru && dgh.is_none() {
                return Err(EngineError::InvalidArgument("a GRU cell's backward needs a dgh buffer".into()));
            }
            let per_step: Vec<BufId> = [Some(gh), Some(dgi), dgh].into_iter().flatten().collect();
            check_cell_buffers(&slab, &at, &per_step, &[states, dstates], bias_hh, gates)?;
            let mut dstate_data = slab.take(dstates);
            let mut dgi_data = slab.take(dgi);
            let mut dgh_data = dgh.map(|g| slab.take(g)).unwrap_or_default();
            let inputs = cpu_cells::BackwardInputs {
                gh: slab.get(gh),
                bias: slab.get(bias_hh),
                states: slab.get(states),
                gates: gates.map_or(&[][..], |g| slab.get(g)),
            };
            let out = cpu_cells::BackwardOutputs {
                dstates: SharedMut(dstate_data.as_mut_ptr()),
                dgi: SharedMut(dgi_data.as_mut_ptr()),
                dgh: SharedMut(dgh_data.as_mut_ptr()),
            };
            let sequences = cell_ranges(&backend.pool, &at);
            backend.pool.run(sequences.len(), |part| {
                // SAFETY: as for the forward step.
                unsafe { cpu_cells::backward(&at, sequences[part].clone(), &inputs, out) };
            });
            slab.put(dstates, dstate_data);
            slab.put(dgi, dgi_data);
            if let Some(g) = dgh {
                slab.put(g, dgh_data);
            }
            Ok(())
        }
        Kernel::ResetGruCell { .. } | Kernel::ResetGruCellBackward { .. } => run_reset_gru(backend, kernel),
        Kernel::Fill { out, len, value } => backend.with_output(out, &[], |_, out| out[..len].fill(value)),
        Kernel::Unary { op, x, y, len } => backend.with_output(y, &[x], |slab, y| {
            let x = slab.get(x);
            par_chunks(&backend.pool, &mut y[..len], PARALLEL_COSTLY, |start, y| {
                let x = x.get(start..).unwrap_or_default();
                // One loop per function, so that each vectorises.
                match op {
                    UnaryOp::Tanh => map(y, x, cpu_math::tanh),
                    UnaryOp::Sigmoid => map(y, x, cpu_math::sigmoid),
                    UnaryOp::Relu => map(y, x, |v| v.max(0.0)),
                }
            });
        }),
        Kernel::UnaryBackward { op, saved, dy, dx, len, accumulate } => {
            backend.with_output(dx, &[saved, dy], |slab, dx| {
                let (saved, dy) = (slab.get(saved), slab.get(dy));
                par_chunks(&backend.pool, &mut dx[..len], PARALLEL_CHEAP, |start, dx| {
                    for (i, dx) in (start..).zip(dx) {
                        store(dx, dy[i] * unary_derivative(op, saved[i]), accumulate);
                    }
                });
            })
        }
        Kernel::Binary { op, a, b, out, len, accumulate } => backend.with_output(out, &[a, b], |slab, out| {
            let (a, b) = (slab.get(a), slab.get(b));
            par_chunks(&backend.pool, &mut out[..len], PARALLEL_CHEAP, |start, out| {
                for (i, out) in (start..).zip(out) {
                    let value = match op {
                        BinaryOp::Add => a[i] + b[i],
                        BinaryOp::Sub => a[i] - b[i],
                        BinaryOp::Mul => a[i] * b[i],
                    };
                    store(out, value, accumulate);
                }
            });
        }),
        Kernel::Scale { x, out, len, alpha, accumulate } => backend.with_output(out, &[x], |slab, out| {
            let x = slab.get(x);
            par_chunks(&backend.pool, &mut out[..len], PARALLEL_CHEAP, |start, out| {
                for (i, out) in (start..).zip(out) {
                    store(out, alpha * x[i], accumulate);
                }
            });
        }),
        Kernel::ScaleByScalar { x, s, out, len, alpha, accumulate } => {
            let inputs: Vec<BufId> = x.into_iter().chain([s]).collect();
            backend.with_output(out, &inputs, |slab, out| {
                let scalar = alpha * slab.get(s)[0];
                for i in 0..len {
                    let value = x.map_or(scalar, |x| slab.get(x)[i] * scalar);
                    store(&mut out[i], value, accumulate);
                }
            })
        }
        Kernel::AddBias { x, bias, out, rows, cols } => backend.with_output(out, &[x, bias], |slab, out| {
            let (x, bias) = (slab.get(x), slab.get(bias));
            for (out, x) in out[..rows * cols].chunks_exact_mut(cols.max(1)).zip(x.chunks_exact(cols.max(1))) {
                for ((out, x), bias) in out.iter_mut().zip(x).zip(bias) {
                    *out = x + bias;
                }
            }
        }),
        Kernel::RowNormMean { x, offset, rows, cols, blocks, out, out_offset } => {
            backend.with_output(out, &[x], |slab, out| {
                let x = slab.get(x);
                for block in 0..blocks {
                    let start = offset + block * rows * cols;
                    let total: f32 = x[start..start + rows * cols]
                        .chunks_exact(cols.max(1))
                        .map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt())
                        .sum();
                    out[out_offset + block] += total / rows.max(1) as f32;
                }
            })
        }
        Kernel::ColumnSum { x, out, rows, cols, accumulate } => backend.with_output(out, &[x], |slab, out| {
            // Row by row into f64 totals: the same order of additions per column as a column
            // walk, without its strided reads.
            let x = slab.get(x);
            let mut totals = vec![0.0f64; cols];
            for row in x[..rows * cols].chunks_exact(cols.max(1)) {
                for (total, v) in totals.iter_mut().zip(row) {
                    *total += f64::from(*v);
                }
            }
            for (o, total) in out[..cols].iter_mut().zip(totals) {
                store(o, total as f32, accumulate);
            }
        }),
        Kernel::Copy2d { src, dst, rows, cols, src_stride, src_offset, dst_stride, dst_offset, accumulate } => backend
            .with_output(dst, &[src], |slab, dst| {
                let src = slab.get(src);
                for r in 0..rows {
                    for c in 0..cols {
                        store(
                            &mut dst[r * dst_stride + dst_offset + c],
                            src[r * src_stride + src_offset + c],
                            accumulate,
                        );
                    }
                }
            }),
        Kernel::Join { whole, rows, whole_stride, parts, split } => {
            run_join(backend, whole, rows, whole_stride, parts, split)
        }
        Kernel::Transpose { x, out, rows, cols, accumulate } => {
            backend.with_output(out, &[x], |slab, out| transpose_into(slab.get(x), rows, cols, out, accumulate))
        }
        Kernel::AttentionScores { .. }
        | Kernel::AttentionContext { .. }
        | Kernel::AttentionSumBackward { .. }
        | Kernel::AttentionBackward { .. } => run_attention(backend, kernel),
        Kernel::PickTokens { logits, truth, coins, out, rows, classes } => {
            backend.with_output(out, &[logits, truth, coins], |slab, out| {
                let (logits, truth, coins) = (slab.get(logits), slab.get(truth), slab.get(coins));
                for r in 0..rows {
                    let token = if coins[r].to_bits() == 0 {
                        truth[r].to_bits()
                    } else {
                        let row = &logits[r * classes..(r + 1) * classes];
                        let mut best = 0;
                        for (c, &v) in row.iter().enumerate() {
                            if v > row[best] {
                                best = c;
                            }
                        }
                        best as u32
                    };
                    out[r] = f32::from_bits(token);
                }
            })
        }
        Kernel::Gather { table, indices, out, num_indices, dim, table_rows, transposed } => {
            backend.with_output(out, &[table, indices], |slab, out| {
                let indices = slab.get(indices);
                // A transposed table is turned row-major first (a table is small next to the
                // rows gathered from it), so every row is one contiguous copy.
                let table = match transposed {
                    false => std::borrow::Cow::Borrowed(&slab.get(table)[..table_rows * dim]),
                    true => {
                        std::borrow::Cow::Owned(transposed_copy(&slab.get(table)[..table_rows * dim], dim, table_rows))
                    }
                };
                for (i, out) in out[..num_indices * dim].chunks_exact_mut(dim.max(1)).enumerate() {
                    match indices[i].to_bits() as usize {
                        row if row < table_rows => out.copy_from_slice(&table[row * dim..(row + 1) * dim]),
                        _ => out.fill(0.0),
                    }
                }
            })
        }
        Kernel::ScatterAdd { grad_out, indices, grad_table, num_indices, dim, table_rows, transposed, accumulate } => {
            backend.with_output(grad_table, &[grad_out, indices], |slab, grad_table| {
                let (grad_out, indices) = (slab.get(grad_out), slab.get(indices));
                let grad_table = &mut grad_table[..dim * table_rows];
                // Row by row into a row-major table, one contiguous row per index: the table
                // itself, or for a transposed one fresh sums, then added across.
                let scatter = |rows: &mut [f32]| {
                    for i in 0..num_indices {
                        let row = indices[i].to_bits() as usize;
                        if row < table_rows {
                            let from = &grad_out[i * dim..(i + 1) * dim];
                            rows[row * dim..(row + 1) * dim].iter_mut().zip(from).for_each(|(t, g)| *t += g);
                        }
                    }
                };
                if transposed {
                    let mut rows = vec![0.0; dim * table_rows];
                    scatter(&mut rows);
                    transpose_into(&rows, table_rows, dim, grad_table, accumulate);
                } else {
                    if !accumulate {
                        grad_table.fill(0.0);
                    }
                    scatter(grad_table);
                }
            })
        }
        Kernel::SoftmaxCrossEntropy { logits, labels, weights, row_loss, dlogits, rows, classes, grad_scale } => {
            // Two outputs: compute dlogits into a local vector, then write row_loss.
            let mut slab = backend.storage.borrow_mut();
            let mut dl = slab.take(dlogits);
            let mut losses = slab.take(row_loss);
            {
                let (logits, labels) = (slab.get(logits), slab.get(labels));
                let weights = weights.map(|w| slab.get(w));
                for r in 0..rows {
                    let row = &logits[r * classes..(r + 1) * classes];
                    let label = labels[r].to_bits() as usize;
                    let weight = weights.map_or(1.0, |w| w[r]);
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
                    let log_sum = max + sum.ln();
                    let target = if label < classes { row[label] } else { log_sum };
                    losses[r] = weight * (log_sum - target);
                    for c in 0..classes {
                        let p = (row[c] - log_sum).exp();
                        let onehot = if c == label { 1.0 } else { 0.0 };
                        dl[r * classes + c] = (p - onehot) * weight * grad_scale;
                    }
                }
            }
            slab.put(dlogits, dl);
            slab.put(row_loss, losses);
            Ok(())
        }
        Kernel::Sum { x, out, out_index, len, scale, squares, accumulate } => {
            backend.with_output(out, &[x], |slab, out| {
                let x = slab.get(x);
                let total: f64 =
                    x[..len].iter().map(|v| if squares { f64::from(*v) * f64::from(*v) } else { f64::from(*v) }).sum();
                store(&mut out[out_index], scale * total as f32, accumulate);
            })
        }
        Kernel::Dropout { x, y, len, p, seed, salt, accumulate } => backend.with_output(y, &[x, seed], |slab, y| {
            let (x, seed) = (slab.get(x), dropout_mask_seed(slab.get(seed)[0].to_bits(), salt));
            par_chunks(&backend.pool, &mut y[..len], PARALLEL_CHEAP, |start, y| {
                for (i, y) in (start..).zip(y) {
                    store(y, dropped(x[i], seed, i as u32, p), accumulate);
                }
            });
        }),
        Kernel::GradNorm { grads, clip, norm, first, last } => {
            let mut slab = backend.storage.borrow_mut();
            let group: f64 = grads
                .iter()
                .flatten()
                .map(|&(grad, len)| slab.get(grad)[..len].iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>())
                .sum();
            let mut state = slab.take(clip.state);
            state[1] = if first { group as f32 } else { state[1] + group as f32 };
            if last {
                let total = state[1].sqrt();
                state[2] = ClipBy::factor(total, state[0]);
                let mut out = slab.take(norm);
                out[0] = total;
                slab.put(norm, out);
            }
            slab.put(clip.state, state);
            Ok(())
        }
        Kernel::ClipScale { grad, len, clip } => backend.with_output(grad, &[clip.state], |slab, grad| {
            let factor = slab.get(clip.state)[2];
            par_chunks(&backend.pool, &mut grad[..len], PARALLEL_CHEAP, |_, grad| {
                grad.iter_mut().for_each(|g| *g *= factor)
            });
        }),
        Kernel::SgdUpdate { params, lr, batch_size, weight_decay, clip } => {
            for UpdateSlot { param, grad, len } in params.into_iter().flatten() {
                let inputs: Vec<BufId> = [grad, lr].into_iter().chain(clip.map(|c| c.state)).collect();
                backend.with_output(param, &inputs, |slab, param| {
                    let (grad, lr, factor) = (slab.get(grad), slab.get(lr)[0], clip_factor(slab, clip));
                    par_chunks(&backend.pool, &mut param[..len], PARALLEL_CHEAP, |start, param| {
                        for (i, param) in (start..).zip(param) {
                            let g = factor.map_or(grad[i], |f| grad[i] * f);
                            *param -= lr * (g / batch_size + weight_decay * *param);
                        }
                    });
                })?;
            }
            Ok(())
        }
        Kernel::AdamUpdate { param, grad, m, v, len, beta1, beta2, eps, weight_decay, decoupled, scalars, clip } => {
            let mut slab = backend.storage.borrow_mut();
            let (mut p, mut mm, mut vv) = (slab.take(param), slab.take(m), slab.take(v));
            {
                let g = slab.get(grad);
                let (lr, bias1, bias2) = (slab.get(scalars)[0], slab.get(scalars)[1], slab.get(scalars)[2]);
                let (coupled, shrink) = if decoupled { (0.0, 1.0 - lr * weight_decay) } else { (weight_decay, 1.0) };
                let factor = clip_factor(&slab, clip);
                for i in 0..len {
                    p[i] *= shrink;
                    let gi = factor.map_or(g[i], |f| g[i] * f) + coupled * p[i];
                    mm[i] = beta1 * mm[i] + (1.0 - beta1) * gi;
                    vv[i] = beta2 * vv[i] + (1.0 - beta2) * gi * gi;
                    let m_hat = mm[i] / bias1;
                    let v_hat = vv[i] / bias2;
                    p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
                }
            }
            slab.put(param, p);
            slab.put(m, mm);
            slab.put(v, vv);
            Ok(())
        }
    }
}

/// One `C = A·B + beta·C` product with strided operands (`matrixmultiply`'s arguments).
struct Gemm {
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    beta: f32,
    /// Row-major with row stride `n`.
    c: SharedMut,
}

// SAFETY: the operands are only read, and `c` only written in disjoint blocks, by the parts of
// one `run_on` call, which returns after all of them.
unsafe impl Sync for Gemm {}

/// Products smaller than this many multiply-adds run in one piece: below it, handing pieces to
/// other threads costs more than it saves.
const PARALLEL_MACS: usize = 1 << 18;

impl Gemm {
    /// Runs the product, cut along the longer side of `C` into one block per thread when it is
    /// big enough. Every element of `C` is the same sum in the same order in any block (the
    /// blocking only decides which thread computes it), so the result does not depend on the
    /// thread count.
    ///
    /// # Safety
    /// The operands must cover every element their strides reach, `c` must be exclusively the
    /// product's, and no other reference may write `a` or `b` meanwhile.
    unsafe fn run_on(&self, pool: &Pool) {
        let by_rows = self.m >= self.n;
        let long = if by_rows { self.m } else { self.n };
        let min_len = if self.m * self.k * self.n < PARALLEL_MACS { usize::MAX } else { 32 };
        let ranges = pool.ranges(long, 16, min_len);
        pool.run(ranges.len(), |part| {
            let r = ranges[part].clone();
            // SAFETY: the block lies inside the product the caller vouched for, and blocks of
            // different parts share no element of `c`.
            unsafe {
                let (m, n, a, b, c) = if by_rows {
                    (r.len(), self.n, self.a.add(r.start * self.rsa), self.b, self.c.0.add(r.start * self.n))
                } else {
                    (self.m, r.len(), self.a, self.b.add(r.start * self.csb), self.c.0.add(r.start))
                };
                matrixmultiply::sgemm(
                    m,
                    self.k,
                    n,
                    1.0,
                    a,
                    self.rsa as isize,
                    self.csa as isize,
                    b,
                    self.rsb as isize,
                    self.csb as isize,
                    self.beta,
                    c,
                    self.n as isize,
                    1,
                );
            }
        });
    }
}
