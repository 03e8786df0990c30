//! Every view of a run, declared once. Above: the values the views show (plain Rust, tested
//! natively; the worker sends them to the page as JSON). At the end: the `declare_views!` list
//! of each view's name and value, from which `view_signals` makes the page's signals
//! (`Views`), the worker's reports (`ViewValue`), the page's intake of them and a marker type
//! per view (`view::<name>`), on which the view's component implements `ComputeView`: when the
//! view is computed, and how.
//!
//! Adding a view takes three files: its value here and its line in the list; its component and
//! its `ComputeView` in a file of its own under the panel that shows it
//! (`components/<panel>/<view>.rs`, as `charts_panel/reach_chart.rs`); and its place in
//! that panel (`components/<panel>.rs`, which also declares the file as its module).

use rnnplay_data::TokenKind;
use rnnplay_engine::inspect::{Candidate, CellVector, Signal};
use rnnplay_engine::translate::TranslationExample;
use serde::{Deserialize, Serialize};

/// The gradient's reach chart: for k = 0 … num_steps − 1, the batch-mean ‖∂ℓ_T/∂h_{T−k}‖ of
/// the last prediction of each window of a fixed batch (`EpochReport::reach`) — after the run's
/// first epoch (for contrast) and after the latest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reach {
    /// The run's first epoch (after a resumed checkpoint's, not epoch 1).
    pub first: Vec<f32>,
    pub first_epoch: usize,
    pub last: Vec<f32>,
    pub last_epoch: usize,
}

/// One signal of the inspection view (h, c or a gate of one layer), (steps, hidden) values
/// quantized for the trip from the worker: value = q / 127 · scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalView {
    pub layer: usize,
    pub name: String,
    pub scale: f32,
    /// As base64 on the trip: an inspection holds some 100 000 of them, which as a JSON array
    /// of numbers took the page's thread 15 ms to parse at each epoch's end.
    #[serde(with = "crate::wire::base64_i8")]
    pub q: Vec<i8>,
}

impl SignalView {
    pub fn new(signal: &Signal) -> Self {
        let scale = signal.values.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let q = signal.values.iter().map(|v| (v / scale * 127.0).round().clamp(-127.0, 127.0) as i8).collect();
        Self { layer: signal.layer, name: signal.name.clone(), scale, q }
    }

    /// The value a quantized entry stands for.
    pub fn dequantize(&self, q: i8) -> f32 {
        f32::from(q) / 127.0 * self.scale
    }

    /// Whether every value is ≥ 0 (a sigmoid gate): the view's colour scale is then 0..1.
    pub fn non_negative(&self) -> bool {
        self.q.iter().all(|&q| q >= 0)
    }
}

/// The most likely next tokens at one position, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextView {
    pub tokens: Vec<String>,
    pub logits: Vec<f32>,
    pub p: Vec<f32>,
}

/// What the model computes over the passage of the teacher-forced view
/// (`rnnplay_engine::inspect::inspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InspectView {
    pub epoch: usize,
    pub tokens: Vec<String>,
    pub layers: usize,
    pub hidden: usize,
    pub signals: Vec<SignalView>,
    pub next: Vec<NextView>,
}

/// Next-token candidates kept per position for the page (bars and temperature).
const CANDIDATES_SHOWN: usize = 32;

impl InspectView {
    /// An inspection over `tokens` as the page carries it: the signals quantized, at most
    /// [`CANDIDATES_SHOWN`] candidates per position, ids spelled by `token`.
    pub fn new(
        epoch: usize,
        tokens: &[u32],
        (layers, hidden): (usize, usize),
        signals: &[Signal],
        next: &[Vec<Candidate>],
        token: &dyn Fn(u32) -> String,
    ) -> Self {
        InspectView {
            epoch,
            tokens: tokens.iter().map(|&id| token(id)).collect(),
            layers,
            hidden,
            signals: signals.iter().map(SignalView::new).collect(),
            next: next
                .iter()
                .map(|candidates| {
                    let shown = &candidates[..candidates.len().min(CANDIDATES_SHOWN)];
                    NextView {
                        tokens: shown.iter().map(|c| token(c.token)).collect(),
                        logits: shown.iter().map(|c| c.logit).collect(),
                        p: shown.iter().map(|c| c.p).collect(),
                    }
                })
                .collect(),
        }
    }

    pub fn signal(&self, layer: usize, name: &str) -> Option<&SignalView> {
        self.signals.iter().find(|s| s.layer == layer && s.name == name)
    }

    /// The value of `unit` of `signal` after token `t`.
    pub fn value(&self, signal: &SignalView, t: usize, unit: usize) -> f32 {
        signal.q.get(t * self.hidden + unit).map_or(0.0, |&q| signal.dequantize(q))
    }

    /// The units ordered by how much they vary over the passage, largest first
    /// (`rnnplay_engine::inspect::units_by_variance` on the dequantized values).
    pub fn units_by_variance(&self, signal: &SignalView) -> Vec<usize> {
        let values: Vec<f32> = signal.q.iter().map(|&q| signal.dequantize(q)).collect();
        rnnplay_engine::inspect::units_by_variance(&values, self.hidden)
    }
}

/// How far back the prediction at one position of the passage reaches
/// (`rnnplay_engine::inspect::connectivity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectView {
    pub epoch: usize,
    pub position: usize,
    pub target: String,
    pub target_is_truth: bool,
    pub saliency_x: Vec<f32>,
    pub reach: usize,
}

/// Inside an encoder–decoder, for the sentence of the translate box teacher-forced on the
/// model's own translation (`rnnplay_engine::inspect::translation`): the encoder over the
/// source, the decoder over the target (with the next-word candidates), and for a picked
/// target position how much each source word matters to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranslationView {
    pub epoch: usize,
    pub encoder: InspectView,
    pub decoder: InspectView,
    /// The true next word at each target position (the translation, then `<eos>`).
    pub labels: Vec<String>,
    /// The picked target position and ‖∂ loss / ∂ source embedding‖ per source word.
    pub position: Option<usize>,
    pub saliency: Vec<f32>,
}

/// One step of the top layer's cell at the picked position (`Inspection::cell_step`, the
/// numbers `rnnplay inspect --cell` prints), each vector with its equation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellView {
    pub epoch: usize,
    pub position: usize,
    /// 0-based.
    pub layer: usize,
    /// The model's name (`gru`, `rnn-scratch`, …).
    pub model: String,
    /// The token read at the position.
    pub input: String,
    pub vectors: Vec<CellVector>,
    /// One per vector, in the same order.
    pub equations: Vec<String>,
}

/// One position of the teacher-forced view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcedToken {
    pub truth: String,
    pub predicted: String,
    pub p_truth: f32,
}

/// What the model says now, both ways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    pub epoch: usize,
    /// The passage's first token, which both views start from.
    pub first: String,
    pub forced: Vec<ForcedToken>,
    pub forced_perplexity: f32,
    pub forced_accuracy: f32,
    /// The model feeding itself from the passage's first token, as long as the passage.
    pub passage_free_running: Vec<String>,
    /// The free-running continuation of the user's prefix.
    pub continuation: String,
    /// Tokens of the prefix outside the vocabulary (fed as `<unk>`).
    pub unknown: Vec<String>,
}

/// Tokens in the passage the language model's views show (teacher-forced and inside).
pub fn passage_len(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Char => 120,
        TokenKind::Word => 30,
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::view_signals::ViewContext<'_> {
    /// A language model's run and the passage its views show ([`passage_len`] tokens
    /// of the corpus's start); `None` for an encoder–decoder.
    pub fn passage(&self) -> Option<(&rnnplay_run::LanguageRun, &[u32])> {
        let run = self.session.language()?;
        Some((run, run.passage(passage_len(run.token_kind))))
    }

    /// The passage with the position picked in it, when one is.
    pub fn picked(&self) -> Option<(&rnnplay_run::LanguageRun, &[u32], usize)> {
        let (run, passage) = self.passage()?;
        let position = self.position.filter(|&p| p < passage.len())?;
        Some((run, passage, position))
    }

    /// The translate box's sentence as the encoder reads it, and its translation as the page
    /// asks for it (beam size, length penalty, forced start); `None` for a language model or an
    /// empty box. The translation's view and the view inside the encoder–decoder both read it;
    /// the search runs once per refresh (`ViewContext::searched`).
    pub async fn translate_box(&self) -> Result<Option<TranslateBox<'_>>, String> {
        use rnnplay_engine::beam::{beam_search, BeamSettings};
        let Some(run) = self.session.seq2seq() else { return Ok(None) };
        let sentence = rnnplay_data::translation::preprocess_nmt(self.sentence.trim());
        if sentence.trim().is_empty() {
            return Ok(None);
        }
        let data = &run.data;
        let source = rnnplay_engine::translate::encode_source(&data.src_vocab, &sentence, data.num_steps);
        let start: Vec<String> = self.search.start.split(' ').filter(|w| !w.is_empty()).map(String::from).collect();
        let ids = rnnplay_engine::beam::start_ids(&data.tgt_vocab, &self.search.start).map_err(|e| e.to_string())?;
        let settings = BeamSettings {
            beam: self.search.beam,
            length_penalty: self.search.length_penalty,
            max_len: data.num_steps,
        };
        let cached = self.searched.borrow().clone();
        let found = match cached {
            Some(found) => found,
            None => {
                let found = beam_search(&run.model, &data.tgt_vocab, &source.ids, &ids, settings)
                    .await
                    .map_err(|e| e.to_string())?;
                *self.searched.borrow_mut() = Some(found.clone());
                found
            }
        };
        Ok(Some(TranslateBox { run, sentence, source, start, settings, found }))
    }
}

/// The translate box's sentence, translated (`ViewContext::translate_box`).
#[cfg(target_arch = "wasm32")]
pub struct TranslateBox<'a> {
    pub run: &'a rnnplay_run::Seq2SeqRun,
    pub sentence: String,
    pub source: rnnplay_engine::translate::EncodedSource,
    /// The forced start's words.
    pub start: Vec<String>,
    pub settings: rnnplay_engine::beam::BeamSettings,
    pub found: rnnplay_engine::beam::BeamResult,
}

/// The translate box's sentence and its translation (with the words fed as `<unk>` and any cut
/// to fit the window), and when beam search or a forced start made it, the search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentenceTranslation {
    pub text: String,
    pub tree: Option<BeamTree>,
    /// With attention: where the decoder looked while writing the translation.
    pub attention: Option<rnnplay_engine::translate::AttentionMap>,
}

/// A beam search as the page draws it (`rnnplay_engine::beam::BeamResult` with words).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeamTree {
    pub beam: usize,
    pub length_penalty: f32,
    /// The forced start's words.
    pub start: Vec<String>,
    /// The chosen output's score (1/L^α)·log P.
    pub score: f64,
    /// Per step: (parent index in the step before, word, log P of the hypothesis, kept).
    pub steps: Vec<Vec<(usize, String, f64, bool)>>,
    /// The chosen output's node at each step.
    pub path: Vec<usize>,
}

crate::view_signals::declare_views! {
    /// The teacher-forced and free-running views of a passage, and the continuation of the
    /// user's prefix (a language model).
    predictions: Predictions,
    /// The gradient's reach chart's curves (a language model).
    reach: Reach,
    /// Inside the network: every layer's signals over the passage, with the next-token
    /// candidates at each position.
    inspection: InspectView,
    /// How far back the picked position's prediction reaches.
    connectivity: ConnectView,
    /// One step of the top layer's cell at the picked position, with its numbers.
    cell: CellView,
    /// The encoder–decoder's example sentences, translated, with BLEU.
    translations: Vec<TranslationExample>,
    /// The translate box's sentence, translated (with the beam search's tree).
    sentence_translation: SentenceTranslation,
    /// Inside the encoder–decoder for the translate box's sentence.
    translation_inspection: TranslationView,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_signals_travel_as_base64_and_come_back_exactly() {
        let signal = SignalView { layer: 0, name: "h".into(), scale: 0.5, q: vec![-127, 0, 127] };
        let view =
            InspectView { tokens: vec!["a".into()], layers: 1, hidden: 3, signals: vec![signal], ..Default::default() };
        let message = ViewValue::inspection(Some(view.clone()));
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains("\"q\":\"gQB/\""), "{text}");
        assert_eq!(serde_json::from_str::<ViewValue>(&text).unwrap(), message);
        assert_eq!(view.value(&view.signals[0], 0, 2), 0.5);
    }

    #[test]
    fn a_view_with_nothing_to_show_travels_as_null() {
        let text = serde_json::to_string(&ViewValue::predictions(None)).unwrap();
        assert_eq!(text, "{\"predictions\":null}");
        assert_eq!(VIEW_NAMES.len(), 8);
    }
}
