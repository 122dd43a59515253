//! Whole-model parity with the CPU reference: logits (f32, and q8/q4 against the dequantized reference) and
//! whole decodes (the same seed gives the same trace on both engines, for every algorithm).

mod common;

use common::{assert_close, config, gated_fixture, gpu, log, max_abs_diff, tiny_fixture};
use unmask_cpu::CpuModel;
use unmask_gpu::{GpuModel, GpuOptions, KernelSet};
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::{Architecture, AttentionKind, ModelConfig, QuantScheme, Weights};
use unmask_sampler::{BatchItem, ProposalRule, ScoreKind, Scored, StepKey, TokenDraw};

const KINDS: [AttentionKind; 3] =
    [AttentionKind::Bidirectional, AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 4 }];

/// A small Llama (no q/k/v biases) with the given attention.
fn llama(attention: AttentionKind) -> ModelConfig {
    ModelConfig {
        model_type: "llama".into(),
        architecture: Architecture::Llama,
        qkv_bias: false,
        attention,
        ..config(64, 2, 4, 2, 128, 256)
    }
}

async fn load_gpu(config: &ModelConfig, weights: &Weights, quant: Option<QuantScheme>, set: KernelSet) -> GpuModel {
    let options = GpuOptions { quant, max_len: 256, kernels: Some(set), ..GpuOptions::default() };
    GpuModel::load(gpu().await, config, weights, options).await.unwrap()
}

/// Both kernel sets run on any adapter; each is checked.
const SETS: [KernelSet; 2] = [KernelSet::Gpu, KernelSet::Emulated];

fn tokens(n: u32, vocab: usize) -> Vec<u32> {
    (0..n).map(|i| (i * 7919 + 3) % vocab as u32).collect()
}

/// The GPU logits (f32, or quantized on load) against the CPU reference on the same (dequantized) weights.
async fn check_logits(config: &ModelConfig, weights: &Weights, seq: u32, what: &str) {
    let ids = tokens(seq, config.vocab_size);
    let f32_cpu = CpuModel::load(config, weights).unwrap().logits(&ids, None).unwrap();
    for set in SETS {
        let f32_gpu = load_gpu(config, weights, None, set).await.logits(&ids).await.unwrap();
        // Logits are sums over the hidden size of O(1) terms: 1e-3 absolute is ~1e-4 relative to their spread.
        assert_close(&f32_gpu, &f32_cpu, 1e-3, 1e-3, &format!("{what} {set:?} f32"));
        log(&format!("{what} {set:?}: f32 max |Δlogit| {:.2e}", max_abs_diff(&f32_gpu, &f32_cpu)));
    }
    for scheme in QuantScheme::ALL {
        let format = WeightFormat::Quant { scheme, group_size: 32 };
        let file = convert_weights(config, weights, format).unwrap();
        let quantized = Weights::from_bytes(vec![("q.safetensors".into(), file)]).unwrap();
        let reference = CpuModel::load(config, &quantized).unwrap().logits(&ids, None).unwrap();
        for set in SETS {
            let from_file = load_gpu(config, &quantized, None, set).await.logits(&ids).await.unwrap();
            let on_load = load_gpu(config, weights, Some(scheme), set).await.logits(&ids).await.unwrap();
            assert_close(&from_file, &reference, 1e-3, 1e-3, &format!("{what} {set:?} {scheme:?} file"));
            assert_eq!(
                from_file, on_load,
                "{what} {scheme:?}: quantizing on load is the same as loading a quantized file"
            );
            let error = max_abs_diff(&from_file, &reference);
            log(&format!("{what} {set:?}: {scheme:?} max |Δlogit| vs dequantized reference {error:.2e}"));
        }
    }
}

both! {
    async fn fixture_logits_match() {
        let dir = tiny_fixture();
        check_logits(&dir.config, &dir.weights, 37, "tiny fixture").await;
    }
}

both! {
    async fn random_model_a_logits_match() {
        // Model A of docs/performance.md (4.0 M parameters) at an odd length.
        let c = config(256, 4, 4, 2, 704, 4096);
        check_logits(&c, &Weights::random(&c, 11), 77, "model A").await;
    }
}

both! {
    async fn qwen_coder_shapes_match() {
        // One layer of Qwen2.5-Coder-0.5B's shapes (width 896 = 7 × 128, 14 query heads over 2 key/value heads
        // of 64, SwiGLU 4864, q/k/v biases), with a small vocabulary to keep the test's memory small.
        let c = ModelConfig { attention: AttentionKind::Causal, ..config(896, 1, 14, 2, 4864, 2048) };
        check_logits(&c, &Weights::random(&c, 31), 19, "Qwen2.5-Coder shapes").await;
    }
}

// Every architecture and attention kind, in the browser too.
both! {
    async fn every_architecture_and_attention_kind_matches() {
        for kind in KINDS {
            let qwen2 = ModelConfig { attention: kind, ..config(64, 2, 4, 2, 128, 256) };
            for (c, seed) in [(qwen2, 21), (llama(kind), 22)] {
                let weights = Weights::random(&c, seed);
                let ids = tokens(23, c.vocab_size);
                let expected = CpuModel::load(&c, &weights).unwrap().logits(&ids, None).unwrap();
                for set in SETS {
                    let actual = load_gpu(&c, &weights, None, set).await.logits(&ids).await.unwrap();
                    assert_close(&actual, &expected, 1e-3, 1e-3, &format!("{} {kind:?} {set:?}", c.model_type));
                }
            }
        }
    }
}

// The KV cache: a decode's steps (each committing one token, one step repeating a canvas, one changing an early
// token) give what a full pass gives, on causal and block-causal models with and without q/k/v biases (the
// biases of a cached step's rows are the same as a full pass's), with both kernel sets.
both! {
    async fn cached_steps_match_full_passes() {
        use unmask_sampler::{ProposalRule, ScoreKind, StepKey, TokenDraw};
        let kinds = [AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 4 }];
        let qwen2 = |attention| ModelConfig { attention, ..config(64, 2, 4, 2, 128, 256) };
        for c in kinds.into_iter().flat_map(|kind| [llama(kind), qwen2(kind)]) {
            let kind = c.attention;
            assert_eq!(c.qkv_bias, c.architecture == Architecture::Qwen2);
            let weights = Weights::random(&c, 31);
            let rule = ProposalRule {
                draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
                score: ScoreKind::Probability,
                mask_token: c.mask_token_id,
            };
            for set in SETS {
                let options = |kv_cache| GpuOptions { max_len: 64, kernels: Some(set), kv_cache, ..GpuOptions::default() };
                let cached = GpuModel::load(gpu().await, &c, &weights, options(true)).await.unwrap();
                let full = GpuModel::load(gpu().await, &c, &weights, options(false)).await.unwrap();
                let mut canvas = tokens(9, c.vocab_size);
                canvas.extend([c.mask_token_id; 11]);
                for step in 0..10u32 {
                    if step == 6 {
                        canvas[2] = (canvas[2] + 1) % c.vocab_size as u32;
                    }
                    let masked: Vec<u32> =
                        (0..canvas.len() as u32).filter(|&q| canvas[q as usize] == c.mask_token_id).collect();
                    let key = StepKey { seed: 3, step };
                    let a = cached.propose_with_candidates(&canvas, &masked, &rule, key).await.unwrap();
                    let b = full.propose_with_candidates(&canvas, &masked, &rule, key).await.unwrap();
                    let what = format!("{:?} {kind:?} {set:?} step {step}", c.architecture);
                    assert_eq!(a.len(), b.len(), "{what}");
                    for (x, y) in a.iter().zip(&b) {
                        assert_eq!(x.proposal.token, y.proposal.token, "{what}: token at {}", x.proposal.position);
                        assert!((x.proposal.score - y.proposal.score).abs() < 1e-5, "{what}: {x:?} vs {y:?}");
                    }
                    if step != 3 {
                        // Step 4 sees the same canvas as step 3: everything comes from the cache.
                        canvas[masked[0] as usize] = a[0].proposal.token;
                    }
                }
            }
        }
    }
}

// A mask-gated model (masks_see_block attention, low-rank updates of the mask rows, the mask embedding): the
// logits of canvases as masks turn into tokens out of order equal the reference's, and steps served from the
// cache propose what full passes propose.
both! {
    async fn mask_gated_fixture_matches_the_reference() {
        use unmask_sampler::{ProposalRule, ScoreKind, StepKey, TokenDraw};
        let dir = gated_fixture();
        let (c, mask) = (&dir.config, dir.config.mask_token_id);
        assert!(c.attention.depends_on_masks() && c.adapter_rank.is_some());
        let reference = CpuModel::load(c, &dir.weights).unwrap();
        let rule = ProposalRule {
            draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
            score: ScoreKind::Probability,
            mask_token: mask,
        };
        for set in SETS {
            let options = |kv_cache| GpuOptions { max_len: 64, kernels: Some(set), kv_cache, ..GpuOptions::default() };
            let cached = GpuModel::load(gpu().await, c, &dir.weights, options(true)).await.unwrap();
            let full = GpuModel::load(gpu().await, c, &dir.weights, options(false)).await.unwrap();
            let mut canvas = vec![5, 9, 14, 3, 22, 7];
            canvas.resize(20, mask);
            for (step, (position, token)) in [(9, 30), (6, 12), (7, 41), (15, 8), (8, 2), (12, 19), (3, 4)].into_iter().enumerate() {
                let what = format!("{set:?}, after writing position {position}");
                let masked: Vec<u32> = (0..canvas.len() as u32).filter(|&q| canvas[q as usize] == mask).collect();
                let key = StepKey { seed: 3, step: step as u32 };
                let a = cached.propose_with_candidates(&canvas, &masked, &rule, key).await.unwrap();
                let b = full.propose_with_candidates(&canvas, &masked, &rule, key).await.unwrap();
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(x.proposal.token, y.proposal.token, "{what}: token at {}", x.proposal.position);
                    assert!((x.proposal.score - y.proposal.score).abs() < 1e-5, "{what}: {x:?} vs {y:?}");
                }
                let expected = reference.logits(&canvas, None).unwrap();
                let actual = full.logits(&canvas).await.unwrap();
                assert_close(&actual, &expected, 1e-3, 1e-3, &what);
                canvas[position] = token;
            }
            // Left to right: each step asks for the leftmost mask alone, so a pass covers the canvas only up to
            // it and reuses every token row before it; it proposes what a full pass does.
            let mut canvas = vec![5, 9, 14, 3, 22, 7];
            canvas.resize(20, mask);
            for step in 0..10 {
                let leftmost = canvas.iter().position(|&t| t == mask).unwrap() as u32;
                let key = StepKey { seed: 3, step };
                let a = cached.propose_with_candidates(&canvas, &[leftmost], &rule, key).await.unwrap();
                let b = full.propose_with_candidates(&canvas, &[leftmost], &rule, key).await.unwrap();
                assert_eq!(a[0].proposal.token, b[0].proposal.token, "{set:?}, left to right, step {step}");
                assert!((a[0].proposal.score - b[0].proposal.score).abs() < 1e-5, "{set:?}, step {step}");
                // The reference's whole-canvas pass: the leftmost mask is predicted from the row before it.
                let logits = reference.logits(&canvas, None).unwrap();
                let at = c.logits_row(leftmost as usize) * c.vocab_size;
                let row = &logits[at..at + c.vocab_size];
                let best = (0..row.len()).max_by(|&i, &j| row[i].total_cmp(&row[j])).unwrap() as u32;
                assert_eq!(a[0].proposal.token, best, "{set:?}, left to right against the reference, step {step}");
                canvas[leftmost as usize] = a[0].proposal.token;
            }
        }
    }
}

both! {
    /// A mask-gated model with blocks of 8, stepped as threshold decoding with drafts steps it: a step asks for
    /// some positions of a block that mixes tokens and masks, so a pass covers only the rows those positions
    /// need from the rows it may keep; every step proposes what the reference's whole-canvas pass proposes.
    async fn gated_steps_over_mixed_blocks_match_the_reference() {
        use unmask_sampler::Denoiser;
        let c = ModelConfig {
            attention: AttentionKind::MasksSeeBlock { block_size: 8 },
            adapter_rank: Some(2),
            ..config(64, 2, 4, 2, 128, 256)
        };
        let weights = Weights::random(&c, 12);
        let mut reference = CpuModel::load(&c, &weights).unwrap();
        let m = c.mask_token_id;
        let rule = ProposalRule {
            draw: TokenDraw::Sample { temperature: 0.0, top_p: 1.0, top_k: 0 },
            score: ScoreKind::Probability,
            mask_token: m,
        };
        // (position, token) written before the step, and the positions it asks for.
        type Step<'a> = (&'a [(usize, u32)], &'a [u32]);
        let steps: [Step; 4] = [
            (&[], &[8, 9, 10, 11, 12, 13, 14, 15]),
            (&[(10, 40), (12, 41)], &[8, 9, 11, 13, 14, 15]),
            (&[(13, 42), (14, 43), (15, 44)], &[8, 9, 11]),
            (&[(8, 45)], &[9, 11, 16]),
        ];
        for set in SETS {
            let gpu_model = load_gpu(&c, &weights, None, set).await;
            let mut canvas: Vec<u32> = (0..8).map(|i| i * 11 + 3).collect();
            canvas.resize(24, m);
            for (step, (written, positions)) in steps.into_iter().enumerate() {
                for &(at, token) in written {
                    canvas[at] = token;
                }
                let key = StepKey { seed: 1, step: step as u32 };
                let expected = reference.propose(&canvas, positions, &rule, key).unwrap();
                let actual = gpu_model.propose_with_candidates(&canvas, positions, &rule, key).await.unwrap();
                for (a, e) in actual.iter().zip(&expected) {
                    assert_eq!(a.proposal.token, e.token, "{set:?}, step {step}, position {}", e.position);
                    assert!((a.proposal.score - e.score).abs() < 1e-4, "{set:?}, step {step}: {a:?} against {e:?}");
                }
            }
        }
    }
}

both! {
    /// One batched step over canvases of different lengths, positions, seeds and steps answers each canvas as
    /// it is answered alone: on one pass, and when the canvases fill the engine's rows and split into passes.
    async fn a_batched_step_answers_each_canvas_as_alone() {
        for kind in [AttentionKind::Bidirectional, AttentionKind::BlockCausal { block_size: 4 }] {
            let c = llama(kind);
            let weights = Weights::random(&c, 21);
            let mask = 255;
            let rule = |temperature| ProposalRule {
                draw: TokenDraw::Sample { temperature, top_p: 0.9, top_k: 0 },
                score: ScoreKind::NegEntropy,
                mask_token: mask,
            };
            let mut canvases: Vec<Vec<u32>> = [9, 23, 1, 40, 17].iter().map(|&n| tokens(n, 200)).collect();
            for canvas in &mut canvases {
                let n = canvas.len();
                canvas[n / 2..].iter_mut().step_by(2).for_each(|t| *t = mask);
            }
            let positions: Vec<Vec<u32>> = canvases
                .iter()
                .map(|canvas| (0..canvas.len() as u32).filter(|&q| canvas[q as usize] == mask).collect())
                .collect();
            let items: Vec<BatchItem> = canvases
                .iter()
                .zip(&positions)
                .enumerate()
                .map(|(i, (canvas, positions))| BatchItem {
                    canvas,
                    positions,
                    // The fourth canvas has a rule of its own: it cannot share the others' pass.
                    rule: rule(if i == 3 { 0.0 } else { 0.8 }),
                    key: StepKey { seed: 100 + i as u64, step: i as u32 },
                })
                .collect();
            // 256 rows hold every canvas in one pass; 48 rows (the longest canvas) force several passes.
            for batch_rows in [Some(256), None] {
                let options = GpuOptions { max_len: 48, batch_rows, ..GpuOptions::default() };
                let model = GpuModel::load(gpu().await, &c, &weights, options).await.unwrap();
                let batched = model.propose_batch_with_candidates(&items).await.unwrap();
                assert_eq!(batched.len(), items.len());
                for (i, item) in items.iter().enumerate() {
                    let alone =
                        model.propose_with_candidates(item.canvas, item.positions, &item.rule, item.key).await.unwrap();
                    let what = format!("{kind:?}, {batch_rows:?} rows, canvas {i}");
                    let picks = |s: &[Scored]| s.iter().map(|s| (s.proposal.position, s.proposal.token)).collect::<Vec<_>>();
                    assert_eq!(picks(&batched[i]), picks(&alone), "{what}");
                    for (b, a) in batched[i].iter().zip(&alone) {
                        assert!((b.proposal.score - a.proposal.score).abs() < 1e-4, "{what}: {b:?} vs {a:?}");
                    }
                }
            }
        }
    }
}

/// Whole decodes run the synchronous sampler, which blocks on each step: native only (the page drives the
/// engine step by step instead).
#[cfg(not(target_arch = "wasm32"))]
mod decodes {
    use super::*;
    use unmask_sampler::contract::{assert_batched_decodes_equal_solo, assert_same_decode};
    use unmask_sampler::{Algorithm, DreamAlg, Remasking, SamplerConfig, Unobserved, generate};

    fn decoding_configs() -> Vec<SamplerConfig> {
        let base = SamplerConfig { steps: 8, max_new_tokens: 16, block_length: 8, seed: 5, ..SamplerConfig::DEFAULT };
        let mut configs = Vec::new();
        for alg in [DreamAlg::Origin, DreamAlg::MaskgitPlus, DreamAlg::TopkMargin, DreamAlg::Entropy] {
            configs.push(SamplerConfig { alg, temperature: 0.0, ..base.clone() });
            configs.push(SamplerConfig { alg, temperature: 0.7, top_p: 0.9, top_k: 20, ..base.clone() });
        }
        configs.push(SamplerConfig { alg_temp: 0.5, ..base.clone() });
        for remasking in [Remasking::LowConfidence, Remasking::Random] {
            for temperature in [0.0, 0.8] {
                configs.push(SamplerConfig { algorithm: Algorithm::Llada, remasking, temperature, ..base.clone() });
            }
        }
        configs.push(SamplerConfig { algorithm: Algorithm::Threshold, threshold: 0.1, ..base.clone() });
        // On the attention blocks (of 4): each pass then stops at the block being written.
        for algorithm in [Algorithm::Llada, Algorithm::Threshold] {
            configs.push(SamplerConfig { algorithm, block_length: 4, align_blocks: true, ..base.clone() });
        }
        configs.push(SamplerConfig { algorithm: Algorithm::LeftToRight, temperature: 0.5, ..base });
        configs
    }

    /// Same committed positions and tokens at every step; scores equal to f32-vs-f64 rounding.
    fn check_decodes(config: &ModelConfig, weights: &Weights, prompt: &[u32], what: &str) {
        let mut cpu = CpuModel::load(config, weights).unwrap();
        for set in SETS {
            let mut gpu_model = pollster::block_on(load_gpu(config, weights, None, set));
            for sampler in decoding_configs() {
                let case = format!("{what} {set:?} {sampler:?}");
                let on_cpu = generate(&mut cpu, prompt, &sampler, &mut Unobserved).unwrap();
                let on_gpu = generate(&mut gpu_model, prompt, &sampler, &mut Unobserved).unwrap();
                assert_same_decode(&on_gpu, &on_cpu, &case);
            }
        }
    }

    #[test]
    fn fixture_decodes_match_for_every_algorithm() {
        let dir = tiny_fixture();
        let mut prompt = tokens(9, dir.config.vocab_size);
        prompt[4] = dir.config.mask_token_id; // a hole to infill
        check_decodes(&dir.config, &dir.weights, &prompt, "tiny fixture");
    }

    #[test]
    fn causal_and_block_causal_llama_decodes_match_for_every_algorithm() {
        for kind in [AttentionKind::Causal, AttentionKind::BlockCausal { block_size: 4 }] {
            let c = llama(kind);
            check_decodes(&c, &Weights::random(&c, 13), &tokens(7, c.vocab_size), &format!("llama {kind:?}"));
        }
    }

    /// Sample *i* of a batched decode on the GPU is the decode of the same prompt and seed run alone, with
    /// prompts and lengths that differ inside the batch.
    #[test]
    fn batched_decodes_equal_solo_decodes() {
        for kind in KINDS {
            let c = llama(kind);
            let weights = Weights::random(&c, 17);
            let mut gpu_model =
                pollster::block_on(load_gpu(&c, &weights, None, KernelSet::for_adapter(&pollster::block_on(gpu()))));
            let prompts: Vec<Vec<u32>> = [5, 11, 2].iter().map(|&n| tokens(n, c.vocab_size)).collect();
            assert_batched_decodes_equal_solo(&mut gpu_model, &prompts, &format!("{kind:?}"));
        }
    }

    #[test]
    fn random_model_decodes_match_for_every_algorithm() {
        // 5.5 M parameters: hidden 256, 6 layers, vocab 4096.
        let c = config(256, 6, 4, 2, 704, 4096);
        check_decodes(&c, &Weights::random(&c, 12), &tokens(20, c.vocab_size), "random 5.5 M");
    }
}

both! {
    async fn bad_requests_are_errors_not_crashes() {
        let mut c = config(64, 1, 2, 1, 128, 256);
        c.max_position_embeddings = 1 << 22;
        let weights = Weights::random(&c, 1);
        // Activations for a 4 M-token canvas exceed any device's largest binding.
        let huge = GpuOptions { max_len: 1 << 22, ..GpuOptions::default() };
        let Err(error) = GpuModel::load(gpu().await, &c, &weights, huge).await else { panic!("loaded") };
        assert!(error.to_string().contains("shorter maximum length"), "{error}");
        let model = GpuModel::load(gpu().await, &c, &weights, GpuOptions { max_len: 16, ..GpuOptions::default() })
            .await
            .unwrap();
        let too_long = model.logits(&[5; 17]).await.expect_err("an error");
        assert!(too_long.to_string().contains("longer than the engine's maximum of 16"), "{too_long}");
        let out_of_vocab = model.logits(&[5, 256]).await.expect_err("an error");
        assert!(out_of_vocab.to_string().contains("outside the vocabulary"), "{out_of_vocab}");
        // The engine still works after refusing bad requests.
        assert_eq!(model.logits(&[5, 6]).await.unwrap().len(), 2 * 256);
    }
}
