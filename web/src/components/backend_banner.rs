//! The banner at the top: which backend runs train on and why (WebGPU or the page's CPU backend,
//! the figures measured on this model size or remembered by the browser), with “Train on” and
//! “CPU cores” beside it.

use crate::backend_choice::{banner, parse_remembered, storage_key, Choice, SpeedNote};
use crate::browser::{self, available_cores};
use crate::host::BackendState;
use crate::page::Page;
use crate::settings::{cores_for, CORE_CHOICES};
use crate::ui::Phase;
use crate::worker_link;
use leptos::prelude::*;

#[component]
pub fn BackendBanner(page: Page) -> impl IntoView {
    let locked = move || page.ui.phase.get() != Phase::Idle;
    move || {
        let state = page.backend_state.get();
        if state == BackendState::Detecting {
            return view! { <div class="banner" id="backend">"Looking for WebGPU…"</div> }.into_any();
        }
        // The figures for the model size the settings describe now: measured this visit, or
        // remembered by this browser.
        let note = match &state {
            BackendState::Gpu { name, .. } => {
                let key = storage_key(name, &page.settings.get());
                match page.speed_note.get() {
                    Some((noted, note)) if noted == key => Some(note),
                    _ => browser::stored(&key)
                        .and_then(|text| parse_remembered(&text))
                        .map(|speeds| SpeedNote { speeds, remembered: true }),
                }
            }
            _ => None,
        };
        let (class, kind, text) = banner(
            &state,
            page.gpu_lost.get(),
            page.use_cpu.get(),
            page.choice.get(),
            note.as_ref(),
            page.measuring.get(),
        );
        let has_gpu = matches!(state, BackendState::Gpu { .. }) && !page.gpu_lost.get();
        let picked = move |c: Choice| page.choice.get() == c;
        let choose = move |ev: leptos::ev::Event| {
            let picked = Choice::parse(&event_target_value(&ev));
            page.choice.set(picked);
            match picked {
                Choice::Gpu => page.use_cpu.set(false),
                Choice::Cpu => page.use_cpu.set(true),
                Choice::Auto => {}
            }
        };
        let cores = page.cores;
        view! {
            <div class=class id="backend" data-backend=kind data-measured=note.is_some().to_string() role="status">
                {text}
                <Show when=move || has_gpu>
                    <label class="backend-choice">" Train on "
                        <select id="backend-choice" disabled=locked on:change=choose>
                            <option value=Choice::Auto.value() selected=move || picked(Choice::Auto)>"the faster, measured"</option>
                            <option value=Choice::Gpu.value() selected=move || picked(Choice::Gpu)>"WebGPU"</option>
                            <option value=Choice::Cpu.value() selected=move || picked(Choice::Cpu)>"this page's CPU backend"</option>
                        </select>
                    </label>
                </Show>
                <Show when=worker_link::active>
                    <label class="backend-choice" title="Each core trains its share of every minibatch's rows in its own Web Worker; the numbers match one core's up to rounding.">" CPU cores "
                        <select id="cores-choice" disabled=locked on:change=move |ev| cores.set(event_target_value(&ev).parse().ok())>
                            <option value="auto" selected=move || cores.get().is_none()>
                                {move || format!("auto: {}", cores_for(None, available_cores(), page.settings.with(|s| s.batch_size)))}
                            </option>
                            {CORE_CHOICES.iter().map(|&n| view! {
                                <option value=n.to_string() selected=move || cores.get() == Some(n)>{n.to_string()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                </Show>
            </div>
        }
        .into_any()
    }
}
