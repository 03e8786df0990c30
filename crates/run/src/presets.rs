//! The d2l presets: one per section of the book's recurrent chapters, shared by `rnnplay train`
//! and the web page so that a preset name means the same run in both.

/// A complete d2l setting. All language-model presets use the classic `train_ch8` values:
/// The Time Machine's first 10 000 char tokens, batch 32, 35 steps, sequential partitioning,
/// SGD, θ = 1, 500 epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    /// A model name as `nn::parse_model_name` reads it (`gru`, `rnn-scratch`, …).
    pub model: &'static str,
    pub hidden: usize,
    pub layers: usize,
    pub lr: f32,
    pub optimizer: &'static str,
    pub clip: f32,
    pub batch_size: usize,
    pub num_steps: usize,
    pub epochs: usize,
    /// Tokens kept from the start of the corpus.
    pub max_tokens: usize,
    /// The d2l section it reproduces.
    pub section: &'static str,
}

const fn language_model(
    name: &'static str,
    model: &'static str,
    hidden: usize,
    layers: usize,
    lr: f32,
    section: &'static str,
) -> Preset {
    Preset {
        name,
        model,
        hidden,
        layers,
        lr,
        optimizer: "sgd",
        clip: 1.0,
        batch_size: 32,
        num_steps: 35,
        epochs: 500,
        max_tokens: 10_000,
        section,
    }
}

/// Every preset, in the book's order.
pub const PRESETS: &[Preset] = &[
    language_model("d2l-rnn-scratch", "rnn-scratch", 512, 1, 1.0, "9.5 RNN from scratch"),
    language_model("d2l-rnn", "rnn", 256, 1, 1.0, "9.6 concise RNN"),
    language_model("d2l-gru-scratch", "gru-scratch", 256, 1, 1.0, "10.1 GRU from scratch"),
    language_model("d2l-gru", "gru", 256, 1, 1.0, "10.1 concise GRU"),
    language_model("d2l-lstm-scratch", "lstm-scratch", 256, 1, 1.0, "10.2 LSTM from scratch"),
    language_model("d2l-lstm", "lstm", 256, 1, 1.0, "10.2 concise LSTM"),
    language_model("d2l-deep-lstm", "lstm", 256, 2, 2.0, "10.3 deep RNN (2-layer LSTM, as d2l's classic edition)"),
    language_model("d2l-deep-gru", "gru", 256, 2, 2.0, "10.3 deep RNN (2-layer GRU, as d2l's current edition)"),
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of all presets (language models, then encoder–decoders), comma-separated.
pub fn preset_names() -> String {
    PRESETS.iter().map(|p| p.name).chain(SEQ2SEQ_PRESETS.iter().map(|p| p.name)).collect::<Vec<_>>().join(", ")
}

/// An encoder–decoder setting (d2l's `train_seq2seq` values, or a toy task's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seq2SeqPreset {
    pub name: &'static str,
    /// `fra-eng` or a toy task (`reverse`, `copy`, `sort-digits`, `add`).
    pub data: &'static str,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f32,
    pub batch_size: usize,
    pub num_steps: usize,
    pub lr: f32,
    pub optimizer: &'static str,
    pub clip: f32,
    pub epochs: usize,
    /// Sentence pairs read (fra-eng: d2l's `num_examples`) or generated (toy tasks).
    pub num_examples: usize,
    /// Vocabulary `min_freq`.
    pub min_freq: usize,
    /// The decoder's attention: `none`, `additive` or `dot`.
    pub attention: &'static str,
    pub section: &'static str,
}

/// The encoder–decoder presets.
pub const SEQ2SEQ_PRESETS: &[Seq2SeqPreset] = &[
    Seq2SeqPreset {
        name: "d2l-seq2seq",
        data: "fra-eng",
        embed: 32,
        hidden: 32,
        layers: 2,
        dropout: 0.1,
        batch_size: 64,
        num_steps: 10,
        lr: 0.005,
        optimizer: "adam",
        clip: 1.0,
        epochs: 300,
        num_examples: 600,
        min_freq: 2,
        attention: "none",
        section: "10.7 sequence to sequence learning (English-French)",
    },
    // d2l 11.4's settings (MTFraEng's 512 training pairs, 9 steps; the dropout acts between the
    // GRU layers and on the attention weights, as in d2l).
    Seq2SeqPreset {
        name: "d2l-seq2seq-attention",
        data: "fra-eng",
        embed: 256,
        hidden: 256,
        layers: 2,
        dropout: 0.2,
        batch_size: 128,
        num_steps: 9,
        lr: 0.005,
        optimizer: "adam",
        clip: 1.0,
        epochs: 30,
        num_examples: 512,
        min_freq: 2,
        attention: "additive",
        section: "11.4 the Bahdanau attention mechanism (English-French)",
    },
    // Many fresh examples generalise better than many passes over few: 10 epochs of 20 000
    // pairs reverse 96% of held-out strings exactly (docs/RESULTS.md).
    Seq2SeqPreset {
        name: "toy-reverse",
        data: "reverse",
        embed: 16,
        hidden: 64,
        layers: 1,
        dropout: 0.0,
        batch_size: 64,
        num_steps: 8,
        lr: 0.01,
        optimizer: "adam",
        clip: 1.0,
        epochs: 10,
        num_examples: 20_000,
        min_freq: 1,
        attention: "none",
        section: "toy task: reverse strings of 3-5 letters",
    },
];

/// The encoder–decoder preset called `name`.
pub fn seq2seq_preset(name: &str) -> Option<&'static Seq2SeqPreset> {
    SEQ2SEQ_PRESETS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnnplay_engine::nn::parse_model_name;

    #[test]
    fn every_preset_names_a_known_model_and_d2l_values() {
        for p in PRESETS {
            assert!(parse_model_name(p.model).is_ok(), "{}", p.name);
            assert_eq!((p.batch_size, p.num_steps, p.epochs, p.max_tokens), (32, 35, 500, 10_000));
        }
        assert_eq!(preset("d2l-rnn-scratch").map(|p| p.hidden), Some(512));
        assert!(preset("d2l-transformer").is_none());
    }
}
