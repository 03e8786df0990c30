//! `rnnplay bench kernels`: GFLOP/s of every matmul variant on the current adapter, and which
//! variant the runtime picks. Timings are wall-clock around a flush and a one-element
//! read-back, so they include submission overhead: compare variants within one run only.

use anyhow::{Context, Result};
use rnnplay_engine::backend::{Backend, MatmulVariant};
use rnnplay_engine::options::backend_from_env;
use rnnplay_run::bench::gemm_gflops;
use rnnplay_run::clock::wall_clock;
use std::rc::Rc;

/// One measured (size, variant) cell.
struct Measurement {
    size: usize,
    variant: MatmulVariant,
    gflops: f64,
    repeats: usize,
}

fn measure(backend: &Rc<dyn Backend>, size: usize, variant: MatmulVariant) -> Result<Measurement> {
    let (gflops, repeats) = pollster::block_on(gemm_gflops(backend, size, variant, &wall_clock()))?;
    Ok(Measurement { size, variant, gflops, repeats })
}

pub fn kernels(sizes: &[usize], json: bool) -> Result<()> {
    let backend = pollster::block_on(backend_from_env()).context("opening the backend")?;
    let info = backend.info();
    let picked = |size: usize| info.matmul.variant_for(size, size);
    let mut rows = Vec::new();
    for &size in sizes {
        for variant in MatmulVariant::ALL {
            let m = measure(&backend, size, variant).with_context(|| format!("{} at {size}", variant.name()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "bench": "matmul", "adapter": info.adapter, "api": info.api, "size": size,
                        "variant": variant.name(), "picked": variant == picked(size),
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
    println!("matmul GFLOP/s on {} ({}); the runtime picks {}", info.adapter, info.api, info.matmul.describe());
    print!("{:>6}", "size");
    for variant in MatmulVariant::ALL {
        print!(" {:>12}", variant.name());
    }
    println!(" {:>16}", "picked/naive");
    for &size in sizes {
        let cells: Vec<&Measurement> = rows.iter().filter(|m| m.size == size).collect();
        print!("{size:>6}");
        for m in &cells {
            let mark = if m.variant == picked(size) { "*" } else { " " };
            print!(" {:>11.2}{mark}", m.gflops);
        }
        let naive = cells.iter().find(|m| m.variant == MatmulVariant::Naive).map_or(f64::NAN, |m| m.gflops);
        let chosen = cells.iter().find(|m| m.variant == picked(size)).map_or(f64::NAN, |m| m.gflops);
        println!(" {:>15.1}×", chosen / naive);
    }
    Ok(())
}
