use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use unmask_cpu::CpuModel;
use unmask_model::{ModelConfig, ModelDir};
use unmask_sampler::{Denoiser, ProposalRule, ScoreKind, StepKey, TokenDraw};

#[derive(clap::Args)]
pub struct Args {
    /// Benchmark this model directory.
    #[arg(long, conflicts_with = "shape")]
    model: Option<PathBuf>,
    /// Benchmark a random model of this shape instead (comma-separated key=value; keys: hidden, layers,
    /// heads, kv-heads, intermediate, vocab, context).
    #[arg(long, default_value = "hidden=256,layers=4,heads=4,kv-heads=2,intermediate=704,vocab=4096")]
    shape: String,
    /// Sequence length (prompt + answer) of each forward pass.
    #[arg(long, default_value_t = 256)]
    seq: usize,
    /// Timed repetitions (after one warm-up).
    #[arg(long, default_value_t = 5)]
    iters: usize,
}

pub fn run(args: Args) -> Result<()> {
    if args.iters == 0 || args.seq == 0 {
        bail!("--iters and --seq must be at least 1");
    }
    let (mut model, label) = match &args.model {
        Some(dir) => {
            let dir = ModelDir::open(dir)?;
            (CpuModel::load(&dir.config, &dir.weights)?, dir.name)
        }
        None => {
            let config = random_config(&args.shape, args.seq)?;
            (CpuModel::random(&config, 0), format!("random {}", args.shape))
        }
    };
    let c = model.config().clone();
    if args.seq > c.max_position_embeddings {
        bail!("--seq {} is longer than the model's context of {}", args.seq, c.max_position_embeddings);
    }
    let tokens: Vec<u32> = (0..args.seq as u32).map(|i| (i * 7 + 3) % c.vocab_size as u32).collect();

    let forward = time(args.iters, || Ok(model.logits(&tokens, None).map(drop)?))?;
    // A decoding step: forward over the canvas + a proposal for every position of a fully masked answer half.
    let masked: Vec<u32> = (args.seq as u32 / 2..args.seq as u32).collect();
    let mut canvas = tokens.clone();
    masked.iter().for_each(|&q| canvas[q as usize] = c.mask_token_id);
    let rule = ProposalRule {
        draw: TokenDraw::Sample { temperature: 0.2, top_p: 1.0, top_k: 0 },
        score: ScoreKind::NegEntropy,
        mask_token: c.mask_token_id,
    };
    let step = time(args.iters, || {
        model.propose(&canvas, &masked, &rule, StepKey { seed: 0, step: 0 }).map(drop).map_err(anyhow::Error::msg)
    })?;

    let flops = forward_flops(&c, args.seq);
    println!("model      {label} ({} parameters)", crate::inspect::human_count(c.parameter_count()));
    println!("engine     cpu reference (f32, {} threads)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("sequence   {} tokens, {} timed runs after 1 warm-up", args.seq, args.iters);
    println!(
        "forward    median {:.1} ms, min {:.1} ms · {:.0} tokens/s · {:.1} GFLOP/s",
        forward.median,
        forward.min,
        args.seq as f64 / (forward.median / 1e3),
        flops / (forward.median / 1e3) / 1e9
    );
    println!(
        "step       median {:.1} ms, min {:.1} ms (forward + proposals for {} masked positions)",
        step.median,
        step.min,
        masked.len()
    );
    Ok(())
}

struct Timing {
    median: f64,
    min: f64,
}

/// Runs `f` once to warm up, then `iters` times; milliseconds.
fn time(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    f()?;
    let mut samples: Vec<f64> = (0..iters)
        .map(|_| {
            let started = Instant::now();
            f()?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    samples.sort_by(f64::total_cmp);
    Ok(Timing { median: samples[samples.len() / 2], min: samples[0] })
}

/// Multiply-adds ×2 of one forward pass (matmuls and attention; norms and activations are negligible).
fn forward_flops(c: &ModelConfig, seq: usize) -> f64 {
    let (s, h, i, v) = (seq as f64, c.hidden_size as f64, c.intermediate_size as f64, c.vocab_size as f64);
    let q = (c.num_attention_heads * c.head_dim) as f64;
    let kv = (c.num_key_value_heads * c.head_dim) as f64;
    let projections = s * h * (2.0 * q + 2.0 * kv) + 3.0 * s * h * i;
    let attention = 2.0 * s * s * q;
    2.0 * (c.num_hidden_layers as f64 * (projections + attention) + s * h * v)
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
    let config = ModelConfig {
        model_type: "qwen2".into(),
        vocab_size: get("vocab", 4096),
        hidden_size: hidden,
        intermediate_size: get("intermediate", 704),
        num_hidden_layers: get("layers", 4),
        num_attention_heads: heads,
        num_key_value_heads: get("kv-heads", heads),
        head_dim: hidden.checked_div(heads).unwrap_or(0),
        max_position_embeddings: get("context", seq.max(2048)),
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        mask_token_id: 1,
        eos_token_ids: vec![0],
        pad_token_id: None,
        shift_logits: true,
        dtype: Some("float32".into()),
    };
    config.validate("--shape")?;
    Ok(config)
}
