//! The engine table: each engine's forward pass and step at each canvas length against the reference, then
//! (where they apply) steps with and without the KV cache and whole decodes batched against one by one.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::{AttentionKind, ModelConfig, QuantScheme, Weights};
use unmask_sampler::{Denoiser, SamplerConfig, StepKey, Unobserved, generate, generate_batch};

use super::Args;
use super::timing::{Timing, forward_flops, step_inputs, time};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Engine {
    Cpu,
    FastF32,
    FastQ8,
    FastQ4,
    GpuF32,
    GpuQ8,
    GpuQ4,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Cpu => "cpu reference f32",
            Engine::FastF32 => "fast cpu f32",
            Engine::FastQ8 => "fast cpu q8",
            Engine::FastQ4 => "fast cpu q4",
            Engine::GpuF32 => "gpu f32",
            Engine::GpuQ8 => "gpu q8",
            Engine::GpuQ4 => "gpu q4",
        }
    }

    fn quant(self) -> Option<QuantScheme> {
        match self {
            Engine::GpuQ8 | Engine::FastQ8 => Some(QuantScheme::Q8),
            Engine::GpuQ4 | Engine::FastQ4 => Some(QuantScheme::Q4),
            Engine::Cpu | Engine::FastF32 | Engine::GpuF32 => None,
        }
    }

    pub(super) fn is_fast(self) -> bool {
        matches!(self, Engine::FastF32 | Engine::FastQ8 | Engine::FastQ4)
    }

    fn is_gpu(self) -> bool {
        matches!(self, Engine::GpuF32 | Engine::GpuQ8 | Engine::GpuQ4)
    }
}

/// One model, the machine's engines for it, and what the table is compared against.
pub(super) struct Bench<'a> {
    args: &'a Args,
    config: &'a ModelConfig,
    weights: &'a Weights,
    threads: usize,
    longest: usize,
    /// The FMA peak of the fast engine's threads, for "of peak".
    peak: Option<f64>,
    gpu: Option<Arc<Gpu>>,
}

impl<'a> Bench<'a> {
    /// Finds the hardware the chosen engines run on and says what it is.
    pub(super) fn new(
        args: &'a Args,
        config: &'a ModelConfig,
        weights: &'a Weights,
        threads: usize,
        longest: usize,
    ) -> Self {
        let quantized = if unmask_fast::int8_dot_available() {
            "int8 dot products (AVX-512 VNNI)"
        } else {
            "f32 products of dequantized weights"
        };
        println!("cpu     fast engine on {threads} threads; fast q8/q4 on {quantized}");
        let fast = args.engines.iter().any(|e| e.is_fast());
        let peak = if fast { unmask_fast::fma_peak_gflops(threads) } else { None };
        if let Some(peak) = peak {
            let plural = if threads == 1 { "" } else { "s" };
            println!(
                "peak    {peak:.0} GFLOP/s: fused multiply-adds alone on {threads} thread{plural} (\"of peak\" = GFLOP/s ÷ this)"
            );
        }
        let gpu = if args.engines.iter().any(|e| e.is_gpu()) {
            match pollster::block_on(Gpu::new()) {
                Ok(gpu) => {
                    let s = gpu.summary();
                    let kind = if s.is_software { ", software" } else { "" };
                    println!("gpu     {} ({}{kind})", s.name, s.backend);
                    Some(Arc::new(gpu))
                }
                Err(e) => {
                    println!("gpu     none: {e} (GPU engines skipped)");
                    None
                }
            }
        } else {
            None
        };
        Bench { args, config, weights, threads, longest, peak, gpu }
    }

    /// Forward pass and step of every engine at every length, and the GPU profile if asked.
    pub(super) fn table(&self) -> Result<()> {
        println!(
            "forward = full forward pass + one proposal; step = forward + proposals for the masked half of the canvas"
        );
        println!(
            "median of {} runs after 1 warm-up; ratio = cpu reference time / engine time at the same length\n",
            self.args.iters
        );
        println!(
            "{:<18} {:>6} {:>12} {:>10} {:>8} {:>12} {:>10} {:>9}",
            "engine", "seq", "forward ms", "GFLOP/s", "of peak", "step ms", "tokens/s", "ratio"
        );
        let mut baseline: Vec<(usize, f64)> = Vec::new();
        let mut profile: Option<String> = None;
        for &engine in &self.args.engines {
            let mut model: Box<dyn Denoiser> = if self.args.profile && engine.is_gpu() && profile.is_none() {
                // The profile table needs the GPU model itself; it is timed as usual afterwards.
                let Some(gpu_model) = self.load_gpu(engine, false)? else { continue };
                profile = Some(profile_table(&gpu_model, engine, self.longest, self.config)?);
                Box::new(gpu_model)
            } else {
                let Some(model) = self.load(engine, false)? else { continue };
                model
            };
            for &seq in &self.args.seq {
                let (forward, step) = time_engine(model.as_mut(), self.config, seq, self.args.iters)?;
                if engine == Engine::Cpu {
                    baseline.push((seq, step.median));
                }
                let ratio = baseline
                    .iter()
                    .find(|(s, _)| *s == seq)
                    .map_or("-".to_owned(), |(_, base)| format!("{:.2}x", base / step.median));
                let gflops = forward_flops(self.config, seq) / (forward.median / 1e3) / 1e9;
                let of_peak = match self.peak {
                    Some(peak) if engine.is_fast() => format!("{:.0}%", 100.0 * gflops / peak),
                    _ => "-".to_owned(),
                };
                println!(
                    "{:<18} {:>6} {:>12.1} {:>10.1} {:>8} {:>12.1} {:>10.0} {:>9}",
                    engine.name(),
                    seq,
                    forward.median,
                    gflops,
                    of_peak,
                    step.median,
                    seq as f64 / (forward.median / 1e3),
                    ratio
                );
            }
        }
        if let Some(table) = profile {
            println!("\n{table}");
        }
        Ok(())
    }

    /// Whole decodes of the shortest length, batched against one by one.
    pub(super) fn batch_table(&self) -> Result<()> {
        let seq = *self.args.seq.iter().min().expect("checked non-empty");
        let (canvas, _, _) = step_inputs(self.config, seq);
        let prompt = &canvas[..seq / 2];
        let mut sampler = SamplerConfig {
            max_new_tokens: (seq - seq / 2) as u32,
            steps: 16,
            temperature: 0.8,
            ..SamplerConfig::default()
        };
        // A block-causal model decodes block by block on its attention blocks, where the cache leaves each step
        // only the current block's rows to compute.
        if let AttentionKind::BlockCausal { block_size } = self.config.attention {
            sampler = SamplerConfig {
                algorithm: unmask_sampler::Algorithm::Llada,
                block_length: block_size as u32,
                align_blocks: true,
                ..sampler
            };
        }
        println!(
            "\nwhole decodes ({} prompt + {} new tokens, {} steps, {:?}, each sample its own seed), samples/s:",
            prompt.len(),
            sampler.max_new_tokens,
            sampler.steps,
            sampler.algorithm
        );
        println!("{:<18} {:>6} {:>14} {:>14} {:>9}", "engine", "batch", "one by one", "batched", "speed-up");
        for &engine in &self.args.engines {
            // With the cache, as a decode runs: each sample keeps its own rows.
            let Some(mut model) = self.load(engine, true)? else { continue };
            for &size in &self.args.batch {
                let configs: Vec<SamplerConfig> =
                    (0..size as u64).map(|seed| SamplerConfig { seed, ..sampler.clone() }).collect();
                let samples: Vec<(&[u32], &SamplerConfig)> = configs.iter().map(|c| (prompt, c)).collect();
                let solo = time(1, || {
                    for (prompt, config) in &samples {
                        generate(model.as_mut(), prompt, config, &mut Unobserved)?;
                    }
                    Ok(())
                })?;
                let batched = time(1, || {
                    generate_batch(model.as_mut(), &samples, &mut Unobserved).map(drop).map_err(Into::into)
                })?;
                let per_second = |ms: f64| size as f64 / (ms / 1e3);
                println!(
                    "{:<18} {:>6} {:>14.2} {:>14.2} {:>8.2}x",
                    engine.name(),
                    size,
                    per_second(solo.median),
                    per_second(batched.median),
                    solo.median / batched.median
                );
            }
        }

        Ok(())
    }

    fn load_gpu(&self, engine: Engine, kv_cache: bool) -> Result<Option<GpuModel>> {
        let Some(gpu) = &self.gpu else { return Ok(None) };
        // Rows for the batch table's largest batch in one pass.
        let batch_rows =
            self.args.batch.iter().max().map(|b| b * self.args.seq.iter().min().expect("checked non-empty"));
        let options =
            GpuOptions { quant: engine.quant(), max_len: self.longest, kv_cache, batch_rows, ..GpuOptions::default() };
        Ok(Some(pollster::block_on(GpuModel::load(gpu.clone(), self.config, self.weights, options))?))
    }

    /// The engine, or `None` for a GPU engine on a machine without one. (`kv_cache` off for the table's full
    /// passes: the same canvas again would be served from the cache of a causal model.)
    fn load(&self, engine: Engine, kv_cache: bool) -> Result<Option<Box<dyn Denoiser>>> {
        Ok(Some(match engine {
            Engine::Cpu => Box::new(CpuModel::load(self.config, self.weights)?),
            Engine::FastF32 | Engine::FastQ8 | Engine::FastQ4 => {
                let options = FastOptions {
                    quant: engine.quant(),
                    max_len: self.longest,
                    threads: self.threads,
                    kv_cache,
                    ..FastOptions::default()
                };
                Box::new(FastModel::load(self.config, self.weights, options)?)
            }
            _ => {
                let Some(model) = self.load_gpu(engine, kv_cache)? else { return Ok(None) };
                Box::new(model)
            }
        }))
    }
}

fn time_engine(model: &mut dyn Denoiser, c: &ModelConfig, seq: usize, iters: usize) -> Result<(Timing, Timing)> {
    let (canvas, masked, rule) = step_inputs(c, seq);
    let key = StepKey { seed: 0, step: 0 };
    let one = [masked[0]];
    let forward = time(iters, || model.propose(&canvas, &one, &rule, key).map(drop).map_err(anyhow::Error::msg))?;
    let step = time(iters, || model.propose(&canvas, &masked, &rule, key).map(drop).map_err(anyhow::Error::msg))?;
    Ok((forward, step))
}

/// Block decoding on a causal or block-causal model: each step commits one token of the canvas's last block
/// and asks for the rest of it, so with the cache a step recomputes only that block (and, causal, only from
/// the committed token on). Times the fast f32 engine with and without the cache.
pub(super) fn cache_table(
    config: &ModelConfig,
    weights: &Weights,
    seqs: &[usize],
    iters: usize,
    threads: usize,
) -> Result<()> {
    let block = match config.attention {
        AttentionKind::BlockCausal { block_size } => block_size,
        _ => 32,
    };
    println!(
        "\ndecoding steps that change only the last block ({block} tokens) of the canvas, {} attention, fast cpu f32:",
        config.attention.name()
    );
    println!("{:<18} {:>6} {:>14} {:>14} {:>9}", "engine", "seq", "no cache ms", "cache ms", "speed-up");
    for &seq in seqs {
        let block = block.min(seq);
        let (mut canvas, _, rule) = step_inputs(config, seq);
        let last_block: Vec<u32> = ((seq - block) as u32..seq as u32).collect();
        last_block.iter().for_each(|&q| canvas[q as usize] = config.mask_token_id);
        let mut ms = [0.0; 2];
        for (cached, ms) in [false, true].into_iter().zip(&mut ms) {
            let options = FastOptions { max_len: seq, threads, kv_cache: cached, ..FastOptions::default() };
            let mut model = FastModel::load(config, weights, options)?;
            let mut step = 0u32;
            let timing = time(iters, || {
                // Commit one position of the block in turn (then start the block over), as a decode does.
                let mut now = canvas.clone();
                let at = (seq - block) + step as usize % block;
                now[at] = (step % 97 + 3) % config.vocab_size as u32;
                let masked: Vec<u32> = last_block.iter().copied().filter(|&q| q as usize != at).collect();
                step += 1;
                let key = StepKey { seed: 0, step };
                model.propose(&now, &masked, &rule, key).map(drop).map_err(anyhow::Error::msg)
            })?;
            *ms = timing.median;
        }
        println!("{:<18} {:>6} {:>14.2} {:>14.2} {:>8.1}x", "fast cpu f32", seq, ms[0], ms[1], ms[0] / ms[1]);
    }
    Ok(())
}

/// Where one GPU step's time goes, per kind of dispatch.
fn profile_table(model: &GpuModel, engine: Engine, seq: usize, config: &ModelConfig) -> Result<String> {
    let (canvas, masked, rule) = step_inputs(config, seq);
    let started = Instant::now();
    let clock = || started.elapsed().as_secs_f64() * 1e3;
    // Twice: the first run includes compiling pipelines on drivers that compile lazily.
    pollster::block_on(model.profile(&canvas, &masked, &rule, StepKey { seed: 0, step: 0 }, clock))?;
    let mut totals = pollster::block_on(model.profile(&canvas, &masked, &rule, StepKey { seed: 0, step: 0 }, clock))?;
    let sum: f64 = totals.iter().map(|(_, ms)| ms).sum();
    totals.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut text = format!("where a {} step goes (seq {seq}, each dispatch waited for on its own):\n", engine.name());
    for (label, ms) in totals {
        text.push_str(&format!("  {label:<16} {ms:>9.1} ms {:>5.1}%\n", 100.0 * ms / sum));
    }
    Ok(text)
}
