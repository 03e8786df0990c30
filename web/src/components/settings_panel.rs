//! The model and training settings. Each field edits the shared [`RunSpec`] through its text
//! form. A value that does not parse gets a message next to the field (and the spec keeps its
//! last good value); a value that parses but cannot be trained with gets the engine's own
//! message from [`RunSpec::validate`] — the words the CLI prints after the flag. Fields are
//! locked while a run exists; Reset unlocks them. Which fields there are, their labels, help
//! (as a tooltip) and choices come from the engine's one declaration of the settings
//! (`rnnplay_run::fields`).

use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use rnnplay_run::fields::{Field, Input, Panel, SETTINGS};
use rnnplay_run::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_run::RunSpec;

/// One labelled text field bound to the setting `field`.
fn text_field(settings: RwSignal<RunSpec>, ui: Ui, field: &'static Field) -> impl IntoView {
    let key = field.key;
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
        <label class="field" title=field.help>
            <span>{field.label}</span>
            <input type="text" name=key prop:value=value on:change=on_change disabled=locked/>
            <Show when=move || error().is_some()>
                <span class="error" role="alert">{move || error().unwrap_or_default()}</span>
            </Show>
        </label>
    }
}

/// A select bound to the setting `field`, offering `choices`.
fn choice_field(
    settings: RwSignal<RunSpec>,
    ui: Ui,
    field: &'static Field,
    choices: &'static [&'static str],
) -> impl IntoView {
    let key = field.key;
    let on_change = move |ev: leptos::ev::Event| {
        let mut next = settings.get_untracked();
        if next.set(key, &event_target_value(&ev)).is_ok() {
            settings.set(next);
        }
    };
    let locked = move || ui.phase.get() != Phase::Idle;
    view! {
        <label class="field" title=field.help>
            <span>{field.label}</span>
            <select name=key on:change=on_change disabled=locked prop:value=move || settings.with(|s| s.get(key))>
                {choices
                    .iter()
                    .map(|&o| {
                        view! { <option value=o selected=move || settings.with(|s| s.get(key) == o)>{o}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The preset's select: a preset replaces every setting but the seed (and a language model's
/// corpus, which stays).
fn preset_field(settings: RwSignal<RunSpec>, ui: Ui, field: &'static Field) -> impl IntoView {
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
    let locked = move || ui.phase.get() != Phase::Idle;
    let names: Vec<&'static str> =
        PRESETS.iter().map(|p| p.name).chain(SEQ2SEQ_PRESETS.iter().map(|p| p.name)).collect();
    view! {
        <label class="field" title=field.help>
            <span>"preset (d2l section)"</span>
            <select name="preset" on:change=on_preset disabled=locked>
                {names
                    .into_iter()
                    .map(|name| {
                        view! { <option value=name selected=move || settings.with(|s| s.preset == name)>{name}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Every setting the declaration puts in `panel`, each shown while it applies to the run's task
/// (`RunSpec::applies`); the data itself is picked by the dataset panel's own controls.
pub(crate) fn panel_fields(settings: RwSignal<RunSpec>, ui: Ui, panel: Panel) -> impl IntoView {
    SETTINGS
        .iter()
        .filter(move |field| field.panel == panel && field.key != "data")
        .map(move |field| {
            let shown = move || settings.with(|s| s.applies(field.key));
            let view = move || match (field.key, field.input) {
                ("preset", _) => preset_field(settings, ui, field).into_any(),
                (_, Input::Choice(choices)) => choice_field(settings, ui, field, choices).into_any(),
                (_, Input::Text) => text_field(settings, ui, field).into_any(),
            };
            view! { <Show when=shown>{view}</Show> }
        })
        .collect_view()
}

#[component]
pub fn SettingsPanel(settings: RwSignal<RunSpec>, ui: Ui) -> impl IntoView {
    let seq2seq = move || settings.with(RunSpec::is_seq2seq);
    // Which of d2l's encoder–decoders the settings describe.
    let architecture = move || {
        settings.with(|s| {
            let encoder = match s.bidirectional.as_str() {
                "yes" => "bidirectional GRU encoder (d2l § 10.4)",
                _ => "GRU encoder",
            };
            match s.attention.as_str() {
                "none" => format!("{encoder}, GRU decoder (d2l § 10.7)"),
                scoring => format!("{encoder}, GRU decoder with {scoring} attention (d2l § 11.4)"),
            }
        })
    };
    view! {
        <section class="panel" aria-label="Model and training">
            <h2>"Model"</h2>
            <Show when=seq2seq>
                <p class="note">{architecture}</p>
            </Show>
            {panel_fields(settings, ui, Panel::Model)}
            <h2>"Training"</h2>
            {panel_fields(settings, ui, Panel::Training)}
        </section>
    }
}
