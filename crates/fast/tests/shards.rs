//! A model split into shards (`FastModel::load_shard`), each on its own thread, computes what the whole
//! model computes: every shard ends a pass with the whole model's logits, pass after pass (the cache kept
//! alike in every shard), for f32 and quantized files, tied and untied heads, a mask-gated model, and more
//! shards than some matrices have panels. The page runs the same code in Web Workers over another exchange;
//! `cargo xtask e2e` checks that one there.
#![cfg(not(target_arch = "wasm32"))]

use unmask_fast::{FastModel, FastOptions, Shard, ThreadExchange};
use unmask_model::convert::{WeightFormat, convert_weights};
use unmask_model::{Architecture, AttentionKind, ModelConfig, QuantScheme, Weights};
use unmask_sampler::{ProposalRule, ScoreKind, StepKey, TokenDraw};

/// 3 heads over 1 kv head, an intermediate size of 80 and a vocabulary of 101: no dimension is a multiple
/// of every shard count.
fn odd(attention: AttentionKind, adapter_rank: Option<usize>, tied: bool) -> (ModelConfig, Weights) {
    let config = ModelConfig {
        attention,
        adapter_rank,
        tie_word_embeddings: tied,
        ..ModelConfig::of_shape(48, 2, 3, 1, 80, 101, 64)
    };
    let weights = Weights::random(&config, 21);
    (config, weights)
}

fn canvas(config: &ModelConfig, len: usize) -> Vec<u32> {
    let m = config.mask_token_id;
    (0..len).map(|i| if i % 3 == 1 || i > len / 2 { m } else { (i * 37 % config.vocab_size) as u32 }).collect()
}

/// The whole model's logits of every row, pass after pass over `canvases`.
fn whole(config: &ModelConfig, weights: &Weights, options: FastOptions, canvases: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let mut model = FastModel::load(config, weights, options).unwrap();
    canvases.iter().map(|c| model.logits_of_rows(c, &(0..c.len()).collect::<Vec<_>>()).unwrap()).collect()
}

/// The same from every shard of `count`, each on its own thread: `[shard][pass]`.
fn sharded(
    config: &ModelConfig,
    weights: &Weights,
    options: FastOptions,
    count: usize,
    canvases: &[Vec<u32>],
) -> Vec<Vec<Vec<f32>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = ThreadExchange::group(count)
            .into_iter()
            .enumerate()
            .map(|(index, exchange)| {
                scope.spawn(move || {
                    let shard = Shard { index, count };
                    let mut model = FastModel::load_shard(config, weights, options, shard, Box::new(exchange)).unwrap();
                    assert_eq!(model.shard(), shard);
                    canvases
                        .iter()
                        .map(|c| model.logits_of_rows(c, &(0..c.len()).collect::<Vec<_>>()).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn assert_shards_match(what: &str, config: &ModelConfig, weights: &Weights, options: FastOptions) {
    // Three passes: the cache (causal kinds) keeps the first rows and recomputes the rest.
    let mut canvases = vec![canvas(config, 23)];
    let mut next = canvases[0].clone();
    next[15] = 7;
    canvases.push(next.clone());
    next.truncate(18);
    canvases.push(next);
    let expected = whole(config, weights, options, &canvases);
    for count in [2, 3, 5] {
        for (index, passes) in sharded(config, weights, options, count, &canvases).into_iter().enumerate() {
            for (pass, (actual, expected)) in passes.iter().zip(&expected).enumerate() {
                assert_eq!(actual.len(), expected.len());
                let scale = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let error = actual.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale;
                assert!(error < 1e-6, "{what}: shard {index} of {count}, pass {pass}: relative error {error}");
            }
        }
    }
}

#[test]
fn shards_compute_the_whole_models_logits() {
    let options = FastOptions { threads: 1, ..FastOptions::default() };
    for (kind, tied) in [(AttentionKind::Bidirectional, true), (AttentionKind::Causal, false)] {
        let (config, weights) = odd(kind, None, tied);
        assert_shards_match(&format!("f32, {kind:?}, tied {tied}"), &config, &weights, options);
        for scheme in [QuantScheme::Q8, QuantScheme::Q4A] {
            let bytes = convert_weights(&config, &weights, WeightFormat::Quant { scheme, group_size: 16 }).unwrap();
            let quantized = Weights::from_bytes(vec![("model.safetensors".into(), bytes)]).unwrap();
            let what = format!("{scheme:?}, {kind:?}, tied {tied}");
            assert_shards_match(&what, &config, &quantized, options);
            // Threads inside each shard too, and int8 products where the CPU has them.
            let more = FastOptions { threads: 2, int8_everywhere: true, ..options };
            assert_shards_match(&format!("{what}, 2 threads, int8"), &config, &quantized, more);
        }
    }
    let llama = ModelConfig {
        model_type: "llama".into(),
        architecture: Architecture::Llama,
        qkv_bias: false,
        ..odd(AttentionKind::BlockCausal { block_size: 4 }, None, true).0
    };
    assert_shards_match("llama, block-causal", &llama, &Weights::random(&llama, 4), options);
}

#[test]
fn a_mask_gated_models_shards_match_it() {
    let (config, weights) = odd(AttentionKind::MasksSeeBlock { block_size: 8 }, Some(2), true);
    assert_shards_match("mask-gated", &config, &weights, FastOptions { threads: 1, ..FastOptions::default() });
}

#[test]
fn the_first_shard_proposes_and_the_others_do_not() {
    let (config, weights) = odd(AttentionKind::Bidirectional, None, true);
    let options = FastOptions { threads: 1, ..FastOptions::default() };
    let canvas = canvas(&config, 20);
    let positions: Vec<u32> = (0..20).filter(|&i| canvas[i as usize] == config.mask_token_id).collect();
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.7, top_p: 0.9, top_k: 0 },
        score: ScoreKind::Probability,
        mask_token: config.mask_token_id,
    };
    let key = StepKey { seed: 3, step: 1 };
    let mut model = FastModel::load(&config, &weights, options).unwrap();
    let expected = model.propose_scored(&canvas, &positions, &rule, key, 3).unwrap();
    let answers: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = ThreadExchange::group(2)
            .into_iter()
            .enumerate()
            .map(|(index, exchange)| {
                let (config, weights, canvas, positions, rule) = (&config, &weights, &canvas, &positions, &rule);
                scope.spawn(move || {
                    let shard = Shard { index, count: 2 };
                    let mut model = FastModel::load_shard(config, weights, options, shard, Box::new(exchange)).unwrap();
                    model.propose_scored(canvas, positions, rule, key, 3).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers[0], expected);
    assert!(answers[1].is_empty());
}

#[test]
fn a_shard_that_does_not_exist_is_an_error() {
    let (config, weights) = odd(AttentionKind::Bidirectional, None, true);
    let exchange = ThreadExchange::group(1).pop().unwrap();
    let shard = Shard { index: 2, count: 2 };
    let error = FastModel::load_shard(&config, &weights, FastOptions::default(), shard, Box::new(exchange));
    assert!(error.is_err());
}
