//! The fast engine against the reference (`unmask-cpu`, the oracle): whole-model logits for f32 weights and
//! for q8/q4 files (the reference dequantizes the same file), odd shapes included, and the same trace for the
//! same seed under every decoding algorithm. Natively (`cargo test`) and compiled to wasm with SIMD128 in
//! headless Chromium (`cargo xtask ci`), where the engine runs as it does in the page's worker.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::{Architecture, AttentionKind, ModelConfig, ModelDir, QuantScheme, Weights};
use unmask_sampler::contract::assert_batched_decodes_equal_solo;
use unmask_sampler::{Algorithm, DreamAlg, Remasking, SamplerConfig, Unobserved, generate};

/// The tiny fixture, compiled in so that it loads in the browser too.
fn fixture() -> ModelDir {
    let weights = Weights::from_bytes(vec![(
        "model.safetensors".into(),
        include_bytes!("../../../tests/fixtures/tiny-qwen2/model.safetensors").to_vec(),
    )])
    .unwrap();
    let config = include_str!("../../../tests/fixtures/tiny-qwen2/config.json");
    let tokenizer = include_bytes!("../../../tests/fixtures/tiny-qwen2/tokenizer.json");
    ModelDir::from_parts("tiny-qwen2".into(), config, weights, tokenizer).unwrap()
}

/// An odd shape: 3 heads over 1 kv head, head_dim 16, rows that are not multiples of the kernel's tiles.
fn odd() -> (ModelConfig, Weights) {
    let config = ModelConfig::of_shape(48, 2, 3, 1, 80, 101, 64);
    let weights = Weights::random(&config, 5);
    (config, weights)
}

const KINDS: [AttentionKind; 3] =
    [AttentionKind::Bidirectional, AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 4 }];

/// The odd shape as a Llama (no q/k/v biases) with the given attention.
fn odd_llama(attention: AttentionKind) -> (ModelConfig, Weights) {
    let config = ModelConfig {
        model_type: "llama".into(),
        architecture: Architecture::Llama,
        qkv_bias: false,
        attention,
        ..ModelConfig::of_shape(48, 2, 3, 1, 80, 101, 64)
    };
    let weights = Weights::random(&config, 8);
    (config, weights)
}

fn tokens(vocab: usize, len: usize, mask: u32) -> Vec<u32> {
    (0..len).map(|i| if i % 3 == 1 { mask } else { (i * 37 % vocab) as u32 }).collect()
}

/// Largest |Δ| between the engines' logits over all rows, relative to the largest |logit|.
fn relative_error(config: &ModelConfig, weights: &Weights, options: FastOptions, seq: usize) -> f32 {
    let reference = CpuModel::load(config, weights).unwrap();
    let mut fast = FastModel::load(config, weights, options).unwrap();
    let tokens = tokens(config.vocab_size, seq, config.mask_token_id);
    let rows: Vec<usize> = (0..seq).collect();
    let expected = reference.logits(&tokens, None).unwrap();
    let actual = fast.logits_of_rows(&tokens, &rows).unwrap();
    assert_eq!(actual.len(), expected.len());
    let scale = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    actual.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn f32_logits_match_the_reference() {
    let dir = fixture();
    for threads in [1, 2, 3] {
        let options = FastOptions { threads, ..FastOptions::default() };
        let error = relative_error(&dir.config, &dir.weights, options, 11);
        assert!(error < 1e-5, "fixture, {threads} threads: relative error {error}");
        let (config, weights) = odd();
        for seq in [1, 2, 7, 33] {
            let error = relative_error(&config, &weights, options, seq);
            assert!(error < 1e-5, "odd shape, seq {seq}, {threads} threads: relative error {error}");
        }
        // An intermediate size that is not a whole number of native panels (16): SwiGLU runs as its own pass
        // there instead of inside the gate|up matmul.
        let config = ModelConfig::of_shape(48, 2, 3, 1, 72, 101, 64);
        let weights = Weights::random(&config, 6);
        let error = relative_error(&config, &weights, options, 33);
        assert!(error < 1e-5, "intermediate 72, {threads} threads: relative error {error}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_architecture_and_attention_kind_matches_the_reference() {
    for kind in KINDS {
        let (config, weights) = odd();
        let qwen2 = ModelConfig { attention: kind, ..config };
        let (llama, llama_weights) = odd_llama(kind);
        for seq in [1, 7, 33] {
            let error = relative_error(&qwen2, &weights, FastOptions { threads: 2, ..FastOptions::default() }, seq);
            assert!(error < 1e-5, "qwen2 {kind:?}, seq {seq}: relative error {error}");
            let error =
                relative_error(&llama, &llama_weights, FastOptions { threads: 2, ..FastOptions::default() }, seq);
            assert!(error < 1e-5, "llama {kind:?}, seq {seq}: relative error {error}");
        }
    }
}

/// With the cache, a pass after a change recomputes only the rows from the first changed block on; its logits
/// must still be the reference's on the whole new canvas, whichever rows changed.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn cached_passes_match_a_full_pass_of_the_reference() {
    for kind in [AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 4 }] {
        let (config, weights) = odd_llama(kind);
        let reference = CpuModel::load(&config, &weights).unwrap();
        let mut fast =
            FastModel::load(&config, &weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
        let mut canvas = tokens(config.vocab_size, 30, config.mask_token_id);
        let rows: Vec<usize> = (0..30).collect();
        // Unmask left to right one position at a time, then change an early token, a late one, and shorten
        // and lengthen the canvas: each pass reuses a different prefix (or none).
        let mut canvases = Vec::new();
        for p in [10, 11, 12, 17, 25] {
            canvas[p] = (p * 11 % config.vocab_size) as u32;
            canvases.push(canvas.clone());
        }
        canvas[2] = 5;
        canvases.push(canvas.clone());
        canvas[29] = 6;
        canvases.push(canvas.clone());
        canvases.push(canvas[..21].to_vec());
        canvases.push(canvas.clone());
        canvases.push(canvas.clone());
        for (pass, tokens) in canvases.iter().enumerate() {
            let expected = reference.logits(tokens, None).unwrap();
            let actual = fast.logits_of_rows(tokens, &rows[..tokens.len()]).unwrap();
            let scale = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let error = actual.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale;
            assert!(error < 1e-5, "{kind:?}, pass {pass}: relative error {error}");
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn quantized_files_match_the_reference_on_the_same_file() {
    let (config, weights) = odd();
    for scheme in QuantScheme::ALL {
        let bytes = convert_weights(&config, &weights, WeightFormat::Quant { scheme, group_size: 16 }).unwrap();
        let quantized = Weights::from_bytes(vec![("model.safetensors".into(), bytes)]).unwrap();
        let exact = FastOptions { threads: 2, int8_dot: false, ..FastOptions::default() };
        let error = relative_error(&config, &quantized, exact, 19);
        assert!(error < 1e-5, "{scheme:?}: relative error {error}");
        // With integer products, the error is that of quantizing every matmul's input: to 8 bits natively where
        // the CPU has int8 dot products (elsewhere the exact path again), to 16 bits in wasm.
        let error = relative_error(&config, &quantized, FastOptions { threads: 2, ..FastOptions::default() }, 19);
        let bound = if cfg!(target_arch = "wasm32") { 2e-5 } else { 1e-2 };
        assert!(error < bound, "{scheme:?} with integer products: relative error {error}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn quantizing_while_loading_stays_close_to_f32() {
    let (config, weights) = odd();
    for (scheme, bound) in [(QuantScheme::Q8, 0.02), (QuantScheme::Q4, 0.3), (QuantScheme::Q4A, 0.3)] {
        let options = FastOptions { quant: Some(scheme), group_size: 16, ..FastOptions::default() };
        let error = relative_error(&config, &weights, options, 19);
        assert!(error < bound, "{scheme:?}: relative error {error} (bound {bound})");
        assert!(error > 0.0, "{scheme:?}: quantization changed nothing");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn the_same_seed_gives_the_same_trace_as_the_reference() {
    let dir = fixture();
    let prompt = dir.tokenizer.encode("def add(a, b):").unwrap();
    let algorithms = [
        (Algorithm::Dream, DreamAlg::Entropy, Remasking::LowConfidence),
        (Algorithm::Dream, DreamAlg::MaskgitPlus, Remasking::LowConfidence),
        (Algorithm::Dream, DreamAlg::TopkMargin, Remasking::LowConfidence),
        (Algorithm::Dream, DreamAlg::Origin, Remasking::LowConfidence),
        (Algorithm::Llada, DreamAlg::Entropy, Remasking::LowConfidence),
        (Algorithm::Llada, DreamAlg::Entropy, Remasking::Random),
        (Algorithm::Threshold, DreamAlg::Entropy, Remasking::LowConfidence),
        (Algorithm::LeftToRight, DreamAlg::Entropy, Remasking::LowConfidence),
    ];
    // Block by block on the attention blocks: the fast engine then stops each pass at the written block.
    let aligned = [Algorithm::Llada, Algorithm::Threshold].map(|a| (a, DreamAlg::Entropy, Remasking::LowConfidence));
    let runs = algorithms.into_iter().map(|a| (a, false)).chain(aligned.into_iter().map(|a| (a, true)));
    let runs: Vec<_> = runs.collect();
    for kind in KINDS {
        let model = ModelConfig { attention: kind, ..dir.config.clone() };
        let mut reference = CpuModel::load(&model, &dir.weights).unwrap();
        let mut fast = FastModel::load(&model, &dir.weights, FastOptions::default()).unwrap();
        for &((algorithm, alg, remasking), align_blocks) in &runs {
            let config = SamplerConfig {
                algorithm,
                alg,
                remasking,
                max_new_tokens: 16,
                steps: 8,
                block_length: if align_blocks { 4 } else { 8 },
                align_blocks,
                temperature: 0.7,
                top_p: if algorithm == Algorithm::Llada { 1.0 } else { 0.95 },
                seed: 3,
                ..SamplerConfig::default()
            };
            let expected = generate(&mut reference, &prompt, &config, &mut Unobserved).unwrap();
            let actual = generate(&mut fast, &prompt, &config, &mut Unobserved).unwrap();
            assert_eq!(actual.tokens, expected.tokens, "{kind:?} {algorithm:?}/{alg:?}/{remasking:?} {align_blocks}");
            let order = |d: &unmask_sampler::Decoded| d.steps.iter().map(|s| s.commits.len()).collect::<Vec<_>>();
            assert_eq!(
                order(&actual),
                order(&expected),
                "{kind:?} {algorithm:?}/{alg:?}/{remasking:?}: commits per step"
            );
        }
    }
}

/// A batch runs the matrix products over every canvas's rows at once: each canvas's logits must be exactly
/// those of the same canvas run alone (the products are row by row, attention stays inside a canvas), also on
/// later passes that reuse each canvas's cached rows, and also when the batch shrinks.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn batched_logits_equal_each_canvas_run_alone() {
    for kind in KINDS {
        let (config, weights) = odd_llama(kind);
        let options = FastOptions { threads: 2, ..FastOptions::default() };
        let mut batched = FastModel::load(&config, &weights, options).unwrap();
        let mut canvases: Vec<Vec<u32>> =
            [1, 7, 33, 20].iter().map(|&len| tokens(config.vocab_size, len, config.mask_token_id)).collect();
        for pass in 0..4 {
            // Each pass fills a different position of each canvas (a decode step), then one canvas drops out.
            for (i, canvas) in canvases.iter_mut().enumerate() {
                let at = (pass * 5 + i) % canvas.len();
                canvas[at] = ((pass + 3 * i) % config.vocab_size) as u32;
            }
            let live = if pass == 3 { &canvases[1..] } else { &canvases[..] };
            let rows: Vec<Vec<usize>> = live.iter().map(|c| (0..c.len()).collect()).collect();
            let items: Vec<(&[u32], &[usize])> = live.iter().zip(&rows).map(|(c, r)| (&c[..], &r[..])).collect();
            let actual = batched.logits_of_rows_batch(&items).unwrap();
            let mut rest = actual.as_slice();
            for (i, (canvas, rows)) in items.iter().enumerate() {
                let mut alone = FastModel::load(&config, &weights, options).unwrap();
                let expected = alone.logits_of_rows(canvas, rows).unwrap();
                let (mine, after) = rest.split_at(expected.len());
                rest = after;
                assert!(mine == expected, "{kind:?}, pass {pass}, canvas {i}: differs from its solo pass");
            }
            assert!(rest.is_empty(), "{kind:?}, pass {pass}: {} logits more than the canvases asked for", rest.len());
        }
    }
}

/// Sample *i* of a batched decode is the decode of the same prompt and seed run alone, under every algorithm,
/// with prompts and lengths that differ inside the batch.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn batched_decodes_equal_solo_decodes() {
    let dir = fixture();
    let prompts: Vec<Vec<u32>> = ["def add(a, b):", "x = 1", "class A:\n    def f(self):"]
        .iter()
        .map(|p| dir.tokenizer.encode(p).unwrap())
        .collect();
    for kind in KINDS {
        let model = ModelConfig { attention: kind, ..dir.config.clone() };
        let mut fast =
            FastModel::load(&model, &dir.weights, FastOptions { threads: 2, ..FastOptions::default() }).unwrap();
        assert_batched_decodes_equal_solo(&mut fast, &prompts, &format!("{kind:?}"));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn bad_requests_are_errors() {
    let dir = fixture();
    let options = FastOptions { max_len: 8, ..FastOptions::default() };
    let mut fast = FastModel::load(&dir.config, &dir.weights, options).unwrap();
    assert!(fast.logits_of_rows(&[1; 9], &[0]).unwrap_err().to_string().contains("longer"));
    assert!(fast.logits_of_rows(&[1_000_000], &[0]).unwrap_err().to_string().contains("vocabulary"));
    assert!(fast.logits_of_rows(&[1, 2], &[2]).unwrap_err().to_string().contains("outside the canvas"));
    assert!(fast.logits_of_rows_batch(&[]).unwrap_err().to_string().contains("a batch of 0"));
    let many = vec![(&[1u32][..], &[0usize][..]); unmask_sampler::MAX_BATCH + 1];
    assert!(fast.logits_of_rows_batch(&many).unwrap_err().to_string().contains("a batch of 65"));
}

/// A mask-gated model with blocks of 8, stepped as threshold decoding with drafts steps it: each step asks for
/// some positions of a block that mixes tokens and masks, so a pass covers only the rows those positions need
/// (`rows_needed`: a mask's logits row sees its whole block, a token's only itself and before) from the rows it
/// may keep (`reusable_rows`). Every step proposes what the reference's whole-canvas pass proposes.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn gated_steps_over_mixed_blocks_match_the_reference() {
    use unmask_sampler::{Denoiser, ProposalRule, ScoreKind, StepKey, TokenDraw};
    let config = ModelConfig {
        attention: AttentionKind::MasksSeeBlock { block_size: 8 },
        adapter_rank: Some(2),
        ..ModelConfig::of_shape(48, 2, 3, 1, 80, 101, 64)
    };
    let weights = Weights::random(&config, 12);
    let mut reference = CpuModel::load(&config, &weights).unwrap();
    let mut fast = FastModel::load(&config, &weights, FastOptions::default()).unwrap();
    let m = config.mask_token_id;
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
        score: ScoreKind::Probability,
        mask_token: m,
    };
    let mut canvas: Vec<u32> = (0..8).map(|i| i * 11 + 3).collect();
    canvas.resize(24, m);
    // (tokens written before the step, positions asked for): drafts land inside the block, then the step asks
    // for masks whose logits rows are masks (9: row 8) while the last one's row is a token (11: row 10).
    type Step<'a> = (&'a [(usize, u32)], &'a [u32]);
    let steps: [Step; 4] = [
        (&[], &[8, 9, 10, 11, 12, 13, 14, 15]),
        (&[(10, 40), (12, 41)], &[8, 9, 11, 13, 14, 15]),
        (&[(13, 42), (14, 43), (15, 44)], &[8, 9, 11]),
        (&[(8, 45)], &[9, 11, 16]),
    ];
    for (step, (written, positions)) in steps.into_iter().enumerate() {
        for &(at, token) in written {
            canvas[at] = token;
        }
        let key = StepKey { seed: 1, step: step as u32 };
        let expected = reference.propose(&canvas, positions, &rule, key).unwrap();
        let actual = fast.propose(&canvas, positions, &rule, key).unwrap();
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a.token, e.token, "step {step}, position {}", e.position);
            assert!((a.score - e.score).abs() < 1e-5, "step {step}: {a:?} against {e:?}");
        }
    }
}
