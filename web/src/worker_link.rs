//! The page's end of the training worker (worker.rs): starting it, sending it commands and
//! receiving what it reports. Where a browser cannot start a module worker, the page runs the
//! loop itself (app.rs keeps that path).

use crate::protocol::{FromWorker, ToWorker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static WORKER: std::cell::RefCell<Option<web_sys::Worker>> = const { std::cell::RefCell::new(None) };
}

/// Starts `worker.js` (served beside the page) as a module worker; `on_message` gets what it
/// reports, `on_failure` runs if it cannot load (the page then trains by itself).
pub fn start(mut on_message: impl FnMut(FromWorker) + 'static, on_failure: impl FnOnce(String) + 'static) -> bool {
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let Ok(worker) = web_sys::Worker::new_with_options("./worker.js", &options) else { return false };
    let messages = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        if let Some(Ok(message)) = read(&event.data()) {
            on_message(message);
        }
    });
    worker.set_onmessage(Some(messages.as_ref().unchecked_ref()));
    messages.forget();
    let mut on_failure = Some(on_failure);
    let errors = Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
        WORKER.with(|w| *w.borrow_mut() = None);
        if let Some(failed) = on_failure.take() {
            failed("the training worker could not start".into());
        }
    });
    worker.set_onerror(Some(errors.as_ref().unchecked_ref()));
    errors.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    true
}

/// A message from the worker: JSON text, or `[text, bytes]` for a message with a checkpoint
/// (`FromWorker::take_bytes`).
fn read(data: &JsValue) -> Option<Result<FromWorker, String>> {
    if let Some(text) = data.as_string() {
        return Some(FromWorker::from_json(&text));
    }
    let parts = data.dyn_ref::<js_sys::Array>()?;
    let bytes = parts.get(1).dyn_into::<js_sys::Uint8Array>().ok()?;
    Some(FromWorker::from_json(&parts.get(0).as_string()?).map(|mut message| {
        message.put_bytes(bytes.to_vec());
        message
    }))
}

/// Sends `message` to the worker; false when there is none (the page trains by itself).
pub fn send(message: &ToWorker) -> bool {
    WORKER.with(|w| match w.borrow().as_ref() {
        Some(worker) => worker.post_message(&JsValue::from_str(&message.to_json())).is_ok(),
        None => false,
    })
}

/// Whether a worker runs the training.
pub fn active() -> bool {
    WORKER.with(|w| w.borrow().is_some())
}
