//! Masked-diffusion decoding: Dream / DiffuCoder, LLaDA, confidence-threshold (Fast-dLLM) and a left-to-right
//! baseline, infilling, counter-based randomness and decode-order metrics. `SAMPLING.md` beside this crate is
//! the normative specification; this crate, the WGSL kernels and the Python reference implement it.
//!
//! **Invariant:** no GPU, no DOM, no clock, no global RNG. One sampler serves every backend; backends differ
//! only in how they compute a [`Proposal`] ([`Denoiser`]).

pub mod contract;
pub mod decode;
pub mod metrics;
pub mod params;
pub mod proposal;
pub mod recommended;
pub mod rng;

pub use decode::{
    BatchDecode, BatchObserver, Decode, Decoded, DecodedTexts, Observer, Request, Unobserved, generate, generate_batch,
    initial_canvas,
};
pub use params::{Algorithm, DreamAlg, Remasking, SamplerConfig};
pub use proposal::{
    CANDIDATES, ProposalRule, ScoreKind, Scored, TokenDraw, candidates, propose_from_logits, score_logits,
};
pub use recommended::{Recommended, RecommendedError};
pub use rng::StepKey;
pub use unmask_model::trace::Proposal;

/// A model that, given the canvas, proposes a token and a score for masked positions.
pub trait Denoiser {
    /// One proposal per entry of `positions` (all masked, increasing), in the same order. The backend runs
    /// the forward pass over the whole `canvas` (with the model's attention kind), applies the model's logit
    /// shift, and turns each position's logits row into a proposal as [`propose_from_logits`] does.
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Proposal>, DenoiserError>;

    /// Proposals for several canvases at once, one list per item in item order. Each item's answer is exactly
    /// what [`propose`](Denoiser::propose) gives for that item alone; an engine that can runs them as one
    /// forward pass over every canvas's rows (attention stays inside each canvas), which reads the weights
    /// once for the whole batch. The default runs them one by one.
    fn propose_batch(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Proposal>>, DenoiserError> {
        check_batch(items.len())?;
        items.iter().map(|i| self.propose(i.canvas, i.positions, &i.rule, i.key)).collect()
    }

    /// The model this engine runs.
    fn config(&self) -> &unmask_model::ModelConfig;

    /// The longest canvas this engine accepts: the model's context, or less where the engine was sized for less.
    fn max_len(&self) -> usize {
        self.config().max_position_embeddings
    }

    fn mask_token_id(&self) -> u32 {
        self.config().mask_token_id
    }

    /// The tokens that end an answer (end of text, padding): where `stop_at_end` may stop a decode.
    fn end_token_ids(&self) -> Vec<u32> {
        self.config().end_token_ids()
    }
}

/// The most canvases one batched step may hold: every engine sizes per-canvas buffers from the batch, so the
/// batch is bounded before anything is allocated from it.
pub const MAX_BATCH: usize = 64;

/// Refuses an empty batch or one larger than [`MAX_BATCH`].
pub fn check_batch(len: usize) -> Result<(), DenoiserError> {
    if len == 0 || len > MAX_BATCH {
        return Err(DenoiserError::Batch { len });
    }
    Ok(())
}

/// A model whose answers also end at `extra` tokens (where `stop_at_end` may stop a decode): a prompt format's
/// own end, such as the fence that closes a chat answer's code. Everything else is the model's.
pub struct EndsAlso<'a, D: Denoiser + ?Sized> {
    pub model: &'a mut D,
    pub extra: &'a [u32],
}

impl<D: Denoiser + ?Sized> Denoiser for EndsAlso<'_, D> {
    fn propose(
        &mut self,
        canvas: &[u32],
        positions: &[u32],
        rule: &ProposalRule,
        key: StepKey,
    ) -> Result<Vec<Proposal>, DenoiserError> {
        self.model.propose(canvas, positions, rule, key)
    }

    fn propose_batch(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<Proposal>>, DenoiserError> {
        self.model.propose_batch(items)
    }

    fn config(&self) -> &unmask_model::ModelConfig {
        self.model.config()
    }

    fn end_token_ids(&self) -> Vec<u32> {
        let mut ends = self.model.end_token_ids();
        ends.extend(self.extra.iter().filter(|id| !ends.contains(id)).collect::<Vec<_>>());
        ends
    }

    fn max_len(&self) -> usize {
        self.model.max_len()
    }
}

/// One canvas of a batched step: what [`Denoiser::propose`] takes, for one sample.
#[derive(Clone, Copy, Debug)]
pub struct BatchItem<'a> {
    pub canvas: &'a [u32],
    pub positions: &'a [u32],
    pub rule: ProposalRule,
    pub key: StepKey,
}

/// Why a [`Denoiser`] could not answer a step.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DenoiserError {
    /// The canvas or the positions do not fit the model (too long, an id outside the vocabulary, …).
    #[error(transparent)]
    Canvas(#[from] unmask_model::CanvasError),
    /// A batched step with no canvas or more than [`MAX_BATCH`].
    #[error("a batch of {len} canvases: expected 1 to {MAX_BATCH}")]
    Batch { len: usize },
    /// The GPU device was lost during the step: the run can go on on a CPU engine.
    #[error("the GPU device was lost ({0}); fall back to the CPU engine")]
    DeviceLost(String),
    /// Any other failure of the engine that ran the step, kept as the engine's own error (downcast `error`
    /// to it). Not `#[source]`: the message already includes it, and error chains would print it twice.
    #[error("{engine} engine: {error}")]
    Engine { engine: &'static str, error: std::sync::Arc<dyn std::error::Error + Send + Sync> },
}

/// Engine failures compare by engine and message (their errors are of different types).
impl PartialEq for DenoiserError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Canvas(a), Self::Canvas(b)) => a == b,
            (Self::Batch { len: a }, Self::Batch { len: b }) => a == b,
            (Self::DeviceLost(a), Self::DeviceLost(b)) => a == b,
            (Self::Engine { engine: a, error: x }, Self::Engine { engine: b, error: y }) => {
                a == b && x.to_string() == y.to_string()
            }
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    #[error("invalid {name} = {value}: expected {range}")]
    InvalidParam { name: &'static str, value: String, range: String },
    #[error(
        "prompt of {prompt} tokens + {new_tokens} new tokens = {} tokens, longer than the model's context of {context}",
        prompt + new_tokens
    )]
    ContextOverflow { prompt: usize, new_tokens: usize, context: usize },
    #[error("nothing to decode: max_new_tokens is 0 and the prompt has no mask tokens to fill")]
    NothingToDecode,
    #[error("backend failed: {0}")]
    Backend(#[from] DenoiserError),
    /// The model's output at a position was NaN or infinite: no token is committed from it.
    #[error("step {step}: the model's output at position {position} is not a number (NaN or infinite logits)")]
    NonFinite { step: u32, position: u32 },
    /// The decode was driven out of order (a caller's bug, not the model's).
    #[error("decode driven out of order: {0}")]
    OutOfOrder(&'static str),
    #[error("cancelled")]
    Cancelled,
}

impl SamplerError {
    /// A prompt of `prompt` tokens and `new_tokens` more must fit the model's context: checked before anything
    /// (a canvas, an engine's buffers) is sized from them, so a huge `max_new_tokens` is an error, never an
    /// allocation.
    pub fn check_context(prompt: usize, new_tokens: u32, context: usize) -> Result<(), SamplerError> {
        if prompt.saturating_add(new_tokens as usize) > context {
            return Err(SamplerError::ContextOverflow { prompt, new_tokens: new_tokens as usize, context });
        }
        Ok(())
    }

    pub fn invalid(name: &'static str, value: impl std::fmt::Display, range: impl Into<String>) -> Self {
        SamplerError::InvalidParam { name, value: value.to_string(), range: range.into() }
    }
}
