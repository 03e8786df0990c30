//! d2l's RNN encoder–decoder (§ "Sequence to Sequence Learning"), with the parameter names of
//! d2l's PyTorch `EncoderDecoder(Seq2SeqEncoder, Seq2SeqDecoder)`:
//!
//! - encoder: `encoder.embedding.weight` (V_src, E), a GRU stack `encoder.rnn.*_l{k}` (input E);
//! - decoder: `decoder.embedding.weight` (V_tgt, E), a GRU stack `decoder.rnn.*_l{k}` whose
//!   input is the embedding concatenated with the context (E + H), `decoder.dense.*` (V_tgt, H).
//!
//! The context is the encoder's last-layer final state, the same at every decoder step; the
//! decoder's state starts as the encoder's final state. Weights of the GRUs and the dense layer
//! are Xavier-uniform (d2l's `xavier_init_weights`); biases keep PyTorch's defaults; embeddings
//! are N(0, 1).
//!
//! With attention it is d2l 11.4's `Seq2SeqAttentionDecoder`: at every step the decoder's
//! top-layer state from the step before queries the encoder's last-layer outputs (masked to the
//! source's valid length), and the context — their weighted sum — is concatenated *before* the
//! embedding (d2l's order here, the reverse of the plain decoder's). Additive scores add
//! `decoder.attention.W_k.weight`, `decoder.attention.W_q.weight` (H, H) and
//! `decoder.attention.w_v.weight` (1, H), Xavier-uniform, without biases; dot scores
//! (d2l's `DotProductAttention`, qᵀk / √H) add nothing. In training the attention weights are
//! dropped out with the model's dropout before the weighted sum, as d2l's attention classes
//! take the decoder's dropout.
//!
//! With a bidirectional encoder (d2l 10.4, PyTorch's `nn.GRU(bidirectional=True)`, adding
//! `encoder.rnn.*_l{k}_reverse`), each encoder layer's output and final state are its two
//! directions' side by side, 2H wide. The decoder is then 2H wide: its state starts as the
//! encoder's, layer by layer (PyTorch's `h_n` regrouped as `cat(h_n[0::2], h_n[1::2], -1)`),
//! as d2l's decoder takes the encoder's state unchanged, and its context, keys and attention
//! projections are 2H wide.

use super::config::CellKind;
use super::recurrent::{layer_vars, push_layer_params, run_stack, Flips, LayerInput, StackShape};
use crate::backend::{AttentionScoring, Backend, Kernel};
use crate::error::{EngineError, Result};
use crate::init::{Init, InitRng};
use crate::ops::Scores;
use crate::param::Param;
use crate::tape::{Tape, Var};
use crate::tensor::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// An encoder–decoder's architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seq2SeqConfig {
    pub src_vocab_size: usize,
    pub tgt_vocab_size: usize,
    pub embed_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    /// Dropout between stacked layers, in training mode.
    pub dropout: f32,
    /// d2l 11.4's attention decoder (`Seq2SeqAttentionDecoder`) with additive or dot-product
    /// scores; none: d2l 10.7's decoder, whose context is the encoder's final state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionScoring>,
    /// A bidirectional encoder: each layer reads the source both ways (see the module's doc).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bidirectional: bool,
}

impl Seq2SeqConfig {
    /// The encoder's directions: 2 when bidirectional, else 1.
    pub fn encoder_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// The decoder's width (its state's, the context's, the keys'): the encoder's output width,
    /// the hidden size times the encoder's directions.
    pub fn decoder_width(&self) -> usize {
        self.encoder_directions() * self.hidden_size
    }

    /// The number of parameter values of the model (see `ModelConfig::param_count`).
    pub fn param_count(&self) -> Option<usize> {
        use super::config::layer_param_count;
        let (e, h, layers) = (self.embed_size, self.hidden_size, self.num_layers);
        let side = |vocab: usize, first_input: usize, hidden: usize, directions: usize| -> Option<usize> {
            let mut total = vocab.checked_mul(e)?;
            let width = hidden.checked_mul(directions)?;
            for layer in 0..layers {
                let one = layer_param_count(3, if layer == 0 { first_input } else { width }, hidden)?;
                total = total.checked_add(one.checked_mul(directions)?)?;
            }
            Some(total)
        };
        let d = h.checked_mul(self.encoder_directions())?;
        let dense = self.tgt_vocab_size.checked_mul(d)?.checked_add(self.tgt_vocab_size)?;
        // Additive attention's W_k and W_q (D × D) and w_v (1 × D), D the decoder's width.
        let attention = match self.attention {
            Some(AttentionScoring::Additive) => d.checked_mul(d)?.checked_mul(2)?.checked_add(d)?,
            Some(AttentionScoring::Dot) | None => 0,
        };
        side(self.src_vocab_size, e, h, self.encoder_directions())?
            .checked_add(side(self.tgt_vocab_size, e.checked_add(d)?, d, 1)?)?
            .checked_add(dense)?
            .checked_add(attention)
    }

    pub fn validate(&self) -> Result<()> {
        use super::config::{check_sizes, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH};
        check_sizes(&[
            ("source vocabulary size", self.src_vocab_size, MAX_VOCAB),
            ("target vocabulary size", self.tgt_vocab_size, MAX_VOCAB),
            ("embedding width", self.embed_size, MAX_WIDTH),
            ("hidden size", self.hidden_size, MAX_WIDTH),
            ("number of layers", self.num_layers, MAX_LAYERS),
        ])?;
        let sizes = [self.src_vocab_size, self.tgt_vocab_size, self.embed_size, self.hidden_size, self.num_layers];
        if sizes.contains(&0) {
            return Err(EngineError::InvalidArgument(format!(
                "vocabulary sizes ({}, {}), embedding ({}), hidden ({}) and layers ({}) must all be at least 1",
                self.src_vocab_size, self.tgt_vocab_size, self.embed_size, self.hidden_size, self.num_layers
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(EngineError::InvalidArgument(format!("dropout {} must be in [0, 1)", self.dropout)));
        }
        Ok(())
    }
}

/// A GRU encoder–decoder.
pub struct Seq2Seq {
    config: Seq2SeqConfig,
    params: Vec<Param>,
    /// The GRU layers run fused (see [`Seq2Seq::set_fused_layers`]).
    fused: std::cell::Cell<bool>,
    /// A bidirectional encoder's step orders.
    flips: Flips,
}

/// (steps, batch) of a u32 id tensor.
fn dims(ids: &Tensor, what: &'static str) -> Result<(usize, usize)> {
    match ids.shape() {
        &[steps, batch] if ids.dtype() == crate::tensor::DType::U32 => Ok((steps, batch)),
        shape => Err(EngineError::ShapeMismatch {
            op: what,
            detail: format!("token ids must be u32 of shape (steps, batch), got {:?} {shape:?}", ids.dtype()),
        }),
    }
}

impl Seq2Seq {
    pub fn new(backend: &Rc<dyn Backend>, config: &Seq2SeqConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = InitRng::new(seed);
        let embed = config.embed_size;
        // The decoder's width, and the encoder's output width.
        let hidden = config.decoder_width();
        let mut params = Vec::new();
        // An embedding (N(0, 1)) and a stack of GRU layers (Xavier-uniform weights) per side.
        let mut side = |prefix: &str, vocab: usize, first_input: usize, directions: usize, rng: &mut InitRng| {
            let name = format!("{prefix}.embedding.weight");
            params.push(Param::new(backend, name, &[vocab, embed], Init::Normal { std: 1.0 }, rng)?);
            for layer in 0..config.num_layers {
                let input = if layer == 0 { first_input } else { hidden };
                for direction in 0..directions {
                    let rnn = format!("{prefix}.rnn");
                    push_layer_params(
                        &mut params,
                        backend,
                        &rnn,
                        (layer, direction == 1),
                        CellKind::Gru,
                        input,
                        hidden / directions,
                        Init::XavierUniform,
                        rng,
                    )?;
                }
            }
            Ok::<(), EngineError>(())
        };
        side("encoder", config.src_vocab_size, embed, config.encoder_directions(), &mut rng)?;
        // The decoder's input is the embedding and the context.
        side("decoder", config.tgt_vocab_size, embed + hidden, 1, &mut rng)?;
        params.push(Param::new(
            backend,
            "decoder.dense.weight",
            &[config.tgt_vocab_size, hidden],
            Init::XavierUniform,
            &mut rng,
        )?);
        let bound = 1.0 / (hidden as f32).sqrt();
        params.push(Param::new(
            backend,
            "decoder.dense.bias",
            &[config.tgt_vocab_size],
            Init::Uniform { low: -bound, high: bound },
            &mut rng,
        )?);
        if config.attention == Some(AttentionScoring::Additive) {
            for (name, rows) in [("W_k", hidden), ("W_q", hidden), ("w_v", 1)] {
                let name = format!("decoder.attention.{name}.weight");
                params.push(Param::new(backend, name, &[rows, hidden], Init::XavierUniform, &mut rng)?);
            }
        }
        Ok(Self { config: config.clone(), params, fused: std::cell::Cell::new(true), flips: Flips::default() })
    }

    /// Chooses how the layers run: fused (the default: one tape node per layer per window, two
    /// dispatches per time step each way, ops/recurrent.rs) or composed from primitive ops, one
    /// node per operation and time step — the oracle the fused kernels are tested against and
    /// the baseline the fused layers' speed-up is measured against. Set from
    /// `EngineOptions::fused_layers`.
    pub fn set_fused_layers(&self, fused: bool) {
        self.fused.set(fused);
    }

    /// Whether the layers run fused.
    pub fn fused_layers(&self) -> bool {
        self.fused.get()
    }

    pub fn config(&self) -> &Seq2SeqConfig {
        &self.config
    }

    /// The parameters: encoder embedding, encoder layers, decoder embedding, decoder layers,
    /// dense weight and bias, and for additive attention W_k, W_q and w_v.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The decoder's stack shape (one direction, the decoder's width).
    fn stack_shape(&self, steps: usize, batch: usize) -> StackShape {
        let c = &self.config;
        StackShape { cell: CellKind::Gru, steps, batch, hidden: c.decoder_width(), dropout: c.dropout, directions: 1 }
    }

    /// The index of the decoder's first parameter (its embedding).
    fn decoder_start(&self) -> usize {
        1 + 4 * self.config.num_layers * self.config.encoder_directions()
    }

    /// Runs the encoder over `src` ids (steps, batch) from a zero state. Returns its final
    /// state (layers, batch, hidden) and what the decoder reads from it: the context, or for
    /// attention the last layer's outputs and the sources' valid lengths `src_valid` (u32,
    /// batch; keys past them are masked).
    pub fn encode(&self, tape: &mut Tape, src: &Tensor, src_valid: &Tensor) -> Result<(Var, Memory<Var>)> {
        let (steps, batch) = dims(src, "seq2seq encoder")?;
        let (layers, directions) = (self.config.num_layers, self.config.encoder_directions());
        let table = tape.param(&self.params[0]);
        let vars: Vec<Var> = self.params[1..self.decoder_start()].iter().map(|p| tape.param(p)).collect();
        let embedded = tape.gather(table, &src.reshape(&[steps * batch])?)?;
        let zeros = Tensor::zeros(tape.backend(), &[layers, batch, self.config.decoder_width()])?;
        let zeros = tape.constant(zeros);
        let shape = StackShape { hidden: self.config.hidden_size, directions, ..self.stack_shape(steps, batch) };
        let (outputs, state) = run_stack(
            tape,
            &layer_vars(&vars, layers * directions),
            LayerInput::Dense(embedded),
            &[zeros],
            shape,
            (self.fused.get(), &self.flips),
        )?;
        let state = state[0];
        let memory = match self.config.attention {
            None => Memory::Context(self.last_layer(tape, state)?),
            Some(scoring) => {
                if src_valid.dtype() != DType::U32 || src_valid.len() != batch {
                    return Err(EngineError::ShapeMismatch {
                        op: "seq2seq encoder",
                        detail: format!("valid lengths must be {batch} u32 values, got {:?}", src_valid.shape()),
                    });
                }
                let keys = match scoring {
                    AttentionScoring::Additive => {
                        let w_k = tape.param(&self.params[self.decoder_start() + 3 + 4 * layers]);
                        Some(tape.matmul_t(outputs, w_k, false, true)?)
                    }
                    AttentionScoring::Dot => None,
                };
                Memory::Attention { values: outputs, keys, valid_lens: src_valid.clone() }
            }
        };
        Ok((state, memory))
    }

    /// The last layer of a state (layers, batch, hidden), (batch, hidden): the plain decoder's
    /// context, and the attention decoder's query.
    fn last_layer(&self, tape: &mut Tape, state: Var) -> Result<Var> {
        let (layers, batch) = (self.config.num_layers, tape.shape(state)[1]);
        let last = tape.slice(state, 0, layers - 1, 1)?;
        tape.reshape(last, &[batch, self.config.decoder_width()])
    }

    /// Runs the decoder over `tgt_in` ids (steps, batch) from `state`, reading `memory` at
    /// every step. Returns logits (steps·batch, V_tgt), time-major, the decoder's new state
    /// and, with attention, the weights of every step (batch, source steps).
    pub fn decode(&self, tape: &mut Tape, tgt_in: &Tensor, state: Var, memory: &Memory<Var>) -> Result<Decoded> {
        let (steps, batch) = dims(tgt_in, "seq2seq decoder")?;
        let layers = self.config.num_layers;
        let start = self.decoder_start();
        let table = tape.param(&self.params[start]);
        let vars: Vec<Var> = self.params[start + 1..start + 1 + 4 * layers].iter().map(|p| tape.param(p)).collect();
        let vars = layer_vars(&vars, layers);
        let (dense_w, dense_b) =
            (tape.param(&self.params[start + 1 + 4 * layers]), tape.param(&self.params[start + 2 + 4 * layers]));
        let embedded = tape.gather(table, &tgt_in.reshape(&[steps * batch])?)?;
        let (top, state, attention) = match memory {
            Memory::Context(context) => {
                let repeated = tape.concat(&vec![*context; steps], 0)?;
                let input = tape.concat(&[embedded, repeated], 1)?;
                let shape = self.stack_shape(steps, batch);
                let (top, state) =
                    run_stack(tape, &vars, LayerInput::Dense(input), &[state], shape, (self.fused.get(), &self.flips))?;
                (top, state[0], Vec::new())
            }
            Memory::Attention { values, keys, valid_lens } => {
                let scores = match keys {
                    Some(keys) => {
                        let w_v = tape.param(&self.params[start + 5 + 4 * layers]);
                        Some((*keys, tape.param(&self.params[start + 4 + 4 * layers]), w_v))
                    }
                    None => None,
                };
                let (mut state, mut tops, mut weights) = (state, Vec::with_capacity(steps), Vec::with_capacity(steps));
                for t in 0..steps {
                    let top = self.last_layer(tape, state)?;
                    let (query, scores) = match scores {
                        Some((keys, w_q, w_v)) => {
                            (tape.matmul_t(top, w_q, false, true)?, Scores::Additive { keys, w_v })
                        }
                        None => (top, Scores::Dot),
                    };
                    let (context, w) = tape.attention(query, *values, scores, valid_lens, self.config.dropout)?;
                    let embedding = tape.slice(embedded, 0, t * batch, batch)?;
                    let input = tape.concat(&[context, embedding], 1)?;
                    let shape = self.stack_shape(1, batch);
                    let (out, new_state) = run_stack(
                        tape,
                        &vars,
                        LayerInput::Dense(input),
                        &[state],
                        shape,
                        (self.fused.get(), &self.flips),
                    )?;
                    tops.push(out);
                    weights.push(w);
                    state = new_state[0];
                }
                (tape.concat(&tops, 0)?, state, weights)
            }
        };
        let logits = tape.matmul_t(top, dense_w, false, true)?;
        Ok(Decoded { logits: tape.add_bias(logits, dense_b)?, state, attention })
    }

    /// Scheduled sampling: the decoder runs one step at a time; step 0 reads `step_inputs[0]`
    /// (`<bos>`), and step t ≥ 1 reads, per sequence, the model's own most likely token from
    /// step t − 1 where `step_coins[t]` is non-zero, else the true `step_inputs[t]`. The choice
    /// is made on the device, so the step needs no read-back; no gradient flows through it.
    /// `step_inputs` are u32 (1, batch) tensors, `step_coins` u32 (batch) tensors, one per step.
    pub fn forward_scheduled(
        &self,
        tape: &mut Tape,
        src: &Tensor,
        src_valid: &Tensor,
        step_inputs: &[Tensor],
        step_coins: &[Tensor],
    ) -> Result<Var> {
        if step_inputs.is_empty() || step_inputs.len() != step_coins.len() {
            return Err(EngineError::ShapeMismatch {
                op: "seq2seq scheduled sampling",
                detail: format!("{} step inputs and {} coin vectors", step_inputs.len(), step_coins.len()),
            });
        }
        let batch = dims(&step_inputs[0], "seq2seq scheduled sampling")?.1;
        let (mut state, memory) = self.encode(tape, src, src_valid)?;
        let mut outputs: Vec<Var> = Vec::with_capacity(step_inputs.len());
        for (t, truth) in step_inputs.iter().enumerate() {
            let ids = match outputs.last() {
                None => truth.clone(),
                Some(&previous) => {
                    // PickTokens writes every row.
                    let picked = Tensor::uninit(tape.backend(), &[1, batch], DType::U32)?;
                    tape.run(Kernel::PickTokens {
                        logits: tape.value(previous).id(),
                        truth: truth.id(),
                        coins: step_coins[t].id(),
                        out: picked.id(),
                        rows: batch,
                        classes: self.config.tgt_vocab_size,
                    })?;
                    picked
                }
            };
            let decoded = self.decode(tape, &ids, state, &memory)?;
            outputs.push(decoded.logits);
            state = decoded.state;
        }
        tape.concat(&outputs, 0)
    }

    /// Teacher forcing: logits for every target position given the true previous tokens
    /// (`tgt_in` is `<bos>` followed by the target without its last token).
    pub fn forward(&self, tape: &mut Tape, src: &Tensor, src_valid: &Tensor, tgt_in: &Tensor) -> Result<Var> {
        let (state, memory) = self.encode(tape, src, src_valid)?;
        Ok(self.decode(tape, tgt_in, state, &memory)?.logits)
    }
}

/// What one decoder run computed.
pub struct Decoded {
    /// (steps·batch, V_tgt), time-major.
    pub logits: Var,
    /// The decoder's state after the last step, (layers, batch, hidden).
    pub state: Var,
    /// With attention, each step's weights over the source, (batch, source steps).
    pub attention: Vec<Tensor>,
}

/// What the decoder reads from the encoder at every step, besides its state: values on a tape
/// (`Memory<Var>`), or cut from it (`Memory<Tensor>`) to decode one step per tape.
#[derive(Clone)]
pub enum Memory<T> {
    /// The plain decoder's context: the encoder's last-layer final state, (batch, hidden).
    Context(T),
    /// The attention decoder's values — the encoder's last-layer outputs, (source steps·batch,
    /// hidden), time-major — additive scores' projected keys W_k·values, and the sources' valid
    /// lengths (u32, batch).
    Attention { values: T, keys: Option<T>, valid_lens: Tensor },
}

impl Memory<Var> {
    /// The memory as plain tensors, cut from the tape.
    pub fn detach(&self, tape: &Tape) -> Memory<Tensor> {
        match self {
            Memory::Context(c) => Memory::Context(tape.detach(*c)),
            Memory::Attention { values, keys, valid_lens } => Memory::Attention {
                values: tape.detach(*values),
                keys: keys.map(|k| tape.detach(k)),
                valid_lens: valid_lens.clone(),
            },
        }
    }
}

impl Memory<Tensor> {
    /// The memory as constants of `tape`.
    pub fn on(&self, tape: &mut Tape) -> Memory<Var> {
        match self {
            Memory::Context(c) => Memory::Context(tape.constant(c.clone())),
            Memory::Attention { values, keys, valid_lens } => Memory::Attention {
                values: tape.constant(values.clone()),
                keys: keys.as_ref().map(|k| tape.constant(k.clone())),
                valid_lens: valid_lens.clone(),
            },
        }
    }

    /// The memory of one sequence whose valid length is `valid`, repeated for `copies`
    /// sequences (the hypotheses of a beam).
    pub fn repeat(&self, copies: usize, valid: u32) -> Result<Memory<Tensor>> {
        if let Memory::Attention { valid_lens, .. } = self {
            if valid_lens.len() != 1 {
                return Err(EngineError::InvalidArgument(format!(
                    "only one sequence's memory repeats, not {}",
                    valid_lens.len()
                )));
            }
        }
        let one = |t: &Tensor| -> Result<Tensor> {
            let backend = t.backend().clone();
            let mut tape = Tape::new(&backend, 0);
            let (rows, width) = (t.shape()[0], t.shape()[1]);
            let x = tape.constant(t.clone());
            // Rows (steps, width) side by side: (steps, copies·width) is (steps·copies, width)
            // time-major, each step's row once per copy.
            let wide = tape.concat(&vec![x; copies], 1)?;
            let tall = tape.reshape(wide, &[rows * copies, width])?;
            Ok(tape.detach(tall))
        };
        Ok(match self {
            Memory::Context(c) => Memory::Context(one(c)?),
            Memory::Attention { values, keys, valid_lens } => Memory::Attention {
                values: one(values)?,
                keys: keys.as_ref().map(one).transpose()?,
                valid_lens: Tensor::from_u32(valid_lens.backend(), &[copies], &vec![valid; copies])?,
            },
        })
    }
}
