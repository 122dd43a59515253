//! The [`Denoiser`] contract as checks that each engine's tests run on that engine, so the contract is
//! written once, beside the trait.

use crate::{Algorithm, Decoded, Denoiser, SamplerConfig, Unobserved, generate, generate_batch};

/// Panics unless sample *i* of a batched decode on `model` is the decode of the same prompt and seed run
/// alone — the same commits step by step (positions and tokens; scores within 1e-3) and the same canvas —
/// under Dream, LLaDA and threshold decoding, five samples each whose lengths, block alignment and seeds
/// differ inside the batch; `prompts` are cycled over the samples.
pub fn assert_batched_decodes_equal_solo(model: &mut dyn Denoiser, prompts: &[Vec<u32>], what: &str) {
    for algorithm in [Algorithm::Dream, Algorithm::Llada, Algorithm::Threshold] {
        let configs: Vec<SamplerConfig> = (0..5)
            .map(|i| SamplerConfig {
                algorithm,
                max_new_tokens: 8 + 4 * i,
                steps: 8,
                block_length: 4,
                align_blocks: i % 2 == 0,
                temperature: 0.8,
                seed: u64::from(i),
                ..SamplerConfig::DEFAULT
            })
            .collect();
        let samples: Vec<(&[u32], &SamplerConfig)> =
            configs.iter().enumerate().map(|(i, config)| (&prompts[i % prompts.len()][..], config)).collect();
        let batched = generate_batch(model, &samples, &mut Unobserved).expect("batched decode");
        for (i, (prompt, config)) in samples.iter().enumerate() {
            let alone = generate(model, prompt, config, &mut Unobserved).expect("decode alone");
            assert_same_decode(&batched[i], &alone, &format!("{what} {algorithm:?}, sample {i}"));
        }
    }
}

/// Panics unless two decodes commit the same tokens at the same positions step by step (scores within 1e-3)
/// and end with the same canvas.
pub fn assert_same_decode(a: &Decoded, b: &Decoded, what: &str) {
    assert_eq!(a.steps.len(), b.steps.len(), "{what}: step count");
    for (x, y) in a.steps.iter().zip(&b.steps) {
        let picks = |s: &unmask_model::TraceStep| s.commits.iter().map(|p| (p.position, p.token)).collect::<Vec<_>>();
        assert_eq!(picks(x), picks(y), "{what}: step {}", x.step);
        for (p, q) in x.commits.iter().zip(&y.commits) {
            assert!((p.score - q.score).abs() < 1e-3, "{what}: step {} score {} vs {}", x.step, p.score, q.score);
        }
    }
    assert_eq!(a.tokens, b.tokens, "{what}: final canvas");
}
