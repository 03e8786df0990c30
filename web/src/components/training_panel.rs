//! The training controls — Start (Resume), Pause, Step, Reset, Save, Load — with the progress
//! line and the run's messages.

use crate::page::Page;
use crate::ui::Phase;
use leptos::html;
use leptos::prelude::*;

#[component]
pub fn TrainingPanel(page: Page) -> impl IntoView {
    let ui = page.ui;
    let ready = move || page.ready();
    let phase_text = move || match ui.phase.get() {
        Phase::Idle => "ready",
        Phase::Running => "training",
        Phase::Paused => "paused",
        Phase::Finished => "finished",
        Phase::Failed => "stopped",
        Phase::Diverged => "stopped: diverged",
    };
    let load_input = NodeRef::<html::Input>::new();
    let on_load = move |_| {
        if let Some(file) = load_input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) {
            page.load_checkpoint(file);
        }
    };
    view! {
        <section class="panel" aria-label="Training">
            <div class="row">
                <button id="start" on:click=move |_| page.start()
                    disabled=move || !ready() || matches!(ui.phase.get(), Phase::Running | Phase::Finished | Phase::Failed | Phase::Diverged)>
                    {move || if ui.phase.get() == Phase::Paused { "Resume" } else { "Start" }}
                </button>
                <button id="pause" on:click=move |_| page.pause() disabled=move || ui.phase.get() != Phase::Running>"Pause"</button>
                <button id="step" on:click=move |_| page.step()
                    disabled=move || !ready() || !matches!(ui.phase.get(), Phase::Idle | Phase::Paused)>"Step (one batch)"</button>
                <button id="reset" on:click=move |_| page.reset()>"Reset"</button>
                <button id="save" on:click=move |_| page.save() disabled=move || ui.phase.get() == Phase::Idle>"Save model (.safetensors)"</button>
                <span id="status" data-phase=phase_text>{phase_text}</span>
            </div>
            <div class="row">
                <label>"Load a model (.safetensors from the page or rnnplay train --save) "
                    <input type="file" id="load-checkpoint" accept=".safetensors" node_ref=load_input on:change=on_load
                        disabled=move || !ready()/>
                </label>
            </div>
            <Show when=move || page.load_error.get().is_some()>
                <p class="error" role="alert" id="load-error">{move || page.load_error.get().unwrap_or_default()}</p>
            </Show>
            <progress max=move || ui.progress.get().epochs.max(1) value=move || ui.progress.get().epoch></progress>
            <p id="progress">{move || ui.progress.get().describe()}</p>
            <Show when=move || ui.run_error.get().is_some()>
                <p class="error" role="alert" id="run-error">{move || ui.run_error.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || ui.device_lost.get() && ui.phase.get() == Phase::Failed>
                <p><button id="continue-on-cpu" on:click=move |_| page.continue_on_cpu()>"Continue on the CPU"</button></p>
            </Show>
        </section>
    }
}
