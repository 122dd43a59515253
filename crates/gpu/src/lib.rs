//! The WebGPU engine: the forward pass and the fused proposal kernel in hand-written WGSL (`shaders/`), run
//! through wgpu natively (Vulkan, Metal, DX12; lavapipe in tests) and in the browser (WebGPU) from the same
//! code.
//!
//! **Invariants:** only [`shaders`] reads `shaders/`; pipelines, bind groups, weights and activations are
//! created once per (model, maximum length) and reused by every step and run; a step records one command
//! encoder and reads back O(masked positions) words; every GPU failure surfaces as a [`GpuError`], never a
//! panic. The CPU reference (`unmask-cpu`) is the oracle every kernel is tested against.

mod buffer;
mod context;
mod engine;
mod kernels;
mod oneshot;
mod params;
mod plan;
pub mod shaders;
mod single;
mod weights;

pub(crate) use buffer::Buffer;
pub use buffer::live_buffers;
pub use context::{AdapterSummary, Gpu};
pub use engine::{GpuModel, GpuOptions};
pub use kernels::KernelSet;
pub use single::{OpRunner, WeightInput};

/// Everything that can go wrong on the device, in words the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU device was lost ({0}); fall back to the CPU engine")]
    DeviceLost(String),
    #[error("out of GPU memory: {0}; try a quantized model or a shorter maximum length")]
    OutOfMemory(String),
    #[error("this model needs what the GPU engine does not support: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Canvas(#[from] unmask_model::CanvasError),
    #[error(transparent)]
    Model(#[from] unmask_model::ModelError),
    #[error("cannot quantize `{name}`: {error}")]
    Quantize { name: String, error: unmask_model::ModelError },
    #[error(transparent)]
    Step(#[from] unmask_sampler::DenoiserError),
    #[error("GPU error: {0}")]
    Internal(String),
}

impl From<GpuError> for unmask_sampler::DenoiserError {
    fn from(error: GpuError) -> Self {
        match error {
            GpuError::Canvas(canvas) => Self::Canvas(canvas),
            GpuError::DeviceLost(why) => Self::DeviceLost(why),
            GpuError::Step(step) => step,
            other => Self::Engine { engine: "GPU", error: std::sync::Arc::new(other) },
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl unmask_sampler::Denoiser for GpuModel {
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &unmask_sampler::ProposalRule,
        key: unmask_sampler::StepKey,
    ) -> Result<Vec<unmask_sampler::Proposal>, unmask_sampler::DenoiserError> {
        let proposals = pollster::block_on(self.propose_with_candidates(canvas, positions, rule, key))?;
        Ok(proposals.into_iter().map(|p| p.proposal).collect())
    }

    fn propose_batch(
        &mut self,
        items: &[unmask_sampler::BatchItem<'_>],
    ) -> Result<Vec<Vec<unmask_sampler::Proposal>>, unmask_sampler::DenoiserError> {
        let answers = pollster::block_on(self.propose_batch_with_candidates(items))?;
        Ok(answers.into_iter().map(|one| one.into_iter().map(|p| p.proposal).collect()).collect())
    }

    fn config(&self) -> &unmask_model::ModelConfig {
        self.config()
    }

    fn max_len(&self) -> usize {
        GpuModel::max_len(self)
    }
}
