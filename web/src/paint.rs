//! Canvas drawing spread over animation frames. A view asks for its canvas to be drawn; the
//! drawing happens on a later animation frame, at most [`FRAME_BUDGET_MS`] of it per frame, and
//! only the newest request of each canvas. The end of an epoch refreshes the curve, the gradient
//! charts and the heatmaps at once: drawn in the message's task they would hold one frame for
//! the lot; here each takes a frame of its own, and a canvas asked for twice before its turn is
//! drawn once. A hidden tab draws nothing until it is shown again.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;

/// Drawing time a frame may take before the rest waits for the next frame (one drawing always
/// runs, however long it takes).
const FRAME_BUDGET_MS: f64 = 6.0;

type Drawing = Box<dyn FnOnce()>;

thread_local! {
    /// Drawings waiting, by the canvas they draw on, oldest request first.
    static WAITING: RefCell<Vec<(String, Drawing)>> = const { RefCell::new(Vec::new()) };
    /// An animation frame has been asked for.
    static ASKED: Cell<bool> = const { Cell::new(false) };
}

/// Draws `draw` on a later animation frame, in place of any drawing `key` still has waiting.
/// Without a window (a worker) it draws at once.
pub fn later(key: &str, draw: impl FnOnce() + 'static) {
    if web_sys::window().is_none() {
        draw();
        return;
    }
    WAITING.with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        match waiting.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = Box::new(draw),
            None => waiting.push((key.to_string(), Box::new(draw))),
        }
    });
    ask_for_frame();
}

/// Draws with plotters on `canvas` on a later frame ([`later`]); a failure is logged with `what`.
pub fn plot_later(
    key: &str,
    canvas: web_sys::HtmlCanvasElement,
    what: &'static str,
    draw: impl FnOnce(&DrawingArea<CanvasBackend, Shift>) -> Result<(), Box<dyn std::error::Error>> + 'static,
) {
    later(key, move || {
        if let Some(backend) = CanvasBackend::with_canvas_object(canvas) {
            let root = backend.into_drawing_area();
            if let Err(err) = draw(&root) {
                leptos::logging::warn!("{what}: {err}");
            }
            let _ = root.present();
        }
    });
}

fn ask_for_frame() {
    if ASKED.with(|asked| asked.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let frame = Closure::once_into_js(draw_waiting);
    if window.request_animation_frame(frame.unchecked_ref()).is_err() {
        ASKED.with(|asked| asked.set(false));
    }
}

/// One frame's drawing: the oldest requests, within the budget.
fn draw_waiting() {
    ASKED.with(|asked| asked.set(false));
    let now = || web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now());
    let started = now();
    loop {
        let next = WAITING.with(|waiting| {
            let mut waiting = waiting.borrow_mut();
            (!waiting.is_empty()).then(|| waiting.remove(0))
        });
        let Some((_, draw)) = next else { return };
        draw();
        if now() - started > FRAME_BUDGET_MS {
            break;
        }
    }
    if WAITING.with(|waiting| !waiting.borrow().is_empty()) {
        ask_for_frame();
    }
}
