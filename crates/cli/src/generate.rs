use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use unmask_model::ModelDir;
use unmask_sampler::{Algorithm, DreamAlg, Remasking, SamplerConfig, generate};

use crate::backend::{self, Backend};
use crate::view::StepView;

const D: SamplerConfig = SamplerConfig::DEFAULT;

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// The prompt; write <|mask|> where a token should be filled in (infilling).
    #[arg(long, required_unless_present = "prompt_file", conflicts_with = "prompt_file")]
    prompt: Option<String>,
    /// Read the prompt from a file.
    #[arg(long)]
    prompt_file: Option<PathBuf>,
    #[command(flatten)]
    sampler: SamplerArgs,
    /// Write the whole decode (every step's commits, scores and timings) as JSON.
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Show every denoising step on stderr, masked positions as ░, end-of-text as ·.
    #[arg(long)]
    show_steps: bool,
    /// The engine that runs the model.
    #[arg(long, value_enum, default_value_t = Backend::Fast)]
    backend: Backend,
    /// Print nothing but the completion (no progress, no summary).
    #[arg(long, short)]
    quiet: bool,
}

/// Every decoding parameter (SamplerConfig), as flags.
#[derive(clap::Args)]
struct SamplerArgs {
    /// Decoding algorithm.
    #[arg(long, value_enum, default_value_t = D.algorithm)]
    algorithm: Algorithm,
    /// Dream: which masked positions to commit at each step.
    #[arg(long, value_enum, default_value_t = D.alg)]
    alg: DreamAlg,
    /// LLaDA: which positions stay masked.
    #[arg(long, value_enum, default_value_t = D.remasking)]
    remasking: Remasking,
    /// Denoising steps (dream, llada).
    #[arg(long, default_value_t = D.steps)]
    steps: u32,
    /// Masked positions appended after the prompt.
    #[arg(long, default_value_t = D.max_new_tokens)]
    max_new_tokens: u32,
    /// Token temperature, 0 = greedy.
    #[arg(long, default_value_t = D.temperature)]
    temperature: f32,
    /// Nucleus filtering, 1 = off (not llada).
    #[arg(long, default_value_t = D.top_p)]
    top_p: f32,
    /// Keep the k most likely tokens, 0 = off (not llada).
    #[arg(long, default_value_t = D.top_k)]
    top_k: u32,
    /// Dream: randomness in the choice of positions, 0 = best scores first.
    #[arg(long, default_value_t = D.alg_temp)]
    alg_temp: f32,
    /// Dream: final timestep of the schedule.
    #[arg(long, default_value_t = D.eps)]
    eps: f64,
    /// Block size (llada, threshold).
    #[arg(long, default_value_t = D.block_length)]
    block_length: u32,
    /// Threshold: commit every position more confident than this.
    #[arg(long, default_value_t = D.threshold)]
    threshold: f32,
    #[arg(long, default_value_t = D.seed)]
    seed: u64,
}

impl From<SamplerArgs> for SamplerConfig {
    fn from(a: SamplerArgs) -> Self {
        SamplerConfig {
            algorithm: a.algorithm,
            alg: a.alg,
            remasking: a.remasking,
            steps: a.steps,
            max_new_tokens: a.max_new_tokens,
            temperature: a.temperature,
            top_p: a.top_p,
            top_k: a.top_k,
            alg_temp: a.alg_temp,
            eps: a.eps,
            block_length: a.block_length,
            threshold: a.threshold,
            seed: a.seed,
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let config = SamplerConfig::from(args.sampler);
    // Check the parameters before spending time on the model.
    config.validate()?;
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading prompt file {}", path.display()))?
        }
        (None, None) => unreachable!("clap requires one of --prompt and --prompt-file"),
    };
    let model_dir = ModelDir::open(&args.model)?;
    let prompt_ids = model_dir.tokenizer.encode(&prompt)?;
    let canvas_len = prompt_ids.len() + config.max_new_tokens as usize;
    let mut model = backend::load(args.backend, &model_dir.config, &model_dir.weights, None, canvas_len)?;
    let mask = model_dir.config.mask_token_id;

    let end_tokens = model_dir.config.end_token_ids();
    let mut view =
        StepView::new(&model_dir.tokenizer, mask, &end_tokens, prompt_ids.len(), args.show_steps, !args.quiet);
    let started = Instant::now();
    let decoded = generate(model.as_mut(), &prompt_ids, &config, &mut view)?;
    let elapsed = started.elapsed();
    view.finish();

    let range = decoded.completion_range(prompt_ids.len(), mask, |t| end_tokens.contains(&t));
    let completion = model_dir.tokenizer.decode(&decoded.tokens[range])?;
    let committed: usize = decoded.steps.iter().map(|s| s.commits.len()).sum();
    let steps = decoded.steps.len();
    let trace = decoded.into_trace(model_dir.name.clone(), prompt, &config, mask, prompt_ids.len(), completion);

    if let Some(path) = &args.trace {
        let json = serde_json::to_string(&trace)?;
        std::fs::write(path, json).with_context(|| format!("writing trace {}", path.display()))?;
    }
    println!("{}", trace.completion);
    if !args.quiet {
        let seconds = elapsed.as_secs_f64();
        let ar = trace.ar_ness;
        eprintln!(
            "{committed} tokens in {steps} steps, {:.0} ms ({:.1} tokens/s) · AR-ness local@1 {:.2} local@2 {:.2} global@1 {:.2} global@2 {:.2}",
            seconds * 1e3,
            committed as f64 / seconds,
            ar.local_1,
            ar.local_2,
            ar.global_1,
            ar.global_2
        );
    }
    Ok(())
}
