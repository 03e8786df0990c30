//! What the prediction views show, computed from a session: for a language model the
//! teacher-forced and free-running views of a passage, the continuation of the user's prefix
//! and, inside the network, the inspection of that passage (every layer's states and gates, the
//! next-token candidates) and how far back the picked position's prediction reaches; for an
//! encoder–decoder the example table and the translation of the user's sentence.

use crate::protocol::{ConnectView, InspectView, NextView, SignalView, TranslationView};
use crate::ui::{ForcedToken, Predictions, Ui};
use leptos::prelude::*;
use rnnplay_data::translation::preprocess_nmt;
use rnnplay_data::TokenKind;
use rnnplay_engine::generate::{generate, teacher_forced, Decoding};
use rnnplay_engine::inspect::translation::{inspect_translation, translation_connectivity};
use rnnplay_engine::inspect::{connectivity, inspect, Candidate, Signal};
use rnnplay_engine::run::{LanguageRun, Seq2SeqRun, Session};
use rnnplay_engine::translate::{encode_source, teacher_forcing_ids, translate, translation_example};

/// Tokens in the teacher-forced passage.
fn passage_len(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Char => 120,
        TokenKind::Word => 30,
    }
}

/// Computes the predictions of `session` and writes them into the page's signals.
pub async fn refresh(session: &Session, ui: Ui) -> Result<(), String> {
    if let Some(run) = session.language() {
        let predictions = language(run, session.epochs_done(), ui).await.map_err(|e| e.to_string())?;
        ui.predictions.set(Some(predictions));
    }
    if let Some(run) = session.seq2seq() {
        seq2seq(run, ui).await.map_err(|e| e.to_string())?;
    }
    if ui.views.get_untracked() {
        inside(session, ui).await?;
    }
    Ok(())
}

async fn language(run: &LanguageRun, epoch: usize, ui: Ui) -> rnnplay_engine::Result<Predictions> {
    let token = |id: u32| run.vocab.token(id).to_string();
    let passage = run.passage(passage_len(run.token_kind));
    let forced = teacher_forced(&run.model, passage).await?;
    let own = generate(&run.model, &passage[..1], passage.len() - 1, Decoding::Greedy).await?;
    let (prefix, unknown) = rnnplay_data::prompt::encode(&run.vocab, run.token_kind, &ui.prefix.get_untracked());
    let continuation = if prefix.is_empty() {
        String::new()
    } else {
        let decoding = Decoding::from_temperature(Some(ui.temperature.get_untracked()), epoch as u64)?;
        let ids = generate(&run.model, &prefix, ui.length.get_untracked(), decoding).await?;
        rnnplay_data::prompt::decode(&run.vocab, run.token_kind, &ids)
    };
    Ok(Predictions {
        epoch,
        first: token(passage[0]),
        forced: forced
            .steps
            .iter()
            .map(|s| ForcedToken { truth: token(s.truth), predicted: token(s.predicted), p_truth: s.p_truth })
            .collect(),
        forced_perplexity: forced.perplexity,
        forced_accuracy: forced.accuracy,
        passage_free_running: own[1..].iter().map(|&id| token(id)).collect(),
        continuation,
        unknown,
    })
}

/// Next-token candidates kept per position for the page (bars and temperature).
const CANDIDATES_SHOWN: usize = 32;

/// The inspection of the teacher-forced passage (the whole passage: position t's candidates
/// are the prediction of token t + 1).
async fn inspection(run: &LanguageRun, epoch: usize) -> rnnplay_engine::Result<InspectView> {
    let token = |id: u32| run.vocab.token(id).to_string();
    let passage = run.passage(passage_len(run.token_kind));
    let seen = inspect(&run.model, passage, 5).await?;
    Ok(inspect_view(epoch, passage, seen.layers, seen.hidden, &seen.signals, &seen.next, &token))
}

/// An inspection as the page carries it.
fn inspect_view(
    epoch: usize,
    tokens: &[u32],
    layers: usize,
    hidden: usize,
    signals: &[Signal],
    next: &[Vec<Candidate>],
    token: &dyn Fn(u32) -> String,
) -> InspectView {
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

/// The source of the translate box and the decoder's inputs and labels for teacher forcing on
/// the model's own translation of it; `None` for an empty box.
async fn translation_ids(run: &Seq2SeqRun, ui: Ui) -> rnnplay_engine::Result<Option<(Vec<u32>, Vec<u32>, Vec<u32>)>> {
    let sentence = preprocess_nmt(ui.sentence.get_untracked().trim());
    if sentence.trim().is_empty() {
        return Ok(None);
    }
    let data = &run.data;
    let source = encode_source(&data.src_vocab, &sentence, data.num_steps).ids;
    let own = translate(&run.model, &data.tgt_vocab, &source, data.num_steps).await?;
    let (target_in, labels) = teacher_forcing_ids(&data.tgt_vocab, &own);
    Ok(Some((source, target_in, labels)))
}

/// Inside the encoder–decoder for the translate box's sentence (and the picked target
/// position's source saliency).
async fn translation_inspection(
    run: &Seq2SeqRun,
    epoch: usize,
    ui: Ui,
) -> rnnplay_engine::Result<Option<TranslationView>> {
    let Some((source, target_in, labels)) = translation_ids(run, ui).await? else { return Ok(None) };
    let seen = inspect_translation(&run.model, &source, &target_in, 5).await?;
    let (src_word, tgt_word) =
        (|id: u32| run.data.src_vocab.token(id).to_string(), |id: u32| run.data.tgt_vocab.token(id).to_string());
    let position = ui.position.get_untracked().filter(|&p| p < target_in.len());
    let saliency = match position {
        Some(p) => translation_connectivity(&run.model, &source, &target_in, p, labels[p]).await?,
        None => Vec::new(),
    };
    Ok(Some(TranslationView {
        epoch,
        encoder: inspect_view(epoch, &source, seen.layers, seen.hidden, &seen.encoder, &[], &src_word),
        decoder: inspect_view(epoch, &target_in, seen.layers, seen.hidden, &seen.decoder, &seen.next, &tgt_word),
        labels: labels.iter().map(|&id| tgt_word(id)).collect(),
        position,
        saliency,
    }))
}

/// The views inside the network, all from the same weights: the inspection and, when a
/// position is picked, how far back its prediction reaches — over the passage for a language
/// model, over the source for an encoder–decoder's target position. Run at each refresh and
/// when a position is picked (mid-epoch the weights have moved since the last refresh).
pub async fn inside(session: &Session, ui: Ui) -> Result<(), String> {
    let epoch = session.epochs_done();
    if let Some(run) = session.seq2seq() {
        let view = translation_inspection(run, epoch, ui).await.map_err(|e| e.to_string())?;
        ui.translation_inspection.set(view);
        ui.inspection_version.update(|v| *v += 1);
        return Ok(());
    }
    let Some(run) = session.language() else { return Ok(()) };
    let view = inspection(run, epoch).await.map_err(|e| e.to_string())?;
    let passage = run.passage(passage_len(run.token_kind));
    let link = match ui.position.get_untracked().filter(|&p| p < passage.len()) {
        Some(position) => {
            Some((position, connectivity(&run.model, passage, position).await.map_err(|e| e.to_string())?))
        }
        None => None,
    };
    ui.inspection.set(Some(view));
    ui.inspection_version.update(|v| *v += 1);
    let Some((position, link)) = link else {
        ui.connectivity.set(None);
        return Ok(());
    };
    ui.connectivity.set(Some(ConnectView {
        epoch,
        position,
        target: run.vocab.token(link.target).to_string(),
        target_is_truth: link.target_is_truth,
        reach: link.reach(),
        saliency_x: link.saliency_x,
    }));
    Ok(())
}

async fn seq2seq(run: &Seq2SeqRun, ui: Ui) -> rnnplay_engine::Result<()> {
    let mut rows = Vec::with_capacity(run.examples.len());
    for (src, reference) in &run.examples {
        rows.push(translation_example(&run.model, &run.data, src, reference).await?);
    }
    ui.translations.set(Some(rows));
    let sentence = preprocess_nmt(ui.sentence.get_untracked().trim());
    let data = &run.data;
    let translation = if sentence.trim().is_empty() {
        String::new()
    } else {
        let source = encode_source(&data.src_vocab, &sentence, data.num_steps);
        let ids = translate(&run.model, &data.tgt_vocab, &source.ids, data.num_steps).await?;
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
