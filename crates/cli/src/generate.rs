use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use unmask_model::ModelDir;
use unmask_model::prompt::{ChatTemplate, Prompt, PromptFormat};
use unmask_sampler::{Algorithm, Decoded, Denoiser, DreamAlg, EndsAlso, Remasking, SamplerConfig, generate};

use crate::backend::{self, Backend};
use crate::view::StepView;

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
    format: FormatArg,
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

/// How the prompt reaches the model.
#[derive(clap::Args)]
pub(crate) struct FormatArg {
    /// bare (the prompt as it is), chat (the model's chat template, the code read from the answer's fence) or
    /// chat_opened (the chat template with the answer opened by a fence and the prompt's code: the model writes
    /// the rest) [default: the model's recommendation (generation_config.json), else chat_opened for a model
    /// with a chat template, else bare; a prompt already in chat markup is always used as it is].
    #[arg(long, value_parser = parse_format)]
    pub prompt_format: Option<PromptFormat>,
}

fn parse_format(name: &str) -> Result<PromptFormat, String> {
    PromptFormat::parse(name).ok_or_else(|| {
        let names: Vec<&str> = PromptFormat::ALL.iter().map(|f| f.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// Every decoding parameter (SamplerConfig), as flags. A flag left out takes the model's recommended value
/// (its `generation_config.json`), else the built-in default shown.
#[derive(clap::Args)]
pub(crate) struct SamplerArgs {
    /// Decoding algorithm [default: dream].
    #[arg(long, value_enum)]
    algorithm: Option<Algorithm>,
    /// Dream: which masked positions to commit at each step [default: entropy].
    #[arg(long, value_enum)]
    alg: Option<DreamAlg>,
    /// LLaDA: which positions stay masked [default: low-confidence].
    #[arg(long, value_enum)]
    remasking: Option<Remasking>,
    /// Denoising steps (dream, llada) [default: 32].
    #[arg(long)]
    steps: Option<u32>,
    /// Masked positions appended after the prompt [default: 64].
    #[arg(long)]
    max_new_tokens: Option<u32>,
    /// Token temperature, 0 = greedy [default: 0.2].
    #[arg(long)]
    temperature: Option<f32>,
    /// Nucleus filtering, 1 = off (not llada) [default: 1].
    #[arg(long)]
    top_p: Option<f32>,
    /// Keep the k most likely tokens, 0 = off (not llada) [default: 0].
    #[arg(long)]
    top_k: Option<u32>,
    /// Dream: randomness in the choice of positions, 0 = best scores first [default: 0].
    #[arg(long)]
    alg_temp: Option<f32>,
    /// Dream: final timestep of the schedule [default: 0.001].
    #[arg(long)]
    eps: Option<f64>,
    /// Block size (llada, threshold) [default: 32].
    #[arg(long)]
    block_length: Option<u32>,
    /// Blocks at multiples of --block-length from the canvas start, as a block-causal model's attention has them
    /// (llada, threshold) [default: false].
    #[arg(long)]
    align_blocks: Option<bool>,
    /// Threshold: commit every position more confident than this [default: 0.9].
    #[arg(long)]
    threshold: Option<f32>,
    /// [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// Stop once an end of text is committed with nothing masked before it: the same answer in fewer steps
    /// [default: false].
    #[arg(long)]
    stop_at_end: Option<bool>,
}

impl SamplerArgs {
    /// `base` (the model's recommendation or the defaults) with every given flag put over it.
    pub(crate) fn over(self, base: SamplerConfig) -> SamplerConfig {
        let a = self;
        SamplerConfig {
            algorithm: a.algorithm.unwrap_or(base.algorithm),
            alg: a.alg.unwrap_or(base.alg),
            remasking: a.remasking.unwrap_or(base.remasking),
            steps: a.steps.unwrap_or(base.steps),
            max_new_tokens: a.max_new_tokens.unwrap_or(base.max_new_tokens),
            temperature: a.temperature.unwrap_or(base.temperature),
            top_p: a.top_p.unwrap_or(base.top_p),
            top_k: a.top_k.unwrap_or(base.top_k),
            alg_temp: a.alg_temp.unwrap_or(base.alg_temp),
            eps: a.eps.unwrap_or(base.eps),
            block_length: a.block_length.unwrap_or(base.block_length),
            align_blocks: a.align_blocks.unwrap_or(base.align_blocks),
            threshold: a.threshold.unwrap_or(base.threshold),
            seed: a.seed.unwrap_or(base.seed),
            stop_at_end: a.stop_at_end.unwrap_or(base.stop_at_end),
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let recommended = Recommended::of(&args.model)?;
    let config = args.sampler.over(recommended.decoding);
    // Check the parameters before spending time on the model.
    config.validate()?;
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading prompt file {}", path.display()))?
        }
        (None, None) => unreachable!("clap requires one of --prompt and --prompt-file"),
    };
    let format = args.format.prompt_format.or(recommended.prompt_format);
    let mut loaded = Loaded::open(&args.model, args.backend, &prompt, format, config.max_new_tokens, 1)?;
    if !args.quiet && loaded.prompt.format != PromptFormat::Bare {
        eprintln!("prompt format {}: the model reads {} tokens", loaded.prompt.format.name(), loaded.prompt_ids.len());
    }
    let (tokenizer, mask) = (&loaded.model_dir.tokenizer, loaded.model_dir.config.mask_token_id);
    let prompt_len = loaded.prompt_ids.len();
    let mut view = StepView::new(tokenizer, mask, &loaded.end_tokens, prompt_len, args.show_steps, !args.quiet);
    let started = Instant::now();
    let mut engine = EndsAlso { model: loaded.engine.as_mut(), extra: &loaded.end_tokens };
    let decoded = generate(&mut engine, &loaded.prompt_ids, &config, &mut view)?;
    let elapsed = started.elapsed();
    view.finish();

    let completion = loaded.prompt.code_of(&loaded.completion(&decoded)?);
    let committed: usize = decoded.steps.iter().map(|s| s.commits.len()).sum();
    let steps = decoded.steps.len();
    let skipped = decoded.tokens.iter().filter(|&&t| t == mask).count();
    let trace = decoded.into_trace(
        loaded.model_dir.name.clone(),
        loaded.prompt.text.clone(),
        &config,
        mask,
        prompt_len,
        completion,
    );

    if let Some(path) = &args.trace {
        let json = serde_json::to_string(&trace)?;
        std::fs::write(path, json).with_context(|| format!("writing trace {}", path.display()))?;
    }
    println!("{}", trace.completion);
    if !args.quiet {
        let seconds = elapsed.as_secs_f64();
        let ar = trace.ar_ness;
        let stopped = if skipped > 0 {
            format!(" (stopped at the answer's end; the {skipped} cells after it stay masked)")
        } else {
            String::new()
        };
        eprintln!(
            "{committed} tokens in {steps} steps{stopped}, {:.0} ms ({:.1} tokens/s) · AR-ness local@1 {:.2} local@2 {:.2} global@1 {:.2} global@2 {:.2}",
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

/// A model ready to decode one prompt: its files, the prompt in its format and its ids, an engine sized for
/// the canvas and the tokens that end an answer (the model's, and the format's own; shared by `generate` and
/// `solve`).
pub(crate) struct Loaded {
    pub model_dir: ModelDir,
    pub prompt: Prompt,
    pub prompt_ids: Vec<u32>,
    pub engine: Box<dyn Denoiser>,
    pub end_tokens: Vec<u32>,
}

impl Loaded {
    /// The model at `model` on `backend`, for the user's `text` in `format` (`None`: see [`FormatArg`]) and
    /// `max_new_tokens` more, decoded `batch` at a time.
    pub(crate) fn open(
        model: &Path,
        backend: Backend,
        text: &str,
        format: Option<PromptFormat>,
        max_new_tokens: u32,
        batch: usize,
    ) -> Result<Self> {
        let model_dir = ModelDir::open(model)?;
        let template = model_dir.chat_template.as_ref();
        let format = match format {
            _ if ChatTemplate::is_marked_up(text) => PromptFormat::Bare,
            Some(format) => format,
            None if template.is_some() => PromptFormat::ChatOpened,
            None => PromptFormat::Bare,
        };
        let prompt = Prompt::new(format, template, text)?;
        let prompt_ids = model_dir.tokenizer.encode(&prompt.text)?;
        let context = model_dir.config.max_position_embeddings;
        let canvas_len = prompt_ids.len() + max_new_tokens as usize;
        if canvas_len > context {
            anyhow::bail!(unmask_sampler::SamplerError::ContextOverflow {
                prompt: prompt_ids.len(),
                new_tokens: max_new_tokens as usize,
                context,
            });
        }
        let engine = backend::load(backend, &model_dir.config, &model_dir.weights, None, canvas_len, batch)?;
        let mut end_tokens = model_dir.config.end_token_ids();
        if format == PromptFormat::ChatOpened {
            let tokenizer = &model_dir.tokenizer;
            let vocab = tokenizer.vocab_size() as u32;
            end_tokens.extend(
                (0..vocab).filter(|&id| tokenizer.id_to_token(id).is_some_and(|t| prompt.token_ends_answer(&t))),
            );
        }
        Ok(Loaded { model_dir, prompt, prompt_ids, engine, end_tokens })
    }

    /// The answer's text in a finished decode: up to its end token.
    pub(crate) fn completion(&self, decoded: &Decoded) -> Result<String> {
        let mask = self.model_dir.config.mask_token_id;
        let range = decoded.completion_range(self.prompt_ids.len(), mask, |t| self.end_tokens.contains(&t));
        Ok(self.model_dir.tokenizer.decode(&decoded.tokens[range])?)
    }

    /// The program the model wrote, in two parts: the code before the answer (the user's, with its holes
    /// filled when a bare prompt had any; nothing in the chat format, whose answer repeats the function) and
    /// the answer's code.
    pub(crate) fn prompt_and_answer(&self, decoded: &Decoded) -> Result<(String, String)> {
        let mask = self.model_dir.config.mask_token_id;
        let n = self.prompt_ids.len();
        let end = decoded.completion_range(n, mask, |t| self.end_tokens.contains(&t)).end;
        let answer = self.prompt.code_of(&self.model_dir.tokenizer.decode(&decoded.tokens[n..end])?);
        let before = match self.prompt.format {
            PromptFormat::Chat => String::new(),
            PromptFormat::Bare if self.prompt_ids.contains(&mask) => {
                self.model_dir.tokenizer.decode(&decoded.tokens[..n])?
            }
            PromptFormat::Bare | PromptFormat::ChatOpened => self.prompt.code.clone(),
        };
        Ok((before, answer))
    }
}

/// What a model directory recommends in `generation_config.json`: decoding settings (fields it leaves out keep
/// the defaults) and a prompt format; the defaults for a model without one (or a GGUF file).
pub(crate) struct Recommended {
    pub decoding: SamplerConfig,
    pub prompt_format: Option<PromptFormat>,
}

impl Recommended {
    pub(crate) fn of(model: &Path) -> Result<Self> {
        let path = model.join("generation_config.json");
        if !model.is_dir() || !path.exists() {
            return Ok(Recommended { decoding: SamplerConfig::DEFAULT, prompt_format: None });
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let not_settings = || format!("{}: not a set of decoding settings", path.display());
        #[derive(serde::Deserialize)]
        struct Format {
            prompt_format: Option<PromptFormat>,
        }
        let format: Format = serde_json::from_str(&text).with_context(not_settings)?;
        let decoding = serde_json::from_str(&text).with_context(not_settings)?;
        Ok(Recommended { decoding, prompt_format: format.prompt_format })
    }
}
