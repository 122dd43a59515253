//! The engines' speed where they run: `cargo xtask bench-web` runs this in headless Chromium (WebGPU on the
//! machine's adapter, SwiftShader without a GPU; the CPU engines as wasm, one thread) and prints a table;
//! natively it times lavapipe or the machine's GPU. Ignored by default: it measures, it does not check. Same shapes as `unmask bench`.

mod common;

use common::{config, gpu, log, now_ms};
use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{GpuModel, GpuOptions};
use unmask_model::{QuantScheme, Weights};
use unmask_sampler::{Denoiser, ProposalRule, ScoreKind, StepKey, TokenDraw};

const RUNS: usize = 3;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

both! {
    #[ignore = "a benchmark: run with --include-ignored (cargo xtask bench-web)"]
    async fn model_a_forward_and_step_times() {
        // Model A of docs/performance.md: hidden 256, 4 layers, 4/2 heads, intermediate 704, vocab 4096.
        let c = config(256, 4, 4, 2, 704, 4096);
        let weights = Weights::random(&c, 0);
        let rule = ProposalRule {
            draw: TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
            score: ScoreKind::NegEntropy,
            mask_token: c.mask_token_id,
        };
        let key = StepKey { seed: 0, step: 0 };
        let gpu = gpu().await;
        log(&format!("adapter {:?}", gpu.summary()));
        log("engine              seq   forward ms    step ms   (forward = one proposal; step = the masked half)");
        for seq in [64usize, 256] {
            let mut canvas: Vec<u32> = (0..seq as u32).map(|i| (i * 7 + 3) % 4096).collect();
            let masked: Vec<u32> = (seq as u32 / 2..seq as u32).collect();
            masked.iter().for_each(|&q| canvas[q as usize] = c.mask_token_id);
            let one = [masked[0]];
            // The CPU engines (in the browser: wasm SIMD128, one thread, as in the page's worker).
            let mut cpu_engines: Vec<(&str, Box<dyn Denoiser>)> =
                vec![("cpu reference f32", Box::new(CpuModel::load(&c, &weights).unwrap()))];
            for (name, quant) in [("fast cpu f32", None), ("fast cpu q8", Some(QuantScheme::Q8)), ("fast cpu q4", Some(QuantScheme::Q4))] {
                let options = FastOptions { quant, max_len: seq, ..FastOptions::default() };
                cpu_engines.push((name, Box::new(FastModel::load(&c, &weights, options).unwrap())));
            }
            for (name, engine) in &mut cpu_engines {
                let mut time = |positions: &[u32]| {
                    let samples: Vec<f64> = (0..RUNS + 1)
                        .map(|_| {
                            let started = now_ms();
                            engine.propose(&canvas, positions, &rule, key).unwrap();
                            now_ms() - started
                        })
                        .skip(1)
                        .collect();
                    median(samples)
                };
                let (forward, step) = (time(&one), time(&masked));
                log(&format!("{name:<17} {seq:>5} {forward:>12.1} {step:>10.1}"));
            }
            for (name, quant) in [("gpu f32", None), ("gpu q8", Some(QuantScheme::Q8)), ("gpu q4", Some(QuantScheme::Q4))] {
                let options = GpuOptions { quant, max_len: seq, ..GpuOptions::default() };
                let model = GpuModel::load(gpu.clone(), &c, &weights, options).await.unwrap();
                let mut times = [0.0; 2];
                for (slot, positions) in [&one[..], &masked[..]].into_iter().enumerate() {
                    let mut samples = Vec::new();
                    for run in 0..RUNS + 1 {
                        let started = now_ms();
                        model.propose_with_candidates(&canvas, positions, &rule, key).await.unwrap();
                        if run > 0 {
                            samples.push(now_ms() - started);
                        }
                    }
                    times[slot] = median(samples);
                }
                log(&format!("{name:<17} {seq:>5} {:>12.1} {:>10.1}", times[0], times[1]));
                if seq == 256 && quant.is_none() {
                    let profile = model.profile(&canvas, &masked, &rule, key, now_ms).await.unwrap();
                    let total: f64 = profile.iter().map(|p| p.1).sum();
                    for (label, ms) in profile {
                        log(&format!("    {label:<16} {ms:>8.1} ms {:>5.1}%", 100.0 * ms / total));
                    }
                }
            }
        }
    }
}
