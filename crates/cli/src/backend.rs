//! Which engine runs the model: the fast CPU engine, the CPU reference, or the WGSL engine on the GPU.

use std::sync::Arc;

use anyhow::{Context, Result};
use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::{ModelConfig, QuantScheme, Weights};
use unmask_sampler::Denoiser;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The fast CPU engine (SIMD, threads; quantized files run quantized).
    Fast,
    /// The plain f32 reference (the oracle every engine is tested against; slow).
    Cpu,
    /// The WGSL engine on the default GPU adapter (Vulkan, Metal or DX12; lavapipe without a GPU).
    Gpu,
}

/// The model loaded on `backend` for canvases of up to `max_len` tokens, decoded `batch` at a time. `quant`
/// quantizes float weights while loading (fast and GPU engines; the reference runs a quantized file
/// dequantized).
pub fn load(
    backend: Backend,
    config: &ModelConfig,
    weights: &Weights,
    quant: Option<QuantScheme>,
    max_len: usize,
    batch: usize,
) -> Result<Box<dyn Denoiser>> {
    Ok(match backend {
        Backend::Cpu => Box::new(CpuModel::load(config, weights)?),
        Backend::Fast => {
            let options = FastOptions { quant, max_len, ..FastOptions::default() };
            Box::new(FastModel::load(config, weights, options)?)
        }
        Backend::Gpu => {
            let gpu = Arc::new(pollster::block_on(Gpu::new())?);
            // One pass holds the whole batch.
            let options = GpuOptions { quant, max_len, batch_rows: Some(max_len * batch), ..GpuOptions::default() };
            let summary = gpu.summary();
            let model = pollster::block_on(GpuModel::load(gpu, config, weights, options))
                .with_context(|| format!("loading the model on {}", summary.name))?;
            Box::new(model)
        }
    })
}
