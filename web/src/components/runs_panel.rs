//! The runs table: every kept run (they survive a reload) with what it reached and what differs
//! from the run before it; tick runs to overlay them on the comparison chart; rename, resume,
//! export, delete, clear all, and import a page export or an `rnnplay train --metrics` file.

use crate::browser;
use crate::components::overlay_chart::{Metric, OverlayChart};
use crate::keeper::Keeper;
use crate::runs::{differences, import, RunRecord, COLOURS};
use crate::storage;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 60.0 => format!("{s:.0} s"),
        s if s < 3600.0 => format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

/// A file name from a run's name.
fn file_stem(name: &str) -> String {
    let stem: String = name.chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("rnnplay-run-{stem}")
}

/// Downloads the run's record (JSON) and, when one is kept, its checkpoint.
fn export(keeper: Keeper, record: RunRecord) {
    let stem = file_stem(&record.name);
    if let Err(err) = browser::download(&format!("{stem}.json"), record.to_json().as_bytes()) {
        keeper.error.set(Some(format!("exporting failed: {err}")));
        return;
    }
    spawn_local(async move {
        match storage::checkpoint(record.id).await {
            Ok(Some(bytes)) => {
                if let Err(err) = browser::download(&format!("{stem}.safetensors"), &bytes) {
                    keeper.error.set(Some(format!("exporting the checkpoint failed: {err}")));
                }
            }
            Ok(None) => {}
            Err(err) => keeper.error.set(Some(err)),
        }
    });
}

#[component]
pub fn RunsPanel(
    keeper: Keeper,
    /// Resumes a kept run from its autosaved checkpoint.
    resume: Callback<u64>,
    /// Whether a run may be resumed now (no run is training).
    idle: Signal<bool>,
    /// The comparison shown first (a lesson's: what its claim reads).
    first_metric: Metric,
) -> impl IntoView {
    let metric = RwSignal::new(first_metric);
    let picked = Signal::derive(move || {
        let runs = keeper.runs.get();
        keeper.selected.get().iter().filter_map(|id| runs.iter().find(|r| r.id == *id).cloned()).collect::<Vec<_>>()
    });
    let confirm_clear = RwSignal::new(false);
    let import_input = NodeRef::<html::Input>::new();
    let on_import = move |_| {
        let Some(files) = import_input.get_untracked().and_then(|i| i.files()) else { return };
        for index in 0..files.length() {
            let Some(file) = files.get(index) else { continue };
            spawn_local(async move {
                let name = file.name();
                let read = browser::file_bytes(&file)
                    .await
                    .and_then(|bytes| String::from_utf8(bytes).map_err(|_| format!("{name} is not text")));
                match read.and_then(|text| import(&text, &name, js_sys::Date::now() as u64)) {
                    Ok(record) => keeper.add_imported(record),
                    Err(err) => keeper.error.set(Some(format!("{name}: {err}"))),
                }
            });
        }
    };
    let rows = move || {
        let runs = keeper.runs.get();
        let selected = keeper.selected.get();
        let current = keeper.current.get();
        runs.iter()
            .enumerate()
            .rev()
            .map(|(index, run)| {
                let id = run.id;
                let differs = match index {
                    0 => "first run".to_string(),
                    _ => differences(&runs[index - 1].spec, &run.spec),
                };
                let pick = selected.iter().position(|&s| s == id);
                let swatch = pick.map(|i| {
                    let (r, g, b) = COLOURS[i % COLOURS.len()];
                    format!("background: rgb({r},{g},{b})")
                });
                let toggle = move |_| {
                    keeper.selected.update(|s| match s.iter().position(|&x| x == id) {
                        Some(at) => {
                            s.remove(at);
                        }
                        None => s.push(id),
                    })
                };
                let resumable = run.resumable_from();
                let record = run.clone();
                let training = current == Some(id);
                view! {
                    <tr data-run-id=id.to_string() data-saved-epoch=run.saved_epoch.unwrap_or(0).to_string()
                        data-epochs=run.epochs_done().to_string() class:training=training>
                        <td><input type="checkbox" class="overlay-pick" prop:checked=pick.is_some() on:change=toggle
                            aria-label="overlay this run"/>
                            <span class="swatch" style=swatch.unwrap_or_default()></span></td>
                        <td><input class="run-name" value=run.name.clone() aria-label="run name"
                            on:change=move |ev| keeper.rename(id, event_target_value(&ev))/></td>
                        <td>{format!("{}/{}", run.epochs_done(), run.spec.epochs)}</td>
                        <td>{run.final_text()}</td>
                        <td>{format!("{:.0}", run.tokens_per_s)}</td>
                        <td>{run.backend.clone()}</td>
                        <td>{duration(run.wall_s)}</td>
                        <td class="differs">{differs}</td>
                        <td class="actions">
                            {resumable.filter(|_| !training).map(|epoch| view! {
                                <button class="run-resume" disabled=move || !idle.get()
                                    on:click=move |_| resume.run(id)>{format!("Resume from epoch {epoch}")}</button>
                            })}
                            <button class="run-export" on:click=move |_| export(keeper, record.clone())>"Export"</button>
                            <button class="run-delete" disabled=training on:click=move |_| keeper.delete(id)>"Delete"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <section class="panel runs" id="runs" aria-label="Runs">
            <h2>"Runs"</h2>
            <p class="hint">"Every run is kept in this browser, with its curve and its latest checkpoint (saved every few seconds of training, and on Pause): tick runs to compare them, and reopen the page to resume one."</p>
            <Show when=move || keeper.error.get().is_some()>
                <p class="error" role="alert" id="storage-error">{move || keeper.error.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || !keeper.runs.with(Vec::is_empty) fallback=|| view! { <p id="no-runs">"No runs yet: Start one, or import one."</p> }>
                <div class="table-scroll">
                <table id="runs-table">
                    <thead><tr><th>"overlay"</th><th>"name"</th><th>"epochs"</th><th>"reached"</th><th>"tokens/s"</th>
                        <th>"backend"</th><th>"time"</th><th>"what differs from the run before"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                </div>
            </Show>
            <div class="row">
                <label>"Import a run (.json exported here, or rnnplay train --metrics .jsonl) "
                    <input type="file" id="runs-import" accept=".json,.jsonl" multiple=true node_ref=import_input on:change=on_import/>
                </label>
                <Show when=move || !confirm_clear.get() fallback=move || view! {
                    <button id="runs-clear-confirm" on:click=move |_| { keeper.clear(); confirm_clear.set(false); }>"Delete every kept run"</button>
                    <button on:click=move |_| confirm_clear.set(false)>"Keep them"</button>
                }>
                    <button id="runs-clear" disabled=move || keeper.runs.with(Vec::is_empty) on:click=move |_| confirm_clear.set(true)>"Clear all"</button>
                </Show>
            </div>
            <OverlayChart runs=picked metric=metric/>
        </section>
    }
}
