//! rnnplay's web page: a leptos (CSR) front end that trains the engine's models in the browser,
//! on WebGPU when the browser offers it and on the CPU backend otherwise. With `?bench=1` it is
//! the benchmark page instead. `settings`, `runs`, `protocol`, `views`, `backend_choice` and
//! `bench_options` are plain Rust (tested natively); everything else exists only on wasm32.

pub mod backend_choice;
pub mod bench_options;
pub mod protocol;
pub mod runs;
pub mod settings;
mod view_signals;
pub mod views;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod components;
#[cfg(target_arch = "wasm32")]
mod core_workers;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod keeper;
#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod paint;
#[cfg(target_arch = "wasm32")]
mod run_loop;
#[cfg(target_arch = "wasm32")]
mod storage;
#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod worker;
#[cfg(target_arch = "wasm32")]
mod worker_link;
#[cfg(target_arch = "wasm32")]
mod worker_reports;

/// Entry point: wasm-bindgen calls it when the module loads.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    // In the training worker there is no page to mount: worker.js calls `worker_main`.
    if browser::in_worker() {
        return;
    }
    use components::bench_page::{BenchError, BenchErrorProps, BenchPage, BenchPageProps};
    match bench_options::BenchOptions::from_query(&browser::query()) {
        Ok(None) => leptos::mount::mount_to_body(app::App),
        Ok(Some(options)) => {
            leptos::mount::mount_to_body(move || BenchPage(BenchPageProps { options: options.clone() }))
        }
        Err(message) => leptos::mount::mount_to_body(move || BenchError(BenchErrorProps { message: message.clone() })),
    }
}
