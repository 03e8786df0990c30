//! `rnnplay bench kernels`: GFLOP/s of every matmul variant on the current adapter, and which
//! variant the runtime picks. Timings are wall-clock around a flush and a one-element
//! read-back, so they include submission overhead: compare variants within one run only.

use anyhow::{Context, Result};
use rnnplay_engine::backend::{backend_from_env, Backend, Kernel, MatmulVariant};
use rnnplay_engine::testing::random_values;
use rnnplay_engine::Tensor;
use std::rc::Rc;
use std::time::Instant;

/// One measured (size, variant) cell.
struct Measurement {
    size: usize,
    variant: MatmulVariant,
    gflops: f64,
    repeats: usize,
}

fn measure(backend: &Rc<dyn Backend>, size: usize, variant: MatmulVariant) -> Result<Measurement> {
    let shape = [size, size];
    let a = Tensor::from_f32(backend, &shape, &random_values(size * size, 1.0, 1))?;
    let b = Tensor::from_f32(backend, &shape, &random_values(size * size, 1.0, 2))?;
    let c = Tensor::zeros(backend, &shape)?;
    let kernel = Kernel::Matmul {
        a: a.id(),
        b: b.id(),
        c: c.id(),
        m: size,
        k: size,
        n: size,
        trans_a: false,
        trans_b: false,
        accumulate: false,
        offsets: [0; 3],
        variant: Some(variant),
    };
    let flops = 2.0 * (size as f64).powi(3);
    // Warm-up: pipeline creation and first-touch costs stay out of the timing.
    backend.run(kernel.clone())?;
    pollster::block_on(backend.read(c.id(), 1))?;
    // Aim for about half a second of work at 10 GFLOP/s, between 1 and 50 repeats.
    let repeats = ((5e9 / flops) as usize).clamp(1, 50);
    let start = Instant::now();
    for _ in 0..repeats {
        backend.run(kernel.clone())?;
    }
    pollster::block_on(backend.read(c.id(), 1))?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Measurement { size, variant, gflops: flops * repeats as f64 / seconds / 1e9, repeats })
}

/// GFLOP/s of the runtime's own matmul variant at 512³: the yardstick of `bench presets`.
pub fn best_gemm_gflops(backend: &Rc<dyn Backend>) -> Result<f64> {
    Ok(measure(backend, 512, backend.info().matmul_variant)?.gflops)
}

pub fn kernels(sizes: &[usize], json: bool) -> Result<()> {
    let backend = pollster::block_on(backend_from_env()).context("opening the backend")?;
    let info = backend.info();
    let picked = info.matmul_variant;
    let mut rows = Vec::new();
    for &size in sizes {
        for variant in MatmulVariant::ALL {
            let m = measure(&backend, size, variant).with_context(|| format!("{} at {size}", variant.name()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "bench": "matmul", "adapter": info.adapter, "api": info.api, "size": size,
                        "variant": variant.name(), "picked": variant == picked,
                        "gflops": m.gflops, "repeats": m.repeats,
                    })
                );
            }
            rows.push(m);
        }
    }
    if json {
        return Ok(());
    }
    println!("matmul GFLOP/s on {} ({}); the runtime picks {}", info.adapter, info.api, picked.name());
    print!("{:>6}", "size");
    for variant in MatmulVariant::ALL {
        print!(" {:>12}", variant.name());
    }
    println!(" {:>16}", "picked/naive");
    for &size in sizes {
        let cells: Vec<&Measurement> = rows.iter().filter(|m| m.size == size).collect();
        print!("{size:>6}");
        for m in &cells {
            let mark = if m.variant == picked { "*" } else { " " };
            print!(" {:>11.2}{mark}", m.gflops);
        }
        let naive = cells.iter().find(|m| m.variant == MatmulVariant::Naive).map_or(f64::NAN, |m| m.gflops);
        let chosen = cells.iter().find(|m| m.variant == picked).map_or(f64::NAN, |m| m.gflops);
        println!(" {:>15.1}×", chosen / naive);
    }
    Ok(())
}
