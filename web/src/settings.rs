//! Everything that defines a run on the page, and its URL form: `?preset=d2l-gru&hidden=64…`.
//! A link reproduces a setup because the page is built from this value alone.

use rnnplay_data::{Sampling, TokenKind};
use rnnplay_engine::nn::{parse_model_name, ModelConfig};
use rnnplay_engine::presets::{preset, preset_names, seq2seq_preset, Preset, Seq2SeqPreset};

/// The page's run settings (plain values, so they live in signals and in the URL).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub preset: String,
    /// `rnn`, `gru`, `lstm` or `rnn-scratch`, `gru-scratch`, `lstm-scratch`.
    pub model: String,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f32,
    /// Embedding width; 0 feeds one-hot vectors.
    pub embedding: usize,
    pub optimizer: String,
    pub lr: f32,
    pub clip: f32,
    pub batch_size: usize,
    pub num_steps: usize,
    /// `sequential` or `random`.
    pub sampling: String,
    pub epochs: usize,
    /// Tokens kept from the start of the corpus; 0 keeps all.
    pub max_tokens: usize,
    /// `char` or `word`.
    pub tokens: String,
    pub seed: u64,
    /// Language models: `timemachine` or `custom` (pasted or uploaded text, which stays out of
    /// the URL). Encoder–decoders: `fra-eng` or a toy task (`reverse`, `copy`, `sort-digits`,
    /// `add`).
    pub dataset: String,
    /// Encoder–decoders: sentence pairs read (fra-eng) or generated (toy tasks).
    pub num_examples: usize,
    /// Encoder–decoders: the final scheduled-sampling probability (0: teacher forcing).
    pub scheduled_sampling: f32,
}

impl Settings {
    pub fn from_preset(p: &Preset) -> Self {
        Self {
            preset: p.name.into(),
            model: p.model.into(),
            hidden: p.hidden,
            layers: p.layers,
            dropout: 0.0,
            embedding: 0,
            optimizer: p.optimizer.into(),
            lr: p.lr,
            clip: p.clip,
            batch_size: p.batch_size,
            num_steps: p.num_steps,
            sampling: "sequential".into(),
            epochs: p.epochs,
            max_tokens: p.max_tokens,
            tokens: "char".into(),
            seed: 0,
            dataset: "timemachine".into(),
            num_examples: 0,
            scheduled_sampling: 0.0,
        }
    }

    /// An encoder–decoder preset: `embedding` is the embedding width; `model` is `seq2seq`.
    pub fn from_seq2seq_preset(p: &Seq2SeqPreset) -> Self {
        Self {
            preset: p.name.into(),
            model: "seq2seq".into(),
            hidden: p.hidden,
            layers: p.layers,
            dropout: p.dropout,
            embedding: p.embed,
            optimizer: p.optimizer.into(),
            lr: p.lr,
            clip: p.clip,
            batch_size: p.batch_size,
            num_steps: p.num_steps,
            sampling: "random".into(),
            epochs: p.epochs,
            max_tokens: 0,
            tokens: "word".into(),
            seed: 0,
            dataset: p.data.into(),
            num_examples: p.num_examples,
            scheduled_sampling: 0.0,
        }
    }

    /// The settings of the preset called `name`, of either kind.
    pub fn from_preset_name(name: &str) -> Option<Self> {
        preset(name).map(Self::from_preset).or_else(|| seq2seq_preset(name).map(Self::from_seq2seq_preset))
    }

    /// True for an encoder–decoder run.
    pub fn is_seq2seq(&self) -> bool {
        self.model == "seq2seq"
    }

    /// The page's default: d2l's concise GRU.
    pub fn default_preset() -> Self {
        Self::from_preset(preset("d2l-gru").expect("invariant: the d2l-gru preset exists"))
    }

    /// Every field as (key, value), in a fixed order.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("preset", self.preset.clone()),
            ("model", self.model.clone()),
            ("hidden", self.hidden.to_string()),
            ("layers", self.layers.to_string()),
            ("dropout", self.dropout.to_string()),
            ("embedding", self.embedding.to_string()),
            ("optimizer", self.optimizer.clone()),
            ("lr", self.lr.to_string()),
            ("clip", self.clip.to_string()),
            ("batch_size", self.batch_size.to_string()),
            ("num_steps", self.num_steps.to_string()),
            ("sampling", self.sampling.clone()),
            ("epochs", self.epochs.to_string()),
            ("max_tokens", self.max_tokens.to_string()),
            ("tokens", self.tokens.clone()),
            ("seed", self.seed.to_string()),
            ("dataset", self.dataset.clone()),
            ("num_examples", self.num_examples.to_string()),
            ("scheduled_sampling", self.scheduled_sampling.to_string()),
        ]
    }

    /// One field's text form.
    pub fn get(&self, key: &str) -> String {
        self.pairs().into_iter().find(|(k, _)| *k == key).map(|(_, v)| v).unwrap_or_default()
    }

    /// `?key=value&…` (values are plain words and numbers; nothing needs escaping).
    pub fn to_query(&self) -> String {
        let parts: Vec<String> = self.pairs().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("?{}", parts.join("&"))
    }

    /// Reads a query string: the preset it names (or the default), then every other key on
    /// top. An unknown key or a value that does not parse is an error naming it; the benchmark
    /// mode's keys (`bench`, `bench_presets`, …) and empty queries are fine.
    pub fn from_query(query: &str) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = query
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        let mut settings = match pairs.iter().find(|(k, _)| k == "preset") {
            Some((_, name)) => Self::from_preset_name(name)
                .ok_or_else(|| format!("unknown preset '{name}' in the URL; use one of {}", preset_names()))?,
            None => Self::default_preset(),
        };
        for (key, value) in &pairs {
            settings.set(key, value)?;
        }
        Ok(settings)
    }

    /// Sets one field from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
            value.trim().parse().map_err(|_| format!("'{value}' is not a valid number for {key}"))
        }
        match key {
            "preset" => {}
            "model" => self.model = value.into(),
            "hidden" => self.hidden = number(key, value)?,
            "layers" => self.layers = number(key, value)?,
            "dropout" => self.dropout = number(key, value)?,
            "embedding" => self.embedding = number(key, value)?,
            "optimizer" => self.optimizer = value.into(),
            "lr" => self.lr = number(key, value)?,
            "clip" => self.clip = number(key, value)?,
            "batch_size" => self.batch_size = number(key, value)?,
            "num_steps" => self.num_steps = number(key, value)?,
            "sampling" => self.sampling = value.into(),
            "epochs" => self.epochs = number(key, value)?,
            "max_tokens" => self.max_tokens = number(key, value)?,
            "tokens" => self.tokens = value.into(),
            "seed" => self.seed = number(key, value)?,
            "dataset" => self.dataset = value.into(),
            "num_examples" => self.num_examples = number(key, value)?,
            "scheduled_sampling" => {
                let p: f32 = number(key, value)?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("scheduled sampling {p} must be a probability in [0, 1]"));
                }
                self.scheduled_sampling = p;
            }
            key if crate::bench_options::KEYS.contains(&key) => {}
            other => return Err(format!("unknown setting '{other}' in the URL")),
        }
        Ok(())
    }

    /// The model's architecture for a corpus of `vocab_size` tokens, checked.
    pub fn model_config(&self, vocab_size: usize) -> Result<ModelConfig, String> {
        let (cell, scratch) = parse_model_name(&self.model).map_err(|e| e.to_string())?;
        let mut config = ModelConfig::new(cell, scratch, vocab_size, self.hidden);
        config.num_layers = self.layers;
        config.dropout = self.dropout;
        config.embedding_dim = (self.embedding > 0).then_some(self.embedding);
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// Takes the architecture and tokenizer of a loaded model, keeping the training values.
    pub fn adopt_model(&mut self, config: &ModelConfig, tokens: TokenKind) {
        self.model = config.model_name();
        self.hidden = config.hidden_size;
        self.layers = config.num_layers;
        self.dropout = config.dropout;
        self.embedding = config.embedding_dim.unwrap_or(0);
        self.tokens = tokens.name().into();
    }

    pub fn sampling(&self) -> Result<Sampling, String> {
        Sampling::parse(&self.sampling).map_err(|e| e.to_string())
    }

    pub fn token_kind(&self) -> Result<TokenKind, String> {
        TokenKind::parse(&self.tokens).map_err(|e| e.to_string())
    }

    /// Checks the training values that the model config does not cover.
    pub fn check_training(&self) -> Result<(), String> {
        for (name, value) in [("batch size", self.batch_size), ("num steps", self.num_steps), ("epochs", self.epochs)] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("learning rate {} must be a positive number", self.lr));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(format!("clipping θ {} must be a positive number", self.clip));
        }
        if self.is_seq2seq() {
            if self.num_examples == 0 || self.hidden == 0 || self.layers == 0 || self.embedding == 0 {
                return Err("examples, hidden units, layers and embedding width must be at least 1".into());
            }
            if !(0.0..1.0).contains(&self.dropout) {
                return Err(format!("dropout {} must be in [0, 1)", self.dropout));
            }
            return Ok(());
        }
        self.sampling()?;
        self.token_kind()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_and_starts_from_its_preset() {
        let mut settings = Settings::from_query("?preset=d2l-lstm").unwrap();
        assert_eq!((settings.model.as_str(), settings.hidden), ("lstm", 256));
        settings.hidden = 64;
        settings.lr = 0.5;
        settings.sampling = "random".into();
        assert_eq!(Settings::from_query(&settings.to_query()).unwrap(), settings);
        let defaults = Settings::from_query("").unwrap();
        assert_eq!(defaults, Settings::default_preset());
        assert_eq!(Settings::from_query("?hidden=32&epochs=3").unwrap().hidden, 32);
    }

    #[test]
    fn a_bad_query_names_the_problem() {
        let err = Settings::from_query("?preset=d2l-transformer").unwrap_err();
        assert!(err.contains("unknown preset 'd2l-transformer'"), "{err}");
        let err = Settings::from_query("?hidden=lots").unwrap_err();
        assert!(err.contains("'lots' is not a valid number for hidden"), "{err}");
        let err = Settings::from_query("?colour=blue").unwrap_err();
        assert!(err.contains("unknown setting 'colour'"), "{err}");
    }

    #[test]
    fn a_loaded_model_sets_the_architecture_and_keeps_the_training_values() {
        let mut settings = Settings::default_preset();
        settings.lr = 0.25;
        let mut config = ModelConfig::new(rnnplay_engine::nn::CellKind::Lstm, false, 28, 24);
        config.num_layers = 2;
        config.embedding_dim = Some(8);
        settings.adopt_model(&config, TokenKind::Word);
        assert_eq!((settings.model.as_str(), settings.hidden, settings.layers, settings.embedding), ("lstm", 24, 2, 8));
        assert_eq!((settings.tokens.as_str(), settings.lr), ("word", 0.25));
        assert_eq!(settings.model_config(28).unwrap(), config);
    }

    #[test]
    fn seq2seq_presets_round_trip_through_the_url() {
        let mut settings = Settings::from_query("?preset=toy-reverse&num_examples=500").unwrap();
        assert!(settings.is_seq2seq());
        assert_eq!((settings.dataset.as_str(), settings.num_examples, settings.hidden), ("reverse", 500, 64));
        settings.scheduled_sampling = 0.25;
        assert_eq!(Settings::from_query(&settings.to_query()).unwrap(), settings);
        assert!(settings.check_training().is_ok());
        assert!(Settings::from_query("?preset=d2l-seq2seq&scheduled_sampling=2").unwrap_err().contains("probability"));
        assert!(!Settings::default_preset().is_seq2seq());
    }

    #[test]
    fn training_values_and_models_are_checked() {
        let mut settings = Settings::default_preset();
        assert!(settings.check_training().is_ok());
        settings.lr = f32::NAN;
        assert!(settings.check_training().unwrap_err().contains("learning rate"));
        settings = Settings::default_preset();
        settings.model = "gru-scratch".into();
        settings.layers = 2;
        assert!(settings.model_config(28).unwrap_err().contains("one-layer scratch model"));
        settings.model = "transformer".into();
        assert!(settings.model_config(28).unwrap_err().contains("unknown model"));
    }
}
