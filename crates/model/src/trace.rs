//! The trace of one decode: what the CLI writes with `--trace`, what the page animates, what tests compare.
//! Plain data (serde), so every part of the product speaks it.

use serde::{Deserialize, Serialize};

/// A token proposed for one masked position; the ones a step commits are recorded in its `commits`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Canvas position (prompt positions count).
    pub position: u32,
    pub token: u32,
    /// The score that chose this position (higher = more certain; see SAMPLING.md §3).
    pub score: f32,
}

/// One denoising step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceStep {
    pub step: u32,
    /// Masked positions before this step.
    pub masked_before: u32,
    /// Sorted by position.
    pub commits: Vec<Proposal>,
    /// Wall time of the step (forward pass + proposal + choice), milliseconds.
    pub millis: f64,
}

/// Decode-order metrics of a finished trace (SAMPLING.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArNess {
    pub local_1: f64,
    pub local_2: f64,
    pub global_1: f64,
    pub global_2: f64,
}

/// A whole decode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The model directory or name.
    pub model: String,
    pub prompt: String,
    /// Every decoding parameter, as the sampler serialises its configuration.
    pub params: serde_json::Value,
    pub mask_token_id: u32,
    /// Prompt token count; the answer starts here.
    pub prompt_len: u32,
    /// The canvas before the first step (mask tokens where something is to be filled).
    pub initial: Vec<u32>,
    pub steps: Vec<TraceStep>,
    /// The canvas after the last step.
    pub tokens: Vec<u32>,
    /// The text the CLI prints: the answer (cut at the first end token), or with holes, the filled text.
    pub completion: String,
    pub ar_ness: ArNess,
    pub total_millis: f64,
}
