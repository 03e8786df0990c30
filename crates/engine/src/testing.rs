//! Helpers shared by the engine's tests and the workspace tests: opening the GPU backend the
//! way CI requires, and deterministic test data.

use crate::backend::{require_gpu, Backend, GpuBackend};
use crate::options::EngineOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The GPU backend with the options of the environment (`EngineOptions::from_env`), or `None`
/// when no adapter exists and `RNNPLAY_REQUIRE_GPU` is not `1`.
///
/// # Panics
/// With `RNNPLAY_REQUIRE_GPU=1` and no adapter, so that CI fails instead of skipping; and when
/// the environment names an unknown matmul variant or time loop. `RNNPLAY_TIME_LOOP=step` runs
/// the GPU tests with per-step recurrent kernels.
pub fn gpu_or_skip(test: &str) -> Option<GpuBackend> {
    let options = EngineOptions::from_env().unwrap_or_else(|err| panic!("{test}: {err}"));
    match pollster::block_on(GpuBackend::new(options.matmul, options.subgroups)) {
        Ok(gpu) => {
            if let Some(time_loop) = options.time_loop {
                gpu.set_time_loop(time_loop);
            }
            Some(gpu)
        }
        Err(err) if require_gpu() => panic!(
            "{test}: RNNPLAY_REQUIRE_GPU=1 but the GPU backend failed: {err}. \
             Install lavapipe with `apt-get install mesa-vulkan-drivers libvulkan1`."
        ),
        Err(err) => {
            eprintln!("{test}: skipped, no GPU adapter ({err})");
            None
        }
    }
}

/// `len` values uniform in [-scale, scale) from a fixed seed.
pub fn random_values(len: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Asserts |a - b| ≤ atol + rtol·|b| element-wise, naming the first offending index.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], rtol: f32, atol: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= atol + rtol * e.abs() && a.is_finite() == e.is_finite(),
            "{what}: element {i}: got {a}, expected {e} (rtol {rtol}, atol {atol})"
        );
    }
}

/// The message of an error a test expects.
///
/// # Panics
/// When `result` is not an error.
pub fn error_text(result: crate::Result<impl Sized>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(err) => err.to_string(),
    }
}
