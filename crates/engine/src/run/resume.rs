//! Resuming a run exactly where it stopped. A session between epochs saves, besides its weights
//! and spec, everything the next epoch depends on: the optimizer's state (Adam's step count and
//! moments), the step count that seeds dropout, where the random streams that order the
//! minibatches stand, and the epochs and tokens trained. [`SavedRun::build`] rebuilds the run
//! from its spec and puts all of that back, so that training on continues as if it had never
//! stopped: the same minibatches, the same updates, the same perplexity (on the same backend).
//!
//! The state travels in the checkpoint's metadata (entry `training`), so the file still loads
//! into PyTorch unchanged. A checkpoint saved mid-epoch, after a divergence, or by an rnnplay
//! before this one holds weights only; it cannot be resumed, and the error says so.
//!
//! What depends on the total epoch count — a cosine schedule, the scheduled-sampling ramp —
//! follows the resumed run's count; a constant or step schedule gives an uninterrupted run's
//! rates whatever the counts.

use super::session::{RunData, Session, TaskRun};
use super::spec::RunSpec;
use crate::backend::Backend;
use crate::checkpoint::{load_params, Checkpoint, Seq2SeqCheckpoint};
use crate::error::{EngineError, Result};
use crate::optim::OptimizerState;
use crate::options::EngineOptions;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rnnplay_data::Vocab;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The checkpoint metadata entry holding the training state.
pub(crate) const TRAINING_KEY: &str = "training";
/// Epochs a saved run may claim (untrusted input is checked against it).
const MAX_EPOCHS: usize = 1_000_000;

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// The training state as the metadata holds it (JSON; moments as base64 of f32 little endian).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedTraining {
    epochs_done: usize,
    tokens_trained: usize,
    /// Training steps taken (each seeds its step's dropout).
    steps: u32,
    /// Word positions of the random streams (u128 in decimal): the minibatch order (language
    /// models) or the pair order (encoder–decoders), and the validation split's.
    data_rng: String,
    valid_rng: Option<String>,
    optimizer: SavedOptimizer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum SavedOptimizer {
    Sgd,
    Adam { step: u32, m: Vec<String>, v: Vec<String> },
}

fn encode(values: &[f32]) -> String {
    BASE64.encode(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())
}

fn decode(text: &str) -> Result<Vec<f32>> {
    let bytes = BASE64.decode(text).map_err(|e| invalid(format!("the saved optimizer state does not decode: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(invalid("the saved optimizer state is truncated"));
    }
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn position(text: &str) -> Result<u128> {
    text.parse().map_err(|_| invalid(format!("the saved data position '{text}' is not a number")))
}

impl SavedOptimizer {
    fn from_state(state: OptimizerState) -> Self {
        match state {
            OptimizerState::Sgd => Self::Sgd,
            OptimizerState::Adam { step, moments } => Self::Adam {
                step,
                m: moments.iter().map(|(m, _)| encode(m)).collect(),
                v: moments.iter().map(|(_, v)| encode(v)).collect(),
            },
        }
    }

    fn to_state(&self) -> Result<OptimizerState> {
        Ok(match self {
            Self::Sgd => OptimizerState::Sgd,
            Self::Adam { step, m, v } => {
                if m.len() != v.len() {
                    return Err(invalid("the saved Adam state has unpaired moments"));
                }
                let moments = m.iter().zip(v).map(|(m, v)| Ok((decode(m)?, decode(v)?))).collect::<Result<_>>()?;
                OptimizerState::Adam { step: *step, moments }
            }
        })
    }
}

impl Session {
    /// True when the run can be saved for an exact resume: between epochs, not diverged.
    pub fn resumable(&self) -> bool {
        self.epoch_progress() == (0, 0) && self.diverged.is_none()
    }

    /// The training state, read from the device (the optimizer's moments), as metadata JSON.
    pub(crate) async fn training_state(&self) -> Result<String> {
        let (core, data_rng, valid_rng) = match &self.run {
            TaskRun::Language(run) => (
                &run.trainer.core,
                run.batches.rng_position(),
                run.valid.as_ref().map(|v| v.rng_position().to_string()),
            ),
            TaskRun::Seq2Seq(run) => (&run.trainer.core, run.rng.get_word_pos(), None),
        };
        let state = SavedTraining {
            epochs_done: self.epochs_done,
            tokens_trained: self.tokens_trained,
            steps: core.position().0,
            data_rng: data_rng.to_string(),
            valid_rng,
            optimizer: SavedOptimizer::from_state(core.optimizer().state().await?),
        };
        serde_json::to_string(&state).map_err(|e| invalid(e.to_string()))
    }
}

/// The model's half of a saved run: the weights and what they must fit.
enum SavedModel {
    Language(Checkpoint),
    Seq2Seq(Seq2SeqCheckpoint),
}

/// A run saved between epochs, read from a checkpoint's bytes: its spec, weights and training
/// state, checked. The host loads the data the spec names, then calls [`SavedRun::build`].
pub struct SavedRun {
    spec: RunSpec,
    model: SavedModel,
    training: SavedTraining,
}

impl SavedRun {
    /// Parses a checkpoint written by [`Session::checkpoint_bytes`] between epochs; one without
    /// the training state (saved mid-epoch, after a divergence, or by an earlier rnnplay) is an
    /// error that says what it can still be used for.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model = match Checkpoint::from_bytes(bytes) {
            Ok(checkpoint) => SavedModel::Language(checkpoint),
            Err(language_error) => match Seq2SeqCheckpoint::from_bytes(bytes) {
                Ok(checkpoint) => SavedModel::Seq2Seq(checkpoint),
                // Neither kind: the language model's message says what is wrong with the file.
                Err(_) => return Err(language_error),
            },
        };
        let extra = match &model {
            SavedModel::Language(checkpoint) => &checkpoint.extra,
            SavedModel::Seq2Seq(checkpoint) => &checkpoint.extra,
        };
        let weights_only = |why: &str| {
            invalid(format!(
                "this checkpoint cannot be resumed: {why}; it holds the weights only (rnnplay predict and inspect use them, and the page trains on from them)"
            ))
        };
        let spec: RunSpec = match extra.get("spec") {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| invalid(format!("its saved spec does not parse: {e}")))?
            }
            None => return Err(weights_only("it has no run spec")),
        };
        let training: SavedTraining = match extra.get(TRAINING_KEY) {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| invalid(format!("its training state does not parse: {e}")))?
            }
            None => return Err(weights_only("it was saved mid-epoch, after a divergence or by an earlier rnnplay")),
        };
        if training.epochs_done == 0 || training.epochs_done > MAX_EPOCHS {
            return Err(invalid(format!("its training state claims {} epochs", training.epochs_done)));
        }
        position(&training.data_rng)?;
        training.valid_rng.as_deref().map(position).transpose()?;
        training.optimizer.to_state()?;
        if spec.is_seq2seq() != matches!(model, SavedModel::Seq2Seq(_)) {
            return Err(invalid("its spec and its model are of different kinds"));
        }
        Ok(Self { spec, model, training })
    }

    /// The spec the run was saved with (its `epochs`: the run's total when it was saved).
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Epochs trained when it was saved.
    pub fn epochs_done(&self) -> usize {
        self.training.epochs_done
    }

    /// Rebuilds the run on `backend` from its spec and `data` (what the spec names, loaded by
    /// the host), to run `epochs` epochs in all, and puts the saved weights and training state
    /// back. The data must give the vocabularies the run trained with.
    pub fn build(
        &self,
        backend: &Rc<dyn Backend>,
        data: RunData,
        options: &EngineOptions,
        epochs: usize,
    ) -> Result<Session> {
        let done = self.training.epochs_done;
        if epochs <= done {
            return Err(invalid(format!(
                "the saved run has trained {done} epochs already; ask for more epochs in all (e.g. {})",
                done + 10
            )));
        }
        let mut spec = self.spec.clone();
        spec.epochs = epochs;
        let mut session = spec.build(backend, data, options)?;
        let changed = |what: &str| {
            invalid(format!(
                "the data loaded is not what the saved run trained on ({what} differs); load the same data"
            ))
        };
        match (&self.model, &mut session.run) {
            (SavedModel::Language(saved), TaskRun::Language(run)) => {
                if !same_tokens(&saved.vocab, &run.vocab) {
                    return Err(changed("the vocabulary"));
                }
                load_params(run.model.params(), &saved.tensors, &saved.config.model_name())?;
                run.batches.set_rng_position(position(&self.training.data_rng)?);
                match (run.valid.as_mut(), &self.training.valid_rng) {
                    (Some(valid), Some(at)) => valid.set_rng_position(position(at)?),
                    (None, None) => {}
                    _ => return Err(changed("the validation split")),
                }
            }
            (SavedModel::Seq2Seq(saved), TaskRun::Seq2Seq(run)) => {
                if !same_tokens(&saved.src_vocab, &run.data.src_vocab)
                    || !same_tokens(&saved.tgt_vocab, &run.data.tgt_vocab)
                    || saved.num_steps != run.data.num_steps
                {
                    return Err(changed("a vocabulary or the sentence length"));
                }
                load_params(run.model.params(), &saved.tensors, "seq2seq")?;
                run.rng.set_word_pos(position(&self.training.data_rng)?);
            }
            _ => return Err(invalid("its spec and its model are of different kinds")),
        }
        let optimizer = self.training.optimizer.to_state()?;
        let params: Vec<_> = session.params().to_vec();
        let core = match &mut session.run {
            TaskRun::Language(run) => &mut run.trainer.core,
            TaskRun::Seq2Seq(run) => &mut run.trainer.core,
        };
        core.restore(&params, &optimizer, (self.training.steps, done))?;
        session.epochs_done = done;
        session.tokens_trained = self.training.tokens_trained;
        session.keep_last_good()?;
        Ok(session)
    }
}

fn same_tokens(a: &Vocab, b: &Vocab) -> bool {
    a.tokens() == b.tokens()
}
