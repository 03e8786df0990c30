//! Finding and describing GPU adapters.

use crate::error::{EngineError, Result};

/// One adapter: what a host lists to choose from.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSummary {
    pub name: String,
    /// "Vulkan", "Metal", "Dx12", "Gl" or "BrowserWebGpu".
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu" or "Other".
    pub device_type: String,
    pub driver: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub subgroup_min_size: u32,
    pub subgroup_max_size: u32,
    pub shader_f16: bool,
}

impl AdapterSummary {
    pub(crate) fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        Self {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            shader_f16: adapter.features().contains(wgpu::Features::SHADER_F16),
        }
    }
}

pub(crate) fn instance() -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if cfg!(target_arch = "wasm32") {
        descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    } else if std::env::var_os("WGPU_BACKEND").is_none() {
        // Compute needs no GL; skipping it avoids probing display servers on headless machines.
        descriptor.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(descriptor)
}

/// Every adapter wgpu can see on this machine (natively) or the browser's (on the web).
pub async fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    let adapters = instance.enumerate_adapters(instance_backends()).await;
    adapters.iter().map(AdapterSummary::of).collect()
}

fn instance_backends() -> wgpu::Backends {
    if cfg!(target_arch = "wasm32") {
        wgpu::Backends::BROWSER_WEBGPU
    } else {
        wgpu::Backends::PRIMARY
    }
}

/// The adapter the GPU backend uses: high-performance preference, any device type (lavapipe
/// counts: it is how CI runs GPU kernels).
pub(crate) async fn pick_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|err| EngineError::NoAdapter { reason: err.to_string() })
}
