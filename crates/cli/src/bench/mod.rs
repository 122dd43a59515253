//! `unmask bench`: the engines side by side on one model (`engines`), or the fast engine on a decode's shapes
//! (`decoding`); `timing` is how both measure.

mod decoding;
mod engines;
mod timing;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use unmask_fast::FastOptions;
use unmask_model::{AttentionKind, ModelConfig, ModelDir, Weights};
use unmask_sampler::MAX_BATCH;

use engines::Engine;

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

pub fn run(args: Args) -> Result<()> {
    args.check()?;
    let longest = *args.seq.iter().max().expect("checked non-empty");
    let (config, weights, label) = open_model(&args, longest)?;
    println!("model   {label} ({} parameters)", crate::inspect::human_count(config.parameter_count()));
    let threads = args.threads.unwrap_or_else(|| FastOptions::default().threads);
    if let Some(prompt_len) = args.decoding {
        return decoding::table(&config, &weights, prompt_len, args.iters, threads);
    }
    let bench = engines::Bench::new(&args, &config, &weights, threads, longest);
    bench.table()?;
    if config.attention.is_prefix_stable() && args.engines.iter().any(|e| e.is_fast()) {
        engines::cache_table(&config, &weights, &args.seq, args.iters, threads)?;
    }
    if !args.batch.is_empty() {
        bench.batch_table()?;
    }
    Ok(())
}

impl Args {
    fn check(&self) -> Result<()> {
        if self.iters == 0 || self.seq.is_empty() || self.seq.contains(&0) || self.threads == Some(0) {
            bail!("--iters, --threads and every --seq must be at least 1");
        }
        if let Some(bad) = self.batch.iter().find(|&&b| !(1..=MAX_BATCH).contains(&b)) {
            bail!("--batch {bad}: expected 1 to {MAX_BATCH}");
        }
        Ok(())
    }
}

/// The model directory or the random model of `--shape`, with `--attention` applied.
fn open_model(args: &Args, longest: usize) -> Result<(ModelConfig, Weights, String)> {
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
    Ok((config, weights, label))
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
