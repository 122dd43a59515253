use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use unmask_model::ModelDir;
use unmask_model::prompt::{Prompt, PromptFormat};
use unmask_sampler::{
    Algorithm, Decoded, DecodedTexts, Denoiser, DreamAlg, EndsAlso, Recommended, Remasking, SamplerConfig,
    SamplerError, generate,
};

use crate::backend::{self, Backend};
use crate::view::StepView;

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// The prompt; write <|mask|> where a token should be filled in (infilling).
    #[arg(long, required_unless_present_any = ["prompt_file", "prompts"], conflicts_with_all = ["prompt_file", "prompts"])]
    prompt: Option<String>,
    /// Read the prompt from a file.
    #[arg(long, conflicts_with = "prompts")]
    prompt_file: Option<PathBuf>,
    /// Decode every prompt of a JSON-lines file (`{"id": …, "prompt": "…"}` per line) with one loaded model:
    /// one line per prompt on stdout, `{"id": …, "trace": {…}}` (the trace --trace writes).
    #[arg(long, value_name = "PATH")]
    prompts: Option<PathBuf>,
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
    /// Threshold: also commit the block's leftmost mask every step (with a mask-gated model, never worse than
    /// its base model's greedy answer) [default: false].
    #[arg(long)]
    commit_leftmost: Option<bool>,
    /// Threshold: check what is committed beyond the leftmost mask against the model's own left-to-right
    /// prediction and correct it (with a mask-gated model at temperature 0, exactly its base model's greedy
    /// answer) [default: false].
    #[arg(long)]
    verify_drafts: Option<bool>,
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
            commit_leftmost: a.commit_leftmost.unwrap_or(base.commit_leftmost),
            verify_drafts: a.verify_drafts.unwrap_or(base.verify_drafts),
            seed: a.seed.unwrap_or(base.seed),
            stop_at_end: a.stop_at_end.unwrap_or(base.stop_at_end),
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let recommended = recommended_of(&args.model)?;
    let config = args.sampler.over(recommended.decoding);
    // Check the parameters before spending time on the model.
    config.validate()?;
    let format = args.format.prompt_format.or(recommended.prompt_format);
    if let Some(path) = &args.prompts {
        return run_many(&args.model, args.backend, path, format, &config, args.quiet);
    }
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("reading prompt file {}", path.display()))?
        }
        (None, None) => unreachable!("clap requires one of --prompt, --prompt-file and --prompts"),
    };
    let mut loaded = Loaded::open(&args.model, args.backend, &[prompt], format, config.max_new_tokens, 1)?;
    let prepared = loaded.prompts.pop().expect("one prompt");
    if !args.quiet && prepared.prompt.format != PromptFormat::Bare {
        eprintln!("prompt format {}: the model reads {} tokens", prepared.prompt.format.name(), prepared.ids.len());
    }
    let (tokenizer, mask) = (&loaded.model_dir.tokenizer, loaded.model_dir.config.mask_token_id);
    let prompt_len = prepared.ids.len();
    let mut view = StepView::new(tokenizer, mask, &loaded.end_tokens, prompt_len, args.show_steps, !args.quiet);
    let started = Instant::now();
    let mut engine = EndsAlso { model: loaded.engine.as_mut(), extra: &loaded.end_tokens };
    let decoded = generate(&mut engine, &prepared.ids, &config, &mut view)?;
    let elapsed = started.elapsed();
    view.finish();

    let completion = prepared.prompt.code_of(&loaded.completion(&prepared, &decoded)?);
    // Cells, not commits: a draft corrected by `verify_drafts` is committed twice.
    let commits: usize = decoded.steps.iter().map(|s| s.commits.len()).sum();
    let cells = decoded.initial.iter().zip(&decoded.tokens).filter(|&(&i, &t)| i == mask && t != mask).count();
    let steps = decoded.steps.len();
    let skipped = decoded.tokens.iter().filter(|&&t| t == mask).count();
    let trace =
        decoded.into_trace(loaded.model_dir.name.clone(), prepared.prompt.text, &config, mask, prompt_len, completion);

    if let Some(path) = &args.trace {
        let json = serde_json::to_string(&trace)?;
        std::fs::write(path, json).with_context(|| format!("writing trace {}", path.display()))?;
    }
    println!("{}", trace.completion);
    if !args.quiet {
        let seconds = elapsed.as_secs_f64();
        let ar = trace.ar_ness;
        let mut notes = Vec::new();
        if commits > cells {
            notes.push(format!("{} drafts corrected", commits - cells));
        }
        if skipped > 0 {
            notes.push(format!("stopped at the answer's end; the {skipped} cells after it stay masked"));
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
        eprintln!(
            "{cells} tokens in {steps} steps{notes}, {:.0} ms ({:.1} tokens/s) · AR-ness local@1 {:.2} local@2 {:.2} global@1 {:.2} global@2 {:.2}",
            seconds * 1e3,
            cells as f64 / seconds,
            ar.local_1,
            ar.local_2,
            ar.global_1,
            ar.global_2
        );
    }
    Ok(())
}

/// `--prompts FILE`: every prompt of a JSON-lines file decoded by one loaded model, one trace per line on
/// stdout (the line's `id` beside it), progress on stderr.
fn run_many(
    model: &Path,
    backend: Backend,
    path: &Path,
    format: Option<PromptFormat>,
    config: &SamplerConfig,
    quiet: bool,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Line {
        id: Option<serde_json::Value>,
        prompt: String,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).with_context(|| {
                format!("{} line {}: not a JSON object with a \"prompt\" string", path.display(), n + 1)
            })
        })
        .collect::<Result<_>>()?;
    let texts: Vec<String> = lines.iter().map(|l| l.prompt.clone()).collect();
    let mut loaded = Loaded::open(model, backend, &texts, format, config.max_new_tokens, 1)?;
    let prompts = std::mem::take(&mut loaded.prompts);
    let mask = loaded.model_dir.config.mask_token_id;
    for (i, (line, prepared)) in lines.iter().zip(&prompts).enumerate() {
        let started = Instant::now();
        let mut engine = EndsAlso { model: loaded.engine.as_mut(), extra: &loaded.end_tokens };
        let decoded = generate(&mut engine, &prepared.ids, config, &mut unmask_sampler::Unobserved)?;
        let completion = prepared.prompt.code_of(&loaded.completion(prepared, &decoded)?);
        let name = loaded.model_dir.name.clone();
        let trace =
            decoded.into_trace(name, prepared.prompt.text.clone(), config, mask, prepared.ids.len(), completion);
        println!("{}", serde_json::json!({"id": line.id, "trace": trace}));
        if !quiet {
            eprintln!("[{}/{}] {:.1} s", i + 1, lines.len(), started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// A model ready to decode prompts: its files, an engine sized for the longest canvas, the prompts in their
/// format with their ids, and the tokens that end an answer (the model's, and the format's own; shared by
/// `generate` and `solve`).
pub(crate) struct Loaded {
    pub model_dir: ModelDir,
    pub engine: Box<dyn Denoiser>,
    pub prompts: Vec<Prepared>,
    pub end_tokens: Vec<u32>,
}

/// One prompt in its format, encoded.
pub(crate) struct Prepared {
    pub prompt: Prompt,
    pub ids: Vec<u32>,
}

impl Loaded {
    /// The model at `model` on `backend`, for the user's `texts` in `format` (`None`: see [`FormatArg`]) and
    /// `max_new_tokens` more each, decoded `batch` at a time. Every prompt is checked against the model's
    /// context before anything is sized from it.
    pub(crate) fn open(
        model: &Path,
        backend: Backend,
        texts: &[String],
        format: Option<PromptFormat>,
        max_new_tokens: u32,
        batch: usize,
    ) -> Result<Self> {
        let model_dir = ModelDir::open(model)?;
        let template = model_dir.chat_template.as_ref();
        let chosen = PromptFormat::or_default(format, template);
        let context = model_dir.config.max_position_embeddings;
        let mut prompts = Vec::with_capacity(texts.len());
        for text in texts {
            let prompt = Prompt::new(chosen.for_text(text), template, text)?;
            let ids = model_dir.tokenizer.encode(&prompt.text)?;
            SamplerError::check_context(ids.len(), max_new_tokens, context)?;
            prompts.push(Prepared { prompt, ids });
        }
        let longest = prompts.iter().map(|p| p.ids.len()).max().unwrap_or(0) + max_new_tokens as usize;
        let engine = backend::load(backend, &model_dir.config, &model_dir.weights, None, longest, batch)?;
        let end_tokens = match prompts.iter().find(|p| p.prompt.format == PromptFormat::ChatOpened) {
            Some(opened) => opened.prompt.format.end_tokens(&model_dir.tokenizer, model_dir.config.end_token_ids()),
            None => model_dir.config.end_token_ids(),
        };
        Ok(Loaded { model_dir, engine, prompts, end_tokens })
    }

    /// What a user reads of a finished decode of `prepared`.
    pub(crate) fn texts(&self, prepared: &Prepared, decoded: &Decoded) -> Result<DecodedTexts> {
        let mask = self.model_dir.config.mask_token_id;
        let is_end = |t| self.end_tokens.contains(&t);
        Ok(decoded.texts(prepared.ids.len(), mask, is_end, &self.model_dir.tokenizer)?)
    }

    /// The answer's text in a finished decode of `prepared`: up to its end token.
    pub(crate) fn completion(&self, prepared: &Prepared, decoded: &Decoded) -> Result<String> {
        Ok(self.texts(prepared, decoded)?.completion)
    }

    /// The program the model wrote, in two parts: the code before the answer (the user's, with its holes
    /// filled when a bare prompt had any; nothing in the chat format, whose answer repeats the function) and
    /// the answer's code.
    pub(crate) fn prompt_and_answer(&self, prepared: &Prepared, decoded: &Decoded) -> Result<(String, String)> {
        Ok(self.texts(prepared, decoded)?.program_parts(&prepared.prompt))
    }
}

/// What the model directory `model` recommends (its `generation_config.json`); nothing for a model without one
/// (or a GGUF file).
pub(crate) fn recommended_of(model: &Path) -> Result<Recommended> {
    let path = model.join("generation_config.json");
    if !model.is_dir() || !path.exists() {
        return Ok(Recommended::NONE);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Recommended::parse(&text).with_context(|| path.display().to_string())
}
