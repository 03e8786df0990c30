//! `rnnplay devices`: what the engine can run on here.

use anyhow::{Context, Result};
use rnnplay_engine::backend::list_adapters;
use rnnplay_engine::options::backend_from_env;

pub fn run(json: bool) -> Result<()> {
    let adapters = pollster::block_on(list_adapters());
    if json {
        for adapter in &adapters {
            let line = serde_json::json!({
                "name": adapter.name,
                "backend": adapter.backend,
                "device_type": adapter.device_type,
                "driver": adapter.driver,
                "max_storage_buffer_binding_size": adapter.max_storage_buffer_binding_size,
                "max_buffer_size": adapter.max_buffer_size,
                "max_compute_workgroup_storage_size": adapter.max_compute_workgroup_storage_size,
                "max_compute_invocations_per_workgroup": adapter.max_compute_invocations_per_workgroup,
                "subgroup_min_size": adapter.subgroup_min_size,
                "subgroup_max_size": adapter.subgroup_max_size,
                "shader_f16": adapter.shader_f16,
            });
            println!("{line}");
        }
        return Ok(());
    }
    if adapters.is_empty() {
        println!("no GPU adapters found.");
        println!("  Linux without a GPU: `apt-get install mesa-vulkan-drivers libvulkan1` gives the lavapipe software adapter.");
    }
    for (index, adapter) in adapters.iter().enumerate() {
        println!("[{index}] {} — {} {}", adapter.name, adapter.backend, adapter.device_type);
        println!("    driver: {}", adapter.driver);
        println!(
            "    max storage binding: {} MiB, max buffer: {} MiB, workgroup storage: {} KiB, invocations/workgroup: {}",
            adapter.max_storage_buffer_binding_size >> 20,
            adapter.max_buffer_size >> 20,
            adapter.max_compute_workgroup_storage_size >> 10,
            adapter.max_compute_invocations_per_workgroup
        );
        println!(
            "    subgroups: {}..{}, shader-f16: {}",
            adapter.subgroup_min_size, adapter.subgroup_max_size, adapter.shader_f16
        );
    }
    let backend = pollster::block_on(backend_from_env()).context("opening the backend RNNPLAY_BACKEND selects")?;
    let info = backend.info();
    println!(
        "selected backend: {:?} on {} ({}), matmul variant {}, subgroup kernels {}, recurrent time loop {} (set RNNPLAY_BACKEND=gpu|cpu, RNNPLAY_MATMUL=naive|blocked4x4|tiled16, RNNPLAY_SUBGROUPS=0, RNNPLAY_TIME_LOOP=window|step)",
        info.kind,
        info.adapter,
        info.api,
        info.matmul.describe(),
        if info.subgroups { "on" } else { "off" },
        backend.time_loop().name()
    );
    Ok(())
}
