use std::path::PathBuf;
use std::time::Instant;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use unmask_cpu::CpuModel;
use unmask_fast::{FastModel, FastOptions};
use unmask_gpu::{Gpu, GpuModel, GpuOptions};
use unmask_model::{AttentionKind, ModelConfig, ModelDir, QuantScheme, Weights};
use unmask_sampler::{
    Denoiser, MAX_BATCH, ProposalRule, SamplerConfig, ScoreKind, StepKey, TokenDraw, Unobserved, generate,
    generate_batch,
};

#[derive(clap::Args)]
pub struct Args {
    /// Benchmark this model directory.
    #[arg(long, conflicts_with = "shape")]
    model: Option<PathBuf>,
    /// Benchmark a random model of this shape instead (comma-separated key=value; keys: hidden, layers,
    /// heads, kv-heads, intermediate, vocab, context).
    #[arg(long, default_value = "hidden=256,layers=4,heads=4,kv-heads=2,intermediate=704,vocab=4096")]
    shape: String,
    /// Canvas lengths (prompt + answer), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    seq: Vec<usize>,
    /// Engines to compare, comma-separated: cpu (the reference), fast-f32, fast-q8, fast-q4 (the fast CPU
    /// engine), gpu-f32, gpu-q8, gpu-q4 (the WGSL engine).
    #[arg(long, value_delimiter = ',', default_value = "cpu,fast-f32,fast-q8,fast-q4,gpu-f32,gpu-q8,gpu-q4")]
    engines: Vec<Engine>,
    /// Timed repetitions (after one warm-up).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Also print where one GPU step's time goes, per kernel (at the longest --seq).
    #[arg(long)]
    profile: bool,
    /// Threads of the fast CPU engine (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Run the model with this attention instead of its own: bidirectional, causal or block_causal:SIZE.
    /// Causal and block-causal models also get a table of decoding steps with and without the KV cache.
    #[arg(long)]
    attention: Option<String>,
    /// Also decode whole samples in batches of these sizes (comma-separated, e.g. 1,8,32) against the same
    /// samples decoded one by one, at the shortest --seq: samples/s of each.
    #[arg(long, value_delimiter = ',')]
    batch: Vec<usize>,
    /// Instead of the engine table: the fast engine on the shapes of a decode after a prompt of this many
    /// tokens (the prompt pass, 64 tokens generated left to right from the cache, a step over a block of 16 and
    /// of 32 masked positions after the cached prompt), with the exact and the int8 head.
    #[arg(long, value_name = "PROMPT_TOKENS")]
    decoding: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
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

    fn is_fast(self) -> bool {
        matches!(self, Engine::FastF32 | Engine::FastQ8 | Engine::FastQ4)
    }

    fn is_gpu(self) -> bool {
        matches!(self, Engine::GpuF32 | Engine::GpuQ8 | Engine::GpuQ4)
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.iters == 0 || args.seq.is_empty() || args.seq.contains(&0) || args.threads == Some(0) {
        bail!("--iters, --threads and every --seq must be at least 1");
    }
    if let Some(bad) = args.batch.iter().find(|&&b| !(1..=MAX_BATCH).contains(&b)) {
        bail!("--batch {bad}: expected 1 to {MAX_BATCH}");
    }
    let longest = *args.seq.iter().max().expect("checked non-empty");
    let (mut config, weights, label) = match &args.model {
        Some(dir) => {
            let dir = ModelDir::open(dir)?;
            (dir.config, dir.weights, dir.name)
        }
        None => {
            let config = random_config(&args.shape, longest)?;
            let weights = Weights::random(&config, 0);
            (config, weights, format!("random {}", args.shape))
        }
    };
    if let Some(attention) = &args.attention {
        let (name, size) = attention.split_once(':').map_or((attention.as_str(), None), |(n, s)| (n, Some(s)));
        let size =
            size.map(|s| s.parse::<usize>().context("--attention block_causal:SIZE needs a number")).transpose()?;
        config.attention = AttentionKind::parse(name, size).map_err(|e| anyhow::anyhow!("--attention: {e}"))?;
    }
    if longest > config.max_position_embeddings {
        bail!("--seq {longest} is longer than the model's context of {}", config.max_position_embeddings);
    }
    println!("model   {label} ({} parameters)", crate::inspect::human_count(config.parameter_count()));
    if let Some(prompt_len) = args.decoding {
        let threads = args.threads.unwrap_or_else(|| FastOptions::default().threads);
        return crate::bench_decoding::table(&config, &weights, prompt_len, args.iters, threads);
    }
    let quantized = if unmask_fast::int8_dot_available() {
        "int8 dot products (AVX-512 VNNI)"
    } else {
        "f32 products of dequantized weights"
    };
    let threads = args.threads.unwrap_or_else(|| FastOptions::default().threads);
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
    println!(
        "forward = full forward pass + one proposal; step = forward + proposals for the masked half of the canvas"
    );
    println!(
        "median of {} runs after 1 warm-up; ratio = cpu reference time / engine time at the same length\n",
        args.iters
    );
    println!(
        "{:<18} {:>6} {:>12} {:>10} {:>8} {:>12} {:>10} {:>9}",
        "engine", "seq", "forward ms", "GFLOP/s", "of peak", "step ms", "tokens/s", "ratio"
    );

    let mut baseline: Vec<(usize, f64)> = Vec::new();
    let mut profile: Option<String> = None;
    let load_gpu = |engine: Engine, kv_cache: bool| -> Result<Option<GpuModel>> {
        let Some(gpu) = &gpu else { return Ok(None) };
        // Rows for the batch table's largest batch in one pass.
        let batch_rows = args.batch.iter().max().map(|b| b * args.seq.iter().min().expect("checked non-empty"));
        let options =
            GpuOptions { quant: engine.quant(), max_len: longest, kv_cache, batch_rows, ..GpuOptions::default() };
        Ok(Some(pollster::block_on(GpuModel::load(gpu.clone(), &config, &weights, options))?))
    };
    // Full passes: the same canvas again would be served from the cache of a causal model.
    let load = |engine: Engine, kv_cache: bool| -> Result<Option<Box<dyn Denoiser>>> {
        Ok(Some(match engine {
            Engine::Cpu => Box::new(CpuModel::load(&config, &weights)?),
            Engine::FastF32 | Engine::FastQ8 | Engine::FastQ4 => {
                let options = FastOptions {
                    quant: engine.quant(),
                    max_len: longest,
                    threads,
                    kv_cache,
                    ..FastOptions::default()
                };
                Box::new(FastModel::load(&config, &weights, options)?)
            }
            _ => {
                let Some(model) = load_gpu(engine, kv_cache)? else { return Ok(None) };
                Box::new(model)
            }
        }))
    };
    for &engine in &args.engines {
        let mut model: Box<dyn Denoiser> = if args.profile && engine.is_gpu() && profile.is_none() {
            // The profile table needs the GPU model itself; it is timed as usual afterwards.
            let Some(gpu_model) = load_gpu(engine, false)? else { continue };
            profile = Some(profile_table(&gpu_model, engine, longest, &config)?);
            Box::new(gpu_model)
        } else {
            let Some(model) = load(engine, false)? else { continue };
            model
        };
        for &seq in &args.seq {
            let (forward, step) = time_engine(model.as_mut(), &config, seq, args.iters)?;
            if engine == Engine::Cpu {
                baseline.push((seq, step.median));
            }
            let ratio = baseline
                .iter()
                .find(|(s, _)| *s == seq)
                .map_or("-".to_owned(), |(_, base)| format!("{:.2}x", base / step.median));
            let gflops = forward_flops(&config, seq) / (forward.median / 1e3) / 1e9;
            let of_peak = match peak {
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
    if config.attention.is_prefix_stable() && args.engines.iter().any(|e| e.is_fast()) {
        cache_table(&config, &weights, &args.seq, args.iters, threads)?;
    }
    if !args.batch.is_empty() {
        let seq = *args.seq.iter().min().expect("checked non-empty");
        let (canvas, _, _) = step_inputs(&config, seq);
        let prompt = &canvas[..seq / 2];
        let mut sampler = SamplerConfig {
            max_new_tokens: (seq - seq / 2) as u32,
            steps: 16,
            temperature: 0.8,
            ..SamplerConfig::default()
        };
        // A block-causal model decodes block by block on its attention blocks, where the cache leaves each step
        // only the current block's rows to compute.
        if let AttentionKind::BlockCausal { block_size } = config.attention {
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
        for &engine in &args.engines {
            // With the cache, as a decode runs: each sample keeps its own rows.
            let Some(mut model) = load(engine, true)? else { continue };
            for &size in &args.batch {
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
    }
    Ok(())
}

/// Block decoding on a causal or block-causal model: each step commits one token of the canvas's last block
/// and asks for the rest of it, so with the cache a step recomputes only that block (and, causal, only from
/// the committed token on). Times the fast f32 engine with and without the cache.
fn cache_table(config: &ModelConfig, weights: &Weights, seqs: &[usize], iters: usize, threads: usize) -> Result<()> {
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

/// A canvas of `seq` tokens whose second half is masked, and a typical rule.
fn step_inputs(c: &ModelConfig, seq: usize) -> (Vec<u32>, Vec<u32>, ProposalRule) {
    let mut canvas: Vec<u32> = (0..seq as u32).map(|i| (i * 7 + 3) % c.vocab_size as u32).collect();
    let masked: Vec<u32> = (seq as u32 / 2..seq as u32).collect();
    masked.iter().for_each(|&q| canvas[q as usize] = c.mask_token_id);
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
        score: ScoreKind::NegEntropy,
        mask_token: c.mask_token_id,
    };
    (canvas, masked, rule)
}

fn time_engine(model: &mut dyn Denoiser, c: &ModelConfig, seq: usize, iters: usize) -> Result<(Timing, Timing)> {
    let (canvas, masked, rule) = step_inputs(c, seq);
    let key = StepKey { seed: 0, step: 0 };
    let one = [masked[0]];
    let forward = time(iters, || model.propose(&canvas, &one, &rule, key).map(drop).map_err(anyhow::Error::msg))?;
    let step = time(iters, || model.propose(&canvas, &masked, &rule, key).map(drop).map_err(anyhow::Error::msg))?;
    Ok((forward, step))
}

pub(crate) struct Timing {
    pub median: f64,
}

/// Runs `f` once to warm up, then `iters` times; milliseconds.
pub(crate) fn time(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    f()?;
    let mut samples: Vec<f64> = (0..iters)
        .map(|_| {
            let started = Instant::now();
            f()?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    samples.sort_by(f64::total_cmp);
    Ok(Timing { median: samples[samples.len() / 2] })
}

/// Multiply-adds ×2 of one forward pass with the head on one row, as `forward` times it (matmuls and
/// attention; norms and activations are negligible).
fn forward_flops(c: &ModelConfig, seq: usize) -> f64 {
    let (s, h, i, v) = (seq as f64, c.hidden_size as f64, c.intermediate_size as f64, c.vocab_size as f64);
    let q = (c.num_attention_heads * c.head_dim) as f64;
    let kv = (c.num_key_value_heads * c.head_dim) as f64;
    let projections = s * h * (2.0 * q + 2.0 * kv) + 3.0 * s * h * i;
    let attention = 2.0 * s * s * q;
    2.0 * (c.num_hidden_layers as f64 * (projections + attention) + h * v)
}

fn random_config(shape: &str, seq: usize) -> Result<ModelConfig> {
    let mut fields = std::collections::BTreeMap::new();
    for part in shape.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').with_context(|| format!("--shape: `{part}` is not key=value"))?;
        let value: usize = value.trim().parse().with_context(|| format!("--shape: `{part}`: not a number"))?;
        fields.insert(key.trim().to_owned(), value);
    }
    let known = ["hidden", "layers", "heads", "kv-heads", "intermediate", "vocab", "context"];
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        bail!("--shape: unknown key `{unknown}` (known: {})", known.join(", "));
    }
    let get = |key: &str, default: usize| fields.get(key).copied().unwrap_or(default);
    let hidden = get("hidden", 256);
    let heads = get("heads", 4);
    let config = ModelConfig::of_shape(
        hidden,
        get("layers", 4),
        heads,
        get("kv-heads", heads),
        get("intermediate", 704),
        get("vocab", 4096),
        get("context", seq.max(2048)),
    );
    config.validate("--shape")?;
    Ok(config)
}
