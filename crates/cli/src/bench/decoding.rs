//! `unmask bench --decoding N`: the fast engine on the shapes a decode has after an N-token prompt — the prompt
//! pass, left-to-right generation one token per step from the cache, and a diffusion step over a block of
//! masked positions after the cached prompt — as `tools/bench/llama_cpp_side_by_side.py` times llama.cpp.

use std::time::Instant;

use anyhow::Result;
use unmask_fast::{FastModel, FastOptions};
use unmask_model::{ModelConfig, Weights};
use unmask_sampler::{Denoiser, ProposalRule, ScoreKind, StepKey, TokenDraw};

use super::timing::time;

/// Tokens generated one by one after the prompt.
const GENERATED: usize = 64;
/// Masked positions of the block steps.
const BLOCKS: [usize; 2] = [16, 32];

pub fn table(config: &ModelConfig, weights: &Weights, prompt_len: usize, iters: usize, threads: usize) -> Result<()> {
    if !config.attention.is_prefix_stable() {
        anyhow::bail!("--decoding needs a causal or block-causal model (its prompt rows are cached)");
    }
    let longest = prompt_len + GENERATED.max(BLOCKS[1]);
    if longest > config.max_position_embeddings {
        anyhow::bail!("--decoding {prompt_len}: {longest} tokens exceed the model's context");
    }
    println!("\ndecoding after a {prompt_len}-token prompt, fast cpu on {threads} thread(s), median of {iters}:");
    println!(
        "{:<22} {:>16} {:>14} {:>14} {:>14}",
        "head and q4a", "prompt pass ms", "prompt tok/s", "gen tok/s", "block ms"
    );
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
        score: ScoreKind::Probability,
        mask_token: config.mask_token_id,
    };
    let vocab = config.vocab_size as u32;
    let prompt: Vec<u32> = (0..prompt_len as u32).map(|i| (i * 7919 + 13) % vocab.min(100_000)).collect();
    for int8_everywhere in [false, true] {
        let options = FastOptions { max_len: longest, threads, int8_everywhere, ..FastOptions::default() };
        let mut model = FastModel::load(config, weights, options)?;
        let mut key = StepKey { seed: 0, step: 0 };
        let mut ask = |model: &mut FastModel, canvas: &[u32], positions: &[u32]| -> Result<u32> {
            key.step += 1;
            Ok(model.propose(canvas, positions, &rule, key)?[0].token)
        };
        // The prompt pass: a new first token each time, so nothing comes from the cache.
        let mut canvas = prompt.clone();
        canvas.push(config.mask_token_id);
        let pass = time(iters, || {
            canvas[0] = canvas[0] % 2 + 1;
            ask(&mut model, &canvas, &[prompt_len as u32]).map(drop)
        })?
        .median;
        // Generation: each step commits the proposed token and asks for the next position.
        canvas.resize(prompt_len + GENERATED + 1, config.mask_token_id);
        let started = Instant::now();
        for at in prompt_len..prompt_len + GENERATED {
            canvas[at] = ask(&mut model, &canvas, &[at as u32])?;
        }
        let generation = GENERATED as f64 / started.elapsed().as_secs_f64();
        // Block steps: the block's first token changes each time, so the whole block is recomputed over the
        // cached prompt and the head runs on every masked position of it.
        let mut blocks = Vec::new();
        for block in BLOCKS {
            let mut canvas = prompt.clone();
            canvas.resize(prompt_len + block, config.mask_token_id);
            let masked: Vec<u32> = (prompt_len as u32 + 1..(prompt_len + block) as u32).collect();
            let step = time(iters, || {
                canvas[prompt_len] = canvas[prompt_len] % 2 + 1;
                ask(&mut model, &canvas, &masked).map(drop)
            })?;
            blocks.push(format!("{block}: {:.1}", step.median));
        }
        let head = if int8_everywhere { "int8 (int8_everywhere)" } else { "exact (f32 panels)" };
        println!(
            "{head:<22} {pass:>16.1} {:>14.0} {generation:>14.1} {:>14}",
            prompt_len as f64 / (pass / 1e3),
            blocks.join(", ")
        );
    }
    Ok(())
}
