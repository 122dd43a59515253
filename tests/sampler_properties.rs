//! Properties every decode must have, for any parameters and prompt (proptest over a tiny random model):
//! each step commits exactly the scheduled number of positions, nothing is committed twice or remasked,
//! no mask is left, prompt tokens never change, the same seed gives the same trace, and threshold decoding
//! commits at least one position per step; stopping at the answer's end changes nothing but the step count;
//! threshold decoding with checked drafts gives a causal model's own left-to-right answer.

use proptest::prelude::*;
use unmask_cpu::CpuModel;
use unmask_model::ModelConfig;
use unmask_sampler::{Algorithm, Decoded, DreamAlg, Remasking, SamplerConfig, Unobserved, generate};

const MASK: u32 = 1;

fn tiny_model() -> CpuModel {
    tiny_model_ending_with(vec![0])
}

/// The tiny model, with `eos_token_ids` as its end tokens.
fn tiny_model_ending_with(eos_token_ids: Vec<u32>) -> CpuModel {
    let shape = ModelConfig::of_shape(32, 1, 2, 1, 64, 48, 64);
    let config = ModelConfig { mask_token_id: MASK, dtype: None, eos_token_ids, ..shape };
    config.validate("test").unwrap();
    CpuModel::load(&config, &unmask_model::Weights::random(&config, 7)).expect("random weights match their config")
}

fn config_strategy() -> impl Strategy<Value = SamplerConfig> {
    let algorithm = prop_oneof![
        Just(Algorithm::Dream),
        Just(Algorithm::Llada),
        Just(Algorithm::Threshold),
        Just(Algorithm::LeftToRight)
    ];
    let alg = prop_oneof![
        Just(DreamAlg::Origin),
        Just(DreamAlg::MaskgitPlus),
        Just(DreamAlg::TopkMargin),
        Just(DreamAlg::Entropy)
    ];
    let remasking = prop_oneof![Just(Remasking::LowConfidence), Just(Remasking::Random)];
    (
        (algorithm, alg, remasking, 1u32..24, 0u32..24, 0.0f32..1.5, any::<bool>()),
        (0.05f32..=1.0, 0u32..8, 0.0f32..1.0, 1u32..12, 0.01f32..=1.0, any::<u64>(), any::<bool>()),
    )
        .prop_map(
            |(
                (algorithm, alg, remasking, steps, max_new_tokens, temperature, align_blocks),
                (top_p, top_k, alg_temp, block_length, threshold, seed, commit_leftmost),
            )| {
                let llada = algorithm == Algorithm::Llada;
                SamplerConfig {
                    algorithm,
                    alg,
                    remasking,
                    steps,
                    max_new_tokens,
                    temperature,
                    top_p: if llada { 1.0 } else { top_p },
                    top_k: if llada { 0 } else { top_k },
                    alg_temp,
                    eps: 1e-3,
                    block_length,
                    align_blocks,
                    threshold,
                    commit_leftmost,
                    verify_drafts: false,
                    seed,
                    stop_at_end: false,
                }
            },
        )
}

/// A prompt of ordinary tokens with some holes (mask tokens) in it.
fn prompt_strategy() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(prop_oneof![4 => 2u32..48, 1 => Just(MASK)], 1..10)
}

/// Checks the per-step schedule of SAMPLING.md against a finished decode.
fn check_schedule(config: &SamplerConfig, decoded: &Decoded) -> Result<(), TestCaseError> {
    let steps = &decoded.steps;
    let initial_masked = decoded.initial.iter().filter(|&&t| t == MASK).count();
    match config.algorithm {
        Algorithm::Dream => {
            prop_assert_eq!(steps.len(), config.steps as usize);
            let n = config.steps as f64;
            let t = |k: usize| 1.0 + (config.eps - 1.0) * k as f64 / n;
            for (i, step) in steps.iter().enumerate() {
                let masked = step.masked_before as usize;
                let committed = step.commits.len();
                if i + 1 == steps.len() {
                    prop_assert_eq!(committed, masked, "the last step commits every remaining mask");
                } else if config.alg != DreamAlg::Origin {
                    let k = (masked as f64 * (1.0 - t(i + 1) / t(i))).floor() as usize;
                    prop_assert_eq!(committed, k, "step {} of {} masks", i, masked);
                }
            }
        }
        Algorithm::Llada => {
            prop_assert_eq!(steps.len(), config.steps as usize);
            // Reconstruct the blocks from the initial canvas and check each block's per-step counts.
            let first = decoded.initial.iter().position(|&t| t == MASK).unwrap();
            let b = config.block_length as usize;
            let origin = if config.align_blocks { first - first % b } else { first };
            let blocks: Vec<(usize, usize)> = (origin..decoded.initial.len())
                .step_by(b)
                .map(|s| (s.max(first), (s + b).min(decoded.initial.len())))
                .filter(|&(s, e)| decoded.initial[s..e].contains(&MASK))
                .collect();
            let (total, nb) = (config.steps as usize, blocks.len());
            let mut step_index = 0;
            for (j, &(s, e)) in blocks.iter().enumerate() {
                let block_steps = total / nb + usize::from(j < total % nb);
                let m = decoded.initial[s..e].iter().filter(|&&t| t == MASK).count();
                for r in 0..block_steps {
                    let step = &steps[step_index];
                    prop_assert_eq!(step.commits.len(), m / block_steps + usize::from(r < m % block_steps));
                    prop_assert!(
                        step.commits.iter().all(|c| (s..e).contains(&(c.position as usize))),
                        "commits stay in the block"
                    );
                    step_index += 1;
                }
            }
        }
        Algorithm::Threshold => {
            prop_assert!(steps.iter().all(|s| !s.commits.is_empty()), "threshold commits at least one per step");
            prop_assert!(steps.len() <= initial_masked);
        }
        Algorithm::LeftToRight => {
            prop_assert_eq!(steps.len(), initial_masked);
            let mut canvas = decoded.initial.clone();
            for step in steps {
                prop_assert_eq!(step.commits.len(), 1);
                let leftmost = canvas.iter().position(|&t| t == MASK).unwrap();
                prop_assert_eq!(step.commits[0].position as usize, leftmost);
                canvas[leftmost] = step.commits[0].token;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn decodes_keep_their_invariants(config in config_strategy(), prompt in prompt_strategy()) {
        let mut model = tiny_model();
        let holes = prompt.contains(&MASK);
        let result = generate(&mut model, &prompt, &config, &mut Unobserved);
        let masked_total = prompt.iter().filter(|&&t| t == MASK).count() + config.max_new_tokens as usize;
        let decoded = match result {
            Err(unmask_sampler::SamplerError::NothingToDecode) => {
                prop_assert!(!holes && config.max_new_tokens == 0);
                return Ok(());
            }
            Err(unmask_sampler::SamplerError::InvalidParam { name: "steps", .. }) => {
                // LLaDA needs at least one step per block.
                prop_assert_eq!(config.algorithm, Algorithm::Llada);
                return Ok(());
            }
            other => other.unwrap(),
        };

        // No mask left; prompt tokens unchanged.
        prop_assert!(!decoded.tokens.contains(&MASK));
        for (q, &t) in decoded.initial.iter().enumerate() {
            if t != MASK {
                prop_assert_eq!(decoded.tokens[q], t, "given token at {} changed", q);
            }
        }
        // Each masked position is committed exactly once, while masked, and keeps its token.
        let mut canvas = decoded.initial.clone();
        let mut commits = 0;
        for step in &decoded.steps {
            prop_assert_eq!(step.masked_before as usize, canvas.iter().filter(|&&t| t == MASK).count());
            for c in &step.commits {
                prop_assert_eq!(canvas[c.position as usize], MASK, "position {} committed twice", c.position);
                prop_assert_ne!(c.token, MASK);
                canvas[c.position as usize] = c.token;
                commits += 1;
            }
        }
        prop_assert_eq!(commits, masked_total);
        prop_assert_eq!(&canvas, &decoded.tokens);
        check_schedule(&config, &decoded)?;

        // Same seed, same trace.
        let again = generate(&mut model, &prompt, &config, &mut Unobserved).unwrap();
        prop_assert_eq!(&again, &decoded);
    }
}

/// The tiny model with an eighth of its vocabulary counted as end tokens, so answers often end early.
fn tiny_model_with_many_ends() -> CpuModel {
    tiny_model_ending_with((2..10).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// `stop_at_end` only leaves out steps that could not change the answer: its steps are the full decode's
    /// first steps and the completion reads the same.
    #[test]
    fn stopping_at_the_end_keeps_the_answer(config in config_strategy(), prompt in prompt_strategy()) {
        let mut model = tiny_model_with_many_ends();
        let ends = unmask_sampler::Denoiser::end_token_ids(&model);
        let is_end = |t: u32| ends.contains(&t);
        let Ok(full) = generate(&mut model, &prompt, &config, &mut Unobserved) else { return Ok(()) };
        let stopping = SamplerConfig { stop_at_end: true, ..config };
        let stopped = generate(&mut model, &prompt, &stopping, &mut Unobserved).unwrap();
        prop_assert_eq!(&stopped.steps[..], &full.steps[..stopped.steps.len()]);
        let range = full.completion_range(prompt.len(), MASK, is_end);
        prop_assert_eq!(stopped.completion_range(prompt.len(), MASK, is_end), range.clone());
        prop_assert_eq!(&stopped.tokens[range.clone()], &full.tokens[range.clone()]);
        prop_assert!(!stopped.tokens[..range.end].contains(&MASK));
        if stopped.steps.len() < full.steps.len() {
            prop_assert!(stopped.tokens.get(range.end).is_some_and(|&t| is_end(t)), "stopped before the end");
        }
    }
}

/// The property above holds trivially if nothing ever stops: on the same model (whose random weights mostly
/// echo the last prompt token, here the end token 5) LLaDA decodes of 24 tokens do stop early.
#[test]
fn answers_that_end_early_skip_their_remaining_steps() {
    let mut model = tiny_model_with_many_ends();
    let config = SamplerConfig {
        algorithm: Algorithm::Llada,
        steps: 24,
        max_new_tokens: 24,
        block_length: 4,
        top_p: 1.0,
        temperature: 1.0,
        stop_at_end: true,
        ..SamplerConfig::DEFAULT
    };
    let steps: Vec<usize> = (0..8)
        .map(|seed| generate(&mut model, &[20, 21, 5], &SamplerConfig { seed, ..config.clone() }, &mut Unobserved))
        .map(|decoded| decoded.unwrap().steps.len())
        .collect();
    assert!(steps.iter().any(|&n| n < 24), "no decode stopped early: {steps:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// With `verify_drafts` every answer token is the model's prediction from the checked text before it, which
    /// a causal model makes from that text alone: the answer is its greedy left-to-right answer, whatever the
    /// threshold, block length or holes in the prompt, in at most one pass per token.
    #[test]
    fn checked_drafts_give_the_left_to_right_answer(
        prompt in prompt_strategy(),
        max_new_tokens in 0u32..20,
        block_length in 1u32..10,
        threshold in 0.01f32..=1.0,
        stop_at_end in any::<bool>(),
    ) {
        let shape = ModelConfig::of_shape(32, 1, 2, 1, 64, 48, 64);
        let attention = unmask_model::AttentionKind::Causal;
        let config = ModelConfig { mask_token_id: MASK, dtype: None, eos_token_ids: (2..6).collect(), attention, ..shape };
        let mut model = CpuModel::load(&config, &unmask_model::Weights::random(&config, 9)).unwrap();
        let greedy = SamplerConfig { max_new_tokens, temperature: 0.0, stop_at_end, ..SamplerConfig::DEFAULT };
        let Ok(left_to_right) =
            generate(&mut model, &prompt, &SamplerConfig { algorithm: Algorithm::LeftToRight, ..greedy.clone() }, &mut Unobserved)
        else {
            return Ok(());
        };
        let checked = SamplerConfig { algorithm: Algorithm::Threshold, block_length, threshold, verify_drafts: true, ..greedy };
        let drafted = generate(&mut model, &prompt, &checked, &mut Unobserved).unwrap();
        let ends = unmask_sampler::Denoiser::end_token_ids(&model);
        let range = left_to_right.completion_range(prompt.len(), MASK, |t| ends.contains(&t));
        prop_assert_eq!(&drafted.tokens[range.clone()], &left_to_right.tokens[range]);
        prop_assert!(drafted.steps.len() <= left_to_right.steps.len());
    }
}
