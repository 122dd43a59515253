//! Forward-pass timings of the page's engines, for the side-by-side benchmark against onnxruntime-web
//! (`tools/bench/web`): the very wasm the page runs, on a model handed over as its two files.

use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::{ModelConfig, QuantScheme, Weights};
use unmask_sampler::{Denoiser, ProposalRule, ScoreKind, StepKey, TokenDraw};
use wasm_bindgen::prelude::*;

/// Milliseconds of `iters` forward passes (after one warm-up) over a `seq`-token canvas, the head on its middle
/// row (what ONNX Runtime's graph computes in the side-by-side). `engine` is `fast-f32|fast-q8|fast-q4` (one
/// thread, SIMD128, as in the page's worker) or `webgpu-f32|webgpu-q8|webgpu-q4`.
#[wasm_bindgen]
pub async fn bench_forward(
    config_json: String,
    weights: Vec<u8>,
    engine: String,
    seq: usize,
    iters: usize,
) -> Result<Vec<f64>, JsValue> {
    let error = |e: &dyn std::fmt::Display| JsValue::from_str(&e.to_string());
    let config = ModelConfig::from_json(&config_json, "config.json").map_err(|e| error(&e))?;
    let weights = Weights::from_bytes(vec![("model.safetensors".into(), weights)]).map_err(|e| error(&e))?;
    let (kind, quant) = engine.split_once('-').ok_or_else(|| error(&format!("unknown engine {engine}")))?;
    let quant = match quant {
        "f32" => None,
        "q8" => Some(QuantScheme::Q8),
        "q4" => Some(QuantScheme::Q4),
        other => return Err(error(&format!("unknown weight format {other}"))),
    };
    let canvas: Vec<u32> = (0..seq as u32).map(|i| (i * 7 + 3) % config.vocab_size as u32).collect();
    let row = [seq as u32 / 2];
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
        score: ScoreKind::NegEntropy,
        mask_token: config.mask_token_id,
    };
    let key = StepKey { seed: 0, step: 0 };
    let now = || web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now());
    let mut samples = Vec::with_capacity(iters);
    match kind {
        "fast" => {
            // Full passes: a causal model would serve the repeated canvas from its cache.
            let options = FastOptions { quant, threads: 1, max_len: seq, kv_cache: false, ..FastOptions::default() };
            let mut model = FastModel::load(&config, &weights, options).map_err(|e| error(&e))?;
            for run in 0..=iters {
                let started = now();
                model.propose(&canvas, &row, &rule, key).map_err(|e| error(&e))?;
                if run > 0 {
                    samples.push(now() - started);
                }
            }
        }
        "webgpu" => {
            let gpu = Gpu::new().await.map_err(|e| error(&e))?;
            let options = GpuOptions { quant, max_len: seq, kv_cache: false, ..GpuOptions::default() };
            // `GpuModel` shares its device through an `Arc` because native callers share it across threads; the
            // browser has one thread, where the `Arc` is only a counted handle.
            #[allow(clippy::arc_with_non_send_sync)]
            let gpu = std::sync::Arc::new(gpu);
            let model = GpuModel::load(gpu, &config, &weights, options).await.map_err(|e| error(&e))?;
            for run in 0..=iters {
                let started = now();
                model.propose_with_candidates(&canvas, &row, &rule, key).await.map_err(|e| error(&e))?;
                if run > 0 {
                    samples.push(now() - started);
                }
            }
        }
        other => return Err(error(&format!("unknown engine {other}"))),
    }
    Ok(samples)
}
