//! The fast CPU engine: the same forward pass as the reference (`unmask-cpu`, its oracle), built for speed.
//! Cache-blocked, register-tiled SIMD matmuls over f32, q8 or q4 weights (dequantized a panel at a time),
//! q|k|v and gate|up fused into one matmul each, attention that keeps one score row per query, buffers
//! allocated once per (model, maximum length), threads natively and one thread with SIMD128 in the browser.
//!
//! **Invariant:** proposals come from `unmask_sampler::propose_from_logits`, as in the reference, so one
//! seed gives one trace on every CPU engine (float ties aside).

mod attention;
mod gemm;
mod math;
mod model;

pub use model::{FastModel, FastOptions};
use unmask_sampler::{Denoiser, Proposal, ProposalRule, StepKey, propose_from_logits};

#[derive(Debug, thiserror::Error)]
pub enum FastError {
    #[error(transparent)]
    Model(#[from] unmask_model::ModelError),
    #[error("canvas of {len} tokens is longer than the engine's maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("token id {token} is outside the vocabulary (size {vocab})")]
    TokenOutOfRange { token: u32, vocab: usize },
    #[error("row {row} is outside the canvas of {seq} tokens")]
    RowOutOfRange { row: usize, seq: usize },
}

impl Denoiser for FastModel {
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Proposal>, String> {
        let rows: Vec<usize> = positions.iter().map(|&q| self.config().logits_row(q as usize)).collect();
        let logits = self.logits_of_rows(canvas, &rows).map_err(|e| e.to_string())?;
        let vocab = self.config().vocab_size;
        // Proposals are independent per row (f64 softmax over the vocabulary): split them over the threads.
        let propose_rows = |out: &mut [Proposal], at: &[u32], rows: &[f32]| {
            for ((p, &q), row) in out.iter_mut().zip(at).zip(rows.chunks_exact(vocab)) {
                *p = propose_from_logits(row, q, rule, key);
            }
        };
        let mut proposals = vec![Proposal { position: 0, token: 0, score: 0.0 }; positions.len()];
        let threads = self.options().threads.clamp(1, positions.len().max(1));
        if threads == 1 {
            propose_rows(&mut proposals, positions, &logits);
            return Ok(proposals);
        }
        let per_thread = positions.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for ((out, at), rows) in proposals
                .chunks_mut(per_thread)
                .zip(positions.chunks(per_thread))
                .zip(logits.chunks(per_thread * vocab))
            {
                scope.spawn(move || propose_rows(out, at, rows));
            }
        });
        Ok(proposals)
    }

    fn mask_token_id(&self) -> u32 {
        self.config().mask_token_id
    }

    fn max_len(&self) -> usize {
        self.options().max_len
    }
}
