//! Small wrappers over browser APIs: yielding to the event loop, fetching and reading files,
//! downloads, the URL, the clock. The clock, the yield and fetch work in the page and in its
//! training worker alike.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no browser window".to_string())
}

/// The worker's global scope, when this code runs in one (there is no window there).
fn worker_scope() -> Option<web_sys::WorkerGlobalScope> {
    js_sys::global().dyn_into::<web_sys::WorkerGlobalScope>().ok()
}

/// True inside a worker.
pub fn in_worker() -> bool {
    web_sys::window().is_none() && worker_scope().is_some()
}

/// This dedicated worker's global scope (the training worker's, a helper's); `None` elsewhere.
pub fn dedicated_scope() -> Option<web_sys::DedicatedWorkerGlobalScope> {
    js_sys::global().dyn_into::<web_sys::DedicatedWorkerGlobalScope>().ok()
}

/// Posts `text` to whoever started this worker (nothing outside a worker).
pub fn post_to_parent(text: &str) {
    if let Some(scope) = dedicated_scope() {
        let _ = scope.post_message(&JsValue::from_str(text));
    }
}

/// Posts `[text, bytes]` to whoever started this worker, the bytes' buffer transferred, not
/// copied into text.
pub fn post_to_parent_with(text: &str, bytes: &[u8]) {
    if let Some(scope) = dedicated_scope() {
        let array = js_sys::Uint8Array::from(bytes);
        let message = js_sys::Array::of2(&JsValue::from_str(text), &array);
        let _ = scope.post_message_with_transfer(&message, &js_sys::Array::of1(&array.buffer()));
    }
}

/// The cores this browser reports (`navigator.hardwareConcurrency`), in a page or a worker;
/// 1 when it reports none.
pub fn available_cores() -> usize {
    let reported = match worker_scope() {
        Some(scope) => scope.navigator().hardware_concurrency(),
        None => web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency()),
    };
    if reported.is_finite() && reported >= 1.0 {
        reported as usize
    } else {
        1
    }
}

fn js_error(value: JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// Waits for a macrotask (`setTimeout(…, ms)`), so the browser can paint and handle input
/// between training batches. A microtask would not let it.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        } else if let Some(scope) = worker_scope() {
            let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the page (or the worker) started.
pub fn now_ms() -> f64 {
    let performance = match web_sys::window() {
        Some(window) => window.performance(),
        None => worker_scope().and_then(|scope| scope.performance()),
    };
    performance.map_or(0.0, |p| p.now())
}

/// Seconds from `performance.now()`, as the engine's measurements read a clock.
pub fn clock() -> rnnplay_run::clock::Clock {
    std::rc::Rc::new(|| now_ms() / 1000.0)
}

/// The bytes of a same-origin file, or why they could not be had.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let request = match (web_sys::window(), worker_scope()) {
        (Some(window), _) => window.fetch_with_str(url),
        (None, Some(scope)) => scope.fetch_with_str(url),
        (None, None) => return Err("no window or worker to fetch with".into()),
    };
    let response: web_sys::Response = JsFuture::from(request).await.map_err(js_error)?.dyn_into().map_err(js_error)?;
    if !response.ok() {
        return Err(format!("HTTP {} for {url}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?).await.map_err(js_error)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// The bytes of a file the user picked.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(js_error)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Offers `bytes` as a download called `name`.
pub fn download(name: &str, bytes: &[u8]) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let document = window()?.document().ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(js_error)?.dyn_into().map_err(|_| "not an anchor element")?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    web_sys::Url::revoke_object_url(&url).map_err(js_error)
}

/// The page's query string (`?a=1&b=2`, or empty).
pub fn query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// Replaces the query string without reloading or adding a history entry.
pub fn set_query(query: &str) {
    let Some(window) = web_sys::window() else { return };
    let path = window.location().pathname().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{query}")));
    }
}

/// The page's localStorage, where the browser lets it keep anything.
fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The value localStorage keeps under `key` (`None` where the page may keep nothing).
pub fn stored(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Keeps `value` under `key` in localStorage, where the page may keep anything (else nothing).
pub fn store(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

/// True the first time this browser opens the page (remembered in localStorage; false where
/// the page may keep nothing).
pub fn first_visit() -> bool {
    const KEY: &str = "rnnplay-visited";
    let Some(storage) = local_storage() else { return false };
    let first = storage.get_item(KEY).ok().flatten().is_none();
    let _ = storage.set_item(KEY, "1");
    first
}

/// What the page can see of its own memory: the wasm linear memory (where the engine's CPU
/// buffers and everything Rust allocates live; it never shrinks) and, in Chromium, the JS heap
/// in use (`performance.memory`, non-standard: `None` elsewhere).
pub fn host_memory() -> rnnplay_run::soak::HostMemory {
    let wasm = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|memory| memory.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map(|buffer| buffer.byte_length() as u64);
    let js_heap = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .and_then(|performance| js_sys::Reflect::get(&performance, &"memory".into()))
        .and_then(|memory| js_sys::Reflect::get(&memory, &"usedJSHeapSize".into()))
        .ok()
        .and_then(|used| used.as_f64())
        .map(|used| used as u64);
    rnnplay_run::soak::HostMemory { resident: wasm, js_heap }
}
