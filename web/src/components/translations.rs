//! The encoder–decoder's view: for each example, the free-running translation with its BLEU
//! next to the teacher-forced view of the reference (each reference token shaded by the
//! probability the model gave it, mistakes marked with the model's top guess); and a box that
//! translates any sentence.

use crate::ui::{Phase, Ui};
use crate::view_signals::{ComputeView, ViewContext, When};
use crate::views::view;
use leptos::prelude::*;
use rnnplay_data::translation::preprocess_nmt;
use rnnplay_engine::translate::{encode_source, translate, translation_example, TranslationExample};

/// An encoder–decoder's example sentences, each translated and compared with its reference.
impl ComputeView for view::translations {
    type Value = Vec<TranslationExample>;
    const WHEN: When = When::Refresh;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<Vec<TranslationExample>>, String> {
        let Some(run) = cx.session.seq2seq() else { return Ok(None) };
        let mut rows = Vec::with_capacity(run.examples.len());
        for (src, reference) in &run.examples {
            rows.push(translation_example(&run.model, &run.data, src, reference).await.map_err(|e| e.to_string())?);
        }
        Ok(Some(rows))
    }
}

/// The translate box's sentence and its translation, with the words fed as `<unk>` and any cut
/// to fit the window; nothing for an empty box.
impl ComputeView for view::sentence_translation {
    type Value = String;
    const WHEN: When = When::Refresh;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<String>, String> {
        let Some(run) = cx.session.seq2seq() else { return Ok(None) };
        let sentence = preprocess_nmt(cx.sentence.trim());
        if sentence.trim().is_empty() {
            return Ok(None);
        }
        let data = &run.data;
        let source = encode_source(&data.src_vocab, &sentence, data.num_steps);
        let ids =
            translate(&run.model, &data.tgt_vocab, &source.ids, data.num_steps).await.map_err(|e| e.to_string())?;
        let translated = ids.iter().map(|&i| data.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
        let mut text = format!("{sentence} ⇒ {translated}");
        if !source.unknown.is_empty() {
            text.push_str(&format!("   (unknown words fed as <unk>: {})", source.unknown.join(", ")));
        }
        if source.truncated > 0 {
            text.push_str(&format!("   ({} token(s) cut to fit {} steps)", source.truncated, data.num_steps));
        }
        Ok(Some(text))
    }
}

#[component]
pub fn TranslationsPanel(ui: Ui) -> impl IntoView {
    let rows = move || {
        ui.views.translations.get().map(|rows| {
            rows.into_iter()
                .map(|row| {
                    let forced = row
                        .teacher_forced
                        .iter()
                        .map(|(token, p, top)| {
                            let wrong = token != top;
                            let shade = format!("background: rgba(46, 160, 67, {:.2})", p.clamp(0.0, 1.0) * 0.8);
                            let title = format!("p = {p:.3}, top guess '{top}'");
                            view! { <span class="tok" class:wrong=wrong style=shade title=title>{token.clone()}</span>" " }
                        })
                        .collect_view();
                    view! {
                        <tr>
                            <td>{row.src.clone()}</td>
                            <td class="free-running">{row.translation.clone()}</td>
                            <td class="bleu">{format!("{:.3}", row.bleu)}</td>
                            <td>{forced}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    let translate_now = move |_| ui.predict_requests.update(|n| *n += 1);
    let no_run = move || ui.phase.get() == Phase::Idle;
    view! {
        <section class="panel predictions" aria-label="Translations">
            <h2>"Translations"</h2>
            <p class="hint">"Free-running: the decoder feeds back its own argmax until <eos>. Teacher-forced: fed the reference; shading = probability of each reference token, red underline = the model's top guess differs (hover for it)."</p>
            <table id="translations">
                <thead><tr><th>"source"</th><th>"free-running"</th><th>"BLEU"</th><th>"teacher-forced on the reference"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <div class="row">
                <label>"translate "
                    <input type="text" id="sentence" prop:value=move || ui.sentence.get()
                        on:input=move |ev| ui.sentence.set(event_target_value(&ev))/>
                </label>
                <button id="translate" on:click=translate_now disabled=no_run>"Translate"</button>
            </div>
            <div class="passage mono" id="sentence-translation">{move || ui.views.sentence_translation.get()}</div>
        </section>
    }
}
