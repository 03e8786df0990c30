//! Inside the encoder–decoder, for the sentence of the translate box teacher-forced on the
//! model's own translation: the encoder's units over the source words, the decoder's units and
//! gates over the target words, and — for a target word picked with a click — the decoder's
//! most likely next words there and how much each source word matters to that prediction (the
//! gradient of its loss with respect to the source word's embedding, log scale).

use super::heatmap::{saliency_style, Heatmap};
use crate::ui::{Phase, Ui};
use crate::view_signals::{ComputeView, ViewContext, When};
use crate::views::{view, InspectView, TranslateBox, TranslationView};
use leptos::prelude::*;
use rnnplay_engine::inspect::translation::{inspect_translation, translation_connectivity};
use rnnplay_engine::translate::teacher_forcing_ids;

/// Inside the encoder–decoder for the translate box's sentence, teacher-forced on the model's
/// own translation of it, with the picked target position's source saliency; nothing for an
/// empty box.
impl ComputeView for view::translation_inspection {
    type Value = TranslationView;
    const WHEN: When = When::Inside;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<TranslationView>, String> {
        // Teacher-forced on the output the translate box shows (greedy, or its beam search).
        let Some(TranslateBox { run, source, found, .. }) = cx.translate_box().await? else { return Ok(None) };
        let (data, valid, source, own) = (&run.data, source.valid, source.ids, found.tokens);
        let failed = |e: rnnplay_engine::EngineError| e.to_string();
        let (target_in, labels) = teacher_forcing_ids(&data.tgt_vocab, &own);
        let seen = inspect_translation(&run.model, &source, valid, &target_in, 5).await.map_err(failed)?;
        let (src_word, tgt_word) =
            (|id: u32| data.src_vocab.token(id).to_string(), |id: u32| data.tgt_vocab.token(id).to_string());
        let position = cx.position.filter(|&p| p < target_in.len());
        let saliency = match position {
            Some(p) => {
                translation_connectivity(&run.model, &source, valid, &target_in, p, labels[p]).await.map_err(failed)?
            }
            None => Vec::new(),
        };
        let epoch = cx.session.epochs_done();
        let size = (seen.layers, seen.hidden);
        Ok(Some(TranslationView {
            epoch,
            encoder: InspectView::new(epoch, &source, size, &seen.encoder, &[], &src_word),
            decoder: InspectView::new(epoch, &target_in, size, &seen.decoder, &seen.next, &tgt_word),
            labels: labels.iter().map(|&id| tgt_word(id)).collect(),
            position,
            saliency,
        }))
    }
}

#[component]
pub fn TranslationInside(ui: Ui) -> impl IntoView {
    let encoder =
        Signal::derive(move || ui.views.translation_inspection.with(|v| v.as_ref().map(|v| v.encoder.clone())));
    let decoder =
        Signal::derive(move || ui.views.translation_inspection.with(|v| v.as_ref().map(|v| v.decoder.clone())));
    let pick = move |position: usize| {
        ui.position.set(Some(position));
        ui.connect_requests.update(|n| *n += 1);
    };
    let target = move || {
        ui.views.translation_inspection.get().map(|view| {
            let picked = view.position;
            view.decoder
                .tokens
                .iter()
                .enumerate()
                .map(|(t, token)| {
                    let title = format!("after '{token}' the true next word is '{}': click to see what the model expects", view.labels[t]);
                    view! {
                        <span class="tok pick" class:picked=picked == Some(t) title=title on:click=move |_| pick(t)>{token.clone()}</span>" "
                    }
                })
                .collect_view()
        })
    };
    let source = move || {
        ui.views.translation_inspection.get().map(|view| {
            let peak = view.saliency.iter().copied().fold(0.0f32, f32::max);
            let spans = view
                .encoder
                .tokens
                .iter()
                .enumerate()
                .map(|(s, token)| {
                    let shade = view.saliency.get(s).map(|&g| saliency_style(g, peak));
                    view! { <span class="tok" style=shade.unwrap_or_default() title=format!("{:.2e}", view.saliency.get(s).copied().unwrap_or(0.0))>{token.clone()}</span>" " }
                })
                .collect_view();
            let summary = view.position.map(|p| {
                let next: Vec<String> = view.decoder.next.get(p).map_or(Vec::new(), |n| {
                    n.tokens.iter().zip(&n.p).take(5).map(|(w, p)| format!("{w} {p:.3}")).collect()
                });
                format!(
                    "after '{}' (target position {p}) the decoder expects: {} — the true next word is '{}'; the source words are shaded by how much they matter to it",
                    view.decoder.tokens[p],
                    next.join(", "),
                    view.labels[p]
                )
            });
            view! {
                <div class="passage mono" id="source-saliency" data-shaded=view.saliency.len().to_string()>{spans}</div>
                <p class="meta" id="translation-pick">{summary.unwrap_or_else(|| "click a target word to pick a position".into())}</p>
            }
        })
    };
    let empty = move || ui.views.translation_inspection.with(Option::is_none);
    view! {
        <section class="panel inside" aria-label="Inside the encoder-decoder">
            <h2>"Inside the encoder–decoder"</h2>
            <label><input type="checkbox" id="views-toggle" prop:checked=move || ui.inside_on.get()
                on:change=move |ev| ui.inside_on.set(event_target_checked(&ev))/>
                " compute these views at each refresh of the translations"</label>
            <Show when=empty>
                <p class="note">{move || if !ui.inside_on.get() {
                    "The views are switched off: tick the box to compute them at the next refresh."
                } else if ui.phase.get() == Phase::Idle {
                    "Start an encoder–decoder: after its first epoch this shows its encoder and decoder at work on the sentence of the translate box."
                } else {
                    "The views appear with the next refresh of the translations (after an epoch, or Translate)."
                }}</p>
            </Show>
            <Show when=move || !empty()>
                <h3>"Encoder, over the source"</h3>
                <Heatmap view=encoder id="encoder-heatmap" unit_id="encoder-unit"
                    caption="Each row is one unit of the encoder's layer, each column a source word (then <eos> and padding, which the encoder reads too): the colour is the unit's value after reading that word; its last column is the context the decoder gets."/>
                <h3>"Decoder, over its own translation"</h3>
                <Heatmap view=decoder id="decoder-heatmap" unit_id="decoder-unit"
                    caption="Each row is one unit of the decoder's layer, each column the word it was fed (<bos>, then its own translation): the colour is the unit's value after that word."/>
                <h3>"Pick a target word"</h3>
                <div class="passage mono" id="target-words">{target}</div>
                {source}
            </Show>
        </section>
    }
}
