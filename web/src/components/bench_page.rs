//! The benchmark page (`?bench=1`): the same presets and measurement as `rnnplay bench
//! presets` (`rnnplay_run::bench`), run in the browser on its backend, in a table that
//! headless Chromium can read (`#bench-table`, one row per preset, layer and replay mode, with
//! `data-*` attributes; `#bench-status[data-phase]` is `running`, `finished` or `failed`).

use crate::bench_options::BenchOptions;
use crate::browser;
use crate::components::dataset_panel::load_time_machine;
use crate::host::{fra_eng_for, load_fra_eng, open_backend, run_data, BackendState};
use crate::protocol::{BenchRow, BenchView, FromWorker, ToWorker};
use crate::worker_link;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_data::Dataset;
use rnnplay_engine::backend::LocalFuture;
use rnnplay_engine::{Backend, EngineOptions};
use rnnplay_run::bench::{best_gemm_gflops, measure_preset, BenchData, Clocks, Layers, Run};
use rnnplay_run::presets::seq2seq_preset;
use rnnplay_run::soak::{endless, growing, growth, soak, MemorySample, SoakHost, Span};
use rnnplay_run::{DataSource, RunSpec};
use std::rc::Rc;

/// The Time Machine: the copy served with the page, else d2l's public address (sha1-checked).
async fn time_machine() -> Result<String, String> {
    match load_time_machine("data/timemachine.txt").await {
        Ok(text) => Ok(text),
        Err(_) => load_time_machine(Dataset::TimeMachine.url()).await,
    }
}

/// Measures what `options` asks for and keeps `view` up to date: in the training worker when
/// there is one (worker.rs calls this), else on the page.
pub async fn measure(options: BenchOptions, view: RwSignal<BenchView>) {
    let say = |phase: &str, text: String| view.update(|v| v.status = (phase.to_string(), text));
    let (backend, state) = open_backend().await;
    let adapter = match state {
        BackendState::Gpu { name, .. } => format!("WebGPU ({name})"),
        BackendState::Cpu(reason) => format!("the CPU backend (WebGPU is not available: {reason})"),
        BackendState::Detecting => "a backend still being detected".into(),
    };
    if let Some((minibatches, spec)) = options.soak {
        return soak_page(backend, &adapter, minibatches, spec, view).await;
    }
    say("running", "loading The Time Machine…".into());
    let text = match time_machine().await {
        Ok(text) => text,
        Err(err) => return say("failed", format!("The Time Machine could not be loaded: {err}")),
    };
    // Without fra-eng beside the page, the encoder-decoder is skipped and the rest still runs.
    let mut presets = options.presets.clone();
    let mut skipped = None;
    let zip = if presets.iter().any(|p| seq2seq_preset(p).is_some()) {
        match load_fra_eng().await {
            Ok(zip) => Some(zip),
            Err(err) => {
                presets.retain(|p| seq2seq_preset(p).is_none());
                skipped = Some(format!("the encoder-decoder is skipped: {err}"));
                None
            }
        }
    } else {
        None
    };
    if presets.is_empty() {
        return say("failed", skipped.unwrap_or_default());
    }
    let data = BenchData { time_machine: &text, fra_eng_zip: zip.as_deref() };
    // The browser has no thread clock: host time is the wall time of the step's calls, which
    // do not wait for the device (WebGPU work runs in the GPU process).
    let now = browser::clock();
    let clocks = Clocks { wall: Rc::clone(&now), host: now };
    say("running", "measuring the best GEMM (512³)…".into());
    browser::sleep(0).await;
    let best = match best_gemm_gflops(&backend, &clocks.wall).await {
        Ok(best) => best,
        Err(err) => return say("failed", format!("the GEMM yardstick failed: {err}")),
    };
    view.update(|v| v.best = best);
    let header = format!(
        "on {adapter}; best GEMM (512³, {}) {best:.2} GFLOP/s; {} warm-up + {} timed minibatches",
        backend.info().matmul.variant_for(512, 512).name(),
        options.warmup,
        options.batches
    );
    view.update(|v| v.header = header);
    for name in &presets {
        let runs: &[Layers] = &options.layers;
        // The first way's tokens/s, by replay setting (index 1: on).
        let mut first_rate = [None; 2];
        for (&layers, &replay) in runs.iter().flat_map(|l| options.replay.iter().map(move |r| (l, r))) {
            say(
                "running",
                format!("measuring {name} ({}, replay {})…", layers.name(), if replay { "on" } else { "off" }),
            );
            // Let the page paint the rows so far before the next measurement takes the thread.
            browser::sleep(0).await;
            let run = Run { layers, replay, warmup: options.warmup, batches: options.batches };
            match measure_preset(&backend, name, &data, &run, &clocks).await {
                Ok(m) => {
                    let speedup = first_rate[usize::from(replay)].map(|rate| rate / m.tokens_per_s);
                    first_rate[usize::from(replay)].get_or_insert(m.tokens_per_s);
                    view.update(|v| v.rows.push(BenchRow { m, speedup }));
                }
                Err(err) => return say("failed", format!("{name}: {err}")),
            }
        }
    }
    say("finished", skipped.map_or("finished".into(), |note| format!("finished; {note}")));
}

/// The soak (`bench_soak=N`): trains the address's run for N minibatches on `backend`,
/// sampling memory 20 times, and judges each quantity flat or growing.
async fn soak_page(
    backend: Rc<dyn Backend>,
    adapter: &str,
    minibatches: usize,
    spec: RunSpec,
    view: RwSignal<BenchView>,
) {
    let say = |phase: &str, text: String| view.update(|v| v.status = (phase.to_string(), text));
    say("running", "loading the run's data…".into());
    let text = match spec.source() {
        DataSource::TimeMachine => match time_machine().await {
            Ok(text) => Some(text),
            Err(err) => return say("failed", format!("The Time Machine could not be loaded: {err}")),
        },
        _ => None,
    };
    let zip = match fra_eng_for(&spec).await {
        Ok(zip) => zip,
        Err(err) => return say("failed", err),
    };
    // Described as the run was asked for; trained until the minibatches are done.
    let described = spec.describe();
    let spec = endless(spec);
    let built = run_data(&spec, zip.as_deref(), text.as_deref())
        .and_then(|data| spec.build(&backend, data, &EngineOptions::default()).map_err(|e| e.to_string()));
    let mut session = match built {
        Ok(session) => session,
        Err(err) => return say("failed", format!("the soak's run could not be built: {err}")),
    };
    view.update(|v| v.header = format!("soak on {adapter}: {described}, for {minibatches} minibatches"));
    say("running", "training…".into());
    let mut on_sample = |sample: &MemorySample| view.update(|v| v.soak.push(*sample));
    let host = SoakHost {
        clock: Rc::new(|| browser::now_ms() / 1000.0),
        memory: &browser::host_memory,
        yield_now: &|| -> LocalFuture<'static, ()> { Box::pin(browser::sleep(0)) },
        on_sample: &mut on_sample,
    };
    let every = Span::Minibatches((minibatches as u64 / 20).max(1));
    let samples = match soak(&mut session, Span::Minibatches(minibatches as u64), every, host).await {
        Ok(samples) => samples,
        Err(err) => return say("failed", format!("the soak stopped: {err}")),
    };
    match growth(&samples) {
        Ok(growths) => {
            let grew = growing(&growths).join(", ");
            view.update(|v| v.growth = growths);
            match grew.is_empty() {
                true => say("finished", "finished: memory stayed flat after the warm-up".into()),
                false => say("failed", format!("memory grew: {grew}")),
            }
        }
        Err(err) => say("failed", err.to_string()),
    }
}

#[component]
pub fn BenchPage(options: BenchOptions) -> impl IntoView {
    // A soak has no throughput table, only its memory samples.
    let soaking = options.soak.is_some();
    let view = RwSignal::new(BenchView {
        status: ("running".to_string(), "opening the backend…".to_string()),
        ..BenchView::default()
    });
    // The training worker measures when there is one, so the page stays responsive; it sends
    // the table as it grows.
    // It listens once its module has loaded, which it says by reporting its backends.
    // `worker=0` measures on the page's own thread (where Chromium shows the JS heap).
    let started = !crate::settings::worker_disabled(&browser::query())
        && worker_link::start(
            move |message| match message {
                FromWorker::Backends(_) => {
                    worker_link::send(&ToWorker::Bench { query: browser::query() });
                }
                FromWorker::Bench(now) => view.set(now),
                _ => {}
            },
            move |_| spawn_local(measure(options_for_page(), view)),
        );
    if !started {
        spawn_local(measure(options, view));
    }
    let rows = move || view.with(|v| v.rows.clone());
    let header = move || view.with(|v| v.header.clone());
    let status = move || view.with(|v| v.status.clone());
    let best = move || view.with(|v| v.best);
    let of_gemm = move |gflops: f64| {
        let b = best();
        if b > 0.0 {
            format!("{:.0}%", 100.0 * gflops / b)
        } else {
            "…".into()
        }
    };
    view! {
        <header>
            <h1>"rnnplay benchmark"</h1>
            <p>"Training throughput of the d2l presets in this browser — the same measurement as "
                <code>"rnnplay bench presets"</code>". "<a href="?">"Back to the playground"</a></p>
        </header>
        <main>
            <section class="panel wide" aria-label="Benchmark">
                <p id="bench-header">{header}</p>
                <p id="bench-status" data-phase=move || status().0 role="status">{move || status().1}</p>
                <Show when=move || !soaking>
                    // Twelve columns do not fit a phone: the table scrolls sideways in its
                    // own box, its cells unbroken, and the page does not.
                    <div class="table-scroll nowrap">
                    <table id="bench-table">
                        <thead><tr>
                            <th>"preset"</th><th>"layers"</th><th>"replay"</th><th>"tokens/s"</th><th>"GFLOP/s"</th><th>"of GEMM"</th>
                            <th>"dispatches/step"</th><th>"submits/step"</th><th>"replayed"</th><th>"host ms/step"</th><th>"peak MiB"</th><th>"first row's speed-up"</th>
                        </tr></thead>
                        <tbody>
                            <For each=move || rows().into_iter().enumerate() key=|(i, _)| *i let:((_, row))>
                                <tr data-preset=row.m.preset.clone() data-layers=row.m.layers.name()
                                    data-replay=if row.m.replay { "on" } else { "off" }
                                    data-replayed=format!("{:.2}", row.m.replayed)
                                    data-host-ms-per-step=format!("{:.3}", row.m.host_ms_per_step)
                                    data-tokens-per-s=format!("{:.1}", row.m.tokens_per_s)
                                    data-dispatches-per-step=format!("{:.1}", row.m.dispatches_per_step)
                                    data-speedup=row.speedup.map(|s| format!("{s:.2}")).unwrap_or_default()>
                                    <td>{row.m.preset.clone()}</td>
                                    <td>{row.m.layers.name()}</td>
                                    <td>{if row.m.replay { "on" } else { "off" }}</td>
                                    <td>{format!("{:.0}", row.m.tokens_per_s)}</td>
                                    <td>{format!("{:.2}", row.m.gflops)}</td>
                                    <td>{move || of_gemm(row.m.gflops)}</td>
                                    <td>{format!("{:.0}", row.m.dispatches_per_step)}</td>
                                    <td>{format!("{:.2}", row.m.submits_per_step)}</td>
                                    <td>{format!("{:.0}%", 100.0 * row.m.replayed)}</td>
                                    <td>{format!("{:.3}", row.m.host_ms_per_step)}</td>
                                    <td>{format!("{:.1}", row.m.peak_mib)}</td>
                                    <td>{row.speedup.map(|s| format!("{s:.1}×")).unwrap_or_default()}</td>
                                </tr>
                            </For>
                        </tbody>
                    </table>
                    </div>
                </Show>
                <Show when=move || view.with(|v| !v.soak.is_empty())>
                    <h2>"Memory during the soak"</h2>
                    <p class="caption">"Sampled between minibatches: a leak shows as a column that keeps rising after the first few rows (the warm-up fills the pools and records the replayed step). The JS heap is Chromium's, and only on the page's own thread (add worker=0 to the address)."</p>
                    <div class="table-scroll nowrap">
                    <table id="soak-table">
                        <thead><tr>
                            <th>"minibatches"</th><th>"seconds"</th><th>"live buffers"</th><th>"live buffer MiB"</th>
                            <th>"pooled buffer MiB"</th><th>"wasm memory MiB"</th><th>"JS heap MiB"</th>
                        </tr></thead>
                        <tbody>
                            <For each=move || view.with(|v| v.soak.clone()).into_iter().enumerate() key=|(i, _)| *i let:((_, s))>
                                <tr data-minibatches=s.minibatches data-live-buffers=s.device.live_buffers
                                    data-wasm-bytes=s.host.resident.unwrap_or_default()
                                    data-js-heap-bytes=s.host.js_heap.map(|b| b.to_string()).unwrap_or_default()>
                                    <td>{s.minibatches}</td>
                                    <td>{format!("{:.1}", s.seconds)}</td>
                                    <td>{s.device.live_buffers}</td>
                                    <td>{mib(s.device.live_bytes)}</td>
                                    <td>{mib(s.device.pooled_bytes)}</td>
                                    <td>{s.host.resident.map(mib).unwrap_or_else(|| "?".into())}</td>
                                    <td>{s.host.js_heap.map(mib).unwrap_or_else(|| "?".into())}</td>
                                </tr>
                            </For>
                        </tbody>
                    </table>
                    </div>
                    <ul id="soak-verdict">
                        <For each=move || view.with(|v| v.growth.clone()).into_iter().enumerate() key=|(i, _)| *i let:((_, g))>
                            <li data-name=g.name.clone() data-flat=if g.flat() { "yes" } else { "no" }>{g.describe()}</li>
                        </For>
                    </ul>
                </Show>
            </section>
        </main>
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1 << 20) as f64)
}

/// The page's options, read again (the worker's failure handler needs its own copy).
fn options_for_page() -> BenchOptions {
    BenchOptions::from_query(&browser::query()).ok().flatten().unwrap_or_default()
}

/// The benchmark page when its URL options do not parse.
#[component]
pub fn BenchError(message: String) -> impl IntoView {
    view! {
        <header><h1>"rnnplay benchmark"</h1></header>
        <div class="banner warn" role="alert" id="url-error">{format!("{message}. ")}<a href="?bench=1">"Run the default benchmark"</a></div>
    }
}
