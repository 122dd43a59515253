//! The reference engine: the forward pass in plain f32 — embedding, RMSNorm, RoPE, grouped-query attention under
//! every attention kind, SwiGLU, mask-gated low-rank updates, final norm, head. It is the oracle every other
//! engine is tested against, so it stays simple.
//!
//! **Invariant:** depends on `unmask-model` and `unmask-sampler` only; no GPU, no SIMD intrinsics.

pub mod compare;
pub mod model;
pub mod ops;

pub use model::CpuModel;

use unmask_sampler::{Denoiser, DenoiserError, Proposal, ProposalRule, StepKey, propose_from_logits};

#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error(transparent)]
    Model(#[from] unmask_model::ModelError),
    #[error(transparent)]
    Canvas(#[from] unmask_model::CanvasError),
    #[error("attention mask has {mask} entries for {seq} tokens")]
    MaskLength { mask: usize, seq: usize },
}

impl From<CpuError> for DenoiserError {
    fn from(error: CpuError) -> Self {
        match error {
            CpuError::Canvas(canvas) => DenoiserError::Canvas(canvas),
            other => DenoiserError::Engine { engine: "reference", error: std::sync::Arc::new(other) },
        }
    }
}

impl Denoiser for CpuModel {
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Proposal>, DenoiserError> {
        let hidden = self.hidden_states(canvas, None)?;
        let rows: Vec<usize> = positions.iter().map(|&q| self.config().logits_row(q as usize)).collect();
        let logits = self.logits_of_rows(&hidden, &rows);
        let vocab = self.config().vocab_size;
        Ok(positions
            .iter()
            .zip(logits.chunks_exact(vocab))
            .map(|(&q, row)| propose_from_logits(row, q, rule, key))
            .collect())
    }

    fn config(&self) -> &unmask_model::ModelConfig {
        self.config()
    }
}
