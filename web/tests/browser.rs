//! The playground's logic in headless Chromium (`cargo xtask ci` runs these with WebGPU enabled): the URL
//! round trip through the browser's own URLSearchParams, the worker protocol, and a whole decode on the
//! page's WebGPU engine, checked against the CPU reference through the sampler's blocking `generate`.
#![cfg(target_arch = "wasm32")]

use unmask_cpu::CpuModel;
use unmask_model::ModelDir;
use unmask_sampler::{Decode, SamplerConfig, StepKey, Unobserved, generate};
use unmask_web::engine::{EngineKind, Engines};
use unmask_web::settings::{BackendChoice, Mode, Settings, Strategy};
use unmask_web::worker::{FromWorker, StepItem, ToWorker, WorkerState};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const WEIGHTS: &[u8] = include_bytes!("../../tests/fixtures/tiny-qwen2/model.safetensors");
const CONFIG: &str = include_str!("../../tests/fixtures/tiny-qwen2/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../tests/fixtures/tiny-qwen2/tokenizer.json");

fn fixture() -> ModelDir {
    let weights = unmask_model::Weights::from_bytes(vec![("model.safetensors".into(), WEIGHTS.to_vec())]).unwrap();
    ModelDir::from_parts("tiny-qwen2".into(), CONFIG, weights, TOKENIZER).unwrap()
}

#[wasm_bindgen_test]
fn settings_survive_the_browsers_url_encoding() {
    let settings = Settings {
        prompt: "def f(x):\n    \"\"\"Ünïcode & = + ? # %20\"\"\"\n<|mask|>".into(),
        strategy: Strategy::Threshold,
        sampler: SamplerConfig {
            temperature: 0.35,
            threshold: 0.7,
            block_length: 4,
            seed: 123_456_789,
            ..Default::default()
        },
        backend: BackendChoice::Gpu,
        mode: Mode::Solve,
        samples: 12,
        model: Some("unmask-coder".into()),
        workers: Some(3),
    };
    let defaults = Settings::default();
    let query = unmask_web::url::query(&settings, &defaults);
    let params = web_sys::UrlSearchParams::new_with_str(&query).unwrap();
    let pairs: Vec<(String, String)> = settings
        .to_pairs(&defaults)
        .iter()
        .map(|(name, _)| (name.to_string(), params.get(name).expect("every pair is in the query")))
        .collect();
    let (back, warnings) = unmask_web::url::settings_from(defaults, &pairs);
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(back, settings);
}

/// The worker (the fast engine, compiled to wasm with SIMD128) answers as the CPU reference's own `Denoiser`
/// does (another engine in another crate).
#[wasm_bindgen_test]
fn worker_protocol_loads_the_model_and_proposes_like_the_reference() {
    let dir = fixture();
    let mut state = WorkerState::default();
    let early = state.handle(
        ToWorker::Propose {
            id: 1,
            items: vec![StepItem {
                canvas: vec![5, 1],
                positions: vec![1],
                rule: rule(dir.config.mask_token_id),
                key: key(),
            }],
        },
        Vec::new(),
    );
    assert!(matches!(early, FromWorker::Failed { id: 1, .. }), "{early:?}");
    let load = |id, files: &[&str]| ToWorker::Load {
        id,
        config_json: CONFIG.into(),
        files: files.iter().map(|f| f.to_string()).collect(),
        shard: None,
    };
    let broken = state.handle(load(2, &["model.safetensors"]), vec![vec![1, 2, 3].into()]);
    assert!(matches!(&broken, FromWorker::Failed { id: 2, message } if !message.is_empty()), "{broken:?}");
    let unnamed = state.handle(load(2, &["base.safetensors", "model.safetensors"]), vec![WEIGHTS.to_vec().into()]);
    assert!(matches!(&unnamed, FromWorker::Failed { message, .. } if message.contains("2 weight files named, 1 sent")));
    let loaded = state.handle(load(3, &["model.safetensors"]), vec![WEIGHTS.to_vec().into()]);
    assert_eq!(loaded, FromWorker::Loaded { id: 3 });

    // Two canvases of different lengths and seeds in one request (a Solve step): each is answered as the
    // reference answers it alone.
    let mask = dir.config.mask_token_id;
    let items = vec![
        StepItem {
            canvas: vec![5, 9, 12, mask, mask, 7, mask, mask],
            positions: vec![3, 4, 6, 7],
            rule: rule(mask),
            key: key(),
        },
        StepItem {
            canvas: vec![3, mask, 8, mask, mask],
            positions: vec![1, 3, 4],
            rule: rule(mask),
            key: StepKey { seed: 99, step: 2 },
        },
    ];
    let request = ToWorker::Propose { id: 4, items: items.clone() };
    // Through JSON, as the real message travels.
    let request: ToWorker = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
    let reply = state.handle(request, Vec::new());
    let reply: FromWorker = serde_json::from_str(&serde_json::to_string(&reply).unwrap()).unwrap();
    let FromWorker::Proposals { id: 4, proposals } = reply else { panic!("{reply:?}") };
    assert_eq!(proposals.len(), items.len());
    let mut reference = CpuModel::load(&dir.config, &dir.weights).unwrap();
    for (proposals, item) in proposals.iter().zip(&items) {
        let expected =
            unmask_sampler::Denoiser::propose(&mut reference, &item.canvas, &item.positions, &item.rule, item.key)
                .unwrap();
        // The worker runs the fast engine: the same tokens as the reference, scores equal to float rounding.
        for (got, want) in proposals.iter().zip(&expected) {
            assert_eq!((got.proposal.position, got.proposal.token), (want.position, want.token));
            assert!((got.proposal.score - want.score).abs() < 1e-4, "{got:?} vs {want:?}");
        }
        assert_eq!(proposals.len(), expected.len());
        for p in proposals {
            assert!(!p.candidates.is_empty() && p.candidates.len() <= 5);
            assert!(p.candidates.windows(2).all(|w| w[0].1 >= w[1].1), "candidates most likely first");
        }
    }
}

/// A pool's worker loads its shard over the exchange that came with the load, and fails with a message
/// without one. (One shard here: wasm runs one thread; the page's pool of two is checked by `cargo xtask e2e`.)
#[wasm_bindgen_test]
fn a_shard_loads_over_its_exchange_and_proposes_as_the_whole_model() {
    use unmask_web::worker::ShardOf;
    let mask = fixture().config.mask_token_id;
    let load = |id, shard| ToWorker::Load {
        id,
        config_json: CONFIG.into(),
        files: vec!["model.safetensors".into()],
        shard: Some(shard),
    };
    let propose = ToWorker::Propose {
        id: 3,
        items: vec![StepItem {
            canvas: vec![5, 9, mask, mask, 7],
            positions: vec![2, 3],
            rule: rule(mask),
            key: key(),
        }],
    };
    let mut whole = WorkerState::default();
    whole.handle(
        ToWorker::Load { id: 1, config_json: CONFIG.into(), files: vec!["model.safetensors".into()], shard: None },
        vec![WEIGHTS.to_vec().into()],
    );
    let expected = whole.handle(propose.clone(), Vec::new());
    let mut state = WorkerState::default();
    // The file as the page sends it: a JavaScript buffer the worker reads a tensor at a time.
    let sent = || vec![unmask_web::worker::sent_file(js_sys::Uint8Array::from(WEIGHTS))];
    let alone = state.handle(load(1, ShardOf { index: 0, count: 1 }), sent());
    assert!(matches!(&alone, FromWorker::Failed { message, .. } if message.contains("pool")), "{alone:?}");
    state.attach_exchange(Box::new(unmask_fast::ThreadExchange::group(1).pop().unwrap()));
    assert_eq!(state.handle(load(2, ShardOf { index: 0, count: 1 }), sent()), FromWorker::Loaded { id: 2 });
    assert_eq!(state.handle(propose, Vec::new()), expected);
    assert!(matches!(expected, FromWorker::Proposals { .. }));
}

/// The page's async loop on WebGPU produces the same decode as the blocking CPU reference.
#[wasm_bindgen_test]
async fn a_whole_decode_on_webgpu_matches_the_cpu_reference() {
    let dir = fixture();
    let engines = Engines::new(None, None);
    engines.load_gpu(&dir.config, &dir.weights).await.expect("WebGPU (--enable-unsafe-webgpu)");
    engines.set_active(EngineKind::Gpu, String::new());
    let prompt = dir.tokenizer.encode("def add(a, b):").unwrap();
    for strategy in Strategy::ALL {
        let settings = Settings {
            strategy,
            sampler: SamplerConfig { max_new_tokens: 12, steps: 6, block_length: 4, seed: 7, ..Default::default() },
            ..Settings::default()
        };
        let config = settings.run_config();
        let (mask, ends, context) =
            (dir.config.mask_token_id, dir.config.end_token_ids(), dir.config.max_position_embeddings);
        let mut decode = Decode::new(&prompt, &config, mask, &ends, context).unwrap();
        while let Some(request) = decode.request() {
            let scored = if request.positions.is_empty() {
                Vec::new()
            } else {
                engines
                    .propose(decode.canvas_for(&request), &request.positions, &request.rule, request.key)
                    .await
                    .unwrap()
            };
            decode.advance(scored.into_iter().map(|s| s.proposal).collect(), 0.0).unwrap();
        }
        let on_gpu = decode.finish();
        let mut cpu = CpuModel::load(&dir.config, &dir.weights).unwrap();
        let on_cpu = generate(&mut cpu, &prompt, &config, &mut Unobserved).unwrap();
        assert_eq!(on_gpu.tokens, on_cpu.tokens, "{strategy:?}: tokens");
        let commits = |d: &unmask_sampler::Decoded| {
            d.steps
                .iter()
                .map(|s| s.commits.iter().map(|c| (c.position, c.token)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        assert_eq!(commits(&on_gpu), commits(&on_cpu), "{strategy:?}: decode order");
    }
}

fn rule(mask: u32) -> unmask_sampler::ProposalRule {
    unmask_sampler::ProposalRule {
        draw: unmask_sampler::TokenDraw::Sample { temperature: 0.7, top_p: 0.9, top_k: 0 },
        score: unmask_sampler::ScoreKind::NegEntropy,
        mask_token: mask,
    }
}

fn key() -> unmask_sampler::StepKey {
    unmask_sampler::StepKey { seed: 11, step: 3 }
}
