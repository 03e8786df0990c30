//! The encoder–decoder on the page: a run over fra-eng or a toy task, its table of example
//! sentences (teacher-forced vs free-running, with BLEU) and the translation of any sentence.

use crate::browser;
use crate::run::{EpochReport, Job, Ui};
use crate::settings::Settings;
use leptos::prelude::*;
use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{bleu, preprocess_nmt, read_fra_eng, tokenize_nmt, PairDataset};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::nn::{Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::session::Seq2SeqSession;
use rnnplay_engine::train::Optimizer;
use rnnplay_engine::translate::{encode_source, teacher_forced_reference, translate, Seq2SeqTrainer};
use rnnplay_engine::Seq2SeqCheckpoint;
use std::rc::Rc;

/// d2l's example sentences and their references.
const D2L_EXAMPLES: [(&str, &str); 4] = [
    ("go .", "va !"),
    ("i lost .", "j'ai perdu ."),
    ("he's calm .", "il est calme ."),
    ("i'm home .", "je suis chez moi ."),
];

/// One example: the model's free-running translation with its BLEU, and the teacher-forced view
/// of the reference (each token with the probability the model gave it and its top guess).
#[derive(Debug, Clone, PartialEq)]
pub struct TranslationRow {
    pub src: String,
    pub reference: String,
    pub free_running: String,
    pub bleu: f64,
    /// (reference token or `<eos>`, p(token), the model's top guess there).
    pub teacher_forced: Vec<(String, f32, String)>,
}

/// An encoder–decoder run: everything its loop owns.
pub struct Seq2SeqRun {
    session: Seq2SeqSession,
    examples: Vec<(String, String)>,
    epochs: usize,
    scheduled_sampling: f32,
    seed: u64,
}

impl Seq2SeqRun {
    /// Builds a run from the settings; `fra_eng_zip` holds d2l's archive when the data is
    /// fra-eng (the page fetched and sha1-checked it).
    pub fn build(settings: &Settings, fra_eng_zip: Option<&[u8]>, backend: &Rc<dyn Backend>) -> Result<Self, String> {
        settings.check_training()?;
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (pairs, examples, min_freq) = if settings.dataset == "fra-eng" {
            let zip = fra_eng_zip.ok_or("fra-eng.zip is not loaded")?;
            let text = preprocess_nmt(&read_fra_eng(zip).map_err(|e| err(&e))?);
            let pairs = tokenize_nmt(&text, Some(settings.num_examples));
            let examples = D2L_EXAMPLES.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect();
            (pairs, examples, 2)
        } else {
            let task = ToyTask::parse(&settings.dataset).map_err(|e| err(&e))?;
            let pairs = task.pairs(settings.num_examples, 3, 5, settings.seed, &[]).map_err(|e| err(&e))?;
            let held_out = task.pairs(4, 3, 5, settings.seed.wrapping_add(1_000_003), &pairs).map_err(|e| err(&e))?;
            let examples = held_out.iter().map(|(s, t)| (s.join(" "), t.join(" "))).collect();
            (pairs, examples, 1)
        };
        let data = PairDataset::new(&pairs, settings.num_steps, min_freq).map_err(|e| err(&e))?;
        let config = Seq2SeqConfig {
            src_vocab_size: data.src_vocab.len(),
            tgt_vocab_size: data.tgt_vocab.len(),
            embed_size: settings.embedding.max(1),
            hidden_size: settings.hidden,
            num_layers: settings.layers,
            dropout: settings.dropout,
        };
        let model = Seq2Seq::new(backend, &config, settings.seed).map_err(|e| err(&e))?;
        let optimizer = Optimizer::by_name(&settings.optimizer, settings.lr).map_err(|e| err(&e))?;
        let trainer = Seq2SeqTrainer::new(backend, optimizer, settings.clip).map_err(|e| err(&e))?;
        Ok(Self {
            session: Seq2SeqSession::new(model, trainer, data, settings.batch_size, settings.seed),
            examples,
            epochs: settings.epochs,
            scheduled_sampling: settings.scheduled_sampling,
            seed: settings.seed,
        })
    }

    async fn row(&self, src: &str, reference: &str) -> Result<TranslationRow, String> {
        let (model, data) = (self.session.model(), self.session.data());
        let err = |e: rnnplay_engine::EngineError| e.to_string();
        let source = encode_source(&data.src_vocab, src, data.num_steps);
        let ids = translate(model, &data.tgt_vocab, &source.ids, data.num_steps).await.map_err(err)?;
        let free_running = ids.iter().map(|&i| data.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
        let reference_ids: Vec<u32> = reference.split(' ').map(|t| data.tgt_vocab.index(t)).collect();
        let forced =
            teacher_forced_reference(model, &data.tgt_vocab, &source.ids, &reference_ids).await.map_err(err)?;
        Ok(TranslationRow {
            src: src.to_string(),
            reference: reference.to_string(),
            bleu: bleu(&free_running, reference, 2),
            free_running,
            teacher_forced: forced
                .iter()
                .map(|&(truth, top, p)| {
                    (data.tgt_vocab.token(truth).to_string(), p, data.tgt_vocab.token(top).to_string())
                })
                .collect(),
        })
    }
}

impl Job for Seq2SeqRun {
    async fn step(&mut self) -> Result<Option<EpochReport>, String> {
        Ok(self.session.step().await.map_err(|e| e.to_string())?.map(|m| EpochReport {
            value: m.per_token_ce,
            grad_norm: m.grad_norm,
            tokens: m.tokens,
            batches: m.batches,
        }))
    }

    fn epochs_done(&self) -> usize {
        self.session.epochs_done()
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn epoch_progress(&self) -> (usize, usize) {
        self.session.epoch_progress()
    }

    /// The linear scheduled-sampling schedule of `rnnplay train`: 0 in the first epoch, the
    /// setting's value in the last.
    fn before_epoch(&mut self) -> Result<(), String> {
        let epoch = self.session.epochs_done() + 1;
        let probability = self.scheduled_sampling * (epoch - 1) as f32 / (self.epochs - 1).max(1) as f32;
        self.session
            .trainer_mut()
            .set_scheduled_sampling(probability, self.seed.wrapping_add(epoch as u64))
            .map_err(|e| e.to_string())
    }

    async fn predict(&self, ui: Ui) -> Result<(), String> {
        let mut rows = Vec::with_capacity(self.examples.len());
        for (src, reference) in &self.examples {
            rows.push(self.row(src, reference).await?);
        }
        ui.translations.set(Some(rows));
        let sentence = preprocess_nmt(ui.sentence.get_untracked().trim());
        let data = self.session.data();
        let translation = if sentence.trim().is_empty() {
            String::new()
        } else {
            let source = encode_source(&data.src_vocab, &sentence, data.num_steps);
            let ids = translate(self.session.model(), &data.tgt_vocab, &source.ids, data.num_steps)
                .await
                .map_err(|e| e.to_string())?;
            let translated = ids.iter().map(|&i| data.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
            let mut text = format!("{sentence} ⇒ {translated}");
            if !source.unknown.is_empty() {
                text.push_str(&format!("   (unknown words fed as <unk>: {})", source.unknown.join(", ")));
            }
            if source.truncated > 0 {
                text.push_str(&format!("   ({} token(s) cut to fit {} steps)", source.truncated, data.num_steps));
            }
            text
        };
        ui.sentence_translation.set(translation);
        Ok(())
    }

    async fn save(&self) -> Result<(), String> {
        let data = self.session.data();
        let mut checkpoint =
            Seq2SeqCheckpoint::capture(self.session.model(), &data.src_vocab, &data.tgt_vocab, data.num_steps)
                .await
                .map_err(|e| e.to_string())?;
        checkpoint.extra.insert("epochs".into(), self.session.epochs_done().to_string());
        let bytes = checkpoint.to_bytes().map_err(|e| e.to_string())?;
        browser::download("rnnplay-seq2seq.safetensors", &bytes)
    }
}
