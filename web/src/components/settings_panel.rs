//! The model and training settings. Each field edits the shared [`RunSpec`] through its text
//! form. A value that does not parse gets a message next to the field (and the spec keeps its
//! last good value); a value that parses but cannot be trained with gets the engine's own
//! message from [`RunSpec::validate`] — the words the CLI prints after the flag. Fields are
//! locked while a run exists; Reset unlocks them.

use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use rnnplay_engine::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_engine::run::RunSpec;

/// One labelled text field bound to the setting `key`.
fn field(settings: RwSignal<RunSpec>, ui: Ui, key: &'static str, label: &'static str) -> impl IntoView {
    let value = move || settings.with(|s| s.get(key));
    let on_change = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let mut next = settings.get_untracked();
        let result = next.set(key, text.trim());
        ui.unparsed.update(|u| u.retain(|(k, _)| *k != key));
        match result {
            Ok(()) => settings.set(next),
            Err(problem) => ui.unparsed.update(|u| u.push((key, problem.message))),
        }
    };
    // A value that does not parse first, else what validate() says of the value in use.
    let error = move || {
        ui.unparsed
            .with(|u| u.iter().find(|(k, _)| *k == key).map(|(_, m)| m.clone()))
            .or_else(|| settings.with(|s| s.validate().into_iter().find(|p| p.field == key).map(|p| p.message)))
    };
    let locked = move || ui.phase.get() != Phase::Idle;
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="text" name=key prop:value=value on:change=on_change disabled=locked/>
            <Show when=move || error().is_some()>
                <span class="error" role="alert">{move || error().unwrap_or_default()}</span>
            </Show>
        </label>
    }
}

/// A select bound to the setting `key`.
fn choice(
    settings: RwSignal<RunSpec>,
    ui: Ui,
    key: &'static str,
    label: &'static str,
    options: &'static [&'static str],
) -> impl IntoView {
    let on_change = move |ev: leptos::ev::Event| {
        let mut next = settings.get_untracked();
        if next.set(key, &event_target_value(&ev)).is_ok() {
            settings.set(next);
        }
    };
    let locked = move || ui.phase.get() != Phase::Idle;
    view! {
        <label class="field">
            <span>{label}</span>
            <select name=key on:change=on_change disabled=locked prop:value=move || settings.with(|s| s.get(key))>
                {options
                    .iter()
                    .map(|&o| {
                        view! { <option value=o selected=move || settings.with(|s| s.get(key) == o)>{o}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
pub fn SettingsPanel(settings: RwSignal<RunSpec>, ui: Ui) -> impl IntoView {
    let on_preset = move |ev: leptos::ev::Event| {
        if let Ok(mut next) = RunSpec::preset(&event_target_value(&ev)) {
            let current = settings.get_untracked();
            // A language model keeps the corpus in use; an encoder-decoder takes its preset's data.
            if !next.is_seq2seq() && !current.is_seq2seq() {
                next.data = current.data;
            }
            next.seed = current.seed;
            settings.set(next);
        }
    };
    let seq2seq = move || settings.with(RunSpec::is_seq2seq);
    let locked = move || ui.phase.get() != Phase::Idle;
    let preset_names: Vec<&'static str> =
        PRESETS.iter().map(|p| p.name).chain(SEQ2SEQ_PRESETS.iter().map(|p| p.name)).collect();
    view! {
        <section class="panel" aria-label="Model and training">
            <h2>"Model"</h2>
            <label class="field">
                <span>"preset (d2l section)"</span>
                <select name="preset" on:change=on_preset disabled=locked>
                    {preset_names
                        .into_iter()
                        .map(|name| {
                            view! { <option value=name selected=move || settings.with(|s| s.preset == name)>{name}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <Show when=move || !seq2seq() fallback=|| view! { <p class="note">"GRU encoder–decoder (d2l § 10.7)"</p> }>
                {choice(settings, ui, "model", "model", &["rnn-scratch", "rnn", "gru-scratch", "gru", "lstm-scratch", "lstm"])}
            </Show>
            {field(settings, ui, "hidden", "hidden units")}
            {field(settings, ui, "layers", "layers")}
            {field(settings, ui, "dropout", "dropout")}
            {field(settings, ui, "embedding", "embedding width (language models: 0 = one-hot)")}
            <h2>"Training"</h2>
            {choice(settings, ui, "optimizer", "optimizer", &["sgd", "adam"])}
            {field(settings, ui, "lr", "learning rate")}
            {field(settings, ui, "lr_schedule", "learning-rate schedule (none, step:2:0.5, cosine:5)")}
            {field(settings, ui, "clip", "clipping θ")}
            {field(settings, ui, "batch_size", "batch size")}
            <Show when=move || !seq2seq() fallback=move || field(settings, ui, "num_steps", "padded sentence length (num steps)")>
                {field(settings, ui, "num_steps", "num steps (BPTT length: steps per minibatch)")}
            </Show>
            <Show when=move || !seq2seq()>
                {choice(settings, ui, "sampling", "sampling", &["sequential", "random"])}
            </Show>
            <Show when=seq2seq>
                {field(settings, ui, "num_examples", "number of sentence pairs")}
                {field(settings, ui, "scheduled_sampling", "scheduled sampling (final probability)")}
            </Show>
            {field(settings, ui, "epochs", "epochs")}
            {field(settings, ui, "seed", "seed")}
        </section>
    }
}
