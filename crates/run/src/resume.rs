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
//! The state also records what the run trained on ([`DataFingerprint`]: the data's size and
//! sha1), so that resuming on other data — an edited character, reordered lines, another file of
//! the same name — is refused with what differs, unless the host says it means to
//! ([`SavedRun::allow_changed_data`]). Everything read from the file is untrusted: a spec that
//! lacks a field or does not validate, or a training state that does not fit its spec and
//! model, is reported as a broken checkpoint, never filled in from a preset's defaults.
//!
//! What depends on the total epoch count — a cosine schedule, the scheduled-sampling ramp —
//! follows the resumed run's count; a constant or step schedule gives an uninterrupted run's
//! rates whatever the counts.

use super::data::{DataFingerprint, RunData};
use super::fields::SETTINGS;
use super::session::{Session, TRAINING_KEY};
use super::spec::{RunSpec, FIELDS, MAX_EPOCHS};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rnnplay_data::Vocab;
use rnnplay_engine::backend::Backend;
use rnnplay_engine::checkpoint::{load_params, Checkpoint, Seq2SeqCheckpoint};
use rnnplay_engine::error::{EngineError, Result};
use rnnplay_engine::optim::{Optimizer, OptimizerState};
use rnnplay_engine::options::EngineOptions;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// The training state as the metadata holds it (JSON; moments as base64 of f32 little endian).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// What the run trained on; absent in files of an rnnplay that did not record it.
    #[serde(default)]
    data: Option<DataFingerprint>,
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
        let task = self.run.training();
        let (data_rng, valid_rng) = task.streams();
        let state = SavedTraining {
            epochs_done: self.epochs_done,
            tokens_trained: self.tokens_trained,
            steps: task.position().0,
            data_rng: data_rng.to_string(),
            valid_rng: valid_rng.map(|at| at.to_string()),
            optimizer: SavedOptimizer::from_state(task.optimizer_state().await?),
            data: Some(self.data.clone()),
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
    /// Resume on data other than the run's (the host asked for it explicitly).
    changed_data_allowed: bool,
}

/// A resumable checkpoint whose own parts do not fit together.
fn broken(what: impl std::fmt::Display) -> EngineError {
    invalid(format!(
        "this checkpoint is broken: {what}; it cannot be resumed (its weights may still load in rnnplay predict, inspect or translate)"
    ))
}

/// The spec a checkpoint saved, read strictly: every field present (none is guessed from a
/// preset) and valid.
fn saved_spec(text: &str) -> Result<RunSpec> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| broken(format!("its saved spec does not parse ({e})")))?;
    let serde_json::Value::Object(mut fields) = value else { return Err(broken("its saved spec is not an object")) };
    // A setting added since the run was saved: the value it trained with then.
    for field in SETTINGS {
        if let (false, Some(before)) = (fields.contains_key(field.key), field.before) {
            fields.insert(field.key.to_string(), serde_json::from_str(before).unwrap_or(serde_json::Value::Null));
        }
    }
    let missing: Vec<&str> = FIELDS.iter().copied().filter(|key| !fields.contains_key(*key)).collect();
    if !missing.is_empty() {
        return Err(broken(format!("its saved spec lacks {}", missing.join(", "))));
    }
    let spec: RunSpec = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| broken(format!("its saved spec does not parse ({e})")))?;
    if let Some(problem) = spec.validate().first() {
        return Err(broken(format!("its saved spec is not a valid run ({problem})")));
    }
    Ok(spec)
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
        let spec = match extra.get("spec") {
            Some(text) => saved_spec(text)?,
            None => return Err(weights_only("it has no run spec")),
        };
        let training: SavedTraining = match extra.get(TRAINING_KEY) {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| broken(format!("its training state does not parse ({e})")))?
            }
            None => return Err(weights_only("it was saved mid-epoch, after a divergence or by an earlier rnnplay")),
        };
        if training.epochs_done == 0 || training.epochs_done > MAX_EPOCHS {
            return Err(broken(format!("its training state claims {} epochs", training.epochs_done)));
        }
        if training.epochs_done > spec.epochs {
            return Err(broken(format!(
                "its training state claims {} epochs of a run of {}",
                training.epochs_done, spec.epochs
            )));
        }
        if let Some(DataFingerprint::Bytes { sha1, .. }) = &training.data {
            if sha1.len() != 40 || !sha1.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(broken("its data fingerprint is not a sha1"));
            }
        }
        position(&training.data_rng).map_err(broken)?;
        training.valid_rng.as_deref().map(position).transpose().map_err(broken)?;
        let optimizer = training.optimizer.to_state().map_err(broken)?;
        if matches!(optimizer, OptimizerState::Adam { .. }) != Optimizer::keeps_moments(&spec.optimizer) {
            return Err(broken(format!(
                "its optimizer state does not belong to its spec's optimizer {}",
                spec.optimizer
            )));
        }
        // The spec must describe the model its weights are, so that rebuilding the run allocates
        // no more than the file already holds.
        let fits = match &model {
            SavedModel::Language(saved) => {
                spec.model_config(saved.config.vocab_size).is_ok_and(|config| config == saved.config)
            }
            SavedModel::Seq2Seq(saved) => {
                let (src, tgt) = (saved.config.src_vocab_size, saved.config.tgt_vocab_size);
                spec.is_seq2seq() && spec.seq2seq_config(src, tgt) == saved.config && spec.num_steps == saved.num_steps
            }
        };
        if !fits {
            return Err(broken("its spec describes another model than its weights are"));
        }
        Ok(Self { spec, model, training, changed_data_allowed: false })
    }

    /// Resumes even when the data loaded is not what the run trained on (or when the file does
    /// not record it): the host's explicit choice. The vocabularies must still be the run's.
    pub fn allow_changed_data(mut self) -> Self {
        self.changed_data_allowed = true;
        self
    }

    /// What the run trained on, when the file records it.
    pub fn data(&self) -> Option<&DataFingerprint> {
        self.training.data.as_ref()
    }

    /// Whether `data` is what the run trained on: `Err` with what differs (as
    /// [`EngineError::DataChanged`]) unless [`SavedRun::allow_changed_data`] was asked for.
    pub fn check_data(&self, data: RunData) -> Result<()> {
        if self.changed_data_allowed {
            return Ok(());
        }
        let now = data.fingerprint();
        match &self.training.data {
            Some(saved) if *saved == now => Ok(()),
            Some(saved) => Err(EngineError::DataChanged(format!(
                "the run trained on {} ({saved}), and the data loaded now is {now}",
                self.spec.data
            ))),
            None => Err(EngineError::DataChanged(format!(
                "this checkpoint does not record the data it trained on ({}; saved by an earlier rnnplay)",
                self.spec.data
            ))),
        }
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
        self.check_data(data)?;
        let mut spec = self.spec.clone();
        spec.epochs = epochs;
        let mut session = spec.build(backend, data, options)?;
        // The data is the run's (or the host chose other data): a vocabulary that differs now
        // means other data, or a broken file.
        let changed = |what: &str| {
            match self.changed_data_allowed {
            true => invalid(format!(
                "the data loaded gives {what} other than the saved run's, so its weights cannot go on with it; resume on the run's own data"
            )),
            false => broken(format!("{what} does not match the data it trained on")),
        }
        };
        // The vocabularies the data gives must be the run's: the saved weights index them.
        let fits = match (&self.model, session.language(), session.seq2seq()) {
            (SavedModel::Language(saved), Some(run), _) => same_tokens(&saved.vocab, &run.vocab),
            (SavedModel::Seq2Seq(saved), _, Some(run)) => {
                same_tokens(&saved.src_vocab, &run.data.src_vocab)
                    && same_tokens(&saved.tgt_vocab, &run.data.tgt_vocab)
                    && saved.num_steps == run.data.num_steps
            }
            _ => return Err(broken("its spec and its model are of different kinds")),
        };
        if !fits {
            let what =
                if session.language().is_some() { "a vocabulary" } else { "a vocabulary or the sentence length" };
            return Err(changed(what));
        }
        let (tensors, model_name) = match &self.model {
            SavedModel::Language(saved) => (&saved.tensors, saved.config.model_name()),
            SavedModel::Seq2Seq(saved) => (&saved.tensors, "seq2seq".to_string()),
        };
        load_params(session.params(), tensors, &model_name).map_err(broken)?;
        let valid = self.training.valid_rng.as_deref().map(position).transpose()?;
        let task = session.run.training_mut();
        task.set_streams(position(&self.training.data_rng)?, valid).map_err(broken)?;
        task.restore(&self.training.optimizer.to_state()?, (self.training.steps, done)).map_err(broken)?;
        session.epochs_done = done;
        session.tokens_trained = self.training.tokens_trained;
        session.keep_last_good()?;
        Ok(session)
    }
}

fn same_tokens(a: &Vocab, b: &Vocab) -> bool {
    a.tokens() == b.tokens()
}
