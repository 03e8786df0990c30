//! Clocks for measurements, given by the host: `Instant` natively, `performance.now()` in the
//! page, so the engine's measurements (the benchmark, the backend choice, the soak) have no
//! platform code.

use std::rc::Rc;

/// A clock in seconds from any fixed origin.
pub type Clock = Rc<dyn Fn() -> f64>;

/// Seconds since this call, from the OS's monotonic clock (natively; the browser hosts read
/// `performance.now()` instead).
#[cfg(not(target_arch = "wasm32"))]
pub fn wall_clock() -> Clock {
    let origin = std::time::Instant::now();
    Rc::new(move || origin.elapsed().as_secs_f64())
}
