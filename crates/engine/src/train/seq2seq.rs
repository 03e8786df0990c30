//! Training the encoder–decoder: d2l's `train_seq2seq` (teacher forcing, or scheduled
//! sampling; masked softmax cross-entropy), around the shared [`StepCore`].

use super::step_core::{made_for, param_values, StepCore, StepLoss};
use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::nn::Seq2Seq;
use crate::optim::Optimizer;
use crate::replay::{inputs_for, StepPlans};
use crate::tape::Tape;
use crate::tensor::{DType, Tensor};
use crate::translate::reserved;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rnnplay_data::translation::{time_major, PairBatch};
use rnnplay_data::Vocab;
use std::rc::Rc;

/// What one epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seq2SeqEpoch {
    /// Σ cross-entropy over valid target tokens / their number.
    pub per_token_ce: f32,
    /// What d2l prints as "loss": the per-token CE divided by num_steps, because its loss
    /// averages each sequence over all num_steps positions, padding included.
    pub d2l_loss: f32,
    pub grad_norm: f32,
    pub tokens: usize,
    pub batches: usize,
}

/// Trains an encoder–decoder epoch by epoch.
pub struct Seq2SeqTrainer {
    /// `metrics` holds [Σ valid-token CE, Σ pre-clip norms] of the current epoch.
    pub(crate) core: StepCore,
    /// Scheduled sampling: the probability of feeding the model its own prediction instead of
    /// the true previous token (0: pure teacher forcing, d2l's setting), and the coins' source.
    sampling_probability: f32,
    coins: ChaCha8Rng,
    /// By batch shape, the most recent last.
    inputs: Vec<PairInputs>,
}

/// One batch shape's inputs on the device, time-major, written before every step: encoder
/// input, decoder input (`<bos>` + target[:-1]), labels, per-position weights (1 for valid
/// target tokens), and for scheduled sampling each step's true decoder input and coins.
struct PairInputs {
    /// The parameters these inputs were made for.
    model: Vec<Tensor>,
    src: Tensor,
    /// The sources' valid lengths (u32, batch): attention masks the padding after them.
    src_valid: Tensor,
    dec_in: Tensor,
    labels: Tensor,
    weights: Tensor,
    /// Per decoder step, (1, batch) true inputs and (batch) coins; made on the first step
    /// with scheduled sampling.
    step_inputs: Vec<Tensor>,
    step_coins: Vec<Tensor>,
    /// Recorded steps that read these inputs.
    plans: StepPlans,
}

impl PairInputs {
    fn new(backend: &Rc<dyn Backend>, model: &Seq2Seq, batch: &PairBatch) -> Result<Self> {
        let (b, steps) = (batch.batch_size, batch.num_steps);
        let ids = |shape: &[usize]| Tensor::uninit(backend, shape, DType::U32);
        Ok(Self {
            model: param_values(model.params()),
            src: ids(&[steps, b])?,
            src_valid: ids(&[b])?,
            dec_in: ids(&[steps, b])?,
            labels: ids(&[steps * b])?,
            weights: Tensor::uninit(backend, &[steps * b], DType::F32)?,
            step_inputs: Vec::new(),
            step_coins: Vec::new(),
            plans: StepPlans::new(backend),
        })
    }

    fn fits(&self, batch: &PairBatch) -> bool {
        self.src.shape() == [batch.num_steps, batch.batch_size]
    }

    /// Writes `batch`; returns the decoder input, time-major, for scheduled sampling.
    fn write(&self, batch: &PairBatch, bos: u32) -> Result<Vec<u32>> {
        let (b, steps) = (batch.batch_size, batch.num_steps);
        self.src.write_u32(&time_major(&batch.src, b, steps))?;
        self.src_valid.write_u32(&batch.src_valid.iter().map(|&v| v.clamp(1, steps) as u32).collect::<Vec<_>>())?;
        let dec_in: Vec<u32> = (0..b)
            .flat_map(|row| std::iter::once(bos).chain(batch.tgt[row * steps..(row + 1) * steps - 1].iter().copied()))
            .collect();
        let dec_in = time_major(&dec_in, b, steps);
        self.dec_in.write_u32(&dec_in)?;
        self.labels.write_u32(&time_major(&batch.tgt, b, steps))?;
        let weights: Vec<f32> =
            (0..steps).flat_map(|t| batch.tgt_valid.iter().map(move |&v| if t < v { 1.0 } else { 0.0 })).collect();
        self.weights.write_f32(&weights)?;
        Ok(dec_in)
    }
}

/// Scheduled sampling: writes each decoder step's true input and coins (drawn from `coins`, one
/// per position after the first, set with `probability`) into `inputs`.
fn write_coins(
    coins: &mut ChaCha8Rng,
    probability: f32,
    inputs: &mut PairInputs,
    dec_in: &[u32],
    batch: &PairBatch,
) -> Result<()> {
    let (b, steps) = (batch.batch_size, batch.num_steps);
    let backend = Rc::clone(inputs.src.backend());
    if inputs.step_inputs.is_empty() {
        for _ in 0..steps {
            inputs.step_inputs.push(Tensor::uninit(&backend, &[1, b], DType::U32)?);
            inputs.step_coins.push(Tensor::uninit(&backend, &[b], DType::U32)?);
        }
    }
    for t in 0..steps {
        inputs.step_inputs[t].write_u32(&dec_in[t * b..(t + 1) * b])?;
        let drawn: Vec<u32> = (0..b).map(|_| u32::from(t > 0 && coins.random::<f32>() < probability)).collect();
        inputs.step_coins[t].write_u32(&drawn)?;
    }
    Ok(())
}

impl Seq2SeqTrainer {
    /// The shared step core: its optimizer state and step position (to save and resume a run)
    /// and a minibatch's gradient as shares (to split it over workers).
    pub fn core(&self) -> &StepCore {
        &self.core
    }

    pub fn core_mut(&mut self) -> &mut StepCore {
        &mut self.core
    }

    pub fn new(backend: &Rc<dyn Backend>, optimizer: Optimizer, clip: f32) -> Result<Self> {
        Ok(Self {
            core: StepCore::new(backend, optimizer, clip)?,
            sampling_probability: 0.0,
            coins: ChaCha8Rng::seed_from_u64(0),
            inputs: Vec::new(),
        })
    }

    /// The learning rate the next steps use.
    pub fn lr(&self) -> f32 {
        self.core.lr()
    }

    /// Sets the learning rate of the following steps, recorded or replayed.
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        self.core.set_lr(lr)
    }

    /// Turns plan replay on (the default) or off (`EngineOptions::plan_replay`).
    pub fn set_plan_replay(&mut self, on: bool) {
        self.core.set_plan_replay(on);
    }

    /// Sets the scheduled-sampling probability (a schedule calls this between epochs) and
    /// seeds the coins that apply it.
    pub fn set_scheduled_sampling(&mut self, probability: f32, seed: u64) -> Result<()> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(EngineError::InvalidArgument(format!(
                "scheduled-sampling probability {probability} must be in [0, 1]"
            )));
        }
        self.coins = ChaCha8Rng::seed_from_u64(seed);
        self.sampling_probability = probability;
        Ok(())
    }

    /// One pass over `batches` (one submit each; one read-back at the end).
    pub async fn train_epoch(
        &mut self,
        model: &Seq2Seq,
        tgt_vocab: &Vocab,
        batches: &[PairBatch],
    ) -> Result<Seq2SeqEpoch> {
        self.begin_epoch()?;
        let mut tokens = 0;
        for batch in batches {
            self.train_batch(model, tgt_vocab, batch)?;
            tokens += batch.target_tokens();
        }
        let num_steps = batches.first().map_or(1, |b| b.num_steps);
        self.finish_epoch(batches.len(), tokens, num_steps).await
    }

    /// Zeroes the epoch's device-side sums.
    pub fn begin_epoch(&mut self) -> Result<()> {
        self.core.begin_epoch()
    }

    /// One training step on `batch` — forward (teacher forcing or scheduled sampling), masked
    /// cross-entropy, backward, clipping, update — recorded and submitted once, no read-back.
    pub fn train_batch(&mut self, model: &Seq2Seq, tgt_vocab: &Vocab, batch: &PairBatch) -> Result<()> {
        self.run_batch(model, tgt_vocab, batch, None)
    }

    /// Data parallelism: the first half of a step on this worker's rows (`rows`, from
    /// [`PairBatch::rows`]) — forward and backward, nothing updated; `seed` turns the step
    /// count into this worker's dropout seed. The loss is a sum over sequences (d2l's), so
    /// the workers' shares add up to the batch's with weight 1.
    pub fn backward_share(
        &mut self,
        model: &Seq2Seq,
        tgt_vocab: &Vocab,
        rows: &PairBatch,
        seed: &dyn Fn(u32) -> u32,
    ) -> Result<()> {
        if rows.batch_size == 0 {
            return self.core.empty_share(model.params());
        }
        self.run_batch(model, tgt_vocab, rows, Some(seed))
    }

    fn run_batch(
        &mut self,
        model: &Seq2Seq,
        tgt_vocab: &Vocab,
        batch: &PairBatch,
        share_seed: Option<&dyn Fn(u32) -> u32>,
    ) -> Result<()> {
        let (bos, _) = reserved(tgt_vocab);
        let backend = Rc::clone(&self.core.backend);
        let (inputs, _) = inputs_for(
            &mut self.inputs,
            |inputs| made_for(&inputs.model, model.params()),
            |inputs| inputs.fits(batch),
            || PairInputs::new(&backend, model, batch),
        )?;
        let dec_in = inputs.write(batch, bos)?;
        self.core.uniform_loss = (model.config().tgt_vocab_size as f32).ln();
        let scheduled = self.sampling_probability > 0.0;
        if scheduled {
            write_coins(&mut self.coins, self.sampling_probability, inputs, &dec_in, batch)?;
        }
        let PairInputs { src, src_valid, dec_in, labels, weights, step_inputs, step_coins, plans, .. } = inputs;
        let num_steps = batch.num_steps as f32;
        let forward = |tape: &mut Tape| {
            let logits = if scheduled {
                model.forward_scheduled(tape, src, src_valid, step_inputs, step_coins)?
            } else {
                model.forward(tape, src, src_valid, dec_in)?
            };
            // d2l's gradient: of Σ_sequences mean_over_steps(masked CE) = Σ valid CE / num_steps.
            let loss = tape.masked_softmax_cross_entropy(logits, labels, Some(weights), num_steps)?;
            // metrics[0] gets Σ valid CE back from the loss's normaliser.
            Ok(StepLoss { loss, loss_scale: num_steps, carry: Vec::new() })
        };
        match share_seed {
            None => self.core.step(plans, (u8::from(scheduled), model.fused_layers()), model.params(), forward),
            Some(seed) => self.core.backward_share(model.params(), seed, forward),
        }
    }

    /// Reads the epoch's sums back (its one read-back) and turns them into per-token and
    /// per-batch means.
    pub async fn finish_epoch(&mut self, batches: usize, tokens: usize, num_steps: usize) -> Result<Seq2SeqEpoch> {
        let sums = self.core.metrics.to_vec().await?;
        let per_token_ce = sums[0] / tokens.max(1) as f32;
        self.core.check_loss(per_token_ce)?;
        Ok(Seq2SeqEpoch {
            per_token_ce,
            d2l_loss: per_token_ce / num_steps.max(1) as f32,
            grad_norm: sums[1] / batches.max(1) as f32,
            tokens,
            batches,
        })
    }
}
