//! The fast CPU engine: the same forward pass as the reference (`unmask-cpu`, its oracle), built for speed.
//! Cache-blocked, register-tiled SIMD matmuls over f32, q8 or q4 weights (int8 dot products where the CPU has
//! AVX-512 VNNI, 16-bit ones in wasm, otherwise dequantized a panel at a time),
//! q|k|v and gate|up fused into one matmul each, attention that keeps one score row per query, buffers
//! allocated once per (model, maximum length), threads natively and one thread with SIMD128 in the browser.
//!
//! **Invariant:** proposals come from `unmask_sampler::propose_from_logits`, as in the reference, so one
//! seed gives one trace on every CPU engine (float ties aside).

mod attention;
mod gemm;
#[cfg(any(target_arch = "wasm32", test))]
mod int16;
#[cfg(target_arch = "x86_64")]
mod int8;
mod math;
mod matrix;
mod model;
mod peak;
mod pool;
mod shard;
mod tile;

pub use model::{FastModel, FastOptions};
pub use peak::fma_peak_gflops;
pub use shard::{Exchange, Shard, ThreadExchange};
use unmask_sampler::{BatchItem, Denoiser, DenoiserError, Proposal, ProposalRule, Scored, StepKey, score_logits};

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
    #[error("a batch of {len} canvases: expected 1 to {}", unmask_sampler::MAX_BATCH)]
    Batch { len: usize },
    #[error("out of memory: could not allocate {bytes} bytes of activations")]
    OutOfMemory { bytes: usize },
    #[error("the model's shards could not work together: {0}")]
    Shard(String),
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
        let item = BatchItem { canvas, positions, rule: *rule, key };
        Ok(self.propose_scored_batch(&[item], top)?.pop().expect("one canvas in, one out"))
    }

    /// [`propose_scored`](Self::propose_scored) for several canvases in one forward pass.
    pub fn propose_scored_batch(&mut self, items: &[BatchItem<'_>], top: usize) -> Result<Vec<Vec<Scored>>, FastError> {
        let config = self.config();
        let rows: Vec<Vec<usize>> =
            items.iter().map(|i| i.positions.iter().map(|&q| config.logits_row(q as usize)).collect()).collect();
        let canvases: Vec<(&[u32], &[usize])> = items
            .iter()
            .zip(&rows)
            .map(|(i, rows)| (&i.canvas[..config.rows_needed(i.canvas, i.positions)], rows.as_slice()))
            .collect();
        let logits = self.logits_of_rows_batch(&canvases)?;
        if self.shard().index > 0 {
            // Every shard has the whole logits, and the first shard's proposals are the model's.
            return Ok(items.iter().map(|_| Vec::new()).collect());
        }
        let vocab = self.config().vocab_size;
        let blank = Scored { proposal: Proposal { position: 0, token: 0, score: 0.0 }, candidates: Vec::new() };
        let mut scored: Vec<Vec<Scored>> = items.iter().map(|i| vec![blank.clone(); i.positions.len()]).collect();
        // The batch's positions are scored in parallel as a whole, in shares of about equal size.
        let total: usize = items.iter().map(|i| i.positions.len()).sum();
        let per_task = self.pool().rows_per_task(total);
        let mut tasks: Vec<Share> = Vec::new();
        let mut rest = logits.as_slice();
        for (out, item) in scored.iter_mut().zip(items) {
            let (logits, after) = rest.split_at(item.positions.len() * vocab);
            rest = after;
            let shares =
                out.chunks_mut(per_task).zip(item.positions.chunks(per_task)).zip(logits.chunks(per_task * vocab));
            tasks.extend(shares.map(|((out, at), rows)| Share { out, at, rows, item }));
        }
        self.pool().each(tasks, |_, share| {
            for ((scored, &q), row) in share.out.iter_mut().zip(share.at).zip(share.rows.chunks_exact(vocab)) {
                *scored = score_logits(row, q, &share.item.rule, share.item.key, top);
            }
        });
        Ok(scored)
    }
}

/// One task's part of a batch's scoring: some positions of one canvas, their logits rows and the rule.
struct Share<'a> {
    out: &'a mut [Scored],
    at: &'a [u32],
    rows: &'a [f32],
    item: &'a BatchItem<'a>,
}

impl From<FastError> for DenoiserError {
    fn from(error: FastError) -> Self {
        match error {
            FastError::Canvas(canvas) => DenoiserError::Canvas(canvas),
            FastError::Batch { len } => DenoiserError::Batch { len },
            other => DenoiserError::Engine { engine: "fast", error: std::sync::Arc::new(other) },
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

    fn propose_batch(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Proposal>>, DenoiserError> {
        let scored = self.propose_scored_batch(items, 0)?;
        Ok(scored.into_iter().map(|one| one.into_iter().map(|s| s.proposal).collect()).collect())
    }

    fn config(&self) -> &unmask_model::ModelConfig {
        self.config()
    }

    fn max_len(&self) -> usize {
        self.options().max_len
    }
}
