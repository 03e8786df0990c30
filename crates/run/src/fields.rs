//! Every setting of a run, declared once: its key (the [`RunSpec`](super::RunSpec) field, the
//! address's key, the command line's `--key-with-dashes`), its label, its help, how it is
//! entered, which task it means something for and where the page shows it. The spec's text form
//! and `applies`, the command line's flags and help, the page's fields, labels and messages all
//! read this table, so a new setting is a field of `RunSpec`, its default, its check in
//! `validate` and one row here.

use rnnplay_engine::optim::Optimizer;

/// Which kind of run a setting means something for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Both,
    LanguageModel,
    EncoderDecoder,
}

/// How a setting is entered: free text (a number, a schedule) or one of a few words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Choice(&'static [&'static str]),
}

/// The part of the page that shows a setting: the data panel, or the settings panel's model or
/// training half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Data,
    Model,
    Training,
}

/// One setting of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    /// A few words: the page's label, and how messages name the setting.
    pub label: &'static str,
    /// One or two sentences: the command line's help, the page's tooltip.
    pub help: &'static str,
    pub input: Input,
    pub applies: Applies,
    pub panel: Panel,
    /// What a run saved before this setting existed trained with (its spec lacks the key); no
    /// value: such a spec is not a run's.
    pub before: Option<&'static str>,
}

/// The recurrent models, as `model` names them.
pub const MODELS: [&str; 6] = ["rnn-scratch", "rnn", "gru-scratch", "gru", "lstm-scratch", "lstm"];

const fn field(key: &'static str, label: &'static str, help: &'static str, panel: Panel) -> Field {
    Field { key, label, help, input: Input::Text, applies: Applies::Both, panel, before: None }
}

const fn since(mut field: Field, before: &'static str) -> Field {
    field.before = Some(before);
    field
}

const fn only(mut field: Field, applies: Applies) -> Field {
    field.applies = applies;
    field
}

const fn choice(mut field: Field, choices: &'static [&'static str]) -> Field {
    field.input = Input::Choice(choices);
    field
}

use Applies::{EncoderDecoder, LanguageModel};
use Panel::{Data, Model, Training};

/// Every setting, in the order the address lists them.
pub const SETTINGS: [Field; 26] = [
    field(
        "preset",
        "preset",
        "The d2l preset the run starts from (see --list-presets): language models d2l-rnn-scratch, d2l-rnn, \
         d2l-gru-scratch, d2l-gru, d2l-lstm-scratch, d2l-lstm, d2l-deep-lstm, d2l-deep-gru; encoder-decoders \
         d2l-seq2seq, toy-reverse. Default d2l-gru; every other setting overrides it.",
        Model,
    ),
    only(
        choice(
            field(
                "model",
                "model",
                "rnn, gru, lstm (PyTorch-layout layers) or rnn-scratch, gru-scratch, lstm-scratch (d2l's).",
                Model,
            ),
            &MODELS,
        ),
        LanguageModel,
    ),
    field(
        "data",
        "data",
        "Language models: timemachine (from the dataset hub), a UTF-8 text file, or recall-LAG (a generated memory \
         test: a key letter, LAG x's, z, the key again). Encoder-decoders: fra-eng, a \
         toy task (reverse, copy, sort-digits, add: sources of 3 to 5 symbols; reverse-MIN-MAX for other \
         lengths, e.g. reverse-10-10; dates: a date in one of six formats to ISO) or a file of \
         source<TAB>target lines.",
        Data,
    ),
    only(choice(field("tokens", "tokens", "char or word tokens.", Data), &["char", "word"]), LanguageModel),
    only(field("max_tokens", "max tokens", "Keep the first N tokens of the corpus (0: all).", Data), LanguageModel),
    only(
        field(
            "num_examples",
            "number of sentence pairs",
            "Sentence pairs to read (fra-eng, a file) or generate (toy tasks).",
            Training,
        ),
        EncoderDecoder,
    ),
    only(
        field("min_freq", "min freq", "Words rarer than this become <unk> in the vocabularies (d2l: 2).", Training),
        EncoderDecoder,
    ),
    field("hidden", "hidden units", "Hidden units per layer.", Model),
    field("layers", "layers", "Stacked recurrent layers (concise models).", Model),
    field("dropout", "dropout", "Dropout between stacked layers, in [0, 1).", Model),
    field(
        "embedding",
        "embedding width",
        "Embedding width; 0 feeds one-hot vectors (language models; an encoder-decoder needs one).",
        Model,
    ),
    choice(
        field("optimizer", "optimizer", "sgd (d2l's), adam or adamw (Adam with decoupled weight decay).", Training),
        &Optimizer::NAMES,
    ),
    field("lr", "learning rate", "The initial learning rate.", Training),
    field(
        "lr_schedule",
        "learning-rate schedule",
        "none, step:STEP_SIZE:GAMMA (PyTorch's StepLR, per epoch) or cosine[:WARMUP] (linear warm-up epochs, \
         then cosine annealing).",
        Training,
    ),
    field("clip", "clipping θ", "Global-norm clipping threshold θ.", Training),
    field("batch_size", "batch size", "Sequences per minibatch.", Training),
    field(
        "num_steps",
        "num steps",
        "Time steps per minibatch (the truncated-BPTT length); encoder-decoders: the padded sentence length.",
        Training,
    ),
    only(
        choice(
            field(
                "sampling",
                "sampling",
                "sequential (state carried and detached: truncated BPTT) or random (state reset per batch).",
                Training,
            ),
            &["sequential", "random"],
        ),
        LanguageModel,
    ),
    field("epochs", "epochs", "Epochs in all.", Training),
    field("seed", "seed", "Seeds the initial weights, the minibatch order, dropout and generated data.", Training),
    only(
        field(
            "valid_fraction",
            "validation fraction",
            "Hold out this fraction of the tokens (the end of the corpus) and report its perplexity.",
            Training,
        ),
        LanguageModel,
    ),
    only(
        field(
            "scheduled_sampling",
            "scheduled sampling",
            "The probability of feeding the decoder its own previous prediction instead of the true token, rising \
             linearly from 0 in the first epoch to this value in the last (0: teacher forcing, as d2l).",
            Training,
        ),
        EncoderDecoder,
    ),
    since(
        field(
            "weight_decay",
            "weight decay",
            "Weight decay λ (d2l 3.7): sgd and adam add λ·w to each gradient (PyTorch's weight_decay), adamw \
             shrinks the weights by lr·λ·w apart from it (PyTorch's AdamW). 0: none.",
            Training,
        ),
        "0",
    ),
    since(
        only(
            choice(
                field(
                    "attention",
                    "attention",
                    "The decoder's attention over the encoder's outputs (d2l 11.4): none (the encoder's final state \
                     is the context, d2l 10.7), additive (Bahdanau's) or dot (scaled dot product).",
                    Model,
                ),
                &["none", "additive", "dot"],
            ),
            EncoderDecoder,
        ),
        "none",
    ),
    since(
        choice(
            field(
                "bidirectional",
                "bidirectional",
                "yes: every recurrent layer also reads its input from the end (d2l 10.4): the encoder's, whose \
                 outputs then see the whole source; a language model's sees the token it predicts (the \
                 bidirectional lesson shows why that fails). no: one direction.",
                Model,
            ),
            &["no", "yes"],
        ),
        "no",
    ),
    since(
        only(
            field(
                "beam",
                "held-out beam",
                "How the held-out pairs are translated after the last epoch: 1 greedily, more by beam search keeping \
                 this many hypotheses (d2l 10.8, score (1/L^0.75)·log P), for their exact match, BLEU and mean score.",
                Training,
            ),
            EncoderDecoder,
        ),
        "1",
    ),
];

/// The keys of [`SETTINGS`], in order.
pub const KEYS: [&str; SETTINGS.len()] = {
    let mut keys = [""; SETTINGS.len()];
    let mut i = 0;
    while i < SETTINGS.len() {
        keys[i] = SETTINGS[i].key;
        i += 1;
    }
    keys
};

/// The setting called `key`.
pub fn field_of(key: &str) -> Option<&'static Field> {
    SETTINGS.iter().find(|f| f.key == key)
}

/// How messages name the setting `key`: its label (the key itself for an unknown one).
pub fn label(key: &str) -> &str {
    field_of(key).map_or(key, |f| f.label)
}
