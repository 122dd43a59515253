//! The fast CPU engine: the same forward pass as the reference (`unmask-cpu`, its oracle), built for speed.
//! Cache-blocked, register-tiled SIMD matmuls over f32, q8 or q4 weights (int8 dot products where the CPU has
//! AVX-512 VNNI, otherwise dequantized a panel at a time),
//! q|k|v and gate|up fused into one matmul each, attention that keeps one score row per query, buffers
//! allocated once per (model, maximum length), threads natively and one thread with SIMD128 in the browser.
//!
//! **Invariant:** proposals come from `unmask_sampler::propose_from_logits`, as in the reference, so one
//! seed gives one trace on every CPU engine (float ties aside).

mod attention;
mod gemm;
#[cfg(target_arch = "x86_64")]
mod int8;
mod math;
mod matrix;
mod model;
mod peak;
mod pool;

pub use model::{FastModel, FastOptions};
pub use peak::fma_peak_gflops;
use unmask_sampler::{
    Denoiser, DenoiserError, Proposal, ProposalRule, Scored, StepKey, candidates, propose_from_logits,
};

/// Whether this CPU multiplies quantized weights with int8 dot products (see [`FastOptions::int8_dot`]).
pub fn int8_dot_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return int8::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[derive(Debug, thiserror::Error)]
pub enum FastError {
    #[error(transparent)]
    Model(#[from] unmask_model::ModelError),
    #[error(transparent)]
    Canvas(#[from] unmask_model::CanvasError),
    #[error("cannot quantize `{name}`: {message}")]
    Quantize { name: String, message: String },
}

impl FastModel {
    /// One denoising step's model work: a forward pass over `canvas`, then a proposal for every masked position
    /// in `positions`, each with its `top` most likely candidates (`unmask_sampler::candidates`; 0 skips them).
    pub fn propose_scored(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
        top: usize,
    ) -> Result<Vec<Scored>, FastError> {
        let rows: Vec<usize> = positions.iter().map(|&q| self.config().logits_row(q as usize)).collect();
        let canvas = &canvas[..self.config().rows_needed(positions, canvas.len())];
        let logits = self.logits_of_rows(canvas, &rows)?;
        let vocab = self.config().vocab_size;
        // Proposals are independent per row (f64 softmax over the vocabulary): split them over the threads.
        let score_rows = |out: &mut [Scored], at: &[u32], rows: &[f32]| {
            for ((scored, &q), row) in out.iter_mut().zip(at).zip(rows.chunks_exact(vocab)) {
                scored.proposal = propose_from_logits(row, q, rule, key);
                if top > 0 {
                    scored.candidates = candidates(row, rule, top);
                }
            }
        };
        let blank = Scored { proposal: Proposal { position: 0, token: 0, score: 0.0 }, candidates: Vec::new() };
        let mut scored = vec![blank; positions.len()];
        let per_task = self.pool().rows_per_task(positions.len());
        let tasks: Vec<_> =
            scored.chunks_mut(per_task).zip(positions.chunks(per_task)).zip(logits.chunks(per_task * vocab)).collect();
        self.pool().each(tasks, |_, ((out, at), rows)| score_rows(out, at, rows));
        Ok(scored)
    }
}

impl From<FastError> for DenoiserError {
    fn from(error: FastError) -> Self {
        match error {
            FastError::Canvas(canvas) => DenoiserError::Canvas(canvas),
            other => DenoiserError::Engine { engine: "fast", message: other.to_string() },
        }
    }
}

impl Denoiser for FastModel {
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Proposal>, DenoiserError> {
        let scored = self.propose_scored(canvas, positions, rule, key, 0)?;
        Ok(scored.into_iter().map(|s| s.proposal).collect())
    }

    fn mask_token_id(&self) -> u32 {
        self.config().mask_token_id
    }

    fn max_len(&self) -> usize {
        self.options().max_len
    }
}
