//! The encoder–decoder's view: for each example, the free-running translation with its BLEU
//! next to the teacher-forced view of the reference (each reference token shaded by the
//! probability the model gave it, mistakes marked with the model's top guess) and, with
//! attention, where the decoder looked; and a box that translates any sentence, greedily or by
//! beam search (drawn as a tree), its start forced or free, with its attention map.

mod attention_map;

use crate::ui::{Phase, Ui};
use crate::view_signals::{ComputeView, Search, ViewContext, When};
use crate::views::{view, BeamTree, SentenceTranslation, TranslateBox};
use attention_map::attention_map_view;
use leptos::prelude::*;
use rnnplay_data::translation::preprocess_nmt;
use rnnplay_engine::beam::MAX_BEAM;
use rnnplay_engine::translate::{translation_example, AttentionMap, TranslationExample};

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
/// to fit the window, and the beam search's tree when it searched more than greedily or forced
/// a start; nothing for an empty box.
impl ComputeView for view::sentence_translation {
    type Value = SentenceTranslation;
    const WHEN: When = When::Refresh;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<SentenceTranslation>, String> {
        let Some(TranslateBox { run, sentence, source, start, settings, found }) = cx.translate_box().await? else {
            return Ok(None);
        };
        let (data, vocab) = (&run.data, &run.data.tgt_vocab);
        let vocabularies = (&data.src_vocab, &data.tgt_vocab);
        let attention = AttentionMap::of(&run.model, vocabularies, &source.ids, &found.tokens, found.ended(vocab))
            .await
            .map_err(|e| e.to_string())?;
        let translated = found.tokens.iter().map(|&i| vocab.token(i)).collect::<Vec<_>>().join(" ");
        let mut text = format!("{sentence} ⇒ {translated}");
        if !source.unknown.is_empty() {
            text.push_str(&format!("   (unknown words fed as <unk>: {})", source.unknown.join(", ")));
        }
        if source.truncated > 0 {
            text.push_str(&format!("   ({} token(s) cut to fit {} steps)", source.truncated, data.num_steps));
        }
        let tree = (settings.beam > 1 || !start.is_empty()).then(|| BeamTree {
            beam: settings.beam,
            length_penalty: settings.length_penalty,
            start,
            score: found.score,
            steps: found
                .steps
                .iter()
                .map(|nodes| {
                    nodes.iter().map(|n| (n.parent, vocab.token(n.token).to_string(), n.log_p, n.kept)).collect()
                })
                .collect(),
            path: found.path.clone(),
        });
        Ok(Some(SentenceTranslation { text, tree, attention }))
    }
}

/// The width of a label in the tree's 13 px monospace font.
fn label_width(label: &str) -> f64 {
    7.9 * label.chars().count() as f64
}

/// The beam search drawn as a tree: the forced start (or `<bos>`) at the left, a column per
/// step, the kept hypotheses' last words (with the hypothesis's log P so far) joined to the
/// hypothesis they extend, the best pruned ones greyed and dashed, the chosen output in green.
fn tree_view(tree: BeamTree) -> impl IntoView {
    let start = if tree.start.is_empty() { "<bos>".to_string() } else { tree.start.join(" ") };
    let label = |(_, word, log_p, _): &(usize, String, f64, bool)| format!("{word} {log_p:.1}");
    let column = tree.steps.iter().flatten().map(|n| label_width(&label(n))).fold(40.0, f64::max) + 36.0;
    let left = label_width(&start) + 36.0;
    let at = move |step: usize, index: usize| (left + column * step as f64, 20.0 + 26.0 * index as f64);
    let rows = tree.steps.iter().map(Vec::len).max().unwrap_or(1);
    let (width, height) = (left + column * tree.steps.len() as f64, 26.0 * rows as f64 + 12.0);
    let on_path = |step: usize, index: usize| tree.path.get(step) == Some(&index);
    let mut edges = Vec::new();
    let mut nodes = Vec::new();
    for (step, nodes_of_step) in tree.steps.iter().enumerate() {
        for (index, node) in nodes_of_step.iter().enumerate() {
            let (parent, _, log_p, kept) = node;
            let (x, y) = at(step, index);
            // The edge leaves the parent's label at its end.
            let (px, py) = match step {
                0 => (label_width(&start) + 4.0, at(0, 0).1),
                _ => {
                    let (px, py) = at(step - 1, *parent);
                    (px + tree.steps[step - 1].get(*parent).map_or(0.0, |p| label_width(&label(p))) + 4.0, py)
                }
            };
            let class = match (on_path(step, index), kept) {
                (true, _) => "chosen",
                (false, true) => "kept",
                (false, false) => "pruned",
            };
            edges.push(view! { <line class=class x1=px y1=py - 4.0 x2=x - 4.0 y2=y - 4.0/> });
            let title = format!("log P = {log_p:.3}{}", if *kept { "" } else { " (pruned)" });
            nodes.push(view! { <text class=class x=x y=y><title>{title}</title>{label(node)}</text> });
        }
    }
    let forced = match tree.start.is_empty() {
        true => String::new(),
        false => format!(" The output was forced to begin with '{start}'; the search goes on from there."),
    };
    let caption = format!(
        "Beam search, k = {}, α = {}: each column is a step; the {} most probable hypotheses are kept (joined to the one they extend, with log P so far), the best pruned ones are grey, the chosen output is green (score (1/L^α)·log P = {:.3}).{forced}",
        tree.beam, tree.length_penalty, tree.beam, tree.score
    );
    view! {
        <figure class="beam-tree" id="beam-tree" data-steps=tree.steps.len() data-beam=tree.beam>
            <div class="scroll">
                <svg width=width height=height role="img" aria-label="beam search tree">
                    <text class="kept" x="0" y=at(0, 0).1>{start}</text>
                    {edges}
                    {nodes}
                </svg>
            </div>
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

/// Changes how the translate box translates, and translates again while a run exists.
fn set_search(ui: Ui, change: impl FnOnce(&mut Search)) {
    ui.search.update(change);
    if ui.phase.get_untracked() != Phase::Idle {
        ui.predict_requests.update(|n| *n += 1);
    }
}

#[component]
pub fn TranslationsPanel(ui: Ui) -> impl IntoView {
    let attending = move || ui.views.translations.with(|rows| rows.iter().flatten().any(|r| r.attention.is_some()));
    let rows = move || {
        ui.views.translations.get().map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let map = row
                        .attention
                        .clone()
                        .map(|map| view! { <td>{attention_map_view(map, format!("attention-example-{i}"), false)}</td> });
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
                            {map}
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
                <thead><tr><th>"source"</th><th>"free-running"</th><th>"BLEU"</th><th>"teacher-forced on the reference"</th>
                    {move || attending().then(|| view! { <th title="Where the decoder looked while writing its translation: a row per output word, a column per source word, darker = more">"attention"</th> })}
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <div class="row">
                <label>"translate "
                    <input type="text" id="sentence" prop:value=move || ui.sentence.get()
                        on:input=move |ev| ui.sentence.set(event_target_value(&ev))/>
                </label>
                <button id="translate" on:click=translate_now disabled=no_run>"Translate"</button>
            </div>
            <div class="row">
                <label title="Hypotheses kept per step (1: greedy, d2l's predict_seq2seq)">"beam size "
                    <input type="number" id="beam-size" min="1" max=MAX_BEAM.to_string() prop:value=move || ui.search.with(|s| s.beam.to_string())
                        on:change=move |ev| set_search(ui, |s| s.beam = event_target_value(&ev).parse().unwrap_or(1).clamp(1, MAX_BEAM))/>
                </label>
                <label title="α in the score (1/L^α)·log P: 0 picks the most probable output, larger α favours longer ones (d2l: 0.75)">"length penalty α "
                    <input type="number" id="length-penalty" min="0" step="0.25" prop:value=move || ui.search.with(|s| s.length_penalty.to_string())
                        on:change=move |ev| set_search(ui, |s| s.length_penalty = event_target_value(&ev).parse::<f32>().ok().filter(|a| a.is_finite() && *a >= 0.0).unwrap_or(0.75))/>
                </label>
                <label title="Force the translation to begin with these words, then let it run free">"start with "
                    <input type="text" id="forced-start" prop:value=move || ui.search.with(|s| s.start.clone())
                        on:change=move |ev| set_search(ui, |s| s.start = preprocess_nmt(event_target_value(&ev).trim()))/>
                </label>
            </div>
            <div class="passage mono" id="sentence-translation">{move || ui.views.sentence_translation.get().map(|t| t.text)}</div>
            {move || ui.views.sentence_translation.get().and_then(|t| t.tree).map(tree_view)}
            {move || ui.views.sentence_translation.get().and_then(|t| t.attention).map(|map| attention_map_view(map, "attention-map".into(), true))}
        </section>
    }
}
