//! How much gradient reaches a recurrent layer's hidden states: the one place that knows where
//! a layer's per-step states sit on a probing tape, and the measurement of their gradients.
//! [`watch_layer`] marks a layer's states `retain_grad` before backward; [`measure`] then adds
//! each step's batch-mean ‖∂loss/∂h_s‖ into a small device buffer with one
//! [`Kernel::RowNormMean`] per probe (one dispatch for a fused layer's window, one per time step
//! for a composed layer or a scratch model), read back once. The inspection's connectivity
//! (one prediction of one passage) and the gradient's reach (one prediction per row of a batch,
//! after every epoch) are both this measurement.

use crate::backend::Kernel;
use crate::error::Result;
use crate::tape::{Probe, Tape, Var};
use crate::tensor::Tensor;

/// A state gradient to measure after backward: `blocks` time steps of `rows` (batch) × `cols`
/// (hidden) values from element `offset` of `var`'s gradient, into the norms from step `slot`.
pub(crate) struct GradWatch {
    var: Var,
    offset: usize,
    rows: usize,
    cols: usize,
    blocks: usize,
    slot: usize,
}

/// The top layer's states on a probing tape (see `Tape::enable_probes`), kept for measuring:
/// step s goes to element s of the norms.
pub(crate) fn watch_top_layer(tape: &mut Tape, batch: usize, hidden: usize) -> Vec<GradWatch> {
    let top = tape.probes().iter().filter_map(probe_layer).max().unwrap_or(0);
    watch_layer(tape, top, batch, hidden)
}

/// Layer `layer`'s states on a probing tape, kept (`retain_grad`) for measuring after
/// backward: step s goes to element s of the norms. The one place that knows where a
/// layer's per-step states are: blocks 1..=steps of a fused layer's window (block 0 is the
/// initial state), or a composed layer's per-step h vars in time order.
pub(crate) fn watch_layer(tape: &mut Tape, layer: usize, batch: usize, hidden: usize) -> Vec<GradWatch> {
    let mut watches = Vec::new();
    let mut step = 0;
    for probe in tape.probes() {
        match probe {
            Probe::Window { layer: l, states, steps, .. } if *l == layer => watches.push(GradWatch {
                var: *states,
                offset: batch * hidden,
                rows: batch,
                cols: hidden,
                blocks: *steps,
                slot: 0,
            }),
            Probe::Output { layer: l, rows, steps } if *l == layer => {
                watches.push(GradWatch { var: *rows, offset: 0, rows: batch, cols: hidden, blocks: *steps, slot: 0 })
            }
            Probe::Step { layer: l, h, .. } if *l == layer => {
                watches.push(GradWatch { var: *h, offset: 0, rows: batch, cols: hidden, blocks: 1, slot: step });
                step += 1;
            }
            _ => {}
        }
    }
    for watch in &watches {
        tape.retain_grad(watch.var);
    }
    watches
}

/// The recurrent layers the probes show, in order.
pub(crate) fn probed_layers(tape: &Tape) -> Vec<usize> {
    let mut layers: Vec<usize> = tape.probes().iter().filter_map(probe_layer).collect();
    layers.sort_unstable();
    layers.dedup();
    layers
}

fn probe_layer(probe: &Probe) -> Option<usize> {
    match probe {
        Probe::Window { layer, .. } | Probe::Step { layer, .. } | Probe::Output { layer, .. } => Some(*layer),
        Probe::Input { .. } => None,
    }
}

/// After backward: adds each watched step's batch-mean gradient norm into `norms` (one element
/// per step), dropping steps past its end.
pub(crate) fn measure(tape: &Tape, watches: &[GradWatch], norms: &Tensor) -> Result<()> {
    for watch in watches {
        let Some(grad) = tape.grad(watch.var) else { continue };
        let blocks = watch.blocks.min(norms.len().saturating_sub(watch.slot));
        if blocks == 0 {
            continue;
        }
        tape.backend().run(Kernel::RowNormMean {
            x: grad.id(),
            offset: watch.offset,
            rows: watch.rows,
            cols: watch.cols,
            blocks,
            out: norms.id(),
            out_offset: watch.slot,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, CpuBackend};
    use crate::nn::{CellKind, LanguageModel, ModelConfig};
    use std::rc::Rc;

    /// The measured norms equal the batch-mean norms computed on the host from the same
    /// retained gradients, for a fused two-layer GRU (top layer only), a composed LSTM and a
    /// scratch RNN.
    #[test]
    fn the_measured_norms_are_the_batch_means_of_the_state_gradients() {
        let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
        let (steps, batch, hidden, vocab) = (5, 3, 4, 7);
        for (cell, scratch, layers, fused) in
            [(CellKind::Gru, false, 2, true), (CellKind::Lstm, false, 1, false), (CellKind::Rnn, true, 1, false)]
        {
            let mut config = ModelConfig::new(cell, scratch, vocab, hidden);
            config.num_layers = layers;
            let model = LanguageModel::new(&backend, &config, 3).unwrap();
            model.set_fused_layers(fused);
            let ids: Vec<u32> = (0..steps * batch).map(|i| (i * 5 % vocab) as u32).collect();
            let inputs = Tensor::from_u32(&backend, &[steps, batch], &ids).unwrap();
            let labels =
                Tensor::from_u32(&backend, &[steps * batch], &ids.iter().map(|i| (i + 1) % 7).collect::<Vec<_>>())
                    .unwrap();
            let mut tape = Tape::new(&backend, 0);
            tape.enable_probes();
            let state = model.begin_state(&backend, batch).unwrap();
            let (logits, _) = model.forward(&mut tape, &inputs, &state).unwrap();
            let loss = tape.softmax_cross_entropy(logits, &labels).unwrap();
            let watches = watch_top_layer(&mut tape, batch, hidden);
            tape.backward(loss).unwrap();
            let norms = Tensor::zeros(&backend, &[steps]).unwrap();
            measure(&tape, &watches, &norms).unwrap();
            let measured = pollster::block_on(norms.to_vec()).unwrap();

            let mut expected = vec![0.0f32; steps];
            for watch in &watches {
                let grad = pollster::block_on(tape.grad(watch.var).unwrap().to_vec()).unwrap();
                for block in 0..watch.blocks {
                    let start = watch.offset + block * batch * hidden;
                    let norms: f32 = grad[start..start + batch * hidden]
                        .chunks_exact(hidden)
                        .map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt())
                        .sum();
                    expected[watch.slot + block] += norms / batch as f32;
                }
            }
            let what = format!("{} layers {layers}", config.model_name());
            assert!(expected.iter().all(|&v| v > 0.0), "{what}: every step has a gradient: {expected:?}");
            for (s, (m, e)) in measured.iter().zip(&expected).enumerate() {
                assert!((m - e).abs() <= 1e-6 * e.abs().max(1.0), "{what} step {s}: measured {m}, expected {e}");
            }
        }
    }
}
