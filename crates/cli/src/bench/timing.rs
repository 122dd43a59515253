//! How the bench measures: the median of repeated runs after a warm-up, the canvas a step is timed on, and the
//! arithmetic a forward pass does.

use std::time::Instant;

use anyhow::Result;
use unmask_model::ModelConfig;
use unmask_sampler::{ProposalRule, ScoreKind, TokenDraw};

/// A canvas of `seq` tokens whose second half is masked, and a typical rule.
pub(super) fn step_inputs(c: &ModelConfig, seq: usize) -> (Vec<u32>, Vec<u32>, ProposalRule) {
    let mut canvas: Vec<u32> = (0..seq as u32).map(|i| (i * 7 + 3) % c.vocab_size as u32).collect();
    let masked: Vec<u32> = (seq as u32 / 2..seq as u32).collect();
    masked.iter().for_each(|&q| canvas[q as usize] = c.mask_token_id);
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
        score: ScoreKind::NegEntropy,
        mask_token: c.mask_token_id,
    };
    (canvas, masked, rule)
}

pub(super) struct Timing {
    pub median: f64,
}

/// Runs `f` once to warm up, then `iters` times; milliseconds.
pub(super) fn time(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    f()?;
    let mut samples: Vec<f64> = (0..iters)
        .map(|_| {
            let started = Instant::now();
            f()?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    samples.sort_by(f64::total_cmp);
    Ok(Timing { median: samples[samples.len() / 2] })
}

/// Multiply-adds ×2 of one forward pass with the head on one row, as `forward` times it (matmuls and
/// attention; norms and activations are negligible).
pub(super) fn forward_flops(c: &ModelConfig, seq: usize) -> f64 {
    let (s, h, i, v) = (seq as f64, c.hidden_size as f64, c.intermediate_size as f64, c.vocab_size as f64);
    let q = (c.num_attention_heads * c.head_dim) as f64;
    let kv = (c.num_key_value_heads * c.head_dim) as f64;
    let projections = s * h * (2.0 * q + 2.0 * kv) + 3.0 * s * h * i;
    let attention = 2.0 * s * s * q;
    2.0 * (c.num_hidden_layers as f64 * (projections + attention) + h * v)
}
